"""Running a module's main() in-process, the same way under every supported ansible-core."""

from __future__ import annotations

import contextlib
import json
from unittest import mock

from ansible.module_utils.common.parameters import PASS_VARS

try:
    from ansible.module_utils.testing import patch_module_args as _patch_module_args  # ansible-core 2.19 and later
except ImportError:  # ansible-core 2.18: modules read their arguments from basic._ANSIBLE_ARGS
    _patch_module_args = None


@contextlib.contextmanager
def patch_module_args(args):
    """The module arguments `args` for the duration, with `invocation` in the result on every core."""
    args = dict(args)
    if "inject_invocation" in PASS_VARS:  # ansible-core 2.21 adds `invocation` to results only when asked to
        args.setdefault("_ansible_inject_invocation", True)
    if _patch_module_args is not None:
        with _patch_module_args(args):
            yield
        return
    from ansible.module_utils import basic

    with mock.patch.object(basic, "_ANSIBLE_ARGS", json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode()):
        yield
