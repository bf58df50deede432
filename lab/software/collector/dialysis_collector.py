#!/usr/bin/env python3
"""Dialysis machine collector (lab): machine telemetry into the hemodialysis database.

    dialysis_collector.py --config /etc/dialysis-collector/config.json

Every interval_seconds, one machine_reading row per machine HD-01..HD-NN (bulk insert, one statement),
except the machines listed in the paused file (one id per line, re-read every cycle). A reading is
linked to the machine's running treatment session when there is one. The collector keeps
running_sessions treatments running (it starts the day's scheduled session of an idle machine, or a
new one, and completes a treatment after session_minutes), so the unit always has patients on
machines. When the database goes away it logs an ERROR, keeps the readings (up to buffer_max_rows)
and reconnects with a growing delay; the buffered readings are written after the reconnection.
Logs: stdout (the journal) and log_file.
"""

import argparse
import datetime as dt
import json
import logging
import random
import signal
import sys
import time
from pathlib import Path

DEFAULTS = {
    'machines': 20,
    'interval_seconds': 5,
    'paused_file': '/etc/dialysis-collector/paused',
    'log_file': '/var/log/dialysis/collector.log',
    'running_sessions': 4,
    'session_minutes': 240,
    'buffer_max_rows': 20000,
    'reconnect_max_seconds': 30,
}
log = logging.getLogger('dialysis-collector')


def machine_codes(count):
    return [f'HD-{n:02d}' for n in range(1, count + 1)]


def read_paused(path):
    """Machine ids listed in PATH (one per line; blank lines and # comments ignored)."""
    try:
        text = Path(path).read_text(encoding='utf-8')
    except FileNotFoundError:
        return set()
    except OSError as exc:
        log.warning('cannot read %s: %s', path, exc.strerror)
        return set()
    return {line.split('#', 1)[0].strip() for line in text.splitlines()} - {''}


def session_day(now):
    """The scheduled date of a treatment started at NOW: today, or Saturday on a Sunday (Mon-Sat unit)."""
    day = now.date()
    return day - dt.timedelta(days=1) if day.isoweekday() == 7 else day


def shift_of(now):
    return 1 if now.hour < 12 else 2 if now.hour < 17 else 3


class Machine:
    """The simulated state of one machine's treatment: values drift slowly within realistic ranges."""

    def __init__(self, rng):
        self.rng = rng
        self.new_treatment()

    def new_treatment(self):
        r = self.rng
        self.blood = r.choice((250, 280, 300, 320, 350, 380, 400))
        self.dialysate = r.choice((500, 500, 600, 700))
        self.venous = r.randint(110, 190)
        self.arterial = -r.randint(110, 220)
        self.tmp = r.randint(60, 160)
        self.conductivity = r.choice((13.8, 14.0, 14.2))
        self.temperature = r.choice((35.5, 36.0, 36.5, 37.0))
        self.uf_rate = r.randrange(200, 1000, 10)

    def reading(self, running):
        r = self.rng
        if not running:  # standby: rinse/disinfection program, no blood side
            return (
                0,
                0,
                0,
                0,
                0,
                round(14.0 + r.uniform(-0.05, 0.05), 2),
                round(37.0 + r.uniform(-0.2, 0.2), 2),
                0,
            )
        self.venous = min(240, max(80, self.venous + r.randint(-3, 3)))
        self.arterial = max(-280, min(-60, self.arterial + r.randint(-3, 3)))
        self.tmp = min(280, max(30, self.tmp + r.randint(-2, 3)))
        return (
            self.blood + r.choice((-10, 0, 0, 10)),
            self.dialysate,
            self.venous,
            self.arterial,
            self.tmp,
            round(self.conductivity + r.uniform(-0.05, 0.05), 2),
            round(self.temperature + r.uniform(-0.08, 0.08), 2),
            self.uf_rate,
        )


