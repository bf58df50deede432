#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: host_inspection
short_description: Inspect a Linux host in one call and return an inspection record
description:
  - Gathers, in a single module run, everything the monthly inspection of contract
    clause R1 asks for - CPU use (sampled) and load per core, memory and swap, the space
    and inodes of every real filesystem, uptime, the top processes by CPU and memory,
    the state of listed systemd services, clock synchronisation, and the error lines
    written to the configured logs and the journal since the previous inspection.
  - Uses psutil when the target has it and reads C(/proc) otherwise; the result has
    the same shape either way.
  - Each item is held against warning and critical thresholds and the module returns
    a C(record) (see the repository's DESIGN, "The record contract").
  - Where an item's status does not follow from a measured figure (a missing log, an
    unreadable journal, a unit that does not exist, an unsynchronised clock), the item
    carries a C(reason) code, such as C(not_found), that the documents translate.
  - The module reads from the log positions given in O(positions) - those of the last
    inspection whose record reached the controller's record store - and returns the new
    ones in RV(log_positions) beside the record; it never saves a position on the host.
    A run that is killed, times out or loses its connection after the module ran
    therefore loses nothing - the next inspection starts from the same positions and
    reports what the lost run read. Rotation by rename and truncation are detected.
  - The action plugin of the same name fills in O(positions) from the record store when
    the task runs in a recorded run (the C(dialysis_records) callback) that holds the
    inspection lock (C(dialysis.ops.run_lock)).
  - Log samples are redacted - credentials and patient identifiers are masked before
    they leave the host.
version_added: "1.0.0"
author:
  - dialysis-ops contributors (@dialysis-ops)
