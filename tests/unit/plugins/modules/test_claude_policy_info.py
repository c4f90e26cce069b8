"""The claude_policy_info module, run in-process against a managed settings directory in tmp_path."""

from __future__ import annotations

import json

import pytest

from ansible_collections.aigateway.bifrost.plugins.modules import claude_policy_info
from tests.helpers.modules import patch_module_args


def run(capsys, **args):
    args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args), pytest.raises(SystemExit):
        claude_policy_info.main()
    captured = capsys.readouterr()
    printed = captured.err + captured.out
    result = json.loads(captured.out[captured.out.index("{"):])
    # ansible-core prints a module's warnings outside its JSON when the module runs in-process.
    result["printed"] = printed
    return result


@pytest.fixture
def managed(tmp_path):
    root = tmp_path / "claude-code"
    (root / "managed-settings.d").mkdir(parents=True)
    (root / "managed-settings.d" / "40-other-tool.json").write_text('{"forceLoginMethod": "claudeai"}')
    (root / "managed-settings.d" / "50-aigateway.json").write_text('{"forceLoginMethod": "claudeai"}')
    return root


def test_fails_naming_the_file_and_key_and_skips_the_excluded_dropin(capsys, managed):
    result = run(capsys, managed_settings_dir=str(managed), fail_on_lockout=True,
                 exclude=[str(managed / "managed-settings.d" / "50-aigateway.json")])
    assert result["failed"] is True and result["changed"] is False
    assert str(managed / "managed-settings.d" / "40-other-tool.json") + " sets forceLoginMethod" in result["msg"]
    assert "50-aigateway.json" not in result["msg"]
    assert [item["key"] for item in result["lockouts"]] == ["forceLoginMethod"]


def test_warns_instead_when_asked(capsys, managed):
    result = run(capsys, managed_settings_dir=str(managed))
    assert not result.get("failed")
    assert len(result["lockouts"]) == 2
    assert "40-other-tool.json sets forceLoginMethod" in "".join(result.get("warnings", [])) + result["printed"]


def test_clean_host(capsys, tmp_path):
    (tmp_path / "managed-settings.json").write_text('{"allowedProviders": ["customEndpoint"], "forceLoginMethod": null}')
    result = run(capsys, managed_settings_dir=str(tmp_path), fail_on_lockout=True, warn_when_outranked=True)
    assert not result.get("failed") and result["lockouts"] == [] and "WARNING" not in result["printed"]
    assert result["os_policy_outranks_files"] is False and len(result["sources"]) == 1
