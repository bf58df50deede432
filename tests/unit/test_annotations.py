"""The engineers' annotations: validation, append-only rendering, quarter merge."""

import re

import pytest
import yaml

from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_annotations import (
    AnnotationError,
    Annotations,
    check_known,
    merge_annotations,
    period_entries,
)

AID = '2026-11:hd-db-01:disk:/srv'


def anomaly(aid=AID, host='hd-db-01', item='disk:/srv', first='2026-11-03 07:00', last='2026-11-17 07:00'):
    return {'id': aid, 'host': host, 'system': 'hemodialysis', 'item': item, 'severity': 'critical',
            'first_seen': first, 'last_seen': last, 'occurrences': 2,
            'description': '文件系统 /srv 使用率 96.1%，超过严重阈值 95%'}


def write(tmp_path, text, name='2026-11.yml', encoding='utf-8'):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def rejected(path):
    with pytest.raises(AnnotationError) as info:
        Annotations(path).load()
    return info.value


def entry_yaml(aid=AID, **fields):
    lines = ['anomalies:', '  "%s":' % aid]
    lines += ['    %s: %s' % (k, v) for k, v in fields.items()]
    return '\n'.join(lines) + '\n'


# -- loading and validation --------------------------------------------------------
def test_missing_file_is_empty(tmp_path):
    ann = Annotations(str(tmp_path / '2026-11.yml')).load()
    assert ann.entries == {} and ann.raw is None and ann.new_entries({AID: anomaly()})


def test_values_are_text_and_dates_are_accepted(tmp_path):
    path = write(tmp_path, entry_yaml(feedback="'2026-11-03 09:10 电话告知信息科张工'", resolution='清理备份',
                                      resolved_at='2026-11-10', first_seen='2026-11-03 07:00:00',
                                      engineer='', severity='critical'))
    ann = Annotations(path).load()
    assert ann.entries[AID] == {'feedback': '2026-11-03 09:10 电话告知信息科张工', 'resolution': '清理备份',
                                'resolved_at': '2026-11-10', 'first_seen': '2026-11-03 07:00:00',
                                'engineer': '', 'severity': 'critical'}
    assert ann.lines[AID] == 2


def test_dates_are_kept_as_written(tmp_path):
    path = write(tmp_path, "anomalies:\n  '%s': {resolved_at: 2026-11-10T09:00:00+08:00, "
                           "first_seen: 2026-11-03}\n" % AID)
    assert Annotations(path).load().entries[AID] == {'resolved_at': '2026-11-10T09:00:00+08:00',
                                                     'first_seen': '2026-11-03'}


def test_error_survives_pickling(tmp_path):
    import pickle
    error = rejected(write(tmp_path, entry_yaml(resolution='42')))
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.line == 3 and again.key == error.key


def test_unreadable_path_is_an_annotation_error(tmp_path):
    (tmp_path / '2026-11.yml').mkdir()
    assert 'cannot read the file' in str(rejected(str(tmp_path / '2026-11.yml')))


def test_invalid_yaml_names_the_line(tmp_path):
    path = write(tmp_path, 'anomalies:\n  x: {feedback: "a"\n')
    assert re.match(r'.*2026-11\.yml:\d+: not valid YAML \(.+\); fix the file', str(rejected(path)))
    error = rejected(write(tmp_path, 'anomalies:\n  "%s":\n    feedback: a\n    feedback: b\n' % AID))
    assert error.line == 4 and 'not valid YAML' in str(error) and 'duplicate key' in str(error)


def test_gbk_file_is_rejected_with_the_line_of_the_first_bad_byte(tmp_path):
    text = entry_yaml(host='hd-db-01', feedback='已电话告知信息科张工')
    path = write(tmp_path, text, encoding='gbk')
    error = rejected(path)
    assert error.line == 4 and error.key == "anomalies['%s'].feedback" % AID
    assert str(error) == ("%s:4: anomalies['%s'].feedback: the file is not UTF-8 "
                          "(it looks like GBK/GB18030); save it as UTF-8" % (path, AID))


