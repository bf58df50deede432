# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Database care (contract clauses R2/R3): the read-only health figures of a
PostgreSQL or MariaDB database, the items of a ``db_health`` record, and the
maintenance plan per object (Ola Hallengren's IndexOptimize as the model:
small objects left alone, levels for "reorganise" and "rebuild", online
operations only unless a window is asked for).

Figures come from the database's own client (``psql`` / ``mariadb``) through
``dialysis_clinical.run_query``: the password in the client's environment, a
read-only session with a statement timeout. Statement texts leave the host only
normalised by ``normalise_statement`` (no literal, no comment), since a literal
may be patient data.

Runs on the hosts: standard library only, Python 3.8 and later.
"""

from __future__ import absolute_import, division, print_function

import json
import math
import re

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_clinical import (
    QueryError,
    database_entry,
    run_query,
)
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import make_item
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_thresholds import (
    as_number,
    classify,
    level_message,
)

__metaclass__ = type

MARKER = '/* dialysis-ops */'   # our own statements, left out of the top statements
PAGE = 8192
BTREE_FULL_DENSITY = 90.0       # leaf density of a freshly built b-tree (fillfactor 90)
MAX_STATEMENT_CHARS = 600

# Health levels: {warning, critical}; higher is worse (cache hit is given as a miss share).
HEALTH_THRESHOLDS = {
    'connections_percent': {'warning': 80.0, 'critical': 95.0},
    'cache_miss_percent': {'warning': 5.0, 'critical': 10.0},
    'xid_age': {'warning': 500000000.0, 'critical': 1000000000.0},
    'transaction_seconds': {'warning': 600.0, 'critical': 3600.0},
    'idle_in_transaction_seconds': {'warning': 300.0, 'critical': 1800.0},
    'replication_lag_seconds': {'warning': 60.0, 'critical': 300.0},
    'bloat_percent': {'warning': 30.0, 'critical': 60.0},
    'dead_percent': {'warning': 20.0, 'critical': 50.0},
}

# The plan's levels (Ola: nothing under 5 %, reorganise 5-30 %, rebuild over 30 %,
# objects under 1,000 pages left alone). Per database, and per object under ``objects``.
PLAN_RULES = {
    'min_pages': 1000,            # smaller objects are left alone
    'vacuum_dead_percent': 10.0,  # PostgreSQL: VACUUM (ANALYZE) at this share of dead tuples
    'rebuild_percent': 30.0,      # rebuild at this bloat (index: leaf density; table: free + dead)
    'analyze_days': 7.0,          # MariaDB: ANALYZE TABLE when its statistics are older
    'exclude': False,             # leave the object alone whatever its figures
}
HEALTH_OPTIONS = ('min_pages', 'exact_max_pages', 'max_objects', 'top_statements', 'bloat_method')


class DbCareError(Exception):
    """A setting or an answer that cannot be used; the message names it."""


# ---------------------------------------------------------------------------
# statement text: normalised only
# ---------------------------------------------------------------------------

_COMMENT_LINE = re.compile(r'--[^\n]*')
_COMMENT_BLOCK = re.compile(r'/\*.*?(\*/|$)', re.S)
_DOLLAR = re.compile(r'\$\$.*?(?:\$\$|$)|\$([A-Za-z_][A-Za-z0-9_]*)\$.*?(?:\$\1\$|$)', re.S)
_STRING = re.compile(r"(?:[EeBbXxNn]|[Uu]&)?'(?:[^'\\]|''|\\.)*('|$)", re.S)
_DQ_VALUE = re.compile(r'"(?:[^"\\]|"")*"')
_NUMBER = re.compile(r'(?<![\w$.?])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w$])')
_SPACES = re.compile(r'\s+')


def normalise_statement(text, engine='postgresql'):
    """Statement text with every literal replaced by ``?`` and every comment
    removed (pg_stat_statements keeps comments and the literals of utility
    statements; a literal may be patient data). Identifiers stay. MariaDB: a
    double-quoted token is a string unless ANSI_QUOTES, so it goes too."""
    if not text:
        return ''
    text = _COMMENT_BLOCK.sub(' ', text)
    text = _COMMENT_LINE.sub(' ', text)
    text = _DOLLAR.sub('?', text)
    text = _STRING.sub('?', text)
    if engine != 'postgresql':
        text = _DQ_VALUE.sub('?', text)
    text = _NUMBER.sub('?', text)
    text = _SPACES.sub(' ', text).strip()
    if len(text) > MAX_STATEMENT_CHARS:
        text = text[:MAX_STATEMENT_CHARS] + ' ...'
    return text


# ---------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------

def _number_in(value, low, high, where, errors, whole=False):
    num = as_number(value)
    if num is None or not low <= num <= high or (whole and num != int(num)):
        errors.append('%s: expected a %s from %g to %g, got %r'
                      % (where, 'whole number' if whole else 'number', low, high, value))
        return None
    return int(num) if whole else num


def validate_rules(rules, where, errors, base=None):
    """Plan rules over ``base`` (PLAN_RULES); ``objects`` maps 'schema.name' (or
    'name') to rules of that object."""
    out = dict(base or PLAN_RULES)
    if rules is None:
        return out
    if not isinstance(rules, dict):
        errors.append('%s: expected a mapping of %s, got %r' % (where, ', '.join(PLAN_RULES), rules))
        return out
    for key, value in rules.items():
        if value is None or key == 'objects':
            continue
        here = '%s.%s' % (where, key)
        if key == 'min_pages':
            num = _number_in(value, 0, 2 ** 31, here, errors, whole=True)
        elif key in ('vacuum_dead_percent', 'rebuild_percent'):
            num = _number_in(value, 0, 100, here, errors)
        elif key == 'analyze_days':
            num = _number_in(value, 0, 3650, here, errors)
        elif key == 'exclude':
            num = value if isinstance(value, bool) else None
            if num is None:
                errors.append('%s: expected true or false, got %r' % (here, value))
        else:
            errors.append('%s: unknown key %r; expected %s, objects' % (where, key, ', '.join(PLAN_RULES)))
            continue
        if num is not None:
            out[key] = num
    return out


def validate_databases(entries, varname, extra_keys=()):
    """(normalised connections, errors) for a list of database entries of the
    shape of inspection_clinical's databases (+ ``extra_keys``)."""
    errors, out, names = [], [], set()
    if entries is None:
        return out, errors
    if not isinstance(entries, list):
        return out, ['%s: expected a list of databases {name, engine, host, port, database, user, '
                     'password}, got %r' % (varname, type(entries).__name__)]
    keys = ('name', 'engine', 'host', 'port', 'database', 'user', 'password', 'connect_timeout',
            'statement_timeout') + tuple(extra_keys)
    for number, entry in enumerate(entries):
        where = '%s[%d]' % (varname, number)
        if not isinstance(entry, dict):
            errors.append('%s: expected a mapping {name, engine, database, user, ...}, got %r'
                          % (where, type(entry).__name__))
            continue
        entry = dict((k, v) for k, v in entry.items() if v is not None)
        db = database_entry(entry, where, names, errors, keys=keys)
        if db is None:
            continue
        db['where'] = where
        for key in extra_keys:
            if key in entry:
                db[key] = entry[key]
        out.append(db)
    return out, errors


