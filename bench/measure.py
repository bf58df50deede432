"""How the bench measures: one ansible command timed (wall clock, controller CPU
of its process tree and of the SSH ControlPersist masters it leaves, CPU of the
hosts, the container plumbing and everything else, memory), the interleaved
rounds, and medians / min-max / paired ratios over them. See bench/README.md,
"How the figures are taken"."""

import ctypes
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import tempfile
import threading
import time

from common import REPO, say

CLK_TCK = os.sysconf('SC_CLK_TCK')
PR_SET_CHILD_SUBREAPER = 36
PLUMBING = ('slirp4netns', 'rootlessport', 'conmon')


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


class HostsCpu(object):
    """CPU used inside the bench containers: their cgroups' usage counters."""

    def __init__(self, notes):
        self.notes = notes
        self.files = {}

    def find(self, names):
        out = subprocess.run(['podman', 'inspect', '--format', '{{.Name}} {{.State.Pid}}']
                             + list(names), capture_output=True, text=True).stdout
        self.files = {}
        for line in out.splitlines():
            name, pid = line.split()
            path = cgroup_cpu_file(int(pid))
            if path:
                self.files[name] = path
        if len(self.files) != len(names):
            self.notes.append('CPU of %d of %d hosts not found in cgroups: hosts_cpu_s incomplete'
                              % (len(names) - len(self.files), len(names)))

    def total(self):
        """CPU seconds used so far inside all bench containers (their cgroups)."""
        if not self.files:
            return None
        total = 0.0
        for path in self.files.values():
            value = read_cgroup_cpu(path)
            if value is None:
                return None
            total += value
        return total


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


class Runner(object):
    """Runs one ansible command at a time and measures it.

    `env` is the environment of every run, `logs_dir` where each run's output
    goes, `hosts_cpu` a callable giving the bench hosts' CPU seconds so far."""

    def __init__(self, env, logs_dir, hosts_cpu, notes):
        self.env = env
        self.logs_dir = logs_dir
        self.hosts_cpu = hosts_cpu
        self.notes = notes
        self.control_dirs = []
        self.subreaper = False

    def become_subreaper(self):
        """From here on orphaned SSH masters are re-parented to us, so their CPU is counted."""
        libc = ctypes.CDLL(None, use_errno=True)
        self.subreaper = libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
        if not self.subreaper:
            self.notes.append('PR_SET_CHILD_SUBREAPER failed: SSH master CPU not counted')

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
        log = os.path.join(self.logs_dir, '%s.log' % (log_name or label))
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

    def stop_masters(self):
        """SSH masters of an interrupted run (our children, by pid)."""
        for directory in self.control_dirs:
            for pid in self.our_masters(directory):
                try:
                    os.kill(pid, signal.SIGTERM)
                except OSError:
                    pass

    def remove_control_dirs(self):
        for directory in self.control_dirs:
            shutil.rmtree(directory, ignore_errors=True)

    @staticmethod
    def reap():
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return


# -- rounds and their statistics ------------------------------------------------
def run_rounds(rounds, cases, run_case, runs, t0):
    """The cases interleaved and repeated: A B C D, A B C D, ... (`run_case(case, rnd)`
    appends each run to `runs`); after round 1, the expected end."""
    for rnd in range(1, rounds + 1):
        say('==> Round %d/%d' % (rnd, rounds))
        for case in cases:
            run_case(case, rnd)
        if rnd == 1 and rounds > 1:
            spent = time.monotonic() - t0
            per_round = sum(r['wall_s'] for r in runs if r['round'] == 1) + 5
            say('    (elapsed %.0f s; at this pace the rounds end at ~%.0f s)'
                % (spent, spent + per_round * (rounds - 1)))


def stats(runs, case, key):
    """Median, min, max and the values of one figure over the rounds of a case."""
    values = [r[key] for r in runs if r['case'] == case and r.get(key) is not None]
    if not values:
        return None
    return {'median': round(statistics.median(values), 3), 'min': round(min(values), 3),
            'max': round(max(values), 3), 'values': values}


def paired(runs, rounds, num, den, key):
    """Median over rounds of (num - den) / den, pairing the runs of one round."""
    ratios = []
    for rnd in range(1, rounds + 1):
        a = [r[key] for r in runs if r['case'] == num and r['round'] == rnd]
        b = [r[key] for r in runs if r['case'] == den and r['round'] == rnd]
        if a and b and b[0]:
            ratios.append((a[0] - b[0]) / b[0])
    return round(statistics.median(ratios), 4) if ratios else None


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
