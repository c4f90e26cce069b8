"""Property-based tests of the json_merge engine: idempotence, untouched keys, reversibility, round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.aigateway.bifrost.plugins.module_utils.json_merge import (
    diff_texts,
    dump_json,
    json_equal,
    merge_json_text,
    parse_json,
    split_key_path,
)

MODES = ["replace", "append_unique", "prepend_unique"]
# A small key alphabet, so that patches and documents overlap often; one key needs escaping in key paths.
KEYS = st.sampled_from(["env", "a", "b", "c", "x.y"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-2, max_value=2),
    st.sampled_from([0.5, 1.0, -2.25]),
    st.text(alphabet="ab1 \"\\é✓", max_size=3),
)
VALUES = st.recursive(
    SCALARS,
    lambda children: st.one_of(st.lists(children, max_size=3), st.dictionaries(KEYS, children, max_size=4)),
    max_leaves=12,
)
OBJECTS = st.dictionaries(KEYS, VALUES, max_size=5)
INDENTS = st.sampled_from([2, 4, "\t"])


def same_document(left, right):
    """Equal as JSON (types included) and with the same key order everywhere."""
    if isinstance(left, dict) and isinstance(right, dict):
        return list(left) == list(right) and all(same_document(left[key], right[key]) for key in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(same_document(a, b) for a, b in zip(left, right))
    return json_equal(left, right)


def untouched_outside(original, result, patch):
    """Every key the patch does not mention keeps its value and position relative to the other untouched keys."""
    for key, value in original.items():
        if key not in patch:
            if key not in result or not same_document(value, result[key]):
                return False
        elif isinstance(patch[key], dict) and isinstance(value, dict) and isinstance(result.get(key), dict):
            if not untouched_outside(value, result[key], patch[key]):
                return False
    kept_order = [key for key in original if key not in patch]
    return [key for key in result if key in kept_order] == kept_order


def adding_only(document, patch):
    """The part of the patch that only adds keys to the document (drops what would replace or delete)."""
    adding = {}
    for key, value in patch.items():
        if key not in document:
            adding[key] = value
        elif isinstance(value, dict) and isinstance(document[key], dict) and document[key]:
            inner = adding_only(document[key], value)
            if inner:
                adding[key] = inner
    return adding


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=300, deadline=None, database=None)
@given(document=OBJECTS, patch=OBJECTS, indent=INDENTS)
def test_applying_a_patch_twice_equals_applying_it_once(mode, document, patch, indent):
    first = merge_json_text(dump_json(document, indent=indent), patch, list_merge=mode, force=True)
    second = merge_json_text(first.after, patch, list_merge=mode, force=True)
    assert not second.changed
    assert second.changed_keys == []
    assert second.after == first.after
    assert same_document(second.data, first.data)


@pytest.mark.parametrize("state", ["present", "absent"])
@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=300, deadline=None, database=None)
@given(document=OBJECTS, patch=OBJECTS)
def test_keys_outside_the_patch_are_never_touched(state, mode, document, patch):
    original = parse_json(dump_json(document))
    result = merge_json_text(dump_json(document), patch, state=state, list_merge=mode, force=True)
    assert untouched_outside(original, result.data, patch)


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=300, deadline=None, database=None)
@given(document=OBJECTS, patch=OBJECTS, indent=INDENTS, trailing_newline=st.booleans())
def test_present_then_absent_restores_a_document_the_patch_only_added_to(mode, document, patch, indent, trailing_newline):
    patch = adding_only(document, patch)
    before = dump_json(document, indent=indent, trailing_newline=trailing_newline)
    present = merge_json_text(before, patch, list_merge=mode)
    absent = merge_json_text(present.after, patch, state="absent", list_merge=mode)
    assert same_document(absent.data, document)
    assert absent.after == before


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=300, deadline=None, database=None)
@given(document=OBJECTS, patch=OBJECTS, indent=INDENTS, minified=st.booleans(), state=st.sampled_from(["present", "absent"]))
def test_the_output_parses_back_to_the_data(mode, document, patch, indent, minified, state):
    before = dump_json(document, indent=None) if minified else dump_json(document, indent=indent)
    result = merge_json_text(before, patch, state=state, list_merge=mode, force=True)
    assert same_document(parse_json(result.after), result.data)
    assert result.changed == (result.after != before)
    assert result.changed == bool(result.changed_keys)
    if not minified:
        # The untouched members copied from the text and the patched ones dumped again read like one dump
        # (in the text's indent; "{}" has none, so 2).
        expected = dump_json(result.data, indent=indent if document else 2) if result.changed else before
        assert result.after == expected


ABSENT = object()


def replayed(document, key_paths, view):
    """``document`` with the value at each key path taken from ``view`` (deleted where ``view`` has none)."""
    paths = [split_key_path(key_path) for key_path in key_paths]
    for keys in paths:
        if any(len(other) < len(keys) and keys[:len(other)] == other for other in paths):
            continue  # a replaced object's leaves: the object itself is replayed whole
        source = view
        for key in keys:
            source = source.get(key, ABSENT) if isinstance(source, dict) else ABSENT
        target = document
        for key in keys[:-1]:
            if not isinstance(target.get(key), dict):
                if source is ABSENT:
                    break  # nothing there to delete
                target[key] = {}
            target = target[key]
        else:
            if source is ABSENT:
                target.pop(keys[-1], None)
            else:
                target[keys[-1]] = source
    return document


@pytest.mark.parametrize("mode", MODES)
@settings(max_examples=300, deadline=None, database=None)
@given(document=OBJECTS, patch=OBJECTS, state=st.sampled_from(["present", "absent"]))
def test_the_diff_shows_the_whole_change_and_nothing_else(mode, document, patch, state):
    text = dump_json(document)
    result = merge_json_text(text, patch, state=state, list_merge=mode, force=True)
    before, after = diff_texts(result)
    if not document:
        assert (before, after) == (text, result.after)
        return
    before_view, after_view = parse_json(before), parse_json(after)
    # Complete: the old document with the changed keys taken from the after side is the new document.
    assert json_equal(replayed(parse_json(text), result.changed_keys, after_view), result.data)
    # Nothing else: the before side holds only what the after side replaces.
    assert json_equal(replayed(parse_json(text), result.changed_keys, before_view), parse_json(text))
    if not result.changed:
        assert before_view == after_view == {}
