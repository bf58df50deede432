# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``restart`` record of one host (contract clause R2), built on the controller from
what the restart role registered: the health check before, the peers' health, the
restart or reboot itself and the health check after (``dialysis.ops.health_check``).

The record carries, beside its items, ``reason`` (the text given: why the host is
restarted), ``outcome``, ``ticket`` (the change ticket), ``action`` (restart or
reboot), ``targets`` and ``downtime_seconds`` - what the monthly report's changes
section reads. Outcomes (and the ``reason`` code of the item that says why when it
is not ``restarted``):
  restarted        every unit restarted (or the host rebooted) and came back healthy
  peer_unhealthy   not restarted: this host was healthy and a peer of its tier was not
                   (never take a healthy member down while its peer is down)
  restart_failed   the restart or reboot command itself failed
  not_back         restarted, but not healthy again within the wait
Downtime per unit is measured on the host with systemd's own clock: from the moment the
old instance left the active state (ActiveExitTimestampMonotonic) to the end of the
health-check round that found every check passing; for a reboot, the reboot's own
elapsed time plus the wait for health after it.
"""

from __future__ import absolute_import, division, print_function

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import make_item, make_record

__metaclass__ = type

OUTCOMES = ('restarted', 'peer_unhealthy', 'restart_failed', 'not_back')
UNIT_FACTS = ('started', 'started_epoch', 'started_monotonic', 'pid')


def _seconds(value):
    return round(value, 3) if value is not None else None


def _failed_checks(health):
    return [c for c in (health or {}).get('checks') or [] if isinstance(c, dict) and not c.get('ok')]


def _unit(health, unit):
    facts = ((health or {}).get('units') or {}).get(unit)
    return facts if isinstance(facts, dict) else {}


def unit_downtime(before, after, unit):
    """Seconds UNIT was out of service in this restart (None when it cannot be said):
    from the old instance's leaving the active state to the healthy round after."""
    facts = _unit(after, unit)
    stopped = facts.get('stopped_monotonic')
    started_before = _unit(before, unit).get('started_monotonic')
    healthy_at = (after or {}).get('monotonic')
    if not (after or {}).get('healthy') or not stopped or not healthy_at:
        return None
    if started_before and stopped < started_before:
        return None      # this stop is older than the instance seen before: not this restart's
    return max(0.0, (healthy_at - stopped) / 1000000.0)


def build_restart_record(system, reason, services, reboot, before, peers=None, action=None, after=None,
                         ticket=None):
    """(record, outcome). PEERS: [{host, healthy, msg}]; ACTION: the restart/reboot task's
    result ({failed, msg, elapsed}) or None when nothing was done; AFTER: the health check
    after it, or None."""
    peers = [p for p in peers or [] if isinstance(p, dict)]
    down_peers = sorted(p.get('host') for p in peers if not p.get('healthy'))
    healthy_before = bool((before or {}).get('healthy'))
    targets = ['reboot'] if reboot else list(services)
    items, units = [], {}

    if action is None and healthy_before and down_peers:
        outcome = 'peer_unhealthy'
    elif action is None or action.get('failed'):
        outcome = 'restart_failed'
    elif not (after or {}).get('healthy'):
        outcome = 'not_back'
    else:
        outcome = 'restarted'

    if peers:
        items.append(make_item(
            'restart:peers', down_peers, 'critical' if outcome == 'peer_unhealthy' else 'ok',
            'Peers of the tier not healthy: %s' % ', '.join(down_peers) if down_peers
            else 'Every peer of the tier was healthy (%s)' % ', '.join(sorted(p.get('host') for p in peers)),
            reason='peer_unhealthy' if outcome == 'peer_unhealthy' else None))

    downtimes = []
    reboot_elapsed = (action or {}).get('elapsed') if reboot else None
    for target in targets:
        if reboot:
            downtime = None
            if outcome == 'restarted' and isinstance(reboot_elapsed, (int, float)):
                downtime = reboot_elapsed + ((after or {}).get('waited') or 0)
        else:
            downtime = unit_downtime(before, after, target) if outcome == 'restarted' else None
            units[target] = {'before': dict((k, _unit(before, target).get(k)) for k in UNIT_FACTS),
                             'after': dict((k, _unit(after, target).get(k)) for k in UNIT_FACTS)
                             if after else None}
        downtimes.append(downtime)
        if outcome == 'restarted':
            status, code = 'ok', None
            message = '%s, healthy again after %s s' % ('Rebooted' if reboot else 'Restarted %s' % target,
                                                        _seconds(downtime) if downtime is not None else '?')
        elif outcome == 'peer_unhealthy':
            status, code = 'skipped', 'peer_unhealthy'
            message = 'Not %s: peer(s) %s not healthy' % ('rebooted' if reboot else 'restarted',
                                                          ', '.join(down_peers))
        elif outcome == 'restart_failed':
            status, code = 'critical', 'restart_failed'
            message = '%s failed: %s' % ('Reboot' if reboot else 'Restart of %s' % target,
                                         (action or {}).get('msg') or 'no restart was attempted')
        else:
            status, code = 'critical', 'not_back'
            message = '%s, but not healthy again after %s s: %s' % (
                'Rebooted' if reboot else 'Restarted %s' % target, _seconds((after or {}).get('waited')),
                '; '.join('%s: %s' % (c.get('name'), c.get('detail')) for c in _failed_checks(after)))
        after_facts = _unit(after, target) if not reboot else {}
        items.append(make_item(
            'restart:%s' % target, _seconds(downtime), status, message, unit='s', reason=code,
            started_before=_unit(before, target).get('started') if not reboot else None,
            started_after=after_facts.get('started') if after else None))

    # Checks after the restart that failed are findings of their own; the ones that
    # passed are in the metrics (checks_after), so a good restart reads as one line.
    for check in (after or {}).get('checks') or []:
        if not isinstance(check, dict) or check.get('ok'):
            continue
        items.append(make_item(
            'health_check:%s' % check.get('name'), bool(check.get('ok')),
            'ok' if check.get('ok') else 'critical', str(check.get('detail') or ''),
            reason=None if check.get('ok') else 'unhealthy'))

    known = [d for d in downtimes if d is not None]
    summary = {
        'reason': reason,
        'outcome': outcome,
        'ticket': ticket or None,
        'action': 'reboot' if reboot else 'restart',
        'targets': targets,
        'downtime_seconds': _seconds(max(known)) if known else None,
    }
    metrics = {
        'healthy_before': healthy_before,
        'failed_before': [c.get('name') for c in _failed_checks(before)],
        'peers': dict((p.get('host'), bool(p.get('healthy'))) for p in peers),
        'units': units,
        'downtime_seconds': dict((targets[n], _seconds(d)) for n, d in enumerate(downtimes)),
    }
    if after:
        metrics.update(healthy_after=bool(after.get('healthy')), waited=after.get('waited'),
                       checks_after=dict((c.get('name'), bool(c.get('ok'))) for c in after.get('checks') or []
                                         if isinstance(c, dict)),
                       healthy_at=after.get('checked_at') if after.get('healthy') else None,
                       healthy_monotonic=after.get('monotonic') if after.get('healthy') else None,
                       values=dict((c['name'], c['values']) for c in after.get('checks') or []
                                   if isinstance(c, dict) and c.get('values')))
    if reboot and action is not None:
        metrics['reboot_elapsed'] = reboot_elapsed
    record = make_record('restart', system, items, metrics, **summary)
    # the summary's null values stay (make_record leaves None out): a reader finds every key
    for key, value in summary.items():
        record.setdefault(key, value)
    return record, outcome
