"""The run lock and the log positions kept in the record store."""

import json
import os
import socket
import subprocess
import threading
import time

import pytest

from ansible_collections.dialysis.ops.plugins.plugin_utils import dialysis_runs as runs


def a_run(run_id, pid=None, operator='engineer-zhang'):
    return {'run_id': run_id, 'pid': pid or os.getpid(), 'operator': operator, 'launcher': 'cron',
            'playbook': 'inspect.yml'}


@pytest.fixture
def dead_pid():
    proc = subprocess.Popen(['true'])
    proc.wait()
    return proc.pid


def test_a_lock_is_held_until_its_run_releases_it(tmp_path):
    lock = runs.RunLock(str(tmp_path), 'inspection')
    holder, taken = lock.acquire(a_run('run-a'))
    assert taken is None and holder['run_id'] == 'run-a' and holder['controller'] == socket.gethostname()
    assert lock.acquire(a_run('run-a'))[0]['run_id'] == 'run-a'  # the same run again: still its own
    with pytest.raises(runs.LockError) as err:
        lock.acquire(a_run('run-b', operator='cron'))
    message = str(err.value)
    assert 'the inspection lock of this hospital is held by run run-a' in message
    assert 'operator engineer-zhang via cron, playbook inspect.yml' in message
    assert lock.path in message
    assert lock.release('run-b') is False and lock.holder()['run_id'] == 'run-a'
    assert runs.release_all(str(tmp_path), 'run-a') == ['inspection']
    assert lock.acquire(a_run('run-b'))[0]['run_id'] == 'run-b'


def test_each_duty_has_its_own_lock(tmp_path):
    runs.RunLock(str(tmp_path), 'inspection').acquire(a_run('run-a'))
    assert runs.RunLock(str(tmp_path), 'upgrade').acquire(a_run('run-b'))[0]['run_id'] == 'run-b'
    assert runs.holds(str(tmp_path), 'inspection', 'run-a')
    assert not runs.holds(str(tmp_path), 'inspection', 'run-b')


def test_a_scoped_lock_excludes_the_same_scope_only(tmp_path):
    lock = runs.RunLock(str(tmp_path), 'upgrade', scope='hemodialysis')
    assert lock.path == os.path.join(str(tmp_path), 'locks', 'upgrade-hemodialysis.lock')
    holder, dummy_taken = lock.acquire(a_run('run-a'))
    assert holder['duty'] == 'upgrade' and holder['scope'] == 'hemodialysis'
    with pytest.raises(runs.LockError) as err:
        runs.RunLock(str(tmp_path), 'upgrade', scope='hemodialysis').acquire(a_run('run-b'))
    assert 'the upgrade (hemodialysis) lock of this hospital is held by run run-a' in str(err.value)
    # another system, or the duty without a scope, is another lock
    assert runs.RunLock(str(tmp_path), 'upgrade', scope='ckd').acquire(a_run('run-b'))[0]['run_id'] == 'run-b'
    assert runs.RunLock(str(tmp_path), 'upgrade').acquire(a_run('run-c'))[0]['run_id'] == 'run-c'
    assert runs.holds(str(tmp_path), 'upgrade', 'run-a', scope='hemodialysis')
    assert runs.release_all(str(tmp_path), 'run-a') == ['upgrade-hemodialysis']
    assert lock.holder() is None


@pytest.mark.parametrize('scope', ['', 'Hemo', '../x', 'a-b', 'hemo dialysis'])
def test_a_scope_that_is_no_plain_name_is_refused(tmp_path, scope):
    with pytest.raises(runs.LockError) as err:
        runs.RunLock(str(tmp_path), 'upgrade', scope=scope)
    assert str(err.value).startswith('scope: expected a lower-case name such as hemodialysis')


def test_a_waiting_run_gets_the_lock_when_the_holder_ends(tmp_path):
    lock = runs.RunLock(str(tmp_path), 'inspection')
    lock.acquire(a_run('run-a'))
    seen = []
    threading.Timer(0.3, lock.release, ['run-a']).start()
    holder, dummy_taken = lock.acquire(a_run('run-b'), wait=10, poll=0.05, on_wait=seen.append)
    assert holder['run_id'] == 'run-b' and seen[0]['run_id'] == 'run-a'


def test_a_lock_whose_process_is_gone_is_taken_over_and_says_why(tmp_path, dead_pid):
    lock = runs.RunLock(str(tmp_path), 'inspection')
    lock.acquire(a_run('killed', pid=dead_pid))
    holder, taken = lock.acquire(a_run('next'))
    assert holder['run_id'] == 'next'
    assert taken['run_id'] == 'killed' and 'process %d is gone' % dead_pid in taken['stale_reason']


def test_a_reused_process_id_does_not_keep_a_lock(tmp_path):
    lock = runs.RunLock(str(tmp_path), 'inspection')
    lock.acquire(a_run('old'))
    held = lock.holder()
    held['pid_start'] -= 1  # the same pid, started at another time: another process
    runs.atomic_write_json(lock.path, held)
    assert 'now belongs to another process' in lock.acquire(a_run('new'))[1]['stale_reason']


def test_a_lock_from_another_controller_is_stale_only_past_the_bound(tmp_path):
    lock = runs.RunLock(str(tmp_path), 'inspection')
    lock.acquire(a_run('remote'))
    held = dict(lock.holder(), controller='other-controller', acquired_epoch=time.time() - 3600)
    runs.atomic_write_json(lock.path, held)
    with pytest.raises(runs.LockError):
        lock.acquire(a_run('local'), stale_after=7200)
    holder, taken = lock.acquire(a_run('local'), stale_after=1800)
    assert holder['run_id'] == 'local' and 'longer than the 30-minute bound' in taken['stale_reason']


