# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the bifrost role: its guards, config.json with the environment file, and the schema check.

The rules themselves live in plugins/module_utils/bifrost_config.py (pure, unit-tested Python shared with the
virtual_key lookup); these filters only turn its errors into Ansible errors. Messages name the variable and the key,
never a value.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.aigateway.bifrost.plugins.module_utils import bifrost_config as rules

display = Display()


def bifrost_preflight_errors(settings):
    """Every guard of the role (see rules.preflight_errors), as a list of messages."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError("bifrost_preflight_errors expects a dictionary of the role's variables")
    return rules.preflight_errors(settings)


def bifrost_config(settings):
    """{'config': config.json as data, 'env': NAME -> value for the environment file} (see rules.build_config)."""
    try:
        return rules.build_config(settings)
    except rules.BifrostConfigError as exc:
        raise AnsibleFilterError(str(exc)) from None


def bifrost_env_file(env):
    """Text of the systemd EnvironmentFile (see rules.systemd_env_file)."""
    try:
        return rules.systemd_env_file(env)
    except rules.BifrostConfigError as exc:
        raise AnsibleFilterError(str(exc)) from None


def json_schema_errors(document, schema):
    """Every error of document against a JSON Schema (dict or JSON text), as 'key/path: message' strings.

    An empty schema or a missing jsonschema library only warns (the check is a safety net the operator can't always
    have), and returns no errors.
    """
    if schema in (None, "", {}):
        display.warning("bifrost: the config schema could not be loaded; config.json is not validated")
        return []
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError as exc:
            raise AnsibleFilterError("the config schema is not valid JSON: %s" % exc) from exc
    try:
        import jsonschema
    except ImportError:
        display.warning("bifrost: the Python library jsonschema is missing on the controller; config.json is not "
                        "validated against its schema")
        return []
    cls = jsonschema.validators.validator_for(schema)
    errors = sorted(cls(schema).iter_errors(document), key=lambda err: [str(p) for p in err.absolute_path])
    return ["%s: %s" % ("/".join(str(p) for p in err.absolute_path) or "(top level)", err.message) for err in errors]


class FilterModule(object):
    def filters(self):
        return {
            "bifrost_config": bifrost_config,
            "bifrost_env_file": bifrost_env_file,
            "bifrost_preflight_errors": bifrost_preflight_errors,
            "json_schema_errors": json_schema_errors,
        }
