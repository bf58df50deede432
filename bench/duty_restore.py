#!/usr/bin/env python3
"""Restore drills against the raw restore (issue 10): on the lab's hd-db-01, the nightly
backup jobs write a backup of each engine; then, per engine and round, the raw restore of
that backup into a scratch database on the same server (`createdb` + `pg_restore --jobs N`;
`zstd -dc | sed | mariadb` with the dump's database lines pointed at the scratch database),
timed inside the container, and playbooks/restore_drill.yml for that backup set alone
(the treatment-hours guard allowing: no treatment running, a calendar with today a holiday,
a change ticket). Printed: the drill's wall time over the raw restore (target <= 1.2), the
drill's own restore step over the raw restore, and the drill's check figures from its record
(integrity, counts, smoke, RPO, RTO).

    python3 bench/duty_restore.py [--rounds 2] [--size 1000000]

Lab: prefix qlab, base port 2640 (hd-app-01 for the guard's live check, hd-db-01); results
in bench/results/<stamp>-restore/. See bench/README.md."""

import argparse
import datetime
import os
import statistics
import sys
import zoneinfo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import BenchError, say  # noqa: E402
from dutylab import loadavg, main  # noqa: E402
from dutystats import figure  # noqa: E402

PREFIX, BASE_PORT = 'qlab', 2640
HOST, APP = 'hd-db-01', 'hd-app-01'
SCRATCH = 'bench_raw_restore'
TARGET_RATIO = 1.2
SETS = (('postgresql', 'hemodialysis-pg_dump'), ('mariadb', 'interface_engine-mariadb_dump'))
ALL_DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']


def out_of_shift():
    """A treatment calendar under which now is no treatment hour: today and yesterday
    (Asia/Shanghai) are holidays (as molecule/resources/guard_lab.py)."""
    today = datetime.datetime.now(zoneinfo.ZoneInfo('Asia/Shanghai')).date()
    return {'days': ALL_DAYS, 'hours': ['00:00-24:00'],
            'holidays': [str(today), str(today - datetime.timedelta(days=1))]}


# The drill's variables; the guard's override variables, when the guard asks for them, go here.
DRILL_VARS = {
    'restore_drill_hosts': HOST,
    'dialysis_change_ticket': 'CHG-BENCH-RESTORE',
}


def stop_treatments(lab):
    """The guard's live check answers zero: the collector stopped, its sessions completed."""
    lab.exec(APP, ['systemctl', 'stop', 'dialysis-collector.service'])
    lab.psql(HOST, 'hemodialysis', "UPDATE treatment_session SET status = 'completed', ended_at = now() "
                                   "WHERE status = 'running'")


def take_backups(lab):
    """Each nightly job once (oneshot units: `systemctl start` returns when it is done)."""
    for engine in ('postgresql', 'mariadb'):
        lab.exec(HOST, ['systemctl', 'start', 'dialysis-backup-%s.service' % engine], timeout=900)


def newest_backup(lab, spec):
    out = lab.exec(HOST, ['sh', '-c', 'ls -t %s/%s | head -1' % (spec['directory'], spec['pattern'])]).stdout
    path = out.strip()
    if not path:
        raise BenchError('no backup matching %s/%s on %s' % (spec['directory'], spec['pattern'], HOST))
    size = int(lab.exec(HOST, ['stat', '-c', '%s', path]).stdout.strip())
    return path, size


RAW = {
    'postgresql': (
        "dropdb --if-exists {db}; s=$(date +%s.%N); createdb -T template0 {db} && "
        "pg_restore --no-owner --no-acl --jobs {jobs} --dbname {db} {path}; rc=$?; e=$(date +%s.%N); "
        "dropdb --if-exists {db}; echo $rc $s $e"),
    'mariadb': (
        "set -o pipefail; mariadb -e 'DROP DATABASE IF EXISTS {db}'; s=$(date +%s.%N); "
        "mariadb -e 'CREATE DATABASE {db}' && zstd -dcq {path} | sed -e '/^CREATE DATABASE /d' "
        "-e 's/^USE `[^`]*`;$/USE `{db}`;/' | mariadb -D {db}; rc=$?; e=$(date +%s.%N); "
        "mariadb -e 'DROP DATABASE IF EXISTS {db}'; echo $rc $s $e"),
}


def raw_restore(lab, engine, path, jobs):
    """Seconds of the raw restore of path into a scratch database, timed on the host."""
    script = RAW[engine].format(db=SCRATCH, path=path, jobs=jobs)
    argv = ['runuser', '-u', 'postgres', '--', 'bash', '-c', script] if engine == 'postgresql' else \
        ['bash', '-c', script]
    out = lab.exec(HOST, argv, timeout=1800).stdout.split()
    rc, start, end = int(out[-3]), float(out[-2]), float(out[-1])
    if rc != 0:
        raise BenchError('raw %s restore of %s failed (rc %d)' % (engine, path, rc))
    return round(end - start, 2)


def checks_of(record):
    """The drill's figures from its record: {check: (value, status, message-free facts)}."""
    out = {}
    for item in record.get('items') or []:
        check = item['item'].rsplit(':', 1)[-1]
        out[check] = dict((k, item.get(k)) for k in ('value', 'status', 'unit', 'checked', 'total', 'reason')
                          if item.get(k) is not None)
    return out


