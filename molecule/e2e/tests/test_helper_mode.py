"""Credential mode `helper`, written by the role for a new user, used by the real `claude` CLI.

Runs after test_e2e.py (file order). The `fleet` playbook runs on the workstation only, for one extra user (dave) whose
files hold no key: Claude Code gets it from `apiKeyHelper`, and its MCP client from `headersHelper`. Both helpers print
bob's key, so the gateway's request log names bob for dave's requests: the key came from the helper, not from a file.
The other users' files and the gateway are not touched.
"""

from __future__ import annotations

import pytest
from conftest import (
    HEADERS_HELPER,
    KEY_HELPER,
    REQUEST_LOG,
    assert_mcp_connected,
    fleet_on_workstation,
    helper_mode_vars,
    install_helpers,
    run_claude,
    settled_json_lines,
    user_json,
)

from tests.helpers.schemas import errors

SETTINGS = "/home/dave/.claude/settings.json"


@pytest.fixture(scope="module")
def dave(workstation, tmp_path_factory):
    """One `fleet` run in helper mode for dave alone; returns the key the helpers print."""
    key = install_helpers(workstation)
    result = fleet_on_workstation(tmp_path_factory.mktemp("helper-mode"), helper_mode_vars(workstation))
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
    assert_mcp_connected(gateway, workstation, "dave", "bob")
