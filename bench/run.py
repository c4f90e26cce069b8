"""Fleet-convergence benchmark: time per host of the claude_desktop role against the floor and the usual alternatives.

Run it through ``bench/run.sh`` (see docs/performance.md). For every transport (stock strategy ``linear``, Mitogen's
``mitogen_linear``), fleet size N and forks setting, in one run on one fleet: (a) ansible.builtin.ping, (b) naive
template per user, (c) slurp + combine + copy per user, (d) the role on the initial fleet, (e) the role again. Also
measures json_merge on a 5 MB file, counts the role's tasks, module runs and AnsiballZ payload sizes, and samples one
role run per transport with py-spy (controller and module processes). Results go to bench/results/<timestamp>/; unless
--no-docs, the generated part of docs/performance.md and docs/performance.png are rewritten from them.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import fleet

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PLAYBOOKS = BENCH / "playbooks"
# bench/requirements.txt (Mitogen, py-spy), installed here by bench/run.sh: bench-only, never needed by the collection.
TOOLS = ROOT / ".cache" / "bench-tools"
TRANSPORTS = ("stock", "mitogen")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="50,200,1000", help="fleet sizes, comma-separated (default: 50,200,1000)")
    parser.add_argument("--forks", default="10,50", help="forks settings, comma-separated (default: 10,50)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: N=20, forks 10, small 5 MB-test repetitions; does not touch docs/")
    parser.add_argument("--variants", default="ping,naive,safe,role",
                        help="which of ping,naive,safe,role to run (role includes the re-run)")
    parser.add_argument("--big-n-forks", default="",
                        help="forks settings used for the largest N only (default: all of --forks)")
    parser.add_argument("--baseline-n", default="all",
                        help="fleet sizes at which the naive (b) and safe (c) variants run (default: all of --n); they "
                             "cost 14 and 21 module runs per host, the bulk of a full run, and run last at the largest N")
    parser.add_argument("--baseline-forks", default="all",
                        help="forks settings at which the naive (b) and safe (c) variants run (default: all of --forks)")
    parser.add_argument("--transports", default="stock,mitogen",
                        help="stock (strategy --strategy) and/or mitogen (strategy mitogen_linear), comma-separated "
                             "(default: both)")
    parser.add_argument("--strategy", default="linear", help="Ansible strategy of the stock transport (default: linear)")
    parser.add_argument("--profile", action="store_true",
                        help="only the profiles (module runs per host, py-spy of one role run per transport); no timed "
                             "cells, no 5 MB test")
    parser.add_argument("--profile-n", type=int, default=20, help="fleet size of the py-spy profile (default: 20; 0: no py-spy profile)")
    parser.add_argument("--no-pipelining", dest="pipelining", action="store_false", help="turn SSH/local pipelining off")
    parser.add_argument("--reps", type=int, default=1, help="repetitions of each measurement; the median is reported")
    parser.add_argument("--merge-reps", type=int, default=7, help="repetitions of the 5 MB json_merge measurement")
    parser.add_argument("--out", help="results directory (default: bench/results/<UTC timestamp>)")
    parser.add_argument("--no-docs", dest="docs", action="store_false",
                        help="do not rewrite docs/performance.md and docs/performance.png")
    parser.add_argument("--keep-fleet", action="store_true", help="keep the fleet directories after the run")
    parser.add_argument("--resume", metavar="DIR",
                        help="finish an interrupted run in DIR with its own options: measure only the cells its "
                             "results.json does not have (refused if the code under test changed since)")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.forks, args.merge_reps, args.baseline_n = "20", "10", 3, "all"
        args.docs = False
    if args.profile:
        args.docs = False
    args.n = [int(value) for value in args.n.split(",") if value]
    args.forks = [int(value) for value in args.forks.split(",") if value]
    args.big_n_forks = [int(value) for value in args.big_n_forks.split(",") if value] or args.forks
    if args.baseline_n == "all":
        args.baseline_n = args.n
    else:
        args.baseline_n = [int(value) for value in args.baseline_n.split(",") if value]
    if args.baseline_forks == "all":
        args.baseline_forks = sorted(set(args.forks + args.big_n_forks))
    else:
        args.baseline_forks = [int(value) for value in args.baseline_forks.split(",") if value]
    args.variants = [value for value in args.variants.split(",") if value]
    args.transports = [value for value in args.transports.split(",") if value]
    unknown = set(args.transports) - set(TRANSPORTS)
    if unknown:
        parser.error("--transports: unknown %s (known: %s)" % (", ".join(sorted(unknown)), ", ".join(TRANSPORTS)))
    return args


def load():
    one, five, fifteen = os.getloadavg()
    return [round(one, 2), round(five, 2), round(fifteen, 2)]


def cfg_path(out, transport):
    return out / ("ansible-%s.cfg" % transport)


def write_ansible_cfg(out, args, transport):
    """One ansible.cfg per transport; Mitogen's only differences are its strategy and where that plugin lives."""
    settings = {
        "defaults": {
            "gathering": "explicit",
            "host_key_checking": "False",
            "retry_files_enabled": "False",
            "stdout_callback": "ansible.builtin.default",
            "display_ok_hosts": "False",
            "display_skipped_hosts": "False",
            "callbacks_enabled": "bench_timer",
            "callback_plugins": str(BENCH / "callback_plugins"),
            "strategy": args.strategy,
            "local_tmp": str(out / "tmp" / "local"),
            "remote_tmp": str(out / "tmp" / "remote"),
            "interpreter_python": sys.executable,
        },
        "connection": {"pipelining": str(args.pipelining)},
    }
    if transport == "mitogen":
        settings["defaults"]["strategy"] = "mitogen_linear"
        settings["defaults"]["strategy_plugins"] = str(TOOLS / "ansible_mitogen" / "plugins" / "strategy")
    lines = []
    for section, values in settings.items():
        lines.append("[%s]" % section)
        lines.extend("%s = %s" % item for item in values.items())
        lines.append("")
    cfg_path(out, transport).write_text("\n".join(lines))
    return settings


