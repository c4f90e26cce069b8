"""What the claude_desktop role left on the fleet: merged keys, kept keys, owners, modes, managed settings, secrets.

Each host is read once (one podman exec: a snapshot of every path's owner, mode and text), then checked.
"""

import functools
import json
import os
import shlex
from pathlib import Path

import pytest
import testinfra
import yaml

from tests.helpers.schemas import errors

SCENARIO = Path(__file__).resolve().parents[1]
SEEDS = yaml.safe_load((SCENARIO / "vars" / "seeds.yml").read_text())
GROUP_VARS = yaml.safe_load((SCENARIO / "molecule.yml").read_text())["provisioner"]["inventory"]["group_vars"]["all"]
GOOD_HOSTS = ("fleet-bookworm", "fleet-trixie")
USERS = ("alice", "bob", "carol")
GATEWAY = "http://127.0.0.1:18080"
PATHS = [p % u for u in USERS for p in (
    "/home/%s/.claude", "/home/%s/.config", "/home/%s/.config/Claude",
    "/home/%s/.claude/settings.json", "/home/%s/.config/Claude/claude_desktop_config.json",
)] + [
    "/etc/claude-code/managed-settings.d", "/etc/claude-code/managed-settings.json",
    "/etc/claude-code/managed-settings.d/50-aigateway.json", "/etc/claude-code/managed-settings.d/10-security.json",
]
SNAPSHOT = r"""
import grp, json, os, pwd, stat, sys
out = {}
for path in sys.argv[1:]:
    if not os.path.lexists(path):
        out[path] = None
        continue
    st = os.lstat(path)
    entry = {"user": pwd.getpwuid(st.st_uid).pw_name, "group": grp.getgrgid(st.st_gid).gr_name,
             "mode": stat.S_IMODE(st.st_mode), "dir": stat.S_ISDIR(st.st_mode)}
    if stat.S_ISREG(st.st_mode):
        entry["text"] = open(path, encoding="utf-8").read()
    out[path] = entry
print(json.dumps(out))
"""


@functools.lru_cache(maxsize=None)
def snapshot(name):
    host = testinfra.get_host("podman://" + name)
    command = "python3 -c %s %s" % (shlex.quote(SNAPSHOT), " ".join(shlex.quote(p) for p in PATHS))
    return json.loads(host.check_output(command))


def ephemeral_dir():
    path = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY")
    assert path, "MOLECULE_EPHEMERAL_DIRECTORY is not set: run this through molecule verify"
    return Path(path)


def expected_key(user):
    if user == "alice":
        return GROUP_VARS["bifrost_virtual_keys"][0]["value"]
    if user == "carol":
        return GROUP_VARS["claude_desktop_users"][2]["virtual_key"]
    return (ephemeral_dir() / "credentials" / ("virtual_key_" + user)).read_text().strip()


def seed_of(path):
    texts = [seed["text"] for seed in SEEDS["fleet_seeds"] if seed["path"] == path]
    return json.loads(texts[0]) if texts else None


def read_json(name, path):
    entry = snapshot(name)[path]
    assert entry is not None, "%s: %s is missing" % (name, path)
    return json.loads(entry["text"])


def assert_contains(actual, expected, where):
    """Every key and value of expected is in actual (recursively for objects)."""
    for key, value in expected.items():
        assert key in actual, "%s: %s was lost" % (where, key)
        if isinstance(value, dict):
            assert_contains(actual[key], value, where + "." + key)
        else:
            assert actual[key] == value, "%s.%s changed" % (where, key)


HOST_USERS = [pytest.param(h, u, id="%s-%s" % (h, u)) for h in GOOD_HOSTS for u in USERS]


