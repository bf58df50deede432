"""Verifier of the `dbcare` scenario (issue 9): database health and maintenance on the
lab's hd-db-01, with the collector writing to the hemodialysis database all along.

The tests run in file order and build on each other: the health record of the
converge (the monthly inspection), then playbooks/db_maintenance.yml in check mode,
against a session holding a lock, with a budget of seconds, for real, and again.
Database state is asserted by SQL as postgres inside the container (peer
authentication, no password anywhere)."""

import glob
import json
import os
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.join(os.environ['MOLECULE_PROJECT_DIRECTORY'], 'molecule', 'resources'))

import guard_lab  # noqa: E402

PROJECT = os.environ['MOLECULE_PROJECT_DIRECTORY']
EPHEMERAL = os.environ['MOLECULE_EPHEMERAL_DIRECTORY']
INVENTORY_DIR = os.path.join(EPHEMERAL, 'inventory', 'lab')
RECORDS = os.environ['DIALYSIS_RECORDS_DIR']
DB_HOST = 'dlab-hd-db-01'
PATIENT = '张三丰'
ARCHIVE, ARCHIVE_INDEX = 'machine_reading_archive', 'idx_machine_reading_archive_recorded_at'
PLANTED_INVALID = 'idx_machine_reading_uf_rate_ccnew'
HOLDER = 'dbcare-lock-holder'
MAINTENANCE_VARS = {
    'db_maintenance_hosts': 'hd-db-01',
    'db_maintenance_databases': [
        {'name': 'hemodialysis', 'engine': 'postgresql', 'host': '/var/run/postgresql',
         'database': 'hemodialysis', 'user': 'postgres', 'become_user': 'postgres',
         'rules': {'min_pages': 100}},
        # the lab's MariaDB tables are all under the default 1,000 pages: left alone
        {'name': 'interface_engine', 'engine': 'mariadb', 'host': '/run/mysqld/mysqld.sock',
         'database': 'interface_engine', 'user': 'root'}],
}


def psql(statement):
    out = subprocess.run(['podman', 'exec', DB_HOST, 'runuser', '-u', 'postgres', '--', 'psql', '-X', '-q',
                          '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', 'hemodialysis', '-c', statement],
                         capture_output=True, text=True, check=True, timeout=60)
    return [line.split('|') for line in out.stdout.splitlines() if line]


def state():
    """What maintenance may change: each relation's file, validity, vacuum count, dead tuples."""
    files = psql("SELECT c.relname, c.relfilenode, coalesce(i.indisvalid::text, '') FROM pg_class c "
                 "LEFT JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relnamespace = 'public'::regnamespace "
                 "AND c.relkind IN ('r', 'i') ORDER BY 1")
    stats = psql('SELECT relname, vacuum_count FROM pg_stat_user_tables ORDER BY 1')
    dead = psql("SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = '%s'" % ARCHIVE)[0][0]
    return {'files': dict((r[0], (r[1], r[2])) for r in files), 'vacuums': dict(stats), 'archive_dead': dead}


def maintain(tmp_path, check=False, **extra):
    """Run playbooks/db_maintenance.yml; (ansible-playbook's result, the records of its run)."""
    variables = dict(MAINTENANCE_VARS, **extra)
    path = tmp_path / 'vars.json'
    path.write_text(json.dumps(variables))
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', INVENTORY_DIR,
            os.path.join(PROJECT, 'playbooks', 'db_maintenance.yml'), '-e', '@%s' % path]
    started = time.monotonic()
    proc = subprocess.run(argv + (['--check'] if check else []), capture_output=True, text=True,
                          timeout=600, cwd=PROJECT)
    proc.seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    written = [line.split('Records written to ', 1)[1].strip() for line in proc.stdout.splitlines()
               if 'Records written to ' in line]
    return proc, records_of(written[-1])


def records_of(path):
    found = []
    with open(path, encoding='utf-8') as handle:
        for line in handle:
            entry = json.loads(line)
            for record in ([entry['record']] if entry.get('record') else []) + (entry.get('records') or []):
                found.append(dict(record, host=entry.get('host')))
    return found


