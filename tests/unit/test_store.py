import json

import pytest

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import make_item, make_record
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import RecordStore, parse_time


def write_run(directory, run_id, started, hosts, index=True, partial_tail=False):
    lines = [{'type': 'run', 'run_id': run_id, 'started': started, 'playbook': 'inspect.yml'}]
    for host in hosts:
        lines.append({'type': 'result', 'run_id': run_id, 'host': host, 'task': 'Inspect',
                      'status': 'ok', 'ended': started,
                      'record': make_record('inspection', 'pd', [make_item('cpu:usage', 5.0, 'ok', 'm')])})
    text = ''.join(json.dumps(x) + '\n' for x in lines)
    if partial_tail:
        text += '{"type": "result", "host": "cut-off'
    (directory / ('%s.jsonl' % run_id)).write_text(text)
    if index:
        with open(directory / 'index.jsonl', 'a') as handle:
            handle.write(json.dumps({'event': 'start', 'run_id': run_id, 'started': started,
                                     'file': '%s.jsonl' % run_id}) + '\n')


def test_period_selection_and_unindexed_runs(tmp_path):
    write_run(tmp_path, 'r-oct', '2026-10-31T23:59:59Z', ['a'])
    write_run(tmp_path, 'r-nov', '2026-11-01T00:00:00Z', ['a', 'b'])
    write_run(tmp_path, 'r-lost', '2026-11-15T08:00:00Z', ['c'], index=False)
    store = RecordStore(str(tmp_path))
    assert [r['run_id'] for r in store.runs('2026-11-01', '2026-12-01')] == ['r-nov', 'r-lost']
    hosts = [r['context']['host'] for r in store.records('2026-11-01', '2026-12-01')]
    assert hosts == ['a', 'b', 'c']
    assert [r['context']['host'] for r in store.records('2026-11-01', '2026-12-01', host='b')] == ['b']


def test_partial_last_line_is_skipped_and_reported(tmp_path):
    write_run(tmp_path, 'r1', '2026-11-02T00:00:00Z', ['a', 'b'], partial_tail=True)
    store = RecordStore(str(tmp_path))
    assert len(list(store.records())) == 2
    assert store.stats['bad_lines'] == ['%s:4' % (tmp_path / 'r1.jsonl')]


def test_parse_time_errors_name_the_expected_form():
    assert parse_time('2026-11-01').isoformat() == '2026-11-01T00:00:00+00:00'
    assert parse_time('2026-11-01T08:00:00+08:00').hour == 0
    with pytest.raises(ValueError, match='expected an ISO date'):
        parse_time('last month')


def test_a_record_breaking_the_contract_is_skipped_and_counted(tmp_path):
    write_run(tmp_path, 'r1', '2026-11-02T00:00:00Z', ['a'])
    bad = {'type': 'result', 'run_id': 'r1', 'host': 'b', 'task': 'Inspect', 'status': 'ok',
           'ended': '2026-11-02T00:00:00Z',
           'record': {'version': 2, 'kind': 'inspection', 'system': 'pd', 'status': 'ok', 'anomalies': 0,
                      'items': [{'item': 'disk:/', 'value': 93.0, 'status': 'fine', 'message': 'm'}]}}
    with open(tmp_path / 'r1.jsonl', 'a') as handle:
        handle.write(json.dumps(bad) + '\n')
    store = RecordStore(str(tmp_path))
    assert [r['context']['host'] for r in store.records()] == ['a']
    assert 'status' in store.stats['invalid_records'][0] and 'r1/b' in store.stats['invalid_records'][0]


def test_run_errors_are_listed_apart_from_records(tmp_path):
    write_run(tmp_path, 'r1', '2026-11-02T00:00:00Z', ['a'])
    with open(tmp_path / 'r1.jsonl', 'a') as handle:
        handle.write(json.dumps({'type': 'run_error', 'run_id': 'r1', 'host': 'localhost',
                                 'task': 'Write the documents', 'msg': 'report_month: expected YYYY-MM'})
                     + '\n')
    store = RecordStore(str(tmp_path))
    errors = list(store.run_errors('2026-11-01', '2026-12-01'))
    assert [e['msg'] for e in errors] == ['report_month: expected YYYY-MM']
    assert [r['context']['host'] for r in store.records()] == ['a']
    assert list(store.run_errors('2026-12-01', '2027-01-01')) == []
