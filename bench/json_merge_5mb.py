"""json_merge on a 5 MB settings file: time (median of several runs) and extra memory (tracemalloc peak).

Measured on the module's own code path: the engine function the module calls (``merge_json_text``, including
building its ``after`` text), and the whole module in-process (``main()`` of plugins/modules/json_merge.py: argument parsing, read, merge, atomic write, file
attributes), without the Python start-up and AnsiballZ unpacking that every module run pays anyway.
Cases: the first merge (the gateway keys are new, the file is rewritten) and a re-run (nothing to change).

Usage: python3 bench/json_merge_5mb.py [--reps 7] [--size-mb 5] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATCH = {
    "env": {
        "ANTHROPIC_BASE_URL": "http://gw.example.internal:8080/anthropic",
        "ANTHROPIC_AUTH_TOKEN": "sk-bf-" + "a" * 40,
        "ANTHROPIC_DEFAULT_SONNET_MODEL": "bedrock/global.anthropic.claude-sonnet-4-6",
        "ANTHROPIC_DEFAULT_HAIKU_MODEL": "bedrock/global.anthropic.claude-haiku-4-5",
    }
}
SECRET_KEYS = ["env.ANTHROPIC_AUTH_TOKEN"]


def big_settings(size):
    """A settings document of about ``size`` bytes, shaped like a heavily used one: a long permission list and a large
    per-project map of small objects (many small strings and containers, the expensive kind to parse)."""
    document = {
        "$schema": "https://json.schemastore.org/claude-code-settings.json",
        "env": {"EDITOR": "vim"},
        "permissions": {"allow": [], "deny": ["Read(./.env)"]},
        "projects": {},
        "includeCoAuthoredBy": False,
    }
    start = 0
    while True:
        for number in range(start, start + 500):
            document["permissions"]["allow"].append("Bash(npm run test:unit -- --project=p%05d *)" % number)
            document["projects"]["/home/alice/src/project-%05d" % number] = {
                "allowedTools": ["Read", "Edit", "Bash(git status)"],
                "hasTrustDialogAccepted": True,
                "lastCost": number / 100.0,
                "history": [{"display": "refactor the parser in module %d" % number, "pastedContents": {}}],
            }
        start += 500
        text = json.dumps(document, indent=2) + "\n"
        if len(text) >= size:
            return text


def import_code():
    """The engine and the module, imported the way Ansible does (ansible_collections.aigateway.bifrost...)."""
    collections = os.environ.get("ANSIBLE_COLLECTIONS_PATH", str(ROOT / ".cache" / "ansible-home" / "collections"))
    for entry in reversed(collections.split(os.pathsep)):
        if entry and entry not in sys.path:
            sys.path.insert(0, entry)
    engine = importlib.import_module("ansible_collections.aigateway.bifrost.plugins.module_utils.json_merge")
    module = importlib.import_module("ansible_collections.aigateway.bifrost.plugins.modules.json_merge")
    return engine, module


def run_module(module, path):
    """One in-process run of the module's main() on ``path``; its JSON result."""
    from ansible.module_utils import basic  # pylint: disable=import-outside-toplevel

    arguments = {"ANSIBLE_MODULE_ARGS": {"path": path, "content": PATCH, "secret_keys": SECRET_KEYS, "mode": "0600",
                                         "_ansible_check_mode": False, "_ansible_diff": False}}
    basic._ANSIBLE_ARGS = json.dumps(arguments).encode()  # pylint: disable=protected-access
    basic._ANSIBLE_PROFILE = "legacy"  # pylint: disable=protected-access
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        try:
            module.main()
        except SystemExit:
            pass
    return json.loads(output.getvalue())


def measure(function, prepare, reps):
    """Median seconds of ``function()`` over ``reps`` runs (``prepare()`` before each, not timed), then the peak of
    memory allocated during one more traced run, above what was allocated when it started."""
    times = []
    while len(times) < reps:
        prepare()
        gc.collect()
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    prepare()
    gc.collect()
    tracemalloc.start()
    baseline = tracemalloc.get_traced_memory()[0]
    function()
    peak = tracemalloc.get_traced_memory()[1] - baseline
    tracemalloc.stop()
    return {"median_seconds": round(statistics.median(times), 4), "runs": [round(value, 4) for value in times],
            "peak_extra_bytes": peak}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--size-mb", type=float, default=5.0)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args(argv)

    engine, module = import_code()
    original = big_settings(int(args.size_mb * 1024 * 1024))
    merged = engine.merge_json_text(original, PATCH, source="settings.json", secret_keys=SECRET_KEYS)
    if not merged.changed or engine.merge_json_text(merged.after, PATCH, secret_keys=SECRET_KEYS).changed:
        raise SystemExit("json_merge_5mb: the merge is not idempotent on the test document")
    size = len(original.encode("utf-8"))

    cases = {}
    with tempfile.TemporaryDirectory(prefix="bench-json-merge-") as directory:
        path = os.path.join(directory, "settings.json")

        def write(text):
            def prepare():
                with open(path, "w", encoding="utf-8") as handle:
                    handle.write(text)
            return prepare

        # The engine's documented result: the merged text (`after`), built in full.
        cases["engine first merge"] = measure(
            lambda: engine.merge_json_text(original, PATCH, source=path, secret_keys=SECRET_KEYS).after, lambda: None,
            args.reps)
        cases["engine nothing to do"] = measure(
            lambda: engine.merge_json_text(merged.after, PATCH, source=path, secret_keys=SECRET_KEYS).after,
            lambda: None, args.reps)
        results = []
        cases["module first merge"] = measure(lambda: results.append(run_module(module, path)), write(original),
                                              args.reps)
        cases["module nothing to do"] = measure(lambda: results.append(run_module(module, path)),
                                                write(merged.after), args.reps)
        failed = [result for result in results if result.get("failed")]
        if failed:
            raise SystemExit("json_merge_5mb: the module failed: %s" % failed[0].get("msg"))
        first_changed = results[0].get("changed")
        last_changed = results[-1].get("changed")
    for entry in cases.values():
        entry["memory_ratio"] = round(entry["peak_extra_bytes"] / size, 2)
    output = {"file_bytes": size, "reps": args.reps, "cases": cases, "module_changed_first": first_changed,
              "module_changed_rerun": last_changed,
              "shape": "permissions.allow with one string per project, projects map of small objects"}
    if args.json:
        print(json.dumps(output, indent=1))
    else:
        print("file: %.2f MB" % (size / 1e6))
        for name, entry in cases.items():
            print("%-22s median %.3f s  extra memory %.1f MB (%.2f x file)" % (
                name, entry["median_seconds"], entry["peak_extra_bytes"] / 1e6, entry["memory_ratio"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
