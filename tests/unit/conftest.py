"""Make the repository's plugins importable the way Ansible loads them:
module_utils under ``ansible.module_utils``, modules, callbacks and filters by path."""

import os
import sys

import ansible.module_utils
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE_UTILS = os.path.join(ROOT, 'plugins', 'module_utils')
if MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(MODULE_UTILS)
for sub in ('modules', 'callback', 'filter'):
    path = os.path.join(ROOT, 'plugins', sub)
    if path not in sys.path:
        sys.path.insert(0, path)


@pytest.fixture
def repo_root():
    return ROOT
