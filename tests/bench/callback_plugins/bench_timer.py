# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark recorder: one JSON line per task result, one per remote execution, one with the recap.

Used only by tests/bench/bench.py (enabled through ANSIBLE_CALLBACK_PLUGINS and
ANSIBLE_CALLBACKS_ENABLED, or ANSIBLE_LOAD_CALLBACK_PLUGINS for the ``ansible`` command; writes
to the file named by BENCH_CALLBACK_OUT).
"""

DOCUMENTATION = r"""
name: bench_timer
type: aggregate
short_description: record per-task timing, results and remote executions for tests/bench
description:
  - Writes one JSON line per task result (host, task, action, changed, the module's own C(elapsed)
    when it returns one, the wall time of the task on that host, whether the result carries
    C(invocation)) and one line with the recap.
  - Also writes one C(remote) line each time a task's action plugin executes a module or a
    command through the task's connection (C(ActionBase._execute_module) and
    C(ActionBase._low_level_execute_command), hooked in the worker processes, which fork from
    the process that loads this plugin), with the module arguments for the collection's own
    modules. That is the benchmark's definition of a task that reaches a host; controller-side
    actions (set_fact, assert, debug, fail, meta) never get there.
requirements:
  - BENCH_CALLBACK_OUT set to a writable file
"""

import json
import multiprocessing
import os
import time

from ansible.plugins.action import ActionBase
from ansible.plugins.callback import CallbackBase


def _append(path, record):
    """One write(2) per line on an O_APPEND file: lines from the workers never interleave."""
    line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _hook_remote_executions(path):
    """Record every module or command an action plugin runs through its connection (in the worker)."""
    if getattr(ActionBase, "_bench_timer_hooked", False):
        return
    execute_module = ActionBase._execute_module
    low_level = ActionBase._low_level_execute_command

    def note(action, kind, what, module_args=None):
        worker = multiprocessing.current_process()
        host = getattr(worker, "_host", None)
        task = action._task
        record = {
            "kind": "remote", "via": kind, "what": what, "pid": os.getpid(),
            "host": host.get_name() if host is not None else None,
            "uuid": task._uuid, "task": task.get_name(), "action": task.action,
            "delegate_to": task.delegate_to,
            "transport": getattr(action._connection, "transport", None),
        }
        if module_args is not None and str(what).startswith("lanbridge.core."):
            # the arguments as the module gets them (templated; before the _ansible_* keys go in):
            # the bench replays the collection's modules with them under cProfile
            record["module_args"] = dict((k, v) for k, v in module_args.items() if not k.startswith("_ansible"))
        _append(path, record)

    def _execute_module(self, module_name=None, module_args=None, *args, **kwargs):
        note(self, "module", module_name or self._task.action,
             module_args if module_args is not None else self._task.args)
        return execute_module(self, module_name, module_args, *args, **kwargs)

    def _low_level_execute_command(self, cmd, *args, **kwargs):
        note(self, "command", str(cmd)[:120])
        return low_level(self, cmd, *args, **kwargs)

    ActionBase._execute_module = _execute_module
    ActionBase._low_level_execute_command = _low_level_execute_command
    ActionBase._bench_timer_hooked = True


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timer"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self._path = os.environ.get("BENCH_CALLBACK_OUT")
        self._started = {}
        if self._path:
            _hook_remote_executions(self._path)

    def _write(self, record):
        if self._path:
            _append(self._path, record)

    def v2_runner_on_start(self, host, task):
        self._started[(host.get_name(), task._uuid)] = time.monotonic()

    def _result(self, result, status):
        host = result._host.get_name()
        task = result._task
        started = self._started.pop((host, task._uuid), None)
        res = result._result
        record = {
            "kind": "task", "status": status, "host": host, "task": task.get_name(), "uuid": task._uuid,
            "action": task.action, "changed": bool(res.get("changed")), "invocation": "invocation" in res,
            "delegate_to": task.delegate_to,
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
            record["invocation"] = record["invocation"] or any("invocation" in r for r in items)
        if "interfaces" in res and isinstance(res["interfaces"], list):
            record["interfaces"] = len(res["interfaces"])
            record["interfaces_changed"] = sum(1 for r in res["interfaces"] if isinstance(r, dict) and r.get("changed"))
            record["interfaces_failed"] = sum(1 for r in res["interfaces"] if isinstance(r, dict) and r.get("failed"))
        if status in ("failed", "ignored", "unreachable"):
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