options:
  system:
    description: The clinical system the host belongs to, copied into the record.
    type: str
    default: shared
    choices: [hemodialysis, ckd, pd, shared]
  thresholds:
    description:
      - Warning and critical levels per item; items left out keep their defaults.
      - "Keys: cpu_percent (80/95), load_per_core (1.5/3.0), memory_percent (85/95),
        swap_percent (50/80), disk_percent (85/95), inode_percent (85/95),
        log_errors (1/20 matching lines since the previous inspection)."
    type: dict
    default: {}
  filesystem_thresholds:
    description: Disk space thresholds for particular mount points, overriding disk_percent.
    type: dict
    default: {}
  services:
    description: systemd units that must be active on this host.
    type: list
    elements: str
    default: []
  logs:
    description: Log files to scan for error lines since the previous inspection.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Stable short name used in the item identifier (C(log:NAME)).
        type: str
      path:
        description: Absolute path; a glob matches several files aggregated under one name.
        type: str
        required: true
      patterns:
        description: Regular expressions (case-insensitive) that mark an error line.
        type: list
        elements: str
      ignore:
        description: Regular expressions for matching lines that are known to be harmless.
        type: list
        elements: str
      optional:
        description:
          - When true, a missing file is reported as not checked (status C(skipped), reason
            C(not_found)) instead of as a warning.
        type: bool
        default: false
  journal:
    description: Also count systemd journal entries at O(journal_priority) or worse.
    type: bool
    default: true
  journal_priority:
    description: Journal priority threshold.
    type: str
    default: err
    choices: [emerg, alert, crit, err, warning]
  journal_initial_since:
    description: How far back the first journal scan on a host looks.
    type: str
    default: "-24h"
  positions:
    description:
      - Where the previous recorded inspection stopped reading - C(files) (per path the
        inode, device, offset and a hash of the file's head) and C(journal_cursor) - as
        returned in RV(log_positions).
      - Left out, every log is scanned as on a first inspection (the journal from
        O(journal_initial_since)); the action plugin fills it in from the record store.
    type: dict
  cpu_sample_seconds:
    description: Length of the CPU sampling window.
    type: float
    default: 0.5
  top_processes:
    description: How many processes to list by CPU and by memory.
    type: int
    default: 5
  log_max_bytes:
    description:
      - At most this many new bytes are read per log file per inspection; when a file grew
        by more, only its last O(log_max_bytes) are read.
      - Such a scan is partial - the log's item says how much was read and skipped
        (C(read_bytes), C(skipped_bytes), C(partial)), has reason C(partial_scan) and
        status at least C(warning), whatever the count of the part that was read.
    type: int
    default: 67108864
  log_max_samples:
    description: How many redacted sample lines to return per log.
    type: int
    default: 3
  skip_fstypes:
    description: Filesystem types that are never reported. Defaults to pseudo filesystems.
    type: list
    elements: str
  skip_mounts:
    description: Mount points (and everything below them) that are not reported.
    type: list
    elements: str
    default: []
  clock_sync_required:
    description: When true an unsynchronised clock is a warning; when false it is only noted.
    type: bool
    default: true
  clinical:
    description:
      - The clinical items of this host (contract clause R1; README, "Clinical interface health"),
        checked only where configured. Every check only reads - a query runs in a read-only session
        with a statement timeout, an endpoint is connected to and closed; no message is ever sent,
        replayed or deleted.
      - Validated as the controller validates C(inspection_clinical); an invalid value fails the module
        with the path and the expected form.
    type: dict
    suboptions:
      in_shift:
        description:
          - Whether it is now treatment hours for this host's system. Outside them a silent dialysis
            machine is not judged.
          - Left out, the action plugin of the same name works it out on the controller from the
            host's C(dialysis_treatment_hours) (else the system's default calendar); the module alone
            assumes treatment hours (fail safe).
        type: bool
      databases:
        description:
          - Connections used by O(clinical.machine_data) and O(clinical.queues), each with a
            read-only account. The query runs through the database's own client (C(psql),
            C(mariadb)) on this host; the password goes through the environment, never the command line.
        type: list
        elements: dict
        suboptions:
          name:
            description: Name the checks refer to.
            type: str
            required: true
          engine:
            description: Database engine.
            type: str
            required: true
            choices: [postgresql, mariadb, mysql]
          host:
            description: Address as seen from this host (default 127.0.0.1).
            type: str
          port:
            description: Port (default 5432 or 3306).
            type: int
          database:
            description: Database name.
            type: str
            required: true
          user:
            description: Read-only account.
            type: str
            required: true
          password:
            description: Its password, from ansible-vault or the environment; never recorded.
            type: str
          connect_timeout:
            description: Seconds to wait for the connection (default 5).
            type: int
          statement_timeout:
            description: Seconds after which the query is cancelled (default 10).
            type: int
      machine_data:
        description:
          - Age of the newest reading per dialysis machine. O(clinical.machine_data[].query) returns one
            row per machine - its id and the seconds since its newest reading (NULL when it never sent one).
          - A machine silent for O(clinical.machine_data[].silent_minutes) during treatment hours is an item
            C(machine:<id>) of its own; the summary item is C(machine_data:<name>).
        type: list
        elements: dict
        suboptions:
          name:
            description: Name of the check (item C(machine_data:<name>)).
            type: str
            required: true
          database:
            description: Name of an entry of O(clinical.databases).
            type: str
            required: true
          query:
            description: Read-only SQL returning (machine id, seconds since its newest reading).
            type: str
            required: true
          silent_minutes:
            description: Minutes of silence that are a warning and critical (default 5 and 10).
            type: dict
      queues:
        description: Depth of failed-message queues (item C(queue:<name>)); the query returns one count.
        type: list
        elements: dict
        suboptions:
          name:
            description: Name of the queue.
            type: str
            required: true
          database:
            description: Name of an entry of O(clinical.databases).
            type: str
            required: true
          query:
            description: Read-only SQL returning the number of failed messages.
            type: str
            required: true
          thresholds:
            description: Depth that is a warning and critical (default 1 and 20).
            type: dict
      endpoints:
        description:
          - TCP reachability of HL7 MLLP, web-service and machine-gateway endpoints (item
            C(endpoint:<name>)), probed in parallel; connect and close only.
        type: list
        elements: dict
        suboptions:
          name:
            description: Name of the endpoint.
            type: str
            required: true
          host:
            description: Address as seen from this host.
            type: str
            required: true
          port:
            description: TCP port.
            type: int
            required: true
          protocol:
            description: What speaks on it (only labels the item; the probe is a TCP connect).
            type: str
            choices: [mllp, tcp, http, https, webservice]
          peer:
            description: The system at the other end (HIS, LIS, EMR, machine gateway).
            type: str
          severity:
            description: Status of an endpoint that does not accept connections.
            type: str
            choices: [warning, critical]
          timeout:
            description: Seconds to wait for the connection (default 3).
            type: float
          confirm_seconds:
            description:
              - Seconds the accepted connection is watched (default 0.5; 0 - connect only). A peer
                that closes it at once did not take it - a proxy, load balancer or port forwarder
                accepted it with nothing behind - and the endpoint is reported unreachable (reason
                C(endpoint_closed)). Nothing is ever sent.
            type: float
      collectors:
        description: systemd units of the machine-data collectors (item C(collector:<unit>)).
        type: list
        elements: str
  db_health:
    description:
      - The database health figures of this host (module C(dialysis.ops.db_health)), read in the same
        call where configured (the inspection's C(inspection_db_health)); returned as a second record
        of kind C(db_health) in RV(records).
    type: dict
    suboptions:
      databases:
        description: The databases to read, each with a read-only account (see the db_health module).
        type: list
        elements: dict
        required: true
        suboptions:
          name:
            description: Name of the database in item identifiers.
            type: str
            required: true
          engine:
            description: Database engine.
            type: str
            required: true
            choices: [postgresql, mariadb, mysql]
          host:
            description: Address as seen from this host (default 127.0.0.1), or a unix socket path.
            type: str
          port:
            description: Port (default 5432 or 3306).
            type: int
          database:
            description: Database name.
            type: str
            required: true
          user:
            description: Read-only account.
            type: str
            required: true
          password:
            description: Its password, from ansible-vault or the environment; never recorded.
            type: str
          connect_timeout:
            description: Seconds to wait for the connection (default 5).
            type: int
          statement_timeout:
            description: Seconds after which a query is cancelled (default 10).
            type: int
      thresholds:
        description: Levels per figure (see the db_health module).
        type: dict
      min_pages:
        description: Objects smaller than this many pages are never findings (default 1000).
        type: int
      exact_max_pages:
        description: Objects larger than this are estimated from the statistics (default 131072, 1 GiB).
        type: int
      max_objects:
        description: The largest this many tables and indexes per database are reported (default 200).
        type: int
      top_statements:
        description: How many statements by total and by mean time (default 10).
        type: int
      bloat_method:
        description: auto, pgstattuple or statistics (default auto).
        type: str
        choices: [auto, pgstattuple, statistics]
  collector:
    description: C(auto) uses psutil when importable, else C(/proc).
    type: str
    default: auto
    choices: [auto, psutil, proc]
attributes:
  check_mode:
    description: Can run in check_mode and return the same record as without it.
    support: full
    details: Nothing on the host changes in either mode; the records callback does not
      take the log positions of a check-mode run.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode),
      when in diff mode.
    support: none
