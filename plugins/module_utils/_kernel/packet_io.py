# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Packet sockets (root / CAP_NET_RAW): open, bind for ARP, send, close. Standard library only.

A socket keeps the network namespace it was opened in: open it inside ``netns.in_netns`` to send
from a container.

``open_packet_socket(what)`` a packet socket bound to no interface and no protocol. Protocol 0
    keeps it out of the receive path, which makes it cheap twice over: it can send to any
    interface of its namespace (``send(..., bound=False)``), and binding it later to one
    interface for ARP does not wait for an RCU grace period (about 10 ms) the way re-binding a
    socket opened with ``ETH_P_ARP`` does.
``bind_arp(sock, ifname)`` bind it to ``ifname`` for ARP, non-blocking, with
    ``frames.ARP_SENDER_SET_FILTER`` attached; ``open_arp_socket(ifname)`` does both.
``send(sock, ifname, frame, bound=True)`` one frame; a link that cannot take it right now (no
    carrier, down, queue full) is a lost frame, not an error.
``close_all(sockets)`` closes them all at once, from threads: each AF_PACKET close waits for an RCU
    grace period (about 14 ms), so closing 100 one by one costs 1.4 s and together about 20 ms.
"""

import ctypes
import errno
import socket
import struct
import threading

from ansible_collections.lanbridge.core.plugins.module_utils._kernel import codec
from ansible_collections.lanbridge.core.plugins.module_utils._kernel import frames
from ansible_collections.lanbridge.core.plugins.module_utils._errors import KernelError

SO_ATTACH_FILTER = 26
LOST = (errno.ENOBUFS, errno.ENETDOWN, errno.EAGAIN, errno.ENXIO)

# struct sock_fprog {unsigned short len; struct sock_filter *filter;}, the program kept alive here
_FILTER_CODE = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *ins) for ins in frames.ARP_SENDER_SET_FILTER))
_FILTER_PROG = struct.pack("HL", len(frames.ARP_SENDER_SET_FILTER), ctypes.addressof(_FILTER_CODE))


def open_packet_socket(what):
    try:
        return socket.socket(socket.AF_PACKET, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
    except OSError as exc:
        raise KernelError("cannot open a packet socket for ARP on %s: %s" % (what, exc.strerror or exc),
                          exc.errno) from exc


def bind_arp(sock, ifname):
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, _FILTER_PROG)
        sock.bind((ifname, frames.ETH_P_ARP))
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise KernelError("cannot use interface %s for ARP: %s" % (ifname, exc.strerror or exc), exc.errno) from exc
    return sock


def open_arp_socket(ifname):
    return bind_arp(open_packet_socket(ifname), ifname)


def own_mac(sock):
    """The MAC of the interface a bound packet socket serves."""
    return codec.mac_text(sock.getsockname()[4][:6])


def send(sock, ifname, frame, bound=True):
    """Send ``frame`` on ``ifname``; True when the kernel took it, False when it was lost."""
    try:
        if bound:
            sock.send(frame)
        else:
            sock.sendto(frame, (ifname, frames.ETH_P_ARP))
    except OSError as exc:
        if exc.errno in LOST:
            return False
        raise KernelError("cannot send ARP on %s: %s" % (ifname, exc.strerror or exc), exc.errno) from exc
    return True


def close_all(sockets):
    threads = [threading.Thread(target=sock.close) for sock in sockets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
