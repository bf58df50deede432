"""The upgrade's risk assessment (升级风险评估, issue #12): the verdict from what the hosts, the
release, the record store and the guard said (plugins/plugin_utils/dialysis_upgrade_risk.py), the
gate the upgrade puts on it, and the two documents that show it - the risk assessment and the upgrade
record - in Chinese and English, PDF and DOCX, read back: every field filled, no English in the Chinese
ones, nothing overprinted or clipped."""

import datetime
import io
import json
import tarfile

import pytest
from test_documents import english_words, layout_problems, texts_of
from test_report import TZ, write_run
from test_report import params as report_params
from test_upgrade import health

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import validate_record
from ansible_collections.dialysis.ops.plugins.plugin_utils import dialysis_upgrade as up
from ansible_collections.dialysis.ops.plugins.plugin_utils import dialysis_upgrade_risk as risk
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_risk import risk_model
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_upgrade import upgrade_model
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_i18n import Translator
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_report import build_report
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import RecordStore

NOW = datetime.datetime(2026, 11, 20, 14, 0, tzinfo=datetime.timezone.utc)
RELEASE = {
    'version': '1.2',
    'schema': '0003',
    'migrations': ['0001', '0002', '0003'],
    'migrations_added': ['0003'],
    'notes': 'Dialysate prescription per session.',
    'modules_changed': ['dialysis_service.py', 'migrations/0003_dialysate_prescription.sql'],
}
SET = {
    'name': 'hemodialysis-pg_dump',
    'database': 'hemodialysis',
    'format': 'pg_dump_custom',
    'directory': '/var/backups/dialysis/postgresql/hemodialysis',
    'pattern': 'hemodialysis-*.dump',
    'rpo_hours': '26',
    'restore': {'engine': 'postgresql'},
}
NEWEST = 'hemodialysis-20261120T1200Z.dump'


def drill(backup=NEWEST, outcome='ok', when=NOW - datetime.timedelta(hours=1)):
    return {
        'kind': 'restore_drill',
        'set': 'hemodialysis-pg_dump',
        'outcome': outcome,
        'backup': backup,
        'rto_seconds': 12.4,
        'rpo_hours': 1.2,
        'context': {'ended': when.isoformat(), 'host': 'hd-db-01'},
    }


def facts(**extra):
    base = {
        'system': 'hemodialysis',
        'version_from': '1.1',
        'version_to': '1.2',
        'running': ['1.1', '1.1'],
        'operation': None,
        'apps': ['hd-app-01', 'hd-app-02'],
        'db_host': 'hd-db-01',
        'database': 'hemodialysis',
        'release': RELEASE,
        'release_known': True,
        'down': ['0002', '0003'],
        'applied': ['0001', '0002'],
        'schema_now': '0002',
        'tarball_size': 30000,
        'app_free': {'hd-app-01': 10**10, 'hd-app-02': 10**10},
        'db_space': {'database_bytes': 50 * 2**20, 'free_bytes': 10**10},
        'health': {'hd-app-01': health(), 'hd-app-02': health()},
        'collector': {'ok': True, 'age_seconds': 2},
        'backup_set': SET,
        'backup': {
            'name': NEWEST,
            'path': '/b/' + NEWEST,
            'mtime': (NOW - datetime.timedelta(hours=2)).timestamp(),
            'size': 4 * 2**20,
        },
        'drills': [drill()],
        'drill_max_age_days': 31,
        'guard': {
            'decision': 'allowed',
            'reasons': [],
            'planned': '2026-11-20 22:30',
            'in_shift': False,
            'calendar': {'timezone': 'Asia/Shanghai'},
        },
        'test': {
            'hosts': ['hd-test-01'],
            'records': [
                {
                    'kind': 'upgrade',
                    'version_to': '1.2',
                    'version_from': '1.1',
                    'outcome': 'upgraded',
                    'hosts': ['hd-test-01'],
                    'context': {'ended': '2026-11-18T10:00:00Z'},
                }
            ],
        },
        'database_rollback': 'auto',
        'health_wait': 60,
        'health_fail_after': 5,
        'planned_at': datetime.datetime(2026, 11, 20, 14, 30, tzinfo=datetime.timezone.utc),
        'ticket': 'CHG-2026-0210',
        'reason': '透析液处方模块上线',
    }
    base.update(extra)
    return base


