#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: lan_info
short_description: Report the host's LAN bridges and container attachments, and whether each is still attached
version_added: 0.1.0
description:
  - Reads, and changes nothing. Reports every bridge M(lanbridge.core.host_bridge) manages on the
    host (those whose C(ifalias) starts with C(lanbridge:bridge)) with its uplink, addresses,
    routes, MAC and STP, and every attachment M(lanbridge.core.container_veth) made, found by the
    label in the host end's C(ifalias), with its container, the container end's MAC, addresses
    and routes, and a RV(attachments[].status).
  - For an attachment of a container (the label names its ID) the engine is asked whether the
    container exists and runs (see O(runtime), O(docker_host)); for a running one the container
    end is read inside the container's network namespace (C(/proc/PID/ns/net), opened once and
    checked, the engine asked again afterwards so a reused PID is never read).
  - For an attachment of a O(lanbridge.core.container_veth#module:pid) or
    O(lanbridge.core.container_veth#module:netns) target (the label names the namespace's inode)
    the namespace is looked for by its inode under C(/run/netns), then in C(/proc/PID/ns/net) of
    every process.
  - Ports of a managed bridge that are neither its uplink nor a labelled veth are reported as
    attachments with RV(attachments[].status=not ours).
  - A routed attachment (O(lanbridge.core.container_veth#module:mode=routed)) is reported with its
    RV(attachments[].uplink) and the proxy neighbour entries the host keeps there for it.
  - Reads through netlink dumps (standard library; a dump the kernel marks as interrupted is read
    again) and the engine's API over its unix socket; needs no pyroute2, runs no commands.
author:
  - lanbridge.core contributors (@lanbridge)
requirements:
  - root on the managed host (to read other network namespaces)
extends_documentation_fragment:
  - lanbridge.core.attributes
  - lanbridge.core.engine
attributes:
  check_mode:
    support: full
    details: The module only reads; check mode runs it unchanged.
  diff_mode:
    support: none
    details: Nothing changes, so there is nothing to diff.
  idempotent:
    support: full
notes:
  - The engine (O(runtime), O(docker_host)) is asked only when the host has an attachment of a
    container. An engine that cannot be reached fails nothing; its containers' attachments are
    reported with RV(attachments[].status=unknown) and a warning.
  - Run it as root on the host itself; it reports the network namespace it runs in.
  - A veth pair dies with either end's namespace, so the host end of a stopped or removed container
    normally disappears within a moment. A host end whose container is stopped or gone (or whose
    namespace cannot be found) is still there only while something keeps the old namespace alive
    (an open descriptor, a bind mount); it is reported so it can be found and purged
    (M(lanbridge.core.container_veth) with O(lanbridge.core.container_veth#module:purge)).
seealso:
  - module: lanbridge.core.host_bridge
  - module: lanbridge.core.container_veth
"""

EXAMPLES = r"""
- name: What is on the LAN bridges of this host
  lanbridge.core.lan_info:
  register: lan

- name: Attachments that need attention
  ansible.builtin.debug:
    msg: "{{ lan.attachments | rejectattr('status', 'equalto', 'attached') | map(attribute='reason') }}"

- name: Containers run by Podman
  lanbridge.core.lan_info:
    runtime: podman
"""

RETURN = r"""
bridges:
  description:
    - Every bridge M(lanbridge.core.host_bridge) manages (labelled C(lanbridge:bridge)), sorted by name,
      in the shape of M(lanbridge.core.host_bridge)'s RV(lanbridge.core.host_bridge#module:bridge).
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: The bridge's name., type: str, returned: always, sample: br0}
    index: {description: The interface index., type: int, returned: always, sample: 5}
    state: {description: V(up) or V(down)., type: str, returned: always, sample: up}
    mac: {description: The bridge's MAC address., type: str, returned: always, sample: "02:00:00:00:01:01"}
    mtu: {description: The bridge's MTU., type: int, returned: always, sample: 1500}
    stp: {description: Whether spanning tree is on., type: bool, returned: always, sample: false}
    forward_delay: {description: The forward delay in seconds., type: int, returned: always, sample: 15}
    label: {description: The bridge's C(ifalias)., type: str, returned: always, sample: "lanbridge:bridge"}
    ports: {description: Names of all the bridge's ports., type: list, elements: str, returned: always,
            sample: [em1, vl309f509dc9c, vl422709fc216, vl694abf936e2, vl6cecdc073f5, vlcf51c669a3e, vldbfaa1591e5, vlf08b7db4c12]}
    addresses: {description: The bridge's global-scope addresses (CIDR)., type: list, elements: str, returned: always,
                sample: [198.51.100.11/24]}
    routes:
      description: Routes through the bridge that are not the kernel's own, as M(lanbridge.core.host_bridge) reports them.
      type: list
      elements: dict
      returned: always
      sample:
        - {family: inet, dst: default, gateway: 198.51.100.254, metric: null, table: 254, protocol: static, scope: global}
    uplink:
      description:
        - The port that is not one of this collection's labelled veths (preferring one that is not a veth),
          by M(lanbridge.core.host_bridge)'s own rule; V(null) for a bridge without uplink, or when several
          ports could be it (then with a warning).
      type: str
      returned: always
      sample: em1
    persisted:
      description:
        - The network manager that keeps the bridge across reboots (V(networkd), V(networkmanager), V(ifupdown),
          V(netplan)), that is the one whose configuration M(lanbridge.core.host_bridge) wrote for it (its
          O(lanbridge.core.host_bridge#module:persist) option); V(null) when the bridge lives in the running kernel only.
      type: str
      returned: always
      sample: null
attachments:
  description:
    - Every veth of the host whose C(ifalias) carries M(lanbridge.core.container_veth)'s label, on any bridge or
      none, and every port of a managed bridge that is neither its uplink nor labelled (RV(attachments[].status=not ours)),
      sorted by bridge, then container name and interface.
  returned: always
  type: list
  elements: dict
  contains:
    status:
      description:
        - V(attached) - the container runs (or the namespace exists) and the other end of the pair is in its network namespace.
        - V(container stopped) - the engine knows the container but it does not run; the host end is stale.
        - V(container gone) - the engine does not know the container (removed); the host end is stale.
        - V(namespace gone) - a O(lanbridge.core.container_veth#module:pid) / O(lanbridge.core.container_veth#module:netns)
          attachment whose namespace cannot be found by its inode (no name under C(/run/netns), no process in it).
        - V(stale) - the container runs (or the namespace exists) but the other end of the pair is not in its namespace
          (it restarted while its old namespace was kept alive, or the end was moved); the next
          M(lanbridge.core.container_veth) run recreates the attachment.
        - V(not ours) - a port of a managed bridge without the label that is not its uplink (a foreign veth, a tap...).
        - V(unknown) - the engine could not be asked (see RV(attachments[].reason)), or the label names a kind of target
          this version does not know.
      type: str
      returned: always
      sample: attached
    reason:
      description: One sentence explaining RV(attachments[].status).
      type: str
      returned: always
      sample: "container lbt-78a39783 (c55779e6266c) has eth1, the other end of vlcf51c669a3e"
    host_ifname: {description: The host end's name., type: str, returned: always, sample: vlcf51c669a3e}
    kind: {description: The host end's link kind (V(veth) for an attachment)., type: str, returned: always, sample: veth}
    host_mac: {description: The host end's MAC address., type: str, returned: always, sample: "8e:e0:02:48:1e:03"}
    mtu: {description: The host end's MTU., type: int, returned: always, sample: 1500}
    bridge: {description: The bridge the host end is a port of; V(null) for none., type: str, returned: always, sample: br0}
    bridge_managed:
      description: Whether RV(attachments[].bridge) is one of RV(bridges).
      type: bool
      returned: always
      sample: true
    identity:
      description: What the label names, V(container:ID) or V(netns:INODE); V(null) for V(not ours).
      type: str
      returned: always
      sample: "container:c55779e6266cce74d2d36d06367da22b874ea131029b28da3e4a99574605d9e3"
    container_id: {description: The container's full ID; V(null) for a namespace., type: str, returned: always,
                   sample: c55779e6266cce74d2d36d06367da22b874ea131029b28da3e4a99574605d9e3}
    container_name:
      description: The container's name (from the engine, else from the label); for a namespace the name its label records.
      type: str
      returned: always
      sample: lbt-78a39783
    pid:
      description: The container's PID, or a process in the namespace; V(null) unless V(attached) or V(stale) (and for a named namespace).
      type: int
      returned: always
      sample: 22615
    netns: {description: The path the namespace was read through; V(null) unless V(attached) or V(stale)., type: str,
            returned: always, sample: /proc/22615/ns/net}
    ifname: {description: The container end's name as the label records it., type: str, returned: always, sample: eth1}
    peer_ifname: {description: The container end's name as found; V(null) unless V(attached)., type: str, returned: always, sample: eth1}
    mac: {description: The container end's MAC address; V(null) unless V(attached)., type: str, returned: always, sample: "76:0a:51:75:9d:8d"}
    addresses:
      description: The container end's addresses (IPv6 link-local left out); empty unless V(attached).
      type: list
      elements: str
      returned: always
      sample: [198.51.100.21/24, "2001:db8::21/64"]
    routes:
      description: Routes through the container end in its main table, not the kernel's own (default routes as C(default)).
      type: list
      elements: dict
      returned: always
      sample: [{dest: default, via: 198.51.100.254}, {dest: 203.0.113.0/24, via: 198.51.100.1}]
    mode:
      description:
        - V(bridged) - an attachment whose host end is meant for a bridge, and every V(not ours) port.
        - V(routed) - a O(lanbridge.core.container_veth#module:mode=routed) attachment, its host end in no bridge;
          the host routes the container's addresses to it and answers for them on RV(attachments[].uplink).
      type: str
      returned: always
      sample: routed
    uplink:
      description: The host's interface on the LAN a routed attachment answers on, as its label records it; V(null) when bridged.
      type: str
      returned: always
      sample: em1
    proxy:
      description:
        - The proxy neighbour entries (C(ip neigh show proxy)) on RV(attachments[].uplink) for the addresses routed to
          the host end or held by the container end; empty when bridged.
      type: list
      elements: str
      returned: always
      sample: [192.0.2.10, "2001:db8::10"]
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.persist_read import persisted_by
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netns import in_init_netns
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.engine import ENGINE_SPEC, Engines, choose
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.facts import facts_from_dump
from ansible_collections.lanbridge.core.plugins.module_utils._lan_info import attachments as _attachments
from ansible_collections.lanbridge.core.plugins.module_utils._lan_info import bridges as _bridges
from ansible_collections.lanbridge.core.plugins.module_utils._lan_info.read import TargetReader, read_host
from ansible_collections.lanbridge.core.plugins.module_utils._errors import KernelError, LanbridgeError

ARGUMENT_SPEC = dict(ENGINE_SPEC)


def run(module, engines):
    """Read everything once, then report: ``(result, warnings)``."""
    dump = read_host()
    facts = facts_from_dump(dump)
    bridges, warnings = _bridges.views(facts, persisted_by if in_init_netns() else (lambda name: None))
    managed = set(view["name"] for view in bridges)
    by_index = dict((link["index"], link) for link in dump["links"])
    by_name = dict((link["ifname"], link) for link in dump["links"])
    found = _attachments.labelled(dump["links"])
    engine = None
    if any(_attachments.target_kind(label["id"]) == "container" for _link, label in found):
        engine = engines.get(module.params["runtime"], module.params["docker_host"])
    reader = TargetReader(engine)
    out = []
    for link, label in found:
        master = by_index.get(link.get("master"))
        out.append(_attachments.attachment(link, label, master["ifname"] if master else None, managed,
                                           reader.target(label["id"]), dump))
    for view in bridges:
        for port in _bridges.foreign_ports(facts, view["name"], view["uplink"]):
            out.append(_attachments.foreign(by_name[port], view["name"], view["uplink"] is not None))
    out.sort(key=_attachments.order)
    for error in sorted(set(t.get("error") for t in reader.targets() if t.get("state") == "unknown" and t.get("error"))):
        warnings.append("some attachments' status is unknown: %s" % error)
    return {"changed": False, "bridges": bridges, "attachments": out}, warnings


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    engines = Engines()
    try:
        choose(module.params["runtime"], module.params["docker_host"])
        result, warnings = run(module, engines)
    except KernelError as exc:
        module.fail_json(msg="failed to read the host's interfaces: %s" % exc, changed=False)
    except LanbridgeError as exc:
        module.fail_json(msg=str(exc), changed=False)
    except Exception as exc:  # the last resort: one sentence, the traceback only in 'exception'
        module.fail_json(msg="lan_info failed unexpectedly: %s: %s" % (type(exc).__name__, exc),
                         exception=traceback.format_exc(), changed=False)
    finally:
        engines.close()
    for warning in warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
