# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The quarterly performance analysis (contract clause R2; issue 9 item 3), on the
controller, from the record store: trends of the quarter's inspection and
db_health records (CPU, memory, disk with a linear forecast "full in N days",
database growth, cache hit, connections), the top statements with their change
against the previous quarter, findings with recommendations, and the restart
decision per service with its reason from the data.

``performance_model(store, ctx)`` is the model of the 季度性能分析报告
(``dialysis_doc_types.PERFORMANCE_REPORT``); ``performance_record(model)`` the
``performance`` record that keeps the findings and decisions in the store.
Every sentence the hospital reads comes from the catalogue by key and figures.
"""

from __future__ import absolute_import, division, print_function

import datetime

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import make_item, make_record
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_model import parse_time

__metaclass__ = type

FORECAST_DAYS = 90            # a disk full within this many days is a finding
MEMORY_GROWTH = 1.5           # a service whose memory grew by this factor over the quarter needs a restart
UPTIME_DAYS = 180             # hosts up longer get a planned restart recommended with the next patch window
# Package names of a kernel (Debian/Ubuntu and RHEL families): an update of one needs a reboot.
KERNEL_PACKAGES = ('linux-image', 'linux-modules', 'kernel')
CACHE_HIT = {'postgresql': 99.0, 'mariadb': 95.0}
GiB = 1024.0 ** 3


def previous_quarter(start):
    """The start of the quarter before the one starting at ``start``."""
    month = start.month - 3
    year = start.year
    if month < 1:
        month += 12
        year -= 1
    return start.replace(year=year, month=month, day=1)


def linear_slope(points):
    """Least-squares slope (units per day) of [(datetime, value)]; None with < 2 points."""
    points = [(p[0], float(p[1])) for p in points if p[1] is not None]
    if len(points) < 2:
        return None
    t0 = points[0][0]
    xs = [(when - t0).total_seconds() / 86400.0 for when, _v in points]
    ys = [v for _w, v in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    if var == 0:
        return None
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var


def days_to_full(points, free_now):
    """Days until ``free_now`` bytes are used at the fitted growth of used bytes; None when
    the use does not grow."""
    slope = linear_slope(points)
    if slope is None or slope <= 0 or free_now is None:
        return None
    return round(free_now / slope, 1)


def _when(record, tz):
    rctx = record.get('context') or {}
    return parse_time(rctx.get('ended') or rctx.get('started')).astimezone(tz)


def _services(metrics):
    out = {}
    for unit, props in (metrics.get('services') or {}).items():
        if isinstance(props, dict):
            out[unit] = props
    return out


def _memory_current(props):
    """A unit's memory from systemd's MemoryCurrent (None when not accounted)."""
    try:
        value = int(props.get('MemoryCurrent'))
    except (TypeError, ValueError):
        return None
    return value if 0 < value < 2 ** 63 else None


def performance_model(store, ctx):
    """The model of the quarterly performance analysis (ctx: tz, start, end of the quarter).
    A service's memory is its unit's (systemd MemoryCurrent, kept by every inspection)."""
    tz, start, end = ctx['tz'], ctx['start'], ctx['end']
    hosts, databases = {}, {}
    for record in store.records(start, end, kind='inspection'):
        metrics = record.get('metrics') or {}
        if not metrics:
            continue
        host = (record.get('context') or {}).get('host')
        when = _when(record, tz)
        entry = hosts.setdefault(host, {'system': record.get('system'), 'points': [], 'mounts': {},
                                        'rss': {}, 'services': {}, 'uptime': None, 'memory_total': None})
        memory = metrics.get('memory') or {}
        filesystems = metrics.get('filesystems') or []
        disk = max([fs.get('percent') or 0 for fs in filesystems] or [None]) if filesystems else None
        cpu = metrics.get('cpu') or {}
        entry['points'].append((when, disk, memory.get('percent'), cpu.get('cpu_percent')))
        entry['memory_total'] = memory.get('total_bytes') or entry['memory_total']
        entry['uptime'] = metrics.get('uptime_seconds', entry['uptime'])
        for fs in filesystems:
            mount = entry['mounts'].setdefault(fs.get('mount'), {'used': [], 'free': None, 'percent': None})
            total, free = fs.get('total_bytes'), fs.get('free_bytes')
            if total is not None and free is not None:
                mount['used'].append((when, total - free))
                mount['free'], mount['percent'] = free, fs.get('percent')
        for unit, props in _services(metrics).items():
            entry['services'][unit] = props
            memory_now = _memory_current(props)
            if memory_now is not None:
                entry['rss'].setdefault(unit, []).append((when, memory_now))
    for record in store.records(start, end, kind='patch'):
        # The newest patch record of each inspected host: a reboot it left pending, or
        # updates a check-mode run listed, ask for a restart.
        host = (record.get('context') or {}).get('host')
        if host in hosts:
            when = _when(record, tz)
            if hosts[host].get('patch') is None or when >= hosts[host]['patch'][0]:
                hosts[host]['patch'] = (when, record)
    for record in store.records(start, end, kind='db_health'):
        host = (record.get('context') or {}).get('host')
        when = _when(record, tz)
        for name, figures in ((record.get('metrics') or {}).get('databases') or {}).items():
            entry = databases.setdefault((host, name),
                                         {'host': host, 'name': name, 'points': [], 'last': None})
            conns, most = figures.get('connections'), figures.get('max_connections')
            entry['points'].append((when, figures.get('database_bytes'), figures.get('cache_hit_percent'),
                                    round(100.0 * conns / most, 1) if conns is not None and most else None))
            if entry['last'] is None or when >= entry['last'][0]:
                entry['last'] = (when, figures)
    previous = {}
    for record in store.records(previous_quarter(start), start, kind='db_health'):
        host = (record.get('context') or {}).get('host')
        when = _when(record, tz)
        for name, figures in ((record.get('metrics') or {}).get('databases') or {}).items():
            if (host, name) not in previous or when >= previous[(host, name)][0]:
                previous[(host, name)] = (when, figures)
    model = analyse(hosts, databases, previous)
    for decision in model['decisions']:
        decision['id'] = decision_id(ctx.get('label') or '', decision)
    return model


def decision_id(label, decision):
    """The id of a restart decision in the engineers' file: ``<quarter>:<host>:<service>``."""
    return '%s:%s:%s' % (label, decision['host'], decision['service'])


