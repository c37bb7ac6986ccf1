"""container_veth ``mode: routed`` on a switch port that accepts one MAC (the Wi-Fi / hosting shape),
in bare throwaway namespaces: a switch namespace whose port towards the host drops every frame
whose source MAC is not the host's (``ebtables`` in the switch namespace's bridge ``nat``
PREROUTING, so the switch never learns another MAC), a LAN peer on another port, the host with
uplink ``em1`` and a container namespace. Bridged attachments do not reach the LAN there; routed
ones do, both ways, IPv4 and IPv6; ``state: absent`` leaves the host as it was.
"""
import json
import os

import pytest
from helpers import assert_same, ip_json, ping, run_module, sh, snapshot, veth_four_ways

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")

HOST_MAC = "02:00:00:00:0e:01"
SYSCTLS = ["net/ipv4/conf/em1/forwarding", "net/ipv6/conf/em1/forwarding", "net/ipv6/conf/em1/proxy_ndp",
           "net/ipv6/conf/em1/force_forwarding", "net/ipv4/conf/all/forwarding", "net/ipv6/conf/all/forwarding",
           "net/ipv6/conf/em1/accept_ra"]


def _one_mac_lan(netns_factory, filtered=True):
    """``(switch, lan, host)``: ``em1`` (``HOST_MAC``, 192.0.2.2/24, 2001:db8::2/64) on a switch port
    that drops other source MACs (unless not ``filtered``), the LAN peer 192.0.2.1 / 2001:db8::1."""
    switch, lan, host = netns_factory("sw"), netns_factory("lan"), netns_factory("h")
    switch.ip("link", "add", "brsw", "type", "bridge", "stp_state", "0")
    switch.ip("link", "add", "swh", "type", "veth", "peer", "name", "em1", "netns", host.name)
    switch.ip("link", "add", "swl", "type", "veth", "peer", "name", "lan0", "netns", lan.name)
    for port in ("swh", "swl"):
        switch.ip("link", "set", port, "master", "brsw", "up")
    switch.ip("link", "set", "brsw", "up")
    if filtered:
        switch.exec("ebtables", "-t", "nat", "-A", "PREROUTING", "-i", "swh", "-s", "!", HOST_MAC, "-j", "DROP")
    lan.ip("addr", "add", "192.0.2.1/24", "dev", "lan0")
    lan.ip("addr", "add", "2001:db8::1/64", "dev", "lan0", "nodad")
    lan.ip("link", "set", "lan0", "up")
    host.ip("link", "set", "em1", "address", HOST_MAC)
    host.ip("addr", "add", "192.0.2.2/24", "dev", "em1")
    host.ip("addr", "add", "2001:db8::2/64", "dev", "em1", "nodad")
    host.ip("link", "set", "em1", "up")
    return switch, lan, host


def _sysctls(host):
    return dict((key, host.exec("cat", "/proc/sys/" + key, check=False).strip()) for key in SYSCTLS)


def _learnt(switch):
    """The MACs the switch learnt on the host's port."""
    entries = json.loads(sh("bridge", "-n", switch.name, "-j", "fdb", "show", "br", "brsw") or "[]")
    return sorted(e["mac"] for e in entries if e.get("ifname") == "swh" and e.get("state") != "permanent")


def _runner(host):
    def run(args, check_mode=False, diff=False):
        return run_module("container_veth", host, args, check_mode=check_mode, diff=diff)
    return run


@pytest.mark.parametrize("filtered", [True, False])
def test_bridged_attachment_does_not_reach_the_lan_through_a_one_mac_port(netns_factory, filtered):
    switch, lan, host = _one_mac_lan(netns_factory, filtered)
    ctr = netns_factory("c")
    host.ip("addr", "flush", "dev", "em1")
    host.ip("link", "add", "br0", "address", HOST_MAC, "type", "bridge", "stp_state", "0")
    host.ip("link", "set", "em1", "master", "br0")
    host.ip("addr", "add", "192.0.2.2/24", "dev", "br0")
    host.ip("link", "set", "br0", "up")
    result = _runner(host)({"netns": ctr.path, "bridge": "br0", "addresses": ["192.0.2.11/24"], "conflict_check": False})
    assert not result.failed, result
    assert ping(lan, "192.0.2.2", attempts=3)  # the host's own MAC passes
    reached = ping(lan, "192.0.2.11", attempts=3)
    mac = result["interfaces"][0]["mac"]
    assert reached is not filtered  # the port drops the container's MAC: why routed mode exists
    assert (mac in _learnt(switch)) is not filtered


