# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Telling the LAN about new addresses: RFC 5227 conflict probes for many interfaces at once with
one shared timeout, and the announcements (gratuitous ARP for IPv4, unsolicited neighbour
advertisement for IPv6). The one announcement path of the collection.

A probe of one address waits up to its timeout; 100 probes one after another cost 100 timeouts.
``Neighbours`` opens one packet socket per interface (inside the interface's namespace), sends
the probes for every address (sender IP ``0.0.0.0``), then waits once over all sockets (a
``selectors`` poller: no limit on the number of descriptors), collecting the answers. The same
sockets then send the announcements, so no namespace is entered twice.

Usage::

    lan = Neighbours()
    try:
        lan.add_probe(key, netns_path, ifname, address, own_mac)     # KernelError: bad interface
        failed = lan.run_probes(timeout)  # {key: 'ADDRESS is already in use on the LAN by MAC'}
        lan.announce(netns_path, ifname, address, mac)              # IPv4 or IPv6
    finally:
        lan.close()
"""

import selectors
import errno
import socket
import time

from ansible_collections.lanbridge.core.plugins.module_utils._kernel import frames
from ansible_collections.lanbridge.core.plugins.module_utils._kernel import packet_io
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netns import in_netns
from ansible_collections.lanbridge.core.plugins.module_utils._errors import KernelError

RESEND = 0.25  # a lost first probe must not cost the whole timeout


def _advertise(ifname, address, mac):
    """Unsolicited NA: tell all nodes on ``ifname`` that ``address`` is at ``mac`` (current namespace),
    sent from ``address`` where it is usable here (added with ``nodad`` or past duplicate address
    detection), else, for an address the host answers for by proxy, from an address of ``ifname``
    that the kernel chooses."""
    try:
        index = socket.if_nametoindex(ifname)
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.IPPROTO_ICMPV6)
    except OSError as exc:
        raise KernelError("cannot announce %s on %s: %s" % (address, ifname, exc.strerror or exc), exc.errno) from exc
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        try:
            sock.bind((address, 0, 0, index))
        except OSError as exc:
            if exc.errno != errno.EADDRNOTAVAIL:
                raise
        sock.sendto(frames.neighbour_advertisement(address, mac), (frames.ALL_NODES, 0, 0, index))
    except OSError as exc:
        raise KernelError("cannot announce %s on %s: %s" % (address, ifname, exc.strerror or exc), exc.errno) from exc
    finally:
        sock.close()


class Neighbours:
    """Probes and announcements on many interfaces in many namespaces; ``close()`` at the end."""

    def __init__(self):
        self._bound = {}     # (netns, ifname) -> socket bound to ifname for ARP
        self._pending = {}   # (netns, ifname) -> [(key, address, own mac)]
        self._senders = {}   # netns -> an unbound socket for announcements

    @staticmethod
    def _unbound(netns):
        with in_netns(netns):
            return packet_io.open_packet_socket("the target")

    def _socket_for(self, netns, ifname):
        where = (netns, ifname)
        if where not in self._bound:
            self._bound[where] = packet_io.bind_arp(self._unbound(netns), ifname)
        return self._bound[where]

    def add_probe(self, key, netns, ifname, address, mac):
        """Ask for ``address`` from ``ifname`` (whose MAC is ``mac``) in the namespace at ``netns``."""
        self._socket_for(netns, ifname)
        self._pending.setdefault((netns, ifname), []).append((key, address, mac))

    def run_probes(self, timeout):
        """Send every probe, wait up to ``timeout`` seconds in total (less when every address has
        been claimed). Returns ``{key: message}`` for each key with an address another MAC claims
        (``198.51.100.50 is already in use on the LAN by 52:54:00:12:34:56``) or whose probe could
        not be sent; keys not in it are free to use."""
        answers = {}
        waiting = dict((where, list(items)) for where, items in self._pending.items() if items)
        self._pending = {}
        deadline = time.monotonic() + timeout
        resend = 0.0
        poller = selectors.DefaultSelector()
        try:
            for where in waiting:
                poller.register(self._bound[where], selectors.EVENT_READ, where)
            while waiting:
                now = time.monotonic()
                if now >= deadline:
                    break
                if now >= resend:
                    self._send_probes(waiting, answers, poller)
                    resend = now + RESEND
                    if not waiting:
                        break
                for selected, _events in poller.select(max(0.0, min(deadline, resend) - now)):
                    self._collect(selected.data, waiting, answers, poller)
        finally:
            poller.close()
        return answers

    def _send_probes(self, waiting, answers, poller):
        for where in list(waiting):
            try:
                for _key, address, mac in waiting[where]:
                    packet_io.send(self._bound[where], where[1], frames.conflict_probe(address, mac))
            except KernelError as exc:
                for key, _address, _mac in waiting.pop(where):
                    answers.setdefault(key, str(exc))
                poller.unregister(self._bound[where])

    def _collect(self, where, waiting, answers, poller):
        for arp in self._drain(self._bound[where]):
            for item in list(waiting.get(where, ())):
                key, address, mac = item
                if arp["sender_ip"] == address and arp["sender_mac"] != mac.lower():
                    answers.setdefault(key, "%s is already in use on the LAN by %s" % (address, arp["sender_mac"]))
                    waiting[where].remove(item)
        if where in waiting and not waiting[where]:
            del waiting[where]
            poller.unregister(self._bound[where])

    @staticmethod
    def _drain(sock):
        out = []
        while True:
            try:
                frame = sock.recv(2048)
            except OSError:  # BlockingIOError: nothing more to read
                return out
            arp = frames.parse_arp(frame)
            if arp is not None:
                out.append(arp)

    def announce(self, netns, ifname, address, mac):
        """Announce ``address`` (IPv4: gratuitous ARP; IPv6: unsolicited NA) at ``mac`` on ``ifname``."""
        if ":" in address:
            with in_netns(netns):
                _advertise(ifname, address, mac)
            return
        frame = frames.announcement(address, mac)
        sock = self._bound.get((netns, ifname))
        if sock is not None:
            packet_io.send(sock, ifname, frame)
            return
        if netns not in self._senders:
            self._senders[netns] = self._unbound(netns)
        packet_io.send(self._senders[netns], ifname, frame, bound=False)

    def close(self):
        sockets = list(self._bound.values()) + list(self._senders.values())
        self._bound, self._senders = {}, {}
        packet_io.close_all(sockets)
