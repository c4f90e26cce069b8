"""Quality gates: linters, docs rendering, changelog, build, and role argument specs (sanity: test_core_versions.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.parents[1].name for p in (ROOT / "roles").glob("*/meta/argument_specs.yml"))


def run(cmd, cwd=ROOT, timeout=1800, env=None):
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False
    )
    return proc.returncode, proc.stdout


def test_ruff_is_clean():
    rc, out = run(["ruff", "check", "."])
    assert rc == 0, out


def test_ansible_lint_production_profile_is_clean():
    rc, out = run(["ansible-lint", "--offline"])
    assert rc == 0, out[-6000:]
    assert "profile 'production'" in out or "production" in out, out[-2000:]


def test_no_sanity_ignore_entries():
    ignores = list((ROOT / "tests" / "sanity").glob("ignore-*.txt"))
    assert all(not p.read_text().strip() for p in ignores), [str(p) for p in ignores]


def test_changelog_fragments_lint():
    rc, out = run(["antsibull-changelog", "lint"])
    assert rc == 0, out


def test_collection_builds(tmp_path):
    rc, out = run(["ansible-galaxy", "collection", "build", "--output-path", str(tmp_path), str(ROOT)])
    assert rc == 0, out
    assert list(tmp_path.glob("aigateway-bifrost-*.tar.gz")), out


def test_module_documentation_renders():
    rc, out = run(["ansible-doc", "aigateway.bifrost.json_merge"])
    assert rc == 0, out
    for word in ("OPTIONS", "ATTRIBUTES", "EXAMPLES", "RETURN VALUES", "secret_keys", "list_merge"):
        assert word in out, word


def defaults_of(role: str) -> dict:
    return yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text()) or {}


def spec_options_of(role: str) -> dict:
    spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    return spec["argument_specs"]["main"]["options"]


@pytest.mark.parametrize("role", ROLES)
def test_argument_spec_mirrors_defaults(role):
    defaults, options = defaults_of(role), spec_options_of(role)
    assert sorted(defaults) == sorted(k for k, v in options.items() if "default" in v or k in defaults), (
        f"defaults/main.yml and meta/argument_specs.yml drift apart in role {role}: "
        f"only in defaults {sorted(set(defaults) - set(options))}, only in spec {sorted(set(options) - set(defaults))}"
    )
    for name, option in options.items():
        assert option.get("description"), f"{role}: {name} has no description"
        assert option.get("type"), f"{role}: {name} has no type"
        assert name.startswith(role + "_"), f"{role}: public variable {name} lacks the role prefix"
        if name in defaults and "default" in option:
            assert option["default"] == defaults[name], f"{role}: default of {name} differs between defaults and spec"


@pytest.mark.parametrize("role", ROLES)
def test_role_documentation_lists_every_variable(role):
    rc, out = run(["ansible-doc", "-t", "role", f"aigateway.bifrost.{role}"])
    assert rc == 0, out
    missing = [name for name in spec_options_of(role) if name not in out]
    assert not missing, f"ansible-doc -t role aigateway.bifrost.{role} does not show {missing}"


def filter_names() -> list[str]:
    import importlib

    names = []
    for path in sorted((ROOT / "plugins" / "filter").glob("*.py")):
        plugin = importlib.import_module(f"ansible_collections.aigateway.bifrost.plugins.filter.{path.stem}")
        names.extend(plugin.FilterModule().filters())
    return sorted(names)


@pytest.mark.parametrize(
    "plugin",
    [("filter", name) for name in filter_names()]
    + [("lookup", p.stem) for p in sorted((ROOT / "plugins" / "lookup").glob("*.py"))]
    + [("module", p.stem) for p in sorted((ROOT / "plugins" / "modules").glob("*.py"))],
    ids="-".join,
)
def test_every_plugin_is_documented(plugin):
    kind, name = plugin
    rc, out = run(["ansible-doc", "-t", kind, f"aigateway.bifrost.{name}"])
    assert rc == 0 and "ERROR" not in out, out[-3000:]
    assert "EXAMPLES" in out and ("RETURN" in out), out[-3000:]
