# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""NetworkManager (keyfiles, NM >= 1.40): a bridge profile, a port profile, a conf.d snippet.

- ``system-connections/lanbridge-<bridge>.nmconnection`` (0600; NM ignores keyfiles others can
  read): ``type=bridge``, a stable ``uuid5`` of the bridge's name, ``[ethernet] cloned-mac-address``
  (NM documents ``bridge.mac-address`` as deprecated in its favour) and ``mtu``, ``[bridge] stp=false
  forward-delay=...`` (the bridge's, rounded to whole seconds: an unsigned integer), ``[ipv4]``/``[ipv6]``
  from the model; with DHCP, the administrator's ``ipv4.dhcp-client-id``/``ipv4.dhcp-iaid`` when their profile sets them (unset,
  NetworkManager's internal client sends ``mac``: the cloned MAC, the same client id as the uplink's);
- ``system-connections/lanbridge-<uplink>-port.nmconnection`` (0600): the uplink as the bridge's
  port (``master=<bridge uuid>``, ``slave-type=bridge``; no IP settings) with an
  ``autoconnect-priority`` above every other profile for the uplink;
- ``conf.d/99-lanbridge-unmanaged.conf``: ``[keyfile] unmanaged-devices+=interface-name:<veth_pattern>``
  (NM would otherwise make "Wired connection" profiles for new veths and run DHCP on them). ``+=``
  appends to what earlier files set; named ``99-`` so no later file in /etc replaces the list.

The administrator's profile for the uplink (``interface-name=`` or ``[ethernet] mac-address=``) is
left untouched: NM documents that among the profiles that may autoconnect on a device the one with
the higher ``autoconnect-priority`` is chosen (at boot and whenever the device autoconnects again,
after a carrier loss), and theirs comes back by itself once ours is removed. Only when theirs already
has the maximum priority (999) is it moved to its saved name and rewritten with ``autoconnect=false``.
"""

import posixpath
import re
import uuid

from ansible_collections.lanbridge.core.plugins.module_utils._kernel.codec import family_of
from ansible_collections.lanbridge.core.plugins.module_utils._persist import common

CONNECTIONS = "/etc/NetworkManager/system-connections"
RUN_CONNECTIONS = "/run/NetworkManager/system-connections"
CONF = "/etc/NetworkManager/conf.d/99-lanbridge-unmanaged.conf"
PRIORITY = 100
PRIORITY_MAX = 999
# the keys of [ipv4]/[ipv6] the model writes; every other key of the administrator's is carried as written
MODEL_KEYS = re.compile(r"^(method|addresses|address\d+|gateway|routes|route\d+(_options)?|dhcp-client-id|dhcp-iaid)$")
NAMESPACE = uuid.UUID("6f1f5c7e-3a5b-4c1e-9a57-6c616e627231")  # lanbridge's own uuid5 namespace


def reads(model, current=None):
    return [CONNECTIONS + "/*.nmconnection", CONNECTIONS + "/*" + common.SAVED_SUFFIX, RUN_CONNECTIONS + "/*.nmconnection", CONF]


def bridge_uuid(bridge):
    return str(uuid.uuid5(NAMESPACE, "bridge:" + bridge))


def port_uuid(bridge, uplink):
    return str(uuid.uuid5(NAMESPACE, "port:%s:%s" % (bridge, uplink)))


def paths(model):
    return {"bridge": "%s/lanbridge-%s.nmconnection" % (CONNECTIONS, model["bridge"]),
            "port": "%s/lanbridge-%s-port.nmconnection" % (CONNECTIONS, model["uplink"])}


def profiles_for(current, uplink, mac=None):
    """``{path: sections}`` of the profiles (not ours) that may activate on ``uplink``."""
    found = {}
    for path, text in sorted(current.items()):
        if not path.endswith(".nmconnection") or common.is_ours(text):
            continue
        sections = common.ini_parse(text)
        name = common.ini_value(sections, "connection", "interface-name")
        hw = (common.ini_value(sections, "ethernet", "mac-address") or "").lower()
        any_ethernet = not name and not hw and common.ini_value(sections, "connection", "type") in ("ethernet", "802-3-ethernet")
        if name == uplink or (mac and hw == mac.lower()) or any_ethernet:
            found[path] = sections
    return found


def priority_of(sections):
    try:
        return int(common.ini_value(sections, "connection", "autoconnect-priority", "0"))
    except ValueError:
        return 0


def _autoconnects(sections):
    return (common.ini_value(sections, "connection", "autoconnect", "true") or "true").lower() not in ("false", "no", "0")


def admin_profile(current, uplink, mac=None):
    """``(path, sections)`` of the administrator's profile for ``uplink``, or None: the one
    NetworkManager activates on it by itself (a profile that autoconnects before one that does not,
    then the highest ``autoconnect-priority``, then the first by path), read from the originals
    (``common.original``: as before our first run). Its addressing is what the bridge gets, and it
    is the profile rollback and ``state: absent`` bring up again."""
    found = profiles_for(dict((p, common.original(current, p)) for p in current if p.endswith(".nmconnection")), uplink, mac)
    if not found:
        return None
    best = max(sorted(found), key=lambda p: (_autoconnects(found[p]), priority_of(found[p])))
    return best, found[best]


def profile_name(path, sections):
    """The profile's id (NetworkManager's default: the keyfile's name without ``.nmconnection``)."""
    return common.ini_value(sections, "connection", "id") or posixpath.basename(path)[:-len(".nmconnection")]


