# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's only door to the kernel's rtnetlink: a thin adapter over pyroute2.

This is the only file that imports pyroute2. It hides the differences between pyroute2 0.7.2
(Debian 12) and 0.9.x (return types, attribute access, error classes) and returns plain data.

API
---
``HAS_PYROUTE2``, ``PYROUTE2_IMPORT_ERROR``
    Modules call ``missing_required_lib("pyroute2")`` when ``HAS_PYROUTE2`` is false.

``NetlinkError(Exception)``
    The one error class of every function here. Its message names the object and the cause,
    e.g. ``failed to add veth vl3f2a91c0 (peer eth1): [17] File exists``. ``.code`` is the errno
    (or ``None``).

``in_netns(path)`` (context manager)
    Run the block inside the network namespace at ``path`` (``/run/netns/x``,
    ``/proc/PID/ns/net``; ``None`` = stay here) and always come back, also on errors. For raw
    sockets (``_probe``): a socket keeps the namespace it was opened in. The path is opened
    with ``os.open``, so a missing namespace is an error, never created.

``Netlink(netns=None)`` (context manager; ``close()`` also works)
    One rtnetlink socket, opened inside ``netns`` (a path as above, or ``None`` = the current
    namespace) and bound to it for its lifetime.

    Read (one dump each; plain dicts and lists)
        ``links()`` -> ``[{index, ifname, kind, master, mac, mtu, up, operstate, ifalias,
        peer_index, peer_netnsid, stp_state, forward_delay}]``. ``kind`` is ``'bridge'``,
        ``'veth'``, ... or ``None`` for a plain NIC; ``master`` is the master's index or
        ``None``; ``up`` is the administrative state (IFF_UP); ``peer_index``/``peer_netnsid``
        are a veth's peer (``IFLA_LINK``/``IFLA_LINK_NETNSID``; ``peer_netnsid`` is ``None`` when
        the peer is in the same namespace); ``stp_state`` (0/1/2) and ``forward_delay`` (seconds,
        int when whole) only for bridges, else ``None``.

        ``addresses(family=None)`` -> ``[{index, family, address, prefixlen, broadcast, scope,
        flags, valid_lft, preferred_lft, label}]``. ``family`` is ``'inet'``/``'inet6'``;
        ``scope`` a name (``'global'``, ``'link'``, ``'host'``, ``'site'``) or an int; ``flags``
        a sorted list of names (``'permanent'``, ``'noprefixroute'``, ``'secondary'``, ...);
        lifetimes in seconds, ``None`` = forever.

        ``routes(family=None)`` -> ``[{family, dst, gateway, oif, table, metric, protocol, scope,
        type, prefsrc}]``, every table. ``dst`` is ``'default'`` or ``'a.b.c.d/len'``;
        ``protocol``/``scope``/``type`` are names when known (``'static'``, ``'kernel'``,
        ``'boot'``, ``'dhcp'``, ``'ra'`` / ``'global'``, ``'link'``, ``'host'`` / ``'unicast'``,
        ``'local'``, ...) else ints; ``metric`` is ``None`` when the kernel has none.

        ``dump()`` -> ``{'links': ..., 'addresses': ..., 'routes': ...}``.
        ``link_index(name)`` -> index or ``None``.

    Change (called only from an apply step; ``link`` is an ifindex or an interface name)
        ``add_bridge(name, stp=None, forward_delay=None, mtu=None, mac=None)``
        ``set_bridge(link, stp=None, forward_delay=None)``
        ``add_veth(name, peer, peer_netns_fd=None, mtu=None, mac=None, peer_mac=None, ifalias=None)``
            both ends in one request; with ``peer_netns_fd`` the peer is born in that namespace.
        ``delete_link(link)`` (``delete_bridge`` is the same)
        ``set_link(link, up=None, mtu=None, mac=None, master=None, ifname=None, ifalias=None,
        netns_fd=None)``; ``master=0`` (or ``False``) = nomaster; ``master`` may be a name.
        ``add_address(link, address, prefixlen, broadcast=None, flags=None, valid_lft=None,
        preferred_lft=None, label=None)``; ``flags`` a list of names; lifetimes ``None`` = forever.
        ``delete_address(link, address, prefixlen)``
        ``add_route(route)``, ``replace_route(route)``, ``delete_route(route)``; ``route`` is a
        dict as returned by ``routes()`` (``oif`` may also be given as ``dev``: a name).

