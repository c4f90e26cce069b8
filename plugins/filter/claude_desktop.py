# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the claude_desktop role: where each file lives, and what the role merges into it.

All of the role's decisions live here (plain Python, unit-tested in tests/unit/plugins/filter/), so the role's tasks
only hand the results to json_merge. Error messages name the user and the key, never a virtual key's value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ntpath
import posixpath
import re
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

# Environment variable names Claude Code accepts in `env` (the settings schema's propertyNames pattern).
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# An MCP server name is used in a dotted key path (secret_keys), so no dots.
SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
# Settings that require a first-party login and so block ANTHROPIC_AUTH_TOKEN (Claude Code's llm-gateway-rollout page).
LOCKOUT_KEYS = ("forceLoginMethod", "forceLoginOrgUUID")
MODEL_ENV = (
    ("sonnet", "ANTHROPIC_DEFAULT_SONNET_MODEL"),
    ("opus", "ANTHROPIC_DEFAULT_OPUS_MODEL"),
    ("haiku", "ANTHROPIC_DEFAULT_HAIKU_MODEL"),
    ("default", "ANTHROPIC_MODEL"),
)
LOCAL_HOSTS = ("localhost", "127.0.0.1")
PROVIDER_MODES = ("gateway", "bedrock", "vertex")


def os_kind(os_family):
    """'windows', 'macos' or 'linux' (any other POSIX family) for an Ansible os_family fact."""
    family = str(os_family or "").lower()
    if not family:
        raise AnsibleFilterError("claude_desktop: the OS family is unknown; set claude_desktop_os_family or gather facts")
    if family == "windows":
        return "windows"
    if family in ("darwin", "macosx", "macos"):
        return "macos"
    return "linux"


def _join(kind):
    return ntpath.join if kind == "windows" else posixpath.join


def default_home(os_family, name):
    kind = os_kind(os_family)
    if kind == "windows":
        return "C:\\Users\\" + name
    if kind == "macos":
        return "/Users/" + name
    return "/home/" + name


def claude_paths(os_family, name, home=None, overrides=None):
    """Paths of one user's files and of the machine-wide managed settings.

    overrides (all optional; empty values mean the platform default):
      settings_path, desktop_config_path: templates that may use {home} and {name};
      managed_settings_dir; managed_settings_mode (dropin|file); managed_settings_dropin_name.
    Returns a dict: home, settings, desktop_config, msix_packages_dir (Windows only, else None), managed_settings_dir,
    managed_settings (the file the role writes, per mode).
    """
    overrides = overrides or {}
    kind = os_kind(os_family)
    join = _join(kind)
    home = home or default_home(os_family, name)
    if kind == "windows":
        desktop = join(home, "AppData", "Roaming", "Claude", "claude_desktop_config.json")
        managed_dir = "C:\\Program Files\\ClaudeCode"
        msix = join(home, "AppData", "Local", "Packages")
    elif kind == "macos":
        desktop = join(home, "Library", "Application Support", "Claude", "claude_desktop_config.json")
        managed_dir = "/Library/Application Support/ClaudeCode"
        msix = None
    else:
        desktop = join(home, ".config", "Claude", "claude_desktop_config.json")
        managed_dir = "/etc/claude-code"
        msix = None
    settings = join(home, ".claude", "settings.json")

    def pick(key, default):
        value = overrides.get(key)
        return value.format(home=home, name=name) if value else default

    managed_dir = overrides.get("managed_settings_dir") or managed_dir
    mode = overrides.get("managed_settings_mode") or "dropin"
    if mode not in ("dropin", "file"):
        raise AnsibleFilterError("claude_desktop: managed settings mode must be dropin or file, not %r" % (mode,))
    if mode == "file":
        managed = join(managed_dir, "managed-settings.json")
    else:
        managed = join(managed_dir, "managed-settings.d", overrides.get("managed_settings_dropin_name") or "50-aigateway.json")
    return {
        "home": home,
        "settings": pick("settings_path", settings),
        "desktop_config": pick("desktop_config_path", desktop),
        "msix_packages_dir": msix,
        "managed_settings_dir": managed_dir,
        "managed_settings": managed,
    }


