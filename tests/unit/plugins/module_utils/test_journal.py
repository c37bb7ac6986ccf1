"""``_journal``, ``_watchdog`` and ``_transaction`` on plain data and a private directory: what is written,
what is read back, which namespace a journal belongs to. The watchdogs started here are real (forked,
re-executed under their own command line); their executor, ``recording_executor``, is imported by
them from this file and writes each undo to the file ``$JOURNAL_TEST_UNDONE`` names."""
import fcntl
import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils import _journal, _lock, _watchdog
from ansible_collections.lanbridge.core.plugins.module_utils._transaction import Transaction, step
from ansible_collections.lanbridge.core.plugins.module_utils._errors import JournalError


def steps():
    return [step("set", "set a", undo=[step("unset", "unset a", name="a")], name="a"),
            step("set", "set b", undo=[step("unset", "unset b", name="b")], name="b"),
            step("set", "set c", undo=[step("unset", "unset c", name="c")], name="c")]


def write(path, *events):
    with open(path, "w") as handle:
        for event in events:
            handle.write(json.dumps(event) + "\n")


def test_read_keeps_what_was_applied_and_ignores_a_torn_line(tmp_path):
    path = str(tmp_path / "j")
    write(path, {"journal": 1, "object": "bridge br0", "steps": steps()}, {"watchdog": 7}, {"applied": 1}, {"applied": 2})
    with open(path, "a") as handle:
        handle.write('{"appl')  # the process died in the middle of a line
    header, state = _journal.read(path)
    assert header["object"] == "bridge br0"
    assert state == {"applied": 2, "applying": 0, "undone": 0, "probing": False, "end": None, "watchdog": 7,
                     "refused": None, "boot_deadline": None}
    write(path, {"journal": 1, "steps": steps()}, {"applying": 3}, {"applied": 3}, {"probing": True}, {"undone": 1},
          {"end": "rolled back"})
    fd = os.open(path, os.O_RDONLY)
    try:
        assert _journal.read(fd)[1] == _journal.read(path)[1] == {
            "applied": 2, "applying": 3, "undone": 1, "probing": True, "end": "rolled back", "watchdog": None,
            "refused": None, "boot_deadline": None}
    finally:
        os.close(fd)


def test_undo_applied_undoes_newest_first_and_carries_on():
    done = []

    def execute(item):
        if item["args"]["name"] == "b":
            raise OSError(5, "b is stuck")
        done.append(item["text"])

    errors = _journal.undo_applied({"steps": steps()}, {"applied": 3}, execute)
    assert done == ["unset c", "unset a"] and errors == ["[Errno 5] b is stuck (undoing 'set b')"]


def test_the_step_in_doubt_is_undone_too_and_its_errors_ignored():
    """Killed after the kernel answered step 2 but before ``applied 2`` was written: 'set b' may
    have happened, so its undo runs (first); had it not happened, its undo's failure means nothing."""
    done = []

    def execute(item):
        done.append(item["text"])
        if item["args"]["name"] == "b":
            raise OSError(19, "no such device")

    assert _journal.undo_applied({"steps": steps()}, {"applied": 1, "applying": 2}, execute) == []
    assert done == ["unset b", "unset a"]
    done[:] = []
    assert _journal.undo_applied({"steps": steps()}, {"applied": 1, "applying": 1}, execute) == []
    assert done == ["unset a"]


class Recorder:
    def __init__(self):
        self.events = []

    def applying(self, count):
        self.events.append(("applying", count))

    def applied(self, count):
        self.events.append(("applied", count))

    def undone(self, count):
        self.events.append(("undone", count))


def test_a_transaction_writes_down_each_step_and_each_undo():
    log, journal = [], Recorder()
    tx = Transaction(lambda item: log.append(item["text"]), journal)
    tx.apply(steps()[:2])
    assert tx.applied() == "set a; set b" and tx.rollback() == []
    assert log == ["set a", "set b", "unset b", "unset a"]
    assert journal.events == [("applying", 1), ("applied", 1), ("applying", 2), ("applied", 2), ("undone", 1), ("undone", 1)]
    assert json.loads(json.dumps(steps())) == steps()  # plain data: the journal's format


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    path = str(tmp_path / "lanbridge")
    monkeypatch.setattr(_lock, "RUN_DIR", path)
    monkeypatch.setattr(_watchdog, "systemd_here", lambda: False)  # never a unit of this machine's systemd
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (HERE, os.environ.get("PYTHONPATH")) if p))
    return _lock.run_dir(path)


