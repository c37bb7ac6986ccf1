# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """The O(interfaces) option of container_veth: the batch form, each entry taking the options of the
    single form (paired with ``_container_veth.entry.ENTRY_SPEC``)."""

    DOCUMENTATION = r"""
options:
  interfaces:
    description:
      - Several interfaces in one run, each a dictionary with the options of the single form
        (O(container), O(pid) or O(netns), O(bridge), O(ifname), O(addresses), ...).
      - Mutually exclusive with the single form.
    type: list
    elements: dict
    suboptions:
      container:
        description: See O(container).
        type: str
      runtime:
        description: See O(runtime).
        type: str
        choices: [auto, docker, podman]
      docker_host:
        description: See O(docker_host).
        type: str
      pid:
        description: See O(pid).
        type: int
      netns:
        description: See O(netns).
        type: str
      bridge:
        description: See O(bridge).
        type: str
      ifname:
        description: See O(ifname).
        type: str
      host_ifname:
        description: See O(host_ifname).
        type: str
      addresses:
        description: See O(addresses).
        type: list
        elements: str
        aliases: [address]
      gateway:
        description: See O(gateway).
        type: str
      gateway6:
        description: See O(gateway6).
        type: str
      routes:
        description: See O(routes).
        type: list
        elements: dict
        suboptions:
          dest:
            description: See O(routes[].dest).
            type: str
            required: true
          via:
            description: See O(routes[].via).
            type: str
            required: true
      mac:
        description: See O(mac).
        type: str
      mtu:
        description: See O(mtu).
        type: int
      announce:
        description: See O(announce).
        type: bool
      conflict_check:
        description: See O(conflict_check).
        type: bool
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
"""
