# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side helpers of the ``lanbridge.core.container_lan`` role.

Pure functions on plain data (inventory variables, and gathered facts where there are any), no
network access:

- ``container_lan_fleet_problems``: the checks that need the whole play at once (an address used
  on two hosts, a MAC used twice, a container listed twice on a host, a gateway the container
  cannot use, interface names over 15 bytes), each by the modules' own rule where there is one
  (names, addresses, and ``gateway``/``gateway6`` by ``_validate.check_next_hop``, as
  ``container_veth`` checks them). The role runs it once per play, before any
  host changes, and stops if it returns anything. Where a host's network facts were gathered
  (the role gathers none), it also checks addresses against the uplink's subnet and the host's own
  addresses; without them ``host_bridge`` does that on the host (``lan_addresses``).
  Routed entries (``mode: routed``, the entry's or ``container_lan_mode``) are refused for the
  module's own reasons (``_container_veth.routed.entry_fields``) and need the uplink's name.
- ``container_lan_builds_bridge``: whether a host's role run builds the bridge (``container_lan_mode``
  bridged, or an entry with ``mode: bridged``).
- ``container_lan_addresses``: one host's bridged container addresses, for ``host_bridge``'s ``lan_addresses``.
- ``container_lan_veth_interfaces``: one host's ``container_lan_interfaces`` turned into the
  ``interfaces`` list of ``lanbridge.core.container_veth`` (role-level defaults applied; a routed
  entry's ``uplink`` is the bridge where the role builds one, else ``container_lan_uplink``).
- ``container_lan_summary``: one line per container from ``container_veth``'s result.

Internal to the role (so not documented as public filters); see ``roles/container_lan/README.md``.
"""

import ipaddress

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.routed import entry_fields
from ansible_collections.lanbridge.core.plugins.module_utils._validate import check_cidr, check_ifname, check_next_hop
from ansible_collections.lanbridge.core.plugins.module_utils._errors import ValidationError

# The role variables the fleet check reads. ``hostvars`` of a host carry inventory and extra vars
# but not role defaults, role parameters or play vars; for a variable a host's hostvars do not
# define, the value the role sees on the host running the check is used (``fallback``): it comes
# from exactly those play-wide sources.
ROLE_VARS = ("container_lan_bridge", "container_lan_uplink", "container_lan_gateway",
             "container_lan_interfaces", "container_lan_allowed_networks", "container_lan_mode")
MODES = ("bridged", "routed")

# Keys of a container_lan_interfaces entry passed through to container_veth unchanged.
_PASSTHROUGH = ("container", "pid", "netns", "ifname", "host_ifname", "gateway6", "routes", "mac",
                "mtu", "announce", "conflict_check", "state", "runtime", "docker_host")


class _Overlay:
    """A host's variables with some play-wide values laid over them (read-only, ``get`` only)."""

    def __init__(self, hostvars, overrides):
        self._hostvars = hostvars
        self._overrides = overrides

    def get(self, key, default=None):
        if key in self._overrides:
            return self._overrides[key]
        return self._hostvars.get(key, default)


def _get(hostvars, fallback, key):
    value = hostvars.get(key)
    if value is None:
        value = fallback.get(key)
    if value is None and key in ("container_lan_interfaces", "container_lan_allowed_networks"):
        value = []
    return value


def _addresses(entry):
    """The CIDR list of an entry, accepting ``addresses`` (list or str) and its alias ``address``."""
    value = entry.get("addresses")
    if value is None:
        value = entry.get("address")
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _target(entry):
    for key in ("container", "pid", "netns"):
        if entry.get(key) not in (None, ""):
            return "%s %s" % (key, entry[key])
    return "an entry without container, pid or netns"


def _name_problem(what, name):
    """Why ``name`` is not a valid Linux interface name (the modules' own rule), or None."""
    try:
        check_ifname(name, what)
    except ValidationError as exc:
        return str(exc)
    return None


def _mode(entry, mode):
    return entry.get("mode") or mode or "bridged"


def builds_bridge(entries, mode="bridged"):
    """Whether the role builds the bridge: ``mode`` (``container_lan_mode``) bridged, or an entry's."""
    return (mode or "bridged") == "bridged" or any(
        isinstance(entry, dict) and entry.get("mode") == "bridged" for entry in entries or [])


def _routed_uplink(entry, entries, mode, bridge, uplink):
    """A routed entry's uplink: its own, else the bridge where the role builds one, else the role's."""
    return entry.get("uplink") or (bridge if builds_bridge(entries, mode) else uplink)


def _networks(entry):
    """The valid networks of a routed entry's own ``allowed_networks`` (``_routed_problem`` names the others)."""
    out = []
    for value in entry.get("allowed_networks") or []:
        try:
            out.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            continue
    return out


def _routed_problem(entry, cidrs, uplink):
    """Why container_veth would refuse the routed entry (its own rule), or None."""
    if uplink == "auto" or _name_problem("uplink", uplink or ""):
        return ("mode routed needs the uplink's interface name (the entry's uplink or container_lan_uplink), "
                "not %r" % (uplink,))
    try:
        entry_fields(dict(entry, state="present", addresses=cidrs, uplink=uplink))
    except ValidationError as exc:
        return str(exc)
    return None


def _iface_facts(facts, name):
    for key in (name, name.replace("-", "_"), name.replace(":", "_")):
        value = facts.get(key)
        if isinstance(value, dict) and value.get("device", name) == name:
            return value
    return None


def _iface_networks(iface):
    """The global IPv4/IPv6 interfaces (``ipaddress.ip_interface``) of one interface's facts."""
    result = []
    ipv4 = [iface.get("ipv4")] if isinstance(iface.get("ipv4"), dict) else []
    for item in ipv4 + list(iface.get("ipv4_secondaries") or []):
        if item.get("address") and item.get("netmask"):
            result.append(ipaddress.ip_interface("%s/%s" % (item["address"], item["netmask"])))
    for item in iface.get("ipv6") or []:
        if item.get("scope", "global") == "global" and item.get("address") and item.get("prefix"):
            result.append(ipaddress.ip_interface("%s/%s" % (item["address"], item["prefix"])))
    return result


def uplink_facts(facts, uplink, bridge):
    """The facts of the interface that carries the host's LAN addresses, or None.

    That is the bridge once it exists with an address (a re-run), else the uplink: by name, by
    MAC, or ``auto`` (the interface of the IPv4 default route).
    """
    facts = facts or {}
    names = list(facts.get("interfaces") or [])
    bridge_facts = _iface_facts(facts, bridge) if bridge in names else None
    if bridge_facts and _iface_networks(bridge_facts):
        return bridge_facts
    uplink = (uplink or "auto").strip()
    if uplink == "auto":
        name = (facts.get("default_ipv4") or {}).get("interface")
        return _iface_facts(facts, name) if name in names else None
    if uplink in names:
        return _iface_facts(facts, uplink)
    for name in names:
        iface = _iface_facts(facts, name)
        if iface and str(iface.get("macaddress", "")).lower() == uplink.lower() and iface.get("type") != "bridge":
            return iface
    return None


def _effective_gateway(hostvars, fallback, facts):
    gateway = _get(hostvars, fallback, "container_lan_gateway")
    if gateway:
        return str(gateway)
    return (facts.get("default_ipv4") or {}).get("gateway") or ""


def _check_host(host, hostvars, fallback, seen_addresses, seen_macs):
    """Problems of one host; records its addresses and MACs in the two ``seen`` dicts."""
    problems = []
    facts = hostvars.get("ansible_facts") or {}
    bridge = _get(hostvars, fallback, "container_lan_bridge") or "br0"
    uplink = _get(hostvars, fallback, "container_lan_uplink")
    mode = _get(hostvars, fallback, "container_lan_mode") or "bridged"
    if not uplink:
        return ["%s: container_lan_uplink is not set (an interface name, a MAC address or 'auto')" % host]
    if mode not in MODES:
        return ["%s: container_lan_mode must be bridged or routed, not %r" % (host, mode)]
    for what, name in (("container_lan_bridge", bridge),):
        problem = _name_problem(what, name)
        if problem:
            problems.append("%s: %s" % (host, problem))

    lan = uplink_facts(facts, uplink, bridge)
    if "interfaces" not in facts:
        # no network facts (the role gathers none): host_bridge checks on the host what needs it
        networks = []
    elif lan is None:
        problems.append("%s: uplink '%s' not found among the host's interfaces (%s)"
                        % (host, uplink, ", ".join(sorted(facts.get("interfaces") or [])) or "no facts gathered"))
        networks = []
    else:
        networks = _iface_networks(lan)
        if not networks:
            problems.append("%s: uplink %s has no address, so the LAN subnet is unknown" % (host, lan.get("device")))
        mac = str(lan.get("macaddress") or "").lower()
        if mac:
            seen_macs.setdefault(mac, []).append("%s uplink %s" % (host, lan.get("device")))
    own = set()
    for network in networks:
        own.add(network.ip)
        seen_addresses.setdefault(network.ip, []).append("%s (the host's own address on %s)" % (host, lan.get("device")))
    try:
        ansible_host = ipaddress.ip_address(str(hostvars.get("ansible_host", "")))
    except ValueError:
        ansible_host = None
    if ansible_host is not None and ansible_host not in own:
        seen_addresses.setdefault(ansible_host, []).append("%s (ansible_host)" % host)

    allowed = []
    for cidr in _get(hostvars, fallback, "container_lan_allowed_networks"):
        try:
            allowed.append(ipaddress.ip_network(str(cidr), strict=False))
        except ValueError:
            problems.append("%s: container_lan_allowed_networks: '%s' is not a valid network" % (host, cidr))
    lan_networks = [n.network for n in networks] + allowed

    role_gateway = _get(hostvars, fallback, "container_lan_gateway")
    if role_gateway:
        try:
            address = ipaddress.ip_address(str(role_gateway))
            if networks and not any(address in n for n in lan_networks):
                problems.append("%s: container_lan_gateway %s is not inside the uplink's subnet (%s)"
                                % (host, role_gateway, ", ".join(str(n) for n in lan_networks)))
        except ValueError:
            problems.append("%s: container_lan_gateway '%s' is not a valid IP address" % (host, role_gateway))
    default_gateway = _effective_gateway(hostvars, fallback, facts)

    entries = _get(hostvars, fallback, "container_lan_interfaces")
    if not isinstance(entries, list):
        return problems + ["%s: container_lan_interfaces must be a list" % host]
    seen_targets = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append("%s: container_lan_interfaces[%d] is not a mapping" % (host, index))
            continue
        target = _target(entry)
        where = "%s: container_lan_interfaces[%d] (%s)" % (host, index, target)
        if target in seen_targets:
            problems.append("%s: listed twice on this host (also entry %d)" % (where, seen_targets[target]))
        else:
            seen_targets[target] = index
        for key in ("ifname", "host_ifname"):
            if entry.get(key) is not None:
                problem = _name_problem(key, entry[key])
                if problem:
                    problems.append("%s: %s" % (where, problem))
        entry_mode = _mode(entry, mode)
        if entry_mode not in MODES:
            problems.append("%s: mode must be bridged or routed, not %r" % (where, entry_mode))
            continue
        if entry_mode == "bridged" and (entry.get("uplink") or entry.get("allowed_networks")):
            problems.append("%s: uplink and allowed_networks are taken only with mode routed" % where)
        if entry.get("state", "present") == "absent":
            continue
        ifaces, cidrs = [], []
        for cidr in _addresses(entry):
            try:
                cidrs.append(check_cidr(cidr, "address")["cidr"])
            except ValidationError as exc:
                problems.append("%s: %s" % (where, exc))
                continue
            iface = ipaddress.ip_interface(cidrs[-1])
            ifaces.append(iface)
            own_uplink = entry_mode == "routed" and entry.get("uplink") not in (None, uplink, bridge)
            if networks and not own_uplink and not any(
                    iface.ip in n for n in lan_networks + _networks(entry) if n.version == iface.version):
                problems.append("%s: address %s is not on the uplink's subnet (%s); add the network to "
                                "container_lan_allowed_networks if that is intended"
                                % (where, cidr, ", ".join(str(n) for n in lan_networks)))
            seen_addresses.setdefault(iface.ip, []).append("%s %s" % (host, target))
        if entry.get("mac"):
            seen_macs.setdefault(str(entry["mac"]).lower(), []).append("%s %s" % (host, target))
        if entry_mode == "routed":
            problem = _routed_problem(entry, cidrs, _routed_uplink(entry, entries, mode, bridge, uplink))
            if problem:
                problems.append("%s: %s" % (where, problem))
            continue
        for key, version in (("gateway", 4), ("gateway6", 6)):
            # what container_veth gets (veth_interfaces): the entry's own gateway, else the LAN's
            # for an entry with an IPv4 address; checked by the module's own rule
            gateway = entry.get(key)
            if gateway in (None, "") and key == "gateway" and any(i.version == 4 for i in ifaces):
                gateway = default_gateway
            if gateway in (None, ""):
                continue
            try:
                check_next_hop(gateway, cidrs, key, version)
            except ValidationError as exc:
                problems.append("%s: %s" % (where, exc))
    return problems


def fleet_problems(fleet, fallback=None, current=None):
    """Every problem of the whole play, each naming the host and the entry; [] when all is well.

    ``fleet`` maps inventory hostnames to their variables (``hostvars``, facts included);
    ``fallback`` holds the role's variables as the checking host ``current`` sees them (see
    ROLE_VARS). Where that differs from ``current``'s own hostvars, a play var or role parameter
    overrides the inventory for the whole play, so ``fallback`` is used for every host.
    """
    fallback = dict(fallback or {})
    if current in fleet:
        overridden = [key for key in fallback
                      if fleet[current].get(key) is not None and fleet[current].get(key) != fallback[key]]
        if overridden:
            fleet = dict((host, _Overlay(hostvars, dict((k, fallback[k]) for k in overridden)))
                         for host, hostvars in fleet.items())
    problems = []
    seen_addresses = {}
    seen_macs = {}
    for host in sorted(fleet):
        problems.extend(_check_host(host, fleet[host], fallback, seen_addresses, seen_macs))
    for address in sorted(seen_addresses, key=lambda a: (a.version, a)):
        users = seen_addresses[address]
        if len(users) > 1:
            problems.append("address %s is used more than once: %s" % (address, "; ".join(users)))
    for mac in sorted(seen_macs):
        users = seen_macs[mac]
        hosts_uplinks = {u.split(" ")[0] for u in users if " uplink " in u}
        if len(users) > 1 and not (len(users) == len(hosts_uplinks) == 1):
            problems.append("MAC %s is used more than once: %s" % (mac, "; ".join(users)))
    return problems


def veth_interfaces(entries, bridge, gateway="", docker_host="", runtime="auto", mode="bridged", uplink="",
                    allowed_networks=()):
    """One host's ``container_lan_interfaces`` as ``container_veth``'s ``interfaces`` option.

    Applies the role-level defaults (bridge, LAN gateway for entries with an IPv4 address,
    engine socket and runtime for entries that name a container; for a routed entry ``mode``,
    its uplink and ``allowed_networks``) and drops unset keys, so the module's own defaults apply.
    """
    result = []
    for entry in entries or []:
        item = {key: entry[key] for key in _PASSTHROUGH if entry.get(key) not in (None, "")}
        addresses = _addresses(entry)
        if addresses:
            item["addresses"] = addresses
        state = item.get("state", "present")
        if _mode(entry, mode) == "routed":
            item.update(mode="routed", uplink=_routed_uplink(entry, entries, mode, bridge, uplink))
            allowed = entry.get("allowed_networks") or list(allowed_networks or [])
            if allowed and state != "absent":
                item["allowed_networks"] = allowed
        elif state != "absent":
            item["bridge"] = bridge
            has_ipv4 = any(ipaddress.ip_interface(str(a)).version == 4 for a in addresses)
            entry_gateway = entry.get("gateway")
            if entry_gateway not in (None, ""):
                item["gateway"] = entry_gateway
            elif gateway and has_ipv4:
                item["gateway"] = gateway
        if "container" in item:
            if docker_host and "docker_host" not in item:
                item["docker_host"] = docker_host
            if runtime and runtime != "auto" and "runtime" not in item:
                item["runtime"] = runtime
        result.append(item)
    return result


def lan_addresses(entries, mode="bridged"):
    """The addresses (CIDR) of one host's bridged ``container_lan_interfaces`` entries that are not
    absent, for ``host_bridge``'s ``lan_addresses`` (its check that they are on the LAN); a routed
    entry's ``container_veth`` checks against its uplink."""
    out = []
    for entry in entries or []:
        if isinstance(entry, dict) and entry.get("state", "present") != "absent" and _mode(entry, mode) == "bridged":
            out.extend(str(a) for a in _addresses(entry))
    return out


def summary(interfaces):
    """``container  address  host port`` lines from ``container_veth``'s ``interfaces`` result."""
    rows = []
    for item in interfaces or []:
        name = item.get("container_name") or item.get("name") or item.get("container") or item.get("netns") or item.get("pid") or "?"
        addresses = ", ".join(str(a) for a in item.get("addresses") or []) or "-"
        port = item.get("host_ifname") or "-"
        ifname = item.get("ifname") or "-"
        if item.get("failed"):
            status = "FAILED: %s" % item.get("msg", "")
        elif item.get("purged"):
            status = "purged"
        elif item.get("state") == "absent":
            status = "removed" if item.get("changed") else "absent"
        else:
            status = "changed" if item.get("changed") else "ok"
        rows.append((str(name), "%s %s" % (ifname, addresses), str(port), status))
    if not rows:
        return ["(no containers listed)"]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return ["%s  %s  port %s  %s" % (r[0].ljust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]), r[3]) for r in rows]


class FilterModule:
    def filters(self):
        return {
            "container_lan_fleet_problems": fleet_problems,
            "container_lan_veth_interfaces": veth_interfaces,
            "container_lan_summary": summary,
            "container_lan_addresses": lan_addresses,
            "container_lan_builds_bridge": builds_bridge,
        }
