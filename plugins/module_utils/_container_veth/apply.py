# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The apply step of ``container_veth``: run the planner's steps (``plan``) against the kernel,
entry by entry, each entry a ``_transaction.Transaction`` undone exactly on its own failure.

``Applier(namespaces)`` executes steps through the run's netlink sockets (``read.Namespaces``) and
    one ``_kernel.neighbours.Neighbours`` (conflict probes, announcements); ``close()`` at the end.
``Applier.entry(steps, target)`` -> an ``EntryTransaction``: the applied steps of one entry;
    ``.error`` is its failure message or None.
``Applier.apply_all(transactions, probe_timeout=PROBE_TIMEOUT)`` applies all entries phase by phase
    (links, conflict probes of all new IPv4 addresses at once, addresses and routes, announcements).
``APPLY_ERRORS`` are the errors that fail one entry (not the run).
"""

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import plan as planner
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.codec import broadcast
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.constants import MAIN_TABLE
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.neighbours import Neighbours
from ansible_collections.lanbridge.core.plugins.module_utils._transaction import Transaction
from ansible_collections.lanbridge.core.plugins.module_utils._errors import KernelError

PROBE_TIMEOUT = 0.5  # seconds an RFC 5227 probe waits for an answer (a LAN answers within milliseconds)
APPLY_ERRORS = (KernelError, OSError)


def _route(args):
    return {"family": "inet6" if args["family"] == 6 else "inet", "dst": args["dest"], "gateway": args.get("via"),
            "dev": args.get("dev"), "metric": args.get("metric"), "table": MAIN_TABLE}


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
        if op == "add_pair":
            peer_nl = self.namespaces.of(target)
            peer_nl.forget(args["peer"])
            indexes = nl.add_veth_port(args["ifname"], args["peer"], peer_nl.fd, args["master"], mtu=args.get("mtu"),
                                       peer_mac=args.get("mac"))
            peer_nl.remember(args["peer"], indexes[1])
        elif op == "del_link":
            nl.delete_link(args["ifname"])
        elif op == "set_link":
            attrs = dict((k, v) for k, v in args.items() if k != "ifname")
            if "master" in attrs:
                attrs["master"] = attrs["master"] or 0
            nl.set_link(args["ifname"], **attrs)
        elif op in ("enable_ipv6", "disable_ipv6"):
            nl.set_ipv6(args["ifname"], op == "enable_ipv6")
        elif op == "add_address":
            address, _sep, prefix = args["address"].partition("/")
            v6 = ":" in address
            nl.add_address(args["ifname"], address, int(prefix), broadcast=None if v6 else broadcast(address, prefix),
                           flags=["nodad"] if v6 else None)
        elif op == "del_address":
            address, _sep, prefix = args["address"].partition("/")
            nl.delete_address(args["ifname"], address, int(prefix))
        elif op == "add_route":
            nl.add_route(_route(args))
        elif op == "del_route":
            nl.delete_route(_route(args))
        elif op == "announce":
            self.neighbours.announce(nl.fd_path(), args["ifname"], args["address"].partition("/")[0], args["mac"])
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
                    self.neighbours.add_probe(index, self.namespaces.of(tx.target).fd_path(), args["ifname"],
                                              args["address"].partition("/")[0], args["mac"])
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
