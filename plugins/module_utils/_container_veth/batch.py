# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One batch of attachments, read -> plan -> apply: what a ``container_veth`` run does between its
options and its result, and what the agent does on an event (the same code, so both attach a
container the same way).

``read_and_plan(item, engines, reader, here, check_mode, missing)`` fills in one ``entry.Attachment``:
    its target, its live state, its plan, or the error that fails it (and only it).
``converge(attachments, engines, check_mode, purge_bridge=None, check=None)`` -> ``(purged, missing)``
    Under the locks of every bridge and routed uplink the batch touches, from the first read to the last apply: read
    and plan each ``entry.Attachment`` (``read_and_plan``), then ``check(attachments)`` (may
    raise ``ValidationError``: nothing is applied), then with ``purge_bridge`` the labelled attachments
    on it that no entry names (``purge``), then, unless ``check_mode``, apply the purges first (an
    address may move from a purged attachment to a new one) and every changed entry, each its own
    transaction. ``purged``: the ``purge.Removal`` records, each with its transaction; ``missing``: the bridges
    check mode planned against although they do not exist (``report.summarize`` takes both). The
    namespaces, sockets and targets are closed on the way out, also on errors (``KernelError``,
    ``LockError``, ``ValidationError`` reach the caller); ``engines`` stays the caller's.
"""

import os

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import plan as planner
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import purge
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.apply import Applier
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.entry import complete, find_target
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.read import (
    AttachmentReader, Namespaces, bridges_touched,
)
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.targets import (
    close as close_target, raise_nofile_limit,
)
from ansible_collections.lanbridge.core.plugins.module_utils._errors import (
    EngineError, EntryError, KernelError, PlanError, TargetError,
)
from ansible_collections.lanbridge.core.plugins.module_utils._lock import hold

READ_ERRORS = (EngineError, TargetError, PlanError, KernelError)


def read_and_plan(item, engines, reader, here, check_mode, missing):
    """Fill in ``item`` (an ``Attachment``): its target, live state and plan; its error if any."""
    entry = item.entry
    try:
        item.target = find_target(entry, engines, here)
        live = reader.live(entry, item.target)
        if entry["state"] == "absent" and item.target.get("identity") is None:
            live["stale"] = purge.unknown_container_links(reader.labelled, entry["container"], entry["ifname"])
        bridged = entry["state"] == "present" and entry.get("mode") != "routed"
        if bridged and not live.get("bridge"):
            if not check_mode:
                raise EntryError("bridge %s does not exist" % entry["bridge"])
            # check mode before the bridge is built (host_bridge's check run made nothing):
            # plan against an empty bridge, so the diff shows what a real run will do
            live["bridge"] = {"ifname": entry["bridge"], "index": None, "mtu": None, "kind": "bridge"}
            missing.setdefault(entry["bridge"], []).append(entry.get("mtu") is None)
        wanted = complete(entry, item.target, live)
        if bridged and live["bridge"].get("kind") != "bridge":
            raise EntryError("%s is not a bridge (it is a %s)" % (entry["bridge"], live["bridge"].get("kind") or "NIC"))
        item.steps, item.before, item.after = planner.plan(wanted, live)
        item.wanted = wanted
    except (EntryError,) + READ_ERRORS as exc:
        item.error = str(exc)


def converge(attachments, engines, check_mode, purge_bridge=None, check=None):
    raise_nofile_limit(len(attachments))
    here = os.stat("/proc/self/ns/net")
    missing = {}  # bridge -> [MTU unknown?] per entry planned against it although it does not exist
    purged = []
    try:
        namespaces = Namespaces()
    except BaseException:
        for item in attachments:
            close_target(item.target)
        raise
    applier = Applier(namespaces)
    entries = [item.entry for item in attachments]
    try:
        unnamed = any(not entry.get("bridge") and entry.get("mode") != "routed" for entry in entries)
        bridges = bridges_touched(entries, purge_bridge, namespaces.host.links() if unnamed else None)
        uplinks = set(entry["uplink"] for entry in entries if entry.get("mode") == "routed" and entry.get("uplink"))
        # from reading to the end of apply; hold() takes them sorted: bridges before uplinks, as host_bridge does
        with hold(["bridge:%s" % name for name in bridges] + ["uplink:%s" % name for name in uplinks]):
            reader = AttachmentReader(namespaces)
            for item in attachments:
                read_and_plan(item, engines, reader, (here.st_dev, here.st_ino), check_mode, missing)
            if check is not None:
                check(attachments)
            purged = purge.for_attachments(attachments, reader.host_links, purge_bridge) if purge_bridge else []
            for removal in purged:
                removal.transaction = applier.entry([removal.step], None)
            for item in attachments:
                if item.error is None and item.changed:
                    item.transaction = applier.entry(item.steps, item.target)
            if not check_mode:
                applier.apply_all([removal.transaction for removal in purged]
                                  + [item.transaction for item in attachments if item.transaction is not None])
    finally:
        applier.close()
        namespaces.close()
        for item in attachments:
            close_target(item.target)
    return purged, missing
