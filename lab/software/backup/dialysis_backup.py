#!/usr/bin/env python3
"""Nightly database backups of the dialysis lab (installed twice, the engine taken from the name):

    /usr/local/sbin/dialysis-backup-postgresql   pg_dump -Fc of every configured database
    /usr/local/sbin/dialysis-backup-mariadb      mariadb-dump | zstd (or gzip), and mariabackup --backup
    (or dialysis_backup.py --engine postgresql|mariadb)  [--config /etc/dialysis-backup/config.json]

Per database, under ROOT/<engine>/<db>/ (ROOT = /var/backups/dialysis):
    <db>-<UTC stamp>.dump | .sql.zst | .sql.gz | .mariabackup/   the backup
    <backup name>.sha256      sha256sum manifest (sha256sum -c in that directory checks it)
    <db>-<UTC stamp>.counts.json   row counts of the tables and the newest record, at backup time
and ROOT/<engine>/last-run.json: started, ended, exit_status, files, per-database status - written
even when the run fails. Retention: the newest `retention` backups of each database are kept.
PostgreSQL runs as the postgres OS user (peer; the unit has User=postgres, root re-executes itself via
runuser); its counts come from the very snapshot pg_dump dumps (pg_export_snapshot). MariaDB runs as
root over the socket (unix_socket); its counts come from a consistent snapshot taken just before.
"""

import argparse
import datetime as dt
import hashlib
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
from pathlib import Path

DEFAULTS = {'root': '/var/backups/dialysis', 'retention': 7}
# The newest record of the lab's databases (table, column); config "newest" adds or overrides.
NEWEST = {
    'machine_reading': 'recorded_at',
    'clinic_visit': 'visit_date',
    'pd_exchange': 'performed_at',
    'message_log': 'received_at',
}
MARIADB_SYSTEM = {'mysql', 'information_schema', 'performance_schema', 'sys'}
MARIADB_SOCKET = '/run/mysqld/mysqld.sock'


def newest_of(cur, counts, newest, quote):
    """The newest timestamp of the first configured (table, column) the backup holds, as
    {table, column, value}; `quote` formats an identifier for the engine ('{}' or '`{}`')."""
    for table, column in newest.items():
        if table in counts:
            cur.execute('SELECT max(%s) FROM %s' % (quote.format(column), quote.format(table)))
            value = cur.fetchone()[0]
            return {'table': table, 'column': column, 'value': value.isoformat() if value else None}
    return None


def log(message):
    print(f'dialysis-backup: {message}', file=sys.stderr, flush=True)


def utc_now():
    return dt.datetime.now(dt.timezone.utc)


def stamp_of(moment):
    return moment.strftime('%Y%m%dT%H%M%SZ')


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(backup):
    """BACKUP(.sha256): sha256sum lines for the file, or for every file of the directory."""
    backup = Path(backup)
    if backup.is_dir():
        paths = sorted(p for p in backup.rglob('*') if p.is_file())
    else:
        paths = [backup]
    lines = [f'{sha256_file(p)}  {p.relative_to(backup.parent)}\n' for p in paths]
    manifest = backup.with_name(backup.name + '.sha256')
    manifest.write_text(''.join(lines), encoding='utf-8')
    return manifest


def write_json(path, data):
    path = Path(path)
    tmp = path.with_name(f'.{path.name}.tmp')
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + '\n', encoding='utf-8')
    os.replace(tmp, path)


def backup_sets(directory, db):
    """{stamp: [paths]} of the backups of DB in DIRECTORY (files named <db>-<stamp>...)."""
    sets = {}
    prefix = f'{db}-'
    for path in Path(directory).iterdir():
        if not path.name.startswith(prefix):
            continue
        stamp = path.name[len(prefix) :].split('.', 1)[0]
        if len(stamp) == 16 and stamp.endswith('Z') and stamp[8] == 'T':
            sets.setdefault(stamp, []).append(path)
    return sets


def expired(stamps, keep):
    """The stamps beyond the newest KEEP (sorted oldest first)."""
    if keep < 1:
        raise ValueError('retention must keep at least one backup')
    ordered = sorted(stamps)
    return ordered[: max(0, len(ordered) - keep)]


def apply_retention(directory, db, keep):
    removed = []
    sets = backup_sets(directory, db)
    for stamp in expired(sets, keep):
        for path in sorted(sets[stamp]):
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(str(path))
    return removed


# ---------------------------------------------------------------- PostgreSQL


