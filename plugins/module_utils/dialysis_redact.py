# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Redaction of credentials and patient identifiers (contract clause R17).

Used on the target by the inspection module (log samples) and on the
controller by the records callback (every result it writes), so a value a
module forgot to mark ``no_log`` still never reaches the record store.

The rules are a declared table, ``RULES``: named ``Rule`` entries, applied in
order, grouped in families (``FAMILIES``: one builder function per family, its
docstring says what the family covers). Each rule can be tested on its own
(``rule.apply(text)``); ``redact_text`` applies them all. Every rule leaves its
own output alone, so redacting twice gives what redacting once gave (the host
redacts the samples and the callback redacts the whole result again).

Placeholders: ``MASK`` for secrets, ``[id redacted]`` for identity numbers and
patient identifier lists, ``[phone redacted]`` for phone numbers and
``[redacted]`` for names, record numbers, birth dates and addresses.

Python 3.8 and the standard library only: this runs on the inspected hosts.
"""

from __future__ import absolute_import, division, print_function

import re
from collections import namedtuple

__metaclass__ = type

MASK = '********'
REDACTED = '[redacted]'
ID_REDACTED = '[id redacted]'
PHONE_REDACTED = '[phone redacted]'
KEY_REDACTED = '[private key redacted]'
PLACEHOLDERS = frozenset([MASK, REDACTED, ID_REDACTED, PHONE_REDACTED, KEY_REDACTED])

# Dictionary keys whose values are secrets whatever they hold.
SECRET_KEY_RE = re.compile(
    r'(pass(word|wd|phrase)?|pwd|secret|token|api[_-]?key|private[_-]?key|'
    r'credential|auth(orization)?|cookie|session[_-]?id|become_pass|vault)',
    re.IGNORECASE)

# Keys the records themselves use legitimately and that must stay readable.
SAFE_KEYS = frozenset(['kb', 'item', 'items', 'status', 'message', 'unit', 'value',
                       'threshold', 'kind', 'system', 'metrics', 'token_count'])


class Rule(namedtuple('Rule', ['name', 'family', 'pattern', 'replacement', 'triggers'], defaults=((),))):
    """One redaction rule. ``pattern`` is a compiled regular expression and
    ``replacement`` a template or a function of the match (``re.sub``); a rule
    without a pattern has a ``replacement`` that takes and returns the text.
    ``triggers``: lower-case strings of which every match contains one;
    ``redact_text`` skips the rule on a text that contains none of them (most
    log lines name no patient: the label rules would cost more than the rest).
    Empty: the rule always runs."""

    __slots__ = ()

    def apply(self, text):
        if self.pattern is None:
            return self.replacement(text)
        return self.pattern.sub(self.replacement, text)

    def wanted(self, lowered):
        """Whether the rule can match a text whose lower-case form is ``lowered``."""
        if not self.triggers:
            return True
        for trigger in self.triggers:
            if trigger in lowered:
                return True
        return False


# --- building blocks ---------------------------------------------------------------

HAN = u'\u3400-\u4dbf\u4e00-\u9fff'
SEP = r'[_ .-]?'
# A key written in ASCII starts a word (``patientName``, ``"mrn"``, ``id_card``
# but not ``pid``); a Chinese label may follow other Chinese text (透析患者：...).
ASCII_LEFT = r'(?:(?<![A-Za-z0-9])|(?<=\\[rnt]))'
# Values: JSON-escaped string (inside a JSON string), quoted string, bare token.
ESCAPED_QUOTED = r'\\"(?:[^"\\\r\n]|\\[^"\r\n])*\\"'
QUOTED = r'"(?:[^"\\\r\n]|\\.)+"|\'(?:[^\'\\\r\n]|\\.)+\''
# Not a value: ``patient: not found``, ``"mobile": true``, ``patient_id: unknown``.
NOT_A_VALUE = r'true|false|null|none|nil|not|no|unknown|missing|empty|invalid|undefined|n/a'
TOKEN = (r'(?!(?:%s)(?![A-Za-z0-9_]))' % NOT_A_VALUE +
         u'[^\\s,，;；、&|<>"\'`{}\\[\\]()（）\\\\]+')
# English names in capitals: ``patient_name: Zhang San`` (two words or more).
NAME_WORDS = r"(?-i:[A-Z][A-Za-z'.-]*(?: [A-Z][A-Za-z'.-]*)+)"
# A Chinese name right after a label without separator or after a space:
# two to four characters, then no more Chinese (患者张三，... but not 患者数据上传失败),
# and not a word that says what follows (患者姓名,手机 is a header; 患者信息 a topic).
NOT_A_NAME = (u'姓名|名称|电话|手机|身份|证件|病历|住院|门诊|透析|医保|就诊|编号|信息|列表|数据|记录|资料|'
              u'档案|名单|管理|查询|同步|上传|下载|导入|导出|登记|治疗|费用|状态|结果|报告|地址|住址|出生')
HAN_NAME = u'(?!%s)[%s]{2,4}(?![%s])' % (NOT_A_NAME, HAN, HAN)
# Phone numbers under a label: digit groups, one separator between groups.
PHONE_ISH = r'(?=[\d()+ .-]{7})(?:\+|\(\+?)?\d[\d()]*(?:[ .-][\d()]+){0,5}'
ID_ISH = r'(?=[\dXx -]{15})\d+(?:[ -]\d+){0,4}[Xx]?'
RECORD_ISH = r'(?=[A-Za-z_/-]*\d)[A-Za-z0-9](?:[A-Za-z0-9_/-]|\.(?=[A-Za-z0-9]))*'
DATE_ISH = u'\\d{4}(?:[-/.年]\\d{1,2}[-/.月]\\d{1,2}日?|\\d{4})(?!\\d)'

LabelFamily = namedtuple('LabelFamily',
                         ['name', 'placeholder', 'ascii_keys', 'cjk_keys', 'value', 'bare', 'triggers'])

# Labels of patient data, by what they label. ``value`` is what follows the
# label and an explicit separator (``:``, ``=``, ``：``); ``bare`` what may follow
# it with only a space (a Chinese label: nothing at all); None: the family needs
# a separator. ``triggers``: every label contains one of them (see Rule).
LABEL_FAMILIES = (
    LabelFamily(
        'phone', PHONE_REDACTED,
        (r'(?:(?:patient|contact|home|work|office|emergency|kin|guardian|family|mobile|cell)' + SEP + r')?'
         r'(?:phone|telephone|tel|mobile|cellphone)(?:' + SEP + r'(?:no|num|number))?',
         r'lxdh|sjhm|sjh'),
        (u'联系电话', u'电话号码', u'手机号码', u'手机号', u'手机', u'电话', u'联系方式', u'座机'),
        '|'.join([ESCAPED_QUOTED, QUOTED, PHONE_ISH, TOKEN]), PHONE_ISH,
        ('phone', 'tel', 'mobile', 'lxdh', 'sjh', u'电话', u'手机', u'联系方式', u'座机')),
    LabelFamily(
        'id', ID_REDACTED,
        (r'id(?:entity|entification)?' + SEP + r'card(?:' + SEP + r'(?:no|num|number))?',
         r'id(?:entity)?' + SEP + r'(?:no|num|number)',
         r'(?:national|citizen|resident)' + SEP + r'id(?:' + SEP + r'(?:no|num|number))?',
         r'cert(?:ificate)?' + SEP + r'(?:no|num|number)',
         r'ssn|sfzh?m?'),
        (u'公民身份号码', u'身份证号码', u'身份证号', u'身份证', u'身份号码', u'证件号码', u'证件号'),
        '|'.join([ESCAPED_QUOTED, QUOTED, TOKEN]), ID_ISH,
        ('card', 'id', 'cert', 'ssn', 'sfz', u'身份', u'证件')),
    LabelFamily(
        'record', REDACTED,
        (r'mrn',
         r'medical' + SEP + r'record(?:' + SEP + r'(?:no|num|number|id))?',
         r'(?:in|out)?patient' + SEP + r'(?:id|no|num|number|code)',
         r'(?:admission|visit|encounter|hospitali[sz]ation|dialysis|case)' + SEP + r'(?:id|no|num|number)',
         r'(?:medical|health|insurance|social' + SEP + r'security|medicare)' + SEP + r'card(?:' + SEP
         + r'(?:no|num|number))?',
         r'(?:insurance|social' + SEP + r'security)' + SEP + r'(?:no|num|number|id)',
         r'blh|zyh|mzh|bah|jzkh'),
        (u'住院流水号', u'病历号', u'病案号', u'住院号', u'门诊号', u'透析号', u'医保卡号', u'医保号',
         u'社保卡号', u'就诊卡号', u'就诊号', u'登记号', u'患者编号', u'病人编号', u'患者ID', u'病人ID'),
        '|'.join([ESCAPED_QUOTED, QUOTED, TOKEN]), RECORD_ISH,
        ('mrn', 'record', 'patient', 'admission', 'visit', 'encounter', 'hospitali', 'card', 'insurance',
         'security', 'blh', 'zyh', 'mzh', 'bah', 'jzkh', 'case', u'号', 'id')
        + tuple('dialysis%s%s' % (sep, word)
                for sep in ('', '_', ' ', '.', '-') for word in ('id', 'no', 'num'))),
    LabelFamily(
        'birth', REDACTED,
        (r'birth' + SEP + r'(?:date|day)|date' + SEP + r'of' + SEP + r'birth|dob|csrq',),
        (u'出生日期', u'出生年月日', u'出生年月', u'生日'),
        '|'.join([ESCAPED_QUOTED, QUOTED, TOKEN]), DATE_ISH,
        ('birth', 'dob', 'csrq', u'出生', u'生日')),
    LabelFamily(
        'address', REDACTED,
        (r'(?:home|patient|contact|residential|residence|family|mailing|postal)' + SEP + r'addr(?:ess)?',
         r'jtzz'),
        (u'家庭住址', u'家庭地址', u'现住址', u'住址', u'联系地址', u'户籍地址', u'通讯地址'),
        '|'.join([ESCAPED_QUOTED, QUOTED, TOKEN]), None,
        ('addr', 'jtzz', u'住址', u'地址')),
    LabelFamily(
        'name', REDACTED,
        (r'(?:patient|pat|pt)' + SEP + r'(?:(?:full|real|given|family|first|last)' + SEP + r')?name',
         r'(?:real|full|legal|given|family|first|last|sur)' + SEP + r'name',
         r'(?:contact|kin|guardian|relative|emergency' + SEP + r'contact)' + SEP + r'name',
         r'next' + SEP + r'of' + SEP + r'kin',
         r'patient',
         r'brxm|hzxm'),
        (u'患者姓名', u'病人姓名', u'家属姓名', u'联系人姓名', u'患者名称', u'姓名', u'患者', u'病人',
         u'家属', u'联系人', u'监护人'),
        '|'.join([ESCAPED_QUOTED, QUOTED, NAME_WORDS, TOKEN]), HAN_NAME,
        ('name', 'kin', 'patient', 'xm', u'姓名', u'患者', u'病人', u'家属', u'联系人', u'监护人')),
)


def family_keys(family):
    """The family's labels as one regular expression (ASCII words start a word)."""
    return r'(?:%s(?:%s)|(?:%s))' % (ASCII_LEFT, '|'.join(family.ascii_keys), '|'.join(family.cjk_keys))


