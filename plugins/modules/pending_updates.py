#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: pending_updates
short_description: List pending package updates and reboot needs of a host; write its patch record
description:
  - Lists, in one call, the package updates pending on the host - name, installed version,
    version offered, where it comes from and whether it is a security update - whether the
    system says a reboot is needed, and which services use libraries that changed.
  - apt (Debian, Ubuntu) - a simulation of C(apt-get dist-upgrade) (C(apt-get -s)); an update
    is a security update when the version offered is published in a suite or by an origin
    whose name says security (C(bookworm-security), C(Debian-Security)). A reboot is needed when
    C(/var/run/reboot-required) exists or needrestart reports a pending kernel version upgrade.
  - dnf (EL 8 and 9, Fedora) - C(dnf check-update), C(dnf updateinfo list --security) and
    C(needs-restarting -r). Written and unit-tested on recorded output; not yet proven on a real
    RPM host in this repository's tests.
  - Services whose libraries changed come from needrestart's batch mode (C(needrestart -b -r l),
    apt family, when needrestart is installed) or C(needs-restarting -s) (dnf family); without
    them the module says it cannot tell (RV(services_known) false), never that none need it.
  - Only reads, except with O(refresh), which updates the package index (C(apt-get update),
    C(dnf makecache)); that is reported as a change only when the index changed, and skipped in
    check mode.
  - With O(report), returns the C(patch) record of a patching run on this host instead of a
    listing - every package from the version it had to the version installed now (read from the
    package database, not from what the run intended), the reboot, the downtime and the outcome.
version_added: "1.2.0"
author:
  - dialysis-ops contributors (@dialysis-ops)
