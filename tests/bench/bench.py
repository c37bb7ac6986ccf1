"""The lanbridge.core benchmark (issues 6 and 14): how close the collection sits to Ansible's own floor.

    make bench                                   (= bash tests/bench/run.sh --png docs/benchmark.png)
    .venv/bin/python tests/bench/bench.py [--sizes 10,100,200] [--fleet 1,4,8] [--repeat 3]
        [--mitogen auto|off] [--agent auto|on|off] [--baselines] [--png PATH] [--out DIR]

Everything runs in lab namespaces (tests/lab/lab.py, prefixes ``bn``, ``bf`` and, for the agent,
``bg``; state under tests/output/bench/): nothing is changed in the root network namespace.
ansible-playbook runs in the root namespace as the controller and reaches the lab hosts over SSH
through the lab's controller namespace, exactly like the molecule scenarios; the ``ansible``
ad-hoc runs happen inside a lab host's namespace with ``-c local``.

Per N (containers on one host), a fresh lab, N containers on ``bn-h1``, then, all in one run:
  role      floor.yml (one ansible.builtin.ping task) and site.yml cold, then site.yml no-op and
            floor.yml again, alternating, ``--repeat`` times (best of them counts);
  replay    the collection's modules of the best no-op run, with the arguments the callback
            recorded, run directly on the host under cProfile (where the module's time goes,
            whether it imported pyroute2);
  mitogen   floor.yml and the no-op again with the mitogen_linear strategy (when installed);
  module    the attachments deleted, then ``ansible localhost -c local -m ping`` and
            ``-m lanbridge.core.container_veth`` for the N containers, cold (attachments deleted
            before each) and no-op, alternating, ``--repeat`` times.
Fleet: for H in --fleet, a fresh lab with H hosts x --fleet-containers, site.yml in one batch
(``-e container_lan_serial=100%``, ``--forks max(5, H)``): floor.yml, cold, no-op (repeated), with
the machine's CPU busy share and load average during each run.
Agent: tests/bench/agent_bench.py's measure() (a booted host; --agent auto runs it when the
booted image is cached).
The callback (callback_plugins/bench_timer.py) records which tasks reach each host; every no-op
run must send at most two (host_bridge and container_veth).
--baselines adds issue 6's shell and loop baselines, the direct module runs and host_bridge's
waits (tests/bench/_baselines.py).

Writes tests/output/bench/results.json, table.txt and the PNG, and prints the table. Exit status 1
when a measurement failed, a no-op run reported changes or sent more than two tasks to a host;
the time targets only get a verdict.
"""

import argparse
import json
import os
import shutil
import sys
import time

import _baselines
import _profile
import _remote
import _report
from _common import (BENCH_GATEWAY, BENCH_NET, BRIDGE, FLEET_FIRST, FLOOR, REPO, SITE, T0, adhoc, attachments, best_of,
                     delete_attachments, fastest, lab, lab_down, lab_up, log, mitogen_strategy_dir, playbook,
                     slowest_tasks, spot_check, start_containers, time_split, veth_record, write_inventory)


def summary(run):
    """A run without its per-task records (results.json keeps the numbers, the .jsonl keeps the rest)."""
    return dict((k, v) for k, v in run.items() if k not in ("records", "remote", "recap"))


def repeated(runs):
    b = best_of(runs)
    b["best_run"] = summary(b["best_run"])
    return b


def noop_errors(what, runs, hosts, limit=_report.TASKS_PER_HOST):
    """Errors of the no-op runs: a failure, a change, more than ``limit`` tasks on a host; and the worst count."""
    errors, worst = [], None
    for r in runs:
        if r["error"]:
            errors.append("%s: %s" % (what, r["error"]))
            continue
        if r["changed"]:
            changed = sorted({x["task"] for x in r["records"] if x.get("changed")})
            errors.append("%s reported %d change(s): %s" % (what, r["changed"], ", ".join(changed)))
        counts = _remote.remote_tasks(r["records"], r["remote"], hosts)
        if worst is None or sum(c["count"] for c in counts.values()) > sum(c["count"] for c in worst.values()):
            worst = counts
    if worst:
        errors += _remote.check(worst, limit, what)
    return errors, worst


