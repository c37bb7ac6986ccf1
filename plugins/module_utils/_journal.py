# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A rollback that outlives the module, in the spirit of ``netplan try``: the change's steps are
written to a journal on disk before the first one is applied, and a watchdog (``_watchdog``) undoes
the applied ones unless the module confirms success.

The journal is a file in ``_lock.run_dir()`` (``/run/lanbridge``, root only), one line of JSON per
event, appended as they happen (a line cut short by a crash is ignored):

    {"journal": 1, "id": "9f3c...", "object": "bridge br0", "pid": 4242, "pid_start": 81234,
     "netns": {"inode": 4026532290, "cookie": 4711, "boot_id": "78007210-..."},
     "executor": "ansible_collections....apply:fresh_executor", "deadline": 1764632400.5,
     "boot_deadline": 5123.4, "steps": [plain-data _transaction steps]}
    {"watchdog": 4250}   (or {"watchdog": 0, "refused": "why"})
    {"applying": 1}  {"applied": 1}  {"applying": 2}  {"applied": 2}  {"probing": true}
    {"deadline": ..., "boot_deadline": ...}  {"undone": 1}  {"undone": 1}  {"end": "rolled back"}

A step is announced (``applying``) before it runs and recorded (``applied``) after: a process killed
between the kernel's answer and the record leaves one step in doubt, and its undo is run too, its
errors ignored (undoing a step that did not happen fails harmlessly or changes nothing). Every undo
is recorded (``undone``) by whoever runs it (the module, its watchdog, a later run), so a rollback
cut short is taken up where it stopped, never done twice. Deadlines count on ``CLOCK_BOOTTIME``
(``boot_deadline``; ``deadline`` is the same moment on the wall clock, for people), which a clock
step when the network comes back does not move.

**A journal belongs to one network namespace.** Its header names the namespace it was written in
(``_kernel.netns.netns_instance()``: inode, cookie, boot ID) and its file name carries the inode
and the cookie (``file_name(name)``: ``journal-INODE-COOKIE-NAME.json``), so a namespace that got
the inode of a deleted one never opens the deleted one's journal as its own. ``other_namespace(header)``
says why a journal is not this namespace's (None: it is). Such a journal is never applied: the
kernel hands an inode out again only once its namespace is gone, so a journal of this inode with
another cookie (or of another boot) belongs to a namespace that is gone and is discarded, said in
the run's warnings and logged (syslog); journals of other inodes are left to their namespaces.
Without the cookie (kernels before 5.14: cookie None) a journal is this namespace's only in init's
namespace, which lives as long as the boot (inode and boot ID name it); elsewhere it is discarded
unapplied, because a namespace that reused the inode could not be told from the one that wrote it.

``Journal.begin(path, what, steps, seconds, executor)`` writes the first line and returns the
journal (a journal already at ``path`` is never overwritten: ``JournalError``); ``executor`` names
the function (``module:function``) that gives the watchdog and a later run an ``execute(step)``.
The module then calls ``applying(n)`` and ``applied(n)`` around each step, ``probing()``,
``rolling_back(seconds)`` (a new deadline) and ``undone(n)`` during its own rollback, and
``end(outcome)`` (``confirmed`` / ``rolled back``) last, or ``abandon(why)`` when its watchdog did
not start. The module holds an ``flock`` on the journal for its lifetime, so the watchdog learns of
its death at once (SIGKILL, the OOM killer, a dropped SSH session): the lock comes free.

