"""The json_merge module, run in-process (main()) against files in tmp_path."""

from __future__ import annotations

import errno
import json
import os
import stat
import sys

import pytest

from ansible_collections.aigateway.bifrost.plugins.modules import json_merge as json_merge_module
from tests.helpers.modules import patch_module_args

SECRET = "sk-bf-" + "S3cr3t" * 7
OLD_SECRET = "sk-bf-old-" + "Q" * 30


def run(capsys, check_mode=False, diff=False, **args):
    """Run the module; returns (result dict, the raw JSON it printed)."""
    args = dict(args)
    args["_ansible_check_mode"] = check_mode
    args["_ansible_diff"] = diff
    with patch_module_args(args), pytest.raises(SystemExit):
        json_merge_module.main()
    printed = capsys.readouterr().out
    return json.loads(printed), printed


def write(path, data, mode=0o644):
    text = data if isinstance(data, str) else json.dumps(data, indent=2) + "\n"
    path.write_text(text, encoding="utf-8")
    os.chmod(path, mode)
    return path


def snapshot(path):
    """Bytes and mtime: what must stay the same after a failure or a no-op run."""
    status = os.stat(path)
    return path.read_bytes(), status.st_mtime_ns, stat.S_IMODE(status.st_mode)


def make_old(path):
    # An mtime far in the past, so that any rewrite would show.
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


# Merging, idempotence, check and diff mode


def test_creates_a_new_file_with_mode_0600(tmp_path, capsys):
    target = tmp_path / "settings.json"
    result, dummy = run(capsys, path=str(target), content={"env": {"A": "1"}})
    assert result["changed"] is True
    assert result["path"] == str(target)
    assert result["changed_keys"] == ["env.A"]
    assert target.read_text() == '{\n  "env": {\n    "A": "1"\n  }\n}\n'
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_creates_a_new_file_with_the_given_mode(tmp_path, capsys):
    target = tmp_path / "settings.json"
    result, dummy = run(capsys, path=str(target), content={"a": 1}, mode="0640")
    assert result["changed"] is True
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640


def test_creates_an_empty_object_when_content_is_omitted(tmp_path, capsys):
    target = tmp_path / "settings.json"
    result, dummy = run(capsys, path=str(target))
    assert result["changed"] is True
    assert target.read_text() == "{}\n"
    again, dummy = run(capsys, path=str(target))
    assert again["changed"] is False


def test_merges_and_second_run_is_idempotent(tmp_path, capsys):
    target = write(tmp_path / "settings.json", {"theme": "dark", "env": {"USER": "1"}, "permissions": {"allow": ["mine"]}})
    args = dict(path=str(target), content={"env": {"B": "2"}, "permissions": {"allow": ["ours"]}}, list_merge="append_unique")
    first, dummy = run(capsys, **args)
    assert first["changed"] is True
    assert first["changed_keys"] == ["env.B", "permissions.allow"]
    assert load(target) == {"theme": "dark", "env": {"USER": "1", "B": "2"}, "permissions": {"allow": ["mine", "ours"]}}
    make_old(target)
    before = snapshot(target)
    second, dummy = run(capsys, **args)
    assert second["changed"] is False
    assert second["changed_keys"] == []
    assert snapshot(target) == before


def test_check_mode_reports_the_change_and_diff_without_writing(tmp_path, capsys):
    target = write(tmp_path / "settings.json", {"a": 1})
    make_old(target)
    before = snapshot(target)
    result, dummy = run(capsys, check_mode=True, diff=True, path=str(target), content={"a": 2, "b": True})
    assert result["changed"] is True
    assert result["changed_keys"] == ["a", "b"]
    assert result["diff"] == {
        "before": '{\n  "a": 1\n}\n',
        "after": '{\n  "a": 2,\n  "b": true\n}\n',
        "before_header": str(target),
        "after_header": str(target),
    }
    assert snapshot(target) == before


