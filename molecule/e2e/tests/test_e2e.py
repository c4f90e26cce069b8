"""After `site`: real clients on the workstation reach the upstream only through the gateway, with their own keys."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import (
    REQUEST_LOG,
    SCENARIO,
    UPSTREAM_LOG,
    assert_mcp_connected,
    settled_json_lines,
    run_claude,
    user_json,
)

from tests.helpers.schemas import errors

SETTINGS = "/home/{user}/.claude/settings.json"
DESKTOP = "/home/{user}/.config/Claude/claude_desktop_config.json"


def sha256_prefix(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def test_gateway_service_is_up_and_reachable_from_the_workstation(gateway, workstation):
    service = gateway.service("bifrost")
    assert service.is_running
    assert service.is_enabled
    url = user_json(workstation, SETTINGS.format(user="alice"))["env"]["ANTHROPIC_BASE_URL"]
    assert url.endswith("/anthropic")
    health = workstation.run("curl -sf --max-time 10 %s", url[: -len("/anthropic")] + "/health")
    assert health.rc == 0, health.stderr
    assert json.loads(health.stdout)["status"] == "ok"


def test_gateway_holds_the_users_keys_only_in_its_root_only_environment_file(gateway, workstation):
    config_text = gateway.file("/var/lib/bifrost/config.json").content_string
    assert errors("bifrost-config", json.loads(config_text)) == []
    env_file = gateway.file("/etc/bifrost/bifrost.env")
    assert (env_file.user, env_file.mode) == ("root", 0o600)
    env_text = env_file.content_string
    for user in ("alice", "bob"):
        token = user_json(workstation, SETTINGS.format(user=user))["env"]["ANTHROPIC_AUTH_TOKEN"]
        assert token not in config_text
        assert "BIFROST_VK_%s=" % user.upper() in env_text and token in env_text


@pytest.mark.parametrize("user", ["alice", "bob", "carol"])
def test_settings_file_belongs_to_the_user_and_follows_the_schema(workstation, user):
    settings = workstation.file(SETTINGS.format(user=user))
    assert settings.user == user
    assert settings.mode == 0o600
    document = json.loads(settings.content_string)
    assert errors("claude-code-settings", document) == []
    assert document["env"]["ANTHROPIC_AUTH_TOKEN"].startswith("sk-bf-")


def test_the_stale_bedrock_switch_is_gone(workstation):
    """prepare.yml seeded alice's file as the former bedrock mode left it; the CLI then reaches /anthropic (below)."""
    env = user_json(workstation, SETTINGS.format(user="alice"))["env"]
    assert not {"CLAUDE_CODE_USE_BEDROCK", "ANTHROPIC_BEDROCK_BASE_URL", "CLAUDE_CODE_SKIP_BEDROCK_AUTH"} & set(env)


def test_claude_mcp_list_shows_the_gateway_connected_with_the_users_key(gateway, workstation):
    config = user_json(workstation, "/home/alice/.claude.json")
    assert config["mcpServers"]["bifrost"]["type"] == "http"
    assert_mcp_connected(gateway, workstation, "alice", "alice")


def test_each_user_has_their_own_key(workstation):
    tokens = {user: user_json(workstation, SETTINGS.format(user=user))["env"]["ANTHROPIC_AUTH_TOKEN"]
              for user in ("alice", "bob", "carol")}
    assert len(set(tokens.values())) == 3


def test_bob_pins_only_the_opus_tier(workstation, svars):
    env = user_json(workstation, SETTINGS.format(user="bob"))["env"]
    assert env["ANTHROPIC_DEFAULT_OPUS_MODEL"] == svars["e2e_models"]["bob"]
    assert "ANTHROPIC_MODEL" not in env  # so the request below is the CLI's default request