def full_key_re(family):
    """Matches a whole dictionary key or column name of the family."""
    return re.compile(r'(?:%s|%s)\Z' % ('|'.join(family.ascii_keys), '|'.join(family.cjk_keys)),
                      re.IGNORECASE)


FULL_KEYS = tuple((family, full_key_re(family)) for family in LABEL_FAMILIES)

# Keys inside a patient object (``"patient": {"name": ...}``, ``<Patient><Name>``)
# that name or identify the patient although they are generic words.
PATIENT_INNER_KEYS = (r'(?:full|given|family|first|last|real)?' + SEP + r'name|given|family|xm|id|no|number|'
                      r'addr(?:ess)?|birth' + SEP + r'(?:date|day)|dob|extension')
PATIENT_INNER_KEY_RE = re.compile(r'(?:%s)\Z' % PATIENT_INNER_KEYS, re.IGNORECASE)
PATIENT_OBJECT_KEY_RE = re.compile(u'(?:patient\\w*|pat(?:info|dto|vo)?|患者\\w*|病人\\w*)\\Z', re.IGNORECASE)


def family_of_key(key):
    """The label family a dictionary key or column name belongs to, or None."""
    key = key.strip().strip('"\'')
    for family, regex in FULL_KEYS:
        if regex.match(key):
            return family
    return None


