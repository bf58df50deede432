"""The bench's test hosts: N systemd+sshd containers in podman (SSH published on
127.0.0.1 only), their preflight checks, start and preparation, the wait for
sshd and for an ansible ping, the generated inventory, and their removal."""

import concurrent.futures
import json
import os
import shutil
import socket
import subprocess
import threading
import time

from common import HOSPITAL_VARS, BenchError, say
from measure import all_pids

IMAGE = 'localhost/dialysis-ops-testhost:latest'
LABEL_KEY = 'dialysis-ops-bench'
SYSTEMS = ('hemodialysis', 'ckd', 'pd')
# Units that exist in the test-host image (no cron there: minbase + sshd + systemd).
SERVICES = ['ssh.service', 'systemd-journald.service']
APP_LOG = '/var/log/dialysis/app.log'
INOTIFY_PER_HOST = 3          # tests/testhosts/README.md: a booted host uses ~3 instances

# Run in every host by `podman exec` right after start ($1 = host name).
PREPARE_SCRIPT = r"""set -eu
i=0
while :; do   # systemd may not answer on its bus yet right after `podman run`
  state=$(timeout 120 systemctl is-system-running --wait 2>/dev/null || true)
  case "$state" in running|degraded) break ;; esac
  i=$((i + 1)); [ "$i" -lt 240 ] || { echo "systemd not up: ${state:-no answer}" >&2; exit 1; }
  sleep 0.5
done
for unit in @SERVICES@; do
  load=$(systemctl show -p LoadState --value "$unit")
  [ "$load" = loaded ] || { echo "unit $unit: LoadState=$load (not in the image?)" >&2; exit 1; }
done
install -d -m 0755 "$(dirname @APP_LOG@)"
now=$(date '+%F %T')
{ echo "$now INFO dialysis app started on $1"
  echo "$now INFO connected to dialysis machine HD-07"
  echo "$now INFO session 4711 telemetry ok"; } > @APP_LOG@
"""


def default_key():
    """The test SSH key scripts/setup-testhosts.sh caches."""
    return os.path.join(os.path.expanduser(os.environ.get(
        'DIALYSIS_TESTHOST_CACHE', '~/.cache/dialysis-ops/testhosts')), 'id_ed25519')


