# -*- coding: utf-8 -*-
# Copyright (c) aigateway.bifrost contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules of the bifrost role in one place: names, guards, config.json and the environment file.

Pure Python (standard library only), used on the controller by the role's filters and by the virtual_key lookup:
- preflight_errors(settings): every guard the role checks before it writes anything, each error naming the variable;
- build_config(settings): config.json as data, with every secret replaced by an env.NAME reference, plus the
  environment file's entries (the secrets and bifrost_service_environment) for the root-only file systemd reads.

``settings`` holds the role's public variables under their own names (bifrost_providers, ...) and, for
build_config, the resolved secrets (virtual_key_values, admin_password, encryption_key) and derived paths.
Error messages name the variable and the key, never a value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re
from urllib.parse import urlsplit

from ansible_collections.aigateway.bifrost.plugins.module_utils.dicts import deep_merge

# Virtual key names: letters, digits, '.', '_' and '-', starting with a letter or digit. They become file names on the
# controller (virtual_key_<name>) and environment variable names on the gateway (BIFROST_VK_<NAME>).
VIRTUAL_KEY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
VIRTUAL_KEY_NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit"
# Bifrost replaces any other value by a random key (lib/config.go), so the operator's key would never work.
VIRTUAL_KEY_PREFIX = "sk-bf-"
PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# ValidateMCPClientName upstream: ASCII letters, digits and '_', not starting with a digit.
MCP_CLIENT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENV_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CONTROL_CHARACTERS = ("\n", "\r", "\0")
DATASHEETS = ("pricing", "model_parameters", "mcp_library")
REQUIRED_DATASHEETS = ("pricing", "model_parameters")
STORES = ("sqlite", "postgres", "disabled")
# Secret fields inside a provider key's per-cloud block (sent to the environment file like the key's value).
KEY_SECRET_FIELDS = {
    "bedrock_key_config": ("access_key", "secret_key", "session_token"),
    "vertex_key_config": ("auth_credentials",),
}
ALL = ["*"]
SCHEMA_ID = "https://www.getbifrost.ai/schema"


class BifrostConfigError(ValueError):
    """Bad input: the message names the variable and key, never a secret."""


def env_name(*parts):
    """BIFROST_<PARTS>: upper-cased, every character other than a letter or digit becomes '_'."""
    return re.sub(r"[^A-Z0-9]", "_", "_".join(("BIFROST",) + tuple(str(p) for p in parts)).upper())


def vk_env_name(name):
    """The gateway's environment variable for a virtual key."""
    return env_name("VK", name)


def is_reference(value):
    """Values that already point elsewhere (env.NAME, vault.path) are passed through unchanged."""
    return isinstance(value, str) and value.startswith(("env.", "vault."))


def virtual_key_name_error(name, where=None):
    """None when name follows the rule, else a message naming where it came from."""
    if isinstance(name, str) and VIRTUAL_KEY_NAME.match(name):
        return None
    return "%sinvalid virtual key name %r: use %s" % (where + ": " if where else "", name, VIRTUAL_KEY_NAME_RULE)


def has_control_characters(value):
    return any(char in value for char in CONTROL_CHARACTERS)


# ---------------------------------------------------------------------------------------------------------------------
# Guards (preflight)


