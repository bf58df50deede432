# -*- coding: utf-8 -*-
"""Verifier of the `inspection` scenario: patient data and secrets in every format
the redaction rules cover reach no record and no document.

ERROR lines carrying planted values (JSON, escaped JSON, XML, HL7 v2 PID/NK1/PV1
with CR and with escaped separators, a CSV table inside a line, mobile numbers in
national and international forms, landlines and ID numbers by label and in
groups, labelled record numbers, PostgreSQL's key detail, a password, a token and
a URL credential) are appended to hd-db-01's interface log, which prepare.yml
created with INFO lines only and molecule.yml lists as an optional log:
converge and idempotence saw it clean (hd-app-01 has none: "not checked"), so
test_inspection.py's findings stay exactly the planted ones. One inspection and
one report later, every file of the record store and every document is read
back: none holds a planted value, and the interface log's samples are in the
record, masked (the host redacted them and the callback's second pass left them
as they were).

Runs after test_inspection.py (pytest takes the files in name order); it runs its
own inspection and report, so it does not depend on what that file did.
"""

import base64
import json
import os
import subprocess
import sys

import pytest
import testinfra

PROJECT = os.environ['MOLECULE_PROJECT_DIRECTORY']
INVENTORY = os.environ['MOLECULE_INVENTORY_FILE']
RECORDS = os.path.join(os.environ['MOLECULE_EPHEMERAL_DIRECTORY'], 'records')
REPORTS = os.path.join(os.environ['MOLECULE_EPHEMERAL_DIRECTORY'], 'reports')

sys.path.insert(0, os.path.join(PROJECT, '.collections'))

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_redact import (  # noqa: E402
    MASK,
    PLACEHOLDERS,
    redact_text,
)
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import RecordStore  # noqa: E402

UNHEALTHY = 'hd-db-01'
INTERFACE_LOG = '/var/log/dialysis/interface.log'

# (line, values of it that must reach no record and no document). Every line holds
# ERROR (the default error patterns) and stays under the 240 characters of a sample
# once masked, so each one is a whole sample.
PLANTED = [
    ('2026-11-26 04:00:01 ERROR push failed: {"patientName": "司马平安", "patientId": "P-88341", '
     '"phone": "+86 150-3456-7890", "password": "Pl4ntedPw!"}',
     ['司马平安', 'P-88341', '150-3456-7890', '3456-7890', 'Pl4ntedPw!']),
    ('2026-11-26 04:00:02 ERROR sync rejected {"patient":{"name":"欧阳秀英","idCard":"11010519880203452X",'
     '"mrn":"BL2026-90417"},"bed":12}',
     ['欧阳秀英', '11010519880203452X', 'BL2026-90417']),
    ('2026-11-26 04:00:03 ERROR HIS reply 500: <Patient><PatientName>上官明月</PatientName>'
     '<Phone>13912345671</Phone><IDCard>320102197512310017</IDCard></Patient>',
     ['上官明月', '13912345671', '320102197512310017']),
    ('2026-11-26 04:00:04 ERROR bad record <patient name="诸葛云" id="ZY2026-31415"/>'
     '<InpatientNo>ZY2026-31416</InpatientNo>',
     ['诸葛云', 'ZY2026-31415', 'ZY2026-31416']),
    # HL7 as applications log it: segments joined by an escaped \r.
    ('2026-11-26 04:00:05 ERROR sent HL7: MSH|^~\\&|HIS|HOSP|HDIS|HD|20261126040005||ADT^A08|MSG7781|P|2.5'
     '\\rPID|1||HX55123^^^HIS^MR||慕容^雪||19800115|F|||杭州市西湖区^^杭州||0571-8765 4321'
     '\\rNK1|1|慕容^峰|FTH||18612345678',
     ['HX55123', '慕容', '19800115', '西湖区', '8765 4321', '18612345678']),
    # HL7 with its real segment separator, a carriage return inside the line.
    ('2026-11-26 04:00:06 ERROR ack timeout MSH|^~\\&|HIS|HOSP|HDIS|HD|20261126040006||ADT^A04|MSG7782|P|2.5'
     '\rPID|1||HX66234^^^HIS^MR||东方^白||19920704|M\rPV1|1|I|HD^07^01',
     ['HX66234', '东方^白', '19920704']),
    ('2026-11-26 04:00:07 ERROR import rejected: 患者姓名,手机,身份证号,病历号'
     '\\n皇甫嵩,13712345678,130102199001011234,BL2026-90418',
     ['皇甫嵩', '13712345678', '130102199001011234', 'BL2026-90418']),
    ('2026-11-26 04:00:08 ERROR SMS gateway refused 0086-13612345678, (+86)135 1234 5678, 86-13412345678 '
     'and +8613312345678',
     ['13612345678', '135 1234 5678', '1234 5678', '13412345678', '13312345678']),
    ('2026-11-26 04:00:09 ERROR callback failed 电话: 010-6543 2109 tel: 0571-8888 6667 '
     '身份证 320102 19751231 0018 证件号: 320102751231002',
     ['6543 2109', '8888 6667', '19751231', '320102751231002']),
    ('2026-11-26 04:00:10 ERROR 透析记录上传失败 病历号: BL2026-90419 住院号：ZY2026-31417 门诊号=MZ-27182 '
     '透析号 TX-3141 医保卡号:YB88776655 mrn=MR-55667 patient_id=P-88342',
     ['BL2026-90419', 'ZY2026-31417', 'MZ-27182', 'TX-3141', 'YB88776655', 'MR-55667', 'P-88342']),
    ('2026-11-26 04:00:11 ERROR db connect failed: postgresql://hdis:Db-Pl4nted-Pw@10.1.1.5/hdis '
     'password=Pl4ntedPw2 token: tk-Pl4nted-3',
     ['Db-Pl4nted-Pw', 'Pl4ntedPw2', 'tk-Pl4nted-3']),
    ('2026-11-26 04:00:12 ERROR 患者：令狐冲 透析中断，联系人 任盈盈 电话 13212345678',
     ['令狐冲', '任盈盈', '13212345678']),
    ('2026-11-26 04:00:13 ERROR webhook '
     'body="{\\"patient_name\\":\\"独孤求败\\",\\"mobile\\":\\"13112345678\\"}"',
     ['独孤求败', '13112345678']),
    ('2026-11-26 04:00:14 ERROR duplicate key: Key (patient_id, visit_no)=(P-88343, 2) already exists; '
     'PatientVO(id=P-88344, name=西门吹雪, bed=3)',
     ['P-88343', 'P-88344', '西门吹雪']),
]
PLANTED_VALUES = sorted(set(value for _, values in PLANTED for value in values))
# What is not patient data in those lines comes through (a few of each kind).
SURVIVORS = ['MSG7781', 'ADT^A08', '20261126040006', 'HD^07^01', '10.1.1.5', 'postgresql://hdis:', '"bed":12',
             'bed=3', '透析记录上传失败', 'SMS gateway refused', 'HIS reply 500']


