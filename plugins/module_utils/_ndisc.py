# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IPv6 unsolicited neighbour advertisement (RFC 4861 section 7.2.6), the IPv6 counterpart of a
gratuitous ARP, with a raw ICMPv6 socket from the standard library (root / CAP_NET_RAW).

Sockets act in the network namespace they are opened in: call ``unsolicited_na`` inside
``_netlink.in_netns(path)`` to announce from a container. The address must already be usable
(added with ``nodad`` or past duplicate address detection), because it is the source.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import socket
import struct

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
        for _ in range(count):
            sock.sendto(packet, (ALL_NODES, 0, 0, index))
    except OSError as exc:
        raise NdiscError("cannot announce %s on %s: %s" % (address, ifname, exc.strerror or exc)) from exc
    finally:
        sock.close()
