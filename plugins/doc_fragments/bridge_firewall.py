# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_bridge's firewall options: the accept rule within the bridge.

Paired with the ``firewall*`` entries of ``plugins/module_utils/_host_bridge/options.py`` and with
``plugins/module_utils/_firewall.py``.
"""


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  firewall:
    description:
      - Make sure the host firewall accepts traffic within the bridge - the rule
        C(-i NAME -o NAME -j ACCEPT -m comment --comment FIREWALL_COMMENT), inserted first in Docker's
        C(DOCKER-USER) chain where that chain exists, else first in C(FORWARD). Needed where br_netfilter
        is on and the C(FORWARD) policy is C(DROP) (Docker sets it), or frames bridged between the
        uplink and the containers are dropped.
      - IPv4 (C(iptables)) always; IPv6 (C(ip6tables)) with O(firewall_ipv6). A family whose tool is
        not installed fails the run before anything changes.
      - V(false) leaves the firewall alone. O(state=absent) removes the rule (this comment, this
        bridge) from every chain that holds it, whatever O(firewall) says.
      - The rule is part of the transaction (a failed probe removes it again). The
        C(lanbridge-attach) agent puts it back after a reboot or an engine restart.
    type: bool
    default: false
  firewall_ipv6:
    description:
      - Also insert the IPv6 rule (C(ip6tables)), for containers with IPv6 addresses.
    type: bool
    default: false
  firewall_comment:
    description:
      - The comment that marks the rule as this collection's (1 to 255 bytes, on one line). The rule is found,
        and removed, by it; the default is the one the P(lanbridge.core.container_lan#role) role and
        the agent use.
    type: str
    default: lanbridge.core container_lan
"""
