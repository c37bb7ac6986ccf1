# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Meaning-level checks that argument_spec cannot express. Pure functions, no kernel access.

Each check returns the normalized value or raises ``ValidationError`` with one sentence naming the
option, the value and the rule. Shared by ``host_bridge``, ``container_veth`` and the role's fleet
filter (``plugins/filter/container_lan.py``): one definition of each rule in the collection.
``PlanError`` is the planners' one error class; ``LABEL_PREFIX`` starts every label (``ifalias``)
this collection writes, so what it made can be told from what it did not.

``check_ifname(value, what='name')``       -> the name (<= 15 bytes, no '/', ':' or whitespace)
``check_mac(value, what='mac')``           -> lower-case ``aa:bb:cc:dd:ee:ff`` (unicast, not zero)
``is_mac(value)``                          -> bool
``check_ip(value, what='address')``        -> the address, compressed (IPv4 or IPv6, no prefix)
``check_cidr(value, what='address')``      -> ``{'address', 'prefixlen', 'family', 'cidr'}``
``check_mtu(value, what='mtu')``           -> int in 68..65535
``check_forward_delay(value, stp)``        -> number of seconds (2..30 with STP, 0..30 without)
``subnet_of(ip, cidrs)``                   -> the first CIDR whose subnet holds ``ip``, or None
``check_gateway(gateway, cidrs, device)``  -> the gateway; raises unless it is on a subnet of them
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import re

IFNAMSIZ = 16  # the kernel's limit includes the terminating NUL
IFNAME_MAX = IFNAMSIZ - 1
LABEL_PREFIX = "lanbridge:"
MTU_MIN, MTU_MAX = 68, 65535
_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


class ValidationError(ValueError):
    """A value that cannot be used, in one sentence."""


class PlanError(Exception):
    """The wanted state cannot be reached from the live one (without touching what is not ours)."""


def check_ifname(value, what="name"):
    if not isinstance(value, str) or value == "":
        raise ValidationError("%s must be a non-empty interface name" % what)
    size = len(value.encode("utf-8"))
    if size > IFNAME_MAX:
        raise ValidationError("%s %r is longer than %d bytes" % (what, value, IFNAME_MAX))
    if value in (".", ".."):
        raise ValidationError("%s %r is not a valid interface name" % (what, value))
    bad = sorted(set(ch for ch in value if ch in "/:" or ch.isspace()))
    if bad:
        shown = ", ".join("space" if ch == " " else repr(ch) for ch in bad)
        raise ValidationError("%s %r contains %s, not allowed in interface names" % (what, value, shown))
    return value


def is_mac(value):
    return isinstance(value, str) and bool(_MAC_RE.match(value))


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


def check_cidr(value, what="address"):
    text = str(value)
    if "/" not in text:
        raise ValidationError("%s %r is not in CIDR form (expected e.g. 203.0.113.10/24)" % (what, value))
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError:
        raise ValidationError("%s %r is not a valid CIDR address" % (what, value)) from None
    if iface.ip.is_multicast or iface.ip.is_unspecified:
        raise ValidationError("%s %r is not a usable host address" % (what, value))
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


def check_gateway(gateway, cidrs, device):
    gateway = check_ip(gateway, "gateway")
    if ipaddress.ip_address(gateway).is_link_local and ":" in gateway:
        return gateway  # fe80::/10 is on every IPv6 link
    if subnet_of(gateway, cidrs) is None:
        raise ValidationError("gateway %s is not on any subnet of %s" % (gateway, device))
    return gateway
