"""Opening a target's namespace (on files of the test's own, no root needed) and refusing
containers without a network namespace of their own."""
import fcntl
import os
import resource
import socket

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import targets
from ansible_collections.lanbridge.core.plugins.module_utils._errors import (
    EngineError, SharedNamespaceError, TargetError,
)


def test_own_network_namespace_opens_non_blocking_and_close_once():
    fd = targets.open_namespace("/proc/self/ns/net", "netns x")
    try:
        assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_NONBLOCK
        assert os.fstat(fd).st_ino == os.stat("/proc/self/ns/net").st_ino
    finally:
        target = {"fd": fd}
        targets.close(target)
        targets.close(target)
    assert target["fd"] is None


def test_fifo_is_refused_without_being_opened(tmp_path):
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    with pytest.raises(TargetError, match=r"^netns x: .*/fifo is not a network namespace \(it is a FIFO\)$"):
        targets.open_namespace(fifo, "netns x")


@pytest.mark.parametrize("path, kind", [("/dev/null", "character device"), ("/proc/self", "directory")])
def test_special_files_are_refused(path, kind):
    with pytest.raises(TargetError, match=r"is not a network namespace \(it is a %s\)" % kind):
        targets.open_namespace(path, "netns x")


def test_socket_is_refused(tmp_path):
    path = str(tmp_path / "s")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(path)
    try:
        with pytest.raises(TargetError, match=r"\(it is a socket\)"):
            targets.open_namespace(path, "netns x")
    finally:
        sock.close()


def test_regular_file_is_not_a_namespace(tmp_path):
    path = tmp_path / "plain"
    path.write_text("")
    with pytest.raises(TargetError, match="is not a network namespace .not a namespace file"):
        targets.open_namespace(str(path), "netns x")


def test_other_namespace_type_is_refused():
    with pytest.raises(TargetError, match="is a namespace, but not a network namespace"):
        targets.open_namespace("/proc/self/ns/uts", "netns x")


@pytest.mark.parametrize("path, message", [
    ("/run/lbt-nosuch-ns", "cannot be opened: No such file or directory"),
    ("/run/netns/a\0b", "cannot be opened: embedded null"),
])
def test_missing_and_unusable_paths(path, message):
    with pytest.raises(TargetError, match=message):
        targets.open_namespace(path, "netns x")


def test_own_namespace_refused_as_target():
    here = os.stat("/proc/self/ns/net")
    with pytest.raises(TargetError, match="^netns /proc/self/ns/net shares the host's network namespace"):
        targets.resolve({"netns": "/proc/self/ns/net"}, None, (here.st_dev, here.st_ino))


def test_resolved_netns_target_holds_its_descriptor():
    target = targets.resolve({"netns": "/proc/self/ns/net"}, None, (0, 0))
    try:
        assert target["fd_path"] == "/proc/self/fd/%d" % target["fd"]
        assert target["identity"] == "netns:%d" % os.stat("/proc/self/ns/net").st_ino
        assert target["netns"] == "/proc/self/ns/net"
    finally:
        targets.close(target)


class _Engine:
    def inspect(self, ref):
        if ref.startswith("abc"):
            return {"name": "owner1"}
        raise EngineError("no container named %s" % ref)


@pytest.mark.parametrize("info, message", [
    ({"network_mode": "host"}, "^container web2 uses the host's network \\(--network host\\)"),
    ({"network_mode": "container:abc123"}, "^container web2 shares the network namespace of container owner1 "
     "\\(network mode container:abc123\\); target container owner1 instead"),
    ({"network_mode": "container:gone"}, "of container gone "),
    ({"network_mode": "", "pod": "pod1", "is_infra": False}, "shares the network namespace of the infra container of pod pod1"),
])
def test_containers_without_their_own_namespace_are_refused(info, message):
    with pytest.raises(TargetError, match=message):
        targets.check_network_mode(info, "container web2", _Engine())


@pytest.mark.parametrize("info", [{"network_mode": "none"}, {"network_mode": "bridge"}, {"network_mode": ""},
                                  {"network_mode": "", "pod": "pod1", "is_infra": True}])
def test_containers_with_their_own_namespace_pass(info):
    targets.check_network_mode(info, "container web1", _Engine())


def test_nofile_limit_is_raised_towards_the_hard_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(hard, 1024)
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        targets.raise_nofile_limit(1500)
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == min(hard, 256 + 4 * 1500)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class _Restarting:
    """An engine whose container restarts ``restarts`` times between a lookup and the second look."""

    def __init__(self, restarts):
        self.restarts = restarts
        self.pid = os.getpid()
        self.looks = 0

    def running(self, name):
        return {"id": "a" * 64, "name": name, "pid": self.pid, "running": True, "network_mode": "none"}

    def inspect(self, name, fresh=False):
        assert fresh
        self.looks += 1
        if self.restarts:
            self.restarts -= 1
            return {"id": "a" * 64, "name": name, "pid": 999999999, "running": True, "network_mode": "none"}
        return self.running(name)


def test_container_namespace_is_proven_after_the_open_and_looked_up_again_after_a_restart():
    engine = _Restarting(restarts=1)
    info, fd = targets._open_container(engine, "web1", "container web1")
    try:
        assert engine.looks == 2 and info["pid"] == os.getpid()
        assert os.fstat(fd).st_ino == os.stat("/proc/self/ns/net").st_ino
    finally:
        os.close(fd)
    with pytest.raises(TargetError, match="^container web1 keeps restarting"):
        targets._open_container(_Restarting(restarts=5), "web1", "container web1")


def test_a_sharer_error_carries_what_the_engine_said():
    info = {"id": "b" * 64, "name": "web2", "network_mode": "host"}
    with pytest.raises(SharedNamespaceError) as err:
        targets.check_network_mode(info, "container web2")
    assert err.value.info is info
