# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""netplan: ``/etc/netplan/90-lanbridge-<bridge>.yaml`` (0600) with the bridge and its port.

netplan reads /lib, /etc and /run/netplan/*.yaml in lexical order of their names (a name in /run
shadows /etc, /etc shadows /lib), the first YAML document of each; a later file overrides an
earlier one's scalars, merges mappings and CONCATENATES sequences. Ours sorts late and reuses the
id of the administrator's entry for the uplink (its id, ``match: {name}``/``{macaddress}`` or
``set-name``), so the two merge:

- the bridge gets the uplink's whole layer-3 configuration as the administrator wrote it, merged
  across their files as netplan merges it (``MOVED``: addresses, routes, routing policy, DHCP and
  its overrides, DNS servers and search domains, RA, link-local, ...; ``COPIED``: ``optional``
  and a per-device ``renderer``, which the port keeps too); without an entry, the model's;
- ours overrides the port's scalars (``OVERRIDDEN``: ``dhcp4``, ``dhcp6``, ``accept-ra`` false,
  ``link-local: []``), so those stay in the administrator's text;
- what a later file cannot take back (sequences, which concatenate; ``gateway4``, mappings) is
  removed from the administrator's entry (``REMOVED``) in place (``netplan_yaml.remove_keys``: the
  lines of those keys go, every other line, comment and anchor stays). That file is moved, byte for
  byte, to ``<path>.lanbridge-saved`` (not ``.yaml``: ignored) first; a file with nothing to remove
  is not touched. One outside /etc with such keys is left alone with a warning (/run shadows /etc).

Refused before any change, naming the key: an uplink entry whose ``match`` may take other
interfaces (a glob in ``name``, ``driver``), an uplink another device is built on (a bridge's, bond's
or VRF's ``interfaces``, a VLAN's ``link``), a renderer other than networkd and NetworkManager, and
(``netplan_yaml``) keys that share an anchor with another entry.

``forward-delay`` is written in whole seconds (rounded): netplan passes the string on as it is, to
networkd's ``ForwardDelaySec=`` and to NetworkManager's ``bridge.forward-delay``, an unsigned integer.

DHCP keeps the uplink's client identity: ``dhcp-identifier`` as the administrator wrote it; for
networkd's default (``duid``: DUID and an IAID derived from the interface), netplan has no IAID key,
so the uplink's IAID is pinned in a networkd drop-in for the file netplan generates
(``/etc/systemd/network/10-netplan-<bridge>.network.d/90-lanbridge-iaid.conf``, ``[DHCPv4] IAID=``).

``uplink_entry(current, uplink, mac)`` -> ``{'id', 'entry', 'renderer', 'files'}`` of the
    administrator's configuration of the uplink (originals: as before our first run), or None.
``claimed(files, uplink, mac)`` -> ``[(path, entry_id, renderer)]`` of the files that configure it.
"""

import fnmatch
import posixpath

from ansible_collections.lanbridge.core.plugins.module_utils._persist import common, netplan_yaml
from ansible_collections.lanbridge.core.plugins.module_utils._persist.model import FAMILIES
from ansible_collections.lanbridge.core.plugins.module_utils._errors import PersistError

ETC = "/etc/netplan"
DIRS = ("/lib/netplan", ETC, "/run/netplan")
OVERRIDDEN = {"dhcp4": "false", "dhcp6": "false", "accept-ra": "false", "link-local": []}
REMOVED = ("addresses", "gateway4", "gateway6", "routes", "routing-policy", "nameservers", "dhcp4-overrides",
           "dhcp6-overrides", "dhcp-identifier", "ra-overrides", "ipv6-privacy", "ipv6-address-generation",
           "ipv6-address-token", "ipv6-mtu", "optional-addresses")
MOVED = tuple(OVERRIDDEN) + REMOVED
COPIED = ("optional", "renderer")
RENDERERS = ("networkd", "NetworkManager")
GLOB = "*?["

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


def _claims(entry_id, entry, uplink, mac=None):
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


def _network(text, path):
    _node, doc = netplan_yaml.load(text, path) if text else (None, None)
    network = doc.get("network") if isinstance(doc, dict) else None
    return network if isinstance(network, dict) else {}


def _in_order(files):
    """``[(path, text)]`` netplan reads, in its order (by name; /run shadows /etc, /etc shadows /lib)."""
    found = {}
    for directory in DIRS:
        for path in files:
            if posixpath.dirname(path) == directory and path.endswith(".yaml"):
                found[posixpath.basename(path)] = path
    return [(found[name], files[found[name]]) for name in sorted(found)]


def claimed(files, uplink, mac=None):
    out, renderer = [], "networkd"
    for path, text in _in_order(files):
        network = _network(text, path)
        renderer = network.get("renderer") or renderer
        ethernets = network.get("ethernets") if isinstance(network.get("ethernets"), dict) else {}
        for entry_id, entry in ethernets.items():
            if _claims(entry_id, entry, uplink, mac):
                out.append((path, entry_id, (entry.get("renderer") if isinstance(entry, dict) else None) or renderer))
    return out


def _merge(old, new):
    """netplan's merge of two files' values: mappings merged, sequences concatenated, scalars replaced."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = dict(old)
        for key, value in new.items():
            out[key] = _merge(old[key], value) if key in old else value
        return out
    if isinstance(old, list) and isinstance(new, list):
        return old + new
    return new


def _refuse_match(path, entry_id, entry, uplink):
    match = entry.get("match") if isinstance(entry.get("match"), dict) else {}
    for key, value in sorted(match.items()):
        if key == "driver" or (key == "name" and any(c in str(value) for c in GLOB)):
            raise PersistError("persist netplan: network.ethernets.%s.match.%s in %s (%s) may match other interfaces than "
                               "%s, which would all become ports of the bridge: match %s by its name or MAC address"
                               % (entry_id, key, path, value, uplink, uplink))


def _refuse_users(originals, ids, uplink):
    """Refuse an uplink another netplan device is built on: a bridge's, bond's or VRF's member, a VLAN's
    (or tunnel's) ``link``; after the move it would have to be built on the bridge."""
    for path, text in _in_order(originals):
        for kind, devices in sorted(_network(text, path).items()):
            for name, written in sorted(devices.items()) if isinstance(devices, dict) else ():
                device = written if isinstance(written, dict) else {}
                members = device.get("interfaces") if isinstance(device.get("interfaces"), list) else []
                key = "interfaces" if set(members) & set(ids) else ("link" if device.get("link") in ids else None)
                if key:
                    raise PersistError("persist netplan: network.%s.%s.%s in %s uses %s: it would have to be built on the "
                                       "bridge instead; host_bridge does not move it" % (kind, name, key, path, uplink))


def uplink_entry(current, uplink, mac=None):
    originals = dict((p, common.original(current, p)) for p in current if p.endswith(".yaml") and not common.is_ours(current[p]))
    found = claimed(originals, uplink, mac)
    if not found:
        return None
    merged, files = {}, []
    for path, entry_id, _renderer in found:
        entry = _network(originals[path], path)["ethernets"][entry_id]
        entry = entry if isinstance(entry, dict) else {}
        _refuse_match(path, entry_id, entry, uplink)
        merged = _merge(merged, entry)
        files.append((path, entry_id))
    _refuse_users(originals, set(entry_id for _p, entry_id, _r in found), uplink)
    renderer = found[-1][2]
    if renderer not in RENDERERS:
        raise PersistError("persist netplan: %s's renderer is %s (network.renderer or network.ethernets.%s.renderer in %s): "
                           "host_bridge persists through %s only" % (uplink, renderer, found[-1][1], found[-1][0], " or ".join(RENDERERS)))
    return {"id": found[0][1], "entry": merged, "renderer": renderer, "files": files}


def _bool(value):
    return "true" if value else "false"


def _from_model(m):
    """The bridge's layer-3 keys from the model (no administrator's entry for the uplink)."""
    out = {"dhcp4": _bool(m["inet"]["method"] == "dhcp"), "dhcp6": _bool(m["inet6"]["method"] == "dhcp"),
           "accept-ra": _bool(m["inet6"]["method"] in ("ra", "dhcp"))}
    if m["inet"]["method"] == "dhcp" and m["dhcp"]["client_id"]:
        out["dhcp-identifier"] = m["dhcp"]["client_id"]
    if m["inet6"]["method"] == "off":
        out["link-local"] = []
    addresses = m["inet"]["addresses"] + m["inet6"]["addresses"]
    if addresses:
        out["addresses"] = addresses
    routes = [{"dst": "default", "gateway": m[f]["gateway"]} for f in FAMILIES if m[f]["gateway"]]
    routes += m["inet"]["routes"] + m["inet6"]["routes"]
    if routes:
        out["routes"] = [dict([("to", r["dst"])] + ([("via", r["gateway"])] if r.get("gateway") else [])
                              + ([("metric", str(r["metric"]))] if r.get("metric") is not None else [])
                              + ([("on-link", "true")] if r.get("onlink") else [])) for r in routes]
    nameservers = dict(([("addresses", m["dns"])] if m["dns"] else []) + ([("search", m["search"])] if m["search"] else []))
    if nameservers:
        out["nameservers"] = nameservers
    return out


def _ours(model, admin):
    m, entry_id = model, admin["id"] if admin else model["uplink"]
    mtu = [("mtu", str(m["mtu"]))] if m["mtu"] else []
    port = dict(list(OVERRIDDEN.items()) + mtu)
    bridge = dict([("interfaces", [entry_id]), ("macaddress", m["mac"])] + mtu
                  + [("parameters", {"stp": _bool(m["stp"]), "forward-delay": common.whole_seconds_text(m["forward_delay"])})])
    if admin:
        bridge.update((k, v) for k, v in admin["entry"].items() if k in MOVED + COPIED)
    else:
        bridge.update(_from_model(m))
    return netplan_yaml.dump({"network": {"version": "2", "ethernets": {entry_id: port}, "bridges": {m["bridge"]: bridge}}},
                             common.MARKER)


def render(model, current):
    result = common.plan()
    admin = uplink_entry(current, model["uplink"], model["mac"])
    for path, entry_id in (admin or {}).get("files", []):
        text = common.original(current, path)
        new = netplan_yaml.remove_keys(text, path, ("network", "ethernets", entry_id), REMOVED)
        if new == text:
            continue
        if posixpath.dirname(path) != ETC:
            result["warnings"].append("%s configures %s and is not in %s: its addresses stay on the port" % (path, model["uplink"], ETC))
            continue
        common.set_aside(result, current, path)
        common.write(result, path, new, 0o600)
        if "cloud-init" in path or "provided by the datasource" in text:
            result["warnings"].append("%s is cloud-init's: disable cloud-init's network configuration "
                                      "(network: {config: disabled}) or it may write the uplink's addresses back" % path)
    common.write(result, path_of(model), _ours(model, admin), 0o600)
    if model["inet"]["method"] == "dhcp" and model["dhcp"]["iaid"] is not None and model["dhcp"]["client_id"] != "mac":
        common.write(result, iaid_path(model), common.ini([("DHCPv4", [("IAID", str(model["dhcp"]["iaid"]))])]))
    return result


def restore(current):
    return common.restore(current)
