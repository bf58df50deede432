# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The model and sections of 升级风险评估 (the upgrade risk assessment, contract clause R11),
declared in dialysis_doc_types: a summary of the period's assessments (time, system, versions,
verdict, what was done with it) and one table per assessment with its fields - planned time,
versions and the release notes' modules, the newest backup against the RPO, its restore drill,
free disk, the treatment-hours guard at the planned time, current health, the migration's
reversibility, the test environment, the rollback plan and its trigger, the verdict with its
reasons, the gate (refused, overridden with reason and operator) - every value from the
``upgrade_risk`` record (plugins/plugin_utils/dialysis_upgrade_risk.py).

``risk_text`` and ``reasons_text`` also serve the upgrade record (系统升级记录: its risk
assessment field) and the monthly report's changes section."""

from __future__ import absolute_import, division, print_function

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_logscan import human_bytes
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_spec import Column, Signatures, Table
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_i18n import format_number
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import parse_time

__metaclass__ = type

TIME_FORMAT = '%Y-%m-%d %H:%M'
VERDICT_CLASS = {'go': '', 'go_with_conditions': 'r-warning', 'no_go': 'r-critical'}

SUMMARY_COLUMNS = [
    Column('time', 'col_change_time', 15),
    Column('system', 'col_system', 12),
    Column('versions', 'col_versions', 12),
    Column('verdict', 'risk_col_verdict', 14, status=True),
    Column('gate', 'risk_col_gate', 26),
    Column('ticket', 'col_ticket', 14),
    Column('operator', 'col_operator', 10),
]
FIELD_COLUMNS = [
    Column('field', 'col_field', 18),
    Column('value', 'col_value_text', 80),
]


def _time(t, value, tz):
    if not value:
        return t('upgrade_none')
    return parse_time(value).astimezone(tz).strftime(TIME_FORMAT)


def _items(record):
    return dict((i.get('item'), i) for i in record.get('items') or [])


def _join(t, parts):
    return t('sentence_join').join(p for p in parts if p)


def reasons_text(t, record):
    """The blockers and conditions of an assessment in the documents' words."""
    parts = []
    if record.get('blockers'):
        parts.append(t('risk_blockers', list=t.listing(t('risk_code_' + c) for c in record['blockers'])))
    if record.get('conditions'):
        parts.append(t('risk_conditions', list=t.listing(t('risk_code_' + c) for c in record['conditions'])))
    return _join(t, parts) or t('risk_no_reasons')


def gate_text(t, record):
    gate = record.get('gate') or 'assessed'
    if gate == 'overridden':
        return t(
            'risk_gate_overridden',
            operator=record.get('operator') or '',
            reason=record.get('override_reason'),
        )
    return t('risk_gate_' + gate)


def risk_text(t, risk):
    """The risk assessment field of the upgrade record: verdict, reasons, what the gate did."""
    if not risk or not risk.get('verdict'):
        return t('upgrade_no_risk_assessment')
    return _join(t, [t('risk_verdict_' + risk['verdict']), reasons_text(t, risk), gate_text(t, risk)])


def _age(t, hours):
    """An age in hours as the documents print it: minutes below one hour."""
    if isinstance(hours, (int, float)) and hours < 1:
        return t('risk_age_minutes', value=int(round(hours * 60)))
    return t('risk_age_hours', value=format_number(hours))


def _backup(t, record, tz):
    metrics = record.get('metrics') or {}
    backup = metrics.get('backup') or {}
    item = _items(record).get('risk:backup') or {}
    reason = item.get('reason')
    if reason == 'no_backup_set':
        return t('risk_backup_no_set')
    if reason == 'no_backup':
        return t('risk_backup_none', set=backup.get('set'))
    return t(
        'risk_backup_too_old' if reason == 'too_old' else 'risk_backup_ok',
        name=backup.get('newest'),
        set=backup.get('set'),
        taken=_time(t, backup.get('taken'), tz),
        age=_age(t, backup.get('age_hours')),
        rpo=format_number(backup.get('rpo_hours')),
    )


