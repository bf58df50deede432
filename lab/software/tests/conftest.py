"""Tests of the lab software that need no database: modules are loaded from their files,
under names of their own (lab_*) where a plugin of the collection has the same file name
(plugins/filter/dialysis_backup.py is on sys.path in the same pytest run)."""

import importlib.util
import sys
from pathlib import Path

import pytest

SOFTWARE = Path(__file__).resolve().parents[1]


def load(name, relative):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SOFTWARE / relative)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='session')
def software():
    return SOFTWARE


@pytest.fixture(scope='session')
def migrate():
    return load('migrate', 'service/migrate.py')


@pytest.fixture(scope='session')
def service(migrate):
    return load('dialysis_service', 'service/dialysis_service.py')


@pytest.fixture(scope='session')
def build_release(migrate):
    return load('build_release', 'service/build_release.py')


@pytest.fixture(scope='session')
def generate():
    return load('lab_generate', 'generator/generate.py')


@pytest.fixture(scope='session')
def interface():
    return load('interface_standin', 'interface/interface_standin.py')


@pytest.fixture(scope='session')
def backup():
    return load('lab_backup_job', 'backup/dialysis_backup.py')


@pytest.fixture(scope='session')
def collector():
    return load('dialysis_collector', 'collector/dialysis_collector.py')
