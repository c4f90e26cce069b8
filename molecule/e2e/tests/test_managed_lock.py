"""Machine-wide settings, used by the real `claude` CLI: the models lock and the Code tab's MCP server in managed-mcp.json.

Runs after test_helper_mode.py and before test_verify_and_rotation.py (file order). One `fleet` run on the workstation
turns on the managed drop-in with `claude_desktop_models_lock` and `claude_desktop_code_mcp_managed`; afterwards the
managed files are removed and a plain `fleet` run puts the users' files back as the inventory says.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import CLIENT_PATH, REQUEST_LOG, UPSTREAM_LOG, run_claude, scenario_vars, settled_json_lines, user_json

from tests.helpers.schemas import errors

DROPIN = "/etc/claude-code/managed-settings.d/50-aigateway.json"
MANAGED_MCP = "/etc/claude-code/managed-mcp.json"
NOT_PINNED = "claude-not-pinned-9"


def fleet(workstation, tmp_path_factory, extra):
    vars_file = tmp_path_factory.mktemp("managed") / "vars.json"
    vars_file.write_text(json.dumps(extra), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_FORCE_COLOR"}
    env["ANSIBLE_NOCOLOR"] = "1"
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    result = subprocess.run(["ansible-playbook", "-i", str(inventory), "aigateway.bifrost.fleet", "--limit", "e2e-workstation",
                             "-e", "@" + str(vars_file)], capture_output=True, text=True, check=False, env=env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    for user in ("alice", "bob"):
        token = user_json(workstation, "/home/%s/.claude/settings.json" % user)["env"]["ANTHROPIC_AUTH_TOKEN"]
        assert token not in result.stdout + result.stderr
    return result


@pytest.fixture(scope="module")
def locked(workstation, tmp_path_factory):
    base_url = user_json(workstation, "/home/alice/.claude/settings.json")["env"]["ANTHROPIC_BASE_URL"]
    gateway_url = base_url[: -len("/anthropic")]
    fleet(workstation, tmp_path_factory, {
        "claude_desktop_gateway_url": gateway_url,
        "claude_desktop_managed_settings": True,
        "claude_desktop_models_lock": True,
        "claude_desktop_models": {"opus": scenario_vars()["e2e_models"]["bob"]},
        "claude_desktop_code_mcp_managed": True,
    })
    yield
    workstation.check_output("rm -f %s %s", DROPIN, MANAGED_MCP)
    fleet(workstation, tmp_path_factory, {"claude_desktop_gateway_url": gateway_url})


def test_the_managed_files_hold_no_key_and_follow_the_schema(workstation, locked):
    dropin = workstation.file(DROPIN)
    assert (dropin.user, dropin.mode) == ("root", 0o644)
    settings = json.loads(dropin.content_string)
    assert errors("claude-code-settings", settings) == []
    models = scenario_vars()["e2e_models"]
    assert settings["allowedProviders"] == ["customEndpoint"] and settings["enforceAvailableModels"] is True
    assert set(settings["availableModels"]) >= {models["alice"], models["bob"]}
    managed_mcp = workstation.file(MANAGED_MCP)
    assert (managed_mcp.user, managed_mcp.mode) == ("root", 0o644)
    assert "sk-bf-" not in dropin.content_string + managed_mcp.content_string
    assert json.loads(managed_mcp.content_string)["mcpServers"]["bifrost"]["headers"] == {
        "Authorization": "Bearer ${ANTHROPIC_AUTH_TOKEN}"}


def test_the_managed_mcp_server_connects_with_each_users_own_token(gateway, workstation, locked):
    """managed-mcp.json refers to ${ANTHROPIC_AUTH_TOKEN}: the CLI expands it from the user's own settings env."""
    for user in ("alice", "bob"):
        requests_before = len(settled_json_lines(gateway, REQUEST_LOG))
        result = workstation.run(
            "cd /home/{user} && runuser -u {user} -- env -i PATH={path} HOME=/home/{user} "
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 timeout 120 claude mcp list".format(user=user, path=CLIENT_PATH)
        )
        output = result.stdout + result.stderr
        assert result.rc == 0, output
        line = [row for row in output.splitlines() if row.startswith("bifrost")]
        assert line and "connected" in line[0].lower() and "failed" not in line[0].lower(), output
        arrived = settled_json_lines(gateway, REQUEST_LOG)[requests_before:]
        mcp_calls = [entry for entry in arrived if entry["path"] == "/mcp" and entry["method"] == "POST"]
        assert mcp_calls and {entry["virtual_key"] for entry in mcp_calls} == {user}, arrived


def test_the_models_lock_keeps_a_model_that_is_not_pinned_from_the_gateway(gateway, workstation, svars, locked):
    upstream_before = len(settled_json_lines(gateway, UPSTREAM_LOG))
    result = workstation.run(
        "cd /home/alice && runuser -u alice -- env -i PATH={path} HOME=/home/alice "
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 timeout 120 claude -p --model {model} hello".format(
            path=CLIENT_PATH, model=NOT_PINNED)
    )
    upstream = settled_json_lines(gateway, UPSTREAM_LOG)[upstream_before:]
    assert NOT_PINNED not in {entry["model"] for entry in upstream}, (result.stdout + result.stderr, upstream)
    # A pinned model still works under the lock.
    upstream_before = len(settled_json_lines(gateway, UPSTREAM_LOG))
    result = run_claude(workstation, "alice", "Say hello in five words.")
    assert result.rc == 0, result.stdout + result.stderr
    assert svars["e2e_fake_provider_reply"] in result.stdout
    upstream = settled_json_lines(gateway, UPSTREAM_LOG)[upstream_before:]
    assert upstream and {entry["model"] for entry in upstream} == {svars["e2e_models"]["alice"].split("/", 1)[1]}
