"""The agent's logic on plain data: the event decoder, the desired state, the firewall commands,
the reconcile decisions, and the loop (subscribe then list, events during the list, reconnect,
reload), with a recording fake for the host."""
import json
import os
import re
import socket
import subprocess
import sys

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._agent import config, daemon, events, firewall, install, manage
from ansible_collections.lanbridge.core.plugins.module_utils._agent.reconcile import Agent
from ansible_collections.lanbridge.core.plugins.module_utils._agent.version import COLLECTION_VERSION
from ansible_collections.lanbridge.core.plugins.module_utils._errors import (AgentError, EngineError, FirewallError,
                                                                             StreamClosed, ValidationError)

DOCKER = ("docker", "unix:///run/docker.sock")
PODMAN = ("podman", "unix:///run/podman/podman.sock")
ID1, ID2 = "1" * 64, "2" * 64
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))))


def _desired(*names, **extra):
    interfaces = [{"container": n, "addresses": ["198.51.100.%d/24" % (100 + i)], "docker_host": DOCKER[1]}
                  for i, n in enumerate(names)]
    return config.parse(dict({"bridge": "br0", "interfaces": interfaces, "firewall": {"enabled": True}}, **extra))


class FakeOps:
    def __init__(self, running=None):
        self.calls = []
        self.running = dict(running or {})  # name -> id (running); name -> (id, False): stopped
        self.down = False

    def attach(self, entries):
        self.calls.append(("attach", sorted(e.get("container") or e["netns"] for e in entries)))
        return [{"container_name": e.get("container") or e["netns"], "addresses": e["addresses"], "bridge": e["bridge"],
                 "host_ifname": "vl" + (e.get("container") or e["netns"]), "changed": True} for e in entries]

    def detach(self, container_id, ifnames, bridges):
        self.calls.append(("detach", container_id))
        return ["vl" + container_id[:4]]

    def inspect(self, key, names):
        if self.down:
            raise EngineError("cannot reach the docker engine")
        self.calls.append(("inspect", key[0], tuple(names)))
        out = {}
        for name in names:
            value = self.running.get(name)
            if value is None:
                out[name] = None
            elif isinstance(value, tuple):
                out[name] = {"id": value[0], "running": False, "pid": 0}
            else:
                out[name] = {"id": value, "running": True, "pid": 42}
        return out

    def firewall(self, desired):
        self.calls.append(("firewall",))
        return []


def _agent(ops, lines):
    return Agent(ops, lines.append, now=lambda: 1000.25)


# -- the event stream ---------------------------------------------------------------------------

def _chunked(*objects):
    body = b""
    for obj in objects:
        data = (json.dumps(obj, ensure_ascii=False) + "\n").encode()  # as Docker sends it: UTF-8, unescaped
        body += b"%x\r\n" % len(data) + data + b"\r\n"
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + body


DOCKER_START = {"status": "start", "id": ID1, "from": "busybox", "Type": "container", "Action": "start",
                "Actor": {"ID": ID1, "Attributes": {"name": "app1"}}, "time": 1000, "timeNano": 1000000000000}
PODMAN_DIE = {"Type": "container", "Action": "die", "Actor": {"ID": ID2, "Attributes": {"name": "app2"}},
              "status": "die", "id": ID2, "time": 999}


@pytest.mark.parametrize("cut", [1, 2, 7, 4096])
def test_decoder_any_cut(cut):
    raw = _chunked(DOCKER_START, PODMAN_DIE)
    dec = events.StreamDecoder()
    out = []
    for i in range(0, len(raw), cut):
        out += dec.feed(raw[i:i + cut])
    assert out == [DOCKER_START, PODMAN_DIE]
    assert dec.status == 200 and dec.chunked


def test_decoder_plain_body_and_end():
    dec = events.StreamDecoder()
    assert dec.feed(b"HTTP/1.1 200 OK\r\n\r\n" + json.dumps(DOCKER_START).encode()[:10]) == []
    assert dec.feed(json.dumps(DOCKER_START).encode()[10:]) == [DOCKER_START]
    dec = events.StreamDecoder()
    dec.feed(_chunked(DOCKER_START) + b"0\r\n\r\n")
    assert dec.ended


# Docker and Podman allow only ASCII in a container's name, but its labels and image name are
# UTF-8, and the engines send them unescaped in the event's Actor.Attributes
SPLIT_LABELS = ["José", "容器"]