def keep_or(placeholder):
    """Replacement: the ``value`` group becomes ``placeholder`` (inside the same
    quotes); a value that already is a placeholder is left as it is."""
    def replace(match):
        value = match.group('value')
        for quote in ('\\"', '"', "'"):
            if len(value) >= 2 * len(quote) and value.startswith(quote) and value.endswith(quote):
                inner = value[len(quote):-len(quote)]
                masked = quote + placeholder + quote
                break
        else:
            inner, masked = value, placeholder
        if inner.strip() in PLACEHOLDERS:
            masked = value
        return match.string[match.start():match.start('value')] + masked + \
            match.string[match.end('value'):match.end()]
    return replace


SECRET_WORDS = (r'(?:pass(?:word|wd|phrase)?|pwd|secret|token|api[_-]?key|auth[_-]?key|'
                r'access[_-]?key|client[_-]?secret|private[_-]?key|credential)s?')
SECRET_TRIGGERS = ('pass', 'pwd', 'secret', 'token', 'key', 'credential')


# --- the families --------------------------------------------------------------------

def secret_rules():
    """Credentials: PEM private keys, ``password=``/``token:``/``"api_key": "..."``
    (also inside JSON strings), 密码/口令/令牌/密钥, HTTP authorisation headers and
    bearer tokens, ``scheme://user:secret@host``, and XML elements such as
    ``<password>...</password>``. Masked with ``MASK``."""
    secret = SECRET_WORDS
    return (
        Rule('pem-private-key', 'secrets',
             re.compile(r'-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)',
                        re.DOTALL),
             KEY_REDACTED, ('private key',)),
        Rule('secret-label', 'secrets',
             re.compile(r'(?i)(?P<pre>' + secret + r'(?:\\?["\'])?\s*[:=]\s*)'
                        r'(?P<value>' + ESCAPED_QUOTED + r'|"[^"\r\n]*"|\'[^\'\r\n]*\'|[^\s,;&"\'\\]+)'),
             keep_or(MASK), SECRET_TRIGGERS),
        Rule('secret-label-zh', 'secrets',
             re.compile(u'(?P<pre>(?:密码|口令|令牌|密钥)\\s*[:：=]\\s*)(?P<value>\\S+)'), keep_or(MASK),
             (u'密码', u'口令', u'令牌', u'密钥')),
        Rule('authorization-header', 'secrets',
             re.compile(r'(?i)(authorization\s*[:=]\s*(?:(?:bearer|basic|token)\s+)?)'
                        r'(?!(?:bearer|basic|token)\b)([A-Za-z0-9._~+/=-]+)'),
             r'\1' + MASK, ('authorization',)),
        Rule('bearer-token', 'secrets',
             re.compile(r'(?i)\b(bearer\s+)([A-Za-z0-9._~+/=-]{8,})'), r'\1' + MASK, ('bearer',)),
        Rule('url-credentials', 'secrets',
             re.compile(r'([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]+:)([^\s@/]+)(@)'), r'\1' + MASK + r'\3', ('://',)),
        Rule('secret-xml-element', 'secrets',
             re.compile(r'(?i)(?P<pre><(?P<ns>[\w.-]+:)?(?P<tag>' + secret + r')(?:\s[^<>]*)?>)'
                        r'(?P<value>[^<]+)(?=</(?:[\w.-]+:)?(?P=tag)\s*>)'),
             keep_or(MASK), SECRET_TRIGGERS),
    )


