"""The restart decision of the quarterly performance analysis (issue 9 item 3): its
reasons from the data (memory growth, a pending kernel or library update from the patch
records, uptime) and the engineer's changes to it through the quarter's
``<quarter>-restart.yml`` - the same append-only, validated file mechanism as the
anomalies' annotations: the report run writes one entry per service; an engineer's
decision (with reason and name) wins in the document and in the recorded performance
record; a malformed file stops the run naming the file, line and key, and nothing is
written."""

import datetime
import json
import os

import pytest
import yaml
from test_documents import layout_problems, texts_of
from test_performance import TZ, db_health, inspection, model_of, run_performance
from test_report import params as report_params
from test_report import write_run

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import make_item, make_record
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_annotations import (
    RESTART_DECISIONS,
    AnnotationError,
    Annotations,
)
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_period import ReportError
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_report import build_report

LEAK = '2026-Q4:hd-db-01:dialysis-service.service'
STEADY = '2026-Q4:hd-db-01:postgresql@15-main.service'


def patch_record(outcome, packages=(), reboot_required=False, rebooted=False):
    items = [make_item('package:%s' % name, '1 -> 2', 'ok', 'm', reason='pending') for name in packages]
    items.append(make_item('patch:outcome', outcome, 'ok', 'm'))
    metrics = {'outcome': outcome, 'packages': len(packages), 'reboot_required': reboot_required,
               'rebooted': rebooted}
    return make_record('patch', 'hemodialysis', items, metrics, outcome=outcome)


def quarter_with(root, service_mib, patches=()):
    """Seven inspections of hd-db-01 in 2026-Q4 (the service's memory from service_mib(n)),
    its database health, and the patch records given as (day, record)."""
    records = root / 'records'
    for number, day in enumerate((1, 15, 29, 43, 57, 71, 85)):
        when = datetime.datetime(2026, 10, 1, 7, 0, tzinfo=TZ) + datetime.timedelta(days=day - 1)
        write_run(records, when, [('hd-db-01', 'ok', inspection(day, 60, service_mib(number))),
                                  ('hd-db-01', 'ok', db_health(1000, 30.0))])
    for day, record in patches:
        write_run(records, datetime.datetime(2026, 10, 1, 9, 0, tzinfo=TZ) + datetime.timedelta(days=day - 1),
                  [('hd-db-01', 'ok', record)])
    return root


def decisions_of(root):
    return dict((d['service'], d) for d in model_of(root)['decisions'])


def test_a_reboot_left_pending_by_a_patch_run_asks_for_a_restart(tmp_path):
    quarter_with(tmp_path, lambda n: 300, [(20, patch_record('applied', ['libc6'], reboot_required=True))])
    decision = decisions_of(tmp_path)['dialysis-service.service']
    assert decision['needed'] and decision['reason'] == 'pending_reboot'
    assert decision['patched'] == '2026-10-20'


def test_pending_updates_listed_by_a_check_mode_run_name_a_kernel_when_there_is_one(tmp_path):
    quarter_with(tmp_path, lambda n: 300,
                 [(20, patch_record('would_apply', ['linux-image-amd64', 'openssl']))])
    decision = decisions_of(tmp_path)['postgresql@15-main.service']
    assert decision['needed'] and decision['reason'] == 'pending_kernel' and decision['packages'] == 2


def test_the_newest_patch_record_decides_and_a_reboot_done_asks_for_nothing(tmp_path):
    quarter_with(tmp_path, lambda n: 300, [
        (10, patch_record('would_apply', ['openssl'])),
        (30, patch_record('applied', ['openssl'], reboot_required=True, rebooted=True))])
    decision = decisions_of(tmp_path)['dialysis-service.service']
    assert not decision['needed'] and decision['reason'] == 'memory_steady'


def test_memory_growth_is_named_before_a_pending_update(tmp_path):
    quarter_with(tmp_path, lambda n: 200 + n * 60, [(20, patch_record('would_apply', ['openssl']))])
    decisions = decisions_of(tmp_path)
    assert decisions['dialysis-service.service']['reason'] == 'memory_growth'
    assert decisions['postgresql@15-main.service']['reason'] == 'pending_updates'


