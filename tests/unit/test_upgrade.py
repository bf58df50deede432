"""The upgrade role's Python parts: the release manifest module (immutable release
directories, the current symlink, the manifest with its operation and health history), the
settings check and the upgrade record (roles/upgrade/README.md)."""

import io
import json
import os
import tarfile

import pytest
import release_manifest as rm

from ansible_collections.dialysis.ops.plugins.filter.dialysis_upgrade import upgrade_checks
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import validate_record
from ansible_collections.dialysis.ops.plugins.plugin_utils import dialysis_upgrade as up


def make_archive(path, version, files=None):
    """A release tarball as build_release.py makes it: one top directory."""
    files = dict(
        {
            'release.json': json.dumps({'version': version, 'schema': '0002'}),
            'migrate.py': '# migrate %s\n' % version,
        },
        **(files or {}),
    )
    with tarfile.open(path, 'w:gz') as tar:
        top = tarfile.TarInfo('dialysis-service-%s' % version)
        top.type, top.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(top)
        for name, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo('dialysis-service-%s/%s' % (version, name))
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def params(action, **extra):
    base = {
        'action': action,
        'version': None,
        'archive': None,
        'operation': None,
        'healthy': None,
        'final': False,
        'detail': '',
        'outcome': None,
        'run_id': 'run-1',
        'keep_health': 20,
    }
    base.update(extra)
    return base


@pytest.fixture
def base(tmp_path):
    """An app host as provisioning leaves it: release 1.0 unpacked, current -> it, no manifest."""
    root = tmp_path / 'opt'
    (root / 'releases' / '1.0').mkdir(parents=True)
    (root / 'releases' / '1.0' / 'release.json').write_text(json.dumps({'version': '1.0', 'schema': '0001'}))
    os.symlink(str(root / 'releases' / '1.0'), str(root / 'current'))
    return root


def act(root, action, check=False, **extra):
    rel = rm.Releases(str(root))
    return rm.run(None, rel, params(action, **extra), check)


def test_read_builds_the_manifest_from_the_symlink_and_changes_nothing(base):
    changed, dummy_msg, data = act(base, 'read')
    assert not changed and data['current']['version'] == '1.0' and data['operation'] is None
    assert not (base / 'manifest.json').exists()
    assert rm.Releases(str(base)).on_disk() == {'1.0': {'version': '1.0', 'schema': '0001'}}


def test_install_unpacks_once_and_refuses_a_changed_build(base, tmp_path):
    archive = make_archive(tmp_path / 'r11.tar.gz', '1.1')
    changed, dummy_msg, dummy = act(base, 'install', check=True, version='1.1', archive=archive)
    assert changed and not (base / 'releases' / '1.1').exists()  # check mode
    changed, dummy_msg, data = act(base, 'install', version='1.1', archive=archive)
    assert changed and (base / 'releases' / '1.1' / 'migrate.py').read_text() == '# migrate 1.1\n'
    assert data['releases']['1.1']['sha256'] and not list((base / 'releases').glob('.*'))
    assert act(base, 'install', version='1.1', archive=archive)[0] is False  # idempotent
    other = make_archive(tmp_path / 'r11b.tar.gz', '1.1', {'migrate.py': '# changed\n'})
    with pytest.raises(rm.ManifestError) as err:
        act(base, 'install', version='1.1', archive=other)
    assert 'releases are immutable' in str(err.value) and 'migrate.py' in str(err.value)
    assert (base / 'releases' / '1.1' / 'migrate.py').read_text() == '# migrate 1.1\n'
    with pytest.raises(rm.ManifestError) as err:
        act(base, 'install', version='1.2', archive=archive)
    assert 'is release 1.1, not 1.2' in str(err.value)