def _labelled(value):
    return dict(DOCKER_START, Actor={"ID": ID1, "Attributes": {"name": "app1", "org.example.owner": value}})


@pytest.mark.parametrize("chunked", [True, False])
@pytest.mark.parametrize("value", SPLIT_LABELS)
def test_decoder_keeps_a_character_split_across_two_reads(value, chunked):
    """A multi-byte character cut between two ``recv``s is decoded whole."""
    event = _labelled(value)
    raw = _chunked(event) if chunked else b"HTTP/1.1 200 OK\r\n\r\n" + json.dumps(event, ensure_ascii=False).encode()
    char = next(c for c in value if not c.isascii())
    cut = raw.index(char.encode("utf-8")) + 1  # after the first byte of the character
    dec = events.StreamDecoder()
    assert dec.feed(raw[:cut]) == []
    assert dec.feed(raw[cut:]) == [event]


def test_decoder_keeps_a_character_split_by_a_chunk_boundary():
    event = _labelled("José")
    body = json.dumps(event, ensure_ascii=False).encode()
    cut = body.index("é".encode("utf-8")) + 1
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    raw += b"%x\r\n" % cut + body[:cut] + b"\r\n" + b"%x\r\n" % (len(body) - cut) + body[cut:] + b"\r\n"
    assert events.StreamDecoder().feed(raw) == [event]


def test_decoder_refuses_an_error_answer():
    with pytest.raises(StreamClosed, match="answered 400"):
        events.StreamDecoder().feed(b"HTTP/1.1 400 Bad Request\r\n\r\n{\"message\": \"bad filter\"}")


def test_parse_event_docker_and_podman():
    assert events.parse_event(DOCKER_START) == {"action": "start", "id": ID1, "name": "app1", "time": 1000.0}
    assert events.parse_event(PODMAN_DIE) == {"action": "die", "id": ID2, "name": "app2", "time": 999.0}
    assert events.parse_event({"status": "start", "id": ID1}) == {"action": "start", "id": ID1, "name": None, "time": None}
    assert events.parse_event(dict(DOCKER_START, Action="exec_start: sh")) is None
    assert events.parse_event(dict(DOCKER_START, Type="network")) is None
    assert events.parse_event([]) is None


def test_request_filters():
    text = events.request().decode()
    assert text.startswith("GET /events?filters=%7B%22event%22%3A%5B%22start%22%2C%22die%22%2C%22stop%22%2C%22died%22%5D%2C")
    assert text.endswith("\r\n\r\n")


# -- the desired state --------------------------------------------------------------------------

def test_parse_validates_like_the_module_and_drops_absent():
    desired = config.parse({"bridge": "br0", "interfaces": [
        {"container": "app1", "addresses": ["198.51.100.10/24"]},
        {"container": "old", "state": "absent"}]})
    assert [e["container"] for e in desired.entries] == ["app1"]
    assert desired.entries[0]["bridge"] == "br0" and desired.entries[0]["ifname"] == "eth1"
    assert desired.firewall == {"enabled": False, "ipv6": False, "comment": config.DEFAULT_COMMENT, "bridges": ["br0"]}
    assert desired.engines() == [DOCKER]
    with pytest.raises(ValidationError, match=r"interfaces\[0\]: .*15"):
        config.parse({"bridge": "br0", "interfaces": [{"container": "a", "ifname": "x" * 16}]})
    with pytest.raises(ValidationError, match="format"):
        config.parse({"version": 2})


def test_parse_gives_the_file_bridge_to_bridged_entries_only():
    desired = config.parse({"bridge": "br0", "interfaces": [
        {"container": "app1", "addresses": ["198.51.100.10/32"], "mode": "routed", "uplink": "em1"},
        {"container": "app2", "addresses": ["198.51.100.11/24"]}]})
    assert [(e["mode"], e.get("bridge"), e.get("uplink")) for e in desired.entries] == [
        ("routed", None, "em1"), ("bridged", "br0", None)]
    assert desired.firewall["bridges"] == ["br0"]


def test_matching_by_name_id_and_long_prefix():
    assert config.matches("app1", ID1, "app1")
    assert config.matches(ID1, ID1, "x") and config.matches(ID1[:12], ID1, "x")
    assert not config.matches(ID1[:6], ID1, "x") and not config.matches("app1", ID2, "app2")


