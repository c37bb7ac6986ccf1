# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Meaning-level checks that argument_spec cannot express. Pure functions, no kernel access.

Each check returns the normalized value or raises ``ValidationError`` with one sentence naming the
option, the value and the rule. Shared by ``host_bridge``, ``container_veth`` and the role's fleet
filter (``plugins/filter/container_lan.py``): one definition of each rule in the collection.

``check_ifname(value, what='name')``       -> the name (1..15 bytes of printable ASCII, no '/', ':' or space)
``check_mac(value, what='mac')``           -> lower-case ``aa:bb:cc:dd:ee:ff`` (unicast, not zero, nothing after it)
``is_mac(value)``                          -> bool
``check_ip(value, what='address')``        -> the address, compressed (IPv4 or IPv6, no prefix)
``check_cidr(value, what='address')``      -> ``{'address', 'prefixlen', 'family', 'cidr'}`` of a usable host
                                              address: prefix length > 0; not loopback, multicast or
                                              unspecified; for IPv4 below /31 not the subnet's network
                                              or broadcast address (/31 and /32 have neither)
``check_next_hop(value, cidrs, what, version=None)`` -> a gateway / route ``via`` that is usable from
                                              ``cidrs``: on one of their subnets (IPv6 link-local is on
                                              every link), not one of the addresses themselves, not the
                                              subnet's network or broadcast address
``check_mtu(value, what='mtu')``           -> int in 68..65535
``check_forward_delay(value, stp)``        -> number of seconds (2..30 with STP, 0..30 without)
``subnet_of(ip, cidrs)``                   -> the first CIDR whose subnet holds ``ip``, or None
``check_gateway(gateway, cidrs, device)``  -> the gateway; raises unless it is on a subnet of them
                                              (and not one of them)
"""

import ipaddress
import re

from ansible_collections.lanbridge.core.plugins.module_utils._errors import ValidationError

IFNAMSIZ = 16  # the kernel's limit includes the terminating NUL
IFNAME_MAX = IFNAMSIZ - 1
MTU_MIN, MTU_MAX = 68, 65535
_MAC_RE = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}")  # used with fullmatch: no trailing newline


def _byte_name(byte):
    if byte == 0x20:
        return "space"
    if byte < 0x20 or byte == 0x7F:
        return "control character 0x%02x" % byte
    if byte > 0x7F:
        return "non-ASCII byte 0x%02x" % byte
    return repr(chr(byte))


def check_ifname(value, what="name"):
    """An interface name the kernel takes as given: 1..15 bytes, each printable ASCII other than
    ``/`` and ``:`` (no space, no control character, no NUL), and not ``.`` or ``..``."""
    if not isinstance(value, str) or value == "":
        raise ValidationError("%s must be a non-empty interface name" % what)
    raw = value.encode("utf-8", "surrogateescape")
    if len(raw) > IFNAME_MAX:
        raise ValidationError("%s %r is longer than %d bytes" % (what, value, IFNAME_MAX))
    if value in (".", ".."):
        raise ValidationError("%s %r is not a valid interface name" % (what, value))
    bad = sorted(set(b for b in bytearray(raw) if not 0x21 <= b <= 0x7E or b in b"/:"))
    if bad:
        shown = ", ".join(_byte_name(b) for b in bad)
        raise ValidationError("%s %r contains %s, not allowed in interface names (printable ASCII only, "
                              "without '/', ':' or spaces)" % (what, value, shown))
    return value


def is_mac(value):
    return isinstance(value, str) and bool(_MAC_RE.fullmatch(value))


def check_mac(value, what="mac"):
    if not is_mac(value):
        raise ValidationError("%s %r is not a MAC address (expected aa:bb:cc:dd:ee:ff)" % (what, value))
    mac = value.lower()
    first = int(mac[:2], 16)
    if first & 1:
        raise ValidationError("%s %s is a multicast address; an interface needs a unicast MAC" % (what, mac))
    if mac == "00:00:00:00:00:00":
        raise ValidationError("%s %s is the all-zero address" % (what, mac))
    return mac


def check_ip(value, what="address"):
    try:
        return str(ipaddress.ip_address(str(value)))
    except ValueError:
        raise ValidationError("%s %r is not an IPv4 or IPv6 address" % (what, value)) from None


def _unusable(ip):
    """Why ``ip`` (an ``ipaddress`` address) cannot be an interface's address, or None."""
    if ip.is_unspecified:
        return "the unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.version == 4 and ip == ipaddress.IPv4Address("255.255.255.255"):
        return "the limited broadcast address"
    return None