# HL7 v2 fields that identify a person, by segment (field numbers as in the
# standard: PID-5 is the fifth field after the segment name).
HL7_FIELDS = {
    # PID: 2 patient id (old), 3 identifier list, 4 alternate id, 5 name, 6 mother's
    # maiden name, 7 birth date, 9 alias, 11 address, 13/14 phones, 18 account
    # number, 19 SSN, 20 driver's licence, 21 mother's id, 23 birth place.
    'PID': {2: ID_REDACTED, 3: ID_REDACTED, 4: ID_REDACTED, 5: REDACTED, 6: REDACTED, 7: REDACTED,
            9: REDACTED, 11: REDACTED, 13: PHONE_REDACTED, 14: PHONE_REDACTED, 18: ID_REDACTED,
            19: ID_REDACTED, 20: ID_REDACTED, 21: ID_REDACTED, 23: REDACTED},
    # NK1 (next of kin): 2 name, 4 address, 5/6 phones, 12 employee number, 16 birth
    # date, 26 mother's maiden name, 30 contact name, 31 its phone, 32 its address,
    # 33 identifiers, 37 SSN.
    'NK1': {2: REDACTED, 4: REDACTED, 5: PHONE_REDACTED, 6: PHONE_REDACTED, 12: ID_REDACTED,
            16: REDACTED, 26: REDACTED, 30: REDACTED, 31: PHONE_REDACTED, 32: REDACTED,
            33: ID_REDACTED, 37: ID_REDACTED},
    # MRG (merge): prior identifiers 1-6, prior name 7.
    'MRG': {1: ID_REDACTED, 2: ID_REDACTED, 3: ID_REDACTED, 4: ID_REDACTED, 5: ID_REDACTED,
            6: ID_REDACTED, 7: REDACTED},
    # GT1 (guarantor): 2 number, 3 name, 4 spouse name, 5 address, 6/7 phones, 8 birth
    # date, 12 SSN.
    'GT1': {2: ID_REDACTED, 3: REDACTED, 4: REDACTED, 5: REDACTED, 6: PHONE_REDACTED,
            7: PHONE_REDACTED, 8: REDACTED, 12: ID_REDACTED},
    # IN1 (insurance): 16 insured's name, 18 birth date, 19 address, 36 policy number,
    # 49 insured's id.
    'IN1': {16: REDACTED, 18: REDACTED, 19: REDACTED, 36: ID_REDACTED, 49: ID_REDACTED},
    # PV1 (visit): 19 visit number (the admission number), 50 alternate visit id.
    'PV1': {19: REDACTED, 50: REDACTED},
}
HL7_MSH = re.compile(r'(?<![A-Za-z0-9])MSH([^A-Za-z0-9\s])')


