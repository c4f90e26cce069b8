"""The simulated fleet: N hosts on the local connection, each with its own directory tree.

Every host ``wsNNNN`` gets ``<fleet>/wsNNNN/home/<user>/`` for three users with existing Claude Code and Claude Desktop
files (user keys that a merge must keep) and ``<fleet>/wsNNNN/etc/claude-code/`` for the machine-wide managed settings.
The three users are existing local accounts (the role sets each file's owner to the user's name, and the benchmark
runs as root on one machine), each with a per-host home given through ``claude_desktop_users[].home``.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
from pathlib import Path

GATEWAY_URL = "http://gw.example.internal:8080"
# The mcp-remote version the role pins by default (claude_desktop_mcp_remote_version).
MCP_REMOTE_VERSION = "0.15.1"
# Existing accounts stand in for three workstation users; their homes are per-host directories in the fleet tree.
USER_CANDIDATES = ("root", "daemon", "bin", "sys", "nobody")
MODELS = {
    "sonnet": "bedrock/global.anthropic.claude-sonnet-4-6",
    "opus": "bedrock/global.anthropic.claude-opus-4-1",
    "haiku": "bedrock/global.anthropic.claude-haiku-4-5",
    "default": "bedrock/global.anthropic.claude-sonnet-4-6",
}
MODEL_ENV = {
    "sonnet": "ANTHROPIC_DEFAULT_SONNET_MODEL",
    "opus": "ANTHROPIC_DEFAULT_OPUS_MODEL",
    "haiku": "ANTHROPIC_DEFAULT_HAIKU_MODEL",
    "default": "ANTHROPIC_MODEL",
}
DROPIN_NAME = "50-aigateway.json"


def users():
    """Three existing accounts (name, uid, gid)."""
    found = []
    for name in USER_CANDIDATES:
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        found.append((name, entry.pw_uid, entry.pw_gid))
    if len(found) < 3:
        raise SystemExit("bench: needs three of these local accounts: %s" % ", ".join(USER_CANDIDATES))
    return found[:3]


def host_names(count):
    return ["ws%04d" % number for number in range(1, count + 1)]


def virtual_key(host, user):
    """A fixed, fake virtual key per host and user (sk-bf- and 40 alphanumerics, like a generated one)."""
    return "sk-bf-" + hashlib.sha256(("%s/%s" % (host, user)).encode()).hexdigest()[:40]


def host_root(fleet, host):
    return Path(fleet) / host


def user_home(fleet, host, user):
    return host_root(fleet, host) / "home" / user


def settings_path(fleet, host, user):
    return user_home(fleet, host, user) / ".claude" / "settings.json"


def desktop_path(fleet, host, user):
    return user_home(fleet, host, user) / ".config" / "Claude" / "claude_desktop_config.json"


def managed_dir(fleet, host):
    return host_root(fleet, host) / "etc" / "claude-code"


def managed_path(fleet, host):
    return managed_dir(fleet, host) / "managed-settings.d" / DROPIN_NAME


def write_inventory(path, fleet, count, python):
    """A YAML-compatible JSON inventory: per-host users and managed-settings directory, shared gateway settings."""
    accounts = users()
    hosts = {}
    for host in host_names(count):
        hosts[host] = {
            "claude_desktop_users": [
                {
                    "name": name,
                    "home": str(user_home(fleet, host, name)),
                    "virtual_key": virtual_key(host, name),
                    "models": MODELS,
                }
                for name in [account[0] for account in accounts]
            ],
            "claude_desktop_managed_settings_dir": str(managed_dir(fleet, host)),
            # Each host keeps its own record of what the role wrote, as a real workstation does in /var/lib.
            "claude_desktop_ownership_record": str(host_root(fleet, host) / "var" / "claude_desktop.json"),
        }
    inventory = {
        "fleet": {
            "hosts": hosts,
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": python,
                "claude_desktop_gateway_url": GATEWAY_URL,
                "claude_desktop_os_family": "Debian",
                "claude_desktop_gateway_health_check": False,
                "claude_desktop_managed_settings": True,
                "claude_desktop_models": {"sonnet": MODELS["sonnet"], "haiku": MODELS["haiku"]},
            },
        }
    }
    Path(path).write_text(json.dumps(inventory, indent=1) + "\n")


def seed_settings(host, user):
    """A user's own Claude Code settings, which every merge must keep."""
    return {
        "permissions": {"allow": ["Bash(npm run test *)", "Read(~/src/**)"], "deny": ["Read(./.env)"]},
        "env": {"EDITOR": "vim", "BENCH_USER_MARKER": "%s@%s" % (user, host)},
        "includeCoAuthoredBy": False,
        "statusLine": {"type": "command", "command": "~/.claude/statusline.sh"},
    }


