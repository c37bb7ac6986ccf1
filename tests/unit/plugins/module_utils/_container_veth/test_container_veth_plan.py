"""The container_veth planner on plain data: live facts + wanted state -> steps, before, after."""
import copy
import inspect
import json

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import apply
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import plan as planner
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import purge
from ansible_collections.lanbridge.core.plugins.module_utils._errors import PlanError
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netlink import Netlink

LABEL = "lanbridge:veth id=container:abc if=eth1 name=web1"
MAC = "02:11:22:33:44:55"


def wanted(**kw):
    w = {"state": "present", "bridge": "br0", "host_ifname": "vlabc", "ifname": "eth1", "label": LABEL,
         "mac": MAC, "mtu": 1500, "addresses": ["198.51.100.10/24"], "conflict_check": True, "announce": True}
    w.update(kw)
    w.setdefault("routes", planner.wanted_routes(w["addresses"], w.pop("gateway", "198.51.100.1"), w.pop("gateway6", None)))
    return w


def route(dst, gateway, dev, family="inet", metric=None):
    """A live route as ``read`` gives it: the codec's dict, ``dev`` the link's name."""
    return {"family": family, "dst": dst, "gateway": gateway, "dev": dev, "table": 254, "metric": metric}


def intact(**kw):
    live = {
        "host": {"ifname": "vlabc", "index": 7, "master": "br0", "mtu": 1500, "up": True, "ifalias": LABEL,
                 "peer_index": 2},
        "stale": [], "taken": None, "bridge": {"ifname": "br0", "index": 3, "mtu": 1500, "kind": "bridge"},
        "peer": {"ifname": "eth1", "index": 2, "mac": MAC, "mtu": 1500, "up": True, "kind": "veth", "peer_index": 7},
        "addresses": ["198.51.100.10/24"],
        "routes": [route("default", "198.51.100.1", "eth1")],
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
        ("add_veth_port", "host"), ("set_link", "host"), ("set_link", "container"),
        ("probe", "container"), ("add_address", "container"), ("add_route", "container"), ("announce", "container"),
    ]
    assert steps[0]["args"] == {"name": "vlabc", "peer": "eth1", "master": "br0", "mtu": 1500, "peer_mac": MAC}
    assert steps[0]["undo"] == [{"op": "delete_link", "ns": "host", "args": {"link": "vlabc"}, "undo": [],
                                 "text": "delete veth vlabc (and its peer)"}]
    assert steps[1]["args"] == {"link": "vlabc", "ifalias": LABEL} and steps[1]["undo"] == []
    assert steps[2]["args"] == {"link": "eth1", "up": True} and steps[2]["undo"] == []
    assert steps[3]["args"] == {"link": "eth1", "address": "198.51.100.10", "mac": MAC}
    assert steps[4]["args"] == {"link": "eth1", "address": "198.51.100.10", "prefixlen": 24,
                                "broadcast": "198.51.100.255", "flags": None}
    assert steps[5]["args"] == {"route": {"family": "inet", "dst": "default", "gateway": "198.51.100.1", "dev": "eth1",
                                          "table": 254, "metric": None}}
    assert [s["text"] for s in steps] == [
        "add veth vlabc (peer eth1) to br0", "set vlabc ifalias %s" % LABEL, "set eth1 up True",
        "probe the LAN for 198.51.100.10/24 from eth1", "add address 198.51.100.10/24 to eth1",
        "add route default via 198.51.100.1 dev eth1", "announce 198.51.100.10/24 on eth1"]
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
    ({"addresses": []}, [("probe", "container", {"address": "198.51.100.10"}),
                         ("add_address", "container", {"address": "198.51.100.10", "prefixlen": 24}),
                         ("announce", "container", {"address": "198.51.100.10"})]),
    ({"addresses": ["198.51.100.10/24", "198.51.100.99/24"]},
     [("delete_address", "container", {"address": "198.51.100.99", "prefixlen": 24})]),
    ({"routes": []}, [("add_route", "container", {"route": {"family": "inet", "dst": "default", "gateway": "198.51.100.1",
                                                            "dev": "eth1", "table": 254, "metric": None}})]),
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
    assert steps[0]["undo"] == [{"op": "set_link", "ns": "container", "args": {"link": "eth1", "mtu": 1400},
                                 "undo": [], "text": "set eth1 mtu 1400"}]
    assert steps[1]["undo"] == [{"op": "set_link", "ns": "container", "args": {"link": "eth1", "up": False},
                                 "undo": [], "text": "set eth1 up False"}]


