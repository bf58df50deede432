# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Incremental log scanning: count error lines written since the previous
inspection. The caller gives the positions the previous recorded inspection
reached (per file: inode, device, offset and a hash of the file's first bytes;
for the journal, a cursor) and keeps the new ones; nothing is saved on the host.
Rotation by rename (the old inode is found beside the log), rotation followed by
compression (the old file is found by the hash of its decompressed first bytes
and read from the saved offset: gzip, xz, bzip2), copytruncate and truncation
are followed, so the tail of the old file is read once.

A scan that is not complete says so, in figures, in its ``partial`` list - one
entry per thing it could not read, with a ``kind``:

- ``read_limit``: more than ``max_bytes`` to read in one file; only its last
  ``read_bytes`` were read, ``skipped_bytes`` were not (``max_bytes``).
- ``unreadable``: the file exists but cannot be read (``path``, ``error``).
- ``rotated_compressed``: the rotated file was compressed in a format the
  standard library cannot read (zstd ...) before its tail was read (``rotated``,
  ``offset``: where the previous scan stopped in it).
- ``rotated_corrupt``: the rotated, compressed file cannot be decompressed.
- ``rotated_not_found``: the file was rotated, truncated or replaced and its old
  content is not beside it (what was written after ``offset``, if anything).
- ``journal_cursor_lost``: the saved journal cursor no longer exists (journal
  vacuumed or rotated); read from the cursor's own time, ``since`` (seconds
  since the epoch; None: as on a first scan, from ``initial_since``).
- ``stopped_counting``: more than ``max_entries`` journal entries; the rest are
  read at the next inspection.
- ``journal_incomplete``: journalctl failed part-way (``error``).
"""

from __future__ import absolute_import, division, print_function

import bz2
import errno
import glob
import gzip
import hashlib
import json
import lzma
import os
import re
import stat
import subprocess
import time
import zlib

__metaclass__ = type

DEFAULT_PATTERNS = [
    r'(?<![\w-])(error|err|fatal|critical|crit|panic|emerg|alert|severe)(?![\w-])',
    r'exception|traceback',
    r'out of memory|oom-killer|killed process',
    r'segfault|i/o error|no space left on device|read-only file system',
    r'(错误|异常|失败|严重)',
]

HEAD_BYTES = 256
SAMPLE_CHARS = 240

# Rotated files compressed in a format the standard library reads ...
OPENERS = (('.gz', gzip.open), ('.xz', lzma.open), ('.lzma', lzma.open), ('.bz2', bz2.open))
# ... and in formats it does not (zstd needs a module the hosts do not have).
UNREADABLE_COMPRESSED = ('.zst', '.zstd', '.lz4', '.lzo', '.Z')
# What a damaged compressed file raises (gzip.BadGzipFile and bz2's errors are OSErrors).
DECOMPRESS_ERRORS = (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error)


def human_bytes(amount):
    """A byte amount in binary units, at most one decimal: ``960 MiB``, ``1.5 GiB``,
    ``512 B`` (the documents and the module's messages use this one form)."""
    amount = int(amount or 0)
    for unit, size in (('TiB', 1 << 40), ('GiB', 1 << 30), ('MiB', 1 << 20), ('KiB', 1 << 10)):
        figure = round(amount / float(size), 1)
        if figure >= 1:
            return '%s %s' % (('%.1f' % figure).rstrip('0').rstrip('.'), unit)
    return '%d B' % amount


def _time_text(seconds):
    return time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(seconds))


