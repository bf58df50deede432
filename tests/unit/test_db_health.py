"""Database health (db_health): statement texts normalised, figures of
PostgreSQL and MariaDB from fake client answers, the items, the maintenance
plan, the module and the inspection's second record. Real databases are
proven in molecule/dbcare; here the client is a small executable standing in
for psql / mariadb."""

import json
import os
import stat
import sys

import db_health
import host_inspection
import pytest
import test_callback
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dialysis.ops.plugins.filter.dialysis import inspection_errors
from ansible_collections.dialysis.ops.plugins.module_utils import dialysis_dbcare as dbc
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import validate_record

SECRET = 'ro-Pa55-w0rd-9c1d'
PATIENT = '张三丰'

PG_BASE = {
    'version': 150010, 'database_bytes': 64000000, 'max_connections': 100, 'connections': 7,
    'cache': {'hit': 998, 'read': 2, 'since': None}, 'xid_age': 36,
    'longest_transaction': {'seconds': 4000.5, 'pid': 77, 'state': 'idle in transaction',
                            'application': 'psql'},
    'idle_in_transaction': {'count': 1, 'longest_seconds': 3999.0},
    'in_recovery': False, 'replay_lag_seconds': None, 'replicas': None,
    'data_directory': '/var/lib/postgresql/15/main',
    'extensions': {'pgstattuple': 'public', 'pg_stat_statements': 'public', 'plpgsql': 'pg_catalog'},
    'tables': [
        {'oid': 1001, 'schema': 'public', 'name': 'machine_reading_archive', 'pages': 2256,
         'bytes': 18481152, 'index_bytes': 3719168, 'live': 20000, 'dead': 40000, 'tuples': 60000,
         'has_pk': False, 'row_width': None, 'xid_age': 30},
        {'oid': 1002, 'schema': 'public', 'name': 'machine_reading', 'pages': 3000, 'bytes': 24576000,
         'index_bytes': 9000000, 'live': 200000, 'dead': 20, 'tuples': 200000, 'has_pk': True,
         'row_width': 90, 'xid_age': 30},
        {'oid': 1003, 'schema': 'public', 'name': 'patient', 'pages': 5, 'bytes': 40960,
         'index_bytes': 16384, 'live': 120, 'dead': 100, 'has_pk': True, 'row_width': 40},
    ],
    'indexes': [
        {'oid': 2001, 'schema': 'public', 'name': 'idx_machine_reading_uf_rate_ccnew',
         'table': 'machine_reading', 'pages': 0, 'bytes': 0, 'valid': False, 'is_unique': True,
         'method': 'btree', 'scans': 0, 'building': False, 'signature': 'a'},
        {'oid': 2002, 'schema': 'public', 'name': 'idx_machine_reading_archive_recorded_at',
         'table': 'machine_reading_archive', 'pages': 454, 'bytes': 3719168, 'valid': True,
         'method': 'btree', 'scans': 3, 'building': False, 'signature': 'b', 'tuples': 40000,
         'key_width': 8},
        {'oid': 2003, 'schema': 'public', 'name': 'machine_reading_pkey', 'table': 'machine_reading',
         'pages': 600, 'bytes': 4915200, 'valid': True, 'is_unique': True, 'is_primary': True,
         'method': 'btree', 'scans': 10, 'signature': 'c', 'tuples': 200000, 'key_width': 8},
        {'oid': 2004, 'schema': 'public', 'name': 'idx_machine_reading_id_copy', 'table': 'machine_reading',
         'pages': 600, 'bytes': 4915200, 'valid': True, 'method': 'btree', 'scans': 0, 'signature': 'c',
         'tuples': 200000, 'key_width': 8},
    ],
}
PG_EXACT = {'tables': {'1001': {'dead_percent': 17.8, 'free_percent': 66.9, 'dead_tuples': 40000},
                       '1002': {'dead_percent': 0.1, 'free_percent': 2.0, 'dead_tuples': 20}},
            'indexes': {'2002': {'leaf_density': 22.1, 'fragmentation': 0},
                        '2003': {'leaf_density': 89.0, 'fragmentation': 0}}}