def up_argv(path, sections):
    """``nmcli connection up`` for the profile at ``path``: by its uuid (ids need not be unique), else its id."""
    uuid_ = common.ini_value(sections, "connection", "uuid")
    if uuid_:
        return ["nmcli", "connection", "up", "uuid", uuid_]
    return ["nmcli", "connection", "up", "id", profile_name(path, sections)]


def carried(sections):
    """``{'ipv4': items, 'ipv6': items}``: the settings of the administrator's profile (its sections)
    for each family beyond what the model writes (DNS servers and search domains, routing rules,
    DHCP options, ``may-fail``, ``addr-gen-mode``, ...), as written."""
    return dict((name, [(k, v) for k, v in items if not MODEL_KEYS.match(k)]) for name, items in sections if name in ("ipv4", "ipv6"))


def _family(model, family):
    """The keyfile section of ``family`` (NetworkManager's ``[ipv4]`` for ``inet``, ``[ipv6]`` for ``inet6``)."""
    fam = model[family]
    methods = {"inet": {"static": "manual", "dhcp": "auto", "off": "disabled"},
               "inet6": {"static": "manual", "dhcp": "dhcp", "ra": "auto", "off": "disabled"}}[family]
    written = (model["carried"] or {}).get({"inet": "ipv4", "inet6": "ipv6"}[family], [])
    own = set(k for k, _v in written)
    items = [("method", methods[fam["method"]])]
    for i, address in enumerate(fam["addresses"], 1):
        gateway = "," + fam["gateway"] if i == 1 and fam["gateway"] else ""
        items.append(("address%d" % i, address + gateway))
    mine = [d for d in model["dns"] if family_of(d) == family]
    if mine and fam["method"] != "off" and "dns" not in own:
        items.append(("dns", ";".join(mine) + ";"))
    search_in = "inet" if model["inet"]["method"] != "off" else "inet6"
    if model["search"] and family == search_in and fam["method"] != "off" and "dns-search" not in own:
        items.append(("dns-search", ";".join(model["search"]) + ";"))
    if family == "inet" and fam["method"] == "dhcp":
        items += [(k, str(model["dhcp"][n])) for k, n in (("dhcp-client-id", "client_id"), ("dhcp-iaid", "iaid"))
                  if model["dhcp"][n] is not None]
    for i, r in enumerate(fam["routes"], 1):
        value = r["dst"]
        if r.get("gateway") or r.get("metric") is not None:
            value += "," + (r.get("gateway") or ("::" if family == "inet6" else "0.0.0.0"))
        if r.get("metric") is not None:
            value += ",%d" % r["metric"]
        items.append(("route%d" % i, value))
        if r.get("onlink"):
            items.append(("route%d_options" % i, "onlink=true"))
    return items + written


def render(model, current):
    result = common.plan()
    files = paths(model)
    theirs = profiles_for(dict((p, common.original(current, p)) for p in current if p.endswith(".nmconnection")),
                          model["uplink"], model["mac"])
    top = max([priority_of(s) for s in theirs.values()] or [0])
    priority = min(max(PRIORITY, top + 1), PRIORITY_MAX)
    mtu = [("mtu", str(model["mtu"]))] if model["mtu"] else []
    bridge = [
        ("connection", [("id", "lanbridge-" + model["bridge"]), ("uuid", bridge_uuid(model["bridge"])), ("type", "bridge"),
                        ("interface-name", model["bridge"]), ("autoconnect", "true"), ("autoconnect-slaves", "1")]),
        ("ethernet", [("cloned-mac-address", model["mac"])] + mtu),
        ("bridge", [("stp", "true" if model["stp"] else "false"), ("forward-delay", common.whole_seconds_text(model["forward_delay"]))]),
        ("ipv4", _family(model, "inet")), ("ipv6", _family(model, "inet6")),
    ]
    port = [
        ("connection", [("id", "lanbridge-%s-port" % model["uplink"]), ("uuid", port_uuid(model["bridge"], model["uplink"])),
                        ("type", "ethernet"), ("interface-name", model["uplink"]), ("master", bridge_uuid(model["bridge"])),
                        ("slave-type", "bridge"), ("autoconnect", "true"), ("autoconnect-priority", str(priority))]),
        ("ethernet", mtu),
    ]
    common.write(result, files["bridge"], common.ini(bridge), 0o600)
    common.write(result, files["port"], common.ini(port), 0o600)
    common.write(result, CONF, common.ini([("keyfile", [("unmanaged-devices+", "interface-name:" + model["veth_pattern"])])]))
    for path, sections in sorted(theirs.items()):
        if priority_of(sections) < priority:
            continue
        if posixpath.dirname(path) != CONNECTIONS:
            result["warnings"].append("%s (not in %s) has autoconnect-priority %d: it may win over the bridge's port profile"
                                      % (path, CONNECTIONS, priority_of(sections)))
            continue
        common.set_aside(result, current, path)
        common.write(result, path, _no_autoconnect(common.original(current, path)), 0o600)
    return result


def _no_autoconnect(text):
    lines, section, done = text.splitlines(True), None, False
    out = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            if section == "connection" and not done:
                out.append("autoconnect=false\n")
                done = True
            section = stripped[1:-1]
        elif section == "connection" and stripped.split("=", 1)[0].strip() == "autoconnect":
            if not done:
                out.append("autoconnect=false\n")
            done = True
            continue
        out.append(line)
    if not done:
        out.append("autoconnect=false\n")
    return "".join(out)


def restore(current):
    return common.restore(current)
