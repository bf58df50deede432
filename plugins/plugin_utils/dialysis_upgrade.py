# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Upgrades and rollbacks of a system's application (contract clause R11): the settings
check of the upgrade role and the one ``upgrade`` (or ``rollback``) record of a run,
built on the controller from what the role registered (roles/upgrade/README.md).

The record carries, beside its items, at record level what the monthly report's changes
section and the upgrade record document read: ``ticket``, ``reason``, ``outcome``,
``version_from``, ``version_to``, ``hosts``, ``modules_changed``, ``downtime_seconds``.
Outcomes:
  upgraded                    the new release runs on every app host, healthy after the
                              service took writes again
  rolled_back_automatically   a check failed before the point of no return; code and
                              database are back on the old release, healthy again
  rollback_failed             the automatic rollback did not bring the old release back
                              healthy: an engineer must act now
  unhealthy_after_reopen      past the point of no return (the new release took writes)
                              a check failed: rollback is a decision (playbooks/rollback.yml)
  rolled_back                 rollback.yml brought the release the manifest named back
  failed                      stopped before anything changed (precondition, backup, stage)
"""

from __future__ import absolute_import, division, print_function

import re

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import (
    SYSTEMS,
    make_item,
    make_record,
)

__metaclass__ = type

OUTCOMES = (
    'upgraded',
    'rolled_back_automatically',
    'rollback_failed',
    'unhealthy_after_reopen',
    'rolled_back',
    'failed',
)
OUTCOME_STATUS = {
    'upgraded': 'ok',
    'rolled_back': 'ok',
    'rolled_back_automatically': 'warning',
    'failed': 'warning',
    'rollback_failed': 'critical',
    'unhealthy_after_reopen': 'critical',
}
VERSION = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$')
DB_METHODS = ('auto', 'down', 'restore')


def _num(value):
    return not isinstance(value, bool) and isinstance(value, (int, float))


def settings_errors(settings, kind='upgrade'):
    """Sentences naming each bad setting, its value and the expected form ([] when valid)."""
    errors = []
    key = 'upgrade_version' if kind == 'upgrade' else 'upgrade_rollback_version'
    version = settings.get(key)
    if version in (None, '') and kind == 'upgrade':
        errors.append('upgrade_version: required - the release to upgrade to, such as 1.1')
    elif version not in (None, '') and not VERSION.match(str(version)):
        errors.append(
            '%s: expected a release name such as 1.1 (letters, digits, . _ -), got %r' % (key, version)
        )
    system = settings.get('upgrade_system')
    if system not in SYSTEMS or system == 'shared':
        errors.append(
            'upgrade_system: expected one of hemodialysis, ckd, pd (the system whose app is upgraded), '
            'got %r' % (system,)
        )
    reason = settings.get('upgrade_reason')
    if not isinstance(reason, str) or len(reason.strip()) < 8:
        errors.append(
            'upgrade_reason: expected why the %s is made, as text of at least 8 characters (recorded), '
            'got %r' % (kind, reason)
        )
    for key in ('upgrade_health_wait', 'upgrade_lock_wait', 'upgrade_collector_max_age'):
        value = settings.get(key)
        if value is not None and (not _num(value) or value < 0):
            errors.append('%s: expected a number of seconds >= 0, got %r' % (key, value))
    fail_after = settings.get('upgrade_health_fail_after')
    if fail_after is not None and (
        isinstance(fail_after, bool) or not isinstance(fail_after, int) or fail_after < 0
    ):
        errors.append(
            'upgrade_health_fail_after: expected a whole number of consecutive unhealthy answers >= 0 '
            '(0 = wait the whole upgrade_health_wait), got %r' % (fail_after,)
        )
    interval = settings.get('upgrade_health_interval')
    if interval is not None and (not _num(interval) or interval <= 0):
        errors.append('upgrade_health_interval: expected a number of seconds > 0, got %r' % (interval,))
    method = settings.get('upgrade_database_rollback')
    if method is not None and method not in DB_METHODS:
        errors.append(
            'upgrade_database_rollback: expected one of %s, got %r' % (', '.join(DB_METHODS), method)
        )
    apps = settings.get('upgrade_app_hosts')
    if apps is not None and (
        not isinstance(apps, list) or not apps or not all(isinstance(h, str) for h in apps)
    ):
        errors.append(
            'upgrade_app_hosts: expected a non-empty list of inventory host names (the play\'s app hosts '
            'by default), got %r' % (apps,)
        )
    db_host = settings.get('upgrade_db_host')
    if db_host is not None and (not isinstance(db_host, str) or not db_host):
        errors.append(
            'upgrade_db_host: expected the inventory name of the database host, got %r' % (db_host,)
        )
    release_dir = settings.get('upgrade_release_dir')
    if kind == 'upgrade' and (not isinstance(release_dir, str) or not release_dir.startswith('/')):
        errors.append(
            'upgrade_release_dir: expected an absolute directory on the controller holding '
            'dialysis-service-<version>.tar.gz, got %r' % (release_dir,)
        )
    return errors


def _health_item(host, health, when):
    if not isinstance(health, dict) or 'healthy' not in health:
        return make_item(
            'health:%s' % host,
            None,
            'skipped',
            'No health check %s on %s' % (when, host),
            reason='not_checked',
        )
    failed = [c for c in health.get('checks') or [] if isinstance(c, dict) and not c.get('ok')]
    return make_item(
        'health:%s' % host,
        bool(health.get('healthy')),
        'ok' if health.get('healthy') else 'critical',
        'Healthy %s (%s)' % (when, ', '.join(c.get('name', '?') for c in health.get('checks') or []))
        if health.get('healthy')
        else 'Not healthy %s: %s'
        % (when, '; '.join('%s: %s' % (c.get('name'), c.get('detail')) for c in failed)),
        reason=None if health.get('healthy') else 'unhealthy',
    )


def _round(value):
    return round(float(value), 1) if _num(value) else None


CHECK_VERDICTS = ('answered_unhealthy', 'never_answered', 'unhealthy')


def check_failures_of(failures):
    """The failed post-switch health checks of a run, in order, with their figures as numbers:
    [{host, version, verdict, answers, answered_rounds, rounds, waited_seconds, health_wait,
    fail_after, detail}]; verdict answered_unhealthy (stopped early after FAIL_AFTER answers in a
    row), never_answered (no HTTP answer within the health wait) or unhealthy (answered at times,
    never healthy within it)."""
    out = []
    for failure in failures or []:
        if not isinstance(failure, dict):
            continue
        entry = {
            'host': failure.get('host'),
            'version': None if failure.get('version') is None else str(failure.get('version')),
            'verdict': failure.get('verdict') if failure.get('verdict') in CHECK_VERDICTS else 'unhealthy',
            'detail': failure.get('detail'),
        }
        for key in ('answers', 'answered_rounds', 'rounds', 'health_wait', 'fail_after'):
            value = failure.get(key)
            entry[key] = int(float(value)) if _num(value) or str(value).isdigit() else None
        entry['waited_seconds'] = _round(failure.get('waited_seconds'))
        out.append(entry)
    return out


def check_failure_text(failure):
    """One failed check in words (English: the record's item text)."""
    if failure['verdict'] == 'answered_unhealthy':
        return (
            '%s answered unhealthy %s times in a row on %s: failed after %s s, not the whole %s s health wait'
            % (failure['host'], failure['answers'], failure['version'], failure['waited_seconds'],
               failure['health_wait'])
        )
    if failure['verdict'] == 'never_answered':
        return '%s never answered on %s within the %s s health wait' % (
            failure['host'], failure['version'], failure['health_wait'])
    return '%s answered on %s but never passed its checks within the %s s health wait' % (
        failure['host'], failure['version'], failure['health_wait'])


def build_upgrade_record(
    kind,
    system,
    outcome,
    version_from,
    version_to,
    hosts,
    ticket=None,
    reason=None,
    release=None,
    migration=None,
    backup=None,
    health_after=None,
    collector=None,
    timings=None,
    rollback=None,
    failure=None,
    recovered=None,
    risk=None,
    check_failures=None,
):
    """The record of one upgrade or rollback run; (record, summary text).

    RELEASE: the target's release.json (modules_changed, notes, migrations_added, schema);
    MIGRATION: {schema_before, schema_after, applied, undone, method}; BACKUP: {path, sha256,
    size_bytes, entries, verified, seconds}; HEALTH_AFTER: {host: health_check result};
    COLLECTOR: {ok, age_seconds, detail}; TIMINGS: {maintenance_seconds, rollback_seconds,
    started, ended}; ROLLBACK: {trigger, method, to}; FAILURE: text of the failed check;
    RECOVERED: what an earlier killed run left and how it was put back; RISK: the run's
    upgrade_risk record (its verdict, reasons, gate and override are kept in metrics.risk
    and at record level as risk_verdict and risk_gate); CHECK_FAILURES: the failed post-switch
    health checks in order (check_failures_of; metrics.check_failures, and the first one's
    verdict at record level as health_check_verdict)."""
    if outcome not in OUTCOMES:
        raise ValueError('outcome: expected one of %s, got %r' % (', '.join(OUTCOMES), outcome))
    release = release or {}
    checks_failed = check_failures_of(check_failures)
    migration = migration or {}
    timings = timings or {}
    items = []
    status = OUTCOME_STATUS[outcome]
    change = '%s -> %s' % (version_from, version_to)
    sentence = {
        'upgraded': 'Upgraded %s' % change,
        'rolled_back': 'Rolled back %s' % change,
        'rolled_back_automatically': 'Upgrade %s failed its checks and was rolled back automatically to %s'
        % (change, version_from),
        'rollback_failed': 'Upgrade %s failed and the automatic rollback to %s did not bring it back healthy'
        % (change, version_from),
        'unhealthy_after_reopen': 'Upgraded %s, but a check failed after the service took writes again '
        '(past the point of no return)' % change,
        'failed': 'Upgrade %s stopped before the service was changed' % change,
    }[outcome]
    if failure:
        sentence += ': %s' % failure
    items.append(
        make_item('%s:version' % kind, change, status, sentence, reason=None if status == 'ok' else outcome)
    )
    if recovered:
        items.append(
            make_item(
                '%s:recovered' % kind,
                recovered.get('state'),
                'warning',
                'An earlier run stopped in state %s (%s); %s'
                % (recovered.get('state'), recovered.get('run_id'), recovered.get('action')),
                reason='interrupted_run',
            )
        )
    if backup:
        verified = bool(backup.get('verified'))
        items.append(
            make_item(
                '%s:backup' % kind,
                backup.get('path'),
                'ok' if verified else 'critical',
                'Backup taken and checked (pg_restore --list: %s entries, sha256 %s, %s bytes)'
                % (backup.get('entries'), str(backup.get('sha256'))[:16], backup.get('size_bytes'))
                if verified
                else 'Backup not verified: %s' % backup.get('error', 'unknown'),
                reason=None if verified else 'backup_unverified',
            )
        )
    elif kind == 'upgrade' and migration.get('applied'):
        items.append(
            make_item(
                '%s:backup' % kind,
                None,
                'critical',
                'Migrated without a checked backup',
                reason='backup_missing',
            )
        )
    if migration:
        applied, undone = list(migration.get('applied') or []), list(migration.get('undone') or [])
        text = 'Database schema %s -> %s' % (migration.get('schema_before'), migration.get('schema_after'))
        if applied:
            text += '; applied %s' % ', '.join(applied)
        if undone:
            text += '; undone %s (%s)' % (', '.join(undone), migration.get('method') or 'down migration')
        elif migration.get('method') == 'restore':
            text += '; restored from the pre-migration backup'
        items.append(
            make_item(
                '%s:database' % kind,
                migration.get('schema_after'),
                'ok' if outcome != 'rollback_failed' else 'critical',
                text,
            )
        )
    if rollback:
        items.append(
            make_item(
                '%s:rollback' % kind,
                rollback.get('to'),
                'ok' if outcome != 'rollback_failed' else 'critical',
                'Rolled back to %s (%s) in %s s after: %s%s'
                % (
                    rollback.get('to'),
                    rollback.get('method'),
                    _round(timings.get('rollback_seconds')),
                    rollback.get('trigger'),
                    ' (%s)' % check_failure_text(checks_failed[0]) if checks_failed else '',
                ),
            )
        )
    for host in hosts:
        items.append(_health_item(host, (health_after or {}).get(host), 'after the run'))
    if collector:
        if collector.get('ok') is None:
            items.append(
                make_item(
                    '%s:collector' % kind,
                    None,
                    'skipped',
                    collector.get('detail') or 'Collector not checked',
                    reason='not_checked',
                )
            )
        else:
            items.append(
                make_item(
                    '%s:collector' % kind,
                    _round(collector.get('age_seconds')),
                    'ok' if collector['ok'] else 'critical',
                    'Newest machine reading %s s old%s'
                    % (
                        _round(collector.get('age_seconds')),
                        '' if collector['ok'] else ' - the collector stopped writing',
                    ),
                    unit='s',
                    reason=None if collector['ok'] else 'collector_silent',
                )
            )
    metrics = {
        'release': dict(
            (k, release.get(k))
            for k in ('version', 'date', 'schema', 'migrations_added', 'features', 'notes')
            if k in release
        ),
        'migration': migration,
        'backup': backup or None,
        'timings': timings,
        'health_after': dict(
            (
                h,
                {
                    'healthy': (v or {}).get('healthy'),
                    'checks': dict(
                        (c.get('name'), bool(c.get('ok')))
                        for c in (v or {}).get('checks') or []
                        if isinstance(c, dict)
                    ),
                    'values': dict(
                        (c.get('name'), c.get('values'))
                        for c in (v or {}).get('checks') or []
                        if isinstance(c, dict) and c.get('values')
                    ),
                },
            )
            for h, v in (health_after or {}).items()
        ),
        'collector': collector or None,
        'rollback': rollback or None,
        'check_failures': checks_failed,
    }
    if risk and risk.get('verdict'):
        metrics['risk'] = dict(
            (k, risk.get(k))
            for k in (
                'verdict', 'gate', 'blockers', 'conditions', 'override_reason', 'operator', 'planned_at'
            )
            if risk.get(k) is not None
        )
        metrics['risk']['test'] = (risk.get('metrics') or {}).get('test')
        metrics['risk']['drill'] = (risk.get('metrics') or {}).get('drill')
        metrics['risk']['running'] = ((risk.get('metrics') or {}).get('guard') or {}).get('running')
    downtime = timings.get('maintenance_seconds')
    record = make_record(
        kind,
        system,
        items,
        metrics,
        ticket=ticket or None,
        reason=reason or None,
        outcome=outcome,
        version_from=version_from,
        version_to=version_to,
        hosts=list(hosts),
        modules_changed=list(release.get('modules_changed') or []) if kind == 'upgrade' else None,
        backup_verified=bool((backup or {}).get('verified')) if backup is not None else None,
        downtime_seconds=_round(downtime),
        action=kind,
        risk_verdict=(risk or {}).get('verdict'),
        risk_gate=(risk or {}).get('gate'),
        health_check_verdict=checks_failed[0]['verdict'] if checks_failed else None,
    )
    return record, sentence
