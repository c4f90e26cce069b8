"""A converged Bifrost gateway: running hardened, answering, gated by admin auth and virtual keys, leaking nothing."""

from __future__ import annotations

import hashlib
import json
import re
import shlex

import pytest
from gateway_fixtures import platform_names

from tests.helpers.schemas import errors


def test_service_is_enabled_and_running(host, gw):
    service = host.service(gw["bifrost_service_name"])
    assert service.is_enabled
    assert service.is_running


def test_service_runs_as_its_own_unprivileged_user(host, gw, main_pid):
    assert host.check_output("ps -o user= -p %d" % main_pid) == gw["bifrost_user"]
    user = host.user(gw["bifrost_user"])
    assert user.shell in ("/usr/sbin/nologin", "/sbin/nologin")
    status = host.file("/proc/%d/status" % main_pid).content_string
    assert re.search(r"^NoNewPrivs:\s+1$", status, re.M)
    assert re.search(r"^Seccomp:\s+2$", status, re.M)
    assert re.search(r"^CapEff:\s+0+$", status, re.M), "a port >= 1024 needs no capability"


def test_sandbox_is_really_applied(host, main_pid, gw):
    """ProtectSystem=strict: inside the service's mount namespace /etc is read-only, the app dir is writable."""
    probe = host.run("nsenter -t %d -m touch /etc/bifrost-sandbox-probe" % main_pid)
    assert probe.rc != 0 and "Read-only file system" in probe.stderr, probe.stderr
    assert not host.file("/etc/bifrost-sandbox-probe").exists
    home = host.run("nsenter -t %d -m ls /root" % main_pid)
    assert home.rc != 0 or home.stdout.strip() == "", "ProtectHome=yes hides /root"


def test_unit_rates_ok_in_systemd_analyze_security(host, gw):
    out = host.check_output("systemd-analyze security --no-pager %s.service" % gw["bifrost_service_name"])
    level = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", out).group(1))
    assert level <= 2.0, out[-2000:]


def test_unit_passes_the_flags_and_stops_gracefully(host, gw):
    unit = host.file("/etc/systemd/system/%s.service" % gw["bifrost_service_name"]).content_string
    assert "-app-dir %s -host %s -port %d -log-level %s -log-style %s" % (
        gw["app_dir"], gw["bifrost_host"], gw["port"], gw["bifrost_log_level"], gw["bifrost_log_style"]) in unit
    assert "TimeoutStopSec=45" in unit
    assert "UMask=0077" in unit
    assert "AmbientCapabilities=\n" in unit, "no capability for a port >= 1024"


def test_listens_where_configured(host, gw):
    assert host.socket("tcp://%s:%d" % (gw["bifrost_host"], gw["port"])).is_listening


def test_health_answers_200(curl, gw):
    assert curl(gw["url"] + "/health") == 200


def test_admin_auth_is_enforced(curl, gw, secrets):
    url = gw["url"] + "/api/providers"
    assert curl(url) == 401
    assert curl(url, "-u", shlex.quote("%s:%s" % (gw["bifrost_admin_username"], "wrong-password"))) == 401
    assert curl(url, "-u", shlex.quote("%s:%s" % (gw["bifrost_admin_username"], secrets["admin_password"]))) == 200


def test_inference_needs_a_virtual_key(curl, gw, secrets):
    url = gw["url"] + "/v1/models"
    assert curl(url) == 401
    assert curl(url, "-H", shlex.quote("Authorization: Bearer sk-bf-not-a-key-0000000000")) == 403  # governance: virtual_key_not_found
    for vk in gw["bifrost_virtual_keys"]:  # declared and generated values alike reach the gateway
        value = secrets["virtual key " + vk["name"]]
        assert curl(url, "-H", shlex.quote("Authorization: Bearer " + value)) == 200, vk["name"]


def test_cors_allows_what_claude_clients_send(host, gw):
    headers = "anthropic-version,anthropic-beta,x-stainless-os,x-app,anthropic-dangerous-direct-browser-access"
    out = host.check_output(
        "curl -s -D - -o /dev/null -X OPTIONS -H 'Origin: http://localhost:3000' "
        "-H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: %s' %s/anthropic/v1/messages"
        % (headers, gw["url"]))
    allowed = re.search(r"^Access-Control-Allow-Headers: (.*)$", out, re.M | re.I).group(1).lower()
    for header in headers.split(","):
        assert header in allowed or "*" in allowed, header


def test_config_json_is_valid_against_the_upstream_schema(host, gw):
    config = host.file(gw["app_dir"] + "/config.json")
    assert config.user == "root" and config.group == gw["bifrost_group"] and config.mode == 0o640
    assert errors("bifrost-config", json.loads(config.content_string)) == []


def test_config_json_refers_to_secrets_by_environment_name(host, gw):
    doc = json.loads(host.file(gw["app_dir"] + "/config.json").content_string)
    names = {vk["name"]: vk["value"] for vk in doc["governance"]["virtual_keys"]}
    expected = {vk["name"]: "env.BIFROST_VK_" + re.sub(r"[^A-Z0-9]", "_", vk["name"].upper())
                for vk in gw["bifrost_virtual_keys"]}
    assert names == expected
    assert doc["encryption_key"] == "env.BIFROST_ENCRYPTION_KEY"
    assert doc["governance"]["auth_config"]["admin_password"] == "env.BIFROST_ADMIN_PASSWORD"
    assert doc["client"]["enforce_auth_on_inference"] is True


