# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engineers' annotations of the inspection anomalies (controller side).

Engineers record the feedback on and the resolution of each anomaly in
``annotations/<period>.yml`` (period: a month ``2026-11`` or a quarter
``2026-Q4``), keyed by the anomaly id ``<period>:<host>:<item>``.  The report
run reads the file, merges it into its anomalies and appends the new ones.
This module owns that file; it does not import ``dialysis_report``.

Every problem with a file raises ``AnnotationError`` before anything is
written, so the documents of the previous run stay byte for byte.

API
---
``AnnotationError(path, line, key, problem)``, a ``ValueError``
    A malformed file.  The message always starts with ``<path>:<line>:`` and
    names the key (``anomalies[<id>].<field>``); attributes ``path``,
    ``line`` (1-based) and ``key`` ('' when there is none, e.g. a YAML
    syntax error)::

        <path>:7: anomalies['2026-11:hd-db-01:disk:/srv'].resolution: expected text, got int 42; \
write it in quotes: resolution: '42'
        <path>:3: not valid YAML (<problem>); fix the file or restore it from the last report run
        <path>:4: anomalies['<id>'].feedback: the file is not UTF-8 (it looks like GBK/GB18030); \
save it as UTF-8
        <path>:2: anomalies['<id>']: not an anomaly of 2026-11; did the id change? copy it from \
the sheet's 异常编号 (anomaly id) column

``Annotations(path)``
    ``.load()`` -> self: reads and validates the file (a missing file is
    empty); raises ``AnnotationError``.  ``.entries`` is ``{anomaly_id:
    {field: str}}`` (blank values are '', dates as text), ``.raw`` the
    file's text (None when there is no file), ``.lines`` ``{anomaly_id:
    line}``.  ``.new_entries(anomalies)`` -> the anomaly dicts (sorted by
    id) that have no entry yet.  ``.render_with(anomalies, label, language)``
    -> the new text of the file, or None when nothing is new: the existing
    text byte for byte with the new entries appended (indented like the
    existing ones, CRLF kept); a flow-style mapping cannot be appended to and
    is rewritten whole, keeping comments and quotes; a new file starts with a
    commented header in ``language`` (zh or en).
``merge_annotations(anomalies, entries)``
    Sets feedback, resolution, resolved_at, engineer (text, '' when absent)
    and ``resolved`` (a non-blank resolution) on each anomaly dict.
``check_known(annotations, anomaly_ids)`` -> list of stale ids
    Raises ``AnnotationError`` for the first entry (by line) whose id is not
    one of ``anomaly_ids`` and that an engineer filled in (feedback,
    resolution, resolved_at or engineer not blank).  An entry with no
    engineer text is one a run wrote for an anomaly that has since gone (an
    ``inspection:missing`` host inspected later in the month, a host taken
    out of the inventory): it is returned, not an error, so a run cannot be
    blocked by the file it wrote itself.
``period_entries(annotations_dir, label, month_labels, anomalies)``
    -> ``(Annotations of <label>.yml, {anomaly_id: {field: str}})``: the
    loaded period file (for ``render_with``/``new_entries``/``check_known``)
    and the entries to pass to ``merge_annotations``.  For a month
    (``month_labels == [label]``) these are the period file's own entries.
    For a quarter it also loads each existing ``<month>.yml`` of
    ``month_labels`` (validated the same way, ids not checked) and fills
    every human field the quarterly entry leaves blank from the monthly
    entries ``<month>:<host>:<item>``: feedback = each month's feedback
    prefixed by its month (``2026-10: ...; 2026-11: ...``); resolution,
    resolved_at and engineer = those of the latest month in which the
    anomaly occurred (the month of ``last_seen``), so an anomaly resolved in
    October that is back and open in November stays open.  The quarterly
    file's own entries always win.  The caller still calls ``check_known``
    for the period file.
``Schema``, ``ANOMALIES``, ``RESTART_DECISIONS``
    What a kind of file holds (top key, generated and human fields, typing, fields that
    go together, header, file name).  ``Annotations(path, schema)`` defaults to
    ``ANOMALIES`` (``<period>.yml``, key ``anomalies``).  ``RESTART_DECISIONS`` is the
    quarter's ``<quarter>-restart.yml`` (key ``restart_decisions``, ids
    ``<quarter>:<host>:<unit>``): the performance analysis's verdict per service
    (generated: host, service, analysis, analysis_reason) and the engineer's change
    (engineer_decision needed/not_needed, which needs engineer_reason and engineer;
    decided_at).  ``restart_entries(annotations_dir, label)`` loads it;
    ``merge_decisions(decisions, entries)`` applies it (``needed`` becomes the final
    decision; ``analysis_needed`` and ``decided_by`` say whose).
