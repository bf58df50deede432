"""pending_updates: the parsers on recorded output, and main() end to end with a fake host
(apt and dnf). The apt output is what apt 2.6 (Debian 12) prints; the dnf output is what
dnf 4 prints on EL 9 - the dnf path is proven here on recorded output only."""

import json

import pending_updates as pu
import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import validate_record

APT_SIM = """Reading package lists...
Building dependency tree...
Reading state information...
Calculating upgrade...
The following packages will be upgraded:
  dialysis-dummy libssl3 openssl tzdata
Remv old-helper [0.9]
Inst libssl3 [3.0.11-1~deb12u1] (3.0.11-1~deb12u2 Debian-Security:12/stable-security [amd64])
Inst openssl [3.0.11-1~deb12u1] (3.0.11-1~deb12u2 Debian:12.5/stable, Debian-Security:12/stable-security \
[amd64])
Inst tzdata [2024a-0+deb12u1] (2025b-0+deb12u1 Debian:12.11/stable-updates [all])
Inst dialysis-dummy [1.0] (2.0 dialysis-lab:dialysis-lab-security [all])
Inst libnew1 (1.2-1 Debian:12.5/stable [amd64])
Conf libssl3 (3.0.11-1~deb12u2 Debian-Security:12/stable-security [amd64])
Conf dialysis-dummy (2.0 dialysis-lab:dialysis-lab-security [all])
"""

DNF_CHECK = """Last metadata expiration check: 0:12:01 ago on Wed 02 Dec 2026 10:00:00 AM UTC.

openssl.x86_64                    1:3.0.7-27.el9             baseos
openssl-libs.x86_64               1:3.0.7-27.el9             baseos
a-very-long-package-name-that-wraps.noarch
                                  2.1-3.el9                  appstream
tzdata.noarch                     2025b-1.el9                baseos
Obsoleting Packages
grub2-tools.x86_64                1:2.06-80.el9              baseos
"""

DNF_SECURITY = """RHSA-2024:2447 Moderate/Sec.  openssl-1:3.0.7-27.el9.x86_64
RHSA-2024:2447 Moderate/Sec.  openssl-libs-1:3.0.7-27.el9.x86_64
"""

RPM_Q = """openssl 1:3.0.7-25.el9
openssl-libs 1:3.0.7-25.el9
a-very-long-package-name-that-wraps 0:2.0-1.el9
tzdata 0:2024a-1.el9
"""

NEEDRESTART = """NEEDRESTART-VER: 3.6
NEEDRESTART-KCUR: 6.1.0-18-amd64
NEEDRESTART-KEXP: 6.1.0-21-amd64
NEEDRESTART-KSTA: 3
NEEDRESTART-SVC: dialysis-service.service
NEEDRESTART-SVC: postgresql@15-main.service
"""


def test_apt_simulation_lists_every_update_with_its_origin_and_security_flag():
    updates, removals = pu.parse_apt_simulation(APT_SIM)
    by_name = dict((u['name'], u) for u in updates)
    assert sorted(by_name) == ['dialysis-dummy', 'libnew1', 'libssl3', 'openssl', 'tzdata']
    assert by_name['libssl3'] == {'name': 'libssl3', 'from': '3.0.11-1~deb12u1', 'to': '3.0.11-1~deb12u2',
                                  'arch': 'amd64', 'origin': 'Debian-Security:12/stable-security',
                                  'security': True}
    assert by_name['openssl']['security'] is True          # in stable and in security
    assert by_name['tzdata']['security'] is False           # stable-updates is not security
    assert by_name['dialysis-dummy']['security'] is True    # the lab repository's suite
    assert by_name['libnew1']['from'] is None               # newly installed by the upgrade
    assert removals == ['old-helper']


def test_apt_simulation_with_nothing_pending():
    assert pu.parse_apt_simulation('Reading package lists...\n0 upgraded, 0 newly installed\n') == ([], [])


