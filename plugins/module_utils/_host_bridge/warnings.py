# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What names the uplink and stops applying once it is a port of the bridge: warnings, read-only.

Once ``em1`` is a port of ``br0`` the host's traffic arrives and leaves through ``br0``, so an
``iptables -i em1`` rule, an ``ip rule iif em1`` and ``em1``'s own sysctls (``rp_filter``,
``accept_ra``, ``disable_ipv6``...) no longer apply to it. The module does not rewrite them; it
says so, one sentence each. Pure functions over data, then a thin reader:

``moves_uplink(steps, uplink, bridge)`` -> whether the plan makes ``uplink`` a port of ``bridge``.
``iptables_warnings(command, text, uplink, bridge)`` -- ``iptables-save`` / ``ip6tables-save`` text.
``nft_warnings(text, uplink, bridge)`` -- ``nft list ruleset`` text (tables that iptables-nft
    manages are left to the ``iptables-save`` reading, which shows them as they were written).
``rule_warnings(rules, uplink, bridge)`` -- policy rules as ``_kernel.codec.decode_rule`` gives them.
``sysctl_warnings(uplink, bridge, uplink_conf, bridge_conf, bridge_exists, bridge_mtu=None)`` --
    ``{'ipv4': {name: text}, 'ipv6': {...}}`` of the uplink and of the bridge (or, for a bridge
    still to be made, of ``default``, what it will get; its IPv6 ``mtu`` is then its link MTU).
