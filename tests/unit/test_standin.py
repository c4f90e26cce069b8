# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the Bifrost stand-in (tests/bifrost_standin/bifrost-http) and the fake upstream provider.

Both run as subprocesses on 127.0.0.1 with free ports and temporary app dirs; requests go through http.client.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

STANDIN_DIR = Path(__file__).resolve().parents[1] / "bifrost_standin"
STANDIN = STANDIN_DIR / "bifrost-http"
FAKE_PROVIDER = STANDIN_DIR / "fake_provider.py"

# Secrets of the main configuration: none of them may ever show up in API answers, logs or the request log.
ANTHROPIC_KEY = "sk-ant-standin-test-provider-key-0001"
BEDROCK_KEY = "bedrock-standin-test-provider-key-0002"
OPENAI_KEY = "sk-openai-standin-test-provider-key-0003"
ADMIN_USER = "gwadmin"
ADMIN_PASSWORD = "Admin-Password-Standin-0004"
MCP_HEADER_SECRET = "mcp-header-secret-0005"
VK_ALICE = "sk-bf-alice000000000000000000000000000000001"
VK_BOB = "sk-bf-bob00000000000000000000000000000000002"
VK_PLAIN = "plain-virtual-key-without-prefix-0006"
VK_INACTIVE = "sk-bf-inactive000000000000000000000000000003"
SECRETS = (ANTHROPIC_KEY, BEDROCK_KEY, OPENAI_KEY, ADMIN_PASSWORD, MCP_HEADER_SECRET, VK_ALICE, VK_BOB, VK_PLAIN, VK_INACTIVE)
SECRET_ENV = {
    "STANDIN_ANTHROPIC_KEY": ANTHROPIC_KEY, "STANDIN_BEDROCK_KEY": BEDROCK_KEY, "STANDIN_OPENAI_KEY": OPENAI_KEY,
    "STANDIN_ADMIN_USER": ADMIN_USER, "STANDIN_ADMIN_PASSWORD": ADMIN_PASSWORD, "STANDIN_MCP_SECRET": MCP_HEADER_SECRET,
    "STANDIN_VK_ALICE": VK_ALICE, "STANDIN_VK_BOB": VK_BOB,
}
FAKE_REPLY = "hello from the fake provider"
SSE_SEQUENCE = ["message_start", "content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sha256_prefix(value):
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


ADMIN = {"Authorization": basic(ADMIN_USER, ADMIN_PASSWORD)}


class Reply:
    """Status, lower-cased headers and body of one answer."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.text = body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)


def call(port, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    all_headers = {"Content-Type": "application/json"} if data is not None else {}
    all_headers.update(headers or {})
    try:
        connection.request(method, path, body=data, headers=all_headers)
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


def sse_events(text):
    """[(event, data)] of an SSE body."""
    events = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def streamed_text(events):
    return "".join(data["delta"]["text"] for name, data in events if name == "content_block_delta")


class Process:
    """A server subprocess whose stderr goes to a file (no pipe to fill up)."""

    def __init__(self, argv, stderr_path, env=None):
        self.stderr_path = stderr_path
        with open(stderr_path, "wb") as stderr:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr, env=env)

    def wait_listening(self, port, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("server exited with %s: %s" % (self.proc.returncode, self.stderr()))
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("server did not listen on port %d: %s" % (port, self.stderr()))

    def stderr(self):
        return Path(self.stderr_path).read_text(encoding="utf-8", errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Standin(Process):
    """A running stand-in with its app dir and port."""

    def __init__(self, app_dir, config=None, env=None, extra_args=(), executable=STANDIN):
        self.app_dir = Path(app_dir)
        self.app_dir.mkdir(parents=True, exist_ok=True)
        if config is not None:
            (self.app_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
        self.port = free_port()
        argv = [str(executable), "-app-dir", str(self.app_dir), "-host", "127.0.0.1", "-port", str(self.port)] + list(extra_args)
        super().__init__(argv, self.app_dir / "stderr.log", env=dict(os.environ, **(env or {})))
        self.wait_listening(self.port)

    def call(self, method, path, body=None, headers=None):
        return call(self.port, method, path, body, headers)

    def requests_log(self, at_least=0, timeout=10.0):
        """The log's text and entries, once it holds at least `at_least` entries and has stopped growing.

        The stand-in writes a request's line after it has answered (as a gateway logs asynchronously), so a client
        can read the log before the line of its last request is there, and two quick requests may log out of order.
        """
        deadline = time.monotonic() + timeout
        previous = None
        while True:
            path = self.app_dir / "requests.log"
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            if (text == previous and text.count("\n") >= at_least) or time.monotonic() > deadline:
                return text, [json.loads(line) for line in text.splitlines()]
            previous = text
            time.sleep(0.2)


class FakeProviderProcess(Process):
    """The fake upstream provider with its port and arrivals file."""

    def __init__(self, argv, stderr_path, port, arrivals):
        super().__init__(argv, stderr_path)
        self.port = port
        self.arrivals = arrivals


def run_standin(app_dir, config, env=None, extra_args=()):
    """Run the stand-in expecting it to exit on its own (bad flags or config); returns CompletedProcess."""
    app_dir.mkdir(parents=True, exist_ok=True)
    if config is not None:
        (app_dir / "config.json").write_text(json.dumps(config), encoding="utf-8")
    argv = [str(STANDIN), "-app-dir", str(app_dir), "-host", "127.0.0.1", "-port", str(free_port())] + list(extra_args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=15, env=dict(os.environ, **(env or {})), check=False)


@pytest.fixture(scope="module")
def fake_provider(tmp_path_factory):
    work = tmp_path_factory.mktemp("fake-provider")
    port = free_port()
    arrivals = work / "arrivals.jsonl"
    argv = [sys.executable, str(FAKE_PROVIDER), "--host", "127.0.0.1", "--port", str(port), "--log", str(arrivals), "--reply", FAKE_REPLY]
    process = FakeProviderProcess(argv, work / "stderr.log", port, arrivals)
    process.wait_listening(port)
    yield process
    assert process.stop() == 0


def arrivals_after(fake_provider, count_before):
    lines = fake_provider.arrivals.read_text(encoding="utf-8").splitlines() if fake_provider.arrivals.exists() else []
    return [json.loads(line) for line in lines[count_before:]]


def arrival_count(fake_provider):
    return len(arrivals_after(fake_provider, 0))


def main_config(tmp_path, fake_port):
    pricing = tmp_path / "pricing.json"
    pricing.write_text("{}", encoding="utf-8")
    parameters = tmp_path / "model-parameters.json"
    parameters.write_text("[]", encoding="utf-8")
    fake_url = "http://127.0.0.1:%d" % fake_port
    return {
        "$schema": "https://www.getbifrost.ai/schema",
        "version": 2,
        "client": {"allowed_origins": ["https://app.example.com", "https://*.corp.example"],
                   "allowed_headers": ["anthropic-version", "x-stainless-*"], "enforce_auth_on_inference": True},
        "providers": {
            "anthropic": {"keys": [{"name": "anthropic-main", "value": "env.STANDIN_ANTHROPIC_KEY", "models": ["*"], "weight": 1.0}]},
            "bedrock": {"keys": [{"name": "bedrock-main", "value": "env.STANDIN_BEDROCK_KEY", "models": ["*"], "weight": 1}],
                        "network_config": {"base_url": fake_url}},
            "openai": {"keys": [{"name": "openai-main", "value": "env.STANDIN_OPENAI_KEY", "models": ["gpt-5.5"], "weight": 1}],
                       "network_config": {"base_url": fake_url + "/"}},
        },
        "governance": {
            "virtual_keys": [
                {"id": "vk-alice", "name": "alice", "value": "env.STANDIN_VK_ALICE",
                 "provider_configs": [{"provider": "anthropic", "allowed_models": ["*"]}, {"provider": "bedrock", "allowed_models": ["*"]},
                                      {"provider": "openai", "allowed_models": ["*"]}]},
                {"id": "vk-bob", "name": "bob", "value": "env.STANDIN_VK_BOB",
                 "provider_configs": [{"provider": "anthropic", "allowed_models": ["claude-haiku-4-5"]}]},
                {"id": "vk-plain", "name": "plain", "value": VK_PLAIN, "provider_configs": [{"provider": "anthropic", "allowed_models": ["*"]}]},
                {"id": "vk-inactive", "name": "inactive", "value": VK_INACTIVE, "is_active": False,
                 "provider_configs": [{"provider": "anthropic", "allowed_models": ["*"]}]},
            ],
            "auth_config": {"is_enabled": True, "admin_username": "env.STANDIN_ADMIN_USER", "admin_password": "env.STANDIN_ADMIN_PASSWORD",
                            "disable_auth_on_inference": True},
        },
        "mcp": {"client_configs": [{"name": "docs", "connection_type": "http", "connection_string": "http://127.0.0.1:9/mcp",
                                    "headers": {"Authorization": "env.STANDIN_MCP_SECRET"}}]},
        "config_store": {"enabled": True, "type": "sqlite", "config": {"path": str(tmp_path / "config.db")}},
        "logs_store": {"enabled": True, "type": "sqlite", "config": {"path": str(tmp_path / "logs.db")}},
        "framework": {"pricing": {"pricing_url": pricing.as_uri(), "model_parameters_url": parameters.as_uri(),
                                  "mcp_library_url": "https://example.invalid/never-fetched"}},
    }


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, fake_provider):
    work = tmp_path_factory.mktemp("gateway")
    standin = Standin(work / "app", main_config(work, fake_provider.port), env=SECRET_ENV)
    yield standin
    assert standin.stop() == 0
    output = standin.stderr()
    assert "successfully started bifrost" in output
    for secret in SECRETS:
        assert secret not in output
    text = standin.requests_log()[0]
    for secret in SECRETS:
        assert secret not in text


# ---------------------------------------------------------------- command line and startup


def test_help_says_it_is_a_stand_in():
    result = subprocess.run([str(STANDIN), "-h"], capture_output=True, text=True, timeout=15, check=False)
    assert result.returncode == 0
    first_line = result.stdout.splitlines()[0]
    assert "TEST STAND-IN" in first_line and "NOT Bifrost" in first_line
    for flag in ("-app-dir", "-host", "-port", "-log-level", "-log-style"):
        assert flag in result.stdout
    assert os.access(STANDIN, os.X_OK)


@pytest.mark.parametrize("args, message", [
    (["-bogus"], "flag provided but not defined: -bogus"),
    (["-port"], "flag needs an argument: -port"),
    (["-port", "http"], "invalid value"),
    (["-log-style", "xml"], "invalid -log-style"),
])
def test_bad_flags_exit_2(args, message):
    result = subprocess.run([str(STANDIN)] + args, capture_output=True, text=True, timeout=15, check=False)
    assert result.returncode == 2
    assert message in result.stderr


def test_flag_forms_pretty_log_and_defaults_without_config(tmp_path):
    """--flag and -flag=value forms; no config.json means defaults: no inference auth, no admin auth."""
    port = free_port()
    app_dir = tmp_path / "app"
    argv = [str(STANDIN), "--app-dir", str(app_dir), "-host=127.0.0.1", "--port=%d" % port, "-log-style", "pretty", "-log-level=debug"]
    process = Process(argv, tmp_path / "stderr.log")
    try:
        process.wait_listening(port)
        assert call(port, "GET", "/health").status == 200
        reply = call(port, "POST", "/anthropic/v1/messages", {"model": "claude-sonnet-4-6", "max_tokens": 5, "messages": []})
        assert reply.status == 200
        assert reply.json()["content"][0]["text"] == "stand-in reply via anthropic/claude-sonnet-4-6"
        assert call(port, "GET", "/api/providers").status == 200
    finally:
        assert process.stop() == 0
    output = process.stderr()
    assert "successfully started bifrost" in output
    assert not output.lstrip().startswith("{")  # pretty, not JSON
    assert (app_dir / "requests.log").exists()


def test_missing_env_var_fails_naming_var_and_key_path(tmp_path):
    config = {"providers": {"anthropic": {"keys": [{"name": "k", "value": "env.STANDIN_NOT_SET_ANYWHERE", "weight": 1, "models": ["*"]}]}},
              "governance": {"auth_config": {"is_enabled": True, "admin_username": "admin", "admin_password": "env.STANDIN_PRESENT"}}}
    result = run_standin(tmp_path, config, env={"STANDIN_PRESENT": ADMIN_PASSWORD})
    assert result.returncode == 1
    assert "environment variable STANDIN_NOT_SET_ANYWHERE referenced at providers.anthropic.keys[0].value is not set" in result.stderr
    assert "successfully started" not in result.stderr
    assert ADMIN_PASSWORD not in result.stderr + result.stdout


@pytest.mark.parametrize("config, key_path", [
    ({"providers": {"anthropic": {"keys": [{"name": "k", "weight": "1"}]}}}, "providers.anthropic.keys[0].weight"),
    ({"providers": {"anthropic": {"keys": [{"weight": 1}]}}}, "providers.anthropic.keys[0].name"),
    ({"governance": {"virtual_keys": [{"name": "no-id"}]}}, "governance.virtual_keys[0].id"),
    ({"client": {"allowed_origins": ["*", 3]}}, "client.allowed_origins[1]"),
    ({"config_store": {"enabled": True, "type": "mysql"}}, "config_store.type"),
])
def test_type_errors_exit_1_naming_key_path(tmp_path, config, key_path):
    result = run_standin(tmp_path, config)
    assert result.returncode == 1
    assert "config.json cannot be read: %s:" % key_path in result.stderr


def test_invalid_json_exits_1(tmp_path):
    (tmp_path / "config.json").write_text("{not json", encoding="utf-8")
    result = run_standin(tmp_path, None)
    assert result.returncode == 1
    assert "config.json is not valid JSON" in result.stderr


@pytest.mark.parametrize("content", [None, "not json"])
def test_file_datasheet_missing_or_broken_exits_1(tmp_path, content):
    datasheet = tmp_path / "pricing.json"
    if content is not None:
        datasheet.write_text(content, encoding="utf-8")
    parameters = tmp_path / "parameters.json"
    parameters.write_text("[]", encoding="utf-8")
    config = {"framework": {"pricing": {"pricing_url": datasheet.as_uri(), "model_parameters_url": parameters.as_uri()}}}
    result = run_standin(tmp_path / "app", config)
    assert result.returncode == 1
    assert "framework.pricing.pricing_url" in result.stderr


def test_migrate_only_checks_config_and_exits_0(tmp_path):
    result = run_standin(tmp_path, {"version": 2, "config_store": {"enabled": False}}, extra_args=["-migrate-only"])
    assert result.returncode == 0, result.stderr


def test_broken_variant_never_healthy_and_new_version(tmp_path):
    """Tests make a new (and a broken) version by rewriting the VERSION and BROKEN lines."""
    source = STANDIN.read_text(encoding="utf-8")
    assert '\nVERSION = "v2.2.5-standin"\n' in source and "\nBROKEN = False\n" in source
    broken = tmp_path / "bifrost-http"
    broken.write_text(source.replace('\nVERSION = "v2.2.5-standin"\n', '\nVERSION = "v2.3.0-standin"\n')
                      .replace("\nBROKEN = False\n", "\nBROKEN = True\n"), encoding="utf-8")
    broken.chmod(0o755)
    standin = Standin(tmp_path / "app", {}, executable=broken)
    try:
        assert standin.call("GET", "/health").status == 503
        assert standin.call("GET", "/health").status == 503
        assert standin.call("GET", "/api/version").json() == "v2.3.0-standin"
    finally:
        assert standin.stop() == 0


def test_sigterm_exits_0_and_port_is_exact(tmp_path):
    standin = Standin(tmp_path / "app", {})
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", standin.port + 1 if standin.port < 65535 else standin.port - 1), timeout=1).close()
    started = time.monotonic()
    assert standin.stop() == 0
    assert time.monotonic() - started < 5


def test_admin_auth_on_inference_when_not_disabled_and_whitelisted_metrics(tmp_path):
    config = {"client": {"whitelisted_routes": ["/metrics"]},
              "config_store": {"enabled": True, "type": "sqlite", "config": {"path": str(tmp_path / "config.db")}},
              "governance": {"auth_config": {"is_enabled": True, "admin_username": "a", "admin_password": "b",
                                             "disable_auth_on_inference": False}}}
    standin = Standin(tmp_path / "app", config)
    try:
        assert standin.call("GET", "/metrics").status == 200  # whitelisted
        assert standin.call("GET", "/api/providers").status == 401
        body = {"model": "claude-sonnet-4-6", "messages": []}
        assert standin.call("POST", "/anthropic/v1/messages", body).status == 401
        assert standin.call("POST", "/anthropic/v1/messages", body, {"Authorization": basic("a", "b")}).status == 200
        encoded_bearer = "Bearer " + base64.b64encode(b"a:b").decode()
        assert standin.call("POST", "/anthropic/v1/messages", body, {"Authorization": encoded_bearer}).status == 200
    finally:
        standin.stop()


# ---------------------------------------------------------------- health, admin auth, read-only API


def test_health_is_open(gateway):
    reply = gateway.call("GET", "/health")
    assert reply.status == 200
    assert reply.json()["status"] == "ok"
    assert reply.json()["components"]["config_store"] == "ok"
    assert gateway.call("GET", "/api/version").json() == "v2.2.5-standin"


@pytest.mark.parametrize("path", ["/api/providers", "/api/governance/virtual-keys", "/api/mcp/clients", "/api/config", "/metrics"])
def test_admin_routes_need_auth(gateway, path):
    assert gateway.call("GET", path).status == 401
    assert gateway.call("GET", path, headers={"Authorization": basic(ADMIN_USER, "wrong")}).status == 401
    assert gateway.call("GET", path, headers={"Authorization": "Bearer " + VK_ALICE}).status == 401
    assert gateway.call("GET", path, headers=ADMIN).status == 200


def test_session_login_token(gateway):
    assert gateway.call("GET", "/api/session/is-auth-enabled").json()["is_auth_enabled"] is True
    assert gateway.call("POST", "/api/session/login", {"username": ADMIN_USER, "password": "nope"}).status == 401
    reply = gateway.call("POST", "/api/session/login", {"username": ADMIN_USER, "password": ADMIN_PASSWORD})
    assert reply.status == 200
    token = reply.json()["token"]
    assert gateway.call("GET", "/api/providers", headers={"Authorization": "Bearer " + token}).status == 200
    assert gateway.call("GET", "/api/providers", headers={"Authorization": "Bearer not-a-session"}).status == 401


def test_read_only_api_lists_names_and_hides_secrets(gateway):
    providers = gateway.call("GET", "/api/providers", headers=ADMIN)
    names = {p["name"]: p for p in providers.json()["providers"]}
    assert set(names) == {"anthropic", "bedrock", "openai"}
    assert providers.json()["total"] == 3
    assert names["anthropic"]["keys"][0]["name"] == "anthropic-main"
    assert names["anthropic"]["keys"][0]["value"]["env_var"] == "STANDIN_ANTHROPIC_KEY"
    assert names["openai"]["models"] == ["gpt-5.5"]
    single = gateway.call("GET", "/api/providers/bedrock", headers=ADMIN)
    assert single.json()["network_config"]["base_url"].startswith("http://127.0.0.1:")
    assert gateway.call("GET", "/api/providers/nope", headers=ADMIN).status == 404
    keys = gateway.call("GET", "/api/governance/virtual-keys", headers=ADMIN).json()
    assert [vk["name"] for vk in keys["virtual_keys"]] == ["alice", "bob", "plain", "inactive"]
    assert keys["virtual_keys"][3]["is_active"] is False
    clients = gateway.call("GET", "/api/mcp/clients", headers=ADMIN).json()
    assert clients[0]["config"]["name"] == "docs"
    config = gateway.call("GET", "/api/config", headers=ADMIN).json()
    assert config["auth_config"]["is_enabled"] is True
    assert config["client_config"]["enforce_auth_on_inference"] is True
    everything = "".join(gateway.call("GET", path, headers=ADMIN).text for path in (
        "/api/providers", "/api/providers/anthropic", "/api/governance/virtual-keys", "/api/governance/virtual-keys/vk-alice",
        "/api/mcp/clients", "/api/config"))
    for secret in SECRETS:
        assert secret not in everything


@pytest.mark.parametrize("method, path", [("POST", "/api/providers"), ("PUT", "/api/config"), ("DELETE", "/api/providers/anthropic")])
def test_write_methods_refused(gateway, method, path):
    reply = gateway.call(method, path, {}, headers=ADMIN)
    assert reply.status == 405
    assert "read-only" in reply.json()["error"]["message"]


# ---------------------------------------------------------------- Anthropic messages


MESSAGE = {"model": "claude-sonnet-4-6", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}


def test_messages_non_streaming(gateway):
    reply = gateway.call("POST", "/anthropic/v1/messages?beta=true", MESSAGE, {"Authorization": "Bearer " + VK_ALICE})
    assert reply.status == 200
    message = reply.json()
    assert message["type"] == "message" and message["role"] == "assistant" and message["stop_reason"] == "end_turn"
    assert message["content"] == [{"type": "text", "text": "stand-in reply via anthropic/claude-sonnet-4-6"}]
    assert message["model"] == "claude-sonnet-4-6"
    assert message["usage"]["input_tokens"] > 0


def test_messages_streaming_sse(gateway):
    reply = gateway.call("POST", "/anthropic/v1/messages?beta=true", dict(MESSAGE, stream=True), {"Authorization": "Bearer " + VK_ALICE})
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    events = sse_events(reply.text)
    assert [name for name, _data in events if name != "ping"] == SSE_SEQUENCE
    assert all(data["type"] == name for name, data in events)
    assert streamed_text(events) == "stand-in reply via anthropic/claude-sonnet-4-6"


@pytest.mark.parametrize("headers", [
    {"Authorization": "Bearer " + VK_ALICE},
    {"x-api-key": VK_ALICE},
    {"x-bf-vk": VK_ALICE},
    {"x-goog-api-key": VK_ALICE},
])
def test_virtual_key_headers(gateway, headers):
    assert gateway.call("POST", "/anthropic/v1/messages", MESSAGE, headers).status == 200


@pytest.mark.parametrize("headers, status, bifrost_type, anthropic_type, message", [
    ({}, 401, "virtual_key_required", "authentication_error", "virtual key is missing in headers and is mandatory."),
    ({"Authorization": "Bearer sk-bf-unknown0000000000000000000000000000000"}, 403, "virtual_key_not_found", "permission_error",
     "Virtual key not found"),
    ({"x-api-key": "sk-bf-unknown0000000000000000000000000000000"}, 403, "virtual_key_not_found", "permission_error", "Virtual key not found"),
    ({"x-bf-vk": VK_INACTIVE}, 403, "virtual_key_blocked", "permission_error", "Virtual key is inactive"),
    # an unprefixed value is no virtual key in any header (upstream parseVirtualKeyFromHTTPRequest)
    ({"x-bf-vk": "unknown-key"}, 401, "virtual_key_required", "authentication_error", "mandatory"),
    ({"Authorization": "Bearer " + VK_PLAIN}, 401, "virtual_key_required", "authentication_error", "mandatory"),
    # x-bf-virtual-key is not a header upstream reads
    ({"x-bf-virtual-key": VK_ALICE}, 401, "virtual_key_required", "authentication_error", "mandatory"),
])
def test_refused_keys_as_upstream_governance(gateway, headers, status, bifrost_type, anthropic_type, message):
    """Fidelity: missing key 401 virtual_key_required, unknown/inactive key 403 (plugins/governance main.go + resolver.go)."""
    reply = gateway.call("POST", "/anthropic/v1/messages", MESSAGE, headers)
    assert reply.status == status
    body = reply.json()
    assert body["type"] == "error" and body["error"]["type"] == anthropic_type
    assert message in body["error"]["message"]
    assert reply.headers["x-should-retry"] == "false"  # Anthropic SDK clients give up at once instead of retrying
    models = gateway.call("GET", "/anthropic/v1/models", headers=headers)  # the zero-cost key check refuses alike
    assert (models.status, models.json()["error"]["type"]) == (status, anthropic_type)
    chat = gateway.call("POST", "/v1/chat/completions", CHAT, headers)
    assert (chat.status, chat.json()["error"]["type"]) == (status, bifrost_type)


def test_allowed_models_enforced(gateway):
    bob = {"x-api-key": VK_BOB}
    denied = gateway.call("POST", "/anthropic/v1/messages", MESSAGE, bob)
    assert denied.status == 403
    assert "claude-sonnet-4-6" in denied.json()["error"]["message"]
    assert gateway.call("POST", "/anthropic/v1/messages", dict(MESSAGE, model="anthropic/claude-haiku-4-5"), bob).status == 200
    assert gateway.call("POST", "/anthropic/v1/messages", dict(MESSAGE, model="bedrock/claude-haiku-4-5"), bob).status == 403


def test_count_tokens_and_models(gateway):
    auth = {"x-api-key": VK_ALICE}
    assert gateway.call("POST", "/anthropic/v1/messages/count_tokens", MESSAGE, auth).json()["input_tokens"] > 0
    models = gateway.call("GET", "/anthropic/v1/models", headers=auth).json()
    assert [m["id"] for m in models["data"]] == ["gpt-5.5"]
    assert gateway.call("GET", "/anthropic/v1/models").status == 401
    assert gateway.call("GET", "/anthropic/v1/models", headers={"x-api-key": VK_BOB}).json()["data"] == []  # bob: anthropic only


@pytest.mark.parametrize("stream", [False, True])
def test_forwarding_to_provider_base_url(gateway, fake_provider, stream):
    before = arrival_count(fake_provider)
    body = dict(MESSAGE, model="bedrock/global.anthropic.claude-sonnet-4-6", stream=stream)
    reply = gateway.call("POST", "/anthropic/v1/messages?beta=true", body, {"Authorization": "Bearer " + VK_ALICE})
    assert reply.status == 200
    if stream:
        events = sse_events(reply.text)
        assert [name for name, _data in events] == SSE_SEQUENCE
        assert streamed_text(events) == FAKE_REPLY
    else:
        assert reply.json()["content"][0]["text"] == FAKE_REPLY
        assert reply.json()["model"] == "global.anthropic.claude-sonnet-4-6"
    arrivals = arrivals_after(fake_provider, before)
    assert len(arrivals) == 1
    arrival = arrivals[0]
    assert arrival["path"] == "/v1/messages"
    assert arrival["model"] == "global.anthropic.claude-sonnet-4-6"
    assert arrival["stream"] is stream
    assert arrival["x_api_key_sha256"] == sha256_prefix(BEDROCK_KEY)
    assert arrival["authorization"] is False  # the virtual key never travels upstream


def test_unreachable_provider_is_502(tmp_path):
    config = {"providers": {"anthropic": {"keys": [{"name": "k", "value": "x", "weight": 1, "models": ["*"]}],
                                          "network_config": {"base_url": "http://127.0.0.1:%d" % free_port()}}}}
    standin = Standin(tmp_path / "app", config)
    try:
        reply = standin.call("POST", "/anthropic/v1/messages", MESSAGE)
        assert reply.status == 502
        assert reply.json()["type"] == "error"
    finally:
        standin.stop()


# ---------------------------------------------------------------- OpenAI-style chat completions


CHAT = {"model": "anthropic/claude-sonnet-4-6", "messages": [{"role": "user", "content": "hi"}]}


def test_chat_completions_answered_by_stand_in(gateway):
    reply = gateway.call("POST", "/v1/chat/completions", CHAT, {"Authorization": "Bearer " + VK_ALICE})
    assert reply.status == 200
    assert reply.json()["choices"][0]["message"]["content"] == "stand-in reply via anthropic/claude-sonnet-4-6"
    streamed = gateway.call("POST", "/openai/v1/chat/completions", dict(CHAT, stream=True), {"x-bf-vk": VK_ALICE})
    assert streamed.status == 200
    assert streamed.text.rstrip().endswith("data: [DONE]")


def test_chat_completions_forwarded(gateway, fake_provider):
    before = arrival_count(fake_provider)
    reply = gateway.call("POST", "/v1/chat/completions", dict(CHAT, model="openai/gpt-5.5"), {"x-api-key": VK_ALICE})
    assert reply.status == 200
    assert reply.json()["choices"][0]["message"]["content"] == FAKE_REPLY
    arrival = arrivals_after(fake_provider, before)[0]
    assert arrival["path"] == "/v1/chat/completions" and arrival["model"] == "gpt-5.5"
    assert arrival["authorization_sha256"] == sha256_prefix(OPENAI_KEY)


def test_chat_completions_errors_openai_style(gateway):
    missing = gateway.call("POST", "/v1/chat/completions", CHAT)
    assert missing.status == 401
    assert missing.json()["error"]["type"] == "virtual_key_required" and missing.json()["error"]["message"]
    denied = gateway.call("POST", "/v1/chat/completions", CHAT, {"x-api-key": VK_BOB})
    assert denied.status == 403


# ---------------------------------------------------------------- MCP


def mcp(gateway, message, headers=None):
    all_headers = {"Accept": "application/json, text/event-stream", "Authorization": "Bearer " + VK_ALICE}
    all_headers.update(headers or {})
    return gateway.call("POST", "/mcp", message, all_headers)


def test_mcp_initialize_list_call(gateway):
    init = mcp(gateway, {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                         "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    assert init.status == 200
    assert init.headers["content-type"] == "application/json"
    assert init.json()["result"]["protocolVersion"] == "2025-11-25"
    assert init.json()["result"]["capabilities"] == {"tools": {"listChanged": False}}
    assert init.json()["result"]["serverInfo"]["name"] == "bifrost-standin"
    session = {"Mcp-Session-Id": init.headers["mcp-session-id"], "mcp-protocol-version": "2025-11-25"}
    notified = mcp(gateway, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    assert notified.status == 202 and notified.body == b""
    tools = mcp(gateway, {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, session).json()["result"]["tools"]
    assert [tool["name"] for tool in tools] == ["echo"]
    assert tools[0]["inputSchema"]["properties"]["text"]["type"] == "string"
    called = mcp(gateway, {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "ping 42"}}}, session)
    assert called.json() == {"jsonrpc": "2.0", "id": 3, "result": {"content": [{"type": "text", "text": "ping 42"}], "isError": False}}
    unknown = mcp(gateway, {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "rm", "arguments": {}}}, session)
    assert unknown.json()["error"]["code"] == -32602


@pytest.mark.parametrize("version", ["2025-06-18", "2025-03-26"])
def test_mcp_protocol_versions_echoed(gateway, version):
    init = mcp(gateway, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": version}})
    assert init.json()["result"]["protocolVersion"] == version


def test_mcp_auth_and_side_routes(gateway):
    ping = {"jsonrpc": "2.0", "id": 9, "method": "ping"}
    assert mcp(gateway, ping, {"Authorization": ""}).status == 401
    assert mcp(gateway, ping, {"Authorization": "Bearer sk-bf-wrong00000000000000000000000000000000"}).status == 403
    assert mcp(gateway, ping, {"Authorization": "", "x-bf-virtual-key": VK_ALICE}).status == 401
    assert mcp(gateway, ping, {"Authorization": "", "x-bf-vk": VK_ALICE}).status == 200
    assert gateway.call("GET", "/mcp", headers={"Authorization": "Bearer " + VK_ALICE}).status == 405
    for path in ("/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-authorization-server", "/register"):
        assert gateway.call("GET" if "well-known" in path else "POST", path, None).status == 404


# ---------------------------------------------------------------- CORS


def preflight(gateway, origin, request_headers="content-type"):
    return gateway.call("OPTIONS", "/anthropic/v1/messages", headers={
        "Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": request_headers})


@pytest.mark.parametrize("origin", ["https://app.example.com", "http://localhost:3000"])
def test_cors_preflight_allowed(gateway, origin):
    """Fidelity: an allowed (or localhost) origin gets 200 with the built-in headers plus client.allowed_headers."""
    reply = preflight(gateway, origin, "content-type, authorization, x-api-key, anthropic-version, x-stainless-retry-count")
    assert reply.status == 200
    assert reply.headers["access-control-allow-origin"] == origin
    allowed = [h.strip().lower() for h in reply.headers["access-control-allow-headers"].split(",")]
    for header in ("content-type", "authorization", "x-requested-with", "x-stainless-timeout", "x-api-key", "x-openai-agents-sdk",
                   "anthropic-version", "x-stainless-*"):
        assert header in allowed
    assert "x-stainless-retry-count" not in allowed  # "x-stainless-*" is a literal name, not a pattern
    assert "POST" in reply.headers["access-control-allow-methods"]


def test_cors_preflight_denied(gateway):
    assert preflight(gateway, "https://evil.example.org").status == 403
    assert preflight(gateway, "https://team.corp.example").status == 403  # "https://*.corp.example" is no pattern upstream


def test_cors_default_origins_are_everything_and_star_headers_echo(tmp_path):
    standin = Standin(tmp_path / "app", {"client": {"allowed_headers": ["*"]}, "config_store": {"enabled": False}})
    try:
        reply = preflight(standin, "https://anything.example.net", "x-custom-thing")
        assert reply.status == 200
        assert "x-custom-thing" in reply.headers["access-control-allow-headers"]
    finally:
        standin.stop()


def test_cors_on_actual_responses(gateway):
    assert gateway.call("GET", "/health", headers={"Origin": "https://app.example.com"}).headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in gateway.call("GET", "/health", headers={"Origin": "https://evil.example.org"}).headers


# ---------------------------------------------------------------- metrics and request log


def test_metrics_counters(gateway):
    gateway.call("POST", "/anthropic/v1/messages", MESSAGE, {"x-api-key": VK_ALICE})
    gateway.call("POST", "/anthropic/v1/messages", MESSAGE, {"x-api-key": VK_BOB})
    text = gateway.call("GET", "/metrics", headers=ADMIN).text
    assert 'bifrost_success_requests_total{model="claude-sonnet-4-6",provider="anthropic"}' in text
    assert 'bifrost_error_requests_total{model="claude-sonnet-4-6",provider="anthropic"}' in text


def test_request_log_has_names_never_keys(gateway):
    before = len(gateway.requests_log()[1])
    gateway.call("POST", "/anthropic/v1/messages?beta=true", MESSAGE, {"x-bf-vk": VK_ALICE})
    gateway.call("POST", "/anthropic/v1/messages", MESSAGE, {"x-api-key": "sk-bf-unknown0000000000000000000000000000000"})
    gateway.call("GET", "/api/providers", headers=ADMIN)
    text, entries = gateway.requests_log(at_least=before + 3)
    for entry in entries:
        assert set(entry) == {"time", "method", "path", "status", "virtual_key", "provider", "model"}
    mine = entries[before:]
    assert len(mine) == 3, mine
    by_status = {entry["status"]: entry for entry in mine if entry["path"] == "/anthropic/v1/messages"}
    assert {"method": "POST", "path": "/anthropic/v1/messages", "status": 200, "virtual_key": "alice", "provider": "anthropic",
            "model": "claude-sonnet-4-6"}.items() <= by_status[200].items()
    assert by_status[403]["virtual_key"] is None
    assert [entry["status"] for entry in mine if entry["path"] == "/api/providers"] == [200]
    for secret in SECRETS + ("sk-bf-unknown", basic(ADMIN_USER, ADMIN_PASSWORD)):
        assert secret not in text


# ---------------------------------------------------------------- fidelity to the real gateway (FIDELITY.md)

STORE = {"config_store": {"enabled": True, "type": "sqlite"}}
AUTH_ON = {"auth_config": {"is_enabled": True, "admin_username": "a", "admin_password": "b", "disable_auth_on_inference": True}}
VK_CAROL = "sk-bf-carol00000000000000000000000000000000007"
ANTHROPIC_ALL = [{"provider": "anthropic", "allowed_models": ["*"]}]


def vk(ident, value):
    return {"id": ident, "name": ident, "value": value, "provider_configs": ANTHROPIC_ALL}


def key_works(standin, value):
    return standin.call("GET", "/anthropic/v1/models", headers={"x-api-key": value}).status == 200


def test_admin_auth_only_with_a_config_store(tmp_path):
    """Without a config store upstream skips the auth middleware: the admin API is open."""
    without = Standin(tmp_path / "a", {"config_store": {"enabled": False}, "governance": AUTH_ON})
    with_store = Standin(tmp_path / "b", dict(STORE, governance=AUTH_ON))
    try:
        assert without.call("GET", "/api/providers").status == 200
        assert "auth middleware requires config store" in without.stderr()
        assert with_store.call("GET", "/api/providers").status == 401
        assert with_store.call("GET", "/api/providers", headers={"Authorization": basic("a", "b")}).status == 200
    finally:
        without.stop()
        with_store.stop()


def test_unprefixed_operator_key_is_replaced_by_a_random_key(tmp_path):
    config = dict(STORE, client={"enforce_auth_on_inference": True},
                  governance={"virtual_keys": [vk("plain", VK_PLAIN), vk("alice", VK_ALICE)]})
    standin = Standin(tmp_path / "app", config)
    try:
        assert standin.call("GET", "/health").status == 200  # /health says nothing about it
        assert not key_works(standin, VK_PLAIN)
        assert standin.call("GET", "/anthropic/v1/models", headers={"x-bf-vk": VK_PLAIN}).status == 401
        assert key_works(standin, VK_ALICE)
        assert "replaced by a random key" in standin.stderr() and VK_PLAIN not in standin.stderr()
    finally:
        standin.stop()


def test_unresolved_env_virtual_key_is_skipped_and_the_gateway_starts(tmp_path):
    config = dict(STORE, governance={"virtual_keys": [vk("ghost", "env.STANDIN_NOT_SET_ANYWHERE"), vk("alice", VK_ALICE)]})
    standin = Standin(tmp_path / "app", config)
    try:
        assert key_works(standin, VK_ALICE)
        assert "STANDIN_NOT_SET_ANYWHERE" in standin.stderr() and "virtual key skipped" in standin.stderr()
        names = [key["name"] for key in standin.call("GET", "/api/governance/virtual-keys").json()["virtual_keys"]]
        assert names == ["alice"]
    finally:
        standin.stop()


def test_offline_cold_start_needs_both_datasheets_then_uses_the_store(tmp_path):
    pricing = tmp_path / "pricing.json"
    pricing.write_text("{}", encoding="utf-8")
    parameters = tmp_path / "parameters.json"
    only_one = dict(STORE, framework={"pricing": {"pricing_url": pricing.as_uri()}})
    result = run_standin(tmp_path / "app", only_one)
    assert result.returncode == 1
    assert "framework.pricing.model_parameters_url" in result.stderr
    parameters.write_text("[]", encoding="utf-8")
    both = dict(STORE, framework={"pricing": {"pricing_url": pricing.as_uri(), "model_parameters_url": parameters.as_uri()}})
    Standin(tmp_path / "app", both).stop()
    parameters.unlink()  # the store now holds the datasheets: a later start survives a failed sync
    standin = Standin(tmp_path / "app", both)
    try:
        assert standin.call("GET", "/health").status == 200
        assert "using the copy in the config store" in standin.stderr()
    finally:
        standin.stop()


def test_unknown_fields_have_no_effect(tmp_path):
    config = dict(STORE, bogus_section={"x": 1}, client={"enforce_auth_on_inference": True},
                  providers={"azure": {"keys": [{"name": "k", "value": "v", "weight": 1, "models": ["*"],
                                                 "azure_key_config": {"endpoint": "https://a.example", "deployments": {"m": "d"}}}]}},
                  governance={"virtual_keys": [vk("alice", VK_ALICE)]})
    standin = Standin(tmp_path / "app", config)
    try:
        assert key_works(standin, VK_ALICE)
        assert "bogus_section: unknown top-level key, ignored" in standin.stderr()
    finally:
        standin.stop()


def test_mcp_client_names_and_no_clients_without_a_store(tmp_path):
    clients = [{"name": name, "connection_type": "http", "connection_string": "http://127.0.0.1:9/mcp"}
               for name in ("docs_search", "_private", "docs-search", "two words", "1st", "café")]
    with_store = Standin(tmp_path / "a", dict(STORE, mcp={"client_configs": clients}))
    without = Standin(tmp_path / "b", {"config_store": {"enabled": False}, "mcp": {"client_configs": clients}})
    try:
        names = [client["config"]["name"] for client in with_store.call("GET", "/api/mcp/clients").json()]
        assert names == ["docs_search", "_private"]
        assert with_store.stderr().count("MCP client skipped: invalid name") == 4
        assert without.call("GET", "/api/mcp/clients").json() == []
        assert "MCP clients are not started without a config store" in without.stderr()
    finally:
        with_store.stop()
        without.stop()


def test_private_network_provider_needs_allow_private_network(tmp_path):
    """Refused before any connection (no test traffic leaves loopback); the allowed case is not exercised for that reason."""
    network = {"base_url": "http://10.255.255.1:9"}
    config = dict(STORE, providers={"anthropic": {"keys": [{"name": "k", "value": "v", "weight": 1, "models": ["*"]}],
                                                  "network_config": network}})
    standin = Standin(tmp_path / "app", config)
    try:
        reply = standin.call("POST", "/anthropic/v1/messages", MESSAGE)
        assert reply.status == 403
        assert "allow_private_network" in reply.json()["error"]["message"]
    finally:
        standin.stop()


def test_health_503_when_the_config_store_fails(tmp_path):
    standin = Standin(tmp_path / "app", STORE)
    try:
        assert standin.call("GET", "/health").status == 200
        (tmp_path / "app" / "config.db").write_bytes(b"this is not a database" * 100)
        reply = standin.call("GET", "/health")
        assert reply.status == 503
        assert reply.json()["components"]["config_store"].startswith("error")
    finally:
        standin.stop()


@pytest.mark.parametrize("source_of_truth, removed_key_works", [("config.json", False), ("split", True)])
def test_store_persists_and_is_reconciled_with_config_json(tmp_path, source_of_truth, removed_key_works):
    base = dict(STORE, source_of_truth=source_of_truth, client={"enforce_auth_on_inference": True})
    first = dict(base, governance={"virtual_keys": [vk("alice", VK_ALICE), vk("bob", VK_BOB), vk("plain", VK_PLAIN)]})
    standin = Standin(tmp_path / "app", first)
    standin.stop()
    assert (tmp_path / "app" / "config.db").stat().st_mode & 0o777 == 0o600
    # restart with bob removed and alice rotated; plain unchanged keeps its generated value
    second = dict(base, governance={"virtual_keys": [vk("alice", VK_CAROL), vk("plain", VK_PLAIN)]})
    standin = Standin(tmp_path / "app", second)
    try:
        assert key_works(standin, VK_CAROL)
        assert not key_works(standin, VK_ALICE)
        assert key_works(standin, VK_BOB) is removed_key_works
    finally:
        standin.stop()


def test_generated_value_survives_a_restart(tmp_path):
    config = dict(STORE, governance={"virtual_keys": [vk("plain", VK_PLAIN)]})
    Standin(tmp_path / "app", config).stop()
    with sqlite3.connect(tmp_path / "app" / "config.db") as db:
        first = json.loads(db.execute("SELECT value FROM standin_state WHERE key = 'virtual_keys'").fetchone()[0])["plain"]["value"]
    standin = Standin(tmp_path / "app", config)
    try:
        assert first.startswith("sk-bf-") and key_works(standin, first)
    finally:
        standin.stop()


def test_without_enforce_auth_on_inference_no_key_is_allowed(tmp_path):
    standin = Standin(tmp_path / "app", dict(STORE, governance={"virtual_keys": [vk("alice", VK_ALICE)]}))
    try:
        assert standin.call("GET", "/anthropic/v1/models").status == 200
        assert standin.call("POST", "/anthropic/v1/messages", MESSAGE).status == 200
        assert standin.call("GET", "/anthropic/v1/models", headers={"x-api-key": "sk-bf-wrong"}).status == 403  # a wrong key still fails
    finally:
        standin.stop()


def test_mcp_initialize_with_a_valid_key_only(gateway):
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}
    assert mcp(gateway, init, {"Authorization": "Bearer " + VK_ALICE}).json()["result"]["protocolVersion"] == "2025-06-18"
    assert mcp(gateway, init, {"Authorization": "Bearer " + VK_BOB}).status == 200
    assert mcp(gateway, init, {"Authorization": "Bearer sk-bf-wrong"}).status == 403
    assert mcp(gateway, init, {"Authorization": ""}).status == 401
