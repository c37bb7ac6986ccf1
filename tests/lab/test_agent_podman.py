"""lanbridge-attach against a real rootful Podman (Debian 12's Podman 4.3, its Docker-compatible API).

One bare lab host (``ap-h1``, Podman only, FORWARD policy DROP) with two containers. Set up once
with the collection's own modules, run as processes inside the host's namespace: ``host_bridge``
(br0 over em1) and one ``container_veth`` run with the entries the role would pass (the role's
``container_lan_veth_interfaces`` filter). Then the agent's state file, exactly as ``attach_agent``
writes it (``install.state_text``), and the agent's launcher (``install.LAUNCHER_TEXT``, its library
the collection checkout) go into a temporary directory, and the daemon is started as a plain
process with that path (bare hosts have no init, so no systemd) under
``nsenter --net=/run/netns/ap-h1``, the way the lab starts the host's engine; it talks to the
host's Podman API socket. Its only other runtime files are its bridge lock files in
``/run/lanbridge`` (``lock-<netns inode>-bridge_br0``, as every module run in the lab writes); the
fixture removes those of the host's namespace at the end.

Measured from the lab's LAN client (ping every 50 ms): ``podman restart`` -> the address answers
again; ``podman stop`` -> the host end leaves at once and the address goes silent; ``podman start``
-> back. The agent's log names each action; SIGTERM ends it with status 0.
"""
import glob
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab

from ansible_collections.lanbridge.core.plugins.filter.container_lan import veth_interfaces
from ansible_collections.lanbridge.core.plugins.module_utils._agent import install

PREFIX = os.environ.get("LANBRIDGE_LAB_TEST_AGENT_PODMAN_PREFIX", "ap")
HOST = f"{PREFIX}-h1"
BRIDGE = "br0"
ADDRESSES = {"app1": lab.LAN4 + "111", "app2": lab.LAN4 + "112"}
POLL = 0.05
RESTARTS = 5
HERE = os.path.dirname(os.path.abspath(__file__))
IN_NETNS = os.path.join(os.path.dirname(HERE), "integration", "_in_netns.py")
COLLECTIONS = os.path.join(lab.REPO, ".build", "collections")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.needs("podman", "nsenter"),
]


def _module(tmp, name, args):
    """Run ``lanbridge.core.<name>`` as a process in the host's namespace (``_in_netns.py`` refuses
    the root one); its JSON result."""
    path = os.path.join(tmp, f"{name}.json")
    with open(path, "w") as f:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, f)
    res = subprocess.run(["nsenter", f"--net=/run/netns/{HOST}", sys.executable, IN_NETNS, name, path],
                         capture_output=True, text=True, timeout=120, check=False)
    try:
        result = json.loads(res.stdout)
    except ValueError:
        raise AssertionError(f"{name} printed no JSON (rc {res.returncode}): {res.stdout} {res.stderr}") from None
    assert not result.get("failed"), result
    return result


