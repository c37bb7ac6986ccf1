"""The one set of helpers the integration tests share (no pytest here: ``_in_netns.py`` imports it too).

- ``sh``: run a command, no shell, return its stdout or raise with its stderr.
- ``wait_for``: poll a condition until it holds, or fail naming it.
- ``lab_package``: the lab package (tests/lab), loaded by tests/lab/lab.py's loader.
- ``netns_id``, ``root_netns_id``, ``in_root_netns``: which network namespace a process is in.
- ``ip``, ``ip_json``, ``ping``: run ``ip``/``ping`` in a namespace given as a ``Netns``, a name
  under /run/netns, or a path such as ``/proc/PID/ns/net``.
- ``throwaway_netns``, ``Netns``, ``run_module``: namespaces that are deleted afterwards, and a
  module run as a process inside one (conftest.py makes fixtures of them; the benchmark uses them too).
- ``snapshot``, ``assert_same``, ``settled``: what a module could change in a namespace, as text,
  to prove that nothing changed.
- ``four_ways``: one change run as check with diff, real, repeat check, repeat real;
  ``veth_four_ways`` the same with container_veth's comparisons.
- ``bridged_lan``: a host namespace with br0 and a LAN namespace plugged into it.
"""
import contextlib
import difflib
import json
import os
import re
import runpy
import subprocess
import sys
import tempfile
import time
import uuid

IN_NETNS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_in_netns.py")
LAB_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lab")
_LAB = []


def sh(*cmd, check=True):
    """Run a command (no shell) and return its stdout; raise with stderr on failure."""
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(cmd), proc.returncode, proc.stderr.strip()))
    return proc.stdout


PERSIST_NOTICE = "persist auto: host_bridge runs in a network namespace"  # a test namespace is not init's


def warnings_of(result, notices=()):
    """The warnings' sentences (ansible-core 2.19 returns each as a summary dict, earlier ones as
    text), without those that start with one of ``notices``."""
    texts = [w["event"]["msg"] if isinstance(w, dict) else str(w) for w in result.get("warnings") or []]
    return [t for t in texts if not t.startswith(tuple(notices))]


def wait_for(what, predicate, timeout):
    """Poll ``predicate`` until it returns something true, and return that; ``AssertionError``
    naming ``what`` when it has not within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("%s: not within %s s" % (what, timeout))


# --------------------------------------------------------------------------- which namespace

def netns_id(path):
    """A network namespace's identity: the inode of its nsfs file."""
    return os.stat(path).st_ino


def lab_package():
    """The lab package (tests/lab), through tests/lab/lab.py's loader (``package()``, the one that
    loads it by path): its root-namespace detection, images, Podman service and ``_proc`` helpers
    are the ones the integration tests use. lab.py is run by path, not imported: ``import lab``
    would find tests/lab itself where tests/ is on sys.path (under pytest)."""
    if not _LAB:
        _LAB.append(runpy.run_path(os.path.join(LAB_DIR, "lab.py"))["package"]())
    return _LAB[0]


def root_netns_id():
    """The initial network namespace: PID 1's, or kthreadd's where PID 1's is not readable (the lab's rule)."""
    try:
        return lab_package().root_netns_inode()
    except Exception as exc:  # pylint: disable=broad-except
        raise SystemExit("cannot identify the root network namespace (%s): refusing to run" % exc) from exc


def in_root_netns():
    """True when this process is in the machine's own (root) network namespace."""
    return netns_id("/proc/self/ns/net") == root_netns_id()


# --------------------------------------------------------------------------- commands in a namespace

def _ip_cmd(target):
    """``ip`` acting inside ``target``: a Netns (``.name``), a /run/netns name, or a namespace path."""
    name = getattr(target, "name", target)
    if "/" in name:
        return ["nsenter", "--net=" + name, "ip"]
    return ["ip", "-n", name]


def ip(target, *args, check=True):
    """``ip ARGS`` inside ``target``; returns stdout."""
    return sh(*_ip_cmd(target), *args, check=check)


def ip_json(target, *args):
    """``ip -j ARGS`` inside ``target``, parsed."""
    return json.loads(ip(target, "-j", *args) or "[]")


def ping(target, address, count=1, attempts=1):
    """True when ``address`` answers a ping sent from ``target``, within ``attempts`` tries (0.3 s apart)."""
    name = getattr(target, "name", target)
    enter = ["nsenter", "--net=" + name] if "/" in name else ["ip", "netns", "exec", name]
    flag = "-6" if ":" in address else "-4"
    for attempt in range(attempts):
        if attempt:
            time.sleep(0.3)
        if subprocess.run(enter + ["ping", flag, "-c", str(count), "-W", "1", address],
                          capture_output=True, check=False).returncode == 0:
            return True
    return False