def test_environment_file_is_root_only_and_holds_every_secret(host, gw, secrets):
    env = host.file(gw["bifrost_config_dir"] + "/bifrost.env")
    assert (env.user, env.group, env.mode) == ("root", "root", 0o600)
    directory = host.file(gw["bifrost_config_dir"])  # closed before the file is written: never readable by others
    assert (directory.user, directory.mode) == ("root", 0o700)
    content = env.content_string
    missing = [name for name, value in secrets.items() if value not in content]
    assert not missing, "secrets missing from the environment file: %s" % missing


def test_no_secret_in_config_unit_journal_or_request_log(host, gw, secrets):
    places = {
        "config.json": host.file(gw["app_dir"] + "/config.json").content_string,
        "unit": host.file("/etc/systemd/system/%s.service" % gw["bifrost_service_name"]).content_string,
        "journal": host.check_output("journalctl -u %s --no-pager -o cat" % gw["bifrost_service_name"]),
        "requests.log": host.file(gw["app_dir"] + "/requests.log").content_string,
    }
    assert "successfully started bifrost" in places["journal"], "the journal must be readable for this test to mean anything"
    leaks = ["%s in %s" % (name, where) for where, text in places.items() for name, value in secrets.items() if value in text]
    assert not leaks


def test_installed_binary_is_the_pinned_one_and_recorded(host, gw):
    expected = hashlib.sha256(gw["binary_src_path"].read_bytes()).hexdigest()
    install_dir = gw["bifrost_install_dir"]
    record = json.loads(host.file(install_dir + "/installed.json").content_string)
    assert record == {"version": gw["bifrost_version"], "sha256": expected}
    binary = host.file(install_dir + "/bifrost-http")
    assert (binary.user, binary.mode) == ("root", 0o755)
    assert binary.sha256sum == expected
    assert not host.file(install_dir + "/bifrost-http.new").exists


def test_generated_credentials_are_private_on_the_controller(credentials_dir, gw):
    assert credentials_dir.stat().st_mode & 0o777 == 0o700
    generated = [vk["name"] for vk in gw["bifrost_virtual_keys"] if not vk.get("value")]
    assert generated, "the scenario must generate at least one virtual key"
    for name in generated:
        path = credentials_dir / ("virtual_key_" + name)
        assert path.stat().st_mode & 0o777 == 0o600
        assert re.match(r"^sk-bf-[A-Za-z0-9]{40}$", path.read_text().strip())


@pytest.fixture(scope="module")
def check_run(check_mode_run):
    assert check_mode_run.returncode == 0, check_mode_run.stdout[-4000:]
    return check_mode_run.stdout


def test_check_mode_on_the_converged_hosts_changes_nothing(check_run, molecule_config):
    for name in platform_names(molecule_config):
        recap = re.search(r"^%s\s+: ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=0" % re.escape(name), check_run, re.M)
        assert recap, "no recap line for %s" % name
        assert recap.group(1) == "0", "check mode reports changes on %s" % name


def test_no_secret_in_ansible_output(check_run, secrets):
    assert "TASK [aigateway.bifrost.bifrost : Write the environment file" in check_run
    leaks = [name for name, value in secrets.items() if value in check_run]
    assert not leaks


def is_subset(part, whole) -> bool:
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(k in whole and is_subset(v, whole[k]) for k, v in part.items())
    return part == whole


def test_config_json_reflects_the_inventory(host, gw):
    doc = json.loads(host.file(gw["app_dir"] + "/config.json").content_string)
    for store, db in (("config_store", "config.db"), ("logs_store", "logs.db")):
        kind = gw["bifrost_" + store]
        if kind == "sqlite":
            assert doc[store] == {"enabled": True, "type": "sqlite", "config": {"path": gw["app_dir"] + "/" + db}}
        elif kind == "postgres":
            expected = dict(gw["bifrost_postgres"], port=str(gw["bifrost_postgres"]["port"]),
                            password="env.BIFROST_POSTGRES_PASSWORD")
            assert doc[store] == {"enabled": True, "type": "postgres", "config": expected}
    for pname, provider in gw["bifrost_providers"].items():
        refs = [key["value"] for key in doc["providers"][pname]["keys"]]
        assert refs == ["env.BIFROST_PROVIDER_%s_%s" % (pname.upper(), key["name"].upper()) for key in provider["keys"]]
    assert sorted(doc["providers"]) == sorted(gw["bifrost_providers"])
    assert doc["client"]["allowed_headers"] == gw["bifrost_cors_allowed_headers"]
    pricing = doc["framework"]["pricing"]
    assert pricing["pricing_url"] == "file://%s/datasheets/pricing.json" % gw["app_dir"]
    assert pricing["pricing_sync_interval"] >= 3600
    assert is_subset(gw["bifrost_config_extra"], doc)


def test_service_environment_reaches_the_service(host, gw, main_pid):
    environ = host.check_output("tr '\\0' '\\n' < /proc/%d/environ" % main_pid).splitlines()
    for name, value in gw["bifrost_service_environment"].items():
        assert "%s=%s" % (name, value) in environ
    assert any(line.startswith("BIFROST_ENCRYPTION_KEY=") for line in environ), "the environment file is read"
