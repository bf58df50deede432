"""What the duty benches (bench/duty_dbcare.py, duty_restore.py, duty_upgrade.py) share:
a lab of their own started and removed by lab/labctl.py under a prefix, its inventory
and lab.env, commands on its hosts (podman exec), ansible-playbook runs with the lab's
environment and a record store under bench/results/, and the suite's figures printed
beside their targets (PASS/MISS, never a failed exit) and written to duty.json.

Nothing is written outside bench/results/ (git-ignored): records, documents, logs."""

import datetime
import json
import os
import signal
import subprocess
import sys
import time

import yaml
from common import BENCH_DIR, REPO, BenchError, git_revision, say
from dutystats import format_figure, read_records

sys.path.insert(0, os.path.join(REPO, 'lab'))

import labctl  # noqa: E402

RESULTS_DIR = os.path.join(BENCH_DIR, 'results')
VENV_BIN = os.path.dirname(sys.executable)


def loadavg():
    return [round(x, 2) for x in os.getloadavg()]


def env_file(path):
    """DIALYSIS_LAB_* of a lab.env (the lab's passwords), as labctl writes it."""
    return labctl.read_env_file(path)


class Lab(object):
    """A lab of the suite's own: `labctl.py up --prefix P --base-port B --hosts ...`."""

    def __init__(self, suite, prefix, base_port, hosts, size=None, plant=None):
        self.suite = suite
        self.prefix = prefix
        self.base_port = base_port
        self.hosts = list(hosts)
        self.size = size
        self.plant = plant
        self.inventory_dir = os.path.join(suite.results, 'lab-inventory')
        self.inventory = os.path.join(self.inventory_dir, 'hosts.yml')
        self.log = os.path.join(suite.logs, 'lab.log')
        self.up_seconds = None
        self._vars = None

    def _labctl(self, *argv, timeout=900):
        cmd = [sys.executable, os.path.join(REPO, 'lab', 'labctl.py')] + list(argv) + [
            '--prefix', self.prefix, '--inventory', self.inventory_dir]
        with open(self.log, 'a') as out:
            out.write('\n$ %s\n' % ' '.join(cmd))
            out.flush()
            return subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, cwd=REPO,
                                  env=dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ['PATH'])
                                  ).returncode

    def up(self, plant=None):
        """Start and provision (or, on a running lab, re-plant) the hosts."""
        argv = ['up', '--base-port', str(self.base_port), '--hosts', ','.join(self.hosts)]
        if self.size:
            argv += ['--size', str(self.size)]
        plant = plant if plant is not None else self.plant
        if plant:
            argv += ['--plant', plant]
        started = time.monotonic()
        say('    lab %s: labctl up %s (log %s)' % (self.prefix, ' '.join(argv[1:]), self.suite.rel(self.log)))
        rc = self._labctl(*argv)
        if rc != 0:
            raise BenchError('lab/labctl.py up failed (rc %d); see %s' % (rc, self.log))
        self.up_seconds = round(time.monotonic() - started, 1)
        self._vars = None
        return self.up_seconds

    def down(self):
        self._labctl('down', timeout=300)

    def env(self):
        return env_file(os.path.join(self.inventory_dir, labctl.ENV_FILE))

    def hostvars(self, host):
        """all.vars merged with the host's own variables, from the inventory labctl wrote."""
        if self._vars is None:
            with open(self.inventory, encoding='utf-8') as handle:
                self._vars = yaml.safe_load(handle)['all']
        merged = dict(self._vars.get('vars') or {})
        merged.update(self._vars['hosts'][host])
        return merged

    def port(self, host, container_port):
        """The port on 127.0.0.1 where the host's container_port is published."""
        return self.base_port + labctl.BY_NAME[host].published[container_port]

    def container(self, host):
        return '%s-%s' % (self.prefix, host)

    def exec(self, host, argv, stdin=None, timeout=300, check=True, detach=False):
        """A command in the host's container (as root); the CompletedProcess (text)."""
        cmd = ['podman', 'exec'] + (['-i'] if stdin is not None else []) + (['-d'] if detach else []) + [
            self.container(host)] + list(argv)
        proc = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise BenchError('%s: %s failed (rc %d): %s' % (host, ' '.join(argv)[:200], proc.returncode,
                                                             (proc.stderr or proc.stdout)[-800:]))
        return proc

    def psql(self, host, database, sql, timeout=300):
        """Rows (lists of strings) of sql as postgres (peer authentication, no password)."""
        out = self.exec(host, ['runuser', '-u', 'postgres', '--', 'psql', '-X', '-q', '-A', '-t', '-v',
                               'ON_ERROR_STOP=1', '-d', database, '-c', sql], timeout=timeout).stdout
        return [line.split('|') for line in out.splitlines() if line]

    def mariadb(self, host, database, sql, timeout=300):
        """Rows of sql as root over the socket."""
        out = self.exec(host, ['mariadb', '-N', '-B', database, '-e', sql], timeout=timeout).stdout
        return [line.split('\t') for line in out.splitlines() if line]


class Run(object):
    """One ansible-playbook run: rc, wall seconds, epoch start/end, its records and log."""

    def __init__(self, rc, start, end, log, records, run_file):
        self.rc = rc
        self.start = start
        self.end = end
        self.seconds = round(end - start, 2)
        self.log = log
        self.records = records
        self.run_file = run_file

    def kind(self, kind):
        return [r for r in self.records if r.get('kind') == kind]