def test_an_unsafe_archive_is_refused(base, tmp_path):
    path = tmp_path / 'bad.tar.gz'
    with tarfile.open(str(path), 'w:gz') as tar:
        info = tarfile.TarInfo('top/../../etc/passwd')
        info.size = 1
        tar.addfile(info, io.BytesIO(b'x'))
    with pytest.raises(rm.ManifestError) as err:
        act(base, 'install', version='1.3', archive=str(path))
    assert 'refusing member' in str(err.value)


def test_switch_health_and_finish_keep_current_previous_and_last_known_good(base, tmp_path):
    act(base, 'install', version='1.1', archive=make_archive(tmp_path / 'a.tar.gz', '1.1'))
    act(
        base,
        'begin',
        operation={
            'kind': 'upgrade',
            'state': 'migrating',
            'from': '1.0',
            'to': '1.1',
            'schema_before': '0001',
        },
    )
    on_disk = json.loads((base / 'manifest.json').read_text())
    assert on_disk['operation']['state'] == 'migrating' and on_disk['operation']['run_id'] == 'run-1'
    assert act(base, 'advance', operation={'state': 'switching'})[2]['operation']['state'] == 'switching'
    changed, dummy_msg, dummy = act(base, 'switch', check=True, version='1.1')
    assert changed and os.readlink(str(base / 'current')).endswith('/1.0')  # check mode
    assert act(base, 'switch', version='1.1')[0] is True
    assert os.readlink(str(base / 'current')).endswith('/releases/1.1')
    assert act(base, 'switch', version='1.1')[0] is False
    act(base, 'health', version='1.1', healthy=True)
    dummy, dummy_msg, data = act(base, 'health', version='1.1', healthy=True, final=True)
    act(base, 'finish', outcome='upgraded')
    data = json.loads((base / 'manifest.json').read_text())
    assert data['current']['version'] == '1.1' and data['previous']['version'] == '1.0'
    assert data['last_known_good']['version'] == '1.1' and len(data['current']['health']) == 2
    assert data['operation'] is None and data['history'][-1]['outcome'] == 'upgraded'
    assert data['releases']['1.1']['status'] == 'good'


def test_a_failed_release_is_marked_and_kept_on_disk(base, tmp_path):
    act(base, 'install', version='1.2', archive=make_archive(tmp_path / 'a.tar.gz', '1.2'))
    act(base, 'switch', version='1.2')
    act(base, 'health', version='1.2', healthy=False, detail='http: 503')
    act(base, 'switch', version='1.0')
    data = json.loads((base / 'manifest.json').read_text())
    assert data['releases']['1.2']['status'] == 'failed' and data['current']['version'] == '1.0'
    assert data['previous']['version'] == '1.2' and data['last_known_good'] is None
    assert (base / 'releases' / '1.2' / 'release.json').exists()


def test_switch_to_a_release_not_on_disk_is_refused(base):
    with pytest.raises(rm.ManifestError) as err:
        act(base, 'switch', version='9.9')
    assert 'release 9.9 is not on disk' in str(err.value)
    with pytest.raises(rm.ManifestError):
        act(base, 'switch', version='../etc')


def test_settings_errors_name_the_variable_and_the_form():
    good = {
        'upgrade_version': '1.1',
        'upgrade_system': 'hemodialysis',
        'upgrade_reason': 'dry-weight module',
        'upgrade_release_dir': '/srv/releases',
        'upgrade_health_wait': 60,
        'upgrade_health_interval': 2,
        'upgrade_health_fail_after': 5,
        'upgrade_database_rollback': 'auto',
        'upgrade_app_hosts': ['hd-app-01'],
        'upgrade_db_host': 'hd-db-01',
    }
    assert up.settings_errors(good) == []
    errors = up.settings_errors(
        dict(
            good,
            upgrade_version='',
            upgrade_system='shared',
            upgrade_reason='now',
            upgrade_health_wait=-1,
            upgrade_health_fail_after=2.5,
            upgrade_database_rollback='magic',
            upgrade_release_dir='releases',
        )
    )
    text = ' '.join(errors)
    for key in (
        'upgrade_version: required',
        'upgrade_system: expected one of hemodialysis, ckd, pd',
        'upgrade_reason: expected why',
        'upgrade_health_wait: expected a number of seconds >= 0',
        'upgrade_health_fail_after: expected a whole number of consecutive unhealthy answers >= 0',
        "upgrade_database_rollback: expected one of auto, down, restore, got 'magic'",
        'upgrade_release_dir: expected an absolute directory',
    ):
        assert key in text
    # a rollback needs no version (the manifest's previous) and no release directory
    assert up.settings_errors(dict(good, upgrade_version='', upgrade_release_dir=None), 'rollback') == []


