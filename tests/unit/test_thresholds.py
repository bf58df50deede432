import pytest

from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_record import worst
from ansible_collections.dialysis.ops.plugins.module_utils.dialysis_thresholds import (
    DEFAULT_THRESHOLDS,
    classify,
    validate_thresholds,
)


def test_defaults_are_valid_and_complete():
    merged, fs, errors = validate_thresholds({}, {})
    assert errors == []
    assert merged == DEFAULT_THRESHOLDS
    assert fs == {}


def test_partial_override_keeps_other_defaults():
    merged, dummy_fs, errors = validate_thresholds({'disk_percent': {'warning': 80}})
    assert errors == []
    assert merged['disk_percent'] == {'warning': 80.0, 'critical': 95.0}
    assert merged['memory_percent'] == DEFAULT_THRESHOLDS['memory_percent']


def test_numeric_strings_from_inventory_are_accepted():
    merged, dummy_fs, errors = validate_thresholds({'cpu_percent': {'warning': '70', 'critical': ' 90 '}})
    assert errors == []
    assert merged['cpu_percent'] == {'warning': 70.0, 'critical': 90.0}


def test_word_instead_of_number_names_variable_and_expected_form():
    dummy_merged, dummy_fs, errors = validate_thresholds({'disk_percent': {'warning': 'ninety'}})
    assert errors == ["inspection_thresholds.disk_percent.warning: expected a number (e.g. 85), "
                      "got 'ninety'"]


def test_warning_above_critical_is_rejected():
    dummy_merged, dummy_fs, errors = validate_thresholds({'memory_percent': {'warning': 97, 'critical': 95}})
    assert errors == ['inspection_thresholds.memory_percent: warning (97) must not be above '
                      'critical (95)']


def test_warning_above_default_critical_is_rejected():
    dummy_merged, dummy_fs, errors = validate_thresholds({'disk_percent': {'warning': 96}})
    assert 'warning (96) must not be above critical (95)' in errors[0]


@pytest.mark.parametrize('value', [True, None, [], {'a': 1}])
def test_non_numbers_are_rejected(value):
    dummy_merged, dummy_fs, errors = validate_thresholds({'swap_percent': {'critical': value}})
    assert len(errors) == 1 and 'swap_percent.critical: expected a number' in errors[0]


def test_percentages_above_100_and_negative_values_are_rejected():
    dummy_merged, dummy_fs, errors = validate_thresholds({'disk_percent': {'critical': 120},
                                                          'load_per_core': {'warning': -1}})
    assert any('between 0 and 100' in e for e in errors)
    assert any('load_per_core.warning: expected a number >= 0' in e for e in errors)


def test_load_per_core_may_exceed_100():
    merged, dummy_fs, errors = validate_thresholds({'load_per_core': {'warning': 150, 'critical': 300}})
    assert errors == [] and merged['load_per_core']['critical'] == 300.0


def test_unknown_item_and_unknown_key_are_named():
    dummy_merged, dummy_fs, errors = validate_thresholds({'disk': {'warning': 1}, 'cpu_percent': {'warn': 1}})
    assert any(e.startswith('inspection_thresholds.disk: unknown item') for e in errors)
    assert any('cpu_percent: unknown key(s) warn' in e for e in errors)


def test_not_a_mapping():
    dummy_merged, dummy_fs, errors = validate_thresholds(['disk_percent'])
    assert errors[0].startswith('inspection_thresholds: expected a mapping')
    dummy_merged, dummy_fs, errors = validate_thresholds({'disk_percent': 90})
    assert 'inspection_thresholds.disk_percent: expected a mapping' in errors[0]


def test_filesystem_overrides_inherit_and_validate():
    dummy_merged, fs, errors = validate_thresholds({'disk_percent': {'warning': 70, 'critical': 80}},
                                                   {'/var/lib/postgresql': {'critical': 90}})
    assert errors == []
    assert fs['/var/lib/postgresql'] == {'warning': 70.0, 'critical': 90.0}
    dummy_merged, dummy_fs, errors = validate_thresholds({}, {'data': {'warning': 1}})
    assert "inspection_filesystem_thresholds['data']: expected an absolute mount point" in errors[0]
    dummy_merged, dummy_fs, errors = validate_thresholds({}, {'/srv': {'warning': 99, 'critical': 90}})
    assert "inspection_filesystem_thresholds['/srv']: warning (99) must not be above" in errors[0]


def test_custom_variable_names_appear_in_messages():
    dummy_merged, dummy_fs, errors = validate_thresholds({'disk_percent': {'warning': 'x'}},
                                                         varname='thresholds')
    assert errors[0].startswith('thresholds.disk_percent.warning')


@pytest.mark.parametrize('value,expected', [
    (10, 'ok'), (84.9, 'ok'), (85, 'warning'), (94.99, 'warning'), (95, 'critical'),
    (100, 'critical'), (None, 'error')])
def test_classify_boundaries(value, expected):
    assert classify(value, {'warning': 85, 'critical': 95}) == expected


def test_worst():
    assert worst([]) == 'ok'
    assert worst(['ok', 'warning', 'ok']) == 'warning'
    assert worst(['critical', 'warning', 'error']) == 'error'
    assert worst(['skipped', 'ok']) == 'ok'
