"""Verifier of the `inspection` scenario, run by verify.yml after converge and
idempotence (two inspections already recorded). Talks to the hosts with
testinfra over the same SSH connection settings Ansible used."""

import json
import os
import subprocess
import sys

import testinfra

PROJECT = os.environ['MOLECULE_PROJECT_DIRECTORY']
INVENTORY = os.environ['MOLECULE_INVENTORY_FILE']
RECORDS = os.path.join(os.environ['MOLECULE_EPHEMERAL_DIRECTORY'], 'records')

sys.path.insert(0, os.path.join(PROJECT, '.collections'))
sys.path.insert(0, os.path.join(PROJECT, 'plugins', 'modules'))

import host_inspection  # noqa: E402

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import is_anomaly  # noqa: E402
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import RecordStore  # noqa: E402

HEALTHY, UNHEALTHY = 'hd-app-01', 'hd-db-01'
PATIENT_NAME, PATIENT_ID = '赵六', '110105198802034521'
NEW_LINES = ['2026-11-26 03:10:00 ERROR dialysis machine HD-09 stopped sending data',
             '2026-11-26 03:10:05 INFO reconnecting',
             '2026-11-26 03:10:09 FATAL interface queue full, password=Secr3tValue',
             '2026-11-26 03:10:12 ERROR charting failed for 患者：%s 身份证 %s bed 7'
             % (PATIENT_NAME, PATIENT_ID)]
SECRETS = ['Secr3tValue', PATIENT_NAME, PATIENT_ID]
REPORTS = os.path.join(os.environ['MOLECULE_EPHEMERAL_DIRECTORY'], 'reports')


def host(name):
    return testinfra.get_host('ansible://%s?ansible_inventory=%s' % (name, INVENTORY))


def inspections():
    """[(run_id, {host: record})] of inspect runs, oldest first."""
    store = RecordStore(RECORDS)
    runs = {}
    for record in store.records(kind='inspection'):
        ctx = record['context']
        if ctx['task'].endswith('Gather the inspection in one module call') or \
                ctx['status'] in ('failed', 'unreachable'):
            runs.setdefault(ctx['run_id'], {})[ctx['host']] = record
    return sorted(runs.items())


# Containers see the kernel's /proc/stat and load average: on test hosts the CPU items
# measure the whole CI machine (controller, both hosts, anything else running), which
# no scenario controls. They are checked for presence and form, not for their status.
MACHINE_WIDE = ('cpu:usage', 'cpu:load')


def anomalies(record):
    """Findings (warning, critical, error): an optional log the host does not have is
    'skipped', not a finding."""
    return dict((i['item'], i['status']) for i in record['items']
                if is_anomaly(i['status']) and i['item'] not in MACHINE_WIDE)


def expected_clock():
    """Test hosts share the controller's kernel clock: expect what it says."""
    synced, _ = host_inspection.clock_state()
    return {} if synced else {'clock:sync': 'warning'}


def test_hosts_are_real_and_reached_over_ssh_on_loopback():
    for name in (HEALTHY, UNHEALTHY):
        h = host(name)
        # testinfra's ansible backend hands ssh hosts to its own ssh backend.
        assert h.backend.ansible_runner.get_host(name).backend.get_connection_type() == 'ssh'
        assert h.backend.get_variables()['ansible_host'] == '127.0.0.1'
        assert h.run('echo $SSH_CONNECTION').stdout.split()[-1] == '22'
        assert h.run('ps -p 1 -o comm=').stdout.strip() == 'systemd'
        assert h.run('hostname').stdout.strip() == name
    # They are podman containers whose sshd is published on loopback only.
    out = subprocess.run(['podman', 'ps', '--format', 'json'], capture_output=True, text=True,
                         check=True).stdout
    ports = dict((c['Names'][0], c.get('Ports') or []) for c in json.loads(out))
    for name in (HEALTHY, UNHEALTHY):
        assert [(p['host_ip'], p['container_port']) for p in ports[name]] == [('127.0.0.1', 22)]


def test_first_inspection_names_exactly_the_planted_anomalies():
    runs = inspections()
    assert len(runs) >= 2, 'converge and idempotence should each have inspected'
    _, first = runs[0]
    assert set(first) == {HEALTHY, UNHEALTHY}
    assert anomalies(first[HEALTHY]) == expected_clock()
    expected = {'disk:/srv/dialysis-data': 'critical',
                'service:dialysis-collector.service': 'critical',
                'log:app': 'warning',
                'log:journal': 'warning'}
    expected.update(expected_clock())
    assert anomalies(first[UNHEALTHY]) == expected
    items = dict((i['item'], i) for i in first[UNHEALTHY]['items'])
    assert items['log:app']['value'] == 3
    assert all('ERROR' in s for s in items['log:app']['samples'])
    assert items['service:dialysis-collector.service']['value'] == 'inactive'
    # The planted journal entry, and only it: the machine's kernel messages are not
    # the test host's (the healthy host's journal has no finding at all).
    assert items['log:journal']['value'] == 1
    assert items['log:journal']['samples'] == [
        s for s in items['log:journal']['samples'] if 'HL7 outbound queue stalled' in s]
    assert not any('kernel' in s for s in items['log:journal']['samples'])
    healthy = dict((i['item'], i) for i in first[HEALTHY]['items'])
    assert healthy['log:journal']['value'] == 0 and healthy['log:journal']['status'] == 'ok'
    assert first[UNHEALTHY]['system'] == 'hemodialysis'
    assert first[UNHEALTHY]['status'] == 'critical'
    for name in (HEALTHY, UNHEALTHY):
        cpu = dict((i['item'], i) for i in first[name]['items'] if i['item'] in MACHINE_WIDE)
        assert sorted(cpu) == sorted(MACHINE_WIDE)
        assert 0 <= cpu['cpu:usage']['value'] <= 100 and cpu['cpu:load']['value'] >= 0


