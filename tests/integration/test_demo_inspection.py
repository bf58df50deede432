"""The main job end to end: playbooks/inspect.yml against the demo inventory,
launched through ansible-runner as cron and AWX launch it."""

import json
import os
import shutil
import sys

import ansible_runner
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_inspect(tmp_path, extravars=None, cmdline=None, launcher='cron'):
    records = tmp_path / 'records'
    env = {
        'ANSIBLE_CONFIG': os.path.join(ROOT, 'ansible.cfg'),
        'DIALYSIS_RECORDS_DIR': str(records),
        'DIALYSIS_REPORTS_DIR': str(tmp_path / 'reports'),
        'PATH': os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''),
    }
    if launcher:
        env['DIALYSIS_LAUNCHER'] = launcher
    extravars = dict(extravars or {})
    (tmp_path / 'runner').mkdir(parents=True)
    result = ansible_runner.run(
        private_data_dir=str(tmp_path / 'runner'),
        project_dir=ROOT,
        playbook=os.path.join(ROOT, 'playbooks', 'inspect.yml'),
        inventory=os.path.join(ROOT, 'inventories', 'demo', 'hosts.yml'),
        envvars=env, extravars=extravars, cmdline=cmdline, quiet=True,
        timeout=300)
    return result, records


def lines_of(records):
    files = [p for p in records.glob('*.jsonl') if p.name != 'index.jsonl']
    assert len(files) == 1
    return [json.loads(x) for x in files[0].read_text().splitlines()]


def test_demo_inspection_records_the_whole_host(tmp_path):
    result, records = run_inspect(tmp_path)
    assert result.rc == 0, result.stdout.read()[-2000:]
    lines = lines_of(records)
    assert lines[0]['launcher'] == 'cron' and lines[-1]['type'] == 'run_end'
    recs = [ln['record'] for ln in lines if ln.get('record')]
    assert len(recs) == 1
    record = recs[0]
    ids = [i['item'] for i in record['items']]
    for prefix in ('cpu:usage', 'cpu:load', 'memory:ram', 'memory:swap', 'disk:/', 'inode:/',
                   'service:cron.service', 'service:ssh.service', 'clock:sync', 'system:uptime'):
        assert prefix in ids, prefix
    assert any(i.startswith('log:') for i in ids)
    assert record['metrics']['filesystems'] and record['metrics']['cpu']['cpu_count'] >= 1
    # The log positions reached travel with the record; the run's lock is released.
    inspected = [ln for ln in lines if ln.get('action') == 'dialysis.ops.host_inspection']
    assert inspected[0]['log_positions']['files']
    assert lines[-1]['locks_released'] == ['inspection']
    assert not list((records / 'locks').glob('*.lock'))
    # The run ends with this month's documents, and says where they are.
    out = result.stdout.read()
    for suffix in ('.xlsx', '.html', '.pdf'):
        paths = list((tmp_path / 'reports').rglob('*' + suffix))
        assert paths, suffix
        assert all(str(p) in out for p in paths), suffix


def test_launch_through_runner_and_awx_is_detected(tmp_path):
    result, records = run_inspect(tmp_path / 'runner-run', launcher=None)
    assert result.rc == 0
    assert lines_of(records)[0]['launcher'] == 'ansible-runner'
    result, records = run_inspect(tmp_path / 'awx-run', launcher=None,
                                  extravars={'awx_job_id': 4711, 'awx_user_name': 'li.si'})
    run = lines_of(records)[0]
    assert (run['launcher'], run['awx_job_id'], run['operator']) == ('awx', '4711', 'li.si')


def test_check_mode_inspects_without_saving_positions(tmp_path):
    result, records = run_inspect(tmp_path, cmdline='--check')
    assert result.rc == 0
    lines = lines_of(records)
    assert lines[0]['check_mode'] is True
    assert [ln for ln in lines if ln.get('record')]
    assert not [ln for ln in lines if 'log_positions' in ln]


@pytest.mark.parametrize('thresholds,message', [
    ({'disk_percent': {'warning': 'ninety'}},
     "inspection_thresholds.disk_percent.warning: expected a number (e.g. 85), got 'ninety'"),
    ({'memory_percent': {'warning': 97, 'critical': 95}},
     'inspection_thresholds.memory_percent: warning (97) must not be above critical (95)'),
])
def test_broken_inventory_value_fails_before_any_host_is_touched(tmp_path, thresholds, message):
    result, records = run_inspect(tmp_path, {'inspection_thresholds': thresholds})
    assert result.rc != 0
    out = result.stdout.read()
    assert message in out
    lines = lines_of(records)
    assert not any(ln.get('action') == 'dialysis.ops.host_inspection' for ln in lines)
    assert not (records / 'locks' / 'inspection.lock').exists()
    # A broken value is the run's error, never a finding on the host.
    failed = [ln for ln in lines if ln['type'] == 'result' and ln.get('status') == 'failed']
    assert len(failed) == 1 and message in failed[0]['msg'] and 'record' not in failed[0]
    errors = [ln for ln in lines if ln['type'] == 'run_error']
    assert len(errors) == 1 and message in errors[0]['msg']


@pytest.fixture(autouse=True)
def _cleanup(tmp_path):
    yield
    shutil.rmtree(tmp_path / 'runner', ignore_errors=True)


def test_one_broken_host_stops_every_host_before_inspection(tmp_path):
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(
        'all:\n'
        '  vars:\n'
        '    ansible_connection: local\n'
        '    ansible_python_interpreter: "{{ ansible_playbook_python }}"\n'
        '    dialysis_project_lead: lead\n'
        '    dialysis_hospital_id: broken\n'
        '  hosts:\n'
        '    good-01: {}\n'
        '    good-02: {}\n'
        '    broken-01:\n'
        '      inspection_filesystem_thresholds: {"/srv": {warning: 99, critical: 90}}\n')
    records = tmp_path / 'records'
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
               DIALYSIS_RECORDS_DIR=str(records), DIALYSIS_REPORTS_DIR=str(tmp_path / 'reports'),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))
    import subprocess
    proc = subprocess.run(['ansible-playbook', '-i', str(inventory),
                           os.path.join(ROOT, 'playbooks', 'inspect.yml')],
                          env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode != 0
    assert ("inspection_filesystem_thresholds['/srv']: warning (99) must not be above "
            "critical (90)") in proc.stdout
    lines = lines_of(records)
    assert not any(ln.get('action') == 'dialysis.ops.host_inspection' for ln in lines)
    assert not (tmp_path / 'reports').exists()
