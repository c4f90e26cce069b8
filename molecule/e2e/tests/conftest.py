"""Fixtures for the e2e scenario: the two containers, the scenario's own variables, and helpers to run real clients."""

from __future__ import annotations

import json
import os
import shlex
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
