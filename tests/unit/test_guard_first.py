"""Every disruptive playbook runs the treatment-hours guard first (README,
"Safety guards"). A playbook is disruptive when a play uses a disruptive role (one
whose first task requires the guard's clearance, or one named after a disruptive
duty) or a module that changes services, packages, hosts or databases. Such a
playbook's first play must run the dialysis.ops.treatment_guard role for a duty,
over the same hosts as every later play that changes something; every disruptive
role must start by requiring the guard's clearance. A new disruptive playbook or
role without the guard fails this test."""

import glob
import os

import pytest
import yaml

from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_guard import DISRUPTIVE_DUTIES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GUARD = 'dialysis.ops.treatment_guard'
# Modules that restart, reboot, patch or write to a database.
CHANGING_MODULES = {
    'systemd', 'systemd_service', 'service', 'reboot', 'apt', 'dnf', 'yum', 'package', 'win_updates',
    'win_reboot', 'win_service', 'postgresql_query', 'postgresql_script', 'postgresql_db', 'mysql_query',
    'mysql_db',
}


def _short(name):
    return str(name).rsplit('.', maxsplit=1)[-1]


def _tasks(tasks):
    """Every task of a task list, blocks flattened."""
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        yield task
        for key in ('block', 'rescue', 'always'):
            yield from _tasks(task.get(key))


def _load(path):
    with open(path, encoding='utf-8') as handle:
        return yaml.safe_load(handle) or []


def _role_name(entry):
    name = entry.get('role') or entry.get('name') if isinstance(entry, dict) else entry
    return _short(name)


def _is_require(task):
    for key in ('ansible.builtin.include_role', 'include_role', 'ansible.builtin.import_role', 'import_role'):
        spec = task.get(key)
        if isinstance(spec, dict) and _short(spec.get('name', '')) == 'treatment_guard' \
                and str(spec.get('tasks_from', '')).startswith('require'):
            return True
    return False


def disruptive_roles(roles_dir):
    """Roles named after a disruptive duty or requiring the guard's clearance."""
    found = set()
    for path in glob.glob(os.path.join(roles_dir, '*', 'tasks', '*.yml')):
        role = path.split(os.sep)[-3]
        if role == 'treatment_guard':
            continue
        if role in DISRUPTIVE_DUTIES or any(_is_require(t) for t in _tasks(_load(path))):
            found.add(role)
    return found


# Entry points of disruptive roles that only read (a task file of the role, with the
# task files it includes): using one does not make a play disruptive. Each is checked
# below to hold no task that changes anything.
READ_ONLY_ENTRY_POINTS = {('upgrade', 'risk.yml')}


def _read_only_entry(spec):
    return (_short(spec.get('name', '')), str(spec.get('tasks_from', ''))) in READ_ONLY_ENTRY_POINTS


def _play_changes(play, roles):
    used = [_role_name(r) for r in play.get('roles') or []]
    for section in ('pre_tasks', 'tasks', 'post_tasks', 'handlers'):
        for task in _tasks(play.get(section)):
            for key in ('ansible.builtin.include_role', 'include_role', 'ansible.builtin.import_role',
                        'import_role'):
                spec = task.get(key)
                if isinstance(spec, dict) and not _is_require(task) and not _read_only_entry(spec):
                    used.append(_short(task[key].get('name', '')))
            if any(_short(key) in CHANGING_MODULES for key in task):
                return True
    return any(role in roles for role in used)


def _guard_duty(play):
    for entry in play.get('roles') or []:
        if _role_name(entry) == 'treatment_guard':
            variables = dict(play.get('vars') or {})
            if isinstance(entry, dict):
                variables.update(entry.get('vars') or {})
            return variables.get('treatment_guard_duty')
    return None


def problems(playbook, roles):
    """Why ``playbook`` breaks the rule ([] when it holds or it changes nothing)."""
    plays = [p for p in _load(playbook) if isinstance(p, dict) and 'hosts' in p]
    changing = [p for p in plays if _play_changes(p, roles)]
    if not changing:
        return []
    name = os.path.basename(playbook)
    first = plays[0]
    duty = _guard_duty(first)
    if duty is None:
        return ['%s changes hosts but its first play does not run %s' % (name, GUARD)]
    out = []
    if duty not in DISRUPTIVE_DUTIES:
        out.append('%s: treatment_guard_duty is %r; expected one of %s' % (name, duty, DISRUPTIVE_DUTIES))
    for play in changing:
        if play is not first and play['hosts'] != first['hosts']:
            out.append('%s: play %r runs on %r but the guard ran on %r' % (
                name, play.get('name'), play['hosts'], first['hosts']))
    return out


def role_problems(roles_dir, role):
    tasks = list(_tasks(_load(os.path.join(roles_dir, role, 'tasks', 'main.yml'))))
    if not tasks or not _is_require(tasks[0]):
        return ['role %s: its first task must include %s with tasks_from require.yml' % (role, GUARD)]
    return []


def test_every_disruptive_playbook_runs_the_guard_first_over_the_same_hosts():
    roles = disruptive_roles(os.path.join(ROOT, 'roles'))
    found = []
    for playbook in sorted(glob.glob(os.path.join(ROOT, 'playbooks', '*.yml'))):
        found.extend(problems(playbook, roles))
    assert found == []


