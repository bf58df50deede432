# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup sets checked where they live (contract clause R3; README, "Backups").

A backup set is the series of backups of one database in one directory, as the
inventory describes it (``backup_sets``). For the newest backup of each set:

* ``backup:<set>:age``       its age against the set's RPO (hours);
* ``backup:<set>:size``      its size against the median of the previous N
                             (a drop of more than ``size_drop_percent``: a
                             silently half-empty dump);
* ``backup:<set>:checksum``  sha256 against its manifest (``<backup>.sha256``,
                             ``sha256sum`` lines relative to the set directory);
* ``backup:<set>:structure`` structural validity: ``pg_restore`` reads the
                             whole archive (custom / directory format),
                             ``pg_verifybackup`` (pg_basebackup), the compressed
                             stream read to its end and mariadb-dump's
                             "-- Dump completed" trailer, mariabackup's
                             ``xtrabackup_checkpoints``; SQL Server ``.bak``
                             files are not verified here (``skipped``, reason
                             ``unverified``);
* ``backup:<set>:retention`` how many backups are kept and the oldest;
* ``backup:<set>:job``       the backup job's own last exit status
                             (``last-run.json``), where configured.

``validate_sets`` is shared by the module and the controller-side check of the
inventory, so both say the same thing in the same words. Everything here only
reads. Runs on the hosts: standard library only, Python 3.8 and later.
"""

from __future__ import absolute_import, division, print_function

import datetime
import fnmatch
import gzip
import hashlib
import json
import os
import re
import subprocess
import time

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import make_item, make_record

__metaclass__ = type

FORMATS = {
    # format: (engine, is a directory, default pattern)
    'pg_dump_custom': ('postgresql', False, '*.dump'),
    'pg_dump_directory': ('postgresql', True, '*'),
    'pg_basebackup': ('postgresql', True, '*'),
    'mariadb_dump': ('mariadb', False, '*.sql*'),
    'mariabackup': ('mariadb', True, '*.mariabackup'),
    'sqlserver_bak': ('sqlserver', False, '*.bak'),
}
# Files beside a backup that are not backups themselves.
SIDECARS = ('.sha256', '.counts.json', '.json', '.partial', '.tmp', '.log')
DEFAULTS = {'rpo_hours': 26.0, 'size_drop_percent': 50.0, 'size_history': 7, 'min_history': 3,
            'retention_min': 1, 'retention_max': None, 'verify': True, 'verify_timeout': 1800}
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.@-]*$')
_KEYS = ('name', 'database', 'format', 'directory', 'pattern', 'rpo_hours', 'size_drop_percent',
         'size_history', 'min_history', 'retention_min', 'retention_max', 'last_run', 'verify',
         'verify_timeout', 'restore')
DUMP_TRAILER = b'-- Dump completed'
# The newest backup is left alone while a writer may still be at it.
TAIL_BYTES = 4096


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def validate_sets(sets, varname='backup_sets'):
    """(normalised sets, error sentences naming the path and the expected form)."""
    errors, out, names = [], [], set()
    if sets is None:
        return out, errors
    if not isinstance(sets, list):
        return out, ['%s: expected a list of backup sets ({name, database, format, directory, ...}), '
                     'got %s' % (varname, type(sets).__name__)]
    for number, entry in enumerate(sets):
        where = '%s[%d]' % (varname, number)
        if not isinstance(entry, dict):
            errors.append('%s: expected a mapping, got %r' % (where, entry))
            continue
        entry = dict((k, v) for k, v in entry.items() if v is not None)
        for key in sorted(set(entry) - set(_KEYS)):
            errors.append('%s: unknown key %r; expected %s' % (where, key, ', '.join(_KEYS)))
        spec = dict(DEFAULTS)
        name = entry.get('name')
        if not isinstance(name, str) or not _NAME.match(name):
            errors.append('%s.name: expected a short name (letters, digits, ".", "_", "-", "@"), got %r'
                          % (where, name))
        elif name in names:
            errors.append('%s.name: %r is used twice; each set needs its own name' % (where, name))
        names.add(name)
        spec['name'] = name
        fmt = entry.get('format')
        if fmt not in FORMATS:
            errors.append('%s.format: expected one of %s, got %r' % (where, ', '.join(sorted(FORMATS)), fmt))
            continue
        spec['format'] = fmt
        spec['engine'], spec['is_dir'], default_pattern = FORMATS[fmt]
        directory = entry.get('directory')
        if not isinstance(directory, str) or not directory.startswith('/'):
            errors.append('%s.directory: expected the absolute path of the directory holding the set, got %r'
                          % (where, directory))
        spec['directory'] = directory
        pattern = entry.get('pattern', default_pattern)
        if not isinstance(pattern, str) or not pattern or '/' in pattern:
            errors.append('%s.pattern: expected a file name pattern such as "hemodialysis-*.dump" (no "/"), '
                          'got %r' % (where, pattern))
        spec['pattern'] = pattern
        database = entry.get('database', name)
        if not isinstance(database, str) or not database:
            errors.append('%s.database: expected the database name, got %r' % (where, database))
        spec['database'] = database
        for key, low, whole in (('rpo_hours', 0.01, False), ('size_drop_percent', 0, False),
                                ('size_history', 1, True), ('min_history', 1, True),
                                ('retention_min', 0, True), ('verify_timeout', 1, True)):
            if key not in entry:
                continue
            num = _number(entry[key])
            if num is None or num < low or (whole and num != int(num)) or \
                    (key == 'size_drop_percent' and num > 100):
                errors.append('%s.%s: expected %s >= %s%s, got %r' % (
                    where, key, 'a whole number' if whole else 'a number', low,
                    ' and <= 100' if key == 'size_drop_percent' else '', entry[key]))
                continue
            spec[key] = int(num) if whole else num
        if 'retention_max' in entry:
            num = _number(entry['retention_max'])
            if num is None or num < 1 or num != int(num):
                errors.append('%s.retention_max: expected a whole number >= 1 (the job keeps at most this '
                              'many), got %r' % (where, entry['retention_max']))
            else:
                spec['retention_max'] = int(num)
        last_run = entry.get('last_run')
        if last_run is not None and (not isinstance(last_run, str) or not last_run.startswith('/')):
            errors.append('%s.last_run: expected the absolute path of the job\'s last-run.json, got %r'
                          % (where, last_run))
        spec['last_run'] = last_run
        verify = entry.get('verify', True)
        if not isinstance(verify, bool):
            errors.append('%s.verify: expected true or false, got %r' % (where, verify))
        spec['verify'] = verify
        # The restore drill's settings of this set (roles/restore_drill checks them).
        spec['restore'] = entry.get('restore') or {}
        if not isinstance(spec['restore'], dict):
            errors.append('%s.restore: expected a mapping of restore drill settings, got %r'
                          % (where, spec['restore']))
        out.append(spec)
    return out, errors


# ---------------------------------------------------------------------------
# finding the backups
# ---------------------------------------------------------------------------

def _size(path):
    if not os.path.isdir(path):
        return os.path.getsize(path)
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, name))
            except OSError:
                pass
    return total


def find_backups(spec):
    """The set's backups, oldest first: [{path, name, mtime, size}]."""
    found = []
    for name in os.listdir(spec['directory']):
        if name.startswith('.') or name.endswith(SIDECARS) or not fnmatch.fnmatch(name, spec['pattern']):
            continue
        path = os.path.join(spec['directory'], name)
        if os.path.isdir(path) != spec['is_dir']:
            continue
        try:
            found.append({'path': path, 'name': name, 'mtime': os.stat(path).st_mtime, 'size': _size(path)})
        except OSError:
            continue
    found.sort(key=lambda b: (b['mtime'], b['name']))
    return found


