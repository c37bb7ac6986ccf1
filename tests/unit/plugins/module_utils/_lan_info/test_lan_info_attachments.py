"""lan_info's statuses and views on plain data: the host end, the label, what was read of the target."""
import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import names as _names
from ansible_collections.lanbridge.core.plugins.module_utils._lan_info import attachments as A

CID = "c55779e6266cce74d2d36d06367da22b874ea131029b28da3e4a99574605d9e3"
IDENTITY = _names.container_identity(CID)
LABEL = _names.make_label(IDENTITY, "eth1", "web1")


def host_end(index=9, peer_index=2, netnsid=0, ifalias=LABEL, kind="veth"):
    return {"index": index, "ifname": "vlcf51c669a3e", "kind": kind, "master": 5, "mac": "8e:e0:02:48:1e:03",
            "mtu": 1500, "up": True, "ifalias": ifalias, "peer_index": peer_index, "peer_netnsid": netnsid}


def container_dump(points_back=9):
    return {
        "links": [
            {"index": 1, "ifname": "lo", "kind": None, "mac": "00:00:00:00:00:00", "peer_index": None, "peer_netnsid": None},
            {"index": 2, "ifname": "eth1", "kind": "veth", "mac": "76:0a:51:75:9d:8d", "peer_index": points_back,
             "peer_netnsid": 0},
        ],
        "addresses": [
            {"index": 2, "family": "inet", "address": "198.51.100.21", "prefixlen": 24, "scope": "global"},
            {"index": 2, "family": "inet6", "address": "fe80::740a:51ff:fe75:9d8d", "prefixlen": 64, "scope": "link"},
            {"index": 2, "family": "inet6", "address": "2001:db8::21", "prefixlen": 64, "scope": "global"},
            {"index": 1, "family": "inet", "address": "127.0.0.1", "prefixlen": 8, "scope": "host"},
        ],
        "routes": [
            {"family": "inet", "dst": "203.0.113.0/24", "gateway": "198.51.100.1", "oif": 2, "table": 254,
             "protocol": "boot", "type": "unicast"},
            {"family": "inet", "dst": "default", "gateway": "198.51.100.254", "oif": 2, "table": 254,
             "protocol": "boot", "type": "unicast"},
            {"family": "inet", "dst": "198.51.100.0/24", "gateway": None, "oif": 2, "table": 254,
             "protocol": "kernel", "type": "unicast"},
            {"family": "inet", "dst": "198.51.100.21", "gateway": None, "oif": 2, "table": 255,
             "protocol": "kernel", "type": "local"},
            {"family": "inet", "dst": "198.51.100.0/25", "gateway": "198.51.100.9", "oif": 2, "table": 100,
             "protocol": "boot", "type": "unicast"},
        ],
    }


@pytest.mark.parametrize("kind, state, peer, expected", [
    ("container", "running", True, A.ATTACHED),
    ("container", "running", False, A.STALE),
    ("container", "stopped", False, A.STOPPED),
    ("container", "stopped", True, A.STOPPED),
    ("container", "gone", False, A.GONE),
    ("container", "unknown", False, A.UNKNOWN),
    ("container", None, False, A.UNKNOWN),
    ("netns", "found", True, A.ATTACHED),
    ("netns", "found", False, A.STALE),
    ("netns", "missing", False, A.NAMESPACE_GONE),
    ("netns", "unknown", False, A.NAMESPACE_GONE),
    (None, "running", True, A.UNKNOWN),
])
def test_status(kind, state, peer, expected):
    assert A.status(kind, state, {"index": 2} if peer else None) == expected
    assert expected in A.STATUSES


@pytest.mark.parametrize("identity, kind", [
    (IDENTITY, "container"), ("netns:4026536993", "netns"), ("netns:abc", None), ("container:", None),
    ("vm:7", None), ("", None),
])
def test_target_kind(identity, kind):
    assert A.target_kind(identity) == kind


