# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who owns the uplink, and how its owner addresses it: pure functions on what the caller read.

``owners(uplink, ifindex, state)`` -> ``[{'manager', 'evidence', ...}]``, each manager that claims
    the uplink; ``state`` is ``{'networkd_link': text of /run/systemd/netif/links/<ifindex> or None,
    'nm_devices': output of ``nmcli -t -f DEVICE,STATE,CONNECTION device`` or None,
    'ifupdown_state': text of /run/network/ifstate (+ ifstate.<uplink>) or None,
    'netplan': {path: text of /etc/netplan/*.yaml}, 'nm_running': bool, 'networkd_running': bool,
    'mac': the uplink's permanent MAC (optional, for netplan ``match: macaddress``)}``.
    netplan generates for networkd or NetworkManager: when it configures the uplink it is reported
    (with ``renderer``) and the claim of the backend running netplan's generated file is folded into it.
``choose(found)`` -> the one entry of ``owners``, None when nobody claims the uplink; raises
    ``PersistError`` when two do.
``addressing_of(manager, uplink, current, mac=None)`` -> ``{'inet': 'static'|'dhcp'|'off',
    'inet6': 'static'|'dhcp'|'ra'|'off'}`` from the manager's own files (``current``, that renderer's reads),
    the administrator's as they were before our first run: a saved copy stands for the file it was saved
    from (moved aside or rewritten), a file ours shadows still counts, ours never do. NetworkManager's:
    the profile ``networkmanager.admin_profile`` chooses.
``dhcp_identity_of(manager, bridge, uplink, current, mac=None, leases=())`` -> ``(identity, warnings)``:
    the uplink's DHCPv4 client identity to keep on the bridge (``model_from``'s ``dhcp``).
``carried_of(manager, uplink, current, mac=None)`` -> the rest of the uplink's layer-3 configuration
    in the manager's words, from the administrator's files as they were before our first run
    (``model_from``'s ``carried``; netplan: ``{}``, its renderer reads the entry itself).
"""

from ansible_collections.lanbridge.core.plugins.module_utils._kernel.codec import family_of
from ansible_collections.lanbridge.core.plugins.module_utils._persist import common, ifupdown, netplan, netplan_yaml, networkd, networkmanager
from ansible_collections.lanbridge.core.plugins.module_utils._errors import PersistError

NAMES = {"networkd": "systemd-networkd", "networkmanager": "NetworkManager", "ifupdown": "ifupdown", "netplan": "netplan"}


def _kv(text):
    return dict(line.split("=", 1) for line in (text or "").splitlines() if "=" in line and not line.startswith("#"))


def _networkd(uplink, state):
    if state.get("networkd_link") is None or state.get("networkd_running") is False:
        return None
    keys = _kv(state["networkd_link"])
    if keys.get("ADMIN_STATE") in ("configured", "configuring") and keys.get("NETWORK_FILE"):
        return {"manager": "networkd", "evidence": "ADMIN_STATE=%s, NETWORK_FILE=%s" % (keys["ADMIN_STATE"], keys["NETWORK_FILE"]),
                "file": keys["NETWORK_FILE"]}
    return None


def _nmcli_fields(line):
    fields, field, escaped = [], "", False
    for ch in line:
        if escaped:
            field, escaped = field + ch, False
        elif ch == "\\":
            escaped = True
        elif ch == ":":
            fields.append(field)
            field = ""
        else:
            field += ch
    return fields + [field]


def _networkmanager(uplink, state):
    if state.get("nm_devices") is None or state.get("nm_running") is False:
        return None
    for line in state["nm_devices"].splitlines():
        fields = _nmcli_fields(line)
        if len(fields) < 3 or fields[0] != uplink:
            continue
        status, connection = fields[1], ":".join(fields[2:])
        if status.startswith(("connected", "connecting")) and "externally" not in status and connection:
            return {"manager": "networkmanager", "evidence": "device %s, connection %s" % (status, connection), "connection": connection}
    return None


def _ifupdown(uplink, state):
    text = state.get("ifupdown_state")
    if not text:
        return None
    for line in text.splitlines():
        if line.strip() == uplink or line.split("=", 1)[0].strip() == uplink:
            return {"manager": "ifupdown", "evidence": "%s in /run/network/ifstate" % uplink}
    return None


def _netplan(uplink, state):
    claimed = netplan.claimed(state.get("netplan") or {}, uplink, state.get("mac"))
    if not claimed:
        return None
    path, entry_id, renderer = claimed[-1]
    return {"manager": "netplan", "renderer": renderer, "evidence": "ethernets.%s in %s" % (entry_id, path)}


def owners(uplink, ifindex, state):
    found = [f(uplink, state) for f in (_networkd, _networkmanager, _ifupdown)]
    found = [f for f in found if f]
    plan = _netplan(uplink, state)
    if plan:
        backend = "networkmanager" if plan["renderer"] == "NetworkManager" else "networkd"
        for other in [f for f in found if f["manager"] == backend and "netplan" in (f.get("file") or f.get("connection") or "")]:
            plan["evidence"] += "; %s: %s" % (NAMES[backend], other["evidence"])
            found.remove(other)
        found.append(plan)
    return found


def choose(found):
    if not found:
        return None
    if len(found) > 1:
        raise PersistError("persist auto: the uplink is claimed by both %s: persist the bridge through one manager "
                           "(stop or unconfigure the other)" % " and ".join("%s (%s)" % (NAMES[f["manager"]], f["evidence"]) for f in found))
    return found[0]


def _result(v4, v6):
    return {"inet": v4, "inet6": v6}


def _networkd_admin_file(uplink, current, mac):
    """The sections of the administrator's ``.network`` file for the uplink (the first that matches it), or
    None: read from the originals (``networkd.originals``), so a file an earlier run moved aside or shadowed
    still counts, and ours never does."""
    link = {"name": uplink, "mac": mac, "permanent_mac": mac, "type": "ether"}
    admin = networkd.originals(current)
    for base, path in sorted(networkd.effective(admin).items()):
        if not base.startswith(networkd.PREFIX) and not common.is_ours(admin[path]) and networkd.matches(admin[path], link):
            return common.ini_parse(admin[path])
    return None


def _from_networkd(uplink, current, mac):
    sections = _networkd_admin_file(uplink, current, mac)
    if sections is None:
        return _result("off", "off")
    dhcp = (common.ini_value(sections, "Network", "DHCP", "no") or "no").lower()
    families = set(family_of(a) for a in common.ini_values(sections, "Network", "Address") if "/" in a)
    ra = (common.ini_value(sections, "Network", "IPv6AcceptRA", "") or "").lower()
    v4 = "dhcp" if dhcp in ("yes", "true", "ipv4", "both") else ("static" if "inet" in families else "off")
    v6 = "dhcp" if dhcp in ("yes", "true", "ipv6", "both") else ("static" if "inet6" in families else
                                                                 ("off" if ra in ("no", "false", "0") else "ra"))
    return _result(v4, v6)


def _from_ifupdown(uplink, current):
    methods = {}
    originals = ifupdown.originals(current)
    for path in ifupdown.files_in_order(originals):
        for line in originals[path].splitlines():
            words = line.split()
            if len(words) >= 4 and words[0] == "iface" and words[1] == uplink:
                methods.setdefault(words[2], words[3])
    v4 = {"static": "static", "dhcp": "dhcp"}.get(methods.get("inet"), "off")
    v6 = {"static": "static", "dhcp": "dhcp", "auto": "ra"}.get(methods.get("inet6"), "off")
    return _result(v4, v6)


def _from_networkmanager(uplink, current, mac):
    admin = networkmanager.admin_profile(current, uplink, mac)
    if admin is None:
        return _result("off", "off")
    sections = admin[1]
    v4 = {"manual": "static", "auto": "dhcp"}.get(common.ini_value(sections, "ipv4", "method", "auto"), "off")
    v6 = {"manual": "static", "dhcp": "dhcp", "auto": "ra"}.get(common.ini_value(sections, "ipv6", "method", "auto"), "off")
    return _result(v4, v6)


def _from_netplan(uplink, current, mac):
    admin = netplan.uplink_entry(current, uplink, mac)
    if admin is None:
        return _result("off", "off")
    entry, truth = admin["entry"], netplan_yaml.truth
    families = set(family_of(str(a)) for a in entry.get("addresses") or [] if "/" in str(a))
    v4 = "dhcp" if truth(entry.get("dhcp4")) else ("static" if "inet" in families else "off")
    v6 = "dhcp" if truth(entry.get("dhcp6")) else ("static" if "inet6" in families else ("ra" if truth(entry.get("accept-ra")) else "off"))
    return _result(v4, v6)


def _pinned_iaid(leases, ours):
    """The IAID of the first networkd lease with an RFC 4361 client id, else the one our file pins."""
    for text in leases:
        found = networkd.lease_identity(text)
        if found and found["iaid"] is not None:
            return found["iaid"]
    pinned = common.ini_value(common.ini_parse(ours), "DHCPv4", "IAID") if common.is_ours(ours) else None
    return int(pinned) if pinned and pinned.isdigit() else None


def _identity_networkd(bridge, uplink, current, mac, leases):
    sections = _networkd_admin_file(uplink, current, mac) or []
    got = dict((name, common.ini_value(sections, "DHCPv4", key)) for key, name in (
        ("ClientIdentifier", "client_id"), ("IAID", "iaid"), ("DUIDType", "duid_type"), ("DUIDRawData", "duid_raw")))
    got["duid"] = (got["client_id"] or "duid") != "mac"  # networkd's default client id: DUID and IAID
    if got["duid"] and got["iaid"] is None:
        ours = current.get("%s/%s%s.network" % (networkd.ETC, networkd.PREFIX, bridge))
        got["iaid"] = _pinned_iaid(leases, ours)
    return got


def _identity_netplan(bridge, uplink, current, mac, leases):
    admin = netplan.uplink_entry(current, uplink, mac) or {"entry": {}, "renderer": "networkd"}
    client_id = admin["entry"].get("dhcp-identifier")
    got = {"client_id": client_id, "iaid": None}
    if client_id != "mac" and admin["renderer"] != "NetworkManager":
        got["iaid"] = _pinned_iaid(leases, current.get(netplan.iaid_path({"bridge": bridge})))
        got["duid"] = True  # networkd's default client id: DUID and IAID
    return got


def _identity_networkmanager(bridge, uplink, current, mac):
    admin = networkmanager.admin_profile(current, uplink, mac)
    if admin is None:
        return {}
    sections = admin[1]
    return {"client_id": common.ini_value(sections, "ipv4", "dhcp-client-id"), "iaid": common.ini_value(sections, "ipv4", "dhcp-iaid")}


def dhcp_identity_of(manager, bridge, uplink, current, mac=None, leases=()):
    """``(identity, warnings)``: the DHCPv4 client identity of the uplink to keep on the bridge
    (``model_from``'s ``dhcp``), from the administrator's files (``current``) and, for networkd's
    (and netplan-on-networkd's) default ``duid`` client id, the IAID of its lease files (``leases``,
    texts of ``/run/systemd/netif/leases/IFINDEX`` of the uplink, then the bridge): networkd's default
    IAID derives from the interface's name, so the bridge would send another client id without it."""
    warnings = []
    if manager == "networkd":
        got = _identity_networkd(bridge, uplink, current, mac, list(leases))
    elif manager == "netplan":
        got = _identity_netplan(bridge, uplink, current, mac, list(leases))
    elif manager == "networkmanager":
        got = _identity_networkmanager(bridge, uplink, current, mac)
        client_id, iaid = got.get("client_id"), got.get("iaid")
        if client_id in ("stable", "perm-mac") or (client_id in ("duid", "ipv6-duid") and iaid in (None, "ifname", "stable", "perm-mac")):
            warnings.append("%s's profile sets ipv4.dhcp-client-id=%s%s: NetworkManager derives it from the device or the "
                            "profile, so %s sends another DHCP client identifier than %s did and the DHCP server may hand "
                            "out another address" % (uplink, client_id, "" if iaid is None else " (ipv4.dhcp-iaid=%s)" % iaid,
                                                     bridge, uplink))
        return got, warnings
    else:
        return {}, warnings
    if got.pop("duid", False) and got.get("iaid") is None:
        warnings.append("no DHCP lease of %s found to read its IAID from: %s sends a client identifier from its own IAID, "
                        "and a DHCP server without a reservation for the MAC may hand out another address" % (uplink, bridge))
    return got, warnings


def addressing_of(manager, uplink, current, mac=None):
    if manager == "networkd":
        return _from_networkd(uplink, current, mac)
    if manager == "ifupdown":
        return _from_ifupdown(uplink, current)
    if manager == "networkmanager":
        return _from_networkmanager(uplink, current, mac)
    if manager == "netplan":
        return _from_netplan(uplink, current, mac)
    raise PersistError("unknown network manager %r (known: %s)" % (manager, ", ".join(sorted(NAMES))))


def carried_of(manager, uplink, current, mac=None):
    if manager == "networkd":
        return networkd.carried(_networkd_admin_file(uplink, current, mac) or [])
    if manager == "networkmanager":
        admin = networkmanager.admin_profile(current, uplink, mac)
        return networkmanager.carried(admin[1]) if admin else {}
    if manager == "ifupdown":
        return ifupdown.carried(current, uplink)
    return {}
