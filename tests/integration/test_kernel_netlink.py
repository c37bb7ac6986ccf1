"""The kernel layer's facade (``_kernel.netlink.Netlink``) on a real kernel, inside throwaway
namespaces only, under the pyroute2 of this test run (0.9 or 0.7.2) for the changes it serves.

The test process stays in the root namespace; every socket is opened inside a namespace the test
created (``Netlink(netns=path)``), so nothing here can touch the machine's own interfaces.
"""
import os
import socket

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._kernel import pyroute
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netlink import Netlink
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netns import in_netns
from ansible_collections.lanbridge.core.plugins.module_utils._errors import KernelError

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


def _by_name(nl):
    return {link["ifname"]: link for link in nl.links()}


def test_opens_in_namespace_and_reads_plain_data(netns):
    netns.ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
    netns.ip("addr", "add", "203.0.113.1/24", "brd", "+", "dev", "v0")
    netns.ip("link", "set", "v0", "up")
    with Netlink(netns.path) as nl:
        links = _by_name(nl)
        assert set(links) == {"lo", "v0", "v1"}  # not the root namespace's links
        assert links["v0"]["kind"] == "veth" and links["v0"]["peer_index"] == links["v1"]["index"]
        assert links["v0"]["up"] is True and links["v1"]["up"] is False
        assert links["lo"]["kind"] is None
        addrs = [a for a in nl.addresses() if a["address"] == "203.0.113.1"]
        assert addrs == [{
            "index": links["v0"]["index"], "family": "inet", "address": "203.0.113.1", "prefixlen": 24,
            "broadcast": "203.0.113.255", "scope": "global", "flags": ["permanent"], "valid_lft": None,
            "preferred_lft": None, "label": "v0",
        }]
        routes = [r for r in nl.routes("inet") if r["table"] == 254]
        assert routes == [{
            "family": "inet", "dst": "203.0.113.0/24", "gateway": None, "oif": links["v0"]["index"], "table": 254,
            "metric": None, "protocol": "kernel", "scope": "link", "type": "unicast", "prefsrc": "203.0.113.1",
        }]
        assert set(nl.dump()) == {"links", "addresses", "routes"}


def test_bridge_veth_master_and_attributes(netns):
    with Netlink(netns.path) as nl:
        nl.add_bridge("br0", stp=False, forward_delay=4, mtu=1400, mac="02:00:00:00:00:01")
        netns.ip("link", "add", "va", "mtu", "1400", "address", "02:00:00:00:00:0a", "type", "veth",
                 "peer", "name", "vb", "mtu", "1400", "address", "02:00:00:00:00:0b")
        netns.ip("link", "set", "va", "alias", "lanbridge:test")
        nl.set_link("va", master="br0", up=True)
        nl.set_link("br0", up=True)
        links = _by_name(nl)
        br, va, vb = links["br0"], links["va"], links["vb"]
        assert (br["kind"], br["stp_state"], br["forward_delay"], br["mtu"], br["mac"]) == ("bridge", 0, 4, 1400, "02:00:00:00:00:01")
        assert va["master"] == br["index"] and va["ifalias"] == "lanbridge:test" and va["mac"] == "02:00:00:00:00:0a"
        assert vb["mac"] == "02:00:00:00:00:0b" and vb["mtu"] == 1400
        nl.set_bridge("br0", stp=True, forward_delay=2.5)
        nl.set_link(va["index"], master=0, mtu=1300, ifname="vc", ifalias="other")
        links = _by_name(nl)
        assert links["br0"]["stp_state"] in (1, 2) and links["br0"]["forward_delay"] == 2.5
        assert links["vc"]["master"] is None and links["vc"]["mtu"] == 1300 and links["vc"]["ifalias"] == "other"
        nl.delete_link("br0")
        nl.delete_link("vc")
        assert set(_by_name(nl)) == {"lo"}


def test_veth_peer_born_in_other_namespace_and_move(netns_factory):
    host, cont = netns_factory("h"), netns_factory("c")
    host.ip("link", "add", "vh", "type", "veth", "peer", "name", "eth1", "netns", cont.name)
    host.ip("link", "add", "vx", "type", "veth", "peer", "name", "vy")
    fd = os.open(cont.path, os.O_RDONLY)
    try:
        with Netlink(host.path) as nl:
            assert "eth1" not in _by_name(nl)
            vh = _by_name(nl)["vh"]
            assert vh["peer_netnsid"] is not None
            nl.set_link("vy", netns_fd=fd)
    finally:
        os.close(fd)
    with Netlink(cont.path) as nl:
        assert {"eth1", "vy"} <= set(_by_name(nl))