class TestHosts(object):
    """`count` hosts bench-host-NN, SSH on 127.0.0.1:`base_port`+i."""

    def __init__(self, count, base_port, key, inventory):
        self.n = count
        self.base_port = base_port
        self.key = key
        self.inventory = inventory
        self.width = max(2, len(str(self.n)))
        self.started_names = []
        self.inotify = None

    def name(self, i):
        return 'bench-host-%0*d' % (self.width, i)

    def port(self, i):
        return self.base_port + i

    # -- preflight -----------------------------------------------------------
    def preflight(self, path):
        """Everything the hosts need, checked before any is started (`path`: the runs' PATH)."""
        if os.geteuid() != 0:
            raise BenchError('run as root (rootful podman, like scripts/setup-testhosts.sh)')
        for tool in ('podman', 'ansible', 'ansible-playbook'):
            if not shutil.which(tool, path=path):
                raise BenchError('%s not found (run `make setup` / `make setup-testhosts`)' % tool)
        if not os.path.exists(self.key):
            raise BenchError('test SSH key %s missing: run `bash scripts/setup-testhosts.sh`' % self.key)
        if subprocess.run(['podman', 'image', 'exists', IMAGE]).returncode != 0:
            raise BenchError('image %s missing: run `bash scripts/setup-testhosts.sh`' % IMAGE)
        if self.base_port < 1024 or self.port(self.n) > 65535:
            raise BenchError('--base-port %d with %d hosts gives ports outside 1024-65535'
                             % (self.base_port, self.n))
        if self.port(1) <= 2232 and self.port(self.n) >= 2231:
            raise BenchError('ports %d-%d clash with molecule (2231/2232); choose --base-port >= 2240'
                             % (self.port(1), self.port(self.n)))
        self.check_inotify()
        self.remove_stale()
        busy = []
        for i in range(1, self.n + 1):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            # as podman's port forwarder does: connections of an earlier run in TIME_WAIT are fine
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(('127.0.0.1', self.port(i)))
            except OSError:
                busy.append(self.port(i))
            finally:
                sock.close()
        if busy:
            raise BenchError('ports already in use on 127.0.0.1: %s (choose another --base-port)'
                             % ', '.join(map(str, busy[:10])))

    def check_inotify(self):
        with open('/proc/sys/fs/inotify/max_user_instances') as handle:
            limit = int(handle.read())
        used = 0
        for pid in all_pids():
            try:
                if os.stat('/proc/%d' % pid).st_uid != 0:
                    continue
                for fd in os.listdir('/proc/%d/fd' % pid):
                    try:
                        if os.readlink('/proc/%d/fd/%s' % (pid, fd)) == 'anon_inode:inotify':
                            used += 1
                    except OSError:
                        pass
            except OSError:
                pass
        need = used + INOTIFY_PER_HOST * self.n + 16
        self.inotify = {'limit': limit, 'in_use': used, 'needed': need}
        line = ('fs.inotify.max_user_instances = %d (root has ~%d in use; %d hosts need ~%d more, '
                'every systemd container shares root\'s budget)' % (limit, used, self.n,
                                                                    INOTIFY_PER_HOST * self.n))
        if need > limit:
            raise BenchError(line + ': TOO LOW. Raise it: sysctl -w fs.inotify.max_user_instances=%d '
                             '(scripts/setup-testhosts.sh sets 1024), or use fewer --hosts.'
                             % max(1024, need))
        say('    %s: ok' % line)

    def podman_names(self):
        out = subprocess.run(['podman', 'ps', '-a', '--filter', 'label=%s=1' % LABEL_KEY,
                              '--format', '{{.Names}}'], capture_output=True, text=True).stdout
        return [n for n in out.split() if n.startswith('bench-host-')]

    def remove_stale(self):
        stale = self.podman_names()
        if stale:
            say('    removing %d bench hosts left by an earlier run' % len(stale))
            subprocess.run(['podman', 'rm', '-f', '-t', '0'] + stale, capture_output=True)

    # -- hosts ---------------------------------------------------------------
    def start(self):
        """podman run every host (4 at a time) and, as each one is up, wait for its
        systemd and write its app log (podman exec), so boots overlap with starts."""
        script = PREPARE_SCRIPT.replace('@SERVICES@', ' '.join(SERVICES)).replace('@APP_LOG@', APP_LOG)
        runs = threading.Semaphore(4)

        def start(i):
            name = self.name(i)
            self.started_names.append(name)
            cmd = ['podman', 'run', '-d', '--name', name, '--hostname', name,
                   '--label', '%s=1' % LABEL_KEY, '--systemd=always',
                   '--network', 'slirp4netns',
                   '--publish', '127.0.0.1:%d:22' % self.port(i),
                   IMAGE, '/sbin/init']
            with runs:
                proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                raise BenchError('podman run %s failed: %s' % (name, proc.stderr.strip()[-400:]))
            proc = subprocess.run(['podman', 'exec', name, '/bin/sh', '-c', script, 'prepare', name],
                                  capture_output=True, text=True, timeout=180)
            if proc.returncode != 0:
                raise BenchError('preparing %s failed: %s'
                                 % (name, (proc.stderr or proc.stdout).strip()[-400:]))
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            for future in [pool.submit(start, i) for i in range(1, self.n + 1)]:
                future.result()

    def wait_for_banners(self, timeout=180):
        """sshd answers on every published port (cheap, before any ansible run)."""
        pending = set(range(1, self.n + 1))
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for i in sorted(pending):
                try:
                    with socket.create_connection(('127.0.0.1', self.port(i)), timeout=2) as sock:
                        sock.settimeout(3)
                        if sock.recv(64).startswith(b'SSH-'):
                            # Say who we are before closing: a client that leaves without an
                            # identification makes sshd log "kex_exchange_identification" at
                            # priority err, which the first inspection would report.
                            sock.sendall(b'SSH-2.0-dialysis-bench\r\n')
                            pending.discard(i)
                except OSError:
                    pass
            if pending:
                time.sleep(1)
        if pending:
            raise BenchError('sshd did not answer within %ds on: %s (check `podman logs %s`)'
                             % (timeout, ', '.join(self.name(i) for i in sorted(pending)[:10]),
                                self.name(min(pending))))

    def write_inventory(self, extra_hosts=None, extra_groups=None):
        """The bench hosts, plus `extra_hosts` ({name: variables}, e.g. the lab's) in
        `extra_groups` ({group: [names]})."""
        hosts = {}
        for system in SYSTEMS:
            hosts[system] = {'hosts': {}}
        for i in range(1, self.n + 1):
            system = SYSTEMS[(i - 1) % len(SYSTEMS)]
            hosts[system]['hosts'][self.name(i)] = {'ansible_port': self.port(i),
                                                   'dialysis_system': system}
        for group, members in (extra_groups or {}).items():
            hosts.setdefault(group, {'hosts': {}})
            for name in members:
                hosts[group]['hosts'][name] = None
        placed = set(n for members in (extra_groups or {}).values() for n in members)
        ungrouped = [n for n in extra_hosts or {} if n not in placed]
        if ungrouped:
            hosts['ungrouped'] = {'hosts': dict((n, None) for n in ungrouped)}
        hosts['windows'] = {'hosts': {}}
        inventory = {'all': {'vars': dict(HOSPITAL_VARS, **{
            'ansible_connection': 'ssh',
            'ansible_host': '127.0.0.1',
            'ansible_user': 'root',
            'ansible_ssh_private_key_file': self.key,
            'ansible_ssh_common_args': '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null '
                                       '-o IdentitiesOnly=yes -o LogLevel=ERROR',
            'inspection_services': SERVICES,
            'inspection_logs': [{'name': 'app', 'path': APP_LOG}],
            # The test hosts share the controller's two cores and its kernel (load
            # average, clock): CPU, load and clock sync say nothing about a host
            # here, so, as in molecule, their levels sit out of reach.
            'inspection_thresholds': {'cpu_percent': {'warning': 99.5, 'critical': 100},
                                      'load_per_core': {'warning': 50, 'critical': 100}},
            'inspection_clock_sync_required': False,
        }), 'children': hosts}}
        if extra_hosts:
            inventory['all']['hosts'] = extra_hosts
        with open(self.inventory, 'w', encoding='utf-8') as handle:
            handle.write('# Generated by bench/bench.py for %d bench hosts%s (127.0.0.1 only).\n'
                         % (self.n, ' and %d lab hosts' % len(extra_hosts) if extra_hosts else ''))
            json.dump(inventory, handle, indent=1, ensure_ascii=False)
            handle.write('\n')

    def wait_ping(self, runner):
        """Every host answers an ansible ping over SSH (a few tries while sshd settles)."""
        for attempt in range(1, 6):
            res = runner.run_ansible('setup-ping-%d' % attempt,
                                     ['ansible', 'all', '-i', self.inventory, '-m', 'ping'])
            if res['rc'] == 0:
                return
            say('    ping attempt %d: not every host answered yet (rc %d); retrying'
                % (attempt, res['rc']))
            time.sleep(3)
        raise BenchError('not every host answers an ansible ping; see %s' % res['log'])

    def remove(self):
        names = sorted(set(self.started_names) | set(self.podman_names()))
        if not names:
            return
        say('==> Removing %d bench hosts' % len(names))
        subprocess.run(['podman', 'rm', '-f', '-t', '0'] + names, capture_output=True)
        left = self.podman_names()
        if left:
            subprocess.run(['podman', 'rm', '-f', '-t', '0'] + left, capture_output=True)
            left = self.podman_names()
        if left:
            say('WARNING: bench hosts still present: %s' % ', '.join(left))
        self.started_names = []