def _private_address(host):
    """'private' for RFC 1918 / unique-local addresses, 'link-local' for those, None otherwise (and for names)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.is_link_local:
        return "link-local"
    if address.is_loopback:
        return None  # upstream allows loopback regardless of allow_private_network
    if address.is_private:
        return "private"
    return None


def base_url_host(base_url):
    try:
        return urlsplit(base_url).hostname
    except ValueError:
        return None


def _guard_virtual_keys(virtual_keys, errors):
    if not isinstance(virtual_keys, list):
        errors.append("bifrost_virtual_keys must be a list")
        return
    seen = set()
    for index, vk in enumerate(virtual_keys):
        where = "bifrost_virtual_keys[%d]" % index
        name = vk.get("name") if isinstance(vk, dict) else None
        problem = virtual_key_name_error(name, where + ".name")
        if problem:
            errors.append(problem)
            continue
        if name in seen:
            errors.append("bifrost_virtual_keys[%s]: the name is declared twice" % name)
        seen.add(name)
        value = vk.get("value")
        if value in (None, ""):
            continue
        if not isinstance(value, str) or not value.startswith(VIRTUAL_KEY_PREFIX):
            errors.append("bifrost_virtual_keys[%s].value must start with '%s' (Bifrost replaces any other value by "
                          "a random key, so this user's key would never work; env. references cannot reach the users either); leave it "
                          "empty to have one generated"
                          % (name, VIRTUAL_KEY_PREFIX))
        elif has_control_characters(value):
            errors.append("bifrost_virtual_keys[%s].value must not contain line breaks or NUL characters" % name)


def _guard_providers(providers, errors):
    if not isinstance(providers, dict):
        errors.append("bifrost_providers must be a dictionary of provider name -> settings")
        return
    for pname, pconf in providers.items():
        where = "bifrost_providers.%s" % pname
        if not isinstance(pconf, dict):
            continue  # build_config reports the shape
        for index, key in enumerate(pconf.get("keys") or []):
            if not isinstance(key, dict):
                continue
            for block, settings in key.items():
                if block.endswith("_key_config") and isinstance(settings, dict) and "deployments" in settings:
                    errors.append("%s.keys[%d].%s.deployments no longer exists in Bifrost v2.2 (it would be dropped "
                                  "silently): map model names with the key-level 'aliases' instead" % (where, index, block))
        network = pconf.get("network_config")
        if not isinstance(network, dict) or not isinstance(network.get("base_url"), str):
            continue
        kind = _private_address(base_url_host(network["base_url"]) or "")
        if kind == "link-local":
            errors.append("%s.network_config.base_url is on a link-local address, which Bifrost always blocks" % where)
        elif kind == "private" and network.get("allow_private_network") is False:
            errors.append("%s.network_config.base_url is on a private address but allow_private_network is false: "
                          "Bifrost would refuse every request to it; remove the setting (the role then sets it) or "
                          "use a public address" % where)


def _guard_mcp_clients(clients, errors):
    if not isinstance(clients, list):
        errors.append("bifrost_mcp_clients must be a list")
        return
    for index, client in enumerate(clients):
        name = client.get("name") if isinstance(client, dict) else None
        if not isinstance(name, str) or not MCP_CLIENT_NAME.match(name):
            errors.append("bifrost_mcp_clients[%d].name %r is invalid: Bifrost skips clients whose name is not ASCII "
                          "letters, digits and '_' starting with a letter or '_' (no '-', spaces or other characters)"
                          % (index, name))


def _guard_service_environment(environment, errors):
    if not isinstance(environment, dict):
        errors.append("bifrost_service_environment must be a dictionary of NAME -> value")
        return
    for name, value in environment.items():
        if not isinstance(name, str) or not ENV_VAR_NAME.match(name):
            errors.append("bifrost_service_environment: %r is not a valid environment variable name (letters, digits "
                          "and '_', not starting with a digit)" % (name,))
            continue
        if isinstance(value, (dict, list)) or value is None:
            errors.append("bifrost_service_environment.%s must be a string or a number" % name)
        elif has_control_characters(str(value)):
            errors.append("bifrost_service_environment.%s must not contain line breaks (CR, LF) or NUL characters"
                          % name)


def _guard_cors(settings, errors):
    for variable in ("bifrost_cors_allowed_origins", "bifrost_cors_allowed_headers"):
        entries = settings.get(variable, [])
        if not isinstance(entries, list) or not all(isinstance(e, str) for e in entries):
            errors.append("%s must be a list of strings" % variable)
    for header in settings.get("bifrost_cors_allowed_headers") or []:
        if isinstance(header, str) and "*" in header and header != "*":
            errors.append("bifrost_cors_allowed_headers: %r is not a pattern for Bifrost, only a whole '*' entry is a "
                          "wildcard; list the header names" % header)


def preflight_errors(settings):
    """Every guard of the role, as a list of messages (empty when all pass)."""
    errors = []
    auth = bool(settings.get("bifrost_auth_enabled", True))
    store = settings.get("bifrost_config_store", "sqlite")
    if store not in STORES:
        errors.append("bifrost_config_store must be one of %s" % ", ".join(STORES))
    if settings.get("bifrost_logs_store", "sqlite") not in STORES:
        errors.append("bifrost_logs_store must be one of %s" % ", ".join(STORES))
    if auth and store == "disabled":
        errors.append("bifrost_auth_enabled is true but bifrost_config_store is 'disabled': Bifrost skips its auth "
                      "middleware without a config store, so the admin UI and API would be open to everyone; use "
                      "a config store (sqlite or postgres)")
    datasheets = settings.get("bifrost_datasheet_files") or {}
    if not isinstance(datasheets, dict) or set(datasheets) - set(DATASHEETS):
        errors.append("bifrost_datasheet_files must be a dictionary with the keys %s" % ", ".join(DATASHEETS))
    elif datasheets and not all(name in datasheets for name in REQUIRED_DATASHEETS):
        errors.append("bifrost_datasheet_files must name both pricing and model_parameters (missing: %s): an "
                      "offline gateway exits on its first start without both"
                      % ", ".join(n for n in REQUIRED_DATASHEETS if n not in datasheets))
    _guard_virtual_keys(settings.get("bifrost_virtual_keys", []), errors)
    _guard_providers(settings.get("bifrost_providers", {}), errors)
    _guard_mcp_clients(settings.get("bifrost_mcp_clients", []), errors)
    _guard_service_environment(settings.get("bifrost_service_environment", {}), errors)
    _guard_cors(settings, errors)
    _guard_shared_store(settings, errors)
    return errors


def _store_address(postgres):
    """(host, port, database) of a PostgreSQL store, or None for one on the node itself (loopback is never shared)."""
    postgres = postgres if isinstance(postgres, dict) else {}
    host = str(postgres.get("host") or "localhost").strip().lower()
    if host == "localhost" or host.startswith("/"):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return (host, str(postgres.get("port") or "5432"), str(postgres.get("db_name") or "bifrost"))


def _guard_shared_store(settings, errors):
    """Open-source Bifrost reads its config store once at start-up and has no sync between nodes (docs/
    high-availability.md): several nodes of one play on one PostgreSQL config store drift apart, so that layout needs
    bifrost_shared_store_acknowledged."""
    if settings.get("bifrost_config_store") != "postgres" or settings.get("bifrost_shared_store_acknowledged"):
        return
    address = _store_address(settings.get("bifrost_postgres"))
    if address is None:
        return
    me = settings.get("bifrost_node_name")
    # bifrost_play_nodes: [name, config store, postgres settings] for every host of the play
    sharing = sorted(
        str(name) for name, store, postgres in settings.get("bifrost_play_nodes") or []
        if name != me and store == "postgres" and _store_address(postgres) == address
    )
    if sharing:
        errors.append("bifrost_config_store: %s shares the PostgreSQL config store %s:%s/%s with %s; open-source Bifrost "
                      "reads the store once at start-up and does not sync nodes, so UI changes, rate limits and "
                      "budgets drift between them (docs/high-availability.md). Set bifrost_shared_store_acknowledged: "
                      "true to run them anyway" % ((me,) + address + (", ".join(sharing),)))


# ---------------------------------------------------------------------------------------------------------------------
# config.json and the environment file


class _Env(object):
    """Collects NAME -> value for the environment file, refusing two different values under one name."""

    def __init__(self):
        self.values = {}
        self.origin = {}

    def add(self, name, value, where):
        if name in self.values:
            raise BifrostConfigError("%s and %s map to the same environment variable %s; rename one" % (
                self.origin[name], where, name))
        self.values[name] = value
        self.origin[name] = where

    def ref(self, name, value, where):
        """An env.NAME reference for a secret (kept for the environment file), or the given reference."""
        if not isinstance(value, str) or not value:
            raise BifrostConfigError("%s must be a non-empty string" % where)
        if has_control_characters(value):
            raise BifrostConfigError("%s must not contain line breaks or NUL characters" % where)
        if is_reference(value):
            return value
        self.add(name, value, where)
        return "env." + name


def _providers(providers, env):
    out = {}
    for pname in sorted(providers):
        pconf = providers[pname]
        where = "bifrost_providers.%s" % pname
        if not PROVIDER_NAME.match(str(pname)):
            raise BifrostConfigError("%s: invalid provider name (lower-case letters, digits, '_' and '-')" % where)
        if not isinstance(pconf, dict):
            raise BifrostConfigError("%s must be a dictionary" % where)
        keys = pconf.get("keys")
        if not isinstance(keys, list) or not keys:
            raise BifrostConfigError("%s.keys must be a non-empty list" % where)
        new = dict(pconf)
        new_keys = []
        seen = set()
        for index, key in enumerate(keys):
            kwhere = "%s.keys[%d]" % (where, index)
            if not isinstance(key, dict) or not key.get("name"):
                raise BifrostConfigError("%s needs a 'name'" % kwhere)
            kname = str(key["name"])
            if kname in seen:
                raise BifrostConfigError("%s: key name %r is used twice in provider %s" % (kwhere, kname, pname))
            seen.add(kname)
            nkey = {"models": ALL, "weight": 1.0}
            nkey.update(key)
            if "value" in key:
                nkey["value"] = env.ref(env_name("PROVIDER", pname, kname), key["value"], kwhere + ".value")
            for block, fields in KEY_SECRET_FIELDS.items():
                if isinstance(key.get(block), dict):
                    nblock = dict(key[block])
                    for field in fields:
                        if nblock.get(field) not in (None, ""):
                            nblock[field] = env.ref(env_name("PROVIDER", pname, kname, field), nblock[field],
                                                    "%s.%s.%s" % (kwhere, block, field))
                    nkey[block] = nblock
            new_keys.append(nkey)
        new["keys"] = new_keys
        proxy = pconf.get("proxy_config")
        if isinstance(proxy, dict) and proxy.get("password") not in (None, ""):
            new["proxy_config"] = dict(proxy, password=env.ref(env_name("PROVIDER", pname, "PROXY_PASSWORD"),
                                                               proxy["password"], where + ".proxy_config.password"))
        network = pconf.get("network_config")
        if isinstance(network, dict) and isinstance(network.get("base_url"), str) \
                and "allow_private_network" not in network \
                and _private_address(base_url_host(network["base_url"]) or "") == "private":
            # Bifrost refuses RFC 1918 addresses unless the provider allows them; the operator chose this address.
            new["network_config"] = dict(network, allow_private_network=True)
        out[pname] = new
    return out


def _virtual_keys(virtual_keys, values, providers, env):
    out, budgets, rate_limits = [], [], []
    for vk in virtual_keys:
        name = vk["name"]
        where = "bifrost_virtual_keys[%s]" % name
        if name not in values:
            raise BifrostConfigError("%s: no value was resolved for this key" % where)
        if not str(values[name]).startswith(VIRTUAL_KEY_PREFIX):
            raise BifrostConfigError("%s.value must start with '%s'" % (where, VIRTUAL_KEY_PREFIX))
        vk_id = vk.get("id") or "vk-" + name
        entry = {"id": vk_id, "name": name, "is_active": True}
        for field, value in vk.items():
            if field not in ("value", "budget", "rate_limit", "provider_configs"):
                entry[field] = value
        entry["id"] = vk_id
        entry["value"] = env.ref(vk_env_name(name), values[name], where + ".value")
        configs = vk.get("provider_configs")
        if configs is None:  # default: every configured provider, every model and key
            configs = [{"provider": pname} for pname in sorted(providers)]
        new_configs = []
        for cindex, config in enumerate(configs):
            if not isinstance(config, dict) or not config.get("provider"):
                raise BifrostConfigError("%s.provider_configs[%d] needs a 'provider'" % (where, cindex))
            nconfig = {"allowed_models": ALL, "key_ids": ALL}
            nconfig.update(config)
            new_configs.append(nconfig)
        entry["provider_configs"] = new_configs
        if vk.get("budget"):
            if not isinstance(vk["budget"], dict):
                raise BifrostConfigError("%s.budget must be a dictionary (max_limit, reset_duration)" % where)
            budget = {"id": "budget-" + vk_id}
            budget.update(vk["budget"])
            budget["virtual_key_id"] = vk_id
            budgets.append(budget)
        if vk.get("rate_limit"):
            if not isinstance(vk["rate_limit"], dict):
                raise BifrostConfigError("%s.rate_limit must be a dictionary" % where)
            limit = {"id": "rate-limit-" + vk_id}
            limit.update(vk["rate_limit"])
            rate_limits.append(limit)
            entry["rate_limit_id"] = limit["id"]
        out.append(entry)
    return out, budgets, rate_limits


def _mcp_clients(clients, env):
    out = []
    for client in clients:
        where = "bifrost_mcp_clients[%s]" % client["name"]
        new = {"tools_to_execute": ALL}
        new.update(client)
        if isinstance(client.get("headers"), dict):  # header values are credentials (tokens, API keys)
            new["headers"] = dict(
                (header, env.ref(env_name("MCP", client["name"], header), value, "%s.headers.%s" % (where, header)))
                for header, value in client["headers"].items())
        out.append(new)
    return out


def _stores(settings):
    app_dir = settings["bifrost_app_dir"]
    postgres = dict(settings.get("bifrost_postgres") or {})
    postgres.update(port=str(postgres.get("port", "")), password="env.BIFROST_POSTGRES_PASSWORD")
    postgres_store = {"enabled": True, "type": "postgres", "config": postgres}
    return {
        "config_store": {
            "sqlite": {"enabled": True, "type": "sqlite", "config": {"path": app_dir + "/config.db"}},
            "postgres": postgres_store,
            "disabled": {"enabled": False},
        }[settings.get("bifrost_config_store", "sqlite")],
        "logs_store": {
            "sqlite": {"enabled": True, "type": "sqlite", "config": {"path": app_dir + "/logs.db"}},
            "postgres": postgres_store,
            "disabled": {"enabled": False},
        }[settings.get("bifrost_logs_store", "sqlite")],
    }


def _framework(settings):
    """Datasheets shipped from the controller (air-gapped hosts): Bifrost reads them through file:// URLs."""
    datasheets = settings.get("bifrost_datasheet_files") or {}
    if not datasheets:
        return None
    directory = settings["datasheet_dir"]
    interval = int(settings.get("bifrost_pricing_sync_interval", 86400))
    pricing = {"pricing_sync_interval": interval}
    if "pricing" in datasheets:
        pricing["pricing_url"] = "file://%s/pricing.json" % directory
    if "model_parameters" in datasheets:
        pricing["model_parameters_url"] = "file://%s/model_parameters.json" % directory
    if "mcp_library" in datasheets:
        pricing["mcp_library_url"] = "file://%s/mcp_library.json" % directory
        pricing["mcp_library_sync_interval"] = interval
    return {"pricing": pricing}