class Suite(object):
    """One duty bench: its results directory, its lab, its figures, its duty.json."""

    def __init__(self, name, description):
        self.name = name
        self.description = description
        self.stamp = datetime.datetime.now().strftime('%Y%m%dT%H%M%S')
        self.results = os.path.join(RESULTS_DIR, '%s-%s' % (self.stamp, name))
        self.logs = os.path.join(self.results, 'logs')
        self.records_dir = os.path.join(self.results, 'records')
        for path in (self.logs, self.records_dir):
            os.makedirs(path, exist_ok=True)
        self.figures = []
        self.measurements = {}
        self.started = time.time()
        self.load_start = loadavg()
        self.revision = git_revision()
        self.lab = None
        self._runs = 0

    def rel(self, path):
        return os.path.relpath(path, REPO)

    def add(self, entry):
        self.figures.append(entry)

    def run_playbook(self, playbook, extra=None, check=False, name=None, timeout=1800, background=False):
        """ansible-playbook <playbook> on the lab's inventory with lab.env, the records callback
        writing into the suite's store, documents into the suite's results; extra variables as
        one JSON file (-e @file). With background=True, (Popen, finish) where finish() waits and
        returns the Run."""
        self._runs += 1
        label = name or os.path.splitext(os.path.basename(playbook))[0]
        base = os.path.join(self.logs, '%02d-%s' % (self._runs, label))
        argv = [os.path.join(VENV_BIN, 'ansible-playbook'), '-i', self.lab.inventory,
                os.path.join(REPO, 'playbooks', playbook)]
        if extra:
            with open(base + '.vars.json', 'w', encoding='utf-8') as handle:
                json.dump(extra, handle, indent=1)
            argv += ['-e', '@%s' % (base + '.vars.json')]
        if check:
            argv.append('--check')
        env = dict(os.environ, **self.lab.env())
        env.update(PATH=VENV_BIN + os.pathsep + os.environ['PATH'],
                   ANSIBLE_CONFIG=os.path.join(REPO, 'ansible.cfg'),
                   DIALYSIS_RECORDS_DIR=self.records_dir,
                   DIALYSIS_REPORTS_DIR=os.path.join(self.results, 'reports'),
                   ANSIBLE_SSH_CONTROL_PATH_DIR=os.path.join(self.results, 'cp'))
        log = base + '.log'
        out = open(log, 'w', encoding='utf-8')
        start = time.time()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, env=env,
                                start_new_session=True)

        def finish():
            try:
                rc = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait()
                raise BenchError('%s did not end within %d s; see %s' % (playbook, timeout, log)) from exc
            finally:
                out.close()
            end = time.time()
            run_file = None
            with open(log, encoding='utf-8', errors='replace') as handle:
                for line in handle:
                    if 'Records written to ' in line:
                        run_file = line.split('Records written to ', 1)[1].strip()
            records = []
            if run_file and os.path.exists(run_file):
                with open(run_file, encoding='utf-8') as handle:
                    records = read_records(handle)
            return Run(rc, start, end, log, records, run_file)

        if background:
            return proc, finish
        return finish()

    def print_figures(self, title):
        say()
        say('==> %s: %s' % (self.name, title))
        for entry in self.figures:
            say(format_figure(entry))

    def finish(self, extra=None):
        """duty.json (and latest-<suite>.json) with the figures, load averages and date."""
        doc = {'suite': self.name, 'description': self.description, 'revision': self.revision,
               'revision_at_end': git_revision(),
               'started': datetime.datetime.fromtimestamp(self.started, datetime.timezone.utc).isoformat(),
               'seconds': round(time.time() - self.started, 1),
               'loadavg_start': self.load_start, 'loadavg_end': loadavg(), 'nproc': os.cpu_count(),
               'figures': self.figures, 'measurements': self.measurements}
        if extra:
            doc.update(extra)
        path = os.path.join(self.results, 'duty.json')
        with open(path, 'w', encoding='utf-8') as handle:
            json.dump(doc, handle, indent=1, ensure_ascii=False)
        with open(os.path.join(RESULTS_DIR, 'latest-%s.json' % self.name), 'w', encoding='utf-8') as handle:
            json.dump(doc, handle, indent=1, ensure_ascii=False)
        say('    load average (1/5/15 min) at start %s, at end %s; %d cores'
            % (doc['loadavg_start'], doc['loadavg_end'], doc['nproc']))
        say('==> %s: %.0f s; figures in %s' % (self.name, doc['seconds'], self.rel(path)))
        return doc


def main(suite_name, description, body, prefix, base_port, hosts, keep_lab=False, reuse_lab=False,
         **lab_args):
    """Run body(suite) with a lab started first and always removed (also on Ctrl-C and
    SIGTERM) unless keep_lab; reuse_lab keeps a running lab of the prefix (labctl up recreates
    nothing, provisioning re-plants). Exit 1 when the bench itself failed, 0 otherwise (a MISS
    is not a failure)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def on_term(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_term)
    suite = Suite(suite_name, description)
    say('==> %s: %s (results %s; load average %s)' % (suite_name, description, suite.rel(suite.results),
                                                      suite.load_start))
    suite.lab = Lab(suite, prefix, base_port, hosts, **lab_args)
    status = 0
    try:
        if not reuse_lab:
            suite.lab.down()                 # a lab a killed earlier run left behind
        suite.lab.up()
        say('    lab up in %.0f s' % suite.lab.up_seconds)
        body(suite)
    except BenchError as exc:
        say('ERROR: %s' % exc)
        status = 1
    except KeyboardInterrupt:
        say('interrupted')
        status = 130
    finally:
        if not keep_lab:
            suite.lab.down()
    suite.finish({'status': status})
    return status
