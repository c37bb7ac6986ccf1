# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A rollback that outlives the module, in the spirit of ``netplan try``: the change's steps are
written to a journal on disk before the first one is applied, and a detached watchdog undoes the
applied ones unless the module confirms success.

The journal is a file in ``_lock.run_dir()`` (``/run/lanbridge``, root only), one line of JSON per
event, appended as they happen (a line cut short by a crash is ignored):

    {"journal": 1, "object": "bridge br0", "pid": 4242, "pid_start": 81234, "deadline": 1764632400.5,
     "boot_deadline": 5123.4, "steps": [plain-data _transaction steps]}
    {"watchdog": 4250}
    {"applying": 1}  {"applied": 1}  {"applying": 2}  {"applied": 2}  {"probing": true}
    {"deadline": ..., "boot_deadline": ...}  {"undone": 1}  {"undone": 1}  {"end": "rolled back"}

A step is announced (``applying``) before it runs and recorded (``applied``) after: a process killed
between the kernel's answer and the record leaves one step in doubt, and its undo is run too, its
errors ignored (undoing a step that did not happen fails harmlessly or changes nothing). Every undo
is recorded (``undone``) by whoever runs it (the module, its watchdog, a later run), so a rollback
cut short is taken up where it stopped, never done twice. Deadlines count on ``CLOCK_BOOTTIME``
(``boot_deadline``; ``deadline`` is the same moment on the wall clock, for people), which a clock
step when the network comes back does not move.

