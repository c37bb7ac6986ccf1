# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The facade of the kernel layer: ``Netlink(netns)``, the one object apply code talks to.

Callers ask for an operation; this file decides which path serves it. Every read and the
frequent requests (a new veth port, a link up or its alias, addresses, routes, deleting a link)
go through the standard-library socket (``rtnl``); bridges and a link's MAC, MTU, master, name
or namespace go through pyroute2 (``pyroute``), whose socket is opened only when such a change is
made: a run that changes nothing opens none.

``Netlink(netns=None)`` (context manager; ``close()`` also works)
    bound for its lifetime to the namespace at ``netns`` (a path; ``None`` = the current one),
    held open by a file descriptor (``fd``; ``fd_path()`` names it), so a later socket can never
    reach another one.

    Read (plain dicts, see ``codec``): ``links()``, ``addresses(family=None)``,
    ``routes(family=None)`` (every table), ``dump()`` -> ``{'links', 'addresses', 'routes'}``,
    ``link_index(name)`` -> index or ``None``, ``index(link)`` -> index or ``KernelError`` (``ENODEV``),
    ``rules()`` -> the policy rules (``codec.decode_rule``), ``sysctls(link, names)`` ->
    ``{'ipv4': {name: value}, 'ipv6': {...}}`` of ``net.ipv4.conf.LINK.*`` and
    ``net.ipv6.conf.LINK.*`` (text; a name the kernel lacks is left out; ``link`` a name).
    Names read by ``links()`` and learnt by changes are cached; ``remember``/``forget`` adjust it.

    Change (``link`` is an ifindex or an interface name; each raises ``KernelError``)
        ``add_bridge(name, stp=None, forward_delay=None, mtu=None, mac=None)``
        ``set_bridge(link, stp=None, forward_delay=None)``
        ``add_veth_port(name, peer, peer_netns_fd, master, mtu=None, peer_mac=None)`` -> the new
            indexes ``(host, peer)`` or ``(None, None)``: host end up in ``master`` (``None``: in
            no bridge), peer born in the other namespace, one request
        ``delete_link(link)``
        ``set_link(link, up=None, mtu=None, mac=None, master=None, ifname=None, ifalias=None,
            netns_fd=None)``; ``master=0`` (or ``False``) = nomaster; ``master`` may be a name
        ``add_address(link, address, prefixlen, broadcast=None, flags=None, valid_lft=None,
            preferred_lft=None, label=None)``, ``delete_address(link, address, prefixlen)``
        ``add_route(route)``, ``replace_route(route)``, ``delete_route(route)``; ``route`` as
            ``routes()`` returns it (``oif`` may be given as ``dev``: a name)
        ``set_ipv6(link, enabled)``; ``ipv6_enabled(link)`` -> bool, or None without IPv6 (``link``
            a name here, or ``default``: what a new interface gets)
        ``set_sysctl(link, family, name, value)``: write ``net.ipv4.conf.LINK.NAME`` (``family``
            ``'inet'``) or ``net.ipv6.conf.LINK.NAME`` (``'inet6'``), e.g. ``forwarding``; read them
            with ``sysctls``
        ``add_proxy_neighbour(link, address)``, ``delete_proxy_neighbour(link, address)``: the host
            answers ARP (IPv4) or NDP (IPv6) for ``address`` on ``link`` (``ip neigh add proxy``;
            the kernel takes adding an existing entry as no error and keeps one);
            ``proxy_neighbours(family=None)`` -> ``[{index, family, address, mac, proxy}]``
