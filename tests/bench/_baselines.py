"""The seed's baselines and the module's own cost (issue 6), run by ``bench.py --baselines``.

  shell baseline   the seed's per-container ip commands in a bash loop (tests/bench/shell_baseline.sh);
  loop baseline    tests/bench/loop.yml: the role, then one container_veth task per container;
  direct runs      container_veth as one process in the host namespace (peak RSS, a cProfile,
                   the no-op under cProfile, the cold run without conflict probes);
  host_bridge      its waits (rollback after rollback_timeout, STP's forward delay) in throwaway
                   namespaces of tests/integration.
"""

import functools
import json
import os
import re
import sys
import time

from _common import (BENCH_GATEWAY, BENCH_NET, BRIDGE, COLLECTIONS, HERE, HOST_PYTHON, LOOP, MODULE, REPO, attachments,
                     delete_attachments, lab, log, playbook, run, spot_check, veth_record, write_inventory)
from _profile import host_pythonpath, profile_summary

sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import helpers  # noqa: E402  (tests/integration/helpers.py)
import host_bridge_lan  # noqa: E402  (tests/integration/host_bridge_lan.py)


def shell_baseline(state, out, host, names, pids, addresses, gateway):
    """The seed's procedure: untimed bridge set-up, then the timed per-container ip loop."""
    h = state["hosts"][host]
    gw = lab.GATEWAY4
    setup = "\n".join([
        "set -eu",
        "ip link add %s type bridge stp_state 0" % BRIDGE,                  # brctl addbr br0; brctl stp br0 off
        "ip addr add %s/%d dev %s" % (h["address4"], lab.PLEN4, BRIDGE),   # ifconfig br0 <addr> up
        "ip link set %s up" % BRIDGE,
        "ip link set %s master %s" % (lab.UPLINK, BRIDGE),                  # brctl addif br0 em1
        "ip -4 addr flush dev %s" % lab.UPLINK,                             # ifconfig em1 0.0.0.0
        "ip route replace default via %s dev %s" % (gw, BRIDGE),           # route add default gw
        "",
    ])
    lab.ns_exec(host, "bash", "-c", setup)
    listing = os.path.join(out, "shell-%s.list" % host)
    with open(listing, "w") as f:
        for i, name in enumerate(names, start=1):
            f.write("%d %d %s %s\n" % (i, pids[name], addresses[name], gateway))
    # Per container, literally the seed's commands (ip for brctl/ifconfig/route), each command
    # its own process; "inside the container's network namespace" is nsenter --net by PID.
    # route replace, not add: the container already has Docker's default route (the seed's
    # "route add default" would fail, or give two defaults).
    script = os.path.join(HERE, "shell_baseline.sh")
    t = time.monotonic()
    res = lab.ns_exec(host, "bash", script, listing, BRIDGE, check=False, timeout=1800)
    wall = time.monotonic() - t
    ports = attachments(host)
    ok, seen = spot_check(host, pids[names[-1]], addresses[names[-1]].split("/")[0], gateway)
    error = None
    if res.returncode != 0:
        error = "shell loop failed (%d): %s" % (res.returncode, res.stderr.strip()[-500:])
    elif ports != len(names) or not ok:
        error = "shell loop: %d ports on %s (want %d); spot check: %s" % (ports, BRIDGE, len(names), seen)
    log("shell baseline on %s: %d containers in %.2fs%s" % (host, len(names), wall, ", " + error if error else ""))
    return {"wall": round(wall, 3), "error": error}


def direct_module_run(out, host, interfaces, tag, profile=False):
    """Run container_veth as one process inside ``host``'s namespace under /usr/bin/time -v."""
    args = os.path.join(out, tag + ".args.json")
    with open(args, "w") as f:
        json.dump({"ANSIBLE_MODULE_ARGS": {"interfaces": interfaces}}, f)
    prof = os.path.join(out, tag + ".prof")
    py = [HOST_PYTHON] + (["-m", "cProfile", "-o", prof] if profile else []) + ["-m", MODULE, args]
    cmd = ["ip", "netns", "exec", host, "env", "PYTHONPATH=" + host_pythonpath(out),
           "/usr/bin/time", "-v"] + py
    t = time.monotonic()
    res = run(cmd, check=False, timeout=1800)
    wall = time.monotonic() - t
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr)
    try:
        result = json.loads(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {"failed": True, "msg": (res.stdout + res.stderr)[-1000:]}
    ifs = result.get("interfaces") or []
    rec = {"process_wall": round(wall, 3), "elapsed": result.get("elapsed"),
           "peak_rss_kib": int(rss.group(1)) if rss else None,
           "changed": sum(1 for i in ifs if i.get("changed")), "failed": sum(1 for i in ifs if i.get("failed")),
           "error": result.get("msg") if result.get("failed") else None}
    if profile and os.path.exists(prof):
        rec["profile"] = profile_summary(prof, os.path.join(out, tag + ".profile.txt"))
    log("direct module run %s on %s: %s" % (tag, host, json.dumps({k: v for k, v in rec.items() if k != "profile"})))
    return rec


def host_bridge_waits():
    """How long host_bridge waits where it has to, in throwaway namespaces (tests/integration's topology).

    Moved here from tests/integration/test_host_bridge.py, which no longer asserts on times:
    a gateway that never answers with ``rollback_timeout: 1.5`` (the module gives up and rolls back
    after the timeout, not before and not much after), and STP with ``forward_delay: 2`` four ways
    (the probe waits out listening + learning, 2 x 2 s, in the real run).
    """
    rec = {"errors": []}
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (COLLECTIONS, saved) if p)
    try:
        with helpers.throwaway_netns() as make:
            lan = host_bridge_lan.build(make)
            lan.cut()
            t = time.monotonic()
            r = helpers.run_module("host_bridge", lan.host, {"name": "br0", "uplink": "em1", "rollback_timeout": 1.5})
            rec["rollback"] = {"rollback_timeout": 1.5, "wall": round(time.monotonic() - t, 3),
                               "rolled_back": r.get("rolled_back"), "msg": r.get("msg")}
            if not (r.failed and r.get("rolled_back") is True):
                rec["errors"].append("host_bridge rollback: expected a failed run that rolled back: %s" % r.get("msg"))
        with helpers.throwaway_netns() as make:
            lan = host_bridge_lan.build(make)
            args = {"name": "br0", "uplink": "em1", "stp": True, "forward_delay": 2}
            t = time.monotonic()
            try:
                helpers.four_ways(functools.partial(helpers.run_module, "host_bridge", lan.host), args, ns=lan.host)
            except AssertionError as exc:
                rec["errors"].append("host_bridge stp four ways: %s" % exc)
            rec["stp_four_ways"] = {"forward_delay": 2, "wall": round(time.monotonic() - t, 3)}
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    log("host_bridge waits: %s" % dict((k, v.get("wall")) for k, v in rec.items() if isinstance(v, dict)))
    return rec