def hl7_segment(match):
    """Mask the identifying fields of one segment; other fields keep their text."""
    sep = match.group('sep')
    declared = HL7_MSH.search(match.string)
    if sep != '|' and (declared is None or declared.group(1) != sep):
        return match.group(0)  # ``PID: 4711`` is a process id, not HL7
    fields = match.group(0).split(sep)
    for index, placeholder in HL7_FIELDS[match.group('seg')].items():
        if index < len(fields) and fields[index] not in ('', '""') and fields[index] not in PLACEHOLDERS:
            fields[index] = placeholder
    return sep.join(fields)


def hl7_rules():
    """HL7 v2 segments that carry a person: PID (3 identifiers, 5 name, 7 birth
    date, 11 address, 13/14 phones, 19 SSN, ...), NK1 (next of kin), MRG, GT1, IN1
    and PV1's visit numbers. A segment starts a line, follows a segment
    separator (CR, LF or the escaped ``\\r`` of a log line) or other text
    (``sent HL7: MSH|...``) and ends at the next separator. The field separator
    is ``|`` or the one MSH declares. MSH, OBX and the rest are left alone."""
    return (
        Rule('hl7-segment', 'hl7',
             re.compile(r'(?:(?<![A-Za-z0-9])|(?<=\\[rn]))(?P<seg>%s)(?P<sep>[^A-Za-z0-9\s])(?:[^\r\n\\]|\\(?![rn]))*'
                        % '|'.join(sorted(HL7_FIELDS))),
             hl7_segment, tuple(name.lower() for name in HL7_FIELDS)),
    )


CSV_LINE_BREAK = re.compile(r'(\r\n|\n|\\r\\n|\\n)')
CSV_DELIMITERS = (',', '\t', ';', '|')
HEADER_WORDS = re.compile(u'[\\s:：]+')
CSV_CELL = re.compile(r'(\s*"?)(.*?)("?\s*)\Z', re.DOTALL)


def split_row(line, delimiter):
    """The raw cells of a delimited line (quotes kept; a quoted delimiter does not split)."""
    cells, cell, quoted = [], [], False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            cells.append(''.join(cell))
            cell = []
            continue
        cell.append(char)
    cells.append(''.join(cell))
    return cells


def csv_header(line):
    """(delimiter, cell count, {column: placeholder}) when the line is a header
    naming patient columns, else None."""
    for delimiter in CSV_DELIMITERS:
        if delimiter not in line:
            continue
        cells = split_row(line, delimiter)
        if len(cells) < 2:
            continue
        columns = {}
        for index, cell in enumerate(cells):
            # A header inside a log line: ``import failed: 姓名,电话`` names 姓名.
            family = family_of_key(cell) or family_of_key(HEADER_WORDS.split(cell.strip())[-1])
            if family is not None:
                columns[index] = family.placeholder
        if columns:
            return delimiter, len(cells), columns
    return None


def mask_cell(cell, placeholder):
    lead, inner, trail = CSV_CELL.match(cell).groups()
    if not inner.strip() or inner.strip() in PLACEHOLDERS:
        return cell
    return lead + placeholder + trail


def redact_csv(text):
    """Mask the patient columns of delimited rows that follow a header naming them."""
    if '\n' not in text and '\\n' not in text:
        return text
    parts = CSV_LINE_BREAK.split(text)
    table = None
    for index in range(0, len(parts), 2):
        line = parts[index]
        if table is not None:
            delimiter, count, columns = table
            cells = split_row(line, delimiter)
            if len(cells) == count:
                parts[index] = delimiter.join(mask_cell(cell, columns[i]) if i in columns else cell
                                              for i, cell in enumerate(cells))
                continue
            table = None
        table = csv_header(line)
    return ''.join(parts)


