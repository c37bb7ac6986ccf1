# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``lanbridge-attach``: a boring daemon (systemd ``Type=notify``, ``Restart=always``).

Every decision is ``Agent.reconcile`` (``reconcile.py``), called from here alone:

* start-up: load the state file, ensure the firewall rule, **subscribe** to each engine the entries
  name, **then** one reconcile that lists the subscribed engines and the entries of no engine, so
  no event falls between the list and the subscription; then ``READY=1``;
* events: the loop waits (``wait_readable``) on the event streams, a signal pipe and the timers;
  the events of the streams that are readable -> one reconcile with them;
* a stream that ends (the engine stopped), or an engine that cannot be listed -> reconnect with
  backoff (0.1 s doubling to 5 s); every reconnect subscribes, then reconciles that engine (the
  firewall first);
* SIGHUP -> reload the state file, subscribe to the engines it adds, one reconcile of them all;
* every ``interval`` seconds (300) one reconcile of them all as a safety net, sooner (1 s doubling
  to 30 s) while an entry fails (a bridge not there yet after a reboot).

SIGTERM / SIGINT end it.

``Loop(agent, load, subscribe, ...)`` the loop with its I/O injected (unit-tested on plain data);
``notify(text)`` the sd_notify datagram; ``main()`` the service.
"""

import os
import select
import signal
import socket
import sys
import time

from ansible_collections.lanbridge.core.plugins.module_utils._agent import config as _config
from ansible_collections.lanbridge.core.plugins.module_utils._agent.events import Subscription
from ansible_collections.lanbridge.core.plugins.module_utils._agent.ops import HostOps
from ansible_collections.lanbridge.core.plugins.module_utils._agent.reconcile import Agent
from ansible_collections.lanbridge.core.plugins.module_utils._agent.version import COLLECTION_VERSION
from ansible_collections.lanbridge.core.plugins.module_utils._errors import LanbridgeError, StreamClosed

BACKOFF_FIRST, BACKOFF_MAX = 0.1, 5.0
RETRY_FIRST, RETRY_MAX = 1.0, 30.0


def notify(text, environ=None):
    """Send ``text`` (``READY=1``) to systemd's ``$NOTIFY_SOCKET``; False without one."""
    environ = os.environ if environ is None else environ
    address = environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    try:
        sock.connect(address)
        sock.sendall(text.encode("utf-8"))
    finally:
        sock.close()
    return True


