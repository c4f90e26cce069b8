"""The bifrost role's filters: config.json with its secrets split out, the guards, the environment file, the schema check.

The rules live in plugins/module_utils/bifrost_config.py; these tests call them through the filters the role uses.
"""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.aigateway.bifrost.plugins.filter import bifrost as bf
from tests.helpers.schemas import errors, load_schema

ANTHROPIC_KEY = "sk-ant-test-FAKE-0123456789abcdef"
OPENAI_KEY = "sk-test-openai-FAKE-0123456789"
VK_ALICE = "sk-bf-" + "a" * 40
VK_BOB = "sk-bf-" + "b" * 40


def spec(**overrides):
    """The role's variables (as vars/main.yml passes them) plus the resolved secrets."""
    base = {
        "bifrost_app_dir": "/var/lib/bifrost",
        "bifrost_admin_username": "gateway-admin-FAKE",
        "admin_password": "admin-FAKE-0123456789",
        "encryption_key": "enc-FAKE-0123456789abcdef",
        "datasheet_dir": "/var/lib/bifrost/datasheets",
        "bifrost_providers": {
            "anthropic": {"keys": [{"name": "main", "value": ANTHROPIC_KEY}]},
            "openai": {"keys": [{"name": "main", "value": OPENAI_KEY, "models": ["gpt-5.5"], "weight": 0.5}],
                       "network_config": {"base_url": "http://127.0.0.1:9"}},
        },
        "bifrost_virtual_keys": [
            {"name": "alice", "description": "Alice"},
            {"name": "bob.smith", "budget": {"max_limit": 10, "reset_duration": "1M"},
             "rate_limit": {"request_max_limit": 5, "request_reset_duration": "1m"}}],
        "virtual_key_values": {"alice": VK_ALICE, "bob.smith": VK_BOB},
        "bifrost_mcp_clients": [],
    }
    renames = {"providers": "bifrost_providers", "virtual_keys": "bifrost_virtual_keys",
               "mcp_clients": "bifrost_mcp_clients"}
    base.update((renames.get(key, key), value) for key, value in overrides.items())
    return base


def sections(settings):
    """The parts of config.json the older tests look at, and the environment file's entries."""
    built = bf.bifrost_config(settings)
    config = built["config"]
    return {"providers": config["providers"], "virtual_keys": config["governance"]["virtual_keys"],
            "budgets": config["governance"]["budgets"], "rate_limits": config["governance"]["rate_limits"],
            "mcp_client_configs": config.get("mcp", {}).get("client_configs", []), "env": built["env"],
            "config": config}


def minimal_config(sections):
    return {
        "$schema": "https://www.getbifrost.ai/schema",
        "version": 2,
        "encryption_key": "env.BIFROST_ENCRYPTION_KEY",
        "providers": sections["providers"],
        "governance": {"virtual_keys": sections["virtual_keys"], "budgets": sections["budgets"],
                       "rate_limits": sections["rate_limits"]},
        "mcp": {"client_configs": sections["mcp_client_configs"]},
    }


def test_secrets_move_to_env_and_config_refers_to_them():
    out = sections(spec())
    assert out["providers"]["anthropic"]["keys"] == [
        {"name": "main", "value": "env.BIFROST_PROVIDER_ANTHROPIC_MAIN", "models": ["*"], "weight": 1.0}]
    assert out["providers"]["openai"]["keys"][0]["models"] == ["gpt-5.5"]
    assert out["providers"]["openai"]["keys"][0]["weight"] == 0.5
    assert out["providers"]["openai"]["network_config"] == {"base_url": "http://127.0.0.1:9"}
    assert out["env"] == {
        "BIFROST_ADMIN_PASSWORD": "admin-FAKE-0123456789",
        "BIFROST_ADMIN_USERNAME": "gateway-admin-FAKE",
        "BIFROST_ENCRYPTION_KEY": "enc-FAKE-0123456789abcdef",
        "BIFROST_PROVIDER_ANTHROPIC_MAIN": ANTHROPIC_KEY,
        "BIFROST_PROVIDER_OPENAI_MAIN": OPENAI_KEY,
        "BIFROST_VK_ALICE": VK_ALICE,
        "BIFROST_VK_BOB_SMITH": VK_BOB,
    }
    text = json.dumps(out["config"])
    for secret in out["env"].values():
        assert secret not in text


