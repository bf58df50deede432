"""系统升级记录 (the upgrade record document): every field filled from the run's record, in
Chinese and English, as PDF and DOCX (read back with PyMuPDF and python-docx)."""

import datetime

import docx
import fitz  # PyMuPDF
import pytest
from test_report import TZ, write_run
from test_report import params as report_params
from test_upgrade import health

from ansible_collections.dialysis.ops.plugins.plugin_utils import dialysis_upgrade as up
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_report import build_report


def upgraded():
    return up.build_upgrade_record(
        'upgrade',
        'hemodialysis',
        'upgraded',
        '1.0',
        '1.1',
        ['hd-app-01', 'hd-app-02'],
        ticket='CHG-2026-0201',
        reason='透析干体重评估模块上线',
        release={
            'version': '1.1',
            'notes': 'Dry-weight assessment',
            'modules_changed': ['dialysis_service.py', 'migrations/0002.sql'],
        },
        migration={'schema_before': '0001', 'schema_after': '0002', 'applied': ['0002']},
        backup={
            'path': '/var/backups/dialysis/upgrade/hemodialysis-pre-1.1.dump',
            'sha256': 'ab' * 32,
            'size_bytes': 388641,
            'entries': 64,
            'verified': True,
        },
        health_after={'hd-app-01': health(), 'hd-app-02': health()},
        collector={'ok': True, 'age_seconds': 2},
        timings={'maintenance_seconds': 7.8},
    )[0]


def rolled_back():
    return up.build_upgrade_record(
        'upgrade',
        'hemodialysis',
        'rolled_back_automatically',
        '1.1',
        '1.2',
        ['hd-app-01', 'hd-app-02'],
        ticket='CHG-2026-0202',
        reason='透析液处方模块',
        migration={
            'schema_before': '0002',
            'schema_after': '0002',
            'applied': ['0003'],
            'undone': ['0003'],
            'method': 'down',
        },
        backup={
            'path': '/b/hemodialysis-pre-1.2.dump',
            'sha256': 'cd' * 32,
            'size_bytes': 1,
            'entries': 71,
            'verified': True,
        },
        health_after={'hd-app-01': health(), 'hd-app-02': health()},
        rollback={'to': '1.1', 'method': 'down', 'trigger': 'hd-app-01: HTTP 503'},
        timings={'maintenance_seconds': 21.0, 'rollback_seconds': 5.7},
        check_failures=[{'host': 'hd-app-01', 'version': '1.2', 'verdict': 'answered_unhealthy', 'answers': 5,
                         'answered_rounds': 5, 'rounds': 5, 'waited_seconds': 8.1, 'health_wait': 60,
                         'fail_after': 5, 'detail': 'http://127.0.0.1:8080/health: HTTP 503'}],
    )[0]


@pytest.fixture
def built(tmp_path, templates):
    records = tmp_path / 'records'
    write_run(
        records, datetime.datetime(2026, 11, 10, 22, 0, tzinfo=TZ), [('hd-app-01', 'changed', upgraded())]
    )
    write_run(
        records, datetime.datetime(2026, 11, 20, 22, 0, tzinfo=TZ), [('hd-app-01', 'failed', rolled_back())]
    )
    out = {}
    for language in ('zh', 'en'):
        out[language] = build_report(
            report_params(tmp_path, language=language, documents=['upgrade_record'], formats=['pdf', 'docx']),
            templates,
        )
    return out


def pdf_text(path):
    with fitz.open(path) as pdf:
        return ''.join(page.get_text() for page in pdf)


def docx_text(path):
    document = docx.Document(path)
    return '\n'.join(
        cell.text for table in document.tables for row in table.rows for cell in row.cells
    ) + '\n'.join(p.text for p in document.paragraphs)


@pytest.mark.parametrize(
    'language, expected',
    [
        (
            'zh',
            [
                '系统升级记录',
                '版本管理',
                '1.0 → 1.1',
                '1.1 → 1.2',
                '已升级，健康检查通过',
                '健康检查未通过，已自动回退',
                '更新模块',
                'dialysis_service.py',
                '迁移前已备份并校验',
                '已撤销迁移 0003',
                '回退方案与触发条件',
                '升级后运行情况',
                '数据采集持续写入',
                '影响范围',
                '停写时长',
                '7.8 秒',
                '5.7 秒',
                'CHG-2026-0202',
                '透析干体重评估模块上线',
                '风险评估',
                '测试结果',
                '连续 5 次检查异常',
            ],
        ),
        (
            'en',
            [
                'System upgrade record',
                'Version history',
                'Upgraded; healthy',
                'Health check failed; rolled back automatically',
                'migrations undone: 0003',
                'Rollback plan and trigger',
                'Triggered this time by: hd-app-01 answered',
                'unhealthy 5 times in a row',
                'writes refused for 7.8 s',
            ],
        ),
    ],
)
def test_the_upgrade_record_renders_every_field_as_pdf_and_docx(built, language, expected):
    paths = built[language]['paths']
    for text in (pdf_text(paths['upgrade_record.pdf']), docx_text(paths['upgrade_record.docx'])):
        flat = ' '.join(text.split())
        for phrase in expected:
            assert phrase in flat, (language, phrase)
