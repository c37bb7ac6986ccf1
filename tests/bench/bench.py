"""The lanbridge.core benchmark (issue 6): converge time against containers and hosts.

    make bench                                   (= bash tests/bench/run.sh)
    .venv/bin/python tests/bench/bench.py [--sizes 10,50,100,200] [--fleet 1,4,8]
        [--fleet-containers 20] [--loop-sizes 10,100] [--rss-n 200] [--profile-n 50] [--out DIR]

Everything runs in lab namespaces (tests/lab/lab.py, prefixes ``bn`` and ``bf``, state under
tests/output/bench/): nothing is changed in the root network namespace. Ansible itself runs in
the root namespace as the controller and reaches the lab hosts over SSH through the lab's
controller namespace, exactly like the molecule scenarios.

Per N (containers on one host) one fresh lab with three hosts and N containers each:
  h1  role cold + role no-op (site.yml), then (N = --rss-n / --profile-n) the module run
      directly in the host's namespace for peak RSS / a cProfile, after deleting the pairs;
  h2  shell baseline: the seed's ip commands per container in a bash loop;
  h3  loop baseline (N in --loop-sizes): tests/bench/loop.yml (the role, then one container_veth
      task per item).
Fleet: for H in --fleet, a fresh lab with H hosts x --fleet-containers containers, site.yml
cold and no-op with default forks (and site.yml's default serial).
host_bridge waits: in throwaway namespaces (tests/integration/helpers.py, host_bridge_lan.py),
the rollback after rollback_timeout and STP's forward delay, timed (the integration tests only
check what happens, not how long it takes).

Writes tests/output/bench/results.json and table.txt and prints the table. Exit status 1 when a
measurement failed or a no-op run reported changes; the time targets only get a verdict.
"""

import argparse
import contextlib
import functools
import hashlib
import io
import json
import os
import platform
import pstats
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import yaml  # the venv's (ansible's) PyYAML

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "lab"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import helpers  # noqa: E402  (tests/integration/helpers.py)
import host_bridge_lan  # noqa: E402  (tests/integration/host_bridge_lan.py)
import lab  # noqa: E402  (tests/lab/lab.py)

VENV = os.path.join(REPO, ".venv")
COLLECTIONS = os.path.join(REPO, ".build", "collections")
SITE = os.path.join(REPO, "playbooks", "site.yml")
LOOP = os.path.join(HERE, "loop.yml")
FLOOR = os.path.join(HERE, "floor.yml")
MODULE = "ansible_collections.lanbridge.core.plugins.modules.container_veth"
HOST_PYTHON = "/usr/bin/python3"  # the managed nodes' interpreter (inventory)
BRIDGE = "br0"
# Bench containers of the N-per-host part use the lab's second range, 203.0.113.1..N/24 (gateway
# .254): 200 addresses do not fit beside the lab's own in 198.51.100.0/24. The three hosts take
# their turn with the same addresses: each host's attachments are deleted before the next host
# attaches (container_veth probes every new address, so two live owners would be a conflict).
BENCH_NET = "203.0.113.0/24"
FLEET_FIRST = 20  # fleet containers: 198.51.100.20 upwards, on the lab LAN with the lab gateway

T0 = time.monotonic()


def log(msg):
    print("[bench %6.1fs] %s" % (time.monotonic() - T0, msg), file=sys.stderr, flush=True)


class BenchError(RuntimeError):
    pass


def run(cmd, check=True, timeout=1800, env=None, input=None):
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                         env=env, input=input, check=False)
    if check and res.returncode != 0:
        raise BenchError("failed (%d): %s: %s" % (res.returncode, " ".join(map(str, cmd)),
                                                  (res.stderr or res.stdout).strip()[-2000:]))
    return res


# --------------------------------------------------------------------------- lab and containers

