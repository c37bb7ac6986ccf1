"""One call's entries validated as a whole, and ``state: absent`` by name matching exactly."""
import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import names, purge, report
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.read import bridges_touched
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.entry import (
    Attachment, check_batch, check_resolved, validate,
)


def entries(*raws):
    return [(index, validate(dict({"bridge": "br0"}, **raw), index)) for index, raw in enumerate(raws)]


def test_distinct_entries_pass():
    check_batch(entries({"container": "a", "addresses": ["198.51.100.10/24"]},
                        {"container": "b", "addresses": ["198.51.100.11/24"]},
                        {"container": "a", "ifname": "lan2", "addresses": ["203.0.113.10/24"]}))


@pytest.mark.parametrize("raws, message", [
    (({"container": "a", "addresses": ["198.51.100.10/24"]}, {"container": "b", "addresses": ["198.51.100.10/25"]}),
     "interfaces[1]: address 198.51.100.10 is also claimed by interfaces[0]"),
    (({"netns": "x", "addresses": ["2001:db8::1/64"]}, {"netns": "y", "addresses": ["2001:DB8::1/64"]}),
     "interfaces[1]: address 2001:db8::1 is also claimed by interfaces[0]"),
    (({"container": "a", "mac": "02:00:00:00:00:01"}, {"container": "b", "mac": "02:00:00:00:00:01"}),
     "interfaces[1]: mac 02:00:00:00:00:01 is also claimed by interfaces[0]"),
    (({"container": "a", "host_ifname": "vlx"}, {"container": "b", "host_ifname": "vlx"}),
     "interfaces[1]: host_ifname vlx is also claimed by interfaces[0]"),
    (({"container": "a"}, {"container": "b"}, {"container": "a"}),
     "interfaces[2]: container a eth1 is also claimed by interfaces[0]"),
    (({"netns": "blue", "state": "absent"}, {"netns": "blue", "addresses": ["198.51.100.3/24"]}),
     "interfaces[1]: netns blue eth1 is also claimed by interfaces[0]"),
])
def test_one_claim_twice_is_refused(raws, message):
    with pytest.raises(ValueError) as err:
        check_batch(entries(*raws))
    assert str(err.value) == message


def test_every_clash_is_named():
    with pytest.raises(ValueError) as err:
        check_batch(entries({"container": "a", "addresses": ["198.51.100.10/24", "198.51.100.12/24"]},
                            {"container": "b", "addresses": ["198.51.100.10/24", "198.51.100.12/24"]}))
    assert str(err.value) == ("interfaces[1]: address 198.51.100.10 is also claimed by interfaces[0]; "
                              "interfaces[1]: address 198.51.100.12 is also claimed by interfaces[0]")


def test_absent_entries_claim_no_addresses():
    check_batch(entries({"container": "a", "addresses": ["198.51.100.10/24"], "state": "absent"},
                        {"container": "b", "addresses": ["198.51.100.10/24"]}))


def _resolved(raw, identity, index):
    item = Attachment(validate(dict({"bridge": "br0"}, **raw), index))
    item.target = {"identity": identity, "what": "container %s" % raw["container"], "container_name": "web1"}
    item.wanted = dict(item.entry, host_ifname=names.host_ifname(identity, item.entry["ifname"]),
                       mac=names.container_mac(identity, item.entry["ifname"]))
    return item


def test_one_container_by_name_and_by_id_is_refused_once_resolved():
    one = "container:" + "a" * 64
    items = [_resolved({"container": "web1"}, one, 0), _resolved({"container": "aaaa"}, one, 1)]
    with pytest.raises(ValueError) as err:
        check_resolved(items, single=False)
    assert str(err.value).startswith("interfaces[1]: container aaaa eth1 (the namespace of web1) is also claimed by "
                                     "interfaces[0]")
    check_resolved([items[0], _resolved({"container": "web2"}, "container:" + "b" * 64, 1)], single=False)


def _labelled(*links):
    out = {}
    for name, alias in links:
        label = names.parse_label(alias)
        out.setdefault((label["id"], label["ifname"]), []).append({"ifname": name, "label": label})
    return out


LABELLED = _labelled(
    ("vl1", names.make_label("container:" + "c" * 64, "eth1", "other")),    # another engine's container c...
    ("vl2", names.make_label("netns:4026532999", "eth1", "blue")),          # netns: blue
    ("vl3", names.make_label("container:" + "d" * 64, "eth1", "blue2")),
    ("vl4", names.make_label("container:" + "d" * 64, "lan2", "blue2")),
)


@pytest.mark.parametrize("name, ifname, expected", [
    ("c", "eth1", []),                    # an ID prefix is no match
    ("blue", "eth1", []),                 # a netns attachment is not container blue's
    ("blue2", "eth1", ["vl3"]),           # the label's name
    ("d" * 64, "eth1", ["vl3"]),          # the full ID
    ("blue2", "lan2", ["vl4"]),           # only the entry's interface
    ("d" * 12, "eth1", []),
])
def test_absent_by_name_matches_exactly(name, ifname, expected):
    assert [link["ifname"] for link in purge.unknown_container_links(LABELLED, name, ifname)] == expected


def test_bridges_touched_are_the_named_the_purged_and_for_unnamed_entries_the_labelled():
    links = [{"index": 1, "ifname": "br0", "kind": "bridge"}, {"index": 2, "ifname": "br1", "kind": "bridge"},
             {"index": 3, "ifname": "br2", "kind": "bridge"},
             {"index": 4, "ifname": "vl1", "kind": "veth", "master": 2, "ifalias": names.make_label("netns:1", "eth1")},
             {"index": 5, "ifname": "em1", "kind": "veth", "master": 3, "ifalias": "uplink"}]
    assert bridges_touched([{"bridge": "br0"}, {"bridge": "br0"}], "br9") == ["br0", "br9"]
    assert bridges_touched([{"bridge": "br0"}], None, links) == ["br0"]
    assert bridges_touched([{"bridge": None, "state": "absent"}], None, links) == ["br1"]


class _Done:
    def __init__(self, error=None):
        self.error = error


def test_summarize_reports_each_purge_removal_by_its_named_fields():
    alias = names.make_label(names.container_identity("b" * 64), "eth1", "web2")
    link = {"ifname": "vl2", "master": "br0", "mtu": 1500, "up": True, "ifalias": alias, "label": names.parse_label(alias)}
    done, failed = purge.removals([link], "br0", set()) + purge.removals([dict(link, ifname="vl3")], "br0", set())
    done.transaction, failed.transaction = _Done(), _Done("failed to delete link vl3: [16] Device or resource busy")
    out, warnings, failure = report.summarize([], [done, failed], {}, 0, True)
    assert [(i["host_ifname"], i["changed"], i.get("failed", False)) for i in out["interfaces"]] == [
        ("vl2", True, False), ("vl3", False, True)]
    assert out["diff"] == {"before": {"purged web2 eth1 (vl2)": done.before}, "after": {"purged web2 eth1 (vl2)": {"state": "absent"}}}
    assert warnings == [] and failure == "1 of 2 interfaces failed: failed to delete link vl3: [16] Device or resource busy"
