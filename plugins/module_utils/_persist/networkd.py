# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""systemd-networkd: a ``.netdev`` for the bridge and three ``.network`` files.

networkd sorts the ``.network`` files of /etc, /run, /usr/local/lib and /usr/lib together by file
name (a name in /etc shadows the same name elsewhere) and gives each link the FIRST file that
matches it; a file whose [Match] has no settings is ignored. Ours are named ``00-lanbridge-*``, so:

- the administrator's file for the uplink (``10-em1.network``) stays where it is, untouched: ours
  sorts first and wins; with ours removed (``state: absent``) theirs applies again;
- an earlier-sorting file that matches the uplink or the bridge (``00-all.network``,
  ``00-em1.network``) would win over ours: one in /etc is moved to ``<path>.lanbridge-saved`` (not
  ``.network``: ignored), one elsewhere is shadowed by a file of the same name in /etc that holds only
  ``MARKER`` (no [Match]: ignored); restore moves it back or removes the shadow. How the uplink is
  addressed is read from the originals (``originals``: the saved copy, the shadowed file), so a
  second run sees what the first did and writes the same files;
- an earlier-sorting file that matches only the veth pattern is left alone, with a warning.

DHCP keeps the uplink's client identity: the administrator's ``[DHCPv4]`` ``ClientIdentifier=``,
``IAID=``, ``DUIDType=``, ``DUIDRawData=``; for the default client id (``duid``: 0xff, IAID, DUID, the
IAID derived from the interface's name) the uplink's IAID, read from its lease file, is pinned with
``IAID=`` (``lease_identity``), so the bridge sends the very same bytes.

Match keys evaluated: Name, OriginalName (globs, ``!`` inverts), MACAddress, PermanentMACAddress,
Type, Kind; any other key (Driver, Path, Property, Host, ...) is assumed to match (the safe side).
"""

import fnmatch
import posixpath

from ansible_collections.lanbridge.core.plugins.module_utils._persist import common
from ansible_collections.lanbridge.core.plugins.module_utils._persist.model import FAMILIES

ETC = "/etc/systemd/network"
DIRS = (ETC, "/run/systemd/network", "/usr/local/lib/systemd/network", "/usr/lib/systemd/network", "/lib/systemd/network")
PREFIX = "00-lanbridge-"
# the uplink's layer-3 settings the bridge carries as the administrator wrote them (``carried``):
# these [Network] keys, [Link] RequiredForOnline, and these sections whole
CARRIED_NETWORK = ("DNS", "Domains", "NTP", "DNSSEC", "DNSSECNegativeTrustAnchors", "DNSOverTLS", "DNSDefaultRoute", "LLMNR",
                   "MulticastDNS", "LinkLocalAddressing", "IPv6AcceptRA", "IPv6PrivacyExtensions", "IPv6Token",
                   "IPv6LinkLocalAddressGenerationMode", "IPv6DuplicateAddressDetection", "IPv6HopLimit", "IPv4LLRoute",
                   "DefaultRouteOnDevice", "KeepConfiguration")
CARRIED_SECTIONS = ("DHCPv4", "DHCPv6", "IPv6AcceptRA", "RoutingPolicyRule", "DHCPPrefixDelegation")
IDENTITY = (("ClientIdentifier", "client_id"), ("IAID", "iaid"), ("DUIDType", "duid_type"), ("DUIDRawData", "duid_raw"))
DHCP_WORD = {"inet": "ipv4", "inet6": "ipv6"}  # a family as networkd's DHCP= names it


def reads(model, current=None):
    return [d + "/*.network" for d in DIRS] + [ETC + "/*.network" + common.SAVED_SUFFIX, ETC + "/" + PREFIX + "*"]


def names(model):
    return {"netdev": PREFIX + model["bridge"] + ".netdev", "bridge": PREFIX + model["bridge"] + ".network",
            "uplink": PREFIX + model["uplink"] + ".network", "veth": PREFIX + "veth.network"}


def _glob_match(values, what):
    patterns = " ".join(values).split()
    if not patterns:
        return True
    invert = patterns[0].startswith("!")
    if invert:
        patterns = [patterns[0][1:]] + patterns[1:]
    hit = what is not None and any(fnmatch.fnmatchcase(what, p) for p in patterns if p)
    return hit != invert


def matches(text, link):
    """Whether a ``.network`` file's [Match] takes ``link`` (``{'name', 'mac', 'permanent_mac', 'type'}``)."""
    keys = {}
    for name, items in common.ini_parse(text):
        if name != "Match":
            continue
        for key, value in items:
            keys[key] = [] if value == "" else keys.get(key, []) + [value]
    keys = dict((k, v) for k, v in keys.items() if v)
    if not keys:
        return False
    found = {"Name": link["name"], "OriginalName": link["name"], "MACAddress": link["mac"],
             "PermanentMACAddress": link.get("permanent_mac"), "Type": link["type"], "Kind": link.get("kind")}
    for key, values in keys.items():
        if key in ("MACAddress", "PermanentMACAddress"):
            listed = " ".join(values).lower().split()
            if found[key] not in listed:
                return False
        elif key in found and not _glob_match(values, found[key]):
            return False
    return True


def effective(current):
    """``{basename: path}`` of the .network files networkd reads (by its shadowing rules)."""
    found = {}
    for directory in reversed(DIRS):
        for path in current:
            if posixpath.dirname(path) == directory and path.endswith(".network"):
                found[posixpath.basename(path)] = path
    return dict((b, p) for b, p in found.items() if current[p].strip() != "")  # empty = masked


def originals(current):
    """``{path: text}``: the administrator's files as they were before any run of ours: each saved copy back
    at the path it was moved from, without our files (ours and the shadows of files outside /etc). What the
    administrator configured is read from these: after a first run, the file it moved aside or shadowed
    is no longer one networkd reads, but still the one that says how the uplink is addressed."""
    return common.simulate(current, common.restore(current))


def _links(model):
    return {
        "uplink": {"name": model["uplink"], "mac": model["mac"], "permanent_mac": model["mac"], "type": "ether"},
        "bridge": {"name": model["bridge"], "mac": model["mac"], "permanent_mac": None, "type": "bridge", "kind": "bridge"},
        "veth": {"name": model["veth_pattern"].replace("*", "0").replace("?", "0"), "mac": None, "type": "ether", "kind": "veth"},
    }


def carried(sections):
    """``[(section, items)]``: the layer-3 settings of the administrator's ``.network`` file (its
    sections) that the bridge's file carries as written (``CARRIED_NETWORK``, ``RequiredForOnline``,
    ``CARRIED_SECTIONS``); addresses, gateways, routes and ``DHCP=`` come from the model."""
    out = []
    for name, written in sections:
        keep = {"Network": CARRIED_NETWORK, "Link": ("RequiredForOnline",)}.get(name)
        if keep is None and name not in CARRIED_SECTIONS:
            continue
        items = [(k, v) for k, v in written if keep is None or k in keep]
        if items or name == "RoutingPolicyRule":
            out.append((name, items))
    return out


def dhcp4_section(identity, written=()):
    """``[('DHCPv4', items)]``: the administrator's ``[DHCPv4]`` settings (``written``) with the uplink's
    client identity (``model['dhcp']``) in place of theirs, or ``[]``."""
    items = [(k, v) for k, v in written if k not in dict(IDENTITY)]
    items += [(key, str(identity[name])) for key, name in IDENTITY if identity.get(name) is not None]
    return [("DHCPv4", items)] if items else []


def lease_identity(text):
    """The client identity of a networkd lease file (``/run/systemd/netif/leases/IFINDEX``): ``{'client_id':
    hex, 'iaid': int or None, 'duid': hex or None}`` from its ``CLIENTID=`` (RFC 4361: type 0xff, the
    4-byte IAID, the DUID), or None without one."""
    for line in (text or "").splitlines():
        if line.startswith("CLIENTID="):
            value = line.split("=", 1)[1].strip().lower()
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                return None
            if len(raw) > 5 and raw[0] == 0xFF:
                return {"client_id": value, "iaid": int.from_bytes(raw[1:5], "big"), "duid": raw[5:].hex()}
            return {"client_id": value, "iaid": None, "duid": None} if raw else None
    return None


def _bridge_network(model):
    carried_ = model["carried"] or []
    written = [(k, v) for name, items in carried_ if name == "Network" for k, v in items]
    own = set(k for k, _v in written)
    net = [("Address", a) for a in model["inet"]["addresses"] + model["inet6"]["addresses"]]
    net += [("Gateway", model[f]["gateway"]) for f in FAMILIES if model[f]["gateway"]]
    dhcp = [DHCP_WORD[f] for f in FAMILIES if model[f]["method"] == "dhcp"]
    if dhcp:
        net.append(("DHCP", "yes" if len(dhcp) == 2 else dhcp[0]))
    v6 = model["inet6"]["method"]
    derived = [("IPv6AcceptRA", "yes" if v6 in ("ra", "dhcp") else "no")] + ([("LinkLocalAddressing", "no")] if v6 == "off" else [])
    derived += [("DNS", d) for d in model["dns"]] + ([("Domains", " ".join(model["search"]))] if model["search"] else [])
    net += [(k, v) for k, v in derived if k not in own] + written
    # the bridge's carrier follows its ports: a flap of the uplink must not drop its addresses
    net += [("ConfigureWithoutCarrier", "yes"), ("IgnoreCarrierLoss", "yes")]
    sections = [("Match", [("Name", model["bridge"])])]
    sections += [(name, items) for name, items in carried_ if name == "Link"] + [("Network", net)]
    dhcp4 = [item for name, items in carried_ if name == "DHCPv4" for item in items]
    if model["inet"]["method"] == "dhcp":
        sections += dhcp4_section(model["dhcp"], dhcp4)
    elif dhcp4:
        sections.append(("DHCPv4", dhcp4))
    sections += [(name, items) for name, items in carried_ if name not in ("Network", "Link", "DHCPv4")]
    for family in FAMILIES:
        for route in model[family]["routes"]:
            items = [("Destination", route["dst"])]
            if route.get("gateway"):
                items.append(("Gateway", route["gateway"]))
            if route.get("metric") is not None:
                items.append(("Metric", str(route["metric"])))
            if route.get("onlink"):
                items.append(("GatewayOnLink", "yes"))
            sections.append(("Route", items))
    return sections


def render(model, current):
    result = common.plan()
    files = names(model)
    netdev = [("NetDev", [("Name", model["bridge"]), ("Kind", "bridge"), ("MACAddress", model["mac"])]
               + ([("MTUBytes", str(model["mtu"]))] if model["mtu"] else [])),
              ("Bridge", [("STP", "yes" if model["stp"] else "no"), ("ForwardDelaySec", common.seconds_text(model["forward_delay"]))])]
    uplink = [("Match", [("Name", model["uplink"])])]
    if model["mtu"]:
        uplink.append(("Link", [("MTUBytes", str(model["mtu"]))]))
    uplink.append(("Network", [("Bridge", model["bridge"]), ("LinkLocalAddressing", "no"), ("IPv6AcceptRA", "no")]))
    veth = [("Match", [("Name", model["veth_pattern"])]), ("Link", [("Unmanaged", "yes")])]
    for key, sections in (("netdev", netdev), ("bridge", _bridge_network(model)), ("uplink", uplink), ("veth", veth)):
        common.write(result, ETC + "/" + files[key], common.ini(sections))
    _set_aside(model, current, files, result)
    return result


def _set_aside(model, current, files, result):
    """Set aside (or shadow) the administrator's files that would win over ours, judged on their
    originals: a second run finds the same files, sets aside nothing more and writes the same shadows."""
    links, admin = _links(model), originals(current)
    for base, path in sorted(effective(admin).items()):
        if base.startswith(PREFIX) or common.is_ours(admin[path]):
            continue
        claims = [k for k in ("uplink", "bridge") if base < files[k] and matches(admin[path], links[k])]
        if claims and posixpath.dirname(path) == ETC:
            common.set_aside(result, current, path)
        elif claims:
            common.write(result, ETC + "/" + base, common.MARKER + "\n")
        if claims:
            result["warnings"].append("%s matches the %s (%s) and sorts before lanbridge's file: set aside while the bridge "
                                      "is persisted" % (path, " and the ".join(claims), model[claims[0]]))
        elif base < files["veth"] and matches(admin[path], links["veth"]):
            result["warnings"].append("%s sorts before %s and matches the container veths (%s): networkd may configure "
                                      "them" % (path, files["veth"], model["veth_pattern"]))


def restore(current):
    return common.restore(current)
