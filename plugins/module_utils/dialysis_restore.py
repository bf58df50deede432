# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The restore drill of one backup set (contract clause R3; README, "Restore drills").

Restores the newest (or a named) backup of a set into a scratch database on the same
server - never into a production name - and proves it:

* integrity: amcheck ``bt_index_check(index, heapallindexed => true)`` on every valid
  B-tree index (PostgreSQL), ``CHECK TABLE`` of every table (MariaDB);
* completeness: ``count(*)`` of the tables against the counts the backup job recorded
  beside the backup (``<db>-<stamp>.counts.json``), and the newest timestamp of the
  configured table: the data's real age, the RPO actually achieved;
* usability: the configured smoke queries answer on the restored copy;
* the measured RTO (restore and checks, wall time) against the set's target.

The scratch database is dropped whatever happened (``finally``); scratch databases left
by a drill that was killed are found by their prefix and dropped first. Free disk is
checked before anything is restored. A drill that could not run to its end is recorded
as ``not_done``, ``timed_out`` or ``failed`` - never as a success. Progress (phase and
elapsed time) is written to a small JSON file the role prints while it waits.

Administration as the engines' local administrators: PostgreSQL as the ``postgres``
OS user (peer authentication, no password), MariaDB as root over its socket
(``unix_socket``). No password passes. Standard library only, Python 3.8 and later.
"""

from __future__ import absolute_import, division, print_function

import datetime
import gzip
import json
import os
import re
import subprocess
import time

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_backup import find_backups
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import (
    make_item,
    make_record,
    worst,
)

__metaclass__ = type

ENGINE_OF = {'pg_dump_custom': 'postgresql', 'pg_dump_directory': 'postgresql', 'mariadb_dump': 'mariadb'}
# Restored size / backup size, to estimate the disk a restore needs (compressed dumps grow).
DISK_FACTOR = {'.dump': 6.0, '.zst': 10.0, '.gz': 8.0, '.sql': 1.5, '': 4.0}
DEFAULT_PREFIX = 'dialysis_drill_'
_SAFE = re.compile(r'^[a-z][a-z0-9_]{0,62}$')
SMOKE_EXPECT = ('answer', 'rows', 'value')


class DrillStop(Exception):
    """The drill cannot go on: ``outcome`` (failed, not_done, timed_out) and the reason code."""

    def __init__(self, outcome, reason, detail):
        Exception.__init__(self, detail)
        self.outcome = outcome
        self.reason = reason


def scratch_name(prefix, database, now=None):
    stamp = time.strftime('%Y%m%d%H%M%S', time.gmtime(now))
    base = re.sub(r'[^a-z0-9_]', '_', database.lower())
    return (prefix + base)[: 63 - len(stamp) - 1] + '_' + stamp


def refusal(target, prefix, production):
    """(reason code, sentence) when TARGET may not receive a drill's restore, else None."""
    if target in production:
        return 'production_target', (
            '%s is a production database on this server; a restore drill restores into a scratch '
            'database (%s...) only, and never overwrites a production database' % (target, prefix)
        )
    if not _SAFE.match(target or ''):
        return 'bad_target', (
            '%r is not a scratch database name (lower-case letters, digits and "_", '
            'at most 63 characters)' % (target,)
        )
    if not target.startswith(prefix):
        return 'not_scratch', (
            '%s does not start with the scratch prefix %s: a drill only restores into '
            'databases it can recognise and remove afterwards' % (target, prefix)
        )
    return None


