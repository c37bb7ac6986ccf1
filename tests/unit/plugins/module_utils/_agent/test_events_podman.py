"""The event stream against Podman's Docker-compatible ``/events`` (Podman 4.3), on plain data.

Podman reports a container's exit as ``die`` but matches the ``event`` filter against its own
name for it, ``died``; its ``stop`` is not sent on every stop. A subscription filtered on
``start``/``die``/``stop`` alone therefore saw no exit at all on Podman (the agent never deleted a
stopped container's host end). Found by tests/lab/test_agent_podman.py; the events below are the
ones Podman 4.3.1 sent there for a ``podman restart`` (IDs and times shortened).
"""
import json
import os
import socket
import threading
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._agent import config, events
from ansible_collections.lanbridge.core.plugins.module_utils._agent.reconcile import Agent
from ansible_collections.lanbridge.core.plugins.module_utils._errors import StreamClosed

ID = "1ce028a031185440eb6dccd39f16f187a533416bdce3379cdd61260d1027d207"
PODMAN_HEADERS = (b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\n"
                  b"Libpod-Api-Version: 4.3.1\r\nServer: Libpod/4.3.1 (linux)\r\nTransfer-Encoding: chunked\r\n\r\n")
# Podman's name of each event that its compatible API reports under the Docker name
PODMAN_OWN_NAME = {"die": "died"}


def _podman_event(status, when):
    attributes = {"containerExitCode": "0", "image": "localhost/lanbridge/busybox:lab", "name": "app1", "podId": ""}
    return {"status": status, "id": ID, "from": "localhost/lanbridge/busybox:lab", "Type": "container",
            "Action": status, "Actor": {"ID": ID, "Attributes": attributes}, "scope": "local",
            "time": when // 10 ** 9, "timeNano": when}


# `podman restart app1`, as sent unfiltered (no "stop" this time: Podman sends it on some stops only)
RESTART = [_podman_event(s, 1796172427 * 10 ** 9 + i) for i, s in enumerate(("restart", "die", "cleanup", "init", "start"))]


def _podman_filter(filters, event):
    """What Podman 4.3's compatible API lets through: the ``event`` filter matched against its own names."""
    own = PODMAN_OWN_NAME.get(event["status"], event["status"])
    return own in filters.get("event", [own]) and event["Type"] in filters.get("type", [event["Type"]])


def _query_filters(request):
    line = request.decode("ascii").split("\r\n", 1)[0]
    url = urlsplit(line.split(" ")[1])
    assert url.path == "/events"
    return json.loads(unquote(parse_qs(url.query)["filters"][0]))


def test_the_filter_names_podmans_died_and_dockers_die():
    filters = _query_filters(events.request())
    assert filters == {"type": ["container"], "event": ["start", "die", "stop", "died"]}


def test_podman_lets_the_exit_through_only_as_died():
    """The regression: with ``die`` alone Podman drops the exit, with ``died`` it is sent (as ``die``)."""
    old = {"type": ["container"], "event": ["start", "die", "stop"]}
    assert [e["status"] for e in RESTART if _podman_filter(old, e)] == ["start"]
    new = _query_filters(events.request())
    assert [e["status"] for e in RESTART if _podman_filter(new, e)] == ["die", "start"]


@pytest.mark.parametrize("status", ["die", "died"])
def test_parse_event_reads_died_as_die(status):
    event = events.parse_event(dict(RESTART[1], status=status, Action=status))
    assert event == {"action": "die", "id": ID, "name": "app1", "time": 1796172427.000000001}


def test_parse_event_ignores_podmans_other_container_events():
    assert [events.parse_event(e) for e in RESTART if e["status"] in ("restart", "cleanup", "init")] == [None] * 3
    assert events.parse_event(dict(RESTART[0], status="sync", Action="sync")) is None


class FakePodman:
    """A unix socket that answers ``GET /events`` the way Podman 4.3 does: its headers at once,
    then each event that its own filter matching lets through, one chunk per event."""

    def __init__(self, path, sent):
        self.path = path
        self.sent = sent
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(path)
        self.server.listen(1)
        self.request = None
        self.go = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        conn, _address = self.server.accept()
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(4096)
            self.request = data
            conn.sendall(PODMAN_HEADERS)
            self.go.wait(5)
            filters = _query_filters(data)
            for event in self.sent:
                if _podman_filter(filters, event):
                    body = (json.dumps(event, separators=(",", ":")) + "\n").encode()
                    conn.sendall(b"%x\r\n" % len(body) + body + b"\r\n")
            conn.sendall(b"0\r\n\r\n")

    def close(self):
        self.thread.join(5)
        self.server.close()


def test_subscription_to_a_podman_shaped_stream_sees_die_then_start(tmp_path):
    path = os.path.join(str(tmp_path), "podman.sock")
    podman = FakePodman(path, RESTART)
    try:
        sub = events.Subscription("unix://" + path, timeout=5)
        podman.go.set()
        got = []
        sub.sock.settimeout(5)  # blocking reads for the test: the stream is short
        sub.sock.setblocking(True)
        with pytest.raises(StreamClosed, match="closed the event stream"):
            while True:
                got += sub.read()
        sub.close()
    finally:
        podman.close()
    assert [(e["action"], e["name"]) for e in got] == [("die", "app1"), ("start", "app1")]


class _Ops:
    def __init__(self):
        self.calls = []

    def detach(self, container_id, ifnames, bridges):
        self.calls.append(("detach", container_id, tuple(ifnames)))
        return ["vl1ce028a0311"]

    def attach(self, entries):
        self.calls.append(("attach", tuple(e["container"] for e in entries)))
        return [{"container_name": e["container"], "addresses": e["addresses"], "bridge": e["bridge"],
                 "host_ifname": "vl1ce028a0311", "changed": True} for e in entries]


def test_a_podman_restart_detaches_then_attaches():
    desired = config.parse({"bridge": "br0", "interfaces": [
        {"container": "app1", "runtime": "podman", "docker_host": "unix:///run/lab/podman.sock",
         "addresses": ["198.51.100.111/24"]}]})
    key = desired.engines()[0]
    assert key == ("podman", "unix:///run/lab/podman.sock")
    ops, lines = _Ops(), []
    agent = Agent(ops, lines.append, now=lambda: 1796172427.5)
    agent.set_desired(desired)
    filters = _query_filters(events.request())
    batch = [e for e in (events.parse_event(x) for x in RESTART if _podman_filter(filters, x)) if e]
    assert agent.reconcile("event", events=[(key, e) for e in batch[:1]]) == (0, {})
    assert agent.reconcile("event", events=[(key, e) for e in batch[1:]]) == (0, {})
    assert ops.calls == [("detach", ID, ("eth1",)), ("attach", ("app1",))]
    assert lines[0].startswith("container app1 198.51.100.111/24: host end vl1ce028a0311 deleted (event die)")
    assert lines[1].startswith("container app1 198.51.100.111/24: attached to br0 as vl1ce028a0311 (event start)")
