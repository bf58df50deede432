"""The restore drill's logic with a fake database engine (the real engines run in molecule's
`backup` scenario): refusals, leftovers, disk, proofs, outcomes, cleanup."""

import json
import os
import time

import pytest

from ansible_collections.dialysis.ops.plugins.module_utils import dialysis_restore as dr
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_backup import validate_sets
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import validate_record


class FakeEngine(object):
    def __init__(self, tables=None, dbs=(), failures=(), restore_error=None, slow=0, smoke_fail=()):
        self.tables = dict(tables or {'patient': 120, 'machine_reading': 2000})
        self.dbs = set(dbs) | {'postgres', 'hemodialysis'}
        self.failures = list(failures)
        self.restore_error = restore_error
        self.slow = slow
        self.smoke_fail = smoke_fail
        self.dropped, self.created = [], []

    def databases(self):
        return sorted(self.dbs)

    def create(self, name):
        self.created.append(name)
        self.dbs.add(name)

    def drop(self, name):
        self.dropped.append(name)
        self.dbs.discard(name)

    def data_directory(self):
        return '/'

    def restore(self, path, target, source_db, timeout, jobs):
        if self.slow:
            time.sleep(self.slow)
        if self.restore_error:
            raise self.restore_error

    def integrity(self, target):
        return 22, self.failures

    def counts(self, target, tables):
        return dict((t, self.tables[t]) for t in tables)

    def newest_epoch(self, target, table, column):
        return time.time() - 1800

    def sql(self, database, query, check=True):
        if any(name in query for name in self.smoke_fail):
            return 1, 'ERROR: relation does not exist'
        return 0, [['1']]


@pytest.fixture
def backup_dir(tmp_path):
    (tmp_path / 'hemodialysis-20261201T020000Z.dump').write_bytes(b'PGDMP' + b'x' * 1000)
    (tmp_path / 'hemodialysis-20261201T020000Z.counts.json').write_text(json.dumps({
        'tables': {'patient': 120, 'machine_reading': 2000}, 'taken_at': '2026-12-01T02:00:00+00:00',
        'newest': {'table': 'machine_reading', 'column': 'recorded_at', 'value': 'x'}}))
    return tmp_path


def params(directory, **extra):
    sets, errors = validate_sets([{'name': 'hd', 'database': 'hemodialysis', 'format': 'pg_dump_custom',
                                   'directory': str(directory), 'pattern': 'hemodialysis-*.dump'}])
    assert not errors
    base = {'set': sets[0], 'system': 'hemodialysis', 'production': ['hemodialysis', 'interface_engine'],
            'prefix': 'dialysis_drill_', 'smoke': [{'name': 'today', 'query': 'SELECT 1'}],
            'rto_minutes': 60, 'budget_seconds': 600, 'ticket': 'CHG-1'}
    base.update(extra)
    return base


def drill(directory, engine, check_mode=False, **extra):
    record, changed = dr.run_drill(params(directory, **extra), lambda _e: engine, check_mode=check_mode)
    assert validate_record(record) == [], validate_record(record)
    return record, changed, dict((i['item'].rsplit(':', 1)[-1], i) for i in record['items'])


def test_a_good_drill_restores_proves_measures_and_cleans_up(backup_dir):
    engine = FakeEngine()
    record, changed, items = drill(backup_dir, engine)
    assert record['outcome'] == 'ok' and record['status'] == 'ok', items
    assert record['kind'] == 'restore_drill' and record['ticket'] == 'CHG-1'
    assert set(items) == {'target', 'leftovers', 'disk', 'restore', 'integrity', 'counts', 'rpo', 'smoke',
                          'rto', 'cleanup'}
    assert record['rto_seconds'] is not None and 0.4 < record['rpo_hours'] < 0.6
    assert engine.created == engine.dropped == [record['scratch']]
    assert record['scratch'].startswith('dialysis_drill_hemodialysis_') and changed is False
    assert items['counts']['value'] == 2 and items['integrity']['checked'] == 22


@pytest.mark.parametrize('target, reason', [
    ('hemodialysis', 'production_target'), ('interface_engine', 'production_target'),
    ('scratch_copy', 'not_scratch'), ('Dialysis; DROP', 'bad_target')])
def test_a_production_or_foreign_target_is_refused_before_anything(backup_dir, target, reason):
    engine = FakeEngine(dbs=['dialysis_drill_old'])
    record, changed, items = drill(backup_dir, engine, target=target)
    assert record['outcome'] == 'refused' and items['target']['reason'] == reason
    assert engine.created == engine.dropped == [] and changed is False
    if reason == 'production_target':
        assert 'production database' in record['reason']


def test_a_prefix_that_a_production_name_starts_with_is_refused(backup_dir):
    record, _c, items = drill(backup_dir, FakeEngine(), prefix='hemo')
    assert record['outcome'] == 'refused' and items['target']['reason'] == 'prefix_clash'