class Engine(object):
    """Local administration of one engine through its command-line clients."""

    def __init__(self, engine, run_command, get_bin_path, os_user='postgres'):
        self.engine = engine
        self.run_command = run_command
        self.get_bin_path = get_bin_path
        self.os_user = os_user

    # -- plumbing ------------------------------------------------------------------
    def _pg(self, tool, *args):
        binary = self.get_bin_path(tool)
        if not binary:
            raise DrillStop('not_done', 'tool_missing', '%s (PostgreSQL client) is not installed' % tool)
        runuser = self.get_bin_path('runuser') or '/usr/sbin/runuser'
        return [runuser, '-u', self.os_user, '--', binary] + list(args)

    def _my(self, *args):
        binary = self.get_bin_path('mariadb') or self.get_bin_path('mysql')
        if not binary:
            raise DrillStop('not_done', 'tool_missing', 'the mariadb client is not installed')
        return [binary, '--batch', '--skip-column-names', '--raw'] + list(args)

    def sql(self, database, query, check=True):
        """Rows of QUERY in DATABASE (lists of text, None for NULL); DrillStop when it fails
        and CHECK, else (rc, stderr) in place of the rows."""
        if self.engine == 'postgresql':
            argv = self._pg(
                'psql',
                '-X',
                '-q',
                '-A',
                '-t',
                '-F',
                '\x1f',
                '-v',
                'ON_ERROR_STOP=1',
                '-d',
                database,
                '-c',
                query,
            )
            sep, null = '\x1f', ''
        else:
            argv = self._my('-D', database, '-e', query) if database else self._my('-e', query)
            sep, null = '\t', 'NULL'
        rc, out, err = self.run_command(argv, cwd='/')
        if rc != 0:
            if not check:
                return rc, (err or out or '').strip()
            raise DrillStop('failed', 'query_failed', '%s: %s' % (query[:80], _last_line(err or out)))
        rows = [[None if c == null else c for c in line.split(sep)] for line in out.splitlines() if line]
        return rows if check else (0, rows)

    def quote(self, name):
        return (
            '"%s"' % name.replace('"', '""')
            if self.engine == 'postgresql'
            else '`%s`' % name.replace('`', '``')
        )

    def literal(self, text):
        return "'%s'" % text.replace('\\', '\\\\').replace("'", "''")

    # -- databases -----------------------------------------------------------------
    def admin_db(self):
        return 'postgres' if self.engine == 'postgresql' else ''

    def databases(self):
        if self.engine == 'postgresql':
            return [r[0] for r in self.sql('postgres', 'SELECT datname FROM pg_database')]
        return [r[0] for r in self.sql('', 'SHOW DATABASES')]

    def create(self, name):
        if self.engine == 'postgresql':
            self.sql('postgres', 'CREATE DATABASE %s TEMPLATE template0' % self.quote(name))
        else:
            self.sql('', 'CREATE DATABASE %s' % self.quote(name))

    def drop(self, name):
        if self.engine == 'postgresql':
            self.sql('postgres', 'DROP DATABASE IF EXISTS %s WITH (FORCE)' % self.quote(name))
        else:
            self.sql('', 'DROP DATABASE IF EXISTS %s' % self.quote(name))

    def data_directory(self):
        if self.engine == 'postgresql':
            return self.sql('postgres', 'SHOW data_directory')[0][0]
        return self.sql('', 'SELECT @@datadir')[0][0]

    # -- restore -------------------------------------------------------------------
    def restore(self, path, target, source_db, timeout, jobs):
        """Restore the backup at PATH into TARGET (created empty beforehand); facts of the
        restore for the record (MariaDB: the database lines rewritten)."""
        if self.engine == 'postgresql':
            argv = ['timeout', str(int(timeout))] + self._pg(
                'pg_restore', '--no-owner', '--no-acl', '--jobs', str(jobs), '--dbname', target, path
            )
            rc, _out, err = self.run_command(argv, cwd='/')
            if rc == 124:
                raise DrillStop('timed_out', 'timed_out', 'pg_restore did not finish within the time budget')
            if rc != 0:
                raise DrillStop(
                    'failed', 'restore_failed', 'pg_restore exited %d: %s' % (rc, _last_line(err))
                )
            return {}
        return self._restore_mariadb(path, target, source_db, timeout)

    def _restore_mariadb(self, path, target, source_db, timeout):
        """mariadb-dump --databases files name their database: as the dump streams from
        zstd (or the file) into the client, DumpFilter drops its CREATE DATABASE lines and
        points every USE line at the scratch database - so nothing of it can land in the
        production database. The stream moves in blocks of 1 MiB, not line by line."""
        deadline = time.time() + timeout
        client = subprocess.Popen(
            self._my('-D', target),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd='/',
        )
        reader, source = None, None
        dump_filter = DumpFilter(self.quote(target))
        try:
            if path.endswith('.zst'):
                zstd = self.get_bin_path('zstd')
                if not zstd:
                    raise DrillStop('not_done', 'tool_missing', 'zstd is not installed')
                reader = subprocess.Popen(
                    [zstd, '-dcq', path], stdout=subprocess.PIPE, stderr=subprocess.PIPE
                )
                source = reader.stdout
            elif path.endswith('.gz'):
                source = gzip.open(path, 'rb')
            else:
                source = open(path, 'rb')
            broken = False
            while not broken:
                block = source.read(BLOCK)
                out = dump_filter.feed(block) if block else dump_filter.close()
                try:
                    client.stdin.write(out)
                except (IOError, OSError):
                    broken = True  # the client stopped: its exit code and message say why
                if not block:
                    break
                if time.time() > deadline:
                    raise DrillStop(
                        'timed_out', 'timed_out', 'the restore did not finish within the time budget'
                    )
            try:
                client.stdin.close()
            except (IOError, OSError):
                pass
            err = client.stderr.read().decode('utf-8', 'replace')
            rc = client.wait()
            if broken and reader is not None:
                reader.stdout.close()  # zstd, blocked on a full pipe nobody reads, then stops
            if reader is not None and reader.wait() != 0 and not broken:
                raise DrillStop(
                    'failed',
                    'restore_failed',
                    'zstd could not read %s: %s'
                    % (os.path.basename(path), _last_line(reader.stderr.read().decode('utf-8', 'replace'))),
                )
            if rc != 0:
                raise DrillStop('failed', 'restore_failed', 'mariadb exited %d: %s' % (rc, _last_line(err)))
            dump_filter.verify()
            return {'use_lines': dump_filter.used, 'create_database_lines': dump_filter.dropped}
        finally:
            for proc in (client, reader):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.wait()
            if source is not None and reader is None:
                source.close()

    # -- proofs --------------------------------------------------------------------
    def integrity(self, target):
        """(objects checked, [(object, error)])."""
        if self.engine == 'postgresql':
            self.sql(target, 'CREATE EXTENSION IF NOT EXISTS amcheck')
            rows = self.sql(target, AMCHECK_SQL)
            return len(rows), [(r[0], r[1]) for r in rows if r[1]]
        tables = [
            r[0]
            for r in self.sql(
                target,
                'SELECT table_name FROM information_schema.tables WHERE '
                "table_schema = DATABASE() AND table_type = 'BASE TABLE'",
            )
        ]
        if not tables:
            return 0, []
        rows = self.sql(target, 'CHECK TABLE %s' % ', '.join(self.quote(t) for t in tables))
        failures = {}
        for row in rows:
            table, msg_type, text = row[0], (row[2] or '').lower(), row[3] if len(row) > 3 else ''
            if msg_type == 'error' or (msg_type == 'status' and (text or '').upper() != 'OK'):
                failures.setdefault(table, text)
        return len(tables), sorted(failures.items())

    def counts(self, target, tables):
        if not tables:
            return {}
        union = ' UNION ALL '.join(
            'SELECT %s, count(*) FROM %s' % (self.literal(t), self.quote(t)) for t in tables
        )
        return dict((r[0], int(r[1])) for r in self.sql(target, union))

    def newest_epoch(self, target, table, column):
        if self.engine == 'postgresql':
            query = 'SELECT extract(epoch FROM max(%s))::float8 FROM %s' % (
                self.quote(column),
                self.quote(table),
            )
        else:
            query = "SET time_zone = '+00:00'; SELECT UNIX_TIMESTAMP(max(%s)) FROM %s" % (
                self.quote(column),
                self.quote(table),
            )
        rows = self.sql(target, query)
        value = rows[0][0] if rows and rows[0] else None
        return float(value) if value not in (None, '') else None


