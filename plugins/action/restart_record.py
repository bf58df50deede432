# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin ``restart_record``: the ``restart`` record of one host, built on the
controller from the restart role's registered results (see
plugins/plugin_utils/dialysis_restart.py). Documentation: plugins/modules/restart_record.py."""

from __future__ import absolute_import, division, print_function

from ansible.plugins.action import ActionBase

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import SYSTEMS, RecordError
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_restart import build_restart_record

__metaclass__ = type

ARGUMENT_SPEC = dict(
    system=dict(type='str', default='shared', choices=list(SYSTEMS)),
    reason=dict(type='str', required=True),
    services=dict(type='list', elements='str', default=[]),
    reboot=dict(type='bool', default=False),
    before=dict(type='dict', required=True),
    peers=dict(type='list', elements='raw', default=[]),
    action=dict(type='dict'),
    after=dict(type='dict'),
    ticket=dict(type='str'),
)


def action_outcome(result):
    """{failed, msg, elapsed} of the restart task's registered result (a loop of
    ansible.builtin.systemd_service, or one ansible.builtin.reboot); None when it was
    skipped (nothing was done)."""
    if not isinstance(result, dict) or result.get('skipped') and not result.get('results'):
        return None
    parts = result.get('results') if isinstance(result.get('results'), list) else [result]
    done = [r for r in parts if isinstance(r, dict) and not r.get('skipped')]
    if not done:
        return None
    failed = [r for r in done if r.get('failed') or r.get('unreachable')]
    return {'failed': bool(failed),
            'msg': '; '.join('%s: %s' % (r.get('item', r.get('name', '')), r.get('msg') or 'failed')
                             for r in failed) or None,
            'elapsed': result.get('elapsed')}


def peer_states(results):
    """[{host, healthy, msg}] from the registered loop of health checks delegated to the peers."""
    peers = []
    for entry in results or []:
        if not isinstance(entry, dict) or entry.get('skipped'):
            continue
        peers.append({'host': entry.get('item'),
                      'healthy': bool(entry.get('healthy')) and not entry.get('unreachable')
                      and not entry.get('failed'),
                      'msg': entry.get('msg')})
    return peers


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        dummy_validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if not args['reason'].strip():
            return dict(result, failed=True, msg='reason: expected the reason for the restart as text')
        try:
            record, outcome = build_restart_record(
                args['system'], args['reason'], args['services'], args['reboot'], args['before'],
                peers=peer_states(args['peers']), action=action_outcome(args['action']), after=args['after'],
                ticket=args['ticket'])
        except RecordError as exc:
            return dict(result, failed=True, msg='restart_record built an invalid record (bug): %s' % exc)
        return dict(result, changed=False, record=record, outcome=outcome,
                    msg='%s: %s%s' % (outcome, ', '.join(record['targets']),
                                      '' if record['downtime_seconds'] is None
                                      else ' (down %.1f s)' % record['downtime_seconds']))
