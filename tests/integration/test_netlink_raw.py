"""``_netlink.Raw`` (the plain rtnetlink socket container_veth uses for its hot path) on a real
kernel, inside throwaway namespaces only: it must read exactly what pyroute2's ``Netlink`` reads,
and its changes must be what ``ip`` shows.
"""
import os

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._netlink import Netlink, NetlinkError, Raw, in_netns

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")

NOT_READ = ("operstate", "stp_state", "forward_delay")  # Raw leaves these None


def raw_in(netns):
    with in_netns(netns.path):
        return Raw()


def strip(link):
    return dict((k, v) for k, v in link.items() if k not in NOT_READ)


def _key(item):
    return repr(sorted(item.items()))


def test_dumps_equal_pyroute2(netns):
    netns.ip("link", "add", "br0", "type", "bridge")
    netns.ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
    netns.ip("link", "set", "v0", "master", "br0", "alias", "lanbridge:veth id=x if=eth1", "up")
    netns.ip("link", "set", "br0", "up")
    netns.ip("addr", "add", "198.51.100.1/24", "brd", "+", "dev", "br0")
    netns.ip("addr", "add", "2001:db8::1/64", "dev", "br0", "nodad")
    netns.ip("route", "add", "203.0.113.0/24", "via", "198.51.100.7", "metric", "5")
    raw = raw_in(netns)
    try:
        with Netlink(netns.path) as nl:
            assert [strip(link) for link in raw.links()] == [strip(link) for link in nl.links()]
            assert raw.addresses() == nl.addresses()
            assert sorted(map(_key, raw.routes())) == sorted(map(_key, nl.routes()))
    finally:
        raw.close()


def test_pair_address_route_and_errors(netns_factory):
    host, target = netns_factory("rh"), netns_factory("rt")
    host.ip("link", "add", "br0", "type", "bridge")
    raw, inner = raw_in(host), raw_in(target)
    fd = os.open(target.path, os.O_RDONLY)
    try:
        br0 = raw.link_index("br0")
        index, peer_index = raw.add_veth_port("vlt0", "eth1", fd, br0, mtu=1400, peer_mac="02:00:00:00:00:31")
        raw.set_ifalias("vlt0", "lanbridge:veth id=netns:1 if=eth1")
        links = host.links()
        assert links["vlt0"]["master"] == "br0" and "UP" in links["vlt0"]["flags"] and links["vlt0"]["mtu"] == 1400
        assert links["vlt0"]["ifalias"] == "lanbridge:veth id=netns:1 if=eth1"
        eth1 = target.links()["eth1"]
        assert eth1["address"] == "02:00:00:00:00:31" and eth1["mtu"] == 1400 and "UP" not in eth1["flags"]
        if index is not None:  # Linux 6.3+ echoes the new link
            assert (index, peer_index) == (links["vlt0"]["ifindex"], eth1["ifindex"])
        assert inner.link_index("eth1") == eth1["ifindex"]
        inner.set_up(eth1["ifindex"], "eth1")
        inner.add_address(eth1["ifindex"], "198.51.100.31", 24, what="eth1")
        inner.add_address(eth1["ifindex"], "2001:db8::31", 64, what="eth1")
        inner.add_route({"dst": "default", "gateway": "198.51.100.1", "oif": eth1["ifindex"]})
        inner.add_route({"dst": "203.0.113.0/24", "gateway": "198.51.100.254", "oif": eth1["ifindex"], "metric": 7})
        assert "UP" in target.links()["eth1"]["flags"]
        addrs = target.ip("addr", "show", "dev", "eth1")
        assert "inet 198.51.100.31/24 brd 198.51.100.255" in addrs and "inet6 2001:db8::31/64" in addrs
        routes = target.ip("route", "show")
        assert "default via 198.51.100.1 dev eth1 \n" in routes  # proto boot, which ip does not print
        assert "203.0.113.0/24 via 198.51.100.254 dev eth1 metric 7" in routes
        with pytest.raises(NetlinkError, match=r"^failed to add veth vlt0 \(peer eth1\): \[17\] File exists$"):
            raw.add_veth_port("vlt0", "eth1", fd, br0)
        with pytest.raises(NetlinkError, match=r"^failed to add address 198.51.100.31/24 to eth1: \[17\] File exists$"):
            inner.add_address(eth1["ifindex"], "198.51.100.31", 24, what="eth1")
        with pytest.raises(NetlinkError, match=r"^failed to look up link nope: \[19\] No such device$") as err:
            inner.link_index("nope")
        assert err.value.code == 19
    finally:
        os.close(fd)
        raw.close()
        inner.close()
