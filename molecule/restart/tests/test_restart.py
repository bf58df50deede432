"""Verifier of the `restart` scenario: rolling restarts of the dialysis service on the lab's two
application hosts (hd-app-01, hd-app-02), asserted from systemd's own start times of the service
(ActiveEnterTimestampMonotonic: the containers share one kernel, so one monotonic clock) and from
the restart records in the scenario's record store.

Converge restarted both hosts; the tests below run playbooks/restart.yml again with the scenario's
variables (vars/restart.yml) for check mode, a service that does not come back and a peer that is
down, and leave the lab healthy after each."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import testinfra
import yaml

PROJECT = os.environ['MOLECULE_PROJECT_DIRECTORY']
SCENARIO = os.environ['MOLECULE_SCENARIO_DIRECTORY']
INVENTORY_DIR = os.path.join(os.environ['MOLECULE_EPHEMERAL_DIRECTORY'], 'inventory', 'lab')
INVENTORY = os.path.join(INVENTORY_DIR, 'hosts.yml')
RECORDS = os.environ['DIALYSIS_RECORDS_DIR']
PLAYBOOK = os.path.join(PROJECT, 'playbooks', 'restart.yml')
VARS = os.path.join(SCENARIO, 'vars', 'restart.yml')
UNIT = 'dialysis-service.service'
APP1, APP2 = 'hd-app-01', 'hd-app-02'

sys.path.insert(0, os.path.join(PROJECT, 'lab'))

import labctl  # noqa: E402

with open(INVENTORY, encoding='utf-8') as _handle:
    HOSTVARS = yaml.safe_load(_handle)['all']['hosts']
PASSWORDS = labctl.read_env_file(os.path.join(INVENTORY_DIR, labctl.ENV_FILE))


def host(name):
    return testinfra.get_host('ansible://%s?ansible_inventory=%s' % (name, INVENTORY))


def started(name):
    """The service's ActiveEnterTimestampMonotonic on NAME (microseconds), from systemd."""
    out = host(name).check_output('systemctl show -p ActiveEnterTimestampMonotonic --value %s' % UNIT)
    return int(out.strip())


def run_files():
    found = set()
    for root, _dirs, names in os.walk(RECORDS):
        found.update(os.path.join(root, n) for n in names if n.endswith('.jsonl') and n != 'index.jsonl')
    return found


def restart_records(path):
    """{host: restart record} of one run file."""
    out = {}
    with open(path, encoding='utf-8') as handle:
        for line in handle:
            entry = json.loads(line)
            record = entry.get('record')
            if isinstance(record, dict) and record.get('kind') == 'restart':
                assert entry['host'] not in out, 'two restart records for %s' % entry['host']
                out[entry['host']] = record
    return out


# The first run with restart records is converge's (run files are named by their start time).
CONVERGE = [found for found in (restart_records(p) for p in sorted(run_files(), key=os.path.basename))
            if found][:1]


def restart(*args, **extra):
    """Run playbooks/restart.yml as converge did; (returncode, output, {host: record} of the new run)."""
    before = run_files()
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', INVENTORY, PLAYBOOK,
            '-e', '@' + VARS] + list(args)
    if extra:
        argv += ['-e', json.dumps(extra)]
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0')
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
    new = run_files() - before
    assert len(new) == 1, 'expected one new run file in %s, found %s' % (RECORDS, sorted(new))
    out = re.sub(r'\x1b\[[0-9;]*m', '', proc.stdout + proc.stderr)
    return proc.returncode, out, restart_records(new.pop())


