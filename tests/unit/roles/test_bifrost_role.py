"""The bifrost role run for real against the test host (connection local, every path in a temporary directory).

- Guards: the whole role with one bad setting each; the run must refuse it in the preflight, naming the variable,
  before anything is written.
- Attacks (issue 13, items 7 and 10), judged on the victim files, never on the exit code:
  a local unprivileged user (created here, removed afterwards) polls the environment file while the role's configure
  tasks create it and must never read it; a bifrost_service_environment value with a newline must never become a unit
  directive, and a value with '%' must reach the service verbatim.
The configure tasks run without the preflight (tasks_from), with the secrets the preflight would resolve given as
variables; the restart handler then fails on a host without systemd, after every file was written.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
import yaml

IS_ROOT = os.geteuid() == 0
SECRET_PASSWORD = "admin-FAKE-Secret-0123456789"
SECRET_ENCRYPTION = "enc-FAKE-Secret-0123456789abcdef"
VK = "sk-bf-test-FAKE-0123456789abcdefghijklmnop"

pytestmark = pytest.mark.skipif(not IS_ROOT, reason="the role writes root-owned files and the attack needs useradd")


@pytest.fixture
def base():
    """A directory other users can traverse (tmp_path is closed to them), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="aigw-bifrost-role-", dir="/var/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def run_play(base, play_tasks, variables, check=False):
    (base / "inventory").write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    (base / "play.yml").write_text(yaml.safe_dump([{"name": "Role under test", "hosts": "localhost",
                                                    "gather_facts": False, "tasks": play_tasks}]))
    (base / "vars.json").write_text(json.dumps(variables))
    command = ["ansible-playbook", "-i", str(base / "inventory"), str(base / "play.yml"), "-e", "@" + str(base / "vars.json")]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0")
    proc = subprocess.run(command, cwd=base, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=600, check=False)
    return proc.stdout


def role_vars(base, **extra):
    variables = {
        "bifrost_app_dir": str(base / "app"),
        "bifrost_config_dir": str(base / "etc-bifrost"),
        "bifrost_install_dir": str(base / "lib"),
        "bifrost_credentials_dir": str(base / "credentials"),
        "bifrost_config_schema": "",
        "bifrost_version": "v2.2.5",
        "bifrost_allow_unverified": True,
        "bifrost_providers": {"anthropic": {"keys": [{"name": "main", "value": "sk-ant-FAKE-0123456789"}]}},
        "bifrost_virtual_keys": [{"name": "alice", "value": VK}],
    }
    variables.update(extra)
    return variables


GUARDS = {
    "auth without a config store": ({"bifrost_config_store": "disabled"}, "bifrost_config_store"),
    "virtual key value without sk-bf-": ({"bifrost_virtual_keys": [{"name": "alice", "value": "alice-own-key-01234"}]},
                                         "bifrost_virtual_keys[alice].value must start with 'sk-bf-'"),
    "one datasheet only": ({"bifrost_datasheet_files": {"pricing": "/nonexistent/pricing.json"}},
                           "bifrost_datasheet_files must name both pricing and model_parameters"),
    "azure deployments": ({"bifrost_providers": {"azure": {"keys": [{"name": "k", "value": "v", "azure_key_config": {
        "endpoint": "https://example.invalid", "api_version": "2024-10-21", "deployments": {"a": "b"}}}]}}},
        "bifrost_providers.azure.keys[0].azure_key_config.deployments"),
    "MCP client name with a hyphen": ({"bifrost_mcp_clients": [{"name": "my-docs", "connection_type": "http"}]},
                                      "bifrost_mcp_clients[0].name"),
    "private address with allow_private_network false": (
        {"bifrost_providers": {"openai": {"keys": [{"name": "k", "value": "v"}], "network_config": {
            "base_url": "http://10.0.0.7:8000", "allow_private_network": False}}}},
        "bifrost_providers.openai.network_config.base_url is on a private address"),
    "CORS header pattern": ({"bifrost_cors_allowed_headers": ["x-stainless-*"]}, "bifrost_cors_allowed_headers"),
    "service environment name": ({"bifrost_service_environment": {"BAD-NAME": "1"}}, "bifrost_service_environment"),
}


