"""``_probe`` on a real kernel: ARP, gratuitous ARP and ICMP echo between two throwaway namespaces."""
import os

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils import _probe
from ansible_collections.lanbridge.core.plugins.module_utils._netlink import in_netns

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


def test_frames_round_trip():
    frame = _probe.arp_frame(1, "02:00:00:00:00:0a", "02:00:00:00:00:0a", "198.51.100.1", _probe.ZERO_MAC, "198.51.100.2")
    assert len(frame) == 60
    assert _probe.parse_arp(frame) == {"op": 1, "sender_mac": "02:00:00:00:00:0a", "sender_ip": "198.51.100.1",
                                       "target_mac": "00:00:00:00:00:00", "target_ip": "198.51.100.2"}
    assert _probe.parse_arp(b"\x00" * 10) is None
    assert _probe.parse_arp(b"\x00" * 12 + b"\x08\x00" + b"\x00" * 46) is None


def test_arp_request_and_rfc5227_probe(pair):
    a, _b = pair
    with in_netns(a.path):
        assert _probe.interface_mac("eth0") == "02:00:00:00:00:0a"
        assert _probe.arp_request("eth0", "198.51.100.2", "198.51.100.1", timeout=1) == "02:00:00:00:00:0b"
        assert _probe.arp_request("eth0", "198.51.100.2", "0.0.0.0", timeout=1) == "02:00:00:00:00:0b"
        assert _probe.arp_request("eth0", "198.51.100.9", "0.0.0.0", timeout=0.3) is None
        with pytest.raises(_probe.ProbeError, match="interface nope"):
            _probe.arp_request("nope", "198.51.100.2", "198.51.100.1")


def test_gratuitous_arp_updates_the_neighbour(pair):
    a, b = pair
    b.ip("neigh", "replace", "198.51.100.1", "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "stale")
    with in_netns(a.path):
        _probe.gratuitous_arp("eth0", "198.51.100.1", count=2, interval=0.05)
    assert "02:00:00:00:00:0a" in b.ip("neigh", "show", "198.51.100.1", "dev", "eth0")


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