def test_engines_per_socket():
    desired = config.parse({"bridge": "br0", "interfaces": [
        {"container": "a", "runtime": "podman"}, {"container": "b", "docker_host": "/run/docker.sock"}, {"netns": "blue"}]})
    assert desired.engines() == [DOCKER, PODMAN]
    assert [e["container"] for e in desired.for_container(PODMAN, ID1, "a")] == ["a"]
    assert desired.for_container(DOCKER, ID1, "a") == []


def test_load_missing_file_is_empty(tmp_path):
    assert config.load(str(tmp_path / "none.json")).entries == []
    path = tmp_path / "bad.json"
    path.write_text("{")
    with pytest.raises(ValidationError, match="is not JSON"):
        config.load(str(path))


# -- the firewall rule --------------------------------------------------------------------------

def _which(tool):
    return "/usr/sbin/" + tool


def test_firewall_inserts_where_missing_in_docker_user_else_forward():
    ran = []

    def run(argv):
        ran.append(argv)
        if argv[0] == "/usr/sbin/iptables" and "-S" in argv:
            return 0  # DOCKER-USER exists for IPv4 only
        if "-I" in argv:
            return 0
        return 1  # no rule yet
    done = firewall.ensure(run, ["br0"], "lanbridge.core container_lan", True, which=_which)
    assert done == ["iptables: insert accept rule for bridge br0 in DOCKER-USER",
                    "ip6tables: insert accept rule for bridge br0 in FORWARD"]
    assert ["/usr/sbin/iptables", "-w", "5", "-t", "filter", "-I", "DOCKER-USER", "-i", "br0", "-o", "br0",
            "-j", "ACCEPT", "-m", "comment", "--comment", "lanbridge.core container_lan"] in ran
    assert firewall.ensure(lambda argv: 0, ["br0"], "c", False, which=_which) == []  # in place: nothing
    with pytest.raises(FirewallError, match="failed"):
        firewall.ensure(lambda argv: 1, ["br0"], "c", False, which=_which)
    with pytest.raises(FirewallError, match="ip6tables is not installed"):
        firewall.ensure(lambda argv: 1, ["br0"], "c", True, which=lambda t: _which(t) if t == "iptables" else None)


# -- reconcile and events -----------------------------------------------------------------------

def test_reconcile_attaches_running_detaches_stopped_skips_unknown():
    ops, lines = FakeOps({"app1": ID1, "app2": (ID2, False)}), []
    agent = _agent(ops, lines)
    agent.set_desired(_desired("app1", "app2", "app3"))
    assert agent.reconcile("reconcile", [DOCKER, None]) == (0, {})
    assert ops.calls == [("firewall",), ("inspect", "docker", ("app1", "app2", "app3")), ("detach", ID2), ("attach", ["app1"])]
    assert lines == ["container app2 198.51.100.101/24: host end vl2222 deleted (reconcile: not running)",
                     "container app1 198.51.100.100/24: attached to br0 as vlapp1 (reconcile)"]


def test_two_entries_of_one_container_by_name_and_by_id_are_both_attached():
    ops = FakeOps({"app1": ID1, ID1[:12]: ID1})
    agent = _agent(ops, [])
    agent.set_desired(config.parse({"bridge": "br0", "interfaces": [
        {"container": "app1", "addresses": ["198.51.100.100/24"], "docker_host": DOCKER[1]},
        {"container": ID1[:12], "ifname": "eth2", "addresses": ["198.51.100.101/24"], "docker_host": DOCKER[1]}]}))
    assert agent.reconcile("reconcile", [DOCKER]) == (0, {})
    assert ops.calls[-1] == ("attach", [ID1[:12], "app1"])


def test_events_die_then_start_batched_and_timed():
    ops, lines = FakeOps(), []
    agent = _agent(ops, lines)
    agent.set_desired(_desired("app1", "app2"))
    evs = [{"action": "die", "id": ID1, "name": "app1", "time": 1000.0},
           {"action": "start", "id": ID1, "name": "app1", "time": 1000.0},
           {"action": "start", "id": ID2, "name": "app2", "time": 1000.1},
           {"action": "start", "id": "9" * 64, "name": "other", "time": 1000.0}]
    assert agent.reconcile("event", events=[(DOCKER, e) for e in evs]) == (0, {})
    assert ops.calls == [("detach", ID1), ("attach", ["app1", "app2"])]  # one batch: one probe wait
    assert lines[0] == "container app1 198.51.100.100/24: host end vl1111 deleted (event die), 250 ms from the event"
    assert lines[2] == "container app2 198.51.100.101/24: attached to br0 as vlapp2 (event start), 150 ms from the event"


