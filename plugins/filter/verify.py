# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the aigateway.bifrost.verify playbook: compare what a workstation has with what the claude_desktop role
would write (its plan), and build the run's report. Pure functions: no key value ever leaves them."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json

# Managed settings that block the gateway token: they force a first-party login (Claude Code's llm-gateway docs).
LOCKOUT_KEYS = ("forceLoginMethod", "forceLoginOrgUUID")


def _decode(content_b64):
    """The JSON document of a slurped file, or None when it is not a JSON object."""
    try:
        doc = json.loads(base64.b64decode(content_b64 or "").decode("utf-8"))
    except (ValueError, TypeError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def verify_settings_key(content_b64):
    """The virtual key a user's settings.json gives Claude Code (env.ANTHROPIC_AUTH_TOKEN), or ''."""
    doc = _decode(content_b64) or {}
    env = doc.get("env") if isinstance(doc.get("env"), dict) else {}
    value = env.get("ANTHROPIC_AUTH_TOKEN")
    return value if isinstance(value, str) else ""


def _mode(stat):
    return str(stat.get("mode") or "").lstrip("0").rjust(3, "0")


def _file_problems(planned, stat, content_b64, compare):
    """Problems of one planned file on the host: present, owner, mode, then `compare(planned_content, actual_doc)`."""
    path = planned["path"]
    if not stat or not stat.get("exists"):
        return ["%s is missing" % path]
    problems = []
    if planned.get("owner") and stat.get("pw_name") != planned["owner"]:
        problems.append("%s is owned by %s, not %s" % (path, stat.get("pw_name"), planned["owner"]))
    if planned.get("mode") and _mode(stat) != str(planned["mode"]).lstrip("0").rjust(3, "0"):
        problems.append("%s has mode %s, not %s" % (path, _mode(stat), planned["mode"]))
    doc = _decode(content_b64)
    if doc is None:
        problems.append("%s is not a JSON object" % path)
    else:
        problems.extend("%s: %s" % (path, problem) for problem in compare(planned["content"], doc))
    return problems


def _compare_settings(planned, actual):
    env = actual.get("env") if isinstance(actual.get("env"), dict) else {}
    problems = []
    if env.get("ANTHROPIC_BASE_URL") != planned["env"]["ANTHROPIC_BASE_URL"]:
        problems.append("env.ANTHROPIC_BASE_URL is %s, not %s" % (
            json.dumps(env.get("ANTHROPIC_BASE_URL")), planned["env"]["ANTHROPIC_BASE_URL"]))
    if not env.get("ANTHROPIC_AUTH_TOKEN"):
        problems.append("env.ANTHROPIC_AUTH_TOKEN is missing")
    elif env.get("ANTHROPIC_AUTH_TOKEN") != planned["env"]["ANTHROPIC_AUTH_TOKEN"]:
        problems.append("env.ANTHROPIC_AUTH_TOKEN is not the user's key on the gateway (inventory)")
    return problems


def _compare_desktop(planned, actual):
    servers = actual.get("mcpServers") if isinstance(actual.get("mcpServers"), dict) else {}
    problems = []
    for name, entry in planned["mcpServers"].items():
        found = servers.get(name)
        if not isinstance(found, dict):
            problems.append("mcpServers.%s is missing" % name)
            continue
        url = [arg for arg in entry["args"] if arg.endswith("/mcp")]
        if url and url[0] not in (found.get("args") or []):
            problems.append("mcpServers.%s does not reach %s" % (name, url[0]))
        env = found.get("env") if isinstance(found.get("env"), dict) else {}
        if env.get("AUTH_HEADER") != entry["env"]["AUTH_HEADER"]:
            problems.append("mcpServers.%s.env.AUTH_HEADER does not carry the user's key on the gateway (inventory)" % name)
    return problems


def verify_lockout_risks(managed_files):
    """Lock-out risks in the host's managed settings: [{path, content (base64)}] -> problems (one line each)."""
    problems = []
    for item in managed_files or []:
        doc = _decode(item.get("content"))
        path = item.get("path")
        if doc is None:
            problems.append("%s is not a JSON object (Claude Code may ignore or reject it)" % path)
            continue
        for key in LOCKOUT_KEYS:
            if doc.get(key) not in (None, ""):
                problems.append("%s sets %s: forces a first-party login, the gateway token is refused" % (path, key))
        if doc.get("enforceAnthropicSignIn") is True:
            problems.append("%s sets enforceAnthropicSignIn: true: users must sign in to Anthropic" % path)
        providers = doc.get("allowedProviders")
        if isinstance(providers, list) and "customEndpoint" not in providers:
            problems.append("%s sets allowedProviders without \"customEndpoint\": the gateway is not allowed" % path)
    return problems


def _key_check(result):
    """{status, msg} of one ansible.builtin.uri loop result (status -1 without an HTTP answer)."""
    return {"status": result.get("status", -1), "msg": str(result.get("msg") or "")}


def verify_workstation(plan, host, stats, files, key_checks, managed):
    """The status of every user of one host (Linux or macOS: every planned file is owned by its user).

    plan: the host's claude_desktop_plan (expected files, with the users' keys). The other arguments are the `results`
    of the playbook's loops: stats (ansible.builtin.stat over the planned files), files (ansible.builtin.slurp of those
    that exist), key_checks (ansible.builtin.uri over the users' settings files, sent with the key in each file),
    managed (ansible.builtin.slurp of the host's managed settings).
    Returns [{host, user, status: ok|broken|skipped, problems: [...]}]; no key value appears in it.
    """
    stat_by_path = dict((r["item"]["path"], r.get("stat") or {}) for r in stats or [] if not r.get("skipped"))
    content_by_path = dict((r["source"], r["content"]) for r in files or [] if "content" in r)
    checks = dict((r["item"]["owner"], _key_check(r)) for r in key_checks or [] if not r.get("skipped"))
    host_problems = verify_lockout_risks([{"path": r.get("source"), "content": r.get("content")}
                                          for r in managed or [] if not r.get("skipped")])
    results = []
    for name in plan.get("users", []):
        problems = []
        for kind, compare in (("settings_files", _compare_settings), ("desktop_files", _compare_desktop)):
            for planned in plan.get(kind, []):
                if planned["owner"] == name:
                    problems += _file_problems(planned, stat_by_path.get(planned["path"]),
                                               content_by_path.get(planned["path"]), compare)
        check = checks.get(name)
        if check is None:
            problems.append("no key in settings.json to test from this workstation")
        elif check["status"] != 200:
            problems.append(_refusal(check))
        problems += host_problems
        results.append({"host": host, "user": name, "status": "broken" if problems else "ok", "problems": problems})
    for name in plan.get("skipped_users", []):
        results.append({"host": host, "user": name, "status": "skipped", "problems": ["no account on this host"]})
    return results


def _refusal(check):
    status = check.get("status")
    if status in (401, 403):
        return "the gateway refused the key in settings.json from this workstation (HTTP %s)" % status
    if status in (None, -1):
        return "the gateway did not answer this workstation: %s" % (check.get("msg") or "no connection")
    return "the gateway answered the key check with HTTP %s" % status


def verify_report(results_by_host, gateway_url=""):
    """The run's report: {host: that host's verify_workstation results, or None when the host was not checked}
    -> {"gateway_url", "summary", "users", "markdown"} (sorted by host, user)."""
    users = []
    for host, results in sorted((results_by_host or {}).items()):
        if results is None:
            users.append({"host": host, "user": "*", "status": "broken",
                          "problems": ["the host was not checked (unreachable, or a task failed before the check)"]})
        else:
            users.extend(sorted((dict(r) for r in results), key=lambda r: r["user"]))
    summary = dict((status, sum(1 for r in users if r["status"] == status)) for status in ("ok", "broken", "skipped"))
    lines = ["# aigateway.bifrost verify", "", "Gateway: %s" % (gateway_url or "(not set)"), "",
             "OK: %(ok)d, broken: %(broken)d, skipped: %(skipped)d" % summary, "",
             "| Host | User | Status | Problems |", "|---|---|---|---|"]
    for r in users:
        problems = "<br>".join(p.replace("|", "\\|") for p in r["problems"]) or "-"
        lines.append("| %s | %s | %s | %s |" % (r["host"], r["user"], r["status"], problems))
    return {"gateway_url": gateway_url, "summary": summary, "users": users, "markdown": "\n".join(lines) + "\n"}


class FilterModule(object):
    def filters(self):
        return {
            "verify_settings_key": verify_settings_key,
            "verify_workstation": verify_workstation,
            "verify_report": verify_report,
        }
