"""Backup retention and manifests; the collector's paused file and session day."""

import datetime as dt
import hashlib
import subprocess

import pytest


def test_retention_keeps_the_newest(backup, tmp_path):
    stamps = ['20251120T013000Z', '20251121T013000Z', '20251122T013000Z', '20251123T013000Z']
    for stamp in stamps:
        for suffix in ('.dump', '.dump.sha256', '.counts.json'):
            (tmp_path / f'hemodialysis-{stamp}{suffix}').write_text('x')
        (tmp_path / f'hemodialysis-{stamp}.mariabackup').mkdir()
    (tmp_path / 'ckd-20251101T013000Z.dump').write_text('other database')
    removed = backup.apply_retention(tmp_path, 'hemodialysis', 2)
    assert len(removed) == 8
    left = sorted(p.name for p in tmp_path.iterdir())
    assert all(n.startswith(('hemodialysis-20251122', 'hemodialysis-20251123', 'ckd-')) for n in left)
    assert len(left) == 9
    with pytest.raises(ValueError):
        backup.expired(stamps, 0)


def test_manifest_is_checked_by_sha256sum(backup, tmp_path):
    dump = tmp_path / 'pd-20251122T013000Z.sql.zst'
    dump.write_bytes(b'dump bytes')
    directory = tmp_path / 'pd-20251122T013000Z.mariabackup'
    (directory / 'pd').mkdir(parents=True)
    (directory / 'pd' / 'pd_exchange.ibd').write_bytes(b'pages')
    (directory / 'xtrabackup_checkpoints').write_text('backup_type = full-backuped\n')
    for target in (dump, directory):
        manifest = backup.write_manifest(target)
        assert subprocess.run(['sha256sum', '-c', '--quiet', manifest.name], cwd=tmp_path).returncode == 0
    assert (
        backup.write_manifest(dump).read_text()
        == f'{hashlib.sha256(b"dump bytes").hexdigest()}  {dump.name}\n'
    )
    (directory / 'pd' / 'pd_exchange.ibd').write_bytes(b'changed')
    check = subprocess.run(
        ['sha256sum', '-c', '--quiet', directory.name + '.sha256'], cwd=tmp_path, capture_output=True
    )
    assert check.returncode != 0


def test_paused_file(collector, tmp_path):
    paused = tmp_path / 'paused'
    assert collector.read_paused(paused) == set()
    paused.write_text('HD-03\n\n  HD-07  # in maintenance\n# HD-09\n')
    assert collector.read_paused(paused) == {'HD-03', 'HD-07'}


def test_sessions_are_dated_mon_to_sat(collector):
    sunday = dt.datetime(2025, 11, 30, 10, tzinfo=dt.timezone.utc)
    assert collector.session_day(sunday) == dt.date(2025, 11, 29)
    assert collector.session_day(sunday + dt.timedelta(days=1)) == dt.date(2025, 12, 1)
    assert [collector.shift_of(sunday.replace(hour=h)) for h in (7, 13, 18)] == [1, 2, 3]


def test_collector_readings_are_realistic(collector):
    import random

    machine = collector.Machine(random.Random(1))
    for _ in range(500):
        blood, dialysate, venous, arterial, tmp, conductivity, temp, uf = machine.reading(True)
        assert 240 <= blood <= 410 and dialysate in (500, 600, 700)
        assert 80 <= venous <= 240 and -280 <= arterial <= -60 and 30 <= tmp <= 280
        assert 13.7 <= conductivity <= 14.3 and 35.4 <= temp <= 37.1 and 200 <= uf < 1000
    assert machine.reading(False)[0] == 0 and machine.reading(False)[7] == 0
    assert collector.machine_codes(20)[0] == 'HD-01' and collector.machine_codes(20)[-1] == 'HD-20'
