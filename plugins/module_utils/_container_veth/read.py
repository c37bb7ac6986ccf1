# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live-state reading of ``container_veth``: one netlink socket and one dump (of each kind) per
network namespace for the whole run, turned into the live facts the planner (``plan``) wants.

``Namespaces()`` the run's ``_kernel.netlink.Netlink`` sockets: ``host`` and ``of(target)`` (opened on
    first need through the target's own descriptor, ``target['fd_path']``, never by a path or PID
    that could name another namespace by then); ``close()``.
``AttachmentReader(namespaces)`` reads the host's links once (veth host ends parsed for their
    ``names`` label).
``AttachmentReader.live(entry, target)`` -> ``{'host', 'stale', 'taken', 'peer', 'bridge', 'addresses',
    'routes', 'ipv6'}`` the live facts of one attachment (``plan``'s shape; routes the codec's, with
    ``dev`` the link's name), reading the target namespace on first need; for a routed attachment
    (``mode: routed``, or a host end labelled with an uplink) also ``routed``'s facts, from one dump
    of the host's addresses, routes and proxy entries.
``bridges_touched(entries, purge_bridge, host_links)`` the bridges a run may change (their locks are
    held from reading to the end of apply): every entry's ``bridge``, the purged one, and for an
    entry that names no bridge (``state: absent``) every bridge with a port this module labelled.
Reading never changes anything; ``apply`` changes through the same sockets.
"""

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import names as _names
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import plan as planner
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import routed
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.constants import MAIN_TABLE
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netlink import Netlink


class Namespaces:
    """The host's netlink socket and one per target namespace, for the whole run."""

    def __init__(self):
        self.host = Netlink()
        self._targets = {}  # inode -> Netlink

    def of(self, target):
        """The socket of ``target``'s namespace (``None``: the host's)."""
        if target is None:
            return self.host
        key = target["inode"]
        if key not in self._targets:
            self._targets[key] = Netlink(target["fd_path"])
        return self._targets[key]

    def close(self):
        for nl in list(self._targets.values()) + [self.host]:
            nl.close()
        self._targets = {}


def bridges_touched(entries, purge_bridge=None, host_links=None):
    """The names of the bridges a run may change, sorted (see the module docstring)."""
    out = set(entry["bridge"] for entry in entries if entry.get("bridge"))
    if purge_bridge:
        out.add(purge_bridge)
    if host_links is not None and any(not entry.get("bridge") and entry.get("mode") != "routed" for entry in entries):
        by_index = dict((link["index"], link["ifname"]) for link in host_links)
        for link in host_links:
            if link.get("kind") == "veth" and _names.parse_label(link.get("ifalias")) and by_index.get(link.get("master")):
                out.add(by_index[link["master"]])
    return sorted(out)


class _Dump:
    """What was read of one target namespace: links always, addresses and routes on first need."""

    def __init__(self, nl):
        self.nl = nl
        self.links = dict((link["ifname"], link) for link in nl.links())
        self.by_index = dict((link["index"], link) for link in self.links.values())
        self._addresses = None
        self._routes = None

    def addresses(self):
        if self._addresses is None:
            self._addresses = self.nl.addresses()
        return self._addresses

    def routes(self, family):
        """The main table's routes of ``family`` (``'inet'`` or ``'inet6'``)."""
        if self._routes is None:
            self._routes = {"inet": [], "inet6": []}
            for route in self.nl.routes():  # both families in one dump
                if route.get("table") == MAIN_TABLE:
                    self._routes[route["family"]].append(route)
        return self._routes[family]


class AttachmentReader:
    """The live facts of the run's attachments: the host's links, and each target namespace's."""

    def __init__(self, namespaces):
        self.namespaces = namespaces
        self.host_links = namespaces.host.links()
        self.by_name = dict((link["ifname"], link) for link in self.host_links)
        by_index = dict((link["index"], link) for link in self.host_links)
        for link in self.host_links:
            master = by_index.get(link.get("master"))
            link["master"] = master["ifname"] if master else None
        self.labelled = {}
        for link in self.host_links:
            label = _names.parse_label(link.get("ifalias")) if link.get("kind") == "veth" else None
            if label:
                link["label"] = label
                self.labelled.setdefault((label["id"], label["ifname"]), []).append(link)
        self._dumps = {}  # inode -> _Dump
        self._host = None  # the host's addresses, routes, proxy entries (routed attachments), on first need

    def _dump(self, target):
        key = target["inode"]
        if key not in self._dumps:
            self._dumps[key] = _Dump(self.namespaces.of(target))
        return self._dumps[key]

    def _container_side(self, entry, target):
        """``(peer, addresses, routes)`` inside the target, reading only what the plan can need:
        a new interface has no addresses or routes yet."""
        dump = self._dump(target)
        peer = dump.links.get(entry["ifname"])
        defaults = set(r["family"] for r in entry.get("routes") or [] if r["dst"] == "default")
        families = set(["inet", "inet6"]) if peer else defaults
        addresses, routes = [], []
        if peer:
            addresses = [planner.normalize_address("%s/%d" % (a["address"], a["prefixlen"])) for a in dump.addresses()
                         if a["index"] == peer["index"] and not (a["family"] == "inet6" and a["scope"] == "link")]
        for r in [r for family in sorted(families) for r in dump.routes(family)]:
            if r.get("protocol") in ("kernel", "ra", "redirect") or r.get("type") not in (None, "unicast"):
                continue
            on_peer = peer is not None and r.get("oif") == peer["index"]
            if not on_peer and r["dst"] != "default":
                continue
            dev = dump.by_index.get(r.get("oif"))
            routes.append({"family": r["family"], "dst": planner.normalize_dest(r["dst"]), "gateway": r.get("gateway"),
                           "dev": dev["ifname"] if dev else None, "table": MAIN_TABLE, "metric": r.get("metric")})
        return peer, addresses, routes

    def live(self, entry, target):
        """Live facts of one attachment in the shape the planner wants."""
        key = (target["identity"], entry["ifname"]) if target.get("identity") else None
        candidates = list(self.labelled.get(key, [])) if key else []
        peer, addresses, routes = None, [], []
        if target.get("fd") is not None:
            peer, addresses, routes = self._container_side(entry, target)
        host = None
        for cand in candidates:
            if peer and cand.get("peer_index") == peer["index"] and peer.get("peer_index") == cand["index"]:
                host = cand
        if host is None and candidates:
            host = candidates[0]
        stale = [c for c in candidates if c is not host]
        wanted_name = entry.get("host_ifname")
        taken = self.by_name.get(wanted_name) if wanted_name else None
        if taken and (taken is host or any(taken["ifname"] == c["ifname"] for c in candidates)):
            taken = None
        bridge = self.by_name.get(entry.get("bridge")) if entry.get("bridge") else None
        ipv6 = None
        if target.get("fd") is not None and planner.wants_ipv6(entry):
            intact = bool(host and peer and host.get("peer_index") == peer["index"])
            ipv6 = self.namespaces.of(target).ipv6_enabled(entry["ifname"] if intact else "default")
        live = {"host": host, "stale": stale, "taken": taken, "peer": peer, "bridge": bridge,
                "addresses": addresses, "routes": routes, "ipv6": ipv6}
        uplink = entry.get("uplink") if entry.get("mode") == "routed" else None
        uplink = uplink or ((host or {}).get("label") or {}).get("uplink")
        if uplink:
            live.update(self._routed(uplink, host, entry.get("host_ifname") or (host or {}).get("ifname")))
        return live

    def _host_dump(self):
        """The host's addresses, main-table routes and proxy neighbour entries, read once."""
        if self._host is None:
            nl = self.namespaces.host
            self._host = {"addresses": nl.addresses(), "proxy": nl.proxy_neighbours(),
                          "routes": [r for r in nl.routes() if r.get("table") == MAIN_TABLE]}
        return self._host

    def _sysctls(self, link):
        found = self.namespaces.host.sysctls(link, routed.SYSCTL_NAMES)
        return dict(("%s/%s" % (tree, name), value) for tree, values in found.items() for name, value in values.items())

    def _routed(self, uplink_name, host, host_end):
        """The live facts of a routed attachment on the host (``routed``'s shape)."""
        dump = self._host_dump()
        uplink = self.by_name.get(uplink_name)
        cidrs = [(a["index"], "%s/%d" % (a["address"], a["prefixlen"]), a["scope"]) for a in dump["addresses"]]
        out = {"uplink": uplink, "host_addresses": [c for _i, c, _s in cidrs],
               "uplink_addresses": [c for i, c, scope in cidrs if uplink and i == uplink["index"] and scope != "link"],
               "host_end_addresses": [c for i, c, _s in cidrs if host and i == host["index"]],
               "host_routes": [r for r in dump["routes"] if host and r.get("oif") == host["index"]
                               and r.get("protocol") != "kernel" and r["dst"] != "default"
                               and r["dst"].endswith("/32" if r["family"] == "inet" else "/128")],
               "proxy": [n["address"] for n in dump["proxy"] if uplink and n["index"] == uplink["index"]],
               "others_on_uplink": [link["label"] for link in self.host_links if link is not host
                                    and (link.get("label") or {}).get("uplink") == uplink_name],
               "sysctls": {"all": self._sysctls("all")}}
        if uplink:
            out["sysctls"][uplink_name] = self._sysctls(uplink_name)
        if host and host_end == host["ifname"]:
            out["sysctls"][host_end] = self._sysctls(host_end)
        return out