# ---------------------------------------------------------------------------
# figures: PostgreSQL
# ---------------------------------------------------------------------------

PG_BASE = MARKER + r"""
SELECT json_build_object(
 'version', current_setting('server_version_num')::int,
 'database_bytes', pg_database_size(current_database()),
 'max_connections', current_setting('max_connections')::int,
 'connections', (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),
 'cache', (SELECT json_build_object('hit', blks_hit, 'read', blks_read, 'since', stats_reset)
             FROM pg_stat_database WHERE datname = current_database()),
 'xid_age', (SELECT age(datfrozenxid) FROM pg_database WHERE datname = current_database()),
 'longest_transaction', (SELECT json_build_object('seconds', extract(epoch FROM now() - xact_start),
     'pid', pid, 'state', state, 'application', application_name)
     FROM pg_stat_activity WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid()
      AND backend_type = 'client backend' ORDER BY xact_start LIMIT 1),
 'idle_in_transaction', (SELECT json_build_object('count', count(*),
     'longest_seconds', max(extract(epoch FROM now() - state_change)))
     FROM pg_stat_activity WHERE state LIKE 'idle in transaction%%'),
 'in_recovery', pg_is_in_recovery(),
 'replay_lag_seconds', CASE WHEN pg_is_in_recovery()
     THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END,
 'replicas', (SELECT json_agg(json_build_object('name', application_name, 'state', state,
     'replay_lag_seconds', extract(epoch FROM replay_lag))) FROM pg_stat_replication),
 'data_directory', current_setting('data_directory'),
 'settings', (SELECT json_object_agg(name, CASE unit WHEN '8kB' THEN setting::bigint * 8192
     WHEN 'kB' THEN setting::bigint * 1024 WHEN 'MB' THEN setting::bigint * 1048576 END)
     FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem', 'maintenance_work_mem',
                                     'effective_cache_size')),
 'extensions', (SELECT json_object_agg(e.extname, n.nspname)
     FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace),
 'tables', (SELECT json_agg(t) FROM (
   SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relpages AS pages,
     pg_table_size(c.oid) AS bytes, pg_indexes_size(c.oid) AS index_bytes,
     s.n_live_tup AS live, s.n_dead_tup AS dead, c.reltuples AS tuples,
     s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze,
     s.seq_scan, s.seq_tup_read, s.idx_scan,
     age(c.relfrozenxid) AS xid_age,
     EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary) AS has_pk,
     (SELECT sum(ps.avg_width) FROM pg_stats ps
       WHERE ps.schemaname = n.nspname AND ps.tablename = c.relname) AS row_width
   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
   WHERE c.relkind IN ('r', 'm') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
     AND n.nspname NOT LIKE 'pg\_toast%%'
   ORDER BY pg_total_relation_size(c.oid) DESC LIMIT %(max_objects)d) t),
 'indexes', (SELECT json_agg(x) FROM (
   SELECT c.oid, n.nspname AS schema, c.relname AS name, t.relname AS table, c.relpages AS pages,
     pg_relation_size(c.oid) AS bytes, i.indisvalid AS valid, i.indisunique AS is_unique,
     i.indisprimary AS is_primary, am.amname AS method, s.idx_scan AS scans, c.reltuples AS tuples,
     EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid) AS is_constraint,
     EXISTS (SELECT 1 FROM pg_stat_progress_create_index p WHERE p.index_relid = c.oid) AS building,
     i.indrelid::text || ' ' || i.indkey::text || ' ' || i.indclass::text || ' '
       || coalesce(pg_get_expr(i.indexprs, i.indrelid), '') || ' '
       || coalesce(pg_get_expr(i.indpred, i.indrelid), '') AS signature,
     pg_get_indexdef(c.oid) AS definition,
     (SELECT sum(ps.avg_width) FROM pg_attribute a JOIN pg_stats ps ON ps.schemaname = n.nspname
        AND ps.tablename = t.relname AND ps.attname = a.attname
       WHERE a.attrelid = t.oid AND a.attnum = ANY (i.indkey)) AS key_width,
     i.indexprs IS NOT NULL AS has_expressions
   FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_class t ON t.oid = i.indrelid
   JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_am am ON am.oid = c.relam
   LEFT JOIN pg_stat_user_indexes s ON s.indexrelid = c.oid
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_toast%%'
   ORDER BY (NOT i.indisvalid) DESC, pg_relation_size(c.oid) DESC LIMIT %(max_objects)d) x)
)"""

