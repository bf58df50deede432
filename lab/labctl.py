#!/usr/bin/env python3
"""The lab hospital's one start-up code (make lab, molecule's `lab` scenario, the bench).

    labctl.py up [--prefix lab] [--base-port 2240] [--hosts hd-app-01,...]
                 [--inventory inventories/lab] [--size N] [--plant bloat,...] [--no-provision]
    labctl.py down [--prefix lab] [--inventory inventories/lab]
    labctl.py status [--prefix lab]
    labctl.py inventory [--prefix lab] [--base-port 2240] [--hosts ...] [--inventory ...]

`up` starts the lab's hosts (podman containers of localhost/dialysis-ops-lab:latest,
systemd + sshd, every port published on 127.0.0.1 only), waits until each has booted
and answers SSH, writes the inventory (hosts.yml and the 0600 lab.env with the two
database passwords, generated once per lab) and provisions the hosts with
lab/provision.yml. Run it again on a running lab: nothing is recreated, the passwords
stay, provisioning changes nothing. `down` removes exactly the containers labelled with
the prefix and the inventory labctl wrote. See lab/README.md.

Standard library only (Python 3.11); run with the venv's python so that ansible-playbook
is found next to it.
"""

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time

LAB_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(LAB_DIR)
IMAGE = 'localhost/dialysis-ops-lab:latest'
LABEL = 'dialysis-ops-lab'            # value: the lab's prefix
HOST_LABEL = 'dialysis-ops-lab.host'  # value: the inventory host name
MARKER = '.labctl'                    # in the inventory directory: written by labctl, for this prefix
ENV_FILE = 'lab.env'
PASSWORD_VARS = ('DIALYSIS_LAB_DB_PASSWORD', 'DIALYSIS_LAB_APP_DB_PASSWORD')
# A lab host reaches the machine's loopback (so another host's published port) here.
HOST_LOOPBACK = '10.0.2.2'
APP_LOG = '/var/log/dialysis/app.log'
# Ports of the inspection scenario (2231/2232) and of the bench (2300 + N) stay clear.
RESERVED_PORTS = {2231: 'molecule inspection scenario', 2232: 'molecule inspection scenario'}


class LabError(Exception):
    pass


class Host(object):
    """One host of the lab's topology (the contract's table)."""

    def __init__(self, name, system, tiers, ssh, published, postgresql=(), mariadb=(), services=(),
                 standby_for=None, default=True):
        self.name = name
        self.system = system
        self.tiers = tiers
        self.ssh = ssh                  # offset of its SSH port from the base port
        self.published = published      # {container port: offset from the base port}
        self.postgresql = list(postgresql)
        self.mariadb = list(mariadb)
        self.services = list(services)
        # A standby host (disaster-recovery drills): {source_host, backup_set, service}; it gets
        # PostgreSQL without databases and the service installed but stopped.
        self.standby_for = standby_for
        # Started when no --hosts is given (`make lab`, molecule lab, the bench); a standby is
        # started only by the scenario that needs it.
        self.default = default

    def ports(self, base):
        """[(published port on 127.0.0.1, container port)], SSH first."""
        return [(base + self.ssh, 22)] + [(base + off, port) for port, off in sorted(self.published.items())]


TOPOLOGY = [
    Host('hd-app-01', 'hemodialysis', ('app',), 1, {8080: 10},
         services=['dialysis-service.service', 'dialysis-collector.service']),
    Host('hd-db-01', 'hemodialysis', ('db',), 2, {5432: 20, 3306: 21},
         postgresql=['hemodialysis'], mariadb=['interface_engine']),
    Host('hd-if-01', 'hemodialysis', ('interface',), 3, {2575: 30, 2576: 31, 4001: 32},
         services=['dialysis-interface.service']),
    Host('ckd-db-01', 'ckd', ('app', 'db'), 4, {5432: 22}, postgresql=['ckd']),
    Host('pd-db-01', 'pd', ('app', 'db'), 5, {3306: 23}, mariadb=['pd']),
    # The second application host (rolling restarts, patches, upgrades one host at a time):
    # the service only; the collector runs once per unit, on hd-app-01.
    Host('hd-app-02', 'hemodialysis', ('app',), 6, {8080: 11},
         services=['dialysis-service.service']),
    # The standby of the hemodialysis system (disaster-recovery drill, playbooks/dr_drill.yml):
    # PostgreSQL with no database and the service installed, stopped; not started by default.
    Host('hd-standby-01', 'hemodialysis', ('standby',), 7, {8080: 12, 5432: 24},
         standby_for={'source_host': 'hd-db-01', 'backup_set': 'hemodialysis-pg_dump',
                      'owner': 'dialysis_app', 'service': 'dialysis-service.service'},
         default=False),
]
BY_NAME = dict((h.name, h) for h in TOPOLOGY)
SYSTEMS = ('hemodialysis', 'ckd', 'pd')
TIERS = ('app', 'db', 'interface', 'standby')


