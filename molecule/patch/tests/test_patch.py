"""Verifier of the `patch` scenario: playbooks/patch.yml ran three times on hd-app-01 and
hd-db-01 against the local repository - with --check (molecule's check), for real
(converge) and again (idempotence), the guard allowing (out of shift, no treatment
running). The hosts and the record store say what happened. Then, with 3.0 published, the
guard's refusal cases leave the hosts at 2.0, and an override with a reason applies 3.0."""

import json
import os
import subprocess
import sys

import pytest
import testinfra

EPHEMERAL = os.environ['MOLECULE_EPHEMERAL_DIRECTORY']
INVENTORY = os.path.join(EPHEMERAL, 'inventory', 'lab', 'hosts.yml')
RECORDS = os.environ['DIALYSIS_RECORDS_DIR']
HOSTS = ('hd-app-01', 'hd-db-01')
PACKAGE = 'dialysis-dummy'


def host(name):
    return testinfra.get_host('ansible://%s?ansible_inventory=%s' % (name, INVENTORY))


def read_runs():
    """[(run line, [lines])] of every run that wrote patch records (playbooks/patch.yml,
    imported by converge.yml), oldest first."""
    runs = []
    for root, _dirs, names in os.walk(RECORDS):
        for name in names:
            if not name.endswith('.jsonl') or name == 'index.jsonl':
                continue
            with open(os.path.join(root, name), encoding='utf-8') as handle:
                lines = [json.loads(line) for line in handle if line.strip()]
            head = next((line for line in lines if line.get('type') == 'run'), None)
            if head and any((line.get('record') or {}).get('kind') == 'patch' for line in lines):
                runs.append((head, lines))
    return sorted(runs, key=lambda run: run[0]['run_id'])


@pytest.fixture(scope='module')
def runs():
    found = read_runs()
    assert len(found) == 3, 'expected the check, converge and idempotence runs, found %d' % len(found)
    return found


def patch_records(lines):
    """{host: (line, record)} of the patch records of one run."""
    out = {}
    for line in lines:
        record = line.get('record')
        if line.get('type') == 'result' and isinstance(record, dict) and record.get('kind') == 'patch':
            assert line['host'] not in out, 'two patch records for %s in one run' % line['host']
            out[line['host']] = (line, record)
    assert sorted(out) == sorted(HOSTS)
    return out


def items(record):
    return dict((i['item'], i) for i in record['items'])


def changed_lines(lines):
    return [(line['host'], line['task']) for line in lines
            if line.get('type') == 'result' and line.get('changed')]


def test_the_check_run_lists_2_0_as_pending_and_changes_nothing(runs):
    head, lines = runs[0]
    assert head['check_mode'] is True
    assert changed_lines(lines) == []
    for name, (line, record) in patch_records(lines).items():
        assert line['check_mode'] is True
        found = items(record)
        package = found['package:%s' % PACKAGE]
        assert (package['from'], package['to'], package['value']) == ('1.0', '2.0', '1.0 -> 2.0'), name
        assert package['reason'] == 'pending' and package['security'] is True
        assert found['patch:outcome']['value'] == 'would_apply'
        assert 'apt' not in [entry['action'] for entry in lines
                             if entry.get('type') == 'result' and entry.get('host') == name]


def test_the_real_run_applies_1_0_to_2_0_one_host_at_a_time(runs):
    head, lines = runs[1]
    assert head['check_mode'] is False
    records = patch_records(lines)
    for name, (_line, record) in records.items():
        found = items(record)
        package = found['package:%s' % PACKAGE]
        # From 1.0: the check run before it left the host as it was.
        assert (package['from'], package['to'], package['installed']) == ('1.0', '2.0', '2.0'), name
        assert package['status'] == 'ok' and package['reason'] == 'applied'
        assert found['patch:outcome']['value'] == 'applied'
        assert record['outcome'] == 'applied' and record['ticket'] == 'CHG-LAB-PATCH-1'
        assert found['patch:reboot']['value'] is False
        assert found['patch:reboot']['reason'] == 'reboot_not_required'
        assert found['health:before']['value'] is True and found['health:after']['value'] is True
        assert found['patch:downtime']['unit'] == 's' and found['patch:downtime']['value'] >= 0
        assert found['patch:services']['reason'] == 'services_unknown'   # no needrestart in the lab
        assert record['status'] == 'ok'
    applied = [(line['host'], line['started'], line['ended']) for line in lines
               if line.get('type') == 'result' and line['action'] in ('ansible.builtin.apt', 'apt')]
    assert sorted(h for h, _s, _e in applied) == sorted(HOSTS)
    apply_task = 'dialysis.ops.patch : Apply exactly the listed versions (apt)'
    assert sorted(changed_lines(lines)) == sorted((h, apply_task) for h in HOSTS)
    # serial 1: the first host's record is written before the second host's first task starts.
    first, second = sorted(records, key=lambda h: records[h][0]['ended'])
    second_start = min(line['started'] for line in lines
                       if line.get('type') == 'result' and line['host'] == second
                       and line['play'] == 'Patch hosts in rolling batches')
    assert records[first][0]['ended'] <= second_start


