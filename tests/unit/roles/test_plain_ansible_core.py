"""Linux paths of the collection run with ansible-core alone: no ansible.windows, no other collection.

The collections path holds only this collection (a temporary ansible_collections/aigateway/bifrost symlink); the
claude_desktop role runs with the account lookup (users without a home) and the health check from the workstation,
answered by a stdlib HTTP server on 127.0.0.1, and json_merge runs on its own.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.health import health_server

ROOT = Path(__file__).resolve().parents[3]
USER = pwd.getpwuid(os.geteuid()).pw_name
KEY = "sk-bf-" + "P" * 40


@pytest.fixture(scope="module")
def gateway():
    """(URL, paths asked) of a loopback gateway answering /health."""
    with health_server() as served:
        yield served


@pytest.fixture(scope="module")
def plain_env(tmp_path_factory):
    """An environment whose only collection is this one."""
    base = tmp_path_factory.mktemp("plain-core")
    link = base / "collections" / "ansible_collections" / "aigateway" / "bifrost"
    link.parent.mkdir(parents=True)
    link.symlink_to(ROOT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_HOME=str(base / "ansible-home"),
        ANSIBLE_COLLECTIONS_PATH=str(base / "collections"),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_RETRY_FILES_ENABLED="0",
        ANSIBLE_LOCALHOST_WARNING="0",
    )
    return env


def test_the_environment_has_no_other_collection(plain_env):
    listed = subprocess.run(["ansible-galaxy", "collection", "list", "--format", "json"], env=plain_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True)
    names = {name for path in json.loads(listed.stdout).values() for name in path}
    assert names - {"ansible.builtin", "ansible._protomatter"} == {"aigateway.bifrost"}  # ansible-core's own
    windows = subprocess.run(["ansible-doc", "-t", "module", "ansible.windows.win_find"], env=plain_env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert windows.returncode != 0 or "not found" in windows.stdout, windows.stdout


def test_claude_desktop_role_and_json_merge_run_with_ansible_core_alone(plain_env, gateway, tmp_path):
    url, asked = gateway
    asked.clear()
    (tmp_path / "inventory").write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    role_vars = {
        # No OS family and no homes: the role gathers the OS family and reads the accounts (getent).
        "claude_desktop_gateway_url": url,
        "claude_desktop_health_check_from": "workstation",
        "claude_desktop_health_check_retries": 0,
        "claude_desktop_ownership_record": str(tmp_path / "state" / "claude_desktop.json"),
        "claude_desktop_users": [{"name": USER, "virtual_key": KEY}],
        "claude_desktop_settings_path": str(tmp_path / "{name}" / "settings.json"),
        "claude_desktop_desktop_config_path": str(tmp_path / "{name}" / "claude_desktop_config.json"),
    }
    (tmp_path / "play.yml").write_text(yaml.safe_dump([
        {"name": "Role under test", "hosts": "localhost", "gather_facts": False, "vars": role_vars,
         "roles": [{"role": "aigateway.bifrost.claude_desktop"}]},
        {"name": "Module under test", "hosts": "localhost", "gather_facts": False, "tasks": [
            {"name": "Merge", "aigateway.bifrost.json_merge": {
                "path": str(tmp_path / "merged.json"), "content": {"a": {"b": 1}}, "create": True}}]},
    ], sort_keys=False))
    proc = subprocess.run(["ansible-playbook", "-i", "inventory", "play.yml"], cwd=tmp_path, env=plain_env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert "Read the local accounts" in proc.stdout and "/health from the workstation" in proc.stdout
    assert asked == ["/health"]
    settings = json.loads((tmp_path / USER / "settings.json").read_text())
    assert settings["env"]["ANTHROPIC_BASE_URL"] == url + "/anthropic"
    assert json.loads((tmp_path / "merged.json").read_text()) == {"a": {"b": 1}}
