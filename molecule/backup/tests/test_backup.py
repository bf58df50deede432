"""Verifier of the `backup` scenario (issue #10): backup checks and restore drills on the lab.

Converge ran playbooks/backup_check.yml on a fresh backup of every database. Each case here
damages the backups on hd-db-01 in one way, runs the check again and expects that finding and
no other; the pristine backups are put back after each case. The restore drills run through
molecule/resources/guard_lab.py (the treatment-hours guard allowing: out of shift, no treatment
running). Database work on hd-db-01 runs as postgres (peer) and MariaDB's root (socket)."""

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import pytest

PROJECT = os.environ['MOLECULE_PROJECT_DIRECTORY']
sys.path.insert(0, os.path.join(PROJECT, 'molecule', 'resources'))

import guard_lab  # noqa: E402

RECORDS = guard_lab.RECORDS
ROOT = '/var/backups/dialysis'
PG_DIR = ROOT + '/postgresql/hemodialysis'
IE_DIR = ROOT + '/mariadb/interface_engine'
PG_SET, IE_SET = 'hemodialysis-pg_dump', 'interface_engine-mariadb_dump'
PHYS_SET = 'interface_engine-mariabackup'
PRISTINE = '/root/pristine-backups'
PREFIX = 'dialysis_drill_'


def db_host():
    return guard_lab.host('hd-db-01')


def sh(command, expect=(0,)):
    out = db_host().run(command)
    assert out.rc in expect, '%s -> rc %s\n%s%s' % (command, out.rc, out.stdout, out.stderr)
    return out.stdout


def psql(database, query):
    return sh('runuser -u postgres -- psql -X -A -t -d %s -c %s' % (database, shlex.quote(query))).strip()


def scratch_databases():
    pg = [d for d in psql('postgres', 'SELECT datname FROM pg_database').split() if d.startswith(PREFIX)]
    my = [d for d in sh('mariadb -N -B -e "SHOW DATABASES"').split() if d.startswith(PREFIX)]
    return pg + my


def files_of_run(before):
    new = set(os.listdir(RECORDS)) - set(before)
    return sorted(n for n in new if n.endswith('.jsonl') and n != 'index.jsonl')


def records(files, kind):
    out = []
    for name in files:
        if not name.endswith('.jsonl') or name == 'index.jsonl':
            continue
        with open(os.path.join(RECORDS, name), encoding='utf-8') as handle:
            for line in handle:
                entry = json.loads(line)
                found = ([entry['record']] if isinstance(entry.get('record'), dict) else []) + \
                    [r for r in entry.get('records') or [] if isinstance(r, dict)]
                out.extend(dict(r, _task=entry.get('task'), _run=name) for r in found
                           if r.get('kind') == kind)
    return out


def check_run():
    """playbooks/backup_check.yml once more: its backup_check records by set."""
    before = os.listdir(RECORDS)
    proc = guard_lab.run_playbook('backup_check.yml')
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return dict((r['set'], r) for r in records(files_of_run(before), 'backup_check'))


def findings(by_set):
    """{set: sorted checks that are anomalies} for every set with one."""
    out = {}
    for name, record in by_set.items():
        bad = sorted(i['item'].rsplit(':', 1)[-1] for i in record['items']
                     if i['status'] in ('warning', 'critical', 'error'))
        if bad:
            out[name] = bad
    return out


@pytest.fixture(scope='module', autouse=True)
def history():
    """Three earlier backups of each dump set (copies of the fresh one, dated 3, 2 and 1 days
    back, with their own manifests and counts), so the size check has a history; then a
    pristine copy of the whole backup tree to put back after each case."""
    script = r'''
set -e
for dir in %(pg)s %(ie)s; do
  cd "$dir"
  for f in *.dump *.sql.zst; do [ -e "$f" ] || continue
    db=${f%%%%-*}; rest=${f#*-}; stamp=${rest%%%%.*}; ext=${rest#*.}
    for n in 3 2 1; do
      old=$(date -u -d "$n days ago" +%%Y%%m%%dT%%H%%M%%SZ)
      cp -p "$f" "$db-$old.$ext"; sha256sum "$db-$old.$ext" > "$db-$old.$ext.sha256"
      cp -p "$db-$stamp.counts.json" "$db-$old.counts.json"
      touch -d "$n days ago" "$db-$old.$ext" "$db-$old.$ext.sha256" "$db-$old.counts.json"
    done
  done
  chown -R --reference=. .
done
rm -rf %(pristine)s; cp -a %(root)s %(pristine)s
''' % {'pg': PG_DIR, 'ie': IE_DIR, 'root': ROOT, 'pristine': PRISTINE}
    sh('bash -c %s' % shlex.quote(script))
    yield
    sh('rm -rf %s' % PRISTINE)


