import bz2
import gzip
import json
import lzma
import os
import shutil

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
    assert result['partial'] == []
    assert scan(log, state)['matches'] == 0


def test_rotation_to_compressed_file_reads_new_file_only(log):
    state = {}
    scan(log, state)
    with open(log, 'rb') as src, gzip.open(str(log) + '.1.gz', 'wb') as dst:
        dst.write(src.read())
    os.unlink(log)
    append(log, '12:00 ERROR after compress')
    result = scan(log, state)
    # The new file may even reuse the old inode number; either way it is read from its start,
    # and the compressed file, found by its first bytes, has nothing after the old position.
    assert result['matches'] == 1 and result['partial'] == []
    assert set(result['events']) & {'rotated', 'truncated', 'rewritten'}


def test_copytruncate_is_detected(log):
    state = {}
    scan(log, state)
    with open(log, 'w') as handle:
        handle.write('13:00 ERROR after truncate\n')
    result = scan(log, state)
    assert result['matches'] == 1 and result['events'] == ['truncated']
    # Whatever was written between the scan and the truncation, if anything, is gone: said so.
    assert result['partial'] == [{'kind': 'rotated_not_found', 'path': str(log), 'offset': 108}]


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


def test_journal_scan_uses_cursor(tmp_path):
    fake = tmp_path / 'journalctl'
    entries = [{'__CURSOR': 'c1', 'MESSAGE': 'disk failure on sdb', '_SYSTEMD_UNIT': 'smartd.service'},
               {'__CURSOR': 'c2', 'MESSAGE': [104, 105], 'SYSLOG_IDENTIFIER': 'kernel'}]
    argv_log = tmp_path / 'argv'
    fake.write_text('#!/bin/sh\necho "$@" >> %s\ncat <<"EOF"\n%s\nEOF\n'
                    % (argv_log, '\n'.join(json.dumps(e) for e in entries)))
    fake.chmod(0o755)
    result, cursor = ls.scan_journal(None, 'err', '-24h', 3, journalctl=str(fake))
    assert result['matches'] == 2 and cursor == 'c2' and result['partial'] == []
    assert result['samples'] == ['smartd.service: disk failure on sdb', 'kernel: hi']
    ls.scan_journal('c2', 'err', '-24h', 3, journalctl=str(fake))
    calls = argv_log.read_text().splitlines()
    # A first scan takes the newest cursor first (where to go on if it reads nothing).
    assert calls[0].endswith('--lines=1')
    assert '--since=-24h' in calls[1] and '--after-cursor=c2' in calls[2] and len(calls) == 3


def test_journal_missing_binary_gives_none(tmp_path):
    assert ls.scan_journal(None, 'err', '-24h', 3, journalctl=str(tmp_path / 'nope')) == (None, None)


# -- partial scans: every one says what it did not read, in figures -----------------

LINE = 'ERROR flood line %05d'  # 22 characters and a newline: 23 bytes a line


def flood(path, first, count):
    append(path, *[LINE % i for i in range(first, first + count)])


