#!/usr/bin/env python3
"""Dialysis information service (lab): one code base, the release's features from release.json.

    dialysis_service.py --config /etc/dialysis-service/config.json

HTTP (JSON):
  GET  /health                 200 {"status": "ok"|"maintenance", "version", "database": "ok", "schema"}
                               503 {"status": "error", "version", "database", "reason"}
  GET  /version                {"version", "schema", "database_schema"}
  GET  /treatments/running     {"running": N, "as_of": ISO-8601} (1.2 adds "dialysate")
  GET  /patients/dry-weight/overdue   (1.1+) {"overdue": N, "as_of"}
  POST /treatments/<id>/start  {"machine": "HD-03"}   (503 in maintenance)
  POST /treatments/<id>/end                            (503 in maintenance)
Maintenance mode: the file config["maintenance_file"] exists -> writes answer 503, /health says
"maintenance" (200 while the release is otherwise healthy, so an upgrade can verify the new release
before it reopens). Logs go to stdout (the journal) and to config["log_file"].
"""

import argparse
import json
import logging
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from migrate import connect, current_schema, load_config, load_release  # noqa: E402

DEFAULTS = {
    'listen': '0.0.0.0',
    'port': 8080,
    'log_file': '/var/log/dialysis/app.log',
    'maintenance_file': '/var/lib/dialysis-service/maintenance',
    'statement_timeout_ms': 5000,
}

# Module "core" (1.0+).
RUNNING_SQL = """
SELECT count(*), now() FROM treatment_session
 WHERE status = 'running' AND started_at IS NOT NULL AND ended_at IS NULL"""
START_SQL = """
UPDATE treatment_session SET status = 'running', started_at = now(),
       machine_id = (SELECT id FROM dialysis_machine WHERE code = %(machine)s AND active)
 WHERE id = %(id)s AND status = 'scheduled'
RETURNING id, machine_id"""
END_SQL = """
UPDATE treatment_session SET status = 'completed', ended_at = now()
 WHERE id = %(id)s AND status = 'running'
RETURNING id"""
# Module "dry_weight" (1.1+): active patients without an assessment in the last 30 days.
DRY_WEIGHT_OVERDUE_SQL = """
SELECT count(*), now() FROM patient p
 WHERE p.active AND NOT EXISTS (
       SELECT 1 FROM dry_weight_assessment d
        WHERE d.patient_id = p.id AND d.assessed_at > now() - interval '30 days')"""
# Module "dialysate_prescription" (1.2+): the dialysate of every running treatment.
RUNNING_DIALYSATE_SQL = """
SELECT m.code, ts.id, ts.dialysate_potassium_mmol_l, ts.dialysate_ca_mmol_l
  FROM treatment_session ts JOIN dialysis_machine m ON m.id = ts.machine_id
 WHERE ts.status = 'running'
 ORDER BY m.code"""
START_DIALYSATE_SQL = """
UPDATE treatment_session SET dialysate_potassium_mmol_l = %(k)s, dialysate_ca_mmol_l = %(ca)s
 WHERE id = %(id)s"""

# What each module must be able to run for the release to be healthy.
READINESS = {
    'core': RUNNING_SQL,
    'dry_weight': DRY_WEIGHT_OVERDUE_SQL,
    'dialysate_prescription': RUNNING_DIALYSATE_SQL + ' LIMIT 1',
}

log = logging.getLogger('dialysis-service')


class Database:
    """One autocommit connection per server thread, reopened after a failure."""

    def __init__(self, settings, statement_timeout_ms):
        self.settings = dict(settings)
        self.settings.setdefault('connect_timeout', 3)
        self.timeout = int(statement_timeout_ms)
        self.local = threading.local()

    def _conn(self):
        conn = getattr(self.local, 'conn', None)
        if conn is None or conn.closed:
            conn = connect(self.settings, application_name='dialysis-service', autocommit=True)
            with conn.cursor() as cur:
                cur.execute('SET statement_timeout = %s', (self.timeout,))
            self.local.conn = conn
        return conn

    def query(self, sql, params=None, fetch='all'):
        import psycopg2

        try:
            conn = self._conn()
            with conn.cursor() as cur:
                cur.execute(sql, params)
                if fetch == 'one':
                    return cur.fetchone()
                return cur.fetchall() if cur.description else []
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            self.drop()
            raise

    def drop(self):
        conn = getattr(self.local, 'conn', None)
        self.local.conn = None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                pass