def verdict_of(**extra):
    record, text = risk.assess(facts(**extra), now=NOW)
    assert validate_record(record) == []
    return record, text, dict((i['item'], i) for i in record['items'])


def test_everything_in_order_is_a_go():
    record, text, items = verdict_of()
    assert record['verdict'] == 'go' and record['blockers'] == [] and record['conditions'] == []
    assert 'GO' in text and record['gate'] == 'assessed'
    assert items['risk:backup']['value'] == 2.0 and items['risk:drill']['status'] == 'ok'
    assert record['metrics']['reversibility']['method'] == 'down'
    assert record['metrics']['test']['outcome'] == 'upgraded'
    assert record['modules_changed'] == RELEASE['modules_changed']


@pytest.mark.parametrize(
    'extra, blocker',
    [
        # the newest backup is older than the RPO (26 h)
        (
            {
                'backup': {
                    'name': NEWEST,
                    'path': '/b/x',
                    'mtime': (NOW - datetime.timedelta(hours=30)).timestamp(),
                }
            },
            'too_old',
        ),
        # no restore drill ever succeeded for the set
        ({'drills': []}, 'never_drilled'),
        ({'drills': [drill(outcome='failed')]}, 'drill_failed'),
        # the newest drill failed, though an older one passed
        (
            {'drills': [drill(when=NOW - datetime.timedelta(days=3)), drill(outcome='timed_out')]},
            'drill_failed',
        ),
        ({'drills': [drill(backup='old.dump', when=NOW - datetime.timedelta(days=40))]}, 'drill_too_old'),
        ({'backup_set': None}, 'no_backup_set'),
        ({'backup': None}, 'no_backup'),
        ({'app_free': {'hd-app-01': 50000, 'hd-app-02': 10**10}}, 'no_space_release'),
        ({'db_space': {'database_bytes': 10**9, 'free_bytes': 10**8}}, 'no_space_backup'),
        (
            {'guard': {'decision': 'refused', 'reasons': ['in_shift'], 'planned': '2026-11-20 10:00'}},
            'guard_in_shift',
        ),
        ({'health': {'hd-app-01': health(False), 'hd-app-02': health()}}, 'unhealthy'),
        ({'down': ['0002'], 'database_rollback': 'down'}, 'down_missing'),
        ({'test': {'hosts': ['hd-test-01'], 'records': []}}, 'not_tested'),
        (
            {
                'test': {
                    'hosts': ['hd-test-01'],
                    'records': [
                        {
                            'kind': 'upgrade',
                            'version_to': '1.2',
                            'outcome': 'rolled_back_automatically',
                            'hosts': ['hd-test-01'],
                            'context': {'ended': '2026-11-18T10:00:00Z'},
                        }
                    ],
                }
            },
            'test_failed',
        ),
        ({'version_to': '1.0'}, 'older_target'),
        ({'running': ['1.1', '1.2']}, 'mixed_releases'),
        ({'release_known': False, 'release': {}}, 'no_release'),
    ],
)
def test_each_blocker_makes_it_a_no_go(extra, blocker):
    record, text, dummy = verdict_of(**extra)
    assert record['verdict'] == 'no_go' and blocker in record['blockers'], record['blockers']
    assert 'NO GO' in text