``Journal.begin(path, what, steps, seconds, execute_factory)`` writes the first line, starts the
watchdog and returns the journal (a journal already at ``path`` is never overwritten: ``JournalError``);
the module then calls ``applying(n)`` and ``applied(n)`` around each step, ``probing()``,
``rolling_back(seconds)`` (a new deadline) and ``undone(n)`` during its own rollback, and
``end(outcome)`` (``confirmed`` / ``rolled back``) last. The module holds an ``flock`` on the
journal for its lifetime, so the watchdog learns of its death at once (SIGKILL, the OOM killer, a
dropped SSH session): the lock comes free. The watchdog (its own session, SIGHUP ignored, no
inherited descriptors) then reads the journal and, if it has no ``end``, undoes every step still
applied, newest first, through ``execute_factory()``, and records ``{"end": "rolled back by the
watchdog"}``. A module still alive at the (latest) deadline hangs: the watchdog kills it (SIGKILL,
after checking by its start time that the PID is still the module's), takes the lock the module's
death frees, and rolls back the same way, so a hung module never goes on applying after its undo.

The watchdog also holds ``PATH.watchdog`` locked for its whole life. ``recover(path,
execute_factory)`` is what a later run calls before planning: it waits for that lock (a watchdog
still at work: the module's object locks came free when it died, the watchdog's did not), up to the
journal's deadline plus ``RECOVER_MARGIN``, so it never undoes beside a watchdog. A journal
without an ``end`` (the watchdog died too) is then rolled back there and then; a journal that the
watchdog ended is read and removed. It returns a sentence for the module's warnings, or None.

The watchdog reads the journal through its own descriptor, never again by path: once the module (or
a later run) has ended and removed it, a new journal at the same path is another run's, not its own.
"""

import fcntl
import json
import os
import signal
import sys
import time

from ansible_collections.lanbridge.core.plugins.module_utils._lock import open_private
from ansible_collections.lanbridge.core.plugins.module_utils._transaction import Transaction
from ansible_collections.lanbridge.core.plugins.module_utils._errors import JournalError

POLL = 0.05
RECOVER_MARGIN = 30.0  # seconds past a journal's deadline that a later run waits for its watchdog
KILL_WAIT = 30.0  # seconds the watchdog waits for a killed module's lock to come free
WATCHDOG_START = 10.0  # seconds a new watchdog waits for an earlier one of the same journal path to exit


def boot_clock():
    return time.clock_gettime(time.CLOCK_BOOTTIME)


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
    (steps still applied), ``applying`` (the step announced last), ``undone`` (undos recorded),
    ``probing``, ``end`` (None while open), ``watchdog`` (its PID) and ``boot_deadline`` (the
    latest)."""
    if isinstance(path_or_fd, int):
        data = _read_fd(path_or_fd)
    else:
        with open(path_or_fd, "rb") as handle:
            data = handle.read()
    header, state = None, {"applied": 0, "applying": 0, "undone": 0, "probing": False, "end": None,
                           "watchdog": None, "boot_deadline": None}
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash
        if header is None:
            header = event
            state["boot_deadline"] = event.get("boot_deadline")
        elif "watchdog" in event:
            state["watchdog"] = event["watchdog"]
        elif "applying" in event:
            state["applying"] = event["applying"]
        elif "applied" in event:
            state["applied"] = event["applied"]
        elif "undone" in event:
            state["applied"] = max(0, state["applied"] - event["undone"])
            state["undone"] += event["undone"]
        elif "boot_deadline" in event:
            state["boot_deadline"] = event["boot_deadline"]
        elif "probing" in event:
            state["probing"] = True
        elif "end" in event:
            state["end"] = event["end"]
    return header, state


class _Record:
    """Writes down each undo of a resumed rollback (``Transaction``'s journal side)."""

    def __init__(self, fd):
        self.fd = fd

    def undone(self, count):
        _append(self.fd, {"undone": count})


def undo_applied(header, state, execute, fd=None):
    """Undo the steps the journal says are applied, newest first (the one in doubt, announced but not
    recorded and not yet undone by anyone, first and with its errors ignored), through the one
    transaction engine, each undo recorded in the journal ``fd``; the errors (empty: all undone)."""
    steps, applied = header["steps"], state["applied"]
    if state.get("applying", 0) == applied + 1 and not state.get("undone") and applied < len(steps):
        Transaction.resumed(execute, [steps[applied]]).rollback()  # in doubt: its errors say nothing
    return Transaction.resumed(execute, steps[:applied], _Record(fd) if fd is not None else None).rollback()


def _append(fd, event):
    os.write(fd, (json.dumps(event, sort_keys=True) + "\n").encode("utf-8"))


def _deadlines(seconds):
    return {"deadline": time.time() + seconds, "boot_deadline": boot_clock() + seconds}


def process_start(pid):
    """The start time of process ``pid`` (clock ticks since boot), or None when there is none."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[19])  # field 22 of stat(5); the first two are before the split


class Journal:
    """The module's side of one journal."""

    def __init__(self, path, fd):
        self.path = path
        self.fd = fd

    @classmethod
    def begin(cls, path, what, steps, seconds, execute_factory):
        """Write the journal of ``steps`` and start its watchdog; the module has ``seconds`` to end it."""
        try:
            fd = open_private(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND)
        except FileExistsError:
            raise JournalError("%s: the journal %s of an earlier run is still there (its rollback is not "
                               "finished); nothing was changed, run again" % (what, path)) from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        header = dict({"journal": 1, "object": what, "pid": os.getpid(), "pid_start": process_start(os.getpid()),
                       "started": time.time(), "steps": steps}, **_deadlines(seconds))
        _append(fd, header)
        watchdog = _start_watchdog(path, fd, execute_factory)
        if not watchdog:
            os.unlink(path)
            os.close(fd)
            raise JournalError("%s: its watchdog did not start (an earlier one of %s still runs); nothing was "
                               "changed" % (what, path))
        _append(fd, {"watchdog": watchdog})
        return cls(path, fd)

    def applying(self, count):
        _append(self.fd, {"applying": count})

    def applied(self, count):
        _append(self.fd, {"applied": count})

    def probing(self):
        _append(self.fd, {"probing": True})

    def rolling_back(self, seconds):
        """The module undoes its change itself: the watchdog waits ``seconds`` more before it steps in."""
        _append(self.fd, _deadlines(seconds))

    def undone(self, count):
        _append(self.fd, {"undone": count})

    def taken_over(self):
        """How the watchdog ended the journal (the module hung past its deadline and could not be
        killed), or None."""
        return read(self.fd)[1]["end"]

    def end(self, outcome):
        _append(self.fd, {"end": outcome})
        try:
            os.unlink(self.path)
        finally:
            os.close(self.fd)
            self.fd = None


def _lock_within(fd, seconds, clock=boot_clock):
    """Take ``fd``'s lock within ``seconds`` (polled); whether it was taken."""
    until = clock() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if clock() >= until:
                return False
            time.sleep(POLL)


def recover(path, execute_factory, check_mode=False):
    """Finish what an earlier run left in ``path``; a sentence saying what was found, or None.
    In check mode nothing is rolled back or removed; the sentence says what a real run will do."""
    if not os.path.exists(path):
        return None
    try:
        fd = open_private(path, os.O_RDWR | os.O_APPEND)
    except FileNotFoundError:
        return None  # ended and removed meanwhile
    guard = None
    try:
        header, state = read(fd)
        header = header or {}
        guard = open_private(path + ".watchdog", os.O_RDWR | os.O_CREAT)
        wait = max(0.0, float(state["boot_deadline"] or 0) - boot_clock()) + RECOVER_MARGIN
        if not (_lock_within(guard, wait) and _lock_within(fd, RECOVER_MARGIN)):
            raise JournalError("the journal %s of an earlier run (PID %s) is still held by its watchdog (PID %s) "
                               "past its deadline; nothing was changed" % (path, header.get("pid"), state["watchdog"]))
        if os.fstat(fd).st_nlink == 0:
            return None  # ended and removed while we waited
        header, state = read(fd)
        if header is None:
            if not check_mode:
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
        errors = undo_applied(header, state, execute_factory(), fd)
        _append(fd, {"end": "rolled back by the next run"})
        os.unlink(path)
        if errors:
            return "%s left %d step(s) applied; rolling them back FAILED: %s" % (what, state["applied"], "; ".join(errors))
        return "%s left %d step(s) applied and no watchdog; they were rolled back before this run" % (
            what, state["applied"])
    finally:
        if guard is not None:
            os.close(guard)
        os.close(fd)


def _start_watchdog(path, module_fd, execute_factory):
    """Fork the watchdog (double fork, own session); its PID (0: it could not start)."""
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
        # another) while the module waits for our PID, so it is this journal and no later one; the
        # guard is ours for our whole life (a later run's recover waits for it)
        own = os.open(path, os.O_RDWR | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
        guard = open_private(path + ".watchdog", os.O_RDWR | os.O_CREAT)
        if not _lock_within(guard, WATCHDOG_START):
            os.write(write_end, b"0")
            os._exit(0)  # pylint: disable=protected-access
        os.write(write_end, str(os.getpid()).encode("ascii"))
        os.close(write_end)
        _watch(own, guard, module_fd, execute_factory)
    finally:
        os._exit(0)  # pylint: disable=protected-access


def _detach(keep):
    """Immune to the module's session and terminal: SIGHUP and SIGINT ignored, and no descriptor of
    the module kept but those in ``keep`` (Ansible waits for the module's output pipes to close)."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    for fd in sorted(int(name) for name in os.listdir("/proc/self/fd")):
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass  # the directory's own descriptor, already gone
    sys.stdout = sys.stderr = open(os.devnull, "w")


def _kill_hung_module(header):
    """SIGKILL the module of ``header`` if that PID is still the module (same start time)."""
    pid, start = header.get("pid"), header.get("pid_start")
    if pid and start is not None and process_start(pid) == start:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass  # gone meanwhile


def _watch(fd, guard, module_fd, execute_factory):
    """Wait until the module lets go of the journal ``fd`` (done, or dead) or, hung, is killed at the
    latest deadline; then roll back whatever the journal says is still applied."""
    del module_fd  # closed by _detach: the module's flock is on that open file; ours is ``fd``
    _detach(keep=(fd, guard))
    try:
        header, state = read(fd)
        deadline = state["boot_deadline"] or boot_clock()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break  # the module ended or died
            except BlockingIOError:
                if boot_clock() >= deadline:
                    header, state = read(fd)  # the module may have moved its deadline (its own rollback)
                    deadline = state["boot_deadline"] or deadline
                    if boot_clock() >= deadline:
                        _kill_hung_module(header or {})
                        _lock_within(fd, KILL_WAIT)  # its death frees the lock (not taken: act all the same)
                        break
                time.sleep(POLL)
        if os.fstat(fd).st_nlink == 0:
            return  # ended and removed (by the module, or a later run); a file at path now is another's
        header, state = read(fd)
        if header is None or state["end"] is not None:
            return
        errors = undo_applied(header, state, execute_factory(), fd)
        _append(fd, {"end": "rolled back by the watchdog" + (" (FAILED: %s)" % "; ".join(errors) if errors else "")})
    finally:
        os.close(fd)
        os.close(guard)