def _network_or_broadcast(ip, network):
    """``'network'`` / ``'broadcast'`` when IPv4 ``ip`` is that address of ``network`` (below /31)."""
    if network.version != 4 or network.prefixlen >= 31:
        return None
    if ip == network.network_address:
        return "network"
    if ip == network.broadcast_address:
        return "broadcast"
    return None


def check_cidr(value, what="address"):
    text = str(value)
    if "/" not in text:
        raise ValidationError("%s %r is not in CIDR form (expected e.g. 203.0.113.10/24)" % (what, value))
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        raise ValidationError("%s %r is not a valid CIDR address" % (what, value)) from None
    reason = _unusable(iface.ip)
    if reason:
        raise ValidationError("%s %r is not a usable host address (%s)" % (what, value, reason))
    if iface.network.prefixlen == 0:
        raise ValidationError("%s %r is not a usable host address (prefix length 0 would put the whole "
                              "address space on one link)" % (what, value))
    which = _network_or_broadcast(iface.ip, iface.network)
    if which:
        raise ValidationError("%s %r is not a usable host address (it is the %s address of %s)"
                              % (what, value, which, iface.network))
    return {
        "address": str(iface.ip),
        "prefixlen": iface.network.prefixlen,
        "family": "inet" if iface.version == 4 else "inet6",
        "cidr": "%s/%d" % (iface.ip, iface.network.prefixlen),
    }


def check_mtu(value, what="mtu"):
    try:
        mtu = int(value)
    except (TypeError, ValueError):
        raise ValidationError("%s %r is not a number" % (what, value)) from None
    if not MTU_MIN <= mtu <= MTU_MAX:
        raise ValidationError("%s %d is out of range (%d..%d)" % (what, mtu, MTU_MIN, MTU_MAX))
    return mtu


def check_forward_delay(value, stp):
    low = 2 if stp else 0
    if not low <= value <= 30:
        raise ValidationError("forward_delay %s is out of range (%d..30 seconds%s)"
                              % (value, low, " with stp" if stp else ""))
    return value


def subnet_of(ip, cidrs):
    address = ipaddress.ip_address(ip)
    for cidr in cidrs:
        network = ipaddress.ip_interface(cidr).network
        if network.version == address.version and address in network:
            return cidr
    return None


def check_next_hop(value, cidrs, what="gateway", version=None):
    """A gateway or route ``via`` for an interface with the addresses ``cidrs``: an address of
    ``version`` (4, 6 or None: either), usable, on one of their subnets (an IPv6 link-local address
    is on every link), and neither one of the addresses themselves nor the network or broadcast
    address of the subnet. Returns it compressed."""
    ip = ipaddress.ip_address(check_ip(str(value).strip(), what))
    if version and ip.version != version:
        raise ValidationError("%s %s is not an IPv%d address" % (what, ip, version))
    shown = ", ".join(cidrs) or "none"
    reason = _unusable(ip)
    if reason:
        raise ValidationError("%s %s is not usable as a next hop (%s)" % (what, ip, reason))
    if any(ipaddress.ip_interface(cidr).ip == ip for cidr in cidrs):
        raise ValidationError("%s %s is one of the interface's own addresses (%s)" % (what, ip, shown))
    if ip.version == 6 and ip.is_link_local:
        return str(ip)  # fe80::/10 is on every IPv6 link
    cidr = subnet_of(str(ip), cidrs)
    if cidr is None:
        raise ValidationError("%s %s is not on any subnet of the addresses (%s)" % (what, ip, shown))
    which = _network_or_broadcast(ip, ipaddress.ip_interface(cidr).network)
    if which:
        raise ValidationError("%s %s is the %s address of %s, not a host"
                              % (what, ip, which, ipaddress.ip_interface(cidr).network))
    return str(ip)


def check_gateway(gateway, cidrs, device):
    gateway = check_ip(gateway, "gateway")
    if any(ipaddress.ip_interface(cidr).ip == ipaddress.ip_address(gateway) for cidr in cidrs):
        raise ValidationError("gateway %s is one of the addresses of %s" % (gateway, device))
    if ipaddress.ip_address(gateway).is_link_local and ":" in gateway:
        return gateway  # fe80::/10 is on every IPv6 link
    if subnet_of(gateway, cidrs) is None:
        raise ValidationError("gateway %s is not on any subnet of %s" % (gateway, device))
    return gateway
