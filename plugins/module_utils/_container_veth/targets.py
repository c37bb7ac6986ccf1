# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resolve a target -- a container (through its engine), a PID, or a network namespace name or
path -- to the path of its network namespace and a stable identity.

Nothing here enters a namespace (``_kernel.netns`` does that); this only finds it. Standard library only.

A resolved target is a plain dict::

    {'kind': 'container'|'pid'|'netns', 'path': '/proc/4242/ns/net', 'inode': 4026532890,
     'identity': 'container:<id>' or 'netns:<inode>', 'container_id': ..., 'container_name': ...,
     'pid': 4242 or None, 'netns': '/proc/4242/ns/net'}
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import names as _names
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.engine import EngineError

NETNS_RUN_DIR = "/run/netns"
SELF_NETNS = "/proc/self/ns/net"


class TargetError(Exception):
    """One sentence naming the target and why it cannot be used."""


def netns_path(value):
    """A name under ``/run/netns`` or an absolute path -> the path."""
    if "/" in value:
        return value
    return os.path.join(NETNS_RUN_DIR, value)


def _inode(path, what):
    try:
        st = os.stat(path)
    except OSError as exc:
        raise TargetError("%s: network namespace %s cannot be opened: %s" % (what, path, exc.strerror or exc)) from exc
    return st.st_dev, st.st_ino


def _check_not_here(key, what, here):
    if here is not None and key == here:
        raise TargetError("%s shares the host's network namespace; it needs a network namespace of its own "
                          "(for Docker: --network none)" % what)


def _namespace_target(kind, path, what, here, pid=None):
    """A ``pid`` or ``netns`` target: identified by its namespace's inode, no container."""
    key = _inode(path, what)
    _check_not_here(key, what, here)
    return {
        "kind": kind, "path": path, "inode": key[1], "netns": path, "pid": pid,
        "identity": _names.netns_identity(key[1]),
        "container_id": None, "container_name": None, "what": what,
    }


def resolve(entry, engines, here=None):
    """Resolve ``entry`` (the module's options for one interface) to a target dict.

    ``engines`` is an ``_engine.Engines`` (one per module run, so lookups are cached);
    ``here`` is ``(st_dev, st_ino)`` of the namespace the module runs in: a target that resolves to
    it is refused, so the module never rewires the host's own namespace as if it were a container.
    Raises ``TargetError`` / ``EngineError``.
    """
    if here is None:
        here = _inode(SELF_NETNS, "the module's own namespace")
    if entry.get("container"):
        engine = engines.get(entry.get("runtime") or "auto", entry.get("docker_host"))
        info = engine.running(entry["container"])
        path = "/proc/%d/ns/net" % info["pid"]
        what = "container %s" % entry["container"]
        key = _inode(path, what)
        _check_not_here(key, what, here)
        return {
            "kind": "container", "path": path, "inode": key[1], "netns": path, "pid": info["pid"],
            "identity": _names.container_identity(info["id"]),
            "container_id": info["id"], "container_name": info["name"], "what": what,
        }
    if entry.get("pid") is not None:
        pid = int(entry["pid"])
        if pid <= 0:
            raise TargetError("pid %d is not a process ID" % pid)
        path = "/proc/%d/ns/net" % pid
        what = "pid %d" % pid
        if not os.path.exists("/proc/%d" % pid):
            raise TargetError("pid %d: no such process" % pid)
        return _namespace_target("pid", path, what, here, pid=pid)
    if entry.get("netns"):
        path = netns_path(entry["netns"])
        what = "netns %s" % entry["netns"]
        return _namespace_target("netns", path, what, here)
    raise TargetError("no target: give one of container, pid or netns")


__all__ = ["TargetError", "EngineError", "resolve", "netns_path", "TARGET_SPEC", "TARGET_OPTIONS"]


# The argument spec that goes with the ``container_target`` doc fragment.
TARGET_SPEC = {
    "container": {"type": "str"},
    "runtime": {"type": "str", "choices": ["auto", "docker", "podman"]},
    "docker_host": {"type": "str"},
    "pid": {"type": "int"},
    "netns": {"type": "str"},
}
TARGET_OPTIONS = ("container", "pid", "netns")