def ansible_env(out, transport, timer_file, extra=None):
    env = dict(os.environ)
    env.update(ANSIBLE_CONFIG=str(cfg_path(out, transport)), BENCH_TIMER_OUT=str(timer_file), ANSIBLE_NOCOLOR="1")
    env.update(extra or {})
    return env


def run_playbook(out, transport, name, playbook, inventory, forks, extra_env=None, prefix=()):
    """Run one playbook; wall time, CPU time of the whole process tree, and the callback's task data. ``prefix`` is a
    command the playbook runs under (py-spy)."""
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    timer_file = logs / (name + ".timer.json")
    command = list(prefix) + ["ansible-playbook", "-i", str(inventory), "-f", str(forks), str(PLAYBOOKS / playbook)]
    before = load()
    with open(logs / (name + ".log"), "w") as log:
        start = time.perf_counter()
        process = subprocess.Popen(command, cwd=str(out), env=ansible_env(out, transport, timer_file, extra_env), stdout=log,
                                   stderr=subprocess.STDOUT)
        dummy, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    timer = json.loads(timer_file.read_text()) if timer_file.exists() else {}
    return {
        "rc": process.returncode,
        "wall": round(wall, 3),
        "cpu": round(usage.ru_utime + usage.ru_stime, 3),
        "load_before": before,
        "load_after": load(),
        "totals": timer.get("totals", {}),
        "changed_hosts": timer.get("changed_hosts"),
        "tasks": timer.get("tasks", []),
        "log": str(logs / (name + ".log")),
    }


