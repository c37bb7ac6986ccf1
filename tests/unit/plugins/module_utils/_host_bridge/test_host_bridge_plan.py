"""The host bridge planner on plain data: no kernel, no pyroute2."""
import copy

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge import facts as bp
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge import warnings as w
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.plan import plan
from ansible_collections.lanbridge.core.plugins.module_utils._validate import check_cidr
from ansible_collections.lanbridge.core.plugins.module_utils._errors import PlanError


def simulate(facts, steps):
    """The facts after ``steps``, as the planner itself sees them (``facts.apply_step``)."""
    state = copy.deepcopy(facts)
    for step in steps:
        bp.apply_step(state, step)
    return state


EM1_MAC = "02:00:00:00:01:01"


def link(index, kind=None, master=None, mac="02:00:00:00:00:%02x", mtu=1500, up=True, stp=None, fd=None, alias=None):
    return {"index": index, "kind": kind, "master": master, "mac": mac % index if "%" in mac else mac, "mtu": mtu,
            "up": up, "stp": stp, "forward_delay": fd, "ifalias": alias}


def addr(ifname, address, prefixlen, flags=("permanent",), family="inet", broadcast=None, valid=None, preferred=None):
    return {"ifname": ifname, "family": family, "address": address, "prefixlen": prefixlen, "broadcast": broadcast,
            "scope": "global", "flags": list(flags), "valid_lft": valid, "preferred_lft": preferred}


def route(dst, dev, gateway=None, family="inet", metric=None, protocol="boot", table=254, scope="global", type_="unicast"):
    return {"family": family, "dst": dst, "gateway": gateway, "dev": dev, "table": table, "metric": metric,
            "protocol": protocol, "scope": scope, "type": type_, "prefsrc": None}


def seed_host():
    """The seed: em1 carries 198.51.100.11/24 (+ an IPv6 address) and the default route."""
    return {
        "links": {"lo": link(1, mac="00:00:00:00:00:00", mtu=65536), "em1": link(2, mac=EM1_MAC), "em2": link(3)},
        "addresses": [
            addr("lo", "127.0.0.1", 8) | {"scope": "host"},
            addr("em1", "198.51.100.11", 24, broadcast="198.51.100.255"),
            addr("em1", "198.51.100.12", 24, flags=("permanent", "secondary"), broadcast="198.51.100.255"),
            addr("em1", "2001:db8::11", 64, flags=("noprefixroute",), family="inet6", valid=3000, preferred=2000),
            addr("em1", "fe80::1", 64, family="inet6") | {"scope": "link"},
        ],
        "routes": [
            route("default", "em1", gateway="198.51.100.254", metric=100, protocol="static"),
            route("198.51.100.0/24", "em1", protocol="kernel", scope="link"),
            route("203.0.113.0/24", "em1", gateway="198.51.100.1", table=100),
            route("198.51.100.11", "em1", protocol="kernel", table=255, type_="local", scope="host"),
            route("default", "em1", gateway="2001:db8::fe", family="inet6", metric=1024, protocol="ra"),
            route("fe80::/64", "em1", family="inet6", metric=256, protocol="kernel"),
        ],
    }


def want(**kw):
    base = {"name": "br0", "state": "present", "uplink": "em1", "migrate": True, "addresses": [], "gateway": None,
            "stp": False, "forward_delay": None, "mtu": None, "mac": None, "probe": None}
    base.update(kw)
    return base


def texts(result):
    return [s["text"] for s in result["steps"]]


