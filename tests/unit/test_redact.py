# -*- coding: utf-8 -*-
"""The redaction rule set, table-driven: what each format must lose (positive
cases: the planted values are gone, a placeholder says where), what must come
through unchanged (negative cases), idempotence (the host redacts the samples,
the callback redacts the whole result again) and the dictionary pass of the
records callback."""

import time

import pytest

from ansible_collections.dialysis.ops.plugins.module_utils import dialysis_redact as redact
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_redact import (
    MASK,
    redact_data,
    redact_text,
)

ID, PHONE, NAME, KEY = '[id redacted]', '[phone redacted]', '[redacted]', '[private key redacted]'

HL7 = ('MSH|^~\\&|HIS|HOSP|HDIS|HD|20261126020001||ADT^A08|MSG00001|P|2.5\r'
       'PID|1||4711^^^HIS^MR~110101199003071234^^^CHN^ID||王^小明||19900307|M|||北京市朝阳区幸福路1号^^北京'
       '||+86 138-1234-5678|010-12345678|||||110101199003071234\r'
       'NK1|1|王^大明|FTH|北京市海淀区^^北京|13912345678\r'
       'PV1|1|I|HD^07^01||||||||||||||||ZY20260042\r'
       'OBX|1|NM|8867-4^HR||72|bpm|||||F|||20261126020001')