def median(values):
    ordered = sorted(values)
    if not ordered:
        return None
    mid = len(ordered) // 2
    return float(ordered[mid]) if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def check_manifest(backup, directory):
    """(status, reason, detail, files checked) of BACKUP against BACKUP.sha256."""
    manifest = backup['path'] + '.sha256'
    if not os.path.isfile(manifest):
        return 'warning', 'no_manifest', 'no manifest %s' % manifest, 0
    expected = {}
    with open(manifest, 'rb') as handle:
        for number, raw in enumerate(handle, 1):
            line = raw.decode('utf-8', 'replace').rstrip('\r\n')
            if not line.strip():
                continue
            match = re.match(r'^([0-9a-fA-F]{64}) [ *](.+)$', line)
            if not match:
                return 'critical', 'bad_manifest', '%s:%d: expected "<sha256>  <file>", got %r' % (
                    manifest, number, line[:80]), 0
            expected[match.group(2)] = match.group(1).lower()
    if not expected:
        return 'critical', 'bad_manifest', '%s lists no file' % manifest, 0
    if backup['path'] and os.path.isdir(backup['path']):
        present = set()
        for dirpath, _dirs, files in os.walk(backup['path']):
            for name in files:
                present.add(os.path.relpath(os.path.join(dirpath, name), directory))
        unlisted = sorted(present - set(expected))
        if unlisted:
            return 'critical', 'checksum_mismatch', '%d files not in the manifest, e.g. %s' % (
                len(unlisted), unlisted[0]), 0
    for rel, digest in sorted(expected.items()):
        path = os.path.join(directory, rel)
        if not os.path.isfile(path):
            return 'critical', 'checksum_mismatch', 'listed in the manifest but missing: %s' % rel, 0
        if sha256_file(path) != digest:
            return 'critical', 'checksum_mismatch', 'sha256 of %s does not match its manifest' % rel, 0
    return 'ok', None, 'sha256 of %d file(s) matches %s' % (len(expected), os.path.basename(manifest)), \
        len(expected)


