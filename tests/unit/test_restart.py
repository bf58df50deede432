"""The restart role's controller side: its settings checked (dialysis_restart filters), the
checks and peers it works out, and the restart record built from registered results
(plugin_utils/dialysis_restart and the restart_record action's helpers)."""

import os
import sys

import pytest
import yaml

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import validate_record
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_i18n import Translator
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_restart import (
    build_restart_record,
    unit_downtime,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'plugins', 'action'))

import dialysis_restart as filters  # noqa: E402  (plugins/filter, on the path through conftest)
import restart_record  # noqa: E402

UNIT = 'dialysis-service.service'


def role_defaults():
    with open(os.path.join(ROOT, 'roles', 'restart', 'defaults', 'main.yml'), encoding='utf-8') as handle:
        values = yaml.safe_load(handle)
    values['restart_health_checks'] = []      # a template in the defaults
    values['restart_reason'] = 'memory grows until the service slows (2026-Q4 analysis)'
    values['restart_services'] = [UNIT]
    return values


# -- settings ---------------------------------------------------------------------
def test_the_role_defaults_with_a_reason_and_a_service_are_valid():
    assert filters.restart_errors(role_defaults()) == []


@pytest.mark.parametrize('change, expected', [
    ({'restart_reason': ''}, "restart_reason: expected the reason for this restart as text"),
    ({'restart_reason': '   '}, "restart_reason: expected the reason for this restart as text"),
    ({'restart_reason': 'x' * 501}, 'restart_reason: expected at most 500 characters, got 501'),
    ({'restart_services': []}, 'restart_services / restart_reboot: expected a list of units to restart '
                               '(restart_services: [dialysis-service.service]) or restart_reboot: true, '
                               'got neither'),
    ({'restart_reboot': True}, 'restart_services / restart_reboot: expected one of them'),
    ({'restart_services': 'dialysis-service'}, "restart_services: expected a list of systemd units such as "
                                               "[dialysis-service.service], got 'dialysis-service'"),
    ({'restart_services': ['bad unit']}, "restart_services[0]: expected a systemd unit name such as "
                                         "dialysis-service.service, got 'bad unit'"),
    ({'restart_reboot': 'yes'}, "restart_reboot: expected true or false, got 'yes'"),
    ({'restart_health_checks': [{'name': 'x'}]},
     'restart_health_checks[0]: expected exactly one of unit, url, port or process, got none'),
    ({'restart_health_checks': [{'port': 1}]}, 'restart_health_checks[0].name: expected a short name'),
    ({'restart_health_checks': [{'name': 'a', 'port': 1}, {'name': 'a', 'port': 2}]},
     "restart_health_checks[1].name: 'a' is used twice"),
    ({'restart_health_checks': ['x']}, 'restart_health_checks[0]: expected a mapping'),
    ({'restart_health_wait': -1}, 'restart_health_wait: expected a whole number of seconds >= 0, got -1'),
    ({'restart_health_wait': 'soon'},
     "restart_health_wait: expected a whole number of seconds >= 0, got 'soon'"),
    ({'restart_reboot_timeout': 0}, 'restart_reboot_timeout: expected a whole number of seconds >= 1, got 0'),
    ({'restart_health_interval': 0}, 'restart_health_interval: expected seconds between 0 and 600, got 0'),
    ({'restart_tiers': 'app'}, "restart_tiers: expected a list of tier group names"),
])
def test_a_broken_setting_is_named_with_the_expected_form(change, expected):
    settings = dict(role_defaults(), **change)
    errors = filters.restart_errors(settings)
    assert any(e.startswith(expected) for e in errors), errors


def test_numbers_given_on_the_command_line_are_numbers():
    assert filters.restart_errors(dict(role_defaults(), restart_health_wait='10',
                                       restart_health_interval='0.5')) == []


def test_checks_add_a_unit_check_for_each_restarted_unit_not_checked():
    checks = [{'name': 'service', 'unit': UNIT}, {'name': 'port', 'port': 8080}]
    assert filters.restart_checks(checks, [UNIT]) == checks
    assert filters.restart_checks(checks, [UNIT, 'other.service']) == checks + [
        {'name': 'other.service', 'unit': 'other.service'}]
    assert filters.restart_checks([], ['x.service']) == [{'name': 'x.service', 'unit': 'x.service'}]
    assert filters.restart_checks([{'name': 'x.service', 'port': 1}], ['x.service'])[-1] == {
        'name': 'unit:x.service', 'unit': 'x.service'}


