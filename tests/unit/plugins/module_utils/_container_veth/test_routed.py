"""``mode: routed`` on plain data: options, refusals before any change, the planner's steps and undo."""
import inspect

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import apply
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import names
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import plan as planner
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import routed
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.entry import validate, with_shared
from ansible_collections.lanbridge.core.plugins.module_utils._errors import PlanError, ValidationError
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netlink import Netlink

MAC = "02:11:22:33:44:55"
UPLINK_MAC = "02:00:00:00:00:e1"
ALL_OFF = {"ipv4/forwarding": "0", "ipv6/forwarding": "0", "ipv6/proxy_ndp": "0", "ipv6/force_forwarding": "0"}
ALL_ON = dict((k, "1") for k in ALL_OFF)


def entry(**kw):
    raw = {"netns": "blue", "mode": "routed", "uplink": "em1", "addresses": ["192.0.2.10/24", "2001:db8::10/64"]}
    raw.update(kw)
    return validate(raw)


def wanted(label_on=(), **kw):
    w = dict(entry(**kw), host_ifname="vlabc", mac=MAC, mtu=1500)
    w["label"] = names.make_label("netns:1", "eth1", "blue", "em1", label_on)
    return w


def live_fresh(**kw):
    live = {"host": None, "stale": [], "taken": None, "bridge": None, "peer": None, "addresses": [], "routes": [],
            "uplink": {"ifname": "em1", "index": 2, "mac": UPLINK_MAC, "mtu": 1500, "kind": None},
            "uplink_addresses": ["192.0.2.2/24", "2001:db8::2/64"], "host_addresses": ["192.0.2.2/24", "2001:db8::2/64"],
            "host_end_addresses": [], "host_routes": [], "proxy": [], "others_on_uplink": [],
            "sysctls": {"all": {"ipv4/forwarding": "0", "ipv6/forwarding": "0"}, "em1": dict(ALL_OFF)}}
    live.update(kw)
    return live


def live_intact(w, **kw):
    label = names.parse_label(w["label"])
    live = live_fresh(
        host={"ifname": "vlabc", "index": 7, "master": None, "mtu": 1500, "up": True, "ifalias": w["label"],
              "peer_index": 3, "label": label},
        peer={"ifname": "eth1", "index": 3, "mac": MAC, "mtu": 1500, "up": True, "kind": "veth", "peer_index": 7},
        addresses=["192.0.2.10/32", "2001:db8::10/128"], ipv6=True,
        routes=[{"family": "inet", "dst": "default", "gateway": "169.254.0.1", "dev": "eth1", "table": 254,
                 "metric": None},
                {"family": "inet6", "dst": "default", "gateway": "fe80::1", "dev": "eth1", "table": 254,
                 "metric": 1024}],
        host_end_addresses=["169.254.0.1/32", "fe80::1/128"],
        host_routes=[{"family": "inet", "dst": "192.0.2.10/32", "oif": 7},
                     {"family": "inet6", "dst": "2001:db8::10/128", "oif": 7}],
        proxy=["192.0.2.10", "2001:db8::10"],
        sysctls={"all": {"ipv4/forwarding": "0", "ipv6/forwarding": "0"}, "em1": dict(ALL_ON),
                 "vlabc": {"ipv4/forwarding": "1", "ipv6/force_forwarding": "1", "ipv6/forwarding": "0",
                           "ipv6/proxy_ndp": "0"}})
    live.update(kw)
    return live


def test_options_give_host_addresses_and_link_local_defaults():
    e = entry()
    assert e["addresses"] == ["192.0.2.10/32", "2001:db8::10/128"]
    assert e["lan_addresses"] == ["192.0.2.10/24", "2001:db8::10/64"]
    assert e["routes"] == [{"family": "inet", "dst": "default", "gateway": "169.254.0.1", "onlink": True},
                           {"family": "inet6", "dst": "default", "gateway": "fe80::1", "onlink": True}]


@pytest.mark.parametrize("kw, cause", [
    ({"uplink": None}, "mode routed needs uplink"),
    ({"bridge": "br0"}, "mode routed takes uplink, not bridge"),
    ({"addresses": []}, "DHCP is not possible in routed mode"),
    ({"gateway": "192.0.2.1"}, "gateway is not taken in mode routed"),
    ({"mode": "bridged", "bridge": "br0"}, "uplink is taken only with mode routed"),
    ({"allowed_networks": ["nonsense"]}, "allowed_networks: 'nonsense' is not a network"),
])
def test_bad_options_are_refused_naming_the_cause(kw, cause):
    with pytest.raises(ValidationError) as exc:
        entry(**kw)
    assert cause in str(exc.value)


