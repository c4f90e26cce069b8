"""The claude_desktop role's filters: paths per platform, and the files (contents, owners, secrets) it plans."""

from __future__ import annotations

import base64

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.aigateway.bifrost.plugins.filter import claude_desktop as cd
from tests.helpers.schemas import errors

GW = "http://gw.example.internal:8080"
KEY = "sk-bf-" + "a" * 40
PROFILES = [{"account": "HOST\\dave", "path": "C:\\Users\\dave"}]
ACCOUNTS = {"alice": ["x", "1001", "1001", "", "/srv/home/alice", "/bin/bash"]}


def written(value):
    """What json_merge writes for a content: None deletes a key, so it never reaches the file."""
    if isinstance(value, dict):
        return dict((k, written(v)) for k, v in value.items() if v is not None)
    return value


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
    assert written(alice["content"]["env"]) == {
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
        assert errors("claude-code-settings", written(entry["content"])) == []
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
    result = plan([{"name": "dave", "virtual_key": KEY}], os_family="Windows", msix_dirs=found, windows_profiles=PROFILES)
    assert result["msix_packages_dirs"] == ["C:\\Users\\dave\\AppData\\Local\\Packages"]
    assert [f["path"] for f in result["desktop_files"]] == [
        "C:\\Users\\dave\\AppData\\Roaming\\Claude\\claude_desktop_config.json",
        found[0] + "\\LocalCache\\Roaming\\Claude\\claude_desktop_config.json",
    ]
    settings = result["settings_files"][0]
    assert settings["path"] == "C:\\Users\\dave\\.claude\\settings.json"
    assert (settings["owner"], settings["group"], settings["mode"]) == (None, None, None)
    assert len(plan([{"name": "dave", "virtual_key": KEY}], os_family="Windows", msix_dirs=found,
                    windows_profiles=PROFILES, desktop_config_msix=False)["desktop_files"]) == 1


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
    assert written(managed["content"]) == {
        "availableModels": ["claude-sonnet-4-6"],
        "env": {"ANTHROPIC_BASE_URL": GW + "/anthropic", "ANTHROPIC_DEFAULT_SONNET_MODEL": "claude-sonnet-4-6",
                "DISABLE_TELEMETRY": "1"},
    }
    assert KEY not in repr(managed)
    assert errors("claude-code-settings", written(managed["content"])) == []


@pytest.mark.parametrize("mode", ["bedrock", "vertex", "foundry"])
def test_cloud_provider_modes_are_refused(mode):
    with pytest.raises(AnsibleFilterError, match="claude_desktop_provider_mode '%s' is no longer supported" % mode):
        plan([{"name": "a", "virtual_key": KEY}], provider_mode=mode)


def test_gateway_mode_removes_stale_provider_switches_everywhere():
    result = plan([{"name": "a", "virtual_key": KEY}], managed_settings=True)
    for content in (result["settings_files"][0]["content"], result["managed_files"][0]["content"]):
        for name in ("CLAUDE_CODE_USE_BEDROCK", "ANTHROPIC_BEDROCK_BASE_URL", "CLAUDE_CODE_SKIP_BEDROCK_AUTH",
                     "CLAUDE_CODE_USE_VERTEX", "ANTHROPIC_VERTEX_BASE_URL", "CLAUDE_CODE_SKIP_VERTEX_AUTH"):
            assert name in content["env"] and content["env"][name] is None  # null: json_merge deletes it


# Plan: refusals


@pytest.mark.parametrize("where", ["settings", "user"])
@pytest.mark.parametrize("key", ["forceLoginMethod", "forceLoginOrgUUID"])
def test_login_keys_in_users_own_files_lock_nobody_out_and_are_not_refused(where, key):
    user = {"name": "a", "virtual_key": KEY}
    options = {}
    if where == "settings":
        options["settings"] = {key: "claudeai"}
    else:
        user["settings"] = {key: "claudeai"}
    assert plan([user], **options)["settings_files"][0]["content"][key] == "claudeai"


@pytest.mark.parametrize("extra, key", [
    ({"forceLoginMethod": "console"}, "forceLoginMethod"),
    ({"forceLoginOrgUUID": "org"}, "forceLoginOrgUUID"),
    ({"enforceAnthropicSignIn": True}, "enforceAnthropicSignIn"),
    ({"allowedProviders": ["anthropic"]}, "allowedProviders"),
])
def test_lockout_keys_in_the_roles_own_managed_dropin_are_refused(extra, key):
    with pytest.raises(AnsibleFilterError, match=key + ".*locks users out of the gateway"):
        plan([{"name": "a", "virtual_key": KEY}], managed_settings=True, managed_settings_content=extra)


def test_windows_policy_sources_from_registry_and_files():
    dropins = "C:\\Program Files\\ClaudeCode\\managed-settings.d\\"
    found = [{"path": dropins + "50-aigateway.json"}, {"path": dropins + "40-other.json"},
             {"path": dropins + ".hidden.json"}, {"path": "C:\\Program Files\\ClaudeCode\\managed-mcp.json"},
             {"path": "C:\\Program Files\\ClaudeCode\\managed-settings.json"}, {"path": dropins + "10-a.json"}]
    paths = cd.claude_policy_windows_files(found, "C:\\Program Files\\ClaudeCode", dropins + "50-aigateway.json")
    assert paths == ["C:\\Program Files\\ClaudeCode\\managed-settings.json", dropins + "10-a.json",
                     dropins + "40-other.json"]
    registry = [
        {"item": "HKLM:\\SOFTWARE\\Policies\\ClaudeCode", "exists": True, "value": '{"forceLoginMethod": "claudeai"}'},
        {"item": "HKCU:\\SOFTWARE\\Policies\\ClaudeCode", "exists": False},
    ]
    slurped = [{"item": dropins + "40-other.json", "content": base64.b64encode(b'{"allowedProviders": ["anthropic"]}').decode()}]
    sources = cd.claude_policy_windows_sources(registry, slurped)
    assert [s["kind"] for s in sources] == ["windows_hklm", "dropin"]
    with pytest.raises(AnsibleFilterError) as info:
        cd.claude_policy_report(sources)
    assert "HKLM:\\SOFTWARE\\Policies\\ClaudeCode\\Settings sets forceLoginMethod" in str(info.value)
    assert dropins + "40-other.json sets allowedProviders" in str(info.value)
    report = cd.claude_policy_report(sources, "warn", True)
    assert len(report["lockouts"]) == 2 and report["os_policy_outranks_files"] is True
    assert len(report["warnings"]) == 2 and "outranks the managed settings files" in report["warnings"][0]
    clean = cd.claude_policy_report(cd.claude_policy_windows_sources(
        [{"item": "HKCU:\\SOFTWARE\\Policies\\ClaudeCode", "exists": True, "value": '{"model": "opus"}'}], []), "fail", True)
    assert clean["lockouts"] == [] and clean["warnings"] == [] and clean["os_policy_outranks_files"] is False


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


@pytest.mark.parametrize("url, reason", [
    ("", "is required"),
    ("gw:8080", "scheme must be http or https"),
    ("ftp://gw", "scheme must be http or https"),
    ("HTTPS://gw", "scheme must be http or https"),
    ("http://gw:8080/?x=1", "path, query or fragment"),
    ("http://gw:8080?x=1", "path, query or fragment"),
    ("http://gw:8080#top", "path, query or fragment"),
    ("http://gw:8080#", "path, query or fragment"),
    ("http://gw:8080/anthropic", "path, query or fragment"),
    ("http://gw:8080//", "path, query or fragment"),
    ("http://admin:pw@gw:8080", "user or password"),
    ("http://@gw:8080", "user or password"),
    ("http://:8080", "needs a host"),
    ("http://gw:0", "port must be a number from 1 to 65535"),
    ("http://gw:65536", "port must be a number from 1 to 65535"),
    ("http://gw:80a", "port must be a number from 1 to 65535"),
    ("http://gw:", "port must be a number from 1 to 65535"),
    ("http://gw :8080", "whitespace, control"),
    ("http://gw:8080\n", "whitespace, control"),
    ("http://gw:8080\t", "whitespace, control"),
    ("http://gw\x00:8080", "whitespace, control"),
    ("http://gw\x7f:8080", "whitespace, control"),
    ("http://g\u00e9w:8080", "whitespace, control"),
])
def test_bad_gateway_url_is_refused_naming_the_variable(url, reason):
    with pytest.raises(AnsibleFilterError, match="claude_desktop_gateway_url") as info:
        cd.claude_desktop_plan([{"name": "a", "virtual_key": KEY}], "Debian", url)
    assert reason in str(info.value)


@pytest.mark.parametrize("url, base", [
    ("http://gw.example.internal:8080", "http://gw.example.internal:8080"),
    ("https://gw.example.internal/", "https://gw.example.internal"),
    ("http://127.0.0.1:1", "http://127.0.0.1:1"),
    ("https://[::1]:65535", "https://[::1]:65535"),
])
def test_good_gateway_urls_are_kept_without_the_trailing_slash(url, base):
    assert cd.gateway_base(url) == base
    assert cd.FilterModule().filters()["claude_gateway_url"](url) == base


def test_missing_accounts_fail_or_are_skipped():
    users = [{"name": "alice", "virtual_key": KEY}, {"name": "ghost", "virtual_key": KEY}]
    with pytest.raises(AnsibleFilterError, match="user ghost has no account on this host"):
        plan(users, accounts=ACCOUNTS)
    result = plan(users, accounts=ACCOUNTS, skip_missing_users=True)
    assert result["users"] == ["alice"] and result["skipped_users"] == ["ghost"]
    assert [f["owner"] for f in result["settings_files"]] == ["alice"]


def test_absent_needs_no_keys():
    result = plan([{"name": "a", "virtual_key_name": "unresolved"}], state="absent")
    env = written(result["settings_files"][0]["content"]["env"])
    assert set(env) == {"ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN"}
    assert "sk-bf" not in repr(result)


def test_errors_never_show_key_values():
    with pytest.raises(AnsibleFilterError) as info:
        plan([{"name": "a", "virtual_key": KEY, "env": {"BAD": ["x"]}}])
    assert KEY not in str(info.value)


def test_env_precedence():
    user = {"name": "a", "virtual_key": KEY, "env": {"X": "user-env"},
            "settings": {"env": {"X": "user-settings", "ANTHROPIC_BASE_URL": "http://elsewhere/anthropic", "Y": "s"}}}
    env = plan([user], env={"X": "global-env", "Z": "g"}, settings={"env": {"X": "global-settings"}})[
        "settings_files"][0]["content"]["env"]
    assert env["X"] == "user-env" and env["Z"] == "g" and env["Y"] == "s"
    assert env["ANTHROPIC_BASE_URL"] == GW + "/anthropic"  # the gateway entries win over settings.env
    assert list(env)[:2] == ["ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN"]


# Models


def test_every_tier_and_the_default_model_can_be_pinned():
    models = {"sonnet": "s", "opus": "o", "haiku": "h", "fable": "f", "default": "bedrock/global.anthropic.claude-opus-4-6"}
    env = plan([{"name": "a", "virtual_key": KEY}], models=models)["settings_files"][0]["content"]["env"]
    assert (env["ANTHROPIC_DEFAULT_SONNET_MODEL"], env["ANTHROPIC_DEFAULT_OPUS_MODEL"], env["ANTHROPIC_DEFAULT_HAIKU_MODEL"],
            env["ANTHROPIC_DEFAULT_FABLE_MODEL"], env["ANTHROPIC_MODEL"]) == (
        "s", "o", "h", "f", "bedrock/global.anthropic.claude-opus-4-6")


def test_models_lock_goes_into_the_managed_dropin_with_every_pin_of_the_host():
    users = [{"name": "a", "virtual_key": KEY, "models": {"haiku": "user-haiku"}}]
    managed = plan(users, managed_settings=True, models_lock=True, models={"opus": "o", "sonnet": "s"})["managed_files"][0]
    content = managed["content"]
    assert content["allowedProviders"] == ["customEndpoint"]
    assert content["availableModels"] == ["s", "o", "user-haiku"]
    assert content["enforceAvailableModels"] is True
    assert content["env"]["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "o"
    with pytest.raises(AnsibleFilterError, match="claude_desktop_models_lock needs claude_desktop_managed_settings"):
        plan(users, models_lock=True, models={"opus": "o"})
    with pytest.raises(AnsibleFilterError, match="needs model pins"):
        plan([{"name": "a", "virtual_key": KEY}], managed_settings=True, models_lock=True)


def test_user_pins_that_managed_pins_override_are_warned_about(monkeypatch):
    seen = []
    monkeypatch.setattr(cd.Display, "warning", lambda self, msg, *a, **k: seen.append(msg))
    users = [{"name": "bob", "virtual_key": KEY, "models": {"opus": "mine", "haiku": "h"}}]
    plan(users, managed_settings=True, models={"opus": "o"})
    assert len(seen) == 1 and "claude_desktop_users[bob].models sets ANTHROPIC_DEFAULT_OPUS_MODEL" in seen[0]
    seen[:] = []
    plan(users, models={"opus": "o"})  # no managed settings: the user's pin wins in the user's file
    assert seen == []


# Credentials


def test_static_mode_writes_the_token_and_removes_a_helper():
    content = plan([{"name": "a", "virtual_key": KEY}])["settings_files"][0]["content"]
    assert content["env"]["ANTHROPIC_AUTH_TOKEN"] == KEY
    assert content["apiKeyHelper"] is None and content["env"]["CLAUDE_CODE_API_KEY_HELPER_TTL_MS"] is None


def test_helper_mode_writes_the_helper_never_the_token():
    result = plan([{"name": "a"}], credential_mode="helper", api_key_helper="/usr/local/bin/bifrost-key",
                  api_key_helper_ttl_ms=300000, mcp_headers_helper="/usr/local/bin/bifrost-headers", chat_enabled=False)
    content = result["settings_files"][0]["content"]
    assert content["apiKeyHelper"] == "/usr/local/bin/bifrost-key"
    assert content["env"]["ANTHROPIC_AUTH_TOKEN"] is None  # removed from the file
    assert content["env"]["CLAUDE_CODE_API_KEY_HELPER_TTL_MS"] == "300000"
    assert errors("claude-code-settings", written(content)) == []
    entry = result["code_files"][0]["content"]["mcpServers"]["bifrost"]
    assert entry == {"type": "http", "url": GW + "/mcp", "headers": None, "headersHelper": "/usr/local/bin/bifrost-headers"}
    assert "sk-bf" not in repr(result)


@pytest.mark.parametrize("options, message", [
    ({"credential_mode": "helper"}, "needs claude_desktop_api_key_helper"),
    ({"credential_mode": "helper", "api_key_helper": "k", "chat_enabled": False}, "needs claude_desktop_mcp_headers_helper"),
    ({"credential_mode": "helper", "api_key_helper": "k", "code_mcp_enabled": False}, "Chat tab's mcp-remote entry needs"),
    ({"credential_mode": "oauth"}, "credential_mode must be one of static, helper"),
])
def test_helper_mode_refusals(options, message):
    with pytest.raises(AnsibleFilterError, match=message):
        plan([{"name": "a"}], **options)


# Code tab MCP


def test_code_tab_gets_the_gateway_mcp_at_user_scope_with_the_key_masked():
    result = plan([{"name": "alice", "virtual_key": KEY}], accounts=ACCOUNTS, mcp_server_name="gw")
    (code,) = result["code_files"]
    assert code["path"] == "/srv/home/alice/.claude.json"
    assert code["content"] == {"mcpServers": {"gw": {
        "type": "http", "url": GW + "/mcp", "headers": {"Authorization": "Bearer " + KEY}, "headersHelper": None}}}
    assert code["secret_keys"] == ["mcpServers.gw.headers.Authorization"]
    assert (code["owner"], code["mode"]) == ("alice", "0600")
    assert plan([{"name": "a", "virtual_key": KEY, "code_mcp_enabled": False}])["code_files"] == []
    assert plan([{"name": "a", "virtual_key": KEY}], code_mcp_enabled=False)["code_files"] == []


def test_code_tab_mcp_machine_wide_holds_no_key_and_needs_helper_mode():
    helper = dict(code_mcp_managed=True, credential_mode="helper", api_key_helper="/usr/local/bin/key",
                  mcp_headers_helper="/usr/local/bin/headers")
    result = plan([{"name": "a", "chat_enabled": False}], **helper)
    assert result["code_files"] == []  # managed-mcp.json takes exclusive control; user entries would be ignored
    (managed,) = result["managed_files"]
    assert managed["path"] == "/etc/claude-code/managed-mcp.json"
    assert (managed["owner"], managed["mode"]) == ("root", "0644")
    assert managed["content"]["mcpServers"]["bifrost"] == {
        "type": "http", "url": "http://gw.example.internal:8080/mcp", "headers": None, "headersHelper": "/usr/local/bin/headers"}
    # Static mode: no key may go into a file every user reads, and ${ANTHROPIC_AUTH_TOKEN} is not expanded there.
    with pytest.raises(AnsibleFilterError, match="claude_desktop_code_mcp_managed needs claude_desktop_credential_mode helper"):
        plan([{"name": "a", "virtual_key": KEY}], code_mcp_managed=True)


# mcp-remote, CA, telemetry


def test_mcp_remote_is_pinned_and_gets_the_ca_bundle():
    result = plan([{"name": "a", "virtual_key": KEY}], mcp_remote_version="0.15.1", ca_bundle="/etc/ssl/private-ca.pem")
    entry = result["desktop_files"][0]["content"]["mcpServers"]["bifrost"]
    assert entry["args"][:2] == ["-y", "mcp-remote@0.15.1"]
    assert entry["env"]["NODE_EXTRA_CA_CERTS"] == "/etc/ssl/private-ca.pem"
    assert result["settings_files"][0]["content"]["env"]["NODE_EXTRA_CA_CERTS"] == "/etc/ssl/private-ca.pem"
    installed = plan([{"name": "a", "virtual_key": KEY}], mcp_command="/usr/local/bin/mcp-remote")
    assert installed["desktop_files"][0]["content"]["mcpServers"]["bifrost"]["args"][:2] == [GW + "/mcp", "--header"]
    with pytest.raises(AnsibleFilterError, match="already has a version"):
        plan([{"name": "a", "virtual_key": KEY}], mcp_remote_package="mcp-remote@0.1", mcp_remote_version="0.15.1")
    scoped = plan([{"name": "a", "virtual_key": KEY}], mcp_remote_package="@acme/mcp-remote", mcp_remote_version="1.0.0")
    assert scoped["desktop_files"][0]["content"]["mcpServers"]["bifrost"]["args"][1] == "@acme/mcp-remote@1.0.0"


def test_telemetry_env():
    env = plan([{"name": "a", "virtual_key": KEY}], telemetry=True,
               telemetry_env={"OTEL_METRICS_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317"},
               )["settings_files"][0]["content"]["env"]
    assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1" and env["OTEL_METRICS_EXPORTER"] == "otlp"
    assert "CLAUDE_CODE_ENABLE_TELEMETRY" not in plan([{"name": "a", "virtual_key": KEY}])["settings_files"][0]["content"]["env"]
    with pytest.raises(AnsibleFilterError, match="OTEL_\\* variables only"):
        plan([{"name": "a", "virtual_key": KEY}], telemetry=True, telemetry_env={"FOO": "x"})
    with pytest.raises(AnsibleFilterError, match="claude_desktop_telemetry is off"):
        plan([{"name": "a", "virtual_key": KEY}], telemetry_env={"OTEL_METRICS_EXPORTER": "otlp"})


# Windows profiles


def test_windows_profiles_from_profilelist():
    found = [{"account": "CORP\\alice", "path": "C:\\Users\\alice.CORP"},
             {"account": "HOST\\alice", "path": "C:\\Users\\alice"},
             {"account": "CORP\\bob", "path": "D:\\Profiles\\bob"},
             {"account": None, "path": "C:\\Users\\orphan"}]
    profiles = cd.windows_profiles(found)
    assert profiles["corp\\alice"] == "C:\\Users\\alice.CORP" and "alice" not in profiles  # ambiguous bare name
    assert profiles["bob"] == "D:\\Profiles\\bob"
    result = plan([{"name": "CORP\\alice", "virtual_key": KEY}, {"name": "Bob", "virtual_key": KEY}], os_family="Windows",
                  windows_profiles=found, desktop_config_msix=False)
    assert [f["path"] for f in result["settings_files"]] == [
        "C:\\Users\\alice.CORP\\.claude\\settings.json", "D:\\Profiles\\bob\\.claude\\settings.json"]
    assert result["code_files"][1]["path"] == "D:\\Profiles\\bob\\.claude.json"


def test_windows_homes_are_never_guessed():
    with pytest.raises(AnsibleFilterError, match="user carol has no account profile"):
        plan([{"name": "carol", "virtual_key": KEY}], os_family="Windows", windows_profiles=PROFILES)
    with pytest.raises(AnsibleFilterError, match="profile directory of user carol is unknown"):
        plan([{"name": "carol", "virtual_key": KEY}], os_family="Windows")
    skipped = plan([{"name": "carol", "virtual_key": KEY}], os_family="Windows", windows_profiles=PROFILES,
                   skip_missing_users=True)
    assert skipped["skipped_users"] == ["carol"]
