# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
name: dialysis_records
type: notification
short_description: Write every task result, and every module record, to the record store
description:
  - Appends one JSON object per line to a file per run under O(records_dir), flushed
    line by line, so a run that is killed leaves every line already written valid.
  - The first line describes the run (playbook, who or what launched it, git revision);
    then one line per task result per host - with the module's C(record) when it
    returned one - and a last line with the run's statistics.
  - A failed or unreachable target host in a duty play (a play that sets
    C(dialysis_record_kind)) is written as an anomaly record of that duty's kind, never
    left out. A failure of the run itself - a bad C(-e) value, a failed assert, a failed
    controller task such as the report - is written as a C(run_error) line, never as a
    finding on a host.
  - Records belong to one hospital; the store is chosen by the inventory's
    C(dialysis_hospital_id), so two hospitals kept by the same vendor never mix.
  - Module records are checked against the record contract; an invalid one is refused
    (a run error says why), never written half-valid.
  - Results of tasks with C(no_log) are never written; values that look like passwords,
    tokens, keys or patient identifiers are masked in everything that is.
  - An index (C(index.jsonl) in O(records_dir)) gets one line when a run starts and one
    when it ends, so reports can find the runs of a period without opening every file.
  - A notification callback - it leaves stdout to the stdout callback (and to AWX).