def decision_entries(decisions, t):
    """{id: the generated fields of its entry in the engineers' restart file}: the
    analysis's verdict and its reason in the run's language."""
    return dict((d['id'], {'id': d['id'], 'host': d['host'], 'service': d['service'],
                           'analysis': 'needed' if d.get('analysis_needed', d['needed']) else 'not_needed',
                           'analysis_reason': t('perf_reason_' + d['reason'], **d)})
                for d in decisions)


def analyse(hosts, databases, previous):
    # rows/anomalies: what the documents run expects of every model (no inspection rows or
    # anomalies here: the findings and decisions are this document's own).
    model = {'hosts': {}, 'forecasts': [], 'databases': [], 'statements': [], 'findings': [],
             'decisions': [], 'rows': [], 'anomalies': {}}
    for host in sorted(hosts):
        entry = hosts[host]
        entry['points'].sort(key=lambda p: p[0])
        model['hosts'][host] = {'system': entry['system'], 'trend': list(entry['points'])}
        for mount, figures in sorted(entry['mounts'].items()):
            days = days_to_full(sorted(figures['used']), figures['free'])
            growth = linear_slope(sorted(figures['used']))
            model['forecasts'].append({'host': host, 'mount': mount, 'percent': figures['percent'],
                                       'growth_gib_day': None if growth is None else round(growth / GiB, 3),
                                       'days_to_full': days})
            if days is not None and days <= FORECAST_DAYS:
                model['findings'].append({'host': host, 'key': 'disk_full', 'object': mount,
                                          'figures': {'days': int(days), 'mount': mount}})
        model['decisions'].extend(restart_decisions(host, entry))
    memory_of = dict((h, e.get('memory_total')) for h, e in hosts.items())
    for key in sorted(databases, key=lambda k: (k[0] or '', k[1])):
        entry = databases[key]
        entry['points'].sort(key=lambda p: p[0])
        sizes = [(p[0], p[1]) for p in entry['points'] if p[1] is not None]
        first, last = (sizes[0][1], sizes[-1][1]) if sizes else (None, None)
        figures = entry['last'][1] if entry['last'] else {}
        hits = [p[2] for p in entry['points'] if p[2] is not None]
        shares = [p[3] for p in entry['points'] if p[3] is not None]
        row = {'host': entry['host'], 'database': entry['name'], 'engine': figures.get('engine'),
               'size_start': first, 'size_end': last,
               'growth_percent': round(100.0 * (last - first) / first, 1) if first else None,
               'cache_hit': min(hits) if hits else None, 'connections_max': max(shares) if shares else None,
               'points': len(entry['points'])}
        model['databases'].append(row)
        model['findings'].extend(database_findings(row, figures, memory_of.get(entry['host'])))
        before = (previous.get(key) or (None, {}))[1]
        model['statements'].extend(statement_changes(entry['host'], entry['name'], figures, before))
    model['findings'].sort(key=lambda f: (f['host'] or '', f['key'], str(f.get('object'))))
    return model


