# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark recorder: one JSON line per task result and one with the play recap.

Used only by tests/bench/bench.py (enabled through ANSIBLE_CALLBACK_PLUGINS and
ANSIBLE_CALLBACKS_ENABLED; writes to the file named by BENCH_CALLBACK_OUT).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: record per-task timing and results for tests/bench
description:
  - Writes one JSON line per task result (host, task, action, changed, the module's own C(elapsed)
    when it returns one, the wall time of the task on that host) and one line with the recap.
requirements:
  - BENCH_CALLBACK_OUT set to a writable file
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super(CallbackModule, self).__init__()
        self._path = os.environ.get("BENCH_CALLBACK_OUT")
        self._started = {}

    def _write(self, record):
        if not self._path:
            return
        with open(self._path, "a") as f:
            f.write(json.dumps(record, sort_keys=True) + "\n")

    def v2_runner_on_start(self, host, task):
        self._started[(host.get_name(), task._uuid)] = time.monotonic()

    def _result(self, result, status):
        host = result._host.get_name()
        task = result._task
        started = self._started.pop((host, task._uuid), None)
        res = result._result
        record = {
            "kind": "task", "status": status, "host": host, "task": task.get_name(),
            "action": task.action, "changed": bool(res.get("changed")),
            "duration": round(time.monotonic() - started, 4) if started is not None else None,
        }
        if isinstance(res.get("elapsed"), (int, float)):
            record["elapsed"] = res["elapsed"]
        if "results" in res:  # a loop: the items' own numbers
            items = [r for r in res["results"] if isinstance(r, dict)]
            record["items"] = len(items)
            record["items_changed"] = sum(1 for r in items if r.get("changed"))
            record["items_elapsed"] = round(sum(r.get("elapsed") or 0 for r in items
                                                if isinstance(r.get("elapsed"), (int, float))), 4)
        if "interfaces" in res and isinstance(res["interfaces"], list):
            record["interfaces"] = len(res["interfaces"])
            record["interfaces_changed"] = sum(1 for r in res["interfaces"] if isinstance(r, dict) and r.get("changed"))
            record["interfaces_failed"] = sum(1 for r in res["interfaces"] if isinstance(r, dict) and r.get("failed"))
        if status == "failed":
            record["msg"] = str(res.get("msg", ""))[:2000]
        self._write(record)

    def v2_runner_on_ok(self, result):
        self._result(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._result(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result):
        self._result(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._result(result, "unreachable")

    def v2_playbook_on_stats(self, stats):
        recap = {}
        for host in sorted(stats.processed.keys()):
            recap[host] = stats.summarize(host)
        self._write({"kind": "recap", "recap": recap})