def steps(records, database='hemodialysis'):
    record = [r for r in records if r['kind'] == 'db_maintenance'
              and any(i['item'] == 'db_maintenance:%s' % database for i in r['items'])][0]
    return dict((i['item'].split(':', 1)[0][3:] + ':' + i['item'].split('/', 1)[-1], i)
                for i in record['items'] if '/' in i['item']), record


class LockHolder(object):
    """A session of the unit holding a lock on the archive table (as a long migration or an
    explicit LOCK would): SHARE UPDATE EXCLUSIVE conflicts with VACUUM and REINDEX CONCURRENTLY."""

    def __enter__(self):
        subprocess.run(['podman', 'exec', '-d', DB_HOST, 'runuser', '-u', 'postgres', '--', 'env',
                        'PGAPPNAME=%s' % HOLDER, 'psql', '-X', '-d', 'hemodialysis', '-c',
                        'BEGIN; LOCK TABLE %s IN SHARE UPDATE EXCLUSIVE MODE; SELECT pg_sleep(300); COMMIT;'
                        % ARCHIVE], check=True)
        for _ in range(50):
            if psql("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE a.application_name = '%s' AND l.relation = '%s'::regclass AND l.granted"
                    % (HOLDER, ARCHIVE))[0][0] != '0':
                return self
            time.sleep(0.2)
        raise AssertionError('the lock holder did not get its lock')

    def __exit__(self, *exc):
        psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '%s'" % HOLDER)


def test_the_health_record_finds_the_planted_bloat_and_the_invalid_index():
    records = []
    for path in glob.glob(os.path.join(RECORDS, '2*.jsonl')):
        records += records_of(path)
    health = [r for r in records if r['kind'] == 'db_health']
    assert len(health) == 1 and health[0]['host'] == 'hd-db-01', [r['host'] for r in health]
    items = dict((i['item'], i) for i in health[0]['items'])
    table = items['db_bloat:hemodialysis/public.%s' % ARCHIVE]
    assert table['status'] == 'critical' and table['value'] > 60 and table['bloat_method'] == 'pgstattuple'
    index = items['db_bloat:hemodialysis/public.%s' % ARCHIVE_INDEX]
    assert index['value'] > 50 and index['bloat_method'] == 'pgstattuple'
    assert items['db_dead_tuples:hemodialysis/public.%s' % ARCHIVE]['value'] > 60
    assert items['db_invalid_index:hemodialysis/public.%s' % PLANTED_INVALID]['status'] == 'warning'
    assert not [i for i in items if i.startswith('db_bloat:hemodialysis/public.machine_reading/')
                or i == 'db_bloat:hemodialysis/public.machine_reading']
    assert items['db_size:interface_engine']['status'] == 'ok'
    metrics = health[0]['metrics']['databases']['hemodialysis']
    texts = [s['query'] for s in metrics['statements']['by_total'] + metrics['statements']['by_mean']]
    assert texts and metrics['bloat_method'] == 'pgstattuple'
    assert any(item.startswith('disk:') for item in
               dict((i['item'], i) for r in records if r['kind'] == 'inspection' and r['host'] == 'hd-db-01'
                    for i in r['items']))


def test_check_mode_prints_the_plan_and_changes_nothing(tmp_path):
    before = state()
    proc, records = maintain(tmp_path, check=True)
    assert state() == before
    found, record = steps(records)
    assert sorted(found) == sorted(['drop_invalid:public.%s' % PLANTED_INVALID, 'vacuum:public.%s' % ARCHIVE,
                                    'needs_window:public.%s' % ARCHIVE, 'reindex:public.%s' % ARCHIVE_INDEX])
    assert found['reindex:public.%s' % ARCHIVE_INDEX]['result'] == 'planned'
    assert found['reindex:public.%s' % ARCHIVE_INDEX]['estimated_bytes'] < \
        found['reindex:public.%s' % ARCHIVE_INDEX]['before_bytes']
    assert 'primary key' in found['needs_window:public.%s' % ARCHIVE]['why']
    assert 'reindex (pgstattuple bloat' in proc.stdout          # the plan on the engineer's screen
    assert 'changed=0' in proc.stdout


