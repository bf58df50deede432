#!/usr/bin/env python3
"""Build the patch scenario's dummy package and a flat apt repository (standard library
and dpkg-deb only, on the controller).

    make_repo.py OUTDIR VERSION [VERSION ...] [--with DIR]

writes OUTDIR/dialysis-dummy_<version>_all.deb for every version, copies the .deb
files of DIR (--with: Debian's own packages the hosts need from this repository),
and writes the flat repository's index of every .deb in OUTDIR: Packages, Packages.gz and Release (Origin
dialysis-lab, Suite dialysis-lab-security, so apt files the update as a security
update). Hosts use it as `deb [trusted=yes] file:/srv/dialysis-repo ./`. Deterministic:
the same versions give the same bytes, so copying it again changes nothing."""

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

PACKAGE = 'dialysis-dummy'
CONTROL = """Package: {name}
Version: {version}
Architecture: all
Maintainer: dialysis-ops lab <lab@example.invalid>
Section: misc
Priority: optional
Description: dummy package of the dialysis-ops patch scenario
 Installs /usr/share/dialysis-dummy/VERSION and nothing else.
"""
RELEASE = """Origin: dialysis-lab
Date: Thu, 01 Jan 1970 00:00:00 UTC
Label: dialysis-lab
Suite: dialysis-lab-security
Codename: dialysis-lab-security
Architectures: all amd64 arm64
Components: main
Description: dialysis-ops patch scenario repository
"""


def build_deb(outdir, version):
    path = os.path.join(outdir, '%s_%s_all.deb' % (PACKAGE, version))
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, 'DEBIAN'))
        os.makedirs(os.path.join(root, 'usr', 'share', PACKAGE))
        with open(os.path.join(root, 'DEBIAN', 'control'), 'w') as handle:
            handle.write(CONTROL.format(name=PACKAGE, version=version))
        with open(os.path.join(root, 'usr', 'share', PACKAGE, 'VERSION'), 'w') as handle:
            handle.write(version + '\n')
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                os.utime(os.path.join(dirpath, name), (0, 0))
        os.utime(root, (0, 0))
        env = dict(os.environ, SOURCE_DATE_EPOCH='0')
        subprocess.run(['dpkg-deb', '--root-owner-group', '-Zgzip', '--build', root, path],
                       check=True, stdout=subprocess.DEVNULL, env=env)
    return path


def stanza(deb):
    """The Packages entry of one .deb: its control fields, then where it is and its sums."""
    control = subprocess.run(['dpkg-deb', '-f', deb], check=True, capture_output=True, text=True).stdout
    with open(deb, 'rb') as handle:
        data = handle.read()
    return control.rstrip('\n') + '\n' + (
        'Filename: ./%s\nSize: %d\nMD5sum: %s\nSHA256: %s\n\n'
        % (os.path.basename(deb), len(data), hashlib.md5(data).hexdigest(), hashlib.sha256(data).hexdigest()))


def main(argv):
    extra = None
    if '--with' in argv:
        at = argv.index('--with')
        extra, argv = argv[at + 1], argv[:at] + argv[at + 2:]
    if len(argv) < 2:
        sys.exit('usage: make_repo.py OUTDIR VERSION [VERSION ...] [--with DIR]')
    outdir, versions = argv[0], argv[1:]
    os.makedirs(outdir, exist_ok=True)
    for version in versions:
        build_deb(outdir, version)
    if extra:
        for name in sorted(os.listdir(extra)):
            if name.endswith('.deb'):
                shutil.copyfile(os.path.join(extra, name), os.path.join(outdir, name))
    debs = sorted(os.path.join(outdir, n) for n in os.listdir(outdir) if n.endswith('.deb'))
    packages = ''.join(stanza(deb) for deb in debs).encode()
    with open(os.path.join(outdir, 'Packages'), 'wb') as handle:
        handle.write(packages)
    with open(os.path.join(outdir, 'Packages.gz'), 'wb') as handle:
        handle.write(gzip.compress(packages, mtime=0))
    sums = {'MD5Sum': hashlib.md5, 'SHA256': hashlib.sha256}
    release = RELEASE
    for field, algo in sums.items():
        release += '%s:\n' % field
        for name in ('Packages', 'Packages.gz'):
            with open(os.path.join(outdir, name), 'rb') as handle:
                data = handle.read()
            release += ' %s %d %s\n' % (algo(data).hexdigest(), len(data), name)
    with open(os.path.join(outdir, 'Release'), 'w') as handle:
        handle.write(release)


if __name__ == '__main__':
    main(sys.argv[1:])