def _log(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def wait_readable(fds, timeout):
    """The readable ones of ``fds`` (descriptor numbers) within ``timeout`` seconds (None: no limit);
    ``poll``, so a descriptor numbered past 1023 (an agent of many containers) is no error."""
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    ready = set(fd for fd, _event in poller.poll(None if timeout is None else max(0.0, timeout) * 1000.0))
    return [fd for fd in fds if fd in ready]


class Loop:
    """The daemon's loop; ``load()`` -> ``config.Desired``, ``subscribe(url)`` -> a subscription
    (``fileno``, ``read``, ``close``), ``wait(fds, timeout)`` -> the ready ones."""

    def __init__(self, agent, load, subscribe, log=_log, clock=time.monotonic, wait=wait_readable, notify_fn=notify):
        self.agent = agent
        self.load = load
        self.subscribe = subscribe
        self.log = log
        self.clock = clock
        self.wait = wait
        self.notify = notify_fn
        self.streams = {}        # engine key -> subscription
        self.reconnect_at = {}   # engine key -> when to try again
        self.backoff = {}        # engine key -> the next delay
        self.retry_in = RETRY_FIRST
        self.retry_at = None
        self.periodic_at = None
        self.wakeup = None       # a readable fd that signals write to
        self.pending = set()     # "hup", "term"
        self.ready = False

    # -- start-up and reload ------------------------------------------------------------------------

    def start(self):
        desired = self.load()
        self.agent.set_desired(desired)
        self.log("lanbridge-attach %s: %d interface(s) of %d container engine(s) desired"
                 % (COLLECTION_VERSION, len(desired.entries), len(desired.engines())))
        failed = self.agent.firewall()  # before anything: LAN traffic over the bridge needs it
        for key in desired.engines():
            self._subscribe(key)
        failed += self._reconcile("start-up", self._listed())
        self._after(failed)
        self.periodic_at = self.clock() + desired.interval
        self.notify("READY=1")
        self.ready = True

    def reload(self):
        try:
            desired = self.load()
        except (OSError, LanbridgeError) as exc:
            self.log("reload: keeping the old desired state: %s" % exc)
            return
        self.agent.set_desired(desired)
        self.log("reload: %d interface(s) of %d container engine(s) desired" % (len(desired.entries), len(desired.engines())))
        wanted = set(desired.engines())
        for key in list(self.streams):
            if key not in wanted:
                self._drop(key)
        for key in list(self.reconnect_at):
            if key not in wanted:
                del self.reconnect_at[key]
        for key in sorted(wanted - set(self.streams)):
            self._subscribe(key)
        self._after(self._reconcile("reload", self._listed()))

    # -- engines ------------------------------------------------------------------------------------

    def _subscribe(self, key):
        """Subscribe to engine ``key``'s events; False (and a reconnect later) when it cannot be."""
        try:
            self.streams[key] = self.subscribe(key[1])
        except StreamClosed as exc:
            self._later(key, str(exc))
            return False
        return True

    def _connect(self, key):
        """Subscribe to engine ``key``, then reconcile it; the number of entries that failed."""
        return self._reconcile("engine %s up" % key[1], [key]) if self._subscribe(key) else 0

    def _listed(self):
        """What a full reconcile lists: every subscribed engine and the entries of no engine (None)."""
        return sorted(self.streams) + [None]

    def _reconcile(self, why, keys=(), events=()):
        """``Agent.reconcile``; an engine it could not list is dropped and reconnected later, one it
        listed is up for good (its backoff starts over). The number of entries that failed."""
        failed, unreachable = self.agent.reconcile(why, keys, events)
        for key in keys:
            if key in unreachable:
                self._drop(key)
                self._later(key, unreachable[key])
            elif key is not None:
                self.backoff.pop(key, None)
                self.reconnect_at.pop(key, None)
        return failed

    def _drop(self, key):
        sub = self.streams.pop(key, None)
        if sub is not None:
            sub.close()

    def _later(self, key, why):
        delay = self.backoff.get(key, BACKOFF_FIRST)
        self.backoff[key] = min(delay * 2, BACKOFF_MAX)
        self.reconnect_at[key] = self.clock() + delay
        self.log("engine %s: %s; trying again in %.1f s" % (key[1], why, delay))

    def _after(self, failed):
        if failed:
            self.retry_at = self.clock() + self.retry_in
            self.retry_in = min(self.retry_in * 2, RETRY_MAX)
        else:
            self.retry_at = None
            self.retry_in = RETRY_FIRST

    # -- the loop -----------------------------------------------------------------------------------

    def timeout(self):
        now = self.clock()
        due = [self.periodic_at] + list(self.reconnect_at.values()) + ([self.retry_at] if self.retry_at else [])
        return max(0.0, min(due) - now)

    def step(self):
        """Wait once, then handle what is due; False once asked to stop."""
        by_fd = dict((sub.fileno(), key) for key, sub in self.streams.items())
        fds = list(by_fd) + ([self.wakeup] if self.wakeup is not None else [])
        ready = self.wait(fds, self.timeout())
        if self.wakeup is not None and self.wakeup in ready:
            try:
                os.read(self.wakeup, 512)
            except BlockingIOError:  # pragma: no cover
                pass
        if "term" in self.pending:
            return False
        if "hup" in self.pending:
            self.pending.discard("hup")
            self.reload()
        failed, told = 0, []
        for fd in ready:
            key = by_fd.get(fd)
            if key is None or key not in self.streams:
                continue
            try:
                told += [(key, event) for event in self.streams[key].read()]
            except StreamClosed as exc:
                self._drop(key)
                self._later(key, str(exc))
        if told:
            failed += self._reconcile("event", events=told)
        now = self.clock()
        for key, when in sorted(self.reconnect_at.items()):
            if when <= now:
                del self.reconnect_at[key]
                failed += self._connect(key)
        if now >= self.periodic_at or (self.retry_at is not None and now >= self.retry_at):
            if now >= self.periodic_at:
                self.periodic_at = now + self.agent.desired.interval
            failed += self._reconcile("periodic", self._listed())
            self._after(failed)
        elif failed:
            self._after(failed)
        return True

    def run(self):
        self.start()
        while self.step():
            pass
        for key in list(self.streams):
            self._drop(key)
        self.log("lanbridge-attach: stopped")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    path = argv[0] if argv else _config.STATE_FILE
    agent = Agent(HostOps(), _log)
    loop = Loop(agent, lambda: _config.load(path), Subscription)
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd)
    loop.wakeup = read_fd
    signal.signal(signal.SIGHUP, lambda *_a: loop.pending.add("hup"))
    signal.signal(signal.SIGTERM, lambda *_a: loop.pending.add("term"))
    signal.signal(signal.SIGINT, lambda *_a: loop.pending.add("term"))
    try:
        loop.run()
    except (OSError, LanbridgeError) as exc:
        _log("lanbridge-attach: %s" % exc)
        return 1
    return 0
