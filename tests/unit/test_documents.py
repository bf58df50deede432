"""The document family: every declared type in every format, checked by reading
the files back (PyMuPDF for PDF layout and text, openpyxl, python-docx)."""

import datetime
import json
import os
import re

import docx
import fitz  # PyMuPDF
import openpyxl
import pytest
from test_report import TZ, item, write_run
from test_report import params as report_params

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import make_item, make_record
from ansible_collections.dialysis.ops.plugins.plugin_utils import dialysis_doc_spec as spec
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_i18n import Translator
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_report import build_report

HOSTS = {'hd-db-01': 'hemodialysis', 'hd-app-01': 'hemodialysis', 'ckd-app-01': 'ckd',
         'pd-app-01': 'pd', 'hd-ws-nurse-01': 'hemodialysis'}
LONG_MOUNT = '/var/lib/dialysis/archive/very-long-directory-name-for-collected-machine-data'
PATHS = (LONG_MOUNT, '/opt/dialysis/logs/app.log', '/var/log/dpkg.log')


def rich_record(system, disk, mem=40.0, cpu=10.0, extra=()):
    status = 'critical' if disk >= 95 else 'ok'
    items = [item('disk:' + LONG_MOUNT, disk, status),
             item('memory:ram', mem, 'ok'),
             item('cpu:load', 0.37, 'ok', unit='per core', warning=2, critical=4),
             {'item': 'system:uptime', 'value': 864000, 'unit': 's', 'status': 'ok', 'message': 'Up'},
             {'item': 'process:top', 'value': 'java 12%, postgres 3%', 'status': 'ok', 'message': 'x'},
             {'item': 'service:hdis.service', 'value': 'active', 'status': 'ok', 'message': 'ok'},
             {'item': 'service:cron.service', 'value': None, 'status': 'error', 'reason': 'no_systemd',
              'message': 'Cannot check cron.service: systemd is not running and there is no init '
                         'script /etc/init.d/cron'},
             {'item': 'clock:sync', 'value': 'unsynchronised', 'status': 'warning',
              'message': 'Clock is not synchronised to a time source'},
             {'item': 'log:app', 'value': None, 'status': 'warning', 'reason': 'not_found',
              'path': '/opt/dialysis/logs/app.log', 'message': 'Log /opt/dialysis/logs/app.log not found'},
             {'item': 'log:dpkg', 'value': None, 'status': 'skipped', 'reason': 'not_found',
              'path': '/var/log/dpkg.log', 'message': 'Log /var/log/dpkg.log not found'},
             {'item': 'widget:frobnicator', 'value': 'wobbly', 'status': 'warning',
              'message': 'Frobnicator is wobbly'},
             # clinical items (dialysis_clinical)
             {'item': 'machine_data:hemodialysis', 'value': 19, 'unit': 'machines', 'status': 'ok',
              'total': 20, 'silent': ['HD-07'], 'message': '19 of 20 dialysis machines sent a reading'},
             {'item': 'machine:HD-07', 'value': 12.5, 'unit': 'min', 'status': 'critical',
              'threshold': {'warning': 5, 'critical': 10}, 'message': 'No reading from HD-07'},
             {'item': 'queue:his-outbound-failed', 'value': 60, 'unit': 'messages', 'status': 'critical',
              'threshold': {'warning': 1, 'critical': 20}, 'message': '60 failed messages'},
             {'item': 'endpoint:lis-results', 'value': 'unreachable', 'status': 'critical',
              'reason': 'endpoint_refused', 'target': '10.20.1.16:2576', 'protocol': 'mllp',
              'message': 'MLLP endpoint 10.20.1.16:2576 does not accept connections (refused)'},
             {'item': 'endpoint:his-adt', 'value': 'reachable', 'status': 'ok', 'target': '10.20.1.15:2575',
              'message': 'MLLP endpoint accepts connections'},
             {'item': 'collector:dialysis-collector.service', 'value': 'inactive', 'status': 'critical',
              'message': 'Service dialysis-collector.service is inactive (dead)'}] + list(extra)
    return make_record('inspection', system, items,
                       {'filesystems': [{'mount': '/', 'percent': disk}], 'memory': {'percent': mem},
                        'cpu': {'cpu_percent': cpu}})


