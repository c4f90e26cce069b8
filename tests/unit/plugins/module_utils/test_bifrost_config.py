"""The bifrost role's rules (plugins/module_utils/bifrost_config.py): guards, service environment, config.json.

Each guard is checked with the value the real gateway breaks on; every message must name the variable and never a
secret value.
"""

from __future__ import annotations

import pytest

from ansible_collections.aigateway.bifrost.plugins.module_utils import bifrost_config as rules

VK = "sk-bf-" + "z" * 40


def settings(**overrides):
    base = {
        "bifrost_app_dir": "/var/lib/bifrost",
        "bifrost_admin_username": "admin",
        "admin_password": "admin-FAKE-0123456789",
        "encryption_key": "enc-FAKE-0123456789abcdef",
        "datasheet_dir": "/var/lib/bifrost/datasheets",
        "bifrost_auth_enabled": True,
        "bifrost_config_store": "sqlite",
        "bifrost_logs_store": "sqlite",
        "bifrost_providers": {"anthropic": {"keys": [{"name": "main", "value": "sk-ant-FAKE-0123456789"}]}},
        "bifrost_virtual_keys": [{"name": "alice"}],
        "virtual_key_values": {"alice": VK},
        "bifrost_mcp_clients": [],
        "bifrost_service_environment": {},
        "bifrost_cors_allowed_origins": [],
        "bifrost_cors_allowed_headers": ["Content-Type", "anthropic-version"],
        "bifrost_datasheet_files": {},
    }
    base.update(overrides)
    return base


def test_defaults_pass_every_guard():
    assert rules.preflight_errors(settings()) == []


@pytest.mark.parametrize("overrides,variable,words", [
    ({"bifrost_config_store": "disabled"}, "bifrost_config_store", "open"),
    ({"bifrost_virtual_keys": [{"name": "alice", "value": "my-own-key-0123456789"}]},
     "bifrost_virtual_keys[alice].value", "sk-bf-"),
    ({"bifrost_virtual_keys": [{"name": "alice", "value": "env.ALICE_KEY"}]}, "bifrost_virtual_keys[alice].value",
     "sk-bf-"),
    ({"bifrost_datasheet_files": {"pricing": "/x/pricing.json"}}, "bifrost_datasheet_files", "model_parameters"),
    ({"bifrost_datasheet_files": {"model_parameters": "/x/m.json"}}, "bifrost_datasheet_files", "pricing"),
    ({"bifrost_providers": {"azure": {"keys": [{"name": "k", "value": "v", "azure_key_config": {
        "endpoint": "https://example.invalid", "api_version": "2024-10-21", "deployments": {"gpt": "gpt-dep"}}}]}}},
     "bifrost_providers.azure.keys[0].azure_key_config.deployments", "aliases"),
    ({"bifrost_providers": {"vertex": {"keys": [{"name": "k", "vertex_key_config": {
        "project_id": "p", "region": "r", "deployments": {}}}]}}},
     "bifrost_providers.vertex.keys[0].vertex_key_config.deployments", "aliases"),
    ({"bifrost_mcp_clients": [{"name": "my-docs", "connection_type": "http"}]}, "bifrost_mcp_clients[0].name", "'_'"),
    ({"bifrost_mcp_clients": [{"name": "1docs", "connection_type": "http"}]}, "bifrost_mcp_clients[0].name", "'_'"),
    ({"bifrost_mcp_clients": [{"name": "my docs", "connection_type": "http"}]}, "bifrost_mcp_clients[0].name", "'_'"),
    ({"bifrost_mcp_clients": [{"name": "d\u00f6cs", "connection_type": "http"}]}, "bifrost_mcp_clients[0].name",
     "ASCII"),
    ({"bifrost_providers": {"openai": {"keys": [{"name": "k", "value": "v"}],
                                       "network_config": {"base_url": "http://169.254.169.254/v1"}}}},
     "bifrost_providers.openai.network_config.base_url", "link-local"),
    ({"bifrost_providers": {"openai": {"keys": [{"name": "k", "value": "v"}], "network_config": {
        "base_url": "http://10.1.2.3:8000", "allow_private_network": False}}}},
     "bifrost_providers.openai.network_config.base_url", "allow_private_network"),
    ({"bifrost_cors_allowed_headers": ["Content-Type", "x-stainless-*"]}, "bifrost_cors_allowed_headers",
     "x-stainless-*"),
    ({"bifrost_service_environment": {"BAD-NAME": "1"}}, "bifrost_service_environment", "BAD-NAME"),
    ({"bifrost_service_environment": {"1ABC": "1"}}, "bifrost_service_environment", "1ABC"),
    ({"bifrost_service_environment": {"GOMEMLIMIT": "1\nUser=root"}}, "bifrost_service_environment.GOMEMLIMIT",
     "line breaks"),
    ({"bifrost_service_environment": {"GOMEMLIMIT": "1\rUser=root"}}, "bifrost_service_environment.GOMEMLIMIT",
     "line breaks"),
    ({"bifrost_service_environment": {"GOMEMLIMIT": "1\0"}}, "bifrost_service_environment.GOMEMLIMIT", "NUL"),
    ({"bifrost_virtual_keys": [{"name": "../etc"}]}, "bifrost_virtual_keys[0].name", "invalid virtual key name"),
])
def test_each_guard_refuses_naming_the_variable(overrides, variable, words):
    errors = rules.preflight_errors(settings(**overrides))
    assert len(errors) == 1, errors
    assert variable in errors[0] and words in errors[0], errors[0]
    assert "my-own-key-0123456789" not in errors[0]
    with pytest.raises(rules.BifrostConfigError) as info:  # the builder runs the same guards
        rules.build_config(settings(**overrides))
    assert variable in str(info.value)


