"""db_maintenance: the module on a fake psql - the plan in check mode (nothing
but read-only sessions), one object at a time with lock and statement timeouts,
an object that gives way is postponed with the reason and the rest proceeds,
the time budget, the free-space check, offline work refused, the record."""

import json
import os
import stat
import sys

import db_maintenance
import pytest
from ansible.module_utils.testing import patch_module_args
from test_db_health import PG_BASE, PG_EXACT, SECRET

from ansible_collections.dialysis.ops.plugins.filter.dialysis import db_maintenance_errors
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import validate_record

FAKE = r'''#!%(python)s
import json, os, sys
here = os.path.dirname(sys.argv[0])
query = sys.argv[sys.argv.index("-c") + 1]
log = open(os.path.join(here, "statements.log"), "a")
log.write(json.dumps({"query": query[:80], "options": os.environ.get("PGOPTIONS", "")}) + "\n")
if query.split()[0] in ("VACUUM", "REINDEX", "DROP"):
    fail = os.environ.get("FAKE_FAIL")
    if fail and fail in query:
        sys.stderr.write("ERROR:  canceling statement due to lock timeout\n")
        sys.exit(1)
    open(os.path.join(here, "done"), "a").write(query + "\n")
    sys.exit(0)
key = "exact" if "pgstattuple_approx" in query else "leftover" if "_ccnew" in query else "base"
if key == "leftover":
    sys.exit(0)
if key == "base" and os.path.exists(os.path.join(here, "done")):
    key = "after"
sys.stdout.write(open(os.path.join(here, key + ".json")).read())
'''


@pytest.fixture
def psql(tmp_path, monkeypatch):
    after = json.loads(json.dumps(PG_BASE))
    after['indexes'] = [i for i in after['indexes'] if i['valid']]
    after['indexes'][0].update(bytes=466944, pages=57)
    after['tables'][0].update(dead=0)
    for key, value in (('base', PG_BASE), ('exact', PG_EXACT), ('after', after)):
        (tmp_path / ('%s.json' % key)).write_text(json.dumps(value))
    path = tmp_path / 'psql'
    path.write_text(FAKE % {'python': sys.executable})
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv('PATH', '%s:%s' % (tmp_path, os.environ['PATH']))
    monkeypatch.setattr(db_maintenance.Maintainer, 'free_bytes', lambda self, directory: 10 ** 12)
    return tmp_path


def run(capsys, check_mode=False, **extra):
    args = {'system': 'hemodialysis', 'rules': {'min_pages': 100},
            'database': {'name': 'hemodialysis', 'engine': 'postgresql', 'database': 'hemodialysis',
                         'user': 'dialysis_app', 'password': SECRET}}
    args.update(extra)
    if check_mode:
        args['_ansible_check_mode'] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            db_maintenance.main()
    out = capsys.readouterr().out
    assert SECRET not in out
    return json.loads(out)


def items(result):
    return dict((i['item'], i) for i in result['record']['items'])


def statements(tmp_path):
    path = tmp_path / 'statements.log'
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_check_mode_prints_the_plan_and_runs_only_read_only_sessions(psql, capsys):
    result = run(capsys, check_mode=True)
    assert result['changed'] is False
    assert [line.split(':')[0] for line in result['plan']] == [
        'index public.idx_machine_reading_uf_rate_ccnew', 'table public.machine_reading_archive',
        'table public.machine_reading_archive', 'index public.idx_machine_reading_archive_recorded_at']
    found = items(result)
    reindex = found['db_reindex:hemodialysis/public.idx_machine_reading_archive_recorded_at']
    assert reindex['result'] == 'planned' and reindex['estimated_bytes'] == 914915
    assert found['db_needs_window:hemodialysis/public.machine_reading_archive']['status'] == 'warning'
    assert all('default_transaction_read_only=on' in s['options'] for s in statements(psql))
    assert not (psql / 'done').exists()
    assert validate_record(result['record']) == [] and result['record']['kind'] == 'db_maintenance'


def test_the_plan_runs_one_object_at_a_time_with_timeouts_and_reports_sizes(psql, capsys):
    result = run(capsys, lock_timeout=2, statement_timeout=600)
    assert result['changed'] is True
    done = (psql / 'done').read_text().splitlines()
    assert done == ['DROP INDEX CONCURRENTLY IF EXISTS "public"."idx_machine_reading_uf_rate_ccnew"',
                    'VACUUM (ANALYZE) "public"."machine_reading_archive"',
                    'REINDEX INDEX CONCURRENTLY "public"."idx_machine_reading_archive_recorded_at"']
    changing = [s for s in statements(psql) if s['query'].split()[0] in ('VACUUM', 'REINDEX', 'DROP')]
    assert all('lock_timeout=2000ms' in s['options'] and 'statement_timeout=600s' in s['options']
               and 'read_only' not in s['options'] for s in changing)
    found = items(result)
    reindex = found['db_reindex:hemodialysis/public.idx_machine_reading_archive_recorded_at']
    assert (reindex['before_bytes'], reindex['after_bytes'], reindex['result']) == (3719168, 466944, 'done')
    assert reindex['free_bytes'] == 10 ** 12
    summary = found['db_maintenance:hemodialysis']
    assert summary['value'] == result['reclaimed_bytes'] == 3719168 - 466944
    assert summary['counts'] == {'done': 3, 'needs_window': 1}
    assert result['record']['outcome'] == 'db_partial'         # the monthly report's changes list


