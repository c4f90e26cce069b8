# -*- coding: utf-8 -*-
# Copyright: contributors to aigateway.bifrost
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ownership records: what json_merge wrote into each file, so that it can take back exactly that and nothing else.

Pure functions. The json_merge module (option ``ownership_record``) calls them per file, on the data it actually read
(inside its concurrent-change re-merge loop); the record itself lives in a root-owned file such as
/var/lib/aigateway-bifrost/claude_desktop.json (0600) that only the module's parent process (root) reads and writes.

The record holds, per file, the key paths written and a salted hash of each value, never the values (virtual keys are
among them):

    {"version": 1, "salt": "<hex>", "files": {"<path>": {"<key path>": "<hash>", ...}}}

The hash of a value written under one of the file's secret_keys is prefixed ``secret:`` (`SECRET_MARK`), so that a
later removal of that value is masked in the diff.

A key path is the JSON text of the list of keys from the top (["env", "ANTHROPIC_AUTH_TOKEN"]), so keys may contain
dots. A leaf is a scalar or a list (lists are written whole); objects are walked.

- stale_patch(): keys recorded before, no longer in the content, whose value in the file still has the recorded hash
  (the user has not changed it since): a merge patch with null at each, so json_merge deletes them. Switching provider
  modes, credential modes or dropping a model pin leaves nothing behind.
- absent_patch(): every recorded key whose value is unchanged (state=absent removes everything the role ever wrote,
  and nothing a user changed or added).
- next_record(): the record after the write: the content's leaves, hashed as written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import binascii
import hashlib
import json
import os

RECORD_VERSION = 1
# Marks the hash of a value written under one of the file's secret_keys: if the value is removed later, the diff masks it.
SECRET_MARK = "secret:"


def new_record():
    return {"version": RECORD_VERSION, "salt": binascii.hexlify(os.urandom(16)).decode("ascii"), "files": {}}


def check_record(record):
    """The record, validated (a ValueError names what is wrong); None or {} gives a new one."""
    if not record:
        return new_record()
    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
        raise ValueError("ownership record: unknown format or version (expected version %d)" % RECORD_VERSION)
    if not isinstance(record.get("salt"), str) or not isinstance(record.get("files"), dict):
        raise ValueError("ownership record: salt and files are required")
    return record


def value_hash(salt, value):
    """A salted SHA-256 of the value's canonical JSON (key order and spacing do not matter)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((salt + "\0" + text).encode("utf-8")).hexdigest()


def encode_path(keys):
    return json.dumps(list(keys), ensure_ascii=False)


def decode_path(text):
    return tuple(json.loads(text))


def leaves(content, prefix=()):
    """{key path tuple: value} for every non-null leaf of a content (nulls are deletions, not values the role owns)."""
    found = {}
    for key, value in content.items():
        path = prefix + (key,)
        if isinstance(value, dict):
            found.update(leaves(value, path))
        elif value is not None:
            found[path] = value
    return found


_MISSING = object()


def lookup(data, path):
    """The value at a key path in parsed file data, or _MISSING."""
    node = data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _patch(paths):
    """A merge patch with null at each key path."""
    patch = {}
    for path in sorted(paths):
        node = patch
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[path[-1]] = None
    return patch


def unchanged_paths(salt, owned, data):
    """Recorded key paths whose value in the file still has the recorded hash."""
    result = []
    for text, digest in (owned or {}).items():
        path = decode_path(text)
        value = lookup(data, path)
        if value is not _MISSING and value_hash(salt, value) == digest.replace(SECRET_MARK, "", 1):
            result.append(path)
    return result


def stale_patch(record, path, content, data):
    """(patch, kept): the merge patch removing what the role wrote into `path` before and no longer configures, and
    the key paths it leaves because the user changed them since."""
    record = check_record(record)
    owned = record["files"].get(path) or {}
    current = set(leaves(content))
    unchanged = set(unchanged_paths(record["salt"], owned, data))
    stale = [decode_path(text) for text in owned if decode_path(text) not in current]
    remove = [p for p in stale if p in unchanged]
    kept = sorted(p for p in stale if p not in unchanged and lookup(data, p) is not _MISSING)
    return _patch(remove), kept


def absent_patch(record, path, data):
    """(patch, kept): the merge patch removing everything the role ever wrote into `path` and the user has not
    changed since, and the key paths it leaves because the user changed them."""
    record = check_record(record)
    owned = record["files"].get(path) or {}
    unchanged = set(unchanged_paths(record["salt"], owned, data))
    remove = [decode_path(text) for text in owned if decode_path(text) in unchanged]
    kept = sorted(decode_path(text) for text in owned
                  if decode_path(text) not in unchanged and lookup(data, decode_path(text)) is not _MISSING)
    return _patch(remove), kept


def next_record(record, path, content, written, state="present"):
    """The record after `written` (the data now in the file) was written from `content`.

    present: the content's leaves whose value in the file is the content's (hashed as written); absent: the file is
    forgotten. Keys the user changed are no longer the role's and are dropped either way."""
    record = check_record(record)
    files = dict(record["files"])
    if state == "absent":
        files.pop(path, None)
    else:
        files[path] = owned_after(record["salt"], content, written)
    return {"version": RECORD_VERSION, "salt": record["salt"], "files": files}


def removal_content(patch):
    """The same key paths as a ``state=absent`` content (each leaf removed whatever its value, emptied objects too)."""
    return dict((key, removal_content(value) if isinstance(value, dict) else True) for key, value in patch.items())


def owned_after(salt, content, written, secret_paths=()):
    """{key path: hash} of the content's leaves that ``written`` (the data now in the file) holds as the content set
    them: what the file's entry of the record becomes after a write. Leaves at or below one of ``secret_paths`` (key
    tuples) are marked secret."""
    owned = {}
    for keys, value in leaves(content).items():
        if lookup(written, keys) == value:
            secret = any(keys[:len(prefix)] == tuple(prefix) for prefix in secret_paths)
            owned[encode_path(keys)] = (SECRET_MARK if secret else "") + value_hash(salt, value)
    return owned


def removal_paths(patch, prefix=()):
    """The key paths (tuples) a removal patch (from `stale_patch` or `absent_patch`) removes: its null leaves."""
    for key, value in patch.items():
        if isinstance(value, dict):
            yield from removal_paths(value, prefix + (key,))
        else:
            yield prefix + (key,)


def secret_removals(owned, patch):
    """The key paths a removal patch removes whose recorded value was written as a secret."""
    return [path for path in removal_paths(patch) if (owned or {}).get(encode_path(path), "").startswith(SECRET_MARK)]