def test_virtual_keys_default_to_every_provider_and_link_budgets_and_rate_limits():
    out = sections(spec())
    alice, bob = out["virtual_keys"]
    assert alice == {"id": "vk-alice", "name": "alice", "description": "Alice", "is_active": True,
                     "value": "env.BIFROST_VK_ALICE",
                     "provider_configs": [{"provider": "anthropic", "allowed_models": ["*"], "key_ids": ["*"]},
                                          {"provider": "openai", "allowed_models": ["*"], "key_ids": ["*"]}]}
    assert out["budgets"] == [{"id": "budget-vk-bob.smith", "max_limit": 10, "reset_duration": "1M",
                               "virtual_key_id": "vk-bob.smith"}]
    assert out["rate_limits"] == [{"id": "rate-limit-vk-bob.smith", "request_max_limit": 5,
                                   "request_reset_duration": "1m"}]
    assert bob["rate_limit_id"] == "rate-limit-vk-bob.smith"
    assert "budget" not in bob and "rate_limit" not in bob


def test_result_is_valid_against_the_upstream_schema():
    client = {"name": "docs", "connection_type": "http", "connection_string": "http://127.0.0.1:9/mcp",
              "auth_type": "headers", "headers": {"Authorization": "Bearer t0ken-FAKE-0123456789"}}
    out = sections(spec(mcp_clients=[client]))
    assert errors("bifrost-config", minimal_config(out)) == []


def test_explicit_provider_configs_keep_their_limits():
    vks = [{"name": "alice", "provider_configs": [{"provider": "anthropic", "allowed_models": ["claude-haiku-4-5"]}]}]
    out = sections(spec(virtual_keys=vks))
    assert out["virtual_keys"][0]["provider_configs"] == [
        {"provider": "anthropic", "allowed_models": ["claude-haiku-4-5"], "key_ids": ["*"]}]


def test_cloud_key_secrets_and_proxy_password_are_moved_too():
    bedrock_key = {"name": "aws", "value": "unused-but-secret-01",
                   "bedrock_key_config": {"region": "eu-west-1", "access_key": "AKIAFAKE000000000000",
                                          "secret_key": "bedrock-secret-FAKE-0123"}}
    vertex_key = {"name": "gcp",
                  "vertex_key_config": {"project_id": "p", "region": "r", "auth_credentials": '{"type": "sa"}'}}
    providers = {
        "bedrock": {"keys": [bedrock_key],
                    "proxy_config": {"type": "http", "url": "http://proxy:3128", "password": "proxy-pass-FAKE"}},
        "vertex": {"keys": [vertex_key]},
    }
    out = sections(spec(providers=providers, virtual_keys=[], virtual_key_values={}))
    bedrock = out["providers"]["bedrock"]
    assert bedrock["keys"][0]["bedrock_key_config"] == {"region": "eu-west-1",
                                                        "access_key": "env.BIFROST_PROVIDER_BEDROCK_AWS_ACCESS_KEY",
                                                        "secret_key": "env.BIFROST_PROVIDER_BEDROCK_AWS_SECRET_KEY"}
    assert bedrock["proxy_config"]["password"] == "env.BIFROST_PROVIDER_BEDROCK_PROXY_PASSWORD"
    assert out["providers"]["vertex"]["keys"][0]["vertex_key_config"]["auth_credentials"] == \
        "env.BIFROST_PROVIDER_VERTEX_GCP_AUTH_CREDENTIALS"
    assert "value" not in out["providers"]["vertex"]["keys"][0], "keyless entries stay keyless"
    assert out["env"]["BIFROST_PROVIDER_BEDROCK_AWS_SECRET_KEY"] == "bedrock-secret-FAKE-0123"


def test_existing_env_references_pass_through():
    providers = {"anthropic": {"keys": [{"name": "main", "value": "env.MY_OWN_VARIABLE"}]}}
    out = sections(spec(providers=providers, virtual_keys=[]))
    assert out["providers"]["anthropic"]["keys"][0]["value"] == "env.MY_OWN_VARIABLE"
    assert "MY_OWN_VARIABLE" not in out["env"]


