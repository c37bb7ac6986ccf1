# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one transaction engine of the collection: apply plain-data steps in order, remember what
happened, and undo exactly that, newest first, when something fails.

A step is plain data that serializes to JSON unchanged (so the undo of a change can be written
down before the change is applied)::

    {'op': 'set_link',                       # what to do: the executor's operation
     'args': {'link': 'em1', 'master': 'br0'},
     'undo': [step, ...],                    # the steps that reverse it, computed by the planner
     'text': 'set em1 master br0',           # the sentence the plan and the messages show
     'ns': 'host'}                           # optional: where (container_veth: host or container)

``step(op, text, undo=(), ns=None, **args)`` builds one.
``Transaction(execute, journal=None)``: ``execute(step)`` performs one step (forward or undo) and
    raises on failure. ``apply(steps)`` runs steps in order and remembers each that succeeded (the
    failing one is not remembered: a step either happened or not); ``rollback()`` runs the undo of
    every remembered step, newest first, carrying on past failures, and returns the failures'
    messages (empty: the system is as before); ``applied()`` says what happened, in one sentence.
    With a ``journal`` (``_journal.Journal``) every step is announced before it runs and recorded
    after, and every step undone is written down, as it happens, so a watchdog can finish the
    rollback if this process dies.
``Transaction.resumed(execute, done, journal=None)``: the transaction of steps another process
    applied (a journal's), to roll them back here (each undo written down through ``journal``).
``TransactionError(message, rolled_back)``: what a module reports when a transaction failed.
"""


def step(op, text, undo=(), ns=None, **args):
    out = {"op": op, "args": args, "undo": list(undo), "text": text}
    if ns is not None:
        out["ns"] = ns
    return out


def changes_anything(steps, quiet=()):
    """Whether ``steps`` change the system (ops in ``quiet``, such as probes, do not)."""
    return any(s["op"] not in quiet for s in steps)


class Transaction:
    """Steps applied through ``execute``, so that a failure undoes exactly them (newest first)."""

    def __init__(self, execute, journal=None):
        self.execute = execute
        self.journal = journal
        self.done = []

    @classmethod
    def resumed(cls, execute, done, journal=None):
        tx = cls(execute, journal)
        tx.done = list(done)
        return tx

    def apply(self, steps):
        for item in steps:
            if self.journal is not None:
                self.journal.applying(len(self.done) + 1)
            self.execute(item)
            self.done.append(item)
            if self.journal is not None:
                self.journal.applied(len(self.done))

    def applied(self):
        return "; ".join(s["text"] for s in self.done) or "nothing applied yet"

    def rollback(self):
        errors = []
        for item in reversed(self.done):
            for undo in item["undo"]:
                try:
                    self.execute(undo)
                except Exception as exc:  # pylint: disable=broad-except  # keep undoing the rest
                    errors.append("%s (undoing '%s')" % (exc, item["text"]))
            if self.journal is not None:
                self.journal.undone(1)
        self.done = []
        return errors
