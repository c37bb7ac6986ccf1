# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``host_bridge``'s options: the argument spec (types, choices), ``validate(params)`` (the meaning
of each value, pure; ``ValidationError``), and ``probe_timeout(want, steps, facts)`` (how long the
probe may wait: ``rollback_timeout``, plus STP's listening and learning when a port joins)."""

import ipaddress

from ansible_collections.lanbridge.core.plugins.module_utils._firewall import DEFAULT_COMMENT
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.facts import DEFAULT_FORWARD_DELAY
from ansible_collections.lanbridge.core.plugins.module_utils._validate import (
    check_cidr, check_forward_delay, check_ifname, check_ip, check_mac, check_mtu, is_mac,
)
from ansible_collections.lanbridge.core.plugins.module_utils._errors import ValidationError

ARGUMENT_SPEC = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    uplink=dict(type="str"),
    migrate=dict(type="bool", default=True),
    addresses=dict(type="list", elements="str", default=[]),
    gateway=dict(type="str"),
    stp=dict(type="bool", default=False),
    forward_delay=dict(type="int"),
    mtu=dict(type="int"),
    mac=dict(type="str"),
    probe=dict(type="list", elements="str"),
    rollback_timeout=dict(type="float", default=10),
    adopt=dict(type="bool", default=False),
    persist=dict(type="str", choices=["auto", "networkd", "ifupdown", "networkmanager", "netplan", "none"], default="auto"),
    firewall=dict(type="bool", default=False),
    firewall_ipv6=dict(type="bool", default=False),
    firewall_comment=dict(type="str", default=DEFAULT_COMMENT),
    lan_addresses=dict(type="list", elements="str", default=[]),
    allowed_networks=dict(type="list", elements="str", default=[]),
)
MAX_COMMENT = 255  # iptables' comment match: 256 bytes with the terminating NUL
MAX_ROLLBACK_TIMEOUT = 600


def validate(params):
    """Module options -> the planner's ``want``; raises ValidationError."""
    want = dict(params)
    want["name"] = check_ifname(params["name"], "name")
    uplink = params["uplink"]
    if uplink is not None and uplink != "auto":
        if is_mac(uplink):
            want["uplink"] = check_mac(uplink, "uplink")
        elif ":" in uplink and len(uplink) > 15:
            raise ValidationError("uplink %r is neither an interface name, a MAC address nor auto" % uplink)
        else:
            want["uplink"] = check_ifname(uplink, "uplink")
    want["addresses"] = [check_cidr(a, "addresses item") for a in params["addresses"] or []]
    if params["gateway"] is not None:
        want["gateway"] = check_ip(params["gateway"], "gateway")
    if params["mtu"] is not None:
        want["mtu"] = check_mtu(params["mtu"])
    if params["mac"] is not None:
        want["mac"] = check_mac(params["mac"])
    if params["forward_delay"] is not None:
        want["forward_delay"] = check_forward_delay(params["forward_delay"], params["stp"])
    if params["probe"] is not None:
        want["probe"] = [check_ip(p, "probe item") for p in params["probe"]]
    comment = params["firewall_comment"]
    if not comment or len(comment.encode("utf-8")) > MAX_COMMENT or any(c in comment for c in "\n\r\0"):
        raise ValidationError("firewall_comment %r must be 1 to %d bytes on one line" % (comment, MAX_COMMENT))
    want["lan_addresses"] = [check_cidr(a, "lan_addresses item")["cidr"] for a in params["lan_addresses"] or []]
    want["allowed_networks"] = [check_network(n, "allowed_networks item") for n in params["allowed_networks"] or []]
    if not 0 < params["rollback_timeout"] <= MAX_ROLLBACK_TIMEOUT:  # also false for nan; inf is over the bound
        raise ValidationError("rollback_timeout %s must be more than 0 and at most %d seconds"
                              % (params["rollback_timeout"], MAX_ROLLBACK_TIMEOUT))
    return want


def firewall_families(want):
    """The address families whose accept rule this run looks at: the wanted ones with ``firewall``
    (``present``); both with ``state=absent``, which removes the rule wherever it is."""
    if want["state"] == "absent":
        return ("inet", "inet6")
    if not want["firewall"]:
        return ()
    return ("inet", "inet6") if want["firewall_ipv6"] else ("inet",)


def check_network(text, what):
    try:
        return str(ipaddress.ip_network(str(text), strict=False))
    except ValueError:
        raise ValidationError("%s %r is not a network (CIDR)" % (what, text)) from None


def probe_timeout(want, steps, facts):
    timeout = want["rollback_timeout"]
    if want["state"] == "present" and want["stp"] and any(s["op"] == "set_link" and s["args"].get("master")
                                                          for s in steps):
        delay = want["forward_delay"]
        if delay is None:
            delay = facts["links"].get(want["name"], {}).get("forward_delay") or DEFAULT_FORWARD_DELAY
        timeout += 2 * delay  # listening + learning before the port forwards
    return timeout