def test_a_lock_makes_its_objects_give_way_within_the_timeout_and_the_rest_proceeds(tmp_path):
    archive_index_file = state()['files'][ARCHIVE_INDEX]
    with LockHolder():
        proc, records = maintain(tmp_path, db_maintenance_lock_timeout=2)
    found, record = steps(records)
    assert found['drop_invalid:public.%s' % PLANTED_INVALID]['result'] == 'done'
    for key in ('vacuum:public.%s' % ARCHIVE, 'reindex:public.%s' % ARCHIVE_INDEX):
        assert (found[key]['result'], found[key]['reason'], found[key]['status']) == \
            ('postponed', 'lock_timeout', 'warning'), found[key]
        assert found[key]['seconds'] < 2 + 1.5 and 'lock timeout' in found[key]['message']
    after = state()
    assert PLANTED_INVALID not in after['files']
    assert after['files'][ARCHIVE_INDEX] == archive_index_file
    assert not [name for name in after['files'] if 'ccnew' in name or 'ccold' in name]


def test_the_time_budget_stops_new_work(tmp_path):
    # another INVALID leftover: a unique concurrent build over duplicate readings fails
    subprocess.run(['podman', 'exec', DB_HOST, 'runuser', '-u', 'postgres', '--', 'psql', '-X', '-q',
                    '-d', 'hemodialysis', '-c', 'CREATE UNIQUE INDEX CONCURRENTLY idx_dbcare_ccnew '
                    'ON machine_reading (machine_id, uf_rate_ml_h)'], capture_output=True, check=False)
    assert state()['files']['idx_dbcare_ccnew'][1] == 'false'
    with LockHolder():
        proc, records = maintain(tmp_path, db_maintenance_lock_timeout=3, db_maintenance_budget_seconds=2)
    found, record = steps(records)
    assert found['drop_invalid:public.idx_dbcare_ccnew']['result'] == 'done'
    assert found['vacuum:public.%s' % ARCHIVE]['reason'] == 'lock_timeout'
    reindex = found['reindex:public.%s' % ARCHIVE_INDEX]
    assert (reindex['result'], reindex['reason']) == ('postponed', 'budget'), reindex
    assert 'seconds' not in reindex                       # never started
    assert record['items'][0]['counts'] == {'done': 1, 'postponed': 2, 'needs_window': 1}


def test_maintenance_rebuilds_exactly_the_bloated_objects_and_reports_sizes(tmp_path):
    before = state()
    proc, records = maintain(tmp_path)
    found, record = steps(records)
    assert sorted(k for k, v in found.items() if v['result'] == 'done') == \
        sorted(['vacuum:public.%s' % ARCHIVE, 'reindex:public.%s' % ARCHIVE_INDEX])
    reindex = found['reindex:public.%s' % ARCHIVE_INDEX]
    assert reindex['after_bytes'] < reindex['before_bytes'] / 2 and reindex['bloat_after'] < 20
    assert reindex['free_bytes'] >= 2 * reindex['before_bytes']
    summary = record['items'][0]
    assert summary['value'] >= reindex['before_bytes'] - reindex['after_bytes'] > 0
    after = state()
    changed = sorted(name for name in before['files'] if after['files'].get(name) != before['files'][name])
    assert changed == [ARCHIVE_INDEX], changed                      # healthy objects untouched
    vacuumed = sorted(name for name in before['vacuums'] if after['vacuums'][name] != before['vacuums'][name])
    assert vacuumed == [ARCHIVE]
    assert after['archive_dead'] == '0'
    density = float(psql("SELECT avg_leaf_density FROM pgstatindex('%s')" % ARCHIVE_INDEX)[0][0])
    assert density > 80
    # the MariaDB database was measured and left alone (its tables are small)
    mariadb = [r for r in records if r['kind'] == 'db_maintenance' and r['metrics']['engine'] == 'mariadb']
    assert mariadb and mariadb[0]['metrics']['counts'] == {}


def test_a_second_run_plans_nothing(tmp_path):
    before = state()
    proc, records = maintain(tmp_path)
    found, record = steps(records)
    assert [k for k, v in found.items() if v['action'] != 'needs_window'] == []
    assert 'changed=0' in proc.stdout and state()['files'] == before['files']