def role_runs(args, out, tag, inv, extra=(), forks=None):
    """floor, cold, then no-op and floor alternating: {floor, role_cold, role_noop} and the raw no-op runs."""
    floors = [playbook(out, "%s-floor1" % tag, FLOOR, inv, extra, forks)]
    cold = playbook(out, "%s-role-cold" % tag, SITE, inv, extra, forks)
    noops = []
    for i in range(1, args.repeat + 1):
        noops.append(playbook(out, "%s-role-noop%d" % (tag, i), SITE, inv, extra, forks))
        if i < args.repeat:
            floors.append(playbook(out, "%s-floor%d" % (tag, i + 1), FLOOR, inv, extra, forks))
    return floors, cold, noops


def mitogen_runs(args, out, tag, inv, mitogen, extra=(), forks=None):
    floors, noops = [], []
    for i in range(1, args.repeat + 1):
        floors.append(playbook(out, "%s-mitogen-floor%d" % (tag, i), FLOOR, inv, extra, forks, mitogen=mitogen))
        noops.append(playbook(out, "%s-mitogen-noop%d" % (tag, i), SITE, inv, extra, forks, mitogen=mitogen))
    rec = {"floor": repeated(floors), "noop": repeated(noops), "runs": len(floors) + len(noops)}
    bad = [r for r in floors if r["error"]] + [r for r in noops if r["error"] or r["changed"]]
    rec["failed"] = ["%s: %s" % (os.path.basename(r["log"]), r["error"] or "%d change(s)" % r["changed"]) for r in bad]
    return rec


def module_runs(args, out, n, host, interfaces):
    """ping, cold and no-op of container_veth as one ansible process in ``host``'s namespace."""
    pings, colds, noops, errors = [], [], [], []
    for i in range(1, args.repeat + 1):
        pings.append(adhoc(out, "n%d-adhoc-ping%d" % (n, i), host, "ansible.builtin.ping"))
        delete_attachments(host)
        colds.append(adhoc(out, "n%d-adhoc-cold%d" % (n, i), host, "lanbridge.core.container_veth",
                           {"interfaces": interfaces}))
        noops.append(adhoc(out, "n%d-adhoc-noop%d" % (n, i), host, "lanbridge.core.container_veth",
                           {"interfaces": interfaces}))
    for what, runs, want in (("cold", colds, n), ("no-op", noops, 0)):
        for r in runs:
            vr = veth_record(r)
            got = vr[0].get("interfaces_changed") if vr else None
            if r["error"] or got != want:
                errors.append("module %s, N=%d: %s" % (what, n, r["error"] or "%s of %d interfaces changed, want %d"
                                                       % (got, n, want)))
    rec = {"ping": repeated(pings), "cold": repeated(colds), "noop": repeated(noops)}
    for key, runs in (("cold", colds), ("noop", noops)):
        elapsed = [vr[0].get("elapsed") for vr in map(veth_record, runs) if vr and vr[0].get("elapsed") is not None]
        rec[key]["elapsed"] = min(elapsed) if elapsed else None
    if attachments(host) != n:
        errors.append("module cold, N=%d: %d attachments on %s, want %d" % (n, attachments(host), BRIDGE, n))
    return rec, errors