@pytest.fixture
def pristine():
    yield
    sh('rm -rf %s && cp -a %s %s' % (ROOT, PRISTINE, ROOT))


def newest(directory, pattern):
    return sh('ls -t %s/%s | head -1' % (directory, pattern)).strip()


def rewrite_manifest(path):
    sh('cd %s && sha256sum %s > %s.sha256' % (os.path.dirname(path), os.path.basename(path),
                                               os.path.basename(path)))


def test_converge_checked_a_fresh_complete_backup_and_it_passes():
    found = dict((r['set'], r) for r in records(os.listdir(RECORDS), 'backup_check'))
    assert set(found) == {PG_SET, IE_SET, PHYS_SET}, sorted(found)
    for name, record in found.items():
        assert record['status'] == 'ok' and record['anomalies'] == 0, (name, record['items'])
        checks = dict((i['item'].rsplit(':', 1)[-1], i) for i in record['items'])
        assert set(checks) == {'age', 'size', 'checksum', 'structure', 'retention', 'job'}
        assert checks['structure']['value'] == 'valid' and checks['checksum']['value'] == 'match'


def test_with_history_every_set_still_passes(pristine):
    by_set = check_run()
    assert findings(by_set) == {}
    assert by_set[PG_SET]['items'][1]['status'] == 'ok'     # the size is judged now (3 earlier)
    assert by_set[PG_SET]['items'][1]['history'] == 3


def test_a_truncated_dump_is_flagged_by_its_structure_alone(pristine):
    # The job wrote what it had and checksummed it: only reading the dump to its end shows it.
    pg = newest(PG_DIR, '*.dump')
    sh('head -c $(( $(stat -c %%s %s) * 85 / 100 )) %s > /tmp/t && cat /tmp/t > %s && rm /tmp/t'
       % (pg, pg, pg))
    rewrite_manifest(pg)
    ie = newest(IE_DIR, '*.sql.zst')
    sh('zstd -dcq %s | head -c $(( $(zstd -dcq %s | wc -c) * 85 / 100 )) | zstd -q -c > /tmp/t.zst && '
       'cat /tmp/t.zst > %s && rm /tmp/t.zst' % (ie, ie, ie))
    rewrite_manifest(ie)
    by_set = check_run()
    assert findings(by_set) == {PG_SET: ['structure'], IE_SET: ['structure']}
    for name in (PG_SET, IE_SET):
        structure = [i for i in by_set[name]['items'] if i['item'].endswith(':structure')][0]
        assert structure['reason'] == 'truncated', structure


def test_a_checksum_mismatch_is_flagged_alone(pristine):
    pg = newest(PG_DIR, '*.dump')
    sh("sed -i 's/^[0-9a-f]\\{8\\}/00000000/' %s.sha256" % pg)
    assert findings(check_run()) == {PG_SET: ['checksum']}


def test_a_backup_older_than_the_rpo_is_flagged_alone(pristine):
    # Every backup of the set a day and a half older: the newest is then beyond its 26 h RPO.
    sh('cd %s && for f in hemodialysis-*; do touch -d "@$(( $(stat -c %%Y "$f") - 129600 ))" "$f"; done'
       % PG_DIR)
    by_set = check_run()
    assert findings(by_set) == {PG_SET: ['age']}
    age = by_set[PG_SET]['items'][0]
    assert age['reason'] == 'too_old' and age['value'] > 26


def test_a_dump_much_smaller_than_its_history_is_flagged_alone(pristine):
    # A valid, complete dump of the schema alone: only its size against the history tells.
    pg = newest(PG_DIR, '*.dump')
    sh('runuser -u postgres -- pg_dump -Fc --schema-only -d hemodialysis -f /tmp/schema.dump && '
       'cat /tmp/schema.dump > %s && rm /tmp/schema.dump' % pg)
    rewrite_manifest(pg)
    by_set = check_run()
    assert findings(by_set) == {PG_SET: ['size']}
    size = by_set[PG_SET]['items'][1]
    assert size['reason'] == 'size_drop' and size['drop_percent'] > 50


