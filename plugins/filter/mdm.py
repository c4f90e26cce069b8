# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters behind the mdm playbook: the OS policy that Jamf, Kandji and Intune push, built from the role's variables.

Claude Code's settings come from the claude_desktop role's own builder (managed_settings_content in
plugins/filter/claude_desktop.py), so a file on disk, a macOS profile and a Windows policy carry the same settings.
Every artefact is a pure function of its inputs (sorted plist keys, UUIDs derived with uuid5), so the same inventory
gives byte-identical files and an MDM's change detection stays quiet. Error messages name the variable, never a key.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import plistlib
import uuid
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

from ansible_collections.aigateway.bifrost.plugins.filter.claude_desktop import (
    SERVER_NAME,
    env_block,
    gateway_base,
    managed_settings_content,
    model_env,
)
from ansible_collections.aigateway.bifrost.plugins.module_utils.dicts import deep_merge

CODE_DOMAIN = "com.anthropic.claudecode"
DESKTOP_DOMAIN = "com.anthropic.claudefordesktop"
CODE_REG_KEY = "HKLM\\SOFTWARE\\Policies\\ClaudeCode"
DESKTOP_REG_KEY = "HKLM\\SOFTWARE\\Policies\\Claude"
CREDENTIALS = ("none", "helper", "shared")
AUTH_SCHEMES = ("bearer", "x-api-key")
# The Desktop keys this collection owns under HKLM\SOFTWARE\Policies\Claude: a run that does not set one removes it,
# so a value dropped from the inventory does not linger on the machines.
DESKTOP_KEYS = (
    "inferenceProvider",
    "inferenceGatewayBaseUrl",
    "inferenceGatewayAuthScheme",
    "inferenceGatewayApiKey",
    "inferenceCredentialHelper",
    "inferenceCustomHeaders",
    "inferenceModels",
    "managedMcpServers",
)
MODEL_ORDER = ("default", "sonnet", "opus", "haiku")
# uuid5 namespace of this collection's payloads, unless mdm_uuid_namespace gives another.
DEFAULT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/aigateway/bifrost/mdm")


def _fail(message):
    raise AnsibleFilterError("mdm: " + message)


