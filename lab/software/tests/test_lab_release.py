"""build_release determinism and contents; releases.json against the migrations and the service."""

import gzip
import io
import json
import re
import tarfile

import pytest


def members(path):
    with tarfile.open(path) as tar:
        return {m.name: (m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()}


def test_same_sources_same_bytes(build_release, tmp_path):
    for version in ('1.0', '1.1', '1.2'):
        first, digest1, _ = build_release.build(version, tmp_path / 'a')
        second, digest2, _ = build_release.build(version, tmp_path / 'b')
        assert first.read_bytes() == second.read_bytes() and digest1 == digest2
        assert first.name == f'dialysis-service-{version}.tar.gz'


def test_gzip_header_has_no_time_and_no_name(build_release, tmp_path):
    target, _, _ = build_release.build('1.0', tmp_path)
    raw = target.read_bytes()
    assert raw[:2] == b'\x1f\x8b'
    assert raw[4:8] == b'\x00\x00\x00\x00'  # MTIME
    assert not raw[3] & 0x08  # no FNAME
    with gzip.open(io.BytesIO(raw)) as gz:
        assert gz.read(1)


def test_tarball_contents(build_release, tmp_path):
    target, _, _ = build_release.build('1.1', tmp_path)
    found = members(target)
    top = 'dialysis-service-1.1'
    assert set(found) == {
        top,
        f'{top}/dialysis_service.py',
        f'{top}/migrate.py',
        f'{top}/release.json',
        f'{top}/migrations',
        f'{top}/migrations/0001_hemodialysis_schema.sql',
        f'{top}/migrations/0002_dry_weight_assessment.sql',
        f'{top}/migrations/0002_dry_weight_assessment.down.sql',
    }
    assert list(found) == sorted(found)
    for member, _ in found.values():
        assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, 'root', 'root')
        assert member.mtime == found[top][0].mtime
    assert found[f'{top}/dialysis_service.py'][0].mode == 0o755
    info = json.loads(found[f'{top}/release.json'][1])
    assert info['version'] == '1.1' and info['schema'] == '0002' and info['previous'] == '1.0'
    assert info['migrations'] == ['0001', '0002'] and info['migrations_added'] == ['0002']
    assert info['schema_by_release'] == {'1.0': '0001', '1.1': '0002'}
    assert info['notes'] and info['modules_changed']


def test_release_10_has_no_later_migration(build_release, tmp_path):
    target, _, _ = build_release.build('1.0', tmp_path)
    assert [n for n in members(target) if '/migrations/' in n] == [
        'dialysis-service-1.0/migrations/0001_hemodialysis_schema.sql'
    ]


def test_unknown_version_is_refused(build_release, migrate, tmp_path):
    with pytest.raises(migrate.MigrationError, match='unknown release 9.9'):
        build_release.build('9.9', tmp_path)
    assert not list(tmp_path.iterdir())


def releases(software):
    return json.loads((software / 'service/releases.json').read_text())['releases']


def test_every_migration_belongs_to_one_release_in_order(software, migrate):
    listed = [m for r in releases(software) for m in r['migrations']]
    files = [m['version'] for m in migrate.discover(software / 'service/migrations')]
    assert listed == files == sorted(files)
    versions = [tuple(map(int, r['version'].split('.'))) for r in releases(software)]
    assert versions == sorted(versions)


def test_modules_changed_name_files_of_the_tree(software):
    for release in releases(software):
        for path in release['modules_changed']:
            assert (software / 'service' / path).exists(), (release['version'], path)


def test_later_migrations_have_down_files(software, migrate):
    by_version = {m['version']: m for m in migrate.discover(software / 'service/migrations')}
    assert by_version['0001']['down'] is None
    assert by_version['0002']['down'] and by_version['0003']['down']


def test_every_feature_has_a_readiness_query(software, service):
    for release in releases(software):
        assert release['features'][0] == 'core'
        assert set(release['features']) <= set(service.READINESS)


def test_release_12_health_query_misses_the_column_0003_adds(software, service):
    """1.2 is the release an upgrade must roll back: it queries a column 0003 spells differently."""
    added = set(
        re.findall(
            r'ADD COLUMN (\w+)', (software / 'service/migrations/0003_dialysate_prescription.sql').read_text()
        )
    )
    queried = set(re.findall(r'ts\.(dialysate_\w+)', service.READINESS['dialysate_prescription']))
    assert added == {'dialysate_k_mmol_l', 'dialysate_ca_mmol_l'}
    assert queried - added == {'dialysate_potassium_mmol_l'}
    # 1.0 and 1.1 query only what their migrations create.
    schema = (software / 'service/migrations/0002_dry_weight_assessment.sql').read_text()
    assert 'dry_weight_assessment' in schema and 'dry_weight_assessment' in service.READINESS['dry_weight']


def test_migration_plans(migrate):
    known = [
        {'version': v, 'name': f'm{v}', 'checksum': v, 'down': None if v == '0001' else 'x'}
        for v in ('0001', '0002', '0003')
    ]
    applied = [{'version': '0001', 'checksum': '0001'}, {'version': '0004', 'checksum': 'z'}]
    assert migrate.plan(known, applied) == (['0002', '0003'], ['0004'], [])
    assert migrate.down_plan(known, ['0001', '0002', '0003'], '0001') == ['0003', '0002']
    with pytest.raises(migrate.MigrationError, match='0001 .* has no down'):
        migrate.down_plan(known, ['0001', '0002'], '0000')
    with pytest.raises(migrate.MigrationError, match='unknown to this release'):
        migrate.down_plan(known, ['0001', '0004'], '0001')
    release = {'schema_by_release': {'1.0': '0001', '1.1': '0002'}}
    assert migrate.resolve_target('1.1', release) == '0002'
    assert migrate.resolve_target('0001', release) == '0001'
    with pytest.raises(migrate.MigrationError):
        migrate.resolve_target('2.0', release)
