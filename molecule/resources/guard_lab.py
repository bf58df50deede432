"""The treatment-hours guard's conditions on a lab scenario, shared by the verifiers of the
disruptive duties (molecule/restart, molecule/patch, ...): import it from a scenario's tests
(`sys.path.insert(0, <project>/molecule/resources)`), then call `guard_cases(...)`.

The lab's live check is the dialysis service's GET /treatments/running on hd-app-01 (the
inventory labctl writes). The collector on hd-app-01 keeps four treatments running; it is
stopped and the running sessions completed to make the count zero, and started again to bring
treatments back. The calendar is set per run with `dialysis_treatment_hours` as an extra
variable: "always" (in shift) or with today and yesterday as holidays (out of shift), so no case
depends on the hour the test runs at. Nothing here changes the machine's clock.
"""

import datetime
import json
import os
import subprocess
import sys
import time
import zoneinfo

import testinfra

PROJECT = os.environ['MOLECULE_PROJECT_DIRECTORY']
EPHEMERAL = os.environ['MOLECULE_EPHEMERAL_DIRECTORY']
INVENTORY_DIR = os.path.join(EPHEMERAL, 'inventory', 'lab')
INVENTORY = os.path.join(INVENTORY_DIR, 'hosts.yml')
RECORDS = os.environ['DIALYSIS_RECORDS_DIR']
ALL_DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']
IN_SHIFT = {'days': ALL_DAYS, 'hours': ['00:00-24:00']}
TICKET = 'CHG-LAB-0001'

sys.path.insert(0, os.path.join(PROJECT, 'lab'))

import labctl  # noqa: E402

PASSWORDS = labctl.read_env_file(os.path.join(INVENTORY_DIR, labctl.ENV_FILE))


def out_of_shift():
    """A calendar under which now is no treatment hour (today and yesterday are holidays)."""
    today = datetime.datetime.now(zoneinfo.ZoneInfo('Asia/Shanghai')).date()
    return dict(IN_SHIFT, holidays=[str(today), str(today - datetime.timedelta(days=1))])


def host(name):
    return testinfra.get_host('ansible://%s?ansible_inventory=%s' % (name, INVENTORY))


def running_treatments():
    """The service's own count, asked on hd-app-01 as the guard does (None: no answer)."""
    out = host('hd-app-01').run('python3 -c "import urllib.request as u; print(u.urlopen('
                                "'http://127.0.0.1:8080/treatments/running', timeout=5).read().decode())\"")
    try:
        return json.loads(out.stdout)['running']
    except (ValueError, KeyError):
        return None


def stop_treatments():
    """No treatment running: the collector stopped, its running sessions completed."""
    host('hd-app-01').run_expect([0], 'systemctl stop dialysis-collector.service')
    host('hd-db-01').run_expect([0], "runuser -u postgres -- psql -X -q -d hemodialysis -c \"UPDATE "
                                     "treatment_session SET status = 'completed', ended_at = now() "
                                     "WHERE status = 'running'\"")
    assert running_treatments() == 0


def start_treatments(timeout=60):
    """The collector started again; waits until it has treatments running."""
    host('hd-app-01').run_expect([0], 'systemctl start dialysis-collector.service')
    deadline = time.time() + timeout
    while time.time() < deadline:
        if (running_treatments() or 0) > 0:
            return
        time.sleep(1)
    raise AssertionError('the collector started no treatment within %d s' % timeout)


def run_playbook(playbook, extra=None, check=False):
    """ansible-playbook on the scenario's inventory and record store; the CompletedProcess."""
    env = dict(os.environ, **PASSWORDS)
    variables = dict({'dialysis_change_ticket': TICKET}, **(extra or {}))
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', INVENTORY,
            os.path.join(PROJECT, 'playbooks', playbook), '-e', json.dumps(variables)]
    if check:
        argv.append('--check')
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900, check=False)