@pytest.mark.parametrize("case", sorted(GUARDS))
def test_guard_refuses_before_anything_is_written(base, case):
    settings, message = GUARDS[case]
    output = run_play(base, [{"name": "Run the role", "ansible.builtin.include_role": {"name": "aigateway.bifrost.bifrost"}}],
                      role_vars(base, **settings))
    assert message in output, output[-3000:]
    for written in ("app", "etc-bifrost", "lib", "credentials"):
        assert not (base / written).exists(), "%s was written before the guard refused" % written


def test_default_cors_has_no_wildcards():
    defaults = yaml.safe_load((Path(__file__).resolve().parents[3] / "roles/bifrost/defaults/main.yml").read_text())
    assert "*" not in defaults["bifrost_cors_allowed_origins"]
    assert not [h for h in defaults["bifrost_cors_allowed_headers"] if "*" in h]


# ---- attacks ---------------------------------------------------------------------------------------------------------

POLLER = r"""
import os, sys
path, stop = sys.argv[1], sys.argv[2]
reads = []
while not os.path.exists(stop):
    try:
        with open(path) as handle:
            reads.append(handle.read())
    except OSError:
        pass
print("READS %d" % len(reads))
print("".join(reads[:1]))
"""


@pytest.fixture
def attacker():
    name = "aigwatk%d" % os.getpid()
    subprocess.run(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name], check=True)
    yield name
    subprocess.run(["userdel", name], check=False)


# The attacker runs the system's Python: the test's virtualenv may live where other users cannot enter.
SYSTEM_PYTHON = shutil.which("python3", path="/usr/bin:/bin") or "/usr/bin/python3"


def as_user(user, *command):
    return ["runuser", "-u", user, "--"] + list(command)


def configure_vars(base, **extra):
    return role_vars(
        base,
        bifrost_user="nobody",
        bifrost_group="nogroup",
        __bifrost_unit_file=str(base / "bifrost.service"),
        __bifrost_virtual_key_values={"alice": VK},
        __bifrost_admin_password=SECRET_PASSWORD,
        __bifrost_encryption_key=SECRET_ENCRYPTION,
        **extra)


CONFIGURE = [{"name": "Run the configure tasks", "ansible.builtin.include_role": {
    "name": "aigateway.bifrost.bifrost", "tasks_from": "configure.yml"}}]