def statement_changes(host, database, figures, before):
    """The quarter's top statements by total time, each with its mean time's change
    against the previous quarter's last figures (the same statement id)."""
    earlier = dict((s.get('id'), s) for s in ((before or {}).get('statements') or {}).get('by_total') or [])
    earlier.update((s.get('id'), s) for s in ((before or {}).get('statements') or {}).get('by_mean') or []
                   if s.get('id') not in earlier)
    rows = []
    for rank, entry in enumerate(((figures.get('statements') or {}).get('by_total') or [])[:10]):
        old = earlier.get(entry.get('id'))
        change = None
        if old and old.get('mean_ms'):
            change = round(100.0 * ((entry.get('mean_ms') or 0) - old['mean_ms']) / old['mean_ms'], 1)
        rows.append({'host': host, 'database': database, 'rank': rank + 1, 'query': entry.get('query'),
                     'calls': entry.get('calls'), 'total_ms': entry.get('total_ms'),
                     'mean_ms': entry.get('mean_ms'), 'mean_change': change, 'new': old is None})
    return rows


def database_findings(row, figures, memory_total):
    host, name, engine = row['host'], row['database'], row.get('engine') or 'postgresql'
    found = []

    def add(key, obj=None, **values):
        found.append({'host': host, 'key': key, 'object': obj or name,
                      'figures': dict(values, database=name)})

    if row.get('cache_hit') is not None and row['cache_hit'] < CACHE_HIT.get(engine, 99.0):
        add('cache_hit_low', hit=row['cache_hit'], level=CACHE_HIT.get(engine, 99.0))
    if row.get('connections_max') is not None and row['connections_max'] >= 80:
        add('connections_high', share=row['connections_max'])
    settings = figures.get('settings') or {}
    if memory_total:
        ram_gib = round(memory_total / GiB, 1)
        if engine == 'postgresql' and settings.get('shared_buffers'):
            share = 100.0 * settings['shared_buffers'] / memory_total
            if share < 15 or share > 40:
                add('shared_buffers', now_mib=int(settings['shared_buffers'] // 1048576), ram_gib=ram_gib,
                    suggest_mib=int(memory_total * 0.25 // 1048576))
        if engine == 'postgresql' and settings.get('work_mem') and figures.get('max_connections'):
            if settings['work_mem'] * figures['max_connections'] > memory_total:
                add('work_mem', now_mib=int(settings['work_mem'] // 1048576),
                    connections=figures['max_connections'], ram_gib=ram_gib)
        if engine != 'postgresql' and settings.get('innodb_buffer_pool_size'):
            share = 100.0 * settings['innodb_buffer_pool_size'] / memory_total
            if share < 25:
                add('innodb_buffer_pool_size', now_mib=int(settings['innodb_buffer_pool_size'] // 1048576),
                    ram_gib=ram_gib, suggest_mib=int(memory_total * 0.5 // 1048576))
    for table in figures.get('tables') or []:
        seq, idx, read, live = (table.get('seq_scan') or 0, table.get('idx_scan') or 0,
                                table.get('seq_tup_read') or 0, table.get('live') or 0)
        if live >= 10000 and seq > idx and read >= 100 * live:
            statements = [s.get('query') for s in (figures.get('statements') or {}).get('by_total') or []
                          if table.get('name') and table['name'] in (s.get('query') or '')]
            add('missing_index', '%s.%s' % (table.get('schema'), table.get('name')), table=table.get('name'),
                seq_scans=seq, rows_read=read, statement=(statements or [''])[0])
    for statement in (figures.get('statements') or {}).get('by_total') or []:
        if (statement.get('no_index_used') or 0) > 0:
            add('missing_index', statement.get('id'), table='', seq_scans=statement['no_index_used'],
                rows_read=statement.get('rows_examined') or 0, statement=statement.get('query'))
    return found


def pending_restart(patch):
    """(reason, figures) of the newest patch record that asks for a restart, or None:
    a reboot the patch run left pending (a kernel or a core library was updated), or
    updates a check-mode run listed (applying them restarts what uses them)."""
    if not patch:
        return None
    record = patch[1]
    metrics = record.get('metrics') or {}
    outcome = metrics.get('outcome') or record.get('outcome')
    if outcome == 'applied' and metrics.get('reboot_required') and not metrics.get('rebooted'):
        return 'pending_reboot', {'patched': patch[0].strftime('%Y-%m-%d')}
    if outcome == 'would_apply' and metrics.get('packages'):
        names = [str(i.get('item', ''))[len('package:'):] for i in record.get('items') or []
                 if str(i.get('item', '')).startswith('package:')]
        kernel = any(n.startswith(KERNEL_PACKAGES) for n in names)
        return ('pending_kernel' if kernel else 'pending_updates'), {
            'packages': metrics['packages'], 'listed': patch[0].strftime('%Y-%m-%d')}
    return None


def restart_decisions(host, entry):
    """Per service of the host: a restart needed or not, with the reason from the data
    (memory growth across the inspections, a pending kernel or library update from the
    newest patch record, the host's uptime)."""
    out = []
    pending = pending_restart(entry.get('patch'))
    for unit in sorted(entry['services']):
        process = unit
        series = sorted(entry['rss'].get(unit) or [])
        uptime_days = int((entry.get('uptime') or 0) // 86400)
        decision = {'host': host, 'service': unit, 'process': process, 'uptime_days': uptime_days}
        if len(series) >= 3 and series[0][1] and series[-1][1] >= MEMORY_GROWTH * series[0][1] \
                and all(b[1] >= a[1] * 0.95 for a, b in zip(series, series[1:], strict=False)):
            decision.update(needed=True, reason='memory_growth', first_mib=int(series[0][1] // 1048576),
                            last_mib=int(series[-1][1] // 1048576), points=len(series))
        elif pending:
            decision.update(pending[1], needed=True, reason=pending[0])
        elif uptime_days >= UPTIME_DAYS:
            decision.update(needed=True, reason='uptime')
        elif series:
            decision.update(needed=False, reason='memory_steady', first_mib=int(series[0][1] // 1048576),
                            last_mib=int(series[-1][1] // 1048576), points=len(series))
        else:
            decision.update(needed=False, reason='no_memory_data')
        out.append(decision)
    return out


def performance_record(model, system='shared'):
    """The ``performance`` record: a finding per item (warning) and the restart decision per
    service (warning when needed), so the decisions are kept in the store."""
    items = []
    for finding in model['findings']:
        message = '%s on %s: %s' % (finding['key'], finding['host'], finding['figures'])
        items.append(make_item('perf_%s:%s/%s' % (finding['key'], finding['host'], finding['object']),
                               finding['key'], 'warning', message,
                               reason=finding['key'], figures=finding['figures']))
    for decision in model['decisions']:
        # The final decision (the engineer's when one was written, else the analysis's),
        # with the analysis's verdict and reason kept beside it.
        analysis = decision.get('analysis_needed', decision['needed'])
        said = 'Restart of %s on %s %s: %s' % (decision['service'], decision['host'],
                                               'needed' if decision['needed'] else 'not needed',
                                               decision['reason'])
        engineer = {}
        if decision.get('decided_by') == 'engineer':
            said += ' (decided by %s: %s)' % (decision['engineer'], decision['engineer_reason'])
            engineer = {'engineer': decision['engineer'], 'engineer_reason': decision['engineer_reason'],
                        'decided_at': decision.get('decided_at') or None}
        items.append(make_item('restart_decision:%s/%s' % (decision['host'], decision['service']),
                               'needed' if decision['needed'] else 'not_needed',
                               'warning' if decision['needed'] else 'ok', said,
                               reason='restart_%s' % decision['reason'], host=decision['host'],
                               service=decision['service'], uptime_days=decision['uptime_days'],
                               first_mib=decision.get('first_mib'), last_mib=decision.get('last_mib'),
                               analysis='needed' if analysis else 'not_needed',
                               decided_by=decision.get('decided_by') or 'analysis', **engineer))
    metrics = {'forecasts': model['forecasts'], 'databases': model['databases'],
               'statements': model['statements']}
    return make_record('performance', system, items, metrics)


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc)
