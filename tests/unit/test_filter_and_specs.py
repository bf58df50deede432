import os
import re

import dialysis
import yaml


def test_log_errors_name_index_key_and_form():
    errors = dialysis.log_errors([{'path': 'var/log/x'}, {'path': '/a', 'patterns': ['(']},
                                  {'path': '/b', 'name': 'n'}, {'path': '/c', 'name': 'n'},
                                  'just-a-string', {'path': '/d', 'ignore': 'ERROR'}])
    assert errors[0] == ("inspection_logs[0].path: expected an absolute path such as "
                         "/var/log/app.log, got 'var/log/x'")
    assert errors[1].startswith("inspection_logs[1].patterns: '(' is not a valid regular expression")
    assert "inspection_logs[3].name: 'n' is used twice" in errors[2]
    assert errors[3].startswith('inspection_logs[4]: expected a mapping')
    assert errors[4].startswith('inspection_logs[5].ignore: expected a list')
    assert dialysis.log_errors({'path': '/x'})[0].startswith('inspection_logs: expected a list')
    assert dialysis.log_errors([{'path': '/var/log/syslog', 'optional': True}]) == []


def test_threshold_filter_uses_the_shared_rules():
    assert dialysis.threshold_errors({'disk_percent': {'warning': 'ninety'}}, {}) == [
        "inspection_thresholds.disk_percent.warning: expected a number (e.g. 85), got 'ninety'"]


def test_every_role_default_is_in_the_argument_specs_and_back(repo_root):
    roles = os.path.join(repo_root, 'roles')
    for role in sorted(os.listdir(roles)):
        with open(os.path.join(roles, role, 'defaults', 'main.yml')) as handle:
            defaults = yaml.safe_load(handle) or {}
        with open(os.path.join(roles, role, 'meta', 'argument_specs.yml')) as handle:
            specs = yaml.safe_load(handle)['argument_specs']
        options = specs['main']['options']
        assert sorted(defaults) == sorted(options), role
        for name, value in defaults.items():
            assert name.startswith(role + '_'), name
            if 'default' in options[name] and '{{' not in str(value):
                assert options[name]['default'] == value, (role, name)
        with open(os.path.join(roles, role, 'README.md')) as handle:
            readme = handle.read()
        for name in defaults:
            assert name in readme, '%s: %s is not documented in the README' % (role, name)


def test_inspection_errors_checks_every_host_with_role_defaults_for_the_rest():
    hosts = [{'inventory_hostname': 'hd-db-01',
              'inspection_thresholds': {'disk_percent': {'warning': 'ninety'}}},
             {'inventory_hostname': 'hd-app-01'},
             {'inventory_hostname': 'pd-app-01', 'inspection_logs': [{'path': 'rel.log'}]}]
    errors = dialysis.inspection_errors(hosts, {}, {}, [{'path': '/var/log/syslog'}], [])
    assert errors == [
        "hd-db-01: inspection_thresholds.disk_percent.warning: expected a number (e.g. 85), "
        "got 'ninety'",
        "pd-app-01: inspection_logs[0].path: expected an absolute path such as /var/log/app.log, "
        "got 'rel.log'"]
    assert dialysis.inspection_errors(hosts[1:2], {}, {}, [], []) == []


def test_anomaly_messages_per_host():
    host_a = {'inventory_hostname': 'a', 'inspection_result': {'record': {'items': [
        {'status': 'ok', 'message': 'fine'}, {'status': 'critical', 'message': 'disk full'}]}}}
    host_b = {'inventory_hostname': 'b', 'inspection_result': {'record': {'items': [
        {'status': 'ok', 'message': 'fine'}]}}}
    hosts = [host_a, host_b, {'inventory_hostname': 'c'}]
    assert dialysis.anomaly_messages(hosts) == {'a': ['disk full']}


def test_every_hospital_id_check_uses_the_contracts_form(repo_root):
    """The callback names the store, the roles refuse a bad id: one form for all, or
    records and documents of a hospital would go to different folders."""
    from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import HOSPITAL_ID_PATTERN
    for path in ('roles/inspection/tasks/validate.yml', 'roles/report/tasks/main.yml'):
        with open(os.path.join(repo_root, path), encoding='utf-8') as handle:
            text = handle.read()
        forms = set(re.findall(r"match\('([^']*)'\)", text))
        assert forms == {HOSPITAL_ID_PATTERN}, (path, forms)
