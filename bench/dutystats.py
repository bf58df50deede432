"""The pure parts of the duty benches (bench/duty_*.py): latency percentiles, figures
beside their targets (PASS/MISS), pgbench's per-transaction log, the load generator's
lines, the duty records and an HTTP prober's samples. Standard library only, no I/O
beyond reading the files it is given: tests/unit/test_bench_duties.py covers it."""

import json
import math

MARK = {'<=': '\u2264', '>=': '\u2265', '==': '='}


def percentile(values, pct):
    """The pct-th percentile (0-100) of values, nearest rank (a value that occurred):
    p99 of 1000 latencies is the 990th smallest. None for no values."""
    if not values:
        return None
    if not 0 <= pct <= 100:
        raise ValueError('percentile: expected 0-100, got %r' % (pct,))
    ordered = sorted(values)
    rank = max(1, int(math.ceil(pct / 100.0 * len(ordered))))
    return ordered[rank - 1]


def latency_figures(latencies_ms):
    """{count, p50, p99, max} in ms of one phase's transaction latencies."""
    if not latencies_ms:
        return {'count': 0, 'p50': None, 'p99': None, 'max': None}
    return {'count': len(latencies_ms), 'p50': round(percentile(latencies_ms, 50), 2),
            'p99': round(percentile(latencies_ms, 99), 2), 'max': round(max(latencies_ms), 2)}


def verdict(value, op, target):
    """'PASS' / 'MISS' of value against target; None when there is no figure to judge."""
    if value is None or op is None:
        return None
    if op == '<=':
        return 'PASS' if value <= target else 'MISS'
    if op == '>=':
        return 'PASS' if value >= target else 'MISS'
    if op == '==':
        return 'PASS' if value == target else 'MISS'
    raise ValueError('verdict: unknown operator %r' % (op,))


def figure(name, text, value, unit='', op=None, target=None, info=None):
    """One figure of a suite as written to its duty.json and printed."""
    entry = {'name': name, 'text': text, 'value': value, 'unit': unit}
    if op is not None:
        entry.update(op=op, target=target, verdict=verdict(value, op, target))
    if info is not None:
        entry['info'] = info
    return entry


def _fmt(value, unit):
    if value is None:
        return 'n/a'
    if isinstance(value, bool):
        return 'yes' if value else 'no'
    if unit == '%':
        return '%.1f %%' % value
    if unit == 'x':
        return '%.2f' % value
    if unit in ('ms', 's'):
        return '%.1f %s' % (value, unit) if unit == 's' or value < 100 else '%.0f %s' % (value, unit)
    if isinstance(value, float):
        return '%.2f%s' % (value, (' ' + unit) if unit else '')
    return '%s%s' % (value, (' ' + unit) if unit else '')


def format_figure(entry, width=58):
    """One line: text, value, target and verdict (as bench/summary.py prints its ratios)."""
    line = '    %-*s %-12s' % (width, entry['text'], _fmt(entry['value'], entry.get('unit', '')))
    if 'op' in entry:
        target = entry['target']
        shown = _fmt(target, entry.get('unit', '')) if not isinstance(target, bool) else _fmt(target, '')
        line += ' target %s %-10s %s' % (MARK[entry['op']], shown, entry['verdict'] or 'NOT MEASURED')
    return line.rstrip()


# -- pgbench -------------------------------------------------------------------------
def parse_pgbench_log(lines):
    """pgbench's per-transaction log (--log): one (start_epoch_s, latency_ms, lag_ms) per
    transaction that completed. Columns: client_id transaction_no time script_no
    time_epoch time_us [schedule_lag]; `time` is the latency in us - with --rate measured
    from the transaction's *scheduled* start, so a write that waited behind a lock or
    behind an earlier slow one counts all its wait. The end is time_epoch.time_us; the
    (scheduled) start is the end minus the latency. Skipped transactions (`skipped`,
    only with --latency-limit) and failed ones (`failed`/`serialization`/`deadlock`)
    are not latencies and are left out; a malformed line raises ValueError naming it."""
    out = []
    for number, line in enumerate(lines, 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) < 6:
            raise ValueError('pgbench log line %d: expected at least 6 columns, got %r' % (number, line))
        if not parts[2].isdigit():
            continue
        latency_us = int(parts[2])
        end = int(parts[4]) + int(parts[5]) / 1e6
        lag_ms = int(parts[6]) / 1000.0 if len(parts) > 6 and parts[6].isdigit() else None
        out.append((end - latency_us / 1e6, latency_us / 1000.0, lag_ms))
    return out


def parse_load_lines(lines):
    """The load generator's output (bench/dutyload.py): one JSON object per line,
    {"start": epoch s, "ms": latency} per transaction, {"error": ...} for a failed one.
    ((start, ms, None) like parse_pgbench_log, [errors])."""
    out, errors = [], []
    for number, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        try:
            entry = json.loads(line)
        except ValueError as exc:
            raise ValueError('load generator line %d: not JSON: %r' % (number, line[:120])) from exc
        if 'error' in entry:
            errors.append(entry)
        else:
            out.append((float(entry['start']), float(entry['ms']), None))
    return out, errors


