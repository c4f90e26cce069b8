# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the claude_desktop role: where each file lives, and what the role merges into it.

All of the role's decisions live here (plain Python, unit-tested in tests/unit/plugins/filter/), so the role's tasks
only hand the results to json_merge. Error messages name the user and the key, never a virtual key's value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import ntpath
import posixpath
import re
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display
from ansible_collections.aigateway.bifrost.plugins.module_utils.claude_policy import (
    lockout_findings,
    lockout_message,
    texts_report,
)
from ansible_collections.aigateway.bifrost.plugins.module_utils.dicts import deep_merge

# Environment variable names Claude Code accepts in `env` (the settings schema's propertyNames pattern).
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
# An MCP server name is used in a dotted key path (secret_keys), so no dots.
SERVER_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
# Model tiers and the variables the CLI reads for them (names checked in Claude Code 2.1.328 and 2.1.337). `default` is
# the model a session starts on: ANTHROPIC_MODEL beats the settings key `model`; only --model (and /model) beat it.
MODEL_ENV = (
    ("sonnet", "ANTHROPIC_DEFAULT_SONNET_MODEL"),
    ("opus", "ANTHROPIC_DEFAULT_OPUS_MODEL"),
    ("haiku", "ANTHROPIC_DEFAULT_HAIKU_MODEL"),
    ("fable", "ANTHROPIC_DEFAULT_FABLE_MODEL"),
    ("default", "ANTHROPIC_MODEL"),
)
LOCAL_HOSTS = ("localhost", "127.0.0.1")
PROVIDER_MODES = ("gateway",)
# Claude Code's own cloud-provider switches, which 1.0.0 pre-releases of the role could write (provider_mode bedrock or
# vertex). A switch left behind makes the CLI bypass <url>/anthropic, so the role always removes them.
STALE_PROVIDER_ENV = (
    "CLAUDE_CODE_USE_BEDROCK", "ANTHROPIC_BEDROCK_BASE_URL", "CLAUDE_CODE_SKIP_BEDROCK_AUTH",
    "CLAUDE_CODE_USE_VERTEX", "ANTHROPIC_VERTEX_BASE_URL", "CLAUDE_CODE_SKIP_VERTEX_AUTH",
)
CREDENTIAL_MODES = ("static", "helper")


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
    claude_json = join(home, ".claude.json")

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
        "claude_json": claude_json,
        "msix_packages_dir": msix,
        "managed_settings_dir": managed_dir,
        "managed_settings": managed,
        "managed_mcp": join(managed_dir, "managed-mcp.json"),
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


def refuse_lockout(settings, where):
    """Fail on managed settings that lock gateway users out (the rules: module_utils/claude_policy.py).

    Only for the managed drop-in the role writes: the same keys in a user's own settings.json lock nobody out.
    """
    found = lockout_findings(settings)
    if found:
        raise AnsibleFilterError(
            "claude_desktop: %s sets %s in the managed settings, which locks users out of the gateway (%s); remove it"
            % (where, " and ".join(key for key, dummy in found), "; ".join(reason for dummy, reason in found))
        )


def claude_policy_windows_files(found, managed_dir, own_dropin=None):
    """The Windows managed files Claude Code reads, in its order, from win_find's `files` (dicts with `path`):
    managed-settings.json, then managed-settings.d/*.json sorted (not starting with a dot), without the role's drop-in."""
    main = ntpath.join(managed_dir, "managed-settings.json").lower()
    dropins = ntpath.join(managed_dir, "managed-settings.d").lower()
    own = (own_dropin or "").lower()
    paths = sorted(set(str(item["path"] if isinstance(item, dict) else item) for item in found or []))
    first = [p for p in paths if p.lower() == main]
    rest = [p for p in paths if ntpath.dirname(p).lower() == dropins and p.lower().endswith(".json")
            and not ntpath.basename(p).startswith(".") and p.lower() != own]
    return first + sorted(rest, key=ntpath.basename)


