"""Unit tests of the json_merge engine (plugins/module_utils/json_merge.py)."""

from __future__ import annotations

import json
import sys

import pytest

from ansible_collections.aigateway.bifrost.plugins.module_utils.json_merge import (
    JsonMergeError,
    changed_view,
    detect_indent,
    diff_texts,
    dump_json,
    join_key_path,
    json_equal,
    mask_secrets,
    merge_json_text,
    parse_json,
    secret_values,
    split_key_path,
    strip_comments,
)


def merged(text, content, **options):
    return merge_json_text(text, content, **options)


def pretty(data, indent=2):
    return json.dumps(data, indent=indent, ensure_ascii=False) + "\n"


# Objects and null


def test_objects_merge_deeply_and_keep_other_keys():
    before = pretty({"env": {"KEEP": "1", "OLD": "x"}, "theme": "dark"})
    result = merged(before, {"env": {"OLD": "y", "NEW": "z"}})
    assert result.changed
    assert result.data == {"env": {"KEEP": "1", "OLD": "y", "NEW": "z"}, "theme": "dark"}
    assert json.loads(result.after) == result.data
    assert result.changed_keys == ["env.OLD", "env.NEW"]
    assert result.before == before


def test_null_deletes_a_key_and_missing_null_is_a_no_op():
    result = merged(pretty({"env": {"A": "1", "B": "2"}}), {"env": {"A": None, "GONE": None}})
    assert result.data == {"env": {"B": "2"}}
    assert result.changed_keys == ["env.A"]
    again = merged(result.after, {"env": {"A": None, "GONE": None}})
    assert not again.changed
    assert again.after == result.after


def test_null_inside_a_new_object_is_dropped_and_the_object_created():
    result = merged("", {"a": {"b": None, "c": 1}, "d": {"e": None}})
    assert result.data == {"a": {"c": 1}, "d": {}}
    assert result.changed_keys == ["a.c", "d"]


def test_null_in_the_file_is_replaced_without_a_clash():
    result = merged('{"a": null}', {"a": {"b": 1}})
    assert result.data == {"a": {"b": 1}}
    assert result.changed_keys == ["a", "a.b"]


# Lists


def test_list_replace_is_the_default_and_idempotent():
    result = merged(pretty({"l": [1, 2, 3]}), {"l": [3, 4]})
    assert result.data == {"l": [3, 4]}
    assert not merged(result.after, {"l": [3, 4]}).changed


@pytest.mark.parametrize(
    ("mode", "expected"),
    [("append_unique", ["a", "b", "c", "d"]), ("prepend_unique", ["c", "d", "a", "b"])],
)
def test_unique_list_modes_add_missing_items_once(mode, expected):
    before = pretty({"permissions": {"allow": ["a", "b"]}})
    content = {"permissions": {"allow": ["b", "c", "d", "c"]}}
    first = merged(before, content, list_merge=mode)
    assert first.data["permissions"]["allow"] == expected
    assert first.changed_keys == ["permissions.allow"]
    second = merged(first.after, content, list_merge=mode)
    assert not second.changed
    assert second.after == first.after


def test_unique_list_modes_create_a_missing_list_without_duplicates():
    result = merged("{}", {"l": [1, 1, {"x": 1}, {"x": 1}]}, list_merge="append_unique")
    assert result.data == {"l": [1, {"x": 1}]}


def test_unique_list_items_are_compared_with_their_types():
    result = merged('{"l": [1, "1", {"a": 1, "b": 2}]}', {"l": [True, 1.0, 1, {"b": 2, "a": 1}]}, list_merge="append_unique")
    assert result.data["l"] == [1, "1", {"a": 1, "b": 2}, True, 1.0]


# Type clashes