@pytest.mark.parametrize(
    'extra, condition',
    [
        ({'test': {'hosts': [], 'records': []}}, 'no_test_environment'),
        (
            {
                'drills': [
                    drill(backup='hemodialysis-20261119T1200Z.dump', when=NOW - datetime.timedelta(days=1))
                ]
            },
            'newest_not_drilled',
        ),
        ({'down': ['0002']}, 'restore_needed'),
        ({'database_rollback': 'restore'}, 'restore_needed'),
        ({'collector': {'ok': False, 'age_seconds': 900}}, 'collector_silent'),
        (
            {'guard': {'decision': 'allowed', 'reasons': ['no_ticket'], 'planned': '2026-11-20 22:30'}},
            'guard_no_ticket',
        ),
        (
            {
                'operation': {'kind': 'upgrade', 'state': 'migrating', 'from': '1.1', 'to': '1.2'},
                'health': {'hd-app-01': health(False), 'hd-app-02': health(False)},
            },
            'interrupted_run',
        ),
    ],
)
def test_a_condition_makes_it_a_go_with_conditions(extra, condition):
    record, dummy, items = verdict_of(**extra)
    assert record['verdict'] == 'go_with_conditions' and record['conditions'] == [condition], record[
        'conditions'
    ]


def test_the_test_environment_itself_and_nothing_to_do():
    record, dummy, items = verdict_of(
        apps=['hd-test-01'], app_free={'hd-test-01': 10**10}, health={'hd-test-01': health()}
    )
    assert items['risk:test']['status'] == 'ok' and record['metrics']['test']['is_test'] is True
    record, dummy, items = verdict_of(
        version_from='1.2', running=['1.2', '1.2'], applied=['0001', '0002', '0003']
    )
    assert items['risk:versions']['reason'] == 'nothing_to_do'
    assert items['risk:reversibility']['value'] == 'none' and 'risk:disk:hd-db-01' not in items


def test_the_gate_refuses_a_no_go_unless_overridden_with_reason_and_operator():
    no_go, dummy, dummy2 = verdict_of(drills=[])
    gated, refused = risk.gate(no_go)
    assert refused and gated['gate'] == 'refused' and no_go['gate'] == 'assessed'
    gated, refused = risk.gate(no_go, '急需修复透析记录保存故障，厂商确认', '王工')
    assert not refused and gated['gate'] == 'overridden' and gated['operator'] == '王工'
    assert validate_record(gated) == []
    go, dummy, dummy2 = verdict_of()
    assert risk.gate(go) == (dict(go, gate='passed'), False)
    assert risk.override_errors('', '') == []
    assert [e.split(':')[0] for e in risk.override_errors('urgent', '')] == [
        'upgrade_risk_override_reason',
        'upgrade_risk_override_operator',
    ]


def test_the_planned_time_is_read_in_the_calendars_zone():
    zone = TZ
    assert risk.parse_planned('', zone, NOW) == NOW
    assert risk.parse_planned('2026-11-20 22:30', zone, NOW) == datetime.datetime(
        2026, 11, 20, 14, 30, tzinfo=datetime.timezone.utc
    )
    with pytest.raises(risk.RiskError, match='upgrade_risk_planned_at: expected'):
        risk.parse_planned('tonight', zone, NOW)


def test_the_backup_set_and_its_newest_file():
    sets = [dict(SET, name='other', database='ckd'), dict(SET, restore=None, name='b'), SET]
    assert risk.backup_set(sets, 'hemodialysis')['name'] == 'hemodialysis-pg_dump'
    assert risk.backup_set(sets, 'pd') is None
    found = {
        'files': [
            {'path': '/b/a.dump', 'mtime': 10, 'size': 1},
            {'path': '/b/b.dump', 'mtime': 20, 'size': 2},
            {'path': '/b/b.dump.sha256', 'mtime': 30, 'size': 2},
        ]
    }
    assert risk.newest_backup(found)['name'] == 'b.dump'
    assert risk.newest_backup({'files': []}) is None