def test_peers_are_the_plays_other_hosts_of_the_same_system_and_tier():
    hostvars = {
        'hd-app-01': {'dialysis_system': 'hemodialysis', 'group_names': ['app', 'hemodialysis']},
        'hd-app-02': {'dialysis_system': 'hemodialysis', 'group_names': ['app', 'hemodialysis']},
        'hd-db-01': {'dialysis_system': 'hemodialysis', 'group_names': ['db', 'hemodialysis']},
        'ckd-app-01': {'dialysis_system': 'ckd', 'group_names': ['app', 'ckd']},
        'lonely': {'group_names': []},
    }
    play = sorted(hostvars)
    tiers = ['app', 'db', 'interface']
    assert filters.restart_peers(play, hostvars, 'hd-app-01', tiers) == ['hd-app-02']
    assert filters.restart_peers(['hd-app-01'], hostvars, 'hd-app-01', tiers) == []   # not in the play
    assert filters.restart_peers(play, hostvars, 'hd-db-01', tiers) == []
    assert filters.restart_peers(play, hostvars, 'lonely', tiers) == []


# -- the record ---------------------------------------------------------------------
def health(ok=True, started_us=None, stopped_us=None, monotonic=None, waited=0.5, pid=100):
    units = {}
    if started_us is not None:
        units[UNIT] = {'active': ok, 'state': 'active' if ok else 'failed',
                       'started': '2026-12-02T08:00:00.000000Z', 'started_epoch': 1796200000.0,
                       'started_monotonic': started_us, 'stopped_monotonic': stopped_us, 'pid': pid}
    return {'healthy': ok, 'waited': waited, 'checked_at': 1796200100.0, 'monotonic': monotonic,
            'units': units,
            'checks': [{'name': 'service', 'kind': 'unit', 'ok': ok,
                        'detail': '%s is %s' % (UNIT, 'active' if ok else 'failed')},
                       {'name': 'version', 'kind': 'http', 'ok': ok, 'detail': 'HTTP 200',
                        'values': {'version': '1.0'}}]}


BEFORE = health(started_us=1000000000, stopped_us=0, monotonic=1500000000)


def test_a_restart_that_came_back_is_ok_with_its_downtime_from_systemds_clock():
    after = health(started_us=2000400000, stopped_us=2000000000, monotonic=2001500000, pid=200)
    record, outcome = build_restart_record('hemodialysis', 'why', [UNIT], False, BEFORE,
                                           peers=[{'host': 'hd-app-02', 'healthy': True}],
                                           action={'failed': False}, after=after, ticket='CHG-1')
    assert validate_record(record) == [] and outcome == 'restarted'
    assert record['kind'] == 'restart' and record['status'] == 'ok' and record['anomalies'] == 0
    summary = dict((k, record[k]) for k in ('reason', 'outcome', 'ticket', 'action', 'targets',
                                            'downtime_seconds'))
    assert summary == {'reason': 'why', 'outcome': 'restarted', 'ticket': 'CHG-1', 'action': 'restart',
                       'targets': [UNIT], 'downtime_seconds': 1.5}
    items = dict((i['item'], i) for i in record['items'])
    assert items['restart:%s' % UNIT]['value'] == 1.5 and items['restart:%s' % UNIT]['unit'] == 's'
    assert items['restart:peers']['value'] == [] and sorted(items) == ['restart:dialysis-service.service',
                                                                       'restart:peers']
    assert record['metrics']['checks_after'] == {'service': True, 'version': True}
    assert record['metrics']['units'][UNIT]['before']['pid'] == 100
    assert record['metrics']['units'][UNIT]['after']['pid'] == 200
    assert record['metrics']['healthy_monotonic'] == 2001500000
    assert record['metrics']['values'] == {'version': {'version': '1.0'}}


def test_a_stop_older_than_the_instance_seen_before_is_not_this_restarts():
    after = health(started_us=2000400000, stopped_us=900000000, monotonic=2001500000)
    assert unit_downtime(BEFORE, after, UNIT) is None


def test_a_service_not_back_is_critical_without_a_downtime():
    after = health(ok=False, started_us=2000400000, stopped_us=2000000000, monotonic=2009000000,
                   waited=8.0)
    record, outcome = build_restart_record('hemodialysis', 'why', [UNIT], False, BEFORE,
                                           action={'failed': False}, after=after)
    assert outcome == 'not_back' and record['status'] == 'critical' and validate_record(record) == []
    items = dict((i['item'], i) for i in record['items'])
    assert items['restart:%s' % UNIT]['reason'] == 'not_back' and items['restart:%s' % UNIT]['value'] is None
    assert items['health_check:service']['reason'] == 'unhealthy'
    assert record['downtime_seconds'] is None and record['anomalies'] == 3


