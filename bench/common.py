"""What every part of the bench shares: paths, the hospital, messages, errors."""

import datetime
import os
import subprocess

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)

# The record store and the documents are per hospital: every inventory sets these in
# group_vars/all (the report role refuses to run without the id and the name). The
# bench's generated inventories and its report timing use this hospital.
HOSPITAL_VARS = {
    'dialysis_hospital_id': 'bench',
    'dialysis_hospital': 'Bench Hospital (基准医院)',
    'dialysis_project_lead': 'Bench Lead (基准测试)',
}


class BenchError(Exception):
    pass


def say(text=''):
    print(text, flush=True)


def now_stamp():
    return datetime.datetime.now().strftime('%Y%m%dT%H%M%S')


def git_revision():
    """HEAD of the checkout (read only), '-dirty' if tracked files differ."""
    try:
        rev = subprocess.run(['git', '-C', REPO, 'rev-parse', '--short', 'HEAD'], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(['git', '-C', REPO, 'status', '--porcelain', '--untracked-files=no'],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return (rev + ('-dirty' if dirty else '')) or None
    except (OSError, subprocess.SubprocessError):
        return None
