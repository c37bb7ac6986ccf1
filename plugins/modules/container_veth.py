#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: container_veth
short_description: Plug containers into a LAN bridge with a veth pair, idempotently, many at once
version_added: 0.1.0
description:
  - Gives a container (or any network namespace) an interface on a bridge of the host, usually the
    bridge that carries the host's LAN (see M(lanbridge.core.host_bridge)), so the container has its
    own address on the physical LAN without NAT or port mappings.
  - For each interface it creates a veth pair whose container end is born directly inside the
    container's network namespace, named O(ifname), with a pinned MAC; the host end, named
    O(host_ifname), becomes a port of O(bridge) and carries a label in its C(ifalias) that names the
    container and O(ifname). Then it sets the addresses and routes inside the container.
  - Idempotent. Existing attachments are found by their label, never by guessing names. If the
    container restarted (new PID, new namespace, the old pair gone) the next run recreates the
    attachment with the same host-side name, MAC and addresses. Drift (an address, a route, the MTU,
    the MAC, the bridge port, the link state) is fixed individually; addresses on O(ifname) that
    are not listed are removed, because the interface belongs to this module.
  - One interface per call with the options at the top level, or many with O(interfaces) (each
    entry takes the same options). Entries are independent. A failing entry undoes only its own
    changes; the task fails if any entry failed, and RV(interfaces) says which and why.
  - Invalid options fail the whole task before anything changes, with a sentence naming the option
    and the entry (such as C(interfaces[3])). Refused are names that are not 1 to 15 bytes of printable
    ASCII without C(/), C(:) or spaces (a NUL or another control character included); an address with
    prefix length 0, a loopback, multicast or unspecified address, and for IPv4 below C(/31) the
    subnet's network or broadcast address; a MAC with anything after it (a newline included); a
    gateway or route C(via) off every subnet of O(addresses), equal to one of them, or the subnet's
    network or broadcast address; a route whose O(routes[].dest) and O(routes[].via) are of different
    families (C(0.0.0.0/0) via an IPv6 address is refused, not turned into an IPv6 default).
  - The entries of one call are checked as a whole before anything changes, so that no two of them
    claim the same address (whatever its prefix length), O(mac), O(host_ifname), or target and
    O(ifname) (also one container named once by name and once by ID, found once the engine has
    answered). The task fails naming both entries, and nothing is changed.
  - From reading to the end of applying, the module holds a lock on every bridge it may change
    (in C(/run/lanbridge), the same locks M(lanbridge.core.host_bridge) takes), so two runs on one
    bridge never interleave; a lock held elsewhere for more than 720 seconds fails the task.
  - With O(purge), attachments on O(bridge) that this call's entries no longer name are removed, so
    the list can be the whole truth of a host's bridge.
  - Talks to the kernel over a plain rtnetlink socket for every read and for creating, labelling,
    addressing, routing and deleting attachments; pyroute2 only to repair an existing attachment's
    MAC, MTU or bridge, its socket opened only then. Reaches the engine's API through its unix socket;
    runs no commands (except C(systemctl) for O(agent)).
author:
  - lanbridge.core developers (@lanbridge)
requirements:
  - Python >= 3.8 on the managed node
  - pyroute2 >= 0.7.2
  - root (CAP_NET_ADMIN and CAP_SYS_ADMIN, to enter network namespaces)
extends_documentation_fragment:
  - lanbridge.core.container_target
  - lanbridge.core.engine
  - lanbridge.core.container_veth_interfaces
  - lanbridge.core.container_veth_agent