def csv_rules():
    """Delimited tables (comma, tab, semicolon, pipe) whose header row names patient
    columns (姓名, 患者姓名, patient_name, phone, 电话, 手机, 身份证, id_card, mrn, 病历号
    and every other label below): that column is masked in the rows that follow
    with the same number of cells, in the same text. Rows end at a line break or
    at an escaped ``\\n`` (a table inside a log line)."""
    return (Rule('csv-columns', 'csv', None, redact_csv),)


INNER_VALUE = r'\[\s*(?:%s)(?:\s*,\s*(?:%s))*\s*\]|%s|%s|%s|%s' % (
    QUOTED, QUOTED, ESCAPED_QUOTED, QUOTED, NAME_WORDS, TOKEN)
INNER_LABEL = re.compile(r'(?i)(?P<q>\\?["\']|)(?<![A-Za-z0-9_])(?:%s)(?P=q)\s*[:=]\s*(?P<value>%s)'
                         % (PATIENT_INNER_KEYS, INNER_VALUE))
INNER_XML = re.compile(r'(?i)<(?P<ns>[\w.-]+:)?(?P<tag>%s)(?:\s[^<>]*)?>(?P<value>[^<]+)(?=</)'
                       % PATIENT_INNER_KEYS)
INNER_ATTRIBUTE = re.compile(r'(?i)(?<![\w.-])(?:%s)\s*=\s*(?P<value>"[^"]*"|\'[^\']*\')'
                             % PATIENT_INNER_KEYS)


def inner_value(match):
    value = match.group('value')
    if value.startswith('['):
        masked = '["%s"]' % REDACTED
        return match.string[match.start():match.start('value')] + masked
    return keep_or(REDACTED)(match)


def patient_object(match):
    """Mask name and id fields inside a patient object."""
    start = match.start('body') - match.start()
    text = match.group(0)
    return text[:start] + INNER_LABEL.sub(inner_value, text[start:])


def patient_element(match):
    """Mask name, id and address elements and attributes inside a patient element."""
    attrs = INNER_ATTRIBUTE.sub(keep_or(REDACTED), match.group('attrs'))
    body = match.group('body') or ''
    body = INNER_XML.sub(keep_or(REDACTED), body)
    body = INNER_ATTRIBUTE.sub(keep_or(REDACTED), body)
    whole = match.group(0)
    head = whole[:match.start('attrs') - match.start()]
    if match.group('body') is None:
        return head + attrs + whole[match.end('attrs') - match.start():]
    middle = whole[match.end('attrs') - match.start():match.start('body') - match.start()]
    return head + attrs + middle + body + whole[match.end('body') - match.start():]


def key_detail(match):
    """PostgreSQL's ``Key (patient_id, visit_no)=(4711, 3) already exists``: the
    values of patient columns."""
    columns = [c.strip().strip('"') for c in match.group('cols').split(',')]
    values = match.group('vals').split(',')
    families = [family_of_key(c) for c in columns]
    if not any(families):
        return match.group(0)
    if len(values) != len(columns):  # a value with a comma: mask them all
        families = [f for f in families if f][:1] * len(values)
    masked = []
    for index, value in enumerate(values):
        family = families[index]
        lead = value[:len(value) - len(value.lstrip())]
        keep = family is None or not value.strip() or value.strip() in PLACEHOLDERS
        masked.append(value if keep else lead + family.placeholder)
    return match.group(0)[:match.start('vals') - match.start()] + ','.join(masked) + ')'


