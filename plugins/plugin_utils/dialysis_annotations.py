# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engineers' annotations of the inspection anomalies (controller side).

Engineers record the feedback on and the resolution of each anomaly in
``annotations/<period>.yml`` (period: a month ``2026-11`` or a quarter
``2026-Q4``), keyed by the anomaly id ``<period>:<host>:<item>``.  The report
run reads the file, merges it into its anomalies and appends the new ones.
This module owns that file; it does not import ``dialysis_report``.

API
---
``AnnotationError(ValueError)``
    A malformed file.  The message always starts with ``<path>:<line>:`` and
    names the key, e.g.
    ``/r/2026-11.yml:7: anomalies['2026-11:hd-db-01:disk:/srv'].resolution: expected text, got int 42``.
``Annotations(path)``
    ``.load()`` -> self: reads and validates the file (a missing file is
    empty); raises ``AnnotationError``.  ``.entries`` ``{anomaly_id: {field:
    str}}``; ``.raw`` the file's text (None when there is no file).
    ``.new_entries(anomalies)`` -> the anomaly dicts (sorted by id) that have
    no entry yet.  ``.render_with(anomalies, label, language)`` -> the new
    text of the file, or None when nothing is new: the existing text byte for
    byte with the new entries appended (a flow-style file is rewritten whole,
    keeping comments and quotes); a new file starts with a commented header
    in ``language`` (zh or en).
``merge_annotations(anomalies, entries)``
    Sets feedback, resolution, resolved_at, engineer (text, '' when absent)
    and ``resolved`` (a non-blank resolution) on each anomaly dict.
``ANNOTATION_FIELDS``, ``HUMAN_FIELDS``, ``ANNOTATION_HEADER``
    The keys an entry may hold, the ones engineers fill in, and the header of
    a new file.
"""

from __future__ import absolute_import, division, print_function

import datetime
import os

__metaclass__ = type

ANNOTATION_FIELDS = ('host', 'item', 'system', 'severity', 'first_seen', 'description',
                     'feedback', 'resolution', 'resolved_at', 'engineer')
HUMAN_FIELDS = ('feedback', 'resolution', 'resolved_at', 'engineer')


class AnnotationError(ValueError):
    """A malformed annotations file: the message names the file, line and key."""


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


def _yaml():
    from ruamel.yaml import YAML
    yaml = YAML()  # round-trip: keeps comments, order and the engineers' formatting
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


class Annotations(object):
    """The engineers' file for one period."""

    def __init__(self, path):
        self.path = path
        self.raw = None
        self.entries = {}

    def load(self):
        """Read and validate; AnnotationError names file, line and key."""
        if not os.path.exists(self.path):
            return self
        yaml = _yaml()
        try:
            with open(self.path, encoding='utf-8') as handle:
                self.raw = handle.read()
            doc = yaml.load(self.raw)
        except Exception as exc:  # ruamel raises several types; all carry a mark
            mark = getattr(exc, 'problem_mark', None) or getattr(exc, 'context_mark', None)
            where = '%s:%d' % (self.path, mark.line + 1) if mark is not None else self.path
            problem = getattr(exc, 'problem', None) or str(exc).splitlines()[0]
            raise AnnotationError('%s: not valid YAML (%s); fix the file or restore it from the '
                              'last report run' % (where, problem)) from None
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            raise AnnotationError('%s:1: expected a mapping with the key anomalies' % self.path)
        unknown = [k for k in doc if k != 'anomalies']
        if unknown:
            raise AnnotationError('%s:%d: unknown key %r; the file holds only "anomalies"'
                              % (self.path, _line(doc, unknown[0]), unknown[0]))
        anomalies = doc.get('anomalies')
        if anomalies is None:
            anomalies = {}
        if not isinstance(anomalies, dict):
            raise AnnotationError('%s:%d: anomalies: expected a mapping of anomaly id to '
                              '{feedback, resolution, ...}' % (self.path, _line(doc, 'anomalies')))
        for aid, entry in anomalies.items():
            where = '%s:%d' % (self.path, _line(anomalies, aid))
            if not isinstance(entry, dict):
                raise AnnotationError('%s: anomalies[%r]: expected a mapping with feedback and '
                                  'resolution, got %r' % (where, aid, entry))
            for key, value in entry.items():
                kwhere = '%s:%d' % (self.path, _line(entry, key))
                if key not in ANNOTATION_FIELDS:
                    raise AnnotationError('%s: anomalies[%r].%s: unknown key; expected one of %s'
                                      % (kwhere, aid, key, ', '.join(ANNOTATION_FIELDS)))
                if value is not None and not isinstance(value, (str, int, float, datetime.date)):
                    raise AnnotationError('%s: anomalies[%r].%s: expected text, got %s'
                                      % (kwhere, aid, key, type(value).__name__))
            self.entries[str(aid)] = dict((k, '' if v is None else str(v)) for k, v in entry.items())
        return self

    def new_entries(self, anomalies):
        return [a for aid, a in sorted(anomalies.items()) if aid not in self.entries]

    def render_with(self, anomalies, label, language):
        """The file's text with one entry appended per new anomaly (None when
        there is nothing new). The existing text is kept byte for byte: new
        entries are appended below it, never re-serialised with it."""
        new = self.new_entries(anomalies)
        if not new:
            return None
        import io

        from ruamel.yaml.comments import CommentedMap
        block = CommentedMap()
        for anomaly in new:
            entry = CommentedMap()
            for key in ('host', 'item', 'system', 'severity', 'first_seen', 'description'):
                entry[key] = anomaly[key]
            entry['feedback'] = ''
            entry['resolution'] = ''
            block[anomaly['id']] = entry
        doc = CommentedMap()
        doc['anomalies'] = block
        out = io.StringIO()
        _yaml().dump(doc, out)
        dumped = out.getvalue()
        if self.entries and self.raw is not None:
            # Block mapping with entries: append ours (without the key line).
            text = self.raw if self.raw.endswith('\n') else self.raw + '\n'
            text += dumped.split('\n', 1)[1]
            try:
                check = _yaml().load(text)
            except Exception:  # appending to a flow-style mapping breaks the syntax
                check = None
            if check is not None and len(check['anomalies']) == len(self.entries) + len(new):
                return text
            # A flow-style mapping cannot be extended by appending lines: rewrite
            # it whole, keeping comments and quotes.
            full = _yaml()
            full.preserve_quotes = True
            doc = full.load(self.raw)
            for key, value in block.items():
                doc['anomalies'][key] = value
            out = io.StringIO()
            full.dump(doc, out)
            return out.getvalue()
        header = ''.join('# %s\n' % line if line else '#\n'
                         for line in ANNOTATION_HEADER[language].format(label=label).splitlines())
        return header + dumped


def _line(mapping, key):
    try:
        return mapping.lc.key(key)[0] + 1
    except Exception:
        return 1


def merge_annotations(anomalies, entries):
    """Copy feedback/resolution into the anomalies; resolved when a resolution exists."""
    for aid, anomaly in anomalies.items():
        note = entries.get(aid, {})
        for key in HUMAN_FIELDS:
            anomaly[key] = note.get(key, '')
        anomaly['resolved'] = bool(anomaly['resolution'].strip())
