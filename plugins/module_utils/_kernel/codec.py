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
    prefsrc}``; ``dst`` is ``'default'`` or ``'a.b.c.d/len'``; names where known, else ints. Only
    where they apply, also: ``onlink: True``; ``metrics`` ``{'mtu': 1400, 'advmss': 1360, ...,
    'lock': ['mtu']}`` (RTAX names; ``lock`` the locked ones); ``src`` (``'2001:db8::/64'``, a
    source-specific IPv6 route); ``nexthops`` ``[{gateway, oif, weight, onlink}]`` (a multipath
    route: ``gateway`` and ``oif`` are then ``None``); ``pref`` ``'high'``/``'low'`` (IPv6; absent
    = medium); ``expires`` (IPv6, whole seconds left).
``decode_rule(payload)`` -> ``{family, priority, src, dst, iifname, oifname, fwmark, table, action}``
    (a policy rule, as ``ip rule`` shows it; ``None`` where it says nothing).
``decode_neighbour(payload)`` -> ``{index, family, address, mac, proxy}``; ``proxy`` is True for a
    proxy entry (``NTF_PROXY``: the host answers ARP / NDP for ``address`` on link ``index``).

Encoding: ``attr``/``attr_u32``/``attr_str``/``attr_mac``, ``route_fields(route, index_of)``,
the one place a route dict becomes numbers (family, prefix, table, protocol, scope, type, flags,
metrics, nexthops, preference, expiry), and ``route_attrs(fields, verb)``, those numbers as the
attributes of a request: everything ``decode_route`` reads is written back, so a decoded route
given to ``replace`` is recreated exactly. ``describe_route`` and ``broadcast`` are the one definition of each.
"""

import ipaddress
import socket
import struct

from ansible_collections.lanbridge.core.plugins.module_utils._kernel import constants as C
from ansible_collections.lanbridge.core.plugins.module_utils._errors import KernelError


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


def mac_bytes(mac):
    """The six bytes of ``aa:bb:cc:dd:ee:ff``; ``KernelError`` for anything else."""
    parts = mac.split(":")
    if len(parts) != 6:
        raise KernelError("not a MAC address: %r" % (mac,))
    return bytes(bytearray(int(part, 16) for part in parts))


def attr_mac(kind, mac):
    return attr(kind, mac_bytes(mac))


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


def from_centiseconds(centiseconds):
    """Seconds (an int when whole) of the kernel's centiseconds; None stays None."""
    if centiseconds is None:
        return None
    if centiseconds % 100 == 0:
        return centiseconds // 100
    return centiseconds / 100.0


def to_centiseconds(value):
    """The kernel's centiseconds of a number of seconds."""
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
        delay = from_centiseconds(u32(data.get(C.IFLA_BR_FORWARD_DELAY)))
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


def _metrics(raw):
    found = attrs(raw)
    out = {}
    for kind, value in found.items():
        if kind != C.RTAX_LOCK:
            out[name_of(C.METRICS, kind)] = text(value) if kind == C.RTAX_CC_ALGO else u32(value)
    locked = u32(found.get(C.RTAX_LOCK)) or 0
    if locked:
        out["lock"] = sorted(name_of(C.METRICS, n) for n in range(32) if locked & (1 << n))
    return out


def _nexthops(family, raw):
    out, offset = [], 0
    while offset + C.RTNEXTHOP.size <= len(raw):
        length, flags, hops, index = C.RTNEXTHOP.unpack_from(raw, offset)
        if length < C.RTNEXTHOP.size:
            break
        a = attrs(raw[offset + C.RTNEXTHOP.size:offset + length])
        out.append({"gateway": ip_text(family, a.get(C.RTA_GATEWAY)), "oif": index or None, "weight": hops + 1,
                    "onlink": bool(flags & C.RTNH_F_ONLINK)})
        offset += (length + 3) & ~3
    return out


def _prefix(family, raw, length):
    return "%s/%d" % (ip_text(family, raw), length) if raw else None