def test_check_mode_does_not_create_files_or_directories(tmp_path, capsys):
    target = tmp_path / "new" / "dir" / "settings.json"
    result, dummy = run(capsys, check_mode=True, diff=True, path=str(target), content={"a": 1}, create_parents=True)
    assert result["changed"] is True
    assert result["diff"]["before"] == ""
    assert result["diff"]["after"] == '{\n  "a": 1\n}\n'
    assert not (tmp_path / "new").exists()


def test_absent_removes_what_present_added(tmp_path, capsys):
    original = '{\n  "theme": "dark"\n}\n'
    target = write(tmp_path / "settings.json", original)
    content = {"env": {"A": "1"}, "permissions": {"allow": ["x"]}}
    run(capsys, path=str(target), content=content, list_merge="append_unique")
    result, dummy = run(capsys, path=str(target), content=content, list_merge="append_unique", state="absent")
    assert result["changed"] is True
    assert target.read_text() == original


def test_absent_on_a_missing_file_does_not_create_it(tmp_path, capsys):
    target = tmp_path / "settings.json"
    result, dummy = run(capsys, path=str(target), content={"a": 1}, state="absent")
    assert result["changed"] is False
    assert not target.exists()


def test_allow_comments_merges_a_jsonc_file_and_drops_its_comments(tmp_path, capsys):
    target = write(tmp_path / "settings.json", '{\n  // mine\n  "a": 1,\n}\n')
    result, dummy = run(capsys, path=str(target), content={"b": 2}, allow_comments=True)
    assert result["changed"] is True
    assert target.read_text() == '{\n  "a": 1,\n  "b": 2\n}\n'
    assert sorted(os.listdir(tmp_path)) == ["settings.json"]


def test_indent_is_applied_to_a_new_file(tmp_path, capsys):
    target = tmp_path / "settings.json"
    run(capsys, path=str(target), content={"a": {"b": 1}}, indent=4)
    assert target.read_text() == '{\n    "a": {\n        "b": 1\n    }\n}\n'
    result, dummy = run(capsys, path=str(tmp_path / "other.json"), content={"a": 1}, indent=-1)
    assert result["failed"] is True
    assert result["msg"] == "indent must be 0 or more, not -1"
    assert not (tmp_path / "other.json").exists()


def test_a_formatting_only_difference_is_left_alone(tmp_path, capsys):
    target = write(tmp_path / "settings.json", '{"a":1,"b":[1,2]}')
    make_old(target)
    before = snapshot(target)
    result, dummy = run(capsys, path=str(target), content={"b": [1, 2]}, indent=4)
    assert result["changed"] is False
    assert snapshot(target) == before


# Secrets


def test_secret_values_never_appear_in_the_output(tmp_path, capsys):
    target = write(tmp_path / "settings.json", {"env": {"ANTHROPIC_AUTH_TOKEN": OLD_SECRET, "OTHER": "visible"}})
    result, printed = run(
        capsys,
        diff=True,
        path=str(target),
        content={"env": {"ANTHROPIC_AUTH_TOKEN": SECRET, "ANTHROPIC_BASE_URL": "http://gw:8080/anthropic"}},
        secret_keys=["env.ANTHROPIC_AUTH_TOKEN"],
    )
    assert result["changed"] is True
    assert SECRET not in printed and OLD_SECRET not in printed
    # The diff holds only the changed keys: the rest of the file (OTHER) is not shown.
    assert "visible" not in printed
    assert "http://gw:8080/anthropic" in result["diff"]["after"]
    assert json.loads(result["diff"]["before"]) == {"env": {"ANTHROPIC_AUTH_TOKEN": "********"}}
    assert "invocation" in result
    assert load(target)["env"]["ANTHROPIC_AUTH_TOKEN"] == SECRET


def test_secret_values_are_masked_when_the_module_fails(tmp_path, capsys):
    target = write(tmp_path / "settings.json", '{"env": "not an object"}')
    result, printed = run(capsys, path=str(target), content={"env": {"TOKEN": SECRET}}, secret_keys=["env.TOKEN"])
    assert result["failed"] is True
    assert SECRET not in printed


