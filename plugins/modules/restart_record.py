# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the ``restart_record`` action plugin (the work is done on the
controller by plugins/action/restart_record.py; this file holds only its
documentation)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: restart_record
short_description: Build the restart record of one host from the restart role's results
description:
  - Builds, on the controller, the C(restart) record of one host (contract clause R2) from what the
    restart role registered - the health check before (M(dialysis.ops.health_check)), the health of
    the peers of its tier, the restart or reboot task, and the health check after.
  - The record says the reason, the outcome (C(restarted), C(peer_unhealthy), C(restart_failed),
    C(not_back)), the change ticket, the downtime measured per unit on the host's own clock, the units'
    start times before and after, and the checks after the restart (each failed one an item).
    The C(dialysis.ops.dialysis_records) callback writes it to the hospital's record store.
  - Never fails for an outcome - the role decides what a bad outcome stops; never reports C(changed).
version_added: "1.2.0"
author:
  - dialysis-ops contributors (@dialysis-ops)
options:
  system:
    description: The clinical system of the host, copied into the record.
    type: str
    default: shared
    choices: [hemodialysis, ckd, pd, shared]
  reason:
    description: Why the host is restarted (the performance analysis's restart decision, or why now).
    type: str
    required: true
  services:
    description: The systemd units restarted (empty for a reboot).
    type: list
    elements: str
    default: []
  reboot:
    description: Whether the host was rebooted instead.
    type: bool
    default: false
  before:
    description: The registered result of the health check before the restart.
    type: dict
    required: true
  peers:
    description:
      - The registered loop of health checks delegated to the peers (each entry's C(item) is the peer).
    type: list
    elements: raw
    default: []
  action:
    description:
      - The registered result of the restart (a loop of C(ansible.builtin.systemd_service)) or of the
        C(ansible.builtin.reboot); left out or skipped when nothing was done.
    type: dict
  after:
    description: The registered result of the health check after the restart; left out when there was none.
    type: dict
  ticket:
    description: The change ticket of the run, copied into the record.
    type: str
notes:
  - Action plugin; runs on the controller only.
'''

EXAMPLES = r'''
- name: Record the restart of this host
  dialysis.ops.restart_record:
    system: hemodialysis
    reason: memory of dialysis-service grows until it slows (2026-Q4 analysis)
    services: [dialysis-service.service]
    before: "{{ restart_before }}"
    peers: "{{ restart_peer_health.results | default([]) }}"
    action: "{{ restart_done }}"
    after: "{{ restart_after }}"
'''

RETURN = r'''
record:
  description: The restart record (kind C(restart)).
  returned: success
  type: dict
  sample:
    kind: restart
    system: hemodialysis
    status: ok
    anomalies: 0
    reason: "memory grows (2026-Q4 analysis)"
    outcome: restarted
    ticket: CHG-2026-0142
    action: restart
    targets: [dialysis-service.service]
    downtime_seconds: 1.42
    items:
      - {item: "restart:dialysis-service.service", value: 1.42, unit: s, status: ok,
         started_before: "2026-12-02T08:01:05.112233Z", started_after: "2026-12-02T09:30:11.000100Z",
         message: "Restarted dialysis-service.service, healthy again after 1.42 s"}
      - {item: "restart:peers", value: [], status: ok,
         message: "Every peer of the tier was healthy (hd-app-02)"}
outcome:
  description: restarted, peer_unhealthy, restart_failed or not_back.
  returned: success
  type: str
'''
