"""Fixtures for the e2e scenario: the two containers, the scenario's own variables, and helpers to run real clients."""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import testinfra
import yaml

SCENARIO = Path(__file__).resolve().parents[1]
PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY") or SCENARIO.parents[1])
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

GATEWAY = "e2e-gateway"
WORKSTATION = "e2e-workstation"
REQUEST_LOG = "/var/lib/bifrost/requests.log"
UPSTREAM_LOG = "/var/log/fake-provider.jsonl"
CLIENT_PATH = "/usr/local/bin:/usr/bin:/bin"


def scenario_vars() -> dict:
    """The scenario's inventory variables (group_vars/all), so the tests use the same values as the converge."""
    merged: dict = {}
    for path in sorted((SCENARIO / "inventory" / "group_vars" / "all").glob("*.yml")):
        merged.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return merged


@pytest.fixture(scope="session")
def svars() -> dict:
    return scenario_vars()


@pytest.fixture(scope="session")
def gateway():
    return testinfra.get_host("podman://" + GATEWAY)


@pytest.fixture(scope="session")
def workstation():
    return testinfra.get_host("podman://" + WORKSTATION)


def read_json_lines(host, path: str) -> list[dict]:
    text = host.check_output("cat %s", path) if host.file(path).exists else ""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def settled_json_lines(host, path: str, timeout: float = 15.0) -> list[dict]:
    """The log once it has stopped growing: a gateway writes a request's line after it has answered the client."""
    deadline = time.monotonic() + timeout
    previous = read_json_lines(host, path)
    while True:
        time.sleep(0.5)
        current = read_json_lines(host, path)
        if current == previous or time.monotonic() > deadline:
            return current
        previous = current


def user_json(host, path: str) -> dict:
    return json.loads(host.check_output("cat %s", path))


def run_claude(host, user: str, prompt: str):
    """`claude -p` as the user, from an empty environment: only the settings file the role wrote configures it."""
    command = (
        "cd /home/{user} && runuser -u {user} -- env -i PATH={path} HOME=/home/{user} "
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1 timeout 120 claude -p {prompt}"
    ).format(user=user, path=CLIENT_PATH, prompt=shlex.quote(prompt))
    return host.run(command)


# Credential mode helper: two root-owned commands on the workstation that print bob's key (the gateway knows it), so
# the gateway's request log names bob for requests whose key came from a helper.
KEY_HELPER = "/usr/local/bin/e2e-bifrost-key"
HEADERS_HELPER = "/usr/local/bin/e2e-bifrost-headers"


def put_script(host, path, line):
    """A root-owned 0755 shell script on the host that runs ``line``."""
    text = base64.b64encode(("#!/bin/sh\n" + line + "\n").encode()).decode()
    host.check_output("echo %s | base64 -d > %s && chmod 0755 %s", text, path, path)


def install_helpers(workstation) -> str:
    """The helper user dave and the two helper commands; returns the key they print."""
    workstation.check_output("id dave >/dev/null 2>&1 || useradd -m -s /bin/sh dave")
    (bob,) = [vk for vk in scenario_vars()["bifrost_virtual_keys"] if vk["name"] == "bob"]
    key = bob["value"]
    put_script(workstation, KEY_HELPER, "echo " + shlex.quote(key))
    put_script(workstation, HEADERS_HELPER, "echo " + shlex.quote(json.dumps({"Authorization": "Bearer " + key})))
    return key


def helper_mode_vars(workstation) -> dict:
    """Extra vars for a `fleet` run in helper mode for dave alone, at the gateway the converge configured."""
    base_url = user_json(workstation, "/home/alice/.claude/settings.json")["env"]["ANTHROPIC_BASE_URL"]
    return {
        "claude_desktop_gateway_url": base_url[: -len("/anthropic")],
        "claude_desktop_users": [{"name": "dave", "chat_enabled": False,
                                  "models": {"default": scenario_vars()["e2e_models"]["alice"]}}],
        "claude_desktop_credential_mode": "helper",
        "claude_desktop_api_key_helper": KEY_HELPER,
        "claude_desktop_api_key_helper_ttl_ms": 60000,
        "claude_desktop_mcp_headers_helper": HEADERS_HELPER,
    }


def fleet_on_workstation(directory: Path, extra: dict) -> subprocess.CompletedProcess:
    """The `fleet` playbook on the workstation only, with Molecule's inventory; extra vars through a file."""
    vars_file = directory / ("vars-%d.json" % len(list(directory.glob("vars-*.json"))))
    vars_file.write_text(json.dumps(extra), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_FORCE_COLOR"}
    env["ANSIBLE_NOCOLOR"] = "1"
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    result = subprocess.run(["ansible-playbook", "-i", str(inventory), "aigateway.bifrost.fleet", "--limit", WORKSTATION,
                             "-e", "@" + str(vars_file)], capture_output=True, text=True, check=False, env=env)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result


def assert_mcp_connected(gateway, workstation, user: str, virtual_key: str) -> None:
    """`claude mcp list` run as the user, from an empty environment, shows the `bifrost` server connected, and the
    gateway saw its MCP requests with the named virtual key."""
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
    assert mcp_calls and {entry["virtual_key"] for entry in mcp_calls} == {virtual_key}, arrived
