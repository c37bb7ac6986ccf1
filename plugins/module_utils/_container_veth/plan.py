# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner of ``container_veth``: pure functions from (live facts, wanted state) to an ordered
list of steps plus before/after facts. No kernel access, no pyroute2: unit-tested on plain data.

Wanted (one interface, normalised by the module)::

    {'state': 'present', 'bridge': 'br0', 'host_ifname': 'vl3f2a91c0e1d', 'ifname': 'eth1',
     'label': 'lanbridge:veth id=container:... if=eth1 name=web1', 'mac': '02:..', 'mtu': 1500,
     'addresses': ['198.51.100.10/24'], 'routes': [{'dest': 'default', 'via': '198.51.100.1'}],
     'conflict_check': True, 'announce': True}

Live::

    {'host': {'ifname', 'index', 'master', 'mtu', 'up', 'ifalias', 'peer_index'} or None,
     'stale': [host-side links labelled for this attachment that are not its live pair],
     'taken': a host link named host_ifname that is not ours, or None,
     'bridge': {'ifname', 'index', 'mtu'} or None,
     'peer': {'ifname', 'index', 'mac', 'mtu', 'up', 'kind', 'peer_index'} or None,
     'addresses': ['198.51.100.10/24', ...],      # on the container-side link, link-local v6 left out
     'routes': [{'dest', 'via', 'dev', 'family', 'metric'}],   # main table, not proto kernel/ra
     'ipv6': True/False: IPv6 enabled on ifname (or, before it exists, by default) -- read only when
             IPv6 addresses are wanted, else None}

