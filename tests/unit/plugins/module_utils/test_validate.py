"""Meaning-level checks on plain values."""
import pytest

from ansible_collections.lanbridge.core.plugins.module_utils import _validate as v
from ansible_collections.lanbridge.core.plugins.module_utils._errors import ValidationError


@pytest.mark.parametrize("name", ["br0", "em1", "a", "x" * 15, "br-lan.10", "vl3f2a91c0aa"])
def test_good_ifnames(name):
    assert v.check_ifname(name) == name


@pytest.mark.parametrize("name, message", [
    ("br-very-long-name", "name 'br-very-long-name' is longer than 15 bytes"),
    ("é" * 8, "is longer than 15 bytes"),
    ("br/0", "name 'br/0' contains '/', not allowed in interface names"),
    ("br 0", "name 'br 0' contains space, not allowed in interface names"),
    ("br:0", "contains ':'"),
    ("br\t0", "contains control character 0x09"),
    ("br\x000", r"name 'br\\x000' contains control character 0x00, not allowed in interface names"),
    ("br0\n", "contains control character 0x0a"),
    ("br\x7f", "contains control character 0x7f"),
    ("br\x1b0", "contains control character 0x1b"),
    ("brü", "contains non-ASCII byte 0xbc, non-ASCII byte 0xc3"),
    ("br\u00a00", "non-ASCII byte"),  # a no-break space: whitespace to humans, bytes to the kernel
    ("", "must be a non-empty interface name"),
    ("..", "is not a valid interface name"),
])
def test_bad_ifnames(name, message):
    with pytest.raises(ValidationError, match="^" + message if message.startswith("name") else message):
        v.check_ifname(name)


def test_ifname_names_the_option():
    with pytest.raises(ValidationError, match="^uplink 'a/b' contains"):
        v.check_ifname("a/b", "uplink")


@pytest.mark.parametrize("mac, expected", [("AA:bb:cc:dd:ee:0f", "aa:bb:cc:dd:ee:0f"), ("02:00:00:00:00:01", "02:00:00:00:00:01")])
def test_good_macs(mac, expected):
    assert v.check_mac(mac) == expected and v.is_mac(mac)


@pytest.mark.parametrize("mac, message", [
    ("aa:bb:cc:dd:ee", "is not a MAC address"), ("aabbccddeeff", "is not a MAC address"),
    ("zz:bb:cc:dd:ee:ff", "is not a MAC address"), ("01:00:5e:00:00:01", "multicast"),
    ("00:00:00:00:00:00", "all-zero"),
    ("02:00:00:00:00:01\n", "is not a MAC address"), ("02:00:00:00:00:01 ", "is not a MAC address"),
    (" 02:00:00:00:00:01", "is not a MAC address"), ("02:00:00:00:00:01\x00", "is not a MAC address"),
])
def test_bad_macs(mac, message):
    with pytest.raises(ValidationError, match=message):
        v.check_mac(mac)


@pytest.mark.parametrize("value, expected", [
    ("198.51.100.11/24", {"address": "198.51.100.11", "prefixlen": 24, "family": "inet", "cidr": "198.51.100.11/24"}),
    ("2001:DB8::0011/64", {"address": "2001:db8::11", "prefixlen": 64, "family": "inet6", "cidr": "2001:db8::11/64"}),
    ("203.0.113.1/32", {"address": "203.0.113.1", "prefixlen": 32, "family": "inet", "cidr": "203.0.113.1/32"}),
    # /31 and /32 have no network or broadcast address: both ends of a /31 are hosts (RFC 3021)
    ("203.0.113.0/31", {"address": "203.0.113.0", "prefixlen": 31, "family": "inet", "cidr": "203.0.113.0/31"}),
    ("203.0.113.1/31", {"address": "203.0.113.1", "prefixlen": 31, "family": "inet", "cidr": "203.0.113.1/31"}),
    ("203.0.113.0/32", {"address": "203.0.113.0", "prefixlen": 32, "family": "inet", "cidr": "203.0.113.0/32"}),
    # IPv6 has no broadcast; its all-zero host part is the subnet-router anycast address, still usable
    ("2001:db8::/64", {"address": "2001:db8::", "prefixlen": 64, "family": "inet6", "cidr": "2001:db8::/64"}),
    ("2001:db8::ffff:ffff:ffff:ffff/64",
     {"address": "2001:db8::ffff:ffff:ffff:ffff", "prefixlen": 64, "family": "inet6", "cidr": "2001:db8::ffff:ffff:ffff:ffff/64"}),
])
def test_good_cidrs(value, expected):
    assert v.check_cidr(value) == expected


