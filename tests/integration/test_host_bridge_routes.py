"""host_bridge and the routes that carry more than a gateway (issue 13, finding 8), and the warnings
about what names the uplink (finding 9), on a real kernel in throwaway namespaces only
(``host_bridge_lan.build``; iptables only through ``ip netns exec`` of the test's namespace).

Each route scenario three ways: an unanswered probe rolls the migration back and every route is
exactly as it was (``ip -d route`` snapshots, attributes included); the migration moves the routes
to the bridge with their attributes; ``state=absent`` puts them back exactly.
"""
import os
import re
import time

import pytest

import helpers
from helpers import assert_same, snapshot
from helpers import ping as pings
from host_bridge_lan import CLIENT_IP, GATEWAY, HOST_IP, build, run

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


def warnings_of(result):
    """Without the one that says a test namespace persists nothing (it is not init's)."""
    return helpers.warnings_of(result, notices=[helpers.PERSIST_NOTICE])


def routes_snapshot(ns):
    """``helpers.snapshot`` plus every route in ``ip -d`` detail (onlink, metrics and their locks,
    ``from``, nexthops and weights, ``pref``), expiry masked (it ticks), link-local churn left out."""
    text = "\n".join([snapshot(ns, link_state=False),
                      ns.ip("-d", "route", "show", "table", "all"), ns.ip("-d", "-6", "route", "show", "table", "all")])
    lines = [re.sub(r"expires \d+sec", "expires *", line).replace(" linkdown", "") for line in text.splitlines()]
    return "\n".join(line for line in lines if "fe80:" not in line and "ff00::/8" not in line)


def settled_routes(ns, timeout=3.0):
    """``routes_snapshot`` once the kernel has finished reacting to links coming and going."""
    last = routes_snapshot(ns)
    for _attempt in range(int(timeout / 0.3)):
        time.sleep(0.3)
        now = routes_snapshot(ns)
        if now == last:
            break
        last = now
    return last


def _v6_lan(lan):
    """IPv6 on the LAN: the gateway answers on fe80::fe, the host has 2001:db8::11/64."""
    lan.lan.ip("addr", "add", "fe80::fe/64", "dev", "sw", "nodad")
    lan.lan.ip("addr", "add", "2001:db8::fe/64", "dev", "sw", "nodad")
    lan.host.ip("addr", "add", "2001:db8::11/64", "dev", "em1", "nodad")


def onlink_32(lan):
    """A /32 hosting setup: the address alone, the default route onlink."""
    lan.host.ip("addr", "flush", "dev", "em1")
    lan.host.ip("addr", "add", HOST_IP + "/32", "dev", "em1")
    lan.host.ip("route", "add", "default", "via", GATEWAY, "dev", "em1", "onlink", "proto", "static")
    return ["default via %s dev br0 proto static onlink" % GATEWAY]


def metrics(lan):
    lan.host.ip("route", "add", "203.0.113.0/24", "via", "198.51.100.1", "dev", "em1", "mtu", "lock", "1400",
                "advmss", "1360", "initcwnd", "10")
    return ["203.0.113.0/24 via 198.51.100.1 dev br0 mtu lock 1400 advmss 1360 initcwnd 10"]


def ecmp(lan):
    """A multipath route with one nexthop through em1 and one through em2: only em1's moves."""
    lan.host.ip("link", "set", "em2p", "up")
    lan.host.ip("link", "set", "em2", "up")
    lan.host.ip("addr", "add", "203.0.113.2/25", "dev", "em2")
    lan.host.ip("route", "add", "203.0.113.128/25", "nexthop", "via", "198.51.100.1", "dev", "em1", "weight", "2",
                "nexthop", "via", "203.0.113.1", "dev", "em2", "weight", "1")
    return ["203.0.113.128/25", "nexthop via 198.51.100.1 dev br0 weight 2", "nexthop via 203.0.113.1 dev em2 weight 1"]


