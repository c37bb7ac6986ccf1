"""Names from identity: host-side veth name, pinned MAC, ifalias label."""
import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import names as _names

CID = "3f2a91c0e1d54b7a9e0c7f0b5f0e6a1d2c3b4a5968778695a4b3c2d1e0f9a8b7"


def test_host_ifname_is_stable_short_and_distinct():
    ident = _names.container_identity(CID)
    name = _names.host_ifname(ident, "eth1")
    assert name == _names.host_ifname(ident, "eth1")
    assert len(name.encode()) <= 15 and name.startswith("vl")
    assert name != _names.host_ifname(ident, "eth2")
    assert name != _names.host_ifname(_names.container_identity("0" + CID[1:]), "eth1")
    assert name != _names.host_ifname(_names.netns_identity(4026532890), "eth1")


def test_mac_is_stable_unicast_and_locally_administered():
    ident = _names.container_identity(CID)
    mac = _names.container_mac(ident, "eth1")
    assert mac == _names.container_mac(ident, "eth1")
    first = int(mac.split(":", 1)[0], 16)
    assert first & 0x01 == 0 and first & 0x02 == 2
    assert len(mac.split(":")) == 6
    assert mac != _names.container_mac(ident, "eth2")


@pytest.mark.parametrize("name", ["web1", None, "my app", "x/y"])
def test_label_round_trip(name):
    ident = _names.container_identity(CID)
    label = _names.make_label(ident, "eth1", name)
    assert _names.parse_label(label) == {"id": ident, "ifname": "eth1", "name": name}
    assert len(label) <= 255


@pytest.mark.parametrize("text", [None, "", "uplink to core switch", "lanbridge:veth", "lanbridge:veth id=x",
                                  "lanbridge:vethx id=a if=b", "lanbridge:veth id=a if=b junk"])
def test_foreign_labels_are_not_ours(text):
    assert _names.parse_label(text) is None
