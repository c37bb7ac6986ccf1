# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is anybody there? ARP and ICMP echo with raw sockets from the standard library (needs root /
CAP_NET_RAW; no external binaries).

Sockets act in the network namespace they are opened in: to probe from a container, call these
inside ``_netlink.in_netns(path)``.

API
---
``ProbeError(Exception)``: a socket could not be opened or used (bad interface, no permission).

Frames (pure)
    ``mac_bytes('aa:bb:..')`` / ``mac_text(b'...')``
    ``arp_frame(op, src_mac, sender_mac, sender_ip, target_mac, target_ip, dst_mac=BROADCAST)``
        -> bytes of an Ethernet II frame carrying an ARP packet (``op`` 1 = request, 2 = reply).
    ``parse_arp(frame)`` -> ``{'op', 'sender_mac', 'sender_ip', 'target_mac', 'target_ip'}`` or
        ``None`` for anything that is not an Ethernet/IPv4 ARP packet.

On the wire
    ``interface_mac(ifname)`` -> ``'aa:bb:..'``
    ``arp_request(ifname, target_ip, sender_ip, timeout=1.0, sender_mac=None)`` -> the MAC
        (text) that claims ``target_ip``, or ``None`` after ``timeout`` seconds. With
        ``sender_ip='0.0.0.0'`` this is an RFC 5227 probe: any ARP packet from another MAC whose
        sender is ``target_ip`` counts as an answer (the address is in use).
    ``gratuitous_arp(ifname, ip, mac=None, count=1, interval=0.0)``: RFC 5227 announcements
        (broadcast ARP requests with sender = target = ``ip``).
    ``icmp_echo(target_ip, timeout=1.0)`` -> round-trip seconds, or ``None``; IPv4 and IPv6.
    ``probe_any(targets, timeout)`` -> the first target that answers, as
        ``{'address', 'method', 'mac', 'seconds'}``, or ``None`` when none did within
        ``timeout``. ``targets`` is a list of ``{'address', 'ifname', 'sender'}``: with an
        ``ifname`` and an IPv4 ``sender`` the address is asked by ARP (on-link), else by ICMP echo.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import os
import select
import socket
import struct
import time

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
BROADCAST = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"
ARP_REQUEST = 1
ARP_REPLY = 2
_ARP_HEADER = struct.Struct("!6s6sHHHBBH6s4s6s4s")  # eth dst, eth src, ethertype, ARP (28 bytes)


class ProbeError(Exception):
    """A probe could not be sent: one sentence naming the interface or address and the cause."""


def mac_bytes(mac):
    parts = mac.split(":")
    if len(parts) != 6:
        raise ValueError("not a MAC address: %r" % mac)
    return bytes(int(p, 16) for p in parts)


def mac_text(raw):
    return ":".join("%02x" % b for b in bytearray(raw))


def arp_frame(op, src_mac, sender_mac, sender_ip, target_mac, target_ip, dst_mac=BROADCAST):
    """An Ethernet II frame with one ARP packet (padded to the 60-byte Ethernet minimum)."""
    frame = _ARP_HEADER.pack(
        mac_bytes(dst_mac), mac_bytes(src_mac), ETH_P_ARP,
        1, ETH_P_IP, 6, 4, op,
        mac_bytes(sender_mac), socket.inet_aton(sender_ip), mac_bytes(target_mac), socket.inet_aton(target_ip),
    )
    return frame + b"\x00" * (60 - len(frame))


def parse_arp(frame):
    if len(frame) < _ARP_HEADER.size:
        return None
    (_dst, _src, ethertype, htype, ptype, hlen, plen, op,
     sha, spa, tha, tpa) = _ARP_HEADER.unpack_from(frame)
    if ethertype != ETH_P_ARP or htype != 1 or ptype != ETH_P_IP or hlen != 6 or plen != 4:
        return None
    return {
        "op": op,
        "sender_mac": mac_text(sha),
        "sender_ip": socket.inet_ntoa(spa),
        "target_mac": mac_text(tha),
        "target_ip": socket.inet_ntoa(tpa),
    }


def _packet_socket(ifname):
    try:
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
    except OSError as exc:
        raise ProbeError("cannot open a packet socket for ARP on %s: %s" % (ifname, exc.strerror or exc)) from exc
    try:
        sock.bind((ifname, ETH_P_ARP))
    except OSError as exc:
        sock.close()
        raise ProbeError("cannot use interface %s for ARP: %s" % (ifname, exc.strerror or exc)) from exc
    return sock


def interface_mac(ifname):
    sock = _packet_socket(ifname)
    try:
        return mac_text(sock.getsockname()[4][:6])
    finally:
        sock.close()


_NOT_DELIVERED = (errno.ENOBUFS, errno.ENETDOWN, errno.EAGAIN, errno.ENXIO)


