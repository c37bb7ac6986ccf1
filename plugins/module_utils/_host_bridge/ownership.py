# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whose bridge is it? ``host_bridge`` changes and removes only bridges it made (or was told to adopt).

A bridge ``host_bridge`` creates carries ``BRIDGE_LABEL`` in its ``ifalias``, as the veths of
``container_veth`` carry theirs. Pure functions on the facts (``facts.facts_from_dump``):

``owner_by_name(name)`` -> who a bridge of that name usually belongs to (``Docker``, ``libvirt``, ...) or None.
``persisted`` (the manager that keeps this collection's files for the bridge, or None) makes an
unlabelled bridge ours too: a manager that creates it at boot cannot label it.

``check_present(facts, name, uplink, adopt, persisted=None)`` -> True when the bridge must be labelled now (an
    existing bridge that is ours by its ports, made by a version that did not label, or adopted);
    raises ``PlanError`` for a bridge that seems to be another system's, unless ``adopt``.
``check_absent(facts, name, adopt, persisted=None)`` raises ``PlanError`` unless the bridge is labelled or ``adopt``.
"""

import re

from ansible_collections.lanbridge.core.plugins.module_utils._labels import BRIDGE as BRIDGE_LABEL, VETH as VETH_LABEL
from ansible_collections.lanbridge.core.plugins.module_utils._errors import PlanError

# the names of the bridges other systems create and manage
OTHER_OWNERS = (
    (r"docker\d+", "Docker (its default bridge network)"), (r"br-[0-9a-f]{12}", "Docker (a user-defined network)"),
    (r"virbr.*", "libvirt"), (r"cni.*", "a CNI plugin"), (r"podman.*", "Podman"), (r"lxcbr.*", "LXC"),
    (r"lxdbr.*", "LXD"), (r"incusbr.*", "Incus"), (r"kube-bridge", "kube-router"), (r"cbr0", "Kubernetes"),
)


def owner_by_name(name):
    for pattern, owner in OTHER_OWNERS:
        if re.match(pattern + "$", name):
            return owner
    return None


def is_labelled(link):
    return (link.get("ifalias") or "").startswith(BRIDGE_LABEL)


def _foreign_ports(facts, name, uplink):
    return sorted(p for p, link in facts["links"].items() if link["master"] == name and p != uplink
                  and not (link.get("ifalias") or "").startswith(VETH_LABEL))


def check_present(facts, name, uplink, adopt, persisted=None):
    bridge = facts["links"].get(name)
    if bridge is not None and (is_labelled(bridge) or persisted):
        return False  # a bridge a manager made from this collection's files has no label, and is ours
    owner = owner_by_name(name)
    if owner and not adopt:
        raise PlanError("bridge %s looks like %s's (by its name); host_bridge leaves it alone: choose another name, "
                        "or set adopt: true to take it over" % (name, owner))
    if bridge is None:
        return False  # created with the label
    foreign = _foreign_ports(facts, name, uplink)
    if foreign and not adopt:
        raise PlanError("bridge %s exists without host_bridge's label and has ports that are not its uplink or this "
                        "collection's veths (%s): it seems to belong to someone else; set adopt: true to take it over"
                        % (name, ", ".join(foreign)))
    return True


def check_absent(facts, name, adopt, persisted=None):
    bridge = facts["links"].get(name)
    if bridge is None or is_labelled(bridge) or adopt or persisted:
        return
    owner = owner_by_name(name)
    raise PlanError("bridge %s was not made by host_bridge (no %r label)%s; state absent would detach its ports and "
                    "delete it: set adopt: true to remove it anyway"
                    % (name, BRIDGE_LABEL, ", it looks like %s's" % owner if owner else ""))