def test_disk_figure_matches_df_on_the_host():
    _, first = inspections()[0]
    items = dict((i['item'], i) for i in first[UNHEALTHY]['items'])
    df = host(UNHEALTHY).run('df --output=pcent /srv/dialysis-data | tail -1').stdout
    assert abs(items['disk:/srv/dialysis-data']['value'] - float(df.strip().rstrip('%'))) <= 1.0
    assert items['disk:/srv/dialysis-data']['value'] > 95
    assert 'disk:/srv/dialysis-data' not in dict((i['item'], i) for i in first[HEALTHY]['items'])


def test_psutil_and_proc_collectors_both_used():
    _, first = inspections()[0]
    assert first[HEALTHY]['metrics']['collector'] == 'proc'  # psutil removed by prepare
    assert first[UNHEALTHY]['metrics']['collector'] == 'psutil'
    assert [i['item'] for i in first[HEALTHY]['items'] if not i['item'].startswith(('disk:', 'inode:'))] == \
        [i['item'] for i in first[UNHEALTHY]['items'] if not i['item'].startswith(('disk:', 'inode:'))]


def test_second_inspection_saw_no_new_log_lines():
    _, second = inspections()[1]
    items = dict((i['item'], i) for i in second[UNHEALTHY]['items'])
    assert items['log:app']['value'] == 0 and items['log:app']['status'] == 'ok'


def test_log_position_travels_with_the_record_and_nothing_is_kept_on_the_host():
    h = host(UNHEALTHY)
    assert not h.file('/var/lib/dialysis-ops').exists
    positions = [line['log_positions'] for line in RecordStore(RECORDS).results()
                 if line['host'] == UNHEALTHY and line.get('log_positions')]
    assert len(positions) == 2  # converge and idempotence, each with its record
    log = h.file('/var/log/dialysis/app.log')
    assert positions[-1]['files']['/var/log/dialysis/app.log']['offset'] == log.size
    assert positions[-1]['journal_cursor']


def test_next_inspection_reports_only_lines_added_since():
    h = host(UNHEALTHY)
    for line in NEW_LINES:
        h.run_test("echo '%s' >> /var/log/dialysis/app.log" % line)
    env = dict(os.environ, DIALYSIS_LAUNCHER='molecule-verify', DIALYSIS_RECORDS_DIR=RECORDS,
               DIALYSIS_REPORTS_DIR=REPORTS)
    proc = subprocess.run(['ansible-playbook', '-i', INVENTORY,
                           os.path.join(PROJECT, 'playbooks', 'inspect.yml')],
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    _, latest = inspections()[-1]
    items = dict((i['item'], i) for i in latest[UNHEALTHY]['items'])
    assert items['log:app']['value'] == 3
    assert items['log:app']['samples'] == [
        NEW_LINES[0], '2026-11-26 03:10:09 FATAL interface queue full, password=********',
        '2026-11-26 03:10:12 ERROR charting failed for 患者：[redacted] 身份证 [id redacted] bed 7']
    assert anomalies(latest[HEALTHY]) == expected_clock()
    for directory, _dirs, names in os.walk(RECORDS):
        for name in names:
            with open(os.path.join(directory, name), encoding='utf-8') as handle:
                text = handle.read()
            for secret in SECRETS:
                assert secret not in text, (secret, name)


def test_every_line_of_every_records_file_parses():
    names = [n for n in os.listdir(RECORDS) if n.endswith('.jsonl')]
    assert 'index.jsonl' in names and len(names) >= 4  # index + converge, idempotence, verify
    for name in names:
        with open(os.path.join(RECORDS, name)) as handle:
            for line in handle:
                assert isinstance(json.loads(line), dict)


def run_report(*extra):
    env = dict(os.environ, DIALYSIS_RECORDS_DIR=RECORDS, DIALYSIS_REPORTS_DIR=REPORTS)
    proc = subprocess.run(['ansible-playbook', '-i', INVENTORY,
                           os.path.join(PROJECT, 'playbooks', 'report.yml')] + list(extra),
                          env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout


def sheet_rows_for(host, item):
    import openpyxl
    month = sorted(n for n in os.listdir(REPORTS) if n[:4].isdigit())[-1]
    book = openpyxl.load_workbook(os.path.join(REPORTS, month, 'inspection-sheet-%s.zh.xlsx' % month))
    ws = book['血透信息管理系统']
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, [c.value for c in row], strict=True)) for row in ws.iter_rows(min_row=2)]
    return month, [r for r in rows if r['主机'] == host and r['巡检项目'] == item]