def test_seed_migration_order_and_facts():
    facts = seed_host()
    result = plan(facts, want())
    done = texts(result)
    assert done == [
        "add bridge br0",
        "label br0 lanbridge:bridge",
        "set br0 up True",
        "set em1 master br0",
        "add address 198.51.100.11/24 to br0",
        "add address 198.51.100.12/24 to br0",
        "add address 2001:db8::11/64 to br0",
        "move route default via 198.51.100.254 dev em1 metric 100 to default via 198.51.100.254 dev br0 metric 100",
        "move route 203.0.113.0/24 via 198.51.100.1 dev em1 table 100 to 203.0.113.0/24 via 198.51.100.1 dev br0 table 100",
        "move route default via 2001:db8::fe dev em1 metric 1024 to default via 2001:db8::fe dev br0 metric 1024",
        "delete address 198.51.100.12/24 from em1",
        "delete address 198.51.100.11/24 from em1",
        "delete address 2001:db8::11/64 from em1",
    ]
    add = result["steps"][0]["args"]
    assert add == {"name": "br0", "stp": False, "forward_delay": None, "mtu": 1500, "mac": EM1_MAC}
    v6 = result["steps"][6]["args"]
    assert v6["flags"] == ["noprefixroute"] and (v6["valid_lft"], v6["preferred_lft"]) == (3000, 2000)
    assert result["before"]["bridge"]["state"] == "absent"
    after = result["after"]
    assert after["bridge"] == {
        "name": "br0", "state": "up", "mac": EM1_MAC, "mtu": 1500, "stp": False, "forward_delay": 15,
        "label": "lanbridge:bridge", "ports": ["em1"], "addresses": ["198.51.100.11/24", "198.51.100.12/24", "2001:db8::11/64"],
        "routes": sorted([bp.route_view(r) for r in [
            route("default", "br0", gateway="198.51.100.254", metric=100, protocol="static"),
            route("203.0.113.0/24", "br0", gateway="198.51.100.1", table=100),
            route("default", "br0", gateway="2001:db8::fe", family="inet6", metric=1024, protocol="ra")]], key=bp._route_order),
    }
    assert after["uplink"]["addresses"] == [] and after["uplink"]["master"] == "br0"
    assert result["migrated"]["addresses"] == ["198.51.100.11/24", "198.51.100.12/24", "2001:db8::11/64"]
    assert len(result["migrated"]["routes"]) == 3
    assert result["probe"] == [{"address": "198.51.100.254", "ifname": "br0", "sender": "198.51.100.11"},
                               {"address": "2001:db8::fe"}]
    assert facts == seed_host()  # the planner never mutates its input


def test_undo_of_every_step_restores_the_facts():
    facts = seed_host()
    result = plan(facts, want())
    state = simulate(facts, result["steps"])
    for step in reversed(result["steps"]):
        state = simulate(state, step["undo"])
    assert bp.view(facts, "br0", "em1") == bp.view(state, "br0", "em1")
    assert state["links"].keys() == facts["links"].keys()
    assert sorted((a["ifname"], bp.cidr(a)) for a in state["addresses"]) == \
        sorted((a["ifname"], bp.cidr(a)) for a in facts["addresses"])


def test_second_run_is_empty():
    facts = seed_host()
    first = plan(facts, want(gateway="198.51.100.254", addresses=[check_cidr("203.0.113.1/24")]))
    second = plan(first["facts_after"], want(gateway="198.51.100.254", addresses=[check_cidr("203.0.113.1/24")]))
    assert second["steps"] == [] and second["before"] == second["after"]  # probe targets: asked only when a step runs
    assert second["migrated"] == {"addresses": [], "routes": []}
    again_auto = plan(first["facts_after"], want(uplink="auto"))
    assert again_auto["steps"] == [] and again_auto["uplink"] == "em1"
    by_mac = plan(first["facts_after"], want(uplink=EM1_MAC.upper()))
    assert by_mac["steps"] == [] and by_mac["uplink"] == "em1"


@pytest.mark.parametrize("drift, expected", [
    (lambda f: f["links"]["br0"].update(mtu=1400), ["set br0 mtu 1500"]),
    (lambda f: f["links"]["br0"].update(stp=True), ["set bridge br0 stp False"]),
    (lambda f: f["links"]["br0"].update(up=False), ["set br0 up True"]),
    (lambda f: f["links"]["br0"].update(mac="02:aa:00:00:00:01"), ["set br0 mac " + EM1_MAC]),
    (lambda f: f.update(addresses=[a for a in f["addresses"] if a["address"] != "203.0.113.1"]),
     ["add address 203.0.113.1/24 to br0"]),
])
def test_drift_fixes_only_that(drift, expected):
    w = want(addresses=[check_cidr("203.0.113.1/24")])
    facts = plan(seed_host(), w)["facts_after"]
    drift(facts)
    result = plan(facts, w)
    assert texts(result) == expected


