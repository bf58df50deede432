"""Code that runs on the inspected hosts stays Python 3.8-compatible.

ansible-core 2.19 supports target Pythons from 3.8 (EL 9's platform-python is 3.9,
Debian bookworm's 3.11). ansible-test's compile test would check this, but only
with a 3.8 interpreter, which the controller does not have; the parser of the
controller's Python can read with the grammar of an older version instead.
"""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET_DIRS = ('plugins/modules', 'plugins/module_utils')


def target_files():
    found = []
    for sub in TARGET_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, sub)):
            dirnames[:] = sorted(d for d in dirnames if d != '__pycache__')
            found.extend(os.path.relpath(os.path.join(dirpath, name), ROOT)
                         for name in sorted(filenames) if name.endswith('.py'))
    return found


def test_there_is_target_code_to_check():
    assert 'plugins/modules/host_inspection.py' in target_files()


@pytest.mark.parametrize('path', target_files())
def test_parses_with_python_3_8_grammar(path):
    with open(os.path.join(ROOT, path), encoding='utf-8') as handle:
        source = handle.read()
    try:
        ast.parse(source, filename=path, feature_version=(3, 8))
    except SyntaxError as exc:
        pytest.fail('%s:%s: not valid Python 3.8 (hosts run 3.8 and later): %s'
                    % (path, exc.lineno, exc.msg))
