"""Ownership records: the role takes back exactly what it wrote and the user has not changed since."""

from __future__ import annotations

import copy
import json

import pytest

from ansible_collections.aigateway.bifrost.plugins.module_utils import ownership as own

PATH = "/home/alice/.claude/settings.json"
KEY = "sk-bf-" + "k" * 40


def apply(data, patch):
    """RFC 7386 merge patch, as json_merge applies a present content."""
    result = copy.deepcopy(data)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = apply(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def write(record, content, data):
    """One role run: stale keys out, content in, record updated."""
    patch, kept = own.stale_patch(record, PATH, content, data)
    written = apply(apply(data, patch), content)
    return own.next_record(record, PATH, content, written), written, kept


BEDROCK = {"env": {"ANTHROPIC_BASE_URL": "http://gw/anthropic", "ANTHROPIC_AUTH_TOKEN": KEY,
                   "CLAUDE_CODE_USE_BEDROCK": "1", "ANTHROPIC_DEFAULT_OPUS_MODEL": "o"}}
GATEWAY = {"env": {"ANTHROPIC_BASE_URL": "http://gw/anthropic", "ANTHROPIC_AUTH_TOKEN": KEY}}


def test_record_holds_paths_and_salted_hashes_never_values():
    record, written, dummy = write(None, BEDROCK, {"env": {"MINE": "x"}, "model": "opus"})
    text = json.dumps(record)
    assert KEY not in text and "http://gw" not in text
    assert set(record["files"][PATH]) == {json.dumps(["env", k]) for k in BEDROCK["env"]}
    other = own.new_record()
    assert own.value_hash(record["salt"], KEY) != own.value_hash(other["salt"], KEY)


def test_switching_modes_removes_the_stale_switch_and_keeps_the_users_keys():
    record, written, dummy = write(None, BEDROCK, {"env": {"MINE": "x"}, "model": "opus"})
    record, written, kept = write(record, GATEWAY, written)
    assert written == {"env": {"MINE": "x", "ANTHROPIC_BASE_URL": "http://gw/anthropic", "ANTHROPIC_AUTH_TOKEN": KEY},
                       "model": "opus"}
    assert kept == []
    assert set(record["files"][PATH]) == {json.dumps(["env", k]) for k in GATEWAY["env"]}


def test_a_value_the_user_changed_since_is_kept_and_no_longer_owned():
    record, written, dummy = write(None, BEDROCK, {})
    written["env"]["ANTHROPIC_DEFAULT_OPUS_MODEL"] = "my-own-opus"  # the user's edit
    record, written, kept = write(record, GATEWAY, written)
    assert written["env"]["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "my-own-opus"
    assert "CLAUDE_CODE_USE_BEDROCK" not in written["env"]
    assert kept == [("env", "ANTHROPIC_DEFAULT_OPUS_MODEL")]
    assert json.dumps(["env", "ANTHROPIC_DEFAULT_OPUS_MODEL"]) not in record["files"][PATH]


def test_absent_removes_everything_ever_written_and_nothing_else():
    record, written, dummy = write(None, BEDROCK, {"env": {"MINE": "x"}})
    record, written, dummy = write(record, GATEWAY, written)
    written["env"]["ANTHROPIC_BASE_URL"] = "http://elsewhere"  # changed by the user: theirs now
    patch, kept = own.absent_patch(record, PATH, written)
    assert apply(written, patch) == {"env": {"MINE": "x", "ANTHROPIC_BASE_URL": "http://elsewhere"}}
    assert kept == [("env", "ANTHROPIC_BASE_URL")]
    after = own.next_record(record, PATH, {}, apply(written, patch), state="absent")
    assert PATH not in after["files"] and after["salt"] == record["salt"]


def test_lists_are_leaves_and_key_order_does_not_matter():
    content = {"permissions": {"deny": ["Read(./.env)"]}, "obj": {"b": 1, "a": {"x": [1, 2]}}}
    record, written, dummy = write(None, content, {})
    assert json.dumps(["permissions", "deny"]) in record["files"][PATH]
    reordered = json.loads(json.dumps(written, sort_keys=True))
    patch, dummy = own.absent_patch(record, PATH, reordered)
    assert apply(reordered, patch) == {"permissions": {}, "obj": {"a": {}}}


def test_keys_with_dots_and_a_missing_file():
    content = {"mcpServers": {"gw.prod": {"url": "u"}}}
    record, written, dummy = write(None, content, {})
    patch, kept = own.stale_patch(record, PATH, {}, {})  # the file is gone: nothing to take back
    assert patch == {} and kept == []
    patch, dummy = own.stale_patch(record, PATH, {}, written)
    assert patch == {"mcpServers": {"gw.prod": {"url": None}}}


@pytest.mark.parametrize("record", [{"version": 2, "salt": "x", "files": {}}, {"version": 1}, [1]])
def test_a_bad_record_is_refused(record):
    with pytest.raises(ValueError, match="ownership record"):
        own.stale_patch(record, PATH, {}, {})


def test_owned_after_marks_secrets_and_skips_values_the_file_does_not_hold():
    salt = "s"
    content = {"env": {"TOKEN": KEY, "URL": "http://gw"}, "model": "opus"}
    written = {"env": {"TOKEN": KEY, "URL": "http://other"}, "model": "opus"}
    owned = own.owned_after(salt, content, written, [("env", "TOKEN")])
    assert sorted(owned) == ['["env", "TOKEN"]', '["model"]']
    assert owned['["env", "TOKEN"]'].startswith(own.SECRET_MARK) and not owned['["model"]'].startswith(own.SECRET_MARK)
    assert KEY not in json.dumps(owned)
    assert own.secret_removals(owned, {"env": {"TOKEN": None}, "model": None}) == [("env", "TOKEN")]
    # A secret-marked entry still matches its value.
    assert sorted(own.unchanged_paths(salt, owned, written)) == [("env", "TOKEN"), ("model",)]


def test_removal_content_names_the_same_leaves_for_state_absent():
    assert own.removal_content({"env": {"A": None, "B": None}, "x": None}) == {"env": {"A": True, "B": True}, "x": True}