def test_options_change_bridge_properties():
    facts = plan(seed_host(), want())["facts_after"]
    result = plan(facts, want(stp=True, forward_delay=4, mtu=9000, mac="02:12:34:56:78:9a"))
    assert texts(result) == [
        "set bridge br0 forward_delay 4, stp True", "set br0 mtu 9000", "set br0 mac 02:12:34:56:78:9a",
        "set em1 mtu 9000"]
    assert result["steps"][0]["undo"][0]["args"] == {"link": "br0", "stp": False, "forward_delay": 15}
    assert result["steps"][1]["undo"][0]["args"] == {"link": "br0", "mtu": 1500}


def test_bridge_without_uplink_with_addresses_and_gateway():
    facts = {"links": {"lo": link(1)}, "addresses": [], "routes": []}
    result = plan(facts, want(uplink=None, addresses=[check_cidr("203.0.113.1/24")], gateway="203.0.113.254"))
    assert texts(result) == [
        "add bridge br0", "label br0 lanbridge:bridge", "set br0 up True", "add address 203.0.113.1/24 to br0",
        "add route default via 203.0.113.254 dev br0"]
    assert result["steps"][3]["args"]["broadcast"] == "203.0.113.255"
    assert result["steps"][0]["args"]["mac"] is None
    assert result["after"]["bridge"]["routes"][0]["protocol"] == "static"


def test_gateway_replaces_existing_default_in_place():
    result = plan(seed_host(), want(gateway="198.51.100.1"))
    moved = [s for s in result["steps"] if s["op"] == "replace_route" and s["args"]["route"]["dst"] == "default"
             and s["args"]["route"]["family"] == "inet"]
    assert len(moved) == 1 and moved[0]["args"]["route"]["gateway"] == "198.51.100.1"
    assert moved[0]["args"]["route"]["metric"] == 100
    assert moved[0]["undo"][0]["args"]["route"]["gateway"] == "198.51.100.254"


def test_migrate_false_keeps_addresses_on_uplink():
    result = plan(seed_host(), want(migrate=False))
    assert texts(result) == ["add bridge br0", "label br0 lanbridge:bridge", "set br0 up True", "set em1 master br0"]
    assert result["after"]["uplink"]["addresses"] == ["198.51.100.11/24", "198.51.100.12/24", "2001:db8::11/64"]


def test_absent_reverses_present():
    facts = seed_host()
    present = plan(facts, want())["facts_after"]
    present["links"]["br0"]["index"] = 9
    present["links"]["vlabc"] = link(10, kind="veth", master="br0", alias="lanbridge:veth id=x")
    result = plan(present, want(state="absent", uplink=None))
    assert result["uplink"] == "em1"
    done = texts(result)
    assert done[:3] == [
        "add address 198.51.100.11/24 to em1", "add address 198.51.100.12/24 to em1", "add address 2001:db8::11/64 to em1"]
    assert done[-3:] == ["set em1 master nomaster", "set vlabc master nomaster", "delete bridge br0"]
    after = result["facts_after"]
    assert "br0" not in after["links"]
    assert bp.view(after, "br0", "em1")["uplink"] == bp.view(facts, "br0", "em1")["uplink"]
    undo = result["steps"][-1]["undo"]
    assert [u["op"] for u in undo] == ["add_bridge", "set_link"] and undo[0]["args"]["mac"] == EM1_MAC
    again = plan(after, want(state="absent", uplink=None))
    assert again["steps"] == [] and again["before"]["bridge"]["state"] == "absent"


def test_absent_without_migrate_deletes_routes_explicitly():
    present = plan(seed_host(), want())["facts_after"]
    result = plan(present, want(state="absent", migrate=False))
    assert [s["op"] for s in result["steps"]][:3] == ["delete_route"] * 3
    assert result["steps"][0]["undo"][0]["op"] == "add_route"


def test_check_mode_without_bridge_reports_change():
    result = plan(seed_host(), want())
    assert result["steps"] and result["before"] != result["after"]


