"""The kernel layer's pieces of a routed attachment on a real kernel, inside throwaway namespaces only:
proxy neighbour entries (``NTF_PROXY``: add, dump, delete, both families) and per-interface
sysctls (``forwarding``, ``proxy_ndp``, ``force_forwarding``), and that together with host routes
they make the host answer on the uplink for an address that lives behind a veth.
"""
import errno
import os

import pytest
from helpers import ip_json, ping

from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netlink import Netlink
from ansible_collections.lanbridge.core.plugins.module_utils._errors import KernelError

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


def test_proxy_neighbours_add_dump_delete(netns):
    netns.ip("link", "add", "em1", "type", "veth", "peer", "name", "lan0")
    with Netlink(netns.path) as nl:
        index = nl.index("em1")
        assert nl.proxy_neighbours() == []
        nl.add_proxy_neighbour("em1", "192.0.2.10")
        nl.add_proxy_neighbour(index, "2001:db8::10")
        found = sorted(nl.proxy_neighbours(), key=lambda n: n["family"])
        assert found == [
            {"index": index, "family": "inet", "address": "192.0.2.10", "mac": None, "proxy": True},
            {"index": index, "family": "inet6", "address": "2001:db8::10", "mac": None, "proxy": True},
        ]
        assert [n["address"] for n in nl.proxy_neighbours("inet6")] == ["2001:db8::10"]
        shown = sorted((n["dst"], n["dev"]) for n in ip_json(netns, "neigh", "show", "proxy"))
        assert shown == [("192.0.2.10", "em1"), ("2001:db8::10", "em1")]
        nl.add_proxy_neighbour("em1", "192.0.2.10")  # the kernel takes a repeat (even with NLM_F_EXCL), keeps one
        assert len(nl.proxy_neighbours("inet")) == 1
        nl.delete_proxy_neighbour("em1", "192.0.2.10")
        nl.delete_proxy_neighbour("em1", "2001:db8::10")
        assert nl.proxy_neighbours() == [] and ip_json(netns, "neigh", "show", "proxy") == []
        with pytest.raises(KernelError) as exc:
            nl.delete_proxy_neighbour("em1", "192.0.2.10")
        assert exc.value.code == errno.ENOENT and "delete proxy neighbour 192.0.2.10 on em1" in str(exc.value)


def test_proxy_entries_die_with_their_link(netns):
    netns.ip("link", "add", "em1", "type", "veth", "peer", "name", "lan0")
    with Netlink(netns.path) as nl:
        nl.add_proxy_neighbour("em1", "192.0.2.10")
        nl.delete_link("em1")
        assert nl.proxy_neighbours() == []


def test_forwarding_sysctls_per_interface(netns):
    netns.ip("link", "add", "em1", "type", "veth", "peer", "name", "lan0")
    names = ["forwarding", "proxy_ndp"]
    with Netlink(netns.path) as nl:
        assert nl.sysctls("em1", names) == {"ipv4": {"forwarding": "0"},
                                            "ipv6": {"forwarding": "0", "proxy_ndp": "0"}}
        nl.set_sysctl("em1", "inet", "forwarding", 1)
        nl.set_sysctl("em1", "inet6", "forwarding", "1")
        nl.set_sysctl("em1", "inet6", "proxy_ndp", 1)
        assert nl.sysctls("em1", names) == {"ipv4": {"forwarding": "1"},
                                            "ipv6": {"forwarding": "1", "proxy_ndp": "1"}}
        assert nl.sysctls("lan0", names)["ipv4"] == {"forwarding": "0"}  # per interface, not the peer's
        assert nl.sysctls("all", ["forwarding"]) == {"ipv4": {"forwarding": "0"}, "ipv6": {"forwarding": "0"}}
        with pytest.raises(KernelError) as exc:
            nl.set_sysctl("nosuch0", "inet", "forwarding", 1)
        assert exc.value.code == errno.ENOENT and "net.ipv4.conf.nosuch0.forwarding" in str(exc.value)


def _wire(netns_factory):
    """A LAN peer, a host with uplink ``em1`` and a container behind veth ``vh``/``eth1``: the
    addresses and routes a routed attachment sets, made through ``Netlink`` in the host."""
    lan, host, ctr = netns_factory("lan"), netns_factory("host"), netns_factory("ctr")
    host.ip("link", "add", "em1", "type", "veth", "peer", "name", "lan0", "netns", lan.name)
    host.ip("link", "add", "vh", "type", "veth", "peer", "name", "eth1", "netns", ctr.name)
    lan.ip("addr", "add", "192.0.2.1/24", "dev", "lan0")
    lan.ip("addr", "add", "2001:db8::1/64", "dev", "lan0", "nodad")
    lan.ip("link", "set", "lan0", "up")
    host.ip("addr", "add", "192.0.2.2/24", "dev", "em1")
    host.ip("addr", "add", "2001:db8::2/64", "dev", "em1", "nodad")
    host.ip("link", "set", "em1", "up")
    ctr.ip("addr", "add", "192.0.2.10/32", "dev", "eth1")
    ctr.ip("addr", "add", "2001:db8::10/128", "dev", "eth1", "nodad")
    ctr.ip("link", "set", "eth1", "up")
    ctr.ip("route", "add", "default", "via", "169.254.0.1", "dev", "eth1", "onlink")
    ctr.ip("-6", "route", "add", "default", "via", "fe80::1", "dev", "eth1")
    return lan, host, ctr


def test_host_answers_on_the_uplink_for_a_routed_address(netns_factory):
    lan, host, ctr = _wire(netns_factory)
    with Netlink(host.path) as nl:
        nl.set_link("vh", up=True)
        nl.add_address("vh", "169.254.0.1", 32)
        nl.add_address("vh", "fe80::1", 128, flags=["nodad"])
        nl.add_route({"family": "inet", "dst": "192.0.2.10/32", "dev": "vh"})
        nl.add_route({"family": "inet6", "dst": "2001:db8::10/128", "dev": "vh"})
        assert not ping(lan, "192.0.2.10", attempts=1)  # no proxy entry, no forwarding: unreachable
        nl.add_proxy_neighbour("em1", "192.0.2.10")
        nl.add_proxy_neighbour("em1", "2001:db8::10")
        for link in ("em1", "vh"):
            nl.set_sysctl(link, "inet", "forwarding", 1)
        nl.set_sysctl("em1", "inet6", "forwarding", 1)
        nl.set_sysctl("em1", "inet6", "proxy_ndp", 1)
        if "force_forwarding" not in nl.sysctls("em1", ["force_forwarding"])["ipv6"]:
            pytest.skip("this kernel has no per-interface IPv6 forwarding (force_forwarding, Linux 6.17)")
        for link in ("em1", "vh"):
            nl.set_sysctl(link, "inet6", "force_forwarding", 1)
        assert nl.sysctls("all", ["forwarding"]) == {"ipv4": {"forwarding": "0"}, "ipv6": {"forwarding": "0"}}
    assert ping(lan, "192.0.2.10", attempts=3)
    assert ping(ctr, "192.0.2.1", attempts=3)
    assert ping(lan, "2001:db8::10", attempts=5)
    assert ping(ctr, "2001:db8::1", attempts=5)
    # the LAN learnt the host's MAC for the container's address: one MAC, many addresses
    em1_mac = host.links()["em1"]["address"]
    learnt = dict((n["dst"], n.get("lladdr")) for n in ip_json(lan, "neigh", "show", "dev", "lan0"))
    assert learnt["192.0.2.10"] == em1_mac and learnt["2001:db8::10"] == em1_mac