def test_mcp_header_values_are_secrets():
    clients = [{"name": "docs", "connection_type": "http", "headers": {"X-Api-Key": "mcp-FAKE-0123456789"}}]
    out = sections(spec(mcp_clients=clients))
    assert out["mcp_client_configs"] == [{"name": "docs", "connection_type": "http", "tools_to_execute": ["*"],
                                          "headers": {"X-Api-Key": "env.BIFROST_MCP_DOCS_X_API_KEY"}}]
    assert out["env"]["BIFROST_MCP_DOCS_X_API_KEY"] == "mcp-FAKE-0123456789"


@pytest.mark.parametrize("overrides,message", [
    ({"providers": {"anthropic": {"keys": [{"name": "main", "value": ""}]}}},
     r"bifrost_providers.anthropic.keys\[0\].value must be a non-empty string"),
    ({"providers": {"anthropic": {"keys": []}}}, r"bifrost_providers.anthropic.keys must be a non-empty list"),
    ({"providers": {"Anthropic": {"keys": [{"name": "x", "value": "v"}]}}}, "invalid provider name"),
    ({"providers": {"anthropic": {"keys": [{"name": "a", "value": "v"}, {"name": "a", "value": "w"}]}}},
     "used twice"),
    ({"virtual_keys": [{"name": "alice"}, {"name": "alice"}]}, "declared twice"),
    ({"virtual_keys": [{"name": "../x"}]}, "invalid virtual key name"),
    ({"virtual_keys": [{"name": "carol"}]}, r"bifrost_virtual_keys\[carol\]: no value was resolved"),
    ({"virtual_keys": [{"name": "a-b"}, {"name": "a_b"}],
      "virtual_key_values": {"a-b": "sk-bf-" + "x" * 20, "a_b": "sk-bf-" + "y" * 20}},
     "map to the same environment variable BIFROST_VK_A_B"),
    ({"providers": {"anthropic": {"keys": [{"name": "main", "value": "line\nbreak"}]}}}, "line breaks"),
])
def test_bad_input_fails_naming_the_variable_and_key_but_never_the_value(overrides, message):
    with pytest.raises(AnsibleFilterError, match=message) as info:
        sections(spec(**overrides))
    for secret in (ANTHROPIC_KEY, OPENAI_KEY, VK_ALICE, VK_BOB, "x" * 20, "line\nbreak", "admin-FAKE-0123456789"):
        assert secret not in str(info.value)


def test_env_file_quotes_and_escapes_for_systemd():
    text = bf.bifrost_env_file({"B": 'we"ird\\$`x', "A": "plain"})
    assert text == 'A="plain"\nB="we\\"ird\\\\\\$\\`x"\n'


def test_schema_errors_found_and_described_by_path():
    schema = load_schema("bifrost-config")
    assert bf.json_schema_errors({"version": 2}, schema) == []
    found = bf.json_schema_errors({"version": 3, "nope": 1}, json.dumps(schema))
    assert any(e.startswith("version: ") for e in found), found
    assert any(e.startswith("(top level): ") and "nope" in e for e in found), found


def test_schema_unavailable_only_warns(monkeypatch):
    warnings = []
    monkeypatch.setattr(bf.display, "warning", warnings.append)
    assert bf.json_schema_errors({"anything": 1}, "") == []
    assert warnings and "not validated" in warnings[0]


def test_schema_check_without_jsonschema_only_warns(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_jsonschema(name, *args, **kwargs):
        if name == "jsonschema":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    warnings = []
    monkeypatch.setattr(builtins, "__import__", no_jsonschema)
    monkeypatch.setattr(bf.display, "warning", warnings.append)
    assert bf.json_schema_errors({"version": 3}, {"type": "object"}) == []
    assert warnings and "jsonschema is missing" in warnings[0]


def test_invalid_schema_text_is_an_error():
    with pytest.raises(AnsibleFilterError, match="not valid JSON"):
        bf.json_schema_errors({}, "{not json")
