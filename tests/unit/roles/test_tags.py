"""Tags never skip safety: with `--tags <any tag a role uses>` the tasks that protect users still run.

Safety tasks: the bifrost role's preflight (inventory checks, version and credentials), and the claude_desktop role's
gateway health gate and its facts/accounts/workstation-health preparation. Checked three ways: the role's task files
tag the tasks that reach them `always`; `ansible-playbook --list-tasks --tags X` lists them for every tag of both roles
(no gateway or workstation needed); and the claude_desktop role, run for real with each of its tags against a gateway
on a closed 127.0.0.1 port, stops at the health gate and writes nothing.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
USER = pwd.getpwuid(os.geteuid()).pw_name
# role: the task files whose tasks protect users, reached from tasks/main.yml
SAFETY = {
    "bifrost": {"preflight.yml"},
    "claude_desktop": {"health_controller.yml", "before_merge.yml"},
}
INCLUDES = ("ansible.builtin.include_tasks", "ansible.builtin.import_tasks", "include_tasks", "import_tasks")


def main_tasks(role: str) -> list[dict]:
    return yaml.safe_load((ROOT / "roles" / role / "tasks" / "main.yml").read_text(encoding="utf-8"))


def included_file(task: dict) -> str | None:
    for key in INCLUDES:
        if key in task:
            value = task[key]
            return value["file"] if isinstance(value, dict) else value
    return None


def role_tags(role: str) -> set[str]:
    """Every tag a role's task files use (task tags and include `apply` tags), except `always`."""
    found: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "tags":
                    found.update([value] if isinstance(value, str) else value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for path in (ROOT / "roles" / role / "tasks").glob("*.yml"):
        walk(yaml.safe_load(path.read_text(encoding="utf-8")))
    return found - {"always", "never"}


def safety_tasks(role: str) -> list[dict]:
    tasks = [task for task in main_tasks(role) if included_file(task) in SAFETY[role]]
    assert {included_file(task) for task in tasks} == SAFETY[role], f"{role}: tasks/main.yml no longer reaches {SAFETY[role]}"
    return tasks


@pytest.mark.parametrize("role", sorted(SAFETY))
def test_safety_tasks_are_tagged_always(role):
    for task in safety_tasks(role):
        assert "always" in task.get("tags", []), f"{role}: {task['name']!r} can be skipped by --tags"
        include = task.get("ansible.builtin.include_tasks", task.get("include_tasks"))
        if isinstance(include, dict) or include is not None:
            # A dynamic include's own tags do not reach the tasks it includes: `apply` must tag them, or each task of
            # the included file must carry `always` itself.
            applied = include.get("apply", {}).get("tags", []) if isinstance(include, dict) else []
            if "always" not in applied:
                included = yaml.safe_load((ROOT / "roles" / role / "tasks" / included_file(task)).read_text(encoding="utf-8"))
                untagged = [t["name"] for t in included if "always" not in t.get("tags", [])]
                assert not untagged, f"{role}: {untagged} (included by {task['name']!r}) can be skipped by --tags"


def list_tasks(role: str, tag: str, tmp_path: Path) -> str:
    play = tmp_path / f"{role}.yml"
    play.write_text(yaml.safe_dump([{"name": "Tags", "hosts": "localhost", "gather_facts": False,
                                     "roles": [{"role": f"aigateway.bifrost.{role}"}]}]))
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", "--list-tasks", "--tags", tag, str(play)],
                          cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
                          env=dict(os.environ, ANSIBLE_NOCOLOR="1"))
    assert proc.returncode == 0, proc.stdout
    return proc.stdout


@pytest.mark.parametrize("role,tag", [(role, tag) for role in sorted(SAFETY) for tag in sorted(role_tags(role))])
def test_every_tag_lists_the_safety_tasks(role, tag, tmp_path):
    listed = list_tasks(role, tag, tmp_path)
    for task in safety_tasks(role):
        if included_file(task) and task.get("ansible.builtin.import_tasks", task.get("import_tasks")):
            names = [t["name"] for t in yaml.safe_load((ROOT / "roles" / role / "tasks" / included_file(task)).read_text())]
        else:
            names = [task["name"]]
        for name in names:
            assert re.search(r"^\s+(\S+ : )?" + re.escape(name) + r"\s+TAGS:", listed, re.MULTILINE), f"--tags {tag} skips {name!r}:\n{listed}"


def test_claude_desktop_tags_are_documented():
    readme = (ROOT / "roles" / "claude_desktop" / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Tags\n", 1)[1].split("\n## ", 1)[0]
    assert {tag for tag in role_tags("claude_desktop") if f"`{tag}`" not in section} == set()


@pytest.mark.parametrize("tag", sorted(role_tags("claude_desktop")))
def test_claude_desktop_with_each_tag_stops_at_a_dead_gateway(tag, tmp_path):
    (tmp_path / "inventory").write_text("localhost ansible_connection=local ansible_python_interpreter=%s\n" % sys.executable)
    (tmp_path / "play.yml").write_text(yaml.safe_dump([{
        "name": "Role under test", "hosts": "localhost", "gather_facts": False,
        "roles": [{"role": "aigateway.bifrost.claude_desktop"}]}]))
    (tmp_path / "vars.json").write_text(json.dumps({
        "claude_desktop_os_family": "Debian",
        "claude_desktop_gateway_url": "http://127.0.0.1:9",  # closed port: nothing answers
        "claude_desktop_health_check_retries": 0,
        "claude_desktop_users": [{"name": USER, "home": str(tmp_path / "home"), "virtual_key": "sk-bf-" + "T" * 40}],
    }))
    proc = subprocess.run(["ansible-playbook", "-i", "inventory", "play.yml", "-e", "@vars.json", "--tags", tag],
                          cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                          check=False, env=dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_RETRY_FILES_ENABLED="0"))
    assert proc.returncode != 0, proc.stdout[-3000:]
    assert "http://127.0.0.1:9/health did not answer 200" in proc.stdout, proc.stdout[-3000:]
    assert not (tmp_path / "home").exists()