# --------------------------------------------------------------------------- throwaway namespaces, module runs

class Netns:
    """A throwaway network namespace; ``lo`` is up."""

    def __init__(self, name):
        self.name = name
        self.path = "/run/netns/" + name

    def ip(self, *args, check=True):
        return ip(self, *args, check=check)

    def exec(self, *cmd, check=True):
        return sh("ip", "netns", "exec", self.name, *cmd, check=check)

    def links(self):
        return {link["ifname"]: link for link in ip_json(self, "-d", "link", "show")}


@contextlib.contextmanager
def throwaway_netns():
    """Yield ``make(tag)``, which adds a namespace ``lbt-TAG-RANDOM`` (a ``Netns``); on exit every one
    made is deleted, after killing what still runs in it."""
    created = []

    def make(tag="t"):
        name = "lbt-%s-%s" % (tag, uuid.uuid4().hex[:8])
        sh("ip", "netns", "add", name)
        created.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return Netns(name)

    try:
        yield make
    finally:
        for name in reversed(created):
            for pid in sh("ip", "netns", "pids", name, check=False).split():
                subprocess.run(["kill", "-9", pid], check=False)
            sh("ip", "netns", "del", name, check=False)


class ModuleResult(dict):
    @property
    def failed(self):
        return bool(self.get("failed"))


def run_module(module, ns, args, check_mode=False, diff=False, python=None, env=None):
    """Run ``lanbridge.core.<module>`` in namespace ``ns`` (a Netns or a name) with ``args``; return its
    JSON result. It runs as a process in the namespace (``ip netns exec``, then ``_in_netns.py``,
    which refuses the root namespace), with this interpreter unless ``python`` is given, with
    ``env`` added to the environment. ``.stderr`` of the result is the process's standard error."""
    payload = dict(args)
    payload["_ansible_check_mode"] = check_mode
    payload["_ansible_diff"] = diff
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"ANSIBLE_MODULE_ARGS": payload}, f)
        path = f.name
    try:
        name = ns.name if isinstance(ns, Netns) else ns
        proc = subprocess.run(
            ["ip", "netns", "exec", name, python or sys.executable, IN_NETNS, module, path],
            capture_output=True, text=True, check=False, env=dict(os.environ, **(env or {})),
        )
    finally:
        os.unlink(path)
    try:
        result = json.loads(proc.stdout)
    except ValueError as exc:
        raise AssertionError("module %s printed no JSON (rc %d): %s %s" % (module, proc.returncode, proc.stdout, proc.stderr)) from exc
    result = ModuleResult(result)
    result.stderr = proc.stderr
    return result


def imported(result, package):
    """Whether the module run (with ``PYTHONPROFILEIMPORTTIME=1`` in its ``env``) imported ``package``."""
    return any(line.split("|")[-1].strip().split(".")[0] == package
               for line in result.stderr.splitlines() if line.startswith("import time:"))


IMPORT_TIMES = {"PYTHONPROFILEIMPORTTIME": "1"}


# --------------------------------------------------------------------------- snapshots

# Values the kernel changes by itself: bridge timers, address lifetimes, route expiry.
_MOVING = re.compile(r"(\b\w*_timer\s+)[\d.]+|(\b(?:valid|preferred)_lft\s+)\S+|(\bexpires\s+)\S+")
# Link state that follows carrier: flags, operstate and a bridge port's state.
_CARRIER_FLAGS = re.compile(r"\b(?:LOWER_UP|NO-CARRIER|M-DOWN),|,(?:LOWER_UP|NO-CARRIER|M-DOWN)\b")
_STATE = re.compile(r"\bstate \S+")


def snapshot(target, link_state=True):
    """Everything a module could change in ``target``'s namespace, as text: used to prove 'nothing changed'.

    Left out is what changes by itself: bridge timers, lifetimes, and IPv6 duplicate address
    detection finishing (``tentative``, then the kernel's ``local`` route).

    ``link_state=False`` also leaves out what the kernel changes while interfaces it has just seen
    come and go settle: carrier flags (``LOWER_UP``, ``NO-CARRIER``, ``M-DOWN``), operational and
    bridge port state, and link-local addresses with their routes (``fe80::/64``, ``ff00::/8``).
    """
    text = "\n".join([
        ip(target, "-d", "link", "show"),
        ip(target, "addr", "show"),
        ip(target, "route", "show", "table", "all"),
        ip(target, "-6", "route", "show", "table", "all"),
    ])
    text = _MOVING.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + "*", text)
    lines = []
    skip_lifetimes = False
    for line in text.splitlines():
        if skip_lifetimes and line.lstrip().startswith("valid_lft"):
            skip_lifetimes = False
            continue
        skip_lifetimes = False
        if line.startswith("local ") and ":" in line.split()[1]:
            continue
        if not link_state:
            if re.match(r"\s+inet6? .* scope link\b", line):
                skip_lifetimes = True  # and the lifetimes line that follows it
                continue
            if "fe80:" in line or "ff00::/8" in line:
                continue
            line = _STATE.sub("state *", _CARRIER_FLAGS.sub("", line))  # noqa: PLW2901
        if "inet6 " in line:
            line = line.replace(" tentative", "")  # noqa: PLW2901
        lines.append(re.sub(r"\s+", " ", line))
    return "\n".join(lines)


