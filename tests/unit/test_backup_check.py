"""backup_check on fake backup sets (files made here; pg_restore is faked, gzip and
zstd streams are real when the tools exist)."""

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import time

import backup_check
import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dialysis.ops.plugins.module_utils import dialysis_backup as db
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import validate_record

NOW = time.time()
DUMP = b'-- MariaDB dump\nCREATE TABLE t (id int);\nINSERT INTO t VALUES (1);\n' * 200 + \
    b'-- Dump completed on 2026-12-01  2:00:01\n'


def manifest(path):
    """The backup job's manifest: sha256sum lines relative to the set directory."""
    parent = os.path.dirname(path)
    if os.path.isdir(path):
        files = sorted(os.path.join(d, f) for d, _s, fs in os.walk(path) for f in fs)
    else:
        files = [path]
    with open(path + '.sha256', 'w') as handle:
        for f in files:
            with open(f, 'rb') as data:
                digest = hashlib.sha256(data.read()).hexdigest()
                handle.write('%s  %s\n' % (digest, os.path.relpath(f, parent)))


def backup(directory, name, content, age_hours, with_manifest=True):
    path = os.path.join(str(directory), name)
    with open(path, 'wb') as handle:
        handle.write(content)
    if with_manifest:
        manifest(path)
    stamp = NOW - age_hours * 3600
    os.utime(path, (stamp, stamp))
    return path


def gz(data):
    return gzip.compress(data)


def fake_run(results=None):
    """run_command stand-in: pg_restore answers from RESULTS {'list': (rc, out, err), 'read': ...}."""
    results = results or {}

    def run(argv, **_kw):
        if '--list' in argv:
            toc = '; Archive\n1; 0 0 TABLE public t\n2; 0 0 TABLE DATA public t\n'
            return results.get('list', (0, toc, ''))
        return results.get('read', (0, '', ''))
    return run


def which(name):
    return shutil.which(name)


def spec(directory, **kw):
    entry = dict({'name': 'pd', 'database': 'pd', 'format': 'mariadb_dump', 'directory': str(directory),
                  'pattern': 'pd-*.sql.gz'}, **kw)
    sets, errors = db.validate_sets([entry])
    assert errors == []
    return sets[0]


def items(record):
    assert validate_record(record) == []
    return dict((i['item'].split(':')[-1], i) for i in record['items'])


def history(directory, sizes=(1, 1, 1), fmt='pd-2026112%dT020000Z.sql.gz', data=DUMP):
    for n in range(len(sizes)):
        backup(directory, fmt % n, gz(data), 24 * (len(sizes) - n) + 1)


def test_a_fresh_complete_backup_passes(tmp_path):
    history(tmp_path)
    backup(tmp_path, 'pd-20261201T020000Z.sql.gz', gz(DUMP), 1)
    record = db.check_set(spec(tmp_path, retention_max=7), 'pd', fake_run(), which, NOW)
    found = items(record)
    assert record['kind'] == 'backup_check' and record['status'] == 'ok', record
    assert set(found) == {'age', 'size', 'checksum', 'structure', 'retention'}
    assert found['age']['value'] == 1.0 and found['retention']['value'] == 4
    assert found['size']['drop_percent'] == 0.0
    assert record['items'][0]['item'] == 'backup:pd:age' and record['verified'] is True


def flagged(record):
    return sorted(i['item'].split(':')[-1] for i in record['items'] if i['status'] not in ('ok', 'skipped'))


def test_truncated_dump_is_flagged_by_structure_only(tmp_path):
    history(tmp_path)
    # The job wrote the manifest of what it had: checksum matches, the dump has no end.
    backup(tmp_path, 'pd-20261201T020000Z.sql.gz', gz(DUMP[: int(len(DUMP) * 0.8)]), 1)
    record = db.check_set(spec(tmp_path), 'pd', fake_run(), which, NOW)
    assert flagged(record) == ['structure']
    assert items(record)['structure']['reason'] == 'truncated'