``ANNOTATION_FIELDS``, ``HUMAN_FIELDS``, ``TEXT_FIELDS``, ``DATE_FIELDS``, ``SEVERITIES``,
``ANNOTATION_HEADER``
    The keys an entry may hold, the ones engineers fill in, the typing rules
    (text; text or date; one of warning/critical/error; a blank value is
    always accepted) and the header of a new file.
"""

from __future__ import absolute_import, division, print_function

import datetime
import difflib
import io
import os
import re

__metaclass__ = type

ANNOTATION_FIELDS = ('host', 'item', 'system', 'severity', 'first_seen', 'description',
                     'feedback', 'resolution', 'resolved_at', 'engineer')
HUMAN_FIELDS = ('feedback', 'resolution', 'resolved_at', 'engineer')
TEXT_FIELDS = ('feedback', 'resolution', 'engineer', 'description', 'host', 'item', 'system')
DATE_FIELDS = ('resolved_at', 'first_seen')
SEVERITIES = ('warning', 'critical', 'error')
GENERATED_FIELDS = ('host', 'item', 'system', 'severity', 'first_seen', 'description')
RESTART_CHOICES = ('needed', 'not_needed')


class AnnotationError(ValueError):
    """A malformed annotations file: the message names the file, line and key."""

    def __init__(self, path, line, key, problem):
        self.path = path
        self.line = line
        self.key = key
        self.problem = problem
        if key:
            message = '%s:%d: %s: %s' % (path, line, key, problem)
        else:
            message = '%s:%d: %s' % (path, line, problem)
        super().__init__(message)

    def __reduce__(self):
        return (AnnotationError, (self.path, self.line, self.key, self.problem))


ANNOTATION_HEADER = {
    'zh': ('巡检异常反馈与处理记录（{label}）。\n'
           '每个异常一条，按异常编号区分。请工程师填写：\n'
           '  feedback:   异常反馈（告知谁、何时），如 "2026-11-26 10:30 电话告知信息科张工"\n'
           '  resolution: 处理结果，如 "清理过期备份 12 GB，使用率降至 61%"；填写后该异常记为已解决\n'
           '  resolved_at: 解决时间（可选），engineer: 处理人（可选）\n'
           '重新生成报告只会追加新的异常，不会改动已填写的内容。'),
    'en': ('Feedback on and resolution of the inspection anomalies ({label}).\n'
           'One entry per anomaly, keyed by its id. Engineers fill in:\n'
           '  feedback:   who was told, and when, e.g. "2026-11-26 10:30 phoned Zhang, IT dept"\n'
           '  resolution: what was done, e.g. "removed 12 GB of expired dumps, now 61 %";\n'
           '              an anomaly with a resolution counts as resolved\n'
           '  resolved_at: when (optional), engineer: who (optional)\n'
           'Generating the report again only appends new anomalies; nothing written here is changed.'),
}

RESTART_HEADER = {
    'zh': ('服务重启决定（{label}），季度性能分析按数据给出「需要」或「不需要」重启及理由。\n'
           '工程师可修改决定：每个服务一条，按编号区分，填写：\n'
           '  engineer_decision: needed（需要重启）或 not_needed（不需要重启）\n'
           '  engineer_reason:   理由（必填），如 "内存增长系已知缓存预热，观察下季度"\n'
           '  engineer: 决定人（必填），decided_at: 决定时间（可选）\n'
           '重新生成报告只会追加新的服务，不会改动已填写的内容。'),
    'en': ('Service restart decisions ({label}): the quarterly performance analysis gives needed or\n'
           'not needed with its reason from the data. Engineers may change a decision; one entry per\n'
           'service, keyed by its id. Fill in:\n'
           '  engineer_decision: needed or not_needed\n'
           '  engineer_reason:   why (required), e.g. "memory growth is the known cache warm-up"\n'
           '  engineer: who decided (required), decided_at: when (optional)\n'
           'Generating the report again only appends new services; nothing written here is changed.'),
}


class Schema(object):
    """What one kind of engineers' file holds: its top key, the fields of an entry (the
    generated ones, written by a run, and the human ones, filled in by engineers), how
    each is typed, which human fields go together, and the header of a new file."""

    def __init__(self, name, top, generated, human, text, dates, choices, requires, header, id_column,
                 what, blank_human=('', '')):
        self.name = name                # file suffix: '' for <period>.yml, else <period>-<name>.yml
        self.top = top                  # the file's one key
        self.generated = generated      # fields a run writes for a new entry
        self.human = human              # fields engineers fill in
        self.fields = generated + tuple(f for f in human if f not in generated)
        self.text = text                # fields that must be text
        self.dates = dates              # fields that may be a date or text
        self.choices = choices          # {field: allowed values}
        self.requires = requires        # {field: fields that must not be blank when it is set}
        self.header = header            # {language: header text with {label}}
        self.id_column = id_column      # where the engineer copies an id from (in messages)
        self.what = what                # what an entry is, in messages ('an anomaly')
        self.blank_human = blank_human  # the human fields a new entry is written with, blank

    def file_name(self, label):
        return '%s%s.yml' % (label, '-' + self.name if self.name else '')

    def entry_key(self, aid, field=None):
        key = '%s[%r]' % (self.top, aid)
        return key if field is None else '%s.%s' % (key, field)


ANOMALIES = Schema('', 'anomalies', GENERATED_FIELDS, HUMAN_FIELDS, TEXT_FIELDS, DATE_FIELDS,
                   {'severity': SEVERITIES}, {}, ANNOTATION_HEADER,
                   "the sheet's 异常编号 (anomaly id) column", 'an anomaly',
                   blank_human=('feedback', 'resolution'))
RESTART_DECISIONS = Schema(
    'restart', 'restart_decisions', ('host', 'service', 'analysis', 'analysis_reason'),
    ('engineer_decision', 'engineer_reason', 'engineer', 'decided_at'),
    ('host', 'service', 'analysis_reason', 'engineer_reason', 'engineer'), ('decided_at',),
    {'analysis': RESTART_CHOICES, 'engineer_decision': RESTART_CHOICES},
    {'engineer_decision': ('engineer_reason', 'engineer')}, RESTART_HEADER,
    'the entries the report run wrote into this file (one per service analysed this quarter)',
    'a service in the restart decisions', blank_human=('engineer_decision', 'engineer_reason', 'engineer'))


def _yaml(indent=2):
    from ruamel.yaml import YAML
    yaml = YAML()  # round-trip: keeps comments, order and the engineers' formatting
    yaml.width = 4096
    yaml.indent(mapping=indent, sequence=indent + 2, offset=indent)
    return yaml


def _type_name(value):
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, int):
        return 'int'
    if isinstance(value, float):
        return 'number'
    if isinstance(value, datetime.datetime):
        return 'datetime'
    if isinstance(value, datetime.date):
        return 'date'
    if isinstance(value, dict):
        return 'mapping'
    if isinstance(value, (list, tuple)):
        return 'list'
    return type(value).__name__


def _show(value):
    if isinstance(value, dict):
        text = repr(dict(value))
    elif isinstance(value, (list, tuple)):
        text = repr(list(value))
    else:
        text = _text(value)
    return text if len(text) <= 60 else text[:57] + '...'


def _text(value):
    if value is None:
        return ''
    if isinstance(value, datetime.datetime):
        return value.strftime('%Y-%m-%d %H:%M:%S' if value.second else '%Y-%m-%d %H:%M')
    return str(value)


_KEY_LINE = re.compile(r'^(\s*)(?:"([^"]*)"|\'([^\']*)\'|([^\s#\'"][^#]*?))\s*:(?:\s|$)')


def _key_path_at(lines, index, schema):
    """The key path of the line ``index`` of a block-style file (best effort)."""
    path = []
    indent = None
    for number in range(index, -1, -1):
        found = _KEY_LINE.match(lines[number])
        if not found:
            continue
        width = len(found.group(1))
        if indent is not None and width >= indent:
            continue
        name = [g for g in found.groups()[1:] if g is not None][0]
        path.insert(0, name)
        indent = width
        if width == 0:
            break
    if not path or path[0] != schema.top:
        return ''
    if len(path) == 1:
        return schema.top
    return schema.entry_key(path[1], path[2] if len(path) > 2 else None)


def _decode(path, data, schema):
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as exc:
        line = data.count(b'\n', 0, exc.start) + 1
        try:
            data.decode('gb18030')
            looks = ' (it looks like GBK/GB18030)'
        except UnicodeDecodeError:
            looks = ' (byte 0x%02x is not UTF-8)' % data[exc.start]
        lines = data.decode('utf-8', 'replace').split('\n')
        key = _key_path_at(lines, min(line, len(lines)) - 1, schema)
        raise AnnotationError(path, line, key, 'the file is not UTF-8%s; save it as UTF-8' % looks) from None


class Annotations(object):
    """The engineers' file for one period."""

    def __init__(self, path, schema=None):
        self.path = path
        self.schema = schema or ANOMALIES
        self.raw = None
        self.entries = {}
        self.lines = {}
        self._indent = None

    def _fail(self, line, key, problem):
        return AnnotationError(self.path, line, key, problem)

    def load(self):
        """Read and validate; AnnotationError names file, line and key."""
        if not os.path.exists(self.path):
            return self
        try:
            with open(self.path, 'rb') as handle:
                data = handle.read()
        except OSError as exc:
            raise self._fail(1, '', 'cannot read the file: %s' % (exc.strerror or exc)) from None
        raw = _decode(self.path, data, self.schema)
        try:
            doc = _yaml().load(raw)
        except Exception as exc:  # ruamel raises several types; most carry a mark
            mark = getattr(exc, 'problem_mark', None) or getattr(exc, 'context_mark', None)
            line = mark.line + 1 if mark is not None else 1
            problem = getattr(exc, 'problem', None) or (str(exc).splitlines() or [type(exc).__name__])[0]
            raise self._fail(line, '', 'not valid YAML (%s); fix the file or restore it from the '
                                       'last report run' % problem) from None
        self._validate(doc, raw.split('\n'))
        self.raw = raw
        return self

    def _validate(self, doc, source):
        top, human = self.schema.top, self.schema.human
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            raise self._fail(1, '', 'expected a mapping with the key %s, got %s' % (top, _type_name(doc)))
        unknown = [k for k in doc if k != top]
        if unknown:
            raise self._fail(_line(doc, unknown[0]), '', 'unknown key %r; the file holds only "%s"'
                             % (unknown[0], top))
        anomalies = doc.get(top)
        if anomalies is None:
            anomalies = {}
        if not isinstance(anomalies, dict):
            raise self._fail(_line(doc, top), top,
                             'expected a mapping of %s id to {%s, %s, ...}, got %s'
                             % (self._noun(), human[0], human[1], _type_name(anomalies)))
        entries, lines = {}, {}
        for aid, entry in anomalies.items():
            line = _line(anomalies, aid)
            if not isinstance(aid, str):
                raise self._fail(line, self.schema.entry_key(_text(aid)),
                                 'the %s id must be text, got %s %s; write it in quotes'
                                 % (self._noun(), _type_name(aid), _show(aid)))
            if self._indent is None and not _flow(anomalies):
                self._indent = _column(anomalies, aid)
            if not isinstance(entry, dict):
                raise self._fail(line, self.schema.entry_key(aid), 'expected a mapping with %s and '
                                 '%s, got %s %s' % (human[0], human[1], _type_name(entry), _show(entry)))
            for key, value in entry.items():
                self._check_field(_line(entry, key), aid, key, value)
            texts = dict((str(k), _value_text(source, entry, k, v)) for k, v in entry.items())
            self._check_together(line, aid, entry, texts)
            entries[str(aid)] = texts
            lines[str(aid)] = line
        self.entries, self.lines = entries, lines

    def _noun(self):
        return self.schema.what.split(' ', 2)[1]

    def _check_together(self, line, aid, entry, texts):
        """A human field that needs others (an engineer's decision needs the reason and the
        engineer's name): the first blank one is an error at the field that needs it."""
        for field, needed in sorted(self.schema.requires.items()):
            if not texts.get(field, '').strip():
                continue
            for other in needed:
                if not texts.get(other, '').strip():
                    raise self._fail(_line(entry, field), self.schema.entry_key(aid, other),
                                     'required when %s is set (%s: %s); write who decided and why'
                                     % (field, field, texts[field].strip()))

    def _check_field(self, line, aid, key, value):
        where = self.schema.entry_key(aid, key)
        if key not in self.schema.fields:
            raise self._fail(line, where, 'unknown key; expected one of %s' % ', '.join(self.schema.fields))
        if value is None:
            return
        if key in self.schema.text:
            if not isinstance(value, str):
                hint = ''
                if not isinstance(value, (dict, list, tuple)):
                    hint = "; write it in quotes: %s: '%s'" % (key, _show(value))
                raise self._fail(line, where, 'expected text, got %s %s%s'
                                 % (_type_name(value), _show(value), hint))
        elif key in self.schema.dates:
            if not isinstance(value, (str, datetime.date)):
                raise self._fail(line, where, 'expected a date or text, got %s %s'
                                 % (_type_name(value), _show(value)))
        elif key in self.schema.choices:
            allowed = self.schema.choices[key]
            if isinstance(value, str) and not value.strip():
                return
            if not isinstance(value, str) or value.strip() not in allowed:
                raise self._fail(line, where, 'expected one of %s, got %s %s'
                                 % (', '.join(allowed), _type_name(value), _show(value)))

    def new_entries(self, anomalies):
        return [a for aid, a in sorted(anomalies.items()) if aid not in self.entries]

    def render_with(self, anomalies, label, language):
        """The file's text with one entry appended per new anomaly (None when
        there is nothing new). The existing text is kept byte for byte: new
        entries are appended below it, never re-serialised with it."""
        new = self.new_entries(anomalies)
        if not new:
            return None
        from ruamel.yaml.comments import CommentedMap
        block = CommentedMap()
        top = self.schema.top
        for anomaly in new:
            entry = CommentedMap()
            for key in self.schema.generated:
                entry[key] = anomaly[key]
            for key in self.schema.blank_human:
                entry[key] = ''
            block[anomaly['id']] = entry
        doc = CommentedMap()
        doc[top] = block
        if self.raw is None or not self.raw.strip():
            header = ''.join('# %s\n' % line if line else '#\n'
                             for line in self.schema.header[language].format(label=label).splitlines())
            return header + _dump(doc, 2)
        expected = set(self.entries) | set(block)
        newline = '\r\n' if '\r\n' in self.raw else '\n'
        text = self.raw if self.raw.endswith('\n') else self.raw + newline
        dumped = _dump(doc, self._indent or 2)
        # 1. a block mapping with entries: append ours (without the key line);
        # 2. a file without the key (comments only): append the whole mapping.
        for tail in (dumped.split('\n', 1)[1], dumped):
            candidate = text + tail.replace('\n', newline)
            parsed = _parsed_entries(candidate, top)
            if parsed is not None and set(parsed) == expected \
                    and all(parsed[aid] == self.entries[aid] for aid in self.entries):
                return candidate
        # 3. a flow-style mapping (or "anomalies: {}") cannot be extended by
        # appending lines: rewrite it whole, keeping comments and quotes.
        full = _yaml(self._indent or 2)
        full.preserve_quotes = True
        whole = full.load(self.raw)
        if whole is None:
            whole = CommentedMap()
        if whole.get(top) is None:
            whole[top] = CommentedMap()
        for key, value in block.items():
            whole[top][key] = value
        out = io.StringIO()
        full.dump(whole, out)
        return out.getvalue()


