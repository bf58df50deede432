# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What makes a host clinical: the inspection items of dialysis-machine data,
the collector, the HIS/LIS/EMR and machine-gateway endpoints and the
failed-message queues (README, "Clinical interface health").

``validate_clinical`` is shared by the module (on the host) and the
controller-side filter that checks the inventory before any host is touched, so
both give the same verdict with the same words. The checks only read: a query
runs in a read-only session with a statement timeout, an endpoint is only
connected to and closed (no message is ever sent, replayed or deleted).

Runs on the hosts: standard library only, Python 3.8 and later.
"""

from __future__ import absolute_import, division, print_function

import concurrent.futures
import re
import socket
import threading
import time

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import make_item
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_thresholds import (
    as_number,
    classify,
    level_message,
)

__metaclass__ = type

ENGINES = ('postgresql', 'mariadb', 'mysql')
PROTOCOLS = ('mllp', 'tcp', 'http', 'https', 'webservice')
SEVERITIES = ('warning', 'critical')
DEFAULT_SILENT_MINUTES = {'warning': 5.0, 'critical': 10.0}
DEFAULT_QUEUE_THRESHOLDS = {'warning': 1.0, 'critical': 20.0}
DEFAULT_CONNECT_TIMEOUT = 5
DEFAULT_STATEMENT_TIMEOUT = 10
DEFAULT_ENDPOINT_TIMEOUT = 3.0
# How long an accepted connection is watched: a proxy, load balancer or port
# forwarder with nothing behind it accepts, then closes at once (~0.2 s measured
# through podman's forwarder); a live HL7/web-service peer keeps it open, silent.
DEFAULT_CONFIRM_SECONDS = 0.5
DEFAULT_PORTS = {'postgresql': 5432, 'mariadb': 3306, 'mysql': 3306}
MAX_ROWS = 5000
_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.@-]*$')
# Machine ids come from the hospital's own query; they are printed in documents,
# so anything beyond a plain identifier is cut.
_MACHINE_ID = re.compile(r'^[A-Za-z0-9][A-Za-z0-9 _./:-]{0,63}$')


def database_options(**extra):
    """The argument spec of one database reached through a read-only account (modules'
    ``options``): what ``validate_clinical`` normalises, with the password ``no_log``."""
    spec = dict(
        engine=dict(type='str', required=True, choices=list(ENGINES)),
        host=dict(type='str'),
        port=dict(type='int'),
        database=dict(type='str', required=True),
        user=dict(type='str', required=True),
        password=dict(type='str', no_log=True),
        connect_timeout=dict(type='int'),
        statement_timeout=dict(type='int'),
    )
    spec.update(extra)
    return spec


_SECTIONS = ('in_shift', 'databases', 'machine_data', 'queues', 'endpoints', 'collectors')


def _pair(value, default, where, errors):
    """A {warning, critical} pair of numbers >= 0 over ``default``."""
    pair = dict(default)
    if value is None:
        return pair
    if not isinstance(value, dict):
        errors.append('%s: expected a mapping {warning: N, critical: N}, got %r' % (where, value))
        return pair
    for key in sorted(set(value) - set(['warning', 'critical'])):
        errors.append('%s: unknown key %r; expected only warning and critical' % (where, key))
    for level in ('warning', 'critical'):
        if level in value:
            num = as_number(value[level])
            if num is None or num < 0:
                errors.append('%s.%s: expected a number >= 0 (e.g. %g), got %r'
                              % (where, level, default[level], value[level]))
            else:
                pair[level] = num
    if pair['warning'] > pair['critical']:
        errors.append('%s: warning (%g) must not be above critical (%g)'
                      % (where, pair['warning'], pair['critical']))
    return pair


def _entries(clinical, section, varname, errors):
    value = clinical.get(section)
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append('%s.%s: expected a list, got %r' % (varname, section, value))
        return []
    out = []
    for number, entry in enumerate(value):
        where = '%s.%s[%d]' % (varname, section, number)
        if section == 'collectors':
            if not isinstance(entry, str) or not entry.strip():
                errors.append('%s: expected a systemd unit name such as dialysis-collector.service, '
                              'got %r' % (where, entry))
            else:
                out.append(entry.strip())
            continue
        if not isinstance(entry, dict):
            errors.append('%s: expected a mapping, got %r' % (where, entry))
            continue
        # The module's argument spec fills left-out keys with None: same as left out.
        out.append((where, dict((k, v) for k, v in entry.items() if v is not None)))
    return out


def _name(entry, where, names, errors):
    name = entry.get('name')
    if not isinstance(name, str) or not _NAME.match(name):
        errors.append('%s.name: expected a short name (letters, digits, ".", "_", "-", "@"), got %r'
                      % (where, name))
        return None
    if name in names:
        errors.append('%s.name: %r is used twice; each entry needs its own name' % (where, name))
        return None
    names.add(name)
    return name


def _int_in(entry, key, default, low, high, where, errors):
    value = entry.get(key, default)
    num = as_number(value)
    if num is None or num != int(num) or not low <= num <= high:
        errors.append('%s.%s: expected a whole number from %d to %d, got %r' % (where, key, low, high, value))
        return default
    return int(num)


def _text(entry, key, where, errors, required=True, default=None):
    value = entry.get(key, default)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        errors.append('%s.%s: expected a non-empty string, got %r' % (where, key, value))
        return None
    return value.strip()


DATABASE_KEYS = ('name', 'engine', 'host', 'port', 'database', 'user', 'password', 'connect_timeout',
                 'statement_timeout')


def database_entry(entry, where, names, errors, keys=DATABASE_KEYS):
    """One database connection {name, engine, host, port, database, user, password,
    connect_timeout, statement_timeout} normalised (None when its engine is unknown).
    Shared by the clinical checks, db_health and db_maintenance. A ``host`` that is
    an absolute path is a unix socket (PostgreSQL: its directory; MariaDB: the socket
    file), where peer / unix_socket authentication needs no password."""
    name = _name(entry, where, names, errors)
    engine = entry.get('engine')
    if engine not in ENGINES:
        errors.append('%s.engine: expected one of %s, got %r' % (where, ', '.join(ENGINES), engine))
        return None
    db = {'name': name, 'engine': engine,
          'host': _text(entry, 'host', where, errors, default='127.0.0.1'),
          'port': _int_in(entry, 'port', DEFAULT_PORTS[engine], 1, 65535, where, errors),
          'database': _text(entry, 'database', where, errors),
          'user': _text(entry, 'user', where, errors),
          'connect_timeout': _int_in(entry, 'connect_timeout', DEFAULT_CONNECT_TIMEOUT, 1, 120, where,
                                     errors),
          'statement_timeout': _int_in(entry, 'statement_timeout', DEFAULT_STATEMENT_TIMEOUT, 1, 600,
                                       where, errors)}
    password = entry.get('password')
    if password is not None and not isinstance(password, str):
        errors.append('%s.password: expected a string (from ansible-vault or the environment)' % where)
        password = None
    db['password'] = password or ''
    if keys is not DATABASE_KEYS:
        for key in sorted(set(entry) - set(keys)):
            errors.append('%s: unknown key %r; expected %s' % (where, key, ', '.join(keys)))
    return db


def validate_clinical(clinical, varname='inspection_clinical'):
    """Normalise the clinical settings of a host and validate them.

    Returns ``(normalised, errors)``; ``errors`` are sentences naming the
    variable path and the expected form (empty when valid). A password is
    never quoted in an error."""
    errors = []
    if clinical is None or clinical == {}:
        return {}, errors
    if not isinstance(clinical, dict):
        return {}, ['%s: expected a mapping with databases, machine_data, queues, endpoints, '
                    'collectors, got %r' % (varname, type(clinical).__name__)]
    clinical = dict((k, v) for k, v in clinical.items() if v is not None)
    for key in sorted(set(clinical) - set(_SECTIONS)):
        errors.append('%s: unknown key %r; expected %s' % (varname, key, ', '.join(_SECTIONS[1:])))
    out = {'in_shift': clinical.get('in_shift', True)}
    if not isinstance(out['in_shift'], bool):
        errors.append('%s.in_shift: expected true or false, got %r' % (varname, out['in_shift']))
        out['in_shift'] = True

    databases, names = {}, set()
    for where, entry in _entries(clinical, 'databases', varname, errors):
        db = database_entry(entry, where, names, errors)
        if db is not None and db['name']:
            databases[db['name']] = db
    out['databases'] = databases

    def _database_of(entry, where):
        name = entry.get('database')
        if name not in databases:
            errors.append('%s.database: expected the name of an entry of %s.databases (%s), got %r'
                          % (where, varname, ', '.join(sorted(databases)) or 'none defined', name))
            return None
        return name

    # A query check: a named read-only query on one of the databases, held against a pair of levels.
    for section, levels, default in (('machine_data', 'silent_minutes', DEFAULT_SILENT_MINUTES),
                                     ('queues', 'thresholds', DEFAULT_QUEUE_THRESHOLDS)):
        out[section], names = [], set()
        for where, entry in _entries(clinical, section, varname, errors):
            spec = {'name': _name(entry, where, names, errors), 'database': _database_of(entry, where),
                    'query': _text(entry, 'query', where, errors),
                    levels: _pair(entry.get(levels), default, '%s.%s' % (where, levels), errors)}
            for key in sorted(set(entry) - set(spec)):
                errors.append('%s: unknown key %r; expected name, database, query, %s' % (where, key, levels))
            out[section].append(spec)

    out['endpoints'], names = [], set()
    for where, entry in _entries(clinical, 'endpoints', varname, errors):
        protocol = entry.get('protocol', 'tcp')
        if protocol not in PROTOCOLS:
            errors.append('%s.protocol: expected one of %s, got %r' % (where, ', '.join(PROTOCOLS), protocol))
        severity = entry.get('severity', 'critical')
        if severity not in SEVERITIES:
            errors.append('%s.severity: expected warning or critical, got %r' % (where, severity))
        timeout = as_number(entry.get('timeout', DEFAULT_ENDPOINT_TIMEOUT))
        if timeout is None or not 0 < timeout <= 60:
            errors.append('%s.timeout: expected seconds between 0 and 60, got %r'
                          % (where, entry.get('timeout')))
            timeout = DEFAULT_ENDPOINT_TIMEOUT
        confirm = as_number(entry.get('confirm_seconds', DEFAULT_CONFIRM_SECONDS))
        if confirm is None or not 0 <= confirm <= 10:
            errors.append('%s.confirm_seconds: expected seconds between 0 and 10 (0: connect only), got %r'
                          % (where, entry.get('confirm_seconds')))
            confirm = DEFAULT_CONFIRM_SECONDS
        spec = {'name': _name(entry, where, names, errors), 'host': _text(entry, 'host', where, errors),
                'port': _int_in(entry, 'port', None, 1, 65535, where, errors),
                'protocol': protocol, 'severity': severity, 'timeout': timeout, 'confirm_seconds': confirm,
                'peer': _text(entry, 'peer', where, errors, required=False)}
        for key in sorted(set(entry) - set(spec)):
            errors.append('%s: unknown key %r; expected name, host, port, protocol, peer, severity, timeout, '
                          'confirm_seconds' % (where, key))
        out['endpoints'].append(spec)

    out['collectors'] = _entries(clinical, 'collectors', varname, errors)
    return out, errors


# ---------------------------------------------------------------------------
# queries (read-only sessions through the database's own command-line client)
# ---------------------------------------------------------------------------

class QueryError(Exception):
    """A query that gave no answer; ``reason`` is the code the documents translate."""

    def __init__(self, reason, detail):
        Exception.__init__(self, detail)
        self.reason = reason


def client_command(db, query, get_bin_path, read_only=True, settings=None,
                   application='dialysis-ops-inspection'):
    """(argv, environment) that run ``query`` on ``db`` - read-only unless told
    otherwise; the password goes through the environment, never the command line
    (``ps`` shows it). ``settings``: session settings (PostgreSQL GUCs such as
    lock_timeout, in ms; MariaDB session variables), given in the environment
    (PGOPTIONS) or as SET statements before ``query``."""
    settings = dict(settings or {})
    if db['engine'] == 'postgresql':
        client = get_bin_path('psql')
        if not client:
            raise QueryError('client_missing', 'psql (PostgreSQL client) is not installed on this host')
        argv = [client, '-X', '-q', '-A', '-t', '-w', '-F', '\x1f', '-v', 'ON_ERROR_STOP=1',
                '-h', db['host'], '-p', str(db['port']), '-U', db['user'], '-d', db['database'],
                '-c', query]
        options = ['default_transaction_read_only=on'] if read_only else []
        settings.setdefault('statement_timeout', '%ds' % db['statement_timeout'])
        options += ['%s=%s' % (key, settings[key]) for key in sorted(settings)]
        env = {'PGPASSWORD': db['password'], 'PGCONNECT_TIMEOUT': str(db['connect_timeout']),
               'PGAPPNAME': application, 'PGSSLMODE': 'prefer',
               'PGOPTIONS': ' '.join('-c ' + option for option in options)}
        return argv, env
    client = get_bin_path('mariadb') or get_bin_path('mysql')
    if not client:
        raise QueryError('client_missing', 'mariadb/mysql client is not installed on this host')
    settings.setdefault('max_statement_time', db['statement_timeout'])
    setup = 'SET SESSION TRANSACTION READ ONLY; ' if read_only else ''
    setup += ''.join('SET SESSION %s=%s; ' % (key, settings[key]) for key in sorted(settings))
    if db['host'].startswith('/'):
        where = ['--socket=%s' % db['host']]
    else:
        where = ['-h', db['host'], '-P', str(db['port'])]
    argv = [client, '--no-defaults', '--batch', '--skip-column-names', '--raw',
            '--connect-timeout=%d' % db['connect_timeout']]
    argv += where + ['-u', db['user'], '-D', db['database'], '-e', setup + query]
    return argv, ({'MYSQL_PWD': db['password']} if db['password'] else {})


def run_query(db, query, run_command, get_bin_path, redact=None, **options):
    """Rows (lists of str or None) of ``query``; QueryError when there is no answer.
    ``options``: read_only, settings, application (see client_command)."""
    if not db['password'] and not db['host'].startswith('/'):
        raise QueryError('credential_missing', 'no password given for the account of database %r (set it '
                         'through ansible-vault or the environment, or connect through the unix socket)'
                         % db['name'])
    argv, env = client_command(db, query, get_bin_path, **options)
    rc, out, err = run_command(argv, environ_update=env)
    if rc != 0:
        detail = (err or out or 'exit status %d' % rc).strip().splitlines()
        detail = detail[0][:300] if detail else 'exit status %d' % rc
        if redact is not None:
            detail = redact(detail)
        if db['password']:
            detail = detail.replace(db['password'], '********')
        raise QueryError('query_failed', '%s query on %s:%d/%s failed: %s' % (
            db['engine'], db['host'], db['port'], db['database'], detail))
    sep = '\x1f' if db['engine'] == 'postgresql' else '\t'
    null = '' if db['engine'] == 'postgresql' else 'NULL'
    rows = []
    for line in out.splitlines():
        if not line.strip():
            continue
        rows.append([None if cell == null else cell for cell in line.split(sep)])
        if len(rows) >= MAX_ROWS:
            break
    return rows


# ---------------------------------------------------------------------------
# items
# ---------------------------------------------------------------------------

def query_error_item(item, spec, exc):
    return make_item(item, None, 'error', str(exc), reason=exc.reason, database=spec['database'])


def machine_items(spec, rows, in_shift):
    """One summary item per machine-data check, and one item per machine silent
    for longer than the warning level during treatment hours (outside them a
    silent machine is not judged: it is most likely switched off)."""
    pair = spec['silent_minutes']
    summary_id = 'machine_data:%s' % spec['name']
    machines, bad_rows = [], 0
    for row in rows:
        machine = (row[0] or '').strip() if row else ''
        if not _MACHINE_ID.match(machine):
            bad_rows += 1
            continue
        age = as_number(row[1]) if len(row) > 1 and row[1] is not None else None
        if len(row) > 1 and row[1] is not None and age is None:
            bad_rows += 1
            continue
        machines.append((machine, None if age is None else max(0.0, age)))
    if bad_rows and not machines:
        return [make_item(summary_id, None, 'error',
                          'The machine-data query of %s returned %d rows but none of the form '
                          '(machine id, seconds since its newest reading)' % (spec['name'], bad_rows),
                          reason='bad_result', database=spec['database'])]
    if not machines:
        return [make_item(summary_id, 0, 'warning', 'The machine-data query of %s returned no machine'
                          % spec['name'], unit='machines', reason='no_machines', database=spec['database'])]
    items, silent = [], []
    for machine, age in sorted(machines):
        minutes = None if age is None else round(age / 60.0, 1)
        status = 'critical' if minutes is None else classify(minutes, pair)
        if status == 'ok':
            continue
        silent.append(machine)
        if not in_shift:
            continue
        if minutes is None:
            msg = 'Dialysis machine %s has never sent a reading' % machine
        else:
            msg = 'No reading from dialysis machine %s for %g minutes during treatment hours%s' % (
                machine, minutes, level_message(status, pair))
        items.append(make_item('machine:%s' % machine, minutes, status, msg, unit='min',
                               threshold={'warning': pair['warning'], 'critical': pair['critical']},
                               reason='no_readings' if minutes is None else None, check=spec['name']))
    reporting = len(machines) - len(silent)
    newest = min((age for _m, age in machines if age is not None), default=None)
    if in_shift:
        msg = '%d of %d dialysis machines sent a reading within %g minutes' % (
            reporting, len(machines), pair['warning'])
    else:
        msg = ('Outside treatment hours: %d of %d dialysis machines sent a reading within %g minutes; '
               'silent machines are not judged' % (reporting, len(machines), pair['warning']))
    items.insert(0, make_item(summary_id, reporting, 'ok', msg, unit='machines', total=len(machines),
                              silent=silent or None, in_shift=in_shift,
                              newest_reading_seconds=None if newest is None else round(newest, 1),
                              reason=None if in_shift else 'outside_shift', database=spec['database']))
    return items


def queue_item(spec, rows):
    item = 'queue:%s' % spec['name']
    depth = as_number(rows[0][0]) if rows and rows[0] and rows[0][0] is not None else None
    if depth is None or depth < 0:
        return make_item(item, None, 'error', 'The queue query of %s did not return one count' % spec['name'],
                         reason='bad_result', database=spec['database'])
    depth = int(depth)
    pair = spec['thresholds']
    status = classify(depth, pair)
    return make_item(item, depth, status, '%d failed messages waiting in %s%s' % (
        depth, spec['name'], level_message(status, pair)), unit='messages',
        threshold={'warning': pair['warning'], 'critical': pair['critical']}, database=spec['database'])


def probe_endpoint(spec):
    """Connect, watch the connection for ``confirm_seconds``, close; nothing is
    ever sent. (reachable, reason, milliseconds to connect).

    A peer that closes the connection at once did not take it: a proxy, load
    balancer or port forwarder accepted it with nothing behind (reason
    ``closed``). A live peer keeps it open (silent, or greeting us)."""
    started = time.time()
    try:
        conn = socket.create_connection((spec['host'], spec['port']), timeout=spec['timeout'])
    except socket.timeout:
        return False, 'timeout', None
    except socket.gaierror:
        return False, 'unresolved', None
    except ConnectionRefusedError:
        return False, 'refused', None
    except OSError:
        return False, 'unreachable', None
    millis = round((time.time() - started) * 1000.0, 1)
    try:
        if spec.get('confirm_seconds'):
            conn.settimeout(spec['confirm_seconds'])
            try:
                if conn.recv(256) == b'':
                    return False, 'closed', millis
            except socket.timeout:
                pass
            except OSError:  # reset by the peer
                return False, 'closed', millis
    finally:
        conn.close()
    return True, None, millis


def endpoint_items(endpoints):
    """One item per endpoint, probed in parallel (a dead peer costs its timeout once)."""
    if not endpoints:
        return []
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(8, len(endpoints))) as pool:
        results = list(pool.map(probe_endpoint, endpoints))
    items = []
    for number, spec in enumerate(endpoints):
        ok, reason, millis = results[number]
        target = '%s:%d' % (spec['host'], spec['port'])
        label = spec['protocol'].upper() + (' to %s' % spec['peer'] if spec.get('peer') else '')
        if ok:
            items.append(make_item('endpoint:%s' % spec['name'], 'reachable', 'ok',
                                   '%s endpoint %s accepts connections (%g ms)' % (label, target, millis),
                                   target=target, protocol=spec['protocol'], peer=spec.get('peer'),
                                   latency_ms=millis))
        else:
            items.append(make_item('endpoint:%s' % spec['name'], 'unreachable', spec['severity'],
                                   '%s endpoint %s does not accept connections (%s)'
                                   % (label, target, reason),
                                   reason='endpoint_%s' % reason, target=target, protocol=spec['protocol'],
                                   peer=spec.get('peer')))
    return items


def start_endpoints(endpoints):
    """Probe ``endpoints`` in the background - they mostly wait, so the module
    starts them first and they overlap its CPU sampling window. Returns a
    function that waits for them and gives (items, milliseconds)."""
    box = {}

    def probe():
        started = time.time()
        try:
            box['items'] = endpoint_items(endpoints)
        except Exception as exc:  # a bug must not hang the module: report it in place of the items
            box['error'] = exc
        box['ms'] = round((time.time() - started) * 1000.0, 1)

    worker = threading.Thread(target=probe, name='dialysis-endpoints')
    worker.daemon = True
    worker.start()

    def result():
        worker.join()
        if 'error' in box:
            raise box['error']
        return box['items'], box['ms']
    return result


def check_clinical(clinical, run_command, get_bin_path, redact=None, endpoints=None):
    """The clinical items of a host and their figures (queries, endpoints; the
    collectors are systemd units, which the module checks with the others).
    ``endpoints``: what start_endpoints returned, when the probes were started early."""
    items, metrics = [], {}
    databases = clinical['databases']

    def answer(spec):
        started = time.time()
        try:
            rows = run_query(databases[spec['database']], spec['query'], run_command, get_bin_path, redact)
        finally:
            metrics.setdefault('query_ms', {})[spec['name']] = round((time.time() - started) * 1000.0, 1)
        return rows

    for spec in clinical['machine_data']:
        try:
            items.extend(machine_items(spec, answer(spec), clinical['in_shift']))
        except QueryError as exc:
            items.append(query_error_item('machine_data:%s' % spec['name'], spec, exc))
    for spec in clinical['queues']:
        try:
            items.append(queue_item(spec, answer(spec)))
        except QueryError as exc:
            items.append(query_error_item('queue:%s' % spec['name'], spec, exc))
    if clinical['endpoints']:
        endpoint_result, metrics['endpoints_ms'] = (endpoints or start_endpoints(clinical['endpoints']))()
        items.extend(endpoint_result)
    metrics['in_shift'] = clinical['in_shift']
    return items, metrics