``Raw()`` (standard library only; open it inside ``in_netns``; ``close()``)
    A plain rtnetlink socket for the requests container_veth sends by the hundred, where
    pyroute2's per-request cost (about 1 ms) dominates. Same dict shapes and error sentences as
    ``Netlink``: ``links()``, ``addresses()``, ``routes()``, ``link_index(name)``,
    ``add_veth_port(name, peer, peer_netns_fd, master, mtu=None, peer_mac=None)`` (a new pair,
    host end up in ``master``, peer born in the other namespace), ``set_ifalias(name, ifalias)``,
    ``set_up(index)``, ``add_address(index, address, prefixlen)``, ``add_route(route)``.
    ``tests/integration/test_netlink_raw.py`` checks its dumps against pyroute2's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import os
import socket

try:
    from pyroute2 import IPRoute
    from pyroute2 import netns as _pr_netns
    from pyroute2.netlink.exceptions import NetlinkError as _PRNetlinkError

    HAS_PYROUTE2 = True
    PYROUTE2_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - exercised only without pyroute2
    IPRoute = None
    _pr_netns = None
    _PRNetlinkError = None
    HAS_PYROUTE2 = False
    PYROUTE2_IMPORT_ERROR = _exc

FOREVER = 0xFFFFFFFF

FAMILIES = {socket.AF_INET: "inet", socket.AF_INET6: "inet6"}
FAMILY_NUMBERS = {"inet": socket.AF_INET, "inet6": socket.AF_INET6, 4: socket.AF_INET, 6: socket.AF_INET6}

SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
PROTOCOLS = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 9: "ra", 16: "dhcp",
             11: "zebra", 12: "bird", 18: "keepalived", 186: "bgp", 188: "ospf"}
