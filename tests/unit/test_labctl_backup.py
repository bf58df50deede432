"""The lab's backup sets (labctl.backup_vars): what the backup jobs write, described so that
backup_check and restore_drill accept them."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', '..', 'lab'))

import labctl  # noqa: E402

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_backup import validate_sets  # noqa: E402


def test_every_database_host_describes_its_backup_sets_validly():
    data = labctl.inventory('utlab', 2640, labctl.TOPOLOGY, '/nonexistent/key')['all']
    expected = {'hd-db-01': {'hemodialysis-pg_dump', 'interface_engine-mariadb_dump',
                             'interface_engine-mariabackup'},
                'ckd-db-01': {'ckd-pg_dump'}, 'pd-db-01': {'pd-mariadb_dump', 'pd-mariabackup'}}
    for name, hv in data['hosts'].items():
        sets = hv.get('dialysis_backup_sets')
        if name not in expected:
            assert sets is None, name
            continue
        assert set(s['name'] for s in sets) == expected[name]
        # the RPO is a template (tests shorten it); as the controller sees it after templating
        rendered = [dict(s, rpo_hours=26) for s in sets]
        normalised, errors = validate_sets(rendered)
        assert errors == [], errors
        for spec in normalised:
            assert spec['directory'].startswith('/var/backups/dialysis/')
            assert spec['last_run'].endswith('/last-run.json')
            if spec['format'] != 'mariabackup':
                assert spec['restore']['smoke'], spec['name']     # every dump set is drilled