PG_EXACT = MARKER + r"""
SELECT json_build_object(
 'tables', (SELECT json_object_agg(c.oid::text, json_build_object(
     'dead_percent', a.dead_tuple_percent, 'free_percent', a.approx_free_percent,
     'dead_tuples', a.dead_tuple_count))
   FROM pg_class c, LATERAL %(schema)s.pgstattuple_approx(c.oid) a WHERE c.oid IN (%(tables)s)),
 'indexes', (SELECT json_object_agg(c.oid::text, json_build_object(
     'leaf_density', s.avg_leaf_density, 'fragmentation', s.leaf_fragmentation))
   FROM pg_class c, LATERAL %(schema)s.pgstatindex(c.oid) s WHERE c.oid IN (%(indexes)s))
)"""

PG_STATEMENTS = MARKER + r"""
SELECT json_build_object(%(parts)s)"""
PG_STATEMENTS_PART = r"""'%(key)s', (SELECT json_agg(s) FROM (
   SELECT queryid::text AS id, query, calls, round(total_exec_time::numeric, 1) AS total_ms,
     round(mean_exec_time::numeric, 2) AS mean_ms, rows, shared_blks_hit AS blocks_hit,
     shared_blks_read AS blocks_read
   FROM %(schema)s.pg_stat_statements
   WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND query NOT LIKE '%%dialysis-ops%%' AND calls > 0
   ORDER BY %(order)s DESC LIMIT %(limit)d) s)"""


def _json_answer(rows, what):
    text = ''.join(cell or '' for row in rows for cell in row)
    if not text.strip():
        raise QueryError('bad_result', '%s: the query returned nothing' % what)
    try:
        return json.loads(text)
    except ValueError:
        raise QueryError('bad_result', '%s: the query did not return one JSON document' % what) from None


def _pct(part, whole):
    if part is None or not whole:
        return None
    return round(100.0 * part / whole, 1)


def _qualified(obj):
    return '%s.%s' % (obj['schema'], obj['name'])


def pg_quote_ident(name):
    return '"%s"' % name.replace('"', '""')


def pg_figures(query, options):
    """Health figures of one PostgreSQL database. ``query(sql)`` returns rows."""
    base = _json_answer(query(PG_BASE % {'max_objects': options['max_objects']}), 'health figures')
    extensions = base.get('extensions') or {}
    tables = base.get('tables') or []
    indexes = base.get('indexes') or []
    method = options['bloat_method']
    use_exact = 'pgstattuple' in extensions and method in ('auto', 'pgstattuple')
    exact_error = None
    if method == 'pgstattuple' and 'pgstattuple' not in extensions:
        raise QueryError('not_installed', 'bloat_method pgstattuple: the extension pgstattuple is not '
                         'installed in this database (CREATE EXTENSION pgstattuple)')
    for table in tables:
        table['dead_percent'] = _pct(table.get('dead'), (table.get('live') or 0) + (table.get('dead') or 0))
        table['bloat_percent'], table['bloat_method'] = _pg_table_estimate(table), 'statistics'
    for index in indexes:
        index['bloat_percent'], index['bloat_method'] = _pg_index_estimate(index), 'statistics'
    if use_exact:
        low, high = options['min_pages'], options['exact_max_pages']
        exact_tables = [t for t in tables if low <= (t.get('pages') or 0) <= high]
        exact_indexes = [i for i in indexes if i.get('method') == 'btree' and i.get('valid')
                         and not i.get('building') and low <= (i.get('pages') or 0) <= high]
        answer = {}
        if exact_tables or exact_indexes:
            try:
                answer = _json_answer(query(PG_EXACT % {
                    'schema': pg_quote_ident(extensions['pgstattuple']),
                    'tables': ', '.join(str(int(t['oid'])) for t in exact_tables) or '0',
                    'indexes': ', '.join(str(int(i['oid'])) for i in exact_indexes) or '0'}), 'pgstattuple')
            except QueryError as exc:
                # Reading the objects took longer than the statement timeout (or failed):
                # the statistics' estimate stands, and the figures say why.
                use_exact, exact_error = False, str(exc)
            for table in exact_tables:
                found = (answer.get('tables') or {}).get(str(table['oid']))
                if found:
                    dead, free = found.get('dead_percent') or 0.0, found.get('free_percent') or 0.0
                    table['bloat_percent'] = round(min(100.0, dead + free), 1)
                    table['dead_percent'] = round(dead, 1) if table['dead_percent'] is None else \
                        table['dead_percent']
                    table['bloat_method'] = 'pgstattuple'
            for index in exact_indexes:
                found = (answer.get('indexes') or {}).get(str(index['oid']))
                density = as_number(found.get('leaf_density')) if found else None
                if density is not None and not math.isnan(density):
                    index['leaf_density'] = round(density, 1)
                    index['bloat_percent'] = round(max(0.0, min(100.0, 100.0 - 100.0 * density
                                                                / BTREE_FULL_DENSITY)), 1)
                    index['bloat_method'] = 'pgstattuple'
    statements = {}
    if 'pg_stat_statements' in extensions and options['top_statements']:
        parts = ', '.join(PG_STATEMENTS_PART % {'key': key, 'order': order,
                                                'limit': options['top_statements'],
                                                'schema': pg_quote_ident(extensions['pg_stat_statements'])}
                          for key, order in (('by_total', 'total_exec_time'), ('by_mean', 'mean_exec_time')))
        try:
            statements = _json_answer(query(PG_STATEMENTS % {'parts': parts}), 'pg_stat_statements')
        except QueryError as exc:
            statements = {'error': str(exc)}
    cache = base.get('cache') or {}
    figures = {
        'engine': 'postgresql',
        'version': base.get('version'),
        'database_bytes': base.get('database_bytes'),
        'connections': base.get('connections'),
        'max_connections': base.get('max_connections'),
        'cache_hit_percent': _pct(cache.get('hit'), (cache.get('hit') or 0) + (cache.get('read') or 0)),
        'stats_since': cache.get('since'),
        'xid_age': base.get('xid_age'),
        'longest_transaction': base.get('longest_transaction'),
        'idle_in_transaction': base.get('idle_in_transaction'),
        'replication': _pg_replication(base),
        'data_directory': base.get('data_directory'),
        'settings': base.get('settings') or {},
        'extensions': sorted(extensions),
        'has_pg_repack': 'pg_repack' in extensions,
        'bloat_method': 'pgstattuple' if use_exact else 'statistics',
        'bloat_error': exact_error,
        'tables': tables,
        'indexes': indexes,
        'statements': _clean_statements(statements, 'postgresql'),
    }
    _mark_duplicates(indexes)
    return figures


