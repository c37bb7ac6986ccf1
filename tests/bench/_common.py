"""What every part of the benchmark shares: paths, processes, the lab, and running Ansible.

Ansible runs in two ways here:
  ``playbook``  ansible-playbook from the root namespace (the controller), reaching the lab hosts
                over SSH through the lab's controller namespace, as in molecule;
  ``adhoc``     one ``ansible`` process inside a lab host's network namespace with
                ``-c local`` (the module and its ping floor without SSH).
Both record every task (and every remote execution) through callback_plugins/bench_timer.py.
"""

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import yaml  # the venv's (ansible's) PyYAML

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "tests", "lab"))
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
# .254): 200 addresses do not fit beside the lab's own in 198.51.100.0/24.
BENCH_NET = "203.0.113.0/24"
BENCH_GATEWAY = "203.0.113.254"
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


# --------------------------------------------------------------------------- machine load

def _cpu_times():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields), idle


class Load:
    """The machine's load while a command runs: CPU busy share (all cores, /proc/stat) and the
    1-minute load average (at the start, the end, and the highest seen, sampled every second)."""

    def __init__(self):
        self._stop = threading.Event()
        self.loadavg_max = 0.0

    def _sample(self):
        while not self._stop.wait(1.0):
            self.loadavg_max = max(self.loadavg_max, os.getloadavg()[0])

    def __enter__(self):
        self.loadavg_start = os.getloadavg()[0]
        self.loadavg_max = self.loadavg_start
        self._cpu = _cpu_times()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        total, idle = _cpu_times()
        dt, di = total - self._cpu[0], idle - self._cpu[1]
        self.cpu_busy = round(1.0 - di / dt, 3) if dt > 0 else None
        self.loadavg_end = os.getloadavg()[0]
        self.loadavg_max = max(self.loadavg_max, self.loadavg_end)

    def record(self):
        return {"cpu_busy": self.cpu_busy, "loadavg_start": round(self.loadavg_start, 2),
                "loadavg_end": round(self.loadavg_end, 2), "loadavg_max": round(self.loadavg_max, 2)}


# --------------------------------------------------------------------------- lab and containers

def lab_up(out, name, prefix, hosts, containers=0):
    state_dir = os.path.join(out, name)
    if lab.load_state(state_dir) is not None:
        lab.down(state_dir)
    t = time.monotonic()
    state = lab.up(state_dir, prefix, hosts, containers)
    log("lab %s up: %d host(s) x %d container(s) in %.1fs" % (prefix, hosts, containers, time.monotonic() - t))
    return state


def lab_down(state):
    t = time.monotonic()
    lab.down(state["state_dir"])
    log("lab %s down in %.1fs" % (state["prefix"], time.monotonic() - t))


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


def attachments(host):
    return len([p for p in bridge_ports(host) if p != lab.UPLINK])


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

def mitogen_strategy_dir():
    """The mitogen strategy plugins of the venv's ansible_mitogen, or None when it is not installed."""
    res = run([os.path.join(VENV, "bin", "python"), "-c",
               "import ansible_mitogen, os; print(os.path.dirname(ansible_mitogen.__file__))"], check=False)
    path = os.path.join(res.stdout.strip(), "plugins", "strategy")
    return path if res.returncode == 0 and os.path.isdir(path) else None


def ansible_env(out, tag, mitogen=None, adhoc=False):
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
    for key in ("ANSIBLE_FORKS", "ANSIBLE_PIPELINING", "ANSIBLE_STRATEGY", "ANSIBLE_STRATEGY_PLUGINS", "ANSIBLE_CONFIG"):
        env.pop(key, None)  # defaults, as a user gets them
    if adhoc:
        env["ANSIBLE_LOAD_CALLBACK_PLUGINS"] = "1"  # the ansible command loads callbacks only when asked
    if mitogen:
        env.update({"ANSIBLE_STRATEGY_PLUGINS": mitogen, "ANSIBLE_STRATEGY": "mitogen_linear",
                    "ANSIBLE_DEPRECATION_WARNINGS": "false"})
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


def read_records(path):
    """The callback's lines: (task records, remote-execution records, recap)."""
    tasks, remote, recap = [], [], {}
    with contextlib.suppress(FileNotFoundError), open(path) as f:
        for line in f:
            rec = json.loads(line)
            if rec["kind"] == "recap":
                recap = rec["recap"]
            elif rec["kind"] == "remote":
                remote.append(rec)
            else:
                tasks.append(rec)
    return tasks, remote, recap


