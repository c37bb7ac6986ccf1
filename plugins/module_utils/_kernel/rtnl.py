# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A plain rtnetlink socket from the standard library: the fast path of the kernel layer.

pyroute2 costs about 1 ms per request (0.9: an asyncio round per call); a plain socket costs
20-50 us. ``RtnlSocket`` serves every dump and the requests a module sends by the hundred. One
request at a time, each answered (acknowledged) before the next is sent. Open it inside
``netns.in_netns``: it serves the namespace it was opened in.

Dumps are checked for ``NLM_F_DUMP_INTR``: the kernel sets it on a dump during which the links or
addresses changed, so the dump may have skipped or repeated entries. Such a dump is thrown away
and read again, up to ``DUMP_ATTEMPTS`` times; then ``KernelError`` says so. (The CNI plugins wrap
every dump the same way; pyroute2 raises ``NetlinkDumpInterrupted``.) The kernel does not flag
every such change: on Linux 6.18 an IPv6 address added during a dump can shift the others so
that one is sent twice without the flag (seen 6 times in 400 dumps under constant churn, never
one left out), so an object a dump repeats is kept once.

Links are given by ifindex here; names are resolved by the facade (``netlink.Netlink``).
"""

import errno
import os
import socket
import struct

from ansible_collections.lanbridge.core.plugins.module_utils._kernel import codec
from ansible_collections.lanbridge.core.plugins.module_utils._kernel import constants as C
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.errors import failing
from ansible_collections.lanbridge.core.plugins.module_utils._errors import KernelError

DUMP_ATTEMPTS = 10
RECV_BUFFER = 65536  # the kernel sends at most 32 KiB per dump message batch


def _frozen(value):
    if isinstance(value, dict):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _identity(item):
    """What makes one dumped object itself: a link's index, an address on a link, a whole route or rule."""
    if "ifname" in item:
        return ("link", item["index"])
    if "prefixlen" in item:
        return ("address", item["index"], item["family"], item["address"], item["prefixlen"])
    return ("other",) + _frozen(item)