Steps are ``_transaction`` steps (``{'op', 'args', 'undo': [steps], 'text', 'ns'}``), ``ns`` saying
where they act (``host`` or ``container``); ``undo`` restores what the step changed (empty where the
step needs no undo of its own, such as the address of a pair that its deletion removes too).
``probe`` and ``announce`` change nothing and do not make a plan "changed".
"""

import ipaddress

from ansible_collections.lanbridge.core.plugins.module_utils._transaction import changes_anything, step as make_step
from ansible_collections.lanbridge.core.plugins.module_utils._validate import (
    check_cidr, check_ip, check_next_hop, subnet_of,
)
from ansible_collections.lanbridge.core.plugins.module_utils._errors import PlanError, ValidationError

QUIET_OPS = ("probe", "announce")


# --------------------------------------------------------------------------- wanted-state rules

def normalize_address(value):
    """``'198.51.100.10/24'`` -> canonical text (compressed IPv6). Raises ValidationError (a ValueError)."""
    return check_cidr(str(value).strip(), "address")["cidr"]


def normalize_ip(value, what, version=None):
    addr = ipaddress.ip_address(check_ip(str(value).strip(), what))
    if version and addr.version != version:
        raise ValidationError("%s %s is not an IPv%d address" % (what, addr, version))
    return str(addr)


def normalize_dest(value):
    text = str(value).strip()
    if text in ("default", "0.0.0.0/0", "::/0"):
        return text if text != "default" else "default"
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise ValidationError("route destination %r is not a valid network" % (value,)) from None


def on_link(ip, addresses):
    """True when ``ip`` lies in the subnet of one of ``addresses`` (CIDR strings)."""
    return subnet_of(ip, addresses) is not None


def wanted_routes(addresses, gateway=None, gateway6=None, routes=None):
    """The routes the container must have on ``ifname``: defaults first, each via an on-link address.

    Raises ValidationError (a ValueError) in one clear sentence for a next hop that cannot serve
    (``_validate.check_next_hop``: off every subnet, one of the container's own addresses, the
    subnet's network or broadcast address) and for a route whose ``via`` is of the other family
    than its ``dest`` (``0.0.0.0/0`` via an IPv6 address is not an IPv6 default).
    """
    out = []
    if gateway:
        out.append({"dest": "default", "via": check_next_hop(gateway, addresses, "gateway", 4), "family": 4})
    if gateway6:
        out.append({"dest": "default", "via": check_next_hop(gateway6, addresses, "gateway6", 6), "family": 6})
    for index, route in enumerate(routes or []):
        where = "routes[%d]" % index
        dest = normalize_dest(route.get("dest"))
        via = normalize_ip(route.get("via"), where + " via")
        version = ipaddress.ip_address(via).version
        if dest != "default" and ipaddress.ip_network(dest).version != version:
            raise ValidationError("%s: dest %s via %s mixes IPv4 and IPv6" % (where, dest, via))
        if dest in ("0.0.0.0/0", "::/0"):
            dest = "default"
        via = check_next_hop(via, addresses, "%s (dest %s) via" % (where, dest))
        item = {"dest": dest, "via": via, "family": version}
        if item not in out:
            out.append(item)
    return out


# --------------------------------------------------------------------------- facts

def _route_fact(route):
    return {"dest": route["dest"], "via": route.get("via"), "dev": route.get("dev")}


def _sorted_routes(routes):
    return sorted(routes, key=lambda r: (r["dest"] != "default", r["dest"], r.get("via") or "", r.get("dev") or ""))


def pair_intact(live):
    host, peer = live.get("host"), live.get("peer")
    return bool(host and peer and host.get("peer_index") == peer.get("index")
                and peer.get("peer_index") == host.get("index"))


def facts(live, ifname):
    """Observed facts of one attachment, the ``before`` of the diff."""
    if not pair_intact(live):
        return {"state": "absent"}
    host, peer = live["host"], live["peer"]
    routes = [_route_fact(r) for r in live.get("routes", [])
              if r.get("dev") == ifname or r["dest"] == "default"]
    out = {
        "state": "present",
        "host": {"ifname": host["ifname"], "bridge": host.get("master"), "mtu": host.get("mtu"),
                 "up": bool(host.get("up")), "label": host.get("ifalias")},
        "container": {"ifname": peer["ifname"], "mac": peer.get("mac"), "mtu": peer.get("mtu"),
                      "up": bool(peer.get("up")), "addresses": sorted(live.get("addresses", [])),
                      "routes": _sorted_routes(routes)},
    }
    if live.get("ipv6") is not None:
        out["container"]["ipv6"] = live["ipv6"]
    return out


def _wanted_facts(wanted, other_defaults):
    routes = [{"dest": r["dest"], "via": r["via"], "dev": wanted["ifname"]} for r in wanted["routes"]]
    return {
        "state": "present",
        "host": {"ifname": wanted["host_ifname"], "bridge": wanted["bridge"], "mtu": wanted["mtu"],
                 "up": True, "label": wanted["label"]},
        "container": {"ifname": wanted["ifname"], "mac": wanted["mac"], "mtu": wanted["mtu"], "up": True,
                      "addresses": sorted(wanted["addresses"]),
                      "routes": _sorted_routes(routes + other_defaults)},
    }


# --------------------------------------------------------------------------- steps

def _step(op, ns, text, undo=None, **args):
    """A ``_transaction`` step; ``undo`` is one step or None."""
    return make_step(op, text, undo=[undo] if undo else [], ns=ns, **args)


def _route_step(op, route, dev):
    family = route.get("family") or (6 if ":" in (route.get("via") or route["dest"]) else 4)
    text = "%s route %s%s%s" % ("add" if op == "add_route" else "delete", route["dest"],
                                " via %s" % route["via"] if route.get("via") else "", " dev %s" % dev if dev else "")
    return _step(op, "container", text, dest=route["dest"], via=route.get("via"), dev=dev, family=family,
                 metric=route.get("metric"))


def _set_link_step(ns, ifname, undo=None, **attrs):
    shown = ", ".join("%s %s" % (k, "nomaster" if k == "master" and not v else v) for k, v in sorted(attrs.items()))
    return _step("set_link", ns, "set %s %s" % (ifname, shown), undo=undo, ifname=ifname, **attrs)


def _address_step(op, ifname, address, undo=None):
    verb = "add address %s to %s" if op == "add_address" else "delete address %s from %s"
    return _step(op, "container", verb % (address, ifname), undo=undo, ifname=ifname, address=address)


def delete_link_step(ifname):
    return _step("del_link", "host", "delete veth %s (and its peer)" % ifname, ifname=ifname)


def _route_steps(wanted, live_routes, ifname):
    """Delete what is in the way or not wanted, then add what is missing (with inverses)."""
    steps = []
    want = [dict(r, dev=ifname) for r in wanted["routes"]]
    want_keys = set((r["dest"], r["via"], r["family"]) for r in want)
    default_families = set(r["family"] for r in want if r["dest"] == "default")
    kept = set()
    for route in live_routes:
        key = (route["dest"], route.get("via"), route.get("family"))
        ours = route.get("dev") == ifname
        if ours and key in want_keys and key not in kept:
            kept.add(key)
            continue
        if ours or (route["dest"] == "default" and route.get("family") in default_families):
            item = _route_step("del_route", route, route.get("dev"))
            item["undo"] = [_route_step("add_route", route, route.get("dev"))]
            steps.append(item)
    for route in want:
        key = (route["dest"], route["via"], route["family"])
        if key not in kept:
            item = _route_step("add_route", route, ifname)
            item["undo"] = [_route_step("del_route", route, ifname)]
            steps.append(item)
    return steps


def _address_steps(wanted, have, ifname, fresh):
    """Probes for every new IPv4 address first (they change nothing), then removals and additions."""
    probes, steps, added = [], [], []
    for addr in sorted(have):
        if addr not in wanted["addresses"]:
            steps.append(_address_step("del_address", ifname, addr, undo=_address_step("add_address", ifname, addr)))
    for addr in wanted["addresses"]:
        if addr in have:
            continue
        if wanted.get("conflict_check", True) and ipaddress.ip_interface(addr).version == 4:
            probes.append(_step("probe", "container", "probe the LAN for %s from %s" % (addr, ifname),
                                ifname=ifname, address=addr, mac=wanted["mac"]))
        steps.append(_address_step("add_address", ifname, addr,
                                   undo=None if fresh else _address_step("del_address", ifname, addr)))
        added.append(addr)
    return probes + steps, added


def _create_steps(wanted):
    """A new pair in one request: the host end up and a port of the bridge at birth, the peer born in
    the target namespace with its MAC and MTU. The kernel takes neither the label (``ifalias``) nor
    the peer's ``up`` at creation (a veth cannot open before its pair is complete): two more requests."""
    ifname, host = wanted["ifname"], wanted["host_ifname"]
    return [
        _step("add_pair", "host", "add veth %s (peer %s) to %s" % (host, ifname, wanted["bridge"]),
              undo=delete_link_step(host), ifname=host, peer=ifname, mac=wanted["mac"], mtu=wanted["mtu"],
              master=wanted["bridge"]),
        _set_link_step("host", host, ifalias=wanted["label"]),
        _set_link_step("container", ifname, up=True),
    ]


def wants_ipv6(wanted):
    return any(":" in a for a in wanted.get("addresses", []))


def _repair_steps(wanted, live):
    host, peer = live["host"], live["peer"]
    steps = []
    cattrs, cold = {}, {}
    if (peer.get("mac") or "").lower() != wanted["mac"].lower():
        cattrs["mac"], cold["mac"] = wanted["mac"], peer.get("mac")
    if wanted["mtu"] is not None and peer.get("mtu") != wanted["mtu"]:  # None: unknown (check mode, no bridge)
        cattrs["mtu"], cold["mtu"] = wanted["mtu"], peer.get("mtu")
    if not peer.get("up"):
        cattrs["up"], cold["up"] = True, False
    hattrs, hold = {}, {}
    if host.get("master") != wanted["bridge"]:
        hattrs["master"], hold["master"] = wanted["bridge"], host.get("master")
    if host.get("ifalias") != wanted["label"]:
        hattrs["ifalias"], hold["ifalias"] = wanted["label"], host.get("ifalias")
    if wanted["mtu"] is not None and host.get("mtu") != wanted["mtu"]:
        hattrs["mtu"], hold["mtu"] = wanted["mtu"], host.get("mtu")
    if not host.get("up"):
        hattrs["up"], hold["up"] = True, False
    if cattrs:
        steps.append(_set_link_step("container", peer["ifname"], undo=_set_link_step("container", peer["ifname"], **cold),
                                    **cattrs))
    if hattrs:
        steps.append(_set_link_step("host", host["ifname"], undo=_set_link_step("host", host["ifname"], **hold), **hattrs))
    return steps


def plan(wanted, live):
    """``(steps, before, after)`` for one attachment. Raises ``PlanError`` when blocked."""
    ifname = wanted["ifname"]
    before = facts(live, ifname)
    intact = pair_intact(live)
    steps = []
    for link in live.get("stale", []):
        steps.append(delete_link_step(link["ifname"]))

    if wanted["state"] == "absent":
        if live.get("host"):
            steps.append(delete_link_step(live["host"]["ifname"]))
        return steps, before, {"state": "absent"}

    if not live.get("bridge"):
        raise PlanError("bridge %s does not exist" % wanted["bridge"])
    if intact and live["host"]["ifname"] != wanted["host_ifname"]:
        intact = False  # host_ifname changed: recreate under the new name
    if not intact:
        if live.get("host"):
            steps.append(delete_link_step(live["host"]["ifname"]))
        peer = live.get("peer")
        if peer and not (live.get("host") and peer.get("peer_index") == live["host"].get("index")):
            raise PlanError("the target already has an interface %s that this module did not create" % ifname)
        taken = live.get("taken")
        if taken:
            raise PlanError("host_ifname %s already exists on the host and is not this attachment's "
                            "(ifalias %r)" % (wanted["host_ifname"], taken.get("ifalias")))

    if intact:
        steps += _repair_steps(wanted, live)
        have = list(live.get("addresses", []))
        routes = list(live.get("routes", []))
    else:
        steps += _create_steps(wanted)
        have, routes = [], [r for r in live.get("routes", []) if r.get("dev") != ifname]
    if wants_ipv6(wanted) and live.get("ipv6") is False:
        # e.g. Docker disables IPv6 in the namespaces of containers without an IPv6 network
        steps.append(_step("enable_ipv6", "container", "enable IPv6 on %s" % ifname, ifname=ifname,
                           undo=_step("disable_ipv6", "container", "disable IPv6 on %s" % ifname, ifname=ifname)
                           if intact else None))
    addr_steps, added = _address_steps(wanted, have, ifname, fresh=not intact)
    steps += addr_steps
    route_steps = _route_steps(wanted, routes, ifname)
    steps += route_steps
    if wanted.get("announce", True):
        for addr in added:
            steps.append(_step("announce", "container", "announce %s on %s" % (addr, ifname), ifname=ifname,
                               address=addr, mac=wanted["mac"]))

    other = [_route_fact(r) for r in routes if r["dest"] == "default" and r.get("dev") != ifname
             and not any(s["op"] == "del_route" and s["args"]["dest"] == "default" and s["args"]["dev"] == r.get("dev")
                         and s["args"]["via"] == r.get("via") for s in route_steps)]
    after = _wanted_facts(wanted, other)
    if wants_ipv6(wanted):
        after["container"]["ipv6"] = True
    return steps, before, after


PHASES = ("prepare", "probe", "configure", "announce")


def phase_of(step):
    """Which phase of a batch apply a step belongs to (see ``phases``)."""
    if step["op"] in ("probe", "announce"):
        return step["op"]
    if step["op"] in ("add_address", "del_address", "add_route", "del_route"):
        return "configure"
    return "prepare"


def phases(steps):
    """Split one plan into the phases a batch applies for all entries together, each in plan order:
    ``prepare`` (links: create, repair, delete; sysctls), ``probe`` (conflict probes of the new IPv4
    addresses, from the interface that is up by then), ``configure`` (addresses and routes) and
    ``announce``. ``plan`` orders its steps so that this split keeps their order."""
    out = dict((name, []) for name in PHASES)
    for step in steps:
        out[phase_of(step)].append(step)
    return [out[name] for name in PHASES]


def changes(steps):
    """True when applying ``steps`` changes the system (probes and announcements do not)."""
    return changes_anything(steps, QUIET_OPS)