def msix_desktop_configs(packages_dir, found_dirs):
    """Claude Desktop (MSIX) config paths for the package directories found under one user's Packages dir."""
    prefix = packages_dir.rstrip("\\").lower() + "\\"
    paths = []
    for found in sorted(found_dirs or []):
        found = str(found).rstrip("\\")
        if found.lower().startswith(prefix) and ntpath.basename(found).lower().startswith("claude_"):
            paths.append(ntpath.join(found, "LocalCache", "Roaming", "Claude", "claude_desktop_config.json"))
    return paths


def env_string(value, where):
    """An env value as Claude Code wants it: a string. true/false become "1"/"0"; None stays None (removes the key)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return str(value)
    raise AnsibleFilterError(
        "claude_desktop: %s must be a string, number or boolean, not %s" % (where, type(value).__name__)
    )


def env_block(env, where):
    """Validate and stringify one env mapping."""
    if env is None:
        return {}
    if not isinstance(env, dict):
        raise AnsibleFilterError("claude_desktop: %s must be a mapping, not %s" % (where, type(env).__name__))
    result = {}
    for key, value in env.items():
        if not isinstance(key, str) or not ENV_NAME.match(key):
            raise AnsibleFilterError(
                "claude_desktop: %s has the variable name %r; names must match %s" % (where, key, ENV_NAME.pattern)
            )
        result[key] = env_string(value, "%s.%s" % (where, key))
    return result


def deep_merge(base, patch):
    """A new dict: patch merged into base recursively (patch wins; lists are replaced)."""
    result = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = value
    return result


def refuse_lockout(settings, where):
    """Fail on settings that force a first-party login: they block the gateway token (never beside a gateway)."""
    found = [key for key in LOCKOUT_KEYS if settings.get(key) is not None]
    if found:
        raise AnsibleFilterError(
            "claude_desktop: %s sets %s, which forces a claude.ai/Console login and blocks ANTHROPIC_AUTH_TOKEN, "
            "so users would be locked out of the gateway; remove it" % (where, " and ".join(found))
        )


def gateway_base(url):
    """The gateway URL without a trailing slash, checked: http(s), a host, no query or fragment."""
    if not isinstance(url, str) or not url:
        raise AnsibleFilterError("claude_desktop: claude_desktop_gateway_url is required (e.g. http://gw.example.internal:8080)")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise AnsibleFilterError(
            "claude_desktop: claude_desktop_gateway_url must be an http(s) URL without query or fragment, not %r" % (url,)
        )
    return url.rstrip("/")


def needs_allow_http(url):
    """mcp-remote refuses plain http to any host but localhost/127.0.0.1 unless given --allow-http."""
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS


def provider_env(base, options):
    """Claude Code's own cloud-provider switches (UNVERIFIED against Bifrost; never the default)."""
    mode = options.get("provider_mode") or "gateway"
    if mode not in PROVIDER_MODES:
        raise AnsibleFilterError(
            "claude_desktop: claude_desktop_provider_mode must be one of %s, not %r" % (", ".join(PROVIDER_MODES), mode)
        )
    if mode == "bedrock":
        return {
            "CLAUDE_CODE_USE_BEDROCK": "1",
            "ANTHROPIC_BEDROCK_BASE_URL": base + "/bedrock",
            "CLAUDE_CODE_SKIP_BEDROCK_AUTH": "1",
        }
    if mode == "vertex":
        env = {
            "CLAUDE_CODE_USE_VERTEX": "1",
            "ANTHROPIC_VERTEX_BASE_URL": base + "/genai",
            "CLAUDE_CODE_SKIP_VERTEX_AUTH": "1",
        }
        if options.get("vertex_project_id"):
            env["ANTHROPIC_VERTEX_PROJECT_ID"] = str(options["vertex_project_id"])
        if options.get("vertex_region"):
            env["CLOUD_ML_REGION"] = str(options["vertex_region"])
        return env
    return {}


def model_env(models, where):
    if models is None:
        return {}
    if not isinstance(models, dict):
        raise AnsibleFilterError("claude_desktop: %s must be a mapping of sonnet/opus/haiku/default" % where)
    unknown = sorted(set(models) - set(tier for tier, dummy in MODEL_ENV))
    if unknown:
        raise AnsibleFilterError(
            "claude_desktop: %s has unknown model tiers %s (use sonnet, opus, haiku, default)" % (where, unknown)
        )
    return dict(
        (var, env_string(models[tier], "%s.%s" % (where, tier))) for tier, var in MODEL_ENV if models.get(tier) not in (None, "")
    )


