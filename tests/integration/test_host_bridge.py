"""host_bridge on a real kernel, only in namespaces the tests create (see host_bridge_lan.py).

Each option four ways: check mode with diff, real, repeat check, repeat real; check's diff and
``changed`` equal the real run's, and the repeats change nothing.
"""
import functools
import os
import re
import threading
import time

import pytest

from helpers import IMPORT_TIMES, assert_same, four_ways, imported, snapshot
from helpers import ping as pings
from host_bridge_lan import CLIENT_IP, EM1_MAC, GATEWAY, HOST_IP, TcpProbe, build, run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


@pytest.fixture
def lan(netns_factory):
    return build(netns_factory)


def bridge_four_ways(module_runner, ns, args, kernel_picks=()):
    """``helpers.four_ways`` with host_bridge's own check == real comparisons, in ``ns``; returns the real run's result.

    ``kernel_picks``: bridge facts only the kernel can know before the change (a random MAC)."""
    unknown = ("index",) + tuple(kernel_picks)

    def known(bridge):
        return {k: v for k, v in bridge.items() if k not in unknown}

    def same_plan(check, real):
        assert check["plan"] == real["plan"]
        assert check["migrated"] == real["migrated"]
        assert known(check["bridge"]) == known(real["bridge"])
        assert known(real["diff"]["after"]["bridge"]) == known(real["bridge"])

    def same_facts(_real, recheck, again):
        assert recheck["plan"] == [] and again["plan"] == []

    return four_ways(functools.partial(module_runner, "host_bridge", ns), args, ns=ns,
                     same_plan=same_plan, same_facts=same_facts)


def test_seed_scenario_end_to_end(lan, module_runner):
    assert pings(lan.client, HOST_IP)
    tcp = TcpProbe(lan, seconds=3)
    time.sleep(0.5)
    real = bridge_four_ways(module_runner, lan.host, {"name": "br0", "uplink": "em1"})
    survived = tcp.result()
    assert survived["echoes"] > 50
    print("TCP echoes %d, worst round trip %.1f ms" % (survived["echoes"], survived["worst_rtt"] * 1000))
    assert real["changed"] and real["rolled_back"] is False
    assert real["probe"]["address"] == GATEWAY and real["probe"]["method"] == "arp"
    bridge = real["bridge"]
    assert bridge["ports"] == ["em1"] and bridge["addresses"] == [HOST_IP + "/24"] and bridge["mac"] == EM1_MAC
    assert bridge["state"] == "up" and bridge["stp"] is False and bridge["mtu"] == 1500
    assert real["migrated"]["addresses"] == [HOST_IP + "/24"]
    links = lan.host.links()
    assert links["em1"]["master"] == "br0"
    assert links["br0"]["address"] == EM1_MAC
    assert "inet " not in lan.host.ip("addr", "show", "dev", "em1")
    assert lan.host.ip("route", "show", "default").split()[:5] == ["default", "via", GATEWAY, "dev", "br0"]
    assert pings(lan.client, HOST_IP)
    assert pings(lan.host, CLIENT_IP)


@pytest.mark.parametrize("uplink", ["em1", "auto", EM1_MAC.upper()])
def test_uplink_forms(lan, module_runner, uplink):
    real = bridge_four_ways(module_runner, lan.host, {"name": "br0", "uplink": uplink})
    assert real["uplink"] == "em1" and real["bridge"]["ports"] == ["em1"]
    assert pings(lan.client, HOST_IP)


def test_migrate_false_keeps_address_on_uplink(lan, module_runner):
    real = bridge_four_ways(module_runner, lan.host, {"name": "br0", "uplink": "em1", "migrate": False, "probe": []})
    assert real["bridge"]["addresses"] == [] and real["migrated"] == {"addresses": [], "routes": []}
    assert HOST_IP in lan.host.ip("addr", "show", "dev", "em1")