class Agent:
    """The daemon as a process in the host's namespace; its output in ``log``."""

    def __init__(self, tmp, state_file):
        self.log = os.path.join(tmp, "agent.log")
        # what systemd gives a Type=notify service: a datagram socket for READY=1
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.notify.bind(os.path.join(tmp, "notify"))
        launcher = os.path.join(tmp, "lanbridge-attach")
        with open(launcher, "w") as f:
            f.write(install.LAUNCHER_TEXT.format(python=sys.executable, header=install.HEADER, lib=COLLECTIONS))
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{HOST}", sys.executable, launcher, state_file],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         env=dict(os.environ, NOTIFY_SOCKET=os.path.join(tmp, "notify")),
                                         start_new_session=True)

    def ready(self, limit):
        """Whether the agent sent READY=1 (after its first full reconcile) within ``limit`` seconds."""
        self.notify.settimeout(limit)
        try:
            return self.notify.recv(4096) == b"READY=1"
        except TimeoutError:
            return False

    def text(self):
        with open(self.log) as f:
            return f.read()

    def wait_for(self, needle, since=0, limit=15):
        """The log from offset ``since`` once it holds ``needle``."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < limit:
            text = self.text()[since:]
            if needle in text:
                return text
            assert self.proc.poll() is None, f"the agent exited ({self.proc.returncode}):\n{self.text()}"
            time.sleep(POLL)
        raise AssertionError(f"{needle!r} not in the agent's log within {limit} s:\n{self.text()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None
        finally:
            self.notify.close()


@pytest.fixture(scope="module")
def agent_lab(tmp_path_factory):
    tmp = str(tmp_path_factory.mktemp("lanbridge-agent-podman"))
    lab_dir = os.path.join(tmp, "lab")
    state = lab.up(lab_dir, PREFIX, 1, len(ADDRESSES), forward_drop=(1,), engine="podman", owner=os.getpid())
    h = state["hosts"][HOST]
    host_ino = os.stat(f"/run/netns/{HOST}").st_ino
    agent = None
    try:
        assert host_ino != lab.root_netns_inode()
        _module(tmp, "host_bridge", {"name": BRIDGE, "uplink": lab.UPLINK, "gateway": lab.GATEWAY4,
                                     "rollback_timeout": 5, "persist": "none"})
        entries = veth_interfaces([{"container": n, "addresses": [a + "/24"]} for n, a in sorted(ADDRESSES.items())],
                                  BRIDGE, lab.GATEWAY4, h["podman_host"], "podman")
        attached = _module(tmp, "container_veth", {"bridge": BRIDGE, "interfaces": entries})
        host_ends = {i["container_name"]: i["host_ifname"] for i in attached["interfaces"]}
        state_file = os.path.join(tmp, "attachments.json")
        with open(os.open(state_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            f.write(install.state_text(BRIDGE, entries, True, "lanbridge.core container_lan", 300))
        agent = Agent(tmp, state_file)
        yield {"state": state, "agent": agent, "host_ends": host_ends, "host_ino": host_ino, "exits": []}
    finally:
        if agent is not None:
            agent.stop()
        # while the namespace exists its inode is ours: no other lab's lock file can have this name
        for path in glob.glob(f"/run/lanbridge/lock-{host_ino}-*") + glob.glob(f"/run/lanbridge/journal-{host_ino}-*"):
            os.unlink(path)
        lab.down(lab_dir)


def _answers(state, name):
    return lab.ns_exec(state["netns_of"]["client"], "ping", "-c1", "-W0.2", "-q", ADDRESSES[name],
                       check=False).returncode == 0


def _until(what, limit):
    """Seconds until ``what()`` is true; None after ``limit``."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if what():
            return time.monotonic() - t0
        time.sleep(POLL)
    return None


def _on_bridge(ifname):
    out = lab.ip(HOST, "-j", "link", "show", "master", BRIDGE).stdout
    return ifname in [link["ifname"] for link in json.loads(out or "[]")]


def _podman(agent_lab, *args):
    return lab.podman_cli(agent_lab["state"], HOST, *args)


def test_agent_starts_in_the_host_namespace(agent_lab):
    agent = agent_lab["agent"]
    assert agent.ready(15), agent.text()
    assert "2 interface(s) of 1 container engine(s) desired" in agent.text()
    assert os.stat(f"/proc/{agent.proc.pid}/ns/net").st_ino == agent_lab["host_ino"] != lab.root_netns_inode()
    # the accept rule, in FORWARD (no DOCKER-USER on a Podman host), before the first reconcile
    agent.wait_for("accept rule for bridge br0 in FORWARD")  # its wording: firewall.ensure
    rules = lab.ns_exec(HOST, "iptables", "-S", "FORWARD").stdout
    assert "-P FORWARD DROP" in rules and "lanbridge.core container_lan" in rules, rules
    for name in ADDRESSES:
        assert _until(lambda n=name: _answers(agent_lab["state"], n), 5) is not None, name


def _ms(text, what):
    """The milliseconds from the event that the agent's log line ``what`` (a regex) reports, or None."""
    found = re.search(what + r"[^\n]*, (\d+) ms from the event", text)
    return int(found.group(found.lastindex)) if found else None


def _deleted_ms(text, name, host_end):
    """The agent's 'host end deleted' line for an exit (Podman's ``stop`` when it sends one, else its
    ``died``: the filter names both): its milliseconds from the event, or None. None is a race the
    agent may lose: Podman's own teardown of the container's namespace can take the host end with
    it before the exit event (Podman tails its events file) reaches the agent, which then has
    nothing left to delete."""
    return _ms(text, r"container %s %s/24: host end %s deleted \(event (die|stop)\)" % (name, ADDRESSES[name], host_end))


