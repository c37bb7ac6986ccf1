"""Waiting on descriptors numbered past 1023 (select()'s FD_SETSIZE): the agent's loop and the probe's
socket wait use poll, so a process with many open namespaces and sockets does not fail."""
import os
import resource
import socket

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._agent import daemon
from ansible_collections.lanbridge.core.plugins.module_utils._kernel import reachability

HIGH = 1500


@pytest.fixture
def room():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= HIGH + 10:
        pytest.fail("the hard limit of open files (%d) leaves no room for descriptor %d" % (hard, HIGH))
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, HIGH + 10), hard))
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_agents_wait_takes_a_descriptor_past_1023(room):
    read_end, write_end = os.pipe()
    os.dup2(read_end, HIGH)
    try:
        assert daemon.wait_readable([HIGH], 0.01) == []
        os.write(write_end, b"x")
        assert daemon.wait_readable([HIGH], 1.0) == [HIGH]
    finally:
        for fd in (HIGH, read_end, write_end):
            os.close(fd)


def test_the_probes_wait_takes_a_socket_past_1023(room):
    left, right = socket.socketpair()
    os.dup2(left.fileno(), HIGH)
    high = socket.socket(fileno=HIGH)
    try:
        assert reachability._wait_readable(high, 0.01) is False
        right.send(b"x")
        assert reachability._wait_readable(high, 1.0) is True
    finally:
        high.close()
        left.close()
        right.close()
