#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dialysis-ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r'''
---
module: release_manifest
short_description: Release directories, the current symlink and the release manifest of an app host
description:
  - Keeps an application's releases as immutable versioned directories (C(<base_dir>/releases/<version>)),
    a C(current) symlink pointing at one of them, and a manifest (C(<base_dir>/manifest.json)) saying
    which release is C(current), which was C(previous) and which is the C(last_known_good), each with
    its health history, the upgrade or rollback in progress (its state, such as C(migrating)) and the
    history of every switch. Rollback targets come from the manifest, never from directory times.
  - C(read) returns the manifest (built from the C(current) symlink when there is none yet) and the
    releases on disk with their C(release.json). C(install) unpacks a release archive into its
    directory once; an existing directory must hold exactly the archive's files (releases are
    immutable - a changed build needs a new version). C(begin), C(advance) and C(finish) keep the
    operation in progress, so that a run killed half-way is found by the next one. C(switch) points
    C(current) at another release atomically (a new symlink renamed over the old one). C(health)
    appends a health check result to the release's history; a healthy final check makes it the
    last known good release.
  - Never deletes a release directory - a failed release stays on disk for forensics.
version_added: "1.3.0"
author:
  - dialysis-ops contributors (@dialysis-ops)
options:
  action:
    description: What to do (see the description).
    type: str
    required: true
    choices: [read, install, begin, advance, switch, health, finish]
  base_dir:
    description: The application's directory (holds C(releases/), C(current) and the manifest).
    type: path
    default: /opt/dialysis-service
  version:
    description: The release (C(install), C(switch), C(health)).
    type: str
  archive:
    description:
      - Path on the host of the release tarball for C(install) (its top directory is stripped, as
        C(tar --strip-components=1) does); it must hold a C(release.json) naming O(version).
    type: path
  operation:
    description:
      - For C(begin) - the operation now in progress (C(kind) upgrade or rollback, C(from), C(to), C(state),
        and what the run wants to find again - the pre-migration schema, the backup). For C(advance) - keys
        merged into it (a new C(state)).
    type: dict
  healthy:
    description: For C(health) - whether the release passed its checks.
    type: bool
  final:
    description:
      - For C(health) - the check after the service took writes again.
      - Healthy and final makes the release the last known good.
    type: bool
    default: false
  detail:
    description: For C(health) and C(finish) - a short text kept with the entry (failed checks, why).
    type: str
    default: ''
  outcome:
    description: For C(finish) - how the operation ended (upgraded, rolled_back_automatically...).
    type: str
  run_id:
    description: The run that acts (kept with every entry it writes).
    type: str
  keep_health:
    description: Health entries kept per release (the newest).
    type: int
    default: 20
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed, when in diff mode.
    support: none