def _pg_replication(base):
    if base.get('in_recovery'):
        return {'role': 'replica', 'lag_seconds': base.get('replay_lag_seconds')}
    if base.get('replicas'):
        lags = [r.get('replay_lag_seconds') for r in base['replicas']
                if r.get('replay_lag_seconds') is not None]
        return {'role': 'primary', 'replicas': base['replicas'], 'lag_seconds': max(lags) if lags else 0.0}
    return None


def _pg_table_estimate(table):
    """Bloat share from the statistics: pages the live rows need against the pages
    there are (rows of width avg_width + 28 bytes of header and line pointer)."""
    pages, live, width = table.get('pages') or 0, table.get('live'), table.get('row_width')
    if not pages:
        return 0.0
    if width is None or live is None:
        return table.get('dead_percent')
    needed = math.ceil(live * (width + 28.0) / (PAGE - 24))
    return round(max(0.0, 100.0 * (1 - float(needed) / pages)), 1)


def _pg_index_estimate(index):
    pages, tuples, width = index.get('pages') or 0, index.get('tuples'), index.get('key_width')
    if not pages or index.get('method') != 'btree' or index.get('has_expressions') or width is None \
            or tuples is None or tuples < 0:
        return None
    needed = math.ceil(tuples * (width + 12.0) / ((PAGE - 40) * BTREE_FULL_DENSITY / 100.0)) + 1
    return round(max(0.0, 100.0 * (1 - float(needed) / pages)), 1)


def _mark_duplicates(indexes):
    seen = {}

    def order(index):
        return (not index.get('is_primary'), not index.get('is_constraint'), index.get('name') or '')
    for index in sorted(indexes, key=order):
        signature = index.get('signature')
        if not signature or not index.get('valid', True):
            continue
        if signature in seen:
            index['duplicate_of'] = seen[signature]
        else:
            seen[signature] = index['name']


def _clean_statements(statements, engine):
    out = {}
    if statements.get('error'):
        out['error'] = statements['error']
    for key in ('by_total', 'by_mean'):
        rows = []
        for entry in statements.get(key) or []:
            entry = dict(entry)
            entry['query'] = normalise_statement(entry.get('query'), engine)
            rows.append(entry)
        out[key] = rows
    return out


# ---------------------------------------------------------------------------
# figures: MariaDB / MySQL
# ---------------------------------------------------------------------------

def _flat(expr):
    return "REPLACE(REPLACE(REPLACE(%s, '\\t', ' '), '\\n', ' '), '\\r', ' ')" % expr


MARIADB_BASE = MARKER + r"""
SELECT 'var', 'version', VERSION()
UNION ALL SELECT 'var', 'max_connections', @@max_connections
UNION ALL SELECT 'var', 'datadir', @@datadir
UNION ALL SELECT 'var', 'page_size', @@innodb_page_size
UNION ALL SELECT 'var', 'innodb_buffer_pool_size', @@innodb_buffer_pool_size
UNION ALL SELECT 'var', 'tmp_table_size', @@tmp_table_size
UNION ALL SELECT 'var', 'database_bytes', (SELECT COALESCE(SUM(data_length + index_length), 0)
    FROM information_schema.TABLES WHERE table_schema = DATABASE())
UNION ALL SELECT 'var', LOWER(VARIABLE_NAME), VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS
    WHERE VARIABLE_NAME IN ('THREADS_CONNECTED', 'INNODB_BUFFER_POOL_READ_REQUESTS',
                            'INNODB_BUFFER_POOL_READS');
SELECT 'trx', trx_mysql_thread_id, TIMESTAMPDIFF(SECOND, trx_started, NOW()), p.COMMAND, p.TIME
  FROM information_schema.INNODB_TRX t LEFT JOIN information_schema.PROCESSLIST p
    ON p.ID = t.trx_mysql_thread_id WHERE t.trx_mysql_thread_id <> CONNECTION_ID();
SELECT 'table', t.table_schema, t.table_name, COALESCE(t.engine, ''), COALESCE(t.data_length, 0),
    COALESCE(t.index_length, 0), COALESCE(t.data_free, 0), COALESCE(t.table_rows, 0),
    (SELECT COUNT(*) FROM information_schema.TABLE_CONSTRAINTS k WHERE k.table_schema = t.table_schema
       AND k.table_name = t.table_name AND k.constraint_type = 'PRIMARY KEY'),
    (SELECT TIMESTAMPDIFF(SECOND, s.last_update, NOW()) FROM mysql.innodb_table_stats s
       WHERE s.database_name = t.table_schema AND s.table_name = t.table_name)
  FROM information_schema.TABLES t WHERE t.table_schema = DATABASE() AND t.table_type = 'BASE TABLE'
  ORDER BY t.data_length + t.index_length DESC LIMIT %(max_objects)d;
SELECT 'index', s.table_name, s.index_name, s.non_unique,
    GROUP_CONCAT(CONCAT(s.column_name, ':', COALESCE(s.sub_part, '')) ORDER BY s.seq_in_index SEPARATOR ','),
    COALESCE((SELECT u.count_star FROM performance_schema.table_io_waits_summary_by_index_usage u
       WHERE u.object_schema = s.table_schema AND u.object_name = s.table_name
         AND u.index_name = s.index_name), -1)
  FROM information_schema.STATISTICS s WHERE s.table_schema = DATABASE()
  GROUP BY s.table_schema, s.table_name, s.index_name, s.non_unique;"""