ROUTE_TYPES = {0: "unspec", 1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast",
               6: "blackhole", 7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat"}
ADDR_FLAGS = {0x01: "secondary", 0x02: "nodad", 0x04: "optimistic", 0x08: "dadfailed", 0x10: "homeaddress",
              0x20: "deprecated", 0x40: "tentative", 0x80: "permanent", 0x100: "mngtmpaddr",
              0x200: "noprefixroute", 0x400: "autojoin", 0x800: "stable-privacy"}
# Flags a caller may set; the others are state the kernel keeps (permanent follows the lifetimes).
SETTABLE_ADDR_FLAGS = ("nodad", "optimistic", "homeaddress", "mngtmpaddr", "noprefixroute", "autojoin")
IFF_UP = 0x1


def _names_to_numbers(table):
    return dict((v, k) for k, v in table.items())


_SCOPE_NUM = _names_to_numbers(SCOPES)
_PROTO_NUM = _names_to_numbers(PROTOCOLS)
_TYPE_NUM = _names_to_numbers(ROUTE_TYPES)
_FLAG_NUM = _names_to_numbers(ADDR_FLAGS)


class NetlinkError(Exception):
    """One sentence: what was tried on which object, and the kernel's answer."""

    def __init__(self, message, code=None):
        super(NetlinkError, self).__init__(message)
        self.code = code


def _cause(exc):
    code = getattr(exc, "code", None)
    if code is None and isinstance(exc, OSError):
        code = exc.errno
    if isinstance(code, int) and code > 0:
        return code, "[%d] %s" % (code, os.strerror(code))
    return None, str(exc) or exc.__class__.__name__


@contextlib.contextmanager
def _failing(what):
    """Turn any pyroute2 / OS error inside the block into ``NetlinkError('failed to WHAT: cause')``."""
    try:
        yield
    except NetlinkError:
        raise
    except Exception as exc:  # pyroute2 raises its NetlinkError, OSError, ValueError, KeyError...
        code, cause = _cause(exc)
        raise NetlinkError("failed to %s: %s" % (what, cause), code) from exc


def _open_ns(path):
    try:
        return os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise NetlinkError("network namespace %s cannot be opened: [%d] %s" % (path, exc.errno, exc.strerror), exc.errno) from exc


@contextlib.contextmanager
def in_netns(path):
    """Run the block inside the network namespace at ``path`` (``None``: here), then come back."""
    if path is None:
        yield
        return
    if not HAS_PYROUTE2:
        raise NetlinkError("cannot enter network namespace %s: pyroute2 is missing" % path)
    fd = _open_ns(path)
    try:
        with _failing("enter network namespace %s" % path):
            _pr_netns.pushns(fd)
    finally:
        os.close(fd)
    try:
        yield
    finally:
        _pr_netns.popns()


def _attr(msg, name, default=None):
    value = msg.get_attr(name)
    return default if value is None else value


def _name_of(table, value):
    return table.get(value, value)


def _number_of(table, value, what):
    if value is None or isinstance(value, int):
        return value
    try:
        return table[value]
    except KeyError:
        raise NetlinkError("unknown %s %r" % (what, value)) from None


def _seconds(centiseconds):
    if centiseconds is None:
        return None
    if centiseconds % 100 == 0:
        return centiseconds // 100
    return centiseconds / 100.0


def _centiseconds(seconds):
    return int(round(float(seconds) * 100))


def _flag_names(bits):
    return sorted(name for bit, name in ADDR_FLAGS.items() if bits & bit)


def _flag_bits(names):
    bits = 0
    for name in names or ():
        bits |= _number_of(_FLAG_NUM, name, "address flag")
    return bits


def _lifetime(value):
    return None if value is None or value == FOREVER else int(value)


def _link_to_dict(msg):
    info = msg.get_attr("IFLA_LINKINFO")
    kind = data = None
    if info is not None:
        kind = info.get_attr("IFLA_INFO_KIND")
        data = info.get_attr("IFLA_INFO_DATA")
    stp = fwd = None
    if kind == "bridge" and data is not None and hasattr(data, "get_attr"):
        stp = data.get_attr("IFLA_BR_STP_STATE")
        fwd = _seconds(data.get_attr("IFLA_BR_FORWARD_DELAY"))
    peer_index = peer_netnsid = None
    if kind == "veth":
        peer_index = msg.get_attr("IFLA_LINK")
        peer_netnsid = msg.get_attr("IFLA_LINK_NETNSID")
    return {
        "index": msg["index"],
        "ifname": msg.get_attr("IFLA_IFNAME"),
        "kind": kind,
        "master": msg.get_attr("IFLA_MASTER") or None,
        "mac": msg.get_attr("IFLA_ADDRESS"),
        "mtu": msg.get_attr("IFLA_MTU"),
        "up": bool(msg["flags"] & IFF_UP),
        "operstate": msg.get_attr("IFLA_OPERSTATE"),
        "ifalias": msg.get_attr("IFLA_IFALIAS") or None,
        "peer_index": peer_index,
        "peer_netnsid": peer_netnsid,
        "stp_state": stp,
        "forward_delay": fwd,
    }


def _addr_to_dict(msg):
    cache = msg.get_attr("IFA_CACHEINFO") or {}
    flags = msg.get_attr("IFA_FLAGS")
    if flags is None:
        flags = msg["flags"]
    address = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
    return {
        "index": msg["index"],
        "family": FAMILIES.get(msg["family"], msg["family"]),
        "address": address,
        "prefixlen": msg["prefixlen"],
        "broadcast": msg.get_attr("IFA_BROADCAST"),
        "scope": _name_of(SCOPES, msg["scope"]),
        "flags": _flag_names(flags),
        "valid_lft": _lifetime(cache.get("ifa_valid")),
        "preferred_lft": _lifetime(cache.get("ifa_preferred")),
        "label": msg.get_attr("IFA_LABEL"),
    }


def _route_to_dict(msg):
    dst = msg.get_attr("RTA_DST")
    dst = "default" if msg["dst_len"] == 0 and dst is None else "%s/%d" % (dst, msg["dst_len"])
    table = msg.get_attr("RTA_TABLE")
    return {
        "family": FAMILIES.get(msg["family"], msg["family"]),
        "dst": dst,
        "gateway": msg.get_attr("RTA_GATEWAY"),
        "oif": msg.get_attr("RTA_OIF"),
        "table": table if table is not None else msg["table"],
        "metric": msg.get_attr("RTA_PRIORITY"),
        "protocol": _name_of(PROTOCOLS, msg["proto"]),
        "scope": _name_of(SCOPES, msg["scope"]),
        "type": _name_of(ROUTE_TYPES, msg["type"]),
        "prefsrc": msg.get_attr("RTA_PREFSRC"),
    }


def describe_route(route):
    """``default via 203.0.113.1 dev br0 table 254 metric 100`` -- for messages."""
    parts = [str(route.get("dst"))]
    if route.get("gateway"):
        parts.append("via %s" % route["gateway"])
    dev = route.get("dev") or route.get("oif")
    if dev is not None:
        parts.append("dev %s" % dev)
    if route.get("table") not in (None, 254):
        parts.append("table %s" % route["table"])
    if route.get("metric") is not None:
        parts.append("metric %s" % route["metric"])
    return " ".join(parts)


class Netlink(object):
    """One rtnetlink socket bound to one network namespace (see the module docstring)."""

    def __init__(self, netns=None):
        if not HAS_PYROUTE2:
            raise NetlinkError("pyroute2 is required: %s" % PYROUTE2_IMPORT_ERROR)
        self.netns = netns
        where = "network namespace %s" % netns if netns else "the current network namespace"
        with in_netns(netns):
            with _failing("open a netlink socket in %s" % where):
                self._ipr = IPRoute()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def close(self):
        if self._ipr is not None:
            try:
                self._ipr.close()
            finally:
                self._ipr = None

    # -- reading ---------------------------------------------------------------------------

    def links(self):
        with _failing("list links"):
            return [_link_to_dict(m) for m in self._ipr.get_links()]

    def addresses(self, family=None):
        kwargs = {}
        if family is not None:
            kwargs["family"] = FAMILY_NUMBERS[family]
        with _failing("list addresses"):
            return [_addr_to_dict(m) for m in self._ipr.get_addr(**kwargs)]

    def routes(self, family=None):
        families = [FAMILY_NUMBERS[family]] if family is not None else [socket.AF_INET, socket.AF_INET6]
        result = []
        with _failing("list routes"):
            for fam in families:
                # no table filter: the dump holds every table (main, local, custom)
                result.extend(_route_to_dict(m) for m in self._ipr.get_routes(family=fam))
        return result

    def dump(self):
        return {"links": self.links(), "addresses": self.addresses(), "routes": self.routes()}

    def link_index(self, name):
        with _failing("look up link %s" % name):
            found = self._ipr.link_lookup(ifname=name)
        found = list(found or ())
        return found[0] if found else None

    def _index(self, link):
        if isinstance(link, int):
            return link
        index = self.link_index(link)
        if index is None:
            raise NetlinkError("link %s does not exist" % link, 19)
        return index

    # -- changing --------------------------------------------------------------------------

    def add_bridge(self, name, stp=None, forward_delay=None, mtu=None, mac=None):
        kwargs = {"ifname": name, "kind": "bridge"}
        if stp is not None:
            kwargs["br_stp_state"] = 1 if stp else 0
        if forward_delay is not None:
            kwargs["br_forward_delay"] = _centiseconds(forward_delay)
        if mtu is not None:
            kwargs["mtu"] = mtu
        if mac is not None:
            kwargs["address"] = mac
        with _failing("add bridge %s" % name):
            self._ipr.link("add", **kwargs)

    def set_bridge(self, link, stp=None, forward_delay=None):
        kwargs = {}
        if stp is not None:
            kwargs["br_stp_state"] = 1 if stp else 0
        if forward_delay is not None:
            kwargs["br_forward_delay"] = _centiseconds(forward_delay)
        if not kwargs:
            return
        with _failing("set bridge %s (%s)" % (link, ", ".join("%s=%s" % kv for kv in sorted(kwargs.items())))):
            self._ipr.link("set", index=self._index(link), kind="bridge", **kwargs)

    def add_veth(self, name, peer, peer_netns_fd=None, mtu=None, mac=None, peer_mac=None, ifalias=None):
        peer_spec = {"ifname": peer}
        if peer_netns_fd is not None:
            peer_spec["net_ns_fd"] = peer_netns_fd
        if peer_mac is not None:
            peer_spec["address"] = peer_mac
        if mtu is not None:
            peer_spec["mtu"] = mtu
        kwargs = {"ifname": name, "kind": "veth", "peer": peer_spec}
        if mtu is not None:
            kwargs["mtu"] = mtu
        if mac is not None:
            kwargs["address"] = mac
        with _failing("add veth %s (peer %s)" % (name, peer)):
            self._ipr.link("add", **kwargs)
        if ifalias is not None:
            self.set_link(name, ifalias=ifalias)

    def delete_link(self, link):
        with _failing("delete link %s" % link):
            self._ipr.link("del", index=self._index(link))

    delete_bridge = delete_link

    def set_link(self, link, up=None, mtu=None, mac=None, master=None, ifname=None, ifalias=None, netns_fd=None):
        """Change one or more attributes of a link, each in the request order below."""
        changes = []
        if master is not None:
            changes.append(("master %s" % master if master else "nomaster",
                            {"master": self._index(master) if master else 0}))
        if mtu is not None:
            changes.append(("mtu %s" % mtu, {"mtu": mtu}))
        if mac is not None:
            changes.append(("address %s" % mac, {"address": mac}))
        if ifname is not None:
            changes.append(("name %s" % ifname, {"ifname": ifname}))
        if ifalias is not None:
            changes.append(("alias %r" % ifalias, {"IFLA_IFALIAS": ifalias}))
        if up is not None:
            changes.append(("up" if up else "down", {"state": "up" if up else "down"}))
        if netns_fd is not None:
            changes.append(("netns fd %s" % netns_fd, {"net_ns_fd": netns_fd}))
        index = self._index(link)
        for what, kwargs in changes:
            with _failing("set link %s %s" % (link, what)):
                self._ipr.link("set", index=index, **kwargs)

    def add_address(self, link, address, prefixlen, broadcast=None, flags=None, valid_lft=None,
                    preferred_lft=None, label=None):
        what = "add address %s/%s to %s" % (address, prefixlen, link)
        kwargs = {"index": self._index(link), "address": address, "prefixlen": int(prefixlen)}
        if ":" in address:
            kwargs["family"] = socket.AF_INET6
        else:
            kwargs["family"] = socket.AF_INET
            if broadcast:
                kwargs["broadcast"] = broadcast
        bits = _flag_bits([f for f in (flags or ()) if f in SETTABLE_ADDR_FLAGS])
        if bits:
            kwargs["IFA_FLAGS"] = bits
        if label:
            kwargs["label"] = label
        if valid_lft is not None or preferred_lft is not None:
            valid = FOREVER if valid_lft is None else int(valid_lft)
            preferred = valid if preferred_lft is None else min(int(preferred_lft), valid)
            # 0.9 sends the ifa_* keys as given; 0.7.2 rebuilds them from 'valid'/'preferred'
            kwargs["IFA_CACHEINFO"] = {"ifa_valid": valid, "ifa_preferred": preferred, "valid": valid,
                                       "preferred": preferred, "cstamp": 0, "tstamp": 0}
        with _failing(what):
            self._ipr.addr("add", **kwargs)

    def delete_address(self, link, address, prefixlen):
        with _failing("delete address %s/%s from %s" % (address, prefixlen, link)):
            self._ipr.addr("del", index=self._index(link), address=address, prefixlen=int(prefixlen),
                           family=socket.AF_INET6 if ":" in address else socket.AF_INET)

    def _route_kwargs(self, route):
        family = FAMILY_NUMBERS.get(route.get("family"))
        dst = route.get("dst") or "default"
        if family is None:
            probe = route.get("gateway") or dst
            family = socket.AF_INET6 if ":" in probe else socket.AF_INET
        kwargs = {"family": family}
        if dst == "default":
            kwargs["dst_len"] = 0
        else:
            net, length = (dst.split("/", 1) + [""])[:2]
            kwargs["dst"] = net
            kwargs["dst_len"] = int(length) if length else (128 if family == socket.AF_INET6 else 32)
        oif = route.get("oif")
        if oif is None and route.get("dev"):
            oif = route["dev"]
        if oif is not None:
            kwargs["oif"] = self._index(oif)
        if route.get("gateway"):
            kwargs["gateway"] = route["gateway"]
        table = route.get("table")
        kwargs["table"] = 254 if table is None else int(table)
        if route.get("metric") is not None:
            kwargs["priority"] = int(route["metric"])
        # 0.7.2 and 0.9 default to different protocols; say it always ('boot', as `ip route add`)
        kwargs["proto"] = _number_of(_PROTO_NUM, route.get("protocol") or "boot", "route protocol")
        if route.get("scope") is not None:
            kwargs["scope"] = _number_of(_SCOPE_NUM, route["scope"], "route scope")
        if route.get("type") is not None:
            kwargs["type"] = _number_of(_TYPE_NUM, route["type"], "route type")
        if route.get("prefsrc"):
            kwargs["prefsrc"] = route["prefsrc"]
        return kwargs

    def _route(self, command, verb, route):
        what = "%s route %s" % (verb, describe_route(route))
        with _failing(what):
            self._ipr.route(command, **self._route_kwargs(route))

    def add_route(self, route):
        self._route("add", "add", route)

    def replace_route(self, route):
        self._route("replace", "replace", route)

    def delete_route(self, route):
        self._route("del", "delete", route)


# --- added for container_veth ----------------------------------------------------------------
# The requests container_veth sends by the hundred (a new pair, its label, the container's address
# and routes) cost about 1 ms each in pyroute2's request machinery (0.9: an asyncio round per call)
# and 20-50 us on a plain socket. ``Raw`` is that plain socket: standard library only, the same
# error sentences as above, one request at a time (each answered before the next is sent).

import struct  # noqa: E402  pylint: disable=wrong-import-position,wrong-import-order

_NLMSG = struct.Struct("=IHHII")          # len, type, flags, seq, pid
_NLA = struct.Struct("=HH")               # len, type
_IFINFO = struct.Struct("=BxHiII")        # family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")         # family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")      # family, dst_len, src_len, tos, table, protocol, scope, type, flags
_NLMSG_ERROR, _NLMSG_DONE = 2, 3
_RTM_NEWLINK, _RTM_GETLINK, _RTM_NEWADDR, _RTM_NEWROUTE = 16, 18, 20, 24
_F_REQUEST, _F_ACK, _F_ECHO, _F_EXCL, _F_CREATE = 0x1, 0x4, 0x8, 0x200, 0x400
_IFLA_ADDRESS, _IFLA_IFNAME, _IFLA_MTU, _IFLA_LINK, _IFLA_MASTER = 1, 3, 4, 5, 10
_IFLA_LINKINFO, _IFLA_IFALIAS, _IFLA_NET_NS_FD, _IFLA_LINK_NETNSID = 18, 20, 28, 37
_IFLA_INFO_KIND, _IFLA_INFO_DATA, _VETH_INFO_PEER = 1, 2, 1
_IFA_ADDRESS, _IFA_LOCAL, _IFA_LABEL, _IFA_BROADCAST, _IFA_CACHEINFO, _IFA_FLAGS = 1, 2, 3, 4, 6, 8
_RTA_DST, _RTA_OIF, _RTA_GATEWAY, _RTA_PRIORITY, _RTA_PREFSRC, _RTA_TABLE = 1, 4, 5, 6, 7, 15
_RTM_GETADDR, _RTM_GETROUTE = 22, 26
_F_DUMP = 0x300


def _nla(kind, data):
    return _NLA.pack(_NLA.size + len(data), kind) + data + b"\0" * (-len(data) % 4)


def _nla_u32(kind, value):
    return _nla(kind, struct.pack("=I", value))


def _nla_str(kind, text):
    return _nla(kind, text.encode("utf-8") + b"\0")


def _nla_mac(kind, mac):
    return _nla(kind, bytes(bytearray(int(part, 16) for part in mac.split(":"))))


def _u32(raw):
    return struct.unpack("=I", raw[:4])[0] if raw else None


def _text(raw):
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace") if raw is not None else None


def _ip(family, raw):
    return socket.inet_ntop(family, raw) if raw else None


def _raw_link(payload):
    _family, _type, index, flags, _change = _IFINFO.unpack_from(payload)
    attrs = _nlas(payload[_IFINFO.size:])
    kind = _text(_nlas(attrs[_IFLA_LINKINFO]).get(_IFLA_INFO_KIND)) if _IFLA_LINKINFO in attrs else None
    mac = attrs.get(_IFLA_ADDRESS)
    netnsid = attrs.get(_IFLA_LINK_NETNSID)
    return {
        "index": index, "ifname": _text(attrs.get(_IFLA_IFNAME)), "kind": kind,
        "master": _u32(attrs.get(_IFLA_MASTER)) or None,
        "mac": ":".join("%02x" % b for b in bytearray(mac)) if mac else None,
        "mtu": _u32(attrs.get(_IFLA_MTU)), "up": bool(flags & IFF_UP),
        "operstate": None, "ifalias": _text(attrs.get(_IFLA_IFALIAS)) or None,
        "peer_index": _u32(attrs.get(_IFLA_LINK)) if kind == "veth" else None,
        "peer_netnsid": struct.unpack("=i", netnsid[:4])[0] if kind == "veth" and netnsid else None,
        "stp_state": None, "forward_delay": None,
    }


def _raw_address(payload):
    family, prefixlen, flags, scope, index = _IFADDR.unpack_from(payload)
    attrs = _nlas(payload[_IFADDR.size:])
    if _IFA_FLAGS in attrs:
        flags = _u32(attrs[_IFA_FLAGS])
    cache = attrs.get(_IFA_CACHEINFO)
    preferred, valid = struct.unpack_from("=II", cache) if cache else (None, None)
    return {
        "index": index, "family": FAMILIES.get(family, family),
        "address": _ip(family, attrs.get(_IFA_LOCAL) or attrs.get(_IFA_ADDRESS)), "prefixlen": prefixlen,
        "broadcast": _ip(family, attrs.get(_IFA_BROADCAST)), "scope": _name_of(SCOPES, scope),
        "flags": _flag_names(flags), "valid_lft": _lifetime(valid), "preferred_lft": _lifetime(preferred),
        "label": _text(attrs.get(_IFA_LABEL)),
    }


def _raw_route(payload):
    family, dst_len, _src_len, _tos, table, proto, scope, kind, _flags = _RTMSG.unpack_from(payload)
    attrs = _nlas(payload[_RTMSG.size:])
    dst = _ip(family, attrs.get(_RTA_DST))
    return {
        "family": FAMILIES.get(family, family),
        "dst": "default" if dst_len == 0 and dst is None else "%s/%d" % (dst, dst_len),
        "gateway": _ip(family, attrs.get(_RTA_GATEWAY)), "oif": _u32(attrs.get(_RTA_OIF)),
        "table": _u32(attrs.get(_RTA_TABLE)) if _RTA_TABLE in attrs else table,
        "metric": _u32(attrs.get(_RTA_PRIORITY)), "protocol": _name_of(PROTOCOLS, proto),
        "scope": _name_of(SCOPES, scope), "type": _name_of(ROUTE_TYPES, kind),
        "prefsrc": _ip(family, attrs.get(_RTA_PREFSRC)),
    }


def _nlas(data):
    """``{type: raw bytes}`` of the attributes in ``data`` (top level only)."""
    out, offset = {}, 0
    while offset + _NLA.size <= len(data):
        length, kind = _NLA.unpack_from(data, offset)
        if length < _NLA.size:
            break
        out[kind & 0x3FFF] = data[offset + _NLA.size:offset + length]
        offset += (length + 3) & ~3
    return out


class Raw(object):
    """A plain rtnetlink socket of the namespace it is opened in (open it inside ``in_netns``)."""

    def __init__(self):
        with _failing("open a netlink socket"):
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)  # NETLINK_ROUTE
            self._sock.bind((0, 0))
        self._seq = 0

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _request(self, what, msg_type, flags, body):
        """Send one request; its answers (``[(type, payload)]``) once the kernel acknowledged it."""
        self._seq += 1
        seq = self._seq
        answers = []
        with _failing(what):
            self._sock.sendto(_NLMSG.pack(_NLMSG.size + len(body), msg_type, flags | _F_REQUEST | _F_ACK, seq, 0) + body,
                              (0, 0))
            while True:
                data = self._sock.recv(65536)
                offset = 0
                while offset + _NLMSG.size <= len(data):
                    length, kind, _flags, rseq, _pid = _NLMSG.unpack_from(data, offset)
                    payload = data[offset + _NLMSG.size:offset + length]
                    offset += (length + 3) & ~3
                    if rseq != seq:
                        continue
                    if kind == _NLMSG_ERROR:
                        code = -struct.unpack_from("=i", payload)[0]
                        if code:
                            raise NetlinkError("failed to %s: [%d] %s" % (what, code, os.strerror(code)), code)
                        return answers
                    if kind == _NLMSG_DONE:
                        return answers
                    answers.append((kind, payload))
                    if length < _NLMSG.size:
                        return answers

    # the same dicts as ``Netlink.links()`` / ``addresses()`` / ``routes()`` (``operstate`` and the
    # bridge options excepted: ``None``), one dump each, decoded only as far as they need

    def _dump(self, what, msg_type, header, reply_type, decode):
        return [decode(payload) for kind, payload in self._request(what, msg_type, _F_DUMP, header) if kind == reply_type]

    def links(self):
        return self._dump("list links", _RTM_GETLINK, _IFINFO.pack(0, 0, 0, 0, 0), _RTM_NEWLINK, _raw_link)

    def addresses(self):
        return self._dump("list addresses", _RTM_GETADDR, _IFADDR.pack(0, 0, 0, 0, 0), _RTM_NEWADDR, _raw_address)

    def routes(self):
        """Every route of every table, IPv4 and IPv6, in one dump."""
        return self._dump("list routes", _RTM_GETROUTE, _RTMSG.pack(0, 0, 0, 0, 0, 0, 0, 0, 0), _RTM_NEWROUTE,
                          _raw_route)

    def add_veth_port(self, name, peer, peer_netns_fd, master, mtu=None, peer_mac=None):
        """Add veth ``name``, up and a port of ``master`` (an index), with ``peer`` born (down: a veth
        cannot open before its pair is complete) in the namespace of ``peer_netns_fd``. Returns
        ``(index, peer_index)`` when the kernel echoes the new link (Linux 6.3 and later), else
        ``(None, None)``."""
        peer_attrs = _nla_str(_IFLA_IFNAME, peer) + _nla_u32(_IFLA_NET_NS_FD, peer_netns_fd)
        if peer_mac is not None:
            peer_attrs += _nla_mac(_IFLA_ADDRESS, peer_mac)
        if mtu is not None:
            peer_attrs += _nla_u32(_IFLA_MTU, mtu)
        info = _nla_str(_IFLA_INFO_KIND, "veth") + _nla(_IFLA_INFO_DATA, _nla(
            _VETH_INFO_PEER, _IFINFO.pack(0, 0, 0, 0, 0) + peer_attrs))
        attrs = _nla_str(_IFLA_IFNAME, name) + _nla_u32(_IFLA_MASTER, master) + _nla(_IFLA_LINKINFO, info)
        if mtu is not None:
            attrs += _nla_u32(_IFLA_MTU, mtu)
        answers = self._request("add veth %s (peer %s)" % (name, peer), _RTM_NEWLINK,
                                _F_CREATE | _F_EXCL | _F_ECHO, _IFINFO.pack(0, 0, 0, IFF_UP, IFF_UP) + attrs)
        for kind, payload in answers:
            if kind == _RTM_NEWLINK:
                index = _IFINFO.unpack_from(payload)[2]
                link = _nlas(payload[_IFINFO.size:]).get(_IFLA_LINK)
                if link is not None:
                    return index, struct.unpack("=I", link)[0]
        return None, None

    def set_ifalias(self, name, ifalias):
        self._request("set link %s alias %r" % (name, ifalias), _RTM_NEWLINK, 0,
                      _IFINFO.pack(0, 0, 0, 0, 0) + _nla_str(_IFLA_IFNAME, name) + _nla_str(_IFLA_IFALIAS, ifalias))

    def set_up(self, index, what=None):
        """Bring link ``index`` up."""
        self._request("set link %s up" % (what or index), _RTM_NEWLINK, 0, _IFINFO.pack(0, 0, index, IFF_UP, IFF_UP))

    def link_index(self, name):
        """The index of link ``name``; ``NetlinkError`` (code 19) when there is none."""
        for kind, payload in self._request("look up link %s" % name, _RTM_GETLINK, 0,
                                           _IFINFO.pack(0, 0, 0, 0, 0) + _nla_str(_IFLA_IFNAME, name)):
            if kind == _RTM_NEWLINK:
                return _IFINFO.unpack_from(payload)[2]
        raise NetlinkError("link %s does not exist" % name, 19)

    def add_address(self, index, address, prefixlen, what=None):
        """Add ``address/prefixlen`` to link ``index`` (IPv6 with ``nodad``; IPv4 with its broadcast)."""
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        raw = socket.inet_pton(family, address)
        attrs = _nla(_IFA_LOCAL, raw) + _nla(_IFA_ADDRESS, raw)
        if family == socket.AF_INET6:
            attrs += _nla_u32(_IFA_FLAGS, _FLAG_NUM["nodad"])
        elif prefixlen < 31:
            host_bits = (1 << (32 - prefixlen)) - 1
            attrs += _nla(_IFA_BROADCAST, struct.pack("!I", struct.unpack("!I", raw)[0] | host_bits))
        self._request("add address %s/%s to %s" % (address, prefixlen, what or index), _RTM_NEWADDR,
                      _F_CREATE | _F_EXCL, _IFADDR.pack(family, int(prefixlen), 0, 0, index) + attrs)

    def add_route(self, route):
        """Add a unicast route of the main table (or ``route['table']``) given as for ``add_route``,
        with ``oif`` an index."""
        dst = route.get("dst") or "default"
        probe = route.get("gateway") or dst
        family = FAMILY_NUMBERS.get(route.get("family")) or (socket.AF_INET6 if ":" in probe else socket.AF_INET)
        attrs, dst_len = b"", 0
        if dst != "default":
            net, _sep, length = dst.partition("/")
            dst_len = int(length) if length else (128 if family == socket.AF_INET6 else 32)
            attrs += _nla(_RTA_DST, socket.inet_pton(family, net))
        table = 254 if route.get("table") is None else int(route["table"])
        if route.get("gateway"):
            attrs += _nla(_RTA_GATEWAY, socket.inet_pton(family, route["gateway"]))
        if route.get("oif") is not None:
            attrs += _nla_u32(_RTA_OIF, route["oif"])
        if route.get("metric") is not None:
            attrs += _nla_u32(_RTA_PRIORITY, int(route["metric"]))
        attrs += _nla_u32(_RTA_TABLE, table)
        header = _RTMSG.pack(family, dst_len, 0, 0, table if table < 256 else 0, _PROTO_NUM["boot"],
                             0 if route.get("gateway") else 253, 1, 0)
        self._request("add route %s" % describe_route(route), _RTM_NEWROUTE, _F_CREATE | _F_EXCL, header + attrs)
