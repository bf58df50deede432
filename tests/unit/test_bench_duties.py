"""The duty benches' pure parts (bench/dutystats.py): the latency percentiles and the
verdicts printed beside the targets, pgbench's per-transaction log and the MariaDB load
generator's lines, what a db_maintenance record says about the objects touched and the
space reclaimed, and an HTTP prober's unavailability. Lines and records below are shaped
like the ones real runs wrote (bench/results/<stamp>-dbcare/)."""

import importlib.util
import json
import os

import pytest

# Loaded from its file, without putting bench/ on sys.path (its common.py, hosts.py, summary.py
# would shadow other modules of the same names for the rest of the test run).
_SPEC = importlib.util.spec_from_file_location(
    'bench_dutystats', os.path.join(os.path.dirname(__file__), '..', '..', 'bench', 'dutystats.py'))
dutystats = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(dutystats)


def test_percentiles_are_nearest_rank_values_that_occurred():
    values = list(range(1, 101))              # 1..100 ms, shuffled order must not matter
    values.reverse()
    assert dutystats.percentile(values, 99) == 99
    assert dutystats.percentile(values, 50) == 50
    assert dutystats.percentile(values, 100) == 100
    assert dutystats.percentile(values, 0) == 1
    assert dutystats.percentile([7.5], 99) == 7.5
    # 120 transactions (a short maintenance window): p99 is the 119th smallest, not the maximum
    window = [5.0] * 118 + [40.0, 900.0]
    assert dutystats.percentile(window, 99) == 40.0
    assert dutystats.percentile([], 99) is None
    with pytest.raises(ValueError, match='expected 0-100'):
        dutystats.percentile(values, 101)


def test_latency_figures_of_a_phase():
    assert dutystats.latency_figures([3.0, 1.0, 2.0, 1500.0]) == {'count': 4, 'p50': 2.0, 'p99': 1500.0,
                                                                  'max': 1500.0}
    assert dutystats.latency_figures([]) == {'count': 0, 'p50': None, 'p99': None, 'max': None}
    assert dutystats.over([999.9, 1000.0, 1000.1, 2500.0], 1000.0) == 2


@pytest.mark.parametrize('value, op, target, expected', [
    (2.99, '<=', 3.0, 'PASS'), (3.0, '<=', 3.0, 'PASS'), (3.01, '<=', 3.0, 'MISS'),
    (80.0, '>=', 80.0, 'PASS'), (79.9, '>=', 80.0, 'MISS'),
    (True, '==', True, 'PASS'), (False, '==', True, 'MISS'), ('rolled_back', '==', 'upgraded', 'MISS'),
    (None, '<=', 3.0, None),
])
def test_verdicts_against_targets(value, op, target, expected):
    assert dutystats.verdict(value, op, target) == expected


def test_a_figure_is_printed_beside_its_target_with_the_verdict():
    ratio = dutystats.figure('pg_p99_ratio', 'PG db_maintenance: p99 during / baseline p99', 3.64, 'x',
                             '<=', 3.0)
    line = dutystats.format_figure(ratio)
    assert '3.64' in line and 'target \u2264 3.00' in line and line.endswith('MISS')
    reclaimed = dutystats.figure('pg_reclaimed', 'space reclaimed / measured bloat', 17.9, '%', '>=', 80.0)
    assert dutystats.format_figure(reclaimed).endswith('target \u2265 80.0 %     MISS')
    info = dutystats.format_figure(dutystats.figure('raw', 'PG raw restore', 1.8, 's'))
    assert '1.8 s' in info and 'target' not in info
    missing = dutystats.format_figure(dutystats.figure('x', 'rollback (record)', None, 's', '<=', 60.0))
    assert 'n/a' in missing and missing.endswith('NOT MEASURED')


PGBENCH_LOG = """\
0 1 1540 0 1796671148 718740 92
0 2 524 0 1796671148 727473 86
1 1 1250000 0 1796671150 0 1249000
1 2 skipped 0 1796671150 500000 3000
"""


