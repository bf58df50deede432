import gzip
import json
import os

import pytest

from ansible_collections.dialysis.ops.plugins.module_utils import dialysis_logscan as ls


def append(path, *lines):
    with open(path, 'a') as handle:
        for line in lines:
            handle.write(line + '\n')


def scan(path, state, **spec):
    spec.setdefault('path', str(path))
    result, new = ls.scan_log(spec, state.get('files', {}), 1 << 20, 3)
    state['files'] = new
    return result


@pytest.fixture
def log(tmp_path):
    path = tmp_path / 'app.log'
    append(path, '08:00 INFO service started', '08:01 ERROR cannot reach HIS interface',
           '08:02 INFO dialysis session HD-07 started')
    return path


def test_first_scan_reads_the_whole_file(log):
    state = {}
    result = scan(log, state)
    assert result['matches'] == 1 and result['lines'] == 3
    assert result['events'] == ['first scan']
    assert result['samples'] == ['08:01 ERROR cannot reach HIS interface']


def test_second_scan_reports_only_new_lines(log):
    state = {}
    scan(log, state)
    assert scan(log, state)['matches'] == 0
    append(log, '09:00 FATAL database connection pool exhausted', '09:01 INFO ok')
    result = scan(log, state)
    assert result['matches'] == 1 and result['lines'] == 2
    assert result['samples'] == ['09:00 FATAL database connection pool exhausted']
    assert result['events'] == []


def test_partial_last_line_is_counted_once_complete(log):
    state = {}
    scan(log, state)
    with open(log, 'a') as handle:
        handle.write('10:00 ERROR half writ')
    assert scan(log, state)['matches'] == 0
    with open(log, 'a') as handle:
        handle.write('ten line\n')
    result = scan(log, state)
    assert result['matches'] == 1
    assert result['samples'] == ['10:00 ERROR half written line']


def test_rotation_by_rename_reads_the_rest_of_the_old_file(log):
    state = {}
    scan(log, state)
    append(log, '11:00 ERROR written just before rotation')
    os.rename(log, str(log) + '.1')
    append(log, '11:05 INFO new file', '11:06 ERROR after rotation')
    result = scan(log, state)
    assert result['matches'] == 2
    assert 'rotated' in result['events']
    assert result['samples'] == ['11:00 ERROR written just before rotation',
                                 '11:06 ERROR after rotation']
    assert scan(log, state)['matches'] == 0


def test_rotation_to_compressed_file_reads_new_file_only(log):
    state = {}
    scan(log, state)
    with open(log, 'rb') as src, gzip.open(str(log) + '.1.gz', 'wb') as dst:
        dst.write(src.read())
    os.unlink(log)
    append(log, '12:00 ERROR after compress')
    result = scan(log, state)
    # The new file may even reuse the old inode number; either way it is read from its start.
    assert result['matches'] == 1
    assert set(result['events']) & {'rotated', 'truncated', 'rewritten'}


def test_copytruncate_is_detected(log):
    state = {}
    scan(log, state)
    with open(log, 'w') as handle:
        handle.write('13:00 ERROR after truncate\n')
    result = scan(log, state)
    assert result['matches'] == 1 and result['events'] == ['truncated']


def test_file_rewritten_in_place_is_rescanned(tmp_path):
    path = tmp_path / 'big.log'
    append(path, *['%03d INFO line of padding text for the head hash' % i for i in range(20)])
    state = {}
    scan(path, state)
    inode = os.stat(path).st_ino
    with open(path, 'r+') as handle:  # same inode, same size or larger, new content
        handle.write('000 ERROR the file was replaced by a writer that truncates differently\n')
    assert os.stat(path).st_ino == inode
    result = scan(path, state)
    assert 'rewritten' in result['events'] and result['matches'] == 1


def test_small_file_replaced_by_same_inode_and_larger_size_is_rescanned(tmp_path):
    path = tmp_path / 'small.log'
    append(path, 'INFO a')
    state = {}
    scan(path, state)
    with open(path, 'w') as handle:  # same inode, new content, larger than before
        handle.write('ERROR new content that is longer than before\n')
    result = scan(path, state)
    assert result['events'] == ['rewritten'] and result['matches'] == 1


def test_glob_aggregates_files_and_keeps_positions_per_file(tmp_path):
    a, b = tmp_path / 'app-1.log', tmp_path / 'app-2.log'
    append(a, 'ERROR a1')
    append(b, 'ERROR b1', 'ERROR b2')
    state = {}
    result = scan(tmp_path / 'app-*.log', state, name='app')
    assert result['matches'] == 3 and len(result['files']) == 2
    append(b, 'ERROR b3')
    assert scan(tmp_path / 'app-*.log', state, name='app')['matches'] == 1


