"""The claude_desktop role's filters: paths per platform, and the files (contents, owners, secrets) it plans."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.aigateway.bifrost.plugins.filter import claude_desktop as cd
from tests.helpers.schemas import errors

GW = "http://gw.example.internal:8080"
KEY = "sk-bf-" + "a" * 40
ACCOUNTS = {"alice": ["x", "1001", "1001", "", "/srv/home/alice", "/bin/bash"]}


def plan(users, os_family="Debian", keys=None, accounts=None, **options):
    return cd.claude_desktop_plan(users, os_family, GW, keys=keys or {}, accounts=accounts or {}, options=options)


# Paths


def test_linux_paths_default_and_overrides():
    paths = cd.claude_paths("Debian", "alice")
    assert paths["home"] == "/home/alice"
    assert paths["settings"] == "/home/alice/.claude/settings.json"
    assert paths["desktop_config"] == "/home/alice/.config/Claude/claude_desktop_config.json"
    assert paths["managed_settings"] == "/etc/claude-code/managed-settings.d/50-aigateway.json"
    assert paths["msix_packages_dir"] is None
    paths = cd.claude_paths(
        "RedHat", "bob", "/data/bob",
        {"settings_path": "{home}/cc/{name}.json", "managed_settings_mode": "file", "managed_settings_dir": "/opt/cc"},
    )
    assert paths["settings"] == "/data/bob/cc/bob.json"
    assert paths["desktop_config"] == "/data/bob/.config/Claude/claude_desktop_config.json"
    assert paths["managed_settings"] == "/opt/cc/managed-settings.json"


def test_macos_paths():
    paths = cd.claude_paths("Darwin", "carol")
    assert paths["home"] == "/Users/carol"
    assert paths["settings"] == "/Users/carol/.claude/settings.json"
    assert paths["desktop_config"] == "/Users/carol/Library/Application Support/Claude/claude_desktop_config.json"
    assert paths["managed_settings"] == "/Library/Application Support/ClaudeCode/managed-settings.d/50-aigateway.json"
    assert cd.claude_paths("Darwin", "carol", None, {"managed_settings_mode": "file"})["managed_settings"] == (
        "/Library/Application Support/ClaudeCode/managed-settings.json"
    )


def test_windows_paths():
    paths = cd.claude_paths("Windows", "dave", None, {"managed_settings_mode": "file"})
    assert paths["home"] == "C:\\Users\\dave"
    assert paths["settings"] == "C:\\Users\\dave\\.claude\\settings.json"
    assert paths["desktop_config"] == "C:\\Users\\dave\\AppData\\Roaming\\Claude\\claude_desktop_config.json"
    assert paths["msix_packages_dir"] == "C:\\Users\\dave\\AppData\\Local\\Packages"
    assert paths["managed_settings"] == "C:\\Program Files\\ClaudeCode\\managed-settings.json"
    dropin = cd.claude_paths("Windows", "dave", "D:\\Profiles\\dave", {"managed_settings_dropin_name": "10-x.json"})
    assert dropin["settings"] == "D:\\Profiles\\dave\\.claude\\settings.json"
    assert dropin["managed_settings"] == "C:\\Program Files\\ClaudeCode\\managed-settings.d\\10-x.json"


def test_unknown_os_family_and_mode_fail():
    with pytest.raises(AnsibleFilterError, match="OS family is unknown"):
        cd.claude_paths("", "alice")
    with pytest.raises(AnsibleFilterError, match="dropin or file"):
        cd.claude_paths("Debian", "alice", None, {"managed_settings_mode": "both"})


def test_msix_configs_only_for_that_users_claude_packages():
    found = [
        "C:\\Users\\dave\\AppData\\Local\\Packages\\Claude_pzs8sxrjxfjjc",
        "C:\\Users\\dave\\AppData\\Local\\Packages\\ClaudeHelper",  # not Claude_*
        "C:\\Users\\erin\\AppData\\Local\\Packages\\Claude_pzs8sxrjxfjjc",  # another user's
    ]
    assert cd.msix_desktop_configs("C:\\Users\\dave\\AppData\\Local\\Packages", found) == [
        "C:\\Users\\dave\\AppData\\Local\\Packages\\Claude_pzs8sxrjxfjjc\\LocalCache\\Roaming\\Claude\\claude_desktop_config.json"
    ]


# Plan: contents


def test_linux_plan_contents_owners_and_secrets():
    users = [
        {"name": "alice", "virtual_key": KEY, "models": {"sonnet": "bedrock/global.anthropic.claude-sonnet-4-6"},
         "env": {"API_TIMEOUT_MS": 600000, "CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": True},
         "settings": {"permissions": {"deny": ["Read(./.env)"]}}},
        {"name": "bob", "virtual_key_name": "bob-key"},
    ]
    result = plan(users, keys={"bob-key": "sk-bf-bob"}, accounts=dict(ACCOUNTS, bob=["x", "1002", "1005", "", "/home/bob", ""]),
                  models={"haiku": "claude-haiku-4-5", "sonnet": "claude-sonnet-4-6"}, env={"DISABLE_TELEMETRY": False},
                  settings={"skipWebFetchPreflight": True}, secret_env_keys=["ANTHROPIC_API_KEY"])
    alice, bob = result["settings_files"]
    assert alice["path"] == "/srv/home/alice/.claude/settings.json"  # the real home, from getent
    assert (alice["owner"], alice["group"], alice["mode"]) == ("alice", "1001", "0600")
    assert bob["group"] == "1005"
    assert alice["content"]["env"] == {
        "ANTHROPIC_BASE_URL": GW + "/anthropic",
        "ANTHROPIC_AUTH_TOKEN": KEY,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": "bedrock/global.anthropic.claude-sonnet-4-6",  # the user's pin wins
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-haiku-4-5",
        "DISABLE_TELEMETRY": "0",
        "API_TIMEOUT_MS": "600000",
        "CLAUDE_CODE_ENABLE_GATEWAY_MODEL_DISCOVERY": "1",
    }
    assert alice["content"]["permissions"] == {"deny": ["Read(./.env)"]}
    assert alice["content"]["skipWebFetchPreflight"] is True
    assert alice["secret_keys"] == ["env.ANTHROPIC_API_KEY", "env.ANTHROPIC_AUTH_TOKEN"]  # listed keys masked even when the user wrote them
    assert bob["content"]["env"]["ANTHROPIC_AUTH_TOKEN"] == "sk-bf-bob"
    for entry in result["settings_files"]:
        assert errors("claude-code-settings", entry["content"]) == []
    assert result["users"] == ["alice", "bob"] and result["managed_files"] == []


def test_desktop_entry_bridges_mcp_with_bearer_header_in_env():
    result = plan([{"name": "alice", "virtual_key": KEY}], accounts=ACCOUNTS)
    (desktop,) = result["desktop_files"]
    assert desktop["path"] == "/srv/home/alice/.config/Claude/claude_desktop_config.json"
    assert desktop["content"] == {"mcpServers": {"bifrost": {
        "command": "npx",
        "args": ["-y", "mcp-remote", GW + "/mcp", "--header", "Authorization:${AUTH_HEADER}", "--allow-http"],
        "env": {"AUTH_HEADER": "Bearer " + KEY},
    }}}
    assert desktop["secret_keys"] == ["mcpServers.bifrost.env.AUTH_HEADER"]
    assert desktop["mode"] == "0600" and desktop["owner"] == "alice"


@pytest.mark.parametrize("url, allow_http", [
    ("http://127.0.0.1:8080", False), ("http://localhost:8080", False), ("https://gw.example.internal", False),
    ("http://10.0.0.5:8080", True),
])
def test_allow_http_only_for_plain_http_to_other_hosts(url, allow_http):
    result = cd.claude_desktop_plan([{"name": "a", "virtual_key": KEY}], "Debian", url + "/", options={})
    args = result["desktop_files"][0]["content"]["mcpServers"]["bifrost"]["args"]
    assert args[2] == url + "/mcp"
    assert ("--allow-http" in args) is allow_http
    assert result["settings_files"][0]["content"]["env"]["ANTHROPIC_BASE_URL"] == url + "/anthropic"


def test_chat_tab_can_be_disabled_globally_or_per_user():
    users = [{"name": "a", "virtual_key": KEY}, {"name": "b", "virtual_key": KEY, "chat_enabled": False}]
    assert [f["path"] for f in plan(users)["desktop_files"]] == ["/home/a/.config/Claude/claude_desktop_config.json"]
    assert plan(users, chat_enabled=False)["desktop_files"] == []


def test_server_name_and_package_are_configurable():
    result = plan([{"name": "a", "virtual_key": KEY}], mcp_server_name="gw-prod", mcp_remote_package="mcp-remote@0.15.1",
                  mcp_remote_extra_args=["--transport", "http-only"])
    entry = result["desktop_files"][0]["content"]["mcpServers"]["gw-prod"]
    assert entry["args"][1] == "mcp-remote@0.15.1" and entry["args"][-2:] == ["--transport", "http-only"]
    with pytest.raises(AnsibleFilterError, match="mcp_server_name"):
        plan([{"name": "a", "virtual_key": KEY}], mcp_server_name="a.b")


def test_windows_plan_has_no_posix_owner_and_writes_msix_copies():
    found = ["C:\\Users\\dave\\AppData\\Local\\Packages\\Claude_pzs8sxrjxfjjc"]
    result = plan([{"name": "dave", "virtual_key": KEY}], os_family="Windows", msix_dirs=found)
    assert result["msix_packages_dirs"] == ["C:\\Users\\dave\\AppData\\Local\\Packages"]
    assert [f["path"] for f in result["desktop_files"]] == [
        "C:\\Users\\dave\\AppData\\Roaming\\Claude\\claude_desktop_config.json",
        found[0] + "\\LocalCache\\Roaming\\Claude\\claude_desktop_config.json",
    ]
    settings = result["settings_files"][0]
    assert settings["path"] == "C:\\Users\\dave\\.claude\\settings.json"
    assert (settings["owner"], settings["group"], settings["mode"]) == (None, None, None)
    assert len(plan([{"name": "dave", "virtual_key": KEY}], os_family="Windows", msix_dirs=found,
                    desktop_config_msix=False)["desktop_files"]) == 1


def test_macos_plan_group_staff_and_paths():
    result = plan([{"name": "carol", "virtual_key": KEY}], os_family="Darwin", managed_settings=True)
    settings, desktop = result["settings_files"][0], result["desktop_files"][0]
    assert (settings["owner"], settings["group"]) == ("carol", "staff")
    assert desktop["path"] == "/Users/carol/Library/Application Support/Claude/claude_desktop_config.json"
    managed = result["managed_files"][0]
    assert (managed["owner"], managed["group"], managed["mode"]) == ("root", "wheel", "0644")


# Plan: managed settings


def test_managed_settings_pin_gateway_and_models_without_keys():
    result = plan([{"name": "a", "virtual_key": KEY}], managed_settings=True, models={"sonnet": "claude-sonnet-4-6"},
                  managed_settings_content={"availableModels": ["claude-sonnet-4-6"], "env": {"DISABLE_TELEMETRY": 1}})
    (managed,) = result["managed_files"]
    assert managed["path"] == "/etc/claude-code/managed-settings.d/50-aigateway.json"
    assert (managed["owner"], managed["group"], managed["mode"]) == ("root", "root", "0644")
    assert managed["content"] == {
        "availableModels": ["claude-sonnet-4-6"],
        "env": {"ANTHROPIC_BASE_URL": GW + "/anthropic", "ANTHROPIC_DEFAULT_SONNET_MODEL": "claude-sonnet-4-6",
                "DISABLE_TELEMETRY": "1"},
    }
    assert KEY not in repr(managed)
    assert errors("claude-code-settings", managed["content"]) == []


def test_provider_modes():
    bedrock = plan([{"name": "a", "virtual_key": KEY}], provider_mode="bedrock")["settings_files"][0]["content"]["env"]
    assert bedrock["CLAUDE_CODE_USE_BEDROCK"] == "1"
    assert bedrock["ANTHROPIC_BEDROCK_BASE_URL"] == GW + "/bedrock"
    assert bedrock["CLAUDE_CODE_SKIP_BEDROCK_AUTH"] == "1"
    vertex = plan([{"name": "a", "virtual_key": KEY}], provider_mode="vertex", vertex_project_id="p1",
                  vertex_region="europe-west1")["settings_files"][0]["content"]["env"]
    assert (vertex["CLAUDE_CODE_USE_VERTEX"], vertex["ANTHROPIC_VERTEX_BASE_URL"]) == ("1", GW + "/genai")
    assert (vertex["ANTHROPIC_VERTEX_PROJECT_ID"], vertex["CLOUD_ML_REGION"]) == ("p1", "europe-west1")
    gateway = plan([{"name": "a", "virtual_key": KEY}])["settings_files"][0]["content"]["env"]
    assert not [k for k in gateway if k.startswith("CLAUDE_CODE_USE")]
    with pytest.raises(AnsibleFilterError, match="provider_mode"):
        plan([{"name": "a", "virtual_key": KEY}], provider_mode="foundry")


# Plan: refusals


@pytest.mark.parametrize("where", ["settings", "user", "managed"])
@pytest.mark.parametrize("key", ["forceLoginMethod", "forceLoginOrgUUID"])
def test_lockout_settings_are_refused_anywhere(where, key):
    user = {"name": "a", "virtual_key": KEY}
    options = {}
    if where == "settings":
        options["settings"] = {key: "claudeai"}
    elif where == "user":
        user["settings"] = {key: "claudeai"}
    else:
        options.update(managed_settings=True, managed_settings_content={key: "console"})
    with pytest.raises(AnsibleFilterError, match=key + ".*locked out of the gateway"):
        plan([user], **options)


@pytest.mark.parametrize("env, message", [
    ({"FOO": ["a"]}, r"claude_desktop_env\.FOO must be a string, number or boolean, not list"),
    ({"FOO": {"a": 1}}, "not dict"),
    ({"lower": "x"}, "names must match"),
])
def test_bad_env_is_refused_with_the_key_named(env, message):
    with pytest.raises(AnsibleFilterError, match=message):
        plan([{"name": "a", "virtual_key": KEY}], env=env)


def test_user_env_errors_name_the_user():
    with pytest.raises(AnsibleFilterError, match=r"claude_desktop_users\[bob\]\.env\.X must be"):
        plan([{"name": "bob", "virtual_key": KEY, "env": {"X": [1]}}])
    with pytest.raises(AnsibleFilterError, match=r"claude_desktop_users\[bob\]\.models has unknown model tiers"):
        plan([{"name": "bob", "virtual_key": KEY, "models": {"gpt": "x"}}])


def test_null_env_value_removes_the_entry():
    content = plan([{"name": "a", "virtual_key": KEY, "env": {"ANTHROPIC_API_KEY": None}}])["settings_files"][0]["content"]
    assert content["env"]["ANTHROPIC_API_KEY"] is None


@pytest.mark.parametrize("users, message", [
    ([{"name": "a"}], "needs virtual_key or virtual_key_name"),
    ([{"name": "a", "virtual_key": KEY}, {"name": "a", "virtual_key": KEY}], "listed twice"),
    ([{"virtual_key": KEY}], r"claude_desktop_users\[0\] needs a name"),
    ([{"name": "a", "virtual_key": KEY, "virtual_key_name": "a"}], "both virtual_key and virtual_key_name"),
    ([{"name": "a", "virtual_key_name": "nope"}], "'nope', which was not resolved"),
])
def test_bad_users_are_refused(users, message):
    with pytest.raises(AnsibleFilterError, match=message):
        plan(users)


@pytest.mark.parametrize("url", ["", "gw:8080", "ftp://gw", "http://gw:8080/?x=1"])
def test_bad_gateway_url_is_refused(url):
    with pytest.raises(AnsibleFilterError, match="claude_desktop_gateway_url"):
        cd.claude_desktop_plan([{"name": "a", "virtual_key": KEY}], "Debian", url)


def test_missing_accounts_fail_or_are_skipped():
    users = [{"name": "alice", "virtual_key": KEY}, {"name": "ghost", "virtual_key": KEY}]
    with pytest.raises(AnsibleFilterError, match="user ghost has no account on this host"):
        plan(users, accounts=ACCOUNTS)
    result = plan(users, accounts=ACCOUNTS, skip_missing_users=True)
    assert result["users"] == ["alice"] and result["skipped_users"] == ["ghost"]
    assert [f["owner"] for f in result["settings_files"]] == ["alice"]


def test_absent_needs_no_keys():
    result = plan([{"name": "a", "virtual_key_name": "unresolved"}], state="absent")
    env = result["settings_files"][0]["content"]["env"]
    assert set(env) == {"ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN"}
    assert "sk-bf" not in repr(result)


def test_errors_never_show_key_values():
    with pytest.raises(AnsibleFilterError) as info:
        plan([{"name": "a", "virtual_key": KEY, "settings": {"forceLoginMethod": "claudeai"}}])
    assert KEY not in str(info.value)


def test_env_precedence():
    user = {"name": "a", "virtual_key": KEY, "env": {"X": "user-env"},
            "settings": {"env": {"X": "user-settings", "ANTHROPIC_BASE_URL": "http://elsewhere/anthropic", "Y": "s"}}}
    env = plan([user], env={"X": "global-env", "Z": "g"}, settings={"env": {"X": "global-settings"}})[
        "settings_files"][0]["content"]["env"]
    assert env["X"] == "user-env" and env["Z"] == "g" and env["Y"] == "s"
    assert env["ANTHROPIC_BASE_URL"] == GW + "/anthropic"  # the gateway entries win over settings.env
    assert list(env)[:2] == ["ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN"]