def first_line(exc):
    text = str(exc).strip().splitlines()
    return f'{type(exc).__name__}: {text[0] if text else ""}'


class App:
    def __init__(self, config, release):
        self.config = {**DEFAULTS, **config}
        self.release = release
        self.features = release['features']
        self.db = Database(self.config['database'], self.config['statement_timeout_ms'])

    @property
    def maintenance(self):
        return Path(self.config['maintenance_file']).exists()

    def database_schema(self):
        rows = self.db.query('SELECT version FROM schema_migrations ORDER BY version')
        return current_schema([{'version': r[0]} for r in rows])

    def health(self):
        body = {'version': self.release['version']}
        try:
            schema = self.database_schema()
        except Exception as exc:
            reason = first_line(exc)
            log.error('health: database unavailable: %s', reason)
            return 503, {**body, 'status': 'error', 'database': 'unavailable', 'reason': reason}
        body['schema'] = schema
        if schema is None or schema < self.release['schema']:
            reason = (
                f'database schema {schema} is older than release {self.release["version"]} needs '
                f'({self.release["schema"]}): run migrate.py up'
            )
            log.error('health: %s', reason)
            return 503, {**body, 'status': 'error', 'database': 'ok', 'reason': reason}
        for feature in self.features:
            try:
                self.db.query(READINESS[feature])
            except Exception as exc:
                reason = f'module {feature}: {first_line(exc)}'
                log.error('health: %s', reason)
                return 503, {**body, 'status': 'error', 'database': 'ok', 'reason': reason}
        return 200, {**body, 'status': 'maintenance' if self.maintenance else 'ok', 'database': 'ok'}

    def version(self):
        try:
            database_schema = self.database_schema()
        except Exception:
            database_schema = None
        return 200, {
            'version': self.release['version'],
            'schema': self.release['schema'],
            'database_schema': database_schema,
        }

    def running(self):
        count, as_of = self.db.query(RUNNING_SQL, fetch='one')
        body = {'running': count, 'as_of': as_of.isoformat()}
        if 'dialysate_prescription' in self.features:
            body['dialysate'] = [
                {'machine': code, 'session': sid, 'k_mmol_l': _num(k), 'ca_mmol_l': _num(ca)}
                for code, sid, k, ca in self.db.query(RUNNING_DIALYSATE_SQL)
            ]
        return 200, body

    def dry_weight_overdue(self):
        count, as_of = self.db.query(DRY_WEIGHT_OVERDUE_SQL, fetch='one')
        return 200, {'overdue': count, 'as_of': as_of.isoformat()}

    def start(self, session_id, payload):
        machine = str(payload.get('machine', ''))
        if not re.fullmatch(r'HD-\d{2}', machine):
            return 400, {'error': 'body must be {"machine": "HD-NN"}'}
        row = self.db.query(START_SQL, {'id': session_id, 'machine': machine}, fetch='one')
        if row is None:
            return 409, {'error': f'session {session_id} is not scheduled'}
        if row[1] is None:
            return 409, {'error': f'machine {machine} unknown or inactive'}
        if 'dialysate_prescription' in self.features and 'dialysate_k_mmol_l' in payload:
            self.db.query(
                START_DIALYSATE_SQL,
                {
                    'id': session_id,
                    'k': payload['dialysate_k_mmol_l'],
                    'ca': payload.get('dialysate_ca_mmol_l'),
                },
            )
        log.info('session %s started on %s', session_id, machine)
        return 200, {'session': session_id, 'status': 'running', 'machine': machine}

    def end(self, session_id):
        row = self.db.query(END_SQL, {'id': session_id}, fetch='one')
        if row is None:
            return 409, {'error': f'session {session_id} is not running'}
        log.info('session %s completed', session_id)
        return 200, {'session': session_id, 'status': 'completed'}


