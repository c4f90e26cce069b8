"""Credential mode `helper`, written by the role for a new user, used by the real `claude` CLI.

Runs after test_e2e.py and before test_verify_and_rotation.py (file order). The `fleet` playbook runs on the workstation
only, for one extra user (dave) whose files hold no key: Claude Code gets it from `apiKeyHelper`, and its MCP client from
`headersHelper`. Both helpers print bob's key (the gateway knows it), so the gateway's request log names bob for dave's
requests: the key came from the helper, not from a file. The other users' files and the gateway are not touched.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import CLIENT_PATH, REQUEST_LOG, settled_json_lines, run_claude, scenario_vars, user_json

from tests.helpers.schemas import errors

KEY_HELPER = "/usr/local/bin/e2e-bifrost-key"
HEADERS_HELPER = "/usr/local/bin/e2e-bifrost-headers"
SETTINGS = "/home/dave/.claude/settings.json"


def bob_key():
    (bob,) = [vk for vk in scenario_vars()["bifrost_virtual_keys"] if vk["name"] == "bob"]
    return bob["value"]


def put_script(host, path, line):
    """A root-owned 0755 shell script on the host that runs ``line``."""
    text = base64.b64encode(("#!/bin/sh\n" + line + "\n").encode()).decode()
    host.check_output("echo %s | base64 -d > %s && chmod 0755 %s", text, path, path)


@pytest.fixture(scope="module")
def dave(workstation, tmp_path_factory):
    """dave's account, the two helpers (root's, 0755), and one `fleet` run in helper mode for dave alone."""
    workstation.check_output("id dave >/dev/null 2>&1 || useradd -m -s /bin/sh dave")
    key = bob_key()
    put_script(workstation, KEY_HELPER, "echo " + shlex.quote(key))
    put_script(workstation, HEADERS_HELPER, "echo " + shlex.quote(json.dumps({"Authorization": "Bearer " + key})))
    base_url = user_json(workstation, "/home/alice/.claude/settings.json")["env"]["ANTHROPIC_BASE_URL"]
    extra = {
        "claude_desktop_gateway_url": base_url[: -len("/anthropic")],
        "claude_desktop_users": [{"name": "dave", "chat_enabled": False,
                                  "models": {"default": scenario_vars()["e2e_models"]["alice"]}}],
        "claude_desktop_credential_mode": "helper",
        "claude_desktop_api_key_helper": KEY_HELPER,
        "claude_desktop_api_key_helper_ttl_ms": 60000,
        "claude_desktop_mcp_headers_helper": HEADERS_HELPER,
    }
    vars_file = tmp_path_factory.mktemp("helper-mode") / "vars.json"
    vars_file.write_text(json.dumps(extra), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_FORCE_COLOR"}
    env["ANSIBLE_NOCOLOR"] = "1"
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    result = subprocess.run(["ansible-playbook", "-i", str(inventory), "aigateway.bifrost.fleet", "--limit", "e2e-workstation",
                             "-e", "@" + str(vars_file)], capture_output=True, text=True, check=False, env=env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert key not in result.stdout + result.stderr
    return key


def test_helper_mode_files_hold_the_helpers_not_a_key(workstation, dave):
    settings = user_json(workstation, SETTINGS)
    assert settings["apiKeyHelper"] == KEY_HELPER
    assert settings["env"]["CLAUDE_CODE_API_KEY_HELPER_TTL_MS"] == "60000"
    assert "ANTHROPIC_AUTH_TOKEN" not in settings["env"]
    assert errors("claude-code-settings", settings) == []
    entry = user_json(workstation, "/home/dave/.claude.json")["mcpServers"]["bifrost"]
    assert entry["headersHelper"] == HEADERS_HELPER and "headers" not in entry
    for path in (SETTINGS, "/home/dave/.claude.json"):
        assert dave not in workstation.check_output("cat %s", path)
    # The other users were not touched: alice still has her static key.
    assert user_json(workstation, "/home/alice/.claude/settings.json")["env"]["ANTHROPIC_AUTH_TOKEN"].startswith("sk-bf-")


def test_helper_mode_reaches_the_gateway_with_the_helpers_key(gateway, workstation, svars, dave):
    requests_before = len(settled_json_lines(gateway, REQUEST_LOG))
    result = run_claude(workstation, "dave", "Say hello in five words.")
    assert result.rc == 0, result.stdout + result.stderr
    assert svars["e2e_fake_provider_reply"] in result.stdout
    arrived = settled_json_lines(gateway, REQUEST_LOG)[requests_before:]
    messages = [entry for entry in arrived if entry["path"] == "/anthropic/v1/messages"]
    assert messages and {entry["virtual_key"] for entry in messages} == {"bob"}, arrived
    assert {entry["status"] for entry in messages} == {200}


def test_helper_mode_mcp_server_connects_with_the_headers_helpers_key(gateway, workstation, dave):
    requests_before = len(settled_json_lines(gateway, REQUEST_LOG))
    result = workstation.run(
        "cd /home/dave && runuser -u dave -- env -i PATH={path} HOME=/home/dave "
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 timeout 120 claude mcp list".format(path=CLIENT_PATH)
    )
    output = result.stdout + result.stderr
    assert result.rc == 0, output
    line = [row for row in output.splitlines() if row.startswith("bifrost")]
    assert line and "connected" in line[0].lower() and "failed" not in line[0].lower(), output
    arrived = settled_json_lines(gateway, REQUEST_LOG)[requests_before:]
    mcp_calls = [entry for entry in arrived if entry["path"] == "/mcp" and entry["method"] == "POST"]
    assert mcp_calls and {entry["virtual_key"] for entry in mcp_calls} == {"bob"}, arrived
