#!/usr/bin/env python3
"""Database care under a write load (issue 9, "Benchmark"): on the lab's hd-db-01 with
planted bloat, a fixed-rate write load runs while playbooks/db_maintenance.yml maintains
the database, and again while a plain (blocking) rebuild of the same objects runs; the
same run's baseline latency is measured before each. PostgreSQL (hemodialysis: pgbench
-R, per-transaction log) and MariaDB (interface_engine: bench/dutyload.py, a fixed-rate
PyMySQL load, as the lab has no sysbench). The collector writes its stream all along.

    python3 bench/duty_dbcare.py [--rate 100] [--baseline 30] [--engines postgresql,mariadb] [--size N]
                                 [--prefix qlab] [--base-port 2640]

Lab: prefix qlab, base port 2640 (hd-app-01, hd-db-01), `labctl.py up --plant bloat`;
results in bench/results/<stamp>-dbcare/ (duty.json, logs, records). See bench/README.md."""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import BENCH_DIR, BenchError, say  # noqa: E402
from dutylab import loadavg, main  # noqa: E402
from dutystats import (  # noqa: E402
    figure,
    in_window,
    latency_figures,
    maintenance_summary,
    over,
    parse_load_lines,
    parse_pgbench_log,
    share,
)

PREFIX, BASE_PORT = 'qlab', 2640
HOST = 'hd-db-01'
PG_DB, MARIA_DB = 'hemodialysis', 'interface_engine'
# What the generator plants (lab/software/README.md, `bloat`): the archive table (no primary
# key: pg_repack cannot take it, so online maintenance vacuums it) and its index.
PG_TABLE, PG_INDEX = 'machine_reading_archive', 'idx_machine_reading_archive_recorded_at'
# The bench plants a second one, WITH a primary key (bench_bloat: pg_repack can rebuild it online,
# which is the table rebuild db_maintenance offers for PostgreSQL), and its primary-key index.
PG_PK_TABLE = 'bench_bloat'
PG_PK_INDEX = PG_PK_TABLE + '_pkey'
PG_PK_ROWS = 200000           # rows of 400 bytes: ~18 a page, ~90 MB; 4 of every 5 deleted
PG_PLANTED = ['public.%s' % PG_TABLE, 'public.%s' % PG_INDEX, 'public.%s' % PG_PK_TABLE,
              'public.%s' % PG_PK_INDEX]
# MariaDB has no planted bloat in the lab: the bench plants it (80 % of a table's rows deleted
# as one range, so InnoDB reports the freed extents as data_free).
MARIA_TABLE = 'bench_bloat'
MARIA_ROWS = 400000
TARGETS = {'p99_ratio': 3.0, 'max_ms': 1000.0, 'reclaimed_pct': 80.0}
# As molecule/dbcare: PostgreSQL as postgres (peer), MariaDB as root (socket); the planted
# PostgreSQL objects are ~450-2000 pages, under the default min_pages of 1000.
PG_DATABASE = {'name': PG_DB, 'engine': 'postgresql', 'host': '/var/run/postgresql', 'database': PG_DB,
               'user': 'postgres', 'become_user': 'postgres', 'rules': {'min_pages': 100}}
MARIA_DATABASE = {'name': MARIA_DB, 'engine': 'mariadb', 'host': '/run/mysqld/mysqld.sock',
                  'database': MARIA_DB, 'user': 'root'}
# One transaction: a row into each bloated table (a lock on either makes the write wait).
PGBENCH_SCRIPT = """\\set m random(1, 20)
\\set id random(1000000000, 2000000000)
BEGIN;
INSERT INTO %s (id, machine_id, recorded_at, uf_rate_ml_h) VALUES (:id, :m, now(), 500);
INSERT INTO %s (payload) VALUES (repeat('w', 400));
END;
""" % (PG_TABLE, PG_PK_TABLE)
SETTLE = 5.0          # seconds of load after the work, so writes queued behind it are counted


