# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation of the ``dialysis_report`` action plugin (the work is done on
the controller by plugins/action/dialysis_report.py; this file holds only its
documentation, as ansible.builtin does for its action-backed modules)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
module: dialysis_report
short_description: Write the hospital's documents of a period from the record store
description:
  - Reads the record store written by the C(dialysis.ops.dialysis_records) callback for a
    month or a quarter and writes each requested document (by default the inspection record
    sheet 巡检记录单 and the monthly/quarterly inspection report) as XLSX, HTML, PDF and/or DOCX.
  - Merges the engineers' feedback and resolution files (annotations) and appends the new
    anomalies to them; a malformed file stops the run before anything is written.
  - For the quarterly performance analysis (C(performance_report)), does the same with the
    restart decisions file C(<quarter>-restart.yml) (one entry per service, the engineer's
    C(engineer_decision), C(engineer_reason), C(engineer), C(decided_at)); the document shows the
    engineer's decision, who made it and the analysis's verdict beside it.
  - Documents whose inputs did not change are not rewritten (C(changed=false)); new documents
    are written to a staging folder and moved into place only when all are complete.
  - Runs on the controller only.
version_added: "1.0.0"
author:
  - dialysis-ops contributors (@dialysis-ops)
options:
  document:
    description: Document types to write (declared in plugin_utils/dialysis_doc_types.py).
    type: list
    elements: str
    default: [inspection_sheet, inspection_report]
  records_dir:
    description: Record store; a literal C({hospital}) is replaced by O(hospital_id).
    type: path
    required: true
  output_dir:
    description: The hospital's documents root (one folder per period); C({hospital}) is replaced.
    type: path
    required: true
  annotations_dir:
    description: Engineers' feedback and resolution files, one per period; C({hospital}) is replaced.
    type: path
    required: true
  template_dir:
    description: Folder of the HTML template and style (the report role's templates).
    type: path
    required: true
  period:
    description: Period of the documents.
    type: str
    choices: [month, quarter]
    default: month
  month:
    description: Month as YYYY-MM when O(period=month); empty for the current month.
    type: str
    default: ""
  quarter:
    description: Quarter as YYYY-Qn when O(period=quarter); empty for the current quarter.
    type: str
    default: ""
  language:
    description: Language of the documents; the file names carry it (C(.zh.), C(.en.)).
    type: str
    choices: [zh, en]
    default: zh
  timezone:
    description: IANA time zone of the hospital (period bounds, every time column).
    type: str
    default: Asia/Shanghai
  expected_hosts:
    description: Every host that should appear, mapped to its system (hemodialysis, ckd, pd, shared).
    type: dict
    default: {}
  not_inspectable:
    description: Expected hosts no Linux inspection can reach (Windows); listed as not inspected
      with a reason, not counted as anomalies.
    type: list
    elements: str
    default: []
  dr_plan:
    description:
      - What the disaster-recovery plan (document C(dr_plan)) reads from the inventory - C(hosts) (each
        C(name), C(system), C(roles), C(databases), C(backup_sets), C(standby)), C(rto_minutes) and
        C(contacts) (each C(role), C(name), C(phone)); the report role builds it (C(report_dr_plan)).
    type: dict
    default: {}
  project_lead:
    description: The vendor's named project lead (contract clause R13).
    type: str
    required: true
  hospital:
    description: The hospital's name printed on every document.
    type: str
    required: true
  hospital_id:
    description: The hospital's slug (C(^[a-z0-9][a-z0-9_-]*$)), used in the store paths.
    type: str
    required: true
  formats:
    description: Formats to write for every document; empty writes each document's own formats.
    type: list
    elements: str
    choices: [xlsx, html, pdf, docx]
    default: []
notes:
  - Action plugin; supports check mode (nothing is written, C(changed) says whether a run would write).
'''

EXAMPLES = r'''
- name: Write this month's inspection documents
  dialysis.ops.dialysis_report:
    records_dir: "{{ playbook_dir }}/../reports/{hospital}/records"
    output_dir: "{{ playbook_dir }}/../reports/{hospital}"
    annotations_dir: "{{ playbook_dir }}/../reports/{hospital}/annotations"
    template_dir: "{{ role_path }}/templates"
    hospital_id: demo
    hospital: 示例医院
    project_lead: 王工
    expected_hosts: {hd-db-01: hemodialysis}
'''

RETURN = r'''
label:
  description: The period written.
  returned: always
  type: str
  sample: 2026-11
paths:
  description: Every document, keyed C(<document>.<format>).
  returned: always
  type: dict
  sample: {inspection_sheet.xlsx: /srv/dialysis-ops/reports/demo/2026-11/inspection-sheet-2026-11.zh.xlsx}
annotations:
  description: The engineers' annotations file of the period.
  returned: always
  type: str
new_anomalies:
  description: Anomaly ids appended to the annotations file.
  returned: always
  type: list
restart_decisions:
  description: The engineers' restart decisions file of the quarter.
  returned: when a document with restart decisions (C(performance_report)) was requested
  type: str
missing_hosts:
  description: Expected hosts never inspected or unreachable at their last inspection.
  returned: always
  type: list
not_inspectable_hosts:
  description: Expected hosts listed as not inspectable (no anomaly).
  returned: always
  type: list
'''
