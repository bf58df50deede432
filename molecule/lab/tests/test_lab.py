"""Verifier of the `lab` scenario: the lab hospital labctl started and lab/provision.yml
provisioned (with bloat and an INVALID index planted) works as its users would see it.

Database checks run on the hosts (the controller has no database driver), as the read-only
account dialysis_ro over TCP through the published ports, exactly as the service reaches its
database; the password travels on stdin of the SSH session, never on a command line."""

import datetime
import json
import os
import shlex
import subprocess
import sys
import time
import urllib.request

import pytest
import testinfra
import yaml

PROJECT = os.environ['MOLECULE_PROJECT_DIRECTORY']
INVENTORY_DIR = os.path.join(os.environ['MOLECULE_EPHEMERAL_DIRECTORY'], 'inventory', 'lab')
INVENTORY = os.path.join(INVENTORY_DIR, 'hosts.yml')

sys.path.insert(0, os.path.join(PROJECT, 'lab'))

import hl7_ping  # noqa: E402
import labctl  # noqa: E402

with open(INVENTORY, encoding='utf-8') as _handle:
    _INV = yaml.safe_load(_handle)['all']
HOSTVARS = _INV['hosts']
BASE = _INV['vars']['lab_base_port']
PASSWORDS = labctl.read_env_file(os.path.join(INVENTORY_DIR, labctl.ENV_FILE))
MACHINES = ['HD-%02d' % n for n in range(1, 21)]


def host(name):
    return testinfra.get_host('ansible://%s?ansible_inventory=%s' % (name, INVENTORY))


def published(name, port):
    return HOSTVARS[name]['lab_published_ports'][str(port)]


# Runs on a lab host: one SQL statement as dialysis_ro (or dialysis_app) over TCP; the
# arguments, password included, arrive as JSON on stdin.
REMOTE_SQL = r'''
import json, sys
a = json.load(sys.stdin)
try:
    if a['engine'] == 'postgresql':
        import psycopg2 as driver
        conn = driver.connect(host=a['host'], port=a['port'], dbname=a['db'], user=a['user'],
                              password=a['password'], connect_timeout=10)
    else:
        import pymysql as driver
        conn = driver.connect(host=a['host'], port=a['port'], database=a['db'], user=a['user'],
                              password=a['password'], connect_timeout=10)
    cur = conn.cursor()
    cur.execute(a['sql'])
    rows = cur.fetchall() if cur.description else []
    conn.rollback() if a['rollback'] else conn.commit()
    print(json.dumps({'rows': [list(r) for r in rows]}, default=str))
except Exception as exc:
    code = getattr(exc, 'pgcode', None)
    if code is None and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
    print(json.dumps({'error': type(exc).__name__, 'code': code, 'message': str(exc).strip()[:300]}))
'''


def sql(engine, db, statement, user='dialysis_ro', via='hd-app-01', rollback=False):
    """{'rows': [...]} or {'error', 'code', 'message'} of STATEMENT, run on VIA against hd-db-01's
    published port (10.0.2.2:<port>, the way the lab's software reaches it); ROLLBACK: undo it."""
    hv = HOSTVARS[via]
    key = 'DIALYSIS_LAB_DB_PASSWORD' if user == 'dialysis_ro' else 'DIALYSIS_LAB_APP_DB_PASSWORD'
    password = PASSWORDS[key]
    args = {'engine': engine, 'host': labctl.HOST_LOOPBACK, 'db': db, 'user': user, 'password': password,
            'port': published('hd-db-01', 5432 if engine == 'postgresql' else 3306), 'sql': statement,
            'rollback': rollback}
    cmd = ['ssh', '-p', str(hv['ansible_port']), '-i', hv['ansible_ssh_private_key_file'],
           '-o', 'BatchMode=yes'] + hv['ansible_ssh_common_args'].split() + [
        'root@127.0.0.1', 'python3 -c %s' % shlex.quote(REMOTE_SQL)]
    proc = subprocess.run(cmd, input=json.dumps(args), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-500:]
    return json.loads(proc.stdout)


def rows(engine, db, statement, **kwargs):
    result = sql(engine, db, statement, **kwargs)
    assert 'rows' in result, result
    return result['rows']


def http_get(path):
    url = 'http://127.0.0.1:%d%s' % (published('hd-app-01', 8080), path)
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b'{}')


def test_the_three_hosts_run_and_publish_only_on_loopback():
    out = subprocess.run(['podman', 'ps', '--filter', 'label=%s=mlab' % labctl.LABEL, '--format', 'json'],
                         capture_output=True, text=True, check=True).stdout
    containers = dict((c['Names'][0], c) for c in json.loads(out))
    assert sorted(containers) == ['mlab-hd-app-01', 'mlab-hd-db-01', 'mlab-hd-if-01']
    for c in containers.values():
        assert c['State'] == 'running'
        assert {p['host_ip'] for p in c['Ports']} == {'127.0.0.1'}
    for name in ('hd-app-01', 'hd-db-01', 'hd-if-01'):
        assert host(name).run('hostname').stdout.strip() == name


def test_databases_answer_through_their_published_ports():
    assert rows('postgresql', 'hemodialysis', 'SELECT current_user, count(*) FROM dialysis_machine') == \
        [['dialysis_ro', 20]]
    assert rows('mariadb', 'interface_engine', 'SELECT current_user(), count(*) > 0 FROM message_log') == \
        [['dialysis_ro@%', 1]]
    # The database server runs only where provisioning put it.
    assert host('hd-db-01').service('postgresql@15-main').is_running
    assert host('hd-db-01').service('mariadb').is_running
    for name in ('hd-app-01', 'hd-if-01'):
        assert not host(name).socket('tcp://0.0.0.0:3306').is_listening
        assert not host(name).socket('tcp://0.0.0.0:5432').is_listening


