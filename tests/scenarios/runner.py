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
PARALLEL = int(os.environ.get("MOLECULE_PARALLEL", "3"))
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
    return proc.returncode, time.monotonic() - start, log


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