requirements:
  - enable it in C(callbacks_enabled) (the repository's ansible.cfg does)
options:
  records_dir:
    description:
      - Directory of the record store; a relative path is taken from the directory of
        the ansible.cfg in use (the repository root).
      - C({hospital}) is replaced by the inventory's C(dialysis_hospital_id), so each
        hospital (each inventory) has its own store.
    type: str
    default: reports/{hospital}/records
    ini:
      - section: dialysis_records
        key: records_dir
    env:
      - name: DIALYSIS_RECORDS_DIR
  operator:
    description: Who ran the playbook (the engineer's name). Defaults to the AWX user
      when run by AWX, else the inventory's C(dialysis_engineer), else the login name.
    type: str
    env:
      - name: DIALYSIS_OPERATOR
  launcher:
    description: What launched the run (engineer, cron, awx, ansible-runner). Detected
      when not set - set it in cron entries.
    type: str
    env:
      - name: DIALYSIS_LAUNCHER
  max_message_chars:
    description: Failure messages longer than this are cut.
    type: int
    default: 2000
    ini:
      - section: dialysis_records
        key: max_message_chars
'''

import datetime
import getpass
import json
import os
import subprocess
import sys
import time
import uuid

from ansible import constants as C
from ansible import context
from ansible.plugins.callback import CallbackBase

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import (
    HOSPITAL_ID,
    HOSPITAL_ID_PATTERN,
    KINDS,
    SYSTEMS,
    RecordError,
    check_record,
    make_item,
    make_record,
)
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_redact import redact_data, redact_text
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_runs import (
    clean_positions,
    process_identity,
    publish_run,
    release_all,
)

SYSTEM_GROUPS = tuple(s for s in SYSTEMS if s != 'shared')
SCHEMA_VERSION = 2
UNASSIGNED = 'unassigned'
# Actions that run on the controller only: when one fails, the run failed, not
# the host it was nominally run for.
_CONTROLLER = ('assert', 'fail', 'debug', 'set_fact', 'set_stats', 'include_role', 'import_role',
               'include_tasks', 'import_tasks', 'include_vars', 'validate_argument_spec',
               'add_host', 'group_by', 'meta', 'pause')
CONTROLLER_ACTIONS = frozenset(
    [prefix + name for name in _CONTROLLER for prefix in ('', 'ansible.builtin.', 'ansible.legacy.')]
    + ['dialysis.ops.dialysis_report', 'dialysis_report', 'dialysis.ops.run_lock', 'run_lock',
       'dialysis.ops.treatment_guard', 'treatment_guard'])
LOCAL_NAMES = frozenset(['localhost', '127.0.0.1', '::1'])


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(ts):
    return ts.isoformat(timespec='milliseconds').replace('+00:00', 'Z')


def _git_revision(directory):
    try:
        rev = subprocess.run(['git', '-C', directory, 'rev-parse', 'HEAD'], capture_output=True,
                             text=True, timeout=5, check=False).stdout.strip()
        if not rev:
            return None
        dirty = subprocess.run(['git', '-C', directory, 'status', '--porcelain',
                                '--untracked-files=no'], capture_output=True, text=True,
                               timeout=5, check=False).stdout.strip()
        return rev + ('-dirty' if dirty else '')
    except (OSError, subprocess.SubprocessError):
        return None


class JsonLinesWriter(object):
    """Append-only JSON-lines file: each line goes out in one write(2), so a
    SIGKILL can cut the run short but never leaves a half-written line."""

    def __init__(self, path):
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o750)
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)

    def write(self, obj):
        data = (json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str) + '\n')
        data = data.encode('utf-8')
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'dialysis.ops.dialysis_records'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.writer = None
        self.index = None
        self.records_dir = None
        self.run = None
        self.run_file = None
        self.play_name = None
        self.play_kind = None
        self.extra_vars = {}
        self.inventory_vars = {}
        self.inventory_sources = []
        self.task_started = {}
        self.host_started = {}
        self.counts = {}
        self.run_errors = 0
        self.busy_seconds = 0.0  # time spent inside this callback (reported in run_end)

    # -- set-up ---------------------------------------------------------------
    def _records_dir(self, hospital):
        directory = self.get_option('records_dir').replace('{hospital}', hospital)
        directory = os.path.expanduser(directory)
        if not os.path.isabs(directory):
            base = os.path.dirname(C.CONFIG_FILE) if C.CONFIG_FILE else os.getcwd()
            directory = os.path.join(base, directory)
        return os.path.abspath(directory)

    def _launcher(self):
        explicit = self.get_option('launcher')
        if explicit:
            return explicit
        if os.environ.get('JOB_ID') and os.environ.get('AWX_HOST') or \
                self.extra_vars.get('awx_job_id') or self.extra_vars.get('tower_job_id'):
            return 'awx'
        if os.environ.get('ANSIBLE_STDOUT_CALLBACK') == 'awx_display':
            return 'ansible-runner'
        try:
            interactive = sys.stdin is not None and sys.stdin.isatty()
        except (ValueError, OSError):
            interactive = False
        return 'engineer' if interactive else 'unattended'

    def _operator(self):
        explicit = self.get_option('operator')
        if explicit:
            return explicit
        for key in ('awx_user_name', 'tower_user_name'):
            if self.extra_vars.get(key):
                return str(self.extra_vars[key])
        engineer = self.inventory_vars.get('dialysis_engineer')
        if isinstance(engineer, str) and engineer.strip() and '{{' not in engineer:
            return engineer.strip()
        try:
            return getpass.getuser()
        except (KeyError, OSError):
            return 'unknown'

    def _read_inventory_vars(self, play):
        """The inventory-wide settings the store depends on (hospital id, engineer),
        as the first host of the inventory sees them (group_vars/all and -e)."""
        try:
            manager = play.get_variable_manager()
            inventory = manager._inventory  # pylint: disable=protected-access
            hosts = inventory.get_hosts('all', ignore_restrictions=True) or [inventory.get_host('localhost')]
            found = manager.get_vars(play=play, host=hosts[0], include_hostvars=False)
            self.inventory_vars = dict((k, found.get(k)) for k in
                                       ('dialysis_hospital_id', 'dialysis_engineer') if k in found)
            self.inventory_sources = [str(s) for s in (getattr(inventory, '_sources', None) or [])]
        except Exception as exc:  # pylint: disable=broad-except  # never fail a run
            self._display.warning('dialysis_records: cannot read the inventory settings: %s' % exc)
            self.inventory_vars = {}
            self.inventory_sources = []

    def _hospital(self):
        value = self.inventory_vars.get('dialysis_hospital_id')
        if isinstance(value, str) and HOSPITAL_ID.match(value):
            return value
        where = ', '.join(self.inventory_sources) or 'the inventory'
        if value in (None, ''):
            problem = 'dialysis_hospital_id is not set'
        else:
            problem = 'dialysis_hospital_id %r is not a slug (%s)' % (value, HOSPITAL_ID_PATTERN)
        self._display.warning('dialysis_records: %s in %s (group_vars/all.yml); records of this run go to '
                              'the %r store, apart from every hospital\'s' % (problem, where, UNASSIGNED))
        return UNASSIGNED

    def v2_playbook_on_start(self, playbook):
        started = _now()
        run_id = '%s-%s' % (started.strftime('%Y%m%dT%H%M%SZ'), uuid.uuid4().hex[:8])
        playbook_path = os.path.abspath(playbook._file_name)  # pylint: disable=protected-access
        self.run = {
            'run_id': run_id,
            'playbook': os.path.basename(playbook_path),
            'playbook_path': playbook_path,
            'started': _iso(started),
            'check_mode': bool(context.CLIARGS.get('check', False)),
            'limit': context.CLIARGS.get('subset'),
            'tags': list(context.CLIARGS.get('tags') or []),
            'revision': _git_revision(os.path.dirname(playbook_path)),
            'controller': os.uname()[1],
            'ansible_pid': os.getpid(),
        }
        self._started_mono = time.monotonic()
        self._wrote_run_line = False
        publish_run(run_id, os.getpid(), playbook=self.run['playbook'])

    def _open(self, play):
        """Open the run's files once the first play is known: the store depends on
        the inventory's hospital, and launcher/operator on AWX's extra vars."""
        if self.writer is not None or self.run is None:
            return
        self._read_inventory_vars(play)
        hospital = self._hospital()
        directory = self._records_dir(hospital)
        self.run['hospital_id'] = hospital
        self.records_dir = directory
        self.run_file = os.path.join(directory, '%s.jsonl' % self.run['run_id'])
        self.writer = JsonLinesWriter(self.run_file)
        self.index = JsonLinesWriter(os.path.join(directory, 'index.jsonl'))
        self._ensure_run_line()

    def _ensure_run_line(self):
        if self._wrote_run_line or self.run is None or self.writer is None:
            return
        self.run['launcher'] = self._launcher()
        self.run['operator'] = self._operator()
        for key in ('awx_job_id', 'tower_job_id'):
            if self.extra_vars.get(key):
                self.run['awx_job_id'] = str(self.extra_vars[key])
        line = dict(self.run, type='run', schema=SCHEMA_VERSION)
        self.writer.write(line)
        self.index.write({'event': 'start', 'run_id': self.run['run_id'],
                          'file': os.path.basename(self.run_file),
                          'playbook': self.run['playbook'], 'started': self.run['started'],
                          'launcher': self.run['launcher'], 'operator': self.run['operator'],
                          'check_mode': self.run['check_mode'],
                          'hospital_id': self.run['hospital_id'],
                          # whether the run may still be going (see dialysis_runs.LogPositions)
                          **process_identity(os.getpid())})
        self._wrote_run_line = True
        # Action plugins (the run lock, the log positions) act for this run and store.
        publish_run(self.run['run_id'], os.getpid(), records_dir=self.records_dir,
                    operator=self.run['operator'], launcher=self.run['launcher'])

    def v2_playbook_on_play_start(self, play):
        self.play_name = play.get_name()
        play_vars = play.get_vars() or {}
        kind = play_vars.get('dialysis_record_kind')
        self.play_kind = kind if kind in KINDS else None
        if kind is not None and kind not in KINDS:
            self._display.warning('dialysis_records: play %r sets dialysis_record_kind %r; expected one '
                                  'of %s' % (self.play_name, kind, ', '.join(KINDS)))
        if not self.extra_vars:
            try:
                self.extra_vars = dict(play.get_variable_manager().extra_vars)
            except Exception:  # pylint: disable=broad-except  # never fail a run
                self.extra_vars = {}
        begin = time.perf_counter()
        try:
            self._open(play)
        finally:
            self.busy_seconds += time.perf_counter() - begin

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.task_started[task._uuid] = _now()  # pylint: disable=protected-access

    def v2_playbook_on_handler_task_start(self, task):
        self.task_started[task._uuid] = _now()  # pylint: disable=protected-access

    def v2_runner_on_start(self, host, task):
        self.host_started[(host.get_name(), task._uuid)] = _now()  # pylint: disable=protected-access

    # -- results --------------------------------------------------------------
    def _system_of(self, host, record=None):
        if record and record.get('system') in SYSTEMS:
            return record['system']
        host_vars = getattr(host, 'vars', {}) or {}
        if host_vars.get('dialysis_system') in SYSTEMS:
            return host_vars['dialysis_system']
        names = set(g.get_name() for g in host.get_groups())
        for name in SYSTEM_GROUPS:
            if name in names:
                return name
        return 'shared'

    def _message(self, res):
        """The failure in its own words: msg and reason, then (without a reason)
        the first of stderr, module_stderr and the exception."""
        def said(key):
            value = res.get(key)
            return value.strip() if isinstance(value, str) and value.strip() else None

        parts = [p for p in (said('msg'), said('reason')) if p]
        if not said('reason'):
            detail = said('stderr') or said('module_stderr') or said('exception')
            parts += [detail] if detail else []
        text = redact_text(' | '.join(parts))
        limit = self.get_option('max_message_chars')
        return text[:limit] + ('...' if len(text) > limit else '')

    def _write_result(self, result, status):
        if self.writer is None:
            return
        begin = time.perf_counter()
        try:
            self._write_result_line(result, status)
        finally:
            self.busy_seconds += time.perf_counter() - begin

    @staticmethod
    def _on_controller(task):
        """True when the task ran on the controller, not on its target host."""
        if task.action in CONTROLLER_ACTIONS:
            return True
        delegate = task.delegate_to
        return isinstance(delegate, str) and delegate in LOCAL_NAMES

    def _write_result_line(self, result, status):
        self._ensure_run_line()
        task = result._task  # pylint: disable=protected-access
        host = result._host  # pylint: disable=protected-access
        hostname = host.get_name()
        ended = _now()
        started = self.host_started.pop((hostname, task._uuid), None) or \
            self.task_started.get(task._uuid) or ended  # pylint: disable=protected-access
        res = result._result if isinstance(result._result, dict) else {}  # pylint: disable=protected-access
        no_log = bool(task.no_log) or bool(res.get('_ansible_no_log'))
        check_mode = task.check_mode if task.check_mode is not None else self.run['check_mode']
        line = {
            'type': 'result',
            'run_id': self.run['run_id'],
            'playbook': self.run['playbook'],
            'play': self.play_name,
            'task': task.get_name(),
            'action': task.action,
            'host': hostname,
            'status': status,
            'changed': bool(res.get('changed', False)),
            'check_mode': bool(check_mode),
            'started': _iso(started),
            'ended': _iso(ended),
            'duration': round((ended - started).total_seconds(), 3),
            'operator': self.run.get('operator'),
            'revision': self.run.get('revision'),
        }
        if task.ignore_errors and status == 'failed':
            line['ignored'] = True
        record, refused = None, []
        if no_log:
            line['no_log'] = True
        else:
            if isinstance(res.get('record'), dict):
                record = self._checked(redact_data(res['record']), refused)
            # Records beside the task's own or instead of it: a loop's results, each with its
            # record; a module's records list (the inspection's db_health record beside its
            # own, backup_check's one per backup set). They go in the same line.
            found = []
            if isinstance(res.get('results'), list) and not isinstance(res.get('record'), dict):
                found = [r['record'] for r in res['results']
                         if isinstance(r, dict) and isinstance(r.get('record'), dict)]
            if isinstance(res.get('records'), list):
                found += [r for r in res['records'] if isinstance(r, dict)]
            records = [r for r in (self._checked(redact_data(r), refused) for r in found) if r is not None]
            if records:
                line['records'] = records
            if status in ('failed', 'unreachable'):
                line['msg'] = self._message(res)
            if isinstance(res.get('dialysis_lock'), dict):
                line['lock'] = res['dialysis_lock']
            # The treatment-hours guard's verdict (refusals too): the monthly report lists them.
            if isinstance(res.get('dialysis_guard'), dict):
                line['guard'] = redact_data(res['dialysis_guard'])
            # Positions travel in the record's own line: they move on exactly when the
            # record reporting the lines before them is in the store.
            positions = clean_positions(res.get('log_positions'))
            if positions is not None and record is not None and not refused and status in ('ok', 'changed') \
                    and not line['check_mode']:
                line['log_positions'] = positions
        failed = status in ('failed', 'unreachable') and not line.get('ignored')
        run_error = None
        if failed:
            controller_side = self._on_controller(task) or bool(res.get('dialysis_run_error'))
            if self.play_kind and (status == 'unreachable' or not controller_side):
                record = self._anomaly_record(host, task, status, line.get('msg'), record)
            else:
                line['run_error'] = True
                run_error = line.get('msg') or 'output hidden (no_log)'
        if record is not None:
            line['record'] = record
        self.counts[status] = self.counts.get(status, 0) + 1
        self._write(line)
        if run_error is not None:
            self._run_error(task.get_name(), task.action, hostname, status, run_error)
        for problem in refused:
            self._run_error(task.get_name(), task.action, hostname, 'invalid_record', problem)

    def _checked(self, record, refused):
        """The record when it holds to the contract; None (and a run error) when not."""
        try:
            return check_record(record)
        except RecordError as exc:
            refused.append(str(exc)[:self.get_option('max_message_chars')])
            self._display.warning('dialysis_records: refused a record that breaks the record contract: '
                                  '%s' % exc)
            return None

    def _run_error(self, task, action, host, status, msg):
        self.run_errors += 1
        self._write({'type': 'run_error', 'run_id': self.run['run_id'], 'playbook': self.run['playbook'],
                     'play': self.play_name, 'task': task, 'action': action, 'host': host,
                     'status': status, 'time': _iso(_now()), 'msg': msg,
                     'operator': self.run.get('operator')})

    def _write(self, line):
        try:
            self.writer.write(line)
        except (IOError, OSError) as exc:  # never break the run, but say so
            self._display.warning('dialysis_records: cannot write %s: %s' % (self.run_file, exc))

    def _anomaly_record(self, host, task, status, msg, record):
        """A failed or unreachable target host is a finding of the duty's kind."""
        if status == 'unreachable':
            item = make_item('host:reachability', 'unreachable', 'critical',
                             'Host could not be reached: %s' % (msg or 'no reason given'),
                             reason='unreachable')
        else:
            item = make_item('task:%s' % task.action, 'failed', 'error',
                             'Task "%s" failed: %s' % (task.get_name(), msg or 'output hidden (no_log)'),
                             reason='task_failed')
        record = record or {}
        kind = record['kind'] if record.get('kind') in KINDS else self.play_kind
        return make_record(kind, self._system_of(host, record), list(record.get('items') or []) + [item],
                           record.get('metrics'))

    def v2_runner_on_ok(self, result):
        self._write_result(result, 'changed' if result._result.get('changed') else 'ok')

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write_result(result, 'failed')

    def v2_runner_on_unreachable(self, result):
        self._write_result(result, 'unreachable')

    def v2_runner_on_skipped(self, result):
        self._write_result(result, 'skipped')

    def v2_playbook_on_stats(self, stats):
        if self.writer is None:
            return
        self._ensure_run_line()
        ended = _now()
        hosts = {}
        for name in sorted(stats.processed.keys()):
            hosts[name] = stats.summarize(name)
        try:
            released = release_all(self.records_dir, self.run['run_id'])
        except (IOError, OSError) as exc:
            released = []
            self._display.warning('dialysis_records: cannot release the locks of run %s: %s'
                                  % (self.run['run_id'], exc))
        line = {'type': 'run_end', 'run_id': self.run['run_id'], 'ended': _iso(ended),
                'locks_released': released,
                'duration': round(time.monotonic() - self._started_mono, 3),
                'hosts': hosts, 'results': self.counts, 'run_errors': self.run_errors,
                'callback_seconds': round(self.busy_seconds, 4)}
        self.writer.write(line)
        failed = sorted(h for h, s in hosts.items() if s.get('failures') or s.get('unreachable'))
        self.index.write({'event': 'end', 'run_id': self.run['run_id'],
                          'file': os.path.basename(self.run_file), 'ended': _iso(ended),
                          'hosts': len(hosts), 'failed_hosts': failed,
                          'run_errors': self.run_errors,
                          'playbook': self.run['playbook']})
        self.writer.close()
        self.index.close()
        self.writer = None
        self._display.display('Records written to %s' % self.run_file)