def _strip_none(value):
    """A plist has no null: drop None entries (the role's way of removing a key) everywhere."""
    if isinstance(value, dict):
        return dict((k, _strip_none(v)) for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return [_strip_none(v) for v in value if v is not None]
    return value


def _compact(value):
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def check_options(options):
    credential = options.get("credential") or "none"
    if credential not in CREDENTIALS:
        _fail("mdm_credential must be one of %s, not %r" % (", ".join(CREDENTIALS), credential))
    if credential == "helper" and not options.get("credential_helper"):
        _fail("mdm_credential=helper needs mdm_credential_helper (the path of the helper on the workstations)")
    if credential == "shared" and not options.get("shared_key"):
        _fail("mdm_credential=shared needs mdm_shared_virtual_key (or mdm_shared_virtual_key_name)")
    scheme = options.get("desktop_auth_scheme") or "bearer"
    if scheme not in AUTH_SCHEMES:
        _fail("mdm_desktop_auth_scheme must be one of %s, not %r" % (", ".join(AUTH_SCHEMES), scheme))
    return credential


def code_settings(gateway_url, options, user=None, key=None):
    """Claude Code's managed settings for the MDM (device scope, or one user's scope when user and key are given).

    The managed settings the role writes (gateway URL, model pins, provider switches, managed content), with the
    role's claude_desktop_env and claude_desktop_settings below them (an MDM-managed machine has no per-user file for
    them), then the credential: apiKeyHelper, the shared key, or (user scope) that user's key and model pins.
    """
    credential = check_options(options)
    user_level = dict(options.get("settings") or {})
    env = env_block(options.get("env"), "claude_desktop_env")
    env.update(env_block(user_level.pop("env", None), "claude_desktop_settings.env"))
    if env:
        user_level["env"] = env
    managed_extra = options.get("managed_settings_content") or {}
    if not isinstance(managed_extra, dict):
        _fail("claude_desktop_managed_settings_content must be a mapping")
    merged = dict(options, managed_settings_content=deep_merge(user_level, managed_extra))
    content = managed_settings_content(gateway_url, merged)
    if user is not None:
        content["env"].update(model_env(user.get("models"), "claude_desktop_users[%s].models" % user["name"]))
        content["env"]["ANTHROPIC_AUTH_TOKEN"] = key
    elif credential == "helper":
        content["apiKeyHelper"] = str(options["credential_helper"])
    elif credential == "shared":
        content["env"]["ANTHROPIC_AUTH_TOKEN"] = str(options["shared_key"])
    return _strip_none(content)


def desktop_models(options):
    """inferenceModels: mdm_desktop_models, else the model pins (default first: the first entry is the default)."""
    models = options.get("desktop_models")
    if models:
        if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
            _fail("mdm_desktop_models must be a list of model names")
        return list(models)
    pins = options.get("models") or {}
    result = []
    for tier in MODEL_ORDER:
        name = pins.get(tier)
        if name and name not in result:
            result.append(str(name))
    return result


def https_base(gateway_url):
    base = gateway_base(gateway_url)
    if urlsplit(base).scheme != "https":
        _fail("Claude Desktop's gateway mode needs an https:// gateway (inferenceGatewayBaseUrl), but "
              "claude_desktop_gateway_url is %r; serve the gateway over TLS or leave mdm_desktop_gateway off" % base)
    return base


def desktop_policy(gateway_url, options, key=None):
    """Claude Desktop's gateway mode (third-party inference): every value a string, as its policy domain requires.

    key: one user's key (user scope); None for the device scope, which gets the helper or the shared key.
    """
    credential = check_options(options)
    base = https_base(gateway_url)
    if key is None and credential == "shared":
        key = str(options["shared_key"])
    if key is None and credential != "helper":
        _fail("mdm_desktop_gateway needs a credential for Claude Desktop: set mdm_credential to helper or shared, "
              "or mdm_user_profiles to true (a user-scoped profile per user, carrying that user's key)")
    policy = {
        "inferenceProvider": "gateway",
        "inferenceGatewayBaseUrl": base + "/anthropic",
        "inferenceGatewayAuthScheme": options.get("desktop_auth_scheme") or "bearer",
    }
    if key is not None:
        policy["inferenceGatewayApiKey"] = key
    else:
        policy["inferenceCredentialHelper"] = str(options["credential_helper"])
    headers = options.get("desktop_headers") or {}
    if not isinstance(headers, dict):
        _fail("mdm_desktop_headers must be a mapping of header name to value")
    if headers:
        policy["inferenceCustomHeaders"] = _compact(dict((str(k), str(v)) for k, v in headers.items()))
    models = desktop_models(options)
    if models:
        policy["inferenceModels"] = _compact(models)
    if options.get("desktop_mcp", True):
        server = options.get("mcp_server_name") or "bifrost"
        if not SERVER_NAME.match(server):
            _fail("claude_desktop_mcp_server_name must match %s" % SERVER_NAME.pattern)
        entry = {"name": server, "transport": "http", "url": base + "/mcp"}
        if key is not None:
            entry["headers"] = {"Authorization": "Bearer " + key}
        elif options.get("mcp_headers_helper"):
            entry["headersHelper"] = str(options["mcp_headers_helper"])
        else:
            _fail("mdm_desktop_mcp with mdm_credential=helper needs mdm_mcp_headers_helper (a helper that prints "
                  "the MCP request headers as JSON), or set mdm_desktop_mcp to false")
        policy["managedMcpServers"] = _compact([entry])
    for name, value in policy.items():
        if not isinstance(value, str) or "\n" in value or "\r" in value:
            _fail("the Claude Desktop policy value %s must be a one-line string" % name)
    return policy


def device_desktop(options):
    """Whether device-scoped artefacts carry Desktop's gateway mode: with a device credential (helper or shared).

    With no device credential but user-scoped profiles, Desktop's policy goes into each user's profile only.
    """
    if not options.get("desktop_gateway"):
        return False
    if (options.get("credential") or "none") == "none" and options.get("user_profiles"):
        return False
    return True


def payload_uuid(options, *parts):
    namespace = options.get("uuid_namespace") or ""
    try:
        namespace = uuid.UUID(namespace) if namespace else DEFAULT_NAMESPACE
    except ValueError:
        _fail("mdm_uuid_namespace must be a UUID, not %r" % (namespace,))
    return str(uuid.uuid5(namespace, "/".join(parts))).upper()


def _preferences_payload(options, identifier, domain, settings, scope_id):
    return {
        "PayloadType": "com.apple.ManagedClient.preferences",
        "PayloadVersion": 1,
        "PayloadIdentifier": "%s.%s" % (identifier, domain),
        "PayloadUUID": payload_uuid(options, scope_id, domain),
        "PayloadDisplayName": domain,
        "PayloadEnabled": True,
        "PayloadContent": {domain: {"Forced": [{"mcx_preference_settings": settings}]}},
    }


def mobileconfig(gateway_url, options, user=None, key=None):
    """A configuration profile (XML plist text): com.anthropic.claudecode, and Desktop's domain when asked.

    Device scope (PayloadScope System) without a user; one user's profile (PayloadScope User) with user and key.
    """
    identifier = options.get("identifier") or "aigateway.bifrost"
    scope_id = identifier if user is None else "%s.user.%s" % (identifier, user["name"])
    payloads = [_preferences_payload(options, scope_id, CODE_DOMAIN, code_settings(gateway_url, options, user, key),
                                     scope_id)]
    if (user is not None and options.get("desktop_gateway")) or (user is None and device_desktop(options)):
        payloads.append(_preferences_payload(options, scope_id, DESKTOP_DOMAIN,
                                             desktop_policy(gateway_url, options, key), scope_id))
    who = "" if user is None else " for %s" % user["name"]
    profile = {
        "PayloadType": "Configuration",
        "PayloadVersion": 1,
        "PayloadIdentifier": scope_id,
        "PayloadUUID": payload_uuid(options, scope_id, "Configuration"),
        "PayloadDisplayName": "Claude through the AI gateway" + who,
        "PayloadDescription": "Points Claude Code%s at %s (aigateway.bifrost)." % (
            " and Claude Desktop" if len(payloads) > 1 else "", gateway_base(gateway_url)),
        "PayloadOrganization": options.get("organization") or "aigateway.bifrost",
        "PayloadScope": "System" if user is None else "User",
        "PayloadRemovalDisallowed": False,
        "PayloadContent": payloads,
    }
    return plistlib.dumps(profile, fmt=plistlib.FMT_XML, sort_keys=True).decode("utf-8")


def registry_entries(gateway_url, options):
    """The HKLM policy values (device scope): ClaudeCode\\Settings, and Desktop's values when asked.

    Each entry: key (HKLM\\...), name, data (a string; None removes the value), secret. With Desktop's gateway mode on,
    the Desktop keys the collection owns but does not set this time are removed.
    """
    settings = code_settings(gateway_url, options)
    entries = [{"key": CODE_REG_KEY, "name": "Settings", "data": _compact(settings),
                "secret": "ANTHROPIC_AUTH_TOKEN" in settings["env"]}]
    if not device_desktop(options):
        return entries  # Desktop's policy key is left alone unless the collection manages it
    desktop = desktop_policy(gateway_url, options)
    for name in DESKTOP_KEYS:
        data = desktop.get(name)
        secret = name == "inferenceGatewayApiKey" or (name == "managedMcpServers" and data is not None
                                                      and "Authorization" in data)
        entries.append({"key": DESKTOP_REG_KEY, "name": name, "data": data, "secret": bool(secret and data)})
    return entries


def _reg_string(value):
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


def reg_file(entries):
    """A .reg file's text (the caller writes it UTF-16 LE; the text starts with the BOM), CRLF line ends."""
    lines = ["\ufeffWindows Registry Editor Version 5.00", ""]
    for key in sorted(set(entry["key"] for entry in entries), key=[e["key"] for e in entries].index):
        lines.append("[%s]" % key.replace("HKLM\\", "HKEY_LOCAL_MACHINE\\", 1))
        for entry in entries:
            if entry["key"] == key:
                data = "-" if entry["data"] is None else _reg_string(entry["data"])
                lines.append("%s=%s" % (_reg_string(entry["name"]), data))
        lines.append("")
    return "\r\n".join(lines) + "\r\n"


def _ps_string(value):
    return "'%s'" % value.replace("'", "''")


def powershell_script(entries):
    """An Intune platform script setting the same values (64-bit registry view whatever the host's bitness)."""
    lines = [
        "# Generated by aigateway.bifrost (playbook aigateway.bifrost.mdm); do not edit: regenerate it.",
        "# Intune: Devices > Scripts and remediations > Platform scripts; run as system (not the logged-on user).",
        "$ErrorActionPreference = 'Stop'",
        "# The 64-bit view: a 32-bit host would otherwise write under WOW6432Node, which Claude never reads.",
        "$hklm = [Microsoft.Win32.RegistryKey]::OpenBaseKey([Microsoft.Win32.RegistryHive]::LocalMachine, "
        "[Microsoft.Win32.RegistryView]::Registry64)",
    ]
    for key in sorted(set(entry["key"] for entry in entries), key=[e["key"] for e in entries].index):
        lines.append("$key = $hklm.CreateSubKey(%s)" % _ps_string(key.split("\\", 1)[1]))
        for entry in entries:
            if entry["key"] != key:
                continue
            if entry["data"] is None:
                lines.append("$key.DeleteValue(%s, $false)" % _ps_string(entry["name"]))
            else:
                lines.append("$key.SetValue(%s, %s, [Microsoft.Win32.RegistryValueKind]::String)" % (
                    _ps_string(entry["name"]), _ps_string(entry["data"])))
        lines.append("$key.Close()")
    lines.append("Write-Output 'Claude policy values written'")
    return "\r\n".join(lines) + "\r\n"


def win_regedit_entries(entries):
    """The entries as ansible.windows.win_regedit arguments (path with the HKLM: drive, state present/absent)."""
    return [{
        "path": "HKLM:\\" + entry["key"].split("\\", 1)[1],
        "name": entry["name"],
        "data": entry["data"],
        "type": "string",
        "state": "absent" if entry["data"] is None else "present",
        "secret": entry["secret"],
    } for entry in entries]


def mdm_artefacts(gateway_url, options=None):
    """Every file the mdm playbook writes: name (relative to the output directory), content, encoding, secret.

    options: the claude_desktop role's options (models, env, settings, managed_settings_content, provider_mode, ...,
    mcp_server_name) and the mdm ones: identifier, organization, uuid_namespace, credential (none|helper|shared),
    credential_helper, shared_key, desktop_gateway, desktop_auth_scheme, desktop_models, desktop_headers,
    desktop_mcp, mcp_headers_helper, user_profiles, users (claude_desktop_users entries) and keys (resolved virtual
    keys by name, for virtual_key_name).
    """
    options = options or {}
    check_options(options)
    if options.get("desktop_gateway"):
        https_base(gateway_url)
    settings = code_settings(gateway_url, options)
    device_secret = "ANTHROPIC_AUTH_TOKEN" in settings["env"]
    entries = registry_entries(gateway_url, options)
    artefacts = [
        {"name": "managed-settings.json", "content": json.dumps(settings, indent=2, ensure_ascii=False) + "\n",
         "encoding": "utf-8", "secret": device_secret},
        {"name": "macos/aigateway.bifrost.mobileconfig", "content": mobileconfig(gateway_url, options),
         "encoding": "utf-8", "secret": device_secret},
        {"name": "windows/aigateway.bifrost.reg", "content": reg_file(entries),
         "encoding": "utf-16-le", "secret": any(e["secret"] for e in entries)},
        {"name": "windows/Set-AigatewayBifrostPolicy.ps1", "content": powershell_script(entries),
         "encoding": "utf-8", "secret": any(e["secret"] for e in entries)},
    ]
    if options.get("user_profiles"):
        for user in sorted(options.get("users") or [], key=lambda u: u["name"]):
            artefacts.append({
                "name": "macos/users/%s.mobileconfig" % user["name"],
                "content": mobileconfig(gateway_url, options, user, user_key(user, options.get("keys"))),
                "encoding": "utf-8", "secret": True,
            })
    return artefacts


def user_key(user, keys):
    """A user's key: virtual_key, else the resolved value of virtual_key_name (as the claude_desktop role does)."""
    if user.get("virtual_key"):
        return str(user["virtual_key"])
    name = user.get("virtual_key_name")
    if name and name in (keys or {}):
        return str(keys[name])
    _fail("user %s needs virtual_key, or a virtual_key_name that resolves, for a user-scoped profile" % user["name"])


def mdm_users(users_per_host):
    """One list of users from every host's claude_desktop_users (each user once; differing definitions refused)."""
    seen = {}
    for users in users_per_host or []:
        for user in users or []:
            if not isinstance(user, dict) or not user.get("name"):
                _fail("every entry of claude_desktop_users needs a name")
            known = seen.get(user["name"])
            if known is not None and known != user:
                _fail("user %s is listed with different settings on different hosts; a user-scoped profile needs "
                      "one definition per user" % user["name"])
            seen[user["name"]] = user
    return [seen[name] for name in sorted(seen)]


def mdm_windows_policy(gateway_url, options=None):
    """ansible.windows.win_regedit arguments for the HKLM policy values (the claude_desktop role's Windows path)."""
    return win_regedit_entries(registry_entries(gateway_url, options or {}))


class FilterModule(object):
    def filters(self):
        return {
            "mdm_artefacts": mdm_artefacts,
            "mdm_users": mdm_users,
            "mdm_windows_policy": mdm_windows_policy,
        }
