# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One table of the rtnetlink numbers this collection speaks, and their names.

Everything here is data: message layouts (struct.Struct), message types, flags, attribute
numbers, and the name tables that turn kernel numbers into the words the modules report
(scope: link, protocol: static). codec decodes and encodes with them and rtnl frames its
requests with them; nothing else defines a netlink number (pyroute2 takes names, not numbers).
"""

import socket
import struct

# -- message layouts (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h)
NLMSG = struct.Struct("=IHHII")          # len, type, flags, seq, pid
NLA = struct.Struct("=HH")               # len, type
IFINFO = struct.Struct("=BxHiII")        # family, type, index, flags, change
IFADDR = struct.Struct("=BBBBI")         # family, prefixlen, flags, scope, index
RTMSG = struct.Struct("=BBBBBBBBI")      # family, dst_len, src_len, tos, table, protocol, scope, type, flags
CACHEINFO = struct.Struct("=IIII")       # ifa_prefered, ifa_valid, cstamp, tstamp
ROUTE_CACHEINFO = struct.Struct("=IIiIIIII")  # clntref, lastuse, expires (clock_t), error, used, id, ts, tsage
RTNEXTHOP = struct.Struct("=HBBi")       # len, flags, hops (weight - 1), ifindex
FIB_RULE = struct.Struct("=BBBBBBBBI")   # family, dst_len, src_len, tos, table, res1, res2, action, flags
NDMSG = struct.Struct("=BxxxiHBB")       # family, (pad), ifindex, state, flags, type (linux/neighbour.h)
NLA_TYPE_MASK = 0x3FFF                   # without NLA_F_NESTED / NLA_F_NET_BYTEORDER

# -- message types
NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30
RTM_NEWRULE, RTM_GETRULE = 32, 34

# -- header flags
F_REQUEST, F_MULTI, F_ACK, F_ECHO, F_DUMP_INTR = 0x1, 0x2, 0x4, 0x8, 0x10
F_ROOT, F_MATCH = 0x100, 0x200
F_DUMP = F_ROOT | F_MATCH
F_REPLACE, F_EXCL, F_CREATE = 0x100, 0x200, 0x400

# -- link attributes (IFLA_*) and nested ones
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER = 1, 3, 4, 5, 10
IFLA_OPERSTATE, IFLA_LINKINFO, IFLA_IFALIAS, IFLA_NET_NS_FD, IFLA_LINK_NETNSID = 16, 18, 20, 28, 37
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFLA_BR_FORWARD_DELAY, IFLA_BR_STP_STATE = 1, 5

# -- address attributes (IFA_*)
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST, IFA_CACHEINFO, IFA_FLAGS = 1, 2, 3, 4, 6, 8

# -- route attributes (RTA_*)
RTA_DST, RTA_SRC, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_TABLE = 1, 2, 4, 5, 6, 7, 15
RTA_METRICS, RTA_MULTIPATH, RTA_CACHEINFO, RTA_PREF, RTA_EXPIRES = 8, 9, 12, 20, 23
RTNH_F_ONLINK = 0x4                      # in rtm_flags (one nexthop) and rtnh_flags (each of several)
USER_HZ = 100                            # clock_t ticks per second (rta_expires)

# -- route metrics (RTAX_*, nested in RTA_METRICS); RTAX_LOCK is a bitmask of locked ones (1 << n)
RTAX_LOCK, RTAX_CC_ALGO = 1, 16
METRICS = {2: "mtu", 3: "window", 4: "rtt", 5: "rttvar", 6: "ssthresh", 7: "cwnd", 8: "advmss", 9: "reordering",
           10: "hoplimit", 11: "initcwnd", 12: "features", 13: "rto_min", 14: "initrwnd", 15: "quickack",
           16: "congctl", 17: "fastopen_no_cookie"}

# -- IPv6 router preference (RTA_PREF, RFC 4191); a route without it, or with another value, is medium
PREFS = {0: "medium", 1: "high", 3: "low"}

# -- neighbour attributes (NDA_*), flags and states; a proxy entry (``ip neigh add proxy``) is NTF_PROXY
NDA_DST, NDA_LLADDR = 1, 2
NTF_PROXY = 0x08
NUD_PERMANENT = 0x80

# -- policy rule attributes (FRA_*) and actions
FRA_DST, FRA_SRC, FRA_IIFNAME, FRA_PRIORITY, FRA_FWMARK, FRA_TABLE, FRA_OIFNAME = 1, 2, 3, 6, 10, 15, 17
RULE_ACTIONS = {1: "lookup", 2: "goto", 3: "nop", 6: "blackhole", 7: "unreachable", 8: "prohibit"}

IFF_UP = 0x1
FOREVER = 0xFFFFFFFF                     # an address lifetime without end
MAIN_TABLE, LOCAL_TABLE = 254, 255

# -- names
FAMILIES = {socket.AF_INET: "inet", socket.AF_INET6: "inet6"}
FAMILY_NUMBERS = {"inet": socket.AF_INET, "inet6": socket.AF_INET6}
SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
PROTOCOLS = {0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 9: "ra", 16: "dhcp",
             11: "zebra", 12: "bird", 18: "keepalived", 186: "bgp", 188: "ospf"}
ROUTE_TYPES = {0: "unspec", 1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast",
               6: "blackhole", 7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat"}
ADDR_FLAGS = {0x01: "secondary", 0x02: "nodad", 0x04: "optimistic", 0x08: "dadfailed", 0x10: "homeaddress",
              0x20: "deprecated", 0x40: "tentative", 0x80: "permanent", 0x100: "mngtmpaddr",
              0x200: "noprefixroute", 0x400: "autojoin", 0x800: "stable-privacy"}
OPERSTATES = {0: "UNKNOWN", 1: "NOTPRESENT", 2: "DOWN", 3: "LOWERLAYERDOWN", 4: "TESTING", 5: "DORMANT", 6: "UP"}
# Flags a caller may set; the others are state the kernel keeps (permanent follows the lifetimes).
SETTABLE_ADDR_FLAGS = ("nodad", "optimistic", "homeaddress", "mngtmpaddr", "noprefixroute", "autojoin")


def _reverse(table):
    return dict((name, number) for number, name in table.items())


SCOPE_NUMBERS = _reverse(SCOPES)
PROTOCOL_NUMBERS = _reverse(PROTOCOLS)
ROUTE_TYPE_NUMBERS = _reverse(ROUTE_TYPES)
ADDR_FLAG_NUMBERS = _reverse(ADDR_FLAGS)
METRIC_NUMBERS = _reverse(METRICS)
PREF_NUMBERS = _reverse(PREFS)
