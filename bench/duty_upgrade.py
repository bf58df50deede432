#!/usr/bin/env python3
"""Upgrades and automatic rollbacks seen from outside (issue 12): while
playbooks/upgrade.yml upgrades the lab's hemodialysis service 1.0 -> 1.1 (success) and
then 1.1 -> 1.2 (1.2 fails its health check and the run rolls back by itself), an HTTP
prober on the controller polls GET /health of each application host through its
published port every 100 ms. Printed per run: the seconds each host did not answer 200
(unavailable) and did not take writes (/health not "ok": maintenance mode or down), the
longest gap, and for the rollback the time from the failed health check to the old
release healthy again (the record's `timings.rollback_seconds`; target: within 60 s) beside
the prober's view of the whole failed attempt (first answer from 1.2 to every host "ok" at
1.1, which includes the role's wait for the new release to become healthy).

    python3 bench/duty_upgrade.py [--interval 0.1]

Lab: prefix vlab, base port 2760 (hd-app-01, hd-app-02, hd-db-01, 20000 readings, release
1.0), prepared as molecule/upgrade's prepare does (releases 1.0/1.1/1.2 built, the
collector writing without running treatments); results in bench/results/<stamp>-upgrade/."""

import argparse
import datetime
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import REPO, BenchError, say  # noqa: E402
from dutylab import loadavg, main  # noqa: E402
from dutystats import figure, first_healthy_after, unavailability  # noqa: E402

PREFIX, BASE_PORT = 'vlab', 2760
APPS, DB = ('hd-app-01', 'hd-app-02'), 'hd-db-01'
SIZE = 20000                       # as molecule/upgrade: a quick pre-migration backup
TARGET_ROLLBACK_S = 60.0
RELEASES = ('1.0', '1.1', '1.2')


def shanghai_holidays():
    """Today and yesterday in Asia/Shanghai: the guard's calendar puts the run outside the shift."""
    now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=8)
    return [str(now.date()), str((now - datetime.timedelta(days=1)).date())]


def upgrade_vars(release_dir):
    """The variables of every upgrade run (as molecule/upgrade/vars/upgrade.yml, with the role's
    own health wait and interval). The bench's lab has no backup that a restore drill proved
    (molecule/upgrade's prepare makes one; the bench measures availability, not the gate), so
    the risk gate's "no go" is overridden, with the reason and operator it requires; the
    override is recorded in the run's upgrade_risk record."""
    return {
        'upgrade_hosts': 'hemodialysis',
        'upgrade_system': 'hemodialysis',
        'upgrade_release_dir': release_dir,
        'upgrade_reason': 'bench: availability during an upgrade and its automatic rollback',
        'dialysis_change_ticket': 'CHG-BENCH-UPGRADE',
        'dialysis_treatment_hours': {'holidays': shanghai_holidays()},
        'upgrade_risk_override_reason': 'bench lab: no restore-drilled backup; availability is measured',
        'upgrade_risk_override_operator': 'bench',
    }


class Prober(object):
    """One thread per application host: GET /health every `interval` s (timeout 1 s);
    samples (epoch s, answered 200, version, status) where status is the body's status
    ("ok", "maintenance", "error") or the failure ("refused", "timeout", "http 503")."""

    def __init__(self, ports, interval):
        self.ports = ports
        self.interval = interval
        self.samples = dict((host, []) for host in ports)
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._poll, args=(host,), daemon=True) for host in ports]

    def _poll(self, host):
        url = 'http://127.0.0.1:%d/health' % self.ports[host]
        next_at = time.time()
        while not self.stopping.is_set():
            started = time.time()
            ok, version, status = False, None, None
            try:
                with urllib.request.urlopen(url, timeout=1.0) as resp:
                    body = json.loads(resp.read().decode('utf-8'))
                    ok, version, status = resp.status == 200, body.get('version'), body.get('status')
            except urllib.error.HTTPError as exc:
                status = 'http %d' % exc.code
                try:
                    version = json.loads(exc.read().decode('utf-8')).get('version')
                except ValueError:
                    pass
            except (urllib.error.URLError, OSError, ValueError) as exc:
                status = 'timeout' if 'timed out' in str(exc) else 'refused'
            self.samples[host].append((started, ok, version, status))
            next_at += self.interval
            time.sleep(max(0.0, next_at - time.time()))

    def start(self):
        for thread in self.threads:
            thread.start()

    def stop(self):
        self.stopping.set()
        for thread in self.threads:
            thread.join(5)


