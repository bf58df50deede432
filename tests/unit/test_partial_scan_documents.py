"""A partial scan is never presented as complete in the documents: the record
sheet and the monthly report say, in Chinese from the catalogue (English with
report_language en), what was not read and how much, beside the count of the
part that was read; such an item is an anomaly row even with no error found."""

import datetime
import os

import host_inspection
import openpyxl
import pytest
from test_documents import english_words, texts_of
from test_report import TZ, write_run
from test_report import params as report_params

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import make_item, make_record
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_i18n import Translator
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_report import build_report

MIB, GIB = 1 << 20, 1 << 30
APP = '/opt/dialysis/logs/app.log'
PAIR = {'warning': 1, 'critical': 20}
# A log that grew by 1 GiB since the last inspection, read at the default 64 MiB limit.
READ_LIMIT = [{'kind': 'read_limit', 'path': APP, 'read_bytes': 64 * MIB - 61,
               'skipped_bytes': GIB - 64 * MIB + 61, 'max_bytes': 64 * MIB}]


def log_item(name, value, status, partial, message='m', **extra):
    figures = {}
    if any(p['kind'] == 'read_limit' for p in partial):
        figures = {'read_bytes': sum(p['read_bytes'] for p in partial if p['kind'] == 'read_limit'),
                   'skipped_bytes': sum(p['skipped_bytes'] for p in partial if p['kind'] == 'read_limit')}
    figures.update(extra)
    return make_item('log:' + name, value, status, message, unit='lines' if name != 'journal' else 'entries',
                     threshold=dict(PAIR), reason='partial_scan', partial=partial, **figures)


def partial_record():
    items = [
        log_item('app', 1, 'warning', READ_LIMIT, path=APP),
        log_item('quiet', 0, 'warning', [dict(READ_LIMIT[0], path='/var/log/quiet.log')],
                 path='/var/log/quiet.log'),
        make_item('log:locked', None, 'error', 'Log /var/log/locked.log could not be read',
                  reason='unreadable', path='/var/log/locked.log',
                  partial=[{'kind': 'unreadable', 'path': '/var/log/locked.log',
                            'error': 'Permission denied'}]),
        log_item('glob', 2, 'warning', [{'kind': 'unreadable', 'path': '/var/log/hd/b.log',
                                         'error': 'Permission denied'}], path='/var/log/hd/*.log'),
        log_item('rotated', 0, 'warning', [{'kind': 'rotated_compressed', 'path': '/var/log/hd/pump.log',
                                            'rotated': '/var/log/hd/pump.log.1.zst', 'offset': 4096}],
                 path='/var/log/hd/pump.log'),
        log_item('journal', 3, 'warning', [{'kind': 'journal_cursor_lost', 'since': 1795000001,
                                            'initial_since': None},
                                           {'kind': 'stopped_counting', 'max_entries': 200000}]),
    ]
    return make_record('inspection', 'hemodialysis', items, {'filesystems': [], 'memory': {}, 'cpu': {}})


@pytest.fixture
def store(tmp_path):
    write_run(tmp_path / 'records', datetime.datetime(2026, 11, 26, 7, 0, tzinfo=TZ),
              [('hd-app-01', 'ok', partial_record())])
    return tmp_path


def params(root, **extra):
    extra.setdefault('formats', ['xlsx', 'html', 'docx'])
    return report_params(root, expected_hosts={'hd-app-01': 'hemodialysis'}, **extra)


def sheet_rows(path, name):
    ws = openpyxl.load_workbook(path)[name]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


ZH = {
    'app': '日志 app 自上次巡检以来在已扫描部分出现 1 条错误；本次仅扫描最后 64 MiB，跳过 960 MiB',
    'quiet': '日志 quiet 自上次巡检以来在已扫描部分出现 0 条错误；本次仅扫描最后 64 MiB，跳过 960 MiB',
    'locked': '日志 locked 存在但无法读取（/var/log/locked.log），本次未扫描',
    'glob': '日志 glob 自上次巡检以来在已扫描部分出现 2 条错误；/var/log/hd/b.log 无法读取，未扫描',
    'rotated': ('日志 rotated 自上次巡检以来在已扫描部分出现 0 条错误；轮转的旧日志在读完之前已被压缩为 '
                '/var/log/hd/pump.log.1.zst（本机无法解压该格式），上次巡检之后写入其中的内容未扫描'),
    'journal': ('日志 journal 自上次巡检以来在已扫描部分出现 3 条错误；上次巡检的读取位置已不在系统日志中'
                '（日志已被清理或轮转），本次从 2026-11-18 19:06 起读取，其间的条目可能不完整；'
                '系统日志条目过多，本次只统计了 200000 条，其余留待下次巡检统计'),
}


