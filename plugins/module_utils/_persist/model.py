# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one model every renderer takes (plain data), and ``model_from`` that builds it.

``model_from(bridge, uplink, mac, addressing, addresses=(), routes=(), mtu=None, dns=(), search=(),
             veth_pattern='vl*', dhcp=None, stp=False, forward_delay=0, carried=None)`` ->
    ``{'bridge', 'uplink', 'mac', 'mtu', 'stp', 'forward_delay',
       'inet': {'method', 'addresses', 'gateway', 'routes'}, 'inet6': {...}, 'dns', 'search',
       'veth_pattern', 'dhcp': {'client_id', 'iaid', 'duid_type', 'duid_raw'}, 'carried'}``
    ``stp`` and ``forward_delay`` (seconds) are the bridge's as the kernel holds them after the change, so
    the files and the running bridge agree. ``dhcp`` is the DHCPv4 client identity the uplink's DHCP
    client used, to be kept on the bridge (``owner.dhcp_identity_of``): ``client_id`` the manager's own
    setting as the administrator wrote it (None: the manager's default), ``iaid`` the IAID to pin
    (an int, or None), ``duid_type``/``duid_raw`` networkd's ``DUIDType=``/``DUIDRawData=`` (or None).
    ``addressing`` is ``owner.addressing_of(...)`` (``{'inet': 'static'|'dhcp'|'off',
    'inet6': 'static'|'dhcp'|'ra'|'off'}``, keyed by family as ``_kernel.codec.family_of`` names it);
    ``addresses`` the uplink's global CIDRs and ``routes`` its route views (``facts.view(...)['uplink']``).
    A family the manager addresses by DHCP or RA
    keeps no address, gateway or route the DHCP client or the RA put there (protocol ``dhcp``,
    ``ra``); the default route becomes the family's ``gateway``; multipath routes, routes of other
    tables and the kernel's own routes are not persisted (the kernel transaction still moves them).
``carried`` is the rest of the uplink's layer-3 configuration (DNS servers and search domains, DHCP
options, routing policy, RA and link-local settings, ...) in the manager's own words, as the
administrator wrote it (``owner.carried_of``), which the renderer writes for the bridge: networkd
``[(section, [(key, value)])]``, NetworkManager ``{'ipv4': [(key, value)], 'ipv6': [...]}``,
ifupdown ``{'inet': [line], 'inet6': [line], 'uplink': [line]}`` (``uplink``: lines that name the
uplink and stay with it); None or empty: nothing carried. ``dns``/``search`` are written only where
``carried`` does not name DNS servers / search domains. netplan's renderer reads the administrator's
entry itself.
Each route in the model is ``{'dst', 'gateway', 'metric', 'onlink'}``.
"""

from ansible_collections.lanbridge.core.plugins.module_utils._kernel.codec import family_of
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.constants import MAIN_TABLE

DYNAMIC_PROTOCOLS = ("kernel", "dhcp", "ra", "redirect")
FAMILIES = ("inet", "inet6")
DHCP_KEYS = ("client_id", "iaid", "duid_type", "duid_raw")


def _persistable(route):
    return ((route.get("table") or MAIN_TABLE) == MAIN_TABLE and not route.get("nexthops")
            and route.get("protocol") not in DYNAMIC_PROTOCOLS and route.get("type") in (None, "unicast"))


def _family(family, method, addresses, routes):
    mine = [r for r in routes if r.get("family") == family and _persistable(r)]
    defaults = sorted((r for r in mine if r["dst"] == "default" and r.get("gateway")), key=lambda r: r.get("metric") or 0)
    static = method == "static"
    return {
        "method": method,
        "addresses": [a for a in addresses if family_of(a) == family] if static else [],
        "gateway": defaults[0]["gateway"] if defaults and static else None,
        "routes": [{"dst": r["dst"], "gateway": r.get("gateway"), "metric": r.get("metric"), "onlink": bool(r.get("onlink"))}
                   for r in mine if r["dst"] != "default"],
    }


def model_from(bridge, uplink, mac, addressing, addresses=(), routes=(), mtu=None, dns=(), search=(),
               veth_pattern="vl*", dhcp=None, stp=False, forward_delay=0, carried=None):
    identity = dict((k, None) for k in DHCP_KEYS)
    identity.update(dhcp or {})
    model = {"bridge": bridge, "uplink": uplink, "mac": mac.lower(), "mtu": mtu, "stp": bool(stp),
             "forward_delay": forward_delay or 0, "dns": list(dns), "search": list(search), "veth_pattern": veth_pattern,
             "dhcp": identity, "carried": carried or {}}
    for family in FAMILIES:
        model[family] = _family(family, addressing.get(family) or "off", list(addresses), list(routes))
    return model