# -- the loads -----------------------------------------------------------------------
class PgLoad(object):
    """pgbench -R on the db host, writing into the bloated table; stopped by terminating its
    sessions (pgbench then writes its per-transaction logs and exits 2)."""

    def __init__(self, lab, rate, tag):
        self.lab, self.rate, self.prefix = lab, rate, '/tmp/duty_pg_%s' % tag

    def start(self):
        self.lab.exec(HOST, ['sh', '-c', 'cat > /tmp/duty_write.sql; chmod 644 /tmp/duty_write.sql; '
                             'rm -f %s*' % self.prefix], stdin=PGBENCH_SCRIPT)
        self.lab.exec(HOST, ['runuser', '-u', 'postgres', '--', 'sh', '-c',
                             'cd /tmp && PGAPPNAME=duty_load pgbench -n -c 2 -j 2 -R %g -T 3600 --log '
                             '--log-prefix=%s -f /tmp/duty_write.sql %s > %s.out 2>&1'
                             % (self.rate, self.prefix, PG_DB, self.prefix)], detach=True)
        time.sleep(1.0)
        return time.time()

    def stop(self):
        self.lab.psql(HOST, PG_DB, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                   "WHERE application_name = 'duty_load'")
        for _ in range(50):
            if not self.lab.exec(HOST, ['pgrep', '-f', self.prefix], check=False).stdout.strip():
                break
            time.sleep(0.2)
        out = self.lab.exec(HOST, ['sh', '-c', 'cat %s.[0-9]*' % self.prefix]).stdout
        summary = self.lab.exec(HOST, ['cat', '%s.out' % self.prefix], check=False).stdout
        return parse_pgbench_log(out.splitlines()), {'pgbench': summary[-1500:]}


class MariaLoad(object):
    """bench/dutyload.py on the db host (PyMySQL, root over the socket), into the bloated table."""

    def __init__(self, lab, rate, tag):
        self.lab, self.rate, self.out = lab, rate, '/tmp/duty_maria_%s.jsonl' % tag

    def start(self):
        with open(os.path.join(BENCH_DIR, 'dutyload.py'), encoding='utf-8') as handle:
            self.lab.exec(HOST, ['sh', '-c', 'cat > /tmp/dutyload.py; rm -f /tmp/dutyload.stop'],
                          stdin=handle.read())
        self.lab.exec(HOST, ['sh', '-c', 'python3 /tmp/dutyload.py --database %s --table %s --rate %g '
                             '--seconds 3600 > %s 2>%s.err' % (MARIA_DB, MARIA_TABLE, self.rate, self.out,
                                                              self.out)], detach=True)
        time.sleep(1.0)
        return time.time()

    def stop(self):
        self.lab.exec(HOST, ['touch', '/tmp/dutyload.stop'])
        for _ in range(100):
            if not self.lab.exec(HOST, ['pgrep', '-f', 'dutyload.py'], check=False).stdout.strip():
                break
            time.sleep(0.2)
        out = self.lab.exec(HOST, ['cat', self.out]).stdout
        err = self.lab.exec(HOST, ['cat', self.out + '.err'], check=False).stdout
        transactions, errors = parse_load_lines(out.splitlines())
        return transactions, {'errors': len(errors), 'stderr': err[-2000:]}


# -- PostgreSQL ----------------------------------------------------------------------
def pg_files(lab):
    """{relation: relfilenode} of the public tables and indexes: what a rebuild changes."""
    return dict((r[0], r[1]) for r in lab.psql(
        HOST, PG_DB, "SELECT relname, relfilenode FROM pg_class WHERE relnamespace = 'public'::regnamespace "
                     "AND relkind IN ('r', 'i')"))


def pg_sizes(lab):
    return dict((r[0], int(r[1])) for r in lab.psql(
        HOST, PG_DB, "SELECT relname, pg_relation_size(oid) FROM pg_class WHERE relname IN (%s)"
        % ', '.join("'%s'" % o.split('.', 1)[1] for o in PG_PLANTED)))


