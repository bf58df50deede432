# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redaction of credentials and patient identifiers (contract clause R17).

Used on the target by the inspection module (log samples) and on the
controller by the records callback (every result it writes), so a value a
module forgot to mark ``no_log`` still never reaches the record store.
"""

from __future__ import absolute_import, division, print_function

import re

__metaclass__ = type

MASK = '********'

# Dictionary keys whose values are secrets whatever they hold.
SECRET_KEY_RE = re.compile(
    r'(pass(word|wd|phrase)?|pwd|secret|token|api[_-]?key|private[_-]?key|'
    r'credential|auth(orization)?|cookie|session[_-]?id|become_pass|vault)',
    re.IGNORECASE)

# Keys the records themselves use legitimately and that must stay readable.
SAFE_KEYS = frozenset(['kb', 'item', 'items', 'status', 'message', 'unit', 'value',
                       'threshold', 'kind', 'system', 'metrics', 'token_count'])

_TEXT_RULES = [
    # PEM private keys, whole block.
    (re.compile(r'-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)',
                re.DOTALL), '[private key redacted]'),
    # key=value / key: value forms for secret-looking keys (English and Chinese).
    (re.compile(r'(?i)((?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|auth[_-]?key|'
                r'access[_-]?key|client[_-]?secret|credential)s?\s*["\']?\s*[:=]\s*)'
                r'("[^"]*"|\'[^\']*\'|[^\s,;&"\']+)'), r'\1' + MASK),
    (re.compile(r'((?:密码|口令|令牌)\s*[:：=]\s*)(\S+)'), r'\1' + MASK),
    # HTTP authorisation headers.
    (re.compile(r'(?i)(authorization\s*[:=]\s*(?:(?:bearer|basic|token)\s+)?)'
                r'(?!(?:bearer|basic|token)\b)([A-Za-z0-9._~+/=-]+)'),
     r'\1' + MASK),
    (re.compile(r'(?i)\b(bearer\s+)([A-Za-z0-9._~+/=-]{8,})'), r'\1' + MASK),
    # Credentials inside URLs: scheme://user:secret@host
    (re.compile(r'([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)(@)'), r'\1' + MASK + r'\3'),
    # Patient identifiers: resident ID card numbers (18 digits, last may be X),
    # mobile phone numbers, and labelled names / record numbers.
    (re.compile(r'(?<!\d)\d{6}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?!\d)'),
     '[id redacted]'),
    (re.compile(r'(?<!\d)1[3-9]\d{9}(?!\d)'), '[phone redacted]'),
    (re.compile(r'((?:患者|病人|姓名|病历号|住院号|门诊号|身份证号?)\s*[:：=]?\s*)(?![\[:：=\s])([^\s,，;；]+)'),
     r'\1[redacted]'),
    (re.compile(r'(?i)(\b(?:patient(?:[_ -]?(?:name|id|no))?|mrn|medical[_ -]record[_ -]no|'
                r'id[_ -]?card)\s*[:=]\s*)(?![\[:=\s])("[^"]*"|\'[^\']*\'|[^\s,;&]+)'), r'\1[redacted]'),
]


def redact_text(text):
    """Return ``text`` with credentials and patient identifiers masked."""
    if not isinstance(text, str) or not text:
        return text
    for pattern, replacement in _TEXT_RULES:
        text = pattern.sub(replacement, text)
    return text


def redact_data(data, _depth=0):
    """Recursively redact a JSON-like structure (dicts, lists, strings)."""
    if _depth > 50:
        return '[nested too deep]'
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            skey = str(key)
            if skey not in SAFE_KEYS and SECRET_KEY_RE.search(skey) and value not in (None, '', [], {}):
                if isinstance(value, bool):
                    out[skey] = value
                else:
                    out[skey] = MASK
            else:
                out[skey] = redact_data(value, _depth + 1)
        return out
    if isinstance(data, (list, tuple)):
        return [redact_data(v, _depth + 1) for v in data]
    if isinstance(data, str):
        return redact_text(data)
    return data
