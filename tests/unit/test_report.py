"""The report: record sheet and inspection report from a record store."""

import datetime
import json
import os
import subprocess

import openpyxl
import pytest

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import make_item, make_record
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_report import (
    ReportError,
    build_report,
    period_bounds,
)

TZ = datetime.timezone(datetime.timedelta(hours=8))


def item(name, value, status, unit='%', warning=85, critical=95):
    return make_item(name, value, status, 'm', unit=unit,
                     threshold={'warning': warning, 'critical': critical})


def inspection_record(system, disk, mem=40.0, cpu=10.0):
    status = 'critical' if disk >= 95 else 'ok'
    return make_record('inspection', system, [
        item('disk:/var/lib/postgresql', disk, status),
        item('memory:ram', mem, 'ok'),
        make_item('service:hdis.service', 'active', 'ok', 'ok')],
        {'filesystems': [{'mount': '/', 'percent': disk}], 'memory': {'percent': mem},
         'cpu': {'cpu_percent': cpu}})


def write_run(records, when, results):
    records.mkdir(exist_ok=True)
    run_id = when.strftime('%Y%m%dT%H%M%SZ') + '-%04x' % (len(os.listdir(records)))
    stamp = when.isoformat()
    lines = [{'type': 'run', 'run_id': run_id, 'started': stamp, 'playbook': 'inspect.yml'}]
    for host, status, record in results:
        lines.append({'type': 'result', 'run_id': run_id, 'host': host, 'status': status,
                      'task': 'inspection : Gather the inspection in one module call',
                      'started': stamp, 'ended': stamp, 'operator': 'li.si', 'record': record})
    (records / ('%s.jsonl' % run_id)).write_text(''.join(json.dumps(x) + '\n' for x in lines))


@pytest.fixture
def store(tmp_path):
    records = tmp_path / 'records'
    for day, disk in ((3, 80.0), (10, 96.5), (17, 97.0)):
        write_run(records, datetime.datetime(2026, 11, day, 7, 0, tzinfo=TZ), [
            ('hd-db-01', 'ok', inspection_record('hemodialysis', disk)),
            ('ckd-app-01', 'ok', inspection_record('ckd', 50.0)),
        ])
    unreachable = make_record('inspection', 'ckd', [make_item(
        'host:reachability', 'unreachable', 'critical', 'Host could not be reached', reason='unreachable')])
    write_run(records, datetime.datetime(2026, 11, 24, 7, 0, tzinfo=TZ),
              [('ckd-app-01', 'unreachable', unreachable)])
    # A run in October must not appear in the November documents.
    write_run(records, datetime.datetime(2026, 10, 31, 7, 0, tzinfo=TZ),
              [('hd-db-01', 'ok', inspection_record('hemodialysis', 99.0))])
    return tmp_path


def params(root, **extra):
    base = {
        'records_dir': str(root / 'records'), 'output_dir': str(root / 'out'),
        'annotations_dir': str(root / 'out' / 'annotations'), 'period': 'month',
        'month': '2026-11', 'quarter': '', 'language': 'zh', 'timezone': 'Asia/Shanghai',
        'expected_hosts': {'hd-db-01': 'hemodialysis', 'ckd-app-01': 'ckd', 'pd-app-01': 'pd'},
        'project_lead': '王工', 'hospital': '示例医院', 'hospital_id': 'demo',
        'formats': ['xlsx', 'html', 'pdf'], 'check_mode': False,
    }
    base.update(extra)
    return base


def sheet(path, name):
    ws = openpyxl.load_workbook(path)[name]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    return ws, rows[0], [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]


def test_period_bounds():
    label, start, end = period_bounds('month', '2026-12')
    assert label == '2026-12' and start.isoformat() == '2026-12-01T00:00:00+08:00'
    assert end.isoformat() == '2027-01-01T00:00:00+08:00'
    label, start, end = period_bounds('quarter', quarter='2026-Q4')
    assert (label, start.month, end.year, end.month) == ('2026-Q4', 10, 2027, 1)
    assert period_bounds('month', today=datetime.date(2026, 2, 9))[0] == '2026-02'
    with pytest.raises(ReportError, match=r"report_month: expected a month as YYYY-MM .* got '2026-13'"):
        period_bounds('month', '2026-13')
    with pytest.raises(ReportError, match='report_quarter: expected a quarter as YYYY-Qn'):
        period_bounds('quarter', quarter='Q4')
    with pytest.raises(ReportError, match='report_period: expected month or quarter'):
        period_bounds('year')