def _dump(doc, indent):
    out = io.StringIO()
    _yaml(indent).dump(doc, out)
    return out.getvalue()


def _parsed_entries(text, top):
    """The entries of a candidate text as load() sees them, or None when it
    does not parse as an annotations file."""
    try:
        doc = _yaml().load(text)
    except Exception:  # any parse error: the candidate is not usable
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get(top), dict):
        return None
    source = text.split('\n')
    parsed = {}
    for aid, entry in doc[top].items():
        if not isinstance(entry, dict):
            return None
        parsed[str(aid)] = dict((str(k), _value_text(source, entry, k, v)) for k, v in entry.items())
    return parsed


_TIMESTAMP = re.compile(r'[0-9][0-9Tt:+. -]*[0-9Zz]')


def _value_text(source, entry, key, value):
    """A value as text; a YAML date or datetime as the engineer wrote it."""
    if isinstance(value, datetime.date):
        try:
            line, column = entry.lc.value(key)
            found = _TIMESTAMP.match(source[line], column)
        except Exception:  # no position (plain dict) or an odd layout: fall back
            found = None
        if found:
            return found.group(0).rstrip()
    return _text(value)


def _flow(mapping):
    try:
        return bool(mapping.fa.flow_style())
    except Exception:  # a plain dict: no style
        return False


