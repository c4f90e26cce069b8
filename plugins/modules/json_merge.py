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
  - One invocation can merge many files with O(files), which keeps the number of module runs per host small.
options:
  path:
    description:
      - The JSON file to merge into.
      - A symbolic link is followed and its target is written; the link itself stays a link.
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
      - Files are processed in order, each one atomically. The first file that fails stops the run and fails the task,
        naming that file; files merged before it stay merged and are listed in RV(results).
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
      - Key paths whose values are secrets. The strings found there, in the old file, in O(content) and in the new file,
        are masked in the task result, the diff and the logged module arguments.
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
  - Writes go through symbolic links to their targets.
  - O(secret_keys) masks values in what the task returns and logs (result, diff, module arguments); the file itself holds
    them, so give such files a private O(mode) (new files get C(0600) anyway).
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
backup_file:
  description: The backup copy made because of O(backup).
  returned: when O(path) is used, O(backup=true) and the file changed
  type: str
  sample: /home/alice/.claude/settings.json.12345.2026-01-31@12:00:00~
results:
  description:
    - One entry per file of O(files), in order. When a file fails, the entries of the files done before it.
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
    backup_file:
      description: The backup copy of this file made because of O(backup).
      returned: when O(backup=true) and the file changed
      type: str
      sample: /home/alice/.claude/settings.json.12345.2026-01-31@12:00:00~
"""

# Imports follow the documentation blocks, as validate-modules requires.
import os  # noqa: E402
import shlex  # noqa: E402
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.aigateway.bifrost.plugins.module_utils.json_merge import (  # noqa: E402
    DEFAULT_INDENT,
    JsonMergeError,
    dump_json,
    merge_json_text,
    secret_values,
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


class FileError(Exception):
    """A file that cannot be merged; the message names it."""


def read_text(path, target):
    """The file's text; a missing permission or a non-UTF-8 file is a `FileError` naming it."""
    try:
        with open(target, "rb") as handle:
            raw = handle.read()
    except (IOError, OSError) as exc:
        raise FileError("%s: cannot read the file: %s" % (path, exc.strerror or exc)) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileError("%s: the file is not UTF-8 text (invalid byte at offset %d)" % (path, exc.start)) from None


def missing_directories(directory):
    """The directories to create, outermost first, for ``directory`` to exist."""
    missing = []
    while not os.path.lexists(directory):
        missing.insert(0, directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return missing


def create_directories(module, directories, attributes):
    for directory in directories:
        os.mkdir(directory, 0o700)
        module.set_mode_if_different(directory, attributes["dir_mode"], False)
        module.set_owner_if_different(directory, attributes["owner"], False)
        module.set_group_if_different(directory, attributes["group"], False)


def write_atomically(module, path, target, chunks, exists):
    """Write the text ``chunks`` to a temporary file next to ``target``, validate it, then move it into place."""
    validate = module.params["validate"]
    directory = os.path.dirname(target)
    try:
        descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".%s." % os.path.basename(target), suffix=".tmp")
    except OSError as exc:
        raise FileError("%s: cannot write in %s: %s" % (path, directory, exc.strerror or exc)) from None
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk.encode("utf-8"))
        if validate:
            rc, out, err = module.run_command(validate % shlex.quote(temporary))
            if rc != 0:
                raise FileError("%s: validate failed (rc %d), the file was not changed: %s" % (path, rc, (err or out).strip()))
        if exists:
            # atomic_move keeps the owner, group and mode of the file it replaces.
            module.atomic_move(temporary, target, unsafe_writes=module.params["unsafe_writes"])
        else:
            # atomic_move gives a new file 0666 minus the umask: keep it private until its attributes are set.
            umask = os.umask(0o077)
            try:
                module.atomic_move(temporary, target, unsafe_writes=module.params["unsafe_writes"])
            finally:
                os.umask(umask)
    except OSError as exc:
        raise FileError("%s: cannot write the file: %s" % (path, exc.strerror or exc)) from None
    finally:
        if os.path.lexists(temporary):
            os.unlink(temporary)


