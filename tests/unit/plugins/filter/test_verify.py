# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Per-user consistency logic of the aigateway.bifrost.verify playbook (plugins/filter/verify.py)."""

from __future__ import annotations

import base64
import json

import pytest

from ansible_collections.aigateway.bifrost.plugins.filter import claude_desktop as cd
from ansible_collections.aigateway.bifrost.plugins.filter import verify

URL = "http://gw.example.internal:8080"
ALICE_KEY = "sk-bf-alice000000000000000000000000000000001"
BOB_KEY = "sk-bf-bob00000000000000000000000000000000002"
USERS = [{"name": "alice", "virtual_key_name": "alice", "home": "/home/alice", "group": "alice"},
         {"name": "bob", "virtual_key": BOB_KEY, "home": "/home/bob", "group": "bob", "chat_enabled": False}]


def b64(doc):
    return base64.b64encode((doc if isinstance(doc, str) else json.dumps(doc)).encode()).decode()


def plan(keys=None):
    return cd.claude_desktop_plan(USERS, "Debian", URL, keys={"alice": ALICE_KEY} if keys is None else keys)


def healthy(plan_):
    """Loop results of a workstation where every planned file is as planned and every key is accepted."""
    files = plan_["settings_files"] + plan_["desktop_files"]
    stats = [{"item": {"path": f["path"]}, "stat": {"exists": True, "pw_name": f["owner"], "mode": "0600"}} for f in files]
    slurped = [{"source": f["path"], "content": b64(f["content"])} for f in files]
    checks = [{"item": {"owner": f["owner"], "path": f["path"]}, "status": 200} for f in plan_["settings_files"]]
    return stats, slurped, checks


def statuses(results):
    return {r["user"]: (r["status"], r["problems"]) for r in results}


def run(plan_, stats, slurped, checks, managed=()):
    return statuses(verify.verify_workstation(plan_, "ws1", stats, slurped, checks, list(managed)))


def test_all_users_ok():
    p = plan()
    assert run(p, *healthy(p)) == {"alice": ("ok", []), "bob": ("ok", [])}


def test_missing_file_wrong_owner_and_mode():
    p = plan()
    stats, slurped, checks = healthy(p)
    stats[0]["stat"] = {"exists": False}
    stats[1]["stat"].update(pw_name="root", mode="0644")
    result = run(p, stats, slurped, checks)
    assert result["alice"][0] == "broken"
    assert "/home/alice/.claude/settings.json is missing" in result["alice"][1]
    assert "/home/bob/.claude/settings.json is owned by root, not bob" in result["bob"][1]
    assert "/home/bob/.claude/settings.json has mode 644, not 0600" in result["bob"][1]


def test_key_differs_from_the_inventory_and_no_key_value_is_reported():
    p = plan()
    stats, slurped, checks = healthy(p)
    rotated = plan(keys={"alice": "sk-bf-rotated0000000000000000000000000000009"})  # the inventory now says otherwise
    result = run(rotated, stats, slurped, checks)
    assert result["alice"] == ("broken", [
        "/home/alice/.claude/settings.json: env.ANTHROPIC_AUTH_TOKEN is not the user's key on the gateway (inventory)",
        "/home/alice/.config/Claude/claude_desktop_config.json: mcpServers.bifrost.env.AUTH_HEADER does not carry the "
        "user's key on the gateway (inventory)"])
    text = json.dumps(verify.verify_report({"ws1": verify.verify_workstation(rotated, "ws1", stats, slurped, checks, [])}, URL))
    for key in (ALICE_KEY, BOB_KEY, "sk-bf-rotated"):
        assert key not in text


