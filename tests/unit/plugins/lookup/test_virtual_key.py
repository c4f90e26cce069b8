# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the aigateway.bifrost.virtual_key lookup."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import stat
import threading

import pytest
from ansible.errors import AnsibleError, AnsibleLookupError
from ansible.plugins.loader import lookup_loader

# tests/conftest.py has installed Ansible's collection finder, as a playbook run does, so the plugin loads by its FQCN.
from ansible_collections.aigateway.bifrost.plugins.lookup import virtual_key

DECLARED = [
    {"name": "alice", "value": "sk-bf-declared-alice"},
    {"name": "bob"},
    {"name": "carol", "value": ""},
]


@pytest.fixture
def lookup():
    plugin = lookup_loader.get("aigateway.bifrost.virtual_key")
    assert plugin is not None, "the lookup is not found on the collections path (run `make collection`)"
    return plugin


def run(lookup, names, store_dir, declared=None):
    return lookup.run(names, variables={}, declared=DECLARED if declared is None else declared, store_dir=str(store_dir))


def test_declared_value_wins_and_nothing_is_stored(lookup, tmp_path):
    store = tmp_path / "store"
    assert run(lookup, ["alice"], store) == ["sk-bf-declared-alice"]
    assert not store.exists()


def test_generated_value_has_the_bifrost_shape_and_is_stored_private(lookup, tmp_path):
    store = tmp_path / "creds" / "bifrost"
    (value,) = run(lookup, ["bob"], store)
    assert re.match(r"^sk-bf-[A-Za-z0-9]{40}$", value), value
    stored = store / "virtual_key_bob"
    assert stored.read_text() == value + "\n"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    assert [p.name for p in store.iterdir()] == ["virtual_key_bob"], "temporary files must be cleaned up"


def test_empty_declared_value_counts_as_not_given(lookup, tmp_path):
    (value,) = run(lookup, ["carol"], tmp_path)
    assert value.startswith("sk-bf-")
    assert (tmp_path / "virtual_key_carol").is_file()


def test_stored_value_is_reused(lookup, tmp_path):
    first = run(lookup, ["bob"], tmp_path)
    second = run(lookup, ["bob"], tmp_path)
    assert first == second


def test_stored_value_written_by_an_operator_is_used(lookup, tmp_path):
    (tmp_path / "virtual_key_bob").write_text("sk-bf-from-operator\n")
    assert run(lookup, ["bob"], tmp_path) == ["sk-bf-from-operator"]


def test_different_names_get_different_values(lookup, tmp_path):
    declared = [{"name": "a"}, {"name": "b"}]
    a, b = run(lookup, ["a", "b"], tmp_path, declared)
    assert a != b


def test_unknown_name_fails_naming_it(lookup, tmp_path):
    with pytest.raises(AnsibleLookupError, match="'mallory' is not declared"):
        run(lookup, ["mallory"], tmp_path)
    assert not any(tmp_path.iterdir())


def test_duplicate_declaration_fails(lookup, tmp_path):
    with pytest.raises(AnsibleLookupError, match="declared 2 times"):
        run(lookup, ["bob"], tmp_path, [{"name": "bob"}, {"name": "bob"}])


@pytest.mark.parametrize("name", ["../etc/passwd", "a/b", "", ".hidden", "-x"])
def test_names_that_could_escape_the_store_are_rejected(lookup, tmp_path, name):
    with pytest.raises(AnsibleLookupError, match="invalid virtual key name"):
        run(lookup, [name], tmp_path, [{"name": name}])


def test_empty_store_file_is_an_error_not_a_silent_new_key(lookup, tmp_path):
    (tmp_path / "virtual_key_bob").write_text("\n")
    with pytest.raises(AnsibleLookupError, match="is empty"):
        run(lookup, ["bob"], tmp_path)


def test_missing_options_fail(lookup, tmp_path):
    with pytest.raises(AnsibleError, match="declared"):
        lookup.run(["bob"], variables={}, store_dir=str(tmp_path))
    with pytest.raises(AnsibleError, match="store_dir"):
        lookup.run(["bob"], variables={}, declared=DECLARED, store_dir="")


def test_race_between_writers_yields_one_value(tmp_path, monkeypatch):
    """Simulate another fork storing its value between our existence check and our link()."""
    real_link = os.link

    def link_after_competitor(src, dst):
        with open(dst, "w") as handle:
            handle.write("sk-bf-competitor\n")
        return real_link(src, dst)

    monkeypatch.setattr(virtual_key.os, "link", link_after_competitor)
    assert virtual_key.read_or_create(str(tmp_path), "bob") == "sk-bf-competitor"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["virtual_key_bob"]


def test_parallel_threads_agree(tmp_path):
    results = []

    def worker():
        results.append(virtual_key.read_or_create(str(tmp_path), "shared"))

    threads = [threading.Thread(target=worker) for dummy in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert (tmp_path / "virtual_key_shared").read_text().strip() == results[0]


def test_declared_value_without_the_bifrost_prefix_is_refused_without_showing_it(lookup, tmp_path):
    declared = [{"name": "erin", "value": "erin-own-key-FAKE-0123456789"}]
    with pytest.raises(AnsibleLookupError, match="must start with 'sk-bf-'") as info:
        lookup.run(["erin"], variables={}, declared=declared, store_dir=str(tmp_path))
    assert "erin-own-key-FAKE-0123456789" not in str(info.value)
    assert list(tmp_path.iterdir()) == [], "nothing is stored for a refused key"