def _drill(t, record, tz):
    drill = (record.get('metrics') or {}).get('drill') or {}
    backup = (record.get('metrics') or {}).get('backup') or {}
    item = _items(record).get('risk:drill')
    if item is None:
        return t('risk_drill_no_set')
    reason = item.get('reason')
    figures = dict(
        set=backup.get('set'),
        backup=drill.get('backup'),
        time=_time(t, drill.get('time'), tz),
        days=format_number(drill.get('age_days')),
        limit=format_number(drill.get('max_age_days')),
        rto=format_number(drill.get('rto_seconds')),
    )
    if reason == 'drill_failed':
        return t('risk_drill_failed', set=backup.get('set'), time=_time(t, drill.get('failed_time'), tz))
    if reason == 'never_drilled':
        return t('risk_drill_never', set=backup.get('set'))
    if reason == 'drill_too_old':
        return t('risk_drill_too_old', **figures)
    if reason == 'newest_not_drilled':
        return t('risk_drill_older_backup', **figures)
    return t('risk_drill_ok', **figures)


def _disk(t, record):
    parts = []
    for ident, item in sorted(_items(record).items()):
        if not str(ident).startswith('risk:disk:'):
            continue
        host = ident[len('risk:disk:') :]
        if item.get('reason') == 'not_read':
            parts.append(t('risk_disk_not_read', host=host))
            continue
        need = item.get('need_bytes')
        key = 'risk_disk_short' if item.get('status') == 'critical' else 'risk_disk_ok'
        parts.append(
            t(
                key if need else 'risk_disk_free',
                host=host,
                free=human_bytes(item.get('value')),
                need=human_bytes(need),
            )
        )
    return _join(t, parts) or t('upgrade_none')


def _guard(t, record):
    guard = (record.get('metrics') or {}).get('guard') or {}
    item = _items(record).get('risk:guard') or {}
    reason = item.get('reason')
    planned = guard.get('planned')
    zone = (guard.get('calendar') or {}).get('timezone') or ''
    if reason == 'guard_in_shift':
        return t('risk_guard_in_shift', planned=planned, tz=zone)
    if reason == 'guard_check_missing':
        return t('risk_guard_check_missing')
    if (
        reason
        and reason.startswith('guard_')
        and reason != 'guard_overridden'
        and reason != 'guard_no_ticket'
    ):
        return t('risk_guard_refused')
    if reason == 'guard_overridden':
        return t('risk_guard_overridden')
    if reason == 'guard_no_ticket':
        return t('risk_guard_no_ticket', planned=planned, tz=zone)
    if not planned:
        return t('risk_guard_allowed_now')
    return t('risk_guard_ok', planned=planned, tz=zone)


def _health(t, record):
    parts = []
    for ident, item in sorted(_items(record).items()):
        if not str(ident).startswith('risk:health:'):
            continue
        host = ident[len('risk:health:') :]
        if item.get('status') == 'ok':
            parts.append(t('risk_health_ok', host=host))
        elif item.get('reason') == 'interrupted_run':
            parts.append(t('risk_health_interrupted', host=host))
        else:
            parts.append(t('risk_health_bad', host=host))
    collector = _items(record).get('risk:collector')
    if collector is not None:
        parts.append(
            t(
                'upgrade_collector_ok' if collector.get('status') == 'ok' else 'upgrade_collector_silent',
                age=format_number(collector.get('value')),
            )
        )
    return _join(t, parts) or t('upgrade_none')


def _reversibility(t, record):
    rev = (record.get('metrics') or {}).get('reversibility') or {}
    item = _items(record).get('risk:reversibility') or {}
    pending = ', '.join(rev.get('pending') or [])
    missing = ', '.join(m for m in rev.get('pending') or [] if m not in (rev.get('down') or []))
    if rev.get('method') == 'none':
        return t('risk_rev_none')
    if item.get('reason') == 'down_missing':
        return t('risk_rev_down_missing', missing=missing)
    if rev.get('method') == 'down':
        return t('risk_rev_down', pending=pending)
    why = t('risk_rev_why_setting') if not missing else t('risk_rev_why_missing', missing=missing)
    rto = rev.get('restore_estimate_seconds')
    return _join(
        t,
        [
            t('risk_rev_restore', why=why),
            t('risk_rev_estimate', rto=format_number(rto)) if rto is not None else '',
        ],
    )


def environment_text(t, test, version_to, tz):
    """The test environment's result (risk metrics ``test``)."""
    test = test or {}
    if not test.get('hosts'):
        return t('upgrade_no_test_environment')
    if test.get('is_test'):
        return t('risk_test_is_test')
    if not test.get('outcome'):
        return t('risk_test_not_tested', hosts=', '.join(test['hosts']), version=version_to)
    key = 'outcome_%s' % test['outcome']
    return t(
        'risk_test_result',
        time=_time(t, test.get('time'), tz),
        hosts=', '.join(test['hosts']),
        outcome=t(key) if t.has(key) else test['outcome'],
    )