def test_other_users_never_read_the_environment_file(base, attacker):
    env_file = base / "etc-bifrost" / "bifrost.env"
    stop = base / "stop"
    poller = subprocess.Popen(as_user(attacker, SYSTEM_PYTHON, "-c", POLLER, str(env_file), str(stop)),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output = run_play(base, CONFIGURE, configure_vars(base))
    finally:
        stop.write_text("")
        stop.chmod(0o644)
        seen = poller.communicate(timeout=60)[0]
    assert env_file.is_file(), output[-3000:]
    assert SECRET_PASSWORD in env_file.read_text(), "the file under attack holds the secrets"
    assert seen.startswith("READS 0"), "another user read the environment file: %s" % seen[:200]
    assert SECRET_PASSWORD not in seen and SECRET_ENCRYPTION not in seen
    directory = base / "etc-bifrost"
    assert stat.S_IMODE(directory.stat().st_mode) & 0o007 == 0 and directory.stat().st_uid == 0
    assert stat.S_IMODE(env_file.stat().st_mode) & 0o077 == 0
    probe = subprocess.run(as_user(attacker, SYSTEM_PYTHON, "-c", "import os,sys; sys.exit(os.access(sys.argv[1], os.X_OK))",
                                   str(directory)), check=False)
    assert probe.returncode == 0, "another user can enter %s" % directory


def test_a_newline_in_the_service_environment_never_becomes_a_unit_directive(base):
    value = "1\nUser=root\nExecStartPre=/bin/touch %s" % (base / "pwned")
    output = run_play(base, CONFIGURE, configure_vars(base, bifrost_service_environment={"EXTRA": value}))
    unit = base / "bifrost.service"
    env_file = base / "etc-bifrost" / "bifrost.env"
    if unit.exists():
        lines = unit.read_text().splitlines()
        assert [line for line in lines if line.startswith("User=")] == ["User=nobody"]
        assert not [line for line in lines if line.startswith("ExecStartPre")]
    if env_file.exists():
        assert not [line for line in env_file.read_text().splitlines() if line.startswith(("User=", "ExecStartPre"))]
    assert unit.exists() or "bifrost_service_environment.EXTRA" in output, output[-3000:]
    assert "bifrost_service_environment.EXTRA must not contain line breaks" in output, output[-3000:]


def test_a_percent_in_the_service_environment_reaches_the_service_verbatim(base):
    run_play(base, CONFIGURE, configure_vars(base, bifrost_service_environment={"GODEBUG": "x=50%done"}))
    unit = (base / "bifrost.service").read_text()
    env_file = (base / "etc-bifrost" / "bifrost.env").read_text()
    in_env_file = 'GODEBUG="x=50%done"' in env_file.splitlines()
    in_unit_escaped = 'Environment="GODEBUG=x=50%%done"' in unit.splitlines()
    assert in_env_file or in_unit_escaped, unit + env_file.replace(SECRET_PASSWORD, "***")
    assert "GODEBUG=x=50%done" not in unit, "systemd would drop this line (an unknown specifier)"


# ---- tags never skip safety ------------------------------------------------------------------------------------------

DOCUMENTED_TAGS = ["bifrost", "bifrost_install", "install", "bifrost_configure", "configure", "bifrost_run"]
SAFETY = ["Check the inventory, resolve the version and credentials",  # preflight.yml (guards)
          "Check that bifrost is healthy and serves every configured virtual key"]  # verify.yml (health, contract)


@pytest.mark.parametrize("tag", DOCUMENTED_TAGS)
def test_every_documented_tag_keeps_the_preflight_health_gate_and_contract_check(base, tag):
    (base / "inventory").write_text("localhost ansible_connection=local\n")
    (base / "play.yml").write_text(yaml.safe_dump([{"name": "Tags", "hosts": "localhost", "gather_facts": False,
                                                    "roles": [{"role": "aigateway.bifrost.bifrost"}]}]))
    listing = subprocess.run(["ansible-playbook", "-i", str(base / "inventory"), str(base / "play.yml"), "--list-tasks",
                              "--tags", tag], cwd=base, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=300, check=False).stdout
    for task in SAFETY:
        assert task in listing, listing
    role = Path(__file__).resolve().parents[3] / "roles" / "bifrost" / "tasks"
    for included in ("health.yml", "contract.yml"):  # what verify.yml includes also runs under any tag
        assert "file: %s\n    apply:\n      tags: [always]\n  tags: [always]" % included in (role / "verify.yml").read_text()
    assert "apply:\n      tags: [always]\n  tags: [always]" in (role / "main.yml").read_text().split("file: preflight.yml")[1]
    assert "`%s`" % tag in (role.parent / "README.md").read_text(), "the tag is documented in the role's README"


# ---- the contract check (tasks/contract.yml) against a small gateway double in this process ---------------------------

VK_GOOD = "sk-bf-test-FAKE-good-0123456789abcdefghij"
VK_LOST = "sk-bf-test-FAKE-lost-0123456789abcdefghij"


class Gateway(http.server.BaseHTTPRequestHandler):
    """Accepts the keys in server.known on GET /anthropic/v1/models; answers MCP initialize on POST /mcp."""

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def key(self):
        scheme, _sep, token = self.headers.get("Authorization", "").partition(" ")
        return token if scheme == "Bearer" else ""

    def do_GET(self):  # noqa: N802 - the stdlib's name
        self.server.seen.append(self.key())
        if self.path != "/anthropic/v1/models":
            self.answer(404, {})
        elif self.server.accept_all or self.key() in self.server.known:
            self.answer(200, {"data": [], "has_more": False})
        else:
            self.answer(401, {"type": "error", "error": {"type": "authentication_error"}})

    def do_POST(self):  # noqa: N802 - the stdlib's name
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        if self.path == "/mcp" and self.key() in self.server.known and request.get("method") == "initialize":
            self.answer(200, {"jsonrpc": "2.0", "id": request.get("id"), "result": {"protocolVersion": "2025-06-18"}})
        else:
            self.answer(401, {})

    def log_message(self, *args):
        pass


@pytest.fixture
def gateway():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    server.known, server.accept_all, server.seen = {VK_GOOD}, False, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def contract(base, gateway, keys, mcp_clients=()):
    variables = {"bifrost_health_url": "http://127.0.0.1:%d/health" % gateway.server_address[1],
                 "bifrost_mcp_clients": list(mcp_clients), "__bifrost_virtual_key_values": keys}
    return run_play(base, [{"name": "Contract", "ansible.builtin.include_role": {
        "name": "aigateway.bifrost.bifrost", "tasks_from": "contract.yml"}}], variables)


def test_contract_names_the_keys_the_gateway_refuses_and_never_shows_a_key(base, gateway):
    output = contract(base, gateway, {"alice": VK_GOOD, "bob": VK_LOST})
    assert "virtual keys refused on /anthropic/v1/models: bob" in output, output[-3000:]
    assert "alice" not in output.split("virtual keys refused")[1].split("\n")[0]
    assert VK_GOOD not in output and VK_LOST not in output
    assert VK_GOOD in gateway.seen and VK_LOST in gateway.seen, "each key was presented as a Bearer token"
    assert [k for k in gateway.seen if k not in (VK_GOOD, VK_LOST)] == \
        ["sk-bf-aigateway-contract-check-not-a-configured-key"], "and one key the gateway cannot know"


def test_contract_fails_when_the_gateway_accepts_any_key(base, gateway):
    gateway.accept_all = True
    output = contract(base, gateway, {"alice": VK_GOOD})
    assert "a virtual key the gateway does not know was not refused (HTTP 200)" in output, output[-3000:]


def test_contract_passes_and_checks_mcp_when_clients_are_configured(base, gateway):
    output = contract(base, gateway, {"alice": VK_GOOD}, [{"name": "docs", "connection_type": "http"}])
    assert "failed=0" in output and "does not serve its users" not in output, output[-3000:]
    gateway.known = set()  # now every key, and so /mcp, is refused
    output = contract(base, gateway, {"alice": VK_GOOD}, [{"name": "docs", "connection_type": "http"}])
    assert "/mcp did not answer an MCP initialize (HTTP 401)" in output and VK_GOOD not in output, output[-3000:]


def test_two_nodes_of_one_play_on_one_postgres_store_are_refused_before_anything_is_written(base):
    # Two inventory hosts (both this machine), one PostgreSQL config store: the guard reads the other host's store
    # through hostvars and refuses both before any write.
    variables = role_vars(base, bifrost_config_store="postgres", bifrost_postgres_password="pw-FAKE",
                          bifrost_postgres={"host": "db.example.internal", "port": "5432", "db_name": "bifrost"})
    (base / "inventory").write_text("".join("%s ansible_connection=local ansible_python_interpreter=%s\n"
                                            % (name, sys.executable) for name in ("gw1", "gw2")))
    (base / "play.yml").write_text(yaml.safe_dump([{
        "name": "Two gateway nodes", "hosts": "all", "gather_facts": False,
        "tasks": [{"name": "Run the role", "ansible.builtin.include_role": {"name": "aigateway.bifrost.bifrost"}}]}]))
    (base / "vars.json").write_text(json.dumps(variables))
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0")
    output = subprocess.run(["ansible-playbook", "-i", str(base / "inventory"), str(base / "play.yml"),
                             "-e", "@" + str(base / "vars.json")], cwd=base, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, timeout=600, check=False).stdout
    assert "gw1 shares the PostgreSQL config store db.example.internal:5432/bifrost with gw2" in output, output[-3000:]
    assert "bifrost_shared_store_acknowledged" in output
    for written in ("app", "etc-bifrost", "lib", "credentials"):
        assert not (base / written).exists(), "%s was written before the guard refused" % written