def in_window(transactions, start, end):
    """Latencies (ms) of the transactions scheduled to start in [start, end)."""
    return [ms for begun, ms, _lag in transactions if start <= begun < end]


def over(latencies_ms, limit_ms):
    return sum(1 for ms in latencies_ms if ms > limit_ms)


# -- records -------------------------------------------------------------------------
def read_records(lines):
    """Every record of a records callback run file (JSON lines): a result's own `record`
    and the ones in its `records` list, each with the host of its line."""
    found = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        entry = json.loads(line)
        for record in ([entry['record']] if entry.get('record') else []) + (entry.get('records') or []):
            found.append(dict(record, host=entry.get('host')))
    return found


def maintenance_steps(record):
    """{schema.object: [items]} of one db_maintenance record's per-object steps
    (item ids `db_<action>:<database>/<schema.object>`)."""
    steps = {}
    for item in record.get('items') or []:
        ident = item.get('item', '')
        if '/' not in ident or not ident.startswith('db_'):
            continue
        steps.setdefault(ident.split('/', 1)[1], []).append(item)
    return steps


def maintenance_summary(record, database):
    """What one database's db_maintenance record says, for the bench's targets:
    touched (objects with a step done), the bloat measured (bytes: size x bloat share,
    over every object the record measured as bloated) and reclaimed (the summary item's
    value, bytes), the same bloat over the objects acted on only, and over the objects online
    maintenance may touch (bloat_online_bytes: every object without a needs_window step, i.e.
    the bloat the record could reclaim without a maintenance window)."""
    summary = [i for i in record.get('items') or [] if i.get('item') == 'db_maintenance:%s' % database]
    if not summary:
        raise ValueError('db_maintenance record has no item db_maintenance:%s' % database)
    steps = maintenance_steps(record)
    touched = sorted(obj for obj, items in steps.items() if any(i.get('result') == 'done' for i in items))
    bloat, bloat_acted = {}, {}
    for obj, items in steps.items():
        for item in items:
            share, size = item.get('bloat_before'), item.get('before_bytes')
            if share is None or size is None:
                continue
            measured = int(size * share / 100.0)
            bloat[obj] = max(bloat.get(obj, 0), measured)
            if item.get('result') == 'done' and item.get('action') != 'vacuum':
                bloat_acted[obj] = max(bloat_acted.get(obj, 0), measured)
    windowed = set(obj for obj, items in steps.items()
                   if any(i.get('action') == 'needs_window' for i in items))
    bloat_online = dict((obj, size) for obj, size in bloat.items() if obj not in windowed)
    return {'touched': touched, 'reclaimed_bytes': summary[0].get('value'),
            'bloat_bytes': bloat, 'bloat_acted_bytes': bloat_acted, 'bloat_online_bytes': bloat_online,
            'needs_window': sorted(windowed),
            'counts': summary[0].get('counts'),
            'steps': dict((obj, [(i.get('action'), i.get('result'), i.get('reason')) for i in items])
                          for obj, items in sorted(steps.items()))}


def share(part, whole):
    """part / whole in %, None when whole is 0 or unknown."""
    if not whole or part is None:
        return None
    return round(100.0 * part / whole, 1)


# -- availability ---------------------------------------------------------------------
def unavailability(samples, start=None, end=None):
    """From an HTTP prober's samples [(epoch s, healthy bool, ...)] in time order: the seconds
    not healthy and the longest unhealthy stretch, both measured between samples (a
    stretch runs from the first unhealthy sample to the next healthy one, or to the last
    sample), and the number of unhealthy samples. Only samples in [start, end] count."""
    chosen = [(s[0], s[1]) for s in samples
              if (start is None or s[0] >= start) and (end is None or s[0] <= end)]
    total = longest = 0.0
    bad = sum(1 for _t, ok in chosen if not ok)
    began = None
    for t, ok in chosen:
        if not ok and began is None:
            began = t
        elif ok and began is not None:
            total += t - began
            longest = max(longest, t - began)
            began = None
    if began is not None and chosen:
        stretch = chosen[-1][0] - began
        total += stretch
        longest = max(longest, stretch)
    return {'unhealthy_seconds': round(total, 2), 'longest_gap_seconds': round(longest, 2),
            'unhealthy_samples': bad, 'samples': len(chosen)}


def first_healthy_after(samples, when, version=None):
    """The first sample at or after `when` that is healthy (and at `version` when given):
    its time, or None. Samples are (epoch s, healthy, version)."""
    for sample in samples:
        if sample[0] >= when and sample[1] and (version is None or sample[2] == version):
            return sample[0]
    return None