@pytest.mark.parametrize('release,expected', [
    ('Debian-Security:12/stable-security', True), ('Ubuntu:22.04/jammy-security', True),
    ('Debian:12.5/stable', False), ('Debian:12.11/stable-updates', False), ('', False),
    ('securityonion:1/stable', False),
])
def test_security_is_a_word_of_the_suite_or_origin(release, expected):
    assert pu.is_security(release) is expected


def test_dnf_check_update_joins_wrapped_lines_and_stops_at_obsoletes():
    updates = pu.parse_dnf_check_update(DNF_CHECK)
    assert [u['name'] for u in updates] == ['a-very-long-package-name-that-wraps', 'openssl',
                                            'openssl-libs', 'tzdata']
    assert updates[1] == {'name': 'openssl', 'from': None, 'to': '1:3.0.7-27.el9', 'arch': 'x86_64',
                          'origin': 'baseos', 'security': False}


def test_dnf_security_names_and_rpm_versions():
    assert pu.parse_dnf_security(DNF_SECURITY) == {'openssl', 'openssl-libs'}
    dnf5 = 'Name Type Severity Package\nFEDORA-2024-1 security Low curl-8.2.1-4.fc39.x86_64'
    assert pu.parse_dnf_security(dnf5) == {'curl'}
    assert pu.parse_rpm_query(RPM_Q) == {'openssl': '1:3.0.7-25.el9', 'openssl-libs': '1:3.0.7-25.el9',
                                         'a-very-long-package-name-that-wraps': '2.0-1.el9',
                                         'tzdata': '2024a-1.el9'}


def test_needrestart_and_needs_restarting():
    services = ['dialysis-service.service', 'postgresql@15-main.service']
    assert pu.parse_needrestart(NEEDRESTART) == (services, 3)
    assert pu.parse_needrestart('NEEDRESTART-VER: 3.6\nNEEDRESTART-KSTA: 1\n') == ([], 1)
    assert pu.parse_needs_restarting_services('httpd.service\nsshd.service\n\n') == ['httpd.service',
                                                                                     'sshd.service']


def test_dpkg_query_keeps_installed_packages_only():
    out = 'dialysis-dummy\tii \t2.0\nold-helper\trc \t0.9\n'
    assert pu.parse_dpkg_query(out) == {'dialysis-dummy': '2.0'}


class FakeHost(object):
    """A host with canned command output. ``commands`` maps the first words of a
    command to (rc, out, err); every command run is kept in ``ran``."""

    def __init__(self, binaries, commands, files=None, digests=None):
        self.binaries, self.commands, self.files = set(binaries), commands, files or {}
        self.digests = list(digests or ['same'])
        self.ran = []

    def which(self, name):
        return '/usr/bin/%s' % name if name in self.binaries else None

    def run(self, argv):
        self.ran.append(argv)
        for key in sorted(self.commands, key=len, reverse=True):
            if tuple(argv[:len(key)]) == key:
                return self.commands[key]
        return 127, '', 'not found'

    def exists(self, path):
        return path in self.files

    def read(self, path):
        return self.files.get(path)

    def tree_digest(self, path):
        return self.digests.pop(0) if len(self.digests) > 1 else self.digests[0]


def apt_host(**kwargs):
    commands = {('apt-get', '-s'): (0, APT_SIM, ''), ('apt-get', 'update'): (0, 'Hit:1 ...', ''),
                ('dpkg-query',): (0, 'dialysis-dummy\tii \t2.0\nlibssl3\tii \t3.0.11-1~deb12u1\n', '')}
    commands.update(kwargs.pop('commands', {}))
    return FakeHost(kwargs.pop('binaries', ['apt-get', 'dpkg-query']), commands, **kwargs)


def run(capsys, monkeypatch, host, args, check_mode=False):
    monkeypatch.setattr(pu, 'HostTools', lambda module: host)
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            pu.main()
    return json.loads(capsys.readouterr().out)