def assert_same(before, after, what="namespace"):
    """Two snapshots are equal; else fail with their difference."""
    assert before == after, "%s changed:\n%s" % (what, "\n".join(difflib.unified_diff(
        before.splitlines(), after.splitlines(), "before", "after", lineterm="", n=0)))


def settled(target, timeout=3.0, link_state=True):
    """The snapshot once the kernel has finished reacting (carrier, link-local addresses)."""
    last = snapshot(target, link_state)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = snapshot(target, link_state)
        if now == last:
            return now
        last = now
    return last


# --------------------------------------------------------------------------- four ways

def four_ways(run, args, ns=None, changed=None, same_plan=None, same_facts=None):
    """Run one change four ways: check with diff, real, repeat check, repeat real; return the real result.

    ``run(args, check_mode=False, diff=False)`` runs the module once and returns its result.
    Always asserted: no run fails; check's ``changed`` and ``diff`` equal the real run's; the
    repeats report no change and the repeat check's diff has ``before == after``.
    ``ns``: a namespace that check mode must leave as it was, and the repeat run too (once settled).
    ``changed``: what the first two runs must report (None: whatever, as long as they agree).
    ``same_plan(check, real)``: the module's own check == real assertions.
    ``same_facts(real, recheck, again)``: the module's own assertions that the repeats agree.
    """
    before = snapshot(ns) if ns is not None else None
    check = run(args, check_mode=True, diff=True)
    assert not check.failed, check.get("msg", check)
    if ns is not None:
        assert_same(before, snapshot(ns), "check mode: namespace")
    real = run(args, diff=True)
    assert not real.failed, real.get("msg", real)
    if changed is not None:
        assert check["changed"] is changed and real["changed"] is changed, (check["changed"], real["changed"])
    assert check["changed"] == real["changed"]
    assert check["diff"] == real["diff"]
    if same_plan:
        same_plan(check, real)
    after = settled(ns) if ns is not None else None
    recheck = run(args, check_mode=True, diff=True)
    assert not recheck.failed and recheck["changed"] is False, recheck
    assert recheck["diff"]["before"] == recheck["diff"]["after"]
    again = run(args)
    assert not again.failed and again["changed"] is False, again
    if ns is not None:
        assert_same(after, snapshot(ns), "repeat run: namespace")
    if same_facts:
        same_facts(real, recheck, again)
    return real


def bridged_lan(netns_factory, lan_mac=None, lan_ipv6=None):
    """``(host, lan)``: br0 (STP off) in a throwaway host namespace, and a LAN namespace whose
    ``lan0`` (198.51.100.1/24, optionally ``lan_mac`` and ``lan_ipv6`` without DAD) is plugged into it."""
    host = netns_factory("h")
    lan = netns_factory("l")
    host.ip("link", "add", "br0", "type", "bridge", "stp_state", "0")
    host.ip("link", "set", "br0", "up")
    host.ip("link", "add", "lanp", "type", "veth", "peer", "name", "lan0", "netns", lan.name)
    host.ip("link", "set", "lanp", "master", "br0", "up")
    if lan_mac:
        lan.ip("link", "set", "lan0", "address", lan_mac)
    lan.ip("addr", "add", "198.51.100.1/24", "dev", "lan0")
    if lan_ipv6:
        lan.ip("addr", "add", lan_ipv6, "dev", "lan0", "nodad")
    lan.ip("link", "set", "lan0", "up")
    return host, lan


def veth_facts(result):
    """container_veth's ``interfaces`` result without ``changed``: what a repeat run must report again."""
    return [dict((k, v) for k, v in item.items() if k != "changed") for item in result["interfaces"]]


def veth_four_ways(run, args):
    """``four_ways`` for container_veth (a change expected): check and real report the same
    interfaces; the repeats report the same facts and the same planned after-state."""

    def same_plan(check, real):
        assert check["interfaces"] == real["interfaces"]

    def same_facts(real, recheck, again):
        assert recheck["diff"]["after"] == real["diff"]["after"]
        assert veth_facts(again) == veth_facts(real) == veth_facts(recheck)

    return four_ways(run, args, changed=True, same_plan=same_plan, same_facts=same_facts)
