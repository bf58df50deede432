"""Disaster recovery in the document family: 灾难恢复演练记录 (dr_drill_record), 灾难恢复计划
(dr_plan, from the inventory and the records) and the drills in the monthly report, in both
languages and every format; a failed, not-done or over-target drill - and a drill of a
physical backup, which is recorded not_done (unsupported_format) - never reads as a success."""

import datetime
import json
import os
import re

import pytest
from test_backup_documents import write_backup_run
from test_documents import english_words, layout_problems, texts_of
from test_dr_drill import record as dr_drill
from test_dr_drill import steps as dr_steps
from test_report import TZ, inspection_record, write_run
from test_report import params as report_params
from test_restore_drill import FakeEngine
from test_restore_drill import params as drill_params

from ansible_collections.dialysis.ops.plugins.module_utils import dialysis_restore as dr
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_backup import validate_sets
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_report import build_report

PHYSICAL = 'interface_engine-mariabackup'
DOCUMENTS = ['dr_drill_record', 'dr_plan', 'inspection_report', 'restore_drill_record']
PLAN = {
    'rto_minutes': 30,
    'contacts': [{'role': '医院信息科值班', 'name': '张工', 'phone': '0571-00000000'}],
    'hosts': [
        {'name': 'hd-app-01', 'system': 'hemodialysis', 'roles': ['app', 'hemodialysis', 'lab_service'],
         'databases': [], 'backup_sets': [], 'standby': None},
        {'name': 'hd-db-01', 'system': 'hemodialysis', 'roles': ['db', 'hemodialysis'],
         'databases': ['hemodialysis', 'interface_engine'],
         'backup_sets': [{'name': 'hd', 'database': 'hemodialysis', 'format': 'pg_dump_custom',
                          'directory': '/var/backups/dialysis/postgresql/hemodialysis', 'rpo_hours': 26},
                         {'name': PHYSICAL, 'database': 'interface_engine', 'format': 'mariabackup',
                          'directory': '/var/backups/dialysis/mariadb/interface_engine', 'rpo_hours': 26}],
         'standby': None},
        {'name': 'hd-standby-01', 'system': 'hemodialysis', 'roles': ['standby', 'hemodialysis'],
         'databases': [], 'backup_sets': [],
         'standby': {'source_host': 'hd-db-01', 'backup_set': 'hd', 'service': 'dialysis-service.service'}},
    ]}


def physical_drill(tmp_path):
    """A restore drill of a mariabackup set: recorded not_done (unsupported_format)."""
    directory = tmp_path / 'mariabackup'
    directory.mkdir()
    sets, errors = validate_sets([{'name': PHYSICAL, 'database': 'interface_engine', 'format': 'mariabackup',
                                   'directory': str(directory), 'pattern': 'interface_engine-*.mariabackup'}])
    assert errors == []
    record, changed = dr.run_drill(drill_params(directory, set=sets[0]), lambda _e: FakeEngine())
    assert not changed and record['outcome'] == 'not_done'
    assert [i['reason'] for i in record['items']] == ['unsupported_format']
    return record


