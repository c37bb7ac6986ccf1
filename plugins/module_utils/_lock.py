# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Locks that serialize runs touching the same objects, and the collection's private run directory.

``hold(names, timeout=LOCK_TIMEOUT)`` (context manager): an exclusive ``flock`` on every object in
    ``names`` (``bridge:br0``, ``uplink:em1``, ...), in the current network namespace, taken in
    sorted order (two runs never wait for each other in a circle). A lock held by another run for
    longer than ``timeout`` seconds raises ``LockError``, which names the object, the holder's PID
    and since when; nothing was changed then. Both modules take the locks of what they touch.
``run_dir()`` -> ``/run/lanbridge``: root-owned, mode 0700, created if missing; a directory there
    that is not root's, is reachable by others, or is a symlink is refused (``LockError``).
``open_private(path, flags)`` opens a file inside it with ``O_NOFOLLOW``: a planted symlink is an
    error, never followed.

The lock files live in that directory (not in world-writable ``/run/lock``), so nobody else can
plant one; the holder writes its PID and start time into its lock file for the message. They are
keyed by the namespace's inode, which the kernel reuses once a namespace is gone: a lock is only
ever held by a process inside its namespace, which keeps that namespace (and its inode) alive, so
two live holders never share a file; a file left by a gone namespace holds no lock.
"""

import contextlib
import errno
import fcntl
import os
import re
import stat
import time

from ansible_collections.lanbridge.core.plugins.module_utils._errors import LockError

RUN_DIR = "/run/lanbridge"
# Longer than the longest probe a run can wait for: rollback_timeout (at most 600 s) plus the
# listening and learning states of STP (at most 2 x 30 s), plus a margin.
LOCK_TIMEOUT = 720.0


def run_dir(path=RUN_DIR):
    try:
        os.mkdir(path, 0o700)
    except OSError as exc:
        if exc.errno != errno.EEXIST:
            raise LockError("cannot create %s: %s" % (path, exc.strerror)) from exc
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise LockError("%s is not a directory (a symlink or a file is there); remove it" % path)
    if st.st_uid != os.geteuid():
        raise LockError("%s belongs to uid %d, not to this run's uid %d; remove it" % (path, st.st_uid, os.geteuid()))
    if st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def open_private(path, flags, mode=0o600):
    """Open ``path`` (inside ``run_dir()``) without following a symlink; a file of another user is refused.
    ``FileExistsError`` (with ``O_EXCL``) and ``FileNotFoundError`` (without ``O_CREAT``) pass through."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    except (FileExistsError, FileNotFoundError):
        raise  # the caller's to judge (O_EXCL: someone's file is there; no O_CREAT: nothing is)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise LockError("%s is a symlink; refusing to follow it (remove it)" % path) from exc
        raise LockError("cannot open %s: %s" % (path, exc.strerror)) from exc
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
        os.close(fd)
        raise LockError("%s is not a regular file of this run's user; remove it" % path)
    return fd


def _path(name):
    netns = os.stat("/proc/self/ns/net").st_ino
    return os.path.join(run_dir(), "lock-%d-%s" % (netns, re.sub(r"[^A-Za-z0-9_.-]", "_", name)))


def _holder(fd):
    try:
        text = os.pread(fd, 200, 0).decode("ascii", "replace").split()
        pid, since = int(text[0]), float(text[1])
    except (OSError, ValueError, IndexError):
        return "another run"
    return "another run (PID %d, since %s UTC, %d s ago)" % (
        pid, time.strftime("%H:%M:%S", time.gmtime(since)), max(0, time.time() - since))


def _take(name, timeout):
    fd = open_private(_path(name), os.O_RDWR | os.O_CREAT)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = _holder(fd)
                os.close(fd)
                raise LockError("%s is locked by %s for more than %g s; nothing was changed"
                                % (name.replace(":", " "), holder, timeout)) from None
            time.sleep(0.05)
    os.ftruncate(fd, 0)
    os.pwrite(fd, ("%d %.3f\n" % (os.getpid(), time.time())).encode("ascii"), 0)
    return fd


@contextlib.contextmanager
def hold(names, timeout=LOCK_TIMEOUT):
    fds = []
    try:
        for name in sorted(set(names)):
            fds.append(_take(name, timeout))
        yield
    finally:
        for fd in fds:
            os.close(fd)
