"""The benchmark's report: targets with a verdict, the text table, the machine and code it ran on."""

import contextlib
import hashlib
import os
import platform

from _common import HOST_PYTHON, REPO, VENV, run

TASKS_PER_HOST = 2  # issue 14: host_bridge and container_veth on a no-op run


def ratio(a, b):
    if not (a and b):
        return None
    return round(a / b, 2)


def fmt(v, unit="s"):
    if v is None:
        return "-"
    if unit == "x":
        return "%.2fx" % v
    if isinstance(v, float):
        return ("%.2f%s" % (v, unit)) if v < 10 else ("%.1f%s" % (v, unit))
    return str(v)


def _best(rec, *path):
    for key in path:
        rec = (rec or {}).get(key)
    return rec.get("best") if isinstance(rec, dict) else rec


def targets(results, target_n=100, target_n2=200, max_tasks=TASKS_PER_HOST):
    """Issue 14's targets, each with the measured value and met / MISSED / not measured."""
    by_n = dict((r["n"], r) for r in results["single"])
    fl = dict((r["hosts"], r) for r in results["fleet"])
    out = []

    def target(name, value, limit):
        out.append({"target": name, "measured": fmt(value, "x") if value is not None else "not measured",
                    "limit": limit, "met": None if value is None else value <= limit})

    r = by_n.get(target_n, {})
    ping = _best(r, "adhoc", "ping")
    target("container_veth no-op as one ansible process <= 1.15 x ansible -m ping (N=%d)" % target_n,
           ratio(_best(r, "adhoc", "noop"), ping), 1.15)
    target("container_veth cold as one ansible process <= 1.3 x ansible -m ping (N=%d)" % target_n,
           ratio(_best(r, "adhoc", "cold"), ping), 1.3)
    floor = _best(r, "floor")
    target("role no-op <= 1.5 x one-task playbook (N=%d)" % target_n, ratio(_best(r, "role_noop"), floor), 1.5)
    target("role cold <= 2 x one-task playbook (N=%d)" % target_n, ratio(_best(r, "role_cold"), floor), 2.0)
    r2 = by_n.get(target_n2, {})
    target("role no-op N=%d <= 1.1 x N=%d" % (target_n2, target_n), ratio(_best(r2, "role_noop"), _best(r, "role_noop")), 1.1)
    big = max([h for h in fl if h > 1] or [0])
    for kind in ("role_cold", "role_noop"):
        q = ratio(_best(fl.get(big), kind), _best(fl.get(1), kind)) if big else None
        target("fleet of %s hosts in one batch <= 1.5 x one host (%s)" % (big or "N", kind.replace("role_", "")), q, 1.5)
    counted = remote_counts(results)
    worst = max(c["count"] for _what, per in counted for c in per.values()) if counted else None
    out.append({"target": "a no-op run sends <= %d tasks to each host (every no-op run, counted by the callback)"
                % max_tasks, "measured": "not measured" if worst is None else "at most %d" % worst,
                "limit": max_tasks, "met": None if worst is None else worst <= max_tasks})
    return out


def remote_counts(results):
    """(label, {host: counts}) of every no-op run whose remote tasks were counted."""
    out = [("N=%d" % r["n"], r["remote_noop"]) for r in results["single"] if r.get("remote_noop")]
    out += [("fleet %d" % r["hosts"], r["remote_noop"]) for r in results["fleet"] if r.get("remote_noop")]
    return out


def _load(rec):
    if not rec:
        return "-"
    busy = rec.get("cpu_busy")
    return "%s%% / %.1f" % ("-" if busy is None else int(round(busy * 100)), rec.get("loadavg_max") or 0)


