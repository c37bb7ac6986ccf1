# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the agent decides, on plain data; its operations are injected (``ops.HostOps`` on a host,
a recording fake in the unit tests).

``Agent(ops, log)`` with ``set_desired(desired)`` (a ``config.Desired``):

``reconcile(key=None)`` the one reconcile that start-up, every engine (re)connect, a reload and the
    periodic timer call: the firewall rule, then every desired container of engine ``key`` (all
    engines, and the ``pid`` / ``netns`` entries, for ``None``): running -> attach (read -> plan ->
    apply; nothing changes when all is in place), stopped -> its host ends deleted. Returns the
    number of entries that failed (the daemon retries soon); ``EngineError`` when the engine is away.
``handle(key, events)`` a batch of events of one engine, in order: ``die`` / ``stop`` of a listed
    container deletes its host ends at once; the ``start`` events left (a start followed by a die
    in the same batch is dropped) are attached as one batch, so 100 restarts share one probe wait.

One journal line per action: the container, its address, what was done and, for an event, the
milliseconds from the event to attached.
"""

import time


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
        except OSError as exc:
            self.log("firewall: %s" % exc)
            return 1
        return 0

    # -- the one reconcile --------------------------------------------------------------------------

    def reconcile(self, key=None, why="reconcile"):
        """See the module docstring; raises the engine's error when it cannot be asked."""
        failed = self.firewall()
        desired = self.desired
        keys = [key] if key is not None else desired.engines()
        attach, detach = [], []
        for engine_key in keys:
            entries = [e for e in desired.entries if desired.engine_key(e) == engine_key]
            infos = self.ops.inspect(engine_key, sorted(set(e["container"] for e in entries)))
            for entry in entries:
                info = infos.get(entry["container"])
                if info is None:
                    continue  # not created (yet): its start event will come
                if info["running"] and info["pid"] > 0:
                    attach.append(entry)
                else:
                    detach.append((info["id"], entry))
        if key is None:
            attach += [e for e in desired.entries if not e.get("container")]
        for container_id, entry in detach:
            failed += self._detach(container_id, [entry], "%s: not running" % why)
        if attach:
            failed += self._attach(attach, why, {})
        return failed

    # -- events -------------------------------------------------------------------------------------

    def handle(self, key, events):
        """Act on a batch of events of engine ``key``; returns the number of failures."""
        failed, starts = 0, {}
        for event in events:
            entries = self.desired.for_container(key, event["id"], event.get("name"))
            if not entries:
                continue
            if event["action"] == "start":
                starts[event["id"]] = (event, entries)
            else:
                starts.pop(event["id"], None)
                failed += self._detach(event["id"], entries, "event %s" % event["action"], event.get("time"))
        if starts:
            batch, times = [], {}
            for event, entries in starts.values():
                for entry in entries:
                    batch.append(entry)
                    times[id(entry)] = event.get("time")
            failed += self._attach(batch, "event start", times)
        return failed

    # -- journal lines ------------------------------------------------------------------------------

    def _ms(self, since):
        return "" if since is None else ", %d ms from the event" % max(0, round((self.now() - since) * 1000))

    def _detach(self, container_id, entries, why, since=None):
        name = entries[0].get("container")
        try:
            gone = self.ops.detach(container_id, sorted(set(e["ifname"] for e in entries)),
                                   sorted(set(e["bridge"] for e in entries)))
        except Exception as exc:  # pylint: disable=broad-except  # one failure never stops the agent
            self.log("container %s: detaching failed (%s): %s" % (name, why, exc))
            return 1
        addresses = ",".join(a for e in entries for a in e["addresses"]) or "-"
        for host_ifname in gone:
            self.log("container %s %s: host end %s deleted (%s)%s" % (name, addresses, host_ifname, why, self._ms(since)))
        return 0

    def _attach(self, entries, why, times):
        try:
            results = self.ops.attach(entries)
        except Exception as exc:  # pylint: disable=broad-except
            self.log("attaching %d interface(s) failed (%s): %s" % (len(entries), why, exc))
            return len(entries)
        failed = 0
        for entry, result in zip(entries, results):
            name = result.get("container_name") or entry.get("container") or entry.get("netns") or entry.get("pid")
            addresses = ",".join(result.get("addresses") or entry["addresses"]) or "-"
            if result.get("failed"):
                failed += 1
                self.log("container %s %s: not attached (%s): %s" % (name, addresses, why, result.get("msg")))
            elif result.get("changed"):
                self.log("container %s %s: attached to %s as %s (%s)%s" % (
                    name, addresses, result.get("bridge"), result.get("host_ifname"), why, self._ms(times.get(id(entry)))))
        return failed