def claude_policy_windows_sources(registry_results, slurp_results):
    """[{path, kind, text}] from win_reg_stat loop results (HKLM, HKCU) and slurp loop results of the managed files."""
    sources = []
    for result in registry_results or []:
        if not result.get("exists"):
            continue
        hive = str(result.get("item", ""))
        kind = "windows_hklm" if hive.upper().startswith("HKLM") else "windows_hkcu"
        sources.append({"path": hive + "\\Settings", "kind": kind, "text": str(result.get("value") or "")})
    for result in slurp_results or []:
        if "content" not in result:
            continue
        path = str(result.get("item") or result.get("source"))
        try:
            text = base64.b64decode(result["content"]).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            text = "\x00not UTF-8"
        kind = "file" if ntpath.basename(path).lower() == "managed-settings.json" else "dropin"
        sources.append({"path": path, "kind": kind, "text": text})
    return sources


def claude_policy_report(sources, lockout_action="fail", warn_when_outranked=False):
    """The claude_policy_info report for sources read elsewhere (Windows): a list of {path, kind, text}.

    Fails with lockout_action=fail, naming each source and key; adds `warnings` (messages) otherwise.
    """
    result = texts_report(sources or [])
    warnings = []
    if warn_when_outranked and result["os_policy_outranks_files"]:
        warnings.append(
            "%s outranks the managed settings files on this host, so Claude Code ignores managed-settings.json and its "
            "drop-ins (the gateway's managed drop-in included)" % " and ".join(result["outranking_sources"])
        )
    if result["lockouts"]:
        message = "Claude Code managed policy on this host locks gateway users out: %s" % lockout_message(result)
        if lockout_action == "fail":
            raise AnsibleFilterError("claude_desktop: " + message + "; nothing was written")
        warnings.append(message)
    result["warnings"] = warnings
    return result


# Anything outside printable ASCII, or a space: a URL the role writes into other programs' configs must be plain.
URL_FORBIDDEN = re.compile(r"[^\x21-\x7e]")


def gateway_base(url):
    """The gateway URL, checked strictly: http(s)://host[:port] and nothing else (a trailing slash is dropped).

    Claude Code gets <url>/anthropic and mcp-remote <url>/mcp, so a path, query, fragment or userinfo would end up in
    the wrong place (or put a password into every user's file); whitespace and control characters never belong.
    """
    name = "claude_desktop_gateway_url"
    if not isinstance(url, str) or not url:
        raise AnsibleFilterError("claude_desktop: %s is required (e.g. http://gw.example.internal:8080)" % name)
    if URL_FORBIDDEN.search(url):
        raise AnsibleFilterError(
            "claude_desktop: %s must not contain whitespace, control or non-ASCII characters, not %r" % (name, url)
        )
    base = url[:-1] if url.endswith("/") else url
    parts = urlsplit(base)
    problem = None
    if base.split(":", 1)[0] not in ("http", "https"):
        problem = "the scheme must be http or https"
    elif "@" in parts.netloc:
        problem = "it must not contain a user or password"
    elif not parts.hostname:
        problem = "it needs a host"
    elif parts.path or parts.query or parts.fragment or "?" in base or "#" in base:
        problem = "it must not have a path, query or fragment (the role adds /anthropic and /mcp)"
    else:
        try:
            port = parts.port
        except ValueError:
            port = 0
        if port == 0 or base.endswith(":"):
            problem = "the port must be a number from 1 to 65535"
    if problem:
        raise AnsibleFilterError(
            "claude_desktop: %s must be http(s)://host[:port]; %s, not %r" % (name, problem, url)
        )
    return base


def needs_allow_http(url):
    """mcp-remote refuses plain http to any host but localhost/127.0.0.1 unless given --allow-http."""
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS


def provider_env(base, options):
    """Only the gateway mode: Claude Code's Bedrock and Vertex switches against Bifrost's /bedrock and /genai routes
    were never verified with the real CLI, so they are refused. The stale switches are removed (None deletes)."""
    mode = options.get("provider_mode") or "gateway"
    if mode not in PROVIDER_MODES:
        raise AnsibleFilterError(
            "claude_desktop: claude_desktop_provider_mode %r is no longer supported (Claude Code's own Bedrock/Vertex "
            "switches against the gateway were never verified); use gateway and route with provider-prefixed model "
            "names such as bedrock/global.anthropic.claude-sonnet-4-6 or vertex/claude-sonnet-4-6" % (mode,)
        )
    return dict((name, None) for name in STALE_PROVIDER_ENV)