def _line(mapping, key):
    try:
        return mapping.lc.key(key)[0] + 1
    except Exception:  # plain dicts and odd keys carry no position
        return 1


def _column(mapping, key):
    try:
        column = mapping.lc.key(key)[1]
    except Exception:  # plain dicts and odd keys carry no position
        return None
    return column if column > 0 else None


def restart_entries(annotations_dir, label):
    """The validated restart-decisions file of a quarter (``<label>-restart.yml``): the
    Annotations (for render_with/new_entries/check_known; a missing file is empty)."""
    return Annotations(os.path.join(annotations_dir, RESTART_DECISIONS.file_name(label)),
                       RESTART_DECISIONS).load()


def merge_decisions(decisions, entries):
    """Apply the engineers' decisions to the analysis's (dicts with id, needed): each gets
    ``analysis_needed`` (the data's verdict), ``needed`` (the final one), and
    ``engineer_decision``/``engineer_reason``/``engineer``/``decided_at`` (text, '' when the
    engineer did not change it), and ``decided_by``: engineer or analysis."""
    for decision in decisions:
        note = entries.get(decision['id'], {})
        decision.setdefault('analysis_needed', decision['needed'])
        for key in RESTART_DECISIONS.human:
            decision[key] = (note.get(key) or '').strip()
        if decision['engineer_decision']:
            decision['needed'] = decision['engineer_decision'] == 'needed'
            decision['decided_by'] = 'engineer'
        else:
            decision['needed'] = decision['analysis_needed']
            decision['decided_by'] = 'analysis'
    return decisions


