"""The inspection module run end to end through main(), on this machine."""

import gzip
import json
import lzma
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
    return {'cpu_sample_seconds': 0.1, 'journal': False,
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
        assert item['status'] in ('ok', 'skipped', 'warning', 'critical', 'error')
    assert sorted(record['metrics']) == ['clock', 'collector', 'cpu', 'filesystems', 'logs',
                                         'memory', 'services', 'uptime_seconds']
    assert sorted(record['metrics']['memory']) == sorted(hm._memory_shape(1, 1, 0, 0))


def test_shapes_match_between_collectors_key_for_key(capsys, base_args, tmp_path):
    a = run(capsys, dict(base_args, collector='psutil'))
    b = run(capsys, dict(base_args, collector='proc'))
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


def test_log_findings_start_from_the_positions_given_and_nothing_is_kept_on_the_host(
        capsys, base_args, tmp_path):
    before = sorted(os.listdir(str(tmp_path)))
    first = run(capsys, base_args, check_mode=True)
    assert items_by_id(first)['log:app']['value'] == 1
    # Without positions every run is a first scan: the host keeps nothing, so a
    # run whose result never reached the record store cannot hide these lines.
    again = run(capsys, base_args)
    assert items_by_id(again)['log:app']['value'] == 1
    assert sorted(os.listdir(str(tmp_path))) == before
    assert again['log_positions'] == first['log_positions']
    path = base_args['logs'][0]['path']
    assert again['log_positions']['files'][path]['offset'] == os.path.getsize(path)

    recorded = dict(base_args, positions=again['log_positions'])
    nothing_new = items_by_id(run(capsys, recorded))['log:app']
    assert nothing_new['value'] == 0 and nothing_new['status'] == 'ok'
    with open(path, 'a') as handle:
        handle.write('ERROR one\nERROR two password=abc\n')
    third = run(capsys, recorded)
    assert items_by_id(third)['log:app']['value'] == 2
    assert items_by_id(third)['log:app']['samples'] == ['ERROR one', 'ERROR two password=********']
    # The same positions again (the previous result was lost): the same two lines, again.
    assert items_by_id(run(capsys, recorded))['log:app']['value'] == 2
    assert third['log_positions']['files'][path]['offset'] == os.path.getsize(path)


def test_positions_of_the_wrong_shape_fail_with_the_expected_form(capsys, base_args):
    result = run(capsys, dict(base_args, positions={'files': ['/var/log/app.log']}))
    assert result['failed'] is True and 'positions: expected {files:' in result['msg']


def test_missing_log_is_a_warning_unless_optional(capsys, base_args, tmp_path):
    args = dict(base_args, logs=[{'name': 'gone', 'path': str(tmp_path / 'gone.log')},
                                 {'name': 'maybe', 'path': str(tmp_path / 'maybe.log'),
                                  'optional': True}])
    record = run(capsys, args)['record']
    items = items_by_id({'record': record})
    gone = items['log:gone']
    assert (gone['status'], gone['value'], gone['reason']) == ('warning', None, 'not_found')
    assert gone['path'] == str(tmp_path / 'gone.log')
    assert record['anomalies'] >= 1


def test_an_optional_log_that_does_not_exist_is_reported_as_not_checked_not_as_normal(
        capsys, base_args, tmp_path):
    args = dict(base_args, logs=[{'name': 'maybe', 'path': str(tmp_path / 'maybe.log'),
                                  'optional': True}])
    record = run(capsys, args)['record']
    maybe = items_by_id({'record': record})['log:maybe']
    assert maybe['status'] == 'skipped' and maybe['status'] != 'ok'
    assert maybe['value'] is None and maybe['reason'] == 'not_found'
    assert maybe['path'] == str(tmp_path / 'maybe.log')
    # Not a finding either: it counts for neither the anomalies nor the overall status.
    assert record['anomalies'] == sum(1 for i in record['items']
                                      if i['status'] in ('warning', 'critical', 'error'))
    assert record['status'] != 'skipped'


def test_log_items_name_their_configured_path(capsys, base_args):
    app = items_by_id(run(capsys, base_args))['log:app']
    assert app['path'] == base_args['logs'][0]['path'] and 'reason' not in app


def test_measured_items_carry_no_reason(capsys, base_args):
    items = items_by_id(run(capsys, base_args))
    for key in ('cpu:usage', 'cpu:load', 'memory:ram', 'memory:swap', 'disk:/', 'inode:/'):
        assert 'reason' not in items[key], key


def test_unreadable_filesystem_is_an_error_with_a_reason(capsys, base_args, monkeypatch):
    def unreadable(mount):
        raise OSError(13, 'Permission denied')
    monkeypatch.setattr(host_inspection, 'fs_usage', unreadable)
    disk = items_by_id(run(capsys, base_args))['disk:/']
    assert (disk['status'], disk['value'], disk['reason']) == ('error', None, 'unreadable')


def test_unreadable_journal_is_an_error_with_a_reason(capsys, base_args, monkeypatch):
    monkeypatch.setattr(host_inspection, 'scan_journal',
                        lambda *args, **kwargs: ({'error': 'No journal files were found.'}, None))
    monkeypatch.setattr(host_inspection.AnsibleModule, 'get_bin_path',
                        lambda self, name, *args, **kwargs: '/usr/bin/' + name)
    journal = items_by_id(run(capsys, dict(base_args, journal=True)))['log:journal']
    assert (journal['status'], journal['value'], journal['reason']) == (
        'error', None, 'journal_unreadable')


def test_an_item_that_breaks_the_record_contract_fails_the_module(capsys, base_args, monkeypatch):
    def bad_uptime(collector):
        return [{'item': 'system:uptime', 'value': 1, 'status': 'fine', 'message': 'x'}], 1
    monkeypatch.setattr(host_inspection, 'check_uptime', bad_uptime)
    result = run(capsys, base_args)
    assert result['failed'] is True
    assert 'invalid record' in result['msg'] and 'system:uptime' in result['msg']


class FakeModule(object):
    def __init__(self, out, rc=0, err=''):
        self.out, self.rc, self.err = out, rc, err
        self.cmd = None

    def get_bin_path(self, name):
        return '/bin/systemctl'

    def run_command(self, cmd):
        self.cmd = cmd
        return self.rc, self.out, self.err


def test_service_states_from_systemctl_show(monkeypatch):
    monkeypatch.setattr(host_inspection.os.path, 'isdir', lambda p: True)
    out = ('Id=postgresql.service\nLoadState=loaded\nActiveState=active\nSubState=running\n\n'
           'Id=hdis.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\n\n'
           'Id=nope.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\n')
    module = FakeModule(out)
    items, dummy_metrics = host_inspection.check_services(
        module, ['postgresql.service', 'hdis.service', 'nope.service'])
    assert [(i['item'], i['value'], i['status'], i.get('reason')) for i in items] == [
        ('service:postgresql.service', 'active', 'ok', None),
        ('service:hdis.service', 'failed', 'critical', None),
        ('service:nope.service', 'not-found', 'critical', 'not_found')]
    assert 'not installed' in items[2]['message']
    assert module.cmd[-3:] == ['postgresql.service', 'hdis.service', 'nope.service']


def test_systemctl_failure_is_an_error_with_a_reason(monkeypatch):
    monkeypatch.setattr(host_inspection.os.path, 'isdir', lambda p: True)
    items, dummy_metrics = host_inspection.check_services(
        FakeModule('', rc=1, err='Failed to connect to bus'), ['a.service', 'b.service'])
    assert [(i['item'], i['value'], i['status'], i['reason']) for i in items] == [
        ('service:a.service', None, 'error', 'systemctl_failed'),
        ('service:b.service', None, 'error', 'systemctl_failed')]


def test_services_without_systemd_use_init_scripts(monkeypatch, tmp_path):
    monkeypatch.setattr(host_inspection.os.path, 'isdir', lambda p: False)
    items, dummy_metrics = host_inspection.check_services(FakeModule(''), ['surely-absent-xyz.service'])
    assert items[0]['status'] == 'error' and 'no init script' in items[0]['message']
    assert items[0]['reason'] == 'no_systemd'


@pytest.mark.parametrize('rc, value, status, reason', [
    (0, 'active', 'ok', None),
    (3, 'inactive', 'critical', None),
    (4, 'unknown', 'warning', 'status_unknown'),
])
def test_init_script_status(monkeypatch, rc, value, status, reason):
    monkeypatch.setattr(host_inspection.os.path, 'isdir', lambda p: False)
    monkeypatch.setattr(host_inspection.os, 'access', lambda path, mode: True)
    items, dummy_metrics = host_inspection.check_services(FakeModule('', rc=rc), ['hdis'])
    assert (items[0]['value'], items[0]['status'], items[0].get('reason')) == (value, status, reason)


def test_clock_state_reads_the_kernel():
    synced, maxerror = host_inspection.clock_state()
    assert isinstance(synced, bool) and maxerror >= 0
    items, dummy_metrics = host_inspection.check_clock(required=False)
    assert items[0]['status'] == 'ok'


@pytest.mark.parametrize('synced, required, status, reason', [
    (True, True, 'ok', None),
    (False, True, 'warning', 'unsynchronised'),
    (False, False, 'ok', 'unsynchronised'),
])
def test_clock_reasons(monkeypatch, synced, required, status, reason):
    monkeypatch.setattr(host_inspection, 'clock_state', lambda: (synced, 1.5))
    items, dummy_metrics = host_inspection.check_clock(required)
    assert (items[0]['status'], items[0].get('reason')) == (status, reason)
    assert items[0]['value'] == ('synchronised' if synced else 'unsynchronised')


def test_unreadable_clock_is_an_error_with_a_reason(monkeypatch):
    def broken():
        raise OSError(1, 'adjtimex failed')
    monkeypatch.setattr(host_inspection, 'clock_state', broken)
    items, dummy_metrics = host_inspection.check_clock(True)
    assert (items[0]['value'], items[0]['status'], items[0]['reason']) == (
        None, 'error', 'clock_unreadable')


# -- partial scans: never presented as complete ------------------------------------------

def flood_log(path, errors_at=(), lines=5000):
    """``lines`` lines of 23 bytes; ERROR on the numbers in ``errors_at``, INFO elsewhere."""
    with open(path, 'w') as handle:
        for number in range(lines):
            handle.write('%s flood line %05d\n' % ('ERROR' if number in errors_at else 'INFO ', number))


def test_a_log_grown_past_the_limit_is_a_warning_with_the_skipped_amount(capsys, base_args, tmp_path):
    path = str(tmp_path / 'flood.log')
    flood_log(path, errors_at=(10, 20, 30))  # all three in the part that is skipped
    args = dict(base_args, logs=[{'name': 'flood', 'path': path}], log_max_bytes=4096)
    result = run(capsys, args)
    item = items_by_id(result)['log:flood']
    assert (item['value'], item['status'], item['reason']) == (0, 'warning', 'partial_scan')
    assert (item['read_bytes'], item['skipped_bytes']) == (4094, 110906)
    assert item['partial'] == [{'kind': 'read_limit', 'path': path, 'read_bytes': 4094,
                                'skipped_bytes': 110906, 'max_bytes': 4096}]
    assert item['message'].startswith('0 error lines in the part of %s read since the previous inspection; '
                                      'partial scan: only the last 4 KiB of %s were read; 108.3 KiB skipped '
                                      '(log_max_bytes 4 KiB)' % (path, path))
    assert result['record']['metrics']['logs']['flood']['partial'] == item['partial']
    assert result['log_positions']['files'][path]['offset'] == 5000 * 23
    # A count above the critical level stays critical.
    flood_log(path, errors_at=range(4900, 5000))
    critical = items_by_id(run(capsys, args))['log:flood']
    assert (critical['value'], critical['status'], critical['reason']) == (100, 'critical', 'partial_scan')


def test_a_complete_scan_carries_no_partial_figures(capsys, base_args):
    app = items_by_id(run(capsys, base_args))['log:app']
    assert not set(app) & {'partial', 'read_bytes', 'skipped_bytes', 'reason'}


def test_an_unreadable_log_is_an_error_even_when_optional(capsys, base_args, tmp_path):
    # A directory where the log should be: open() fails with EISDIR, as it would with
    # EACCES for a chmod 000 file - which root, who runs the tests, can still read.
    path = tmp_path / 'dir.log'
    path.mkdir()
    args = dict(base_args, logs=[{'name': 'dir', 'path': str(path), 'optional': True}])
    result = run(capsys, args)
    item = items_by_id(result)['log:dir']
    assert (item['value'], item['status'], item['reason']) == (None, 'error', 'unreadable')
    assert item['partial'] == [{'kind': 'unreadable', 'path': str(path), 'error': 'Is a directory'}]
    assert item['message'] == 'Log %s could not be read: %s could not be read (Is a directory)' % (path, path)
    assert result['log_positions']['files'] == {}


def test_a_log_the_host_refuses_to_open_is_unreadable_and_keeps_its_position(capsys, base_args, monkeypatch):
    from ansible_collections.dialysis.ops.plugins.module_utils import dialysis_logscan as ls
    path = base_args['logs'][0]['path']
    first = run(capsys, base_args)
    real_open = open

    def refusing_open(name, *args, **kwargs):  # chmod 000 as a non-root user would see it
        if str(name) == path:
            raise PermissionError(13, 'Permission denied', path)
        return real_open(name, *args, **kwargs)
    monkeypatch.setattr(ls, 'open', refusing_open, raising=False)
    result = run(capsys, dict(base_args, positions=first['log_positions']))
    item = items_by_id(result)['log:app']
    assert (item['status'], item['reason']) == ('error', 'unreadable')
    assert item['partial'] == [{'kind': 'unreadable', 'path': path, 'error': 'Permission denied'}]
    assert result['log_positions']['files'] == first['log_positions']['files']


@pytest.mark.parametrize('suffix, opener', [('.1.gz', gzip.open), ('.1.xz', lzma.open)])
def test_the_tail_compressed_by_rotation_is_counted_once(capsys, base_args, suffix, opener):
    path = base_args['logs'][0]['path']
    first = run(capsys, base_args)
    with open(path, 'a') as handle:
        handle.write('ERROR after the inspection, before rotation\n')
    with open(path, 'rb') as source, opener(path + suffix, 'wb') as target:
        target.write(source.read())
    os.unlink(path)
    with open(path, 'w') as handle:
        handle.write('ERROR in the new file\n')
    second = run(capsys, dict(base_args, positions=first['log_positions']))
    item = items_by_id(second)['log:app']
    assert (item['value'], item['status']) == (2, 'warning') and 'partial' not in item
    assert item['samples'] == ['ERROR after the inspection, before rotation', 'ERROR in the new file']
    third = run(capsys, dict(base_args, positions=second['log_positions']))
    assert items_by_id(third)['log:app']['value'] == 0


def test_a_rotation_to_zstd_is_partial(capsys, base_args):
    path = base_args['logs'][0]['path']
    first = run(capsys, base_args)
    with open(path + '.1.zst', 'wb') as handle:
        handle.write(b'\x28\xb5\x2f\xfd')
    os.unlink(path)
    with open(path, 'w') as handle:
        handle.write('INFO new file\n')
    item = items_by_id(run(capsys, dict(base_args, positions=first['log_positions'])))['log:app']
    assert (item['value'], item['status'], item['reason']) == (0, 'warning', 'partial_scan')
    assert [p['kind'] for p in item['partial']] == ['rotated_compressed']
    assert 'compressed in a format this host cannot read' in item['message']


def test_a_lost_journal_cursor_is_read_from_its_time_and_marked_partial(capsys, base_args, tmp_path,
                                                                        monkeypatch):
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    fake = bindir / 'journalctl'
    fake.write_text('''#!/bin/sh
case "$*" in
  *--after-cursor=*) echo "Failed to seek to cursor: Invalid argument" >&2; exit 1;;
  *--lines=1*) echo '{"__CURSOR": "c-newest", "MESSAGE": "x"}';;
  *--since=@1795000001*) echo '{"__CURSOR": "c-new", "MESSAGE": "I/O error on sdb"}';;
esac
''')
    fake.chmod(0o755)
    monkeypatch.setenv('PATH', str(bindir) + os.pathsep + os.environ['PATH'])
    cursor = 's=1;i=2;b=3;m=4;t=%x;x=5' % 1795000000123456
    result = run(capsys, dict(base_args, journal=True, positions={'journal_cursor': cursor}))
    journal = items_by_id(result)['log:journal']
    assert (journal['value'], journal['status'], journal['reason']) == (1, 'warning', 'partial_scan')
    assert journal['partial'] == [{'kind': 'journal_cursor_lost', 'since': 1795000001, 'initial_since': None}]
    assert 'the saved journal cursor no longer exists' in journal['message']
    assert result['log_positions']['journal_cursor'] == 'c-new'