notes:
  - Read-only; C(changed) is always false and nothing is written on the host.
'''

EXAMPLES = r'''
- name: Inspect the host
  host_inspection:
    system: hemodialysis
    thresholds:
      disk_percent: {warning: 80, critical: 90}
    services: [postgresql.service, hdis-app.service]
    logs:
      - name: app
        path: /opt/hdis/logs/app-*.log
        ignore: ['ERROR.*heartbeat retry']
  register: inspection

- name: Inspect a database host with its clinical items
  host_inspection:
    system: hemodialysis
    clinical:
      in_shift: true
      databases:
        - name: hemodialysis
          engine: postgresql
          database: hemodialysis
          user: dialysis_ro
          password: "{{ vault_dialysis_ro_password }}"
      machine_data:
        - name: hemodialysis
          database: hemodialysis
          query: >-
            SELECT m.machine_id, EXTRACT(EPOCH FROM now() - (SELECT max(r.recorded_at)
            FROM machine_reading r WHERE r.machine_id = m.machine_id))::bigint
            FROM dialysis_machine m WHERE m.active
          silent_minutes: {warning: 5, critical: 10}
      endpoints:
        - {name: his-adt, host: 10.20.1.15, port: 2575, protocol: mllp, peer: HIS}
      collectors: [dialysis-collector.service]
'''

RETURN = r'''
record:
  description: The inspection record - kind, system, overall status, items and metrics.
  returned: always
  type: dict
  sample:
    kind: inspection
    system: hemodialysis
    status: critical
    anomalies: 1
    items:
      - item: disk:/var/lib/postgresql
        value: 96.1
        unit: "%"
        threshold: {warning: 85, critical: 95}
        status: critical
        message: "Filesystem /var/lib/postgresql is 96.1% full (critical at 95%)"
      - item: log:app
        value: null
        status: skipped
        reason: not_found
        path: /opt/hdis/logs/app.log
        message: Log /opt/hdis/logs/app.log not found
