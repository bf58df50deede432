"""Clinical items: validation, machine silence by treatment hours, queues,
endpoints, the read-only query through the database client, the documents'
sentences and the shift calendar. Real databases are proven in molecule/lab;
here the database client is a small executable script named fake_psql /
fake_mariadb, so what the module passes to it can be asserted."""

import datetime
import json
import os
import socket
import stat
import subprocess
import threading

import host_inspection
import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dialysis.ops.plugins.filter.dialysis import in_treatment_hours, inspection_errors
from ansible_collections.dialysis.ops.plugins.module_utils import dialysis_clinical as dc
from ansible_collections.dialysis.ops.plugins.plugin_utils import dialysis_shifts
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_i18n import Translator

SECRET = 'ro-Pa55-w0rd-7f3e'
UTC = datetime.timezone.utc


def clinical(**extra):
    value = {
        'databases': [{'name': 'hd', 'engine': 'postgresql', 'database': 'hemodialysis',
                       'user': 'dialysis_ro', 'password': SECRET}],
        'machine_data': [{'name': 'hemodialysis', 'database': 'hd', 'query': 'SELECT 1',
                          'silent_minutes': {'warning': 2, 'critical': 5}}],
        'queues': [{'name': 'his-outbound', 'database': 'hd', 'query': 'SELECT 2',
                    'thresholds': {'warning': 10, 'critical': 50}}],
    }
    value.update(extra)
    return value


def by_id(items):
    return dict((i['item'], i) for i in items)


# --- validation ------------------------------------------------------------

def test_valid_settings_are_normalised_with_defaults():
    out, errors = dc.validate_clinical(clinical(endpoints=[{'name': 'his', 'host': '10.0.0.5', 'port': 2575,
                                                            'protocol': 'mllp'}]))
    assert errors == []
    assert out['in_shift'] is True            # fail safe when nobody says
    assert out['databases']['hd']['port'] == 5432 and out['databases']['hd']['statement_timeout'] == 10
    assert out['endpoints'][0]['severity'] == 'critical' and out['endpoints'][0]['timeout'] == 3.0


@pytest.mark.parametrize('change, expected', [
    ({'databases': [{'name': 'hd', 'engine': 'oracle', 'database': 'x', 'user': 'u'}]},
     "inspection_clinical.databases[0].engine: expected one of postgresql, mariadb, mysql, got 'oracle'"),
    ({'machine_data': [{'name': 'hd', 'database': 'nope', 'query': 'SELECT 1'}]},
     "inspection_clinical.machine_data[0].database: expected the name of an entry of "
     "inspection_clinical.databases (hd), got 'nope'"),
    ({'queues': [{'name': 'q', 'database': 'hd', 'query': 'SELECT 1', 'thresholds': {'warning': 'many'}}]},
     "inspection_clinical.queues[0].thresholds.warning: expected a number >= 0 (e.g. 1), got 'many'"),
    ({'endpoints': [{'name': 'his', 'host': 'h', 'port': 70000}]},
     'inspection_clinical.endpoints[0].port: expected a whole number from 1 to 65535, got 70000'),
    ({'endpoints': [{'name': 'his', 'host': 'h', 'port': 1, 'protocol': 'smtp'}]},
     "inspection_clinical.endpoints[0].protocol: expected one of mllp, tcp, http, https, webservice, "
     "got 'smtp'"),
    ({'collectors': ['']},
     "inspection_clinical.collectors[0]: expected a systemd unit name such as dialysis-collector.service, "
     "got ''"),
    ({'machine_data': [{'name': 'hd', 'database': 'hd', 'query': 'SELECT 1',
                        'silent_minutes': {'warning': 10, 'critical': 5}}]},
     'inspection_clinical.machine_data[0].silent_minutes: warning (10) must not be above critical (5)'),
])
def test_invalid_settings_name_the_key_and_the_expected_form(change, expected):
    errors = dc.validate_clinical(clinical(**change))[1]
    assert expected in errors


def test_a_password_is_never_quoted_in_an_error():
    value = clinical()
    value['databases'][0]['engine'] = 'db2'
    value['databases'][0]['port'] = 'x'
    errors = dc.validate_clinical(value)[1]
    assert errors and SECRET not in ' '.join(errors)


