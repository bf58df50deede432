"""Make the repository importable the way Ansible loads it: as the collection
dialysis.ops (``.collections/ansible_collections/dialysis/ops`` points at the
repository's plugins, roles and meta). Modules, callbacks and filters are also
importable by file name for tests that call their functions directly."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(ROOT, '.collections')
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
for sub in ('modules', 'callback', 'filter'):
    path = os.path.join(ROOT, 'plugins', sub)
    if path not in sys.path:
        sys.path.insert(0, path)


@pytest.fixture
def repo_root():
    return ROOT


@pytest.fixture
def templates():
    """The report role's templates (the document tests build documents with them)."""
    return os.path.join(ROOT, 'roles', 'report', 'templates')
