#!/usr/bin/env python3
"""Synthetic quarter of inspection records for the report benchmark.

Builds a record store (``index.jsonl`` + one ``<run-id>.jsonl`` per run) in
exactly the format ``plugins/callback/dialysis_records.py`` writes, from a REAL
run file captured by the callback on a bench host: every line of that host's
inspection play (argument-spec check, asserts, the host_inspection result with
its record, the "anomalies" debug task) is the template, and each synthetic
host x day gets a copy with its own host name, times and figures; lines of later
plays (run_once tasks such as the documents play) are written once per run.
Every item and record is built through the record contract (``make_item``,
``make_record`` of module_utils/dialysis_record.py): a synthetic record that
breaks it stops the generation with the contract's own error. The synthetic
inventory names the bench's hospital (``dialysis_hospital_id`` and the rest of
``common.HOSPITAL_VARS``) as a real inventory's group_vars/all does.

What varies, per host and per day (seeded, so a seed always gives the same store):
  * filesystems: "/" from the real record plus /boot, and /var/lib/postgresql on
    database hosts or /opt/dialysis on application hosts; usage drifts up a
    little every day, a few hosts cross the warning level, a clean-up brings a
    volume back down now and then;
  * memory, swap, CPU (sampled) and load drift with noise and rare spikes;
  * services are those of the host's tier (tomcat9 + nginx, postgresql, the
    collector); rarely one is found stopped;
  * application-log and journal error lines on a few host-days (redacted-style
    samples), an unsynchronised clock now and then, uptime that grows and
    restarts after the monthly patch window;
  * about 0.3 % of host-days the host is unreachable: the run then holds the
    callback's anomaly record (host:reachability) instead of a module record.

Usage (the bench calls it; it also runs on its own):
  python3 bench/synth_records.py --template RUN.jsonl [--template-host HOST]
      --out STORE_DIR [--inventory INV.yml] [--hosts 50] [--quarter 2026-Q4]
      [--timezone Asia/Shanghai] [--hour 7] [--seed 20261001]
"""

import argparse
import copy
import datetime
import json
import os
import random
import sys
import uuid

# Classify exactly as the inspection module does, and build every item and record
# through the record contract (make_item / make_record refuse anything that breaks
# it, loudly), from the collection the repository is
# (.collections/ansible_collections/dialysis/ops).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), '.collections'))
from common import HOSPITAL_VARS  # noqa: E402  the bench hospital (bench/common.py)

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import (  # noqa: E402
    make_item,
    make_record,
)
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_thresholds import (  # noqa: E402
    classify,
    level_message,
)

try:
    from zoneinfo import ZoneInfo
except ImportError:  # pragma: no cover - Python < 3.9
    ZoneInfo = None

SYSTEM_PREFIX = {'hemodialysis': 'hd', 'ckd': 'ckd', 'pd': 'pd'}
TIER_SERVICES = {
    'app': ['tomcat9.service', 'nginx.service'],
    'db': ['postgresql@15-main.service'],
    'interface': ['dialysis-collector.service'],
}
TIER_LOGS = {
    'app': [('app', '/opt/dialysis/logs/catalina.out'), ('nginx-error', '/var/log/nginx/error.log')],
    'db': [('postgresql', '/var/log/postgresql/postgresql-15-main.log')],
    'interface': [('collector', '/var/log/dialysis/collector.log')],
}
LOG_SAMPLES = {
    'app': ['{ts} ERROR [http-nio-8080-exec-{n}] c.h.d.SessionService - save failed for session {sid}: '
            'java.sql.SQLTransientConnectionException: connection is not available',
            '{ts} ERROR [scheduler-{n}] c.h.d.HisSync - HIS interface timeout after 30000 ms'],
    'nginx-error': ['{ts} [error] 812#812: *{sid} upstream timed out (110: Connection timed out) while '
                    'reading response header from upstream'],
    'postgresql': ['{ts} CST [{n}] ERROR:  deadlock detected',
                   '{ts} CST [{n}] FATAL:  password authentication failed for user "********"'],
    'collector': ['{ts} ERROR lost connection to dialysis machine HD-{n:02d} (timeout)'],
    'journal': ['{ts} kernel: EXT4-fs warning (device sda2): ext4_dx_add_entry: directory index full',
                '{ts} systemd[1]: tomcat9.service: Main process exited, code=killed, status=9/KILL'],
}
GIB = 1024 ** 3


