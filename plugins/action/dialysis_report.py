# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin ``dialysis_report``: writes the documents of a period from
the record store, for every declared document type (see
plugins/plugin_utils/dialysis_doc_types.py). Runs entirely on the controller;
no module is sent to any host. Documentation: plugins/modules/dialysis_report.py."""

from __future__ import absolute_import, division, print_function

import os

from ansible.plugins.action import ActionBase

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import HOSPITAL_ID
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_spec import FORMATS
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_report import (
    DEFAULT_DOCUMENTS,
    ReportError,
    build_report,
)

__metaclass__ = type


ARGUMENT_SPEC = dict(
    document=dict(type='list', elements='str', default=list(DEFAULT_DOCUMENTS)),
    records_dir=dict(type='path', required=True),
    output_dir=dict(type='path', required=True),
    annotations_dir=dict(type='path', required=True),
    template_dir=dict(type='path', required=True),
    period=dict(type='str', default='month', choices=['month', 'quarter']),
    month=dict(type='str', default=''),
    quarter=dict(type='str', default=''),
    language=dict(type='str', default='zh', choices=['zh', 'en']),
    timezone=dict(type='str', default='Asia/Shanghai'),
    expected_hosts=dict(type='dict', default={}),
    not_inspectable=dict(type='list', elements='str', default=[]),
    dr_plan=dict(type='dict', default={}),
    project_lead=dict(type='str', required=True),
    hospital=dict(type='str', required=True),
    hospital_id=dict(type='str', required=True),
    formats=dict(type='list', elements='str', default=[], choices=list(FORMATS)),
)

HINTS = {
    'project_lead': 'set dialysis_project_lead in the inventory (group_vars/all.yml) or '
                    'report_project_lead: contract clause R13 puts one named project lead '
                    'on every document',
    'hospital': "set dialysis_hospital (the hospital's name printed on every document) in the "
                "inventory's group_vars/all.yml",
    'hospital_id': "set dialysis_hospital_id in the inventory's group_vars/all.yml: the "
                   "hospital's slug, matching ^[a-z0-9][a-z0-9_-]*$ (e.g. demo)",
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        for name in ('project_lead', 'hospital', 'hospital_id'):
            if not str(args.get(name) or '').strip():
                return dict(result, failed=True, msg='%s is required; %s' % (name, HINTS[name]))
        if not HOSPITAL_ID.match(args['hospital_id']):
            return dict(result, failed=True, msg='hospital_id: expected the form ^[a-z0-9][a-z0-9_-]*$, '
                        'got %r; %s' % (args['hospital_id'], HINTS['hospital_id']))
        params = dict(args)
        params['documents'] = params.pop('document')
        for key in ('records_dir', 'output_dir', 'annotations_dir', 'template_dir'):
            path = params[key].replace('{hospital}', args['hospital_id'])
            params[key] = os.path.abspath(os.path.expanduser(path))
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