@pytest.mark.parametrize("mutate, options, message", [
    (None, {"uplink": "em9"}, "^uplink em9 does not exist \\(known NICs: em1, em2\\)$"),
    (lambda f: f["links"].update(br1=link(7, kind="bridge")) or f["links"]["em1"].update(master="br1"),
     {}, "^uplink em1 is already a port of bridge br1$"),
    (None, {"gateway": "2001:db8:ffff::1"}, "^gateway 2001:db8:ffff::1 is not on any subnet of br0$"),
    (None, {"uplink": "02:00:00:00:00:99"}, "^uplink 02:00:00:00:00:99: no interface has this MAC"),
    (lambda f: f["links"].update(br0=link(7)), {}, "^br0 exists and is a NIC, not a bridge$"),
    (None, {"uplink": "br0", "name": "br0"}, "^uplink br0 does not exist"),
    (lambda f: f["links"].update(br0=link(7, kind="bridge")), {"uplink": "br0"}, "^uplink br0 is the bridge itself$"),
    (lambda f: f.update(routes=[]), {"uplink": "auto"}, "^uplink auto: no interface carries an IPv4 default route$"),
])
def test_errors(mutate, options, message):
    facts = seed_host()
    if mutate:
        mutate(facts)
    snapshot = copy.deepcopy(facts)
    with pytest.raises(PlanError, match=message):
        plan(facts, want(**options))
    assert facts == snapshot


def test_auto_uplink_several_candidates_is_an_error():
    facts = plan(seed_host(), want())["facts_after"]
    facts["links"]["em2"]["master"] = "br0"
    with pytest.raises(PlanError, match=r"several ports that could be the uplink \(em1, em2\)"):
        plan(facts, want(uplink="auto"))


def test_facts_from_dump_uses_names():
    dump = {
        "links": [
            {"index": 1, "ifname": "lo", "kind": None, "master": None, "mac": "00:00:00:00:00:00", "mtu": 65536, "up": True,
             "operstate": "UNKNOWN", "ifalias": None, "peer_index": None, "peer_netnsid": None, "stp_state": None,
             "forward_delay": None},
            {"index": 5, "ifname": "br0", "kind": "bridge", "master": None, "mac": EM1_MAC, "mtu": 1500, "up": True,
             "operstate": "UP", "ifalias": None, "peer_index": None, "peer_netnsid": None, "stp_state": 0,
             "forward_delay": 15},
            {"index": 2, "ifname": "em1", "kind": "veth", "master": 5, "mac": EM1_MAC, "mtu": 1500, "up": True,
             "operstate": "UP", "ifalias": None, "peer_index": 3, "peer_netnsid": 0, "stp_state": None,
             "forward_delay": None},
        ],
        "addresses": [{"index": 5, "family": "inet", "address": "198.51.100.11", "prefixlen": 24, "broadcast": None,
                       "scope": "global", "flags": ["permanent"], "valid_lft": None, "preferred_lft": None, "label": "br0"}],
        "routes": [{"family": "inet", "dst": "default", "gateway": "198.51.100.254", "oif": 5, "table": 254, "metric": None,
                    "protocol": "boot", "scope": "global", "type": "unicast", "prefsrc": None}],
    }
    facts = bp.facts_from_dump(dump)
    assert facts["links"]["em1"]["master"] == "br0" and facts["links"]["br0"]["stp"] is False
    assert facts["addresses"][0]["ifname"] == "br0" and facts["routes"][0]["dev"] == "br0"
    assert bp.view(facts, "br0")["bridge"]["ports"] == ["em1"]


# -- ownership: bridges host_bridge did not make ----------------------------------------------

def with_bridge(name, alias=None, ports=()):
    facts = seed_host()
    facts["links"][name] = link(9, kind="bridge", stp=False, fd=15, alias=alias)
    for port in ports:
        facts["links"][port] = link(20 + len(facts["links"]), kind="veth", master=name,
                                    alias="lanbridge:veth id=container:a if=eth1" if port.startswith("vl") else None)
    return facts


