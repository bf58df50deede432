"""Backup checks in the monthly inspection report: the records backup_check writes (made on
fake files here) become a backup section and anomalies with ids, in both languages."""

import datetime
import json
import os
import re

import pytest
from test_backup_check import DUMP, NOW, backup, fake_run, gz, history, spec, which
from test_documents import english_words, layout_problems, texts_of
from test_report import TZ, inspection_record, write_run
from test_report import params as report_params
from test_restore_drill import FakeEngine
from test_restore_drill import params as drill_params

from ansible_collections.dialysis.ops.plugins.module_utils import dialysis_backup as db
from ansible_collections.dialysis.ops.plugins.module_utils import dialysis_restore as dr
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_report import build_report


def write_backup_run(records, when, host, found):
    """A backup_check run as the records callback writes it: one result line holding the
    module's records."""
    records.mkdir(exist_ok=True)
    run_id = when.strftime('%Y%m%dT%H%M%SZ') + '-b%03x' % len(os.listdir(records))
    stamp = when.isoformat()
    lines = [{'type': 'run', 'run_id': run_id, 'started': stamp, 'playbook': 'backup_check.yml'},
             {'type': 'result', 'run_id': run_id, 'host': host, 'status': 'ok', 'started': stamp,
              'ended': stamp, 'task': 'backup_check : Check every backup set', 'operator': 'li.si',
              'records': found}]
    (records / ('%s.jsonl' % run_id)).write_text(''.join(json.dumps(x) + '\n' for x in lines))


@pytest.fixture
def built(tmp_path, templates):
    sets = tmp_path / 'backups'
    good, small = sets / 'good', sets / 'small'
    for directory in (good, small):
        directory.mkdir(parents=True)
    history(good)
    backup(good, 'pd-20261201T020000Z.sql.gz', gz(DUMP), 1)
    rows = b''.join(b'INSERT INTO t VALUES (%d);\n' % n for n in range(3000))
    history(small, data=rows + DUMP)
    backup(small, 'pd-20261201T020000Z.sql.gz', gz(DUMP), 1)
    found = [db.check_set(spec(good, name='pd-dump'), 'pd', fake_run(), which, NOW),
             db.check_set(spec(small, name='pd-small'), 'pd', fake_run(), which, NOW)]
    records = tmp_path / 'records'
    write_run(records, datetime.datetime(2026, 11, 3, 7, 0, tzinfo=TZ),
              [('pd-app-01', 'ok', inspection_record('pd', 50.0))])
    write_backup_run(records, datetime.datetime(2026, 11, 20, 3, 0, tzinfo=TZ), 'pd-app-01', found)
    out = {}
    for language in ('zh', 'en'):
        params = report_params(tmp_path, language=language, formats=['html', 'xlsx', 'pdf'])
        out[language] = build_report(params, templates)
    return out


def test_backup_findings_are_in_the_monthly_report(built):
    zh = texts_of(built['zh']['paths'])
    en = texts_of(built['en']['paths'])
    for fmt in ('html', 'xlsx', 'pdf'):
        text = re.sub(r'\s+', '', zh['inspection_report.' + fmt])
        for expected in ('备份检查', '备份集', 'pd-dump', '时效、大小、校验和、完整性、保留均正常',
                         '备份大小pd-small', '比此前3份备份的中位数'):
            assert expected in text, (fmt, expected)
        assert 'Backupchecks' in re.sub(r'\s+', '', en['inspection_report.' + fmt]), fmt
    assert 'possibly a half-empty backup' in en['inspection_report.html']
    # The finding is an anomaly with an id engineers annotate, like any other.
    assert '2026-11:pd-app-01:backup:pd-small:size' in zh['inspection_report.html']
    assert '2026-11:pd-app-01:backup:pd-dump' not in zh['inspection_report.html']
    text = zh['inspection_report.html']
    for name in ('pd-small', 'pd-dump', 'pd-20261201T020000Z.sql.gz'):
        text = text.replace(name, '')
    assert not english_words(text)


