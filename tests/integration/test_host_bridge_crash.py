"""host_bridge when things go wrong around it, on a real kernel, only in namespaces the tests create:
the module killed half-way (the watchdog rolls back), a ``pkill -f host_bridge`` (the watchdog, under
its own command line, survives it), a journal nobody finished (the next run rolls it back), a journal
of a namespace that is gone (never applied in the one that reuses its inode), bridges that are not
ours (refused), and its locks (serialize, refuse planted files). A module that must stop between two
steps runs through ``_paused_module.py`` (it pauses after the N-th journaled step).
"""
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from helpers import IN_NETNS, assert_same, sh, snapshot, wait_for, warnings_of
from helpers import ping as pings
from host_bridge_lan import HOST_IP, build

PAUSED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_paused_module.py")

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")

RUN_DIR = "/run/lanbridge"
ARGS = {"name": "br0", "uplink": "em1"}


@pytest.fixture
def lan(netns_factory):
    built = build(netns_factory)
    yield built
    remove_journals(built.host)


def remove_journals(ns):
    """Remove what a test left of ``ns``'s journals (a namespace that reuses the inode would be told)."""
    prefix = "journal-%d-%d-" % (identity(ns)["inode"], identity(ns)["cookie"])
    for name in os.listdir(RUN_DIR) if os.path.isdir(RUN_DIR) else ():
        if name.startswith(prefix):
            os.unlink(os.path.join(RUN_DIR, name))


_IDENTITY = "import json, os, socket, struct; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); " \
            "print(json.dumps({'inode': os.stat('/proc/self/ns/net').st_ino, " \
            "'cookie': struct.unpack('=Q', s.getsockopt(socket.SOL_SOCKET, 71, 8))[0]}))"


def identity(ns):
    """``{inode, cookie}`` of ``ns`` (``SO_NETNS_COOKIE`` of a socket made inside it)."""
    return json.loads(ns.exec(sys.executable, "-c", _IDENTITY))


def journal_path(ns, name="br0"):
    return os.path.join(RUN_DIR, "journal-%d-%d-%s.json" % (identity(ns)["inode"], identity(ns)["cookie"], name))


def lock_path(ns, name):
    return os.path.join(RUN_DIR, "lock-%d-%s" % (os.stat(ns.path).st_ino, name.replace(":", "_")))


def journal_events(path):
    try:
        with open(path) as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except (OSError, ValueError):
        return []


