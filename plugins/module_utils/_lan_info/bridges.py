# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bridges ``host_bridge`` manages, in the shape ``host_bridge`` reports them. Pure functions on
the facts of ``_host_bridge.facts.facts_from_dump`` (names instead of indexes).

``managed(facts)`` -> the names of the bridges that carry ``host_bridge``'s label, sorted.
``views(facts)`` -> ``([bridge], [warning])``: ``facts.view``'s bridge of each managed bridge, plus
    ``uplink`` (found by ``host_bridge``'s own rule: the port that is not one of this collection's
    labelled veths) and ``persisted``.
``foreign_ports(facts, bridge)`` -> the ports of ``bridge`` that are neither its uplink nor a veth
    with ``container_veth``'s label.

``persisted`` is the manager whose configuration ``host_bridge`` wrote for the bridge
(``_host_bridge.persist_read.persisted_by``: its own marked files), or ``None`` when it lives in the
running kernel only. A bridge a manager brought back at boot carries no label; such a bridge is
managed too.
"""

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.names import parse_label
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge import facts as bridge_facts
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.ownership import is_labelled
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.plan import uplink_of_bridge
from ansible_collections.lanbridge.core.plugins.module_utils._errors import PlanError


def managed(facts, persisted=lambda name: None):
    return sorted(name for name, link in facts["links"].items()
                  if link["kind"] == "bridge" and (is_labelled(link) or persisted(name)))


def views(facts, persisted=lambda name: None):
    """``persisted(name)`` -> the manager that keeps the bridge's configuration, or None."""
    found, warnings = [], []
    for name in managed(facts, persisted):
        view = bridge_facts.view(facts, name)["bridge"]
        try:
            view["uplink"] = uplink_of_bridge(facts, name)
        except PlanError as exc:
            view["uplink"] = None
            warnings.append("bridge %s: its uplink is not known: %s" % (name, exc))
        view["persisted"] = persisted(name)
        found.append(view)
    return found, warnings


def foreign_ports(facts, bridge, uplink):
    return [port for port in bridge_facts.ports(facts, bridge)
            if port != uplink and not (facts["links"][port]["kind"] == "veth"
                                       and parse_label(facts["links"][port]["ifalias"]))]