def partial_message(partial):
    """The English sentence (for engineers) of a scan's ``partial`` entries."""
    parts = []
    for entry in partial or ():
        kind = entry.get('kind')
        if kind == 'read_limit':
            parts.append('only the last %s of %s were read; %s skipped (log_max_bytes %s)' % (
                human_bytes(entry.get('read_bytes')), entry.get('path'),
                human_bytes(entry.get('skipped_bytes')), human_bytes(entry.get('max_bytes'))))
        elif kind == 'unreadable':
            parts.append('%s could not be read (%s)' % (entry.get('path'), entry.get('error')))
        elif kind == 'rotated_compressed':
            parts.append('the rotated file %s is compressed in a format this host cannot read; '
                         'what was written to it after offset %s was not read'
                         % (entry.get('rotated'), entry.get('offset')))
        elif kind == 'rotated_corrupt':
            parts.append('the rotated file %s could not be decompressed (%s); what was written '
                         'to it after offset %s was not all read'
                         % (entry.get('rotated'), entry.get('error') or 'corrupt', entry.get('offset')))
        elif kind == 'rotated_not_found':
            parts.append('%s was rotated, truncated or replaced and its old content was not found '
                         'beside it; what was written to it after offset %s (if anything) was not read'
                         % (entry.get('path'), entry.get('offset')))
        elif kind == 'journal_cursor_lost':
            since = entry.get('since')
            parts.append('the saved journal cursor no longer exists (journal vacuumed or rotated); '
                         'read since %s' % (_time_text(since) if since is not None
                                            else entry.get('initial_since')))
        elif kind == 'stopped_counting':
            parts.append('counting stopped at %s entries; the rest are counted at the next inspection'
                         % entry.get('max_entries'))
        elif kind == 'journal_incomplete':
            parts.append('journalctl failed part-way (%s); only the entries read were counted'
                         % entry.get('error'))
        else:
            parts.append('%s not read' % kind)
    return '; '.join(parts)


def compile_patterns(patterns, what='patterns'):
    """One case-insensitive regex from a list; ValueError names the bad one."""
    compiled = []
    for pattern in patterns:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValueError('%s: %r is not a valid regular expression (%s)'
                             % (what, pattern, exc)) from None
        compiled.append('(?:%s)' % pattern)
    if not compiled:
        return None
    return re.compile('|'.join(compiled), re.IGNORECASE)


def _head_hash(handle, length):
    handle.seek(0)
    return hashlib.sha1(handle.read(length)).hexdigest()


def _error_text(exc):
    return getattr(exc, 'strerror', None) or str(exc) or type(exc).__name__


class ScanResult(object):
    """Counts and samples for one log (possibly several files via a glob)."""

    def __init__(self, max_samples):
        self.max_samples = max_samples
        self.matches = 0
        self.lines = 0
        self.bytes_read = 0
        self.skipped_bytes = 0
        self.samples = []
        self.events = []  # 'rotated', 'truncated', 'first scan', ...
        self.files = []  # files read
        self.unreadable = []  # files that exist but could not be read
        self.partial = []  # what could not be read, with figures (module docstring)

    def add_partial(self, kind, **figures):
        entry = dict(figures)
        entry['kind'] = kind
        self.partial.append(entry)

    def add_line(self, line, pattern, ignore):
        self.lines += 1
        if pattern is None or not pattern.search(line):
            return
        if ignore is not None and ignore.search(line):
            return
        self.matches += 1
        if len(self.samples) < self.max_samples:
            # Imported on the first sample only: compiling the redaction rules costs
            # ~30 ms, paid on every host at every inspection if imported at the top,
            # while most inspections of a healthy host find no error line at all.
            from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_redact import redact_text
            text = redact_text(line.strip())
            if len(text) > SAMPLE_CHARS:
                text = text[:SAMPLE_CHARS] + '...'
            self.samples.append(text)

    def as_dict(self):
        return {
            'matches': self.matches, 'lines': self.lines, 'bytes_read': self.bytes_read,
            'skipped_bytes': self.skipped_bytes, 'samples': self.samples,
            'events': sorted(set(self.events)), 'files': self.files, 'partial': self.partial,
        }


def _read_lines(handle, start, end, max_bytes, result, pattern, ignore, path=None, final=False):
    """Feed the complete lines between start and end to result; return the offset
    just after the last line read. A partial last line is left for next time,
    unless ``final`` (a rotated file: nobody completes it). With more than
    ``max_bytes`` to read only the last max_bytes are read, and the amount read
    and skipped is recorded (partial kind ``read_limit``). A read error ends the
    reading where it happened (partial kind ``unreadable``)."""
    skipped = 0
    if end - start > max_bytes:
        skip_to = end - max_bytes
        handle.seek(skip_to - 1)
        if handle.read(1) != b'\n':
            handle.readline()  # resynchronise on a line boundary
        skipped = min(handle.tell(), end) - start
        result.skipped_bytes += skipped
        result.events.append('skipped (more than log_max_bytes since last scan)')
        start += skipped
    handle.seek(start)
    offset = start
    try:
        while offset < end:
            line = handle.readline()
            if not line:
                break
            if not line.endswith(b'\n') and not final:
                break  # being written right now: count it next time
            offset += len(line)
            result.add_line(line.decode('utf-8', 'replace'), pattern, ignore)
    except (IOError, OSError) as exc:
        if final:
            raise  # a rotated file: the caller says what could not be read
        result.add_partial('unreadable', path=path, error=_error_text(exc), offset=offset)
    result.bytes_read += offset - start
    if skipped:
        result.add_partial('read_limit', path=path, read_bytes=offset - start, skipped_bytes=skipped,
                           max_bytes=max_bytes)
    return offset