def build(root, language='zh', **extra):
    params = report_params(root, period='quarter', month='', quarter='2026-Q4', language=language,
                           documents=['performance_report'], formats=['html', 'pdf'],
                           expected_hosts={'hd-db-01': 'hemodialysis'})
    params.update(extra)
    return build_report(params, os.path.join(os.path.dirname(__file__), '..', '..', 'roles', 'report',
                                             'templates'))


def restart_file(root):
    return root / 'out' / 'annotations' / '2026-Q4-restart.yml'


def test_the_report_run_writes_one_entry_per_service_for_the_engineers(tmp_path):
    quarter_with(tmp_path, lambda n: 200 + n * 60)
    result = build(tmp_path, check_mode=True)
    assert result['changed'] and not restart_file(tmp_path).exists()
    result = build(tmp_path)
    assert result['restart_decisions'] == str(restart_file(tmp_path))
    text = restart_file(tmp_path).read_text(encoding='utf-8')
    assert text.startswith('# 服务重启决定（2026-Q4）')
    entries = yaml.safe_load(text)['restart_decisions']
    assert sorted(entries) == [LEAK, STEADY]
    assert entries[LEAK]['analysis'] == 'needed' and entries[STEADY]['analysis'] == 'not_needed'
    assert '内存持续增长' in entries[LEAK]['analysis_reason']
    assert entries[LEAK]['engineer_decision'] == '' and entries[LEAK]['engineer'] == ''
    # a second run changes nothing
    assert not build(tmp_path)['changed']
    assert restart_file(tmp_path).read_text(encoding='utf-8') == text


def engineer_decides(root, aid, **fields):
    path = restart_file(root)
    text = path.read_text(encoding='utf-8')
    lines = text.split('\n')
    at = next(i for i, line in enumerate(lines) if line.strip().rstrip(':').strip("'\"") == aid)
    for key, value in fields.items():
        for i in range(at + 1, len(lines)):
            if lines[i].strip().startswith(key + ':'):
                lines[i] = '    %s: %s' % (key, value)
                break
        else:
            lines.insert(at + 1, '    %s: %s' % (key, value))
    path.write_text('\n'.join(lines), encoding='utf-8')
    return path


@pytest.mark.parametrize('language', ['zh', 'en'])
def test_the_engineers_decision_wins_and_shows_beside_the_analysis(tmp_path, language):
    quarter_with(tmp_path, lambda n: 200 + n * 60)
    build(tmp_path, language=language)
    engineer_decides(tmp_path, LEAK, engineer_decision='not_needed',
                     engineer_reason='"内存增长系已知缓存预热，下季度复查"', engineer='李工',
                     decided_at="'2026-12-20'")
    edited = restart_file(tmp_path).read_text(encoding='utf-8')
    result = build(tmp_path, language=language)
    assert result['changed']
    assert restart_file(tmp_path).read_text(encoding='utf-8') == edited  # the engineer's file kept as is
    problems = layout_problems(result['paths']['performance_report.pdf'])
    assert not problems, '\n'.join(problems[:20])
    for key, text in texts_of(result['paths']).items():
        flat = text.replace('\n', '')
        assert '内存增长系已知缓存预热，下季度复查' in flat, key
        assert '李工 2026-12-20' in flat, key
        if language == 'zh':
            assert '工程师决定：' in flat and '数据分析结论：需要重启' in flat, key
            assert '0 个服务建议重启' in flat, key
        else:
            assert "Engineer's decision:" in flat and 'the analysis said: Restart' in flat, key


