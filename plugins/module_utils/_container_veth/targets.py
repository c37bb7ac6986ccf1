# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Resolve a target -- a container (through its engine), a PID, or a network namespace name or
path -- to its network namespace, opened once, and a stable identity.

The namespace is opened here, once per entry, and every later step reaches it through that file
descriptor (``fd``, named by ``fd_path`` = ``/proc/self/fd/N``): nothing re-opens it by path or by
PID, so a container that restarts (and a PID that is reused) in the meantime cannot redirect a
step to another namespace. Opening is careful: the path must be a regular file (an nsfs file is
one; a FIFO or a device node is refused without being opened), it is opened with ``O_NONBLOCK``,
and the descriptor must be on nsfs (``fstatfs``, ``NSFS_MAGIC``) and a *network* namespace
(``NS_GET_NSTYPE``) before anything else uses it. Refused too: a target in the module's own
namespace, and a container without a network namespace of its own (``--network host``,
``--network container:X``, a Podman pod member): the sentence names its owner.

Nothing here enters or inspects a namespace itself: ``_kernel.netns`` enters them and tells whether
a descriptor is one (``netns_fd_problem``); this file turns its answer into the target's sentence.
Standard library only.

A resolved target is a plain dict::

    {'kind': 'container'|'pid'|'netns', 'fd': 7, 'fd_path': '/proc/self/fd/7', 'inode': 4026532890,
     'identity': 'container:<id>' or 'netns:<inode>', 'container_id': ..., 'container_name': ...,
     'pid': 4242 or None, 'netns': '/proc/4242/ns/net' (as reported), 'what': 'container web1'}

``close(target)`` closes its descriptor (the module does, at the end of the run).
``raise_nofile_limit(entries)`` lifts the soft ``RLIMIT_NOFILE`` towards the hard one for a large batch.
"""

import os
import resource
import select
import stat

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.engine import ENGINE_SPEC
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import names as _names
from ansible_collections.lanbridge.core.plugins.module_utils._kernel import netns as _netns
from ansible_collections.lanbridge.core.plugins.module_utils._errors import (
    EngineError, SharedNamespaceError, TargetError,
)

NETNS_RUN_DIR = "/run/netns"
SELF_NETNS = _netns.SELF_NETNS
OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY
FDS_PER_ENTRY = 4  # namespace, netlink socket (and its own namespace fd), packet socket


def netns_path(value):
    """A name under ``/run/netns`` or an absolute path -> the path."""
    if "/" in value:
        return value
    return os.path.join(NETNS_RUN_DIR, value)


def _kind(mode):
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "directory"), (stat.S_ISLNK, "symbolic link")):
        if test(mode):
            return name
    return "special file"


def _check_netns_fd(fd, path, what):
    """Raise unless ``fd`` is a network namespace (``_kernel.netns.netns_fd_problem``)."""
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        raise TargetError("%s: %s is not a network namespace (it is a %s)" % (what, path, _kind(os.fstat(fd).st_mode)))
    problem = _netns.netns_fd_problem(fd)
    if problem == _netns.NOT_NSFS:
        raise TargetError("%s: %s is not a network namespace (not a namespace file: give a name under %s or a "
                          "path such as /proc/PID/ns/net)" % (what, path, NETNS_RUN_DIR))
    if problem == _netns.OTHER_NAMESPACE:
        raise TargetError("%s: %s is a namespace, but not a network namespace" % (what, path))
    if problem is not None:
        raise TargetError("%s: %s is not a network namespace" % (what, path))


def open_namespace(path, what):
    """Open the network namespace at ``path`` once -> its file descriptor; ``TargetError`` otherwise.

    A FIFO or a device node is refused before it is opened (opening a FIFO blocks, opening a
    watchdog arms it); the open itself is non-blocking, and the descriptor is checked before use.
    """
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):
            raise TargetError("%s: %s is not a network namespace (it is a %s)" % (what, path, _kind(mode)))
        fd = os.open(path, OPEN_FLAGS)
    except (OSError, ValueError) as exc:
        raise TargetError("%s: network namespace %s cannot be opened: %s"
                          % (what, path, getattr(exc, "strerror", None) or exc)) from exc
    try:
        _check_netns_fd(fd, path, what)
    except OSError as exc:
        os.close(fd)
        raise TargetError("%s: network namespace %s cannot be checked: %s" % (what, path, exc.strerror or exc)) from exc
    except Exception:
        os.close(fd)
        raise
    return fd


def close(target):
    """Close the namespace descriptor of a resolved target (harmless twice)."""
    if target and target.get("fd") is not None:
        os.close(target["fd"])
        target["fd"] = None


def raise_nofile_limit(entries):
    """Lift the soft limit on open files (towards the hard one) so that ``entries`` entries fit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 256 + FDS_PER_ENTRY * entries
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)
        if new > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


def _check_not_here(fd, what, here):
    st = os.fstat(fd)
    if here is not None and (st.st_dev, st.st_ino) == tuple(here):
        raise TargetError("%s shares the host's network namespace; it needs a network namespace of its own "
                          "(for Docker: --network none)" % what)
    return st.st_ino


