# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Announcements of new addresses, from the standard library (root / CAP_NET_RAW):
IPv6 unsolicited neighbour advertisement (RFC 4861 section 7.2.6) with a raw ICMPv6 socket, and an
``Announcer`` that sends many of them and gratuitous ARPs cheaply.

Sockets act in the network namespace they are opened in: send inside ``_netlink.in_netns(path)``
to announce from a container. An IPv6 address must already be usable (added with ``nodad`` or past
duplicate address detection), because it is the source.

Why ``Announcer``: closing an AF_PACKET socket waits for an RCU grace period in the kernel (about
14 ms), so one socket per gratuitous ARP costs 100 x 14 ms for 100 containers. The announcer keeps
its packet sockets (opened with protocol 0: nothing is received, nothing to bind) until ``close()``,
which closes them all at once from threads, so the grace periods overlap (about 20 ms in total).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import struct
import threading

from ansible_collections.lanbridge.core.plugins.module_utils._probe import ARP_REQUEST, ETH_P_ARP, ZERO_MAC, arp_frame

ICMPV6_NEIGHBOR_ADVERT = 136
NA_FLAG_OVERRIDE = 0x20000000
OPT_TARGET_LLADDR = 2
ALL_NODES = "ff02::1"


class NdiscError(Exception):
    """The advertisement could not be sent: names the interface and address and the cause."""


def na_packet(address, mac):
    """ICMPv6 neighbour advertisement (checksum 0: the kernel fills it in for raw ICMPv6 sockets)."""
    target = socket.inet_pton(socket.AF_INET6, address)
    option = struct.pack("!BB6s", OPT_TARGET_LLADDR, 1, bytes(bytearray(int(x, 16) for x in mac.split(":"))))
    return struct.pack("!BBHI16s", ICMPV6_NEIGHBOR_ADVERT, 0, 0, NA_FLAG_OVERRIDE, target) + option


def unsolicited_na(ifname, address, mac, count=1):
    """Tell all nodes on ``ifname`` that ``address`` is at ``mac`` (overriding their caches)."""
    try:
        index = socket.if_nametoindex(ifname)
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    except OSError as exc:
        raise NdiscError("cannot announce %s on %s: %s" % (address, ifname, exc.strerror or exc)) from exc
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        sock.bind((address, 0, 0, index))
        packet = na_packet(address, mac)
        for _attempt in range(count):
            sock.sendto(packet, (ALL_NODES, 0, 0, index))
    except OSError as exc:
        raise NdiscError("cannot announce %s on %s: %s" % (address, ifname, exc.strerror or exc)) from exc
    finally:
        sock.close()


class Announcer:
    """Gratuitous ARP and unsolicited NA for many interfaces; ``close()`` at the end (or use ``with``)."""

    def __init__(self):
        self._sockets = []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def garp(self, ifname, ip, mac):
        """Broadcast ``who-has ip tell ip`` from ``mac`` on ``ifname`` (RFC 5227 announcement)."""
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        except OSError as exc:
            raise NdiscError("cannot announce %s on %s: %s" % (ip, ifname, exc.strerror or exc)) from exc
        self._sockets.append(sock)
        try:
            sock.sendto(arp_frame(ARP_REQUEST, mac, mac, ip, ZERO_MAC, ip), (ifname, ETH_P_ARP))
        except OSError as exc:
            raise NdiscError("cannot announce %s on %s: %s" % (ip, ifname, exc.strerror or exc)) from exc

    def na(self, ifname, address, mac):
        unsolicited_na(ifname, address, mac)

    def announce(self, ifname, address, mac):
        if ":" in address:
            self.na(ifname, address, mac)
        else:
            self.garp(ifname, address, mac)

    def close(self):
        sockets, self._sockets = self._sockets, []
        threads = [threading.Thread(target=sock.close) for sock in sockets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
