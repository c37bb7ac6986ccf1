# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """The O(interfaces) option of container_veth: the batch form, each entry taking the options of the
    single form (paired with ``_container_veth.entry.ENTRY_SPEC``)."""

    DOCUMENTATION = r"""
options:
  mode:
    description:
      - V(bridged) makes the host end a port of O(bridge), so the LAN sees the container's MAC.
      - V(routed) (with O(uplink) instead of O(bridge)) is for uplinks that accept the host's MAC only
        (Wi-Fi, most rented servers and cloud VMs, switch ports with port security). The host end is in
        no bridge; the container holds each of O(addresses) as a host address (C(/32), C(/128)) with its
        default routes via C(169.254.0.1) and C(fe80::1) on the host end (O(gateway), O(gateway6) and
        O(routes) are not taken); the host routes each address to the host end and answers ARP / NDP for
        it on O(uplink) with a proxy neighbour entry (never the uplink-wide C(proxy_arp)), so the LAN
        sees one MAC, the uplink's, for all of them. Forwarding is turned on per interface where it is
        off (IPv4 C(forwarding) on the uplink and the host end; IPv6 C(forwarding), C(proxy_ndp) and
        C(force_forwarding) on the uplink, C(force_forwarding) on the host end) and turned off again
        when the last routed attachment on the uplink is removed, if this module turned it on. Where it
        turns the uplink's IPv6 C(forwarding) on and the uplink's C(accept_ra) is 1 (which a forwarding
        interface takes as "ignore router advertisements"), C(accept_ra) is set to 2 first, so a host
        whose IPv6 default route comes from router advertisements keeps it; it is set back to 1 with
        the rest.
      - IPv6 needs C(force_forwarding) (Linux 6.17) or C(net.ipv6.conf.all.forwarding=1) set by the
        administrator. Addresses are refused before any change when they lie outside the uplink's
        subnets (unless O(allowed_networks) lists them) or when the host holds them. DHCP is not possible.
      - The announcements (O(announce)) and conflict probes (O(conflict_check)) go out from O(uplink).
      - Defaults to V(bridged). With O(interfaces), it may be given at the top level too (with O(uplink)).
    type: str
    choices: [bridged, routed]
  uplink:
    description:
      - With O(mode=routed), the host's interface on the LAN. It keeps its addresses and routes.
    type: str
  allowed_networks:
    description:
      - With O(mode=routed), networks outside the uplink's subnets whose addresses may be routed to the
        container anyway (an additional subnet the provider routes to the host).
    type: list
    elements: str
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
      mode:
        description: See O(mode).
        type: str
        choices: [bridged, routed]
      uplink:
        description: See O(uplink).
        type: str
      allowed_networks:
        description: See O(allowed_networks).
        type: list
        elements: str
"""