@pytest.mark.parametrize('max_bytes, read, skipped', [
    (4096, 4094, 110906),   # the limit falls inside a line: resynchronised on the next one
    (2300, 2300, 112700),   # ... on a line boundary: exactly max_bytes read
])
def test_more_than_max_bytes_reads_the_last_max_bytes_and_says_how_much_was_skipped(
        tmp_path, max_bytes, read, skipped):
    path = tmp_path / 'flood.log'
    flood(path, 0, 5000)
    assert os.path.getsize(path) == 5000 * 23 == read + skipped
    result, files = ls.scan_log({'path': str(path)}, {}, max_bytes, 3)
    assert result['partial'] == [{'kind': 'read_limit', 'path': str(path), 'read_bytes': read,
                                  'skipped_bytes': skipped, 'max_bytes': max_bytes}]
    assert (result['bytes_read'], result['skipped_bytes']) == (read, skipped)
    assert result['matches'] == result['lines'] == read // 23
    assert result['samples'][0] == LINE % (5000 - read // 23)
    assert files[str(path)]['offset'] == 5000 * 23
    # Within the limit the next time: complete again.
    flood(path, 5000, 10)
    result, dummy_files = ls.scan_log({'path': str(path)}, files, max_bytes, 3)
    assert result['partial'] == [] and result['matches'] == 10 and result['skipped_bytes'] == 0


def test_growth_past_the_limit_since_the_previous_position_is_measured_from_it(tmp_path):
    path = tmp_path / 'app.log'
    flood(path, 0, 100)
    dummy_result, files = ls.scan_log({'path': str(path)}, {}, 1 << 20, 3)
    flood(path, 100, 1000)  # 23000 new bytes, 4600 read
    result, dummy_files = ls.scan_log({'path': str(path)}, files, 4600, 3)
    assert result['partial'][0]['skipped_bytes'] == 18400 and result['partial'][0]['read_bytes'] == 4600
    assert result['matches'] == 200 and result['samples'][0] == LINE % 900


def test_human_bytes():
    assert [ls.human_bytes(n) for n in (0, 512, 1536, 64 << 20, 960 << 20, 1 << 30, 3 << 29)] == [
        '0 B', '512 B', '1.5 KiB', '64 MiB', '960 MiB', '1 GiB', '1.5 GiB']
    assert ls.human_bytes((64 << 20) - 40) == '64 MiB'  # a line short of the limit: rounded


def test_a_directory_at_the_log_path_is_unreadable_not_missing(tmp_path):
    path = tmp_path / 'app.log'
    path.mkdir()
    result, files = ls.scan_log({'path': str(path)}, {}, 1 << 20, 3)
    assert result is not None and result['files'] == [] and files == {}
    assert result['partial'] == [{'kind': 'unreadable', 'path': str(path), 'error': 'Is a directory'}]


def permission_denied_for(monkeypatch, denied):
    """Tests run as root, who reads a chmod 000 file: simulate it with an open()
    that refuses that one path (the scanner's, not the test's)."""
    real_open = open

    def fake_open(name, *args, **kwargs):
        if str(name) == str(denied):
            raise PermissionError(13, 'Permission denied', str(name))
        return real_open(name, *args, **kwargs)
    monkeypatch.setattr(ls, 'open', fake_open, raising=False)


def test_a_file_that_cannot_be_opened_keeps_its_position_and_is_reported(log, monkeypatch):
    state = {}
    scan(log, state)
    before = dict(state['files'])
    append(log, '09:00 ERROR written while the file was unreadable')
    with monkeypatch.context() as patch:
        permission_denied_for(patch, log)
        result = scan(log, state)
    assert result['files'] == [] and result['matches'] == 0
    assert result['partial'] == [{'kind': 'unreadable', 'path': str(log), 'error': 'Permission denied'}]
    assert state['files'] == before  # the next readable scan starts where the last one stopped
    result = scan(log, state)
    assert result['matches'] == 1 and result['partial'] == []


def test_one_unreadable_file_of_a_glob_makes_the_scan_partial(tmp_path, monkeypatch):
    a, b = tmp_path / 'app-1.log', tmp_path / 'app-2.log'
    append(a, 'ERROR a1')
    append(b, 'ERROR b1')
    permission_denied_for(monkeypatch, b)
    result, files = ls.scan_log({'path': str(tmp_path / 'app-*.log')}, {}, 1 << 20, 3)
    assert result['files'] == [str(a)] and result['matches'] == 1 and list(files) == [str(a)]
    assert result['partial'] == [{'kind': 'unreadable', 'path': str(b), 'error': 'Permission denied'}]


def test_a_missing_directory_is_missing_not_unreadable(tmp_path):
    result, files = ls.scan_log({'path': str(tmp_path / 'nope' / 'app.log')}, {}, 1 << 20, 3)
    assert result is None and files == {}


COMPRESSORS = {'gz': gzip.open, 'xz': lzma.open, 'bz2': bz2.open}


def compress(src, dst, opener):
    with open(src, 'rb') as source, opener(str(dst), 'wb') as target:
        shutil.copyfileobj(source, target)


@pytest.mark.parametrize('suffix', ['.1.gz', '.1.xz', '.1.bz2', '-20261126.gz'])
def test_tail_of_a_file_compressed_by_rotation_is_read_once(log, suffix):
    state = {}
    assert scan(log, state)['matches'] == 1
    append(log, '11:00 ERROR written after the scan, before rotation',
           '11:01 ERROR the last line before rotation')
    compress(log, str(log) + suffix, COMPRESSORS[suffix.rsplit('.', 1)[1]])
    os.unlink(log)
    append(log, '11:05 INFO new file', '11:06 ERROR after rotation')
    result = scan(log, state)
    assert result['partial'] == [] and result['matches'] == 3
    assert result['samples'] == ['11:00 ERROR written after the scan, before rotation',
                                 '11:01 ERROR the last line before rotation', '11:06 ERROR after rotation']
    assert 'rotated' in result['events'] or 'truncated' in result['events']
    assert scan(log, state)['matches'] == 0  # counted once
    append(log, '11:10 ERROR later')
    assert scan(log, state)['matches'] == 1


def test_the_compressed_tail_is_read_within_the_limit_too(tmp_path):
    path = tmp_path / 'app.log'
    flood(path, 0, 10)
    ls_files = ls.scan_log({'path': str(path)}, {}, 1 << 20, 3)[1]
    flood(path, 10, 1000)
    compress(path, str(path) + '.1.gz', gzip.open)
    os.unlink(path)
    append(path, 'INFO new')
    result, dummy_files = ls.scan_log({'path': str(path)}, ls_files, 2300, 3)
    assert result['partial'] == [{'kind': 'read_limit', 'path': str(path) + '.1.gz', 'read_bytes': 2300,
                                  'skipped_bytes': 1000 * 23 - 2300, 'max_bytes': 2300}]
    assert result['matches'] == 100


def test_copytruncate_reads_the_tail_from_the_copy(log):
    state = {}
    scan(log, state)
    append(log, '12:00 ERROR just before the copy')
    shutil.copyfile(log, str(log) + '.1')
    with open(log, 'w') as handle:
        handle.write('12:01 ERROR after truncate\n')
    result = scan(log, state)
    assert result['events'] == ['read the rotated file app.log.1', 'truncated']
    assert result['partial'] == [] and result['matches'] == 2


def test_rotation_to_zstd_is_reported_with_what_is_known(log):
    state = {}
    scan(log, state)
    offset = state['files'][str(log)]['offset']
    append(log, '11:00 ERROR lost in the zstd file')
    zst = str(log) + '.1.zst'
    with open(zst, 'wb') as handle:  # zstd cannot be read with the standard library
        handle.write(b'\x28\xb5\x2f\xfd' + b'\0' * 32)
    os.unlink(log)
    append(log, '11:06 ERROR after rotation')
    result = scan(log, state)
    assert result['matches'] == 1
    assert result['partial'] == [{'kind': 'rotated_compressed', 'path': str(log), 'rotated': zst,
                                  'offset': offset}]


def test_rotated_file_not_found_or_unmatched_is_partial(log):
    state = {}
    scan(log, state)
    offset = state['files'][str(log)]['offset']
    # An older rotation beside it, of other content: not the file that was rotated.
    with gzip.open(str(log) + '.2.gz', 'wb') as handle:
        handle.write(b'07:00 INFO yesterday\n' * 20)
    os.unlink(log)
    append(log, '11:06 ERROR after rotation')
    result = scan(log, state)
    assert result['matches'] == 1
    assert result['partial'] == [{'kind': 'rotated_not_found', 'path': str(log), 'offset': offset}]


def test_corrupt_compressed_rotation_counts_what_it_can_and_says_so(tmp_path):
    path = tmp_path / 'app.log'
    flood(path, 0, 10)
    dummy_result, files = ls.scan_log({'path': str(path)}, {}, 1 << 20, 3)
    append(path, *['%05d ERROR tail line with some words that do not repeat %d' % (i, i * 7919 % 10007)
                   for i in range(3000)])
    compress(path, str(path) + '.1.gz', gzip.open)
    with open(str(path) + '.1.gz', 'r+b') as handle:  # cut short: the disk filled while compressing
        handle.truncate(os.path.getsize(str(path) + '.1.gz') // 2)
    os.unlink(path)
    append(path, 'INFO new')
    result, dummy_files = ls.scan_log({'path': str(path)}, files, 1 << 20, 3)
    assert [p['kind'] for p in result['partial']] == ['rotated_corrupt']
    assert result['partial'][0]['rotated'] == str(path) + '.1.gz'
    assert result['partial'][0]['offset'] == 230
    assert 0 < result['matches'] < 3000


def test_an_empty_log_rotated_and_compressed_loses_nothing(tmp_path):
    path = tmp_path / 'err.log'
    path.write_text('')
    dummy_result, files = ls.scan_log({'path': str(path)}, {}, 1 << 20, 3)
    assert files[str(path)]['head'] is None
    compress(path, str(path) + '.1.gz', gzip.open)
    os.unlink(path)
    append(path, 'ERROR new')
    result, dummy_files = ls.scan_log({'path': str(path)}, files, 1 << 20, 3)
    assert result['partial'] == [] and result['matches'] == 1


def fake_journalctl(tmp_path, script):
    fake = tmp_path / 'journalctl'
    argv_log = tmp_path / 'argv'
    fake.write_text('#!/bin/sh\necho "$@" >> %s\n%s' % (argv_log, script))
    fake.chmod(0o755)
    return str(fake), argv_log


CURSOR_AT = 's=6b1d;i=2f3;b=0a1b;m=1c;t=%x;x=9e' % 1795000000123456  # 2026-11-18 11:06:40.123456 UTC


def test_lost_journal_cursor_falls_back_to_its_own_time_and_says_so(tmp_path):
    entry = {'__CURSOR': 'c-after', 'MESSAGE': 'ext4 error', '_SYSTEMD_UNIT': 'kernel'}
    fake, argv_log = fake_journalctl(tmp_path, '''
case "$*" in
  *--after-cursor=*) echo "Failed to seek to cursor: Invalid argument" >&2; exit 1;;
  *--lines=1*) echo '{"__CURSOR": "c-newest", "MESSAGE": "any"}';;
  *) echo '%s';;
esac
''' % json.dumps(entry))
    result, cursor = ls.scan_journal(CURSOR_AT, 'err', '-24h', 3, journalctl=fake)
    assert result['matches'] == 1 and cursor == 'c-after'
    assert result['partial'] == [{'kind': 'journal_cursor_lost', 'since': 1795000001, 'initial_since': None}]
    calls = argv_log.read_text().splitlines()
    assert '--after-cursor=' + CURSOR_AT in calls[0] and calls[1].endswith('--lines=1')
    assert '--since=@1795000001' in calls[2]


def test_lost_cursor_with_nothing_since_goes_on_from_the_newest_entry(tmp_path):
    fake, dummy_log = fake_journalctl(tmp_path, '''
case "$*" in
  *--after-cursor=*) echo "Failed to seek to cursor: Invalid argument" >&2; exit 1;;
  *--lines=1*) echo '{"__CURSOR": "c-newest", "MESSAGE": "any"}';;
esac
''')
    result, cursor = ls.scan_journal('garbage', 'err', '-24h', 3, journalctl=fake)
    assert result['matches'] == 0 and cursor == 'c-newest'  # not the lost one again
    assert result['partial'] == [{'kind': 'journal_cursor_lost', 'since': None, 'initial_since': '-24h'}]


def test_journal_counting_stopped_and_failing_part_way_are_partial(tmp_path):
    entries = '\n'.join(json.dumps({'__CURSOR': 'c%d' % i, 'MESSAGE': 'm%d' % i}) for i in range(5))
    fake, dummy_log = fake_journalctl(tmp_path, 'cat <<"EOF"\n%s\nEOF\n' % entries)
    result, cursor = ls.scan_journal('c', 'err', '-24h', 3, max_entries=2, journalctl=fake)
    assert result['matches'] == 2 and cursor == 'c1'  # the rest is read next time
    assert result['partial'] == [{'kind': 'stopped_counting', 'max_entries': 2}]
    fake, dummy_log = fake_journalctl(tmp_path, 'cat <<"EOF"\n%s\nEOF\necho "Bad message" >&2\nexit 1\n'
                                      % entries)
    result, cursor = ls.scan_journal('c', 'err', '-24h', 3, journalctl=fake)
    assert result['matches'] == 5 and cursor == 'c4'
    assert result['partial'] == [{'kind': 'journal_incomplete', 'error': 'Bad message'}]
    fake, dummy_log = fake_journalctl(tmp_path, 'echo "No journal files were found." >&2\nexit 1\n')
    assert ls.scan_journal('c', 'err', '-24h', 3, journalctl=fake) == (
        {'error': 'No journal files were found.'}, 'c')


def test_partial_message_says_it_in_english():
    text = ls.partial_message([
        {'kind': 'read_limit', 'path': '/var/log/app.log', 'read_bytes': 64 << 20,
         'skipped_bytes': 960 << 20, 'max_bytes': 64 << 20},
        {'kind': 'journal_cursor_lost', 'since': 1795000001, 'initial_since': None}])
    assert text == ('only the last 64 MiB of /var/log/app.log were read; 960 MiB skipped (log_max_bytes '
                    '64 MiB); the saved journal cursor no longer exists (journal vacuumed or rotated); '
                    'read since 2026-11-18 11:06:41 UTC')