def plant_postgresql(lab):
    """bench_bloat: PG_PK_ROWS rows of 400 bytes with a bigserial primary key, 4 of every 5 deleted
    (spread over every page, so VACUUM cannot truncate it away) and vacuumed: ~80 % of the table
    and of its index is free space that only a rebuild gives back. pg_repack must be created in the
    database for db_maintenance to use it (it looks it up in pg_extension): the lab provisions it in
    hemodialysis (lab/ansible/settings.yml), as a hospital would have; checked here, not created."""
    if not lab.psql(HOST, PG_DB, "SELECT 1 FROM pg_extension WHERE extname = 'pg_repack'"):
        raise BenchError('PostgreSQL: the pg_repack extension is not created in %s (the lab provisions '
                         'it: lab/ansible/settings.yml lab_settings_extensions)' % PG_DB)
    lab.psql(HOST, PG_DB, 'DROP TABLE IF EXISTS %s; CREATE TABLE %s (id bigserial PRIMARY KEY, payload text '
             'NOT NULL); INSERT INTO %s (payload) SELECT repeat(\'b\', 400) FROM generate_series(1, %d); '
             'DELETE FROM %s WHERE id %% 5 <> 0' % (PG_PK_TABLE, PG_PK_TABLE, PG_PK_TABLE, PG_PK_ROWS,
                                                 PG_PK_TABLE), timeout=600)
    lab.psql(HOST, PG_DB, 'VACUUM (ANALYZE) %s' % PG_PK_TABLE, timeout=600)
    row = lab.psql(HOST, PG_DB, "SELECT pg_relation_size('%s'), pg_relation_size('%s'), (SELECT "
                   "free_percent FROM pgstattuple('%s'))" % (PG_PK_TABLE, PG_PK_INDEX, PG_PK_TABLE))[0]
    return {'table_bytes': int(row[0]), 'index_bytes': int(row[1]), 'free_percent': float(row[2])}


def under_load(load, baseline, works):
    """Baseline seconds of load, then each work() in turn (returns (start, end, result)), each
    followed by SETTLE seconds of load (writes queued behind the work still count);
    (baseline latencies, [(latencies during the work, start, end, result)], load info)."""
    loads = [loadavg()]
    begun = load.start()
    time.sleep(baseline)
    done = []
    try:
        for work in works:
            done.append(work())
            time.sleep(SETTLE)
    finally:
        transactions, info = load.stop()
        loads.append(loadavg())
    info['loadavg'] = loads
    say('    load average at the start and end of this load run: %s, %s' % tuple(loads))
    base = in_window(transactions, begun + 2.0, done[0][0] if done else time.time())
    return base, [(in_window(transactions, start, end), start, end, result)
                  for start, end, result in done], info


def latency_block(suite, key, label, base, during, start, end, info, judge=True):
    b, d = latency_figures(base), latency_figures(during)
    ratio = round(d['p99'] / b['p99'], 2) if b['p99'] and d['p99'] is not None else None
    suite.measurements[key] = {'baseline': b, 'during': d, 'window': [round(start, 3), round(end, 3)],
                               'window_seconds': round(end - start, 2), 'over_1s': over(during, 1000.0),
                               'load': info}
    suite.add(figure(key + '_baseline_p99', '%s: baseline p99 (%d tx)' % (label, b['count']), b['p99'], 'ms'))
    suite.add(figure(key + '_baseline_max', '%s: baseline max' % label, b['max'], 'ms'))
    suite.add(figure(key + '_during_p99', '%s: p99 during (%.1f s, %d tx)' % (label, end - start, d['count']),
                     d['p99'], 'ms'))
    if judge:
        suite.add(figure(key + '_during_max', '%s: max during' % label, d['max'], 'ms', '<=',
                         TARGETS['max_ms'], info={'over_1s': over(during, 1000.0)}))
        suite.add(figure(key + '_p99_ratio', '%s: p99 during / baseline p99' % label, ratio, 'x', '<=',
                         TARGETS['p99_ratio']))
    else:
        suite.add(figure(key + '_during_max', '%s: max during' % label, d['max'], 'ms'))
        suite.add(figure(key + '_p99_ratio', '%s: p99 during / baseline p99, info' % label, ratio, 'x'))
    return ratio


