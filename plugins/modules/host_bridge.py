#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: host_bridge
short_description: Build a Linux bridge and move the host's uplink into it, atomically, with rollback
version_added: 0.1.0
description:
  - Creates the bridge O(name) (STP off by default), puts the host's uplink NIC into it and moves the uplink's addresses and
    routes to the bridge, so containers attached to the bridge get addresses on the host's own LAN.
  - The host keeps its address and its MAC address throughout (the bridge takes the uplink's MAC), so the SSH session Ansible
    runs through stays up and existing TCP connections survive.
  - The change is one short netlink transaction. If any step fails, or if afterwards none of the O(probe) addresses answers
    within O(rollback_timeout) seconds, every applied step is undone in reverse order, the host is left exactly as it was
    found, and the module fails saying what it tried and that it rolled back.
  - Idempotent. A run after someone changed one property by hand (MTU, STP, a missing address) fixes only that property.
    O(state=absent) reverses everything.
  - Uses netlink only (its own socket for reads, pyroute2 for the changes that need it, imported only then); no C(ip),
    C(brctl) or shell; C(iptables) and C(ip6tables) only for O(firewall) and O(state=absent) (argument lists), and the
    firewall's dumps only to warn (see notes). Locks on the bridge and on the uplink (in C(/run/lanbridge/), root only)
    serialize concurrent runs on the same host; a lock another run holds for more than 12 minutes fails the task, naming
    that run's PID, with nothing changed.
  - Refused before anything changes, with a sentence naming the option - O(name) and O(uplink) that are not 1 to 15 bytes of
    printable ASCII without C(/) or C(:) (no space, control character or NUL); O(addresses) and O(lan_addresses) entries that
    are not usable host addresses (prefix length 0, loopback, multicast, unspecified, or a subnet's network or broadcast
    address); a O(mac) that is not exactly six octets (a trailing newline included), multicast or all-zero; a O(gateway)
    that is one of the bridge's own addresses or on none of its subnets (an IPv6 link-local gateway is on every link); a
    O(rollback_timeout) that is not more than 0 and at most 600 seconds (V(inf) too).
author:
  - lanbridge.core contributors (@lanbridge)
requirements:
  - pyroute2 >= 0.7.2 on the managed host (Debian 12 C(python3-pyroute2) works)
  - root (CAP_NET_ADMIN and CAP_NET_RAW) on the managed host
extends_documentation_fragment:
  - lanbridge.core.attributes
  - lanbridge.core.attributes.all_full
  - lanbridge.core.bridge_persist
  - lanbridge.core.bridge_firewall
options:
  name:
    description:
      - The bridge's interface name, at most 15 bytes, without C(/), C(:) or whitespace.
    type: str
    required: true
  state:
    description:
      - V(present) creates or repairs the bridge and migrates the uplink into it.
      - V(absent) moves the bridge's addresses and routes back to the uplink (when O(migrate)),
        releases every port (also container veths) and deletes the bridge.
    type: str
    choices: [present, absent]
    default: present
  uplink:
    description:
      - The NIC to put into the bridge, given as an interface name (V(em1)), as a MAC address
        (V(aa:bb:cc:dd:ee:ff), matched against the host's interfaces, for fleets whose NIC names
        differ), or V(auto) = the interface that carries the IPv4 default route. On a re-run
        where the default route already goes through the bridge, V(auto) means the bridge's
        existing port that is not a container attachment.
      - Omitted with O(state=present) means a bridge without uplink (or, on an existing bridge,
        its existing uplink port); with O(state=absent) the bridge's uplink port is found the same
        way as for V(auto).
    type: str
  migrate:
    description:
      - Move every global-scope IPv4 and IPv6 address of the uplink (with prefix, broadcast,
        flags and remaining lifetimes) and every route that uses the uplink (the default route
        included, with metric, table, protocol, scope, C(onlink), metrics such as C(mtu lock), source prefix,
        IPv6 preference and remaining expiry, in every routing table) to the bridge.
        Routes are replaced in place, so the default route never disappears.
      - With O(state=absent), move the bridge's addresses and routes back to the uplink.
      - Kernel-made routes (prefix routes of addresses, C(local) table) follow their addresses.
    type: bool
    default: true
  addresses:
    description:
      - Addresses (CIDR, IPv4 or IPv6) the bridge must have, for a bridge without uplink or in
        addition to the migrated ones. Other addresses on the bridge are left alone.
    type: list
    elements: str
    default: []
  gateway:
    description:
      - The default route (IPv4 or IPv6, by the address) goes via this address on the bridge. An
        existing default route of that family in the main table is replaced in place (keeping its
        metric and protocol); otherwise one is added with protocol C(static).
      - Must be on a subnet of one of the bridge's addresses (after migration).
    type: str
  stp:
    description:
      - Spanning tree on the bridge. Off by default, as a host bridge with one uplink needs none
        and STP delays forwarding by twice O(forward_delay) after each port change.
      - With STP on, the gateway probe waits an extra 2 x O(forward_delay) for the uplink port
        to start forwarding.
    type: bool
    default: false
  forward_delay:
    description:
      - The bridge's forward delay in seconds (0..30; 2..30 with O(stp)). Omitted leaves the
        kernel's value (15 for a new bridge).
    type: int
  mtu:
    description:
      - The bridge's MTU (68..65535). Defaults to the uplink's MTU. When given and different
        from the uplink's, the uplink's MTU is set too (a bridge cannot forward larger frames
        than its uplink takes).
    type: int
  mac:
    description:
      - The bridge's MAC address. Defaults to the uplink's, so the LAN, DHCP reservations and port
        security keep seeing the same MAC, and the bridge's MAC never changes as ports come and go
        (it is set explicitly, which pins it).
    type: str
  probe:
    description:
      - Addresses of which at least one must answer after the change, else everything is rolled
        back. An IPv4 address on a subnet of the bridge (or, with O(state=absent), of the uplink)
        is asked by ARP, any other by ICMP echo; the module sends both itself.
      - Defaults to the default gateways (IPv4, then IPv6) after the change. V([]) disables the check.
      - Only done when something changed.
    type: list
    elements: str
  rollback_timeout:
    description:
      - Seconds to wait for an answer from O(probe) before rolling back; more than 0, at most 600.
      - The rollback does not depend on this process living that long. Before the first step the
        whole change is written to a journal in C(/run/lanbridge/) (root only), and a watchdog
        undoes the applied steps if the module dies (killed, out of memory, a dropped SSH session,
        its session's scope stopped) or has not finished O(rollback_timeout) plus 5 seconds after it
        started (a module hung that long is killed first, so it cannot go on applying).
      - With systemd as PID 1 in init's network namespace, the watchdog is the transient unit
        C(lanbridge-rollback-<bridge>), outside the caller's session; elsewhere a detached process of
        its own name (C(..._watchdog)). One that cannot start fails the run before any change.
      - A later run in the same network namespace that finds a journal nobody finished rolls it back
        first and says so in a warning; a journal of a namespace that is gone is discarded unapplied.
    type: float
    default: 10
  adopt:
    description:
      - Take over a bridge that host_bridge did not create.
      - A bridge host_bridge creates carries the label C(lanbridge:bridge) in its C(ifalias). An
        existing bridge without it is refused when its name is one another system manages
        (C(docker0) and Docker's C(br-...) networks, libvirt's C(virbr*), C(cni*), C(podman*),
        C(lxcbr*), C(lxdbr*), C(incusbr*), C(cbr0), C(kube-bridge)) or when it has ports other
        than the uplink and this collection's veths; O(state=absent) removes only a labelled
        bridge. An unlabelled bridge whose only ports are the uplink and this collection's veths
        (made by an earlier version) is labelled without O(adopt).
      - With V(true) such a bridge is used (and labelled) or removed all the same.
    type: bool
    default: false
  lan_addresses:
    description:
      - Addresses (CIDR) the containers will use on this bridge's LAN. Before anything changes, each
        must lie on a subnet of the bridge's addresses as planned (after the migration) or in
        O(allowed_networks), and none may be one of the bridge's own addresses (the host's on this LAN);
        the run fails naming every one that does not fit. Ignored with O(state=absent).
      - The C(lanbridge.core.container_lan) role passes the host's C(container_lan_interfaces) addresses.
    type: list
    elements: str
    default: []
  allowed_networks:
    description:
      - Networks (CIDR) besides the bridge's own subnets on which O(lan_addresses) may lie (routed to
        the LAN by its gateway, for example).
    type: list
    elements: str
    default: []
