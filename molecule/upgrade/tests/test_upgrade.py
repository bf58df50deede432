"""Verifier of the `upgrade` scenario: upgrades and rollbacks of the dialysis service on the lab's
two application hosts (hd-app-01, hd-app-02) and its database (hd-db-01), asserted from the
service's own /version, the database's schema and rows, the release manifests on the hosts and
the upgrade / rollback records in the scenario's record store.

Converge upgraded 1.0 -> 1.1. The tests run in this order (each leaves the lab healthy):
the converge record; a second run and check mode change nothing; 1.1 -> 1.2 fails its health
check and rolls back by itself while a concurrent upgrade is refused by the lock, then again
with the database restored from the backup; the guard refuses during treatments; rollback.yml
to 1.0; an upgrade killed with SIGKILL half-way is restored by the next run, which then
upgrades."""

import glob
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import testinfra
import yaml

PROJECT = os.environ['MOLECULE_PROJECT_DIRECTORY']
SCENARIO = os.environ['MOLECULE_SCENARIO_DIRECTORY']
INVENTORY_DIR = os.path.join(os.environ['MOLECULE_EPHEMERAL_DIRECTORY'], 'inventory', 'lab')
INVENTORY = os.path.join(INVENTORY_DIR, 'hosts.yml')
RECORDS = os.environ['DIALYSIS_RECORDS_DIR']
REPORTS = os.environ['DIALYSIS_REPORTS_DIR']
VARS = os.path.join(SCENARIO, 'vars', 'upgrade.yml')
APPS = ('hd-app-01', 'hd-app-02')
DB = 'hd-db-01'
LOCK = os.path.join(RECORDS, 'locks', 'upgrade-hemodialysis.lock')
MANIFEST = '/opt/dialysis-service/manifest.json'

sys.path.insert(0, os.path.join(PROJECT, 'molecule', 'resources'))

import guard_lab  # noqa: E402

with open(INVENTORY, encoding='utf-8') as _handle:
    HOSTVARS = yaml.safe_load(_handle)['all']['hosts']


def host(name):
    return testinfra.get_host('ansible://%s?ansible_inventory=%s' % (name, INVENTORY))


def run_files():
    return set(n for n in os.listdir(RECORDS) if n.endswith('.jsonl') and n != 'index.jsonl')


def records_of(names, kinds=('upgrade', 'rollback')):
    out = []
    for name in sorted(names):
        with open(os.path.join(RECORDS, name), encoding='utf-8') as handle:
            for line in handle:
                record = json.loads(line).get('record')
                if isinstance(record, dict) and record.get('kind') in kinds:
                    out.append(record)
    return out


def argv(playbook, *args, **extra):
    out = [
        os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'),
        '-i',
        INVENTORY,
        os.path.join(PROJECT, 'playbooks', playbook),
        '-e',
        '@' + VARS,
    ] + list(args)
    if extra:
        out += ['-e', json.dumps(extra)]
    return out


ENV = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')


def run(playbook, *args, **extra):
    """(returncode, output, [upgrade/rollback records of the new run])."""
    before = run_files()
    proc = subprocess.run(
        argv(playbook, *args, **extra), env=ENV, capture_output=True, text=True, timeout=600, check=False
    )
    return proc.returncode, proc.stdout + proc.stderr, records_of(run_files() - before)


def run_risk(playbook, *args, env=None, **extra):
    """(returncode, output, [upgrade_risk records], [upgrade records]) of a run; ENV entries
    replaced by ENV (another record store)."""
    store = (env or {}).get('DIALYSIS_RECORDS_DIR', RECORDS)
    before = _files(store)
    proc = subprocess.run(
        argv(playbook, *args, **extra), env=dict(ENV, **(env or {})), capture_output=True, text=True,
        timeout=600, check=False,
    )
    new = _files(store) - before
    return (proc.returncode, proc.stdout + proc.stderr, _records(store, new, ('upgrade_risk',)),
            _records(store, new, ('upgrade', 'rollback')))


def _files(store):
    if not os.path.isdir(store):
        return set()
    return set(n for n in os.listdir(store) if n.endswith('.jsonl') and n != 'index.jsonl')


def _records(store, names, kinds):
    out = []
    for name in sorted(names):
        with open(os.path.join(store, name), encoding='utf-8') as handle:
            for line in handle:
                record = json.loads(line).get('record')
                if isinstance(record, dict) and record.get('kind') in kinds:
                    out.append(record)
    return out