def test_main_lists_apt_updates_without_changing_anything(capsys, monkeypatch):
    host = apt_host()
    result = run(capsys, monkeypatch, host, {})
    assert result['changed'] is False and result['manager'] == 'apt'
    assert [u['name'] for u in result['updates']] == ['dialysis-dummy', 'libnew1', 'libssl3', 'openssl',
                                                      'tzdata']
    assert result['pending_total'] == 5 and result['security_total'] == 3
    assert result['removals'] == ['old-helper']
    assert result['reboot_required'] is False and result['reboot_reasons'] == []
    assert result['services'] == [] and result['services_known'] is False   # no needrestart: unknown
    assert not any(argv[:2] == ['apt-get', 'update'] for argv in host.ran)


def test_security_only_filters_the_list(capsys, monkeypatch):
    result = run(capsys, monkeypatch, apt_host(), {'security_only': True})
    assert [u['name'] for u in result['updates']] == ['dialysis-dummy', 'libssl3', 'openssl']
    assert result['pending_total'] == 5


def test_refresh_is_a_change_only_when_the_index_changed(capsys, monkeypatch):
    changed = run(capsys, monkeypatch, apt_host(digests=['a', 'b']), {'refresh': True})
    assert changed['changed'] is True and changed['refreshed'] is True
    same = run(capsys, monkeypatch, apt_host(digests=['a', 'a']), {'refresh': True})
    assert same['changed'] is False and same['refreshed'] is True


def test_refresh_is_skipped_in_check_mode(capsys, monkeypatch):
    host = apt_host(digests=['a', 'b'])
    result = run(capsys, monkeypatch, host, {'refresh': True}, check_mode=True)
    assert result['changed'] is False and result['refreshed'] is False
    assert not any(argv[:2] == ['apt-get', 'update'] for argv in host.ran)
    assert len(result['updates']) == 5


def test_reboot_required_file_and_needrestart(capsys, monkeypatch):
    host = apt_host(binaries=['apt-get', 'dpkg-query', 'needrestart'],
                    commands={('needrestart',): (0, NEEDRESTART, '')},
                    files={'/var/run/reboot-required': '*** System restart required ***\n',
                           '/var/run/reboot-required.pkgs': 'libc6\nlibssl3\n'})
    result = run(capsys, monkeypatch, host, {})
    assert result['reboot_required'] is True
    assert result['reboot_reasons'] == ['/var/run/reboot-required (libc6, libssl3)',
                                        'needrestart: a newer kernel is installed']
    assert result['services'] == ['dialysis-service.service', 'postgresql@15-main.service']
    assert result['services_known'] is True
    assert ['needrestart', '-b', '-r', 'l'] in host.ran   # list only, never restart


def test_dnf_host(capsys, monkeypatch):
    host = FakeHost(['dnf', 'rpm', 'needs-restarting'], {
        ('dnf', '-q', 'check-update'): (100, DNF_CHECK, ''),
        ('dnf', '-q', 'updateinfo'): (0, DNF_SECURITY, ''),
        ('rpm',): (0, RPM_Q, ''),
        ('needs-restarting', '-r'): (1, 'Reboot is required to fully utilize these updates.', ''),
        ('needs-restarting', '-s'): (0, 'sshd.service\n', ''),
    })
    result = run(capsys, monkeypatch, host, {'security_only': True})
    assert result['manager'] == 'dnf'
    assert result['updates'] == [
        {'name': 'openssl', 'from': '1:3.0.7-25.el9', 'to': '1:3.0.7-27.el9', 'arch': 'x86_64',
         'origin': 'baseos', 'security': True},
        {'name': 'openssl-libs', 'from': '1:3.0.7-25.el9', 'to': '1:3.0.7-27.el9', 'arch': 'x86_64',
         'origin': 'baseos', 'security': True}]
    assert result['pending_total'] == 4
    assert result['reboot_required'] is True and result['services'] == ['sshd.service']


