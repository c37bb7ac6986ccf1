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
    {"applied": 1}   {"applied": 2}   {"probing": true}   {"undone": 1}   {"end": "confirmed"}

``Journal.begin(path, what, steps, deadline, execute_factory)`` writes the first line, starts the
watchdog and returns the journal; the module then calls ``applied(n)`` after each step, ``probing()``,
``undone(n)`` during its own rollback and ``end(outcome)`` (``confirmed`` / ``rolled back``) last.
The module holds an ``flock`` on the journal for its lifetime, so the watchdog learns of its death
at once (SIGKILL, the OOM killer, a dropped SSH session): the lock comes free. The watchdog (its
own session, SIGHUP ignored, no inherited descriptors) then reads the journal and, if it has no
``end``, undoes every step still applied, newest first, through ``execute_factory()``, and records
``{"end": "rolled back by the watchdog"}``. It does the same at ``deadline`` if the module hangs.

``recover(path, execute_factory)`` is what a later run calls before planning: a journal without an
``end`` (the watchdog died too) is rolled back there and then; a journal that the watchdog ended is
read and removed. It returns a sentence for the module's warnings, or None.
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

POLL = 0.05


def read(path):
    """``(header, state)`` of a journal: state holds ``applied`` (steps still applied), ``probing``,
    ``end`` (None while open) and ``by`` (who ended it)."""
    with open(path, "rb") as handle:
        lines = handle.read().decode("utf-8", "replace").splitlines()
    header, state = None, {"applied": 0, "probing": False, "end": None}
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash
        if header is None:
            header = event
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
    """Undo the steps the journal says are applied, newest first; the errors (empty: all undone)."""
    errors = []
    for step in reversed(header["steps"][:state["applied"]]):
        for undo in step["undo"]:
            try:
                execute(undo)
            except Exception as exc:  # pylint: disable=broad-except  # keep undoing the rest
                errors.append("%s (undoing '%s')" % (exc, step["text"]))
    return errors


def _append(fd, event):
    os.write(fd, (json.dumps(event, sort_keys=True) + "\n").encode("utf-8"))


class Journal(object):
    """The module's side of one journal."""

    def __init__(self, path, fd):
        self.path = path
        self.fd = fd

    @classmethod
    def begin(cls, path, what, steps, deadline, execute_factory):
        fd = open_private(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
        fcntl.flock(fd, fcntl.LOCK_EX)
        header = {"journal": 1, "object": what, "pid": os.getpid(), "started": time.time(),
                  "deadline": deadline, "steps": steps}
        _append(fd, header)
        journal = cls(path, fd)
        header["watchdog"] = _start_watchdog(path, fd, execute_factory)
        _append(fd, {"watchdog": header["watchdog"]})
        return journal

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
    fd = open_private(path, os.O_RDWR | os.O_APPEND)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # its watchdog is at work right now; the object locks keep us apart
        header, state = read(path)
        if header is None:
            os.unlink(path)
            return None
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(header.get("started", 0)))
        what = "an earlier run on %s (PID %s, %s)" % (header.get("object"), header.get("pid"), when)
        if state["end"] is not None:
            if not check_mode:
                os.unlink(path)
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
        os.write(write_end, str(os.getpid()).encode("ascii"))
        os.close(write_end)
        _watch(path, module_fd, execute_factory)
    finally:
        os._exit(0)  # pylint: disable=protected-access


def _detach():
    """Immune to the module's session and terminal: SIGHUP and SIGINT ignored, and no descriptor of
    the module kept (Ansible waits for the module's output pipes to close)."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    for fd in sorted(int(name) for name in os.listdir("/proc/self/fd")):
        if fd > 2:
            try:
                os.close(fd)
            except OSError:
                pass  # the directory's own descriptor, already gone
    sys.stdout = sys.stderr = open(os.devnull, "w")


def _watch(path, module_fd, execute_factory):
    """Wait until the module lets go of the journal (done, or dead) or its deadline passes; then roll
    back whatever the journal says is still applied."""
    del module_fd  # closed by _detach: the module's flock is on that open file; ours must be a new one
    _detach()
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return  # the module already ended and removed it
    try:
        header, _state = read(path)
        deadline = header["deadline"] if header else time.time()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break  # the module ended or died
            except BlockingIOError:
                if time.time() >= deadline:
                    break  # the module hangs: act as if it were gone
                time.sleep(POLL)
        if not os.path.exists(path):
            return  # ended by the module
        header, state = read(path)
        if header is None or state["end"] is not None:
            return
        errors = undo_applied(header, state, execute_factory())
        _append(fd, {"end": "rolled back by the watchdog" + (" (FAILED: %s)" % "; ".join(errors) if errors else "")})
    finally:
        os.close(fd)
