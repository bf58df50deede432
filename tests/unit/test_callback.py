"""The records callback, exercised by real ansible-playbook runs on this machine."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import RecordStore

SECRET = 'Zq9-secret-Pa55'
PATIENT_ID = '110101199003071234'


@pytest.fixture
def workspace(tmp_path, repo_root):
    inv = tmp_path / 'hosts.yml'
    inv.write_text(textwrap.dedent('''
        all:
          children:
            hemodialysis:
              hosts:
                localhost:
                  ansible_connection: local
                  ansible_python_interpreter: "{{ ansible_playbook_python }}"
            ckd:
              hosts:
                ghost:
                  ansible_host: 127.0.0.1
                  ansible_port: 9
                  ansible_user: nobody
                  ansible_ssh_common_args: -o StrictHostKeyChecking=no -o ConnectTimeout=3
        '''))
    env = dict(os.environ)
    env.update({
        'ANSIBLE_CONFIG': os.path.join(repo_root, 'ansible.cfg'),
        'DIALYSIS_RECORDS_DIR': str(tmp_path / 'records'),
        'DIALYSIS_OPERATOR': 'engineer-zhang',
        'DIALYSIS_LAUNCHER': 'cron',
        'ANSIBLE_HOST_KEY_CHECKING': 'False',
        'PATH': os.path.dirname(sys.executable) + os.pathsep + env.get('PATH', ''),
    })
    return {'dir': tmp_path, 'inventory': str(inv), 'env': env, 'records': tmp_path / 'records'}


def run_playbook(ws, text, *extra, check=True):
    book = ws['dir'] / 'play.yml'
    book.write_text(textwrap.dedent(text))
    proc = subprocess.run(['ansible-playbook', '-i', ws['inventory'], str(book)] + list(extra),
                          env=ws['env'], capture_output=True, text=True, timeout=300, check=False)
    return proc


def run_lines(ws):
    files = sorted(p for p in ws['records'].glob('*.jsonl') if p.name != 'index.jsonl')
    assert len(files) == 1, files
    return [json.loads(line) for line in files[-1].read_text().splitlines()], files[-1]


PLAY = '''
- name: Records callback test
  hosts: all
  gather_facts: false
  vars:
    dialysis_record_kind: inspection
  tasks:
    - name: Take the inspection lock
      dialysis.ops.run_lock:
        duty: inspection
      run_once: true
    - name: Inspect
      dialysis.ops.host_inspection:
        system: hemodialysis
        cpu_sample_seconds: 0.1
        journal: false
    - name: Use a credential quietly
      ansible.builtin.debug:
        msg: "the password is %(secret)s"
      no_log: true
    - name: Leak a credential by mistake
      ansible.builtin.command: echo "db password=%(secret)s id %(pid)s"
      changed_when: false
    - name: Fail on the host
      ansible.builtin.command: sh -c 'echo "cannot reach HIS with token=%(secret)s" >&2; exit 3'
      changed_when: false
      when: inventory_hostname == 'localhost'
''' % {'secret': SECRET, 'pid': PATIENT_ID}


def test_every_result_is_recorded_with_run_metadata(workspace):
    proc = run_playbook(workspace, PLAY)
    assert proc.returncode != 0  # one host failed, one unreachable
    lines, path = run_lines(workspace)
    run = lines[0]
    assert run['type'] == 'run' and run['playbook'] == 'play.yml'
    assert run['operator'] == 'engineer-zhang' and run['launcher'] == 'cron'
    assert run['check_mode'] is False and run['run_id'] in path.name
    assert lines[-1]['type'] == 'run_end'
    assert set(lines[-1]['hosts']) == {'localhost', 'ghost'}
    assert 0 < lines[-1]['callback_seconds'] < lines[-1]['duration']
    results = [ln for ln in lines if ln['type'] == 'result']
    by_task = dict(((r['host'], r['task']), r) for r in results)
    inspect = by_task[('localhost', 'Inspect')]
    assert inspect['status'] == 'ok' and inspect['record']['kind'] == 'inspection'
    assert any(i['item'] == 'disk:/' for i in inspect['record']['items'])
    assert inspect['duration'] >= 0.1 and inspect['operator'] == 'engineer-zhang'
    assert by_task[('localhost', 'Leak a credential by mistake')]['status'] == 'ok'
    assert index_events(workspace, run['run_id']) == ['start', 'end']


def index_events(ws, run_id):
    events = [json.loads(x) for x in (ws['records'] / 'index.jsonl').read_text().splitlines()]
    return [e['event'] for e in events if e['run_id'] == run_id]


def test_unreachable_and_failed_hosts_are_anomaly_records(workspace):
    run_playbook(workspace, PLAY)
    lines = run_lines(workspace)[0]
    results = [ln for ln in lines if ln['type'] == 'result']
    ghost = [r for r in results if r['host'] == 'ghost']
    assert [g['status'] for g in ghost] == ['unreachable']
    record = ghost[0]['record']
    assert record['system'] == 'ckd' and record['kind'] == 'inspection'
    assert record['status'] == 'critical' and record['anomalies'] == 1
    assert record['items'][0]['item'] == 'host:reachability'
    assert record['items'][0]['reason'] == 'unreachable'
    failed = [r for r in results if r['status'] == 'failed']
    assert len(failed) == 1 and failed[0]['host'] == 'localhost'
    assert failed[0]['record']['kind'] == 'inspection' and failed[0]['record']['system'] == 'hemodialysis'
    assert failed[0]['record']['items'][0]['status'] == 'error'
    assert failed[0]['record']['items'][0]['reason'] == 'task_failed'
    assert 'cannot reach HIS' in failed[0]['msg']
    assert not any(ln['type'] == 'run_error' for ln in lines)


def test_no_credential_or_patient_id_reaches_the_store(workspace):
    run_playbook(workspace, PLAY)
    lines, path = run_lines(workspace)
    text = path.read_text()
    assert SECRET not in text and PATIENT_ID not in text
    quiet = [ln for ln in lines if ln.get('task') == 'Use a credential quietly'][0]
    assert quiet['no_log'] is True and 'record' not in quiet and 'msg' not in quiet
    index_text = (workspace['records'] / 'index.jsonl').read_text()
    assert SECRET not in index_text


def test_check_mode_is_recorded(workspace):
    run_playbook(workspace, PLAY, '--check', '--limit', 'localhost')
    lines = run_lines(workspace)[0]
    assert lines[0]['check_mode'] is True
    assert all(ln['check_mode'] for ln in lines if ln['type'] == 'result')


def test_store_reads_records_of_a_period(workspace):
    run_playbook(workspace, PLAY)
    store = RecordStore(str(workspace['records']))
    runs = store.runs('2000-01-01', '2100-01-01')
    assert len(runs) == 1 and runs[0]['complete'] is True
    records = list(store.records('2000-01-01', '2100-01-01', kind='inspection'))
    hosts = sorted(r['context']['host'] for r in records)
    assert hosts == ['ghost', 'localhost', 'localhost']  # unreachable, inspection, failure
    assert list(store.records('2000-01-01', '2100-01-01', system='ckd'))[0]['context']['host'] == 'ghost'
    assert list(store.records('2100-01-01', '2200-01-01')) == []


SLOW_PLAY_TASKS = '''
- name: Slow run
  hosts: localhost
  gather_facts: false
  tasks:
''' + ''.join('''    - name: Step %d
      ansible.builtin.command: "sleep 0.05"
      changed_when: false
''' % i for i in range(300))


def test_sigkill_mid_run_leaves_only_valid_lines(workspace):
    book = workspace['dir'] / 'slow.yml'
    book.write_text(SLOW_PLAY_TASKS)
    proc = subprocess.Popen(['ansible-playbook', '-i', workspace['inventory'], str(book)],
                            env=workspace['env'], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    run_file = None
    while time.time() < deadline:
        files = [p for p in workspace['records'].glob('*.jsonl') if p.name != 'index.jsonl'] \
            if workspace['records'].exists() else []
        if files and files[0].read_text().count('\n') >= 12:
            run_file = files[0]
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert run_file is not None, 'the run never wrote a dozen lines'
    raw = run_file.read_bytes()
    assert raw.endswith(b'\n')
    lines = [json.loads(x) for x in raw.decode().splitlines()]
    assert lines[0]['type'] == 'run'
    assert not any(ln['type'] == 'run_end' for ln in lines)
    assert 12 <= len(lines) < 301
    store = RecordStore(str(workspace['records']))
    runs = store.runs()
    assert len(runs) == 1 and runs[0]['complete'] is False
    assert len(list(store.results())) == len(lines) - 1


RUN_FAILURES = '''
- name: A duty play whose controller-side checks fail
  hosts: localhost
  gather_facts: false
  vars:
    dialysis_record_kind: inspection
  tasks:
    - name: Check a value given with -e
      ansible.builtin.assert:
        that: report_month is match('^[0-9]{4}-[0-9]{2}$')
        fail_msg: "report_month: expected YYYY-MM, got {{ report_month }}"
'''


def test_a_failed_assert_is_a_run_error_not_a_finding(workspace):
    proc = run_playbook(workspace, RUN_FAILURES, '-e', 'report_month=November')
    assert proc.returncode != 0
    lines = run_lines(workspace)[0]
    assert not any('record' in ln for ln in lines if ln['type'] == 'result')
    errors = [ln for ln in lines if ln['type'] == 'run_error']
    assert len(errors) == 1 and 'report_month: expected YYYY-MM' in errors[0]['msg']
    assert lines[-1]['run_errors'] == 1
    store = RecordStore(str(workspace['records']))
    assert list(store.records()) == []
    assert [e['task'] for e in store.run_errors()] == ['Check a value given with -e']


NO_KIND = '''
- name: A utility play that is no duty
  hosts: all
  gather_facts: false
  tasks:
    - name: Ping
      ansible.builtin.ping:
'''


def test_outside_a_duty_play_an_unreachable_host_is_a_run_error(workspace):
    run_playbook(workspace, NO_KIND)
    lines = run_lines(workspace)[0]
    ghost = [ln for ln in lines if ln.get('host') == 'ghost']
    assert [g['type'] for g in ghost] == ['result', 'run_error']
    assert 'record' not in ghost[0]


BAD_MODULE = '''#!/usr/bin/python
from ansible.module_utils.basic import AnsibleModule
m = AnsibleModule(argument_spec={}, supports_check_mode=True)
m.exit_json(changed=False, record={'version': 2, 'kind': 'inspection', 'system': 'pd', 'status': 'ok',
            'anomalies': 0, 'items': [{'item': 'disk:/', 'value': 99.0, 'status': 'fine', 'message': 'm'}]})
'''


def test_a_record_that_breaks_the_contract_is_refused_loudly(workspace):
    library = workspace['dir'] / 'library'
    library.mkdir()
    (library / 'bad_record.py').write_text(BAD_MODULE)
    proc = run_playbook(workspace, '''
- name: A module returning a broken record
  hosts: localhost
  gather_facts: false
  vars:
    dialysis_record_kind: inspection
  tasks:
    - name: Broken
      bad_record:
''')
    assert 'refused a record that breaks the record contract' in proc.stderr + proc.stdout
    lines = run_lines(workspace)[0]
    result = [ln for ln in lines if ln.get('task') == 'Broken' and ln['type'] == 'result'][0]
    assert 'record' not in result
    error = [ln for ln in lines if ln['type'] == 'run_error'][0]
    assert error['status'] == 'invalid_record' and "'fine'" in error['msg']


def test_each_hospital_has_its_own_store(workspace):
    env = dict(workspace['env'], DIALYSIS_RECORDS_DIR=str(workspace['dir'] / 'stores' / '{hospital}'))
    book = workspace['dir'] / 'noop.yml'
    book.write_text(NO_KIND)
    base = ['ansible-playbook', '-i', workspace['inventory'], '--limit', 'localhost', str(book)]
    for hospital in ('city-a', 'city-b'):
        proc = subprocess.run(base + ['-e', 'dialysis_hospital_id=%s' % hospital], env=env,
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    stores = sorted(p.name for p in (workspace['dir'] / 'stores').iterdir())
    assert stores == ['city-a', 'city-b']
    for hospital in stores:
        runs = RecordStore(str(workspace['dir'] / 'stores' / hospital)).runs()
        assert len(runs) == 1 and runs[0]['hospital_id'] == hospital
    # Without a hospital id the run is kept apart from every hospital, and says so.
    proc = subprocess.run(base, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert 'dialysis_hospital_id is not set' in proc.stderr
    assert (workspace['dir'] / 'stores' / 'unassigned').is_dir()


def test_an_inspection_without_the_lock_is_a_run_error_and_reads_nothing(workspace):
    proc = run_playbook(workspace, '''
- name: An inspection that forgot the lock
  hosts: localhost
  gather_facts: false
  vars:
    dialysis_record_kind: inspection
  tasks:
    - name: Inspect
      dialysis.ops.host_inspection:
        cpu_sample_seconds: 0.1
        journal: false
''')
    assert proc.returncode != 0
    lines = run_lines(workspace)[0]
    result = [ln for ln in lines if ln.get('task') == 'Inspect' and ln['type'] == 'result'][0]
    assert 'record' not in result and 'log_positions' not in result
    error = [ln for ln in lines if ln['type'] == 'run_error'][0]
    assert 'needs the inspection lock of this hospital' in error['msg']
    assert list(RecordStore(str(workspace['records'])).records()) == []