PG_STATEMENTS = {
    'by_total': [{'id': '1', 'query': "SELECT * FROM patient WHERE name = $1 /* %s */" % PATIENT,
                  'calls': 3, 'total_ms': 12.5, 'mean_ms': 4.1, 'rows': 3},
                 {'id': '2', 'query': "COMMENT ON TABLE patient IS '%s'" % PATIENT, 'calls': 1,
                  'total_ms': 1.0, 'mean_ms': 1.0, 'rows': 0}],
    'by_mean': []}


def fake_psql(tmp_path, name='psql', extensions=None):
    """A psql that answers our three queries from JSON files and records its argv/env."""
    base = dict(PG_BASE, extensions=extensions if extensions is not None else PG_BASE['extensions'])
    for key, value in (('base', base), ('exact', PG_EXACT), ('statements', PG_STATEMENTS)):
        (tmp_path / ('%s.json' % key)).write_text(json.dumps(value, ensure_ascii=False))
    path = tmp_path / name
    path.write_text('#!%s\nimport json, os, sys\nhere = os.path.dirname(sys.argv[0])\n'
                    'query = sys.argv[sys.argv.index("-c") + 1]\n'
                    'open(sys.argv[0] + ".argv", "a").write(json.dumps(sys.argv) + "\\n")\n'
                    'open(sys.argv[0] + ".env", "a").write(os.environ.get("PGOPTIONS", "") + "\\n")\n'
                    'key = "exact" if "pgstattuple_approx" in query else '
                    '"statements" if "pg_stat_statements" in query and "by_total" in query else "base"\n'
                    'sys.stdout.write(open(os.path.join(here, key + ".json"), encoding="utf-8").read())\n'
                    % sys.executable, encoding='utf-8')
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


def database(**extra):
    value = {'name': 'hemodialysis', 'engine': 'postgresql', 'database': 'hemodialysis',
             'user': 'dialysis_ro', 'password': SECRET}
    value.update(extra)
    return value


def by_id(items):
    return dict((i['item'], i) for i in items)


# --- statement texts ---------------------------------------------------------

@pytest.mark.parametrize('text, expected', [
    ("SELECT * FROM patient WHERE name = '%s'" % PATIENT, 'SELECT * FROM patient WHERE name = ?'),
    ("SELECT * FROM patient WHERE name = $1 -- %s" % PATIENT, 'SELECT * FROM patient WHERE name = $1'),
    ("/* %s */ UPDATE t SET n = 42, w = 61.5 WHERE id = $2" % PATIENT,
     'UPDATE t SET n = ?, w = ? WHERE id = $2'),
    ("SELECT E'it''s %s', $$%s$$, $tag$%s$tag$" % (PATIENT, PATIENT, PATIENT), 'SELECT ?, ?, ?'),
    ("SELECT col1, t2.x FROM table1 t2 LIMIT 10", 'SELECT col1, t2.x FROM table1 t2 LIMIT ?'),
    ("SELECT 'unterminated %s" % PATIENT, 'SELECT ?'),
])
def test_statement_texts_keep_no_literal_and_no_comment(text, expected):
    assert dbc.normalise_statement(text) == expected


def test_mariadb_double_quoted_strings_are_literals():
    assert dbc.normalise_statement('SELECT * FROM p WHERE name = "%s"' % PATIENT, 'mariadb') == \
        'SELECT * FROM p WHERE name = ?'


# --- figures, items and the plan -------------------------------------------

def pg_answer(query_map):
    def query(sql):
        if 'pgstattuple_approx' in sql:
            return [[json.dumps(query_map.get('exact', PG_EXACT))]]
        if 'pg_stat_statements' in sql and 'by_total' in sql:
            return [[json.dumps(PG_STATEMENTS)]]
        return [[json.dumps(query_map.get('base', PG_BASE))]]
    return query