@pytest.mark.parametrize(
    ("file_value", "content_value", "kinds"),
    [
        ("x", {"A": "1"}, "the file has a string, the content has an object"),
        ({"A": "1"}, "x", "the file has an object, the content has a string"),
        ([1], {"A": "1"}, "the file has a list, the content has an object"),
        ({"A": "1"}, [1], "the file has an object, the content has a list"),
        (1, [1], "the file has an integer, the content has a list"),
    ],
)
def test_type_clash_fails_with_the_key_path(file_value, content_value, kinds):
    before = pretty({"outer": {"env": file_value}})
    with pytest.raises(JsonMergeError) as error:
        merged(before, {"outer": {"env": content_value}}, source="/home/a/settings.json")
    message = str(error.value)
    assert message.startswith("/home/a/settings.json: type clash at key \"outer.env\"")
    assert kinds in message


def test_force_replaces_a_clashing_value():
    result = merged(pretty({"env": "x", "k": 1}), {"env": {"A": "1"}}, force=True)
    assert result.data == {"env": {"A": "1"}, "k": 1}
    assert result.changed_keys == ["env", "env.A"]


def test_scalars_of_other_types_replace_each_other_without_a_clash():
    result = merged('{"a": "1"}', {"a": 1})
    assert result.data == {"a": 1}


# state=absent


def test_absent_removes_leaf_keys_whatever_their_value_and_prunes_emptied_objects():
    before = pretty({"env": {"A": "changed-by-user", "B": "2"}, "m": {"x": {"y": 1}}, "keep": True})
    result = merged(before, {"env": {"A": "1", "B": "2"}, "m": {"x": {"y": 5}}, "missing": 1}, state="absent")
    assert result.data == {"keep": True}
    assert result.changed_keys == ["env.A", "env.B", "env", "m.x.y", "m.x", "m"]


def test_absent_keeps_objects_that_still_hold_other_keys_and_objects_already_empty():
    before = pretty({"env": {"A": "1", "USER": "u"}, "empty": {}})
    result = merged(before, {"env": {"A": "1"}, "empty": {"X": "1"}}, state="absent")
    assert result.data == {"env": {"USER": "u"}, "empty": {}}


def test_absent_removes_list_items_in_unique_modes_and_the_list_it_empties():
    before = pretty({"permissions": {"allow": ["user", "ours"], "deny": ["ours2"]}})
    content = {"permissions": {"allow": ["ours"], "deny": ["ours2"]}}
    result = merged(before, content, state="absent", list_merge="append_unique")
    assert result.data == {"permissions": {"allow": ["user"]}}
    assert result.changed_keys == ["permissions.allow", "permissions.deny"]


def test_absent_with_replace_removes_the_list_key():
    result = merged(pretty({"l": [1, 2], "k": 1}), {"l": [9]}, state="absent")
    assert result.data == {"k": 1}


def test_absent_empty_object_or_list_removes_the_key_only_when_empty():
    before = pretty({"a": {}, "b": {"user": 1}, "c": [], "d": [1]})
    result = merged(before, {"a": {}, "b": {}, "c": [], "d": []}, state="absent", list_merge="append_unique")
    assert result.data == {"b": {"user": 1}, "d": [1]}


def test_absent_ignores_null_and_values_of_another_kind():
    before = pretty({"a": 1, "b": "text", "c": [1]})
    result = merged(before, {"a": None, "b": {"x": 1}, "c": [1]}, state="absent", list_merge="append_unique")
    assert result.data == {"a": 1, "b": "text"}
    unchanged = merged(before, {"a": None, "b": {"x": 1}}, state="absent")
    assert not unchanged.changed


def test_present_then_absent_restores_the_original_text():
    before = pretty({"theme": "dark", "env": {"USER_VAR": "1"}, "permissions": {"allow": ["mine"]}})
    content = {"env": {"ANTHROPIC_BASE_URL": "http://gw"}, "mcpServers": {"bifrost": {"command": "npx", "args": ["a"]}}}
    present = merged(before, content, list_merge="append_unique")
    absent = merged(present.after, content, state="absent", list_merge="append_unique")
    assert absent.after == before


def test_absent_on_an_empty_document_changes_nothing():
    result = merged("", {"a": 1}, state="absent")
    assert not result.changed
    assert result.after == ""


# Parsing

