# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark callback: wall time of each task (linear strategy: until every host finished it) and result counts.

Writes JSON to the file named by BENCH_TIMER_OUT when the playbook ends. Only used by bench/run.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: Per-task wall time and result counts for bench/run.py
description:
  - Writes the tasks, their wall time and their per-host result counts to the JSON file named by E(BENCH_TIMER_OUT).
requirements:
  - enabled in callbacks_enabled
"""

COUNTS = ("ok", "changed", "skipped", "failed", "unreachable")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self.started = time.time()
        self.tasks = []
        self.current = None

    def _close(self):
        if self.current is not None:
            self.current["seconds"] = round(time.time() - self.current.pop("start"), 4)
            self.tasks.append(self.current)
            self.current = None

    def _count(self, kind, result=None):
        if self.current is None:
            return
        self.current[kind] += 1
        if result is not None and result._result.get("changed"):
            self.current["changed"] += 1

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close()
        # run_once tasks run for one host and count once per play, not per host.
        self.current = dict(name=task.get_name(), action=task.action, run_once=task.run_once is True, start=time.time())
        self.current.update((kind, 0) for kind in COUNTS)

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def v2_runner_on_ok(self, result):
        self._count("ok", result)

    def v2_runner_on_skipped(self, result):
        self._count("skipped")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._count("failed")

    def v2_runner_on_unreachable(self, result):
        self._count("unreachable")

    def v2_playbook_on_stats(self, stats):
        self._close()
        hosts = sorted(stats.processed.keys())
        totals = dict((kind, 0) for kind in ("ok", "changed", "skipped", "failures", "unreachable"))
        changed_hosts = 0
        for host in hosts:
            summary = stats.summarize(host)
            for kind in totals:
                totals[kind] += summary.get(kind, 0)
            changed_hosts += 1 if summary.get("changed", 0) else 0
        output = os.environ.get("BENCH_TIMER_OUT")
        if output:
            with open(output, "w") as handle:
                json.dump(dict(seconds=round(time.time() - self.started, 4), hosts=len(hosts), totals=totals,
                               changed_hosts=changed_hosts, tasks=self.tasks), handle, indent=1)
