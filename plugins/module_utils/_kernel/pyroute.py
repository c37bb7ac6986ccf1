# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pyroute2 adapter: the only file of the collection that imports pyroute2.

It serves the changes the plain socket (``rtnl``) does not encode: creating and tuning bridges,
and a link's MAC, MTU, master, name or namespace. It reads nothing (every dump goes through
``rtnl``, which retries interrupted dumps), so it needs no decoder of its own. The calls it makes
(``link('add'|'set', ...)`` with keyword attributes) are the same in pyroute2 0.7.2 (Debian 12)
and 0.9.x; the integration tests run under both. The facade (``netlink.Netlink``) opens its socket
only when a step needs it, and only then is pyroute2 imported (about half a second): a run that
changes nothing never imports it. ``HAS_PYROUTE2`` says whether it can be imported (found on the path, without importing it).
"""

import importlib.util

from ansible_collections.lanbridge.core.plugins.module_utils._kernel import codec
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.errors import failing
from ansible_collections.lanbridge.core.plugins.module_utils._errors import KernelError

try:
    HAS_PYROUTE2 = importlib.util.find_spec("pyroute2") is not None
except (ImportError, ValueError):  # pragma: no cover - a broken path entry
    HAS_PYROUTE2 = False
PYROUTE2_IMPORT_ERROR = None if HAS_PYROUTE2 else ImportError("No module named 'pyroute2'")


def preload():
    """Import pyroute2 now (a change that may need it calls this before its first step, so the
    half-second import never falls between two steps of a transaction). Raises ``KernelError``."""
    try:
        from pyroute2 import IPRoute  # noqa: PLC0415  here, not at the top: only a change pays for it
    except ImportError as exc:
        raise KernelError("pyroute2 is required: %s" % exc) from exc
    return IPRoute


class Pyroute:
    """pyroute2's socket of the namespace it is opened in (open it inside ``netns.in_netns``)."""

    def __init__(self):
        ip_route = preload()
        with failing("open a pyroute2 netlink socket"):
            self._ipr = ip_route()

    def close(self):
        if self._ipr is not None:
            try:
                self._ipr.close()
            finally:
                self._ipr = None

    @staticmethod
    def _bridge_kwargs(stp, forward_delay):
        kwargs = {}
        if stp is not None:
            kwargs["br_stp_state"] = 1 if stp else 0
        if forward_delay is not None:
            kwargs["br_forward_delay"] = codec.to_centiseconds(forward_delay)
        return kwargs

    def add_bridge(self, name, stp=None, forward_delay=None, mtu=None, mac=None):
        kwargs = dict(self._bridge_kwargs(stp, forward_delay), ifname=name, kind="bridge")
        if mtu is not None:
            kwargs["mtu"] = mtu
        if mac is not None:
            kwargs["address"] = mac
        with failing("add bridge %s" % name):
            self._ipr.link("add", **kwargs)

    def set_bridge(self, index, what, stp=None, forward_delay=None):
        kwargs = self._bridge_kwargs(stp, forward_delay)
        if kwargs:
            with failing("set bridge %s (%s)" % (what, ", ".join("%s=%s" % kv for kv in sorted(kwargs.items())))):
                self._ipr.link("set", index=index, kind="bridge", **kwargs)

    def set_link(self, index, what, changes):
        """Apply ``changes`` (``[(text, {attribute: value})]``) to link ``index``, one request each."""
        for text, kwargs in changes:
            with failing("set link %s %s" % (what, text)):
                self._ipr.link("set", index=index, **kwargs)