def ipv6_link_local(lan):
    """IPv6: a default via a link-local gateway with preference high, a source-specific route, an
    RA-like route (preference low, expiring), an ECMP route."""
    _v6_lan(lan)
    lan.host.ip("-6", "route", "add", "default", "via", "fe80::fe", "dev", "em1", "metric", "1024", "pref", "high")
    lan.host.ip("-6", "route", "add", "2001:db8:77::/64", "from", "2001:db8::/64", "via", "fe80::fe", "dev", "em1")
    lan.host.ip("-6", "route", "add", "2001:db8:88::/64", "via", "fe80::fe", "dev", "em1", "proto", "ra", "pref", "low",
                "expires", "600")
    lan.host.ip("-6", "route", "add", "2001:db8:99::/64", "nexthop", "via", "fe80::fe", "dev", "em1",
                "nexthop", "via", "fe80::fd", "dev", "em1")
    return ["default via fe80::fe dev br0 metric 1024 pref high",
            "2001:db8:77::/64 from 2001:db8::/64 via fe80::fe dev br0 metric 1024 pref medium",
            "2001:db8:88::/64 via fe80::fe dev br0 proto ra metric 1024 expires",
            "2001:db8:99::/64 metric 1024 pref medium",
            "nexthop via fe80::fe dev br0 weight 1", "nexthop via fe80::fd dev br0 weight 1"]


SCENARIOS = {"onlink_32": onlink_32, "metrics": metrics, "ecmp": ecmp, "ipv6_link_local": ipv6_link_local}


def _shown(lan):
    """The host's routes on one line, without the kernel's link-local ones."""
    lines = (lan.host.ip("route", "show") + lan.host.ip("-6", "route", "show")).splitlines()
    return " ".join(" ".join(line for line in lines if not line.startswith("fe80::/64")).split())


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_routes_migrate_and_roll_back_exactly(netns_factory, module_runner, scenario):
    lan = build(netns_factory)
    expected = SCENARIOS[scenario](lan)
    original = settled_routes(lan.host)

    lan.cut()  # nobody answers the probe: everything is undone
    cut = settled_routes(lan.host)
    failed = run(module_runner, lan.host, {"name": "br0", "uplink": "em1", "rollback_timeout": 1})
    assert failed.failed and failed["rolled_back"] is True, failed.get("msg")
    assert_same(cut, routes_snapshot(lan.host), "after rollback: host")

    lan.lan.ip("link", "set", "p-host", "up")
    moved = run(module_runner, lan.host, {"name": "br0", "uplink": "em1"})
    assert not moved.failed and moved["changed"], moved.get("msg")
    shown = _shown(lan)
    for part in expected:
        assert part in shown, (part, shown)
    assert "dev em1" not in shown
    assert pings(lan.host, GATEWAY, attempts=3)
    recheck = run(module_runner, lan.host, {"name": "br0", "uplink": "em1"}, check=True)
    assert recheck["changed"] is False and recheck["plan"] == [], recheck["plan"]

    back = run(module_runner, lan.host, {"name": "br0", "state": "absent"})
    assert not back.failed and back["changed"], back.get("msg")
    assert_same(original, settled_routes(lan.host), "present then absent: host")


def test_route_attributes_reported(netns_factory, module_runner):
    lan = build(netns_factory)
    metrics(lan)
    ecmp(lan)
    result = run(module_runner, lan.host, {"name": "br0", "uplink": "em1"}, check=True)
    by_dst = {r["dst"]: r for r in result["diff"]["after"]["bridge"]["routes"]}
    assert by_dst["203.0.113.0/24"]["metrics"] == {"mtu": 1400, "advmss": 1360, "initcwnd": 10, "lock": ["mtu"]}
    assert by_dst["203.0.113.128/25"]["nexthops"] == [
        {"gateway": "198.51.100.1", "dev": "br0", "weight": 2, "onlink": False},
        {"gateway": "203.0.113.1", "dev": "em2", "weight": 1, "onlink": False}]
    assert "move route 203.0.113.128/25 nexthop via 198.51.100.1 dev em1 weight 2 nexthop via 203.0.113.1 dev em2 " \
           "weight 1 to 203.0.113.128/25 nexthop via 198.51.100.1 dev br0 weight 2 nexthop via 203.0.113.1 dev em2 " \
           "weight 1" in result["plan"]


