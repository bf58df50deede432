#!/usr/bin/env python3
"""Schema migrations of the dialysis information service (PostgreSQL).

    migrate.py --config /etc/dialysis-service/config.json up
    migrate.py --config /etc/dialysis-service/config.json down --to 1.1     (or --to 0002)
    migrate.py --config /etc/dialysis-service/config.json status

A release directory holds this file, release.json and migrations/NNNN_name.sql (+ NNNN_name.down.sql
where the change can be undone). `up` applies the release's migrations that are not applied yet, each
in its own transaction, and records them in the table schema_migrations; `down --to` undoes the applied
migrations above the target, newest first, and refuses when one of them has no down file. Applied
migrations the release does not know (a newer release's) are reported, never touched by `up`.
Results are JSON on stdout; progress on stderr. dialysis_service.py imports the helpers below.
"""

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
MIGRATION_FILE = re.compile(r'^(\d{4})_([a-z0-9_]+)\.sql$')
# The generator (lab/software/generator/generate.py) applies 0001 through these same functions.
SCHEMA_MIGRATIONS_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    text PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    release    text,
    applied_by text NOT NULL DEFAULT current_user,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""
# pg_advisory_lock key: one migration run at a time per database.
LOCK_KEY = 4711_0001


class MigrationError(Exception):
    pass


def log(message):
    print(f'migrate: {message}', file=sys.stderr, flush=True)


def load_config(path):
    with open(path, encoding='utf-8') as handle:
        config = json.load(handle)
    database = config.get('database')
    if not isinstance(database, dict) or not database.get('dbname'):
        raise MigrationError(f'{path}: "database" with at least "dbname" is required')
    return config


def release_info(version, releases):
    """The release.json of VERSION built from releases.json's list (cumulative migrations)."""
    known = [r['version'] for r in releases]
    if version not in known:
        raise MigrationError(f'unknown release {version}; known: {", ".join(known)}')
    upto = releases[: known.index(version) + 1]
    entry = upto[-1]
    migrations = [m for r in upto for m in r['migrations']]
    return {
        'product': 'dialysis-service',
        'version': version,
        'date': entry['date'],
        'previous': upto[-2]['version'] if len(upto) > 1 else None,
        'schema': migrations[-1],
        'migrations': migrations,
        'migrations_added': list(entry['migrations']),
        'features': list(entry['features']),
        'modules_changed': list(entry['modules_changed']),
        'notes': entry['notes'],
        'schema_by_release': {r['version']: r['migrations'][-1] for r in upto},
    }


def load_release(directory=HERE):
    """release.json of a built release; in the source tree, the newest entry of releases.json."""
    directory = Path(directory)
    built = directory / 'release.json'
    if built.exists():
        return json.loads(built.read_text(encoding='utf-8'))
    source = json.loads((directory / 'releases.json').read_text(encoding='utf-8'))['releases']
    return release_info(source[-1]['version'], source)


def discover(directory, wanted=None):
    """Migrations in DIRECTORY (optionally only the versions in WANTED), sorted by version."""
    found = {}
    for path in sorted(Path(directory).iterdir()):
        match = MIGRATION_FILE.match(path.name)
        if not match:
            continue
        version, name = match.groups()
        if wanted is not None and version not in wanted:
            continue
        if version in found:
            raise MigrationError(f'two migrations numbered {version}')
        text = path.read_text(encoding='utf-8')
        down = path.with_name(f'{version}_{name}.down.sql')
        found[version] = {
            'version': version,
            'name': name,
            'up': text,
            'down': down.read_text(encoding='utf-8') if down.exists() else None,
            'checksum': hashlib.sha256(text.encode('utf-8')).hexdigest(),
        }
    if wanted is not None and set(wanted) - set(found):
        raise MigrationError(f'migration files missing for {sorted(set(wanted) - set(found))}')
    return [found[v] for v in sorted(found)]


def connect(database, application_name='dialysis-migrate', autocommit=False):
    import psycopg2  # the lab hosts have python3-psycopg2; the unit tests need no database

    params = {
        k: v
        for k, v in database.items()
        if k in ('host', 'port', 'dbname', 'user', 'password') and v not in (None, '')
    }
    conn = psycopg2.connect(
        application_name=application_name, connect_timeout=int(database.get('connect_timeout', 5)), **params
    )
    conn.autocommit = autocommit
    return conn


def ensure_table(conn):
    with conn.cursor() as cur:
        cur.execute(SCHEMA_MIGRATIONS_DDL)
    conn.commit()


