"""Issue 13's attacks on json_merge and the claude_desktop role, performed by real unprivileged local users.

The tests run as root (as CI does): they create local users with useradd (unique names, removed afterwards), let them
plant links, FIFOs and races in their own homes, run the module (in-process, or through ansible-playbook with the
claude_desktop role) as root, and judge only the victim: the content hash, owner, mode and existence of files that
must not change, and the captured output and logs. Never the exit code.

Race items use a deterministic hook (a function of the module replaced for the run, the attacker acting at the exact
moment between read and rename) plus a bounded loop of a real attacker process.
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.aigateway.bifrost.plugins.module_utils import json_merge as engine
from ansible_collections.aigateway.bifrost.plugins.modules import json_merge as json_merge_module
from tests.helpers.modules import patch_module_args

if os.geteuid() != 0:
    pytest.fail("tests/security must run as root (as CI does): they create local users with useradd and run the module "
                "as root against their homes", pytrace=False)

# The attackers' interpreter: the system's (the test's own Python may live under /root, which they cannot enter).
ATTACKER_PYTHON = "/usr/bin/python3"
if not os.access(ATTACKER_PYTHON, os.X_OK):
    pytest.fail("tests/security needs %s (the attackers run it as unprivileged users)" % ATTACKER_PYTHON, pytrace=False)
KEY = "sk-bf-" + "V" * 40
OTHER_KEY = "sk-bf-" + "W" * 40
ROOT_SECRET = "root-only-" + "R" * 30


# Users, homes and root's files


class User:
    def __init__(self, name, home):
        self.name = name
        self.home = home
        entry = pwd.getpwnam(name)
        self.uid, self.gid = entry.pw_uid, entry.pw_gid

    def run(self, code, check=True, **kwargs):
        """Run Python code as this user (a real process with the user's uid, gid and no other groups)."""
        return subprocess.run([ATTACKER_PYTHON, "-c", code], user=self.uid, group=self.gid, extra_groups=[], cwd=str(self.home),
                              env={"PATH": "/usr/bin:/bin", "HOME": str(self.home)}, check=check, capture_output=True, text=True,
                              timeout=120, **kwargs)

    def start(self, code):
        return subprocess.Popen([ATTACKER_PYTHON, "-c", code], user=self.uid, group=self.gid, extra_groups=[], cwd=str(self.home),
                                env={"PATH": "/usr/bin:/bin", "HOME": str(self.home)}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def base():
    """A world-traversable directory (pytest's tmp_path is 0700 root), removed at the end."""
    path = Path(tempfile.mkdtemp(prefix="aigw-sec-", dir="/var/tmp"))
    os.chmod(path, 0o755)
    (path / "home").mkdir(mode=0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def make_user(base):
    created = []

    def make(role):
        name = "aigw%s%s" % (role[:6], uuid.uuid4().hex[:8])
        home = base / "home" / name
        subprocess.run(["useradd", "-M", "-U", "-s", "/usr/sbin/nologin", "-d", str(home), name], check=True)
        created.append(name)
        home.mkdir(mode=0o700)
        user = User(name, home)
        os.chown(home, user.uid, user.gid)
        return user

    yield make
    for name in created:
        subprocess.run(["userdel", name], check=False)


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def eve(make_user):
    return make_user("eve")


@pytest.fixture
def root_file(base):
    """A root-owned 0600 file in a root-only directory: what an attacker wants root to write or give away."""
    directory = Path(tempfile.mkdtemp(prefix="rootonly-", dir=str(base)))
    os.chmod(directory, 0o755)
    path = directory / "ld.so.preload"
    path.write_text('{"root": "%s"}\n' % ROOT_SECRET)
    os.chmod(path, 0o600)
    return path


def fingerprint(path):
    """What the victim is judged by: content hash, owner, group, mode (None if it does not exist)."""
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return None
    data = Path(path).read_bytes() if stat.S_ISREG(status.st_mode) else b""
    return hashlib.sha256(data).hexdigest(), status.st_uid, status.st_gid, stat.S_IMODE(status.st_mode), stat.S_IFMT(status.st_mode)


def settings_of(user):
    return user.home / ".claude" / "settings.json"


def desktop_of(user):
    return user.home / ".config" / "Claude" / "claude_desktop_config.json"


# Running the module (in-process, as the role's single task does) and the role (ansible-playbook, local connection)


def run_module(capsys, diff=False, check_mode=False, **args):
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args), pytest.raises(SystemExit):
        json_merge_module.main()
    printed = capsys.readouterr().out
    return json.loads(printed), printed


def entry(user, key=KEY, path=None, **extra):
    content = {"env": {"ANTHROPIC_AUTH_TOKEN": key, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9/anthropic"}}
    return dict(dict(path=str(path or settings_of(user)), content=content, owner=user.name, group=user.name, mode="0600",
                     dir_mode="0700", secret_keys=["env.ANTHROPIC_AUTH_TOKEN"]), **extra)


def run_role(base, users, *options, **variables):
    """Run the claude_desktop role as root for ``users`` (dicts for claude_desktop_users); returns its output."""
    work = Path(tempfile.mkdtemp(prefix="play-", dir=str(base)))
    (work / "inventory").write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    (work / "play.yml").write_text(yaml.safe_dump([{
        "name": "Role under attack", "hosts": "localhost", "gather_facts": False,
        "roles": [{"role": "aigateway.bifrost.claude_desktop"}],
    }]))
    values = {
        "claude_desktop_os_family": "Debian",
        "claude_desktop_gateway_url": "http://127.0.0.1:9",
        "claude_desktop_gateway_health_check": False,
        "claude_desktop_users": users,
        "claude_desktop_managed_settings": False,
        "claude_desktop_ownership_record": str(work / "state" / "claude_desktop.json"),
    }
    values.update(variables)
    (work / "vars.json").write_text(json.dumps(values))
    command = ["ansible-playbook", "-i", str(work / "inventory"), str(work / "play.yml"), "-e", "@" + str(work / "vars.json")]
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0")
    proc = subprocess.run(command + list(options), cwd=str(work), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=300, check=False)
    return proc.stdout


# 1. Symlink takeover


def test_1_symlinks_planted_by_the_user_are_never_followed_by_the_role(base, alice, root_file):
    missing_root_dir = root_file.parent / "claude-new"
    other_root_file = root_file.parent / "desktop-target.json"
    other_root_file.write_text('{"x": "%s"}\n' % ROOT_SECRET)
    os.chmod(other_root_file, 0o600)
    before = fingerprint(root_file), fingerprint(other_root_file)
    alice.run("import os; os.makedirs('.config/Claude'); os.symlink(%r, '.config/Claude/claude_desktop_config.json');"
              "os.symlink(%r, '.claude')" % (str(other_root_file), str(missing_root_dir)))
    output = run_role(base, [{"name": alice.name, "home": str(alice.home), "virtual_key": KEY}])
    assert (fingerprint(root_file), fingerprint(other_root_file)) == before, output
    assert not missing_root_dir.exists(), output
    assert KEY not in output

    # The settings file itself as a link to root's file.
    os.unlink(alice.home / ".claude")
    alice.run("import os; os.mkdir('.claude', 0o700); os.symlink(%r, '.claude/settings.json')" % str(root_file))
    output = run_role(base, [{"name": alice.name, "home": str(alice.home), "virtual_key": KEY}])
    assert (fingerprint(root_file), fingerprint(other_root_file)) == before, output
    assert "is a symbolic link; refused" in output
    assert KEY not in output


# 2. Temp-file swap race


SWAPPER = r"""
import os, sys, time
directory, target, stop = sys.argv[1], sys.argv[2], sys.argv[3]
deadline = time.monotonic() + 100
while not os.path.exists(stop) and time.monotonic() < deadline:
    try:
        names = os.listdir(directory)
    except OSError:
        continue
    for name in names:
        if name.startswith('.settings.json') and name.endswith('.tmp'):
            try:
                os.rename(os.path.join(directory, name), os.path.join(directory, name + '.away'))
                os.symlink(target, os.path.join(directory, name))
            except OSError:
                pass
"""


def test_2_temp_file_swapped_for_a_link_at_the_moment_before_the_rename(capsys, monkeypatch, alice, root_file):
    before = fingerprint(root_file)
    settings = settings_of(alice)
    alice.run("import os; os.mkdir('.claude', 0o700); open('.claude/settings.json', 'w').write('{}')")
    real = json_merge_module.unchanged_since

    def attacker_swaps_the_temp_file(dir_fd, name, snapshot, label, max_size):
        # The attacker (alice) acts between the write of the temporary file and its rename.
        for temporary in os.listdir(settings.parent):
            if temporary.endswith(".tmp"):
                os.rename(settings.parent / temporary, settings.parent / (temporary + ".away"))
                os.symlink(root_file, settings.parent / temporary)
        return real(dir_fd, name, snapshot, label, max_size)

    monkeypatch.setattr(json_merge_module, "unchanged_since", attacker_swaps_the_temp_file)
    result, printed = run_module(capsys, files=[entry(alice)])
    assert fingerprint(root_file) == before, printed
    assert KEY not in printed


def test_2_real_attacker_racing_the_temp_file_never_reaches_roots_file(capsys, base, alice, root_file):
    before = fingerprint(root_file)
    settings = settings_of(alice)
    alice.run("import os; os.mkdir('.claude', 0o700); open('.claude/settings.json', 'w').write('{}')")
    stop = base / ("stop-" + alice.name)
    attacker = alice.start(SWAPPER.replace("sys.argv[1], sys.argv[2], sys.argv[3]", "%r, %r, %r" % (
        str(settings.parent), str(root_file), str(stop))))
    try:
        for attempt in range(15):
            run_module(capsys, files=[entry(alice, key=KEY + str(attempt))])
    finally:
        stop.touch()
        attacker.wait(timeout=120)
    assert fingerprint(root_file) == before


# 3. Backup planting


def test_3_links_planted_under_the_backup_name_are_not_followed(capsys, monkeypatch, alice, root_file):
    before = fingerprint(root_file)
    alice.run("import os; os.mkdir('.claude', 0o700); open('.claude/settings.json', 'w').write('{\"mine\": 1}')")
    alice.run("import os; os.symlink(%r, '.claude/settings.json.4242.2026-01-01@00:00:00~')" % str(root_file))
    # The backup's name made predictable (the attacker would plant links for every pid of the next seconds).
    monkeypatch.setattr(os, "getpid", lambda: 4242)
    monkeypatch.setattr(time, "strftime", lambda *args: "2026-01-01@00:00:00~")
    result, printed = run_module(capsys, files=[entry(alice)], backup=True)
    monkeypatch.undo()
    assert fingerprint(root_file) == before, printed
    assert json.loads(settings_of(alice).read_text()) == {"mine": 1}, printed


# 4 and 8 of the task (hard links): root content never reaches a user's file


def test_4_a_hard_link_to_a_root_file_is_refused(capsys, alice, base):
    root_json = base / ("root-%s.json" % alice.name)
    root_json.write_text('{"root": "%s"}\n' % ROOT_SECRET)
    os.chmod(root_json, 0o644)
    before = fingerprint(root_json)
    alice.run("import os; os.mkdir('.claude', 0o700)")
    # What the attacker does where fs.protected_hardlinks=0; made by root here so the test does not depend on the sysctl.
    os.link(root_json, settings_of(alice))
    result, printed = run_module(capsys, files=[entry(alice)])
    assert fingerprint(root_json) == before, printed
    # No file that alice owns holds root's content (before the fix her settings.json became such a file).
    for path in settings_of(alice).parent.iterdir():
        assert os.lstat(path).st_uid != alice.uid or ROOT_SECRET not in path.read_text(), (path, printed)
    assert "has 2 hard links; refused" in printed


# 5. Nothing of the content in any log


def test_5_the_module_logs_no_content_and_no_key(capsys, monkeypatch, alice):
    logged = []
    monkeypatch.setattr(AnsibleModule, "log", lambda self, msg, log_args=None: logged.append(repr((msg, log_args))))
    marker = "not-a-secret-but-content-" + uuid.uuid4().hex
    desktop_content = {"mcpServers": {"m": {"command": marker}}, "env": {"ANTHROPIC_AUTH_TOKEN": OTHER_KEY}}
    files = [entry(alice), dict(entry(alice, key=OTHER_KEY, path=desktop_of(alice)), content=desktop_content)]
    result, printed = run_module(capsys, files=files, create_parents=True)
    assert logged, "the module logged nothing at all: the capture is broken"
    text = "\n".join(logged)
    assert KEY not in text and OTHER_KEY not in text and marker not in text
    assert KEY not in printed and OTHER_KEY not in printed and marker not in printed
    assert json.loads(settings_of(alice).read_text())["env"]["ANTHROPIC_AUTH_TOKEN"] == KEY


def test_5_the_role_shows_no_content_at_vvv(base, alice):
    output = run_role(base, [{"name": alice.name, "home": str(alice.home), "virtual_key": KEY}], "-vvv",
                      claude_desktop_gateway_url="http://127.0.0.1:19")
    assert json.loads(settings_of(alice).read_text())["env"]["ANTHROPIC_AUTH_TOKEN"] == KEY, output[-3000:]
    assert KEY not in output and KEY[6:] not in output
    # Content that is not secret is not shown either (the invocation at -vvv would print every argument).
    assert "127.0.0.1:19" not in output


# 6. Another local user never reads the key


def test_6_the_new_file_is_private_from_its_first_byte(capsys, monkeypatch, base, alice):
    settings = settings_of(alice)
    alice.run("import os; os.mkdir('.claude', 0o755); open('.claude/settings.json', 'w').write('{}'); os.chmod('.claude/settings.json', 0o644)")
    observations = base / ("observed-" + alice.name)
    observations.write_text("")
    os.chmod(observations, 0o666)
    real_rename = os.rename

    def observing_rename(*args, **kwargs):
        real_rename(*args, **kwargs)
        status = os.stat(settings)
        with open(observations, "a") as handle:
            handle.write("%o\n" % stat.S_IMODE(status.st_mode))

    monkeypatch.setattr(os, "rename", observing_rename)
    run_module(capsys, files=[entry(alice)])
    monkeypatch.undo()
    modes = observations.read_text().split()
    assert modes and all(int(mode, 8) & 0o077 == 0 for mode in modes), modes


READER = r"""
import sys, time
path, stop = sys.argv[1], sys.argv[2]
import os
seen = set()
deadline = time.monotonic() + 100
while not os.path.exists(stop) and time.monotonic() < deadline:
    try:
        with open(path) as handle:
            seen.add(handle.read())
    except OSError:
        pass
print("\n".join(seen))
"""


def test_6_real_reader_never_gets_a_written_key(capsys, base, alice, eve):
    settings = settings_of(alice)
    # A home others may enter (the default of many systems) and a world-readable settings file.
    alice.run("import os; os.chmod('.', 0o755); os.mkdir('.claude', 0o755); open('.claude/settings.json', 'w').write('{}');"
              "os.chmod('.claude/settings.json', 0o644)")
    stop = base / ("stop-" + eve.name)
    reader = eve.start(READER.replace("sys.argv[1], sys.argv[2]", "%r, %r" % (str(settings), str(stop))))
    try:
        for attempt in range(40):
            # The user empties the file and makes it world-readable again: the module must close it before writing a key.
            settings.write_text("{}")
            os.chmod(settings, 0o644)
            run_module(capsys, files=[entry(alice, key=KEY + "-%d" % attempt)])
    finally:
        stop.touch()
        seen, dummy = reader.communicate(timeout=120)
    assert "sk-bf-" not in seen


# 8 (issue). Diffs leak secrets


def test_8_a_users_own_secret_and_escaped_keys_never_reach_the_diff(base, alice):
    own_key = "sk-ant-own-" + "U" * 30
    quoted_key = 'sk-bf-q"uo\\te-' + "Z" * 20
    other_token = "other-tool-token-" + "W" * 24  # another MCP server's token, under no key the role masks
    alice.run("import os, json; os.mkdir('.claude', 0o700); json.dump({'env': {'ANTHROPIC_API_KEY': %r}}, open('.claude/settings.json', 'w'))" % own_key)
    alice.run("import os, json; os.makedirs('.config/Claude'); json.dump({'mcpServers': {'other': {'command': 'x', 'env': {'TOKEN': %r}}}},"
              " open('.config/Claude/claude_desktop_config.json', 'w'))" % other_token)
    output = run_role(base, [{"name": alice.name, "home": str(alice.home), "virtual_key": quoted_key}], "--diff", "-vvv",
                      claude_desktop_secret_env_keys=["ANTHROPIC_API_KEY"])
    assert json.loads(settings_of(alice).read_text())["env"]["ANTHROPIC_AUTH_TOKEN"] == quoted_key, output[-3000:]
    assert own_key not in output
    assert json.dumps(quoted_key)[1:-1] not in output and quoted_key not in output
    assert "Z" * 20 not in output
    assert json.loads(desktop_of(alice).read_text())["mcpServers"]["other"]["env"]["TOKEN"] == other_token
    assert "W" * 24 not in output
    assert "mcpServers" in output  # the diff of that file was shown: only its changed keys


# 9. Denial of service


def test_9_a_fifo_a_device_link_and_a_comment_stop_only_their_own_user(base, make_user):
    fifo_user, zero_user, comment_user, victim = (make_user(role) for role in ("fifo", "zero", "jsonc", "victim"))
    fifo_user.run("import os; os.mkdir('.claude', 0o700); os.mkfifo('.claude/settings.json')")
    zero_user.run("import os; os.mkdir('.claude', 0o700); os.symlink('/dev/zero', '.claude/settings.json')")
    comment_user.run("import os; os.mkdir('.claude', 0o700); open('.claude/settings.json', 'w').write('{// mine\\n}')")
    users = [{"name": user.name, "home": str(user.home), "virtual_key": KEY} for user in (fifo_user, zero_user, comment_user, victim)]
    output = run_role(base, users)
    assert json.loads(settings_of(victim).read_text())["env"]["ANTHROPIC_AUTH_TOKEN"] == KEY, output[-3000:]
    assert stat.S_ISFIFO(os.lstat(settings_of(fifo_user)).st_mode)
    assert os.readlink(settings_of(zero_user)) == "/dev/zero"
    assert settings_of(comment_user).read_text() == "{// mine\n}"
    for user in (fifo_user, zero_user, comment_user):
        assert str(settings_of(user)) in output
    assert "is a FIFO, not a regular file" in output and "is a symbolic link; refused" in output


def test_9_a_file_above_max_size_is_refused_naming_it(capsys, alice):
    alice.run("import os; os.mkdir('.claude', 0o700); open('.claude/settings.json', 'w').write('{\"a\": \"%s\"}' % ('x' * 5000))")
    before = fingerprint(settings_of(alice))
    result, printed = run_module(capsys, files=[entry(alice)], max_size=4096)
    assert fingerprint(settings_of(alice)) == before
    assert "%s: is larger than max_size" % settings_of(alice) in printed


# 11. Exponential regex


def test_11_pathological_comments_are_stripped_in_linear_steps():
    for count in (1, 26, 1000, 20000):
        text = '{"a": 1,' + "/**/" * count + " x}"
        stats = {}
        assert engine.strip_comments(text, stats) == '{"a": 1,' + " " * (4 * count) + " x}"
        assert stats["steps"] <= len(text)


def test_11_the_users_pathological_file_fails_as_bad_json_without_stopping_others(capsys, alice, eve):
    pathological = '{"a": 1,' + "/**/" * 40 + " x}"
    alice.run("import os; os.mkdir('.claude', 0o700); open('.claude/settings.json', 'w').write(%r)" % pathological)
    result, printed = run_module(capsys, files=[entry(alice), entry(eve)], allow_comments=True, create_parents=True)
    assert settings_of(alice).read_text() == pathological
    assert json.loads(settings_of(eve).read_text())["env"]["ANTHROPIC_AUTH_TOKEN"] == KEY
    assert "%s: invalid JSON" % settings_of(alice) in printed


# 12. Results after partial failure, and no home for an account that does not exist


def test_12_results_describe_exactly_what_was_written(capsys, alice, eve):
    alice.run("import os; os.mkdir('.claude', 0o700); open('.claude/settings.json', 'w').write('{\"a\": 1,,}')")
    result, printed = run_module(capsys, files=[entry(alice), entry(eve)], create_parents=True)
    assert json.loads(settings_of(eve).read_text())["env"]["ANTHROPIC_AUTH_TOKEN"] == KEY
    assert result.get("changed") is True
    assert [(item["path"], item["changed"], bool(item.get("failed"))) for item in result.get("results", [])] == [
        (str(settings_of(alice)), False, True), (str(settings_of(eve)), True, False)]


def test_12_a_user_without_account_never_gets_a_home(base, alice):
    ghost_home = base / "home" / "aigwghost"
    output = run_role(base, [{"name": "aigwghost", "home": str(ghost_home), "virtual_key": KEY},
                             {"name": alice.name, "home": str(alice.home), "virtual_key": KEY}])
    assert not ghost_home.exists(), output[-3000:]
    assert json.loads(settings_of(alice).read_text())["env"]["ANTHROPIC_AUTH_TOKEN"] == KEY, output[-3000:]
    assert "aigwghost" in output


# 13. Lost updates


def test_13_a_change_made_between_read_and_rename_is_merged_not_lost(capsys, monkeypatch, alice):
    settings = settings_of(alice)
    alice.run("import os; os.mkdir('.claude', 0o700); open('.claude/settings.json', 'w').write('{\"mine\": 1}')")
    real_merge = json_merge_module.merge_json_text
    calls = []

    def application_writes_meanwhile(*args, **kwargs):
        merged = real_merge(*args, **kwargs)
        if not calls:
            # The application (Claude Code, running as alice) rewrites its file right after the module read it.
            with open(settings, "r+") as handle:
                handle.write('{"mine": 1, "app": 2}')
        calls.append(1)
        return merged

    monkeypatch.setattr(json_merge_module, "merge_json_text", application_writes_meanwhile)
    result, printed = run_module(capsys, files=[entry(alice)])
    monkeypatch.undo()
    data = json.loads(settings.read_text())
    assert data.get("app") == 2, printed
    assert data["mine"] == 1 and data["env"]["ANTHROPIC_AUTH_TOKEN"] == KEY, printed