collector:
  description: Which collector produced the figures (psutil or proc).
  returned: always
  type: str
records:
  description: The C(db_health) record of the host when O(db_health) is configured (the records callback
    writes it beside the inspection record).
  returned: when db_health is given
  type: list
  elements: dict
log_positions:
  description:
    - Where this inspection stopped reading each log and the journal; the records callback
      keeps them with the record, and the next inspection starts from them.
  returned: always
  type: dict
  sample:
    files:
      /var/log/dialysis/app.log: {inode: 1835012, dev: 64769, offset: 40960, head: 9f1c..., head_len: 256}
    journal_cursor: "s=4c0f...;i=2b1;b=...;m=...;t=...;x=..."
'''

import ctypes
import ctypes.util
import os
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_clinical import (
    check_clinical,
    database_options,
    start_endpoints,
    validate_clinical,
)
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_dbcare import (
    check_health,
    validate_health,
)
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_hostmetrics import (
    PSEUDO_FSTYPES,
    fs_usage,
    get_collector,
    sample_cpu_and_processes,
)
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_logscan import (
    partial_message,
    scan_journal,
    scan_log,
)
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import (
    SYSTEMS,
    RecordError,
    make_item,
    make_record,
    worst,
)
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_thresholds import (
    classify,
    level_message,
    validate_thresholds,
)


def _pair(pair):
    return {'warning': pair['warning'], 'critical': pair['critical']}


def check_cpu(collector, params, thresholds):
    cpu, top_cpu, top_mem, nprocs = sample_cpu_and_processes(
        collector, params['cpu_sample_seconds'], params['top_processes'])
    cores = collector.cpu_count()
    load1, load5, load15 = os.getloadavg()
    per_core = round(load5 / cores, 2)
    items = []
    st = classify(cpu, thresholds['cpu_percent'])
    items.append(make_item('cpu:usage', cpu, st, 'CPU %g%% busy over %gs%s' % (
        cpu, params['cpu_sample_seconds'], level_message(st, thresholds['cpu_percent'])),
        unit='%', threshold=_pair(thresholds['cpu_percent'])))
    st = classify(per_core, thresholds['load_per_core'])
    items.append(make_item('cpu:load', per_core, st,
                           '5-minute load %.2f on %d cores = %.2f per core%s' % (
                               load5, cores, per_core,
                               level_message(st, thresholds['load_per_core'])),
                           unit='per core', threshold=_pair(thresholds['load_per_core'])))
    names = ', '.join('%s %g%%' % (p['name'], p['cpu_percent']) for p in top_cpu[:3])
    items.append(make_item('process:top', names, 'ok',
                           'Busiest processes: %s (%d processes)' % (names, nprocs)))
    metrics = {'cpu_percent': cpu, 'cpu_count': cores,
               'load': [round(load1, 2), round(load5, 2), round(load15, 2)],
               'processes': nprocs, 'top_cpu': top_cpu, 'top_memory': top_mem}
    return items, metrics


def check_memory(collector, thresholds):
    mem = collector.memory()
    items = []
    st = classify(mem['percent'], thresholds['memory_percent'])
    items.append(make_item('memory:ram', mem['percent'], st, 'Memory %g%% used of %d MiB%s' % (
        mem['percent'], mem['total_bytes'] // 1048576,
        level_message(st, thresholds['memory_percent'])),
        unit='%', threshold=_pair(thresholds['memory_percent'])))
    if mem['swap_total_bytes']:
        st = classify(mem['swap_percent'], thresholds['swap_percent'])
        msg = 'Swap %g%% used of %d MiB%s' % (mem['swap_percent'], mem['swap_total_bytes'] // 1048576,
                                              level_message(st, thresholds['swap_percent']))
    else:
        st, msg = 'ok', 'No swap configured'
    items.append(make_item('memory:swap', mem['swap_percent'], st, msg, unit='%',
                           threshold=_pair(thresholds['swap_percent'])))
    return items, mem


def check_filesystems(collector, params, thresholds, fs_thresholds):
    skip = params['skip_fstypes']
    skip = PSEUDO_FSTYPES if skip is None else frozenset(skip)
    items, metrics = [], []
    for device, mount, fstype in collector.filesystems(skip, params['skip_mounts']):
        try:
            usage = fs_usage(mount)
        except OSError as exc:
            items.append(make_item('disk:%s' % mount, None, 'error',
                                   'Cannot read usage of %s: %s' % (mount, exc.strerror),
                                   reason='unreadable'))
            continue
        if not usage['total_bytes']:
            continue
        pair = fs_thresholds.get(mount, thresholds['disk_percent'])
        st = classify(usage['percent'], pair)
        items.append(make_item('disk:%s' % mount, usage['percent'], st,
                               'Filesystem %s is %g%% full, %d MiB free%s' % (
                                   mount, usage['percent'], usage['free_bytes'] // 1048576,
                                   level_message(st, pair)),
                               unit='%', threshold=_pair(pair)))
        if usage['inode_percent'] is not None:
            ipair = thresholds['inode_percent']
            st = classify(usage['inode_percent'], ipair)
            items.append(make_item('inode:%s' % mount, usage['inode_percent'], st,
                                   'Filesystem %s uses %g%% of its inodes%s' % (
                                       mount, usage['inode_percent'], level_message(st, ipair)),
                                   unit='%', threshold=_pair(ipair)))
        entry = dict(usage, mount=mount, device=device, fstype=fstype)
        metrics.append(entry)
    return items, metrics


def check_uptime(collector):
    seconds = int(time.time() - collector.boot_time())
    days, rem = divmod(seconds, 86400)
    return [make_item('system:uptime', seconds, 'ok',
                      'Up %d days %d hours' % (days, rem // 3600), unit='s')], seconds


def check_services(module, services, prefix='service'):
    if not services:
        return [], {}
    systemctl = module.get_bin_path('systemctl')
    if not systemctl or not os.path.isdir('/run/systemd/system'):
        return check_sysv_services(module, services, prefix)
    rc, out, err = module.run_command(
        [systemctl, 'show', '--no-pager',
         # MemoryCurrent: the unit's memory (cgroup), the quarterly analysis's restart decision.
         '--property=Id,LoadState,ActiveState,SubState,UnitFileState,ActiveEnterTimestamp,MemoryCurrent']
        + list(services))
    blocks = out.strip().split('\n\n') if out.strip() else []
    items, metrics = [], {}
    for number, name in enumerate(services):
        block = blocks[number] if number < len(blocks) else ''
        props = dict(line.split('=', 1) for line in block.splitlines() if '=' in line)
        load, active = props.get('LoadState', 'unknown'), props.get('ActiveState', 'unknown')
        sub = props.get('SubState', 'unknown')
        metrics[name] = props
        reason = None
        if load == 'not-found':
            st, msg = 'critical', 'Service %s is not installed on this host' % name
            reason = 'not_found'
        elif active == 'active':
            st, msg = 'ok', 'Service %s is active (%s)' % (name, sub)
        elif active in ('activating', 'reloading'):
            st, msg = 'warning', 'Service %s is %s' % (name, active)
        else:
            st, msg = 'critical', 'Service %s is %s (%s)' % (name, active, sub)
        items.append(make_item('%s:%s' % (prefix, name), active if load != 'not-found' else 'not-found',
                               st, msg, reason=reason))
    if rc != 0 and not blocks:
        items = [make_item('%s:%s' % (prefix, s), None, 'error', 'systemctl failed: %s' % err.strip()[:200],
                           reason='systemctl_failed')
                 for s in services]
    return items, metrics


def check_sysv_services(module, services, prefix='service'):
    """Hosts without systemd (older hospital servers): ask the init script."""
    items, metrics = [], {}
    for name in services:
        base = name[:-len('.service')] if name.endswith('.service') else name
        script = os.path.join('/etc/init.d', base)
        if not os.access(script, os.X_OK):
            items.append(make_item('%s:%s' % (prefix, name), None, 'error',
                                   'Cannot check %s: systemd is not running and there is no '
                                   'init script %s' % (name, script), reason='no_systemd'))
            continue
        rc, dummy_out, dummy_err = module.run_command([script, 'status'])
        metrics[name] = {'init_script': script, 'rc': rc}
        if rc == 0:
            items.append(make_item('%s:%s' % (prefix, name), 'active', 'ok',
                                   'Service %s is running (init script)' % name))
        elif rc == 3:
            items.append(make_item('%s:%s' % (prefix, name), 'inactive', 'critical',
                                   'Service %s is not running (init script)' % name))
        else:
            items.append(make_item('%s:%s' % (prefix, name), 'unknown', 'warning',
                                   'Service %s status unknown: %s status exited %d'
                                   % (name, script, rc), reason='status_unknown'))
    return items, metrics


class _Timex(ctypes.Structure):
    _fields_ = [('modes', ctypes.c_uint), ('offset', ctypes.c_long), ('freq', ctypes.c_long),
                ('maxerror', ctypes.c_long), ('esterror', ctypes.c_long), ('status', ctypes.c_int),
                ('constant', ctypes.c_long), ('precision', ctypes.c_long),
                ('tolerance', ctypes.c_long), ('time_sec', ctypes.c_long),
                ('time_usec', ctypes.c_long), ('tick', ctypes.c_long), ('ppsfreq', ctypes.c_long),
                ('jitter', ctypes.c_long), ('shift', ctypes.c_int), ('stabil', ctypes.c_long),
                ('jitcnt', ctypes.c_long), ('calcnt', ctypes.c_long), ('errcnt', ctypes.c_long),
                ('stbcnt', ctypes.c_long), ('tai', ctypes.c_int), ('_pad', ctypes.c_int * 11)]


STA_UNSYNC = 0x0040
TIME_ERROR = 5


def clock_state():
    """(synchronised, max error in ms) from the kernel, as timedatectl reports it."""
    libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6', use_errno=True)
    tx = _Timex()
    state = libc.adjtimex(ctypes.byref(tx))
    if state < 0:
        raise OSError(ctypes.get_errno(), 'adjtimex failed')
    synced = state != TIME_ERROR and not (tx.status & STA_UNSYNC)
    return synced, round(tx.maxerror / 1000.0, 1)


def check_clock(required):
    try:
        synced, maxerror = clock_state()
    except (OSError, AttributeError) as exc:
        return [make_item('clock:sync', None, 'error', 'Cannot read clock state: %s' % exc,
                          reason='clock_unreadable')], {}
    reason = None
    if synced:
        st, msg = 'ok', 'Clock is synchronised (max error %g ms)' % maxerror
    elif required:
        st, msg = 'warning', 'Clock is not synchronised to a time source'
        reason = 'unsynchronised'
    else:
        st, msg = 'ok', 'Clock is not synchronised (not required on this host)'
        reason = 'unsynchronised'
    value = 'synchronised' if synced else 'unsynchronised'
    return [make_item('clock:sync', value, st, msg, reason=reason)], {'synchronised': synced,
                                                                      'maxerror_ms': maxerror}


def check_logs(module, params, thresholds, state):
    pair = thresholds['log_errors']
    items, metrics = [], {}
    files_state = {}
    for spec in params['logs']:
        name = spec.get('name') or spec['path']
        try:
            result, new_files = scan_log(spec, state['files'], params['log_max_bytes'],
                                         params['log_max_samples'])
        except ValueError as exc:
            module.fail_json(msg=str(exc))
        files_state.update(new_files)
        if result is None:
            # An optional log that is absent does not apply here (not checked); a
            # required one that is missing is a finding.
            st = 'skipped' if spec.get('optional') else 'warning'
            items.append(make_item('log:%s' % name, None, st, 'Log %s not found' % spec['path'],
                                   reason='not_found', path=spec['path']))
            continue
        metrics[name] = result
        # A scan that is not complete says what it could not read, in figures, and is
        # never "normal": at least a warning, whatever the count in the part read.
        partial = result['partial'] or None
        figures = {'path': spec['path'], 'partial': partial}
        if partial:
            figures.update(read_bytes=result['bytes_read'], skipped_bytes=result['skipped_bytes'])
        if not result['files']:
            # It exists but not one of its files could be read (permissions, a
            # directory): the check failed, even for an optional log.
            items.append(make_item('log:%s' % name, None, 'error', 'Log %s could not be read: %s' % (
                spec['path'], partial_message(partial)), reason='unreadable', **figures))
            continue
        st = classify(result['matches'], pair)
        level = level_message(st, pair)
        if not partial:
            msg = '%d error lines in %s since the previous inspection%s' % (
                result['matches'], spec['path'], level)
        else:
            st = worst([st, 'warning'])
            msg = '%d error lines in the part of %s read since the previous inspection%s; ' \
                'partial scan: %s' % (result['matches'], spec['path'], level, partial_message(partial))
        if result['events']:
            msg += ' [%s]' % ', '.join(result['events'])
        items.append(make_item('log:%s' % name, result['matches'], st, msg, unit='lines',
                               threshold=_pair(pair), samples=result['samples'] or None,
                               reason='partial_scan' if partial else None, **figures))
    if params['journal']:
        journalctl = module.get_bin_path('journalctl')
        if journalctl:
            result, cursor = scan_journal(state.get('journal_cursor'), params['journal_priority'],
                                          params['journal_initial_since'],
                                          params['log_max_samples'], journalctl=journalctl)
            if result is not None and 'error' in result:
                items.append(make_item('log:journal', None, 'error',
                                       'Cannot read the journal: %s' % result['error'],
                                       reason='journal_unreadable'))
            elif result is not None:
                st = classify(result['matches'], pair)
                msg = '%d journal entries at priority %s or worse since the previous inspection%s' % (
                    result['matches'], params['journal_priority'], level_message(st, pair))
                partial = result['partial'] or None
                if partial:
                    st = worst([st, 'warning'])
                    msg += '; partial scan: %s' % partial_message(partial)
                items.append(make_item('log:journal', result['matches'], st, msg, unit='entries',
                                       threshold=_pair(pair), samples=result['samples'] or None,
                                       reason='partial_scan' if partial else None, partial=partial))
                metrics['journal'] = result
                state['journal_cursor'] = cursor
    # Keep positions only for files still configured, so the state cannot grow without bound.
    state['files'] = files_state
    return items, metrics


def _redact(text):
    # Imported on first use: compiling the rules costs ~30 ms a host (see dialysis_logscan).
    from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_redact import redact_text
    return redact_text(text)


def run_module():
    module = AnsibleModule(
        argument_spec=dict(
            system=dict(type='str', default='shared', choices=list(SYSTEMS)),
            thresholds=dict(type='dict', default={}),
            filesystem_thresholds=dict(type='dict', default={}),
            services=dict(type='list', elements='str', default=[]),
            logs=dict(type='list', elements='dict', default=[], options=dict(
                name=dict(type='str'),
                path=dict(type='str', required=True),
                patterns=dict(type='list', elements='str'),
                ignore=dict(type='list', elements='str'),
                optional=dict(type='bool', default=False),
            )),
            journal=dict(type='bool', default=True),
            journal_priority=dict(type='str', default='err',
                                  choices=['emerg', 'alert', 'crit', 'err', 'warning']),
            journal_initial_since=dict(type='str', default='-24h'),
            positions=dict(type='dict'),
            cpu_sample_seconds=dict(type='float', default=0.5),
            top_processes=dict(type='int', default=5),
            log_max_bytes=dict(type='int', default=64 * 1024 * 1024),
            log_max_samples=dict(type='int', default=3),
            skip_fstypes=dict(type='list', elements='str'),
            skip_mounts=dict(type='list', elements='str', default=[]),
            clock_sync_required=dict(type='bool', default=True),
            collector=dict(type='str', default='auto', choices=['auto', 'psutil', 'proc']),
            db_health=dict(type='dict', options=dict(
                databases=dict(type='list', elements='dict', required=True,
                               options=database_options(name=dict(type='str', required=True))),
                thresholds=dict(type='dict'),
                min_pages=dict(type='int'),
                exact_max_pages=dict(type='int'),
                max_objects=dict(type='int'),
                top_statements=dict(type='int'),
                bloat_method=dict(type='str', choices=['auto', 'pgstattuple', 'statistics']),
            )),
            clinical=dict(type='dict', options=dict(
                in_shift=dict(type='bool'),
                databases=dict(type='list', elements='dict',
                               options=database_options(name=dict(type='str', required=True))),
                machine_data=dict(type='list', elements='dict', options=dict(
                    name=dict(type='str', required=True),
                    database=dict(type='str', required=True),
                    query=dict(type='str', required=True),
                    silent_minutes=dict(type='dict'),
                )),
                queues=dict(type='list', elements='dict', options=dict(
                    name=dict(type='str', required=True),
                    database=dict(type='str', required=True),
                    query=dict(type='str', required=True),
                    thresholds=dict(type='dict'),
                )),
                endpoints=dict(type='list', elements='dict', options=dict(
                    name=dict(type='str', required=True),
                    host=dict(type='str', required=True),
                    port=dict(type='int', required=True),
                    protocol=dict(type='str', choices=['mllp', 'tcp', 'http', 'https', 'webservice']),
                    peer=dict(type='str'),
                    severity=dict(type='str', choices=['warning', 'critical']),
                    timeout=dict(type='float'),
                    confirm_seconds=dict(type='float'),
                )),
                collectors=dict(type='list', elements='str'),
            )),
        ),
        supports_check_mode=True,
    )
    try:
        record, positions = inspect_host(module)
    except RecordError as exc:
        # An item that does not hold to the record contract is a bug in this module:
        # name the item and the problem rather than return a half-valid record.
        module.fail_json(msg='host_inspection built an invalid record (module bug): %s' % exc)
    extra = {}
    if params_db_health(module) is not None:
        extra['records'] = [db_health_record(module)]
    module.exit_json(changed=False, record=record, collector=record['metrics']['collector'],
                     log_positions=positions, **extra)


def params_db_health(module):
    health, errors = validate_health(module.params['db_health'], varname='db_health')
    if errors:
        module.fail_json(msg='Invalid db_health settings: ' + '; '.join(errors), errors=errors)
    return health


def db_health_record(module):
    """The db_health record of the host (its own kind, in the same module call)."""
    items, metrics = check_health(params_db_health(module), module.run_command, module.get_bin_path, _redact)
    try:
        return make_record('db_health', module.params['system'], items, metrics)
    except RecordError as exc:
        module.fail_json(msg='host_inspection built an invalid db_health record (module bug): %s' % exc)


def inspect_host(module):
    """The inspection record of this host and the log positions reached
    (RecordError if an item breaks the contract)."""
    params = module.params
    thresholds, fs_thresholds, errors = validate_thresholds(
        params['thresholds'], params['filesystem_thresholds'],
        varname='thresholds', fs_varname='filesystem_thresholds')
    if errors:
        module.fail_json(msg='Invalid thresholds: ' + '; '.join(errors), errors=errors)
    if not 0 < params['cpu_sample_seconds'] <= 30:
        module.fail_json(msg='cpu_sample_seconds: expected a number of seconds between 0 and 30, '
                             'got %r' % params['cpu_sample_seconds'])
    clinical, errors = validate_clinical(params['clinical'], varname='clinical')
    if errors:
        module.fail_json(msg='Invalid clinical settings: ' + '; '.join(errors), errors=errors)
    params_db_health(module)   # a broken db_health setting fails before anything is read
    try:
        collector = get_collector(params['collector'])
    except RuntimeError as exc:
        module.fail_json(msg=str(exc))

    positions = params['positions'] or {}
    state = {'files': positions.get('files') or {}, 'journal_cursor': positions.get('journal_cursor')}
    if not isinstance(state['files'], dict) or not isinstance(state['journal_cursor'], (str, type(None))):
        module.fail_json(msg='positions: expected {files: {path: {inode, dev, offset, head, head_len}}, '
                             'journal_cursor: str or null} as returned in log_positions')

    items, metrics = [], {'collector': collector.name}
    # Endpoint probes mostly wait (connect, then watch the connection): started
    # first, they overlap the CPU sampling window instead of adding to the run.
    endpoints = start_endpoints(clinical['endpoints']) if clinical.get('endpoints') else None
    cpu_items, metrics['cpu'] = check_cpu(collector, params, thresholds)
    mem_items, metrics['memory'] = check_memory(collector, thresholds)
    fs_items, metrics['filesystems'] = check_filesystems(collector, params, thresholds, fs_thresholds)
    up_items, metrics['uptime_seconds'] = check_uptime(collector)
    svc_items, metrics['services'] = check_services(module, params['services'])
    clock_items, metrics['clock'] = check_clock(params['clock_sync_required'])
    log_items, metrics['logs'] = check_logs(module, params, thresholds, state)
    items = cpu_items + mem_items + fs_items + up_items + svc_items + clock_items + log_items
    if clinical:
        collector_items, collector_metrics = check_services(module, clinical['collectors'],
                                                            prefix='collector')
        clinical_items, metrics['clinical'] = check_clinical(clinical, module.run_command,
                                                             module.get_bin_path, _redact, endpoints)
        if collector_metrics:
            metrics['clinical']['collectors'] = collector_metrics
        items += collector_items + clinical_items

    return make_record('inspection', params['system'], items, metrics), state


def main():
    run_module()


if __name__ == '__main__':
    main()