options:
  manager:
    description: Package manager of the host; C(auto) picks apt, then dnf, then yum.
    type: str
    choices: [auto, apt, dnf, yum]
    default: auto
  security_only:
    description: List only security updates.
    type: bool
    default: false
  refresh:
    description:
      - Update the package index before listing (C(apt-get update), C(dnf makecache)). Not done
        in check mode (RV(refreshed) false).
    type: bool
    default: false
  system:
    description: Clinical system of the host, copied into the record (with O(report)).
    type: str
    choices: [hemodialysis, ckd, pd, shared]
    default: shared
  report:
    description:
      - When given, build the C(patch) record of this run on the host from these facts instead of
        listing the updates.
    type: dict
    suboptions:
      updates:
        description: The updates the run set out to apply (RV(updates) of the listing call).
        type: list
        elements: dict
        default: []
      check_mode:
        description: The run was a check-mode run - nothing was applied (outcome C(would_apply)).
        type: bool
        default: false
      applied:
        description: The apply step ran.
        type: bool
        default: false
      reboot_required:
        description: The system said a reboot was needed after applying.
        type: bool
        default: false
      rebooted:
        description: The host was rebooted.
        type: bool
        default: false
      reboot_seconds:
        description: Seconds the reboot took (from the reboot module's C(elapsed)).
        type: float
      restarted_services:
        description: Services restarted because libraries they use changed.
        type: list
        elements: str
        default: []
      services_known:
        description: Whether the platform could tell which services use changed libraries.
        type: bool
        default: false
      health_before:
        description: Whether the health check before patching passed (null - no check configured).
        type: bool
      health_after:
        description: Whether the health check after patching passed (null - none configured or not reached).
        type: bool
      downtime_seconds:
        description: Seconds from the start of applying until the health check after passed.
        type: float
      failure:
        description: What failed (the step and its message), when the run failed on this host.
        type: str
      security_only:
        description: The run applied security updates only.
        type: bool
        default: false
      ticket:
        description: The change ticket of the run, copied into the record.
        type: str
notes:
  - Check mode - supported; the listing only reads, O(refresh) is skipped.
  - Target Python 3.8 or later, standard library only.
'''

EXAMPLES = r'''
- name: List pending security updates after refreshing the index
  dialysis.ops.pending_updates:
    security_only: true
    refresh: true
  register: pending

- name: Write the patch record of this host
  dialysis.ops.pending_updates:
    system: hemodialysis
    report:
      updates: "{{ pending.updates }}"
      applied: true
      reboot_required: false
      health_before: true
      health_after: true
      downtime_seconds: 4.2
'''

RETURN = r'''
manager:
  description: The package manager used (apt, dnf or yum).
  returned: always
  type: str
updates:
  description: Pending updates (with O(security_only), only security updates), sorted by name.
  returned: when listing
  type: list
  elements: dict
  sample:
    - {name: openssl, from: 3.0.11-1~deb12u1, to: 3.0.11-1~deb12u2, arch: amd64,
       origin: "Debian-Security:12/stable-security", security: true}
removals:
  description: Packages the full upgrade would remove (apt only; nothing is removed by listing).
  returned: when listing
  type: list
  elements: str
pending_total:
  description: All pending updates, security or not (O(security_only) filters RV(updates) only).
  returned: when listing
  type: int
security_total:
  description: How many of all pending updates are security updates.
  returned: when listing
  type: int
list_seconds:
  description: Seconds the listing took on the host.
  returned: when listing
  type: float
reboot_required:
  description: Whether the system says a reboot is needed now (null when it cannot tell).
  returned: always
  type: bool
reboot_reasons:
  description: What said so (C(/var/run/reboot-required), needrestart's kernel status, needs-restarting).
  returned: always
  type: list
  elements: str
services:
  description: Services using libraries that changed since they started (empty when unknown).
  returned: always
  type: list
  elements: str
services_known:
  description: Whether the platform could tell which services use changed libraries.
  returned: always
  type: bool
refreshed:
  description: Whether the package index was refreshed in this call.
  returned: when listing
  type: bool
installed:
  description: Version installed now of every package in O(report.updates) (null when not installed).
  returned: with O(report)
  type: dict
record:
  description: The C(patch) record of the run on this host.
  returned: with O(report)
  type: dict
  sample:
    kind: patch
    system: hemodialysis
    status: ok
    outcome: applied
    ticket: CHG-2026-0142
    items:
      - {item: "package:openssl", value: "3.0.11-1~deb12u1 -> 3.0.11-1~deb12u2", status: ok,
         reason: applied, from: 3.0.11-1~deb12u1, to: 3.0.11-1~deb12u2,
         installed: 3.0.11-1~deb12u2, security: true, message: "..."}
      - {item: "patch:reboot", value: false, status: ok, reason: reboot_not_required, message: "..."}
      - {item: "patch:outcome", value: applied, status: ok, message: "..."}
'''

import hashlib
import os
import re
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import (
    SYSTEMS,
    RecordError,
    make_item,
    make_record,
)

REBOOT_REQUIRED_FILE = '/var/run/reboot-required'
APT_LISTS = '/var/lib/apt/lists'
# Suites and origins whose names say "security" (Debian, Ubuntu, most derivatives).
_SECURITY = re.compile(r'(^|[-_/:. ])security($|[-_/:. ,])', re.IGNORECASE)
# Inst NAME [OLD] (NEW RELEASE-LIST [ARCH]) ...   - apt-get -s output
_APT_INST = re.compile(r'^Inst (?P<name>\S+)(?: \[(?P<old>[^\]]*)\])? \((?P<new>\S+)'
                       r'(?: (?P<release>.*?))?(?: \[(?P<arch>[^\]]+)\])?\)')
_APT_REMV = re.compile(r'^Remv (?P<name>\S+)')
# name.arch  [epoch:]version-release  repository   - dnf check-update output
_RPM_NEVRA = re.compile(r'^(?P<name>.+)-(?:(?P<epoch>\d+):)?(?P<version>[^-:]+)-(?P<release>[^-]+)'
                        r'\.(?P<arch>[^.]+)$')
OUTCOMES = ('applied', 'nothing_pending', 'would_apply', 'failed')


class HostTools(object):
    """What the module needs from the host: commands, files. Tests replace it."""

    def __init__(self, module):
        self.module = module

    def which(self, name):
        return self.module.get_bin_path(name)

    def run(self, argv):
        return self.module.run_command(argv, environ_update={'LANG': 'C', 'LC_ALL': 'C'})

    @staticmethod
    def exists(path):
        return os.path.exists(path)

    @staticmethod
    def read(path):
        try:
            with open(path) as handle:
                return handle.read()
        except (IOError, OSError):
            return None

    @staticmethod
    def tree_digest(path):
        """A digest of the names, sizes and contents' times under path (the package index)."""
        digest = hashlib.sha1()
        for dirpath, dirnames, filenames in os.walk(path):
            dirnames[:] = sorted(d for d in dirnames if d != 'partial')
            for name in sorted(filenames):
                if name == 'lock':
                    continue
                full = os.path.join(dirpath, name)
                try:
                    st = os.stat(full)
                except OSError:
                    continue
                digest.update(('%s %d %d\n' % (full, st.st_size, int(st.st_mtime))).encode('utf-8'))
        return digest.hexdigest()


class PatchError(Exception):
    """A command whose answer the module cannot use; the message names it."""


def is_security(release):
    """Whether an apt release list (``Debian-Security:12/stable-security, ...``) names security."""
    return bool(release) and bool(_SECURITY.search(release))


def parse_apt_simulation(text):
    """(updates, removals) from ``apt-get -s dist-upgrade`` output. ``from`` is None for a
    package the upgrade newly installs."""
    updates, removals = {}, []
    for line in (text or '').splitlines():
        match = _APT_INST.match(line)
        if match:
            release = (match.group('release') or '').strip()
            updates[match.group('name')] = {
                'name': match.group('name'), 'from': match.group('old') or None, 'to': match.group('new'),
                'arch': match.group('arch'), 'origin': release or None, 'security': is_security(release)}
            continue
        match = _APT_REMV.match(line)
        if match:
            removals.append(match.group('name'))
    return [updates[name] for name in sorted(updates)], sorted(set(removals))


def parse_dnf_check_update(text):
    """Updates from ``dnf check-update`` (``name.arch  version  repo``; a long name may put the
    rest on the next line). The Obsoleting section and messages are left out."""
    tokens, result = [], {}
    for line in (text or '').splitlines():
        if not line.strip():
            continue
        if line.startswith('Obsoleting') or line.startswith('Security:'):
            break
        if line.startswith(('Last metadata', 'Loaded plugins', 'Loading mirror')):
            continue
        tokens.extend(line.split())
        while len(tokens) >= 3:
            name_arch, version, repo = tokens[:3]
            del tokens[:3]
            if '.' not in name_arch:
                continue
            name, arch = name_arch.rsplit('.', 1)
            result[name] = {'name': name, 'from': None, 'to': version, 'arch': arch, 'origin': repo,
                            'security': False}
    return [result[name] for name in sorted(result)]


def parse_dnf_security(text):
    """Names of packages with a security advisory from ``dnf updateinfo list --security``
    (dnf 4: ``RHSA-2024:1 Important/Sec. openssl-1:3.0.7-16.el9.x86_64``; dnf 5 puts the
    package in another column, so every word that is a package name-version counts)."""
    names = set()
    for line in (text or '').splitlines():
        for word in line.split()[1:]:
            match = _RPM_NEVRA.match(word)
            if match:
                names.add(match.group('name'))
    return names


def parse_rpm_query(text):
    """{name: [epoch:]version-release} from ``rpm -q --qf '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n'``."""
    versions = {}
    for line in (text or '').splitlines():
        parts = line.split()
        if len(parts) == 2 and ':' in parts[1]:
            epoch, _sep, rest = parts[1].partition(':')
            versions[parts[0]] = rest if epoch in ('0', '(none)') else parts[1]
    return versions


def parse_dpkg_query(text):
    """{name: version} from ``dpkg-query -W -f '${Package}\\t${db:Status-Abbrev}\\t${Version}\\n'``
    (only installed packages)."""
    versions = {}
    for line in (text or '').splitlines():
        parts = line.split('\t')
        if len(parts) == 3 and parts[1].startswith('ii'):
            versions[parts[0]] = parts[2]
    return versions


def parse_needrestart(text):
    """(services, kernel_status) from ``needrestart -b``: NEEDRESTART-SVC lines and
    NEEDRESTART-KSTA (0 unknown, 1 current, 2 ABI-compatible upgrade, 3 version upgrade)."""
    services, kernel = [], None
    for line in (text or '').splitlines():
        key, _sep, value = line.partition(':')
        value = value.strip()
        if key == 'NEEDRESTART-SVC' and value:
            services.append(value)
        elif key == 'NEEDRESTART-KSTA' and value.isdigit():
            kernel = int(value)
    return sorted(set(services)), kernel


def parse_needs_restarting_services(text):
    """Unit names from ``needs-restarting -s`` (one per line)."""
    return sorted(set(line.strip() for line in (text or '').splitlines()
                      if line.strip() and ' ' not in line.strip()))


def detect_manager(tools, wanted):
    if wanted != 'auto':
        if not tools.which('apt-get' if wanted == 'apt' else wanted):
            raise PatchError('manager: %s was asked for but is not installed on this host' % wanted)
        return wanted
    for name, binary in (('apt', 'apt-get'), ('dnf', 'dnf'), ('yum', 'yum')):
        if tools.which(binary):
            return name
    raise PatchError('manager: no supported package manager found (expected apt-get, dnf or yum)')


def _checked(tools, argv, ok_codes=(0,)):
    rc, out, err = tools.run(argv)
    if rc not in ok_codes:
        detail = (err or out or '').strip()[-500:]
        raise PatchError('%s failed (exit %s): %s' % (' '.join(argv[:3]), rc, detail))
    return rc, out


def refresh_index(tools, manager):
    """Update the package index; True when it changed."""
    if manager == 'apt':
        before = tools.tree_digest(APT_LISTS)
        _checked(tools, ['apt-get', 'update', '-q'])
        return tools.tree_digest(APT_LISTS) != before
    _rc, out = _checked(tools, [manager, '-q', '-y', 'makecache'])
    return 'Metadata cache created' in out


def list_updates(tools, manager):
    """(updates, removals) pending on the host, every update with its security flag."""
    if manager == 'apt':
        _rc, out = _checked(tools, ['apt-get', '-s', '-q', '-o', 'Debug::NoLocking=true', 'dist-upgrade'])
        return parse_apt_simulation(out)
    # dnf check-update: 100 = updates available, 0 = none.
    _rc, out = _checked(tools, [manager, '-q', 'check-update'], ok_codes=(0, 100))
    updates = parse_dnf_check_update(out)
    if updates:
        _rc, sec = _checked(tools, [manager, '-q', 'updateinfo', 'list', '--security', '--updates'])
        security = parse_dnf_security(sec)
        installed = installed_versions(tools, manager, [u['name'] for u in updates])
        for update in updates:
            update['security'] = update['name'] in security
            update['from'] = installed.get(update['name'])
    return updates, []


def installed_versions(tools, manager, names):
    """{name: version installed now, or None} for the given package names."""
    names = sorted(set(names))
    if not names:
        return {}
    if manager == 'apt':
        _rc, out, _err = tools.run(['dpkg-query', '-W', '-f', '${Package}\t${db:Status-Abbrev}\t${Version}\n']
                                   + names)
        found = parse_dpkg_query(out)
    else:
        query = '%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\n'
        _rc, out, _err = tools.run(['rpm', '-q', '--qf', query] + names)
        found = parse_rpm_query(out)
    return dict((name, found.get(name)) for name in names)


def reboot_and_services(tools, manager):
    """(reboot_required, reasons, services, services_known)."""
    reasons, services, known = [], [], False
    if manager == 'apt':
        if tools.exists(REBOOT_REQUIRED_FILE):
            pkgs = (tools.read(REBOOT_REQUIRED_FILE + '.pkgs') or '').split()
            named = ' (%s)' % ', '.join(sorted(set(pkgs))) if pkgs else ''
            reasons.append(REBOOT_REQUIRED_FILE + named)
        if tools.which('needrestart'):
            rc, out, _err = tools.run(['needrestart', '-b', '-r', 'l'])
            if rc == 0:
                services, kernel = parse_needrestart(out)
                known = True
                if kernel == 3:
                    reasons.append('needrestart: a newer kernel is installed')
        return bool(reasons), reasons, services, known
    required = None
    helper = ['needs-restarting'] if tools.which('needs-restarting') else [manager, 'needs-restarting']
    rc, _out, _err = tools.run(helper + ['-r'])
    if rc == 1:
        required = True
        reasons.append('needs-restarting -r')
    elif rc == 0:
        required = False
    rc, out, _err = tools.run(helper + ['-s'])
    if rc == 0:
        services, known = parse_needs_restarting_services(out), True
    return required, reasons, services, known


def _version_text(update):
    return '%s -> %s' % (update.get('from') or 'none', update.get('to'))


def package_item(update, installed, applied, check_mode, failed):
    """The record item of one package: what it had, what was offered, what is installed now."""
    name, old, new = update.get('name'), update.get('from'), update.get('to')
    extra = {'from': old, 'to': new, 'installed': installed, 'security': bool(update.get('security')),
             'origin': update.get('origin')}
    value = _version_text(update)
    if check_mode or not applied:
        if failed:
            return make_item('package:%s' % name, value, 'critical',
                             'Not applied (the run failed before applying): %s' % value,
                             reason='not_applied', **extra)
        return make_item('package:%s' % name, value, 'ok', 'Would apply %s' % value, reason='pending',
                         **extra)
    if installed == new:
        return make_item('package:%s' % name, value, 'ok', 'Applied %s' % value, reason='applied', **extra)
    if installed == old:
        return make_item('package:%s' % name, value, 'critical',
                         'Not applied: %s is still at %s' % (name, installed or 'none'),
                         reason='not_applied', **extra)
    return make_item('package:%s' % name, value, 'warning',
                     '%s is at %s, expected %s' % (name, installed or 'none (removed)', new),
                     reason='other_version', **extra)


def build_record(system, report, installed, manager):
    """The patch record of this run on this host."""
    updates = sorted(report.get('updates') or [], key=lambda u: u.get('name') or '')
    check_mode, applied = bool(report.get('check_mode')), bool(report.get('applied'))
    failure = report.get('failure') or None
    if failure:
        outcome = 'failed'
    elif not updates:
        outcome = 'nothing_pending'
    elif check_mode:
        outcome = 'would_apply'
    else:
        outcome = 'applied'
    items = [package_item(u, installed.get(u.get('name')), applied, check_mode, bool(failure))
             for u in updates]

    required, rebooted = bool(report.get('reboot_required')), bool(report.get('rebooted'))
    seconds = report.get('reboot_seconds')
    if rebooted:
        items.append(make_item('patch:reboot', True, 'ok', 'Rebooted in %ss' % seconds, reason='rebooted',
                               required=required, seconds=seconds))
    elif required:
        items.append(make_item('patch:reboot', False, 'warning',
                               'The system needs a reboot that this run did not do', reason='reboot_pending',
                               required=True))
    else:
        items.append(make_item('patch:reboot', False, 'ok', 'No reboot needed', reason='reboot_not_required',
                               required=required))

    services = sorted(report.get('restarted_services') or [])
    if not applied or check_mode:
        pass
    elif report.get('services_known') or services:
        items.append(make_item('patch:services', services, 'ok',
                               'Restarted: %s' % (', '.join(services) or 'none needed')))
    else:
        items.append(make_item('patch:services', None, 'skipped',
                               'The platform cannot tell which services use changed libraries '
                               '(needrestart / needs-restarting not installed)', reason='services_unknown'))

    for when in ('before', 'after'):
        healthy = report.get('health_%s' % when)
        if healthy is None:
            if applied:
                items.append(make_item('health:%s' % when, None, 'skipped',
                                       'No health check %s patching' % when, reason='no_health_check'))
        else:
            items.append(make_item('health:%s' % when, bool(healthy), 'ok' if healthy else 'critical',
                                   'Health check %s patching %s' % (when, 'passed' if healthy else 'failed')))

    downtime = report.get('downtime_seconds')
    if applied and not check_mode and downtime is not None:
        items.append(make_item('patch:downtime', round(float(downtime), 1), 'ok',
                               'From the start of applying until healthy again: %.1f s' % downtime, unit='s'))

    said = {'applied': 'Applied %d update(s)' % len(updates), 'nothing_pending': 'Nothing pending',
            'would_apply': 'Check mode: %d update(s) would be applied' % len(updates)}
    items.append(make_item('patch:outcome', outcome, 'critical' if outcome == 'failed' else 'ok',
                           failure or said[outcome],
                           reason='patch_failed' if outcome == 'failed' else None))
    metrics = {
        'manager': manager, 'security_only': bool(report.get('security_only')), 'outcome': outcome,
        'packages': len(updates), 'security_updates': sum(1 for u in updates if u.get('security')),
        'applied': sum(1 for i in items if i.get('reason') == 'applied'),
        'reboot_required': required, 'rebooted': rebooted, 'reboot_seconds': seconds,
        'downtime_seconds': downtime, 'restarted_services': services,
    }
    return make_record('patch', system, items, metrics, outcome=outcome, ticket=report.get('ticket') or None)


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            manager=dict(type='str', default='auto', choices=['auto', 'apt', 'dnf', 'yum']),
            security_only=dict(type='bool', default=False),
            refresh=dict(type='bool', default=False),
            system=dict(type='str', default='shared', choices=list(SYSTEMS)),
            report=dict(type='dict', options=dict(
                updates=dict(type='list', elements='dict', default=[]),
                check_mode=dict(type='bool', default=False),
                applied=dict(type='bool', default=False),
                reboot_required=dict(type='bool', default=False),
                rebooted=dict(type='bool', default=False),
                reboot_seconds=dict(type='float'),
                restarted_services=dict(type='list', elements='str', default=[]),
                services_known=dict(type='bool', default=False),
                health_before=dict(type='bool'),
                health_after=dict(type='bool'),
                downtime_seconds=dict(type='float'),
                failure=dict(type='str'),
                security_only=dict(type='bool', default=False),
                ticket=dict(type='str'),
            )),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**pending_updates(module, HostTools(module)))


def pending_updates(module, tools):
    """The module's result (fails the module with a message naming the problem)."""
    params = module.params
    try:
        manager = detect_manager(tools, params['manager'])
        if params['report'] is not None:
            report = params['report']
            for number, update in enumerate(report['updates']):
                if not isinstance(update.get('name'), str) or not isinstance(update.get('to'), str):
                    raise PatchError('report.updates[%d]: expected {name, from, to, ...} as returned in '
                                     'updates, got %r' % (number, sorted(update)))
            installed = installed_versions(tools, manager, [u['name'] for u in report['updates']]) \
                if report['applied'] else {}
            required, reasons, _services, _known = reboot_and_services(tools, manager)
            record = build_record(params['system'], report, installed, manager)
            return dict(changed=False, manager=manager, installed=installed, reboot_required=required,
                        reboot_reasons=reasons, record=record)
        refreshed = changed = False
        if params['refresh'] and not module.check_mode:
            changed = refresh_index(tools, manager)
            refreshed = True
        started = time.time()
        updates, removals = list_updates(tools, manager)
        required, reasons, services, known = reboot_and_services(tools, manager)
    except PatchError as exc:
        module.fail_json(msg=str(exc))
    except RecordError as exc:
        module.fail_json(msg='pending_updates built an invalid record (module bug): %s' % exc)
    selected = [u for u in updates if u['security']] if params['security_only'] else updates
    return dict(changed=changed, manager=manager, updates=selected, pending_total=len(updates),
                security_total=sum(1 for u in updates if u['security']), removals=removals,
                reboot_required=required, reboot_reasons=reasons, services=services,
                services_known=known, refreshed=refreshed, list_seconds=round(time.time() - started, 2))


def main():
    run_module()


if __name__ == '__main__':
    main()