def maintain(suite, database, name, check=False):
    run = suite.run_playbook('db_maintenance.yml', {'db_maintenance_hosts': HOST,
                                                    'db_maintenance_databases': [database]},
                             name=name, check=check)
    if run.rc != 0:
        raise BenchError('db_maintenance.yml failed (rc %d); see %s' % (run.rc, run.log))
    records = [r for r in run.kind('db_maintenance')
               if any(i.get('item') == 'db_maintenance:%s' % database['name'] for i in r.get('items') or [])]
    if not records:
        raise BenchError('db_maintenance.yml wrote no db_maintenance record for %s; see %s'
                         % (database['name'], run.log))
    return run, maintenance_summary(records[0], database['name'])


def timed(function, *args, **kwargs):
    """A work for under_load: (start, end, function's result)."""
    def work():
        start = time.time()
        result = function(*args, **kwargs)
        return start, time.time(), result
    return work


def maintenance_phases(suite, load, baseline, database, label, key):
    """The same playbook in check mode (it measures, changes nothing: what running Ansible and
    the measuring queries on the 2 shared cores cost the writes), then for real."""
    base, done, info = under_load(load, baseline, [
        timed(maintain, suite, database, 'db_maintenance-%s-check' % key, check=True),
        timed(maintain, suite, database, 'db_maintenance-%s' % key)])
    (check_lat, cstart, cend, _check), (real_lat, start, end, (run, summary)) = done
    say('    db_maintenance.yml %.1f s: %s' % (run.seconds, summary['steps']))
    latency_block(suite, key + '_check', '%s --check (control)' % label, base, check_lat, cstart, cend, info,
                  judge=False)
    latency_block(suite, key + '_maintenance', label, base, real_lat, start, end, info)
    return summary


def record_figures(suite, key, label, summary, planted, changed=None):
    """Objects touched against the planted set; space reclaimed against the measured bloat over
    every object the record found bloated (the issue's target), and, as an explanation, over the
    objects online maintenance may touch (not needs_window) and over those it rebuilt."""
    touched = summary['touched']
    suite.add(figure(key + '_only_bloated', '%s: objects touched = planted set' % label,
                     bool(touched) and set(touched) <= set(planted), '', '==', True,
                     info={'touched': touched, 'planted': planted, 'steps': summary['steps'],
                           'files_changed': changed}))
    bloat = sum(summary['bloat_bytes'].values())
    reclaimed = summary['reclaimed_bytes']
    suite.add(figure(key + '_reclaimed', '%s: space reclaimed / bloat of ALL objects found bloated '
                     '(%.1f of %.1f MB)' % (label, (reclaimed or 0) / 1e6, bloat / 1e6),
                     share(reclaimed, bloat), '%', '>=', TARGETS['reclaimed_pct'],
                     info={'bloat_bytes': summary['bloat_bytes'], 'needs_window': summary['needs_window']}))
    online = sum(summary['bloat_online_bytes'].values())
    if online != bloat:
        suite.add(figure(key + '_reclaimed_online', '%s: ... / bloat of the objects online maintenance may '
                         'touch (%.1f MB; without needs_window %s), info'
                         % (label, online / 1e6, ', '.join(summary['needs_window'])),
                         share(reclaimed, online), '%',
                         info={'bloat_online_bytes': summary['bloat_online_bytes']}))
    acted = sum(summary['bloat_acted_bytes'].values())
    if acted not in (bloat, online):
        suite.add(figure(key + '_reclaimed_acted', '%s: ... of the objects rebuilt, info' % label,
                         share(reclaimed, acted), '%',
                         info={'bloat_acted_bytes': summary['bloat_acted_bytes']}))


