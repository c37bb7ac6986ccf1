# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The apply step of ``container_veth``: run the planner's steps (``plan``) against the kernel,
entry by entry, each entry a ``_transaction.Transaction`` undone exactly on its own failure.

``Applier(namespaces)`` executes steps through the run's netlink sockets (``read.Namespaces``) and
    one ``_kernel.neighbours.Neighbours`` (conflict probes, announcements); ``close()`` at the end.
    A step's ``op`` is the ``Netlink`` method it calls with its ``args`` (``NETLINK_OPS``), in the
    namespace its ``ns`` names; ``add_veth_port`` gets the target namespace's descriptor as
    ``peer_netns_fd``; ``announce`` and ``probe`` go to ``Neighbours``.
``Applier.entry(steps, target)`` -> an ``EntryTransaction``: the applied steps of one entry;
    ``.error`` is its failure message or None.
``Applier.apply_all(transactions, probe_timeout=PROBE_TIMEOUT)`` applies all entries phase by phase
    (links, conflict probes of all new IPv4 addresses at once, addresses and routes, announcements).
``APPLY_ERRORS`` are the errors that fail one entry (not the run).
"""

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import plan as planner
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.neighbours import Neighbours
from ansible_collections.lanbridge.core.plugins.module_utils._transaction import Transaction
from ansible_collections.lanbridge.core.plugins.module_utils._errors import KernelError

PROBE_TIMEOUT = 0.5  # seconds an RFC 5227 probe waits for an answer (a LAN answers within milliseconds)
APPLY_ERRORS = (KernelError, OSError)
# the Netlink methods a step may name besides add_veth_port (which needs the peer's namespace)
NETLINK_OPS = ("delete_link", "set_link", "set_ipv6", "set_sysctl", "add_address", "delete_address", "add_route",
               "delete_route", "add_proxy_neighbour", "delete_proxy_neighbour")


class EntryTransaction(Transaction):
    """The applied steps of one entry, so that a failure undoes exactly them (newest first)."""

    def __init__(self, execute, steps, target):
        super().__init__(execute)
        self.phases = planner.phases(steps)
        self.target = target
        self.error = None

    def run(self, steps):
        """Apply ``steps`` in order; on failure undo everything this entry applied."""
        try:
            self.apply(steps)
        except APPLY_ERRORS as exc:
            self.fail(str(exc))

    def fail(self, msg):
        problems = self.rollback()
        if problems:
            msg += " (and undoing failed: %s)" % "; ".join(problems)
        self.error = msg


class Applier:
    """Executes ``container_veth`` steps; one per module run."""

    def __init__(self, namespaces):
        self.namespaces = namespaces
        self.neighbours = Neighbours()

    def close(self):
        self.neighbours.close()

    def entry(self, steps, target):
        return EntryTransaction(lambda step: self.execute(step, target), steps, target)

    def execute(self, step, target):
        """Apply one step (forward or undo) of the entry whose target is ``target``."""
        op, args = step["op"], step["args"]
        nl = self.namespaces.of(None if step.get("ns") == "host" else target)
        if op == "add_veth_port":
            peer_nl = self.namespaces.of(target)
            peer_nl.forget(args["peer"])
            indexes = nl.add_veth_port(peer_netns_fd=peer_nl.fd, **args)
            peer_nl.remember(args["peer"], indexes[1])
        elif op in NETLINK_OPS:
            getattr(nl, op)(**args)
        elif op == "announce":
            self.neighbours.announce(nl.fd_path(), args["link"], args["address"], args["mac"])
        else:  # pragma: no cover  (probes run for the whole batch in apply_all)
            raise KernelError("unknown step %s" % op)

    def apply_all(self, transactions, probe_timeout=PROBE_TIMEOUT):
        """Apply the plans of all entries phase by phase: links of every entry, then the conflict probes
        of all new IPv4 addresses at once (one shared timeout), then addresses and routes, then the
        announcements. Entries stay independent: a failure undoes that entry's steps only."""
        prepare, probe, configure, announce = range(4)
        for tx in transactions:
            tx.run(tx.phases[prepare])
        probing = [tx for tx in transactions if tx.error is None and tx.phases[probe]]
        for index, tx in enumerate(probing):
            try:
                for step in tx.phases[probe]:
                    args = step["args"]
                    where = self.namespaces.of(None if step.get("ns") == "host" else tx.target)
                    self.neighbours.add_probe(index, where.fd_path(), args["link"], args["address"], args["mac"])
            except APPLY_ERRORS as exc:
                tx.fail(str(exc))
        if probing:
            for index, msg in sorted(self.neighbours.run_probes(probe_timeout).items()):
                if probing[index].error is None:
                    probing[index].fail(msg)
        for phase in (configure, announce):
            for tx in transactions:
                if tx.error is None:
                    tx.run(tx.phases[phase])