# ---------------------------------------------------------------------------
# structural validity (each returns (status, reason, detail))
# ---------------------------------------------------------------------------

def _tail_of_stream(argv, timeout):
    """Run ARGV, read its whole stdout keeping the last bytes: (rc, tail, stderr)."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + timeout
    tail = b''
    while True:
        block = proc.stdout.read(1 << 20)
        if not block:
            break
        tail = (tail + block)[-TAIL_BYTES:]
        if time.time() > deadline:
            proc.kill()
            proc.wait()
            return None, tail, 'timed out after %ds' % timeout
    err = proc.stderr.read().decode('utf-8', 'replace').strip()
    return proc.wait(), tail, err


def _first_line(text):
    lines = (text or '').strip().splitlines()
    return lines[-1][:300] if lines else ''


def check_sql_dump(path, timeout, get_bin_path):
    """A mariadb-dump file (.sql, .sql.gz, .sql.zst): the compressed stream reads to
    its end without error and the dump ends with mariadb-dump's trailer."""
    if path.endswith('.zst'):
        zstd = get_bin_path('zstd')
        if not zstd:
            return 'error', 'tool_missing', 'zstd is not installed on this host'
        rc, tail, err = _tail_of_stream([zstd, '-dcq', path], timeout)
        if rc != 0:
            return 'critical', 'corrupt', 'zstd cannot read %s: %s' % (
                os.path.basename(path), _first_line(err) or 'exit status %s' % rc)
    elif path.endswith('.gz'):
        tail = b''
        try:
            with gzip.open(path, 'rb') as handle:
                for block in iter(lambda: handle.read(1 << 20), b''):
                    tail = (tail + block)[-TAIL_BYTES:]
        except (OSError, EOFError, ValueError) as exc:
            return 'critical', 'corrupt', 'gzip cannot read %s: %s' % (os.path.basename(path), exc)
    else:
        with open(path, 'rb') as handle:
            handle.seek(max(0, os.path.getsize(path) - TAIL_BYTES))
            tail = handle.read()
    if DUMP_TRAILER not in tail:
        return 'critical', 'truncated', '%s does not end with "%s": the dump stopped before its end' % (
            os.path.basename(path), DUMP_TRAILER.decode())
    return 'ok', None, 'the dump reads to its end and is complete'