def test_offline_work_waits_for_the_guard_while_treatments_run():
    before = state()
    proc = guard_lab.run_playbook('db_maintenance.yml', dict(
        MAINTENANCE_VARS, db_maintenance_offline=True, dialysis_treatment_hours=guard_lab.IN_SHIFT))
    assert proc.returncode != 0 and 'Treatment-hours guard refused' in proc.stdout + proc.stderr
    assert state() == before                               # nothing was touched


def test_offline_work_runs_once_the_guard_clears_the_host():
    before_files = os.listdir(RECORDS)
    proc, verdicts, overrides = guard_lab.allowed_run('db_maintenance.yml', dict(
        MAINTENANCE_VARS, db_maintenance_offline=True))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert [v['decision'] for v in verdicts] == ['allowed'] and overrides == []
    records = []
    for name in sorted(set(os.listdir(RECORDS)) - set(before_files)):
        if name.endswith('.jsonl') and name != 'index.jsonl':
            records += records_of(os.path.join(RECORDS, name))
    found, record = steps(records)
    full = found['vacuum_full:public.%s' % ARCHIVE]
    assert full['result'] == 'done' and full['after_bytes'] < full['before_bytes'] / 3, full
    assert record['items'][0]['value'] >= full['before_bytes'] - full['after_bytes']


def test_after_the_window_nothing_is_left_to_plan(tmp_path):
    proc, records = maintain(tmp_path, check=True)
    found, record = steps(records)
    assert found == {} and record['items'][0]['counts'] == {}


def test_the_quarterly_performance_analysis_renders_from_the_lab():
    reports = os.path.join(EPHEMERAL, 'reports')
    env = dict(os.environ, DIALYSIS_REPORTS_DIR=reports)
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', INVENTORY_DIR,
            os.path.join(PROJECT, 'playbooks', 'performance.yml')]
    for language in ('zh', 'en'):
        proc = subprocess.run(argv + ['-e', 'performance_language=%s' % language], env=env,
                              capture_output=True, text=True, timeout=600, cwd=PROJECT)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        pdfs = glob.glob(os.path.join(reports, '*', 'quarterly-performance-report-*.%s.pdf' % language))
        assert len(pdfs) == 1, pdfs
    performance = []
    for path in glob.glob(os.path.join(RECORDS, '2*.jsonl')):
        performance += [r for r in records_of(path) if r['kind'] == 'performance']
    assert performance
    decisions = [i for i in performance[-1]['items'] if i['item'].startswith('restart_decision:hd-db-01/')]
    assert decisions, performance[-1]['items']
    statements = performance[-1]['metrics']['statements']
    assert statements and all(PATIENT not in (s['query'] or '') for s in statements)


def test_no_patient_name_and_no_password_in_any_record():
    raw = psql("SELECT count(*) FROM pg_stat_statements WHERE query LIKE '%%%s%%'" % PATIENT)[0][0]
    assert int(raw) > 0                                   # the name is in the statistics' texts
    passwords = [line.split('=', 1)[1].strip() for line in
                 open(os.path.join(INVENTORY_DIR, 'lab.env'), encoding='utf-8')
                 if line.startswith('DIALYSIS_LAB_')]
    assert passwords
    needles = [PATIENT, json.dumps(PATIENT)[1:-1]] + passwords
    files = [p for p in glob.glob(os.path.join(EPHEMERAL, '**', '*'), recursive=True)
             if os.path.isfile(p) and not p.startswith(INVENTORY_DIR)]
    files += glob.glob(os.path.join(PROJECT, 'reports', 'lab', '**', '*'), recursive=True)
    assert any(p.startswith(RECORDS) for p in files)
    for path in files:
        if not os.path.isfile(path):
            continue
        with open(path, 'rb') as handle:
            data = handle.read()
        for needle in needles:
            assert needle.encode('utf-8') not in data, '%s holds a planted value' % path


@pytest.fixture(autouse=True, scope='module')
def _release_locks():
    yield
    psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '%s'" % HOLDER)
