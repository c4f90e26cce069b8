# -*- coding: utf-8 -*-
# Copyright: contributors to aigateway.bifrost
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for aigateway.bifrost.json_merge: the same task on POSIX and Windows targets.

POSIX: runs the json_merge module with the task's arguments, unchanged.
Windows (PowerShell shell, where Python modules cannot run): for every file, reads it with ansible.windows.slurp,
merges on the controller with the module's own engine (merge_json_text), and writes the result with
ansible.windows.win_copy (after creating missing parent directories with ansible.windows.win_file). Every file is read
and merged before anything is written, so one bad file means nothing is written. Secret values (secret_keys) are masked
in the diff; the file text travels only as a transferred file, never as a module argument.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.aigateway.bifrost.plugins.module_utils.json_merge import JsonMergeError, diff_texts, mask_secrets, merge_json_text

MODULE = "aigateway.bifrost.json_merge"
# Options of the module that mean something on Windows, and file attributes that do not (ACLs are inherited there).
WINDOWS_OPTIONS = frozenset((
    "path", "content", "files", "state", "list_merge", "create", "create_parents", "dir_mode", "backup", "indent",
    "force", "allow_comments", "secret_keys",
))
POSIX_ONLY_OPTIONS = frozenset((
    "owner", "group", "mode", "seuser", "serole", "setype", "selevel", "unsafe_writes", "attributes", "validate",
    "ownership_record", "lockout_guard",
))
FILE_ENTRY_KEYS = frozenset(("path", "content", "owner", "group", "mode", "dir_mode", "secret_keys"))
NOT_FOUND_MARKERS = ("is not found", "does not exist", "cannot find")


