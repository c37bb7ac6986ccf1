# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a plan as one transaction: run the steps in order, keep the undo of every step that
happened, check that the network still answers, and unwind exactly on any failure.

``apply(nl, steps, probe=None, probe_timeout=10.0)`` -> ``{'probe': answer or None, 'seconds': float}``
    ``steps`` are planner steps (``{'op', 'args', 'undo', 'text'}``; ``op`` is a
    ``_netlink.Netlink`` method). After the last step, when ``probe`` (``_probe.probe_any``
    targets) is not empty, one of them must answer within ``probe_timeout`` seconds. On a failed
    step or probe every applied step is undone in reverse order and ``TransactionError`` is
    raised: its message says what failed, what had been done and that it was rolled back;
    ``.rolled_back`` is true when every undo succeeded.
``lock(name)`` (context manager): an exclusive ``fcntl`` lock per network namespace and name
    under ``/run/lock`` (or ``/run``) that serializes concurrent runs on the same object.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import fcntl
import os
import re
import time

from ansible_collections.lanbridge.core.plugins.module_utils._netlink import NetlinkError
from ansible_collections.lanbridge.core.plugins.module_utils._probe import ProbeError, probe_any


class TransactionError(Exception):
    def __init__(self, message, rolled_back):
        super(TransactionError, self).__init__(message)
        self.rolled_back = rolled_back


def run_step(nl, step):
    getattr(nl, step["op"])(**step["args"])


def _describe_targets(targets):
    parts = []
    for t in targets:
        if t.get("ifname"):
            parts.append("%s (ARP on %s from %s)" % (t["address"], t["ifname"], t["sender"]))
        else:
            parts.append("%s (ICMP echo)" % t["address"])
    return ", ".join(parts)


def rollback(nl, done):
    """Undo ``done`` in reverse order; return the errors (empty: everything was undone)."""
    errors = []
    for step in reversed(done):
        for undo in step["undo"]:
            try:
                run_step(nl, undo)
            except NetlinkError as exc:
                errors.append("%s (undoing '%s')" % (exc, step["text"]))
    return errors


def apply(nl, steps, probe=None, probe_timeout=10.0):
    start = time.monotonic()
    done = []
    answer = None
    try:
        for step in steps:
            run_step(nl, step)
            done.append(step)
        if probe:
            answer = probe_any(probe, probe_timeout)
            if answer is None:
                raise ProbeError("no answer from %s within %g s" % (_describe_targets(probe), probe_timeout))
    except (NetlinkError, ProbeError) as exc:
        tried = "; ".join(s["text"] for s in done) or "nothing applied yet"
        errors = rollback(nl, done)
        if errors:
            raise TransactionError("%s (after: %s); rollback FAILED, the host is not as it was: %s"
                                   % (exc, tried, "; ".join(errors)), False) from exc
        raise TransactionError("%s (after: %s); rolled back %d step(s), the host is as it was"
                               % (exc, tried, len(done)), True) from exc
    return {"probe": answer, "seconds": time.monotonic() - start}


def _lock_dir():
    for path in ("/run/lock", "/run"):
        if os.path.isdir(path) and os.access(path, os.W_OK):
            return path
    return "/tmp"


@contextlib.contextmanager
def lock(name, timeout=60.0):
    """Hold an exclusive lock for ``name`` in the current network namespace."""
    netns = os.stat("/proc/self/ns/net").st_ino
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    path = os.path.join(_lock_dir(), "lanbridge-%d-%s.lock" % (netns, safe))
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TransactionError("another run holds the lock %s for more than %g s" % (path, timeout), True) from None
                time.sleep(0.05)
        yield path
    finally:
        os.close(fd)