def _mapping(value, where):
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise AnsibleFilterError("claude_desktop: %s must be a mapping, not %s" % (where, type(value).__name__))
    return value


def _settings_with_env(settings, env_parts, where):
    """settings (a dict whose own `env` is validated too) with the env parts merged into its `env`, in order."""
    rest = dict(settings)
    env = env_block(rest.pop("env", None), where + ".env")
    for part in env_parts:
        env.update(part)
    # env first, so a file the role creates reads top-down: where, who, which models, then the rest.
    content = {"env": env}
    content.update(rest)
    return content


def managed_settings_content(gateway_url, options=None):
    """The machine-wide managed settings: gateway URL, global model pins, provider switches, extra content."""
    options = options or {}
    base = gateway_base(gateway_url)
    extra = _mapping(options.get("managed_settings_content"), "claude_desktop_managed_settings_content")
    content = _settings_with_env(extra, [], "claude_desktop_managed_settings_content")
    gateway_env = {"ANTHROPIC_BASE_URL": base + "/anthropic"}
    gateway_env.update(provider_env(base, options))
    gateway_env.update(model_env(options.get("models"), "claude_desktop_models"))
    gateway_env.update(content["env"])
    content["env"] = gateway_env
    refuse_lockout(content, "claude_desktop_managed_settings_content")
    return content


def user_settings_content(user, key, base, options):
    """What the role merges into one user's ~/.claude/settings.json (later parts win)."""
    name = user["name"]
    where = "claude_desktop_users[%s]" % name
    gateway_env = {"ANTHROPIC_BASE_URL": base + "/anthropic", "ANTHROPIC_AUTH_TOKEN": key}
    gateway_env.update(provider_env(base, options))
    gateway_env.update(model_env(options.get("models"), "claude_desktop_models"))
    gateway_env.update(model_env(user.get("models"), where + ".models"))
    global_settings = _mapping(options.get("settings"), "claude_desktop_settings")
    user_settings = _mapping(user.get("settings"), where + ".settings")
    settings = deep_merge(global_settings, user_settings)
    content = _settings_with_env(
        settings,
        [
            gateway_env,
            env_block(options.get("env"), "claude_desktop_env"),
            env_block(user.get("env"), where + ".env"),
        ],
        where + ".settings",
    )
    # The gateway's entries first within env.
    env = dict(gateway_env)
    env.update(content["env"])
    content["env"] = env
    refuse_lockout(content, "the settings for user %s (claude_desktop_settings or the user's settings)" % name)
    return content


def desktop_config_content(key, base, options):
    """The mcpServers entry that reaches the gateway's /mcp through the mcp-remote stdio bridge."""
    server = options.get("mcp_server_name") or "bifrost"
    if not SERVER_NAME.match(server):
        raise AnsibleFilterError("claude_desktop: claude_desktop_mcp_server_name must match %s" % SERVER_NAME.pattern)
    url = base + "/mcp"
    args = ["-y", options.get("mcp_remote_package") or "mcp-remote", url, "--header", "Authorization:${AUTH_HEADER}"]
    if needs_allow_http(url):
        args.append("--allow-http")
    args.extend(str(arg) for arg in options.get("mcp_remote_extra_args") or [])
    entry = {"command": options.get("mcp_command") or "npx", "args": args, "env": {"AUTH_HEADER": "Bearer " + key}}
    return {"mcpServers": {server: entry}}


def _user_key(user, keys, state):
    if state == "absent":
        # Removal takes the role's keys whatever their values, so no key is resolved (or generated) for it.
        return ""
    if user.get("virtual_key"):
        return str(user["virtual_key"])
    key_name = user.get("virtual_key_name")
    if key_name:
        if key_name not in keys:
            raise AnsibleFilterError(
                "claude_desktop: user %s refers to the virtual key %r, which was not resolved" % (user["name"], key_name)
            )
        return str(keys[key_name])
    raise AnsibleFilterError("claude_desktop: user %s needs virtual_key or virtual_key_name" % user["name"])