def test_routed_attachment_reaches_the_lan_four_ways_and_absent_restores(netns_factory):
    switch, lan, host = _one_mac_lan(netns_factory)
    ctr = netns_factory("c")
    host.exec("sysctl", "-qw", "net.ipv6.conf.em1.accept_ra=1")  # a host that takes its IPv6 default route from RAs
    before, sysctls_before = snapshot(host), _sysctls(host)
    assert (sysctls_before["net/ipv6/conf/em1/forwarding"], sysctls_before["net/ipv6/conf/em1/accept_ra"]) == ("0", "1")
    args = {"netns": ctr.path, "mode": "routed", "uplink": "em1", "addresses": ["192.0.2.10/24", "2001:db8::10/64"]}
    real = veth_four_ways(_runner(host), args)
    item = real["interfaces"][0]
    assert (item["mode"], item["uplink"], item["bridge"]) == ("routed", "em1", None)
    assert item["proxy"] == ["192.0.2.10", "2001:db8::10"]
    assert item["addresses"] == ["192.0.2.10/32", "2001:db8::10/128"]
    host_end = item["host_ifname"]
    assert host.links()[host_end].get("master") is None
    assert sorted((n["dst"], n["dev"]) for n in ip_json(host, "neigh", "show", "proxy")) == [
        ("192.0.2.10", "em1"), ("2001:db8::10", "em1")]
    for a, b in ((lan, "192.0.2.10"), (ctr, "192.0.2.1"), (lan, "2001:db8::10"), (ctr, "2001:db8::1")):
        assert ping(a, b, attempts=5), "%s -> %s" % (a.name, b)
    assert _learnt(switch) == [HOST_MAC]  # one MAC, many addresses
    info = run_module("lan_info", host, {})
    assert not info.failed, info
    seen = [a for a in info["attachments"] if a["host_ifname"] == host_end]
    assert [(a["status"], a["mode"], a["uplink"], a["bridge"], a["proxy"]) for a in seen] == [
        ("attached", "routed", "em1", None, ["192.0.2.10", "2001:db8::10"])]
    assert _sysctls(host)["net/ipv4/conf/all/forwarding"] == "0"  # per interface only
    assert _sysctls(host)["net/ipv6/conf/all/forwarding"] == "0"
    # IPv6 forwarding on the uplink, and accept_ra 2 so that the uplink still takes router advertisements
    assert (_sysctls(host)["net/ipv6/conf/em1/forwarding"], _sysctls(host)["net/ipv6/conf/em1/accept_ra"]) == ("1", "2")

    gone = _runner(host)(dict(args, state="absent"), diff=True)
    assert not gone.failed and gone["changed"] is True, gone
    assert ip_json(host, "neigh", "show", "proxy") == []
    assert _sysctls(host) == sysctls_before
    assert_same(before, snapshot(host), "host after state absent")
    again = _runner(host)(dict(args, state="absent"))
    assert not again.failed and again["changed"] is False, again


def test_routed_refusals_change_nothing(netns_factory):
    _switch, _lan, host = _one_mac_lan(netns_factory)
    ctr = netns_factory("c")
    before, sysctls_before = snapshot(host), _sysctls(host)
    for addresses, cause in ((["198.51.100.10/24"], "outside the subnets of uplink em1"),
                             (["192.0.2.2/24"], "is the host's own")):
        result = _runner(host)({"netns": ctr.path, "mode": "routed", "uplink": "em1", "addresses": addresses})
        assert result.failed and cause in result["msg"], result
    result = _runner(host)({"netns": ctr.path, "mode": "routed", "bridge": "br0", "uplink": "em1",
                            "addresses": ["192.0.2.10/24"]})
    assert result.failed and "takes uplink, not bridge" in result["msg"], result
    assert_same(before, snapshot(host), "host after refusals")
    assert _sysctls(host) == sysctls_before
    assert sh("ip", "-n", ctr.name, "-o", "link", "show").count(":") >= 1