@pytest.mark.parametrize('fields, key, problem', [
    ({'engineer_decision': 'maybe'}, 'engineer_decision', 'expected one of needed, not_needed'),
    ({'engineer_decision': 'not_needed', 'engineer': '李工'}, 'engineer_reason', 'required when'),
    ({'engineer_decision': 'needed', 'engineer_reason': '"计划停机"'}, 'engineer', 'required when'),
    ({'engineer_reason': '42'}, 'engineer_reason', 'expected text, got int 42'),
])
def test_a_malformed_decision_stops_the_run_naming_file_line_and_key(tmp_path, fields, key, problem):
    quarter_with(tmp_path, lambda n: 200 + n * 60)
    first = build(tmp_path)
    pdf = first['paths']['performance_report.pdf']
    before = open(pdf, 'rb').read()
    path = engineer_decides(tmp_path, LEAK, **fields)
    with pytest.raises(ReportError) as failed:
        build(tmp_path)
    message = str(failed.value)
    assert message.startswith(str(path) + ':'), message
    assert "restart_decisions['%s'].%s" % (LEAK, key) in message and problem in message, message
    assert open(pdf, 'rb').read() == before


def test_an_engineers_entry_for_a_service_not_analysed_is_refused(tmp_path):
    quarter_with(tmp_path, lambda n: 200 + n * 60)
    build(tmp_path)
    path = restart_file(tmp_path)
    path.write_text(path.read_text(encoding='utf-8')
                    + "  '2026-Q4:hd-db-01:dialysis-servce.service':\n    engineer_decision: needed\n"
                      "    engineer_reason: 计划重启\n    engineer: 李工\n", encoding='utf-8')
    with pytest.raises(ReportError) as failed:
        build(tmp_path)
    message = str(failed.value)
    assert 'not a service in the restart decisions of 2026-Q4' in message, message
    assert "did you mean '%s'" % LEAK in message, message


def test_the_restart_file_schema_is_the_annotations_mechanism(tmp_path):
    path = tmp_path / '2026-Q4-restart.yml'
    path.write_text('anomalies: {}\n', encoding='utf-8')
    with pytest.raises(AnnotationError) as failed:
        Annotations(str(path), RESTART_DECISIONS).load()
    assert 'the file holds only "restart_decisions"' in str(failed.value)
    path.write_text('restart_decisions:\n  x: {engineer_decision: not_needed, engineer_reason: y, '
                    'engineer: z}\n', encoding='utf-8')
    loaded = Annotations(str(path), RESTART_DECISIONS).load()
    assert loaded.entries['x']['engineer_decision'] == 'not_needed'


def test_the_playbook_records_the_engineers_decision(tmp_path, repo_root):
    quarter_with(tmp_path, lambda n: 200 + n * 60)

    def run():
        return run_performance(tmp_path, repo_root, '-e', '{"performance_formats": ["html"]}')

    rc, out = run()
    assert rc == 0, out[-3000:]
    path = tmp_path / 'reports' / 'annotations' / '2026-Q4-restart.yml'
    assert 'Restart decisions (engineer_decision, engineer_reason): %s' % path in out
    text = path.read_text(encoding='utf-8')
    path.write_text(text.replace("engineer_decision: ''", 'engineer_decision: not_needed', 1)
                    .replace("engineer_reason: ''", 'engineer_reason: 已知缓存预热', 1)
                    .replace("engineer: ''", 'engineer: 李工', 1), encoding='utf-8')
    rc, out = run()
    assert rc == 0, out[-3000:]
    newest = None
    for name in sorted(os.listdir(tmp_path / 'records')):
        if name.endswith('.jsonl') and name != 'index.jsonl':
            for line in (tmp_path / 'records' / name).read_text().splitlines():
                entry = json.loads(line)
                if (entry.get('record') or {}).get('kind') == 'performance':
                    newest = entry['record']
    item = dict((i['item'], i) for i in newest['items'])['restart_decision:hd-db-01/dialysis-service.service']
    assert item['value'] == 'not_needed' and item['analysis'] == 'needed'
    assert item['decided_by'] == 'engineer' and item['engineer'] == '李工'
    assert item['engineer_reason'] == '已知缓存预热'
    html = (tmp_path / 'reports' / '2026-Q4' / 'quarterly-performance-report-2026-Q4.zh.html').read_text()
    assert '已知缓存预热' in html
    # a malformed decision fails the first task, naming the file and key
    edited = path.read_text(encoding='utf-8')
    path.write_text(edited.replace('engineer: 李工', "engineer: ''"), encoding='utf-8')
    rc, out = run()
    assert rc != 0
    assert str(path) in out and "restart_decisions['%s'].engineer" % LEAK in out
