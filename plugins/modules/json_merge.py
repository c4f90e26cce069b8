#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to aigateway.bifrost
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: json_merge
short_description: Merge keys into JSON settings files without clobbering the rest
version_added: 1.0.0
description:
  - Deep-merges a dictionary (O(content)) into a JSON file, or removes it again with O(state=absent), keeping every key
    the content does not mention, the key order, the indentation and the trailing newline.
  - Made for settings files that users and applications also edit, such as Claude Code C(~/.claude/settings.json) and
    Claude Desktop C(claude_desktop_config.json).
  - The file is rewritten only when its parsed data changes, atomically (a temporary file in the same directory, then a
    rename), so a file that differs only in formatting is left alone.
  - Safe to run as root on files inside directories that other users own (their homes). The module never follows a
    path such a user controls. It writes each file as whoever controls its directory (a child process that has become
    that user), or as root when only root controls the whole path; see the notes and C(docs/security.md).
  - One invocation can merge many files with O(files), which keeps the number of module runs per host small.
options:
  path:
    description:
      - The JSON file to merge into.
      - It must be a regular file with one link. A symbolic link, hard-linked file, FIFO, device, socket or directory at
        this path is refused with an error naming it, and left as it is.
      - Mutually exclusive with O(files); one of O(path) and O(files) is required.
    type: path
  content:
    description:
      - The keys to merge, as a dictionary (JSON object).
      - Objects merge deeply. A V(null) value deletes that key (RFC 7386 JSON merge patch).
      - Values are written with their types as given; for example Claude Code's C(env) values must be strings.
      - When omitted, nothing is merged; the file is only created when missing (as V({})) and its attributes are set.
      - Mutually exclusive with O(files), whose entries have their own O(files[].content).
    type: dict
  files:
    description:
      - Several files to merge in one invocation. Every other option applies to each entry.
      - Files are processed each one atomically. A file that fails (bad JSON, a refused file, an owner without account,
        a missing home) does not stop the others. The task then fails at the end, listing every failed file with its
        reason, and RV(results) and C(changed) say exactly what was written.
      - Mutually exclusive with O(path) and O(content).
    type: list
    elements: dict
    suboptions:
      path:
        description: The JSON file, as O(path).
        type: path
        required: true
      content:
        description: The keys to merge into this file, as O(content).
        type: dict
      owner:
        description: The owner of this file, overriding O(owner).
        type: str
      group:
        description: The group of this file, overriding O(group).
        type: str
      mode:
        description: The mode of this file, overriding O(mode).
        type: raw
      dir_mode:
        description: The mode of the parent directories created for this file, overriding O(dir_mode).
        type: raw
      secret_keys:
        description: Key paths masked for this file, in addition to O(secret_keys).
        type: list
        elements: str
        default: []
  state:
    description:
      - V(present) merges O(content) into the file.
      - V(absent) removes what the same O(content) would set, and nothing else. The leaf keys it names are removed
        whatever their current value (the caller owns those keys); with O(list_merge=append_unique) or
        O(list_merge=prepend_unique), its items are removed from those lists (with O(list_merge=replace) a list is a
        leaf and its key is removed). Objects and lists that the removal leaves empty are removed too, including one
        that was empty before O(state=present) filled it. An empty object or list in the content removes that key only
        when it is empty in the file. A V(null) in the content removes nothing. A missing file stays missing.
      - O(state=present) then O(state=absent) with the same content gives back the original file whenever the content
        only added keys.
    type: str
    choices: [present, absent]
    default: present
  list_merge:
    description:
      - How a list in O(content) combines with a list in the file.
      - V(replace) replaces the list.
      - V(append_unique) adds the content's items that are missing at the end; V(prepend_unique) at the start, in the
        content's order. Both are idempotent, a second run adds nothing.
      - Items are compared by JSON value and type, so V(1), V(1.0), V("1") and V(true) are different items.
    type: str
    choices: [replace, append_unique, prepend_unique]
    default: replace
  create:
    description:
      - Create the file (from V({})) when it does not exist. With V(false), a missing file is an error.
    type: bool
    default: true
  create_parents:
    description:
      - Create missing parent directories, with O(owner), O(group) and O(dir_mode).
      - Directories are created only inside an existing directory that the file's owner (O(owner), else the user the
        module runs as) owns. So a missing home is never created; it is an error naming the file.
      - With V(false), a missing parent directory is an error.
    type: bool
    default: false
  dir_mode:
    description:
      - The mode of the parent directories that O(create_parents) creates, as for O(mode).
    type: raw
    default: '0700'
  backup:
    description:
      - Keep a timestamped copy of the file before changing it.
    type: bool
    default: false
  max_size:
    description:
      - The largest file, in bytes, that is read. A larger file is refused with an error naming it and left alone.
    type: int
    default: 67108864
  ownership_record:
    description:
      - A file in which the module records what it wrote into each file (per file, the key paths of the content's
        values and a salted SHA-256 of each value, never the values), so that it can take back exactly that later.
      - With it, O(state=present) also removes a key written by an earlier run that the content no longer sets, if the
        file still holds the value written then (a key the user changed since stays and is listed in
        RV(results[].kept_keys)). O(state=absent) removes every recorded key whose value is unchanged, and nothing
        else; for a file not in the record it removes what O(content) names, as without a record.
      - Only the module's own process reads and writes it, after every file has been merged, and not in check mode.
        Run as root, it must be in a directory that only root controls (created with mode C(0700)); the file gets
        mode C(0600). Files that failed keep their entries.
      - A record this module cannot read fails the task before any file is written.
      - Not used on Windows targets (ignored by the action plugin).
    type: path
  lockout_guard:
    description:
      - Before anything is written, read Claude Code's managed policy on this host (as
        M(aigateway.bifrost.claude_policy_info) does) and refuse to write when a managed source locks gateway users
        out, naming each file and key. Used by the M(aigateway.bifrost.claude_desktop) role, so that the check costs no
        module run of its own. POSIX hosts only.
      - The report is returned as RV(policy).
    type: dict
    suboptions:
      managed_settings_dir:
        description: The managed settings directory (C(/etc/claude-code) on Linux).
        type: path
        required: true
      exclude:
        description: Managed files not to judge, such as the drop-in this task writes itself.
        type: list
        elements: path
        default: []
      managed_preferences_dir:
        description: On macOS, C(/Library/Managed Preferences) (device and per-user C(com.anthropic.claudecode) profiles).
        type: path
      warn_when_outranked:
        description: Warn when an OS policy outranks the managed files (a managed file written here would be ignored).
        type: bool
        default: false
      fail_on_lockout:
        description: Fail, writing nothing, when a source locks users out; otherwise warn and write.
        type: bool
        default: true
  indent:
    description:
      - The number of spaces to indent a rewritten file with.
      - By default the file's own indent is kept (detected from its first indented line, a tab or a number of
        spaces), else 2.
      - A file is never rewritten only to change its indent.
    type: int
  validate:
    description:
      - A command to check the new file before it replaces the old one, run with the path of the temporary file in
        place of C(%s) (quoted for the shell), as in M(ansible.builtin.template).
      - If it fails, nothing is replaced and the task fails.
    type: str
  force:
    description:
      - Replace a value of another kind (object, list or plain value) instead of failing with a type clash.
    type: bool
    default: false
  allow_comments:
    description:
      - Accept C(//) and C(/* */) comments and trailing commas in the file (JSONC).
      - This is lossy. When the file changes, it is written back as plain JSON, without its comments.
      - By default such a file fails with the line and column of the first error and is left untouched.
    type: bool
    default: false
  secret_keys:
    description:
      - Key paths whose values are secrets. The strings found there, in the old file (whoever wrote them), in O(content)
        and in the new file, are masked in the task result and the diff, as they are and in their JSON-escaped form
        (a value with C(") or C(\)), at every verbosity.
      - O(content) and O(files) are never logged on the host (syslog, journald), and the module's C(invocation) shows
        C((file content, not shown)) in their place, so no verbosity prints the content.
      - A key path joins keys with C(.); a literal C(.) or C(\) inside a key is escaped with C(\), for example
        C(mcpServers.my\.server.env.API_KEY).
      - When the value at a path is an object or a list, every string inside it is masked.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ansible.builtin.files
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows only the keys that the task changes (RV(changed_keys)), before and after, not the whole file, so
        what else the file holds (a user's own keys, another tool's tokens) never reaches the output. A new file is
        shown whole.
  platform:
    platforms: [posix, windows]
    details:
      - On Windows hosts the action plugin of the same name merges on the controller and writes with
        M(ansible.windows.win_copy). It is not exercised against a real Windows host in CI.
notes:
  - Parsing is strict JSON. Comments, trailing commas, C(NaN) or C(Infinity) and duplicate keys fail with the file
    named (and the line and column where known), and the file is left byte for byte as it was.
  - An empty file counts as V({}). The top-level value must be an object. A UTF-8 byte order mark is accepted and not
    written back.
  - Whether the file changes is decided on parsed data with a type-aware comparison, never on text. Key order is kept and
    new keys go at the end; keys are never sorted. The trailing newline (or its absence), the line ending (LF or CRLF)
    and non-ASCII text are kept. New files end with a newline.
  - A V(null) in O(content) deletes the key. A V(null) in the file is replaced by an object or list without a type clash.
  - A new file without O(mode) is created with mode C(0600), because settings files often hold secrets. An existing
    file keeps its owner, group and mode unless O(owner), O(group) or O(mode) say otherwise.
  - Security (run as root on users' files). For each file the module walks the directory path with C(lstat), following
    only links that root owns. If a user owns a directory or link on the way (their home), the file is read, merged and
    written by a child process that has become that user (uid, gid and groups), so the kernel allows only what that
    user may do. Root writes a file itself only when nobody else controls its path. One module run serves every file.
  - A symbolic link, a file with more than one hard link, a FIFO, device, socket or directory at the file's path is
    refused (opened with C(O_NOFOLLOW) and C(O_NONBLOCK), checked on the descriptor, so nothing blocks), and so is a file
    larger than O(max_size).
  - The temporary file and the O(backup) copy are created with C(O_EXCL) and C(O_NOFOLLOW), private from the first byte;
    owner, group and mode are set on the descriptor before the rename, and file and directory are synced.
  - Concurrent changes. Just before the rename the file is read again. If it changed since it was read (inode, size,
    modification time or content hash), the merge is done again on the new content, up to 3 attempts in all; then the
    task fails naming the file. A new file is put in place with a link that fails if the name appeared meanwhile. What
    remains is the short moment between that last check and the rename. A write that lands there is lost, as with any
    program that replaces a file by renaming, unless the other program locks the file (Claude Code uses no lock that
    this module could share).
  - O(secret_keys) masks values in what the task returns (result, diff); the file itself holds them, so give such files
    a private O(mode) (new files get C(0600) anyway).
  - O(unsafe_writes), O(attributes) and the SELinux options of the files fragment are ignored; the file is always
    replaced atomically.
  - The changed key paths in RV(changed_keys) use the same syntax as O(secret_keys).
  - With O(allow_comments), comments are lost when the file is rewritten.
seealso:
  - module: ansible.builtin.copy
  - module: ansible.builtin.template
  - name: RFC 7386 JSON Merge Patch
    description: The merge semantics of V(null) and nested objects.
    link: https://www.rfc-editor.org/rfc/rfc7386
author:
  - aigateway.bifrost developers (@aigateway)
"""

EXAMPLES = r"""
- name: Point Claude Code at the gateway, masking the virtual key
  aigateway.bifrost.json_merge:
    path: /home/alice/.claude/settings.json
    content:
      env:
        ANTHROPIC_BASE_URL: http://gw.example.internal:8080/anthropic
        ANTHROPIC_AUTH_TOKEN: "{{ alice_virtual_key }}"
    secret_keys:
      - env.ANTHROPIC_AUTH_TOKEN
    create_parents: true
    owner: alice
    group: alice

- name: Add the gateway's MCP server to Claude Desktop
  aigateway.bifrost.json_merge:
    path: /home/alice/.config/Claude/claude_desktop_config.json
    content:
      mcpServers:
        bifrost:
          command: npx
          args: [mcp-remote, "http://gw.example.internal:8080/mcp", --header, "Authorization:${AUTH_HEADER}"]
          env:
            AUTH_HEADER: "Bearer {{ alice_virtual_key }}"
    secret_keys:
      - mcpServers.bifrost.env.AUTH_HEADER

- name: Allow a command without removing the user's own permissions
  aigateway.bifrost.json_merge:
    path: /home/alice/.claude/settings.json
    content:
      permissions:
        allow:
          - Bash(npm run test:*)
    list_merge: append_unique

- name: Remove the gateway settings again
  aigateway.bifrost.json_merge:
    path: /home/alice/.claude/settings.json
    content:
      env:
        ANTHROPIC_BASE_URL: ""
        ANTHROPIC_AUTH_TOKEN: ""
    state: absent

- name: Merge the settings of several users in one run
  aigateway.bifrost.json_merge:
    files:
      - path: /home/alice/.claude/settings.json
        content:
          env:
            ANTHROPIC_AUTH_TOKEN: "{{ alice_virtual_key }}"
        owner: alice
      - path: /home/bob/.claude/settings.json
        content:
          env:
            ANTHROPIC_AUTH_TOKEN: "{{ bob_virtual_key }}"
        owner: bob
    secret_keys:
      - env.ANTHROPIC_AUTH_TOKEN
    mode: "0600"
"""

RETURN = r"""
path:
  description: The file, as given in O(path).
  returned: when O(path) is used
  type: str
  sample: /home/alice/.claude/settings.json
changed_keys:
  description:
    - The key paths that changed (added, replaced or removed), in the syntax of O(secret_keys).
    - A new object lists its leaf keys; a list merged with O(list_merge=append_unique) or
      O(list_merge=prepend_unique) is listed by its own key.
  returned: when O(path) is used
  type: list
  elements: str
  sample: [env.ANTHROPIC_BASE_URL, env.ANTHROPIC_AUTH_TOKEN]
kept_keys:
  description:
    - With O(ownership_record), key paths written by an earlier run that this run would have removed but left,
      because the user changed their values since.
  returned: when O(path) is used and such keys exist
  type: list
  elements: str
  sample: [env.ANTHROPIC_DEFAULT_HAIKU_MODEL]
backup_file:
  description: The backup copy made because of O(backup).
  returned: when O(path) is used, O(backup=true) and the file changed
  type: str
  sample: /home/alice/.claude/settings.json.12345.2026-01-31@12:00:00~
policy:
  description:
    - With O(lockout_guard), the managed policy report, as M(aigateway.bifrost.claude_policy_info) returns it
      (C(sources), C(lockouts), C(os_policy_outranks_files), C(outranking_sources), C(rules_verified_on)).
  returned: when O(lockout_guard) is used
  type: dict
  sample: {"sources": [], "lockouts": [], "os_policy_outranks_files": false, "outranking_sources": [], "rules_verified_on": "2.1.328 and 2.1.337"}
results:
  description:
    - One entry per file of O(files), in order, also for files that failed.
  returned: when O(files) is used
  type: list
  elements: dict
  contains:
    path:
      description: The file, as given in O(files[].path).
      returned: always
      type: str
      sample: /home/alice/.claude/settings.json
    changed:
      description: Whether this file changed (its data or its attributes).
      returned: always
      type: bool
      sample: true
    changed_keys:
      description: The key paths that changed in this file, as RV(changed_keys).
      returned: always
      type: list
      elements: str
      sample: [env.ANTHROPIC_AUTH_TOKEN]
    kept_keys:
      description: The key paths of this file left in place although the record names them, as RV(kept_keys).
      returned: when O(ownership_record) is used and such keys exist
      type: list
      elements: str
      sample: [env.ANTHROPIC_DEFAULT_HAIKU_MODEL]
    failed:
      description: Whether this file failed (it was not changed).
      returned: when this file failed
      type: bool
      sample: true
    msg:
      description: Why this file failed, naming it.
      returned: when this file failed
      type: str
      sample: "/home/alice/.claude/settings.json: is a symbolic link; refused (links under a user's control are never followed)"
    backup_file:
      description: The backup copy of this file made because of O(backup).
      returned: when O(backup=true) and the file changed
      type: str
      sample: /home/alice/.claude/settings.json.12345.2026-01-31@12:00:00~
"""

# Imports follow the documentation blocks, as validate-modules requires.
import grp  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import pwd  # noqa: E402
import re  # noqa: E402
import shlex  # noqa: E402
import stat  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.aigateway.bifrost.plugins.module_utils.json_merge import (  # noqa: E402
    DEFAULT_INDENT,
    JsonMergeError,
    MergeResult,
    diff_texts,
    dump_json,
    join_key_path,
    mask_secrets,
    merge_json_text,
    parse_json,
    secret_forms,
    secret_values,
    split_key_path,
)
from ansible_collections.aigateway.bifrost.plugins.module_utils.claude_policy import guard, posix_report  # noqa: E402
from ansible_collections.aigateway.bifrost.plugins.module_utils.ownership import (  # noqa: E402
    RECORD_VERSION,
    absent_patch,
    check_record,
    owned_after,
    removal_content,
    secret_removals,
    stale_patch,
)
from ansible_collections.aigateway.bifrost.plugins.module_utils.safe_files import (  # noqa: E402
    DEFAULT_MAX_SIZE,
    FileError,
    backup_name,
    commit,
    create_exclusive,
    fix_attributes,
    make_directories,
    open_directory,
    path_controller,
    read_snapshot,
    remove,
    temporary_name,
)

FILE_ENTRY_OPTIONS = dict(
    path=dict(type="path", required=True),
    content=dict(type="dict"),
    owner=dict(type="str"),
    group=dict(type="str"),
    mode=dict(type="raw"),
    dir_mode=dict(type="raw"),
    secret_keys=dict(type="list", elements="str", default=[], no_log=False),
)
ATTRIBUTE_OPTIONS = ("owner", "group", "mode", "dir_mode")
# What the module's invocation (shown by Ansible at -vvv) says instead of the file content.
CONTENT_PLACEHOLDER = "(file content, not shown)"
# A file that changes between the read and the rename is merged again, at most this many times in all.
MAX_ATTEMPTS = 3
_OCTAL_MODE = re.compile(r"^0?[0-7]{3,4}$")


def file_mode(mode, current):
    """A mode option (octal string or number, or symbolic like u=rw) as a number; None when not given."""
    if mode is None:
        return None
    if isinstance(mode, int):
        return mode
    mode = str(mode)
    if _OCTAL_MODE.match(mode):
        return int(mode, 8)
    try:
        return AnsibleModule._symbolic_mode_to_octal(os.stat_result((current or 0o600,) + (0,) * 9), mode)
    except ValueError as exc:
        raise FileError("mode %s: %s" % (mode, exc)) from None


def user_id(owner, label):
    if owner is None:
        return -1
    try:
        return pwd.getpwnam(owner).pw_uid
    except KeyError:
        if owner.isdigit():
            return int(owner)
        raise FileError("%s: the owner %s has no account on this host; nothing was written" % (label, owner)) from None


def group_id(group, label):
    if group is None:
        return -1
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        if group.isdigit():
            return int(group)
        raise FileError("%s: the group %s does not exist on this host; nothing was written" % (label, group)) from None


def unchanged_since(dir_fd, name, snapshot, label, max_size):
    """Whether the file is still what was read (identity, size, mtime and content hash). Tests replace this to race."""
    return read_snapshot(dir_fd, name, label, max_size, keep=False).same_as(snapshot)


class Job:
    """One file to merge, with everything resolved that the parent knows (ids, secret keys)."""

    def __init__(self, index, entry, params, secret_keys):
        self.index = index
        self.path = entry["path"]
        self.content = entry.get("content") or {}
        self.secret_keys = secret_keys
        self.attributes = dict((name, entry.get(name) if entry.get(name) is not None else params[name]) for name in ATTRIBUTE_OPTIONS)
        self.uid = user_id(self.attributes["owner"], self.path)
        self.gid = group_id(self.attributes["group"], self.path)
        # The ownership record's salt and this file's entry (None: no record kept, or none yet for this file).
        self.salt = None
        self.owned = None


def merge_content(job, text, params):
    """merge_json_text with the ownership record's removals: (merged, key paths kept because the user changed them).

    present: after merging the content, also removes what the record says was written before and the content no
    longer sets, where the file still holds the value written. absent: removes what the record says was written and
    the user has not changed since (the content itself when there is no record of this file). Removals work as
    state=absent does: objects they empty go too.
    """
    options = dict(force=params["force"], allow_comments=params["allow_comments"], indent=params["indent"],
                   source=job.path, secret_keys=list(job.secret_keys))
    state = params["state"]
    if job.salt is None or (state == "absent" and job.owned is None):
        return merge_json_text(text, job.content, state=state, list_merge=params["list_merge"], **options), []
    record = dict(version=RECORD_VERSION, salt=job.salt, files={job.path: job.owned or {}})
    if state == "absent":
        first = None
        patch, kept = absent_patch(record, job.path, parse_json(text or "", params["allow_comments"], job.path))
    else:
        first = merge_json_text(text, job.content, state=state, list_merge=params["list_merge"], **options)
        patch, kept = stale_patch(record, job.path, job.content, first.data)
        if not patch:
            return first, kept
    # A removed value that was written as a secret is masked in the diff like the current ones.
    options["secret_keys"] += [join_key_path(path) for path in secret_removals(job.owned, patch)]
    # Recorded lists were written whole, so they are removed whole (list_merge=replace).
    removal = merge_json_text(text if first is None else first.after, removal_content(patch), state="absent",
                              list_merge="replace", **options)
    if first is None:
        return removal, kept
    secrets = list(first.secrets) + [secret for secret in removal.secrets if secret not in first.secrets]
    return MergeResult(first.changed or removal.changed, first.before, removal.after, removal.data,
                       first.changed_keys + removal.changed_keys, secrets), kept


def merge_file(module, job):
    """Merge one file as the current process's user; returns its result. Raises `FileError`, leaving the file as it was."""
    params = module.params
    path = job.path
    directory, name = os.path.split(os.path.abspath(path))
    result = dict(path=path, changed=False, changed_keys=[])
    if not name:
        raise FileError("%s: is a directory, not a JSON file" % path)

    if not os.path.lexists(directory):
        if params["state"] == "absent":
            return result, dict(before="", after="", before_header=path, after_header=path), []
        if not params["create"]:
            raise FileError("%s: the file does not exist (create is false)" % path)
        if not params["create_parents"]:
            raise FileError("%s: the directory %s does not exist (create_parents creates it)" % (path, directory))
        owner_uid = os.geteuid() if job.uid == -1 else job.uid
        make_directories(directory, path, owner_uid, job.uid, job.gid, file_mode(job.attributes["dir_mode"], 0o700), module.check_mode)
        if module.check_mode:
            try:
                merged = merge_json_text(None, job.content, state=params["state"], list_merge=params["list_merge"], force=params["force"],
                                         indent=params["indent"], source=path, secret_keys=job.secret_keys)
            except JsonMergeError as exc:
                raise FileError(str(exc)) from None
            after = merged.after if merged.changed else dump_json(merged.data, indent=DEFAULT_INDENT if params["indent"] is None else params["indent"])
            result.update(changed=True, changed_keys=merged.changed_keys)
            return result, diff_of(module, path, "", after, merged.secrets), merged.secrets
    dir_fd = open_directory(directory, path)
    try:
        return merge_in_directory(module, job, dir_fd, directory, name, result)
    finally:
        os.close(dir_fd)


def merge_in_directory(module, job, dir_fd, directory, name, result):
    params = module.params
    path = job.path
    max_size = params["max_size"]
    for _attempt in range(MAX_ATTEMPTS):
        snapshot = read_snapshot(dir_fd, name, path, max_size)
        if not snapshot.exists:
            if params["state"] == "absent":
                if job.salt is not None:
                    result["_owned"] = None  # nothing left to own
                return result, diff_of(module, path, "", "", []), []
            if not params["create"]:
                raise FileError("%s: the file does not exist (create is false)" % path)
        text = None
        if snapshot.exists:
            try:
                text = snapshot.data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise FileError("%s: the file is not UTF-8 text (invalid byte at offset %d)" % (path, exc.start)) from None
            if not params["backup"]:
                snapshot.data = None  # only a backup needs the bytes again; a large file is then not held twice
        try:
            merged, kept = merge_content(job, text, params)
        except JsonMergeError as exc:
            raise FileError(str(exc)) from None
        secrets = merged.secrets
        result.pop("kept_keys", None)
        if kept:
            result["kept_keys"] = [join_key_path(keys) for keys in kept]
        if job.salt is not None:
            result["_owned"] = None if params["state"] == "absent" else owned_after(
                job.salt, job.content, merged.data, [split_key_path(key) for key in job.secret_keys])
        current_mode = stat.S_IMODE(snapshot.status.st_mode) if snapshot.exists else None
        mode = file_mode(job.attributes["mode"], current_mode)
        # A missing file is created even when the content adds nothing to an empty document.
        created_empty = not snapshot.exists and not merged.changed
        empty_text = dump_json(merged.data, indent=DEFAULT_INDENT if params["indent"] is None else params["indent"]) if created_empty else None
        result["changed_keys"] = merged.changed_keys
        # merged.after is built only for a diff: a large file's new text is otherwise written in pieces.
        diff = None
        if module._diff:
            before_text, after_text = diff_texts(merged)
            diff = diff_of(module, path, before_text, empty_text if created_empty else after_text, secrets)
        if not merged.changed and snapshot.exists:
            if module.check_mode:
                status = snapshot.status
                result["changed"] = ((job.uid != -1 and job.uid != status.st_uid) or (job.gid != -1 and job.gid != status.st_gid)
                                     or (mode is not None and mode != current_mode))
            else:
                result["changed"] = fix_attributes(dir_fd, name, path, job.uid, job.gid, mode, max_size)
            return result, diff, secrets
        result["changed"] = True
        if module.check_mode:
            return result, diff, secrets
        if snapshot.exists:
            uid = snapshot.status.st_uid if job.uid == -1 else job.uid
            gid = snapshot.status.st_gid if job.gid == -1 else job.gid
            mode = current_mode if mode is None else mode
        else:
            uid, gid, mode = job.uid, job.gid, 0o600 if mode is None else mode
        temporary = temporary_name(name)
        create_exclusive(dir_fd, temporary, path, [empty_text] if created_empty else merged.chunks(), uid, gid, mode)
        try:
            if params["validate"]:
                rc, out, err = module.run_command(params["validate"] % shlex.quote(os.path.join(directory, temporary)))
                if rc != 0:
                    raise FileError("%s: validate failed (rc %d), the file was not changed: %s" % (path, rc, mask_secrets((err or out).strip(), secrets)))
            if not unchanged_since(dir_fd, name, snapshot, path, max_size):
                continue
            if snapshot.exists and params["backup"]:
                backup = backup_name(name)
                create_exclusive(dir_fd, backup, path, [snapshot.data], snapshot.status.st_uid, snapshot.status.st_gid,
                                 stat.S_IMODE(snapshot.status.st_mode))
                result["backup_file"] = os.path.join(directory, backup)
            if not commit(dir_fd, temporary, name, snapshot.exists, path):
                continue
        finally:
            remove(dir_fd, temporary)
        return result, diff, secrets
    raise FileError("%s: the file kept changing while it was merged (%d attempts); it was not written, run again" % (job.path, MAX_ATTEMPTS))


def diff_of(module, path, before, after, secrets):
    if not module._diff:
        return None
    return dict(before=mask_secrets(before, secrets), after=mask_secrets(after, secrets), before_header=path, after_header=path)


def run_jobs(module, jobs):
    """Merge the jobs as the current process's user; one result per job (failed ones with ``failed`` and ``msg``)."""
    outcomes = []
    for job in jobs:
        try:
            result, diff, secrets = merge_file(module, job)
        except FileError as exc:
            result, diff, secrets = dict(path=job.path, changed=False, changed_keys=[], failed=True, msg=str(exc)), None, []
        except Exception as exc:  # pylint: disable=broad-except
            # Never let one file's unexpected error stop the others; the traceback stays out of the output.
            result, diff, secrets = dict(path=job.path, changed=False, changed_keys=[], failed=True,
                                         msg="%s: unexpected error: %s" % (job.path, exc)), None, []
        outcome = dict(index=job.index, result=result, diff=diff, secrets=list(secrets))
        if "_owned" in result:
            # The file's new entry for the ownership record (None: forget the file); only the parent writes the record.
            outcome["owned"] = result.pop("_owned")
        outcomes.append(outcome)
    return outcomes


def acting_user(job):
    """Whom to become for this file: None for this process itself, else (uid, gid, groups).

    Root writes a file itself only when nobody else controls a directory or link on the way to it; otherwise it
    becomes whoever does (the user for a file in a home), so the kernel decides what may be touched.
    """
    if os.geteuid() != 0:
        return None
    controller = path_controller(os.path.dirname(os.path.abspath(job.path)))
    if controller is None:
        return None
    uid, gid, dummy = controller
    try:
        account = pwd.getpwuid(uid)
    except KeyError:
        return uid, gid, (gid,)
    return uid, account.pw_gid, tuple(sorted(set(os.getgrouplist(account.pw_name, account.pw_gid))))


def run_as(module, user, jobs):
    """Run the jobs in a child process that has become ``user`` (uid, gid, groups); its results come back as JSON."""
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 0
        try:
            os.close(reader)
            # The module's output is the parent's stdout: nothing the child does (a fail_json deep in run_command) may
            # write there.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            uid, gid, groups = user
            os.setgroups(list(groups))
            os.setgid(gid)
            os.setuid(uid)
            os.umask(0o077)
            payload = json.dumps(run_jobs(module, jobs)).encode("utf-8")
        except BaseException as exc:  # pylint: disable=broad-except
            payload = json.dumps(failed_outcomes(jobs, "cannot act as uid %d: %s" % (user[0], exc))).encode("utf-8")
            status = 1
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(writer, view):]
        finally:
            os._exit(status)
    os.close(writer)
    chunks = []
    while True:
        chunk = os.read(reader, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(reader)
    os.waitpid(pid, 0)
    try:
        return json.loads(b"".join(chunks).decode("utf-8"))
    except ValueError:
        return failed_outcomes(jobs, "the process acting as uid %d ended without a result" % user[0])


def failed_outcomes(jobs, reason):
    return [dict(index=job.index, result=dict(path=job.path, changed=False, changed_keys=[], failed=True, msg="%s: %s" % (job.path, reason)),
                 diff=None, secrets=[]) for job in jobs]


def read_record(path, max_size):
    """The ownership record at ``path`` (a new one when the file does not exist); raises `FileError` naming it."""
    directory, name = os.path.split(os.path.abspath(path))
    if os.geteuid() == 0 and path_controller(directory) is not None:
        raise FileError("%s: the ownership record must be in a directory that only root controls" % path)
    if not os.path.lexists(directory):
        return check_record(None)
    dir_fd = open_directory(directory, path)
    try:
        snapshot = read_snapshot(dir_fd, name, path, max_size)
    finally:
        os.close(dir_fd)
    if not snapshot.exists:
        return check_record(None)
    try:
        return check_record(json.loads(snapshot.data.decode("utf-8")))
    except ValueError as exc:
        raise FileError("%s: not an ownership record this module can use (%s); move it away to start a new one" % (path, exc)) from None


def write_record(path, record):
    """Replace the ownership record atomically, private to the module's user (0600, directory 0700)."""
    directory, name = os.path.split(os.path.abspath(path))
    make_directories(directory, path, os.geteuid(), -1, -1, 0o700)
    dir_fd = open_directory(directory, path)
    temporary = temporary_name(name)
    try:
        text = json.dumps(record, indent=1, sort_keys=True) + "\n"
        create_exclusive(dir_fd, temporary, path, [text], -1, -1, 0o600)
        commit(dir_fd, temporary, name, True, path)
    finally:
        remove(dir_fd, temporary)
        os.close(dir_fd)


def invocation(params):
    """The module arguments as Ansible may show them (-vvv): without the file content."""
    shown = dict(params)
    if shown.get("content") is not None:
        shown["content"] = CONTENT_PLACEHOLDER
    if shown.get("files") is not None:
        shown["files"] = [dict(entry, content=CONTENT_PLACEHOLDER if entry.get("content") is not None else None) for entry in shown["files"]]
    return dict(module_args=shown)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path"),
            # no_log: the content and the files' content are never logged on the host (syslog, journald).
            content=dict(type="dict", no_log=True),
            files=dict(type="list", elements="dict", options=FILE_ENTRY_OPTIONS, no_log=True),
            state=dict(type="str", default="present", choices=["present", "absent"]),
            list_merge=dict(type="str", default="replace", choices=["replace", "append_unique", "prepend_unique"]),
            create=dict(type="bool", default=True),
            create_parents=dict(type="bool", default=False),
            dir_mode=dict(type="raw", default="0700"),
            backup=dict(type="bool", default=False),
            indent=dict(type="int"),
            validate=dict(type="str"),
            force=dict(type="bool", default=False),
            allow_comments=dict(type="bool", default=False),
            max_size=dict(type="int", default=DEFAULT_MAX_SIZE),
            secret_keys=dict(type="list", elements="str", default=[], no_log=False),
            ownership_record=dict(type="path"),
            lockout_guard=dict(type="dict", options=dict(
                managed_settings_dir=dict(type="path", required=True),
                exclude=dict(type="list", elements="path", default=[]),
                managed_preferences_dir=dict(type="path"),
                warn_when_outranked=dict(type="bool", default=False),
                fail_on_lockout=dict(type="bool", default=True),
            )),
        ),
        mutually_exclusive=[("path", "files"), ("content", "files")],
        required_one_of=[("path", "files")],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    # no_log on content and files made every string in them a value to hide, which would blank paths and settings in
    # the result. The module hides exactly the secrets (secret_keys) instead, and never returns the content itself.
    module.no_log_values = set()
    params = module.params
    shown = invocation(params)

    def fail(**kwargs):
        module.fail_json(invocation=shown, **kwargs)

    if params["indent"] is not None and params["indent"] < 0:
        fail(msg="indent must be 0 or more, not %d" % params["indent"])
    if params["max_size"] < 0:
        fail(msg="max_size must be 0 or more, not %d" % params["max_size"])
    if params["validate"] and "%s" not in params["validate"]:
        fail(msg="validate must contain %%s (the file to check): %s" % params["validate"])

    # Claude Code's managed policy, read before anything is written (in this module run: a separate task per host
    # would cost a third of the claude_desktop role's time, docs/performance.md).
    policy = None
    if params["lockout_guard"]:
        options = params["lockout_guard"]
        policy = posix_report(options["managed_settings_dir"], options["exclude"], options["managed_preferences_dir"])
        guard(policy, options["warn_when_outranked"], options["fail_on_lockout"], module.warn,
              lambda message: fail(msg="%s Nothing was written." % message, changed=False, policy=policy))

    batch = params["files"] is not None
    if batch:
        entries = params["files"]
    else:
        entries = [dict(path=params["path"], content=params["content"], owner=None, group=None, mode=None, secret_keys=[])]
    # Hide the content's secrets before anything can fail.
    jobs = []
    failures = {}
    for index, entry in enumerate(entries):
        keys = list(params["secret_keys"]) + list(entry.get("secret_keys") or [])
        try:
            module.no_log_values.update(secret_forms(secret_values(entry.get("content") or {}, keys)))
        except JsonMergeError as exc:
            fail(msg="secret_keys of %s: %s" % (entry["path"], exc))
        try:
            jobs.append(Job(index, entry, params, keys))
        except FileError as exc:
            failures[index] = str(exc)

    record = None
    if params["ownership_record"]:
        try:
            record = read_record(params["ownership_record"], params["max_size"])
        except FileError as exc:
            fail(msg="%s (nothing was written)" % exc)
        for job in jobs:
            job.salt, job.owned = record["salt"], record["files"].get(job.path)

    # One child per user who controls some of the files (the per-user fork is cheap next to a module run).
    groups = {}
    outcomes = []
    for job in jobs:
        try:
            user = acting_user(job)
        except FileError as exc:
            failures[job.index] = str(exc)
            continue
        groups.setdefault(user, []).append(job)
    for user, user_jobs in groups.items():
        outcomes.extend(run_jobs(module, user_jobs) if user is None else run_as(module, user, user_jobs))
    for outcome in outcomes:
        module.no_log_values.update(secret_forms(outcome["secrets"]))
    record_error = None
    if record is not None and not module.check_mode:
        files = dict(record["files"])
        for outcome in outcomes:
            path = entries[outcome["index"]]["path"]
            if "owned" not in outcome:
                continue  # a failed file keeps its entry
            if outcome["owned"] is None:
                files.pop(path, None)
            else:
                files[path] = outcome["owned"]
        if files != record["files"]:
            try:
                write_record(params["ownership_record"], dict(record, files=files))
            except FileError as exc:
                record_error = "%s (the files were merged; the record of what was written was not updated)" % exc
    by_index = dict((outcome["index"], outcome) for outcome in outcomes)
    results, diffs, failed = [], [], []
    for index, entry in enumerate(entries):
        if index in failures:
            outcome = dict(result=dict(path=entry["path"], changed=False, changed_keys=[], failed=True, msg=failures[index]), diff=None)
        else:
            outcome = by_index[index]
        results.append(outcome["result"])
        diffs.append(outcome["diff"])
        if outcome["result"].get("failed"):
            failed.append(outcome["result"]["msg"])

    changed = any(result["changed"] for result in results)
    if batch:
        output = dict(changed=changed, results=results)
        if policy is not None:
            output["policy"] = policy
        if module._diff:
            output["diff"] = [diff for diff in diffs if diff is not None]
        if failed or record_error:
            messages = ["%d of %d files failed: %s" % (len(failed), len(results), "; ".join(failed))] if failed else []
            fail(msg="; ".join(messages + ([record_error] if record_error else [])), **output)
    else:
        output = dict(results[0])
        if policy is not None:
            output["policy"] = policy
        if failed or record_error:
            output.pop("failed", None)
            output["msg"] = "; ".join(failed + ([record_error] if record_error else []))
            fail(**output)
        if module._diff:
            output["diff"] = diffs[0]
    module.exit_json(invocation=shown, **output)


if __name__ == "__main__":
    main()