def code_version():
    """A short digest of the code under test (role, filters, module, engine), to spot a change during a run."""
    digest = hashlib.sha256()
    for directory in ("roles/claude_desktop", "plugins/modules", "plugins/module_utils", "plugins/filter"):
        for path in sorted((ROOT / directory).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def sample_hosts(count):
    names = fleet.host_names(count)
    return sorted(set([names[0], names[len(names) // 2], names[-1]]))


def measure_cell(out, args, transport, count, forks, variants, inventory, fleet_dir, save):
    """The given variants for one transport, fleet size and forks setting, on the same fleet. Each row goes to save() as
    soon as it is measured, so an interrupted run keeps it."""
    samples = sample_hosts(count)
    tag = "" if transport == "stock" else transport + "-"

    def record(variant, result):
        result.update(variant=variant, transport=transport, n=count, forks=forks,
                      per_host=round(result["wall"] / count, 4), cpu_per_host=round(result["cpu"] / count, 4),
                      code=code_version())
        save(result)
        status = "ok" if result["rc"] == 0 else "FAILED rc=%d (see %s)" % (result["rc"], result["log"])
        print("[%s N=%d forks=%d] %-5s %8.1f s wall  %.3f s/host  cpu %.1f s  changed hosts %s  %s" % (
            transport, count, forks, variant, result["wall"], result["per_host"], result["cpu"], result["changed_hosts"],
            status), flush=True)

    def repeated(variant, playbook, reseed):
        results = []
        for rep in range(args.reps):
            if reseed:
                fleet.seed(fleet_dir, count)
            results.append(run_playbook(out, transport, "%sn%d-f%d-%s-%d" % (tag, count, forks, variant, rep), playbook,
                                        inventory, forks))
        results.sort(key=lambda item: item["wall"])
        result = results[len(results) // 2]
        result["reps_wall"] = [item["wall"] for item in results]
        return result

    fleet.seed(fleet_dir, count)
    if "ping" in variants:
        record("ping", repeated("ping", "ping.yml", False))
    if "naive" in variants:
        result = repeated("naive", "naive.yml", True)
        result["check"] = fleet.check_hosts(fleet_dir, samples)
        record("naive", result)
    if "safe" in variants:
        result = repeated("safe", "safe.yml", True)
        result["check"] = fleet.check_hosts(fleet_dir, samples)
        record("safe", result)
    if "role" in variants:
        first, again = [], []
        for rep in range(args.reps):
            fleet.seed(fleet_dir, count)
            first.append(run_playbook(out, transport, "%sn%d-f%d-role-%d" % (tag, count, forks, rep), "role.yml",
                                      inventory, forks))
            first[-1]["check"] = fleet.check_hosts(fleet_dir, samples)
            again.append(run_playbook(out, transport, "%sn%d-f%d-rerun-%d" % (tag, count, forks, rep), "role.yml",
                                      inventory, forks))
            again[-1]["check"] = fleet.check_hosts(fleet_dir, samples)
        for variant, results in (("role", first), ("rerun", again)):
            results.sort(key=lambda item: item["wall"])
            result = results[len(results) // 2]
            result["reps_wall"] = [item["wall"] for item in results]
            record(variant, result)


def cell_plan(args):
    """(transport, N, forks, variants) in the order they run: the transports side by side in each (N, forks), so that
    both see about the same load. The two slow comparison variants at the largest N come last: they take longer than
    everything else together, and an interrupted run then already holds every other row."""
    biggest = max(args.n)
    cells, deferred = [], []
    for count in args.n:
        for forks in args.big_n_forks if count == biggest else args.forks:
            variants = [variant for variant in args.variants
                        if variant not in ("naive", "safe") or (count in args.baseline_n and forks in args.baseline_forks)]
            slow = [variant for variant in variants if variant in ("naive", "safe")] if count == biggest else []
            for transport in args.transports:
                cells.append((transport, count, forks, [variant for variant in variants if variant not in slow]))
                if slow:
                    deferred.append((transport, count, forks, slow))
    return [cell for cell in cells + deferred if cell[3]]


def profile(out, args):
    """One host, pipelining off and remote files kept: every module run and its AnsiballZ payload size.

    The host's interpreter is a wrapper that logs its first argument (the AnsiballZ file of the module it runs).
    """
    directory = out / "profile"
    fleet_dir = directory / "fleet"
    inventory = directory / "inventory.json"
    runs_log = directory / "module-runs.log"
    wrapper = directory / "python"
    directory.mkdir(parents=True, exist_ok=True)
    wrapper.write_text('#!/bin/sh\necho "$1" >> %s\nexec %s "$@"\n' % (runs_log, sys.executable))
    wrapper.chmod(0o755)
    fleet.write_inventory(inventory, fleet_dir, 1, str(wrapper))
    found = {}
    for variant, playbook in (("ping", "ping.yml"), ("naive", "naive.yml"), ("safe", "safe.yml"), ("role", "role.yml")):
        if variant not in args.variants:
            continue
        fleet.seed(fleet_dir, 1)
        remote = directory / "remote-tmp" / variant
        if runs_log.exists():
            runs_log.unlink()
        extra = {"ANSIBLE_KEEP_REMOTE_FILES": "1", "ANSIBLE_PIPELINING": "False", "ANSIBLE_REMOTE_TEMP": str(remote)}
        result = run_playbook(out, "stock", "profile-" + variant, playbook, inventory, 1, extra)
        modules = {}
        for line in runs_log.read_text().splitlines() if runs_log.exists() else []:
            payload = Path(line.strip())
            if not payload.name.startswith("AnsiballZ_"):
                continue
            name = payload.name[len("AnsiballZ_"):-len(".py")]
            entry = modules.setdefault(name, {"runs": 0, "bytes": payload.stat().st_size if payload.exists() else 0})
            entry["runs"] += 1
        ran = [task for task in result["tasks"] if task["ok"] + task["failed"] + task["skipped"]]
        tasks = [task for task in ran if not task.get("run_once")]
        found[variant] = {
            "rc": result["rc"],
            "module_runs": sum(entry["runs"] for entry in modules.values()),
            "modules": modules,
            "tasks": len(tasks),
            "tasks_skipped": sum(1 for task in tasks if task["skipped"] and not task["ok"]),
            "tasks_once": len(ran) - len(tasks),
            "task_names": ["%s [%s]%s%s" % (task["name"], task["action"], " (once per play)" if task.get("run_once") else "",
                                            " (skipped)" if task["skipped"] else "")
                           for task in ran],
        }
        print("[profile] %-5s tasks/host %d (skipped %d) + %d once per play, module runs/host %d: %s" % (
            variant, found[variant]["tasks"], found[variant]["tasks_skipped"], found[variant]["tasks_once"],
            found[variant]["module_runs"],
            ", ".join("%s x%d (%d kB)" % (name, entry["runs"], entry["bytes"] // 1024) for name, entry in modules.items())),
            flush=True)
    shutil.rmtree(directory / "remote-tmp", ignore_errors=True)
    shutil.rmtree(fleet_dir, ignore_errors=True)
    return found


def spy(out, args):
    """One first run of the role per transport at N = --profile-n under ``py-spy record --subprocesses`` (the whole
    process tree: controller, forked workers, module processes); report.summarize_spy() names the top costs."""
    import report  # pylint: disable=import-outside-toplevel

    py_spy = TOOLS / "bin" / "py-spy"
    if not py_spy.exists():
        print("bench: no py-spy in %s (bench/run.sh installs bench/requirements.txt there); no profile" % TOOLS,
              file=sys.stderr)
        return {}
    directory = out / "spy"
    fleet_dir = directory / "fleet"
    directory.mkdir(parents=True, exist_ok=True)
    inventory = directory / "inventory.json"
    fleet.write_inventory(inventory, fleet_dir, args.profile_n, sys.executable)
    forks = min(args.forks)
    found = {}
    for transport in args.transports:
        fleet.seed(fleet_dir, args.profile_n)
        speedscope = directory / ("%s.speedscope.json" % transport)
        prefix = [str(py_spy), "record", "--subprocesses", "--rate", "250", "--format", "speedscope",
                  "--output", str(speedscope), "--"]
        result = run_playbook(out, transport, "spy-%s-role" % transport, "role.yml", inventory, forks, prefix=prefix)
        if result["rc"] != 0 or not speedscope.exists():
            print("bench: py-spy profile of %s failed (rc %d, see %s)" % (transport, result["rc"], result["log"]),
                  file=sys.stderr)
            found[transport] = {"rc": result["rc"]}
            continue
        summary = report.summarize_spy(json.loads(speedscope.read_text()), args.profile_n)
        summary.update(rc=0, n=args.profile_n, forks=forks, wall=result["wall"], cpu=result["cpu"],
                       speedscope=str(speedscope.relative_to(out)))
        found[transport] = summary
        print("[py-spy %s N=%d forks=%d] sampled CPU %.0f ms/host: controller %.0f, modules %.0f; top self: %s" % (
            transport, args.profile_n, forks, 1000 * summary["seconds"] / args.profile_n,
            1000 * summary["sides"]["controller"] / args.profile_n, 1000 * summary["sides"]["target"] / args.profile_n,
            ", ".join("%s %.0f%%" % (entry["function"], entry["self_pct"]) for entry in summary["top_self"][:4])),
            flush=True)
    shutil.rmtree(fleet_dir, ignore_errors=True)
    return found


def merge_benchmark(args):
    command = [sys.executable, str(BENCH / "json_merge_5mb.py"), "--reps", str(args.merge_reps), "--json"]
    completed = subprocess.run(command, cwd=str(ROOT), capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        print(completed.stdout + completed.stderr, file=sys.stderr)
        return {"error": (completed.stderr or completed.stdout).strip().splitlines()[-1:]}
    result = json.loads(completed.stdout)
    for name, entry in result["cases"].items():
        print("[json_merge 5 MB] %-22s median %.3f s, extra memory %.1f MB = %.2f x file" % (
            name, entry["median_seconds"], entry["peak_extra_bytes"] / 1e6, entry["memory_ratio"]), flush=True)
    return result


def mitogen_version():
    try:
        text = (TOOLS / "mitogen" / "__init__.py").read_text()
        return ".".join(text.split("__version__ = (", 1)[1].split(")", 1)[0].replace(" ", "").split(","))
    except (OSError, IndexError):
        return "not installed"


def environment(args, settings):
    version = subprocess.run(["ansible", "--version"], capture_output=True, text=True, check=False).stdout
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "ansible": version.splitlines()[0] if version else "",
        "python": platform.python_version(),
        "interpreter": sys.executable,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "pipelining": args.pipelining,
        "strategy": args.strategy,
        "transports": args.transports,
        "mitogen": mitogen_version(),
        "forks": args.forks,
        "big_n_forks": args.big_n_forks,
        "baseline_n": args.baseline_n,
        "baseline_forks": args.baseline_forks,
        "fact_gathering": "off in every play (gather_facts: false); the role gets claude_desktop_os_family",
        "health_check": "off (claude_desktop_gateway_health_check: false)",
        "reps": args.reps,
        "ansible_cfg": settings,
        "profile_n": args.profile_n,
    }


def write_results(out, results):
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")


def main(argv=None):
    args = parse_args(argv)
    if args.resume:
        out = Path(args.resume).resolve()
        results = json.loads((out / "results.json").read_text())
        args = parse_args(results["argv"])
        if "transports" not in results["environment"]:
            args.transports = ["stock"]  # a run started before the Mitogen column: finish it as it was
        recorded = set(row["code"] for row in results.get("rows", []))
        if recorded and recorded != set([code_version()]):
            raise SystemExit("bench: the code under test changed since %s was started (digest %s, now %s); start a new "
                             "run" % (out, ", ".join(sorted(recorded)), code_version()))
        results.setdefault("resumed", []).append(
            {"at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "load": load()})
        print("bench: resuming %s" % out, flush=True)
    else:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        out = Path(args.out) if args.out else BENCH / "results" / stamp
        out.mkdir(parents=True, exist_ok=True)
        out = out.resolve()
        settings = dict((transport, write_ansible_cfg(out, args, transport)) for transport in args.transports)
        results = {
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "argv": sys.argv[1:] if argv is None else list(argv),
            "quick": args.quick,
            "environment": environment(args, settings),
            "load_start": load(),
            "uptime_start": subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip(),
        }
        print("bench: results in %s" % out, flush=True)
    if args.resume:
        for transport in args.transports:
            write_ansible_cfg(out, args, transport)
    if "json_merge_5mb" not in results and not args.profile:
        results["json_merge_5mb"] = merge_benchmark(args)
    if "profile" not in results:
        results["profile"] = profile(out, args)
        write_results(out, results)
    if "spy" not in results and "role" in args.variants and args.profile_n > 0:
        results["spy"] = spy(out, args)
        write_results(out, results)

    results.setdefault("rows", [])

    def key(row):  # rows of runs from before the Mitogen column have no transport: stock
        return (row.get("transport", "stock"), row["n"], row["forks"], row["variant"])

    done = set(key(row) for row in results["rows"])
    fleet_dir = out / "fleet"

    def save(row):
        results["rows"].append(row)
        write_results(out, results)

    for transport, count, forks, variants in [] if args.profile else cell_plan(args):
        # The role's row pair is measured together: a missing re-run repeats both.
        todo = [variant for variant in variants if (transport, count, forks, variant) not in done
                or (variant == "role" and (transport, count, forks, "rerun") not in done)]
        if not todo:
            continue
        stale = set((transport, count, forks, variant) for variant in todo + (["rerun"] if "role" in todo else []))
        inventory = out / ("inventory-%d.json" % count)
        fleet.write_inventory(inventory, fleet_dir, count, sys.executable)
        results["rows"] = [row for row in results["rows"] if key(row) not in stale]
        measure_cell(out, args, transport, count, forks, todo, inventory, fleet_dir, save)
    if not args.keep_fleet:
        shutil.rmtree(fleet_dir, ignore_errors=True)
    results["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    results["load_end"] = load()
    results["uptime_end"] = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    write_results(out, results)

    import report  # pylint: disable=import-outside-toplevel

    summary = report.summarize(results)
    (out / "report.md").write_text(report.render(results, summary))
    plotted = bool(results["rows"]) and report.plot(out / "results.json", out / "performance.png")
    if args.docs:
        report.update_docs(ROOT / "docs" / "performance.md", report.render(results, summary))
        if plotted:
            shutil.copyfile(out / "performance.png", ROOT / "docs" / "performance.png")
    print(report.verdict_text(summary), flush=True)
    failed = [row for row in results["rows"] if row["rc"] != 0]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