def test_labelled_only_veths_with_our_label():
    links = [host_end(), host_end(index=10, ifalias="lanbridge:bridge", kind="bridge"),
             host_end(index=11, ifalias="someone else's"), host_end(index=12, ifalias=LABEL, kind="tun"),
             host_end(index=13, ifalias=None), host_end(index=14, ifalias="lanbridge:veth garbage")]
    found = A.labelled(links)
    assert [(link["index"], label["id"], label["ifname"], label["name"]) for link, label in found] == [
        (9, IDENTITY, "eth1", "web1")]


@pytest.mark.parametrize("host, points_back, found", [
    (host_end(), 9, True),
    (host_end(), 7, False),  # index 2 there is some other pair's end
    (host_end(peer_index=3), 9, False),
    (host_end(netnsid=None), 9, False),  # the other end is in the host's own namespace
])
def test_find_peer(host, points_back, found):
    peer = A.find_peer(host, container_dump(points_back)["links"])
    assert (peer is not None) == found
    if found:
        assert peer["ifname"] == "eth1"


def test_peer_facts_addresses_and_configured_main_table_routes():
    dump = container_dump()
    addresses, routes = A.peer_facts(dump["links"][1], dump)
    assert addresses == ["198.51.100.21/24", "2001:db8::21/64"]
    assert [(r["family"], r["dst"], r["gateway"], r["oif"]) for r in routes] == [
        ("inet", "default", "198.51.100.254", 2), ("inet", "203.0.113.0/24", "198.51.100.1", 2)]


def test_attached_container():
    label = _names.parse_label(LABEL)
    target = {"state": "running", "dump": container_dump(), "netns": "/proc/22615/ns/net", "pid": 22615,
              "container_name": "web1", "error": None}
    item = A.attachment(host_end(), label, "br0", {"br0"}, target)
    assert item == {
        "host_ifname": "vlcf51c669a3e", "kind": "veth", "host_mac": "8e:e0:02:48:1e:03", "mtu": 1500,
        "bridge": "br0", "bridge_managed": True, "identity": IDENTITY, "container_id": CID, "container_name": "web1",
        "pid": 22615, "netns": "/proc/22615/ns/net", "ifname": "eth1", "peer_ifname": "eth1",
        "mac": "76:0a:51:75:9d:8d", "addresses": ["198.51.100.21/24", "2001:db8::21/64"],
        "routes": [{"dest": "default", "via": "198.51.100.254"}, {"dest": "203.0.113.0/24", "via": "198.51.100.1"}],
        "mode": "bridged", "uplink": None, "proxy": [],
        "status": "attached", "reason": "container web1 (c55779e6266c) has eth1, the other end of vlcf51c669a3e",
    }


@pytest.mark.parametrize("target, status, words", [
    ({"state": "stopped", "container_name": "web1"}, A.STOPPED, "is not running"),
    ({"state": "gone"}, A.GONE, "is not known to the engine"),
    ({"state": "unknown", "error": "cannot reach the docker engine at unix:///x.sock: No such file or directory"},
     A.UNKNOWN, "cannot reach the docker engine"),
    ({"state": "running", "dump": container_dump(points_back=4), "netns": "/proc/7/ns/net", "pid": 7}, A.STALE,
     "not in its network namespace"),
    (None, A.UNKNOWN, "its state cannot be read"),
])
def test_container_not_attached(target, status, words):
    item = A.attachment(host_end(), _names.parse_label(LABEL), None, {"br0"}, target)
    assert item["status"] == status and words in item["reason"]
    assert item["mac"] is None and item["addresses"] == [] and item["routes"] == [] and item["peer_ifname"] is None
    assert item["container_id"] == CID and item["container_name"] == "web1"  # from the label when the engine has none
    assert item["bridge"] is None and item["bridge_managed"] is False
    if status == A.STALE:
        assert (item["pid"], item["netns"]) == (7, "/proc/7/ns/net")
    else:
        assert (item["pid"], item["netns"]) == (None, None)