def _check_users(users):
    if not isinstance(users, list):
        raise AnsibleFilterError("claude_desktop: claude_desktop_users must be a list")
    seen = set()
    for index, user in enumerate(users):
        if not isinstance(user, dict) or not isinstance(user.get("name"), str) or not user.get("name"):
            raise AnsibleFilterError("claude_desktop: claude_desktop_users[%d] needs a name" % index)
        if user["name"] in seen:
            raise AnsibleFilterError("claude_desktop: user %s is listed twice in claude_desktop_users" % user["name"])
        seen.add(user["name"])
        if user.get("virtual_key") and user.get("virtual_key_name"):
            raise AnsibleFilterError(
                "claude_desktop: user %s sets both virtual_key and virtual_key_name; keep one" % user["name"]
            )


def claude_desktop_plan(users, os_family, gateway_url, keys=None, accounts=None, options=None):
    """Every file the role writes on one host, as json_merge `files` entries.

    users: claude_desktop_users; keys: resolved virtual keys by name; accounts: getent passwd facts
    (name -> [pw, uid, gid, gecos, home, shell]; empty where not gathered); options: the role's other variables
    (see roles/claude_desktop/vars/main.yml). Returns settings_files, desktop_files, managed_files (lists),
    users and skipped_users (names).
    """
    options = options or {}
    keys = keys or {}
    accounts = accounts or {}
    _check_users(users)
    kind = os_kind(os_family)
    base = gateway_base(gateway_url)
    secret_env = [str(k) for k in options.get("secret_env_keys") or []]
    overrides = dict((k, options.get(k)) for k in (
        "settings_path", "desktop_config_path", "managed_settings_dir", "managed_settings_mode", "managed_settings_dropin_name"))
    plan = {"settings_files": [], "desktop_files": [], "managed_files": [], "msix_packages_dirs": [], "users": [],
            "skipped_users": []}

    for user in users:
        name = user["name"]
        account = accounts.get(name)
        if accounts and account is None and not user.get("home"):
            if options.get("skip_missing_users"):
                plan["skipped_users"].append(name)
                continue
            raise AnsibleFilterError(
                "claude_desktop: user %s has no account on this host (set claude_desktop_skip_missing_users "
                "to skip such users, or give the user a home)" % name
            )
        home = user.get("home") or (account[4] if account else None)
        paths = claude_paths(os_family, name, home, overrides)
        key = _user_key(user, keys, options.get("state") or "present")
        owner = group = mode = None
        if kind != "windows":
            owner = name
            group = user.get("group") or (str(account[2]) if account else ("staff" if kind == "macos" else None))
            mode = "0600"

        attributes = {"owner": owner, "group": group, "mode": mode}
        if kind != "windows":
            # One json_merge run writes every file of the host, so each entry says how to create its directories.
            attributes["dir_mode"] = "0700"
        settings = user_settings_content(user, key, base, options)
        secrets = ["env." + k for k in ["ANTHROPIC_AUTH_TOKEN"] + secret_env if k in settings["env"]]
        plan["settings_files"].append(dict(attributes, path=paths["settings"], content=settings, secret_keys=sorted(set(secrets))))

        if options.get("chat_enabled", True) and user.get("chat_enabled", True):
            desktop = desktop_config_content(key, base, options)
            server = list(desktop["mcpServers"])[0]
            secret_keys = ["mcpServers.%s.env.AUTH_HEADER" % server]
            targets = [paths["desktop_config"]]
            if kind == "windows" and options.get("desktop_config_msix", True):
                plan["msix_packages_dirs"].append(paths["msix_packages_dir"])
                targets += msix_desktop_configs(paths["msix_packages_dir"], options.get("msix_dirs"))
            for target in targets:
                plan["desktop_files"].append(dict(attributes, path=target, content=desktop, secret_keys=secret_keys))
        plan["users"].append(name)

    if options.get("managed_settings"):
        paths = claude_paths(os_family, "root", None, overrides)
        owner, group, mode = (None, None, None) if kind == "windows" else ("root", "wheel" if kind == "macos" else "root", "0644")
        content = managed_settings_content(gateway_url, options)
        plan["managed_files"].append({
            "path": paths["managed_settings"],
            "content": content,
            "owner": owner, "group": group, "mode": mode,
            "secret_keys": sorted(set("env." + k for k in ["ANTHROPIC_AUTH_TOKEN"] + secret_env if k in content["env"])),
        })
        if kind != "windows":
            plan["managed_files"][-1]["dir_mode"] = "0755"
    return plan


class FilterModule(object):
    def filters(self):
        return {
            "claude_paths": claude_paths,
            "claude_desktop_plan": claude_desktop_plan,
        }
