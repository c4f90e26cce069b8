# -*- coding: utf-8 -*-
# Copyright: contributors to aigateway.bifrost
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Claude Code managed policy sources would lock a gateway (token) user out, and which outrank the files.

Pure logic shared by the claude_policy_info module (Linux, macOS: it reads the files here) and the claude_policy_report
filter (Windows: the role reads the registry and files with ansible.windows modules and hands their text over).

The lock-out rules live in LOCKOUT_RULES only. They hold for managed sources alone: the same keys in a user's own
settings.json lock nobody out (the CLI ignores them there), so user files are never checked.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch
import json
import os
import stat

# The Claude Code versions these rules were checked against (the CLI's bundled code: login gating and the
# allowedProviders validation).
LOCKOUT_RULES_VERIFIED_ON = "2.1.328 and 2.1.337"

# (key, test on the value, why it locks a gateway token user out). A key counts only when present in a managed source.
LOCKOUT_RULES = (
    ("forceLoginMethod", lambda value: value is not None,
     "any value forces a first-party login (claude.ai or Console), which blocks ANTHROPIC_AUTH_TOKEN and apiKeyHelper"),
    ("forceLoginOrgUUID", lambda value: value is not None,
     "requires a first-party login to that organisation, which blocks ANTHROPIC_AUTH_TOKEN and apiKeyHelper"),
    ("enforceAnthropicSignIn", lambda value: value is True,
     "true requires an Anthropic sign-in (Claude Code 2.1.330 and newer), which blocks the gateway token"),
    ("allowedProviders", lambda value: isinstance(value, list) and "customEndpoint" not in value,
     "a list without \"customEndpoint\" refuses a custom ANTHROPIC_BASE_URL such as the gateway"),
)

# Managed files bigger than this are not read (the CLI would not get far with them either).
MAX_BYTES = 64 * 1024 * 1024

MACOS_DOMAIN = "com.anthropic.claudecode"
WINDOWS_HKLM = "HKLM:\\SOFTWARE\\Policies\\ClaudeCode"
WINDOWS_HKCU = "HKCU:\\SOFTWARE\\Policies\\ClaudeCode"
WINDOWS_VALUE = "Settings"


def lockout_findings(settings):
    """[(key, reason)] for the lock-out keys set in one managed source's settings (a dict); [] for anything else."""
    if not isinstance(settings, dict):
        return []
    return [(key, reason) for key, test, reason in LOCKOUT_RULES if key in settings and test(settings[key])]


def source_result(path, kind, settings=None, error=None):
    """One source's entry of the report. kind: file, dropin, macos_profile, macos_user_profile, windows_hklm,
    windows_hkcu. error: why it could not be read or parsed (the CLI ignores such a source, so it locks nobody out)."""
    findings = [] if error else lockout_findings(settings)
    return {
        "path": path,
        "kind": kind,
        "error": error,
        "lockouts": [{"key": key, "reason": reason} for key, reason in findings],
    }


def parse_settings_text(text):
    """(settings, error) for the JSON text of a managed file or a Windows registry value."""
    if text.startswith(u"\ufeff"):
        text = text[1:]
    try:
        data = json.loads(text)
    except ValueError as exc:
        return None, "not valid JSON (%s); Claude Code ignores it" % exc
    if not isinstance(data, dict):
        return None, "not a JSON object; Claude Code ignores it"
    return data, None