def table(results):
    m = results["machine"]
    reps = results["options"]["repeat"]
    lines = ["lanbridge.core benchmark (issue 14), one run: %s, %d cores, load average %.1f at the start, "
             "best of %d for every repeatable run" % (results["started"], m["nproc"], m["loadavg_start"][0], reps), ""]
    single = results["single"]
    mit = any(r.get("mitogen") for r in single + results["fleet"])
    if single:
        lines += ["The role over SSH on one host (playbooks/site.yml) against a one-task playbook "
                  "(tests/bench/floor.yml, ansible.builtin.ping), seconds",
                  "%5s %8s %10s %10s %11s %12s %8s %18s" % (
                      "N", "1-task", "role cold", "role no-op", "cold/1-task", "no-op/1-task", "tasks", "CPU/load (no-op)")]
        for r in single:
            floor = _best(r, "floor")
            lines.append("%5d %8s %10s %10s %11s %12s %8s %18s" % (
                r["n"], fmt(floor), fmt(_best(r, "role_cold")), fmt(_best(r, "role_noop")),
                fmt(ratio(_best(r, "role_cold"), floor), "x"), fmt(ratio(_best(r, "role_noop"), floor), "x"),
                _tasks(r.get("remote_noop")), _load(_best_load(r.get("role_noop")))))
        lines += ["  tasks = tasks that reached the host in the no-op run; CPU/load = the machine's CPU busy share "
                  "(all cores) and the highest 1-minute load average during the best no-op run"]
        if mit:
            lines += ["", "The same with the mitogen strategy (mitogen_linear), against the plain one-task playbook",
                      "%5s %14s %15s %21s" % ("N", "mitogen 1-task", "mitogen no-op", "mitogen no-op/1-task")]
            for r in single:
                if r.get("mitogen"):
                    lines.append("%5d %14s %15s %21s" % (
                        r["n"], fmt(_best(r, "mitogen", "floor")), fmt(_best(r, "mitogen", "noop")),
                        fmt(ratio(_best(r, "mitogen", "noop"), _best(r, "floor")), "x")))
        lines += ["", "container_veth as one `ansible localhost -c local` process in the host's namespace, against "
                  "`ansible -m ping` there, seconds",
                  "%5s %8s %8s %8s %10s %11s %22s" % ("N", "ping", "cold", "no-op", "cold/ping", "no-op/ping",
                                                      "module elapsed c/n-o")]
        for r in single:
            a = r.get("adhoc") or {}
            ping = _best(a, "ping")
            lines.append("%5d %8s %8s %8s %10s %11s %22s" % (
                r["n"], fmt(ping), fmt(_best(a, "cold")), fmt(_best(a, "noop")), fmt(ratio(_best(a, "cold"), ping), "x"),
                fmt(ratio(_best(a, "noop"), ping), "x"),
                "%s / %s" % (fmt((a.get("cold") or {}).get("elapsed")), fmt((a.get("noop") or {}).get("elapsed")))))
    split = [r for r in single if r.get("split")]
    if split:
        lines += ["", "Where the time goes on the host (the best run of each; task durations from the callback; "
                  "rest = Ansible's start-up, inventory and play set-up)"]
        for r in split:
            for kind, label in (("floor", "1-task"), ("role_noop", "no-op"), ("role_cold", "cold")):
                sp = r["split"][kind]
                shown = "; ".join("%s %s%s" % (t[:45], fmt(d), "" if on_host else " (controller)") for t, d, on_host in sp["tasks"])
                lines.append("  N=%-4d %-6s %7s = rest %s + tasks on the host %s + on the controller %s: %s" % (
                    r["n"], label, fmt(sp["wall"]), fmt(sp["rest_seconds"]), fmt(sp["remote_tasks_seconds"]),
                    fmt(sp["controller_tasks_seconds"]), shown))
    replays = [(r["n"], x) for r in single for x in r.get("noop_replay") or []]
    if replays:
        lines += ["", "The no-op's modules replayed on the host under cProfile (tests/bench/_profile.py; process = "
                  "python3 start-up, imports and the module; task = the same module's task in the no-op run)",
                  "%5s %-28s %7s %8s %8s %16s  %s" % (
                      "N", "module", "task", "process", "elapsed", "pyroute2 import",
                      "slowest of the collection's functions (cumulative)")]
        for n, x in replays:
            p = x.get("profile") or {}
            own = p.get("top_collection", [])[:3]
            imp = "no" if not p.get("pyroute2_imported") else "yes, %s" % fmt(p.get("pyroute2_import_seconds"))
            lines.append("%5d %-28s %7s %8s %8s %16s  %s" % (
                n, x["module"], fmt(x.get("task_seconds")), fmt(x["process_wall"]), fmt(x.get("elapsed")), imp,
                "; ".join("%s %s" % (f["func"].split("/")[-1], fmt(f["cumtime"])) for f in own) or "-"))
    if results["fleet"]:
        f0 = results["fleet"][0]
        lines += ["", "Fleet in one batch (container_lan_serial=%s, forks = max(5, hosts), %d containers per host), "
                  "seconds; every lab host shares this machine's %d cores" % (
                      f0.get("serial"), f0["containers_per_host"], m["nproc"]),
                  "%5s %5s %8s %10s %10s %10s %11s %8s %16s %16s" % (
                      "hosts", "forks", "1-task", "role cold", "role no-op", "cold vs 1", "no-op vs 1", "tasks",
                      "CPU/load cold", "CPU/load no-op")]
        base = dict((r["hosts"], r) for r in results["fleet"]).get(1, {})
        for r in results["fleet"]:
            lines.append("%5d %5s %8s %10s %10s %10s %11s %8s %16s %16s" % (
                r["hosts"], r.get("forks", "-"), fmt(_best(r, "floor")), fmt(_best(r, "role_cold")),
                fmt(_best(r, "role_noop")), fmt(ratio(_best(r, "role_cold"), _best(base, "role_cold")), "x"),
                fmt(ratio(_best(r, "role_noop"), _best(base, "role_noop")), "x"), _tasks(r.get("remote_noop")),
                _load(_best_load(r.get("role_cold"))), _load(_best_load(r.get("role_noop")))))
        if any(r.get("mitogen") for r in results["fleet"]):
            lines.append("  mitogen no-op: " + ", ".join(
                "%d host(s) %s" % (r["hosts"], fmt(_best(r, "mitogen", "noop"))) for r in results["fleet"] if r.get("mitogen")))
    ag = results.get("agent") or {}
    if ag.get("single_restart_seconds"):
        s, a = ag["single_restart_seconds"], ag["all_restarted"]
        lines += ["", "The lanbridge-attach agent (tests/bench/agent_bench.py: a booted networkd host, %d containers)"
                  % ag["containers"],
                  "  docker restart -t 1 of one container until its LAN address answers, %d times: p50 %s, p99 %s, max %s"
                  % (s["n"], fmt(s["p50"]), fmt(s["p99"]), fmt(s["max"])),
                  "  all %d restarted at once: every address answers %s after docker restart returned (docker took %s)"
                  % (ag["containers"], fmt(a["all_back_after_restart_returned_seconds"]), fmt(a["docker_restart_seconds"])),
                  "  agent peak RSS %d KiB, CPU %s during the measurement" % (
                      ag["agent"]["peak_rss_kib"], fmt(ag["agent"]["cpu_seconds_during_bench"]))]
    elif ag.get("skipped"):
        lines += ["", "The lanbridge-attach agent: not measured (%s)" % ag["skipped"]]
    mg = results.get("mitogen") or {}
    lines += ["", "mitogen: %s" % (mg.get("status") or "not tried")]
    counted = remote_counts(results)
    if counted:
        lines += ["", "Tasks that reached each host in the no-op run (callback_plugins/bench_timer.py)"]
        for what, per in counted:
            groups = {}  # hosts that got the same tasks share a line
            for host, c in sorted(per.items()):
                groups.setdefault((tuple(c["tasks"]), tuple(c["controller_tasks"])), []).append(host)
            for hosts in groups.values():
                c = per[hosts[0]]
                label = hosts[0] if len(hosts) == 1 else "%s (+%d)" % (hosts[0], len(hosts) - 1)
                lines.append("  %-9s %-11s %d: %s" % (what, label, c["count"], "; ".join(c["tasks"])))
                if c["controller_tasks"]:
                    lines.append("  %-21s controller-side, not counted (%d): %s" % (
                        "", len(c["controller_tasks"]), "; ".join(c["controller_tasks"])))
    if results.get("baselines"):
        lines += ["", baselines_table(results)]
    lines += ["", "Targets (issue 14; ratios within this run)"]
    for t in results["targets"]:
        verdict = {True: "met", False: "MISSED", None: "n/a"}[t["met"]]
        lines.append("  [%s] %s: %s" % (verdict, t["target"], t["measured"]))
    errors = all_errors(results)
    if errors:
        lines += ["", "Errors"] + ["  " + e for e in errors]
    start, end = results.get("code_start") or {}, results.get("code_end") or {}
    lines += ["", "Code: commit %s, plugins/roles/playbooks digest %s%s" % (
        m.get("commit"), start.get("sha256"),
        (", uncommitted: " + " ".join(start["uncommitted"])) if start.get("uncommitted") else ""),
        "ansible: %s; mitogen: %s; managed nodes' pyroute2: %s" % (
            m.get("ansible_core"), m.get("mitogen") or "-", m.get("host_pyroute2"))]
    if start.get("sha256") != end.get("sha256"):
        lines.append("WARNING: the collection changed on disk during the run (digest %s at the end): the rows "
                     "mix code versions" % end.get("sha256"))
    return "\n".join(lines)


