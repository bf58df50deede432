# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the ``run_lock`` action plugin (the work is done on the
controller by plugins/action/run_lock.py; this file holds only its
documentation)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: run_lock
short_description: Hold the lock of one duty of this hospital for the rest of the run
description:
  - Takes the lock of a duty (inspection, maintenance, upgrade...) in the hospital's record
    store, so that cron, AWX and an engineer never run the same duty on the same hospital
    at the same time - two inspections at once would report the same log lines twice.
  - When another run holds the lock, waits up to O(wait) seconds, then fails naming the
    holder - run id, operator, launcher, playbook and since when.
  - A lock left by a run that is gone (its C(ansible-playbook) process died on this
    controller, or older than O(stale_after) when taken on another controller) is taken
    over; the takeover is written to the record store with the old holder and why.
  - The C(dialysis.ops.dialysis_records) callback releases the run's locks when the run
    ends; without the callback there is no recorded run to hold a lock (see O(unrecorded)).
  - Runs on the controller only; use it once per play (C(run_once)) before the duty's
    first task on any host.
version_added: "1.1.0"
author:
  - dialysis-ops contributors (@dialysis-ops)
options:
  duty:
    description: The duty to lock, one of the record contract's kinds.
    type: str
    required: true
    choices: [inspection, db_health, db_maintenance, performance, backup_check, restore_drill, dr_drill,
              restart, patch, upgrade, rollback, security_audit, fault, guard_override]
  scope:
    description:
      - Lock one part of the hospital only - a system such as C(hemodialysis) - so that two
        upgrades of the same system never run at once while another system may be upgraded.
      - The lock file is then C(locks/<duty>-<scope>.lock); a lower-case name (letters, digits, C(_)).
      - Without it the duty is locked for the whole hospital (C(locks/<duty>.lock)).
    type: str
    version_added: "1.3.0"
  wait:
    description: Seconds to wait for a lock held by another run before failing.
    type: int
    default: 60
  stale_after:
    description:
      - Seconds after which a lock taken on another controller counts as left behind.
      - A lock taken on this controller is stale as soon as its process is gone.
    type: int
    default: 21600
  unrecorded:
    description:
      - What to do in a run without the records callback - C(fail), or C(warn) and go on
        without a lock (for a read-only duty whose findings are then recorded nowhere, so
        nothing can be counted twice).
    type: str
    choices: [fail, warn]
    default: fail
notes:
  - Action plugin; also takes the lock in check mode (a check run still reads the hosts).
  - Never reports C(changed) - the lock is gone again when the run ends.
'''

EXAMPLES = r'''
- name: Take the inspection lock of this hospital
  dialysis.ops.run_lock:
    duty: inspection
    wait: 120
  run_once: true

- name: Take the upgrade lock of the hemodialysis system only
  dialysis.ops.run_lock:
    duty: upgrade
    scope: hemodialysis
    wait: 0
  run_once: true
'''

RETURN = r'''
dialysis_lock:
  description: The lock held, and the stale holder it replaced if any (C(taken_over), with C(stale_reason)).
  returned: success
  type: dict
  sample:
    duty: inspection
    path: /srv/dialysis-ops/reports/demo/records/locks/inspection.lock
    holder: {run_id: 20261126T020000Z-1a2b3c4d, operator: 王工, launcher: cron, playbook: inspect.yml,
             controller: ops-01, pid: 4242, acquired: "2026-11-26T02:00:01Z"}
'''