``collect(nl, plan, want, run_command=None, find=None)`` -> the warnings of a plan, read now:
    rules by a netlink dump, sysctls from ``/proc/sys`` in ``nl``'s namespace, firewall rules by
    ``run_command([path, ...])`` -> ``(rc, out, err)`` (``AnsibleModule.run_command``; it runs in
    the module's own namespace, the one ``host_bridge`` acts in) of the tools ``find(name)`` finds.
``warn(module, nl, plan, want)`` -> ``collect`` through the module, each warning ``module.warn``-ed.
"""

import re

from ansible_collections.lanbridge.core.plugins.module_utils._errors import KernelError


SYSCTLS = ("disable_ipv6", "accept_ra", "forwarding", "rp_filter", "arp_ignore", "arp_announce", "proxy_arp", "mtu")
FIREWALL_TOOLS = (("iptables", "iptables-save", ()), ("ip6tables", "ip6tables-save", ()), ("nft", "nft", ("list", "ruleset")))
TABLE_NAMES = {253: "default", 254: "main", 255: "local"}
_INTERFACE_OPTIONS = ("-i", "-o", "--in-interface", "--out-interface")
_NFT_MATCH = re.compile(r"\b(?:iifname|oifname|iif|oif)\s+(?:!=\s+)?(\{[^}]*\}|\"[^\"]*\"|\S+)")
_NFT_NAME = re.compile(r"\"([^\"]*)\"|([^\s\",{}]+)")


def moves_uplink(steps, uplink, bridge):
    return bool(uplink) and any(s["op"] == "set_link" and s["args"].get("link") == uplink and s["args"].get("master") == bridge
                                for s in steps)


def _no_longer(uplink, bridge):
    return "names %s, which becomes a port of %s: it will no longer match the host's traffic" % (uplink, bridge)


def _names(pattern, uplink, bridge, wildcard):
    """Whether an interface pattern matches the uplink and not the bridge (a wildcard such as ``em+``
    that also matches the bridge's name goes on matching the host's traffic)."""
    if pattern.startswith("!"):
        pattern = pattern[1:]
    if pattern.endswith(wildcard):
        stem = pattern[:-1]
        return uplink.startswith(stem) and not bridge.startswith(stem)
    return pattern == uplink


def iptables_warnings(command, text, uplink, bridge):
    found, table = [], "filter"
    for raw in (text or "").splitlines():
        line = raw.strip()
        if line.startswith("*"):
            table = line[1:].strip()
            continue
        if not line.startswith("-A "):
            continue
        words = line.split()
        if any(word in _INTERFACE_OPTIONS and _names(value, uplink, bridge, "+") for word, value in zip(words, words[1:])):
            rule = line if table == "filter" else "-t %s %s" % (table, line)
            found.append('%s rule "%s" %s' % (command, rule, _no_longer(uplink, bridge)))
    return found


def nft_warnings(text, uplink, bridge):
    found, table, chain, managed = [], None, None, False
    for raw in (text or "").splitlines():
        line = raw.strip()
        opening = re.match(r"table (\S+) (\S+) \{$", line)
        if opening:
            table, chain, managed = "%s %s" % opening.groups(), None, False
            continue
        if line.startswith("# Warning: table") and "iptables-nft" in line:
            managed = True  # iptables-save reads it back as it was written
            continue
        opening = re.match(r"chain (\S+) \{$", line)
        if opening:
            chain = opening.group(1)
            continue
        if managed or table is None or chain is None:
            continue
        rule = re.sub(r"\s*# handle \d+$", "", line)
        names = [a or b for match in _NFT_MATCH.findall(rule) for a, b in _NFT_NAME.findall(match)]
        if any(_names(name, uplink, bridge, "*") for name in names):
            found.append("nftables rule '%s' (table %s, chain %s) %s" % (rule, table, chain, _no_longer(uplink, bridge)))
    return found


def describe_rule(rule):
    """``1000: from all iif em1 lookup 100``, as ``ip rule`` shows it."""
    parts = ["%s:" % rule.get("priority", 0), "from", rule.get("src") or "all"]
    if rule.get("dst"):
        parts += ["to", rule["dst"]]
    if rule.get("fwmark"):
        parts += ["fwmark", "%#x" % rule["fwmark"]]
    if rule.get("iifname"):
        parts += ["iif", rule["iifname"]]
    if rule.get("oifname"):
        parts += ["oif", rule["oifname"]]
    if rule.get("action") in (None, "lookup"):
        parts += ["lookup", str(TABLE_NAMES.get(rule.get("table"), rule.get("table")))]
    else:
        parts.append(str(rule["action"]))
    return " ".join(parts)


def rule_warnings(rules, uplink, bridge):
    found = []
    for rule in sorted(rules, key=lambda r: (r.get("family") != "inet", r.get("priority") or 0)):
        if uplink in (rule.get("iifname"), rule.get("oifname")):
            what = "IPv6 policy rule" if rule.get("family") == "inet6" else "policy rule"
            found.append('%s "%s" %s' % (what, describe_rule(rule), _no_longer(uplink, bridge)))
    return found


def sysctl_warnings(uplink, bridge, uplink_conf, bridge_conf, bridge_exists, bridge_mtu=None):
    found = []
    source = bridge if bridge_exists else "default"
    for family in ("ipv4", "ipv6"):
        mine, theirs = uplink_conf.get(family) or {}, dict(bridge_conf.get(family) or {})
        if family == "ipv6" and not bridge_exists and bridge_mtu is not None and "mtu" in theirs:
            theirs["mtu"] = str(bridge_mtu)  # a new link's IPv6 MTU is its link MTU, not default's
        for name in SYSCTLS:
            if name in mine and name in theirs and mine[name] != theirs[name]:
                found.append("sysctl net.%s.conf.%s.%s is %s and %s %s %s (net.%s.conf.%s.%s): %s's setting stops "
                             "applying to the host's traffic once %s is a port of %s"
                             % (family, uplink, name, mine[name], bridge, "has" if bridge_exists else "will have",
                                theirs[name], family, source, name, uplink, uplink, bridge))
    return found


# -- the reader --------------------------------------------------------------------------------

def _firewall(uplink, bridge, run_command, find):
    found = []
    for command, tool, args in FIREWALL_TOOLS:
        path = find(tool) if find else None
        if not path:
            continue
        try:
            rc, out, _err = run_command([path] + list(args))
        except (OSError, ValueError):
            continue
        if rc != 0:
            continue
        if command == "nft":
            found += nft_warnings(out, uplink, bridge)
        else:
            found += iptables_warnings(command, out, uplink, bridge)
    return found


def collect(nl, plan, want, run_command=None, find=None):
    uplink, bridge = plan.get("uplink"), want["name"]
    if want.get("state", "present") != "present" or not moves_uplink(plan["steps"], uplink, bridge):
        return []
    found = []
    if run_command is not None:
        found += _firewall(uplink, bridge, run_command, find)
    try:
        found += rule_warnings(nl.rules(), uplink, bridge)
    except KernelError:
        pass  # a kernel without policy routing has no rules to name the uplink
    links = plan["facts_after"]["links"]
    exists = plan["before"]["bridge"]["state"] != "absent"
    found += sysctl_warnings(uplink, bridge, nl.sysctls(uplink, SYSCTLS), nl.sysctls(bridge if exists else "default", SYSCTLS),
                             exists, (links.get(bridge) or {}).get("mtu"))
    return found


def warn(module, nl, plan, want):
    found = collect(nl, plan, want, run_command=lambda args: module.run_command(args, check_rc=False),
                    find=module.get_bin_path)
    for text in found:
        module.warn(text)
    return found