def test_check_mode_checks_the_same_and_changes_nothing():
    before = os.listdir(RECORDS)
    listing = sh('find %s -printf "%%p %%s %%T@\\n" | sort' % ROOT)
    proc = guard_lab.run_playbook('backup_check.yml', check=True)
    recap = re.sub(r'\x1b\[[0-9;]*m', '', proc.stdout)
    assert proc.returncode == 0 and 'changed=0' in recap and 'changed=1' not in recap, recap[-2000:]
    found = records(files_of_run(before), 'backup_check')
    assert len(found) == 3 and all(r['status'] == 'ok' for r in found)
    assert sh('find %s -printf "%%p %%s %%T@\\n" | sort' % ROOT) == listing


# -- restore drills -----------------------------------------------------------------------

def drill(extra=None):
    before = os.listdir(RECORDS)
    proc, verdicts, _overrides = guard_lab.allowed_run('restore_drill.yml', extra)
    assert [v['decision'] for v in verdicts] == ['allowed'], verdicts
    return proc, records(files_of_run(before), 'restore_drill')


def test_a_restore_drill_of_each_engine_restores_checks_and_cleans_up():
    rows = psql('hemodialysis', 'SELECT count(*) FROM patient')
    proc, found = drill()
    assert proc.returncode == 0, proc.stdout[-4000:]
    by_set = dict((r['set'], r) for r in found)
    assert sorted(by_set) == [PG_SET, IE_SET]
    for name, record in by_set.items():
        assert record['outcome'] == 'ok' and record['status'] == 'ok', (name, record['items'])
        assert record['rto_seconds'] > 0 and record['rpo_hours'] is not None, record
        checks = dict((i['item'].rsplit(':', 1)[-1], i) for i in record['items'])
        assert {'restore', 'integrity', 'counts', 'rpo', 'smoke', 'rto', 'cleanup'} <= set(checks)
        assert checks['integrity']['checked'] > 0 and checks['counts']['value'] == checks['counts']['total']
        assert record['ticket'] == guard_lab.TICKET
    assert 'phase' in proc.stdout and 's elapsed' in proc.stdout     # progress was printed
    assert scratch_databases() == []
    assert psql('hemodialysis', 'SELECT count(*) FROM patient') == rows


