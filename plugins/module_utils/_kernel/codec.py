# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One decoder and encoder of the rtnetlink messages this collection reads and writes.

Decoding turns a message payload (the bytes after the ``nlmsghdr``) into the plain dicts every
caller sees:

``decode_link(payload)`` -> ``{index, ifname, kind, master, mac, mtu, up, operstate, ifalias,
    peer_index, peer_netnsid, stp_state, forward_delay}``. ``kind`` is ``'bridge'``, ``'veth'``,
    ... or ``None`` for a plain NIC; ``master`` the master's index or ``None``; ``up`` the
    administrative state; ``peer_index``/``peer_netnsid`` a veth's peer (``peer_netnsid`` is
    ``None`` when the peer is in the same namespace); ``stp_state`` (0/1/2) and
    ``forward_delay`` (seconds, an int when whole) only for bridges.
``decode_address(payload)`` -> ``{index, family, address, prefixlen, broadcast, scope, flags,
    valid_lft, preferred_lft, label}``; ``family`` ``'inet'``/``'inet6'``, ``scope`` a name or an
    int, ``flags`` a sorted list of names, lifetimes in seconds (``None`` = forever).
``decode_route(payload)`` -> ``{family, dst, gateway, oif, table, metric, protocol, scope, type,
    prefsrc}``; ``dst`` is ``'default'`` or ``'a.b.c.d/len'``; names where known, else ints.

Encoding: ``attr``/``attr_u32``/``attr_str``/``attr_mac``, and ``route_fields(route, index_of)``,
the one place a route dict becomes numbers (family, prefix, table, protocol, scope, type), used
by both paths. ``describe_route`` and ``broadcast`` are the one definition of each.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ipaddress
import socket
import struct

from ansible_collections.lanbridge.core.plugins.module_utils._kernel import constants as C
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.errors import KernelError


# -- attributes ------------------------------------------------------------------------------

def attrs(data):
    """``{type: raw bytes}`` of the attributes in ``data`` (one level)."""
    out, offset = {}, 0
    while offset + C.NLA.size <= len(data):
        length, kind = C.NLA.unpack_from(data, offset)
        if length < C.NLA.size:
            break
        out[kind & C.NLA_TYPE_MASK] = data[offset + C.NLA.size:offset + length]
        offset += (length + 3) & ~3
    return out


def attr(kind, data):
    return C.NLA.pack(C.NLA.size + len(data), kind) + data + b"\0" * (-len(data) % 4)


def attr_u32(kind, value):
    return attr(kind, struct.pack("=I", value))


def attr_str(kind, text):
    return attr(kind, text.encode("utf-8") + b"\0")


def attr_mac(kind, mac):
    return attr(kind, bytes(bytearray(int(part, 16) for part in mac.split(":"))))


def u32(raw):
    return struct.unpack("=I", raw[:4])[0] if raw else None


def text(raw):
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace") if raw is not None else None


def ip_text(family, raw):
    return socket.inet_ntop(family, raw) if raw else None


def mac_text(raw):
    return ":".join("%02x" % b for b in bytearray(raw)) if raw else None


# -- names -----------------------------------------------------------------------------------

def name_of(table, value):
    return table.get(value, value)


def number_of(table, value, what):
    if value is None or isinstance(value, int):
        return value
    try:
        return table[value]
    except KeyError:
        raise KernelError("unknown %s %r" % (what, value)) from None


def flag_names(bits):
    return sorted(name for bit, name in C.ADDR_FLAGS.items() if bits & bit)


def flag_bits(names):
    bits = 0
    for name in names or ():
        bits |= number_of(C.ADDR_FLAG_NUMBERS, name, "address flag")
    return bits


def seconds(centiseconds):
    if centiseconds is None:
        return None
    if centiseconds % 100 == 0:
        return centiseconds // 100
    return centiseconds / 100.0


def centiseconds(value):
    return int(round(float(value) * 100))


def lifetime(value):
    return None if value is None or value == C.FOREVER else int(value)


# -- decoders --------------------------------------------------------------------------------

def decode_link(payload):
    _family, _type, index, flags, _change = C.IFINFO.unpack_from(payload)
    a = attrs(payload[C.IFINFO.size:])
    info = attrs(a[C.IFLA_LINKINFO]) if C.IFLA_LINKINFO in a else {}
    kind = text(info.get(C.IFLA_INFO_KIND))
    stp = delay = None
    if kind == "bridge" and C.IFLA_INFO_DATA in info:
        data = attrs(info[C.IFLA_INFO_DATA])
        stp = u32(data.get(C.IFLA_BR_STP_STATE))
        delay = seconds(u32(data.get(C.IFLA_BR_FORWARD_DELAY)))
    netnsid = a.get(C.IFLA_LINK_NETNSID)
    operstate = a.get(C.IFLA_OPERSTATE)
    return {
        "index": index, "ifname": text(a.get(C.IFLA_IFNAME)), "kind": kind,
        "master": u32(a.get(C.IFLA_MASTER)) or None,
        "mac": mac_text(a.get(C.IFLA_ADDRESS)),
        "mtu": u32(a.get(C.IFLA_MTU)), "up": bool(flags & C.IFF_UP),
        "operstate": C.OPERSTATES.get(bytearray(operstate)[0]) if operstate else None,
        "ifalias": text(a.get(C.IFLA_IFALIAS)) or None,
        "peer_index": u32(a.get(C.IFLA_LINK)) if kind == "veth" else None,
        "peer_netnsid": struct.unpack("=i", netnsid[:4])[0] if kind == "veth" and netnsid else None,
        "stp_state": stp, "forward_delay": delay,
    }


