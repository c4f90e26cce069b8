# -*- coding: utf-8 -*-
# Copyright: contributors to aigateway.bifrost
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Dictionary helpers shared by the gateway's config renderer and the Claude settings filters."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def deep_merge(base, patch):
    """A new dict: ``patch`` merged into ``base`` recursively, as Ansible's combine(recursive=true) does.

    Dictionaries merge; anything else in ``patch`` (lists included) replaces. Neither argument is changed.
    """
    result = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = deep_merge(result[key], value)
        else:
            result[key] = value
    return result