def decode_route(payload):
    family, dst_len, src_len, _tos, table, proto, scope, kind, flags = C.RTMSG.unpack_from(payload)
    a = attrs(payload[C.RTMSG.size:])
    dst = ip_text(family, a.get(C.RTA_DST))
    route = {
        "family": C.FAMILIES.get(family, family),
        "dst": "default" if dst_len == 0 and dst is None else "%s/%d" % (dst, dst_len),
        "gateway": ip_text(family, a.get(C.RTA_GATEWAY)), "oif": u32(a.get(C.RTA_OIF)),
        "table": u32(a.get(C.RTA_TABLE)) if C.RTA_TABLE in a else table,
        "metric": u32(a.get(C.RTA_PRIORITY)), "protocol": name_of(C.PROTOCOLS, proto),
        "scope": name_of(C.SCOPES, scope), "type": name_of(C.ROUTE_TYPES, kind),
        "prefsrc": ip_text(family, a.get(C.RTA_PREFSRC)),
    }
    # the attributes below appear only where they apply, so a plain route keeps its plain shape
    if flags & C.RTNH_F_ONLINK:
        route["onlink"] = True
    metrics = _metrics(a[C.RTA_METRICS]) if C.RTA_METRICS in a else {}
    if metrics:
        route["metrics"] = metrics
    if src_len or C.RTA_SRC in a:
        route["src"] = _prefix(family, a.get(C.RTA_SRC), src_len)
    if C.RTA_MULTIPATH in a:
        route["nexthops"] = _nexthops(family, a[C.RTA_MULTIPATH])
    pref = bytearray(a[C.RTA_PREF])[0] if a.get(C.RTA_PREF) else 0
    if pref:
        route["pref"] = name_of(C.PREFS, pref)
    cache = a.get(C.RTA_CACHEINFO)
    expires = C.ROUTE_CACHEINFO.unpack_from(cache)[2] if cache and len(cache) >= C.ROUTE_CACHEINFO.size else 0
    if expires:
        route["expires"] = max(1, expires // C.USER_HZ)
    return route


def decode_rule(payload):
    family, dst_len, src_len, _tos, table, _res1, _res2, action, _flags = C.FIB_RULE.unpack_from(payload)
    a = attrs(payload[C.FIB_RULE.size:])
    ip_family = family in C.FAMILIES
    return {
        "family": C.FAMILIES.get(family, family), "priority": u32(a.get(C.FRA_PRIORITY)) or 0,
        "src": _prefix(family, a.get(C.FRA_SRC), src_len) if ip_family else None,
        "dst": _prefix(family, a.get(C.FRA_DST), dst_len) if ip_family else None,
        "iifname": text(a.get(C.FRA_IIFNAME)), "oifname": text(a.get(C.FRA_OIFNAME)),
        "fwmark": u32(a.get(C.FRA_FWMARK)),
        "table": u32(a.get(C.FRA_TABLE)) if C.FRA_TABLE in a else table,
        "action": name_of(C.RULE_ACTIONS, action),
    }


def decode_neighbour(payload):
    family, index, _state, flags, _type = C.NDMSG.unpack_from(payload)
    a = attrs(payload[C.NDMSG.size:])
    return {"index": index, "family": C.FAMILIES.get(family, family), "address": ip_text(family, a.get(C.NDA_DST)),
            "mac": mac_text(a.get(C.NDA_LLADDR)), "proxy": bool(flags & C.NTF_PROXY)}


DECODERS = {C.RTM_NEWLINK: decode_link, C.RTM_NEWADDR: decode_address, C.RTM_NEWROUTE: decode_route,
            C.RTM_NEWRULE: decode_rule, C.RTM_NEWNEIGH: decode_neighbour}


# -- encoding helpers shared by both paths ---------------------------------------------------

def family_of(address):
    """The family (``'inet'`` or ``'inet6'``) of an address or CIDR in text."""
    return "inet6" if ":" in address else "inet"


def _index(value, index_of):
    return index_of(value) if isinstance(value, str) else value


def _split_prefix(prefix, family):
    net, _sep, length = prefix.partition("/")
    return net, int(length) if length else (128 if family == socket.AF_INET6 else 32)


def route_fields(route, index_of):
    """A route dict (as ``decode_route`` returns, ``oif`` an index or ``dev`` a name, also in each
    of ``nexthops``) -> the numbers of its request: ``{family, dst, dst_len, src, src_len, gateway,
    oif, table, metric, protocol, scope, type, prefsrc, flags, metrics, nexthops, pref, expires}``
    (``None`` where the route says nothing). ``index_of(name)`` resolves ``dev``. A multipath route
    (``nexthops``) has no gateway or device of its own: its ``gateway``/``oif``/``dev`` are ignored.
    The protocol is always explicit (default ``boot``, as ``ip route add`` sets it)."""
    family = C.FAMILY_NUMBERS.get(route.get("family"))
    dst = route.get("dst") or "default"
    if family is None:
        family = C.FAMILY_NUMBERS[family_of(route.get("gateway") or dst)]
    fields = {"family": family, "dst": None, "dst_len": 0, "src": None, "src_len": 0}
    if dst != "default":
        fields["dst"], fields["dst_len"] = _split_prefix(dst, family)
    if route.get("src"):
        fields["src"], fields["src_len"] = _split_prefix(route["src"], family)
    oif = route.get("oif")
    if oif is None and route.get("dev"):
        oif = route["dev"]
    fields["oif"] = _index(oif, index_of)
    fields["gateway"] = route.get("gateway") or None
    fields["nexthops"] = None
    if route.get("nexthops"):
        fields["oif"] = fields["gateway"] = None
        fields["nexthops"] = [{
            "gateway": hop.get("gateway") or None,
            "oif": _index(hop["oif"] if hop.get("oif") is not None else hop.get("dev"), index_of),
            "hops": int(hop.get("weight") or 1) - 1,
            "flags": C.RTNH_F_ONLINK if hop.get("onlink") else 0,
        } for hop in route["nexthops"]]
    fields["table"] = C.MAIN_TABLE if route.get("table") is None else int(route["table"])
    fields["metric"] = None if route.get("metric") is None else int(route["metric"])
    fields["protocol"] = number_of(C.PROTOCOL_NUMBERS, route.get("protocol") or "boot", "route protocol")
    fields["scope"] = number_of(C.SCOPE_NUMBERS, route.get("scope"), "route scope")
    fields["type"] = number_of(C.ROUTE_TYPE_NUMBERS, route.get("type"), "route type")
    fields["prefsrc"] = route.get("prefsrc") or None
    fields["flags"] = C.RTNH_F_ONLINK if route.get("onlink") else 0
    metrics = dict(route.get("metrics") or {})
    locked = metrics.pop("lock", None) or ()
    fields["metrics"] = dict((number_of(C.METRIC_NUMBERS, name, "route metric"), value) for name, value in metrics.items())
    lock = 0
    for name in locked:
        lock |= 1 << number_of(C.METRIC_NUMBERS, name, "route metric")
    if lock:
        fields["metrics"][C.RTAX_LOCK] = lock
    fields["pref"] = number_of(C.PREF_NUMBERS, route.get("pref"), "route preference")
    fields["expires"] = None if route.get("expires") is None else max(1, int(route["expires"]))
    return fields


def _ip(family, text_value):
    return socket.inet_pton(family, text_value)


def route_request(verb, fields):
    """The ``rtmsg`` and attributes of an ``add``, ``replace`` or ``delete`` of the route of
    ``route_fields`` numbers. A delete names the route (prefixes, table, metric, nexthops, type)
    and leaves out what only describes it (metrics, preference, expiry)."""
    family = fields["family"]
    body = b""
    if fields["dst"] is not None:
        body += attr(C.RTA_DST, _ip(family, fields["dst"]))
    if fields.get("src") is not None:
        body += attr(C.RTA_SRC, _ip(family, fields["src"]))
    if fields["gateway"]:
        body += attr(C.RTA_GATEWAY, _ip(family, fields["gateway"]))
    if fields["oif"] is not None:
        body += attr_u32(C.RTA_OIF, fields["oif"])
    if fields["metric"] is not None:
        body += attr_u32(C.RTA_PRIORITY, fields["metric"])
    if fields["prefsrc"]:
        body += attr(C.RTA_PREFSRC, _ip(family, fields["prefsrc"]))
    table = fields["table"]
    body += attr_u32(C.RTA_TABLE, table)
    if fields.get("nexthops"):
        hops = b""
        for hop in fields["nexthops"]:
            nested = attr(C.RTA_GATEWAY, _ip(family, hop["gateway"])) if hop["gateway"] else b""
            hops += C.RTNEXTHOP.pack(C.RTNEXTHOP.size + len(nested), hop["flags"], hop["hops"], hop["oif"] or 0) + nested
        body += attr(C.RTA_MULTIPATH, hops)
    if verb != "delete":
        if fields.get("metrics"):
            body += attr(C.RTA_METRICS, b"".join(
                attr_str(kind, value) if kind == C.RTAX_CC_ALGO else attr_u32(kind, int(value))
                for kind, value in sorted(fields["metrics"].items())))
        if fields.get("pref") is not None:
            body += attr(C.RTA_PREF, struct.pack("=B", fields["pref"]))
        if fields.get("expires") is not None:
            body += attr_u32(C.RTA_EXPIRES, fields["expires"])
    scope = fields["scope"]
    if scope is None:
        if verb == "delete":
            scope = C.SCOPE_NUMBERS["nowhere"]
        else:
            scope = 0 if (fields["gateway"] or fields.get("nexthops")) else C.SCOPE_NUMBERS["link"]
    kind = fields["type"]
    if kind is None:
        kind = 0 if verb == "delete" else C.ROUTE_TYPE_NUMBERS["unicast"]
    protocol = 0 if verb == "delete" and fields["protocol"] == C.PROTOCOL_NUMBERS["boot"] else fields["protocol"]
    header = C.RTMSG.pack(family, fields["dst_len"], fields.get("src_len") or 0, 0, table if table < 256 else 0,
                          protocol, scope, kind, fields.get("flags") or 0)
    return header + body


def describe_route(route):
    """``default via 203.0.113.1 dev br0 table 100 metric 100`` -- for plans and messages (``from``,
    ``onlink`` and each ``nexthop`` as ``ip route`` shows them, where the route has them)."""
    parts = [str(route.get("dst") or "default")]
    if route.get("src"):
        parts.append("from %s" % route["src"])
    if route.get("nexthops"):
        for hop in route["nexthops"]:
            parts.append("nexthop")
            if hop.get("gateway"):
                parts.append("via %s" % hop["gateway"])
            dev = hop.get("dev") or hop.get("oif")
            if dev is not None:
                parts.append("dev %s" % dev)
            parts.append("weight %s" % (hop.get("weight") or 1))
            if hop.get("onlink"):
                parts.append("onlink")
    else:
        if route.get("gateway"):
            parts.append("via %s" % route["gateway"])
        dev = route.get("dev") or route.get("oif")
        if dev is not None:
            parts.append("dev %s" % dev)
    if route.get("onlink"):
        parts.append("onlink")
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
