#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: restore_drill
short_description: Restore a backup into a scratch database, prove it, drop it; return a restore_drill record
description:
  - Contract clause R3 - test the restore procedure regularly. Disruptive (a restore loads the
    database server); use it through the role C(dialysis.ops.restore_drill), after the
    treatment-hours guard.
  - Restores the newest (or the named) backup of a set into a scratch database on the same server,
    never into a production name (refused, with the reason, before anything is touched). Removes
    the scratch databases of earlier drills that were killed, checks free disk first, then proves
    the copy - amcheck bt_index_check(heapallindexed) on every valid B-tree index (PostgreSQL) or
    CHECK TABLE (MariaDB), the row counts the backup job recorded (C(<db>-<stamp>.counts.json)),
    the newest timestamp (the RPO actually achieved), the configured smoke queries - and measures
    the RTO (restore and checks). The scratch database is dropped whatever happened.
  - The record's C(outcome) is C(ok) only for a drill that ran to its end with nothing critical;
    otherwise C(failed), C(not_done), C(timed_out) or C(refused).
  - Writes its phase and elapsed time to O(progress_file) while it runs (the role prints them).
  - With O(mode=cleanup) - only drops the scratch databases of the prefix, and returns the record of
    an unfinished drill when O(unfinished) says why it did not finish.
  - PostgreSQL is administered as the C(postgres) OS user (peer), MariaDB as root over its socket;
    no password is passed.
version_added: "1.1.0"
author:
  - dialysis-ops contributors (@dialysis-ops)
