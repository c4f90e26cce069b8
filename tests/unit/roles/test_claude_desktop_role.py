"""The claude_desktop role run for real against the controller itself (connection local, files in a temporary home).

Runs with gather_facts false and claude_desktop_os_family given (no fact gathering), paths overridden, and the gateway
health check answered by a stdlib HTTP server on 127.0.0.1 in this process.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.health import health_server
from tests.helpers.schemas import errors

ROOT = Path(__file__).resolve().parents[3]
ROLE = ROOT / "roles" / "claude_desktop"
KEY = "sk-bf-" + "Q" * 40
USER = pwd.getpwuid(os.geteuid()).pw_name
IS_ROOT = os.geteuid() == 0


@pytest.fixture(scope="module")
def gateway():
    with health_server() as (url, _asked):
        yield url


@pytest.fixture
def run(tmp_path, gateway):
    """Run the role with the given extra vars; returns (returncode, output)."""
    home = tmp_path / "home"
    home.mkdir()
    (tmp_path / "inventory").write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    (tmp_path / "play.yml").write_text(yaml.safe_dump([{
        "name": "Role under test", "hosts": "localhost", "gather_facts": False,
        "roles": [{"role": "aigateway.bifrost.claude_desktop"}],
    }]))

    def run_role(check=False, **extra):
        variables = {
            "claude_desktop_os_family": "Debian",
            "claude_desktop_gateway_url": gateway,
            "claude_desktop_users": [{"name": USER, "home": str(home), "virtual_key": KEY}],
            "claude_desktop_models": {"sonnet": "claude-sonnet-4-6"},
            "claude_desktop_env": {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": True},
            "claude_desktop_managed_settings": IS_ROOT,
            "claude_desktop_managed_settings_dir": str(tmp_path / "managed"),
            "claude_desktop_health_check_retries": 0,
            "claude_desktop_health_check_timeout": 3,
            "claude_desktop_ownership_record": str(tmp_path / "state" / "claude_desktop.json"),
        }
        variables.update(extra)
        (tmp_path / "vars.json").write_text(json.dumps(variables))
        command = ["ansible-playbook", "-i", str(tmp_path / "inventory"), str(tmp_path / "play.yml"),
                   "-e", "@" + str(tmp_path / "vars.json"), "-v", "--diff"] + (["--check"] if check else [])
        env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0")
        proc = subprocess.run(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=300, check=False)
        assert KEY[6:] not in proc.stdout, "the virtual key appears in the output"
        return proc.returncode, proc.stdout

    run_role.home = home
    run_role.managed = tmp_path / "managed" / "managed-settings.d" / "50-aigateway.json"
    return run_role


def recap_changed(output):
    line = [line for line in output.splitlines() if line.startswith("localhost") and "changed=" in line][-1]
    return int(line.split("changed=")[1].split()[0])


def test_converges_idempotently_with_keys_masked(run):
    settings = run.home / ".claude" / "settings.json"
    desktop = run.home / ".config" / "Claude" / "claude_desktop_config.json"
    rc, out = run()
    assert rc == 0, out[-3000:]
    assert '"ANTHROPIC_AUTH_TOKEN": "********"' in out  # the diff is shown, the key is not
    data = json.loads(settings.read_text())
    assert data["env"]["ANTHROPIC_AUTH_TOKEN"] == KEY
    assert data["env"]["ANTHROPIC_BASE_URL"].endswith("/anthropic")
    assert data["env"]["CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC"] == "1"
    assert errors("claude-code-settings", data) == []
    assert json.loads(desktop.read_text())["mcpServers"]["bifrost"]["env"] == {"AUTH_HEADER": "Bearer " + KEY}
    assert json.loads(desktop.read_text())["mcpServers"]["bifrost"]["args"][1] == "mcp-remote@0.15.1"
    code = run.home / ".claude.json"
    assert json.loads(code.read_text()) == {"mcpServers": {"bifrost": {
        "type": "http", "url": data["env"]["ANTHROPIC_BASE_URL"][: -len("/anthropic")] + "/mcp",
        "headers": {"Authorization": "Bearer " + KEY}}}}
    for path in (settings, desktop, code):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for path in (settings.parent, desktop.parent, desktop.parent.parent):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700
    if IS_ROOT:
        assert stat.S_IMODE(run.managed.stat().st_mode) == 0o644
        assert stat.S_IMODE(run.managed.parent.stat().st_mode) == 0o755
        managed = json.loads(run.managed.read_text())
        assert managed["env"]["ANTHROPIC_DEFAULT_SONNET_MODEL"] == "claude-sonnet-4-6" and "sk-bf" not in run.managed.read_text()
        assert errors("claude-code-settings", managed) == []
    rc, out = run()
    assert rc == 0 and recap_changed(out) == 0, out[-3000:]


def test_check_mode_writes_nothing_and_absent_removes_what_was_added(run):
    rc, out = run(check=True)
    assert rc == 0, out[-3000:]
    assert recap_changed(out) >= 1  # the one json_merge task for all files
    assert not (run.home / ".claude").exists()
    assert not run.managed.exists()

    settings = run.home / ".claude" / "settings.json"
    settings.parent.mkdir()
    original = '{\n  "env": {\n    "MINE": "x"\n  },\n  "model": "opus"\n}\n'
    settings.write_text(original)
    rc, out = run()
    assert rc == 0, out[-3000:]
    rc, out = run(claude_desktop_state="absent", claude_desktop_gateway_url="http://127.0.0.1:9")  # no health check
    assert rc == 0, out[-3000:]
    assert settings.read_text() == original
    assert json.loads((run.home / ".config" / "Claude" / "claude_desktop_config.json").read_text()) == {}


def test_dead_gateway_stops_the_run_naming_the_url(run):
    rc, out = run(claude_desktop_gateway_url="http://127.0.0.1:9", claude_desktop_health_check_retries=1)
    assert rc != 0
    assert "FAILED - RETRYING" in out  # retried once, then the explanation below, not uri's own failure
    assert "http://127.0.0.1:9/health did not answer 200" in out
    assert "claude_desktop_gateway_health_check: false" in out
    assert not (run.home / ".claude").exists()
    rc, out = run(claude_desktop_gateway_url="http://127.0.0.1:9", claude_desktop_gateway_health_check=False)
    assert rc == 0, out[-3000:]


def test_lockout_in_another_managed_dropin_fails_the_host_before_any_write(run):
    other = run.managed.parent / "40-other-tool.json"
    other.parent.mkdir(parents=True)
    other.write_text('{"forceLoginMethod": "claudeai"}\n')
    (run.managed.parent.parent / "managed-settings.json").write_text('{"allowedProviders": ["anthropic"]}\n')
    rc, out = run()
    assert rc != 0
    assert str(other) + " sets forceLoginMethod" in out
    assert str(run.managed.parent.parent / "managed-settings.json") + " sets allowedProviders" in out
    assert not (run.home / ".claude").exists() and not run.managed.exists()
    rc, out = run(claude_desktop_lockout_action="warn")
    assert rc == 0, out[-3000:]
    assert "[WARNING]" in out and str(other) + " sets forceLoginMethod" in out.replace("\n", " ")
    assert (run.home / ".claude" / "settings.json").exists()


def test_the_roles_own_dropin_is_not_judged_by_the_guard(run):
    run.managed.parent.mkdir(parents=True)
    run.managed.write_text('{"forceLoginMethod": "claudeai"}\n')  # e.g. left by an older run; the role rewrites it
    rc, out = run(claude_desktop_managed_settings=False)
    assert rc == 0, out[-3000:]


def test_invalid_json_fails_naming_the_file_and_leaves_it_alone(run):
    settings = run.home / ".claude" / "settings.json"
    settings.parent.mkdir()
    broken = '{"env": {"A": "1",}}\n'
    settings.write_text(broken)
    rc, out = run()
    assert rc != 0
    assert str(settings) + ": invalid JSON at line 1" in out
    assert settings.read_text() == broken


def test_argument_spec_documents_every_user_field():
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    fields = spec["claude_desktop_users"]["options"]
    assert {"name", "home", "group", "virtual_key", "virtual_key_name", "models", "env", "settings", "chat_enabled"} <= set(fields)
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    assert set(defaults) == set(spec)


def test_login_keys_in_the_users_own_file_lock_nobody_out_and_are_kept(run):
    settings = run.home / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text('{\n  "forceLoginMethod": "claudeai"\n}\n')
    rc, out = run(claude_desktop_settings={"forceLoginOrgUUID": "org"})
    assert rc == 0, out[-3000:]
    data = json.loads(settings.read_text())
    assert data["forceLoginMethod"] == "claudeai" and data["forceLoginOrgUUID"] == "org"
    assert data["env"]["ANTHROPIC_AUTH_TOKEN"] == KEY


def test_switches_leave_nothing_stale(run):
    """A Bedrock switch from the former bedrock mode goes; static -> helper takes the token out, helper -> static the
    helper; the user's own keys stay."""
    settings = run.home / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text(json.dumps({"env": {"CLAUDE_CODE_USE_BEDROCK": "1", "ANTHROPIC_BEDROCK_BASE_URL": "http://x/bedrock",
                                            "MINE": "x"}}))
    rc, out = run()
    assert rc == 0, out[-3000:]
    env = json.loads(settings.read_text())["env"]
    assert "CLAUDE_CODE_USE_BEDROCK" not in env and "ANTHROPIC_BEDROCK_BASE_URL" not in env
    assert env["MINE"] == "x" and env["ANTHROPIC_AUTH_TOKEN"] == KEY

    helper = {"claude_desktop_credential_mode": "helper", "claude_desktop_api_key_helper": "/usr/local/bin/bifrost-key",
              "claude_desktop_api_key_helper_ttl_ms": 300000,
              "claude_desktop_mcp_headers_helper": "/usr/local/bin/bifrost-headers"}
    rc, out = run(**helper)
    assert rc == 0, out[-3000:]
    data = json.loads(settings.read_text())
    assert data["apiKeyHelper"] == "/usr/local/bin/bifrost-key" and "ANTHROPIC_AUTH_TOKEN" not in data["env"]
    assert data["env"]["CLAUDE_CODE_API_KEY_HELPER_TTL_MS"] == "300000"
    assert errors("claude-code-settings", data) == []
    entry = json.loads((run.home / ".claude.json").read_text())["mcpServers"]["bifrost"]
    assert entry["headersHelper"] == "/usr/local/bin/bifrost-headers" and "headers" not in entry

    rc, out = run()
    assert rc == 0, out[-3000:]
    data = json.loads(settings.read_text())
    assert "apiKeyHelper" not in data and "CLAUDE_CODE_API_KEY_HELPER_TTL_MS" not in data["env"]
    assert data["env"]["ANTHROPIC_AUTH_TOKEN"] == KEY and data["env"]["MINE"] == "x"
    entry = json.loads((run.home / ".claude.json").read_text())["mcpServers"]["bifrost"]
    assert entry["headers"] == {"Authorization": "Bearer " + KEY} and "headersHelper" not in entry


