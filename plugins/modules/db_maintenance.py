#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: db_maintenance
short_description: Plan and carry out the online maintenance of one PostgreSQL or MariaDB database
description:
  - One call per database (contract clause R3). Measures every table and index (as the
    C(dialysis.ops.db_health) module does, in a read-only session), plans per object with
    Ola Hallengren-style levels - objects under C(rules.min_pages) left alone, C(VACUUM (ANALYZE))
    at C(rules.vacuum_dead_percent) dead tuples, a rebuild at C(rules.rebuild_percent) bloat - and
    carries the plan out one object at a time.
  - "PostgreSQL: INVALID leftovers of failed concurrent builds dropped first (C(DROP INDEX
    CONCURRENTLY)); C(REINDEX INDEX CONCURRENTLY) for bloated indexes; C(pg_repack) for bloated
    tables when the extension is installed and the table has a primary key, else the table is
    reported as needing a window (C(VACUUM FULL) runs only with O(offline) and O(window_cleared));
    C(VACUUM (ANALYZE)) for dead tuples. MariaDB: C(ALTER TABLE ... FORCE, ALGORITHM=INPLACE,
    LOCK=NONE) for InnoDB tables with free space at the rebuild level, C(ANALYZE TABLE) for old
    statistics, C(OPTIMIZE TABLE) of other engines only in a window."
  - Every statement runs with O(lock_timeout) (PostgreSQL C(lock_timeout), MariaDB
    C(lock_wait_timeout)) and O(statement_timeout), so maintenance gives way to the dialysis unit
    instead of queueing it; an object that gave way is recorded as postponed, with the reason, and
    the next object proceeds. No new object starts after O(budget_seconds); what was left is
    recorded as postponed. Before each rebuild the filesystem of the data directory must have at
    least O(free_space_factor) times the object free.
  - In check mode nothing changes - the session is read-only - and the plan is returned (object,
    measured bloat, action, estimated size after).
  - Returns a C(db_maintenance) record - per object its action, result, before and after size and
    bloat, duration - and the space reclaimed in total.
version_added: "1.1.0"
author:
  - dialysis-ops contributors (@dialysis-ops)
options:
  system:
    description: The clinical system of the database, copied into the record.
    type: str
    default: shared
    choices: [hemodialysis, ckd, pd, shared]
  database:
    description:
      - The database and an account allowed to maintain it (the owner of its objects, or PostgreSQL's
        C(postgres) through the unix socket for pg_repack). The password goes to the client through its
        environment, never its command line; a C(host) that is an absolute path is a unix socket
        (peer or unix_socket authentication, no password).
    type: dict
    required: true
    suboptions:
      name:
        description: Name of the database in item identifiers.
        type: str
        required: true
      engine:
        description: Database engine.
        type: str
        required: true
        choices: [postgresql, mariadb, mysql]
      host:
        description: Address as seen from this host (default 127.0.0.1), or a unix socket path.
        type: str
      port:
        description: Port (default 5432 or 3306).
        type: int
      database:
        description: Database name.
        type: str
        required: true
      user:
        description: Account.
        type: str
        required: true
      password:
        description: Its password, from ansible-vault or the environment; never recorded.
        type: str
      connect_timeout:
        description: Seconds to wait for the connection (default 5).
        type: int
      statement_timeout:
        description: Seconds after which a measuring query is cancelled (default 10).
        type: int
  rules:
    description:
      - The plan's levels - C(min_pages) (1000), C(vacuum_dead_percent) (10), C(rebuild_percent) (30),
        C(analyze_days) (7), C(exclude) (false) - and C(objects), a mapping of C(schema.name) or C(name)
        to the levels of that object.
    type: dict
    default: {}
  budget_seconds:
    description: No new object is started after this many seconds; the rest is recorded as postponed.
    type: float
    default: 3600
  lock_timeout:
    description: Seconds a statement waits for a lock before it gives way (the object is postponed).
    type: float
    default: 5
  statement_timeout:
    description: Seconds after which one statement is cancelled (the object is postponed).
    type: int
    default: 1800
  free_space_factor:
    description:
      - A rebuild starts only when the data directory's filesystem has this many times the object free.
    type: float
    default: 2.0
  offline:
    description: Plan offline work (C(VACUUM FULL), C(OPTIMIZE TABLE) of non-InnoDB tables) instead of
      reporting it as needing a window.
    type: bool
    default: false
  window_cleared:
    description:
      - Whether the treatment-hours guard cleared this host for offline work in this run. Offline steps
        run only with O(offline) and this; otherwise they are refused with the reason.
    type: bool
    default: false
  min_pages:
    description: Objects smaller than this are measured from the statistics only (see db_health).
    type: int
    default: 1000
  exact_max_pages:
    description: Objects larger than this are estimated from the statistics (see db_health).
    type: int
    default: 1048576
  max_objects:
    description: The largest this many tables and indexes are considered.
    type: int
    default: 500
  bloat_method:
    description: auto (pgstattuple when installed), pgstattuple or statistics.
    type: str
    default: auto
    choices: [auto, pgstattuple, statistics]