@pytest.mark.parametrize("name, owner", [("docker0", "Docker"), ("br-0123456789ab", "Docker"), ("virbr0", "libvirt"),
                                         ("cni0", "CNI"), ("podman1", "Podman"), ("lxcbr0", "LXC")])
def test_bridges_named_like_another_systems_are_refused(name, owner):
    for facts in (seed_host(), with_bridge(name)):
        with pytest.raises(PlanError, match="bridge %s looks like .*%s.*adopt: true" % (name, owner)):
            plan(facts, want(name=name))
    adopted = plan(with_bridge(name), want(name=name, adopt=True))
    assert "set %s ifalias lanbridge:bridge" % name in texts(adopted)


def test_an_unlabelled_bridge_with_foreign_ports_is_refused_ours_is_labelled():
    with pytest.raises(PlanError, match="bridge br0 exists without host_bridge's label and has ports .*(vnet0)"):
        plan(with_bridge("br0", ports=["vnet0"]), want())
    # made by an earlier version: only the uplink and this collection's veths
    result = plan(with_bridge("br0", ports=["vl0123"]), want())
    assert texts(result)[0] == "set br0 ifalias lanbridge:bridge"
    assert result["steps"][0]["undo"][0]["args"] == {"link": "br0", "ifalias": ""}
    assert not plan(with_bridge("br0", alias="lanbridge:bridge", ports=["vnet0"]), want())["steps"][0]["text"].startswith(
        "set br0 ifalias")


def test_absent_removes_only_a_labelled_or_adopted_bridge():
    with pytest.raises(PlanError, match="bridge virbr0 was not made by host_bridge .*libvirt.*adopt: true"):
        plan(with_bridge("virbr0", ports=["vnet0"]), want(name="virbr0", state="absent", uplink=None))
    assert plan(with_bridge("virbr0", ports=["vnet0"]), want(name="virbr0", state="absent", uplink=None, adopt=True))["steps"]
    assert plan(with_bridge("br0", alias="lanbridge:bridge"), want(state="absent", uplink=None))["steps"]


# -- routes with more than a gateway (issue 13): onlink, metrics, source, multipath, preference --

def rich_host():
    facts = seed_host()
    facts["links"]["em3"] = link(4)
    facts["routes"] += [
        dict(route("203.0.113.0/25", "em1", gateway="198.51.100.1"), onlink=True,
             metrics={"mtu": 1400, "advmss": 1360, "lock": ["mtu"]}),
        dict(route("203.0.113.128/25", None), nexthops=[
            {"gateway": "198.51.100.1", "dev": "em1", "weight": 2, "onlink": False},
            {"gateway": "198.51.100.2", "dev": "em3", "weight": 1, "onlink": True}]),
        dict(route("2001:db8:77::/64", "em1", gateway="fe80::fe", family="inet6", metric=1024), src="2001:db8::/64",
             pref="high", expires=300),
    ]
    return facts


def test_routes_keep_their_attributes_and_multipath_moves_only_the_uplinks_nexthops():
    facts = rich_host()
    result = plan(facts, want())
    moves = dict((s["args"]["route"]["dst"], s) for s in result["steps"] if s["op"] == "replace_route")
    onlink = moves["203.0.113.0/25"]["args"]["route"]
    assert onlink["dev"] == "br0" and onlink["onlink"] is True and onlink["metrics"] == {"mtu": 1400, "advmss": 1360, "lock": ["mtu"]}
    multi = moves["203.0.113.128/25"]
    assert multi["args"]["route"]["dev"] is None
    assert [(h["dev"], h["weight"], h["onlink"]) for h in multi["args"]["route"]["nexthops"]] == [("br0", 2, False), ("em3", 1, True)]
    assert multi["text"] == ("move route 203.0.113.128/25 nexthop via 198.51.100.1 dev em1 weight 2 nexthop via 198.51.100.2 dev em3 "
                             "weight 1 onlink to 203.0.113.128/25 nexthop via 198.51.100.1 dev br0 weight 2 nexthop via 198.51.100.2 "
                             "dev em3 weight 1 onlink")
    assert [h["dev"] for h in multi["undo"][0]["args"]["route"]["nexthops"]] == ["em1", "em3"]
    v6 = moves["2001:db8:77::/64"]["args"]["route"]
    assert (v6["dev"], v6["src"], v6["pref"], v6["expires"]) == ("br0", "2001:db8::/64", "high", 300)
    assert moves["2001:db8:77::/64"]["text"].startswith("move route 2001:db8:77::/64 from 2001:db8::/64 via fe80::fe dev em1")
    views = dict((r["dst"], r) for r in result["after"]["bridge"]["routes"])
    assert views["203.0.113.128/25"]["nexthops"][0] == {"gateway": "198.51.100.1", "dev": "br0", "weight": 2, "onlink": False}
    assert views["203.0.113.0/25"]["onlink"] is True and views["2001:db8:77::/64"]["pref"] == "high"
    assert "expires" not in views["2001:db8:77::/64"]  # it ticks: check mode and the real run would disagree
    assert "onlink" not in views["default"]  # plain routes keep their plain shape
    assert result["after"]["uplink"]["routes"] == []
    again = plan(result["facts_after"], want())
    assert again["steps"] == []
    state = simulate(facts, result["steps"])
    for step in reversed(result["steps"]):
        state = simulate(state, step["undo"])
    assert bp.view(state, "br0", "em1") == bp.view(facts, "br0", "em1")