def test_secret_values_are_masked_in_batch_mode(tmp_path, capsys):
    first = tmp_path / "a.json"
    second = write(tmp_path / "b.json", {"mcpServers": {"gw": {"env": {"AUTH": "Bearer " + OLD_SECRET}}}})
    result, printed = run(
        capsys,
        diff=True,
        files=[
            dict(path=str(first), content={"env": {"TOKEN": SECRET}}),
            dict(path=str(second), content={"mcpServers": {"gw": {"env": {"AUTH": "Bearer " + SECRET}}}},
                 secret_keys=["mcpServers.gw.env"]),
        ],
        secret_keys=["env.TOKEN"],
    )
    assert result["changed"] is True
    assert SECRET not in printed and OLD_SECRET not in printed
    assert load(second)["mcpServers"]["gw"]["env"]["AUTH"] == "Bearer " + SECRET


# Backup, validate, attributes, symlinks, directories


def test_backup_file_is_made_when_the_file_changes(tmp_path, capsys):
    original = '{\n  "a": 1\n}\n'
    target = write(tmp_path / "settings.json", original)
    result, dummy = run(capsys, path=str(target), content={"a": 2}, backup=True)
    assert result["changed"] is True
    backup = result["backup_file"]
    assert os.path.dirname(backup) == str(tmp_path)
    with open(backup, encoding="utf-8") as handle:
        assert handle.read() == original
    again, dummy = run(capsys, path=str(target), content={"a": 2}, backup=True)
    assert "backup_file" not in again


def test_validate_runs_on_the_new_text(tmp_path, capsys):
    target = write(tmp_path / "settings.json", {"a": 1})
    checker = "%s -c \"import json, sys; assert json.load(open(sys.argv[1]))['a'] == 2\" %%s" % sys.executable
    result, dummy = run(capsys, path=str(target), content={"a": 2}, validate=checker)
    assert result["changed"] is True
    assert load(target) == {"a": 2}


def test_failing_validate_leaves_the_file_untouched(tmp_path, capsys):
    target = write(tmp_path / "settings.json", {"a": 1})
    make_old(target)
    before = snapshot(target)
    result, dummy = run(capsys, path=str(target), content={"a": 2}, validate="%s -c 'import sys; sys.exit(3)' %%s" % sys.executable)
    assert result["failed"] is True
    assert result["msg"].startswith("%s: validate failed (rc 3)" % target)
    assert snapshot(target) == before
    assert sorted(os.listdir(tmp_path)) == ["settings.json"]


def test_validate_without_placeholder_is_rejected(tmp_path, capsys):
    target = write(tmp_path / "settings.json", {"a": 1})
    result, dummy = run(capsys, path=str(target), content={"a": 2}, validate="true")
    assert result["failed"] is True
    assert "validate must contain %s" in result["msg"]
    assert load(target) == {"a": 1}


def test_an_existing_file_keeps_its_owner_group_and_mode(tmp_path, capsys):
    target = write(tmp_path / "settings.json", {"a": 1}, mode=0o640)
    os.chown(target, 4321, 4322)
    result, dummy = run(capsys, path=str(target), content={"a": 2})
    assert result["changed"] is True
    status = os.stat(target)
    assert (status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode)) == (4321, 4322, 0o640)
    assert load(target) == {"a": 2}


def test_owner_group_and_mode_are_applied(tmp_path, capsys):
    target = write(tmp_path / "settings.json", {"a": 1}, mode=0o644)
    result, dummy = run(capsys, path=str(target), content={"a": 1}, owner="4321", group="4322", mode="0600")
    assert result["changed"] is True
    status = os.stat(target)
    assert (status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode)) == (4321, 4322, 0o600)
    again, dummy = run(capsys, path=str(target), content={"a": 1}, owner="4321", group="4322", mode="0600")
    assert again["changed"] is False