def test_report_shows_the_anomaly_then_its_resolution_and_keeps_the_engineers_text():
    import yaml
    out = run_report()
    month, rows = sheet_rows_for(UNHEALTHY, '服务 dialysis-collector.service')
    assert rows and all(r['结果'] == '异常' and r['状态'] == '未解决' for r in rows)
    assert rows[0]['异常描述'] == '服务 dialysis-collector.service 状态为未运行（应为运行中）'
    _, healthy = sheet_rows_for(HEALTHY, '服务 dialysis-collector.service')
    assert healthy and all(r['结果'] == '正常' and not r['异常描述'] for r in healthy)
    assert 'inspection-sheet-%s.zh.xlsx' % month in out
    ann_path = os.path.join(REPORTS, 'annotations', '%s.yml' % month)
    aid = '%s:%s:service:dialysis-collector.service' % (month, UNHEALTHY)
    with open(ann_path, encoding='utf-8') as handle:
        text = handle.read()
    assert aid in text
    feedback = '2026-11-26 10:30 电话告知信息科张工'
    resolution = '重新启动采集服务，确认数据恢复上传'
    assert yaml.safe_load(text)['anomalies'][aid]['feedback'] == ''
    # The engineer edits the two fields of that entry in place, and adds a comment.
    lines = text.splitlines()
    start = [i for i, ln in enumerate(lines) if ln.strip().strip("'\"").startswith(aid)][0]
    for i in range(start + 1, len(lines)):
        if lines[i].startswith('    feedback:'):
            lines[i] = "    feedback: '%s'  # 工程师填写" % feedback
        elif lines[i].startswith('    resolution:'):
            lines[i] = "    resolution: '%s'" % resolution
            break
    with open(ann_path, 'w', encoding='utf-8') as handle:
        handle.write('\n'.join(lines) + '\n')
    run_report()
    _, rows = sheet_rows_for(UNHEALTHY, '服务 dialysis-collector.service')
    assert all(r['状态'] == '已解决' and r['异常反馈'] == feedback and r['处理结果'] == resolution
               for r in rows)
    report = os.path.join(REPORTS, month, 'monthly-inspection-report-%s.zh.pdf' % month)
    pdf_text = subprocess.run(['pdftotext', report, '-'], capture_output=True, text=True,
                              check=True).stdout
    # Table cells wrap, so look for the start of the resolution and the resolved state.
    assert '月度巡检报告' in pdf_text and '重新启动' in pdf_text and '已解决' in pdf_text
    # A further run (a new inspection in between) keeps the engineer's words and comment.
    h = host(UNHEALTHY)
    h.run_test("echo '2026-11-26 04:00:00 ERROR another' >> /var/log/dialysis/app.log")
    env = dict(os.environ, DIALYSIS_RECORDS_DIR=RECORDS, DIALYSIS_REPORTS_DIR=REPORTS)
    subprocess.run(['ansible-playbook', '-i', INVENTORY, os.path.join(PROJECT, 'playbooks', 'inspect.yml'),
                    '-e', 'inspect_report=false'], env=env, capture_output=True, check=True, timeout=600)
    run_report()
    with open(ann_path, encoding='utf-8') as handle:
        after = handle.read()
    assert "feedback: '%s'  # 工程师填写" % feedback in after
    assert yaml.safe_load(after)['anomalies'][aid]['resolution'] == resolution


def test_no_secret_or_patient_data_in_any_document():
    import openpyxl
    run_report()
    checked = 0
    for root, _, files in os.walk(REPORTS):
        for name in files:
            path = os.path.join(root, name)
            if name.endswith('.pdf'):
                text = subprocess.run(['pdftotext', path, '-'], capture_output=True, text=True,
                                      check=True).stdout
            elif name.endswith('.xlsx'):
                book = openpyxl.load_workbook(path)
                text = '\n'.join(str(c.value) for ws in book for row in ws.iter_rows() for c in row)
            elif name.endswith('.docx'):
                import docx
                document = docx.Document(path)
                text = '\n'.join([p.text for p in document.paragraphs] +
                                  [c.text for t in document.tables for row in t.rows for c in row.cells])
            else:
                with open(path, encoding='utf-8') as handle:
                    text = handle.read()
            for secret in SECRETS:
                assert secret not in text, (secret, path)
            checked += 1
    assert checked >= 8  # sheet xlsx/html/docx, report html/pdf/docx/xlsx, annotations
