#!/usr/bin/env python3
"""Schema + synthetic data generator of the dialysis lab (runs on a database host as root).

    generate.py --system hemodialysis [--size 200000] [--seed 1]
                [--plant bloat,invalid_index,long_transaction]
    generate.py --system ckd|pd [--size N] [--seed S]
    generate.py --system interface [--size N] [--seed S] [--failed-depth N]
    generate.py --system interface --failed-depth N     (no --size: only sets the failed rows to N)

--size is the row count of the system's big table (machine_reading, clinic_visit, pd_exchange,
message_log); the other tables scale from it. The same --size, --seed and --anchor give the same rows.
Re-running replaces the system's data (and its planted objects: the plant set is exactly --plant).
Local administration only: PostgreSQL through the unix socket as the postgres OS user (peer), MariaDB
through its socket as root (unix_socket). Progress on stderr, a JSON summary on stdout.
Everything is synthetic: patients are pseudonymous codes (P000123), birth years and sexes.
"""

import argparse
import datetime as dt
import importlib.util
import io
import json
import math
import os
import pwd
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SYSTEMS = ('hemodialysis', 'ckd', 'pd', 'interface')
DEFAULT_SIZE = {'hemodialysis': 200_000, 'ckd': 50_000, 'pd': 50_000, 'interface': 20_000}
DATABASE = {'hemodialysis': 'hemodialysis', 'ckd': 'ckd', 'pd': 'pd', 'interface': 'interface_engine'}
ENGINE = {'hemodialysis': 'postgresql', 'ckd': 'postgresql', 'pd': 'mariadb', 'interface': 'mariadb'}
PLANTS = ('bloat', 'invalid_index', 'long_transaction')
LONG_TXN_UNIT = 'dialysis-lab-long-txn'
ARCHIVE_TABLE = 'machine_reading_archive'
ARCHIVE_INDEX = 'idx_machine_reading_archive_recorded_at'
INVALID_INDEX = 'idx_machine_reading_uf_rate_ccnew'
MARIADB_SOCKET = '/run/mysqld/mysqld.sock'
OWNER = 'dialysis_app'

# Hemodialysis unit: 20 machines, 3 shifts Mon-Sat, each patient MWF or TTS on one shift and one chair.
MACHINES = 20
SHIFT_START = {1: (7, 0), 2: (12, 0), 3: (17, 0)}
READINGS_PER_SESSION = 48  # history is kept at one reading per ~5 minutes of a 4 h treatment
HD_TABLES = (
    'dialysis_machine',
    'patient',
    'treatment_session',
    'machine_reading',
    'medication_order',
    'lab_result',
)


def progress(message):
    print(f'generate: {message}', file=sys.stderr, flush=True)


class GenerateError(Exception):
    pass


# ---------------------------------------------------------------- pure functions (unit-tested)


def parse_plants(text):
    """'bloat,invalid_index' -> ['bloat', 'invalid_index'] (known names only, order of PLANTS)."""
    names = {p.strip() for p in (text or '').split(',') if p.strip()}
    unknown = names - set(PLANTS)
    if unknown:
        raise GenerateError(f'unknown --plant {sorted(unknown)}; known: {", ".join(PLANTS)}')
    return [p for p in PLANTS if p in names]


def rng_for(seed, part):
    """An independent, reproducible random stream per table (string seeds hash with SHA-512)."""
    return random.Random(f'{seed}:{part}')


def patient_code(number, prefix='P'):
    return f'{prefix}{number:06d}'


def hd_plan(size, machines=MACHINES):
    """Row counts of a hemodialysis seed of SIZE readings (sessions: ~SIZE/48 plus no-shows)."""
    if size < 1:
        raise GenerateError('--size must be at least 1')
    return {
        'patients': machines * len(SHIFT_START) * 2,
        'readings': size,
        'treated_sessions': math.ceil(size / READINGS_PER_SESSION),
    }


def schedule_of(day):
    return 'MWF' if day.isoweekday() in (1, 3, 5) else 'TTS'


def shift_start(day, shift):
    hour, minute = SHIFT_START[shift]
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.timezone.utc)


def reading_values(rng, profile, minute, duration):
    """One machine reading of a running treatment (realistic ranges), PROFILE fixed per session."""
    ramp = minute < 5
    blood = 0 if minute == 0 else profile['blood_flow'] + rng.choice((-10, 0, 0, 0, 10))
    return (
        max(0, blood),
        profile['dialysate_flow'],
        0 if ramp else min(260, max(60, profile['venous'] + rng.randint(-12, 12))),
        0 if ramp else max(-300, min(-50, profile['arterial'] + rng.randint(-12, 12))),
        0 if ramp else min(300, max(20, profile['tmp'] + rng.randint(-15, 15) + int(40 * minute / duration))),
        round(profile['conductivity'] + rng.uniform(-0.08, 0.08), 2),
        round(profile['temperature'] + rng.uniform(-0.1, 0.1), 2),
        0 if ramp else profile['uf_rate'],
    )


def session_profile(rng, uf_goal_ml, duration_min):
    return {
        'blood_flow': rng.choice((250, 280, 300, 320, 350, 380, 400)),
        'dialysate_flow': rng.choice((500, 500, 500, 600, 700)),
        'venous': rng.randint(110, 190),
        'arterial': -rng.randint(110, 220),
        'tmp': rng.randint(60, 160),
        'conductivity': rng.choice((13.8, 14.0, 14.0, 14.2)),
        'temperature': rng.choice((35.5, 36.0, 36.5, 36.5, 37.0)),
        'uf_rate': int(round(uf_goal_ml * 60 / duration_min / 10.0)) * 10,
    }


def failed_adjustment(current, target):
    """('add', n) / ('resolve', n) / (None, 0): what brings CURRENT failed messages to TARGET."""
    if target < 0:
        raise GenerateError('--failed-depth must be >= 0')
    if target > current:
        return 'add', target - current
    if target < current:
        return 'resolve', current - target
    return None, 0


