# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A rollback that outlives the module, in the spirit of ``netplan try``: the change's steps are
written to a journal on disk before the first one is applied, and a detached watchdog undoes the
applied ones unless the module confirms success.

The journal is a file in ``_lock.run_dir()`` (``/run/lanbridge``, root only), one line of JSON per
event, appended as they happen (a line cut short by a crash is ignored):

    {"journal": 1, "object": "bridge br0", "pid": 4242, "watchdog": 4250, "deadline": 1764632400.5,
     "steps": [plain-data _transaction steps]}
    {"applying": 1}  {"applied": 1}  {"applying": 2}  {"applied": 2}  {"probing": true}  {"undone": 1}
    {"end": "confirmed"}

A step is announced (``applying``) before it runs and recorded (``applied``) after: a process killed
between the kernel's answer and the record leaves one step in doubt, and its undo is run too, its
errors ignored (undoing a step that did not happen fails harmlessly or changes nothing).

``Journal.begin(path, what, steps, deadline, execute_factory)`` writes the first line, starts the
watchdog and returns the journal (a journal already at ``path`` is never overwritten: ``JournalError``);
the module then calls ``applying(n)`` and ``applied(n)`` around each step, ``probing()``,
``undone(n)`` during its own rollback and ``end(outcome)`` (``confirmed`` / ``rolled back``) last.
The module holds an ``flock`` on the journal for its lifetime, so the watchdog learns of its death
at once (SIGKILL, the OOM killer, a dropped SSH session): the lock comes free. The watchdog (its
own session, SIGHUP ignored, no inherited descriptors) then reads the journal and, if it has no
``end``, undoes every step still applied, newest first, through ``execute_factory()``, and records
``{"end": "rolled back by the watchdog"}``. It does the same at ``deadline`` if the module hangs.

``recover(path, execute_factory)`` is what a later run calls before planning. A watchdog still at
work holds the journal's lock (the module's object locks came free when it died, the journal's lock
did not): the run waits for it, up to the journal's deadline plus ``RECOVER_MARGIN``. A journal
without an ``end`` (the watchdog died too) is then rolled back there and then; a journal that the
watchdog ended is read and removed. It returns a sentence for the module's warnings, or None.

The watchdog reads the journal through its own descriptor, never again by path: once the module (or
a later run) has ended and removed it, a new journal at the same path is another run's, not its own.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fcntl
import json
import os
import signal
import sys
import time

from ansible_collections.lanbridge.core.plugins.module_utils._lock import open_private
from ansible_collections.lanbridge.core.plugins.module_utils._transaction import Transaction

POLL = 0.05
RECOVER_MARGIN = 30.0  # seconds past a journal's deadline that a later run waits for its watchdog


class JournalError(Exception):
    """A journal that cannot be started or finished; nothing was changed."""


def _read_fd(fd):
    chunks, offset = [], 0
    while True:
        chunk = os.pread(fd, 65536, offset)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        offset += len(chunk)


def read(path_or_fd):
    """``(header, state)`` of a journal (a path, or an open descriptor): state holds ``applied``
    (steps still applied), ``applying`` (the step announced last), ``probing`` and ``end`` (None
    while open)."""
    if isinstance(path_or_fd, int):
        data = _read_fd(path_or_fd)
    else:
        with open(path_or_fd, "rb") as handle:
            data = handle.read()
    header, state = None, {"applied": 0, "applying": 0, "probing": False, "end": None, "watchdog": None}
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash
        if header is None:
            header = event
        elif "watchdog" in event:
            state["watchdog"] = event["watchdog"]
        elif "applying" in event:
            state["applying"] = event["applying"]
        elif "applied" in event:
            state["applied"] = event["applied"]
        elif "undone" in event:
            state["applied"] = max(0, state["applied"] - event["undone"])
        elif "probing" in event:
            state["probing"] = True
        elif "end" in event:
            state["end"] = event["end"]
    return header, state


def undo_applied(header, state, execute):
    """Undo the steps the journal says are applied, newest first (the one in doubt, announced but not
    recorded, first and with its errors ignored), through the one transaction engine; the errors
    (empty: all undone)."""
    steps, applied = header["steps"], state["applied"]
    if state.get("applying", 0) == applied + 1 and applied < len(steps):
        Transaction.resumed(execute, [steps[applied]]).rollback()  # in doubt: its errors say nothing
    return Transaction.resumed(execute, steps[:applied]).rollback()


def _append(fd, event):
    os.write(fd, (json.dumps(event, sort_keys=True) + "\n").encode("utf-8"))


class Journal(object):
    """The module's side of one journal."""

    def __init__(self, path, fd):
        self.path = path
        self.fd = fd

    @classmethod
    def begin(cls, path, what, steps, deadline, execute_factory):
        try:
            fd = open_private(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND)
        except FileExistsError:
            raise JournalError("%s: the journal %s of an earlier run is still there (its rollback is not "
                               "finished); nothing was changed, run again" % (what, path)) from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        header = {"journal": 1, "object": what, "pid": os.getpid(), "started": time.time(),
                  "deadline": deadline, "steps": steps}
        _append(fd, header)
        journal = cls(path, fd)
        header["watchdog"] = _start_watchdog(path, fd, execute_factory)
        _append(fd, {"watchdog": header["watchdog"]})
        return journal

    def applying(self, count):
        _append(self.fd, {"applying": count})

    def applied(self, count):
        _append(self.fd, {"applied": count})

    def probing(self):
        _append(self.fd, {"probing": True})

    def undone(self, count):
        _append(self.fd, {"undone": count})

    def taken_over(self):
        """Whether the watchdog ended the journal (the module hung past its deadline)."""
        return read(self.path)[1]["end"] is not None

    def end(self, outcome):
        _append(self.fd, {"end": outcome})
        try:
            os.unlink(self.path)
        finally:
            os.close(self.fd)
            self.fd = None