def test_leftovers_of_killed_drills_are_removed_first(backup_dir):
    engine = FakeEngine(dbs=['dialysis_drill_hemodialysis_20261130010101', 'dialysis_app_data'])
    record, changed, items = drill(backup_dir, engine)
    assert items['leftovers']['value'] == 1 and changed is True
    assert 'dialysis_app_data' in engine.dbs and 'hemodialysis' in engine.dbs
    assert not [d for d in engine.dbs if d.startswith('dialysis_drill_')]


def test_not_enough_disk_is_not_done(backup_dir):
    engine = FakeEngine()
    record, _c, items = drill(backup_dir, engine, disk_factor=1e15)
    assert record['outcome'] == 'not_done' and items['disk']['reason'] == 'no_space'
    assert engine.created == []


def test_integrity_failure_fails_the_drill_and_still_cleans_up(backup_dir):
    engine = FakeEngine(failures=[('patient_pkey', 'invalid page in block 1 of relation base/1/2')])
    record, _c, items = drill(backup_dir, engine)
    assert record['outcome'] == 'failed' and items['integrity']['status'] == 'critical'
    assert items['integrity']['failed_objects'] == ['patient_pkey'] and engine.dropped == engine.created


def test_count_mismatch_and_failed_smoke_query(backup_dir):
    engine = FakeEngine(tables={'patient': 119, 'machine_reading': 2000}, smoke_fail=('SELECT 1',))
    record, _c, items = drill(backup_dir, engine)
    assert items['counts']['reason'] == 'count_mismatch' and items['counts']['mismatched'] == ['patient']
    assert items['smoke']['status'] == 'critical' and record['outcome'] == 'failed'


def test_a_failed_restore_is_failed_and_cleaned_up(backup_dir):
    engine = FakeEngine(restore_error=dr.DrillStop('failed', 'restore_failed', 'pg_restore exited 1: boom'))
    record, _c, items = drill(backup_dir, engine)
    assert record['outcome'] == 'failed' and items['outcome']['reason'] == 'restore_failed'
    assert engine.dropped == engine.created and items['cleanup']['status'] == 'ok'


def test_the_time_budget_stops_the_drill_as_timed_out(backup_dir):
    engine = FakeEngine(slow=1.2)
    record, _c, items = drill(backup_dir, engine, budget_seconds=1)
    assert record['outcome'] == 'timed_out' and items['outcome']['reason'] == 'timed_out'
    assert engine.dropped == engine.created


def test_rto_beyond_the_target_is_critical(backup_dir):
    record, _c, items = drill(backup_dir, FakeEngine(slow=0.2), rto_minutes=0.001)
    assert items['rto']['status'] == 'critical' and record['outcome'] == 'failed'


def test_check_mode_restores_nothing_and_is_never_a_success(backup_dir):
    engine = FakeEngine(dbs=['dialysis_drill_x_1'])
    record, changed, items = drill(backup_dir, engine, check_mode=True)
    assert record['outcome'] == 'not_done' and engine.created == engine.dropped == [] and not changed
    assert items['leftovers']['names'] == ['dialysis_drill_x_1']


def test_no_counts_file_is_a_warning(backup_dir):
    os.remove(str(backup_dir / 'hemodialysis-20261201T020000Z.counts.json'))
    record, _c, items = drill(backup_dir, FakeEngine())
    assert items['counts']['reason'] == 'no_counts' and items['rpo']['status'] == 'skipped'
    assert record['outcome'] == 'ok' and record['status'] == 'warning'


def test_progress_file_says_phase_and_elapsed(backup_dir, tmp_path):
    progress = tmp_path / 'p' / 'drill.json'
    drill(backup_dir, FakeEngine(), progress_file=str(progress), drill_id='hd')
    data = json.loads(progress.read_text())
    assert data['phase'] == 'done' and data['set'] == 'hd' and data['elapsed'] >= 0 and data['pid']


def test_cleanup_records_an_unfinished_drill_as_never_a_success(backup_dir):
    engine = FakeEngine(dbs=['dialysis_drill_hemodialysis_1'])
    records, dropped = dr.cleanup(params(backup_dir, unfinished='timed out: Job reached maximum time limit'),
                                  lambda _e: engine)
    assert dropped == ['dialysis_drill_hemodialysis_1'] and records[0]['outcome'] == 'timed_out'
    assert validate_record(records[0]) == []
    records, dropped = dr.cleanup(params(backup_dir), lambda _e: engine)
    assert records == [] and dropped == []


def test_unsupported_format_is_not_done(tmp_path):
    sets, _e = validate_sets([{'name': 'phys', 'format': 'mariabackup', 'directory': str(tmp_path)}])
    record, _c = dr.run_drill({'set': sets[0]}, lambda _e: FakeEngine())
    assert record['outcome'] == 'not_done' and record['items'][0]['reason'] == 'unsupported_format'