def structured_rules():
    """Patient objects whose fields have generic names: ``"patient": {"name": ...,
    "id": ...}`` in JSON or a Python dict, ``Patient{name=..}`` and
    ``PatientDTO(name=.., id=..)`` as Java prints them, ``<Patient name=".."
    id="..">`` and ``<Patient><Name>..</Name><id extension=".."/></Patient>`` in
    XML: ``name``, ``given``, ``family``, ``id``, ``no``, address and birth date
    inside them are masked with ``[redacted]`` (labelled fields are left to the
    label rules). Also the values of patient columns in PostgreSQL's ``Key
    (patient_id)=(4711)`` and the id in a REST path (``/patients/4711/records``)."""
    nest = r'[^{}()\[\]]'
    body = r'(?:%s|[{(\[](?:%s|[{(\[]%s*[)}\]])*[)}\]])*' % (nest, nest, nest)
    return (
        Rule('patient-object', 'structured',
             re.compile(u'(?i)(?P<q>\\\\?["\']|)(?<![A-Za-z0-9_])(?:patient\\w*|pat(?:info|dto|vo)?|患者\\w*|病人\\w*)'
                        u'(?P=q)\\s*(?:[:=]\\s*)?[{(\\[](?P<body>%s)' % body),
             patient_object, ('patient', 'pat', u'患者', u'病人')),
        Rule('patient-element', 'structured',
             re.compile(u'(?is)<(?:[\\w.-]+:)?(?P<tag>(?:patient|patinfo|患者|病人)[\\w.-]*)(?P<attrs>(?:\\s[^<>]*?)?)'
                        u'(?:/>|>(?P<body>.*?)(?:</(?:[\\w.-]+:)?(?P=tag)\\s*>|\\Z))'),
             patient_element, ('<',)),
        Rule('key-detail', 'structured',
             re.compile(r'(?i)\bKey \((?P<cols>[^()\r\n]+)\)=\((?P<vals>[^()\r\n]*)\)'),
             key_detail, ('key (',)),
        Rule('patient-path', 'structured',
             re.compile(u'(?i)/(?:patients?|患者)/(?P<value>[A-Za-z0-9_-]*\\d[A-Za-z0-9_-]*)(?![A-Za-z0-9_])'),
             keep_or(REDACTED), ('/patient', u'/患者/')),
    )


def mobile_number(match):
    """A mobile number, unless the figure is a size or a duration that happens to
    look like one (``17179869184 bytes``, ``size=17179869184``) or a field of a
    journal cursor (``;m=13812345678;``: hexadecimal that has only digits)."""
    before = match.string[max(0, match.start() - 24):match.start()]
    after = match.string[match.end():match.end() + 8]
    if NUMERIC_BEFORE.search(before) or NUMERIC_AFTER.match(after):
        return match.group(0)
    return PHONE_REDACTED


NUMERIC_BEFORE = re.compile(r'(?i)(?<![A-Za-z])(?:size|bytes?|len(?:gth)?|total|free|used|avail(?:able)?|'
                            r'offset|pos(?:ition)?|count|mem(?:ory)?|rss|vsz|heap|duration|elapsed|inode|ino|'
                            r'seq(?:uence)?|ts|timestamp|time|epoch|cursor|checksum|crc|hash)'
                            r'\w*["\']?\s*[:=]?\s*["\']?\Z|(?:\A|[;\s])[sibmtx]=\Z')
NUMERIC_AFTER = re.compile(u'(?i)\\s*(?:bytes?\\b|b\\b|[kmgtp]i?b\\b|ms\\b|us\\b|µs|ns\\b|s\\b|sec|'
                           u'秒|毫秒|字节)')


def number_rules():
    """Numbers that identify a person without a label. Resident ID numbers: 18
    digits (the last may be X) with a valid birth date in digits 7-14, written
    together or in groups with spaces or hyphens (``110101 19900307 1234``,
    ``110101-1990-0307-1234``). Chinese mobile numbers (1[3-9] and 9 digits) alone,
    in groups (``138-1234-5678``, ``138 1234 5678``) and with the country code
    (``+86``, ``0086``, ``(+86)``, ``86-``). A number that is part of a longer
    number, a word or a hex digest is not one; nor is a size or a duration."""
    left = r'(?:(?<![0-9A-Za-z.])|(?<=\\[rnt]))'
    right = r'(?![0-9A-Za-z]|\.\d)'
    prefix = (r'(?:(?<![0-9A-Za-z])\+86[ -]?|(?<![0-9A-Za-z.+])0086[ -]?|\(\+?86\)[ -]?|'
              r'(?<![0-9A-Za-z.+])86-)')
    return (
        Rule('resident-id-number', 'numbers',
             re.compile(left + r'\d{6}(?P<s>[ -]?)(?:18|19|20)\d{2}(?P=s)?'
                        r'(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])(?P=s)\d{3}[\dXx]' + right),
             ID_REDACTED),
        Rule('mobile-number', 'numbers',
             re.compile(r'(?:%s|%s)1[3-9]\d(?P<s>[ -]?)\d{4}(?P=s)\d{4}%s' % (prefix, left, right)),
             mobile_number),
    )


