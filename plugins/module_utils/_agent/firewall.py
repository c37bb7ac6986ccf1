# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agent puts the bridge's firewall accept rule back (``_firewall``, the rule ``host_bridge``
owns): after a reboot the firewall is empty and, with br_netfilter on and a FORWARD policy of
DROP, LAN traffic over the bridge is dropped until the rule is back. The agent ensures it at
start and after every engine (re)start; it never removes it (``host_bridge state=absent`` does).

``ensure(run, bridges, comment, ipv6, which=_firewall.tool_path)`` -> one sentence per insertion;
    ``run(argv)`` -> exit code. Raises ``FirewallError`` naming the command that failed or the tool
    that is missing.
"""

from ansible_collections.lanbridge.core.plugins.module_utils import _firewall
from ansible_collections.lanbridge.core.plugins.module_utils._errors import FirewallError


def ensure(run, bridges, comment, ipv6, which=_firewall.tool_path):
    families = ("inet", "inet6") if ipv6 else ("inet",)
    done = []
    for bridge in bridges:
        live = _firewall.read(run, bridge, comment, families, which=which)
        for item in _firewall.plan(live, bridge, comment, families, "present"):
            if run(item["args"]["argv"]) != 0:
                raise FirewallError("firewall: %s failed" % " ".join(item["args"]["argv"]))
            done.append(item["text"])
    return done
