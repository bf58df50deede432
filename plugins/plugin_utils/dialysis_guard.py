# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The treatment-hours guard: may disruptive work start now on these hosts?
(controller only; the role ``dialysis.ops.treatment_guard`` and its action
plugin use it, the upgrade's risk assessment asks it about a planned time).

Per clinical system of the hosts a play will touch, two questions:

* the shift calendar (``dialysis_treatment_hours``, plugin_utils/dialysis_shifts):
  is it treatment hours now?
* the live check (``dialysis_treatment_check``): how many treatments are
  running now? A check that cannot answer counts as "treatments may be
  running", never as zero. A system without treatments at the hospital (PD:
  patients treat at home) says so explicitly with ``none: <reason>``; a system
  with no check configured cannot be cleared.

Either answer refuses the work, as does a disruptive run without a change
ticket. An override needs a reason and the operator's name; it is recorded
(a ``guard_override`` record) and shown in the monthly report.

The live check in inventory, one of::

    dialysis_treatment_check:               # the dialysis service's own endpoint
      url: http://127.0.0.1:8080/treatments/running
      key: running                          # JSON key holding the count (default)
      check_host: hd-app-01                 # where it runs (default: the controller)
    dialysis_treatment_check:               # a read-only query
      check_host: hd-db-01
      database: {engine: postgresql, host: 127.0.0.1, database: hemodialysis,
                 user: dialysis_ro, password: "{{ vault_dialysis_ro_password }}"}
      query: "SELECT count(*) FROM treatment_session WHERE status = 'running'"
    dialysis_treatment_check:
      none: PD patients treat at home; no treatment depends on these hosts
