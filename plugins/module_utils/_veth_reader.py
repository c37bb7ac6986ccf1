# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live-state reading of ``container_veth``: ``Reader`` holds one netlink socket and one dump (of
each kind) per network namespace for the whole run, and turns them into the live facts the planner
(``_veth_plan``) wants.

``Reader()`` reads the host's links once (veth host ends parsed for their ``_names`` label).
``Reader.live(entry, target)`` -> ``{'host', 'stale', 'taken', 'peer', 'bridge', 'addresses', 'routes', 'ipv6'}``
    the live facts of one attachment, reading the target namespace on first need.
``Reader.netns`` / ``netlink`` / ``index`` / ``created`` / ``forget`` / ``close``: the sockets,
    dumps and cached ifindexes that the apply step (``_veth_apply``) works through.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.lanbridge.core.plugins.module_utils import _arp_batch
from ansible_collections.lanbridge.core.plugins.module_utils import _names
from ansible_collections.lanbridge.core.plugins.module_utils import _ndisc
from ansible_collections.lanbridge.core.plugins.module_utils import _netlink
from ansible_collections.lanbridge.core.plugins.module_utils import _probe
from ansible_collections.lanbridge.core.plugins.module_utils import _veth_plan as planner


class Reader:
    """One netlink socket and one dump (of each kind) per namespace for the whole run.

    Reading and the requests a new attachment needs go through ``_netlink.Raw`` (a plain socket);
    pyroute2's ``_netlink.Netlink`` of a namespace is opened only for the rarer changes (repairs,
    deletions, undo)."""

    def __init__(self):
        self.host = _netlink.Netlink()
        self.host_raw = _netlink.Raw()
        self.raw = {}       # inode -> Raw of the target namespace
        self.host_links = self.host_raw.links()
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
        self.sockets = {}   # inode -> Netlink
        self.dumps = {}     # inode -> (links by name, addresses, routes, links by index)
        self.indexes = {}   # (inode or None, ifname) -> ifindex, so changes need no lookups
        self.announcer = _ndisc.Announcer()
        self.prober = _arp_batch.Prober()

    def netns(self, target, families=(), packet=False):
        """The target namespace's plain socket and dump: links, and the addresses / routes (main
        table) read once each, on first need (``families`` names them: ``addresses``, 4, 6). With
        ``packet``, the one visit to the namespace also opens a packet socket for the probes and
        announcements of a new interface there."""
        key = target["inode"]
        if key not in self.raw:
            with _netlink.in_netns(target["path"]):
                self.raw[key] = _netlink.Raw()
                if packet:
                    try:
                        self.prober.adopt(target["path"], _arp_batch.open_unbound())
                    except _probe.ProbeError:
                        pass  # opened again (and then reported) when it is needed
            links = self.raw[key].links()
            self.dumps[key] = (dict((link["ifname"], link) for link in links), None, {},
                               dict((link["index"], link) for link in links))
        raw, dump = self.raw[key], self.dumps[key]
        if "addresses" in families and dump[1] is None:
            dump = self.dumps[key] = (dump[0], raw.addresses(), dump[2], dump[3])
        if (4 in families or 6 in families) and not dump[2]:
            for route in raw.routes():  # both families in one dump
                if route.get("table") == 254:
                    dump[2].setdefault(6 if route["family"] == "inet6" else 4, []).append(route)
            dump[2].setdefault(4, [])
            dump[2].setdefault(6, [])
        return raw, dump

    def netlink(self, target):
        """pyroute2's socket of the host (``target`` None) or of the target's namespace (opened on first use)."""
        if target is None:
            return self.host
        key = target["inode"]
        if key not in self.sockets:
            self.sockets[key] = _netlink.Netlink(target["path"])
        return self.sockets[key]

    def close(self):
        self.announcer.close()
        self.prober.close()
        for nl in list(self.sockets.values()) + list(self.raw.values()):
            nl.close()
        self.host.close()
        self.host_raw.close()

    def index(self, target, ifname):
        """ifindex of ``ifname`` in the host (``target`` None) or the target's namespace."""
        key = (target["inode"] if target else None, ifname)
        if key not in self.indexes:
            if target is None:
                link = self.by_name.get(ifname)
                self.indexes[key] = link["index"] if link else self.host.link_index(ifname)
            else:
                links = self.netns(target)[1][0]
                link = links.get(ifname)
                self.indexes[key] = link["index"] if link else self.raw[target["inode"]].link_index(ifname)
            if self.indexes[key] is None:
                del self.indexes[key]
                raise _netlink.NetlinkError("link %s does not exist" % ifname, 19)
        return self.indexes[key]

    def created(self, target, host_ifname, peer, indexes):
        """A new pair exists: forget what was read about these names, keep the indexes if known."""
        self.forget(None, host_ifname)
        self.forget(target, peer)
        if indexes[0] is not None:
            self.indexes[(None, host_ifname)] = indexes[0]
            self.indexes[(target["inode"], peer)] = indexes[1]

    def forget(self, target, ifname):
        self.indexes.pop((target["inode"] if target else None, ifname), None)
        if target is None:
            self.by_name.pop(ifname, None)
        elif target["inode"] in self.dumps:
            self.dumps[target["inode"]][0].pop(ifname, None)

    @staticmethod
    def ipv6_enabled(target, ifname, exists):
        """Whether IPv6 is (or, for a new interface, will be) enabled on ``ifname`` in the target."""
        conf = ifname if exists else "default"
        with _netlink.in_netns(target["path"]):
            try:
                with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % conf) as f:
                    return f.read().strip() == "0"
            except (IOError, OSError):
                return None  # no IPv6 in this kernel: adding an IPv6 address will say so

    def live(self, entry, target):
        """Live facts of one attachment in the shape the planner wants."""
        key = (target["identity"], entry["ifname"]) if target.get("identity") else None
        candidates = list(self.labelled.get(key, [])) if key else []
        peer = None
        addresses, routes = [], []
        if target.get("path"):
            # a new attachment (nothing labelled for it yet) will probe or announce its IPv4 addresses
            packet = (not candidates and entry["state"] == "present" and (entry["conflict_check"] or entry["announce"])
                      and any(":" not in a for a in entry.get("addresses") or []))
            links = self.netns(target, packet=packet)[1][0]
            peer = links.get(entry["ifname"])
            # read only what the plan can need: a new interface has no addresses or routes yet
            defaults = [r["family"] for r in entry.get("routes") or [] if r["dest"] == "default"]
            families = set([4, 6]) if peer else set(defaults)
            _nl, (links, addrs, rts, by_index) = self.netns(target, families | (set(["addresses"]) if peer else set()))
            rts = [r for family in sorted(families) for r in rts.get(family, [])]
            if peer:
                addresses = ["%s/%d" % (a["address"], a["prefixlen"]) for a in addrs
                             if a["index"] == peer["index"] and not (a["family"] == "inet6" and a["scope"] == "link")]
                addresses = [planner.normalize_address(a) for a in addresses]
            for r in rts:
                if r.get("protocol") in ("kernel", "ra", "redirect") or r.get("type") not in (None, "unicast"):
                    continue
                on_peer = peer is not None and r.get("oif") == peer["index"]
                if not on_peer and r["dst"] != "default":
                    continue
                dev = by_index.get(r.get("oif"))
                routes.append({"dest": planner.normalize_dest(r["dst"]), "via": r.get("gateway"),
                               "dev": dev["ifname"] if dev else None, "family": 6 if r["family"] == "inet6" else 4,
                               "metric": r.get("metric")})
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
        if target.get("path") and any(":" in a for a in entry.get("addresses") or []):
            intact = bool(host and peer and host.get("peer_index") == peer["index"])
            ipv6 = self.ipv6_enabled(target, entry["ifname"], intact)
        return {"host": host, "stale": stale, "taken": taken, "peer": peer, "bridge": bridge,
                "addresses": addresses, "routes": routes, "ipv6": ipv6}
