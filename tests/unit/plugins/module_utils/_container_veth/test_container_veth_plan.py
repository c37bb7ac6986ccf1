"""The container_veth planner on plain data: live facts + wanted state -> steps, before, after."""
import copy
import json

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import plan as planner
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import purge
from ansible_collections.lanbridge.core.plugins.module_utils._errors import PlanError

LABEL = "lanbridge:veth id=container:abc if=eth1 name=web1"
MAC = "02:11:22:33:44:55"


def wanted(**kw):
    w = {"state": "present", "bridge": "br0", "host_ifname": "vlabc", "ifname": "eth1", "label": LABEL,
         "mac": MAC, "mtu": 1500, "addresses": ["198.51.100.10/24"], "conflict_check": True, "announce": True}
    w.update(kw)
    w.setdefault("routes", planner.wanted_routes(w["addresses"], w.pop("gateway", "198.51.100.1"), w.pop("gateway6", None)))
    return w


def intact(**kw):
    live = {
        "host": {"ifname": "vlabc", "index": 7, "master": "br0", "mtu": 1500, "up": True, "ifalias": LABEL,
                 "peer_index": 2},
        "stale": [], "taken": None, "bridge": {"ifname": "br0", "index": 3, "mtu": 1500, "kind": "bridge"},
        "peer": {"ifname": "eth1", "index": 2, "mac": MAC, "mtu": 1500, "up": True, "kind": "veth", "peer_index": 7},
        "addresses": ["198.51.100.10/24"],
        "routes": [{"dest": "default", "via": "198.51.100.1", "dev": "eth1", "family": 4, "metric": None}],
    }
    for key, value in kw.items():
        if isinstance(value, dict) and isinstance(live.get(key), dict):
            live[key].update(value)
        else:
            live[key] = value
    return live


def empty(**kw):
    live = {"host": None, "stale": [], "taken": None, "bridge": {"ifname": "br0", "index": 3, "mtu": 1500},
            "peer": None, "addresses": [], "routes": []}
    live.update(kw)
    return live


def ops(steps):
    return [(s["op"], s["ns"]) for s in steps]


def test_fresh_attach_orders_steps():
    steps, before, after = planner.plan(wanted(), empty())
    assert before == {"state": "absent"}
    assert ops(steps) == [
        ("add_pair", "host"), ("set_link", "host"), ("set_link", "container"),
        ("probe", "container"), ("add_address", "container"), ("add_route", "container"), ("announce", "container"),
    ]
    assert steps[0]["args"]["peer"] == "eth1" and steps[0]["args"]["mac"] == MAC and steps[0]["args"]["mtu"] == 1500
    assert steps[0]["args"]["master"] == "br0"
    assert steps[0]["undo"] == [{"op": "del_link", "ns": "host", "args": {"ifname": "vlabc"}, "undo": [],
                                 "text": "delete veth vlabc (and its peer)"}]
    assert steps[1]["args"]["ifalias"] == LABEL and steps[2]["args"]["up"] is True
    assert after["container"]["addresses"] == ["198.51.100.10/24"]
    assert after["container"]["routes"] == [{"dest": "default", "via": "198.51.100.1", "dev": "eth1"}]
    assert planner.changes(steps)


def test_no_probe_no_announce_when_disabled():
    steps, _b, _a = planner.plan(wanted(conflict_check=False, announce=False), empty())
    assert "probe" not in [s["op"] for s in steps] and "announce" not in [s["op"] for s in steps]


def test_ipv6_is_not_arp_probed_but_announced():
    w = wanted(addresses=["2001:db8::10/64"], gateway=None, gateway6="2001:db8::1")
    steps, _b, after = planner.plan(w, empty())
    assert [s["op"] for s in steps if s["op"] in ("probe", "announce")] == ["announce"]
    assert after["container"]["routes"] == [{"dest": "default", "via": "2001:db8::1", "dev": "eth1"}]


def test_idempotent_when_everything_matches():
    steps, before, after = planner.plan(wanted(), intact())
    assert steps == []
    assert before == after
    assert not planner.changes(steps)