def verdicts_since(files_before):
    """Guard verdicts and guard_override records written by runs started after ``files_before``."""
    verdicts, overrides = [], []
    for name in sorted(set(os.listdir(RECORDS)) - set(files_before)):
        if not name.endswith('.jsonl') or name == 'index.jsonl':
            continue
        with open(os.path.join(RECORDS, name), encoding='utf-8') as handle:
            for line in handle:
                entry = json.loads(line)
                if entry.get('guard'):
                    verdicts.append(entry['guard'])
                record = entry.get('record') or {}
                if record.get('kind') == 'guard_override':
                    overrides.append(record)
    return verdicts, overrides


def guard_cases(playbook, snapshot, extra=None):
    """Run ``playbook`` under each of the guard's conditions and assert the verdict.

    ``snapshot()`` returns what the playbook would change (unit start times, package
    versions): it must be the same after every refused run. The allowed and overridden
    runs are the caller's (``allowed_run``, ``overridden_run``), with its own assertions.
    Treatments are running again when this returns.
    """
    extra = dict(extra or {})
    cases = []

    def refused(name, calendar, expect_reasons, more=None, output=None):
        before_files = os.listdir(RECORDS)
        before = snapshot()
        proc = run_playbook(playbook, dict(extra, dialysis_treatment_hours=calendar, **(more or {})))
        text = proc.stdout + proc.stderr
        assert proc.returncode != 0, '%s: expected a refusal\n%s' % (name, text[-3000:])
        assert snapshot() == before, '%s: a host was touched although the guard refused' % name
        if output:
            assert output in text, '%s: %r not in the output\n%s' % (name, output, text[-3000:])
        verdicts, overrides = verdicts_since(before_files)
        if expect_reasons is not None:
            assert [v['decision'] for v in verdicts] == ['refused'], (name, verdicts)
            assert verdicts[0]['systems']['hemodialysis']['reasons'] == expect_reasons, (name, verdicts)
        assert overrides == [], name
        cases.append(name)

    # 1. In shift, treatments running (the collector keeps four).
    start_treatments()
    refused('in shift, treatments running', IN_SHIFT, ['in_shift', 'treatments_running'],
            output='Treatment-hours guard refused')
    # 2. Override without a reason (operator only): refused by the settings check.
    refused('override without a reason', IN_SHIFT, None,
            {'treatment_guard_override_operator': '值班工程师'},
            output='treatment_guard_override_reason: an override needs a reason')
    # 3. Out of shift, but treatments running (an emergency at night).
    refused('treatments running out of shift', out_of_shift(), ['treatments_running'])
    stop_treatments()
    try:
        # 4. In shift with no treatment running: the window alone refuses.
        refused('in shift, none running', IN_SHIFT, ['in_shift'])
        # 5. The live check cannot answer (the service is down): never counted as zero.
        host('hd-app-01').run_expect([0], 'systemctl stop dialysis-service.service')
        try:
            refused('check unreachable', out_of_shift(), ['check_unavailable'],
                    output='the treatments-running check did not answer')
        finally:
            host('hd-app-01').run_expect([0], 'systemctl start dialysis-service.service')
            deadline = time.time() + 60
            while running_treatments() is None and time.time() < deadline:
                time.sleep(1)
    finally:
        start_treatments()
    return cases


def allowed_run(playbook, extra=None, check=False):
    """Out of shift with no treatment running: the run the guard lets through. Treatments
    are running again afterwards. Returns (CompletedProcess, verdicts, overrides)."""
    before_files = os.listdir(RECORDS)
    stop_treatments()
    try:
        proc = run_playbook(playbook, dict(extra or {}, dialysis_treatment_hours=out_of_shift()), check=check)
    finally:
        start_treatments()
    verdicts, overrides = verdicts_since(before_files)
    return proc, verdicts, overrides


def overridden_run(playbook, extra=None):
    """In shift with treatments running, overridden with a reason and an operator."""
    before_files = os.listdir(RECORDS)
    start_treatments()
    proc = run_playbook(playbook, dict(extra or {}, dialysis_treatment_hours=IN_SHIFT,
                                       treatment_guard_override_reason='实验环境：验证越权放行的记录',
                                       treatment_guard_override_operator='实验环境工程师'))
    verdicts, overrides = verdicts_since(before_files)
    return proc, verdicts, overrides
