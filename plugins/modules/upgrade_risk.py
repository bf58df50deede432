# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the ``upgrade_risk`` action plugin (the work is done on the
controller by plugins/action/upgrade_risk.py; this file holds only its
documentation)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: upgrade_risk
short_description: Assess the risk of an upgrade (go, go with conditions, no go) and gate the upgrade on it
description:
  - Builds, on the controller, the C(upgrade_risk) record of one system's planned upgrade (contract clause
    R11, 升级风险评估) from what roles/upgrade/tasks/risk.yml read on the hosts (read-only), the release
    tarball (release notes, migrations, down-migrations), the hospital's record store (restore drills of the
    database's backup set, upgrades of the test environment) and the treatment-hours guard (its calendar at
    the planned time, or the verdict of this run's guard).
  - One item per aspect - C(risk:versions), C(risk:backup), C(risk:drill), C(risk:disk:<host>), C(risk:guard),
    C(risk:health:<host>), C(risk:collector), C(risk:reversibility), C(risk:plan), C(risk:test) - each C(ok),
    C(warning) (a condition) or C(critical) (a blocker); at record level C(verdict) (C(go),
    C(go_with_conditions), C(no_go)), C(blockers), C(conditions), C(gate) and, when overridden,
    C(override_reason) and C(operator).
  - With O(gate), a C(no_go) fails the task (before the upgrade touches any host) unless O(override_reason)
    and O(override_operator) are given; the override is kept in the record. In check mode a refusal is a
    warning.
  - Never reports C(changed); changes nothing anywhere.
version_added: "1.4.0"
author:
  - dialysis-ops contributors (@dialysis-ops)
options:
  system:
    description: The system upgraded (hemodialysis, ckd, pd).
    type: str
    required: true
  version:
    description: The release to upgrade to.
    type: str
    required: true
  apps:
    description: The app hosts upgraded.
    type: list
    elements: str
    required: true
  db_host:
    description: The database host (backup set, free space for the pre-migration backup).
    type: str
    default: ""
  database:
    description: The application's database (its backup set is the one of the same database).
    type: str
    default: ""
  tarball:
    description: The release tarball on the controller (release.json, migrations/*.down.sql).
    type: path
    required: true
  manifests:
    description: The registered results of release_manifest action=read on every app host.
    type: list
    elements: raw
    default: []
  status:
    description: The output (JSON text or mapping) of C(migrate.py status) of the running release.
    type: raw
  health:
    description: The registered health_check results of the app hosts now (each with its C(item), the host).
    type: list
    elements: raw
    default: []
  collector:
    description: The collector judged now (ok, age_seconds, detail).
    type: raw
  app_space:
    description: The registered C(df --output=avail) results of the app hosts (each with its C(item)).
    type: list
    elements: raw
    default: []
  db_space:
    description: The database host's registered result; its stdout is C({"database_bytes", "free_bytes"}).
    type: raw
  backup_sets:
    description: The database host's C(dialysis_backup_sets).
    type: list
    elements: raw
    default: []
  backup_found:
    description: The registered ansible.builtin.find results, one per backup set (C(item) is the set).
    type: list
    elements: raw
    default: []
  planned_at:
    description: The planned start (ISO time; without a zone, in the calendar's time zone); empty = now.
    type: str
    default: ""
  drill_max_age_days:
    description: A successful drill of an older backup of the set counts (as a condition) up to this age.
    type: float
    default: 31
  test_hosts:
    description: The app hosts of the system's test environment; empty = none in inventory (a condition).
    type: list
    elements: str
    default: []
  database_rollback:
    description: The upgrade's C(upgrade_database_rollback) (auto, down, restore).
    type: str
    default: auto
  health_wait:
    description: The upgrade's C(upgrade_health_wait) (the rollback trigger's window).
    type: int
    default: 60
  health_fail_after:
    description: The upgrade's C(upgrade_health_fail_after) (unhealthy answers in a row that end the
      wait at once; 0 waits the whole O(health_wait)).
    type: int
    default: 0
  ticket:
    description: The change ticket.
    type: str
    default: ""
  reason:
    description: Why the upgrade is made.
    type: str
    default: ""
  guard:
    description: This run's treatment-hours guard verdict (treatment_guard_result.dialysis_guard); omitted =
      the guard's calendar at O(planned_at).
    type: raw
  gate:
    description: Act on the verdict - fail on C(no_go) unless overridden (playbooks/upgrade.yml).
    type: bool
    default: false
  override_reason:
    description: Why the upgrade goes ahead despite a C(no_go) (at least 8 characters; recorded).
    type: str
    default: ""
  override_operator:
    description: Who takes responsibility for the override (recorded).
    type: str
    default: ""
'''

EXAMPLES = r'''
- name: Assess the upgrade of hemodialysis to 1.2 for tonight 22:30
  dialysis.ops.upgrade_risk:
    system: hemodialysis
    version: "1.2"
    apps: [hd-app-01, hd-app-02]
    db_host: hd-db-01
    database: hemodialysis
    tarball: /srv/releases/dialysis-service-1.2.tar.gz
    planned_at: "2026-12-08 22:30"
  delegate_to: localhost
  run_once: true
'''

RETURN = r'''
record:
  description: The upgrade_risk record (the records callback writes it).
  returned: success
  type: dict
verdict:
  description: go, go_with_conditions or no_go.
  returned: success
  type: str
gate:
  description: assessed (no gate), passed, refused or overridden.
  returned: success
  type: str
blockers:
  description: The blockers' reason codes.
  returned: success
  type: list
conditions:
  description: The conditions' reason codes.
  returned: success
  type: list
'''