def test_a_start_followed_by_a_stop_in_one_batch_is_not_attached():
    ops = FakeOps()
    agent = _agent(ops, [])
    agent.set_desired(_desired("app1"))
    agent.reconcile("event", events=[(DOCKER, {"action": "start", "id": ID1, "name": "app1"}),
                                     (DOCKER, {"action": "stop", "id": ID1, "name": "app1"})])
    assert ops.calls == [("detach", ID1)]


def test_a_failing_attach_is_counted_and_logged():
    class Failing(FakeOps):
        def attach(self, entries):
            return [{"failed": True, "msg": "bridge br0 does not exist", "addresses": []} for _e in entries]
    lines = []
    agent = _agent(Failing({"app1": ID1}), lines)
    agent.set_desired(_desired("app1"))
    assert agent.reconcile("reconcile", [DOCKER]) == (1, {})
    assert lines == ["container app1 198.51.100.100/24: not attached (reconcile): bridge br0 does not exist"]


# -- the loop -----------------------------------------------------------------------------------

class FakeSub:
    def __init__(self, log, url, queued=()):
        self.log, self.url, self.queue, self.closed = log, url, list(queued), False
        log.append(("subscribe", url))

    def fileno(self):
        return 7

    def read(self):
        if self.queue and self.queue[0] == "EOF":
            raise StreamClosed("the engine closed the event stream")
        out, self.queue = self.queue, []
        return out

    def close(self):
        self.closed = True


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def _loop(ops, desired_box, subscribe, clock=None):
    lines = []
    agent = Agent(ops, lines.append, now=lambda: 0)
    clock = clock or Clock()
    notes = []
    waits = []

    def wait(fds, timeout):  # a timer soon: it passes; else the stream has something to read
        if timeout <= 10 or not fds:
            waits.append(timeout)
            clock.t += timeout
            return []
        return [7]
    loop = daemon.Loop(agent, lambda: desired_box[0], subscribe, log=lines.append, clock=clock, wait=wait, notify_fn=notes.append)
    return loop, lines, notes, waits, clock


def test_subscribe_first_then_list_then_ready():
    ops = FakeOps({"app1": ID1})
    subs = []
    loop, _lines, notes, _w, _c = _loop(ops, [_desired("app1")], lambda url: subs.append(FakeSub(ops.calls, url)) or subs[-1])
    loop.start()
    assert ops.calls[:4] == [("firewall",), ("subscribe", DOCKER[1]), ("firewall",), ("inspect", "docker", ("app1",))]
    assert ops.calls[4] == ("attach", ["app1"])
    assert notes == ["READY=1"]


def test_an_event_queued_during_the_list_is_handled_after_it():
    ops = FakeOps({})  # app1 not there yet when listed
    subs = []

    def subscribe(url):
        subs.append(FakeSub(ops.calls, url, [{"action": "start", "id": ID1, "name": "app1"}]))
        return subs[-1]
    loop, _l, _n, _w, _c = _loop(ops, [_desired("app1")], subscribe)
    loop.start()
    assert ("attach", ["app1"]) not in ops.calls
    assert loop.step()
    assert ops.calls[-1] == ("attach", ["app1"])


def test_reconnect_with_backoff_then_list_again():
    ops = FakeOps({"app1": ID1})
    subs = []

    def subscribe(url):
        if len(subs) in (1, 2):  # the engine is restarting: refused twice
            subs.append(None)
            raise StreamClosed("cannot subscribe: Connection refused")
        subs.append(FakeSub(ops.calls, url, ["EOF"] if not subs else []))
        return subs[-1]
    loop, lines, _n, waits, clock = _loop(ops, [_desired("app1")], subscribe)
    loop.start()
    ops.calls[:] = []
    loop.step()  # EOF -> reconnect in 0.1 s
    assert lines[-1].endswith("closed the event stream; trying again in 0.1 s")
    loop.step()  # refused -> 0.2 s
    loop.step()  # refused -> 0.4 s
    assert [line.rsplit(" ", 2)[-2] for line in lines[-2:]] == ["0.2", "0.4"]
    loop.step()  # up again: firewall, list, reconcile
    assert ops.calls[-3:] == [("firewall",), ("inspect", "docker", ("app1",)), ("attach", ["app1"])]
    assert loop.backoff == {} and loop.reconnect_at == {}
    assert waits == pytest.approx([0.1, 0.2, 0.4])
    assert clock.t == pytest.approx(0.7)


