# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``lock(name, timeout=60.0)`` (context manager): an exclusive ``fcntl`` lock per network namespace
and name under ``/run/lock`` (or ``/run``) that serializes concurrent runs on the same object.
A lock held longer than ``timeout`` seconds raises ``TransactionError`` (nothing was changed).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import fcntl
import os
import re
import time

from ansible_collections.lanbridge.core.plugins.module_utils._transaction import TransactionError


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