def _opener(name):
    for suffix, opener in OPENERS:
        if name.endswith(suffix):
            return opener
    return None


def _rotated_candidates(path):
    """Regular files beside ``path`` whose name starts like its own (app.log.1,
    app.log-20261126.gz, app.2026-11-26.log), the newest first: where a rotated
    log goes, the one rotated last first."""
    directory = os.path.dirname(path) or '.'
    base = os.path.basename(path)
    stem = base.split('.')[0] or base
    try:
        names = os.listdir(directory)
    except OSError:
        return []
    found = []
    for name in sorted(names):
        if name == base or not name.startswith(stem):
            continue
        candidate = os.path.join(directory, name)
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            found.append((candidate, st))
    found.sort(key=lambda pair: -pair[1].st_mtime)
    return found


def _head_of(candidate, opener, length):
    """The first ``length`` bytes of a file, decompressed by ``opener`` if given."""
    with (opener or open)(candidate, 'rb') as handle:
        return handle.read(length)


def _find_rotated(path, state):
    """Where the content of ``path`` at the previous scan is now, after the file
    was rotated, truncated or replaced: (file, opener, None) to read it from the
    saved offset, or (None, None, problem) - the partial entry to record, or None
    when nothing can have been lost (the old file was empty and so is the newest
    rotated one).

    The renamed file is found by its inode (and head), a compressed or copied one
    (copytruncate) by the hash of its first bytes, which the compression does not
    change; among several, the newest."""
    offset = state.get('offset', 0)
    head, head_len = state.get('head'), state.get('head_len', HEAD_BYTES)
    candidates = _rotated_candidates(path)
    for candidate, st in candidates:
        if st.st_ino == state.get('inode') and st.st_dev == state.get('dev') \
                and _opener(candidate) is None and st.st_size >= offset:
            try:
                same = not head or hashlib.sha1(_head_of(candidate, None, head_len)).hexdigest() == head
            except (IOError, OSError):
                same = True  # its reading will say it is unreadable
            if same:
                return candidate, None, None
    problem = {'kind': 'rotated_not_found', 'path': path, 'offset': offset}
    if not head or not head_len:
        # Empty at the previous scan: nothing identifies it. If the newest rotated
        # file is empty too, it is this one, and nothing was lost.
        newest = candidates[0][0] if candidates else None
        if newest and (_opener(newest) is not None or not newest.endswith(UNREADABLE_COMPRESSED)):
            try:
                if not _head_of(newest, _opener(newest), 1):
                    return None, None, None
            except DECOMPRESS_ERRORS:
                pass
        return None, None, problem
    for candidate, st in candidates:
        opener = _opener(candidate)
        if opener is None and candidate.endswith(UNREADABLE_COMPRESSED):
            if problem['kind'] == 'rotated_not_found':
                problem = {'kind': 'rotated_compressed', 'path': path, 'rotated': candidate,
                           'offset': offset}
            continue
        if opener is None and st.st_size < offset:
            continue
        try:
            data = _head_of(candidate, opener, head_len)
        except DECOMPRESS_ERRORS as exc:
            if opener is not None and problem['kind'] == 'rotated_not_found':
                problem = {'kind': 'rotated_corrupt', 'path': path, 'rotated': candidate,
                           'offset': offset, 'error': _error_text(exc)}
            continue
        if len(data) == head_len and hashlib.sha1(data).hexdigest() == head:
            return candidate, opener, None
    return None, None, problem