# (id, text, planted values that must be gone, placeholders that must be there,
#  the rule that alone removes them or None when it takes several)
POSITIVE = [
    # --- secrets (the cases of the first version of this test) -----------------
    ('password=', 'db login password=Secr3t! failed', ['Secr3t'], [MASK], 'secret-label'),
    ('PASSWORD: quoted', 'PASSWORD: "hunter 2"', ['hunter 2'], [MASK], 'secret-label'),
    ('pwd single quotes', "pwd='abc'", ["'abc'"], [MASK], 'secret-label'),
    ('password in JSON', 'connect: {"password": "Secr3t!"}', ['Secr3t'], ['"%s"' % MASK], 'secret-label'),
    ('password in escaped JSON', 'body="{\\"password\\":\\"Secr3t!\\"}"', ['Secr3t'], [MASK], 'secret-label'),
    ('api_key', 'api_key=AKIA1234567890', ['AKIA1234567890'], [MASK], 'secret-label'),
    ('client_secret', 'client_secret=xyz123', ['xyz123'], [MASK], 'secret-label'),
    ('密码', '数据库密码：Secr3t!', ['Secr3t'], [MASK], 'secret-label-zh'),
    ('XML password element', '<login><user>hdis</user><Password>Secr3t!</Password></login>', ['Secr3t'],
     ['<Password>%s</Password>' % MASK], 'secret-xml-element'),
    ('URL credentials', 'jdbc via postgresql://hdis:Pa55word@10.1.1.5/hdis', ['Pa55word'],
     ['postgresql://hdis:%s@10.1.1.5' % MASK], 'url-credentials'),
    ('bearer token alone', 'retry with bearer abcdefghijk123 failed', ['abcdefghijk123'], [MASK],
     'bearer-token'),
    ('authorization header', 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig',
     ['eyJhbGciOiJIUzI1NiJ9'], [MASK], 'authorization-header'),
    ('private key block',
     'key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAB3Nza\n-----END OPENSSH PRIVATE KEY-----\nafter',
     ['AAAAB3Nza'], [KEY], 'pem-private-key'),
    # --- JSON keys -----------------------------------------------------------------
    ('JSON patientName', '{"patientName": "王小明", "bed": 7}', ['王小明'], ['"patientName": "[redacted]"'],
     'name-label'),
    ('JSON patient_name no spaces', '{"patient_name":"王小明","age":60}', ['王小明'], [NAME], 'name-label'),
    ('JSON English name', '{"patientName": "Wang Xiaoming"}', ['Wang', 'Xiaoming'], [NAME], 'name-label'),
    ('JSON name inside patient object', '{"patient": {"name": "王小明", "id": "P4711", "bed": 7}}',
     ['王小明', 'P4711'], ['"bed": 7'], 'patient-object'),
    ('JSON array of patients', '{"patients": [{"name": "王小明"}, {"name": "李四"}]}',
     ['王小明', '李四'], [NAME], 'patient-object'),
    ('Python dict repr', "{'patient_name': '王小明', 'phone': '13812345678'}", ['王小明', '13812345678'],
     [NAME, PHONE], None),
    ('Java toString', 'PatientDTO(id=4711, name=王小明, idCard=110101199003071234, bed=7)',
     ['4711', '王小明', '110101199003071234'], ['bed=7'], None),
    ('JSON escaped inside a JSON string', '{"msg":"{\\"patientName\\":\\"王小明\\",\\"mrn\\":\\"77812\\"}"}',
     ['王小明', '77812'], [NAME], None),
    ('JSON phone and id card', '{"phone": "+86 138-1234-5678", "idCard": "110101199003071234"}',
     ['1234-5678', '110101199003071234'], [PHONE, ID], None),
    ('JSON record numbers',
     '{"mrn": "77812", "patientId": 4711, "inpatientNo": "ZY0042", "dialysisNo": "T-9"}',
     ['77812', '4711', 'ZY0042', 'T-9'], [NAME], 'record-label'),
    ('JSON birth date and address', '{"birthDate": "1990-03-07", "homeAddress": "北京市朝阳区幸福路1号"}',
     ['1990-03-07', '幸福路'], [NAME], None),
    # --- XML -------------------------------------------------------------------------
    ('XML PatientName', '<PatientName>王小明</PatientName>', ['王小明'],
     ['<PatientName>[redacted]</PatientName>'], 'name-xml-element'),
    ('XML namespaced CDATA', '<hl7:PatientName><![CDATA[王小明]]></hl7:PatientName>', ['王小明'], [NAME],
     'name-xml-element'),
    ('XML Phone', '<Phone>0571-8888 6666</Phone>', ['8888'], [PHONE], 'phone-xml-element'),
    ('XML IDCard', '<IDCard>110101900307123</IDCard>', ['110101900307123'], [ID], 'id-xml-element'),
    ('XML MRN and MedicalRecordNo', '<MRN>77812</MRN><MedicalRecordNo>MR-1</MedicalRecordNo>',
     ['77812', 'MR-1'], [NAME], 'record-xml-element'),
    ('XML patient attributes', '<patient name="王小明" id="4711" bed="7"/>', ['王小明', '4711'], ['bed="7"'],
     'patient-element'),
    ('XML patient children', '<Patient><Name><Given>小明</Given><Family>王</Family></Name>'
     '<id root="2.16.156" extension="4711"/></Patient>', ['小明', '王', '4711'], ['root="2.16.156"'],
     'patient-element'),
    ('XML attribute label', '<Contact phone="13812345678" patientName="王小明"/>', ['13812345678', '王小明'],
     [PHONE, NAME], None),
    ('PostgreSQL key detail', 'ERROR:  duplicate key value violates unique constraint "patient_pkey" '
     'DETAIL:  Key (patient_id, visit_no)=(4711, 3) already exists.', ['4711', ', 3)'],
     ['=([redacted], [redacted])'], 'key-detail'),
    ('REST path', 'GET /api/v1/patients/P4711/records 500', ['P4711'], ['/patients/[redacted]/records'],
     'patient-path'),
    # --- HL7 v2 ------------------------------------------------------------------------
    ('HL7 message with CR', 'sent HL7: ' + HL7,
     ['4711', '110101199003071234', '王', '小明', '19900307', '幸福路', '1234-5678', '12345678', '大明',
      '海淀', '13912345678', 'ZY20260042'], [ID, NAME, PHONE], 'hl7-segment'),
    ('HL7 escaped separators in a log line',
     'ERROR ack timeout for MSH|^~\\&|HIS|HOSP|HDIS|HD|20261126020001||ADT^A04|M2|P|2.4'
     '\\rPID|1||4711^^^HIS^MR||王^小明||19900307|F\\rPV1|1|O', ['4711', '王^小明', '19900307'], [ID, NAME],
     'hl7-segment'),
    ('HL7 PID alone', 'PID|1||P4711||Wang^Xiaoming^^^^^L||19900307|M||||||||||||G12345678',
     ['P4711', 'Wang', 'Xiaoming', '19900307', 'G12345678'], [ID, NAME], 'hl7-segment'),
    ('HL7 segments on lines',
     'MSH|^~\\&|A|B|C|D|20261126||ADT^A01|1|P|2.5\nPID|1||4711||王^小明\nNK1|1|李^四|SPO',
     ['4711', '王^小明', '李^四'], [NAME], 'hl7-segment'),
    ('HL7 with a declared separator', 'MSH#^~\\&#A#B\rPID#1##4711##王^小明', ['4711', '王^小明'], [ID, NAME],
     'hl7-segment'),
    # --- CSV -----------------------------------------------------------------------------
    ('CSV with a Chinese header', '姓名,电话,身份证号,床号\n王小明,13812345678,110101199003071234,7\n'
     '李四,139 1234 5678,110101-19900307-1234,8', ['王小明', '李四', '13812345678', '1234 5678', '19900307'],
     [NAME, PHONE, ID, ',7', ',8'], None),
    ('CSV header only names', 'patient_name,mrn,bed\n王小明,77812,7\n李四,77813,8',
     ['王小明', '李四', '77812', '77813'], [',7', ',8'], 'csv-columns'),
    ('CSV quoted cells and tabs', '"姓名"\t"病历号"\n"王小明"\t"BL-1"', ['王小明', 'BL-1'], ['"[redacted]"'],
     'csv-columns'),
    ('CSV inside a log line', 'ERROR import rejected: 患者姓名,手机,病历号\\n王小明,13812345678,BL2026-0042'
     '\\n李四,13912345678,BL2026-0043', ['王小明', '李四', 'BL2026-0042', '13912345678'],
     [NAME, PHONE], None),
    # --- phones ----------------------------------------------------------------------------
    ('mobile', 'call 13812345678 now', ['13812345678'], ['call %s now' % PHONE], 'mobile-number'),
    ('mobile hyphens', 'call 138-1234-5678', ['1234-5678'], [PHONE], 'mobile-number'),
    ('mobile spaces', 'call 138 1234 5678', ['1234 5678'], [PHONE], 'mobile-number'),
    ('mobile +86 hyphens', 'call +86 138-1234-5678', ['1234-5678', '+86'], [PHONE], 'mobile-number'),
    ('mobile +86', 'call +86 13812345678', ['13812345678', '+86'], [PHONE], 'mobile-number'),
    ('mobile +86 joined', 'call +8613812345678', ['13812345678', '+86'], [PHONE], 'mobile-number'),
    ('mobile 0086', 'call 0086-13812345678', ['13812345678', '0086'], [PHONE], 'mobile-number'),
    ('mobile (+86)', 'call (+86)138 1234 5678', ['1234 5678', '+86'], [PHONE], 'mobile-number'),
    ('mobile 86-', 'call 86-13812345678', ['13812345678', '86-'], [PHONE], 'mobile-number'),
    ('mobile next to Chinese', '联系13812345678的家属', ['13812345678'], [PHONE], 'mobile-number'),
    ('landline 电话', '电话: 010-12345678', ['12345678'], [PHONE], 'phone-label'),
    ('landline tel', 'tel: 0571-8888 6666 retry', ['8888', '6666'], ['%s retry' % PHONE], 'phone-label'),
    ('landline 联系电话 no separator', '联系电话(0571)88886666', ['88886666'], [PHONE], 'phone-label-bare'),
    ('phone label with space', 'phone 13812345678', ['13812345678'], [PHONE], None),
    # --- resident ID numbers ---------------------------------------------------------------
    ('ID 18 digits', 'id 110101199003071234 ok', ['110101199003071234'], [ID], 'resident-id-number'),
    ('ID with X', 'id 11010119900307123X ok', ['11010119900307123X'], [ID], 'resident-id-number'),
    ('ID with spaces', 'id 110101 19900307 1234 ok', ['19900307'], [ID], 'resident-id-number'),
    ('ID with hyphens', 'id 110101-19900307-1234 ok', ['19900307'], [ID], 'resident-id-number'),
    ('ID in groups of four', 'id 110101 1990 0307 123x ok', ['0307'], [ID], 'resident-id-number'),
    ('ID 15 digits by label', '身份证号: 110101900307123', ['110101900307123'], [ID], 'id-label'),
    ('ID 15 digits by label, no separator', '身份证110101900307123', ['110101900307123'], [ID],
     'id-label-bare'),
    ('ID by English label', 'id_card=110101900307123', ['110101900307123'], [ID], 'id-label'),
    # --- record numbers by label --------------------------------------------------------------
    ('病历号', '病历号: HD2026-0042', ['HD2026-0042'], [NAME], 'record-label'),
    ('住院号 fullwidth colon', '住院号：ZY20260042', ['ZY20260042'], [NAME], 'record-label'),
    ('门诊号 equals', '门诊号=MZ77', ['MZ77'], [NAME], 'record-label'),
    ('透析号 with space', '透析号 T123', ['T123'], [NAME], 'record-label-bare'),
    ('医保卡号', '医保卡号:YB998877', ['YB998877'], [NAME], 'record-label'),
    ('mrn', 'MRN=77812', ['77812'], [NAME], 'record-label'),
    ('MRN with space', 'MRN 77812 not found', ['77812'], ['%s not found' % NAME], 'record-label-bare'),
    ('medical_record_no', 'medical_record_no: MR1', ['MR1'], [NAME], 'record-label'),
    ('patient_id', 'patient_id=4711&bed=7', ['4711'], ['&bed=7'], 'record-label'),
    ('patientId', 'patientId: 4712', ['4712'], [NAME], 'record-label'),
    ('inpatient_no', 'inpatient_no=IP9', ['IP9'], [NAME], 'record-label'),
    ('birth date labels', 'birthday=1990-03-07 出生日期：1990年3月7日', ['1990-03-07', '1990年'], [NAME],
     'birth-label'),
    ('birth date without separator', 'dob 1990-03-07, 出生日期19900307', ['1990-03-07', '19900307'], [NAME],
     'birth-label-bare'),
    ('XML birth date', '<BirthDate>1990-03-07</BirthDate>', ['1990-03-07'], [NAME], 'birth-xml-element'),
    ('address label', '家庭住址：北京市朝阳区幸福路1号', ['幸福路'], [NAME], 'address-label'),
    ('XML address', '<HomeAddress>北京市朝阳区幸福路1号</HomeAddress>', ['幸福路'], [NAME],
     'address-xml-element'),
    # --- names by label ----------------------------------------------------------------------
    ('patient_name=', 'patient_name=张三 id_card: 110101199003071234', ['张三', '110101199003071234'],
     [NAME, ID], None),
    ('患者：', '患者：李四 病历号: HD2026-0042 MRN=77812', ['李四', 'HD2026-0042', '77812'], [NAME], None),
    ('English name in capitals', 'patient_name: Zhang San failed', ['Zhang', 'San'], ['%s failed' % NAME],
     'name-label'),
    ('患者 with space', '患者 张三 透析中断', ['张三'], ['患者 %s 透析中断' % NAME], 'name-label-bare'),
    ('患者 without separator', '患者张三，透析中断', ['张三'], ['患者%s，透析中断' % NAME],
     'name-label-bare'),
    ('姓名 in text', '透析记录上传失败（姓名：欧阳娜娜，床号 7）', ['欧阳娜娜'], ['床号 7'], 'name-label'),
    ('next of kin', 'next_of_kin="李大明"', ['李大明'], [NAME], 'name-label'),
    ('log line of the molecule test',
     '2026-11-26 03:10:12 ERROR charting failed for 患者：赵六 身份证 110105198802034521 bed 7',
     ['赵六', '110105198802034521'], ['for 患者：[redacted] 身份证 [id redacted] bed 7'], None),
]