def test_the_sheet_says_what_was_skipped_in_chinese(store, templates):
    result = build_report(params(store), templates)
    rows = [r for r in sheet_rows(result['paths']['inspection_sheet.xlsx'], '血透信息管理系统')
            if r['主机'] == 'hd-app-01']
    found = dict((r['巡检项目'], r) for r in rows)
    for name, sentence in ZH.items():
        assert found['日志错误 ' + name]['异常描述'] == sentence, name
    # A partial scan with no error found is still an anomaly row: a warning, open, with an id.
    quiet = found['日志错误 quiet']
    assert (quiet['结果'], quiet['测量值'], quiet['状态']) == ('警告', 0, '未解决')
    assert found['日志错误 locked']['结果'] == '检查失败'
    # No English beyond the identifiers (log names, paths) and the byte units.
    assert not english_words('\n'.join(s.replace('日志 %s ' % name, '') for name, s in ZH.items()))


def test_the_monthly_report_says_it_too(store, templates):
    result = build_report(params(store), templates)
    texts = texts_of(dict((k, v) for k, v in result['paths'].items() if k.startswith('inspection_report')))
    for key in ('inspection_report.html', 'inspection_report.docx'):
        assert '本次仅扫描最后 64 MiB，跳过 960 MiB' in texts[key], key
        assert '日志 app 自上次巡检以来在已扫描部分出现 1 条错误' in texts[key], key
    assert result['anomalies'] == 6


def test_english_with_report_language_en(store, templates):
    result = build_report(params(store, language='en'), templates)
    rows = sheet_rows(result['paths']['inspection_sheet.xlsx'], 'Hemodialysis information system')
    anomaly = dict((r['Item inspected'], r['Anomaly']) for r in rows if r['Host'] == 'hd-app-01')
    assert anomaly['Log errors app'] == ('Log app: 1 error lines since the previous inspection in the part '
                                         'that was read; only the last 64 MiB were read; 960 MiB skipped')
    assert anomaly['Log errors journal'].endswith(
        'read from 2026-11-18 19:06, entries in between may be missing; too many entries: counting '
        'stopped at 200000; the rest are counted at the next inspection')
    with open(result['paths']['inspection_report.html'], encoding='utf-8') as handle:
        assert 'only the last 64 MiB were read; 960 MiB skipped' in handle.read()


class _Module(object):
    """What check_logs asks of the module: nothing, unless it fails."""

    def fail_json(self, **kwargs):
        raise AssertionError(kwargs)


def test_an_item_from_a_real_scan_reads_the_same_way(tmp_path, templates):
    log = tmp_path / 'flood.log'
    with open(str(log), 'w') as handle:
        for number in range(60000):  # ~1.3 MiB; the last 256 KiB are read
            handle.write('%s line %05d of the dialysis collector log\n'
                         % ('ERROR' if number in (100, 59990) else 'INFO ', number))
    params_ = {'logs': [{'name': 'app', 'path': str(log)}], 'log_max_bytes': 256 * 1024,
               'log_max_samples': 3, 'journal': False}
    items, dummy_metrics = host_inspection.check_logs(
        _Module(), params_, {'log_errors': dict(PAIR)}, {'files': {}, 'journal_cursor': None})
    item = items[0]
    assert (item['value'], item['status'], item['reason']) == (1, 'warning', 'partial_scan')
    assert item['read_bytes'] + item['skipped_bytes'] == os.path.getsize(str(log))
    write_run(tmp_path / 'records', datetime.datetime(2026, 11, 26, 7, 0, tzinfo=TZ),
              [('hd-app-01', 'ok', make_record('inspection', 'hemodialysis', items))])
    sheet = texts_of({'x': build_report(params(tmp_path, formats=['xlsx']),
                                        templates)['paths']['inspection_sheet.xlsx']})['x']
    skipped = Translator('zh').partial_sentences(item)[0]
    assert skipped == '本次仅扫描最后 256 KiB，跳过 %s' % skipped.split('跳过 ')[1]
    assert '日志 app 自上次巡检以来在已扫描部分出现 1 条错误；' + skipped in sheet