def test_postgresql_figures_use_pgstattuple_when_installed_and_say_so():
    options = dbc.health_options({'min_pages': 100})[0]
    figures = dbc.pg_figures(pg_answer({}), options)
    assert figures['bloat_method'] == 'pgstattuple'
    tables = dict((t['name'], t) for t in figures['tables'])
    assert tables['machine_reading_archive']['bloat_percent'] == 84.7
    assert tables['machine_reading_archive']['bloat_method'] == 'pgstattuple'
    assert tables['patient']['bloat_method'] == 'statistics'          # under min_pages: not read
    indexes = dict((i['name'], i) for i in figures['indexes'])
    assert indexes['idx_machine_reading_archive_recorded_at']['bloat_percent'] == 75.4
    assert indexes['machine_reading_pkey']['bloat_percent'] == 1.1
    assert indexes['idx_machine_reading_id_copy']['duplicate_of'] == 'machine_reading_pkey'
    texts = [s['query'] for s in figures['statements']['by_total']]
    assert texts == ['SELECT * FROM patient WHERE name = $1', 'COMMENT ON TABLE patient IS ?']
    assert PATIENT not in json.dumps(figures, ensure_ascii=False)


def test_without_pgstattuple_bloat_is_estimated_from_the_statistics():
    base = dict(PG_BASE, extensions={'plpgsql': 'pg_catalog'})
    figures = dbc.pg_figures(pg_answer({'base': base}), dbc.health_options({'min_pages': 100})[0])
    assert figures['bloat_method'] == 'statistics'
    assert figures['statements'] == {'by_total': [], 'by_mean': []}
    tables = dict((t['name'], t) for t in figures['tables'])
    # no pg_stats width (never analysed): the dead share stands in
    assert tables['machine_reading_archive']['bloat_percent'] == 66.7
    assert tables['machine_reading']['bloat_percent'] == 3.7     # 200000 x 118 B need 2889 of 3000 pages
    indexes = dict((i['name'], i) for i in figures['indexes'])
    assert indexes['idx_machine_reading_archive_recorded_at']['bloat_percent'] > 70
    with pytest.raises(dbc.QueryError) as caught:
        dbc.pg_figures(pg_answer({'base': base}), dbc.health_options({'bloat_method': 'pgstattuple'})[0])
    assert caught.value.reason == 'not_installed'


def test_items_name_findings_on_objects_and_the_database_figures():
    options = dbc.health_options({'min_pages': 100})[0]
    figures = dict(dbc.pg_figures(pg_answer({}), options), name='hd', database='hemodialysis')
    items = by_id(dbc.health_items(figures, dbc.health_thresholds({})[0], options))
    assert items['db_bloat:hd/public.machine_reading_archive']['status'] == 'critical'
    assert items['db_bloat:hd/public.idx_machine_reading_archive_recorded_at']['value'] == 75.4
    assert items['db_invalid_index:hd/public.idx_machine_reading_uf_rate_ccnew']['status'] == 'warning'
    duplicate = items['db_duplicate_index:hd/public.idx_machine_reading_id_copy']
    assert duplicate['value'] == 'machine_reading_pkey'
    assert items['db_longest_transaction:hd']['status'] == 'critical'
    assert items['db_idle_in_transaction:hd']['status'] == 'critical'
    assert items['db_connections:hd']['value'] == 7.0 and items['db_cache_hit:hd']['value'] == 99.8
    assert 'db_bloat:hd/public.machine_reading' not in items
    assert not any(i.startswith('db_bloat:hd/public.patient') for i in items)