# Python 3.13's json reports a trailing comma at the comma, older Pythons at the token after it.
COMMA_AT_COMMA = sys.version_info >= (3, 13)


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ('{\n  "a": 1, // note\n  "b": 2\n}', "line 2, column 11"),
        ('{\n  "a": 1,\n}', "line 2, column 9" if COMMA_AT_COMMA else "line 3, column 1"),
        ('{\n  "a": [1, 2,]\n}', "line 2, column 13" if COMMA_AT_COMMA else "line 2, column 14"),
        ('{"a": 1} x', "line 1, column 10"),
        ('{"a": \'x\'}', "line 1, column 7"),
    ],
)
def test_invalid_json_fails_with_line_and_column(text, position):
    with pytest.raises(JsonMergeError) as error:
        merged(text, {"a": 2}, source="cfg.json")
    assert str(error.value).startswith("cfg.json: invalid JSON at " + position + ": ")


@pytest.mark.parametrize("text", ['{"a": 1, /* x */ "b": 2}', '{"a": 1,}', '{"a": [1, 2, ]}'])
def test_comments_and_trailing_commas_get_a_hint(text):
    with pytest.raises(JsonMergeError, match="allow_comments strips them"):
        merged(text, {})


def test_allow_comments_strips_comments_and_trailing_commas_outside_strings():
    text = '{\n  // line\n  "url": "http://x//y", /* block\n  comment */ "s": "/* kept */",\n  "l": [1, 2,],\n}\n'
    result = merged(text, {"n": 1}, allow_comments=True)
    assert result.data == {"url": "http://x//y", "s": "/* kept */", "l": [1, 2], "n": 1}
    assert "//" not in result.after.replace("http://x//y", "")
    assert json.loads(result.after) == result.data


def test_allow_comments_keeps_the_file_when_nothing_changes():
    text = '{\n  "a": 1 // mine\n}\n'
    result = merged(text, {"a": 1}, allow_comments=True)
    assert not result.changed
    assert result.after == text


def test_allow_comments_still_reports_real_errors_with_position():
    with pytest.raises(JsonMergeError, match="line 2, column 8"):
        merged('{ // c\n  "a": x\n}', {}, allow_comments=True)


@pytest.mark.parametrize("text", [None, "", "  \n\t\n"])
def test_empty_or_blank_text_is_an_empty_document(text):
    result = merged(text, {"a": 1})
    assert result.data == {"a": 1}
    assert result.after == '{\n  "a": 1\n}\n'
    assert result.before == (text or "")


def test_empty_text_and_empty_content_change_nothing():
    result = merged("", {})
    assert not result.changed
    assert result.after == ""


def test_a_bom_is_accepted_and_not_written_back():
    text = '\ufeff{\n  "a": 1,\n  "b": [true]\n}\n'
    assert not merged(text, {"a": 1}).changed
    result = merged(text, {"a": 2})
    assert result.after == '{\n  "a": 2,\n  "b": [true]\n}\n'


@pytest.mark.parametrize(("text", "kind"), [("[1, 2]", "a list"), ('"x"', "a string"), ("null", "null"), ("3", "an integer")])
def test_a_root_that_is_not_an_object_fails(text, kind):
    with pytest.raises(JsonMergeError) as error:
        merged(text, {"a": 1}, source="f.json")
    assert str(error.value) == "f.json: the top-level value is %s, not an object" % kind


@pytest.mark.parametrize("text", ['{"a": 1, "a": 2}', '{\n  "a": 1,\n  "a": 1\n}', '{"x": {"a": 1, "b": {}, "a": 2}}'])
def test_duplicate_keys_fail_naming_the_key(text):
    with pytest.raises(JsonMergeError, match='f.json: duplicate key "a"'):
        merged(text, {}, source="f.json")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_rejected(constant):
    with pytest.raises(JsonMergeError, match="f.json: %s is not valid JSON" % constant):
        merged('{"a": %s}' % constant, {}, source="f.json")