def version(name):
    url = 'http://127.0.0.1:%d/version' % HOSTVARS[name]['lab_published_ports']['8080']
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


def psql(sql):
    command = 'cd / && runuser -u postgres -- psql -X -At -d hemodialysis -c %s'
    return host(DB).check_output(command % _quote(sql))


def _quote(text):
    return "'" + text.replace("'", "'\"'\"'") + "'"


def database_state():
    """What an upgrade and its rollback must leave as it was: the applied migrations, the columns
    of every table but the collector's, and the rows of the tables nothing writes during the tests."""
    return {
        'migrations': psql('SELECT string_agg(version, \',\' ORDER BY version) FROM schema_migrations'),
        'columns': psql(
            "SELECT string_agg(table_name || '.' || column_name, ',' ORDER BY table_name, column_name) "
            "FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name NOT IN ('machine_reading')"
        ),
        'tables': psql(
            "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'"
        ),
        'rows': psql(
            "SELECT (SELECT count(*) FROM patient) || '/' || (SELECT count(*) FROM treatment_session) || '/' "
            "|| (SELECT count(*) FROM lab_result) || '/' || (SELECT count(*) FROM medication_order) || '/' "
            "|| (SELECT md5(string_agg(id::text || status, ',' ORDER BY id)) FROM treatment_session)"
        ),
        'dry_weight': psql('SELECT count(*) FROM dry_weight_assessment')
        if psql("SELECT to_regclass('dry_weight_assessment') IS NOT NULL") == 't'
        else 'absent',
    }


def manifest(name):
    return json.loads(host(name).file(MANIFEST).content_string)


def test_converge_upgraded_1_0_to_1_1_and_recorded_it():
    found = records_of(run_files())
    assert found, 'no upgrade record in %s' % RECORDS
    record = found[0]
    assert record['kind'] == 'upgrade' and record['outcome'] == 'upgraded' and record['status'] == 'ok'
    assert (record['version_from'], record['version_to']) == ('1.0', '1.1')
    assert record['ticket'] == 'CHG-MOLECULE-UPGRADE' and record['reason'].startswith(
        'molecule upgrade scenario'
    )
    assert record['backup_verified'] is True and record['hosts'] == list(APPS)
    # the risk gate let it through; the guard's live count (no treatment running) is the users' impact
    assert record['risk_gate'] == 'passed' and record['risk_verdict'] == 'go_with_conditions'
    assert record['metrics']['risk']['running'] == 0
    assert 'migrations/0002_dry_weight_assessment.sql' in record['modules_changed']
    assert record['metrics']['migration']['applied'] == ['0002']
    assert 0 < record['downtime_seconds'] < 60
    items = dict((i['item'], i) for i in record['items'])
    assert items['upgrade:collector']['status'] == 'ok', items['upgrade:collector']
    backup = record['metrics']['backup']
    assert backup['entries'] > 0 and backup['table_data'] > 0 and len(backup['sha256']) == 64
    # the backup is on the database host with its checksum, and still checks
    host(DB).run_expect(
        [0],
        'cd %s && sha256sum -c %s.sha256'
        % (os.path.dirname(backup['path']), os.path.basename(backup['path'])),
    )
    for name in APPS:
        assert version(name) == {'version': '1.1', 'schema': '0002', 'database_schema': '0002'}
        assert items['health:%s' % name]['status'] == 'ok'
        data = manifest(name)
        assert data['current']['version'] == '1.1' and data['previous']['version'] == '1.0'
        assert data['last_known_good']['version'] == '1.1' and data['operation'] is None
        assert data['history'][-1]['outcome'] == 'upgraded'
        assert (
            host(name).file('/opt/dialysis-service/current').linked_to == '/opt/dialysis-service/releases/1.1'
        )
        assert not host(name).file('/var/lib/dialysis-service/maintenance').exists
    assert database_state()['dry_weight'] != 'absent'


