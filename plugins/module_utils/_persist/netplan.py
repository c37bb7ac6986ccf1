# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""netplan: ``/etc/netplan/90-lanbridge-<bridge>.yaml`` (0600) with the bridge and its port.

netplan reads /lib, /etc and /run/netplan/*.yaml in lexical order of their names (a name in /run
shadows /etc, /etc shadows /lib); a later file overrides an earlier one's scalars, merges mappings
and CONCATENATES sequences. So a ``dhcp4: false`` of ours overrides the administrator's
``dhcp4: true``, but their uplink's ``addresses``, ``routes`` and ``nameservers`` would survive the
merge and stay on the port. Hence every administrator's file in /etc/netplan with an entry for the
uplink (its id, ``match: {name}``/``{macaddress}`` or ``set-name``) is moved, byte for byte, to
``<path>.lanbridge-saved`` (not ``.yaml``: ignored) and rewritten without that entry's addressing
keys (``ADDRESSING``); everything else (``match``, ``set-name``, ``mtu``, other interfaces,
comments) stays as written. Ours reuses that entry's id, so the two merge. A file outside /etc with
such an entry is left alone with a warning (/run shadows /etc, it cannot be overridden from there).

``forward-delay`` is written in whole seconds (rounded): netplan passes the string on as it is, to
networkd's ``ForwardDelaySec=`` and to NetworkManager's ``bridge.forward-delay``, an unsigned integer.

DHCP keeps the uplink's client identity: ``dhcp-identifier`` as the administrator wrote it; for
networkd's default (``duid``: DUID and an IAID derived from the interface), netplan has no IAID key,
so the uplink's IAID is pinned in a networkd drop-in for the file netplan generates
(``/etc/systemd/network/10-netplan-<bridge>.network.d/90-lanbridge-iaid.conf``, ``[DHCPv4] IAID=``).
"""

import fnmatch
import posixpath

from ansible_collections.lanbridge.core.plugins.module_utils._persist import common, yamlish

ETC = "/etc/netplan"
DIRS = ("/lib/netplan", ETC, "/run/netplan")
ADDRESSING = ("addresses", "gateway4", "gateway6", "routes", "routing-policy", "nameservers", "dhcp4", "dhcp6",
              "dhcp4-overrides", "dhcp6-overrides", "dhcp-identifier", "accept-ra", "ra-overrides", "ipv6-privacy",
              "ipv6-address-generation", "ipv6-address-token", "link-local", "optional-addresses")


NETWORKD_DROPINS = "/etc/systemd/network/10-netplan-%s.network.d"
IAID_DROPIN = "90-lanbridge-iaid.conf"


def reads(model, current=None):
    return [d + "/*.yaml" for d in DIRS] + [ETC + "/*" + common.SAVED_SUFFIX, iaid_path(model)]


def iaid_path(model):
    """A networkd drop-in for the ``.network`` file netplan generates for the bridge
    (``/run/systemd/network/10-netplan-<bridge>.network``): netplan has no IAID key of its own."""
    return "%s/%s" % (NETWORKD_DROPINS % model["bridge"], IAID_DROPIN)


def path_of(model):
    return "%s/90-lanbridge-%s.yaml" % (ETC, model["bridge"])


def claims(entry_id, entry, uplink, mac=None):
    """Whether the ``ethernets`` entry ``entry_id`` configures ``uplink``."""
    entry = entry if isinstance(entry, dict) else {}
    match = entry.get("match") if isinstance(entry.get("match"), dict) else None
    if entry.get("set-name") == uplink:
        return True
    if match is None:
        return entry_id == uplink
    if "name" in match and not fnmatch.fnmatchcase(uplink, str(match["name"])):
        return False
    if "macaddress" in match and (not mac or str(match["macaddress"]).lower() != mac.lower()):
        return False
    return bool(match)


def entries(text, uplink, mac=None):
    """The ids of ``text``'s ``ethernets`` entries that configure ``uplink``."""
    doc = yamlish.parse(text) if text else None
    network = doc.get("network") if isinstance(doc, dict) else None
    ethernets = network.get("ethernets") if isinstance(network, dict) else None
    if not isinstance(ethernets, dict):
        return []
    return [i for i, entry in ethernets.items() if claims(i, entry, uplink, mac)]


def strip_addressing(text, entry_id):
    """``text`` without the addressing keys of ``network.ethernets.<entry_id>``, all else as written."""
    lines = text.splitlines(True)
    spans = yamlish.key_spans(text)
    path = ("network", "ethernets", entry_id)
    if path not in spans:
        raise ValueError("cannot rewrite the netplan entry %s: it is not written in block style" % entry_id)
    first, last = spans[path]
    head = lines[first]
    indent = head[:len(head) - len(head.lstrip())]
    rest = head.split(":", 1)[1].split("#", 1)[0].strip() if ":" in head else ""
    if rest:
        entry = yamlish.parse("x: " + rest)["x"] or {}
        kept = dict((k, v) for k, v in entry.items() if k not in ADDRESSING)
        lines[first] = "%s%s: %s\n" % (indent, head.strip().split(":", 1)[0], yamlish.flow(kept))
        return "".join(lines)
    for key in sorted((k for k in ADDRESSING if path + (k,) in spans), key=lambda k: -spans[path + (k,)][0]):
        a, b = spans[path + (key,)]
        del lines[a:b]
        last -= b - a
    if not any(ln.strip() and not ln.lstrip().startswith("#") for ln in lines[first + 1:last]):
        lines[first] = head.rstrip("\r\n") + " {}\n"
    return "".join(lines)


def _ours(model, entry_id):
    m, out = model, [common.MARKER, "network:", "  version: 2", "  ethernets:", "    %s:" % yamlish.flow(entry_id)]
    out += ["      dhcp4: false", "      dhcp6: false", "      accept-ra: false", "      link-local: []"]
    out += ["      mtu: %d" % m["mtu"]] if m["mtu"] else []
    out += ["  bridges:", "    %s:" % m["bridge"], "      interfaces: [%s]" % yamlish.flow(entry_id),
            '      macaddress: "%s"' % m["mac"]]
    out += ["      mtu: %d" % m["mtu"]] if m["mtu"] else []
    out += ["      parameters:", "        stp: %s" % ("true" if m["stp"] else "false"),
            "        forward-delay: %s" % common.whole_seconds(m["forward_delay"])]
    out += ["      dhcp4: %s" % ("true" if m["ipv4"]["method"] == "dhcp" else "false"),
            "      dhcp6: %s" % ("true" if m["ipv6"]["method"] == "dhcp" else "false"),
            "      accept-ra: %s" % ("true" if m["ipv6"]["method"] in ("ra", "dhcp") else "false")]
    client_id = m["dhcp"]["client_id"] if m["ipv4"]["method"] == "dhcp" else None
    out += ["      dhcp-identifier: %s" % yamlish.flow(client_id)] if client_id else []
    out += ["      link-local: []"] if m["ipv6"]["method"] == "off" else []
    addresses = m["ipv4"]["addresses"] + m["ipv6"]["addresses"]
    out += ["      addresses:"] + ["        - %s" % yamlish.flow(a) for a in addresses] if addresses else []
    routes = [{"dst": "default", "gateway": m[f]["gateway"]} for f in ("ipv4", "ipv6") if m[f]["gateway"]]
    routes += m["ipv4"]["routes"] + m["ipv6"]["routes"]
    if routes:
        out.append("      routes:")
    for r in routes:
        out.append("        - to: %s" % yamlish.flow(r["dst"]))
        out += ["          via: %s" % yamlish.flow(r["gateway"])] if r.get("gateway") else []
        out += ["          metric: %d" % r["metric"]] if r.get("metric") is not None else []
        out += ["          on-link: true"] if r.get("onlink") else []
    if m["dns"] or m["search"]:
        out.append("      nameservers:")
        out += ["        addresses: %s" % yamlish.flow(m["dns"])] if m["dns"] else []
        out += ["        search: %s" % yamlish.flow(m["search"])] if m["search"] else []
    return "\n".join(out) + "\n"


def render(model, current):
    result = common.plan()
    entry_id = None
    for path in sorted(current, key=posixpath.basename):
        if not path.endswith(".yaml") or common.is_ours(current[path]):
            continue
        text = common.original(current, path)
        found = entries(text, model["uplink"], model["mac"])
        if not found:
            continue
        entry_id = entry_id or found[0]
        if posixpath.dirname(path) != ETC:
            result["warnings"].append("%s configures %s and is not in %s: its addresses stay on the port" % (path, model["uplink"], ETC))
            continue
        new = text
        for each in found:
            new = strip_addressing(new, each)
        common.set_aside(result, current, path)
        common.write(result, path, new, 0o600)
        if "cloud-init" in path or "provided by the datasource" in text:
            result["warnings"].append("%s is cloud-init's: disable cloud-init's network configuration "
                                      "(network: {config: disabled}) or it may write the uplink's addresses back" % path)
    common.write(result, path_of(model), _ours(model, entry_id or model["uplink"]), 0o600)
    if model["ipv4"]["method"] == "dhcp" and model["dhcp"]["iaid"] is not None and model["dhcp"]["client_id"] != "mac":
        common.write(result, iaid_path(model), common.ini([("DHCPv4", [("IAID", str(model["dhcp"]["iaid"]))])]))
    return result


def restore(current):
    return common.restore(current)
