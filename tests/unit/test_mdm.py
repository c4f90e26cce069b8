"""MDM artefacts: the macOS profiles (checked against the key table in docs/mdm.md), the .reg file and Intune script,
the Windows policy values the claude_desktop role writes, and the mdm playbook run twice on the example inventory."""

from __future__ import annotations

import json
import os
import plistlib
import re
import stat
import subprocess
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.aigateway.bifrost.plugins.filter import mdm

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "inventory"
GW = "https://gw.example.internal:8443"
KEY = "sk-bf-" + "K" * 40
SHARED = "sk-bf-" + "S" * 40
OPTIONS = {
    "models": {"sonnet": "anthropic/claude-sonnet-4-6", "haiku": "anthropic/claude-haiku-4-5",
               "default": "anthropic/claude-sonnet-4-6"},
    "env": {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": True},
    "managed_settings_content": {"skipWebFetchPreflight": True, "availableModels": ["sonnet", "haiku"],
                                 "permissions": {"deny": ["WebFetch"]}},
}
TYPES = {"string": str, "integer": int, "boolean": bool, "dict": dict, "array": list}


def key_table():
    """(domain, key) -> type name, from the table in docs/mdm.md (so the docs and the artefacts cannot drift)."""
    text = (ROOT / "docs" / "mdm.md").read_text(encoding="utf-8")
    section = text.split("## Payload keys", 1)[1]
    rows = re.findall(r"^\| ([\w.]+) \| `(\w+)` \| (\w+) \| (.+?) \|$", section, re.M)
    assert len(rows) >= 25
    assert all(row[3].strip() for row in rows)
    return {(domain, key): kind for domain, key, kind, dummy in rows}


def artefacts(url=GW, **options):
    return {a["name"]: a for a in mdm.mdm_artefacts(url, dict(OPTIONS, **options))}


def load_profile(text):
    return plistlib.loads(text.encode("utf-8"))


def payload_settings(profile):
    """domain -> mcx_preference_settings of each payload."""
    result = {}
    for payload in profile["PayloadContent"]:
        (domain, forced), = payload["PayloadContent"].items()
        result[domain] = forced["Forced"][0]["mcx_preference_settings"]
    return result


def check_against_table(profile):
    table = key_table()
    problems = []

    def check(domain, key, value):
        kind = table.get((domain, key))
        if kind is None:
            problems.append("%s %s is not in the table" % (domain, key))
        elif not isinstance(value, TYPES[kind]) or (kind == "integer" and isinstance(value, bool)):
            problems.append("%s %s is %s, the table says %s" % (domain, key, type(value).__name__, kind))

    for key, value in profile.items():
        check("profile", key, value)
    for payload in profile["PayloadContent"]:
        for key, value in payload.items():
            check("payload", key, value)
    for domain, settings in payload_settings(profile).items():
        for key, value in settings.items():
            check(domain, key, value)
    assert problems == []


# The macOS profiles


def test_device_profile_keys_and_types_match_the_docs_table():
    result = artefacts(credential="helper", credential_helper="/usr/local/bin/claude-key",
                       mcp_headers_helper="/usr/local/bin/claude-mcp-headers", desktop_gateway=True,
                       desktop_headers={"X-Org": "platform"})
    profile = load_profile(result["macos/aigateway.bifrost.mobileconfig"]["content"])
    check_against_table(profile)
    assert profile["PayloadScope"] == "System"
    settings = payload_settings(profile)
    code = settings["com.anthropic.claudecode"]
    assert code["env"]["ANTHROPIC_BASE_URL"] == GW + "/anthropic"
    assert code["env"]["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert code["skipWebFetchPreflight"] is True and code["permissions"] == {"deny": ["WebFetch"]}
    assert code["apiKeyHelper"] == "/usr/local/bin/claude-key"
    assert "ANTHROPIC_AUTH_TOKEN" not in code["env"]
    desktop = settings["com.anthropic.claudefordesktop"]
    assert all(isinstance(value, str) for value in desktop.values())
    assert desktop["inferenceProvider"] == "gateway"
    assert desktop["inferenceGatewayBaseUrl"] == GW + "/anthropic"
    assert desktop["inferenceCredentialHelper"] == "/usr/local/bin/claude-key"
    assert json.loads(desktop["inferenceModels"]) == ["anthropic/claude-sonnet-4-6", "anthropic/claude-haiku-4-5"]
    assert json.loads(desktop["inferenceCustomHeaders"]) == {"X-Org": "platform"}
    assert json.loads(desktop["managedMcpServers"]) == [{
        "name": "bifrost", "transport": "http", "url": GW + "/mcp",
        "headersHelper": "/usr/local/bin/claude-mcp-headers"}]
    assert not any(a["secret"] for a in result.values())


def test_no_key_in_device_artefacts_by_default():
    result = artefacts(user_profiles=True, users=[{"name": "alice", "virtual_key": KEY}])
    for name, artefact in result.items():
        assert (KEY in artefact["content"]) == name.startswith("macos/users/"), name
        assert artefact["secret"] == name.startswith("macos/users/"), name


def test_user_profile_is_complete_and_user_scoped():
    result = artefacts(user_profiles=True, desktop_gateway=True,
                       users=[{"name": "alice", "virtual_key_name": "alice", "models": {"opus": "openai/gpt-5.5"}}],
                       keys={"alice": KEY})
    device = load_profile(result["macos/aigateway.bifrost.mobileconfig"]["content"])
    assert list(payload_settings(device)) == ["com.anthropic.claudecode"]  # Desktop needs a key: user profiles only
    profile = load_profile(result["macos/users/alice.mobileconfig"]["content"])
    check_against_table(profile)
    assert profile["PayloadScope"] == "User"
    assert profile["PayloadIdentifier"] == "aigateway.bifrost.user.alice"
    settings = payload_settings(profile)
    env = settings["com.anthropic.claudecode"]["env"]
    # The per-user plist replaces the device one for Claude Code, so it carries everything plus the key.
    assert env["ANTHROPIC_AUTH_TOKEN"] == KEY
    assert env["ANTHROPIC_BASE_URL"] == GW + "/anthropic"
    assert env["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "openai/gpt-5.5"
    assert env["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "anthropic/claude-sonnet-4-6"
    desktop = settings["com.anthropic.claudefordesktop"]
    assert desktop["inferenceGatewayApiKey"] == KEY
    assert json.loads(desktop["managedMcpServers"])[0]["headers"] == {"Authorization": "Bearer " + KEY}
    uuids = [profile["PayloadUUID"]] + [p["PayloadUUID"] for p in profile["PayloadContent"]]
    assert len(set(uuids + [device["PayloadUUID"]])) == 4


def test_same_input_same_bytes_and_namespace_changes_uuids():
    first = artefacts(desktop_gateway=True, credential="shared", shared_key=SHARED)
    second = artefacts(desktop_gateway=True, credential="shared", shared_key=SHARED)
    assert first == second
    other = artefacts(desktop_gateway=True, credential="shared", shared_key=SHARED,
                      uuid_namespace="6ba7b811-9dad-11d1-80b4-00c04fd430c8")
    profile, moved = (load_profile(a["macos/aigateway.bifrost.mobileconfig"]["content"]) for a in (first, other))
    assert profile["PayloadUUID"] != moved["PayloadUUID"]
    assert profile["PayloadIdentifier"] == moved["PayloadIdentifier"] == "aigateway.bifrost"
    assert re.match(r"^[0-9A-F]{8}-[0-9A-F]{4}-5[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$", profile["PayloadUUID"])


def test_shared_key_marks_every_device_artefact_secret():
    result = artefacts(desktop_gateway=True, credential="shared", shared_key=SHARED)
    assert all(a["secret"] for a in result.values())
    settings = payload_settings(load_profile(result["macos/aigateway.bifrost.mobileconfig"]["content"]))
    assert settings["com.anthropic.claudecode"]["env"]["ANTHROPIC_AUTH_TOKEN"] == SHARED
    assert settings["com.anthropic.claudefordesktop"]["inferenceGatewayApiKey"] == SHARED


@pytest.mark.parametrize("options,message", [
    ({"desktop_gateway": True, "credential": "shared", "shared_key": SHARED}, "claude_desktop_gateway_url"),
    ({"desktop_gateway": True}, "mdm_credential"),
    ({"credential": "helper"}, "mdm_credential_helper"),
    ({"credential": "shared"}, "mdm_shared_virtual_key"),
    ({"credential": "sso"}, "mdm_credential must be one of"),
    ({"desktop_auth_scheme": "sso"}, "mdm_desktop_auth_scheme"),
    ({"desktop_gateway": True, "credential": "helper", "credential_helper": "/h"}, "mdm_mcp_headers_helper"),
    ({"uuid_namespace": "nope"}, "mdm_uuid_namespace"),
    ({"user_profiles": True, "users": [{"name": "bob", "virtual_key_name": "bob"}]}, "user bob"),
    ({"managed_settings_content": {"forceLoginMethod": "claudeai"}}, "forceLoginMethod"),
])
def test_bad_input_names_the_variable(options, message):
    url = "http://gw.example.internal:8080" if message == "claude_desktop_gateway_url" else GW
    with pytest.raises(AnsibleFilterError, match=message):
        artefacts(url, **options)


def test_users_from_several_hosts_once_each():
    alice = {"name": "alice", "virtual_key_name": "alice"}
    bob = {"name": "bob", "virtual_key_name": "bob"}
    assert mdm.mdm_users([[bob], [alice, bob], None]) == [alice, bob]
    with pytest.raises(AnsibleFilterError, match="user bob is listed with different settings"):
        mdm.mdm_users([[bob], [dict(bob, models={"opus": "x"})]])


# Windows: the .reg file, the Intune script and the win_regedit values


def reg_unescape(text):
    return re.sub(r"\\(.)", r"\1", text)


def parse_reg(data: bytes):
    """{key: {name: value or None (deleted)}} from a .reg file's bytes (UTF-16 LE with BOM, CRLF)."""
    assert data.startswith(b"\xff\xfe")
    text = data[2:].decode("utf-16-le")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    assert lines[0] == "Windows Registry Editor Version 5.00"
    result, key = {}, None
    for line in lines[1:]:
        if line.startswith("["):
            key = line.strip("[]")
            result[key] = {}
        elif line:
            match = re.match(r'^"((?:[^"\\]|\\.)*)"=(-|"((?:[^"\\]|\\.)*)")$', line)
            assert match, line
            value = None if match.group(2) == "-" else reg_unescape(match.group(3))
            result[key][reg_unescape(match.group(1))] = value
    return result


def test_reg_file_sets_the_settings_json_and_desktop_values():
    result = artefacts(desktop_gateway=True, credential="helper", credential_helper="C:\\Tools\\key.exe",
                       mcp_headers_helper="C:\\Tools\\mcp \"headers\".exe")
    reg = result["windows/aigateway.bifrost.reg"]
    assert reg["encoding"] == "utf-16-le" and reg["content"].startswith("\ufeff")
    parsed = parse_reg(reg["content"].encode("utf-16-le"))
    code = parsed["HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\ClaudeCode"]
    settings = json.loads(code["Settings"])
    assert settings == json.loads(result["managed-settings.json"]["content"])
    assert settings["apiKeyHelper"] == "C:\\Tools\\key.exe"
    desktop = parsed["HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Claude"]
    assert desktop["inferenceCredentialHelper"] == "C:\\Tools\\key.exe"
    assert json.loads(desktop["managedMcpServers"])[0]["headersHelper"] == "C:\\Tools\\mcp \"headers\".exe"
    assert desktop["inferenceGatewayApiKey"] is None  # owned but unset: removed
    assert set(desktop) == set(mdm.DESKTOP_KEYS)


def test_reg_file_leaves_desktop_alone_without_gateway_mode():
    parsed = parse_reg(artefacts()["windows/aigateway.bifrost.reg"]["content"].encode("utf-16-le"))
    assert list(parsed) == ["HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\ClaudeCode"]


def test_intune_script_sets_the_same_values():
    result = artefacts(desktop_gateway=True, credential="shared", shared_key="sk-bf-it's")
    script = result["windows/Set-AigatewayBifrostPolicy.ps1"]["content"]
    calls = re.findall(r"^\$key\.SetValue\('((?:[^']|'')*)', '((?:[^']|'')*)', \[Microsoft\.Win32\.RegistryValueKind\]"
                       r"::String\)\r?$", script, re.M)
    values = dict((name, value.replace("''", "'")) for name, value in calls)
    parsed = parse_reg(result["windows/aigateway.bifrost.reg"]["content"].encode("utf-16-le"))
    expected = {}
    for key in parsed.values():
        expected.update((k, v) for k, v in key.items() if v is not None)
    assert values == expected
    assert values["inferenceGatewayApiKey"] == "sk-bf-it's"
    assert "RegistryView]::Registry64" in script


def test_windows_policy_values_for_the_role():
    entries = mdm.mdm_windows_policy("http://gw.example.internal:8080", dict(OPTIONS, env={}, settings={}))
    assert [(e["path"], e["name"], e["type"], e["state"], e["secret"]) for e in entries] == [
        ("HKLM:\\SOFTWARE\\Policies\\ClaudeCode", "Settings", "string", "present", False)]
    settings = json.loads(entries[0]["data"])
    assert settings["env"]["ANTHROPIC_BASE_URL"] == "http://gw.example.internal:8080/anthropic"
    assert "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC" not in settings["env"]  # the role's env stays in user files
    assert settings["skipWebFetchPreflight"] is True


def test_role_includes_the_windows_task_file_only_for_windows():
    before_merge = yaml.safe_load((ROOT / "roles" / "claude_desktop" / "tasks" / "before_merge.yml").read_text())
    include = [t for t in before_merge if t.get("ansible.builtin.include_tasks", {}).get("file") == "policy_windows.yml"]
    assert len(include) == 1
    assert include[0]["when"] == ["claude_desktop_windows_policy | bool", "__claude_desktop_os_kind == 'windows'"]
    # Its own tags, not `always`, reach the tasks that write: --tags claude_desktop_health writes no policy. The include
    # of before_merge.yml must apply no tags either: `apply` tags reach the tasks of the includes nested inside it.
    assert "always" not in include[0]["ansible.builtin.include_tasks"]["apply"]["tags"]
    main = yaml.safe_load((ROOT / "roles" / "claude_desktop" / "tasks" / "main.yml").read_text())
    outer = [t for t in main if t.get("ansible.builtin.include_tasks", {}).get("file") == "before_merge.yml"]
    assert len(outer) == 1 and "apply" not in outer[0]["ansible.builtin.include_tasks"]
    tasks = yaml.safe_load((ROOT / "roles" / "claude_desktop" / "tasks" / "policy_windows.yml").read_text())
    assert [next(k for k in t if "." in k) for t in tasks] == ["ansible.windows.win_regedit"]
    assert "aigateway.bifrost.mdm_windows_policy" in tasks[0]["loop"]
    defaults = yaml.safe_load((ROOT / "roles" / "claude_desktop" / "defaults" / "main.yml").read_text())
    assert defaults["claude_desktop_windows_policy"] is False


def run(*args, cwd=ROOT):
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_DEPRECATION_WARNINGS="0")
    return subprocess.run(list(args), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600, check=False)


def test_role_with_the_windows_include_lists_its_tasks(tmp_path):
    play = tmp_path / "play.yml"
    play.write_text(yaml.safe_dump([{"name": "Role", "hosts": "localhost", "gather_facts": False,
                                     "roles": [{"role": "aigateway.bifrost.claude_desktop"}]}]))
    proc = run("ansible-playbook", "-i", "localhost,", str(play), "--list-tasks")
    assert proc.returncode == 0, proc.stdout
    # The Windows policy sits behind the dynamic include, so listing (and running) the role never loads ansible.windows.
    assert "Facts, accounts, the workstation's health check and the Windows policy" in proc.stdout
    assert "win_regedit" not in proc.stdout


# The playbook, on the example inventory, twice


def test_playbook_writes_byte_identical_artefacts_with_keys_0600_and_masked(tmp_path):
    out = tmp_path / "mdm"
    command = [
        "ansible-playbook", "-i", str(EXAMPLE), "--vault-password-file", str(EXAMPLE / ".vault-pass.example"),
        "aigateway.bifrost.mdm", "--diff",
        "-e", json.dumps({"mdm_output_dir": str(out), "claude_desktop_credentials_dir": str(tmp_path / "creds"),
                          "claude_desktop_gateway_url": GW, "mdm_desktop_gateway": True, "mdm_user_profiles": True}),
    ]
    check = run(*command, "--check")
    assert check.returncode == 0, check.stdout[-4000:]
    assert "changed=3" in check.stdout and not out.exists()  # dirs, public and secret files reported, none written
    first = run(*command)
    assert first.returncode == 0, first.stdout[-4000:]
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["macos/aigateway.bifrost.mobileconfig", "macos/users/alice.mobileconfig",
                     "macos/users/bob.mobileconfig", "macos/users/ci.mobileconfig", "managed-settings.json",
                     "windows/Set-AigatewayBifrostPolicy.ps1", "windows/aigateway.bifrost.reg"]
    before = {name: (out / name).read_bytes() for name in files}

    keys = []
    for name in files:
        mode = stat.S_IMODE((out / name).stat().st_mode)
        if name.startswith("macos/users/"):
            assert mode == 0o600, name
            profile = plistlib.loads(before[name])
            check_against_table(profile)
            keys.append(payload_settings(profile)["com.anthropic.claudecode"]["env"]["ANTHROPIC_AUTH_TOKEN"])
        else:
            assert mode == 0o644, name
            assert b"sk-bf-" not in before[name] and "sk-bf-".encode("utf-16-le") not in before[name], name
    assert len(set(keys)) == 3 and all(k.startswith("sk-bf-") for k in keys)
    for key in keys:
        assert key not in first.stdout and key[6:] not in first.stdout
    for directory in (out, out / "macos", out / "macos" / "users", out / "windows"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700

    device = plistlib.loads(before["macos/aigateway.bifrost.mobileconfig"])
    check_against_table(device)
    env = payload_settings(device)["com.anthropic.claudecode"]["env"]
    assert env["ANTHROPIC_BASE_URL"] == GW + "/anthropic"
    assert env["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "anthropic/claude-opus-4-6"  # group_vars/claude_workstations
    reg = parse_reg(before["windows/aigateway.bifrost.reg"])
    assert json.loads(reg["HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\ClaudeCode"]["Settings"]) == json.loads(
        before["managed-settings.json"])

    second = run(*command)
    assert second.returncode == 0, second.stdout[-4000:]
    assert re.search(r"localhost\s*:\s*ok=\d+\s+changed=0\b", second.stdout), second.stdout[-2000:]
    assert {name: (out / name).read_bytes() for name in files} == before