class Collector:
    def __init__(self, config):
        self.config = {**DEFAULTS, **config}
        self.codes = machine_codes(int(self.config['machines']))
        self.rng = random.Random()
        self.machines = {code: Machine(self.rng) for code in self.codes}
        self.conn = None
        self.buffer = []  # (machine code, recorded_at) not written yet
        self.stopping = False
        self.failures = 0
        self.last_paused = set()

    # -- database
    def connect(self):
        import psycopg2

        db = self.config['database']
        params = {k: v for k, v in db.items() if k in ('host', 'port', 'dbname', 'user', 'password') and v}
        self.conn = psycopg2.connect(
            application_name='dialysis-collector', connect_timeout=int(db.get('connect_timeout', 5)), **params
        )
        self.conn.autocommit = False
        self.register_machines()

    def register_machines(self):
        with self.conn.cursor() as cur:
            cur.execute('SELECT code FROM dialysis_machine WHERE code = ANY(%s)', (self.codes,))
            known = {r[0] for r in cur.fetchall()}
            for n, code in enumerate(self.codes, start=1):
                if code not in known:
                    cur.execute(
                        'INSERT INTO dialysis_machine (code, manufacturer, model, serial_number, station, '
                        "commissioned_on) VALUES (%s, 'Acme Medical', 'AM-5008', %s, %s, current_date) "
                        'ON CONFLICT (code) DO NOTHING',
                        (code, f'SN-LAB-{n:04d}', n),
                    )
                    log.info('registered machine %s', code)
        self.conn.commit()

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
        self.conn = None

    # -- one cycle
    def cycle(self):
        now = dt.datetime.now(dt.timezone.utc)
        paused = read_paused(self.config['paused_file'])
        if paused != self.last_paused:
            log.info('paused machines: %s', ', '.join(sorted(paused & set(self.codes))) or 'none')
            self.last_paused = paused
        # Queued first: a cycle that cannot reach the database keeps its readings for the next one.
        self.buffer.extend((code, now) for code in self.codes if code not in paused)
        if self.conn is None:
            self.connect()
            log.info('connected to the database')
        with self.conn.cursor() as cur:
            cur.execute('SELECT code, id FROM dialysis_machine WHERE code = ANY(%s)', (self.codes,))
            ids = dict(cur.fetchall())
            if len(ids) < len(self.codes):
                self.conn.commit()
                self.register_machines()
                cur.execute('SELECT code, id FROM dialysis_machine WHERE code = ANY(%s)', (self.codes,))
                ids = dict(cur.fetchall())
            running = self.keep_sessions(cur, ids, now, paused)
            rows = [
                (ids[code], running.get(code), recorded_at) + self.machines[code].reading(code in running)
                for code, recorded_at in self.buffer
            ]
            if rows:
                from psycopg2.extras import execute_values

                execute_values(
                    cur,
                    'INSERT INTO machine_reading (machine_id, session_id, recorded_at, blood_flow_ml_min, '
                    'dialysate_flow_ml_min, venous_pressure_mmhg, arterial_pressure_mmhg, tmp_mmhg, '
                    'conductivity_ms_cm, temperature_c, uf_rate_ml_h) VALUES %s',
                    rows,
                    page_size=1000,
                )
        self.conn.commit()
        if len(self.buffer) > len(self.codes):
            log.info('wrote %d buffered readings after the reconnection', len(self.buffer))
        self.buffer = []
        return len(rows)

    def keep_sessions(self, cur, ids, now, paused):
        """{machine code: running session id}; completes old treatments and starts new ones."""
        minutes = int(self.config['session_minutes'])
        cur.execute(
            "UPDATE treatment_session SET status = 'completed', ended_at = now(), "
            "post_weight_kg = pre_weight_kg - uf_goal_ml / 1000.0 WHERE status = 'running' "
            'AND started_at < now() - make_interval(mins => %s) AND machine_id = ANY(%s) RETURNING id',
            (minutes, list(ids.values())),
        )
        for (sid,) in cur.fetchall():
            log.info('session %s completed', sid)
        cur.execute(
            'SELECT m.code, s.id FROM treatment_session s JOIN dialysis_machine m ON m.id = s.machine_id '
            "WHERE s.status = 'running' AND m.code = ANY(%s)",
            (self.codes,),
        )
        running = dict(cur.fetchall())
        wanted = int(self.config['running_sessions'])
        for code in self.codes:
            if len(running) >= wanted:
                break
            if code in running or code in paused:
                continue
            sid = self.start_session(cur, ids[code], now)
            if sid is None:
                break
            running[code] = sid
            self.machines[code].new_treatment()
            log.info('session %s started on %s', sid, code)
        return running

    def start_session(self, cur, machine_id, now):
        day, shift = session_day(now), shift_of(now)
        cur.execute(
            "UPDATE treatment_session SET status = 'running', started_at = now(), machine_id = %s "
            'WHERE id = (SELECT id FROM treatment_session WHERE scheduled_date = %s AND shift = %s '
            "AND status = 'scheduled' AND (machine_id = %s OR machine_id IS NULL) ORDER BY id LIMIT 1) "
            'RETURNING id',
            (machine_id, day, shift, machine_id),
        )
        row = cur.fetchone()
        if row:
            return row[0]
        cur.execute(
            'SELECT p.id FROM patient p WHERE p.active AND NOT EXISTS (SELECT 1 FROM treatment_session s '
            "WHERE s.patient_id = p.id AND s.status = 'running') ORDER BY random() LIMIT 1"
        )
        row = cur.fetchone()
        if row is None:
            log.warning('no patient available to start a treatment (database not seeded yet?)')
            return None
        pre = round(self.rng.uniform(50, 100), 1)
        cur.execute(
            'INSERT INTO treatment_session (patient_id, machine_id, scheduled_date, shift, status, '
            "started_at, pre_weight_kg, uf_goal_ml) VALUES (%s, %s, %s, %s, 'running', now(), %s, %s) "
            'RETURNING id',
            (row[0], machine_id, day, shift, pre, self.rng.randrange(800, 3200, 100)),
        )
        return cur.fetchone()[0]

    def run(self):
        interval = float(self.config['interval_seconds'])
        delay = 1.0
        log.info(
            'dialysis-collector started: %d machines, every %s s, %s running treatments',
            len(self.codes),
            self.config['interval_seconds'],
            self.config['running_sessions'],
        )
        next_at = time.monotonic()
        while not self.stopping:
            try:
                self.cycle()
                if self.failures:
                    log.info('database connection restored after %d failed cycles', self.failures)
                self.failures, delay = 0, 1.0
            except Exception as exc:
                import psycopg2

                self.failures += 1
                lost = isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError))
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                if lost:
                    log.error('database connection lost: %s; retrying in %.0f s', reason, delay)
                else:
                    log.error('cycle failed: %s: %s', type(exc).__name__, reason)
                    if self.conn is not None:
                        try:
                            self.conn.rollback()
                        except Exception:
                            pass
                if lost or self.conn is None or self.conn.closed:
                    self.close()
                cap = int(self.config['buffer_max_rows'])
                if len(self.buffer) > cap:
                    log.error('buffer full: dropping %d oldest readings', len(self.buffer) - cap)
                    self.buffer = self.buffer[-cap:]
                self.sleep(delay)
                delay = min(delay * 2, float(self.config['reconnect_max_seconds']))
                next_at = time.monotonic()
                continue
            next_at += interval
            self.sleep(max(0.0, next_at - time.monotonic()))
        self.close()
        log.info('dialysis-collector stopped')

    def sleep(self, seconds):
        end = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < end:
            time.sleep(min(0.5, end - time.monotonic()))


def setup_logging(log_file):
    fmt = logging.Formatter('%(asctime)s %(levelname)s dialysis-collector: %(message)s', '%Y-%m-%d %H:%M:%S')
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
    parser = argparse.ArgumentParser(description='Dialysis machine collector (lab)')
    parser.add_argument('--config', default='/etc/dialysis-collector/config.json')
    args = parser.parse_args(argv)
    with open(args.config, encoding='utf-8') as handle:
        config = {**DEFAULTS, **json.load(handle)}
    setup_logging(config['log_file'])
    collector = Collector(config)

    def stop(signum, _frame):
        log.info('received %s, stopping', signal.Signals(signum).name)
        collector.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    collector.run()
    return 0


if __name__ == '__main__':
    sys.exit(main())
