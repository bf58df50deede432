# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the ``treatment_guard`` action plugin (the work is done on
the controller by plugins/action/treatment_guard.py; this file holds only its
documentation)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: treatment_guard
short_description: Decide whether disruptive work may start now on the play's hosts
description:
  - The treatment-hours guard. For every clinical system of the play's hosts it judges the
    shift calendar (C(dialysis_treatment_hours)) at this moment and the live count of running
    treatments (C(dialysis_treatment_check), counted by the C(dialysis.ops.treatment_check)
    module), and refuses when either stands in the way, or when the run names no change
    ticket. A check that cannot answer counts as "treatments may be running", never as zero.
  - O(phase=plan) validates the settings of every host (calendars, live checks, ticket,
    override) and returns the live checks to run (RV(checks)); O(phase=decide) takes their
    registered results and returns the verdict (RV(dialysis_guard)), failing the task on a
    refusal.
  - An override needs O(override_reason) and O(override_operator); it is returned as a
    C(guard_override) record, which the records callback writes to the hospital's store and
    the monthly report shows.
  - Runs on the controller only; use it with C(run_once). The role C(dialysis.ops.treatment_guard)
    wraps both phases and the checks.
version_added: "1.2.0"
author:
  - dialysis-ops contributors (@dialysis-ops)
options:
  phase:
    description: C(plan) (validate and list the live checks) or C(decide) (the verdict).
    type: str
    required: true
    choices: [plan, decide]
  duty:
    description: The disruptive duty asking.
    type: str
    required: true
    choices: [restart, patch, db_maintenance, upgrade, rollback, restore_drill, dr_drill]
  ticket:
    description: The change ticket of the run; a disruptive run without one is refused.
    type: str
    default: ''
  override_reason:
    description: Why the work cannot wait for the end of the treatments (at least 8 characters).
    type: str
    default: ''
  override_operator:
    description: The name of the operator who takes responsibility for the override.
    type: str
    default: ''
  results:
    description: The registered loop results of the C(treatment_check) tasks (O(phase=decide)).
    type: list
    elements: raw
    default: []
notes:
  - In check mode a refusal is reported as a warning and the task does not fail; no override is recorded.
  - Never reports C(changed).
'''

EXAMPLES = r'''
- name: Decide (after the live checks ran)
  dialysis.ops.treatment_guard:
    phase: decide
    duty: restart
    ticket: "{{ dialysis_change_ticket | default('') }}"
    results: "{{ counts.results }}"
  run_once: true
'''

RETURN = r'''
checks:
  description: The live checks to run, one per system (O(phase=plan)).
  returned: phase plan
  type: list
  elements: dict
dialysis_guard:
  description: The verdict - decision (allowed, refused, overridden), reasons, hosts, and per system
    in_shift, running, check and its error.
  returned: phase decide
  type: dict
  sample:
    duty: restart
    decision: refused
    reasons: [in_shift, treatments_running]
    hosts: [hd-app-01, hd-app-02]
    systems:
      hemodialysis: {in_shift: true, running: 12, check: url, reasons: [in_shift, treatments_running]}
record:
  description: The guard_override record, when overridden outside check mode.
  returned: when overridden
  type: dict
'''