MARIADB_STATEMENTS = MARKER + r"""
SELECT 'by_total', digest, %(text)s, count_star, ROUND(sum_timer_wait / 1000000000, 1),
    ROUND(avg_timer_wait / 1000000000, 2), sum_rows_examined, sum_no_index_used
  FROM performance_schema.events_statements_summary_by_digest
  WHERE schema_name = DATABASE() AND digest_text NOT LIKE '%%information_schema%%'
    AND digest_text NOT LIKE '%%performance_schema%%' AND digest_text NOT LIKE 'SET %%'
  ORDER BY sum_timer_wait DESC LIMIT %(limit)d;
SELECT 'by_mean', digest, %(text)s, count_star, ROUND(sum_timer_wait / 1000000000, 1),
    ROUND(avg_timer_wait / 1000000000, 2), sum_rows_examined, sum_no_index_used
  FROM performance_schema.events_statements_summary_by_digest
  WHERE schema_name = DATABASE() AND digest_text NOT LIKE '%%information_schema%%'
    AND digest_text NOT LIKE '%%performance_schema%%' AND digest_text NOT LIKE 'SET %%'
  ORDER BY avg_timer_wait DESC LIMIT %(limit)d;"""


def _int(value):
    num = as_number(value)
    return None if num is None else int(num)


def mariadb_figures(query, options):
    """Health figures of one MariaDB/MySQL database (InnoDB). Bloat is the share
    of free space InnoDB reports in the table (information_schema statistics)."""
    rows = query(MARIADB_BASE % {'max_objects': options['max_objects']})
    var, trx, tables, index_cols = {}, [], [], {}
    for row in rows:
        tag = row[0]
        if tag == 'var' and len(row) >= 3:
            var[row[1]] = row[2]
        elif tag == 'trx' and len(row) >= 5:
            trx.append({'id': _int(row[1]), 'seconds': _int(row[2]), 'command': row[3], 'idle': _int(row[4])})
        elif tag == 'table' and len(row) >= 10:
            data, index, free = _int(row[4]) or 0, _int(row[5]) or 0, _int(row[6]) or 0
            total = data + index + free
            tables.append({'schema': row[1], 'name': row[2], 'engine_name': row[3], 'bytes': data + index,
                           'data_bytes': data, 'index_bytes': index, 'free_bytes': free,
                           'live': _int(row[7]), 'has_pk': (_int(row[8]) or 0) > 0,
                           'stats_age_seconds': _int(row[9]),
                           'bloat_percent': _pct(free, total) if total else 0.0,
                           'bloat_method': 'statistics'})
        elif tag == 'index' and len(row) >= 6:
            index_cols[(row[1], row[2])] = {'table': row[1], 'name': row[2], 'is_unique': row[3] == '0',
                                            'is_primary': row[2] == 'PRIMARY',
                                            'signature': row[1] + ' ' + row[4],
                                            'scans': None if _int(row[5]) in (None, -1) else _int(row[5]),
                                            'valid': True, 'schema': var.get('database') or ''}
    page = _int(var.get('page_size')) or 16384
    for table in tables:
        table['pages'] = (table['bytes'] + table['free_bytes']) // page
    indexes = sorted(index_cols.values(), key=lambda i: (i['table'], i['name']))
    _mark_duplicates(indexes)
    statements = {}
    if options['top_statements']:
        try:
            found = {'by_total': [], 'by_mean': []}
            for row in query(MARIADB_STATEMENTS % {'limit': options['top_statements'],
                                                   'text': _flat('digest_text')}):
                if len(row) >= 8 and row[0] in found:
                    found[row[0]].append({'id': row[1], 'query': row[2], 'calls': _int(row[3]),
                                          'total_ms': as_number(row[4]), 'mean_ms': as_number(row[5]),
                                          'rows_examined': _int(row[6]), 'no_index_used': _int(row[7])})
            statements = found
        except QueryError as exc:
            statements = {'error': str(exc)}
    reads = _int(var.get('innodb_buffer_pool_reads'))
    requests = _int(var.get('innodb_buffer_pool_read_requests'))
    longest = max(trx, key=lambda t: t['seconds'] or 0) if trx else None
    idle = [t for t in trx if t.get('command') == 'Sleep']
    return {
        'engine': 'mariadb',
        'version': var.get('version'),
        'database_bytes': _int(var.get('database_bytes')),
        'connections': _int(var.get('threads_connected')),
        'max_connections': _int(var.get('max_connections')),
        'cache_hit_percent': None if not requests else round(100.0 * (1 - float(reads or 0) / requests), 2),
        'longest_transaction': None if longest is None else {
            'seconds': longest['seconds'], 'pid': longest['id'], 'state': longest['command']},
        'idle_in_transaction': {'count': len(idle),
                                'longest_seconds': max([t['idle'] or 0 for t in idle]) if idle else None},
        'replication': None,
        'data_directory': var.get('datadir'),
        'settings': dict((k, _int(var.get(k))) for k in ('innodb_buffer_pool_size', 'tmp_table_size')
                         if var.get(k) is not None),
        'has_pg_repack': False,
        'bloat_method': 'statistics',
        'tables': tables,
        'indexes': indexes,
        'statements': _clean_statements(statements, 'mariadb'),
    }


def figures_of(db, run_command, get_bin_path, options, redact=None, read_only=True, settings=None,
               application='dialysis-ops-db-health'):
    """Health figures of ``db`` through its own client."""
    def query(sql):
        return run_query(db, sql, run_command, get_bin_path, redact, read_only=read_only,
                         settings=settings, application=application)
    if db['engine'] == 'postgresql':
        figures = pg_figures(query, options)
    else:
        figures = mariadb_figures(query, options)
    figures['name'], figures['database'] = db['name'], db['database']
    return figures


def health_options(params):
    """Options of the health figures with their defaults, validated."""
    errors = []
    out = {'min_pages': 1000, 'exact_max_pages': 131072, 'max_objects': 200, 'top_statements': 10,
           'bloat_method': 'auto'}
    for key in ('min_pages', 'exact_max_pages', 'max_objects', 'top_statements'):
        if params.get(key) is not None:
            num = _number_in(params[key], 0, 2 ** 31, key, errors, whole=True)
            if num is not None:
                out[key] = num
    method = params.get('bloat_method')
    if method is not None:
        if method not in ('auto', 'pgstattuple', 'statistics'):
            errors.append('bloat_method: expected auto, pgstattuple or statistics, got %r' % method)
        else:
            out['bloat_method'] = method
    return out, errors