def test_checks_of_a_release_in_maintenance_and_open():
    checks = upgrade_checks(
        'http://127.0.0.1:8080/', '1.1', '0002', 'maintenance', smoke=['/treatments/running']
    )
    by = dict((c['name'], c) for c in checks)
    assert by['http']['json'] == {'status': 'maintenance'}
    assert by['version']['json'] == {'version': '1.1', 'database_schema': '0002'}
    assert by['smoke:/treatments/running']['url'] == 'http://127.0.0.1:8080/treatments/running'
    assert dict((c['name'], c) for c in upgrade_checks('http://x', '1.1', '0002'))['http']['json'] == {
        'status': 'ok'
    }


def health(ok=True):
    return {
        'healthy': ok,
        'checks': [
            {'name': 'http', 'ok': ok, 'detail': 'ok' if ok else 'HTTP 503'},
            {'name': 'version', 'ok': True, 'values': {'version': '1.1'}},
        ],
    }


def test_the_upgrade_record_has_what_the_report_reads():
    record, sentence = up.build_upgrade_record(
        'upgrade',
        'hemodialysis',
        'upgraded',
        '1.0',
        '1.1',
        ['hd-app-01', 'hd-app-02'],
        ticket='CHG-1',
        reason='dry-weight module',
        release={'version': '1.1', 'modules_changed': ['dialysis_service.py'], 'notes': 'Dry weight'},
        migration={'schema_before': '0001', 'schema_after': '0002', 'applied': ['0002']},
        backup={'path': '/b/h.dump', 'sha256': 'ab' * 32, 'size_bytes': 10, 'entries': 90, 'verified': True},
        health_after={'hd-app-01': health(), 'hd-app-02': health()},
        collector={'ok': True, 'age_seconds': 3},
        timings={'maintenance_seconds': 12.34},
    )
    assert validate_record(record) == []
    assert record['status'] == 'ok' and record['outcome'] == 'upgraded' and record['ticket'] == 'CHG-1'
    assert record['version_from'] == '1.0' and record['version_to'] == '1.1'
    assert record['modules_changed'] == ['dialysis_service.py'] and record['backup_verified'] is True
    assert record['downtime_seconds'] == 12.3 and record['hosts'] == ['hd-app-01', 'hd-app-02']
    assert sentence == 'Upgraded 1.0 -> 1.1'
    assert record['metrics']['health_after']['hd-app-01']['values'] == {'version': {'version': '1.1'}}


def test_an_automatic_rollback_is_a_warning_and_says_why():
    record, sentence = up.build_upgrade_record(
        'upgrade',
        'hemodialysis',
        'rolled_back_automatically',
        '1.1',
        '1.2',
        ['hd-app-01'],
        migration={
            'schema_before': '0002',
            'schema_after': '0002',
            'applied': ['0003'],
            'undone': ['0003'],
            'method': 'down',
        },
        backup={'path': '/b', 'verified': True},
        health_after={'hd-app-01': health()},
        rollback={'to': '1.1', 'method': 'down', 'trigger': 'hd-app-01: HTTP 503'},
        timings={'rollback_seconds': 20.0},
        failure='hd-app-01 is not healthy on 1.2',
    )
    assert validate_record(record) == []
    assert record['status'] == 'warning' and record['outcome'] == 'rolled_back_automatically'
    items = dict((i['item'], i) for i in record['items'])
    assert items['upgrade:version']['reason'] == 'rolled_back_automatically'
    assert 'undone 0003' in items['upgrade:database']['message']
    assert items['upgrade:rollback']['value'] == '1.1'
    assert 'rolled back automatically to 1.1' in sentence
    assert record['metrics']['check_failures'] == [] and 'health_check_verdict' not in record