"""

import errno
import os

from ansible_collections.lanbridge.core.plugins.module_utils._kernel import codec
from ansible_collections.lanbridge.core.plugins.module_utils._kernel import constants as C
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netns import CURRENT_NETNS, in_netns, open_netns
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.pyroute import Pyroute
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.rtnl import RtnlSocket
from ansible_collections.lanbridge.core.plugins.module_utils._errors import KernelError


class Netlink:
    """One namespace's netlink sockets (see the module docstring)."""

    def __init__(self, netns=None):
        self.netns = netns
        # held for the socket's lifetime, also for the current namespace: a socket opened later
        # (pyroute2's, on first need) lands here, wherever the calling thread is by then
        self.fd = open_netns(netns or CURRENT_NETNS)
        self._pyroute = None
        self._names = {}
        try:
            with in_netns(self.fd_path()):
                self._rtnl = RtnlSocket()
        except Exception:
            self._close_fd()
            raise

    def fd_path(self):
        """A path to this socket's namespace that stays valid while the socket is open."""
        return "/proc/self/fd/%d" % self.fd

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False

    def _close_fd(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def close(self):
        try:
            if self._pyroute is not None:
                self._pyroute.close()
                self._pyroute = None
            if self._rtnl is not None:
                self._rtnl.close()
                self._rtnl = None
        finally:
            self._close_fd()

    def _pyroute2(self):
        if self._pyroute is None:
            with in_netns(self.fd_path()):
                self._pyroute = Pyroute()
        return self._pyroute

    # -- reading ---------------------------------------------------------------------------

    def links(self):
        links = self._rtnl.links()
        self._names = dict((link["ifname"], link["index"]) for link in links)
        return links

    def addresses(self, family=None):
        found = self._rtnl.addresses()
        return [a for a in found if family is None or a["family"] == family]

    def routes(self, family=None):
        found = self._rtnl.routes()
        return [r for r in found if family is None or r["family"] == family]

    def dump(self):
        return {"links": self.links(), "addresses": self.addresses(), "routes": self.routes()}

    def rules(self):
        return self._rtnl.rules()

    def proxy_neighbours(self, family=None):
        found = self._rtnl.proxy_neighbours()
        return [n for n in found if family is None or n["family"] == family]

    def link_index(self, name):
        if name not in self._names:
            index = self._rtnl.link_index(name)
            if index is None:
                return None
            self._names[name] = index
        return self._names[name]

    def index(self, link):
        if isinstance(link, int):
            return link
        index = self.link_index(link)
        if index is None:
            raise KernelError("link %s does not exist" % link, errno.ENODEV)
        return index

    def remember(self, name, index):
        if index is not None:
            self._names[name] = index

    def forget(self, name):
        self._names.pop(name, None)

    # -- links -----------------------------------------------------------------------------

    def add_bridge(self, name, stp=None, forward_delay=None, mtu=None, mac=None):
        self._pyroute2().add_bridge(name, stp=stp, forward_delay=forward_delay, mtu=mtu, mac=mac)

    def set_bridge(self, link, stp=None, forward_delay=None):
        self._pyroute2().set_bridge(self.index(link), link, stp=stp, forward_delay=forward_delay)

    def add_veth_port(self, name, peer, peer_netns_fd, master, mtu=None, peer_mac=None):
        indexes = self._rtnl.add_veth_port(name, peer, peer_netns_fd, None if master is None else self.index(master),
                                           mtu=mtu, peer_mac=peer_mac)
        self.remember(name, indexes[0])
        return indexes

    def delete_link(self, link):
        self._rtnl.delete_link(self.index(link), link)
        if not isinstance(link, int):
            self.forget(link)

    def set_link(self, link, up=None, mtu=None, mac=None, master=None, ifname=None, ifalias=None, netns_fd=None):
        """Change attributes of a link; a link's state and alias on the plain socket, the rest
        through pyroute2, one request each, in this order: master, mtu, mac, name, alias, state,
        namespace."""
        index = self.index(link)
        if master is None and mtu is None and mac is None and ifname is None and netns_fd is None:
            if up is not None or ifalias is not None:
                self._rtnl.set_link(index, link, up=up, ifalias=ifalias)
            return
        changes = []
        if master is not None:
            changes.append(("master %s" % master if master else "nomaster",
                            {"master": self.index(master) if master else 0}))
        if mtu is not None:
            changes.append(("mtu %s" % mtu, {"mtu": mtu}))
        if mac is not None:
            changes.append(("address %s" % mac, {"address": mac}))
        if ifname is not None:
            changes.append(("name %s" % ifname, {"ifname": ifname}))
        if ifalias is not None:
            changes.append(("alias %r" % ifalias, {"IFLA_IFALIAS": ifalias}))
        if up is not None:
            changes.append(("up" if up else "down", {"state": "up" if up else "down"}))
        if netns_fd is not None:
            changes.append(("netns fd %s" % netns_fd, {"net_ns_fd": netns_fd}))
        self._pyroute2().set_link(index, link, changes)
        if (ifname is not None or netns_fd is not None) and not isinstance(link, int):
            self.forget(link)

    # -- addresses -------------------------------------------------------------------------

    def add_address(self, link, address, prefixlen, broadcast=None, flags=None, valid_lft=None,
                    preferred_lft=None, label=None):
        self._rtnl.address("add", self.index(link), link, address, prefixlen, broadcast=broadcast, flags=flags,
                           valid_lft=valid_lft, preferred_lft=preferred_lft, label=label)

    def delete_address(self, link, address, prefixlen):
        self._rtnl.address("delete", self.index(link), link, address, prefixlen)

    # -- routes ----------------------------------------------------------------------------

    def _route(self, verb, route):
        self._rtnl.route(verb, codec.route_fields(route, self.index), codec.describe_route(route))

    def add_route(self, route):
        self._route("add", route)

    def replace_route(self, route):
        self._route("replace", route)

    def delete_route(self, route):
        self._route("delete", route)

    # -- proxy neighbours --------------------------------------------------------------------

    def add_proxy_neighbour(self, link, address):
        self._rtnl.proxy_neighbour("add", self.index(link), link, address)

    def delete_proxy_neighbour(self, link, address):
        self._rtnl.proxy_neighbour("delete", self.index(link), link, address)

    # -- per-interface settings ------------------------------------------------------------

    def _ipv6_conf(self, link):
        return "/proc/sys/net/ipv6/conf/%s/disable_ipv6" % link

    def ipv6_enabled(self, link):
        """Whether IPv6 is enabled on ``link`` (``default``: on new interfaces); None without IPv6."""
        with in_netns(self.fd_path()):
            try:
                with open(self._ipv6_conf(link)) as f:
                    return f.read().strip() == "0"
            except (IOError, OSError):
                return None

    def sysctls(self, link, names):
        """``{'ipv4': {...}, 'ipv6': {...}}``: the per-interface settings ``names`` of ``link``
        (or ``default``, what a new interface gets), read inside this namespace."""
        found = {"ipv4": {}, "ipv6": {}}
        with in_netns(self.fd_path()):
            for family, values in found.items():
                for name in names:
                    try:
                        with open("/proc/sys/net/%s/conf/%s/%s" % (family, link, name)) as f:
                            values[name] = f.read().strip()
                    except (IOError, OSError):
                        continue
        return found

    def _write_conf(self, path, value, what):
        try:
            with in_netns(self.fd_path()):
                with open(path, "w") as f:
                    f.write(value)
        except (IOError, OSError) as exc:
            raise KernelError("failed to %s: %s" % (what, exc.strerror or exc), exc.errno) from exc

    def set_ipv6(self, link, enabled):
        self._write_conf(self._ipv6_conf(link), "0" if enabled else "1",
                         "%s IPv6 on %s" % ("enable" if enabled else "disable", link))

    def set_sysctl(self, link, family, name, value):
        tree = {"inet": "ipv4", "inet6": "ipv6"}[family]
        self._write_conf("/proc/sys/net/%s/conf/%s/%s" % (tree, link, name), str(value),
                         "set net.%s.conf.%s.%s to %s" % (tree, link, name, value))


__all__ = ["Netlink", "KernelError", "C"]
