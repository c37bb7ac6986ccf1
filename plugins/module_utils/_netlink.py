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
# One request instead of four for the common case of container_veth: the host end is created up,
# with its MTU and already a port of the bridge; the peer is born in the target namespace with its
# MTU and MAC (still down: bring it up with a socket of that namespace). The kernel applies
# IFLA_MASTER and the link flags at creation; IFLA_IFALIAS it does not, so set that afterwards.

def add_veth_port(nl, name, peer, peer_netns_fd, master, mtu=None, peer_mac=None):
    """Add veth ``name`` (up, port of ``master``: an index or a name) with ``peer`` in another namespace."""
    what = "add veth %s (peer %s) to %s" % (name, peer, master)
    peer_spec = {"ifname": peer, "net_ns_fd": peer_netns_fd}
    if peer_mac is not None:
        peer_spec["address"] = peer_mac
    if mtu is not None:
        peer_spec["mtu"] = mtu
    kwargs = {"ifname": name, "kind": "veth", "peer": peer_spec, "master": nl._index(master),
              "flags": IFF_UP, "change": IFF_UP}
    if mtu is not None:
        kwargs["mtu"] = mtu
    with _failing(what):
        nl._ipr.link("add", **kwargs)


def set_ifalias_by_name(nl, name, ifalias):
    """Set the ``ifalias`` of link ``name`` in one request (the kernel resolves the name; no lookup)."""
    with _failing("set link %s alias %r" % (name, ifalias)):
        nl._ipr.link("set", ifname=name, IFLA_IFALIAS=ifalias)