def pg_databases(config):
    if config.get('databases'):
        return list(config['databases'])
    out = subprocess.run(
        [
            'psql',
            '-XAtc',
            "SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(out.stdout.split())


def pg_backup(db, directory, stamp, newest):
    import psycopg2

    dump = directory / f'{db}-{stamp}.dump'
    partial = directory / f'.{dump.name}.partial'
    conn = psycopg2.connect(dbname=db, application_name='dialysis-backup')
    try:
        conn.set_session(isolation_level='REPEATABLE READ', readonly=True)
        with conn.cursor() as cur:
            cur.execute('SELECT pg_export_snapshot(), now()')
            snapshot, taken_at = cur.fetchone()
            cur.execute(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(tablename), tablename FROM pg_tables "
                "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1"
            )
            tables = cur.fetchall()
            counts = {}
            for qualified, name in tables:
                cur.execute(f'SELECT count(*) FROM {qualified}')
                counts[name] = cur.fetchone()[0]
            newest_record = newest_of(cur, counts, newest, '{}')
            with open(partial, 'wb') as out:
                done = subprocess.run(
                    ['pg_dump', '-Fc', f'--snapshot={snapshot}', '--dbname', db],
                    stdout=out,
                    stderr=subprocess.PIPE,
                )
            if done.returncode != 0:
                raise RuntimeError(
                    f'pg_dump exited {done.returncode}: {done.stderr.decode(errors="replace").strip()}'
                )
            os.replace(partial, dump)
        conn.rollback()
    finally:
        conn.close()
        partial.unlink(missing_ok=True)
    manifest = write_manifest(dump)
    counts_file = directory / f'{db}-{stamp}.counts.json'
    write_json(
        counts_file,
        {
            'engine': 'postgresql',
            'database': db,
            'backup': dump.name,
            'taken_at': taken_at.isoformat(),
            'consistency': 'same snapshot as the dump (pg_export_snapshot)',
            'tables': counts,
            'newest': newest_record,
        },
    )
    return [dump, manifest, counts_file]


# ---------------------------------------------------------------- MariaDB


def my_connect(db=None):
    import pymysql

    return pymysql.connect(unix_socket=MARIADB_SOCKET, user='root', database=db, charset='utf8mb4')


def my_databases(config):
    if config.get('databases'):
        return list(config['databases'])
    conn = my_connect()
    with conn.cursor() as cur:
        cur.execute('SHOW DATABASES')
        names = [r[0] for r in cur.fetchall()]
    conn.close()
    return sorted(n for n in names if n not in MARIADB_SYSTEM)


def my_counts(db, newest):
    conn = my_connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ')
            cur.execute('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY')
            cur.execute('SELECT UTC_TIMESTAMP(6)')
            taken_at = cur.fetchone()[0].replace(tzinfo=dt.timezone.utc)
            cur.execute(
                'SELECT table_name FROM information_schema.tables WHERE table_schema = %s '
                "AND table_type = 'BASE TABLE' ORDER BY table_name",
                (db,),
            )
            counts = {}
            for (name,) in cur.fetchall():
                cur.execute(f'SELECT count(*) FROM `{name}`')
                counts[name] = cur.fetchone()[0]
            newest_record = newest_of(cur, counts, newest, '`{}`')
            cur.execute('COMMIT')
    finally:
        conn.close()
    return taken_at, counts, newest_record


def my_backup(db, directory, stamp, newest, config):
    files = []
    taken_at, counts, newest_record = my_counts(db, newest)
    compress = config.get('compress', 'zstd')
    if compress not in ('zstd', 'gzip'):
        raise ValueError(f'mariadb.compress must be zstd or gzip, not {compress}')
    dump = directory / f'{db}-{stamp}.sql.{"zst" if compress == "zstd" else "gz"}'
    partial = directory / f'.{dump.name}.partial'
    dumper = subprocess.Popen(
        ['mariadb-dump', '--single-transaction', '--routines', '--triggers', '--events', '--databases', db],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    compressor_cmd = ['zstd', '-q', '-T0', '-o', str(partial)] if compress == 'zstd' else ['gzip', '-c']
    with open(partial, 'wb') if compress == 'gzip' else open(os.devnull, 'wb') as sink:
        compressor = subprocess.run(compressor_cmd, stdin=dumper.stdout, stdout=sink, stderr=subprocess.PIPE)
    dumper.stdout.close()
    dump_err = dumper.stderr.read().decode(errors='replace').strip()
    if dumper.wait() != 0 or compressor.returncode != 0:
        partial.unlink(missing_ok=True)
        compress_err = compressor.stderr.decode(errors='replace').strip()
        raise RuntimeError(
            f'mariadb-dump exited {dumper.returncode} ({dump_err}); '
            f'{compress} exited {compressor.returncode} ({compress_err})'
        )
    os.replace(partial, dump)
    files += [dump, write_manifest(dump)]
    physical = None
    if config.get('mariabackup', True):
        target = directory / f'{db}-{stamp}.mariabackup'
        done = subprocess.run(
            ['mariabackup', '--backup', f'--target-dir={target}', f'--databases={db}', '--user=root'],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            shutil.rmtree(target, ignore_errors=True)
            tail = ' | '.join(done.stderr.strip().splitlines()[-3:])
            raise RuntimeError(f'mariabackup exited {done.returncode}: {tail}')
        files += [target, write_manifest(target)]
        physical = target.name
    counts_file = directory / f'{db}-{stamp}.counts.json'
    write_json(
        counts_file,
        {
            'engine': 'mariadb',
            'database': db,
            'backup': dump.name,
            'physical_backup': physical,
            'taken_at': taken_at.isoformat(),
            'consistency': 'consistent snapshot taken just before mariadb-dump --single-transaction',
            'tables': counts,
            'newest': newest_record,
        },
    )
    return files + [counts_file]


# ---------------------------------------------------------------- main


def run(engine, config):
    settings = {**DEFAULTS, **config}
    engine_config = settings.get(engine, {})
    retention = int(engine_config.get('retention', settings['retention']))
    newest = {**NEWEST, **{t: c for t, c in settings.get('newest', {}).items()}}
    root = Path(settings['root']) / engine
    root.mkdir(parents=True, exist_ok=True)
    started = utc_now()
    report = {
        'engine': engine,
        'host': socket.gethostname(),
        'started': started.isoformat(),
        'ended': None,
        'exit_status': None,
        'retention': retention,
        'files': [],
        'removed': [],
        'databases': {},
    }
    status = 1
    try:
        databases = pg_databases(engine_config) if engine == 'postgresql' else my_databases(engine_config)
        stamp = stamp_of(started)
        for db in databases:
            directory = root / db
            directory.mkdir(parents=True, exist_ok=True)
            try:
                if engine == 'postgresql':
                    files = pg_backup(db, directory, stamp, newest)
                else:
                    files = my_backup(db, directory, stamp, newest, engine_config)
                report['files'] += [str(f) for f in files]
                report['removed'] += apply_retention(directory, db, retention)
                report['databases'][db] = {'status': 'ok'}
                log(f'{engine} {db}: {files[0].name}')
            except Exception as exc:
                reason = f'{type(exc).__name__}: {str(exc).strip()}'
                report['databases'][db] = {'status': 'failed', 'error': reason}
                log(f'ERROR {engine} {db}: {reason}')
        if not databases:
            report['error'] = 'no database to back up'
        ok = databases and all(d['status'] == 'ok' for d in report['databases'].values())
        status = 0 if ok else 1
    except Exception as exc:
        report['error'] = f'{type(exc).__name__}: {str(exc).strip()}'
        log(f'ERROR {report["error"]}')
        status = 1
    finally:
        report['ended'] = utc_now().isoformat()
        report['exit_status'] = status
        write_json(root / 'last-run.json', report)
    return status


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--engine', choices=('postgresql', 'mariadb'))
    parser.add_argument('--config', default='/etc/dialysis-backup/config.json')
    args = parser.parse_args(argv)
    engine = args.engine
    if engine is None:
        name = Path(sys.argv[0]).name
        engine = (
            'postgresql' if name.endswith('postgresql') else 'mariadb' if name.endswith('mariadb') else None
        )
    if engine is None:
        parser.error('--engine is required (or install the script as dialysis-backup-postgresql / -mariadb)')
    config = json.loads(Path(args.config).read_text(encoding='utf-8')) if Path(args.config).exists() else {}
    if engine == 'postgresql' and os.geteuid() == 0:
        # pg_dump and the counts use peer authentication as postgres: run as postgres.
        account = pwd.getpwnam('postgres')
        target = Path(config.get('root', DEFAULTS['root'])) / 'postgresql'
        target.mkdir(parents=True, exist_ok=True)
        os.chown(target, account.pw_uid, account.pw_gid)
        os.chmod(target, 0o750)
        script = str(Path(sys.argv[0]).resolve())
        os.execvp(
            'runuser',
            [
                'runuser',
                '-u',
                'postgres',
                '--',
                sys.executable,
                script,
                '--engine',
                engine,
                '--config',
                args.config,
            ],
        )
    return run(engine, config)


if __name__ == '__main__':
    sys.exit(main())