def test_counts_file_beside_each_kind_of_backup():
    assert dr.counts_file('/b/ie-20261201T020000Z.sql.zst', 'ie') == '/b/ie-20261201T020000Z.counts.json'
    assert dr.counts_file('/b/hd-20261201T020000Z.dump', 'hd') == '/b/hd-20261201T020000Z.counts.json'


def test_a_selection_that_drills_nothing_is_refused():
    from dialysis_backup import drill_selection_errors
    hosts = [{'dialysis_backup_sets': [{'name': 'hd', 'restore': {}}, {'name': 'phys'}]}, {}]
    assert drill_selection_errors(hosts) == [] and drill_selection_errors(hosts, ['hd']) == []
    assert 'phys is not a backup set with restore settings' in drill_selection_errors(hosts, ['phys'])[0]
    assert 'nothing to drill' in drill_selection_errors([{}, {'dialysis_backup_sets': [{'name': 'x'}]}])[0]


# -- the MariaDB dump filter and the role's wait (issue 10: the restore as a stream in blocks,
# the end of the background drill seen at once) -------------------------------------------

DUMP = (b'-- MariaDB dump 10.19\n/*!40101 SET NAMES utf8mb4 */;\n'
        b'CREATE DATABASE /*!32312 IF NOT EXISTS*/ `interface_engine` '
        b'/*!40100 DEFAULT CHARACTER SET utf8mb4 */;\n'
        b'\nUSE `interface_engine`;\nDROP TABLE IF EXISTS `message`;\nCREATE TABLE `message` (\n'
        b'  `id` int NOT NULL\n);\nLOCK TABLES `message` WRITE;\n'
        b"INSERT INTO `message` VALUES (1,'USE `interface_engine`;\\nCREATE DATABASE x'),(2,'use b');\n"
        b'UNLOCK TABLES;\ncreate database other;\nuse other;\nINSERT INTO `message` VALUES (3,NULL);\n')


def _filtered(blocks):
    dump_filter = dr.DumpFilter('`dialysis_drill_ie_1`')
    out = b''.join(dump_filter.feed(b) for b in blocks) + dump_filter.close()
    return out, dump_filter


def test_the_dump_filter_points_every_database_line_at_the_scratch_database_wherever_blocks_are_cut():
    expected, first = _filtered([DUMP])
    lines = expected.splitlines()
    assert [ln for ln in lines if ln.upper().startswith(b'USE')] == [b'USE `dialysis_drill_ie_1`;'] * 2
    assert not [ln for ln in lines if ln.upper().startswith(b'CREATE DATABASE')]
    # The values that merely look like database lines are data and stay as they were.
    assert b"(1,'USE `interface_engine`;\\nCREATE DATABASE x'),(2,'use b');" in expected
    assert (first.used, first.dropped) == (2, 2)
    for size in range(1, 40):                       # every cut, also inside a database line
        out, dump_filter = _filtered([DUMP[i:i + size] for i in range(0, len(DUMP), size)])
        assert out == expected, size
        assert (dump_filter.used, dump_filter.dropped) == (2, 2)


def test_the_dump_filter_passes_a_dump_without_a_final_newline_and_refuses_one_it_cannot_point():
    out, dump_filter = _filtered([b'USE `interface_engine`;\nINSERT INTO t VALUES (1)'])
    assert out == b'USE `dialysis_drill_ie_1`;\nINSERT INTO t VALUES (1)\n'
    dump_filter.verify()
    _out, lost = _filtered([b'CREATE DATABASE `interface_engine`;\nINSERT INTO t VALUES (1);\n'])
    with pytest.raises(dr.DrillStop) as stop:
        lost.verify()
    assert stop.value.outcome == 'failed' and 'USE' in str(stop.value)


def test_the_wait_returns_when_the_background_drill_finishes_and_waits_while_it_runs(tmp_path):
    results, progress = tmp_path / 'job', tmp_path / 'progress.json'
    # The progress file is written when the phase changes; the elapsed time printed runs on.
    progress.write_text(json.dumps({'phase': 'restore', 'elapsed': 0.1, 'started': time.time() - 60}))
    results.write_text(json.dumps({'started': True, 'finished': False, 'ansible_job_id': 'j1'}))
    begun = time.time()
    finished, now = dr.wait_for_job(str(results), str(progress), 0.6)
    assert finished is False and now['phase'] == 'restore' and time.time() - begun >= 0.6
    assert now['elapsed'] >= 60
    results.write_text(json.dumps({'changed': True, 'outcome': 'ok'}))      # the module's result
    begun = time.time()
    finished, _now = dr.wait_for_job(str(results), str(progress), 30)
    assert finished is True and time.time() - begun < 5
    # No results file to read: the wait cannot tell (async_status decides), and says so.
    finished, now = dr.wait_for_job(str(tmp_path / 'none'), str(tmp_path / 'none.json'), 0.2)
    assert finished is None and now == {}