def test_content_must_be_json():
    with pytest.raises(JsonMergeError, match="content must be an object"):
        merged("{}", ["a"])
    with pytest.raises(JsonMergeError, match='content at key "a.b" holds nan'):
        merged("{}", {"a": {"b": float("nan")}})
    with pytest.raises(JsonMergeError, match="content at key \"a\" has the key 1"):
        merged("{}", {"a": {1: "x"}})
    with pytest.raises(JsonMergeError, match="holds a set"):
        merged("{}", {"a": {1, 2}})


def test_bad_options_fail():
    with pytest.raises(JsonMergeError, match="state must be one of"):
        merged("{}", {}, state="gone")
    with pytest.raises(JsonMergeError, match="list_merge must be one of"):
        merged("{}", {}, list_merge="append")
    with pytest.raises(JsonMergeError, match="indent must be"):
        merged("{}", {}, indent=-1)


def test_parse_json_accepts_none():
    assert parse_json(None) == {}


# Output format


def test_key_order_is_kept_and_new_keys_go_last():
    before = '{\n  "z": 1,\n  "a": {\n    "y": 1,\n    "b": 2\n  },\n  "m": 3\n}\n'
    result = merged(before, {"a": {"b": 5, "c": 1}, "b": 0})
    assert list(result.data) == ["z", "a", "m", "b"]
    assert result.after == '{\n  "z": 1,\n  "a": {\n    "y": 1,\n    "b": 5,\n    "c": 1\n  },\n  "m": 3,\n  "b": 0\n}\n'


@pytest.mark.parametrize(
    ("before", "unit"),
    [
        ('{\n    "a": {\n        "b": 1\n    }\n}\n', "    "),
        ('{\n\t"a": {\n\t\t"b": 1\n\t}\n}\n', "\t"),
        ('{\n "a": 1\n}', " "),
    ],
)
def test_the_detected_indent_is_kept(before, unit):
    result = merged(before, {"c": [1]})
    expected = dump_json(result.data, indent=unit, trailing_newline=before.endswith("\n"))
    assert result.after == expected
    assert ("\n" + unit + '"c": [\n' + unit * 2 + "1\n") in result.after


def test_detect_indent():
    assert detect_indent('{\n    "a": 1\n}') == 4
    assert detect_indent('{\n\t"a": 1\n}') == "\t"
    assert detect_indent('{"a": 1}') == 2
    assert detect_indent("") == 2
    assert detect_indent('{\n\n  \n   "a": 1}') == 3


def test_a_minified_file_is_rewritten_with_two_spaces():
    result = merged('{"a":{"b":1}}', {"c": 2})
    assert result.after == '{\n  "a": {\n    "b": 1\n  },\n  "c": 2\n}'


def test_an_explicit_indent_applies_to_a_rewritten_file():
    before = pretty({"a": {"b": 1}})
    assert merged(before, {"c": 1}, indent=4).after == pretty({"a": {"b": 1}, "c": 1}, indent=4)
    assert not merged(before, {"a": {"b": 1}}, indent=4).changed


@pytest.mark.parametrize("newline", ["\n", ""])
def test_the_trailing_newline_or_its_absence_is_kept(newline):
    result = merged('{\n  "a": 1\n}' + newline, {"a": 2})
    assert result.after == '{\n  "a": 2\n}' + newline


def test_crlf_line_endings_are_kept():
    before = '{\r\n  "a": 1,\r\n  "b": {\r\n    "c": 1\r\n  }\r\n}\r\n'
    result = merged(before, {"a": 2, "d": [1]})
    assert result.after == '{\r\n  "a": 2,\r\n  "b": {\r\n    "c": 1\r\n  },\r\n  "d": [\r\n    1\r\n  ]\r\n}\r\n'


def test_non_ascii_text_is_written_as_is():
    result = merged(pretty({"name": "Zoë"}), {"greeting": "こんにちは \u2603"})
    assert "Zoë" in result.after and "こんにちは \u2603" in result.after
    assert "\\u" not in result.after