def recover(path, execute_factory, check_mode=False):
    """Finish what an earlier run left in ``path``; a sentence saying what was found, or None.
    In check mode nothing is rolled back or removed; the sentence says what a real run will do."""
    if not os.path.exists(path):
        return None
    try:
        fd = open_private(path, os.O_RDWR | os.O_APPEND)
    except FileNotFoundError:
        return None  # ended and removed meanwhile
    try:
        _wait_for_watchdog(fd, path)
        if os.fstat(fd).st_nlink == 0:
            return None  # ended and removed while we waited
        header, state = read(fd)
        if header is None:
            os.unlink(path)
            return None
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(header.get("started", 0)))
        what = "an earlier run on %s (PID %s, %s)" % (header.get("object"), header.get("pid"), when)
        if state["end"] is not None:
            if not check_mode:
                os.unlink(path)
            if "watchdog" not in state["end"]:
                return "%s ended (%s) but left its journal behind; removed" % (what, state["end"])
            return "%s did not finish; its watchdog rolled it back (%s)" % (what, state["end"])
        if check_mode:
            return "%s left %d step(s) applied and no watchdog; a real run rolls them back first (check mode " \
                   "planned against the host as it is now)" % (what, state["applied"])
        errors = undo_applied(header, state, execute_factory())
        _append(fd, {"end": "rolled back by the next run"})
        os.unlink(path)
        if errors:
            return "%s left %d step(s) applied; rolling them back FAILED: %s" % (what, state["applied"], "; ".join(errors))
        return "%s left %d step(s) applied and no watchdog; they were rolled back before this run" % (
            what, state["applied"])
    finally:
        os.close(fd)


def _wait_for_watchdog(fd, path):
    """Take the journal's lock. Its holder is a watchdog still undoing (the run that wrote the
    journal is gone: this run holds the object's lock): wait for it, up to the journal's deadline
    plus ``RECOVER_MARGIN``."""
    header, state = read(fd)
    header = header or {}
    until = max(float(header.get("deadline") or 0), time.time()) + RECOVER_MARGIN
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.time() >= until:
                raise JournalError("the journal %s of an earlier run (PID %s) is still held by its watchdog "
                                   "(PID %s) %.0f s past its deadline; nothing was changed"
                                   % (path, header.get("pid"), state["watchdog"],
                                      time.time() - float(header.get("deadline") or 0))) from None
            time.sleep(POLL)


def _start_watchdog(path, module_fd, execute_factory):
    """Fork the watchdog (double fork, own session); its PID."""
    read_end, write_end = os.pipe()
    first = os.fork()
    if first:
        os.close(write_end)
        os.waitpid(first, 0)
        data = os.read(read_end, 32)
        os.close(read_end)
        return int(data or 0)
    # first child: a session of its own, then the watchdog itself, so init adopts it
    try:
        os.close(read_end)
        os.setsid()
        if os.fork():
            os._exit(0)  # pylint: disable=protected-access
        # the journal opened anew (the module's flock is on the module's open file, ours must be
        # another) while the module waits for our PID, so it is this journal and no later one
        own = os.open(path, os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
        os.write(write_end, str(os.getpid()).encode("ascii"))
        os.close(write_end)
        _watch(own, module_fd, execute_factory)
    finally:
        os._exit(0)  # pylint: disable=protected-access


def _detach(keep):
    """Immune to the module's session and terminal: SIGHUP and SIGINT ignored, and no descriptor of
    the module kept but ``keep`` (Ansible waits for the module's output pipes to close)."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    for fd in sorted(int(name) for name in os.listdir("/proc/self/fd")):
        if fd > 2 and fd != keep:
            try:
                os.close(fd)
            except OSError:
                pass  # the directory's own descriptor, already gone
    sys.stdout = sys.stderr = open(os.devnull, "w")


def _watch(fd, module_fd, execute_factory):
    """Wait until the module lets go of the journal ``fd`` (done, or dead) or its deadline passes;
    then roll back whatever the journal says is still applied."""
    del module_fd  # closed by _detach: the module's flock is on that open file; ours is ``fd``
    _detach(keep=fd)
    try:
        header, _state = read(fd)
        deadline = header["deadline"] if header else time.time()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break  # the module ended or died
            except BlockingIOError:
                if time.time() >= deadline:
                    break  # the module hangs: act as if it were gone
                time.sleep(POLL)
        if os.fstat(fd).st_nlink == 0:
            return  # ended and removed (by the module, or a later run); a file at path now is another's
        header, state = read(fd)
        if header is None or state["end"] is not None:
            return
        errors = undo_applied(header, state, execute_factory())
        _append(fd, {"end": "rolled back by the watchdog" + (" (FAILED: %s)" % "; ".join(errors) if errors else "")})
    finally:
        os.close(fd)
