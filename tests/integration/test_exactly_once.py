"""No finding lost, none counted twice: real ansible-playbook runs of
playbooks/inspect.yml that are killed, or started together, against a host on
this machine (local connection) whose module interpreter is slowed down by a
wrapper so the window between "the module has run" and "its result is recorded"
is wide and certain."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLANTED = ['2026-11-26 02:00:01 ERROR lost connection to dialysis machine HD-07',
           '2026-11-26 02:00:31 ERROR reconnect to dialysis machine HD-07 failed (timeout)',
           '2026-11-26 02:01:01 ERROR telemetry buffer overflow, 120 samples dropped']


@pytest.fixture
def hospital(tmp_path, ansible_env):
    log = tmp_path / 'app.log'
    log.write_text('2026-11-26 01:58:00 INFO dialysis-collector started\n')
    marker = tmp_path / 'module-done'
    # The module's interpreter: runs the module, says so, then holds the result
    # back for a while (a slow network, a busy controller).
    slow = tmp_path / 'slow-python'
    slow.write_text(textwrap.dedent('''\
        #!/bin/sh
        "%s" "$@"
        rc=$?
        touch "%s"
        sleep "${SLOW_SECONDS:-0}"
        exit $rc
        ''' % (sys.executable, marker)))
    slow.chmod(0o755)
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(textwrap.dedent('''\
        all:
          vars:
            dialysis_hospital_id: exactly-once
            dialysis_hospital: 测试医院
            dialysis_project_lead: 测试负责人
            inspection_services: []
            inspection_journal: false
            inspection_system_logs: []
            inspection_cpu_sample_seconds: 0.1
            inspection_logs:
              - {name: app, path: "%s"}
          hosts:
            hd-app-01:
              ansible_connection: local
              ansible_python_interpreter: "%s"
        ''' % (log, slow)))
    return {'dir': tmp_path, 'log': log, 'marker': marker, 'inventory': str(inventory),
            'env': ansible_env(), 'records': tmp_path / 'stores' / 'exactly-once' / 'records'}


def start(hospital, slow_seconds=0, operator='engineer-zhang', *extra):
    if hospital['marker'].exists():
        hospital['marker'].unlink()
    env = dict(hospital['env'], SLOW_SECONDS=str(slow_seconds), DIALYSIS_OPERATOR=operator)
    return subprocess.Popen(['ansible-playbook', '-i', hospital['inventory'],
                             os.path.join(ROOT, 'playbooks', 'inspect.yml'), '-e', 'inspect_report=false']
                            + list(extra), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def finish(proc, timeout=300):
    out = proc.communicate(timeout=timeout)[0]
    return proc.returncode, out


def wait_for(path, timeout=120):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, 'the module never ran'
        time.sleep(0.05)


def store_lines(hospital):
    lines = []
    for path in sorted(hospital['records'].glob('*.jsonl')):
        if path.name != 'index.jsonl':
            lines += [json.loads(x) for x in path.read_text().splitlines()]
    return lines


def reported_error_lines(hospital):
    """(run id, error count) of every log:app finding in the store."""
    found = []
    for line in store_lines(hospital):
        for item in (line.get('record') or {}).get('items', []):
            if item['item'] == 'log:app':
                found.append((line['run_id'], item['value']))
    return found


def plant(hospital):
    with open(str(hospital['log']), 'a') as handle:
        handle.write(''.join(x + '\n' for x in PLANTED))


def test_a_run_killed_after_the_module_ran_loses_no_finding(hospital):
    assert finish(start(hospital))[0] == 0  # first scan: only INFO lines
    plant(hospital)

    proc = start(hospital, slow_seconds=30)
    wait_for(hospital['marker'])  # the module has read the three lines on the host...
    os.kill(proc.pid, signal.SIGKILL)  # ...and ansible-playbook dies before recording them
    proc.wait(timeout=30)
    try:
        killed_run = [ln for ln in store_lines(hospital) if ln['type'] == 'run'][-1]['run_id']
        assert not [r for r in reported_error_lines(hospital) if r[0] == killed_run]

        # The lock the killed run left is taken over (its ansible-playbook is gone),
        # and the three lines are reported, once.
        code, out = finish(start(hospital))
        assert code == 0, out[-3000:]
        assert 'Took over the inspection lock' in out
        lock_lines = [ln for ln in store_lines(hospital) if ln.get('lock')]
        assert lock_lines[-1]['lock']['taken_over']['run_id'] == killed_run
        assert 'is gone' in lock_lines[-1]['lock']['taken_over']['stale_reason']
        assert [n for dummy_run, n in reported_error_lines(hospital)] == [0, 3]

        assert finish(start(hospital))[0] == 0
        assert [n for dummy_run, n in reported_error_lines(hospital)] == [0, 3, 0]
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # a worker that outlived its ansible-playbook
        except ProcessLookupError:
            pass


def test_two_inspections_at_once_never_report_a_line_twice(hospital):
    assert finish(start(hospital))[0] == 0
    plant(hospital)
    first = start(hospital, 4, 'engineer-zhang')
    wait_for(hospital['marker'])  # the first run holds the lock and is inspecting
    second = start(hospital, 0, 'cron-job')
    (code1, out1), (code2, out2) = finish(first), finish(second)
    assert code1 == 0 and code2 == 0, out1[-2000:] + out2[-2000:]
    assert 'Waiting up to 60 s for the inspection lock, held by run' in out2
    assert 'operator engineer-zhang' in out2
    assert sorted(n for dummy_run, n in reported_error_lines(hospital)) == [0, 0, 3]


def test_a_second_inspection_that_may_not_wait_refuses_naming_the_holder(hospital):
    plant(hospital)
    first = start(hospital, 4, 'engineer-zhang')
    wait_for(hospital['marker'])
    code2, out2 = finish(start(hospital, 0, 'cron-job', '-e', 'inspection_lock_wait=0'))
    code1, out1 = finish(first)
    assert code1 == 0, out1[-2000:]
    assert code2 != 0
    assert 'the inspection lock of this hospital is held by run' in out2
    assert 'operator engineer-zhang via pytest, playbook inspect.yml' in out2
    # The refused run is a run error, not a finding and not an inspection.
    assert [n for dummy_run, n in reported_error_lines(hospital)] == [3]
    errors = [ln for ln in store_lines(hospital) if ln['type'] == 'run_error']
    assert len(errors) == 1 and 'is held by run' in errors[0]['msg']
    # The holder released its lock at its end; the next run goes ahead.
    assert not (hospital['records'] / 'locks' / 'inspection.lock').exists()
    assert finish(start(hospital))[0] == 0