def test_the_controller_filter_names_the_host_and_its_own_calendar():
    hosts = [{'inventory_hostname': 'hd-db-01', 'dialysis_system': 'hemodialysis',
              'inspection_clinical': {'endpoints': [{'name': 'his', 'host': 'h'}]},
              'dialysis_treatment_hours': {'hours': ['6:30-23:70']}}]
    errors = inspection_errors(hosts, {}, {}, [], [])
    assert any(e.startswith('hd-db-01: inspection_clinical.endpoints[0].port') for e in errors), errors
    assert any(e.startswith('hd-db-01: dialysis_treatment_hours.hours[0]: expected HH:MM-HH:MM')
               for e in errors)


# --- machine data ----------------------------------------------------------

ROWS = [['HD-01', '12'], ['HD-07', '421'], ['HD-12', None], ['HD-03', '150']]


def test_in_treatment_hours_each_silent_machine_is_its_own_finding():
    spec = dc.validate_clinical(clinical())[0]['machine_data'][0]
    items = by_id(dc.machine_items(spec, ROWS, in_shift=True))
    assert items['machine:HD-07']['status'] == 'critical' and items['machine:HD-07']['value'] == 7.0
    assert items['machine:HD-07']['unit'] == 'min'
    assert items['machine:HD-03']['status'] == 'warning'          # 2.5 min: warning at 2
    assert items['machine:HD-12']['status'] == 'critical'
    assert items['machine:HD-12']['reason'] == 'no_readings'
    assert 'machine:HD-01' not in items                           # reporting machines add no line
    summary = items['machine_data:hemodialysis']
    assert summary['status'] == 'ok' and summary['value'] == 1 and summary['total'] == 4
    assert summary['silent'] == ['HD-03', 'HD-07', 'HD-12']


def test_outside_treatment_hours_a_silent_machine_is_not_judged():
    spec = dc.validate_clinical(clinical())[0]['machine_data'][0]
    items = dc.machine_items(spec, ROWS, in_shift=False)
    assert [i['item'] for i in items] == ['machine_data:hemodialysis']
    assert items[0]['status'] == 'ok' and items[0]['reason'] == 'outside_shift'


def test_a_query_that_returns_no_machine_or_garbage_is_not_normal():
    spec = dc.validate_clinical(clinical())[0]['machine_data'][0]
    assert dc.machine_items(spec, [], True)[0]['status'] == 'warning'
    bad = dc.machine_items(spec, [['<script>', 'x']], True)[0]
    assert bad['status'] == 'error' and bad['reason'] == 'bad_result'


def test_queue_depth_against_its_thresholds():
    spec = dc.validate_clinical(clinical())[0]['queues'][0]
    assert dc.queue_item(spec, [['3']])['status'] == 'ok'
    deep = dc.queue_item(spec, [['60']])
    assert deep['status'] == 'critical' and deep['value'] == 60
    assert deep['threshold'] == {'warning': 10, 'critical': 50}
    assert dc.queue_item(spec, [])['reason'] == 'bad_result'


# --- endpoints -------------------------------------------------------------

def test_endpoints_are_probed_by_connecting_only():
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(1)
    open_port = server.getsockname()[1]
    probe = socket.socket()
    probe.bind(('127.0.0.1', 0))
    closed_port = probe.getsockname()[1]
    probe.close()
    try:
        endpoints = dc.validate_clinical({'endpoints': [
            {'name': 'his-adt', 'host': '127.0.0.1', 'port': open_port, 'protocol': 'mllp', 'peer': 'HIS'},
            {'name': 'lis', 'host': '127.0.0.1', 'port': closed_port, 'protocol': 'mllp', 'peer': 'LIS'},
            {'name': 'gw', 'host': '127.0.0.1', 'port': closed_port, 'severity': 'warning'},
        ]})[0]['endpoints']
        items = by_id(dc.endpoint_items(endpoints))
        conn, _addr = server.accept()
        conn.settimeout(2)
        assert conn.recv(100) == b''                    # nothing was sent, the probe closed
        conn.close()
    finally:
        server.close()
    assert items['endpoint:his-adt']['status'] == 'ok' and items['endpoint:his-adt']['value'] == 'reachable'
    assert items['endpoint:lis']['status'] == 'critical'
    assert items['endpoint:lis']['reason'] == 'endpoint_refused'
    assert items['endpoint:lis']['target'] == '127.0.0.1:%d' % closed_port
    assert items['endpoint:gw']['status'] == 'warning'


