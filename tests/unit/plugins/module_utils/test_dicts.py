"""deep_merge: the one recursive dictionary merge of the collection (gateway config and Claude settings)."""

from __future__ import annotations

from ansible_collections.aigateway.bifrost.plugins.module_utils.dicts import deep_merge


def test_dictionaries_merge_and_everything_else_replaces():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    patch = {"a": {"c": [3], "e": None}, "d": {"x": 1}}
    assert deep_merge(base, patch) == {"a": {"b": 1, "c": [3], "e": None}, "d": {"x": 1}}


def test_neither_argument_changes():
    base, patch = {"a": {"b": 1}}, {"a": {"c": 2}}
    deep_merge(base, patch)
    assert base == {"a": {"b": 1}} and patch == {"a": {"c": 2}}