def lab_up(out, name, prefix, hosts, containers=0):
    state_dir = os.path.join(out, name)
    if lab.load_state(state_dir) is not None:
        lab.down(state_dir)
    t = time.monotonic()
    state = lab.up(state_dir, prefix, hosts, containers)
    log("lab %s up: %d host(s) x %d container(s) in %.1fs" % (prefix, hosts, containers, time.monotonic() - t))
    return state


def start_containers(state, hosts, n, workers=4):
    """Start containers c001..cNNN on each host (lab image and command); return {host: {name: pid}}."""
    names = ["c%03d" % j for j in range(1, n + 1)]
    t = time.monotonic()

    def one(host, name):
        lab.docker(state, host, "run", "-d", "--name", name, "--hostname", name, "--restart", "no",
                   "--network", "bridge", lab.IMAGE, "sh", "-c", lab.APP_CMD, timeout=300)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for fut in [pool.submit(one, h, c) for c in names for h in hosts]:
            fut.result()
    pids = {}
    for host in hosts:
        out = lab.docker(state, host, "inspect", "-f", "{{.Name}} {{.State.Pid}}", *names).stdout
        pids[host] = dict((line.split()[0].lstrip("/"), int(line.split()[1])) for line in out.splitlines())
    log("started %d containers on each of %s in %.1fs" % (n, ", ".join(hosts), time.monotonic() - t))
    return names, pids


def bridge_ports(host):
    res = lab.ip(host, "-o", "link", "show", "master", BRIDGE, check=False)
    return [line.split(":")[1].strip().split("@")[0] for line in res.stdout.splitlines() if ":" in line]


def spot_check(host, pid, address, gateway):
    """One container's eth1 has the address and its default route is via the gateway on eth1."""
    net = "--net=/proc/%d/ns/net" % pid
    addr = run(["ip", "netns", "exec", host, "nsenter", net, "ip", "-4", "-o", "addr", "show", "dev", "eth1"],
               check=False).stdout
    route = run(["ip", "netns", "exec", host, "nsenter", net, "ip", "-4", "route", "show", "default"],
                check=False).stdout
    ok = address in addr and ("via %s dev eth1" % gateway) in route and route.count("default") == 1
    return ok, (addr.strip() + " | " + route.strip())


def delete_attachments(host):
    """Delete every veth on the bridge of ``host`` (the container ends go with them)."""
    ports = [p for p in bridge_ports(host) if p != lab.UPLINK]
    if ports:
        lab.ns_exec(host, "ip", "-batch", "-", input="".join("link del %s\n" % p for p in ports), timeout=300)
    return len(ports)


# --------------------------------------------------------------------------- ansible

def ansible_env(out, tag):
    env = dict(os.environ)
    env.update({
        "PATH": os.path.join(VENV, "bin") + os.pathsep + env.get("PATH", ""),
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
        "ANSIBLE_CALLBACK_PLUGINS": os.path.join(HERE, "callback_plugins"),
        "ANSIBLE_CALLBACKS_ENABLED": "bench_timer",
        "ANSIBLE_HOST_KEY_CHECKING": "false",
        "ANSIBLE_RETRY_FILES_ENABLED": "false",
        "ANSIBLE_NOCOLOR": "1",
        "BENCH_CALLBACK_OUT": os.path.join(out, tag + ".jsonl"),
    })
    for key in ("ANSIBLE_FORKS", "ANSIBLE_PIPELINING", "ANSIBLE_STRATEGY", "ANSIBLE_CONFIG"):
        env.pop(key, None)  # defaults, as a user gets them
    return env


def write_inventory(state, out, tag, hostvars):
    """The lab's inventory (connection vars) with only ``hostvars``' hosts and their extra vars."""
    with open(state["inventory"]) as f:
        inv = yaml.safe_load(f)
    group = inv["container_lan"]
    group["hosts"] = dict((h, dict(group["hosts"][h], **hostvars[h])) for h in hostvars)
    group["vars"].update({"container_lan_uplink": lab.UPLINK, "container_lan_bridge": BRIDGE})
    path = os.path.join(out, tag + ".inventory.yml")
    with open(path, "w") as f:
        yaml.safe_dump(inv, f, default_flow_style=False, sort_keys=False)
    return path