def _tasks(per):
    if not per:
        return "-"
    counts = sorted({c["count"] for c in per.values()})
    return "/".join(str(c) for c in counts)


def _best_load(rec):
    return ((rec or {}).get("best_run") or {}).get("load")


def baselines_table(results):
    """Issue 6's columns (bench.py --baselines)."""
    lines = ["Baselines (issue 6): module only = container_veth's own 'elapsed' in the role's cold run",
             "%5s %12s %10s %10s %12s %11s" % ("N", "module only", "shell", "loop", "shell/module", "loop/cold")]
    for r in results["single"]:
        lines.append("%5d %12s %10s %10s %12s %11s" % (
            r["n"], fmt(r.get("module_only")), fmt(r.get("shell")), fmt(r.get("loop")),
            fmt(ratio(r.get("shell"), r.get("module_only")), "x"), fmt(ratio(r.get("loop"), _best(r, "role_cold")), "x")))
    direct = [("direct_rss", "cold"), ("direct_profile", "cold, under cProfile"),
              ("direct_profile_noop", "no-op, under cProfile"), ("direct_noprobe", "cold, conflict_check: false")]
    rows = [(r["n"], what, r[key]) for r in results["single"] for key, what in direct if r.get(key)]
    if rows:
        lines += ["The module as one process in the host namespace (/usr/bin/python3, pyroute2 of the host)",
                  "%5s %-30s %9s %9s %13s %8s" % ("N", "run", "elapsed", "process", "peak RSS", "changed")]
        for n, what, d in rows:
            lines.append("%5d %-30s %9s %9s %13s %8s" % (
                n, what, fmt(d.get("elapsed")), fmt(d.get("process_wall")),
                ("%.1f MiB" % (d["peak_rss_kib"] / 1024.0)) if d.get("peak_rss_kib") else "-", d.get("changed")))
    hb = results.get("host_bridge") or {}
    if hb.get("rollback") or hb.get("stp_four_ways"):
        lines += ["host_bridge waits (throwaway namespaces, the module run directly)",
                  "  unreachable gateway, rollback_timeout 1.5: failed and rolled back in %s"
                  % fmt((hb.get("rollback") or {}).get("wall")),
                  "  stp, forward_delay 2: check, real, repeat check, repeat real in %s"
                  % fmt((hb.get("stp_four_ways") or {}).get("wall"))]
    return "\n".join(lines)


