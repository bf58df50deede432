#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: db_health
short_description: Read-only health figures of the PostgreSQL and MariaDB databases of a host
description:
  - One call per database host (contract clauses R2/R3). For each configured database it reads,
    through the database's own client (C(psql), C(mariadb)) in a read-only session with a statement
    timeout, the size of every table and index, bloat, dead tuples, the last (auto)vacuum and
    analyze, transaction-ID age, unused, duplicate and INVALID indexes, the cache hit ratio,
    connections against the maximum, the longest open transaction and the sessions idle in
    transaction, replication lag where there is replication, the database size (its growth is
    the trend of the records), and the top statements by total and by mean time. For the quarterly
    performance analysis the record also keeps the memory settings (C(shared_buffers), C(work_mem),
    C(maintenance_work_mem), C(effective_cache_size); C(innodb_buffer_pool_size), C(tmp_table_size))
    and per table its sequential and index scans.
  - "If reading the objects with pgstattuple does not finish within the statement timeout, the
    statistics' estimate stands and the record says why (C(bloat_error))."
  - "Bloat: PostgreSQL measures it with pgstattuple (C(pgstattuple_approx) for tables, C(pgstatindex)
    for b-tree indexes) when the extension is installed in the database, else estimates it from
    the statistics (C(pg_stats) widths against the pages); MariaDB from the free space InnoDB
    reports. Each figure says which (C(bloat_method))."
  - Statement texts come from C(pg_stat_statements) / C(performance_schema) digests and are
    normalised again on the host - every literal replaced by C(?) and every comment removed - since
    a literal may be patient data.
  - Returns a C(db_health) record (kind db_health) with one item per figure of each database and one
    per finding on an object.
version_added: "1.1.0"
author:
  - dialysis-ops contributors (@dialysis-ops)
options:
  system:
    description: The clinical system the host belongs to, copied into the record.
    type: str
    default: shared
    choices: [hemodialysis, ckd, pd, shared]
  databases:
    description:
      - The databases to read, each with a read-only account (the shape of the inspection's clinical
        databases). PostgreSQL - C(pg_monitor) (pgstattuple's functions and every statement's text);
        MariaDB - C(SELECT, PROCESS) on C(*.*).
      - The password goes to the client through its environment, never its command line. A C(host)
        that is an absolute path is a unix socket (peer or unix_socket authentication, no password).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Name of the database in item identifiers (C(db_size:<name>)).
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
        description: Read-only account.
        type: str
        required: true
      password:
        description: Its password, from ansible-vault or the environment; never recorded.
        type: str
      connect_timeout:
        description: Seconds to wait for the connection (default 5).
        type: int
      statement_timeout:
        description: Seconds after which a query is cancelled (default 10; pgstattuple reads the objects).
        type: int
  thresholds:
    description:
      - Levels {warning, critical} per figure; figures left out keep their defaults.
      - "connections_percent (80/95), cache_miss_percent (5/10), xid_age (500M/1000M),
        transaction_seconds (600/3600), idle_in_transaction_seconds (300/1800),
        replication_lag_seconds (60/300), bloat_percent (30/60), dead_percent (20/50)."
    type: dict
    default: {}
  min_pages:
    description: Objects smaller than this many pages are measured by the statistics only and never findings.
    type: int
    default: 1000
  exact_max_pages:
    description: Objects larger than this are estimated from the statistics, not read by pgstattuple.
    type: int
    default: 131072
  max_objects:
    description: The largest this many tables and indexes of each database are reported.
    type: int
    default: 200
  top_statements:
    description: How many statements by total and by mean time (0 - none).
    type: int
    default: 10
  bloat_method:
    description:
      - C(auto) - pgstattuple when installed, else the statistics; C(statistics) never reads the objects.
    type: str
    default: auto
    choices: [auto, pgstattuple, statistics]
attributes:
  check_mode:
    description: Read-only; runs the same in check mode.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode),
      when in diff mode.
    support: none
notes:
  - Read-only; C(changed) is always false.
'''

EXAMPLES = r'''
- name: Database health of the hemodialysis database host
  dialysis.ops.db_health:
    system: hemodialysis
    databases:
      - name: hemodialysis
        engine: postgresql
        database: hemodialysis
        user: dialysis_ro
        password: "{{ vault_dialysis_ro_password }}"
      - name: interface_engine
        engine: mariadb
        database: interface_engine
        user: dialysis_ro
        password: "{{ vault_dialysis_ro_password }}"
  no_log: false
'''

RETURN = r'''
record:
  description: The db_health record - per database its figures as items, findings on objects, and
    in C(metrics.databases) every table's and index's figures and the top statements (normalised).
  returned: always
  type: dict
  sample:
    kind: db_health
    system: hemodialysis
    status: critical
    items:
      - item: db_bloat:hemodialysis/public.machine_reading_archive
        value: 84.7
        unit: "%"
        status: critical
        bloat_method: pgstattuple
        message: Table machine_reading_archive is 84.7% bloat (pgstattuple) of 18481152 bytes (critical at 60)
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_clinical import database_options
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_dbcare import (
    check_health,
    validate_health,
)
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import (
    SYSTEMS,
    RecordError,
    make_record,
)


def _redact(text):
    from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_redact import redact_text
    return redact_text(text)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            system=dict(type='str', default='shared', choices=list(SYSTEMS)),
            databases=dict(type='list', elements='dict', required=True,
                           options=database_options(name=dict(type='str', required=True))),
            thresholds=dict(type='dict', default={}),
            min_pages=dict(type='int', default=1000),
            exact_max_pages=dict(type='int', default=131072),
            max_objects=dict(type='int', default=200),
            top_statements=dict(type='int', default=10),
            bloat_method=dict(type='str', default='auto', choices=['auto', 'pgstattuple', 'statistics']),
        ),
        supports_check_mode=True,
    )
    params = module.params
    spec = dict((k, params[k]) for k in ('databases', 'thresholds', 'min_pages', 'exact_max_pages',
                                         'max_objects', 'top_statements', 'bloat_method'))
    health, errors = validate_health(spec, varname='db_health')
    if errors:
        module.fail_json(msg='Invalid db_health settings: ' + '; '.join(errors), errors=errors)
    if not health or not health['databases']:
        module.fail_json(msg='databases: expected at least one database '
                             '{name, engine, database, user, password}')
    items, metrics = check_health(health, module.run_command, module.get_bin_path, _redact)
    try:
        record = make_record('db_health', params['system'], items, metrics)
    except RecordError as exc:
        module.fail_json(msg='db_health built an invalid record (module bug): %s' % exc)
    module.exit_json(changed=False, record=record)


if __name__ == '__main__':
    main()
