"""The inspection module run end to end through main(), on this machine."""

import json
import os

import host_inspection
import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dialysis.ops.plugins.module_utils import dialysis_hostmetrics as hm


def run(capsys, args, check_mode=False):
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            host_inspection.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def base_args(tmp_path):
    log = tmp_path / 'app.log'
    log.write_text('INFO start\nERROR HIS interface timeout\n')
    return {'state_dir': str(tmp_path / 'state'), 'cpu_sample_seconds': 0.1, 'journal': False,
            'system': 'hemodialysis', 'logs': [{'name': 'app', 'path': str(log)}]}


def items_by_id(result):
    return dict((i['item'], i) for i in result['record']['items'])


@pytest.mark.parametrize('collector', ['psutil', 'proc'])
def test_record_shape_is_the_same_for_both_collectors(capsys, base_args, collector):
    result = run(capsys, dict(base_args, collector=collector))
    assert result['changed'] is False and result['collector'] == collector
    record = result['record']
    assert record['kind'] == 'inspection' and record['system'] == 'hemodialysis'
    items = items_by_id(result)
    for key in ('cpu:usage', 'cpu:load', 'memory:ram', 'memory:swap', 'disk:/', 'inode:/',
                'system:uptime', 'clock:sync', 'log:app', 'process:top'):
        assert key in items, key
    for item in record['items']:
        assert set(item) >= {'item', 'value', 'status', 'message'}
        assert item['status'] in ('ok', 'warning', 'critical', 'error')
    assert sorted(record['metrics']) == ['clock', 'collector', 'cpu', 'filesystems', 'logs',
                                         'memory', 'services', 'uptime_seconds']
    assert sorted(record['metrics']['memory']) == sorted(hm._memory_shape(1, 1, 0, 0))


def test_shapes_match_between_collectors_key_for_key(capsys, base_args, tmp_path):
    a = run(capsys, dict(base_args, collector='psutil', state_dir=str(tmp_path / 's1')))
    b = run(capsys, dict(base_args, collector='proc', state_dir=str(tmp_path / 's2')))
    assert [i['item'] for i in a['record']['items']] == [i['item'] for i in b['record']['items']]
    assert sorted(a['record']['metrics']['cpu']) == sorted(b['record']['metrics']['cpu'])
    assert a['record']['metrics']['filesystems'][0].keys() == b['record']['metrics']['filesystems'][0].keys()


def test_thresholds_drive_the_status(capsys, base_args):
    result = run(capsys, dict(base_args, thresholds={'disk_percent': {'warning': 0, 'critical': 0},
                                                     'memory_percent': {'warning': 0}}))
    items = items_by_id(result)
    assert items['disk:/']['status'] == 'critical'
    assert items['disk:/']['threshold'] == {'warning': 0.0, 'critical': 0.0}
    assert 'critical at 0' in items['disk:/']['message']
    assert items['memory:ram']['status'] == 'warning'
    assert result['record']['status'] in ('critical', 'error')
    assert result['record']['anomalies'] >= 3  # disk, memory, log


def test_filesystem_override_applies_to_that_mount_only(capsys, base_args):
    result = run(capsys, dict(base_args, filesystem_thresholds={'/': {'warning': 0, 'critical': 0}}))
    assert items_by_id(result)['disk:/']['status'] == 'critical'


def test_invalid_thresholds_fail_with_named_key(capsys, base_args):
    result = run(capsys, dict(base_args, thresholds={'disk_percent': {'warning': 'ninety'}}))
    assert result['failed'] is True
    assert "thresholds.disk_percent.warning: expected a number (e.g. 85), got 'ninety'" in result['msg']


def test_log_findings_are_incremental_and_check_mode_keeps_no_position(capsys, base_args):
    first = items_by_id(run(capsys, base_args, check_mode=True))['log:app']
    assert first['value'] == 1 and first['status'] == 'warning'
    assert not os.path.exists(base_args['state_dir'])  # check mode saved nothing
    assert items_by_id(run(capsys, base_args))['log:app']['value'] == 1
    again = items_by_id(run(capsys, base_args))['log:app']
    assert again['value'] == 0 and again['status'] == 'ok'
    with open(base_args['logs'][0]['path'], 'a') as handle:
        handle.write('ERROR one\nERROR two password=abc\n')
    third = items_by_id(run(capsys, base_args))['log:app']
    assert third['value'] == 2
    assert third['samples'] == ['ERROR one', 'ERROR two password=********']


def test_missing_log_is_a_warning_unless_optional(capsys, base_args, tmp_path):
    args = dict(base_args, logs=[{'name': 'gone', 'path': str(tmp_path / 'gone.log')},
                                 {'name': 'maybe', 'path': str(tmp_path / 'maybe.log'),
                                  'optional': True}])
    items = items_by_id(run(capsys, args))
    assert items['log:gone']['status'] == 'warning'
    assert items['log:maybe']['status'] == 'ok'


class FakeModule(object):
    def __init__(self, out, rc=0):
        self.out, self.rc = out, rc

    def get_bin_path(self, name):
        return '/bin/systemctl'

    def run_command(self, cmd):
        self.cmd = cmd
        return self.rc, self.out, ''


def test_service_states_from_systemctl_show(monkeypatch):
    monkeypatch.setattr(host_inspection.os.path, 'isdir', lambda p: True)
    out = ('Id=postgresql.service\nLoadState=loaded\nActiveState=active\nSubState=running\n\n'
           'Id=hdis.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\n\n'
           'Id=nope.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\n')
    module = FakeModule(out)
    items, _ = host_inspection.check_services(module, ['postgresql.service', 'hdis.service',
                                                       'nope.service'])
    assert [(i['item'], i['status']) for i in items] == [
        ('service:postgresql.service', 'ok'), ('service:hdis.service', 'critical'),
        ('service:nope.service', 'critical')]
    assert 'not installed' in items[2]['message']
    assert module.cmd[-3:] == ['postgresql.service', 'hdis.service', 'nope.service']


def test_services_without_systemd_use_init_scripts(monkeypatch, tmp_path):
    monkeypatch.setattr(host_inspection.os.path, 'isdir', lambda p: False)
    items, _ = host_inspection.check_services(FakeModule(''), ['surely-absent-xyz.service'])
    assert items[0]['status'] == 'error' and 'no init script' in items[0]['message']


def test_clock_state_reads_the_kernel():
    synced, maxerror = host_inspection.clock_state()
    assert isinstance(synced, bool) and maxerror >= 0
    items, _ = host_inspection.check_clock(required=False)
    assert items[0]['status'] == 'ok'