def test_sheet_has_one_row_per_item_with_the_contract_columns(store, templates):
    result = build_report(params(store), templates)
    assert result['changed'] and result['label'] == '2026-11'
    xlsx = result['paths']['inspection_sheet.xlsx']
    assert os.path.basename(xlsx) == 'inspection-sheet-2026-11.zh.xlsx'
    wb = openpyxl.load_workbook(xlsx)
    assert wb.sheetnames == ['汇总', '血透信息管理系统', 'CKD 管理系统', '腹透管理系统']
    assert wb['汇总']['A1'].value == '巡检记录单'
    ws, header, rows = sheet(xlsx, '血透信息管理系统')
    rows = [r for r in rows if r['主机'] and r['结果']]
    assert header[:14] == ['巡检时间 (Asia/Shanghai, UTC+08:00)', '系统', '主机', '巡检项目', '测量值',
                           '单位', '警告阈值', '严重阈值', '结果', '异常描述', '异常反馈', '处理结果',
                           '巡检工程师', '状态']
    assert ws.freeze_panes == 'A2' and ws.auto_filter.ref.startswith('A1:')
    assert len(rows) == 3 * 3  # 3 inspections x 3 items, October left out
    disk = [r for r in rows if r['巡检项目'] == '磁盘空间 /var/lib/postgresql']
    assert [r['结果'] for r in disk] == ['正常', '异常', '异常']
    assert disk[1]['测量值'] == 96.5 and disk[1]['单位'] == '%'
    assert (disk[1]['警告阈值'], disk[1]['严重阈值']) == (85, 95)
    assert disk[1]['异常描述'] == '文件系统 /var/lib/postgresql 使用率 96.5%，超过严重阈值 95%'
    assert disk[1]['状态'] == '未解决'
    assert disk[1]['巡检时间 (Asia/Shanghai, UTC+08:00)'] == '2026-11-10 07:00'
    assert disk[1]['巡检工程师'] == 'li.si'
    with open(result['paths']['inspection_sheet.html'], encoding='utf-8') as handle:
        html = handle.read()
    assert '<td>2026-11-10 07:00</td><td>血透信息管理系统</td><td>hd-db-01</td>' in html
    ckd = sheet(xlsx, 'CKD 管理系统')[2]
    assert [r['巡检项目'] for r in ckd if r['结果'] == '异常'] == ['主机可达性']


def test_report_lists_missing_and_unreachable_hosts_and_renders_chinese_pdf(store, templates):
    result = build_report(params(store), templates)
    with open(result['paths']['inspection_report.html'], encoding='utf-8') as handle:
        html = handle.read()
    assert 'pd-app-01' in html and '本期无巡检记录' in html
    assert 'ckd-app-01' in html and '最近一次巡检不可达' in html
    assert '<svg' in html and 'polyline' in html
    assert not any(ref in html for ref in ('src="http', "url(http", '<link', '<script'))
    assert result['missing_hosts'] == ['ckd-app-01', 'pd-app-01']
    text = subprocess.run(['pdftotext', result['paths']['inspection_report.pdf'], '-'], capture_output=True,
                          text=True, check=True).stdout
    for words in ('月度巡检报告', '血透信息管理系统', '未巡检或不可达的主机', '王工', '签字确认'):
        assert words in text
    fonts = subprocess.run(['pdffonts', result['paths']['inspection_report.pdf']], capture_output=True,
                           text=True, check=True).stdout
    assert all(line.split()[-5] == 'yes' for line in fonts.splitlines()[2:])  # every font embedded


def test_english_is_one_variable_away(store, templates):
    zh = build_report(params(store, formats=['xlsx', 'html']), templates)
    result = build_report(params(store, language='en', formats=['xlsx', 'html']), templates)
    assert result['changed'] is True
    header, rows = sheet(result['paths']['inspection_sheet.xlsx'], 'Hemodialysis information system')[1:]
    assert header[:3] == ['Inspection time (Asia/Shanghai, UTC+08:00)', 'System', 'Host']
    assert 'Filesystem /var/lib/postgresql is 96.5% full' in rows[3]['Anomaly']
    with open(result['paths']['inspection_report.html'], encoding='utf-8') as handle:
        assert 'Monthly inspection report' in handle.read()
    # Both languages coexist, and neither makes the other stale.
    for key, path in zh['paths'].items():
        assert os.path.exists(path) and path != result['paths'][key]
        assert path.endswith('.zh.' + key.split('.')[-1])
    assert build_report(params(store, formats=['xlsx', 'html']), templates)['changed'] is False
    assert build_report(params(store, language='en', formats=['xlsx', 'html']),
                        templates)['changed'] is False


