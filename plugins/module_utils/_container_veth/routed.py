# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``mode: routed``: what a routed attachment adds to the host, planned as pure functions on plain data.

A routed attachment's host end is in no bridge. The container's interface holds each address as a
host address (``/32``, ``/128``) with its default routes via the link-local next hops on the host
end (``HOST_GATEWAYS``, ``onlink``); the host end holds those next hops; the host routes each address
(``/32``, ``/128``) to the host end, answers ARP / NDP for it on the uplink with a proxy neighbour
entry (never the uplink-wide ``proxy_arp``), and forwards between the two (``UPLINK_SYSCTLS``,
``HOST_END_SYSCTLS``, per interface; where it turns the uplink's IPv6 ``forwarding`` on, an
``accept_ra`` of 1 becomes 2). The uplink keeps its addresses and routes.

``entry_fields(entry)`` the routed part of ``entry.validate``: ``uplink``, ``allowed_networks``,
    host-length ``addresses`` (the given prefixes kept in ``lan_addresses``), the container's routes.
``check(wanted, live)`` refusals that need the live host (``PlanError``): no uplink, an address off
    the uplink's subnets and ``allowed_networks``, an address the host holds, IPv6 without
    per-interface forwarding where ``net.ipv6.conf.all.forwarding`` is off.
``host_steps(wanted, live, fresh)`` the host's steps (``ns: host``): sysctls, the host end's next
    hops, host routes, proxy entries; each with its undo.
``removal_steps(live)`` what deleting a routed attachment leaves behind and must undo: its proxy
    entries, and the uplink's settings when it is the last routed attachment on that uplink.
