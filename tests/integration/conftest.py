"""Shared set-up of the integration tests: real ansible-playbook runs of this
repository, each hospital's store in the test's own directory."""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def ansible_env(tmp_path):
    """The environment of an ansible-playbook run: the repository's ansible.cfg,
    this Python's bin directory first on PATH, launcher ``pytest``, and each
    hospital's records and documents under ``tmp_path/stores/<hospital id>/``.
    Keyword arguments are added (or override); the operator is whatever the
    test says, never the caller's DIALYSIS_OPERATOR."""
    def make(**extra):
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, 'ansible.cfg'),
                   DIALYSIS_RECORDS_DIR=str(tmp_path / 'stores' / '{hospital}' / 'records'),
                   DIALYSIS_REPORTS_DIR=str(tmp_path / 'stores' / '{hospital}'),
                   DIALYSIS_LAUNCHER='pytest',
                   PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get('PATH', ''))
        env.pop('DIALYSIS_OPERATOR', None)
        env.update(extra)
        return env
    return make
