# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run in progress, the run lock per hospital and duty, and the log
positions kept in the record store. Controller only.

The ``dialysis_records`` callback names the run when the playbook starts and,
once the first play tells it the hospital, its record store. It exports both
to the environment of the ``ansible-playbook`` process, so that action plugins
(which run in forked workers) act for the same run without any extra task.

Run lock
    One file per duty, ``<records_dir>/locks/<duty>.lock`` - or per duty and scope,
    ``locks/<duty>-<scope>.lock``, when a duty locks one system of the hospital
    (``upgrade`` of ``hemodialysis``) - holding who took it
    (run id, operator, launcher, playbook, controller, process id and start time).
    Taking, checking and taking over happen under an ``flock`` on
    ``locks/.guard``, so two runs never both believe they hold it. A lock whose
    holder is gone (same controller, process dead or its id reused) or older than
    a bound (another controller) is stale and is taken over; the takeover is
    returned so that it is recorded. The callback releases the locks of its run
    when the run ends.

Log positions
    The record store is the truth for where each host's logs were last read: the
    module returns ``log_positions`` beside its record and the callback writes them
    in the same line as the record, so a position moves on exactly when the record
    reporting the lines before it is in the store. ``state/positions.json`` is a cache
    of the newest positions per host, brought up to date under the inspection lock
    from the runs the index lists after the point it was last brought up to.
"""

from __future__ import absolute_import, division, print_function

import datetime
import errno
import fcntl
import json
import os
import re
import socket
import time

from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import atomic_write_text

__metaclass__ = type

ENV_RUN_ID = 'DIALYSIS_RUN_ID'
ENV_RUN_PID = 'DIALYSIS_RUN_PID'
ENV_RECORDS_DIR = 'DIALYSIS_RUN_RECORDS_DIR'
ENV_OPERATOR = 'DIALYSIS_RUN_OPERATOR'
ENV_LAUNCHER = 'DIALYSIS_RUN_LAUNCHER'
ENV_PLAYBOOK = 'DIALYSIS_RUN_PLAYBOOK'
STATE_DIR = 'state'
POSITIONS_FILE = 'positions.json'
POSITIONS_VERSION = 1
LOCKS_DIR = 'locks'
# A lock's scope (a system such as hemodialysis) becomes part of a file name.
SCOPE_PATTERN = '^[a-z0-9][a-z0-9_]*$'
SCOPE = re.compile(SCOPE_PATTERN)


class LockError(Exception):
    """The lock could not be taken (held by another run, or the store is unusable)."""


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _iso(ts):
    return ts.isoformat(timespec='seconds').replace('+00:00', 'Z')


def publish_run(run_id, pid, records_dir=None, operator=None, launcher=None, playbook=None):
    """Called by the callback in the ansible-playbook process: later workers inherit it."""
    values = {ENV_RUN_ID: run_id, ENV_RUN_PID: str(pid), ENV_RECORDS_DIR: records_dir,
              ENV_OPERATOR: operator, ENV_LAUNCHER: launcher, ENV_PLAYBOOK: playbook}
    for key, value in values.items():
        if value is not None:
            os.environ[key] = str(value)


def current_run():
    """The recorded run this process works for, or None.

    Only a run of this very ansible-playbook process counts (its pid, or our
    parent's when we are a worker): values inherited by a nested or later
    ansible-playbook whose callback is not enabled are ignored.
    """
    run_id, pid = os.environ.get(ENV_RUN_ID), os.environ.get(ENV_RUN_PID)
    if not run_id or not pid or pid not in (str(os.getpid()), str(os.getppid())):
        return None
    return {'run_id': run_id, 'pid': int(pid), 'records_dir': os.environ.get(ENV_RECORDS_DIR),
            'operator': os.environ.get(ENV_OPERATOR), 'launcher': os.environ.get(ENV_LAUNCHER),
            'playbook': os.environ.get(ENV_PLAYBOOK)}


def process_start(pid):
    """The start time of a process in clock ticks since boot (tells a reused pid
    from the process that took a lock), or None when there is no such process."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            stat = handle.read()
    except (IOError, OSError):
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(')') + 2:].split()
    return int(fields[19]) if len(fields) > 19 else None