def bench_postgresql(suite, args):
    lab = suite.lab
    planted = plant_postgresql(lab)
    say('--> PostgreSQL %s: planted %s (%s: %s)' % (PG_DB, ', '.join(PG_PLANTED), PG_PK_TABLE, planted))
    suite.measurements['pg_planted'] = planted
    before_files, before_sizes = pg_files(lab), pg_sizes(lab)
    summary = maintenance_phases(suite, PgLoad(lab, args.rate, 'maint'), args.baseline, PG_DATABASE,
                                 'PG db_maintenance', 'pg')
    after_files = pg_files(lab)
    changed = sorted('public.' + n for n in before_files if after_files.get(n) != before_files[n])
    record_figures(suite, 'pg', 'PG db_maintenance', summary, PG_PLANTED, changed)
    pk_steps = summary['steps'].get('public.' + PG_PK_TABLE, [])
    suite.add(figure('pg_repack_chosen', 'PG db_maintenance: %s (primary key) rebuilt by pg_repack'
                     % PG_PK_TABLE, any(a == 'repack' and r == 'done' for a, r, _w in pk_steps), '', '==',
                     True, info={'steps': pk_steps}))
    suite.measurements['pg_sizes'] = {'before': before_sizes, 'after': pg_sizes(lab)}

    # The same objects again, bloated again, rebuilt the plain way (blocks writes to the table):
    # REINDEX of the indexes the maintenance reindexed, VACUUM FULL of the table it repacked.
    say('--> PostgreSQL: re-planting the bloat for the plain REINDEX and VACUUM FULL')
    lab.up(plant='bloat')
    suite.measurements['pg_planted_plain'] = plant_postgresql(lab)
    indexes = [o.split('.', 1)[1] for o, steps in summary['steps'].items()
               if any(a == 'reindex' and r == 'done' for a, r, _ in steps)] or [PG_INDEX]

    def plain():
        for index in indexes:
            lab.psql(HOST, PG_DB, 'REINDEX INDEX public.%s' % index)

    def plain_full():
        lab.psql(HOST, PG_DB, 'VACUUM FULL public.%s' % PG_PK_TABLE, timeout=600)

    base, done, info = under_load(PgLoad(lab, args.rate, 'plain'), args.baseline,
                                  [timed(plain), timed(plain_full)])
    (during, start, end, _res), (full_during, fstart, fend, _fres) = done
    say('    plain REINDEX of %s: %.2f s; VACUUM FULL %s: %.2f s'
        % (', '.join(indexes), end - start, PG_PK_TABLE, fend - fstart))
    latency_block(suite, 'pg_plain_reindex', 'PG plain REINDEX', base, during, start, end, info)
    latency_block(suite, 'pg_plain_vacuum_full', 'PG plain VACUUM FULL %s' % PG_PK_TABLE, base, full_during,
                  fstart, fend, info)
    suite.measurements['pg_sizes_plain'] = pg_sizes(lab)


