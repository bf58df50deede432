"""The quarterly performance analysis (issue 9 item 3): a synthetic quarter of
inspection and db_health records (and the quarter before) -> the forecast, the
statements' change, findings, restart decisions, the performance record, and the
季度性能分析报告 in every format and both languages, its PDF laid out cleanly; then
playbooks/performance.yml end to end on the controller."""

import datetime
import json
import os
import subprocess
import sys
import textwrap

import fitz  # PyMuPDF
import pytest
from test_documents import english_words, layout_problems, texts_of
from test_report import params as report_params
from test_report import write_run

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import (
    make_item,
    make_record,
    validate_record,
)
from ansible_collections.dialysis.ops.plugins.plugin_utils import dialysis_perf as perf
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_report import build_report

TZ = datetime.timezone(datetime.timedelta(hours=8))
GiB = 1024 ** 3
MiB = 1024 ** 2


def inspection(day, used_gib, service_mib, uptime_days=40):
    total = 100 * GiB
    metrics = {
        'filesystems': [{'mount': '/var/lib/postgresql', 'percent': round(100.0 * used_gib * GiB / total, 1),
                         'total_bytes': total, 'free_bytes': total - used_gib * GiB}],
        'memory': {'percent': 40.0 + day / 10.0, 'total_bytes': 8 * GiB},
        'cpu': {'cpu_percent': 12.0},
        'uptime_seconds': uptime_days * 86400,
        'services': {
            'dialysis-service.service': {'ActiveState': 'active', 'MemoryCurrent': str(service_mib * MiB)},
            'postgresql@15-main.service': {'ActiveState': 'active', 'MemoryCurrent': str(300 * MiB)}},
    }
    return make_record('inspection', 'hemodialysis', [make_item('cpu:usage', 12.0, 'ok', 'm')], metrics)


def db_health(size_mib, mean_ms, hit=99.8, seq_scan=500):
    figures = {
        'engine': 'postgresql', 'database': 'hemodialysis', 'database_bytes': size_mib * MiB,
        'connections': 30, 'max_connections': 100, 'cache_hit_percent': hit,
        'settings': {'shared_buffers': 128 * MiB, 'work_mem': 4 * MiB},
        'tables': [{'schema': 'public', 'name': 'machine_reading', 'live': 200000, 'seq_scan': seq_scan,
                    'idx_scan': 20, 'seq_tup_read': seq_scan * 200000},
                   {'schema': 'public', 'name': 'patient', 'live': 120, 'seq_scan': 900, 'idx_scan': 0,
                    'seq_tup_read': 108000}],
        'statements': {'by_total': [
            {'id': '11', 'query': 'SELECT * FROM machine_reading WHERE uf_rate_ml_h > $1', 'calls': 400,
             'total_ms': 400 * mean_ms, 'mean_ms': mean_ms},
            {'id': '22', 'query': 'INSERT INTO machine_reading VALUES ($1, $2)', 'calls': 9000,
             'total_ms': 900.0, 'mean_ms': 0.1}], 'by_mean': []}}
    return make_record('db_health', 'hemodialysis',
                       [make_item('db_size:hemodialysis', size_mib * MiB, 'ok', 'm')],
                       {'databases': {'hemodialysis': figures}})


@pytest.fixture
def quarter(tmp_path):
    records = tmp_path / 'records'
    # the quarter before: the slow statement was faster, the insert did not exist
    before = db_health(900, 20.0)
    before['metrics']['databases']['hemodialysis']['statements']['by_total'].pop()
    write_run(records, datetime.datetime(2026, 9, 20, 7, 0, tzinfo=TZ), [('hd-db-01', 'ok', before)])
    for number, day in enumerate((1, 15, 29, 43, 57, 71, 85)):
        when = datetime.datetime(2026, 10, 1, 7, 0, tzinfo=TZ) + datetime.timedelta(days=day - 1)
        write_run(records, when, [('hd-db-01', 'ok', inspection(day, 60 + number * 4, 200 + number * 60)),
                                  ('hd-db-01', 'ok', db_health(1000 + number * 50, 30.0, hit=98.5))])
    return tmp_path


def model_of(root):
    from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import RecordStore
    start = datetime.datetime(2026, 10, 1, tzinfo=TZ)
    return perf.performance_model(RecordStore(str(root / 'records')),
                                  {'tz': TZ, 'start': start, 'end': datetime.datetime(2027, 1, 1, tzinfo=TZ)})


def test_linear_forecast_and_slope():
    t0 = datetime.datetime(2026, 10, 1, tzinfo=TZ)
    points = [(t0 + datetime.timedelta(days=d), 10 + 2 * d) for d in range(5)]
    assert perf.linear_slope(points) == pytest.approx(2.0)
    assert perf.days_to_full(points, 100) == 50.0
    assert perf.days_to_full([(t0, 5), (t0 + datetime.timedelta(days=1), 4)], 100) is None
    assert perf.linear_slope(points[:1]) is None


