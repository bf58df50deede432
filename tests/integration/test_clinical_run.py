"""Clinical items through a real ansible-playbook run on this machine (local connection):
the action plugin judges treatment hours by the host's system calendar, endpoints are
probed from the host, and a broken calendar stops the run before any host is touched.
The databases are real in molecule/lab; here there are none, so only endpoints and a
collector unit are configured."""

import glob
import json
import os
import socket
import subprocess
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ALL_DAYS = '[mon, tue, wed, thu, fri, sat, sun]'

INVENTORY = '''
all:
  vars:
    dialysis_hospital_id: clinic-test
    dialysis_hospital: 临床测试医院
    dialysis_project_lead: 孙工
    inspection_services: []
    inspection_system_logs: []
    inspection_journal: false
    inspection_cpu_sample_seconds: 0.1
  children:
    hemodialysis:
      vars:
        dialysis_system: hemodialysis
        dialysis_treatment_hours: {calendar}
      hosts:
        hd-if-01:
          ansible_connection: local
          ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
          inspection_clinical:
            endpoints:
              - {{name: his-adt, host: 127.0.0.1, port: {open_port}, protocol: mllp, peer: HIS}}
              - {{name: lis-results, host: 127.0.0.1, port: {closed_port}, protocol: mllp, peer: LIS}}
'''


@pytest.fixture
def listener():
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(8)
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    closed = probe.getsockname()[1]
    probe.close()
    yield server.getsockname()[1], closed
    server.close()


def run(tmp_path, ansible_env, listener, calendar):
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(textwrap.dedent(INVENTORY).format(
        calendar=calendar, open_port=listener[0], closed_port=listener[1]))
    playbook = os.path.join(ROOT, 'playbooks', 'inspect.yml')
    proc = subprocess.run(['ansible-playbook', '-i', str(inventory), playbook, '-e', 'inspect_report=false'],
                          env=ansible_env(), cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    files = [f for f in glob.glob(str(tmp_path / 'stores' / 'clinic-test' / 'records' / '*.jsonl'))
             if not f.endswith('index.jsonl')]
    records = []
    for path in files:
        with open(path, encoding='utf-8') as handle:
            records += [json.loads(line).get('record') for line in handle]
    return proc, [r for r in records if r and r.get('kind') == 'inspection']


@pytest.mark.parametrize('calendar, in_shift', [
    ('{days: %s, hours: ["00:00-24:00"]}' % ALL_DAYS, True),
    ('{days: [mon], hours: ["00:00-00:01"], holidays: []}', False),
])
def test_the_host_calendar_decides_treatment_hours_and_endpoints_are_probed(
        tmp_path, ansible_env, listener, calendar, in_shift):
    proc, records = run(tmp_path, ansible_env, listener, calendar)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert len(records) == 1
    record = records[0]
    if not in_shift:
        # One minute on Mondays: this test may run in it; then there is nothing to tell.
        if record['metrics']['clinical']['in_shift']:
            pytest.skip('ran in the one treatment minute of the calendar')
    assert record['metrics']['clinical']['in_shift'] is in_shift
    items = dict((i['item'], i) for i in record['items'])
    assert items['endpoint:his-adt']['status'] == 'ok'
    assert items['endpoint:lis-results']['status'] == 'critical'
    assert items['endpoint:lis-results']['reason'] == 'endpoint_refused'


def test_a_broken_calendar_stops_the_run_naming_host_and_key(tmp_path, ansible_env, listener):
    proc, records = run(tmp_path, ansible_env, listener, '{days: [mon], hours: ["6:30 to 23:30"]}')
    assert proc.returncode != 0
    assert records == []
    assert ("hd-if-01: dialysis_treatment_hours.hours[0]: expected HH:MM-HH:MM (24-hour clock, "
            "e.g. 06:30-23:30 or 22:00-02:00), got '6:30 to 23:30'") in proc.stdout
