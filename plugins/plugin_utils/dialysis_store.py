# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the record store written by the ``dialysis_records`` callback.

Controller-side API used by the report role (and by engineers from Python):

    from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import RecordStore
    store = RecordStore('reports/demo/records')        # one hospital's store
    for rec in store.records('2026-11-01', '2026-12-01', kind='inspection'):
        ...
    for err in store.run_errors('2026-11-01', '2026-12-01'):
        ...                                              # failures of runs, not findings

Each hospital (each inventory, by its ``dialysis_hospital_id``) has its own
store; a store never holds another hospital's runs.

A run killed mid-way leaves a file without its last lines; every complete line
is still read, and a final partial line (if any) is skipped and counted. A
record that does not hold to the record contract is skipped and counted
(``stats['invalid_records']``), never half-read into a document.
"""

from __future__ import absolute_import, division, print_function

import datetime
import json
import os
import tempfile

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import validate_record

__metaclass__ = type


def parse_time(value):
    """An aware UTC datetime from an ISO string, a date string or a datetime."""
    if isinstance(value, datetime.datetime):
        dt = value
    elif isinstance(value, datetime.date):
        dt = datetime.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        text = value.strip().replace('Z', '+00:00')
        try:
            dt = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError('expected an ISO date or time such as 2026-11-01 or '
                             '2026-11-01T08:00:00Z, got %r' % value) from None
    else:
        raise ValueError('expected a date, a datetime or an ISO string, got %r' % (value,))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return dt.astimezone(datetime.timezone.utc)


def atomic_write_text(path, text, mode=0o640):
    """Write ``text`` to ``path`` whole or not at all: a temporary file beside it,
    flushed to disk, then renamed over it (creating the directory if needed)."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o750)
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=directory)
    try:
        with os.fdopen(fd, 'w', encoding='utf-8') as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_jsonl(path, stats=None):
    """Yield the objects of a JSON-lines file; a malformed line is skipped
    (and counted in ``stats['bad_lines']``) rather than ending the read."""
    with open(path, 'rb') as handle:
        for number, raw in enumerate(handle, 1):
            if not raw.strip():
                continue
            try:
                obj = json.loads(raw.decode('utf-8'))
            except (ValueError, UnicodeDecodeError):
                if stats is not None:
                    stats.setdefault('bad_lines', []).append('%s:%d' % (path, number))
                continue
            if isinstance(obj, dict):
                yield obj


class RecordStore(object):
    """The runs and records under one records directory."""

    def __init__(self, directory):
        self.directory = directory
        self.stats = {}

    def runs(self, since=None, until=None):
        """Run summaries (one dict per run) that started in [since, until).

        Built from ``index.jsonl``; runs whose file exists but are missing from
        the index (index lost or copied from another controller) are read from
        their first line.
        """
        since = parse_time(since) if since is not None else None
        until = parse_time(until) if until is not None else None
        runs = {}
        index = os.path.join(self.directory, 'index.jsonl')
        if os.path.exists(index):
            for entry in read_jsonl(index, self.stats):
                run = runs.setdefault(entry.get('run_id'), {'run_id': entry.get('run_id')})
                run.update(dict((k, v) for k, v in entry.items() if k != 'event'))
                run['complete'] = run.get('complete', False) or entry.get('event') == 'end'
        if os.path.isdir(self.directory):
            for name in os.listdir(self.directory):
                if not name.endswith('.jsonl') or name == 'index.jsonl':
                    continue
                run_id = name[:-len('.jsonl')]
                if run_id in runs:
                    continue
                for first in read_jsonl(os.path.join(self.directory, name), self.stats):
                    if first.get('type') == 'run':
                        runs[run_id] = dict(first, file=name, complete=False)
                    break
        selected = []
        for run in runs.values():
            if not run.get('started') or not run.get('file'):
                continue
            started = parse_time(run['started'])
            if since is not None and started < since:
                continue
            if until is not None and started >= until:
                continue
            selected.append(run)
        return sorted(selected, key=lambda r: r['started'])

    def _lines(self, line_type, since=None, until=None, playbook=None):
        """The lines of one type of the runs in the period, in run order."""
        for run in self.runs(since, until):
            if playbook and run.get('playbook') != playbook:
                continue
            path = os.path.join(self.directory, run['file'])
            if not os.path.exists(path):
                self.stats.setdefault('missing_files', []).append(path)
                continue
            for line in read_jsonl(path, self.stats):
                if line.get('type') == line_type:
                    yield line

    def results(self, since=None, until=None, playbook=None):
        """Every result line of the runs in the period, in run order."""
        return self._lines('result', since, until, playbook)

    def run_errors(self, since=None, until=None):
        """Failures of the runs themselves (bad input, a failed controller task, a
        refused record) in the period, in run order: never findings on a host."""
        return self._lines('run_error', since, until)

    def guard_verdicts(self, since=None, until=None):
        """The treatment-hours guard's verdicts (allowed, refused, overridden) of the
        period, in run order, each with run_id, playbook, operator and time."""
        for line in self.results(since, until):
            if isinstance(line.get('guard'), dict):
                yield dict(line['guard'], run_id=line.get('run_id'), playbook=line.get('playbook'),
                           operator=line.get('operator'), time=line.get('ended'))

    def records(self, since=None, until=None, kind=None, host=None, system=None):
        """Records (module records and anomaly records of failed or unreachable
        hosts), each with its result's context: run_id, host, task, ended..."""
        for line in self.results(since, until):
            if host and line.get('host') != host:
                continue
            found = []
            if isinstance(line.get('record'), dict):
                found.append(line['record'])
            found.extend(r for r in line.get('records') or [] if isinstance(r, dict))
            for record in found:
                problems = validate_record(record)
                if problems:
                    self.stats.setdefault('invalid_records', []).append(
                        '%s/%s: %s' % (line.get('run_id'), line.get('host'), problems[0]))
                    continue
                if kind and record.get('kind') != kind:
                    continue
                if system and record.get('system') != system:
                    continue
                context = dict((k, line.get(k)) for k in (
                    'run_id', 'playbook', 'play', 'task', 'host', 'status', 'started', 'ended',
                    'check_mode', 'operator', 'revision'))
                yield dict(record, context=context)