def say(text=''):
    print(text, flush=True)


def default_key():
    """The test SSH key scripts/setup-testhosts.sh caches (root's key in every image)."""
    return os.path.join(os.path.expanduser(os.environ.get(
        'DIALYSIS_TESTHOST_CACHE', '~/.cache/dialysis-ops/testhosts')), 'id_ed25519')


def container(prefix, host):
    return '%s-%s' % (prefix, host.name)


# -- the inventory -------------------------------------------------------------
def clinical_vars(host):
    """Per-host clinical inspection settings (inspection_clinical, dialysis_treatment_hours).

    Merged into the host's variables in hosts.yml. The queries run on the database host
    against its own databases (127.0.0.1) with the read-only account; the endpoint and
    collector checks run on the application host, where the links start. Addresses and
    ports come from `lab_endpoints` (all.vars), so the same text serves every prefix and
    base port; `lab_silent_minutes` and `lab_queue_thresholds` let a test shorten the
    wait. Treatment hours: the hemodialysis default (Mon-Sat 06:30-23:30, Asia/Shanghai);
    outside them a silent machine is not judged.
    """
    ro = {'user': 'dialysis_ro', 'password': '{{ lab_ro_password }}'}
    if host.name == 'hd-db-01':
        return {'inspection_clinical': {
            'databases': [
                dict(ro, name='hemodialysis', engine='postgresql', host='127.0.0.1', port=5432,
                     database='hemodialysis'),
                dict(ro, name='interface_engine', engine='mariadb', host='127.0.0.1', port=3306,
                     database='interface_engine')],
            'machine_data': [{
                'name': 'hemodialysis', 'database': 'hemodialysis',
                'query': 'SELECT m.code, EXTRACT(EPOCH FROM now() - (SELECT max(r.recorded_at) '
                         'FROM machine_reading r WHERE r.machine_id = m.id))::bigint '
                         'FROM dialysis_machine m WHERE m.active ORDER BY m.code',
                'silent_minutes': "{{ lab_silent_minutes | default({'warning': 1, 'critical': 2}) }}"}],
            'queues': [{
                'name': 'his-outbound-failed', 'database': 'interface_engine',
                'query': "SELECT count(*) FROM outbound_message WHERE status = 'failed'",
                'thresholds': "{{ lab_queue_thresholds | default({'warning': 10, 'critical': 50}) }}"}],
        }}
    if host.name == 'hd-app-01':
        def endpoint(name, key, protocol, peer):
            return {'name': name, 'protocol': protocol, 'peer': peer,
                    'host': '{{ lab_endpoints.%s.host }}' % key,
                    'port': '{{ lab_endpoints.%s.port }}' % key}
        return {'inspection_clinical': {
            'collectors': ['dialysis-collector.service'],
            'endpoints': [
                endpoint('his-adt', 'hd_if_01_mllp_his_adt', 'mllp', 'HIS'),
                endpoint('lis-results', 'hd_if_01_mllp_lis_results', 'mllp', 'LIS'),
                endpoint('machine-gateway', 'hd_if_01_machine_gateway', 'tcp', 'gateway'),
                endpoint('hemodialysis-db', 'hd_db_01_postgresql', 'tcp', 'database')],
        }}
    return {}


def health_checks(host):
    """What says the host's services work (dialysis.ops.health_check's checks, run on the
    host): used before and after disruptive work - restarts, patches, upgrades."""
    checks = []
    if 'dialysis-service.service' in host.services:
        checks += [
            {'name': 'service', 'unit': 'dialysis-service.service'},
            {'name': 'http', 'url': 'http://127.0.0.1:8080/health', 'status': [200],
             'json': {'status': 'ok'}},
            {'name': 'version', 'url': 'http://127.0.0.1:8080/version', 'capture': ['version', 'schema']},
            {'name': 'port', 'port': 8080},
            {'name': 'process', 'process': 'dialysis_service.py'}]
    if 'dialysis-interface.service' in host.services:
        checks += [{'name': 'interface', 'unit': 'dialysis-interface.service'},
                   {'name': 'mllp-his-adt', 'port': 2575}, {'name': 'mllp-lis-results', 'port': 2576},
                   {'name': 'machine-gateway', 'port': 4001}]
    if host.postgresql or host.standby_for:
        checks += [{'name': 'postgresql', 'unit': 'postgresql@15-main.service'},
                   {'name': 'postgresql-port', 'port': 5432}]
    if host.mariadb:
        checks += [{'name': 'mariadb', 'unit': 'mariadb.service'}, {'name': 'mariadb-port', 'port': 3306}]
    return checks