def plan_text(t, metrics):
    plan = metrics.get('plan') or {}
    text = t(
        'risk_plan',
        wait=format_number(plan.get('health_wait')),
        to=plan.get('to'),
        method=t('upgrade_method_' + str(plan.get('method') or 'none')),
    )
    if plan.get('fail_after'):
        text += t('risk_plan_fail_after', n=plan['fail_after'], wait=format_number(plan.get('health_wait')))
    return text


def _fields(t, record, tz):
    metrics = record.get('metrics') or {}
    release = metrics.get('release') or {}
    rctx = record['context']
    modules = record.get('modules_changed') or []
    rows = [
        ('risk_field_assessed', _time(t, rctx.get('ended') or rctx.get('started'), tz)),
        ('risk_field_planned', _time(t, record.get('planned_at'), tz)),
        ('col_system', t.system(record.get('system'))),
        ('field_versions', '%s → %s' % (record.get('version_from'), record.get('version_to'))),
        ('field_modules', ('、' if t.language == 'zh' else ', ').join(modules) or t('upgrade_none')),
        ('field_notes', release.get('notes') or t('upgrade_none')),
        ('risk_field_backup', _backup(t, record, tz)),
        ('risk_field_drill', _drill(t, record, tz)),
        ('risk_field_disk', _disk(t, record)),
        ('risk_field_guard', _guard(t, record)),
        ('risk_field_health', _health(t, record)),
        ('risk_field_reversibility', _reversibility(t, record)),
        ('field_test', environment_text(t, metrics.get('test'), record.get('version_to'), tz)),
        ('field_plan', plan_text(t, metrics)),
        ('risk_field_verdict', t('risk_verdict_' + record['verdict'])),
        ('risk_field_reasons', reasons_text(t, record)),
        ('risk_field_gate', gate_text(t, record)),
        ('col_ticket', record.get('ticket') or t('upgrade_none')),
        ('risk_field_assessor', rctx.get('operator') or t('upgrade_none')),
    ]
    return [
        {'field': t(key), 'value': value if value not in (None, '') else t('upgrade_none')}
        for key, value in rows
    ]


def risk_model(store, ctx):
    """The risk assessments of the period (check-mode runs left out), oldest first."""
    t, tz = ctx['t'], ctx['tz']
    records = [
        r
        for r in store.records(ctx['start'], ctx['end'], kind='upgrade_risk')
        if r.get('verdict') and not r['context'].get('check_mode')
    ]
    records.sort(key=lambda r: str(r['context'].get('ended') or r['context'].get('started')))
    summary, details = [], []
    for record in records:
        when = parse_time(record['context'].get('ended') or record['context'].get('started')).astimezone(tz)
        versions = '%s → %s' % (record.get('version_from'), record.get('version_to'))
        summary.append(
            {
                'time': when.strftime(TIME_FORMAT),
                'system': t.system(record.get('system')),
                'versions': versions,
                'verdict': t('risk_verdict_' + record['verdict']),
                'gate': gate_text(t, record),
                'ticket': record.get('ticket') or '',
                'operator': record.get('operator') or record['context'].get('operator') or '',
                '_class': VERDICT_CLASS[record['verdict']],
            }
        )
        title = t(
            'risk_detail_title',
            time=when.strftime(TIME_FORMAT),
            system=t.system(record.get('system')),
            versions=versions,
        )
        details.append({'title': title, 'rows': _fields(t, record, tz)})
    return {
        'summary': summary,
        'details': details,
        'rows': [],
        'anomalies': {},
        'not_inspected': [],
        'bad_lines': list(store.stats.get('bad_lines', [])),
    }


def risk_sections(model, ctx):
    t = ctx['t']
    sections = [
        Table(SUMMARY_COLUMNS, model['summary'], title=t('risk_sec_summary'), empty=t('risk_none'), main=True)
    ]
    for detail in model['details']:
        sections.append(
            Table(FIELD_COLUMNS, detail['rows'], title=detail['title'], sheet=t('risk_sec_details'))
        )
    sections.append(
        Signatures(
            [(t('vendor_signature'), ctx['project_lead']), (t('hospital_signature'), '')],
            title=t('sec_signatures'),
        )
    )
    return sections
