"""The generator's pure functions: plans, reproducible rows, realistic values, HL7 text."""

import datetime as dt
import re

import pytest

ANCHOR = dt.date(2025, 11, 26)  # a Wednesday


def sessions_and_readings(generate, size, seed='1'):
    plan = generate.hd_plan(size)
    sessions, batches = generate.hd_sessions_and_readings(seed, plan, ANCHOR)
    return plan, sessions, [row for batch in batches for row in batch]


def test_plants_are_validated(generate):
    assert generate.parse_plants('long_transaction, bloat') == ['bloat', 'long_transaction']
    assert generate.parse_plants('') == []
    with pytest.raises(generate.GenerateError, match='unknown --plant'):
        generate.parse_plants('bloat,vacuum')


def test_exact_reading_count_and_reproducible(generate):
    _, sessions, readings = sessions_and_readings(generate, 5000)
    assert len(readings) == 5000
    assert [r[0] for r in readings] == list(range(1, 5001))
    _, sessions_again, readings_again = sessions_and_readings(generate, 5000)
    assert sessions_again == sessions and readings_again == readings
    _, _, other = sessions_and_readings(generate, 5000, seed='2')
    assert other != readings


def test_sessions_follow_the_unit_schedule(generate):
    plan, sessions, readings = sessions_and_readings(generate, 20000)
    assert plan['patients'] == 120
    by_id = {s[0]: s for s in sessions}
    assert [s[0] for s in sessions] == list(range(1, len(sessions) + 1))
    for _sid, patient_id, machine_id, day, shift, status, start, end, *_ in sessions:
        assert day.isoweekday() <= 6 and shift in (1, 2, 3) and 1 <= patient_id <= 120
        if status in ('completed', 'aborted'):
            assert day < ANCHOR and 1 <= machine_id <= 20 and start.date() == day and end > start
        elif status == 'scheduled':
            assert day >= ANCHOR and start is None
        else:
            assert status == 'cancelled' and machine_id is None
    statuses = {s[5] for s in sessions}
    assert {'completed', 'scheduled', 'cancelled'} <= statuses
    for _, machine_id, session_id, recorded_at, *_ in readings:
        session = by_id[session_id]
        assert session[2] == machine_id and session[6] <= recorded_at <= session[7]
    # readings are stored in time order (the BRIN index on recorded_at relies on it)
    times = [r[3] for r in readings]
    assert times == sorted(times)


def test_reading_values_are_realistic(generate):
    _, _, readings = sessions_and_readings(generate, 10000)
    for _, _, _, _, blood, dialysate, venous, arterial, tmp, conductivity, temp, uf in readings:
        assert 0 <= blood <= 450 and dialysate in (500, 600, 700)
        assert venous == 0 or 60 <= venous <= 260
        assert arterial == 0 or -300 <= arterial <= -50
        assert 0 <= tmp <= 300 and 13.5 <= conductivity <= 14.5 and 35.0 <= temp <= 37.5
        assert 0 <= uf <= 2500 and uf % 10 == 0


def test_patient_codes_are_pseudonymous(generate):
    assert generate.patient_code(123) == 'P000123'
    rows = generate.hd_patients('1', generate.hd_plan(1000), ANCHOR)
    assert all(re.fullmatch(r'P\d{6}', r[1]) for r in rows) and len({r[1] for r in rows}) == len(rows)
    assert all(len(r) == 10 for r in rows)  # id, code, birth year, sex, schedule, shift, access, start, ...


def test_failed_adjustment(generate):
    assert generate.failed_adjustment(0, 5) == ('add', 5)
    assert generate.failed_adjustment(7, 2) == ('resolve', 5)
    assert generate.failed_adjustment(3, 3) == (None, 0)
    with pytest.raises(generate.GenerateError):
        generate.failed_adjustment(0, -1)


def test_hl7_messages_are_acked_by_the_standin(generate, interface):
    rng = generate.rng_for('1', 'test')
    when = dt.datetime(2025, 11, 26, 8, 30)
    for message_type in ('ORU^R01', 'ORM^O01'):
        message = generate.hl7_message(rng, 'HDLAB00000042', message_type, when, 'P000101')
        reply, code, control = interface.ack(message)
        assert (code, control) == ('AA', 'HDLAB00000042')
        assert 'PID|1||P000101^^^HDLAB^PI' in message and '20251126083000' in message


def test_copy_text(generate):
    when = dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert generate.copy_text([(1, None, 'x', when)]).read() == '1\t\\N\tx\t2025-01-02T03:04:05+00:00\n'


def test_generator_applies_the_service_migration_through_migrate(generate):
    module, migrations = generate.load_migrate()
    assert migrations.name == 'migrations' and (migrations / '0001_hemodialysis_schema.sql').exists()
    assert 'CREATE TABLE IF NOT EXISTS schema_migrations' in module.SCHEMA_MIGRATIONS_DDL