def hl7_message(rng, control_id, message_type, when, patient):
    """A synthetic HL7 v2.5 message (segments separated by CR), pseudonymous patient code only."""
    stamp = when.strftime('%Y%m%d%H%M%S')
    msh = f'MSH|^~\\&|DIALYSIS|HDLAB|LIS|LAB|{stamp}||{message_type}|{control_id}|P|2.5'
    pid = f'PID|1||{patient}^^^HDLAB^PI'
    if message_type.startswith('ORU'):
        analyte, unit, low, high = rng.choice(
            (('K', 'mmol/L', 3.5, 6.5), ('HGB', 'g/L', 80, 140), ('PHOS', 'mmol/L', 0.8, 2.5))
        )
        value = round(rng.uniform(low, high), 1)
        body = f'OBR|1|||{analyte}\rOBX|1|NM|{analyte}||{value}|{unit}|||||F'
    else:
        body = f'PV1|1|O|HD^{rng.randint(1, MACHINES):02d}'
    return f'{msh}\r{pid}\r{body}\r'


def copy_text(rows):
    """Rows -> PostgreSQL COPY text format (None -> \\N)."""
    out = io.StringIO()
    for row in rows:
        out.write(
            '\t'.join(
                '\\N' if v is None else (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else str(v))
                for v in row
            )
        )
        out.write('\n')
    out.seek(0)
    return out


# ---------------------------------------------------------------- hemodialysis data


def hd_machines(seed):
    rng = rng_for(seed, 'machines')
    rows = []
    for n in range(1, MACHINES + 1):
        manufacturer, model = rng.choice(
            (('Acme Medical', 'AM-5008'), ('Nordhem', 'NH-6'), ('Acme Medical', 'AM-6000'))
        )
        commissioned = dt.date(2017, 1, 1) + dt.timedelta(days=rng.randint(0, 2200))
        rows.append(
            (
                n,
                f'HD-{n:02d}',
                manufacturer,
                model,
                f'SN-LAB-{n:04d}',
                n,
                commissioned,
                commissioned + dt.timedelta(days=rng.randint(200, 900)),
                'true',
            )
        )
    return rows


def hd_patients(seed, plan, anchor):
    rng = rng_for(seed, 'patients')
    rows = []
    for i in range(plan['patients']):
        schedule = 'MWF' if i < plan['patients'] // 2 else 'TTS'
        shift = (i % (MACHINES * 3)) // MACHINES + 1
        started = anchor - dt.timedelta(days=rng.randint(120, 3000))
        created = dt.datetime(started.year, started.month, started.day, 9, tzinfo=dt.timezone.utc)
        rows.append(
            (
                i + 1,
                patient_code(100 + i + 1),
                rng.randint(1940, 2002),
                rng.choice('FM'),
                schedule,
                shift,
                rng.choice(('AVF', 'AVF', 'AVF', 'AVG', 'CVC')),
                started,
                'true',
                created,
            )
        )
    return rows


def hd_sessions_and_readings(seed, plan, anchor):
    """Treatment sessions (history + the next days' schedule) and the readings of the treated ones.

    The history is filled backwards from the day before ANCHOR until exactly plan['readings'] readings
    exist (48 per treated session; the oldest session may have fewer), then numbered oldest first.
    """
    rng = rng_for(seed, 'sessions')
    rrng = rng_for(seed, 'readings')
    slot_patients = {}
    for i in range(plan['patients']):
        schedule = 'MWF' if i < plan['patients'] // 2 else 'TTS'
        shift = (i % (MACHINES * 3)) // MACHINES + 1
        slot_patients.setdefault((schedule, shift), []).append(i + 1)
    planned, remaining, day = [], plan['readings'], anchor
    while remaining > 0:
        day -= dt.timedelta(days=1)
        if day.isoweekday() == 7:
            continue
        for shift in (3, 2, 1):
            for chair in range(MACHINES - 1, -1, -1):
                if remaining <= 0:
                    break
                patient_id = slot_patients[(schedule_of(day), shift)][chair]
                if rng.random() < 0.02:  # no-show: cancelled, no machine, no readings
                    planned.append((day, shift, chair, patient_id, None))
                    continue
                aborted = rng.random() < 0.01
                duration = rng.randint(90, 180) if aborted else 240 + rng.choice((-15, 0, 0, 0, 15))
                start = shift_start(day, shift) + dt.timedelta(minutes=rng.randint(0, 20))
                pre = round(rng.uniform(48, 110), 1)
                uf_goal = rng.randrange(500, 3600, 100)
                post = round(pre - uf_goal / 1000 * (duration / 240) + rng.uniform(-0.3, 0.3), 1)
                count = min(READINGS_PER_SESSION, remaining)
                remaining -= count
                planned.append(
                    (
                        day,
                        shift,
                        chair,
                        patient_id,
                        {
                            'aborted': aborted,
                            'duration': duration,
                            'start': start,
                            'pre': pre,
                            'post': post,
                            'uf_goal': uf_goal,
                            'count': count,
                        },
                    )
                )
    planned.reverse()
    sessions, readings_batches, batch, batch_key = [], [], [], None
    reading_id = 0

    def flush():
        nonlocal reading_id
        batch.sort(key=lambda r: (r[0], r[1]))
        rows = []
        for recorded_at, machine_id, sid, values in batch:
            reading_id += 1
            rows.append((reading_id, machine_id, sid, recorded_at) + values)
        if rows:
            readings_batches.append(rows)
        batch.clear()

    for session_id, (day, shift, chair, patient_id, treated) in enumerate(planned, start=1):
        if (day, shift) != batch_key:
            flush()
            batch_key = (day, shift)
        if treated is None:
            sessions.append(
                (session_id, patient_id, None, day, shift, 'cancelled', None, None, 240, None, None, None)
            )
            continue
        machine_id, start, duration = chair + 1, treated['start'], treated['duration']
        sessions.append(
            (
                session_id,
                patient_id,
                machine_id,
                day,
                shift,
                'aborted' if treated['aborted'] else 'completed',
                start,
                start + dt.timedelta(minutes=duration),
                240,
                treated['pre'],
                treated['post'],
                treated['uf_goal'],
            )
        )
        profile = session_profile(rrng, treated['uf_goal'], duration)
        step = duration / READINGS_PER_SESSION
        first = READINGS_PER_SESSION - treated['count']  # a partial (oldest) session keeps its end
        for k in range(first, READINGS_PER_SESSION):
            minute = k * step
            batch.append(
                (
                    start + dt.timedelta(minutes=minute),
                    machine_id,
                    session_id,
                    reading_values(rrng, profile, minute, duration),
                )
            )
    flush()
    # The schedule of the anchor day and the next dialysis day (not started yet).
    upcoming, day = [], anchor
    while len(upcoming) < 2:
        if day.isoweekday() <= 6:
            upcoming.append(day)
        day += dt.timedelta(days=1)
    session_id = len(sessions)
    for day in upcoming:
        for shift in (1, 2, 3):
            for chair, patient_id in enumerate(slot_patients[(schedule_of(day), shift)]):
                session_id += 1
                sessions.append(
                    (
                        session_id,
                        patient_id,
                        chair + 1,
                        day,
                        shift,
                        'scheduled',
                        None,
                        None,
                        240,
                        None,
                        None,
                        None,
                    )
                )
    return sessions, readings_batches


