# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The kernel layer: every conversation with the kernel's networking goes through this package.

netlink    the facade: Netlink(netns), one rtnetlink socket per namespace; reads and the
               frequent requests on the standard-library path (rtnl), the rarer changes
               through pyroute2 (pyroute), chosen per operation
rtnl       the plain rtnetlink socket: requests, dumps (retried when the kernel interrupts them)
pyroute    the pyroute2 adapter: the only file that imports pyroute2
codec      one decoder and encoder of rtnetlink messages, shared by both paths
constants  one table of netlink numbers and their names
netns      entering and leaving network namespaces, opening them, telling whether an open
               descriptor is one (nsfs, CLONE_NEWNET)
frames     ARP, neighbour advertisement and ICMP echo packets, the BPF program (pure)
packet_io  packet sockets: open, bind, send, close
reachability  is the gateway still there (ARP, ICMP echo): host_bridge's probe
neighbours RFC 5227 conflict probes for many addresses at once, and announcements
errors     the layer's one error class, KernelError (a sentence and the errno), and
               ``failing(what)``, which turns an OSError into one
"""
