"""The disaster-recovery drill's record (module_utils/dialysis_dr, module dr_drill): each step
timed; a step that failed or never ran is never a success; the recovery time only when the
service came up healthy, judged against the RTO target."""

import pytest

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_dr import (
    DR_STEPS,
    dr_record,
    validate_steps,
)
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import validate_record

T0 = 1796000000.0


def steps(durations, outcomes=None, cleanup='ok'):
    """Consecutive steps of the given durations (seconds), outcome ok unless named."""
    out, now = [], T0
    outcomes = outcomes or {}
    for name, seconds in zip(DR_STEPS, durations, strict=False):
        out.append({'step': name, 'started': now, 'ended': now + seconds,
                    'outcome': outcomes.get(name, 'ok'), 'detail': '%s detail' % name,
                    'reason': 'restore_failed' if outcomes.get(name) == 'failed' else None})
        now += seconds
    if cleanup:
        out.append({'step': 'cleanup', 'started': now, 'ended': now + 2, 'outcome': cleanup})
    return out


def record(step_list, **extra):
    params = dict({'system': 'hemodialysis', 'steps': step_list, 'rto_minutes': 30,
                   'standby': 'hd-standby-01',
                   'source_host': 'hd-db-01', 'backup_set': 'hemodialysis-pg_dump',
                   'backup': 'hemodialysis-20261201T020000Z.dump', 'database': 'hemodialysis',
                   'service': 'dialysis-service.service', 'ticket': 'CHG-1'}, **extra)
    result = dr_record(params)
    assert validate_record(result) == []
    return result, dict((i['item'], i) for i in result['items'])


def test_a_complete_drill_within_its_target_is_a_success_with_its_recovery_time():
    result, items = record(steps([2, 30, 120, 3, 5]))
    assert result['kind'] == 'dr_drill' and result['outcome'] == 'ok' and result['status'] == 'ok'
    assert result['recovery_seconds'] == 160.0 and result['rto_target_seconds'] == 1800.0
    assert [items['dr:' + s]['value'] for s in DR_STEPS] == [2.0, 30.0, 120.0, 3.0, 5.0]
    assert items['dr:recovery']['threshold'] == {'critical': 1800.0}
    assert items['dr:cleanup']['status'] == 'ok'
    assert result['metrics']['restore_seconds'] == 120.0 and result['standby'] == 'hd-standby-01'


def test_a_failed_step_fails_the_drill_and_the_later_steps_are_not_done():
    failed = steps([2, 30, 40], outcomes={'restore': 'failed'})
    result, items = record(failed)
    assert result['outcome'] == 'failed' and result['reason'] == 'step_failed:restore'
    assert items['dr:restore']['status'] == 'critical' and items['dr:restore']['reason'] == 'restore_failed'
    for name in ('start', 'health'):
        assert items['dr:' + name]['status'] == 'skipped' and items['dr:' + name]['reason'] == 'not_done'
        assert items['dr:' + name]['value'] is None
    assert 'recovery_seconds' not in result and result['metrics']['recovery_seconds'] is None
    assert items['dr:recovery']['status'] == 'critical' and items['dr:recovery']['reason'] == 'not_recovered'


def test_a_drill_beyond_its_rto_target_is_not_a_success():
    result, items = record(steps([2, 30, 1900, 3, 5]))
    assert result['outcome'] == 'failed' and result['reason'] == 'rto_missed'
    assert items['dr:recovery']['status'] == 'critical' and items['dr:recovery']['value'] == 1940.0


def test_no_step_run_or_check_mode_is_not_done():
    result, items = record([])
    assert result['outcome'] == 'not_done' and all(items['dr:' + s]['status'] == 'skipped' for s in DR_STEPS)
    result, _items = record([], check_mode=True)
    assert result['outcome'] == 'not_done' and result['reason'] == 'check_mode'


def test_a_health_step_missing_means_no_success_even_when_the_rest_passed():
    # The run was killed after the service started: the steps so far are ok, the drill is not.
    result, items = record(steps([2, 3, 4, 1], cleanup=None))
    assert result['outcome'] == 'failed' and items['dr:health']['reason'] == 'not_done'
    assert 'dr:cleanup' not in items


def test_left_running_and_a_failed_cleanup():
    result, items = record(steps([1, 1, 1, 1, 1], cleanup=None), left_running=True)
    assert result['outcome'] == 'ok' and result['left_running'] is True
    assert items['dr:cleanup']['reason'] == 'left_running'
    result, items = record(steps([1, 1, 1, 1, 1], cleanup='failed'))
    assert items['dr:cleanup']['status'] == 'critical' and result['status'] == 'critical'
    assert result['outcome'] == 'failed' and result['reason'] == 'cleanup_failed'


@pytest.mark.parametrize('bad, expected', [
    ('nope', 'steps: expected a list'),
    ([{'step': 'reboot', 'outcome': 'ok'}], 'steps[0].step: expected one of verify'),
    ([{'step': 'verify', 'outcome': 'fine'}], 'steps[0].outcome: expected one of ok, failed, not_done'),
    ([{'step': 'verify', 'outcome': 'ok', 'started': 'noon'}], 'steps[0].started: expected seconds'),
    ([{'step': 'verify', 'outcome': 'ok'}, {'step': 'verify', 'outcome': 'ok'}], 'verify is given twice'),
])
def test_bad_steps_are_named(bad, expected):
    errors = validate_steps(bad)
    assert any(expected in e for e in errors), errors
