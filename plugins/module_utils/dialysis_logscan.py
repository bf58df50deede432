# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Incremental log scanning: count error lines written since the previous
inspection. The position in each file is kept on the host (a small JSON state
file), and survives rotation by rename (the old inode is found beside the
log and its tail is read first) and truncation (copytruncate).
"""

from __future__ import absolute_import, division, print_function

import glob
import hashlib
import json
import os
import re
import subprocess
import tempfile

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_redact import redact_text

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
STATE_VERSION = 1


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
        self.files = []

    def add_line(self, line, pattern, ignore):
        self.lines += 1
        if pattern is None or not pattern.search(line):
            return
        if ignore is not None and ignore.search(line):
            return
        self.matches += 1
        if len(self.samples) < self.max_samples:
            text = redact_text(line.strip())
            if len(text) > SAMPLE_CHARS:
                text = text[:SAMPLE_CHARS] + '...'
            self.samples.append(text)

    def as_dict(self):
        return {
            'matches': self.matches, 'lines': self.lines, 'bytes_read': self.bytes_read,
            'skipped_bytes': self.skipped_bytes, 'samples': self.samples,
            'events': sorted(set(self.events)), 'files': self.files,
        }


def _read_lines(handle, start, end, max_bytes, result, pattern, ignore):
    """Feed complete lines between start and end to result; return the offset
    just after the last complete line (a partial last line is left for next time)."""
    if end - start > max_bytes:
        skip_to = end - max_bytes
        result.skipped_bytes += skip_to - start
        handle.seek(skip_to)
        handle.readline()  # resynchronise on a line boundary
        start = handle.tell()
        result.events.append('skipped (more than log_max_bytes since last scan)')
    handle.seek(start)
    offset = start
    while offset < end:
        line = handle.readline()
        if not line:
            break
        if not line.endswith(b'\n'):
            break  # being written right now: count it next time
        offset += len(line)
        result.bytes_read += len(line)
        result.add_line(line.decode('utf-8', 'replace'), pattern, ignore)
    return offset


def _find_rotated(path, inode, dev):
    """The file that now holds the inode ``path`` had at the last scan."""
    directory = os.path.dirname(path) or '.'
    base = os.path.basename(path)
    try:
        names = os.listdir(directory)
    except OSError:
        return None
    for name in sorted(names):
        if name == base or not name.startswith(base):
            continue
        candidate = os.path.join(directory, name)
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if st.st_ino == inode and st.st_dev == dev:
            if name.endswith(('.gz', '.xz', '.bz2', '.zst')):
                return None  # already compressed: its tail cannot be read in place
            return candidate
    return None


def scan_file(path, state, pattern, ignore, result, max_bytes):
    """Scan one file from where the previous inspection stopped.

    Returns the new state entry for the file, or None if it does not exist.
    """
    try:
        handle = open(path, 'rb')
    except (IOError, OSError):
        return None
    with handle:
        st = os.fstat(handle.fileno())
        size = st.st_size
        start = 0
        if not state:
            result.events.append('first scan')
        elif state.get('inode') != st.st_ino or state.get('dev') != st.st_dev:
            result.events.append('rotated')
            old = _find_rotated(path, state.get('inode'), state.get('dev'))
            if old:
                try:
                    with open(old, 'rb') as old_handle:
                        old_size = os.fstat(old_handle.fileno()).st_size
                        _read_lines(old_handle, min(state.get('offset', 0), old_size), old_size,
                                    max_bytes, result, pattern, ignore)
                except (IOError, OSError):
                    pass
        elif size < state.get('offset', 0):
            result.events.append('truncated')
        elif state.get('head') and \
                _head_hash(handle, state.get('head_len', HEAD_BYTES)) != state['head']:
            result.events.append('rewritten')
        else:
            start = state.get('offset', 0)
        offset = _read_lines(handle, start, size, max_bytes, result, pattern, ignore)
        head_len = min(HEAD_BYTES, offset)
        head = _head_hash(handle, head_len) if head_len else None
    result.files.append(path)
    return {'inode': st.st_ino, 'dev': st.st_dev, 'offset': offset, 'head': head,
            'head_len': head_len}


def scan_log(spec, state_files, max_bytes, max_samples):
    """Scan one configured log (``spec``: name, path, patterns, ignore, optional).

    ``path`` may be a glob. Returns (result dict or None when nothing exists,
    updated state entries by file path).
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
    if not new_state:
        return None, new_state
    return result.as_dict(), new_state


def scan_journal(cursor, priority, initial_since, max_samples, max_entries=200000,
                 journalctl='journalctl'):
    """Count journal entries at ``priority`` or worse since ``cursor``.

    Returns (result dict or None when there is no usable journal, new cursor).
    """
    cmd = [journalctl, '--no-pager', '--quiet', '--output=json', '--priority=%s' % priority]
    if cursor:
        cmd.append('--after-cursor=%s' % cursor)
    else:
        cmd.append('--since=%s' % initial_since)
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError:
        return None, cursor
    result = ScanResult(max_samples)
    new_cursor = cursor
    everything = re.compile('.')
    for raw in proc.stdout:
        try:
            entry = json.loads(raw)
        except ValueError:
            continue
        new_cursor = entry.get('__CURSOR', new_cursor)
        message = entry.get('MESSAGE', '')
        if isinstance(message, list):  # binary message: journald gives bytes
            message = bytes(message).decode('utf-8', 'replace')
        unit = entry.get('_SYSTEMD_UNIT') or entry.get('SYSLOG_IDENTIFIER') or 'kernel'
        result.add_line('%s: %s' % (unit, message), everything, None)
        if result.matches >= max_entries:
            result.events.append('stopped counting at %d entries' % max_entries)
            proc.kill()
            break
    proc.stdout.close()
    stderr = proc.stderr.read().decode('utf-8', 'replace')
    proc.stderr.close()
    rc = proc.wait()
    if rc not in (0, -9) and not result.lines:
        return {'error': stderr.strip()[:300] or 'journalctl exited with %d' % rc}, cursor
    if not cursor:
        result.events.append('first scan')
    return result.as_dict(), new_cursor


def load_state(path):
    """The saved positions, or an empty state when absent or unreadable."""
    try:
        with open(path) as handle:
            data = json.load(handle)
        if isinstance(data, dict) and data.get('version') == STATE_VERSION:
            data.setdefault('files', {})
            return data
    except (IOError, OSError, ValueError):
        pass
    return {'version': STATE_VERSION, 'files': {}, 'journal_cursor': None}


def save_state(path, state):
    """Write the state atomically (temp file + rename), readable by root only."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    fd, tmp = tempfile.mkstemp(prefix='.logscan.', dir=directory)
    try:
        with os.fdopen(fd, 'w') as handle:
            json.dump(state, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
