# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The result of a ``container_veth`` run:

``summarize(attachments, purged, missing, started, diff)`` -> ``(result, warnings, failure)``: the
    module's result from the records of the run.
"""

import time

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import purge


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