def test_a_symlink_is_refused_and_nothing_is_followed(tmp_path, capsys):
    real = write(tmp_path / "real.json", {"a": 1})
    make_old(real)
    before = snapshot(real)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    result, dummy = run(capsys, path=str(link), content={"b": 2})
    assert result["failed"] is True
    assert result["msg"].startswith("%s: is a symbolic link; refused" % link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert snapshot(real) == before


def test_create_parents_makes_directories_with_dir_mode_and_owner(tmp_path, capsys):
    # As root in a tree only root controls; directories are created only inside one the file's owner owns.
    target = tmp_path / "etc" / "app" / "settings.json"
    result, dummy = run(capsys, path=str(target), content={"a": 1}, create_parents=True, owner="root", group="4322")
    assert result["changed"] is True
    for directory in (tmp_path / "etc", tmp_path / "etc" / "app"):
        status = os.stat(directory)
        assert (status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode)) == (0, 4322, 0o700)
    status = os.stat(target)
    assert (status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode)) == (0, 4322, 0o600)

    other = tmp_path / "other" / "settings.json"
    run(capsys, path=str(other), content={"a": 1}, create_parents=True, dir_mode="0750")
    assert stat.S_IMODE(os.stat(tmp_path / "other").st_mode) == 0o750


def test_create_parents_never_creates_a_directory_for_another_owner_in_roots_tree(tmp_path, capsys):
    target = tmp_path / "home" / "bob" / ".claude" / "settings.json"
    result, dummy = run(capsys, path=str(target), content={"a": 1}, create_parents=True, owner="4321")
    assert result["failed"] is True
    assert "%s: the directory %s does not exist, and create_parents creates directories only inside" % (target, tmp_path / "home") in result["msg"]
    assert not (tmp_path / "home").exists()


def test_a_missing_parent_directory_without_create_parents_fails(tmp_path, capsys):
    target = tmp_path / "missing" / "settings.json"
    result, dummy = run(capsys, path=str(target), content={"a": 1})
    assert result["failed"] is True
    assert result["msg"] == "%s: the directory %s does not exist (create_parents creates it)" % (target, tmp_path / "missing")
    assert not (tmp_path / "missing").exists()


def test_create_false_on_a_missing_file_fails(tmp_path, capsys):
    target = tmp_path / "settings.json"
    result, dummy = run(capsys, path=str(target), content={"a": 1}, create=False)
    assert result["failed"] is True
    assert result["msg"] == "%s: the file does not exist (create is false)" % target
    assert not target.exists()


# Bad input: a clear error and the file byte for byte unchanged


@pytest.mark.parametrize(
    ("text", "args", "message"),
    [
        ('{\n  "a": 1,\n}\n', {}, "invalid JSON at line %s" % ("2, column 9" if sys.version_info >= (3, 13) else "3, column 1")),
        ('{\n  // mine\n  "a": 1\n}\n', {}, "invalid JSON at line 2, column 3"),
        ('{"a": 1, "a": 2}', {}, 'duplicate key "a"'),
        ("[1, 2]", {}, "the top-level value is a list, not an object"),
        ('{"env": "x"}', {"content": {"env": {"A": "1"}}}, 'type clash at key "env"'),
        ('{"a": NaN}', {}, "NaN is not valid JSON"),
        ('{\n  "a": /* unterminated\n}', {"allow_comments": True}, "invalid JSON at line 2, column 8"),
    ],
)
def test_bad_files_fail_clearly_and_stay_unchanged(tmp_path, capsys, text, args, message):
    target = write(tmp_path / "settings.json", text)
    make_old(target)
    before = snapshot(target)
    options = dict(path=str(target), content={"a": 2})
    options.update(args)
    result, dummy = run(capsys, **options)
    assert result["failed"] is True
    assert result["msg"].startswith(str(target) + ": ")
    assert message in result["msg"]
    assert snapshot(target) == before
    assert sorted(os.listdir(tmp_path)) == ["settings.json"]