def test_namespace_attached_and_gone():
    label = _names.parse_label(_names.make_label(_names.netns_identity(4026536993), "lan0", "blue"))
    dump = container_dump()
    dump["links"][1]["ifname"] = "lan0"
    found = A.attachment(host_end(), label, "br0", {"br0"},
                         {"state": "found", "dump": dump, "netns": "/run/netns/blue", "pid": None})
    assert (found["status"], found["container_id"], found["container_name"], found["netns"], found["peer_ifname"]) == (
        A.ATTACHED, None, "blue", "/run/netns/blue", "lan0")
    gone = A.attachment(host_end(), label, "br0", {"br0"}, {"state": "missing"})
    assert gone["status"] == A.NAMESPACE_GONE and "inode 4026536993" in gone["reason"]


def test_unknown_identity_kind():
    label = {"id": "vm:7", "ifname": "eth1", "name": None}
    item = A.attachment(host_end(), label, "br0", {"br0"}, {"state": "unknown"})
    assert item["status"] == A.UNKNOWN and "this version does not know" in item["reason"]
    assert item["container_id"] is None


def test_foreign_and_order():
    link = host_end(index=20, ifalias=None)
    link["ifname"] = "fv0"
    item = A.foreign(link, "br0")
    assert item["status"] == A.NOT_OURS and item["identity"] is None and item["bridge_managed"] is True
    assert item["reason"].endswith("it is not its uplink")
    assert A.foreign(link, "br0", uplink_known=False)["reason"].endswith("the bridge's uplink is not known")
    web = A.attachment(host_end(), _names.parse_label(LABEL), "br0", {"br0"}, {"state": "gone"})
    loose = dict(web, bridge=None, host_ifname="vl0")
    assert sorted([item, web, loose], key=A.order) == [loose, web, item]


ROUTED_LABEL = _names.make_label(IDENTITY, "eth1", "web1", "em1", ["ipv4/forwarding"])


def host_dump():
    """The host's dump around a routed host end (index 9) on uplink em1 (index 2)."""
    return {
        "links": [{"index": 2, "ifname": "em1", "kind": None}, {"index": 4, "ifname": "em2", "kind": None},
                  host_end(ifalias=ROUTED_LABEL)],
        "routes": [{"family": "inet", "dst": "198.51.100.21/32", "oif": 9, "table": 254},
                   {"family": "inet6", "dst": "2001:db8::21/128", "oif": 9, "table": 254},
                   {"family": "inet", "dst": "198.51.100.0/24", "oif": 2, "table": 254},
                   {"family": "inet", "dst": "default", "oif": 9, "table": 254}],
        "proxy": [{"index": 2, "family": "inet", "address": "198.51.100.21"},
                  {"index": 2, "family": "inet6", "address": "2001:db8::21"},
                  {"index": 2, "family": "inet", "address": "198.51.100.99"},  # another attachment's
                  {"index": 4, "family": "inet", "address": "198.51.100.21"}],  # on another interface
    }


def test_routed_attachment_reports_mode_uplink_and_its_proxy_entries():
    target = {"state": "running", "dump": container_dump(), "netns": "/proc/22615/ns/net", "pid": 22615,
              "container_name": "web1", "error": None}
    item = A.attachment(host_end(ifalias=ROUTED_LABEL), _names.parse_label(ROUTED_LABEL), None, {"br0"}, target,
                        host_dump())
    assert (item["mode"], item["uplink"], item["bridge"]) == ("routed", "em1", None)
    assert item["proxy"] == ["198.51.100.21", "2001:db8::21"]


def test_routed_attachment_of_a_stopped_container_still_shows_its_proxy_entries():
    dump = dict(host_dump(), routes=host_dump()["routes"][:1])
    item = A.attachment(host_end(ifalias=ROUTED_LABEL), _names.parse_label(ROUTED_LABEL), None, set(),
                        {"state": "stopped"}, dump)
    assert (item["status"], item["mode"], item["proxy"]) == (A.STOPPED, "routed", ["198.51.100.21"])


def test_routed_facts_without_the_uplink_or_a_label_uplink():
    assert A.routed_facts(host_end(), _names.parse_label(LABEL), host_dump()) == {
        "mode": "bridged", "uplink": None, "proxy": []}
    gone = dict(host_dump(), links=host_dump()["links"][1:])
    assert A.routed_facts(host_end(), _names.parse_label(ROUTED_LABEL), gone) == {
        "mode": "routed", "uplink": "em1", "proxy": []}
