"""The health_check module: each kind of check through its function, the waiting loop with a
fake clock, and main() end to end against a real HTTP server and socket on this machine."""

import json
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import health_check
import pytest
from ansible.module_utils.testing import patch_module_args


def run(capsys, args, check_mode=False):
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            health_check.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def service():
    """A local service: /health answers as `state` says, /version with its version."""
    state = {'health': (200, {'status': 'ok', 'version': '1.0'}), 'hits': 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            state['hits'] += 1
            if self.path == '/health':
                status, body = state['health']
            elif self.path == '/version':
                status, body = 200, {'version': '1.0', 'schema': '0001', 'secret_thing': 'x' * 500}
            elif self.path == '/text':
                status, body = 200, 'plain'
            else:
                status, body = 404, {'error': 'no route'}
            data = (json.dumps(body) if not isinstance(body, str) else body).encode()
            self.send_response(status)
            self.send_header('Content-Length', str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state['url'] = 'http://127.0.0.1:%d' % server.server_address[1]
    state['port'] = server.server_address[1]
    yield state
    server.shutdown()
    server.server_close()


def free_port():
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


# -- validation ------------------------------------------------------------------
def test_every_check_needs_exactly_one_kind_and_a_unique_name():
    errors = health_check.validate_checks([
        {'name': 'a', 'unit': 'x.service', 'port': 80},
        {'name': 'b'},
        {'name': 'a', 'process': 'x'},
        {'name': 'c', 'port': 70000},
        {'name': 'd', 'url': 'ftp://x/'},
        {'name': 'e', 'port': 80, 'json': {'status': 'ok'}},
        {'name': 'f', 'url': 'http://x/', 'status': [42]},
        {'name': 'g', 'unit': 'x', 'host': '10.0.0.1'},
    ])
    text = '\n'.join(errors)
    assert 'checks[0] (a): expected exactly one of unit, url, port or process, got unit, port' in text
    assert 'checks[1] (b): expected exactly one of unit, url, port or process, got none' in text
    assert "checks[2] (a).name: 'a' is used twice" in text
    assert 'checks[3] (c).port: expected a TCP port 1-65535, got 70000' in text
    assert "checks[4] (d).url: expected an http:// or https:// URL, got 'ftp://x/'" in text
    assert 'checks[5] (e): json apply to a url check only' in text
    assert 'checks[6] (f).status: expected HTTP status codes 100-599, got 42' in text
    assert 'checks[7] (g).host: applies to a port check only' in text
    assert health_check.validate_checks([]) == [
        'checks: expected a non-empty list of checks such as {name: service, unit: x.service}']
    assert health_check.validate_checks([{'name': 'ok', 'port': 22}]) == []


def test_main_names_the_key_and_the_expected_form(capsys):
    result = run(capsys, {'checks': [{'name': 'x', 'port': 0}], 'wait': -1, 'interval': 0})
    assert result['failed'] is True
    assert 'checks[0] (x).port: expected a TCP port 1-65535, got 0' in result['msg']
    assert 'wait: expected seconds >= 0 (0 checks once), got -1' in result['msg']
    assert 'interval: expected seconds between 0 and 600, got 0.0' in result['msg']


# -- units -----------------------------------------------------------------------
SHOW_ACTIVE = ('LoadState=loaded\nActiveState=active\nSubState=running\n'
               'ActiveEnterTimestamp=Wed 2026-12-02 08:31:05 UTC\n'
               'ActiveEnterTimestampMonotonic=%d\nActiveExitTimestampMonotonic=%d\nMainPID=4242\n')


def fake_systemctl(text, rc=0):
    calls = []

    def run_command(argv):
        calls.append(argv)
        return rc, text, 'boom' if rc else ''
    run_command.calls = calls
    return run_command


def test_an_active_unit_with_its_start_time_from_systemd():
    now_us = health_check.monotonic_us()
    started_us = now_us - 90 * 1000000          # became active 90 s ago
    runner = fake_systemctl(SHOW_ACTIVE % (started_us, started_us - 2000000))
    ok, detail, facts = health_check.unit_state(runner, '/bin/systemctl', 'dialysis-service.service')
    assert ok is True and detail == 'dialysis-service.service is active'
    assert runner.calls[0][:2] == ['/bin/systemctl', 'show']
    assert runner.calls[0][-1] == 'dialysis-service.service'
    assert 'ActiveEnterTimestampMonotonic' in runner.calls[0][2] and 'MainPID' in runner.calls[0][2]
    assert facts['active'] is True and facts['state'] == 'active' and facts['pid'] == 4242
    assert facts['started_monotonic'] == started_us and facts['stopped_monotonic'] == started_us - 2000000
    assert abs(facts['started_epoch'] - (time.time() - 90)) < 2
    assert facts['started'].endswith('Z') and facts['started'][:4].isdigit()


def test_inactive_missing_and_unknown_units_fail():
    failed = fake_systemctl('LoadState=loaded\nActiveState=failed\nSubState=failed\n'
                            'ActiveEnterTimestampMonotonic=0\nActiveExitTimestampMonotonic=0\nMainPID=0\n')
    ok, detail, facts = health_check.unit_state(failed, '/bin/systemctl', 'x.service')
    assert not ok and detail == 'x.service is failed (failed)'
    assert facts['started'] is None and facts['pid'] is None and facts['active'] is False
    missing = fake_systemctl('LoadState=not-found\nActiveState=inactive\nSubState=dead\n')
    ok, detail, _facts = health_check.unit_state(missing, '/bin/systemctl', 'nope.service')
    assert not ok and detail == 'nope.service: no such unit'
    ok, detail, facts = health_check.unit_state(fake_systemctl('', rc=1), '/bin/systemctl', 'x.service')
    assert not ok and 'systemctl show failed: boom' in detail and facts is None
    ok, detail, facts = health_check.unit_state(None, None, 'x.service')
    assert not ok and 'systemctl not found' in detail


# -- HTTP --------------------------------------------------------------------------
def test_http_status_and_json_keys(service):
    ok, detail, extra = health_check.http_check({'url': service['url'] + '/health', 'json': {'status': 'ok'}})
    assert ok and extra['status'] == 200 and detail.endswith('HTTP 200')
    # YAML reads `version: 1.0` as a number: compared as text it still matches "1.0"
    ok, _detail, _extra = health_check.http_check({'url': service['url'] + '/health',
                                                   'json': {'version': 1.0}})
    assert ok
    service['health'] = (503, {'status': 'error', 'version': '1.0'})
    ok, detail, extra = health_check.http_check({'url': service['url'] + '/health', 'json': {'status': 'ok'}})
    assert not ok and extra['status'] == 503
    assert 'HTTP 503 (expected 200)' in detail and 'status is error (expected ok)' in detail
    ok, _detail, _extra = health_check.http_check({'url': service['url'] + '/health', 'status': [200, 503]})
    assert ok


def test_http_capture_returns_only_the_keys_asked_for(service):
    ok, _detail, extra = health_check.http_check({'url': service['url'] + '/version',
                                                  'capture': ['version', 'schema', 'absent']})
    assert ok and extra['values'] == {'version': '1.0', 'schema': '0001', 'absent': None}
    ok, detail, _extra = health_check.http_check({'url': service['url'] + '/version',
                                                  'json': {'missing': 'x'}})
    assert not ok and 'missing missing (expected x)' in detail
    ok, detail, _extra = health_check.http_check({'url': service['url'] + '/text', 'json': {'a': 1}})
    assert not ok and 'the answer is not a JSON object' in detail


def test_http_without_an_answer():
    ok, detail, extra = health_check.http_check({'url': 'http://127.0.0.1:%d/health' % free_port(),
                                                 'timeout': 2})
    assert not ok and 'no answer' in detail and extra['status'] is None


# -- TCP and processes ------------------------------------------------------------------
def test_port_open_and_closed(service):
    ok, detail, _extra = health_check.port_check({'port': service['port']})
    assert ok and detail == '127.0.0.1:%d accepts connections' % service['port']
    port = free_port()
    ok, detail, _extra = health_check.port_check({'port': port, 'timeout': 2})
    assert not ok and detail.startswith('127.0.0.1:%d: ' % port)


def fake_proc(tmp_path, processes):
    for pid, (comm, argv) in processes.items():
        entry = tmp_path / str(pid)
        entry.mkdir()
        (entry / 'comm').write_text(comm + '\n')
        (entry / 'cmdline').write_bytes(b'\0'.join(a.encode() for a in argv) + b'\0')
    (tmp_path / 'self').mkdir()
    return str(tmp_path)


def test_process_by_program_or_script_name(tmp_path):
    proc = fake_proc(tmp_path, {
        101: ('python3', ['/usr/bin/python3', '/opt/dialysis-service/current/dialysis_service.py',
                          '--config', '/etc/dialysis-service/config.json']),
        102: ('postgres', ['postgres: 15/main: checkpointer']),
        103: ('sshd', ['sshd: /usr/sbin/sshd -D']),
    })
    ok, detail, extra = health_check.process_check({'process': 'dialysis_service.py'}, proc)
    assert ok and extra == {'pids': [101]} and detail == '1 process(es) dialysis_service.py running'
    assert health_check.process_check({'process': 'postgres'}, proc)[2] == {'pids': [102]}
    ok, detail, extra = health_check.process_check({'process': 'dialysis_collector.py'}, proc)
    assert not ok and detail == 'no process dialysis_collector.py' and extra == {'pids': []}


def test_the_process_check_finds_a_real_process():
    # this test's own interpreter is excluded (the module never finds itself); its parent is not
    ok, _detail, extra = health_check.process_check({'process': os.path.basename(
        os.readlink('/proc/%d/exe' % os.getppid()))})
    assert ok and os.getppid() in extra['pids']


# -- waiting ----------------------------------------------------------------------
def test_waits_until_every_check_passes(monkeypatch):
    clock = {'now': 100.0}
    answers = iter([False, False, True])

    def fake_port_check(check):
        ok = next(answers)
        return ok, 'up' if ok else 'refused', {}

    monkeypatch.setattr(health_check, 'port_check', fake_port_check)
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock['now'] += seconds

    result = health_check.check_health([{'name': 'port', 'port': 8080}], 60, 2, None, None,
                                       sleep=sleep, clock=lambda: clock['now'])
    assert result['healthy'] is True and result['rounds'] == 3 and sleeps == [2, 2]
    assert result['waited'] == 4.0 and 'msg' not in result
    assert result['checks'] == [{'name': 'port', 'kind': 'port', 'ok': True, 'detail': 'up',
                                 'elapsed': 0.0}]


def test_gives_up_after_wait_and_says_what_failed(monkeypatch):
    clock = {'now': 0.0}
    monkeypatch.setattr(health_check, 'port_check', lambda check: (False, 'refused', {}))

    def sleep(seconds):
        clock['now'] += seconds

    result = health_check.check_health([{'name': 'port', 'port': 8080}], 10, 3, None, None,
                                       sleep=sleep, clock=lambda: clock['now'])
    assert result['healthy'] is False and result['rounds'] == 4 and result['waited'] == 9.0
    assert result['msg'] == 'Not healthy after 9 s: port: refused'
    once = health_check.check_health([{'name': 'port', 'port': 8080}], 0, 2, None, None,
                                     sleep=sleep, clock=lambda: clock['now'])
    assert once['rounds'] == 1


# -- main() -----------------------------------------------------------------------
def test_main_healthy_in_check_mode_too(capsys, service):
    args = {'checks': [{'name': 'http', 'url': service['url'] + '/health', 'json': {'status': 'ok'}},
                       {'name': 'version', 'url': service['url'] + '/version', 'capture': ['version']},
                       {'name': 'port', 'port': service['port']}],
            'wait': 5, 'interval': 0.2}
    for check_mode in (False, True):
        result = run(capsys, args, check_mode=check_mode)
        assert result['changed'] is False and result['healthy'] is True and result['rounds'] == 1
        assert [c['name'] for c in result['checks']] == ['http', 'version', 'port']
        assert result['checks'][1]['values'] == {'version': '1.0'}
        assert result['units'] == {} and isinstance(result['monotonic'], int)
        assert abs(result['checked_at'] - time.time()) < 5


def test_main_waits_for_a_service_that_comes_back(capsys, service):
    service['health'] = (503, {'status': 'error'})

    def recover():
        time.sleep(0.6)
        service['health'] = (200, {'status': 'ok'})

    threading.Thread(target=recover, daemon=True).start()
    result = run(capsys, {'checks': [{'name': 'http', 'url': service['url'] + '/health',
                                      'json': {'status': 'ok'}}], 'wait': 10, 'interval': 0.2})
    assert result['healthy'] is True and result['rounds'] >= 2 and 0.4 < result['waited'] < 5


def test_main_unhealthy_fails_only_when_asked(capsys):
    args = {'checks': [{'name': 'port', 'port': free_port(), 'timeout': 1}], 'wait': 0}
    result = run(capsys, args)
    assert result.get('failed') is not True and result['healthy'] is False
    assert result['msg'].startswith('Not healthy after 0 s: port: 127.0.0.1:')
    result = run(capsys, dict(args, fail_on_unhealthy=True))
    assert result['failed'] is True and result['healthy'] is False and result['checks'][0]['ok'] is False


def test_main_reads_units_through_systemctl(capsys, monkeypatch):
    now_us = health_check.monotonic_us()
    text = SHOW_ACTIVE % (now_us - 5000000, now_us - 6000000)
    monkeypatch.setattr(health_check.AnsibleModule, 'get_bin_path',
                        lambda self, name, *a, **k: '/bin/' + name)
    monkeypatch.setattr(health_check.AnsibleModule, 'run_command', lambda self, argv, **kw: (0, text, ''))
    result = run(capsys, {'checks': [{'name': 'service', 'unit': 'dialysis-service.service'}]})
    assert result['healthy'] is True
    unit = result['units']['dialysis-service.service']
    assert unit['active'] is True and unit['pid'] == 4242 and unit['started_monotonic'] == now_us - 5000000
    assert result['checks'][0] == {'name': 'service', 'kind': 'unit', 'ok': True,
                                   'detail': 'dialysis-service.service is active',
                                   'unit': 'dialysis-service.service',
                                   'elapsed': result['checks'][0]['elapsed']}


# -- failing fast on a service that answers unhealthy (fail_after) ------------------
def _scripted(monkeypatch, answers, wait=60, interval=2, fail_after=5):
    """check_health over one url check whose rounds answer as ANSWERS say: 'ok' (200 healthy),
    'bad' (answered HTTP 503) or 'down' (connection refused), with a fake clock."""
    clock = {'now': 0.0}
    script = iter(answers)

    def fake_http_check(check):
        answer = next(script, answers[-1])
        if answer == 'ok':
            return True, 'HTTP 200', {'status': 200}
        if answer == 'bad':
            return False, 'HTTP 503 (expected 200)', {'status': 503}
        return False, 'no answer (Connection refused)', {'status': None}

    def sleep(seconds):
        clock['now'] += seconds

    monkeypatch.setattr(health_check, 'http_check', fake_http_check)
    return health_check.check_health([{'name': 'http', 'url': 'http://127.0.0.1:8080/health'}], wait,
                                     interval, None, None, sleep=sleep, clock=lambda: clock['now'],
                                     fail_after=fail_after)


def test_a_service_answering_unhealthy_fails_after_n_answers_not_the_whole_wait(monkeypatch):
    result = _scripted(monkeypatch, ['bad'])
    assert result['healthy'] is False and result['verdict'] == 'answered_unhealthy'
    assert result['rounds'] == 5 and result['unhealthy_answers'] == 5 and result['waited'] == 8.0
    assert result['msg'].startswith('Answered unhealthy 5 times in a row (stopped after 8 s of 60 s): '
                                    'http: HTTP 503')


def test_a_service_not_listening_yet_keeps_the_whole_wait(monkeypatch):
    result = _scripted(monkeypatch, ['down'])
    assert result['verdict'] == 'never_answered' and result['answered_rounds'] == 0
    assert result['waited'] == 60.0 and result['rounds'] == 31
    # Slow to start, then up: passes even after many refused rounds.
    result = _scripted(monkeypatch, ['down'] * 20 + ['ok'])
    assert result['healthy'] is True and result['verdict'] == 'healthy' and result['rounds'] == 21


def test_a_refused_round_breaks_the_run_of_unhealthy_answers(monkeypatch):
    result = _scripted(monkeypatch, ['bad', 'bad', 'bad', 'bad', 'down', 'bad', 'bad', 'bad', 'bad', 'bad'])
    assert result['verdict'] == 'answered_unhealthy' and result['rounds'] == 10
    assert result['answered_rounds'] == 9 and result['unhealthy_answers'] == 5


def test_a_service_warming_up_passes_before_n_answers(monkeypatch):
    result = _scripted(monkeypatch, ['down', 'down', 'bad', 'bad', 'bad', 'bad', 'ok'])
    assert result['healthy'] is True and result['verdict'] == 'healthy' and result['rounds'] == 7
    assert 'msg' not in result


def test_fail_after_zero_waits_the_whole_wait_as_before(monkeypatch):
    result = _scripted(monkeypatch, ['bad'], fail_after=0)
    assert result['verdict'] == 'unhealthy' and result['waited'] == 60.0 and result['rounds'] == 31
    assert result['msg'].startswith('Not healthy after 60 s: http: HTTP 503')


def test_wait_decision_counts_only_answered_unhealthy_rounds():
    bad = [{'kind': 'unit', 'ok': True}, {'kind': 'http', 'ok': False, 'status': 503}]
    down = [{'kind': 'unit', 'ok': False}, {'kind': 'http', 'ok': False, 'status': None}]
    wrong_version = [{'kind': 'http', 'ok': True, 'status': 200},
                     {'kind': 'http', 'ok': False, 'status': 200}]
    good = [{'kind': 'http', 'ok': True, 'status': 200}]
    assert health_check.wait_decision(bad, 0, 3) == ('wait', 1)
    assert health_check.wait_decision(wrong_version, 2, 3) == ('fail', 3)
    assert health_check.wait_decision(down, 2, 3) == ('wait', 0)
    assert health_check.wait_decision(good, 2, 3) == ('healthy', 0)
    assert health_check.wait_decision(bad, 10, 0) == ('wait', 11)


def test_main_fails_fast_on_a_real_service_answering_503(capsys, service):
    service['health'] = (503, {'status': 'error'})
    args = {'checks': [{'name': 'http', 'url': service['url'] + '/health', 'json': {'status': 'ok'}}],
            'wait': 30, 'interval': 0.2, 'fail_after': 3}
    result = run(capsys, args)
    assert result['healthy'] is False and result['verdict'] == 'answered_unhealthy'
    assert result['rounds'] == 3 and result['waited'] < 5 and service['hits'] == 3
    result = run(capsys, dict(args, fail_after=-1))
    assert result['failed'] is True and 'fail_after: expected a count of answers >= 0' in result['msg']