def test_a_file_that_is_not_utf8_fails(tmp_path, capsys):
    target = tmp_path / "settings.json"
    target.write_bytes(b'{"a": "\xff"}')
    before = snapshot(target)
    result, dummy = run(capsys, path=str(target), content={"a": 2})
    assert result["failed"] is True
    assert result["msg"] == "%s: the file is not UTF-8 text (invalid byte at offset 7)" % target
    assert snapshot(target) == before


def test_an_unreadable_file_fails(tmp_path, capsys, monkeypatch):
    target = write(tmp_path / "settings.json", {"a": 1})
    make_old(target)
    before = snapshot(target)
    real_open = os.open

    def refusing_open(file, *args, **kwargs):
        if os.fspath(file) == target.name:
            raise PermissionError(errno.EACCES, "Permission denied", target.name)
        return real_open(file, *args, **kwargs)

    # Tests run as root, who reads every file: refuse the read the way the kernel would for another user.
    monkeypatch.setattr(os, "open", refusing_open)
    result, dummy = run(capsys, path=str(target), content={"a": 2})
    monkeypatch.undo()
    assert result["failed"] is True
    assert result["msg"] == "%s: cannot read the file: Permission denied" % target
    assert snapshot(target) == before


def test_a_directory_path_fails(tmp_path, capsys):
    result, dummy = run(capsys, path=str(tmp_path), content={"a": 1})
    assert result["failed"] is True
    assert result["msg"] == "%s: is a directory, not a regular file; refused" % tmp_path


def test_content_that_is_not_a_dict_fails(tmp_path, capsys):
    target = write(tmp_path / "settings.json", {"a": 1})
    before = snapshot(target)
    result, dummy = run(capsys, path=str(target), content=["a", "b"])
    assert result["failed"] is True
    assert "content" in result["msg"] and "dict" in result["msg"]
    assert snapshot(target) == before


def test_path_and_files_are_mutually_exclusive(tmp_path, capsys):
    result, dummy = run(capsys, path=str(tmp_path / "a.json"), files=[dict(path=str(tmp_path / "b.json"))])
    assert result["failed"] is True
    assert "mutually exclusive" in result["msg"]
    missing, dummy = run(capsys, content={"a": 1})
    assert missing["failed"] is True
    assert "one of the following is required: path, files" in missing["msg"]


# Batch form


def test_batch_merges_every_file_with_results_and_diffs(tmp_path, capsys):
    first = write(tmp_path / "a.json", {"keep": 1})
    second = tmp_path / "b.json"
    third = write(tmp_path / "c.json", {"x": True})
    files = [
        dict(path=str(first), content={"env": {"A": "1"}}),
        dict(path=str(second), content={"b": 2}, mode="0644"),
        dict(path=str(third), content={"x": True}),
    ]
    result, dummy = run(capsys, diff=True, files=files)
    assert result["changed"] is True
    assert [(entry["path"], entry["changed"], entry["changed_keys"]) for entry in result["results"]] == [
        (str(first), True, ["env.A"]),
        (str(second), True, ["b"]),
        (str(third), False, []),
    ]
    assert [diff["before_header"] for diff in result["diff"]] == [str(first), str(second), str(third)]
    assert load(first) == {"keep": 1, "env": {"A": "1"}}
    assert load(second) == {"b": 2}
    assert stat.S_IMODE(os.stat(second).st_mode) == 0o644
    again, dummy = run(capsys, files=files)
    assert again["changed"] is False


def test_batch_entries_override_the_shared_file_attributes(tmp_path, capsys):
    shared = tmp_path / "shared.json"
    own = tmp_path / "own.json"
    result, dummy = run(capsys, files=[
        dict(path=str(shared), content={"a": 1}),
        dict(path=str(own), content={"a": 1}, owner="4323", mode="0640"),
    ], owner="4321", group="4322", mode="0600")
    assert result["changed"] is True
    shared_status, own_status = os.stat(shared), os.stat(own)
    assert (shared_status.st_uid, shared_status.st_gid, stat.S_IMODE(shared_status.st_mode)) == (4321, 4322, 0o600)
    assert (own_status.st_uid, own_status.st_gid, stat.S_IMODE(own_status.st_mode)) == (4323, 4322, 0o640)


