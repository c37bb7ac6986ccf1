# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The apply step of ``container_veth``: run the planner's steps (``_veth_plan``) against the kernel
through a ``_veth_reader.Reader``, entry by entry, each entry undone exactly on its own failure.

``run_step(step, reader, target)`` applies one step (forward or undo).
``Transaction(steps, target)``: the applied steps of one entry; ``.error`` is its failure message or None.
``apply_all(transactions, reader, probe_timeout=PROBE_TIMEOUT)`` applies all entries phase by phase
    (links, conflict probes of all new IPv4 addresses at once, addresses and routes, announcements).
``EntryError`` fails one entry (not the run); ``APPLY_ERRORS`` are the errors that fail one entry.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible_collections.lanbridge.core.plugins.module_utils import _ndisc
from ansible_collections.lanbridge.core.plugins.module_utils import _netlink
from ansible_collections.lanbridge.core.plugins.module_utils import _probe
from ansible_collections.lanbridge.core.plugins.module_utils import _veth_plan as planner

PROBE_TIMEOUT = 0.5  # seconds an RFC 5227 probe waits for an answer (a LAN answers within milliseconds)


class EntryError(Exception):
    """Fails one entry (not the run)."""


def _route(step):
    return {"family": "inet6" if step["family"] == 6 else "inet", "dst": step["dest"], "gateway": step.get("via"),
            "dev": step.get("dev"), "metric": step.get("metric"), "table": 254}


def _set_sysctl(target, ifname, value):
    with _netlink.in_netns(target["path"]):
        with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % ifname, "w") as f:
            f.write(value)


def run_step(step, reader, target):
    """Apply one step (forward or undo). Links are addressed by cached ifindex: no lookups."""
    op = step["op"]
    where = None if step["ns"] == "host" else target
    if op == "add_pair":
        fd = os.open(target["path"], os.O_RDONLY)
        try:
            indexes = reader.host_raw.add_veth_port(step["ifname"], step["peer"], fd, reader.index(None, step["master"]),
                                                    mtu=step.get("mtu"), peer_mac=step.get("mac"))
        finally:
            os.close(fd)
        reader.created(target, step["ifname"], step["peer"], indexes)
    elif op == "del_link":
        reader.netlink(where).delete_link(reader.index(where, step["ifname"]))
        reader.forget(where, step["ifname"])
    elif op == "set_link" and where is None and set(step) == {"op", "ns", "undo", "ifname", "ifalias"}:
        reader.host_raw.set_ifalias(step["ifname"], step["ifalias"])
    elif op == "set_link" and where is not None and set(step) == {"op", "ns", "undo", "ifname", "up"} and step["up"]:
        reader.raw[target["inode"]].set_up(reader.index(where, step["ifname"]), step["ifname"])  # a new peer
    elif op == "set_link":
        master = step.get("master")
        reader.netlink(where).set_link(reader.index(where, step["ifname"]), up=step.get("up"), mtu=step.get("mtu"),
                                       mac=step.get("mac"), ifalias=step.get("ifalias"),
                                       master=reader.index(None, master) if master else (0 if "master" in step else None))
    elif op in ("enable_ipv6", "disable_ipv6"):
        _set_sysctl(target, step["ifname"], "0" if op == "enable_ipv6" else "1")
    elif op in ("add_address", "del_address"):
        address, _sep, prefix = step["address"].partition("/")
        index = reader.index(where, step["ifname"])
        if op == "add_address":
            reader.raw[target["inode"]].add_address(index, address, int(prefix), what=step["ifname"])
        else:
            reader.netlink(where).delete_address(index, address, int(prefix))
    elif op in ("add_route", "del_route"):
        route = _route(step)
        if route.get("dev"):
            route["oif"] = reader.index(where, route.pop("dev"))
        if op == "add_route":
            reader.raw[target["inode"]].add_route(route)
        else:
            reader.netlink(where).delete_route(route)
    elif op == "announce":
        address = step["address"].partition("/")[0]
        if ":" in address:
            with _netlink.in_netns(target["path"]):
                reader.announcer.announce(step["ifname"], address, step["mac"])
        else:
            reader.prober.garp(target["path"], step["ifname"], address, step["mac"])
    else:  # pragma: no cover  (probes run for the whole batch in apply_all)
        raise EntryError("unknown step %s" % op)


APPLY_ERRORS = (EntryError, _netlink.NetlinkError, _probe.ProbeError, _ndisc.NdiscError, OSError)


class Transaction:
    """The applied steps of one entry, so that a failure undoes exactly them (newest first)."""

    def __init__(self, steps, target):
        self.phases = planner.phases(steps)
        self.target = target
        self.done = []
        self.error = None

    def run(self, steps, reader):
        """Apply ``steps`` in order; on failure undo everything this entry applied."""
        try:
            for step in steps:
                run_step(step, reader, self.target)
                self.done.append(step)
        except APPLY_ERRORS as exc:
            self.fail(str(exc), reader)

    def fail(self, msg, reader):
        problems = []
        for step in reversed(self.done):
            if step.get("undo"):
                try:
                    run_step(step["undo"], reader, self.target)
                except Exception as undo_exc:  # keep undoing the rest
                    problems.append(str(undo_exc))
        self.done = []
        if problems:
            msg += " (and undoing failed: %s)" % "; ".join(problems)
        self.error = msg


def apply_all(transactions, reader, probe_timeout=PROBE_TIMEOUT):
    """Apply the plans of all entries phase by phase: links of every entry, then the conflict probes
    of all new IPv4 addresses at once (one shared timeout), then addresses and routes, then the
    announcements. Entries stay independent: a failure undoes that entry's steps only."""
    prepare, probe, configure, announce = range(4)
    for tx in transactions:
        tx.run(tx.phases[prepare], reader)
    probing = [tx for tx in transactions if tx.error is None and tx.phases[probe]]
    for index, tx in enumerate(probing):
        try:
            for step in tx.phases[probe]:
                reader.prober.add(index, tx.target["path"], step["ifname"], step["address"].partition("/")[0],
                                  step["mac"])
        except APPLY_ERRORS as exc:
            tx.fail(str(exc), reader)
    if probing:
        for index, msg in sorted(reader.prober.run(probe_timeout).items()):
            if probing[index].error is None:
                probing[index].fail(msg, reader)
    for phase in (configure, announce):
        for tx in transactions:
            if tx.error is None:
                tx.run(tx.phases[phase], reader)