def model_env(models, where):
    if models is None:
        return {}
    tiers = [tier for tier, dummy in MODEL_ENV]
    if not isinstance(models, dict):
        raise AnsibleFilterError("claude_desktop: %s must be a mapping of %s" % (where, "/".join(tiers)))
    unknown = sorted(set(models) - set(tiers))
    if unknown:
        raise AnsibleFilterError(
            "claude_desktop: %s has unknown model tiers %s (use %s)" % (where, unknown, ", ".join(tiers))
        )
    return dict(
        (var, env_string(models[tier], "%s.%s" % (where, tier))) for tier, var in MODEL_ENV if models.get(tier) not in (None, "")
    )


def models_lock(options, users):
    """The managed settings that lock the model choice to the pinned models and the provider to the gateway:
    allowedProviders [customEndpoint] (the pinned ANTHROPIC_BASE_URL), availableModels and enforceAvailableModels."""
    pinned = []
    for models in [options.get("models")] + [user.get("models") for user in users]:
        env = model_env(models, "claude_desktop_models")
        for value in (env.get(pair[1]) for pair in MODEL_ENV):
            if value and value not in pinned:
                pinned.append(value)
    if not pinned:
        raise AnsibleFilterError("claude_desktop: claude_desktop_models_lock needs model pins in claude_desktop_models")
    return {"allowedProviders": ["customEndpoint"], "availableModels": pinned, "enforceAvailableModels": True}


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


def credential_mode(options):
    mode = options.get("credential_mode") or "static"
    if mode not in CREDENTIAL_MODES:
        raise AnsibleFilterError(
            "claude_desktop: claude_desktop_credential_mode must be one of %s, not %r" % (", ".join(CREDENTIAL_MODES), mode)
        )
    if mode == "helper" and not options.get("api_key_helper"):
        raise AnsibleFilterError(
            "claude_desktop: claude_desktop_credential_mode helper needs claude_desktop_api_key_helper (the command "
            "that prints the user's gateway key)"
        )
    return mode


def credential_settings(key, options):
    """The credential part of a user's settings: a static token or an apiKeyHelper command, never both (the other
    one is removed, so switching modes leaves nothing stale)."""
    if credential_mode(options) == "helper":
        ttl = options.get("api_key_helper_ttl_ms")
        return {
            "apiKeyHelper": str(options["api_key_helper"]),
            "env": {"ANTHROPIC_AUTH_TOKEN": None,
                    "CLAUDE_CODE_API_KEY_HELPER_TTL_MS": env_string(ttl, "claude_desktop_api_key_helper_ttl_ms") if ttl else None},
        }
    return {"apiKeyHelper": None, "env": {"ANTHROPIC_AUTH_TOKEN": key, "CLAUDE_CODE_API_KEY_HELPER_TTL_MS": None}}


def common_env(options):
    """Private CA bundle and telemetry, for Claude Code's env (the CA also goes into the mcp-remote entry)."""
    env = {}
    if options.get("ca_bundle"):
        env["NODE_EXTRA_CA_CERTS"] = str(options["ca_bundle"])
    telemetry = env_block(options.get("telemetry_env"), "claude_desktop_telemetry_env")
    bad = sorted(name for name in telemetry if not name.startswith("OTEL_"))
    if bad:
        raise AnsibleFilterError("claude_desktop: claude_desktop_telemetry_env takes OTEL_* variables only, not %s" % bad)
    if options.get("telemetry"):
        env["CLAUDE_CODE_ENABLE_TELEMETRY"] = "1"
        env.update(telemetry)
    elif telemetry:
        raise AnsibleFilterError("claude_desktop: claude_desktop_telemetry_env is set but claude_desktop_telemetry is off")
    return env