@pytest.mark.parametrize("kw, live, cause", [
    ({}, {"uplink": None}, "uplink em1 does not exist"),
    ({"addresses": ["198.51.100.10/24"]}, {}, "address 198.51.100.10 is outside the subnets of uplink em1"),
    ({"addresses": ["192.0.2.2/24"]}, {}, "address 192.0.2.2 is the host's own"),
    ({}, {"sysctls": {"all": {"ipv6/forwarding": "0"}, "em1": {"ipv4/forwarding": "0"}}},
     "IPv6 in mode routed needs per-interface IPv6 forwarding"),
])
def test_live_refusals_before_any_change(kw, live, cause):
    with pytest.raises(PlanError) as exc:
        planner.plan(wanted(**kw), live_fresh(**live))
    assert cause in str(exc.value)


def test_allowed_networks_admit_an_address_off_the_uplink():
    w = wanted(addresses=["198.51.100.10/24"], allowed_networks=["198.51.100.0/24"])
    steps, _before, _after = planner.plan(w, live_fresh())
    assert ("add_proxy_neighbour", {"link": "em1", "address": "198.51.100.10"}) in [
        (s["op"], s["args"]) for s in steps]


def test_fresh_plan_host_end_in_no_bridge_and_every_host_step_undone():
    w = wanted()
    steps, before, after = planner.plan(w, live_fresh())
    assert steps[0]["op"] == "add_veth_port" and steps[0]["args"]["master"] is None
    texts = [s["text"] for s in steps]
    for text in ("set net.ipv4.conf.em1.forwarding to 1", "set net.ipv6.conf.em1.proxy_ndp to 1",
                 "set net.ipv6.conf.em1.force_forwarding to 1", "set net.ipv4.conf.vlabc.forwarding to 1",
                 "add address 169.254.0.1/32 to vlabc", "add address fe80::1/128 to vlabc",
                 "add route 192.0.2.10/32 dev vlabc", "add route 2001:db8::10/128 dev vlabc",
                 "add proxy neighbour 192.0.2.10 on em1", "add proxy neighbour 2001:db8::10 on em1",
                 "add route default via 169.254.0.1 dev eth1 onlink", "add address 192.0.2.10/32 to eth1"):
        assert text in texts
    by_text = dict((s["text"], s) for s in steps)
    assert by_text["set net.ipv4.conf.em1.forwarding to 1"]["undo"][0]["args"]["value"] == "0"
    assert by_text["add proxy neighbour 192.0.2.10 on em1"]["undo"][0]["op"] == "delete_proxy_neighbour"
    probe = by_text["probe the LAN for 192.0.2.10/32 from em1"]
    assert (probe["ns"], probe["args"]["mac"]) == ("host", UPLINK_MAC)
    assert by_text["announce 2001:db8::10/128 on em1"]["ns"] == "host"
    assert before == {"state": "absent"}
    assert after["host"]["bridge"] is None and after["host"]["proxy"] == ["192.0.2.10", "2001:db8::10"]
    assert after["host"]["routes"] == ["192.0.2.10/32", "2001:db8::10/128"]
    assert routed.turned_on(w, live_fresh()) == sorted(ALL_OFF)
    for item in steps + [u for s in steps for u in s["undo"]]:  # every op is a Netlink method or the executor's
        if item["op"] in ("probe", "announce", "add_veth_port"):
            continue
        assert item["op"] in apply.NETLINK_OPS
        inspect.signature(getattr(Netlink, item["op"])).bind(None, **item["args"])
    assert [planner.phase_of(s) for s in steps if "proxy" in s["op"]] == ["configure", "configure"]


def test_second_run_changes_nothing():
    w = wanted(label_on=sorted(ALL_OFF))
    live = live_intact(w)
    assert routed.turned_on(w, live) == sorted(ALL_OFF)  # the record survives in the label
    steps, before, after = planner.plan(w, live)
    assert steps == [] and before == after


def test_drift_is_repaired_one_thing_a_step():
    w = wanted(label_on=sorted(ALL_OFF))
    live = live_intact(w, proxy=["192.0.2.10"], host=dict(live_intact(w)["host"], master="br0"))
    steps, _before, _after = planner.plan(w, live)
    assert [s["text"] for s in steps] == ["set vlabc master nomaster", "add proxy neighbour 2001:db8::10 on em1"]
    assert steps[0]["undo"][0]["args"] == {"link": "vlabc", "master": "br0"}


