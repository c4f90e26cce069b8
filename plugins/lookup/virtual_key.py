# -*- coding: utf-8 -*-
# Copyright (c) aigateway.bifrost contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: virtual_key
author: aigateway.bifrost developers (@aigateway)
version_added: 1.0.0
short_description: Resolve a Bifrost virtual key value by name, generating and storing it on the controller when needed
description:
  - Returns the value of each named virtual key.
  - The value declared in O(declared) (the entry's C(value)) wins when it is set and not empty. It must start with
    C(sk-bf-), as Bifrost requires (it replaces any other value by a random key, so the user's key would never work).
  - Otherwise the value stored on the controller in O(store_dir) is returned.
  - Otherwise a new value C(sk-bf-) followed by 40 random letters and digits is generated with Python's C(secrets)
    module, stored in O(store_dir) (file mode 0600, directory mode 0700) and returned.
  - The store file is written atomically and created exclusively, so parallel forks that resolve the same name
    all get the value that was stored first.
  - Both roles of this collection (C(aigateway.bifrost.bifrost) for the gateway, C(aigateway.bifrost.claude_desktop)
    for the users) resolve keys only through this lookup, so a generated key given to the gateway is the same key a
    user's settings receive.
options:
  _terms:
    description: Names of virtual keys; each must be declared in O(declared).
    required: true
    type: list
    elements: str
  declared:
    description:
      - The declared virtual keys, usually the variable C(bifrost_virtual_keys).
      - A list of dictionaries with at least C(name); C(value) is optional.
    type: list
    elements: dict
    required: true
  store_dir:
    description:
      - Directory on the controller that holds generated values, one file per key (C(virtual_key_<name>)).
      - Usually the variable C(bifrost_credentials_dir). Created with mode 0700 when missing.
    type: path
    required: true
notes:
  - Names may contain letters, digits, C(.), C(_) and C(-), and must start with a letter or digit; the same rule as the
    C(aigateway.bifrost.bifrost) role's preflight and config (C(plugins/module_utils/bifrost_config.py)).
  - Keep O(store_dir) out of version control, or encrypt it; it holds secrets.
seealso:
  - name: Bifrost virtual keys
    description: How clients present a virtual key to the gateway.
    link: https://docs.getbifrost.ai/features/governance/virtual-keys
"""

EXAMPLES = r"""
- name: Give alice's key to a task without showing it
  ansible.builtin.debug:
    msg: "{{ lookup('aigateway.bifrost.virtual_key', 'alice', declared=bifrost_virtual_keys, store_dir=bifrost_credentials_dir) | length }}"

- name: Resolve several keys at once (a list, in the order of the names)
  ansible.builtin.set_fact:
    team_keys: "{{ lookup('aigateway.bifrost.virtual_key', 'alice', 'bob', declared=bifrost_virtual_keys,
                   store_dir=bifrost_credentials_dir, wantlist=True) }}"
  no_log: true
"""

RETURN = r"""
_raw:
  description: The virtual key values, one per name, in the order given.
  type: list
  elements: str
"""

import errno  # noqa: E402 - after the documentation, as Ansible plugins are laid out
import os  # noqa: E402 - after the documentation, as Ansible plugins are laid out
import secrets  # noqa: E402 - after the documentation, as Ansible plugins are laid out
import string  # noqa: E402 - after the documentation, as Ansible plugins are laid out
import tempfile  # noqa: E402 - after the documentation, as Ansible plugins are laid out

from ansible.errors import AnsibleLookupError  # noqa: E402 - after the documentation, as Ansible plugins are laid out
from ansible.module_utils.common.text.converters import to_native, to_text  # noqa: E402 - after the documentation, as Ansible plugins are laid out
from ansible.plugins.lookup import LookupBase  # noqa: E402 - after the documentation, as Ansible plugins are laid out
from ansible_collections.aigateway.bifrost.plugins.module_utils.bifrost_config import (  # noqa: E402 - as above
    VIRTUAL_KEY_PREFIX as KEY_PREFIX, virtual_key_name_error)

KEY_RANDOM_LENGTH = 40
KEY_ALPHABET = string.ascii_letters + string.digits
FILE_PREFIX = "virtual_key_"


def generate_key():
    """A new virtual key value: the sk-bf- prefix Bifrost expects, then 40 random letters and digits."""
    return KEY_PREFIX + "".join(secrets.choice(KEY_ALPHABET) for dummy in range(KEY_RANDOM_LENGTH))


def store_path(store_dir, name):
    return os.path.join(store_dir, FILE_PREFIX + name)


def _read(path):
    with open(path, "r") as handle:
        value = handle.read().strip()
    if not value:
        raise AnsibleLookupError("the stored virtual key file %s is empty; delete it to generate a new key" % path)
    return value


def _ensure_dir(store_dir):
    if os.path.isdir(store_dir):
        return
    try:
        os.makedirs(store_dir, 0o700)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise
    else:
        os.chmod(store_dir, 0o700)  # makedirs' mode is filtered through the umask


def read_or_create(store_dir, name):
    """The stored value for name, creating it first when there is none.

    The value is written to a private temporary file in the same directory, then hard-linked to its final name.
    link() fails when the name exists, so of several processes racing here exactly one value wins and every process
    returns that value; a reader never sees a half-written file.
    """
    path = store_path(store_dir, name)
    if os.path.exists(path):
        return _read(path)
    _ensure_dir(store_dir)
    value = generate_key()
    fd, tmp = tempfile.mkstemp(dir=store_dir, prefix="." + FILE_PREFIX)  # mkstemp creates it 0600
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(value + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
            return _read(path)  # another process stored its value first: use that one
    finally:
        os.unlink(tmp)
    return value


def resolve(name, declared, store_dir):
    """The value of the virtual key called name (see DOCUMENTATION for the order of sources)."""
    problem = virtual_key_name_error(name)  # the one rule shared with the role's preflight and config.json
    if problem:
        raise AnsibleLookupError(problem)
    entries = [entry for entry in declared if isinstance(entry, dict) and entry.get("name") == name]
    if not entries:
        raise AnsibleLookupError("virtual key %r is not declared (known names: %s)" % (
            name, ", ".join(sorted(str(entry.get("name")) for entry in declared if isinstance(entry, dict))) or "none"))
    if len(entries) > 1:
        raise AnsibleLookupError("virtual key %r is declared %d times" % (name, len(entries)))
    value = entries[0].get("value")
    if value not in (None, ""):
        value = to_text(value)
        if not value.startswith(KEY_PREFIX):  # Bifrost would replace it by a random key: that user's key never works
            raise AnsibleLookupError("the value declared for virtual key %r must start with %r" % (name, KEY_PREFIX))
        return value
    try:
        return read_or_create(store_dir, name)
    except (IOError, OSError) as exc:
        raise AnsibleLookupError("cannot store or read virtual key %r in %s: %s" % (name, store_dir, to_native(exc))) from exc


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        if not kwargs.get("store_dir"):  # checked before set_options, which would turn "" into the current directory
            raise AnsibleLookupError("the option 'store_dir' (where generated virtual keys are kept) is required")
        self.set_options(var_options=variables, direct=kwargs)
        declared = self.get_option("declared")
        store_dir = self.get_option("store_dir")
        return [resolve(term, declared, store_dir) for term in terms]