def _finish(tag, cmd, res, wall, env, out, load):
    with open(os.path.join(out, tag + ".log"), "w") as f:
        f.write("$ %s\n%s\n%s" % (" ".join(cmd), res.stdout, res.stderr))
    records, remote, recap = read_records(env["BENCH_CALLBACK_OUT"])
    changed = sum(r.get("changed", 0) for r in recap.values()) if recap else sum(1 for r in records if r["changed"])
    unrescued = sum(r.get("failures", 0) + r.get("unreachable", 0) for r in recap.values())
    failed = [r for r in records if r["status"] in ("failed", "unreachable")]
    error = None
    if res.returncode != 0 or unrescued:
        first = failed[-1] if failed else None
        error = ("%s: %s" % (first["task"], first.get("msg", ""))) if first else "rc %d, see %s.log" % (res.returncode, tag)
    rec = {"wall": round(wall, 3), "rc": res.returncode, "changed": changed, "recap": recap, "records": records,
           "remote": remote, "log": os.path.join(out, tag + ".log"), "error": error, "load": load.record(),
           "rescued": [r["task"] for r in failed] if not error else []}
    log("%s: rc %d, %.2fs, changed %d, cpu busy %s, load %.1f%s" % (
        tag, res.returncode, wall, changed, load.cpu_busy, load.loadavg_end, (", FAILED: " + error[:300]) if error else ""))
    return rec


def playbook(out, tag, play, inventory, extra=(), forks=None, mitogen=None):
    """Run ansible-playbook from the controller; return wall time, rc, per-task records and the recap."""
    env = ansible_env(out, tag, mitogen=mitogen)
    with contextlib.suppress(FileNotFoundError):
        os.remove(env["BENCH_CALLBACK_OUT"])
    cmd = [os.path.join(VENV, "bin", "ansible-playbook"), "-i", inventory, play, *extra]
    if forks:
        cmd += ["--forks", str(forks)]
    with Load() as load:
        t = time.monotonic()
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=3600, check=False)
        wall = time.monotonic() - t
    return _finish(tag, cmd, res, wall, env, out, load)


def adhoc(out, tag, netns, module, args=None):
    """One ``ansible localhost -c local -m MODULE`` process inside the lab namespace ``netns``,
    with the managed nodes' interpreter (so the module imports the host's pyroute2) and
    pipelining, as the lab inventory (and the README) has it for SSH."""
    env = ansible_env(out, tag, adhoc=True)
    with contextlib.suppress(FileNotFoundError):
        os.remove(env["BENCH_CALLBACK_OUT"])
    cmd = ["ip", "netns", "exec", netns, os.path.join(VENV, "bin", "ansible"), "localhost", "-i", "localhost,",
           "-c", "local", "-e", "ansible_python_interpreter=" + HOST_PYTHON, "-e", "ansible_pipelining=true", "-m", module]
    if args is not None:
        cmd += ["-a", json.dumps(args)]
    with Load() as load:
        t = time.monotonic()
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, timeout=1800, check=False)
        wall = time.monotonic() - t
    shown = cmd if args is None else cmd[:-1] + ["'<%d interfaces>'" % len(args.get("interfaces", []))]
    return _finish(tag, shown, res, wall, env, out, load)


def best_of(runs):
    """The fastest of several runs of one command (the others as samples)."""
    ok = [r for r in runs if not r["error"]]
    best = min(ok, key=lambda r: r["wall"]) if ok else runs[-1]
    return {"best": best["wall"] if ok else None, "samples": [r["wall"] for r in runs], "best_run": best}


def veth_record(result, host=None):
    """The container_veth task record(s) of a run."""
    return [r for r in result["records"] if r["action"].endswith("container_veth") and r["status"] != "skipped"
            and (host is None or r["host"] == host)]


def fastest(runs):
    ok = [r for r in runs if not r["error"]]
    return min(ok, key=lambda r: r["wall"]) if ok else runs[-1]


def time_split(result, host):
    """Where one host's wall time went: each task that ran (its duration on that host, from the
    callback), whether it reached the host, and what is left (start-up, inventory, play set-up)."""
    reached = {r["uuid"] for r in result["remote"] if (r.get("delegate_to") or r.get("host")) == host}
    tasks = [[r["task"].split(" : ", 1)[-1], round(r["duration"] or 0, 3), r["uuid"] in reached]
             for r in result["records"] if r["host"] == host and r["status"] != "skipped" and r.get("duration") is not None]
    remote = sum(d for _t, d, on_host in tasks if on_host)
    local = sum(d for _t, d, on_host in tasks if not on_host)
    return {"wall": result["wall"], "tasks": tasks, "remote_tasks_seconds": round(remote, 3),
            "controller_tasks_seconds": round(local, 3), "rest_seconds": round(result["wall"] - remote - local, 3)}


def slowest_tasks(result, k=8):
    agg = {}
    for r in result["records"]:
        if r.get("duration") is not None:
            agg[r["task"]] = max(agg.get(r["task"], 0), r["duration"])
    return [[t, round(d, 3)] for t, d in sorted(agg.items(), key=lambda kv: -kv[1])[:k]]