@pytest.mark.parametrize("drift, expected", [
    ({"peer": {"mtu": 1400}}, [("set_link", "container", {"mtu": 1500})]),
    ({"peer": {"mac": "02:00:00:00:00:01"}}, [("set_link", "container", {"mac": MAC})]),
    ({"peer": {"up": False}}, [("set_link", "container", {"up": True})]),
    ({"host": {"master": None}}, [("set_link", "host", {"master": "br0"})]),
    ({"host": {"mtu": 9000}}, [("set_link", "host", {"mtu": 1500})]),
    ({"host": {"ifalias": "lanbridge:veth id=container:abc if=eth1 name=old"}}, [("set_link", "host", {"ifalias": LABEL})]),
    ({"addresses": []}, [("probe", "container", {"address": "198.51.100.10/24"}),
                         ("add_address", "container", {"address": "198.51.100.10/24"}),
                         ("announce", "container", {"address": "198.51.100.10/24"})]),
    ({"addresses": ["198.51.100.10/24", "198.51.100.99/24"]}, [("del_address", "container", {"address": "198.51.100.99/24"})]),
    ({"routes": []}, [("add_route", "container", {"dest": "default", "via": "198.51.100.1"})]),
])
def test_drift_is_fixed_individually(drift, expected):
    live = intact(**copy.deepcopy(drift))
    steps, before, after = planner.plan(wanted(), live)
    assert len(steps) == len(expected)
    for step, (op, ns, attrs) in zip(steps, expected):
        assert (step["op"], step["ns"]) == (op, ns)
        for key, value in attrs.items():
            assert step["args"][key] == value
    assert before != after
    assert after == planner.plan(wanted(), intact())[2]


def test_repair_steps_carry_their_inverse():
    steps, _b, _a = planner.plan(wanted(), intact(peer={"mtu": 1400, "up": False}))
    assert steps[0]["undo"] == [{"op": "set_link", "ns": "container", "args": {"ifname": "eth1", "mtu": 1400, "up": False},
                                 "undo": [], "text": "set eth1 mtu 1400, up False"}]


def test_other_default_route_is_replaced_and_restorable():
    docker = {"dest": "default", "via": "203.0.113.1", "dev": "eth0", "family": 4, "metric": None}
    steps, before, after = planner.plan(wanted(), empty(routes=[docker]))
    dels = [s for s in steps if s["op"] == "del_route"]
    adds = [s for s in steps if s["op"] == "add_route"]
    assert dels[0]["args"]["dev"] == "eth0" and dels[0]["undo"][0]["op"] == "add_route"
    assert adds[0]["args"]["via"] == "198.51.100.1" and adds[0]["undo"][0]["op"] == "del_route"
    assert steps.index(dels[0]) < steps.index(adds[0])
    assert after["container"]["routes"] == [{"dest": "default", "via": "198.51.100.1", "dev": "eth1"}]


def test_ipv6_default_left_alone_without_gateway6():
    v6 = {"dest": "default", "via": "fe80::1", "dev": "eth0", "family": 6, "metric": 1024}
    live = intact(routes=intact()["routes"] + [v6])
    steps, before, after = planner.plan(wanted(), live)
    assert steps == [] and before == after


def test_unlisted_route_on_ifname_is_removed():
    extra = {"dest": "203.0.113.0/24", "via": "198.51.100.254", "dev": "eth1", "family": 4, "metric": None}
    live = intact(routes=intact()["routes"] + [extra])
    steps, _b, _a = planner.plan(wanted(), live)
    assert ops(steps) == [("del_route", "container")] and steps[0]["args"]["dest"] == "203.0.113.0/24"


def test_extra_route_is_added():
    w = wanted(routes=planner.wanted_routes(["198.51.100.10/24"], "198.51.100.1", None,
                                            [{"dest": "203.0.113.0/24", "via": "198.51.100.254"}]))
    steps, _b, after = planner.plan(w, intact())
    assert ops(steps) == [("add_route", "container")] and steps[0]["args"]["dest"] == "203.0.113.0/24"
    assert {"dest": "203.0.113.0/24", "via": "198.51.100.254", "dev": "eth1"} in after["container"]["routes"]


