# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The planner of ``container_veth``: pure functions from (live facts, wanted state) to an ordered
list of steps plus before/after facts. No kernel access, no pyroute2: unit-tested on plain data.

Wanted (one interface, normalised by ``entry.validate``)::

    {'state': 'present', 'bridge': 'br0', 'host_ifname': 'vl3f2a91c0e1d', 'ifname': 'eth1',
     'label': 'lanbridge:veth id=container:... if=eth1 name=web1', 'mac': '02:..', 'mtu': 1500,
     'addresses': ['198.51.100.10/24'],
     'routes': [{'family': 'inet', 'dst': 'default', 'gateway': '198.51.100.1'}],   # wanted_routes
     'conflict_check': True, 'announce': True}

Live::

    {'host': {'ifname', 'index', 'master', 'mtu', 'up', 'ifalias', 'peer_index'} or None,
     'stale': [host-side links labelled for this attachment that are not its live pair],
     'taken': a host link named host_ifname that is not ours, or None,
     'bridge': {'ifname', 'index', 'mtu'} or None,
     'peer': {'ifname', 'index', 'mac', 'mtu', 'up', 'kind', 'peer_index'} or None,
     'addresses': ['198.51.100.10/24', ...],      # on the container-side link, link-local v6 left out
     'routes': [{'family', 'dst', 'gateway', 'dev', 'table', 'metric'}],   # main table, not proto kernel/ra
     'ipv6': True/False: IPv6 enabled on ifname (or, before it exists, by default) -- read only when
             IPv6 addresses are wanted, else None}

A route is the codec's (``_kernel.codec``: ``family`` ``'inet'``/``'inet6'``, ``dst`` ``'default'``
or a CIDR, ``gateway``, ``dev`` a name). The user's names (``routes: [{dest, via}]``, ``gateway``,
``gateway6``) are translated once each way: ``wanted_routes`` (options -> routes) and ``user_route``
(a route -> ``{dest, via}``, as the diff and the results show it).