options:
  system:
    description: The clinical system the host belongs to, copied into the record.
    type: str
    default: shared
    choices: [hemodialysis, ckd, pd, shared]
  set:
    description: The backup set (an entry of C(dialysis_backup_sets), as backup_check takes it).
    type: dict
    required: true
  mode:
    description:
      - C(drill) restores and proves; C(cleanup) only removes scratch databases.
      - C(wait) changes nothing - it waits on the host up to O(wait_seconds) for the background drill
        whose async results file is O(results_file) to finish, and returns C(finished) and the
        drill's C(progress) (the role's poll, one round trip per progress line).
    type: str
    default: drill
    choices: [drill, cleanup, wait]
  backup:
    description: File name of the backup to restore (default - the newest of the set).
    type: str
  target:
    description: Scratch database name (default - the prefix, the database name and a UTC stamp).
    type: str
  prefix:
    description: Prefix of every scratch database; no production database may start with it.
    type: str
    default: dialysis_drill_
  production:
    description: Names of the production databases on this server (never a target).
    type: list
    elements: str
    default: []
  rto_minutes:
    description: RTO target - restore and checks longer than this are critical.
    type: float
    default: 60
  budget_seconds:
    description: Time budget of the drill; past it the drill stops, cleans up and is recorded timed_out.
    type: int
    default: 3600
  jobs:
    description: Parallel jobs of pg_restore.
    type: int
    default: 2
  hold_seconds:
    description: Seconds to hold the restored copy before the checks (for a test that damages it).
    type: float
    default: 0
  disk_factor:
    description: Restored size over backup size, to estimate the disk needed (default by file type).
    type: float
  smoke:
    description: Smoke queries - C(name), C(query), C(expect) (answer, rows or value).
    type: list
    elements: dict
    default: []
  tables:
    description: Tables to count (default - every table of the job's counts).
    type: list
    elements: str
    default: []
  newest:
    description: C(table) and C(column) of the newest record (default - the job's counts.json).
    type: dict
  progress_file:
    description: Where the phase and elapsed time are written while the drill runs.
    type: str
  drill_id:
    description: Identifier of this drill in the progress file.
    type: str
  ticket:
    description: The change ticket of the run, copied into the record.
    type: str
  unfinished:
    description: With O(mode=cleanup) - why the drill did not finish (it is then recorded as such).
    type: str
  results_file:
    description: With O(mode=wait) - the async results file of the background drill (its C(results_file)).
    type: str
  wait_seconds:
    description: With O(mode=wait) - the longest wait; it returns as soon as the drill has finished.
    type: float
    default: 5
'''

EXAMPLES = r'''
- name: Restore the newest hemodialysis dump into a scratch database and prove it
  dialysis.ops.restore_drill:
    system: hemodialysis
    set: "{{ dialysis_backup_sets[0] }}"
    production: [hemodialysis]
    rto_minutes: 30
    smoke:
      - name: sessions_today
        query: "SELECT count(*) FROM treatment_session WHERE scheduled_date = current_date"
'''

RETURN = r'''
records:
  description: The restore_drill record (or, in cleanup mode, that of an unfinished drill).
  returned: always
  type: list
  elements: dict
outcome:
  description: ok, failed, not_done, timed_out or refused (cleanup mode - absent).
  returned: mode drill
  type: str
dropped:
  description: Scratch databases removed (cleanup mode).
  returned: mode cleanup
  type: list
finished:
  description: Whether the background drill has finished (null - its results file could not be read).
  returned: mode wait
  type: bool
progress:
  description: The drill's progress file - phase, elapsed seconds, scratch database (wait mode).
  returned: mode wait
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_backup import validate_sets  # noqa: E402
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import (  # noqa: E402
    SYSTEMS,
    RecordError,
)
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_restore import (  # noqa: E402
    SMOKE_EXPECT,
    Engine,
    cleanup,
    run_drill,
    wait_for_job,
)


def _smoke_errors(smoke):
    errors = []
    for number, query in enumerate(smoke):
        where = 'smoke[%d]' % number
        if not isinstance(query, dict) or not isinstance(query.get('name'), str) or \
                not isinstance(query.get('query'), str) or not query['query'].strip():
            errors.append('%s: expected {name, query, expect}, got %r' % (where, query))
        elif query.get('expect', 'answer') not in SMOKE_EXPECT:
            errors.append('%s.expect: expected one of %s, got %r' % (where, ', '.join(SMOKE_EXPECT),
                                                                     query.get('expect')))
    return errors


def main():
    module = AnsibleModule(
        argument_spec=dict(
            system=dict(type='str', default='shared', choices=list(SYSTEMS)),
            set=dict(type='dict', required=True),
            mode=dict(type='str', default='drill', choices=['drill', 'cleanup', 'wait']),
            backup=dict(type='str'),
            target=dict(type='str'),
            prefix=dict(type='str', default='dialysis_drill_'),
            production=dict(type='list', elements='str', default=[]),
            rto_minutes=dict(type='float', default=60),
            budget_seconds=dict(type='int', default=3600),
            jobs=dict(type='int', default=2),
            hold_seconds=dict(type='float', default=0),
            disk_factor=dict(type='float'),
            smoke=dict(type='list', elements='dict', default=[]),
            tables=dict(type='list', elements='str', default=[]),
            newest=dict(type='dict'),
            progress_file=dict(type='str'),
            drill_id=dict(type='str'),
            ticket=dict(type='str'),
            unfinished=dict(type='str'),
            results_file=dict(type='str'),
            wait_seconds=dict(type='float', default=5),
        ),
        supports_check_mode=True,
    )
    params = dict(module.params)
    if params['mode'] == 'wait':
        finished, progress = wait_for_job(params['results_file'], params['progress_file'],
                                          params['wait_seconds'])
        module.exit_json(changed=False, finished=finished, progress=progress)
    sets, errors = validate_sets([params['set']], varname='set')
    errors = [e.replace('set[0]', 'set') for e in errors] + _smoke_errors(params['smoke'])
    if errors:
        module.fail_json(msg='Invalid restore drill settings: ' + '; '.join(errors), errors=errors)
    params['set'] = sets[0]

    def engine_factory(engine):
        return Engine(engine, module.run_command, module.get_bin_path)

    try:
        if params['mode'] == 'cleanup':
            records, dropped = cleanup(params, engine_factory, module.check_mode)
            module.exit_json(changed=bool(dropped) and not module.check_mode, records=records,
                             dropped=dropped)
        record, changed = run_drill(params, engine_factory, check_mode=module.check_mode)
    except RecordError as exc:
        module.fail_json(msg='restore_drill built an invalid record (module bug): %s' % exc)
    result = dict(changed=changed, records=[record], outcome=record['outcome'], scratch=record.get('scratch'),
                  rto_seconds=record.get('rto_seconds'), rpo_hours=record.get('rpo_hours'))
    if record['outcome'] == 'refused':
        module.fail_json(msg='Restore drill refused: %s' % record.get('reason', 'see the record'), **result)
    if record['outcome'] not in ('ok',) and not (module.check_mode and record['outcome'] == 'not_done'):
        problems = [i['message'] for i in record['items'] if i['status'] in ('critical', 'error')]
        module.fail_json(msg='Restore drill of %s did not succeed (%s): %s' % (
            record['set'], record['outcome'], '; '.join(problems)[:1500] or record.get('reason')
            or 'see the record'), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