def test_absent_moves_multipath_nexthops_back():
    present = plan(rich_host(), want())["facts_after"]
    result = plan(present, want(state="absent", uplink=None))
    multi = [s for s in result["steps"] if s["op"] == "replace_route" and s["args"]["route"]["dst"] == "203.0.113.128/25"]
    assert [h["dev"] for h in multi[0]["args"]["route"]["nexthops"]] == ["em1", "em3"]


def test_facts_from_dump_names_nexthop_devices():
    dump = {"links": [{"index": 2, "ifname": "em1", "kind": None, "master": None, "mac": EM1_MAC, "mtu": 1500, "up": True,
                       "operstate": "UP", "ifalias": None, "peer_index": None, "peer_netnsid": None, "stp_state": None,
                       "forward_delay": None}],
            "addresses": [],
            "routes": [{"family": "inet", "dst": "203.0.113.0/24", "gateway": None, "oif": None, "table": 254, "metric": None,
                        "protocol": "boot", "scope": "global", "type": "unicast", "prefsrc": None,
                        "nexthops": [{"gateway": "198.51.100.1", "oif": 2, "weight": 1, "onlink": False}]}]}
    facts = bp.facts_from_dump(dump)
    assert facts["routes"][0]["nexthops"] == [{"gateway": "198.51.100.1", "dev": "em1", "weight": 1, "onlink": False}]
    assert facts["routes"][0]["dev"] is None
    assert [r["dst"] for r in bp.movable_routes(facts, "em1")] == ["203.0.113.0/24"]


# -- warnings: what names the uplink and stops applying (pure functions over sample data) -------

IPTABLES_SAVE = """# Generated by iptables-save v1.8.9 (nf_tables)
*filter
:INPUT ACCEPT [0:0]
-A INPUT -i em1 -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -i lo -j ACCEPT
-A INPUT ! -i em1 -j DROP
-A FORWARD -i br+ -o em+ -j ACCEPT
-A FORWARD -o em+ -j ACCEPT
-A OUTPUT --out-interface em1 -j ACCEPT
-A INPUT -i em10 -j ACCEPT
COMMIT
*nat
-A POSTROUTING -o em1 -j MASQUERADE
COMMIT
"""

NFT_RULESET = """table ip filter {
\t# Warning: table ip filter is managed by iptables-nft, do not touch!
\tchain INPUT {
\t\tiifname "em1" counter packets 0 bytes 0 accept
\t}
}
table inet fw {
\tchain input {
\t\ttype filter hook input priority filter; policy accept;
\t\tiifname "em1" tcp dport 22 accept # handle 3
\t\tiifname { "lo", "em1" } accept
\t\tiif "lo" accept
\t\toifname != "em*" drop
\t\tiifname "b*" accept
\t}
}
"""