options:
  bridge:
    description:
      - The bridge in the host's network namespace that the host end joins. It must already exist
        (create it with M(lanbridge.core.host_bridge)). In check mode a missing bridge is planned
        as an empty one (see O(mtu)), so the diff shows every attachment a real run would make
        once the bridge exists; a real run fails.
      - Required with O(state=present) and O(mode=bridged) (see O(mode) for V(routed)).
      - With O(interfaces), it may be given at the top level too, as the bridge of every bridged
        entry that does not name its own and the bridge O(purge) acts on.
    type: str
  purge:
    description:
      - Also remove every attachment on O(bridge) (the top-level option) that carries this module's
        label and that no entry of this call names. An entry names an attachment when its target
        has the identity the label records (the container's ID, or the namespace's inode for
        O(pid) / O(netns) targets) and the same O(ifname), or when it names the attachment's host
        end as its O(host_ifname). An entry with O(state=absent) names its attachment too (and
        removes it itself).
      - Ports of O(bridge) without the label (the uplink, anything not made by this module) and
        attachments on other bridges are never touched.
      - Removed attachments are listed in RV(interfaces) with RV(interfaces[].state=absent) and
        RV(interfaces[].purged=true), and in the diff. Check mode reports them and removes nothing.
      - They are removed before the entries are applied, so an address can move from a purged
        container to a new one in one run.
      - When an entry's target cannot be resolved (a stopped or unknown container, a vanished
        namespace) nothing it may name is purged; attachments labelled with that container name
        or ID, or for an unresolved O(pid) / O(netns) entry every O(pid) / O(netns) attachment,
        are kept. A bridge that does not exist has nothing to purge.
      - With O(interfaces=[]) every labelled attachment on O(bridge) is removed.
      - Requires O(bridge).
    type: bool
    default: false
  ifname:
    description:
      - The interface name inside the container, at most 15 bytes, without C(/), spaces or C(:).
      - Defaults to C(eth1).
    type: str
  host_ifname:
    description:
      - The name of the host end of the veth pair.
      - Defaults to C(vl) followed by 11 hex digits of a hash of the container's ID (not its PID)
        and O(ifname), so it is the same on every run and after restarts and differs between
        containers. For O(pid) and O(netns) targets the namespace's inode stands in for the ID.
    type: str
  addresses:
    description:
      - Addresses of O(ifname) in CIDR notation, IPv4 and/or IPv6, for example C(198.51.100.10/24) and
        C(2001:db8::10/64).
      - Exactly these addresses are kept on O(ifname); others are removed (IPv6 link-local
        addresses are left to the kernel).
      - IPv6 addresses are added without duplicate address detection (C(nodad)), so they work at
        once. When the namespace has IPv6 disabled on O(ifname) (Docker does this for containers
        without an IPv6 network), the module enables it there (C(disable_ipv6=0) on O(ifname) only).
    type: list
    elements: str
    aliases: [address]
  gateway:
    description:
      - IPv4 default gateway of the container, on the subnet of one of O(addresses). Its default
        route goes via it on O(ifname), replacing any IPv4 default route the container had (for
        example Docker's via C(eth0)).
      - Without it, existing IPv4 default routes on other interfaces are left alone.
    type: str
  gateway6:
    description:
      - IPv6 default gateway, like O(gateway); on the subnet of one of O(addresses) or link-local.
    type: str
  routes:
    description:
      - Further routes of the container via O(ifname). Routes on O(ifname) that are not listed (and
        not implied by O(gateway) / O(gateway6)) are removed; routes the kernel adds for the
        addresses' subnets stay.
    type: list
    elements: dict
    suboptions:
      dest:
        description: Destination network in CIDR notation, or C(default).
        type: str
        required: true
      via:
        description: Next hop, on the subnet of one of O(addresses).
        type: str
        required: true
  mac:
    description:
      - MAC address of O(ifname).
      - Defaults to a locally administered unicast MAC derived from the container's ID and O(ifname),
        so the LAN (ARP caches, DHCP reservations, port security) sees the same MAC after restarts.
    type: str
  mtu:
    description:
      - MTU of both ends of the pair. Defaults to the MTU of O(bridge).
      - In check mode with O(bridge) missing and no O(mtu) given the MTU is unknown; it is reported
        as V(null) and the result carries a warning.
    type: int
  announce:
    description:
      - After adding an address, send a gratuitous ARP (IPv4) or an unsolicited neighbour
        advertisement (IPv6) from inside the container, so the LAN learns the address at once.
      - Defaults to V(true).
    type: bool
  conflict_check:
    description:
      - Before adding an IPv4 address the container does not have yet, probe the LAN for it with an
        RFC 5227 ARP probe from the new interface. If another MAC answers, everything this entry
        created is removed and it fails with C(ADDRESS is already in use on the LAN by MAC).
      - With O(interfaces), the probes of all entries go out together and share one wait of half a
        second, so a batch costs one wait, not one per address. The other entries carry on.
      - Defaults to V(true).
    type: bool
  state:
    description:
      - V(present) creates or repairs the attachment.
      - V(absent) removes the veth pair (both ends) and only it. The container may be stopped.
      - For a container the engine does not know (any more), the attachment is found by its label
        alone, and only by an exact match of the label's container name or full ID with O(container)
        and of its interface with O(ifname); never by an ID prefix (another engine's container may
        start with the same letters) and never an attachment of a O(pid) or O(netns) target.
      - Defaults to V(present).
    type: str
    choices: [present, absent]
attributes:
  check_mode:
    support: full
    description: Computes the plan from the live state and changes nothing.
  diff_mode:
    support: full
    description: The observed and planned facts of each interface.
  idempotent:
    support: full
    description: A second run with the same options changes nothing.
notes:
  - Run it as root on the host that runs the containers. The module enters the containers' network
    namespaces itself; the host's own namespace is changed only by adding, labelling and deleting
    its own veth ends.
  - Each entry's network namespace is opened once, when its target is resolved, and every later step
    reaches it through that descriptor, never again by path or PID; a container that restarts in the
    meantime cannot redirect a step into another (or a reused) namespace.
  - A Linux bridge takes at most 1023 ports; spread larger batches over several bridges.
  - When a container restarts, its namespace and the pair disappear; run the module again (the role
    does) to recreate the attachment with the same names, MAC and addresses.
seealso:
  - module: lanbridge.core.host_bridge
"""

EXAMPLES = r"""
- name: Give web1 an address on the LAN bridge br0
  lanbridge.core.container_veth:
    container: web1
    bridge: br0
    addresses: [198.51.100.10/24, "2001:db8::10/64"]
    gateway: 198.51.100.1
    gateway6: "2001:db8::1"

- name: Every container of the host in one run
  lanbridge.core.container_veth:
    interfaces:
      - container: web1
        bridge: br0
        addresses: [198.51.100.10/24]
        gateway: 198.51.100.1
      - container: db1
        runtime: podman
        bridge: br0
        ifname: lan0
        addresses: [198.51.100.11/24]
        routes:
          - dest: 203.0.113.0/24
            via: 198.51.100.254
      - netns: blue
        bridge: br0
        addresses: [198.51.100.12/24]

- name: The host's whole list; attachments on br0 that it no longer names are removed
  lanbridge.core.container_veth:
    bridge: br0
    purge: true
    interfaces:
      - container: web1
        addresses: [198.51.100.10/24]
        gateway: 198.51.100.1
      - container: db1
        addresses: [198.51.100.11/24]
        gateway: 198.51.100.1

- name: Detach web1 (removes the pair, nothing else)
  lanbridge.core.container_veth:
    container: web1
    state: absent
"""

RETURN = r"""
missing_library:
  description: V(pyroute2) when the run failed because the managed node's Python has no pyroute2 (nothing was changed).
  returned: when pyroute2 is missing
  type: str
  sample: pyroute2
agent:
  description:
    - With O(agent), what was (or in check mode would be) done to the agent - the result of
      M(lanbridge.core.attach_agent) (C(changed), C(version), C(files), C(service), C(state_file), and
      C(installed=false) with C(skipped_reason) outside init's network namespace).
  returned: when O(agent) is given
  type: dict
  sample: {changed: false, version: 0.1.0, files: [], service: unchanged, state_file: /etc/lanbridge/attachments.json}
interfaces:
  description: One entry per interface, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    container_id:
      description: The container's full ID (null for O(pid) / O(netns) targets).
      type: str
      sample: 3f2a91c0e1d54b7a9e0c7f0b5f0e6a1d2c3b4a5968778695a4b3c2d1e0f9a8b7
    container_name:
      description: The container's name.
      type: str
      sample: web1
    pid:
      description: The PID whose namespace was used (null for O(netns) targets).
      type: int
      sample: 4242
    netns:
      description: The path of the target network namespace.
      type: str
      sample: /proc/4242/ns/net
    host_ifname:
      description: The host end of the pair.
      type: str
      sample: vl1c9e40b7a2f
    ifname:
      description: The container end of the pair.
      type: str
      sample: eth1
    bridge:
      description: The bridge the host end is a port of.
      type: str
      sample: br0
    mode:
      description: V(routed) for a routed attachment (then also C(uplink) and
        C(proxy), the addresses the host answers for on it); absent for a bridged one.
      type: str
      sample: routed
    mac:
      description: MAC of the container end.
      type: str
      sample: "02:5e:11:a0:3c:7d"
    mtu:
      description: MTU of both ends.
      type: int
      sample: 1500
    addresses:
      description: Addresses of the container end.
      type: list
      elements: str
      sample: [198.51.100.10/24]
    routes:
      description: Routes via the container end (default routes as C(default)).
      type: list
      elements: dict
      sample: [{dest: default, via: 198.51.100.1}]
    state:
      description: V(present) or V(absent).
      type: str
      sample: present
    changed:
      description: Whether this interface was (or, in check mode, would be) changed.
      type: bool
      sample: true
    purged:
      description:
        - Present and true for an attachment that O(purge) removed (or, in check mode, would
          remove). RV(interfaces[].container_name) and RV(interfaces[].ifname) then come from
          its label; RV(interfaces[].container_id) is null for a O(pid) / O(netns) attachment.
      type: bool
      sample: true
    failed:
      description: Present and true when this entry failed; its changes were undone.
      type: bool
      sample: true
    msg:
      description: Why the entry failed.
      type: str
      sample: 198.51.100.50 is already in use on the LAN by 52:54:00:12:34:56
elapsed:
  description: Seconds the module spent reading, planning and applying (engine lookups included).
  returned: always
  type: float
  sample: 0.42
"""

import time
import traceback

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.lanbridge.core.plugins.module_utils._agent.manage import OPTIONS as AGENT_OPTIONS
from ansible_collections.lanbridge.core.plugins.module_utils._agent.manage import manage
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.batch import converge
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.engine import Engines
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.entry import (
    ENTRY_SPEC, SHARED_OPTIONS, Attachment, argument_spec, check_batch, check_resolved, validate, with_shared,
)
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.report import summarize
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.targets import TARGET_OPTIONS
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.pyroute import HAS_PYROUTE2, PYROUTE2_IMPORT_ERROR
from ansible_collections.lanbridge.core.plugins.module_utils._errors import AgentError, LanbridgeError


def run(module, raw_entries):
    """Read -> plan -> apply -> report, for every entry of the call."""
    single = len(raw_entries) == 1 and not module.params.get("interfaces")
    attachments = []
    for index, raw in enumerate(raw_entries):
        attachments.append(Attachment(validate(raw, None if single else index)))
    check_batch([(None if single else index, item.entry) for index, item in enumerate(attachments)])
    started = time.time()
    engines = Engines()
    purge_bridge = module.params.get("bridge") if module.params.get("purge") else None
    try:
        purged, missing = converge(attachments, engines, module.check_mode, purge_bridge,
                                   check=lambda items: check_resolved(items, single))
    finally:
        engines.close()
    out, warnings, failure = summarize(attachments, purged, missing, started, module._diff)
    for warning in warnings:
        module.warn(warning)
    if failure:
        module.fail_json(msg=failure, **out)
    return out


def with_agent(module, out):
    """The agent (option ``agent``) gets exactly this call's list; its result rides in ``out['agent']``."""
    params = module.params["agent"]
    if params is None:
        return out
    interfaces = [dict((k, v) for k, v in entry.items() if v is not None) for entry in module.params["interfaces"] or []]
    try:
        result = manage(dict(params, bridge=module.params.get("bridge"), interfaces=interfaces),
                        module.run_command, module.check_mode)
    except AgentError as exc:
        module.fail_json(msg="agent: %s (the attachments are as the result's interfaces say)" % exc, **out)
    for warning in result.pop("warnings", []):
        module.warn(warning)
    out["changed"] = out.get("changed", False) or result["changed"]
    if "diff" in result:
        if module._diff:
            out.setdefault("diff", {"before": {}, "after": {}})
            out["diff"]["before"]["agent"] = result["diff"]["before"]
            out["diff"]["after"]["agent"] = result["diff"]["after"]
        del result["diff"]
    out["agent"] = result
    return out


def main():
    module = AnsibleModule(
        argument_spec=dict(argument_spec(), agent={"type": "dict", "options": AGENT_OPTIONS}),
        mutually_exclusive=[list(TARGET_OPTIONS)] + [["interfaces", key] for key in ENTRY_SPEC
                                                     if key not in SHARED_OPTIONS],
        required_if=[("purge", True, ("bridge",))],
        supports_check_mode=True,
    )
    if not HAS_PYROUTE2:
        module.fail_json(msg=missing_required_lib("pyroute2"), exception=str(PYROUTE2_IMPORT_ERROR),
                         missing_library="pyroute2")
    if module.params.get("interfaces") is not None:
        shared = dict((k, module.params[k]) for k in SHARED_OPTIONS if module.params.get(k) is not None)
        raw_entries = [with_shared(raw, shared) for raw in module.params["interfaces"]]
        if not raw_entries and not module.params["purge"]:
            module.exit_json(**with_agent(module, dict(changed=False, interfaces=[])))
    else:
        if module.params["agent"] is not None:
            module.fail_json(msg="agent needs the interfaces list (the agent's desired state is that list)")
        raw_entries = [dict((k, module.params.get(k)) for k in ENTRY_SPEC)]
    try:
        out = run(module, raw_entries)
    except LanbridgeError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # the last resort: one sentence, the traceback only in 'exception'
        module.fail_json(msg="container_veth failed unexpectedly: %s: %s" % (type(exc).__name__, exc),
                         exception=traceback.format_exc())
    module.exit_json(**with_agent(module, out))


if __name__ == "__main__":
    main()
