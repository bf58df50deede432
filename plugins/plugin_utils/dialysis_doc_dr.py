# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Disaster recovery in the document family (issue #10, contract clause R7), declared in
dialysis_doc_types:

* 灾难恢复演练记录 (``dr_drill_record``): every DR drill of the period (dr_drill records,
  roles/dr_drill) with its measured recovery time against the RTO target and its outcome,
  and every step of each drill with its start, duration and outcome; signed. A drill whose
  step failed or did not run, or that missed its target, never reads as a success.
* 灾难恢复计划 (``dr_plan``, the 应急预案): generated from the inventory (the report role's
  ``report_dr_plan``: systems, hosts and their roles, backup sets and where they live,
  standby hosts, RPO/RTO targets, contacts) and the records (the last DR drill of each
  system with its measured recovery time, the last restore drill of each backup set);
  the step list of each scenario (database host lost, application host lost, ransomware);
  signed.

Also the rows of the drills in the monthly report's backup section (``drill_report_rows``).
"""

from __future__ import absolute_import, division, print_function

import datetime

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_dr import DR_STEPS
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import SYSTEMS
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_spec import (
    Column,
    Signatures,
    Table,
    Text,
)
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_i18n import CATALOGUE, format_number
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import parse_time

__metaclass__ = type

TIME_FORMAT = '%Y-%m-%d %H:%M'
DR_OUTCOMES = ('ok', 'failed', 'not_done')
# Where the plan looks for the last drills: every record the store holds before the period ends.
EPOCH = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)


def _figure(value):
    return round(float(value), 1) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def dr_outcome(record):
    """ok only for a drill recorded ok with nothing critical; anything else is not a success."""
    outcome = record.get('outcome')
    if outcome not in DR_OUTCOMES:
        return 'failed'
    if outcome == 'ok' and record.get('status') in ('critical', 'error'):
        return 'failed'
    return outcome


def _dr_records(store, start, end):
    out = []
    for record in store.records(start, end, kind='dr_drill'):
        rctx = record['context']
        if rctx.get('check_mode') or record.get('check_mode'):
            continue
        out.append(record)
    return out


def _when(record, tz):
    rctx = record['context']
    return parse_time(rctx.get('ended') or rctx.get('started')).astimezone(tz)


def dr_drill_rows(store, ctx, start=None):
    """(drills, steps) of the period: one row per drill, one per drill and step."""
    t, tz = ctx['t'], ctx['tz']
    drills, steps = [], []
    for record in _dr_records(store, start or ctx['start'], ctx['end']):
        when = _when(record, tz)
        system = record.get('system') if record.get('system') in SYSTEMS else 'shared'
        outcome = dr_outcome(record)
        by_item = dict((str(i.get('item')), i) for i in record.get('items') or [])
        findings = [t.describe(i, tz=tz) for i in record.get('items') or []
                    if i.get('status') in ('warning', 'critical', 'error')]
        standby = record.get('standby') or record['context'].get('host') or ''
        drills.append({
            '_when': when, 'time': when.strftime(TIME_FORMAT), 'system': t.system(system),
            'standby': standby, 'source': record.get('source_host') or '',
            'backup': record.get('backup') or '',
            'recovery': _figure(record.get('recovery_seconds')),
            'rto_target': _figure(record.get('rto_target_seconds')),
            'outcome': t('drill_outcome_' + outcome),
            'findings': t('sentence_join').join(findings),
            'ticket': record.get('ticket') or '', 'operator': record['context'].get('operator') or '',
            '_system': system, '_outcome': outcome,
            '_class': '' if outcome == 'ok' else 'r-critical'})
        for name in DR_STEPS + ('recovery', 'cleanup'):
            item = by_item.get('dr:' + name)
            if item is None:
                continue
            status = item.get('status')
            if status == 'ok':
                result = t('dr_step_ok')
            elif status == 'skipped':
                result = t('dr_step_' + (item.get('reason') if item.get('reason') in ('left_running',)
                                         else 'not_done'))
            else:
                result = t('dr_step_failed')
            started = item.get('started')
            steps.append({
                '_when': when, 'time': when.strftime(TIME_FORMAT), 'standby': standby,
                'step': t.item_label('dr:' + name),
                'started': parse_time(started).astimezone(tz).strftime('%H:%M:%S') if started else '',
                'seconds': _figure(item.get('value')),
                'result': result,
                'note': t.describe(item, tz=tz) if status != 'ok' else '',
                '_class': {'ok': '', 'skipped': 'r-skipped'}.get(status, 'r-critical')})
    drills.sort(key=lambda r: (r['_when'], r['standby']))
    for row in drills + steps:
        row.pop('_when')
    return drills, steps


def dr_drill_model(store, ctx):
    drills, steps = dr_drill_rows(store, ctx)
    return {'rows': [], 'drills': drills, 'steps': steps, 'anomalies': {}}


DR_DRILL_COLUMNS = [
    Column('time', 'col_drill_time', 15),
    Column('system', 'col_system', 12),
    Column('standby', 'col_dr_standby', 13),
    Column('source', 'col_dr_source', 12),
    Column('backup', 'col_drill_backup', 22),
    Column('recovery', 'col_dr_recovery', 10, '0.0#', '0'),
    Column('rto_target', 'col_drill_rto_target', 9, '0.0#', '0'),
    Column('outcome', 'col_drill_outcome', 8, status=True),
    Column('findings', 'col_backup_findings', 30),
    Column('ticket', 'col_ticket', 11, only=('xlsx', 'html')),
]
DR_STEP_COLUMNS = [
    Column('time', 'col_drill_time', 15),
    Column('standby', 'col_dr_standby', 13),
    Column('step', 'col_dr_step', 22),
    Column('started', 'col_dr_started', 10),
    Column('seconds', 'col_dr_seconds', 9, '0.0#', '0'),
    Column('result', 'col_result', 9, status=True),
    Column('note', 'col_dr_note', 44),
]


def _signers(ctx):
    t = ctx['t']
    return [(t('vendor_signature'), ctx['project_lead']), (t('hospital_signature'), '')]


def dr_drill_sections(model, ctx):
    t = ctx['t']
    drills = model['drills']
    ok = sum(1 for d in drills if d['_outcome'] == 'ok')
    return [Text(t('dr_summary', drills=len(drills), ok=ok, failed=len(drills) - ok), title=t('sec_summary')),
            Table(DR_DRILL_COLUMNS, drills, title=t('sec_dr_drills'), sheet=t('sec_dr_drills'),
                  empty=t('no_dr_drills'), main=True),
            Table(DR_STEP_COLUMNS, model['steps'], title=t('sec_dr_steps'), sheet=t('sec_dr_steps'),
                  empty=t('no_dr_drills')),
            Text(t('dr_note'), title=t('sec_drill_note')),
            Signatures(_signers(ctx), title=t('sec_signatures'))]


# -- the monthly report's drills (restore drills and DR drills of the month) ---------------
def drill_report_rows(store, ctx, restore_rows):
    """One row per restore drill (from dialysis_doc_model's rows) and per DR drill."""
    t = ctx['t']
    rows = []
    for row in restore_rows:
        rows.append({'time': row['time'], 'kind': t('duty_restore_drill'), 'system': row['system'],
                     'host': row['host'], 'what': row['set'], 'rto': row['rto'],
                     'rto_target': row['rto_target'],
                     'rpo': row['rpo'], 'outcome': row['outcome'], 'findings': row['findings'],
                     '_outcome': row['_outcome'], '_class': row['_class']})
    drills, _steps = dr_drill_rows(store, ctx)
    for row in drills:
        rows.append({'time': row['time'], 'kind': t('duty_dr_drill'), 'system': row['system'],
                     'host': row['standby'], 'what': row['backup'], 'rto': row['recovery'],
                     'rto_target': row['rto_target'], 'rpo': None, 'outcome': row['outcome'],
                     'findings': row['findings'], '_outcome': row['_outcome'], '_class': row['_class']})
    rows.sort(key=lambda r: r['time'])
    return rows


REPORT_DRILL_COLUMNS = [
    Column('time', 'col_drill_time', 15),
    Column('kind', 'col_drill_kind', 12),
    Column('system', 'col_system', 12),
    Column('host', 'col_host', 12),
    Column('what', 'col_drill_what', 20),
    Column('rto', 'col_drill_rto', 9, '0.0#', '0'),
    Column('rto_target', 'col_drill_rto_target', 9, '0.0#', '0'),
    Column('rpo', 'col_drill_rpo', 9, '0.0#', '0'),
    Column('outcome', 'col_drill_outcome', 9, status=True),
    Column('findings', 'col_backup_findings', 30),
]


def report_drill_section(model, ctx):
    t = ctx['t']
    return Table(REPORT_DRILL_COLUMNS, model.get('drills') or [], title=t('sec_report_drills'),
                 sheet=t('sec_report_drills'), empty=t('no_report_drills'))


# -- 灾难恢复计划 ---------------------------------------------------------------------------
def _hours(value):
    try:
        return format_number(round(float(value), 1))
    except (TypeError, ValueError):
        return ''


def dr_plan_model(store, ctx):
    """The plan from the inventory (ctx['dr_plan']) and the records up to the period's end."""
    t, tz = ctx['t'], ctx['tz']
    plan = ctx.get('dr_plan') or {}
    hosts = [h for h in plan.get('hosts') or [] if isinstance(h, dict) and h.get('name')]
    rto_minutes = plan.get('rto_minutes') or 60
    drills, _steps = dr_drill_rows(store, ctx, start=EPOCH)
    last_dr = {}
    for record in _dr_records(store, EPOCH, ctx['end']):
        system = record.get('system') if record.get('system') in SYSTEMS else 'shared'
        last_dr[system] = record          # records come in time order: the last one wins
    last_restore = {}
    for record in store.records(EPOCH, ctx['end'], kind='restore_drill'):
        if record['context'].get('check_mode') or record.get('check_mode'):
            continue
        last_restore[(record['context'].get('host'), record.get('set'))] = record
    systems = []
    for system in SYSTEMS:
        members = [h for h in hosts if h.get('system') == system]
        if not members:
            continue
        record = last_dr.get(system)
        if record is None:
            last = t('dr_plan_never')
        else:
            outcome = dr_outcome(record)
            when = _when(record, tz).strftime(TIME_FORMAT)
            last = t('dr_plan_last', time=when, outcome=t('drill_outcome_' + outcome),
                     seconds=format_number(_figure(record.get('recovery_seconds')))
                     if record.get('recovery_seconds') is not None else t('dr_not_measured'))
        rpo = sorted(set(_hours(s.get('rpo_hours')) for h in members for s in h.get('backup_sets') or []
                         if s.get('rpo_hours') is not None))
        systems.append({'system': t.system(system), 'hosts': ', '.join(h['name'] for h in members),
                        'rpo': ' / '.join(rpo) or t('dr_plan_none'),
                        'rto': format_number(round(float(rto_minutes), 1)),
                        'standby': ', '.join(h['name'] for h in members if h.get('standby'))
                        or t('dr_plan_none'),
                        'last': last, '_class': '' if record is not None and dr_outcome(record) == 'ok'
                        else 'r-warning'})
    host_rows = [{'host': h['name'], 'system': t.system(h.get('system') or 'shared'),
                  'roles': ', '.join(t('dr_role_' + g) for g in h.get('roles') or []
                                     if ('dr_role_' + g) in CATALOGUE),
                  'databases': ', '.join(h.get('databases') or []) or '',
                  'standby': t('dr_plan_standby_for', source=h['standby'].get('source_host') or '',
                               set=h['standby'].get('backup_set') or '')
                  if isinstance(h.get('standby'), dict) else ''} for h in hosts]
    backup_rows = []
    for host in hosts:
        for spec in host.get('backup_sets') or []:
            record = last_restore.get((host['name'], spec.get('name')))
            if record is None:
                last = t('dr_plan_never')
            else:
                rto = record.get('rto_seconds')
                outcome = record.get('outcome') if record.get('outcome') in (
                    'ok', 'failed', 'not_done', 'timed_out', 'refused') else 'failed'
                if outcome == 'ok' and record.get('status') in ('critical', 'error'):
                    outcome = 'failed'
                last = t('dr_plan_last', time=_when(record, tz).strftime(TIME_FORMAT),
                         outcome=t('drill_outcome_' + outcome),
                         seconds=format_number(_figure(rto)) if rto is not None else t('dr_not_measured'))
            backup_rows.append({'host': host['name'], 'set': spec.get('name') or '',
                                'database': spec.get('database') or '', 'format': spec.get('format') or '',
                                'where': spec.get('directory') or '',
                                'rpo': _figure(_num(spec.get('rpo_hours'))),
                                'last': last})
    contacts = [{'role': c.get('role') or '', 'name': c.get('name') or '', 'phone': c.get('phone') or ''}
                for c in plan.get('contacts') or [] if isinstance(c, dict)]
    contacts.insert(0, {'role': t('project_lead'), 'name': ctx['project_lead'], 'phone': ''})
    dbs = [h for h in hosts if h.get('databases')]
    apps = [h['name'] for h in hosts if 'app' in (h.get('roles') or [])]
    standbys = [h for h in hosts if isinstance(h.get('standby'), dict)]
    scenario_args = {
        'db_hosts': ', '.join(h['name'] for h in dbs) or t('dr_plan_none'),
        'app_hosts': ', '.join(apps) or t('dr_plan_none'),
        'standby': ', '.join(h['name'] for h in standbys) or t('dr_plan_none'),
        'rto': format_number(round(float(rto_minutes), 1)),
    }
    scenarios = []
    for scenario in ('db_lost', 'app_lost', 'ransomware'):
        number = 1
        while 'dr_plan_%s_%d' % (scenario, number) in CATALOGUE:
            scenarios.append({'scenario': t('dr_plan_' + scenario), 'number': number,
                              'step': t('dr_plan_%s_%d' % (scenario, number), **scenario_args)})
            number += 1
    return {'rows': [], 'anomalies': {}, 'systems': systems, 'host_rows': host_rows, 'backups': backup_rows,
            'contacts': contacts, 'scenarios': scenarios, 'drills': len(drills),
            'rto_minutes': rto_minutes}


def _num(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


PLAN_SYSTEM_COLUMNS = [
    Column('system', 'col_system', 14),
    Column('hosts', 'col_hosts', 26),
    Column('rpo', 'col_dr_rpo_target', 10),
    Column('rto', 'col_dr_rto_target', 10),
    Column('standby', 'col_dr_standby', 14),
    Column('last', 'col_dr_last', 36, status=True),
]
PLAN_HOST_COLUMNS = [
    Column('host', 'col_host', 16),
    Column('system', 'col_system', 14),
    Column('roles', 'col_dr_roles', 20),
    Column('databases', 'col_dr_databases', 22),
    Column('standby', 'col_dr_standby_for', 36),
]
PLAN_BACKUP_COLUMNS = [
    Column('host', 'col_host', 12),
    Column('set', 'col_backup_set', 20),
    Column('database', 'col_dr_databases', 13),
    Column('format', 'col_dr_format', 12),
    Column('where', 'col_dr_where', 28),
    Column('rpo', 'col_dr_rpo_target', 8, '0.0#', '0'),
    Column('last', 'col_dr_last_restore', 30),
]
PLAN_CONTACT_COLUMNS = [
    Column('role', 'col_dr_contact_role', 24),
    Column('name', 'col_dr_contact_name', 20),
    Column('phone', 'col_dr_contact_phone', 20),
]
PLAN_STEP_COLUMNS = [
    Column('scenario', 'col_dr_scenario', 20),
    Column('number', 'col_dr_number', 6, '0', '0'),
    Column('step', 'col_dr_action', 90),
]


def dr_plan_sections(model, ctx):
    t = ctx['t']
    return [Text(t('dr_plan_intro', rto=format_number(round(float(model['rto_minutes']), 1))),
                 title=t('sec_dr_plan_scope')),
            Table(PLAN_SYSTEM_COLUMNS, model['systems'], title=t('sec_dr_plan_systems'),
                  sheet=t('sec_dr_plan_systems'), empty=t('dr_plan_no_hosts'), main=True),
            Table(PLAN_HOST_COLUMNS, model['host_rows'], title=t('sec_dr_plan_hosts'),
                  sheet=t('sec_dr_plan_hosts'),
                  empty=t('dr_plan_no_hosts')),
            Table(PLAN_BACKUP_COLUMNS, model['backups'], title=t('sec_dr_plan_backups'),
                  sheet=t('sec_dr_plan_backups'), empty=t('dr_plan_no_backups')),
            Table(PLAN_STEP_COLUMNS, model['scenarios'], title=t('sec_dr_plan_steps'),
                  sheet=t('sec_dr_plan_steps')),
            Table(PLAN_CONTACT_COLUMNS, model['contacts'], title=t('sec_dr_plan_contacts'),
                  sheet=t('sec_dr_plan_contacts')),
            Signatures(_signers(ctx), title=t('sec_signatures'))]