def test_the_plan_drops_invalid_first_and_acts_only_on_bloated_objects():
    figures = dbc.pg_figures(pg_answer({}), dbc.health_options({'min_pages': 100})[0])
    rules = dbc.validate_rules({'min_pages': 100}, 'r', [])
    steps = dbc.plan(figures, rules)
    assert [(s['name'], s['action']) for s in steps] == [
        ('idx_machine_reading_uf_rate_ccnew', 'drop_invalid'),
        ('machine_reading_archive', 'vacuum'),
        ('machine_reading_archive', 'needs_window'),
        ('idx_machine_reading_archive_recorded_at', 'reindex')]
    assert 'pg_repack is not installed' in steps[2]['why']
    assert dbc.statement_of(steps[3], 'postgresql') == \
        'REINDEX INDEX CONCURRENTLY "public"."idx_machine_reading_archive_recorded_at"'
    assert dbc.needed_space(steps[3]) == 2 * 3719168
    # asked for a window: VACUUM FULL in its place (the guard decides whether it runs)
    assert [s['action'] for s in dbc.plan(figures, rules, offline=True)][2] == 'vacuum_full'
    # Ola's default: objects under 1,000 pages are left alone
    default = [s['action'] for s in dbc.plan(figures, dbc.validate_rules({}, 'r', []))]
    assert default == ['drop_invalid', 'vacuum', 'needs_window']
    # per object: leave the archive alone, or lower its level
    rules['objects'] = {'public.machine_reading_archive': {'exclude': True},
                        'idx_machine_reading_archive_recorded_at': {'rebuild_percent': 80}}
    assert [s['action'] for s in dbc.plan(figures, rules)] == ['drop_invalid']


def test_pg_repack_rebuilds_a_table_with_a_primary_key_and_its_indexes():
    base = json.loads(json.dumps(PG_BASE))
    base['tables'][0]['has_pk'] = True
    base['extensions']['pg_repack'] = 'public'
    figures = dbc.pg_figures(pg_answer({'base': base}), dbc.health_options({'min_pages': 100})[0])
    steps = dbc.plan(figures, dbc.validate_rules({'min_pages': 100}, 'r', []))
    assert [(s['name'], s['action']) for s in steps] == [
        ('idx_machine_reading_uf_rate_ccnew', 'drop_invalid'), ('machine_reading_archive', 'repack')]
    assert dbc.needed_space(steps[1]) == 2 * (18481152 + 3719168)


def test_mariadb_figures_and_plan():
    rows = [['var', 'version', '10.11.6-MariaDB'], ['var', 'max_connections', '151'],
            ['var', 'page_size', '16384'], ['var', 'database_bytes', '90000000'],
            ['var', 'threads_connected', '3'], ['var', 'innodb_buffer_pool_read_requests', '10000'],
            ['var', 'innodb_buffer_pool_reads', '100'],
            ['trx', '12', '700', 'Sleep', '650'],
            ['table', 'ie', 'message_log', 'InnoDB', '50000000', '10000000', '40000000', '20000', '1', '60'],
            ['table', 'ie', 'channel', 'InnoDB', '16384', '0', '0', '5', '1', '900000'],
            ['table', 'ie', 'old_log', 'MyISAM', '30000000', '0', '20000000', '100', '0', None],
            ['index', 'message_log', 'PRIMARY', '0', 'id:', '50'],
            ['index', 'message_log', 'idx_a', '1', 'received_at:', '0'],
            ['index', 'message_log', 'idx_b', '1', 'received_at:', '4'],
            ['by_total', 'abc', "SELECT * FROM p WHERE name = '%s'" % PATIENT, '3', '1.5', '0.5', '9', '0']]

    def query(sql):
        return [r for r in rows if (r[0] == 'by_total') == ('events_statements' in sql)]

    figures = dict(dbc.mariadb_figures(query, dbc.health_options({})[0]), name='ie', database='ie')
    assert figures['cache_hit_percent'] == 99.0 and figures['idle_in_transaction']['count'] == 1
    assert figures['statements']['by_total'][0]['query'] == 'SELECT * FROM p WHERE name = ?'
    tables = dict((t['name'], t) for t in figures['tables'])
    assert tables['message_log']['bloat_percent'] == 40.0 and tables['message_log']['pages'] == 6103
    indexes = dict((i['name'], i) for i in figures['indexes'])
    assert indexes['idx_b']['duplicate_of'] == 'idx_a'
    items = by_id(dbc.health_items(figures, dbc.health_thresholds({})[0], dbc.health_options({})[0]))
    assert items['db_bloat:ie/ie.message_log']['status'] == 'warning'
    assert items['db_idle_in_transaction:ie']['status'] == 'warning'          # 650 s idle
    steps = dbc.plan(figures, dbc.validate_rules({'min_pages': 100, 'analyze_days': 1}, 'r', []))
    assert [(s['name'], s['action']) for s in steps] == [('message_log', 'rebuild'),
                                                         ('old_log', 'needs_window')]
    assert dbc.statement_of(steps[0], 'mariadb') == \
        'ALTER TABLE `message_log` FORCE, ALGORITHM=INPLACE, LOCK=NONE'