# Smoke queries of the restore drill per database: what the application asks first.
RESTORE_SMOKE = {
    'hemodialysis': [
        {'name': 'sessions_today', 'query': 'SELECT count(*) FROM treatment_session '
                                            'WHERE scheduled_date = current_date'},
        {'name': 'last_treatment', 'expect': 'value',
         'query': 'SELECT max(started_at) FROM treatment_session '
                  'WHERE patient_id = (SELECT min(id) FROM patient)'}],
    'ckd': [{'name': 'last_visit', 'query': 'SELECT max(visit_date) FROM clinic_visit', 'expect': 'value'}],
    'interface_engine': [{'name': 'channels', 'query': 'SELECT count(*) FROM channel', 'expect': 'rows'}],
    'pd': [{'name': 'last_exchange', 'query': 'SELECT max(performed_at) FROM pd_exchange',
            'expect': 'value'}],
}


def backup_vars(host):
    """The backup sets the lab's backup jobs keep on a database host (dialysis_backup_sets,
    read by roles/backup_check and roles/restore_drill): per PostgreSQL database its pg_dump -Fc
    series, per MariaDB database its mariadb-dump | zstd series and its mariabackup directories,
    as lab/software/backup/dialysis_backup.py writes them (retention 7, nightly: RPO 26 h).
    `lab_backup_rpo_hours` lets a test shorten the RPO."""
    root = '/var/backups/dialysis'
    common = {'rpo_hours': '{{ lab_backup_rpo_hours | default(26) }}', 'retention_min': 1,
              'retention_max': 7}
    sets = []
    for db in host.postgresql:
        sets.append(dict(common, name='%s-pg_dump' % db, database=db, format='pg_dump_custom',
                         directory='%s/postgresql/%s' % (root, db), pattern='%s-*.dump' % db,
                         last_run='%s/postgresql/last-run.json' % root,
                         restore={'engine': 'postgresql', 'smoke': RESTORE_SMOKE.get(db, [])}))
    for db in host.mariadb:
        sets.append(dict(common, name='%s-mariadb_dump' % db, database=db, format='mariadb_dump',
                         directory='%s/mariadb/%s' % (root, db), pattern='%s-*.sql.zst' % db,
                         last_run='%s/mariadb/last-run.json' % root,
                         restore={'engine': 'mariadb', 'smoke': RESTORE_SMOKE.get(db, [])}))
        sets.append(dict(common, name='%s-mariabackup' % db, database=db, format='mariabackup',
                         directory='%s/mariadb/%s' % (root, db), pattern='%s-*.mariabackup' % db,
                         last_run='%s/mariadb/last-run.json' % root))
    return {'dialysis_backup_sets': sets} if sets else {}


def standby_vars(host):
    """A standby host's part in the disaster-recovery drill (roles/dr_drill): which backup set of
    which host it takes over, the service it starts and the checks that say the service works
    there; and where the service installed on it finds its (restored) database: itself."""
    service = Host(host.name, host.system, host.tiers, host.ssh, {},
                   services=[host.standby_for['service']])
    return {'dialysis_dr_standby': dict(host.standby_for, health_checks=health_checks(service)),
            'lab_service_database': {'host': '127.0.0.1', 'port': 5432, 'dbname': 'hemodialysis'}}


def treatment_check(system, hosts):
    """The treatment-hours guard's live check of a system (roles/treatment_guard): the
    hemodialysis service's own count, asked on its app host; CKD and PD say why none
    applies. Left out when the service host is not part of this lab."""
    if system == 'hemodialysis':
        if 'hd-app-01' not in [h.name for h in hosts]:
            return {}
        return {'dialysis_treatment_check': {'url': 'http://127.0.0.1:8080/treatments/running',
                                             'check_host': 'hd-app-01'}}
    reason = {'ckd': 'CKD follow-up clinic; no dialysis treatment depends on these hosts',
              'pd': 'PD patients treat at home; no treatment depends on these hosts'}[system]
    return {'dialysis_treatment_check': {'none': reason}}


def endpoints(hosts, base):
    """Every published service of the lab, as a lab host reaches it (10.0.2.2:port) and
    as the controller does (127.0.0.1:port)."""
    out = {}
    for host in hosts:
        for published, port in host.ports(base)[1:]:
            kind = {5432: 'postgresql', 3306: 'mariadb', 8080: 'http', 2575: 'mllp_his_adt',
                    2576: 'mllp_lis_results', 4001: 'machine_gateway'}[port]
            out['%s_%s' % (host.name.replace('-', '_'), kind)] = {
                'host': HOST_LOOPBACK, 'port': published, 'controller_host': '127.0.0.1'}
    return out