"""

from __future__ import absolute_import, division, print_function

import datetime
import re

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_clinical import validate_clinical
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import (
    SYSTEMS,
    make_item,
    make_record,
)
from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_shifts import (
    in_treatment_hours,
    validate_calendar,
)

__metaclass__ = type

# Duties that change systems; each runs the guard first (tests/unit/test_guard_first.py).
DISRUPTIVE_DUTIES = ('restart', 'patch', 'db_maintenance', 'upgrade', 'rollback', 'restore_drill',
                     'dr_drill')
TICKET = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._/:#-]{1,63}$')
CHECK_KEYS = ('url', 'key', 'timeout', 'check_host', 'database', 'query', 'none')
MIN_REASON = 8               # characters: "urgent" is not a reason
REASONS = ('no_ticket', 'in_shift', 'treatments_running', 'check_unavailable', 'check_missing')
OVERRIDE_VARS = ('treatment_guard_override_reason', 'treatment_guard_override_operator')
VARNAME = 'dialysis_treatment_check'


def validate_check(value, varname=VARNAME):
    """``(spec, errors)`` of one system's live check (see the module docstring).
    ``spec``: {kind: url|sql|none|missing, check_host, ...}; a password is
    never quoted in an error."""
    if value is None or value == {}:
        return {'kind': 'missing'}, []
    if not isinstance(value, dict):
        return {'kind': 'missing'}, ['%s: expected a mapping with url, or database and query, or none, got %s'
                                     % (varname, type(value).__name__)]
    errors = ['%s: unknown key %r; expected %s' % (varname, key, ', '.join(CHECK_KEYS))
              for key in sorted(set(value) - set(CHECK_KEYS))]
    forms = [k for k in ('url', 'query', 'none') if value.get(k) not in (None, '')]
    if len(forms) != 1:
        errors.append('%s: expected exactly one of url (the service endpoint), query (with database) '
                      'or none (a reason why no treatment depends on these hosts), got %s'
                      % (varname, ', '.join(forms) or 'none of them'))
        return {'kind': 'missing'}, errors
    check_host = value.get('check_host', 'localhost')
    if not isinstance(check_host, str) or not check_host:
        errors.append('%s.check_host: expected an inventory host name, got %r' % (varname, check_host))
        check_host = 'localhost'
    timeout = value.get('timeout', 10)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 120:
        errors.append('%s.timeout: expected seconds between 1 and 120, got %r' % (varname, timeout))
        timeout = 10
    spec = {'check_host': check_host, 'timeout': timeout}
    if forms == ['none']:
        reason = value['none']
        if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON:
            errors.append('%s.none: expected a sentence saying why no treatment depends on these hosts, '
                          'got %r' % (varname, reason))
        spec.update(kind='none', reason=str(reason))
    elif forms == ['url']:
        url = value['url']
        if not isinstance(url, str) or not re.match(r'^https?://[^\s/]+(/\S*)?$', url):
            errors.append('%s.url: expected an http(s) URL such as '
                          'http://127.0.0.1:8080/treatments/running, got %r' % (varname, url))
        key = value.get('key', 'running')
        if not isinstance(key, str) or not key:
            errors.append('%s.key: expected the JSON key holding the count, got %r' % (varname, key))
        spec.update(kind='url', url=str(url), key=str(key))
    else:
        query = value['query']
        if not isinstance(query, str):
            errors.append('%s.query: expected one read-only SQL statement returning a count' % varname)
        database = value.get('database')
        if not isinstance(database, dict):
            errors.append('%s.database: expected a mapping with engine, host, port, database, user, password'
                          % varname)
        else:
            entry = dict(database, name='treatments')
            dummy, db_errors = validate_clinical({'databases': [entry]}, varname)
            errors.extend(e.replace('%s.databases[0]' % varname, '%s.database' % varname) for e in db_errors)
        spec.update(kind='sql', query=str(query))
    return spec, errors


def plan(hosts, inventory_hosts=(), ticket=None, override=None):
    """Validate what the guard needs for ``hosts`` ({name: {system, hours, check}}).

    Returns ``(plan, errors)``. ``plan``: {systems: {system: {hosts, calendar,
    check}}, checks: [{system, kind, check_host, ...}] (the live checks to run,
    one per system), ticket, override}. Errors name the host or variable and
    the expected form."""
    errors = []
    systems = {}
    for name in sorted(hosts):
        info = hosts[name]
        system = info.get('system') if info.get('system') in SYSTEMS else 'shared'
        calendar, cal_errors = validate_calendar(info.get('hours'), system)
        errors.extend('%s: %s' % (name, e) for e in cal_errors)
        check, check_errors = validate_check(info.get('check'))
        errors.extend('%s: %s' % (name, e) for e in check_errors)
        entry = systems.setdefault(system, {'hosts': [], 'calendars': [], 'check': check, 'check_of': name})
        entry['hosts'].append(name)
        if calendar not in entry['calendars']:
            entry['calendars'].append(calendar)
        if check != entry['check']:
            errors.append("%s: %s differs from %s's, though both are %s hosts: a system has one live "
                          'check (set it in group_vars/%s.yml)'
                          % (name, VARNAME, entry['check_of'], system, system))
    checks = []
    for system in sorted(systems):
        check = systems[system]['check']
        if check['kind'] in ('url', 'sql'):
            where = check['check_host']
            if where not in ('localhost', '127.0.0.1') and where not in inventory_hosts:
                errors.append('%s.check_host of %s: %r is not a host of this inventory'
                              % (VARNAME, system, check['check_host']))
            checks.append(dict(check, system=system, source_host=systems[system]['check_of']))
    if ticket not in (None, '') and (not isinstance(ticket, str) or not TICKET.match(ticket)):
        errors.append('dialysis_change_ticket: expected a change ticket id such as CHG-2026-0142 '
                      '(letters, digits, . _ / : # -), got %r' % (ticket,))
    override = override or {}
    reason, operator = override.get('reason'), override.get('operator')
    if reason not in (None, '') or operator not in (None, ''):
        if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON:
            errors.append('treatment_guard_override_reason: an override needs a reason of at least %d '
                          'characters (why this cannot wait for the end of the treatments), got %r'
                          % (MIN_REASON, reason))
        if not isinstance(operator, str) or not operator.strip():
            errors.append('treatment_guard_override_operator: an override needs the name of the operator '
                          'who takes responsibility for it, got %r' % (operator,))
    return {'systems': systems, 'checks': checks, 'ticket': ticket or None,
            'override': {'reason': reason, 'operator': operator} if reason or operator else None}, errors


def count_of(check_result):
    """``(running, error)`` from one registered result of the treatment_check module."""
    if not isinstance(check_result, dict):
        return None, 'no answer'
    if check_result.get('unreachable'):
        return None, 'check host unreachable: %s' % (check_result.get('msg') or '')[:200]
    if check_result.get('failed'):
        return None, (check_result.get('msg') or 'the check failed')[:300]
    if check_result.get('skipped'):
        return None, 'the check was skipped'
    running = check_result.get('running')
    if isinstance(running, bool) or not isinstance(running, int) or running < 0:
        return None, check_result.get('error') or 'no count in the answer'
    return running, None


def decide(guard_plan, results, duty, now=None, check_mode=False):
    """The verdict of the guard. ``results``: {system: registered treatment_check
    result}. Returns {decision: allowed|refused|overridden, systems: {...},
    hosts, reasons, ...}; ``decision`` is ``refused`` when anything stands in
    the way and no valid override was given."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    verdict = {'duty': duty, 'at': now.strftime('%Y-%m-%dT%H:%M:%SZ'), 'ticket': guard_plan.get('ticket'),
               'check_mode': bool(check_mode), 'systems': {}, 'hosts': [], 'reasons': []}
    if not guard_plan.get('ticket'):
        verdict['reasons'].append('no_ticket')
    for system, entry in sorted(guard_plan['systems'].items()):
        check = entry['check']
        in_shift = any(in_treatment_hours(calendar, now) for calendar in entry['calendars'])
        calendar = entry['calendars'][0]
        out = {'hosts': list(entry['hosts']), 'in_shift': in_shift, 'check': check['kind'],
               'timezone': calendar['timezone'], 'days': calendar['days'], 'hours': calendar['hours'],
               'running': None, 'check_error': None, 'reasons': []}
        if check['kind'] == 'url':
            out['check_source'] = '%s on %s' % (check['url'], check['check_host'])
        elif check['kind'] == 'sql':
            out['check_source'] = 'query on %s' % check['check_host']
        elif check['kind'] == 'none':
            out['check_source'] = check['reason']
        if in_shift:
            out['reasons'].append('in_shift')
        if check['kind'] == 'none':
            out['running'] = 0
        elif check['kind'] == 'missing':
            out['reasons'].append('check_missing')
        else:
            running, error = count_of(results.get(system))
            out['running'], out['check_error'] = running, error
            if running is None:
                out['reasons'].append('check_unavailable')
            elif running > 0:
                out['reasons'].append('treatments_running')
        verdict['systems'][system] = out
        verdict['hosts'].extend(entry['hosts'])
        verdict['reasons'].extend(r for r in out['reasons'] if r not in verdict['reasons'])
    verdict['hosts'].sort()
    override = guard_plan.get('override')
    if not verdict['reasons']:
        verdict['decision'] = 'allowed'
    elif override and 'no_ticket' not in verdict['reasons']:
        verdict['decision'] = 'overridden'
        verdict['override'] = dict(override)
    else:
        verdict['decision'] = 'refused'
    return verdict