notes:
  - Run it as root on the host itself. It acts in the network namespace it runs in.
  - The order of a migration keeps the host reachable (measured in the collection's tests, a TCP connection opened before
    the change keeps working after it) - create the bridge with the uplink's MAC and MTU, bring it up, enslave the uplink,
    add the addresses to the bridge, replace the routes in place, then delete the addresses from the uplink.
  - Migrated IPv6 addresses go through duplicate address detection on the bridge (about a second) unless they carry the
    C(nodad) flag.
  - The module cannot know which addresses an earlier run migrated; a migrated address removed by hand from the bridge is
    not restored unless it is also listed in O(addresses).
  - A multipath (ECMP) route through the uplink is migrated whole; only its nexthops through the uplink change device.
  - When the uplink is to become a port of the bridge (also in check mode), the module warns about what names the uplink
    and will stop applying to the host's traffic; it reads them only and rewrites nothing - C(iptables-save),
    C(ip6tables-save) and C(nft list ruleset) rules that match it as input or output interface, policy rules
    (C(ip rule iif/oif)), and its sysctls (C(disable_ipv6), C(accept_ra), C(forwarding), C(rp_filter), C(arp_ignore),
    C(arp_announce), C(proxy_arp), C(mtu)) that differ from the bridge's.
seealso:
  - module: lanbridge.core.container_veth
