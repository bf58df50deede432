# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the upgrade role (roles/upgrade): ``upgrade_errors`` checks its settings
on the controller (plugins/plugin_utils/dialysis_upgrade.py), naming the variable, the
value and the expected form."""

from __future__ import absolute_import, division, print_function

from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_upgrade import settings_errors

__metaclass__ = type


def upgrade_errors(settings, kind='upgrade'):
    """[sentence] for the settings mapping (variable -> value) of an upgrade or rollback run."""
    return settings_errors(dict(settings or {}), kind)


def upgrade_checks(url, version, schema, mode='open', service='dialysis-service.service', smoke=None):
    """The health_check checks of one app host running VERSION on a database at SCHEMA:
    the unit, /health (status ``ok``, or ``maintenance`` while writes are refused), /version
    (the release and the database schema expected) and each smoke path (200)."""
    base = str(url).rstrip('/')
    checks = [
        {'name': 'service', 'unit': service},
        {
            'name': 'http',
            'url': base + '/health',
            'status': [200],
            'json': {'status': 'maintenance' if mode == 'maintenance' else 'ok'},
        },
        {
            'name': 'version',
            'url': base + '/version',
            'status': [200],
            'json': dict({'version': str(version)}, **({'database_schema': str(schema)} if schema else {})),
            'capture': ['version', 'schema', 'database_schema'],
        },
    ]
    for path in smoke or []:
        checks.append({'name': 'smoke:%s' % path, 'url': base + path, 'status': [200]})
    return checks


class FilterModule(object):
    def filters(self):
        return {'upgrade_errors': upgrade_errors, 'upgrade_checks': upgrade_checks}
