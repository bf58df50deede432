"""Backup checks in the monthly inspection report: the records backup_check writes (made on
fake files here) become a backup section and anomalies with ids, in both languages."""

import datetime
import json
import os
import re

import pytest
from test_backup_check import DUMP, NOW, backup, fake_run, gz, history, spec, which
from test_documents import english_words, texts_of
from test_report import TZ, inspection_record, write_run
from test_report import params as report_params

from ansible_collections.dialysis.ops.plugins.module_utils import dialysis_backup as db
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
