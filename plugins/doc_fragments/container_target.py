# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options that name the network namespace ``container_veth`` acts in (its engine options are the
``engine`` fragment's).

Paired with ``TARGET_SPEC`` in ``plugins/module_utils/_container_veth/targets.py`` (the argument spec).
"""


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  container:
    description:
      - Name or ID of a running container whose network namespace is the target.
      - The container is looked up through the engine's API over its unix socket (no CLI); its
        network namespace is the one of its main process (C(/proc/PID/ns/net)).
      - Exactly one of O(container), O(pid) and O(netns) must be given.
      - The container needs a network namespace of its own (for Docker C(--network none) or a
        bridge network). Refused, with a sentence naming the owner of the namespace it uses, are a
        container with C(--network host), one with C(--network container:X) (target X instead; its
        attachment serves both) and a member of a Podman pod that shares the infra container's
        namespace. Attaching through a sharer would let two entries rewrite one namespace, each
        deleting the other's default route on every run.
      - The engine is asked again after the namespace has been opened; a container that restarted
        in between is looked up anew, so a reused PID never names the namespace.
    type: str
  pid:
    description:
      - A process whose network namespace is the target (C(/proc/PID/ns/net)).
      - The default O(host_ifname) is then derived from the namespace's inode, which is stable only
        while that namespace exists; prefer O(container) for containers.
      - A process in the module's own network namespace is refused.
    type: int
  netns:
    description:
      - A network namespace, as a name under C(/run/netns) (as created by C(ip netns add)) or a path
        such as C(/proc/123/ns/net) or a bind mount.
      - It must be a network namespace file. Anything else is refused with a sentence, at once and
        without side effects. A FIFO, a device node, a socket or a directory is refused before it is
        opened (opening a FIFO would block, opening a watchdog would arm it). A regular file is opened
        non-blocking and must be on nsfs (C(NSFS_MAGIC)) and of type C(CLONE_NEWNET) (not, say,
        C(/proc/self/ns/uts)). The module's own namespace is refused too.
    type: str
"""
