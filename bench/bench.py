#!/usr/bin/env python3
"""dialysis-ops benchmark (`make bench`; not part of `make test`). See bench/README.md.

Starts N systemd+sshd test hosts in podman (SSH published on 127.0.0.1 only),
then runs, interleaved and repeated:

  A  ansible all -m ping
  B  ansible-playbook playbooks/inspect.yml, records callback enabled
  C  the same, records callback disabled (verified: no record file is written)
  D  bench/naive_inspect.yml, the one-task-per-metric baseline with facts

timing each with the wall clock and the controller's CPU seconds (user+sys of
the ansible process tree and of the SSH ControlPersist masters it left), then
removes the hosts, builds a synthetic quarter of records (bench/synth_records.py)
from a real record of round 1, and times playbooks/report.yml on it if that
playbook exists. Prints medians, ratios against the targets (PASS/MISS) and
writes everything to bench/results/<stamp>/bench.json (+ bench/results/latest.json).

  python3 bench/bench.py [--hosts N] [--rounds R] [--base-port P] [--report-runs K]
Environment: BENCH_HOSTS, BENCH_ROUNDS, BENCH_BASE_PORT, BENCH_REPORT_RUNS,
DIALYSIS_TESTHOST_CACHE (where the test SSH key is).
"""

import argparse
import concurrent.futures
import ctypes
import datetime
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
IMAGE = 'localhost/dialysis-ops-testhost:latest'
LABEL_KEY = 'dialysis-ops-bench'
SYSTEMS = ('hemodialysis', 'ckd', 'pd')
# Units that exist in the test-host image (no cron there: minbase + sshd + systemd).
SERVICES = ['ssh.service', 'systemd-journald.service']
APP_LOG = '/var/log/dialysis/app.log'
INOTIFY_PER_HOST = 3          # tests/testhosts/README.md: a booted host uses ~3 instances
CLK_TCK = os.sysconf('SC_CLK_TCK')
PR_SET_CHILD_SUBREAPER = 36

# Run in every host by `podman exec` right after start ($1 = host name).
PREPARE_SCRIPT = r"""set -eu
i=0
while :; do   # systemd may not answer on its bus yet right after `podman run`
  state=$(timeout 120 systemctl is-system-running --wait 2>/dev/null || true)
  case "$state" in running|degraded) break ;; esac
  i=$((i + 1)); [ "$i" -lt 240 ] || { echo "systemd not up: ${state:-no answer}" >&2; exit 1; }
  sleep 0.5
done
for unit in @SERVICES@; do
  load=$(systemctl show -p LoadState --value "$unit")
  [ "$load" = loaded ] || { echo "unit $unit: LoadState=$load (not in the image?)" >&2; exit 1; }
done
install -d -m 0755 "$(dirname @APP_LOG@)"
now=$(date '+%F %T')
{ echo "$now INFO dialysis app started on $1"
  echo "$now INFO connected to dialysis machine HD-07"
  echo "$now INFO session 4711 telemetry ok"; } > @APP_LOG@
"""

TARGETS = {
    'inspect_over_ping': ('<=', 1.3),
    'naive_over_inspect': ('>=', 6.0),
    'callback_overhead_wall': ('<=', 0.03),
    'callback_overhead_cpu': ('<=', 0.03),
    'callback_seconds_share': ('<=', 0.03),
    'report_seconds': ('<=', 10.0),
}
CASES = {
    'A': 'ping (ansible all -m ping)',
    'B': 'inspect.yml, records callback on',
    'C': 'inspect.yml, records callback off',
    'D': 'naive one-task-per-metric playbook',
    'M': 'host_inspection alone (ad hoc)',
}
MODULE_ARGS = {'services': SERVICES, 'logs': [{'name': 'app', 'path': APP_LOG}],
               'clock_sync_required': False}


class BenchError(Exception):
    pass


def say(text=''):
    print(text, flush=True)


def now_stamp():
    return datetime.datetime.now().strftime('%Y%m%dT%H%M%S')


# -- /proc helpers --------------------------------------------------------------
def proc_stat(pid):
    """(comm, ppid, utime+stime ticks) of a process, or None."""
    try:
        with open('/proc/%d/stat' % pid) as handle:
            data = handle.read()
    except OSError:
        return None
    comm = data[data.index('(') + 1:data.rindex(')')]
    fields = data[data.rindex(')') + 2:].split()
    return comm, int(fields[1]), int(fields[11]) + int(fields[12])


def all_pids():
    return [int(p) for p in os.listdir('/proc') if p.isdigit()]


