# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Building the ``record`` every dialysis-ops module returns (DESIGN.md,
"The record contract")."""

from __future__ import absolute_import, division, print_function

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_thresholds import worst

__metaclass__ = type

RECORD_VERSION = 1
KINDS = frozenset(['inspection', 'performance', 'db_maintenance', 'backup_check',
                   'restore_drill', 'patch', 'restart', 'upgrade', 'rollback',
                   'security_audit', 'diagnose', 'dr_drill'])
STATUSES = frozenset(['ok', 'warning', 'critical', 'error'])


def make_item(item, value, status, message, unit=None, threshold=None, **extra):
    """One inspected item. ``item`` is a stable identifier such as disk:/var."""
    if status not in STATUSES:
        raise ValueError('status must be one of %s, got %r' % (sorted(STATUSES), status))
    entry = {'item': item, 'value': value, 'status': status, 'message': message}
    if unit is not None:
        entry['unit'] = unit
    if threshold is not None:
        entry['threshold'] = threshold
    for key, val in extra.items():
        if val is not None:
            entry[key] = val
    return entry


def make_record(kind, system, items, metrics=None):
    """The record: kind, system, items, metrics, and an overall status."""
    if kind not in KINDS:
        raise ValueError('kind must be one of %s, got %r' % (sorted(KINDS), kind))
    return {
        'version': RECORD_VERSION,
        'kind': kind,
        'system': system,
        'status': worst(i['status'] for i in items),
        'anomalies': sum(1 for i in items if i['status'] != 'ok'),
        'items': items,
        'metrics': metrics or {},
    }