attributes:
  check_mode:
    description: Returns the plan and changes nothing (read-only session).
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode),
      when in diff mode.
    support: none
'''

EXAMPLES = r'''
- name: Maintain the hemodialysis database (online work only, one hour at most)
  dialysis.ops.db_maintenance:
    system: hemodialysis
    database:
      name: hemodialysis
      engine: postgresql
      host: /var/run/postgresql
      database: hemodialysis
      user: postgres
    rules:
      min_pages: 1000
      objects:
        public.machine_reading: {rebuild_percent: 50}
    budget_seconds: 3600
    lock_timeout: 5
  become: true
  become_user: postgres
'''

RETURN = r'''
record:
  description: The db_maintenance record - per object its action and result, before/after size and bloat,
    duration; the summary item C(db_maintenance:<name>) holds the space reclaimed.
  returned: always
  type: dict
plan:
  description: One line per planned step (object, measured bloat, action, estimated size after), for the
    engineer's screen.
  returned: always
  type: list
  elements: str
reclaimed_bytes:
  description: Space reclaimed in total (before minus after, over the objects acted on).
  returned: always
  type: int
'''

import os
import re
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_clinical import (
    QueryError,
    database_options,
    run_query,
)
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_dbcare import (
    DbCareError,
    figures_of,
    health_options,
    needed_space,
    pg_quote_ident,
    plan,
    statement_of,
    validate_databases,
    validate_rules,
)
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import (
    SYSTEMS,
    RecordError,
    make_item,
    make_record,
)

APPLICATION = 'dialysis-ops-db-maintenance'
OFFLINE = ('vacuum_full', 'optimize')
STATUS_OF = {'done': 'ok', 'planned': 'ok', 'postponed': 'warning', 'needs_window': 'warning',
             'refused': 'warning', 'failed': 'error'}
_LOCK = re.compile(r'lock timeout|lock wait timeout|timed out, do not cancel conflicting backends|'
                   r'canceling statement due to conflict', re.I)
_TIMEOUT = re.compile(r'statement timeout|max_statement_time', re.I)


def _redact(text):
    from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_redact import redact_text
    return redact_text(text)


def reason_of(message):
    if _LOCK.search(message or ''):
        return 'lock_timeout'
    if _TIMEOUT.search(message or ''):
        return 'statement_timeout'
    return 'statement_failed'


class Maintainer(object):
    """Runs the steps of one database, one object at a time."""

    def __init__(self, module, db):
        self.module, self.db, self.params = module, db, module.params
        lock = self.params['lock_timeout']
        if db['engine'] == 'postgresql':
            self.settings = {'lock_timeout': '%dms' % int(lock * 1000),
                             'statement_timeout': '%ds' % self.params['statement_timeout']}
        else:
            self.settings = {'lock_wait_timeout': max(1, int(round(lock))),
                             'innodb_lock_wait_timeout': max(1, int(round(lock))),
                             'max_statement_time': self.params['statement_timeout']}

    def sql(self, statement):
        return run_query(self.db, statement, self.module.run_command, self.module.get_bin_path, _redact,
                         read_only=False, settings=self.settings, application=APPLICATION)

    def free_bytes(self, directory):
        if not directory:
            return None
        try:
            stat = os.statvfs(directory)
        except OSError:
            return None
        return stat.f_bavail * stat.f_frsize

    def repack(self, step, figures):
        client = self.module.get_bin_path('pg_repack')
        if not client and figures.get('version'):
            candidate = '/usr/lib/postgresql/%d/bin/pg_repack' % (int(figures['version']) // 10000)
            client = candidate if os.access(candidate, os.X_OK) else None
        if not client:
            raise QueryError('client_missing', 'the pg_repack client is not installed on this host')
        wait = max(1, int(round(self.params['lock_timeout'])))
        argv = [client, '--no-kill-backend', '--wait-timeout=%d' % wait, '--no-password',
                '-h', self.db['host'], '-p', str(self.db['port']), '-U', self.db['user'],
                '-d', self.db['database'],
                '--table=%s.%s' % (pg_quote_ident(step['schema']), pg_quote_ident(step['name']))]
        env = {'PGPASSWORD': self.db['password'], 'PGAPPNAME': APPLICATION,
               'PGCONNECT_TIMEOUT': str(self.db['connect_timeout']),
               'PGOPTIONS': '-c statement_timeout=%ds' % self.params['statement_timeout']}
        rc, out, err = self.module.run_command(argv, environ_update=env)
        if rc != 0:
            detail = ((err or out or '').strip().splitlines() or ['exit status %d' % rc])[-1][:300]
            if self.db['password']:
                detail = detail.replace(self.db['password'], '********')
            raise QueryError('query_failed', 'pg_repack failed: %s' % _redact(detail))

    def leftovers(self, step):
        """INVALID _ccnew copies a failed REINDEX CONCURRENTLY left behind: dropped
        (they give way like everything else; one left stays for the next run)."""
        rows = self.sql("SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE NOT i.indisvalid "
                        "AND n.nspname = '%s' AND c.relname LIKE '%s\\_ccnew%%'"
                        % (step['schema'].replace("'", "''"), step['name'][:55].replace("'", "''")))
        dropped, left = [], []
        for row in rows:
            try:
                self.sql('DROP INDEX CONCURRENTLY IF EXISTS %s.%s'
                         % (pg_quote_ident(step['schema']), pg_quote_ident(row[0])))
                dropped.append(row[0])
            except QueryError:
                left.append(row[0])
        return dropped, left

    def run(self, steps, figures):
        results, started = [], time.monotonic()
        budget, factor = self.params['budget_seconds'], self.params['free_space_factor']
        for step in steps:
            entry = dict(step, statement=statement_of(step, figures['engine']))
            if entry['action'] == 'repack':
                entry['statement'] = 'pg_repack --table=%s' % step['object']
            results.append(entry)
            if step['action'] == 'needs_window':
                entry.update(result='needs_window', reason='needs_window')
                continue
            if step['action'] in OFFLINE and not (self.params['offline'] and self.params['window_cleared']):
                entry.update(result='refused', reason='window_not_cleared',
                             detail='offline work runs only after the treatment-hours guard cleared the host')
                continue
            elapsed = time.monotonic() - started
            if elapsed >= budget:
                entry.update(result='postponed', reason='budget',
                             detail='the time budget of %gs was used up (%.1fs)' % (budget, elapsed))
                continue
            need = needed_space(step) * factor / 2.0
            if need:
                free = self.free_bytes(figures.get('data_directory'))
                entry['free_bytes'] = free
                if free is None or free < need:
                    entry.update(result='postponed',
                                 reason='no_space' if free is not None else 'space_unknown',
                                 detail='%s bytes free, %d needed (%g x the object)' % (free, need, factor))
                    continue
            begin = time.monotonic()
            try:
                if step['action'] == 'repack':
                    self.repack(step, figures)
                else:
                    self.sql(entry['statement'])
                entry['result'] = 'done'
            except QueryError as exc:
                entry.update(result='postponed', reason=reason_of(str(exc)), detail=str(exc)[:400])
                if entry['reason'] == 'statement_failed':
                    entry['result'] = 'failed'
                if step['action'] == 'reindex' and figures['engine'] == 'postgresql':
                    try:
                        entry['leftovers_dropped'], entry['leftovers_left'] = self.leftovers(step)
                    except QueryError:
                        entry['leftovers_left'] = ['%s_ccnew' % step['name']]
            entry['seconds'] = round(time.monotonic() - begin, 2)
        return results, round(time.monotonic() - started, 2)


def _objects(figures):
    out = {}
    for kind in ('tables', 'indexes'):
        for obj in figures.get(kind) or []:
            key = '%s.%s' % (obj['schema'], obj['name']) if obj.get('schema') else obj['name']
            out[key] = obj
    return out


def _estimate(step):
    if step['action'] in ('reindex', 'repack', 'vacuum_full', 'rebuild', 'optimize') and step.get('bytes'):
        return int(step['bytes'] * (1 - (step.get('bloat_percent') or 0) / 100.0))
    if step['action'] == 'drop_invalid':
        return 0
    return step.get('bytes')


def _plan_line(step):
    return '%s %s: %s (%s bloat %s%%, dead %s%%, %s bytes, about %s bytes after)%s' % (
        step['object_type'], step['object'], step['action'], step.get('bloat_method'),
        step.get('bloat_percent'), step.get('dead_percent'), step.get('bytes'), _estimate(step),
        '' if step['online'] else ' - not online: %s' % step['why'])


def build_record(system, db, results, figures, after, elapsed, check_mode, budget):
    after_objects = _objects(after) if after else {}
    before_objects = _objects(figures) if figures else {}
    items, reclaimed, counted = [], 0, set()
    for entry in results:
        result = entry.get('result') or ('planned' if check_mode else 'postponed')
        found = after_objects.get(entry['object']) if after else None
        before_bytes = entry.get('bytes')
        after_bytes = None
        if result == 'done':
            after_bytes = 0 if entry['action'] == 'drop_invalid' or found is None else found.get('bytes')
            if entry['action'] == 'repack' and found is not None:
                before_bytes = (entry.get('bytes') or 0) + (entry.get('index_bytes') or 0)
                after_bytes = (found.get('bytes') or 0) + (found.get('index_bytes') or 0)
            elif entry['action'] in ('rebuild', 'optimize') and found is not None:
                # InnoDB's free space (data_free) is outside data + index length, and it is what a
                # rebuild gives back: the table's space counts it (its bloat is free / that space).
                measured = before_objects.get(entry['object']) or {}
                before_bytes = (entry.get('bytes') or 0) + (measured.get('free_bytes') or 0)
                after_bytes = (found.get('bytes') or 0) + (found.get('free_bytes') or 0)
            if entry['object'] not in counted and before_bytes is not None and after_bytes is not None:
                reclaimed += max(0, before_bytes - after_bytes)
                counted.add(entry['object'])
        message = '%s %s: %s' % (entry['object_type'].capitalize(), entry['object'], entry['action'])
        if result != entry['action']:
            message += ' ' + result
        if entry.get('detail'):
            message += ' (%s)' % entry['detail']
        elif result in ('needs_window', 'planned'):
            message += ' (%s)' % entry['why']
        items.append(make_item(
            'db_%s:%s/%s' % (entry['action'], db['name'], entry['object']), result, STATUS_OF[result],
            message,
            reason=entry.get('reason'), object=entry['object'], object_type=entry['object_type'],
            action=entry['action'], result=result, online=entry['online'], why=entry['why'],
            statement=entry.get('statement'), before_bytes=before_bytes, after_bytes=after_bytes,
            estimated_bytes=_estimate(entry) if result == 'planned' else None,
            bloat_before=entry.get('bloat_percent'), dead_before=entry.get('dead_percent'),
            bloat_after=found.get('bloat_percent') if found and result == 'done' else None,
            dead_after=found.get('dead_percent') if found and result == 'done' else None,
            bloat_method=entry.get('bloat_method'), seconds=entry.get('seconds'),
            free_bytes=entry.get('free_bytes'), leftovers_dropped=entry.get('leftovers_dropped') or None,
            leftovers_left=entry.get('leftovers_left') or None))
    counts = {}
    for item in items:
        counts[item['result']] = counts.get(item['result'], 0) + 1
    summary = ', '.join('%d %s' % (n, r) for r, n in sorted(counts.items())) or 'nothing to do'
    items.insert(0, make_item(
        'db_maintenance:%s' % db['name'], reclaimed, 'ok',
        'Database %s (%s): %s; %d bytes reclaimed in %gs (budget %gs)%s' % (
            db['database'], db['engine'], summary, reclaimed, elapsed, budget,
            ' - check mode, nothing changed' if check_mode else ''),
        unit='bytes', engine=db['engine'], counts=counts, elapsed_seconds=elapsed, budget_seconds=budget,
        bloat_method=figures.get('bloat_method'), check_mode=check_mode))
    metrics = {'database': db['database'], 'engine': db['engine'], 'reclaimed_bytes': reclaimed,
               'elapsed_seconds': elapsed, 'budget_seconds': budget, 'counts': counts,
               'database_bytes_before': figures.get('database_bytes'),
               'database_bytes_after': after.get('database_bytes') if after else None}
    # The monthly report's list of changes prints the outcome (outcome_<code> in the catalogue):
    # objects that gave way or need a window are a partial run, not a failed one.
    if counts.get('failed'):
        outcome = 'failed'
    elif set(counts) - set(['done', 'planned']):
        outcome = 'db_partial'
    else:
        outcome = 'ok' if counts else 'db_nothing'
    return make_record('db_maintenance', system, items, metrics, outcome=outcome), reclaimed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            system=dict(type='str', default='shared', choices=list(SYSTEMS)),
            database=dict(type='dict', required=True,
                          options=database_options(name=dict(type='str', required=True))),
            rules=dict(type='dict', default={}),
            budget_seconds=dict(type='float', default=3600),
            lock_timeout=dict(type='float', default=5),
            statement_timeout=dict(type='int', default=1800),
            free_space_factor=dict(type='float', default=2.0),
            offline=dict(type='bool', default=False),
            window_cleared=dict(type='bool', default=False),
            min_pages=dict(type='int', default=1000),
            exact_max_pages=dict(type='int', default=1048576),
            max_objects=dict(type='int', default=500),
            bloat_method=dict(type='str', default='auto', choices=['auto', 'pgstattuple', 'statistics']),
        ),
        supports_check_mode=True,
    )
    params = module.params
    databases, errors = validate_databases([params['database']], 'database')
    rules = validate_rules(params['rules'], 'rules', errors)
    objects = (params['rules'] or {}).get('objects')
    if objects is not None:
        if not isinstance(objects, dict):
            errors.append('rules.objects: expected a mapping of schema.name to levels, got %r' % (objects,))
        else:
            rules['objects'] = objects
            for key, value in objects.items():
                validate_rules(value, 'rules.objects.%s' % key, errors)
    for key, low, high in (('budget_seconds', 0, 7 * 86400), ('lock_timeout', 0.1, 600),
                           ('statement_timeout', 1, 7 * 86400), ('free_space_factor', 1, 100)):
        if not low <= params[key] <= high:
            errors.append('%s: expected a number from %g to %g, got %r' % (key, low, high, params[key]))
    options, found = health_options(dict(params, min_pages=rules['min_pages'], top_statements=0))
    errors += found
    if errors:
        module.fail_json(msg='Invalid db_maintenance settings: ' + '; '.join(errors), errors=errors)
    db = databases[0]

    def measure():
        return figures_of(db, module.run_command, module.get_bin_path, options, _redact, read_only=True,
                          application=APPLICATION)
    try:
        figures = measure()
        steps = plan(figures, rules, offline=params['offline'])
    except (QueryError, DbCareError) as exc:
        module.fail_json(msg='Cannot measure database %s: %s' % (db['name'], exc),
                         reason=getattr(exc, 'reason', 'bad_setting'))
    lines = [_plan_line(s) for s in steps] or ['nothing to do']
    if module.check_mode:
        results = [dict(s, statement=statement_of(s, figures['engine'])) for s in steps]
        elapsed, after = 0.0, None
        for entry in results:
            if entry['action'] == 'needs_window':
                entry.update(result='needs_window', reason='needs_window')
            elif entry['action'] in OFFLINE and not (params['offline'] and params['window_cleared']):
                entry.update(result='refused', reason='window_not_cleared')
    else:
        results, elapsed = Maintainer(module, db).run(steps, figures)
        after = None
        if any(r.get('result') == 'done' for r in results):
            try:
                after = measure()
            except QueryError:
                after = None
    try:
        record, reclaimed = build_record(params['system'], db, results, figures, after, elapsed,
                                         module.check_mode, params['budget_seconds'])
    except RecordError as exc:
        module.fail_json(msg='db_maintenance built an invalid record (module bug): %s' % exc)
    changed = any(r.get('result') == 'done' for r in results)
    module.exit_json(changed=changed, record=record, plan=lines, reclaimed_bytes=reclaimed)


if __name__ == '__main__':
    main()