# -- MariaDB -------------------------------------------------------------------------
def plant_mariadb(lab):
    """bench_bloat: MARIA_ROWS rows of 400 bytes, the last 80 % deleted as one range and purged."""
    lab.mariadb(HOST, MARIA_DB, 'DROP TABLE IF EXISTS %s; CREATE TABLE %s (id BIGINT AUTO_INCREMENT '
                'PRIMARY KEY, payload VARCHAR(400) NOT NULL) ENGINE=InnoDB; INSERT INTO %s (payload) '
                'SELECT REPEAT(\'b\', 400) FROM seq_1_to_%d; DELETE FROM %s WHERE id > %d;'
                % (MARIA_TABLE, MARIA_TABLE, MARIA_TABLE, MARIA_ROWS, MARIA_TABLE, MARIA_ROWS // 5))
    for _ in range(60):
        rows = lab.mariadb(HOST, MARIA_DB, "ANALYZE TABLE %s; SELECT data_length, data_free FROM "
                           "information_schema.TABLES WHERE table_schema = '%s' AND table_name = '%s'"
                           % (MARIA_TABLE, MARIA_DB, MARIA_TABLE))
        data_length, data_free = int(rows[-1][0]), int(rows[-1][1])
        if data_free > 0.5 * (data_length + data_free):
            return {'data_length': data_length, 'data_free': data_free}
        time.sleep(1)
    raise BenchError('MariaDB: the planted table %s.%s reports no free space after the delete (%s)'
                     % (MARIA_DB, MARIA_TABLE, rows))


def bench_mariadb(suite, args):
    lab = suite.lab
    planted = plant_mariadb(lab)
    say('--> MariaDB %s: planted %s (%s)' % (MARIA_DB, MARIA_TABLE, planted))
    suite.measurements['maria_planted'] = planted

    summary = maintenance_phases(suite, MariaLoad(lab, args.rate, 'maint'), args.baseline, MARIA_DATABASE,
                                 'MariaDB db_maintenance', 'maria')
    record_figures(suite, 'maria', 'MariaDB db_maintenance', summary,
                   sorted(o for o in summary['steps'] if o.split('.')[-1] == MARIA_TABLE) or [MARIA_TABLE])

    plant_mariadb(lab)
    say('--> MariaDB: re-planted; the plain rebuild (ALTER TABLE ... FORCE, ALGORITHM=COPY: writes wait)')

    def plain():
        lab.mariadb(HOST, MARIA_DB, 'ALTER TABLE %s FORCE, ALGORITHM=COPY' % MARIA_TABLE)

    base, [(during, start, end, _res)], info = under_load(MariaLoad(lab, args.rate, 'plain'), args.baseline,
                                                          [timed(plain)])
    say('    plain rebuild: %.2f s' % (end - start))
    latency_block(suite, 'maria_plain_rebuild', 'MariaDB plain ALTER ... COPY', base, during, start, end,
                  info)


def body_of(args):
    def body(suite):
        suite.measurements['settings'] = {'rate_tps': args.rate, 'baseline_s': args.baseline,
                                          'settle_s': SETTLE, 'engines': args.engines}
        if 'postgresql' in args.engines:
            bench_postgresql(suite, args)
        if 'mariadb' in args.engines:
            bench_mariadb(suite, args)
        suite.print_figures('latency of a fixed-rate write load (ms, from each transaction\'s scheduled '
                            'start), objects touched, space reclaimed')
    return body


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--rate', type=float, default=100.0, help='write transactions per second (100)')
    parser.add_argument('--baseline', type=float, default=30.0, help='seconds of load before the work (30)')
    parser.add_argument('--engines', default='postgresql,mariadb')
    parser.add_argument('--size', type=int, default=1000000, help='labctl --size: readings (1000000)')
    parser.add_argument('--keep-lab', action='store_true', help='leave the lab running at the end')
    parser.add_argument('--reuse-lab', action='store_true', help='keep a running lab of the prefix')
    parser.add_argument('--prefix', default=PREFIX, help='lab prefix (%s)' % PREFIX)
    parser.add_argument('--base-port', type=int, default=BASE_PORT, help='lab base port (%d)' % BASE_PORT)
    args = parser.parse_args(argv)
    args.engines = [e for e in args.engines.split(',') if e]
    return args


if __name__ == '__main__':
    ARGS = parse(sys.argv[1:])
    sys.exit(main('dbcare', 'database maintenance under a write load (issue 9)', body_of(ARGS), ARGS.prefix,
                  ARGS.base_port, ['hd-app-01', HOST], keep_lab=ARGS.keep_lab, reuse_lab=ARGS.reuse_lab,
                  size=ARGS.size, plant='bloat'))
