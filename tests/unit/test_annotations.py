"""The engineers' annotations: validation, append-only rendering, quarter merge."""

import pytest

from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_annotations import (
    AnnotationError,
    Annotations,
    merge_annotations,
)

AID = '2026-11:hd-db-01:disk:/srv'


def anomaly(aid=AID, host='hd-db-01', item='disk:/srv', first='2026-11-03 07:00', last='2026-11-17 07:00'):
    return {'id': aid, 'host': host, 'system': 'hemodialysis', 'item': item, 'severity': 'critical',
            'first_seen': first, 'last_seen': last, 'occurrences': 2,
            'description': '文件系统 /srv 使用率 96.1%'}


def test_missing_file_is_empty(tmp_path):
    ann = Annotations(str(tmp_path / '2026-11.yml')).load()
    assert ann.entries == {} and ann.raw is None


def test_round_trip_and_merge(tmp_path):
    path = tmp_path / '2026-11.yml'
    ann = Annotations(str(path)).load()
    anomalies = {AID: anomaly()}
    path.write_text(ann.render_with(anomalies, '2026-11', 'zh'), encoding='utf-8')
    again = Annotations(str(path)).load()
    assert again.entries[AID]['feedback'] == '' and again.new_entries(anomalies) == []
    merge_annotations(anomalies, again.entries)
    assert anomalies[AID]['resolved'] is False


def test_unknown_key_names_file_and_line(tmp_path):
    path = tmp_path / '2026-11.yml'
    path.write_text('anomalies:\n  "%s":\n    feedback: ok\n    fedback: typo\n' % AID, encoding='utf-8')
    expected = r"2026-11\.yml:4: anomalies\['%s'\]\.fedback: unknown key" % AID
    with pytest.raises(AnnotationError, match=expected):
        Annotations(str(path)).load()