def test_restart_recreates_with_same_names():
    # the container restarted: new namespace, pair gone, no labelled host link left
    steps, before, after = planner.plan(wanted(), empty())
    assert steps[0]["op"] == "add_pair" and steps[0]["args"]["ifname"] == "vlabc" and steps[0]["args"]["mac"] == MAC


def test_stale_host_side_is_deleted_then_recreated():
    live = intact(peer=None, addresses=[], routes=[])
    steps, before, _a = planner.plan(wanted(), live)
    assert before == {"state": "absent"}
    assert ops(steps)[:2] == [("del_link", "host"), ("add_pair", "host")]


def test_host_ifname_change_recreates():
    steps, _b, after = planner.plan(wanted(host_ifname="vlnew"), intact())
    assert ops(steps)[:2] == [("del_link", "host"), ("add_pair", "host")]
    assert steps[0]["args"]["ifname"] == "vlabc" and steps[1]["args"]["ifname"] == "vlnew"
    assert after["host"]["ifname"] == "vlnew"


def test_foreign_interface_with_our_ifname_is_refused():
    live = empty(peer={"ifname": "eth1", "index": 2, "mac": "x", "mtu": 1500, "up": True, "kind": "veth", "peer_index": 40})
    with pytest.raises(PlanError, match="already has an interface eth1"):
        planner.plan(wanted(), live)


def test_host_ifname_taken_is_refused():
    live = empty(taken={"ifname": "vlabc", "ifalias": None})
    with pytest.raises(PlanError, match="host_ifname vlabc already exists"):
        planner.plan(wanted(), live)


def test_missing_bridge_is_refused():
    with pytest.raises(PlanError, match="bridge br0 does not exist"):
        planner.plan(wanted(), empty(bridge=None))


def test_unknown_mtu_is_left_alone():
    # check mode before the bridge exists: the module plans with mtu None (unknown)
    steps, _before, after = planner.plan(wanted(mtu=None), intact(host={"mtu": 9000}, peer={"mtu": 9000}))
    assert not planner.changes(steps)
    assert after["container"]["mtu"] is None and after["host"]["mtu"] is None
    steps, _before, _after = planner.plan(wanted(mtu=None), empty())
    assert steps[0]["op"] == "add_pair" and steps[0]["args"]["mtu"] is None


def test_absent_deletes_only_the_pair():
    steps, before, after = planner.plan(wanted(state="absent"), intact())
    assert ops(steps) == [("del_link", "host")] and steps[0]["args"]["ifname"] == "vlabc"
    assert before["state"] == "present" and after == {"state": "absent"}
    steps, before, after = planner.plan(wanted(state="absent"), empty(bridge=None))
    assert steps == [] and before == after


def test_steps_are_plain_data():
    # the undo of a change can be written down before the change: every step survives JSON unchanged
    for live in (empty(), intact(peer={"mtu": 1400, "up": False}, addresses=[]), intact(host={"master": None})):
        steps, _b, _a = planner.plan(wanted(), live)
        assert steps and json.loads(json.dumps(steps)) == steps
        assert all(set(s) == {"op", "ns", "args", "undo", "text"} and isinstance(s["undo"], list) for s in steps)


@pytest.mark.parametrize("value, expected", [
    ("198.51.100.10/24", "198.51.100.10/24"), (" 198.51.100.10/32", "198.51.100.10/32"),
    ("2001:DB8:0::10/64", "2001:db8::10/64"),
])
def test_normalize_address(value, expected):
    assert planner.normalize_address(value) == expected


@pytest.mark.parametrize("value", ["198.51.100.300/24", "198.51.100.10/33", "web", "", "198.51.100.10"])
def test_bad_cidr(value):
    with pytest.raises(ValueError, match="is not (a valid CIDR|in CIDR form)"):
        planner.normalize_address(value)


