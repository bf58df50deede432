# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inspection thresholds: defaults, validation and classification.

Shared by the inspection module (on the target) and by the controller-side
filter that validates inventory before any host is touched, so both give the
same verdict with the same words.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# One entry per inspected item: warning and critical levels, the unit, and
# whether the value is a percentage (capped at 100).
DEFAULT_THRESHOLDS = {
    'cpu_percent': {'warning': 80.0, 'critical': 95.0},
    'load_per_core': {'warning': 1.5, 'critical': 3.0},
    'memory_percent': {'warning': 85.0, 'critical': 95.0},
    'swap_percent': {'warning': 50.0, 'critical': 80.0},
    'disk_percent': {'warning': 85.0, 'critical': 95.0},
    'inode_percent': {'warning': 85.0, 'critical': 95.0},
    'log_errors': {'warning': 1.0, 'critical': 20.0},
}

PERCENT_ITEMS = frozenset(
    ['cpu_percent', 'memory_percent', 'swap_percent', 'disk_percent', 'inode_percent']
)


def as_number(value):
    """Return value as float, or None when it is not a plain number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _check_pair(name, entry, path, errors):
    """Validate one {warning, critical} pair; return the normalised pair or None."""
    if not isinstance(entry, dict):
        errors.append('%s: expected a mapping with numeric keys warning and critical '
                      '(e.g. {warning: 85, critical: 95}), got %r' % (path, entry))
        return None
    unknown = sorted(set(entry) - set(['warning', 'critical']))
    if unknown:
        errors.append('%s: unknown key(s) %s; expected only warning and critical'
                      % (path, ', '.join(str(k) for k in unknown)))
    pair = {}
    for level in ('warning', 'critical'):
        if level not in entry:
            continue
        num = as_number(entry[level])
        if num is None:
            errors.append('%s.%s: expected a number (e.g. %s), got %r'
                          % (path, level, _example(name, level), entry[level]))
            continue
        if num < 0:
            errors.append('%s.%s: expected a number >= 0, got %r' % (path, level, entry[level]))
            continue
        if name in PERCENT_ITEMS and num > 100:
            errors.append('%s.%s: expected a percentage between 0 and 100, got %r'
                          % (path, level, entry[level]))
            continue
        pair[level] = num
    return pair


def _example(name, level):
    value = DEFAULT_THRESHOLDS.get(name, DEFAULT_THRESHOLDS['disk_percent'])[level]
    return ('%g' % value)


def validate_thresholds(thresholds, filesystems=None, varname='inspection_thresholds',
                        fs_varname='inspection_filesystem_thresholds'):
    """Merge user thresholds over the defaults and validate them.

    Returns ``(merged, fs_merged, errors)``. ``errors`` is a list of sentences,
    each naming the variable path and the expected form; it is empty when the
    input is valid.
    """
    errors = []
    merged = dict((k, dict(v)) for k, v in DEFAULT_THRESHOLDS.items())
    if thresholds is None:
        thresholds = {}
    if not isinstance(thresholds, dict):
        errors.append('%s: expected a mapping of item name to {warning, critical}, got %r'
                      % (varname, thresholds))
        thresholds = {}
    for name, entry in thresholds.items():
        path = '%s.%s' % (varname, name)
        if name not in DEFAULT_THRESHOLDS:
            errors.append('%s: unknown item; expected one of %s'
                          % (path, ', '.join(sorted(DEFAULT_THRESHOLDS))))
            continue
        pair = _check_pair(name, entry, path, errors)
        if pair is not None:
            merged[name].update(pair)

    fs_merged = {}
    if filesystems is None:
        filesystems = {}
    if not isinstance(filesystems, dict):
        errors.append('%s: expected a mapping of mount point to {warning, critical}, got %r'
                      % (fs_varname, filesystems))
        filesystems = {}
    for mount, entry in filesystems.items():
        path = '%s[%r]' % (fs_varname, mount)
        if not isinstance(mount, str) or not mount.startswith('/'):
            errors.append('%s: expected an absolute mount point such as /var/lib/postgresql'
                          % path)
            continue
        pair = _check_pair('disk_percent', entry, path, errors)
        if pair is not None:
            full = dict(merged['disk_percent'])
            full.update(pair)
            fs_merged[mount] = full

    for name, pair in list(merged.items()) + list(fs_merged.items()):
        label = ('%s.%s' % (varname, name)) if name in DEFAULT_THRESHOLDS else (
            '%s[%r]' % (fs_varname, name))
        if pair['warning'] > pair['critical']:
            errors.append('%s: warning (%g) must not be above critical (%g)'
                          % (label, pair['warning'], pair['critical']))
    return merged, fs_merged, errors


def classify(value, pair):
    """Status of a measured value against a {warning, critical} pair."""
    if value is None:
        return 'error'
    if value >= pair['critical']:
        return 'critical'
    if value >= pair['warning']:
        return 'warning'
    return 'ok'


def level_message(status, pair):
    """' (critical at 95)' / ' (warning at 85)' / '' - the level a status reached, for messages."""
    if status == 'critical':
        return ' (critical at %g)' % pair['critical']
    if status == 'warning':
        return ' (warning at %g)' % pair['warning']
    return ''