def test_an_object_that_waits_for_a_lock_gives_way_and_the_rest_proceeds(psql, capsys, monkeypatch):
    monkeypatch.setenv('FAKE_FAIL', 'VACUUM')
    result = run(capsys)
    found = items(result)
    vacuum = found['db_vacuum:hemodialysis/public.machine_reading_archive']
    assert (vacuum['result'], vacuum['reason'], vacuum['status']) == ('postponed', 'lock_timeout', 'warning')
    assert 'lock timeout' in vacuum['message']
    assert found['db_reindex:hemodialysis/public.idx_machine_reading_archive_recorded_at']['result'] == 'done'


def test_no_object_starts_after_the_budget(psql, capsys):
    result = run(capsys, budget_seconds=0)
    assert result['changed'] is False and not (psql / 'done').exists()
    postponed = [i for i in result['record']['items'] if i.get('result') == 'postponed']
    assert len(postponed) == 3 and all(i['reason'] == 'budget' for i in postponed)
    assert result['record']['outcome'] == 'db_partial'


def test_a_rebuild_needs_free_space(psql, capsys, monkeypatch):
    monkeypatch.setattr(db_maintenance.Maintainer, 'free_bytes', lambda self, directory: 1000)
    found = items(run(capsys))
    reindex = found['db_reindex:hemodialysis/public.idx_machine_reading_archive_recorded_at']
    assert (reindex['result'], reindex['reason']) == ('postponed', 'no_space')
    assert found['db_vacuum:hemodialysis/public.machine_reading_archive']['result'] == 'done'


def test_offline_work_is_refused_without_the_guards_clearance(psql, capsys):
    found = items(run(capsys, offline=True))
    full = found['db_vacuum_full:hemodialysis/public.machine_reading_archive']
    assert (full['result'], full['reason']) == ('refused', 'window_not_cleared')
    assert 'VACUUM (FULL' not in (psql / 'done').read_text()


def test_settings_are_checked_with_the_key_and_the_form(psql, capsys):
    with patch_module_args({'database': {'name': 'hd', 'engine': 'postgresql', 'database': 'hd', 'user': 'x',
                                         'password': SECRET},
                            'rules': {'rebuild_percent': 'lots'}, 'lock_timeout': 0}):
        with pytest.raises(SystemExit):
            db_maintenance.main()
    result = json.loads(capsys.readouterr().out)
    assert result['failed'] and 'rules.rebuild_percent: expected a number from 0 to 100' in result['msg']
    assert 'lock_timeout: expected a number from 0.1 to 600' in result['msg'] and SECRET not in result['msg']


def test_the_controller_checks_every_hosts_databases_and_rules():
    hosts = [{'inventory_hostname': 'hd-db-01',
              'db_maintenance_databases': [{'name': 'hd', 'engine': 'postgresql', 'database': 'hd',
                                            'user': 'postgres', 'become_user': '',
                                            'rules': {'objects': {'public.t': {'min_pages': -1}}}}]},
             {'inventory_hostname': 'hd-db-02', 'db_maintenance_rules': {'rebuild_percent': 130}}]
    errors = db_maintenance_errors(hosts, [], {})
    assert 'hd-db-01: db_maintenance_databases[0].become_user: expected an account name such as postgres, ' \
           "got ''" in errors
    assert any(e.startswith('hd-db-01: db_maintenance_databases[0].rules.objects.public.t.min_pages')
               for e in errors)
    assert 'hd-db-02: db_maintenance_rules.rebuild_percent: expected a number from 0 to 100, got 130' \
        in errors


def test_an_innodb_rebuild_records_the_free_space_it_gave_back():
    """A MariaDB rebuild leaves data + index length as they were and returns InnoDB's free space
    (data_free): the record's sizes count it, so the space reclaimed is what the file lost."""
    def table(free, bloat):
        return {'schema': 'interface_engine', 'name': 'message_archive', 'bytes': 55148544,
                'data_bytes': 50000000, 'index_bytes': 5148544, 'free_bytes': free, 'has_pk': True,
                'bloat_percent': bloat, 'bloat_method': 'statistics', 'pages': 11000}
    before = {'engine': 'mariadb', 'bloat_method': 'statistics', 'tables': [table(138412032, 71.5)],
              'indexes': [], 'database_bytes': 55148544}
    after = dict(before, tables=[table(0, 0.0)])
    step = {'object': 'interface_engine.message_archive', 'object_type': 'table', 'action': 'rebuild',
            'online': True, 'why': 'free space at or above 30%', 'bytes': 55148544, 'bloat_percent': 71.5,
            'bloat_method': 'statistics', 'result': 'done', 'seconds': 2.1, 'free_bytes': 10 ** 12,
            'statement': 'ALTER TABLE `message_archive` FORCE, ALGORITHM=INPLACE, LOCK=NONE'}
    db = {'name': 'interface_engine', 'engine': 'mariadb', 'database': 'interface_engine'}
    record, reclaimed = db_maintenance.build_record('hemodialysis', db, [step], before, after, 2.2, False,
                                                    3600)
    validate_record(record)
    rebuilt = [i for i in record['items'] if i['item'].startswith('db_rebuild:')][0]
    assert (rebuilt['before_bytes'], rebuilt['after_bytes']) == (55148544 + 138412032, 55148544)
    assert reclaimed == record['items'][0]['value'] == 138412032
    assert rebuilt['free_bytes'] == 10 ** 12          # the filesystem's free space, as before
