# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""RFC 5227 address conflict probes for many interfaces at once, with one shared timeout.

``_probe.arp_request`` asks for one address and waits up to its timeout; 100 new addresses asked
one after another cost 100 timeouts. ``Prober`` opens one AF_PACKET socket per interface (inside
the interface's network namespace: a packet socket keeps the namespace it was opened in), sends
the probes for every address (sender IP ``0.0.0.0``), then waits once with ``select`` over all
sockets, collecting the answers. The same sockets can then send the gratuitous ARPs of the
announcement, so no namespace is entered twice. Standard library only (root / CAP_NET_RAW).

Usage::

    with Prober() as prober:
        for ...:
            prober.add(key, netns_path, ifname, address, own_mac)   # ProbeError for a bad interface
        failed = prober.run(timeout)        # {key: 'ADDRESS is already in use on the LAN by MAC'}
        prober.garp(netns_path, ifname, address, mac)   # announcement on an open socket if any
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ctypes
import errno
import select
import socket
import struct
import threading
import time

from ansible_collections.lanbridge.core.plugins.module_utils import _netlink
from ansible_collections.lanbridge.core.plugins.module_utils._probe import (
    ARP_REQUEST, ETH_P_ARP, ZERO_MAC, ProbeError, arp_frame, parse_arp,
)

RESEND = 0.25  # a lost first probe must not cost the whole timeout
_LOST = (errno.ENOBUFS, errno.ENETDOWN, errno.EAGAIN, errno.ENXIO)

# A classic BPF program for the probe sockets: keep only ARP frames whose sender IP is set.
# Every new interface sits on the same bridge, so without it each probe socket would receive
# (and Python would parse) every other interface's probe (sender 0.0.0.0): N x N frames a batch.
#   ldh [12]; jeq #ETH_P_ARP else drop; ld [28] (sender IP); jeq #0 drop; ret all; drop: ret 0
SO_ATTACH_FILTER = 26
_SENDER_SET_FILTER = (
    (0x28, 0, 0, 12),
    (0x15, 0, 3, 0x0806),
    (0x20, 0, 0, 28),
    (0x15, 1, 0, 0),
    (0x06, 0, 0, 0x40000),
    (0x06, 0, 0, 0),
)
_FILTER_CODE = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *ins) for ins in _SENDER_SET_FILTER))
_FILTER_PROG = struct.pack("HL", len(_SENDER_SET_FILTER), ctypes.addressof(_FILTER_CODE))


def open_unbound(what="the target"):
    """A packet socket in the current namespace, bound to no interface and no protocol.

    Protocol 0 keeps it out of the receive path, which makes it cheap twice over: it can send
    announcements to any interface of its namespace (``sendto``), and binding it later to one
    interface for ARP does not wait for an RCU grace period (about 10 ms) the way re-binding a
    socket opened with ``ETH_P_ARP`` does."""
    try:
        return socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    except OSError as exc:
        raise ProbeError("cannot open a packet socket for ARP on %s: %s" % (what, exc.strerror or exc)) from exc