def test_an_unreadable_lock_file_is_taken_over(tmp_path):
    lock = runs.RunLock(str(tmp_path), 'inspection')
    os.makedirs(lock.directory)
    with open(lock.path, 'w') as handle:
        handle.write('{"run_id": ')
    assert lock.acquire(a_run('new'))[1]['stale_reason'] == 'the lock file is unreadable'


def test_current_run_belongs_to_this_process_only(monkeypatch):
    monkeypatch.setenv(runs.ENV_RUN_ID, 'run-a')
    monkeypatch.setenv(runs.ENV_RUN_PID, str(os.getppid()))
    assert runs.current_run()['run_id'] == 'run-a'  # a worker of that ansible-playbook
    monkeypatch.setenv(runs.ENV_RUN_PID, '1')  # inherited from some other process
    assert runs.current_run() is None


FILE = {'inode': 5, 'dev': 2, 'offset': 100, 'head': 'ab', 'head_len': 2}


@pytest.mark.parametrize('bad', [None, [], {'files': []}, {'files': {'/a': {'inode': '5'}}},
                                 {'files': {}, 'journal_cursor': 7},
                                 {'files': {'/a': dict(FILE, offset=True)}}])
def test_positions_of_another_shape_are_never_kept(bad):
    assert runs.clean_positions(bad) is None


def test_positions_are_reduced_to_the_known_keys():
    extra = {'files': {'/a': dict(FILE, secret='x')}, 'other': 1}
    assert runs.clean_positions(extra) == {'files': {'/a': FILE}, 'journal_cursor': None}


def write_run(store, run_id, results, end=True, pid=None):
    """A run as the callback writes it: index start line, run file, index end line.
    ``pid``: the run's ansible-playbook (alive: the run may still be going)."""
    with open(os.path.join(store, 'index.jsonl'), 'a') as index:
        start = {'event': 'start', 'run_id': run_id, 'file': run_id + '.jsonl',
                 'started': '2026-11-26T02:00:00.000Z'}
        if pid:
            start.update(runs.process_identity(pid))
        index.write(json.dumps(start) + '\n')
        with open(os.path.join(store, run_id + '.jsonl'), 'w') as handle:
            handle.write(json.dumps({'type': 'run', 'run_id': run_id}) + '\n')
            for line in results:
                handle.write(json.dumps(dict(line, type='result', run_id=run_id)) + '\n')
        if end:
            index.write(json.dumps({'event': 'end', 'run_id': run_id}) + '\n')


def record(store, run_id, host, positions, ended):
    with open(os.path.join(store, run_id + '.jsonl'), 'a') as handle:
        handle.write(json.dumps({'type': 'result', 'run_id': run_id, 'host': host,
                                 'log_positions': positions, 'ended': ended}) + '\n')


def at(offset):
    return {'files': {'/l': {'inode': 1, 'dev': 1, 'offset': offset, 'head': None, 'head_len': 0}},
            'journal_cursor': None}


def test_positions_come_from_the_records_in_the_store(tmp_path):
    store = str(tmp_path)
    positions = runs.LogPositions(store)
    write_run(store, 'r1', [{'host': 'a', 'log_positions': at(10)}, {'host': 'b', 'log_positions': at(20)}])
    # A check-mode line and a line without positions move nothing.
    write_run(store, 'r2', [{'host': 'a', 'log_positions': at(99), 'check_mode': True}, {'host': 'b'}])
    write_run(store, 'r3', [], end=False)  # the run asking, started after those
    assert positions.for_run('r3', 'a') == at(10) and positions.for_run('r3', 'b') == at(20)
    assert positions.for_run('r3', 'never-seen') is None

    # r3 is killed after recording host a: the next run still finds r3's record.
    with open(os.path.join(store, 'r3.jsonl'), 'a') as handle:
        handle.write(json.dumps({'type': 'result', 'run_id': 'r3', 'host': 'a',
                                 'log_positions': at(30)}) + '\n')
    write_run(store, 'r4', [], end=False)
    assert positions.for_run('r4', 'a') == at(30) and positions.for_run('r4', 'b') == at(20)


def test_the_cache_is_only_a_cache(tmp_path):
    store = str(tmp_path)
    write_run(store, 'r1', [{'host': 'a', 'log_positions': at(10)}])
    write_run(store, 'r2', [], end=False)
    assert runs.LogPositions(store).for_run('r2', 'a') == at(10)
    os.unlink(runs.LogPositions(store).path)  # lost cache: rebuilt from the store
    write_run(store, 'r3', [], end=False)
    assert runs.LogPositions(store).for_run('r3', 'a') == at(10)


def test_a_run_that_started_first_but_waited_for_the_lock_still_counts(tmp_path, dead_pid):
    store = str(tmp_path)
    positions = runs.LogPositions(store)
    write_run(store, 'r1', [{'host': 'a', 'log_positions': at(10), 'ended': '2026-11-26T01:00:00.000Z'}])
    write_run(store, 'waiting', [], end=False, pid=os.getpid())  # started, waits for the lock
    write_run(store, 'holder', [], end=False, pid=os.getpid())  # took the lock first
    assert positions.for_run('holder', 'a') == at(10)
    record(store, 'holder', 'a', at(20), '2026-11-26T02:00:05.000Z')
    # The waiting run gets the lock, sees the holder's record, records its own.
    assert positions.for_run('waiting', 'a') == at(20)
    record(store, 'waiting', 'a', at(30), '2026-11-26T02:00:09.000Z')
    # A later run finds the newest record, although 'waiting' started before 'holder'.
    write_run(store, 'later', [], end=False, pid=dead_pid)
    assert positions.for_run('later', 'a') == at(30)