def prepare(suite, release_dir):
    """As molecule/upgrade's prepare: the releases built on the controller, the collector writing
    idle readings (running_sessions 0), the running treatments completed (the guard's live check
    then answers zero)."""
    lab = suite.lab
    for version in RELEASES:
        subprocess.run([sys.executable, os.path.join(REPO, 'lab', 'software', 'service', 'build_release.py'),
                        version, release_dir], check=True, capture_output=True, timeout=300)
    lab.exec('hd-app-01', ['python3', '-c',
                           'import json; p = "/etc/dialysis-collector/config.json"; c = json.load(open(p)); '
                           'c["running_sessions"] = 0; open(p, "w").write(json.dumps(c, indent=2) + "\\n")'])
    lab.exec('hd-app-01', ['systemctl', 'restart', 'dialysis-collector.service'])
    time.sleep(2)
    lab.psql(DB, 'hemodialysis', "UPDATE treatment_session SET status = 'completed', ended_at = now() "
                                 "WHERE status = 'running'")


def probed_run(suite, prober, version, name):
    """upgrade.yml to `version` with the prober running; (Run, samples of the run's window)."""
    load_before = loadavg()
    run = suite.run_playbook('upgrade.yml', dict(suite.upgrade_vars, upgrade_version=version), name=name)
    time.sleep(1.0)                             # the prober sees the state the run left
    suite.measurements.setdefault('loadavg', {})[name] = [load_before, loadavg()]
    say('    %s: load average %s -> %s' % (name, load_before, suite.measurements['loadavg'][name][1]))
    window = dict((h, [s for s in prober.samples[h] if run.start <= s[0] <= run.end + 1.0])
                  for h in prober.samples)
    return run, window


def availability_figures(suite, key, label, window):
    for host, samples in sorted(window.items()):
        down = unavailability(samples)
        writes = unavailability([(s[0], s[1] and s[3] == 'ok') for s in samples])
        suite.add(figure('%s_%s_unavailable' % (key, host), '%s, %s: not answering 200 (longest gap %.1f s)'
                         % (label, host, down['longest_gap_seconds']), down['unhealthy_seconds'], 's',
                         info=down))
        suite.add(figure('%s_%s_no_writes' % (key, host), '%s, %s: not taking writes (longest %.1f s)'
                         % (label, host, writes['longest_gap_seconds']), writes['unhealthy_seconds'], 's',
                         info=writes))
        suite.measurements.setdefault('statuses', {})['%s_%s' % (key, host)] = transitions(samples)


def transitions(samples):
    """The prober's view in short: [(seconds from the first sample, version, status)] at each change."""
    out, last = [], None
    for t, _ok, version, status in samples:
        if (version, status) != last:
            out.append((round(t - samples[0][0], 2), version, status))
            last = (version, status)
    return out


