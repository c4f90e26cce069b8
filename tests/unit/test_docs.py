"""The docs stay true: links resolve, the variable references match the argument specs, and the example inventory
parses, is really encrypted, and only uses variables the roles know."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "inventory"
VAULT_PASS = EXAMPLE / ".vault-pass.example"
sys.path.insert(0, str(ROOT / "scripts"))

import generate_role_docs  # noqa: E402  (scripts/ is not a package)

MARKDOWN = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")
# Variables the playbooks read from the inventory besides the roles' own options.
PLAYBOOK_VARS = {"bifrost_advertise_host"}


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = INLINE_CODE.sub(lambda m: m.group(0).strip("`"), heading.strip()).lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: Path) -> set[str]:
    text = FENCE.sub("", markdown.read_text(encoding="utf-8"))
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.MULTILINE)}


def relative_links(markdown: Path) -> list[str]:
    text = FENCE.sub("", markdown.read_text(encoding="utf-8"))
    text = INLINE_CODE.sub("", text)
    return [t for t in LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.IGNORECASE)]


def test_markdown_files_are_found():
    names = {p.relative_to(ROOT).as_posix() for p in MARKDOWN}
    assert {"README.md", "docs/quickstart.md", "docs/architecture.md", "docs/troubleshooting.md"} <= names


@pytest.mark.parametrize("markdown", MARKDOWN, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_resolve(markdown):
    broken = []
    for target in relative_links(markdown):
        path, anchor = (target.split("#", 1) + [""])[:2]
        resolved = (markdown.parent / path).resolve() if path else markdown
        if not resolved.exists():
            broken.append(target + " (no such file)")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(target + " (no such heading)")
    assert broken == [], f"{markdown.relative_to(ROOT)}: broken links {broken}"


def test_slug_matches_github_rules():
    assert slug("Upgrade and rollback") == "upgrade-and-rollback"
    assert slug("The `fleet` playbook: a canary") == "the-fleet-playbook-a-canary"


def test_readme_has_exactly_the_two_setup_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.DOTALL)
    make_lines = [line.split("#")[0].strip() for block in blocks for line in block.splitlines() if line.startswith("make ")]
    assert make_lines == ["make demo", "make test"]
    assert "ansible-galaxy collection install aigateway-bifrost-*.tar.gz" in readme


@pytest.mark.parametrize("source,path", generate_role_docs.targets(),
                         ids=lambda v: v.relative_to(ROOT).as_posix())
def test_generated_references_match_the_specs(source, path):
    text = generate_role_docs.render(source)
    assert path.exists(), f"{path.relative_to(ROOT)} is missing: run python3 scripts/generate_role_docs.py"
    assert path.read_text(encoding="utf-8") == text, (
        f"{path.relative_to(ROOT)} is stale: run python3 scripts/generate_role_docs.py")


@pytest.mark.parametrize("role", sorted(p.parents[1].name for p in (ROOT / "roles").glob("*/meta/argument_specs.yml")))
def test_role_reference_lists_every_option(role):
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", (ROOT / "docs" / "roles" / f"{role}.md").read_text(), re.M))
    assert documented == role_options(role)


def test_both_roles_have_a_reference():
    assert {p.name for p in (ROOT / "docs" / "roles").glob("*.md")} >= {"bifrost.md", "claude_desktop.md"}


def test_vault_is_really_encrypted():
    vault = (EXAMPLE / "group_vars" / "all" / "vault.yml").read_text(encoding="utf-8")
    assert vault.startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    assert "sk-bf-" not in vault and "vault_" not in vault
    assert "demo" in VAULT_PASS.read_text(encoding="utf-8").lower()


def ansible_inventory(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ansible-inventory", "-i", str(EXAMPLE), *args], capture_output=True, text=True,
                          check=False, cwd=ROOT, env=dict(os.environ, ANSIBLE_DEPRECATION_WARNINGS="false"))


@pytest.fixture(scope="module")
def example_inventory() -> dict:
    result = ansible_inventory("--vault-password-file", str(VAULT_PASS), "--list")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_example_inventory_parses_with_the_demo_password(example_inventory):
    hostvars = example_inventory["_meta"]["hostvars"]
    assert example_inventory["bifrost_gateways"]["hosts"] == ["gw1.example.internal"]
    assert set(example_inventory["claude_workstations"]["hosts"]) == {
        "ws-alice.example.internal", "ws-bob.example.internal", "build01.example.internal"}
    alice = hostvars["ws-alice.example.internal"]
    assert [user["name"] for user in alice["claude_desktop_users"]] == ["alice"]
    assert alice["vault_vk_alice"].startswith("sk-bf-")  # decrypted from vault.yml
    assert [user["name"] for user in hostvars["build01.example.internal"]["claude_desktop_users"]] == ["bob", "ci"]
    keys = {key["name"] for key in hostvars["gw1.example.internal"]["bifrost_virtual_keys"]}
    referenced = {user.get("virtual_key_name") for host in hostvars.values() for user in host.get("claude_desktop_users", [])}
    assert referenced - {None} <= keys


def test_example_inventory_needs_the_vault_password():
    result = ansible_inventory("--list")
    assert result.returncode != 0
    assert "vault" in (result.stderr + result.stdout).lower()


def role_options(role: str) -> set[str]:
    spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    return set(spec["argument_specs"]["main"].get("options") or {})


INVENTORY_VAR_FILES = sorted(
    p for base in (EXAMPLE, ROOT / "molecule" / "e2e", ROOT / "molecule" / "demo")
    for p in base.rglob("*.yml") if {"group_vars", "host_vars"} & set(p.relative_to(base).parts)
    and p.name != "vault.yml"
)


@pytest.mark.parametrize("path", INVENTORY_VAR_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_inventories_only_set_variables_the_roles_know(path):
    """A renamed role variable would otherwise be silently ignored by an operator's inventory."""
    known = {"bifrost": role_options("bifrost"), "claude_desktop": role_options("claude_desktop")}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = [name for name in data if name not in PLAYBOOK_VARS
               and any(name.startswith(role + "_") and name not in options for role, options in known.items())]
    assert unknown == []