def test_bridge_without_uplink_addresses_and_gateway(netns, module_runner):
    args = {"name": "brlab", "addresses": ["203.0.113.1/24", "2001:db8:1::1/64"], "gateway": "203.0.113.254", "probe": []}
    real = bridge_four_ways(module_runner, netns, args, kernel_picks=("mac",))
    assert real["bridge"]["addresses"] == ["203.0.113.1/24", "2001:db8:1::1/64"]
    assert real["bridge"]["routes"] == [{"family": "inet", "dst": "default", "gateway": "203.0.113.254", "metric": None,
                                         "table": 254, "protocol": "static", "scope": "global"}]
    assert "broadcast 203.0.113.255" in netns.ip("-d", "addr", "show", "dev", "brlab") or \
        "brd 203.0.113.255" in netns.ip("addr", "show", "dev", "brlab")


def test_stp_and_forward_delay(lan, module_runner):
    real = bridge_four_ways(module_runner, lan.host, {"name": "br0", "uplink": "em1", "stp": True, "forward_delay": 2})
    assert real["bridge"]["stp"] is True and real["bridge"]["forward_delay"] == 2
    assert real["probe"]["address"] == GATEWAY  # waited for listening + learning (2 x 2 s)
    assert "stp_state 1" in lan.host.ip("-d", "link", "show", "br0")


def test_mtu_and_mac(lan, module_runner):
    real = bridge_four_ways(module_runner, lan.host, {"name": "br0", "uplink": "em1", "mtu": 1400, "mac": "02:12:34:56:78:9a",
                                                      "probe": [CLIENT_IP]})
    assert real["bridge"]["mtu"] == 1400 and real["bridge"]["mac"] == "02:12:34:56:78:9a"
    assert lan.host.links()["em1"]["mtu"] == 1400
    assert real["probe"]["address"] == CLIENT_IP


def test_ipv6_addresses_and_routes_move(netns_factory, module_runner):
    lan = build(netns_factory, ipv6=True)
    real = bridge_four_ways(module_runner, lan.host, {"name": "br0", "uplink": "em1"})
    assert real["bridge"]["addresses"] == [HOST_IP + "/24", "2001:db8::11/64"]
    assert {(r["family"], r["gateway"], r["metric"]) for r in real["bridge"]["routes"]} == {
        ("inet", GATEWAY, None), ("inet6", "2001:db8::fe", 1024)}
    assert "2001:db8::fe dev br0" in lan.host.ip("-6", "route", "show", "default")


def test_state_absent_restores_the_uplink(lan, module_runner):
    original = snapshot(lan.host)
    assert not run(module_runner, lan.host, {"name": "br0", "uplink": "em1"}).failed
    tcp = TcpProbe(lan, seconds=2, port=7778)
    real = bridge_four_ways(module_runner, lan.host, {"name": "br0", "state": "absent"})
    assert tcp.result()["echoes"] > 30
    assert real["bridge"]["state"] == "absent" and real["migrated"]["addresses"] == [HOST_IP + "/24"]
    assert real["probe"]["address"] == GATEWAY
    assert_same(original, snapshot(lan.host), "present then absent: host")
    assert pings(lan.client, HOST_IP)


def test_absent_when_absent_changes_nothing(netns, module_runner):
    result = run(module_runner, netns, {"name": "br0", "state": "absent"})
    assert not result.failed and result["changed"] is False and result["bridge"]["state"] == "absent"


@pytest.mark.parametrize("drift, expected", [
    (("link", "set", "br0", "mtu", "1400"), ["set br0 mtu 1500"]),
    (("link", "set", "br0", "type", "bridge", "stp_state", "1"), ["set bridge br0 stp False"]),
    (("addr", "del", "203.0.113.1/24", "dev", "br0"), ["add address 203.0.113.1/24 to br0"]),
    (("link", "set", "br0", "down"), ["set br0 up True"]),
])
def test_drift_is_repaired_alone(lan, module_runner, drift, expected):
    args = {"name": "br0", "uplink": "em1", "addresses": ["203.0.113.1/24"]}
    assert not run(module_runner, lan.host, args).failed
    lan.host.ip(*drift)
    fixed = bridge_four_ways(module_runner, lan.host, args)
    assert fixed["plan"] == expected
    assert pings(lan.client, HOST_IP)