def check_pg_archive(path, timeout, run_command, get_bin_path):
    """pg_dump custom or directory format: pg_restore lists the table of contents,
    then reads every data block of the archive (into /dev/null)."""
    pg_restore = get_bin_path('pg_restore')
    if not pg_restore:
        return 'error', 'tool_missing', 'pg_restore (PostgreSQL client) is not installed on this host'
    rc, out, err = run_command([pg_restore, '--list', path])
    if rc != 0:
        return 'critical', 'corrupt', 'pg_restore --list: %s' % (_first_line(err) or 'exit status %d' % rc)
    entries = sum(1 for line in out.splitlines() if line and not line.startswith(';'))
    data = sum(1 for line in out.splitlines() if ' TABLE DATA ' in line)
    rc, _out, err = run_command(['timeout', str(timeout), pg_restore, '--file', '/dev/null', path])
    if rc != 0:
        truncated = re.search(r'end of file|unexpected end|could not read', err or '')
        reason = 'truncated' if truncated else 'corrupt'
        return 'critical', reason, 'pg_restore could not read the whole archive: %s' % (
            _first_line(err) or 'exit status %d' % rc)
    return 'ok', None, 'pg_restore reads the whole archive: %d entries, %d with table data' % (entries, data)


def check_basebackup(path, timeout, run_command, get_bin_path):
    if os.path.isfile(os.path.join(path, 'backup_manifest')):
        verify = get_bin_path('pg_verifybackup') or next(
            (p for p in sorted(_glob_bins('pg_verifybackup'), reverse=True)), None)
        if not verify:
            return 'error', 'tool_missing', 'pg_verifybackup is not installed on this host'
        rc, _out, err = run_command(['timeout', str(timeout), verify, '--no-parse-wal', path])
        if rc != 0:
            return 'critical', 'corrupt', 'pg_verifybackup: %s' % (_first_line(err) or 'exit status %d' % rc)
        return 'ok', None, 'pg_verifybackup checked every file against backup_manifest'
    for name in ('base.tar.gz', 'base.tar'):
        tar = os.path.join(path, name)
        if os.path.isfile(tar):
            if name.endswith('.gz'):
                try:
                    with gzip.open(tar, 'rb') as handle:
                        for _block in iter(lambda: handle.read(1 << 20), b''):
                            pass
                except (OSError, EOFError) as exc:
                    return 'critical', 'corrupt', 'gzip cannot read %s: %s' % (name, exc)
            return 'ok', None, '%s reads to its end (no backup_manifest to verify against)' % name
    if os.path.isfile(os.path.join(path, 'backup_label')):
        return 'ok', None, 'backup_label present (no backup_manifest to verify against)'
    return 'critical', 'corrupt', 'neither backup_manifest, base.tar(.gz) nor backup_label in %s' % path


def _glob_bins(name):
    base = '/usr/lib/postgresql'
    try:
        versions = os.listdir(base)
    except OSError:
        return []
    return [os.path.join(base, v, 'bin', name) for v in versions
            if os.path.isfile(os.path.join(base, v, 'bin', name))]


def read_checkpoints(path):
    """mariabackup's xtrabackup_checkpoints as a dict (None when missing)."""
    target = os.path.join(path, 'xtrabackup_checkpoints')
    if not os.path.isfile(target):
        return None
    values = {}
    with open(target, 'r') as handle:
        for line in handle:
            key, sep, value = line.partition('=')
            if sep:
                values[key.strip()] = value.strip()
    return values


def check_mariabackup(path):
    values = read_checkpoints(path)
    if values is None:
        return 'critical', 'truncated', 'no xtrabackup_checkpoints in %s: the backup did not finish' % (
            os.path.basename(path))
    kind = values.get('backup_type')
    if kind not in ('full-backuped', 'full-prepared', 'incremental', 'log-applied'):
        return 'critical', 'corrupt', 'xtrabackup_checkpoints: unexpected backup_type %r' % kind
    try:
        from_lsn, to_lsn = int(values.get('from_lsn')), int(values.get('to_lsn'))
    except (TypeError, ValueError):
        return 'critical', 'corrupt', 'xtrabackup_checkpoints: from_lsn/to_lsn are not numbers'
    if to_lsn < from_lsn or (kind.startswith('full') and from_lsn != 0):
        return 'critical', 'corrupt', 'xtrabackup_checkpoints: inconsistent LSNs (from %d, to %d)' % (
            from_lsn, to_lsn)
    if not any(n.startswith('ibdata') for n in os.listdir(path)):
        return 'critical', 'corrupt', 'no InnoDB system tablespace (ibdata*) in the backup'
    return 'ok', None, 'xtrabackup_checkpoints: %s, LSN %d to %d' % (kind, from_lsn, to_lsn)