def _num(value):
    return None if value is None else float(value)


def make_handler(app):
    class Handler(BaseHTTPRequestHandler):
        server_version = f'dialysis-service/{app.release["version"]}'
        protocol_version = 'HTTP/1.1'

        def log_message(self, fmt, *args):  # the access line is written by _send
            pass

        def _send(self, status, body, started):
            data = (json.dumps(body) + '\n').encode('utf-8')
            self.send_response(status)
            self.send_header('Content-Type', 'application/json')
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            elapsed = (time.monotonic() - started) * 1000
            level = logging.ERROR if status >= 500 and status != 503 else logging.INFO
            log.log(level, '%s %s %s %.0f ms', self.command, self.path, status, elapsed)

        def _dispatch(self, routes):
            started = time.monotonic()
            path = self.path.split('?', 1)[0].rstrip('/') or '/'
            for pattern, needs, handler in routes:
                match = re.fullmatch(pattern, path)
                if match and needs in app.features:
                    try:
                        status, body = handler(*match.groups())
                    except Exception as exc:
                        log.error('%s %s failed: %s', self.command, path, first_line(exc))
                        status, body = 500, {'error': first_line(exc)}
                    return self._send(status, body, started)
            return self._send(404, {'error': f'no route {self.command} {path}'}, started)

        def do_GET(self):
            self._dispatch(
                [
                    (r'/health', 'core', app.health),
                    (r'/version', 'core', app.version),
                    (r'/treatments/running', 'core', app.running),
                    (r'/patients/dry-weight/overdue', 'dry_weight', app.dry_weight_overdue),
                ]
            )

        def do_POST(self):
            length = int(self.headers.get('Content-Length') or 0)
            raw = self.rfile.read(length) if length else b''
            if app.maintenance:
                log.info('%s %s refused: maintenance mode', self.command, self.path)
                return self._send(503, {'error': 'maintenance mode: writes are refused'}, time.monotonic())
            try:
                payload = json.loads(raw or b'{}')
                if not isinstance(payload, dict):
                    raise ValueError('a JSON object is expected')
            except ValueError as exc:
                return self._send(400, {'error': f'bad JSON body: {exc}'}, time.monotonic())
            self._dispatch(
                [
                    (r'/treatments/(\d+)/start', 'core', lambda sid: app.start(int(sid), payload)),
                    (r'/treatments/(\d+)/end', 'core', lambda sid: app.end(int(sid))),
                ]
            )

    return Handler


def setup_logging(log_file, version):
    fmt = logging.Formatter(
        f'%(asctime)s %(levelname)s dialysis-service {version}: %(message)s', '%Y-%m-%d %H:%M:%S'
    )
    log.setLevel(logging.INFO)
    stream = logging.StreamHandler(sys.stdout)
    stream.setFormatter(fmt)
    log.addHandler(stream)
    if log_file:
        try:
            Path(log_file).parent.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(log_file, encoding='utf-8')
            handler.setFormatter(fmt)
            log.addHandler(handler)
        except OSError as exc:
            log.warning('cannot write %s (%s); logging to stdout only', log_file, exc.strerror)


def main(argv=None):
    parser = argparse.ArgumentParser(description='Dialysis information service (lab)')
    parser.add_argument('--config', default='/etc/dialysis-service/config.json')
    args = parser.parse_args(argv)
    config = {**DEFAULTS, **load_config(args.config)}
    release = load_release(HERE)
    setup_logging(config['log_file'], release['version'])
    app = App(config, release)
    server = ThreadingHTTPServer((config['listen'], int(config['port'])), make_handler(app))
    server.daemon_threads = True

    def stop(signum, _frame):
        log.info('received %s, stopping', signal.Signals(signum).name)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        'dialysis-service %s (schema %s, features %s) listening on %s:%s',
        release['version'],
        release['schema'],
        ','.join(release['features']),
        config['listen'],
        config['port'],
    )
    server.serve_forever()
    server.server_close()
    log.info('stopped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