def test_wrong_gateway_url_and_not_json():
    p = plan()
    stats, slurped, checks = healthy(p)
    doc = json.loads(base64.b64decode(slurped[0]["content"]))
    doc["env"]["ANTHROPIC_BASE_URL"] = "http://old-gw:8080/anthropic"
    slurped[0]["content"] = b64(doc)
    slurped[1]["content"] = b64("{not json")  # bob's settings
    result = run(p, stats, slurped, checks)
    assert ('/home/alice/.claude/settings.json: env.ANTHROPIC_BASE_URL is "http://old-gw:8080/anthropic", not '
            'http://gw.example.internal:8080/anthropic') in result["alice"][1]
    assert "/home/bob/.claude/settings.json is not a JSON object" in result["bob"][1]


@pytest.mark.parametrize("check, problem", [
    ({"status": 403}, "the gateway refused the key in settings.json from this workstation (HTTP 403)"),
    ({"status": 401}, "the gateway refused the key in settings.json from this workstation (HTTP 401)"),
    ({"status": -1, "msg": "Connection refused"}, "the gateway did not answer this workstation: Connection refused"),
    ({"status": 500}, "the gateway answered the key check with HTTP 500"),
    ({"skipped": True}, "no key in settings.json to test from this workstation"),
])
def test_key_refused_or_gateway_unreachable_from_the_workstation(check, problem):
    p = plan()
    stats, slurped, checks = healthy(p)
    checks[1] = dict(checks[1], **check)
    checks[1].pop("status", None) if "skipped" in check else None
    assert run(p, stats, slurped, checks)["bob"] == ("broken", [problem])


@pytest.mark.parametrize("managed, problem", [
    ({"forceLoginMethod": "claudeai"}, "sets forceLoginMethod"),
    ({"forceLoginOrgUUID": "0000"}, "sets forceLoginOrgUUID"),
    ({"enforceAnthropicSignIn": True}, "sets enforceAnthropicSignIn: true"),
    ({"allowedProviders": ["anthropic"]}, 'sets allowedProviders without "customEndpoint"'),
    ("[1, 2]", "is not a JSON object"),
])
def test_lockout_risks_break_every_user_of_the_host(managed, problem):
    p = plan()
    path = "/etc/claude-code/managed-settings.d/10-corp.json"
    result = run(p, *healthy(p), managed=[{"source": path, "content": b64(managed)}])
    for user in ("alice", "bob"):
        assert result[user][0] == "broken"
        assert any(line.startswith(path) and problem in line for line in result[user][1]), result[user]


def test_harmless_managed_settings_are_no_risk():
    managed = [{"source": "/etc/claude-code/managed-settings.json",
                "content": b64({"allowedProviders": ["customEndpoint"], "enforceAnthropicSignIn": False, "env": {"X": "1"}})}]
    p = plan()
    assert run(p, *healthy(p), managed=managed) == {"alice": ("ok", []), "bob": ("ok", [])}


def test_settings_key():
    assert verify.verify_settings_key(b64({"env": {"ANTHROPIC_AUTH_TOKEN": ALICE_KEY}})) == ALICE_KEY
    for content in (b64("nope"), b64({"env": "x"}), b64({}), "", None):
        assert verify.verify_settings_key(content) == ""


def test_report_counts_sorts_and_renders_markdown():
    results = {"ws2": [{"host": "ws2", "user": "zed", "status": "ok", "problems": []}],
               "ws1": [{"host": "ws1", "user": "bob", "status": "broken", "problems": ["a | b", "c"]},
                       {"host": "ws1", "user": "amy", "status": "skipped", "problems": ["no account on this host"]}],
               "ws3": None}
    report = verify.verify_report(results, URL)
    assert report["summary"] == {"ok": 1, "broken": 2, "skipped": 1}
    assert [(r["host"], r["user"]) for r in report["users"]] == [("ws1", "amy"), ("ws1", "bob"), ("ws2", "zed"), ("ws3", "*")]
    assert "| ws1 | bob | broken | a \\| b<br>c |" in report["markdown"].splitlines()
    assert "| ws3 | * | broken | the host was not checked (unreachable, or a task failed before the check) |" in report["markdown"]
    assert report["markdown"].startswith("# aigateway.bifrost verify\n\nGateway: " + URL)
