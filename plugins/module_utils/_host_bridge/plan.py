# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host bridge planner: live facts + wanted state -> ordered steps + before/after facts.

Pure functions on plain data (no kernel): unit-tested on dicts.

``plan(facts, want)`` -> ``{'steps', 'before', 'after', 'facts_after', 'uplink', 'migrated', 'probe',
    'default_gateway'}`` (the gateway of the bridge's IPv4 default route as planned, or None)
    ``facts`` as ``facts.facts_from_dump`` makes them; ``want`` the validated module options
    (see ``host_bridge``); ``steps`` a list of ``_transaction`` steps, each with its undo;
    ``before``/``after`` are ``facts.diff_view``s of the facts now and as planned; ``probe`` the
    ``_kernel.reachability.probe_any`` targets. Raises ``PlanError`` for a request that cannot be
    met (unknown uplink, port of another bridge, gateway off every subnet...).
``uplink_of_bridge(facts, name)`` -> the one port of bridge ``name`` that can be its uplink (not a
    labelled attachment; a non-veth port first), ``None`` without one; ``PlanError`` when several
    could be. ``lan_info`` reports a bridge's uplink with it.

Order of a migration (keeps the host's address, MAC and TCP connections):
create the bridge with the uplink's MAC and MTU, bring it up, enslave the uplink (from now on
frames arrive through the bridge, which owns the same MAC, and the address is still local),
add the uplink's addresses to the bridge, move the routes in place (``replace``: the default
route never disappears), and only then delete the addresses from the uplink.
"""

import copy
import ipaddress

from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.facts import (
    apply_step, cidr, default_routes, diff_view, global_addresses, movable_routes, ports, route_view,
)
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.ownership import check_absent, check_present
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.steps import (
    add_address_step, delete_address_step, replace_route_step, set_link_step,
)
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.codec import broadcast, describe_route
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.constants import MAIN_TABLE
from ansible_collections.lanbridge.core.plugins.module_utils._transaction import step as _step
from ansible_collections.lanbridge.core.plugins.module_utils._validate import check_gateway, subnet_of
from ansible_collections.lanbridge.core.plugins.module_utils._labels import BRIDGE as BRIDGE_LABEL, PREFIX as LABEL_PREFIX
from ansible_collections.lanbridge.core.plugins.module_utils._errors import PlanError, ValidationError

IPV6_DEFAULT_METRIC = 1024


class _Plan:
    """Steps appended one by one; each is simulated at once, so later decisions see earlier ones."""

    def __init__(self, facts):
        self.facts = copy.deepcopy(facts)
        self.steps = []

    def add(self, step):
        if step is not None:
            self.steps.append(step)
            apply_step(self.facts, step)


# -- uplink ---------------------------------------------------------------------------------

def known_nics(facts, bridge):
    return sorted(n for n, link in facts["links"].items()
                  if n not in ("lo", bridge) and link["kind"] != "bridge")


def uplink_of_bridge(facts, name):
    """The port of bridge ``name`` that is its uplink (see the module docstring)."""
    candidates = [p for p in ports(facts, name) if not (facts["links"][p]["ifalias"] or "").startswith(LABEL_PREFIX)]
    not_veth = [p for p in candidates if facts["links"][p]["kind"] != "veth"]
    for group in (not_veth, candidates):
        if len(group) == 1:
            return group[0]
    if candidates:
        raise PlanError("uplink auto: bridge %s has several ports that could be the uplink (%s); name one"
                        % (name, ", ".join(candidates)))
    return None


def resolve_uplink(facts, name, uplink):
    """The uplink's interface name, or ``None`` (no uplink)."""
    links = facts["links"]
    if uplink is None:
        return uplink_of_bridge(facts, name) if name in links else None
    if uplink == "auto":
        defaults = [r for r in default_routes(facts) if r.get("dev")]
        if not defaults:
            raise PlanError("uplink auto: no interface carries an IPv4 default route")
        dev = defaults[0]["dev"]
        if dev == name:
            found = uplink_of_bridge(facts, name)
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


