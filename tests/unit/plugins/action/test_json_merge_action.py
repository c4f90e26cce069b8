"""The json_merge action plugin: a plain module call on POSIX, slurp → merge on the controller → win_copy on Windows.

A PowerShell host is simulated: the connection's shell family is 'powershell' and _execute_module/_transfer_data are
recorded; remote files live in a dict.
"""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace
from unittest import mock


from ansible_collections.aigateway.bifrost.plugins.action import json_merge as action_mod

KEY = "sk-bf-" + "Z" * 40
SETTINGS = "C:\\Users\\dave\\.claude\\settings.json"
DESKTOP = "C:\\Users\\dave\\AppData\\Roaming\\Claude\\claude_desktop_config.json"
SETTINGS_CONTENT = {"env": {"ANTHROPIC_BASE_URL": "http://gw:8080/anthropic", "ANTHROPIC_AUTH_TOKEN": KEY}}
DESKTOP_CONTENT = {"mcpServers": {"bifrost": {"command": "npx", "env": {"AUTH_HEADER": "Bearer " + KEY}}}}


class FakeWindowsHost:
    """Remote files and directories, and the module calls made against them."""

    def __init__(self, files=None, dirs=()):
        self.files = dict(files or {})
        self.dirs = set(dirs)
        self.calls = []
        self.transferred = {}

    def execute_module(self, module_name=None, module_args=None, task_vars=None, **kwargs):
        self.calls.append((module_name, dict(module_args or {})))
        args = module_args or {}
        if module_name == "ansible.windows.slurp":
            if args["src"] not in self.files:
                return {"failed": True, "msg": "Path %s is not found" % args["src"]}
            return {"content": base64.b64encode(self.files[args["src"]].encode("utf-8")).decode(), "encoding": "base64"}
        if module_name == "ansible.windows.win_file":
            self.dirs.add(args["path"])
            return {"changed": True}
        if module_name == "ansible.windows.win_copy":
            parent = args["dest"].rsplit("\\", 1)[0]
            if parent not in self.dirs:
                return {"failed": True, "msg": "Destination directory '%s' does not exist" % parent}
            self.files[args["dest"]] = self.transferred[args["src"]].decode("utf-8")
            return {"changed": True, "dest": args["dest"]}
        return {"changed": False, "ran": module_name}

    def transfer(self, remote_path, data):
        self.transferred[remote_path] = data
        return remote_path

    def modules(self):
        return [name for name, dummy in self.calls]


def make_action(args, host, shell_family="powershell", check_mode=False, diff=False):
    shell = SimpleNamespace(SHELL_FAMILY=shell_family, tmpdir=None, join_path=lambda *p: "\\".join(p))
    connection = SimpleNamespace(_shell=shell, has_native_async=False)
    task = SimpleNamespace(args=args, async_val=0, check_mode=check_mode, diff=diff, action="aigateway.bifrost.json_merge")
    plugin = action_mod.ActionModule(task, connection, SimpleNamespace(check_mode=check_mode), None, None, None)

    def make_tmp(*a, **k):
        shell.tmpdir = "C:\\Windows\\Temp\\ansible-tmp-1"
        return shell.tmpdir

    plugin._execute_module = host.execute_module
    plugin._transfer_data = host.transfer
    plugin._make_tmp_path = make_tmp
    plugin._remove_tmp_path = mock.Mock()
    return plugin


def batch(*entries, **options):
    return dict(files=[dict(path=p, content=c, secret_keys=s) for p, c, s in entries], **options)


SETTINGS_ENTRY = (SETTINGS, SETTINGS_CONTENT, ["env.ANTHROPIC_AUTH_TOKEN"])
DESKTOP_ENTRY = (DESKTOP, DESKTOP_CONTENT, ["mcpServers.bifrost.env.AUTH_HEADER"])


def test_posix_runs_the_module_with_the_task_args_unchanged():
    host = FakeWindowsHost()
    args = {"path": "/home/a/x.json", "content": {"a": 1}, "mode": "0600"}
    plugin = make_action(args, host, shell_family="sh")
    result = plugin.run(task_vars={})
    assert result == {"changed": False, "ran": "aigateway.bifrost.json_merge"}
    assert host.calls == [("aigateway.bifrost.json_merge", args)]
    plugin._remove_tmp_path.assert_called_once()  # the remote tmp dir of a non-pipelined run is cleaned up


def test_powershell_detected_from_task_vars_too():
    host = FakeWindowsHost(dirs={"C:\\d"})
    plugin = make_action({"path": "C:\\d\\x.json", "content": {"a": "1"}}, host, shell_family=None)
    plugin.run(task_vars={"ansible_shell_type": "powershell"})
    assert host.modules() == ["ansible.windows.slurp", "ansible.windows.win_copy"]


