# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The risk assessment of an upgrade (升级风险评估, contract clause R11), controller side.

``assess`` turns what the upgrade role read (read-only) on the hosts, the release tarball,
the record store and the treatment-hours guard into one ``upgrade_risk`` record: one item
per aspect, each ``ok``, ``warning`` (a condition: go, but with it) or ``critical`` (a
blocker: no go), and at record level the verdict ``go`` / ``go_with_conditions`` /
``no_go`` with the blockers' and conditions' codes. ``gate`` applies it: a "no go" stops
the upgrade unless overridden with a reason and the operator's name (recorded in the
same record). Used by the action plugin ``upgrade_risk`` for playbooks/upgrade_risk.yml
and playbooks/upgrade.yml alike (one code path: the verdict the upgrade acts on is the one
the document shows).

Aspects (item ids): ``risk:versions`` (from -> to, the release known), ``risk:backup`` (the
newest backup of the database's backup set against its RPO), ``risk:drill`` (was a backup of
that set proven by a restore drill - the newest one, or one within the drill age limit),
``risk:disk:<host>`` (room for the release on each app host, for the pre-migration backup on
the database host), ``risk:guard`` (the treatment-hours guard at the planned time),
``risk:health:<host>`` and ``risk:collector`` (now), ``risk:reversibility`` (down-migrations
or a database restore), ``risk:test`` (the upgrade on the test environment), ``risk:plan``
(the rollback plan and its trigger).
"""

from __future__ import absolute_import, division, print_function

import datetime
import re
import zoneinfo

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import make_item, make_record
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_guard import decide
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_guard import plan as guard_plan
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import parse_time

__metaclass__ = type

VERDICTS = ('go', 'go_with_conditions', 'no_go')
GATES = ('assessed', 'passed', 'refused', 'overridden')
MIN_REASON = 8
PG_FORMATS = ('pg_dump_custom', 'pg_dump_directory', 'pg_basebackup')
DEFAULT_RPO_HOURS = 26.0


class RiskError(ValueError):
    """Bad input: the message names the variable and the expected form."""


def _num(value):
    return not isinstance(value, bool) and isinstance(value, (int, float))


def _version_key(version):
    return [int(p) if p.isdigit() else p for p in re.split(r'[.\-_]', str(version))]


def _older(a, b):
    try:
        return _version_key(a) < _version_key(b)
    except TypeError:
        return str(a) < str(b)


def parse_planned(text, tz, now):
    """The planned time as an aware UTC datetime: ``now`` when empty; an ISO time
    (``2026-12-08 22:30`` is read in ``tz``, the system's calendar's time zone)."""
    if text in (None, ''):
        return now
    try:
        when = datetime.datetime.fromisoformat(str(text).strip().replace('Z', '+00:00'))
    except ValueError:
        raise RiskError(
            'upgrade_risk_planned_at: expected the planned start as an ISO time such as '
            '"2026-12-08 22:30" (the hospital\'s time zone) or 2026-12-08T14:30:00Z, got %r' % (text,)
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.astimezone(datetime.timezone.utc)


def planned_guard(hosts, inventory_hosts, system, ticket, planned_at, now):
    """(planned time in UTC, the guard's verdict at it) from the treatment-hours guard's own
    plan and decide (dialysis_guard) over HOSTS ({name: {system, hours, check}}), without the
    live count of treatments: the guard takes that when the upgrade starts. The verdict is
    ``refused`` when the planned time is inside treatment hours or no live check is
    configured; a missing ticket is left as a reason (a condition)."""
    gplan, errors = guard_plan(hosts, inventory_hosts, ticket=ticket)
    if errors:
        raise RiskError('treatment-guard settings: ' + '; '.join(errors))
    entry = gplan['systems'].get(system) or next(iter(gplan['systems'].values()), None)
    tz = zoneinfo.ZoneInfo(entry['calendars'][0]['timezone']) if entry else datetime.timezone.utc
    planned = parse_planned(planned_at, tz, now)
    verdict = decide(gplan, {}, 'upgrade', now=planned)
    reasons = [r for r in verdict['reasons'] if r != 'check_unavailable']
    out = verdict['systems'].get(system) or {}
    return planned, {
        'decision': 'refused' if set(reasons) & {'in_shift', 'check_missing'} else 'allowed',
        'reasons': reasons,
        'planned': planned.astimezone(tz).strftime('%Y-%m-%d %H:%M'),
        'in_shift': out.get('in_shift'),
        'source': out.get('check_source'),
        'calendar': {'timezone': out.get('timezone'), 'days': out.get('days'), 'hours': out.get('hours')},
    }


def override_errors(reason, operator):
    """Sentences naming what is wrong with an override ([] when none is given or it is valid)."""
    if reason in (None, '') and operator in (None, ''):
        return []
    errors = []
    if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON:
        errors.append(
            'upgrade_risk_override_reason: an override of a "no go" needs a reason of at least %d '
            'characters (why the upgrade cannot wait until the blockers are gone), got %r'
            % (MIN_REASON, reason)
        )
    if not isinstance(operator, str) or not operator.strip():
        errors.append(
            'upgrade_risk_override_operator: an override needs the name of the operator who takes '
            'responsibility for it, got %r' % (operator,)
        )
    return errors


def backup_set(sets, database):
    """The backup set of DATABASE (a PostgreSQL format; one with restore settings first), or None."""
    found = [
        s
        for s in sets or []
        if isinstance(s, dict) and s.get('database') == database and s.get('format') in PG_FORMATS
    ]
    found.sort(key=lambda s: (0 if s.get('restore') else 1, str(s.get('name'))))
    return found[0] if found else None


def newest_backup(find_result):
    """{name, path, mtime, size} of the newest file a find task listed, or None."""
    files = [
        f
        for f in (find_result or {}).get('files') or []
        if isinstance(f, dict)
        and not str(f.get('path', '')).endswith(('.sha256', '.counts.json', '.json', '.log'))
    ]
    if not files:
        return None
    newest = max(files, key=lambda f: (f.get('mtime') or 0, f.get('path')))
    path = str(newest.get('path'))
    return {
        'name': path.rsplit('/', 1)[-1],
        'path': path,
        'mtime': newest.get('mtime'),
        'size': newest.get('size'),
    }


def _drill_time(record):
    context = record.get('context') or {}
    return parse_time(context.get('ended') or context.get('started'))


def _iso(when):
    return when.strftime('%Y-%m-%dT%H:%M:%SZ') if when else None


class _Items(object):
    def __init__(self):
        self.items = []
        self.blockers = []
        self.conditions = []

    def add(self, item, value, status, message, reason=None, **extra):
        self.items.append(make_item(item, value, status, message, reason=reason, **extra))
        if status == 'critical' and reason not in self.blockers:
            self.blockers.append(reason)
        elif status == 'warning' and reason not in self.conditions:
            self.conditions.append(reason)


def assess(facts, now=None):
    """The ``upgrade_risk`` record of FACTS and its summary sentence.

    facts: system, version_from, version_to, running [versions], operation (an open manifest
    operation or None), apps [hosts], db_host, release (release.json of the target or {}),
    release_known (bool), down [migration versions with a down file], applied [versions in the
    database], schema_now, tarball_size, app_free {host: bytes}, db_space {database_bytes,
    free_bytes} or None, health {host: health_check result}, collector {ok, age_seconds, detail},
    backup_set (the set or None), backup (newest backup or None), backup_error, drills [records
    of the set, any order], drill_max_age_days, guard {decision, reasons, planned, in_shift,
    source, systems}, test {hosts, records}, database_rollback, health_wait, health_fail_after, planned_at
    (datetime), ticket, reason."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    out = _Items()
    system = facts['system']
    v_from, v_to = str(facts.get('version_from')), str(facts.get('version_to'))
    release = facts.get('release') or {}
    applied = list(facts.get('applied') or [])
    pending = [m for m in release.get('migrations') or [] if m not in applied]
    metrics = {
        'planned_at': _iso(facts.get('planned_at')),
        'assessed_at': _iso(now),
        'release': dict(
            (k, release.get(k))
            for k in ('version', 'date', 'schema', 'migrations_added', 'features', 'notes', 'modules_changed')
            if k in release
        ),
        'pending': pending,
        'schema_now': facts.get('schema_now'),
    }

    # versions
    running = list(facts.get('running') or [])
    operation = facts.get('operation') if isinstance(facts.get('operation'), dict) else None
    if not facts.get('release_known'):
        out.add(
            'risk:versions',
            '%s -> %s' % (v_from, v_to),
            'critical',
            'Release %s is neither on the controller (tarball) nor installed: its notes and migrations '
            'cannot be assessed' % v_to,
            reason='no_release',
        )
    elif len(set(running)) > 1 and not operation:
        out.add(
            'risk:versions',
            '%s -> %s' % (v_from, v_to),
            'critical',
            'The app hosts run different releases (%s) and no operation is open: bring them to one '
            'release first' % ', '.join(running),
            reason='mixed_releases',
        )
    elif _older(v_to, v_from):
        out.add(
            'risk:versions',
            '%s -> %s' % (v_from, v_to),
            'critical',
            '%s is older than the running %s: that is a rollback (playbooks/rollback.yml)' % (v_to, v_from),
            reason='older_target',
        )
    elif v_from == v_to and not pending:
        out.add(
            'risk:versions',
            '%s -> %s' % (v_from, v_to),
            'ok',
            '%s already runs %s with nothing to migrate: nothing to do' % (system, v_to),
            reason='nothing_to_do',
        )
    else:
        out.add(
            'risk:versions',
            '%s -> %s' % (v_from, v_to),
            'ok',
            'Upgrade %s -> %s: %d module(s) changed, migrations pending: %s'
            % (v_from, v_to, len(release.get('modules_changed') or []), ', '.join(pending) or 'none'),
        )
    metrics['versions'] = {
        'from': v_from,
        'to': v_to,
        'running': running,
        'operation': dict((k, operation.get(k)) for k in ('kind', 'state', 'from', 'to', 'run_id'))
        if operation
        else None,
    }

    # the newest backup against the RPO
    bset = facts.get('backup_set')
    newest = facts.get('backup')
    rpo = DEFAULT_RPO_HOURS
    backup_metrics = {'set': None}
    if not bset:
        out.add(
            'risk:backup',
            None,
            'critical',
            'No backup set of the database on %s (dialysis_backup_sets with database %s): nothing '
            'proves the data can be restored' % (facts.get('db_host'), facts.get('database')),
            reason='no_backup_set',
        )
    else:
        try:
            rpo = float(bset.get('rpo_hours') or DEFAULT_RPO_HOURS)
        except (TypeError, ValueError):
            rpo = DEFAULT_RPO_HOURS
        backup_metrics = {'set': bset.get('name'), 'rpo_hours': rpo, 'directory': bset.get('directory')}
        if not newest or not _num(newest.get('mtime')):
            out.add(
                'risk:backup',
                None,
                'critical',
                'No backup in %s (%s)%s'
                % (
                    bset.get('directory'),
                    bset.get('pattern'),
                    ': %s' % facts['backup_error'] if facts.get('backup_error') else '',
                ),
                reason='no_backup',
                threshold={'critical': rpo},
                unit='h',
            )
        else:
            taken = datetime.datetime.fromtimestamp(newest['mtime'], datetime.timezone.utc)
            age = round(max(0.0, (now - taken).total_seconds()) / 3600.0, 2)
            backup_metrics.update(
                newest=newest['name'], taken=_iso(taken), age_hours=age, size_bytes=newest.get('size')
            )
            if age > rpo:
                out.add(
                    'risk:backup',
                    age,
                    'critical',
                    'The newest backup %s is %g h old, beyond the RPO of %g h: take a backup first'
                    % (newest['name'], age, rpo),
                    reason='too_old',
                    unit='h',
                    threshold={'critical': rpo},
                )
            else:
                out.add(
                    'risk:backup',
                    age,
                    'ok',
                    'The newest backup %s is %g h old (RPO %g h)' % (newest['name'], age, rpo),
                    unit='h',
                    threshold={'critical': rpo},
                )
    metrics['backup'] = backup_metrics

    # proven by a restore drill
    drills = sorted((d for d in facts.get('drills') or [] if isinstance(d, dict)), key=_drill_time)
    passed = [d for d in drills if d.get('outcome') == 'ok']
    max_age = float(facts.get('drill_max_age_days') or 31)
    drill_metrics = {'drills': len(drills), 'max_age_days': max_age}
    if bset:
        last_passed = passed[-1] if passed else None
        last = drills[-1] if drills else None
        if last_passed:
            when = _drill_time(last_passed)
            days = round((now - when).total_seconds() / 86400.0, 1)
            drill_metrics.update(
                time=_iso(when),
                backup=last_passed.get('backup'),
                age_days=days,
                rto_seconds=last_passed.get('rto_seconds'),
                rpo_hours=last_passed.get('rpo_hours'),
            )
        if last is not None and last.get('outcome') != 'ok':
            drill_metrics.update(failed_time=_iso(_drill_time(last)), failed_outcome=last.get('outcome'))
            out.add(
                'risk:drill',
                last.get('outcome'),
                'critical',
                'The newest restore drill of %s (%s) did not succeed (%s): the restore is not proven'
                % (bset.get('name'), _iso(_drill_time(last)), last.get('outcome')),
                reason='drill_failed',
            )
        elif not last_passed:
            out.add(
                'risk:drill',
                None,
                'critical',
                'No backup of %s was ever restore-tested (no successful restore drill in the record store): '
                'run playbooks/restore_drill.yml first' % bset.get('name'),
                reason='never_drilled',
            )
        elif newest and last_passed.get('backup') == newest.get('name'):
            out.add(
                'risk:drill',
                drill_metrics['age_days'],
                'ok',
                'The newest backup %s was restored by the drill of %s (RTO %s s)'
                % (newest['name'], drill_metrics['time'], last_passed.get('rto_seconds')),
                unit='days',
            )
        elif drill_metrics['age_days'] > max_age:
            out.add(
                'risk:drill',
                drill_metrics['age_days'],
                'critical',
                'The last successful restore drill of %s was %g days ago (limit %g): the restore is not '
                'proven recently' % (bset.get('name'), drill_metrics['age_days'], max_age),
                reason='drill_too_old',
                unit='days',
                threshold={'critical': max_age},
            )
        else:
            out.add(
                'risk:drill',
                drill_metrics['age_days'],
                'warning',
                'The newest backup itself was not restore-tested; %s (same set) was, %g days ago'
                % (last_passed.get('backup'), drill_metrics['age_days']),
                reason='newest_not_drilled',
                unit='days',
                threshold={'critical': max_age},
            )
    metrics['drill'] = drill_metrics

    # free disk
    size = facts.get('tarball_size')
    need = 3 * size if _num(size) else None
    disk_metrics = {'release_need_bytes': need, 'app_free_bytes': dict(facts.get('app_free') or {})}
    for host in facts.get('apps') or []:
        free = (facts.get('app_free') or {}).get(host)
        if not _num(free) or need is None:
            out.add(
                'risk:disk:%s' % host,
                free,
                'ok' if need is None and _num(free) else 'warning',
                'Free space for the release on %s: %s bytes (the release is installed already)' % (host, free)
                if need is None and _num(free)
                else 'Free space on %s not read' % host,
                reason=None if need is None and _num(free) else 'not_read',
                unit='bytes',
            )
        elif free < need:
            out.add(
                'risk:disk:%s' % host,
                free,
                'critical',
                '%s has %d bytes free; the release needs %d (three times its tarball)' % (host, free, need),
                reason='no_space_release',
                unit='bytes',
                need_bytes=need,
            )
        else:
            out.add(
                'risk:disk:%s' % host,
                free,
                'ok',
                '%s has %d bytes free; the release needs %d' % (host, free, need),
                unit='bytes',
                need_bytes=need,
            )
    space = facts.get('db_space') or {}
    disk_metrics['database_bytes'] = space.get('database_bytes')
    disk_metrics['backup_free_bytes'] = space.get('free_bytes')
    db_host = facts.get('db_host')
    if pending:
        if not _num(space.get('free_bytes')) or not _num(space.get('database_bytes')):
            out.add(
                'risk:disk:%s' % db_host,
                None,
                'warning',
                'Free space for the pre-migration backup not read',
                reason='not_read',
                unit='bytes',
            )
        elif space['free_bytes'] < space['database_bytes']:
            out.add(
                'risk:disk:%s' % db_host,
                space['free_bytes'],
                'critical',
                '%s has %d bytes free for the pre-migration backup; the database is %d bytes'
                % (db_host, space['free_bytes'], space['database_bytes']),
                reason='no_space_backup',
                unit='bytes',
                need_bytes=space['database_bytes'],
            )
        else:
            out.add(
                'risk:disk:%s' % db_host,
                space['free_bytes'],
                'ok',
                '%s has %d bytes free for the pre-migration backup (database %d bytes)'
                % (db_host, space['free_bytes'], space['database_bytes']),
                unit='bytes',
                need_bytes=space['database_bytes'],
            )
    metrics['disk'] = disk_metrics

    # the treatment-hours guard at the planned time
    guard = facts.get('guard') or {}
    reasons = list(guard.get('reasons') or [])
    metrics['guard'] = dict(
        (k, guard.get(k))
        for k in ('decision', 'reasons', 'planned', 'in_shift', 'running', 'source', 'calendar')
    )
    if metrics['guard']['running'] is None:
        # this run's guard verdict: its live count of the treatments running (the users affected)
        metrics['guard']['running'] = ((guard.get('systems') or {}).get(system) or {}).get('running')
    if guard.get('decision') == 'refused' or 'in_shift' in reasons or 'check_missing' in reasons:
        code = (
            'in_shift'
            if 'in_shift' in reasons
            else 'check_missing'
            if 'check_missing' in reasons
            else (reasons or ['guard_refused'])[0]
        )
        out.add(
            'risk:guard',
            guard.get('decision') or 'refused',
            'critical',
            'The treatment-hours guard will refuse the upgrade at the planned time (%s)' % ', '.join(reasons),
            reason='guard_' + code if not code.startswith('guard_') else code,
        )
    elif guard.get('decision') == 'overridden':
        out.add(
            'risk:guard',
            'overridden',
            'warning',
            'The treatment-hours guard was overridden for this run (%s)' % ', '.join(reasons),
            reason='guard_overridden',
        )
    elif 'no_ticket' in reasons:
        out.add(
            'risk:guard',
            'allowed',
            'warning',
            'Outside treatment hours at the planned time, but no change ticket is named yet (the guard '
            'refuses a run without one)',
            reason='guard_no_ticket',
        )
    else:
        out.add(
            'risk:guard',
            'allowed',
            'ok',
            'Outside treatment hours at the planned time (%s)' % (guard.get('planned') or 'now'),
        )

    # health now
    health = facts.get('health') or {}
    unhealthy = []
    for host in facts.get('apps') or []:
        result = health.get(host) or {}
        failed = [c for c in result.get('checks') or [] if isinstance(c, dict) and not c.get('ok')]
        if result.get('healthy'):
            out.add('risk:health:%s' % host, True, 'ok', '%s healthy on %s' % (host, v_from))
        elif operation:
            out.add(
                'risk:health:%s' % host,
                False,
                'warning',
                '%s not healthy: an interrupted %s (%s) is open; the upgrade puts it back first and checks '
                'again' % (host, operation.get('kind'), operation.get('state')),
                reason='interrupted_run',
            )
        else:
            unhealthy.append(host)
            out.add(
                'risk:health:%s' % host,
                False,
                'critical',
                '%s not healthy now: %s'
                % (
                    host,
                    '; '.join('%s: %s' % (c.get('name'), c.get('detail')) for c in failed) or 'not checked',
                ),
                reason='unhealthy',
            )
    collector = facts.get('collector') or {}
    if collector.get('ok') is True:
        out.add(
            'risk:collector',
            collector.get('age_seconds'),
            'ok',
            'The collector writes (newest reading %s s old)' % collector.get('age_seconds'),
            unit='s',
        )
    elif collector.get('ok') is False:
        out.add(
            'risk:collector',
            collector.get('age_seconds'),
            'warning',
            'The collector is not writing now (newest reading %s s old): the upgrade cannot check that it '
            'still writes afterwards' % collector.get('age_seconds'),
            reason='collector_silent',
            unit='s',
        )
    metrics['health'] = dict((h, bool((health.get(h) or {}).get('healthy'))) for h in facts.get('apps') or [])
    metrics['collector'] = collector or None

    # reversibility and the rollback plan
    down = set(facts.get('down') or [])
    method_setting = facts.get('database_rollback') or 'auto'
    undoable = bool(pending) and all(m in down for m in pending)
    if not pending:
        method = 'none'
        out.add('risk:reversibility', 'none', 'ok', 'No migration: going back switches the code only')
    elif undoable and method_setting != 'restore':
        method = 'down'
        out.add(
            'risk:reversibility',
            'down',
            'ok',
            'Every pending migration (%s) has a down-migration' % ', '.join(pending),
        )
    elif method_setting == 'down':
        method = 'down'
        out.add(
            'risk:reversibility',
            'down',
            'critical',
            'upgrade_database_rollback is down, but %s has no down-migration: the automatic rollback would '
            'fail' % ', '.join(m for m in pending if m not in down),
            reason='down_missing',
        )
    else:
        method = 'restore'
        out.add(
            'risk:reversibility',
            'restore',
            'warning',
            'Going back needs a restore of the pre-migration backup (%s): the collector\'s readings written '
            'during the upgrade are lost; the last drill restored in %s s'
            % (
                'upgrade_database_rollback is restore'
                if undoable
                else 'no down-migration for %s' % ', '.join(m for m in pending if m not in down),
                drill_metrics.get('rto_seconds'),
            ),
            reason='restore_needed',
        )
    metrics['reversibility'] = {
        'method': method,
        'pending': pending,
        'down': sorted(down & set(pending)),
        'setting': method_setting,
        'restore_estimate_seconds': drill_metrics.get('rto_seconds'),
    }
    metrics['plan'] = {
        'method': method,
        'to': v_from,
        'health_wait': facts.get('health_wait'),
        'fail_after': facts.get('health_fail_after') or 0,
        'trigger': 'health_check',
    }
    out.add(
        'risk:plan',
        method,
        'ok',
        'Automatic rollback to %s (%s) when a health check fails within %s s of a switch (at once after %s '
        'unhealthy answers in a row), before the point of no return; after it, playbooks/rollback.yml by '
        'decision' % (v_from, method, facts.get('health_wait'), facts.get('health_fail_after') or 'no'),
    )

    # the test environment
    test = facts.get('test') or {}
    test_hosts = list(test.get('hosts') or [])
    apps = list(facts.get('apps') or [])
    test_metrics = {'hosts': test_hosts}
    if not test_hosts:
        out.add(
            'risk:test',
            None,
            'warning',
            'No test environment in the inventory (upgrade_test_hosts): the upgrade was not tried first',
            reason='no_test_environment',
        )
    elif apps and set(apps) <= set(test_hosts):
        out.add('risk:test', 'test', 'ok', 'This is the test environment')
        test_metrics['is_test'] = True
    else:
        tried = sorted(
            (
                r
                for r in test.get('records') or []
                if isinstance(r, dict)
                and str(r.get('version_to')) == v_to
                and r.get('kind') == 'upgrade'
                and set(r.get('hosts') or []) <= set(test_hosts)
            ),
            key=_drill_time,
        )
        if not tried:
            out.add(
                'risk:test',
                None,
                'critical',
                'Release %s was not upgraded on the test environment (%s) yet'
                % (v_to, ', '.join(test_hosts)),
                reason='not_tested',
            )
        else:
            last = tried[-1]
            test_metrics.update(
                time=_iso(_drill_time(last)),
                outcome=last.get('outcome'),
                version_from=last.get('version_from'),
            )
            if last.get('outcome') == 'upgraded':
                out.add(
                    'risk:test',
                    'upgraded',
                    'ok',
                    'Upgraded to %s on the test environment on %s' % (v_to, test_metrics['time']),
                )
            else:
                out.add(
                    'risk:test',
                    last.get('outcome'),
                    'critical',
                    'The upgrade to %s on the test environment '
                    'on %s ended %s' % (v_to, test_metrics['time'], last.get('outcome')),
                    reason='test_failed',
                )
    metrics['test'] = test_metrics

    if out.blockers:
        verdict = 'no_go'
    elif out.conditions:
        verdict = 'go_with_conditions'
    else:
        verdict = 'go'
    record = make_record(
        'upgrade_risk',
        system,
        out.items,
        metrics,
        verdict=verdict,
        blockers=out.blockers,
        conditions=out.conditions,
        version_from=v_from,
        version_to=v_to,
        hosts=apps,
        modules_changed=list(release.get('modules_changed') or []),
        planned_at=metrics['planned_at'],
        ticket=facts.get('ticket') or None,
        reason=facts.get('reason') or None,
        gate='assessed',
    )
    return record, summary(record)


def summary(record):
    """One paragraph for the engineer: verdict and why."""
    words = {'go': 'GO', 'go_with_conditions': 'GO WITH CONDITIONS', 'no_go': 'NO GO'}[record['verdict']]
    parts = [i['message'] for i in record['items'] if i['status'] == 'critical'] + [
        i['message'] for i in record['items'] if i['status'] == 'warning'
    ]
    return 'Upgrade risk assessment of %s %s -> %s: %s%s' % (
        record['system'],
        record['version_from'],
        record['version_to'],
        words,
        (' - ' + ' | '.join(parts)) if parts else '',
    )


def gate(record, override_reason=None, operator=None):
    """(record with gate set, refused?) for an upgrade that acts on RECORD's verdict."""
    record = dict(record)
    if record['verdict'] != 'no_go':
        record['gate'] = 'passed'
        return record, False
    if override_reason and operator:
        record.update(gate='overridden', override_reason=override_reason.strip(), operator=operator.strip())
        return record, False
    record['gate'] = 'refused'
    return record, True