def test_missing_file_returns_none(tmp_path):
    result, new = ls.scan_log({'path': str(tmp_path / 'nope.log')}, {}, 1 << 20, 3)
    assert result is None and new == {}


def test_custom_patterns_and_ignore(log):
    append(log, 'WARN disk slow', 'ERROR heartbeat retry 1')
    result = scan(log, {}, patterns=['WARN', 'ERROR'], ignore=['heartbeat retry'])
    assert result['matches'] == 2  # the HIS error and the WARN line; the heartbeat is ignored


def test_invalid_pattern_names_the_log():
    with pytest.raises(ValueError, match=r"logs\[app\]\.patterns: '\(' is not a valid"):
        ls.scan_log({'name': 'app', 'path': '/x', 'patterns': ['(']}, {}, 100, 3)


def test_default_patterns_skip_package_names_but_catch_errors():
    pattern = ls.compile_patterns(ls.DEFAULT_PATTERNS)
    assert pattern.search('Unpacking libgpg-error-dev (1.46-1)') is None
    for line in ['ERROR x', 'error: y', 'Traceback (most recent call last):', 'kernel: Out of memory',
                 'java.lang.NullPointerException', '数据库连接失败', 'No space left on device']:
        assert pattern.search(line), line


def test_samples_are_redacted_and_bounded(tmp_path):
    path = tmp_path / 'a.log'
    long_tail = 'x' * 500
    append(path, 'ERROR login failed password=Secr3t for 患者：王五 ' + long_tail,
           'ERROR 2', 'ERROR 3', 'ERROR 4')
    result = scan(path, {})
    assert result['matches'] == 4 and len(result['samples']) == 3
    assert 'Secr3t' not in result['samples'][0] and '王五' not in result['samples'][0]
    assert len(result['samples'][0]) <= ls.SAMPLE_CHARS + 3


def test_more_than_max_bytes_skips_ahead(tmp_path):
    path = tmp_path / 'flood.log'
    append(path, *['ERROR flood line %05d' % i for i in range(5000)])
    result, dummy_files = ls.scan_log({'path': str(path)}, {}, 4096, 3)
    assert result['skipped_bytes'] > 0 and result['matches'] < 5000
    assert any('skipped' in e for e in result['events'])
    assert result['samples'][0].startswith('ERROR flood line')


def test_state_round_trip_is_atomic_and_private(tmp_path):
    path = str(tmp_path / 'state' / 'scan.json')
    assert ls.load_state(path)['files'] == {}
    ls.save_state(path, {'version': ls.STATE_VERSION, 'files': {'/a': {'offset': 3}},
                         'journal_cursor': 'c'})
    assert ls.load_state(path)['files'] == {'/a': {'offset': 3}}
    assert oct(os.stat(path).st_mode & 0o777) == '0o600'
    assert [n for n in os.listdir(os.path.dirname(path)) if n.startswith('.logscan.')] == []
    with open(path, 'w') as handle:
        handle.write('{broken')
    assert ls.load_state(path)['files'] == {}


def test_journal_scan_uses_cursor(tmp_path):
    fake = tmp_path / 'journalctl'
    entries = [{'__CURSOR': 'c1', 'MESSAGE': 'disk failure on sdb', '_SYSTEMD_UNIT': 'smartd.service'},
               {'__CURSOR': 'c2', 'MESSAGE': [104, 105], 'SYSLOG_IDENTIFIER': 'kernel'}]
    argv_log = tmp_path / 'argv'
    fake.write_text('#!/bin/sh\necho "$@" >> %s\ncat <<"EOF"\n%s\nEOF\n'
                    % (argv_log, '\n'.join(json.dumps(e) for e in entries)))
    fake.chmod(0o755)
    result, cursor = ls.scan_journal(None, 'err', '-24h', 3, journalctl=str(fake))
    assert result['matches'] == 2 and cursor == 'c2'
    assert result['samples'] == ['smartd.service: disk failure on sdb', 'kernel: hi']
    ls.scan_journal('c2', 'err', '-24h', 3, journalctl=str(fake))
    calls = argv_log.read_text().splitlines()
    assert '--since=-24h' in calls[0] and '--after-cursor=c2' in calls[1]


def test_journal_missing_binary_gives_none(tmp_path):
    assert ls.scan_journal(None, 'err', '-24h', 3, journalctl=str(tmp_path / 'nope')) == (None, None)