def _decompressed_size(candidate, opener):
    """(size of the decompressed stream, None) or (None, the error) when damaged."""
    try:
        with opener(candidate, 'rb') as handle:
            return handle.seek(0, os.SEEK_END), None
    except DECOMPRESS_ERRORS as exc:
        return None, exc


def _read_rotated(path, state, pattern, ignore, result, max_bytes):
    """Read what was written to the old file after the previous scan, wherever
    rotation put it; record what could not be read."""
    candidate, opener, problem = _find_rotated(path, state)
    if candidate is None:
        if problem is not None:
            result.add_partial(problem.pop('kind'), **problem)
        return
    offset = state.get('offset', 0)
    try:
        if opener is None:
            with open(candidate, 'rb') as handle:
                size = os.fstat(handle.fileno()).st_size
                _read_lines(handle, min(offset, size), size, max_bytes, result, pattern, ignore,
                            path=candidate, final=True)
        else:
            size, damage = _decompressed_size(candidate, opener)
            with opener(candidate, 'rb') as handle:
                if size is not None:
                    _read_lines(handle, min(offset, size), size, max_bytes, result, pattern, ignore,
                                path=candidate, final=True)
                else:  # damaged: count what can be read from the offset on, up to the damage
                    _read_lines(handle, offset, offset + max_bytes, max_bytes, result, pattern, ignore,
                                path=candidate, final=True)
                    raise damage
        result.events.append('read the rotated file %s' % os.path.basename(candidate))
    except DECOMPRESS_ERRORS as exc:
        if opener is None:
            result.add_partial('unreadable', path=candidate, error=_error_text(exc))
        else:
            result.add_partial('rotated_corrupt', path=path, rotated=candidate, offset=offset,
                               error=_error_text(exc))


def scan_file(path, state, pattern, ignore, result, max_bytes):
    """Scan one file from where the previous inspection stopped.

    Returns the new state entry for the file, or None if it does not exist. A
    file that exists but cannot be read is listed in ``result.unreadable`` (and
    ``result.partial``) and keeps its previous position.
    """
    try:
        handle = open(path, 'rb')
    except (IOError, OSError) as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        result.unreadable.append(path)
        result.add_partial('unreadable', path=path, error=_error_text(exc))
        return state or None
    with handle:
        try:
            st = os.fstat(handle.fileno())
            size = st.st_size
            start = 0
            if not state:
                result.events.append('first scan')
            elif state.get('inode') != st.st_ino or state.get('dev') != st.st_dev:
                result.events.append('rotated')
                _read_rotated(path, state, pattern, ignore, result, max_bytes)
            elif size < state.get('offset', 0):
                result.events.append('truncated')
                _read_rotated(path, state, pattern, ignore, result, max_bytes)
            elif state.get('head') and \
                    _head_hash(handle, state.get('head_len', HEAD_BYTES)) != state['head']:
                result.events.append('rewritten')
                _read_rotated(path, state, pattern, ignore, result, max_bytes)
            else:
                start = state.get('offset', 0)
            offset = _read_lines(handle, start, size, max_bytes, result, pattern, ignore, path=path)
            head_len = min(HEAD_BYTES, offset)
            head = _head_hash(handle, head_len) if head_len else None
        except (IOError, OSError) as exc:
            result.unreadable.append(path)
            result.add_partial('unreadable', path=path, error=_error_text(exc))
            return state or None
    result.files.append(path)
    return {'inode': st.st_ino, 'dev': st.st_dev, 'offset': offset, 'head': head,
            'head_len': head_len}


def scan_log(spec, state_files, max_bytes, max_samples):
    """Scan one configured log (``spec``: name, path, patterns, ignore, optional).

    ``path`` may be a glob. Returns (result dict, or None when no file exists;
    updated state entries by file path). A result whose ``files`` is empty
    names files that exist but none could be read (``partial``).
    """
    pattern = compile_patterns(spec.get('patterns') or DEFAULT_PATTERNS,
                               'logs[%s].patterns' % spec.get('name', spec['path']))
    ignore = compile_patterns(spec.get('ignore') or [],
                              'logs[%s].ignore' % spec.get('name', spec['path']))
    paths = sorted(glob.glob(spec['path'])) if glob.has_magic(spec['path']) else [spec['path']]
    result = ScanResult(max_samples)
    new_state = {}
    for path in paths:
        entry = scan_file(path, state_files.get(path), pattern, ignore, result, max_bytes)
        if entry is not None:
            new_state[path] = entry
    if not result.files and not result.unreadable:
        return None, new_state
    return result.as_dict(), new_state


