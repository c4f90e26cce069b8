"""Every ansible-core minor that meta/runtime.yml supports is tested: ansible-test sanity, the plugin unit tests and a
role run, each with that core.

Cores that run on this host's Python (3.11 here) get a virtual environment under .cache/cores/<minor>/. Newer cores
need a newer Python (2.20 and later: 3.12 or newer): they run in one container per core, from the lab's Debian 13 image
(Python 3.13, built by `make lab`), with the checkout mounted read-only at its own path and .cache/cores/<minor>/home
as the container's home, which keeps its virtual environments and pip cache between runs. Either way, the first run
installs the pinned releases from the package index, and ansible-test installs its sanity requirements the same way.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import pwd
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache" / "cores"
LAB_IMAGE = "localhost/debian-trixie-ansible"

# The supported minors, newest last: the release each is tested with, and whether it runs on the host or in the lab's
# Debian 13 container. meta/runtime.yml's requires_ansible names exactly these (test_requires_ansible_names_the_tested_cores).
CORES = {
    "2.18": ("2.18.19", "host"),
    "2.19": ("2.19.14", "host"),  # also the tool set's core (requirements-dev.txt)
    "2.20": ("2.20.10", "container"),
    "2.21": ("2.21.5", "container"),
}
# Test tools the unit tests need beside ansible-core, at the tool set's pins.
TEST_TOOLS = ("pytest", "hypothesis", "jsonschema")
# pip for virtual environments on a Python without ensurepip (Debian's, in the container); ansible-test's own pin.
PIP = "pip==25.2"
UNIT_TESTS = "tests/unit/plugins"
KEY = "sk-bf-" + "V" * 40
IS_ROOT = os.geteuid() == 0


class Health(http.server.BaseHTTPRequestHandler):
    """/health answers 200, anything else 404: the part of a Bifrost gateway the role asks for."""

    def do_GET(self):  # noqa: N802 - the stdlib's name
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def run(cmd, cwd=ROOT, env=None, timeout=3600):
    proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, check=False)
    return proc.returncode, proc.stdout


def pins(names) -> list[str]:
    lines = (ROOT / "requirements-dev.txt").read_text().splitlines()
    found = [line.split("#")[0].strip() for line in lines if line.split("==")[0].strip() in names]
    assert len(found) == len(names), f"requirements-dev.txt pins {found}, expected one pin each of {names}"
    return found


def tracked_files() -> list[str]:
    """Files a fresh clone would have (tracked, plus new files not ignored)."""
    out = run(["git", "ls-files", "-co", "--exclude-standard"])[1]
    return [line for line in out.splitlines() if line and (ROOT / line).exists()]


class Host:
    """A core in a virtual environment of this host's Python."""

    def __init__(self, minor: str, release: str):
        self.minor, self.release = minor, release
        self.venv = CACHE / minor / "venv"
        self.home = Path.home()
        self.tmp = None
        self.servers = []

    def start(self):
        wanted = [f"ansible-core=={self.release}"] + pins(TEST_TOOLS)
        stamp = self.venv / "aigw-requirements.txt"
        if not stamp.is_file() or stamp.read_text().split() != wanted:
            shutil.rmtree(self.venv, ignore_errors=True)
            for cmd in ([sys.executable, "-m", "venv", str(self.venv)],
                        [str(self.venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check"] + wanted):
                rc, out = run(cmd)
                assert rc == 0, out[-3000:]
            stamp.write_text("\n".join(wanted) + "\n")
        self.tmp = Path(tempfile.mkdtemp(prefix=f"aigw-core-{self.minor}-"))
        self.tmp.chmod(0o755)  # homes of other users below it

    def stop(self):
        for server in self.servers:
            server.shutdown()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def local(self, path: Path) -> Path:
        """Where this core's commands see a path of its home or temporary directory."""
        return path

    def exec(self, cmd, cwd=ROOT, timeout=3600):
        env = dict(os.environ, PATH=f"{self.venv / 'bin'}:{os.environ['PATH']}", PYTHONDONTWRITEBYTECODE="1")
        return run(cmd, cwd=cwd, env=env, timeout=timeout)

    def serve_health(self) -> str:
        """A stand-in gateway /health on a free loopback port, served by this process until stop()."""
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Health)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.servers.append(server)
        return "http://127.0.0.1:%d" % server.server_address[1]


class Container:
    """A core in a container of the lab's Debian 13 image: checkout read-only, .cache/cores/<minor>/home as /root."""

    def __init__(self, minor: str, release: str):
        self.minor, self.release = minor, release
        self.home = CACHE / minor / "home"
        self.tmp = self.home / "tmp"
        self.name = f"aigw-core-{minor}-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:8]}"

    def local(self, path: Path) -> Path:
        return Path("/root") / path.relative_to(self.home)

    def start(self):
        rc, out = run(["podman", "image", "exists", LAB_IMAGE])
        assert rc == 0, f"{LAB_IMAGE} is missing: `make lab` builds it"
        cache = self.home / ".ansible" / "test" / "cache"
        cache.mkdir(parents=True, exist_ok=True)
        if not list(cache.glob("pip-*.whl")):
            rc, out = run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", PIP, "-d", str(cache)])
            assert rc == 0, out[-3000:]
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True)
        run(["podman", "rm", "-f", "-t", "0", self.name])
        # The container trusts what the host trusts: a host behind a TLS-inspecting proxy has that CA only there.
        ca_bundle = ssl.get_default_verify_paths().openssl_cafile
        collections = ROOT / ".cache" / "ansible-home" / "collections"
        rc, out = run(["podman", "run", "-d", "--name", self.name,
                       "-v", f"{ROOT}:{ROOT}:ro", "-v", f"{self.home}:/root",
                       "-v", f"{ca_bundle}:/etc/ssl/certs/ca-certificates.crt:ro",
                       "-e", f"ANSIBLE_HOME={collections.parent}", "-e", f"ANSIBLE_COLLECTIONS_PATH={collections}",
                       "-e", "ANSIBLE_LOCAL_TEMP=/root/tmp/ansible-local", "-e", "PYTHONDONTWRITEBYTECODE=1",
                       "-e", "PATH=/root/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                       LAB_IMAGE, "sleep", "infinity"])
        assert rc == 0, out
        wheel = sorted(cache.glob("pip-*.whl"))[-1].name
        wanted = " ".join([f"ansible-core=={self.release}"] + pins(TEST_TOOLS))
        rc, out = self.exec(["bash", "-ec", f"""
            test -x /root/venv/bin/python || python3 -m venv --without-pip /root/venv
            /root/venv/bin/python -c 'import pip' 2>/dev/null ||
              /root/venv/bin/python /root/.ansible/test/cache/{wheel}/pip install -q --no-index /root/.ansible/test/cache/{wheel}
            /root/venv/bin/pip install -q --disable-pip-version-check {wanted}
        """], timeout=1800)
        assert rc == 0, out[-3000:]

    def stop(self):
        run(["podman", "rm", "-f", "-t", "0", self.name])
        shutil.rmtree(self.tmp, ignore_errors=True)

    def exec(self, cmd, cwd=ROOT, timeout=3600):
        return run(["podman", "exec", "-w", str(cwd), self.name] + list(cmd), timeout=timeout)

    def serve_health(self) -> str:
        """A stand-in gateway /health on the container's own loopback (a file server), until the container stops."""
        (self.tmp / "gateway").mkdir()
        (self.tmp / "gateway" / "health").write_text("ok\n")
        rc, out = run(["podman", "exec", "-d", self.name, "python3", "-m", "http.server", "8099", "--bind", "127.0.0.1",
                       "--directory", "/root/tmp/gateway"])
        assert rc == 0, out
        return "http://127.0.0.1:8099"


@pytest.fixture(scope="module", params=list(CORES))
def core(request):
    """One runtime per core for all its checks; the checks below report how long each took."""
    minor = request.param
    release, where = CORES[minor]
    runtime = (Host if where == "host" else Container)(minor, release)
    started = time.monotonic()
    runtime.start()
    print(f"\n[core {minor}] ready in {time.monotonic() - started:.0f} s")
    yield runtime
    runtime.stop()


def timed(core, what, cmd, **kwargs):
    started = time.monotonic()
    rc, out = core.exec(cmd, **kwargs)
    print(f"\n[core {core.minor}] {what}: {time.monotonic() - started:.0f} s")
    return rc, out


def test_runs_the_pinned_release(core):
    rc, out = core.exec(["ansible-playbook", "--version"])
    assert rc == 0, out
    assert f"ansible-playbook [core {core.release}]" in out, out


def test_ansible_test_sanity(core):
    """Every sanity test (test_quality.py checks there are no ignore entries), from a copy laid out as ansible_collections/aigateway/bifrost.

    ansible-test makes a virtual environment per test and bootstraps pip in it with a script it downloads from a host
    this machine cannot reach; tests/sanity/pip_bootstrap.py stands in for that script (see its docstring).
    """
    dest = core.tmp / "sanity" / "ansible_collections" / "aigateway" / "bifrost"
    for rel in tracked_files():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target, follow_symlinks=False)
    cache = core.home / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    rc, out = core.exec(["python", "-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
    python = out.strip()
    rc, out = core.exec(["python", "-c", "import ansible_test._internal.python_requirements as r, inspect, re;"
                         "print(re.search(r\"pip='([0-9.]+)'\", inspect.getsource(r.get_venv_packages)).group(1))"])
    assert rc == 0, out
    shutil.copy(ROOT / "tests" / "sanity" / "pip_bootstrap.py", cache / f"get_pip_{out.strip().replace('.', '_')}.py")
    rc, out = timed(core, "ansible-test sanity", ["ansible-test", "sanity", "--requirements", "--python", python,
                                                  "--color", "no"], cwd=core.local(dest))
    assert rc == 0, "\n".join(line for line in out.splitlines() if line.startswith(("ERROR", "FATAL", "Running")))


def test_plugin_unit_tests(core):
    rc, out = timed(core, "unit tests", ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                         "-o", "addopts=", UNIT_TESTS])
    assert rc == 0, out[-6000:]
    assert re.search(r"\d+ passed", out) and " skipped" not in out, out[-3000:]


def write_role_run(core) -> Path:
    """A play on the runtime itself (connection local) that applies the claude_desktop role.

    As root (the container, and `make test` on a lab host): the running user and nobody, each with a home in the work
    directory that they own, managed settings, and one user without an account (skipped). Otherwise the running user
    and the user without an account.
    """
    work = core.tmp / "role"
    work.mkdir(parents=True)
    local = core.local(work)
    me = run(["id", "-un"])[1].strip() if isinstance(core, Host) else "root"
    accounts = {"alice": me, "bob": "nobody"} if IS_ROOT else {"alice": me}
    for home, account in accounts.items():
        (work / home).mkdir()
        if IS_ROOT:
            entry = pwd.getpwnam(account)
            os.chown(work / home, entry.pw_uid, entry.pw_gid)
    users = [{"name": account, "home": str(local / home), "virtual_key": KEY} for home, account in accounts.items()]
    users[-1]["models"] = {"opus": "claude-opus-4-1"}
    variables = {
        "claude_desktop_gateway_url": core.serve_health(),
        "claude_desktop_users": users + [{"name": "aigw-no-such-user", "virtual_key": KEY}],
        "claude_desktop_skip_missing_users": True,
        "claude_desktop_models": {"sonnet": "claude-sonnet-4-6"},
        "claude_desktop_managed_settings": IS_ROOT,
        "claude_desktop_managed_settings_dir": str(local / "managed"),
        "claude_desktop_health_check_retries": 5,
        "claude_desktop_ownership_record": str(local / "state" / "claude_desktop.json"),
    }
    (work / "inventory").write_text("localhost ansible_connection=local ansible_python_interpreter=python\n")
    (work / "play.yml").write_text(yaml.safe_dump([{
        "name": "Claude Code and Desktop settings", "hosts": "localhost", "gather_facts": True,
        "vars": variables, "roles": [{"role": "aigateway.bifrost.claude_desktop"}],
    }], sort_keys=False))
    return work


def test_role_run(core):
    """The claude_desktop role (facts, account lookup, health check, json_merge) converges, idempotently, warning-free."""
    work = write_role_run(core)
    local = core.local(work)
    command = ["ansible-playbook", "-i", str(local / "inventory"), str(local / "play.yml")]
    env = ["env", "ANSIBLE_NOCOLOR=1", "ANSIBLE_LOCALHOST_WARNING=0", "ANSIBLE_DEPRECATION_WARNINGS=1"]
    rc, first = timed(core, "role run", env + command, cwd=local)
    assert rc == 0, first[-4000:]
    rc, second = core.exec(env + command, cwd=local)
    assert rc == 0, second[-4000:]
    assert re.search(r"localhost\s+: ok=\d+\s+changed=0 ", second), second[-3000:]
    for out in (first, second):
        assert "[DEPRECATION WARNING]" not in out and "[WARNING]" not in out, out
        assert KEY not in out
    assert "aigw-no-such-user" in first  # reported as skipped
    homes = sorted(p.name for p in work.iterdir() if p.name in ("alice", "bob"))
    for home in homes:
        assert KEY in (work / home / ".claude" / "settings.json").read_text()
    assert "claude-opus-4-1" in (work / homes[-1] / ".claude" / "settings.json").read_text()
    assert (work / "managed" / "managed-settings.d" / "50-aigateway.json").is_file() == IS_ROOT


@pytest.mark.parametrize("playbook", sorted(p.name for p in (ROOT / "playbooks").glob("*.yml")))
def test_playbooks_parse_without_warnings(core, playbook):
    """The collection's playbooks, by their collection names (no inventory groups: pattern mismatches are fine)."""
    rc, out = core.exec(["env", "ANSIBLE_NOCOLOR=1", "ANSIBLE_HOST_PATTERN_MISMATCH=ignore", "ansible-playbook",
                         "--syntax-check", "-i", "localhost,", f"aigateway.bifrost.{Path(playbook).stem}"])
    assert rc == 0, out
    assert "[DEPRECATION WARNING]" not in out and "[WARNING]" not in out, out


def test_requires_ansible_names_the_tested_cores():
    """Supported means tested: from the oldest tested minor up to, not including, the minor after the newest."""
    minors = sorted(CORES, key=lambda m: tuple(map(int, m.split("."))))
    oldest, newest = minors[0], minors[-1]
    major, minor = map(int, newest.split("."))
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    assert runtime["requires_ansible"] == f">={oldest}.0,<{major}.{minor + 1}.0"
    assert [int(m.split(".")[1]) for m in minors] == list(range(int(oldest.split(".")[1]), minor + 1)), "a minor is missing"
    assert f"ansible-core=={CORES['2.19'][0]}" in pins(["ansible-core"])
    readme = (ROOT / "README.md").read_text()
    assert f"ansible-core {oldest} to {newest}" in readme, "README's Supported versions section names another range"
