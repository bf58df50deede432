# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the ``upgrade_record`` action plugin (the work is done on the
controller by plugins/action/upgrade_record.py; this file holds only its
documentation)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: upgrade_record
short_description: Build the one upgrade or rollback record of a run from the upgrade role's results
description:
  - Builds, on the controller, the C(upgrade) (or C(rollback)) record of one run (contract clause R11) - the
    versions from and to, the modules changed (from the release notes), the backup taken and verified, the
    migration applied or undone, the health of every app host after the run, the collector, the downtime
    measured (the time the service refused writes) and the outcome.
  - C(ticket), C(reason), C(outcome), C(version_from), C(version_to), C(hosts), C(modules_changed) and
    C(downtime_seconds) are at record level (the monthly report's changes section reads them).
    The C(dialysis.ops.dialysis_records) callback writes it to the hospital's record store.
  - Never fails for an outcome; never reports C(changed).
version_added: "1.3.0"
author:
  - dialysis-ops contributors (@dialysis-ops)
options:
  kind:
    description: C(upgrade) (playbooks/upgrade.yml) or C(rollback) (playbooks/rollback.yml).
    type: str
    default: upgrade
    choices: [upgrade, rollback]
  system:
    description: The system whose application changed.
    type: str
    required: true
    choices: [hemodialysis, ckd, pd]
  outcome:
    description: How the run ended (plugins/plugin_utils/dialysis_upgrade.py lists them).
    type: str
    required: true
    choices:
      - upgraded
      - rolled_back_automatically
      - rollback_failed
      - unhealthy_after_reopen
      - rolled_back
      - failed
  version_from:
    description: The release before the run.
    type: str
    required: true
  version_to:
    description: The release the run went to (or tried to).
    type: str
    required: true
  hosts:
    description: The app hosts of the run.
    type: list
    elements: str
    required: true
  ticket:
    description: The change ticket of the run.
    type: str
  reason:
    description: Why the run was made, as text.
    type: str
  release:
    description: The target release's C(release.json) (modules_changed, notes, migrations_added, schema).
    type: dict
  migration:
    description: C(schema_before), C(schema_after), C(applied), C(undone), C(method).
    type: dict
  backup:
    description: The pre-migration backup - C(path), C(sha256), C(size_bytes), C(entries), C(verified).
    type: dict
  health_after:
    description: The M(dialysis.ops.health_check) result of each app host after the run, by host.
    type: dict
  collector:
    description: C(ok), C(age_seconds), C(detail) - whether the machine collector still writes.
    type: dict
  timings:
    description: C(maintenance_seconds) (writes refused), C(rollback_seconds), per-host figures.
    type: dict
  rollback:
    description: C(to), C(method), C(trigger) of an automatic rollback.
    type: dict
  failure:
    description: The check or step that failed, as text.
    type: str
  recovered:
    description: C(state), C(run_id), C(action) - what an earlier killed run left and how it was put back.
    type: dict
  check_failures:
    description:
      - The failed post-switch health checks, in order - C(host), C(version), C(verdict)
        (C(answered_unhealthy) - answered unhealthy C(answers) times in a row, failed at once;
        C(never_answered); C(unhealthy)), C(answers), C(answered_rounds), C(rounds),
        C(waited_seconds), C(health_wait), C(fail_after), C(detail). Kept in C(metrics.check_failures),
        the first one's verdict at record level as C(health_check_verdict).
    type: list
    elements: dict
  risk:
    description: The run's C(upgrade_risk) record (dialysis.ops.upgrade_risk) - its verdict, reasons, gate and
      override go into the record (C(metrics.risk), C(risk_verdict), C(risk_gate)).
    type: dict
'''

EXAMPLES = r'''
- name: Record the upgrade
  dialysis.ops.upgrade_record:
    system: hemodialysis
    outcome: upgraded
    version_from: "1.0"
    version_to: "1.1"
    hosts: [hd-app-01, hd-app-02]
    ticket: CHG-2026-0201
    reason: dry-weight assessment module requested by the head nurse
'''

RETURN = r'''
record:
  description: The record (the records callback writes it).
  returned: success
  type: dict
outcome:
  description: The outcome given.
  returned: success
  type: str
'''
