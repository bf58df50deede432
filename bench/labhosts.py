"""The lab's hemodialysis hosts in the bench: hd-app-01, hd-db-01 and hd-if-01,
started and provisioned by lab/labctl.py (the same start-up code, image and
provisioning as `make lab` and molecule/lab), inspected with their clinical
items beside the bench hosts, and removed at the end.

Their inventory variables (connection, services, `inspection_clinical`) are
taken from the inventory labctl writes, so the bench inspects them exactly as
`ansible-playbook -i inventories/lab playbooks/inspect.yml` does; the lab's
read-only password goes to the runs through the environment (lab.env)."""

import json
import os
import subprocess
import sys

import yaml
from common import REPO, BenchError, say

LABCTL = os.path.join(REPO, 'lab', 'labctl.py')
PREFIX = 'bench-lab'
HOSTS = ('hd-app-01', 'hd-db-01', 'hd-if-01')
# all.vars of the lab inventory that its hosts' own variables refer to.
LAB_VARS = ('lab_ro_password', 'lab_app_password', 'lab_prefix', 'lab_base_port', 'lab_host_loopback',
            'lab_endpoints')


class LabHosts(object):
    """The three lab hosts, SSH and services published from 127.0.0.1:`base_port`+1."""

    def __init__(self, results, base_port, size):
        self.results = results
        self.base_port = base_port
        self.size = size
        self.inventory_dir = os.path.join(results, 'lab-inventory')
        self.log = os.path.join(results, 'logs', 'lab-up.log')
        self.names = ['%s-%s' % (PREFIX, h) for h in HOSTS]
        self.up_seconds = None

    def _labctl(self, *argv, log=None, timeout=900):
        cmd = [sys.executable, LABCTL] + list(argv) + ['--prefix', PREFIX, '--inventory', self.inventory_dir]
        with open(log or os.devnull, 'a') as out:
            proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, cwd=REPO)
        return proc.returncode

    def up(self):
        """Start and provision the lab hosts (a few minutes: databases, seed data, services)."""
        rc = self._labctl('up', '--base-port', str(self.base_port), '--hosts', ','.join(HOSTS),
                          '--size', str(self.size), log=self.log)
        if rc != 0:
            raise BenchError('lab/labctl.py up failed (rc %d); see %s' % (rc, self.log))

    def down(self):
        self._labctl('down', log=self.log, timeout=300)

    def env(self):
        """The lab's passwords as the runs' environment (lab.env)."""
        out = {}
        with open(os.path.join(self.inventory_dir, 'lab.env'), encoding='utf-8') as handle:
            for line in handle:
                key, sep, value = line.strip().partition('=')
                if sep and key.startswith('DIALYSIS_LAB_'):
                    out[key] = value
        return out

    def inventory_part(self):
        """({host: variables}, {group: [hosts]}) of the lab hosts for the bench inventory."""
        with open(os.path.join(self.inventory_dir, 'hosts.yml'), encoding='utf-8') as handle:
            data = yaml.safe_load(handle)['all']
        shared = dict((k, v) for k, v in data['vars'].items() if k in LAB_VARS)
        hosts = {}
        for name, own in data['hosts'].items():
            hv = dict(shared)
            hv.update(own)
            # The bench's all.vars name app.log as required; only hd-app-01 has one.
            hv.setdefault('inspection_logs', [])
            hosts[name] = hv
        groups = {}
        for group, body in data.get('children', {}).items():
            members = [h for h in (body or {}).get('hosts') or {} if h in hosts]
            if members and not group.startswith('lab_'):
                groups[group] = members
        if sorted(hosts) != sorted(HOSTS):
            raise BenchError('lab inventory %s has hosts %s, expected %s'
                             % (self.inventory_dir, sorted(hosts), list(HOSTS)))
        say('    lab hosts %s with clinical items on %s' % (
            ', '.join(HOSTS), ', '.join(h for h in HOSTS if hosts[h].get('inspection_clinical'))))
        return hosts, groups


def clinical_timing(record_file):
    """Per lab host, the module's own time for its clinical checks (ms): the queries
    and the endpoint probes, as the inspection record reports them."""
    out = {}
    with open(record_file, encoding='utf-8') as handle:
        for line in handle:
            entry = json.loads(line)
            record = entry.get('record') or {}
            clinical = (record.get('metrics') or {}).get('clinical')
            if not clinical or entry.get('host') not in HOSTS:
                continue
            out[entry['host']] = round(sum((clinical.get('query_ms') or {}).values())
                                       + (clinical.get('endpoints_ms') or 0.0), 1)
    return out