def test_expiring_route_keeps_its_remaining_lifetime(netns_factory, module_runner):
    lan = build(netns_factory)
    _v6_lan(lan)
    lan.host.ip("-6", "route", "add", "2001:db8:88::/64", "via", "fe80::fe", "dev", "em1", "proto", "ra", "expires", "300")
    assert not run(module_runner, lan.host, {"name": "br0", "uplink": "em1"}).failed
    shown = lan.host.ip("-6", "route", "show", "2001:db8:88::/64")
    left = int(re.search(r"expires (\d+)sec", shown).group(1))
    assert "dev br0" in shown and 280 <= left <= 300, shown


def test_ipv6_link_local_gateway_alone_answers_the_probe(netns_factory, module_runner):
    lan = build(netns_factory)
    _v6_lan(lan)
    lan.host.ip("-6", "route", "add", "default", "via", "fe80::fe", "dev", "em1", "metric", "1024")
    result = run(module_runner, lan.host, {"name": "br0", "uplink": "em1", "probe": ["fe80::fe"], "rollback_timeout": 5})
    assert not result.failed, result.get("msg")
    assert result["probe"]["address"] == "fe80::fe" and result["probe"]["method"] == "icmp"
    assert "default via fe80::fe dev br0" in lan.host.ip("-6", "route", "show", "default")


# -- warnings (finding 9) ---------------------------------------------------------------------

def test_warnings_name_what_stops_matching(netns_factory, module_runner):
    lan = build(netns_factory)
    lan.host.exec("iptables", "-A", "INPUT", "-i", "em1", "-p", "tcp", "--dport", "22", "-j", "ACCEPT")
    lan.host.exec("iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "em1", "-j", "MASQUERADE")
    lan.host.exec("iptables", "-A", "INPUT", "-i", "lo", "-j", "ACCEPT")
    lan.host.ip("rule", "add", "iif", "em1", "lookup", "100", "pref", "1000")
    default = lan.host.exec("sysctl", "-n", "net.ipv4.conf.default.rp_filter").strip()
    mine = "1" if default == "2" else "2"
    lan.host.exec("sysctl", "-qw", "net.ipv4.conf.em1.rp_filter=" + mine)
    expected = [
        'iptables rule "-A INPUT -i em1 -p tcp -m tcp --dport 22 -j ACCEPT" names em1, which becomes a port of br0: '
        "it will no longer match the host's traffic",
        'iptables rule "-t nat -A POSTROUTING -o em1 -j MASQUERADE" names em1, which becomes a port of br0: '
        "it will no longer match the host's traffic",
        'policy rule "1000: from all iif em1 lookup 100" names em1, which becomes a port of br0: '
        "it will no longer match the host's traffic",
        "sysctl net.ipv4.conf.em1.rp_filter is %s and br0 will have %s (net.ipv4.conf.default.rp_filter): "
        "em1's setting stops applying to the host's traffic once em1 is a port of br0" % (mine, default),
    ]
    check = run(module_runner, lan.host, {"name": "br0", "uplink": "em1"}, check=True)
    assert warnings_of(check) == expected
    real = run(module_runner, lan.host, {"name": "br0", "uplink": "em1"})
    assert not real.failed and warnings_of(real) == expected
    again = run(module_runner, lan.host, {"name": "br0", "uplink": "em1"})
    assert again["changed"] is False and warnings_of(again) == []  # the move is done: nothing to warn about
    assert pings(lan.host, CLIENT_IP)


def test_no_warnings_without_a_move(netns_factory, module_runner):
    lan = build(netns_factory)
    lan.host.exec("iptables", "-A", "INPUT", "-i", "em1", "-j", "ACCEPT")
    result = run(module_runner, lan.host, {"name": "br1", "addresses": ["203.0.113.1/24"], "probe": []})
    assert not result.failed and warnings_of(result) == []