def _target(kind, fd, what, here, **extra):
    try:
        inode = _check_not_here(fd, what, here)
    except Exception:
        os.close(fd)
        raise
    out = {"kind": kind, "fd": fd, "fd_path": "/proc/self/fd/%d" % fd, "inode": inode, "pid": None,
           "identity": _names.netns_identity(inode), "container_id": None, "container_name": None, "what": what}
    out.update(extra)
    return out


def _owner_name(engine, ref):
    try:
        return engine.inspect(ref)["name"]
    except EngineError:
        return ref


def check_network_mode(info, what, engine=None):
    """Refuse a container without a network namespace of its own, naming the owner of the one it uses."""
    mode = info.get("network_mode") or ""
    if mode == "host":
        raise SharedNamespaceError("%s uses the host's network (--network host): it has no network namespace of its "
                                   "own to attach to" % what, info)
    owner = None
    if mode.startswith("container:"):
        owner = mode.partition(":")[2]
    elif info.get("pod") and info.get("is_infra") is False:
        owner = info.get("pod_infra") or "the infra container of pod %s" % info["pod"]
    if owner:
        name = _owner_name(engine, owner) if engine is not None and not owner.startswith("the ") else owner
        shown = name if name.startswith("the ") else "container %s" % name
        raise SharedNamespaceError("%s shares the network namespace of %s (network mode %s); target %s instead, "
                                   "whose attachment then serves both" % (what, shown, mode or "pod", shown), info)


def _pidfd(pid):
    try:  # os.pidfd_open: Python 3.9+ on Linux 5.3+; without it the engine's second answer alone decides
        return os.pidfd_open(pid)  # pylint: disable=no-member
    except (AttributeError, OSError):
        return None


def _exited(pidfd):
    if pidfd is None:
        return False
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    return bool(poller.poll(0))


def _open_container(engine, name, what):
    """``(info, fd)``: the running container's namespace, opened once and proven to be the
    namespace of the process the engine names as the container's, after the open."""
    info = engine.running(name)
    check_network_mode(info, what, engine)
    for _attempt in range(3):
        pidfd = _pidfd(info["pid"])
        try:
            fd = open_namespace("/proc/%d/ns/net" % info["pid"], what)
            try:
                now = engine.inspect(name, fresh=True)
                if now["id"] == info["id"] and now["pid"] == info["pid"] and now["running"] and not _exited(pidfd):
                    return info, fd
            except Exception:
                os.close(fd)
                raise
            os.close(fd)
        finally:
            if pidfd is not None:
                os.close(pidfd)
        info = engine.running(name)  # it restarted in between: look again
        check_network_mode(info, what, engine)
    raise TargetError("%s keeps restarting; its network namespace could not be opened reliably" % what)


def resolve(entry, engines, here=None):
    """Resolve ``entry`` (the module's options for one interface) to a target dict, its namespace open.

    ``engines`` is an ``_engine.Engines`` (one per module run, so lookups are cached);
    ``here`` is ``(st_dev, st_ino)`` of the namespace the module runs in: a target that resolves to
    it is refused, so the module never rewires the host's own namespace as if it were a container.
    Raises ``TargetError`` / ``EngineError``; the caller closes the target (``close``).
    """
    if here is None:
        st = os.stat(SELF_NETNS)
        here = (st.st_dev, st.st_ino)
    if entry.get("container"):
        engine = engines.get(entry.get("runtime") or "auto", entry.get("docker_host"))
        what = "container %s" % entry["container"]
        info, fd = _open_container(engine, entry["container"], what)
        target = _target("container", fd, what, here, pid=info["pid"], netns="/proc/%d/ns/net" % info["pid"],
                         container_id=info["id"], container_name=info["name"])
        target["identity"] = _names.container_identity(info["id"])
        return target
    if entry.get("pid") is not None:
        pid = int(entry["pid"])
        if pid <= 0:
            raise TargetError("pid %d is not a process ID" % pid)
        what = "pid %d" % pid
        if not os.path.exists("/proc/%d" % pid):
            raise TargetError("pid %d: no such process" % pid)
        path = "/proc/%d/ns/net" % pid
        return _target("pid", open_namespace(path, what), what, here, pid=pid, netns=path)
    if entry.get("netns"):
        path = netns_path(entry["netns"])
        what = "netns %s" % entry["netns"]
        return _target("netns", open_namespace(path, what), what, here, netns=path)
    raise TargetError("no target: give one of container, pid or netns")


__all__ = ["resolve", "close", "open_namespace", "check_network_mode", "netns_path",
           "raise_nofile_limit", "TARGET_SPEC", "TARGET_OPTIONS"]


# The argument spec that goes with the ``container_target`` and ``engine`` doc fragments.
TARGET_SPEC = dict(ENGINE_SPEC, container={"type": "str"}, pid={"type": "int"}, netns={"type": "str"})
TARGET_OPTIONS = ("container", "pid", "netns")
