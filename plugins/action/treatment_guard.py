# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin ``treatment_guard``: the treatment-hours guard's verdict for
every host of the play (see plugins/plugin_utils/dialysis_guard.py). Runs on
the controller only: no module is sent to any host, so a refusal happens
before any host is touched. Documentation: plugins/modules/treatment_guard.py."""

from __future__ import absolute_import, division, print_function

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_guard import (
    DISRUPTIVE_DUTIES,
    decide,
    message,
    override_record,
    plan,
    summary,
)

__metaclass__ = type

display = Display()

ARGUMENT_SPEC = dict(
    phase=dict(type='str', required=True, choices=['plan', 'decide']),
    duty=dict(type='str', required=True, choices=list(DISRUPTIVE_DUTIES)),
    ticket=dict(type='str', default=''),
    override_reason=dict(type='str', default=''),
    override_operator=dict(type='str', default=''),
    results=dict(type='list', elements='raw', default=[]),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def _hosts(self, task_vars):
        """{host: {system, hours, check}} of every host of the play."""
        hostvars = task_vars.get('hostvars') or {}
        hosts = {}
        for name in task_vars.get('ansible_play_hosts_all') or [task_vars.get('inventory_hostname')]:
            values = hostvars.get(name) or {}
            hosts[name] = dict((key, self._templar.template(values.get(var))) for key, var in (
                ('system', 'dialysis_system'), ('hours', 'dialysis_treatment_hours'),
                ('check', 'dialysis_treatment_check')))
        return hosts

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        task_vars = task_vars or {}
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        inventory_hosts = set((task_vars.get('groups') or {}).get('all') or [])
        guard_plan, errors = plan(self._hosts(task_vars), inventory_hosts, ticket=args['ticket'],
                                  override={'reason': args['override_reason'],
                                            'operator': args['override_operator']})
        if errors:
            return dict(result, failed=True, changed=False,
                        msg='Invalid treatment-guard settings (nothing was changed): ' + '; '.join(errors))
        if args['phase'] == 'plan':
            return dict(result, changed=False, checks=guard_plan['checks'],
                        msg='%d live check(s) to run: %s' % (len(guard_plan['checks']), ', '.join(
                            '%s on %s' % (c['system'], c['check_host']) for c in guard_plan['checks'])
                            or 'none'))
        answers = {}
        for entry in args['results']:
            if isinstance(entry, dict) and isinstance(entry.get('item'), dict):
                answers[entry['item'].get('system')] = entry
        check_mode = bool(self._task.check_mode if self._task.check_mode is not None
                          else self._play_context.check_mode)
        verdict = decide(guard_plan, answers, args['duty'], check_mode=check_mode)
        text = message(verdict)
        result.update(changed=False, dialysis_guard=summary(verdict), msg=text)
        if verdict['decision'] == 'overridden':
            display.warning(text)
            if not check_mode:
                result['record'] = override_record(verdict)
        elif verdict['decision'] == 'refused':
            if check_mode:
                display.warning('Check mode: ' + text)
            else:
                result.update(failed=True, dialysis_run_error=True)
        return result