def test_auth_off_without_store_is_allowed():
    assert rules.preflight_errors(settings(bifrost_config_store="disabled", bifrost_auth_enabled=False)) == []


def test_private_provider_addresses_get_allow_private_network_and_loopback_does_not_need_it():
    providers = {
        "openai": {"keys": [{"name": "k", "value": "v"}], "network_config": {"base_url": "http://192.168.1.20:8000"}},
        "ollama": {"keys": [{"name": "k", "value": "v"}], "network_config": {"base_url": "http://172.20.0.5"}},
        "vllm": {"keys": [{"name": "k", "value": "v"}], "network_config": {"base_url": "http://127.0.0.1:9"}},
        "groq": {"keys": [{"name": "k", "value": "v"}], "network_config": {"base_url": "https://api.example.com"}},
    }
    out = rules.build_config(settings(bifrost_providers=providers))["config"]["providers"]
    assert out["openai"]["network_config"] == {"base_url": "http://192.168.1.20:8000", "allow_private_network": True}
    assert out["ollama"]["network_config"]["allow_private_network"] is True
    assert "allow_private_network" not in out["vllm"]["network_config"]
    assert "allow_private_network" not in out["groq"]["network_config"]


def test_service_environment_goes_to_the_env_file_verbatim_and_percent_needs_no_escaping():
    environment = {"GOMEMLIMIT": "900MiB", "HTTPS_PROXY": "50%x", "PORTISH": 8080}
    built = rules.build_config(settings(bifrost_service_environment=environment))
    assert built["env"]["GOMEMLIMIT"] == "900MiB"
    assert built["env"]["HTTPS_PROXY"] == "50%x"
    assert built["env"]["PORTISH"] == "8080"
    text = rules.systemd_env_file(built["env"])
    assert 'HTTPS_PROXY="50%x"\n' in text
    assert text.count("\n") == len(built["env"]), "one line per variable"


def test_service_environment_cannot_take_over_a_role_variable():
    with pytest.raises(rules.BifrostConfigError, match="BIFROST_ENCRYPTION_KEY"):
        rules.build_config(settings(bifrost_service_environment={"BIFROST_ENCRYPTION_KEY": "x"}))


