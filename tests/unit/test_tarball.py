"""The `ansible-galaxy collection build` tarball holds what users need and nothing else."""

from __future__ import annotations

import fnmatch
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Top-level entries a user's installed collection may have (CHANGELOG.rst once `antsibull-changelog release` ran).
ALLOWED_TOP = {"MANIFEST.json", "FILES.json", "README.md", "COPYING", "CHANGELOG.rst",
               "meta", "roles", "plugins", "playbooks", "docs", "changelogs"}
ALLOWED_CHANGELOGS = {"changelogs", "changelogs/changelog.yaml", "changelogs/config.yaml"}
REQUIRED = {"README.md", "COPYING", "meta/runtime.yml", "plugins/modules/json_merge.py", "plugins/action/json_merge.py",
            "plugins/module_utils/json_merge.py", "plugins/lookup/virtual_key.py", "plugins/filter/bifrost.py",
            "roles/bifrost/tasks/main.yml", "roles/bifrost/meta/argument_specs.yml",
            "roles/claude_desktop/tasks/main.yml", "roles/claude_desktop/meta/argument_specs.yml",
            "playbooks/site.yml", "playbooks/gateway.yml", "playbooks/fleet.yml", "docs/quickstart.md",
            "changelogs/changelog.yaml"}
# Development files that must never ship, wherever they are.
DENIED = ["*__pycache__*", "*.pyc", "*.hypothesis*", "*.cache*", "*.venv*", "*.artifacts*", "*.ruff_cache*",
          "*.pytest_cache*", "*generate_role_docs*", "*bifrost_standin*", "*.plugin-cache.yaml", "*.tar.gz",
          "*/fragments*", "Makefile", "pyproject.toml", "requirements-dev.txt", ".pre-commit-config.yaml", ".github*",
          "tests*", "molecule*", "bench*", "scripts*", ".ci*", "execution-environment.yml"]


@pytest.fixture(scope="module")
def members(tmp_path_factory) -> set[str]:
    out = tmp_path_factory.mktemp("build")
    subprocess.run(["ansible-galaxy", "collection", "build", "--output-path", str(out)], cwd=ROOT, check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    (tarball,) = out.glob("aigateway-bifrost-*.tar.gz")
    with tarfile.open(tarball) as tar:
        return {name.rstrip("/") for name in tar.getnames()}


def test_tarball_has_what_users_need(members):
    assert REQUIRED - members == set()


def test_tarball_has_nothing_else(members):
    assert {name.split("/", 1)[0] for name in members} - ALLOWED_TOP == set()
    assert {name for name in members if name.startswith("changelogs")} - ALLOWED_CHANGELOGS == set()
    assert sorted(name for name in members if any(fnmatch.fnmatch(name, pattern) for pattern in DENIED)) == []
