"""Runs Molecule scenarios as background processes, a few at a time, so `make test` stays one pytest run.

Each scenario's full output goes to .artifacts/molecule/<name>.log; the test for it waits for its process.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / ".artifacts" / "molecule"


def parallel_default(cores: int | None) -> int:
    """One scenario per two cores, at least one: each scenario runs systemd containers, an ansible-playbook with its
    forks and a `podman exec` per task and host, beside the rest of the suite (unit tests, ansible-test sanity).
    Three scenarios on two busy cores is how the fleet converge lost a `podman exec` client to SIGKILL (rc -9)."""
    return max(1, (cores or 1) // 2)


# MOLECULE_PARALLEL overrides the default (docs/development.md).
PARALLEL = int(os.environ.get("MOLECULE_PARALLEL") or parallel_default(os.cpu_count()))
# Longest first, so the run ends sooner.
ORDER = ["e2e", "upgrade", "default", "fleet", "alternative"]

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_runs: dict[str, Future] = {}


def scenarios() -> list[str]:
    found = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))
    tested = [name for name in found if name != "demo"]  # demo is `make demo`, not a test
    return sorted(tested, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))


def _run(name: str) -> tuple[int, float, Path]:
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{name}.log"
    start = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(
            ["molecule", "test", "-s", name],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        if proc.returncode != 0:
            out.write(_kernel_kills())
    return proc.returncode, time.monotonic() - start, log


def _kernel_kills() -> str:
    """The kernel's OOM-killer lines, appended to a failed scenario's log: an `"rc": -9` in a task result means a
    process on this host (the `podman exec` client) was SIGKILLed, and the kernel says by whom."""
    try:
        dmesg = subprocess.run(["dmesg"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=False)
    except OSError:
        return "\nrunner: dmesg is not available\n"
    kills = [line for line in dmesg.stdout.splitlines() if "out of memory" in line.lower() or "killed process" in line.lower()]
    return "\nrunner: kernel OOM-killer lines (dmesg):\n" + ("\n".join(kills) or "(none)") + "\n"


def start(names: list[str]) -> None:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="molecule")
        for name in sorted(names, key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n)):
            if name not in _runs:
                _runs[name] = _pool.submit(_run, name)


def result(name: str) -> tuple[int, float, Path]:
    start([name])
    return _runs[name].result()