The watchdog holds ``PATH.watchdog`` locked for its whole life. ``recover(path, execute_factory)``
is what a later run calls before planning: it discards the journals of gone namespaces, then waits
for that lock (a watchdog still at work: the module's object locks came free when it died, the
watchdog's did not), up to the journal's deadline plus ``RECOVER_MARGIN``, so it never undoes
beside a watchdog. A journal of this namespace without an ``end`` (the watchdog died too) is then
rolled back there and then; a journal that the watchdog ended is read and removed. It returns a
sentence for the module's warnings, or None.
"""

import fcntl
import json
import os
import re
import syslog
import time
import uuid

from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netns import in_init_netns, netns_instance
from ansible_collections.lanbridge.core.plugins.module_utils._lock import open_private
from ansible_collections.lanbridge.core.plugins.module_utils._transaction import Transaction
from ansible_collections.lanbridge.core.plugins.module_utils._errors import JournalError

POLL = 0.05
RECOVER_MARGIN = 30.0  # seconds past a journal's deadline that a later run waits for its watchdog
_FILE = re.compile(r"^journal-(\d+)-(\d+)-(.+)\.json$")


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
    ``probing``, ``end`` (None while open), ``watchdog`` (its PID; 0 when it refused, ``refused``
    saying why) and ``boot_deadline`` (the latest)."""
    if isinstance(path_or_fd, int):
        data = _read_fd(path_or_fd)
    else:
        with open(path_or_fd, "rb") as handle:
            data = handle.read()
    header, state = None, {"applied": 0, "applying": 0, "undone": 0, "probing": False, "end": None,
                           "watchdog": None, "refused": None, "boot_deadline": None}
    for line in data.decode("utf-8", "replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash
        if header is None:
            header = event
            state["boot_deadline"] = event.get("boot_deadline")
        elif "watchdog" in event:
            state["watchdog"], state["refused"] = event["watchdog"], event.get("refused")
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
        append(self.fd, {"undone": count})


def undo_applied(header, state, execute, fd=None):
    """Undo the steps the journal says are applied, newest first (the one in doubt, announced but not
    recorded and not yet undone by anyone, first and with its errors ignored), through the one
    transaction engine, each undo recorded in the journal ``fd``; the errors (empty: all undone)."""
    steps, applied = header["steps"], state["applied"]
    if state.get("applying", 0) == applied + 1 and not state.get("undone") and applied < len(steps):
        Transaction.resumed(execute, [steps[applied]]).rollback()  # in doubt: its errors say nothing
    return Transaction.resumed(execute, steps[:applied], _Record(fd) if fd is not None else None).rollback()


def append(fd, event):
    os.write(fd, (json.dumps(event, sort_keys=True) + "\n").encode("utf-8"))


def _deadlines(seconds):
    return {"deadline": time.time() + seconds, "boot_deadline": boot_clock() + seconds}


def process_start(pid):
    """The start time of process ``pid`` (clock ticks since boot), or None when there is none (or
    only its zombie)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in (b"Z", b"X"):
        return None
    return int(fields[19])  # field 22 of stat(5); the first two are before the split


def file_name(name, identity=None):
    """The journal's file name for object ``name`` in this namespace (or the one ``identity`` names)."""
    identity = identity or netns_instance()
    return "journal-%d-%d-%s.json" % (identity["inode"], identity["cookie"] or 0, re.sub(r"[^A-Za-z0-9_.-]", "_", name))


def object_name(path):
    """The object part of a journal's file name (``br0``), or None for a name ``file_name`` did not make."""
    match = _FILE.match(os.path.basename(path))
    return match.group(3) if match else None


def other_namespace(header, identity=None):
    """Why the journal of ``header`` is not this namespace's, or None when it is (a header without
    ``netns``, from before namespaces were recorded, was found at this namespace's path: it is)."""
    theirs, ours = header.get("netns"), identity or netns_instance()
    if not theirs:
        return None
    if theirs.get("boot_id") != ours["boot_id"]:
        return "it was written before a reboot (boot ID %s)" % theirs.get("boot_id")
    if theirs.get("inode") != ours["inode"]:
        return "it belongs to another network namespace (inode %s)" % theirs.get("inode")
    if theirs.get("cookie") is None or ours["cookie"] is None:
        if in_init_netns():
            return None  # init's namespace lives as long as the boot: inode and boot ID name it
        return ("this kernel gives no namespace cookie, so the namespace that wrote it (inode %s) cannot be "
                "told from this one, which may have reused its inode" % ours["inode"])
    if theirs["cookie"] != ours["cookie"]:
        return ("its network namespace (cookie %s) is gone; this one (cookie %s) reuses its inode %s"
                % (theirs["cookie"], ours["cookie"], ours["inode"]))
    return None


class Journal:
    """The module's side of one journal."""

    def __init__(self, path, fd, header):
        self.path = path
        self.fd = fd
        self.header = header

    @classmethod
    def begin(cls, path, what, steps, seconds, executor):
        """Write the journal of ``steps``; the module has ``seconds`` to end it."""
        try:
            fd = open_private(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_APPEND)
        except FileExistsError:
            raise JournalError("%s: the journal %s of an earlier run is still there (its rollback is not "
                               "finished); nothing was changed, run again" % (what, path)) from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        header = dict({"journal": 1, "id": uuid.uuid4().hex, "object": what, "pid": os.getpid(),
                       "pid_start": process_start(os.getpid()), "netns": netns_instance(), "executor": executor,
                       "started": time.time(), "steps": steps}, **_deadlines(seconds))
        append(fd, header)
        return cls(path, fd, header)

    def state(self):
        return read(self.fd)[1]

    def applying(self, count):
        append(self.fd, {"applying": count})

    def applied(self, count):
        append(self.fd, {"applied": count})

    def probing(self):
        append(self.fd, {"probing": True})

    def rolling_back(self, seconds):
        """The module undoes its change itself: the watchdog waits ``seconds`` more before it steps in."""
        append(self.fd, _deadlines(seconds))

    def undone(self, count):
        append(self.fd, {"undone": count})

    def taken_over(self):
        """How the watchdog ended the journal (the module hung past its deadline and could not be
        killed), or None."""
        return self.state()["end"]

    def end(self, outcome):
        append(self.fd, {"end": outcome})
        try:
            os.unlink(self.path)
        finally:
            os.close(self.fd)
            self.fd = None

    def abandon(self, why):
        """Nothing was applied: end and remove the journal, and raise ``JournalError`` saying ``why``."""
        self.end("abandoned: " + why)
        raise JournalError("%s: %s; nothing was changed" % (self.header["object"], why))


def lock_within(fd, seconds, clock=boot_clock):
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


def _describe(header):
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(header.get("started", 0)))
    return "an earlier run on %s (PID %s, %s)" % (header.get("object"), header.get("pid"), when)


def _discard(path, header, why, check_mode):
    """Remove the journal at ``path`` (and its watchdog's lock file) unapplied; the sentence, also logged."""
    if check_mode:
        return "the journal %s of %s is not this namespace's (%s); a real run discards it unapplied" % (
            path, _describe(header), why)
    for name in (path, path + ".watchdog"):
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass
    sentence = "the journal %s of %s was discarded, never applied: %s" % (path, _describe(header), why)
    syslog.syslog(syslog.LOG_WARNING, "lanbridge: " + sentence)
    return sentence


def _gone(path):
    """``(path, header, why)`` of every journal of this object with this path's inode but another
    cookie: its namespace is gone (the kernel gave the inode out again)."""
    match = _FILE.match(os.path.basename(path))
    if not match:
        return []
    directory, found = os.path.dirname(path) or ".", []
    for name in sorted(os.listdir(directory)):
        other = _FILE.match(name)
        if not other or other.group(1, 3) != match.group(1, 3) or other.group(2) == match.group(2):
            continue
        try:
            header = read(os.path.join(directory, name))[0] or {}
        except FileNotFoundError:
            continue
        why = other_namespace(header) or "its network namespace (cookie %s) is gone; this one reuses its inode %s" % (
            other.group(2), match.group(1))
        found.append((os.path.join(directory, name), header, why))
    return found


def recover(path, execute_factory, check_mode=False):
    """Finish what an earlier run left in ``path`` after discarding the journals of gone namespaces
    (``_gone``); a sentence saying what was found, or None. In check mode nothing is rolled back or
    removed; the sentence says what a real run will do."""
    notes = [_discard(other, header, why, check_mode) for other, header, why in _gone(path)]
    found = _recover_own(path, execute_factory, check_mode)
    return " ".join(notes + ([found] if found else [])) or None


def _recover_own(path, execute_factory, check_mode):
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
        if not (lock_within(guard, wait) and lock_within(fd, RECOVER_MARGIN)):
            raise JournalError("the journal %s of an earlier run (PID %s) is still held by its watchdog (PID %s) "
                               "past its deadline; nothing was changed" % (path, header.get("pid"), state["watchdog"]))
        if os.fstat(fd).st_nlink == 0:
            return None  # ended and removed while we waited
        header, state = read(fd)
        if header is None:
            if not check_mode:
                os.unlink(path)
            return None
        what = _describe(header)
        if state["end"] is not None:
            if not check_mode:
                os.unlink(path)
            if "watchdog" not in state["end"]:
                return "%s ended (%s) but left its journal behind; removed" % (what, state["end"])
            return "%s did not finish; its watchdog rolled it back (%s)" % (what, state["end"])
        why = other_namespace(header)
        if why:
            return _discard(path, header, why, check_mode)
        if check_mode:
            return "%s left %d step(s) applied and no watchdog; a real run rolls them back first (check mode " \
                   "planned against the host as it is now)" % (what, state["applied"])
        errors = undo_applied(header, state, execute_factory(), fd)
        append(fd, {"end": "rolled back by the next run"})
        os.unlink(path)
        if errors:
            return "%s left %d step(s) applied; rolling them back FAILED: %s" % (what, state["applied"], "; ".join(errors))
        return "%s left %d step(s) applied and no watchdog; they were rolled back before this run" % (
            what, state["applied"])
    finally:
        if guard is not None:
            os.close(guard)
        os.close(fd)
