from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_redact import (
    MASK,
    redact_data,
    redact_text,
)


def test_password_forms_are_masked():
    for line in ['db login password=Secr3t! failed', 'PASSWORD: "hunter 2"', "pwd='abc'",
                 'connect: {"password": "Secr3t!"}', 'api_key=AKIA1234567890',
                 'client_secret=xyz123', '数据库密码：Secr3t!']:
        out = redact_text(line)
        assert 'Secr3t' not in out and 'hunter 2' not in out and 'AKIA1234567890' not in out
        assert 'xyz123' not in out and "'abc'" not in out
        assert MASK in out


def test_url_credentials_and_bearer_tokens():
    out = redact_text('jdbc via postgresql://hdis:Pa55word@10.1.1.5/hdis and '
                      'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig')
    assert 'Pa55word' not in out and 'eyJhbGciOiJIUzI1NiJ9' not in out
    assert 'postgresql://hdis:' in out


def test_private_key_block():
    out = redact_text('key:\n-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAB3Nza\n'
                      '-----END OPENSSH PRIVATE KEY-----\nafter')
    assert 'AAAAB3Nza' not in out and out.endswith('after')


def test_patient_identifiers():
    line = ('patient_name=张三 id_card: 110101199003071234 phone 13812345678 '
            '患者：李四 病历号: HD2026-0042 MRN=77812')
    out = redact_text(line)
    for secret in ['张三', '110101199003071234', '13812345678', '李四', 'HD2026-0042', '77812']:
        assert secret not in out, secret


def test_ordinary_log_lines_survive():
    line = '2026-11-26 02:00:01 ERROR lost connection to dialysis machine HD-07 after 3 retries'
    assert redact_text(line) == line


def test_redact_data_masks_secret_keys_and_strings_in_nested_structures():
    data = {'user': 'hdis', 'password': 'x', 'nested': [{'api_token': 'tok', 'msg': 'password=y'}],
            'record': {'items': [{'item': 'disk:/', 'message': 'ok', 'status': 'ok'}]},
            'password_set': True}
    out = redact_data(data)
    assert out['password'] == MASK and out['nested'][0]['api_token'] == MASK
    assert 'y' not in out['nested'][0]['msg'].replace(MASK, '').split('=')[1]
    assert out['record'] == data['record']
    assert out['user'] == 'hdis' and out['password_set'] is True


def test_redaction_is_idempotent_so_host_and_callback_can_both_apply_it():
    for line in ['charting failed for 患者：赵六 身份证 110105198802034521 bed 7',
                 'id_card: 110101199003071234 password=abc token: xyz',
                 'postgresql://u:p@h/db Authorization: Bearer abcdefghijk']:
        once = redact_text(line)
        assert redact_text(once) == once
    assert redact_text('患者：赵六 身份证 110105198802034521') == '患者：[redacted] 身份证 [id redacted]'