def test_the_action_reads_release_notes_and_down_migrations_from_the_tarball(tmp_path):
    from ansible_collections.dialysis.ops.plugins.action.upgrade_risk import read_tarball

    path = tmp_path / 'dialysis-service-1.2.tar.gz'
    with tarfile.open(path, 'w:gz') as tar:
        for name, text in (
            ('release.json', json.dumps(RELEASE)),
            ('migrations/0003_x.sql', 'x'),
            ('migrations/0003_x.down.sql', 'y'),
            ('migrations/0002_y.sql', 'z'),
        ):
            data = text.encode()
            info = tarfile.TarInfo('dialysis-service-1.2/' + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    release, down = read_tarball(str(path))
    assert release['version'] == '1.2' and down == ['0003']
    assert read_tarball(str(tmp_path / 'missing.tar.gz')) == (None, [])


# -- the documents ------------------------------------------------------------------
def assessments():
    conditional, dummy, dummy2 = verdict_of(test={'hosts': [], 'records': []})
    no_go, dummy, dummy2 = verdict_of(
        backup={
            'name': NEWEST,
            'path': '/b/x',
            'mtime': (NOW - datetime.timedelta(hours=30)).timestamp(),
            'size': 1,
        },
        drills=[],
        down=['0002'],
        guard={
            'decision': 'refused',
            'reasons': ['in_shift'],
            'planned': '2026-11-20 10:00',
            'in_shift': True,
            'calendar': {'timezone': 'Asia/Shanghai'},
            # as this run's guard reports it (upgrade.yml): its live count per system
            'systems': {'hemodialysis': {'running': 0, 'reasons': ['in_shift']}},
        },
        planned_at=datetime.datetime(2026, 11, 20, 2, 0, tzinfo=datetime.timezone.utc),
    )
    overridden, dummy = risk.gate(no_go, '急需修复透析记录保存故障，厂商已确认', '王工')
    refused, dummy = risk.gate(no_go)
    return conditional, refused, overridden


def upgrade_with(risk_record):
    return up.build_upgrade_record(
        'upgrade',
        'hemodialysis',
        'upgraded',
        '1.1',
        '1.2',
        ['hd-app-01', 'hd-app-02'],
        ticket='CHG-2026-0210',
        reason='透析液处方模块上线',
        release=RELEASE,
        migration={'schema_before': '0002', 'schema_after': '0003', 'applied': ['0003']},
        backup={
            'path': '/var/backups/dialysis/upgrade/hemodialysis-pre-1.2.dump',
            'sha256': 'ab' * 32,
            'size_bytes': 388641,
            'entries': 64,
            'verified': True,
        },
        health_after={'hd-app-01': health_on('1.2'), 'hd-app-02': health_on('1.2')},
        collector={'ok': True, 'age_seconds': 2},
        timings={'maintenance_seconds': 9.4},
        risk=risk_record,
    )[0]


def health_on(version):
    return {
        'healthy': True,
        'checks': [
            {'name': 'http', 'ok': True, 'detail': 'ok'},
            {'name': 'version', 'ok': True, 'values': {'version': version, 'database_schema': '0003'}},
        ],
    }


@pytest.fixture
def built(tmp_path, templates):
    records = tmp_path / 'records'
    conditional, refused, overridden = assessments()
    write_run(records, datetime.datetime(2026, 11, 19, 21, 0, tzinfo=TZ), [('hd-app-01', 'ok', conditional)])
    write_run(records, datetime.datetime(2026, 11, 20, 10, 0, tzinfo=TZ), [('hd-app-01', 'failed', refused)])
    write_run(
        records,
        datetime.datetime(2026, 11, 20, 10, 5, tzinfo=TZ),
        [('hd-app-01', 'ok', overridden), ('hd-app-01', 'changed', upgrade_with(overridden))],
    )
    out = {}
    for language in ('zh', 'en'):
        out[language] = build_report(
            report_params(
                tmp_path,
                language=language,
                documents=['upgrade_risk', 'upgrade_record', 'inspection_report'],
                formats=['pdf', 'docx'],
            ),
            templates,
        )
    return tmp_path, out


@pytest.mark.parametrize(
    'language, expected',
    [
        (
            'zh',
            [
                '升级风险评估',
                '本期升级风险评估',
                '有条件升级',
                '不可升级',
                '最新备份',
                '恢复演练验证',
                '超过恢复点目标（RPO）26 小时',
                '备份集 hemodialysis-pg_dump 的备份从未经恢复演练验证',
                '磁盘空间',
                '治疗时段守护（计划时间）',
                '处于治疗时段内',
                '当前运行状况',
                'hd-app-01：正常',
                '迁移可逆性',
                '回退需恢复迁移前备份',
                '清单中无测试环境',
                '2026-11-18 18:00 在测试环境（hd-test-01）升级：已升级',
                '回退方案与触发条件',
                '阻断项：',
                '附加条件：',
                '升级被拒绝，未做任何变更',
                '评估结论为不可升级，由 王工 越权放行',
                '急需修复透析记录保存故障',
                'CHG-2026-0210',
                '迁移 0003 没有降级迁移',
                '新版本已应答但连续 5 次检查异常即判定失败，不等满 60 秒',
            ],
        ),
        (
            'en',
            [
                'Upgrade risk assessment',
                'Go with conditions',
                'No go',
                'beyond the RPO of 26 h',
                'was ever restore-tested',
                'inside treatment hours',
                'Going back needs a restore',
                'no test environment in the inventory',
                '"no go" overridden by 王工',
                'the upgrade was refused',
                'fails 5 checks in a row is declared failed at once',
            ],
        ),
    ],
)
def test_the_risk_assessment_renders_every_field_as_pdf_and_docx(built, language, expected):
    dummy, out = built
    paths = out[language]['paths']
    texts = texts_of({'pdf': paths['upgrade_risk.pdf'], 'docx': paths['upgrade_risk.docx']})
    for key, text in texts.items():
        flat = ' '.join(text.split())
        missing = [p for p in expected if p not in flat and p not in text.replace('\n', '')]
        assert not missing, (language, key, missing)


def test_the_upgrade_record_shows_the_risk_verdict_its_override_and_the_test_environment(built):
    dummy, out = built
    zh = texts_of({'pdf': out['zh']['paths']['upgrade_record.pdf']})['pdf'].replace('\n', '')
    for phrase in (
        '开始时在治患者 0 例',
        '血透信息管理系统全部用户在停写期间只能查询',
        '不可升级',
        '阻断项：',
        '越权放行',
        '急需修复透析记录保存故障',
        '2026-11-18 18:00 在测试环境（hd-test-01）升级：已升级',
    ):
        assert phrase in zh, phrase
    assert '未附风险评估' not in zh
    report = texts_of({'pdf': out['zh']['paths']['inspection_report.pdf']})['pdf'].replace('\n', '')
    assert '升级风险评估：拒绝升级' in report and '升级风险评估：越权放行升级' in report


# Identifiers the Chinese documents print as they are: the vendor's release notes and file
# names, backup files and sets, host names.
IDENTIFIERS = (
    'Dialysate prescription per session.',
    'dialysis_service.py',
    'migrations/0003_dialysate_prescription.sql',
    NEWEST,
    'hemodialysis-pg_dump',
    '/var/backups/dialysis/upgrade/hemodialysis-pre-1.2.dump',
    'hd-test-01',
)


# Words the Chinese catalogue itself uses (恢复点目标（RPO）, sha256, KiB) and check names (/health).
ALLOWED = ('RPO', 'KiB', 'sha', 'health', 'version')


@pytest.mark.parametrize('document', ['upgrade_risk', 'upgrade_record'])
def test_the_chinese_documents_hold_no_english_and_the_pdfs_no_overprint(built, document):
    dummy, out = built
    for language in ('zh', 'en'):
        problems = layout_problems(out[language]['paths']['%s.pdf' % document])
        assert not problems, (language, problems[:10])
    for key, text in texts_of(
        {'pdf': out['zh']['paths']['%s.pdf' % document], 'docx': out['zh']['paths']['%s.docx' % document]}
    ).items():
        flat = ' '.join(text.split())
        for identifier in IDENTIFIERS:
            flat = flat.replace(identifier, ' ')
        words = [
            w
            for w in english_words(flat)
            if w.split(' ')[0] not in ALLOWED and not set(w.split(' ')[0]) <= set('abcdef')
        ]
        assert not words, (document, key, sorted(words)[:15])


@pytest.mark.parametrize('language', ['zh', 'en'])
def test_no_field_of_either_document_is_empty_or_unknown(built, language):
    root, dummy = built
    t = Translator(language)
    ctx = {
        't': t,
        'tz': TZ,
        'start': datetime.datetime(2026, 11, 1, tzinfo=TZ),
        'end': datetime.datetime(2026, 12, 1, tzinfo=TZ),
    }
    assert empty_fields(RecordStore(str(root / 'records')), ctx) == []


def empty_fields(store, ctx):
    """(document, title, field) of every field that is empty or says unknown (also used by the
    molecule upgrade scenario on a real run's store)."""
    t = ctx['t']
    unknown = (t('value_unknown'), '', None, '?', 'None')
    out = []
    for name, model in (
        ('upgrade_risk', risk_model(store, ctx)),
        ('upgrade_record', upgrade_model(store, ctx)),
    ):
        assert model['details'], name
        for detail in model['details']:
            for row in detail['rows']:
                value = str(row['value'])
                if row['value'] in unknown or t('value_unknown') in value or 'None' in value.split():
                    out.append((name, detail['title'], row['field'], value))
    return out


def test_the_guard_is_asked_about_the_planned_time_by_its_own_calendar():
    """The guard's plan/decide at the planned time (hemodialysis Mon-Sat 06:30-23:30 Asia/Shanghai by
    default): inside the shift it will refuse; after it, allowed; without a ticket, a condition."""
    check = {'url': 'http://127.0.0.1:8080/treatments/running', 'check_host': 'hd-app-01'}
    hosts = {'hd-app-01': {'system': 'hemodialysis', 'hours': None, 'check': check}}
    inventory = {'hd-app-01'}
    # Monday 2026-11-23 10:00 in Shanghai: inside the shift
    planned, guard = risk.planned_guard(hosts, inventory, 'hemodialysis', 'CHG-1', '2026-11-23 10:00', NOW)
    assert planned == datetime.datetime(2026, 11, 23, 2, 0, tzinfo=datetime.timezone.utc)
    assert guard['decision'] == 'refused' and guard['reasons'] == ['in_shift'] and guard['in_shift'] is True
    record, dummy, items = verdict_of(guard=guard)
    assert items['risk:guard']['reason'] == 'guard_in_shift' and record['verdict'] == 'no_go'
    # the same evening at 23:45: outside; no live count is asked (the guard takes it at the upgrade)
    dummy, guard = risk.planned_guard(hosts, inventory, 'hemodialysis', 'CHG-1', '2026-11-23 23:45', NOW)
    assert guard['decision'] == 'allowed' and guard['reasons'] == []
    assert guard['planned'] == '2026-11-23 23:45'
    dummy, guard = risk.planned_guard(hosts, inventory, 'hemodialysis', '', '2026-11-23 23:45', NOW)
    assert guard['reasons'] == ['no_ticket']
    assert verdict_of(guard=guard)[0]['conditions'] == ['guard_no_ticket']
    # no live check configured: the guard will refuse whatever the time
    hosts['hd-app-01']['check'] = None
    dummy, guard = risk.planned_guard(hosts, inventory, 'hemodialysis', 'CHG-1', '2026-11-23 23:45', NOW)
    assert guard['decision'] == 'refused' and 'check_missing' in guard['reasons']
    with pytest.raises(risk.RiskError, match='treatment-guard settings'):
        risk.planned_guard({'h': {'system': 'hemodialysis', 'hours': {'days': 'often'}, 'check': None}},
                           {'h'}, 'hemodialysis', 'CHG-1', '', NOW)