DRUGS = (  # drug, dose, unit, route, frequency
    ('heparin', 5000, 'IU', 'IV', 'each session'),
    ('epoetin alfa', 4000, 'IU', 'IV', '3x weekly'),
    ('iron sucrose', 100, 'mg', 'IV', 'weekly'),
    ('calcitriol', 0.25, 'ug', 'PO', 'daily'),
    ('sevelamer', 800, 'mg', 'PO', 'with meals'),
    ('cinacalcet', 30, 'mg', 'PO', 'daily'),
    ('paricalcitol', 5, 'ug', 'IV', '3x weekly'),
)
ANALYTES = (  # analyte, unit, low, high, reference low, reference high
    ('hemoglobin', 'g/L', 85, 135, 115, 160),
    ('potassium', 'mmol/L', 3.6, 6.4, 3.5, 5.1),
    ('phosphate', 'mmol/L', 0.8, 2.6, 0.8, 1.5),
    ('albumin', 'g/L', 30, 45, 35, 50),
    ('urea_pre', 'mmol/L', 14, 36, 2.5, 7.8),
    ('urea_post', 'mmol/L', 3, 12, 2.5, 7.8),
    ('kt_v', '1', 1.0, 1.9, 1.2, None),
    ('pth', 'pmol/L', 5, 80, 1.6, 6.9),
)


def hd_orders(seed, plan, anchor):
    rng = rng_for(seed, 'orders')
    rows, order_id = [], 0
    for patient_id in range(1, plan['patients'] + 1):
        for drug, dose, unit, route, frequency in rng.sample(DRUGS, rng.randint(3, 6)):
            order_id += 1
            start = anchor - dt.timedelta(days=rng.randint(10, 700))
            stopped = rng.random() < 0.2
            end = start + dt.timedelta(days=rng.randint(7, 120)) if stopped else None
            if end is not None and end >= anchor:
                end, stopped = None, False
            ordered = dt.datetime(start.year, start.month, start.day, 10, tzinfo=dt.timezone.utc)
            rows.append(
                (
                    order_id,
                    patient_id,
                    drug,
                    dose,
                    unit,
                    route,
                    frequency,
                    start,
                    end,
                    'stopped' if stopped else 'active',
                    ordered,
                )
            )
    return rows


def hd_lab_results(seed, sessions):
    """A monthly panel per patient: at each patient's first treated session of a 28-day period."""
    rng = rng_for(seed, 'lab')
    first = {}
    for sid, patient_id, _machine_id, day, _shift, status, start, *_rest in sessions:
        if status != 'completed':
            continue
        period = day.toordinal() // 28
        first.setdefault((patient_id, period), (sid, start))
    rows, result_id = [], 0
    for (patient_id, _period), (sid, start) in sorted(first.items(), key=lambda kv: (kv[1][1], kv[0][0])):
        for analyte, unit, low, high, ref_low, ref_high in ANALYTES:
            result_id += 1
            value = round(rng.uniform(low, high), 2 if high < 10 else 1)
            flag = 'L' if value < ref_low else 'H' if ref_high is not None and value > ref_high else None
            rows.append(
                (
                    result_id,
                    patient_id,
                    sid,
                    analyte,
                    value,
                    unit,
                    ref_low,
                    ref_high,
                    flag,
                    start - dt.timedelta(minutes=5),
                )
            )
    return rows


def hd_dry_weights(seed, sessions):
    rng = rng_for(seed, 'dry_weight')
    last_post = {}
    for _sid, patient_id, _m, day, _s, status, _start, _end, _d, _pre, post, _uf in sessions:
        if status == 'completed' and post is not None:
            last_post.setdefault(patient_id, []).append((day, post))
    rows, rid = [], 0
    for patient_id in sorted(last_post):
        for day, post in last_post[patient_id][::12]:
            rid += 1
            rows.append(
                (
                    rid,
                    patient_id,
                    dt.datetime(day.year, day.month, day.day, 11, tzinfo=dt.timezone.utc),
                    round(post + rng.uniform(-0.5, 0.5), 1),
                    rng.choice(('clinical', 'bioimpedance')),
                    rng.choice(('nephrologist', 'dialysis_nurse')),
                    round(rng.uniform(-0.5, 2.5), 1),
                )
            )
    return rows


# ---------------------------------------------------------------- PostgreSQL plumbing


def run_as_postgres(func, *args):
    """FUNC(*ARGS) as the postgres OS user (peer authentication); its JSON-able result is returned."""
    if os.geteuid() != 0 or pwd.getpwuid(os.geteuid()).pw_name == 'postgres':
        return func(*args)
    account = pwd.getpwnam('postgres')
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        code = 0
        try:
            os.setgroups([])
            os.setgid(account.pw_gid)
            os.setuid(account.pw_uid)
            os.environ.update(HOME=account.pw_dir, USER='postgres', LOGNAME='postgres')
            os.chdir('/')
            payload = {'ok': True, 'result': func(*args)}
        except BaseException as exc:  # reported to the parent
            payload = {'ok': False, 'error': f'{type(exc).__name__}: {str(exc).strip()}'}
            code = 1
        with os.fdopen(write_fd, 'w') as pipe:
            json.dump(payload, pipe, default=str)
        os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    payload = json.loads(data or '{"ok": false, "error": "the postgres worker died"}')
    if not payload['ok']:
        raise GenerateError(payload['error'])
    return payload['result']


def pg_connect(dbname, autocommit=False, application_name='dialysis-lab-generate'):
    import psycopg2

    conn = psycopg2.connect(dbname=dbname, application_name=application_name)
    conn.autocommit = autocommit
    return conn


