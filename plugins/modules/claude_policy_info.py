#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: contributors to aigateway.bifrost
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: claude_policy_info
short_description: Find Claude Code managed policy that would lock gateway users out
version_added: 1.0.0
description:
  - Reads every Claude Code managed settings source of a Linux or macOS host, C(managed-settings.json) and every
    C(managed-settings.d/*.json) drop-in (in the CLI's order) and, on macOS, the C(com.anthropic.claudecode) managed
    preferences (device and per-user profiles), and reports the keys that lock a gateway (token) user out.
  - Lock-out keys, in a managed source only (verified with Claude Code 2.1.328 and 2.1.337) are C(forceLoginMethod)
    (any value), C(forceLoginOrgUUID), C(enforceAnthropicSignIn=true) (2.1.330 and newer) and C(allowedProviders)
    without C(customEndpoint). The same keys in a user's own C(settings.json) lock nobody out and are not read.
  - Also reports whether an OS policy (a macOS device profile) exists, which makes Claude Code ignore the managed files.
  - Read only. Windows hosts are covered by the C(aigateway.bifrost.claude_policy_report) filter in the
    C(aigateway.bifrost.claude_desktop) role (registry and files read with C(ansible.windows) modules).
options:
  managed_settings_dir:
    description: The managed settings directory (C(/etc/claude-code) on Linux, C(/Library/Application Support/ClaudeCode) on macOS).
    type: path
    required: true
  exclude:
    description: Managed files not to judge, such as the drop-in the calling role writes itself.
    type: list
    elements: path
    default: []
  managed_preferences_dir:
    description:
      - Where macOS managed preferences live (C(/Library/Managed Preferences)); the device profile
        C(<dir>/com.anthropic.claudecode.plist) and per-user profiles C(<dir>/<user>/com.anthropic.claudecode.plist)
        are read. Omit on Linux.
    type: path
  warn_when_outranked:
    description:
      - Warn when an OS policy outranks the managed files, because the caller writes a managed file that Claude Code
        would then ignore.
    type: bool
    default: false
  fail_on_lockout:
    description:
      - Fail when a source locks users out, naming each file and key. Otherwise each lock-out is a warning.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: [posix]
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
notes:
  - A source that is not a regular file, larger than 64 MiB, not UTF-8 or not valid JSON is reported with its error
    and no lock-out (Claude Code ignores it too). Nothing blocks on a FIFO or device.
seealso:
  - name: Claude Code managed settings
    description: Where Claude Code reads managed policy.
    link: https://code.claude.com/docs/en/managed-settings
author:
  - aigateway.bifrost developers (@aigateway)
"""

EXAMPLES = r"""
- name: Stop before configuring a host whose managed policy locks token users out
  aigateway.bifrost.claude_policy_info:
    managed_settings_dir: /etc/claude-code
    exclude: [/etc/claude-code/managed-settings.d/50-aigateway.json]
    fail_on_lockout: true
"""

RETURN = r"""
sources:
  description: Every managed source found, in the CLI's order (macOS profiles first, then the files).
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    kind:
      description: V(file), V(dropin), V(macos_profile) or V(macos_user_profile).
      type: str
    error:
      description: Why the source was not judged (not readable, not JSON...), else V(null).
      type: str
    lockouts:
      description: The lock-out keys it sets, each with C(key) and C(reason).
      type: list
      elements: dict
lockouts:
  description: Every lock-out found, each with C(path), C(key) and C(reason).
  returned: always
  type: list
  elements: dict
os_policy_outranks_files:
  description: Whether an OS policy (macOS device profile) exists, so that Claude Code ignores the managed files.
  returned: always
  type: bool
outranking_sources:
  description: The OS policy sources that outrank the managed files.
  returned: always
  type: list
  elements: str
rules_verified_on:
  description: The Claude Code versions the lock-out rules were verified on.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402
from ansible_collections.aigateway.bifrost.plugins.module_utils.claude_policy import (  # noqa: E402
    guard,
    posix_report,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            managed_settings_dir=dict(type="path", required=True),
            exclude=dict(type="list", elements="path", default=[]),
            managed_preferences_dir=dict(type="path"),
            warn_when_outranked=dict(type="bool", default=False),
            fail_on_lockout=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    result = posix_report(params["managed_settings_dir"], params["exclude"], params["managed_preferences_dir"])
    guard(result, params["warn_when_outranked"], params["fail_on_lockout"], module.warn,
          lambda message: module.fail_json(msg=message, changed=False, **result))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
