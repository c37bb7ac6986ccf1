# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The watchdog of a journal (``_journal``): a program of its own that undoes the applied steps when
the module dies or hangs, started before the first step.

``watched(path, what, steps, seconds, execute_factory)`` -> ``_journal.Journal``: writes the journal,
    starts its watchdog and waits until the watchdog holds it (its PID in the journal). A watchdog
    that does not start fails the run before any change (``JournalError``; the journal is removed).
    ``execute_factory`` is a module-level function (the watchdog imports it by its name).

Where the watchdog runs:

- **systemd is PID 1 and the module runs in init's network namespace**: a transient system service,
  ``systemd-run --unit lanbridge-rollback-NAME --collect``: outside the caller's session and cgroup
  (``systemctl stop session-N.scope``, ``loginctl terminate-session``, logind's
  ``KillUserProcesses=yes`` and an SSH service's stop do not reach it), listed by ``systemctl`` under
  its own name, its lines in the system journal (``journalctl -u lanbridge-rollback-NAME``).
- **elsewhere** (no systemd, or another namespace, where a system service would act in the wrong
  one): a double fork (a session of its own, adopted by init) that execs
  ``python -m ansible_collections.lanbridge.core.plugins.module_utils._watchdog PATH ID``: its own
  command line, so a ``pkill -f`` aimed at the module does not match it.

Either way the program (``main``) imports the collection code it needs from the module's own payload
(``PYTHONPATH``) before it says it is ready, so the payload may go once the module exits. It opens
the journal by path, checks that it is the one of ``ID`` (a late start never takes another run's)
and of this namespace (``_journal.other_namespace``), holds ``PATH.watchdog`` locked for its whole life
(waiting ``WATCHDOG_START`` for an earlier watchdog of the same path to exit), writes its PID, and
then waits until the module lets go of the journal (done, or dead) or, hung, is killed at the
latest deadline (after checking by its start time that the PID is still the module's), so a hung
module never goes on applying after its undo. A journal without an ``end`` is then rolled back,
newest first, through the executor the header names, and ended ``rolled back by the watchdog``.
SIGHUP and SIGINT are ignored. The watchdog reads the journal through its own descriptor, never
again by path: once the module (or a later run) has ended and removed it, a new journal at the same
path is another run's.
"""

import fcntl
import importlib
import os
import shutil
import signal
import subprocess
import sys
import time

from ansible_collections.lanbridge.core.plugins.module_utils import _journal
from ansible_collections.lanbridge.core.plugins.module_utils._errors import JournalError
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netns import in_init_netns
from ansible_collections.lanbridge.core.plugins.module_utils._lock import open_private

PROGRAM = "ansible_collections.lanbridge.core.plugins.module_utils._watchdog"
UNIT_PREFIX = "lanbridge-rollback-"
KILL_WAIT = 30.0  # seconds the watchdog waits for a killed module's lock to come free
WATCHDOG_START = 10.0  # seconds a new watchdog waits for an earlier one of the same journal path to exit
READY_WAIT = WATCHDOG_START + 20.0  # seconds the module waits for its watchdog (a Python start, imports)


def _say(text):
    sys.stdout.write(text + "\n")  # the system journal for a unit, /dev/null for a forked watchdog
    sys.stdout.flush()


def _payload_root():
    """The ``sys.path`` entry this collection was imported from (a directory or the module's payload zip)."""
    path = os.path.abspath(__file__)
    for _level in PROGRAM.split("."):
        path = os.path.dirname(path)
    return path


def unit_name(path):
    """``lanbridge-rollback-NAME`` for the journal at ``path`` (NAME escaped as ``systemd-escape`` does)."""
    name = _journal.object_name(path) or "journal"
    return UNIT_PREFIX + "".join(c if c.isalnum() and c.isascii() or c in "_." else "\\x%02x" % ord(c)
                                 for c in name)


def systemd_here():
    """Whether systemd is PID 1 (``sd_booted``) and this process is in init's network namespace."""
    return os.path.isdir("/run/systemd/system") and in_init_netns()


def _command(journal):
    return [sys.executable, "-m", PROGRAM, journal.path, journal.header["id"]]


def _run_unit(journal):
    """Start the watchdog as a transient service; why it did not start, or None."""
    tool, unit = shutil.which("systemd-run"), unit_name(journal.path)
    if not tool:
        return "systemd is PID 1 but systemd-run is not installed"
    argv = [tool, "--unit", unit, "--collect", "--quiet", "--description",
            "lanbridge rollback of %s" % journal.header["object"], "--setenv", "PYTHONPATH=" + _payload_root(),
            "--"] + _command(journal)
    until = _journal.boot_clock() + WATCHDOG_START
    while True:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False)
        if proc.returncode == 0:
            return None
        loaded = subprocess.run(["systemctl", "show", "--property", "LoadState", "--value", unit + ".service"],
                                capture_output=True, text=True, check=False).stdout.strip()
        if loaded != "loaded" or _journal.boot_clock() >= until:  # else: an earlier run's unit, still exiting
            return "systemd-run %s failed: %s" % (unit, (proc.stderr or proc.stdout).strip() or proc.returncode)
        time.sleep(_journal.POLL * 4)


def _fork_exec(journal):
    """Double fork (own session, adopted by init), then exec the watchdog program; its PID."""
    read_end, write_end = os.pipe()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (_payload_root(), os.environ.get("PYTHONPATH")) if p))
    argv = _command(journal)
    first = os.fork()
    if first:
        os.close(write_end)
        os.waitpid(first, 0)
        data = os.read(read_end, 32)
        os.close(read_end)
        return int(data or 0)
    try:  # first child
        os.close(read_end)
        os.setsid()
        second = os.fork()
        if second:
            os.write(write_end, str(second).encode("ascii"))
            os._exit(0)  # pylint: disable=protected-access
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        for fd in sorted(int(name) for name in os.listdir("/proc/self/fd")):
            if fd > 2:  # no descriptor of the module: Ansible waits for its pipes to close
                try:
                    os.close(fd)
                except OSError:
                    pass  # the directory's own descriptor, already gone
        os.execve(argv[0], argv, env)
    finally:
        os._exit(127)  # pylint: disable=protected-access


def watched(path, what, steps, seconds, execute_factory):
    executor = "%s:%s" % (execute_factory.__module__, execute_factory.__name__)
    journal = _journal.Journal.begin(path, what, steps, seconds, executor)
    forked = None
    if systemd_here():
        failed = _run_unit(journal)
        if failed:
            journal.abandon("its watchdog did not start (%s)" % failed)
    else:
        forked = _fork_exec(journal)
    until = _journal.boot_clock() + READY_WAIT
    while True:
        state = journal.state()
        if state["watchdog"]:
            return journal
        if state["watchdog"] is not None:
            journal.abandon("its watchdog refused the journal %s (%s)" % (path, state["refused"]))
        if forked and _journal.process_start(forked) is None:
            journal.abandon("its watchdog (PID %s) exited before it took the journal %s" % (forked, path))
        if _journal.boot_clock() >= until:
            journal.abandon("its watchdog did not start within %g s (%s)" % (
                READY_WAIT, unit_name(path) + ".service" if forked is None else "PID %s" % forked))
        time.sleep(_journal.POLL)


def _kill_hung_module(header):
    """SIGKILL the module of ``header`` if that PID is still the module (same start time)."""
    pid, start = header.get("pid"), header.get("pid_start")
    if pid and start is not None and _journal.process_start(pid) == start:
        _say("the module (PID %d) hung past its deadline: killing it" % pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass  # gone meanwhile


def _wait_for_module(fd):
    """Until the module lets go of the journal ``fd`` (done, or dead) or, hung at the latest
    deadline, is killed."""
    header, state = _journal.read(fd)
    deadline = state["boot_deadline"] or _journal.boot_clock()
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return  # the module ended or died
        except BlockingIOError:
            if _journal.boot_clock() >= deadline:
                header, state = _journal.read(fd)  # the module may have moved its deadline (its own rollback)
                deadline = state["boot_deadline"] or deadline
                if _journal.boot_clock() >= deadline:
                    _kill_hung_module(header or {})
                    _journal.lock_within(fd, KILL_WAIT)  # its death frees the lock (not taken: act all the same)
                    return
            time.sleep(_journal.POLL)


def _watch(fd, factory):
    _wait_for_module(fd)
    if os.fstat(fd).st_nlink == 0:
        _say("the module ended its journal")
        return  # ended and removed (by the module, or a later run); a file at path now is another's
    header, state = _journal.read(fd)
    if header is None or state["end"] is not None:
        _say("the journal ended: %s" % (state["end"] if header else "empty"))
        return
    _say("the module let go of its journal without an end: undoing %d step(s)" % state["applied"])
    errors = _journal.undo_applied(header, state, factory(), fd)
    end = "rolled back by the watchdog" + (" (FAILED: %s)" % "; ".join(errors) if errors else "")
    _journal.append(fd, {"end": end})
    _say(end)


def _refuse(fd, why):
    _journal.append(fd, {"watchdog": 0, "refused": why})
    _say("refused: " + why)


def main(path, journal_id):
    """The watchdog program: take the journal at ``path`` (of run ``journal_id``), watch it, undo it."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        fd = open_private(path, os.O_RDWR | os.O_APPEND)
    except (OSError, JournalError) as exc:
        _say("no journal %s: %s" % (path, exc))
        return
    header = _journal.read(fd)[0] or {}
    if header.get("id") != journal_id:
        _say("the journal %s is another run's, not %s's" % (path, journal_id))
        return
    why = _journal.other_namespace(header)
    if why:
        _refuse(fd, "not this namespace's journal: " + why)
        return
    try:
        module, _sep, function = header["executor"].partition(":")
        factory = getattr(importlib.import_module(module), function)
        guard = open_private(path + ".watchdog", os.O_RDWR | os.O_CREAT)
    except Exception as exc:  # pylint: disable=broad-except  # said in the journal: the module fails, unchanged
        _refuse(fd, "cannot start (%s): %s" % (header.get("executor"), exc))
        return
    if not _journal.lock_within(guard, WATCHDOG_START):
        _refuse(fd, "an earlier watchdog of %s still runs" % path)
        return
    _journal.append(fd, {"watchdog": os.getpid()})
    _say("watching %s for %s (module PID %s)" % (path, header.get("object"), header.get("pid")))
    _watch(fd, factory)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
