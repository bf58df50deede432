# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin ``upgrade_risk``: the risk assessment of an upgrade (升级风险评估) and,
with ``gate``, the stop it puts on the upgrade. Runs on the controller only: it reads
the release tarball, the hospital's record store (restore drills, upgrades on the test
environment) and the treatment-hours guard's calendar; what the hosts said was read
before, read-only, by roles/upgrade/tasks/risk.yml. Builds the ``upgrade_risk`` record
(plugins/plugin_utils/dialysis_upgrade_risk.py). Documentation:
plugins/modules/upgrade_risk.py."""

from __future__ import absolute_import, division, print_function

import datetime
import fnmatch
import json
import os
import tarfile

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import RecordError
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_runs import current_run
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_store import RecordStore
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_upgrade_risk import (
    RiskError,
    assess,
    backup_set,
    gate,
    newest_backup,
    override_errors,
    planned_guard,
)

__metaclass__ = type

display = Display()

ARGUMENT_SPEC = dict(
    system=dict(type='str', required=True),
    version=dict(type='str', required=True),
    apps=dict(type='list', elements='str', required=True),
    db_host=dict(type='str', default=''),
    database=dict(type='str', default=''),
    tarball=dict(type='path', required=True),
    manifests=dict(type='list', elements='raw', default=[]),
    status=dict(type='raw'),
    health=dict(type='list', elements='raw', default=[]),
    collector=dict(type='raw'),
    app_space=dict(type='list', elements='raw', default=[]),
    db_space=dict(type='raw'),
    backup_sets=dict(type='list', elements='raw', default=[]),
    backup_found=dict(type='list', elements='raw', default=[]),
    planned_at=dict(type='str', default=''),
    drill_max_age_days=dict(type='float', default=31),
    test_hosts=dict(type='list', elements='str', default=[]),
    database_rollback=dict(type='str', default='auto'),
    health_wait=dict(type='int', default=60),
    health_fail_after=dict(type='int', default=0),
    ticket=dict(type='str', default=''),
    reason=dict(type='str', default=''),
    guard=dict(type='raw'),
    gate=dict(type='bool', default=False),
    override_reason=dict(type='str', default=''),
    override_operator=dict(type='str', default=''),
)


def read_tarball(path):
    """(release.json, [migration versions with a down file]) of a release tarball; (None, [])
    when there is none."""
    if not path or not os.path.isfile(path):
        return None, []
    release, down = None, []
    with tarfile.open(path, 'r:gz') as tar:
        for member in tar.getmembers():
            parts = member.name.split('/')
            if len(parts) == 2 and parts[1] == 'release.json' and member.isfile():
                release = json.loads(tar.extractfile(member).read().decode('utf-8'))
            elif len(parts) == 3 and parts[1] == 'migrations' and fnmatch.fnmatch(parts[2], '*.down.sql'):
                down.append(parts[2].split('_', 1)[0])
    return release, sorted(down)


def _json(value):
    if isinstance(value, dict):
        return value
    try:
        return json.loads(value) if value else {}
    except (TypeError, ValueError):
        return {}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def _guard_hosts(self, task_vars, names):
        hostvars = task_vars.get('hostvars') or {}
        hosts = {}
        for name in names:
            values = hostvars.get(name) or {}
            hosts[name] = dict(
                (key, self._templar.template(values.get(var)))
                for key, var in (
                    ('system', 'dialysis_system'),
                    ('hours', 'dialysis_treatment_hours'),
                    ('check', 'dialysis_treatment_check'),
                )
            )
        return hosts

    def _planned_guard(self, task_vars, args, hosts, now):
        """The guard's verdict at the planned time, from its calendar (planned_guard)."""
        inventory_hosts = set((task_vars.get('groups') or {}).get('all') or [])
        return planned_guard(self._guard_hosts(task_vars, hosts), inventory_hosts, args['system'],
                             args['ticket'], args['planned_at'], now)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        errors = override_errors(args['override_reason'], args['override_operator'])
        if args['database_rollback'] not in ('auto', 'down', 'restore'):
            errors.append(
                'upgrade_database_rollback: expected one of auto, down, restore, got %r'
                % args['database_rollback']
            )
        if args['drill_max_age_days'] <= 0:
            errors.append(
                'upgrade_risk_drill_max_age_days: expected a number of days > 0, got %r'
                % args['drill_max_age_days']
            )
        if errors:
            return dict(
                result,
                failed=True,
                msg='Invalid risk assessment settings (nothing was changed): ' + '; '.join(errors),
            )
        now = datetime.datetime.now(datetime.timezone.utc)
        try:
            if isinstance(args['guard'], dict) and args['guard'].get('decision'):
                guard = dict(args['guard'], planned=None)
                planned = now
            else:
                hosts = list(args['apps']) + ([args['db_host']] if args['db_host'] else [])
                planned, guard = self._planned_guard(task_vars, args, hosts, now)
            release, down = read_tarball(args['tarball'])
        except (RiskError, OSError, ValueError, tarfile.TarError) as exc:
            return dict(result, failed=True, msg='Risk assessment: %s' % exc)
        manifests = [m for m in args['manifests'] if isinstance(m, dict)]
        on_disk = (manifests[0].get('releases') or {}) if manifests else {}
        known = release is not None or args['version'] in on_disk
        if release is None:
            release = on_disk.get(args['version']) or {}
        operation = next(
            (
                m['manifest']['operation']
                for m in manifests
                if isinstance(m.get('manifest'), dict) and m['manifest'].get('operation')
            ),
            None,
        )
        status = _json(args['status'])
        running = [m.get('current_version') for m in manifests]
        v_from = (
            (operation or {}).get('from')
            if operation and operation.get('kind') == 'upgrade'
            else (running[0] if running else None)
        )
        bset = backup_set(args['backup_sets'], args['database'])
        found = next(
            (
                f
                for f in args['backup_found']
                if isinstance(f, dict) and (f.get('item') or {}).get('name') == (bset or {}).get('name')
            ),
            None,
        )
        run = current_run()
        drills, tests = [], []
        if run and run.get('records_dir'):
            store = RecordStore(run['records_dir'])
            since = now - datetime.timedelta(days=400)
            for record in store.records(since, now + datetime.timedelta(days=1)):
                if record['context'].get('check_mode'):
                    continue
                if (
                    record.get('kind') == 'restore_drill'
                    and bset
                    and record.get('set') == bset.get('name')
                    and record['context'].get('host') in (args['db_host'], None)
                ):
                    drills.append(record)
                elif record.get('kind') == 'upgrade' and record.get('system') == args['system']:
                    tests.append(record)
        facts = {
            'system': args['system'],
            'version_from': v_from,
            'version_to': args['version'],
            'running': running,
            'operation': operation,
            'apps': args['apps'],
            'db_host': args['db_host'],
            'database': args['database'],
            'release': release,
            'release_known': known,
            'down': down,
            'applied': [m.get('version') for m in status.get('applied') or [] if isinstance(m, dict)],
            'schema_now': status.get('schema'),
            'tarball_size': os.path.getsize(args['tarball']) if os.path.isfile(args['tarball']) else None,
            'app_free': dict(
                (r.get('item'), int(r['stdout_lines'][-1]))
                for r in args['app_space']
                if isinstance(r, dict)
                and r.get('stdout_lines')
                and str(r['stdout_lines'][-1]).strip().isdigit()
            ),
            'db_space': _json((args['db_space'] or {}).get('stdout'))
            if isinstance(args['db_space'], dict)
            else None,
            'health': dict((r.get('item'), r) for r in args['health'] if isinstance(r, dict)),
            'collector': args['collector'] if isinstance(args['collector'], dict) else None,
            'backup_set': bset,
            'backup': newest_backup(found),
            'backup_error': (found or {}).get('msg') if (found or {}).get('failed') else None,
            'drills': drills,
            'drill_max_age_days': args['drill_max_age_days'],
            'guard': guard,
            'test': {'hosts': args['test_hosts'], 'records': tests},
            'database_rollback': args['database_rollback'],
            'health_wait': args['health_wait'],
            'health_fail_after': args['health_fail_after'],
            'planned_at': planned,
            'ticket': args['ticket'],
            'reason': args['reason'],
        }
        try:
            record, text = assess(facts, now=now)
        except RecordError as exc:
            return dict(result, failed=True, msg='upgrade_risk built an invalid record (bug): %s' % exc)
        check_mode = bool(
            self._task.check_mode if self._task.check_mode is not None else self._play_context.check_mode
        )
        refused = False
        if args['gate'] and any(i.get('reason') == 'nothing_to_do' for i in record['items']):
            # The upgrade will change nothing (and writes no record): neither does its assessment.
            return dict(
                result,
                changed=False,
                verdict=record['verdict'],
                gate='passed',
                blockers=[],
                conditions=[],
                msg='%s runs %s already with nothing to migrate: nothing to assess'
                % (args['system'], args['version']),
            )
        if args['gate']:
            record, refused = gate(record, args['override_reason'], args['override_operator'])
        result.update(
            changed=False,
            record=record,
            verdict=record['verdict'],
            gate=record['gate'],
            blockers=record['blockers'],
            conditions=record['conditions'],
            msg=text,
        )
        if record['gate'] == 'overridden':
            result['msg'] = 'RISK ASSESSMENT "NO GO" OVERRIDDEN by %s (reason: %s); recorded. %s' % (
                record['operator'],
                record['override_reason'],
                text,
            )
            display.warning(result['msg'])
        elif refused:
            result['msg'] = (
                'The upgrade is refused by its risk assessment; nothing was changed. %s. To go ahead '
                "anyway (recorded): -e upgrade_risk_override_reason='<why this cannot wait>' "
                "-e upgrade_risk_override_operator='<your name>'." % text
            )
            if check_mode:
                display.warning('Check mode: ' + result['msg'])
            else:
                result.update(failed=True, dialysis_run_error=True)
        return result