def test_non_utf8_that_is_not_gbk_either(tmp_path):
    path = tmp_path / '2026-11.yml'
    path.write_bytes(b'# \xff\xff\xff\nanomalies: {}\n')
    error = rejected(str(path))
    assert error.line == 1
    assert 'the file is not UTF-8 (byte 0xff is not UTF-8); save it as UTF-8' in str(error)


def test_utf8_bom_is_accepted(tmp_path):
    path = write(tmp_path, '\ufeff' + entry_yaml(feedback='告知'))
    assert Annotations(path).load().entries[AID]['feedback'] == '告知'


@pytest.mark.parametrize('content,expected', [
    ('anomaly: {}\n', r"2026-11\.yml:1: unknown key 'anomaly'; the file holds only \"anomalies\""),
    ('- a\n- b\n', r'2026-11\.yml:1: expected a mapping with the key anomalies, got list'),
    ('anomalies: [a, b]\n', r'2026-11\.yml:1: anomalies: expected a mapping of anomaly id to'),
    ('anomalies:\n  "%s":\n    feedback: ok\n    fedback: typo\n' % AID,
     r"2026-11\.yml:4: anomalies\['%s'\]\.fedback: unknown key; expected one of host, " % AID),
    ('anomalies:\n  "%s": done\n' % AID,
     r"2026-11\.yml:2: anomalies\['%s'\]: expected a mapping with feedback and resolution, got str done"
     % AID),
    ('anomalies:\n  2026: {feedback: a}\n',
     r"2026-11\.yml:2: anomalies\['2026'\]: the anomaly id must be text"),
])
def test_malformed_structure(tmp_path, content, expected):
    assert re.match('.*' + expected, str(rejected(write(tmp_path, content))))


@pytest.mark.parametrize('field,value,expected', [
    ('resolution', '42', "resolution: expected text, got int 42; write it in quotes: resolution: '42'"),
    ('feedback', 'true', "feedback: expected text, got boolean True"),
    ('engineer', 'false', "engineer: expected text, got boolean False"),
    ('description', '1.5', "description: expected text, got number 1.5"),
    ('host', '[a, b]', "host: expected text, got list ['a', 'b']"),
    ('item', '{a: 1}', "item: expected text, got mapping {'a': 1}"),
    ('system', '2026-11-10', "system: expected text, got date 2026-11-10"),
    ('resolved_at', '42', "resolved_at: expected a date or text, got int 42"),
    ('first_seen', '[1]', "first_seen: expected a date or text, got list [1]"),
    ('severity', 'fatal', "severity: expected one of warning, critical, error, got str fatal"),
    ('severity', '3', "severity: expected one of warning, critical, error, got int 3"),
])
def test_wrong_types_name_file_line_and_key(tmp_path, field, value, expected):
    fields = {'engineer': "'li.si'", field: value}
    path = write(tmp_path, entry_yaml(**fields))
    error = rejected(path)
    line = 4 if field != 'engineer' else 3
    assert str(error).startswith("%s:%d: anomalies['%s'].%s" % (path, line, AID, expected))
    assert error.line == line and error.key == "anomalies['%s'].%s" % (AID, field)


def test_number_resolution_exact_message(tmp_path):
    path = write(tmp_path, 'anomalies:\n  %s:\n    host: hd-db-01\n    item: disk:/srv\n    system: hd\n'
                           '    severity: critical\n    resolution: 42\n' % AID)
    assert str(rejected(path)) == ("%s:7: anomalies['%s'].resolution: expected text, got int 42; "
                                   "write it in quotes: resolution: '42'" % (path, AID))
    assert isinstance(rejected(path), ValueError)


def test_blank_values_are_accepted(tmp_path):
    path = write(tmp_path, entry_yaml(feedback='', resolution="''", severity='', resolved_at=''))
    assert Annotations(path).load().entries[AID] == dict(feedback='', resolution='', severity='',
                                                         resolved_at='')


# -- check_known ----------------------------------------------------------------------
def test_unknown_id_is_rejected_with_a_hint(tmp_path):
    typo = '2026-11:hd-db-1:disk:/srv'
    path = write(tmp_path, 'anomalies:\n  "%s":\n    feedback: a\n  "%s":\n    feedback: told\n'
                 % (AID, typo))
    ann = Annotations(path).load()
    assert check_known(ann, [AID, typo]) == []
    with pytest.raises(AnnotationError) as info:
        check_known(ann, [AID, '2026-11:hd-db-01:memory:ram'])
    assert str(info.value) == (
        "%s:4: anomalies['%s']: not an anomaly of 2026-11; did you mean '%s'? did the id change? "
        "copy it from the sheet's 异常编号 (anomaly id) column" % (path, typo, AID))


