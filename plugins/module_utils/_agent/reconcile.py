# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the agent decides, on plain data; its operations are injected (``ops.HostOps`` on a host,
a recording fake in the unit tests).

``Agent(ops, log)`` with ``set_desired(desired)`` (a ``config.Desired``):

``reconcile(why, keys=(), events=())`` the one reconcile: the daemon calls it at start-up, on every
    engine (re)connect, on a reload, for every batch of events and on the periodic timer. It learns
    which containers run from two sources:

    * ``keys``, the engines to list (an engine key, or ``None`` for the entries of no engine, the
      ``pid`` / ``netns`` targets): the firewall rule first, then each desired container the engine
      knows: running -> attach (read -> plan -> apply; nothing changes when all is in place),
      stopped -> its host ends deleted, unknown -> left to its start event; an entry of no engine
      is attached;
    * ``events``, ``(key, event)`` pairs in the order the engines sent them: ``die`` / ``stop`` of a
      desired container deletes its host ends at once; a ``start`` attaches it, unless a later
      event of the same container in the batch said it ended.

    The containers to attach are one batch (``ops.attach``), so 100 restarts share one probe wait.
    Returns ``(failed, unreachable)``: the number of entries that failed (the daemon retries soon)
    and ``{key: sentence}`` for the engines that could not be listed (the daemon reconnects them).
``firewall()`` the firewall rule alone; returns 1 when it failed, else 0.

One journal line per action: the container, its address, what was done and why (``why``; for an
event, ``why`` and the event's action: ``event die``), for an event with the milliseconds from it.
"""

import time

from ansible_collections.lanbridge.core.plugins.module_utils._errors import EngineError, FirewallError


class Agent:

    def __init__(self, ops, log, now=time.time):
        self.ops = ops
        self.log = log
        self.now = now
        self.desired = None

    def set_desired(self, desired):
        self.desired = desired

    # -- the firewall -------------------------------------------------------------------------------

    def firewall(self):
        try:
            for line in self.ops.firewall(self.desired):
                self.log(line)
        except (OSError, FirewallError) as exc:
            self.log("firewall: %s" % exc)
            return 1
        return 0

    # -- the one reconcile --------------------------------------------------------------------------

    def reconcile(self, why, keys=(), events=()):
        """See the module docstring."""
        failed, unreachable, facts = 0, {}, []
        if keys:
            failed += self.firewall()  # first: the engine may have rebuilt its chains
        for key in keys:
            try:
                facts += self._listed(key, why)
            except EngineError as exc:
                unreachable[key] = str(exc)
        for key, event in events:
            entries = self.desired.for_container(key, event["id"], event.get("name"))
            if entries:
                facts.append(_fact(event["action"], event["id"], entries, "%s %s" % (why, event["action"]),
                                   event.get("time")))
        starts = {}  # container ID (None: the entries of no engine) -> its last start
        for fact in facts:
            if fact["action"] == "start":
                starts[fact["id"]] = fact
            else:
                starts.pop(fact["id"], None)
                failed += self._detach(fact)
        if starts:
            failed += self._attach(list(starts.values()))
        return failed, unreachable

    def _listed(self, key, why):
        """What engine ``key`` says of its desired containers, as facts (the entries of no engine: started)."""
        entries = [e for e in self.desired.entries if self.desired.engine_key(e) == key]
        if key is None:
            return [_fact("start", None, entries, why)] if entries else []
        infos = self.ops.inspect(key, sorted(set(e["container"] for e in entries)))
        facts = {}  # container ID -> its fact (two entries may name one container by name and by ID)
        for entry in entries:
            info = infos.get(entry["container"])
            if info is None:
                continue  # not created (yet): its start event will come
            if info["id"] not in facts:
                running = info["running"] and info["pid"] > 0
                facts[info["id"]] = _fact("start" if running else "stop", info["id"], [],
                                          why if running else "%s: not running" % why)
            facts[info["id"]]["entries"].append(entry)
        return list(facts.values())

    # -- actions and their journal lines ------------------------------------------------------------

    def _ms(self, since):
        return "" if since is None else ", %d ms from the event" % max(0, round((self.now() - since) * 1000))

    def _detach(self, fact):
        entries, why = fact["entries"], fact["why"]
        name = entries[0].get("container")
        try:
            gone = self.ops.detach(fact["id"], sorted(set(e["ifname"] for e in entries)),
                                   sorted(set(e["bridge"] for e in entries if e.get("bridge"))))
        except Exception as exc:  # pylint: disable=broad-except  # one failure never stops the agent
            self.log("container %s: detaching failed (%s): %s" % (name, why, exc))
            return 1
        addresses = ",".join(a for e in entries for a in e["addresses"]) or "-"
        for host_ifname in gone:
            self.log("container %s %s: host end %s deleted (%s)%s" % (name, addresses, host_ifname, why,
                                                                      self._ms(fact["since"])))
        return 0

    def _attach(self, facts):
        batch = [(entry, fact) for fact in facts for entry in fact["entries"]]
        try:
            results = self.ops.attach([entry for entry, _fact in batch])
        except Exception as exc:  # pylint: disable=broad-except
            whys = ", ".join(sorted(set(fact["why"] for fact in facts)))
            self.log("attaching %d interface(s) failed (%s): %s" % (len(batch), whys, exc))
            return len(batch)
        failed = 0
        for (entry, fact), result in zip(batch, results):
            name = result.get("container_name") or entry.get("container") or entry.get("netns") or entry.get("pid")
            addresses = ",".join(result.get("addresses") or entry["addresses"]) or "-"
            if result.get("failed"):
                failed += 1
                self.log("container %s %s: not attached (%s): %s" % (name, addresses, fact["why"], result.get("msg")))
            elif result.get("changed"):
                self.log("container %s %s: attached to %s as %s (%s)%s" % (
                    name, addresses, result.get("bridge") or "%s (routed)" % result.get("uplink"), result.get("host_ifname"), fact["why"],
                    self._ms(fact["since"])))
        return failed


def _fact(action, container_id, entries, why, since=None):
    """What is known of one container: ``start`` (running) or ``stop`` / ``die`` (ended), its
    desired entries, why it is known, and when the event came (None for a listing)."""
    return {"action": action, "id": container_id, "entries": entries, "why": why, "since": since}