def test_damaged_gzip_stream(tmp_path):
    data = gz(DUMP)
    path = backup(tmp_path, 'pd-20261201T020000Z.sql.gz', data[: len(data) // 2], 1)
    assert db.check_sql_dump(path, 10, which)[:2] == ('critical', 'corrupt')


@pytest.mark.skipif(not shutil.which('zstd'), reason='zstd not installed')
def test_zstd_streams(tmp_path):
    good = subprocess.run(['zstd', '-q', '-c'], input=DUMP, stdout=subprocess.PIPE, check=True).stdout
    path = backup(tmp_path, 'ie-1.sql.zst', good, 1)
    assert db.check_sql_dump(path, 10, which)[0] == 'ok'
    path = backup(tmp_path, 'ie-2.sql.zst', good[:-9], 1)
    assert db.check_sql_dump(path, 10, which)[:2] == ('critical', 'corrupt')


def test_checksum_mismatch_is_flagged_alone(tmp_path):
    history(tmp_path)
    path = backup(tmp_path, 'pd-20261201T020000Z.sql.gz', gz(DUMP), 1)
    with open(path + '.sha256', 'w') as handle:
        handle.write('%s  %s\n' % ('0' * 64, os.path.basename(path)))
    record = db.check_set(spec(tmp_path), 'pd', fake_run(), which, NOW)
    assert flagged(record) == ['checksum'] and items(record)['checksum']['reason'] == 'checksum_mismatch'


def test_missing_and_malformed_manifest(tmp_path):
    path = backup(tmp_path, 'pd-20261201T020000Z.sql.gz', gz(DUMP), 1, with_manifest=False)
    record = db.check_set(spec(tmp_path), 'pd', fake_run(), which, NOW)
    assert items(record)['checksum']['status'] == 'warning'
    assert items(record)['checksum']['reason'] == 'no_manifest'
    with open(path + '.sha256', 'w') as handle:
        handle.write('not a manifest\n')
    record = db.check_set(spec(tmp_path), 'pd', fake_run(), which, NOW)
    assert items(record)['checksum']['reason'] == 'bad_manifest'
    assert 'pd-20261201T020000Z.sql.gz.sha256:1' in items(record)['checksum']['message']


def test_backup_older_than_the_rpo_is_flagged_alone(tmp_path):
    history(tmp_path)
    for name in os.listdir(str(tmp_path)):
        path = os.path.join(str(tmp_path), name)
        stamp = os.stat(path).st_mtime - 3 * 86400
        os.utime(path, (stamp, stamp))
    record = db.check_set(spec(tmp_path, rpo_hours=26), 'pd', fake_run(), which, NOW)
    assert flagged(record) == ['age']
    age = items(record)['age']
    assert age['status'] == 'critical' and age['reason'] == 'too_old' and age['threshold'] == {'critical': 26}


def test_much_smaller_dump_than_its_history_is_flagged_alone(tmp_path):
    rows = b''.join(b'INSERT INTO t VALUES (%d);\n' % n for n in range(3000))
    full = rows + DUMP
    history(tmp_path, data=full)
    backup(tmp_path, 'pd-20261201T020000Z.sql.gz', gz(DUMP), 1)
    record = db.check_set(spec(tmp_path, size_drop_percent=50), 'pd', fake_run(), which, NOW)
    assert flagged(record) == ['size']
    size = items(record)['size']
    assert size['reason'] == 'size_drop' and size['drop_percent'] > 50 and size['history'] == 3


def test_short_history_is_not_judged(tmp_path):
    backup(tmp_path, 'pd-20261201T020000Z.sql.gz', gz(DUMP), 1)
    size = items(db.check_set(spec(tmp_path), 'pd', fake_run(), which, NOW))['size']
    assert size['status'] == 'skipped' and size['reason'] == 'short_history'


def test_no_backup_and_no_directory(tmp_path):
    record = db.check_set(spec(tmp_path), 'pd', fake_run(), which, NOW)
    assert record['status'] == 'critical' and items(record)['age']['reason'] == 'no_backup'
    record = db.check_set(spec(tmp_path / 'gone'), 'pd', fake_run(), which, NOW)
    assert items(record)['age']['reason'] == 'no_directory'


def test_sidecars_and_hidden_partials_are_not_backups(tmp_path):
    backup(tmp_path, 'pd-20261201T020000Z.sql.gz', gz(DUMP), 5)
    backup(tmp_path, '.pd-20261201T030000Z.sql.gz.partial', b'x', 0, with_manifest=False)
    (tmp_path / 'pd-20261201T020000Z.counts.json').write_text('{}')
    found = db.find_backups(spec(tmp_path, pattern='pd-*'))
    assert [b['name'] for b in found] == ['pd-20261201T020000Z.sql.gz']


def test_retention_count_and_oldest(tmp_path):
    history(tmp_path, sizes=(1,) * 8)

    def retention_of(**kw):
        return items(db.check_set(spec(tmp_path, **kw), 'pd', fake_run(), which, NOW))['retention']
    retention = retention_of(retention_max=7)
    assert retention['value'] == 8 and retention['status'] == 'warning'
    assert retention['reason'] == 'retention_exceeded' and retention['oldest_days'] > 8
    retention = retention_of(retention_min=10)
    assert retention['reason'] == 'retention_short'


def test_job_status_from_last_run(tmp_path):
    backup(tmp_path, 'pd-20261201T020000Z.sql.gz', gz(DUMP), 1)
    last = tmp_path / 'last-run.json'
    last.write_text(json.dumps({'exit_status': 0, 'ended': 'x', 'databases': {'pd': {'status': 'ok'}}}))
    job = items(db.check_set(spec(tmp_path, last_run=str(last)), 'pd', fake_run(), which, NOW))['job']
    assert job['status'] == 'ok' and job['value'] == 0
    last.write_text(json.dumps({'exit_status': 1, 'databases': {'pd': {
        'status': 'failed', 'error': 'OperationalError: (2003, ...)'}}}))
    job = items(db.check_set(spec(tmp_path, last_run=str(last)), 'pd', fake_run(), which, NOW))['job']
    assert job['status'] == 'critical' and job['reason'] == 'job_failed' and '2003' in job['message']
    last.write_text('{')
    job = items(db.check_set(spec(tmp_path, last_run=str(last)), 'pd', fake_run(), which, NOW))['job']
    assert job['status'] == 'error' and job['reason'] == 'bad_job_report'


def test_pg_archive_read_failure_is_truncated(tmp_path):
    backup(tmp_path, 'hd-20261201T020000Z.dump', b'PGDMP' + b'x' * 100, 1)
    s = spec(tmp_path, name='hd', database='hd', format='pg_dump_custom', pattern='hd-*.dump')
    run = fake_run({'read': (1, '', 'pg_restore: error: could not read from input file: end of file\n')})
    structure = items(db.check_set(s, 'hemodialysis', run, which, NOW))['structure']
    assert structure['status'] == 'critical' and structure['reason'] == 'truncated'
    run = fake_run({'list': (1, '', 'pg_restore: error: input file does not appear to be a valid archive')})
    structure = items(db.check_set(s, 'hemodialysis', run, which, NOW))['structure']
    assert structure['reason'] == 'corrupt' and 'valid archive' in structure['message']
    structure = items(db.check_set(s, 'hemodialysis', fake_run(), which, NOW))['structure']
    assert structure['status'] == 'ok' and '1 with table data' in structure['message']


def test_mariabackup_directory(tmp_path):
    target = tmp_path / 'ie-20261201T020000Z.mariabackup'
    target.mkdir()
    (target / 'ibdata1').write_bytes(b'\0' * 100)
    (target / 'xtrabackup_checkpoints').write_text(
        'backup_type = full-backuped\nfrom_lsn = 0\nto_lsn = 5000\nlast_lsn = 5000\n')
    manifest(str(target))
    s = spec(tmp_path, name='ie-phys', database='ie', format='mariabackup', pattern='ie-*.mariabackup')
    record = db.check_set(s, 'hemodialysis', fake_run(), which, NOW)
    assert flagged(record) == [] and items(record)['checksum']['files'] == 2
    (target / 'extra.ibd').write_bytes(b'1')
    assert items(db.check_set(s, 'hemodialysis', fake_run(), which, NOW))['checksum']['reason'] == \
        'checksum_mismatch'
    os.remove(str(target / 'extra.ibd'))
    os.remove(str(target / 'xtrabackup_checkpoints'))
    manifest(str(target))
    structure = items(db.check_set(s, 'hemodialysis', fake_run(), which, NOW))['structure']
    assert structure['reason'] == 'truncated'


def test_sqlserver_bak_is_described_but_unverified(tmp_path):
    backup(tmp_path, 'his-20261201.bak', b'TAPE' * 100, 2)
    s = spec(tmp_path, name='his', database='his', format='sqlserver_bak', pattern='*.bak')
    record = db.check_set(s, 'shared', fake_run(), which, NOW)
    structure = items(record)['structure']
    assert structure['status'] == 'skipped' and structure['reason'] == 'unverified'
    assert record['verified'] is False and record['status'] == 'ok'


@pytest.mark.parametrize('entry, words', [
    ({'name': 'x', 'format': 'tar', 'directory': '/b'}, 'format: expected one of'),
    ({'name': 'x', 'format': 'pg_dump_custom', 'directory': 'relative'}, 'directory: expected the absolute'),
    ({'name': 'x y', 'format': 'pg_dump_custom', 'directory': '/b'}, 'name: expected a short name'),
    ({'name': 'x', 'format': 'pg_dump_custom', 'directory': '/b', 'rpo_hours': 'soon'}, 'rpo_hours'),
    ({'name': 'x', 'format': 'pg_dump_custom', 'directory': '/b', 'size_drop_percent': 150}, '<= 100'),
    ({'name': 'x', 'format': 'pg_dump_custom', 'directory': '/b', 'colour': 1}, "unknown key 'colour'"),
    ({'name': 'x', 'format': 'pg_dump_custom', 'directory': '/b', 'pattern': 'a/b'}, 'pattern'),
])
def test_invalid_sets_name_the_key_and_the_expected_form(entry, words):
    _sets, errors = db.validate_sets([entry], varname='backup_sets')
    assert len(errors) == 1 and errors[0].startswith('backup_sets[0]') and words in errors[0], errors


def test_duplicate_names_are_refused():
    entry = {'name': 'x', 'format': 'pg_dump_custom', 'directory': '/b'}
    assert 'used twice' in db.validate_sets([entry, entry])[1][0]


def run_module(capsys, args, check_mode=False):
    args = dict(args)
    if check_mode:
        args['_ansible_check_mode'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            backup_check.main()
    return json.loads(capsys.readouterr().out)


def test_module_returns_one_record_per_set_and_changes_nothing(capsys, tmp_path):
    backup(tmp_path, 'pd-20261201T020000Z.sql.gz', gz(DUMP), 1)
    before = sorted(os.listdir(str(tmp_path)))
    result = run_module(capsys, {'system': 'pd', 'sets': [
        {'name': 'pd', 'format': 'mariadb_dump', 'directory': str(tmp_path), 'pattern': 'pd-*.sql.gz'},
        {'name': 'gone', 'format': 'mariadb_dump', 'directory': str(tmp_path / 'none')}]}, check_mode=True)
    assert result['changed'] is False and [r['set'] for r in result['records']] == ['pd', 'gone']
    assert result['sets']['pd']['status'] == 'ok' and result['sets']['gone']['status'] == 'critical'
    assert sorted(os.listdir(str(tmp_path))) == before


def test_module_refuses_invalid_sets(capsys, tmp_path):
    result = run_module(capsys, {'sets': [{'name': 'x', 'format': 'pg_dump_custom', 'directory': 'rel'}]})
    assert result['failed'] and 'sets[0].directory' in result['msg']