def test_batch_goes_on_after_a_bad_file_and_fails_at_the_end_naming_it(tmp_path, capsys):
    first = write(tmp_path / "a.json", {"a": 1})
    bad = write(tmp_path / "bad.json", '{"a": 1,,}')
    last = write(tmp_path / "z.json", {"z": 1})
    make_old(bad)
    bad_before = snapshot(bad)
    result, dummy = run(capsys, files=[
        dict(path=str(first), content={"b": 2}),
        dict(path=str(bad), content={"b": 2}),
        dict(path=str(last), content={"b": 2}),
    ])
    assert result["failed"] is True
    assert result["msg"].startswith("1 of 3 files failed: %s: invalid JSON at line 1, column 9" % bad)
    assert result["changed"] is True
    assert [(entry["path"], entry["changed"], entry.get("failed", False)) for entry in result["results"]] == [
        (str(first), True, False), (str(bad), False, True), (str(last), True, False)]
    assert load(first) == {"a": 1, "b": 2}
    assert load(last) == {"z": 1, "b": 2}
    assert snapshot(bad) == bad_before


# Refused files, logs and the invocation (the attacks themselves, by real users, are in tests/security)


def test_fifo_hard_link_and_oversized_files_are_refused_at_once_and_the_rest_is_written(tmp_path, capsys):
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    linked = write(tmp_path / "linked.json", {"a": 1})
    os.link(linked, tmp_path / "other-name.json")
    big = write(tmp_path / "big.json", {"a": "x" * 100})
    good = write(tmp_path / "good.json", {"a": 1})
    result, dummy = run(capsys, files=[dict(path=str(p), content={"b": 2}) for p in (fifo, linked, big, good)], max_size=64)
    assert result["failed"] is True
    assert result["msg"].startswith("3 of 4 files failed: ")
    assert [entry.get("msg", "").split(": ", 1)[-1].split(";")[0] for entry in result["results"]] == [
        "is a FIFO, not a regular file", "has 2 hard links", "is larger than max_size (64 bytes, the file has 114)", ""]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert load(linked) == {"a": 1} and load(big) == {"a": "x" * 100}
    assert load(good) == {"a": 1, "b": 2}


def test_content_is_neither_logged_nor_in_the_invocation(tmp_path, capsys, monkeypatch):
    logged = []
    monkeypatch.setattr(json_merge_module.AnsibleModule, "log", lambda self, msg, log_args=None: logged.append(repr((msg, log_args))))
    marker = "plain-content-marker"
    target = tmp_path / "settings.json"
    result, printed = run(capsys, path=str(target), content={"env": {"TOKEN": SECRET, "OTHER": marker}}, secret_keys=["env.TOKEN"])
    assert result["changed"] is True and load(target)["env"]["OTHER"] == marker
    assert logged and all(SECRET not in line and marker not in line for line in logged)
    assert result["invocation"]["module_args"]["content"] == "(file content, not shown)"
    assert SECRET not in printed and marker not in printed


def test_a_file_changed_between_read_and_rename_is_merged_again(tmp_path, capsys, monkeypatch):
    target = write(tmp_path / "settings.json", {"mine": 1})
    real = json_merge_module.unchanged_since
    calls = []

    def application_writes_first(dir_fd, name, snapshot, label, max_size):
        if not calls:
            target.write_text('{"mine": 1, "app": 2}')
        calls.append(name)
        return real(dir_fd, name, snapshot, label, max_size)

    monkeypatch.setattr(json_merge_module, "unchanged_since", application_writes_first)
    result, dummy = run(capsys, path=str(target), content={"env": {"A": "1"}})
    assert result["changed"] is True and len(calls) == 2
    assert load(target) == {"mine": 1, "app": 2, "env": {"A": "1"}}
    assert sorted(os.listdir(tmp_path)) == ["settings.json"]