def test_escaped_non_ascii_in_untouched_members_is_left_alone():
    before = '{\n  "a": "Zo\\u00eb",\n  "b": 1\n}\n'
    result = merged(before, {"b": 2})
    assert result.after == '{\n  "a": "Zo\\u00eb",\n  "b": 2\n}\n'


def test_a_formatting_only_difference_is_not_a_change():
    before = '{"env":{"A":"1"},   "l":[1,2]}'
    result = merged(before, {"env": {"A": "1"}, "l": [1, 2]}, indent=4)
    assert not result.changed
    assert result.after == before
    assert result.changed_keys == []


@pytest.mark.parametrize(("old", "new"), [(1, True), (True, 1), (1, 1.0), (0, False), (1.0, 1), ("1", 1)])
def test_values_of_other_types_are_changes(old, new):
    result = merged(json.dumps({"v": old}), {"v": new})
    assert result.changed
    assert json_type_name(json.loads(result.after)["v"]) == json_type_name(new)


def json_type_name(value):
    return type(value).__name__


def test_json_equal_is_type_aware():
    assert json_equal({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]})
    assert json_equal({"a": 1, "b": 2}, {"b": 2, "a": 1})
    assert not json_equal(1, True)
    assert not json_equal(1, 1.0)
    assert not json_equal([1], [1, 1])
    assert not json_equal({"a": 1}, {"b": 1})


def test_untouched_members_are_copied_as_they_are():
    before = '{\n  "big": {"kept": [1,2,   3]},\n  "env": {\n    "A": "1"\n  }\n}\n'
    result = merged(before, {"env": {"B": "2"}})
    assert result.after == '{\n  "big": {"kept": [1,2,   3]},\n  "env": {\n    "A": "1",\n    "B": "2"\n  }\n}\n'


def test_deleting_top_level_members_keeps_the_layout():
    before = pretty({"a": 1, "b": {"c": 2}, "d": 3})
    assert merged(before, {"a": None}).after == pretty({"b": {"c": 2}, "d": 3})
    assert merged(before, {"d": None}).after == pretty({"a": 1, "b": {"c": 2}})
    assert merged(before, {"a": None, "b": None, "d": None}).after == "{}\n"


# Key paths and secrets


@pytest.mark.parametrize(
    ("keys", "path"),
    [(["env", "A"], "env.A"), (["a.b", "c"], "a\\.b.c"), (["back\\slash"], "back\\\\slash"), (["", "x"], ".x"), (["a.\\"], "a\\.\\\\")],
)
def test_key_paths_escape_dots_and_backslashes(keys, path):
    assert join_key_path(keys) == path
    assert split_key_path(path) == keys


def test_changed_keys_use_escaped_paths():
    result = merged("{}", {"mcpServers": {"my.server": {"env": {"K": "v"}}}})
    assert result.changed_keys == ["mcpServers.my\\.server.env.K"]


def test_a_lone_backslash_in_a_key_path_fails():
    with pytest.raises(JsonMergeError, match="lone backslash"):
        split_key_path("a\\")


def test_secret_values_collects_strings_at_key_paths():
    data = {"env": {"TOKEN": "sk-1", "N": 5, "E": ""}, "mcp": {"a.b": {"args": ["--h", "Bearer sk-2"]}}}
    assert secret_values(data, ["env.TOKEN", "env.N", "env.E", "mcp.a\\.b.args", "nope.x", "env.TOKEN.deeper"]) == [
        "sk-1",
        "--h",
        "Bearer sk-2",
    ]
    assert secret_values(data, []) == []
    assert secret_values(data, None) == []


def test_merge_reports_old_content_and_new_secrets():
    before = pretty({"env": {"TOKEN": "old-secret"}})
    result = merged(before, {"env": {"TOKEN": "new-secret"}}, secret_keys=["env.TOKEN"])
    assert result.secrets == ["old-secret", "new-secret"]
    removed = merged(before, {"env": {"TOKEN": "whatever"}}, state="absent", secret_keys=["env.TOKEN"])
    assert removed.secrets == ["old-secret", "whatever"]