def _send(sock, ifname, frame, lossy=False):
    """Send one frame; with ``lossy`` a link that cannot take it (no carrier, down) is a lost frame."""
    try:
        sock.send(frame)
    except OSError as exc:
        if lossy and exc.errno in _NOT_DELIVERED:
            return

        raise ProbeError("cannot send ARP on %s: %s" % (ifname, exc.strerror or exc)) from exc


def arp_request(ifname, target_ip, sender_ip, timeout=1.0, sender_mac=None):
    """Ask ``who-has target_ip`` on ``ifname``; the answering MAC, or ``None`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    sock = _packet_socket(ifname)
    try:
        own = sender_mac or mac_text(sock.getsockname()[4][:6])
        _send(sock, ifname, arp_frame(ARP_REQUEST, own, own, sender_ip, ZERO_MAC, target_ip), lossy=True)
        resend = time.monotonic() + 0.25
        while True:
            now = time.monotonic()
            if now >= deadline:
                return None
            if now >= resend:  # a lost first request should not cost the whole timeout
                _send(sock, ifname, arp_frame(ARP_REQUEST, own, own, sender_ip, ZERO_MAC, target_ip), lossy=True)
                resend = now + 0.25
            ready = select.select([sock], [], [], max(0.0, min(deadline, resend) - now))[0]
            if not ready:
                continue
            arp = parse_arp(sock.recv(2048))
            if arp is None or arp["sender_ip"] != target_ip or arp["sender_mac"] == own:
                continue
            if arp["op"] == ARP_REPLY or sender_ip == "0.0.0.0":
                return arp["sender_mac"]
    finally:
        sock.close()


def gratuitous_arp(ifname, ip, mac=None, count=1, interval=0.0):
    """Announce ``ip`` at ``mac`` (default: the interface's) on ``ifname``, ``count`` times."""
    sock = _packet_socket(ifname)
    try:
        own = mac or mac_text(sock.getsockname()[4][:6])
        for i in range(count):
            if i and interval:
                time.sleep(interval)
            _send(sock, ifname, arp_frame(ARP_REQUEST, own, own, ip, ZERO_MAC, ip))
    finally:
        sock.close()


def _checksum(data):
    if len(data) % 2:
        data += b"\x00"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def icmp_echo(target_ip, timeout=1.0):
    """One ICMP (v4 or v6) echo to ``target_ip``; the round trip in seconds, or ``None``."""
    v6 = ":" in target_ip
    family, proto = (socket.AF_INET6, socket.IPPROTO_ICMPV6) if v6 else (socket.AF_INET, socket.IPPROTO_ICMP)
    request, reply = (128, 129) if v6 else (8, 0)
    ident = os.getpid() & 0xFFFF
    seq = int(time.monotonic() * 1000) & 0xFFFF
    payload = b"lanbridge-probe"
    header = struct.pack("!BBHHH", request, 0, 0, ident, seq)
    packet = header if v6 else struct.pack("!BBHHH", request, 0, _checksum(header + payload), ident, seq)
    try:
        sock = socket.socket(family, socket.SOCK_RAW, proto)
    except OSError as exc:
        raise ProbeError("cannot open an ICMP socket to probe %s: %s" % (target_ip, exc.strerror or exc)) from exc
    start = time.monotonic()
    deadline = start + timeout
    try:
        try:
            sock.sendto(packet + payload, (target_ip, 0))
        except OSError:
            return None  # no route / unreachable: nobody answered
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready = select.select([sock], [], [], left)[0]
            if not ready:
                return None
            data, peer = sock.recvfrom(2048)
            if peer[0] != target_ip:
                continue
            if not v6:
                data = data[(data[0] & 0x0F) * 4:]  # IPv4 raw sockets include the IP header
            if len(data) < 8:
                continue
            kind, _code, _sum, rid, rseq = struct.unpack("!BBHHH", data[:8])
            if kind == reply and rid == ident and rseq == seq:
                return time.monotonic() - start
    finally:
        sock.close()


def probe_any(targets, timeout):
    """Ask every target in turn until one answers or ``timeout`` seconds have passed."""
    start = time.monotonic()
    deadline = start + timeout
    while True:
        round_start = time.monotonic()
        for target in targets:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            each = min(0.5, left)
            address = target["address"]
            sender = target.get("sender")
            if target.get("ifname") and sender and ":" not in address:
                mac = arp_request(target["ifname"], address, sender, timeout=each)
                if mac:
                    return {"address": address, "method": "arp", "mac": mac, "seconds": time.monotonic() - start}
            elif icmp_echo(address, timeout=each) is not None:
                return {"address": address, "method": "icmp", "mac": None, "seconds": time.monotonic() - start}
        if not targets:
            return None
        pause = 0.2 - (time.monotonic() - round_start)  # quick failures (no route) must not spin
        if pause > 0:
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