def test_a_file_that_keeps_changing_fails_naming_it_after_three_attempts(tmp_path, capsys, monkeypatch):
    target = write(tmp_path / "settings.json", {"mine": 1})
    monkeypatch.setattr(json_merge_module, "unchanged_since", lambda *args: False)
    result, dummy = run(capsys, path=str(target), content={"env": {"A": "1"}})
    assert result["failed"] is True
    assert result["msg"] == "%s: the file kept changing while it was merged (3 attempts); it was not written, run again" % target
    assert load(target) == {"mine": 1}
    assert sorted(os.listdir(tmp_path)) == ["settings.json"]


# Ownership record: what was written is taken back, and nothing else


def owned_run(capsys, tmp_path, content, **args):
    return run(capsys, path=str(tmp_path / "settings.json"), content=content,
               ownership_record=str(tmp_path / "state" / "record.json"), **args)


def test_a_key_the_content_no_longer_sets_is_removed_and_the_record_follows(tmp_path, capsys):
    write(tmp_path / "settings.json", {"theme": "dark"})
    owned_run(capsys, tmp_path, {"env": {"A": "1", "B": "2"}, "model": "opus"})
    record_file = tmp_path / "state" / "record.json"
    assert stat.S_IMODE(os.stat(record_file).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "state").st_mode) == 0o700
    result, dummy = owned_run(capsys, tmp_path, {"env": {"A": "1"}})
    assert result["changed"] is True and sorted(result["changed_keys"]) == ["env.B", "model"]
    assert load(tmp_path / "settings.json") == {"theme": "dark", "env": {"A": "1"}}
    entry = json.loads(record_file.read_text())["files"][str(tmp_path / "settings.json")]
    assert list(entry) == ['["env", "A"]']
    result, dummy = owned_run(capsys, tmp_path, {"env": {"A": "1"}})
    assert result["changed"] is False


def test_a_value_the_user_changed_since_is_kept_and_reported(tmp_path, capsys):
    owned_run(capsys, tmp_path, {"env": {"A": "1", "B": "2"}})
    data = load(tmp_path / "settings.json")
    data["env"]["B"] = "mine"
    write(tmp_path / "settings.json", data)
    result, dummy = owned_run(capsys, tmp_path, {"env": {"A": "1"}})
    assert result["changed"] is False
    assert result["kept_keys"] == ["env.B"]
    assert load(tmp_path / "settings.json") == {"env": {"A": "1", "B": "mine"}}


def test_absent_removes_everything_recorded_and_unchanged_and_nothing_else(tmp_path, capsys):
    write(tmp_path / "settings.json", {"theme": "dark", "env": {"OWN": "x"}})
    owned_run(capsys, tmp_path, {"env": {"A": "1", "B": "2"}, "list": [1, 2]})
    owned_run(capsys, tmp_path, {"env": {"A": "1", "B": "2", "C": "3"}, "list": [1, 2]})
    data = load(tmp_path / "settings.json")
    data["env"]["B"] = "mine"
    write(tmp_path / "settings.json", data)
    # The content of the absent run names nothing of the above: the record decides.
    result, dummy = owned_run(capsys, tmp_path, {"env": {"UNRELATED": "z"}}, state="absent")
    assert result["kept_keys"] == ["env.B"]
    assert load(tmp_path / "settings.json") == {"theme": "dark", "env": {"OWN": "x", "B": "mine"}}
    assert json.loads((tmp_path / "state" / "record.json").read_text())["files"] == {}


def test_check_mode_writes_no_record(tmp_path, capsys):
    result, dummy = owned_run(capsys, tmp_path, {"a": 1}, check_mode=True)
    assert result["changed"] is True
    assert not (tmp_path / "state").exists() and not (tmp_path / "settings.json").exists()


def test_an_unreadable_record_fails_before_any_file_is_written(tmp_path, capsys):
    target = write(tmp_path / "settings.json", {"a": 1})
    before = snapshot(target)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "record.json").write_text('{"version": 99}')
    result, dummy = owned_run(capsys, tmp_path, {"a": 2})
    assert result["failed"] is True
    assert str(tmp_path / "state" / "record.json") in result["msg"] and "unknown format" in result["msg"]
    assert snapshot(target) == before