def check_structure(spec, backup, run_command, get_bin_path):
    fmt, path, timeout = spec['format'], backup['path'], spec['verify_timeout']
    if fmt == 'sqlserver_bak':
        return 'skipped', 'unverified', 'SQL Server backups are not verified here (RESTORE VERIFYONLY ' \
                                        'needs the SQL Server instance)'
    if not spec['verify']:
        return 'skipped', 'not_configured', 'structural verification is switched off for this set'
    if fmt in ('pg_dump_custom', 'pg_dump_directory'):
        return check_pg_archive(path, timeout, run_command, get_bin_path)
    if fmt == 'pg_basebackup':
        return check_basebackup(path, timeout, run_command, get_bin_path)
    if fmt == 'mariadb_dump':
        return check_sql_dump(path, timeout, get_bin_path)
    return check_mariabackup(path)


# ---------------------------------------------------------------------------
# the job's own report
# ---------------------------------------------------------------------------

def check_job(spec, newest, now):
    """(status, reason, value, detail) of the job's last-run.json."""
    path = spec['last_run']
    try:
        with open(path, 'r') as handle:
            report = json.load(handle)
    except (IOError, OSError):
        return 'warning', 'no_job_report', None, 'no job report at %s' % path
    except ValueError as exc:
        return 'error', 'bad_job_report', None, '%s is not JSON: %s' % (path, exc)
    if not isinstance(report, dict) or 'exit_status' not in report:
        return 'error', 'bad_job_report', None, '%s: expected a mapping with exit_status' % path
    status = report.get('exit_status')
    per_db = (report.get('databases') or {}).get(spec['database']) if isinstance(
        report.get('databases'), dict) else None
    if isinstance(per_db, dict) and per_db.get('status') not in (None, 'ok'):
        return 'critical', 'job_failed', status, 'the last run failed for %s: %s' % (
            spec['database'], str(per_db.get('error') or per_db.get('status'))[:300])
    if status != 0:
        return 'critical', 'job_failed', status, 'the last run exited %r: %s' % (
            status, str(report.get('error') or 'see the job log')[:300])
    return 'ok', None, status, 'the last run (ended %s) exited 0' % report.get('ended')


# ---------------------------------------------------------------------------
# one set
# ---------------------------------------------------------------------------