def _read_regular(path, max_bytes):
    """The bytes of a regular file, without blocking on FIFOs or devices. Raises OSError/ValueError with the reason."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("not a regular file")
        if info.st_size > max_bytes:
            raise ValueError("larger than %d bytes" % max_bytes)
        chunks = []
        while True:
            chunk = os.read(fd, 1024 * 1024)
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_json_source(path, kind, max_bytes=MAX_BYTES):
    try:
        raw = _read_regular(path, max_bytes)
    except (OSError, ValueError) as exc:
        return source_result(path, kind, error="could not be read: %s" % (getattr(exc, "strerror", None) or exc))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return source_result(path, kind, error="not UTF-8; Claude Code ignores it")
    settings, error = parse_settings_text(text)
    return source_result(path, kind, settings, error)


def read_plist_source(path, kind, max_bytes=MAX_BYTES):
    try:
        raw = _read_regular(path, max_bytes)
    except (OSError, ValueError) as exc:
        return source_result(path, kind, error="could not be read: %s" % (getattr(exc, "strerror", None) or exc))
    # Imported here: only macOS reads property lists, and plistlib (with xml.parsers.expat) costs every Linux module
    # run about 7 ms of import (bench: python -X importtime).
    import plistlib  # pylint: disable=import-outside-toplevel

    try:
        settings = plistlib.loads(raw)
    except Exception as exc:  # plistlib raises several parser errors (InvalidFileException, ExpatError...)
        return source_result(path, kind, error="not a readable property list (%s)" % exc)
    return source_result(path, kind, settings)


def managed_file_paths(managed_dir, exclude=()):
    """[(path, kind)] in the CLI's order: managed-settings.json, then managed-settings.d/*.json sorted, skipping names
    that start with a dot and the paths in exclude (the role's own drop-in)."""
    excluded = set(os.path.normpath(p) for p in exclude or ())
    found = []
    main = os.path.join(managed_dir, "managed-settings.json")
    if os.path.lexists(main):
        found.append((main, "file"))
    dropins = os.path.join(managed_dir, "managed-settings.d")
    try:
        names = sorted(os.listdir(dropins))
    except OSError:
        names = []
    for name in names:
        if name.startswith(".") or not fnmatch.fnmatchcase(name, "*.json"):
            continue
        found.append((os.path.join(dropins, name), "dropin"))
    return [(path, kind) for path, kind in found if os.path.normpath(path) not in excluded]


def macos_profile_paths(preferences_dir):
    """[(path, kind)]: the device profile, then per-user profiles (/Library/Managed Preferences/<user>/...)."""
    name = MACOS_DOMAIN + ".plist"
    found = []
    device = os.path.join(preferences_dir, name)
    if os.path.lexists(device):
        found.append((device, "macos_profile"))
    try:
        entries = sorted(os.listdir(preferences_dir))
    except OSError:
        entries = []
    for entry in entries:
        candidate = os.path.join(preferences_dir, entry, name)
        if os.path.isdir(os.path.join(preferences_dir, entry)) and os.path.lexists(candidate):
            found.append((candidate, "macos_user_profile"))
    return found


# Sources that make Claude Code ignore managed-settings.json and its drop-ins (the role's drop-in included).
OUTRANKING_KINDS = ("macos_profile", "windows_hklm")


def report(sources):
    """The module's (and the filter's) result from the per-source entries."""
    lockouts = []
    for source in sources:
        for finding in source["lockouts"]:
            lockouts.append({"path": source["path"], "key": finding["key"], "reason": finding["reason"]})
    outranking = [s["path"] for s in sources if s["kind"] in OUTRANKING_KINDS and not s["error"]]
    return {
        "sources": sources,
        "lockouts": lockouts,
        "os_policy_outranks_files": bool(outranking),
        "outranking_sources": outranking,
        "rules_verified_on": LOCKOUT_RULES_VERIFIED_ON,
    }


def lockout_message(result):
    """One sentence per lock-out, naming the source and the key."""
    return "; ".join(
        "%s sets %s: %s" % (item["path"], item["key"], item["reason"]) for item in result["lockouts"]
    )


def outranked_message(result):
    return (
        "%s outranks the Claude Code managed settings files on this host, so Claude Code ignores managed-settings.json "
        "and its drop-ins (the gateway's managed drop-in included); deliver those settings through that policy instead"
        % " and ".join(result["outranking_sources"])
    )


def guard(result, warn_when_outranked, fail_on_lockout, warn, fail):
    """Act on a report as a caller that is about to write: ``warn(message)`` for an outranking OS policy (with
    ``warn_when_outranked``) and for a lock-out, or ``fail(message)`` for a lock-out when ``fail_on_lockout``."""
    if warn_when_outranked and result["os_policy_outranks_files"]:
        warn(outranked_message(result))
    if result["lockouts"]:
        message = (
            "Claude Code managed policy on this host locks gateway users out: %s. Remove these keys (or add "
            "\"customEndpoint\" to allowedProviders) before pointing users at the gateway." % lockout_message(result)
        )
        if fail_on_lockout:
            fail(message)
        else:
            warn(message)


def posix_report(managed_dir, exclude=(), preferences_dir=None, max_bytes=MAX_BYTES):
    """Read every managed source on a Linux or macOS host (preferences_dir: macOS's /Library/Managed Preferences)."""
    sources = []
    if preferences_dir:
        sources.extend(read_plist_source(path, kind, max_bytes) for path, kind in macos_profile_paths(preferences_dir))
    sources.extend(read_json_source(path, kind, max_bytes) for path, kind in managed_file_paths(managed_dir, exclude))
    return report(sources)


def texts_report(texts):
    """The report from already-read sources (Windows): a list of {path, kind, text}, text None when absent."""
    sources = []
    for item in texts:
        if item.get("text") is None:
            continue
        settings, error = parse_settings_text(item["text"])
        sources.append(source_result(item["path"], item["kind"], settings, error))
    return report(sources)