def test_a_drill_in_check_mode_restores_nothing_and_is_no_success():
    before = os.listdir(RECORDS)
    proc, _verdicts, _overrides = guard_lab.allowed_run('restore_drill.yml', check=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    found = records(files_of_run(before), 'restore_drill')
    assert sorted(r['set'] for r in found) == sorted([PG_SET, IE_SET])
    assert all(r['outcome'] == 'not_done' for r in found), [r['outcome'] for r in found]
    assert scratch_databases() == []


def test_a_drill_pointed_at_the_production_database_is_refused():
    rows = psql('hemodialysis', 'SELECT count(*) FROM machine_reading')
    proc, found = drill({'restore_drill_target': 'hemodialysis', 'restore_drill_only': [PG_SET]})
    assert proc.returncode != 0
    output = re.sub(r'\x1b\[[0-9;]*m', '', proc.stdout + proc.stderr)
    assert 'hemodialysis is a production database' in output, output[-3000:]
    refused = [r for r in found if r.get('outcome') == 'refused']
    assert refused and not [r for r in found if r.get('outcome') == 'ok'], found
    assert psql('hemodialysis', 'SELECT count(*) FROM machine_reading') >= rows


def background_drill(extra):
    """The drill playbook started in the background, the guard allowing; (process, stop)."""
    guard_lab.stop_treatments()
    env = dict(os.environ, **guard_lab.PASSWORDS)
    variables = dict({'dialysis_change_ticket': guard_lab.TICKET,
                      'dialysis_treatment_hours': guard_lab.out_of_shift()}, **extra)
    argv = [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', guard_lab.INVENTORY,
            os.path.join(PROJECT, 'playbooks', 'restore_drill.yml'), '-e', json.dumps(variables)]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return proc


def wait_for_phase(set_name, phase, timeout=120):
    path = '/run/dialysis-ops/restore-drill-%s.json' % set_name
    deadline = time.time() + timeout
    while time.time() < deadline:
        out = db_host().run('cat %s' % path)
        if out.rc == 0:
            try:
                data = json.loads(out.stdout)
            except ValueError:
                data = {}
            if data.get('phase') == phase and data.get('drill_id') == set_name:
                return data
        time.sleep(0.5)
    raise AssertionError('the drill of %s never reached its %s phase' % (set_name, phase))


def test_a_drill_killed_half_way_leaves_nothing_after_the_next_run_and_is_no_success():
    sh('rm -f /run/dialysis-ops/restore-drill-%s.json' % PG_SET)
    before = os.listdir(RECORDS)
    proc = background_drill({'restore_drill_only': [PG_SET], 'restore_drill_hold_seconds': 120})
    try:
        progress = wait_for_phase(PG_SET, 'hold')
        assert progress['scratch'] in scratch_databases()
        # Kill the run and the drill on the host (its process id is in the progress file).
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        sh('kill -9 %d' % int(progress['pid']))
    finally:
        if proc.poll() is None:
            proc.kill()
        guard_lab.start_treatments()
    killed_run = files_of_run(before)
    assert progress['scratch'] in scratch_databases()          # left behind by the killed drill
    assert not [r for r in records(killed_run, 'restore_drill') if r.get('outcome') == 'ok']
    _proc, found = drill({'restore_drill_only': [PG_SET]})
    by_item = dict((i['item'].rsplit(':', 1)[-1], i) for i in found[-1]['items'])
    assert progress['scratch'] in (by_item['leftovers'].get('names') or []), by_item['leftovers']
    assert found[-1]['outcome'] == 'ok' and scratch_databases() == []


def test_a_drill_over_its_time_budget_is_timed_out_and_cleaned_up():
    proc, found = drill({'restore_drill_only': [IE_SET], 'restore_drill_budget_seconds': 4,
                         'restore_drill_hold_seconds': 30, 'restore_drill_poll_seconds': 1})
    assert proc.returncode != 0
    outcomes = [r.get('outcome') for r in found]
    assert 'timed_out' in outcomes and 'ok' not in outcomes, found
    assert scratch_databases() == []


def test_a_damaged_index_page_fails_the_integrity_check():
    """pg_dump rebuilds indexes on restore, so the page is damaged in the restored copy while the
    drill holds it: block 1 of patient_pkey gets a broken page header, PostgreSQL is restarted so
    the page is read from disk, and amcheck must fail."""
    sh('rm -f /run/dialysis-ops/restore-drill-%s.json' % PG_SET)
    before = os.listdir(RECORDS)
    proc = background_drill({'restore_drill_only': [PG_SET], 'restore_drill_hold_seconds': 25,
                             'restore_drill_poll_seconds': 2})
    try:
        scratch = wait_for_phase(PG_SET, 'hold')['scratch']
        path = psql(scratch, "SELECT current_setting('data_directory') || '/' || "
                             "pg_relation_filepath('patient_pkey')")
        sh('systemctl stop postgresql@15-main.service && '
           'printf "\\377%%.0s" $(seq 24) | dd of=%s bs=1 seek=8192 conv=notrunc status=none && '
           'systemctl start postgresql@15-main.service' % path)
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
        guard_lab.start_treatments()
    assert proc.returncode != 0, out[-3000:]
    assert 'patient_pkey' in out or 'integrity' in out
    found = records(files_of_run(before), 'restore_drill')
    record = [r for r in found if r.get('scratch') == scratch][0]
    integrity = [i for i in record['items'] if i['item'].endswith(':integrity')][0]
    assert record['outcome'] == 'failed' and integrity['status'] == 'critical', integrity
    assert 'patient_pkey' in integrity['failed_objects']
    assert scratch_databases() == []


# -- the disaster-recovery drill (hd-standby-01) --------------------------------------------

def standby():
    return guard_lab.host('hd-standby-01')


def standby_databases():
    out = standby().run('runuser -u postgres -- psql -X -A -t -d postgres '
                        '-c "SELECT datname FROM pg_database"')
    assert out.rc == 0, out.stderr
    return out.stdout.split()


def dr_drill(extra=None):
    before = os.listdir(RECORDS)
    proc, verdicts, _overrides = guard_lab.allowed_run('dr_drill.yml', extra)
    assert [v['decision'] for v in verdicts] == ['allowed'], verdicts
    found = records(files_of_run(before), 'dr_drill')
    assert len(found) == 1, found
    return proc, found[0], dict((i['item'], i) for i in found[0]['items'])


def test_the_dr_drill_brings_the_service_up_on_the_standby_and_measures_the_recovery_time():
    patients = psql('hemodialysis', 'SELECT count(*) FROM patient')
    assert 'hemodialysis' not in standby_databases()
    assert standby().run('systemctl is-active dialysis-service.service').stdout.strip() != 'active'
    # 1. A real recovery: left running, so what it brought up can be looked at.
    proc, record, items = dr_drill({'dr_drill_leave_running': True})
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert record['outcome'] == 'ok' and record['status'] == 'ok', record['items']
    for step in ('verify', 'transfer', 'restore', 'start', 'health'):
        assert items['dr:' + step]['status'] == 'ok' and items['dr:' + step]['value'] >= 0, items
    steps_sum = sum(items['dr:' + s]['value'] for s in ('verify', 'transfer', 'restore', 'start', 'health'))
    assert 0 < steps_sum <= record['recovery_seconds'] <= record['rto_target_seconds']
    assert record['backup'] == newest(PG_DIR, '*.dump').rsplit('/', 1)[-1]
    assert items['dr:cleanup']['reason'] == 'left_running' and record['ticket'] == guard_lab.TICKET
    assert re.search(r'recovery time [0-9.]+ s against the RTO target', proc.stdout), proc.stdout[-2000:]
    # The service runs on the standby against the restored copy of the hemodialysis database.
    assert standby().run('systemctl is-active dialysis-service.service').stdout.strip() == 'active'
    out = standby().run('runuser -u postgres -- psql -X -A -t -d hemodialysis '
                        '-c "SELECT count(*) FROM patient"')
    assert out.stdout.strip() == patients
    health = standby().run('python3 -c "import urllib.request as u; '
                           'print(u.urlopen(\'http://127.0.0.1:8080/health\', timeout=5).read().decode())"')
    assert json.loads(health.stdout)['status'] == 'ok' and json.loads(health.stdout)['database'] == 'ok'

    # 2. A drill now finds that database: it changes nothing and is recorded failed, never a success.
    proc, record, items = dr_drill()
    assert proc.returncode != 0
    assert record['outcome'] == 'failed' and items['dr:restore']['reason'] == 'database_exists', items
    assert items['dr:start']['reason'] == 'not_done' and items['dr:health']['reason'] == 'not_done'
    assert 'recovery_seconds' not in record
    assert standby().run('systemctl is-active dialysis-service.service').stdout.strip() == 'active'
    assert 'hemodialysis' in standby_databases()

    # 3. A drill replacing it: recovers again, then stops the service and drops the database.
    proc, record, items = dr_drill({'dr_drill_replace': True})
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert record['outcome'] == 'ok' and items['dr:cleanup']['status'] == 'ok'
    assert standby().run('systemctl is-active dialysis-service.service').stdout.strip() != 'active'
    assert 'hemodialysis' not in standby_databases()
    assert standby().run('ls /var/tmp/dialysis-dr').rc != 0
    assert psql('hemodialysis', 'SELECT count(*) FROM patient') == patients

    # 4. The documents: the drill record and the plan with the measured recovery time.
    docs = os.path.join(guard_lab.EPHEMERAL, 'docs')
    env = dict(os.environ, **guard_lab.PASSWORDS, DIALYSIS_REPORTS_DIR=docs)
    report = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), 'ansible-playbook'), '-i', guard_lab.INVENTORY,
         os.path.join(PROJECT, 'playbooks', 'report.yml'), '-e',
         json.dumps({'report_documents': ['dr_drill_record', 'dr_plan'], 'report_formats': ['html']})],
        env=env, capture_output=True, text=True, timeout=300, check=False)
    assert report.returncode == 0, report.stdout[-3000:]
    texts = {}
    for folder, _dirs, files in os.walk(docs):
        for name in files:
            if name.endswith('.html'):
                with open(os.path.join(folder, name), encoding='utf-8') as handle:
                    texts[name.split('-20')[0]] = re.sub(r'\s+', '', re.sub(r'<[^>]+>', ' ', handle.read()))
    assert '本期灾难恢复演练3次，成功2次，未成功1次' in texts['dr-drill-record']
    seconds = ('%g' % record['recovery_seconds'])
    assert '成功，恢复用时%s秒' % seconds in texts['dr-plan'], texts['dr-plan'][:3000]