"""

EXAMPLES = r"""
- name: Put em1 into br0 and move the host's address and default route to br0
  lanbridge.core.host_bridge:
    name: br0
    uplink: em1

- name: Same on a fleet whose NIC names differ - the NIC that carries the default route
  lanbridge.core.host_bridge:
    name: br0
    uplink: auto
    rollback_timeout: 5

- name: Pick the uplink by MAC, check a second address besides the gateway
  lanbridge.core.host_bridge:
    name: br0
    uplink: "52:54:00:12:34:56"
    probe: [172.24.133.254, 172.24.133.1]

- name: A bridge without uplink, with its own address and default route
  lanbridge.core.host_bridge:
    name: brlab
    addresses: [203.0.113.1/24, 2001:db8:1::1/64]
    gateway: 203.0.113.254
    probe: []

- name: Preview the change (nothing is touched)
  lanbridge.core.host_bridge:
    name: br0
    uplink: em1
  check_mode: true
  diff: true

- name: With the firewall accept rule (Docker's DOCKER-USER, else FORWARD), refusing container addresses off the LAN
  lanbridge.core.host_bridge:
    name: br0
    uplink: em1
    firewall: true
    firewall_ipv6: true
    lan_addresses: [198.51.100.21/24, 198.51.100.22/24]

- name: Undo - addresses and routes back to em1, accept rule removed, bridge deleted
  lanbridge.core.host_bridge:
    name: br0
    state: absent
"""

RETURN = r"""
persist:
  description: Who persists the bridge and the files this run wrote or would write (check mode).
  returned: always
  type: dict
  contains:
    manager:
      description: V(networkd), V(ifupdown), V(networkmanager), V(netplan), or V(null) when nothing is persisted.
      type: str
      sample: networkd
    files:
      description: The files changed (written, moved aside, put back or removed); empty on a run that changes none.
      type: list
      elements: str
      sample: [/etc/systemd/network/00-lanbridge-br0.netdev, /etc/systemd/network/00-lanbridge-br0.network]
bridge:
  description:
    - The bridge's facts after the run (in check mode, as planned). O(state=absent) returns
      RV(bridge.state=absent).
    - RV(bridge.routes) lists the routes through the bridge that are not the kernel's own.
  returned: always
  type: dict
  contains:
    name: {description: The bridge's name., type: str, returned: always, sample: br0}
    index:
      description: The interface index; V(null) when absent or not yet created (check mode).
      type: int
      returned: always
      sample: 4
    state:
      description: V(up), V(down) or V(absent).
      type: str
      returned: always
      sample: up
    mac: {description: The bridge's MAC address., type: str, returned: always, sample: "02:42:c6:33:64:0b"}
    mtu: {description: The bridge's MTU., type: int, returned: always, sample: 1500}
    stp: {description: Whether spanning tree is on., type: bool, returned: always, sample: false}
    forward_delay: {description: The forward delay in seconds., type: int, returned: always, sample: 15}
    label:
      description: The bridge's C(ifalias); C(lanbridge:bridge) for a bridge host_bridge made or adopted.
      type: str
      returned: always
      sample: "lanbridge:bridge"
    ports: {description: Names of the bridge's ports., type: list, elements: str, returned: always, sample: [em1]}
    addresses: {description: The bridge's global-scope addresses (CIDR)., type: list, elements: str, returned: always,
                sample: [198.51.100.11/24]}
    routes:
      description: Routes through the bridge (family, dst, gateway, metric, table, protocol, scope; where they
        apply also onlink, metrics, src, nexthops and pref).
      type: list
      elements: dict
      returned: always
      sample:
        - {family: inet, dst: default, gateway: 198.51.100.254, metric: null, table: 254, protocol: boot, scope: global}
migrated:
  description: The addresses and routes that moved (from the uplink, or back to it with O(state=absent)).
  returned: always
  type: dict
  sample:
    addresses: [198.51.100.11/24]
    routes:
      - {family: inet, dst: default, gateway: 198.51.100.254, metric: null, table: 254, protocol: boot, scope: global}
firewall:
  description:
    - The accept rules for the bridge after the run (in check mode, as planned), one sentence each, of the
      families this run looked at - those of O(firewall) and O(firewall_ipv6), both with O(state=absent), none
      with O(firewall=false) (then a rule that exists is not reported).
  returned: always
  type: list
  elements: str
  sample: ["iptables: accept rule for bridge br0 in DOCKER-USER"]
default_gateway:
  description:
    - The gateway of the bridge's IPv4 default route after the run (in check mode, as planned), V(null) when it has none.
    - The C(lanbridge.core.container_lan) role gives it to the containers when C(container_lan_gateway) is empty.
  returned: always
  type: str
  sample: 198.51.100.254
uplink:
  description: The uplink's interface name, as resolved from O(uplink); V(null) for a bridge without one.
  returned: always
  type: str
  sample: em1
plan:
  description: The steps, in order, that were applied (or, in check mode, would be).
  returned: always
  type: list
  elements: str
  sample:
    - add bridge br0
    - set br0 up True
    - set em1 master br0
    - add address 198.51.100.11/24 to br0
    - move route default via 198.51.100.254 dev em1 to default via 198.51.100.254 dev br0
    - delete address 198.51.100.11/24 from em1
probe:
  description: The probe that answered, V(null) when none was needed (no change, check mode, O(probe=[])).
  returned: always
  type: dict
  sample: {address: 198.51.100.254, method: arp, mac: "02:00:00:00:00:fe", seconds: 0.0004}
rolled_back:
  description: True when the run failed and every applied step was undone (the host is as it was).
  returned: always
  type: bool
  sample: false
missing_library:
  description: V(pyroute2) when the run failed because the managed node's Python has no pyroute2 (nothing was changed).
  returned: when pyroute2 is missing
  type: str
  sample: pyroute2
diff:
  description: With C(--diff), the observed (V(before)) and planned (V(after)) facts of the bridge and the uplink.
  returned: when diff mode is on
  type: dict
  sample:
    before:
      bridge: {name: br0, state: absent, mac: null, mtu: null, stp: null, forward_delay: null, ports: [], addresses: [], routes: []}
      uplink: {name: em1, master: null, mac: "02:42:c6:33:64:0b", mtu: 1500, addresses: [198.51.100.11/24], routes: []}
    after:
      bridge: {name: br0, state: up, mac: "02:42:c6:33:64:0b", mtu: 1500, stp: false, forward_delay: 15, label: "lanbridge:bridge", ports: [em1],
               addresses: [198.51.100.11/24], routes: []}
      uplink: {name: em1, master: br0, mac: "02:42:c6:33:64:0b", mtu: 1500, addresses: [], routes: []}
"""

import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge import facts as bridge_facts
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge import warnings as bridge_warnings
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge import persist
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.persist_read import persisted_by
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.apply import apply, fresh_executor, journal_file
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.options import (
    ARGUMENT_SPEC, firewall_families, probe_timeout, validate,
)
from ansible_collections.lanbridge.core.plugins.module_utils._journal import recover
from ansible_collections.lanbridge.core.plugins.module_utils import _firewall
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.plan import plan as make_plan
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netlink import Netlink
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netns import in_init_netns
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.pyroute import HAS_PYROUTE2, PYROUTE2_IMPORT_ERROR
from ansible_collections.lanbridge.core.plugins.module_utils._lock import hold
from ansible_collections.lanbridge.core.plugins.module_utils._errors import LanbridgeError, TransactionError


def run(module, nl, want):
    want = dict(want, persisted_by=persisted_by(want["name"]) if in_init_netns() else None)
    facts = bridge_facts.facts_from_dump(nl.dump())
    plan = make_plan(facts, want)
    if plan["uplink"] and plan["steps"] and not module.check_mode:
        with hold(["uplink:%s" % plan["uplink"]]):  # after the bridge's lock: never in a circle
            facts = bridge_facts.facts_from_dump(nl.dump())  # as it is after any wait
            return finish(module, nl, want, facts, make_plan(facts, want))
    return finish(module, nl, want, facts, plan)


def finish(module, nl, want, facts, plan):
    persisted = persist.for_change(want, facts, plan, module.warn)
    persist.check_leases(want, facts, plan, persisted)
    for warning in (persisted or {}).get("warnings", []):
        module.warn(warning)
    families, comment = firewall_families(want), want["firewall_comment"]  # the accept rule: as it is, and its steps
    fw_live = _firewall.read(lambda argv: module.run_command(argv)[0], want["name"], comment, families)
    fw_steps = _firewall.plan(fw_live, want["name"], comment, families, want["state"])
    steps = persist.order(persisted, fw_steps + plan["steps"])  # a failing iptables stops before the network moves
    fw_after = _firewall.view(_firewall.after(fw_live, fw_steps), want["name"])
    result = dict(changed=bool(steps), rolled_back=False, uplink=plan["uplink"], migrated=plan["migrated"],
                  plan=[s["text"] for s in steps], probe=None, firewall=fw_after,
                  default_gateway=plan["default_gateway"],
                  persist={"manager": persisted["manager"] if persisted else None,
                           "files": persisted["files"] if persisted else []})
    if module._diff:
        result["diff"] = dict(before=dict(plan["before"], firewall=_firewall.view(fw_live, want["name"])),
                              after=dict(plan["after"], firewall=fw_after))
        if persisted and persisted["files"]:
            result["diff"]["before"]["files"] = persisted["before"]
            result["diff"]["after"]["files"] = persisted["after"]
    bridge_warnings.warn(module, nl, plan, want)
    if module.check_mode or not steps:
        result["bridge"] = bridge_facts.view(plan["facts_after"], want["name"])["bridge"]
        return result
    outcome = apply(nl, steps, probe=plan["probe"], probe_timeout=probe_timeout(want, steps, facts),
                    journal_path=journal_file(want["name"]), what="bridge %s" % want["name"])
    result["probe"] = outcome["probe"]
    result["bridge"] = bridge_facts.view(bridge_facts.facts_from_dump(nl.dump()), want["name"])["bridge"]
    return result


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_PYROUTE2:
        module.fail_json(msg=missing_required_lib("pyroute2"), exception=str(PYROUTE2_IMPORT_ERROR),
                         missing_library="pyroute2", rolled_back=False)
    try:
        want = validate(module.params)
        with hold(["bridge:%s" % want["name"]]):
            found = recover(journal_file(want["name"]), fresh_executor, module.check_mode)
            if found:
                module.warn(found)
            with Netlink() as nl:
                result = run(module, nl, want)
    except TransactionError as exc:
        module.fail_json(msg=str(exc), changed=not exc.rolled_back, rolled_back=exc.rolled_back)
    except LanbridgeError as exc:
        module.fail_json(msg=str(exc), changed=False, rolled_back=False)
    except Exception as exc:  # the last resort: one sentence, the traceback only in 'exception'
        module.fail_json(msg="host_bridge failed unexpectedly: %s: %s" % (type(exc).__name__, exc),
                         exception=traceback.format_exc(), changed=False, rolled_back=False)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