def managed_settings_content(gateway_url, options=None, users=None):
    """The machine-wide managed settings: gateway URL, global model pins, the optional model lock, extra content."""
    options = options or {}
    base = gateway_base(gateway_url)
    extra = _mapping(options.get("managed_settings_content"), "claude_desktop_managed_settings_content")
    if options.get("models_lock"):
        extra = deep_merge(models_lock(options, users or []), extra)
    content = _settings_with_env(extra, [], "claude_desktop_managed_settings_content")
    gateway_env = {"ANTHROPIC_BASE_URL": base + "/anthropic"}
    provider_env(base, options)  # refuses the former modes; the stale switches are removed by the plan's entry
    gateway_env.update(model_env(options.get("models"), "claude_desktop_models"))
    gateway_env.update(content["env"])
    content["env"] = gateway_env
    refuse_lockout(content, "claude_desktop_managed_settings_content")
    return content


def warn_ignored_user_models(user, options):
    """Managed env beats the user's file: a user's pin for a tier the managed settings pin too never takes effect."""
    if not options.get("managed_settings"):
        return
    managed = model_env(options.get("models"), "claude_desktop_models")
    mine = model_env(user.get("models"), "claude_desktop_users[%s].models" % user["name"])
    ignored = sorted(var for var, value in mine.items() if var in managed and managed[var] != value)
    if ignored:
        Display().warning(
            "claude_desktop: claude_desktop_users[%s].models sets %s, but the managed settings pin %s for every user "
            "of the host (claude_desktop_models with claude_desktop_managed_settings), and managed settings win: the "
            "user's pin has no effect" % (user["name"], ", ".join(ignored), "it" if len(ignored) == 1 else "them")
        )


def user_settings_content(user, key, base, options):
    """What the role merges into one user's ~/.claude/settings.json (later parts win)."""
    name = user["name"]
    where = "claude_desktop_users[%s]" % name
    credentials = credential_settings(key, options)
    gateway_env = {"ANTHROPIC_BASE_URL": base + "/anthropic"}
    gateway_env.update(credentials.pop("env"))
    gateway_env.update(provider_env(base, options))
    gateway_env.update(model_env(options.get("models"), "claude_desktop_models"))
    gateway_env.update(model_env(user.get("models"), where + ".models"))
    gateway_env.update(common_env(options))
    warn_ignored_user_models(user, options)
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
    content.update(credentials)
    return content


def server_name(options):
    server = options.get("mcp_server_name") or "bifrost"
    if not SERVER_NAME.match(server):
        raise AnsibleFilterError("claude_desktop: claude_desktop_mcp_server_name must match %s" % SERVER_NAME.pattern)
    return server


def mcp_remote_spec(options):
    """The npx package spec: the package pinned to claude_desktop_mcp_remote_version (empty: unpinned)."""
    package = options.get("mcp_remote_package") or "mcp-remote"
    version = str(options.get("mcp_remote_version") or "")
    if not version:
        return package
    if "@" in package.lstrip("@"):
        raise AnsibleFilterError(
            "claude_desktop: claude_desktop_mcp_remote_package %r already has a version; set the version in "
            "claude_desktop_mcp_remote_version only" % (package,)
        )
    return "%s@%s" % (package, version)


def desktop_config_content(key, base, options):
    """The mcpServers entry that reaches the gateway's /mcp through the mcp-remote stdio bridge."""
    server = server_name(options)
    url = base + "/mcp"
    command = options.get("mcp_command") or "npx"
    # npx fetches the pinned version (it needs the registry or its cache); any other command is an installed
    # mcp-remote binary (air-gapped hosts), pinned by whatever version was installed.
    if ntpath.basename(posixpath.basename(command)).lower() in ("npx", "npx.cmd", "npx.exe"):
        args = ["-y", mcp_remote_spec(options), url]
    else:
        args = [url]
    args += ["--header", "Authorization:${AUTH_HEADER}"]
    if needs_allow_http(url):
        args.append("--allow-http")
    args.extend(str(arg) for arg in options.get("mcp_remote_extra_args") or [])
    env = {"AUTH_HEADER": "Bearer " + key}
    if options.get("ca_bundle"):
        env["NODE_EXTRA_CA_CERTS"] = str(options["ca_bundle"])
    entry = {"command": command, "args": args, "env": env}
    return {"mcpServers": {server: entry}}


