#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: health_check
short_description: Check a host's services in one call, waiting until every check passes
description:
  - Runs a list of read-only checks on the host - a systemd unit is active, an HTTP endpoint
    answers with the expected status (and JSON keys), a TCP port accepts a connection, a process
    runs - and repeats them every O(interval) seconds until all pass or O(wait) seconds have gone.
  - For every unit checked it returns when the unit last became active, from systemd itself
    (C(ActiveEnterTimestampMonotonic)), and when it last left the active state
    (C(ActiveExitTimestampMonotonic)), so a rolling restart can be proven one host at a time and
    its downtime measured from the service manager's own clock.
  - Used before and after disruptive work (restarts, patches, upgrades) - one call per host.
  - Never changes anything on the host. HTTP requests are GET only and go straight to the URL
    (no proxy unless O(checks[].use_proxy)); a TCP check connects and closes.
version_added: "1.2.0"
author:
  - dialysis-ops contributors (@dialysis-ops)
options:
  checks:
    description:
      - The checks, each with a O(checks[].name) and exactly one of O(checks[].unit),
        O(checks[].url), O(checks[].port) or O(checks[].process).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Short name of the check, repeated in its result.
        type: str
        required: true
      unit:
        description: A systemd unit that must be active (C(ActiveState=active)).
        type: str
      url:
        description: An C(http) or C(https) URL fetched with GET from the host.
        type: str
      status:
        description: HTTP status code(s) that pass (default 200).
        type: list
        elements: int
      json:
        description:
          - Top-level keys of the JSON object the URL must return, with their expected values
            (compared as text, so C(version 1.0) matches C("1.0")).
        type: dict
      capture:
        description:
          - Top-level keys of the JSON response to return in the check's C(values) (for example the
            version the service reports). Only these keys leave the host.
        type: list
        elements: str
      validate_certs:
        description: Verify the TLS certificate of an C(https) URL.
        type: bool
        default: true
      use_proxy:
        description: Use the proxy of the environment (C(http_proxy)); health checks normally go direct.
        type: bool
        default: false
      port:
        description: A TCP port that must accept a connection.
        type: int
      host:
        description: Address for O(checks[].port) (default 127.0.0.1).
        type: str
      process:
        description:
          - A process that must be running, by name - the program name (C(comm)) or the base name of
            any word of its command line (C(dialysis_service.py) matches
            C(python3 /opt/.../dialysis_service.py)). Command lines are never returned.
        type: str
      timeout:
        description: Seconds one attempt of this check may take (HTTP and TCP; default 5).
        type: float
  wait:
    description: Seconds to keep trying until every check passes; 0 checks once.
    type: int
    default: 0
  interval:
    description: Seconds between two rounds of checks while waiting.
    type: float
    default: 2
  fail_after:
    description:
      - Stop waiting after this many consecutive rounds in which the service B(answered) over HTTP
        (any O(checks[].url) check got a status) and still failed a check - a service that is up
        and says it is unhealthy (HTTP 503, another version, a failing smoke path) is declared
        failed at once instead of after the whole O(wait).
      - A round without any HTTP answer (connection refused or timeout - not listening yet) does not
        count and breaks the run of answers, so a slow-starting service keeps the whole O(wait); a
        healthy round ends the wait as usual, so a service that answers unhealthy while it warms up
        passes when it turns healthy before the count is reached.
      - 0 never stops early (wait the whole O(wait)). Ignored when no check is a O(checks[].url).
    type: int
    default: 0
  fail_on_unhealthy:
    description: Fail the task when a check still fails at the end (otherwise only RV(healthy) is false).
    type: bool
    default: false
attributes:
  check_mode:
    description: Can run in check_mode and return the same result as without it.
    support: full
    details: Read-only; the checks run in check mode too.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode),
      when in diff mode.
    support: none
notes:
  - Read-only; C(changed) is always false.
  - Unit times are returned on the host's clocks - C(started_monotonic) and C(stopped_monotonic) in
    microseconds of C(CLOCK_MONOTONIC) (comparable between containers of one kernel, and with
    RV(monotonic)), C(started) and C(started_epoch) converted to wall-clock time.