def cmdline(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as handle:
            return handle.read().replace(b'\0', b' ').decode('utf-8', 'replace').strip()
    except OSError:
        return ''


def descendants(root):
    children = {}
    for pid in all_pids():
        st = proc_stat(pid)
        if st:
            children.setdefault(st[1], []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def mem_of(pid):
    """(rss_kb, pss_kb) from smaps_rollup (0, 0 if gone)."""
    rss = pss = 0
    try:
        with open('/proc/%d/smaps_rollup' % pid) as handle:
            for line in handle:
                if line.startswith('Rss:'):
                    rss = int(line.split()[1])
                elif line.startswith('Pss:'):
                    pss = int(line.split()[1])
    except OSError:
        pass
    return rss, pss


def machine_cpu():
    """(busy, steal) CPU seconds of the whole machine since boot."""
    with open('/proc/stat') as handle:
        fields = [int(x) for x in handle.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]
    return busy / float(CLK_TCK), fields[7] / float(CLK_TCK)


PLUMBING = ('slirp4netns', 'rootlessport', 'conmon')


def plumbing_ticks():
    """CPU ticks of the container plumbing (user-mode network, port forwarder, conmon)."""
    total = 0
    for pid in all_pids():
        st = proc_stat(pid)
        if st and st[0] in PLUMBING:
            total += st[2]
    return total


def cgroup_cpu_file(pid):
    """The file holding the CPU usage of the cgroup of `pid` (v1 cpuacct or v2)."""
    try:
        with open('/proc/%d/cgroup' % pid) as handle:
            lines = handle.read().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(':', 2)
        if 'cpuacct' in controllers.split(','):
            candidate = '/sys/fs/cgroup/cpuacct%s/cpuacct.usage' % path
            if os.path.exists(candidate):
                return candidate
    for line in lines:
        if line.startswith('0::'):
            candidate = '/sys/fs/cgroup%s/cpu.stat' % line[3:]
            if os.path.exists(candidate):
                return candidate
    return None


def read_cgroup_cpu(path):
    """CPU seconds in a cgroup usage file (None if it is gone)."""
    try:
        with open(path) as handle:
            data = handle.read()
    except OSError:
        return None
    if path.endswith('cpuacct.usage'):
        return int(data) / 1e9
    for line in data.splitlines():
        if line.startswith('usage_usec'):
            return int(line.split()[1]) / 1e6
    return None


def foreign_ansible(own_root):
    """Ansible/molecule processes on the machine that are not ours (noise)."""
    mine = set(descendants(own_root))
    found = []
    for pid in all_pids():
        if pid in mine:
            continue
        line = cmdline(pid)
        if ('ansible-playbook' in line or '/molecule ' in line or 'bin/ansible ' in line
                or line.endswith('bin/ansible')):
            found.append(line[:120])
    return found


class MemorySampler(threading.Thread):
    """Sum of RSS and PSS over the ansible process tree (+ our SSH masters),
    sampled every `interval` seconds while a case runs."""

    def __init__(self, root_pid, extra_pids, interval=1.0):
        super(MemorySampler, self).__init__(daemon=True)
        self.root_pid = root_pid
        self.extra_pids = extra_pids
        self.interval = interval
        self.stop_event = threading.Event()
        self.peak_rss_kb = self.peak_pss_kb = self.peak_procs = 0

    def run(self):
        wait = min(0.5, self.interval)
        while not self.stop_event.wait(wait):
            wait = self.interval
            pids = set(descendants(self.root_pid)) | set(self.extra_pids())
            rss = pss = 0
            for pid in pids:
                r, p = mem_of(pid)
                rss += r
                pss += p
            self.peak_rss_kb = max(self.peak_rss_kb, rss)
            self.peak_pss_kb = max(self.peak_pss_kb, pss)
            self.peak_procs = max(self.peak_procs, len(pids))

    def stop(self):
        self.stop_event.set()
        self.join(5)


# -- the bench ----------------------------------------------------------------
class Bench(object):
    def __init__(self, args):
        self.args = args
        self.n = args.hosts
        self.width = max(2, len(str(self.n)))
        self.stamp = now_stamp()
        self.results = os.path.join(args.results_dir, self.stamp)
        self.inventory = os.path.join(self.results, 'inventory.yml')
        self.key = os.path.join(os.path.expanduser(os.environ.get(
            'DIALYSIS_TESTHOST_CACHE', '~/.cache/dialysis-ops/testhosts')), 'id_ed25519')
        self.started_names = []
        self.control_dirs = []
        self.runs = []
        self.notes = []
        self.env = dict(os.environ)
        self.env['PATH'] = os.path.join(REPO, '.venv', 'bin') + os.pathsep + self.env.get('PATH', '')
        self.env['ANSIBLE_CONFIG'] = os.path.join(REPO, 'ansible.cfg')
        self.env['ANSIBLE_NOCOLOR'] = '1'
        self.env['ANSIBLE_FORCE_COLOR'] = '0'
        self.env['ANSIBLE_DEPRECATION_WARNINGS'] = 'False'
        self.env['ANSIBLE_RETRY_FILES_ENABLED'] = 'False'
        # Everything the runs write stays under bench/results/ (never reports/).
        self.env['DIALYSIS_RECORDS_DIR'] = os.path.join(self.results, 'records-misc')
        self.env['DIALYSIS_REPORTS_DIR'] = os.path.join(self.results, 'reports-misc')
        self.env.pop('ANSIBLE_CALLBACKS_ENABLED', None)
        self.subreaper = False
        self.cgroup_files = {}
        self.setup_phases = {}
        self.t0 = time.monotonic()

    def name(self, i):
        return 'bench-host-%0*d' % (self.width, i)

    def port(self, i):
        return self.args.base_port + i

    # -- preflight -----------------------------------------------------------
    def preflight(self):
        if os.geteuid() != 0:
            raise BenchError('run as root (rootful podman, like scripts/setup-testhosts.sh)')
        for tool in ('podman', 'ansible', 'ansible-playbook'):
            if not shutil.which(tool, path=self.env['PATH']):
                raise BenchError('%s not found (run `make setup` / `make setup-testhosts`)' % tool)
        if not os.path.exists(self.key):
            raise BenchError('test SSH key %s missing: run `bash scripts/setup-testhosts.sh`' % self.key)
        if subprocess.run(['podman', 'image', 'exists', IMAGE]).returncode != 0:
            raise BenchError('image %s missing: run `bash scripts/setup-testhosts.sh`' % IMAGE)
        if self.args.base_port < 1024 or self.port(self.n) > 65535:
            raise BenchError('--base-port %d with %d hosts gives ports outside 1024-65535'
                             % (self.args.base_port, self.n))
        if self.port(1) <= 2232 and self.port(self.n) >= 2231:
            raise BenchError('ports %d-%d clash with molecule (2231/2232); choose --base-port >= 2240'
                             % (self.port(1), self.port(self.n)))
        self.check_inotify()
        self.remove_stale()
        busy = []
        for i in range(1, self.n + 1):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # as podman's port forwarder does: connections of an earlier run in TIME_WAIT are fine
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(('127.0.0.1', self.port(i)))
            except OSError:
                busy.append(self.port(i))
            finally:
                sock.close()
        if busy:
            raise BenchError('ports already in use on 127.0.0.1: %s (choose another --base-port)'
                             % ', '.join(map(str, busy[:10])))

    def check_inotify(self):
        with open('/proc/sys/fs/inotify/max_user_instances') as handle:
            limit = int(handle.read())
        used = 0
        for pid in all_pids():
            try:
                if os.stat('/proc/%d' % pid).st_uid != 0:
                    continue
                for fd in os.listdir('/proc/%d/fd' % pid):
                    try:
                        if os.readlink('/proc/%d/fd/%s' % (pid, fd)) == 'anon_inode:inotify':
                            used += 1
                    except OSError:
                        pass
            except OSError:
                pass
        need = used + INOTIFY_PER_HOST * self.n + 16
        self.inotify = {'limit': limit, 'in_use': used, 'needed': need}
        line = ('fs.inotify.max_user_instances = %d (root has ~%d in use; %d hosts need ~%d more, '
                'every systemd container shares root\'s budget)' % (limit, used, self.n,
                                                                    INOTIFY_PER_HOST * self.n))
        if need > limit:
            raise BenchError(line + ': TOO LOW. Raise it: sysctl -w fs.inotify.max_user_instances=%d '
                             '(scripts/setup-testhosts.sh sets 1024), or use fewer --hosts.'
                             % max(1024, need))
        say('    %s: ok' % line)

    def podman_names(self):
        out = subprocess.run(['podman', 'ps', '-a', '--filter', 'label=%s=1' % LABEL_KEY,
                              '--format', '{{.Names}}'], capture_output=True, text=True).stdout
        return [n for n in out.split() if n.startswith('bench-host-')]

    def remove_stale(self):
        stale = self.podman_names()
        if stale:
            say('    removing %d bench hosts left by an earlier run' % len(stale))
            subprocess.run(['podman', 'rm', '-f', '-t', '0'] + stale, capture_output=True)

    # -- hosts ---------------------------------------------------------------
    def start_hosts(self):
        """podman run every host (4 at a time) and, as each one is up, wait for its
        systemd and write its app log (podman exec), so boots overlap with starts."""
        script = PREPARE_SCRIPT.replace('@SERVICES@', ' '.join(SERVICES)).replace('@APP_LOG@', APP_LOG)
        runs = threading.Semaphore(4)

        def start(i):
            name = self.name(i)
            self.started_names.append(name)
            cmd = ['podman', 'run', '-d', '--name', name, '--hostname', name,
                   '--label', '%s=1' % LABEL_KEY, '--systemd=always',
                   '--network', 'slirp4netns',
                   '--publish', '127.0.0.1:%d:22' % self.port(i),
                   IMAGE, '/sbin/init']
            with runs:
                proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise BenchError('podman run %s failed: %s' % (name, proc.stderr.strip()[-400:]))
            proc = subprocess.run(['podman', 'exec', name, '/bin/sh', '-c', script, 'prepare', name],
                                  capture_output=True, text=True, timeout=180)
            if proc.returncode != 0:
                raise BenchError('preparing %s failed: %s'
                                 % (name, (proc.stderr or proc.stdout).strip()[-400:]))
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            for future in [pool.submit(start, i) for i in range(1, self.n + 1)]:
                future.result()

    def find_cgroups(self):
        out = subprocess.run(['podman', 'inspect', '--format', '{{.Name}} {{.State.Pid}}']
                             + self.started_names, capture_output=True, text=True).stdout
        self.cgroup_files = {}
        for line in out.splitlines():
            name, pid = line.split()
            path = cgroup_cpu_file(int(pid))
            if path:
                self.cgroup_files[name] = path
        if len(self.cgroup_files) != len(self.started_names):
            self.notes.append('CPU of %d of %d hosts not found in cgroups: hosts_cpu_s incomplete'
                              % (len(self.started_names) - len(self.cgroup_files), len(self.started_names)))

    def hosts_cpu(self):
        """CPU seconds used so far inside all bench containers (their cgroups)."""
        if not self.cgroup_files:
            return None
        total = 0.0
        for path in self.cgroup_files.values():
            value = read_cgroup_cpu(path)
            if value is None:
                return None
            total += value
        return total

    def wait_for_banners(self, timeout=180):
        """sshd answers on every published port (cheap, before any ansible run)."""
        pending = set(range(1, self.n + 1))
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for i in sorted(pending):
                try:
                    with socket.create_connection(('127.0.0.1', self.port(i)), timeout=2) as sock:
                        sock.settimeout(3)
                        if sock.recv(64).startswith(b'SSH-'):
                            # Say who we are before closing: a client that leaves without an
                            # identification makes sshd log "kex_exchange_identification" at
                            # priority err, which the first inspection would report.
                            sock.sendall(b'SSH-2.0-dialysis-bench\r\n')
                            pending.discard(i)
                except OSError:
                    pass
            if pending:
                time.sleep(1)
        if pending:
            raise BenchError('sshd did not answer within %ds on: %s (check `podman logs %s`)'
                             % (timeout, ', '.join(self.name(i) for i in sorted(pending)[:10]),
                                self.name(min(pending))))

    def write_inventory(self):
        hosts = {}
        for system in SYSTEMS:
            hosts[system] = {'hosts': {}}
        for i in range(1, self.n + 1):
            system = SYSTEMS[(i - 1) % len(SYSTEMS)]
            hosts[system]['hosts'][self.name(i)] = {'ansible_port': self.port(i),
                                                   'dialysis_system': system}
        hosts['windows'] = {'hosts': {}}
        inventory = {'all': {'vars': {
            'ansible_connection': 'ssh',
            'ansible_host': '127.0.0.1',
            'ansible_user': 'root',
            'ansible_ssh_private_key_file': self.key,
            'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null '
                                       '-o IdentitiesOnly=yes -o LogLevel=ERROR',
            'inspection_services': SERVICES,
            'inspection_logs': [{'name': 'app', 'path': APP_LOG}],
            # The test hosts share the controller's two cores and its kernel (load
            # average, clock): CPU, load and clock sync say nothing about a host
            # here, so, as in molecule, their levels sit out of reach.
            'inspection_thresholds': {'cpu_percent': {'warning': 99.5, 'critical': 100},
                                      'load_per_core': {'warning': 50, 'critical': 100}},
            'inspection_clock_sync_required': False,
        }, 'children': hosts}}
        with open(self.inventory, 'w') as handle:
            handle.write('# Generated by bench/bench.py for %d bench hosts (127.0.0.1 only).\n' % self.n)
            json.dump(inventory, handle, indent=1)
            handle.write('\n')

    def wait_ping(self):
        """Every host answers an ansible ping over SSH (a few tries while sshd settles)."""
        for attempt in range(1, 6):
            res = self.run_ansible('setup-ping-%d' % attempt,
                                   ['ansible', 'all', '-i', self.inventory, '-m', 'ping'])
            if res['rc'] == 0:
                return
            say('    ping attempt %d: not every host answered yet (rc %d); retrying'
                % (attempt, res['rc']))
            time.sleep(3)
        raise BenchError('not every host answers an ansible ping; see %s' % res['log'])

    def remove_hosts(self):
        names = sorted(set(self.started_names) | set(self.podman_names()))
        if not names:
            return
        say('==> Removing %d bench hosts' % len(names))
        subprocess.run(['podman', 'rm', '-f', '-t', '0'] + names, capture_output=True)
        left = self.podman_names()
        if left:
            subprocess.run(['podman', 'rm', '-f', '-t', '0'] + left, capture_output=True)
            left = self.podman_names()
        if left:
            say('WARNING: bench hosts still present: %s' % ', '.join(left))
        self.started_names = []

    # -- running ansible -----------------------------------------------------
    def our_masters(self, control_dir):
        """SSH ControlPersist masters of a run: orphaned, so (as subreaper) our children."""
        me = os.getpid()
        out = []
        for pid in all_pids():
            st = proc_stat(pid)
            if st and st[1] == me and st[0] == 'ssh' and control_dir in cmdline(pid):
                out.append(pid)
        return out

    def run_ansible(self, label, argv, env_extra=None, log_name=None):
        """Run one ansible command; wall clock, controller CPU, memory."""
        control_dir = tempfile.mkdtemp(prefix='dbench-cp-')
        self.control_dirs.append(control_dir)
        env = dict(self.env)
        env['ANSIBLE_SSH_CONTROL_PATH_DIR'] = control_dir
        env.update(env_extra or {})
        log = os.path.join(self.results, 'logs', '%s.log' % (log_name or label))
        foreign = foreign_ansible(os.getpid())
        hosts0 = self.hosts_cpu()
        plumb0 = plumbing_ticks()
        self0 = resource.getrusage(resource.RUSAGE_SELF)
        busy0, steal0 = machine_cpu()
        with open(log, 'w') as out:
            out.write('# %s\n# %s\n' % (label, ' '.join(argv)))
            out.flush()
            t0 = time.monotonic()
            proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)
            sampler = MemorySampler(proc.pid, lambda: self.our_masters(control_dir), interval=2.0)
            sampler.start()
            try:
                _, status, usage = os.wait4(proc.pid, 0)
            except BaseException:
                proc.kill()
                proc.wait()
                raise
            finally:
                sampler.stop()
            wall = time.monotonic() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        busy1, steal1 = machine_cpu()
        hosts1 = self.hosts_cpu()
        plumb1 = plumbing_ticks()
        self1 = resource.getrusage(resource.RUSAGE_SELF)
        # SSH masters left behind (ControlPersist): stop them, reap them, count their CPU.
        master_cpu, masters = 0.0, self.our_masters(control_dir)
        for pid in masters:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        for pid in masters:
            try:
                _, _, mu = os.wait4(pid, 0)
                master_cpu += mu.ru_utime + mu.ru_stime
            except ChildProcessError:
                pass
        shutil.rmtree(control_dir, ignore_errors=True)
        tree_cpu = usage.ru_utime + usage.ru_stime
        machine = busy1 - busy0
        hosts = hosts1 - hosts0 if hosts0 is not None and hosts1 is not None else None
        plumbing = (plumb1 - plumb0) / float(CLK_TCK)
        own = (self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime)
        other = machine - tree_cpu - master_cpu - (hosts or 0.0) - plumbing - own
        return {'label': label, 'rc': proc.returncode, 'wall_s': round(wall, 3),
                'controller_cpu_s': round(tree_cpu + master_cpu, 3),
                'ansible_tree_cpu_s': round(tree_cpu, 3), 'ssh_master_cpu_s': round(master_cpu, 3),
                'ssh_masters': len(masters),
                'machine_busy_cpu_s': round(machine, 2),
                'hosts_cpu_s': round(hosts, 2) if hosts is not None else None,
                'plumbing_cpu_s': round(plumbing, 2), 'bench_self_cpu_s': round(own, 2),
                'other_cpu_s': round(other, 2), 'steal_s': round(steal1 - steal0, 2),
                'maxrss_largest_process_mb': round(usage.ru_maxrss / 1024.0, 1),
                'peak_tree_rss_mb': round(sampler.peak_rss_kb / 1024.0, 1),
                'peak_tree_pss_mb': round(sampler.peak_pss_kb / 1024.0, 1),
                'peak_processes': sampler.peak_procs,
                'foreign_ansible_processes': len(foreign), 'foreign_examples': foreign[:3],
                'log': log}

    # -- cases ---------------------------------------------------------------
    def case_argv(self, case, rnd):
        inv = ['-i', self.inventory]
        extra = []
        for item in self.args.inspect_vars:
            extra += ['-e', item]
        if case == 'A':
            return ['ansible', 'all'] + inv + ['-m', 'ping'], {}
        if case == 'M':
            return ['ansible', 'all'] + inv + ['-m', 'dialysis.ops.host_inspection',
                                               '-a', json.dumps(MODULE_ARGS)] + extra, {}
        records = os.path.join(self.results, 'records-%s-%d' % (case, rnd))
        env = {'DIALYSIS_RECORDS_DIR': records,
               'DIALYSIS_REPORTS_DIR': os.path.join(self.results, 'reports-%s-%d' % (case, rnd))}
        if case in 'BC':
            argv = ['ansible-playbook'] + inv + [os.path.join(REPO, 'playbooks', 'inspect.yml')] \
                + self.inspect_report_off + extra
            if case == 'C':
                # An empty ANSIBLE_CALLBACKS_ENABLED crashes ansible-core 2.19 ("A non-empty
                # plugin name is required"); naming only the stdout callback enables nothing.
                env['ANSIBLE_CALLBACKS_ENABLED'] = 'ansible.builtin.default'
            return argv, env
        return ['ansible-playbook'] + inv + [os.path.join(BENCH_DIR, 'naive_inspect.yml')], env

    def record_files(self, directory):
        if not os.path.isdir(directory):
            return []
        return sorted(os.path.join(directory, n) for n in os.listdir(directory)
                      if n.endswith('.jsonl') and n != 'index.jsonl')

    def run_case(self, case, rnd):
        argv, env = self.case_argv(case, rnd)
        res = self.run_ansible('%s round %d' % (case, rnd), argv, env, log_name='%d-%s' % (rnd, case))
        res.update(case=case, round=rnd)
        if case in 'BCD':
            files = self.record_files(env['DIALYSIS_RECORDS_DIR'])
            res['record_files'] = len(files)
            if case == 'C' and (files or os.path.exists(env['DIALYSIS_RECORDS_DIR'])):
                raise BenchError('case C: the records callback was NOT disabled (%s written)'
                                 % env['DIALYSIS_RECORDS_DIR'])
            if case in 'BD':
                if len(files) != 1:
                    raise BenchError('case %s: expected one record file in %s, found %d'
                                     % (case, env['DIALYSIS_RECORDS_DIR'], len(files)))
                last = self.last_line(files[0])
                if last.get('type') != 'run_end':
                    raise BenchError('case %s: %s has no run_end line' % (case, files[0]))
                res['callback_seconds'] = last.get('callback_seconds')
                res['callback_run_duration_s'] = last.get('duration')
                res['record_file'] = files[0]
                res['record_file_bytes'] = os.path.getsize(files[0])
                if case == 'B':
                    res['hosts_with_anomalies'] = self.anomalous_hosts(files[0])
        self.runs.append(res)
        flag = '' if res['rc'] == 0 else '  rc=%d FAILED (see %s)' % (res['rc'], res['log'])
        extra = ''
        if res.get('callback_seconds') is not None and case == 'B':
            extra = '  callback %.3f s' % res['callback_seconds']
        if res['foreign_ansible_processes']:
            extra += '  [other ansible/molecule running on the machine]'
        say('    %s %-36s wall %6.1f s  CPU s: controller %5.1f, hosts %5.1f, other %5.1f  '
            'tree PSS %5.0f MB%s%s' % (case, CASES[case], res['wall_s'], res['controller_cpu_s'],
                                       res['hosts_cpu_s'] or 0.0, res['other_cpu_s'],
                                       res['peak_tree_pss_mb'], extra, flag))
        return res

    @staticmethod
    def last_line(path):
        last = None
        with open(path, 'rb') as handle:
            for raw in handle:
                if raw.strip():
                    last = raw
        return json.loads(last.decode('utf-8')) if last else {}

    @staticmethod
    def anomalous_hosts(path):
        hosts = set()
        with open(path, 'rb') as handle:
            for raw in handle:
                line = json.loads(raw.decode('utf-8'))
                rec = line.get('record')
                if line.get('type') == 'result' and isinstance(rec, dict) and rec.get('anomalies'):
                    hosts.add(line.get('host'))
        return len(hosts)

    # -- report ----------------------------------------------------------------
    def report_phase(self):
        summary = {'present': False}
        playbook = os.path.join(REPO, 'playbooks', 'report.yml')
        template = next((r.get('record_file') for r in self.runs
                         if r['case'] == 'B' and r['rc'] == 0 and r.get('record_file')), None)
        if template is None:
            say('    no successful inspection run to take a real record from: report step skipped')
            summary['skipped'] = 'no template record'
            return summary
        store = os.path.join(self.results, 'synth-store')
        inventory = os.path.join(self.results, 'synth-inventory.yml')
        sys.path.insert(0, BENCH_DIR)
        import synth_records
        t0 = time.monotonic()
        counts = synth_records.generate(template, store, hosts=self.args.synth_hosts,
                                        quarter='2026-Q4', inventory=inventory)
        summary['synth'] = dict(counts, seconds=round(time.monotonic() - t0, 2), store=store,
                                template=template)
        say('    synthetic quarter: %(runs)d runs, %(records)d records (%(anomalous_records)d with '
            'anomalies, %(unreachable)d unreachable), %(hosts)d hosts, %(bytes)d bytes, '
            'from a real record of %(template_host)s' % counts)
        if not os.path.exists(playbook):
            say('    report playbook not present yet (playbooks/report.yml): report timing skipped')
            summary['skipped'] = 'report playbook not present yet'
            return summary
        summary['present'] = True
        summary['runs'] = []
        for number in range(1, self.args.report_runs + 1):
            out_dir = os.path.join(self.results, 'report-out-%d' % number)
            argv = ['ansible-playbook', '-i', inventory, playbook,
                    '-e', 'report_period=quarter', '-e', 'report_quarter=2026-Q4',
                    '-e', 'report_records_dir=%s' % store, '-e', 'report_output_dir=%s' % out_dir,
                    # What a real inventory sets in group_vars/all (contract clause R13).
                    '-e', json.dumps({'dialysis_project_lead': 'Bench Lead (基准测试)',
                                      'dialysis_hospital': 'Bench Hospital (基准医院)'})]
            env = {'DIALYSIS_RECORDS_DIR': os.path.join(self.results, 'records-report-%d' % number),
                   'DIALYSIS_REPORTS_DIR': out_dir}
            res = self.run_ansible('report %d' % number, argv, env, log_name='report-%d' % number)
            documents = []
            for root, _, names in os.walk(out_dir):
                documents += [os.path.relpath(os.path.join(root, n), out_dir) for n in names
                              if not n.startswith('.')]
            res['documents'] = sorted(documents)
            summary['runs'].append(res)
            flag = '' if res['rc'] == 0 else '  rc=%d FAILED (see %s)' % (res['rc'], res['log'])
            say('    R quarterly report 2026-Q4 (%d hosts x %d days)  wall %6.1f s  controller CPU %6.1f s  '
                'largest process %4.0f MB  tree peak PSS %4.0f MB  %d documents%s'
                % (counts['hosts'], counts['runs'], res['wall_s'], res['controller_cpu_s'],
                   res['maxrss_largest_process_mb'], res['peak_tree_pss_mb'], len(documents), flag))
        return summary

    # -- summary ---------------------------------------------------------------
    def stats(self, case, key):
        values = [r[key] for r in self.runs if r['case'] == case and r.get(key) is not None]
        if not values:
            return None
        return {'median': round(statistics.median(values), 3), 'min': round(min(values), 3),
                'max': round(max(values), 3), 'values': values}

    def paired(self, num, den, key):
        """Median over rounds of (num - den) / den, pairing the runs of one round."""
        ratios = []
        for rnd in range(1, self.args.rounds + 1):
            a = [r[key] for r in self.runs if r['case'] == num and r['round'] == rnd]
            b = [r[key] for r in self.runs if r['case'] == den and r['round'] == rnd]
            if a and b and b[0]:
                ratios.append((a[0] - b[0]) / b[0])
        return round(statistics.median(ratios), 4) if ratios else None

    def summarize(self, report):
        cases = {}
        for case in self.args.cases:
            cases[case] = {'what': CASES[case]}
            for key in ('wall_s', 'controller_cpu_s', 'ansible_tree_cpu_s', 'ssh_master_cpu_s',
                        'machine_busy_cpu_s', 'hosts_cpu_s', 'plumbing_cpu_s', 'other_cpu_s',
                        'steal_s', 'maxrss_largest_process_mb', 'peak_tree_rss_mb',
                        'peak_tree_pss_mb', 'callback_seconds', 'hosts_with_anomalies'):
                value = self.stats(case, key)
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
            ratio('callback_overhead_wall', self.paired('B', 'C', 'wall_s'))
            ratio('callback_overhead_cpu', self.paired('B', 'C', 'controller_cpu_s'))
            shares = [r['callback_seconds'] / r['wall_s'] for r in self.runs
                      if r['case'] == 'B' and r.get('callback_seconds') is not None]
            if shares:
                ratio('callback_seconds_share', round(statistics.median(shares), 4))
        if report.get('runs'):
            walls = [r['wall_s'] for r in report['runs'] if r['rc'] == 0]
            if walls:
                ratio('report_seconds', round(statistics.median(walls), 2))
        return cases, ratios

    def print_summary(self, cases, ratios, report):
        say()
        say('==> Results: %d hosts, %d rounds (medians; min-max over rounds)' % (self.n, self.args.rounds))
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
        labels = [
            ('inspect_over_ping', 'inspect / ping (wall)', 'x'),
            ('naive_over_inspect', 'naive / inspect (wall)', 'x'),
            ('callback_overhead_wall', 'records callback overhead, B vs C wall', '%'),
            ('callback_overhead_cpu', 'records callback overhead, B vs C controller CPU', '%'),
            ('callback_seconds_share', 'callback_seconds / B wall', '%'),
            ('report_seconds', 'quarterly report generation', 's'),
            ('inspect_over_ping_controller_cpu', 'inspect / ping (controller CPU), info', 'x'),
            ('naive_over_inspect_controller_cpu', 'naive / inspect (controller CPU), info', 'x'),
            ('module_over_ping', 'host_inspection alone / ping (wall), info', 'x'),
        ]
        def fmt(key, unit, v):
            if unit == '%':
                return '%.2f %%' % (v * 100) if key == 'callback_seconds_share' else '%+.1f %%' % (v * 100)
            if unit == 's':
                return '%.1f s' % v
            return '%.2f' % v

        for key, text, unit in labels:
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
                say('    %-50s %-10s %-14s %s' % (text, fmt(key, unit, entry['value']), target,
                                               entry['verdict']))
            else:
                say('    %-50s %-10s' % (text, fmt(key, unit, entry['value'])))

    # -- main ------------------------------------------------------------------
    def run(self):
        os.makedirs(os.path.join(self.results, 'logs'))
        self.revision = git_revision()
        say('==> dialysis-ops bench at %s: %d hosts, %d rounds, cases %s; results in %s'
            % (self.revision, self.n, self.args.rounds, ''.join(self.args.cases),
               os.path.relpath(self.results, REPO)))
        say('==> Preflight')
        self.preflight()
        with open(os.path.join(REPO, 'playbooks', 'inspect.yml')) as handle:
            # inspect.yml may end with a play writing the month's documents; it is timed
            # on its own (report step), so the inspection runs here leave it out.
            mentions = 'inspect_report' in handle.read()
        self.inspect_report_off = ['-e', 'inspect_report=false'] if mentions else []
        status = 1
        report = {}
        try:
            say('==> Starting %d hosts from %s (ports %d-%d on 127.0.0.1)'
                % (self.n, IMAGE, self.port(1), self.port(self.n)))
            t = time.monotonic()
            phases = self.setup_phases
            self.start_hosts()
            self.find_cgroups()
            phases['podman_run_systemd_up_app_log_s'] = round(time.monotonic() - t, 1)
            t1 = time.monotonic()
            self.wait_for_banners()
            # From here on orphaned SSH masters are re-parented to us, so their CPU is counted.
            libc = ctypes.CDLL(None, use_errno=True)
            self.subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
            if not self.subreaper:
                self.notes.append('PR_SET_CHILD_SUBREAPER failed: SSH master CPU not counted')
            self.write_inventory()
            self.wait_ping()
            phases['ssh_and_ansible_ping_s'] = round(time.monotonic() - t1, 1)
            self.setup_seconds = round(time.monotonic() - t, 1)
            say('    %d hosts up in %.0f s (podman run + systemd up + app log %.0f s, '
                'SSH + ansible ping %.0f s)' % (self.n, self.setup_seconds,
                                                phases['podman_run_systemd_up_app_log_s'],
                                                phases['ssh_and_ansible_ping_s']))
            for rnd in range(1, self.args.rounds + 1):
                say('==> Round %d/%d' % (rnd, self.args.rounds))
                for case in self.args.cases:
                    self.run_case(case, rnd)
                if rnd == 1 and self.args.rounds > 1:
                    spent = time.monotonic() - self.t0
                    per_round = sum(r['wall_s'] for r in self.runs if r['round'] == 1) + 5
                    say('    (elapsed %.0f s; at this pace the rounds end at ~%.0f s)'
                        % (spent, spent + per_round * (self.args.rounds - 1)))
            self.remove_hosts()
            if not self.args.skip_report:
                say('==> Quarterly report on a synthetic quarter')
                report = self.report_phase()
            failed = [r for r in self.runs if r['rc'] != 0] + \
                [r for r in report.get('runs', []) if r['rc'] != 0]
            status = 1 if failed else 0
        finally:
            old = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                self.stop_masters()
                self.remove_hosts()
                for directory in self.control_dirs:
                    shutil.rmtree(directory, ignore_errors=True)
                self.reap()
            finally:
                signal.signal(signal.SIGINT, old)
        cases, ratios = self.summarize(report)
        self.print_summary(cases, ratios, report)
        total = time.monotonic() - self.t0
        doc = {'stamp': self.stamp, 'date': datetime.datetime.now().astimezone().isoformat(),
               'revision': self.revision, 'revision_at_end': git_revision(),
               'hosts': self.n, 'rounds': self.args.rounds, 'cases': cases, 'ratios': ratios,
               'report': report, 'runs': self.runs, 'total_seconds': round(total, 1),
               'setup_seconds': getattr(self, 'setup_seconds', None), 'setup_phases': self.setup_phases,
               'machine': machine_info(), 'inotify': getattr(self, 'inotify', None),
               'inspect_extra_vars': self.inspect_report_off
               + sum((['-e', v] for v in self.args.inspect_vars), []),
               'notes': self.notes}
        if doc['revision_at_end'] != self.revision:
            say('NOTE: the checkout changed during the run (%s -> %s): the rounds may have measured '
                'different code' % (self.revision, doc['revision_at_end']))
        path = os.path.join(self.results, 'bench.json')
        with open(path, 'w') as handle:
            json.dump(doc, handle, indent=1, ensure_ascii=False)
        shutil.copyfile(path, os.path.join(self.args.results_dir, 'latest.json'))
        say()
        say('==> Total %.0f s (%.1f min); figures in %s (and bench/results/latest.json)'
            % (total, total / 60, os.path.relpath(path, REPO)))
        if status:
            say('ERROR: some runs failed (rc != 0); see the logs in %s'
                % os.path.relpath(os.path.join(self.results, 'logs'), REPO))
        return status

    def stop_masters(self):
        """SSH masters of an interrupted run (our children, by pid)."""
        for directory in self.control_dirs:
            for pid in self.our_masters(directory):
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass

    def reap(self):
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return


def machine_info():
    info = {'nproc': os.cpu_count(), 'kernel': platform.release(), 'python': platform.python_version()}
    try:
        with open('/proc/meminfo') as handle:
            info['mem_total_gib'] = round(int(handle.readline().split()[1]) / 1048576.0, 1)
    except OSError:
        pass
    for key, cmd in (('podman', ['podman', '--version']), ('ansible_core', ['ansible', '--version'])):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=30).stdout
            info[key] = out.splitlines()[0].strip() if out else None
        except (OSError, subprocess.SubprocessError):
            info[key] = None
    try:
        with open('/etc/debian_version') as handle:
            info['debian'] = handle.read().strip()
    except OSError:
        pass
    return info