@pytest.mark.parametrize("kwargs, message", [
    ({"gateway": "203.0.113.1"}, "gateway 203.0.113.1 is not on any subnet of the addresses (198.51.100.10/24)"),
    ({"gateway": "2001:db8::1"}, "gateway 2001:db8::1 is not an IPv4 address"),
    ({"gateway6": "2001:db8:1::1"}, "gateway6 2001:db8:1::1 is not on any subnet"),
    ({"gateway": "nope"}, "gateway 'nope' is not an IPv4 or IPv6 address"),
    ({"routes": [{"dest": "203.0.113.0/24", "via": "203.0.113.1"}]},
     "routes[0] (dest 203.0.113.0/24) via 203.0.113.1 is not on any subnet"),
    ({"routes": [{"dest": "2001:db8:5::/48", "via": "198.51.100.1"}]}, "mixes IPv4 and IPv6"),
    # a gateway that is the container's own address, or the subnet's network / broadcast address
    ({"gateway": "198.51.100.10"}, "gateway 198.51.100.10 is one of the interface's own addresses (198.51.100.10/24)"),
    ({"gateway": "198.51.100.0"}, "gateway 198.51.100.0 is the network address of 198.51.100.0/24, not a host"),
    ({"gateway": "198.51.100.255"}, "gateway 198.51.100.255 is the broadcast address of 198.51.100.0/24"),
    ({"gateway": "127.0.0.1"}, "gateway 127.0.0.1 is not usable as a next hop (a loopback address)"),
    ({"routes": [{"dest": "203.0.113.0/24", "via": "198.51.100.10"}]},
     "routes[0] (dest 203.0.113.0/24) via 198.51.100.10 is one of the interface's own addresses"),
    # a via of the other family never turns an IPv4 default into an IPv6 one (or back)
    ({"routes": [{"dest": "0.0.0.0/0", "via": "2001:db8::1"}]}, "routes[0]: dest 0.0.0.0/0 via 2001:db8::1 mixes IPv4 and IPv6"),
    ({"routes": [{"dest": "::/0", "via": "198.51.100.1"}]}, "routes[0]: dest ::/0 via 198.51.100.1 mixes IPv4 and IPv6"),
    ({"routes": [{"dest": "10.0.0.0/8", "via": "198.51.100.1"}, {"dest": "0.0.0.0/0", "via": "fe80::1"}]},
     "routes[1]: dest 0.0.0.0/0 via fe80::1 mixes"),
    ({"routes": [{"dest": "203.0.113.0/33", "via": "198.51.100.1"}]}, "is not a valid network"),
])
def test_wanted_routes_errors(kwargs, message):
    with pytest.raises(ValueError) as err:
        planner.wanted_routes(["198.51.100.10/24"], kwargs.get("gateway"), kwargs.get("gateway6"), kwargs.get("routes"))
    assert message in str(err.value)


def test_wanted_routes_order_and_dedup():
    routes = planner.wanted_routes(["198.51.100.10/24", "2001:db8::10/64"], "198.51.100.1", "fe80::1",
                                   [{"dest": "0.0.0.0/0", "via": "198.51.100.1"}, {"dest": "203.0.113.3/24", "via": "198.51.100.9"}])
    assert routes == [{"dest": "default", "via": "198.51.100.1", "family": 4},
                      {"dest": "default", "via": "fe80::1", "family": 6},
                      {"dest": "203.0.113.0/24", "via": "198.51.100.9", "family": 4}]


def test_ipv6_enabled_when_disabled():
    w = wanted(addresses=["198.51.100.10/24", "2001:db8::10/64"])
    steps, _b, after = planner.plan(w, empty(ipv6=False))
    assert [s["op"] for s in steps].index("enable_ipv6") < [s["op"] for s in steps].index("add_address")
    assert after["container"]["ipv6"] is True
    live = intact(addresses=["198.51.100.10/24", "2001:db8::10/64"], ipv6=False)
    steps, before, after = planner.plan(w, live)
    assert ops(steps) == [("enable_ipv6", "container")] and steps[0]["undo"][0]["op"] == "disable_ipv6"
    assert before != after
    live["ipv6"] = True
    steps, before, after = planner.plan(w, live)
    assert steps == [] and before == after


def _all_plans():
    yield planner.plan(wanted(), empty())[0]
    yield planner.plan(wanted(addresses=["198.51.100.10/24", "198.51.100.11/24", "2001:db8::10/64"]), empty(ipv6=False))[0]
    yield planner.plan(wanted(addresses=["198.51.100.10/24", "198.51.100.12/24"]),
                       intact(addresses=["198.51.100.10/24", "198.51.100.99/24"], peer={"mtu": 1400}))[0]
    yield planner.plan(wanted(host_ifname="vlnew"), intact())[0]
    yield planner.plan(wanted(state="absent"), intact())[0]