# Bytes moved per read of a MariaDB dump on its way to the client.
BLOCK = 1 << 20
# Lines of a dump that name a database: CREATE DATABASE (dropped) and USE (pointed at the
# scratch database), in any letter case, at the start of a line.
_DB_LINE = re.compile(br'^(?:create\s+(?:database|schema)\b|use\b)[^\n]*\n', re.I | re.M)
_DB_FIRST = (b'c', b'C', b'u', b'U')
_DB_HINTS = (b'\nc', b'\nC', b'\nu', b'\nU')


class DumpFilter(object):
    """Rewrites a mariadb-dump stream block by block so that it restores into one scratch
    database: every CREATE DATABASE line is dropped and every USE line becomes ``USE
    <scratch>;``. Blocks are cut at their last newline (the rest waits for the next block),
    so a database line split across two reads is still seen whole. A block with no line
    that could name a database (most of them: the INSERTs) passes as it is."""

    def __init__(self, quoted_target):
        self.use = b'USE ' + quoted_target.encode('utf-8') + b';\n'
        self.carry = b''
        self.used, self.dropped, self.bytes = 0, 0, 0

    def _rewrite(self, match):
        if match.group(0)[:1] in (b'c', b'C'):
            self.dropped += 1
            return b''
        self.used += 1
        return self.use

    def _lines(self, data):
        # data starts at the start of a line; only lines starting with c or u can name a
        # database (an INSERT is one line: mariadb-dump escapes the newlines in values).
        self.bytes += len(data)
        if data[:1] not in _DB_FIRST and not any(h in data for h in _DB_HINTS):
            return data
        return _DB_LINE.sub(self._rewrite, data)

    def feed(self, block):
        data = self.carry + block
        cut = data.rfind(b'\n') + 1
        self.carry = data[cut:]
        return self._lines(data[:cut]) if cut else b''

    def close(self):
        data, self.carry = self.carry, b''
        return self._lines(data + b'\n') if data else b''

    def verify(self):
        """After the restore: a dump that created its database must have switched to it with
        a USE line, and that line was pointed at the scratch database; anything else is a
        dump this drill does not understand (and it says so rather than pass)."""
        if self.dropped and not self.used:
            raise DrillStop(
                'failed',
                'restore_failed',
                'the dump creates a database but has no USE line to point at the scratch database',
            )