@pytest.mark.parametrize(
    ("before", "content"),
    [
        (pretty({"big": {"k": ["x" * 50] * 20}, "env": {"A": "1"}}), {"env": {"B": "2"}}),
        ('{"minified": true}', {"env": {"B": "2"}}),
        (pretty({"a": 1}), {"a": 1}),
    ],
)
def test_chunks_give_the_after_text_piece_by_piece(before, content):
    result = merged(before, content)
    pieces = list(result.chunks(size=7))
    assert "".join(pieces) == merged(before, content).after
    assert max(len(piece) for piece in pieces) < len(before)
    assert "".join(result.chunks(size=7)) == result.after


@pytest.mark.parametrize(("text", "expected"), [
    ('{"a": "x // y /* z */", // c\n"b": [1, 2, /* q */ ], }', '{"a": "x // y /* z */",     \n"b": [1, 2          ]  }'),
    ('{"a": "q\\"//", "b": 1,\n// last\n}', '{"a": "q\\"//", "b": 1 \n       \n}'),
    ('{"a": [1,,]}', '{"a": [1, ]}'),
    ('{"a": /* open', '{"a": /* open'),
])
def test_strip_comments_blanks_comments_and_trailing_commas_only(text, expected):
    assert strip_comments(text) == expected
    assert len(strip_comments(text)) == len(text)


def test_strip_comments_takes_linear_steps_on_the_pathological_input():
    # Issue 13 item 11: '{"a": 1,' + '/**/' * n + ' x}' took exponential time with the former regular expression.
    for count in (1, 26, 2000):
        text = '{"a": 1,' + "/**/" * count + " x}"
        stats = {}
        assert strip_comments(text, stats) == '{"a": 1,' + " " * (4 * count) + " x}"
        assert stats["steps"] <= len(text)


def test_mask_secrets_masks_raw_and_json_escaped_forms_longest_first():
    secret = 'sk-"q\\uoté'
    text = json.dumps({"a": secret}) + json.dumps({"b": secret}, ensure_ascii=False) + "raw " + secret + " Bearer " + secret
    masked = mask_secrets(text, [secret, "Bearer " + secret])
    assert "q" not in masked.replace('"a"', "").replace('"b"', "")
    assert masked.count("********") == 4


# Diffs: only what changed


def test_the_diff_shows_only_the_changed_keys_never_the_rest_of_the_file():
    text = pretty({"mcpServers": {"other": {"headers": {"Authorization": "Bearer other-tool-token"}}, "bifrost": {"url": "http://a"}},
                   "theme": "dark"})
    result = merged(text, {"mcpServers": {"bifrost": {"url": "http://b"}}, "env": {"A": "1"}})
    before, after = diff_texts(result)
    assert json.loads(before) == {"mcpServers": {"bifrost": {"url": "http://a"}}}
    assert json.loads(after) == {"mcpServers": {"bifrost": {"url": "http://b"}}, "env": {"A": "1"}}
    assert "other-tool-token" not in before + after and "dark" not in before + after


def test_the_diff_of_a_new_or_blank_file_is_the_whole_new_text():
    result = merged("", {"a": 1})
    assert diff_texts(result) == ("", pretty({"a": 1}))
    result = merged("  \n", {"a": 1})
    assert diff_texts(result) == ("  \n", result.after)


def test_the_diff_shows_a_removed_key_only_on_the_before_side():
    result = merged(pretty({"env": {"A": "1", "B": "2"}}), {"env": {"A": None}})
    assert [json.loads(text) for text in diff_texts(result)] == [{"env": {"A": "1"}}, {}]


def test_changed_view_copies_and_escapes_key_paths():
    data = {"a.b": {"c": [1, {"d": 2}]}, "e": 3}
    view = changed_view(data, ["a\\.b.c", "missing.key"])
    assert view == {"a.b": {"c": [1, {"d": 2}]}}
    view["a.b"]["c"][1]["d"] = 9
    assert data["a.b"]["c"][1]["d"] == 2
