# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the bifrost role: the secret-bearing config.json sections, and the controller-side schema check.

The role keeps every secret out of config.json: each secret becomes an environment variable in the root-only
environment file, and config.json refers to it as "env.NAME". bifrost_config_sections() makes that split in plain,
unit-tested Python. Error messages name the variable and the key, never a value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

display = Display()

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# Secret fields inside a provider key's per-cloud block (sent to the environment file like the key's value).
KEY_SECRET_FIELDS = {
    "bedrock_key_config": ("access_key", "secret_key", "session_token"),
    "vertex_key_config": ("auth_credentials",),
}
ALL = ["*"]


def env_name(*parts):
    """BIFROST_<PARTS>: upper-cased, every character other than a letter or digit becomes '_'."""
    return re.sub(r"[^A-Z0-9]", "_", "_".join(("BIFROST",) + parts).upper())


def vk_env_name(name):
    """The gateway's environment variable for a virtual key (shared with the claude_desktop role's documentation)."""
    return env_name("VK", name)


def is_reference(value):
    """Values that already point elsewhere (env.NAME, vault.path) are passed through unchanged."""
    return isinstance(value, str) and value.startswith(("env.", "vault."))


class _Env(object):
    """Collects NAME -> secret, refusing two different secrets under one name."""

    def __init__(self):
        self.values = {}
        self.origin = {}

    def ref(self, name, value, where):
        if not isinstance(value, str) or not value:
            raise AnsibleFilterError("%s must be a non-empty string" % where)
        if "\n" in value or "\r" in value or "\0" in value:
            raise AnsibleFilterError("%s must not contain line breaks or NUL characters" % where)
        if is_reference(value):
            return value
        if name in self.values:
            raise AnsibleFilterError("%s and %s map to the same environment variable %s; rename one" % (
                self.origin[name], where, name))
        self.values[name] = value
        self.origin[name] = where
        return "env." + name


def _providers(providers, env):
    if not isinstance(providers, dict):
        raise AnsibleFilterError("bifrost_providers must be a dictionary of provider name -> settings")
    out = {}
    for pname in sorted(providers):
        pconf = providers[pname]
        where = "bifrost_providers.%s" % pname
        if not PROVIDER_NAME.match(str(pname)):
            raise AnsibleFilterError("%s: invalid provider name (lower-case letters, digits, '_' and '-')" % where)
        if not isinstance(pconf, dict):
            raise AnsibleFilterError("%s must be a dictionary" % where)
        keys = pconf.get("keys")
        if not isinstance(keys, list) or not keys:
            raise AnsibleFilterError("%s.keys must be a non-empty list" % where)
        new = dict(pconf)
        new_keys = []
        seen = set()
        for index, key in enumerate(keys):
            kwhere = "%s.keys[%d]" % (where, index)
            if not isinstance(key, dict) or not key.get("name"):
                raise AnsibleFilterError("%s needs a 'name'" % kwhere)
            kname = str(key["name"])
            if kname in seen:
                raise AnsibleFilterError("%s: key name %r is used twice in provider %s" % (kwhere, kname, pname))
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
        out[pname] = new
    return out


def _virtual_keys(virtual_keys, values, providers, env):
    if not isinstance(virtual_keys, list):
        raise AnsibleFilterError("bifrost_virtual_keys must be a list")
    out, budgets, rate_limits = [], [], []
    names = set()
    for index, vk in enumerate(virtual_keys):
        where = "bifrost_virtual_keys[%d]" % index
        if not isinstance(vk, dict) or not isinstance(vk.get("name"), str) or not NAME.match(vk["name"]):
            raise AnsibleFilterError("%s: 'name' is required: letters, digits, '.', '_' and '-', starting with a "
                                     "letter or digit" % where)
        name = vk["name"]
        where = "bifrost_virtual_keys[%s]" % name
        if name in names:
            raise AnsibleFilterError("%s: the name is declared twice" % where)
        names.add(name)
        if name not in values:
            raise AnsibleFilterError("%s: no value was resolved for this key" % where)
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
                raise AnsibleFilterError("%s.provider_configs[%d] needs a 'provider'" % (where, cindex))
            nconfig = {"allowed_models": ALL, "key_ids": ALL}
            nconfig.update(config)
            new_configs.append(nconfig)
        entry["provider_configs"] = new_configs
        if vk.get("budget"):
            if not isinstance(vk["budget"], dict):
                raise AnsibleFilterError("%s.budget must be a dictionary (max_limit, reset_duration)" % where)
            budget = {"id": "budget-" + vk_id}
            budget.update(vk["budget"])
            budget["virtual_key_id"] = vk_id
            budgets.append(budget)
        if vk.get("rate_limit"):
            if not isinstance(vk["rate_limit"], dict):
                raise AnsibleFilterError("%s.rate_limit must be a dictionary" % where)
            limit = {"id": "rate-limit-" + vk_id}
            limit.update(vk["rate_limit"])
            rate_limits.append(limit)
            entry["rate_limit_id"] = limit["id"]
        out.append(entry)
    return out, budgets, rate_limits