def test_a_second_run_and_check_mode_change_nothing():
    before = ([manifest(name) for name in APPS], database_state())
    rc, out, found = run('upgrade.yml')
    assert rc == 0, out[-3000:]
    assert 'runs 1.1 on hd-app-01, hd-app-02 with nothing to migrate: nothing to do' in out
    assert found == []
    for name in APPS + (DB,):
        recap = re.search(r'^%s\s*:.*\bchanged=(\d+)' % name, out, re.M)
        assert recap and recap.group(1) == '0', (name, out[-2000:])
    release_12 = host('hd-app-01').file('/opt/dialysis-service/releases/1.2')
    unpacked = release_12.exists  # False on a fresh lab; True when verify runs again
    rc, out, found = run('upgrade.yml', '--check', upgrade_version='1.2')
    assert rc == 0, out[-3000:]
    assert 'Check mode: would upgrade hemodialysis from 1.1 to 1.2 on hd-app-01, hd-app-02' in out
    assert 'migrations pending: 0003' in out and found == []
    assert ([manifest(name) for name in APPS], database_state()) == before
    assert host('hd-app-01').file('/opt/dialysis-service/releases/1.2').exists == unpacked


def _untouched():
    """What a refused upgrade must leave as it was: manifests, database, versions, and the
    release 1.2 neither copied nor unpacked."""
    return _snapshot() + tuple(
        (host(name).file('/opt/dialysis-service/releases/1.2').exists,
         host(name).file('/opt/dialysis-service/archives/dialysis-service-1.2.tar.gz').exists)
        for name in APPS
    )


def test_the_risk_assessment_of_1_2_reads_everything_and_changes_nothing():
    """upgrade_risk.yml: backup within the RPO and proven by prepare's restore drill, room on every host,
    outside treatment hours, healthy, 0003 has a down-migration; no test environment in the lab: a
    "go with conditions". Then the document of the month, in Chinese."""
    before = _untouched()
    rc, out, risks, upgrades = run_risk('upgrade_risk.yml', upgrade_version='1.2',
                                        upgrade_risk_planned_at='2030-01-01 23:45')
    assert rc == 0, out[-3000:]
    assert len(risks) == 1 and upgrades == [], risks
    record = risks[0]
    assert record['verdict'] == 'go_with_conditions', record
    assert record['conditions'] == ['no_test_environment'], record
    assert record['gate'] == 'assessed' and (record['version_from'], record['version_to']) == ('1.1', '1.2')
    items = dict((i['item'], i) for i in record['items'])
    assert items['risk:backup']['status'] == 'ok' and 0 <= items['risk:backup']['value'] < 26
    assert items['risk:drill']['status'] == 'ok', items['risk:drill']
    assert record['metrics']['drill']['backup'] == record['metrics']['backup']['newest']
    for name in APPS + (DB,):
        assert items['risk:disk:%s' % name]['status'] == 'ok'
    for name in APPS:
        assert items['risk:health:%s' % name]['status'] == 'ok'
    assert items['risk:guard']['status'] == 'ok' and record['planned_at'] == '2030-01-01T15:45:00Z'
    assert items['risk:reversibility']['value'] == 'down' and items['risk:plan']['value'] == 'down'
    assert 'migrations/0003_dialysate_prescription.sql' in record['modules_changed']
    assert _untouched() == before
    docs = glob.glob(os.path.join(REPORTS, '*', 'upgrade-risk-*.zh.*'))
    assert sorted(os.path.splitext(d)[1] for d in docs) == ['.docx', '.html', '.pdf', '.xlsx'], docs


def test_no_go_when_the_backup_is_older_than_the_rpo_and_never_restore_tested_refuses_the_upgrade(tmp_path):
    """A hospital whose record store holds no restore drill (another store, the same lab), with the
    RPO shortened below the newest backup's age: both blockers, and the upgrade is refused before
    any host is touched (each blocker alone: tests/unit/test_upgrade_risk.py)."""
    before = _untouched()
    store = str(tmp_path / 'records')
    rc, out, risks, upgrades = run_risk('upgrade.yml', upgrade_version='1.2', lab_backup_rpo_hours=0.001,
                                        env={'DIALYSIS_RECORDS_DIR': store})
    assert rc != 0, out[-3000:]
    assert 'The upgrade is refused by its risk assessment; nothing was changed' in out, out[-3000:]
    assert 'beyond the RPO of 0.001 h' in out and 'was ever restore-tested' in out
    assert len(risks) == 1 and upgrades == []
    assert risks[0]['verdict'] == 'no_go' and risks[0]['gate'] == 'refused'
    assert risks[0]['blockers'] == ['too_old', 'never_drilled'], risks[0]['blockers']
    assert _untouched() == before