@pytest.fixture
def dr_built(tmp_path, templates):
    backup_dir = tmp_path / 'pg'
    backup_dir.mkdir()
    (backup_dir / 'hemodialysis-20261101T020000Z.dump').write_bytes(b'PGDMP' + b'x' * 1000)
    records = tmp_path / 'records'
    write_run(records, datetime.datetime(2026, 11, 3, 7, 0, tzinfo=TZ),
              [('hd-db-01', 'ok', inspection_record('hemodialysis', 50.0))])
    ok, _c = dr.run_drill(drill_params(backup_dir), lambda _e: FakeEngine())
    write_backup_run(records, datetime.datetime(2026, 11, 5, 3, 0, tzinfo=TZ), 'hd-db-01', [ok])
    write_backup_run(records, datetime.datetime(2026, 11, 6, 3, 0, tzinfo=TZ), 'hd-db-01',
                     [physical_drill(tmp_path)])
    good, _i = dr_drill(dr_steps([2, 30, 120, 3, 5]))
    failed, _i = dr_drill(dr_steps([2, 30, 40], outcomes={'restore': 'failed'}))
    slow, _i = dr_drill(dr_steps([2, 30, 1900, 3, 5]))
    for day, drill in ((10, failed), (11, slow), (12, good)):
        write_backup_run(records, datetime.datetime(2026, 11, day, 3, 0, tzinfo=TZ), 'hd-standby-01', [drill])
    out = {}
    for language in ('zh', 'en'):
        params = report_params(tmp_path, language=language, formats=['html', 'xlsx', 'pdf', 'docx'],
                               documents=DOCUMENTS, dr_plan=PLAN,
                               expected_hosts={'hd-db-01': 'hemodialysis', 'hd-app-01': 'hemodialysis',
                                               'hd-standby-01': 'hemodialysis'})
        out[language] = build_report(params, templates)
    return out


def flat(text):
    return re.sub(r'\s+', '', text)


def rows_with(html_path, needle):
    """The text of every HTML table row holding ``needle``."""
    with open(html_path, encoding='utf-8') as handle:
        html = handle.read()
    return [re.sub(r'<[^>]+>', ' ', row) for row in re.findall(r'<tr.*?</tr>', html, flags=re.S)
            if needle in row]


def test_the_dr_drill_record_lists_each_drill_and_step_and_never_a_failed_one_as_a_success(dr_built):
    zh = texts_of(dr_built['zh']['paths'])
    for fmt in ('html', 'xlsx', 'pdf', 'docx'):
        text = flat(zh['dr_drill_record.' + fmt])
        assert '灾难恢复演练记录' in text and '签字确认' in text, fmt
        assert '本期灾难恢复演练3次，成功1次，未成功2次' in text, fmt
        for words in ('校验最新备份', '备份传送到备用主机', '恢复数据库', '启动业务服务', '服务健康检查',
                      '备份在备用主机上恢复失败', '前一步失败或演练中止，该步骤未执行', '未执行',
                      '恢复用时1940秒，超过RTO目标1800秒'):
            assert words in text, (fmt, words)
    path = dr_built['zh']['paths']['dr_drill_record.html']
    drills = rows_with(path, 'hemodialysis-20261201T020000Z.dump')
    assert len(drills) == 3
    assert [flat(r).count('成功') - flat(r).count('未成功') for r in drills] == [0, 0, 1]
    assert '160' in drills[2] and '1800' in drills[2]            # recovery time against the target
    en = texts_of(dr_built['en']['paths'])
    assert 'Disaster-recovery drill record' in en['dr_drill_record.html']
    assert 'Recovery took 1940 s, beyond the RTO target of 1800 s' in en['dr_drill_record.html']


def test_the_dr_plan_comes_from_the_inventory_and_the_last_drills(dr_built):
    zh = texts_of(dr_built['zh']['paths'])
    for fmt in ('html', 'xlsx', 'pdf', 'docx'):
        text = flat(zh['dr_plan.' + fmt])
        for words in ('灾难恢复计划（应急预案）', '签字确认', '数据库主机损毁', '应用主机损毁', '勒索病毒',
                      '/var/backups/dialysis/postgresql/hemodialysis', 'hd-db-01的备用主机（备份集hd）',
                      '张工', '0571-00000000', '恢复时间目标（RTO）为30分钟', '数据库服务器'):
            assert words in text, (fmt, words)
    path = dr_built['zh']['paths']['dr_plan.html']
    # The system's last DR drill (the 12th) with its measured time; a backup set's last restore drill.
    system = flat(''.join(rows_with(path, '血透信息管理系统')))
    assert '2026-11-1203:00，成功，恢复用时160秒' in system
    physical = flat(''.join(rows_with(path, PHYSICAL)))
    assert '未完成' in physical and '成功' not in physical.replace('未成功', '')
    hd = flat(''.join(r for r in rows_with(path, '>hd<') if PHYSICAL not in r))
    assert '成功' in hd
    en = texts_of(dr_built['en']['paths'])['dr_plan.html']
    assert 'Disaster-recovery plan' in en and 'Ransomware' in en and 'dr_drill.yml' in en