def label_rules():
    """Labelled patient data, one set per family of labels (phone, identity number,
    record number, birth date, address, name; see ``LABEL_FAMILIES``):
    ``key=value``, ``key: value``, ``标签：值``, ``"key": "value"`` (JSON, also
    escaped inside a JSON string, and Python dicts), ``key="value"`` (XML
    attributes) and ``<Key>value</Key>`` (XML elements); a Chinese label also
    without a separator and an English one with a space when what follows looks
    like the value (``身份证 110...``, ``MRN 77812``, ``患者张三，``). 15-digit
    identity numbers and landlines are masked by label only."""
    rules = []
    for family in LABEL_FAMILIES:
        keys = family_keys(family)
        rules.append(Rule(
            '%s-xml-element' % family.name, 'labels',
            re.compile(r'(?i)<(?P<ns>[\w.-]+:)?(?P<tag>(?:%s|%s))(?:\s[^<>]*)?>'
                       r'(?P<value><!\[CDATA\[.*?\]\]>|[^<]+)(?=</(?:[\w.-]+:)?(?P=tag)\s*>)'
                       % ('|'.join(family.ascii_keys), '|'.join(family.cjk_keys))),
            keep_or(family.placeholder), family.triggers))
        rules.append(Rule(
            '%s-label' % family.name, 'labels',
            re.compile(u'(?i)(?P<q>\\\\?["\']|)%s(?P=q)\\s*[:=：]\\s*(?P<value>%s)' % (keys, family.value)),
            keep_or(family.placeholder), family.triggers))
        if family.bare:
            rules.append(Rule(
                '%s-label-bare' % family.name, 'labels',
                re.compile(u'(?i)(?:%s(?:%s)\\s+|(?:%s)\\s*)(?P<value>%s)' % (
                    ASCII_LEFT, '|'.join(family.ascii_keys), '|'.join(family.cjk_keys), family.bare)),
                keep_or(family.placeholder), family.triggers))
    return tuple(rules)


FAMILIES = (secret_rules, hl7_rules, csv_rules, structured_rules, number_rules, label_rules)
RULES = tuple(rule for family in FAMILIES for rule in family())


def redact_text(text):
    """Return ``text`` with credentials and patient identifiers masked."""
    if not isinstance(text, str) or not text:
        return text
    lowered = text.lower()
    for rule in RULES:
        if rule.wanted(lowered):
            redacted = rule.apply(text)
            if redacted != text:
                text, lowered = redacted, redacted.lower()
    return text


def redact_data(data, _depth=0):
    """Recursively redact a JSON-like structure (dicts, lists, strings): secrets
    under secret keys, patient data under patient keys (``patientName``,
    ``phone``, ``id_card``, ``mrn``, ``name`` inside a ``patient`` object, ...),
    and every string through ``redact_text``. The record contract's own keys
    (``SAFE_KEYS``) keep their values."""
    return redact_value(data, _depth, False)


def is_empty(value):
    if value is None or isinstance(value, bool):
        return True
    return isinstance(value, (str, list, tuple, dict)) and not value


def mask_all(value, placeholder):
    """Every scalar in ``value`` masked (a list of phone numbers, an address object)."""
    if isinstance(value, dict):
        return dict((str(k), mask_all(v, placeholder)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [mask_all(v, placeholder) for v in value]
    return value if is_empty(value) else placeholder


def redact_value(data, depth, in_patient):
    if depth > 50:
        return '[nested too deep]'
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            skey = str(key)
            out[skey] = redact_item(skey, value, depth, in_patient)
        return out
    if isinstance(data, (list, tuple)):
        return [redact_value(v, depth + 1, in_patient) for v in data]
    if isinstance(data, str):
        return redact_text(data)
    return data


KeyKind = namedtuple('KeyKind', ['safe', 'secret', 'patient_object', 'placeholder', 'inner'])
KEY_KINDS = {}


def key_kind(key):
    """What a dictionary key says about its value (remembered: records repeat their keys)."""
    kind = KEY_KINDS.get(key)
    if kind is None:
        family = family_of_key(key)
        kind = KeyKind(safe=key in SAFE_KEYS, secret=bool(SECRET_KEY_RE.search(key)),
                       patient_object=bool(PATIENT_OBJECT_KEY_RE.match(key)),
                       placeholder=family.placeholder if family is not None else None,
                       inner=bool(PATIENT_INNER_KEY_RE.match(key)))
        if len(KEY_KINDS) < 4096:
            KEY_KINDS[key] = kind
    return kind


def redact_item(key, value, depth, in_patient):
    kind = key_kind(key)
    if kind.safe:
        return redact_value(value, depth + 1, False)
    if kind.secret and value not in (None, '', [], {}):
        return value if isinstance(value, bool) else MASK
    if kind.patient_object and isinstance(value, (dict, list, tuple)):
        return redact_value(value, depth + 1, True)
    if kind.placeholder is not None:
        return mask_all(value, kind.placeholder)
    if in_patient and kind.inner:
        return mask_all(value, REDACTED)
    return redact_value(value, depth + 1, False)