HERE = os.path.dirname(os.path.abspath(__file__))


def recording_executor():
    """The watchdogs' executor here: each step's text, one a line, to ``$JOURNAL_TEST_UNDONE``."""
    def execute(item):
        with open(os.environ["JOURNAL_TEST_UNDONE"], "a") as handle:
            handle.write(item["text"] + "\n")
    return execute


@pytest.fixture
def undone(tmp_path, monkeypatch):
    path = str(tmp_path / "undone")
    monkeypatch.setenv("JOURNAL_TEST_UNDONE", path)
    return path


def _hold_then(path, seconds, event=None):
    """A child process that holds the watchdog's lock of journal ``path`` (a watchdog at work) for
    ``seconds``, then appends ``event`` to the journal; its PID."""
    pid = os.fork()
    if pid:
        return pid
    try:
        guard = os.open(path + ".watchdog", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(guard, fcntl.LOCK_EX)
        os.write(guard, b"locked\n")
        time.sleep(seconds)
        if event:
            with open(path, "a") as handle:
                handle.write(json.dumps(event) + "\n")
    finally:
        os._exit(0)


def _until_locked(path):
    for _attempt in range(200):
        if os.path.exists(path + ".watchdog") and "locked" in open(path + ".watchdog").read():
            return
        time.sleep(0.01)
    raise AssertionError("the child never took the lock")


def test_recover_waits_for_a_watchdog_still_at_work(run_dir):
    """The module died, so its object locks came free, but its watchdog still holds the journal while
    it undoes: the next run waits for it instead of planning against a half-undone host."""
    path = os.path.join(run_dir, "journal")
    write(path, {"journal": 1, "object": "bridge br0", "pid": 1, "deadline": time.time() + 5, "steps": steps()},
          {"applied": 2})
    child = _hold_then(path, 0.5, {"end": "rolled back by the watchdog"})
    try:
        _until_locked(path)
        calls = []
        found = _journal.recover(path, lambda: calls.append)
        assert found and "its watchdog rolled it back (rolled back by the watchdog)" in found, found
        assert calls == [] and not os.path.exists(path)
    finally:
        os.waitpid(child, 0)


def test_recover_gives_up_on_a_watchdog_that_never_lets_go(run_dir, monkeypatch):
    monkeypatch.setattr(_journal, "RECOVER_MARGIN", 0.3)
    path = os.path.join(run_dir, "journal")
    write(path, {"journal": 1, "object": "bridge br0", "pid": 1, "boot_deadline": _journal.boot_clock() - 60,
                 "steps": steps()}, {"watchdog": 4242}, {"applied": 2})
    before = open(path).read()
    child = _hold_then(path, 3)
    try:
        _until_locked(path)
        with pytest.raises(JournalError, match=r"still held by its watchdog \(PID 4242\)"):
            _journal.recover(path, lambda: None)
        assert open(path).read() == before
    finally:
        os.kill(child, 9)
        os.waitpid(child, 0)


def test_a_journal_is_never_overwritten(run_dir):
    path = os.path.join(run_dir, "journal")
    write(path, {"journal": 1, "object": "bridge br0", "steps": steps()}, {"applied": 1})
    before = open(path).read()
    with pytest.raises(JournalError, match="is still there"):
        _journal.Journal.begin(path, "bridge br0", steps(), 5, "none:none")
    assert open(path).read() == before


def test_a_watchdog_never_acts_on_the_next_runs_journal(run_dir, undone):
    """Run A ends (its journal removed) and run B starts a journal at the same path at once: A's
    watchdog, which wakes up after that, must leave B's steps alone."""
    path = os.path.join(run_dir, "journal")
    first = _watchdog.watched(path, "bridge br0", steps(), 30, recording_executor)
    first.applied(3)
    first.end("confirmed")
    second = _watchdog.watched(path, "bridge br0", steps(), 30, recording_executor)
    second.applied(2)
    time.sleep(0.5)  # A's watchdog polls every 0.05 s
    assert not os.path.exists(undone)
    second.end("confirmed")
    time.sleep(0.2)
    assert not os.path.exists(undone)


def test_a_watchdog_rolls_back_when_the_module_lets_go_without_an_end(run_dir, undone):
    """The other side of the test above: the watchdog does act on its own unfinished journal."""
    path = os.path.join(run_dir, "journal")
    journal = _watchdog.watched(path, "bridge br0", steps(), 30, recording_executor)
    journal.applying(1)
    journal.applied(1)
    journal.applying(2)
    os.close(journal.fd)  # as if the module died here: the lock comes free, no end is written
    for _attempt in range(100):
        if os.path.exists(undone) and _journal.read(path)[1]["end"]:
            break
        time.sleep(0.05)
    assert open(undone).read().split("\n")[:2] == ["unset b", "unset a"]
    assert _journal.read(path)[1]["end"] == "rolled back by the watchdog"


def _wait_child(pid, seconds):
    for _attempt in range(int(seconds / 0.05)):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError("the child did not end within %s s" % seconds)


def test_a_hung_module_is_killed_and_never_applies_after_its_undo(run_dir, undone):
    """Past its deadline the module is killed before the watchdog undoes (it cannot go on applying
    behind the undo), and every undo is written down."""
    path = os.path.join(run_dir, "journal")
    child = os.fork()
    if not child:
        try:
            journal = _watchdog.watched(path, "bridge br0", steps(), 1.5, recording_executor)
            for count in (1, 2):
                journal.applying(count)
                journal.applied(count)
            time.sleep(30)  # hung, its lock held
            journal.applying(3)  # never reached
        finally:
            os._exit(3)
    status = _wait_child(child, 10)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9
    for _attempt in range(100):
        if _journal.read(path)[1]["end"]:
            break
        time.sleep(0.05)
    header, state = _journal.read(path)
    assert state["end"] == "rolled back by the watchdog" and state["applied"] == 0 and state["undone"] == 2
    assert open(undone).read().split() == ["unset", "b", "unset", "a"]
    assert header["pid"] == child


def test_the_modules_own_rollback_moves_the_deadline(run_dir, undone):
    """A module that rolls back itself (here slowly, past its first deadline) is left alone."""
    path = os.path.join(run_dir, "journal")
    child = os.fork()
    if not child:
        code = 1
        try:
            journal = _watchdog.watched(path, "bridge br0", steps(), 1.0, recording_executor)
            journal.applied(2)
            journal.rolling_back(5)
            time.sleep(1.0)  # a slow rollback (nmcli, netplan apply)
            journal.undone(1)
            journal.undone(1)
            journal.end("rolled back")
            code = 0
        finally:
            os._exit(code)
    status = _wait_child(child, 10)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    time.sleep(0.3)
    assert not os.path.exists(undone) and not os.path.exists(path)


def test_a_rollback_cut_short_is_taken_up_where_it_stopped(run_dir):
    """The watchdog was killed after undoing step 3 of 3: the next run undoes 2 and 1 only, and the
    step in doubt (none: an undo was recorded) is not undone again."""
    path = os.path.join(run_dir, "journal")
    write(path, {"journal": 1, "object": "bridge br0", "pid": 1, "steps": steps()}, {"applying": 3}, {"applied": 3},
          {"applying": 4}, {"undone": 1})
    done = []
    found = _journal.recover(path, lambda: lambda item: done.append(item["text"]))
    assert done == ["unset b", "unset a"] and "left 2 step(s) applied and no watchdog" in found, found


ME = {"inode": 4026532290, "cookie": 4711, "boot_id": "b-1"}


@pytest.mark.parametrize("theirs, in_init, why", [
    (dict(ME), False, None),
    (None, False, None),  # a journal from before namespaces were recorded, found at this namespace's path
    (dict(ME, cookie=4000), False, "its network namespace (cookie 4000) is gone; this one (cookie 4711) reuses its inode"),
    (dict(ME, boot_id="b-0"), False, "it was written before a reboot (boot ID b-0)"),
    (dict(ME, inode=1), False, "it belongs to another network namespace (inode 1)"),
    (dict(ME, cookie=None), True, None),  # no cookie: init's namespace lives as long as the boot
    (dict(ME, cookie=None), False, "this kernel gives no namespace cookie"),
])
def test_a_journal_is_this_namespaces_only_when_its_identity_says_so(monkeypatch, theirs, in_init, why):
    monkeypatch.setattr(_journal, "in_init_netns", lambda: in_init)
    found = _journal.other_namespace({"netns": theirs} if theirs else {}, ME)
    assert found == why if why is None else found.startswith(why), found


def test_file_names_carry_inode_and_cookie():
    assert _journal.file_name("br0", ME) == "journal-4026532290-4711-br0.json"
    assert _journal.file_name("a/b c", dict(ME, cookie=None)) == "journal-4026532290-0-a_b_c.json"
    assert _journal.object_name("/run/lanbridge/journal-4026532290-4711-br-lan.json") == "br-lan"
    assert _journal.object_name("/run/lanbridge/journal") is None
    assert _watchdog.unit_name("/run/lanbridge/journal-1-2-br-lan.0.json") == "lanbridge-rollback-br\\x2dlan.0"


def test_the_journal_of_a_gone_namespace_is_discarded_never_applied(run_dir):
    """A journal with this namespace's inode but another cookie: its namespace is gone (the kernel
    handed the inode out again); check mode says so and keeps it, a real run removes it unapplied."""
    me = _journal.netns_instance()
    gone = dict(me, cookie=(me["cookie"] or 0) + 1000)
    theirs = os.path.join(run_dir, _journal.file_name("br0", gone))
    ours = os.path.join(run_dir, _journal.file_name("br0"))
    other_bridge = os.path.join(run_dir, _journal.file_name("br1", gone))
    for path in (theirs, other_bridge):
        write(path, {"journal": 1, "object": "bridge br0", "pid": 1, "netns": gone, "steps": steps()}, {"applied": 3})
    calls = []
    found = _journal.recover(ours, lambda: calls.append, check_mode=True)
    assert "is not this namespace's (its network namespace (cookie %d) is gone" % gone["cookie"] in found, found
    assert os.path.exists(theirs)
    found = _journal.recover(ours, lambda: calls.append)
    assert found.startswith("the journal %s of an earlier run on bridge br0 (PID 1, " % theirs), found
    assert "was discarded, never applied: its network namespace (cookie %d) is gone" % gone["cookie"] in found
    assert calls == [] and not os.path.exists(theirs) and os.path.exists(other_bridge)  # br1's is br1's run's


def test_a_journal_that_cannot_be_told_ours_is_discarded(run_dir, monkeypatch):
    """No cookie (a kernel before 5.14) outside init's namespace: never applied, removed, said."""
    monkeypatch.setattr(_journal, "in_init_netns", lambda: False)
    me = dict(_journal.netns_instance(), cookie=None)
    monkeypatch.setattr(_journal, "netns_instance", lambda: me)
    path = os.path.join(run_dir, _journal.file_name("br0"))
    write(path, {"journal": 1, "object": "bridge br0", "pid": 1, "netns": me, "steps": steps()}, {"applied": 2})
    calls = []
    found = _journal.recover(path, lambda: calls.append)
    assert "was discarded, never applied: this kernel gives no namespace cookie" in found, found
    assert calls == [] and not os.path.exists(path)


def test_a_watchdog_that_does_not_start_fails_the_run_before_any_change(run_dir, monkeypatch):
    monkeypatch.setattr(_watchdog, "PROGRAM", "no_such_watchdog_module")
    path = os.path.join(run_dir, "journal-1-2-br0.json")
    with pytest.raises(JournalError, match=r"bridge br0: its watchdog \(PID \d+\) exited before it took the journal "
                                           r".*; nothing was changed"):
        _watchdog.watched(path, "bridge br0", steps(), 30, recording_executor)
    assert not os.path.exists(path)


def test_where_systemd_is_init_the_watchdog_is_a_transient_unit(run_dir, monkeypatch):
    """The unit's command line (recorded, not run: this machine's systemd is never asked), and a
    failing ``systemd-run`` fails the run before any change."""
    calls = []

    def run(argv, **_kwargs):
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 1, "", "Failed to connect to bus")

    monkeypatch.setattr(_watchdog, "systemd_here", lambda: True)
    monkeypatch.setattr(_watchdog.shutil, "which", lambda name: "/usr/bin/" + name)
    monkeypatch.setattr(_watchdog.subprocess, "run", run)
    path = os.path.join(run_dir, "journal-1-2-br0.json")
    with pytest.raises(JournalError, match="its watchdog did not start \\(systemd-run lanbridge-rollback-br0 failed: "
                                           "Failed to connect to bus\\); nothing was changed"):
        _watchdog.watched(path, "bridge br0", steps(), 30, recording_executor)
    unit = calls[0]
    assert unit[:5] == ["/usr/bin/systemd-run", "--unit", "lanbridge-rollback-br0", "--collect", "--quiet"]
    assert unit[unit.index("--") + 1:][:4] == [sys.executable, "-m", _watchdog.PROGRAM, path]
    assert not os.path.exists(path)