@pytest.mark.parametrize("name, user", HOST_USERS)
def test_settings_json_points_at_the_gateway_and_keeps_the_rest(name, user):
    path = "/home/%s/.claude/settings.json" % user
    settings = read_json(name, path)
    env = settings["env"]
    assert env["ANTHROPIC_BASE_URL"] == GATEWAY + "/anthropic"
    assert env["ANTHROPIC_AUTH_TOKEN"] == expected_key(user)
    assert env["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"  # true in the inventory, a string in the file
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "claude-haiku-4-5"
    if user == "carol":  # per-user overrides win over the global pins
        assert env["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "bedrock/global.anthropic.claude-sonnet-4-6"
        assert env["ANTHROPIC_MODEL"] == "bedrock/global.anthropic.claude-sonnet-4-6"
        assert env["API_TIMEOUT_MS"] == "900000"
    else:
        assert env["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "claude-sonnet-4-6"
        assert "ANTHROPIC_MODEL" not in env
    assert all(isinstance(value, str) for value in env.values()), env
    assert settings["skipWebFetchPreflight"] is True
    seed = seed_of(path)
    if user == "bob":
        assert seed is None
    else:
        assert_contains(settings, seed, path)
    assert errors("claude-code-settings", settings) == []


@pytest.mark.parametrize("name, user", HOST_USERS)
def test_desktop_config_has_the_bridge_and_keeps_the_rest(name, user):
    path = "/home/%s/.config/Claude/claude_desktop_config.json" % user
    config = read_json(name, path)
    assert config["mcpServers"]["bifrost"] == {
        "command": "npx",
        # 127.0.0.1 over http needs no --allow-http
        "args": ["-y", "mcp-remote@0.15.1", GATEWAY + "/mcp", "--header", "Authorization:${AUTH_HEADER}"],
        "env": {"AUTH_HEADER": "Bearer " + expected_key(user)},
    }
    seed = seed_of(path)
    if user == "bob":
        assert set(config) == {"mcpServers"}
    else:
        assert_contains(config, seed, path)
    if user == "alice":
        assert set(config["mcpServers"]) == {"filesystem", "bifrost"}


@pytest.mark.parametrize("name, user", HOST_USERS)
def test_files_and_directories_belong_to_the_user(name, user):
    home, snap = "/home/" + user, snapshot(name)
    for path in (home + "/.claude/settings.json", home + "/.config/Claude/claude_desktop_config.json"):
        entry = snap[path]
        assert (entry["user"], entry["group"], entry["mode"], entry["dir"]) == (user, user, 0o600, False), path
    for path in (home + "/.claude", home + "/.config", home + "/.config/Claude"):
        entry = snap[path]
        assert entry["dir"] and (entry["user"], entry["group"]) == (user, user), path
        if user == "bob":  # created by the role
            assert entry["mode"] == 0o700, path


def test_virtual_keys_resolved_once_for_the_whole_fleet():
    for user in USERS:
        key = expected_key(user)
        assert key.startswith("sk-bf-") and len(key) == 46, user
    stored = ephemeral_dir() / "credentials" / "virtual_key_bob"
    assert stored.stat().st_mode & 0o777 == 0o600
    keys = [read_json(name, "/home/bob/.claude/settings.json")["env"]["ANTHROPIC_AUTH_TOKEN"] for name in GOOD_HOSTS]
    assert keys[0] == keys[1]


@pytest.mark.parametrize("name, mode", [("fleet-bookworm", "dropin"), ("fleet-trixie", "file")])
def test_managed_settings_pin_the_gateway_for_everyone(name, mode):
    snap = snapshot(name)
    if mode == "dropin":
        path = "/etc/claude-code/managed-settings.d/50-aigateway.json"
        directory = snap["/etc/claude-code/managed-settings.d"]
        assert (directory["user"], directory["group"], directory["mode"]) == ("root", "root", 0o755)
        assert "ANTHROPIC" not in snap["/etc/claude-code/managed-settings.json"]["text"]
    else:
        path = "/etc/claude-code/managed-settings.json"
        assert snap["/etc/claude-code/managed-settings.d/50-aigateway.json"] is None
    entry = snap[path]
    assert (entry["user"], entry["group"], entry["mode"]) == ("root", "root", 0o644)
    managed = json.loads(entry["text"])
    assert managed["env"] == {
        "ANTHROPIC_BASE_URL": GATEWAY + "/anthropic",
        "ANTHROPIC_DEFAULT_SONNET_MODEL": "claude-sonnet-4-6",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": "claude-haiku-4-5",
    }
    assert managed["availableModels"][0] == "claude-sonnet-4-6"
    assert "sk-bf-" not in entry["text"]  # keys stay in each user's own file
    assert errors("claude-code-settings", managed) == []
    if mode == "file":
        assert managed["cleanupPeriodDays"] == 30
    other = "/etc/claude-code/managed-settings.d/10-security.json"
    assert snap[other]["text"] == [s["text"] for s in SEEDS["fleet_seeds"] if s["path"] == other][0]


def test_broken_file_is_untouched():
    entry = snapshot("fleet-broken")["/home/alice/.claude/settings.json"]
    assert entry["text"] == SEEDS["fleet_broken_seeds"][0]["text"]


def test_no_virtual_key_in_any_ansible_output():
    """Every run of this scenario (converge, idempotence, side effects; -v --diff) was logged: no key in it."""
    log = (ephemeral_dir() / "ansible.log").read_text(errors="replace")
    assert "ANTHROPIC_AUTH_TOKEN" in log and '"AUTH_HEADER": "********"' in log  # the diffs were logged, masked
    for user in USERS:
        key = expected_key(user)
        assert key[len("sk-bf-"):] not in log, "the virtual key of %s appears in the Ansible log" % user