def playbook(out, tag, play, inventory, extra=()):
    """Run ansible-playbook; return wall time, rc, per-task records and the recap."""
    env = ansible_env(out, tag)
    with contextlib.suppress(FileNotFoundError):
        os.remove(env["BENCH_CALLBACK_OUT"])
    cmd = [os.path.join(VENV, "bin", "ansible-playbook"), "-i", inventory, play, *extra]
    t = time.monotonic()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=3600, check=False)
    wall = time.monotonic() - t
    with open(os.path.join(out, tag + ".log"), "w") as f:
        f.write("$ %s\n%s\n%s" % (" ".join(cmd), res.stdout, res.stderr))
    records, recap = [], {}
    with contextlib.suppress(FileNotFoundError), open(env["BENCH_CALLBACK_OUT"]) as f:
        for line in f:
            rec = json.loads(line)
            if rec["kind"] == "recap":
                recap = rec["recap"]
            else:
                records.append(rec)
    changed = sum(r.get("changed", 0) for r in recap.values())
    failed = [r for r in records if r["status"] in ("failed", "unreachable")]
    log("%s: rc %d, %.2fs, changed %d%s" % (tag, res.returncode, wall, changed,
                                            (", FAILED: " + failed[0]["task"] + ": " + failed[0].get("msg", "")[:300])
                                            if failed else ""))
    if failed:
        error = failed[0]["task"] + ": " + failed[0].get("msg", "")
    else:
        error = None if res.returncode == 0 else "rc %d, see %s" % (res.returncode, tag + ".log")
    return {"wall": round(wall, 3), "rc": res.returncode, "changed": changed, "recap": recap,
            "records": records, "log": os.path.join(out, tag + ".log"), "error": error}


def veth_record(result, host=None):
    """The container_veth task record(s) of a playbook run."""
    return [r for r in result["records"] if r["action"].endswith("container_veth") and r["status"] != "skipped"
            and (host is None or r["host"] == host)]


def slowest_tasks(result, k=6):
    agg = {}
    for r in result["records"]:
        if r.get("duration") is not None:
            agg[r["task"]] = max(agg.get(r["task"], 0), r["duration"])
    return [[t, round(d, 3)] for t, d in sorted(agg.items(), key=lambda kv: -kv[1])[:k]]


# --------------------------------------------------------------------------- measurements

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
    ports = len([p for p in bridge_ports(host) if p != lab.UPLINK])
    ok, seen = spot_check(host, pids[names[-1]], addresses[names[-1]].split("/")[0], gateway)
    error = None
    if res.returncode != 0:
        error = "shell loop failed (%d): %s" % (res.returncode, res.stderr.strip()[-500:])
    elif ports != len(names) or not ok:
        error = "shell loop: %d ports on %s (want %d); spot check: %s" % (ports, BRIDGE, len(names), seen)
    log("shell baseline on %s: %d containers in %.2fs%s" % (host, len(names), wall, ", " + error if error else ""))
    return {"wall": round(wall, 3), "error": error}


def _host_pythonpath(out):
    """PYTHONPATH for the managed nodes' python3 to import the module directly: ansible-core's
    package from the venv (only it, so the system's pyroute2 stays the one in use) + the collection."""
    shim = os.path.join(out, "pypath")
    os.makedirs(shim, exist_ok=True)
    link = os.path.join(shim, "ansible")
    if not os.path.islink(link):
        target = run([os.path.join(VENV, "bin", "python"), "-c",
                      "import ansible, os; print(os.path.dirname(ansible.__file__))"]).stdout.strip()
        os.symlink(target, link)
    return shim + os.pathsep + COLLECTIONS