def host_vars(host, base, hosts, key):
    names = [h.name for h in hosts]
    # Connection settings per host, not in all.vars: the implicit localhost (plays and
    # tasks delegated to the controller) takes all.vars too, and must stay local.
    hv = {'ansible_connection': 'ssh',
          'ansible_host': '127.0.0.1',
          'ansible_port': base + host.ssh,
          'ansible_user': 'root',
          'ansible_ssh_private_key_file': key,
          'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null '
                                     '-o IdentitiesOnly=yes -o LogLevel=ERROR',
          'ansible_python_interpreter': '/usr/bin/python3',
          'dialysis_system': host.system,
          'lab_container': None,           # filled by inventory()
          'lab_published_ports': dict((str(port), published) for published, port in host.ports(base))}
    services = list(host.services)
    if host.postgresql or host.standby_for:
        services.append('postgresql@15-main.service')
    if host.mariadb:
        services.append('mariadb.service')
    hv['inspection_services'] = services + ['ssh.service']
    logs = []
    if 'dialysis-service.service' in host.services:
        logs.append({'name': 'app', 'path': APP_LOG})
    if 'dialysis-collector.service' in host.services:
        logs.append({'name': 'collector', 'path': '/var/log/dialysis/collector.log'})
    if 'dialysis-interface.service' in host.services:
        logs.append({'name': 'interface', 'path': '/var/log/dialysis/interface.log'})
    if host.postgresql or host.standby_for:
        logs.append({'name': 'postgresql', 'path': '/var/log/postgresql/postgresql-15-main.log',
                     'patterns': ['ERROR:', 'FATAL:', 'PANIC:', 'could not', 'deadlock detected']})
    if logs:
        hv['inspection_logs'] = logs
    if host.postgresql:
        hv['lab_postgresql_databases'] = host.postgresql
    if host.mariadb:
        hv['lab_mariadb_databases'] = host.mariadb
    # Where the lab's software on this host finds its databases (another host's
    # published port, through the machine's loopback).
    if 'dialysis-service.service' in host.services and 'hd-db-01' in names:
        hv['lab_service_database'] = {'host': HOST_LOOPBACK, 'port': base + 20, 'dbname': 'hemodialysis'}
    checks = health_checks(host)
    if checks:
        hv['dialysis_health_checks'] = checks
    if host.standby_for:
        hv.update(standby_vars(host))
    hv.update(clinical_vars(host))
    hv.update(backup_vars(host))
    return hv


def inventory(prefix, base, hosts, key):
    """The inventory as a dict (hosts.yml)."""
    children = {}
    for system in SYSTEMS:
        members = [h for h in hosts if h.system == system]
        if members:
            children[system] = {'hosts': dict((h.name, None) for h in members),
                                'vars': dict({'dialysis_system': system}, **treatment_check(system, hosts))}
    for tier in TIERS:
        members = [h for h in hosts if tier in h.tiers]
        if members:
            children[tier] = {'hosts': dict((h.name, None) for h in members)}
    # What lab/provision.yml installs where (its plays target these groups).
    parts = {'lab_postgresql': [h for h in hosts if h.postgresql],
             'lab_mariadb': [h for h in hosts if h.mariadb],
             'lab_service': [h for h in hosts if 'dialysis-service.service' in h.services],
             'lab_collector': [h for h in hosts if 'dialysis-collector.service' in h.services],
             'lab_interface': [h for h in hosts if 'dialysis-interface.service' in h.services],
             'lab_standby': [h for h in hosts if h.standby_for]}
    for group, members in parts.items():
        children[group] = {'hosts': dict((h.name, None) for h in members)}
    # Linux plays run on all:!windows; the group exists so that pattern needs no warning.
    children['windows'] = {'hosts': {}}
    all_hosts = {}
    for host in hosts:
        hv = host_vars(host, base, hosts, key)
        hv['lab_container'] = container(prefix, host)
        all_hosts[host.name] = hv
    all_vars = {
        'dialysis_hospital_id': 'lab',
        'dialysis_hospital': '演示医院（实验环境）',
        'dialysis_project_lead': '实验环境负责人',
        'dialysis_engineer': '实验环境工程师',
        # The disaster-recovery plan's targets and contacts (roles/report: document dr_plan).
        'dialysis_dr_rto_minutes': 60,
        'dialysis_contacts': [
            {'role': '医院信息科值班', 'name': '实验环境信息科', 'phone': '0000-0000000'},
            {'role': '运维方值班工程师', 'name': '实验环境工程师', 'phone': '0000-0000001'}],
        # The passwords live only in lab.env (0600, next to this file); source it
        # (set -a; . lab.env; set +a) before running a playbook against the lab.
        'lab_ro_password': "{{ lookup('ansible.builtin.env', 'DIALYSIS_LAB_DB_PASSWORD') }}",
        'lab_app_password': "{{ lookup('ansible.builtin.env', 'DIALYSIS_LAB_APP_DB_PASSWORD') }}",
        'lab_prefix': prefix,
        'lab_base_port': base,
        'lab_host_loopback': HOST_LOOPBACK,
        'lab_endpoints': endpoints(hosts, base),
        # The lab's hosts share the machine's cores, kernel and clock: CPU, load and
        # clock synchronisation say nothing about one host here (as in molecule and
        # the bench), so their levels sit out of reach.
        'inspection_thresholds': {'cpu_percent': {'warning': 99.5, 'critical': 100},
                                  'load_per_core': {'warning': 50, 'critical': 100}},
        'inspection_clock_sync_required': False,
    }
    return {'all': {'vars': all_vars, 'hosts': all_hosts, 'children': children}}