def pg_prepare_database(dbname):
    """Create DBNAME (owned by dialysis_app when that role exists); return the owner role or None."""
    conn = pg_connect('postgres', autocommit=True)
    with conn.cursor() as cur:
        cur.execute('SELECT 1 FROM pg_roles WHERE rolname = %s', (OWNER,))
        owner = OWNER if cur.fetchone() else None
        cur.execute('SELECT 1 FROM pg_database WHERE datname = %s', (dbname,))
        if not cur.fetchone():
            progress(f'creating database {dbname}')
            cur.execute(f'CREATE DATABASE "{dbname}"' + (f' OWNER "{owner}"' if owner else ''))
    conn.close()
    return owner


def pg_copy(cur, table, columns, rows, label=None, chunk=50_000):
    """COPY ROWS (an iterable of tuples) into TABLE in chunks, with progress for big tables."""
    buffer, done = [], 0
    for row in rows:
        buffer.append(row)
        if len(buffer) >= chunk:
            cur.copy_expert(f'COPY {table} ({", ".join(columns)}) FROM STDIN', copy_text(buffer))
            done += len(buffer)
            buffer = []
            if label:
                progress(f'{label}: {table} {done} rows')
    if buffer:
        cur.copy_expert(f'COPY {table} ({", ".join(columns)}) FROM STDIN', copy_text(buffer))
        done += len(buffer)
    return done


def load_migrate():
    for candidate in (HERE / 'service' / 'migrate.py', HERE.parent / 'service' / 'migrate.py'):
        if candidate.exists():
            spec = importlib.util.spec_from_file_location('dialysis_migrate', candidate)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            return module, candidate.parent / 'migrations'
    raise GenerateError(f'migrate.py not found in {HERE / "service"} or {HERE.parent / "service"}')


def schema_file(name):
    for candidate in (HERE / 'schema' / name, HERE.parent / 'schema' / name):
        if candidate.exists():
            return candidate.read_text(encoding='utf-8')
    raise GenerateError(f'schema file {name} not found in {HERE / "schema"} or {HERE.parent / "schema"}')


def pg_tables(cur):
    cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r[0] for r in cur.fetchall()}


def seed_hemodialysis(size, seed, anchor_iso, plants):
    started = time.monotonic()
    anchor = dt.date.fromisoformat(anchor_iso)
    dbname = DATABASE['hemodialysis']
    owner = pg_prepare_database(dbname)
    migrate, migrations_dir = load_migrate()
    conn = pg_connect(dbname)
    cur = conn.cursor()
    if 'bloat' in plants:
        cur.execute('CREATE EXTENSION IF NOT EXISTS pgstattuple')
        conn.commit()
    if owner:
        cur.execute(f'SET ROLE "{owner}"')
    migrate.ensure_table(conn)
    first = migrate.discover(migrations_dir, wanted=['0001'])[0]
    if '0001' not in {row['version'] for row in migrate.applied(conn)}:
        progress('applying migration 0001 (the service release 1.0 schema)')
        migrate.apply_up(conn, first, '1.0')
    cur.execute('SET lock_timeout = %s', ('60s',))
    cur.execute(f'DROP TABLE IF EXISTS {ARCHIVE_TABLE}')
    cur.execute(f'DROP INDEX IF EXISTS {INVALID_INDEX}')
    tables = pg_tables(cur)
    extra = [t for t in ('dry_weight_assessment',) if t in tables]
    cur.execute(f'TRUNCATE {", ".join(HD_TABLES + tuple(extra))} RESTART IDENTITY CASCADE')

    plan = hd_plan(size)
    progress(
        f'hemodialysis: {plan["patients"]} patients, ~{plan["treated_sessions"]} treated sessions, '
        f'{size} readings'
    )
    counts = {}
    counts['dialysis_machine'] = pg_copy(
        cur,
        'dialysis_machine',
        (
            'id',
            'code',
            'manufacturer',
            'model',
            'serial_number',
            'station',
            'commissioned_on',
            'last_maintenance_on',
            'active',
        ),
        hd_machines(seed),
    )
    counts['patient'] = pg_copy(
        cur,
        'patient',
        (
            'id',
            'code',
            'birth_year',
            'sex',
            'schedule',
            'shift',
            'vascular_access',
            'started_dialysis_on',
            'active',
            'created_at',
        ),
        hd_patients(seed, plan, anchor),
    )
    sessions, reading_batches = hd_sessions_and_readings(seed, plan, anchor)
    counts['treatment_session'] = pg_copy(
        cur,
        'treatment_session',
        (
            'id',
            'patient_id',
            'machine_id',
            'scheduled_date',
            'shift',
            'status',
            'started_at',
            'ended_at',
            'prescribed_duration_min',
            'pre_weight_kg',
            'post_weight_kg',
            'uf_goal_ml',
        ),
        sessions,
    )
    counts['machine_reading'] = pg_copy(
        cur,
        'machine_reading',
        (
            'id',
            'machine_id',
            'session_id',
            'recorded_at',
            'blood_flow_ml_min',
            'dialysate_flow_ml_min',
            'venous_pressure_mmhg',
            'arterial_pressure_mmhg',
            'tmp_mmhg',
            'conductivity_ms_cm',
            'temperature_c',
            'uf_rate_ml_h',
        ),
        (row for batch in reading_batches for row in batch),
        label='hemodialysis',
    )
    counts['medication_order'] = pg_copy(
        cur,
        'medication_order',
        (
            'id',
            'patient_id',
            'drug',
            'dose',
            'unit',
            'route',
            'frequency',
            'start_date',
            'end_date',
            'status',
            'ordered_at',
        ),
        hd_orders(seed, plan, anchor),
    )
    counts['lab_result'] = pg_copy(
        cur,
        'lab_result',
        (
            'id',
            'patient_id',
            'session_id',
            'analyte',
            'value',
            'unit',
            'reference_low',
            'reference_high',
            'flag',
            'taken_at',
        ),
        hd_lab_results(seed, sessions),
    )
    if extra:
        counts['dry_weight_assessment'] = pg_copy(
            cur,
            'dry_weight_assessment',
            (
                'id',
                'patient_id',
                'assessed_at',
                'dry_weight_kg',
                'method',
                'assessor_role',
                'overhydration_l',
            ),
            hd_dry_weights(seed, sessions),
        )
    for table in counts:
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f'(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)'
        )
    conn.commit()
    progress(f'hemodialysis: data loaded in {time.monotonic() - started:.1f} s; analyzing')
    conn.autocommit = True
    for table in counts:
        cur.execute(f'ANALYZE {table}')
    planted = {}
    if 'bloat' in plants:
        planted.update(plant_bloat(cur))
    if 'invalid_index' in plants:
        planted.update(plant_invalid_index(cur))
    conn.close()
    days = sorted({s[3] for s in sessions if s[5] != 'scheduled'})
    return {
        'tables': counts,
        'planted': planted,
        'history': {'first_day': days[0].isoformat(), 'last_day': days[-1].isoformat(), 'days': len(days)},
    }