def body_of(args):
    def body(suite):
        lab = suite.lab
        jobs = 2                                     # restore_drill_jobs' default
        stop_treatments(lab)
        take_backups(lab)
        sets = dict((s['name'], s) for s in lab.hostvars(HOST)['dialysis_backup_sets'])
        drill_vars = dict(DRILL_VARS, dialysis_treatment_hours=out_of_shift(), restore_drill_jobs=jobs)
        results = {}
        for engine, name in SETS:
            path, size = newest_backup(lab, sets[name])
            say('--> %s: %s (%d bytes)' % (name, os.path.basename(path), size))
            raws, drills = [], []
            for rnd in range(1, args.rounds + 1):
                load_before = loadavg()
                raw = raw_restore(lab, engine, path, jobs)
                run = suite.run_playbook('restore_drill.yml',
                                         dict(drill_vars, restore_drill_only=[name],
                                              restore_drill_backup=os.path.basename(path)),
                                         name='restore_drill-%s-%d' % (engine, rnd))
                records = [r for r in run.kind('restore_drill') if r.get('set') == name]
                if run.rc != 0 or not records:
                    raise BenchError('restore_drill.yml for %s failed (rc %d, %d records); see %s'
                                     % (name, run.rc, len(records), run.log))
                record = records[0]
                metrics = record.get('metrics') or {}
                load_after = loadavg()
                say('    round %d: raw %.1f s, drill playbook %.1f s (restore %s s, checks %s s, RTO %s s), '
                    'outcome %s; load average %s -> %s'
                    % (rnd, raw, run.seconds, metrics.get('restore_seconds'), metrics.get('checks_seconds'),
                       record.get('rto_seconds'), record['outcome'], load_before, load_after))
                raws.append(raw)
                drills.append({'wall': run.seconds, 'restore': metrics.get('restore_seconds'),
                               'checks': metrics.get('checks_seconds'), 'rto': record.get('rto_seconds'),
                               'outcome': record['outcome'], 'checks_of': checks_of(record),
                               'rpo_hours': record.get('rpo_hours'), 'backup': record.get('backup'),
                               'loadavg': [load_before, load_after]})
            raw_med = statistics.median(raws)
            wall_med = statistics.median(d['wall'] for d in drills)
            restore_med = statistics.median(d['restore'] for d in drills if d['restore'] is not None)
            rto_med = statistics.median(d['rto'] for d in drills if d['rto'] is not None)
            results[name] = {'backup': os.path.basename(path), 'bytes': size, 'raw_seconds': raws,
                             'drills': drills}
            label = 'PG' if engine == 'postgresql' else 'MariaDB'
            suite.add(figure(engine + '_raw', '%s raw restore (median of %d)' % (label, len(raws)), raw_med,
                             's', info={'runs': raws}))
            suite.add(figure(engine + '_drill_wall', '%s restore_drill.yml wall (median)' % label, wall_med,
                             's', info={'runs': [d['wall'] for d in drills]}))
            suite.add(figure(engine + '_wall_ratio', '%s drill wall / raw restore' % label,
                             round(wall_med / raw_med, 2), 'x', '<=', TARGET_RATIO))
            suite.add(figure(engine + '_restore_ratio', '%s drill\'s restore step / raw restore' % label,
                             round(restore_med / raw_med, 2), 'x', '<=', TARGET_RATIO))
            suite.add(figure(engine + '_rto_ratio', '%s drill RTO (restore + checks) / raw, info' % label,
                             round(rto_med / raw_med, 2), 'x'))
            last = drills[-1]
            checks = last['checks_of']
            suite.add(figure(engine + '_outcome', '%s drill outcome (every round)' % label,
                             ','.join(sorted(set(d['outcome'] for d in drills))), '', '==', 'ok'))
            integrity = checks.get('integrity', {})
            suite.add(figure(engine + '_integrity', '%s integrity: objects checked (status)' % label,
                             '%s (%s)' % (integrity.get('checked', integrity.get('value')),
                                          integrity.get('status'))))
            counts = checks.get('counts', {})
            suite.add(figure(engine + '_counts', '%s counts: tables matching / counted' % label,
                             '%s / %s (%s)' % (counts.get('value'), counts.get('total'),
                                               counts.get('status'))))
            smoke = checks.get('smoke', {})
            suite.add(figure(engine + '_smoke', '%s smoke queries answered' % label,
                             '%s (%s)' % (smoke.get('value'), smoke.get('status'))))
            suite.add(figure(engine + '_rpo', '%s RPO achieved' % label, last['rpo_hours'], 'h'))
            rto = checks.get('rto', {})
            suite.add(figure(engine + '_rto', '%s RTO measured (status)' % label,
                             '%s %s (%s)' % (rto.get('value'), rto.get('unit') or '', rto.get('status'))))
        suite.measurements['sets'] = results
        suite.print_figures('restore drill against the raw restore of the same backup (same host)')
    return body


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rounds', type=int, default=2, help='raw restore + drill pairs per engine (2)')
    parser.add_argument('--size', type=int, default=1000000, help='labctl --size: readings (1000000)')
    parser.add_argument('--keep-lab', action='store_true', help='leave the lab running at the end')
    parser.add_argument('--reuse-lab', action='store_true', help='keep a running lab of the prefix')
    return parser.parse_args(argv)


if __name__ == '__main__':
    ARGS = parse(sys.argv[1:])
    sys.exit(main('restore', 'restore drills against the raw restore (issue 10)', body_of(ARGS), PREFIX,
                  BASE_PORT, [APP, HOST], keep_lab=ARGS.keep_lab, reuse_lab=ARGS.reuse_lab, size=ARGS.size))
