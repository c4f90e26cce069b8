"""Managed policy lock-out rules, and each managed source Claude Code reads (files, drop-ins, macOS profiles,
Windows policy values)."""

from __future__ import annotations

import json
import os
import plistlib

import pytest

from ansible_collections.aigateway.bifrost.plugins.module_utils import claude_policy as cp


@pytest.mark.parametrize("settings, keys", [
    ({"forceLoginMethod": "claudeai"}, ["forceLoginMethod"]),
    ({"forceLoginMethod": "console"}, ["forceLoginMethod"]),
    ({"forceLoginMethod": "gateway"}, ["forceLoginMethod"]),  # any value
    ({"forceLoginOrgUUID": "0000-1111"}, ["forceLoginOrgUUID"]),
    ({"enforceAnthropicSignIn": True}, ["enforceAnthropicSignIn"]),
    ({"enforceAnthropicSignIn": False}, []),
    ({"allowedProviders": ["anthropic"]}, ["allowedProviders"]),
    ({"allowedProviders": []}, ["allowedProviders"]),
    ({"allowedProviders": ["customEndpoint"]}, []),
    ({"allowedProviders": ["anthropic", "customEndpoint"]}, []),
    ({"env": {"ANTHROPIC_BASE_URL": "x"}, "model": "opus"}, []),
    ({"forceLoginMethod": "claudeai", "allowedProviders": ["bedrock"]}, ["forceLoginMethod", "allowedProviders"]),
])
def test_lockout_rules(settings, keys):
    assert [key for key, dummy in cp.lockout_findings(settings)] == keys


def test_rules_are_listed_once_with_the_cli_version():
    assert [rule[0] for rule in cp.LOCKOUT_RULES] == [
        "forceLoginMethod", "forceLoginOrgUUID", "enforceAnthropicSignIn", "allowedProviders"]
    assert "2.1.328" in cp.LOCKOUT_RULES_VERIFIED_ON


def managed_dir(tmp_path, main=None, **dropins):
    root = tmp_path / "claude-code"
    (root / "managed-settings.d").mkdir(parents=True)
    if main is not None:
        (root / "managed-settings.json").write_text(json.dumps(main))
    for name, content in dropins.items():
        path = root / "managed-settings.d" / name.replace("_", "-").replace("-json", ".json")
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    return root


def test_managed_settings_json_is_a_source(tmp_path):
    root = managed_dir(tmp_path, main={"forceLoginOrgUUID": "org"})
    result = cp.posix_report(str(root))
    assert result["lockouts"] == [{"path": str(root / "managed-settings.json"), "key": "forceLoginOrgUUID",
                                   "reason": cp.LOCKOUT_RULES[1][2]}]
    assert result["sources"][0]["kind"] == "file"
    assert result["os_policy_outranks_files"] is False


def test_every_dropin_is_a_source_in_the_clis_order_and_the_own_dropin_is_skipped(tmp_path):
    root = managed_dir(tmp_path, main={"model": "opus"},
                       **{"40-other-tool-json": {"forceLoginMethod": "claudeai"},
                          "10-first-json": {"allowedProviders": ["anthropic"]},
                          "50-aigateway-json": {"forceLoginMethod": "console"},
                          ".hidden-json": {"forceLoginMethod": "console"},
                          "60-notes-txt": "forceLoginMethod"})
    own = str(root / "managed-settings.d" / "50-aigateway.json")
    result = cp.posix_report(str(root), exclude=[own])
    assert [s["path"] for s in result["sources"]] == [
        str(root / "managed-settings.json"),
        str(root / "managed-settings.d" / "10-first.json"),
        str(root / "managed-settings.d" / "40-other-tool.json"),
    ]
    assert [(os.path.basename(item["path"]), item["key"]) for item in result["lockouts"]] == [
        ("10-first.json", "allowedProviders"), ("40-other-tool.json", "forceLoginMethod")]
    message = cp.lockout_message(result)
    assert str(root / "managed-settings.d" / "40-other-tool.json") + " sets forceLoginMethod" in message