def test_engine_down_at_start_still_ready_and_retried():
    ops = FakeOps({"app1": ID1})
    ops.down = True
    loop, lines, notes, _w, _c = _loop(ops, [_desired("app1")], lambda url: FakeSub([], url))
    loop.start()
    assert notes == ["READY=1"] and loop.reconnect_at and not loop.streams
    assert "cannot reach the docker engine; trying again in 0.1 s" in lines[-1]
    ops.down = False
    loop.step()
    assert ops.calls[-1] == ("attach", ["app1"])


def test_sighup_reloads_and_reconciles_the_new_list():
    ops = FakeOps({"app1": ID1, "app2": ID2})
    box = [_desired("app1")]
    loop, lines, _n, _w, _c = _loop(ops, box, lambda url: FakeSub([], url))
    loop.start()
    box[0] = _desired("app1", "app2")
    loop.pending.add("hup")
    ops.calls[:] = []
    loop.step()
    assert ("inspect", "docker", ("app1", "app2")) in ops.calls
    assert "reload: 2 interface(s) of 1 container engine(s) desired" in lines
    box[0] = config.parse({"bridge": "br0", "interfaces": []})  # everything purged: the stream is closed
    loop.pending.add("hup")
    loop.step()
    assert loop.streams == {}


def test_a_bad_state_file_keeps_the_old_list():
    ops = FakeOps({"app1": ID1})
    box = [_desired("app1")]

    def load():
        if loop.ready:
            raise ValidationError("/etc/lanbridge/attachments.json is not JSON")
        return box[0]
    loop, lines, _n, _w, _c = _loop(ops, box, lambda url: FakeSub([], url))
    loop.load = load
    loop.start()
    loop.pending.add("hup")
    loop.step()
    assert lines[-1].startswith("reload: keeping the old desired state")
    assert len(loop.agent.desired.entries) == 1


def test_periodic_and_retry_timers():
    class Flaky(FakeOps):
        fail = 2

        def attach(self, entries):
            self.calls.append(("attach", [e["container"] for e in entries]))
            self.fail -= 1
            return [{"failed": self.fail >= 0, "msg": "bridge br0 does not exist", "addresses": []} for _e in entries]
    ops = Flaky({"app1": ID1})
    loop, _l, _n, waits, _c = _loop(ops, [_desired("app1", interval=300)], lambda url: FakeSub([], url))
    loop.start()  # fails once -> retry in 1 s
    assert loop.timeout() == pytest.approx(1.0)
    loop.step()   # fails again -> 2 s
    assert loop.timeout() == pytest.approx(2.0)
    loop.step()   # succeeds -> next is the periodic one
    assert loop.retry_at is None
    assert loop.timeout() == pytest.approx(300 - 3.0)
    assert waits == pytest.approx([1.0, 2.0])


class PublicOnly:
    """The agent as the daemon may use it: no private attribute, each ``reconcile`` recorded."""

    def __init__(self, agent):
        self.agent = agent
        self.reconciles = []

    def __getattr__(self, name):
        assert not name.startswith("_"), "the daemon reached into the agent: %s" % name
        return getattr(self.agent, name)

    def reconcile(self, why, keys=(), events=()):
        self.reconciles.append((why, list(keys), [(key, e["action"]) for key, e in events]))
        return self.agent.reconcile(why, keys, events)


def _recorded_loop(ops, box):
    """A loop over a recording ``PublicOnly`` agent: a stream is readable while it has events queued."""
    lines, subs, clock = [], [], Clock()
    agent = PublicOnly(Agent(ops, lines.append, now=lambda: 0))

    def subscribe(url):
        subs.append(FakeSub(ops.calls, url))
        return subs[-1]

    def wait(fds, timeout):
        if any(sub.queue for sub in subs):
            return [7]
        clock.t += timeout
        return []
    loop = daemon.Loop(agent, lambda: box[0], subscribe, log=lines.append, clock=clock, wait=wait, notify_fn=[].append)
    return loop, agent, subs


