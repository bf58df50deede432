#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: backup_check
short_description: Check the backup sets kept on a host and return one backup_check record per set
description:
  - Contract clause R3 - check the backup records and act on anomalies. Read-only; one call per
    host holding backups.
  - For the newest backup of each set - its age against the set's RPO, its size against the
    median of the previous backups of the set, its sha256 against its manifest (C(<backup>.sha256),
    sha256sum lines relative to the set's directory), its structural validity and the set's
    retention; and, where configured, the backup job's own last exit status (C(last-run.json)).
  - "Structural validity by format - C(pg_dump_custom) and C(pg_dump_directory): C(pg_restore --list)
    then a full read of the archive by C(pg_restore) into /dev/null; C(pg_basebackup):
    C(pg_verifybackup) against C(backup_manifest) (else the base tar read to its end, or
    C(backup_label) present); C(mariadb_dump) (.sql, .sql.gz, .sql.zst): the stream read to its end
    and mariadb-dump's C(-- Dump completed) trailer; C(mariabackup): C(xtrabackup_checkpoints);
    C(sqlserver_bak): described but not verified here (status skipped, reason unverified)."
  - Item identifiers are stable - C(backup:<set>:age), C(backup:<set>:size), C(backup:<set>:checksum),
    C(backup:<set>:structure), C(backup:<set>:retention), C(backup:<set>:job).
version_added: "1.1.0"
author:
  - dialysis-ops contributors (@dialysis-ops)
options:
  system:
    description: The clinical system the host belongs to, copied into every record.
    type: str
    default: shared
    choices: [hemodialysis, ckd, pd, shared]
  sets:
    description: The backup sets kept on this host (the role's C(backup_sets)).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Stable short name of the set, used in the item identifiers.
        type: str
        required: true
      database:
        description: The database the set backs up (default - the set's name).
        type: str
      format:
        description: How the backups are made.
        type: str
        required: true
        choices: [pg_dump_custom, pg_dump_directory, pg_basebackup, mariadb_dump, mariabackup, sqlserver_bak]
      directory:
        description: Absolute path of the directory holding the set's backups.
        type: str
        required: true
      pattern:
        description:
          - File (or directory) name pattern of the set's backups in O(sets[].directory); manifests,
            counts and hidden files beside them are never taken for backups.
          - Default by format - C(*.dump), C(*.sql*), C(*.mariabackup), C(*.bak), C(*) for directories.
        type: str
      rpo_hours:
        description: Recovery point objective - the newest backup older than this is critical (default 26).
        type: float
      size_drop_percent:
        description:
          - A newest backup this much smaller (percent) than the median of the previous ones is critical
            (default 50).
        type: float
      size_history:
        description: How many previous backups the median is taken over (default 7).
        type: int
      min_history:
        description: Fewer previous backups than this - the size is not judged (default 3).
        type: int
      retention_min:
        description: Fewer backups kept than this is a warning (default 1).
        type: int
      retention_max:
        description: More backups kept than this (retention not applied) is a warning.
        type: int
      last_run:
        description: Absolute path of the backup job's last-run.json (exit_status, per-database status).
        type: str
      verify:
        description: Whether to verify the newest backup's structure (default true).
        type: bool
      verify_timeout:
        description: Seconds a structural verification may take (default 1800).
        type: int
      restore:
        description: The restore drill's settings of this set (roles/restore_drill); not used here.
        type: dict
'''

EXAMPLES = r'''
- name: Check the backups of a database host
  dialysis.ops.backup_check:
    system: hemodialysis
    sets:
      - name: hemodialysis-pg
        database: hemodialysis
        format: pg_dump_custom
        directory: /var/backups/dialysis/postgresql/hemodialysis
        pattern: "hemodialysis-*.dump"
        rpo_hours: 26
        last_run: /var/backups/dialysis/postgresql/last-run.json
'''

RETURN = r'''
records:
  description: One backup_check record per set (README, "The record contract").
  returned: always
  type: list
  elements: dict
sets:
  description: Per set, its overall status and newest backup.
  returned: always
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_backup import (  # noqa: E402
    FORMATS,
    check_sets,
    validate_sets,
)
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import (  # noqa: E402
    SYSTEMS,
    RecordError,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            system=dict(type='str', default='shared', choices=list(SYSTEMS)),
            sets=dict(type='list', elements='dict', required=True, options=dict(
                name=dict(type='str', required=True),
                database=dict(type='str'),
                format=dict(type='str', required=True, choices=sorted(FORMATS)),
                directory=dict(type='str', required=True),
                pattern=dict(type='str'),
                rpo_hours=dict(type='float'),
                size_drop_percent=dict(type='float'),
                size_history=dict(type='int'),
                min_history=dict(type='int'),
                retention_min=dict(type='int'),
                retention_max=dict(type='int'),
                last_run=dict(type='str'),
                verify=dict(type='bool'),
                verify_timeout=dict(type='int'),
                restore=dict(type='dict'),
            )),
        ),
        supports_check_mode=True,
    )
    sets, errors = validate_sets(module.params['sets'], varname='sets')
    if errors:
        module.fail_json(msg='Invalid backup sets: ' + '; '.join(errors), errors=errors)
    try:
        records = check_sets(sets, module.params['system'], module.run_command, module.get_bin_path)
    except RecordError as exc:
        module.fail_json(msg='backup_check built an invalid record (module bug): %s' % exc)
    summary = dict((r['set'], {'status': r['status'], 'newest': r.get('newest'), 'anomalies': r['anomalies']})
                   for r in records)
    module.exit_json(changed=False, records=records, sets=summary)


if __name__ == '__main__':
    main()
