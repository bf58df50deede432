#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: dr_drill
short_description: The record of a disaster-recovery drill from its timed steps
description:
  - Contract clause R7 - a tested disaster-recovery plan. Used by the role C(dialysis.ops.dr_drill),
    which times each step of the recovery on a standby host (verify the newest backup, transfer it,
    restore it, start the service, its health check) and passes them here; returns the one
    C(dr_drill) record for the record store. Changes nothing.
  - A step that never ran is recorded C(not_done), never as a success; the recovery time is measured
    only when every step succeeded, and judged against the RTO target. The record's C(outcome) is
    C(ok) only for a drill whose every step succeeded within the target, else C(failed) or
    C(not_done).
version_added: "1.1.0"
author:
  - dialysis-ops contributors (@dialysis-ops)
options:
  system:
    description: The clinical system recovered, copied into the record.
    type: str
    default: shared
    choices: [hemodialysis, ckd, pd, shared]
  steps:
    description:
      - The steps that ran - C(step) (verify, transfer, restore, start, health, cleanup), C(started) and
        C(ended) (seconds since the epoch), C(outcome) (ok, failed, not_done), C(detail) (English, for
        engineers), C(reason) (a code such as restore_failed).
    type: list
    elements: dict
    default: []
  rto_minutes:
    description: The RTO target of the system in minutes.
    type: float
    default: 60
  standby:
    description: The standby host the system was recovered on.
    type: str
    required: true
  source_host:
    description: The host whose backup was restored.
    type: str
  backup_set:
    description: The backup set restored.
    type: str
  backup:
    description: The file name of the backup restored.
    type: str
  database:
    description: The database restored.
    type: str
  service:
    description: The service started on the standby.
    type: str
  left_running:
    description: Whether the recovered service was left running (a real recovery) rather than stopped.
    type: bool
    default: false
  ticket:
    description: The change ticket of the run, copied into the record.
    type: str
'''

EXAMPLES = r'''
- name: Record the drill
  dialysis.ops.dr_drill:
    system: hemodialysis
    standby: hd-standby-01
    rto_minutes: 60
    steps:
      - {step: verify, started: 1765000000.0, ended: 1765000001.2, outcome: ok}
      - {step: transfer, started: 1765000001.2, ended: 1765000004.0, outcome: failed, reason: copy_failed}
'''

RETURN = r'''
records:
  description: The dr_drill record.
  returned: always
  type: list
  elements: dict
outcome:
  description: ok, failed or not_done.
  returned: always
  type: str
recovery_seconds:
  description: The measured recovery time (null when the recovery did not reach a healthy service).
  returned: always
  type: float
'''

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_dr import (  # noqa: E402
    dr_record,
    validate_steps,
)
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import (  # noqa: E402
    SYSTEMS,
    RecordError,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            system=dict(type='str', default='shared', choices=list(SYSTEMS)),
            steps=dict(type='list', elements='dict', default=[]),
            rto_minutes=dict(type='float', default=60),
            standby=dict(type='str', required=True),
            source_host=dict(type='str'),
            backup_set=dict(type='str'),
            backup=dict(type='str'),
            database=dict(type='str'),
            service=dict(type='str'),
            left_running=dict(type='bool', default=False),
            ticket=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    params = dict(module.params)
    errors = validate_steps(params['steps'])
    if errors:
        module.fail_json(msg='Invalid DR drill steps: ' + '; '.join(errors), errors=errors)
    params['check_mode'] = module.check_mode
    try:
        record = dr_record(params)
    except RecordError as exc:
        module.fail_json(msg='dr_drill built an invalid record (module bug): %s' % exc)
    module.exit_json(changed=False, records=[record], outcome=record['outcome'],
                     recovery_seconds=record.get('recovery_seconds'))


if __name__ == '__main__':
    main()