def applied(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        if not cur.fetchone()[0]:
            return []
        cur.execute(
            'SELECT version, name, checksum, release, applied_at FROM schema_migrations ORDER BY version'
        )
        rows = cur.fetchall()
    conn.commit()
    return [
        {'version': v, 'name': n, 'checksum': c, 'release': r, 'applied_at': a.isoformat()}
        for v, n, c, r, a in rows
    ]


def plan(known, applied_rows):
    """(pending, unknown_applied, changed) of the KNOWN migrations against the applied rows."""
    done = {row['version']: row for row in applied_rows}
    pending = [m['version'] for m in known if m['version'] not in done]
    known_versions = {m['version'] for m in known}
    unknown = [v for v in sorted(done) if v not in known_versions]
    changed = [
        m['version']
        for m in known
        if m['version'] in done and done[m['version']]['checksum'] != m['checksum']
    ]
    return pending, unknown, changed


def down_plan(known, applied_versions, target):
    """Versions to undo (newest first) to bring the schema down to TARGET (a migration number)."""
    by_version = {m['version']: m for m in known}
    undo = sorted((v for v in applied_versions if v > target), reverse=True)
    for version in undo:
        if version not in by_version:
            raise MigrationError(
                f'migration {version} is applied but unknown to this release; '
                'run the down of the release that brought it'
            )
        if by_version[version]['down'] is None:
            raise MigrationError(f'migration {version} ({by_version[version]["name"]}) has no down migration')
    return undo


def resolve_target(target, release):
    if re.fullmatch(r'\d{4}', target):
        return target
    schema = release.get('schema_by_release', {}).get(target)
    if schema is None:
        raise MigrationError(
            f'--to {target}: neither a migration number (0002) nor a release this one knows '
            f'({", ".join(release.get("schema_by_release", {}))})'
        )
    return schema


def _locked(conn):
    with conn.cursor() as cur:
        cur.execute('SELECT pg_advisory_lock(%s)', (LOCK_KEY,))
    conn.commit()


def apply_up(conn, migration, release_version, lock_timeout='30s'):
    with conn.cursor() as cur:
        cur.execute('SET LOCAL lock_timeout = %s', (lock_timeout,))
        cur.execute(migration['up'])
        cur.execute(
            'INSERT INTO schema_migrations (version, name, checksum, release) VALUES (%s, %s, %s, %s)',
            (migration['version'], migration['name'], migration['checksum'], release_version),
        )
    conn.commit()


def apply_down(conn, migration, lock_timeout='30s'):
    with conn.cursor() as cur:
        cur.execute('SET LOCAL lock_timeout = %s', (lock_timeout,))
        cur.execute(migration['down'])
        cur.execute('DELETE FROM schema_migrations WHERE version = %s', (migration['version'],))
    conn.commit()


def cmd_up(conn, release, known):
    ensure_table(conn)
    _locked(conn)
    pending, unknown, changed = plan(known, applied(conn))
    if changed:
        raise MigrationError(f"applied migrations differ from this release's files: {changed}")
    done = []
    for migration in known:
        if migration['version'] not in pending:
            continue
        log(f'applying {migration["version"]}_{migration["name"]}')
        try:
            apply_up(conn, migration, release['version'])
        except Exception as exc:
            conn.rollback()
            raise MigrationError(f'migration {migration["version"]} failed: {exc}'.strip()) from exc
        done.append(migration['version'])
    return {
        'release': release['version'],
        'applied': done,
        'unknown_applied': unknown,
        'schema': current_schema(applied(conn)),
    }


def cmd_down(conn, release, known, target):
    ensure_table(conn)
    _locked(conn)
    versions = [row['version'] for row in applied(conn)]
    by_version = {m['version']: m for m in known}
    undone = []
    for version in down_plan(known, versions, target):
        log(f'undoing {version}_{by_version[version]["name"]}')
        try:
            apply_down(conn, by_version[version])
        except Exception as exc:
            conn.rollback()
            raise MigrationError(f'down of {version} failed: {exc}'.strip()) from exc
        undone.append(version)
    return {'release': release['version'], 'undone': undone, 'schema': current_schema(applied(conn))}


def cmd_status(conn, release, known):
    rows = applied(conn)
    pending, unknown, changed = plan(known, rows)
    return {
        'release': release['version'],
        'release_schema': release['schema'],
        'schema': current_schema(rows),
        'applied': rows,
        'pending': pending,
        'unknown_applied': unknown,
        'changed': changed,
        'up_to_date': not pending and not changed,
    }


def current_schema(rows):
    return rows[-1]['version'] if rows else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--config', default='/etc/dialysis-service/config.json')
    sub = parser.add_subparsers(dest='command', required=True)
    sub.add_parser('up', help="apply this release's pending migrations")
    down = sub.add_parser('down', help='undo migrations down to a release or migration number')
    down.add_argument('--to', required=True, help='release (1.1) or migration number (0002)')
    sub.add_parser('status', help='applied and pending migrations (JSON)')
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        release = load_release(HERE)
        known = discover(HERE / 'migrations', wanted=release['migrations'])
        conn = connect(config['database'])
        try:
            if args.command == 'up':
                result = cmd_up(conn, release, known)
            elif args.command == 'down':
                result = cmd_down(conn, release, known, resolve_target(args.to, release))
            else:
                result = cmd_status(conn, release, known)
        finally:
            conn.close()
    except MigrationError as exc:
        log(f'ERROR {exc}')
        print(json.dumps({'error': str(exc)}))
        return 1
    except Exception as exc:  # connection refused, bad password, ...
        log(f'ERROR {type(exc).__name__}: {str(exc).strip()}')
        print(json.dumps({'error': f'{type(exc).__name__}: {str(exc).strip()}'}))
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == '__main__':
    sys.exit(main())
