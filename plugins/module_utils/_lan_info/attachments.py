# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each attachment of the host and its status: pure functions on plain data (no kernel, no engine).

``labelled(links)`` -> ``[(link, label)]``: the host's veths (``Netlink.links()`` dicts) whose
    ``ifalias`` ``names.parse_label`` reads.
``target_kind(identity)`` -> ``'container'``, ``'netns'`` or ``None`` (a label this version does not know).
``find_peer(host, links)`` -> the link of ``links`` (another namespace's) that is the other end of
    the host end ``host``, or ``None``: a veth at the host end's ``peer_index`` that points back.
``status(kind, state, peer)`` -> one of ``STATUSES``; ``state`` is what ``read`` found of the target:
    ``running``, ``stopped``, ``gone`` or ``unknown`` for a container, ``found`` or ``missing`` for a
    namespace.
``peer_facts(peer, dump)`` -> ``(addresses, routes)`` of a container end: CIDRs, and the codec's
    routes (``_kernel.codec``) configured through it.
``routed_facts(host, label, host_dump, peer_addresses)`` -> ``{mode, uplink, proxy}``: ``routed``, the
    uplink the label names and the uplink's proxy entries for the addresses routed to the host end
    or held by the container end, for a routed attachment's host end; else ``bridged``.
``attachment(host, label, bridge, managed, target, host_dump)`` -> the reported dict of one labelled
    veth; ``target`` as ``read.TargetReader.target`` returns it, ``host_dump`` as ``read.read_host``;
    its routes as ``container_veth``'s option names them, ``{dest, via}``
    (``_container_veth.plan.user_route``).
``foreign(link, bridge, uplink_known)`` -> the reported dict of a port of a managed bridge without the label.
"""

import ipaddress

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.names import parse_label
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.plan import user_route
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.constants import MAIN_TABLE

ATTACHED = "attached"
STOPPED = "container stopped"
GONE = "container gone"
NOT_OURS = "not ours"
NAMESPACE_GONE = "namespace gone"
STALE = "stale"
UNKNOWN = "unknown"
STATUSES = (ATTACHED, STOPPED, GONE, NOT_OURS, NAMESPACE_GONE, STALE, UNKNOWN)
# routes the kernel, router advertisements or redirects made, not whoever configured the interface
NOT_CONFIGURED = ("kernel", "ra", "redirect")


def labelled(links):
    found = []
    for link in links:
        label = parse_label(link.get("ifalias")) if link.get("kind") == "veth" else None
        if label:
            found.append((link, label))
    return found


def target_kind(identity):
    kind, _sep, value = identity.partition(":")
    if kind == "container" and value:
        return "container"
    if kind == "netns" and value.isdigit():
        return "netns"
    return None


def find_peer(host, links):
    if host.get("peer_netnsid") is None:  # the other end is in the host's own namespace, not a target's
        return None
    for link in links:
        if (link["index"] == host.get("peer_index") and link.get("kind") == "veth"
                and link.get("peer_index") == host["index"]):
            return link
    return None


def status(kind, state, peer):
    if kind == "container":
        if state == "running":
            return ATTACHED if peer else STALE
        return {"stopped": STOPPED, "gone": GONE}.get(state, UNKNOWN)
    if kind == "netns":
        if state == "found":
            return ATTACHED if peer else STALE
        return NAMESPACE_GONE
    return UNKNOWN


def _dst(route):
    if route["dst"] == "default":
        return "default"
    return str(ipaddress.ip_network(route["dst"], strict=False))


def peer_facts(peer, dump):
    """``(addresses, routes)`` of the container end ``peer`` from its namespace's dump: CIDRs
    (IPv6 link-local left out) and the configured main-table routes through it (the codec's dicts,
    ``dst`` in canonical form), defaults first, IPv4 before IPv6."""
    addresses = ["%s/%d" % (a["address"], a["prefixlen"]) for a in dump["addresses"]
                 if a["index"] == peer["index"] and not (a["family"] == "inet6" and a["scope"] == "link")]
    addresses.sort(key=lambda cidr: ":" in cidr)  # IPv4 first, each family in the kernel's order
    routes = [dict(r, dst=_dst(r)) for r in dump["routes"]
              if r.get("oif") == peer["index"] and (r.get("table") or MAIN_TABLE) == MAIN_TABLE
              and r.get("protocol") not in NOT_CONFIGURED and r.get("type") in (None, "unicast")]
    routes.sort(key=lambda r: (r["dst"] != "default", r["family"] == "inet6", r["dst"]))
    return addresses, routes


def _reason(found, kind, target, label, host):
    who = "container %s (%s)" % (label.get("name") or "?", label["id"].partition(":")[2][:12]) if kind == "container" \
        else "namespace %s (inode %s)" % (label.get("name") or "?", label["id"].partition(":")[2])
    if found == ATTACHED:
        return "%s has %s, the other end of %s" % (who, label["ifname"], host["ifname"])
    if found == STALE:
        return ("%s exists but the other end of %s is not in its network namespace (it restarted, or the end "
                "was moved); container_veth recreates the attachment on its next run" % (who, host["ifname"]))
    if found == STOPPED:
        return "%s is not running: the host end %s is stale" % (who, host["ifname"])
    if found == GONE:
        return "%s is not known to the engine: the host end %s is stale" % (who, host["ifname"])
    if found == NAMESPACE_GONE:
        return ("%s cannot be found (no name under /run/netns and no process in it): the host end %s is stale"
                % (who, host["ifname"]))
    if kind is None:
        return "the label of %s names %s, which this version does not know" % (host["ifname"], label["id"])
    return "%s: %s" % (who, target.get("error") or "its state cannot be read")


def routed_facts(host, label, host_dump, peer_addresses=()):
    uplink = label.get("uplink")
    if not uplink:
        return {"mode": "bridged", "uplink": None, "proxy": []}
    index = next((link["index"] for link in host_dump.get("links", []) if link["ifname"] == uplink), None)
    ours = set(r["dst"].partition("/")[0] for r in host_dump.get("routes", [])
               if r.get("oif") == host["index"] and r["dst"] != "default")
    ours.update(cidr.partition("/")[0] for cidr in peer_addresses)
    proxy = [n["address"] for n in host_dump.get("proxy", []) if index is not None and n["index"] == index
             and n["address"] in ours]
    return {"mode": "routed", "uplink": uplink, "proxy": sorted(proxy)}


def attachment(host, label, bridge, managed, target, host_dump=None):
    kind = target_kind(label["id"])
    target = target or {}
    dump = target.get("dump")
    peer = find_peer(host, dump["links"]) if dump else None
    found = status(kind, target.get("state"), peer)
    addresses, routes = peer_facts(peer, dump) if peer else ([], [])
    container_id = label["id"].partition(":")[2] if kind == "container" else None
    return dict(routed_facts(host, label, host_dump or {}, addresses), **{
        "host_ifname": host["ifname"], "kind": host.get("kind"), "host_mac": host.get("mac"), "mtu": host.get("mtu"),
        "bridge": bridge, "bridge_managed": bridge in managed if bridge else False,
        "identity": label["id"], "container_id": container_id,
        "container_name": target.get("container_name") or label.get("name"),
        "pid": target.get("pid") if found in (ATTACHED, STALE) else None,
        "netns": target.get("netns") if found in (ATTACHED, STALE) else None,
        "ifname": label["ifname"], "peer_ifname": peer["ifname"] if peer else None,
        "mac": peer.get("mac") if peer else None, "addresses": addresses, "routes": [user_route(r) for r in routes],
        "status": found, "reason": _reason(found, kind, target, label, host),
    })


def foreign(link, bridge, uplink_known=True):
    why = "it is not its uplink" if uplink_known else "the bridge's uplink is not known"
    return {
        "host_ifname": link["ifname"], "kind": link.get("kind"), "host_mac": link.get("mac"), "mtu": link.get("mtu"),
        "bridge": bridge, "bridge_managed": True, "identity": None, "container_id": None, "container_name": None,
        "pid": None, "netns": None, "ifname": None, "peer_ifname": None, "mac": None, "addresses": [], "routes": [],
        "mode": "bridged", "uplink": None, "proxy": [], "status": NOT_OURS,
        "reason": "%s is a port of %s without container_veth's label; %s" % (link["ifname"], bridge, why),
    }


def order(entry):
    return (entry["bridge"] or "", entry["status"] == NOT_OURS, entry["container_name"] or "", entry["ifname"] or "",
            entry["host_ifname"])