def test_every_repair_step_sets_one_attribute_and_undoes_exactly_it():
    """Issue 20 (3): each attribute its own step (a failure between two requests leaves no change
    unrecorded), each undone to the value read, in the order container end, then host end."""
    live = intact(peer={"mac": "02:00:00:00:00:01", "mtu": 1400, "up": False},
                  host={"master": None, "ifalias": None, "mtu": 9000, "up": False})
    steps, before, after = planner.plan(wanted(), live)
    assert [(s["ns"], s["text"]) for s in steps] == [
        ("container", "set eth1 mac %s" % MAC), ("container", "set eth1 mtu 1500"), ("container", "set eth1 up True"),
        ("host", "set vlabc master br0"), ("host", "set vlabc ifalias %s" % LABEL), ("host", "set vlabc mtu 1500"),
        ("host", "set vlabc up True")]
    assert all(s["op"] == "set_link" and len(s["args"]) == 2 for s in steps)
    assert [(u["ns"], u["args"]) for s in steps for u in s["undo"]] == [
        ("container", {"link": "eth1", "mac": "02:00:00:00:00:01"}), ("container", {"link": "eth1", "mtu": 1400}),
        ("container", {"link": "eth1", "up": False}),
        ("host", {"link": "vlabc", "master": 0}), ("host", {"link": "vlabc", "ifalias": ""}),
        ("host", {"link": "vlabc", "mtu": 9000}), ("host", {"link": "vlabc", "up": False})]
    assert [u["text"] for s in steps for u in s["undo"]][3] == "set vlabc master nomaster"
    assert after == planner.plan(wanted(), intact())[2] and before != after


def test_other_default_route_is_replaced_and_restorable():
    docker = route("default", "203.0.113.1", "eth0")
    steps, before, after = planner.plan(wanted(), empty(routes=[docker]))
    dels = [s for s in steps if s["op"] == "delete_route"]
    adds = [s for s in steps if s["op"] == "add_route"]
    assert dels[0]["args"]["route"] == docker and dels[0]["undo"][0]["op"] == "add_route"
    assert dels[0]["undo"][0]["args"]["route"] == docker
    assert dels[0]["text"] == "delete route default via 203.0.113.1 dev eth0"
    assert adds[0]["args"]["route"]["gateway"] == "198.51.100.1" and adds[0]["undo"][0]["op"] == "delete_route"
    assert steps.index(dels[0]) < steps.index(adds[0])
    assert after["container"]["routes"] == [{"dest": "default", "via": "198.51.100.1", "dev": "eth1"}]


def test_ipv6_default_left_alone_without_gateway6():
    v6 = route("default", "fe80::1", "eth0", "inet6", 1024)
    live = intact(routes=intact()["routes"] + [v6])
    steps, before, after = planner.plan(wanted(), live)
    assert steps == [] and before == after


def test_unlisted_route_on_ifname_is_removed():
    extra = route("203.0.113.0/24", "198.51.100.254", "eth1")
    live = intact(routes=intact()["routes"] + [extra])
    steps, _b, _a = planner.plan(wanted(), live)
    assert ops(steps) == [("delete_route", "container")] and steps[0]["args"]["route"]["dst"] == "203.0.113.0/24"


def test_extra_route_is_added():
    w = wanted(routes=planner.wanted_routes(["198.51.100.10/24"], "198.51.100.1", None,
                                            [{"dest": "203.0.113.0/24", "via": "198.51.100.254"}]))
    steps, _b, after = planner.plan(w, intact())
    assert ops(steps) == [("add_route", "container")] and steps[0]["args"]["route"]["dst"] == "203.0.113.0/24"
    assert {"dest": "203.0.113.0/24", "via": "198.51.100.254", "dev": "eth1"} in after["container"]["routes"]


def test_restart_recreates_with_same_names():
    # the container restarted: new namespace, pair gone, no labelled host link left
    steps, before, after = planner.plan(wanted(), empty())
    assert steps[0]["op"] == "add_veth_port" and steps[0]["args"]["name"] == "vlabc" and steps[0]["args"]["peer_mac"] == MAC