def test_dnf_nothing_pending_and_no_reboot(capsys, monkeypatch):
    host = FakeHost(['dnf', 'rpm'], {
        ('dnf', '-q', 'check-update'): (0, '', ''),
        ('dnf', 'needs-restarting', '-r'): (0, 'No core libraries or services have been updated', ''),
        ('dnf', 'needs-restarting', '-s'): (1, '', 'No such command'),
    })
    result = run(capsys, monkeypatch, host, {})
    assert result['updates'] == [] and result['reboot_required'] is False
    assert result['services_known'] is False


def test_failures_name_the_command_and_the_key(capsys, monkeypatch):
    locked = apt_host(commands={('apt-get', '-s'): (100, '', 'E: Could not open lock')})
    result = run(capsys, monkeypatch, locked, {})
    assert result['failed'] and 'apt-get -s -q failed (exit 100)' in result['msg']
    result = run(capsys, monkeypatch, FakeHost([], {}), {})
    assert result['failed'] and result['msg'].startswith('manager: no supported package manager')
    result = run(capsys, monkeypatch, FakeHost(['apt-get'], {}), {'manager': 'dnf'})
    assert result['failed']
    assert result['msg'] == 'manager: dnf was asked for but is not installed on this host'
    result = run(capsys, monkeypatch, apt_host(), {'report': {'updates': [{'to': '2.0'}]}})
    assert result['failed'] and result['msg'].startswith('report.updates[0]: expected {name, from, to')


DUMMY = {'name': 'dialysis-dummy', 'from': '1.0', 'to': '2.0', 'arch': 'all', 'security': True,
         'origin': 'dialysis-lab:dialysis-lab-security'}
LIBSSL = {'name': 'libssl3', 'from': '3.0.11-1~deb12u1', 'to': '3.0.11-1~deb12u2', 'security': True}


def items(record):
    return dict((i['item'], i) for i in record['items'])


def test_record_of_an_applied_run_reads_the_installed_versions(capsys, monkeypatch):
    report = {'updates': [DUMMY], 'applied': True, 'health_before': True, 'health_after': True,
              'downtime_seconds': 3.24, 'services_known': False, 'ticket': 'CHG-2026-0142'}
    result = run(capsys, monkeypatch, apt_host(), {'system': 'hemodialysis', 'report': report})
    record = result['record']
    # The monthly report's changes section reads the outcome and the ticket from the record.
    assert record['outcome'] == 'applied' and record['ticket'] == 'CHG-2026-0142'
    assert validate_record(record) == [] and record['kind'] == 'patch' and record['system'] == 'hemodialysis'
    assert result['changed'] is False and result['installed'] == {'dialysis-dummy': '2.0'}
    found = items(record)
    assert found['package:dialysis-dummy']['value'] == '1.0 -> 2.0'
    assert found['package:dialysis-dummy']['status'] == 'ok'
    assert found['package:dialysis-dummy']['reason'] == 'applied'
    assert found['package:dialysis-dummy']['installed'] == '2.0'
    assert found['patch:reboot']['value'] is False
    assert found['patch:reboot']['reason'] == 'reboot_not_required'
    assert found['patch:services']['status'] == 'skipped'
    assert found['patch:services']['reason'] == 'services_unknown'
    assert found['health:before']['value'] is True and found['health:after']['value'] is True
    assert found['patch:downtime']['value'] == 3.2 and found['patch:downtime']['unit'] == 's'
    assert found['patch:outcome']['value'] == 'applied' and record['status'] == 'ok'
    assert record['metrics']['applied'] == 1 and record['metrics']['outcome'] == 'applied'


def test_record_names_a_package_that_was_not_applied(capsys, monkeypatch):
    report = {'updates': [DUMMY, LIBSSL], 'applied': True, 'rebooted': True, 'reboot_required': True,
              'reboot_seconds': 41.0, 'restarted_services': [], 'services_known': True}
    record = run(capsys, monkeypatch, apt_host(), {'report': report})['record']
    found = items(record)
    assert found['package:libssl3']['status'] == 'critical'
    assert found['package:libssl3']['reason'] == 'not_applied'
    assert found['patch:reboot']['value'] is True and found['patch:reboot']['seconds'] == 41.0
    assert found['patch:services']['value'] == [] and found['patch:services']['status'] == 'ok'
    assert record['status'] == 'critical' and record['anomalies'] == 1


