"""A log grown past the read limit between two inspections: a real
ansible-playbook run of playbooks/inspect.yml against a host on this machine
(local connection) with inspection_log_max_bytes at 1 MiB. The record's item is
a warning that says how much was read and skipped, and the signed record sheet
says it in Chinese; the error lines in the skipped part are never presented as
absent."""

import datetime
import glob
import json
import os
import subprocess
import sys
import textwrap
import zoneinfo

import openpyxl
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MIB = 1 << 20
LINE = 64  # bytes a line: the limit falls on a line boundary, so the figures are exact


def line(number, level='INFO '):
    text = '2026-11-26 02:%02d:%02d %s dialysis-collector sample %07d' % (
        number // 60 % 60, number % 60, level, number)
    return text.ljust(LINE - 1) + '\n'


@pytest.fixture
def hospital(tmp_path, ansible_env):
    log = tmp_path / 'collector.log'
    log.write_text('2026-11-26 01:58:00 INFO dialysis-collector started\n')
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(textwrap.dedent('''\
        all:
          vars:
            dialysis_hospital_id: partial-scan
            dialysis_hospital: 测试医院
            dialysis_project_lead: 测试负责人
            dialysis_engineer: 测试工程师
            inspection_services: []
            inspection_journal: false
            inspection_system_logs: []
            inspection_cpu_sample_seconds: 0.1
            inspection_log_max_bytes: 1048576
            inspection_logs:
              - {name: app, path: "%s"}
          children:
            hemodialysis:
              vars:
                dialysis_system: hemodialysis
              hosts:
                hd-app-01:
                  ansible_connection: local
                  ansible_python_interpreter: "%s"
        ''' % (log, sys.executable)))
    env = ansible_env(DIALYSIS_OPERATOR='engineer-zhang')
    return {'dir': tmp_path, 'log': log, 'inventory': str(inventory), 'env': env,
            'store': tmp_path / 'stores' / 'partial-scan'}


def inspect(hospital):
    proc = subprocess.run(['ansible-playbook', '-i', hospital['inventory'],
                           os.path.join(ROOT, 'playbooks', 'inspect.yml')],
                          env=hospital['env'], capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    return proc


def app_items(hospital):
    """The log:app item of every recorded inspection, oldest first."""
    found = []
    for path in sorted(glob.glob(str(hospital['store'] / 'records' / '*.jsonl'))):
        if os.path.basename(path) == 'index.jsonl':
            continue
        with open(path, encoding='utf-8') as handle:
            for raw in handle:
                entry = json.loads(raw)
                for item in (entry.get('record') or {}).get('items', []):
                    if item['item'] == 'log:app':
                        found.append(item)
    return found


def sheet_rows(hospital):
    month = datetime.datetime.now(zoneinfo.ZoneInfo('Asia/Shanghai')).strftime('%Y-%m')
    sheets = glob.glob(str(hospital['store'] / month / '*sheet*.zh.xlsx'))
    assert len(sheets) == 1, os.listdir(str(hospital['store']))
    ws = openpyxl.load_workbook(sheets[0])['血透信息管理系统']
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:] if r[2] == 'hd-app-01']


def test_a_log_grown_past_the_read_limit_is_a_warning_that_says_what_was_skipped(hospital):
    inspect(hospital)  # first scan: one INFO line
    # 3 MiB since: five ERROR lines early on (in the 2 MiB that will be skipped), two near
    # the end (in the last 1 MiB, which is read).
    lines = 3 * MIB // LINE
    with open(str(hospital['log']), 'a') as handle:
        for number in range(lines):
            early, late = number in (10, 20, 30, 40, 50), number in (lines - 100, lines - 5)
            handle.write(line(number, 'ERROR' if early or late else 'INFO '))
    inspect(hospital)

    first, second = app_items(hospital)
    assert (first['value'], first['status']) == (0, 'ok') and 'partial' not in first
    assert (second['value'], second['status'], second['reason']) == (2, 'warning', 'partial_scan')
    assert (second['read_bytes'], second['skipped_bytes']) == (1 * MIB, 2 * MIB)
    assert second['partial'] == [{'kind': 'read_limit', 'path': str(hospital['log']), 'read_bytes': MIB,
                                  'skipped_bytes': 2 * MIB, 'max_bytes': MIB}]
    assert 'only the last 1 MiB of %s were read; 2 MiB skipped' % hospital['log'] in second['message']

    rows = [r for r in sheet_rows(hospital) if r['巡检项目'] == '日志错误 app']
    assert [r['结果'] for r in rows] == ['正常', '警告']
    sentence = '日志 app 自上次巡检以来在已扫描部分出现 2 条错误；本次仅扫描最后 1 MiB，跳过 2 MiB'
    assert rows[1]['异常描述'] == sentence
    assert rows[1]['测量值'] == 2 and rows[1]['状态'] == '未解决'

    # The next inspection goes on from the end: complete again, nothing counted twice.
    inspect(hospital)
    third = app_items(hospital)[2]
    assert (third['value'], third['status']) == (0, 'ok') and 'partial' not in third