def single_host(args, out, n, mitogen):
    """One host with N containers: the role against the floor, mitogen, the module against ping."""
    hosts = ["bn-h1", "bn-h2", "bn-h3"] if args.baselines else ["bn-h1"]
    used = hosts if n in args.loop_sizes else hosts[:2]
    rec = {"n": n}
    state = lab_up(out, "lab-n%d" % n, "bn", len(hosts), 0)
    try:
        t = time.monotonic()
        names, pids = start_containers(state, used, n)
        rec["containers_start"] = round(time.monotonic() - t, 1)
        addrs = dict((c, "203.0.113.%d/24" % j) for j, c in enumerate(names, start=1))

        def entries(host):
            docker_host = state["hosts"][host]["docker_host"]
            return [{"container": c, "addresses": [addrs[c]], "gateway": BENCH_GATEWAY, "docker_host": docker_host,
                     "runtime": "docker", "bridge": BRIDGE} for c in names]

        common = {"container_lan_allowed_networks": [BENCH_NET], "container_lan_runtime": "docker"}
        inv = write_inventory(state, out, "n%d-role" % n, {"bn-h1": dict(common, container_lan_interfaces=[
            {"container": c, "addresses": [addrs[c]], "gateway": BENCH_GATEWAY} for c in names])})
        floors, cold, noops = role_runs(args, out, "n%d" % n, inv)
        rec.update({"floor": repeated(floors), "role_cold": repeated([cold]), "role_noop": repeated(noops),
                    "role_noop_changed": max(r["changed"] for r in noops), "role_cold_slowest_tasks": slowest_tasks(cold),
                    "split": {"floor": time_split(fastest(floors), "bn-h1"), "role_noop": time_split(fastest(noops), "bn-h1"),
                              "role_cold": time_split(cold, "bn-h1")}})
        vr = veth_record(cold)
        rec["module_only"] = vr[0].get("elapsed") if vr else None
        vr = veth_record(noops[0])
        rec["module_only_noop"] = vr[0].get("elapsed") if vr else None
        errors = ["floor: " + r["error"] for r in floors if r["error"]]
        if cold["error"]:
            errors.append("role cold: " + cold["error"])
        else:
            ok, seen = spot_check("bn-h1", pids["bn-h1"][names[-1]], addrs[names[-1]].split("/")[0], BENCH_GATEWAY)
            if attachments("bn-h1") != n or not ok:
                errors.append("role cold: %d ports on %s (want %d); spot check: %s" % (attachments("bn-h1"), BRIDGE, n, seen))
        more, rec["remote_noop"] = noop_errors("role no-op, N=%d" % n, noops, ["bn-h1"], args.max_tasks)
        errors += more
        if not fastest(noops)["error"]:
            rec["noop_replay"], more = _profile.noop_modules(out, "bn-h1", fastest(noops), "n%d-noop-replay" % n)
            errors += more
        if mitogen and not cold["error"]:
            rec["mitogen"] = mitogen_runs(args, out, "n%d" % n, inv, mitogen)
        rec["adhoc"], more = module_runs(args, out, n, "bn-h1", entries("bn-h1"))
        errors += more
        if args.baselines:
            errors += _baselines.for_n(args, state, out, n, names, pids, addrs, entries, rec, cold_ok=not cold["error"])
        rec["errors"] = errors
        return rec
    finally:
        lab_down(state)


def fleet(args, out, nhosts, mitogen):
    m = args.fleet_containers
    state = lab_up(out, "lab-fleet%d" % nhosts, "bf", nhosts, m)
    forks = max(5, nhosts)
    rec = {"hosts": nhosts, "containers_per_host": m, "forks": forks, "serial": args.fleet_serial}
    try:
        hostvars = {}
        for i, host in enumerate(state["hosts"], start=1):
            first = FLEET_FIRST + (i - 1) * m
            hostvars[host] = {"container_lan_runtime": "docker", "container_lan_interfaces": [
                {"container": c, "addresses": ["198.51.100.%d/24" % (first + j)]}
                for j, c in enumerate(state["hosts"][host]["containers"])]}
        inv = write_inventory(state, out, "fleet%d" % nhosts, hostvars)
        extra = ["-e", "container_lan_serial=%s" % args.fleet_serial]
        floors, cold, noops = role_runs(args, out, "fleet%d" % nhosts, inv, extra, forks)
        rec.update({"floor": repeated(floors), "role_cold": repeated([cold]), "role_noop": repeated(noops),
                    "role_cold_slowest_tasks": slowest_tasks(cold), "role_noop_slowest_tasks": slowest_tasks(fastest(noops))})
        errors = ["fleet %d floor: %s" % (nhosts, r["error"]) for r in floors if r["error"]]
        if cold["error"]:
            errors.append("fleet %d cold: %s" % (nhosts, cold["error"]))
        else:
            attached = sum(attachments(h) for h in state["hosts"])
            if attached != nhosts * m:
                errors.append("fleet %d: %d attachments, want %d" % (nhosts, attached, nhosts * m))
        more, rec["remote_noop"] = noop_errors("fleet %d no-op" % nhosts, noops, list(state["hosts"]), args.max_tasks)
        errors += more
        if mitogen and not cold["error"]:
            rec["mitogen"] = mitogen_runs(args, out, "fleet%d" % nhosts, inv, mitogen, extra, forks)
        rec["errors"] = errors
        return rec
    finally:
        lab_down(state)


