"""A config schema that is configured but cannot be loaded stops the bifrost role before config.json is written.

Runs the role's configure tasks in check mode against the controller itself (nothing is created): the schema is a
missing file, or a URL on a closed 127.0.0.1 port.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml


@pytest.mark.parametrize("schema", ["{tmp}/missing.schema.json", "http://127.0.0.1:9/schema.json"])
def test_unloadable_schema_fails_naming_it(tmp_path, schema):
    schema = schema.format(tmp=tmp_path)
    (tmp_path / "inventory").write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    (tmp_path / "play.yml").write_text(yaml.safe_dump([{
        "name": "Configure only", "hosts": "localhost", "gather_facts": False,
        "vars": {"bifrost_config_schema": schema, "bifrost_app_dir": str(tmp_path / "app"),
                 "bifrost_config_dir": str(tmp_path / "etc")},
        "tasks": [{"name": "Configure", "ansible.builtin.include_role": {
            "name": "aigateway.bifrost.bifrost", "tasks_from": "configure"}}]}]))
    proc = subprocess.run(["ansible-playbook", "-i", "inventory", "play.yml", "--check"], cwd=tmp_path,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300, check=False)
    assert proc.returncode != 0, proc.stdout[-3000:]
    fatal = [line for line in proc.stdout.splitlines() if line.startswith("fatal: [localhost]")]
    assert len(fatal) == 1 and "__bifrost_schema_text" in fatal[0] and schema in fatal[0], proc.stdout[-3000:]
    assert "Write config.json" not in proc.stdout
    assert not (tmp_path / "app").exists()