def test_a_healthy_host_whose_peer_is_down_is_not_restarted():
    record, outcome = build_restart_record('hemodialysis', 'why', [UNIT], False, BEFORE,
                                           peers=[{'host': 'hd-app-02', 'healthy': False}])
    assert outcome == 'peer_unhealthy' and record['status'] == 'critical'
    items = dict((i['item'], i) for i in record['items'])
    assert items['restart:peers']['value'] == ['hd-app-02']
    assert items['restart:peers']['reason'] == 'peer_unhealthy'
    assert items['restart:%s' % UNIT]['status'] == 'skipped'
    assert not any(i.startswith('health_check:') for i in items)


def test_an_unhealthy_host_is_restarted_even_when_its_peer_is_down():
    before = dict(BEFORE, healthy=False)
    after = health(started_us=2000400000, stopped_us=2000000000, monotonic=2001000000)
    _record, outcome = build_restart_record('hemodialysis', 'why', [UNIT], False, before,
                                            peers=[{'host': 'hd-app-02', 'healthy': False}],
                                            action={'failed': False}, after=after)
    assert outcome == 'restarted'


def test_a_failed_restart_and_a_reboot():
    record, outcome = build_restart_record('ckd', 'why', [UNIT], False, BEFORE,
                                           action={'failed': True, 'msg': 'Unit not found'})
    assert outcome == 'restart_failed' and 'Unit not found' in record['items'][0]['message']
    after = health(monotonic=99)
    record, outcome = build_restart_record('pd', 'kernel update', [], True, BEFORE,
                                           action={'failed': False, 'elapsed': 41}, after=after)
    assert outcome == 'restarted' and record['downtime_seconds'] == 41.5
    assert record['items'][0]['item'] == 'restart:reboot' and record['metrics']['reboot_elapsed'] == 41


def test_the_action_reads_registered_results():
    assert restart_record.action_outcome({'skipped': True, 'changed': False}) is None
    skipped_loop = {'results': [{'item': UNIT, 'skipped': True}], 'skipped': True}
    assert restart_record.action_outcome(skipped_loop) is None
    loop = {'results': [{'item': 'a.service', 'changed': True},
                        {'item': 'b.service', 'failed': True, 'msg': 'Unit b.service not found.'}]}
    assert restart_record.action_outcome(loop) == {
        'failed': True, 'msg': 'b.service: Unit b.service not found.', 'elapsed': None}
    assert restart_record.action_outcome({'changed': True, 'elapsed': 40, 'rebooted': True}) == {
        'failed': False, 'msg': None, 'elapsed': 40}
    peers = restart_record.peer_states([
        {'item': 'hd-app-02', 'healthy': True},
        {'item': 'hd-app-03', 'unreachable': True, 'msg': 'ssh: connect refused'},
        {'item': 'hd-app-04', 'skipped': True}])
    assert peers == [{'host': 'hd-app-02', 'healthy': True, 'msg': None},
                     {'host': 'hd-app-03', 'healthy': False, 'msg': 'ssh: connect refused'}]


def test_the_documents_have_a_sentence_for_every_restart_finding():
    after = health(ok=False, started_us=2000400000, stopped_us=2000000000, monotonic=2009000000)
    not_back = build_restart_record('hemodialysis', 'why', [UNIT], False, BEFORE,
                                    action={'failed': False}, after=after)[0]
    refused = build_restart_record('hemodialysis', 'why', [UNIT], False, BEFORE,
                                   peers=[{'host': 'hd-app-02', 'healthy': False}])[0]
    failed = build_restart_record('hemodialysis', 'why', [], True, BEFORE,
                                  action={'failed': True, 'msg': 'x'})[0]
    for language in ('zh', 'en'):
        t = Translator(language)
        for record in (not_back, refused, failed):
            for item in record['items']:
                label = t.item_label(item['item'])
                assert label != item['item'], item['item']
                if item['status'] != 'ok':
                    text = t.describe(item)
                    assert not text.startswith(('检查项', 'Item ')), (item['item'], text)
    zh = Translator('zh')
    peers = [i for i in refused['items'] if i['item'] == 'restart:peers'][0]
    assert 'hd-app-02' in zh.describe(peers)
    assert zh.item_label('restart:%s' % UNIT) == '重启 %s' % UNIT
    assert zh.item_label('restart:reboot') == '主机重启'