def for_n(args, state, out, n, names, pids, addrs, entries, rec, cold_ok):
    """Issue 6's rows for one N, after the role and module runs on bn-h1; returns error lines.

    The three hosts take their turn with the same addresses: each host's attachments are deleted
    before the next host attaches (container_veth probes every new address, so two live owners
    would be a conflict)."""
    errors = []
    delete_attachments("bn-h1")
    sh = shell_baseline(state, out, "bn-h2", names, pids["bn-h2"], addrs, BENCH_GATEWAY)
    rec["shell"] = sh["wall"]
    if sh["error"]:
        errors.append(sh["error"])
    delete_attachments("bn-h2")
    if n in args.loop_sizes:
        inv3 = write_inventory(state, out, "n%d-loop" % n, {"bn-h3": {
            "container_lan_allowed_networks": [BENCH_NET], "container_lan_runtime": "docker",
            "bench_loop_interfaces": entries("bn-h3")}})
        lp = playbook(out, "n%d-loop" % n, LOOP, inv3)
        rec["loop"] = lp["wall"]
        lr = veth_record(lp)
        rec["loop_module_sum"] = lr[0].get("items_elapsed") if lr else None
        if lp["error"]:
            errors.append("loop: " + lp["error"])
        delete_attachments("bn-h3")
    if not cold_ok or n not in (args.rss_n, args.profile_n):
        return errors
    # bn-h1 again, with the pairs deleted: the module as one process (peak RSS; a profile)
    for tag, profile in (("rss", False), ("profile", True)):
        if (args.rss_n if tag == "rss" else args.profile_n) != n:
            continue
        deleted = delete_attachments("bn-h1")
        d = direct_module_run(out, "bn-h1", entries("bn-h1"), "n%d-direct-%s" % (n, tag), profile=profile)
        d["deleted_first"] = deleted
        rec["direct_" + tag] = d
        if d["error"] or d["changed"] != n:
            errors.append("direct module run (%s): %s changed %d of %d" % (tag, d["error"], d["changed"], n))
        if profile:  # and the no-op run right after it, profiled too
            d = direct_module_run(out, "bn-h1", entries("bn-h1"), "n%d-direct-profile-noop" % n, profile=True)
            rec["direct_profile_noop"] = d
            if d["error"] or d["changed"]:
                errors.append("direct module no-op run: %s changed %d" % (d["error"], d["changed"]))
            # what the module costs without the RFC 5227 probes (conflict_check: false)
            delete_attachments("bn-h1")
            quiet = [dict(e, conflict_check=False) for e in entries("bn-h1")]
            d = direct_module_run(out, "bn-h1", quiet, "n%d-direct-noprobe" % n)
            rec["direct_noprobe"] = d
            if d["error"] or d["changed"] != n:
                errors.append("direct module run without probes: %s changed %d" % (d["error"], d["changed"]))
    return errors


def targets(results):
    """Issue 6's targets (absolute times on this machine), shown with --baselines."""
    r = dict((x["n"], x) for x in results["single"]).get(100)
    out = []

    def target(name, value, ok):
        out.append({"target": "issue 6: " + name, "measured": value, "met": ok if value not in (None, "-") else None})

    if r:
        mo, sh, lp = r.get("module_only"), r.get("shell"), r.get("loop")
        cold = (r.get("role_cold") or {}).get("best")
        target("module only, N=100 <= 0.5 s", mo, mo is not None and mo <= 0.5)
        q = round(sh / mo, 1) if sh and mo else None
        target("shell / module only, N=100 >= 10", q, q is not None and q >= 10)
        q = round(lp / cold, 1) if lp and cold else None
        target("loop / role cold, N=100 >= 5", q, q is not None and q >= 5)
    hb = results.get("host_bridge") or {}
    wall = (hb.get("rollback") or {}).get("wall")
    target("host_bridge gives up after rollback_timeout 1.5 s: 1.5 s <= run < 6 s", wall,
           wall is not None and 1.5 <= wall < 6)
    wall = (hb.get("stp_four_ways") or {}).get("wall")
    target("host_bridge stp, forward_delay 2, four ways < 20 s", wall, wall is not None and wall < 20)
    return out