@pytest.fixture
def rich(tmp_path):
    records = tmp_path / 'records'
    for day, disk in ((3, 80.0), (10, 96.5), (17, 97.0)):
        write_run(records, datetime.datetime(2026, 11, day, 7, 0, tzinfo=TZ), [
            ('hd-db-01', 'ok', rich_record('hemodialysis', disk)),
        ])
    # One inspection only: a sentence, not an empty chart.
    write_run(records, datetime.datetime(2026, 11, 5, 7, 0, tzinfo=TZ),
              [('hd-app-01', 'ok', rich_record('hemodialysis', 50.0))])
    unreachable = make_record('inspection', 'ckd', [make_item(
        'host:reachability', 'unreachable', 'critical', 'Host could not be reached: ssh timeout',
        reason='unreachable')])
    write_run(records, datetime.datetime(2026, 11, 24, 7, 0, tzinfo=TZ),
              [('ckd-app-01', 'unreachable', unreachable)])
    # Changes of the month: the guard refused a restart in the shift, then let one
    # through on an override; a restart record of each app host.
    for day, verdict in ((12, GUARD_REFUSED), (12, GUARD_OVERRIDDEN)):
        write_guard_run(records, datetime.datetime(2026, 11, day, 10, 0, tzinfo=TZ), verdict)
    write_run(records, datetime.datetime(2026, 11, 12, 10, 5, tzinfo=TZ), [
        ('hd-app-01', 'changed', make_record('restart', 'hemodialysis', [make_item(
            'service:dialysis-service.service', 4.2, 'ok', 'Restarted; healthy after 4.2 s', unit='s')],
            reason='内存持续增长', ticket='CHG-2026-0142'))])
    return tmp_path


GUARD_SYSTEMS = {'hemodialysis': {'hosts': ['hd-app-01', 'hd-app-02'], 'in_shift': True, 'running': 12,
                                  'check': 'url', 'reasons': ['in_shift', 'treatments_running']},
                 'pd': {'hosts': ['pd-app-01'], 'in_shift': False, 'running': 0, 'check': 'none',
                        'reasons': []}}
GUARD_REFUSED = {'duty': 'restart', 'decision': 'refused', 'ticket': 'CHG-2026-0141', 'check_mode': False,
                 'reasons': ['in_shift', 'treatments_running'], 'systems': GUARD_SYSTEMS,
                 'hosts': ['hd-app-01', 'hd-app-02', 'pd-app-01']}
GUARD_OVERRIDDEN = dict(GUARD_REFUSED, decision='overridden', ticket='CHG-2026-0142',
                        override={'reason': '数据库连接池耗尽，透析记录无法保存，必须立即重启',
                                  'operator': '王工'})


def write_guard_run(records, when, verdict):
    """A run whose guard task left its verdict in the store, as the callback writes it."""
    run_id = when.strftime('%Y%m%dT%H%M%SZ') + '-g%03x' % len(os.listdir(records))
    stamp = when.isoformat()
    lines = [{'type': 'run', 'run_id': run_id, 'started': stamp, 'playbook': 'restart.yml'},
             {'type': 'result', 'run_id': run_id, 'host': 'hd-app-01', 'status': 'ok',
              'task': 'treatment_guard : Decide', 'started': stamp, 'ended': stamp, 'operator': 'li.si',
              'guard': dict(verdict, at=stamp)}]
    (records / ('%s.jsonl' % run_id)).write_text(''.join(json.dumps(x) + '\n' for x in lines))


def params(root, **extra):
    """test_report's parameters, with this store's hosts and every format."""
    return dict(report_params(root, expected_hosts=dict(HOSTS), not_inspectable=['hd-ws-nurse-01'],
                              formats=list(spec.FORMATS)), **extra)


@pytest.fixture
def built(rich, templates):
    return dict((lang, build_report(params(rich, language=lang), templates)) for lang in ('zh', 'en'))


# -- PDF layout ---------------------------------------------------------------------
def overlaps(a, b, tol=0.6):
    return (min(a[2], b[2]) - max(a[0], b[0]) > tol) and (min(a[3], b[3]) - max(a[1], b[1]) > tol)