def test_addresses_with_flags_lifetimes_and_routes(netns):
    netns.ip("link", "add", "v0", "type", "veth", "peer", "name", "v1")
    netns.ip("link", "set", "v1", "up")
    netns.ip("link", "set", "v0", "up")
    with Netlink(netns.path) as nl:
        nl.add_address("v0", "198.51.100.11", 24, broadcast="198.51.100.255", flags=["noprefixroute"])
        nl.add_address("v0", "2001:db8::11", 64, flags=["nodad"], valid_lft=300, preferred_lft=200)
        addrs = {a["address"]: a for a in nl.addresses()}
        v4, v6 = addrs["198.51.100.11"], addrs["2001:db8::11"]
        assert v4["flags"] == ["noprefixroute", "permanent"] and v4["broadcast"] == "198.51.100.255"
        assert v6["flags"] == ["nodad"] and 290 < v6["valid_lft"] <= 300 and 190 < v6["preferred_lft"] <= 200
        nl.add_route({"family": "inet", "dst": "198.51.100.0/24", "dev": "v0", "scope": "link", "protocol": "static"})
        default = {"family": "inet", "dst": "default", "gateway": "198.51.100.254", "dev": "v0",
                   "table": 254, "metric": 50, "protocol": "static"}
        nl.add_route(default)
        nl.add_route(dict(default, table=1000, metric=None, protocol="boot"))
        nl.add_route({"family": "inet6", "dst": "default", "gateway": "2001:db8::fe", "dev": "v0", "metric": 7})
        with pytest.raises(KernelError, match=r"^failed to add route default via 198.51.100.254 dev v0 metric 50: \[17\] File exists$"):
            nl.add_route(default)
        routes = nl.routes()
        mine = [r for r in routes if r["dst"] == "default"]
        index = nl.link_index("v0")
        assert {(r["family"], r["gateway"], r["oif"], r["table"], r["metric"], r["protocol"]) for r in mine} == {
            ("inet", "198.51.100.254", index, 254, 50, "static"),
            ("inet", "198.51.100.254", index, 1000, None, "boot"),
            ("inet6", "2001:db8::fe", index, 254, 7, "boot"),
        }
        nl.replace_route(dict(default, gateway="198.51.100.253"))
        assert [r["gateway"] for r in nl.routes("inet") if r["dst"] == "default" and r["table"] == 254] == ["198.51.100.253"]
        nl.delete_route(dict(default, gateway="198.51.100.253"))
        nl.delete_address("v0", "198.51.100.11", 24)
        nl.delete_address("v0", "2001:db8::11", 64)
        assert not [a for a in nl.addresses() if a["scope"] == "global"]


def test_errors_name_object_and_cause(netns):
    netns.ip("link", "add", "va", "type", "veth", "peer", "name", "vb")
    netns.ip("link", "add", "br0", "type", "bridge")
    with Netlink(netns.path) as nl:
        with pytest.raises(KernelError, match=r"^failed to add veth va \(peer vc\): \[17\] File exists$") as err:
            nl.add_veth_port("va", "vc", nl.fd, "br0")
        assert err.value.code == 17
        with pytest.raises(KernelError, match=r"^link nope does not exist$"):
            nl.set_link("nope", up=True)
        with pytest.raises(KernelError, match=r"^failed to add bridge va: \[17\] File exists$"):
            nl.add_bridge("va")
        with pytest.raises(KernelError, match=r"^failed to delete address 203.0.113.77/24 from va: \[99\] "):
            nl.delete_address("va", "203.0.113.77", 24)


def test_missing_namespace_is_an_error_not_created(tmp_path):
    missing = str(tmp_path / "nope")
    with pytest.raises(KernelError, match="network namespace .*nope cannot be opened"):
        Netlink(missing)
    assert not os.path.exists(missing)


def test_in_netns_enters_and_always_leaves(netns):
    here = os.stat("/proc/self/ns/net").st_ino
    with in_netns(netns.path):
        assert os.stat("/proc/self/ns/net").st_ino == os.stat(netns.path).st_ino
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.close()
    assert os.stat("/proc/self/ns/net").st_ino == here
    with pytest.raises(RuntimeError):
        with in_netns(netns.path):
            raise RuntimeError("boom")
    assert os.stat("/proc/self/ns/net").st_ino == here
    with in_netns(None):
        assert os.stat("/proc/self/ns/net").st_ino == here


def test_version_is_supported():
    assert pyroute.HAS_PYROUTE2 and pyroute.PYROUTE2_IMPORT_ERROR is None