def test_absent_removes_proxies_and_restores_what_was_turned_on_by_the_last_one():
    w = wanted(label_on=["ipv4/forwarding", "ipv6/proxy_ndp"])
    live = live_intact(w)
    steps, _before, after = planner.plan(dict(w, state="absent"), live)
    assert [s["text"] for s in steps] == [
        "delete veth vlabc (and its peer)", "delete proxy neighbour 192.0.2.10 on em1",
        "delete proxy neighbour 2001:db8::10 on em1", "set net.ipv4.conf.em1.forwarding to 0",
        "set net.ipv6.conf.em1.proxy_ndp to 0"]
    assert after == {"state": "absent"}
    other = names.parse_label(names.make_label("netns:2", "eth1", "red", "em1", ["ipv4/forwarding"]))
    steps, _before, _after = planner.plan(dict(w, state="absent"), dict(live, others_on_uplink=[other]))
    assert not any(s["op"] == "set_sysctl" for s in steps)  # another routed attachment still needs them


def test_bridged_labels_keep_their_shape():
    assert names.parse_label(names.make_label("netns:1", "eth1", "blue")) == {
        "id": "netns:1", "ifname": "eth1", "name": "blue"}


def _uplink_sysctl_texts(steps):
    return [s["text"] for s in steps if s["op"] == "set_sysctl" and ".em1." in s["text"]]


def test_turning_ipv6_forwarding_on_keeps_router_advertisements_with_accept_ra_2():
    w = wanted()
    live = live_fresh(sysctls={"all": {"ipv6/forwarding": "0"}, "em1": dict(ALL_OFF, **{"ipv6/accept_ra": "1"})})
    steps, _before, _after = planner.plan(w, live)
    texts = _uplink_sysctl_texts(steps)
    assert texts.index("set net.ipv6.conf.em1.accept_ra to 2") < texts.index("set net.ipv6.conf.em1.forwarding to 1")
    by_text = dict((s["text"], s) for s in steps)
    assert by_text["set net.ipv6.conf.em1.accept_ra to 2"]["undo"][0]["args"]["value"] == "1"
    record = routed.turned_on(w, live)
    assert "ipv6/accept_ra" in record
    w = wanted(label_on=record)
    on = dict(ALL_ON, **{"ipv6/accept_ra": "2"})
    steps, _before, _after = planner.plan(w, live_intact(w, sysctls=dict(live_intact(w)["sysctls"], em1=on)))
    assert steps == []  # the second run leaves accept_ra at 2
    steps, _before, _after = planner.plan(dict(w, state="absent"),
                                          live_intact(w, sysctls=dict(live_intact(w)["sysctls"], em1=on)))
    assert _uplink_sysctl_texts(steps)[-2:] == ["set net.ipv6.conf.em1.proxy_ndp to 0",
                                                "set net.ipv6.conf.em1.accept_ra to 1"]


@pytest.mark.parametrize("kw, uplink", [
    ({}, dict(ALL_OFF, **{"ipv6/accept_ra": "0"})),  # the administrator takes no RAs
    ({}, dict(ALL_OFF, **{"ipv6/accept_ra": "2", "ipv6/forwarding": "1"})),
    ({}, dict(ALL_OFF, **{"ipv6/accept_ra": "1", "ipv6/forwarding": "1"})),  # forwarding was on already
    ({"addresses": ["192.0.2.10/24"]}, dict(ALL_OFF, **{"ipv6/accept_ra": "1"})),  # no IPv6 forwarding turned on
])
def test_accept_ra_is_left_alone_unless_ipv6_forwarding_is_turned_on(kw, uplink):
    w = wanted(**kw)
    live = live_fresh(sysctls={"all": {"ipv6/forwarding": "0"}, "em1": uplink})
    steps, _before, _after = planner.plan(w, live)
    assert not any("accept_ra" in t for t in _uplink_sysctl_texts(steps))
    assert "ipv6/accept_ra" not in routed.turned_on(w, live)


@pytest.mark.parametrize("raw, shared, expected", [
    ({"netns": "a", "mode": "routed", "uplink": "em1"}, {"bridge": "br0"}, {"mode": "routed", "uplink": "em1"}),
    ({"netns": "a"}, {"bridge": "br0", "uplink": "em1"}, {"bridge": "br0"}),
    ({"netns": "a"}, {"bridge": "br0", "mode": "routed", "uplink": "em1"}, {"mode": "routed", "uplink": "em1"}),
    ({"netns": "a", "mode": "bridged"}, {"bridge": "br0", "mode": "routed", "uplink": "em1"},
     {"mode": "bridged", "bridge": "br0"}),
])
def test_top_level_bridge_and_uplink_fill_only_the_entries_of_their_mode(raw, shared, expected):
    assert with_shared(raw, shared) == dict(expected, netns="a")
    validate(with_shared(dict(raw, addresses=["192.0.2.10/24"]), shared))  # the module takes each
