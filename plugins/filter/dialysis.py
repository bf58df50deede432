# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that validate inventory on the controller, with the same rules the
modules apply on the hosts (shared through module_utils)."""

from __future__ import absolute_import, division, print_function

from ansible.errors import AnsibleFilterError

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_clinical import validate_clinical
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_dbcare import (
    validate_databases,
    validate_health,
    validate_rules,
)
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_logscan import compile_patterns
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import is_anomaly
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_thresholds import validate_thresholds
from ansible_collections.dialysis.ops.plugins.plugin_utils import dialysis_shifts

__metaclass__ = type


def threshold_errors(thresholds, filesystems=None, varname='inspection_thresholds',
                     fs_varname='inspection_filesystem_thresholds'):
    """Sentences naming each invalid threshold and the expected form ([] if valid)."""
    return validate_thresholds(thresholds, filesystems, varname, fs_varname)[2]


def log_errors(logs, varname='inspection_logs'):
    """Sentences naming each invalid log definition ([] if valid)."""
    errors = []
    if not isinstance(logs, list):
        return ['%s: expected a list of {name, path, patterns, ignore, optional}, got %r'
                % (varname, logs)]
    names = set()
    for number, spec in enumerate(logs):
        where = '%s[%d]' % (varname, number)
        if not isinstance(spec, dict):
            errors.append('%s: expected a mapping with at least path, got %r' % (where, spec))
            continue
        path = spec.get('path')
        if not isinstance(path, str) or not path.startswith('/'):
            errors.append('%s.path: expected an absolute path such as /var/log/app.log, got %r'
                          % (where, path))
            continue
        name = spec.get('name') or path
        if name in names:
            errors.append('%s.name: %r is used twice; each log needs its own name' % (where, name))
        names.add(name)
        for key in ('patterns', 'ignore'):
            value = spec.get(key)
            if value is None:
                continue
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                errors.append('%s.%s: expected a list of regular expressions, got %r'
                              % (where, key, value))
                continue
            try:
                compile_patterns(value, '%s.%s' % (where, key))
            except ValueError as exc:
                errors.append(str(exc))
    return errors


SETTINGS = ('inspection_thresholds', 'inspection_filesystem_thresholds',
            'inspection_system_logs', 'inspection_logs')


def inspection_errors(hosts_vars, *role_defaults):
    """Errors of every host's inspection settings, each prefixed by the host.

    ``hosts_vars`` are the hosts' variables (``hostvars`` entries); a setting a
    host does not define takes the value the role resolves for the running host
    (``role_defaults``, in the order of SETTINGS)."""
    defaults = dict(zip(SETTINGS, role_defaults, strict=True))
    errors = []
    for host_vars in hosts_vars:
        name = host_vars.get('inventory_hostname', '?')
        values = dict((key, host_vars[key] if key in host_vars else defaults.get(key))
                      for key in SETTINGS)
        found = threshold_errors(values['inspection_thresholds'],
                                 values['inspection_filesystem_thresholds'])
        found += log_errors(values['inspection_system_logs'] or [], 'inspection_system_logs')
        found += log_errors(values['inspection_logs'] or [], 'inspection_logs')
        # The role's default is {}: a host without clinical settings has none.
        found += validate_clinical(host_vars.get('inspection_clinical') or {})[1]
        if host_vars.get('inspection_db_health'):
            options = host_vars.get('inspection_db_health_options') or {}
            spec = dict(options, databases=host_vars['inspection_db_health']) if isinstance(options, dict) \
                else options
            found += validate_health(spec, 'inspection_db_health')[1]
        # The calendar is the host's own (its system's), never the running host's.
        found += dialysis_shifts.validate_calendar(host_vars.get('dialysis_treatment_hours'),
                                                   host_vars.get('dialysis_system', 'shared'))[1]
        errors.extend('%s: %s' % (name, e) for e in found)
    return errors


def db_maintenance_errors(hosts_vars, databases_default=None, rules_default=None):
    """Errors of every host's db_maintenance settings, each prefixed by the host
    (a host that does not set a variable takes the running host's value)."""
    errors = []
    for host_vars in hosts_vars:
        name = host_vars.get('inventory_hostname', '?')
        databases = host_vars.get('db_maintenance_databases', databases_default) or []
        rules = host_vars.get('db_maintenance_rules', rules_default) or {}
        checked, found = validate_databases(databases, 'db_maintenance_databases',
                                            extra_keys=('become_user', 'rules'))
        _object_rules(rules, 'db_maintenance_rules', found)
        for db in checked:
            _object_rules(db.get('rules'), '%s.rules' % db['where'], found)
            user = db.get('become_user')
            if user is not None and not (isinstance(user, str) and user.strip()):
                found.append('%s.become_user: expected an account name such as postgres, got %r'
                             % (db['where'], user))
        errors.extend('%s: %s' % (name, e) for e in found)
    return errors


def _object_rules(rules, where, errors):
    if rules is None:
        return
    validate_rules(rules, where, errors)
    objects = rules.get('objects') if isinstance(rules, dict) else None
    if objects is None:
        return
    if not isinstance(objects, dict):
        errors.append('%s.objects: expected a mapping of schema.name to levels, got %r' % (where, objects))
        return
    for key, value in objects.items():
        validate_rules(value, '%s.objects.%s' % (where, key), errors)


def in_treatment_hours(calendar, system='shared'):
    """Whether it is now treatment hours by ``calendar`` (the inventory's
    ``dialysis_treatment_hours``; empty: the system's default calendar)."""
    checked, errors = dialysis_shifts.validate_calendar(calendar, system)
    if errors:
        raise AnsibleFilterError('Invalid treatment hours: ' + '; '.join(errors))
    return dialysis_shifts.in_treatment_hours(checked)


def anomaly_messages(hosts_vars, result_var='inspection_result'):
    """{host: [message of each item not ok]} for the hosts whose registered
    inspection result found anomalies."""
    out = {}
    for host_vars in hosts_vars:
        result = host_vars.get(result_var) if result_var in host_vars else None
        record = result.get('record') if isinstance(result, dict) else None
        if not record:
            continue
        messages = [i.get('message') for i in record.get('items') or [] if is_anomaly(i.get('status'))]
        if messages:
            out[host_vars.get('inventory_hostname', '?')] = messages
    return out


class FilterModule(object):
    def filters(self):
        return {
            'threshold_errors': threshold_errors,
            'log_errors': log_errors,
            'inspection_errors': inspection_errors,
            'anomaly_messages': anomaly_messages,
            'in_treatment_hours': in_treatment_hours,
            'db_maintenance_errors': db_maintenance_errors,
        }