notes:
  - Python 3.8 or later on the host, standard library only. Run as root (the release files are root's).
  - C(read) and an C(install) of a release already on disk report no change; C(switch) to the release
    C(current) already points at changes nothing.
'''

EXAMPLES = r'''
- name: Read the manifest and the releases on disk
  dialysis.ops.release_manifest:
    action: read
  register: manifest

- name: Install release 1.1 (once; an existing directory must match the archive)
  dialysis.ops.release_manifest:
    action: install
    version: "1.1"
    archive: /opt/dialysis-service/archives/dialysis-service-1.1.tar.gz

- name: Point current at 1.1
  dialysis.ops.release_manifest:
    action: switch
    version: "1.1"
'''

RETURN = r'''
manifest:
  description: The manifest after the action (what it would be in check mode).
  returned: always
  type: dict
current_version:
  description: The release the C(current) symlink points at (null when there is no symlink).
  returned: always
  type: str
releases:
  description: The releases on disk, by version, each with the keys of its C(release.json).
  returned: always
  type: dict
'''

import datetime
import hashlib
import json
import os
import shutil
import tarfile
import tempfile

from ansible.module_utils.basic import AnsibleModule

FORMAT = 1
VERSION_CHARS = set('abcdefghijklmnopqrstuvwxyz0123456789.-_')


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds').replace('+00:00', 'Z')


class ManifestError(Exception):
    pass


def check_version(version):
    if not version or not set(str(version).lower()) <= VERSION_CHARS or str(version).startswith('.'):
        raise ManifestError(
            'version: expected a release name such as 1.1 (letters, digits, . - _), got %r' % (version,)
        )
    return str(version)


class Releases(object):
    """The release directories, the current symlink and the manifest under ``base_dir``."""

    def __init__(self, base_dir):
        self.base = base_dir
        self.releases_dir = os.path.join(base_dir, 'releases')
        self.link = os.path.join(base_dir, 'current')
        self.path = os.path.join(base_dir, 'manifest.json')

    def directory(self, version):
        return os.path.join(self.releases_dir, check_version(version))

    def current_version(self):
        if not os.path.islink(self.link):
            return None
        return os.path.basename(os.path.normpath(os.readlink(self.link)))

    def on_disk(self):
        found = {}
        if not os.path.isdir(self.releases_dir):
            return found
        for name in sorted(os.listdir(self.releases_dir)):
            meta = os.path.join(self.releases_dir, name, 'release.json')
            if name.startswith('.') or not os.path.isfile(meta):
                continue
            try:
                with open(meta) as handle:
                    info = json.load(handle)
            except (IOError, OSError, ValueError) as exc:
                info = {'error': 'unreadable release.json: %s' % exc}
            found[name] = info if isinstance(info, dict) else {'error': 'release.json is not an object'}
        return found

    def load(self):
        """The manifest, or a new one describing what the symlink says."""
        if os.path.exists(self.path):
            try:
                with open(self.path) as handle:
                    data = json.load(handle)
            except (IOError, OSError, ValueError) as exc:
                raise ManifestError(
                    '%s is unreadable (%s): fix or move it aside; the releases and the current '
                    'symlink are untouched' % (self.path, exc)
                ) from exc
            if not isinstance(data, dict) or data.get('format') != FORMAT:
                raise ManifestError('%s: expected a manifest of format %d' % (self.path, FORMAT))
            return data
        data = {
            'format': FORMAT,
            'releases': {},
            'current': None,
            'previous': None,
            'last_known_good': None,
            'operation': None,
            'history': [],
        }
        current = self.current_version()
        if current:
            data['releases'][current] = {
                'installed_at': None,
                'sha256': None,
                'status': 'unknown',
                'health': [],
            }
            data['current'] = {'version': current, 'since': None}
        return data

    @staticmethod
    def views(data):
        """current, previous and last_known_good with the health history of their release."""
        for key in ('current', 'previous', 'last_known_good'):
            entry = data.get(key)
            if isinstance(entry, dict) and entry.get('version'):
                release = data['releases'].get(entry['version']) or {}
                entry['health'] = list(release.get('health') or [])
        return data

    def save(self, data):
        data = self.views(data)
        handle, tmp = tempfile.mkstemp(prefix='.manifest.', dir=self.base)
        try:
            with os.fdopen(handle, 'w') as out:
                json.dump(data, out, indent=2, sort_keys=True, ensure_ascii=False)
                out.write('\n')
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            os.rename(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def switch_link(self, version):
        target = self.directory(version)
        tmp = os.path.join(self.base, '.current.%d' % os.getpid())
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        os.rename(tmp, self.link)


def _members(archive):
    """(tarfile, [(member, relative path)]) with the top directory stripped; refuses unsafe names."""
    tar = tarfile.open(archive, 'r:*')
    out = []
    for member in tar.getmembers():
        parts = member.name.split('/')[1:]
        rel = '/'.join(p for p in parts if p not in ('', '.'))
        if not rel:
            continue
        if member.name.startswith('/') or '..' in rel.split('/') or not (member.isfile() or member.isdir()):
            tar.close()
            raise ManifestError(
                '%s: refusing member %r (absolute, parent or special file)' % (archive, member.name)
            )
        out.append((member, rel))
    return tar, out


def _sha256_file(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for block in iter(lambda: handle.read(1 << 16), b''):
            digest.update(block)
    return digest.hexdigest()


def _differences(tar, members, directory):
    """Files whose content on disk differs from the archive's (or are missing)."""
    diff = []
    for member, rel in members:
        if not member.isfile():
            continue
        path = os.path.join(directory, rel)
        if not os.path.isfile(path):
            diff.append(rel)
            continue
        digest = hashlib.sha256(tar.extractfile(member).read()).hexdigest()
        if digest != _sha256_file(path):
            diff.append(rel)
    return diff


def install(rel, data, version, archive, run_id, check_mode):
    """Unpack ``archive`` into releases/<version> once. Returns (changed, message)."""
    directory = rel.directory(version)
    if check_mode and archive and not os.path.exists(archive) and not os.path.isdir(directory):
        return True, 'would install release %s (its archive is copied in the same run)' % version
    if not archive or not os.path.isfile(archive):
        raise ManifestError(
            'archive: expected the path of the release tarball on the host, got %r' % (archive,)
        )
    sha = _sha256_file(archive)
    tar, members = _members(archive)
    try:
        names = dict((r, m) for m, r in members)
        if 'release.json' not in names:
            raise ManifestError('%s holds no release.json: not a release archive' % archive)
        info = json.loads(tar.extractfile(names['release.json']).read().decode('utf-8'))
        if str(info.get('version')) != version:
            raise ManifestError('%s is release %s, not %s' % (archive, info.get('version'), version))
        known = data['releases'].get(version) or {}
        if os.path.isdir(directory):
            if known.get('sha256') == sha:
                return False, 'release %s is installed' % version
            diff = _differences(tar, members, directory)
            if diff:
                raise ManifestError(
                    'release %s on disk (%s) differs from the archive (%s: %s): releases are immutable - '
                    'build the change as a new version; the directory is left as it is'
                    % (version, directory, os.path.basename(archive), ', '.join(sorted(diff)[:5]))
                )
            if not check_mode:
                data['releases'][version] = dict(
                    known,
                    sha256=sha,
                    status=known.get('status', 'unknown'),
                    installed_at=known.get('installed_at'),
                    health=known.get('health', []),
                )
                rel.save(data)
            return (
                True,
                'release %s on disk matches the archive; its checksum is now in the manifest' % version,
            )
        if check_mode:
            return True, 'would install release %s' % version
        if not os.path.isdir(rel.releases_dir):
            os.makedirs(rel.releases_dir, 0o755)
        partial = os.path.join(rel.releases_dir, '.%s.partial' % version)
        if os.path.exists(partial):
            shutil.rmtree(partial)
        os.makedirs(partial, 0o755)
        for member, relpath in members:
            path = os.path.join(partial, relpath)
            if member.isdir():
                if not os.path.isdir(path):
                    os.makedirs(path, 0o755)
                os.chmod(path, member.mode & 0o755 | 0o755)
                continue
            parent = os.path.dirname(path)
            if not os.path.isdir(parent):
                os.makedirs(parent, 0o755)
            with open(path, 'wb') as out:
                shutil.copyfileobj(tar.extractfile(member), out)
            os.chmod(path, member.mode & 0o755)
        os.rename(partial, directory)
    finally:
        tar.close()
    data['releases'][version] = {
        'installed_at': _now(),
        'sha256': sha,
        'status': 'unknown',
        'health': [],
        'installed_by': run_id,
    }
    rel.save(data)
    return True, 'installed release %s' % version


def run(module, rel, params, check_mode):
    action = params['action']
    data = rel.load()
    changed, msg = False, ''
    version = params.get('version')
    if action in ('install', 'switch', 'health'):
        version = check_version(version)
    if action == 'read':
        msg = 'current release %s' % rel.current_version()
    elif action == 'install':
        changed, msg = install(rel, data, version, params.get('archive'), params.get('run_id'), check_mode)
    elif action == 'begin':
        operation = dict(params.get('operation') or {})
        if operation.get('kind') not in ('upgrade', 'rollback') or not operation.get('state'):
            raise ManifestError(
                'operation: expected kind (upgrade or rollback) and state, got %r' % (operation,)
            )
        operation.setdefault('started', _now())
        operation['run_id'] = params.get('run_id')
        data['operation'] = operation
        changed, msg = (
            True,
            '%s %s -> %s: %s'
            % (operation['kind'], operation.get('from'), operation.get('to'), operation['state']),
        )
    elif action == 'advance':
        if not data.get('operation'):
            raise ManifestError('advance: no operation in progress in %s' % rel.path)
        update = dict(params.get('operation') or {})
        new = dict(data['operation'], **update)
        changed = new != data['operation']
        if changed:
            new['updated'] = _now()
        data['operation'] = new
        msg = 'operation state %s' % new.get('state')
    elif action == 'switch':
        if not os.path.isfile(os.path.join(rel.directory(version), 'release.json')):
            raise ManifestError(
                'release %s is not on disk (%s): install it first' % (version, rel.directory(version))
            )
        current = rel.current_version()
        if current != version:
            changed = True
            if not check_mode:
                rel.switch_link(version)
            now = _now()
            data['releases'].setdefault(
                version, {'installed_at': None, 'sha256': None, 'status': 'unknown', 'health': []}
            )
            if current:
                data['previous'] = {
                    'version': current,
                    'since': (data.get('current') or {}).get('since'),
                    'until': now,
                }
            data['current'] = {'version': version, 'since': now}
            data['history'].append(
                {'at': now, 'event': 'switch', 'from': current, 'to': version, 'run_id': params.get('run_id')}
            )
        msg = 'current -> %s' % version
    elif action == 'health':
        if params.get('healthy') is None:
            raise ManifestError('healthy: expected true or false for action health')
        release = data['releases'].setdefault(
            version, {'installed_at': None, 'sha256': None, 'status': 'unknown', 'health': []}
        )
        entry = {
            'at': _now(),
            'healthy': params['healthy'],
            'final': params['final'],
            'run_id': params.get('run_id'),
        }
        if params.get('detail'):
            entry['detail'] = params['detail'][:500]
        release['health'] = (list(release.get('health') or []) + [entry])[-max(1, params['keep_health']) :]
        if not params['healthy']:
            release['status'] = 'failed'
        elif params['final']:
            release['status'] = 'good'
            data['last_known_good'] = {'version': version, 'since': entry['at']}
        changed, msg = True, 'release %s %s' % (version, 'healthy' if params['healthy'] else 'unhealthy')
    elif action == 'finish':
        operation = data.get('operation')
        if operation:
            data['history'].append(
                {
                    'at': _now(),
                    'event': operation.get('kind'),
                    'from': operation.get('from'),
                    'to': operation.get('to'),
                    'outcome': params.get('outcome'),
                    'detail': params.get('detail') or None,
                    'run_id': params.get('run_id'),
                }
            )
            data['operation'] = None
            changed = True
        msg = 'operation finished: %s' % params.get('outcome')
    if changed and not check_mode and action in ('begin', 'advance', 'switch', 'health', 'finish'):
        rel.save(data)
    return changed, msg, data


def main():
    module = AnsibleModule(
        argument_spec=dict(
            action=dict(
                type='str',
                required=True,
                choices=['read', 'install', 'begin', 'advance', 'switch', 'health', 'finish'],
            ),
            base_dir=dict(type='path', default='/opt/dialysis-service'),
            version=dict(type='str'),
            archive=dict(type='path'),
            operation=dict(type='dict'),
            healthy=dict(type='bool'),
            final=dict(type='bool', default=False),
            detail=dict(type='str', default=''),
            outcome=dict(type='str'),
            run_id=dict(type='str'),
            keep_health=dict(type='int', default=20),
        ),
        supports_check_mode=True,
    )
    rel = Releases(module.params['base_dir'])
    if not os.path.isdir(rel.base):
        module.fail_json(msg='base_dir: %s is not a directory on %s' % (rel.base, 'this host'))
    try:
        changed, msg, data = run(module, rel, module.params, module.check_mode)
    except (ManifestError, OSError, tarfile.TarError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(
        changed=changed,
        msg=msg,
        manifest=Releases.views(data),
        current_version=rel.current_version(),
        releases=rel.on_disk(),
    )


if __name__ == '__main__':
    main()
