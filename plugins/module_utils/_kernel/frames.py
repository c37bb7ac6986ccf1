# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The packets this collection sends and reads, as bytes (pure functions, no sockets).

``arp_frame(op, src_mac, sender_mac, sender_ip, target_mac, target_ip, dst_mac=BROADCAST)``
    an Ethernet II frame with one ARP packet (``op`` 1 = request, 2 = reply), padded to 60 bytes.
``announcement(ip, mac)`` the RFC 5227 announcement (who-has ip tell ip, broadcast).
``conflict_probe(ip, mac)`` the RFC 5227 probe (who-has ip tell 0.0.0.0, broadcast).
``parse_arp(frame)`` -> ``{op, sender_mac, sender_ip, target_mac, target_ip}`` or ``None``.
``neighbour_advertisement(address, mac)`` an ICMPv6 unsolicited NA (RFC 4861 7.2.6), for a raw
    ICMPv6 socket (the kernel fills in the checksum).
``icmp_echo_request(v6, ident, seq, payload)`` and ``parse_icmp_echo_reply``.
``ARP_SENDER_SET_FILTER`` the classic BPF program that keeps only ARP frames whose sender IP is set.
"""

import socket
import struct

from ansible_collections.lanbridge.core.plugins.module_utils._kernel.codec import mac_bytes, mac_text

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
BROADCAST = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"
ARP_REQUEST = 1
ARP_REPLY = 2
_ARP = struct.Struct("!6s6sHHHBBH6s4s6s4s")  # eth dst, eth src, ethertype, ARP (28 bytes)
_ETHERTYPE_OFFSET = 12
_ARP_SENDER_IP_OFFSET = 28                    # 14 (Ethernet) + 14 (ARP up to the sender IP)

ICMPV6_NEIGHBOUR_ADVERTISEMENT = 136
NA_FLAG_OVERRIDE = 0x20000000
OPT_TARGET_LLADDR = 2
ALL_NODES = "ff02::1"


def arp_frame(op, src_mac, sender_mac, sender_ip, target_mac, target_ip, dst_mac=BROADCAST):
    frame = _ARP.pack(
        mac_bytes(dst_mac), mac_bytes(src_mac), ETH_P_ARP,
        1, ETH_P_IP, 6, 4, op,
        mac_bytes(sender_mac), socket.inet_aton(sender_ip), mac_bytes(target_mac), socket.inet_aton(target_ip),
    )
    return frame + b"\x00" * (60 - len(frame))


def announcement(ip, mac):
    return arp_frame(ARP_REQUEST, mac, mac, ip, ZERO_MAC, ip)


def conflict_probe(ip, mac):
    return arp_frame(ARP_REQUEST, mac, mac, "0.0.0.0", ZERO_MAC, ip)


def parse_arp(frame):
    if len(frame) < _ARP.size:
        return None
    (_dst, _src, ethertype, htype, ptype, hlen, plen, op, sha, spa, tha, tpa) = _ARP.unpack_from(frame)
    if ethertype != ETH_P_ARP or htype != 1 or ptype != ETH_P_IP or hlen != 6 or plen != 4:
        return None
    return {"op": op, "sender_mac": mac_text(sha), "sender_ip": socket.inet_ntoa(spa),
            "target_mac": mac_text(tha), "target_ip": socket.inet_ntoa(tpa)}


def neighbour_advertisement(address, mac):
    target = socket.inet_pton(socket.AF_INET6, address)
    option = struct.pack("!BB6s", OPT_TARGET_LLADDR, 1, mac_bytes(mac))
    return struct.pack("!BBHI16s", ICMPV6_NEIGHBOUR_ADVERTISEMENT, 0, 0, NA_FLAG_OVERRIDE, target) + option


def _checksum(data):
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def icmp_echo_request(v6, ident, seq, payload):
    """An ICMP (v4) or ICMPv6 echo request (v6: the kernel computes the checksum)."""
    kind = 128 if v6 else 8
    header = struct.pack("!BBHHH", kind, 0, 0, ident, seq)
    if not v6:
        header = struct.pack("!BBHHH", kind, 0, _checksum(header + payload), ident, seq)
    return header + payload


def is_icmp_echo_reply(data, v6, ident, seq):
    """Whether ``data`` (as a raw ICMP socket reads it: IPv4 with its IP header) answers the request."""
    if not v6:
        data = data[(bytearray(data[:1])[0] & 0x0F) * 4:] if data else data
    if len(data) < 8:
        return False
    kind, _code, _sum, rid, rseq = struct.unpack("!BBHHH", data[:8])
    return kind == (129 if v6 else 0) and rid == ident and rseq == seq


# -- classic BPF (linux/filter.h): the opcodes the filter below uses
BPF_LD_H_ABS = 0x28     # A = the 16-bit word at offset k
BPF_LD_W_ABS = 0x20     # A = the 32-bit word at offset k
BPF_JEQ_K = 0x15        # if A == k: skip jt instructions, else skip jf
BPF_RET_K = 0x06        # accept k bytes of the frame (0 = drop it)
ACCEPT_ALL = 0x40000

# Keep ARP frames whose sender IP is set (answers and announcements of other hosts); drop the
# rest, notably every other interface's RFC 5227 probes (sender 0.0.0.0), so that a batch of N
# probe sockets on one bridge does not parse N x N frames.
ARP_SENDER_SET_FILTER = (
    (BPF_LD_H_ABS, 0, 0, _ETHERTYPE_OFFSET),       # A = ethertype
    (BPF_JEQ_K, 0, 3, ETH_P_ARP),                  # not ARP -> drop
    (BPF_LD_W_ABS, 0, 0, _ARP_SENDER_IP_OFFSET),   # A = sender IP
    (BPF_JEQ_K, 1, 0, 0),                          # 0.0.0.0 -> drop
    (BPF_RET_K, 0, 0, ACCEPT_ALL),                 # accept
    (BPF_RET_K, 0, 0, 0),                          # drop
)