def to_yaml(value, indent=0):
    """A small YAML emitter for the inventory: dicts, lists, strings (JSON-quoted,
    which YAML reads as double-quoted scalars), numbers, booleans and null."""
    pad = '  ' * indent
    if isinstance(value, dict):
        if not value:
            return ' {}\n'
        out = '\n'
        for key, item in value.items():
            key = str(key)
            if not re.match(r'^[A-Za-z_][A-Za-z0-9_.-]*$', key):
                key = json.dumps(key)     # "8080": a string key, as Jinja looks it up
            out += '%s%s:%s' % (pad, key, to_yaml(item, indent + 1))
        return out
    if isinstance(value, list):
        if not value:
            return ' []\n'
        out = '\n'
        for item in value:
            text = to_yaml(item, indent + 1)
            if isinstance(item, dict) and item:
                # "- key: value" with the following keys aligned under the first
                lines = text.lstrip('\n').splitlines()
                out += '%s- %s\n' % (pad, lines[0].strip())
                out += ''.join('%s  %s\n' % (pad, line[len(pad) + 2:]) for line in lines[1:])
            else:
                out += '%s-%s' % (pad, text)
        return out
    if value is None:
        return '\n' if indent else ' null\n'
    if isinstance(value, bool):
        return ' %s\n' % ('true' if value else 'false')
    if isinstance(value, (int, float)):
        return ' %s\n' % value
    return ' %s\n' % json.dumps(str(value), ensure_ascii=False)


def read_env_file(path):
    """KEY=value lines of lab.env (anything else is ignored)."""
    values = {}
    try:
        with open(path, encoding='utf-8') as handle:
            for line in handle:
                match = re.match(r'^([A-Z_][A-Z0-9_]*)=(\S*)$', line.strip())
                if match:
                    values[match.group(1)] = match.group(2)
    except FileNotFoundError:
        pass
    return values


def write_private(path, text):
    """Write `text` to `path` with mode 0600 from the first byte (then rename)."""
    tmp = '%s.tmp.%d' % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as handle:
        handle.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def write_inventory(args, hosts):
    """hosts.yml, lab.env (passwords kept if it already has them) and the marker.
    Returns the passwords {env var: value}."""
    inv = os.path.abspath(args.inventory)
    marker = os.path.join(inv, MARKER)
    if os.path.isdir(inv) and os.listdir(inv) and not os.path.exists(marker):
        raise LabError('%s exists and was not written by labctl: choose another --inventory' % inv)
    os.makedirs(inv, mode=0o755, exist_ok=True)
    env_path = os.path.join(inv, ENV_FILE)
    passwords = read_env_file(env_path)
    if all(passwords.get(k) for k in PASSWORD_VARS):
        say('    passwords: kept from %s' % env_path)
    else:
        # URL- and shell-safe: letters, digits, '-' and '_'.
        passwords = dict((k, secrets.token_urlsafe(24)) for k in PASSWORD_VARS)
        say('    passwords: generated (only in %s, mode 0600)' % env_path)
    # The first line is plain shell (a no-op test) that Ansible's ini inventory parser
    # refuses, so `-i <this directory>` never reads the secrets below as host names.
    write_private(env_path, ''.join([
        '[ -r /dev/null ] # lab.env: not an inventory source; source it: set -a; . %s; set +a\n' % env_path,
        '# Database passwords of the lab "%s" (generated by lab/labctl.py; mode 0600, never in git).\n'
        % args.prefix,
        '# DIALYSIS_LAB_DB_PASSWORD: dialysis_ro (read-only); '
        'DIALYSIS_LAB_APP_DB_PASSWORD: dialysis_app (owner).\n',
    ] + ['%s=%s\n' % (k, passwords[k]) for k in PASSWORD_VARS]))
    data = inventory(args.prefix, args.base_port, hosts, args.key)
    with open(os.path.join(inv, 'hosts.yml.tmp'), 'w', encoding='utf-8') as handle:
        handle.write('---\n# Generated by lab/labctl.py (prefix %s, base port %d); do not edit, '
                     're-run `labctl.py inventory`.\n' % (args.prefix, args.base_port))
        handle.write('# Passwords: lab.env beside this file (set -a; . %s; set +a).\n' % env_path)
        handle.write(to_yaml(data).lstrip('\n'))
    os.replace(os.path.join(inv, 'hosts.yml.tmp'), os.path.join(inv, 'hosts.yml'))
    with open(marker, 'w', encoding='utf-8') as handle:
        json.dump({'prefix': args.prefix, 'base_port': args.base_port,
                   'hosts': [h.name for h in hosts]}, handle)
        handle.write('\n')
    return passwords