@pytest.mark.parametrize("env", [{"A": "x\ny"}, {"A": "x\ry"}, {"A": "x\0y"}, {"A-B": "x"}, {"": "x"}])
def test_env_file_refuses_what_would_start_a_new_assignment(env):
    with pytest.raises(rules.BifrostConfigError) as info:
        rules.systemd_env_file(env)
    assert "x\ny" not in str(info.value)


def test_config_shape_matches_what_the_role_wrote_before():
    built = rules.build_config(settings(
        bifrost_datasheet_files={"pricing": "/c/p.json", "model_parameters": "/c/m.json"},
        bifrost_client_settings={"max_request_body_size_mb": 10}, bifrost_config_extra={"client": {"x": 1}},
        bifrost_governance={"budgets": [{"id": "b0"}]},
        bifrost_mcp_clients=[{"name": "docs", "connection_type": "http"}]))
    config = built["config"]
    assert list(config)[:7] == ["$schema", "version", "source_of_truth", "encryption_key", "client", "providers",
                                "governance"]
    assert config["client"] == {"allowed_origins": [], "allowed_headers": ["Content-Type", "anthropic-version"],
                                "enforce_auth_on_inference": True, "max_request_body_size_mb": 10, "x": 1}
    assert config["governance"]["auth_config"]["admin_password"] == "env.BIFROST_ADMIN_PASSWORD"
    assert config["governance"]["budgets"] == [{"id": "b0"}]
    assert config["config_store"] == {"enabled": True, "type": "sqlite", "config": {"path": "/var/lib/bifrost/config.db"}}
    assert config["framework"]["pricing"] == {
        "pricing_sync_interval": 86400, "pricing_url": "file:///var/lib/bifrost/datasheets/pricing.json",
        "model_parameters_url": "file:///var/lib/bifrost/datasheets/model_parameters.json"}
    assert config["mcp"] == {"client_configs": [{"tools_to_execute": ["*"], "name": "docs", "connection_type": "http"}]}


def test_virtual_key_name_rule_is_shared():
    assert rules.virtual_key_name_error("bob.smith") is None
    assert "invalid virtual key name" in rules.virtual_key_name_error("-bob")


SHARED_DB = {"host": "db.example.internal", "port": "5432", "db_name": "bifrost"}


def shared_store(**overrides):
    values = dict(bifrost_config_store="postgres", bifrost_postgres=SHARED_DB, bifrost_postgres_password="pw",
                  bifrost_node_name="gw1",
                  bifrost_play_nodes=[["gw1", "postgres", SHARED_DB], ["gw2", "postgres", SHARED_DB],
                                      ["gw3", "sqlite", {}]])
    values.update(overrides)
    return settings(**values)


def test_several_nodes_on_one_postgres_store_are_refused_naming_them_and_the_variable():
    errors = rules.preflight_errors(shared_store())
    assert len(errors) == 1
    assert "gw2" in errors[0] and "gw3" not in errors[0]
    assert "bifrost_shared_store_acknowledged" in errors[0] and "db.example.internal:5432/bifrost" in errors[0]


@pytest.mark.parametrize("overrides", [
    {"bifrost_shared_store_acknowledged": True},
    # another database on the same server is another store
    {"bifrost_play_nodes": [["gw1", "postgres", SHARED_DB], ["gw2", "postgres", dict(SHARED_DB, db_name="other")]]},
    # each node's own PostgreSQL on its loopback is not shared
    {"bifrost_postgres": {"host": "127.0.0.1"},
     "bifrost_play_nodes": [["gw1", "postgres", {"host": "127.0.0.1"}], ["gw2", "postgres", {"host": "localhost"}]]},
    {"bifrost_play_nodes": [["gw1", "postgres", SHARED_DB]]},
], ids=["acknowledged", "other database", "loopback", "one node"])
def test_a_store_that_is_not_shared_or_an_acknowledged_one_passes(overrides):
    assert rules.preflight_errors(shared_store(**overrides)) == []
