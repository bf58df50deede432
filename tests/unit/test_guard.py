"""The treatment-hours guard's rules (plugin_utils/dialysis_guard.py) and its live
check (modules/treatment_check.py), without Ansible: validation messages, the
verdict for every combination of calendar, count and override, and the count read
from the service's answer or a query."""

import datetime
import json

import pytest
import treatment_check
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import validate_record
from ansible_collections.dialysis.ops.plugins.plugin_utils import dialysis_guard as guard

ALL_DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']
URL = {'url': 'http://127.0.0.1:8080/treatments/running', 'check_host': 'hd-app-01'}
# Wednesday 2026-12-02 10:00 and 02:00 in Shanghai.
DAY = datetime.datetime(2026, 12, 2, 2, 0, tzinfo=datetime.timezone.utc)
NIGHT = datetime.datetime(2026, 12, 1, 18, 0, tzinfo=datetime.timezone.utc)


def hosts(check=None, hours=None, system='hemodialysis', names=('hd-app-01', 'hd-app-02')):
    check = URL if check is None else check
    return dict((name, {'system': system, 'hours': hours, 'check': check}) for name in names)


def verdict(running=0, now=DAY, check=None, hours=None, override=None, ticket='CHG-1', answer=None):
    guard_plan, errors = guard.plan(hosts(check, hours), {'hd-app-01', 'hd-app-02'}, ticket, override)
    assert errors == []
    answer = answer if answer is not None else {'running': running, 'changed': False}
    return guard.decide(guard_plan, {'hemodialysis': answer}, 'restart', now=now)


def test_the_default_hemodialysis_calendar_decides_day_and_night():
    assert verdict(now=DAY)['reasons'] == ['in_shift']                 # 10:00 on a Wednesday
    night = verdict(now=NIGHT)                                          # 02:00
    assert night['decision'] == 'allowed' and night['reasons'] == []


def test_running_treatments_refuse_at_night_too():
    result = verdict(running=2, now=NIGHT)
    assert result['decision'] == 'refused' and result['reasons'] == ['treatments_running']
    assert '2 treatment(s) running now (http://127.0.0.1:8080/treatments/running on hd-app-01)' \
        in guard.message(result)


@pytest.mark.parametrize('answer, error', [
    ({'unreachable': True, 'msg': 'ssh: connect refused'}, 'check host unreachable: ssh: connect refused'),
    ({'failed': True, 'msg': 'module crashed'}, 'module crashed'),
    ({'running': None, 'error': 'no answer from the service'}, 'no answer from the service'),
    ({'skipped': True}, 'the check was skipped'),
    ({'running': -1}, 'no count in the answer'),
    ({'running': True}, 'no count in the answer'),
])
def test_a_check_without_a_count_is_never_zero(answer, error):
    result = verdict(now=NIGHT, answer=answer)
    assert result['decision'] == 'refused' and result['reasons'] == ['check_unavailable']
    assert result['systems']['hemodialysis']['running'] is None
    assert result['systems']['hemodialysis']['check_error'] == error


def test_a_system_without_a_check_cannot_be_cleared_and_none_needs_a_reason():
    guard_plan, errors = guard.plan(hosts(check={}), set(), 'CHG-1')
    assert errors == [] and guard_plan['checks'] == []
    result = guard.decide(guard_plan, {}, 'patch', now=NIGHT)
    assert result['reasons'] == ['check_missing']
    assert 'dialysis_treatment_check in group_vars/hemodialysis.yml' in guard.message(result)
    home = {'none': 'PD patients treat at home'}
    pd_plan, errors = guard.plan(hosts(check=home, system='pd'), set(), 'CHG-1')
    assert errors == []
    assert guard.decide(pd_plan, {}, 'patch', now=NIGHT)['decision'] == 'allowed'
    dummy, errors = guard.plan(hosts(check={'none': 'no'}, system='pd'), set(), 'CHG-1')
    assert "dialysis_treatment_check.none: expected a sentence saying why" in errors[0]


def test_no_ticket_refuses_and_an_override_does_not_replace_it():
    override = {'reason': 'disk nearly full on the database', 'operator': '王工'}
    result = verdict(now=NIGHT, ticket='', override=override)
    assert result['decision'] == 'refused' and result['reasons'] == ['no_ticket']
    assert 'No change ticket' in guard.message(result)


def test_an_override_is_a_valid_guard_override_record():
    override = {'reason': '数据库磁盘将满，必须立即处理', 'operator': '王工'}
    result = verdict(running=4, now=DAY, override=override)
    assert result['decision'] == 'overridden'
    record = guard.override_record(result)
    assert validate_record(record) == []
    assert record['kind'] == 'guard_override' and record['system'] == 'hemodialysis'
    assert record['status'] == 'warning' and record['anomalies'] == 1
    assert record['items'][0]['value'] == 4 and record['items'][0]['reason'] == 'in_shift'
    assert 'OVERRIDDEN for restart by 王工' in guard.message(result)


