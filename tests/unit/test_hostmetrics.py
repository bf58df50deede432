import os
from collections import namedtuple

import pytest

from ansible_collections.dialysis.ops.plugins.module_utils import dialysis_hostmetrics as hm

psutil = pytest.importorskip('psutil')

MEMINFO = """MemTotal:        8000000 kB
MemFree:          500000 kB
MemAvailable:    2000000 kB
Buffers:          100000 kB
Cached:          1000000 kB
SwapTotal:       1000000 kB
SwapFree:         750000 kB
"""


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write(text)


@pytest.fixture
def fake_proc(tmp_path):
    root = tmp_path / 'proc'
    write(str(root / 'stat'), 'cpu  100 0 100 700 100 0 0 0 0 0\ncpu0 50 0 50 350 50 0 0 0 0 0\n'
          'cpu1 50 0 50 350 50 0 0 0 0 0\nintr 1\n')
    write(str(root / 'meminfo'), MEMINFO)
    write(str(root / 'uptime'), '3600.50 7000.00\n')
    # A process whose name holds spaces and parentheses, as comm may.
    fields = ['S'] + ['0'] * 10 + ['300', '200'] + ['0'] * 8 + ['1000'] + ['0'] * 20
    write(str(root / '4242' / 'stat'), '4242 (java (hdis) x) ' + ' '.join(fields) + '\n')
    write(str(root / 'self' / 'mounts'), '')
    return str(root)


def test_proc_collector_reads_cpu_memory_uptime_and_processes(fake_proc):
    col = hm.ProcCollector(proc=fake_proc)
    busy, total = col.cpu_times()
    assert (busy, total) == (200, 1000)  # iowait counts as idle
    assert col.cpu_count() == 2
    mem = col.memory()
    assert mem['total_bytes'] == 8000000 * 1024
    assert mem['percent'] == 75.0  # (8000000 - 2000000) / 8000000
    assert mem['swap_percent'] == 25.0
    procs = col.process_times()
    name, user, cpu, rss = procs[4242]
    assert name == 'java (hdis) x'
    assert cpu == pytest.approx(500 / col.clk_tck)
    assert rss == 1000 * col.page_size
    assert abs(col.boot_time() - (hm.time.time() - 3600.5)) < 5


def test_memory_without_memavailable_falls_back(fake_proc):
    write(os.path.join(fake_proc, 'meminfo'), MEMINFO.replace('MemAvailable:    2000000 kB\n', ''))
    mem = hm.ProcCollector(proc=fake_proc).memory()
    assert mem['available_bytes'] == (500000 + 100000 + 1000000) * 1024


def test_mount_escapes_are_decoded(fake_proc):
    write(os.path.join(fake_proc, 'self', 'mounts'),
          '/dev/sdb1 /srv/his\\040data ext4 rw 0 0\n')
    assert hm.read_mounts(fake_proc) == [('/dev/sdb1', '/srv/his data', 'ext4')]


FakeStat = namedtuple('FakeStat', 'st_dev st_mode')


def test_select_filesystems_skips_pseudo_files_and_duplicates():
    import stat as statmod
    directory = statmod.S_IFDIR | 0o755
    regular = statmod.S_IFREG | 0o644
    table = {
        '/': FakeStat(1, directory), '/proc': FakeStat(2, directory),
        '/etc/hosts': FakeStat(1, regular), '/var/lib/pgsql': FakeStat(3, directory),
        '/mnt/bind/pgsql': FakeStat(3, directory), '/dev/shm': FakeStat(4, directory),
        '/backup': FakeStat(5, directory), '/backup/nfs': FakeStat(6, directory),
    }

    def fake_stat(path):
        if path not in table:
            raise OSError(2, 'gone')
        return table[path]

    mounts = [('overlay', '/', 'overlay'), ('proc', '/proc', 'proc'),
              ('/dev/vda', '/etc/hosts', 'ext4'), ('/dev/sdb1', '/mnt/bind/pgsql', 'xfs'),
              ('/dev/sdb1', '/var/lib/pgsql', 'xfs'), ('tmpfs', '/dev/shm', 'tmpfs'),
              ('/dev/sdc1', '/backup', 'ext4'), ('nas:/b', '/backup/nfs', 'nfs4'),
              ('/dev/sdd1', '/gone', 'ext4')]
    chosen = hm.select_filesystems(mounts, hm.PSEUDO_FSTYPES, skip_mounts=['/backup'],
                                   stat=fake_stat)
    assert [m[1] for m in chosen] == ['/', '/var/lib/pgsql']


def test_fs_usage_matches_df_arithmetic(tmp_path):
    usage = hm.fs_usage(str(tmp_path))
    vfs = os.statvfs(str(tmp_path))
    used = (vfs.f_blocks - vfs.f_bfree) * vfs.f_frsize
    assert usage['used_bytes'] == used
    assert 0 <= usage['percent'] <= 100
    assert usage['inodes_total'] == vfs.f_files


def test_both_collectors_return_the_same_shape_and_close_figures():
    proc, ps = hm.ProcCollector(), hm.PsutilCollector()
    assert proc.cpu_count() == ps.cpu_count()
    m1, m2 = proc.memory(), ps.memory()
    assert set(m1) == set(m2)
    assert m1['total_bytes'] == m2['total_bytes']
    assert abs(m1['percent'] - m2['percent']) < 5
    assert abs(proc.boot_time() - ps.boot_time()) < 5
    assert [f[1] for f in proc.filesystems(hm.PSEUDO_FSTYPES, [])] == \
        [f[1] for f in ps.filesystems(hm.PSEUDO_FSTYPES, [])]
    p1, p2 = proc.process_times(), ps.process_times()
    me = os.getpid()
    assert p1[me][0] == p2[me][0] and p1[me][1] == p2[me][1]
    for col in (proc, ps):
        cpu, top_cpu, top_mem, count = hm.sample_cpu_and_processes(col, 0.2, 3)
        assert 0.0 <= cpu <= 100.0 and count > 1
        assert len(top_cpu) == 3 and len(top_mem) == 3
        assert set(top_cpu[0]) == {'pid', 'name', 'user', 'cpu_percent', 'rss_bytes'}
        assert top_mem[0]['rss_bytes'] >= top_mem[-1]['rss_bytes']


def test_sampling_sees_a_busy_process():
    import multiprocessing

    def spin(stop):
        while not stop.is_set():
            pass

    stop = multiprocessing.Event()
    child = multiprocessing.Process(target=spin, args=(stop,))
    child.start()
    try:
        for col in (hm.ProcCollector(), hm.PsutilCollector()):
            cpu, top_cpu, dummy_top_mem, dummy_count = hm.sample_cpu_and_processes(col, 0.5, 5)
            assert child.pid in [p['pid'] for p in top_cpu]
            assert cpu > 20.0
    finally:
        stop.set()
        child.join()


def test_get_collector_choices(monkeypatch):
    assert hm.get_collector('proc').name == 'proc'
    assert hm.get_collector('auto').name == 'psutil'
    monkeypatch.setattr(hm, 'HAS_PSUTIL', False)
    assert hm.get_collector('auto').name == 'proc'
    with pytest.raises(RuntimeError, match='psutil is not installed'):
        hm.get_collector('psutil')