def test_second_run_without_new_records_changes_nothing(store, templates):
    first = build_report(params(store), templates)
    mtime = os.path.getmtime(first['paths']['inspection_sheet.xlsx'])
    again = build_report(params(store), templates)
    assert again['changed'] is False
    assert os.path.getmtime(first['paths']['inspection_sheet.xlsx']) == mtime
    write_run(store / 'records', datetime.datetime(2026, 11, 25, 7, 0, tzinfo=TZ),
              [('hd-db-01', 'ok', inspection_record('hemodialysis', 70.0))])
    assert build_report(params(store), templates)['changed'] is True


def test_check_mode_writes_nothing(store, templates):
    result = build_report(params(store, check_mode=True), templates)
    assert result['changed'] is True
    assert not (store / 'out').exists()


def annotate(path, aid, feedback, resolution):
    lines = path.read_text(encoding='utf-8').splitlines()
    start = [i for i, ln in enumerate(lines) if ln.strip().startswith(aid)][0]
    for i in range(start + 1, len(lines)):
        if lines[i].startswith('    feedback:'):
            lines[i] = "    feedback: '%s'   # 已电话通知" % feedback
        elif lines[i].startswith('    resolution:'):
            lines[i] = "    resolution: '%s'" % resolution
            break
    path.write_text('\n'.join(lines) + '\n', encoding='utf-8')


def test_annotations_resolve_anomalies_and_survive_further_runs(store, templates):
    result = build_report(params(store), templates)
    ann = store / 'out' / 'annotations' / '2026-11.yml'
    aid = '2026-11:hd-db-01:disk:/var/lib/postgresql'
    assert aid in result['new_anomalies'] and ann.read_text(encoding='utf-8').startswith('# 巡检异常')
    annotate(ann, aid, '2026-11-10 09:00 告知信息科张工', '清理过期备份，使用率降至 61%')
    result = build_report(params(store), templates)
    assert result['changed'] is True and result['new_anomalies'] == []
    rows = sheet(result['paths']['inspection_sheet.xlsx'], '血透信息管理系统')[2]
    resolved = [r for r in rows if r['异常编号'] == aid]
    assert len(resolved) == 2 and all(r['状态'] == '已解决' for r in resolved)
    assert resolved[0]['处理结果'] == '清理过期备份，使用率降至 61%'
    # A new anomaly appears later: it is appended; the engineer's lines stay byte for byte.
    before = ann.read_text(encoding='utf-8')
    write_run(store / 'records', datetime.datetime(2026, 11, 26, 7, 0, tzinfo=TZ),
              [('hd-db-01', 'ok', make_record('inspection', 'hemodialysis', [
                  item('memory:ram', 97.0, 'critical')]))])
    result = build_report(params(store), templates)
    after = ann.read_text(encoding='utf-8')
    assert result['new_anomalies'] == ['2026-11:hd-db-01:memory:ram']
    assert after.startswith(before)
    assert "feedback: '2026-11-10 09:00 告知信息科张工'   # 已电话通知" in after


