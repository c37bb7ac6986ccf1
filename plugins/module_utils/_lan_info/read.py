# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``lan_info`` reads, and only reads: dumps of links, addresses and routes (through
``_kernel.netlink.Netlink``'s standard-library path, retried when torn) and the engine's inspect
answers. Nothing here sends a netlink request that changes anything or opens a pyroute2 socket.

``read_host()`` -> the dump of the namespace the module runs in, with its proxy neighbour entries
    (``proxy``, ``Netlink.proxy_neighbours()``).
``TargetReader(engine)``: ``target(identity)`` -> the target an attachment's label names (a
container, through ``engine``, or a namespace), read once per identity::

    {'state': 'running'|'stopped'|'gone'|'unknown' (container) or 'found'|'missing' (namespace),
     'dump': the namespace's dump or None, 'netns': its path, 'pid': ..., 'container_name': ...,
     'error': a sentence or None}

    A container is asked of the engine by its full ID; a running one's namespace is opened once
    (``_container_veth.targets.open_namespace``: nsfs, network type, non-blocking) and the engine is
    asked again, so a container that restarted in between is not read through a reused PID. A
    ``netns:<inode>`` namespace is looked for by its inode under ``/run/netns``, then in
    ``/proc/PID/ns/net`` of every process (``NamespaceFinder``, one scan per run).
"""

import os

from urllib.parse import quote

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.engine import parse_inspect
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.targets import (
    NETNS_RUN_DIR, SELF_NETNS, open_namespace,
)
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netlink import Netlink
from ansible_collections.lanbridge.core.plugins.module_utils._lan_info.attachments import target_kind
from ansible_collections.lanbridge.core.plugins.module_utils._errors import EngineError, KernelError, TargetError

ATTEMPTS = 3


def read_host():
    with Netlink() as nl:
        return dict(nl.dump(), proxy=nl.proxy_neighbours())


def read_namespace(path, what, inode=None):
    """The dump of the network namespace at ``path``, opened once and checked; ``None`` when it is
    not (any more) the namespace of inode ``inode``. Raises ``TargetError`` or ``KernelError``."""
    fd = open_namespace(path, what)
    try:
        if inode is not None and os.fstat(fd).st_ino != inode:
            return None
        with Netlink("/proc/self/fd/%d" % fd) as nl:
            return nl.dump()
    finally:
        os.close(fd)


class NamespaceFinder:
    """Network namespaces by inode: names under ``/run/netns`` first, then ``/proc/PID/ns/net``."""

    def __init__(self, run_dir=NETNS_RUN_DIR, proc="/proc"):
        self.run_dir, self.proc = run_dir, proc
        self._dev = os.stat(SELF_NETNS).st_dev  # every namespace file is on the one nsfs
        self._found = None

    def _add(self, path, pid):
        try:
            st = os.stat(path)
        except OSError:
            return
        if st.st_dev == self._dev:
            self._found.setdefault(st.st_ino, (path, pid))

    def _scan(self):
        self._found = {}
        try:
            names = sorted(os.listdir(self.run_dir))
        except OSError:
            names = []
        for name in names:
            self._add(os.path.join(self.run_dir, name), None)
        try:
            pids = sorted(int(entry) for entry in os.listdir(self.proc) if entry.isdigit())
        except OSError:
            pids = []
        for pid in pids:
            self._add(os.path.join(self.proc, str(pid), "ns", "net"), pid)

    def find(self, inode):
        """``(path, pid)`` of the namespace with inode ``inode`` (``pid`` None for a name), or ``(None, None)``."""
        if self._found is None:
            self._scan()
        return self._found.get(inode, (None, None))


def lookup(engine, container_id):
    """``{'state': 'running'|'stopped'|'gone'|'unknown', 'info', 'error'}`` of a container, by its ID."""
    try:
        status, data = engine._get("/containers/%s/json" % quote(container_id, safe=""))  # pylint: disable=protected-access
    except EngineError as exc:
        return {"state": "unknown", "info": None, "error": str(exc), "unreachable": True}
    if status == 404:
        return {"state": "gone", "info": None, "error": None}
    if status != 200 or not isinstance(data, dict):
        message = data.get("message") if isinstance(data, dict) else None
        return {"state": "unknown", "info": None, "error": "the %s engine at %s answered %d for container %s%s"
                % (engine.runtime, engine.url, status, container_id[:12], ": " + message if message else "")}
    info = parse_inspect(data, container_id)
    return {"state": "running" if info["running"] and info["pid"] > 0 else "stopped", "info": info, "error": None}


class TargetReader:
    """The targets named by the host's labels, each read once (see the module docstring)."""

    def __init__(self, engine):
        self.engine = engine
        self.finder = NamespaceFinder()
        self._targets = {}
        self._unreachable = None  # the engine's first "cannot reach": not asked again in this run

    def targets(self):
        return list(self._targets.values())

    def target(self, identity):
        if identity not in self._targets:
            kind = target_kind(identity)
            value = identity.partition(":")[2]
            try:
                if kind == "container":
                    found = self._container(value)
                elif kind == "netns":
                    found = self._namespace(int(value))
                else:
                    found = {"state": "unknown", "error": None}
            except (TargetError, KernelError) as exc:
                found = {"state": "unknown", "error": str(exc)}
            self._targets[identity] = found
        return self._targets[identity]

    def _container(self, container_id):
        if self._unreachable is not None:
            return _container_target(self._unreachable)
        found = lookup(self.engine, container_id)
        if found.get("unreachable"):
            self._unreachable = found
        for _attempt in range(ATTEMPTS):
            if found["state"] != "running":
                return _container_target(found)
            pid = found["info"]["pid"]
            path = "/proc/%d/ns/net" % pid
            try:
                fd = open_namespace(path, "container %s" % found["info"]["name"])
            except TargetError:
                found = lookup(self.engine, container_id)  # it stopped or restarted in between
                continue
            try:
                again = lookup(self.engine, container_id)
                if again["state"] == "running" and again["info"]["pid"] == pid:
                    with Netlink("/proc/self/fd/%d" % fd) as nl:
                        return _container_target(again, nl.dump(), path)
                found = again
            finally:
                os.close(fd)
        return {"state": "unknown", "error": "container %s keeps restarting; its namespace could not be read"
                % container_id[:12]}

    def _namespace(self, inode):
        path, pid = self.finder.find(inode)
        if path is None:
            return {"state": "missing"}
        dump = read_namespace(path, "namespace %s" % path, inode)
        if dump is None:
            return {"state": "missing"}
        return {"state": "found", "dump": dump, "netns": path, "pid": pid}


def _container_target(found, dump=None, path=None):
    info = found.get("info") or {}
    return {"state": found["state"], "dump": dump, "netns": path, "pid": info.get("pid") if dump else None,
            "container_name": info.get("name"), "error": found.get("error")}