def test_a_peer_that_closes_at_once_did_not_take_the_connection():
    """A proxy or port forwarder with nothing behind accepts, then closes: not reachable."""
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(4)

    def forwarder():
        served = 0
        while served < 2:
            server.accept()[0].close()
            served += 1

    thread = threading.Thread(target=forwarder, daemon=True)
    thread.start()
    port = server.getsockname()[1]
    try:
        endpoints = dc.validate_clinical({'endpoints': [
            {'name': 'his-adt', 'host': '127.0.0.1', 'port': port, 'protocol': 'mllp'},
            {'name': 'connect-only', 'host': '127.0.0.1', 'port': port, 'confirm_seconds': 0},
        ]})[0]['endpoints']
        items = by_id(dc.start_endpoints(endpoints)()[0])
    finally:
        thread.join(5)
        server.close()
    assert items['endpoint:his-adt']['status'] == 'critical'
    assert items['endpoint:his-adt']['reason'] == 'endpoint_closed'
    assert items['endpoint:connect-only']['status'] == 'ok'      # connect only: fooled, as configured
    assert Translator('zh').describe(items['endpoint:his-adt']).startswith('接口 his-adt（127.0.0.1:')


# --- the query through the client ------------------------------------------

def fake_client(tmp_path, name, output, rc=0):
    """An executable standing in for psql/mariadb: records argv and the
    environment it was given, prints ``output``."""
    path = tmp_path / name
    path.write_text('#!/bin/sh\nprintf "%%s\\n" "$@" > "$0.argv"\nenv > "$0.env"\n'
                    'printf "%s"\nexit %d\n' % (output.replace('"', '\\"'), rc))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def test_postgresql_query_is_read_only_and_the_password_stays_off_the_command_line(tmp_path):
    client = fake_client(tmp_path, 'fake_psql', 'HD-01\x1f12\nHD-02\x1f\n')
    db = dc.validate_clinical(clinical())[0]['databases']['hd']
    calls = []

    def run_command(argv, environ_update=None):
        calls.append((argv, environ_update))
        env = dict(os.environ, **environ_update)
        proc = subprocess.run([str(client)] + argv[1:], env=env, capture_output=True, text=True, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    rows = dc.run_query(db, 'SELECT 1', run_command, lambda name: str(client))
    assert rows == [['HD-01', '12'], ['HD-02', None]]
    argv, env = calls[0]
    assert SECRET not in ' '.join(argv)
    assert env['PGPASSWORD'] == SECRET
    assert 'default_transaction_read_only=on' in env['PGOPTIONS']
    assert 'statement_timeout=10s' in env['PGOPTIONS']
    assert '-w' in argv                                   # never waits for a password prompt


def test_mariadb_query_sets_a_read_only_session(tmp_path):
    databases = [{'name': 'ie', 'engine': 'mariadb', 'database': 'interface_engine',
                  'user': 'dialysis_ro', 'password': SECRET}]
    db = dc.validate_clinical({'databases': databases})[0]['databases']['ie']
    argv, env = dc.client_command(db, 'SELECT count(*) FROM outbound_message',
                                  lambda name: '/usr/bin/' + name)
    assert argv[1] == '--no-defaults' and env == {'MYSQL_PWD': SECRET}
    assert argv[-1].startswith('SET SESSION TRANSACTION READ ONLY; SET SESSION max_statement_time=10; ')


def test_a_failed_query_is_an_error_item_without_the_password():
    db = dc.validate_clinical(clinical())[0]['databases']['hd']

    def run_command(argv, environ_update=None):
        return 2, '', 'psql: error: FATAL: password authentication failed (tried %s)\n' % SECRET

    with pytest.raises(dc.QueryError) as caught:
        dc.run_query(db, 'SELECT 1', run_command, lambda name: '/usr/bin/psql')
    assert caught.value.reason == 'query_failed' and SECRET not in str(caught.value)
    db['password'] = ''
    with pytest.raises(dc.QueryError) as caught:
        dc.run_query(db, 'SELECT 1', run_command, lambda name: '/usr/bin/psql')
    assert caught.value.reason == 'credential_missing'


def test_the_module_returns_clinical_items_and_never_the_password(capsys, tmp_path, monkeypatch):
    fake_client(tmp_path, 'psql', 'HD-01\x1f10\nHD-07\x1f900\n')
    monkeypatch.setenv('PATH', '%s:%s' % (tmp_path, os.environ['PATH']))
    args = {'cpu_sample_seconds': 0.1, 'journal': False, 'system': 'hemodialysis',
            'clinical': dict(clinical(queues=[]), in_shift=True,
                             collectors=['dialysis-collector-does-not-exist.service'])}
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            host_inspection.main()
    out = capsys.readouterr().out
    result = json.loads(out)
    items = by_id(result['record']['items'])
    assert items['machine:HD-07']['status'] == 'critical' and items['machine:HD-07']['value'] == 15.0
    assert 'machine:HD-01' not in items
    assert 'collector:dialysis-collector-does-not-exist.service' in items
    assert SECRET not in out
    assert SECRET not in (tmp_path / 'psql.argv').read_text()
    assert result['record']['metrics']['clinical']['in_shift'] is True


# --- what the hospital reads -----------------------------------------------

def test_documents_say_which_machine_and_which_queue_in_chinese():
    t = Translator('zh')
    machine = {'item': 'machine:HD-07', 'value': 12.5, 'status': 'critical', 'unit': 'min',
               'threshold': {'warning': 5, 'critical': 10}}
    assert t.describe(machine) == '治疗时段内透析机 HD-07 已 12.5 分钟无数据上传，超过严重阈值 10 分钟'
    assert t.item_label('machine:HD-07') == '透析机 HD-07 数据上传'
    queue = {'item': 'queue:his-outbound', 'value': 60, 'status': 'critical', 'unit': 'messages',
             'threshold': {'warning': 10, 'critical': 50}}
    assert t.describe(queue) == '接口队列 his-outbound 有 60 条发送失败的消息积压，超过严重阈值 50 条'
    endpoint = {'item': 'endpoint:his-adt', 'value': 'unreachable', 'status': 'critical',
                'reason': 'endpoint_refused', 'target': '10.0.2.2:2575'}
    assert t.describe(endpoint) == '接口 his-adt（10.0.2.2:2575）拒绝连接：端口无服务监听'
    assert Translator('en').describe(endpoint).startswith('Endpoint his-adt (10.0.2.2:2575) refused')
    failed = {'item': 'queue:his-outbound', 'value': None, 'status': 'error', 'reason': 'credential_missing'}
    assert t.describe(failed) == '检查项 接口失败消息队列 his-outbound 未配置只读账号的密码，未能查询'


# --- treatment hours -------------------------------------------------------

def at(text):
    """A Shanghai wall-clock time as an aware datetime."""
    zone = dialysis_shifts.zoneinfo.ZoneInfo('Asia/Shanghai')
    return datetime.datetime.fromisoformat(text).replace(tzinfo=zone)


@pytest.mark.parametrize('when, system, expected', [
    ('2026-11-26T10:00', 'hemodialysis', True),      # Thursday morning shift
    ('2026-11-26T05:59', 'hemodialysis', False),     # before the first shift
    ('2026-11-29T10:00', 'hemodialysis', False),     # Sunday
    ('2026-11-28T10:00', 'ckd', False),              # CKD clinic: Saturday closed
    ('2026-11-27T17:00', 'pd', True),
])
def test_default_calendars_by_system(when, system, expected):
    calendar = dialysis_shifts.validate_calendar({}, system)[0]
    assert dialysis_shifts.in_treatment_hours(calendar, at(when)) is expected


def test_a_night_window_belongs_to_the_day_it_starts_and_holidays_have_none():
    calendar, errors = dialysis_shifts.validate_calendar(
        {'days': ['sat'], 'hours': ['22:00-02:00'], 'holidays': ['2026-12-05']}, 'hemodialysis')
    assert errors == []
    # Sunday 01:30 is in Saturday's window.
    assert dialysis_shifts.in_treatment_hours(calendar, at('2026-11-29T01:30'))
    assert not dialysis_shifts.in_treatment_hours(calendar, at('2026-11-29T02:30'))
    assert not dialysis_shifts.in_treatment_hours(calendar, at('2026-12-05T23:00'))   # a holiday Saturday


def test_the_filter_refuses_a_broken_calendar_with_the_key():
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match=r'dialysis_treatment_hours.days: expected a list of days'):
        in_treatment_hours({'days': ['someday']}, 'hemodialysis')
    assert in_treatment_hours({'days': list(dialysis_shifts.DAYS), 'hours': ['00:00-24:00']}) is True