def decode_address(payload):
    family, prefixlen, flags, scope, index = C.IFADDR.unpack_from(payload)
    a = attrs(payload[C.IFADDR.size:])
    if C.IFA_FLAGS in a:
        flags = u32(a[C.IFA_FLAGS])
    cache = a.get(C.IFA_CACHEINFO)
    preferred, valid = C.CACHEINFO.unpack_from(cache)[:2] if cache else (None, None)
    return {
        "index": index, "family": C.FAMILIES.get(family, family),
        "address": ip_text(family, a.get(C.IFA_LOCAL) or a.get(C.IFA_ADDRESS)), "prefixlen": prefixlen,
        "broadcast": ip_text(family, a.get(C.IFA_BROADCAST)), "scope": name_of(C.SCOPES, scope),
        "flags": flag_names(flags), "valid_lft": lifetime(valid), "preferred_lft": lifetime(preferred),
        "label": text(a.get(C.IFA_LABEL)),
    }


def decode_route(payload):
    family, dst_len, _src_len, _tos, table, proto, scope, kind, _flags = C.RTMSG.unpack_from(payload)
    a = attrs(payload[C.RTMSG.size:])
    dst = ip_text(family, a.get(C.RTA_DST))
    return {
        "family": C.FAMILIES.get(family, family),
        "dst": "default" if dst_len == 0 and dst is None else "%s/%d" % (dst, dst_len),
        "gateway": ip_text(family, a.get(C.RTA_GATEWAY)), "oif": u32(a.get(C.RTA_OIF)),
        "table": u32(a.get(C.RTA_TABLE)) if C.RTA_TABLE in a else table,
        "metric": u32(a.get(C.RTA_PRIORITY)), "protocol": name_of(C.PROTOCOLS, proto),
        "scope": name_of(C.SCOPES, scope), "type": name_of(C.ROUTE_TYPES, kind),
        "prefsrc": ip_text(family, a.get(C.RTA_PREFSRC)),
    }


DECODERS = {C.RTM_NEWLINK: decode_link, C.RTM_NEWADDR: decode_address, C.RTM_NEWROUTE: decode_route}


# -- encoding helpers shared by both paths ---------------------------------------------------

def family_of(text_value):
    return socket.AF_INET6 if ":" in text_value else socket.AF_INET


def route_fields(route, index_of):
    """A route dict (as ``decode_route`` returns, ``oif`` an index or ``dev`` a name) -> the numbers
    of its request: ``{family, dst, dst_len, gateway, oif, table, metric, protocol, scope, type,
    prefsrc}`` (``None`` where the route says nothing). ``index_of(name)`` resolves ``dev``.
    The protocol is always explicit (default ``boot``, like ``ip route add``): pyroute2 0.7 and 0.9
    default to different ones."""
    family = C.FAMILY_NUMBERS.get(route.get("family"))
    dst = route.get("dst") or "default"
    if family is None:
        family = family_of(route.get("gateway") or dst)
    fields = {"family": family, "dst": None, "dst_len": 0}
    if dst != "default":
        net, _sep, length = dst.partition("/")
        fields["dst"] = net
        fields["dst_len"] = int(length) if length else (128 if family == socket.AF_INET6 else 32)
    oif = route.get("oif")
    if oif is None and route.get("dev"):
        oif = route["dev"]
    fields["oif"] = index_of(oif) if isinstance(oif, str) else oif
    fields["gateway"] = route.get("gateway") or None
    fields["table"] = C.MAIN_TABLE if route.get("table") is None else int(route["table"])
    fields["metric"] = None if route.get("metric") is None else int(route["metric"])
    fields["protocol"] = number_of(C.PROTOCOL_NUMBERS, route.get("protocol") or "boot", "route protocol")
    fields["scope"] = number_of(C.SCOPE_NUMBERS, route.get("scope"), "route scope")
    fields["type"] = number_of(C.ROUTE_TYPE_NUMBERS, route.get("type"), "route type")
    fields["prefsrc"] = route.get("prefsrc") or None
    return fields


def describe_route(route):
    """``default via 203.0.113.1 dev br0 table 100 metric 100`` -- for plans and messages."""
    parts = [str(route.get("dst") or "default")]
    if route.get("gateway"):
        parts.append("via %s" % route["gateway"])
    dev = route.get("dev") or route.get("oif")
    if dev is not None:
        parts.append("dev %s" % dev)
    if route.get("table") not in (None, C.MAIN_TABLE):
        parts.append("table %s" % route["table"])
    if route.get("metric") is not None:
        parts.append("metric %s" % route["metric"])
    return " ".join(parts)


def broadcast(address, prefixlen):
    """The IPv4 broadcast address of ``address/prefixlen`` (``None`` for IPv6 and /31, /32)."""
    iface = ipaddress.ip_interface("%s/%s" % (address, prefixlen))
    if iface.version == 4 and iface.network.prefixlen < 31:
        return str(iface.network.broadcast_address)
    return None