'''

EXAMPLES = r'''
- name: Wait until the dialysis service is back
  dialysis.ops.health_check:
    checks:
      - {name: service, unit: dialysis-service.service}
      - {name: http, url: "http://127.0.0.1:8080/health", status: [200], json: {status: ok}}
      - {name: version, url: "http://127.0.0.1:8080/version", capture: [version, schema]}
      - {name: port, port: 8080}
      - {name: process, process: dialysis_service.py}
    wait: 60
    interval: 2
  register: health

- name: Stop when it did not come back
  ansible.builtin.assert:
    that: health.healthy
    fail_msg: "{{ health.checks | rejectattr('ok') | map(attribute='detail') | join('; ') }}"
'''

RETURN = r'''
healthy:
  description: Whether every check passed (in the last round).
  returned: always
  type: bool
checks:
  description: One entry per check, in the order given, from the last round.
  returned: always
  type: list
  elements: dict
  sample:
    - {name: service, kind: unit, ok: true, detail: dialysis-service.service is active, elapsed: 0.012}
    - {name: http, kind: http, ok: false, detail: "http://127.0.0.1:8080/health: HTTP 503", status: 503,
       elapsed: 0.031}
    - {name: version, kind: http, ok: true, detail: "http://127.0.0.1:8080/version: HTTP 200", status: 200,
       values: {version: "1.0", schema: "0001"}, elapsed: 0.02}
waited:
  description: Seconds from the first round to the end of the last one.
  returned: always
  type: float
rounds:
  description: How many rounds of checks ran.
  returned: always
  type: int
checked_at:
  description: When the last round ended (seconds since the epoch, host clock).
  returned: always
  type: float
monotonic:
  description: When the last round ended, in microseconds of the host's CLOCK_MONOTONIC.
  returned: always
  type: int
units:
  description:
    - Per unit checked - C(active) (bool), C(state) (ActiveState), C(started) (ISO 8601 UTC, when it
      last became active), C(started_epoch), C(started_monotonic) (microseconds, systemd's
      ActiveEnterTimestampMonotonic), C(stopped_monotonic) (ActiveExitTimestampMonotonic, when it
      last began to stop), C(pid) (MainPID, null when none). Times are null when the unit never was
      active.
  returned: always
  type: dict
  sample:
    dialysis-service.service:
      active: true
      state: active
      started: "2026-12-02T08:31:05.112233Z"
      started_epoch: 1796200265.112233
      started_monotonic: 5123456789
      stopped_monotonic: 5120001234
      pid: 4242
verdict:
  description:
    - Why the wait ended - C(healthy); C(answered_unhealthy) (stopped early after O(fail_after)
      consecutive answers, all unhealthy); C(never_answered) (the whole O(wait) without an HTTP
      answer); C(unhealthy) (the whole
      O(wait) gone, the service answered at times but never passed).
  returned: always
  type: str
  sample: answered_unhealthy
answered_rounds:
  description: How many rounds got at least one HTTP answer.
  returned: always
  type: int
unhealthy_answers:
  description: The consecutive answered-but-unhealthy rounds at the end (the count O(fail_after) compares).
  returned: always
  type: int
msg:
  description: What failed in the last round, when something did.
  returned: when not healthy
  type: str