def health_thresholds(thresholds):
    """HEALTH_THRESHOLDS with ``thresholds`` over them; (merged, errors)."""
    errors, merged = [], dict((k, dict(v)) for k, v in HEALTH_THRESHOLDS.items())
    if not thresholds:
        return merged, errors
    if not isinstance(thresholds, dict):
        return merged, ['thresholds: expected a mapping of %s, got %r'
                        % (', '.join(HEALTH_THRESHOLDS), thresholds)]
    for key, pair in thresholds.items():
        if key not in HEALTH_THRESHOLDS:
            errors.append('thresholds: unknown key %r; expected %s'
                          % (key, ', '.join(sorted(HEALTH_THRESHOLDS))))
            continue
        if not isinstance(pair, dict):
            errors.append('thresholds.%s: expected {warning: N, critical: N}, got %r' % (key, pair))
            continue
        for level in ('warning', 'critical'):
            if level in pair:
                num = _number_in(pair[level], 0, 1e12, 'thresholds.%s.%s' % (key, level), errors)
                if num is not None:
                    merged[key][level] = num
        if merged[key]['warning'] > merged[key]['critical']:
            errors.append('thresholds.%s: warning (%g) must not be above critical (%g)'
                          % (key, merged[key]['warning'], merged[key]['critical']))
    return merged, errors


# ---------------------------------------------------------------------------
# items of the db_health record
# ---------------------------------------------------------------------------

def _threshold(pair):
    return {'warning': pair['warning'], 'critical': pair['critical']}


def health_items(figures, thresholds, options):
    """Items of one database: summary items always, an item per object only
    for a finding (bloat at the rebuild level, INVALID, unused, duplicate)."""
    name = figures['name']
    items = []
    size = figures.get('database_bytes')
    items.append(make_item('db_size:%s' % name, size, 'ok',
                           'Database %s (%s) is %s bytes; bloat measured by %s'
                           % (figures['database'], figures['engine'], size, figures['bloat_method']),
                           unit='bytes', engine=figures['engine'], bloat_method=figures['bloat_method'],
                           bloat_error=figures.get('bloat_error')))
    conns, most = figures.get('connections'), figures.get('max_connections')
    share = _pct(conns, most)
    pair = thresholds['connections_percent']
    status = classify(share, pair) if share is not None else 'error'
    items.append(make_item('db_connections:%s' % name, share, status, '%s of %s connections in use%s'
                           % (conns, most, level_message(status, pair)), unit='%',
                           threshold=_threshold(pair), connections=conns, max_connections=most,
                           reason=None if share is not None else 'bad_result'))
    hit = figures.get('cache_hit_percent')
    pair = thresholds['cache_miss_percent']
    status = 'ok' if hit is None else classify(round(100.0 - hit, 2), pair)
    items.append(make_item('db_cache_hit:%s' % name, hit, status, 'Cache hit ratio %s%%%s' % (
        hit, '' if status == 'ok' else ' (miss share at the %s level %g%%)' % (status, pair[status])),
        unit='%', reason=None if hit is not None else 'no_data'))
    if figures.get('xid_age') is not None:
        pair = thresholds['xid_age']
        status = classify(figures['xid_age'], pair)
        items.append(make_item('db_xid_age:%s' % name, figures['xid_age'], status,
                               'Transaction-ID age %d%s' % (figures['xid_age'], level_message(status, pair)),
                               unit='xids', threshold=_threshold(pair)))
    longest = figures.get('longest_transaction') or {}
    seconds = round(as_number(longest.get('seconds')) or 0.0, 1)
    pair = thresholds['transaction_seconds']
    status = classify(seconds, pair)
    items.append(make_item('db_longest_transaction:%s' % name, seconds, status,
                           'Longest open transaction %gs%s' % (seconds, level_message(status, pair)),
                           unit='s', threshold=_threshold(pair), pid=longest.get('pid'),
                           state=longest.get('state')))
    idle = figures.get('idle_in_transaction') or {}
    idle_seconds = round(as_number(idle.get('longest_seconds')) or 0.0, 1)
    pair = thresholds['idle_in_transaction_seconds']
    status = classify(idle_seconds, pair) if idle.get('count') else 'ok'
    items.append(make_item('db_idle_in_transaction:%s' % name, idle.get('count') or 0, status,
                           '%d sessions idle in transaction, the longest for %gs%s' % (
                               idle.get('count') or 0, idle_seconds, level_message(status, pair)),
                           unit='sessions', longest_seconds=idle_seconds))
    replication = figures.get('replication')
    if replication:
        lag = as_number(replication.get('lag_seconds'))
        pair = thresholds['replication_lag_seconds']
        status = classify(lag, pair) if lag is not None else 'warning'
        items.append(make_item('db_replication:%s' % name, lag, status, 'Replication (%s) lag %ss%s' % (
            replication.get('role'), lag, level_message(status, pair)), unit='s', threshold=_threshold(pair),
            role=replication.get('role'), reason=None if lag is not None else 'no_data'))
    statements = figures.get('statements') or {}
    count = len(statements.get('by_total') or [])
    items.append(make_item('db_statements:%s' % name, count, 'ok' if not statements.get('error') else 'error',
                           'Top %d statements by total and by mean time (normalised text only)' % count
                           if not statements.get('error') else statements['error'],
                           unit='statements', reason='query_failed' if statements.get('error') else None))
    min_pages = options['min_pages']
    bloat_pair, dead_pair = thresholds['bloat_percent'], thresholds['dead_percent']
    for kind, objects in (('table', figures.get('tables') or []), ('index', figures.get('indexes') or [])):
        for obj in objects:
            where = '%s/%s' % (name, _qualified(obj) if obj.get('schema') else obj['name'])
            if kind == 'index' and not obj.get('valid', True):
                items.append(make_item(
                    'db_invalid_index:%s' % where, 'invalid', 'warning',
                    'Index %s on %s is INVALID (a failed concurrent build): it is not used by queries but '
                    'still costs every write' % (obj['name'], obj.get('table')),
                    reason='invalid_index', bytes=obj.get('bytes'), table=obj.get('table')))
                continue
            pages = obj.get('pages') or 0
            bloat = obj.get('bloat_percent')
            if pages >= min_pages and bloat is not None:
                status = classify(bloat, bloat_pair)
                if status != 'ok':
                    items.append(make_item('db_bloat:%s' % where, bloat, status, '%s %s is %g%% bloat '
                                           '(%s) of %s bytes%s' % (kind.capitalize(), obj['name'], bloat,
                                                                   obj.get('bloat_method'), obj.get('bytes'),
                                                                   level_message(status, bloat_pair)),
                                           unit='%', threshold=_threshold(bloat_pair), object_type=kind,
                                           bloat_method=obj.get('bloat_method'), bytes=obj.get('bytes')))
            dead = obj.get('dead_percent') if kind == 'table' else None
            if pages >= min_pages and dead is not None:
                status = classify(dead, dead_pair)
                if status != 'ok':
                    items.append(make_item('db_dead_tuples:%s' % where, dead, status,
                                           'Table %s: %g%% of its tuples are dead (%s dead)%s'
                                           % (obj['name'], dead, obj.get('dead'),
                                              level_message(status, dead_pair)),
                                           unit='%', threshold=_threshold(dead_pair), dead=obj.get('dead'),
                                           last_vacuum=obj.get('last_vacuum') or obj.get('last_autovacuum')))
            if kind == 'index' and obj.get('duplicate_of'):
                items.append(make_item('db_duplicate_index:%s' % where, obj['duplicate_of'], 'warning',
                                       'Index %s duplicates %s' % (obj['name'], obj['duplicate_of']),
                                       reason='duplicate_index', bytes=obj.get('bytes')))
            elif kind == 'index' and obj.get('scans') == 0 and pages >= min_pages \
                    and not (obj.get('is_unique') or obj.get('is_primary') or obj.get('is_constraint')):
                items.append(make_item('db_unused_index:%s' % where, 0, 'warning',
                                       'Index %s has not been used since the statistics were reset%s' % (
                                           obj['name'], ' (%s)' % figures['stats_since']
                                           if figures.get('stats_since') else ''),
                                       reason='unused_index', bytes=obj.get('bytes')))
    return items