def plant_bloat(cur):
    """An archive table with 2/3 of its tuples dead and autovacuum off; its index with sparse leaves.

    80 % of the rows are purged and vacuumed (the index keeps its size, its leaf pages 1/5 full), then
    half of the rest is updated and the other half deleted with no vacuum after it.
    """
    progress(f'planting bloat: {ARCHIVE_TABLE}')
    cur.execute(
        f'CREATE TABLE {ARCHIVE_TABLE} (LIKE machine_reading INCLUDING DEFAULTS) '
        'WITH (autovacuum_enabled = false, toast.autovacuum_enabled = false)'
    )
    cur.execute(f'INSERT INTO {ARCHIVE_TABLE} SELECT * FROM machine_reading ORDER BY id')
    cur.execute(f'CREATE INDEX {ARCHIVE_INDEX} ON {ARCHIVE_TABLE} (recorded_at)')
    cur.execute(f'DELETE FROM {ARCHIVE_TABLE} WHERE id % 5 <> 0')
    # The statistics of the DELETE reach pg_stat_user_tables before VACUUM resets them (PG 15: the
    # counts are flushed when the backend goes idle, at most once a second unless forced).
    cur.execute('SELECT pg_stat_force_next_flush()')
    cur.execute(f'VACUUM {ARCHIVE_TABLE}')
    cur.execute(f'UPDATE {ARCHIVE_TABLE} SET uf_rate_ml_h = uf_rate_ml_h WHERE id % 10 = 0')
    updated = cur.rowcount
    cur.execute(f'DELETE FROM {ARCHIVE_TABLE} WHERE id % 10 = 5')
    deleted = cur.rowcount
    cur.execute('SELECT pg_stat_force_next_flush()')
    return {
        'bloat': {
            'table': ARCHIVE_TABLE,
            'index': ARCHIVE_INDEX,
            'autovacuum_enabled': False,
            'dead_tuples': updated + deleted,
            'live_tuples': updated,
        }
    }


def plant_invalid_index(cur):
    """A failed CREATE UNIQUE INDEX CONCURRENTLY over duplicate values leaves an INVALID index."""
    import psycopg2

    progress(f'planting invalid index: {INVALID_INDEX}')
    cur.execute(
        'SELECT EXISTS (SELECT 1 FROM machine_reading GROUP BY machine_id, uf_rate_ml_h HAVING count(*) > 1)'
    )
    if not cur.fetchone()[0]:
        raise GenerateError('invalid_index needs duplicate (machine_id, uf_rate_ml_h) readings: raise --size')
    try:
        cur.execute(
            f'CREATE UNIQUE INDEX CONCURRENTLY {INVALID_INDEX} ON machine_reading (machine_id, uf_rate_ml_h)'
        )
    except psycopg2.errors.UniqueViolation as exc:
        failure = str(exc).strip().splitlines()[0]
    else:
        raise GenerateError(f'CREATE UNIQUE INDEX CONCURRENTLY {INVALID_INDEX} unexpectedly succeeded')
    cur.execute(
        'SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s',
        (INVALID_INDEX,),
    )
    row = cur.fetchone()
    if row is None or row[0]:
        raise GenerateError(f'{INVALID_INDEX} was not left INVALID')
    return {
        'invalid_index': {
            'index': INVALID_INDEX,
            'table': 'machine_reading',
            'indisvalid': False,
            'failure': failure,
        }
    }


CKD_STAGES = ('3a', '3a', '3b', '3b', '4', '4', '5', '2')


def seed_ckd(size, seed, anchor_iso):
    anchor = dt.date.fromisoformat(anchor_iso)
    dbname = DATABASE['ckd']
    owner = pg_prepare_database(dbname)
    conn = pg_connect(dbname)
    cur = conn.cursor()
    if owner:
        cur.execute(f'SET ROLE "{owner}"')
    cur.execute(schema_file('ckd.sql'))
    cur.execute('TRUNCATE ckd_patient, clinic_visit, ckd_medication RESTART IDENTITY CASCADE')
    rng = rng_for(seed, 'ckd')
    patients = max(1, size // 12)
    prows, vrows, mrows = [], [], []
    visits_left = size
    for pid in range(1, patients + 1):
        stage = rng.choice(CKD_STAGES)
        enrolled = anchor - dt.timedelta(days=rng.randint(400, 2500))
        prows.append(
            (
                pid,
                patient_code(pid, 'C'),
                rng.randint(1935, 1995),
                rng.choice('FM'),
                stage,
                rng.choice(
                    (
                        'diabetic nephropathy',
                        'hypertensive nephrosclerosis',
                        'IgA nephropathy',
                        'polycystic kidney disease',
                        'unknown',
                    )
                ),
                enrolled,
                'true',
            )
        )
        for drug, dose, unit in rng.sample(
            (
                ('ramipril', 5, 'mg'),
                ('losartan', 50, 'mg'),
                ('dapagliflozin', 10, 'mg'),
                ('furosemide', 40, 'mg'),
                ('sodium bicarbonate', 1000, 'mg'),
            ),
            2,
        ):
            mrows.append((len(mrows) + 1, pid, drug, dose, unit, enrolled, None))
    # Visits: every patient every ~3 months, newest first going back, until SIZE visits exist.
    egfr = {pid: rng.uniform(12, 55) for pid in range(1, patients + 1)}
    round_no = 0
    while visits_left > 0:
        for pid in range(1, patients + 1):
            if visits_left == 0:
                break
            day = anchor - dt.timedelta(days=1 + round_no * 91 + (pid * 7) % 60)
            value = max(5.0, egfr[pid] + round_no * rng.uniform(0.2, 1.5))
            vrows.append(
                (
                    pid,
                    day,
                    rng.choice(('routine', 'routine', 'routine', 'telephone', 'urgent')),
                    round(value, 1),
                    int(6500 / value + rng.randint(-20, 20)),
                    round(rng.uniform(3, 120), 1),
                    rng.randint(115, 170),
                    rng.randint(65, 100),
                    round(rng.uniform(50, 110), 1),
                    day + dt.timedelta(days=91),
                )
            )
            visits_left -= 1
        round_no += 1
    vrows.sort(key=lambda r: (r[1], r[0]))
    vrows = [(i + 1,) + r for i, r in enumerate(vrows)]
    counts = {
        'ckd_patient': pg_copy(
            cur,
            'ckd_patient',
            ('id', 'code', 'birth_year', 'sex', 'ckd_stage', 'primary_disease', 'enrolled_on', 'active'),
            prows,
        ),
        'clinic_visit': pg_copy(
            cur,
            'clinic_visit',
            (
                'id',
                'patient_id',
                'visit_date',
                'visit_type',
                'egfr_ml_min',
                'creatinine_umol_l',
                'urine_acr_mg_mmol',
                'systolic_mmhg',
                'diastolic_mmhg',
                'weight_kg',
                'next_visit_due',
            ),
            vrows,
            label='ckd',
        ),
        'ckd_medication': pg_copy(
            cur,
            'ckd_medication',
            ('id', 'patient_id', 'drug', 'dose', 'unit', 'start_date', 'end_date'),
            mrows,
        ),
    }
    for table in counts:
        cur.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f'(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)'
        )
    conn.commit()
    conn.autocommit = True
    for table in counts:
        cur.execute(f'ANALYZE {table}')
    conn.close()
    return {'tables': counts, 'planted': {}}