def test_stale_host_side_is_deleted_then_recreated():
    live = intact(peer=None, addresses=[], routes=[])
    steps, before, _a = planner.plan(wanted(), live)
    assert before == {"state": "absent"}
    assert ops(steps)[:2] == [("delete_link", "host"), ("add_veth_port", "host")]


def test_host_ifname_change_recreates():
    steps, _b, after = planner.plan(wanted(host_ifname="vlnew"), intact())
    assert ops(steps)[:2] == [("delete_link", "host"), ("add_veth_port", "host")]
    assert steps[0]["args"]["link"] == "vlabc" and steps[1]["args"]["name"] == "vlnew"
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
    assert steps[0]["op"] == "add_veth_port" and steps[0]["args"]["mtu"] is None


def test_absent_deletes_only_the_pair():
    steps, before, after = planner.plan(wanted(state="absent"), intact())
    assert ops(steps) == [("delete_link", "host")] and steps[0]["args"] == {"link": "vlabc"}
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
    assert routes == [{"family": "inet", "dst": "default", "gateway": "198.51.100.1"},
                      {"family": "inet6", "dst": "default", "gateway": "fe80::1"},
                      {"family": "inet", "dst": "203.0.113.0/24", "gateway": "198.51.100.9"}]
    assert [planner.user_route(r) for r in routes] == [
        {"dest": "default", "via": "198.51.100.1"}, {"dest": "default", "via": "fe80::1"},
        {"dest": "203.0.113.0/24", "via": "198.51.100.9"}]


def test_ipv6_enabled_when_disabled():
    w = wanted(addresses=["198.51.100.10/24", "2001:db8::10/64"])
    steps, _b, after = planner.plan(w, empty(ipv6=False))
    assert [s["op"] for s in steps].index("set_ipv6") < [s["op"] for s in steps].index("add_address")
    assert [s["args"] for s in steps if s["op"] == "add_address"][1] == {
        "link": "eth1", "address": "2001:db8::10", "prefixlen": 64, "broadcast": None, "flags": ["nodad"]}
    assert after["container"]["ipv6"] is True
    live = intact(addresses=["198.51.100.10/24", "2001:db8::10/64"], ipv6=False)
    steps, before, after = planner.plan(w, live)
    assert ops(steps) == [("set_ipv6", "container")] and steps[0]["args"] == {"link": "eth1", "enabled": True}
    assert steps[0]["undo"][0]["args"] == {"link": "eth1", "enabled": False}
    assert steps[0]["text"] == "enable IPv6 on eth1" and steps[0]["undo"][0]["text"] == "disable IPv6 on eth1"
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


def _with_undo(steps):
    for item in steps:
        yield item
        yield from _with_undo(item["undo"])


@pytest.mark.parametrize("steps", list(_all_plans()) + [
    planner.plan(wanted(), intact(peer={"mac": "02:00:00:00:00:01", "up": False},
                                  host={"master": None, "ifalias": None, "mtu": 9000, "up": False}))[0],
    planner.plan(wanted(), empty(routes=[route("default", "203.0.113.1", "eth0")]))[0],
])
def test_every_op_is_a_netlink_method_called_with_its_own_arguments(steps):
    """One step vocabulary: ``op`` a ``Netlink`` method, ``args`` its keyword arguments (a link is
    ``link=``; ``add_veth_port``'s peer namespace descriptor comes from the executor)."""
    for item in _with_undo(steps):
        if item["op"] in planner.QUIET_OPS:
            assert set(item["args"]) == {"link", "address", "mac"} and "/" not in item["args"]["address"]
            continue
        assert item["op"] in apply.NETLINK_OPS + ("add_veth_port",)
        args = dict(item["args"], peer_netns_fd=3) if item["op"] == "add_veth_port" else item["args"]
        inspect.signature(getattr(Netlink, item["op"])).bind(None, **args)
        assert "ifname" not in item["args"] and "dest" not in json.dumps(item["args"])


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
    assert [(s["op"], s["args"]["address"]) for s in probe] == [("probe", "198.51.100.12")]
    assert [(s["op"], s["args"].get("address")) for s in configure][:3] == [
        ("delete_address", "198.51.100.99"), ("add_address", "198.51.100.12"), ("add_address", "2001:db8::10")]
    assert [s["args"]["address"] for s in announce] == ["198.51.100.12", "2001:db8::10"]


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
    assert step == {"op": "delete_link", "ns": "host", "args": {"link": "vl2"}, "undo": [],
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
