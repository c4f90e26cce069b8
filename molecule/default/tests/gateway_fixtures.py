"""Fixtures for the bifrost gateway scenarios: the scenario's inventory values and every secret it uses.

Loaded by conftest.py here (scenarios default and alternative) and by molecule/upgrade/tests/conftest.py.
A scenario whose last converge used other values than its inventory (upgrade) writes them to
$MOLECULE_EPHEMERAL_DIRECTORY/last-converge-vars.yml; they are overlaid here and passed to the check-mode run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
SCENARIO = Path(os.environ.get("MOLECULE_SCENARIO_DIRECTORY", Path(__file__).resolve().parents[1]))
EPHEMERAL = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent"))
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))  # for tests.helpers.schemas


LAST_VARS = EPHEMERAL / "last-converge-vars.yml"
STANDIN = PROJECT / "tests" / "bifrost_standin" / "bifrost-http"


@pytest.fixture(scope="session")
def molecule_config() -> dict:
    return yaml.safe_load((SCENARIO / "molecule.yml").read_text())


@pytest.fixture(scope="session")
def gw(molecule_config) -> dict:
    """The role's defaults overlaid with the scenario's group_vars (templated values are left as text)."""
    values = yaml.safe_load((PROJECT / "roles" / "bifrost" / "defaults" / "main.yml").read_text())
    values.update(molecule_config["provisioner"]["inventory"]["group_vars"]["all"])
    if LAST_VARS.is_file():
        values.update(yaml.safe_load(LAST_VARS.read_text()))
    src = values["bifrost_binary_src"]
    values["binary_src_path"] = STANDIN if "{{" in src else Path(src)
    values["app_dir"] = values["bifrost_app_dir"]
    values["port"] = int(values["bifrost_port"])
    values["url"] = "http://127.0.0.1:%d" % values["port"]
    return values


@pytest.fixture(scope="session")
def credentials_dir() -> Path:
    path = EPHEMERAL / "credentials"
    assert path.is_dir(), "the scenario's bifrost_credentials_dir %s was not created by converge" % path
    return path


@pytest.fixture(scope="session")
def secrets(gw, credentials_dir) -> dict:
    """NAME -> value of every secret the scenario gives or the role generated (all must stay out of sight)."""
    found = {}
    for pname, provider in gw["bifrost_providers"].items():
        for key in provider["keys"]:
            found["provider %s/%s" % (pname, key["name"])] = key["value"]
    for client in gw["bifrost_mcp_clients"]:
        for header, value in (client.get("headers") or {}).items():
            found["MCP %s header %s" % (client["name"], header)] = value
    for vk in gw["bifrost_virtual_keys"]:
        value = vk.get("value") or (credentials_dir / ("virtual_key_" + vk["name"])).read_text().strip()
        found["virtual key " + vk["name"]] = value
    for name, var in (("admin_password", "bifrost_admin_password"), ("encryption_key", "bifrost_encryption_key")):
        found[name] = gw.get(var) or (credentials_dir / name).read_text().strip()
    if gw.get("bifrost_postgres_password"):
        found["postgres password"] = gw["bifrost_postgres_password"]
    assert all(len(value) >= 16 for value in found.values()), "test secrets must be long enough to be unmistakable"
    return found


@pytest.fixture(scope="session")
def check_mode_run(molecule_config):
    """ansible-playbook --check --diff -v of the scenario's converge playbook against the converged hosts."""
    playbook = molecule_config["provisioner"].get("playbooks", {}).get("converge", "converge.yml")
    extra = ["-e", "@" + str(LAST_VARS)] if LAST_VARS.is_file() else []
    proc = subprocess.run(
        ["ansible-playbook", "-i", str(EPHEMERAL / "inventory"), "--check", "--diff", "-v", *extra, str(SCENARIO / playbook)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False, timeout=900,
        env=dict(os.environ, ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1"),
    )
    return proc


def platform_names(molecule_config) -> list[str]:
    return [p["name"] for p in molecule_config["platforms"]]


@pytest.fixture
def curl(host):
    """HTTP status of a request made inside the container: curl(url, *extra curl args)."""

    def run(url, *args):
        cmd = host.run("curl -s -o /dev/null -w '%%{http_code}' %s %s" % (" ".join(args), url))
        assert cmd.rc == 0, cmd.stderr
        return int(cmd.stdout.strip())

    return run


@pytest.fixture
def main_pid(host, gw):
    pid = host.check_output("systemctl show -p MainPID --value %s" % gw["bifrost_service_name"])
    assert pid not in ("", "0"), "the service has no main process"
    return int(pid)