def layout_problems(path):
    problems = []
    with fitz.open(path) as pdf:
        for number, page in enumerate(pdf, 1):
            width, height = page.rect.width, page.rect.height
            chars = []
            for block in page.get_text('rawdict')['blocks']:
                for line in block.get('lines', ()):
                    for span in line['spans']:
                        for char in span['chars']:
                            if char['c'].strip():
                                chars.append((char['c'], fitz.Rect(char['bbox'])))
            for c, box in chars:
                if box.x1 > width + 0.5 or box.y1 > height + 0.5:
                    problems.append('page %d: %r beyond the page edge at %s' % (number, c, box))
            # Glyph boxes are font ascent..descent; shrink vertically to the ink band of the line
            # so that lines set at line-height 1.35 do not count as overlapping.
            boxes = [(c, (b.x0, b.y0 + b.height * 0.2, b.x1, b.y1 - b.height * 0.2)) for c, b in chars]
            boxes.sort(key=lambda x: x[1][0])
            for i, (c, a) in enumerate(boxes):
                for d, b in boxes[i + 1:]:
                    if b[0] >= a[2]:
                        break
                    if overlaps(a, b):
                        problems.append('page %d: %r overlaps %r at %s / %s' % (number, c, d, a, b))
            # Text inside its table cell: a char's box must lie within the drawn cell rectangle
            # that contains its centre.
            cells = [fitz.Rect(d['rect']) for d in page.get_drawings() if d.get('rect') is not None
                     and d['rect'].width > 4 and d['rect'].height > 4]
            for c, box in chars:
                centre = fitz.Point((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2)
                inside = [r for r in cells if r.contains(centre)]
                if inside:
                    cell = min(inside, key=lambda r: r.width * r.height)
                    if box.x1 > cell.x1 + 1.0 or box.x0 < cell.x0 - 1.0:
                        problems.append('page %d: %r leaves its cell %s (%s)' % (number, c, cell, box))
    return problems


@pytest.mark.parametrize('language', ['zh', 'en'])
def test_every_document_pdf_has_no_overprint_and_nothing_clipped(built, language):
    pdfs = [p for k, p in built[language]['paths'].items() if k.endswith('.pdf')]
    assert len(pdfs) == len(built[language]['documents']) == 2
    for path in pdfs:
        problems = layout_problems(path)
        assert not problems, '%s:\n%s' % (os.path.basename(path), '\n'.join(problems[:20]))


# -- no English in the Chinese documents ---------------------------------------------
ALLOWED = {'CPU', 'CKD', 'PDF', 'IP', 'UTC', 'Asia', 'Shanghai', 'Windows',
           'java', 'postgres',  # process names (identifiers)
           'app', 'dpkg',  # log names from the inventory (identifiers)
           'wobbly',  # the raw value of an item key no catalogue knows (its sentence is generic)
           'his', 'adt', 'lis', 'results', 'outbound', 'failed',  # interface names from the inventory
           'CHG'}  # change ticket ids (CHG-2026-0142) of the hospital's change process


def texts_of(paths):
    out = {}
    for key, path in paths.items():
        if path.endswith('.html'):
            with open(path, encoding='utf-8') as handle:
                html = handle.read()
            html = re.sub(r'<style>.*?</style>', ' ', html, flags=re.S)
            html = re.sub(r'<svg.*?</svg>', lambda m: ' '.join(re.findall(r'>([^<]*)<', m.group(0))),
                          html, flags=re.S)
            out[key] = re.sub(r'<[^>]+>', ' ', html)
        elif path.endswith('.pdf'):
            with fitz.open(path) as pdf:
                out[key] = '\n'.join(page.get_text() for page in pdf)
        elif path.endswith('.xlsx'):
            book = openpyxl.load_workbook(path)
            out[key] = '\n'.join(str(c.value) for ws in book for row in ws.iter_rows()
                                 for c in row if c.value is not None)
        elif path.endswith('.docx'):
            word = docx.Document(path)
            parts = [p.text for p in word.paragraphs]
            parts += [c.text for table in word.tables for row in table.rows for c in row.cells]
            out[key] = '\n'.join(parts)
    return out


def english_words(text):
    found = set()
    for token in re.split(r'[\s，。、：；（）()【】,;]+', text):
        if not token or token.startswith('/') or re.match(r'^[\w.-]+:', token):
            continue  # paths, item keys (disk:/var), anomaly ids (2026-11:host:item)
        if token in HOSTS or token.rstrip('.,') in HOSTS or re.match(r'^[\w-]+\.service$', token):
            continue
        if any(token in path for path in PATHS):
            continue  # a path the PDF wrapped over two lines
        if token.endswith('-') or token.startswith('collector.'):
            continue  # a unit name (dialysis-collector.service) the PDF wrapped at its hyphen
        for word in re.findall(r'[A-Za-z]{3,}', token):
            if word not in ALLOWED and word.lower() not in ('mib', 'gib'):
                found.add('%s (in %r)' % (word, token))
    return found


def test_chinese_documents_hold_no_english_sentences(built):
    texts = texts_of(built['zh']['paths'])
    assert set(k.split('.')[-1] for k in texts) == set(spec.FORMATS)
    for key, text in texts.items():
        assert not english_words(text), '%s: %s' % (key, sorted(english_words(text))[:15])
    sheet = texts['inspection_sheet.xlsx']
    for sentence in ('日志 app 未找到（/opt/dialysis/logs/app.log）', '未检查', '未同步', '运行中',
                     '无法检查服务 cron.service：主机未运行服务管理器，也没有对应的启动脚本',
                     '检查项 widget:frobnicator 状态为警告', 'Windows 主机：暂不支持自动巡检，需人工巡检',
                     '透析机 HD-07 数据上传', '透析机数据采集（血透信息管理系统）',
                     '治疗时段内透析机 HD-07 已 12.5 分钟无数据上传，超过严重阈值 10 分钟',
                     '接口队列 his-outbound-failed 有 60 条发送失败的消息积压，超过严重阈值 20 条',
                     '接口 lis-results（10.20.1.16:2576）拒绝连接：端口无服务监听',
                     '数据采集服务 dialysis-collector.service 状态为未运行（应为运行中）', '可连接'):
        assert sentence in sheet, sentence
    assert '出现  条' not in sheet and 'Cannot check' not in sheet
    # The module's message stays available to engineers: a tooltip in the HTML sheet only.
    with open(built['zh']['paths']['inspection_sheet.html'], encoding='utf-8') as handle:
        assert 'title="Cannot check cron.service: systemd is not running' in handle.read()
    english = texts_of({'x': built['en']['paths']['inspection_sheet.xlsx']})['x']
    assert 'Log app not found (/opt/dialysis/logs/app.log)' in english and 'Not checked' in english


# -- XLSX -------------------------------------------------------------------------------
def test_xlsx_numbers_print_setup_signatures_and_hosts_not_inspected(built):
    book = openpyxl.load_workbook(built['zh']['paths']['inspection_sheet.xlsx'])
    for ws in book:
        assert ws.page_setup.orientation == 'landscape' and ws.page_setup.paperSize in (9, '9')
        assert ws.sheet_properties.pageSetUpPr.fitToPage and ws.page_setup.fitToWidth in (1, None)
        assert ws.page_setup.fitToHeight in (0, '0')
        assert ws.print_title_rows and ws.page_margins.left == pytest.approx(0.4)
        values = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
        assert '运维方项目负责人' in values and '医院信息科确认' in values and '王工' in values, ws.title
    summary = book['汇总']
    assert summary['A1'].value == '巡检记录单'
    hd = book['血透信息管理系统']
    rows = [[c.value for c in row] for row in hd.iter_rows()]
    header = rows[0]
    assert header[0] == '巡检时间 (Asia/Shanghai, UTC+08:00)'
    by = [dict(zip(header, r, strict=True)) for r in rows[1:] if r[2]]
    load = [r for r in by if r['巡检项目'] == 'CPU 每核负载'][0]
    assert load['测量值'] == 0.37 and load['单位'] == '每核' and load['严重阈值'] == 4
    uptime = [r for r in by if r['巡检项目'] == '运行时间'][0]
    assert uptime['测量值'] == 10.0 and uptime['单位'] == '天'
    value_col = header.index('测量值') + 1
    cell = [c for c in hd.iter_rows(min_col=value_col, max_col=value_col) if c[0].value == 0.37][0][0]
    assert cell.data_type == 'n' and cell.number_format == '0.0#'
    missing = [r for r in by if r['结果'] == '未巡检']
    assert [r['主机'] for r in missing] == ['hd-ws-nurse-01']
    assert missing[0]['异常描述'] == 'Windows 主机：暂不支持自动巡检，需人工巡检'
    pd_rows = list(book['腹透管理系统'].iter_rows(values_only=True))
    assert any(r[2] == 'pd-app-01' and r[8] == '未巡检' and r[9] == '本期无巡检记录' for r in pd_rows)
    # Summary counts agree with the sheets: hd has 3 hosts, 2 inspected, 1 not inspected.
    srows = list(summary.iter_rows(values_only=True))
    hd_line = [r for r in srows if r[0] == '血透信息管理系统'][0]
    assert hd_line[1:4] == (3, 2, 1)
    # The Windows host is not an anomaly; the never-inspected one is.
    assert built['zh']['not_inspectable_hosts'] == ['hd-ws-nurse-01']
    assert 'hd-ws-nurse-01' not in ' '.join(built['zh']['new_anomalies'])
    assert '2026-11:pd-app-01:inspection:missing' in built['zh']['new_anomalies']


# -- DOCX ---------------------------------------------------------------------------------
def test_docx_has_the_same_rows_as_the_xlsx(built):
    paths = built['zh']['paths']
    word = docx.Document(paths['inspection_sheet.docx'])
    book = openpyxl.load_workbook(paths['inspection_sheet.xlsx'])
    ws = book['血透信息管理系统']
    header = [c.value for c in next(ws.iter_rows())]
    xrows = [r for r in ws.iter_rows(min_row=2, values_only=True) if r[2] and r[8]]
    table = [t for t in word.tables if t.rows[0].cells[0].text.startswith('巡检时间')][0]
    dheader = [c.text for c in table.rows[0].cells]
    drows = [[c.text for c in row.cells] for row in table.rows[1:]]
    assert len(drows) == len(xrows)
    for key in ('巡检时间 (Asia/Shanghai, UTC+08:00)', '主机', '巡检项目', '结果', '异常描述'):
        xi, di = header.index(key), dheader.index(key)
        assert [r[di] for r in drows] == [r[xi] or '' for r in xrows], key
    text = '\n'.join(p.text for p in word.paragraphs) + '\n'.join(
        c.text for t in word.tables for r in t.rows for c in r.cells)
    assert '巡检记录单' in text and '运维方项目负责人' in text and '医院信息科确认' in text
    assert word.sections[0].page_width > word.sections[0].page_height  # landscape
    report = docx.Document(paths['inspection_report.docx'])
    rtext = '\n'.join(c.text for t in report.tables for r in t.rows for c in r.cells)
    assert '未解决' in rtext and '运维方项目负责人' in rtext


# -- trends ----------------------------------------------------------------------------------
def test_trends_draw_charts_only_for_two_points_or_more(built):
    with open(built['zh']['paths']['inspection_report.html'], encoding='utf-8') as handle:
        html = handle.read()
    assert html.count('<svg') == 1  # hd-db-01 (3 inspections); hd-app-01 had one, ckd none
    assert '本期仅一次巡检（2026-11-05 07:00）：磁盘 50%、内存 40%、CPU 10%' in html
    assert '本系统本期无趋势数据。' in html  # ckd: unreachable only, pd: never inspected


# -- a later duty declares its document and gets every format ------------------------------
def test_a_new_document_type_is_only_a_declaration(tmp_path, templates):
    from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_writers import write

    def model(store, ctx):
        return {'rows': [{'host': 'hd-db-01', 'size': 12.5, 'result': '正常'},
                         {'host': 'pd-db-01', 'size': 3, 'result': '异常', '_class': 'r-critical'}]}

    def sections(model, ctx):
        t = ctx['t']
        return [spec.Table([spec.Column('host', 'col_host', 14), spec.Column('size', 'col_value', 9, '0.0'),
                            spec.Column('result', 'col_result', 8, status=True)], model['rows'],
                           title=t('sec_summary'), main=True),
                spec.Signatures([(t('vendor_signature'), ctx['project_lead'])], title=t('sec_signatures'))]

    doc_type = spec.DocumentType(name='backup_check_record', title='sheet_title', file_stem='backup-check',
                                 kinds=('backup_check',), model=model, sections=sections)
    t = Translator('zh')
    ctx = {'t': t, 'tzcap': 'Asia/Shanghai, UTC+08:00', 'label': '2026-11', 'language': 'zh',
           'project_lead': '王工'}
    doc = spec.Document(doc_type.name, t(doc_type.title), [(t('period'), '2026-11')],
                        doc_type.sections(doc_type.model(None, ctx), ctx), 'zh', first_sheet='汇总')
    for fmt in spec.FORMATS:
        path = str(tmp_path / doc_type.file_name(ctx, fmt))
        write(fmt, doc, ctx, path, templates)
        assert os.path.getsize(path) > 0
    assert os.path.basename(path) == 'backup-check-2026-11.zh.docx'
    rows = list(openpyxl.load_workbook(str(tmp_path / 'backup-check-2026-11.zh.xlsx'))['汇总']
                .iter_rows(values_only=True))
    assert ('hd-db-01', 12.5, '正常') in [r[:3] for r in rows]


def test_role_refuses_a_missing_or_malformed_hospital_id(rich, templates, repo_root):
    import yaml
    with open(os.path.join(repo_root, 'roles', 'report', 'tasks', 'main.yml'), encoding='utf-8') as handle:
        tasks = yaml.safe_load(handle)
    check = tasks[0]['ansible.builtin.assert']
    assert "^[a-z0-9][a-z0-9_-]*$" in check['fail_msg'] and 'dialysis_hospital_id' in check['fail_msg']
    assert 'group_vars/all.yml' in check['fail_msg'] and 'dialysis_hospital:' in check['fail_msg']


def test_quarterly_report_shows_the_monthly_feedback_and_resolution(rich, templates):
    build_report(params(rich, formats=['html']), templates)
    ann = rich / 'out' / 'annotations' / '2026-11.yml'
    aid = '2026-11:hd-db-01:disk:%s' % LONG_MOUNT
    text = ann.read_text(encoding='utf-8')
    assert aid in text
    lines = text.splitlines()
    start = [i for i, ln in enumerate(lines) if ln.strip().startswith(aid)][0]
    for i in range(start + 1, len(lines)):
        if lines[i].strip().startswith('feedback:'):
            lines[i] = "    feedback: '11-10 09:00 电话告知信息科张工'"
        elif lines[i].strip().startswith('resolution:'):
            lines[i] = "    resolution: '归档旧数据，使用率降至 60%'"
            break
    ann.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    result = build_report(params(rich, period='quarter', quarter='2026-Q4', formats=['html', 'docx']),
                          templates)
    with open(result['paths']['inspection_report.html'], encoding='utf-8') as handle:
        html = handle.read()
    assert '季度巡检报告' in html and '2026-11: 11-10 09:00 电话告知信息科张工' in html
    assert '归档旧数据，使用率降至 60%' in html and '已解决' in html
    word = docx.Document(result['paths']['inspection_report.docx'])
    assert any('归档旧数据' in c.text for t in word.tables for r in t.rows for c in r.cells)


@pytest.mark.parametrize('language, expected', [
    ('zh', ['变更与治疗时段守护记录', '治疗时段守护：拒绝重启', '血透信息管理系统处于治疗时段',
            '血透信息管理系统有 12 例治疗正在进行', '已拒绝，未做任何变更', '治疗时段守护：越权放行重启',
            '越权原因：数据库连接池耗尽，透析记录无法保存，必须立即重启', '王工', 'CHG-2026-0142', '服务重启',
            '服务 dialysis-service.service', '内存持续增长']),
    ('en', ['Changes and treatment-hours guard', 'Treatment-hours guard refused: restart',
            'Hemodialysis information system: 12 treatment(s) running', 'Refused; nothing was changed',
            'Treatment-hours guard overridden: restart', 'Service restart']),
])
def test_the_monthly_report_lists_changes_guard_refusals_and_overrides(built, language, expected):
    texts = texts_of(built[language]['paths'])
    for fmt in ('html', 'pdf', 'docx', 'xlsx'):
        text = texts['inspection_report.' + fmt]
        flat = re.sub(r'\s+', '', text)
        missing = [e for e in expected if re.sub(r'\s+', '', e) not in flat]
        assert not missing, (fmt, missing)
    # Refusals and overrides are not anomalies of any host.
    assert 'guard' not in ' '.join(texts['inspection_sheet.html'].split()).lower()