class ActionModule(ActionBase):

    _supports_check_mode = True
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp
        if not self._is_powershell(task_vars):
            # The common case stays a plain module call (as the 'normal' action runs modules).
            wrap_async = self._task.async_val and not self._connection.has_native_async
            result.update(self._execute_module(module_name=MODULE, module_args=self._task.args, task_vars=task_vars,
                                               wrap_async=wrap_async))
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
            return result

        try:
            if self._task.async_val:
                raise AnsibleActionFail("json_merge: async is not supported on Windows targets")
            entries, options = self._windows_entries(self._task.args)
            result.update(self._windows_merge(entries, options, task_vars))
        except AnsibleActionFail as exc:
            result.update(failed=True, msg=to_text(exc.message))
        finally:
            if self._connection._shell.tmpdir:
                self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _is_powershell(self, task_vars):
        shell = getattr(self._connection, "_shell", None)
        if getattr(shell, "SHELL_FAMILY", None) == "powershell":
            return True
        return (task_vars or {}).get("ansible_shell_type") == "powershell"

    # Arguments

    def _windows_entries(self, args):
        unknown = sorted(set(args) - WINDOWS_OPTIONS - POSIX_ONLY_OPTIONS)
        if unknown:
            raise AnsibleActionFail("json_merge: unsupported parameters: %s" % ", ".join(unknown))
        if args.get("validate"):
            raise AnsibleActionFail("json_merge: validate is not supported on Windows targets")
        options = {
            "state": args.get("state") or "present",
            "list_merge": args.get("list_merge") or "replace",
            "create": boolean(args.get("create", True), strict=False),
            "create_parents": boolean(args.get("create_parents", False), strict=False),
            "backup": boolean(args.get("backup", False), strict=False),
            "force": boolean(args.get("force", False), strict=False),
            "allow_comments": boolean(args.get("allow_comments", False), strict=False),
            "indent": args.get("indent"),
        }
        if options["indent"] is not None and options["indent"] != "\t":
            try:
                options["indent"] = int(options["indent"])
            except (TypeError, ValueError):
                raise AnsibleActionFail("json_merge: indent must be a number of spaces, not %r" % (options["indent"],)) from None
        files = args.get("files")
        if files is not None:
            if args.get("path") is not None or args.get("content") is not None:
                raise AnsibleActionFail("json_merge: parameters are mutually exclusive: files|path, files|content")
            if not isinstance(files, list):
                raise AnsibleActionFail("json_merge: files must be a list")
            entries = []
            for index, entry in enumerate(files):
                if not isinstance(entry, dict):
                    raise AnsibleActionFail("json_merge: files[%d] must be a dict" % index)
                extra = sorted(set(entry) - FILE_ENTRY_KEYS)
                if extra:
                    raise AnsibleActionFail("json_merge: files[%d] has unsupported keys: %s" % (index, ", ".join(extra)))
                merged = dict(entry)
                merged.setdefault("secret_keys", args.get("secret_keys"))
                entries.append(merged)
        else:
            if args.get("path") is None or args.get("content") is None:
                raise AnsibleActionFail("json_merge: one of these is required: path and content, or files")
            entries = [{"path": args["path"], "content": args["content"], "secret_keys": args.get("secret_keys")}]
        for entry in entries:
            if not isinstance(entry.get("path"), str) or not entry["path"]:
                raise AnsibleActionFail("json_merge: every file needs a path")
            if not isinstance(entry.get("content"), dict):
                raise AnsibleActionFail("json_merge: %s: content must be a dict" % entry["path"])
            entry["secret_keys"] = [to_text(k) for k in entry.get("secret_keys") or []]
        return entries, options

    # The Windows write path

    def _module(self, name, module_args, task_vars):
        return self._execute_module(module_name=name, module_args=module_args, task_vars=task_vars)

    def _read(self, path, task_vars):
        """The file's text, or None when it does not exist."""
        answer = self._module("ansible.windows.slurp", {"src": path}, task_vars)
        if answer.get("failed"):
            message = to_text(answer.get("msg", ""))
            if any(marker in message.lower() for marker in NOT_FOUND_MARKERS):
                return None
            raise AnsibleActionFail("json_merge: cannot read %s: %s" % (path, message))
        try:
            return to_text(base64.b64decode(answer["content"]), errors="surrogate_or_strict")
        except (KeyError, TypeError, ValueError, UnicodeError) as exc:
            raise AnsibleActionFail("json_merge: %s is not UTF-8 text: %s" % (path, to_native(exc))) from None

    def _windows_merge(self, entries, options, task_vars):
        check_mode = bool(self._task.check_mode)
        want_diff = bool(self._task.diff)
        planned = []
        # Read and merge everything first: one bad file means nothing is written.
        for entry in entries:
            path = entry["path"]
            text = self._read(path, task_vars)
            if text is None and not options["create"]:
                if options["state"] == "absent":
                    planned.append((entry, None, None))
                    continue
                raise AnsibleActionFail("json_merge: %s does not exist and create is false" % path)
            try:
                merged = merge_json_text(
                    text, entry["content"], state=options["state"], list_merge=options["list_merge"],
                    force=options["force"], allow_comments=options["allow_comments"], indent=options["indent"],
                    source=path, secret_keys=entry["secret_keys"],
                )
            except JsonMergeError as exc:
                raise AnsibleActionFail("json_merge: %s (nothing was written)" % to_text(exc)) from None
            if text is None and options["state"] == "absent":
                merged.changed = False  # nothing to remove from a file that is not there
            planned.append((entry, text, merged))

        results, diffs = [], []
        for entry, text, merged in planned:
            path = entry["path"]
            item = {"path": path, "changed": bool(merged and merged.changed),
                    "changed_keys": list(merged.changed_keys) if merged and merged.changed else []}
            if item["changed"]:
                if want_diff:
                    before_text, after_text = diff_texts(merged)
                    diffs.append({
                        "before": mask_secrets(before_text, merged.secrets),
                        "after": mask_secrets(after_text, merged.secrets),
                        "before_header": path, "after_header": path,
                    })
                if not check_mode:
                    backup_file = self._write(path, merged.after, text is None, options, task_vars)
                    if backup_file:
                        item["backup_file"] = backup_file
            results.append(item)

        result = {"changed": any(item["changed"] for item in results)}
        if len(entries) == 1 and self._task.args.get("files") is None:
            result.update(results[0])
            if diffs:
                result["diff"] = diffs[0]
        else:
            result["results"] = results
            if diffs:
                result["diff"] = diffs
        return result

    def _write(self, path, text, is_new, options, task_vars):
        shell = self._connection._shell
        if is_new and options["create_parents"]:
            parent = path.replace("/", "\\").rsplit("\\", 1)[0]
            answer = self._module("ansible.windows.win_file", {"path": parent, "state": "directory"}, task_vars)
            if answer.get("failed"):
                raise AnsibleActionFail("json_merge: cannot create %s: %s" % (parent, to_text(answer.get("msg", ""))))
        if not shell.tmpdir:
            self._make_tmp_path()
        source = shell.join_path(shell.tmpdir, "json_merge_source")
        # The text goes over as a file (UTF-8, no BOM); module arguments hold only paths, never the content.
        self._transfer_data(source, to_bytes(text, errors="surrogate_or_strict"))
        answer = self._module("ansible.windows.win_copy", {
            "src": source, "dest": path, "_original_basename": path.replace("/", "\\").rsplit("\\", 1)[-1],
            "backup": options["backup"], "_copy_mode": "single",
        }, task_vars)
        if answer.get("failed"):
            raise AnsibleActionFail("json_merge: cannot write %s: %s" % (path, to_text(answer.get("msg", ""))))
        return answer.get("backup_file")