def agent(args):
    if args.agent == "off":
        return {"skipped": "--agent off"}
    if args.agent == "auto" and not lab.osimage.is_built():
        return {"skipped": "the booted hosts' image is not built (python3 tests/lab/lab.py image; or --agent on)"}
    import agent_bench  # noqa: PLC0415  (tests/bench/agent_bench.py; only when the agent is measured)
    log("agent: a booted host with %d containers, %d restarts" % (args.agent_containers, args.agent_restarts))
    try:
        rec = agent_bench.measure(args.agent_containers, args.agent_restarts)
    except (Exception, SystemExit) as exc:  # agent_bench's converge() exits with the playbook's output
        return {"errors": ["agent: %s" % str(exc)[-1500:]]}
    if rec["all_restarted"]["all_back_after_restart_returned_seconds"] is None:
        rec["errors"] = ["agent: not every container answered within 300 s after all were restarted"]
    log("agent: %s" % json.dumps(rec["single_restart_seconds"]))
    return rec


def mitogen_status(args, mitogen, results):
    if args.mitogen == "off":
        return {"status": "not measured (--mitogen off)"}
    if not mitogen:
        return {"status": "not installed in .venv (pip install -r requirements-bench.txt, as make bench does)"}
    rows = [r["mitogen"] for r in results["single"] + results["fleet"] if r.get("mitogen")]
    bad = [f for r in rows for f in r["failed"]]
    runs = sum(r["runs"] for r in rows)
    what = "mitogen %s with %s (strategy mitogen_linear)" % (results["machine"].get("mitogen"),
                                                             results["machine"].get("ansible_core"))
    if not rows:
        status = "%s: nothing measured (no cold run succeeded)" % what
    elif bad:  # a finding, not a failure of the benchmark: the exit status does not change
        status = "%s: %d of %d runs FAILED (no-op: failed or changed); first: %s" % (what, len(bad), runs, bad[0][:600])
    else:
        status = "%s: works, %d runs (one-task playbook and no-op), 0 failures, 0 changes" % (what, runs)
    return {"status": status, "strategy_plugins": mitogen, "failed": bad}


def csv_ints(text):
    return [int(x) for x in text.split(",") if x.strip()]


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--sizes", type=csv_ints, default=[10, 100, 200], help="containers on one host (default 10,100,200)")
    ap.add_argument("--fleet", type=csv_ints, default=[1, 4, 8], help="hosts (default 1,4,8)")
    ap.add_argument("--fleet-containers", type=int, default=20)
    ap.add_argument("--fleet-serial", default="100%", help="container_lan_serial of the fleet runs (default 100%%: one batch)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of every repeatable command; the best counts (default 3)")
    ap.add_argument("--mitogen", choices=("auto", "off"), default="auto",
                    help="auto: measure the mitogen_linear strategy when ansible_mitogen is installed in .venv")
    ap.add_argument("--agent", choices=("auto", "on", "off"), default="auto",
                    help="the agent's restart latency (auto: when the booted image is cached)")
    ap.add_argument("--agent-containers", type=int, default=50)
    ap.add_argument("--agent-restarts", type=int, default=20)
    ap.add_argument("--max-tasks", type=int, default=_report.TASKS_PER_HOST,
                    help="tasks a no-op run may send to each host before the exit status is 1 (default %(default)s)")
    ap.add_argument("--target-n", type=int, default=100, help="the N of the ratio targets (default 100)")
    ap.add_argument("--target-n2", type=int, default=200, help="the N compared with --target-n (default 200)")
    ap.add_argument("--baselines", action="store_true", help="also issue 6's shell/loop baselines, direct runs, host_bridge waits")
    ap.add_argument("--loop-sizes", type=csv_ints, default=[10, 100], help="with --baselines: the N with a loop baseline")
    ap.add_argument("--rss-n", type=int, default=200, help="with --baselines: N of the direct run for peak RSS")
    ap.add_argument("--profile-n", type=int, default=50, help="with --baselines: N of the cProfile'd direct runs")
    ap.add_argument("--png", default=None, help="where to draw the curves (default: OUT/benchmark.png)")
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "output", "bench"))
    args = ap.parse_args(argv)
    if not args.baselines:
        args.loop_sizes = []
    problems = []
    if max(args.sizes or [0]) > 253:
        problems.append("at most 253 containers per host (203.0.113.1-253)")
    if args.fleet_containers > lab.MAX_CONTAINERS or args.fleet_containers * max(args.fleet or [0]) > 180:
        problems.append("fleet: at most %d containers per host and hosts x containers <= 180 (198.51.100.20-199)"
                        % lab.MAX_CONTAINERS)
    if args.agent_containers > lab.MAX_CONTAINERS:
        problems.append("agent: at most %d containers" % lab.MAX_CONTAINERS)
    if args.repeat < 1:
        problems.append("--repeat: at least 1")
    return args, problems


