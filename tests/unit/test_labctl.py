"""lab/labctl.py's inventory, without podman: what `make lab` users, molecule and the bench
run their playbooks with."""

import os
import stat
import sys

import pytest
import yaml

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'lab'))

import labctl  # noqa: E402

from ansible_collections.dialysis.ops.plugins.filter.dialysis import inspection_errors  # noqa: E402


@pytest.fixture
def written(tmp_path):
    inventory = tmp_path / 'lab'
    argv = ['inventory', '--inventory', str(inventory), '--prefix', 'utlab', '--base-port', '2640',
            '--key', str(tmp_path / 'id_ed25519')]
    assert labctl.main(argv) == 0
    with open(inventory / 'hosts.yml', encoding='utf-8') as handle:
        data = yaml.safe_load(handle)['all']
    return inventory, data, argv


def test_groups_ports_and_hospital(written):
    _inventory, data, _argv = written
    children = data['children']
    for group in ('hemodialysis', 'ckd', 'pd', 'app', 'db', 'interface'):
        assert children[group]['hosts'], group
    assert sorted(children['interface']['hosts']) == ['hd-if-01']
    assert data['vars']['dialysis_hospital_id'] == 'lab'
    hosts = data['hosts']
    assert hosts['hd-db-01']['ansible_port'] == 2642 and hosts['hd-db-01']['ansible_host'] == '127.0.0.1'
    assert data['vars']['lab_endpoints']['hd_if_01_mllp_his_adt'] == {
        'host': '10.0.2.2', 'port': 2670, 'controller_host': '127.0.0.1'}


def test_the_passwords_are_only_in_lab_env_and_kept_on_a_rerun(written):
    inventory, _data, argv = written
    env_file = inventory / 'lab.env'
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    passwords = labctl.read_env_file(str(env_file))
    assert sorted(passwords) == sorted(labctl.PASSWORD_VARS) and all(len(v) >= 24 for v in passwords.values())
    hosts_text = (inventory / 'hosts.yml').read_text(encoding='utf-8')
    assert not any(v in hosts_text for v in passwords.values())
    assert labctl.main(argv) == 0
    assert labctl.read_env_file(str(env_file)) == passwords


def test_the_clinical_settings_pass_the_inspections_validation(written):
    """As the role's validation sees them: templated with the host's variables, as hostvars are."""
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar, trust_as_template

    def trusted(value):   # as Ansible trusts the text of an inventory file
        if isinstance(value, dict):
            return dict((k, trusted(v)) for k, v in value.items())
        if isinstance(value, list):
            return [trusted(v) for v in value]
        return trust_as_template(value) if isinstance(value, str) else value

    _inventory, data, _argv = written
    data = trusted(data)
    loader = DataLoader()
    hosts = []
    for name, own in data['hosts'].items():
        variables = dict(data['vars'], **own)
        variables.update(inventory_hostname=name, lab_ro_password='x', lab_app_password='y')
        hosts.append(Templar(loader=loader, variables=variables).template(variables))
    assert inspection_errors(hosts, {}, {}, [], []) == []
    db_checks = [h for h in hosts if h['inventory_hostname'] == 'hd-db-01'][0]['inspection_clinical']
    assert db_checks['machine_data'][0]['silent_minutes'] == {'warning': 1, 'critical': 2}
    db = data['hosts']['hd-db-01']['inspection_clinical']
    assert [d['user'] for d in db['databases']] == ['dialysis_ro', 'dialysis_ro']
    assert all(d['password'] == '{{ lab_ro_password }}' for d in db['databases'])
    app = data['hosts']['hd-app-01']['inspection_clinical']
    assert [e['name'] for e in app['endpoints']] == ['his-adt', 'lis-results', 'machine-gateway',
                                                     'hemodialysis-db']


def test_an_inventory_directory_labctl_did_not_write_is_refused(tmp_path):
    foreign = tmp_path / 'mine'
    foreign.mkdir()
    (foreign / 'hosts.yml').write_text('all: {}\n')
    assert labctl.main(['inventory', '--inventory', str(foreign)]) == 2
    assert (foreign / 'hosts.yml').read_text() == 'all: {}\n'


def test_the_second_application_host_runs_the_service_without_a_collector(written):
    _inventory, data, _argv = written
    children, hosts = data['children'], data['hosts']
    assert sorted(children['app']['hosts']) == ['ckd-db-01', 'hd-app-01', 'hd-app-02', 'pd-db-01']
    assert 'hd-app-02' in children['hemodialysis']['hosts']
    assert sorted(children['lab_service']['hosts']) == ['hd-app-01', 'hd-app-02']
    assert sorted(children['lab_collector']['hosts']) == ['hd-app-01']   # one collector per unit
    app2 = hosts['hd-app-02']
    assert app2['ansible_port'] == 2646 and app2['lab_published_ports'] == {'22': 2646, '8080': 2651}
    assert app2['inspection_services'] == ['dialysis-service.service', 'ssh.service']
    assert app2['lab_service_database'] == hosts['hd-app-01']['lab_service_database']
    assert 'inspection_clinical' not in app2
    assert data['vars']['lab_endpoints']['hd_app_02_http'] == {
        'host': '10.0.2.2', 'port': 2651, 'controller_host': '127.0.0.1'}