def test_blank_stale_entries_are_returned_not_rejected(tmp_path):
    gone = '2026-11:hd-db-02:inspection:missing'
    path = write(tmp_path, 'anomalies:\n  "%s":\n    host: hd-db-02\n    feedback: ""\n    resolution:\n'
                 % gone)
    ann = Annotations(path).load()
    assert check_known(ann, [AID]) == [gone]
    assert check_known(ann, [gone]) == []


# -- rendering --------------------------------------------------------------------------
ENGINEER_FILE = (
    '# 巡检异常反馈与处理记录（2026-11）。\n'
    '# 手工备注：张工负责数据库\n'
    'anomalies:\n'
    "  '2026-11:hd-db-01:disk:/srv':\n"
    '    host: hd-db-01\n'
    '    item: disk:/srv\n'
    '    feedback: "2026-11-03 09:10 电话告知信息科张工"   # 已电话通知\n'
    '    resolution: |\n'
    '      清理过期备份 12 GB，\n'
    '      使用率降至 61%\n'
    '    resolved_at: 2026-11-04\n'
    '# 末尾注释\n'
)


def test_new_file_has_header_and_round_trips(tmp_path):
    path = tmp_path / '2026-11.yml'
    ann = Annotations(str(path)).load()
    anomalies = {AID: anomaly()}
    text = ann.render_with(anomalies, '2026-11', 'zh')
    assert text.startswith('# 巡检异常反馈与处理记录（2026-11）。\n')
    assert Annotations(str(path)).load().render_with(anomalies, '2026-11', 'en').startswith(
        '# Feedback on and resolution')
    path.write_text(text, encoding='utf-8')
    again = Annotations(str(path)).load()
    assert again.new_entries(anomalies) == [] and again.render_with(anomalies, '2026-11', 'zh') is None
    fields = ('host', 'item', 'system', 'severity', 'first_seen', 'description')
    expected = dict((k, anomaly()[k]) for k in fields)
    assert again.entries[AID] == dict(expected, feedback='', resolution='')
    merge_annotations(anomalies, again.entries)
    assert anomalies[AID]['resolved'] is False and anomalies[AID]['engineer'] == ''


