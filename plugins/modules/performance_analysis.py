# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the ``performance_analysis`` action plugin (the work is done on the
controller by plugins/action/performance_analysis.py; this file holds only its
documentation)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: performance_analysis
short_description: The quarterly performance analysis from the record store
description:
  - Reads the quarter's C(inspection) and C(db_health) records (and the previous quarter's
    C(db_health) records) from the hospital's record store and returns a C(performance) record -
    the findings with their recommendations and the restart decision per service with its reason
    from the data - which the C(dialysis.ops.dialysis_records) callback keeps.
  - "Findings: a disk full within 90 days at the quarter's growth (linear fit), a cache hit under
    99 % (PostgreSQL) / 95 % (MariaDB), connections at 80 % of the maximum, C(shared_buffers) outside
    15-40 % of the memory, C(work_mem) x C(max_connections) above the memory,
    C(innodb_buffer_pool_size) under 25 %, a table read mostly by whole-table scans (a missing index,
    with the statement)."
  - "Restart decision per service: needed when the unit's memory (systemd C(MemoryCurrent), kept by
    every inspection) grew by half or more over at least three inspections without falling; when the
    host's newest patch record of the quarter left a reboot pending, or a check-mode patch run listed
    pending updates (a kernel update named as such); or when the host has been up 180 days or more;
    else not needed, with the figures."
  - "An engineer may change a decision in the quarter's C(<annotations_dir>/<quarter>-restart.yml)
    (C(engineer_decision) needed or not_needed, C(engineer_reason) and C(engineer) required,
    C(decided_at) optional), which the report run writes with one entry per service; the record then
    carries the engineer's decision beside the analysis's (C(analysis), C(decided_by)). A malformed
    file, or an engineer's entry for a service not analysed this quarter, fails the task naming the
    file, line and key."
  - The document (季度性能分析报告) is written by C(dialysis.ops.dialysis_report) with
    C(document=[performance_report]) and C(period=quarter).
  - Runs on the controller only.
version_added: "1.1.0"
author:
  - dialysis-ops contributors (@dialysis-ops)
options:
  records_dir:
    description: Record store; a literal C({hospital}) is replaced by O(hospital_id).
    type: path
    required: true
  quarter:
    description: The quarter (YYYY-Qn); empty means the current quarter.
    type: str
    default: ""
  timezone:
    description: The hospital's time zone (quarter boundaries).
    type: str
    default: Asia/Shanghai
  hospital_id:
    description: The hospital's slug.
    type: str
    required: true
  annotations_dir:
    description: The engineers' files (the report role's C(report_annotations_dir)); a literal
      C({hospital}) is replaced by O(hospital_id). Empty reads no engineer's decision.
    type: path
    default: ""
attributes:
  check_mode:
    description: Reads only; the same in check mode.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode),
      when in diff mode.
    support: none
'''

EXAMPLES = r'''
- name: Analyse the quarter
  dialysis.ops.performance_analysis:
    records_dir: reports/{hospital}/records
    quarter: 2026-Q4
    hospital_id: "{{ dialysis_hospital_id }}"
    annotations_dir: reports/{hospital}/annotations
  run_once: true
  delegate_to: localhost
'''

RETURN = r'''
record:
  description: The performance record - C(perf_<finding>:<host>/<object>) and
    C(restart_decision:<host>/<unit>) items; the forecasts, database figures and statements in metrics.
  returned: success
  type: dict
quarter:
  description: The quarter analysed (YYYY-Qn).
  returned: success
  type: str
findings:
  description: How many findings.
  returned: success
  type: int
restarts_needed:
  description: The services a restart is recommended for (host and unit), after the engineers' decisions.
  returned: success
  type: list
  elements: str
decided_by_engineer:
  description: The services whose decision an engineer wrote (host and unit).
  returned: success
  type: list
  elements: str
'''