def code_mcp_entry(key, base, options, managed=False):
    """Claude Code's (the Code tab's) HTTP MCP entry for the gateway's /mcp.

    static: the user's key in the Authorization header (user scope, ~/.claude.json). helper: headersHelper, the only
    way for the machine-wide managed-mcp.json, which every user can read: it cannot hold a key, and Claude Code expands
    ${VAR} there from its process environment only, not from the user's settings env (checked with the real CLI
    2.1.328: a `Bearer ${ANTHROPIC_AUTH_TOKEN}` header reached the gateway without the key).
    """
    entry = {"type": "http", "url": base + "/mcp"}
    if credential_mode(options) == "helper":
        helper = options.get("mcp_headers_helper")
        if not helper:
            raise AnsibleFilterError(
                "claude_desktop: claude_desktop_credential_mode helper with the Code tab MCP server needs "
                "claude_desktop_mcp_headers_helper (a command printing {\"Authorization\": \"Bearer <key>\"}), or "
                "set claude_desktop_code_mcp_enabled: false"
            )
        entry.update(headers=None, headersHelper=str(helper))
    elif managed:
        raise AnsibleFilterError(
            "claude_desktop: claude_desktop_code_mcp_managed needs claude_desktop_credential_mode helper with "
            "claude_desktop_mcp_headers_helper: managed-mcp.json is readable by every user, so it cannot hold a key, "
            "and Claude Code does not expand ${ANTHROPIC_AUTH_TOKEN} there from the user's settings; leave "
            "claude_desktop_code_mcp_managed false to write each user's own ~/.claude.json"
        )
    else:
        entry.update(headers={"Authorization": "Bearer " + key}, headersHelper=None)
    return entry


def _user_key(user, keys, state, mode="static"):
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
    if mode == "helper":
        return None
    raise AnsibleFilterError("claude_desktop: user %s needs virtual_key or virtual_key_name" % user["name"])