def test_windows_merges_on_the_controller_keeping_the_users_keys():
    existing = json.dumps({"env": {"MY_VAR": "x"}, "permissions": {"allow": ["Bash(ls)"]}}, indent=4) + "\n"
    desktop = json.dumps({"preferences": {"theme": "dark"}, "mcpServers": {"other": {"command": "uvx"}}}) + "\n"
    host = FakeWindowsHost(files={SETTINGS: existing, DESKTOP: desktop},
                           dirs={"C:\\Users\\dave\\.claude", "C:\\Users\\dave\\AppData\\Roaming\\Claude"})
    result = make_action(batch(SETTINGS_ENTRY, DESKTOP_ENTRY), host).run(task_vars={})
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert [r["changed"] for r in result["results"]] == [True, True]
    assert result["results"][0]["changed_keys"] == ["env.ANTHROPIC_BASE_URL", "env.ANTHROPIC_AUTH_TOKEN"]
    assert host.modules() == ["ansible.windows.slurp", "ansible.windows.slurp",
                              "ansible.windows.win_copy", "ansible.windows.win_copy"]
    settings = json.loads(host.files[SETTINGS])
    assert settings == {"env": {"MY_VAR": "x", "ANTHROPIC_BASE_URL": "http://gw:8080/anthropic",
                                "ANTHROPIC_AUTH_TOKEN": KEY},
                        "permissions": {"allow": ["Bash(ls)"]}}
    assert host.files[SETTINGS].startswith('{\n    "env"')  # the file's own indent kept
    assert json.loads(host.files[DESKTOP]) == {"preferences": {"theme": "dark"}, "mcpServers": {
        "other": {"command": "uvx"}, "bifrost": {"command": "npx", "env": {"AUTH_HEADER": "Bearer " + KEY}}}}
    # The key travels only inside the transferred file, never in a module argument.
    for name, args in host.calls:
        assert KEY not in json.dumps(args), name
    copy_args = [args for name, args in host.calls if name == "ansible.windows.win_copy"]
    assert copy_args[0]["dest"] == SETTINGS and copy_args[0]["_copy_mode"] == "single"
    assert KEY not in json.dumps(result)


def test_second_run_changes_nothing_and_writes_nothing():
    host = FakeWindowsHost(dirs={"C:\\Users\\dave\\.claude"})
    make_action(batch(SETTINGS_ENTRY), host).run(task_vars={})
    host.calls.clear()
    result = make_action(batch(SETTINGS_ENTRY), host).run(task_vars={})
    assert result["changed"] is False
    assert host.modules() == ["ansible.windows.slurp"]


def test_missing_file_and_parents_are_created_with_create_parents():
    host = FakeWindowsHost()
    result = make_action(batch(SETTINGS_ENTRY, create_parents=True), host).run(task_vars={})
    assert result["changed"] is True, result
    assert ("ansible.windows.win_file", {"path": "C:\\Users\\dave\\.claude", "state": "directory"}) in host.calls
    assert json.loads(host.files[SETTINGS]) == SETTINGS_CONTENT
    assert host.files[SETTINGS].endswith("}\n") and not host.files[SETTINGS].startswith("\ufeff")


def test_missing_file_without_create_fails_for_present_and_is_fine_for_absent():
    host = FakeWindowsHost()
    result = make_action(batch(SETTINGS_ENTRY, create=False), host).run(task_vars={})
    assert result["failed"] and "does not exist and create is false" in result["msg"] and SETTINGS in result["msg"]
    result = make_action(batch(SETTINGS_ENTRY, create=False, state="absent"), host).run(task_vars={})
    assert result["changed"] is False and not result.get("failed")
    assert "ansible.windows.win_copy" not in host.modules()


def test_check_mode_writes_nothing_but_reports_and_diffs_masked():
    existing = '{"env": {"MY_VAR": "x", "ANTHROPIC_AUTH_TOKEN": "sk-bf-old"}}\n'
    host = FakeWindowsHost(files={SETTINGS: existing}, dirs={"C:\\Users\\dave\\.claude"})
    result = make_action(batch(SETTINGS_ENTRY, create_parents=True), host, check_mode=True, diff=True).run(task_vars={})
    assert result["changed"] is True
    assert host.files[SETTINGS] == existing
    assert host.modules() == ["ansible.windows.slurp"]
    assert host.transferred == {}
    (diff,) = result["diff"]
    assert diff["before_header"] == SETTINGS
    assert "********" in diff["after"] and "********" in diff["before"]
    assert KEY not in json.dumps(result) and "sk-bf-old" not in json.dumps(result)
    # Only the changed keys are shown: the user's own MY_VAR is not.
    assert "MY_VAR" not in diff["before"] and "MY_VAR" not in diff["after"]


