# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side validation of the backup sets described in inventory, with the
rules the backup_check module applies on the host (module_utils/dialysis_backup)."""

from __future__ import absolute_import, division, print_function

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_backup import validate_sets
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import is_anomaly

__metaclass__ = type


def backup_set_errors(sets, varname='dialysis_backup_sets'):
    """Sentences naming each invalid backup set entry and the expected form ([] if valid)."""
    return validate_sets(sets, varname)[1]


def backup_findings(hosts_vars, result_var='backup_check_result'):
    """'<host>: <item>: <message>' of every item that is an anomaly, for the play's summary."""
    out = []
    for hv in hosts_vars:
        result = hv.get(result_var)
        if not isinstance(result, dict):
            continue
        for record in result.get('records') or []:
            for item in record.get('items') or []:
                if is_anomaly(item.get('status')):
                    out.append('%s: %s: %s' % (hv.get('inventory_hostname'), item.get('item'),
                                               item.get('message')))
    return out


def backup_problems(hosts_vars, result_var='backup_check_result'):
    """'<host>: <why>' of every host whose backup check did not run to its end."""
    out = []
    for hv in hosts_vars:
        result = hv.get(result_var)
        if not isinstance(result, dict):
            continue
        if result.get('unreachable'):
            out.append('%s: unreachable' % hv.get('inventory_hostname'))
        elif result.get('failed'):
            out.append('%s: %s' % (hv.get('inventory_hostname'), str(result.get('msg') or 'failed')[:300]))
    return out


def drill_selection_errors(hosts_vars, only=None):
    """Why a restore drill run would drill nothing it was asked to: no host of the play holds a
    set with restore settings, or a set named in ``only`` (restore_drill_only) is not one of
    them. [] when every wanted set is drillable somewhere."""
    known = set()
    for hv in hosts_vars:
        for entry in hv.get('dialysis_backup_sets') or []:
            if isinstance(entry, dict) and isinstance(entry.get('restore'), dict):
                known.add(entry.get('name'))
    if not known:
        return ['no host of this play has a backup set with restore settings '
                '(dialysis_backup_sets[].restore): there is nothing to drill']
    unknown = sorted(set(only or []) - known)
    if unknown:
        return ['restore_drill_only: %s is not a backup set with restore settings on any host of this play '
                '(expected one of %s)' % (', '.join(unknown), ', '.join(sorted(known)))]
    return []


# The backup set fields and standby fields the disaster-recovery plan prints (nothing else: no
# credential or connection setting of the inventory reaches a document).
PLAN_SET_FIELDS = ('name', 'database', 'format', 'directory', 'rpo_hours')
PLAN_STANDBY_FIELDS = ('source_host', 'backup_set', 'service')


def dr_plan_hosts(hosts_vars):
    """The hosts of the DR plan (document dr_plan) from the inventory: name, system, the
    groups it belongs to (roles), the databases its backup sets hold, the backup sets (where
    each lives, its RPO) and, for a standby, what it takes over."""
    out = []
    for hv in hosts_vars:
        sets = [s for s in hv.get('dialysis_backup_sets') or [] if isinstance(s, dict)]
        standby = hv.get('dialysis_dr_standby')
        out.append({
            'name': str(hv.get('inventory_hostname')),
            'system': str(hv.get('dialysis_system') or 'shared'),
            'roles': [str(g) for g in hv.get('group_names') or []],
            'databases': sorted(set(str(s['database']) for s in sets if s.get('database'))),
            'backup_sets': [dict((k, s.get(k)) for k in PLAN_SET_FIELDS if s.get(k) is not None)
                            for s in sets],
            'standby': dict((k, standby.get(k)) for k in PLAN_STANDBY_FIELDS if standby.get(k) is not None)
            if isinstance(standby, dict) else None,
        })
    return out


class FilterModule(object):
    def filters(self):
        return {'backup_set_errors': backup_set_errors, 'backup_findings': backup_findings,
                'backup_problems': backup_problems, 'drill_selection_errors': drill_selection_errors,
                'dr_plan_hosts': dr_plan_hosts}