def _mcp_clients(clients, env):
    if not isinstance(clients, list):
        raise AnsibleFilterError("bifrost_mcp_clients must be a list")
    out = []
    for index, client in enumerate(clients):
        if not isinstance(client, dict) or not client.get("name"):
            raise AnsibleFilterError("bifrost_mcp_clients[%d] needs a 'name'" % index)
        where = "bifrost_mcp_clients[%s]" % client["name"]
        new = {"tools_to_execute": ALL}
        new.update(client)
        if isinstance(client.get("headers"), dict):  # header values are credentials (tokens, API keys)
            new["headers"] = dict(
                (header, env.ref(env_name("MCP", client["name"], header), value, "%s.headers.%s" % (where, header)))
                for header, value in client["headers"].items())
        out.append(new)
    return out


def bifrost_config_sections(spec):
    """The config.json sections that carry secrets, with every secret replaced by an env.NAME reference.

    spec: {providers, virtual_keys, virtual_key_values (name -> value), mcp_clients, env (NAME -> secret)}.
    Returns {providers, virtual_keys, budgets, rate_limits, mcp_client_configs, env}; env holds every secret by
    its environment variable name (the given env entries included) for the root-only environment file.
    """
    if not isinstance(spec, dict):
        raise AnsibleFilterError("bifrost_config_sections expects a dictionary")
    env = _Env()
    for name, value in sorted((spec.get("env") or {}).items()):
        env.ref(name, value, "the role's %s" % name)
    providers = _providers(spec.get("providers") or {}, env)
    virtual_keys, budgets, rate_limits = _virtual_keys(
        spec.get("virtual_keys") or [], spec.get("virtual_key_values") or {}, providers, env)
    mcp_clients = _mcp_clients(spec.get("mcp_clients") or [], env)
    return {
        "providers": providers,
        "virtual_keys": virtual_keys,
        "budgets": budgets,
        "rate_limits": rate_limits,
        "mcp_client_configs": mcp_clients,
        "env": env.values,
    }


def systemd_env_file(env):
    """Text of a systemd EnvironmentFile: NAME="value" lines, sorted, with \\ " ` $ escaped."""
    lines = []
    for name in sorted(env):
        value = str(env[name])
        for char in ("\\", '"', "`", "$"):
            value = value.replace(char, "\\" + char)
        lines.append('%s="%s"' % (name, value))
    return "\n".join(lines) + "\n"


def json_schema_errors(document, schema):
    """Every error of document against a JSON Schema (dict or JSON text), as 'key/path: message' strings.

    An empty schema or a missing jsonschema library only warns (the check is a safety net the operator can't always
    have), and returns no errors.
    """
    if schema in (None, "", {}):
        display.warning("bifrost: the config schema could not be loaded; config.json is not validated")
        return []
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError as exc:
            raise AnsibleFilterError("the config schema is not valid JSON: %s" % exc) from exc
    try:
        import jsonschema
    except ImportError:
        display.warning("bifrost: the Python library jsonschema is missing on the controller; config.json is not "
                        "validated against its schema")
        return []
    cls = jsonschema.validators.validator_for(schema)
    errors = sorted(cls(schema).iter_errors(document), key=lambda err: [str(p) for p in err.absolute_path])
    return ["%s: %s" % ("/".join(str(p) for p in err.absolute_path) or "(top level)", err.message) for err in errors]


class FilterModule(object):
    def filters(self):
        return {
            "bifrost_config_sections": bifrost_config_sections,
            "bifrost_env_file": systemd_env_file,
            "json_schema_errors": json_schema_errors,
        }