def test_1_2_fails_its_health_check_and_rolls_back_by_itself_while_a_second_upgrade_is_refused():
    before = database_state()
    first_files = run_files()
    # A health wait far longer than the scenario's 8 s: 1.2 answers 503 from its first request, so
    # the check must declare it failed after upgrade_health_fail_after (default 5) answers at the
    # 1 s interval, not after the whole wait.
    first = subprocess.Popen(
        argv('upgrade.yml', upgrade_version='1.2', upgrade_health_wait=40),
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(LOCK) and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.1)
        assert os.path.exists(LOCK), 'the first upgrade never took the lock'
        rc, out, found = run('upgrade.yml', upgrade_version='1.2')
        assert rc != 0 and found == []
        assert 'the upgrade (hemodialysis) lock of this hospital is held by run' in out, out[-3000:]
        assert 'playbook upgrade.yml' in out
        out_first = first.communicate(timeout=600)[0]
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode != 0
    assert 'Rolled back automatically to 1.1 (healthy again)' in out_first, out_first[-3000:]
    found = records_of(run_files() - first_files)  # the refused run wrote none
    records = [r for r in found if r['version_to'] == '1.2']
    assert len(records) == 1, found
    record = records[0]
    assert record['outcome'] == 'rolled_back_automatically' and record['status'] == 'warning'
    assert record['metrics']['migration']['applied'] == ['0003']
    assert record['metrics']['migration']['undone'] == ['0003']
    assert record['metrics']['rollback']['method'] == 'down'
    assert 'HTTP 503' in record['metrics']['rollback']['trigger']
    assert record['metrics']['timings']['rollback_seconds'] < 60
    assert record['backup_verified'] is True
    # why the check failed: 1.2 answered unhealthy 5 times in a row, and the rollback started
    # well before the 40 s health wait had gone
    assert record['health_check_verdict'] == 'answered_unhealthy'
    failure = record['metrics']['check_failures'][0]
    assert (failure['host'], failure['version']) == ('hd-app-01', '1.2')
    assert failure['verdict'] == 'answered_unhealthy'
    assert failure['answers'] == 5 and failure['fail_after'] == 5 and failure['health_wait'] == 40
    assert failure['waited_seconds'] < 20, failure
    assert 'answered unhealthy 5 times in a row' in record['metrics']['rollback']['trigger']
    assert len(record['metrics']['check_failures']) == 1  # the rollback's own checks passed
    # the database is as it was before the migration: schema and rows
    assert database_state() == before
    for name in APPS:
        assert version(name) == {'version': '1.1', 'schema': '0002', 'database_schema': '0002'}
        data = manifest(name)
        assert data['current']['version'] == '1.1' and data['last_known_good']['version'] == '1.1'
        # hd-app-01 ran 1.2 and failed its checks; hd-app-02 never ran it
        assert data['releases']['1.2']['status'] == ('failed' if name == 'hd-app-01' else 'unknown')
        assert data['operation'] is None
        assert data['history'][-1]['outcome'] == 'rolled_back_automatically'
        # the failed release stays on disk for forensics
        assert host(name).file('/opt/dialysis-service/releases/1.2/release.json').exists
        assert not host(name).file('/var/lib/dialysis-service/maintenance').exists


def test_without_down_migrations_the_rollback_restores_the_pre_migration_backup():
    """upgrade_database_rollback=restore: the database goes back by the checked backup (the path of a
    release without down-migrations): services stopped, DROP DATABASE ... WITH (FORCE), pg_restore."""
    before = database_state()
    # The RPO shortened so that the risk assessment says "no go"; overridden with a reason and a
    # name, the upgrade proceeds and the override is recorded (the risk record, the upgrade record).
    rc, out, risks, found = run_risk(
        'upgrade.yml', upgrade_version='1.2', upgrade_database_rollback='restore', lab_backup_rpo_hours=0.001,
        upgrade_risk_override_reason='molecule: the restore path must be proven tonight',
        upgrade_risk_override_operator='molecule operator',
    )
    assert rc != 0 and 'Rolled back automatically to 1.1 (healthy again)' in out, out[-3000:]
    assert 'RISK ASSESSMENT "NO GO" OVERRIDDEN by molecule operator' in out
    assert len(risks) == 1 and risks[0]['gate'] == 'overridden'
    assert risks[0]['operator'] == 'molecule operator'
    assert 'too_old' in risks[0]['blockers'] and 'restore_needed' in risks[0]['conditions']
    assert len(found) == 1, found
    record = found[0]
    assert record['risk_verdict'] == 'no_go' and record['risk_gate'] == 'overridden'
    assert record['metrics']['risk']['override_reason'] == 'molecule: the restore path must be proven tonight'
    assert record['outcome'] == 'rolled_back_automatically'
    assert record['metrics']['migration']['method'] == 'restore'
    assert record['metrics']['migration']['undone'] == []
    assert record['metrics']['rollback']['method'] == 'restore'
    assert record['metrics']['timings']['rollback_seconds'] < 60
    assert database_state() == before
    for name in APPS:
        assert version(name) == {'version': '1.1', 'schema': '0002', 'database_schema': '0002'}
        assert manifest(name)['history'][-1]['outcome'] == 'rolled_back_automatically'