def windows_profiles(found):
    """Account name -> profile path, from the role's ProfileList read (items with `account` DOMAIN\\name and `path`).

    Keys are lower case, both DOMAIN\\name and the bare name; a bare name two domains share is left out (ambiguous)."""
    profiles = {}
    bare = {}
    for item in found or []:
        account, path = item.get("account"), item.get("path")
        if not account or not path:
            continue
        account, path = str(account), str(path)
        profiles[account.lower()] = path
        name = account.rsplit("\\", 1)[-1].lower()
        bare.setdefault(name, set()).add(path)
    for name, paths in bare.items():
        if len(paths) == 1 and name not in profiles:
            profiles[name] = paths.pop()
    return profiles


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
    plan = {"settings_files": [], "desktop_files": [], "code_files": [], "managed_files": [], "msix_packages_dirs": [],
            "users": [], "skipped_users": []}
    state = options.get("state") or "present"
    mode = credential_mode(options) if state == "present" else options.get("credential_mode") or "static"
    code_mcp = options.get("code_mcp_enabled", True)
    code_mcp_managed = bool(code_mcp and options.get("code_mcp_managed"))
    if options.get("models_lock") and not options.get("managed_settings"):
        raise AnsibleFilterError("claude_desktop: claude_desktop_models_lock needs claude_desktop_managed_settings: true")
    profiles = windows_profiles(options.get("windows_profiles")) if kind == "windows" else {}

    for user in users:
        name = user["name"]
        account = accounts.get(name)
        if kind == "windows":
            # Never guessed (domain profiles are C:\\Users\\name.DOMAIN, profiles can be moved): ProfileList says.
            account = profiles.get(name.lower())
            known = bool(profiles)
        else:
            known = bool(accounts)
        if known and account is None and not user.get("home"):
            if options.get("skip_missing_users"):
                plan["skipped_users"].append(name)
                continue
            raise AnsibleFilterError(
                "claude_desktop: user %s has no account%s on this host (set claude_desktop_skip_missing_users "
                "to skip such users, or give the user a home)" % (name, " profile" if kind == "windows" else "")
            )
        if kind == "windows":
            home = user.get("home") or account
            if not home:
                raise AnsibleFilterError(
                    "claude_desktop: the profile directory of user %s is unknown; give the user a home, or let the "
                    "role read the host's ProfileList (claude_desktop_os_family unset or Windows)" % name
                )
        else:
            home = user.get("home") or (account[4] if account else None)
        paths = claude_paths(os_family, name, home, overrides)
        key = _user_key(user, keys, state, mode)
        owner = group = file_mode = None
        if kind != "windows":
            owner = name
            group = user.get("group") or (str(account[2]) if account else ("staff" if kind == "macos" else None))
            file_mode = "0600"

        attributes = {"owner": owner, "group": group, "mode": file_mode}
        if kind != "windows":
            # One json_merge run writes every file of the host, so each entry says how to create its directories.
            attributes["dir_mode"] = "0700"
        settings = user_settings_content(user, key, base, options)
        # Every listed key is masked, also one the user wrote and the role does not (their own ANTHROPIC_API_KEY).
        secrets = ["env." + k for k in ["ANTHROPIC_AUTH_TOKEN"] + secret_env]
        plan["settings_files"].append(dict(attributes, path=paths["settings"], content=settings, secret_keys=sorted(set(secrets))))

        if options.get("chat_enabled", True) and user.get("chat_enabled", True):
            if key is None:
                raise AnsibleFilterError(
                    "claude_desktop: user %s has no virtual key, which the Chat tab's mcp-remote entry needs even in "
                    "helper mode (mcp-remote runs no helper); give one or set chat_enabled: false" % name
                )
            desktop = desktop_config_content(key, base, options)
            server = list(desktop["mcpServers"])[0]
            secret_keys = ["mcpServers.%s.env.AUTH_HEADER" % server]
            targets = [paths["desktop_config"]]
            if kind == "windows" and options.get("desktop_config_msix", True):
                plan["msix_packages_dirs"].append(paths["msix_packages_dir"])
                targets += msix_desktop_configs(paths["msix_packages_dir"], options.get("msix_dirs"))
            for target in targets:
                plan["desktop_files"].append(dict(attributes, path=target, content=desktop, secret_keys=secret_keys))

        if code_mcp and not code_mcp_managed and user.get("code_mcp_enabled", True):
            server = server_name(options)
            entry = code_mcp_entry(key, base, options)
            plan["code_files"].append(dict(
                attributes, path=paths["claude_json"], content={"mcpServers": {server: entry}},
                secret_keys=["mcpServers.%s.headers.Authorization" % server]))
        plan["users"].append(name)

    managed_attributes = {"owner": None, "group": None, "mode": None}
    if kind != "windows":
        managed_attributes = {"owner": "root", "group": "wheel" if kind == "macos" else "root", "mode": "0644",
                              "dir_mode": "0755"}
    paths = claude_paths(os_family, "root", None, overrides)
    if options.get("managed_settings"):
        content = managed_settings_content(gateway_url, options, users)
        # The content is also what the mdm filters deliver (no nulls there); in the file, stale switches go.
        content["env"] = dict(provider_env(base, options), **content["env"])
        plan["managed_files"].append(dict(
            managed_attributes, path=paths["managed_settings"], content=content,
            secret_keys=sorted(set("env." + k for k in ["ANTHROPIC_AUTH_TOKEN"] + secret_env if k in content["env"]))))
    if code_mcp_managed:
        # Every user can read this file: no key in it, only headersHelper (helper mode).
        entry = code_mcp_entry(None, base, options, managed=True)
        plan["managed_files"].append(dict(
            managed_attributes, path=paths["managed_mcp"], content={"mcpServers": {server_name(options): entry}},
            secret_keys=[]))
    return plan


class FilterModule(object):
    def filters(self):
        return {
            "claude_paths": claude_paths,
            "claude_gateway_url": gateway_base,
            "claude_policy_report": claude_policy_report,
            "claude_policy_windows_files": claude_policy_windows_files,
            "claude_policy_windows_sources": claude_policy_windows_sources,
            "claude_windows_profiles": windows_profiles,
            "claude_desktop_plan": claude_desktop_plan,
        }