def _keep(obj, keys):
    return dict((k, obj.get(k)) for k in keys if obj.get(k) is not None)


TABLE_METRICS = ('schema', 'name', 'bytes', 'index_bytes', 'pages', 'live', 'dead', 'dead_percent',
                 'bloat_percent', 'bloat_method', 'last_vacuum', 'last_autovacuum', 'last_analyze',
                 'last_autoanalyze', 'xid_age', 'has_pk', 'free_bytes', 'stats_age_seconds', 'seq_scan',
                 'seq_tup_read', 'idx_scan')
INDEX_METRICS = ('schema', 'name', 'table', 'bytes', 'pages', 'valid', 'is_unique', 'is_primary', 'scans',
                 'bloat_percent', 'bloat_method', 'leaf_density', 'duplicate_of')


def health_metrics(figures):
    """The figures kept in the record (for trends): no statement literal, no definition."""
    out = dict((k, figures.get(k)) for k in ('engine', 'database', 'version', 'database_bytes', 'connections',
                                             'max_connections', 'cache_hit_percent', 'stats_since', 'xid_age',
                                             'longest_transaction', 'idle_in_transaction', 'replication',
                                             'bloat_method', 'bloat_error', 'extensions', 'settings'))
    out['tables'] = [_keep(t, TABLE_METRICS) for t in figures.get('tables') or []]
    out['indexes'] = [_keep(i, INDEX_METRICS) for i in figures.get('indexes') or []]
    out['statements'] = figures.get('statements') or {}
    return out


# ---------------------------------------------------------------------------
# the maintenance plan
# ---------------------------------------------------------------------------

def rules_for(rules, obj):
    """The rules of one object: the database's, then its entry under ``objects``
    ('schema.name' or 'name')."""
    objects = rules.get('objects') or {}
    for key in (_qualified(obj) if obj.get('schema') else None, obj.get('name')):
        if key and key in objects:
            errors = []
            merged = validate_rules(objects[key], 'objects.%s' % key, errors, base=rules)
            if errors:
                raise DbCareError('; '.join(errors))
            return merged
    return rules


