# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin ``upgrade_record``: the one ``upgrade`` (or ``rollback``) record of a run,
built on the controller from the upgrade role's results (see
plugins/plugin_utils/dialysis_upgrade.py). Documentation: plugins/modules/upgrade_record.py."""

from __future__ import absolute_import, division, print_function

from ansible.plugins.action import ActionBase

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import RecordError
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_upgrade import (
    OUTCOMES,
    build_upgrade_record,
)

__metaclass__ = type

ARGUMENT_SPEC = dict(
    kind=dict(type='str', default='upgrade', choices=['upgrade', 'rollback']),
    system=dict(type='str', required=True, choices=['hemodialysis', 'ckd', 'pd']),
    outcome=dict(type='str', required=True, choices=list(OUTCOMES)),
    version_from=dict(type='str', required=True),
    version_to=dict(type='str', required=True),
    hosts=dict(type='list', elements='str', required=True),
    ticket=dict(type='str'),
    reason=dict(type='str'),
    release=dict(type='dict'),
    migration=dict(type='dict'),
    backup=dict(type='dict'),
    health_after=dict(type='dict'),
    collector=dict(type='dict'),
    timings=dict(type='dict'),
    rollback=dict(type='dict'),
    failure=dict(type='str'),
    recovered=dict(type='dict'),
    risk=dict(type='dict'),
    check_failures=dict(type='list', elements='dict'),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy_validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            record, sentence = build_upgrade_record(**args)
        except (RecordError, ValueError) as exc:
            return dict(result, failed=True, msg='upgrade_record built an invalid record (bug): %s' % exc)
        return dict(result, changed=False, record=record, outcome=args['outcome'], msg=sentence)
