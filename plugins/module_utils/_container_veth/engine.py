# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A very small client for the Docker Engine API (which Podman's service also speaks) over a unix
socket, with the standard library only: ``GET /containers/{name}/json`` gives the container's ID,
name, PID, whether it runs, and its network mode (``HostConfig.NetworkMode``: ``none``, ``bridge``,
``host``, ``container:<id>``; Podman's own fields ``Pod`` and ``IsInfra`` where it sends them).
No CLI, no docker SDK.

One ``Engine`` per socket per module run: it keeps one HTTP/1.1 connection open and caches every
answer, so looking up 100 containers costs 100 small requests on one connection, and looking up the
same container twice costs one.

``ENGINE_SPEC``: the argument spec of the options that pick the engine (``runtime``, ``docker_host``),
documented by the ``engine`` doc fragment; ``container_veth`` and ``lan_info`` take them.
"""

import json
import os
import socket

import http.client as httplib
from urllib.parse import quote

from ansible_collections.lanbridge.core.plugins.module_utils._errors import EngineError

DOCKER_SOCKET = "unix:///run/docker.sock"
PODMAN_SOCKET = "unix:///run/podman/podman.sock"
DEFAULT_SOCKETS = {"docker": DOCKER_SOCKET, "podman": PODMAN_SOCKET}
API_TIMEOUT = 30.0
ENGINE_SPEC = {
    "runtime": {"type": "str", "choices": ["auto", "docker", "podman"]},
    "docker_host": {"type": "str"},
}


class _UnixHTTPConnection(httplib.HTTPConnection):
    def __init__(self, path, timeout=API_TIMEOUT):
        httplib.HTTPConnection.__init__(self, "localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except Exception:
            sock.close()
            raise
        self.sock = sock


def socket_path(url):
    """``unix:///run/docker.sock`` or ``/run/docker.sock`` -> ``/run/docker.sock``."""
    if url.startswith("unix://"):
        return url[len("unix://"):]
    if url.startswith("/"):
        return url
    raise EngineError("docker_host %s is not a unix socket (unix:///path/to/socket)" % url)


def choose(runtime="auto", docker_host=None, environ=None, exists=os.path.exists):
    """Pick ``(runtime, url)``: the option, else ``DOCKER_HOST``, else the runtime's standard socket.

    With ``runtime: auto`` (or None) and no socket given, the Docker socket is used when it exists, else
    Podman's. The runtime name only labels messages: both engines answer the same API.
    """
    environ = os.environ if environ is None else environ
    url = docker_host or environ.get("DOCKER_HOST")
    if runtime in (None, "auto"):
        if url:
            runtime = "podman" if "podman" in url else "docker"
        elif not exists(socket_path(DOCKER_SOCKET)) and exists(socket_path(PODMAN_SOCKET)):
            runtime = "podman"
        else:
            runtime = "docker"
    if not url:
        url = DEFAULT_SOCKETS[runtime]
    if not url.startswith("unix://"):
        url = "unix://" + socket_path(url)
    socket_path(url)
    return runtime, url


class Engine:
    """Inspect containers through one engine socket; answers are cached for the run."""

    def __init__(self, runtime, url, timeout=API_TIMEOUT):
        self.runtime = runtime
        self.url = url
        self.path = socket_path(url)
        self.timeout = timeout
        self._conn = None
        self._cache = {}

    def __repr__(self):
        return "runtime %s at %s" % (self.runtime, self.url)

    def close(self):
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _get(self, path):
        """GET ``path``: ``(status, decoded JSON or None)``; one retry on a dropped keep-alive."""
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = _UnixHTTPConnection(self.path, self.timeout)
            try:
                self._conn.request("GET", path, headers={"Host": "localhost", "Accept": "application/json"})
                resp = self._conn.getresponse()
                body = resp.read()
            except (httplib.HTTPException, OSError) as exc:
                self.close()
                if attempt == 1 and isinstance(exc, (httplib.BadStatusLine, ConnectionResetError, BrokenPipeError)):
                    continue
                raise EngineError("cannot reach the %s engine at %s: %s" % (self.runtime, self.url, _reason(exc))) from exc
            try:
                data = json.loads(body.decode("utf-8")) if body else None
            except ValueError:
                data = None
            return resp.status, data
        raise EngineError("cannot reach the %s engine at %s" % (self.runtime, self.url))  # pragma: no cover

    def inspect(self, name, fresh=False):
        """``{'id', 'name', 'pid', 'running', 'network_mode', 'pod', 'is_infra'}`` of container ``name``
        (a name or an ID); ``fresh`` asks the engine again instead of answering from the cache."""
        if name in self._cache and not fresh:
            return self._cache[name]
        status, data = self._get("/containers/%s/json" % quote(name, safe=""))
        if status == 404:
            raise EngineError("no container named %s (%s)" % (name, self))
        if status != 200 or not isinstance(data, dict):
            message = data.get("message") if isinstance(data, dict) else None
            raise EngineError("the %s engine at %s answered %d for container %s%s"
                              % (self.runtime, self.url, status, name, ": " + message if message else ""))
        info = parse_inspect(data, name)
        self._cache[name] = info
        self._cache[info["id"]] = info
        return info

    def running(self, name):
        """Like ``inspect`` but fails with ``container NAME is not running`` for a stopped one."""
        info = self.inspect(name)
        if not info["running"] or info["pid"] <= 0:
            raise EngineError("container %s is not running" % name)
        return info


def parse_inspect(data, name):
    """The part of an inspect answer the module uses (see ``Engine.inspect``)."""
    state = data.get("State") or {}
    host_config = data.get("HostConfig") or {}
    is_infra = data.get("IsInfra")
    return {
        "id": data.get("Id"),
        "name": (data.get("Name") or "").lstrip("/") or name,
        "pid": int(state.get("Pid") or 0),
        "running": bool(state.get("Running")),
        "network_mode": host_config.get("NetworkMode") or "",
        "pod": data.get("Pod") or None,
        "is_infra": bool(is_infra) if is_infra is not None else None,
    }


def _reason(exc):
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or exc.__class__.__name__


class Engines:
    """One ``Engine`` per (runtime, socket) for a module run, so every lookup shares its cache."""

    def __init__(self, environ=None):
        self._environ = environ
        self._engines = {}

    def get(self, runtime="auto", docker_host=None):
        runtime, url = choose(runtime, docker_host, self._environ)
        key = (runtime, url)
        if key not in self._engines:
            self._engines[key] = Engine(runtime, url)
        return self._engines[key]

    def close(self):
        for engine in self._engines.values():
            engine.close()
