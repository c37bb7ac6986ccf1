# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""container_veth's O(agent) option: the lanbridge-attach agent installed in the same run.

Paired with ``plugins/module_utils/_agent/manage.OPTIONS`` (the argument spec its suboptions share with
M(lanbridge.core.attach_agent)).
"""


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  agent:
    description:
      - Also install, configure (or remove) the C(lanbridge-attach) agent that keeps these containers on
        the LAN through restarts, engine restarts and reboots, with O(interfaces) (and O(bridge)) as its
        desired state - the same as M(lanbridge.core.attach_agent), in this run, so a run that changes
        nothing needs no task of its own for the agent. Needs O(interfaces).
      - Its result is RV(agent); its before and after are in the diff under C(agent).
      - Omitted leaves the agent alone.
    type: dict
    suboptions:
      state:
        description: V(present) installs, configures and runs the agent; V(absent) removes it.
        type: str
        choices: [present, absent]
        default: present
      firewall:
        description:
          - The agent keeps the bridge's firewall accept rule in place (see
            M(lanbridge.core.host_bridge)'s O(lanbridge.core.host_bridge#module:firewall)).
        type: bool
        default: true
      firewall_comment:
        description: The comment that marks that rule.
        type: str
        default: lanbridge.core container_lan
      interval:
        description: Seconds between the agent's periodic full reconciles.
        type: int
        default: 300
"""