@pytest.fixture
def drilled(tmp_path, templates):
    """A month with backup checks and four drills: one success, one whose index check failed,
    one timed out (recorded by the cleanup step) and one refused at the production name."""
    backup_dir = tmp_path / 'pg'
    backup_dir.mkdir()
    (backup_dir / 'hemodialysis-20261201T020000Z.dump').write_bytes(b'PGDMP' + b'x' * 1000)
    (backup_dir / 'hemodialysis-20261201T020000Z.counts.json').write_text(json.dumps({
        'tables': {'patient': 120, 'machine_reading': 2000}, 'taken_at': '2026-12-01T02:00:00+00:00',
        'newest': {'table': 'machine_reading', 'column': 'recorded_at', 'value': 'x'}}))
    sets = tmp_path / 'backups'
    sets.mkdir()
    history(sets)
    found = [db.check_set(spec(sets, name='pd-dump', rpo_hours=12), 'pd', fake_run(), which, NOW)]
    records = tmp_path / 'records'
    write_backup_run(records, datetime.datetime(2026, 11, 10, 3, 0, tzinfo=TZ), 'pd-db-01', found)
    engine = FakeEngine
    ok, _c = dr.run_drill(drill_params(backup_dir), lambda _e: engine())
    bad, _c = dr.run_drill(drill_params(backup_dir), lambda _e: engine(
        failures=[('patient_pkey', 'invalid page in block 1 of relation base/1/2')]))
    timed, _d = dr.cleanup(drill_params(backup_dir, unfinished='timed out: Job reached maximum time limit'),
                           lambda _e: engine())
    refused, _c = dr.run_drill(drill_params(backup_dir, target='hemodialysis'), lambda _e: engine())
    for day, record in ((11, ok), (12, bad), (13, timed[0]), (14, refused)):
        write_backup_run(records, datetime.datetime(2026, 11, day, 3, 0, tzinfo=TZ), 'hd-db-01', [record])
    out = {}
    for language in ('zh', 'en'):
        params = report_params(tmp_path, language=language, formats=['html', 'xlsx', 'pdf', 'docx'],
                               documents=['backup_check_record', 'restore_drill_record'])
        out[language] = build_report(params, templates)
    return out


def test_backup_and_drill_records_are_documents_of_the_family(drilled):
    zh = texts_of(drilled['zh']['paths'])
    en = texts_of(drilled['en']['paths'])
    assert set(zh) == set('%s.%s' % (d, f) for d in ('backup_check_record', 'restore_drill_record')
                          for f in ('html', 'xlsx', 'pdf', 'docx'))
    for key, text in zh.items():
        flat = re.sub(r'\s+', '', text)
        title = '备份检查记录' if key.startswith('backup') else '恢复演练记录'
        assert title in flat and '签字确认' in flat, key
        assert '恢复演练4次，成功1次，未成功3次' in flat, key
        cleaned = re.sub(r'pd-2026\d{4}T\d{6}Z\.sql\.gz', '', text)
        for name in ('pd-dump', 'hemodialysis-pg_dump', 'hemodialysis-20261201T020000Z.dump', 'RTO',
                     'RPO', 'pd-20261201T020000Z.sql.gz', 'hemodialysis', 'MiB', 'CHG-1', 'patient_pkey'):
            cleaned = cleaned.replace(name, '')
        # file names (a PDF cell may wrap them) are not sentences
        words = [w for w in english_words(cleaned) if w.split(' ')[0] not in ('dump', 'sql', 'gz', 'zst')]
        assert not words, (key, sorted(words)[:10])
    drills = re.sub(r'\s+', '', zh['restore_drill_record.html'])
    for words in ('成功', '失败', '超时未完成', '已拒绝（目标为生产库）', '完整性校验失败1项',
                  '演练目标hemodialysis是生产库，已拒绝', '的演练超出时间预算，已中止'):
        assert words in drills, words
    # Only the one drill that ran to its end with nothing critical reads as a success.
    assert drills.count('成功') - drills.count('未成功') == 2   # the row and the summary sentence
    checks = re.sub(r'\s+', '', zh['backup_check_record.html'])
    assert '备份集pd-dump最新备份已' in checks and '超过恢复点目标（RPO）12小时' in checks
    assert 'Timed out' in en['restore_drill_record.html'] and 'Refused (production target)' in \
        en['restore_drill_record.html']


@pytest.mark.parametrize('language', ['zh', 'en'])
def test_backup_document_pdfs_have_no_overprint_and_nothing_clipped(drilled, language):
    pdfs = [p for k, p in drilled[language]['paths'].items() if k.endswith('.pdf')]
    assert len(pdfs) == 2
    for path in pdfs:
        problems = layout_problems(path)
        assert not problems, '%s:\n%s' % (os.path.basename(path), '\n'.join(problems[:20]))
