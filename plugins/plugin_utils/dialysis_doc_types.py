# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The declared documents of the family. This file is the only per-type code:
the writers (``dialysis_doc_writers``) render any of them to XLSX, HTML, PDF
and DOCX.

* ``inspection_sheet`` — 巡检记录单: a summary, the hosts not inspected, and
  one table (XLSX: one sheet) per system with a row per host x item x
  inspection; signed.
* ``inspection_report`` — 月度/季度巡检报告: summary, hosts not inspected or
  unreachable, anomalies with feedback and resolution per system, resource
  trends per host; for a quarter the feedback column gathers each month's
  feedback and the latest month's resolution; signed.

A later duty (backup check, upgrade record...) declares its document the same
way: its model function, its columns and sections, its title and file stem,
and ``register(DocumentType(...))``; see roles/report/README.md.
"""

from __future__ import absolute_import, division, print_function

from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_dr import (
    dr_drill_model,
    dr_drill_sections,
    dr_plan_model,
    dr_plan_sections,
    report_drill_section,
)
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_model import (
    backup_documents_model,
    inspection_model,
    summary_by_system,
)
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_risk import risk_model, risk_sections
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_spec import (
    Column,
    DocumentType,
    Signatures,
    Table,
    Text,
    Trends,
    register,
)
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_upgrade import (
    upgrade_model,
    upgrade_sections,
)
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_i18n import format_number

__metaclass__ = type

HTML_XLSX = ('xlsx', 'html')

SUMMARY_COLUMNS = [
    Column('system', 'col_system', 18),
    Column('hosts_expected', 'hosts_in_inventory', 9, '0'),
    Column('hosts_inspected', 'hosts_inspected', 9, '0'),
    Column('hosts_not_inspected', 'hosts_not_inspected', 9, '0'),
    Column('inspections', 'inspections', 9, '0'),
    Column('items', 'items_checked', 9, '0'),
    Column('warning', 'severity_warning', 8, '0'),
    Column('critical', 'severity_critical', 8, '0'),
    Column('error', 'severity_error', 8, '0'),
    Column('open', 'anomalies_open', 8, '0'),
    Column('resolved', 'anomalies_resolved', 8, '0'),
]

NOT_INSPECTED_COLUMNS = [
    Column('host', 'col_host', 18),
    Column('system', 'col_system', 18),
    Column('reason', 'col_reason', 50),
]

SHEET_COLUMNS = [
    Column('time', 'col_time', 17),
    Column('system', 'col_system', 14, only=HTML_XLSX),
    Column('host', 'col_host', 14),
    Column('item', 'col_item', 20),
    Column('value', 'col_value', 9, '0.0#', '0'),
    Column('unit', 'col_unit', 6),
    Column('warning', 'col_warning', 7, '0.0#', '0'),
    Column('critical', 'col_critical', 7, '0.0#', '0'),
    Column('result', 'col_result', 7, status=True),
    Column('description', 'col_anomaly', 34, tooltip='detail'),
    Column('feedback', 'col_feedback', 18),
    Column('resolution', 'col_resolution', 18),
    Column('engineer', 'col_engineer', 10),
    Column('status', 'col_status', 7),
    Column('anomaly_id', 'col_anomaly_id', 34, only=HTML_XLSX),
]

ANOMALY_COLUMNS = [
    Column('host', 'col_host', 13),
    Column('item_label', 'col_item', 16),
    Column('severity_text', 'col_severity', 7, status=True),
    Column('first_seen', 'col_first_seen', 11),
    Column('occurrences', 'col_occurrences', 6, '0'),
    Column('description', 'col_anomaly', 28),
    Column('feedback', 'col_feedback', 18),
    Column('resolution', 'col_resolution', 18),
    Column('status_text', 'col_status', 7),
    Column('id', 'col_anomaly_id', 30, only=HTML_XLSX),
]

TREND_COLUMNS = [
    Column('host', 'col_host', 16),
    Column('time', 'col_time', 17),
    Column('disk', 'col_disk', 12, '0.0'),
    Column('memory', 'col_memory', 12, '0.0'),
    Column('cpu', 'col_cpu', 12, '0.0'),
]
CHANGE_COLUMNS = [
    Column('time', 'col_change_time', 15),
    Column('system', 'col_system', 13),
    Column('hosts', 'col_hosts', 14),
    Column('event', 'col_event', 16),
    Column('detail', 'col_change_detail', 36),
    Column('outcome', 'col_outcome', 12, status=True),
    Column('ticket', 'col_ticket', 12),
    Column('operator', 'col_operator', 9),
]
BACKUP_COLUMNS = [
    Column('time', 'col_checked_at', 15),
    Column('system', 'col_system', 13),
    Column('host', 'col_host', 12),
    Column('set', 'col_backup_set', 18),
    Column('newest', 'col_backup_newest', 22),
    Column('age', 'col_backup_age', 8, '0.0#', '0'),
    Column('size', 'col_backup_size', 8, '0.0##', '0'),
    Column('findings', 'col_backup_findings', 36),
    Column('result', 'col_result', 8, status=True),
]
TREND_SERIES = (('disk', '#c0392b'), ('memory', '#2471a3'), ('cpu', '#229954'))


def _signers(ctx):
    t = ctx['t']
    return [(t('vendor_signature'), ctx['project_lead']), (t('hospital_signature'), '')]


def _summary(model, ctx):
    t = ctx['t']
    summary = summary_by_system(model)
    rows = [dict(s, system=t.system(s['system'])) for s in summary]
    return summary, [
        Table(SUMMARY_COLUMNS, rows, title=t('sec_summary')),
        Table(NOT_INSPECTED_COLUMNS, model['not_inspected'], title=t('sec_missing'),
              empty=t('all_inspected')),
    ]


def sheet_sections(model, ctx):
    t = ctx['t']
    summary, sections = _summary(model, ctx)
    by_system = {}
    for row in model['rows']:
        by_system.setdefault(row['_system'], []).append(row)
    for entry in summary:
        name = t.system(entry['system'])
        sections.append(Table(SHEET_COLUMNS, by_system.get(entry['system'], []), title=name,
                              sheet=name, main=True))
    sections.append(Signatures(_signers(ctx), title=t('sec_signatures')))
    return sections


def _anomaly_row(anomaly, t):
    return dict(anomaly, item_label=anomaly.get('item_label') or t.item_label(anomaly['item']),
                severity_text=t('severity_' + anomaly['severity']),
                status_text=t('status_resolved') if anomaly.get('resolved') else t('status_open'),
                _class='resolved' if anomaly.get('resolved') else 'r-' + anomaly['severity'])


def _single_point(t):
    def sentence(row):
        values = dict((k, format_number(row[k]) if row[k] is not None else t('trend_none_value'))
                      for k in ('disk', 'memory', 'cpu'))
        return t('trend_single', time=row['time'], **values)
    return sentence


def report_sections(model, ctx):
    t = ctx['t']
    summary, sections = _summary(model, ctx)
    anomaly_sheet, trend_sheet = t('sec_anomalies'), t('sec_trends')
    for entry in summary:
        name = t.system(entry['system'])
        sections.append(Table(ANOMALY_COLUMNS, [_anomaly_row(a, t) for a in entry['anomalies']],
                              title='%s — %s' % (name, t('sec_anomalies')), sheet=anomaly_sheet,
                              empty=t('no_anomalies')))
        points = []
        for host in entry['hosts']:
            for when, disk, memory, cpu in model['hosts'][host]['trend']:
                points.append({'host': host, 'time': when.strftime('%Y-%m-%d %H:%M'),
                               'disk': disk, 'memory': memory, 'cpu': cpu})
        sections.append(Trends(TREND_COLUMNS, points, group='host', time_key='time',
                               series=TREND_SERIES, single=_single_point(t),
                               title='%s — %s' % (name, t('sec_trends')), sheet=trend_sheet,
                               empty=t('no_trend_data')))
    sections.append(Table(CHANGE_COLUMNS, model.get('changes') or [], title=t('sec_changes'),
                          sheet=t('sec_changes'), empty=t('no_changes')))
    # Backup checks of the period (issue #10); their findings are also in the anomalies above.
    sections.append(Table(BACKUP_COLUMNS, model.get('backups') or [], title=t('sec_backups'),
                          sheet=t('sec_backups'), empty=t('no_backup_checks')))
    # Restore and DR drills of the period: outcome, RTO measured vs target, RPO achieved.
    sections.append(report_drill_section(model, ctx))
    sections.append(Signatures(_signers(ctx), title=t('sec_signatures')))
    return sections


INSPECTION_SHEET = register(DocumentType(
    name='inspection_sheet', title='sheet_title', file_stem='inspection-sheet',
    kinds=('inspection',), model=inspection_model, sections=sheet_sections,
    formats=('xlsx', 'html', 'docx')))

INSPECTION_REPORT = register(DocumentType(
    name='inspection_report',
    title=lambda ctx: 'monthly_title' if ctx['period'] == 'month' else 'quarterly_title',
    file_stem=lambda ctx: '%s-inspection-report' % (
        'monthly' if ctx['period'] == 'month' else 'quarterly'),
    kinds=('inspection', 'restart', 'patch', 'db_maintenance', 'upgrade', 'rollback', 'guard_override',
           'backup_check', 'restore_drill', 'dr_drill', 'upgrade_risk'),
    model=inspection_model, sections=report_sections,
    formats=('pdf', 'html', 'docx', 'xlsx')))

# 系统升级记录 (contract clause R11; helper U): the version history and every upgrade and
# rollback of the period with the contract's fields (plugins/plugin_utils/dialysis_doc_upgrade.py).
UPGRADE_RECORD = register(DocumentType(
    name='upgrade_record', title='upgrade_record_title', file_stem='upgrade-record',
    kinds=('upgrade', 'rollback'), model=upgrade_model, sections=upgrade_sections,
    formats=('pdf', 'docx', 'html', 'xlsx')))

# 升级风险评估 (contract clause R11; issue #12, helper risk): every risk assessment of the period
# with its fields and verdict (plugins/plugin_utils/dialysis_doc_risk.py); playbooks/upgrade_risk.yml
# writes it after assessing.
UPGRADE_RISK = register(DocumentType(
    name='upgrade_risk', title='upgrade_risk_title', file_stem='upgrade-risk',
    kinds=('upgrade_risk',), model=risk_model, sections=risk_sections,
    formats=('pdf', 'docx', 'html', 'xlsx')))

# -- backups (issue #10): 备份检查记录 and 恢复演练记录 -------------------------------------
BACKUP_CHECK_COLUMNS = [
    Column('time', 'col_checked_at', 15),
    Column('system', 'col_system', 12, only=HTML_XLSX),
    Column('host', 'col_host', 11),
    Column('set', 'col_backup_set', 17),
    Column('newest', 'col_backup_newest', 20),
    Column('age', 'col_backup_age', 7, '0.0#', '0'),
    Column('size', 'col_backup_size', 7, '0.0##', '0'),
    Column('checksum', 'col_backup_checksum', 6),
    Column('structure', 'col_backup_structure', 6),
    Column('retention', 'col_backup_retention', 6),
    Column('job', 'col_backup_job', 6),
    Column('findings', 'col_backup_findings', 30),
    Column('result', 'col_result', 7, status=True),
]
DRILL_COLUMNS = [
    Column('time', 'col_drill_time', 15),
    Column('system', 'col_system', 12, only=HTML_XLSX),
    Column('host', 'col_host', 11),
    Column('set', 'col_backup_set', 16),
    Column('backup', 'col_drill_backup', 20),
    Column('rto', 'col_drill_rto', 8, '0.0#', '0'),
    Column('rto_target', 'col_drill_rto_target', 8, '0.0#', '0'),
    Column('rpo', 'col_drill_rpo', 8, '0.0#', '0'),
    Column('integrity', 'col_drill_integrity', 10),
    Column('counts', 'col_drill_counts', 8),
    Column('smoke', 'col_drill_smoke', 8),
    Column('outcome', 'col_drill_outcome', 9, status=True),
    Column('findings', 'col_backup_findings', 26),
    Column('ticket', 'col_ticket', 11, only=HTML_XLSX),
]


def _backup_summary(model, ctx):
    t = ctx['t']
    checks, drills = model['rows'], model['drills']
    failed = [d for d in drills if d['_outcome'] != 'ok']
    return Text(t('backup_summary', checks=len(checks),
                  sets=len(set((r['host'], r['set']) for r in checks)),
                  anomalies=len(model['anomalies']), drills=len(drills),
                  drills_ok=len(drills) - len(failed), drills_failed=len(failed)),
                title=t('sec_summary'))


def backup_check_sections(model, ctx):
    t = ctx['t']
    return [_backup_summary(model, ctx),
            Table(BACKUP_CHECK_COLUMNS, model['rows'], title=t('sec_backups'), sheet=t('sec_backups'),
                  empty=t('no_backup_checks'), main=True),
            Signatures(_signers(ctx), title=t('sec_signatures'))]


def restore_drill_sections(model, ctx):
    t = ctx['t']
    return [_backup_summary(model, ctx),
            Table(DRILL_COLUMNS, model['drills'], title=t('sec_drills'), sheet=t('sec_drills'),
                  empty=t('no_drills'), main=True),
            Text(t('drill_note'), title=t('sec_drill_note')),
            Signatures(_signers(ctx), title=t('sec_signatures'))]


BACKUP_CHECK_RECORD = register(DocumentType(
    name='backup_check_record', title='backup_check_title', file_stem='backup-check-record',
    kinds=('backup_check',), model=backup_documents_model, sections=backup_check_sections,
    formats=('xlsx', 'html', 'pdf', 'docx')))

RESTORE_DRILL_RECORD = register(DocumentType(
    name='restore_drill_record', title='restore_drill_title', file_stem='restore-drill-record',
    kinds=('restore_drill', 'backup_check'), model=backup_documents_model, sections=restore_drill_sections,
    formats=('xlsx', 'html', 'pdf', 'docx')))

# -- disaster recovery (issue #10, R7): 灾难恢复演练记录 and 灾难恢复计划 (dialysis_doc_dr) -----
DR_DRILL_RECORD = register(DocumentType(
    name='dr_drill_record', title='dr_drill_title', file_stem='dr-drill-record',
    kinds=('dr_drill',), model=dr_drill_model, sections=dr_drill_sections,
    formats=('pdf', 'docx', 'html', 'xlsx')))

DR_PLAN = register(DocumentType(
    name='dr_plan', title='dr_plan_title', file_stem='dr-plan',
    kinds=('dr_drill', 'restore_drill'), model=dr_plan_model, sections=dr_plan_sections,
    formats=('pdf', 'docx', 'html', 'xlsx')))

DEFAULT_DOCUMENTS = ('inspection_sheet', 'inspection_report')


# -- 季度性能分析报告 (issue 9, contract clause R2): the quarterly performance analysis -------
# Its model is dialysis_perf.performance_model (inspection and db_health records of the
# quarter, db_health of the previous quarter for the statements' change).

def _performance_model(store, ctx):
    from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_perf import performance_model
    return performance_model(store, ctx)


PERF_FORECAST_COLUMNS = [
    Column('host', 'col_host', 14),
    Column('mount', 'perf_col_mount', 22),
    Column('percent', 'perf_col_disk_now', 10, '0.0'),
    Column('growth', 'perf_col_growth', 12, '0.000'),
    Column('days', 'perf_col_days_full', 12, '0', '0'),
]
PERF_DATABASE_COLUMNS = [
    Column('host', 'col_host', 12),
    Column('database', 'perf_col_database', 14),
    Column('size_start', 'perf_col_size_start', 11, '0.0'),
    Column('size_end', 'perf_col_size_end', 11, '0.0'),
    Column('growth_percent', 'perf_col_growth_percent', 9, '0.0'),
    Column('cache_hit', 'perf_col_cache_hit', 10, '0.00'),
    Column('connections_max', 'perf_col_connections', 10, '0.0'),
]
PERF_STATEMENT_COLUMNS = [
    Column('database', 'perf_col_database', 11),
    Column('rank', 'perf_col_rank', 5, '0', '0'),
    Column('query', 'perf_col_statement', 40),
    Column('calls', 'perf_col_calls', 9, '0', '0'),
    Column('total_ms', 'perf_col_total_ms', 10, '0.0'),
    Column('mean_ms', 'perf_col_mean_ms', 9, '0.00'),
    Column('change', 'perf_col_change', 10),
]
PERF_FINDING_COLUMNS = [
    Column('host', 'col_host', 12),
    Column('object', 'perf_col_object', 18),
    Column('finding', 'perf_col_finding', 34),
    Column('advice', 'perf_col_advice', 34),
]
PERF_RESTART_COLUMNS = [
    Column('host', 'col_host', 12),
    Column('service', 'perf_col_service', 20),
    Column('decision', 'perf_col_decision', 10, status=True),
    Column('reason', 'col_reason', 42),
    Column('decided_by', 'perf_col_decided_by', 14),
]


def _mib(value):
    return None if value is None else round(value / 1048576.0, 1)


def _decision_row(decision, t):
    """A restart decision: the final one; the engineer's reason beside the analysis's
    verdict when an engineer changed it (the quarter's <quarter>-restart.yml)."""
    def verdict(needed):
        return t('perf_restart_needed' if needed else 'perf_restart_not_needed')

    reason = t('perf_reason_' + decision['reason'], **decision)
    decided_by = t('perf_decided_by_analysis')
    if decision.get('decided_by') == 'engineer':
        reason = t('perf_engineer_changed', reason=decision['engineer_reason'],
                   analysis=verdict(decision['analysis_needed']), analysis_reason=reason)
        decided_by = ' '.join(v for v in (decision['engineer'], decision.get('decided_at') or '') if v)
    return {'host': decision['host'], 'service': decision['service'], 'decision': verdict(decision['needed']),
            'reason': reason, 'decided_by': decided_by, '_class': 'r-warning' if decision['needed'] else ''}


def performance_sections(model, ctx):
    t = ctx['t']
    trend_sheet = t('sec_trends')
    points = []
    for host, entry in sorted(model['hosts'].items()):
        for when, disk, memory, cpu in entry['trend']:
            points.append({'host': host, 'time': when.strftime('%Y-%m-%d %H:%M'), 'disk': disk,
                           'memory': memory, 'cpu': cpu})
    forecasts = [dict(f, growth=f['growth_gib_day'],
                      days=f['days_to_full'] if f['days_to_full'] is not None else t('perf_not_filling'),
                      _class='r-warning' if f['days_to_full'] is not None and f['days_to_full'] <= 90 else '')
                 for f in model['forecasts']]
    databases = [dict(d, size_start=_mib(d['size_start']), size_end=_mib(d['size_end']))
                 for d in model['databases']]
    statements = [dict(s, change=t('perf_new_statement') if s['new'] else
                       ('%+.1f%%' % s['mean_change'] if s['mean_change'] is not None else ''))
                  for s in model['statements']]
    findings = [{'host': f['host'], 'object': f['object'],
                 'finding': t('perf_finding_' + f['key'], **f['figures']),
                 'advice': t('perf_advice_' + f['key'], **f['figures']), '_class': 'r-warning'}
                for f in model['findings']]
    decisions = [_decision_row(d, t) for d in model['decisions']]
    summary = t('perf_summary', hosts=len(model['hosts']), databases=len(model['databases']),
                findings=len(findings), restarts=sum(1 for d in model['decisions'] if d['needed']))
    return [
        Text(summary, title=t('sec_summary')),
        Trends(TREND_COLUMNS, points, group='host', time_key='time', series=TREND_SERIES,
               single=_single_point(t), title=t('sec_trends'), sheet=trend_sheet, empty=t('no_trend_data')),
        Table(PERF_FORECAST_COLUMNS, forecasts, title=t('perf_sec_forecast'), sheet=t('perf_sec_forecast'),
              empty=t('perf_no_data')),
        Table(PERF_DATABASE_COLUMNS, databases, title=t('perf_sec_databases'), sheet=t('perf_sec_databases'),
              empty=t('perf_no_data')),
        Table(PERF_STATEMENT_COLUMNS, statements, title=t('perf_sec_statements'),
              sheet=t('perf_sec_statements'), empty=t('perf_no_data')),
        Table(PERF_FINDING_COLUMNS, findings, title=t('perf_sec_findings'), sheet=t('perf_sec_findings'),
              empty=t('perf_no_findings')),
        Table(PERF_RESTART_COLUMNS, decisions, title=t('perf_sec_restart'), sheet=t('perf_sec_restart'),
              empty=t('perf_no_data')),
        Signatures(_signers(ctx), title=t('sec_signatures')),
    ]


PERFORMANCE_REPORT = register(DocumentType(
    name='performance_report', title='perf_title', file_stem='quarterly-performance-report',
    kinds=('inspection', 'db_health'), model=_performance_model, sections=performance_sections,
    periods=('quarter',), formats=('pdf', 'html', 'docx', 'xlsx')))
