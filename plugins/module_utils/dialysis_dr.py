# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The disaster-recovery drill's record (contract clause R7; roles/dr_drill).

The role times each step of the recovery on the controller - verify the newest backup on
its source host, transfer it to the standby, restore it there, start the service, run
its health check - and hands the steps to the ``dr_drill`` module, which builds the one
``dr_drill`` record here:

* an item per step (``dr:verify`` ... ``dr:health``) with its duration in seconds and its
  outcome; a step that never ran is ``skipped`` with reason ``not_done``, never ``ok``;
* ``dr:recovery``: the measured recovery time (first step's start to the health check's
  end), only when every step succeeded, against the RTO target (critical beyond it);
* ``dr:cleanup``: what the drill started on the standby stopped again (or left running
  when asked: a real recovery);
* the record's ``outcome``: ``ok`` only when every step ran and succeeded within the RTO
  target; ``failed`` when a step failed, the target was missed or the cleanup failed; ``not_done`` when no
  step ran (check mode, a refused setting) - a drill that did not finish is never a success.

Runs on the hosts too: standard library only, Python 3.8 and later.
"""

from __future__ import absolute_import, division, print_function

import datetime

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import (
    make_item,
    make_record,
)

__metaclass__ = type

# The recovery, in order; each is timed. Cleanup follows and is not part of the recovery time.
DR_STEPS = ('verify', 'transfer', 'restore', 'start', 'health')
STEP_OUTCOMES = ('ok', 'failed', 'not_done')
OUTCOMES = ('ok', 'failed', 'not_done')


def _iso(epoch):
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(float(epoch), datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def validate_steps(steps):
    """Sentences naming what is wrong with the steps the role passes ([] when valid)."""
    errors = []
    if not isinstance(steps, list):
        return ['steps: expected a list of {step, started, ended, outcome}, got %s' % type(steps).__name__]
    seen = set()
    for number, step in enumerate(steps):
        where = 'steps[%d]' % number
        if not isinstance(step, dict):
            errors.append('%s: expected a mapping, got %r' % (where, step))
            continue
        name = step.get('step')
        if name not in DR_STEPS + ('cleanup',):
            errors.append('%s.step: expected one of %s, got %r'
                          % (where, ', '.join(DR_STEPS + ('cleanup',)), name))
        elif name in seen:
            errors.append('%s.step: %s is given twice' % (where, name))
        seen.add(name)
        if step.get('outcome') not in STEP_OUTCOMES:
            errors.append('%s.outcome: expected one of %s, got %r'
                          % (where, ', '.join(STEP_OUTCOMES), step.get('outcome')))
        for key in ('started', 'ended'):
            value = step.get(key)
            if value is not None:
                try:
                    float(value)
                except (TypeError, ValueError):
                    errors.append('%s.%s: expected seconds since the epoch, got %r' % (where, key, value))
    return errors


def dr_record(params):
    """The dr_drill record. params: system, steps [{step, started, ended, outcome, detail,
    reason}], rto_minutes, standby, source_host, backup_set, backup, database, service,
    left_running, ticket, check_mode."""
    steps = dict((s['step'], s) for s in params.get('steps') or [])
    target_s = round(float(params.get('rto_minutes') or 60) * 60.0, 1)
    facts = dict((k, params.get(k)) for k in ('standby', 'source_host', 'backup_set', 'backup', 'database',
                                              'service'))
    items = []
    failed_step = None
    for name in DR_STEPS:
        step = steps.get(name)
        if step is None or step['outcome'] == 'not_done':
            items.append(make_item('dr:' + name, None, 'skipped',
                                   (step or {}).get('detail') or 'Step %s was not done' % name,
                                   reason='not_done'))
            continue
        started, ended = step.get('started'), step.get('ended')
        seconds = None
        if started is not None and ended is not None:
            seconds = round(float(ended) - float(started), 1)
        ok = step['outcome'] == 'ok'
        if not ok and failed_step is None:
            failed_step = name
        items.append(make_item('dr:' + name, seconds, 'ok' if ok else 'critical',
                               step.get('detail') or ('Step %s %s' % (name, 'succeeded' if ok else 'failed')),
                               unit='s', reason=None if ok else (step.get('reason') or 'step_failed'),
                               started=_iso(started), ended=_iso(ended)))
    ran = [n for n in DR_STEPS if n in steps and steps[n]['outcome'] != 'not_done']
    complete = all(n in steps and steps[n]['outcome'] == 'ok' for n in DR_STEPS)
    recovery = None
    if complete:
        recovery = round(float(steps['health']['ended']) - float(steps[DR_STEPS[0]]['started']), 1)
        missed = recovery > target_s
        items.append(make_item('dr:recovery', recovery, 'critical' if missed else 'ok',
                               'The service answered its health check on %s %g s after the recovery '
                               'began; RTO target %g s' % (params.get('standby'), recovery, target_s),
                               unit='s', threshold={'critical': target_s},
                               reason='rto_missed' if missed else None))
    else:
        items.append(make_item('dr:recovery', None, 'critical' if ran else 'skipped',
                               'No recovery time: the recovery did not reach a healthy service',
                               unit='s', threshold={'critical': target_s},
                               reason='not_recovered' if ran else 'not_done'))
    cleanup = steps.get('cleanup')
    if params.get('left_running') and complete:
        items.append(make_item('dr:cleanup', None, 'skipped', 'The service was left running on the standby',
                               reason='left_running'))
    elif cleanup is not None and cleanup['outcome'] != 'not_done':
        ok = cleanup['outcome'] == 'ok'
        items.append(make_item('dr:cleanup', None, 'ok' if ok else 'critical',
                               cleanup.get('detail')
                               or 'Cleanup of the standby %s' % ('done' if ok else 'failed'),
                               reason=None if ok else 'cleanup_failed',
                               started=_iso(cleanup.get('started')), ended=_iso(cleanup.get('ended'))))
    if params.get('check_mode'):
        outcome, reason = 'not_done', 'check_mode'
    elif not ran:
        outcome, reason = 'not_done', 'not_started'
    elif failed_step is not None or not complete:
        outcome, reason = 'failed', 'step_failed:%s' % (failed_step or 'not_done')
    elif recovery > target_s:
        outcome, reason = 'failed', 'rto_missed'
    elif cleanup is not None and cleanup['outcome'] == 'failed':
        # The standby was left in an unknown state: a drill that did not finish cleanly.
        outcome, reason = 'failed', 'cleanup_failed'
    else:
        outcome, reason = 'ok', None
    metrics = {'recovery_seconds': recovery, 'rto_target_seconds': target_s}
    for name in DR_STEPS:
        item = [i for i in items if i['item'] == 'dr:' + name][0]
        metrics['%s_seconds' % name] = item['value']
    extra = dict((k, v) for k, v in facts.items() if v)
    return make_record('dr_drill', params.get('system') or 'shared', items, metrics, outcome=outcome,
                       reason=reason, recovery_seconds=recovery, rto_target_seconds=target_s,
                       left_running=bool(params.get('left_running')) or None,
                       ticket=params.get('ticket') or None, check_mode=params.get('check_mode') or None,
                       **extra)
