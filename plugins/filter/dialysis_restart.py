# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side helpers of the restart role: its settings checked with sentences
naming the variable and the expected form, the health checks run before and after a
restart, and the peers of a host (the other hosts of the play in its system and tier)."""

from __future__ import absolute_import, division, print_function

import re

__metaclass__ = type

CHECK_KINDS = ('unit', 'url', 'port', 'process')
UNIT_NAME = re.compile(r'^[A-Za-z0-9@._:\\-]+$')
MAX_REASON = 500


def _is_text(value):
    return isinstance(value, str)


def _number(value, kind=int):
    """VALUE as a number of KIND (`-e name=10` gives the text '10'); None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and (kind is float or isinstance(value, int)):
        return value
    if isinstance(value, str):
        try:
            return kind(value.strip())
        except ValueError:
            return None
    return None


def restart_errors(settings):
    """Sentences naming what is wrong with the restart role's settings ([] when they are
    valid). SETTINGS: the role's variables (restart_reason, restart_services, ...)."""
    errors = []
    reason = settings.get('restart_reason')
    if not _is_text(reason) or not reason.strip():
        errors.append("restart_reason: expected the reason for this restart as text (the performance "
                      "analysis's restart decision, or why now), e.g. -e restart_reason='memory of "
                      "dialysis-service grows until it slows; restart decided in the 2026-Q4 analysis', "
                      'got %r' % (reason,))
    elif len(reason) > MAX_REASON:
        errors.append('restart_reason: expected at most %d characters, got %d' % (MAX_REASON, len(reason)))
    services = settings.get('restart_services')
    reboot = settings.get('restart_reboot')
    if not isinstance(services, list):
        errors.append('restart_services: expected a list of systemd units such as '
                      '[dialysis-service.service], got %r' % (services,))
        services = []
    for number, unit in enumerate(services):
        if not _is_text(unit) or not UNIT_NAME.match(unit):
            errors.append('restart_services[%d]: expected a systemd unit name such as '
                          'dialysis-service.service, got %r' % (number, unit))
    if not isinstance(reboot, bool):
        errors.append('restart_reboot: expected true or false, got %r' % (reboot,))
    elif reboot and services:
        errors.append('restart_services / restart_reboot: expected one of them - services to restart or '
                      'restart_reboot: true (a reboot restarts every service) - got both')
    elif not reboot and not services:
        errors.append('restart_services / restart_reboot: expected a list of units to restart '
                      '(restart_services: [dialysis-service.service]) or restart_reboot: true, got neither')
    checks = settings.get('restart_health_checks')
    if not isinstance(checks, list):
        errors.append('restart_health_checks: expected a list of checks of the health_check module, '
                      'e.g. [{name: http, url: "http://127.0.0.1:8080/health", json: {status: ok}}], got %r'
                      % (checks,))
        checks = []
    names = set()
    for number, check in enumerate(checks):
        where = 'restart_health_checks[%d]' % number
        if not isinstance(check, dict):
            errors.append('%s: expected a mapping such as {name: port, port: 8080}, got %r' % (where, check))
            continue
        if not _is_text(check.get('name')) or not check['name']:
            errors.append('%s.name: expected a short name of the check, got %r' % (where, check.get('name')))
        elif check['name'] in names:
            errors.append('%s.name: %r is used twice' % (where, check['name']))
        else:
            names.add(check['name'])
        kinds = [k for k in CHECK_KINDS if check.get(k) is not None]
        if len(kinds) != 1:
            errors.append('%s: expected exactly one of unit, url, port or process, got %s'
                          % (where, ', '.join(kinds) if kinds else 'none'))
    for name, minimum in (('restart_health_wait', 0), ('restart_peer_wait', 0),
                          ('restart_reboot_timeout', 1)):
        value = settings.get(name)
        number = _number(value)
        if number is None or number < minimum:
            errors.append('%s: expected a whole number of seconds >= %d, got %r' % (name, minimum, value))
    interval = settings.get('restart_health_interval')
    number = _number(interval, float)
    if number is None or not 0 < number <= 600:
        errors.append('restart_health_interval: expected seconds between 0 and 600, got %r' % (interval,))
    tiers = settings.get('restart_tiers')
    if not isinstance(tiers, list) or not all(_is_text(t) for t in tiers):
        errors.append('restart_tiers: expected a list of tier group names such as [app, db, interface], '
                      'got %r' % (tiers,))
    return errors


def restart_checks(health_checks, services):
    """The checks run before and after a restart: HEALTH_CHECKS, plus a unit check for
    each restarted unit they do not check already (its start time proves the restart)."""
    checks = [dict(c) for c in health_checks or [] if isinstance(c, dict)]
    covered = set(c.get('unit') for c in checks)
    names = set(c.get('name') for c in checks)
    for unit in services or []:
        if unit not in covered:
            name = unit if unit not in names else 'unit:' + unit
            checks.append({'name': name, 'unit': unit})
    return checks


def _tier(group_names, tiers):
    for tier in tiers or []:
        if tier in (group_names or []):
            return tier
    return None


def restart_peers(play_hosts, hostvars, host, tiers):
    """The other hosts of the play in HOST's system (dialysis_system) and tier (the first
    of TIERS among its groups); [] for a host in none of the tiers."""
    mine = hostvars[host]
    tier = _tier(mine.get('group_names'), tiers)
    if tier is None:
        return []
    system = mine.get('dialysis_system', 'shared')
    peers = []
    for other in play_hosts:
        if other == host:
            continue
        theirs = hostvars[other]
        same_system = theirs.get('dialysis_system', 'shared') == system
        if same_system and _tier(theirs.get('group_names'), tiers) == tier:
            peers.append(other)
    return peers


class FilterModule(object):
    def filters(self):
        return {
            'restart_errors': restart_errors,
            'restart_checks': restart_checks,
            'restart_peers': restart_peers,
        }