def test_the_monthly_report_shows_each_drill_and_a_physical_backup_drill_as_not_done(dr_built):
    path = dr_built['zh']['paths']['inspection_report.html']
    text = flat(texts_of({'x': path})['x'])
    assert '恢复演练与灾难恢复演练' in text
    physical = flat(''.join(rows_with(path, PHYSICAL)))
    assert '未完成' in physical and '成功' not in physical
    rows = rows_with(path, '灾难恢复演练</td>') + rows_with(path, '>恢复演练<')
    assert len(rows) == 5, rows                      # 2 restore drills, 3 DR drills
    succeeded = [r for r in rows if ' 成功 ' in re.sub(r'\s+', ' ', r)]
    assert len(succeeded) == 2                       # the pg_dump restore drill and one DR drill
    # the restore drill record counts it as a drill that did not succeed
    drills = flat(texts_of({'x': dr_built['zh']['paths']['restore_drill_record.html']})['x'])
    assert '恢复演练2次，成功1次，未成功1次' in drills


def test_chinese_dr_documents_hold_no_english_sentences(dr_built):
    names = ('hemodialysis-20261201T020000Z.dump', 'hemodialysis-20261101T020000Z.dump', PHYSICAL,
             'hd-standby-01', 'dialysis-service.service', 'interface_engine', 'hemodialysis',
             'pg_dump_custom',
             'mariabackup', 'RTO', 'RPO', 'CHG-1')
    for key, text in texts_of(dr_built['zh']['paths']).items():
        for name in names:
            text = text.replace(name, '')
        words = [w for w in english_words(text) if w.split(' ')[0] not in ('dump', 'sql')]
        assert not words, (key, sorted(words)[:10])


@pytest.mark.parametrize('language', ['zh', 'en'])
def test_dr_document_pdfs_have_no_overprint_and_nothing_clipped(dr_built, language):
    pdfs = [p for k, p in dr_built[language]['paths'].items() if k.endswith('.pdf')]
    assert len(pdfs) == len(DOCUMENTS)
    for path in pdfs:
        problems = layout_problems(path)
        assert not problems, '%s:\n%s' % (os.path.basename(path), '\n'.join(problems[:20]))


def test_the_report_role_builds_the_plan_hosts_from_the_inventory_without_secrets():
    from ansible_collections.dialysis.ops.plugins.filter.dialysis_backup import dr_plan_hosts

    hosts = dr_plan_hosts([
        {'inventory_hostname': 'hd-db-01', 'dialysis_system': 'hemodialysis', 'group_names': ['db'],
         'ansible_password': 'secret', 'dialysis_backup_sets': [
             {'name': 'hd', 'database': 'hemodialysis', 'format': 'pg_dump_custom', 'directory': '/b',
              'pattern': 'x-*.dump', 'rpo_hours': 26, 'restore': {'smoke': [{'query': 'SELECT 1'}]}}]},
        {'inventory_hostname': 'hd-standby-01', 'group_names': ['standby'],
         'dialysis_dr_standby': {'source_host': 'hd-db-01', 'backup_set': 'hd', 'health_checks': [{}]}}])
    assert hosts[0] == {'name': 'hd-db-01', 'system': 'hemodialysis', 'roles': ['db'],
                        'databases': ['hemodialysis'],
                        'backup_sets': [{'name': 'hd', 'database': 'hemodialysis', 'format': 'pg_dump_custom',
                                         'directory': '/b', 'rpo_hours': 26}], 'standby': None}
    assert hosts[1]['standby'] == {'source_host': 'hd-db-01', 'backup_set': 'hd'}
    assert 'secret' not in json.dumps(hosts)
