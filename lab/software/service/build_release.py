#!/usr/bin/env python3
"""Build one release tarball of the dialysis service from this source tree.

    build_release.py VERSION OUTDIR   ->   OUTDIR/dialysis-service-VERSION.tar.gz

The tarball holds one directory dialysis-service-VERSION/ with dialysis_service.py, migrate.py,
release.json (from releases.json: version, cumulative migrations, notes, modules changed, features)
and migrations/ (only the migrations up to VERSION). It is deterministic: the same sources give the
same bytes (sorted entries, mtime = the release date, uid/gid 0, fixed modes, gzip mtime 0 and no
file name in the gzip header). Prints the tarball's path and sha256 as JSON.
"""

import argparse
import datetime
import gzip
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from migrate import MigrationError, discover, release_info  # noqa: E402

CODE = ('dialysis_service.py', 'migrate.py')


def release_files(version, source=HERE):
    """{archive path inside the top directory: (bytes, mode)} of release VERSION."""
    releases = json.loads((source / 'releases.json').read_text(encoding='utf-8'))['releases']
    info = release_info(version, releases)
    files = {name: ((source / name).read_bytes(), 0o755) for name in CODE}
    files['release.json'] = ((json.dumps(info, indent=2, sort_keys=True) + '\n').encode('utf-8'), 0o644)
    migrations = discover(source / 'migrations', wanted=info['migrations'])
    for migration in migrations:
        stem = f'{migration["version"]}_{migration["name"]}'
        files[f'migrations/{stem}.sql'] = (migration['up'].encode('utf-8'), 0o644)
        if migration['down'] is not None:
            files[f'migrations/{stem}.down.sql'] = (migration['down'].encode('utf-8'), 0o644)
    return info, files


def build(version, outdir, source=HERE):
    info, files = release_files(version, source)
    top = f'dialysis-service-{version}'
    mtime = int(
        datetime.datetime.fromisoformat(info['date']).replace(tzinfo=datetime.timezone.utc).timestamp()
    )
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w', format=tarfile.USTAR_FORMAT) as tar:
        dirs = {top} | {f'{top}/{Path(name).parent}' for name in files if '/' in name}
        entries = [(d, None, 0o755) for d in dirs] + [
            (f'{top}/{n}', data, mode) for n, (data, mode) in files.items()
        ]
        for name, data, mode in sorted(entries, key=lambda e: e[0]):
            member = tarfile.TarInfo(name)
            member.mtime, member.mode = mtime, mode
            member.uid = member.gid = 0
            member.uname = member.gname = 'root'
            if data is None:
                member.type = tarfile.DIRTYPE
                tar.addfile(member)
            else:
                member.size = len(data)
                tar.addfile(member, io.BytesIO(data))
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    target = outdir / f'{top}.tar.gz'
    packed = io.BytesIO()
    with gzip.GzipFile(filename='', mode='wb', fileobj=packed, mtime=0, compresslevel=9) as gz:
        gz.write(raw.getvalue())
    target.write_bytes(packed.getvalue())
    return target, hashlib.sha256(packed.getvalue()).hexdigest(), info


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('version')
    parser.add_argument('outdir')
    args = parser.parse_args(argv)
    try:
        target, digest, info = build(args.version, args.outdir)
    except (MigrationError, OSError) as exc:
        print(f'build_release: {exc}', file=sys.stderr)
        return 1
    print(
        json.dumps(
            {'tarball': str(target), 'sha256': digest, 'version': info['version'], 'schema': info['schema']}
        )
    )
    return 0


if __name__ == '__main__':
    sys.exit(main())