def test_the_service_is_healthy_at_release_1_0_with_treatments_running():
    status, health = http_get('/health')
    assert status == 200 and health['status'] == 'ok' and health['version'] == '1.0', health
    assert http_get('/version') == (200, {'version': '1.0', 'schema': '0001', 'database_schema': '0001'})
    status, running = http_get('/treatments/running')
    assert status == 200 and running['running'] > 0, running
    assert host('hd-app-01').file('/opt/dialysis-service/current').linked_to == \
        '/opt/dialysis-service/releases/1.0'


def test_readings_of_all_20_machines_are_flowing():
    deadline = time.monotonic() + 30
    while True:
        [[age, machines]] = rows('postgresql', 'hemodialysis', """
            SELECT extract(epoch FROM now() - max(r.recorded_at))::float,
                   array_agg(DISTINCT m.code ORDER BY m.code)
              FROM machine_reading r JOIN dialysis_machine m ON m.id = r.machine_id
             WHERE r.recorded_at > now() - interval '30 seconds'""")
        if (age is not None and age < 30 and machines == MACHINES) or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert age is not None and 0 <= age < 30
    assert machines == MACHINES


def test_an_hl7_message_over_mllp_gets_an_aa_ack_with_its_control_id():
    control_id = 'MLAB%d' % int(time.time() * 1000)
    code, acked, text = hl7_ping.send('127.0.0.1', published('hd-if-01', 2575), control_id)
    assert (code, acked) == ('AA', control_id), text
    # The stand-in logs the control id, never the message content.
    log = host('hd-if-01').file('/var/log/dialysis/interface.log').content_string
    assert control_id in log and 'LAB-SYNTHETIC' not in log


def test_the_planted_bloat_and_invalid_index_hold():
    # SQL of lab/software/README.md ("Planted state"), as dialysis_ro.
    assert rows('postgresql', 'hemodialysis', """
        SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE c.relname = 'idx_machine_reading_uf_rate_ccnew'""") == \
        [['idx_machine_reading_uf_rate_ccnew', False]]
    [[live, dead]] = rows('postgresql', 'hemodialysis', """
        SELECT tuple_count, dead_tuple_count FROM pgstattuple('machine_reading_archive')""")
    assert live > 0 and dead / (live + dead) > 0.6
    assert rows('postgresql', 'hemodialysis', """
        SELECT reloptions FROM pg_class WHERE oid = 'machine_reading_archive'::regclass""") == \
        [[['autovacuum_enabled=false']]]
    [[density]] = rows('postgresql', 'hemodialysis',
                       "SELECT avg_leaf_density FROM pgstatindex('idx_machine_reading_archive_recorded_at')")
    assert density < 40


@pytest.mark.parametrize('engine,database,suffix', [
    ('postgresql', 'hemodialysis', '.dump'),
    ('mariadb', 'interface_engine', '.sql.zst'),
])
def test_the_backup_job_writes_a_verified_backup_with_counts(engine, database, suffix):
    db_host = host('hd-db-01')
    started = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    with db_host.sudo():
        run = db_host.run('systemctl start dialysis-backup-%s.service' % engine)
    assert run.rc == 0, run.stderr
    root = '/var/backups/dialysis/%s' % engine
    last = json.loads(db_host.file(root + '/last-run.json').content_string)
    assert last['exit_status'] == 0, last
    assert datetime.datetime.fromisoformat(last['started']) >= started
    assert last['databases'] == {database: {'status': 'ok'}}
    backup = [f for f in last['files'] if f.endswith(suffix)]
    assert len(backup) == 1 and db_host.file(backup[0]).size > 0
    check = db_host.run('cd %s/%s && sha256sum -c %s.sha256', root, database, os.path.basename(backup[0]))
    assert check.rc == 0 and ': OK' in check.stdout, check.stdout + check.stderr
    counts_file = backup[0][:-len(suffix)] + '.counts.json'
    assert counts_file in last['files']
    counts = json.loads(db_host.file(counts_file).content_string)
    big = 'machine_reading' if engine == 'postgresql' else 'message_log'
    assert counts['tables'][big] > 0 and counts['newest']['value']


PG_INSERT = ("INSERT INTO dialysis_machine (code, manufacturer, model, serial_number, station, "
             "commissioned_on) VALUES ('HD-99', 'x', 'x', 'MLAB-RO', 99, now())")


def test_the_read_only_account_cannot_write():
    pg = sql('postgresql', 'hemodialysis', PG_INSERT)
    assert pg.get('error') == 'InsufficientPrivilege' and pg['code'] == '42501', pg
    my = sql('mariadb', 'interface_engine', "INSERT INTO channel (id, name, direction, protocol, peer, port) "
             "VALUES (99, 'mlab-ro', 'inbound', 'mllp', 'x', 1)")
    assert my.get('code') == 1142, my       # ER_TABLEACCESS_DENIED_ERROR: INSERT command denied
    # The same statement as the application account succeeds (rolled back): the refusal is the
    # read-only account's privileges, not the statement.
    assert sql('postgresql', 'hemodialysis', PG_INSERT + ' RETURNING code', user='dialysis_app',
               rollback=True) == {'rows': [['HD-99']]}