def test_unreadable_or_invalid_sources_are_reported_without_a_lockout(tmp_path):
    root = managed_dir(tmp_path, **{"20-broken-json": '{"forceLoginMethod": "claudeai",}',
                                    "30-list-json": "[]"})
    os.mkfifo(str(root / "managed-settings.d" / "40-fifo.json"))  # must not block
    (root / "managed-settings.d" / "50-dir.json").mkdir()
    result = cp.posix_report(str(root))
    errors = dict((os.path.basename(s["path"]), s["error"]) for s in result["sources"])
    assert "not valid JSON" in errors["20-broken.json"]
    assert "not a JSON object" in errors["30-list.json"]
    assert "not a regular file" in errors["40-fifo.json"]
    assert "could not be read" in errors["50-dir.json"]
    assert result["lockouts"] == []


def test_oversized_files_are_not_read(tmp_path):
    root = managed_dir(tmp_path, main={"forceLoginMethod": "claudeai", "pad": "x" * 200})
    result = cp.posix_report(str(root), max_bytes=100)
    assert "larger than 100 bytes" in result["sources"][0]["error"] and result["lockouts"] == []


def test_missing_directory_has_no_sources(tmp_path):
    result = cp.posix_report(str(tmp_path / "nothing"))
    assert result["sources"] == [] and result["lockouts"] == []


def write_plist(path, data, fmt=plistlib.FMT_BINARY):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(plistlib.dumps(data, fmt=fmt))


def test_macos_device_profile_is_a_source_and_outranks_the_files(tmp_path):
    prefs = tmp_path / "Managed Preferences"
    write_plist(prefs / "com.anthropic.claudecode.plist", {"forceLoginMethod": "claudeai", "env": {"A": "1"}})
    root = managed_dir(tmp_path, main={"model": "opus"})
    result = cp.posix_report(str(root), preferences_dir=str(prefs))
    assert result["sources"][0]["kind"] == "macos_profile"
    assert result["lockouts"][0]["path"] == str(prefs / "com.anthropic.claudecode.plist")
    assert result["lockouts"][0]["key"] == "forceLoginMethod"
    assert result["os_policy_outranks_files"] is True
    assert result["outranking_sources"] == [str(prefs / "com.anthropic.claudecode.plist")]
    assert "outranks the Claude Code managed settings files" in cp.outranked_message(result)


def test_macos_per_user_profile_is_a_source_with_native_arrays(tmp_path):
    prefs = tmp_path / "Managed Preferences"
    write_plist(prefs / "alice" / "com.anthropic.claudecode.plist", {"allowedProviders": ["anthropic"]},
                fmt=plistlib.FMT_XML)
    write_plist(prefs / "bob" / "com.example.other.plist", {"forceLoginMethod": "claudeai"})
    result = cp.posix_report(str(tmp_path / "none"), preferences_dir=str(prefs))
    assert [(s["kind"], item["key"]) for s in result["sources"] for item in s["lockouts"]] == [
        ("macos_user_profile", "allowedProviders")]
    assert result["os_policy_outranks_files"] is False


def test_broken_plist_is_reported(tmp_path):
    prefs = tmp_path / "prefs"
    prefs.mkdir()
    (prefs / "com.anthropic.claudecode.plist").write_bytes(b"not a plist")
    result = cp.posix_report(str(tmp_path / "none"), preferences_dir=str(prefs))
    assert "property list" in result["sources"][0]["error"]
    assert result["os_policy_outranks_files"] is False


def test_windows_hklm_policy_is_a_source_and_outranks_the_files():
    result = cp.texts_report([
        {"path": cp.WINDOWS_HKLM + "\\Settings", "kind": "windows_hklm", "text": '{"forceLoginOrgUUID": "o"}'},
        {"path": "C:\\Program Files\\ClaudeCode\\managed-settings.json", "kind": "file", "text": None},
    ])
    assert [(i["path"], i["key"]) for i in result["lockouts"]] == [(cp.WINDOWS_HKLM + "\\Settings", "forceLoginOrgUUID")]
    assert result["os_policy_outranks_files"] is True


def test_windows_hkcu_policy_is_a_source_but_does_not_outrank_the_files():
    result = cp.texts_report([
        {"path": cp.WINDOWS_HKCU + "\\Settings", "kind": "windows_hkcu",
         "text": "\ufeff" + json.dumps({"enforceAnthropicSignIn": True})},
    ])
    assert [i["key"] for i in result["lockouts"]] == ["enforceAnthropicSignIn"]
    assert result["os_policy_outranks_files"] is False