@pytest.mark.parametrize("value, message", [
    ("198.51.100.11", "is not in CIDR form"), ("198.51.100.300/24", "is not a valid CIDR"),
    ("203.0.113.1/33", "is not a valid CIDR"), ("foo/24", "is not a valid CIDR"),
    ("224.0.0.1/4", "is not a usable host address"), ("0.0.0.0/0", "is not a usable host address"),
    ("198.51.100.57/0", r"is not a usable host address \(prefix length 0"),
    ("2001:db8::1/0", r"is not a usable host address \(prefix length 0"),
    ("127.0.0.2/8", r"is not a usable host address \(a loopback address\)"),
    ("::1/128", r"is not a usable host address \(a loopback address\)"),
    ("ff02::1/64", r"is not a usable host address \(a multicast address\)"),
    ("0.0.0.0/24", r"is not a usable host address \(the unspecified address\)"),
    ("::/64", r"is not a usable host address \(the unspecified address\)"),
    ("255.255.255.255/32", r"is not a usable host address \(the limited broadcast address\)"),
    ("198.51.100.0/24", r"is not a usable host address \(it is the network address of 198.51.100.0/24\)"),
    ("198.51.100.255/24", r"is not a usable host address \(it is the broadcast address of 198.51.100.0/24\)"),
    ("203.0.113.3/30", r"is not a usable host address \(it is the broadcast address of 203.0.113.0/30\)"),
])
def test_bad_cidrs(value, message):
    with pytest.raises(ValidationError, match="^address '.*' " + message):
        v.check_cidr(value)


@pytest.mark.parametrize("value, ok", [(68, True), (1500, True), (65535, True), (10, False), (67, False), (65536, False), ("x", False)])
def test_mtu(value, ok):
    if ok:
        assert v.check_mtu(value) == value
    else:
        with pytest.raises(ValidationError, match="^mtu "):
            v.check_mtu(value)


def test_mtu_message():
    with pytest.raises(ValidationError, match=r"^mtu 10 is out of range \(68..65535\)$"):
        v.check_mtu(10)


@pytest.mark.parametrize("value, stp, ok", [(0, False, True), (30, False, True), (2, True, True), (1, True, False), (31, False, False)])
def test_forward_delay(value, stp, ok):
    if ok:
        assert v.check_forward_delay(value, stp) == value
    else:
        with pytest.raises(ValidationError, match="forward_delay"):
            v.check_forward_delay(value, stp)


def test_gateway_on_subnet():
    assert v.check_gateway("198.51.100.254", ["198.51.100.11/24"], "br0") == "198.51.100.254"
    assert v.check_gateway("fe80::1", ["198.51.100.11/24"], "br0") == "fe80::1"
    assert v.subnet_of("2001:db8::1", ["198.51.100.11/24", "2001:db8::11/64"]) == "2001:db8::11/64"
    with pytest.raises(ValidationError, match="^gateway 203.0.113.1 is not on any subnet of br0$"):
        v.check_gateway("203.0.113.1", ["198.51.100.11/24"], "br0")
    with pytest.raises(ValidationError, match="^gateway 'nope' is not an IPv4 or IPv6 address$"):
        v.check_gateway("nope", [], "br0")


@pytest.mark.parametrize("value, cidrs, version, expected", [
    ("198.51.100.1", ["198.51.100.10/24"], 4, "198.51.100.1"),
    ("203.0.113.0", ["203.0.113.1/31"], 4, "203.0.113.0"),     # the other end of a /31
    ("2001:db8::1", ["2001:db8::10/64"], 6, "2001:db8::1"),
    ("fe80::1", ["198.51.100.10/24"], None, "fe80::1"),          # link-local: on every IPv6 link
    (" 198.51.100.1 ", ["198.51.100.10/24"], None, "198.51.100.1"),
])
def test_good_next_hops(value, cidrs, version, expected):
    assert v.check_next_hop(value, cidrs, "gateway", version) == expected


@pytest.mark.parametrize("value, cidrs, version, message", [
    ("198.51.100.10", ["198.51.100.10/24"], 4, "^gateway 198.51.100.10 is one of the interface's own addresses"),
    ("2001:db8::10", ["2001:db8::10/64"], 6, "^gateway 2001:db8::10 is one of the interface's own addresses"),
    ("198.51.100.0", ["198.51.100.10/24"], 4, "^gateway 198.51.100.0 is the network address of 198.51.100.0/24"),
    ("198.51.100.255", ["198.51.100.10/24"], 4, "is the broadcast address of 198.51.100.0/24, not a host$"),
    ("127.0.0.1", ["198.51.100.10/24"], 4, r"is not usable as a next hop \(a loopback address\)"),
    ("224.0.0.1", ["198.51.100.10/24"], 4, r"\(a multicast address\)"),
    ("0.0.0.0", ["198.51.100.10/24"], 4, r"\(the unspecified address\)"),
    ("203.0.113.1", ["198.51.100.10/24"], 4, r"^gateway 203.0.113.1 is not on any subnet of the addresses \(198.51.100.10/24\)$"),
    ("203.0.113.1", [], 4, r"is not on any subnet of the addresses \(none\)$"),
    ("2001:db8::1", ["198.51.100.10/24"], 4, "^gateway 2001:db8::1 is not an IPv4 address$"),
])
def test_bad_next_hops(value, cidrs, version, message):
    with pytest.raises(ValidationError, match=message):
        v.check_next_hop(value, cidrs, "gateway", version)


def test_gateway_is_not_the_bridge_itself():
    with pytest.raises(ValidationError, match="^gateway 198.51.100.11 is one of the addresses of br0$"):
        v.check_gateway("198.51.100.11", ["198.51.100.11/24"], "br0")