def test_the_record_says_why_the_health_check_failed():
    answered = {'host': 'hd-app-01', 'version': '1.2', 'verdict': 'answered_unhealthy', 'answers': 5,
                'answered_rounds': 5, 'rounds': 5, 'waited_seconds': 8.04, 'health_wait': 60, 'fail_after': 5,
                'detail': 'http://127.0.0.1:8080/health: HTTP 503'}
    silent = {'host': 'hd-app-01', 'version': '1.1', 'verdict': 'never_answered', 'answers': 0,
              'answered_rounds': 0, 'rounds': 30, 'waited_seconds': 60.2, 'health_wait': 60, 'fail_after': 5,
              'detail': 'no answer (Connection refused)'}
    record, dummy = up.build_upgrade_record(
        'upgrade', 'hemodialysis', 'rollback_failed', '1.1', '1.2', ['hd-app-01'],
        rollback={'to': '1.1', 'method': 'down', 'trigger': 'hd-app-01 is not healthy on 1.2'},
        timings={'rollback_seconds': 70.0}, check_failures=[answered, silent])
    assert validate_record(record) == []
    assert record['health_check_verdict'] == 'answered_unhealthy'
    verdicts = [c['verdict'] for c in record['metrics']['check_failures']]
    assert verdicts == ['answered_unhealthy', 'never_answered']
    assert record['metrics']['check_failures'][0]['waited_seconds'] == 8.0
    message = dict((i['item'], i) for i in record['items'])['upgrade:rollback']['message']
    assert ('hd-app-01 answered unhealthy 5 times in a row on 1.2: failed after 8.0 s, '
            'not the whole 60 s health wait') in message
    assert up.check_failure_text(record['metrics']['check_failures'][1]) == (
        'hd-app-01 never answered on 1.1 within the 60 s health wait')


def test_a_migration_without_a_checked_backup_is_critical():
    record, dummy = up.build_upgrade_record(
        'upgrade', 'hemodialysis', 'upgraded', '1.0', '1.1', ['h'], migration={'applied': ['0002']}
    )
    assert dict((i['item'], i) for i in record['items'])['upgrade:backup']['status'] == 'critical'
    with pytest.raises(ValueError):
        up.build_upgrade_record('upgrade', 'hemodialysis', 'great', '1.0', '1.1', ['h'])


def test_every_outcome_item_and_reason_of_the_records_has_words_in_the_catalogue():
    from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_i18n import CATALOGUE

    for outcome in up.OUTCOMES:
        assert 'outcome_%s' % outcome in CATALOGUE, outcome
    record, dummy = up.build_upgrade_record(
        'upgrade', 'hemodialysis', 'rollback_failed', '1.1', '1.2', ['hd-app-01'],
        migration={'applied': ['0003']}, backup={'path': '/b', 'verified': False, 'error': 'x'},
        health_after={'hd-app-01': health(False)}, collector={'ok': False, 'age_seconds': 99},
        rollback={'to': '1.1', 'method': 'down', 'trigger': 't'}, recovered={'state': 'migrating'})
    for item in record['items']:
        key = item['item'] if 'item_' + item['item'] in CATALOGUE else item['item'].partition(':')[0]
        assert 'item_' + key in CATALOGUE, item['item']
        if item.get('reason'):
            assert ('reason_%s_%s' % (key, item['reason']) in CATALOGUE
                    or 'reason_%s' % item['reason'] in CATALOGUE), (item['item'], item['reason'])