def test_start_up_every_event_reload_and_the_timer_run_the_one_reconcile():
    """The daemon decides nothing itself: each occasion is one ``Agent.reconcile``, and the entries
    of no engine (a netns) are in the same batch as the containers."""
    ops = FakeOps({"app1": ID1})
    box = [config.parse({"bridge": "br0", "interval": 60, "firewall": {"enabled": True}, "interfaces": [
        {"container": "app1", "addresses": ["198.51.100.100/24"], "docker_host": DOCKER[1]},
        {"netns": "blue", "addresses": ["198.51.100.9/24"]}]})]
    loop, agent, subs = _recorded_loop(ops, box)
    loop.start()
    assert ops.calls == [("firewall",), ("subscribe", DOCKER[1]), ("firewall",), ("inspect", "docker", ("app1",)),
                         ("attach", ["app1", "blue"])]
    subs[0].queue.append({"action": "die", "id": ID1, "name": "app1", "time": 0})
    subs[0].queue.append({"action": "start", "id": ID1, "name": "app1", "time": 0})
    loop.step()   # the events
    loop.pending.add("hup")
    loop.step()   # the reload, then the timer: 60 s
    assert agent.reconciles == [("start-up", [DOCKER, None], []),
                                ("event", [], [(DOCKER, "die"), (DOCKER, "start")]),
                                ("reload", [DOCKER, None], []),
                                ("periodic", [DOCKER, None], [])]
    assert ops.calls[-2:] == [("inspect", "docker", ("app1",)), ("attach", ["app1", "blue"])]


def test_an_engine_that_cannot_be_listed_is_reconnected_and_the_rest_still_attached():
    ops = FakeOps({"app1": ID1})
    ops.down = True
    box = [config.parse({"bridge": "br0", "interfaces": [
        {"container": "app1", "addresses": ["198.51.100.100/24"], "docker_host": DOCKER[1]},
        {"netns": "blue", "addresses": ["198.51.100.9/24"]}]})]
    loop, _agent, subs = _recorded_loop(ops, box)
    loop.start()
    assert ("attach", ["blue"]) in ops.calls
    assert subs[0].closed and loop.streams == {} and DOCKER in loop.reconnect_at
    ops.down = False
    loop.step()   # reconnected: subscribe, then that engine alone
    assert ops.calls[-4:] == [("subscribe", DOCKER[1]), ("firewall",), ("inspect", "docker", ("app1",)),
                              ("attach", ["app1"])]
    assert loop.backoff == {} and loop.reconnect_at == {}


def test_term_stops():
    loop, _l, _n, _w, _c = _loop(FakeOps(), [_desired()], lambda url: FakeSub([], url))
    loop.start()
    loop.pending.add("term")
    assert loop.step() is False


# -- sd_notify ----------------------------------------------------------------------------------

def test_notify_datagram_and_abstract_socket(tmp_path):
    path = str(tmp_path / "notify")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    assert daemon.notify("READY=1", {"NOTIFY_SOCKET": path})
    assert server.recv(64) == b"READY=1"
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    abstract.bind("\0lanbridge-test-%d" % os.getpid())
    assert daemon.notify("READY=1", {"NOTIFY_SOCKET": "@lanbridge-test-%d" % os.getpid()})
    assert abstract.recv(64) == b"READY=1"
    assert daemon.notify("READY=1", {}) is False


# -- what the module installs -------------------------------------------------------------------

def test_sources_are_the_agents_import_closure():
    files = install.sources([daemon])
    for rel in ("ansible_collections/__init__.py", "ansible_collections/lanbridge/core/plugins/module_utils/__init__.py",
                "ansible_collections/lanbridge/core/plugins/module_utils/_agent/daemon.py",
                "ansible_collections/lanbridge/core/plugins/module_utils/_container_veth/apply.py",
                "ansible_collections/lanbridge/core/plugins/module_utils/_kernel/netlink.py",
                "ansible_collections/lanbridge/core/plugins/module_utils/_lock.py"):
        assert rel in files, rel
    assert not [rel for rel in files if "_host_bridge" in rel or "_persist" in rel]
    assert files["ansible_collections/lanbridge/core/plugins/module_utils/_agent/daemon.py"] == open(daemon.__file__).read()


