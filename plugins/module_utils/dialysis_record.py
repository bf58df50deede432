# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The record contract, in one place (README, "The record contract").

Every writer builds through it: modules on the hosts (``make_item``,
``make_record``), the records callback on the controller (anomaly records of
failed or unreachable hosts, run errors), the benchmark's synthetic records and
the test fixtures. Every reader (the record store, the documents) relies on it:
a record that fails ``validate_record`` is refused loudly, never written
half-valid.

Runs on the hosts too, so it needs nothing beyond the standard library and
keeps to the Python versions the targets run (3.8 and later).
"""

from __future__ import absolute_import, division, print_function

import re

__metaclass__ = type

# Version 2: kinds for every duty, the ``skipped`` status, ``reason`` codes,
# validation. Version 1 records (inspection only) are still read.
RECORD_VERSION = 2
READABLE_VERSIONS = (1, 2)

# One kind per contract duty; later duties fill them in, none adds a kind ad hoc.
KINDS = (
    'inspection',      # R1 monthly inspection of a host
    'db_health',       # R2/R3 read-only database figures
    'db_maintenance',  # R3 index rebuild, vacuum, defragmentation
    'performance',     # R2 quarterly performance analysis
    'backup_check',    # R3 backup sets checked
    'restore_drill',   # R3 restore of a backup, measured RTO/RPO
    'dr_drill',        # R7 disaster-recovery drill
    'restart',         # R2 service restart or reboot
    'patch',           # R12 security patches
    'upgrade',         # R11 upgrade of a system
    'rollback',        # R11 rollback of an upgrade
    'upgrade_risk',    # R11 risk assessment before an upgrade (and its gate, overrides)
    'security_audit',  # R12 vulnerabilities, access, antivirus
    'fault',           # R5/R6 a fault and its handling
    'guard_override',  # the treatment-hours guard overridden, with a reason
)

SYSTEMS = ('hemodialysis', 'ckd', 'pd', 'shared')

# ``skipped``: the item could not apply here (an optional log that does not
# exist); it is shown as "not checked", never as a finding and never as "normal".
STATUSES = ('ok', 'skipped', 'warning', 'critical', 'error')
ANOMALY_STATUSES = ('warning', 'critical', 'error')
# Severity order used to pick a record's overall status and to sort findings.
# ``error`` (the check itself failed) ranks above ``critical``: nobody knows
# what the host's state is.
SEVERITY_ORDER = {'ok': 0, 'skipped': 0, 'warning': 1, 'critical': 2, 'error': 3}

# Records belong to one hospital: the inventory's ``dialysis_hospital_id`` names
# its store (reports/<id>/). The callback, the report action and the roles'
# checks (a unit test keeps their YAML in step) use this one form.
HOSPITAL_ID_PATTERN = '^[a-z0-9][a-z0-9_-]*$'
HOSPITAL_ID = re.compile(HOSPITAL_ID_PATTERN)

_ITEM_ID = re.compile(r'^[a-z][a-z0-9_]*(:.+)?$')
_REASON = re.compile(r'^[a-z][a-z0-9_]*$')
_VALUE_TYPES = (int, float, str, bool, type(None))


class RecordError(ValueError):
    """A record or item that does not hold to the contract."""


def worst(statuses):
    """The most severe status of an iterable (``ok`` when empty)."""
    result = 'ok'
    for status in statuses:
        if SEVERITY_ORDER.get(status, 0) > SEVERITY_ORDER[result]:
            result = status
    return result


def is_anomaly(status):
    return status in ANOMALY_STATUSES


def _text_type(value):
    try:
        return isinstance(value, (str, unicode))  # noqa: F821 pylint: disable=undefined-variable
    except NameError:
        return isinstance(value, str)


def validate_item(item, where='item'):
    """Sentences naming what is wrong with one item ([] when it is valid)."""
    if not isinstance(item, dict):
        return ['%s: expected a mapping, got %s' % (where, type(item).__name__)]
    errors = []
    ident = item.get('item')
    if not _text_type(ident) or not _ITEM_ID.match(ident):
        errors.append('%s.item: expected a stable identifier such as disk:/var or cpu:usage, got %r'
                      % (where, ident))
        where_id = where
    else:
        where_id = '%s[%s]' % (where, ident)
    status = item.get('status')
    if status not in STATUSES:
        errors.append('%s.status: expected one of %s, got %r' % (where_id, ', '.join(STATUSES), status))
    if 'value' not in item:
        errors.append('%s.value: missing (use null when nothing was measured)' % where_id)
    else:
        value = item['value']
        if isinstance(value, list):
            if not all(isinstance(v, _VALUE_TYPES) for v in value):
                errors.append('%s.value: a list may hold only numbers and text' % where_id)
        elif not isinstance(value, _VALUE_TYPES):
            errors.append('%s.value: expected a number, text or null, got %s'
                          % (where_id, type(value).__name__))
    if not _text_type(item.get('message')):
        errors.append('%s.message: expected text' % where_id)
    threshold = item.get('threshold')
    if threshold is not None:
        pairs = threshold.items() if isinstance(threshold, dict) else [('threshold', threshold)]
        for key, limit in pairs:
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float))):
                errors.append('%s.threshold.%s: expected a number, got %r' % (where_id, key, limit))
    reason = item.get('reason')
    if reason is not None and (not _text_type(reason) or not _REASON.match(reason)):
        errors.append('%s.reason: expected a code such as not_found, got %r' % (where_id, reason))
    return errors


def validate_record(record):
    """Sentences naming what is wrong with a record ([] when it is valid)."""
    if not isinstance(record, dict):
        return ['record: expected a mapping, got %s' % type(record).__name__]
    errors = []
    if record.get('version') not in READABLE_VERSIONS:
        errors.append('record.version: expected one of %s, got %r'
                      % (', '.join(str(v) for v in READABLE_VERSIONS), record.get('version')))
    if record.get('kind') not in KINDS:
        errors.append('record.kind: expected one of %s, got %r' % (', '.join(KINDS), record.get('kind')))
    if record.get('system') not in SYSTEMS:
        errors.append('record.system: expected one of %s, got %r'
                      % (', '.join(SYSTEMS), record.get('system')))
    items = record.get('items')
    if not isinstance(items, list):
        errors.append('record.items: expected a list')
        items = []
    for number, item in enumerate(items):
        errors.extend(validate_item(item, 'record.items[%d]' % number))
    if record.get('status') not in STATUSES:
        errors.append('record.status: expected one of %s, got %r'
                      % (', '.join(STATUSES), record.get('status')))
    if not isinstance(record.get('metrics', {}), dict):
        errors.append('record.metrics: expected a mapping')
    if not errors:
        statuses = [i['status'] for i in items]
        if record['status'] != worst(statuses):
            errors.append('record.status: %r does not match its worst item (%r)'
                          % (record['status'], worst(statuses)))
        if record.get('anomalies') != sum(1 for s in statuses if is_anomaly(s)):
            errors.append('record.anomalies: %r does not match the items (%d)'
                          % (record.get('anomalies'), sum(1 for s in statuses if is_anomaly(s))))
    return errors


def check_record(record):
    """The record itself when valid; RecordError naming every problem otherwise."""
    errors = validate_record(record)
    if errors:
        raise RecordError('invalid record: %s' % '; '.join(errors))
    return record


def make_item(item, value, status, message, unit=None, threshold=None, reason=None, **extra):
    """One inspected or acted-on item. ``item`` is a stable identifier such as
    ``disk:/var``; ``reason`` a code the documents translate (``not_found``)
    when the status does not follow from the value; ``message`` is English
    detail for engineers, never the sentence a document prints."""
    entry = {'item': item, 'value': value, 'status': status, 'message': message}
    if unit is not None:
        entry['unit'] = unit
    if threshold is not None:
        entry['threshold'] = threshold
    if reason is not None:
        entry['reason'] = reason
    for key, val in extra.items():
        if val is not None:
            entry[key] = val
    errors = validate_item(entry)
    if errors:
        raise RecordError('; '.join(errors))
    return entry


def make_record(kind, system, items, metrics=None, **extra):
    """The record: kind, system, items, metrics, overall status and anomaly count."""
    record = {
        'version': RECORD_VERSION,
        'kind': kind,
        'system': system,
        'status': worst(i.get('status') for i in items if isinstance(i, dict)),
        'anomalies': sum(1 for i in items if isinstance(i, dict) and is_anomaly(i.get('status'))),
        'items': list(items),
        'metrics': metrics or {},
    }
    for key, val in extra.items():
        if val is not None:
            record[key] = val
    return check_record(record)
