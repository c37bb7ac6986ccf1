# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host bridge planner: live facts + wanted state -> ordered steps + before/after facts.

Pure functions on plain data (no pyroute2, no kernel): unit-tested on dicts.

``facts_from_dump(dump)``
    ``_netlink.Netlink.dump()`` -> ``{'links': {ifname: {...}}, 'addresses': [...], 'routes': [...]}``
    with interface *names* instead of indexes (``master``, ``dev``), so plans and facts read well.
``plan(facts, want)`` -> ``{'steps', 'before', 'after', 'uplink', 'migrated', 'probe'}``
    ``want`` is the validated module options (see ``host_bridge``); ``steps`` is a list of
    ``{'op', 'args', 'undo': [steps], 'text'}`` where ``op`` names a ``Netlink`` method and
    ``undo`` the steps that reverse it, computed now from the live facts; ``before``/``after``
    are ``view()``s of the facts now and as planned; ``probe`` the ``_probe.probe_any`` targets.
    Raises ``PlanError`` for a request that cannot be met (unknown uplink, port of another bridge,
    gateway off every subnet...).
``simulate(facts, steps)`` -> the facts after the steps (what check mode reports).
``view(facts, name, uplink)`` -> ``{'bridge': {...}, 'uplink': {...}}``, the facts the module reports.

Order of a migration (keeps the host's address, MAC and TCP connections):
create the bridge with the uplink's MAC and MTU, bring it up, enslave the uplink (from now on
frames arrive through the bridge, which owns the same MAC, and the address is still local),
add the uplink's addresses to the bridge, move the routes in place (``replace``: the default
route never disappears), and only then delete the addresses from the uplink.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import ipaddress

from ansible_collections.lanbridge.core.plugins.module_utils._validate import ValidationError, check_gateway, subnet_of

LABEL_PREFIX = "lanbridge:"
MAIN_TABLE = 254
LOCAL_TABLE = 255
DEFAULT_FORWARD_DELAY = 15
DEFAULT_BRIDGE_MTU = 1500
IPV6_DEFAULT_METRIC = 1024
# address flags that are the kernel's state, not something a caller sets
KERNEL_ADDRESS_FLAGS = ("permanent", "secondary", "tentative", "deprecated", "dadfailed")


class PlanError(Exception):
    """A request that cannot be met on this host, in one sentence."""


# -- facts ----------------------------------------------------------------------------------

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
        routes.append(entry)
    return {"links": links, "addresses": addresses, "routes": routes}


def cidr(addr):
    return "%s/%s" % (addr["address"], addr["prefixlen"])


def global_addresses(facts, ifname):
    return [a for a in facts["addresses"] if a["ifname"] == ifname and a["scope"] == "global"]


def _route_key(route):
    return (route["family"], route["dst"], route.get("table") or MAIN_TABLE, route.get("metric"))


def movable_routes(facts, ifname):
    """Routes that belong to whoever configured ``ifname`` (not the kernel's own)."""
    found = []
    for route in facts["routes"]:
        if route.get("dev") != ifname or route.get("protocol") == "kernel":
            continue
        if route.get("table") == LOCAL_TABLE or route.get("type") not in (None, "unicast"):
            continue
        if route["dst"] != "default" and ipaddress.ip_network(route["dst"], strict=False).is_multicast:
            continue
        found.append(route)
    return found


def ports(facts, name):
    return sorted(n for n, link in facts["links"].items() if link["master"] == name)


def _route_order(view):
    return (view["family"], view["table"], view["dst"] != "default", view["dst"], view["metric"] or 0)


def _views(routes):
    return sorted((route_view(r) for r in routes), key=_route_order)


def _cidrs(addresses):
    """CIDRs, IPv4 first, each family in the kernel's order (primary before secondary)."""
    return [cidr(a) for a in sorted(addresses, key=lambda a: a["family"] != "inet")]


