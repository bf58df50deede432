"""The bench's figures: medians and ratios per case, printed beside the project's
targets (PASS/MISS, never a failed exit), and everything written to
bench/results/<stamp>/bench.json (+ bench/results/latest.json)."""

import json
import os
import shutil
import statistics

from common import REPO, say
from measure import paired, stats

TARGETS = {
    'inspect_over_ping': ('<=', 1.3),
    'naive_over_inspect': ('>=', 6.0),
    'callback_overhead_wall': ('<=', 0.03),
    'callback_overhead_cpu': ('<=', 0.03),
    'callback_seconds_share': ('<=', 0.03),
    'report_seconds': ('<=', 10.0),
}
CASE_KEYS = ('wall_s', 'controller_cpu_s', 'ansible_tree_cpu_s', 'ssh_master_cpu_s',
             'machine_busy_cpu_s', 'hosts_cpu_s', 'plumbing_cpu_s', 'other_cpu_s',
             'steal_s', 'maxrss_largest_process_mb', 'peak_tree_rss_mb',
             'peak_tree_pss_mb', 'callback_seconds', 'hosts_with_anomalies')
LABELS = [
    ('inspect_over_ping', 'inspect / ping (wall)', 'x'),
    ('naive_over_inspect', 'naive / inspect (wall)', 'x'),
    ('callback_overhead_wall', 'records callback overhead, B vs C wall', '%'),
    ('callback_overhead_cpu', 'records callback overhead, B vs C controller CPU', '%'),
    ('callback_seconds_share', 'callback_seconds / B wall', '%'),
    ('report_seconds', 'quarterly report generation', 's'),
    ('inspect_over_ping_controller_cpu', 'inspect / ping (controller CPU), info', 'x'),
    ('naive_over_inspect_controller_cpu', 'naive / inspect (controller CPU), info', 'x'),
    ('module_over_ping', 'host_inspection alone / ping (wall), info', 'x'),
    ('clinical_wall', 'clinical items (3 lab hosts), C - K wall, info', 's'),
    ('clinical_hosts_cpu_per_lab_host', 'clinical items, C - K hosts CPU / lab host, info', 's'),
    ('clinical_module_ms_per_lab_host', 'clinical checks in the module, slowest host, info', 'ms'),
]


def summarize(runs, case_names, rounds, report):
    """(cases, ratios): per case its figures over the rounds; the ratios with their targets.
    `case_names` maps each case run, in order, to what it is."""
    cases = {}
    for case, what in case_names.items():
        cases[case] = {'what': what}
        for key in CASE_KEYS:
            value = stats(runs, case, key)
            if value is not None:
                cases[case][key] = value
    ratios = {}

    def med(case, key):
        return (cases.get(case, {}).get(key) or {}).get('median')

    def ratio(name, value, unit='x', info=None):
        if value is None:
            return
        op, target = TARGETS.get(name, (None, None))
        entry = {'value': value}
        if op:
            entry.update(target=target, op=op,
                         verdict='PASS' if (value <= target if op == '<=' else value >= target)
                         else 'MISS')
        if info:
            entry['info'] = info
        ratios[name] = entry

    if med('B', 'wall_s') and med('A', 'wall_s'):
        ratio('inspect_over_ping', round(med('B', 'wall_s') / med('A', 'wall_s'), 2))
        ratio('inspect_over_ping_controller_cpu',
              round(med('B', 'controller_cpu_s') / med('A', 'controller_cpu_s'), 2))
    if med('M', 'wall_s') and med('A', 'wall_s'):
        ratio('module_over_ping', round(med('M', 'wall_s') / med('A', 'wall_s'), 2))
    if med('D', 'wall_s') and med('B', 'wall_s'):
        ratio('naive_over_inspect', round(med('D', 'wall_s') / med('B', 'wall_s'), 2))
        ratio('naive_over_inspect_controller_cpu',
              round(med('D', 'controller_cpu_s') / med('B', 'controller_cpu_s'), 2))
    if 'B' in cases and 'C' in cases:
        ratio('callback_overhead_wall', paired(runs, rounds, 'B', 'C', 'wall_s'))
        ratio('callback_overhead_cpu', paired(runs, rounds, 'B', 'C', 'controller_cpu_s'))
        shares = [r['callback_seconds'] / r['wall_s'] for r in runs
                  if r['case'] == 'B' and r.get('callback_seconds') is not None]
        if shares:
            ratio('callback_seconds_share', round(statistics.median(shares), 4))
    if 'C' in cases and 'K' in cases:
        # What the clinical items cost: the same run with them and without (both callback off).
        ratio('clinical_wall', _paired_diff(runs, rounds, 'C', 'K', 'wall_s'))
        diff = _paired_diff(runs, rounds, 'C', 'K', 'hosts_cpu_s')
        if diff is not None:
            ratio('clinical_hosts_cpu_per_lab_host', round(diff / 3.0, 2))
    per_host = {}
    for run in runs:
        for host, ms in (run.get('clinical_ms') or {}).items():
            per_host.setdefault(host, []).append(ms)
    if per_host:
        ratio('clinical_module_ms_per_lab_host',
              max(round(statistics.median(v), 1) for v in per_host.values()),
              info=dict((h, round(statistics.median(v), 1)) for h, v in sorted(per_host.items())))
    if report.get('runs'):
        walls = [r['wall_s'] for r in report['runs'] if r['rc'] == 0]
        if walls:
            ratio('report_seconds', round(statistics.median(walls), 2))
    return cases, ratios


