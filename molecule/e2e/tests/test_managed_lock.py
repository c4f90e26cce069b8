"""Machine-wide settings, used by the real `claude` CLI: the models lock and the Code tab's MCP server in managed-mcp.json.

Runs after test_helper_mode.py and before test_verify_and_rotation.py (file order). One `fleet` run on the workstation,
in helper mode for dave (see test_helper_mode.py), turns on the managed drop-in with `claude_desktop_models_lock` and
writes the Code tab's MCP server into `managed-mcp.json` (`claude_desktop_code_mcp_managed`, helper mode only: that
file cannot hold a key). Afterwards the two managed files are removed, which leaves the workstation as before.
"""

from __future__ import annotations

import json

import pytest
from conftest import (
    CLIENT_PATH,
    HEADERS_HELPER,
    UPSTREAM_LOG,
    assert_mcp_connected,
    fleet_on_workstation,
    helper_mode_vars,
    install_helpers,
    run_claude,
    scenario_vars,
    settled_json_lines,
)

from tests.helpers.schemas import errors

DROPIN = "/etc/claude-code/managed-settings.d/50-aigateway.json"
MANAGED_MCP = "/etc/claude-code/managed-mcp.json"
NOT_PINNED = "claude-not-pinned-9"


@pytest.fixture(scope="module")
def locked(workstation, tmp_path_factory):
    key = install_helpers(workstation)
    extra = dict(helper_mode_vars(workstation), claude_desktop_managed_settings=True, claude_desktop_models_lock=True,
                 claude_desktop_models={"opus": scenario_vars()["e2e_models"]["bob"]}, claude_desktop_code_mcp_managed=True)
    result = fleet_on_workstation(tmp_path_factory.mktemp("managed"), extra)
    assert key not in result.stdout + result.stderr
    yield
    workstation.check_output("rm -f %s %s", DROPIN, MANAGED_MCP)


def test_the_managed_files_hold_no_key_and_follow_the_schema(workstation, locked):
    dropin = workstation.file(DROPIN)
    assert (dropin.user, dropin.mode) == ("root", 0o644)
    settings = json.loads(dropin.content_string)
    assert errors("claude-code-settings", settings) == []
    models = scenario_vars()["e2e_models"]
    assert settings["allowedProviders"] == ["customEndpoint"] and settings["enforceAvailableModels"] is True
    assert set(settings["availableModels"]) == {models["alice"], models["bob"]}
    managed_mcp = workstation.file(MANAGED_MCP)
    assert (managed_mcp.user, managed_mcp.mode) == ("root", 0o644)
    assert "sk-bf-" not in dropin.content_string + managed_mcp.content_string
    assert json.loads(managed_mcp.content_string)["mcpServers"]["bifrost"]["headersHelper"] == HEADERS_HELPER


def test_the_managed_mcp_server_connects_with_the_headers_helpers_key(gateway, workstation, locked):
    assert_mcp_connected(gateway, workstation, "dave", "bob")


def test_the_models_lock_keeps_a_model_that_is_not_pinned_from_the_gateway(gateway, workstation, svars, locked):
    upstream_before = len(settled_json_lines(gateway, UPSTREAM_LOG))
    result = workstation.run(
        "cd /home/dave && runuser -u dave -- env -i PATH={path} HOME=/home/dave "
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 timeout 120 claude -p --model {model} hello".format(
            path=CLIENT_PATH, model=NOT_PINNED)
    )
    upstream = settled_json_lines(gateway, UPSTREAM_LOG)[upstream_before:]
    assert NOT_PINNED not in {entry["model"] for entry in upstream}, (result.stdout + result.stderr, upstream)
    # A pinned model still works under the lock.
    upstream_before = len(settled_json_lines(gateway, UPSTREAM_LOG))
    result = run_claude(workstation, "dave", "Say hello in five words.")
    assert result.rc == 0, result.stdout + result.stderr
    assert svars["e2e_fake_provider_reply"] in result.stdout
    upstream = settled_json_lines(gateway, UPSTREAM_LOG)[upstream_before:]
    assert upstream and {entry["model"] for entry in upstream} == {svars["e2e_models"]["alice"].split("/", 1)[1]}
