# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Models of the documents, read from the record store.

``inspection_model`` is the model of the inspection documents (the record
sheet and the monthly/quarterly report): one row per host x item x inspection
(already in the words of the documents' language, keyed like the declared
columns), the anomalies aggregated per host and item, per-host trends, and the
expected hosts that were not inspected: never in the period (a finding), not
inspectable by a Linux inspection (Windows hosts: listed with the reason, not
a finding), or unreachable at their last inspection.
"""

from __future__ import absolute_import, division, print_function

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import (
    ANOMALY_STATUSES,
    SEVERITY_ORDER,
    SYSTEMS,
)
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_risk import reasons_text
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import parse_time

__metaclass__ = type

TIME_FORMAT = '%Y-%m-%d %H:%M'


def anomaly_id(label, host, item):
    return '%s:%s:%s' % (label, host, item)


def _worse(a, b):
    return a if SEVERITY_ORDER.get(a, 0) >= SEVERITY_ORDER.get(b, 0) else b


def _fs_max(metrics):
    values = [f.get('percent') for f in metrics.get('filesystems') or [] if f.get('percent') is not None]
    return max(values) if values else None


def _status(item):
    """The item's status as the documents show it (``skipped`` for an optional
    log that a version-1 record reported as ok without a value)."""
    status = item.get('status')
    if status == 'ok' and item.get('value') is None and str(item.get('item', '')).startswith('log:'):
        return 'skipped'
    return status if status in SEVERITY_ORDER else 'error'


def _figure(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return round(value, 2)
    if isinstance(value, int):
        return value
    return None


def inspection_model(store, ctx):
    """The model of the inspection documents (see module docstring).

    ctx: t (Translator), label, start, end, tz, expected_hosts {host: system},
    not_inspectable [host], project_lead.
    """
    t, label, tz = ctx['t'], ctx['label'], ctx['tz']
    lead = ctx.get('project_lead') or ''
    rows, anomalies, hosts = [], {}, {}
    not_inspectable = set(ctx.get('not_inspectable') or ())
    for name, system in ctx['expected_hosts'].items():
        hosts[name] = {'system': system if system in SYSTEMS else 'shared', 'inspections': 0,
                       'last': None, 'last_status': None, 'trend': [], 'expected': True}
    item_labels, results, systems = {}, {}, {}
    for record in store.records(ctx['start'], ctx['end'], kind='inspection'):
        rctx = record['context']
        host = rctx.get('host')
        when = parse_time(rctx.get('ended') or rctx.get('started')).astimezone(tz)
        system = record.get('system') if record.get('system') in SYSTEMS else 'shared'
        entry = hosts.setdefault(host, {'system': system, 'inspections': 0, 'last': None,
                                        'last_status': None, 'trend': [], 'expected': False})
        if entry['system'] == 'shared' and system != 'shared':
            entry['system'] = system
        unreachable = rctx.get('status') == 'unreachable'
        entry['inspections'] += 1
        if entry['last'] is None or when >= entry['last']:
            entry['last'] = when
            entry['last_status'] = 'unreachable' if unreachable else record.get('status', 'ok')
        metrics = record.get('metrics') or {}
        if metrics:
            entry['trend'].append((when, _fs_max(metrics), (metrics.get('memory') or {}).get('percent'),
                                   (metrics.get('cpu') or {}).get('cpu_percent')))
        time_text = when.strftime(TIME_FORMAT)
        raw_system = entry['system']
        system_label = systems.get(raw_system) or systems.setdefault(raw_system, t.system(raw_system))
        engineer = rctx.get('operator') or ''
        for item in record.get('items') or []:
            ident = str(item.get('item', ''))
            status = _status(item)
            value, unit = item.get('value'), item.get('unit')
            figure = _figure(value)
            if unit == 's' and figure is not None:  # uptime: days read better than seconds
                figure, unit = round(figure / 86400.0, 1), 'days'
            threshold = item.get('threshold') if isinstance(item.get('threshold'), dict) else {}
            label_text = item_labels.get(ident)
            if label_text is None:
                label_text = item_labels[ident] = t.item_label(ident)
            result = results.get(status) or results.setdefault(status, t.result(status))
            row = {'time': time_text, 'system': system_label, 'host': host, 'item': label_text,
                   'item_id': ident,
                   'value': figure if figure is not None else t.value_text(value),
                   'unit': t.unit(unit) if value is not None else '',
                   'warning': _figure(threshold.get('warning')),
                   'critical': _figure(threshold.get('critical')),
                   'result': result, 'description': '', 'detail': item.get('message') or '',
                   'feedback': '', 'resolution': '', 'engineer': engineer, 'lead': lead,
                   'status': '', 'anomaly_id': '', '_class': '', '_system': raw_system,
                   '_status': status}
            if status != 'ok':
                row['description'] = t.describe(dict(item, status=status), tz=tz)
                row['_class'] = 'r-' + status
            if status in ANOMALY_STATUSES:
                aid = anomaly_id(label, host, ident)
                row['anomaly_id'] = aid
                found = anomalies.get(aid)
                if found is None:
                    anomalies[aid] = {'id': aid, 'host': host, 'system': raw_system,
                                      'item': ident, 'item_label': label_text, 'severity': status,
                                      'first_seen': time_text, 'last_seen': time_text,
                                      'occurrences': 1, 'description': row['description']}
                else:
                    found['occurrences'] += 1
                    found['severity'] = _worse(found['severity'], status)
                    found['last_seen'] = max(found['last_seen'], time_text)
                    found['first_seen'] = min(found['first_seen'], time_text)
                    if status == found['severity']:
                        found['description'] = row['description']
            rows.append(row)
    rows.sort(key=lambda r: (r['time'], r['host']))
    not_inspected = []
    for name, entry in sorted(hosts.items()):
        entry['trend'].sort(key=lambda point: point[0])
        reason, kind, aid = None, None, ''
        if entry['inspections'] == 0 and name in not_inspectable:
            kind, reason = 'not_inspectable', t('not_inspectable_windows')
        elif entry['inspections'] == 0:
            kind, reason = 'never', t('never_inspected')
            aid = anomaly_id(label, name, 'inspection:missing')
            anomalies[aid] = {'id': aid, 'host': name, 'system': entry['system'],
                              'item': 'inspection:missing',
                              'item_label': t.item_label('inspection:missing'),
                              'severity': 'critical', 'first_seen': '', 'last_seen': '',
                              'occurrences': 1, 'description': t('desc_inspection:missing')}
        elif entry['last_status'] == 'unreachable':
            not_inspected.append({'host': name, 'system': t.system(entry['system']),
                                  '_system': entry['system'], 'kind': 'unreachable',
                                  'reason': t('last_unreachable',
                                              time=entry['last'].strftime(TIME_FORMAT)),
                                  '_class': 'r-critical'})
            continue
        else:
            continue
        entry['not_inspected'] = kind
        not_inspected.append({'host': name, 'system': t.system(entry['system']),
                              '_system': entry['system'], 'kind': kind, 'reason': reason,
                              '_class': 'r-critical' if kind == 'never' else 'r-skipped'})
        rows.append({'time': '', 'system': t.system(entry['system']), 'host': name,
                     'item': t.item_label('inspection:missing'), 'item_id': 'inspection:missing',
                     'value': '', 'unit': '', 'warning': None, 'critical': None,
                     'result': t.result('missing'), 'description': reason, 'detail': '',
                     'feedback': '', 'resolution': '', 'engineer': '', 'lead': lead,
                     'status': '', 'anomaly_id': aid, '_class': 'r-missing',
                     '_system': entry['system'], '_status': 'missing'})
    backups, backup_anomalies = backup_model(store, ctx)
    anomalies.update(backup_anomalies)
    return {'rows': rows, 'anomalies': anomalies, 'hosts': hosts, 'not_inspected': not_inspected,
            'changes': changes_model(store, ctx), 'backups': backups,
            'drills': _report_drills(store, ctx),
            'bad_lines': list(store.stats.get('bad_lines', []))}


def _report_drills(store, ctx):
    """The month's restore drills and DR drills for the report's backup section (issue #10)."""
    from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_dr import drill_report_rows
    return drill_report_rows(store, ctx, _drill_rows(store, ctx))


# Record kinds of the changes the monthly report lists beside the guard's verdicts.
CHANGE_KINDS = ('restart', 'patch', 'db_maintenance', 'upgrade', 'rollback')


def _guard_rows(store, ctx):
    t, tz = ctx['t'], ctx['tz']
    for verdict in store.guard_verdicts(ctx['start'], ctx['end']):
        decision = verdict.get('decision')
        if decision not in ('refused', 'overridden') or verdict.get('check_mode'):
            continue
        duty_key = 'duty_%s' % verdict.get('duty')
        duty = t(duty_key) if t.has(duty_key) else str(verdict.get('duty'))
        systems = dict((s, o) for s, o in (verdict.get('systems') or {}).items() if o.get('reasons'))
        reasons = []
        for system, out in sorted(systems.items()):
            for code in out.get('reasons') or []:
                if t.has('guard_' + code):
                    reasons.append(t('guard_' + code, system=t.system(system), running=out.get('running')))
        if 'no_ticket' in (verdict.get('reasons') or []):
            reasons.append(t('guard_no_ticket'))
        override = verdict.get('override') or {}
        if decision == 'overridden' and override.get('reason'):
            reasons.append(t('guard_override_reason', reason=override['reason']))
        hosts = sorted(set(h for o in systems.values() for h in o.get('hosts') or []))
        yield {'_when': parse_time(verdict.get('time') or verdict.get('at')).astimezone(tz),
               'system': t.listing(t.system(s) for s in sorted(systems)),
               'hosts': ', '.join(hosts or verdict.get('hosts') or []),
               'event': t('event_guard_' + decision, duty=duty),
               'detail': t('sentence_join').join(reasons), 'outcome': t('outcome_' + decision),
               'ticket': verdict.get('ticket') or '',
               'operator': override.get('operator') or verdict.get('operator') or '',
               '_class': 'r-warning' if decision == 'overridden' else 'r-skipped'}


def _change_rows(store, ctx):
    t, tz = ctx['t'], ctx['tz']
    for record in store.records(ctx['start'], ctx['end']):
        kind = record.get('kind')
        rctx = record['context']
        if kind not in CHANGE_KINDS or rctx.get('check_mode'):
            continue
        status = record.get('status')
        failed = status in ANOMALY_STATUSES
        labels = []
        for item in record.get('items') or []:
            label = t.item_label(str(item.get('item', '')))
            if label not in labels:
                labels.append(label)
        parts = [t.listing(labels)] if labels else []
        if record.get('reason'):
            parts.append(str(record['reason']))
        detail = t('sentence_join').join(parts)
        outcome = record.get('outcome')
        outcome_key = 'outcome_%s' % outcome
        yield {'_when': parse_time(rctx.get('ended') or rctx.get('started')).astimezone(tz),
               'system': t.system(record.get('system')), 'hosts': rctx.get('host') or '',
               'event': t('event_' + kind), 'detail': detail,
               'outcome': t(outcome_key) if outcome and t.has(outcome_key)
               else t('outcome_failed' if failed else 'outcome_ok'),
               'ticket': record.get('ticket') or '', 'operator': rctx.get('operator') or '',
               '_class': 'r-critical' if failed else ''}


def _risk_rows(store, ctx):
    """Upgrades refused by their risk assessment, and "no go" verdicts overridden (issue #12)."""
    t, tz = ctx['t'], ctx['tz']
    for record in store.records(ctx['start'], ctx['end'], kind='upgrade_risk'):
        rctx = record['context']
        gate = record.get('gate')
        if gate not in ('refused', 'overridden') or rctx.get('check_mode'):
            continue
        parts = ['%s → %s' % (record.get('version_from'), record.get('version_to')), reasons_text(t, record)]
        if gate == 'overridden' and record.get('override_reason'):
            parts.append(t('guard_override_reason', reason=record['override_reason']))
        yield {'_when': parse_time(rctx.get('ended') or rctx.get('started')).astimezone(tz),
               'system': t.system(record.get('system')), 'hosts': ', '.join(record.get('hosts') or []),
               'event': t('event_upgrade_risk_' + gate), 'detail': t('sentence_join').join(parts),
               'outcome': t('outcome_' + gate), 'ticket': record.get('ticket') or '',
               'operator': record.get('operator') or rctx.get('operator') or '',
               '_class': 'r-warning' if gate == 'overridden' else 'r-skipped'}


def changes_model(store, ctx):
    """The period's changes (restarts, patches, maintenance, upgrades) and the
    treatment-hours guard's refusals and overrides, in time order, in the words
    of the documents' language (check-mode runs are left out: they changed nothing)."""
    rows = list(_guard_rows(store, ctx)) + list(_change_rows(store, ctx)) + list(_risk_rows(store, ctx))
    rows.sort(key=lambda r: r['_when'])
    for row in rows:
        row['time'] = row.pop('_when').strftime(TIME_FORMAT)
    return rows


def backup_model(store, ctx):
    """The period's backup checks (backup_check records, issue #10): one row per host and
    backup set from its latest check (newest backup, its age and size, the findings in the
    documents' words), and every finding of the period as an anomaly of the inspection
    documents, with the same ids, feedback and resolution as any other. Check-mode runs
    count: the check only reads."""
    t, label, tz = ctx['t'], ctx['label'], ctx['tz']
    latest, anomalies = {}, {}
    for record in store.records(ctx['start'], ctx['end'], kind='backup_check'):
        rctx = record['context']
        host = rctx.get('host') or ''
        when = parse_time(rctx.get('ended') or rctx.get('started')).astimezone(tz)
        time_text = when.strftime(TIME_FORMAT)
        system = record.get('system') if record.get('system') in SYSTEMS else 'shared'
        set_name = record.get('set') or ''
        key = (host, set_name)
        if key not in latest or when >= latest[key][0]:
            latest[key] = (when, record, system)
        for item in record.get('items') or []:
            status = _status(item)
            if status not in ANOMALY_STATUSES:
                continue
            ident = str(item.get('item', ''))
            aid = anomaly_id(label, host, ident)
            description = t.describe(dict(item, status=status), tz=tz)
            found = anomalies.get(aid)
            if found is None:
                anomalies[aid] = {'id': aid, 'host': host, 'system': system, 'item': ident,
                                  'item_label': t.item_label(ident), 'severity': status,
                                  'first_seen': time_text, 'last_seen': time_text, 'occurrences': 1,
                                  'description': description}
            else:
                found['occurrences'] += 1
                found['severity'] = _worse(found['severity'], status)
                found['first_seen'] = min(found['first_seen'], time_text)
                if time_text >= found['last_seen']:
                    found['last_seen'], found['description'] = time_text, description
    rows = []
    for (host, set_name), (when, record, system) in sorted(latest.items()):
        by_check = dict((str(i.get('item', '')).rsplit(':', 1)[-1], i) for i in record.get('items') or [])
        age, size = by_check.get('age') or {}, by_check.get('size') or {}
        findings = [t.describe(dict(i, status=_status(i)), tz=tz) for i in record.get('items') or []
                    if _status(i) in ANOMALY_STATUSES]
        status = record.get('status') if record.get('status') in SEVERITY_ORDER else 'error'
        if not record.get('verified', True) and status == 'ok':
            findings.append(t('backup_unverified'))
        rows.append({'time': when.strftime(TIME_FORMAT), 'system': t.system(system), 'host': host,
                     'set': set_name, 'database': record.get('database') or '',
                     'newest': record.get('newest') or '',
                     'age': _figure(age.get('value')), 'size': _figure(size.get('value')),
                     'findings': t('sentence_join').join(findings) or t('backup_all_ok'),
                     'result': t.result(status), '_system': system, '_status': status,
                     '_class': 'r-' + status if status != 'ok' else ''})
    return rows, anomalies


def _check_rows(store, ctx):
    """Every backup check of the period: one row per host, set and run."""
    t, tz = ctx['t'], ctx['tz']
    rows = []
    for record in store.records(ctx['start'], ctx['end'], kind='backup_check'):
        rctx = record['context']
        when = parse_time(rctx.get('ended') or rctx.get('started')).astimezone(tz)
        system = record.get('system') if record.get('system') in SYSTEMS else 'shared'
        by_check = dict((str(i.get('item', '')).rsplit(':', 1)[-1], i) for i in record.get('items') or [])
        status = record.get('status') if record.get('status') in SEVERITY_ORDER else 'error'
        cells = {}
        for check in ('checksum', 'structure', 'retention', 'job'):
            item = by_check.get(check)
            cells[check] = '' if item is None else t.result(_status(item))
        findings = [t.describe(dict(i, status=_status(i)), tz=tz) for i in record.get('items') or []
                    if _status(i) in ANOMALY_STATUSES]
        if not record.get('verified', True) and status == 'ok':
            findings.append(t('backup_unverified'))
        rows.append(dict(cells, **{
            '_when': when, 'time': when.strftime(TIME_FORMAT), 'system': t.system(system),
            'host': rctx.get('host') or '', 'set': record.get('set') or '',
            'database': record.get('database') or '', 'format': record.get('format') or '',
            'newest': record.get('newest') or '',
            'age': _figure((by_check.get('age') or {}).get('value')),
            'size': _figure((by_check.get('size') or {}).get('value')),
            'findings': t('sentence_join').join(findings) or t('backup_all_ok'),
            'result': t.result(status), 'operator': rctx.get('operator') or '',
            # the findings are the anomalies of the inspection documents (annotated there)
            'anomaly_id': '',
            '_system': system, '_status': status, '_class': 'r-' + status if status != 'ok' else ''}))
    rows.sort(key=lambda r: (r['_when'], r['host'], r['set']))
    for row in rows:
        row.pop('_when')
    return rows


# A drill is a success only with this outcome; anything else (and a record without one) is not.
DRILL_SUCCESS = 'ok'


def _drill_rows(store, ctx):
    """Every restore drill of the period (restore_drill records), check-mode runs left out."""
    t, tz = ctx['t'], ctx['tz']
    rows = []
    for record in store.records(ctx['start'], ctx['end'], kind='restore_drill'):
        rctx = record['context']
        if rctx.get('check_mode') or record.get('check_mode'):
            continue
        when = parse_time(rctx.get('ended') or rctx.get('started')).astimezone(tz)
        system = record.get('system') if record.get('system') in SYSTEMS else 'shared'
        by_check = dict((str(i.get('item', '')).rsplit(':', 1)[-1], i) for i in record.get('items') or [])
        outcome = record.get('outcome')
        if outcome not in ('ok', 'failed', 'not_done', 'timed_out', 'refused'):
            outcome = 'failed'
        if outcome == DRILL_SUCCESS and record.get('status') in ('critical', 'error'):
            outcome = 'failed'
        rto = by_check.get('rto') or {}
        threshold = rto.get('threshold') if isinstance(rto.get('threshold'), dict) else {}
        target = threshold.get('critical')
        integrity, counts, smoke = (by_check.get(k) or {} for k in ('integrity', 'counts', 'smoke'))
        findings = [t.describe(dict(i, status=_status(i)), tz=tz) for i in record.get('items') or []
                    if _status(i) in ANOMALY_STATUSES]
        rows.append({
            '_when': when, 'time': when.strftime(TIME_FORMAT), 'system': t.system(system),
            'host': rctx.get('host') or '', 'set': record.get('set') or '',
            'backup': record.get('backup') or '',
            'rto': _figure(record.get('rto_seconds')),
            'rto_target': _figure(target),
            'rpo': _figure(record.get('rpo_hours')),
            'integrity': t('drill_integrity_cell', checked=integrity.get('checked'),
                           failed=integrity.get('value'))
            if integrity.get('checked') is not None else '',
            'counts': t('drill_counts_cell', ok=counts.get('value'), total=counts.get('total'))
            if counts.get('total') is not None else '',
            'smoke': t('drill_counts_cell', ok=smoke.get('value'), total=smoke.get('total'))
            if smoke.get('total') is not None else '',
            'outcome': t('drill_outcome_' + outcome),
            'findings': t('sentence_join').join(findings),
            'ticket': record.get('ticket') or '', 'operator': rctx.get('operator') or '',
            '_system': system, '_outcome': outcome,
            '_class': {DRILL_SUCCESS: '', 'refused': 'r-skipped'}.get(outcome, 'r-critical')})
    rows.sort(key=lambda r: (r['_when'], r['host'], r['set']))
    for row in rows:
        row.pop('_when')
    return rows


def backup_documents_model(store, ctx):
    """The model of 备份检查记录 and 恢复演练记录: every backup check and every restore drill
    of the period, in the words of the documents' language, and the backup findings as
    anomalies (the same ids as in the inspection documents)."""
    _latest, anomalies = backup_model(store, ctx)
    checks = _check_rows(store, ctx)
    drills = _drill_rows(store, ctx)
    return {'rows': checks, 'drills': drills, 'anomalies': anomalies,
            'bad_lines': list(store.stats.get('bad_lines', []))}


def apply_annotations(model, t):
    """Copy the merged feedback/resolution of each anomaly onto its rows."""
    anomalies = model['anomalies']
    resolved, open_ = t('status_resolved'), t('status_open')
    for row in model['rows']:
        aid = row['anomaly_id']
        if aid:
            anomaly = anomalies.get(aid)
            if anomaly is not None:
                row['feedback'] = anomaly.get('feedback', '')
                row['resolution'] = anomaly.get('resolution', '')
                row['status'] = resolved if anomaly.get('resolved') else open_
                if anomaly.get('resolved'):
                    row['_class'] = 'resolved'


def summary_by_system(model, systems_order=SYSTEMS):
    """Per system: hosts expected/inspected/not inspected, inspections, items,
    anomalies by severity, open and resolved."""
    out = []
    items = {}
    for row in model['rows']:
        if row['_status'] != 'missing':
            items[row['_system']] = items.get(row['_system'], 0) + 1
    for system in systems_order:
        hosts = dict((h, e) for h, e in model['hosts'].items() if e['system'] == system)
        if not hosts:
            continue
        anomalies = [a for a in model['anomalies'].values() if a['system'] == system]
        out.append({
            'system': system,
            'hosts_expected': sum(1 for e in hosts.values() if e['expected']) or len(hosts),
            'hosts_inspected': sum(1 for e in hosts.values() if e['inspections']),
            'hosts_not_inspected': sum(1 for e in hosts.values() if not e['inspections']),
            'inspections': sum(e['inspections'] for e in hosts.values()),
            'items': items.get(system, 0),
            'warning': sum(1 for a in anomalies if a['severity'] == 'warning'),
            'critical': sum(1 for a in anomalies if a['severity'] == 'critical'),
            'error': sum(1 for a in anomalies if a['severity'] == 'error'),
            'open': sum(1 for a in anomalies if not a.get('resolved')),
            'resolved': sum(1 for a in anomalies if a.get('resolved')),
            'anomalies': sorted(anomalies, key=lambda a: (-SEVERITY_ORDER[a['severity']], a['host'],
                                                          a['item'])),
            'hosts': sorted(hosts),
        })
    return out