# One row per valid B-tree index of the restored database: its name and the error
# bt_index_check(heapallindexed) raised, or null. A damaged page raises an error,
# which the loop catches so every index is checked.
AMCHECK_SQL = r"""
CREATE FUNCTION pg_temp.dialysis_drill_amcheck() RETURNS TABLE (index_name text, failure text)
LANGUAGE plpgsql AS $f$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.oid, c.oid::regclass::text AS name
             FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE a.amname = 'btree' AND i.indisvalid AND i.indisready AND c.relpersistence <> 't'
              AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_toast'
            ORDER BY 2
  LOOP
    BEGIN
      PERFORM bt_index_check(r.oid, true);
      index_name := r.name; failure := NULL; RETURN NEXT;
    EXCEPTION WHEN OTHERS THEN
      index_name := r.name; failure := SQLERRM; RETURN NEXT;
    END;
  END LOOP;
END $f$;
SELECT * FROM pg_temp.dialysis_drill_amcheck();
"""


def _last_line(text):
    lines = [line for line in (text or '').strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else 'no message'


def counts_file(backup_path, database):
    """The job's counts beside a backup: <db>-<stamp>.counts.json for <db>-<stamp>.<ext>."""
    name = os.path.basename(backup_path)
    stem = name.split('.', 1)[0]
    return os.path.join(os.path.dirname(backup_path), stem + '.counts.json')


class Progress(object):
    """The drill's phase and elapsed time in a small JSON file the role prints."""

    def __init__(self, path, drill_id, set_name, started):
        self.path, self.drill_id, self.set_name, self.started = path, drill_id, set_name, started
        self.phase = None

    def __call__(self, phase, **extra):
        self.phase = phase
        if not self.path:
            return
        data = dict(
            extra,
            drill_id=self.drill_id,
            set=self.set_name,
            phase=phase,
            pid=os.getpid(),
            started=self.started,
            elapsed=round(time.time() - self.started, 1),
            time=datetime.datetime.now(datetime.timezone.utc).isoformat(),
        )
        try:
            directory = os.path.dirname(self.path)
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o755)
            tmp = self.path + '.tmp'
            with open(tmp, 'w') as handle:
                json.dump(data, handle)
            os.rename(tmp, self.path)
        except (IOError, OSError):
            pass  # progress is a courtesy; the drill goes on


def _read_json(path):
    try:
        with open(path, 'r') as handle:
            return json.load(handle)
    except (IOError, OSError, ValueError):
        return None