def start(ns, args, pause=None):
    """host_bridge as a process of its own in ``ns`` (as Ansible's worker runs it); ``(proc, args file)``.
    ``pause=(N, SECONDS)``: it sleeps after its N-th applied step (``_paused_module.py``)."""
    handle = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
    json.dump({"ANSIBLE_MODULE_ARGS": dict({"_ansible_diff": False, "_ansible_check_mode": False}, **args)}, handle)
    handle.close()
    runner = [PAUSED, str(pause[0]), str(pause[1])] if pause else [IN_NETNS]
    proc = subprocess.Popen(["ip", "netns", "exec", ns.name, sys.executable] + runner + ["host_bridge", handle.name],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return proc, handle.name


def restored(lan, before, within):
    """The host's snapshot equals ``before`` within ``within`` seconds (polled)."""
    deadline = time.monotonic() + within
    while True:
        now = snapshot(lan.host)
        if now == before:
            return
        if time.monotonic() > deadline:
            assert_same(before, now, "host %s s after the kill" % within)
        time.sleep(0.2)


def kill_when(lan, proc, predicate, what, kill=None):
    """Wait until the journal's events meet ``predicate``, then kill the module (``kill()``; default SIGKILL)."""
    path = journal_path(lan.host)
    wait_for(what, lambda: predicate(journal_events(path)), 20)
    (kill or proc.kill)()
    proc.communicate()
    return journal_events(path)


def test_killed_during_the_probe_the_watchdog_rolls_back(lan):
    lan.cut()  # nobody answers the probe
    before = snapshot(lan.host)
    proc, args_file = start(lan.host, dict(ARGS, rollback_timeout=6))
    try:
        events = kill_when(lan, proc, lambda ev: any(e.get("probing") for e in ev), "the module probing")
        assert events[0]["object"] == "bridge br0" and events[0]["steps"]
        killed = time.monotonic()
        restored(lan, before, 6 + 5)
        wait_for("the watchdog's end", lambda: any(str(e.get("end", "")).startswith("rolled back by the watchdog")
                                                   for e in journal_events(journal_path(lan.host))), 5)
        assert time.monotonic() - killed < 6 + 5
    finally:
        os.unlink(args_file)
    # the next run says what it found, and removes the journal
    lan.lan.ip("link", "set", "p-host", "up")  # the gateway answers again
    result = lan_run(lan, ARGS)
    assert not result.get("failed"), result
    assert any("did not finish; its watchdog rolled it back" in w for w in warnings_of(result)), warnings_of(result)
    assert not os.path.exists(journal_path(lan.host))


def lan_run(lan, args):
    proc, args_file = start(lan.host, args)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        os.unlink(args_file)
    try:
        return json.loads(out)
    except ValueError as exc:
        raise AssertionError("no JSON: %s %s" % (out, err)) from exc


def test_killed_between_two_steps_the_watchdog_rolls_back(lan):
    before = snapshot(lan.host)
    proc, args_file = start(lan.host, ARGS, pause=(4, 30))
    try:
        path = journal_path(lan.host)
        wait_for("step 4 applied", lambda: any(e.get("applied") == 4 for e in journal_events(path)), 20)
        assert "master br0" in lan.host.ip("link", "show", "em1")  # em1 is in br0: half-migrated when killed
        proc.kill()
        proc.communicate()
        assert not any(e.get("applied", 0) > 4 for e in journal_events(path))
        restored(lan, before, 10 + 5)
    finally:
        os.unlink(args_file)
    assert pings(lan.client, HOST_IP)


def test_a_journal_nobody_finished_is_rolled_back_by_the_next_run(lan):
    before = snapshot(lan.host)
    proc, args_file = start(lan.host, ARGS, pause=(4, 30))
    path = journal_path(lan.host)
    try:
        watchdog = wait_for("the watchdog's PID", lambda: [e["watchdog"] for e in journal_events(path) if "watchdog" in e], 20)[0]
        wait_for("step 4 applied", lambda: any(e.get("applied") == 4 for e in journal_events(path)), 20)
        os.kill(watchdog, signal.SIGKILL)  # the watchdog dies first (think: both OOM-killed)
        proc.kill()
        proc.communicate()
    finally:
        os.unlink(args_file)
    time.sleep(0.5)
    assert "master br0" in lan.host.ip("link", "show", "em1")  # nobody rolled back: still half-migrated
    assert not any("end" in e for e in journal_events(path))
    check = lan_run(lan, dict(ARGS, _ansible_check_mode=True))  # check mode never touches it
    assert os.path.exists(path) and "master br0" in lan.host.ip("link", "show", "em1"), check
    assert any("a real run rolls them back first" in w for w in warnings_of(check)), warnings_of(check)
    result = lan_run(lan, ARGS)
    assert not result.get("failed"), result
    assert any("left 4 step(s) applied and no watchdog; they were rolled back before this run" in w
               for w in warnings_of(result)), warnings_of(result)
    assert not os.path.exists(path)
    assert result["changed"] and result["bridge"]["ports"] == ["em1"]
    undo = lan_run(lan, dict(ARGS, state="absent"))
    assert undo["changed"] and not undo.get("failed"), undo
    assert_same(before, snapshot(lan.host), "after state absent")


def test_foreign_bridges_are_refused(lan):
    lan.host.ip("link", "add", "docker0", "type", "bridge")
    lan.host.ip("link", "add", "vnet0", "type", "veth", "peer", "name", "vnet0p")
    lan.host.ip("link", "set", "vnet0", "master", "docker0")
    lan.host.ip("link", "add", "virbr0", "type", "bridge")
    lan.host.ip("link", "add", "vnet1", "type", "veth", "peer", "name", "vnet1p")
    lan.host.ip("link", "set", "vnet1", "master", "virbr0")
    before = snapshot(lan.host)
    result = lan_run(lan, {"name": "docker0", "uplink": "em1"})
    assert result["failed"] and result["changed"] is False and result["rolled_back"] is False
    assert result["msg"].startswith("bridge docker0 looks like Docker (its default bridge network)'s"), result["msg"]
    result = lan_run(lan, {"name": "virbr0", "state": "absent"})
    assert result["failed"] and "bridge virbr0 was not made by host_bridge" in result["msg"], result["msg"]
    lan.host.ip("link", "add", "br0", "type", "bridge")
    lan.host.ip("link", "add", "tap0", "type", "veth", "peer", "name", "tap0p")
    lan.host.ip("link", "set", "tap0", "master", "br0")
    before = snapshot(lan.host)
    result = lan_run(lan, ARGS)
    assert result["failed"] and "has ports that are not its uplink or this collection's veths (tap0)" in result["msg"]
    assert_same(before, snapshot(lan.host), "after the refusals")
    adopted = lan_run(lan, dict(ARGS, adopt=True))
    assert adopted["changed"] and adopted["bridge"]["label"] == "lanbridge:bridge", adopted
    assert sorted(adopted["bridge"]["ports"]) == ["em1", "tap0"]


def test_a_held_lock_makes_the_next_run_wait_then_go(lan):
    os.makedirs(RUN_DIR, mode=0o700, exist_ok=True)
    fd = os.open(lock_path(lan.host, "bridge:br0"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, b"%d %.3f\n" % (os.getpid(), time.time()))
        before = snapshot(lan.host)
        proc, args_file = start(lan.host, ARGS)
        time.sleep(2)
        assert proc.poll() is None  # waiting for the lock
        assert_same(before, snapshot(lan.host), "while the lock is held")
    finally:
        os.close(fd)
    out, _err = proc.communicate(timeout=60)
    os.unlink(args_file)
    result = json.loads(out)
    assert result["changed"] and not result.get("failed"), result


def test_planted_lock_files_are_refused(lan):
    os.makedirs(RUN_DIR, mode=0o700, exist_ok=True)
    path = lock_path(lan.host, "bridge:br0")
    if os.path.lexists(path):  # a namespace inode of an earlier test, reused
        os.unlink(path)
    target = os.path.join(tempfile.mkdtemp(prefix="lanbridge-planted-"), "target")
    os.symlink(target, path)
    try:
        before = snapshot(lan.host)
        result = lan_run(lan, ARGS)
        assert result["failed"] and result["changed"] is False and result["rolled_back"] is False
        assert result["msg"] == "%s is a symlink; refusing to follow it (remove it)" % path
        assert not os.path.exists(target)
        assert_same(before, snapshot(lan.host))
    finally:
        os.unlink(path)
    with open(path, "w") as handle:
        handle.write("planted\n")
    os.chown(path, 65534, 65534)
    try:
        result = lan_run(lan, ARGS)
        assert result["failed"] and result["rolled_back"] is False
        assert result["msg"] == "%s is not a regular file of this run's user; remove it" % path
    finally:
        os.unlink(path)


def test_two_bridges_for_one_uplink_take_turns(lan):
    """Runs for br0 and br1 that both want em1 hold em1's lock from planning to the end: the run for
    br1, which planned while em1 was still free, waits, plans again and refuses, changing nothing."""
    first, first_args = start(lan.host, ARGS, pause=(1, 4))
    second = second_args = None
    try:
        path = journal_path(lan.host)
        wait_for("br0's first step", lambda: any(e.get("applied") == 1 for e in journal_events(path)), 20)
        assert "master" not in lan.host.ip("link", "show", "em1")  # em1 is still free
        second, second_args = start(lan.host, {"name": "br1", "uplink": "em1"})
        time.sleep(2)
        assert second.poll() is None  # waiting for em1's lock
        assert "br1" not in lan.host.ip("-o", "link", "show") and "master br0" not in lan.host.ip("link", "show", "em1")
        done = json.loads(first.communicate(timeout=60)[0])
        assert done["changed"] and not done.get("failed"), done
        refused = json.loads(second.communicate(timeout=60)[0])
    finally:
        for name in (first_args, second_args):
            if name:
                os.unlink(name)
    assert refused["failed"] and refused["changed"] is False and refused["rolled_back"] is False, refused
    assert refused["msg"] == "uplink em1 is already a port of bridge br0", refused["msg"]
    assert "br1" not in lan.host.ip("-o", "link", "show")
    assert "master br0" in lan.host.ip("link", "show", "em1")


def test_a_hung_module_is_killed_by_its_watchdog_and_the_host_restored(lan):
    """A module stuck after step 4 (em1 already in br0) past its deadline (rollback_timeout 2 + 5 s):
    the watchdog kills it, so it cannot go on applying, and undoes the four steps."""
    before = snapshot(lan.host)
    proc, args_file = start(lan.host, dict(ARGS, rollback_timeout=2), pause=(4, 60))
    try:
        path = journal_path(lan.host)
        wait_for("step 4 applied", lambda: any(e.get("applied") == 4 for e in journal_events(path)), 20)
        assert "master br0" in lan.host.ip("link", "show", "em1")
        proc.communicate(timeout=2 + 5 + 10)  # killed at its deadline, long before its 60 s pause ends
        assert proc.returncode == -signal.SIGKILL, proc.returncode
        restored(lan, before, 5)
        events = journal_events(path)
        assert [e["end"] for e in events if "end" in e] == ["rolled back by the watchdog"], events
        assert sum(e.get("undone", 0) for e in events) == 4 and not any(e.get("applied", 0) > 4 for e in events)
    finally:
        os.unlink(args_file)
    result = lan_run(lan, ARGS)  # the next run finds the journal the watchdog ended, and goes on
    assert result["changed"] and not result.get("failed"), result
    assert any("its watchdog rolled it back" in w for w in warnings_of(result)), warnings_of(result)


def kill_all_in(ns):
    """SIGKILL every process in ``ns`` (the module and everything it started there) and wait until none is left."""
    def left():
        return sh("ip", "netns", "pids", ns.name, check=False).split()
    for pid in left():
        subprocess.run(["kill", "-9", pid], check=False)
    wait_for("no process left in %s" % ns.name, lambda: not left(), 10)


def reusing_inode(netns_factory, inode, within=60):
    """A new namespace with ``inode`` (freed by a deleted one, once the kernel has cleaned it up):
    namespaces are made, and kept, until the kernel hands that inode out again (the lowest free one)."""
    until, made = time.monotonic() + within, 0
    while time.monotonic() < until:
        ns = netns_factory("re")
        made += 1
        if os.stat(ns.path).st_ino == inode:
            return ns
        time.sleep(0.05)
    pytest.fail("no namespace got inode %d within %d s (%d made)" % (inode, within, made))


def test_a_journal_of_a_gone_namespace_is_never_applied(netns_factory):
    """host_bridge and its watchdog killed in namespace A while probing (br0 holds em1 and A's address);
    A deleted; namespace B gets A's inode: host_bridge in B never applies A's journal (before namespaces
    were told apart by their cookie, A's undo put A's address on B's em1, and B's run moved it to br0),
    says that it discarded it, and B's br0 holds B's address only."""
    a = build(netns_factory)
    a.cut()  # nobody answers: the module waits in its probe with every step applied
    proc, args_file = start(a.host, dict(ARGS, rollback_timeout=60))
    try:
        path = journal_path(a.host)
        wait_for("the module probing", lambda: any(e.get("probing") for e in journal_events(path)), 20)
        assert "198.51.100.11/24" in a.host.ip("addr", "show", "dev", "br0")
        kill_all_in(a.host)  # the module and its watchdog
        proc.communicate()
    finally:
        os.unlink(args_file)
    inode, journal = os.stat(a.host.path).st_ino, path
    assert os.path.exists(journal) and not any("end" in e for e in journal_events(journal))
    sh("ip", "netns", "del", a.host.name)
    b = build(netns_factory, host=reusing_inode(netns_factory, inode), host_ip="198.51.100.12")
    try:
        result = lan_run(b, ARGS)
        assert not result.get("failed"), result
        assert b.host.ip("-o", "-4", "addr", "show", "scope", "global").count("inet ") == 1
        assert "inet 198.51.100.12/24" in b.host.ip("-4", "addr", "show", "dev", "br0")
        assert "198.51.100.11" not in b.host.ip("addr", "show")
        assert any(journal in w and "was discarded, never applied: its network namespace" in w and "is gone" in w
                   for w in warnings_of(result)), warnings_of(result)
        assert not os.path.exists(journal)
    finally:
        remove_journals(b.host)


def test_the_watchdog_survives_pkill_f_host_bridge(lan):
    """``pkill -f host_bridge`` (limited here to the test's namespace) kills the module while it probes;
    the watchdog runs under its own command line, is not matched, and restores the host in time."""
    lan.cut()
    before = snapshot(lan.host)
    proc, args_file = start(lan.host, dict(ARGS, rollback_timeout=6))
    try:
        events = kill_when(lan, proc, lambda ev: any(e.get("probing") for e in ev), "the module probing",
                           kill=lambda: sh("pkill", "-f", "host_bridge", "--ns", str(proc.pid), "--nslist", "net"))
        watchdog = [e["watchdog"] for e in events if "watchdog" in e][0]
        with open("/proc/%d/cmdline" % watchdog, "rb") as handle:
            cmdline = handle.read().replace(b"\0", b" ").decode()  # empty: it was killed too
        assert proc.returncode == -signal.SIGTERM, proc.returncode
        restored(lan, before, 6 + 5)
        assert "host_bridge" not in cmdline and "_watchdog" in cmdline, cmdline
    finally:
        os.unlink(args_file)
