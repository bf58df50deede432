# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for ``host_inspection``: in a recorded run, starts the host's
scan from the log positions of its last inspection in the record store; with
clinical items, says whether it is treatment hours now by the host's system
calendar (``dialysis_treatment_hours``); then runs the module on the host.
The store is the truth for positions (see plugins/plugin_utils/dialysis_runs.py),
so a run whose result never reached the store loses nothing."""

from __future__ import absolute_import, division, print_function

from ansible.plugins.action import ActionBase
from ansible.utils.vars import merge_hash

from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_runs import (
    LogPositions,
    current_run,
    holds,
)
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_shifts import (
    in_treatment_hours,
    validate_calendar,
)

__metaclass__ = type

MODULE = 'dialysis.ops.host_inspection'
DUTY = 'inspection'


class ActionModule(ActionBase):

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        args = dict(self._task.args)
        run = current_run()
        if args.get('positions') is None and run is not None and run.get('records_dir'):
            if not holds(run['records_dir'], DUTY, run['run_id']):
                # Without the lock another inspection may be reading the same lines:
                # a failure of the run, not a finding on the host.
                return dict(result, failed=True, dialysis_run_error=True,
                            msg='host_inspection in a recorded run needs the inspection lock of this '
                                'hospital first: add `dialysis.ops.run_lock: {duty: inspection}` with '
                                'run_once before it (the dialysis.ops.inspection role does)')
            host = task_vars.get('inventory_hostname') or self._task.delegate_to
            positions = LogPositions(run['records_dir']).for_run(run['run_id'], host)
            if positions is not None:
                args['positions'] = positions
        clinical = args.get('clinical')
        if isinstance(clinical, dict) and clinical.get('in_shift') is None:
            # Whether a silent dialysis machine is a finding: the host's system calendar, now.
            hours = self._templar.template(task_vars.get('dialysis_treatment_hours'))
            calendar, errors = validate_calendar(hours, args.get('system') or 'shared')
            if errors:
                return dict(result, failed=True, msg='Invalid treatment hours: ' + '; '.join(errors))
            args['clinical'] = dict(clinical, in_shift=in_treatment_hours(calendar))
        return merge_hash(result, self._execute_module(module_name=MODULE, module_args=args,
                                                       task_vars=task_vars))