def iso(ts):
    return ts.astimezone(datetime.timezone.utc).isoformat(timespec='milliseconds').replace('+00:00', 'Z')


def quarter_days(quarter):
    year, q = quarter.split('-Q')
    year, q = int(year), int(q)
    if not 1 <= q <= 4:
        raise ValueError('quarter: expected YYYY-Qn, got %r' % quarter)
    first = datetime.date(year, (q - 1) * 3 + 1, 1)
    end_month = (q - 1) * 3 + 4
    last = datetime.date(year + (end_month - 1) // 12, (end_month - 1) % 12 + 1, 1)
    day = first
    while day < last:
        yield day
        day += datetime.timedelta(days=1)


def load_template(path, host=None):
    run_line, end_line, by_host = None, None, {}
    with open(path, encoding='utf-8') as handle:
        for raw in handle:
            if not raw.strip():
                continue
            line = json.loads(raw)
            if line.get('type') == 'run':
                run_line = line
            elif line.get('type') == 'run_end':
                end_line = line
            elif line.get('type') == 'result':
                by_host.setdefault(line['host'], []).append(line)
    if run_line is None or end_line is None:
        raise SystemExit('synth_records: %s is not a complete run file (run / run_end line missing)'
                         % path)
    candidates = [h for h, lines in by_host.items()
                  if any(isinstance(x.get('record'), dict) and x['record'].get('kind') == 'inspection'
                         and x.get('status') in ('ok', 'changed') for x in lines)]
    if not candidates:
        raise SystemExit('synth_records: no host with an inspection record in %s' % path)
    host = host or sorted(candidates)[0]
    if host not in candidates:
        raise SystemExit('synth_records: host %s has no inspection record in %s' % (host, path))
    return run_line, end_line, host, by_host[host]


def make_hosts(count, rng):
    """Host name, system and tier for a realistic spread (40/30/30 %)."""
    hosts = []
    shares = [('hemodialysis', 0.4), ('ckd', 0.3), ('pd', 0.3)]
    counts = [max(1, int(round(count * s))) for _, s in shares]
    counts[0] += count - sum(counts)
    for (system, _), n in zip(shares, counts, strict=True):
        tiers = ['app', 'db', 'interface']
        numbers = {'app': 0, 'db': 0, 'interface': 0}
        for i in range(n):
            tier = tiers[i % 3] if i < 3 else rng.choice(['app', 'app', 'db', 'interface'])
            numbers[tier] += 1
            short = {'app': 'app', 'db': 'db', 'interface': 'if'}[tier]
            hosts.append({'name': '%s-%s-%02d' % (SYSTEM_PREFIX[system], short, numbers[tier]),
                          'system': system, 'tier': tier})
    return hosts[:count]


class HostModel(object):
    """Slowly drifting figures of one host."""

    def __init__(self, host, template_record, rng):
        self.host = host
        self.rng = rng
        metrics = template_record.get('metrics') or {}
        mem = metrics.get('memory') or {}
        self.mem_total = rng.choice([16, 32, 64]) * GIB if host['tier'] != 'interface' else 8 * GIB
        if not mem.get('total_bytes'):
            mem = {}
        self.mem_base = rng.uniform(35, 70)
        self.swap_total = rng.choice([0, 4 * GIB, 8 * GIB])
        self.cpu_base = rng.uniform(3, 35)
        self.cores = rng.choice([4, 8, 16])
        root = (metrics.get('filesystems') or [{}])[0]
        self.filesystems = [
            {'mount': '/', 'device': '/dev/mapper/vg0-root', 'fstype': 'ext4',
             'total': rng.choice([50, 100]) * GIB, 'pct': rng.uniform(20, 60),
             'growth': rng.uniform(0.0, 0.08), 'inode_pct': float(root.get('inode_percent') or 3.0)},
            {'mount': '/boot', 'device': '/dev/sda1', 'fstype': 'ext4', 'total': 1 * GIB,
             'pct': rng.uniform(15, 45), 'growth': 0.0, 'inode_pct': 0.5},
        ]
        if host['tier'] == 'db':
            self.filesystems.append({'mount': '/var/lib/postgresql', 'device': '/dev/mapper/vg1-pgdata',
                                     'fstype': 'xfs', 'total': rng.choice([500, 1000]) * GIB,
                                     'pct': rng.uniform(40, 68), 'growth': rng.uniform(0.05, 0.25),
                                     'inode_pct': 0.2})
        elif host['tier'] == 'app':
            self.filesystems.append({'mount': '/opt/dialysis', 'device': '/dev/mapper/vg0-opt',
                                     'fstype': 'ext4', 'total': 200 * GIB,
                                     'pct': rng.uniform(25, 60), 'growth': rng.uniform(0.02, 0.3),
                                     'inode_pct': rng.uniform(2, 10)})
        self.uptime = rng.randint(3, 60) * 86400
        self.services = TIER_SERVICES[host['tier']]
        self.logs = TIER_LOGS[host['tier']]

    def step(self, day_index, day):
        """Advance one day: disks grow, clean-ups, the monthly patch reboot."""
        rng = self.rng
        for fs in self.filesystems:
            fs['pct'] += fs['growth'] * rng.uniform(0.5, 1.5)
            if fs['pct'] > 92 and rng.random() < 0.3:        # engineers free space
                fs['pct'] -= rng.uniform(15, 30)
            fs['pct'] = min(99.6, max(1.0, fs['pct']))
        self.uptime += 86400
        if day.day == 15 and rng.random() < 0.8:               # patch window
            self.uptime = rng.randint(3600, 20000)


def service_item(name, state):
    if state == 'active':
        return make_item('service:%s' % name, 'active', 'ok', 'Service %s is active (running)' % name), {
            'Id': name, 'LoadState': 'loaded', 'ActiveState': 'active', 'SubState': 'running',
            'UnitFileState': 'enabled'}
    return make_item('service:%s' % name, state, 'critical', 'Service %s is %s (dead)' % (name, state)), {
        'Id': name, 'LoadState': 'loaded', 'ActiveState': state, 'SubState': 'dead',
        'UnitFileState': 'enabled'}


def build_record(model, template_record, when, rng):
    """A new record with the template's shape and this host-day's figures."""
    tmpl_items = {i['item']: i for i in template_record.get('items', [])}
    tmetrics = template_record.get('metrics') or {}

    def pair(item, default):
        th = (tmpl_items.get(item) or {}).get('threshold')
        return dict(th) if th else dict(default)

    cpu_pair = {'warning': 80.0, 'critical': 95.0}
    load_pair = {'warning': 1.5, 'critical': 3.0}
    mem_pair = pair('memory:ram', {'warning': 85.0, 'critical': 95.0})
    swap_pair = pair('memory:swap', {'warning': 50.0, 'critical': 80.0})
    disk_pair = {'warning': 85.0, 'critical': 95.0}
    db_pair = {'warning': 75.0, 'critical': 85.0}
    inode_pair = {'warning': 85.0, 'critical': 95.0}
    log_pair = {'warning': 1.0, 'critical': 20.0}
    items, metrics = [], {'collector': tmetrics.get('collector', 'psutil')}

    # CPU and load
    cpu = model.cpu_base + rng.gauss(0, 6)
    if rng.random() < 0.01:
        cpu = rng.uniform(82, 99)
    cpu = round(min(100.0, max(0.5, cpu)), 1)
    load5 = max(0.01, cpu / 100.0 * model.cores * rng.uniform(0.6, 1.2))
    per_core = round(load5 / model.cores, 2)
    st = classify(cpu, cpu_pair)
    items.append(make_item('cpu:usage', cpu, st,
                           'CPU %g%% busy over 1s%s' % (cpu, level_message(st, cpu_pair)),
                           unit='%', threshold=cpu_pair))
    st = classify(per_core, load_pair)
    items.append(make_item('cpu:load', per_core, st,
                           '5-minute load %.2f on %d cores = %.2f per core%s' % (
                               load5, model.cores, per_core, level_message(st, load_pair)),
                           unit='per core', threshold=load_pair))
    top = copy.deepcopy((tmetrics.get('cpu') or {}).get('top_cpu') or [])
    names = {'app': ['java', 'nginx'], 'db': ['postgres', 'postgres'],
             'interface': ['dialysis-collector', 'python3']}[model.host['tier']]
    for number, proc in enumerate(top):
        if number < len(names):
            proc['name'] = names[number]
        proc['cpu_percent'] = round(max(0.0, cpu / (number + 1.5) + rng.gauss(0, 1)), 1)
        proc['pid'] = rng.randint(300, 60000)
    nprocs = rng.randint(140, 420)
    top_names = ', '.join('%s %g%%' % (p['name'], p['cpu_percent']) for p in top[:3])
    items.append(make_item('process:top', top_names, 'ok',
                           'Busiest processes: %s (%d processes)' % (top_names, nprocs)))
    metrics['cpu'] = {'cpu_count': model.cores, 'cpu_percent': cpu,
                      'load': [round(load5 * rng.uniform(0.8, 1.2), 2), round(load5, 2),
                               round(load5 * rng.uniform(0.8, 1.0), 2)],
                      'processes': nprocs, 'top_cpu': top,
                      'top_memory': sorted(copy.deepcopy(top), key=lambda p: -p.get('rss_bytes', 0))}

    # Memory and swap
    mem_pct = model.mem_base + rng.gauss(0, 4)
    if rng.random() < 0.01:
        mem_pct = rng.uniform(86, 97)
    mem_pct = round(min(99.0, max(5.0, mem_pct)), 1)
    used = int(model.mem_total * mem_pct / 100)
    st = classify(mem_pct, mem_pair)
    items.append(make_item('memory:ram', mem_pct, st,
                           'Memory %g%% used of %d MiB%s' % (mem_pct, model.mem_total // 1048576,
                                                            level_message(st, mem_pair)),
                           unit='%', threshold=mem_pair))
    swap_pct = 0.0
    if model.swap_total:
        swap_pct = round(max(0.0, rng.gauss(3, 3) if mem_pct < 85 else rng.uniform(20, 70)), 1)
        st = classify(swap_pct, swap_pair)
        msg = 'Swap %g%% used of %d MiB%s' % (swap_pct, model.swap_total // 1048576,
                                              level_message(st, swap_pair))
    else:
        st, msg = 'ok', 'No swap configured'
    items.append(make_item('memory:swap', swap_pct, st, msg, unit='%', threshold=swap_pair))
    metrics['memory'] = {'total_bytes': model.mem_total, 'used_bytes': used,
                         'available_bytes': model.mem_total - used, 'percent': mem_pct,
                         'swap_total_bytes': model.swap_total,
                         'swap_used_bytes': int(model.swap_total * swap_pct / 100),
                         'swap_percent': swap_pct}

    # Filesystems
    fs_metrics = []
    for fs in model.filesystems:
        pct = round(fs['pct'] + rng.gauss(0, 0.2), 1)
        fpair = db_pair if fs['mount'] == '/var/lib/postgresql' else disk_pair
        free = int(fs['total'] * (100 - pct) / 100)
        st = classify(pct, fpair)
        items.append(make_item('disk:%s' % fs['mount'], pct, st,
                               'Filesystem %s is %g%% full, %d MiB free%s' % (
                                   fs['mount'], pct, free // 1048576, level_message(st, fpair)),
                               unit='%', threshold=fpair))
        ipct = round(fs['inode_pct'], 1)
        st = classify(ipct, inode_pair)
        items.append(make_item('inode:%s' % fs['mount'], ipct, st,
                               'Filesystem %s uses %g%% of its inodes%s' % (
                                   fs['mount'], ipct, level_message(st, inode_pair)),
                               unit='%', threshold=inode_pair))
        inodes_total = int(fs['total'] // 16384)
        fs_metrics.append({'mount': fs['mount'], 'device': fs['device'], 'fstype': fs['fstype'],
                           'total_bytes': fs['total'], 'used_bytes': fs['total'] - free,
                           'free_bytes': free, 'percent': pct, 'inodes_total': inodes_total,
                           'inodes_used': int(inodes_total * ipct / 100), 'inode_percent': ipct})
    metrics['filesystems'] = fs_metrics

    # Uptime
    days, rem = divmod(model.uptime, 86400)
    items.append(make_item('system:uptime', model.uptime, 'ok', 'Up %d days %d hours' % (days, rem // 3600),
                           unit='s'))
    metrics['uptime_seconds'] = model.uptime

    # Services
    svc_metrics = {}
    for name in model.services:
        state = 'inactive' if rng.random() < 0.005 else 'active'
        item, props = service_item(name, state)
        props['ActiveEnterTimestamp'] = (when - datetime.timedelta(seconds=min(model.uptime, 86400 * 30))) \
            .strftime('%a %Y-%m-%d %H:%M:%S CST')
        items.append(item)
        svc_metrics[name] = props
    metrics['services'] = svc_metrics

    # Clock
    synced = rng.random() >= 0.005
    if synced:
        maxerr = round(rng.uniform(1, 40), 1)
        items.append(make_item('clock:sync', 'synchronised', 'ok',
                               'Clock is synchronised (max error %g ms)' % maxerr))
    else:
        maxerr = 16000.0
        items.append(make_item('clock:sync', 'unsynchronised', 'warning',
                               'Clock is not synchronised to a time source'))
    metrics['clock'] = {'synchronised': synced, 'maxerror_ms': maxerr}

    # Logs: the OS logs of the template (syslog / messages), the tier's logs, the journal
    log_metrics = {}
    for item in template_record.get('items', []):
        if item['item'] in ('log:syslog', 'log:messages'):
            items.append(make_item(**item))
    stamp = when.strftime('%Y-%m-%d %H:%M:%S')
    for name, path in model.logs + [('journal', None)]:
        chance = 0.02 if name == 'journal' else 0.04
        matches = 0
        samples = []
        if rng.random() < chance:
            matches = rng.choice([1, 1, 2, 3, 5, 8, 13, 27])
            pool = LOG_SAMPLES.get(name, LOG_SAMPLES['app'])
            for _ in range(min(3, matches)):
                samples.append(rng.choice(pool).format(ts=stamp, n=rng.randint(1, 40),
                                                       sid=rng.randint(1000, 99999)))
        st = classify(matches, log_pair)
        lines = rng.randint(200, 40000) if name != 'journal' else rng.randint(10, 400)
        if name == 'journal':
            msg = '%d journal entries at priority err or worse since the previous inspection%s' % (
                matches, level_message(st, log_pair))
            item_id, unit = 'log:journal', 'entries'
        else:
            msg = '%d error lines in %s since the previous inspection%s' % (
                matches, path, level_message(st, log_pair))
            item_id, unit = 'log:%s' % name, 'lines'
        items.append(make_item(item_id, matches, st, msg, unit=unit, threshold=log_pair,
                               samples=samples or None))
        log_metrics[name] = {'bytes_read': lines * rng.randint(80, 160), 'events': [],
                             'files': [path] if path else [], 'lines': lines, 'matches': matches,
                             'samples': samples, 'skipped_bytes': 0}
    metrics['logs'] = log_metrics

    return make_record('inspection', model.host['system'], items, metrics)


def unreachable_record(system):
    item = make_item('host:reachability', 'unreachable', 'critical',
                     'Host could not be reached: Failed to connect to the host via ssh: '
                     'ssh: connect to host port 22: No route to host', reason='unreachable')
    return make_record('inspection', system, [item])


def write_jsonl(handle, obj):
    handle.write(json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str) + '\n')


def generate(template_path, out_dir, hosts=50, quarter='2026-Q4', tzname='Asia/Shanghai', hour=7,
             seed=20261001, template_host=None, inventory=None, hospital_vars=None):
    rng = random.Random(seed)
    run_tmpl, end_tmpl, tmpl_host, tmpl_lines = load_template(template_path, template_host)
    inspection_index = next(i for i, x in enumerate(tmpl_lines)
                            if isinstance(x.get('record'), dict) and x['record'].get('kind') == 'inspection')
    template_record = tmpl_lines[inspection_index]['record']
    # Lines of the inspection play are per host; those of later plays (run_once tasks on
    # the controller, such as the documents play of inspect.yml) are once per run: they
    # are written once, on the first host still in the play.
    play = tmpl_lines[inspection_index].get('play')
    run_once_lines = [x for x in tmpl_lines if x.get('play') != play]
    tmpl_lines = [x for x in tmpl_lines if x.get('play') == play]
    inspection_index = next(i for i, x in enumerate(tmpl_lines)
                            if isinstance(x.get('record'), dict) and x['record'].get('kind') == 'inspection')
    tz = ZoneInfo(tzname) if ZoneInfo else datetime.timezone(datetime.timedelta(hours=8))
    os.makedirs(out_dir, exist_ok=True)
    if any(n.endswith('.jsonl') for n in os.listdir(out_dir)):
        raise SystemExit('synth_records: %s already holds a record store; use an empty directory' % out_dir)
    host_list = make_hosts(hosts, rng)
    models = [HostModel(h, template_record, random.Random(rng.random())) for h in host_list]
    counts = {'runs': 0, 'records': 0, 'lines': 0, 'unreachable': 0, 'anomalous_records': 0}
    index = open(os.path.join(out_dir, 'index.jsonl'), 'w', encoding='utf-8')
    try:
        for day_number, day in enumerate(quarter_days(quarter)):
            start = datetime.datetime(day.year, day.month, day.day, hour, 0, 0, tzinfo=tz) + \
                datetime.timedelta(seconds=rng.randint(0, 90))
            run_id = '%s-%s' % (start.astimezone(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ'),
                                uuid.UUID(int=rng.getrandbits(128)).hex[:8])
            run = dict(run_tmpl, run_id=run_id, started=iso(start), launcher='cron',
                       operator='dialysis-ops', ansible_pid=rng.randint(2000, 90000))
            name = '%s.jsonl' % run_id
            write_jsonl(index, {'event': 'start', 'run_id': run_id, 'file': name,
                                'playbook': run['playbook'], 'started': run['started'],
                                'launcher': run['launcher'], 'operator': run['operator'],
                                'check_mode': run.get('check_mode', False)})
            results, stats = {}, {}
            run_seconds = rng.uniform(20, 40)
            with open(os.path.join(out_dir, name), 'w', encoding='utf-8') as handle:
                write_jsonl(handle, run)
                counts['lines'] += 1
                for model in models:
                    model.step(day_number, day)
                    host_rng = model.rng
                    unreachable = host_rng.random() < 0.003
                    host_stats = {'changed': 0, 'failures': 0, 'ignored': 0, 'ok': 0, 'rescued': 0,
                                  'skipped': 0, 'unreachable': 0}
                    record = None
                    for number, tmpl in enumerate(tmpl_lines):
                        offset = run_seconds * (number + 1) / (len(tmpl_lines) + 1)
                        started = start + datetime.timedelta(seconds=offset + host_rng.uniform(0, 1.5))
                        line = dict(tmpl, host=model.host['name'], run_id=run_id,
                                    operator=run['operator'], revision=run.get('revision'))
                        line.pop('record', None)
                        line.pop('msg', None)
                        if number < inspection_index:
                            duration = round(host_rng.uniform(0.03, 0.2), 3)
                        elif number == inspection_index:
                            duration = round(host_rng.uniform(1.2, 6.0), 3)
                            if unreachable:
                                line['status'] = 'unreachable'
                                line['msg'] = ('Failed to connect to the host via ssh: ssh: connect to '
                                               'host port 22: No route to host')
                                record = unreachable_record(model.host['system'])
                                counts['unreachable'] += 1
                            else:
                                line['status'] = 'ok'
                                record = build_record(model, template_record, started, host_rng)
                            line['record'] = record
                            counts['records'] += 1
                            if record['anomalies']:
                                counts['anomalous_records'] += 1
                        else:
                            if unreachable:
                                break            # the host left the play
                            duration = round(host_rng.uniform(0.03, 0.2), 3)
                            if tmpl.get('action', '').endswith('debug'):
                                line['status'] = 'ok' if record and record['anomalies'] else 'skipped'
                        ended = started + datetime.timedelta(seconds=duration)
                        line['started'], line['ended'], line['duration'] = iso(started), iso(ended), duration
                        line['changed'] = False
                        status = line['status']
                        results[status] = results.get(status, 0) + 1
                        if status == 'unreachable':
                            host_stats['unreachable'] += 1
                        elif status == 'skipped':
                            host_stats['skipped'] += 1
                        elif status == 'failed':
                            host_stats['failures'] += 1
                        else:
                            host_stats['ok'] += 1
                        write_jsonl(handle, line)
                        counts['lines'] += 1
                    stats[model.host['name']] = host_stats
                first = next((h for h, s in stats.items() if not s['unreachable']), None)
                for number, tmpl in enumerate(run_once_lines if first else []):
                    started = start + datetime.timedelta(seconds=run_seconds + 0.3 * number)
                    duration = round(float(tmpl.get('duration') or 0.05), 3)
                    line = dict(tmpl, host=first, run_id=run_id, operator=run['operator'],
                                revision=run.get('revision'), changed=False, started=iso(started),
                                ended=iso(started + datetime.timedelta(seconds=duration)),
                                duration=duration)
                    line.pop('record', None)
                    status = line['status']
                    results[status] = results.get(status, 0) + 1
                    key = {'skipped': 'skipped', 'failed': 'failures'}.get(status, 'ok')
                    stats[first][key] += 1
                    write_jsonl(handle, line)
                    counts['lines'] += 1
                ended = start + datetime.timedelta(seconds=run_seconds + 2)
                failed = sorted(h for h, s in stats.items() if s['failures'] or s['unreachable'])
                end_line = dict(end_tmpl, run_id=run_id, ended=iso(ended),
                                duration=round(run_seconds + 2, 3), hosts=stats, results=results,
                                callback_seconds=round(end_tmpl.get('callback_seconds', 0.2) *
                                                       host_rng.uniform(0.8, 1.2), 4))
                write_jsonl(handle, end_line)
                counts['lines'] += 1
            write_jsonl(index, {'event': 'end', 'run_id': run_id, 'file': name, 'ended': iso(ended),
                                'hosts': len(stats), 'failed_hosts': failed, 'playbook': run['playbook']})
            counts['runs'] += 1
    finally:
        index.close()
    if inventory:
        write_inventory(inventory, host_list, hospital_vars)
    counts['bytes'] = sum(os.path.getsize(os.path.join(out_dir, n)) for n in os.listdir(out_dir))
    counts['hosts'] = len(host_list)
    counts['template_host'] = tmpl_host
    return counts


def write_inventory(path, host_list, hospital_vars=None):
    """YAML inventory of the synthetic hospital (JSON is valid YAML), with the hospital's
    id, name and project lead in all.vars as a real inventory's group_vars/all has them."""
    groups = {'hemodialysis': {}, 'ckd': {}, 'pd': {}, 'app': {}, 'db': {}, 'interface': {}}
    for host in host_list:
        groups[host['system']][host['name']] = {'dialysis_system': host['system'],
                                                'ansible_host': '127.0.0.1'}
        groups[host['tier']][host['name']] = None
    children = dict((g, {'hosts': h}) for g, h in groups.items())
    children['linux'] = {'hosts': dict((h['name'], None) for h in host_list)}
    children['windows'] = {'hosts': {}}
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('# Synthetic hospital inventory for the report benchmark (bench/synth_records.py)\n')
        json.dump({'all': {'vars': dict(hospital_vars or HOSPITAL_VARS), 'children': children}}, handle,
                  indent=1, ensure_ascii=False)
        handle.write('\n')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--template', required=True, help='a run file written by the records callback')
    parser.add_argument('--template-host',
                        help='host whose lines are the template (default: first with a record)')
    parser.add_argument('--out', required=True, help='empty directory for the record store')
    parser.add_argument('--inventory', help='also write an inventory of the synthetic hosts here')
    parser.add_argument('--hosts', type=int, default=50)
    parser.add_argument('--quarter', default='2026-Q4')
    parser.add_argument('--timezone', default='Asia/Shanghai')
    parser.add_argument('--hour', type=int, default=7, help='local hour of the daily inspection')
    parser.add_argument('--seed', type=int, default=20261001)
    args = parser.parse_args(argv)
    counts = generate(args.template, args.out, hosts=args.hosts, quarter=args.quarter,
                      tzname=args.timezone, hour=args.hour, seed=args.seed,
                      template_host=args.template_host, inventory=args.inventory)
    print(json.dumps(counts, sort_keys=True))
    return 0


if __name__ == '__main__':
    sys.exit(main())