def test_iptables_warnings_name_each_rule():
    tail = " names em1, which becomes a port of br0: it will no longer match the host's traffic"
    assert w.iptables_warnings("iptables", IPTABLES_SAVE, "em1", "br0") == [
        'iptables rule "-A INPUT -i em1 -p tcp -m tcp --dport 22 -j ACCEPT"' + tail,
        'iptables rule "-A INPUT ! -i em1 -j DROP"' + tail,
        'iptables rule "-A FORWARD -i br+ -o em+ -j ACCEPT"' + tail,
        'iptables rule "-A FORWARD -o em+ -j ACCEPT"' + tail,
        'iptables rule "-A OUTPUT --out-interface em1 -j ACCEPT"' + tail,
        'iptables rule "-t nat -A POSTROUTING -o em1 -j MASQUERADE"' + tail,
    ]
    assert w.iptables_warnings("ip6tables", IPTABLES_SAVE, "em1", "em1br") == [
        'ip6tables rule "-A INPUT -i em1 -p tcp -m tcp --dport 22 -j ACCEPT"' + tail.replace("br0", "em1br"),
        'ip6tables rule "-A INPUT ! -i em1 -j DROP"' + tail.replace("br0", "em1br"),
        'ip6tables rule "-A OUTPUT --out-interface em1 -j ACCEPT"' + tail.replace("br0", "em1br"),
        'ip6tables rule "-t nat -A POSTROUTING -o em1 -j MASQUERADE"' + tail.replace("br0", "em1br"),
    ]  # em+ matches the bridge em1br too: that rule goes on matching
    assert w.iptables_warnings("iptables", "", "em1", "br0") == []


def test_nft_warnings_skip_iptables_nft_tables():
    tail = " names em1, which becomes a port of br0: it will no longer match the host's traffic"
    assert w.nft_warnings(NFT_RULESET, "em1", "br0") == [
        "nftables rule 'iifname \"em1\" tcp dport 22 accept' (table inet fw, chain input)" + tail,
        "nftables rule 'iifname { \"lo\", \"em1\" } accept' (table inet fw, chain input)" + tail,
        "nftables rule 'oifname != \"em*\" drop' (table inet fw, chain input)" + tail,
    ]


def test_rule_warnings():
    rules = [
        {"family": "inet", "priority": 0, "src": None, "dst": None, "iifname": None, "oifname": None, "fwmark": None,
         "table": 255, "action": "lookup"},
        {"family": "inet6", "priority": 1001, "src": "2001:db8::/64", "dst": None, "iifname": None, "oifname": "em1",
         "fwmark": 7, "table": 254, "action": "lookup"},
        {"family": "inet", "priority": 1000, "src": None, "dst": "203.0.113.0/24", "iifname": "em1", "oifname": None,
         "fwmark": None, "table": None, "action": "blackhole"},
        {"family": "inet", "priority": 900, "src": None, "dst": None, "iifname": "em2", "oifname": None,
         "fwmark": None, "table": 100, "action": "lookup"},
    ]
    tail = " names em1, which becomes a port of br0: it will no longer match the host's traffic"
    assert w.rule_warnings(rules, "em1", "br0") == [
        'policy rule "1000: from all to 203.0.113.0/24 iif em1 blackhole"' + tail,
        'IPv6 policy rule "1001: from 2001:db8::/64 fwmark 0x7 oif em1 lookup main"' + tail,
    ]


def test_sysctl_warnings():
    em1 = {"ipv4": {"rp_filter": "2", "forwarding": "0", "arp_ignore": "0"}, "ipv6": {"disable_ipv6": "1", "accept_ra": "1", "mtu": "1500"}}
    default = {"ipv4": {"rp_filter": "0", "forwarding": "0", "arp_ignore": "0"}, "ipv6": {"disable_ipv6": "0", "accept_ra": "1", "mtu": "1280"}}
    assert w.sysctl_warnings("em1", "br0", em1, default, False, bridge_mtu=1500) == [
        "sysctl net.ipv4.conf.em1.rp_filter is 2 and br0 will have 0 (net.ipv4.conf.default.rp_filter): em1's setting "
        "stops applying to the host's traffic once em1 is a port of br0",
        "sysctl net.ipv6.conf.em1.disable_ipv6 is 1 and br0 will have 0 (net.ipv6.conf.default.disable_ipv6): em1's "
        "setting stops applying to the host's traffic once em1 is a port of br0",
    ]
    bridge = {"ipv4": {"rp_filter": "2"}, "ipv6": {"mtu": "1400"}}
    assert w.sysctl_warnings("em1", "br0", em1, bridge, True) == [
        "sysctl net.ipv6.conf.em1.mtu is 1500 and br0 has 1400 (net.ipv6.conf.br0.mtu): em1's setting stops applying "
        "to the host's traffic once em1 is a port of br0"]