def test_the_record_holds_no_value_and_a_removed_secret_is_masked_in_the_diff(tmp_path, capsys):
    old_server = {"mcpServers": {"gw-old": {"headers": {"Authorization": "Bearer " + OLD_SECRET}}}}
    owned_run(capsys, tmp_path, old_server, secret_keys=["mcpServers.gw-old.headers"])
    assert OLD_SECRET not in (tmp_path / "state" / "record.json").read_text()
    # The server was renamed: the old entry goes, and the diff shows its removal without the token.
    new_server = {"mcpServers": {"gw": {"headers": {"Authorization": "Bearer " + SECRET}}}}
    result, printed = owned_run(capsys, tmp_path, new_server, secret_keys=["mcpServers.gw.headers"], diff=True)
    assert load(tmp_path / "settings.json") == new_server
    assert OLD_SECRET not in printed and SECRET not in printed
    assert json.loads(result["diff"]["before"]) == {"mcpServers": {"gw-old": {"headers": {"Authorization": "********"}}}}


# Lock-out guard: Claude Code managed policy read in the same module run, before anything is written


def test_a_managed_lockout_fails_before_any_file_is_written(tmp_path, capsys):
    managed = tmp_path / "etc" / "claude-code"
    (managed / "managed-settings.d").mkdir(parents=True)
    (managed / "managed-settings.d" / "40-other.json").write_text('{"forceLoginMethod": "claudeai"}')
    own = managed / "managed-settings.d" / "50-aigateway.json"
    own.write_text('{"allowedProviders": ["anthropic"]}')  # the task's own drop-in is not judged
    target = write(tmp_path / "settings.json", {"a": 1})
    before = snapshot(target)
    guard = dict(managed_settings_dir=str(managed), exclude=[str(own)])
    result, dummy = run(capsys, path=str(target), content={"a": 2}, lockout_guard=guard)
    assert result["failed"] is True and snapshot(target) == before
    assert str(managed / "managed-settings.d" / "40-other.json") + " sets forceLoginMethod" in result["msg"]
    assert "50-aigateway" not in result["msg"]
    assert [item["key"] for item in result["policy"]["lockouts"]] == ["forceLoginMethod"]
    # warn instead: the file is written and the report returned
    args = dict(path=str(target), content={"a": 2}, lockout_guard=dict(guard, fail_on_lockout=False),
                _ansible_check_mode=False, _ansible_diff=False)
    with patch_module_args(args), pytest.raises(SystemExit):
        json_merge_module.main()
    captured = capsys.readouterr()
    result = json.loads(captured.out[captured.out.index("{"):])
    assert result["changed"] is True and load(target) == {"a": 2}
    # (ansible-core prints a module's warnings outside its JSON when the module runs in-process)
    assert "locks gateway users out" in "".join(result.get("warnings", [])) + captured.err + captured.out
    assert result["policy"]["lockouts"][0]["path"].endswith("40-other.json")


def test_an_empty_files_list_writes_nothing_and_still_runs_the_guard(tmp_path, capsys):
    # The claude_desktop role passes an empty list for a host with nothing to write (it templates its plan only once).
    managed = tmp_path / "etc" / "claude-code"
    managed.mkdir(parents=True)
    result, dummy = run(capsys, files=[], lockout_guard=dict(managed_settings_dir=str(managed)))
    assert result["changed"] is False and result["results"] == [] and result["policy"]["lockouts"] == []
    (managed / "managed-settings.json").write_text('{"forceLoginMethod": "console"}')
    result, dummy = run(capsys, files=[], lockout_guard=dict(managed_settings_dir=str(managed)))
    assert result["failed"] is True and "sets forceLoginMethod" in result["msg"]
    assert sorted(os.listdir(tmp_path)) == ["etc"]
