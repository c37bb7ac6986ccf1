# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Apply a ``host_bridge`` plan as one transaction: run the steps in order, check that the
network still answers, and unwind exactly on any failure.

``apply(nl, steps, probe=None, probe_timeout=10.0)`` -> ``{'probe': answer or None, 'seconds': float}``
    ``nl`` is a ``_kernel.netlink.Netlink``; each step's ``op`` is one of its methods. After the
    last step, when ``probe`` (``_kernel.reachability.probe_any`` targets) is not empty, one of
    them must answer within ``probe_timeout`` seconds. On a failed step or probe every applied
    step is undone in reverse order and ``TransactionError`` is raised: its message says what
    failed, what had been done and that it was rolled back; ``.rolled_back`` is true when every
    undo succeeded.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible_collections.lanbridge.core.plugins.module_utils._kernel.errors import KernelError
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.reachability import probe_any
from ansible_collections.lanbridge.core.plugins.module_utils._transaction import Transaction, TransactionError


class ProbeFailed(Exception):
    """Nobody answered the probe after the change."""


def _describe_targets(targets):
    parts = []
    for t in targets:
        if t.get("ifname"):
            parts.append("%s (ARP on %s from %s)" % (t["address"], t["ifname"], t["sender"]))
        else:
            parts.append("%s (ICMP echo)" % t["address"])
    return ", ".join(parts)


def apply(nl, steps, probe=None, probe_timeout=10.0):
    start = time.monotonic()
    tx = Transaction(lambda step: getattr(nl, step["op"])(**step["args"]))
    answer = None
    try:
        tx.apply(steps)
        if probe:
            answer = probe_any(probe, probe_timeout)
            if answer is None:
                raise ProbeFailed("no answer from %s within %g s" % (_describe_targets(probe), probe_timeout))
    except (KernelError, ProbeFailed, OSError) as exc:
        tried, count = tx.applied(), len(tx.done)
        errors = tx.rollback()
        if errors:
            raise TransactionError("%s (after: %s); rollback FAILED, the host is not as it was: %s"
                                   % (exc, tried, "; ".join(errors)), False) from exc
        raise TransactionError("%s (after: %s); rolled back %d step(s), the host is as it was"
                               % (exc, tried, count), True) from exc
    return {"probe": answer, "seconds": time.monotonic() - start}