def _iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def check_set(spec, system, run_command, get_bin_path, now=None):
    """The backup_check record of one set."""
    now = time.time() if now is None else now
    name = spec['name']
    prefix = 'backup:%s:' % name
    items = []
    common = {'set': name, 'database': spec['database'], 'format': spec['format']}
    if not os.path.isdir(spec['directory']):
        items.append(make_item(prefix + 'age', None, 'critical', 'The backup directory %s does not exist'
                               % spec['directory'], reason='no_directory', path=spec['directory'], **common))
        return make_record('backup_check', system, items, {'backups': 0}, verified=False, **common)
    backups = find_backups(spec)
    if not backups:
        items.append(make_item(prefix + 'age', None, 'critical', 'No backup matching %s in %s' % (
            spec['pattern'], spec['directory']), reason='no_backup', path=spec['directory'], **common))
        if spec['last_run']:
            items.append(_job_item(spec, prefix, None, now, common))
        return make_record('backup_check', system, items, {'backups': 0}, verified=False, **common)
    newest = backups[-1]
    started = time.time()

    # age against the RPO
    age_h = round(max(0.0, now - newest['mtime']) / 3600.0, 2)
    rpo = spec['rpo_hours']
    status = 'critical' if age_h > rpo else 'ok'
    items.append(make_item(
        prefix + 'age', age_h, status,
        'Newest backup %s is %g h old (RPO %g h)' % (newest['name'], age_h, rpo),
        unit='h', threshold={'critical': rpo}, reason='too_old' if status != 'ok' else None,
        backup=newest['name'], taken=_iso(newest['mtime']), **common))

    # size against the history
    history = [b['size'] for b in backups[:-1]][-spec['size_history']:]
    size_mib = round(newest['size'] / 1048576.0, 3)
    med = median(history)
    if newest['size'] == 0:
        items.append(make_item(prefix + 'size', size_mib, 'critical', 'Newest backup %s is empty'
                               % newest['name'], unit='MiB', reason='empty', bytes=0, **common))
    elif len(history) < spec['min_history'] or not med:
        items.append(make_item(
            prefix + 'size', size_mib, 'skipped', 'Newest backup is %d bytes; %d earlier backups, %d needed '
            'to compare against' % (newest['size'], len(history), spec['min_history']), unit='MiB',
            reason='short_history', bytes=newest['size'], history=len(history), **common))
    else:
        drop = round(100.0 * (1.0 - newest['size'] / med), 1)
        status = 'critical' if drop > spec['size_drop_percent'] else 'ok'
        text = 'Newest backup is %d bytes, %s%g %% against the median of the previous %d (%d bytes)' % (
            newest['size'], '-' if drop >= 0 else '+', abs(drop), len(history), med)
        items.append(make_item(
            prefix + 'size', size_mib, status, text,
            unit='MiB', threshold={'critical': spec['size_drop_percent']},
            reason='size_drop' if status != 'ok' else None, bytes=newest['size'], median_bytes=int(med),
            drop_percent=drop, history=len(history), **common))

    # checksum against the manifest
    try:
        status, reason, detail, files = check_manifest(newest, spec['directory'])
    except (IOError, OSError) as exc:
        status, reason, detail, files = 'error', 'unreadable', 'cannot read: %s' % exc, 0
    items.append(make_item(prefix + 'checksum', 'match' if status == 'ok' else (
        'missing' if reason == 'no_manifest' else 'mismatch' if status == 'critical' else None),
        status, detail, reason=reason, files=files or None, **common))

    # structure
    try:
        status, reason, detail = check_structure(spec, newest, run_command, get_bin_path)
    except (IOError, OSError) as exc:
        status, reason, detail = 'error', 'unreadable', 'cannot read the backup: %s' % exc
    value = {'ok': 'valid', 'critical': 'damaged', 'skipped': 'not_verified'}.get(status)
    items.append(make_item(prefix + 'structure', value, status, detail, reason=reason, **common))

    # retention
    count = len(backups)
    oldest_days = round(max(0.0, now - backups[0]['mtime']) / 86400.0, 2)
    status, reason = 'ok', None
    if count < spec['retention_min']:
        status, reason = 'warning', 'retention_short'
    elif spec['retention_max'] and count > spec['retention_max']:
        status, reason = 'warning', 'retention_exceeded'
    threshold = dict((k, v) for k, v in (('min', spec['retention_min']), ('max', spec['retention_max'])) if v)
    items.append(make_item(prefix + 'retention', count, status,
                           '%d backups kept, the oldest %g days old (%s)'
                           % (count, oldest_days, backups[0]['name']),
                           unit='backups',
                           threshold=threshold or None, reason=reason, oldest=backups[0]['name'],
                           oldest_days=oldest_days, **common))

    if spec['last_run']:
        items.append(_job_item(spec, prefix, newest, now, common))
    metrics = {'backups': count, 'newest': newest['name'], 'newest_time': _iso(newest['mtime']),
               'newest_bytes': newest['size'], 'oldest': backups[0]['name'],
               'history_bytes': history, 'check_ms': round((time.time() - started) * 1000.0, 1)}
    verified = spec['format'] != 'sqlserver_bak' and spec['verify']
    return make_record('backup_check', system, items, metrics, verified=verified, newest=newest['name'],
                       **common)


def _job_item(spec, prefix, newest, now, common):
    try:
        status, reason, value, detail = check_job(spec, newest, now)
    except (IOError, OSError) as exc:
        status, reason, value, detail = 'error', 'unreadable', None, 'cannot read: %s' % exc
    return make_item(prefix + 'job', value, status, detail, reason=reason, path=spec['last_run'], **common)


def check_sets(sets, system, run_command, get_bin_path, now=None):
    """One backup_check record per set."""
    records = []
    for spec in sets:
        records.append(check_set(spec, system, run_command, get_bin_path, now))
    return records
