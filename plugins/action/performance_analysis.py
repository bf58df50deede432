# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin ``performance_analysis``: the quarterly performance analysis from the
record store, on the controller (plugins/plugin_utils/dialysis_perf.py); returns the
``performance`` record - findings and restart decisions - that the records callback
keeps. Documentation: plugins/modules/performance_analysis.py."""

from __future__ import absolute_import, division, print_function

import os

from ansible.plugins.action import ActionBase

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import HOSPITAL_ID, RecordError
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_annotations import (
    AnnotationError,
    check_known,
    merge_decisions,
    restart_entries,
)
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_doc_period import (
    ReportError,
    get_timezone,
    period_bounds,
)
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_perf import (
    performance_model,
    performance_record,
)
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import RecordStore

__metaclass__ = type

ARGUMENT_SPEC = dict(
    records_dir=dict(type='path', required=True),
    quarter=dict(type='str', default=''),
    timezone=dict(type='str', default='Asia/Shanghai'),
    hospital_id=dict(type='str', required=True),
    annotations_dir=dict(type='path', default=''),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if not HOSPITAL_ID.match(args['hospital_id'] or ''):
            return dict(result, failed=True, dialysis_run_error=True,
                        msg="hospital_id: expected the hospital's slug (^[a-z0-9][a-z0-9_-]*$) from "
                            "dialysis_hospital_id in the inventory's group_vars/all.yml, got %r"
                            % args['hospital_id'])
        try:
            label, start, end = period_bounds('quarter', None, args['quarter'], args['timezone'])
        except ReportError as exc:
            return dict(result, failed=True, dialysis_run_error=True, msg=str(exc))
        records_dir = os.path.abspath(os.path.expanduser(
            args['records_dir'].replace('{hospital}', args['hospital_id'])))
        ctx = {'tz': get_timezone(args['timezone']), 'start': start, 'end': end, 'label': label}
        model = performance_model(RecordStore(records_dir), ctx)
        if args['annotations_dir']:
            # The engineers' restart decisions (<quarter>-restart.yml, written by the report run)
            # are part of what is recorded; a malformed file stops here, naming file, line and key.
            annotations_dir = os.path.abspath(os.path.expanduser(
                args['annotations_dir'].replace('{hospital}', args['hospital_id'])))
            try:
                decisions = restart_entries(annotations_dir, label)
                check_known(decisions, [d['id'] for d in model['decisions']])
            except AnnotationError as exc:
                return dict(result, failed=True, dialysis_run_error=True, msg=str(exc))
            merge_decisions(model['decisions'], decisions.entries)
        try:
            record = performance_record(model)
        except RecordError as exc:
            return dict(result, failed=True, dialysis_run_error=True,
                        msg='performance_analysis built an invalid record (bug): %s' % exc)
        needed = ['%s %s' % (d['host'], d['service']) for d in model['decisions'] if d['needed']]
        changed_by_engineer = ['%s %s' % (d['host'], d['service']) for d in model['decisions']
                               if d.get('decided_by') == 'engineer']
        return dict(result, changed=False, failed=False, record=record, quarter=label,
                    findings=len(model['findings']), restarts_needed=needed,
                    decided_by_engineer=changed_by_engineer)