def test_a_second_run_changes_nothing(runs):
    _head, lines = runs[2]
    assert changed_lines(lines) == []
    for _name, (_line, record) in patch_records(lines).items():
        assert items(record)['patch:outcome']['value'] == 'nothing_pending'
        assert record['status'] == 'ok'


@pytest.mark.parametrize('name', HOSTS)
def test_the_host_has_2_0_and_no_source_but_the_local_repository(name):
    target = host(name)
    assert target.package(PACKAGE).version == '2.0'
    assert target.file('/usr/share/dialysis-dummy/VERSION').content_string == '2.0\n'
    assert not target.file('/etc/apt/sources.list').exists
    assert target.file('/etc/apt/sources.list.d').listdir() == ['dialysis-lab.list']
    lists = [f for f in target.file('/var/lib/apt/lists').listdir()
             if target.file('/var/lib/apt/lists/' + f).is_file and f != 'lock']
    assert lists and all(f.startswith('_srv_dialysis-repo_') for f in lists), lists


def test_the_service_is_healthy_after_patching():
    target = host('hd-app-01')
    out = target.check_output('python3 -c "import urllib.request; '
                              "print(urllib.request.urlopen('http://127.0.0.1:8080/health').status)\"")
    assert out.strip() == '200'


# The treatment-hours guard's conditions (molecule/resources/guard_lab.py), with an update
# pending: dialysis-dummy 3.0 is published, so a run the guard let through would change the
# hosts. These run last: they add runs to the record store.
GUARD_EXTRA = {'patch_hosts': 'all:!windows'}


def installed_versions():
    return tuple(host(name).package(PACKAGE).version for name in HOSTS)


@pytest.fixture(scope='module')
def guard_lab():
    sys.path.insert(0, os.path.join(os.environ['MOLECULE_PROJECT_DIRECTORY'], 'molecule', 'resources'))
    import guard_lab as module
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', INVENTORY,
         os.path.join(os.environ['MOLECULE_SCENARIO_DIRECTORY'], 'publish.yml'), '-e', 'plab_version=3.0'],
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return module


def test_the_guard_refuses_patching_before_any_host_is_touched(guard_lab):
    assert installed_versions() == ('2.0', '2.0')
    cases = guard_lab.guard_cases('patch.yml', installed_versions, GUARD_EXTRA)
    assert len(cases) == 5, cases
    assert installed_versions() == ('2.0', '2.0')     # 3.0 pending all along, never applied


def test_an_override_with_a_reason_patches_and_is_recorded(guard_lab):
    before = set(os.listdir(RECORDS))
    proc, verdicts, overrides = guard_lab.overridden_run('patch.yml', GUARD_EXTRA)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert [v['decision'] for v in verdicts] == ['overridden']
    assert len(overrides) >= 1
    assert installed_versions() == ('3.0', '3.0')
    new = [name for name in sorted(set(os.listdir(RECORDS)) - before) if name.endswith('.jsonl')
           and name != 'index.jsonl']
    with open(os.path.join(RECORDS, new[-1]), encoding='utf-8') as handle:
        lines = [json.loads(line) for line in handle if line.strip()]
    for _name, (_line, record) in patch_records(lines).items():
        package = items(record)['package:%s' % PACKAGE]
        assert (package['from'], package['installed'], package['reason']) == ('2.0', '3.0', 'applied')