def wait_for_job(results_file, progress_file, seconds, step=0.2):
    """On the host: wait up to SECONDS for the background drill (its async job's results
    file) to finish, looking every STEP seconds, so the role learns of the end within a
    fraction of a second instead of up to a whole poll interval later, in one round trip.
    (finished, progress): finished is True or False, or None when the results file could
    not be read (async_status then decides); progress is the drill's progress file, or {}."""
    deadline = time.time() + max(0.0, float(seconds))
    while True:
        data = _read_json(results_file) if results_file else None
        finished = None
        if isinstance(data, dict):
            finished = 'started' not in data or bool(data.get('finished'))
        if finished or time.time() >= deadline:
            break
        time.sleep(step)
    progress = _read_json(progress_file) if progress_file else None
    progress = progress if isinstance(progress, dict) else {}
    if not finished and isinstance(progress.get('started'), (int, float)):
        # The file is written at each change of phase; the time spent is counted up to now.
        progress['elapsed'] = round(time.time() - progress['started'], 1)
    return finished, progress


def drop_leftovers(engine, prefix, keep=()):
    """Drop the scratch databases of earlier drills (killed before their cleanup)."""
    dropped = []
    for name in engine.databases():
        if name.startswith(prefix) and name not in keep:
            engine.drop(name)
            dropped.append(name)
    return dropped