@pytest.mark.parametrize("steps", list(_all_plans()))
def test_phases_keep_the_plan_order(steps):
    parts = planner.phases(steps)
    assert [s for part in parts for s in part] == steps
    for name, part in zip(planner.PHASES, parts):
        assert all(planner.phase_of(s) == name for s in part)


def test_probes_of_all_new_addresses_come_before_any_address_change():
    w = wanted(addresses=["198.51.100.10/24", "198.51.100.12/24", "2001:db8::10/64"])
    steps, _b, _a = planner.plan(w, intact(addresses=["198.51.100.10/24", "198.51.100.99/24"]))
    prepare, probe, configure, announce = planner.phases(steps)
    assert prepare == []
    assert [(s["op"], s["args"]["address"]) for s in probe] == [("probe", "198.51.100.12/24")]
    assert [(s["op"], s["args"].get("address")) for s in configure][:3] == [
        ("del_address", "198.51.100.99/24"), ("add_address", "198.51.100.12/24"), ("add_address", "2001:db8::10/64")]
    assert [s["args"]["address"] for s in announce] == ["198.51.100.12/24", "2001:db8::10/64"]


# --------------------------------------------------------------------------- purge

def port(ifname, identity=None, ifname_in="eth1", name=None, master="br0"):
    link = {"ifname": ifname, "master": master, "mtu": 1500, "up": True, "ifalias": None}
    if identity:
        link["ifalias"] = "lanbridge:veth id=%s if=%s" % (identity, ifname_in)
        link["label"] = {"id": identity, "ifname": ifname_in, "name": name}
    return link


PORTS = [
    port("em1"),                                                       # the uplink: no label
    port("vl1", "container:aaa111", name="app1"),
    port("vl2", "container:bbb222", name="app2"),
    port("vl3", "container:aaa111", "lan2", name="app1"),              # app1's second interface
    port("vl4", "netns:4026532999", name="/run/netns/blue"),
    port("vl5", "container:ccc333", name="app3", master="br1"),        # another bridge
    port("vl6", "container:ddd444", name="app4", master=None),         # not a port of anything
]


def purged(*args, **kw):
    return [removal.link["ifname"] for removal in purge.removals(PORTS, "br0", *args, **kw)]


def test_purge_removes_labelled_ports_of_the_bridge_that_no_entry_names():
    named = {("container:aaa111", "eth1")}
    assert purged(named) == ["vl2", "vl3", "vl4"]
    assert purged(named | {("container:bbb222", "eth1"), ("netns:4026532999", "eth1")}) == ["vl3"]
    assert purged(set()) == ["vl1", "vl2", "vl3", "vl4"]
    assert purge.removals(PORTS, "br9", set()) == []


def test_purge_step_and_before():
    removal, = purge.removals([PORTS[2]], "br0", set())
    step, before = removal.step, removal.before
    assert removal.link is PORTS[2] and removal.transaction is None
    assert step == {"op": "del_link", "ns": "host", "args": {"ifname": "vl2"}, "undo": [],
                    "text": "delete veth vl2 (and its peer)"}
    assert before == {"state": "present", "host": {"ifname": "vl2", "bridge": "br0", "mtu": 1500, "up": True,
                                                   "label": "lanbridge:veth id=container:bbb222 if=eth1"}}
    assert planner.changes([step])


def test_purge_keeps_host_ifname_and_what_unresolved_entries_may_name():
    assert purged(set(), host_ifnames={"vl2"}) == ["vl1", "vl3", "vl4"]
    # a stopped or unknown container: by its name or an ID prefix, both of its interfaces
    assert purged(set(), [("container", "app1")]) == ["vl2", "vl4"]
    assert purged(set(), [("container", "bbb2")]) == ["vl1", "vl3", "vl4"]
    # a pid / netns entry whose namespace cannot be opened: no netns attachment is purged
    assert purged(set(), [("netns", None)]) == ["vl1", "vl2", "vl3"]
