#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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
  - Invalid options (a bad CIDR, a gateway outside every address's subnet, a bad name) fail the
    whole task before anything changes.
  - With O(purge), attachments on O(bridge) that this call's entries no longer name are removed, so
    the list can be the whole truth of a host's bridge.
  - Uses netlink through pyroute2 and the engine's API through its unix socket; runs no commands.
author:
  - lanbridge.core developers (@lanbridge)
requirements:
  - Python >= 3.8 on the managed node
  - pyroute2 >= 0.7.2
  - root (CAP_NET_ADMIN and CAP_SYS_ADMIN, to enter network namespaces)
extends_documentation_fragment:
  - lanbridge.core.container_target
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
  bridge:
    description:
      - The bridge in the host's network namespace that the host end joins. It must already exist
        (create it with M(lanbridge.core.host_bridge)). In check mode a missing bridge is planned
        as an empty one (see O(mtu)), so the diff shows every attachment a real run would make
        once the bridge exists; a real run fails.
      - Required with O(state=present).
      - With O(interfaces), it may be given at the top level too, as the bridge of every
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

import os
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.lanbridge.core.plugins.module_utils import _names
from ansible_collections.lanbridge.core.plugins.module_utils import _netlink
from ansible_collections.lanbridge.core.plugins.module_utils import _veth_plan as planner
from ansible_collections.lanbridge.core.plugins.module_utils._engine import EngineError, Engines
from ansible_collections.lanbridge.core.plugins.module_utils._netns import (
    TARGET_OPTIONS, TARGET_SPEC, TargetError, resolve,
)
from ansible_collections.lanbridge.core.plugins.module_utils._validate import (
    ValidationError, check_ifname, check_mac, check_mtu,
)
from ansible_collections.lanbridge.core.plugins.module_utils._veth_apply import EntryError, Transaction, apply_all
from ansible_collections.lanbridge.core.plugins.module_utils._veth_reader import Reader

ROUTE_SPEC = {"dest": {"type": "str", "required": True}, "via": {"type": "str", "required": True}}
ENTRY_SPEC = dict(TARGET_SPEC)
ENTRY_SPEC.update({
    "bridge": {"type": "str"},
    "ifname": {"type": "str"},
    "host_ifname": {"type": "str"},
    "addresses": {"type": "list", "elements": "str", "aliases": ["address"]},
    "gateway": {"type": "str"},
    "gateway6": {"type": "str"},
    "routes": {"type": "list", "elements": "dict", "options": ROUTE_SPEC},
    "mac": {"type": "str"},
    "mtu": {"type": "int"},
    "announce": {"type": "bool"},
    "conflict_check": {"type": "bool"},
    "state": {"type": "str", "choices": ["present", "absent"]},
})
DEFAULTS = {"ifname": "eth1", "runtime": "auto", "announce": True, "conflict_check": True, "state": "present"}
ENTRY_RULES = {
    "mutually_exclusive": [list(TARGET_OPTIONS)],
    "required_one_of": [list(TARGET_OPTIONS)],
}


def argument_spec():
    spec = dict(ENTRY_SPEC)
    spec["interfaces"] = dict({"type": "list", "elements": "dict", "options": ENTRY_SPEC}, **ENTRY_RULES)
    spec["purge"] = {"type": "bool", "default": False}
    return spec


# Options of the single form that may also stand next to ``interfaces`` (as the entries' default).
SHARED_OPTIONS = ("bridge",)


# --------------------------------------------------------------------------- validate (pure)

def validate(raw, index=None):
    """Options of one entry -> a normalised entry; raises ValueError naming the entry."""
    entry = dict((k, v) for k, v in raw.items() if k in ENTRY_SPEC)
    for key, value in DEFAULTS.items():
        if entry.get(key) is None:
            entry[key] = value
    where = "" if index is None else "interfaces[%d]: " % index
    try:
        given = [k for k in TARGET_OPTIONS if entry.get(k) not in (None, "")]
        if len(given) != 1:
            raise ValueError("give exactly one of container, pid or netns (got %s)" % (", ".join(given) or "none"))
        check_ifname(entry["ifname"], "ifname")
        if entry.get("host_ifname"):
            check_ifname(entry["host_ifname"], "host_ifname")
        if entry["state"] == "present" and not entry.get("bridge"):
            raise ValueError("bridge is required with state present")
        if entry.get("bridge"):
            check_ifname(entry["bridge"], "bridge")
        if entry.get("mac"):
            entry["mac"] = check_mac(entry["mac"], "mac")
        if entry.get("mtu") is not None:
            check_mtu(entry["mtu"], "mtu")
        entry["addresses"] = [planner.normalize_address(a) for a in entry.get("addresses") or []]
        if len(set(entry["addresses"])) != len(entry["addresses"]):
            raise ValueError("addresses lists an address twice")
        entry["routes"] = planner.wanted_routes(entry["addresses"], entry.get("gateway"), entry.get("gateway6"),
                                                entry.get("routes"))
    except (ValueError, ValidationError) as exc:
        raise ValueError(where + str(exc)) from None
    return entry


# --------------------------------------------------------------------------- read

def find_target(entry, engines, here):
    """Resolve the target; for state=absent a stopped or unknown container is not an error."""
    try:
        return resolve(entry, engines, here)
    except EngineError as exc:
        if entry["state"] != "absent" or not entry.get("container"):
            raise
        engine = engines.get(entry["runtime"], entry.get("docker_host"))
        try:
            info = engine.inspect(entry["container"])
        except EngineError:
            if "no container named" not in str(exc):
                raise
            info = None
        return {"kind": "container", "path": None, "inode": None, "pid": None, "netns": None,
                "identity": _names.container_identity(info["id"]) if info else None,
                "container_id": info["id"] if info else None,
                "container_name": info["name"] if info else entry["container"],
                "what": "container %s" % entry["container"]}


def complete(entry, target, reader, live):
    """Fill in what depends on identity and the live bridge: names, label, MAC, MTU."""
    wanted = dict(entry)
    identity = target["identity"]
    name = target.get("container_name") or (entry.get("netns") or ("pid%s" % entry.get("pid")))
    wanted["label"] = _names.make_label(identity, entry["ifname"], name) if identity else None
    if not wanted.get("host_ifname"):
        if live.get("host"):
            wanted["host_ifname"] = live["host"]["ifname"] if identity is None else _names.host_ifname(identity, entry["ifname"])
        elif identity:
            wanted["host_ifname"] = _names.host_ifname(identity, entry["ifname"])
    if not wanted.get("mac") and identity:
        wanted["mac"] = _names.container_mac(identity, entry["ifname"])
    if wanted.get("mtu") is None and live.get("bridge"):
        wanted["mtu"] = live["bridge"].get("mtu")
    return wanted


def purge_plan(planned, reader, bridge):
    """``(link, step, before)`` for every labelled attachment on ``bridge`` that no entry names."""
    named, unresolved, host_ifnames = set(), [], set()
    for entry, target, wanted, _steps, _before, _after, _error in planned:
        identity = (target or {}).get("identity")
        if identity:
            named.add((identity, entry["ifname"]))
        elif entry.get("container"):
            unresolved.append(("container", entry["container"]))
        else:
            unresolved.append(("netns", None))
        if wanted.get("host_ifname"):
            host_ifnames.add(wanted["host_ifname"])
    return planner.purge(reader.host_links, bridge, named, unresolved, host_ifnames)


def purged_entry(link):
    """The result entry of an attachment removed by purge (what its label says)."""
    label = link["label"]
    kind, _sep, ident = label["id"].partition(":")
    return {"container_id": ident if kind == "container" else None, "container_name": label.get("name"),
            "pid": None, "netns": None, "ifname": label["ifname"], "state": "absent",
            "host_ifname": link["ifname"], "bridge": None, "mac": None, "mtu": None, "addresses": [], "routes": [],
            "purged": True}


def unknown_absent_links(reader, name):
    """Host ends labelled for a container that the engine no longer knows (state=absent)."""
    out = []
    for links in reader.labelled.values():
        for link in links:
            label = link["label"]
            if label.get("name") == name or label["id"].startswith("container:" + name):
                out.append(link)
    return out


# --------------------------------------------------------------------------- main

def result_entry(entry, target, after):
    target = target or {}
    item = {
        "container_id": target.get("container_id"), "container_name": target.get("container_name"),
        "pid": target.get("pid"), "netns": target.get("netns"), "ifname": entry["ifname"], "state": entry["state"],
    }
    if after.get("state") == "present":
        host, cont = after["host"], after["container"]
        item.update({"host_ifname": host["ifname"], "bridge": host["bridge"], "mac": cont["mac"], "mtu": cont["mtu"],
                     "addresses": cont["addresses"],
                     "routes": [{"dest": r["dest"], "via": r["via"]} for r in cont["routes"] if r["dev"] == entry["ifname"]]})
    else:
        item.update({"host_ifname": entry.get("host_ifname"), "bridge": None, "mac": None, "mtu": None,
                     "addresses": [], "routes": []})
    return item


def run(module, raw_entries):
    entries = []
    for index, raw in enumerate(raw_entries):
        try:
            entries.append(validate(raw, None if len(raw_entries) == 1 and not module.params.get("interfaces") else index))
        except ValueError as exc:
            module.fail_json(msg=str(exc))

    started = time.time()
    engines = Engines()
    reader = _netlink_reader(module)
    here = os.stat("/proc/self/ns/net")
    here = (here.st_dev, here.st_ino)
    results, diffs_before, diffs_after, failures = [], {}, {}, []
    missing = {}  # bridge -> [MTU unknown?] per entry planned against it although it does not exist
    try:
        planned = []
        for entry in entries:
            target = None
            try:
                target = find_target(entry, engines, here)
                live = reader.live(entry, target)
                if entry["state"] == "absent" and target.get("identity") is None:
                    extra = unknown_absent_links(reader, entry["container"])
                    live["stale"] = extra
                if entry["state"] == "present" and not live.get("bridge"):
                    if not module.check_mode:
                        raise EntryError("bridge %s does not exist" % entry["bridge"])
                    # check mode before the bridge is built (host_bridge's check run made nothing):
                    # plan against an empty bridge, so the diff shows what a real run will do
                    live["bridge"] = {"ifname": entry["bridge"], "index": None, "mtu": None, "kind": "bridge"}
                    missing.setdefault(entry["bridge"], []).append(entry.get("mtu") is None)
                wanted = complete(entry, target, reader, live)
                if entry["state"] == "present" and live["bridge"].get("kind") != "bridge":
                    raise EntryError("%s is not a bridge (it is a %s)" % (entry["bridge"], live["bridge"].get("kind") or "NIC"))
                steps, before, after = planner.plan(wanted, live)
                planned.append((entry, target, wanted, steps, before, after, None))
            except (EntryError, EngineError, TargetError, planner.PlanError, _netlink.NetlinkError) as exc:
                planned.append((entry, target, entry, [], None, None, str(exc)))

        purge_bridge = module.params.get("bridge") if module.params.get("purge") else None
        purged = purge_plan(planned, reader, purge_bridge) if purge_bridge else []
        purges = [Transaction([step], None) for _link, step, _before in purged]

        transactions = {}
        for index, (_entry, target, _wanted, steps, _before, _after, plan_error) in enumerate(planned):
            if plan_error is None and planner.changes(steps):
                transactions[index] = Transaction(steps, target)
        if not module.check_mode:
            # purge first: an address may move from a purged attachment to a new one
            apply_all(purges + [transactions[index] for index in sorted(transactions)], reader)

        for index, (entry, target, wanted, steps, before, after, plan_error) in enumerate(planned):
            error = plan_error if plan_error is not None else getattr(transactions.get(index), "error", None)
            key = "%s %s" % ((target or {}).get("what") or _what(entry), entry["ifname"])
            changed = planner.changes(steps)
            if error is not None:
                item = result_entry(wanted, target, {})
                item.update({"changed": False, "failed": True, "msg": error})
                failures.append(error)
            else:
                item = result_entry(wanted, target, after)
                item["changed"] = changed
                diffs_before[key], diffs_after[key] = before, after
            results.append(item)
        for (link, _step, before), tx in zip(purged, purges):
            item = purged_entry(link)
            if tx.error is not None:
                item.update({"changed": False, "failed": True, "msg": tx.error})
                failures.append(tx.error)
            else:
                item["changed"] = True
                key = "purged %s %s (%s)" % (item["container_name"] or link["label"]["id"], item["ifname"],
                                             link["ifname"])
                diffs_before[key], diffs_after[key] = before, {"state": "absent"}
            results.append(item)
    finally:
        reader.close()
        engines.close()

    for bridge, unknown_mtu in sorted(missing.items()):
        module.warn("check mode: bridge %s does not exist yet; %d attachment(s) planned as if it existed without "
                    "ports%s" % (bridge, len(unknown_mtu), "; their MTU is unknown until it exists (reported as null)"
                                 if any(unknown_mtu) else ""))
    out = {"changed": any(r["changed"] for r in results), "interfaces": results,
           "elapsed": round(time.time() - started, 4)}
    if module._diff:
        out["diff"] = {"before": diffs_before, "after": diffs_after}
    if failures:
        if len(results) == 1:
            msg = failures[0]
        else:
            msg = "%d of %d interfaces failed: %s" % (len(failures), len(results), "; ".join(failures))
        module.fail_json(msg=msg, **out)
    module.exit_json(**out)


def _what(entry):
    for key in TARGET_OPTIONS:
        if entry.get(key) is not None:
            return "%s %s" % (key, entry[key])
    return "?"


def _netlink_reader(module):
    try:
        return Reader()
    except _netlink.NetlinkError as exc:
        module.fail_json(msg=str(exc))


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[list(TARGET_OPTIONS)] + [["interfaces", key] for key in ENTRY_SPEC
                                                     if key not in SHARED_OPTIONS],
        required_if=[("purge", True, ("bridge",))],
        supports_check_mode=True,
    )
    if not _netlink.HAS_PYROUTE2:
        module.fail_json(msg=missing_required_lib("pyroute2"), exception=str(_netlink.PYROUTE2_IMPORT_ERROR))
    if module.params.get("interfaces") is not None:
        shared = dict((k, module.params[k]) for k in SHARED_OPTIONS if module.params.get(k) is not None)
        raw_entries = [dict(raw, **dict((k, v) for k, v in shared.items() if raw.get(k) is None))
                       for raw in module.params["interfaces"]]
        if not raw_entries and not module.params["purge"]:
            module.exit_json(changed=False, interfaces=[])
    else:
        raw_entries = [dict((k, module.params.get(k)) for k in ENTRY_SPEC)]
    run(module, raw_entries)


if __name__ == "__main__":
    main()