def test_pgbench_log_lines_give_the_scheduled_start_and_the_latency():
    rows = dutystats.parse_pgbench_log(PGBENCH_LOG.splitlines())
    assert len(rows) == 3                                  # the skipped transaction is no latency
    start, ms, lag = rows[0]
    assert ms == pytest.approx(1.54) and lag == pytest.approx(0.092)
    assert start == pytest.approx(1796671148.718740 - 0.001540)
    # a write that waited 1.25 s behind a lock: its start is its schedule, its latency the whole wait
    start, ms, lag = rows[2]
    assert start == pytest.approx(1796671148.75) and ms == pytest.approx(1250.0)
    window = dutystats.in_window(rows, 1796671148.7, 1796671148.73)
    assert window == [pytest.approx(1.54), pytest.approx(0.524)]
    assert dutystats.in_window(rows, 1796671148.73, 1796671149.0) == [pytest.approx(1250.0)]


def test_a_malformed_pgbench_line_is_named():
    with pytest.raises(ValueError, match='pgbench log line 2'):
        dutystats.parse_pgbench_log(['0 1 1540 0 1796671148 718740', '0 2 524'])


def test_the_load_generators_lines_and_its_failed_transactions():
    lines = [json.dumps({'start': 100.0, 'ms': 4.5}), '', json.dumps({'start': 100.02, 'error': '1205'}),
             json.dumps({'start': 100.04, 'ms': 700.25})]
    rows, errors = dutystats.parse_load_lines(lines)
    assert rows == [(100.0, 4.5, None), (100.04, 700.25, None)]
    assert errors == [{'start': 100.02, 'error': '1205'}]
    with pytest.raises(ValueError, match='load generator line 1: not JSON'):
        dutystats.parse_load_lines(['Traceback (most recent call last):'])


def _item(item, **fields):
    return dict(fields, item=item, status='ok', value=fields.get('result'))


PG_RECORD = {'kind': 'db_maintenance', 'items': [
    _item('db_maintenance:hemodialysis', counts={'done': 2, 'needs_window': 1}, engine='postgresql'),
    _item('db_vacuum:hemodialysis/public.machine_reading_archive', action='vacuum', result='done',
          before_bytes=18481152, after_bytes=18481152, bloat_before=83.3, bloat_after=84.5),
    _item('db_needs_window:hemodialysis/public.machine_reading_archive', action='needs_window',
          result='needs_window', reason='needs_window', before_bytes=18481152, bloat_before=83.3),
    _item('db_reindex:hemodialysis/public.idx_machine_reading_archive_recorded_at', action='reindex',
          result='done', before_bytes=3809280, after_bytes=557056, bloat_before=73.7, bloat_after=1.5),
]}
PG_RECORD['items'][0]['value'] = 3252224


def test_a_maintenance_record_gives_the_objects_touched_and_the_space_against_the_bloat():
    summary = dutystats.maintenance_summary(PG_RECORD, 'hemodialysis')
    assert summary['touched'] == ['public.idx_machine_reading_archive_recorded_at',
                                  'public.machine_reading_archive']
    assert summary['reclaimed_bytes'] == 3252224
    # the table's bloat counts although only a window could reclaim it; the index's too
    assert summary['bloat_bytes'] == {'public.machine_reading_archive': int(18481152 * 0.833),
                                      'public.idx_machine_reading_archive_recorded_at': int(3809280 * 0.737)}
    assert summary['bloat_acted_bytes'] == {'public.idx_machine_reading_archive_recorded_at':
                                            int(3809280 * 0.737)}
    assert dutystats.share(summary['reclaimed_bytes'], sum(summary['bloat_bytes'].values())) == 17.9
    assert summary['steps']['public.machine_reading_archive'] == [
        ('vacuum', 'done', None), ('needs_window', 'needs_window', 'needs_window')]
    with pytest.raises(ValueError, match='no item db_maintenance:interface_engine'):
        dutystats.maintenance_summary(PG_RECORD, 'interface_engine')