def _snapshot():
    return ([manifest(name) for name in APPS], database_state(), [version(name) for name in APPS])


def test_the_guard_refuses_during_treatments_before_any_host_is_touched():
    """In shift with a treatment running (started by hand: the scenario's collector keeps none)."""
    psql(
        "UPDATE treatment_session SET status = 'running', started_at = now(), ended_at = NULL "
        "WHERE id = (SELECT min(id) FROM treatment_session WHERE status = 'completed')"
    )
    try:
        assert guard_lab.running_treatments() == 1
        before_files = os.listdir(RECORDS)
        before = _snapshot()
        proc = guard_lab.run_playbook(
            'upgrade.yml',
            dict(
                yaml.safe_load(open(VARS, encoding='utf-8')),
                dialysis_treatment_hours=guard_lab.IN_SHIFT,
                upgrade_version='1.2',
            ),
        )
        text = proc.stdout + proc.stderr
        assert proc.returncode != 0 and 'Treatment-hours guard refused upgrade' in text, text[-3000:]
        verdicts, overrides = guard_lab.verdicts_since(before_files)
        assert [v['decision'] for v in verdicts] == ['refused'] and overrides == []
        assert verdicts[0]['systems']['hemodialysis']['reasons'] == ['in_shift', 'treatments_running']
        assert _snapshot() == before
    finally:
        psql("UPDATE treatment_session SET status = 'completed', ended_at = now() WHERE status = 'running'")
    assert guard_lab.running_treatments() == 0


def test_rollback_to_1_0_brings_code_and_database_back():
    rc, out, found = run(
        'rollback.yml',
        upgrade_rollback_version='1.0',
        upgrade_reason='molecule rollback scenario - back to 1.0 by decision',
    )
    assert rc == 0, out[-3000:]
    assert len(found) == 1 and found[0]['kind'] == 'rollback', found
    record = found[0]
    assert record['outcome'] == 'rolled_back' and record['status'] == 'ok'
    assert (record['version_from'], record['version_to']) == ('1.1', '1.0')
    assert record['metrics']['migration']['undone'] == ['0002'] and record['backup_verified'] is True
    assert database_state()['dry_weight'] == 'absent'
    for name in APPS:
        assert version(name) == {'version': '1.0', 'schema': '0001', 'database_schema': '0001'}
        data = manifest(name)
        assert data['current']['version'] == '1.0' and data['previous']['version'] == '1.1'
        assert data['history'][-1]['outcome'] == 'rolled_back'
    rc, out, found = run(
        'rollback.yml',
        upgrade_rollback_version='1.0',
        upgrade_reason='molecule rollback scenario - back to 1.0 by decision',
    )
    assert rc == 0 and found == [] and 'runs 1.0 on every app host already: nothing to do' in out
    rc, out, found = run(
        'rollback.yml',
        upgrade_rollback_version='0.9',
        upgrade_reason='molecule rollback scenario - a release nobody installed',
    )
    assert rc != 0 and 'Cannot roll back to 0.9' in out and found == []