def merge_annotations(anomalies, entries):
    """Copy feedback/resolution into the anomalies; resolved when a resolution exists."""
    for aid, anomaly in anomalies.items():
        note = entries.get(aid, {})
        for key in HUMAN_FIELDS:
            anomaly[key] = note.get(key, '')
        anomaly['resolved'] = bool(anomaly['resolution'].strip())


def check_known(annotations, anomaly_ids):
    """Raise AnnotationError for an engineer's entry whose id is not an anomaly
    of the period; return the ids of stale entries nobody filled in."""
    known = set(anomaly_ids)
    stale = []
    unknown = []
    for aid in sorted(annotations.entries, key=lambda a: (annotations.lines.get(a, 1), a)):
        if aid in known:
            continue
        entry = annotations.entries[aid]
        if any(entry.get(key, '').strip() for key in annotations.schema.human):
            unknown.append(aid)
        else:
            stale.append(aid)
    if unknown:
        aid = unknown[0]
        schema = annotations.schema
        period = os.path.splitext(os.path.basename(annotations.path))[0]
        if schema.name and period.endswith('-' + schema.name):
            period = period[:-len(schema.name) - 1]
        close = difflib.get_close_matches(aid, sorted(known), n=1, cutoff=0.8)
        hint = "did you mean '%s'? " % close[0] if close else ''
        more = ''
        if len(unknown) > 1:
            more = ' (and %d more: %s)' % (len(unknown) - 1, ', '.join(unknown[1:4]))
        raise AnnotationError(annotations.path, annotations.lines.get(aid, 1), schema.entry_key(aid),
                              "not %s of %s%s; %sdid the id change? copy it from %s"
                              % (schema.what, period, more, hint, schema.id_column))
    return stale