def _without_repeats(items):
    seen, out = set(), []
    for item in items:
        key = _identity(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


class RtnlSocket:
    """A plain rtnetlink socket of the namespace it is opened in."""

    def __init__(self):
        with failing("open a netlink socket"):
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
            self._sock.bind((0, 0))
        self._seq = 0
        self.interrupted_dumps = 0  # how many dumps were thrown away because the kernel interrupted them

    def close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def request(self, what, msg_type, flags, body):
        """Send one request; its answers (``[(type, payload)]``) once the kernel acknowledged it."""
        return self._exchange(what, msg_type, flags, body)[0]

    def _exchange(self, what, msg_type, flags, body):
        """``(answers, interrupted)``: ``interrupted`` when a reply carries ``NLM_F_DUMP_INTR``."""
        self._seq += 1
        seq = self._seq
        answers, interrupted = [], False
        with failing(what):
            self._sock.sendto(C.NLMSG.pack(C.NLMSG.size + len(body), msg_type, flags | C.F_REQUEST | C.F_ACK, seq, 0)
                              + body, (0, 0))
            while True:
                data = self._sock.recv(RECV_BUFFER)
                offset = 0
                while offset + C.NLMSG.size <= len(data):
                    length, kind, rflags, rseq, _pid = C.NLMSG.unpack_from(data, offset)
                    if length < C.NLMSG.size:
                        return answers, interrupted
                    payload = data[offset + C.NLMSG.size:offset + length]
                    offset += (length + 3) & ~3
                    if rseq != seq:
                        continue
                    interrupted = interrupted or bool(rflags & C.F_DUMP_INTR)
                    if kind == C.NLMSG_ERROR:
                        code = -struct.unpack_from("=i", payload)[0]
                        if code:
                            raise KernelError("failed to %s: [%d] %s" % (what, code, os.strerror(code)), code)
                        return answers, interrupted
                    if kind == C.NLMSG_DONE:
                        return answers, interrupted
                    answers.append((kind, payload))

    def dump(self, what, msg_type, header, attempts=DUMP_ATTEMPTS):
        """Every object of one kind, decoded (``codec.DECODERS``); a dump the kernel interrupted is
        read again, ``attempts`` times at most."""
        for _attempt in range(attempts):
            answers, interrupted = self._exchange(what, msg_type, C.F_DUMP, header)
            if interrupted:
                self.interrupted_dumps += 1
                continue
            return _without_repeats([codec.DECODERS[kind](payload) for kind, payload in answers if kind in codec.DECODERS])
        raise KernelError("failed to %s: the kernel interrupted the dump %d times in a row (links or addresses kept "
                          "changing while it was read); nothing was changed, try again" % (what, attempts),
                          errno.EINTR)

    # -- reading ---------------------------------------------------------------------------

    def links(self, attempts=DUMP_ATTEMPTS):
        return self.dump("list links", C.RTM_GETLINK, C.IFINFO.pack(0, 0, 0, 0, 0), attempts)

    def addresses(self, attempts=DUMP_ATTEMPTS):
        return self.dump("list addresses", C.RTM_GETADDR, C.IFADDR.pack(0, 0, 0, 0, 0), attempts)

    def routes(self, attempts=DUMP_ATTEMPTS):
        """Every route of every table, IPv4 and IPv6, in one dump."""
        return self.dump("list routes", C.RTM_GETROUTE, C.RTMSG.pack(0, 0, 0, 0, 0, 0, 0, 0, 0), attempts)

    def rules(self, attempts=DUMP_ATTEMPTS):
        """Every policy rule (``ip rule``), IPv4 and IPv6, in one dump."""
        return self.dump("list policy rules", C.RTM_GETRULE, C.FIB_RULE.pack(0, 0, 0, 0, 0, 0, 0, 0, 0), attempts)

    def proxy_neighbours(self, attempts=DUMP_ATTEMPTS):
        """Every proxy neighbour entry (``ip neigh show proxy``), IPv4 and IPv6, in one dump: the
        kernel dumps its proxy table when the request's ``ndm_flags`` is exactly ``NTF_PROXY``."""
        return self.dump("list proxy neighbours", C.RTM_GETNEIGH, C.NDMSG.pack(0, 0, 0, C.NTF_PROXY, 0), attempts)

    def link_index(self, name):
        """The index of link ``name``, or ``None`` when there is none."""
        try:
            answers = self.request("look up link %s" % name, C.RTM_GETLINK, 0,
                                   C.IFINFO.pack(0, 0, 0, 0, 0) + codec.attr_str(C.IFLA_IFNAME, name))
        except KernelError as exc:
            if exc.code == errno.ENODEV:
                return None
            raise
        for kind, payload in answers:
            if kind == C.RTM_NEWLINK:
                return C.IFINFO.unpack_from(payload)[2]
        return None

    # -- links -----------------------------------------------------------------------------

    def add_veth_port(self, name, peer, peer_netns_fd, master, mtu=None, peer_mac=None):
        """Add veth ``name``, up and a port of ``master`` (an index; ``None``: of no bridge), with ``peer`` born (down: a veth
        cannot open before its pair is complete) in the namespace of ``peer_netns_fd``. Returns
        ``(index, peer_index)`` when the kernel echoes the new link (Linux 6.3 and later), else
        ``(None, None)``."""
        peer_attrs = codec.attr_str(C.IFLA_IFNAME, peer) + codec.attr_u32(C.IFLA_NET_NS_FD, peer_netns_fd)
        if peer_mac is not None:
            peer_attrs += codec.attr_mac(C.IFLA_ADDRESS, peer_mac)
        if mtu is not None:
            peer_attrs += codec.attr_u32(C.IFLA_MTU, mtu)
        info = codec.attr_str(C.IFLA_INFO_KIND, "veth") + codec.attr(C.IFLA_INFO_DATA, codec.attr(
            C.VETH_INFO_PEER, C.IFINFO.pack(0, 0, 0, 0, 0) + peer_attrs))
        body = codec.attr_str(C.IFLA_IFNAME, name) + codec.attr(C.IFLA_LINKINFO, info)
        if master is not None:
            body += codec.attr_u32(C.IFLA_MASTER, master)
        if mtu is not None:
            body += codec.attr_u32(C.IFLA_MTU, mtu)
        answers = self.request("add veth %s (peer %s)" % (name, peer), C.RTM_NEWLINK,
                               C.F_CREATE | C.F_EXCL | C.F_ECHO, C.IFINFO.pack(0, 0, 0, C.IFF_UP, C.IFF_UP) + body)
        for kind, payload in answers:
            if kind == C.RTM_NEWLINK:
                index = C.IFINFO.unpack_from(payload)[2]
                link = codec.attrs(payload[C.IFINFO.size:]).get(C.IFLA_LINK)
                if link is not None:
                    return index, codec.u32(link)
        return None, None

    def set_link(self, index, what, up=None, ifalias=None):
        """Bring link ``index`` up or down and/or set its alias (``what`` names it in errors)."""
        flags = change = 0
        if up is not None:
            flags, change = (C.IFF_UP if up else 0), C.IFF_UP
        body = C.IFINFO.pack(0, 0, index, flags, change)
        if ifalias is not None:
            body += codec.attr_str(C.IFLA_IFALIAS, ifalias)
        shown = ", ".join(p for p in ("up" if up else "down" if up is not None else "",
                                      "alias %r" % ifalias if ifalias is not None else "") if p)
        self.request("set link %s %s" % (what, shown), C.RTM_NEWLINK, 0, body)

    def delete_link(self, index, what):
        self.request("delete link %s" % what, C.RTM_DELLINK, 0, C.IFINFO.pack(0, 0, index, 0, 0))

    # -- addresses -------------------------------------------------------------------------

    def address(self, verb, index, what, address, prefixlen, broadcast=None, flags=None, valid_lft=None,
                preferred_lft=None, label=None):
        """``verb`` ``add`` or ``delete`` ``address/prefixlen`` on link ``index``; lifetimes ``None`` = forever."""
        family = C.FAMILY_NUMBERS[codec.family_of(address)]
        raw = socket.inet_pton(family, address)
        body = codec.attr(C.IFA_LOCAL, raw) + codec.attr(C.IFA_ADDRESS, raw)
        if verb == "add":
            if broadcast and family == socket.AF_INET:
                body += codec.attr(C.IFA_BROADCAST, socket.inet_pton(family, broadcast))
            if label:
                body += codec.attr_str(C.IFA_LABEL, label)
            bits = codec.flag_bits([f for f in (flags or ()) if f in C.SETTABLE_ADDR_FLAGS])
            if bits:
                body += codec.attr_u32(C.IFA_FLAGS, bits)
            if valid_lft is not None or preferred_lft is not None:
                valid = C.FOREVER if valid_lft is None else int(valid_lft)
                preferred = valid if preferred_lft is None else min(int(preferred_lft), valid)
                body += codec.attr(C.IFA_CACHEINFO, C.CACHEINFO.pack(preferred, valid, 0, 0))
            text = "add address %s/%s to %s" % (address, prefixlen, what)
            msg_type, mode = C.RTM_NEWADDR, C.F_CREATE | C.F_EXCL
        else:
            text = "delete address %s/%s from %s" % (address, prefixlen, what)
            msg_type, mode = C.RTM_DELADDR, 0
        self.request(text, msg_type, mode, C.IFADDR.pack(family, int(prefixlen), 0, 0, index) + body)

    # -- proxy neighbours --------------------------------------------------------------------

    def proxy_neighbour(self, verb, index, what, address):
        """``verb`` ``add`` or ``delete`` the proxy neighbour entry of ``address`` on link ``index``."""
        family = C.FAMILY_NUMBERS[codec.family_of(address)]
        body = C.NDMSG.pack(family, index, C.NUD_PERMANENT, C.NTF_PROXY, 0) + codec.attr(
            C.NDA_DST, socket.inet_pton(family, address))
        if verb == "add":
            text, msg_type, mode = "add proxy neighbour %s on %s" % (address, what), C.RTM_NEWNEIGH, C.F_CREATE | C.F_EXCL
        else:
            text, msg_type, mode = "delete proxy neighbour %s on %s" % (address, what), C.RTM_DELNEIGH, 0
        self.request(text, msg_type, mode, body)

    # -- routes ----------------------------------------------------------------------------

    def route(self, verb, fields, what):
        """``verb`` ``add``, ``replace`` or ``delete`` the route of ``codec.route_fields`` numbers."""
        msg_type, mode = {"add": (C.RTM_NEWROUTE, C.F_CREATE | C.F_EXCL),
                          "replace": (C.RTM_NEWROUTE, C.F_CREATE | C.F_REPLACE),
                          "delete": (C.RTM_DELROUTE, 0)}[verb]
        self.request("%s route %s" % (verb, what), msg_type, mode, codec.route_request(verb, fields))