def main(argv=None):
    args, problems = parse_args(argv)
    if os.geteuid() != 0:
        problems.insert(0, "run as root (the lab creates network namespaces)")
    if problems:
        print("bench: " + "; ".join(problems), file=sys.stderr)
        return 2
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    for stale in os.listdir(out):
        if stale.endswith((".jsonl", ".log", ".args.json", ".prof", ".profile.txt", ".list", ".inventory.yml")):
            os.remove(os.path.join(out, stale))
    shutil.rmtree(os.path.join(out, "pypath"), ignore_errors=True)
    mitogen = mitogen_strategy_dir() if args.mitogen == "auto" else None
    results = {"machine": _report.machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "single": [], "fleet": [],
               "options": dict((k, v) for k, v in vars(args).items() if k not in ("out", "png")),
               "baselines": args.baselines, "code_start": _report.plugins_digest()}
    for n in args.sizes:
        try:
            results["single"].append(single_host(args, out, n, mitogen))
        except Exception as exc:  # record and go on with the next size
            log("N=%d failed: %s" % (n, exc))
            results["single"].append({"n": n, "errors": ["N=%d: %s" % (n, exc)]})
    for h in args.fleet:
        try:
            results["fleet"].append(fleet(args, out, h, mitogen))
        except Exception as exc:
            log("fleet %d failed: %s" % (h, exc))
            results["fleet"].append({"hosts": h, "containers_per_host": args.fleet_containers,
                                     "errors": ["fleet %d: %s" % (h, exc)]})
    results["agent"] = agent(args)
    if args.baselines:
        try:
            results["host_bridge"] = _baselines.host_bridge_waits()
        except Exception as exc:
            log("host_bridge waits failed: %s" % exc)
            results["host_bridge"] = {"errors": ["host_bridge waits: %s" % exc]}
    results["mitogen"] = mitogen_status(args, mitogen, results)
    results["code_end"] = _report.plugins_digest()
    results["targets"] = _report.targets(results, args.target_n, args.target_n2, args.max_tasks)
    if args.baselines:
        results["targets"] += _baselines.targets(results)
    results["duration"] = round(time.monotonic() - T0, 1)
    results["machine"]["loadavg_end"] = os.getloadavg()
    png = os.path.abspath(args.png or os.path.join(out, "benchmark.png"))
    try:
        import _plot  # noqa: PLC0415  (matplotlib: requirements-bench.txt)
        _plot.plot(results, png)
        results["png"] = png
    except ImportError as exc:
        results["errors"] = ["no PNG: %s (pip install -r requirements-bench.txt)" % exc]
    text = _report.table(results)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
    with open(os.path.join(out, "table.txt"), "w") as f:
        f.write(text + "\n")
    print(text)
    errors = _report.all_errors(results)
    print("\nbench: %.0fs; results in %s/results.json%s; exit %d" % (
        results["duration"], out, ", curves in %s" % png if results.get("png") else "", 1 if errors else 0))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
