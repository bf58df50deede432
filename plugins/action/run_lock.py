# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin ``run_lock``: take the lock of one duty of this hospital for the
run in progress (see plugins/plugin_utils/dialysis_runs.py). Runs on the
controller only. Documentation: plugins/modules/run_lock.py."""

from __future__ import absolute_import, division, print_function

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import KINDS
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_runs import (
    LockError,
    RunLock,
    current_run,
    describe_holder,
)

__metaclass__ = type

display = Display()

ARGUMENT_SPEC = dict(
    duty=dict(type='str', required=True, choices=list(KINDS)),
    scope=dict(type='str'),
    wait=dict(type='int', default=60),
    stale_after=dict(type='int', default=6 * 3600),
    unrecorded=dict(type='str', default='fail', choices=['fail', 'warn']),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy_validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        for name in ('wait', 'stale_after'):
            if args[name] < 0:
                return dict(result, failed=True, msg='%s: expected a number of seconds >= 0, got %d'
                            % (name, args[name]))
        run = current_run()
        if run is None or not run.get('records_dir'):
            msg = ('run_lock needs the dialysis.ops.dialysis_records callback (callbacks_enabled in '
                   "ansible.cfg): the lock belongs to a recorded run of one hospital's record store")
            if args['unrecorded'] == 'fail':
                return dict(result, failed=True, msg=msg)
            display.warning(msg + '; this run is not recorded, so it takes no lock')
            return dict(result, changed=False, skipped=True, msg='not recorded: no lock taken')
        try:
            lock = RunLock(run['records_dir'], args['duty'], args['scope'])
        except LockError as exc:
            return dict(result, failed=True, msg=str(exc))

        def waiting(holder):
            display.display('Waiting up to %d s for the %s lock, held by %s'
                            % (args['wait'], lock.label(), describe_holder(holder or {})))

        try:
            holder, taken_over = lock.acquire(run, wait=args['wait'], stale_after=args['stale_after'],
                                              on_wait=waiting)
        except (LockError, OSError) as exc:
            return dict(result, failed=True, msg=str(exc))
        lock_line = {'duty': args['duty'], 'holder': holder, 'path': lock.path}
        if args['scope'] is not None:
            lock_line['scope'] = args['scope']
        if taken_over:
            lock_line['taken_over'] = taken_over
            display.warning('Took over the %s lock left by %s: %s'
                            % (lock.label(), describe_holder(taken_over), taken_over['stale_reason']))
        # The lock is released by the records callback when the run ends: holding it
        # changes nothing a second run would see, so the task never reports changed.
        return dict(result, changed=False, dialysis_lock=lock_line,
                    msg='%s lock held by run %s' % (lock.label(), holder['run_id']))