# ---------------------------------------------------------------- MariaDB


def my_connect(dbname=None):
    import pymysql

    return pymysql.connect(
        unix_socket=MARIADB_SOCKET, user='root', database=dbname, autocommit=False, charset='utf8mb4'
    )


def my_prepare(dbname, schema):
    conn = my_connect()
    with conn.cursor() as cur:
        cur.execute(
            f'CREATE DATABASE IF NOT EXISTS `{dbname}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci'
        )
        cur.execute(f'USE `{dbname}`')
        for statement in split_sql(schema):
            cur.execute(statement)
    conn.commit()
    return conn


def split_sql(text):
    """Statements of a schema file (no semicolons inside literals in our files; -- comments dropped)."""
    lines = [line for line in text.splitlines() if not line.strip().startswith('--')]
    return [s.strip() for s in '\n'.join(lines).split(';') if s.strip()]


def my_truncate(cur, tables):
    cur.execute('SET FOREIGN_KEY_CHECKS = 0')
    for table in tables:
        cur.execute(f'TRUNCATE TABLE `{table}`')
    cur.execute('SET FOREIGN_KEY_CHECKS = 1')


def my_insert(cur, table, columns, rows, label=None, chunk=5000):
    sql = f'INSERT INTO `{table}` ({", ".join(columns)}) VALUES ({", ".join(["%s"] * len(columns))})'
    done = 0
    for i in range(0, len(rows), chunk):
        cur.executemany(sql, rows[i : i + chunk])
        done += len(rows[i : i + chunk])
        if label and done % 50_000 < chunk:
            progress(f'{label}: {table} {done} rows')
    return done


SOLUTIONS = ('glucose_1_36', 'glucose_1_36', 'glucose_2_27', 'glucose_3_86', 'icodextrin_7_5')