def _move_routes(work, moves):
    """Move routes in place (``replace``): the on-link ones first (a prefix route that
    NetworkManager keeps itself for a ``noprefixroute`` address), so the gateways stay reachable
    on the new device; and each gateway route's undo puts those back first, so the way back is
    reachable too when the undo runs."""
    on_link = [(old, new) for old, new in moves if not old.get("gateway") and old["dst"] != "default"]
    others = [(old, new) for old, new in moves if (old, new) not in on_link]
    undo_links = []
    for old, new in on_link + others:
        step = replace_route_step(old, new)
        if (old, new) in others:
            step["undo"] = [dict(u) for u in undo_links] + step["undo"]
        else:
            undo_links.extend(step["undo"])
        work.add(step)


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
    label_it = check_present(facts, name, uplink, want.get("adopt"), want.get("persisted_by"))
    mac = want.get("mac") or (up["mac"] if up else None)
    mtu = want.get("mtu") or (up["mtu"] if up else None)
    stp = bool(want.get("stp"))
    delay = want.get("forward_delay")

    if bridge is None:
        work.add(_step("add_bridge", "add bridge %s" % name, undo=[_step("delete_link", "delete bridge %s" % name, link=name)],
                       name=name, stp=stp, forward_delay=delay, mtu=mtu, mac=mac))
        work.add(_step("set_link", "label %s %s" % (name, BRIDGE_LABEL), link=name, ifalias=BRIDGE_LABEL))
    else:
        if label_it:
            work.add(set_link_step(name, bridge, ifalias=BRIDGE_LABEL))
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
            addr = dict(wanted, broadcast=broadcast(wanted["address"], wanted["prefixlen"]), flags=[], valid_lft=None, preferred_lft=None)
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
        moves = []
        for route in movable_routes(facts, uplink):
            new = dict(route, dev=name)
            if gateway and route["dst"] == "default" and route["family"] == gw_family \
                    and (route.get("table") or MAIN_TABLE) == MAIN_TABLE:
                new["gateway"] = gateway
            moves.append((route, new))
            migrated["routes"].append(route_view(route))
        _move_routes(work, moves)
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
                work.add(_step("add_route", "add route %s" % describe_route(route),
                               undo=[_step("delete_route", "delete route %s" % describe_route(route), route=route)],
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
    check_absent(facts, name, want.get("adopt"), want.get("persisted_by"))
    uplink = want.get("uplink")
    uplink = uplink_of_bridge(facts, name) if uplink in (None, "auto") else resolve_uplink(facts, name, uplink)
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
        _move_routes(work, [(route, dict(route, dev=uplink)) for route in routes])
        migrated["routes"].extend(route_view(route) for route in routes)
    else:
        for route in routes:
            work.add(_step("delete_route", "delete route %s" % describe_route(route),
                           undo=[_step("add_route", "add route %s" % describe_route(route), route=dict(route))],
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


def _default_gateway(facts, name):
    """The gateway of the bridge's IPv4 default route (main table, lowest metric), or None."""
    for route in default_routes(facts):
        if route.get("dev") == name and route.get("gateway"):
            return route["gateway"]
    return None


def check_lan_addresses(facts, want):
    """``lan_addresses`` (the containers' addresses on this bridge's LAN) against the bridge's own
    addresses as planned: each must lie on a subnet of one of them (or in ``allowed_networks``) and
    none may be the host's own. Raises ``PlanError`` naming every address that does not fit."""
    wanted = want.get("lan_addresses") or []
    if not wanted:
        return
    name = want["name"]
    own = [ipaddress.ip_interface(cidr(a)) for a in global_addresses(facts, name)]
    allowed = [ipaddress.ip_network(n, strict=False) for n in want.get("allowed_networks") or []]
    networks = []
    for network in [i.network for i in own] + allowed:
        if network not in networks:
            networks.append(network)
    problems = []
    for text in wanted:
        iface = ipaddress.ip_interface(text)
        if any(iface.ip == i.ip for i in own):
            problems.append("%s is the host's own address on %s" % (text, name))
        elif not any(iface.ip in n for n in networks if n.version == iface.version):
            problems.append("%s is not on a subnet of %s (%s)%s" % (
                text, name, ", ".join(str(n) for n in networks if n.version == iface.version) or "no IPv%d address"
                % iface.version, "" if allowed else "; list its network in allowed_networks (container_lan_allowed_networks in the role) if that is intended"))
    if problems:
        raise PlanError("lan_addresses: " + "; ".join(problems) + "; nothing was changed")


def plan(facts, want):
    """Plan ``want`` (validated module options) against ``facts`` (see the module docstring)."""
    work = _Plan(facts)
    if want.get("state", "present") == "absent":
        uplink, migrated = _plan_absent(facts, want, work)
    else:
        uplink, migrated = _plan_present(facts, want, work)
        check_lan_addresses(work.facts, want)
    return {
        "default_gateway": _default_gateway(work.facts, want["name"]),
        "steps": work.steps,
        "before": diff_view(facts, want["name"], uplink),
        "after": diff_view(work.facts, want["name"], uplink),
        "facts_after": work.facts,
        "uplink": uplink,
        "migrated": migrated if work.steps else {"addresses": [], "routes": []},
        "probe": _probe_targets(work.facts, want),
    }