# Text that names no patient and holds no secret: it must come through unchanged.
NEGATIVE = [
    ('host names', 'hd-db-01 his-app.hospital.local HD-DB-01.hospital.local'),
    ('IPv4 and ports', 'connect 10.1.1.5:5432 from 192.168.100.200 port 2231'),
    ('ISO timestamp', '2026-11-26T02:00:01+08:00 and 2026-11-26T02:00:01.123456Z'),
    ('log timestamp', '2026-11-26 02:00:01 ERROR lost connection to dialysis machine HD-07 after 3 retries'),
    ('epoch milliseconds', 'ts=1764122401000 at 1764122401000 (1764122401)'),
    ('epoch nanoseconds', '__REALTIME_TIMESTAMP=1764122401000000 t=1764122401000000000'),
    ('versions', 'PostgreSQL 15.8 on x86_64, ansible-core 2.19.1, python 3.11.2, v1.2.3'),
    ('durations', 'took 1500 ms, 12.5 s, 3m20s, 00:01:30'),
    ('byte counts', '1073741824 bytes, 17179869184 bytes, size=17179869184, used: 13958643712, 16G, 2.5 GiB'),
    ('sizes in a df line', '/dev/loop0  24M  23M  360K  99% /srv/dialysis-data'),
    ('machine and session ids', 'HD-07 session 4711 machine HD-12 bed 7 station 3'),
    ('process ids', 'pid 2231, PID 2231, PID: 2231, [2231], postgres[15832]: ok'),
    ('journal cursor', 's=8b3c1f7e2a4d4c9e9f0a1b2c3d4e5f60;i=13ab;b=1f2e3d4c5b6a79880716253443526170;'
                       'm=1a2b3c4d;t=63f1e2d3c4b5a;x=13812345678abcde'),
    ('journal cursor with an all-digit field', 's=8b3c1f7e2a4d4c9e9f0a1b2c3d4e5f60;i=13812345678;'
                                               'b=1f2e3d4c5b6a79880716253443526170;m=13812345678;t=63f1e2d3c4b5a'),
    ('sha1', 'head da39a3ee5e6b4b0d3255bfef95601890afd80709'),
    ('sha256', 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'),
    ('digest made of digits', 'crc 138123456781381234567813812345678'),
    ('UUID', 'run 550e8400-e29b-41d4-a716-446655440000 and 13812345-6789-1234-5678-138123456789'),
    ('placeholders', '[redacted] [id redacted] [phone redacted] %s [private key redacted]' % MASK),
    ('Chinese error line', '透析机 HD-07 连接失败'),
    ('Chinese error with 患者 as a topic', '患者数据上传失败，重试 3 次'),
    ('Chinese header without rows', '患者信息 查询失败'),
    ('journal sample', 'dialysis-interface: HL7 outbound queue stalled: 12 messages waiting'),
    ('HL7 MSH and OBX', 'MSH|^~\\&|HIS|HOSP|HDIS|HD|20261126020001||ORU^R01|MSG00001|P|2.5\r'
                        'OBX|1|NM|8867-4^HR||72|bpm|||||F|||20261126020001'),
    ('JSON without patient data',
     '{"name": "hd-db-01", "mobile": true, "user": "hdis", "tel": null, "id": 7}'),
    ('XML without patient data', '<host name="hd-db-01" id="7"><name>postgres</name></host>'),
    ('counts and ratios', 'queue 120/500, 13 errors, 99.5% used, load 1.38'),
    ('CSV without patient columns', 'host,ip,status\nhd-db-01,10.1.1.5,ok\nhd-app-01,10.1.1.6,ok'),
    ('key words without values', 'phone lookup failed; patient id missing; 身份证 未填写'),
    ('empty values', '{"patientName": "", "phone": null, "mrn": ""}'),
    ('user names', 'user=hdis login ok, username: admin'),
    ('labels with words that are no value', 'ERROR patient: not found; patient_id: unknown; mrn=null'),
    ('PostgreSQL key detail of other columns', 'DETAIL:  Key (id, host)=(7, hd-db-01) already exists.'),
    ('REST path without an id', 'GET /api/v1/patients/list 200, GET /patient/ 404'),
    ('Java stack frame', 'at com.hospital.his.PatientService.save(PatientService.java:138)'),
]


def value_gone(text, value):
    return value not in text


@pytest.mark.parametrize('case_id, text, planted, placeholders, rule', POSITIVE, ids=[c[0] for c in POSITIVE])
def test_planted_values_are_masked(case_id, text, planted, placeholders, rule):
    out = redact_text(text)
    for value in planted:
        assert value_gone(out, value), (case_id, value, out)
    for placeholder in placeholders:
        assert placeholder in out, (case_id, placeholder, out)


@pytest.mark.parametrize('case_id, text, planted, placeholders, rule',
                         [c for c in POSITIVE if c[4]], ids=[c[0] for c in POSITIVE if c[4]])
def test_each_rule_masks_its_format_on_its_own(case_id, text, planted, placeholders, rule):
    """The table names the rule that covers a format: that rule alone removes the values."""
    out = rule_named(rule).apply(text)
    for value in planted:
        assert value_gone(out, value), (case_id, rule, value, out)


@pytest.mark.parametrize('case_id, text', NEGATIVE, ids=[c[0] for c in NEGATIVE])
def test_text_without_patient_data_or_secrets_is_unchanged(case_id, text):
    assert redact_text(text) == text


@pytest.mark.parametrize('case_id, text', [(c[0], c[1]) for c in POSITIVE] + NEGATIVE,
                         ids=[c[0] for c in POSITIVE] + [c[0] for c in NEGATIVE])
def test_redaction_is_idempotent_so_host_and_callback_can_both_apply_it(case_id, text):
    once = redact_text(text)
    assert redact_text(once) == once
    assert redact_data({'samples': [once]}) == {'samples': [once]}


@pytest.mark.parametrize('case_id, text', [(c[0], c[1]) for c in POSITIVE] + NEGATIVE,
                         ids=[c[0] for c in POSITIVE] + [c[0] for c in NEGATIVE])
def test_triggers_only_skip_rules_that_would_not_match(case_id, text):
    """redact_text skips a rule whose trigger words are absent: the same text as
    applying every rule."""
    every = text
    for rule in redact.RULES:
        every = rule.apply(every)
    assert redact_text(text) == every


def rule_named(name):
    found = [rule for rule in redact.RULES if rule.name == name]
    assert len(found) == 1, name
    return found[0]


def test_the_rule_table_is_declared_and_documented():
    names = [rule.name for rule in redact.RULES]
    assert len(names) == len(set(names))
    families = dict((builder.__name__, builder) for builder in redact.FAMILIES)
    assert all(builder.__doc__ and len(builder.__doc__) > 80 for builder in families.values())
    assert sorted(set(rule.family for rule in redact.RULES)) == sorted(
        ['secrets', 'hl7', 'csv', 'structured', 'numbers', 'labels'])
    for rule in redact.RULES:
        assert callable(rule.replacement) or isinstance(rule.replacement, str), rule.name
        assert rule.pattern is not None or callable(rule.replacement), rule.name
        assert all(t == t.lower() for t in rule.triggers), rule.name
    # Every family of labels has its rules, and every placeholder is one of the four.
    for family in redact.LABEL_FAMILIES:
        assert '%s-label' % family.name in names and '%s-xml-element' % family.name in names
        assert family.placeholder in redact.PLACEHOLDERS
    # Every rule is the one that covers some case of the table.
    assert set(c[4] for c in POSITIVE if c[4]) == set(names)


def test_the_placeholders_of_other_code_and_documents_are_kept():
    assert MASK == '********'
    assert redact.PLACEHOLDERS >= set(['[redacted]', '[id redacted]', '[phone redacted]', MASK])
    assert redact_text('患者：赵六 身份证 110105198802034521') == '患者：[redacted] 身份证 [id redacted]'
    assert redact_text('FATAL interface queue full, password=Secr3tValue') == \
        'FATAL interface queue full, password=%s' % MASK


def test_url_keeps_user_and_host():
    out = redact_text('jdbc via postgresql://hdis:Pa55word@10.1.1.5/hdis')
    assert out == 'jdbc via postgresql://hdis:%s@10.1.1.5/hdis' % MASK


def test_private_key_block_keeps_what_follows():
    out = redact_text('key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAB3Nza\n'
                      '-----END OPENSSH PRIVATE KEY-----\nafter')
    assert 'AAAAB3Nza' not in out and out.endswith('after')


def test_hl7_keeps_the_structure_and_the_other_fields():
    out = redact_text('sent HL7: ' + HL7)
    segments = out[len('sent HL7: '):].split('\r')
    original = HL7.split('\r')
    assert segments[0] == original[0]  # MSH untouched: time, type, control id, version
    assert segments[-1] == original[-1]  # OBX untouched
    pid = segments[1].split('|')
    assert len(pid) == len(original[1].split('|'))
    assert pid[:8] == ['PID', '1', '', ID, '', NAME, '', NAME] and pid[8] == 'M'
    assert pid[13] == PHONE and pid[14] == PHONE and pid[19] == ID
    assert segments[2].split('|')[:6] == ['NK1', '1', NAME, 'FTH', NAME, PHONE]
    assert segments[3].split('|')[19] == NAME and segments[3].split('|')[:4] == ['PV1', '1', 'I', 'HD^07^01']


def test_csv_masks_only_the_named_columns_and_stops_at_the_table_end():
    text = '姓名,电话,床号\n王小明,13812345678,7\n李四,13912345678,8\nsummary: 2 rows, 0 errors'
    assert redact_text(text) == ('姓名,电话,床号\n[redacted],[phone redacted],7\n'
                                 '[redacted],[phone redacted],8\nsummary: 2 rows, 0 errors')


def test_sizes_and_durations_that_look_like_mobiles_survive():
    for text in ['17179869184 bytes', 'size=17179869184', 'rss: 13958643712', '13812345678 ms',
                 'total 15032385536']:
        assert redact_text(text) == text, text
    assert redact_text('phone=13812345678 bytes=4') == 'phone=%s bytes=4' % PHONE


@pytest.mark.parametrize('text', [
    '1' * 5000,
    ' '.join(['138'] * 3000),
    '{"patient": ' + '[' * 3000 + '"x"',
    '<Patient>' * 2000,
    'PID|' + '|' * 5000 + '\\' * 5000,
    'patient_name=' + 'a' * 5000 + ' ' + '"' * 5000,
    '患者' * 3000,
    'a,b\n' + '姓名,电话\n' * 2000,
    ('tel: ' + '1 ' * 3000),
    '110101 ' * 3000,
    '"' + '\\"' * 5000,
], ids=['digits', 'digit groups', 'open brackets', 'open tags', 'HL7 separators', 'unclosed quotes',
        'labels', 'headers', 'phone groups', 'id groups', 'escaped quotes'])
def test_no_catastrophic_backtracking(text):
    # CPU time of this process, not wall time: a loaded machine (CI, the lab's hosts on the
    # same cores) stretches the wall clock, never the work. Catastrophic backtracking on
    # these inputs takes minutes of CPU; the rule set takes well under 0.2 s.
    begin = time.process_time()
    redact_text(text)
    assert time.process_time() - begin < 1.0


# --- the dictionary pass of the records callback ---------------------------------------------

def test_redact_data_masks_secret_keys_and_strings_in_nested_structures():
    data = {'user': 'hdis', 'password': 'x', 'nested': [{'api_token': 'tok', 'msg': 'password=y'}],
            'record': {'items': [{'item': 'disk:/', 'message': 'ok', 'status': 'ok'}]},
            'password_set': True}
    out = redact_data(data)
    assert out['password'] == MASK and out['nested'][0]['api_token'] == MASK
    assert out['nested'][0]['msg'] == 'password=%s' % MASK
    assert out['record'] == data['record']
    assert out['user'] == 'hdis' and out['password_set'] is True


def test_redact_data_masks_patient_keys_of_a_parsed_application_log():
    event = {
        'ts': '2026-11-26T02:00:01+08:00', 'level': 'ERROR', 'host': 'hd-db-01', 'pid': 2231,
        'event': {'patientName': '王小明', 'patient_id': 4711, 'idCard': '110101199003071234',
                  'phone': '+86 138-1234-5678', 'mrn': 'MR-77812', '病历号': 'BL-1', 'bed': 7,
                  'contacts': [{'contactName': '王大明', 'mobile': '13912345678', 'relation': 'father'}],
                  'patient': {'name': '王小明', 'id': 'P4711',
                              'address': {'city': '北京', 'street': '幸福路1号'},
                              'birthDate': '1990-03-07', 'dialyzer': 'FX80'},
                  'detail': 'resend failed for patient_name=李四 tel: 0571-8888 6666'},
        'name': 'hd-db-01', 'id': 7, 'empty': {'patientName': '', 'phone': None, 'mobile_verified': True},
    }
    out = redact_data(event)
    flat = repr(out)
    for value in ['王小明', '4711', '110101199003071234', '1234-5678', 'MR-77812', 'BL-1', '王大明',
                  '13912345678', 'P4711', '幸福路', '1990-03-07', '李四', '8888']:
        assert value not in flat, value
    ev = out['event']
    assert ev['patientName'] == NAME and ev['idCard'] == ID
    assert ev['phone'] == PHONE and ev['patient_id'] == NAME
    assert ev['contacts'][0] == {'contactName': NAME, 'mobile': PHONE, 'relation': 'father'}
    assert ev['patient']['name'] == NAME and ev['patient']['address'] == {'city': NAME, 'street': NAME}
    assert ev['patient']['dialyzer'] == 'FX80' and ev['bed'] == 7
    assert ev['detail'] == 'resend failed for patient_name=%s tel: %s' % (NAME, PHONE)
    # Keys outside a patient object keep their meaning: a host's name, a process id.
    assert out['name'] == 'hd-db-01' and out['id'] == 7 and out['pid'] == 2231 and out['host'] == 'hd-db-01'
    assert out['empty'] == {'patientName': '', 'phone': None, 'mobile_verified': True}


def test_redact_data_keeps_the_record_contract_readable():
    record = {
        'version': 2, 'kind': 'inspection', 'system': 'hemodialysis', 'status': 'warning', 'anomalies': 1,
        'items': [{'item': 'log:interface', 'value': 2, 'status': 'warning', 'unit': 'lines',
                   'message': '2 error lines in /var/log/dialysis/interface.log since the last inspection',
                   'threshold': {'warning': 1, 'critical': 20}, 'path': '/var/log/dialysis/interface.log',
                   'samples': ['ERROR send failed {"patientName": "王小明"}', 'ERROR tel: 13812345678']}],
        'metrics': {'collector': 'psutil',
                    'top_cpu': [{'name': 'java', 'pid': 3100, 'user': 'his', 'percent': 9.5}],
                    'logs': {'interface': {'matches': 2, 'files': ['/var/log/dialysis/interface.log']}}},
    }
    out = redact_data(record)
    assert redact_data(out) == out
    assert out['items'][0]['samples'] == ['ERROR send failed {"patientName": "[redacted]"}',
                                          'ERROR tel: %s' % PHONE]
    out['items'][0]['samples'] = record['items'][0]['samples']
    assert out == record


def test_redact_data_values_that_are_not_text():
    assert redact_data({'phone': 13812345678, 'mrn': 77812, 'patient': {'id': 4711}}) == \
        {'phone': PHONE, 'mrn': NAME, 'patient': {'id': NAME}}
    assert redact_data(['x', 3, None, 2.5]) == ['x', 3, None, 2.5]
    assert redact_data(('王小明', 'phone 13812345678')) == ['王小明', 'phone %s' % PHONE]