@pytest.mark.parametrize('newline,indent', [('\n', 2), ('\r\n', 2), ('\n', 4)])
def test_append_keeps_engineer_text_and_comments_byte_for_byte(tmp_path, newline, indent):
    lines = ENGINEER_FILE.splitlines()
    lines = [re.sub(r'^( +)', lambda m: m.group(1) * (indent // 2), line) for line in lines]
    original = newline.join(lines) + newline
    path = tmp_path / '2026-11.yml'
    path.write_bytes(original.encode('utf-8'))
    ann = Annotations(str(path)).load()
    assert ann.entries[AID]['resolution'] == '清理过期备份 12 GB，\n使用率降至 61%\n'
    new_id = '2026-11:hd-db-01:memory:ram'
    anomalies = {AID: anomaly(), new_id: anomaly(new_id, item='memory:ram')}
    text = ann.render_with(anomalies, '2026-11', 'zh')
    assert text.startswith(original)
    appended = text[len(original):]
    assert appended.startswith(' ' * indent + "'%s':" % new_id) or appended.startswith(' ' * indent + new_id)
    assert ('\r\n' in appended) == (newline == '\r\n')
    path.write_bytes(text.encode('utf-8'))
    again = Annotations(str(path)).load()
    assert set(again.entries) == {AID, new_id} and again.entries[AID] == ann.entries[AID]
    assert again.render_with(anomalies, '2026-11', 'zh') is None
    merge_annotations(anomalies, again.entries)
    assert anomalies[AID]['resolved'] and not anomalies[new_id]['resolved']
    assert anomalies[AID]['resolved_at'] == '2026-11-04'


def test_file_without_trailing_newline(tmp_path):
    original = "anomalies:\n  '%s':\n    feedback: told  # no newline at the end" % AID
    path = write(tmp_path, original)
    new_id = '2026-11:hd-db-01:memory:ram'
    text = Annotations(path).load().render_with({new_id: anomaly(new_id, item='memory:ram')}, '2026-11', 'zh')
    assert text.startswith(original + '\n') and set(yaml.safe_load(text)['anomalies']) == {AID, new_id}


def test_flow_style_is_rewritten_keeping_content(tmp_path):
    path = write(tmp_path, "# keep me\nanomalies: {'%s': {feedback: 'told Zhang', resolution: 'cleaned'}}\n"
                 % AID)
    new_id = '2026-11:hd-db-01:memory:ram'
    both = {AID: anomaly(), new_id: anomaly(new_id, item='memory:ram')}
    text = Annotations(path).load().render_with(both, '2026-11', 'zh')
    data = yaml.safe_load(text)['anomalies']
    assert data[AID] == {'feedback': 'told Zhang', 'resolution': 'cleaned'}
    assert set(data) == {AID, new_id} and text.startswith('# keep me\n')


def test_keep_block_scalar_at_the_end_is_not_changed(tmp_path):
    original = "anomalies:\n  '%s':\n    resolution: |+\n      done\n\n" % AID
    path = write(tmp_path, original)
    ann = Annotations(path).load()
    new_id = '2026-11:hd-db-01:memory:ram'
    text = ann.render_with({new_id: anomaly(new_id, item='memory:ram')}, '2026-11', 'zh')
    again = Annotations(write(tmp_path, text)).load()
    assert again.entries[AID] == ann.entries[AID] and new_id in again.entries


@pytest.mark.parametrize('original', ['# only a comment\n', 'anomalies:\n', 'anomalies: {}\n',
                                      '# c\nanomalies:  # nothing yet\n# end\n'])
def test_files_without_entries_keep_their_text(tmp_path, original):
    path = write(tmp_path, original)
    text = Annotations(path).load().render_with({AID: anomaly()}, '2026-11', 'zh')
    assert list(yaml.safe_load(text)['anomalies']) == [AID]
    if original != 'anomalies: {}\n':
        assert text.startswith(original)
    assert Annotations(write(tmp_path, text)).load().entries[AID]['host'] == 'hd-db-01'


# -- periods ---------------------------------------------------------------------------
def test_month_period_entries_are_the_file(tmp_path):
    write(tmp_path, entry_yaml(feedback='told', resolution='done'))
    write(tmp_path, entry_yaml(aid='2026-10:x:y', feedback='old'), name='2026-10.yml')
    ann, entries = period_entries(str(tmp_path), '2026-11', ['2026-11'], {AID: anomaly()})
    assert ann.path.endswith('2026-11.yml') and entries == {AID: {'feedback': 'told', 'resolution': 'done'}}


def quarter_files(tmp_path, quarterly=''):
    write(tmp_path, 'anomalies:\n'
                    "  '2026-10:hd-db-01:disk:/srv': {feedback: 告知张工, resolution: 清理备份, "
                    'resolved_at: 2026-10-12, engineer: li.si}\n'
                    "  '2026-10:ckd-app-01:memory:ram': {feedback: 告知王工, resolution: 重启服务}\n",
          name='2026-10.yml')
    write(tmp_path, 'anomalies:\n'
                    "  '2026-11:hd-db-01:disk:/srv': {feedback: 再次告知张工, resolution: ''}\n"
                    "  '2026-11:unrelated:x': {feedback: 'not in the quarter'}\n",
          name='2026-11.yml')
    if quarterly:
        write(tmp_path, quarterly, name='2026-Q4.yml')
    return {
        '2026-Q4:hd-db-01:disk:/srv': anomaly('2026-Q4:hd-db-01:disk:/srv', first='2026-10-05 07:00',
                                              last='2026-11-17 07:00'),
        '2026-Q4:ckd-app-01:memory:ram': anomaly('2026-Q4:ckd-app-01:memory:ram', host='ckd-app-01',
                                                 item='memory:ram', first='2026-10-05 07:00',
                                                 last='2026-10-20 07:00'),
        '2026-Q4:pd-app-01:cpu': anomaly('2026-Q4:pd-app-01:cpu', host='pd-app-01', item='cpu',
                                         first='2026-12-01 07:00', last='2026-12-02 07:00'),
    }


MONTHS = ['2026-10', '2026-11', '2026-12']


def test_quarter_merges_the_months(tmp_path):
    anomalies = quarter_files(tmp_path)
    ann, entries = period_entries(str(tmp_path), '2026-Q4', MONTHS, anomalies)
    assert ann.entries == {} and ann.path.endswith('2026-Q4.yml')
    disk = entries['2026-Q4:hd-db-01:disk:/srv']
    # resolved in October, back in November and open there: open for the quarter
    assert disk == {'feedback': '2026-10: 告知张工; 2026-11: 再次告知张工', 'resolution': '',
                    'resolved_at': '', 'engineer': ''}
    ram = entries['2026-Q4:ckd-app-01:memory:ram']
    assert ram == {'feedback': '2026-10: 告知王工', 'resolution': '重启服务', 'resolved_at': '',
                   'engineer': ''}
    assert entries['2026-Q4:pd-app-01:cpu'] == dict.fromkeys(('feedback', 'resolution', 'resolved_at',
                                                              'engineer'), '')
    merge_annotations(anomalies, entries)
    assert [a['resolved'] for a in (anomalies['2026-Q4:hd-db-01:disk:/srv'],
                                    anomalies['2026-Q4:ckd-app-01:memory:ram'])] == [False, True]
    # the quarterly file gets the new quarter anomalies appended as usual
    assert len(ann.new_entries(anomalies)) == 3


def test_quarterly_file_wins(tmp_path):
    anomalies = quarter_files(tmp_path, quarterly=(
        'anomalies:\n'
        "  '2026-Q4:hd-db-01:disk:/srv':\n"
        "    feedback: ''\n"
        '    resolution: 扩容磁盘至 500 GB\n'
        '    engineer: wang.wu\n'
        "  '2026-Q4:ckd-app-01:memory:ram':\n"
        '    feedback: 季度汇总：已告知\n'
        "    resolution: ''\n"))
    ann, entries = period_entries(str(tmp_path), '2026-Q4', MONTHS, anomalies)
    assert set(ann.entries) == {'2026-Q4:hd-db-01:disk:/srv', '2026-Q4:ckd-app-01:memory:ram'}
    disk = entries['2026-Q4:hd-db-01:disk:/srv']
    assert disk['resolution'] == '扩容磁盘至 500 GB' and disk['engineer'] == 'wang.wu'
    assert disk['feedback'] == '2026-10: 告知张工; 2026-11: 再次告知张工'
    ram = entries['2026-Q4:ckd-app-01:memory:ram']
    assert ram['feedback'] == '季度汇总：已告知' and ram['resolution'] == '重启服务'
    assert check_known(ann, anomalies) == []


def test_quarter_resolution_of_the_latest_month(tmp_path):
    anomalies = quarter_files(tmp_path)
    write(tmp_path, "anomalies:\n  '2026-11:hd-db-01:disk:/srv': {feedback: 再次告知, resolution: 扩容, "
                    'resolved_at: 2026-11-20 10:00}\n', name='2026-11.yml')
    entries = period_entries(str(tmp_path), '2026-Q4', MONTHS, anomalies)[1]
    assert entries['2026-Q4:hd-db-01:disk:/srv'] == {
        'feedback': '2026-10: 告知张工; 2026-11: 再次告知', 'resolution': '扩容',
        'resolved_at': '2026-11-20 10:00', 'engineer': ''}


def test_quarter_validates_monthly_files(tmp_path):
    anomalies = quarter_files(tmp_path)
    path = write(tmp_path, "anomalies:\n  '2026-11:hd-db-01:disk:/srv':\n    resolution: 42\n",
                 name='2026-11.yml')
    with pytest.raises(AnnotationError, match=re.escape("%s:3: anomalies['2026-11:hd-db-01:disk:/srv']"
                                                        ".resolution: expected text, got int 42" % path)):
        period_entries(str(tmp_path), '2026-Q4', MONTHS, anomalies)