def test_podman_restart_is_back(agent_lab, record_property):
    """Back = the address answers again, counted from when ``podman restart`` returned (the
    container runs again); the agent's own event-to-attached milliseconds beside it."""
    agent, state = agent_lab["agent"], agent_lab["state"]
    host_end = agent_lab["host_ends"]["app1"]
    times, attached, deleted = [], [], []
    for _restart in range(RESTARTS):
        since = len(agent.text())
        _podman(agent_lab, "restart", "-t", "1", "app1")
        back = _until(lambda: _answers(state, "app1"), 10)
        times.append(None if back is None else round(back, 3))
        text = agent.wait_for("container app1 %s/24: attached to br0 as %s (event start)" % (ADDRESSES["app1"], host_end),
                              since)
        attached.append(_ms(text, "attached to br0 as %s" % host_end))
        deleted.append(_deleted_ms(text, "app1", host_end))
    agent_lab["exits"] += deleted
    record_property("podman_restart", json.dumps({"back_s": times, "attached_ms": attached, "deleted_ms": deleted}))
    print("podman restart x%d: app1 answers again %s s after the command returned; the agent deleted the old host "
          "end %s ms after the exit event (None: already gone) and attached the new one %s ms after the start event"
          % (RESTARTS, times, deleted, attached))
    assert None not in times and max(times) < 5.0, times
    assert None not in attached and max(attached) < 5000, attached


def test_podman_stop_then_start(agent_lab, record_property):
    agent, state = agent_lab["agent"], agent_lab["state"]
    h = state["hosts"][HOST]
    host_end = agent_lab["host_ends"]["app2"]
    assert _on_bridge(host_end) and _answers(state, "app2")
    since = len(agent.text())
    t0 = time.monotonic()
    stop = subprocess.Popen(["podman", "--url", h["podman_host"], "stop", "-t", "1", "app2"], env=lab.podman.env(h),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    gone = _until(lambda: not _on_bridge(host_end), 5)
    assert stop.wait(timeout=30) == 0, stop.stderr.read()
    returned = time.monotonic() - t0
    assert gone is not None, f"host end {host_end} still on the bridge 5 s after podman stop:\n{agent.text()}"
    silent = _until(lambda: not _answers(state, "app2"), 5)
    assert silent is not None, "app2 still answers 5 s after podman stop"
    _until(lambda: _deleted_ms(agent.text()[since:], "app2", host_end) is not None, 2)
    deleted = _deleted_ms(agent.text()[since:], "app2", host_end)
    agent_lab["exits"].append(deleted)
    print("podman stop: host end %s off the bridge %.3f s after the command was issued (it returned after %.3f s); "
          "the agent deleted it %s ms after the exit event (None: already gone); address silent"
          % (host_end, gone, returned, deleted))
    assert gone < 2.0
    since = len(agent.text())
    _podman(agent_lab, "start", "app2")
    back = _until(lambda: _answers(state, "app2"), 10)
    text = agent.wait_for("container app2 %s/24: attached to br0 as %s (event start)" % (ADDRESSES["app2"], host_end), since)
    attached = _ms(text, "attached to br0 as %s" % host_end)
    assert back is not None, f"app2 does not answer 10 s after podman start:\n{agent.text()}"
    print("podman start: app2 answers again %.3f s after the command returned (attached %s ms after the event)"
          % (back, attached))
    assert back < 5.0
    assert _on_bridge(host_end)  # the same host-side name as container_veth gave it
    record_property("podman_stop_start", json.dumps({"host_end_gone_s": round(gone, 3), "deleted_ms": deleted,
                                                     "start_back_s": round(back, 3), "attached_ms": attached}))


def test_the_agent_saw_the_exits(agent_lab):
    """Of the exits above, the agent deleted the host end itself on most (it loses the race only
    when Podman's teardown came first); before it subscribed to ``died`` it saw none but the odd
    ``stop``."""
    exits = agent_lab["exits"]
    assert len(exits) == RESTARTS + 1
    done = [ms for ms in exits if ms is not None]
    print("the agent deleted the host end on %d of %d exits, %s ms after the event" % (len(done), len(exits), done))
    assert done and max(done) < 1000, exits


def test_sigterm_ends_it_with_status_0(agent_lab):
    agent = agent_lab["agent"]
    assert agent.stop() == 0, agent.text()
    assert agent.text().rstrip().endswith("lanbridge-attach: stopped")