def test_record_of_a_check_mode_run_and_of_nothing_pending(capsys, monkeypatch):
    host = apt_host()
    record = run(capsys, monkeypatch, host, {'report': {'updates': [DUMMY], 'check_mode': True}},
                 check_mode=True)['record']
    found = items(record)
    assert found['package:dialysis-dummy']['reason'] == 'pending'
    assert found['patch:outcome']['value'] == 'would_apply'
    assert 'patch:downtime' not in found and 'health:before' not in found and 'health:after' not in found
    record = run(capsys, monkeypatch, apt_host(), {'report': {'updates': [DUMMY], 'check_mode': True,
                                                              'reboot_required': True}})['record']
    assert items(record)['patch:reboot']['reason'] == 'reboot_pending'   # the system needs one already
    assert not any(argv[0] == 'dpkg-query' for argv in host.ran)
    record = run(capsys, monkeypatch, apt_host(), {'report': {'updates': []}})['record']
    assert items(record)['patch:outcome']['value'] == 'nothing_pending' and record['status'] == 'ok'


def test_record_of_a_failed_run(capsys, monkeypatch):
    report = {'updates': [DUMMY], 'health_before': False,
              'failure': 'health check before patching failed: http'}
    record = run(capsys, monkeypatch, apt_host(), {'report': report})['record']
    found = items(record)
    assert found['patch:outcome']['value'] == 'failed' and found['patch:outcome']['reason'] == 'patch_failed'
    assert found['patch:outcome']['message'] == 'health check before patching failed: http'
    assert found['package:dialysis-dummy']['reason'] == 'not_applied'
    assert found['health:before']['status'] == 'critical'
    assert record['status'] == 'critical'


def test_reboot_needed_but_not_done_is_a_warning(capsys, monkeypatch):
    report = {'updates': [DUMMY], 'applied': True, 'reboot_required': True}
    record = run(capsys, monkeypatch, apt_host(), {'report': report})['record']
    assert items(record)['patch:reboot']['status'] == 'warning'
    assert items(record)['patch:reboot']['reason'] == 'reboot_pending'


def test_every_item_and_reason_of_a_patch_record_reads_in_both_languages(capsys, monkeypatch):
    from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_i18n import Translator
    reports = [
        {'updates': [DUMMY, LIBSSL], 'applied': True, 'reboot_required': True, 'health_before': True,
         'health_after': False, 'downtime_seconds': 1.0},
        {'updates': [dict(LIBSSL, to='9', **{'from': '1'})], 'applied': True, 'rebooted': True,
         'reboot_seconds': 3.0,
         'services_known': True, 'restarted_services': ['a.service']},
        {'updates': [DUMMY], 'check_mode': True},
        {'updates': [DUMMY], 'failure': 'x', 'health_before': False},
        {'updates': [], 'applied': False},
    ]
    seen = set()
    for report in reports:
        for item in run(capsys, monkeypatch, apt_host(), {'report': report})['record']['items']:
            seen.add((item['item'].split(':')[0], item.get('reason'), item['status']))
            for language in ('zh', 'en'):
                t = Translator(language)
                assert t.item_label(item['item']) != item['item'], item['item']
                if item['status'] != 'ok' or item.get('reason'):
                    label, result = t.item_label(item['item']), t.result(item['status'])
                    generic = t('desc_generic', item=label, result=result)
                    assert t.describe(item) != generic, (language, item)
    for outcome in ('applied', 'nothing_pending', 'failed'):
        assert Translator('zh').has('outcome_' + outcome), outcome
    reasons = set(r for _k, r, _s in seen if r)
    assert reasons >= {'applied', 'pending', 'not_applied', 'other_version', 'rebooted', 'reboot_pending',
                       'reboot_not_required', 'services_unknown', 'no_health_check', 'patch_failed'}