def seed_desktop(host, user):
    """A user's own Claude Desktop config: app preferences and another MCP server."""
    return {
        "preferences": {"quickEntryShortcut": "double-tap-option", "benchUserMarker": "%s@%s" % (user, host)},
        "mcpServers": {
            "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/srv/src"]}
        },
    }


def seed(fleet, count):
    """(Re)create every host's tree in its initial state: existing user files, an existing site drop-in."""
    fleet = Path(fleet)
    if fleet.exists():
        shutil.rmtree(fleet)
    accounts = users()
    for host in host_names(count):
        for name, uid, gid in accounts:
            for path, data in ((settings_path(fleet, host, name), seed_settings(host, name)),
                               (desktop_path(fleet, host, name), seed_desktop(host, name))):
                path.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
                path.write_text(json.dumps(data, indent=2) + "\n")
                os.chmod(path, 0o600)
            home = user_home(fleet, host, name)
            for directory in (home, home / ".claude", home / ".config", home / ".config" / "Claude"):
                os.chown(directory, uid, gid)
            for path in (settings_path(fleet, host, name), desktop_path(fleet, host, name)):
                os.chown(path, uid, gid)
        dropins = managed_path(fleet, host).parent
        dropins.mkdir(parents=True, mode=0o755)
        (dropins / "10-site.json").write_text(json.dumps({"cleanupPeriodDays": 30}, indent=2) + "\n")


def expected_settings_env(host, user):
    env = {"ANTHROPIC_BASE_URL": GATEWAY_URL + "/anthropic", "ANTHROPIC_AUTH_TOKEN": virtual_key(host, user)}
    env.update((MODEL_ENV[tier], MODELS[tier]) for tier in MODEL_ENV)
    return env


def expected_mcp_server(host, user):
    return {
        "command": "npx",
        "args": ["-y", "mcp-remote@" + MCP_REMOTE_VERSION, GATEWAY_URL + "/mcp", "--header", "Authorization:${AUTH_HEADER}", "--allow-http"],
        "env": {"AUTH_HEADER": "Bearer " + virtual_key(host, user)},
    }


def expected_managed_env():
    return {
        "ANTHROPIC_BASE_URL": GATEWAY_URL + "/anthropic",
        "ANTHROPIC_DEFAULT_SONNET_MODEL": MODELS["sonnet"],
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": MODELS["haiku"],
    }


def _load(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def check_hosts(fleet, hosts):
    """What a variant left on some hosts: the gateway settings are there; the users' own keys survived.

    Returns {"gateway": bool, "user_keys_kept": bool, "problems": [str]} over all files of the given hosts.
    """
    problems = []
    kept = True
    for host in hosts:
        for name in [account[0] for account in users()]:
            settings = _load(settings_path(fleet, host, name))
            desktop = _load(desktop_path(fleet, host, name))
            if settings is None or desktop is None:
                problems.append("%s/%s: a file is missing or not JSON" % (host, name))
                continue
            env = settings.get("env", {})
            for key, value in expected_settings_env(host, name).items():
                if env.get(key) != value:
                    problems.append("%s/%s settings.json: env.%s differs" % (host, name, key))
            if desktop.get("mcpServers", {}).get("bifrost") != expected_mcp_server(host, name):
                problems.append("%s/%s claude_desktop_config.json: mcpServers.bifrost differs" % (host, name))
            if env.get("BENCH_USER_MARKER") != "%s@%s" % (name, host) or "filesystem" not in desktop.get("mcpServers", {}):
                kept = False
        managed = _load(managed_path(fleet, host))
        if managed is None or managed.get("env") != expected_managed_env():
            problems.append("%s: managed-settings.d/%s missing or different" % (host, DROPIN_NAME))
    return {"gateway": not problems, "user_keys_kept": kept, "problems": problems[:10]}