def test_sources_do_not_depend_on_what_the_calling_module_loaded():
    """attach_agent and container_veth load different parts of the collection; both install the
    daemon's closure alone (container_veth's report.py, loaded there, made the two disagree)."""
    loaded = [name for name in sys.modules if name.startswith(install.PREFIX)]
    assert install.PREFIX + "_agent.manage" in loaded  # this test module imported it: loaded, not needed
    files = install.sources([daemon])
    assert "ansible_collections/lanbridge/core/plugins/module_utils/_agent/manage.py" not in files
    fewer = dict((name, module) for name, module in sys.modules.items() if not name.endswith("_agent.manage"))
    assert install.sources([daemon], fewer) == files


def test_imported_reads_every_form_of_import():
    text = ('from ansible_collections.lanbridge.core.plugins.module_utils import _firewall\n'
            'from ansible_collections.lanbridge.core.plugins.module_utils._errors import (  # the tree\n'
            '    EngineError,  # one\n    StreamClosed as Closed)\n'
            '    from ansible_collections.lanbridge.core.plugins.module_utils._agent import config as _config\n'
            'from os import path\n')
    m = install.PREFIX
    assert install.imported(text) == {m[:-1], m + "_firewall", m + "_errors", m + "_errors.EngineError",
                                      m + "_errors.StreamClosed", m + "_agent", m + "_agent.config"}


def test_installed_tree_runs_by_itself(tmp_path):
    lib = str(tmp_path / "lib")
    for rel, text in install.sources([daemon]).items():
        os.makedirs(os.path.dirname(os.path.join(lib, rel)), exist_ok=True)
        with open(os.path.join(lib, rel), "w") as f:
            f.write(text)
    code = ("import sys; sys.path.insert(0, %r); "
            "from ansible_collections.lanbridge.core.plugins.module_utils._agent import daemon, ops; "
            "print(daemon.__file__)" % lib)
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True, env={})
    assert out.stdout.startswith(lib)


def test_plan_writes_changed_and_removes_stale():
    wanted = install.wanted_files("/usr/bin/python3", "{}\n", {"a.py": "A", "b.py": "B"}, lib="/L")
    assert wanted[install.STATE_FILE][1] == 0o600 and wanted[install.LAUNCHER][1] == 0o755
    assert wanted[install.LAUNCHER][0].startswith(b"#!/usr/bin/python3\n# lanbridge.core " + COLLECTION_VERSION.encode())
    assert b"Type=notify" in wanted[install.UNIT][0] and b"Restart=always" in wanted[install.UNIT][0]
    assert b"After=docker.service" in wanted[install.UNIT][0]
    live = dict(wanted)
    assert install.plan(wanted, live) == ([], [])
    live["/L/old.py"] = (b"x", 0o644)
    live["/L/__pycache__/a.pyc"] = (b"x", 0o644)
    live["/L/a.py"] = (b"A", 0o600)
    assert install.plan(wanted, live) == (["/L/a.py"], ["/L/old.py"])


def test_version_is_galaxys():
    text = open(os.path.join(ROOT, "galaxy.yml")).read()
    assert re.search(r"^version: *(\S+)", text, re.M).group(1) == COLLECTION_VERSION


def test_state_text_round_trips():
    text = install.state_text("br0", [{"container": "app1", "addresses": ["198.51.100.10/24"]}], True, "c", 300)
    desired = config.parse(json.loads(text))
    assert desired.firewall["enabled"] and desired.entries[0]["container"] == "app1"


# -- installing and removing (manage) on a host without systemd ---------------------------------

def test_manage_without_systemd_refuses_present_and_absent_is_a_no_op(monkeypatch):
    monkeypatch.setattr(manage.shutil, "which", lambda name: None)
    ran = []

    def run(argv):
        ran.append(argv)
        return 0, "", ""
    params = {"state": "absent", "bridge": "br0", "interfaces": [], "firewall": True,
              "firewall_comment": "c", "interval": 300}
    result = manage.manage(params, run, False)
    assert result["changed"] is False and result["skipped_reason"] == "no systemd on this host" and ran == []
    with pytest.raises(AgentError, match="runs as a systemd service, and this host has no systemctl"):
        manage.manage(dict(params, state="present"), run, False)
    assert ran == []
