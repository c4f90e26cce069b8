"""The CI workflow and the pre-commit configuration users copy are valid, and test what the collection supports."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"
PRE_COMMIT = ROOT / ".pre-commit-config.yaml"


def run(*cmd: str) -> tuple[int, str]:
    tool = shutil.which(cmd[0])
    assert tool, f"{cmd[0]} is not installed: run `make venv` (requirements-dev.txt)"
    proc = subprocess.run([tool, *cmd[1:]], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300, check=False)
    return proc.returncode, proc.stdout


def test_workflow_is_valid_against_the_github_workflow_schema():
    rc, out = run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW))
    assert rc == 0, out


def test_pre_commit_config_is_valid():
    rc, out = run("pre-commit", "validate-config", str(PRE_COMMIT))
    assert rc == 0, out


def test_workflow_has_lint_sanity_unit_and_molecule_jobs():
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    assert set(jobs) >= {"lint", "sanity", "unit", "molecule"}
    commands = yaml.safe_dump(jobs)
    assert "pre-commit run --all-files" in commands and "ansible-test sanity" in commands
    assert "make unit" in commands and "make molecule" in commands


def test_sanity_matrix_runs_supported_cores_on_python_they_support():
    requires = SpecifierSet(yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["requires_ansible"])
    matrix = yaml.safe_load(WORKFLOW.read_text())["jobs"]["sanity"]["strategy"]["matrix"]["include"]
    assert matrix
    for entry in matrix:
        core, python = Version(entry["ansible-core"]), Version(entry["python"])
        assert Version(f"{core}.0") in requires, f"ansible-core {core} is not in requires_ansible {requires}"
        # ansible-core 2.20 and newer need Python 3.12 or newer on the controller.
        assert core < Version("2.20") or python >= Version("3.12"), entry
    assert len({entry["ansible-core"] for entry in matrix}) == len(matrix)


def test_pre_commit_hooks_use_the_pinned_tools():
    """Local hooks only: the versions come from requirements-dev.txt, the same as `make test`."""
    config = yaml.safe_load(PRE_COMMIT.read_text())
    assert [repo["repo"] for repo in config["repos"]] == ["local"]
    entries = " ".join(hook["entry"] for hook in config["repos"][0]["hooks"])
    pinned = (ROOT / "requirements-dev.txt").read_text()
    for tool in ("ruff", "ansible-lint", "check-jsonschema", "antsibull-changelog"):
        assert tool in entries and re.search(rf"^{tool}==", pinned, re.MULTILINE), tool


def test_ci_files_name_no_registry_host():
    hosts = re.compile(r"\b[\w.-]+\.(org|io|com|net)\b")
    for path in (WORKFLOW, PRE_COMMIT):
        assert hosts.findall(path.read_text()) == [], path