'''

import datetime
import json
import os
import socket
import time
from urllib.error import HTTPError, URLError

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

KINDS = ('unit', 'url', 'port', 'process')
KIND_NAMES = {'unit': 'unit', 'url': 'http', 'port': 'port', 'process': 'process'}
UNIT_PROPERTIES = ('LoadState', 'ActiveState', 'SubState', 'ActiveEnterTimestamp',
                   'ActiveEnterTimestampMonotonic', 'ActiveExitTimestampMonotonic', 'MainPID')
DEFAULT_TIMEOUT = 5.0
MAX_CAPTURE_TEXT = 200


def validate_checks(checks):
    """Sentences naming what is wrong with the checks ([] when they are valid)."""
    errors = []
    if not checks:
        return ['checks: expected a non-empty list of checks such as {name: service, unit: x.service}']
    names = set()
    for number, check in enumerate(checks):
        where = 'checks[%d]' % number
        name = check.get('name')
        if name:
            where = 'checks[%d] (%s)' % (number, name)
            if name in names:
                errors.append('%s.name: %r is used twice; each check needs its own name' % (where, name))
            names.add(name)
        given = [k for k in KINDS if check.get(k) is not None]
        if len(given) != 1:
            errors.append('%s: expected exactly one of unit, url, port or process, got %s'
                          % (where, ', '.join(given) if given else 'none'))
            continue
        kind = given[0]
        url_only = [k for k in ('status', 'json', 'capture') if check.get(k) is not None]
        if kind != 'url' and url_only:
            errors.append('%s: %s apply to a url check only' % (where, ', '.join(url_only)))
        if kind == 'url' and not str(check['url']).startswith(('http://', 'https://')):
            errors.append('%s.url: expected an http:// or https:// URL, got %r' % (where, check['url']))
        if kind == 'port' and not 0 < check['port'] < 65536:
            errors.append('%s.port: expected a TCP port 1-65535, got %r' % (where, check['port']))
        if check.get('host') is not None and kind != 'port':
            errors.append('%s.host: applies to a port check only (a url names its own host)' % where)
        for code in check.get('status') or []:
            if not 100 <= code <= 599:
                errors.append('%s.status: expected HTTP status codes 100-599, got %r' % (where, code))
        timeout = check.get('timeout')
        if timeout is not None and not 0 < timeout <= 300:
            errors.append('%s.timeout: expected seconds between 0 and 300, got %r' % (where, timeout))
    return errors


def _iso(epoch):
    when = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return when.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return None


def monotonic_us():
    """CLOCK_MONOTONIC in microseconds: the clock of systemd's *TimestampMonotonic."""
    return int(time.monotonic() * 1000000)


def unit_state(run_command, systemctl, unit):
    """(ok, detail, facts) of one systemd unit."""
    if not systemctl:
        return False, '%s: systemctl not found (no systemd on this host)' % unit, None
    rc, out, err = run_command([systemctl, 'show', '--property=' + ','.join(UNIT_PROPERTIES), '--', unit])
    if rc != 0:
        return False, '%s: systemctl show failed: %s' % (unit, (err or out).strip()[:300]), None
    props = {}
    for line in out.splitlines():
        key, sep, value = line.partition('=')
        if sep:
            props[key] = value
    state = props.get('ActiveState') or 'unknown'
    facts = {'active': state == 'active', 'state': state, 'started': None, 'started_epoch': None,
             'started_monotonic': None, 'stopped_monotonic': None, 'pid': None}
    started_us = _int(props.get('ActiveEnterTimestampMonotonic'))
    if started_us:
        # The wall-clock time of that monotonic instant, as `systemctl show` prints
        # ActiveEnterTimestamp, but to the microsecond and without a zone name to parse.
        epoch = time.time() - (monotonic_us() - started_us) / 1000000.0
        facts.update(started_monotonic=started_us, started_epoch=round(epoch, 6), started=_iso(epoch))
    stopped_us = _int(props.get('ActiveExitTimestampMonotonic'))
    if stopped_us:
        facts['stopped_monotonic'] = stopped_us
    pid = _int(props.get('MainPID'))
    if pid:
        facts['pid'] = pid
    if props.get('LoadState') == 'not-found':
        return False, '%s: no such unit' % unit, facts
    if state != 'active':
        state = '%s (%s)' % (state, props.get('SubState', '?'))
    detail = '%s is %s' % (unit, state)
    return facts['active'], detail, facts


def _same(observed, expected):
    if isinstance(expected, bool) or isinstance(observed, bool):
        return observed == expected
    return observed == expected or str(observed) == str(expected)


def _captured(value):
    if isinstance(value, str) and len(value) > MAX_CAPTURE_TEXT:
        return value[:MAX_CAPTURE_TEXT] + '...'
    if isinstance(value, (dict, list)):
        return '(%s)' % type(value).__name__
    return value


def http_check(check):
    """(ok, detail, extra) of one GET."""
    url = check['url']
    statuses = check.get('status') or [200]
    try:
        response = open_url(url, method='GET', timeout=check.get('timeout') or DEFAULT_TIMEOUT,
                            headers={'Accept': 'application/json'},
                            http_agent='dialysis-ops-health-check',
                            validate_certs=check.get('validate_certs', True),
                            use_proxy=bool(check.get('use_proxy')), follow_redirects='safe')
        status, body = response.getcode(), response.read(1024 * 1024)
        response.close()
    except HTTPError as exc:
        status = exc.code
        try:
            body = exc.read(1024 * 1024)
        except Exception:  # pylint: disable=broad-except  # an error body is optional
            body = b''
    except (URLError, socket.timeout, OSError, ValueError) as exc:
        reason = getattr(exc, 'reason', None) or exc
        return False, '%s: no answer (%s)' % (url, reason), {'status': None}
    extra = {'status': status}
    problems = []
    if status not in statuses:
        problems.append('HTTP %d (expected %s)' % (status, ' or '.join(str(s) for s in statuses)))
    wanted = check.get('json') or {}
    captured = check.get('capture') or []
    if wanted or captured:
        try:
            data = json.loads(body.decode('utf-8'))
        except ValueError:
            data = None
        if not isinstance(data, dict):
            problems.append('the answer is not a JSON object')
            data = {}
        if captured:
            extra['values'] = dict((k, _captured(data.get(k))) for k in captured)
        for key, expected in sorted(wanted.items()):
            if key not in data:
                problems.append('%s missing (expected %s)' % (key, expected))
            elif not _same(data[key], expected):
                problems.append('%s is %s (expected %s)' % (key, _captured(data[key]), expected))
    if problems:
        return False, '%s: %s' % (url, '; '.join(problems)), extra
    return True, '%s: HTTP %d' % (url, status), extra


def port_check(check):
    host = check.get('host') or '127.0.0.1'
    target = '%s:%d' % (host, check['port'])
    try:
        sock = socket.create_connection((host, check['port']),
                                        timeout=check.get('timeout') or DEFAULT_TIMEOUT)
    except socket.timeout:
        return False, '%s: connection timed out' % target, {}
    except (OSError, ValueError) as exc:
        return False, '%s: %s' % (target, getattr(exc, 'strerror', None) or exc), {}
    sock.close()
    return True, '%s accepts connections' % target, {}


def find_processes(name, proc='/proc'):
    """PIDs of the processes called NAME (comm, or the base name of a word of the command line)."""
    found = []
    own = os.getpid()
    try:
        entries = os.listdir(proc)
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) == own:
            continue
        try:
            with open(os.path.join(proc, entry, 'comm'), 'rb') as handle:
                comm = handle.read().decode('utf-8', 'replace').strip()
            with open(os.path.join(proc, entry, 'cmdline'), 'rb') as handle:
                words = [w.decode('utf-8', 'replace') for w in handle.read().split(b'\0') if w]
        except (IOError, OSError):
            continue   # gone meanwhile, or not ours to read
        if comm == name or name in [os.path.basename(w) for w in words]:
            found.append(int(entry))
    return sorted(found)


def process_check(check, proc='/proc'):
    pids = find_processes(check['process'], proc)
    if pids:
        return True, '%d process(es) %s running' % (len(pids), check['process']), {'pids': pids}
    return False, 'no process %s' % check['process'], {'pids': []}


def run_round(checks, run_command, systemctl, proc='/proc'):
    """One round: (results, units)."""
    results, units = [], {}
    for check in checks:
        kind = [k for k in KINDS if check.get(k) is not None][0]
        began = time.monotonic()
        if kind == 'unit':
            ok, detail, facts = unit_state(run_command, systemctl, check['unit'])
            extra = {'unit': check['unit']}
            if facts is not None:
                units[check['unit']] = facts
        elif kind == 'url':
            ok, detail, extra = http_check(check)
        elif kind == 'port':
            ok, detail, extra = port_check(check)
        else:
            ok, detail, extra = process_check(check, proc)
        entry = {'name': check['name'], 'kind': KIND_NAMES[kind], 'ok': ok, 'detail': detail,
                 'elapsed': round(time.monotonic() - began, 3)}
        entry.update(extra)
        results.append(entry)
    return results, units


def answered(results):
    """Whether a round got an HTTP answer from the service (any url check with a status)."""
    return any(r.get('kind') == 'http' and r.get('status') is not None for r in results)


def wait_decision(results, streak, fail_after):
    """One round's decision: (action, streak) - action 'healthy' (stop, passed), 'fail' (stop:
    FAIL_AFTER consecutive answered-but-unhealthy rounds) or 'wait' (go on if time is left).
    STREAK is the count of consecutive answered-but-unhealthy rounds before this one; a round
    without an HTTP answer (not listening yet) resets it."""
    if all(r['ok'] for r in results):
        return 'healthy', 0
    streak = streak + 1 if answered(results) else 0
    if fail_after and streak >= fail_after:
        return 'fail', streak
    return 'wait', streak


def check_health(checks, wait, interval, run_command, systemctl, proc='/proc',
                 sleep=time.sleep, clock=time.monotonic, fail_after=0):
    """Rounds of checks until all pass, FAIL_AFTER consecutive rounds answered unhealthy, or WAIT
    seconds have gone: the module's result."""
    started = clock()
    rounds = answered_rounds = streak = 0
    while True:
        rounds += 1
        results, units = run_round(checks, run_command, systemctl, proc)
        action, streak = wait_decision(results, streak, fail_after)
        answered_rounds += 1 if answered(results) else 0
        now = clock()
        if action != 'wait' or now + interval > started + wait:
            break
        sleep(interval)
    healthy = action == 'healthy'
    if healthy:
        verdict = 'healthy'
    elif action == 'fail':
        verdict = 'answered_unhealthy'
    elif answered_rounds:
        verdict = 'unhealthy'
    else:
        verdict = 'never_answered'
    result = {'healthy': healthy, 'checks': results, 'units': units, 'rounds': rounds,
              'waited': round(now - started, 3), 'checked_at': round(time.time(), 6),
              'monotonic': monotonic_us(), 'verdict': verdict, 'answered_rounds': answered_rounds,
              'unhealthy_answers': streak}
    if action == 'fail':
        result['msg'] = 'Answered unhealthy %d times in a row (stopped after %.0f s of %d s): %s' % (
            streak, now - started, wait,
            '; '.join('%s: %s' % (r['name'], r['detail']) for r in results if not r['ok']))
    elif not healthy:
        result['msg'] = 'Not healthy after %.0f s: %s' % (
            now - started, '; '.join('%s: %s' % (r['name'], r['detail']) for r in results if not r['ok']))
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            checks=dict(type='list', elements='dict', required=True, options=dict(
                name=dict(type='str', required=True),
                unit=dict(type='str'),
                url=dict(type='str'),
                status=dict(type='list', elements='int'),
                json=dict(type='dict'),
                capture=dict(type='list', elements='str'),
                validate_certs=dict(type='bool', default=True),
                use_proxy=dict(type='bool', default=False),
                port=dict(type='int'),
                host=dict(type='str'),
                process=dict(type='str'),
                timeout=dict(type='float'),
            )),
            wait=dict(type='int', default=0),
            interval=dict(type='float', default=2),
            fail_after=dict(type='int', default=0),
            fail_on_unhealthy=dict(type='bool', default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    errors = validate_checks(params['checks'])
    if params['wait'] < 0:
        errors.append('wait: expected seconds >= 0 (0 checks once), got %r' % params['wait'])
    if not 0 < params['interval'] <= 600:
        errors.append('interval: expected seconds between 0 and 600, got %r' % params['interval'])
    if params['fail_after'] < 0:
        errors.append('fail_after: expected a count of answers >= 0 (0 waits the whole wait), got %r'
                      % params['fail_after'])
    if errors:
        module.fail_json(msg='Invalid health checks: ' + '; '.join(errors), errors=errors)
    systemctl = None
    if any(c.get('unit') for c in params['checks']):
        systemctl = module.get_bin_path('systemctl')
    result = check_health(params['checks'], params['wait'], params['interval'], module.run_command, systemctl,
                          fail_after=params['fail_after'])
    if params['fail_on_unhealthy'] and not result['healthy']:
        module.fail_json(changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()