def test_the_quarter_gives_forecasts_statement_changes_findings_and_decisions(quarter):
    model = model_of(quarter)
    forecast = model['forecasts'][0]
    # 4 GiB every 14 days, 12 GiB... free at the end: 100 - 84 = 16 GiB -> 56 days
    assert forecast['mount'] == '/var/lib/postgresql' and forecast['days_to_full'] == 56.0
    assert forecast['growth_gib_day'] == pytest.approx(4 / 14.0, abs=0.001)
    database = model['databases'][0]
    assert (database['size_start'], database['size_end'], database['growth_percent']) == \
        (1000 * MiB, 1300 * MiB, 30.0)
    statements = dict((s['query'], s) for s in model['statements'])
    slow = statements['SELECT * FROM machine_reading WHERE uf_rate_ml_h > $1']
    assert slow['mean_change'] == 50.0 and not slow['new']
    assert statements['INSERT INTO machine_reading VALUES ($1, $2)']['new']
    keys = sorted((f['key'], f['object']) for f in model['findings'])
    assert keys == [('cache_hit_low', 'hemodialysis'), ('disk_full', '/var/lib/postgresql'),
                    ('missing_index', 'public.machine_reading'), ('shared_buffers', 'hemodialysis')]
    missing = [f for f in model['findings'] if f['key'] == 'missing_index'][0]
    assert missing['figures']['statement'].startswith('SELECT * FROM machine_reading')
    decisions = dict((d['service'], d) for d in model['decisions'])
    leak = decisions['dialysis-service.service']
    assert leak['needed'] and leak['reason'] == 'memory_growth'
    assert (leak['first_mib'], leak['last_mib']) == (200, 560)
    assert not decisions['postgresql@15-main.service']['needed']
    record = perf.performance_record(model)
    assert validate_record(record) == [] and record['kind'] == 'performance'
    items = dict((i['item'], i) for i in record['items'])
    assert items['restart_decision:hd-db-01/dialysis-service.service']['value'] == 'needed'
    assert items['restart_decision:hd-db-01/postgresql@15-main.service']['status'] == 'ok'


def test_a_long_uptime_asks_for_a_planned_restart():
    entry = {'services': {'x.service': {}}, 'rss': {}, 'uptime': 200 * 86400}
    decision = perf.restart_decisions('h', entry)[0]
    assert decision['needed'] and decision['reason'] == 'uptime'


@pytest.mark.parametrize('language', ['zh', 'en'])
def test_the_quarterly_performance_report_renders_in_every_format(quarter, templates, language):
    params = report_params(quarter, period='quarter', month='', quarter='2026-Q4', language=language,
                           documents=['performance_report'], formats=['xlsx', 'html', 'pdf', 'docx'],
                           expected_hosts={'hd-db-01': 'hemodialysis'})
    result = build_report(params, templates)
    paths = result['paths']
    assert sorted(paths) == ['performance_report.docx', 'performance_report.html', 'performance_report.pdf',
                             'performance_report.xlsx']
    assert os.path.basename(paths['performance_report.pdf']) == \
        'quarterly-performance-report-2026-Q4.%s.pdf' % language
    problems = layout_problems(paths['performance_report.pdf'])
    assert not problems, '\n'.join(problems[:20])
    texts = texts_of(dict((k, v) for k, v in paths.items()))
    for key, text in texts.items():
        if language == 'zh':
            for sentence in ('季度性能分析报告', '预计 56 天内写满', '需要重启',
                             '服务 dialysis-service.service 内存持续增长', '200 MiB → 560 MiB',
                             'shared_buffers 调整为约内存的 25%', '本季度新出现', '+50.0%'):
                assert sentence in text.replace('\n', ''), (key, sentence)
            # English only inside SQL texts, setting names and identifiers
            allowed = {'SELECT', 'FROM', 'WHERE', 'INSERT', 'INTO', 'VALUES', 'machine', 'reading', 'rate',
                       'shared', 'buffers', 'innodb', 'buffer', 'pool', 'size', 'public', 'hemodialysis',
                       'dialysis', 'service', 'postgresql', 'main', 'CONCURRENTLY', 'CREATE', 'INDEX', 'MiB',
                       'GiB', 'lib', 'var'}
            leftover = [w for w in english_words(text) if w.split(' ')[0] not in allowed]
            assert not leftover, (key, leftover[:10])
        else:
            assert 'Quarterly performance analysis' in text
            assert 'is full in 56 days' in text.replace('\n', ' ')
    with fitz.open(paths['performance_report.pdf']) as pdf:
        assert pdf.page_count >= 2


def run_performance(root, repo_root, *extra):
    """playbooks/performance.yml for 2026-Q4 on the controller, with root's record store
    and documents: (returncode, stdout + stderr)."""
    inventory = root / 'hosts.yml'
    inventory.write_text(textwrap.dedent('''
        all:
          vars:
            dialysis_hospital_id: demo
            dialysis_hospital: 示例医院
            dialysis_project_lead: 王工
          hosts:
            localhost:
              ansible_connection: local
              ansible_python_interpreter: "{{ ansible_playbook_python }}"
        '''))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(repo_root, 'ansible.cfg'),
               DIALYSIS_RECORDS_DIR=str(root / 'records'), DIALYSIS_REPORTS_DIR=str(root / 'reports'),
               PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))
    playbook = os.path.join(repo_root, 'playbooks', 'performance.yml')
    argv = ['ansible-playbook', '-i', str(inventory), playbook, '-e', 'performance_quarter=2026-Q4']
    argv += list(extra)
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def test_the_playbook_records_the_decisions_and_writes_the_document(quarter, repo_root):
    rc, out = run_performance(quarter, repo_root)
    assert rc == 0, out[-5000:]
    assert (quarter / 'reports' / '2026-Q4' / 'quarterly-performance-report-2026-Q4.zh.pdf').exists()
    performance = []
    for name in os.listdir(quarter / 'records'):
        if name.endswith('.jsonl') and name != 'index.jsonl':
            for line in (quarter / 'records' / name).read_text().splitlines():
                entry = json.loads(line)
                if (entry.get('record') or {}).get('kind') == 'performance':
                    performance.append(entry['record'])
    assert len(performance) == 1
    items = dict((i['item'], i) for i in performance[0]['items'])
    assert items['restart_decision:hd-db-01/dialysis-service.service']['value'] == 'needed'