def _bind(sock, ifname):
    """Bind ``sock`` to ``ifname`` (looked up in the namespace the socket was opened in), with
    the filter that keeps only ARP frames with a sender IP (answers and announcements)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, _FILTER_PROG)
        sock.bind((ifname, ETH_P_ARP))
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ProbeError("cannot use interface %s for ARP: %s" % (ifname, exc.strerror or exc)) from exc
    return sock


def _send(sock, ifname, frame, bound=True):
    try:
        if bound:
            sock.send(frame)
        else:
            sock.sendto(frame, (ifname, ETH_P_ARP))
    except OSError as exc:
        if exc.errno not in _LOST:  # a link that cannot take the frame right now: a lost frame
            raise ProbeError("cannot send ARP on %s: %s" % (ifname, exc.strerror or exc)) from exc


class Prober:
    """Probes (and announcements) on many interfaces in many namespaces; ``close()`` at the end."""

    def __init__(self):
        self._sockets = {}   # (netns, ifname) -> socket bound to ifname for ARP (probes)
        self._pending = {}   # (netns, ifname) -> [(key, address, own mac)]
        self._spare = {}     # netns -> [unbound sockets opened there]
        self._senders = {}   # netns -> an unbound socket for announcements

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def adopt(self, netns, sock):
        """Keep ``sock`` (``open_unbound()``, opened inside ``netns`` by a caller that was there
        anyway) for the first use there: saves entering the namespace again."""
        self._spare.setdefault(netns, []).append(sock)

    def _unbound(self, netns):
        spare = self._spare.get(netns)
        if spare:
            return spare.pop()
        with _netlink.in_netns(netns):
            return open_unbound()

    def sock_for(self, netns, ifname):
        """The packet socket for ``ifname`` in ``netns`` (a spare one, or opened there, on first use)."""
        where = (netns, ifname)
        if where not in self._sockets:
            self._sockets[where] = _bind(self._unbound(netns), ifname)
        return self._sockets[where]

    def add(self, key, netns, ifname, address, mac):
        """Ask for ``address`` from ``ifname`` (whose MAC is ``mac``) in the namespace at ``netns``."""
        self.sock_for(netns, ifname)
        self._pending.setdefault((netns, ifname), []).append((key, address, mac))

    def _send_all(self, waiting):
        for where, items in waiting.items():
            sock = self._sockets[where]
            for _key, address, mac in items:
                _send(sock, where[1], arp_frame(ARP_REQUEST, mac, mac, "0.0.0.0", ZERO_MAC, address))

    def run(self, timeout):
        """Send every probe, wait up to ``timeout`` seconds in total (less when every address has
        been claimed). Returns ``{key: message}`` for each key with an address another MAC claims
        (``198.51.100.50 is already in use on the LAN by 52:54:00:12:34:56``) or whose probe could
        not be sent (the ``ProbeError`` text); keys not in it are free to use."""
        answers = {}
        waiting = dict((where, list(items)) for where, items in self._pending.items() if items)
        self._pending = {}
        deadline = time.monotonic() + timeout
        resend = 0.0
        while waiting:
            now = time.monotonic()
            if now >= deadline:
                break
            if now >= resend:
                for where in list(waiting):
                    try:
                        self._send_all({where: waiting[where]})
                    except ProbeError as exc:
                        for key, _address, _mac in waiting.pop(where):
                            answers.setdefault(key, str(exc))
                resend = now + RESEND
                if not waiting:
                    break
            by_fd = dict((self._sockets[where].fileno(), where) for where in waiting)
            ready = select.select(list(by_fd), [], [], max(0.0, min(deadline, resend) - now))[0]
            for fd in ready:
                where = by_fd[fd]
                for arp in self._drain(self._sockets[where]):
                    for item in list(waiting.get(where, ())):
                        key, address, mac = item
                        if arp["sender_ip"] == address and arp["sender_mac"] != mac.lower():
                            answers.setdefault(key, "%s is already in use on the LAN by %s" % (address, arp["sender_mac"]))
                            waiting[where].remove(item)
                if where in waiting and not waiting[where]:
                    del waiting[where]
        return answers

    @staticmethod
    def _drain(sock):
        out = []
        while True:
            try:
                frame = sock.recv(2048)
            except (BlockingIOError, InterruptedError):
                return out
            except OSError:
                return out
            arp = parse_arp(frame)
            if arp is not None:
                out.append(arp)

    def garp(self, netns, ifname, address, mac):
        """Announce ``address`` at ``mac`` on ``ifname`` (broadcast who-has address tell address)."""
        frame = arp_frame(ARP_REQUEST, mac, mac, address, ZERO_MAC, address)
        sock = self._sockets.get((netns, ifname))
        if sock is not None:
            _send(sock, ifname, frame)
            return
        if netns not in self._senders:
            self._senders[netns] = self._unbound(netns)
        _send(self._senders[netns], ifname, frame, bound=False)

    def close(self):
        """Close every socket at once: each AF_PACKET close waits for an RCU grace period."""
        sockets = (list(self._sockets.values()) + list(self._senders.values())
                   + [sock for socks in self._spare.values() for sock in socks])
        self._sockets, self._spare, self._senders = {}, {}, {}
        threads = [threading.Thread(target=sock.close) for sock in sockets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