def run_drill(params, engine_factory, now=None, check_mode=False):
    """The restore_drill record of one set, and whether it changed anything.

    params: set (validated backup set), backup (name or None), target (or None), prefix,
    production [names], rto_minutes, budget_seconds, jobs, hold_seconds, disk_factor,
    progress_file, drill_id, system, ticket, smoke, tables, newest."""
    started = time.time() if now is None else now
    spec = params['set']
    name, database = spec['name'], spec['database']
    prefix = params.get('prefix') or DEFAULT_PREFIX
    pid = 'drill:%s:' % name
    items, facts = [], {'set': name, 'database': database, 'format': spec['format']}
    state = {}
    progress = Progress(params.get('progress_file'), params.get('drill_id'), name, started)
    outcome, changed, scratch, created = 'ok', False, None, False
    measured = {}

    def record():
        # Success only when the drill ran to its end and nothing critical was found.
        status = worst(i['status'] for i in items)
        final = 'failed' if outcome == 'ok' and status in ('critical', 'error') else outcome
        return make_record(
            'restore_drill',
            params.get('system') or 'shared',
            items,
            measured,
            outcome=final,
            scratch=scratch,
            backup=state.get('backup'),
            rto_seconds=measured.get('rto_seconds'),
            rpo_hours=measured.get('rpo_hours'),
            ticket=params.get('ticket') or None,
            check_mode=check_mode or None,
            reason=state.get('reason'),
            **facts,
        )

    # 1. what to restore, and where (refused before anything is touched)
    engine_name = ENGINE_OF.get(spec['format'])
    if engine_name is None:
        items.append(
            make_item(
                pid + 'restore',
                None,
                'critical',
                'Sets of format %s are not drilled here (a '
                'physical backup needs a scratch instance)' % spec['format'],
                reason='unsupported_format',
                **facts,
            )
        )
        outcome = 'not_done'
        return record(), False
    production = set(params.get('production') or ()) | {database}
    for db in production:
        if db.startswith(prefix):
            items.append(
                make_item(
                    pid + 'target',
                    db,
                    'critical',
                    'The production database %s starts with the '
                    'scratch prefix %s: leftovers could not be told apart; choose another '
                    'prefix' % (db, prefix),
                    reason='prefix_clash',
                    **facts,
                )
            )
            outcome = 'refused'
            return record(), False
    scratch = params.get('target') or scratch_name(prefix, database, started)
    refused = refusal(scratch, prefix, production)
    if refused:
        state['reason'] = refused[1]
        items.append(make_item(pid + 'target', scratch, 'critical', refused[1], reason=refused[0], **facts))
        outcome = 'refused'
        return record(), False
    backups = find_backups(spec) if os.path.isdir(spec['directory']) else []
    if params.get('backup'):
        backups = [b for b in backups if b['name'] == params['backup']]
    if not backups:
        items.append(
            make_item(
                pid + 'restore',
                None,
                'critical',
                'No backup %s in %s'
                % (params.get('backup') or 'matching %s' % spec['pattern'], spec['directory']),
                reason='no_backup',
                **facts,
            )
        )
        outcome = 'not_done'
        return record(), False
    backup = backups[-1]
    state['backup'] = backup['name']
    items.append(
        make_item(
            pid + 'target',
            scratch,
            'ok',
            'Restore %s into the scratch database %s' % (backup['name'], scratch),
            backup=backup['name'],
            **facts,
        )
    )
    engine = engine_factory(engine_name)
    budget = float(params.get('budget_seconds') or 3600)
    deadline = started + budget

    def remaining():
        left = deadline - time.time()
        if left <= 0:
            raise DrillStop('timed_out', 'timed_out', 'the drill used its time budget of %g s' % budget)
        return left

    try:
        # 2. leftovers of killed drills, then free disk
        progress('prepare', scratch=scratch, backup=backup['name'])
        existing = engine.databases()
        leftovers = sorted(d for d in existing if d.startswith(prefix))
        if check_mode:
            items.append(
                make_item(
                    pid + 'leftovers',
                    len(leftovers),
                    'ok',
                    'Would remove %d scratch databases left by earlier drills' % len(leftovers),
                    unit='databases',
                    names=leftovers or None,
                    **facts,
                )
            )
        else:
            dropped = drop_leftovers(engine, prefix)
            changed = changed or bool(dropped)
            items.append(
                make_item(
                    pid + 'leftovers',
                    len(dropped),
                    'ok',
                    'Removed %d scratch databases left by earlier drills' % len(dropped),
                    unit='databases',
                    names=dropped or None,
                    **facts,
                )
            )
        ext = os.path.splitext(backup['path'])[1] if not os.path.isdir(backup['path']) else ''
        factor = float(params.get('disk_factor') or DISK_FACTOR.get(ext, DISK_FACTOR['']))
        need = int(backup['size'] * factor)
        datadir = engine.data_directory()
        stat = os.statvfs(datadir)
        free = stat.f_bavail * stat.f_frsize
        ok = free > need
        items.append(
            make_item(
                pid + 'disk',
                round(free / 1048576.0, 1),
                'ok' if ok else 'critical',
                '%d MiB free under %s; the restore needs about %d MiB (%g x the backup)'
                % (free // 1048576, datadir, need // 1048576, factor),
                unit='MiB',
                reason=None if ok else 'no_space',
                need_mib=round(need / 1048576.0, 1),
                **facts,
            )
        )
        if not ok:
            raise DrillStop('not_done', 'no_space', 'not enough free disk for the restore')
        if check_mode:
            outcome = 'not_done'
            state['reason'] = 'check mode: nothing was restored'
            items.append(
                make_item(
                    pid + 'restore',
                    None,
                    'skipped',
                    'Check mode: nothing was restored',
                    reason='check_mode',
                    **facts,
                )
            )
            return record(), False

        # 3. restore
        progress('restore', scratch=scratch, backup=backup['name'])
        restore_started = time.time()
        engine.create(scratch)
        # The scratch database is dropped again below: the net state does not change.
        created = True
        jobs = int(params.get('jobs') or 2)
        rewritten = engine.restore(backup['path'], scratch, database, remaining(), jobs) or {}
        restore_s = round(time.time() - restore_started, 1)
        how = (
            ' (pg_restore --jobs %d)' % jobs
            if engine_name == 'postgresql'
            else ' (%d USE lines pointed at %s, %d CREATE DATABASE lines dropped)'
            % (rewritten.get('use_lines', 0), scratch, rewritten.get('create_database_lines', 0))
            if rewritten
            else ''
        )
        items.append(
            make_item(
                pid + 'restore',
                restore_s,
                'ok',
                'Restored %s (%d bytes) into %s in %g s%s'
                % (backup['name'], backup['size'], scratch, restore_s, how),
                unit='s',
                **dict(facts, **rewritten)
            )
        )
        measured['restore_seconds'] = restore_s
        hold = float(params.get('hold_seconds') or 0)
        if hold > 0:
            progress('hold', scratch=scratch, hold_seconds=hold)
            time.sleep(min(hold, remaining()))
        checks_started = time.time()

        # 4. integrity
        progress('integrity', scratch=scratch)
        checked, failures = engine.integrity(scratch)
        what = (
            'B-tree indexes (amcheck bt_index_check, heapallindexed)'
            if engine_name == 'postgresql'
            else 'tables (CHECK TABLE)'
        )
        if failures:
            items.append(
                make_item(
                    pid + 'integrity',
                    len(failures),
                    'critical',
                    '%d of %d %s failed: %s'
                    % (len(failures), checked, what, '; '.join('%s: %s' % f for f in failures[:3])[:600]),
                    unit='objects',
                    reason='integrity_failed',
                    checked=checked,
                    failed_objects=[f[0] for f in failures][:20],
                    **facts,
                )
            )
        else:
            items.append(
                make_item(
                    pid + 'integrity',
                    0,
                    'ok',
                    '%d %s checked, none failed' % (checked, what),
                    unit='objects',
                    checked=checked,
                    **facts,
                )
            )
        remaining()

        # 5. completeness: counts and the newest record
        progress('counts', scratch=scratch)
        counts_path = counts_file(backup['path'], database)
        expected = {}
        newest = params.get('newest') or None
        taken_at = None
        if os.path.isfile(counts_path):
            with open(counts_path, 'r') as handle:
                job_counts = json.load(handle)
            expected = dict((t, int(c)) for t, c in (job_counts.get('tables') or {}).items())
            if not newest and isinstance(job_counts.get('newest'), dict):
                newest = job_counts['newest']
            taken_at = job_counts.get('taken_at')
        tables = params.get('tables') or sorted(expected)
        if not expected:
            items.append(
                make_item(
                    pid + 'counts',
                    None,
                    'warning',
                    'No row counts recorded beside the backup '
                    '(%s): completeness not proven' % os.path.basename(counts_path),
                    reason='no_counts',
                    **facts,
                )
            )
        else:
            got = engine.counts(scratch, [t for t in tables if t in expected])
            missing = sorted(t for t in tables if t not in expected)
            wrong = sorted(t for t in got if got[t] != expected[t])
            status = 'critical' if wrong or missing else 'ok'
            detail = '; '.join(
                '%s: %d restored, %d at backup time' % (t, got[t], expected[t]) for t in wrong[:5]
            )
            if missing:
                detail = (detail + '; ' if detail else '') + "not in the job's counts: %s" % ', '.join(
                    missing
                )
            items.append(
                make_item(
                    pid + 'counts',
                    len(got) - len(wrong),
                    status,
                    '%d of %d tables hold exactly the rows counted at backup time%s'
                    % (len(got) - len(wrong), len(tables), ('; ' + detail) if detail else ''),
                    unit='tables',
                    reason='count_mismatch' if status != 'ok' else None,
                    total=len(tables),
                    mismatched=wrong or None,
                    rows=sum(got.values()),
                    **facts,
                )
            )
        if newest and newest.get('table') and newest.get('column'):
            epoch = engine.newest_epoch(scratch, newest['table'], newest['column'])
            if epoch is None:
                items.append(
                    make_item(
                        pid + 'rpo',
                        None,
                        'warning',
                        'No timestamp in %s.%s of the restored copy' % (newest['table'], newest['column']),
                        reason='no_newest',
                        **facts,
                    )
                )
            else:
                rpo_h = round(max(0.0, started - epoch) / 3600.0, 2)
                measured['rpo_hours'] = rpo_h
                limit = float(spec.get('rpo_hours') or 26)
                status = 'warning' if rpo_h > limit else 'ok'
                items.append(
                    make_item(
                        pid + 'rpo',
                        rpo_h,
                        status,
                        'Newest %s.%s in the restored copy is %g h old: '
                        'a disaster now would lose %g h of data (RPO %g h)'
                        % (newest['table'], newest['column'], rpo_h, rpo_h, limit),
                        unit='h',
                        threshold={'warning': limit},
                        reason='rpo_missed' if status != 'ok' else None,
                        newest=_iso(epoch),
                        backup_taken=taken_at,
                        **facts,
                    )
                )
        else:
            items.append(
                make_item(
                    pid + 'rpo',
                    None,
                    'skipped',
                    'No table configured for the newest record',
                    reason='not_configured',
                    **facts,
                )
            )
        remaining()

        # 6. usability: the application's smoke queries
        progress('smoke', scratch=scratch)
        smoke = params.get('smoke') or []
        failed = []
        for query in smoke:
            rc, rows = engine.sql(scratch, query['query'], check=False)
            expect = query.get('expect') or 'answer'
            if rc != 0:
                failed.append('%s: %s' % (query['name'], _last_line(rows)))
            elif expect == 'rows' and not rows:
                failed.append('%s: no row' % query['name'])
            elif expect == 'value' and (not rows or not rows[0] or rows[0][0] in (None, '')):
                failed.append('%s: no value' % query['name'])
        if smoke:
            items.append(
                make_item(
                    pid + 'smoke',
                    len(smoke) - len(failed),
                    'critical' if failed else 'ok',
                    '%d of %d smoke queries answered on the restored copy%s'
                    % (
                        len(smoke) - len(failed),
                        len(smoke),
                        ('; failed: ' + '; '.join(failed))[:600] if failed else '',
                    ),
                    unit='queries',
                    reason='smoke_failed' if failed else None,
                    total=len(smoke),
                    **facts,
                )
            )
        else:
            items.append(
                make_item(
                    pid + 'smoke',
                    None,
                    'skipped',
                    'No smoke query configured',
                    reason='not_configured',
                    **facts,
                )
            )

        # 7. the measured RTO
        checks_s = round(time.time() - checks_started, 1)
        rto_s = round(restore_s + checks_s, 1)
        measured.update(rto_seconds=rto_s, checks_seconds=checks_s)
        target_s = float(params.get('rto_minutes') or 60) * 60.0
        status = 'critical' if rto_s > target_s else 'ok'
        items.append(
            make_item(
                pid + 'rto',
                rto_s,
                status,
                'Restore and checks took %g s (restore %g s, checks %g '
                's); RTO target %g s' % (rto_s, restore_s, checks_s, target_s),
                unit='s',
                threshold={'critical': target_s},
                reason='rto_missed' if status != 'ok' else None,
                **facts,
            )
        )
    except DrillStop as stop:
        outcome = stop.outcome
        state['reason'] = str(stop)
        phase = progress.phase or 'prepare'
        if stop.reason != 'no_space':
            items.append(
                make_item(
                    pid + 'outcome',
                    None,
                    'critical',
                    'The drill stopped in its %s phase: %s' % (phase, stop),
                    reason=stop.reason,
                    phase=phase,
                    **facts,
                )
            )
    finally:
        # 8. the scratch database goes, whatever happened
        if created:
            progress('cleanup', scratch=scratch)
            try:
                engine.drop(scratch)
                items.append(
                    make_item(
                        pid + 'cleanup', scratch, 'ok', 'Dropped the scratch database %s' % scratch, **facts
                    )
                )
            except DrillStop as exc:
                items.append(
                    make_item(
                        pid + 'cleanup',
                        scratch,
                        'critical',
                        'Could not drop the scratch '
                        'database %s: %s (the next drill removes it)' % (scratch, exc),
                        reason='cleanup_failed',
                        **facts,
                    )
                )
        progress('done', scratch=scratch, outcome=outcome)
    measured['elapsed_seconds'] = round(time.time() - started, 1)
    return record(), changed


def _iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def cleanup(params, engine_factory, check_mode=False):
    """The always-step of the role: drop every scratch database of the prefix; when the
    drill itself gave no record (killed, timed out by its async limit, unreachable), the
    restore_drill record saying so - never a success."""
    spec = params['set']
    name = spec['name']
    pid = 'drill:%s:' % name
    facts = {'set': name, 'database': spec['database'], 'format': spec['format']}
    engine_name = ENGINE_OF.get(spec['format'])
    dropped, records = [], []
    items = []
    if engine_name is not None:
        engine = engine_factory(engine_name)
        prefix = params.get('prefix') or DEFAULT_PREFIX
        if check_mode:
            dropped = sorted(d for d in engine.databases() if d.startswith(prefix))
        else:
            dropped = drop_leftovers(engine, prefix)
    unfinished = params.get('unfinished')
    if unfinished:
        items.append(
            make_item(
                pid + 'outcome',
                None,
                'critical',
                'The drill did not finish: %s' % unfinished,
                reason='timed_out' if 'time' in unfinished else 'interrupted',
                **facts,
            )
        )
        items.append(
            make_item(
                pid + 'cleanup',
                len(dropped),
                'ok',
                'Removed %d scratch databases after the drill' % len(dropped),
                unit='databases',
                names=dropped or None,
                **facts,
            )
        )
        records.append(
            make_record(
                'restore_drill',
                params.get('system') or 'shared',
                items,
                {},
                outcome='timed_out' if 'time' in unfinished else 'failed',
                ticket=params.get('ticket') or None,
                reason=unfinished,
                **facts,
            )
        )
    return records, dropped