def test_site_playbook_and_example_inventory_pass_syntax_check():
    result = subprocess.run(
        ["ansible-playbook", "--syntax-check", "-i", str(EXAMPLE), "--vault-password-file", str(VAULT_PASS),
         "aigateway.bifrost.site"],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "playbook: " in result.stdout


def load_yaml(relative: str):
    return yaml.safe_load((ROOT / relative).read_text(encoding="utf-8"))


def test_playbooks_target_the_documented_groups_gateway_first():
    gateway, fleet, site = (load_yaml(f"playbooks/{name}.yml") for name in ("gateway", "fleet", "site"))
    assert [play["hosts"] for play in gateway] == ["bifrost_gateways"]
    assert [play["hosts"] for play in fleet] == ["claude_workstations"]
    assert [play["ansible.builtin.import_playbook"] for play in site] == ["aigateway.bifrost.gateway", "aigateway.bifrost.fleet"]
    assert fleet[0]["serial"] == "{{ fleet_serial | default([1, '10%', '100%']) }}"  # canary of one first
    assert "fleet_max_fail_percentage" in str(fleet[0]["max_fail_percentage"])


def test_execution_environment_definitions():
    definition = load_yaml("execution-environment.yml")
    assert definition["version"] == 3
    assert definition["images"]["base_image"]["name"]
    assert set(definition["dependencies"]) >= {"galaxy", "python", "system"}
    # The same ansible-core range as the collection supports (galaxy's requires_ansible in meta/runtime.yml).
    runtime = load_yaml("meta/runtime.yml")
    assert definition["dependencies"]["ansible_core"]["package_pip"] == "ansible-core" + runtime["requires_ansible"].replace(" ", "")
    meta = load_yaml("meta/execution-environment.yml")
    for kind in ("python", "system"):
        assert definition["dependencies"][kind] == meta["dependencies"][kind]
        assert (ROOT / meta["dependencies"][kind]).is_file()