``turned_on(wanted, live)`` the uplink settings the collection has turned on (the label's record).
``host_facts(live)`` / ``wanted_host_facts(wanted, live)`` the host half of ``before`` / ``after``.

``live`` (besides ``plan``'s): ``uplink`` (the link or None), ``uplink_addresses`` (CIDRs),
``host_addresses`` (every address of the host), ``host_routes`` (main-table routes through the host
end, codec dicts), ``host_end_addresses`` (CIDRs), ``proxy`` (addresses of the uplink's proxy entries),
``sysctls`` (``{link: {'ipv4/forwarding': '1', ...}}`` for the uplink, the host end, ``all``),
``others_on_uplink`` (the labels of the other routed attachments on the uplink).
"""

import ipaddress

from ansible_collections.lanbridge.core.plugins.module_utils._kernel.codec import family_of
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.constants import MAIN_TABLE
from ansible_collections.lanbridge.core.plugins.module_utils._transaction import step as make_step
from ansible_collections.lanbridge.core.plugins.module_utils._validate import check_ifname
from ansible_collections.lanbridge.core.plugins.module_utils._errors import PlanError, ValidationError

HOST_GATEWAYS = {"inet": "169.254.0.1", "inet6": "fe80::1"}
HOST_LENGTHS = {"inet": 32, "inet6": 128}
TREES = {"inet": "ipv4", "inet6": "ipv6"}
# per family: the uplink's settings, and the host end's, a routed attachment needs ('1' each).
# IPv6 forwards per interface only through force_forwarding (Linux 6.17); the uplink's forwarding and
# proxy_ndp make the kernel answer neighbour solicitations for the proxy entries.
UPLINK_SYSCTLS = {"inet": ("forwarding",), "inet6": ("forwarding", "proxy_ndp", "force_forwarding")}
HOST_END_SYSCTLS = {"inet": ("forwarding",), "inet6": ("force_forwarding",)}
# IPv6 forwarding on makes an uplink with accept_ra=1 ignore router advertisements (and lose a default
# route learnt from them); 2 keeps taking them. (turned on, restored) where not '1' and '0'.
ACCEPT_RA = "ipv6/accept_ra"
VALUES = {ACCEPT_RA: ("2", "1")}
SYSCTL_NAMES = ("forwarding", "proxy_ndp", "force_forwarding", "accept_ra")


def _step(op, text, undo=None, **args):
    return make_step(op, text, undo=[undo] if undo else [], ns="host", **args)


def _families(addresses):
    return sorted(set(family_of(a) for a in addresses))


# --------------------------------------------------------------------------- options

def entry_fields(entry):
    """Check and fill in the routed options of a normalised entry (``ValidationError``: the cause)."""
    if entry.get("bridge"):
        raise ValidationError("mode routed takes uplink, not bridge (the host end is in no bridge)")
    for key in ("gateway", "gateway6", "routes"):
        if entry.get(key):
            raise ValidationError("%s is not taken in mode routed: the container's default routes go via the host "
                                  "end (169.254.0.1, fe80::1)" % key)
    if entry["state"] == "present":
        if not entry.get("uplink"):
            raise ValidationError("mode routed needs uplink (the host's interface on the LAN)")
        if not entry.get("addresses"):
            raise ValidationError("mode routed needs addresses (DHCP is not possible in routed mode: the LAN's "
                                  "DHCP server never sees the container's MAC)")
    if entry.get("uplink"):
        check_ifname(entry["uplink"], "uplink")
    networks = []
    for value in entry.get("allowed_networks") or []:
        try:
            networks.append(str(ipaddress.ip_network(str(value).strip(), strict=False)))
        except ValueError:
            raise ValidationError("allowed_networks: %r is not a network" % (value,)) from None
    entry["allowed_networks"] = networks
    entry["lan_addresses"] = list(entry["addresses"])
    entry["addresses"] = ["%s/%d" % (a.partition("/")[0], HOST_LENGTHS[family_of(a)]) for a in entry["addresses"]]
    entry["routes"] = [{"family": family, "dst": "default", "gateway": HOST_GATEWAYS[family], "onlink": True}
                       for family in _families(entry["addresses"])]
    return entry


# --------------------------------------------------------------------------- refusals

def check(wanted, live):
    """Refuse, before any change, what a routed attachment cannot serve (``PlanError`` naming the cause)."""
    uplink = wanted["uplink"]
    if not live.get("uplink"):
        raise PlanError("uplink %s does not exist" % uplink)
    subnets = [ipaddress.ip_interface(a).network for a in live.get("uplink_addresses", [])]
    allowed = [ipaddress.ip_network(n) for n in wanted.get("allowed_networks") or []]
    held = set(a.partition("/")[0] for a in live.get("host_addresses", []))
    for cidr in wanted.get("lan_addresses", []):
        address = ipaddress.ip_interface(cidr).ip
        if str(address) in held:
            raise PlanError("address %s is the host's own: a routed attachment cannot take it" % address)
        if not any(address in net for net in subnets + allowed):
            raise PlanError("address %s is outside the subnets of uplink %s (%s); list its network in "
                            "allowed_networks to route it anyway" % (address, uplink, ", ".join(
                                str(n) for n in subnets) or "none"))
    if "inet6" in _families(wanted["addresses"]):
        host_v6 = live.get("sysctls", {}).get(uplink, {})
        if "ipv6/force_forwarding" not in host_v6 and live.get("sysctls", {}).get("all", {}).get(
                "ipv6/forwarding") != "1":
            raise PlanError("IPv6 in mode routed needs per-interface IPv6 forwarding (force_forwarding, Linux 6.17) "
                            "or net.ipv6.conf.all.forwarding=1, which this collection does not set for the whole host")


# --------------------------------------------------------------------------- steps

def _sysctl_step(link, key, value, old=None):
    tree, _sep, name = key.partition("/")
    family = "inet" if tree == "ipv4" else "inet6"
    back = None
    if old is not None:
        back = _step("set_sysctl", "set net.%s.conf.%s.%s to %s" % (tree, link, name, old), link=link, family=family,
                     name=name, value=old)
    return _step("set_sysctl", "set net.%s.conf.%s.%s to %s" % (tree, link, name, value), undo=back, link=link,
                 family=family, name=name, value=value)


def _needed(families, table):
    return ["%s/%s" % (TREES[family], name) for family in families for name in table[family]]


def _host_route(address, host_end):
    family = family_of(address)
    return {"family": family, "dst": "%s/%d" % (address.partition("/")[0], HOST_LENGTHS[family]), "gateway": None,
            "dev": host_end, "table": MAIN_TABLE, "scope": "link"}


def _uplink_changes(wanted, live):
    """``[(key, old, new)]``: the uplink settings this plan turns on, ``accept_ra`` from 1 to 2 first
    where it turns IPv6 ``forwarding`` on."""
    current = live.get("sysctls", {}).get(wanted["uplink"], {})
    out = [(key, current[key], "1") for key in _needed(_families(wanted["addresses"]), UPLINK_SYSCTLS)
           if key in current and current[key] != "1"]
    if any(key == "ipv6/forwarding" for key, _old, _new in out) and current.get(ACCEPT_RA) == "1":
        out.insert(0, (ACCEPT_RA, "1", VALUES[ACCEPT_RA][0]))
    return out


def turned_on(wanted, live):
    """The uplink settings this collection has turned on: what the routed attachments on the uplink
    (this one included) recorded, and what this plan turns on."""
    record = set()
    own = (live.get("host") or {}).get("label") or {}
    for label in live.get("others_on_uplink", []) + ([own] if own.get("uplink") == wanted["uplink"] else []):
        record.update(label.get("on") or [])
    record.update(key for key, _old, _new in _uplink_changes(wanted, live))
    return sorted(record)


def host_steps(wanted, live, fresh):
    """The host's steps of a present routed attachment; with ``fresh`` (a new pair) what lives on the
    host end needs no undo of its own (deleting the pair removes it)."""
    uplink, host_end = wanted["uplink"], wanted["host_ifname"]
    families = _families(wanted["addresses"])
    sysctls = live.get("sysctls", {})
    steps = [_sysctl_step(uplink, key, new, old) for key, old, new in _uplink_changes(wanted, live)]
    current = {} if fresh else sysctls.get(host_end, {})
    for key in _needed(families, HOST_END_SYSCTLS):
        if key.endswith("force_forwarding") and key not in sysctls.get(uplink, {}):
            continue  # a kernel without it: all.forwarding serves (check() made sure)
        if current.get(key) != "1":
            steps.append(_sysctl_step(host_end, key, "1", None if fresh else current.get(key, "0")))
    have = set(live.get("host_end_addresses", [])) if not fresh else set()
    for family in families:
        cidr = "%s/%d" % (HOST_GATEWAYS[family], HOST_LENGTHS[family])
        if cidr not in have:
            back = None if fresh else _step("delete_address", "delete address %s from %s" % (cidr, host_end),
                                            link=host_end, address=HOST_GATEWAYS[family],
                                            prefixlen=HOST_LENGTHS[family])
            steps.append(_step("add_address", "add address %s to %s" % (cidr, host_end), undo=back, link=host_end,
                               address=HOST_GATEWAYS[family], prefixlen=HOST_LENGTHS[family],
                               flags=["nodad"] if family == "inet6" else None))
    live_routes = [] if fresh else live.get("host_routes", [])
    wanted_routes = [_host_route(a, host_end) for a in wanted["addresses"]]
    wanted_dsts = set(r["dst"] for r in wanted_routes)
    for route in live_routes:
        if route["dst"] not in wanted_dsts:
            gone = _host_route(route["dst"], host_end)
            steps.append(_step("delete_route", "delete route %s dev %s" % (gone["dst"], host_end),
                               undo=_step("add_route", "add route %s dev %s" % (gone["dst"], host_end), route=gone),
                               route=gone))
    have_dsts = set(r["dst"] for r in live_routes)
    for route in wanted_routes:
        if route["dst"] not in have_dsts:
            back = None if fresh else _step("delete_route", "delete route %s dev %s" % (route["dst"], host_end),
                                            route=route)
            steps.append(_step("add_route", "add route %s dev %s" % (route["dst"], host_end), undo=back, route=route))
    proxies = set(live.get("proxy", []))
    wanted_proxies = [a.partition("/")[0] for a in wanted["addresses"]]
    for route in live_routes:
        address = route["dst"].partition("/")[0]
        if address in proxies and address not in wanted_proxies:
            steps.append(_proxy_step("delete", uplink, address))
    for address in wanted_proxies:
        if address not in proxies:
            steps.append(_proxy_step("add", uplink, address))
    return steps


def _proxy_step(verb, uplink, address):
    other = "delete" if verb == "add" else "add"
    undo = _step("%s_proxy_neighbour" % other, "%s proxy neighbour %s on %s" % (other, address, uplink), link=uplink,
                 address=address)
    return _step("%s_proxy_neighbour" % verb, "%s proxy neighbour %s on %s" % (verb, address, uplink), undo=undo,
                 link=uplink, address=address)


def removal_steps(live, label):
    """Steps that undo what deleting the host end of a routed attachment (``label`` parsed) leaves: its
    proxy entries on the uplink, and, when no other routed attachment stays on the uplink, the uplink
    settings the collection turned on."""
    uplink = label.get("uplink")
    if not uplink or not live.get("uplink"):
        return []
    proxies = set(live.get("proxy", []))
    ours = set(r["dst"].partition("/")[0] for r in live.get("host_routes", []))
    ours.update(a.partition("/")[0] for a in live.get("addresses", []))
    steps = [_proxy_step("delete", uplink, address) for address in sorted(ours & proxies)]
    if not live.get("others_on_uplink"):
        current = live.get("sysctls", {}).get(uplink, {})
        for key in sorted(label.get("on") or [], key=lambda k: (k == ACCEPT_RA, k)):  # accept_ra after forwarding
            on, off = VALUES.get(key, ("1", "0"))
            if current.get(key) == on:
                steps.append(_sysctl_step(uplink, key, off, on))
    return steps


# --------------------------------------------------------------------------- facts

def host_facts(live, uplink):
    """The routed half of an attachment's host facts, as observed."""
    ours = sorted(r["dst"] for r in live.get("host_routes", []))
    addresses = set(d.partition("/")[0] for d in ours)
    hops = set("%s/%d" % (HOST_GATEWAYS[f], HOST_LENGTHS[f]) for f in HOST_GATEWAYS)
    return {"uplink": uplink, "addresses": sorted(a for a in live.get("host_end_addresses", []) if a in hops),
            "routes": ours,
            "proxy": sorted(a for a in live.get("proxy", []) if a in addresses)}


def wanted_host_facts(wanted):
    """The routed half of an attachment's host facts, as planned."""
    families = _families(wanted["addresses"])
    return {"uplink": wanted["uplink"],
            "addresses": sorted("%s/%d" % (HOST_GATEWAYS[f], HOST_LENGTHS[f]) for f in families),
            "routes": sorted(_host_route(a, None)["dst"] for a in wanted["addresses"]),
            "proxy": sorted(a.partition("/")[0] for a in wanted["addresses"])}