def route_view(route):
    return {
        "family": route["family"], "dst": route["dst"], "gateway": route.get("gateway"),
        "metric": route.get("metric"), "table": route.get("table") or MAIN_TABLE,
        "protocol": route.get("protocol"), "scope": route.get("scope"),
    }


def view(facts, name, uplink=None):
    link = facts["links"].get(name)
    if link is None:
        bridge = {"name": name, "index": None, "state": "absent", "mac": None, "mtu": None, "stp": None,
                  "forward_delay": None, "ports": [], "addresses": [], "routes": []}
    else:
        bridge = {
            "name": name, "index": link.get("index"), "state": "up" if link["up"] else "down",
            "mac": link["mac"], "mtu": link["mtu"], "stp": link["stp"], "forward_delay": link["forward_delay"],
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


# -- simulation -----------------------------------------------------------------------------

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


def _sim_delete_link(facts, args):
    name = args["link"]
    facts["links"].pop(name, None)
    for link in facts["links"].values():
        if link["master"] == name:
            link["master"] = None
    facts["addresses"] = [a for a in facts["addresses"] if a["ifname"] != name]
    facts["routes"] = [r for r in facts["routes"] if r.get("dev") != name]


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


def simulate(facts, steps):
    result = copy.deepcopy(facts)
    for step in steps:
        _SIMULATE[step["op"]](result, step["args"])
    return result


# -- steps ----------------------------------------------------------------------------------

def _step(op, text, undo=(), **args):
    return {"op": op, "args": args, "undo": list(undo), "text": text}


def _describe_route(route):
    text = route["dst"]
    if route.get("gateway"):
        text += " via %s" % route["gateway"]
    if route.get("dev"):
        text += " dev %s" % route["dev"]
    if route.get("table") not in (None, MAIN_TABLE):
        text += " table %s" % route["table"]
    if route.get("metric") is not None:
        text += " metric %s" % route["metric"]
    return text


def _address_args(addr, link):
    flags = [f for f in addr.get("flags") or [] if f not in KERNEL_ADDRESS_FLAGS]
    return dict(link=link, address=addr["address"], prefixlen=addr["prefixlen"], broadcast=addr.get("broadcast"),
                flags=flags, valid_lft=addr.get("valid_lft"), preferred_lft=addr.get("preferred_lft"))


def add_address_step(addr, link):
    args = _address_args(addr, link)
    return _step("add_address", "add address %s/%s to %s" % (addr["address"], addr["prefixlen"], link),
                 undo=[_step("delete_address", "delete address %s/%s from %s" % (addr["address"], addr["prefixlen"], link),
                             link=link, address=addr["address"], prefixlen=addr["prefixlen"])], **args)


def delete_address_step(addr, link):
    undo = add_address_step(addr, link)
    undo["undo"] = []
    return _step("delete_address", "delete address %s/%s from %s" % (addr["address"], addr["prefixlen"], link),
                 undo=[undo], link=link, address=addr["address"], prefixlen=addr["prefixlen"])


def replace_route_step(old, new):
    return _step("replace_route", "move route %s to %s" % (_describe_route(old), _describe_route(new)),
                 undo=[_step("replace_route", "put back route %s" % _describe_route(old), route=dict(old))],
                 route=dict(new))


def set_link_step(name, current, **changes):
    """``set_link`` for the changed attributes only; ``current`` is the link's facts (for the undo).

    One attribute per step, so a step either happened or not and its undo is exact."""
    wanted = dict((k, v) for k, v in changes.items() if v is not None and current.get(k) != v)
    if not wanted:
        return None
    back = {}
    for key in wanted:
        old = current.get(key)
        back[key] = (old or 0) if key == "master" else old
    shown = ["%s %s" % (k, "nomaster" if k == "master" and not v else v) for k, v in sorted(wanted.items())]
    text = "set %s %s" % (name, ", ".join(shown))
    undo_text = "set %s %s" % (name, ", ".join("%s %s" % (k, v) for k, v in sorted(back.items())))
    return _step("set_link", text, undo=[_step("set_link", undo_text, link=name, **back)], link=name, **wanted)


class _Plan:
    """Steps appended one by one; each is simulated at once, so later decisions see earlier ones."""

    def __init__(self, facts):
        self.facts = copy.deepcopy(facts)
        self.steps = []

    def add(self, step):
        if step is not None:
            self.steps.append(step)
            _SIMULATE[step["op"]](self.facts, step["args"])


# -- uplink ---------------------------------------------------------------------------------

def known_nics(facts, bridge):
    return sorted(n for n, link in facts["links"].items()
                  if n not in ("lo", bridge) and link["kind"] != "bridge")


def _uplink_of_bridge(facts, name):
    candidates = [p for p in ports(facts, name) if not (facts["links"][p]["ifalias"] or "").startswith(LABEL_PREFIX)]
    not_veth = [p for p in candidates if facts["links"][p]["kind"] != "veth"]
    for group in (not_veth, candidates):
        if len(group) == 1:
            return group[0]
    if candidates:
        raise PlanError("uplink auto: bridge %s has several ports that could be the uplink (%s); name one"
                        % (name, ", ".join(candidates)))
    return None


def default_routes(facts, family="inet", table=MAIN_TABLE):
    found = [r for r in facts["routes"] if r["family"] == family and r["dst"] == "default"
             and (r.get("table") or MAIN_TABLE) == table and r.get("type") in (None, "unicast")]
    return sorted(found, key=lambda r: r.get("metric") or 0)


def resolve_uplink(facts, name, uplink):
    """The uplink's interface name, or ``None`` (no uplink)."""
    links = facts["links"]
    if uplink is None:
        return _uplink_of_bridge(facts, name) if name in links else None
    if uplink == "auto":
        defaults = [r for r in default_routes(facts) if r.get("dev")]
        if not defaults:
            raise PlanError("uplink auto: no interface carries an IPv4 default route")
        dev = defaults[0]["dev"]
        if dev == name:
            found = _uplink_of_bridge(facts, name)
            if found is None:
                raise PlanError("uplink auto: the default route is via %s, which has no port that could be the uplink"
                                % name)
            return found
        return dev
    if ":" in uplink:
        mac = uplink.lower()
        matches = [n for n, link in links.items() if (link["mac"] or "").lower() == mac and link["kind"] != "bridge"
                   and n != "lo"]
        if not matches:
            raise PlanError("uplink %s: no interface has this MAC (known NICs: %s)"
                            % (mac, ", ".join(known_nics(facts, name)) or "none"))
        plain = [n for n in matches if links[n]["kind"] is None]
        return sorted(plain or matches)[0]
    if uplink not in links:
        raise PlanError("uplink %s does not exist (known NICs: %s)" % (uplink, ", ".join(known_nics(facts, name)) or "none"))
    return uplink


def _check_uplink(facts, name, uplink):
    link = facts["links"][uplink]
    if uplink == name:
        raise PlanError("uplink %s is the bridge itself" % uplink)
    if uplink == "lo":
        raise PlanError("uplink lo is the loopback interface")
    if link["kind"] == "bridge":
        raise PlanError("uplink %s is a bridge, not a NIC" % uplink)
    if link["master"] and link["master"] != name:
        master = facts["links"].get(link["master"], {})
        what = "bridge" if master.get("kind") == "bridge" else master.get("kind") or "device"
        raise PlanError("uplink %s is already a port of %s %s" % (uplink, what, link["master"]))


# -- planning -------------------------------------------------------------------------------

def _broadcast(address):
    iface = ipaddress.ip_interface("%s/%s" % (address["address"], address["prefixlen"]))
    if iface.version == 4 and iface.network.prefixlen < 31:
        return str(iface.network.broadcast_address)
    return None


def _probe_targets(facts, want):
    if want.get("probe") is not None:
        addresses = list(want["probe"])
    else:
        addresses = [r["gateway"] for fam in ("inet", "inet6") for r in default_routes(facts, fam) if r.get("gateway")]
    targets = []
    for address in addresses:
        target = {"address": address}
        for ifname, link in sorted(facts["links"].items()):
            if ":" in address or not link["up"]:
                continue
            cidrs = [cidr(a) for a in global_addresses(facts, ifname) if a["family"] == "inet"]
            found = subnet_of(address, cidrs)
            if found:
                target.update(ifname=ifname, sender=found.split("/")[0])
                break
        targets.append(target)
    return targets


def _plan_present(facts, want, work):
    name = want["name"]
    bridge = facts["links"].get(name)
    if bridge is not None and bridge["kind"] != "bridge":
        raise PlanError("%s exists and is a %s, not a bridge" % (name, bridge["kind"] or "NIC"))
    uplink = resolve_uplink(facts, name, want.get("uplink"))
    up = None
    if uplink:
        _check_uplink(facts, name, uplink)
        up = facts["links"][uplink]
    mac = want.get("mac") or (up["mac"] if up else None)
    mtu = want.get("mtu") or (up["mtu"] if up else None)
    stp = bool(want.get("stp"))
    delay = want.get("forward_delay")

    if bridge is None:
        work.add(_step("add_bridge", "add bridge %s" % name, undo=[_step("delete_link", "delete bridge %s" % name, link=name)],
                       name=name, stp=stp, forward_delay=delay, mtu=mtu, mac=mac))
    else:
        changes = {}
        if bool(bridge["stp"]) != stp:
            changes["stp"] = stp
        if delay is not None and bridge["forward_delay"] != delay:
            changes["forward_delay"] = delay
        if changes:
            back = {"stp": bridge["stp"]} if "stp" in changes else {}
            if "forward_delay" in changes:
                back["forward_delay"] = bridge["forward_delay"]
            text = "set bridge %s %s" % (name, ", ".join("%s %s" % kv for kv in sorted(changes.items())))
            work.add(_step("set_bridge", text, undo=[_step("set_bridge", "set bridge %s back" % name, link=name, **back)],
                           link=name, **changes))
        work.add(set_link_step(name, bridge, mtu=mtu))
        work.add(set_link_step(name, bridge, mac=mac))
    if up is not None and want.get("mtu") and up["mtu"] != want["mtu"]:
        work.add(set_link_step(uplink, up, mtu=want["mtu"]))
    work.add(set_link_step(name, work.facts["links"][name], up=True))
    if up is not None:
        work.add(set_link_step(uplink, up, master=name))
        work.add(set_link_step(uplink, work.facts["links"][uplink], up=True))

    migrated = {"addresses": [], "routes": []}
    moving = global_addresses(facts, uplink) if (uplink and want.get("migrate", True)) else []
    present = set(cidr(a) for a in global_addresses(work.facts, name))
    for addr in moving:
        if cidr(addr) not in present:
            work.add(add_address_step(addr, name))
            present.add(cidr(addr))
        migrated["addresses"].append(cidr(addr))
    for wanted in want.get("addresses") or []:
        if wanted["cidr"] not in present:
            addr = dict(wanted, broadcast=_broadcast(wanted), flags=[], valid_lft=None, preferred_lft=None)
            work.add(add_address_step(addr, name))
            present.add(wanted["cidr"])

    gateway = want.get("gateway")
    if gateway:
        try:
            check_gateway(gateway, sorted(present), name)
        except ValidationError as exc:
            raise PlanError(str(exc)) from None
    gw_family = ("inet6" if ":" in gateway else "inet") if gateway else None
    if uplink and want.get("migrate", True):
        for route in movable_routes(facts, uplink):
            new = dict(route, dev=name)
            if gateway and route["dst"] == "default" and route["family"] == gw_family \
                    and (route.get("table") or MAIN_TABLE) == MAIN_TABLE:
                new["gateway"] = gateway
            work.add(replace_route_step(route, new))
            migrated["routes"].append(route_view(route))
    if gateway:
        defaults = default_routes(work.facts, gw_family)
        if not any(r.get("dev") == name and r.get("gateway") == gateway for r in defaults):
            if defaults:
                old = defaults[0]
                work.add(replace_route_step(old, dict(old, dev=name, gateway=gateway, prefsrc=None)))
            else:
                route = {"family": gw_family, "dst": "default", "gateway": gateway, "dev": name, "table": MAIN_TABLE,
                         "metric": IPV6_DEFAULT_METRIC if gw_family == "inet6" else None, "protocol": "static",
                         "scope": "global", "type": "unicast", "prefsrc": None}
                work.add(_step("add_route", "add route %s" % _describe_route(route),
                               undo=[_step("delete_route", "delete route %s" % _describe_route(route), route=route)],
                               route=route))
    # secondaries first: deleting a primary IPv4 address takes its secondaries with it
    for addr in sorted(moving, key=lambda a: "secondary" not in a["flags"]):
        work.add(delete_address_step(addr, uplink))
    return uplink, migrated


def _plan_absent(facts, want, work):
    name = want["name"]
    bridge = facts["links"].get(name)
    migrated = {"addresses": [], "routes": []}
    if bridge is None:
        return None, migrated
    if bridge["kind"] != "bridge":
        raise PlanError("%s exists and is a %s, not a bridge" % (name, bridge["kind"] or "NIC"))
    uplink = want.get("uplink")
    uplink = _uplink_of_bridge(facts, name) if uplink in (None, "auto") else resolve_uplink(facts, name, uplink)
    if uplink and facts["links"][uplink]["master"] != name:
        raise PlanError("uplink %s is not a port of bridge %s" % (uplink, name))
    addresses = global_addresses(facts, name)
    routes = movable_routes(facts, name)
    if uplink and want.get("migrate", True):
        present = set(cidr(a) for a in global_addresses(facts, uplink))
        for addr in addresses:
            if cidr(addr) not in present:
                work.add(add_address_step(addr, uplink))
            migrated["addresses"].append(cidr(addr))
        for route in routes:
            work.add(replace_route_step(route, dict(route, dev=uplink)))
            migrated["routes"].append(route_view(route))
    else:
        for route in routes:
            work.add(_step("delete_route", "delete route %s" % _describe_route(route),
                           undo=[_step("add_route", "add route %s" % _describe_route(route), route=dict(route))],
                           route=dict(route)))
    for addr in sorted(addresses, key=lambda a: "secondary" not in a["flags"]):
        work.add(delete_address_step(addr, name))
    for port in ports(facts, name):
        work.add(set_link_step(port, facts["links"][port], master=0))
    recreate = [_step("add_bridge", "add bridge %s" % name, name=name, stp=bridge["stp"],
                      forward_delay=bridge["forward_delay"], mtu=bridge["mtu"], mac=bridge["mac"])]
    if bridge["up"]:
        recreate.append(_step("set_link", "set %s up" % name, link=name, up=True))
    work.add(_step("delete_link", "delete bridge %s" % name, undo=recreate, link=name))
    return uplink, migrated


def plan(facts, want):
    """Plan ``want`` (validated module options) against ``facts`` (see the module docstring)."""
    work = _Plan(facts)
    if want.get("state", "present") == "absent":
        uplink, migrated = _plan_absent(facts, want, work)
    else:
        uplink, migrated = _plan_present(facts, want, work)
    return {
        "steps": work.steps,
        "before": diff_view(facts, want["name"], uplink),
        "after": diff_view(work.facts, want["name"], uplink),
        "facts_after": work.facts,
        "uplink": uplink,
        "migrated": migrated if work.steps else {"addresses": [], "routes": []},
        "probe": _probe_targets(work.facts, want) if work.steps else [],
    }