def test_no_two_hosts_publish_the_same_port():
    published = [p for h in labctl.TOPOLOGY for p, _port in h.ports(0)]
    assert len(published) == len(set(published))
    # every offset stays below 40, so labs 40 ports apart (rlab 2400, plab 2440, dlab 2480) never meet
    assert max(published) < 40


def test_a_subset_without_the_collector_host_has_no_collector(tmp_path):
    inventory = tmp_path / 'lab'
    assert labctl.main(['inventory', '--inventory', str(inventory), '--prefix', 'utlab',
                        '--base-port', '2640', '--hosts', 'hd-app-02,hd-db-01',
                        '--key', str(tmp_path / 'k')]) == 0
    with open(inventory / 'hosts.yml', encoding='utf-8') as handle:
        children = yaml.safe_load(handle)['all']['children']
    assert list(children['lab_service']['hosts']) == ['hd-app-02']
    assert children['lab_collector']['hosts'] in ({}, None)


def test_every_host_with_a_service_has_its_health_checks(written):
    import health_check  # plugins/modules (conftest puts it on the path)

    _inventory, data, _argv = written
    for name, hv in data['hosts'].items():
        checks = hv.get('dialysis_health_checks')
        assert checks, name
        assert health_check.validate_checks(checks) == [], name
    app = [c['name'] for c in data['hosts']['hd-app-02']['dialysis_health_checks']]
    assert app == ['service', 'http', 'version', 'port', 'process']


def test_every_lab_system_has_a_live_treatment_check_the_guard_accepts(written):
    from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_guard import plan
    _inventory, data, _argv = written
    hosts = {}
    for system in ('hemodialysis', 'ckd', 'pd'):
        group = data['children'][system]
        check = group['vars']['dialysis_treatment_check']
        for name in group['hosts']:
            hosts[name] = {'system': system, 'hours': None, 'check': check}
    guard_plan, errors = plan(hosts, set(data['hosts']), ticket='CHG-1')
    assert errors == []
    # Only the hemodialysis service counts treatments; it answers on its own app host.
    assert [(c['system'], c['check_host'], c['url']) for c in guard_plan['checks']] == [
        ('hemodialysis', 'hd-app-01', 'http://127.0.0.1:8080/treatments/running')]


def test_the_standby_is_not_started_by_default_and_is_a_dr_target_when_asked(tmp_path, written):
    import health_check  # plugins/modules (conftest puts it on the path)

    _inventory, data, _argv = written
    assert 'hd-standby-01' not in data['hosts']          # make lab, molecule lab, the bench
    assert not (data['children'].get('standby') or {}).get('hosts')
    inventory = tmp_path / 'standby'
    assert labctl.main(['inventory', '--inventory', str(inventory), '--prefix', 'utlab',
                        '--base-port', '2640', '--hosts', 'hd-db-01,hd-app-01,hd-standby-01',
                        '--key', str(tmp_path / 'k')]) == 0
    with open(inventory / 'hosts.yml', encoding='utf-8') as handle:
        data = yaml.safe_load(handle)['all']
    children, standby = data['children'], data['hosts']['hd-standby-01']
    assert list(children['standby']['hosts']) == ['hd-standby-01']
    assert list(children['lab_standby']['hosts']) == ['hd-standby-01']
    assert 'hd-standby-01' in children['hemodialysis']['hosts']
    assert 'hd-standby-01' not in children['lab_service']['hosts']
    dr = standby['dialysis_dr_standby']
    assert dr['source_host'] == 'hd-db-01' and dr['backup_set'] in [
        s['name'] for s in data['hosts']['hd-db-01']['dialysis_backup_sets']]
    assert health_check.validate_checks(dr['health_checks']) == []
    assert [c['name'] for c in dr['health_checks']] == ['service', 'http', 'version', 'port', 'process']
    # The service is stopped between drills: an inspection does not expect it; its database is its own.
    assert standby['inspection_services'] == ['postgresql@15-main.service', 'ssh.service']
    assert standby['lab_service_database']['host'] == '127.0.0.1'
    assert 'dialysis_backup_sets' not in standby
    assert standby['lab_published_ports'] == {'22': 2647, '8080': 2652, '5432': 2664}