@pytest.mark.parametrize('spec, expected', [
    ({'databases': [database(engine='oracle')]}, 'db_health.databases[0].engine: expected one of'),
    ({'databases': [database(port='x')]}, 'db_health.databases[0].port: expected a whole number'),
    ({'databases': [database(pasword='x')]}, "unknown key 'pasword'"),
    ({'databases': [database()], 'min_pages': -1}, 'db_health.min_pages: expected a whole number'),
    ({'databases': [database()], 'thresholds': {'bloat_percent': {'warning': 70, 'critical': 60}}},
     'db_health.thresholds.bloat_percent: warning (70) must not be above critical (60)'),
    ({'databases': [database()], 'levels': {}}, "db_health: unknown key 'levels'"),
])
def test_invalid_settings_name_the_key_and_the_expected_form(spec, expected):
    errors = dbc.validate_health(spec)[1]
    assert any(expected in e for e in errors), errors
    assert not any(SECRET in e for e in errors)


def test_rules_name_the_key():
    errors = []
    dbc.validate_rules({'rebuild_percent': 130, 'min_page': 3, 'exclude': 'yes'}, 'db_maintenance_rules',
                       errors)
    assert 'db_maintenance_rules.rebuild_percent: expected a number from 0 to 100, got 130' in errors
    assert any("unknown key 'min_page'" in e for e in errors)
    assert 'db_maintenance_rules.exclude: expected true or false, got \'yes\'' in errors


# --- the module, and the inspection's second record --------------------------