def _system_sentence(system, out):
    parts = []
    if 'in_shift' in out['reasons']:
        parts.append('inside treatment hours (%s %s, %s)' % (
            ','.join(out['days']), ' '.join(out['hours']), out['timezone']))
    if 'treatments_running' in out['reasons']:
        parts.append('%d treatment(s) running now (%s)' % (out['running'], out.get('check_source')))
    if 'check_unavailable' in out['reasons']:
        parts.append('the treatments-running check did not answer (%s: %s), so treatments may be running'
                     % (out.get('check_source'), out.get('check_error')))
    if 'check_missing' in out['reasons']:
        parts.append('no treatments-running check is configured (%s in group_vars/%s.yml), so '
                     'treatments may be running' % (VARNAME, system))
    return '%s (%s): %s' % (system, ', '.join(out['hosts']), '; '.join(parts))


def message(verdict):
    """One paragraph for the engineer: the decision, why, and how to override."""
    duty = verdict['duty']
    blocked = [_system_sentence(s, o) for s, o in sorted(verdict['systems'].items()) if o['reasons']]
    if verdict['decision'] == 'allowed':
        return ('Treatment-hours guard: %s may go ahead on %s (ticket %s): outside treatment hours and no '
                'treatment running.' % (duty, ', '.join(verdict['hosts']), verdict['ticket']))
    if verdict['decision'] == 'overridden':
        return ('Treatment-hours guard OVERRIDDEN for %s by %s (ticket %s, reason: %s); recorded for the '
                'monthly report. It would have refused: %s.' % (
                    duty, verdict['override']['operator'], verdict['ticket'], verdict['override']['reason'],
                    ' | '.join(blocked)))
    text = 'Treatment-hours guard refused %s; nothing was changed.' % duty
    if 'no_ticket' in verdict['reasons']:
        text += (' No change ticket: every disruptive run names one '
                 '(-e dialysis_change_ticket=CHG-...).')
    if blocked:
        text += ' ' + ' | '.join(blocked) + '.'
        text += (" To go ahead anyway (recorded for the monthly report): -e treatment_guard_override_reason="
                 "'<why this cannot wait>' -e treatment_guard_override_operator='<your name>'.")
    return text


def override_record(verdict):
    """The ``guard_override`` record of an overridden verdict (one item per
    system the guard would have refused)."""
    items = []
    for system, out in sorted(verdict['systems'].items()):
        if not out['reasons']:
            continue
        items.append(make_item(
            'guard:%s' % system, out['running'], 'warning',
            'Treatment-hours guard overridden for %s on %s: %s' % (
                verdict['duty'], ', '.join(out['hosts']), ', '.join(out['reasons'])),
            reason=out['reasons'][0], hosts=list(out['hosts']), reasons=list(out['reasons']),
            in_shift=out['in_shift']))
    systems = sorted(s for s, o in verdict['systems'].items() if o['reasons'])
    return make_record('guard_override', systems[0] if len(systems) == 1 else 'shared', items,
                       duty=verdict['duty'], ticket=verdict['ticket'],
                       override_reason=verdict['override']['reason'],
                       operator=verdict['override']['operator'])


def summary(verdict):
    """What the record store keeps of a verdict (counts and codes, no credential)."""
    keep = ('duty', 'at', 'ticket', 'check_mode', 'decision', 'hosts', 'reasons', 'override')
    out = dict((k, verdict[k]) for k in keep if k in verdict)
    fields = ('hosts', 'in_shift', 'running', 'check', 'check_error', 'reasons', 'check_source')
    out['systems'] = dict((s, dict((k, o.get(k)) for k in fields)) for s, o in verdict['systems'].items())
    return out