def git_revision():
    """HEAD of the checkout (read only), '-dirty' if tracked files differ."""
    try:
        rev = subprocess.run(['git', '-C', REPO, 'rev-parse', '--short', 'HEAD'], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(['git', '-C', REPO, 'status', '--porcelain', '--untracked-files=no'],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (rev + ('-dirty' if dirty else '')) or None
    except (OSError, subprocess.SubprocessError):
        return None


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv=None):
    parser = argparse.ArgumentParser(description='dialysis-ops benchmark (see bench/README.md)')
    parser.add_argument('--hosts', type=int, default=int(os.environ.get('BENCH_HOSTS') or 50))
    parser.add_argument('--rounds', type=int, default=int(os.environ.get('BENCH_ROUNDS') or 3))
    parser.add_argument('--base-port', type=int, default=int(os.environ.get('BENCH_BASE_PORT') or 2300),
                        help='host i gets SSH on 127.0.0.1:BASE+i (default 2300)')
    parser.add_argument('--report-runs', type=int, default=int(os.environ.get('BENCH_REPORT_RUNS') or 1),
                        help='timed runs of playbooks/report.yml (default 1)')
    parser.add_argument('--synth-hosts', type=int, default=50, help='hosts in the synthetic quarter')
    parser.add_argument('--cases', default='ABCD', help='subset of ABCD, in round order')
    parser.add_argument('--inspect-var', dest='inspect_vars', action='append', default=[],
                        help='extra -e for the B and C runs (e.g. inspection_cpu_sample_seconds=0.2)')
    parser.add_argument('--skip-report', action='store_true')
    parser.add_argument('--results-dir', default=os.path.join(BENCH_DIR, 'results'))
    args = parser.parse_args(argv)
    args.cases = [c for c in args.cases.upper() if c in CASES]
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