def _cursor_time(cursor):
    """Seconds since the epoch of a journal cursor's entry (its ``t=`` field, hex
    microseconds), rounded up so that its own second is not counted again; None
    when the cursor has no such field."""
    for part in (cursor or '').split(';'):
        if part.startswith('t='):
            try:
                return -(-int(part[2:], 16) // 1000000)
            except ValueError:
                return None
    return None


def _journal_read(cmd, result, max_entries):
    """Run journalctl, feed its entries to result: (last cursor, rc, stderr,
    stopped at max_entries), or None when it cannot be started."""
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError:
        return None
    last, stopped = None, False
    everything = re.compile('.')
    for raw in proc.stdout:
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        last = entry.get('__CURSOR', last)
        message = entry.get('MESSAGE', '')
        if isinstance(message, list):  # binary message: journald gives bytes
            message = bytes(message).decode('utf-8', 'replace')
        unit = entry.get('_SYSTEMD_UNIT') or entry.get('SYSLOG_IDENTIFIER') or 'kernel'
        result.add_line('%s: %s' % (unit, message), everything, None)
        if result.matches >= max_entries:
            stopped = True
            proc.kill()
            break
    proc.stdout.close()
    stderr = proc.stderr.read().decode('utf-8', 'replace')
    proc.stderr.close()
    return last, proc.wait(), stderr, stopped


def _newest_cursor(journalctl):
    """The cursor of the journal's newest entry, whatever its priority (None if
    there is none): where to start next time when this scan reads no entry."""
    try:
        proc = subprocess.Popen([journalctl, '--no-pager', '--quiet', '--output=json', '--lines=1'],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = proc.communicate()[0]
    except OSError:
        return None
    for raw in reversed(out.splitlines()):
        try:
            cursor = json.loads(raw).get('__CURSOR')
        except (ValueError, AttributeError):
            continue
        if cursor:
            return cursor
    return None


def scan_journal(cursor, priority, initial_since, max_samples, max_entries=200000,
                 journalctl='journalctl'):
    """Count journal entries at ``priority`` or worse since ``cursor``.

    Returns (result dict or None when there is no usable journal, new cursor).
    A cursor the journal no longer has (vacuumed, rotated) is replaced by its own
    time, and the result says so (partial ``journal_cursor_lost``).
    """
    base = [journalctl, '--no-pager', '--quiet', '--output=json', '--priority=%s' % priority]
    result = ScanResult(max_samples)
    start_cursor, lost = None, False
    run = None
    if cursor:
        run = _journal_read(base + ['--after-cursor=%s' % cursor], result, max_entries)
        if run is None:
            return None, cursor
        if run[1] != 0 and not run[3] and not result.lines and 'cursor' in run[2].lower():
            lost = True
            since = _cursor_time(cursor)
            result.events.append('cursor lost')
            result.add_partial('journal_cursor_lost', since=since,
                               initial_since=None if since is not None else initial_since)
            run = None
    if run is None:
        # No cursor (first scan) or a lost one: whatever is read, the next scan
        # starts after the newest entry there is now (taken first: nothing in between is lost).
        start_cursor = _newest_cursor(journalctl)
        since = initial_since
        if lost and _cursor_time(cursor) is not None:
            since = '@' + str(_cursor_time(cursor))
        run = _journal_read(base + ['--since=%s' % since], result, max_entries)
        if run is None:
            return None, cursor
        if not cursor:
            result.events.append('first scan')
    last, rc, stderr, stopped = run
    if rc != 0 and not stopped:
        error = stderr.strip()[:300] or 'journalctl exited with %d' % rc
        if not result.lines:
            return {'error': error}, cursor
        result.add_partial('journal_incomplete', error=error)
    if stopped:
        result.events.append('stopped counting at %d entries' % max_entries)
        result.add_partial('stopped_counting', max_entries=max_entries)
    return result.as_dict(), last or start_cursor or (None if lost else cursor)
