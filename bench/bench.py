#!/usr/bin/env python3
"""dialysis-ops benchmark (`make bench`; not part of `make test`). See bench/README.md.

Starts N systemd+sshd test hosts in podman (SSH published on 127.0.0.1 only),
then runs, interleaved and repeated:

  A  ansible all -m ping
  B  ansible-playbook playbooks/inspect.yml, records callback enabled
  C  the same, records callback disabled (verified: no record file is written)
  D  bench/naive_inspect.yml, the one-task-per-metric baseline with facts
  K  as C, with every host's clinical items off (-e inspection_clinical={})

on the N hosts and on three hosts of the lab hospital (hd-app-01, hd-db-01,
hd-if-01, started by lab/labctl.py like `make lab`; --no-lab leaves them out),
whose clinical items (machine data, failed-message queue, interface endpoints,
collector) are inspected in B and C; C - K is their cost,

timing each with the wall clock and the controller's CPU seconds (user+sys of
the ansible process tree and of the SSH ControlPersist masters it left), then
removes the hosts, builds a synthetic quarter of records (bench/synth_records.py)
from a real record of round 1, and times playbooks/report.yml on it if that
playbook exists. Prints medians, ratios against the targets (PASS/MISS) and
writes everything to bench/results/<stamp>/bench.json (+ bench/results/latest.json).

  python3 bench/bench.py [--hosts N] [--rounds R] [--base-port P] [--report-runs K]
Environment: BENCH_HOSTS, BENCH_ROUNDS, BENCH_BASE_PORT, BENCH_REPORT_RUNS,
DIALYSIS_TESTHOST_CACHE (where the test SSH key is).

This file is the command line only; the bench itself is in its sibling modules:
hosts.py (the podman test hosts and their inventory), labhosts.py (the lab hosts),
measure.py (timing, CPU,
memory, rounds, medians), cases.py (the cases, the report timing, the whole run),
summary.py (figures and ratios beside their targets, bench.json).
"""

import argparse
import os
import signal
import sys

from cases import CASES, Bench
from common import BENCH_DIR, BenchError, say
from labhosts import HOSTS as LAB_HOSTS


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv=None):
    parser = argparse.ArgumentParser(description='dialysis-ops benchmark (see bench/README.md)')
    parser.add_argument('--hosts', type=int, default=int(os.environ.get('BENCH_HOSTS') or 0),
                        help='bench hosts (default 50 in all: 47 beside the 3 lab hosts, 50 with --no-lab)')
    parser.add_argument('--rounds', type=int, default=int(os.environ.get('BENCH_ROUNDS') or 3))
    parser.add_argument('--base-port', type=int, default=int(os.environ.get('BENCH_BASE_PORT') or 2300),
                        help='host i gets SSH on 127.0.0.1:BASE+i (default 2300)')
    parser.add_argument('--report-runs', type=int, default=int(os.environ.get('BENCH_REPORT_RUNS') or 1),
                        help='timed runs of playbooks/report.yml (default 1)')
    parser.add_argument('--synth-hosts', type=int, default=50, help='hosts in the synthetic quarter')
    parser.add_argument('--cases', default='ABCDK', help='subset of ABCDKM, in round order')
    parser.add_argument('--no-lab', dest='lab', action='store_false',
                        help='leave out the lab\'s three hemodialysis hosts and their clinical items')
    parser.add_argument('--lab-base-port', type=int,
                        default=int(os.environ.get('BENCH_LAB_BASE_PORT') or 2440),
                        help='base of the lab hosts\' published ports (default 2440)')
    parser.add_argument('--lab-size', type=int, default=20000, help='rows of the lab\'s generated readings')
    parser.add_argument('--inspect-var', dest='inspect_vars', action='append', default=[],
                        help='extra -e for the B and C runs (e.g. inspection_cpu_sample_seconds=0.2)')
    parser.add_argument('--skip-report', action='store_true')
    parser.add_argument('--results-dir', default=os.path.join(BENCH_DIR, 'results'))
    args = parser.parse_args(argv)
    args.cases = [c for c in args.cases.upper() if c in CASES]
    if not args.hosts:
        # 50 hosts in all, as before the lab joined: more than ansible.cfg's forks (50)
        # would add a second batch to every task and measure that instead.
        args.hosts = 50 - len(LAB_HOSTS) if args.lab else 50
    if args.hosts < 1 or args.rounds < 1 or args.report_runs < 0:
        parser.error('--hosts and --rounds must be >= 1')
    signal.signal(signal.SIGINT, signal.default_int_handler)   # even if started with SIGINT ignored
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    bench = Bench(args)
    try:
        return bench.run()
    except BenchError as exc:
        say('ERROR: %s' % exc)
        return 2
    except KeyboardInterrupt:
        say('\ninterrupted; bench hosts removed')
        return 130


if __name__ == '__main__':
    sys.exit(main())
