# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two ends of a ``container_veth`` run around the apply step:

``read_and_plan(item, engines, reader, here, check_mode, missing)`` fills in one ``entry.Attachment``:
    its target, its live state, its plan, or the error that fails it (and only it).
``summarize(attachments, purged, missing, started, diff)`` -> ``(result, warnings, failure)``: the
    module's result from the records of the run.
"""

import time

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import plan as planner
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import purge
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.entry import complete, find_target
from ansible_collections.lanbridge.core.plugins.module_utils._errors import (
    EngineError, EntryError, KernelError, PlanError, TargetError,
)

READ_ERRORS = (EngineError, TargetError, PlanError, KernelError)


def read_and_plan(item, engines, reader, here, check_mode, missing):
    """Fill in ``item`` (an ``Attachment``): its target, live state and plan; its error if any."""
    entry = item.entry
    try:
        item.target = find_target(entry, engines, here)
        live = reader.live(entry, item.target)
        if entry["state"] == "absent" and item.target.get("identity") is None:
            live["stale"] = purge.unknown_container_links(reader.labelled, entry["container"], entry["ifname"])
        if entry["state"] == "present" and not live.get("bridge"):
            if not check_mode:
                raise EntryError("bridge %s does not exist" % entry["bridge"])
            # check mode before the bridge is built (host_bridge's check run made nothing):
            # plan against an empty bridge, so the diff shows what a real run will do
            live["bridge"] = {"ifname": entry["bridge"], "index": None, "mtu": None, "kind": "bridge"}
            missing.setdefault(entry["bridge"], []).append(entry.get("mtu") is None)
        wanted = complete(entry, item.target, live)
        if entry["state"] == "present" and live["bridge"].get("kind") != "bridge":
            raise EntryError("%s is not a bridge (it is a %s)" % (entry["bridge"], live["bridge"].get("kind") or "NIC"))
        item.steps, item.before, item.after = planner.plan(wanted, live)
        item.wanted = wanted
    except (EntryError,) + READ_ERRORS as exc:
        item.error = str(exc)


def summarize(attachments, purged, missing, started, diff):
    """``(result, warnings, failure message or None)`` of the run, from its records: the
    ``Attachment`` list, the purge's ``Removal`` records (each with its transaction), and the bridges
    that check mode planned against although they do not exist yet."""
    warnings = []
    results, before, after, failures = [], {}, {}, []
    for item in attachments:
        results.append(item.result())
        if item.failure() is not None:
            failures.append(item.failure())
        else:
            before[item.key], after[item.key] = item.before, item.after
    for removal in purged:
        link, error = removal.link, removal.transaction.error
        result = purge.purged_result(link)
        if error is not None:
            result.update({"changed": False, "failed": True, "msg": error})
            failures.append(error)
        else:
            result["changed"] = True
            key = "purged %s %s (%s)" % (result["container_name"] or link["label"]["id"], result["ifname"], link["ifname"])
            before[key], after[key] = removal.before, {"state": "absent"}
        results.append(result)
    for bridge, unknown_mtu in sorted(missing.items()):
        unknown = "; their MTU is unknown until it exists (reported as null)" if any(unknown_mtu) else ""
        warnings.append("check mode: bridge %s does not exist yet; %d attachment(s) planned as if it existed without "
                        "ports%s" % (bridge, len(unknown_mtu), unknown))
    out = {"changed": any(r["changed"] for r in results), "interfaces": results,
           "elapsed": round(time.time() - started, 4)}
    if diff:
        out["diff"] = {"before": before, "after": after}
    failure = None
    if failures:
        failure = failures[0] if len(results) == 1 else "%d of %d interfaces failed: %s" % (
            len(failures), len(results), "; ".join(failures))
    return out, warnings, failure
