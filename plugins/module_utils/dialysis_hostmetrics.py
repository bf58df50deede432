# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host metrics for the inspection module: psutil when the target has it,
``/proc`` otherwise. Both collectors return the same shapes, so a record does
not depend on which one ran (the record says which, in ``metrics.collector``).
"""

from __future__ import absolute_import, division, print_function

import os
import stat as statmod
import time

__metaclass__ = type

try:
    import psutil  # noqa: F401  (optional on targets)
    HAS_PSUTIL = True
except ImportError:  # pragma: no cover - depends on the target
    psutil = None
    HAS_PSUTIL = False

# Filesystems that hold no data of their own (kernel interfaces, memory, ...).
PSEUDO_FSTYPES = frozenset([
    'autofs', 'binfmt_misc', 'bpf', 'cgroup', 'cgroup2', 'configfs', 'debugfs',
    'devpts', 'devtmpfs', 'efivarfs', 'fusectl', 'fuse.gvfsd-fuse', 'fuse.lxcfs',
    'fuse.portal', 'hugetlbfs', 'mqueue', 'nsfs', 'proc', 'pstore', 'ramfs',
    'rpc_pipefs', 'securityfs', 'selinuxfs', 'squashfs', 'sysfs', 'tmpfs', 'tracefs',
    'iso9660', 'nfsd', 'overlay_tmpfs', 'none',
])

PROC = '/proc'


def _decode_mount_field(field):
    """/proc/mounts escapes space, tab, newline and backslash as octal."""
    if '\\' not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == '\\' and i + 4 <= len(field) and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return ''.join(out)


def read_mounts(proc=PROC):
    """(device, mountpoint, fstype) for every line of the mount table."""
    mounts = []
    with open(os.path.join(proc, 'self', 'mounts')) as handle:
        for line in handle:
            parts = line.split()
            if len(parts) < 3:
                continue
            mounts.append((_decode_mount_field(parts[0]), _decode_mount_field(parts[1]), parts[2]))
    return mounts


def select_filesystems(mounts, skip_fstypes=PSEUDO_FSTYPES, skip_mounts=(), stat=os.stat):
    """Keep real filesystems: not pseudo, a directory mount point (container
    runtimes bind single files such as /etc/hosts), each device once (the
    shortest mount point wins, so bind mounts are not counted twice)."""
    chosen = {}
    for device, mountpoint, fstype in mounts:
        if fstype in skip_fstypes:
            continue
        if any(mountpoint == m or mountpoint.startswith(m.rstrip('/') + '/') for m in skip_mounts):
            continue
        try:
            st = stat(mountpoint)
        except OSError:
            continue
        if not _isdir(st):
            continue
        key = st.st_dev
        current = chosen.get(key)
        if current is None or len(mountpoint) < len(current[1]):
            chosen[key] = (device, mountpoint, fstype)
    return sorted(chosen.values(), key=lambda m: m[1])


def _isdir(st):
    return statmod.S_ISDIR(st.st_mode)


def fs_usage(mountpoint):
    """Space and inode use of a mount point, computed the way df does."""
    vfs = os.statvfs(mountpoint)
    total = vfs.f_blocks * vfs.f_frsize
    used = (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize
    avail = vfs.f_bavail * vfs.f_frsize
    percent = round(100.0 * used / (used + avail), 1) if (used + avail) else 0.0
    inodes_total = vfs.f_files
    inodes_used = vfs.f_files - vfs.f_ffree
    if inodes_total:
        inode_percent = round(100.0 * inodes_used / inodes_total, 1)
    else:  # filesystems without a fixed inode table (btrfs, some network fs)
        inode_percent = None
    return {
        'total_bytes': total, 'used_bytes': used, 'free_bytes': avail, 'percent': percent,
        'inodes_total': inodes_total, 'inodes_used': inodes_used, 'inode_percent': inode_percent,
    }


class ProcCollector(object):
    """Reads /proc directly: works on any Linux target with only Python."""

    name = 'proc'

    def __init__(self, proc=PROC):
        self.proc = proc
        self.clk_tck = os.sysconf('SC_CLK_TCK') if hasattr(os, 'sysconf') else 100
        self.page_size = os.sysconf('SC_PAGE_SIZE') if hasattr(os, 'sysconf') else 4096

    def _read(self, *parts):
        with open(os.path.join(self.proc, *parts)) as handle:
            return handle.read()

    def cpu_times(self):
        """(busy, total) jiffies summed over all CPUs; iowait counts as idle."""
        fields = self._read('stat').splitlines()[0].split()[1:]
        values = [int(v) for v in fields[:8]] + [0] * (8 - len(fields[:8]))
        total = sum(values)
        idle = values[3] + values[4]
        return total - idle, total

    def cpu_count(self):
        count = 0
        for line in self._read('stat').splitlines():
            if line.startswith('cpu') and line[3:4].isdigit():
                count += 1
        return count or 1

    def process_times(self):
        """{pid: (name, user, cpu_seconds, rss_bytes)} for every process."""
        result = {}
        for entry in os.listdir(self.proc):
            if not entry.isdigit():
                continue
            try:
                raw = self._read(entry, 'stat')
                st = os.stat(os.path.join(self.proc, entry))
            except (IOError, OSError):
                continue  # the process ended while we looked
            lpar, rpar = raw.find('('), raw.rfind(')')
            name = raw[lpar + 1:rpar]
            rest = raw[rpar + 2:].split()
            # rest[0] is field 3 (state); utime/stime are fields 14/15, rss is 24.
            try:
                cpu = (int(rest[11]) + int(rest[12])) / float(self.clk_tck)
                rss = int(rest[21]) * self.page_size
            except (IndexError, ValueError):
                continue
            result[int(entry)] = (name, _username(st.st_uid), cpu, rss)
        return result

    def memory(self):
        info = {}
        for line in self._read('meminfo').splitlines():
            key, dummy_sep, value = line.partition(':')
            parts = value.split()
            if parts:
                info[key] = int(parts[0]) * 1024
        total = info.get('MemTotal', 0)
        available = info.get('MemAvailable')
        if available is None:  # kernels before 3.14
            available = info.get('MemFree', 0) + info.get('Buffers', 0) + info.get('Cached', 0)
        swap_total = info.get('SwapTotal', 0)
        swap_used = swap_total - info.get('SwapFree', 0)
        return _memory_shape(total, available, swap_total, swap_used)

    def boot_time(self):
        uptime = float(self._read('uptime').split()[0])
        return time.time() - uptime

    def filesystems(self, skip_fstypes, skip_mounts):
        return select_filesystems(read_mounts(self.proc), skip_fstypes, skip_mounts)


class PsutilCollector(ProcCollector):
    """The same figures through psutil (more robust across kernels)."""

    name = 'psutil'

    def cpu_times(self):
        times = psutil.cpu_times()
        total = sum(times)
        # psutil includes guest time in user already; do not double count.
        total -= getattr(times, 'guest', 0) + getattr(times, 'guest_nice', 0)
        idle = times.idle + getattr(times, 'iowait', 0)
        return total - idle, total

    def cpu_count(self):
        return psutil.cpu_count() or 1

    def process_times(self):
        result = {}
        for proc in psutil.process_iter():
            try:
                with proc.oneshot():
                    times = proc.cpu_times()
                    result[proc.pid] = (proc.name(), proc.username(),
                                        times.user + times.system, proc.memory_info().rss)
            except (psutil.Error, OSError):
                continue
        return result

    def memory(self):
        vm = psutil.virtual_memory()
        sw = psutil.swap_memory()
        return _memory_shape(vm.total, vm.available, sw.total, sw.used)

    def boot_time(self):
        return psutil.boot_time()

    def filesystems(self, skip_fstypes, skip_mounts):
        mounts = [(p.device, p.mountpoint, p.fstype) for p in psutil.disk_partitions(all=True)]
        return select_filesystems(mounts, skip_fstypes, skip_mounts)


def _memory_shape(total, available, swap_total, swap_used):
    used = total - available
    return {
        'total_bytes': total,
        'available_bytes': available,
        'used_bytes': used,
        'percent': round(100.0 * used / total, 1) if total else 0.0,
        'swap_total_bytes': swap_total,
        'swap_used_bytes': swap_used,
        'swap_percent': round(100.0 * swap_used / swap_total, 1) if swap_total else 0.0,
    }


_USERS = {}


def _username(uid):
    if uid not in _USERS:
        try:
            import pwd
            _USERS[uid] = pwd.getpwuid(uid).pw_name
        except (KeyError, ImportError):
            _USERS[uid] = str(uid)
    return _USERS[uid]


def get_collector(choice='auto'):
    """The collector for ``choice`` (auto, psutil or proc)."""
    if choice == 'psutil' or (choice == 'auto' and HAS_PSUTIL):
        if not HAS_PSUTIL:
            raise RuntimeError('collector=psutil was requested but psutil is not installed '
                               'on the target; use collector=auto or proc')
        return PsutilCollector()
    return ProcCollector()


def sample_cpu_and_processes(collector, seconds, top_n):
    """CPU use and top processes measured over one shared sampling window."""
    busy0, total0 = collector.cpu_times()
    procs0 = collector.process_times()
    start = time.time()
    time.sleep(max(0.05, seconds))
    busy1, total1 = collector.cpu_times()
    procs1 = collector.process_times()
    elapsed = max(time.time() - start, 1e-3)
    dtotal = total1 - total0
    cpu_percent = round(100.0 * (busy1 - busy0) / dtotal, 1) if dtotal > 0 else 0.0
    cpu_percent = min(max(cpu_percent, 0.0), 100.0)
    processes = []
    for pid, (name, user, cpu, rss) in procs1.items():
        before = procs0.get(pid)
        used = cpu - before[2] if before and before[0] == name else 0.0
        processes.append({
            'pid': pid, 'name': name, 'user': user,
            'cpu_percent': round(max(used, 0.0) / elapsed * 100.0, 1),
            'rss_bytes': rss,
        })
    top_cpu = sorted(processes, key=lambda p: (-p['cpu_percent'], -p['rss_bytes'], p['pid']))[:top_n]
    top_mem = sorted(processes, key=lambda p: (-p['rss_bytes'], p['pid']))[:top_n]
    return cpu_percent, top_cpu, top_mem, len(processes)