def all_errors(results):
    parts = results["single"] + results["fleet"] + [results.get("host_bridge") or {}, results.get("agent") or {}]
    return [e for r in parts for e in r.get("errors", [])] + results.get("errors", [])


def machine():
    info = {"nproc": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version(),
            "loadavg_start": os.getloadavg()}
    with contextlib.suppress(Exception):
        info["host_pyroute2"] = run([HOST_PYTHON, "-c", "import importlib.metadata as m; print(m.version('pyroute2'))"],
                                    check=False).stdout.strip()
    with contextlib.suppress(Exception):
        info["ansible_core"] = run([os.path.join(VENV, "bin", "ansible"), "--version"]).stdout.splitlines()[0]
    with contextlib.suppress(Exception):
        info["mitogen"] = run([os.path.join(VENV, "bin", "python"), "-c",
                               "import importlib.metadata as m; print(m.version('mitogen'))"], check=False).stdout.strip()
    with contextlib.suppress(Exception):
        info["commit"] = run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]).stdout.strip()
    return info


def plugins_digest():
    """sha256 over plugins/ and roles/ as they are on disk (the run uses the working tree, not HEAD)."""
    h = hashlib.sha256()
    for top in ("plugins", "roles", "playbooks"):
        for root, dirs, files in os.walk(os.path.join(REPO, top)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".pyc"):
                    continue
                path = os.path.join(root, name)
                h.update(os.path.relpath(path, REPO).encode() + b"\0")
                with open(path, "rb") as f:
                    h.update(f.read())
    dirty = run(["git", "-C", REPO, "status", "--porcelain", "--", "plugins", "roles", "playbooks"],
                check=False).stdout.split("\n")
    return {"sha256": h.hexdigest()[:16], "uncommitted": [line[3:] for line in dirty if line.strip()]}
