"""The bench's cases and its run: A ping, B inspect.yml with the records callback,
C the same without it, D the naive playbook, M the module alone, K as C with the
clinical items off, interleaved over the rounds on the test hosts and the lab's
three hemodialysis hosts (bench/labhosts.py); then the quarterly report timed on a synthetic
quarter (bench/synth_records.py). `Bench.run` is the whole bench."""

import datetime
import json
import os
import signal
import time

import summary
import synth_records
from common import BENCH_DIR, HOSPITAL_VARS, REPO, BenchError, git_revision, now_stamp, say
from hosts import APP_LOG, IMAGE, SERVICES, TestHosts, default_key
from labhosts import LabHosts, clinical_timing
from measure import HostsCpu, Runner, machine_info, run_rounds

CASES = {
    'A': 'ping (ansible all -m ping)',
    'B': 'inspect.yml, records callback on',
    'C': 'inspect.yml, records callback off',
    'D': 'naive one-task-per-metric playbook',
    'M': 'host_inspection alone (ad hoc)',
    'K': 'inspect.yml, callback off, clinical off',
}
# Case K: every host's clinical items off (only the lab hosts have any).
CLINICAL_OFF = ['-e', '{"inspection_clinical": {}}']
MODULE_ARGS = {'services': SERVICES, 'logs': [{'name': 'app', 'path': APP_LOG}],
               'clock_sync_required': False}
# Where the report timing finds the documents: what the report action returns (`paths`),
# written by bench/callback_plugins/bench_report_paths.py.
PATHS_CALLBACK_DIR = os.path.join(BENCH_DIR, 'callback_plugins')