class _FakeNetlink:
    def __init__(self, rules, conf):
        self._rules, self._conf = rules, conf

    def rules(self):
        return self._rules

    def sysctls(self, ifname, names):
        return self._conf.get(ifname, {"ipv4": {}, "ipv6": {}})


def test_collect_warns_only_when_the_uplink_moves():
    nl = _FakeNetlink([{"family": "inet", "priority": 5, "iifname": "em1", "table": 100, "action": "lookup"}],
                      {"em1": {"ipv4": {"rp_filter": "1"}, "ipv6": {}}, "default": {"ipv4": {"rp_filter": "0"}, "ipv6": {}}})
    calls = []

    def run_command(args):
        calls.append(args)
        return (0, IPTABLES_SAVE, "") if args[0].endswith("iptables-save") else (1, "", "nope")

    first = plan(seed_host(), want())
    found = w.collect(nl, first, want(), run_command=run_command, find=lambda name: "/usr/sbin/" + name)
    assert calls == [["/usr/sbin/iptables-save"], ["/usr/sbin/ip6tables-save"], ["/usr/sbin/nft", "list", "ruleset"]]
    assert len(found) == 6 + 1 + 1 and found[6].startswith('policy rule "5: from all iif em1 lookup 100"')
    assert found[7].startswith("sysctl net.ipv4.conf.em1.rp_filter is 1 and br0 will have 0")
    assert w.collect(nl, plan(first["facts_after"], want()), want(), run_command=run_command) == []
    assert w.collect(nl, plan(seed_host(), want(migrate=False)), want(migrate=False)) != []  # still enslaved
    no_uplink = want(uplink=None, addresses=[check_cidr("203.0.113.1/24")])
    assert w.collect(nl, plan(seed_host(), no_uplink), no_uplink, run_command=run_command) == []


# -- lan_addresses and the default gateway -------------------------------------------------------

def test_default_gateway_is_the_bridges_after_migration():
    assert plan(seed_host(), want())["default_gateway"] == "198.51.100.254"
    host = seed_host()
    host["routes"] = [r for r in host["routes"] if r["dst"] != "default"]
    assert plan(host, want())["default_gateway"] is None


def test_lan_addresses_on_the_bridges_subnet_pass():
    result = plan(seed_host(), want(lan_addresses=["198.51.100.21/24", "2001:db8::21/64"]))
    assert "add bridge br0" in texts(result)


@pytest.mark.parametrize("addresses, allowed, message", [
    (["203.0.113.5/24"], [], r"203.0.113.5/24 is not on a subnet of br0 \(198.51.100.0/24\); list its network"),
    (["198.51.100.12/24"], [], "198.51.100.12/24 is the host's own address on br0"),
    (["198.51.100.21/24", "2001:db8:9::1/64", "203.0.113.5/24"], [],
     "2001:db8:9::1/64 is not on a subnet of br0 .*; 203.0.113.5/24 is not on"),
])
def test_lan_addresses_off_the_lan_are_refused_before_any_step(addresses, allowed, message):
    with pytest.raises(PlanError, match=message):
        plan(seed_host(), want(lan_addresses=addresses, allowed_networks=allowed))


def test_allowed_networks_admit_lan_addresses_and_absent_ignores_them():
    assert plan(seed_host(), want(lan_addresses=["203.0.113.5/24"], allowed_networks=["203.0.113.0/24"]))["steps"]
    present = plan(seed_host(), want())
    after = simulate(seed_host(), present["steps"])
    assert plan(after, want(state="absent", lan_addresses=["203.0.113.5/24"]))["steps"]