def run_main(module, args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    out = capsys.readouterr().out
    return json.loads(out), out


def test_the_module_returns_a_db_health_record_and_never_the_password(tmp_path, monkeypatch, capsys):
    client = fake_psql(tmp_path)
    monkeypatch.setenv('PATH', '%s:%s' % (tmp_path, os.environ['PATH']))
    result, out = run_main(db_health, {'system': 'hemodialysis', 'databases': [database()], 'min_pages': 100},
                           capsys)
    record = result['record']
    assert record['kind'] == 'db_health' and validate_record(record) == []
    items = by_id(record['items'])
    assert items['db_bloat:hemodialysis/public.machine_reading_archive']['bloat_method'] == 'pgstattuple'
    assert record['metrics']['databases']['hemodialysis']['bloat_method'] == 'pgstattuple'
    assert result['changed'] is False
    assert SECRET not in out and PATIENT not in out
    argv = (tmp_path / 'psql.argv').read_text()
    assert SECRET not in argv and len(argv.splitlines()) == 3       # base, pgstattuple, statements
    assert all('default_transaction_read_only=on' in line
               for line in (client.parent / 'psql.env').read_text().splitlines())


def test_a_database_that_does_not_answer_is_an_error_item_the_others_still_read(
        tmp_path, monkeypatch, capsys):
    fake_psql(tmp_path)
    monkeypatch.setenv('PATH', '%s:%s' % (tmp_path, os.environ['PATH']))
    broken = database(name='ckd', engine='mariadb', database='ckd')
    monkeypatch.setattr(dbc, 'mariadb_figures', lambda query, options: query('SELECT 1'))
    result, out = run_main(db_health, {'databases': [database(), broken]}, capsys)
    items = by_id(result['record']['items'])
    assert items['db_size:ckd']['status'] == 'error'
    assert items['db_size:ckd']['reason'] in ('client_missing', 'query_failed')
    assert items['db_size:hemodialysis']['status'] == 'ok'


def test_the_inspection_returns_the_db_health_record_beside_its_own(tmp_path, monkeypatch, capsys):
    fake_psql(tmp_path)
    monkeypatch.setenv('PATH', '%s:%s' % (tmp_path, os.environ['PATH']))
    args = {'cpu_sample_seconds': 0.1, 'journal': False, 'system': 'hemodialysis',
            'db_health': {'databases': [database()], 'min_pages': 100}}
    result, out = run_main(host_inspection, args, capsys)
    assert result['record']['kind'] == 'inspection'
    assert [r['kind'] for r in result['records']] == ['db_health']
    assert SECRET not in out
    # without it: no second record, no query
    result, out = run_main(host_inspection, {'cpu_sample_seconds': 0.1, 'journal': False}, capsys)
    assert 'records' not in result


def test_the_controller_checks_the_db_health_settings_of_every_host():
    hosts = [{'inventory_hostname': 'hd-db-01', 'inspection_db_health': [database(engine='oracle')]},
             {'inventory_hostname': 'hd-db-02', 'inspection_db_health': [database()],
              'inspection_db_health_options': {'top_statements': 'ten'}},
             {'inventory_hostname': 'hd-app-01'}]
    errors = inspection_errors(hosts, {}, {}, [], [])
    assert any(e.startswith('hd-db-01: inspection_db_health.databases[0].engine') for e in errors), errors
    assert any(e.startswith('hd-db-02: inspection_db_health.top_statements') for e in errors), errors
    assert not any(e.startswith('hd-app-01') for e in errors)


# --- the callback writes the second record beside the first ------------------

TWO_RECORDS_MODULE = '''
from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import make_item, make_record

def main():
    module = AnsibleModule(argument_spec={})
    own = make_record('inspection', 'hemodialysis', [make_item('cpu:usage', 1.0, 'ok', 'fine')])
    health = make_record('db_health', 'hemodialysis', [make_item('db_size:hd', 10, 'ok', 'fine')])
    broken = dict(health, status='critical')
    module.exit_json(changed=False, record=own, records=[health, broken])

main()
'''


@pytest.fixture
def workspace(tmp_path, repo_root):
    """The callback tests' throw-away inventory and record store."""
    return test_callback.workspace.__wrapped__(tmp_path, repo_root)


def test_the_callback_writes_a_modules_second_record_and_refuses_a_broken_one(workspace):
    from test_callback import run_lines, run_playbook

    from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import RecordStore
    library = workspace['dir'] / 'library'
    library.mkdir()
    (library / 'two_records.py').write_text(TWO_RECORDS_MODULE)
    run_playbook(workspace, '''
- name: A module returning two records
  hosts: localhost
  gather_facts: false
  vars:
    dialysis_record_kind: inspection
  tasks:
    - name: Two
      two_records:
''')
    lines, path = run_lines(workspace)
    result = [ln for ln in lines if ln.get('task') == 'Two' and ln['type'] == 'result'][0]
    assert result['record']['kind'] == 'inspection'
    assert [r['kind'] for r in result['records']] == ['db_health']
    assert [ln['status'] for ln in lines if ln['type'] == 'run_error'] == ['invalid_record']
    store = RecordStore(str(workspace['records']))
    assert [r['kind'] for r in store.records(kind='db_health')] == ['db_health']


def test_a_slow_pgstattuple_read_falls_back_to_the_statistics_and_says_why():
    answer = pg_answer({})

    def query(sql):
        if 'pgstattuple_approx' in sql:
            raise dbc.QueryError('query_failed', 'ERROR: canceling statement due to statement timeout')
        return answer(sql)

    figures = dbc.pg_figures(query, dbc.health_options({'min_pages': 100})[0])
    assert figures['bloat_method'] == 'statistics' and 'statement timeout' in figures['bloat_error']
    tables = dict((t['name'], t) for t in figures['tables'])
    assert tables['machine_reading_archive']['bloat_method'] == 'statistics'
    assert tables['machine_reading_archive']['bloat_percent'] == 66.7