class Bench(object):
    def __init__(self, args):
        self.args = args
        self.n = args.hosts
        self.stamp = now_stamp()
        self.results = os.path.join(args.results_dir, self.stamp)
        self.inventory = os.path.join(self.results, 'inventory.yml')
        self.runs = []
        self.notes = []
        self.env = dict(os.environ)
        self.env['PATH'] = os.path.join(REPO, '.venv', 'bin') + os.pathsep + self.env.get('PATH', '')
        self.env['ANSIBLE_CONFIG'] = os.path.join(REPO, 'ansible.cfg')
        self.env['ANSIBLE_NOCOLOR'] = '1'
        self.env['ANSIBLE_FORCE_COLOR'] = '0'
        self.env['ANSIBLE_DEPRECATION_WARNINGS'] = 'False'
        self.env['ANSIBLE_RETRY_FILES_ENABLED'] = 'False'
        # Everything the runs write stays under bench/results/ (never reports/).
        self.env['DIALYSIS_RECORDS_DIR'] = os.path.join(self.results, 'records-misc')
        self.env['DIALYSIS_REPORTS_DIR'] = os.path.join(self.results, 'reports-misc')
        self.env.pop('ANSIBLE_CALLBACKS_ENABLED', None)
        self.hosts = TestHosts(self.n, args.base_port, default_key(), self.inventory)
        self.lab = LabHosts(self.results, args.lab_base_port, args.lab_size) if args.lab else None
        self.hosts_cpu = HostsCpu(self.notes)
        self.runner = Runner(self.env, os.path.join(self.results, 'logs'), self.hosts_cpu.total, self.notes)
        self.setup_phases = {}
        self.setup_seconds = None
        self.t0 = time.monotonic()

    # -- cases ---------------------------------------------------------------
    def case_argv(self, case, rnd):
        inv = ['-i', self.inventory]
        extra = []
        for item in self.args.inspect_vars:
            extra += ['-e', item]
        if case == 'A':
            return ['ansible', 'all'] + inv + ['-m', 'ping'], {}
        if case == 'M':
            return ['ansible', 'all'] + inv + ['-m', 'dialysis.ops.host_inspection',
                                               '-a', json.dumps(MODULE_ARGS)] + extra, {}
        # B keeps one store over its rounds, as a hospital does: the log positions of a
        # round come from the previous round's records, so rounds after the first are
        # incremental scans like every monthly inspection after a host's first.
        records = os.path.join(self.results, 'records-B' if case == 'B' else 'records-%s-%d' % (case, rnd))
        env = {'DIALYSIS_RECORDS_DIR': records,
               'DIALYSIS_REPORTS_DIR': os.path.join(self.results, 'reports-%s-%d' % (case, rnd))}
        if case in 'BCK':
            argv = ['ansible-playbook'] + inv + [os.path.join(REPO, 'playbooks', 'inspect.yml')] \
                + self.inspect_report_off + extra + (CLINICAL_OFF if case == 'K' else [])
            if case in 'CK':
                # An empty ANSIBLE_CALLBACKS_ENABLED crashes ansible-core 2.19 ("A non-empty
                # plugin name is required"); naming only the stdout callback enables nothing.
                env['ANSIBLE_CALLBACKS_ENABLED'] = 'ansible.builtin.default'
            return argv, env
        return ['ansible-playbook'] + inv + [os.path.join(BENCH_DIR, 'naive_inspect.yml')], env

    @staticmethod
    def record_files(directory):
        """Run files of a record store (any depth: the store may keep one folder per hospital)."""
        found = []
        for root, _, names in os.walk(directory):
            found += [os.path.join(root, n) for n in names if n.endswith('.jsonl') and n != 'index.jsonl']
        return sorted(found)

    def run_case(self, case, rnd):
        argv, env = self.case_argv(case, rnd)
        earlier = set(self.record_files(env['DIALYSIS_RECORDS_DIR'])) if case in 'BCDK' else set()
        res = self.runner.run_ansible('%s round %d' % (case, rnd), argv, env, log_name='%d-%s' % (rnd, case))
        res.update(case=case, round=rnd)
        if case in 'BCDK':
            files = sorted(set(self.record_files(env['DIALYSIS_RECORDS_DIR'])) - earlier)
            res['record_files'] = len(files)
            if case in 'CK' and (files or os.path.exists(env['DIALYSIS_RECORDS_DIR'])):
                raise BenchError('case %s: the records callback was NOT disabled (%s written)'
                                 % (case, env['DIALYSIS_RECORDS_DIR']))
            if case in 'BD':
                if len(files) != 1:
                    raise BenchError('case %s: expected one record file in %s, found %d'
                                     % (case, env['DIALYSIS_RECORDS_DIR'], len(files)))
                last = self.last_line(files[0])
                if last.get('type') != 'run_end':
                    raise BenchError('case %s: %s has no run_end line' % (case, files[0]))
                res['callback_seconds'] = last.get('callback_seconds')
                res['callback_run_duration_s'] = last.get('duration')
                res['record_file'] = files[0]
                res['record_file_bytes'] = os.path.getsize(files[0])
                if case == 'B':
                    res['hosts_with_anomalies'] = self.anomalous_hosts(files[0])
                    if self.lab:
                        res['clinical_ms'] = clinical_timing(files[0])
        self.runs.append(res)
        flag = '' if res['rc'] == 0 else '  rc=%d FAILED (see %s)' % (res['rc'], res['log'])
        extra = ''
        if res.get('callback_seconds') is not None and case == 'B':
            extra = '  callback %.3f s' % res['callback_seconds']
        if res['foreign_ansible_processes']:
            extra += '  [other ansible/molecule running on the machine]'
        say('    %s %-36s wall %6.1f s  CPU s: controller %5.1f, hosts %5.1f, other %5.1f  '
            'tree PSS %5.0f MB%s%s' % (case, CASES[case], res['wall_s'], res['controller_cpu_s'],
                                       res['hosts_cpu_s'] or 0.0, res['other_cpu_s'],
                                       res['peak_tree_pss_mb'], extra, flag))
        return res

    @staticmethod
    def last_line(path):
        last = None
        with open(path, 'rb') as handle:
            for raw in handle:
                if raw.strip():
                    last = raw
        return json.loads(last.decode('utf-8')) if last else {}

    @staticmethod
    def anomalous_hosts(path):
        hosts = set()
        with open(path, 'rb') as handle:
            for raw in handle:
                line = json.loads(raw.decode('utf-8'))
                rec = line.get('record')
                if line.get('type') == 'result' and isinstance(rec, dict) and rec.get('anomalies'):
                    hosts.add(line.get('host'))
        return len(hosts)

    # -- report ----------------------------------------------------------------
    @staticmethod
    def returned_documents(paths_file):
        """The documents the report action says it wrote (its returned `paths`)."""
        documents = []
        if not os.path.exists(paths_file):
            return documents
        with open(paths_file, encoding='utf-8') as handle:
            for raw in handle:
                if not raw.strip():
                    continue
                for value in (json.loads(raw).get('paths') or {}).values():
                    for path in (value if isinstance(value, list) else [value]):
                        if isinstance(path, str) and path not in documents:
                            documents.append(path)
        return documents

    def report_phase(self):
        result = {'present': False}
        playbook = os.path.join(REPO, 'playbooks', 'report.yml')
        template = next((r.get('record_file') for r in self.runs
                         if r['case'] == 'B' and r['rc'] == 0 and r.get('record_file')), None)
        if template is None:
            say('    no successful inspection run to take a real record from: report step skipped')
            result['skipped'] = 'no template record'
            return result
        store = os.path.join(self.results, 'synth-store')
        inventory = os.path.join(self.results, 'synth-inventory.yml')
        t0 = time.monotonic()
        counts = synth_records.generate(template, store, hosts=self.args.synth_hosts,
                                        quarter='2026-Q4', inventory=inventory,
                                        hospital_vars=HOSPITAL_VARS)
        result['synth'] = dict(counts, seconds=round(time.monotonic() - t0, 2), store=store,
                                 template=template)
        say('    synthetic quarter: %(runs)d runs, %(records)d records (%(anomalous_records)d with '
            'anomalies, %(unreachable)d unreachable), %(hosts)d hosts, %(bytes)d bytes, '
            'from a real record of %(template_host)s' % counts)
        if not os.path.exists(playbook):
            say('    report playbook not present yet (playbooks/report.yml): report timing skipped')
            result['skipped'] = 'report playbook not present yet'
            return result
        result['present'] = True
        result['runs'] = []
        for number in range(1, self.args.report_runs + 1):
            out_dir = os.path.join(self.results, 'report-out-%d' % number)
            paths_file = os.path.join(self.results, 'report-paths-%d.jsonl' % number)
            argv = ['ansible-playbook', '-i', inventory, playbook,
                    '-e', 'report_period=quarter', '-e', 'report_quarter=2026-Q4',
                    '-e', 'report_records_dir=%s' % store, '-e', 'report_output_dir=%s' % out_dir,
                    # What a real inventory sets in group_vars/all (contract clause R13; the
                    # record store and the documents are per hospital).
                    '-e', json.dumps(HOSPITAL_VARS, ensure_ascii=False)]
            env = {'DIALYSIS_RECORDS_DIR': os.path.join(self.results, 'records-report-%d' % number),
                   'DIALYSIS_REPORTS_DIR': out_dir,
                   'ANSIBLE_CALLBACK_PLUGINS': PATHS_CALLBACK_DIR, 'BENCH_REPORT_PATHS': paths_file}
            res = self.runner.run_ansible('report %d' % number, argv, env, log_name='report-%d' % number)
            documents = self.returned_documents(paths_file)
            res['documents'] = documents
            res['documents_missing'] = [p for p in documents if not os.path.exists(p)]
            result['runs'].append(res)
            flag = '' if res['rc'] == 0 else '  rc=%d FAILED (see %s)' % (res['rc'], res['log'])
            if res['rc'] == 0 and not documents:
                flag += '  (the report action returned no paths)'
            if res['documents_missing']:
                flag += '  (%d returned paths missing)' % len(res['documents_missing'])
            say('    R quarterly report 2026-Q4 (%d hosts x %d days)  wall %6.1f s  controller CPU %6.1f s  '
                'largest process %4.0f MB  tree peak PSS %4.0f MB  %d documents%s'
                % (counts['hosts'], counts['runs'], res['wall_s'], res['controller_cpu_s'],
                   res['maxrss_largest_process_mb'], res['peak_tree_pss_mb'], len(documents), flag))
        return result

    # -- main ------------------------------------------------------------------
    def run(self):
        os.makedirs(os.path.join(self.results, 'logs'))
        self.revision = git_revision()
        say('==> dialysis-ops bench at %s: %d hosts, %d rounds, cases %s; results in %s'
            % (self.revision, self.n, self.args.rounds, ''.join(self.args.cases),
               os.path.relpath(self.results, REPO)))
        say('==> Preflight')
        self.hosts.preflight(self.env['PATH'])
        with open(os.path.join(REPO, 'playbooks', 'inspect.yml')) as handle:
            # inspect.yml may end with a play writing the month's documents; it is timed
            # on its own (report step), so the inspection runs here leave it out.
            mentions = 'inspect_report' in handle.read()
        self.inspect_report_off = ['-e', 'inspect_report=false'] if mentions else []
        status = 1
        report = {}
        try:
            say('==> Starting %d hosts from %s (ports %d-%d on 127.0.0.1)'
                % (self.n, IMAGE, self.hosts.port(1), self.hosts.port(self.n)))
            t = time.monotonic()
            phases = self.setup_phases
            self.hosts.start()
            phases['podman_run_systemd_up_app_log_s'] = round(time.monotonic() - t, 1)
            extra_hosts = extra_groups = None
            if self.lab:
                say('==> Starting the lab\'s hosts (lab/labctl.py: databases, seed data, services; '
                    'a few minutes)')
                t2 = time.monotonic()
                self.lab.up()
                phases['lab_up_s'] = round(time.monotonic() - t2, 1)
                say('    lab up in %.0f s' % phases['lab_up_s'])
                self.env.update(self.lab.env())
                extra_hosts, extra_groups = self.lab.inventory_part()
            self.hosts_cpu.find(self.hosts.started_names + (self.lab.names if self.lab else []))
            t1 = time.monotonic()
            self.hosts.wait_for_banners()
            self.runner.become_subreaper()
            self.hosts.write_inventory(extra_hosts, extra_groups)
            self.hosts.wait_ping(self.runner)
            phases['ssh_and_ansible_ping_s'] = round(time.monotonic() - t1, 1)
            self.setup_seconds = round(time.monotonic() - t, 1)
            lab_text = (' + %d lab hosts' % len(self.lab.names), 'lab %.0f s, ' % phases['lab_up_s']) \
                if self.lab else ('', '')
            say('    %d hosts%s up in %.0f s (podman run + systemd up + app log %.0f s, %s'
                'SSH + ansible ping %.0f s)' % (self.n, lab_text[0], self.setup_seconds,
                                                phases['podman_run_systemd_up_app_log_s'], lab_text[1],
                                                phases['ssh_and_ansible_ping_s']))
            run_rounds(self.args.rounds, self.args.cases, self.run_case, self.runs, self.t0)
            self.hosts.remove()
            if self.lab:
                self.lab.down()
            if not self.args.skip_report:
                say('==> Quarterly report on a synthetic quarter')
                report = self.report_phase()
            failed = [r for r in self.runs if r['rc'] != 0] + \
                [r for r in report.get('runs', []) if r['rc'] != 0]
            status = 1 if failed else 0
        finally:
            old = signal.signal(signal.SIGINT, signal.SIG_IGN)
            try:
                self.runner.stop_masters()
                self.hosts.remove()
                if self.lab:
                    self.lab.down()
                self.runner.remove_control_dirs()
                self.runner.reap()
            finally:
                signal.signal(signal.SIGINT, old)
        cases, ratios = summary.summarize(self.runs, dict((c, CASES[c]) for c in self.args.cases),
                                          self.args.rounds, report)
        summary.print_summary(self.n + (len(self.lab.names) if self.lab else 0), self.args.rounds, cases,
                              ratios, report)
        total = time.monotonic() - self.t0
        doc = {'stamp': self.stamp, 'date': datetime.datetime.now().astimezone().isoformat(),
               'revision': self.revision, 'revision_at_end': git_revision(),
               'hosts': self.n, 'lab_hosts': len(self.lab.names) if self.lab else 0,
               'rounds': self.args.rounds, 'cases': cases, 'ratios': ratios,
               'report': report, 'runs': self.runs, 'total_seconds': round(total, 1),
               'setup_seconds': self.setup_seconds, 'setup_phases': self.setup_phases,
               'machine': machine_info(), 'inotify': self.hosts.inotify,
               'inspect_extra_vars': self.inspect_report_off
               + sum((['-e', v] for v in self.args.inspect_vars), []),
               'notes': self.notes}
        if doc['revision_at_end'] != self.revision:
            say('NOTE: the checkout changed during the run (%s -> %s): the rounds may have measured '
                'different code' % (self.revision, doc['revision_at_end']))
        path = summary.write_results(doc, self.results, self.args.results_dir)
        summary.print_end(total, path, status, os.path.join(self.results, 'logs'))
        return status