def healthy(name):
    url = 'http://127.0.0.1:%d/health' % HOSTVARS[name]['lab_published_ports']['8080']
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200 and json.loads(response.read()).get('status') == 'ok'
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_healthy(name, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if healthy(name):
            return
        time.sleep(1)
    pytest.fail('%s did not become healthy again within %d s' % (name, timeout))


def items(record):
    return dict((i['item'], i) for i in record['items'])


def test_converge_restarted_the_two_app_hosts_one_at_a_time():
    assert CONVERGE, 'expected the restart records of converge in %s' % RECORDS
    found = CONVERGE[0]
    assert sorted(found) == [APP1, APP2]
    for name, record in found.items():
        assert record['status'] == 'ok' and record['anomalies'] == 0, (name, record)
        assert record['outcome'] == 'restarted'
        assert record['reason'].startswith('molecule restart scenario')
        assert 0 < record['downtime_seconds'] < 30
        unit = record['metrics']['units'][UNIT]
        assert unit['after']['started_monotonic'] > unit['before']['started_monotonic']
        assert unit['after']['pid'] != unit['before']['pid']
        # the service's own start time now is the one the record saw after the restart
        assert started(name) == unit['after']['started_monotonic'], name
        assert record['ticket'] == 'CHG-MOLECULE-RESTART' and record['action'] == 'restart'
        assert record['metrics']['checks_after'] == dict.fromkeys(
            ('service', 'http', 'version', 'port', 'process'), True)
        assert record['metrics']['values']['version'] == {'version': '1.0', 'schema': '0001'}
    first, second = found[APP1]['metrics'], found[APP2]['metrics']
    # hd-app-02's service started only after hd-app-01 was healthy again (one kernel, one clock)
    assert second['units'][UNIT]['after']['started_monotonic'] > first['healthy_monotonic']
    assert second['units'][UNIT]['before']['started_monotonic'] < first['healthy_monotonic']
    assert second['units'][UNIT]['after']['started_epoch'] > first['healthy_at']
    # each checked its peer before going down
    assert first['peers'] == {APP2: True} and second['peers'] == {APP1: True}


def test_check_mode_restarts_nothing_and_says_what_it_would_do():
    before = {name: started(name) for name in (APP1, APP2)}
    rc, out, found = restart('--check')
    assert rc == 0, out[-3000:]
    assert {name: started(name) for name in (APP1, APP2)} == before
    assert 'Check mode: would restart %s on %s (healthy now)' % (UNIT, APP1) in out
    assert 'Check mode: would restart %s on %s (healthy now)' % (UNIT, APP2) in out
    assert found == {}
    for name in (APP1, APP2):
        recap = re.search(r'^%s\s*:.*\bchanged=(\d+)' % name, out, re.M)
        assert recap and recap.group(1) == '0', name


def test_a_service_that_does_not_come_back_stops_the_rollout_before_the_second_host():
    second = started(APP2)
    config = host(APP1).file('/etc/dialysis-service/config.json')
    assert config.mode == 0o640
    # the service (user dialysis) can no longer read its configuration: it fails at each start
    host(APP1).check_output('chmod 0600 /etc/dialysis-service/config.json')
    try:
        rc, out, found = restart('-e', 'restart_health_wait=8')
    finally:
        host(APP1).check_output('chmod 0640 /etc/dialysis-service/config.json && systemctl restart %s' % UNIT)
        wait_healthy(APP1)
    assert rc != 0
    assert '%s is not healthy again 8 s after the restart of %s' % (APP1, UNIT) in out
    assert 'The rollout stops here; no further host is restarted.' in out
    assert started(APP2) == second, 'hd-app-02 was restarted after hd-app-01 did not come back'
    assert sorted(found) == [APP1]
    record = found[APP1]
    assert record['outcome'] == 'not_back' and record['status'] == 'critical'
    assert record['downtime_seconds'] is None
    unit_item = items(record)['restart:%s' % UNIT]
    assert unit_item['status'] == 'critical' and unit_item['reason'] == 'not_back'
    assert unit_item['value'] is None
    assert items(record)['health_check:http']['status'] == 'critical'
    assert items(record)['health_check:http']['reason'] == 'unhealthy'


def test_a_healthy_host_is_not_taken_down_while_its_peer_is_down():
    first = started(APP1)
    host(APP2).check_output('systemctl stop %s' % UNIT)
    try:
        rc, out, found = restart()
    finally:
        host(APP2).check_output('systemctl start %s' % UNIT)
        wait_healthy(APP2)
    assert rc != 0
    assert '%s was not restarted: peer(s) of its tier not healthy (%s)' % (APP1, APP2) in out
    assert started(APP1) == first
    assert sorted(found) == [APP1]
    record = found[APP1]
    assert record['outcome'] == 'peer_unhealthy' and record['status'] == 'critical'
    assert items(record)['restart:peers']['value'] == [APP2]
    assert items(record)['restart:%s' % UNIT]['status'] == 'skipped'
    assert record['metrics']['peers'] == {APP2: False}


def test_no_record_holds_a_database_password():
    assert PASSWORDS and all(len(v) >= 16 for v in PASSWORDS.values())
    for path in run_files():
        with open(path, encoding='utf-8') as handle:
            text = handle.read()
        for value in PASSWORDS.values():
            assert value not in text, path


def test_the_guard_refuses_every_unsafe_condition_before_any_service_restarts():
    """In shift with treatments running, with none running but in shift, with treatments
    running at night, with the live check down, and an override without a reason: each
    restart.yml run is refused and no service was restarted (systemd's start times).
    Runs last: it brings the collector's treatments back, then ends them again."""
    sys.path.insert(0, os.path.join(PROJECT, 'molecule', 'resources'))
    import guard_lab  # pylint: disable=import-outside-toplevel

    with open(VARS, encoding='utf-8') as handle:
        settings = yaml.safe_load(handle)
    extra = dict((k, settings[k]) for k in ('restart_hosts', 'restart_services', 'restart_reason'))
    try:
        cases = guard_lab.guard_cases('restart.yml', lambda: {name: started(name) for name in (APP1, APP2)},
                                      extra)
    finally:
        guard_lab.stop_treatments()
    assert len(cases) == 5
