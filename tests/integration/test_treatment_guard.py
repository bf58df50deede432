"""The treatment-hours guard through real ansible-playbook runs on this machine: the
service's treatments-running endpoint is a small HTTP server on 127.0.0.1 whose count
the test sets; the calendar is set so that now is (or is not) treatment hours. A
refused run touches no host (no marker file), names the system and the reason, and
leaves its verdict in the record store; an override is recorded as such."""

import datetime
import glob
import json
import os
import subprocess
import textwrap
import threading
import zoneinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK = os.path.join(ROOT, 'tests', 'integration', 'playbooks', 'guarded_change.yml')
ALL_DAYS = '[mon, tue, wed, thu, fri, sat, sun]'
IN_SHIFT = '{days: %s, hours: ["00:00-24:00"]}' % ALL_DAYS


def out_of_shift():
    """A calendar under which now is no treatment hour: today and yesterday (in the
    hospital's zone) are holidays."""
    today = datetime.datetime.now(zoneinfo.ZoneInfo('Asia/Shanghai')).date()
    return '{days: %s, hours: ["00:00-24:00"], holidays: ["%s", "%s"]}' % (
        ALL_DAYS, today, today - datetime.timedelta(days=1))


LOCAL = '{{ansible_connection: local, ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"}}'
INVENTORY = '''
all:
  vars:
    dialysis_hospital_id: guard-test
    dialysis_hospital: 守护测试医院
    dialysis_project_lead: 孙工
    marker_dir: {marker_dir}
  children:
    hemodialysis:
      vars:
        dialysis_system: hemodialysis
        dialysis_treatment_hours: {calendar}
        dialysis_treatment_check: {{url: "http://127.0.0.1:{port}/treatments/running"}}
      hosts:
        hd-app-01: %s
        hd-app-02: %s
    pd:
      vars:
        dialysis_system: pd
        dialysis_treatment_check: {{none: "PD patients treat at home; no treatment depends on these hosts"}}
      hosts:
        pd-db-01: %s
''' % ((LOCAL,) * 3)


class Service(object):
    """The dialysis service's GET /treatments/running, answering ``running``."""

    def __init__(self):
        self.running = 0
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                body = json.dumps({'running': service.running, 'as_of': 'now'}).encode()
                self.send_response(200 if self.path == '/treatments/running' else 404)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        if self.thread is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread = None


@pytest.fixture
def service():
    svc = Service()
    yield svc
    svc.close()


def run(tmp_path, ansible_env, port, calendar, *extra, check=False):
    marker_dir = tmp_path / 'hosts'
    marker_dir.mkdir(exist_ok=True)
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(textwrap.dedent(INVENTORY).format(marker_dir=marker_dir, calendar=calendar,
                                                           port=port))
    argv = ['ansible-playbook', '-i', str(inventory), PLAYBOOK] + list(extra) + (['--check'] if check else [])
    proc = subprocess.run(argv, env=ansible_env(), cwd=ROOT, capture_output=True, text=True, timeout=300,
                          check=False)
    touched = sorted(p.name[len('touched-'):] for p in marker_dir.iterdir())
    lines = []
    for path in glob.glob(str(tmp_path / 'stores' / 'guard-test' / 'records' / '*.jsonl')):
        if not path.endswith('index.jsonl'):
            with open(path, encoding='utf-8') as handle:
                lines += [json.loads(line) for line in handle]
    return proc, touched, lines


def verdicts(lines):
    return [line['guard'] for line in lines if line.get('guard')]


TICKET = ('-e', 'dialysis_change_ticket=CHG-2026-0142')


def test_refused_in_shift_with_treatments_running_and_no_host_touched(tmp_path, ansible_env, service):
    service.running = 12
    proc, touched, lines = run(tmp_path, ansible_env, service.port, IN_SHIFT, *TICKET)
    assert proc.returncode != 0
    assert touched == []
    out = proc.stdout
    assert 'Treatment-hours guard refused restart; nothing was changed.' in out
    assert 'hemodialysis (hd-app-01, hd-app-02): inside treatment hours' in out
    assert '12 treatment(s) running now' in out
    assert 'treatment_guard_override_reason' in out        # how to override
    [verdict] = verdicts(lines)
    assert verdict['decision'] == 'refused'
    assert verdict['systems']['hemodialysis']['reasons'] == ['in_shift', 'treatments_running']
    assert verdict['systems']['pd']['reasons'] == []        # PD stated it has no treatments here
    # The refusal is a failure of the run, not a finding on a host.
    assert [e['status'] for e in lines if e.get('type') == 'run_error'] == ['failed']
    assert not any(line.get('record') for line in lines)


def test_refused_in_shift_even_with_no_treatment_running(tmp_path, ansible_env, service):
    service.running = 0
    proc, touched, lines = run(tmp_path, ansible_env, service.port, IN_SHIFT, *TICKET)
    assert proc.returncode != 0 and touched == []
    assert verdicts(lines)[0]['reasons'] == ['in_shift']