def test_the_bloat_online_maintenance_may_touch_leaves_out_the_needs_window_objects():
    # the PK-less archive table needs a window; a table with a primary key was repacked (its bloat
    # counted online and acted on), the archive's index reindexed
    record = json.loads(json.dumps(PG_RECORD))
    record['items'].append(_item('db_repack:hemodialysis/public.bench_bloat', action='repack', result='done',
                                 before_bytes=90112000, after_bytes=22528000, bloat_before=80.2,
                                 bloat_after=0.4))
    summary = dutystats.maintenance_summary(record, 'hemodialysis')
    assert summary['needs_window'] == ['public.machine_reading_archive']
    assert summary['bloat_online_bytes'] == {
        'public.idx_machine_reading_archive_recorded_at': int(3809280 * 0.737),
        'public.bench_bloat': int(90112000 * 0.802)}
    assert set(summary['bloat_bytes']) == {'public.machine_reading_archive', 'public.bench_bloat',
                                           'public.idx_machine_reading_archive_recorded_at'}
    assert summary['bloat_acted_bytes'] == summary['bloat_online_bytes']
    # a postponed repack is still bloat online maintenance may touch (a later run can), not acted on
    record['items'][-1].update(result='postponed', reason='lock_timeout', after_bytes=None)
    summary = dutystats.maintenance_summary(record, 'hemodialysis')
    assert 'public.bench_bloat' in summary['bloat_online_bytes']
    assert 'public.bench_bloat' not in summary['bloat_acted_bytes']
    # without its needs_window step the archive table's bloat counts online too
    del record['items'][2]
    summary = dutystats.maintenance_summary(record, 'hemodialysis')
    assert summary['needs_window'] == [] and summary['bloat_online_bytes'] == summary['bloat_bytes']


def test_a_postponed_object_is_not_touched():
    record = json.loads(json.dumps(PG_RECORD))
    record['items'][3].update(result='postponed', reason='lock_timeout', after_bytes=None)
    record['items'][1].update(result='postponed', reason='lock_timeout')
    assert dutystats.maintenance_summary(record, 'hemodialysis')['touched'] == []


def test_records_of_a_run_file_with_a_results_records_list():
    lines = [json.dumps({'host': 'hd-db-01', 'record': PG_RECORD}),
             json.dumps({'host': 'hd-db-01', 'records': [{'kind': 'restore_drill', 'set': 'a'},
                                                         {'kind': 'restore_drill', 'set': 'b'}]}),
             json.dumps({'host': 'hd-app-01', 'event': 'run_end'})]
    found = dutystats.read_records(lines)
    assert [(r['kind'], r['host']) for r in found] == [
        ('db_maintenance', 'hd-db-01'), ('restore_drill', 'hd-db-01'), ('restore_drill', 'hd-db-01')]


def test_unavailability_between_samples_and_the_longest_gap():
    samples = [(0.0, True), (0.1, True), (0.2, False), (0.3, False), (0.5, True), (1.0, True),
               (1.1, False), (1.2, True), (2.0, False), (2.4, False)]
    figures = dutystats.unavailability(samples)
    # 0.2-0.5 (0.3 s), 1.1-1.2 (0.1 s), 2.0-2.4 (still down at the last sample: 0.4 s)
    assert figures['unhealthy_seconds'] == pytest.approx(0.8)
    assert figures['longest_gap_seconds'] == pytest.approx(0.4)
    assert (figures['unhealthy_samples'], figures['samples']) == (5, 10)
    assert dutystats.unavailability(samples, start=0.4, end=1.5)['unhealthy_seconds'] == pytest.approx(0.1)
    assert dutystats.unavailability([(0.0, True), (1.0, True)])['unhealthy_seconds'] == 0.0


def test_the_first_healthy_sample_at_a_version():
    samples = [(10.0, True, '1.1'), (11.0, False, '1.2'), (12.0, True, '1.2'), (13.0, True, '1.1')]
    assert dutystats.first_healthy_after(samples, 10.5) == 12.0
    assert dutystats.first_healthy_after(samples, 10.5, '1.1') == 13.0
    assert dutystats.first_healthy_after(samples, 13.5, '1.1') is None