def test_unreachable_gateway_rolls_back_exactly(lan, module_runner):
    lan.cut()
    before = snapshot(lan.host)
    result = run(module_runner, lan.host, {"name": "br0", "uplink": "em1", "rollback_timeout": 1.5})
    assert result.failed and result["rolled_back"] is True and result["changed"] is False
    assert result["msg"].startswith("no answer from %s (ARP on br0 from %s) within 1.5 s (after: add bridge br0;" % (GATEWAY, HOST_IP))
    assert result["msg"].endswith("rolled back 7 step(s), the host is as it was")
    assert_same(before, snapshot(lan.host), "after rollback: host")


def test_failing_step_rolls_back_exactly(lan, module_runner):
    # IPv6 is off for new interfaces: adding the IPv6 address to the new bridge fails mid-plan
    lan.host.exec("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
    before = snapshot(lan.host)
    result = run(module_runner, lan.host, {"name": "br0", "uplink": "em1", "addresses": ["2001:db8:5::1/64"]})
    assert result.failed and result["rolled_back"] is True
    assert result["msg"].startswith("failed to add address 2001:db8:5::1/64 to br0: [")
    assert "rolled back 5 step(s), the host is as it was" in result["msg"]
    assert_same(before, snapshot(lan.host), "after rollback: host")
    assert pings(lan.client, HOST_IP)


@pytest.mark.parametrize("args, message", [
    ({"uplink": "em9"}, r"^uplink em9 does not exist \(known NICs: em1, em2, em2p\)$"),
    ({"gateway": "203.0.113.1"}, r"^gateway 203.0.113.1 is not on any subnet of br0$"),
    ({"name": "br-very-long-name"}, r"^name 'br-very-long-name' is longer than 15 bytes$"),
    ({"name": "br/0"}, r"^name 'br/0' contains '/', not allowed in interface names"),
    ({"name": "br 0"}, r"^name 'br 0' contains space, not allowed in interface names"),
    ({"name": "br\x000"}, r"^name 'br\\x000' contains"),
    ({"mtu": 10}, r"^mtu 10 is out of range \(68..65535\)$"),
    ({"mac": "02:00:00:00:00"}, r"^mac '02:00:00:00:00' is not a MAC address"),
    ({"addresses": ["198.51.100.300/24"]}, r"^addresses item '198.51.100.300/24' is not a valid CIDR address$"),
    ({"addresses": ["198.51.100.3"]}, r"^addresses item '198.51.100.3' is not in CIDR form"),
    ({"uplink": "aa:bb:cc:dd:ee:ff"}, r"^uplink aa:bb:cc:dd:ee:ff: no interface has this MAC \(known NICs: em1, em2, em2p\)$"),
    ({"probe": ["nope"]}, r"^probe item 'nope' is not an IPv4 or IPv6 address$"),
    ({"forward_delay": 99}, r"^forward_delay 99 is out of range"),
    ({"rollback_timeout": 0}, r"^rollback_timeout 0.0 must be more than 0 and at most 600 seconds$"),
    ({"rollback_timeout": "inf"}, r"^rollback_timeout inf must be more than 0 and at most 600 seconds$"),
    ({"rollback_timeout": "nan"}, r"^rollback_timeout nan must be more than 0 and at most 600 seconds$"),
    ({"rollback_timeout": 601}, r"^rollback_timeout 601.0 must be more than 0 and at most 600 seconds$"),
    ({"state": "gone"}, r"value of state must be one of: present, absent"),
])
def test_bad_input_changes_nothing(lan, module_runner, args, message):
    before = snapshot(lan.host)
    result = run(module_runner, lan.host, dict({"name": "br0", "uplink": "em1"}, **args))
    assert result.failed and re.search(message, result["msg"]), result["msg"]
    assert result.get("changed") in (False, None)
    assert_same(before, snapshot(lan.host))


def test_uplink_of_another_bridge(lan, module_runner):
    lan.host.ip("link", "add", "br1", "type", "bridge")
    lan.host.ip("link", "set", "em1", "master", "br1")
    before = snapshot(lan.host)
    result = run(module_runner, lan.host, {"name": "br0", "uplink": "em1"})
    assert result.failed and result["msg"] == "uplink em1 is already a port of bridge br1"
    assert_same(before, snapshot(lan.host))


def test_concurrent_runs_are_serialized(lan, module_runner):
    results = []
    args = {"name": "br0", "uplink": "em1"}
    threads = [threading.Thread(target=lambda: results.append(run(module_runner, lan.host, args))) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.failed for r in results] == [False, False], [r.get("msg") for r in results]
    assert sorted(r["changed"] for r in results) == [False, True]


def networkmanager_style(lan):
    """em1 as NetworkManager configures it: addresses with noprefixroute, NM's own prefix routes
    (proto kernel metric 100) and default routes at metric 100."""
    host = lan.host
    host.ip("addr", "flush", "dev", "em1")
    host.ip("route", "flush", "dev", "em1")
    lan.lan.ip("addr", "add", "2001:db8::fe/64", "dev", "sw", "nodad")
    host.ip("addr", "add", HOST_IP + "/24", "brd", "+", "dev", "em1", "noprefixroute")
    host.ip("addr", "add", "2001:db8::11/64", "dev", "em1", "noprefixroute", "nodad")
    host.ip("route", "add", "198.51.100.0/24", "dev", "em1", "proto", "kernel", "scope", "link", "src", HOST_IP,
            "metric", "100")
    host.ip("-6", "route", "add", "2001:db8::/64", "dev", "em1", "proto", "kernel", "metric", "100")
    host.ip("route", "add", "default", "via", GATEWAY, "dev", "em1", "proto", "static", "metric", "100")
    host.ip("-6", "route", "add", "default", "via", "2001:db8::fe", "dev", "em1", "proto", "static", "metric", "100")


def test_networkmanager_style_uplink_migrates_and_rolls_back(lan, module_runner):
    # NM's prefix routes move with the noprefixroute addresses (before: "Network is unreachable")
    networkmanager_style(lan)
    before = snapshot(lan.host)
    result = bridge_four_ways(module_runner, lan.host, {"name": "br0", "uplink": "em1"})
    routes = lan.host.ip("route", "show")
    assert "198.51.100.0/24 dev br0 proto kernel scope link src %s metric 100" % HOST_IP in routes
    assert "default via %s dev br0 proto static metric 100" % GATEWAY in routes
    assert "2001:db8::/64 dev br0 proto kernel metric 100" in lan.host.ip("-6", "route", "show")
    assert "inet " not in lan.host.ip("addr", "show", "dev", "em1") and result["bridge"]["ports"] == ["em1"]
    assert pings(lan.client, HOST_IP)
    back = run(module_runner, lan.host, {"name": "br0", "uplink": "em1", "state": "absent"})
    assert back["changed"] and not back.failed, back
    assert_same(before, snapshot(lan.host), "after state absent")
    lan.cut()
    before = snapshot(lan.host)
    result = run(module_runner, lan.host, {"name": "br0", "uplink": "em1", "rollback_timeout": 1})
    assert result.failed and result["rolled_back"] is True, result["msg"]
    assert_same(before, snapshot(lan.host), "after rollback")


# -- the firewall accept rule and lan_addresses ----------------------------------------------------

FW = {"name": "br0", "uplink": "em1", "firewall": True, "firewall_ipv6": True, "firewall_comment": "lanbridge test"}


def rules(ns):
    """The host's iptables and ip6tables filter rules (``-S``), as two lists."""
    return [ns.exec(tool, "-w", "-t", "filter", "-S").splitlines() for tool in ("iptables", "ip6tables")]


def accepts(ns, chain):
    rule = '-A %s -i br0 -o br0 -m comment --comment "lanbridge test" -j ACCEPT' % chain
    return [rule in lines for lines in rules(ns)]


def test_firewall_rule_goes_in_docker_user_else_forward_four_ways_and_absent_removes_it(lan, module_runner):
    lan.host.exec("iptables", "-w", "-N", "DOCKER-USER")  # Docker's chain, IPv4 only
    lan.host.exec("iptables", "-w", "-P", "FORWARD", "DROP")
    before = rules(lan.host)
    real = bridge_four_ways(module_runner, lan.host, FW)
    assert real["firewall"] == ["ip6tables: accept rule for bridge br0 in FORWARD",
                                "iptables: accept rule for bridge br0 in DOCKER-USER"]
    assert real["plan"][:2] == ["iptables: insert accept rule for bridge br0 in DOCKER-USER",
                                "ip6tables: insert accept rule for bridge br0 in FORWARD"]  # before the network moves
    assert real["diff"]["before"]["firewall"] == [] and real["diff"]["after"]["firewall"] == real["firewall"]
    assert accepts(lan.host, "DOCKER-USER") == [True, False] and accepts(lan.host, "FORWARD") == [False, True]
    assert pings(lan.client, HOST_IP)
    # drift: someone deletes the IPv6 rule; only it comes back
    lan.host.exec("ip6tables", "-w", "-D", "FORWARD", "-i", "br0", "-o", "br0", "-m", "comment", "--comment",
                  "lanbridge test", "-j", "ACCEPT")
    fixed = run(module_runner, lan.host, FW)
    assert fixed["plan"] == ["ip6tables: insert accept rule for bridge br0 in FORWARD"]
    gone = run(module_runner, lan.host, {"name": "br0", "state": "absent", "firewall_comment": "lanbridge test"})
    assert not gone.failed, gone.get("msg")
    assert "iptables: delete accept rule for bridge br0 from DOCKER-USER" in gone["plan"]
    assert gone["firewall"] == [] and rules(lan.host) == before
    assert run(module_runner, lan.host, {"name": "br0", "state": "absent",
                                         "firewall_comment": "lanbridge test"})["changed"] is False


def test_a_failed_probe_takes_the_firewall_rule_back_out(lan, module_runner):
    lan.cut()
    before, fw_before = snapshot(lan.host), rules(lan.host)
    result = run(module_runner, lan.host, dict(FW, rollback_timeout=1.5))
    assert result.failed and result["rolled_back"] is True
    assert "ip6tables: insert accept rule for bridge br0 in FORWARD" in result["msg"]
    assert_same(before, snapshot(lan.host), "after rollback: host")
    assert rules(lan.host) == fw_before


def test_lan_addresses_off_the_lan_are_refused_before_anything_changes(lan, module_runner):
    before = snapshot(lan.host)
    result = run(module_runner, lan.host, {"name": "br0", "uplink": "em1",
                                           "lan_addresses": ["203.0.113.5/24", HOST_IP + "/24"]})
    assert result.failed and result["changed"] is False
    assert result["msg"] == ("lan_addresses: 203.0.113.5/24 is not on a subnet of br0 (%s); list its network in "
                             "allowed_networks (container_lan_allowed_networks in the role) if that is intended; "
                             "%s/24 is the host's own address on br0; "
                             "nothing was changed" % (re.sub(r"\.\d+$", ".0/24", HOST_IP), HOST_IP))
    assert_same(before, snapshot(lan.host), "refused: host")
    ok = run(module_runner, lan.host, {"name": "br0", "uplink": "em1", "lan_addresses": ["203.0.113.5/24"],
                                       "allowed_networks": ["203.0.113.0/24"]})
    assert not ok.failed and ok["changed"] and ok["default_gateway"] == GATEWAY


def test_pyroute2_is_imported_only_by_a_run_that_needs_it(lan, module_runner):
    args = {"name": "br0", "uplink": "em1"}
    first = module_runner("host_bridge", lan.host, args, env=IMPORT_TIMES)
    assert first["changed"] and imported(first, "pyroute2")  # a new bridge: pyroute2 builds it
    for check in (True, False):
        again = module_runner("host_bridge", lan.host, args, check_mode=check, env=IMPORT_TIMES)
        assert again["changed"] is False and not imported(again, "pyroute2"), again.stderr[-2000:]
