"""Which tasks reach each host: counted from callback_plugins/bench_timer.py's records.

A task reaches a host when its action plugin executes a module or a command through the task's
connection there (the callback's ``remote`` records, written in the worker processes). A
delegated task reaches the host it is delegated to; a task delegated to a name outside the play
(``localhost``) reaches no managed host. Controller-side actions (set_fact, assert, debug, fail,
meta, include_*) and skipped tasks never execute anything, so they never reach a host.

Second opinion: a result that carries ``invocation`` came from an AnsibleModule on the other end.
Where the two disagree (``no_log`` removes ``invocation``; a module that crashed returns none;
a strategy that replaces the action plugins' execution, such as mitogen's, writes no ``remote``
record) the report names the task.
"""

STATUS_RAN = ("ok", "failed", "ignored", "unreachable")


def remote_tasks(records, remote, hosts):
    """Per host of ``hosts``: the tasks (in run order) that reached it, and those that did not."""
    reached = {}  # host -> {uuid: {"task", "modules"}} (dicts keep run order)
    for r in remote:
        target = r.get("delegate_to") or r.get("host")
        if target not in hosts:
            continue
        entry = reached.setdefault(target, {}).setdefault(r["uuid"], {"task": r["task"], "modules": []})
        if r["via"] == "module" and r["what"] not in entry["modules"]:
            entry["modules"].append(r["what"])
    out = {}
    for host in hosts:
        mine = reached.get(host, {})
        ran = [r for r in records if r["host"] == host and r["status"] in STATUS_RAN]
        controller = [r["task"] for r in ran if r["uuid"] not in mine and not r.get("delegate_to")]
        # the second opinion: results with invocation against remote records (own, undelegated results)
        own = [r for r in ran if not r.get("delegate_to")]
        no_record = [r["task"] for r in own if r.get("invocation") and r["uuid"] not in mine]
        no_invocation = [r["task"] for r in own if not r.get("invocation") and r["uuid"] in mine]
        out[host] = {
            "count": len(mine),
            "tasks": [e["task"] for e in mine.values()],
            "modules": [", ".join(e["modules"]) or "(command)" for e in mine.values()],
            "controller_tasks": controller,
            "invocation_without_remote_record": no_record,
            "remote_record_without_invocation": no_invocation,
        }
    return out


def check(counts, limit, what):
    """Error lines for every host that got more than ``limit`` tasks (naming them)."""
    errors = []
    for host, c in sorted(counts.items()):
        if c["count"] > limit:
            errors.append("%s: %d tasks reached %s, want <= %d: %s" % (
                what, c["count"], host, limit, "; ".join("%s [%s]" % tm for tm in zip(c["tasks"], c["modules"]))))
        if c["invocation_without_remote_record"]:
            errors.append("%s: %s: results with 'invocation' but no remote execution recorded (the count is "
                          "incomplete): %s" % (what, host, "; ".join(c["invocation_without_remote_record"])))
    return errors