def direct_module_run(out, host, interfaces, tag, profile=False):
    """Run container_veth as one process inside ``host``'s namespace under /usr/bin/time -v."""
    args = os.path.join(out, tag + ".args.json")
    with open(args, "w") as f:
        json.dump({"ANSIBLE_MODULE_ARGS": {"interfaces": interfaces}}, f)
    prof = os.path.join(out, tag + ".prof")
    py = [HOST_PYTHON] + (["-m", "cProfile", "-o", prof] if profile else []) + ["-m", MODULE, args]
    cmd = ["ip", "netns", "exec", host, "env", "PYTHONPATH=" + _host_pythonpath(out),
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


def profile_summary(prof, text_path, k=25):
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    st.sort_stats("cumulative").print_stats(k)
    st.sort_stats("tottime").print_stats(k)
    with open(text_path, "w") as f:
        f.write(buf.getvalue())
    top = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in sorted(st.stats.items(), key=lambda kv: -kv[1][3]):
        if "cProfile" in file or func.startswith("<"):
            continue
        top.append({"func": "%s:%d(%s)" % (os.path.relpath(file, REPO) if file.startswith(REPO) else file, line, func),
                    "calls": nc, "tottime": round(tt, 4), "cumtime": round(ct, 4)})
        if len(top) >= 15:
            break
    return {"text": text_path, "top_cumulative": top}


def single_host(args, out, n):
    """Role cold / no-op, module only, shell and loop baselines for N containers on one host."""
    hosts = ["bn-h1", "bn-h2", "bn-h3"]
    do_loop = n in args.loop_sizes
    used = hosts if do_loop else hosts[:2]
    rec = {"n": n}
    state = lab_up(out, "lab-n%d" % n, "bn", 3, 0)
    try:
        t = time.monotonic()
        names, pids = start_containers(state, used, n)
        rec["containers_start"] = round(time.monotonic() - t, 1)

        def addrs(_host_index):
            return dict((c, "203.0.113.%d/24" % j) for j, c in enumerate(names, start=1))

        def gateway(_host_index):
            return "203.0.113.254"

        def entries(host, i):
            docker_host = state["hosts"][host]["docker_host"]
            a = addrs(i)
            return [{"container": c, "addresses": [a[c]], "gateway": gateway(i), "docker_host": docker_host,
                     "runtime": "docker", "bridge": BRIDGE} for c in names]

        common = {"container_lan_allowed_networks": [BENCH_NET], "container_lan_runtime": "docker"}
        # h1: the role, cold then no-op
        inv = write_inventory(state, out, "n%d-role" % n, {"bn-h1": dict(common, container_lan_interfaces=[
            {"container": e["container"], "addresses": e["addresses"], "gateway": e["gateway"]}
            for e in entries("bn-h1", 1)])})
        floor = playbook(out, "n%d-floor" % n, FLOOR, inv)
        rec["ansible_floor"] = floor["wall"]
        cold = playbook(out, "n%d-role-cold" % n, SITE, inv)
        vr = veth_record(cold)
        rec["role_cold"] = cold["wall"]
        rec["module_only"] = vr[0].get("elapsed") if vr else None
        rec["module_task"] = vr[0].get("duration") if vr else None
        rec["role_cold_slowest_tasks"] = slowest_tasks(cold)
        errors = []
        if cold["error"]:
            errors.append("role cold: " + cold["error"])
        else:
            ports = len([p for p in bridge_ports("bn-h1") if p != lab.UPLINK])
            ok, seen = spot_check("bn-h1", pids["bn-h1"][names[-1]], addrs(1)[names[-1]].split("/")[0], gateway(1))
            if ports != n or not ok:
                errors.append("role cold: %d ports on %s (want %d); spot check: %s" % (ports, BRIDGE, n, seen))
        noop = playbook(out, "n%d-role-noop" % n, SITE, inv)
        vr = veth_record(noop)
        rec["role_noop"] = noop["wall"]
        rec["role_noop_changed"] = noop["changed"]
        rec["module_only_noop"] = vr[0].get("elapsed") if vr else None
        rec["role_noop_slowest_tasks"] = slowest_tasks(noop)
        if noop["error"]:
            errors.append("role no-op: " + noop["error"])
        elif noop["changed"] != 0:
            changed = sorted({r["task"] for r in noop["records"] if r.get("changed")})
            errors.append("role no-op reported %d change(s): %s" % (noop["changed"], ", ".join(changed)))
        delete_attachments("bn-h1")  # the next host takes the same addresses
        # h2: the shell baseline
        sh = shell_baseline(state, out, "bn-h2", names, pids["bn-h2"], addrs(2), gateway(2))
        rec["shell"] = sh["wall"]
        if sh["error"]:
            errors.append(sh["error"])
        delete_attachments("bn-h2")
        # h3: the loop baseline
        if do_loop:
            inv3 = write_inventory(state, out, "n%d-loop" % n, {"bn-h3": dict(
                common, bench_loop_interfaces=entries("bn-h3", 3))})
            lp = playbook(out, "n%d-loop" % n, LOOP, inv3)
            rec["loop"] = lp["wall"]
            lr = veth_record(lp)
            rec["loop_module_sum"] = lr[0].get("items_elapsed") if lr else None
            if lp["error"]:
                errors.append("loop: " + lp["error"])
            delete_attachments("bn-h3")
        # h1 again, with the pairs deleted: the module as one process (peak RSS; a profile)
        if cold["error"] is None and n in (args.rss_n, args.profile_n):
            for tag, profile in (("rss", False), ("profile", True)):
                if (args.rss_n if tag == "rss" else args.profile_n) != n:
                    continue
                deleted = delete_attachments("bn-h1")
                d = direct_module_run(out, "bn-h1", entries("bn-h1", 1), "n%d-direct-%s" % (n, tag), profile=profile)
                d["deleted_first"] = deleted
                rec["direct_" + tag] = d
                if d["error"] or d["changed"] != n:
                    errors.append("direct module run (%s): %s changed %d of %d" % (tag, d["error"], d["changed"], n))
                if profile:  # and the no-op run right after it, profiled too
                    d = direct_module_run(out, "bn-h1", entries("bn-h1", 1), "n%d-direct-profile-noop" % n, profile=True)
                    rec["direct_profile_noop"] = d
                    if d["error"] or d["changed"]:
                        errors.append("direct module no-op run: %s changed %d" % (d["error"], d["changed"]))
                    # what the module costs without the RFC 5227 probes (conflict_check: false)
                    delete_attachments("bn-h1")
                    quiet = [dict(e, conflict_check=False) for e in entries("bn-h1", 1)]
                    d = direct_module_run(out, "bn-h1", quiet, "n%d-direct-noprobe" % n)
                    rec["direct_noprobe"] = d
                    if d["error"] or d["changed"] != n:
                        errors.append("direct module run without probes: %s changed %d" % (d["error"], d["changed"]))
        rec["errors"] = errors
        return rec
    finally:
        t = time.monotonic()
        lab.down(state["state_dir"])
        log("lab bn down in %.1fs" % (time.monotonic() - t))


def fleet(args, out, nhosts):
    m = args.fleet_containers
    state = lab_up(out, "lab-fleet%d" % nhosts, "bf", nhosts, m)
    rec = {"hosts": nhosts, "containers_per_host": m}
    try:
        hostvars = {}
        for i, host in enumerate(state["hosts"], start=1):
            first = FLEET_FIRST + (i - 1) * m
            hostvars[host] = {"container_lan_runtime": "docker", "container_lan_interfaces": [
                {"container": c, "addresses": ["198.51.100.%d/24" % (first + j)]}
                for j, c in enumerate(state["hosts"][host]["containers"])]}
        inv = write_inventory(state, out, "fleet%d" % nhosts, hostvars)
        extra = ["-e", "container_lan_serial=%s" % args.fleet_serial] if args.fleet_serial else []
        rec["serial"] = args.fleet_serial or "site.yml default (25%)"
        cold = playbook(out, "fleet%d-cold" % nhosts, SITE, inv, extra)
        noop = playbook(out, "fleet%d-noop" % nhosts, SITE, inv, extra)
        rec.update({"role_cold": cold["wall"], "role_noop": noop["wall"], "role_noop_changed": noop["changed"],
                    "module_only_max": max([r.get("elapsed") or 0 for r in veth_record(cold)] or [0]),
                    "role_cold_slowest_tasks": slowest_tasks(cold)})
        errors = []
        if cold["error"]:
            errors.append("fleet %d cold: %s" % (nhosts, cold["error"]))
        if noop["error"]:
            errors.append("fleet %d no-op: %s" % (nhosts, noop["error"]))
        elif noop["changed"]:
            errors.append("fleet %d no-op reported %d change(s)" % (nhosts, noop["changed"]))
        if not cold["error"]:
            attached = sum(len([p for p in bridge_ports(h) if p != lab.UPLINK]) for h in state["hosts"])
            if attached != nhosts * m:
                errors.append("fleet %d: %d attachments, want %d" % (nhosts, attached, nhosts * m))
        rec["errors"] = errors
        return rec
    finally:
        lab.down(state["state_dir"])


# --------------------------------------------------------------------------- report

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


def ratio(a, b):
    if not (a and b):
        return None
    q = a / b
    return round(q, 1) if q >= 1 else round(q, 3)


def fmt(v, unit="s"):
    if v is None:
        return "-"
    if isinstance(v, float) and v < 1 and unit == "x":
        return "%.3f%s" % (v, unit)
    if isinstance(v, float):
        return ("%.3f%s" % (v, unit)) if v < 10 else ("%.1f%s" % (v, unit))
    return str(v)


def targets(results):
    by_n = dict((r["n"], r) for r in results["single"])
    fl = dict((r["hosts"], r) for r in results["fleet"])
    out = []

    def target(name, value, ok):
        out.append({"target": name, "measured": value, "met": ok})

    r = by_n.get(100)
    if r:
        mo, sh, cold, noop, lp = (r.get("module_only"), r.get("shell"), r.get("role_cold"), r.get("role_noop"),
                                  r.get("loop"))
        target("module only, N=100 <= 0.5 s", fmt(mo), mo is not None and mo <= 0.5)
        target("shell / module only, N=100 >= 10", ratio(sh, mo), bool(ratio(sh, mo)) and ratio(sh, mo) >= 10)
        target("role cold, N=100 <= 10 s", fmt(cold), cold is not None and cold <= 10 and not r["errors"])
        target("role no-op, N=100 <= 5 s (and 0 changes)", "%s, %s changed" % (fmt(noop), r.get("role_noop_changed")),
               noop is not None and noop <= 5 and r.get("role_noop_changed") == 0)
        target("loop / role cold, N=100 >= 5", ratio(lp, cold), bool(ratio(lp, cold)) and ratio(lp, cold) >= 5)
    if 1 in fl and 8 in fl:
        for kind in ("role_cold", "role_noop"):
            q = ratio(fl[8].get(kind), fl[1].get(kind))
            target("fleet %s: 8 hosts <= 2 x 1 host" % kind.replace("role_", ""), q, bool(q) and q <= 2)
    hb = results.get("host_bridge") or {}
    wall = (hb.get("rollback") or {}).get("wall")
    target("host_bridge gives up after rollback_timeout 1.5 s: 1.5 s <= run < 6 s", fmt(wall),
           wall is not None and 1.5 <= wall < 6)
    wall = (hb.get("stp_four_ways") or {}).get("wall")
    target("host_bridge stp, forward_delay 2, four ways < 20 s", fmt(wall), wall is not None and wall < 20)
    return out


def table(results):
    header = ("N", "role cold", "role no-op", "module only", "shell", "loop", "shell/module", "loop/cold", "1-task")
    lines = ["Containers on one host (wall seconds; module only = container_veth's own 'elapsed')",
             "%5s %10s %10s %12s %10s %10s %12s %11s %9s" % header]
    for r in results["single"]:
        lines.append("%5d %10s %10s %12s %10s %10s %12s %11s %9s" % (
            r["n"], fmt(r.get("role_cold")), fmt(r.get("role_noop")), fmt(r.get("module_only")), fmt(r.get("shell")),
            fmt(r.get("loop")), fmt(ratio(r.get("shell"), r.get("module_only")), "x"),
            fmt(ratio(r.get("loop"), r.get("role_cold")), "x"), fmt(r.get("ansible_floor"))))
    if results["fleet"]:
        lines += ["", "Fleet (%d containers per host, default forks, serial: %s)"
                  % (results["fleet"][0]["containers_per_host"], results["fleet"][0].get("serial", "site.yml default")),
                  "%5s %10s %10s %12s" % ("hosts", "role cold", "role no-op", "vs 1 host")]
        base = dict((r["hosts"], r) for r in results["fleet"]).get(1, {})
        for r in results["fleet"]:
            lines.append("%5d %10s %10s %12s" % (r["hosts"], fmt(r.get("role_cold")), fmt(r.get("role_noop")),
                                                 fmt(ratio(r.get("role_cold"), base.get("role_cold")), "x")))
    direct = [("direct_rss", "cold"), ("direct_profile", "cold, under cProfile"),
              ("direct_profile_noop", "no-op, under cProfile"), ("direct_noprobe", "cold, conflict_check: false")]
    rows = [(r["n"], what, r[key]) for r in results["single"] for key, what in direct if r.get(key)]
    if rows:
        lines += ["", "The module as one process in the host namespace (/usr/bin/python3, pyroute2 of the host)",
                  "%5s %-30s %9s %9s %13s %8s" % ("N", "run", "elapsed", "process", "peak RSS", "changed")]
        for n, what, d in rows:
            lines.append("%5d %-30s %9s %9s %13s %8s" % (
                n, what, fmt(d.get("elapsed")), fmt(d.get("process_wall")),
                ("%.1f MiB" % (d["peak_rss_kib"] / 1024.0)) if d.get("peak_rss_kib") else "-", d.get("changed")))
    hb = results.get("host_bridge") or {}
    if hb.get("rollback") or hb.get("stp_four_ways"):
        lines += ["", "host_bridge waits (throwaway namespaces, the module run directly)",
                  "  unreachable gateway, rollback_timeout 1.5: failed and rolled back in %s"
                  % fmt((hb.get("rollback") or {}).get("wall")),
                  "  stp, forward_delay 2: check, real, repeat check, repeat real in %s"
                  % fmt((hb.get("stp_four_ways") or {}).get("wall"))]
    lines += ["", "1-task = ansible-playbook with one ansible.builtin.ping task on the same host (Ansible's floor)",
              "", "Targets"]
    for t in results["targets"]:
        lines.append("  [%s] %s: %s" % ("met" if t["met"] else "MISSED", t["target"], t["measured"]))
    errors = [e for r in results["single"] + results["fleet"] + [results.get("host_bridge") or {}]
              for e in r.get("errors", [])]
    if errors:
        lines += ["", "Errors"] + ["  " + e for e in errors]
    start, end = results.get("code_start") or {}, results.get("code_end") or {}
    lines += ["", "Code: commit %s, plugins/roles/playbooks digest %s%s" % (
        results["machine"].get("commit"), start.get("sha256"),
        (", uncommitted: " + " ".join(start["uncommitted"])) if start.get("uncommitted") else "")]
    if start.get("sha256") != end.get("sha256"):
        lines.append("WARNING: the collection changed on disk during the run (digest %s at the end): the rows "
                     "mix code versions" % end.get("sha256"))
    return "\n".join(lines)


def machine():
    info = {"nproc": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version(),
            "loadavg_start": os.getloadavg()}
    with contextlib.suppress(Exception):
        info["host_pyroute2"] = run([HOST_PYTHON, "-c", "import pyroute2, importlib.metadata as m; "
                                     "print(m.version('pyroute2'))"], check=False).stdout.strip()
    with contextlib.suppress(Exception):
        info["ansible_core"] = run([os.path.join(VENV, "bin", "ansible"), "--version"]).stdout.splitlines()[0]
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


def csv_ints(text):
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    ap.add_argument("--sizes", type=csv_ints, default=[10, 50, 100, 200])
    ap.add_argument("--fleet", type=csv_ints, default=[1, 4, 8])
    ap.add_argument("--fleet-containers", type=int, default=20)
    ap.add_argument("--loop-sizes", type=csv_ints, default=[10, 100],
                    help="the N that get the loop baseline (about 3 s per item here: N=200 alone takes ~10 min)")
    ap.add_argument("--rss-n", type=int, default=200, help="N whose lab gets the direct module run for peak RSS")
    ap.add_argument("--profile-n", type=int, default=50, help="N whose lab gets a cProfile'd direct module run")
    ap.add_argument("--fleet-serial", default="",
                    help="container_lan_serial for the fleet runs (default: site.yml's own default, 25%%)")
    ap.add_argument("--out", default=os.path.join(REPO, "tests", "output", "bench"))
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("bench: run as root (the lab creates network namespaces)", file=sys.stderr)
        return 2
    if max(args.sizes or [0]) > 253 or args.fleet_containers * max(args.fleet or [0]) > 180:
        print("bench: at most 253 containers per host, and fleet hosts x containers <= 180 (198.51.100.20-199)",
              file=sys.stderr)
        return 2
    out = os.path.abspath(args.out)
    os.makedirs(out, exist_ok=True)
    for stale in os.listdir(out):
        if stale.endswith((".jsonl", ".log", ".args.json", ".prof", ".profile.txt", ".list", ".inventory.yml")):
            os.remove(os.path.join(out, stale))
    shutil.rmtree(os.path.join(out, "pypath"), ignore_errors=True)
    results = {"machine": machine(), "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "single": [], "fleet": [],
               "addressing": {
                   "single": "203.0.113.<1..N>/24 on each host in turn, gateway 203.0.113.254 (allowed network %s)"
                             % BENCH_NET,
                   "fleet": "198.51.100.%d.. /24 on the lab LAN, gateway 198.51.100.254" % FLEET_FIRST}}
    results["code_start"] = plugins_digest()
    for n in args.sizes:
        try:
            results["single"].append(single_host(args, out, n))
        except Exception as exc:  # record and go on with the next size
            log("N=%d failed: %s" % (n, exc))
            results["single"].append({"n": n, "errors": ["N=%d: %s" % (n, exc)]})
    for h in args.fleet:
        try:
            results["fleet"].append(fleet(args, out, h))
        except Exception as exc:
            log("fleet %d failed: %s" % (h, exc))
            results["fleet"].append({"hosts": h, "containers_per_host": args.fleet_containers,
                                     "errors": ["fleet %d: %s" % (h, exc)]})
    try:
        results["host_bridge"] = host_bridge_waits()
    except Exception as exc:
        log("host_bridge waits failed: %s" % exc)
        results["host_bridge"] = {"errors": ["host_bridge waits: %s" % exc]}
    results["code_end"] = plugins_digest()
    results["targets"] = targets(results)
    results["duration"] = round(time.monotonic() - T0, 1)
    results["machine"]["loadavg_end"] = os.getloadavg()
    text = table(results)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump(results, f, indent=2, sort_keys=True)
    with open(os.path.join(out, "table.txt"), "w") as f:
        f.write(text + "\n")
    print(text)
    print("\nbench: %.0fs; results in %s/results.json" % (results["duration"], out))
    errors = [e for r in results["single"] + results["fleet"] + [results["host_bridge"]] for e in r.get("errors", [])]
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