def merge_file(module, entry, secret_keys):
    """Merge one file; returns its result dict and its diff. Raises `FileError` and leaves the file as it was."""
    params = module.params
    path = entry["path"]
    target = os.path.realpath(path)
    attributes = dict((name, entry.get(name) if entry.get(name) is not None else params[name]) for name in ATTRIBUTE_OPTIONS)
    result = dict(path=path, changed=False, changed_keys=[])

    if os.path.isdir(target):
        raise FileError("%s: is a directory, not a JSON file" % path)
    exists = os.path.exists(target)
    new_directories = []
    if exists:
        text = read_text(path, target)
    elif params["state"] == "absent":
        return result, dict(before="", after="", before_header=path, after_header=path)
    elif not params["create"]:
        raise FileError("%s: the file does not exist (create is false)" % path)
    else:
        text = None
        new_directories = missing_directories(os.path.dirname(target))
        if new_directories and not params["create_parents"]:
            raise FileError("%s: the directory %s does not exist (create_parents creates it)" % (path, new_directories[0]))
        if not new_directories and not os.path.isdir(os.path.dirname(target)):
            raise FileError("%s: %s is not a directory" % (path, os.path.dirname(target)))

    try:
        merged = merge_json_text(
            text,
            entry.get("content") or {},
            state=params["state"],
            list_merge=params["list_merge"],
            force=params["force"],
            allow_comments=params["allow_comments"],
            indent=params["indent"],
            source=path,
            secret_keys=secret_keys,
        )
    except JsonMergeError as exc:
        raise FileError(str(exc)) from None
    module.no_log_values.update(merged.secrets)

    changed = merged.changed or not exists
    # A missing file is created even when the content adds nothing to an empty document.
    created_empty = not exists and not merged.changed
    empty_text = dump_json(merged.data, indent=DEFAULT_INDENT if params["indent"] is None else params["indent"]) if created_empty else None
    result["changed_keys"] = merged.changed_keys
    diff = None
    if module._diff:
        diff = dict(before=merged.before, after=empty_text if created_empty else merged.after, before_header=path, after_header=path)

    if changed and not module.check_mode:
        try:
            create_directories(module, new_directories, attributes)
        except OSError as exc:
            raise FileError("%s: cannot create the directory: %s" % (path, exc.strerror or exc)) from None
        if exists and params["backup"]:
            result["backup_file"] = module.backup_local(target)
        write_atomically(module, path, target, [empty_text] if created_empty else merged.chunks(), exists)
    if os.path.exists(target):
        file_arguments = module.load_file_common_arguments(dict(params, **attributes), path=target)
        changed = module.set_fs_attributes_if_different(file_arguments, changed)
    result["changed"] = changed
    return result, diff


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path"),
            content=dict(type="dict"),
            files=dict(type="list", elements="dict", options=FILE_ENTRY_OPTIONS),
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
            secret_keys=dict(type="list", elements="str", default=[], no_log=False),
        ),
        mutually_exclusive=[("path", "files"), ("content", "files")],
        required_one_of=[("path", "files")],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    params = module.params
    if params["indent"] is not None and params["indent"] < 0:
        module.fail_json(msg="indent must be 0 or more, not %d" % params["indent"])
    if params["validate"] and "%s" not in params["validate"]:
        module.fail_json(msg="validate must contain %%s (the file to check): %s" % params["validate"])

    batch = params["files"] is not None
    if batch:
        entries = params["files"]
    else:
        entries = [dict(path=params["path"], content=params["content"], owner=None, group=None, mode=None, secret_keys=[])]
    # Mask the content's secrets before anything can fail: the logged module arguments hold them too.
    entry_secret_keys = []
    for entry in entries:
        keys = list(params["secret_keys"]) + list(entry.get("secret_keys") or [])
        try:
            module.no_log_values.update(secret_values(entry.get("content") or {}, keys))
        except JsonMergeError as exc:
            module.fail_json(msg="secret_keys of %s: %s" % (entry["path"], exc))
        entry_secret_keys.append(keys)

    results = []
    diffs = []
    for entry, keys in zip(entries, entry_secret_keys):
        try:
            result, diff = merge_file(module, entry, keys)
        except FileError as exc:
            if batch:
                module.fail_json(msg=str(exc), changed=any(done["changed"] for done in results), results=results)
            module.fail_json(msg=str(exc))
        results.append(result)
        diffs.append(diff)

    if batch:
        output = dict(changed=any(result["changed"] for result in results), results=results)
        if module._diff:
            output["diff"] = diffs
    else:
        output = results[0]
        if module._diff:
            output["diff"] = diffs[0]
    module.exit_json(**output)


if __name__ == "__main__":
    main()
