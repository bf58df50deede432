# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin ``dialysis_report``: writes the inspection documents of a
period from the record store. Runs entirely on the controller (no module is
sent to any host); the work is in module_utils/dialysis_report.py."""

from __future__ import absolute_import, division, print_function

import os

from ansible.plugins.action import ActionBase

from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_report import ReportError, build_report

__metaclass__ = type

ARGS = {
    'records_dir': (str, True), 'output_dir': (str, True), 'annotations_dir': (str, True),
    'template_dir': (str, True), 'period': (str, True), 'month': (str, False),
    'quarter': (str, False), 'language': (str, True), 'timezone': (str, True),
    'expected_hosts': (dict, True), 'project_lead': (str, True), 'hospital': (str, False),
    'formats': (list, True),
}


HINTS = {
    'project_lead': 'set dialysis_project_lead in the inventory (group_vars/all.yml) or '
                    'report_project_lead: contract clause R13 puts one named project lead '
                    'on every document',
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGS)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        args = dict(self._task.args)
        for name, (kind, required) in ARGS.items():
            value = args.get(name)
            if value in (None, '') and required:
                return dict(result, failed=True, msg='%s is required%s'
                            % (name, ('; ' + HINTS[name]) if name in HINTS else ''))
            if value not in (None, '') and not isinstance(value, kind):
                return dict(result, failed=True, msg='%s: expected a %s, got %r'
                            % (name, kind.__name__, value))
        params = dict((k, args.get(k)) for k in ARGS)
        params['hospital'] = params['hospital'] or ''
        for key in ('records_dir', 'output_dir', 'annotations_dir', 'template_dir'):
            params[key] = os.path.abspath(os.path.expanduser(params[key]))
        params['expected_hosts'] = dict((str(h), str(s or 'shared'))
                                        for h, s in params['expected_hosts'].items())
        params['check_mode'] = bool(self._task.check_mode if self._task.check_mode is not None
                                    else self._play_context.check_mode)
        try:
            report = build_report(params, params['template_dir'])
        except ReportError as exc:
            return dict(result, failed=True, msg=str(exc))
        result.update(report)
        result['failed'] = False
        return result