def _paired_diff(runs, rounds, num, den, key):
    """Median over rounds of num - den, pairing the runs of one round."""
    diffs = []
    for rnd in range(1, rounds + 1):
        a = [r.get(key) for r in runs if r['case'] == num and r['round'] == rnd]
        b = [r.get(key) for r in runs if r['case'] == den and r['round'] == rnd]
        if a and b and a[0] is not None and b[0] is not None:
            diffs.append(a[0] - b[0])
    return round(statistics.median(diffs), 2) if diffs else None


def _fmt(key, unit, v):
    if unit == '%':
        return '%.2f %%' % (v * 100) if key == 'callback_seconds_share' else '%+.1f %%' % (v * 100)
    if unit == 's':
        return '%+.1f s' % v if key.startswith('clinical') else '%.1f s' % v
    if unit == 'ms':
        return '%.0f ms' % v
    return '%.2f' % v


def print_summary(hosts, rounds, cases, ratios, report):
    say()
    say('==> Results: %d hosts, %d rounds (medians; min-max over rounds)' % (hosts, rounds))
    say('    %-40s %-20s %-12s %-10s %-10s %s' % ('case', 'wall s', 'ctl CPU s', 'hosts CPU',
                                                'other CPU', 'largest proc RSS / tree PSS MB'))
    for case, c in cases.items():
        w = c.get('wall_s')
        if not w:
            continue
        say('    %-40s %-20s %-12s %-10s %-10s %s' % (
            '%s %s' % (case, c['what']),
            '%.1f (%.1f-%.1f)' % (w['median'], w['min'], w['max']),
            '%.1f' % c['controller_cpu_s']['median'],
            '%.0f' % (c.get('hosts_cpu_s') or {}).get('median', float('nan')),
            '%.0f' % c['other_cpu_s']['median'],
            '%.0f / %.0f' % (c['maxrss_largest_process_mb']['max'], c['peak_tree_pss_mb']['max'])))
    if report.get('runs'):
        rr = report['runs']
        walls = [r['wall_s'] for r in rr]
        say('    %-40s %-20s %-12s %-10s %-10s %s' % (
            'R quarterly report (synthetic 2026-Q4)',
            '%.1f (%.1f-%.1f)' % (statistics.median(walls), min(walls), max(walls)),
            '%.1f' % statistics.median([r['controller_cpu_s'] for r in rr]),
            '-',
            '%.0f' % statistics.median([r['other_cpu_s'] for r in rr]),
            '%.0f / %.0f' % (max(r['maxrss_largest_process_mb'] for r in rr),
                             max(r['peak_tree_pss_mb'] for r in rr))))
    elif report.get('skipped'):
        say('    R quarterly report: %s' % report['skipped'])
    noisy = [case for case, c in cases.items() if c.get('other_cpu_s') and c.get('machine_busy_cpu_s')
             and c['other_cpu_s']['max'] > 0.1 * c['machine_busy_cpu_s']['median']]
    if noisy:
        say('    NOTE: other processes used >10 %% of the machine\'s CPU during case(s) %s '
            '(another job on the machine?): those figures are inflated' % ', '.join(noisy))
    say()
    say('==> Ratios and targets')
    for key, text, unit in LABELS:
        entry = ratios.get(key)
        if entry is None:
            if key == 'report_seconds':
                say('    %-50s %s' % (text, report.get('skipped', 'not measured')))
            continue

        target = ''
        if 'target' in entry:
            tv = entry['target']
            target = 'target %s %s' % ('\u2264' if entry['op'] == '<=' else '\u2265',
                                       '%g %%' % (tv * 100) if unit == '%' else
                                       ('%g s' % tv if unit == 's' else '%g' % tv))
            say('    %-50s %-10s %-14s %s' % (text, _fmt(key, unit, entry['value']), target,
                                           entry['verdict']))
        else:
            say('    %-50s %-10s' % (text, _fmt(key, unit, entry['value'])))


def write_results(doc, results, results_dir):
    """bench.json of this run, copied to latest.json; returns its path."""
    path = os.path.join(results, 'bench.json')
    with open(path, 'w', encoding='utf-8') as handle:
        json.dump(doc, handle, indent=1, ensure_ascii=False)
    shutil.copyfile(path, os.path.join(results_dir, 'latest.json'))
    return path


def print_end(total, path, status, logs):
    say()
    say('==> Total %.0f s (%.1f min); figures in %s (and bench/results/latest.json)'
        % (total, total / 60, os.path.relpath(path, REPO)))
    if status:
        say('ERROR: some runs failed (rc != 0); see the logs in %s' % os.path.relpath(logs, REPO))
