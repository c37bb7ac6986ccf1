# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is anybody there? The gateway probe of ``host_bridge``: ARP on the link, or ICMP echo.

Sockets act in the namespace they are opened in (see ``netns.in_netns``).

``arp_request(ifname, target_ip, sender_ip, timeout=1.0, sender_mac=None)`` -> the MAC (text) that
    claims ``target_ip``, or ``None`` after ``timeout`` seconds. With ``sender_ip='0.0.0.0'``
    this is an RFC 5227 probe: any ARP packet from another MAC whose sender is ``target_ip``
    counts as an answer (the address is in use).
``icmp_echo(target_ip, timeout=1.0, ifname=None)`` -> round-trip seconds, or ``None``; IPv4 and
    IPv6. An IPv6 link-local address (a default route via ``fe80::1``) is asked on ``ifname``, or
    without one on every interface but ``lo``: it means nothing without a link.
``probe_any(targets, timeout)`` -> the first target that answers, as ``{'address', 'method', 'mac',
    'seconds'}``, or ``None`` when none did within ``timeout``. ``targets`` is a list of
    ``{'address', 'ifname', 'sender'}``: with an ``ifname`` and an IPv4 ``sender`` the address is
    asked by ARP (on-link), else by ICMP echo.
"""

import ipaddress
import os
import select
import socket
import time

from ansible_collections.lanbridge.core.plugins.module_utils._kernel import frames
from ansible_collections.lanbridge.core.plugins.module_utils._kernel import packet_io
from ansible_collections.lanbridge.core.plugins.module_utils._errors import KernelError

RESEND = 0.25  # a lost first request must not cost the whole timeout


def _wait_readable(sock, seconds):
    poller = select.poll()  # not select(): no limit on the descriptor's number
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(max(0.0, seconds) * 1000.0))


def arp_request(ifname, target_ip, sender_ip, timeout=1.0, sender_mac=None):
    deadline = time.monotonic() + timeout
    sock = packet_io.open_arp_socket(ifname)
    try:
        own = sender_mac or packet_io.own_mac(sock)
        request = frames.arp_frame(frames.ARP_REQUEST, own, own, sender_ip, frames.ZERO_MAC, target_ip)
        resend = 0.0
        while True:
            now = time.monotonic()
            if now >= deadline:
                return None
            if now >= resend:
                packet_io.send(sock, ifname, request)
                resend = now + RESEND
            if not _wait_readable(sock, min(deadline, resend) - now):
                continue
            while True:
                try:
                    arp = frames.parse_arp(sock.recv(2048))
                except (BlockingIOError, InterruptedError):
                    break
                if arp is None or arp["sender_ip"] != target_ip or arp["sender_mac"] == own:
                    continue
                if arp["op"] == frames.ARP_REPLY or sender_ip == "0.0.0.0":
                    return arp["sender_mac"]
    finally:
        sock.close()


def _destinations(target_ip, ifname):
    """Where to send an echo to ``target_ip``: the address itself, or, link-local, on each link."""
    if ":" not in target_ip or not ipaddress.ip_address(target_ip).is_link_local:
        return [(target_ip, 0)]
    if ifname:
        return [(target_ip, 0, 0, socket.if_nametoindex(ifname))]
    return [(target_ip, 0, 0, index) for index, name in socket.if_nameindex() if name != "lo"]


def icmp_echo(target_ip, timeout=1.0, ifname=None):
    v6 = ":" in target_ip
    family, proto = (socket.AF_INET6, socket.IPPROTO_ICMPV6) if v6 else (socket.AF_INET, socket.IPPROTO_ICMP)
    ident = os.getpid() & 0xFFFF
    seq = int(time.monotonic() * 1000) & 0xFFFF
    try:
        sock = socket.socket(family, socket.SOCK_RAW | socket.SOCK_CLOEXEC, proto)
    except OSError as exc:
        raise KernelError("cannot open an ICMP socket to probe %s: %s" % (target_ip, exc.strerror or exc),
                          exc.errno) from exc
    start = time.monotonic()
    deadline = start + timeout
    try:
        request, sent = frames.icmp_echo_request(v6, ident, seq, b"lanbridge-probe"), 0
        for destination in _destinations(target_ip, ifname):
            try:
                sock.sendto(request, destination)
                sent += 1
            except OSError:
                continue  # no route / unreachable (or that link is down): nobody answers there
        if not sent:
            return None
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not _wait_readable(sock, left):
                return None
            data, peer = sock.recvfrom(2048)
            if peer[0].split("%")[0] == target_ip and frames.is_icmp_echo_reply(data, v6, ident, seq):
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
            elif icmp_echo(address, timeout=each, ifname=target.get("ifname") if ":" in address else None) is not None:
                return {"address": address, "method": "icmp", "mac": None, "seconds": time.monotonic() - start}
        if not targets:
            return None
        pause = 0.2 - (time.monotonic() - round_start)  # quick failures (no route) must not spin
        if pause > 0:
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