@pytest.mark.parametrize('content,expected', [
    ('anomalies:\n  x: {feedback: "a"\n', r'2026-11\.yml:\d+: not valid YAML'),
    ('anomalies:\n  "2026-11:h:i":\n    feedback: ok\n    fedback: typo\n',
     r"2026-11\.yml:4: anomalies\['2026-11:h:i'\]\.fedback: unknown key; expected one of"),
    ('anomalies:\n  "2026-11:h:i":\n    resolution: [a, b]\n',
     r"2026-11\.yml:3: anomalies\['2026-11:h:i'\]\.resolution: expected text, got"),
    ('anomaly: {}\n', r"2026-11\.yml:1: unknown key 'anomaly'"),
    # A number is not a resolution: it used to mark the anomaly resolved.
    ("anomalies:\n  '2026-11:hd-db-01:disk:/var/lib/postgresql':\n    resolution: 42\n",
     r"2026-11\.yml:3: anomalies\['2026-11:hd-db-01:disk:/var/lib/postgresql'\]\.resolution: "
     r"expected text, got int 42"),
    # An id that is no anomaly of the period, with an engineer's words: never silently ignored.
    ("anomalies:\n  '2026-11:hd-db-01:disk:/var/lib/postgres':\n    resolution: '已清理'\n",
     r"2026-11\.yml:2: anomalies\['2026-11:hd-db-01:disk:/var/lib/postgres'\]: not an anomaly of 2026-11"),
    # Saved by a Windows editor in GBK: the line, and the hint to save it as UTF-8.
    (("anomalies:\n  '2026-11:hd-db-01:disk:/var/lib/postgresql':\n    feedback: '电话告知信息科张工'\n")
     .encode('gbk'), r"2026-11\.yml:3: .*not UTF-8 .*GBK.*save it as UTF-8"),
])
def test_malformed_annotations_are_rejected_and_documents_stay(store, templates, content, expected):
    first = build_report(params(store), templates)
    before = dict((k, open(p, 'rb').read()) for k, p in first['paths'].items())
    ann = store / 'out' / 'annotations' / '2026-11.yml'
    raw = content if isinstance(content, bytes) else content.encode('utf-8')
    ann.write_bytes(raw)
    write_run(store / 'records', datetime.datetime(2026, 11, 27, 7, 0, tzinfo=TZ),
              [('hd-db-01', 'ok', inspection_record('hemodialysis', 50.0))])
    with pytest.raises(ReportError, match=expected):
        build_report(params(store), templates)
    assert ann.read_bytes() == raw
    for key, path in first['paths'].items():
        assert open(path, 'rb').read() == before[key], key
    assert not [n for n in os.listdir(store / 'out') if n.startswith('.staging-')]


def test_flow_style_annotations_are_extended_too(store, templates):
    build_report(params(store, formats=['xlsx']), templates)
    ann = store / 'out' / 'annotations' / '2026-11.yml'
    ann.write_text("anomalies: {'2026-11:hd-db-01:disk:/var/lib/postgresql': "
                   "{feedback: 'told Zhang', resolution: 'cleaned'}}\n", encoding='utf-8')
    result = build_report(params(store, formats=['xlsx']), templates)
    import yaml
    data = yaml.safe_load(ann.read_text(encoding='utf-8'))['anomalies']
    assert data['2026-11:hd-db-01:disk:/var/lib/postgresql'] == {'feedback': 'told Zhang',
                                                                 'resolution': 'cleaned'}
    assert len(data) == 1 + len(result['new_anomalies']) and result['new_anomalies']


def test_quarter_collects_three_months(store, templates):
    result = build_report(params(store, period='quarter', quarter='2026-Q4', formats=['xlsx']),
                          templates)
    rows = sheet(result['paths']['inspection_sheet.xlsx'], '血透信息管理系统')[2]
    assert len([r for r in rows if r['主机'] and r['结果']]) == 4 * 3  # October's run is in Q4 too
    assert os.path.basename(result['paths']['inspection_sheet.xlsx']) == 'inspection-sheet-2026-Q4.zh.xlsx'


def test_unknown_format_and_language_are_named(store, templates):
    with pytest.raises(ReportError, match='report_formats: unknown format'):
        build_report(params(store, formats=['odt']), templates)
    with pytest.raises(ValueError, match='report_language: expected one of zh, en'):
        build_report(params(store, language='fr'), templates)


def test_a_failing_writer_leaves_the_previous_documents(store, templates, monkeypatch):
    from ansible_collections.dialysis.ops.plugins.plugin_utils import dialysis_report
    first = build_report(params(store), templates)
    before = dict((k, open(p, 'rb').read()) for k, p in first['paths'].items())
    write_run(store / 'records', datetime.datetime(2026, 11, 28, 7, 0, tzinfo=TZ),
              [('hd-db-01', 'ok', inspection_record('hemodialysis', 50.0))])

    def broken(*args):
        raise IOError('disk full')
    monkeypatch.setitem(dialysis_report.WRITERS, 'xlsx', broken)
    with pytest.raises(ReportError, match=r'writing the inspection_\w+ xlsx failed: OSError: disk full'):
        build_report(params(store), templates)
    for key, path in first['paths'].items():
        assert open(path, 'rb').read() == before[key], key
    assert not [n for n in os.listdir(store / 'out') if n.startswith('.staging-')]