def test_runs_outside_the_shift_with_no_treatment_running(tmp_path, ansible_env, service):
    service.running = 0
    proc, touched, lines = run(tmp_path, ansible_env, service.port, out_of_shift(), *TICKET)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert touched == ['hd-app-01', 'hd-app-02', 'pd-db-01']
    [verdict] = verdicts(lines)
    assert verdict['decision'] == 'allowed' and verdict['ticket'] == 'CHG-2026-0142'
    assert verdict['systems']['hemodialysis']['running'] == 0


def test_treatments_running_outside_the_shift_refuse(tmp_path, ansible_env, service):
    """Emergency dialysis happens at any hour: the live check protects, not the calendar."""
    service.running = 1
    proc, touched, lines = run(tmp_path, ansible_env, service.port, out_of_shift(), *TICKET)
    assert proc.returncode != 0 and touched == []
    assert verdicts(lines)[0]['reasons'] == ['treatments_running']


def test_an_unreachable_check_refuses_never_counts_as_zero(tmp_path, ansible_env, service):
    port = service.port
    service.close()                                          # nothing listens there now
    proc, touched, lines = run(tmp_path, ansible_env, port, out_of_shift(), *TICKET)
    assert proc.returncode != 0 and touched == []
    [verdict] = verdicts(lines)
    assert verdict['reasons'] == ['check_unavailable']
    assert verdict['systems']['hemodialysis']['running'] is None
    assert 'the treatments-running check did not answer' in proc.stdout


def test_an_override_with_reason_and_operator_runs_and_is_recorded(tmp_path, ansible_env, service):
    service.running = 3
    proc, touched, lines = run(tmp_path, ansible_env, service.port, IN_SHIFT, *TICKET,
                               '-e', 'treatment_guard_override_reason=数据库磁盘将满，必须立即处理',
                               '-e', 'treatment_guard_override_operator=王工')
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert touched == ['hd-app-01', 'hd-app-02', 'pd-db-01']
    [verdict] = verdicts(lines)
    assert verdict['decision'] == 'overridden'
    [record] = [line['record'] for line in lines if line.get('record')]
    assert record['kind'] == 'guard_override' and record['system'] == 'hemodialysis'
    assert record['operator'] == '王工' and record['ticket'] == 'CHG-2026-0142'
    assert record['override_reason'] == '数据库磁盘将满，必须立即处理'
    [item] = record['items']
    assert item['item'] == 'guard:hemodialysis' and item['value'] == 3
    assert item['reasons'] == ['in_shift', 'treatments_running']


@pytest.mark.parametrize('extra, expected', [
    (('-e', 'treatment_guard_override_operator=王工'),
     'treatment_guard_override_reason: an override needs a reason of at least 8 characters'),
    (('-e', 'treatment_guard_override_reason=the disk is nearly full'),
     'treatment_guard_override_operator: an override needs the name of the operator'),
])
def test_an_override_without_reason_or_operator_is_refused(tmp_path, ansible_env, service, extra, expected):
    service.running = 3
    proc, touched, lines = run(tmp_path, ansible_env, service.port, IN_SHIFT, *(TICKET + extra))
    assert proc.returncode != 0 and touched == []
    assert expected in proc.stdout


def test_a_run_without_a_change_ticket_is_refused(tmp_path, ansible_env, service):
    service.running = 0
    proc, touched, lines = run(tmp_path, ansible_env, service.port, out_of_shift())
    assert proc.returncode != 0 and touched == []
    assert 'No change ticket' in proc.stdout
    assert verdicts(lines)[0]['reasons'] == ['no_ticket']


def test_check_mode_reports_the_verdict_and_changes_nothing(tmp_path, ansible_env, service):
    service.running = 5
    proc, touched, lines = run(tmp_path, ansible_env, service.port, IN_SHIFT, *TICKET, check=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert touched == []
    assert 'Check mode: Treatment-hours guard refused restart' in proc.stdout + proc.stderr
    [verdict] = verdicts(lines)
    assert verdict['decision'] == 'refused' and verdict['check_mode'] is True


def test_a_change_without_the_guard_play_is_refused_on_every_host(tmp_path, ansible_env, service):
    proc, touched, lines = run(tmp_path, ansible_env, service.port, out_of_shift(), *TICKET,
                               '-e', 'guard_skip=true')
    assert proc.returncode != 0 and touched == []
    assert 'was not cleared by the treatment-hours guard in this run' in proc.stdout


def test_a_broken_calendar_or_check_stops_the_run_naming_host_and_key(tmp_path, ansible_env, service):
    proc, touched, lines = run(tmp_path, ansible_env, service.port,
                               '{days: [mon], hours: ["6:30 to 23:30"]}', *TICKET)
    assert proc.returncode != 0 and touched == []
    assert ("hd-app-01: dialysis_treatment_hours.hours[0]: expected HH:MM-HH:MM (24-hour clock, "
            "e.g. 06:30-23:30 or 22:00-02:00), got '6:30 to 23:30'") in proc.stdout