@pytest.mark.parametrize('check, expected', [
    ({'url': 'ftp://x'}, "dialysis_treatment_check.url: expected an http(s) URL"),
    ({'url': 'http://a/b', 'query': 'SELECT 1'}, 'expected exactly one of url'),
    ({'check_host': 'x'}, 'expected exactly one of url'),
    ({'url': 'http://a/b', 'timeout': 0}, 'dialysis_treatment_check.timeout: expected seconds'),
    ({'url': 'http://a/b', 'colour': 1}, "dialysis_treatment_check: unknown key 'colour'"),
    ({'query': 'SELECT 1'}, 'dialysis_treatment_check.database: expected a mapping'),
    ({'query': 'SELECT 1', 'database': {'engine': 'oracle', 'user': 'u', 'database': 'd'}},
     "dialysis_treatment_check.database.engine: expected one of postgresql"),
    ('yes', 'dialysis_treatment_check: expected a mapping'),
])
def test_check_settings_errors_name_the_key_and_the_form(check, expected):
    dummy, errors = guard.plan(hosts(check=check, names=['hd-app-01']), {'hd-app-01'}, 'CHG-1')
    assert any(e.startswith('hd-app-01: ') and expected in e for e in errors), errors


def test_a_password_is_never_quoted_in_an_error():
    database = {'engine': 'postgresql', 'user': 'ro', 'database': 'hd', 'password': 12345678, 'port': 'x'}
    check = {'query': 'SELECT 1', 'database': database}
    dummy, errors = guard.plan(hosts(check=check, names=['hd-app-01']), {'hd-app-01'}, 'CHG-1')
    assert errors and not any('12345678' in e for e in errors)


def test_plan_errors_for_ticket_check_host_and_two_checks_in_one_system():
    both = hosts()
    both['hd-app-02']['check'] = dict(URL, url='http://127.0.0.1:9/other')
    dummy, errors = guard.plan(both, {'hd-app-01', 'hd-app-02'}, 'CHG 1; rm')
    assert any("differs from hd-app-01's, though both are hemodialysis hosts" in e for e in errors)
    assert any(e.startswith('dialysis_change_ticket: expected a change ticket id') for e in errors)
    dummy, errors = guard.plan(hosts(check=dict(URL, check_host='nowhere')), {'hd-app-01'}, 'CHG-1')
    assert any("'nowhere' is not a host of this inventory" in e for e in errors)


def test_the_sql_check_is_planned_without_its_database_credentials():
    check = {'query': 'SELECT count(*) FROM treatment_session', 'check_host': 'hd-db-01',
             'database': {'engine': 'postgresql', 'user': 'ro', 'database': 'hd', 'password': 's3cret-pw'}}
    guard_plan, errors = guard.plan(hosts(check=check), {'hd-db-01'}, 'CHG-1')
    assert errors == []
    assert 's3cret-pw' not in json.dumps(guard_plan)
    assert guard_plan['checks'][0]['source_host'] == 'hd-app-01'


def test_a_night_window_running_past_midnight_counts_on_the_next_morning():
    hours = {'days': ['sat'], 'hours': ['22:00-02:00']}
    sunday_1am = datetime.datetime(2026, 12, 5, 17, 0, tzinfo=datetime.timezone.utc)   # Sun 01:00 CST
    assert verdict(now=sunday_1am, hours=hours)['reasons'] == ['in_shift']
    assert verdict(now=sunday_1am + datetime.timedelta(hours=2), hours=hours)['reasons'] == []


# -- the live check module ------------------------------------------------------------

class Answer(object):
    def __init__(self, body):
        self.body = body

    def read(self, size):
        return self.body


def opener(body=None, error=None):
    def open_url(url, **kwargs):
        if error:
            raise error
        return Answer(body if isinstance(body, bytes) else json.dumps(body).encode())
    return open_url


@pytest.mark.parametrize('body, error, expected', [
    ({'running': 7, 'as_of': 'now'}, None, (7, None)),
    ({'running': '3'}, None, (3, None)),
    ({'count': 3}, None, (None, "the answer of http://s/t has no key 'running'")),
    ({'running': 'many'}, None, (None, "the answer of http://s/t holds 'many' under 'running', not a count")),
    (b'<html>', None, (None, 'the answer of http://s/t is not JSON')),
    (None, OSError('connection refused'), (None, 'no answer from http://s/t: connection refused')),
])
def test_count_from_the_service_endpoint(body, error, expected):
    assert treatment_check.count_from_url('http://s/t', 'running', 5, opener(body, error)) == expected


def test_count_from_a_read_only_query_with_the_password_in_the_environment():
    calls = []

    def run_command(argv, environ_update=None):
        calls.append((argv, environ_update))
        return 0, '4\n', ''

    db = {'engine': 'postgresql', 'host': '127.0.0.1', 'database': 'hd', 'user': 'ro',
          'password': 'pw-123456'}
    assert treatment_check.count_from_query(db, 'SELECT count(*) FROM t', run_command,
                                            lambda name: '/usr/bin/' + name) == (4, None)
    argv, env = calls[0]
    assert 'pw-123456' not in ' '.join(argv) and env['PGPASSWORD'] == 'pw-123456'
    assert 'default_transaction_read_only=on' in env['PGOPTIONS']

    def failing(argv, environ_update=None):
        return 2, '', 'FATAL: password authentication failed for user "ro" (pw-123456)'

    running, error = treatment_check.count_from_query(db, 'SELECT 1', failing,
                                                      lambda name: '/usr/bin/' + name)
    assert running is None and 'pw-123456' not in error and 'password authentication failed' in error


def test_the_module_reports_no_count_as_null_and_never_changes(capsys):
    with patch_module_args({'url': 'http://127.0.0.1:9/treatments/running', 'timeout': 1,
                            '_ansible_check_mode': True}):
        with pytest.raises(SystemExit):
            treatment_check.main()
    result = json.loads(capsys.readouterr().out)
    assert result['running'] is None and result['changed'] is False
    assert result['error'].startswith('no answer from http://127.0.0.1:9/treatments/running')
