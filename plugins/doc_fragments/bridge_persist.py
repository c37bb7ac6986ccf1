# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_bridge's O(persist) option: which network manager keeps the bridge, and what it gets.

Paired with ``persist`` in ``plugins/module_utils/_host_bridge/options.py`` (the argument spec) and the
renderers in ``plugins/module_utils/_persist/``.
"""


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  persist:
    description:
      - Write the bridge into the configuration of the network manager that owns the uplink, so the
        next boot, the next carrier change and the next DHCP renewal keep it.
      - V(auto) finds the owner from the manager's own state (systemd-networkd's
        C(/run/systemd/netif/links/IFINDEX), NetworkManager's devices, ifupdown's C(/run/network/ifstate),
        the YAML under C(/etc/netplan)) and fails when two claim the uplink; when none does it
        persists nothing and says so in a warning.
      - V(networkd) writes C(/etc/systemd/network/00-lanbridge-*) (the bridge's C(.netdev) and
        C(.network), the uplink as a port with C(Bridge=) and C(LinkLocalAddressing=no), the veths
        C(Unmanaged=yes)) and runs C(networkctl reload). V(networkmanager) writes a bridge profile and
        a port profile (keyfiles, 0600) and a C(conf.d) file that leaves the veths unmanaged, then
        runs C(nmcli general reload conf) (when that file changes), C(nmcli connection reload) and
        C(nmcli connection up). V(ifupdown) rewrites the uplink's stanzas (the original kept as
        C(*.lanbridge-saved)) with C(bridge_ports), C(bridge_stp), C(bridge_fd), C(bridge_maxwait 0)
        and C(bridge_hw); it runs nothing, the files serve the next boot; an ifupdown uplink that
        uses DHCP is refused (moving dhclient to the bridge is not supported). V(netplan) writes
        C(/etc/netplan/90-lanbridge-BRIDGE.yaml) and runs C(netplan generate) and C(netplan apply).
      - The bridge's MAC is the uplink's current MAC (as the live migration sets it), its MTU, STP
        and forward delay are the running bridge's; its addresses and routes are the uplink's
        (static), or the uplink's DHCP client moves to the bridge with the same DHCP client
        identifier, so the same lease comes back (systemd-networkd's default DUID-based identifier
        keeps the uplink's IAID, pinned with C(IAID=); the administrator's client identifier
        settings are carried over). The administrator's files are kept, moved aside, masked or
        outranked, never deleted; O(state=absent) brings them back.
      - The kernel's change and the files are one transaction. When the probe fails after the
        manager took over, the files and the kernel are both put back.
      - V(none) changes the running kernel only (the bridge is gone after a reboot). Without a
        manager that renews it, an uplink address with a lease (DHCP, router advertisements) is
        refused, because on the bridge nobody would renew it and the host would lose it when it ends.
        V(none) is refused on an uplink NetworkManager manages (its view of the uplink and the
        kernel's would disagree, and it puts the uplink's addresses back), and warned about on an
        uplink another manager configures.
      - A module running in a network namespace other than init's (a container, a test
        namespace) persists nothing, since no manager of the host configures that namespace.
    type: str
    choices: [auto, networkd, ifupdown, networkmanager, netplan, none]
    default: auto
"""