def test_every_disruptive_role_requires_the_guards_clearance_first():
    roles_dir = os.path.join(ROOT, 'roles')
    found = []
    for role in sorted(disruptive_roles(roles_dir)):
        found.extend(role_problems(roles_dir, role))
    assert found == []


UNGUARDED = '''
- name: Restart the service
  hosts: app
  tasks:
    - name: Restart
      ansible.builtin.systemd:
        name: dialysis-service
        state: restarted
'''
GUARDED_ELSEWHERE = '''
- name: Guard
  hosts: db
  roles:
    - role: dialysis.ops.treatment_guard
      vars: {treatment_guard_duty: restart}
- name: Restart
  hosts: app
  roles: [dialysis.ops.restart]
'''
GUARDED = '''
- name: Guard
  hosts: app
  roles:
    - role: dialysis.ops.treatment_guard
      vars: {treatment_guard_duty: patch}
- name: Patch
  hosts: app
  serial: 1
  roles: [dialysis.ops.patch]
- name: Documents
  hosts: localhost
  tasks:
    - ansible.builtin.debug: {msg: done}
'''


@pytest.mark.parametrize('text, expected', [
    (UNGUARDED, ['new.yml changes hosts but its first play does not run dialysis.ops.treatment_guard']),
    (GUARDED_ELSEWHERE, ["new.yml: play 'Restart' runs on 'app' but the guard ran on 'db'"]),
    (GUARDED, []),
])
def test_the_rule_catches_a_new_playbook_without_the_guard(tmp_path, text, expected):
    path = tmp_path / 'new.yml'
    path.write_text(text)
    assert problems(str(path), {'restart', 'patch'}) == expected


def test_a_new_disruptive_role_without_the_require_task_is_caught(tmp_path):
    tasks = tmp_path / 'upgrade' / 'tasks'
    tasks.mkdir(parents=True)
    (tasks / 'main.yml').write_text('- name: Switch\n  ansible.builtin.file: {path: /x, state: link}\n')
    assert disruptive_roles(str(tmp_path)) == {'upgrade'}
    assert role_problems(str(tmp_path), 'upgrade') == [
        'role upgrade: its first task must include dialysis.ops.treatment_guard with tasks_from require.yml']


# Modules a read-only entry point may use: they read, or they only set variables.
READING_MODULES = {'assert', 'set_fact', 'debug', 'include_tasks', 'import_tasks', 'find', 'stat', 'slurp',
                   'health_check', 'upgrade_risk', 'command', 'shell'}
TASK_KEYWORDS = {'name', 'vars', 'when', 'loop', 'loop_control', 'register', 'delegate_to', 'run_once',
                 'changed_when', 'failed_when', 'check_mode', 'environment', 'no_log', 'block', 'rescue',
                 'always', 'ignore_errors', 'tags', 'become', 'until', 'retries', 'delay'}


def read_only_problems(roles_dir, role, entry, seen=None):
    """Why ROLE's task file ENTRY (and the files it includes) could change something."""
    seen = seen if seen is not None else set()
    if entry in seen:
        return []
    seen.add(entry)
    out = []
    for task in _tasks(_load(os.path.join(roles_dir, role, 'tasks', entry))):
        modules = [k for k in task if k not in TASK_KEYWORDS]
        for module in modules:
            short = _short(module)
            if short in ('include_tasks', 'import_tasks'):
                out.extend(read_only_problems(roles_dir, role, str(task[module]), seen))
            elif short == 'release_manifest' and (task[module] or {}).get('action') == 'read':
                continue
            elif short not in READING_MODULES:
                out.append('%s/%s: task %r uses %s' % (role, entry, task.get('name'), module))
            elif short in ('command', 'shell') and task.get('changed_when') is not False:
                out.append('%s/%s: task %r runs a command that may change something (changed_when is '
                           'not false)' % (role, entry, task.get('name')))
    return out


def test_the_read_only_entry_points_change_nothing():
    roles_dir = os.path.join(ROOT, 'roles')
    found = []
    for role, entry in sorted(READ_ONLY_ENTRY_POINTS):
        found.extend(read_only_problems(roles_dir, role, entry))
    assert found == []


def test_the_read_only_check_catches_a_changing_task(tmp_path):
    tasks = tmp_path / 'upgrade' / 'tasks'
    tasks.mkdir(parents=True)
    (tasks / 'risk.yml').write_text('- name: Read\n  ansible.builtin.include_tasks: more.yml\n')
    (tasks / 'more.yml').write_text('- name: Maintenance on\n  ansible.builtin.copy: {dest: /x, content: y}\n'
                                    '- name: Migrate\n  ansible.builtin.command: {argv: [migrate, up]}\n')
    assert read_only_problems(str(tmp_path), 'upgrade', 'risk.yml') == [
        "upgrade/more.yml: task 'Maintenance on' uses ansible.builtin.copy",
        "upgrade/more.yml: task 'Migrate' runs a command that may change something "
        '(changed_when is not false)']
