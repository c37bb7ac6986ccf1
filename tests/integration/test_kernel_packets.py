"""The packet side of the kernel layer on a real kernel: ARP, announcements and ICMP echo between two
throwaway namespaces (``_kernel.reachability``, ``_kernel.neighbours``, ``_kernel.packet_io``)."""
import os
import time
from contextlib import closing

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._kernel import packet_io
from ansible_collections.lanbridge.core.plugins.module_utils._kernel import reachability as _probe
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.neighbours import Neighbours
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netns import in_netns
from ansible_collections.lanbridge.core.plugins.module_utils._errors import KernelError

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


@pytest.fixture
def pair(netns_factory):
    """``a`` (eth0 198.51.100.1/24, 2001:db8::1/64) <-veth-> ``b`` (eth0 198.51.100.2/24, 2001:db8::2/64)."""
    a, b = netns_factory("pa"), netns_factory("pb")
    a.ip("link", "add", "eth0", "address", "02:00:00:00:00:0a", "type", "veth", "peer", "name", "eth0",
         "address", "02:00:00:00:00:0b", "netns", b.name)
    for ns, n in ((a, 1), (b, 2)):
        ns.ip("addr", "add", "198.51.100.%d/24" % n, "dev", "eth0")
        ns.ip("addr", "add", "2001:db8::%d/64" % n, "dev", "eth0", "nodad")
        ns.ip("link", "set", "eth0", "up")
    return a, b


def test_arp_request_and_rfc5227_probe(pair):
    a, _b = pair
    with in_netns(a.path):
        sock = packet_io.open_arp_socket("eth0")
        assert packet_io.own_mac(sock) == "02:00:00:00:00:0a"
        sock.close()
        assert _probe.arp_request("eth0", "198.51.100.2", "198.51.100.1", timeout=1) == "02:00:00:00:00:0b"
        assert _probe.arp_request("eth0", "198.51.100.2", "0.0.0.0", timeout=1) == "02:00:00:00:00:0b"
        assert _probe.arp_request("eth0", "198.51.100.9", "0.0.0.0", timeout=0.3) is None
        with pytest.raises(KernelError, match="interface nope"):
            _probe.arp_request("nope", "198.51.100.2", "198.51.100.1")


def wait_until_up(*namespaces):
    """Until both ends carry IPv6 (a frame sent the moment a veth comes up can be dropped)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if all("ff00::/8 dev eth0" in ns.ip("-6", "route", "show", "table", "local") and
               "LOWER_UP" in ns.ip("link", "show", "eth0") for ns in namespaces):
            return
        time.sleep(0.05)
    raise AssertionError("eth0 never came up")


def test_announcements_update_the_neighbour(pair):
    a, b = pair
    b.ip("neigh", "replace", "198.51.100.1", "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "stale")
    b.ip("neigh", "replace", "2001:db8::1", "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "stale")
    wait_until_up(a, b)
    with closing(Neighbours()) as lan:
        lan.announce(a.path, "eth0", "198.51.100.1", "02:00:00:00:00:0a")
        lan.announce(a.path, "eth0", "2001:db8::1", "02:00:00:00:00:0a")
    assert "02:00:00:00:00:0a" in b.ip("neigh", "show", "198.51.100.1", "dev", "eth0")
    assert "02:00:00:00:00:0a" in b.ip("neigh", "show", "2001:db8::1", "dev", "eth0")


def test_conflict_probes_in_one_wait(pair):
    a, b = pair
    with closing(Neighbours()) as lan:
        lan.add_probe("taken", a.path, "eth0", "198.51.100.2", "02:00:00:00:00:0a")
        lan.add_probe("free", a.path, "eth0", "198.51.100.77", "02:00:00:00:00:0a")
        assert lan.run_probes(0.5) == {"taken": "198.51.100.2 is already in use on the LAN by 02:00:00:00:00:0b"}
        with pytest.raises(KernelError, match="cannot use interface nope for ARP"):
            lan.add_probe("bad", b.path, "nope", "198.51.100.78", "02:00:00:00:00:0b")


def test_icmp_echo_v4_v6_and_probe_any(pair):
    a, b = pair
    with in_netns(a.path):
        assert _probe.icmp_echo("198.51.100.2", timeout=1) is not None
        assert _probe.icmp_echo("2001:db8::2", timeout=3) is not None  # ND may retransmit after 1 s
        assert _probe.icmp_echo("198.51.100.9", timeout=0.3) is None
        assert _probe.icmp_echo("203.0.113.1", timeout=0.3) is None  # no route at all
        found = _probe.probe_any([{"address": "198.51.100.9", "ifname": "eth0", "sender": "198.51.100.1"},
                                  {"address": "198.51.100.2", "ifname": "eth0", "sender": "198.51.100.1"}], timeout=3)
        assert found["address"] == "198.51.100.2" and found["method"] == "arp" and found["mac"] == "02:00:00:00:00:0b"
        found = _probe.probe_any([{"address": "2001:db8::2"}], timeout=2)
        assert found["method"] == "icmp"
        b.ip("link", "set", "eth0", "down")
        assert _probe.probe_any([{"address": "198.51.100.2", "ifname": "eth0", "sender": "198.51.100.1"}], timeout=0.6) is None
