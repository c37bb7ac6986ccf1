# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The facts ``host_bridge`` plans from, and the views it reports: pure functions on plain data.

``facts_from_dump(dump)``
    ``_kernel.netlink.Netlink.dump()`` -> ``{'links': {ifname: {...}}, 'addresses': [...],
    'routes': [...]}`` with interface *names* instead of indexes (``master``, ``dev``, each
    nexthop's ``dev``), so plans and facts read well.
``apply_step(facts, step)`` changes ``facts`` as ``step`` will change the kernel: the planner
    plans each step against the facts its earlier steps leave, and check mode reports them.
``view(facts, name, uplink)`` -> ``{'bridge': {...}, 'uplink': {...}}``, the facts the module
    reports; ``diff_view`` the same without the ifindex (the diff's before/after).
"""

import ipaddress

from ansible_collections.lanbridge.core.plugins.module_utils._kernel.constants import LOCAL_TABLE, MAIN_TABLE

DEFAULT_FORWARD_DELAY = 15
DEFAULT_BRIDGE_MTU = 1500


def facts_from_dump(dump):
    names = dict((link["index"], link["ifname"]) for link in dump["links"])
    links = {}
    for link in dump["links"]:
        links[link["ifname"]] = {
            "index": link["index"],
            "kind": link["kind"],
            "master": names.get(link["master"]) if link["master"] else None,
            "mac": link["mac"],
            "mtu": link["mtu"],
            "up": link["up"],
            "stp": None if link["stp_state"] is None else bool(link["stp_state"]),
            "forward_delay": link["forward_delay"],
            "ifalias": link["ifalias"],
        }
    addresses = []
    for addr in dump["addresses"]:
        entry = dict((k, v) for k, v in addr.items() if k not in ("index", "label"))
        entry["ifname"] = names.get(addr["index"])
        addresses.append(entry)
    routes = []
    for route in dump["routes"]:
        entry = dict((k, v) for k, v in route.items() if k != "oif")
        entry["dev"] = names.get(route["oif"]) if route["oif"] else None
        if route.get("nexthops"):
            entry["nexthops"] = [_named_hop(hop, names) for hop in route["nexthops"]]
        routes.append(entry)
    return {"links": links, "addresses": addresses, "routes": routes}


def _named_hop(hop, names):
    named = dict((k, v) for k, v in hop.items() if k != "oif")
    named["dev"] = names.get(hop["oif"]) if hop.get("oif") else hop.get("dev")
    return named


def cidr(addr):
    return "%s/%s" % (addr["address"], addr["prefixlen"])


def global_addresses(facts, ifname):
    return [a for a in facts["addresses"] if a["ifname"] == ifname and a["scope"] == "global"]


def _route_key(route):
    return (route["family"], route["dst"], route.get("src"), route.get("table") or MAIN_TABLE, route.get("metric"))


def uses(route, ifname):
    """Whether ``route`` goes out through ``ifname``: its device, or the device of one of its nexthops."""
    if route.get("nexthops"):
        return any(hop.get("dev") == ifname for hop in route["nexthops"])
    return route.get("dev") == ifname


def movable_routes(facts, ifname):
    """Routes that belong to whoever configured ``ifname`` (not the kernel's own), multipath routes
    with a nexthop through it included. Each multipath route is given with ``dev`` = ``ifname``
    (the device it is moved from), so ``dict(route, dev=other)`` asks to move those nexthops to
    ``other`` (``steps.replace_route_step`` does, the others stay)."""
    found = []
    for route in facts["routes"]:
        if not uses(route, ifname) or (route.get("protocol") == "kernel" and kernels_own(facts, route, ifname)):
            continue
        if route.get("table") == LOCAL_TABLE or route.get("type") not in (None, "unicast"):
            continue
        if route["dst"] != "default" and ipaddress.ip_network(route["dst"], strict=False).is_multicast:
            continue
        found.append(dict(route, dev=ifname) if route.get("nexthops") else route)
    return found


def kernels_own(facts, route, ifname):
    """Whether a ``proto kernel`` route is one the kernel keeps by itself: the prefix route of an
    address of ``ifname`` added without ``noprefixroute``, or a link-local route. NetworkManager adds
    its addresses with ``noprefixroute`` and the prefix routes itself (``proto kernel metric 100``):
    those are its configuration and move with the addresses."""
    if route["dst"] == "default":
        return False
    network = ipaddress.ip_network(route["dst"], strict=False)
    if network.is_link_local:
        return True
    for addr in facts["addresses"]:
        if addr["ifname"] == ifname and "noprefixroute" not in (addr.get("flags") or ()):
            if ipaddress.ip_interface(cidr(addr)).network == network:
                return True
    return not any(addr["ifname"] == ifname and ipaddress.ip_interface(cidr(addr)).network == network
                   for addr in facts["addresses"])


def default_routes(facts, family="inet", table=MAIN_TABLE):
    found = [r for r in facts["routes"] if r["family"] == family and r["dst"] == "default"
             and (r.get("table") or MAIN_TABLE) == table and r.get("type") in (None, "unicast")]
    return sorted(found, key=lambda r: r.get("metric") or 0)


def ports(facts, name):
    return sorted(n for n, link in facts["links"].items() if link["master"] == name)


def _route_order(view):
    return (view["family"], view["table"], view["dst"] != "default", view["dst"], view["metric"] or 0)


def _views(routes):
    return sorted((route_view(r) for r in routes), key=_route_order)


def _cidrs(addresses):
    """CIDRs, IPv4 first, each family in the kernel's order (primary before secondary)."""
    return [cidr(a) for a in sorted(addresses, key=lambda a: a["family"] != "inet")]


# what a route may carry besides the plain keys, reported only where the route has it (its expiry
# is left out: it ticks, and check mode and the real run would never agree)
EXTRA_ROUTE_KEYS = ("onlink", "metrics", "src", "nexthops", "pref")


def route_view(route):
    found = {
        "family": route["family"], "dst": route["dst"], "gateway": route.get("gateway"),
        "metric": route.get("metric"), "table": route.get("table") or MAIN_TABLE,
        "protocol": route.get("protocol"), "scope": route.get("scope"),
    }
    for key in EXTRA_ROUTE_KEYS:
        if route.get(key):
            found[key] = route[key]
    if route.get("nexthops"):
        found["nexthops"] = [{"gateway": h.get("gateway"), "dev": h.get("dev"), "weight": h.get("weight") or 1,
                              "onlink": bool(h.get("onlink"))} for h in route["nexthops"]]
    return found


def view(facts, name, uplink=None):
    link = facts["links"].get(name)
    if link is None:
        bridge = {"name": name, "index": None, "state": "absent", "mac": None, "mtu": None, "stp": None,
                  "forward_delay": None, "label": None, "ports": [], "addresses": [], "routes": []}
    else:
        bridge = {
            "name": name, "index": link.get("index"), "state": "up" if link["up"] else "down",
            "mac": link["mac"], "mtu": link["mtu"], "stp": link["stp"], "forward_delay": link["forward_delay"],
            "label": link.get("ifalias"),
            "ports": ports(facts, name),
            "addresses": _cidrs(global_addresses(facts, name)),
            "routes": _views(movable_routes(facts, name)),
        }
    result = {"bridge": bridge, "uplink": None}
    if uplink and uplink in facts["links"]:
        up = facts["links"][uplink]
        result["uplink"] = {
            "name": uplink, "master": up["master"], "mac": up["mac"], "mtu": up["mtu"],
            "addresses": _cidrs(global_addresses(facts, uplink)),
            "routes": _views(movable_routes(facts, uplink)),
        }
    return result


def diff_view(facts, name, uplink=None):
    """``view`` without what only the kernel can know (the ifindex): the diff's before/after."""
    result = view(facts, name, uplink)
    result["bridge"] = dict(result["bridge"])
    result["bridge"].pop("index")
    return result


# -- what a step does to the facts ---------------------------------------------------------

def _sim_add_bridge(facts, args):
    facts["links"][args["name"]] = {
        "index": None, "kind": "bridge", "master": None, "mac": args.get("mac"),
        "mtu": args.get("mtu") or DEFAULT_BRIDGE_MTU, "up": False, "stp": bool(args.get("stp")),
        "forward_delay": DEFAULT_FORWARD_DELAY if args.get("forward_delay") is None else args["forward_delay"],
        "ifalias": None,
    }


def _sim_set_bridge(facts, args):
    link = facts["links"][args["link"]]
    if args.get("stp") is not None:
        link["stp"] = bool(args["stp"])
    if args.get("forward_delay") is not None:
        link["forward_delay"] = args["forward_delay"]


def _sim_set_link(facts, args):
    link = facts["links"][args["link"]]
    if args.get("master") is not None:
        link["master"] = args["master"] or None
    for key in ("mtu", "mac", "up"):
        if args.get(key) is not None:
            link[key] = args[key]
    if args.get("ifalias") is not None:
        link["ifalias"] = args["ifalias"] or None


def _sim_delete_link(facts, args):
    name = args["link"]
    facts["links"].pop(name, None)
    for link in facts["links"].values():
        if link["master"] == name:
            link["master"] = None
    facts["addresses"] = [a for a in facts["addresses"] if a["ifname"] != name]
    kept = []
    for route in facts["routes"]:
        if route.get("nexthops"):
            hops = [h for h in route["nexthops"] if h.get("dev") != name]
            if hops:
                kept.append(dict(route, nexthops=hops))
        elif route.get("dev") != name:
            kept.append(route)
    facts["routes"] = kept


def _sim_add_address(facts, args):
    facts["addresses"].append({
        "ifname": args["link"], "family": "inet6" if ":" in args["address"] else "inet",
        "address": args["address"], "prefixlen": args["prefixlen"], "broadcast": args.get("broadcast"),
        "scope": "global", "flags": list(args.get("flags") or []), "valid_lft": args.get("valid_lft"),
        "preferred_lft": args.get("preferred_lft"),
    })


def _sim_delete_address(facts, args):
    facts["addresses"] = [a for a in facts["addresses"] if not (
        a["ifname"] == args["link"] and a["address"] == args["address"] and a["prefixlen"] == args["prefixlen"])]


def _sim_delete_route(facts, args):
    key = _route_key(args["route"])
    facts["routes"] = [r for r in facts["routes"] if _route_key(r) != key]


def _sim_add_route(facts, args):
    facts["routes"].append(dict(args["route"]))


def _sim_replace_route(facts, args):
    _sim_delete_route(facts, args)
    _sim_add_route(facts, args)


_SIMULATE = {
    "add_bridge": _sim_add_bridge, "set_bridge": _sim_set_bridge, "set_link": _sim_set_link,
    "delete_link": _sim_delete_link, "add_address": _sim_add_address, "delete_address": _sim_delete_address,
    "add_route": _sim_add_route, "replace_route": _sim_replace_route, "delete_route": _sim_delete_route,
}


def apply_step(facts, step):
    """Change ``facts`` in place as ``step`` changes the kernel."""
    _SIMULATE[step["op"]](facts, step["args"])
