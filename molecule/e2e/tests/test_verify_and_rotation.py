"""After the clients' tests (this module runs last): the `verify` playbook, then a key rotation in one `site` run.

1. verify: every user OK; 2. bob's settings.json gets a wrong key: verify reports bob broken and fails;
3. bob's key gets a new value in the inventory; one `site` run puts it on the gateway and in bob's files, the old key is
   refused from then on, and the real `claude` CLI works with the new key; verify is OK again.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import SCENARIO, run_claude, scenario_vars, user_json

SETTINGS = "/home/{user}/.claude/settings.json"
NEW_BOB_KEY = "sk-bf-e2eBobRotatedKey0000000000000000000000"
WRONG_KEY = "sk-bf-e2eWrongKeyInTheFile00000000000000000"


def playbook(name, report_dir, extra_vars):
    """ansible-playbook with Molecule's inventory; extra_vars go through a file (they hold test keys)."""
    vars_file = report_dir / ("vars-%s.json" % len(list(report_dir.glob("vars-*.json"))))
    vars_file.write_text(json.dumps(dict(extra_vars, verify_report_dir=str(report_dir))), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "ANSIBLE_FORCE_COLOR"}
    env["ANSIBLE_NOCOLOR"] = "1"
    inventory = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
    return subprocess.run(["ansible-playbook", "-i", str(inventory), name, "-e", "@" + str(vars_file)],
                          capture_output=True, text=True, check=False, env=env)


def scenario_users():
    """claude_desktop_users of the scenario without carol, whose key is unknown on purpose (test_e2e.py)."""
    text = (SCENARIO / "inventory" / "group_vars" / "claude_workstations" / "main.yml").read_text(encoding="utf-8")
    users = yaml.safe_load(text)["claude_desktop_users"]
    models = scenario_vars()["e2e_models"]
    # The same tiers as the inventory, with their values resolved (the inventory's are templates).
    kept = [dict(user, models=dict((tier, models[user["name"]]) for tier in user["models"]))
            for user in users if user["name"] != "carol"]
    assert [user["name"] for user in kept] == ["alice", "bob"]
    return kept


def latest_report(report_dir):
    reports = sorted(report_dir.glob("verify-*.json"))
    assert reports, list(report_dir.iterdir())
    path = reports[-1]
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.with_suffix(".md").stat().st_mode & 0o777 == 0o600
    return path, json.loads(path.read_text(encoding="utf-8"))


def key_status(workstation, base_url, key):
    """The gateway's answer to the zero-cost key check, asked from the workstation."""
    return workstation.check_output(
        "curl -s -o /dev/null -w '%%{http_code}' --max-time 10 -H %s %s", "x-api-key: " + key, base_url + "/v1/models")


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("verify-reports")


@pytest.fixture(scope="module")
def virtual_keys():
    """bifrost_virtual_keys as the scenario declares them (group_vars/all)."""
    return scenario_vars()["bifrost_virtual_keys"]


def with_bob_key(virtual_keys, value):
    return [dict(vk, value=value) if vk["name"] == "bob" else vk for vk in virtual_keys]


def test_1_verify_all_users_ok(report_dir):
    result = playbook("aigateway.bifrost.verify", report_dir, {"claude_desktop_users": scenario_users()})
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    path, report = latest_report(report_dir)
    assert report["summary"] == {"ok": 2, "broken": 0, "skipped": 0}
    assert [(u["host"], u["user"], u["status"]) for u in report["users"]] == [
        ("e2e-workstation", "alice", "ok"), ("e2e-workstation", "bob", "ok")]
    assert "| e2e-workstation | bob | ok | - |" in path.with_suffix(".md").read_text(encoding="utf-8")


def test_2_verify_reports_a_broken_key_and_fails(workstation, report_dir):
    bob = SETTINGS.format(user="bob")
    document = user_json(workstation, bob)
    good_key = document["env"]["ANTHROPIC_AUTH_TOKEN"]
    document["env"]["ANTHROPIC_AUTH_TOKEN"] = WRONG_KEY
    encoded = base64.b64encode(json.dumps(document).encode()).decode()
    workstation.check_output("echo %s | base64 -d > %s", encoded, bob)  # rewritten in place: owner and mode stay

    result = playbook("aigateway.bifrost.verify", report_dir, {"claude_desktop_users": scenario_users()})

    assert result.returncode != 0, result.stdout[-4000:]
    assert "e2e-workstation/bob" in result.stdout + result.stderr  # the failure (on stderr in ansible-core 2.19)
    path, report = latest_report(report_dir)
    assert report["summary"] == {"ok": 1, "broken": 1, "skipped": 0}
    by_user = {u["user"]: u for u in report["users"]}
    assert by_user["alice"]["status"] == "ok"
    assert by_user["bob"]["status"] == "broken"
    assert by_user["bob"]["problems"] == [
        bob + ": env.ANTHROPIC_AUTH_TOKEN is not the user's key on the gateway (inventory)",
        "the gateway refused the key in settings.json from this workstation (HTTP 403)",
    ]
    text = path.read_text(encoding="utf-8") + path.with_suffix(".md").read_text(encoding="utf-8") + result.stdout
    for key in (WRONG_KEY, good_key):
        assert key not in text


def test_3_rotation_in_one_site_run(gateway, workstation, svars, report_dir, virtual_keys):
    old_key = next(vk["value"] for vk in virtual_keys if vk["name"] == "bob")
    base_url = user_json(workstation, SETTINGS.format(user="alice"))["env"]["ANTHROPIC_BASE_URL"]
    assert key_status(workstation, base_url, old_key) == "200"

    rotated = {"bifrost_virtual_keys": with_bob_key(virtual_keys, NEW_BOB_KEY)}
    site = playbook("aigateway.bifrost.site", report_dir, rotated)
    assert site.returncode == 0, site.stdout[-4000:] + site.stderr[-2000:]
    assert NEW_BOB_KEY not in site.stdout + site.stderr

    settings = workstation.file(SETTINGS.format(user="bob"))
    assert (settings.user, settings.mode) == ("bob", 0o600)
    assert json.loads(settings.content_string)["env"]["ANTHROPIC_AUTH_TOKEN"] == NEW_BOB_KEY
    desktop = user_json(workstation, "/home/bob/.config/Claude/claude_desktop_config.json")
    assert desktop["mcpServers"]["bifrost"]["env"]["AUTH_HEADER"] == "Bearer " + NEW_BOB_KEY
    assert key_status(workstation, base_url, NEW_BOB_KEY) == "200"
    assert key_status(workstation, base_url, old_key) == "403"  # the old key is refused from now on

    answer = run_claude(workstation, "bob", "Say hello in five words.")
    assert answer.rc == 0, answer.stdout + answer.stderr
    assert svars["e2e_fake_provider_reply"] in answer.stdout

    verified = playbook("aigateway.bifrost.verify", report_dir, dict(rotated, claude_desktop_users=scenario_users()))
    assert verified.returncode == 0, verified.stdout[-4000:]
    assert latest_report(report_dir)[1]["summary"] == {"ok": 2, "broken": 0, "skipped": 0}