def test_windows_diff_masks_a_users_own_secret_in_its_json_escaped_form():
    own = 'sk-ant-own-q"uo\\te-' + "U" * 20
    existing = json.dumps({"env": {"ANTHROPIC_API_KEY": own}}) + "\n"
    host = FakeWindowsHost(files={SETTINGS: existing}, dirs={"C:\\Users\\dave\\.claude"})
    # The content removes the user's own key, so the diff shows it (masked) on the before side.
    content = {"env": dict(SETTINGS_CONTENT["env"], ANTHROPIC_API_KEY=None)}
    entry = (SETTINGS, content, ["env.ANTHROPIC_AUTH_TOKEN", "env.ANTHROPIC_API_KEY"])
    result = make_action(batch(entry), host, diff=True).run(task_vars={})
    assert result["changed"] is True
    assert "U" * 20 not in json.dumps(result)
    assert '"ANTHROPIC_API_KEY": "********"' in result["diff"][0]["before"]
    assert "ANTHROPIC_API_KEY" not in result["diff"][0]["after"]


def test_single_form_returns_path_and_one_diff():
    host = FakeWindowsHost(dirs={"C:\\Users\\dave\\AppData\\Roaming\\Claude"})
    args = {"path": DESKTOP, "content": DESKTOP_CONTENT, "secret_keys": ["mcpServers.bifrost.env.AUTH_HEADER"]}
    result = make_action(args, host, diff=True).run(task_vars={})
    assert result["path"] == DESKTOP and result["changed"] is True
    assert result["diff"]["after_header"] == DESKTOP
    assert KEY not in json.dumps(result)
    assert "Bearer" not in result["diff"]["after"]  # the whole secret value is masked


def test_bad_json_fails_naming_the_file_and_writes_nothing():
    broken = '{"env": {"A": "1",}}\n'
    host = FakeWindowsHost(files={SETTINGS: broken, DESKTOP: "{}"},
                           dirs={"C:\\Users\\dave\\.claude", "C:\\Users\\dave\\AppData\\Roaming\\Claude"})
    # The good file comes first: it is not written either, because every file is merged before any is written.
    result = make_action(batch(DESKTOP_ENTRY, SETTINGS_ENTRY), host).run(task_vars={})
    assert result["failed"] is True
    assert SETTINGS in result["msg"] and "line 1" in result["msg"] and "nothing was written" in result["msg"]
    assert "ansible.windows.win_copy" not in host.modules()
    assert host.files[SETTINGS] == broken and host.files[DESKTOP] == "{}"


def test_absent_removes_only_the_managed_keys():
    existing = json.dumps({"env": {"MY_VAR": "x", "ANTHROPIC_BASE_URL": "u", "ANTHROPIC_AUTH_TOKEN": "t"}}, indent=2) + "\n"
    host = FakeWindowsHost(files={SETTINGS: existing}, dirs={"C:\\Users\\dave\\.claude"})
    result = make_action(batch(SETTINGS_ENTRY, state="absent", create=False), host).run(task_vars={})
    assert result["changed"] is True
    assert json.loads(host.files[SETTINGS]) == {"env": {"MY_VAR": "x"}}


def test_unsupported_options_fail_clearly():
    host = FakeWindowsHost()
    result = make_action(dict(batch(SETTINGS_ENTRY), validate="python -m json.tool %s"), host).run(task_vars={})
    assert result["failed"] and "validate is not supported on Windows" in result["msg"]
    result = make_action({"path": SETTINGS, "content": {}, "files": []}, host).run(task_vars={})
    assert result["failed"] and "mutually exclusive" in result["msg"]
    result = make_action({"path": SETTINGS, "content": {}, "bogus": 1}, host).run(task_vars={})
    assert result["failed"] and "bogus" in result["msg"]
    assert host.calls == []


def test_posix_file_attributes_are_ignored_on_windows():
    host = FakeWindowsHost(dirs={"C:\\Users\\dave\\.claude"})
    args = {"files": [{"path": SETTINGS, "content": SETTINGS_CONTENT, "owner": None, "group": None, "mode": None,
                       "secret_keys": ["env.ANTHROPIC_AUTH_TOKEN"]}], "dir_mode": "0700"}
    result = make_action(args, host).run(task_vars={})
    assert result["changed"] is True and not result.get("failed")


def test_read_errors_other_than_missing_fail():
    host = FakeWindowsHost()
    host.execute_module = lambda **kw: {"failed": True, "msg": "Access is denied"}
    result = make_action(batch(SETTINGS_ENTRY), host).run(task_vars={})
    assert result["failed"] and "cannot read " + SETTINGS in result["msg"] and "Access is denied" in result["msg"]


def test_mask_secrets_longest_first():
    assert action_mod.mask_secrets("Bearer sk-1 and sk-1", ["sk-1", "Bearer sk-1"]) == "******** and ********"
    assert action_mod.mask_secrets("", ["x"]) == ""
