# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agent's operations on the host, through ``_container_veth`` unchanged:

``attach(entries)`` ``_container_veth.batch.converge``, what a ``container_veth`` run does (same
    host-side name, MAC, addresses, routes, conflict probe and announcement, the same bridge
    locks), for a batch of validated entries -> one result per entry (``Attachment.result()``).
``detach(container_id, ifnames)`` deletes the host ends labelled for that container (``names``
    labels, as ``purge`` finds them) -> their names.
``inspect(key, names)`` what the engine says of the desired containers (``running``, ``id``).
``firewall(desired)`` the bridge's accept rule (``firewall.ensure``) with iptables argument lists.
"""

import errno
import subprocess

from ansible_collections.lanbridge.core.plugins.module_utils._agent import firewall as _firewall
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import names as _names
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.batch import converge
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.engine import Engine, Engines
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.entry import Attachment
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netlink import Netlink
from ansible_collections.lanbridge.core.plugins.module_utils._lock import hold
from ansible_collections.lanbridge.core.plugins.module_utils._errors import EngineError, FirewallError, KernelError


class HostOps:
    """The real operations (root, on the managed node)."""

    def attach(self, entries):
        """Read, plan and apply ``entries`` as one batch, exactly as ``container_veth`` does (``batch``)."""
        attachments = [Attachment(entry) for entry in entries]
        engines = Engines(environ={})  # fresh per batch: the engine's answers are cached for one run
        try:
            converge(attachments, engines, False)
        finally:
            engines.close()
        return [item.result() for item in attachments]

    def detach(self, container_id, ifnames, bridges):
        """Delete the host ends labelled for ``container_id`` (and one of ``ifnames``)."""
        identity = _names.container_identity(container_id)
        gone = []
        with hold(["bridge:%s" % name for name in bridges]):
            with Netlink() as nl:
                for link in nl.links():
                    label = _names.parse_label(link.get("ifalias")) if link.get("kind") == "veth" else None
                    if label and label["id"] == identity and label["ifname"] in ifnames:
                        try:
                            nl.delete_link(link["ifname"])
                        except KernelError as exc:
                            if exc.code != errno.ENODEV:  # gone with its namespace in the meantime
                                raise
                        gone.append(link["ifname"])
        return gone

    def inspect(self, key, names):
        """``{name: info or None}`` for the containers ``names`` on engine ``key`` (None: unknown)."""
        engine = Engine(key[0], key[1])
        out = {}
        try:
            for name in names:
                try:
                    out[name] = engine.inspect(name)
                except EngineError as exc:
                    if "no container named" not in str(exc):
                        raise
                    out[name] = None
        finally:
            engine.close()
        return out

    def firewall(self, desired):
        fw = desired.firewall
        if not fw.get("enabled") or not fw.get("bridges"):
            return []
        return _firewall.ensure(_run, fw["bridges"], fw["comment"], fw["ipv6"])


def _run(argv):
    try:
        return subprocess.call(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except FileNotFoundError:
        raise FirewallError("firewall: %s is not installed" % argv[0]) from None