def test_the_role_takes_back_what_it_wrote_and_only_that(run, tmp_path):
    """Ownership record: a pin dropped from the inventory goes, a value the user changed since stays, a renamed MCP
    server leaves no entry behind; state=absent removes everything the role wrote and nothing the user wrote."""
    settings = run.home / ".claude" / "settings.json"
    settings.parent.mkdir()
    settings.write_text('{"env": {"MINE": "x"}, "theme": "dark"}\n')
    models = {"sonnet": "claude-sonnet-4-6", "haiku": "claude-haiku-4-5", "opus": "claude-opus-4-1"}
    rc, out = run(claude_desktop_models=models)
    assert rc == 0, out[-3000:]
    record = tmp_path / "state" / "claude_desktop.json"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600 and KEY not in record.read_text()
    env = json.loads(settings.read_text())["env"]
    assert env["ANTHROPIC_DEFAULT_HAIKU_MODEL"] == "claude-haiku-4-5"
    # The user changes the opus pin; the inventory drops haiku and opus and renames the MCP server.
    data = json.loads(settings.read_text())
    data["env"]["ANTHROPIC_DEFAULT_OPUS_MODEL"] = "my-opus"
    settings.write_text(json.dumps(data))
    rc, out = run(claude_desktop_models={"sonnet": "claude-sonnet-4-6"}, claude_desktop_mcp_server_name="gateway")
    assert rc == 0, out[-3000:]
    env = json.loads(settings.read_text())["env"]
    assert "ANTHROPIC_DEFAULT_HAIKU_MODEL" not in env
    assert env["ANTHROPIC_DEFAULT_OPUS_MODEL"] == "my-opus"  # the user's since: kept
    assert "env.ANTHROPIC_DEFAULT_OPUS_MODEL" in out  # reported as kept
    for config in (run.home / ".claude.json", run.home / ".config" / "Claude" / "claude_desktop_config.json"):
        assert list(json.loads(config.read_text())["mcpServers"]) == ["gateway"], config
    rc, out = run(claude_desktop_state="absent", claude_desktop_gateway_url="http://127.0.0.1:9")
    assert rc == 0, out[-3000:]
    assert json.loads(settings.read_text()) == {"env": {"MINE": "x", "ANTHROPIC_DEFAULT_OPUS_MODEL": "my-opus"}, "theme": "dark"}
    assert json.loads((run.home / ".claude.json").read_text()) == {}
    assert json.loads(record.read_text())["files"] == {}
