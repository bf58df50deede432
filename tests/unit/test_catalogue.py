"""The label catalogue (plugins/plugin_utils/dialysis_i18n.py) that every document reads:
one entry per key (a key written twice in the dict literal silently loses the first one,
which is how two duties' labels collide), each in both languages, and the Chinese and
English sentences fill the same fields."""

import ast
import os
import string

from ansible_collections.dialysis.ops.plugins.plugin_utils.dialysis_i18n import CATALOGUE

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_no_key_is_written_twice():
    path = os.path.join(ROOT, 'plugins', 'plugin_utils', 'dialysis_i18n.py')
    with open(path, encoding='utf-8') as handle:
        tree = ast.parse(handle.read())
    [catalogue] = [node.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
                   and any(getattr(t, 'id', None) == 'CATALOGUE' for t in node.targets)]
    keys = [key.value for key in catalogue.keys]
    assert sorted(set(k for k in keys if keys.count(k) > 1)) == []


def fields(text):
    return sorted(set(part[1] for part in string.Formatter().parse(text) if part[1]))


def test_every_entry_has_both_languages_with_the_same_fields():
    for key, entry in CATALOGUE.items():
        assert isinstance(entry, tuple) and len(entry) == 2, key
        zh, en = entry
        assert zh.strip() and en.strip(), key
        assert fields(zh) == fields(en), key