def atomic_write_json(path, data):
    atomic_write_text(path, json.dumps(data, ensure_ascii=False, sort_keys=True))


def _read_json(path):
    try:
        with open(path) as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) else None
    except (IOError, OSError, ValueError):
        return None


class _Guard(object):
    """An exclusive flock on a guard file for the few milliseconds a lock file
    or the positions cache is read and written."""

    def __init__(self, directory, name='.guard'):
        if not os.path.isdir(directory):
            os.makedirs(directory, 0o750)
        self.fd = os.open(os.path.join(directory, name), os.O_RDWR | os.O_CREAT, 0o640)

    def __enter__(self):
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def process_identity(pid):
    """What a lock file and the index record of a run's ansible-playbook process."""
    return {'controller': socket.gethostname(), 'pid': pid, 'pid_start': process_start(pid)}


def gone_reason(owner, since_epoch, stale_after, now=None):
    """Why the run ``owner`` (``process_identity`` keys) is over, or None when it
    may still be running: on this controller, as long as its process lives; from
    another controller, until ``stale_after`` seconds after ``since_epoch``."""
    if owner.get('controller') == socket.gethostname():
        pid = owner.get('pid')
        started = process_start(pid) if isinstance(pid, int) else None
        if started is None:
            return 'its ansible-playbook process %s is gone' % pid
        if owner.get('pid_start') is not None and started != owner.get('pid_start'):
            return 'its process id %s now belongs to another process' % pid
        return None
    age = (now or time.time()) - since_epoch
    if age > stale_after:
        return 'it was taken %d minutes ago on controller %s, longer than the %d-minute bound' % (
            age // 60, owner.get('controller'), stale_after // 60)
    return None


def describe_holder(holder):
    """'run R (operator O via launcher L, playbook P) since T, process N on C'."""
    return 'run %s (operator %s via %s, playbook %s) since %s, process %s on %s' % (
        holder.get('run_id'), holder.get('operator') or 'unknown', holder.get('launcher') or 'unknown',
        holder.get('playbook') or 'unknown', holder.get('acquired'), holder.get('pid'),
        holder.get('controller'))


class RunLock(object):
    """The lock of one duty (inspection, db_maintenance, upgrade...) of one hospital,
    or with ``scope`` of one part of it (the upgrade of one system): runs of the same
    duty on different scopes do not exclude each other, runs on the same scope do."""

    def __init__(self, records_dir, duty, scope=None):
        if scope is not None and not SCOPE.match(str(scope)):
            raise LockError('scope: expected a lower-case name such as hemodialysis (letters, digits, _), '
                            'got %r' % (scope,))
        self.directory = os.path.join(records_dir, LOCKS_DIR)
        self.duty = duty
        self.scope = scope
        self.name = duty if scope is None else '%s-%s' % (duty, scope)
        self.path = os.path.join(self.directory, '%s.lock' % self.name)

    def holder(self):
        return _read_json(self.path)

    @staticmethod
    def stale_reason(holder, stale_after, now=None):
        """Why ``holder`` no longer holds the lock, or None while it does."""
        if not holder or not holder.get('run_id'):
            return 'the lock file is unreadable'
        return gone_reason(holder, float(holder.get('acquired_epoch') or 0), stale_after, now)

    def acquire(self, run, wait=0.0, stale_after=6 * 3600, poll=1.0, on_wait=None):
        """Take the lock for ``run`` (from current_run()). Returns (holder, taken_over):
        taken_over is the stale holder replaced, with ``stale_reason``, or None.
        Raises LockError naming the holder after ``wait`` seconds."""
        deadline = time.monotonic() + max(0.0, float(wait))
        waited = False
        while True:
            with _Guard(self.directory):
                current = self.holder() if os.path.exists(self.path) else None
                if current is not None and current.get('run_id') == run['run_id']:
                    return current, None
                reason = self.stale_reason(current, stale_after) if os.path.exists(self.path) else None
                if not os.path.exists(self.path) or reason:
                    mine = self._holder_for(run)
                    atomic_write_json(self.path, mine)
                    taken = dict(current or {}, stale_reason=reason) if reason else None
                    return mine, taken
            if time.monotonic() >= deadline:
                raise LockError('the %s lock of this hospital is held by %s%s; wait for it to end, or '
                                'if that run is gone and its lock was left behind, remove %s'
                                % (self.label(), describe_holder(current),
                                   ' (waited %d s)' % wait if wait else '', self.path))
            if on_wait is not None and not waited:
                on_wait(current)
            waited = True
            time.sleep(min(poll, max(0.05, deadline - time.monotonic())))

    def label(self):
        """'upgrade' or 'upgrade (hemodialysis)' in messages."""
        return self.duty if self.scope is None else '%s (%s)' % (self.duty, self.scope)

    def _holder_for(self, run):
        now = _now()
        holder = dict(process_identity(run['pid']), duty=self.duty, run_id=run['run_id'],
                      operator=run.get('operator'), launcher=run.get('launcher'),
                      playbook=run.get('playbook'), acquired=_iso(now),
                      acquired_epoch=round(now.timestamp(), 3))
        if self.scope is not None:
            holder['scope'] = self.scope
        return holder

    def release(self, run_id):
        """Remove the lock if ``run_id`` holds it; True when removed."""
        if not os.path.exists(self.path):
            return False
        with _Guard(self.directory):
            current = self.holder()
            if current is None or current.get('run_id') != run_id:
                return False
            try:
                os.unlink(self.path)
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    raise
            return True


def release_all(records_dir, run_id):
    """Release every lock ``run_id`` holds in the store; the duties released."""
    directory = os.path.join(records_dir, LOCKS_DIR)
    if not os.path.isdir(directory):
        return []
    released = []
    for name in sorted(os.listdir(directory)):
        if name.endswith('.lock') and RunLock(records_dir, name[:-len('.lock')]).release(run_id):
            released.append(name[:-len('.lock')])
    return released


def holds(records_dir, duty, run_id, scope=None):
    holder = RunLock(records_dir, duty, scope).holder()
    return bool(holder) and holder.get('run_id') == run_id


# -- log positions ---------------------------------------------------------------

def _lines_with(path, marker):
    """The JSON objects of the lines of ``path`` that contain ``marker`` (the
    others are not parsed: a run file is mostly records without positions)."""
    with open(path, 'rb') as handle:
        for raw in handle:
            if marker not in raw or not raw.endswith(b'\n'):
                continue
            try:
                obj = json.loads(raw.decode('utf-8'))
            except (ValueError, UnicodeDecodeError):
                continue
            if isinstance(obj, dict):
                yield obj


_FILE_KEYS = {'inode': int, 'dev': int, 'offset': int, 'head_len': int}


def clean_positions(value):
    """``log_positions`` as the module returned them, reduced to the known keys and
    types, or None when they are not of that shape (never written then)."""
    if not isinstance(value, dict) or not isinstance(value.get('files', {}), dict):
        return None
    cursor = value.get('journal_cursor')
    if cursor is not None and not isinstance(cursor, str):
        return None
    files = {}
    for path, entry in (value.get('files') or {}).items():
        if not isinstance(path, str) or not isinstance(entry, dict):
            return None
        clean = {}
        for key, kind in _FILE_KEYS.items():
            if not isinstance(entry.get(key), kind) or isinstance(entry.get(key), bool):
                return None
            clean[key] = entry[key]
        head = entry.get('head')
        if head is not None and not isinstance(head, str):
            return None
        clean['head'] = head
        files[path] = clean
    return {'files': files, 'journal_cursor': cursor}


class LogPositions(object):
    """The newest recorded log positions per host of one hospital's store."""

    def __init__(self, records_dir):
        self.records_dir = records_dir
        self.directory = os.path.join(records_dir, STATE_DIR)
        self.path = os.path.join(self.directory, POSITIONS_FILE)

    def load(self):
        data = _read_json(self.path)
        if not data or data.get('version') != POSITIONS_VERSION or not isinstance(data.get('hosts'), dict):
            return {'version': POSITIONS_VERSION, 'index_offset': 0, 'hosts': {}, 'updated_for': None}
        return data

    def for_run(self, run_id, host):
        """The positions to start ``host``'s scan from in run ``run_id`` (None: never
        recorded). The first caller of the run brings the cache up to date; the
        workers of the other hosts wait for it on an flock, then only read."""
        with _Guard(self.directory, '.positions.guard'):
            data = self.load()
            if data.get('updated_for') != run_id:
                data = self.update(run_id)
        entry = data['hosts'].get(host)
        return entry.get('positions') if entry else None

    def update(self, own_run_id, stale_after=6 * 3600):
        """Fold into the cache the positions recorded by the runs the index lists
        since the cache was last updated, except ``own_run_id``; call with the
        inspection lock held. Returns the cache as written.

        Per host the newest record wins (by the time its result ended), whatever
        the order the runs started in. The cache then stands at the start line of
        the oldest run that may still record positions - this run, or one that
        started before it and waits for the lock - so their files are read again
        next time, and a run killed before its end still has its records counted.
        """
        data = self.load()
        data['updated_for'] = own_run_id
        index = os.path.join(self.records_dir, 'index.jsonl')
        if not os.path.exists(index):
            return data
        starts, ended = [], set()
        with open(index, 'rb') as handle:
            size = os.fstat(handle.fileno()).st_size
            offset = data['index_offset'] if data['index_offset'] <= size else 0  # index replaced
            handle.seek(offset)
            position = offset
            for raw in handle:
                if not raw.endswith(b'\n'):
                    break
                try:
                    entry = json.loads(raw.decode('utf-8'))
                except (ValueError, UnicodeDecodeError):
                    entry = None
                if isinstance(entry, dict) and entry.get('event') == 'start' and entry.get('file'):
                    starts.append((position, entry))
                elif isinstance(entry, dict) and entry.get('event') == 'end':
                    ended.add(entry.get('run_id'))
                position += len(raw)
        resume = position
        for start, entry in starts:
            if entry.get('run_id') == own_run_id or (
                    entry.get('run_id') not in ended and entry.get('pid') is not None
                    and gone_reason(entry, _epoch(entry.get('started')), stale_after) is None):
                resume = min(resume, start)
            if entry.get('run_id') == own_run_id:
                continue
            path = os.path.join(self.records_dir, os.path.basename(entry['file']))
            if not os.path.exists(path):
                continue
            for line in _lines_with(path, b'"log_positions"'):
                positions = clean_positions(line.get('log_positions'))
                host, recorded = line.get('host'), str(line.get('ended') or '')
                if line.get('type') != 'result' or positions is None or line.get('check_mode') \
                        or not isinstance(host, str):
                    continue
                known = data['hosts'].get(host)
                if known is None or recorded >= str(known.get('recorded') or ''):
                    data['hosts'][host] = {'positions': positions, 'run_id': line.get('run_id'),
                                           'recorded': recorded}
        data['index_offset'] = resume
        atomic_write_json(self.path, data)
        return data


def _epoch(iso):
    try:
        return datetime.datetime.fromisoformat(str(iso).replace('Z', '+00:00')).timestamp()
    except ValueError:
        return 0.0