# -- podman --------------------------------------------------------------------
def podman(*argv, check=True, timeout=120):
    proc = subprocess.run(['podman'] + list(argv), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise LabError('podman %s failed: %s'
                       % (' '.join(argv[:2]), (proc.stderr or proc.stdout).strip()[-600:]))
    return proc


def lab_containers(prefix):
    """{name: state} of the containers labelled with this lab's prefix."""
    out = podman('ps', '-a', '--filter', 'label=%s=%s' % (LABEL, prefix), '--format', 'json').stdout
    return dict((c['Names'][0], c['State']) for c in json.loads(out or '[]'))


def port_free(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # as podman's port forwarder does: connections of an earlier run in TIME_WAIT are fine
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(('127.0.0.1', port))
        return True
    except OSError:
        return False
    finally:
        sock.close()


def preflight(args, hosts, to_create):
    if os.geteuid() != 0:
        raise LabError('run as root (rootful podman, like scripts/setup-testhosts.sh)')
    if not shutil.which('podman'):
        raise LabError('podman not found: run `bash scripts/setup-testhosts.sh` (or `make setup-testhosts`)')
    if podman('image', 'exists', IMAGE, check=False).returncode != 0:
        raise LabError('image %s missing: run `bash scripts/setup-testhosts.sh` (builds it, ~3 min)' % IMAGE)
    if not os.path.exists(args.key):
        raise LabError('test SSH key %s missing: run `bash scripts/setup-testhosts.sh`' % args.key)
    ports = [p for h in hosts for p, _ in h.ports(args.base_port)]
    if min(ports) < 1024 or max(ports) > 65535:
        raise LabError('--base-port %d gives ports outside 1024-65535' % args.base_port)
    for port in ports:
        if port in RESERVED_PORTS:
            raise LabError('port %d is the %s\'s; choose another --base-port' % (port, RESERVED_PORTS[port]))
    busy = []
    for host in to_create:
        for published, port in host.ports(args.base_port):
            if not port_free(published):
                busy.append('127.0.0.1:%d (%s port %d)' % (published, host.name, port))
    if busy:
        raise LabError('port already in use: %s; stop what uses it or choose another --base-port'
                       % ', '.join(busy))


BOOT_SCRIPT = r"""i=0
while :; do   # systemd may not answer on its bus yet right after `podman run`
  state=$(timeout 120 systemctl is-system-running --wait 2>/dev/null || true)
  case "$state" in running|degraded) echo "$state"; exit 0 ;; esac
  i=$((i + 1)); [ "$i" -lt 240 ] || { echo "systemd not up: ${state:-no answer}" >&2; exit 1; }
  sleep 0.5
done
"""


def start_hosts(args, hosts):
    """Create the missing containers, start stopped ones; returns the names created."""
    existing = lab_containers(args.prefix)
    to_create = [h for h in hosts if container(args.prefix, h) not in existing]
    preflight(args, hosts, to_create)
    for host in hosts:
        name = container(args.prefix, host)
        if name in existing:
            if existing[name] != 'running':
                say('    %s: %s, starting it' % (name, existing[name]))
                podman('start', name)
            else:
                say('    %s: already running' % name)
            continue
        cmd = ['run', '-d', '--name', name, '--hostname', host.name,
               '--label', '%s=%s' % (LABEL, args.prefix), '--label', '%s=%s' % (HOST_LABEL, host.name),
               '--systemd=always',
               # user-mode networking: no bridge, no NAT; 10.0.2.2 is the machine's loopback
               '--network', 'slirp4netns:allow_host_loopback=true']
        for published, port in host.ports(args.base_port):
            cmd += ['--publish', '127.0.0.1:%d:%d' % (published, port)]
        podman(*(cmd + [IMAGE, '/sbin/init']))
        say('    %s: started (ssh 127.0.0.1:%d)' % (name, args.base_port + host.ssh))
    return [container(args.prefix, h) for h in to_create]


def wait_hosts(args, hosts, timeout=180):
    """systemd has booted in every host, and sshd answers on every published SSH port."""
    for host in hosts:
        proc = podman('exec', container(args.prefix, host), '/bin/sh', '-c', BOOT_SCRIPT,
                      check=False, timeout=timeout)
        if proc.returncode != 0:
            raise LabError('%s did not boot: %s (see `podman logs %s`)'
                           % (host.name, (proc.stderr or proc.stdout).strip()[-300:],
                              container(args.prefix, host)))
    pending = dict((h.name, args.base_port + h.ssh) for h in hosts)
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for name, port in sorted(pending.items()):
            try:
                with socket.create_connection(('127.0.0.1', port), timeout=2) as sock:
                    sock.settimeout(3)
                    if sock.recv(64).startswith(b'SSH-'):
                        # Identify before closing: sshd logs a client that leaves without
                        # one at priority err, which the first inspection would report.
                        sock.sendall(b'SSH-2.0-dialysis-labctl\r\n')
                        del pending[name]
            except OSError:
                pass
        if pending:
            time.sleep(1)
    if pending:
        raise LabError('sshd did not answer within %ds on: %s' % (timeout, ', '.join(
            '%s (127.0.0.1:%d)' % item for item in sorted(pending.items()))))


def provision(args, passwords):
    env = dict(os.environ)
    env.update(passwords)
    env['ANSIBLE_CONFIG'] = os.path.join(REPO, 'ansible.cfg')
    # Provisioning is not a duty: keep it out of the hospital's record store (the
    # records callback is replaced by the run timer).
    env['ANSIBLE_CALLBACKS_ENABLED'] = 'ansible.posix.timer'
    bindir = os.path.dirname(os.path.abspath(sys.executable))
    playbook = shutil.which('ansible-playbook', path=bindir + os.pathsep + env.get('PATH', ''))
    if not playbook:
        raise LabError('ansible-playbook not found: run labctl with the venv\'s python (make setup)')
    cmd = [playbook, '-i', os.path.abspath(args.inventory), os.path.join(LAB_DIR, 'provision.yml')]
    extra = {}
    if args.size:
        extra['lab_size'] = args.size
    if args.plant:
        extra['lab_plant'] = [p for p in args.plant.split(',') if p]
    if extra:
        cmd += ['-e', json.dumps(extra)]
    say('==> Provisioning: %s' % ' '.join(cmd[1:]))
    proc = subprocess.run(cmd, env=env, cwd=REPO)
    if proc.returncode != 0:
        raise LabError('provisioning failed (rc %d); fix and re-run `labctl.py up` (it resumes on the '
                       'running hosts)' % proc.returncode)


def describe(args, hosts):
    inv = os.path.abspath(args.inventory)
    if inv.startswith(os.getcwd() + os.sep):
        inv = os.path.relpath(inv, os.getcwd())
    say('')
    say('Lab "%s" is up. Inventory: %s (passwords in %s/%s, mode 0600)' % (args.prefix, inv, inv, ENV_FILE))
    for host in hosts:
        ports = ', '.join('%d->127.0.0.1:%d' % (port, published)
                          for published, port in host.ports(args.base_port))
        say('  %-10s %-13s %-22s %s' % (host.name, host.system, '/'.join(host.tiers), ports))
    say('')
    say('Run any playbook against it (from the repository root):')
    say('  set -a; . %s/%s; set +a' % (inv, ENV_FILE))
    say('  .venv/bin/ansible-playbook -i %s playbooks/inspect.yml' % inv)
    say('Remove it: make lab-down (or .venv/bin/python lab/labctl.py down --prefix %s)' % args.prefix)


# -- commands ------------------------------------------------------------------
def selected_hosts(args):
    names = [n.strip() for n in args.hosts.split(',') if n.strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise LabError('unknown host(s) %s; the topology has %s' % (', '.join(unknown), ', '.join(BY_NAME)))
    return [h for h in TOPOLOGY if h.name in names]


def cmd_up(args):
    t0 = time.monotonic()
    hosts = selected_hosts(args)
    say('==> Starting the lab "%s" (%d hosts, image %s)' % (args.prefix, len(hosts), IMAGE))
    start_hosts(args, hosts)
    say('==> Waiting for systemd and sshd')
    wait_hosts(args, hosts)
    say('    %d hosts up after %.0f s' % (len(hosts), time.monotonic() - t0))
    say('==> Writing the inventory %s' % args.inventory)
    passwords = write_inventory(args, hosts)
    if not args.no_provision:
        provision(args, passwords)
    describe(args, hosts)
    say('(%s in %.0f s)' % ('up' if not args.no_provision else 'up without provisioning',
                            time.monotonic() - t0))


def cmd_inventory(args):
    write_inventory(args, selected_hosts(args))
    say('Inventory written to %s' % args.inventory)


def cmd_down(args):
    names = sorted(lab_containers(args.prefix))
    if names:
        say('==> Removing %d containers of the lab "%s": %s' % (len(names), args.prefix, ', '.join(names)))
        # -v: with the container, any anonymous volume podman made for it
        podman('rm', '-f', '-v', '-t', '0', *names, timeout=300)
    left = sorted(lab_containers(args.prefix))
    if left:
        raise LabError('still present: %s' % ', '.join(left))
    inv = os.path.abspath(args.inventory)
    marker = os.path.join(inv, MARKER)
    if os.path.exists(marker):
        with open(marker, encoding='utf-8') as handle:
            owner = json.load(handle).get('prefix')
        if owner == args.prefix:
            for name in ('hosts.yml', ENV_FILE, MARKER):
                if os.path.exists(os.path.join(inv, name)):
                    os.remove(os.path.join(inv, name))
            try:
                os.rmdir(inv)
            except OSError:
                pass
            say('    removed the inventory %s (and its passwords)' % args.inventory)
    say('Lab "%s" is down.' % args.prefix)


def port_range(port, count):
    return '%s-%s' % (port, port + count - 1) if (count or 1) > 1 else str(port)


def cmd_status(args):
    found = lab_containers(args.prefix)
    if not found:
        say('Lab "%s": no containers.' % args.prefix)
        return 1
    out = podman('ps', '-a', '--filter', 'label=%s=%s' % (LABEL, args.prefix), '--format', 'json').stdout
    for c in sorted(json.loads(out), key=lambda c: c['Names'][0]):
        ports = ', '.join('%s:%s->%s' % (p.get('host_ip'), port_range(p.get('host_port'), p.get('range')),
                                          port_range(p.get('container_port'), p.get('range')))
                          for p in c.get('Ports') or [])
        say('%-22s %-9s %s' % (c['Names'][0], c['State'], ports))
    return 0 if all(state == 'running' for state in found.values()) else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument('--prefix', default='lab', help='container name prefix and label (default lab)')
    common.add_argument('--inventory', default=os.path.join(REPO, 'inventories', 'lab'),
                        help='inventory directory (default inventories/lab)')
    shape = argparse.ArgumentParser(add_help=False)
    shape.add_argument('--base-port', type=int, default=2240,
                       help='base of the published ports (default 2240)')
    shape.add_argument('--hosts', default=','.join(h.name for h in TOPOLOGY if h.default),
                       help='comma-separated hosts of the topology (default all but the standby)')
    shape.add_argument('--key', default=default_key(), help='SSH private key (default: the test key)')
    up = sub.add_parser('up', parents=[common, shape], help='start, inventory and provision the lab')
    up.add_argument('--size', type=int, help='rows of the generated data (provision variable lab_size)')
    up.add_argument('--plant', default='', help='planted states, e.g. bloat,invalid_index (lab_plant)')
    up.add_argument('--no-provision', action='store_true', help='start hosts and write the inventory only')
    sub.add_parser('down', parents=[common], help='remove the lab\'s containers and its inventory')
    sub.add_parser('status', parents=[common], help='the lab\'s containers and ports')
    sub.add_parser('inventory', parents=[common, shape], help='write the inventory only')
    args = parser.parse_args(argv)
    try:
        return {'up': cmd_up, 'down': cmd_down, 'status': cmd_status,
                'inventory': cmd_inventory}[args.command](args) or 0
    except LabError as exc:
        print('ERROR: %s' % exc, file=sys.stderr, flush=True)
        return 2
    except subprocess.TimeoutExpired as exc:
        print('ERROR: timed out: %s' % ' '.join(exc.cmd[:4]), file=sys.stderr, flush=True)
        return 2


if __name__ == '__main__':
    sys.exit(main())