@pytest.mark.parametrize("user", ["alice", "bob"])
def test_claude_answers_through_the_gateway_with_the_users_key(gateway, workstation, svars, user):
    """alice pins the default model (ANTHROPIC_MODEL); bob only the opus tier, which the CLI's default request uses
    for gateway users: both requests must carry the pinned model, never a bare Anthropic name."""
    requests_before = len(settled_json_lines(gateway, REQUEST_LOG))
    upstream_before = len(settled_json_lines(gateway, UPSTREAM_LOG))

    result = run_claude(workstation, user, "Say hello in five words.")

    assert result.rc == 0, result.stdout + result.stderr
    assert svars["e2e_fake_provider_reply"] in result.stdout
    arrived = settled_json_lines(gateway, REQUEST_LOG)[requests_before:]
    messages = [entry for entry in arrived if entry["path"] == "/anthropic/v1/messages"]
    assert messages, arrived
    assert {entry["virtual_key"] for entry in messages} == {user}
    assert {entry["status"] for entry in messages} == {200}
    # The gateway forwarded it with the provider key (never the user's virtual key), and the model the role pinned.
    upstream = settled_json_lines(gateway, UPSTREAM_LOG)[upstream_before:]
    assert [entry["path"] for entry in upstream] == ["/v1/messages"] * len(messages)
    token = user_json(workstation, SETTINGS.format(user=user))["env"]["ANTHROPIC_AUTH_TOKEN"]
    provider_key = sha256_prefix(svars["e2e_anthropic_key"])
    for entry in upstream:
        assert entry["x_api_key_sha256"] == provider_key
        assert sha256_prefix(token) not in (entry["x_api_key_sha256"], entry["authorization_sha256"])
        assert entry["model"] == svars["e2e_models"][user].split("/", 1)[1]


def test_a_key_the_gateway_does_not_know_is_refused(gateway, workstation, svars):
    requests_before = len(settled_json_lines(gateway, REQUEST_LOG))
    upstream_before = len(settled_json_lines(gateway, UPSTREAM_LOG))

    result = run_claude(workstation, "carol", "Say hello in five words.")

    output = result.stdout + result.stderr
    assert result.rc != 0, output
    assert svars["e2e_fake_provider_reply"] not in output
    assert re.search(r"403|permission|virtual key", output, re.IGNORECASE), output
    arrived = settled_json_lines(gateway, REQUEST_LOG)[requests_before:]
    refused = [entry for entry in arrived if entry["path"] == "/anthropic/v1/messages"]
    assert refused, arrived
    assert {entry["status"] for entry in refused} == {403}  # governance: virtual_key_not_found
    assert {entry["virtual_key"] for entry in refused} == {None}
    assert settled_json_lines(gateway, UPSTREAM_LOG)[upstream_before:] == []


def test_chat_tab_entry_lists_the_gateway_tools_through_mcp_remote(gateway, workstation):
    desktop = DESKTOP.format(user="alice")
    config = user_json(workstation, desktop)
    assert workstation.file(desktop).mode == 0o600
    entry = config["mcpServers"]["bifrost"]
    assert entry["command"] == "/usr/local/bin/mcp-remote"  # the installed bridge (no registry in the lab)
    requests_before = len(settled_json_lines(gateway, REQUEST_LOG))

    probe = (Path(__file__).parent / "mcp_probe.py").read_text(encoding="utf-8")
    home = workstation.check_output("runuser -u alice -- mktemp -d")  # keeps ~/.mcp-auth out of the real home
    result = workstation.run(
        "runuser -u alice -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=%s timeout 150 python3 - %s bifrost <<'PROBE'\n%s\nPROBE"
        % (shlex.quote(home), shlex.quote(desktop), probe)
    )

    assert result.rc == 0, result.stdout + result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert "result" in answer["initialize"], answer
    names = [tool["name"] for tool in answer["tools_list"]["result"]["tools"]]
    assert "echo" in names
    arrived = settled_json_lines(gateway, REQUEST_LOG)[requests_before:]
    tools_calls = [entry for entry in arrived if entry["path"] == "/mcp" and entry["method"] == "POST"]
    assert tools_calls, arrived
    assert {entry["virtual_key"] for entry in tools_calls} == {"alice"}


def test_site_in_check_mode_reports_nothing_to_change():
    """`ansible-playbook --check` of the converge playbook, with Molecule's own inventory and configuration."""
    inventory = os.environ["MOLECULE_INVENTORY_FILE"]
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_FORCE_COLOR"}
    env["ANSIBLE_NOCOLOR"] = "1"  # a plain recap to read
    result = subprocess.run(
        ["ansible-playbook", "--check", "-i", str(Path(inventory).parent), str(SCENARIO / "converge.yml")],
        capture_output=True, text=True, check=False, env=env,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    recap = result.stdout.split("PLAY RECAP", 1)[1]
    hosts = dict(re.findall(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)", recap, re.MULTILINE))
    assert set(hosts) == {"e2e-gateway", "e2e-workstation"}, recap
    assert hosts == {"e2e-gateway": "0", "e2e-workstation": "0"}, recap
