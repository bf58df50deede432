# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The model and sections of 系统升级记录 (the upgrade record, contract clause R11),
declared in dialysis_doc_types: for the period, the version history per system (every
upgrade and rollback in order: 版本管理) and one table per upgrade or rollback with the
contract's fields - date, system, modules changed, version from -> to, reason, risk
assessment, backup taken and verified, test result, rollback plan and trigger, outcome,
how it runs afterwards (health after), scope of impact (hosts, downtime measured), the
change ticket and the operator - every value from the run's record
(plugins/plugin_utils/dialysis_upgrade.py)."""

from __future__ import absolute_import, division, print_function

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import ANOMALY_STATUSES
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_risk import (
    environment_text,
    risk_text,
)
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_spec import Column, Signatures, Table
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_i18n import format_number
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import parse_time

__metaclass__ = type

TIME_FORMAT = '%Y-%m-%d %H:%M'
KINDS = ('upgrade', 'rollback')

HISTORY_COLUMNS = [
    Column('time', 'col_change_time', 15),
    Column('system', 'col_system', 12),
    Column('event', 'col_event', 10),
    Column('versions', 'col_versions', 12),
    Column('outcome', 'col_outcome', 20, status=True),
    Column('downtime', 'col_downtime', 10),
    Column('ticket', 'col_ticket', 14),
    Column('operator', 'col_operator', 10),
]
FIELD_COLUMNS = [
    Column('field', 'col_field', 18),
    Column('value', 'col_value_text', 80),
]


def _seconds(t, value):
    return (
        t('upgrade_seconds', value=format_number(value))
        if isinstance(value, (int, float))
        else t('upgrade_none')
    )


def _health_text(t, metrics):
    parts = []
    for host, health in sorted((metrics.get('health_after') or {}).items()):
        values = (health.get('values') or {}).get('version') or {}
        state = t('upgrade_healthy') if health.get('healthy') else t('upgrade_unhealthy')
        parts.append(
            t(
                'upgrade_host_health',
                host=host,
                state=state,
                version=values.get('version') or t('value_unknown'),
                schema=values.get('database_schema') or t('value_unknown'),
            )
        )
    collector = metrics.get('collector') or {}
    if collector.get('ok') is True:
        parts.append(t('upgrade_collector_ok', age=format_number(collector.get('age_seconds'))))
    elif collector.get('ok') is False:
        parts.append(t('upgrade_collector_silent', age=format_number(collector.get('age_seconds'))))
    elif collector:
        parts.append(t('upgrade_collector_not_judged'))
    return t('sentence_join').join(parts) or t('upgrade_none')


def _backup_text(t, record):
    backup = (record.get('metrics') or {}).get('backup')
    if not backup:
        return t('upgrade_no_backup')
    if backup.get('verified'):
        return t(
            'upgrade_backup_verified',
            path=backup.get('path'),
            entries=backup.get('entries'),
            sha=str(backup.get('sha256'))[:16],
            size=format_number(backup.get('size_bytes')),
        )
    return t('upgrade_backup_unverified', path=backup.get('path') or '')


def _database_text(t, metrics):
    migration = metrics.get('migration') or {}
    text = t(
        'upgrade_schema',
        before=migration.get('schema_before') or t('value_unknown'),
        after=migration.get('schema_after') or t('value_unknown'),
    )
    parts = [text]
    if migration.get('applied'):
        parts.append(t('upgrade_applied', migrations=', '.join(migration['applied'])))
    if migration.get('undone'):
        parts.append(t('upgrade_undone', migrations=', '.join(migration['undone'])))
    elif migration.get('method') == 'restore':
        parts.append(t('upgrade_restored'))
    return t('sentence_join').join(parts)


def _users_text(t, record, metrics):
    """The users affected: every user of the system could only read while writes were refused,
    and the treatments running when the run started (the guard's live count, via the risk
    assessment)."""
    running = (metrics.get('risk') or {}).get('running')
    text = t('risk_scope_users', system=t.system(record.get('system')))
    if isinstance(running, int) and not isinstance(running, bool):
        text = t('sentence_join').join([text, t('risk_scope_running', running=running)])
    return text


def _outcome(t, record):
    key = 'outcome_%s' % record.get('outcome')
    if t.has(key):
        return t(key)
    return t('outcome_failed' if record.get('status') in ANOMALY_STATUSES else 'outcome_ok')


def _check_failure_text(t, failure):
    """One failed post-switch health check in words: answered unhealthy N times (failed at once)
    or never answered within the health wait."""
    verdict = failure.get('verdict')
    if verdict not in ('answered_unhealthy', 'never_answered'):
        verdict = 'unhealthy'
    key = 'upgrade_check_%s' % verdict
    return t(
        key,
        host=failure.get('host'),
        version=failure.get('version'),
        answers=format_number(failure.get('answers')),
        waited=format_number(failure.get('waited_seconds')),
        wait=format_number(failure.get('health_wait')),
    )


def _fields(t, record, tz):
    metrics = record.get('metrics') or {}
    rctx = record['context']
    kind = record['kind']
    rollback = metrics.get('rollback') or {}
    timings = metrics.get('timings') or {}
    recovered = [i for i in record.get('items') or [] if str(i.get('item', '')).endswith(':recovered')]
    checks_failed = [c for c in metrics.get('check_failures') or [] if isinstance(c, dict)]
    if kind == 'upgrade':
        plan = t('upgrade_plan')
        if rollback.get('trigger') and checks_failed:
            # The trigger as the check's verdict (why it failed), in the document's language.
            plan = t('sentence_join').join(
                [
                    plan,
                    t(
                        'upgrade_trigger',
                        trigger=_check_failure_text(t, checks_failed[0]),
                        method=t('upgrade_method_' + str(rollback.get('method'))),
                    ),
                ]
                + [_check_failure_text(t, c) for c in checks_failed[1:]]
            )
        elif rollback.get('trigger'):
            plan = t('sentence_join').join(
                [
                    plan,
                    t(
                        'upgrade_trigger',
                        trigger=rollback['trigger'],
                        method=t('upgrade_method_' + str(rollback.get('method'))),
                    ),
                ]
            )
    else:
        plan = t('sentence_join').join(
            [t('rollback_plan')] + [_check_failure_text(t, c) for c in checks_failed]
        )
    rows = [
        (
            'field_date',
            parse_time(rctx.get('ended') or rctx.get('started')).astimezone(tz).strftime(TIME_FORMAT),
        ),
        ('col_system', t.system(record.get('system'))),
        ('col_event', t('event_' + kind)),
        ('field_versions', '%s → %s' % (record.get('version_from'), record.get('version_to'))),
        (
            'field_modules',
            '、'.join(record.get('modules_changed') or [])
            if t.language == 'zh'
            else ', '.join(record.get('modules_changed') or []) or t('upgrade_none'),
        ),
        ('field_notes', (metrics.get('release') or {}).get('notes') or t('upgrade_none')),
        ('field_reason', record.get('reason') or t('upgrade_none')),
        (
            'field_risk',
            risk_text(t, metrics.get('risk')) if kind == 'upgrade' else t('risk_rollback_not_assessed'),
        ),
        ('field_backup', _backup_text(t, record)),
        ('field_database', _database_text(t, metrics)),
        (
            'field_test',
            environment_text(t, (metrics.get('risk') or {}).get('test'), record.get('version_to'), tz)
            if kind == 'upgrade'
            else t('risk_rollback_no_test'),
        ),
        ('field_plan', plan),
        ('col_outcome', _outcome(t, record)),
        ('field_after', _health_text(t, metrics)),
        (
            'field_scope',
            t('sentence_join').join(
                [
                    t(
                        'upgrade_scope',
                        hosts=', '.join(record.get('hosts') or []),
                        downtime=_seconds(t, record.get('downtime_seconds')),
                    ),
                    _users_text(t, record, metrics),
                ]
            ),
        ),
        ('field_rollback_time', _seconds(t, timings.get('rollback_seconds'))),
        ('col_ticket', record.get('ticket') or t('upgrade_none')),
        ('col_operator', rctx.get('operator') or t('upgrade_none')),
    ]
    if recovered:
        rows.append(('field_recovered', t('upgrade_recovered', state=recovered[0].get('value'))))
    return [
        {'field': t(key), 'value': value if value not in (None, '') else t('upgrade_none')}
        for key, value in rows
    ]


def upgrade_model(store, ctx):
    """The upgrades and rollbacks of the period (check-mode runs left out), oldest first."""
    t, tz = ctx['t'], ctx['tz']
    records = [
        r
        for r in store.records(ctx['start'], ctx['end'])
        if r.get('kind') in KINDS and not r['context'].get('check_mode')
    ]
    records.sort(key=lambda r: str(r['context'].get('ended') or r['context'].get('started')))
    history, details = [], []
    for record in records:
        when = parse_time(record['context'].get('ended') or record['context'].get('started')).astimezone(tz)
        versions = '%s → %s' % (record.get('version_from'), record.get('version_to'))
        failed = record.get('status') in ANOMALY_STATUSES
        history.append(
            {
                'time': when.strftime(TIME_FORMAT),
                'system': t.system(record.get('system')),
                '_system': record.get('system'),
                'event': t('event_' + record['kind']),
                'versions': versions,
                'outcome': _outcome(t, record),
                'downtime': _seconds(t, record.get('downtime_seconds')),
                'ticket': record.get('ticket') or '',
                'operator': record['context'].get('operator') or '',
                '_class': 'r-%s' % record.get('status') if failed else '',
            }
        )
        details.append(
            {
                'title': '%s %s %s（%s）'
                % (
                    when.strftime(TIME_FORMAT),
                    t.system(record.get('system')),
                    versions,
                    t('event_' + record['kind']),
                )
                if t.language == 'zh'
                else '%s %s %s (%s)'
                % (
                    when.strftime(TIME_FORMAT),
                    t.system(record.get('system')),
                    versions,
                    t('event_' + record['kind']),
                ),
                'rows': _fields(t, record, tz),
            }
        )
    return {
        'history': history,
        'details': details,
        'rows': [],
        'anomalies': {},
        'not_inspected': [],
        'bad_lines': list(store.stats.get('bad_lines', [])),
    }


def upgrade_sections(model, ctx):
    t = ctx['t']
    sections = [
        Table(
            HISTORY_COLUMNS,
            model['history'],
            title=t('sec_version_history'),
            empty=t('no_upgrades'),
            main=True,
        )
    ]
    for detail in model['details']:
        sections.append(
            Table(FIELD_COLUMNS, detail['rows'], title=detail['title'], sheet=t('sec_upgrade_details'))
        )
    sections.append(
        Signatures(
            [(t('vendor_signature'), ctx['project_lead']), (t('hospital_signature'), '')],
            title=t('sec_signatures'),
        )
    )
    return sections