def test_an_upgrade_killed_half_way_is_restored_by_the_next_run():
    before = database_state()
    files = run_files()
    killed = subprocess.Popen(
        argv('upgrade.yml'),
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    # The manifest read through the container's root from the controller (no exec per poll).
    pid = subprocess.run(['podman', 'inspect', '-f', '{{.State.Pid}}', 'ulab-hd-app-01'], capture_output=True,
                         text=True, check=True).stdout.strip()
    path = '/proc/%s/root%s' % (pid, MANIFEST)
    state = None
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and killed.poll() is None:
            try:
                with open(path, encoding='utf-8') as handle:
                    state = (json.load(handle).get('operation') or {}).get('state')
            except (OSError, ValueError):
                state = None
            if state in ('migrating', 'switching'):
                break
            time.sleep(0.02)
    finally:
        # Killed half-way, or (when it was never caught there) killed anyway: no run of this
        # test outlives it, holding the lab's upgrade lock.
        if killed.poll() is None:
            os.killpg(killed.pid, signal.SIGKILL)
        killed.wait(timeout=30)
    assert state in ('migrating', 'switching'), 'the upgrade was not caught half-way (%s)' % state
    assert records_of(run_files() - files) == []  # killed: no record
    assert manifest('hd-app-01')['operation']['state'] in ('migrating', 'switching')
    rc, out, found = run('upgrade.yml')
    assert rc == 0, out[-3000:]
    assert re.search(r'stopped in state (migrating|switching) of its upgrade 1.0 -> 1.1', out), out[-3000:]
    assert 'restoring 1.0 (code and database, schema 0001)' in out
    assert len(found) == 1 and found[0]['outcome'] == 'upgraded', found
    items = dict((i['item'], i) for i in found[0]['items'])
    assert items['upgrade:recovered']['value'] in ('migrating', 'switching')
    assert 'restored 1.0 and schema 0001' in items['upgrade:recovered']['message']
    history = manifest('hd-app-01')['history']
    assert [h.get('outcome') for h in history if h.get('outcome')][-2:] == [
        'restored_after_interruption',
        'upgraded',
    ]
    for name in APPS:
        assert version(name) == {'version': '1.1', 'schema': '0002', 'database_schema': '0002'}
    after = database_state()
    assert after['rows'] == before['rows'] and after['dry_weight'] != 'absent'


def test_both_documents_render_every_field_from_the_runs(tmp_path):
    """系统升级记录 and 升级风险评估 of this month from the scenario's record store (build_report, what
    the report role's action runs), in Chinese and English, PDF and DOCX: no field empty or unknown."""
    sys.path.insert(0, os.path.join(PROJECT, '.collections'))
    from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_period import (
        get_timezone,
        period_bounds,
    )
    from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_risk import risk_model
    from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_upgrade import upgrade_model
    from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_i18n import Translator
    from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_report import build_report
    from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import RecordStore

    for language in ('zh', 'en'):
        params = {
            'records_dir': RECORDS, 'output_dir': str(tmp_path), 'annotations_dir': str(tmp_path / 'ann'),
            'period': 'month', 'month': '', 'quarter': '', 'language': language, 'timezone': 'Asia/Shanghai',
            'expected_hosts': {}, 'project_lead': '实验环境负责人', 'hospital': '演示医院（实验环境）',
            'hospital_id': 'lab', 'documents': ['upgrade_record', 'upgrade_risk'], 'formats': ['pdf', 'docx'],
            'check_mode': False,
        }
        paths = build_report(params, os.path.join(PROJECT, 'roles', 'report', 'templates'))['paths']
        for key in ('upgrade_record.pdf', 'upgrade_record.docx', 'upgrade_risk.pdf', 'upgrade_risk.docx'):
            assert os.path.getsize(paths[key]) > 5000, key
    dummy, start, end = period_bounds('month', '', '', 'Asia/Shanghai')
    for language in ('zh', 'en'):
        t = Translator(language)
        ctx = {'t': t, 'tz': get_timezone('Asia/Shanghai'), 'start': start, 'end': end}
        store = RecordStore(RECORDS)
        risk, upgrade = risk_model(store, ctx), upgrade_model(store, ctx)
        # converge, the 1.2 runs, rollback.yml, the killed run's successor; their assessments
        # and upgrade_risk.yml's
        assert len(upgrade['details']) >= 5 and len(risk['details']) >= 5
        verdicts = set(r['verdict'] for r in risk['summary'])
        assert t('risk_verdict_go_with_conditions') in verdicts and t('risk_verdict_no_go') in verdicts
        empty = []
        for name, model in (('upgrade_risk', risk), ('upgrade_record', upgrade)):
            for detail in model['details']:
                for row in detail['rows']:
                    value = str(row['value'])
                    if not value.strip() or t('value_unknown') in value or 'None' in value.split():
                        empty.append((name, detail['title'], row['field'], value))
        assert empty == [], empty
