"""The engine client against a real HTTP server on a unix socket in a temporary directory."""
import json
import os
import socketserver
import threading
from http.server import BaseHTTPRequestHandler

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import engine as _engine
from ansible_collections.lanbridge.core.plugins.module_utils._errors import EngineError

CID = "a" * 64
CONTAINERS = {
    "web1": {"Id": CID, "Name": "/web1", "State": {"Running": True, "Pid": 4242}},
    "old1": {"Id": "b" * 64, "Name": "/old1", "State": {"Running": False, "Pid": 0}},
    "side": {"Id": "c" * 64, "Name": "/side", "State": {"Running": True, "Pid": 4343},
             "HostConfig": {"NetworkMode": "container:" + CID}},
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def address_string(self):
        return "unix"

    def do_GET(self):
        self.server.requests.append(self.path)
        parts = self.path.split("/")
        found = None
        if len(parts) == 4 and parts[1] == "containers" and parts[3] == "json":
            key = parts[2]
            found = CONTAINERS.get(key) or next((c for c in CONTAINERS.values() if c["Id"].startswith(key)), None)
        body = json.dumps(found or {"message": "No such container: %s" % parts[2]}).encode()
        self.send_response(200 if found else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


@pytest.fixture
def server(tmp_path):
    path = str(tmp_path / "docker.sock")
    srv = _Server(path, _Handler)
    srv.requests = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv, "unix://" + path
    srv.shutdown()
    srv.server_close()


def test_inspect_running_container(server):
    srv, url = server
    engine = _engine.Engine("docker", url)
    info = engine.running("web1")
    assert info == {"id": CID, "name": "web1", "pid": 4242, "running": True, "network_mode": "", "pod": None,
                    "is_infra": None}
    # by ID prefix, and cached: a second lookup of either costs no request
    assert engine.running("aaaa")["name"] == "web1"
    engine.running("web1")
    engine.running(CID)
    assert srv.requests == ["/containers/web1/json", "/containers/aaaa/json"]
    engine.close()


def test_many_lookups_share_one_connection(server):
    srv, url = server
    engine = _engine.Engine("docker", url)
    for _attempt in range(3):
        engine._cache.clear()
        engine.inspect("web1")
    assert len(srv.requests) == 3
    engine.close()


def test_unknown_container(server):
    _srv, url = server
    with pytest.raises(EngineError) as err:
        _engine.Engine("docker", url).inspect("web9")
    assert str(err.value) == "no container named web9 (runtime docker at %s)" % url


def test_stopped_container(server):
    _srv, url = server
    with pytest.raises(EngineError) as err:
        _engine.Engine("docker", url).running("old1")
    assert str(err.value) == "container old1 is not running"


def test_engine_socket_missing(tmp_path):
    url = "unix://%s" % (tmp_path / "nothing.sock")
    with pytest.raises(EngineError) as err:
        _engine.Engine("podman", url).inspect("web1")
    assert str(err.value).startswith("cannot reach the podman engine at %s: " % url)
    assert "No such file or directory" in str(err.value)


@pytest.mark.parametrize("runtime, docker_host, environ, existing, expected", [
    ("auto", None, {}, {"/run/docker.sock"}, ("docker", "unix:///run/docker.sock")),
    ("auto", None, {}, {"/run/podman/podman.sock"}, ("podman", "unix:///run/podman/podman.sock")),
    ("auto", None, {}, set(), ("docker", "unix:///run/docker.sock")),
    ("auto", None, {"DOCKER_HOST": "unix:///x/d.sock"}, set(), ("docker", "unix:///x/d.sock")),
    ("auto", "/run/user/0/podman/podman.sock", {"DOCKER_HOST": "unix:///x/d.sock"}, set(),
     ("podman", "unix:///run/user/0/podman/podman.sock")),
    ("podman", None, {}, {"/run/docker.sock"}, ("podman", "unix:///run/podman/podman.sock")),
    ("docker", "unix:///tmp/e.sock", {}, set(), ("docker", "unix:///tmp/e.sock")),
])
def test_choose(runtime, docker_host, environ, existing, expected):
    assert _engine.choose(runtime, docker_host, environ, exists=existing.__contains__) == expected


def test_tcp_docker_host_is_refused():
    with pytest.raises(EngineError) as err:
        _engine.choose("docker", "tcp://203.0.113.5:2375", {})
    assert "not a unix socket" in str(err.value)


def test_socket_path_helper():
    assert _engine.socket_path("unix:///run/docker.sock") == "/run/docker.sock"
    assert os.path.isabs(_engine.socket_path("/run/docker.sock"))


def test_fresh_inspect_asks_again_and_network_mode_is_read(server):
    srv, url = server
    engine = _engine.Engine("docker", url)
    assert engine.inspect("side")["network_mode"] == "container:" + CID
    assert engine.inspect("side", fresh=True)["pid"] == 4343
    assert srv.requests == ["/containers/side/json", "/containers/side/json"]
    engine.close()


@pytest.mark.parametrize("data, expected", [
    ({"Id": "x", "HostConfig": {"NetworkMode": "host"}}, ("host", None, None)),
    ({"Id": "x", "HostConfig": {"NetworkMode": "none"}}, ("none", None, None)),
    ({"Id": "x", "Pod": "p1", "IsInfra": False}, ("", "p1", False)),
    ({"Id": "x"}, ("", None, None)),
])
def test_parse_inspect_network_fields(data, expected):
    info = _engine.parse_inspect(data, "n")
    assert (info["network_mode"], info["pod"], info["is_infra"]) == expected