def body_of(args):
    def body(suite):
        release_dir = os.path.join(suite.results, 'releases')
        os.makedirs(release_dir, exist_ok=True)
        suite.upgrade_vars = upgrade_vars(release_dir)
        prepare(suite, release_dir)
        ports = dict((h, suite.lab.port(h, 8080)) for h in APPS)
        prober = Prober(ports, args.interval)
        prober.start()
        try:
            time.sleep(2.0)
            bad = [h for h in APPS if not prober.samples[h] or not prober.samples[h][-1][1]]
            if bad:
                raise BenchError('the service does not answer /health on %s before the upgrade' % bad)
            up, up_window = probed_run(suite, prober, '1.1', 'upgrade-1.1')
            ups = up.kind('upgrade')
            if up.rc != 0 or not ups or ups[0].get('outcome') != 'upgraded':
                raise BenchError('upgrade 1.0 -> 1.1 did not succeed (rc %d, %s); see %s'
                                 % (up.rc, [r.get('outcome') for r in ups], up.log))
            say('--> upgrade 1.0 -> 1.1: %.1f s, outcome %s, downtime_seconds %s'
                % (up.seconds, ups[0]['outcome'], ups[0].get('downtime_seconds')))
            back, back_window = probed_run(suite, prober, '1.2', 'upgrade-1.2')
        finally:
            prober.stop()
        backs = [r for r in back.kind('upgrade') if r.get('version_to') == '1.2']
        if not backs:
            raise BenchError('the 1.2 run wrote no upgrade record (rc %d); see %s' % (back.rc, back.log))
        record = backs[0]
        timings = (record.get('metrics') or {}).get('timings') or {}
        say('--> upgrade 1.1 -> 1.2: %.1f s, rc %d, outcome %s, timings %s'
            % (back.seconds, back.rc, record.get('outcome'), timings))

        suite.add(figure('upgrade_wall', 'upgrade 1.0 -> 1.1: upgrade.yml wall', up.seconds, 's'))
        suite.add(figure('upgrade_outcome', 'upgrade 1.0 -> 1.1: outcome', ups[0].get('outcome'), '', '==',
                         'upgraded'))
        suite.add(figure('upgrade_downtime_record', 'upgrade 1.0 -> 1.1: downtime_seconds (record)',
                         ups[0].get('downtime_seconds'), 's'))
        availability_figures(suite, 'upgrade', 'upgrade 1.0 -> 1.1', up_window)

        suite.add(figure('rollback_wall', 'upgrade 1.1 -> 1.2 (fails): upgrade.yml wall', back.seconds, 's'))
        suite.add(figure('rollback_outcome', 'upgrade 1.1 -> 1.2: outcome', record.get('outcome'), '', '==',
                         'rolled_back_automatically'))
        availability_figures(suite, 'rollback', 'upgrade 1.1 -> 1.2 + rollback', back_window)
        suite.add(figure('rollback_seconds_record', 'failed check -> old release healthy (record)',
                         timings.get('rollback_seconds'), 's', '<=', TARGET_ROLLBACK_S,
                         info={'timings': timings, 'trigger': (record.get('metrics') or {}).get('rollback')}))
        # The prober's: from the first answer of 1.2 on any host to every host "ok" at 1.1 for good.
        firsts = [s[0] for h in APPS for s in back_window[h] if s[2] == '1.2']
        prober_s = None
        if firsts:
            first = min(firsts)
            backs_ok = []
            for h in APPS:
                samples = back_window[h]
                bad = [s[0] for s in samples if not (s[1] and s[3] == 'ok' and s[2] == '1.1')]
                last_bad = max(bad or [first])
                backs_ok.append(first_healthy_after([(s[0], s[1] and s[3] == 'ok', s[2]) for s in samples],
                                                    last_bad, '1.1'))
            if all(backs_ok):
                prober_s = round(max(backs_ok) - first, 2)
        # Not the same span as the record's: it includes upgrade_health_wait, the time the role
        # gives the new release to become healthy while it answers 503 (the unit sees all of it).
        suite.add(figure('rollback_seconds_prober', '1.2 answers -> all hosts "ok" at 1.1 (prober), info',
                         prober_s, 's', info={'upgrade_health_wait': suite.upgrade_vars.get(
                             'upgrade_health_wait', 'role default (60)')}))
        suite.measurements.update(interval_s=args.interval,
                                  upgrade_record_timings=(ups[0].get('metrics') or {}).get('timings'),
                                  rollback_record_timings=timings,
                                  samples=dict((h, len(prober.samples[h])) for h in APPS))
        suite.print_figures('availability seen by an HTTP prober (GET /health every %g s per app host)'
                            % args.interval)
    return body


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--interval', type=float, default=0.1, help='prober interval, seconds (0.1)')
    parser.add_argument('--keep-lab', action='store_true', help='leave the lab running at the end')
    parser.add_argument('--reuse-lab', action='store_true', help='keep a running lab of the prefix')
    return parser.parse_args(argv)


if __name__ == '__main__':
    ARGS = parse(sys.argv[1:])
    sys.exit(main('upgrade', 'upgrades and automatic rollbacks under an HTTP prober (issue 12)',
                  body_of(ARGS), PREFIX, BASE_PORT, list(APPS) + [DB], keep_lab=ARGS.keep_lab,
                  reuse_lab=ARGS.reuse_lab, size=SIZE))