Steps are ``_transaction`` steps (``{'op', 'args', 'undo': [steps], 'text', 'ns'}``), ``ns`` saying
where they act (``host`` or ``container``). ``op`` is a ``_kernel.netlink.Netlink`` method and
``args`` its keyword arguments (``add_veth_port``'s ``peer_netns_fd`` is the executor's to supply):
``add_veth_port``, ``delete_link``, ``set_link`` (one attribute a step), ``set_ipv6``,
``add_address``, ``delete_address``, ``add_route``, ``delete_route`` (and for ``mode: routed``, the
host's steps ``routed`` plans: ``set_sysctl``, ``add_proxy_neighbour``, ``delete_proxy_neighbour``); or
one of the executor's own,
``probe`` and ``announce`` (``{link, address, mac}``), which change nothing and do not make a plan
"changed". ``undo`` restores exactly what the step changed (empty where the step needs no undo of
its own, such as the address of a pair that its deletion removes too).
"""

import ipaddress

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import routed
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.codec import broadcast, describe_route, family_of
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.constants import MAIN_TABLE
from ansible_collections.lanbridge.core.plugins.module_utils._transaction import changes_anything, step as make_step
from ansible_collections.lanbridge.core.plugins.module_utils._validate import (
    check_cidr, check_ip, check_next_hop,
)
from ansible_collections.lanbridge.core.plugins.module_utils._errors import PlanError, ValidationError

QUIET_OPS = ("probe", "announce")


# --------------------------------------------------------------------------- wanted-state rules

def normalize_address(value):
    """``'198.51.100.10/24'`` -> canonical text (compressed IPv6). Raises ValidationError (a ValueError)."""
    return check_cidr(str(value).strip(), "address")["cidr"]


def normalize_ip(value, what):
    """An IP address in canonical text. Raises ValidationError (a ValueError)."""
    return str(ipaddress.ip_address(check_ip(str(value).strip(), what)))


def normalize_dest(value):
    """A route destination: ``'default'``, ``'0.0.0.0/0'``, ``'::/0'`` as given, else the network's
    canonical CIDR (host bits cleared). Raises ValidationError (a ValueError)."""
    text = str(value).strip()
    if text in ("default", "0.0.0.0/0", "::/0"):
        return text
    try:
        return str(ipaddress.ip_network(text, strict=False))
    except ValueError:
        raise ValidationError("route destination %r is not a valid network" % (value,)) from None


def wanted_routes(addresses, gateway=None, gateway6=None, routes=None):
    """The routes the container must have on ``ifname``, from the options ``gateway``, ``gateway6``
    and ``routes: [{dest, via}]``, as the codec's routes ``{family, dst, gateway}``: defaults first,
    each via an on-link address, each once.

    Raises ValidationError (a ValueError) in one clear sentence for a next hop that cannot serve
    (``_validate.check_next_hop``: off every subnet, one of the container's own addresses, the
    subnet's network or broadcast address) and for a route whose ``via`` is of the other family
    than its ``dest`` (``0.0.0.0/0`` via an IPv6 address is not an IPv6 default).
    """
    out = []
    if gateway:
        out.append({"family": "inet", "dst": "default", "gateway": check_next_hop(gateway, addresses, "gateway", 4)})
    if gateway6:
        out.append({"family": "inet6", "dst": "default",
                    "gateway": check_next_hop(gateway6, addresses, "gateway6", 6)})
    for index, route in enumerate(routes or []):
        where = "routes[%d]" % index
        dest = normalize_dest(route.get("dest"))
        via = normalize_ip(route.get("via"), where + " via")
        if dest != "default" and family_of(dest) != family_of(via):
            raise ValidationError("%s: dest %s via %s mixes IPv4 and IPv6" % (where, dest, via))
        if dest in ("0.0.0.0/0", "::/0"):
            dest = "default"
        via = check_next_hop(via, addresses, "%s (dest %s) via" % (where, dest))
        item = {"family": family_of(via), "dst": dest, "gateway": via}
        if item not in out:
            out.append(item)
    return out


def user_route(route):
    """A route as the module's options and results name it: ``{dest, via}``."""
    return {"dest": route["dst"], "via": route.get("gateway")}


# --------------------------------------------------------------------------- facts

def _route_fact(route):
    return dict(user_route(route), dev=route.get("dev"))


def _sorted_routes(routes):
    return sorted(routes, key=lambda r: (r["dest"] != "default", r["dest"], r.get("via") or "", r.get("dev") or ""))


def pair_intact(live):
    host, peer = live.get("host"), live.get("peer")
    return bool(host and peer and host.get("peer_index") == peer.get("index")
                and peer.get("peer_index") == host.get("index"))


def facts(live, ifname):
    """Observed facts of one attachment, the ``before`` of the diff (routes as ``{dest, via, dev}``)."""
    if not pair_intact(live):
        return {"state": "absent"}
    host, peer = live["host"], live["peer"]
    routes = [_route_fact(r) for r in live.get("routes", [])
              if r.get("dev") == ifname or r["dst"] == "default"]
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
    routes = [_route_fact(dict(r, dev=wanted["ifname"])) for r in wanted["routes"]]
    return {
        "state": "present",
        "host": {"ifname": wanted["host_ifname"], "bridge": wanted.get("bridge"), "mtu": wanted["mtu"],
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
    """``add_route`` / ``delete_route`` of ``route`` in the main table through ``dev``."""
    route = dict({"family": route["family"], "dst": route["dst"], "gateway": route.get("gateway"), "dev": dev,
                  "table": MAIN_TABLE, "metric": route.get("metric")}, **({"onlink": True} if route.get("onlink") else {}))
    shown = describe_route({"dst": route["dst"], "gateway": route["gateway"], "dev": dev, "onlink": route.get("onlink")})
    return _step(op, "container", "%s route %s" % ("add" if op == "add_route" else "delete", shown), route=route)


def _set_link_text(link, attribute, value):
    return "set %s %s %s" % (link, attribute, "nomaster" if attribute == "master" and not value else value)


def _set_link_step(ns, link, attribute, value, old=None, undo=True):
    """``set_link`` of one attribute of ``link``; with ``undo`` its undo sets it back to ``old``
    (no master: 0, no alias: the empty one, which clears it)."""
    back = None
    if undo:
        old = (old or 0) if attribute == "master" else (old or "") if attribute == "ifalias" else old
        back = _step("set_link", ns, _set_link_text(link, attribute, old), link=link, **{attribute: old})
    return _step("set_link", ns, _set_link_text(link, attribute, value), undo=back, link=link, **{attribute: value})


def _address_step(op, link, cidr, undo=None):
    address, _sep, prefixlen = cidr.partition("/")
    if op == "delete_address":
        return _step(op, "container", "delete address %s from %s" % (cidr, link), undo=undo, link=link,
                     address=address, prefixlen=int(prefixlen))
    v6 = family_of(address) == "inet6"
    return _step(op, "container", "add address %s to %s" % (cidr, link), undo=undo, link=link, address=address,
                 prefixlen=int(prefixlen), broadcast=None if v6 else broadcast(address, prefixlen),
                 flags=["nodad"] if v6 else None)


def _neighbour_step(op, link, cidr, mac, ns="container"):
    """``probe`` (an RFC 5227 conflict probe) or ``announce`` of an address from ``link``."""
    text = "probe the LAN for %s from %s" % (cidr, link) if op == "probe" else "announce %s on %s" % (cidr, link)
    return _step(op, ns, text, link=link, address=cidr.partition("/")[0], mac=mac)


def _lan_side(wanted, live):
    """``(link, mac, ns)`` the LAN hears an attachment's addresses from: the container's interface, or
    a routed attachment's uplink (with the uplink's MAC: the host answers for the container)."""
    if wanted.get("mode") == "routed":
        return wanted["uplink"], (live.get("uplink") or {}).get("mac"), "host"
    return wanted["ifname"], wanted["mac"], "container"


def delete_link_step(link):
    return _step("delete_link", "host", "delete veth %s (and its peer)" % link, link=link)


def _route_key(route):
    return (route["dst"], route.get("gateway"), route["family"])


def _route_steps(wanted, live_routes, ifname):
    """Delete what is in the way or not wanted, then add what is missing (with inverses)."""
    steps = []
    want_keys = set(_route_key(r) for r in wanted["routes"])
    default_families = set(r["family"] for r in wanted["routes"] if r["dst"] == "default")
    kept = set()
    for route in live_routes:
        key = _route_key(route)
        ours = route.get("dev") == ifname
        if ours and key in want_keys and key not in kept:
            kept.add(key)
            continue
        if ours or (route["dst"] == "default" and route["family"] in default_families):
            item = _route_step("delete_route", route, route.get("dev"))
            item["undo"] = [_route_step("add_route", route, route.get("dev"))]
            steps.append(item)
    for route in wanted["routes"]:
        if _route_key(route) not in kept:
            item = _route_step("add_route", route, ifname)
            item["undo"] = [_route_step("delete_route", route, ifname)]
            steps.append(item)
    return steps


def _address_steps(wanted, have, ifname, fresh, lan_side):
    """Probes for every new IPv4 address first (they change nothing), then removals and additions."""
    probes, steps, added = [], [], []
    lan_link, lan_mac, lan_ns = lan_side
    for addr in sorted(have):
        if addr not in wanted["addresses"]:
            steps.append(_address_step("delete_address", ifname, addr,
                                       undo=_address_step("add_address", ifname, addr)))
    for addr in wanted["addresses"]:
        if addr in have:
            continue
        if wanted.get("conflict_check", True) and family_of(addr) == "inet":
            probes.append(_neighbour_step("probe", lan_link, addr, lan_mac, lan_ns))
        steps.append(_address_step("add_address", ifname, addr,
                                   undo=None if fresh else _address_step("delete_address", ifname, addr)))
        added.append(addr)
    return probes + steps, added


def _create_steps(wanted):
    """A new pair in one request: the host end up and a port of the bridge at birth, the peer born in
    the target namespace with its MAC and MTU. The kernel takes neither the label (``ifalias``) nor
    the peer's ``up`` at creation (a veth cannot open before its pair is complete): two more requests,
    whose undo is the pair's deletion."""
    ifname, host, bridge = wanted["ifname"], wanted["host_ifname"], wanted.get("bridge")
    return [
        _step("add_veth_port", "host", "add veth %s (peer %s)%s" % (host, ifname, " to %s" % bridge if bridge else ""),
              undo=delete_link_step(host), name=host, peer=ifname, master=bridge, mtu=wanted["mtu"],
              peer_mac=wanted["mac"]),
        _set_link_step("host", host, "ifalias", wanted["label"], undo=False),
        _set_link_step("container", ifname, "up", True, undo=False),
    ]


def wants_ipv6(wanted):
    """Whether IPv6 addresses are wanted (then IPv6 must be enabled on the interface)."""
    return any(family_of(a) == "inet6" for a in wanted.get("addresses") or [])


def _repair_steps(wanted, live):
    """One ``set_link`` step per attribute that differs, each undone exactly: the container end's
    MAC, MTU, state, then the host end's master, label, MTU, state."""
    host, peer = live["host"], live["peer"]
    mtu = wanted["mtu"]  # None: unknown (check mode, no bridge yet): left alone
    container = [
        ("mac", wanted["mac"], peer.get("mac"), (peer.get("mac") or "").lower() != wanted["mac"].lower()),
        ("mtu", mtu, peer.get("mtu"), mtu is not None and peer.get("mtu") != mtu),
        ("up", True, False, not peer.get("up")),
    ]
    host_end = [
        ("master", wanted.get("bridge") or 0, host.get("master"), host.get("master") != wanted.get("bridge")),
        ("ifalias", wanted["label"], host.get("ifalias"), host.get("ifalias") != wanted["label"]),
        ("mtu", mtu, host.get("mtu"), mtu is not None and host.get("mtu") != mtu),
        ("up", True, False, not host.get("up")),
    ]
    return ([_set_link_step("container", peer["ifname"], name, value, old) for name, value, old, differs in container
             if differs]
            + [_set_link_step("host", host["ifname"], name, value, old) for name, value, old, differs in host_end
               if differs])


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
            steps += routed.removal_steps(live, live["host"].get("label") or {})
        elif wanted.get("mode") == "routed" and wanted.get("uplink"):  # the pair is gone; its proxy entries stay
            steps += routed.removal_steps(dict(live, addresses=wanted["addresses"]), {"uplink": wanted["uplink"]})
        return steps, before, {"state": "absent"}

    mode = wanted.get("mode")
    if mode == "routed":
        routed.check(wanted, live)
    elif not live.get("bridge"):
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
        steps.append(_step("set_ipv6", "container", "enable IPv6 on %s" % ifname, link=ifname, enabled=True,
                           undo=_step("set_ipv6", "container", "disable IPv6 on %s" % ifname, link=ifname,
                                      enabled=False) if intact else None))
    lan_side = _lan_side(wanted, live)
    addr_steps, added = _address_steps(wanted, have, ifname, not intact, lan_side)
    steps += addr_steps
    route_steps = _route_steps(wanted, routes, ifname)
    steps += route_steps
    if mode == "routed":
        steps += routed.host_steps(wanted, live, fresh=not intact)
    if wanted.get("announce", True):
        for addr in added:
            steps.append(_neighbour_step("announce", lan_side[0], addr, lan_side[1], lan_side[2]))

    deleted = [s["args"]["route"] for s in route_steps if s["op"] == "delete_route"]
    other = [_route_fact(r) for r in routes if r["dst"] == "default" and r.get("dev") != ifname
             and not any(d["dst"] == "default" and d["dev"] == r.get("dev") and d["gateway"] == r.get("gateway")
                         for d in deleted)]
    after = _wanted_facts(wanted, other)
    if wants_ipv6(wanted):
        after["container"]["ipv6"] = True
    if mode == "routed":
        after["host"].update(routed.wanted_host_facts(wanted))
        if before["state"] == "present":
            before["host"].update(routed.host_facts(live, wanted["uplink"]))
    return steps, before, after


PHASES = ("prepare", "probe", "configure", "announce")


def phase_of(step):
    """Which phase of a batch apply a step belongs to (see ``phases``)."""
    if step["op"] in ("probe", "announce"):
        return step["op"]
    if step["op"] in ("add_address", "delete_address", "add_route", "delete_route", "add_proxy_neighbour",
                      "delete_proxy_neighbour"):
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