def host(name):
    return testinfra.get_host('ansible://%s?ansible_inventory=%s' % (name, INVENTORY))


def playbook(name, *extra):
    env = dict(os.environ, DIALYSIS_LAUNCHER='molecule-verify', DIALYSIS_RECORDS_DIR=RECORDS,
               DIALYSIS_REPORTS_DIR=REPORTS)
    proc = subprocess.run(['ansible-playbook', '-i', INVENTORY, os.path.join(PROJECT, 'playbooks', name)]
                          + list(extra), env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def latest_inspection(hostname):
    """The newest inspection record of the host's module call."""
    found = [r for r in RecordStore(RECORDS).records(kind='inspection')
             if r['context']['host'] == hostname
             and r['context']['task'].endswith('Gather the inspection in one module call')]
    assert found, 'no inspection record of %s' % hostname
    return sorted(found, key=lambda r: r['context']['ended'])[-1]


@pytest.fixture(scope='module')
def planted():
    """Append the planted lines to the interface log, inspect, write the documents."""
    h = host(UNHEALTHY)
    before = latest_inspection(UNHEALTHY)
    items = dict((i['item'], i) for i in before['items'])
    # converge and idempotence saw the log without an error line
    assert items['log:interface']['status'] == 'ok' and items['log:interface']['value'] == 0
    data = ''.join(line + '\n' for line, _ in PLANTED).encode('utf-8')
    h.run_test('echo %s | base64 -d >> %s' % (base64.b64encode(data).decode('ascii'), INTERFACE_LOG))
    playbook('inspect.yml', '-e', 'inspect_report=false')
    playbook('report.yml')
    return latest_inspection(UNHEALTHY)


def test_the_planted_lines_are_in_the_log_as_written(planted):
    content = host(UNHEALTHY).file(INTERFACE_LOG).content_string
    for line, _ in PLANTED:
        assert line in content


def test_the_interface_log_samples_reached_the_record_masked(planted):
    items = dict((i['item'], i) for i in planted['items'])
    item = items['log:interface']
    assert item['value'] == len(PLANTED) and item['status'] == 'warning'
    samples = item['samples']
    # Redacted once on the host; the callback's second pass changed nothing.
    assert samples == [redact_text(line) for line, _ in PLANTED]
    assert [redact_text(s) for s in samples] == samples
    for sample, (line, _values) in zip(samples, PLANTED, strict=True):
        assert sample != line and any(p in sample for p in PLACEHOLDERS), sample
    joined = '\n'.join(samples)
    for survivor in SURVIVORS:
        assert survivor in joined, survivor
    assert joined.count(MASK) == 4  # the JSON password, the URL's, password= and token:
    # The records callback's metrics copy of the scan holds the same masked samples.
    assert planted['metrics']['logs']['interface']['samples'] == samples


def store_texts():
    """(path, text) of every file in the record store; JSON lines also decoded, so
    a value escaped as \\uXXXX would be found too."""
    for directory, _dirs, names in os.walk(RECORDS):
        for name in sorted(names):
            path = os.path.join(directory, name)
            with open(path, 'rb') as handle:
                raw = handle.read().decode('utf-8')
            decoded = []
            for line in raw.splitlines():
                try:
                    decoded.append(json.dumps(json.loads(line), ensure_ascii=False))
                except ValueError:
                    continue
            yield path, raw + '\n' + '\n'.join(decoded)


def test_no_planted_value_in_any_record_file(planted):
    checked = 0
    for path, text in store_texts():
        for value in PLANTED_VALUES:
            assert value not in text, (value, path)
        checked += 1
    assert checked >= 4  # index, the runs' result files, locks and positions
    # The masked samples are in the store: the check above looked at them.
    strings = set()
    for _, text in store_texts():
        for line in text.splitlines():
            if line.startswith('{'):
                strings.update(json_strings(json.loads(line)))
    for line, _ in PLANTED:
        assert redact_text(line) in strings, line


def json_strings(data):
    if isinstance(data, dict):
        for value in data.values():
            yield from json_strings(value)
    elif isinstance(data, list):
        for value in data:
            yield from json_strings(value)
    elif isinstance(data, str):
        yield data


def document_text(path):
    name = path.lower()
    if name.endswith('.pdf'):
        import fitz
        with fitz.open(path) as document:
            return '\n'.join(page.get_text() for page in document)
    if name.endswith('.xlsx'):
        import openpyxl
        book = openpyxl.load_workbook(path)
        return '\n'.join([ws.title for ws in book] + [str(c.value) for ws in book for row in ws.iter_rows()
                                                      for c in row if c.value is not None])
    if name.endswith('.docx'):
        import docx
        document = docx.Document(path)
        parts = [p.text for p in document.paragraphs]
        parts += [c.text for t in document.tables for row in t.rows for c in row.cells]
        for section in document.sections:
            parts += [p.text for p in section.header.paragraphs] + [p.text for p in section.footer.paragraphs]
        return '\n'.join(parts)
    with open(path, 'rb') as handle:
        return handle.read().decode('utf-8', 'replace')


def test_no_planted_value_in_any_document(planted):
    kinds = set()
    for directory, _dirs, names in os.walk(REPORTS):
        for name in sorted(names):
            path = os.path.join(directory, name)
            text = document_text(path)
            for value in PLANTED_VALUES:
                assert value not in text, (value, path)
            kinds.add(os.path.splitext(name)[1])
    assert {'.xlsx', '.docx', '.pdf', '.html'} <= kinds, kinds


def test_the_sheet_reports_the_interface_log_finding(planted):
    """The documents were written after the planted lines were read: the sheet has
    the interface log's finding on hd-db-01."""
    import openpyxl
    sheets = sorted(os.path.join(d, n) for d, _, names in os.walk(REPORTS) for n in names
                    if n.startswith('inspection-sheet-') and n.endswith('.zh.xlsx'))
    assert sheets
    book = openpyxl.load_workbook(sheets[-1])
    ws = book['血透信息管理系统']
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, [c.value for c in row], strict=True)) for row in ws.iter_rows(min_row=2)]
    found = [r for r in rows if r['主机'] == UNHEALTHY and r['巡检项目'] == '日志错误 interface'
             and r['结果'] == '警告']
    assert any('%d 条错误' % len(PLANTED) in ' '.join(str(v) for v in r.values()) for r in found), \
        [r for r in rows if r['主机'] == UNHEALTHY and 'interface' in str(r['巡检项目'])]
