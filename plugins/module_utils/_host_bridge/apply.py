# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a ``host_bridge`` plan as one transaction: run the steps in order, check that the
network still answers, and unwind exactly on any failure.

``apply(nl, steps, probe=None, probe_timeout=10.0, journal_path=None, what=None)``
    -> ``{'probe': answer or None, 'seconds': float}``
    ``nl`` is a ``_kernel.netlink.Netlink``; each step's ``op`` is one of its methods. After the
    last step, when ``probe`` (``_kernel.reachability.probe_any`` targets) is not empty, one of
    them must answer within ``probe_timeout`` seconds. On a failed step or probe every applied
    step is undone in reverse order and ``TransactionError`` is raised: its message says what
    failed, what had been done and that it was rolled back; ``.rolled_back`` is true when every
    undo succeeded. With ``journal_path`` the steps are journaled first and a watchdog undoes them
    if this process dies or hangs past the probe's deadline plus ``WATCHDOG_MARGIN`` (``_journal``,
    ``_watchdog``).
``executor(nl)`` -> ``execute(step)`` on ``nl``; ``fresh_executor()`` the same on a new socket
    of the current namespace (what the watchdog and a later run's recovery use).
``journal_file(name)`` the journal's path for bridge ``name`` in this network namespace
    (``_journal.file_name``).
"""

import os
import time

from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.persist_ops import FILE_OPS
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.persist_ops import execute as persist_execute
from ansible_collections.lanbridge.core.plugins.module_utils._journal import file_name
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netlink import Netlink
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.pyroute import preload
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.reachability import probe_any
from ansible_collections.lanbridge.core.plugins.module_utils._lock import run_dir
from ansible_collections.lanbridge.core.plugins.module_utils._transaction import Transaction
from ansible_collections.lanbridge.core.plugins.module_utils._watchdog import watched
from ansible_collections.lanbridge.core.plugins.module_utils._errors import (
    KernelError, PersistError, ProbeFailed, TransactionError,
)

WATCHDOG_MARGIN = 5.0  # seconds past the probe's deadline before the watchdog takes a hung run's place
ROLLBACK_MARGIN = 10.0  # seconds the module's own rollback has before the watchdog takes it over


def _commands(steps):
    """How many of ``steps`` run a command (iptables, a manager's tool: seconds each, not microseconds)."""
    return sum(1 for s in steps if s["op"] == "run")


def _describe_targets(targets):
    parts = []
    for t in targets:
        if t.get("ifname"):
            parts.append("%s (ARP on %s from %s)" % (t["address"], t["ifname"], t["sender"]))
        else:
            parts.append("%s (ICMP echo)" % t["address"])
    return ", ".join(parts)


def executor(nl):
    """``execute(step)``: file and command steps (persistence) to ``persist_ops.execute``, the rest to ``nl``."""
    def execute(step):
        if step["op"] in FILE_OPS:
            persist_execute(step)
        else:
            getattr(nl, step["op"])(**step["args"])
    return execute


def fresh_executor():
    return executor(Netlink())


def journal_file(name):
    return os.path.join(run_dir(), file_name(name))


def apply(nl, steps, probe=None, probe_timeout=10.0, journal_path=None, what=None):
    start = time.monotonic()
    if any(s["op"] not in FILE_OPS for s in steps):
        preload()  # before the first step: the import never sits between two steps, nor in the deadline
    journal = None
    if journal_path:
        # each command step (iptables -w, a manager's reload) may take a second or more
        seconds = probe_timeout + WATCHDOG_MARGIN + 0.05 * len(steps) + 1.0 * _commands(steps)
        journal = watched(journal_path, what or "the change", steps, seconds, fresh_executor)
    tx = Transaction(executor(nl), journal)
    answer = None
    try:
        tx.apply(steps)
        if probe:
            if journal:
                journal.probing()
            answer = probe_any(probe, probe_timeout)
            if answer is None:
                raise ProbeFailed("no answer from %s within %g s" % (_describe_targets(probe), probe_timeout))
        if journal and journal.taken_over():
            raise ProbeFailed("the run took longer than its deadline and its watchdog rolled it back")
    except (KernelError, ProbeFailed, PersistError, OSError) as exc:
        tried, count = tx.applied(), len(tx.done)
        taken = journal.taken_over() if journal else None
        if taken:  # the watchdog undid it already (this run hung and could not be killed)
            errors = [taken] if "FAILED" in taken else []
        else:
            if journal:  # our own rollback: the watchdog steps in only if it hangs too
                journal.rolling_back(ROLLBACK_MARGIN + 0.1 * count + 10.0 * _commands(tx.done))
            errors = tx.rollback()
        if journal:
            journal.end("rolled back" if not errors else "rollback failed: %s" % "; ".join(errors))
        if errors:
            raise TransactionError("%s (after: %s); rollback FAILED, the host is not as it was: %s"
                                   % (exc, tried, "; ".join(errors)), False) from exc
        raise TransactionError("%s (after: %s); rolled back %d step(s), the host is as it was"
                               % (exc, tried, count), True) from exc
    if journal:
        journal.end("confirmed")
    return {"probe": answer, "seconds": time.monotonic() - start}