def seed_pd(size, seed, anchor_iso):
    anchor = dt.date.fromisoformat(anchor_iso)
    conn = my_prepare(DATABASE['pd'], schema_file('pd.sql'))
    cur = conn.cursor()
    my_truncate(cur, ('pd_exchange', 'pd_prescription', 'pd_peritonitis_episode', 'pd_patient'))
    rng = rng_for(seed, 'pd')
    per_patient = 4 * 90  # four exchanges a day over the last 90 days
    patients = max(1, math.ceil(size / per_patient))
    prows, rxrows, erows, perows = [], [], [], []
    left = size
    for pid in range(1, patients + 1):
        modality = rng.choice(('CAPD', 'CAPD', 'APD'))
        started = anchor - dt.timedelta(days=rng.randint(120, 2000))
        prows.append(
            (pid, patient_code(pid, 'D'), rng.randint(1940, 2000), rng.choice('FM'), modality, started, 1)
        )
        fill = rng.choice((1500, 2000, 2000, 2500))
        rxrows.append((pid, pid, rng.choice(SOLUTIONS[:3]), fill, 4, anchor - dt.timedelta(days=100), None))
        if rng.random() < 0.1:
            onset = anchor - dt.timedelta(days=rng.randint(10, 300))
            perows.append(
                (
                    len(perows) + 1,
                    pid,
                    onset,
                    rng.choice(('S. epidermidis', 'S. aureus', 'culture negative')),
                    onset + dt.timedelta(days=rng.randint(10, 21)),
                )
            )
        count = min(per_patient, left)
        left -= count
        for k in range(count):
            day = anchor - dt.timedelta(days=90 - k // 4)
            when = dt.datetime(day.year, day.month, day.day, (7, 12, 17, 22)[k % 4], rng.randint(0, 40))
            solution = 'icodextrin_7_5' if k % 4 == 3 and rng.random() < 0.3 else rng.choice(SOLUTIONS[:3])
            drain = fill + rng.randint(-150, 450) + (200 if solution == 'glucose_3_86' else 0)
            erows.append(
                (
                    when,
                    pid,
                    solution,
                    fill,
                    drain,
                    rng.randint(180, 600 if k % 4 == 3 else 300),
                    drain - fill,
                    1 if rng.random() < 0.002 else 0,
                )
            )
    erows.sort(key=lambda r: (r[0], r[1]))
    erows = [(i + 1, r[1], r[0]) + r[2:] for i, r in enumerate(erows)]
    counts = {
        'pd_patient': my_insert(
            cur, 'pd_patient', ('id', 'code', 'birth_year', 'sex', 'modality', 'started_on', 'active'), prows
        ),
        'pd_prescription': my_insert(
            cur,
            'pd_prescription',
            ('id', 'patient_id', 'solution', 'fill_volume_ml', 'exchanges_per_day', 'valid_from', 'valid_to'),
            rxrows,
        ),
        'pd_exchange': my_insert(
            cur,
            'pd_exchange',
            (
                'id',
                'patient_id',
                'performed_at',
                'solution',
                'fill_volume_ml',
                'drain_volume_ml',
                'dwell_minutes',
                'uf_ml',
                'effluent_cloudy',
            ),
            erows,
            label='pd',
        ),
        'pd_peritonitis_episode': my_insert(
            cur,
            'pd_peritonitis_episode',
            ('id', 'patient_id', 'onset_date', 'organism', 'resolved_on'),
            perows,
        ),
    }
    conn.commit()
    for table in counts:
        cur.execute(f'ANALYZE TABLE `{table}`')
        cur.fetchall()
    conn.close()
    return {'tables': counts, 'planted': {}}


CHANNELS = (  # id, name, direction, protocol, peer, port
    (1, 'his-adt', 'inbound', 'mllp', 'HIS', 2575),
    (2, 'lis-results', 'inbound', 'mllp', 'LIS', 2576),
    (3, 'machine-gateway', 'inbound', 'tcp', 'HD machines', 4001),
    (4, 'lis-orders', 'outbound', 'mllp', 'LIS', 2576),
    (5, 'his-results', 'outbound', 'mllp', 'HIS', 2575),
)
FAILED_ERRORS = (
    'timeout waiting for ACK after 30 s',
    'connection refused by peer',
    'ACK AE: segment OBX-5 rejected by receiver',
    'connection reset during send',
)


def outbound_row(rng, control_number, when, status, patients=120):
    channel = rng.choice((4, 5))
    message_type = 'ORM^O01' if channel == 4 else 'ORU^R01'
    control_id = f'HDLAB{control_number:08d}'
    payload = hl7_message(rng, control_id, message_type, when, patient_code(100 + rng.randint(1, patients)))
    attempts = {'sent': 1, 'queued': 0, 'failed': rng.randint(3, 8)}[status]
    last_attempt = None if status == 'queued' else when + dt.timedelta(seconds=rng.randint(1, 600))
    return (
        channel,
        control_id,
        message_type,
        when,
        status,
        attempts,
        last_attempt,
        last_attempt if status == 'sent' else None,
        rng.choice(FAILED_ERRORS) if status == 'failed' else None,
        payload,
    )


OUTBOUND_COLUMNS = (
    'channel_id',
    'control_id',
    'message_type',
    'created_at',
    'status',
    'attempts',
    'last_attempt_at',
    'sent_at',
    'last_error',
    'payload',
)


def seed_interface(size, seed, anchor_iso, failed_depth):
    anchor = dt.date.fromisoformat(anchor_iso)
    conn = my_prepare(DATABASE['interface'], schema_file('interface_engine.sql'))
    cur = conn.cursor()
    my_truncate(cur, ('message_log', 'outbound_message', 'channel'))
    rng = rng_for(seed, 'interface')
    end = dt.datetime(anchor.year, anchor.month, anchor.day)
    span = dt.timedelta(days=30).total_seconds()
    logs = []
    for i in range(size):
        channel = rng.choice((1, 1, 2, 2, 2, 3, 4, 5))
        when = end - dt.timedelta(seconds=span * (size - i) / size)
        direction = 'outbound' if channel >= 4 else 'inbound'
        message_type = {1: 'ADT^A08', 2: 'ORU^R01', 3: 'TELEMETRY', 4: 'ORM^O01', 5: 'ORU^R01'}[channel]
        logs.append(
            (
                i + 1,
                channel,
                direction,
                message_type,
                f'MSG{i + 1:09d}',
                when,
                'AA' if rng.random() > 0.001 else 'AE',
                rng.randint(180, 2400),
            )
        )
    outbound = max(10, size // 10)
    failed_depth = 0 if failed_depth is None else failed_depth
    queued = min(3, outbound)
    rows = []
    for i in range(outbound):
        when = end - dt.timedelta(seconds=span * (outbound - i) / outbound)
        status = 'sent' if i < outbound - queued else 'queued'
        rows.append(outbound_row(rng, i + 1, when, status))
    counts = {
        'channel': my_insert(
            cur, 'channel', ('id', 'name', 'direction', 'protocol', 'peer', 'port'), CHANNELS
        ),
        'message_log': my_insert(
            cur,
            'message_log',
            (
                'id',
                'channel_id',
                'direction',
                'message_type',
                'control_id',
                'received_at',
                'ack_code',
                'size_bytes',
            ),
            logs,
            label='interface',
        ),
        'outbound_message': my_insert(cur, 'outbound_message', OUTBOUND_COLUMNS, rows),
    }
    conn.commit()
    planted = set_failed_depth(conn, failed_depth, seed)
    counts['outbound_message'] += planted['failed_messages']['added']
    conn.close()
    return {'tables': counts, 'planted': planted}


def set_failed_depth(conn, target, seed):
    """Make exactly TARGET outbound messages 'failed': add new failures or resolve (send) the newest."""
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM outbound_message WHERE status = 'failed'")
    action, n = failed_adjustment(cur.fetchone()[0], target)
    added = 0
    if action == 'add':
        cur.execute('SELECT coalesce(max(id), 0) FROM outbound_message')
        base = int(cur.fetchone()[0])
        rng = rng_for(seed, f'failed:{base}')
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
        rows = [
            outbound_row(rng, 90_000_000 + base + k + 1, now - dt.timedelta(minutes=5 * (n - k)), 'failed')
            for k in range(n)
        ]
        added = my_insert(cur, 'outbound_message', OUTBOUND_COLUMNS, rows)
    elif action == 'resolve':
        cur.execute(
            "UPDATE outbound_message SET status = 'sent', sent_at = now(), last_attempt_at = now(), "
            "attempts = attempts + 1 WHERE status = 'failed' ORDER BY id DESC LIMIT %s",
            (n,),
        )
    conn.commit()
    cur.execute("SELECT count(*) FROM outbound_message WHERE status = 'failed'")
    failed = cur.fetchone()[0]
    if failed != target:
        raise GenerateError(f'outbound_message has {failed} failed rows, not {target}')
    return {
        'failed_messages': {
            'table': 'outbound_message',
            'failed': failed,
            'added': added,
            'resolved': n if action == 'resolve' else 0,
        }
    }


def only_failed_depth(target, seed):
    conn = my_connect()
    try:
        with conn.cursor() as cur:
            cur.execute(
                'SELECT count(*) FROM information_schema.tables WHERE table_schema = %s '
                "AND table_name = 'outbound_message'",
                (DATABASE['interface'],),
            )
            if not cur.fetchone()[0]:
                return None
            cur.execute(f'USE `{DATABASE["interface"]}`')
        planted = set_failed_depth(conn, target, seed)
        with conn.cursor() as cur:
            counts = {}
            for table in ('channel', 'message_log', 'outbound_message'):
                cur.execute(f'SELECT count(*) FROM `{table}`')
                counts[table] = cur.fetchone()[0]
        return {'tables': counts, 'planted': planted}
    finally:
        conn.close()


# ---------------------------------------------------------------- long transaction


def systemctl(*args):
    return subprocess.run(('systemctl',) + args, capture_output=True, text=True)


def stop_long_transaction():
    if systemctl('is-active', '--quiet', f'{LONG_TXN_UNIT}.service').returncode == 0:
        progress(f'stopping {LONG_TXN_UNIT}.service')
        systemctl('stop', f'{LONG_TXN_UNIT}.service')
    systemctl('reset-failed', f'{LONG_TXN_UNIT}.service')


def start_long_transaction(dbname):
    progress(f'planting long transaction: {LONG_TXN_UNIT}.service')
    command = [
        'systemd-run',
        f'--unit={LONG_TXN_UNIT}',
        '--uid=postgres',
        '--collect',
        f'--description=dialysis lab: a transaction held open on {dbname} (planted)',
        sys.executable,
        str(Path(__file__).resolve()),
        '--hold-transaction',
        dbname,
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise GenerateError(f'systemd-run failed: {done.stderr.strip()}')
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        row = run_as_postgres(long_transaction_row, dbname)
        if row:
            return {
                'long_transaction': {
                    'unit': f'{LONG_TXN_UNIT}.service',
                    'application_name': LONG_TXN_UNIT,
                    'database': dbname,
                    'pid': row[0],
                    'state': row[1],
                    'xact_start': row[2],
                }
            }
        time.sleep(0.5)
    raise GenerateError(f'{LONG_TXN_UNIT}.service did not open its transaction within 20 s')


def long_transaction_row(dbname):
    conn = pg_connect(dbname, autocommit=True)
    with conn.cursor() as cur:
        cur.execute(
            'SELECT pid, state, xact_start FROM pg_stat_activity WHERE application_name = %s '
            "AND state = 'idle in transaction' AND backend_xmin IS NOT NULL",
            (LONG_TXN_UNIT,),
        )
        row = cur.fetchone()
    conn.close()
    return [row[0], row[1], row[2].isoformat()] if row else None


def hold_transaction(dbname):
    """What the planted unit runs: BEGIN, take a snapshot and an xid, then wait (idle in transaction)."""
    conn = pg_connect(dbname, application_name=LONG_TXN_UNIT)
    conn.set_session(isolation_level='REPEATABLE READ')
    with conn.cursor() as cur:
        cur.execute('SELECT txid_current(), now()')  # no table lock: only the snapshot and the xid
        xid, started = cur.fetchone()
    print(f'holding transaction {xid} on {dbname} since {started.isoformat()}', flush=True)

    def stop(_signum, _frame):
        conn.rollback()
        conn.close()
        print('transaction rolled back', flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        signal.pause()


# ---------------------------------------------------------------- main


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--system', choices=SYSTEMS)
    parser.add_argument(
        '--size',
        type=int,
        help='rows of the big table (default per system: '
        + ', '.join(f'{k} {v}' for k, v in DEFAULT_SIZE.items())
        + ')',
    )
    parser.add_argument('--seed', default='1', help='random seed (default 1)')
    parser.add_argument(
        '--anchor', default=None, help='YYYY-MM-DD the history ends before (default: today, UTC)'
    )
    parser.add_argument('--plant', default='', help='comma list of ' + ', '.join(PLANTS) + ' (hemodialysis)')
    parser.add_argument(
        '--failed-depth', type=int, help='interface: exact number of failed outbound messages'
    )
    parser.add_argument('--hold-transaction', metavar='DBNAME', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.hold_transaction:
        hold_transaction(args.hold_transaction)
        return 0
    if not args.system:
        parser.error('--system is required')
    try:
        plants = parse_plants(args.plant)
        if plants and args.system != 'hemodialysis':
            raise GenerateError('--plant applies to --system hemodialysis only')
        if args.failed_depth is not None and args.system != 'interface':
            raise GenerateError('--failed-depth applies to --system interface only')
        if args.failed_depth is not None and args.failed_depth < 0:
            raise GenerateError('--failed-depth must be >= 0')
        anchor = args.anchor or dt.datetime.now(dt.timezone.utc).date().isoformat()
        dt.date.fromisoformat(anchor)
        started = time.monotonic()
        result = None
        size = args.size
        if args.system == 'interface' and args.failed_depth is not None and size is None:
            result = only_failed_depth(args.failed_depth, args.seed)  # None: not seeded yet
        if result is None:
            size = size if size is not None else DEFAULT_SIZE[args.system]
            if size < 1:
                raise GenerateError('--size must be at least 1')
            if args.system == 'hemodialysis':
                if 'invalid_index' in plants and size < 2:
                    raise GenerateError('invalid_index needs duplicate readings: --size must be at least 2')
                stop_long_transaction()
                result = run_as_postgres(seed_hemodialysis, size, args.seed, anchor, plants)
                if 'long_transaction' in plants:
                    result['planted'].update(start_long_transaction(DATABASE['hemodialysis']))
            elif args.system == 'ckd':
                result = run_as_postgres(seed_ckd, size, args.seed, anchor)
            elif args.system == 'pd':
                result = seed_pd(size, args.seed, anchor)
            else:
                result = seed_interface(size, args.seed, anchor, args.failed_depth)
    except GenerateError as exc:
        progress(f'ERROR {exc}')
        return 1
    except Exception as exc:  # a database error: one line, no traceback
        progress(f'ERROR {type(exc).__name__}: {str(exc).strip()}')
        return 1
    summary = {
        'system': args.system,
        'engine': ENGINE[args.system],
        'database': DATABASE[args.system],
        'size': size,
        'seed': args.seed,
        'anchor': anchor,
        'seconds': round(time.monotonic() - started, 1),
        **result,
    }
    print(json.dumps(summary, indent=2, sort_keys=True, default=str))
    return 0


if __name__ == '__main__':
    sys.exit(main())