def plan(figures, rules, offline=False):
    """The plan of one database, in the order it runs: INVALID leftovers first,
    then per object its action. Each step: object, object_type, action, online,
    bytes (the object's size now), bloat_percent, dead_percent, why; steps that
    need a window and were not asked for have action ``needs_window``."""
    engine = figures['engine']
    steps = []
    if engine == 'postgresql':
        for index in figures.get('indexes') or []:
            if not index.get('valid', True) and not index.get('building'):
                if rules_for(rules, index).get('exclude'):
                    continue
                steps.append(_step(index, 'index', 'drop_invalid', True, 'INVALID index left by a failed '
                                   'concurrent build'))
        for table in figures.get('tables') or []:
            r = rules_for(rules, table)
            if r.get('exclude') or (table.get('pages') or 0) < r['min_pages']:
                continue
            bloat, dead = table.get('bloat_percent'), table.get('dead_percent')
            if bloat is not None and bloat >= r['rebuild_percent']:
                if figures.get('has_pg_repack') and table.get('has_pk'):
                    steps.append(_step(table, 'table', 'repack', True,
                                       'bloat at or above %g%%' % r['rebuild_percent']))
                    continue
                why = ('pg_repack is not installed in this database' if not figures.get('has_pg_repack')
                       else 'the table has no primary key, which pg_repack needs')
                if dead is not None and dead >= r['vacuum_dead_percent']:
                    steps.append(_step(table, 'table', 'vacuum', True, 'dead tuples at or above %g%%'
                                       % r['vacuum_dead_percent']))
                steps.append(_step(table, 'table', 'vacuum_full' if offline else 'needs_window', False,
                                   'bloat at or above %g%% and no online rebuild: %s'
                                   % (r['rebuild_percent'], why)))
            elif dead is not None and dead >= r['vacuum_dead_percent']:
                steps.append(_step(table, 'table', 'vacuum', True, 'dead tuples at or above %g%%'
                                   % r['vacuum_dead_percent']))
        repacked = set(s['table_key'] for s in steps if s['action'] == 'repack')
        for index in figures.get('indexes') or []:
            r = rules_for(rules, index)
            if r.get('exclude') or not index.get('valid', True) or (index.get('pages') or 0) < r['min_pages']:
                continue
            if '%s.%s' % (index.get('schema'), index.get('table')) in repacked:
                continue   # pg_repack rebuilds the table's indexes with it
            bloat = index.get('bloat_percent')
            if bloat is not None and bloat >= r['rebuild_percent']:
                steps.append(_step(index, 'index', 'reindex', True,
                                   'bloat at or above %g%%' % r['rebuild_percent']))
    else:
        for table in figures.get('tables') or []:
            r = rules_for(rules, table)
            if r.get('exclude') or (table.get('pages') or 0) < r['min_pages']:
                continue
            bloat = table.get('bloat_percent')
            if bloat is not None and bloat >= r['rebuild_percent']:
                online = (table.get('engine_name') or '').lower() == 'innodb'
                action = 'rebuild' if online else ('optimize' if offline else 'needs_window')
                why = 'free space at or above %g%%' % r['rebuild_percent']
                steps.append(_step(table, 'table', action, online,
                                   why + ('' if online else ' (not InnoDB: no online rebuild)')))
            elif table.get('stats_age_seconds') is not None and \
                    table['stats_age_seconds'] >= r['analyze_days'] * 86400:
                steps.append(_step(table, 'table', 'analyze', True, 'statistics older than %g days'
                                   % r['analyze_days']))
    return steps


def _step(obj, kind, action, online, why):
    table = obj.get('table') if kind == 'index' else obj.get('name')
    return {'object': _qualified(obj) if obj.get('schema') else obj['name'], 'object_type': kind,
            'name': obj['name'], 'schema': obj.get('schema'), 'table': table,
            'table_key': '%s.%s' % (obj.get('schema'), table),
            'action': action, 'online': online, 'bytes': obj.get('bytes'),
            'index_bytes': obj.get('index_bytes'),
            'bloat_percent': obj.get('bloat_percent'), 'bloat_method': obj.get('bloat_method'),
            'dead_percent': obj.get('dead_percent'), 'why': why}


def statement_of(step, engine):
    """The statement that carries out a step (identifiers quoted), or None for
    steps that are not SQL (pg_repack, needs_window)."""
    if engine == 'postgresql':
        obj = '%s.%s' % (pg_quote_ident(step['schema']), pg_quote_ident(step['name']))
        return {'drop_invalid': 'DROP INDEX CONCURRENTLY IF EXISTS %s' % obj,
                'reindex': 'REINDEX INDEX CONCURRENTLY %s' % obj,
                'vacuum': 'VACUUM (ANALYZE) %s' % obj,
                'vacuum_full': 'VACUUM (FULL, ANALYZE) %s' % obj}.get(step['action'])
    obj = '`%s`' % step['name'].replace('`', '``')
    return {'analyze': 'ANALYZE TABLE %s' % obj,
            'rebuild': 'ALTER TABLE %s FORCE, ALGORITHM=INPLACE, LOCK=NONE' % obj,
            'optimize': 'OPTIMIZE TABLE %s' % obj}.get(step['action'])


def needed_space(step):
    """Bytes a rebuild needs free (2x the object it copies), 0 for in-place work."""
    if step['action'] in ('reindex', 'vacuum_full', 'repack', 'rebuild', 'optimize'):
        size = (step.get('bytes') or 0)
        if step['action'] in ('repack', 'vacuum_full'):
            size += step.get('index_bytes') or 0
        return 2 * size
    return 0


# ---------------------------------------------------------------------------
# the db_health items of a host (the db_health module and the inspection)
# ---------------------------------------------------------------------------

HEALTH_SPEC_KEYS = ('databases', 'thresholds') + HEALTH_OPTIONS


def validate_health(spec, varname='db_health'):
    """(normalised {databases, thresholds, options}, errors) of a db_health
    setting: {databases: [...connections...], thresholds, min_pages, ...} or just
    the list of databases."""
    if spec is None or spec == [] or spec == {}:
        return None, []
    if isinstance(spec, list):
        spec = {'databases': spec}
    if not isinstance(spec, dict):
        return None, ['%s: expected a list of databases or a mapping {databases, thresholds, %s}, got %r'
                      % (varname, ', '.join(HEALTH_OPTIONS), type(spec).__name__)]
    spec = dict((k, v) for k, v in spec.items() if v is not None)
    errors = ['%s: unknown key %r; expected %s' % (varname, key, ', '.join(HEALTH_SPEC_KEYS))
              for key in sorted(set(spec) - set(HEALTH_SPEC_KEYS))]
    databases, found = validate_databases(spec.get('databases'), '%s.databases' % varname)
    errors += found
    options, found = health_options(spec)
    errors += ['%s.%s' % (varname, e) for e in found]
    thresholds, found = health_thresholds(spec.get('thresholds'))
    errors += ['%s.%s' % (varname, e) for e in found]
    return {'databases': databases, 'thresholds': thresholds, 'options': options}, errors


def check_health(health, run_command, get_bin_path, redact=None):
    """(items, metrics) of every configured database; a database that gives no
    answer is an error item of its own, the others are still checked."""
    items, metrics = [], {}
    for db in health['databases']:
        try:
            figures = figures_of(db, run_command, get_bin_path, health['options'], redact)
        except QueryError as exc:
            items.append(make_item('db_size:%s' % db['name'], None, 'error', str(exc), reason=exc.reason,
                                   engine=db['engine']))
            continue
        items.extend(health_items(figures, health['thresholds'], health['options']))
        metrics[db['name']] = health_metrics(figures)
    return items, {'databases': metrics}