def period_entries(annotations_dir, label, month_labels, anomalies):
    """(Annotations of the period file, merged entries for its anomalies)."""
    own = Annotations(os.path.join(annotations_dir, '%s.yml' % label)).load()
    months = list(month_labels)
    if months == [label]:
        return own, dict((aid, dict(own.entries[aid])) for aid in anomalies if aid in own.entries)
    monthly = {}
    for month in months:
        path = os.path.join(annotations_dir, '%s.yml' % month)
        if os.path.exists(path):
            monthly[month] = Annotations(path).load().entries
    merged = {}
    for aid, anomaly in anomalies.items():
        entry = dict(own.entries.get(aid, {}))
        found = {}
        for month in months:
            note = monthly.get(month, {}).get('%s:%s:%s' % (month, anomaly.get('host'), anomaly.get('item')))
            if note is not None:
                found[month] = note
        latest = (anomaly.get('last_seen') or '')[:7]
        if latest not in months:  # never seen (inspection:missing): the latest month with an entry
            latest = max(found) if found else None
        derived = {'feedback': '; '.join('%s: %s' % (month, found[month]['feedback'].strip())
                                         for month in months
                                         if month in found and found[month].get('feedback', '').strip())}
        for key in ('resolution', 'resolved_at', 'engineer'):
            derived[key] = found.get(latest, {}).get(key, '')
        for key in HUMAN_FIELDS:
            if not entry.get(key, '').strip():
                entry[key] = derived[key]
        merged[aid] = entry
    return own, merged