def build_config(settings):
    """config.json (as data) and the environment file's entries: {'config': {...}, 'env': {NAME: value}}.

    Runs preflight_errors first, so every guard also holds for anyone calling this directly.
    """
    if not isinstance(settings, dict):
        raise BifrostConfigError("the bifrost config settings must be a dictionary")
    errors = preflight_errors(settings)
    if errors:
        raise BifrostConfigError("; ".join(errors))
    env = _Env()
    auth = bool(settings.get("bifrost_auth_enabled", True))
    env.ref("BIFROST_ENCRYPTION_KEY", settings.get("encryption_key"), "the encryption key (bifrost_encryption_key)")
    if auth:
        env.ref("BIFROST_ADMIN_USERNAME", settings.get("bifrost_admin_username"), "bifrost_admin_username")
        env.ref("BIFROST_ADMIN_PASSWORD", settings.get("admin_password"), "the admin password (bifrost_admin_password)")
    if "postgres" in (settings.get("bifrost_config_store"), settings.get("bifrost_logs_store")):
        env.ref("BIFROST_POSTGRES_PASSWORD", settings.get("bifrost_postgres_password"), "bifrost_postgres_password")
    # Plain settings go to the environment file too: no operator value ever reaches the unit file (no directive
    # injection, and systemd does not expand '%' specifiers in an EnvironmentFile).
    for name, value in sorted((settings.get("bifrost_service_environment") or {}).items()):
        env.add(name, str(value), "bifrost_service_environment.%s" % name)

    providers = _providers(settings.get("bifrost_providers") or {}, env)
    virtual_keys = settings.get("bifrost_virtual_keys") or []
    vks, budgets, rate_limits = _virtual_keys(virtual_keys, settings.get("virtual_key_values") or {}, providers, env)
    mcp_clients = _mcp_clients(settings.get("bifrost_mcp_clients") or [], env)

    enforce = settings.get("bifrost_enforce_auth_on_inference")
    client = {
        "allowed_origins": list(settings.get("bifrost_cors_allowed_origins") or []),
        "allowed_headers": list(settings.get("bifrost_cors_allowed_headers") or []),
        "enforce_auth_on_inference": len(virtual_keys) > 0 if enforce is None else bool(enforce),
    }
    governance = dict(settings.get("bifrost_governance") or {})
    governance.update(
        virtual_keys=vks,
        budgets=list(governance.get("budgets") or []) + budgets,
        rate_limits=list(governance.get("rate_limits") or []) + rate_limits,
        auth_config=({"is_enabled": True, "admin_username": "env.BIFROST_ADMIN_USERNAME",
                      "admin_password": "env.BIFROST_ADMIN_PASSWORD", "disable_auth_on_inference": True}
                     if auth else {"is_enabled": False}),
    )
    config = {
        "$schema": SCHEMA_ID,
        "version": 2,
        "source_of_truth": settings.get("bifrost_source_of_truth", "config.json"),
        "encryption_key": "env.BIFROST_ENCRYPTION_KEY",
        "client": deep_merge(client, settings.get("bifrost_client_settings") or {}),
        "providers": providers,
        "governance": governance,
    }
    config.update(_stores(settings))
    framework = _framework(settings)
    if framework:
        config["framework"] = framework
    tool_manager = settings.get("bifrost_mcp_tool_manager_config") or {}
    if mcp_clients or tool_manager:
        config["mcp"] = {"client_configs": mcp_clients}
        if tool_manager:
            config["mcp"]["tool_manager_config"] = tool_manager
    config = deep_merge(config, settings.get("bifrost_config_extra") or {})
    return {"config": config, "env": env.values}


def systemd_env_file(env):
    """Text of a systemd EnvironmentFile: NAME="value" lines, sorted, with \\ " ` $ escaped.

    Refuses names that are not environment variable names and values with CR, LF or NUL (each would start a new
    assignment), naming the variable, never the value.
    """
    lines = []
    for name in sorted(env):
        value = str(env[name])
        if not ENV_VAR_NAME.match(name):
            raise BifrostConfigError("%r is not a valid environment variable name" % (name,))
        if has_control_characters(value):
            raise BifrostConfigError("the environment variable %s must not contain line breaks or NUL characters"
                                     % name)
        for char in ("\\", '"', "`", "$"):
            value = value.replace(char, "\\" + char)
        lines.append('%s="%s"' % (name, value))
    return "\n".join(lines) + "\n"
