"""lan_info's bridges on host_bridge's facts (plain data): which are managed, their uplink, foreign ports."""
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import names as _names
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.facts import facts_from_dump
from ansible_collections.lanbridge.core.plugins.module_utils._lan_info import bridges as B

OURS = _names.make_label(_names.container_identity("ab" * 32), "eth1", "web1")


def link(index, name, kind=None, master=None, ifalias=None, mac="02:00:00:00:01:01"):
    return {"index": index, "ifname": name, "kind": kind, "master": master, "mac": mac, "mtu": 1500, "up": True,
            "operstate": "up", "ifalias": ifalias, "peer_index": None, "peer_netnsid": None,
            "stp_state": 0 if kind == "bridge" else None, "forward_delay": 15 if kind == "bridge" else None}


def host(*extra):
    links = [link(1, "lo"), link(2, "em1", master=5), link(5, "br0", "bridge", ifalias="lanbridge:bridge"),
             link(6, "docker0", "bridge"), link(7, "vl1", "veth", master=5, ifalias=OURS),
             link(8, "vl2", "veth", master=6, ifalias=OURS)] + list(extra)
    return facts_from_dump({
        "links": links,
        "addresses": [{"index": 5, "family": "inet", "address": "198.51.100.11", "prefixlen": 24, "scope": "global",
                       "broadcast": "198.51.100.255", "flags": ["permanent"], "label": "br0"}],
        "routes": [{"family": "inet", "dst": "default", "gateway": "198.51.100.254", "oif": 5, "table": 254,
                    "protocol": "static", "scope": "global", "type": "unicast", "metric": None}],
    })


def test_only_labelled_bridges_with_uplink_and_no_persistence():
    facts = host()
    assert B.managed(facts) == ["br0"]
    (view,), warnings = B.views(facts)
    assert warnings == []
    assert view["name"] == "br0" and view["uplink"] == "em1" and view["persisted"] is None
    assert view["ports"] == ["em1", "vl1"] and view["addresses"] == ["198.51.100.11/24"] and view["stp"] is False
    assert [(r["dst"], r["gateway"]) for r in view["routes"]] == [("default", "198.51.100.254")]
    assert B.foreign_ports(facts, "br0", "em1") == []


def test_foreign_ports_and_an_unknown_uplink():
    facts = host(link(9, "tap0", "tun", master=5), link(10, "junk", "veth", master=5, ifalias="lanbridge:veth x"))
    (view,), warnings = B.views(facts)
    assert view["uplink"] is None and len(warnings) == 1 and "bridge br0: its uplink is not known" in warnings[0]
    assert B.foreign_ports(facts, "br0", None) == ["em1", "junk", "tap0"]
    assert B.foreign_ports(facts, "br0", "em1") == ["junk", "tap0"]


def test_bridge_without_uplink():
    facts = host()
    facts["links"]["em1"]["master"] = None
    (view,), warnings = B.views(facts)
    assert view["uplink"] is None and warnings == []
