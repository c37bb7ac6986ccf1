"""The agent's benchmark (issue 12): on one booted systemd-networkd lab host with N containers
(Docker as a service, ``--restart always``), converged once with the collection's site.yml:

- 20 ``docker restart`` of one container, one after another: seconds from the restart command
  until its LAN address answers again (p50, p99, max);
- all N containers restarted at once: seconds until every address answers again;
- the agent's peak RSS (``VmHWM``) and CPU time (user + system) over the run.

Everything runs in lab namespaces (prefix ``bg``). Not part of ``make test``: run it with
``sudo .venv/bin/python tests/bench/agent_bench.py [--containers 50]``; it prints one JSON object
and writes it to ``.build/bench/agent.json``. ``make bench`` runs it too (``bench.py --agent``,
through ``measure()``), with the result in its own results.json.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
import lab  # noqa: E402  pylint: disable=wrong-import-position

PREFIX = "bg"
POLL = 0.05


def inside(state, *cmd, timeout=600):
    argv, env = lab.exec_argv(state["state_dir"], "%s-h1" % PREFIX)
    return subprocess.run(argv + list(cmd), env=env, capture_output=True, text=True, timeout=timeout, check=True).stdout


def answers(state, address):
    return subprocess.run(["ip", "netns", "exec", "%s-client" % state["prefix"], "ping", "-c1", "-W0.2", "-q", address],
                          capture_output=True, check=False).returncode == 0


def until_all(state, addresses, limit):
    """Seconds until every address answers (each polled in its own thread), None after ``limit``."""
    start = time.monotonic()

    def one(address):
        while time.monotonic() - start < limit:
            if answers(state, address):
                return time.monotonic() - start
            time.sleep(POLL)
        return None

    with ThreadPoolExecutor(min(64, len(addresses))) as pool:
        times = list(pool.map(one, addresses))
    return None if None in times else max(times)


def agent_usage(state):
    pid = inside(state, "systemctl", "show", "-p", "MainPID", "--value", "lanbridge-attach").strip()
    status = inside(state, "cat", "/proc/%s/status" % pid)
    hwm = [line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")][0]
    fields = inside(state, "cat", "/proc/%s/stat" % pid).rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return {"pid": int(pid), "peak_rss_kib": int(hwm), "cpu_seconds": (int(fields[11]) + int(fields[12])) / ticks}


def converge(state, names, tmp):
    variables = {"container_lan_uplink": "em1", "container_lan_bridge": "br0", "container_lan_rollback_timeout": 5,
                 "container_lan_interfaces": [{"container": n, "addresses": ["%s/24" % a]} for n, a in names.items()]}
    with open(os.path.join(tmp, "vars.json"), "w") as f:
        json.dump(variables, f)
    with open(os.path.join(tmp, "site.yml"), "w") as f:
        f.write("- name: Converge\n  ansible.builtin.import_playbook: lanbridge.core.site\n")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_HOST_KEY_CHECKING="false")
    proc = subprocess.run([os.path.join(ROOT, ".venv", "bin", "ansible-playbook"), "-i", state["inventory"],
                           "-e", "@" + os.path.join(tmp, "vars.json"), os.path.join(tmp, "site.yml")],
                          capture_output=True, text=True, env=env, timeout=1200, check=False)
    if proc.returncode != 0:
        raise SystemExit("converge failed:\n" + proc.stdout[-4000:] + proc.stderr[-2000:])


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def measure(containers=50, restarts=20, prefix=PREFIX):
    """Bring up the booted host, converge, measure, tear down; return the result (a dict).

    Also what ``bench.py`` calls for the agent's row (``--agent``)."""
    tmp = tempfile.mkdtemp(prefix="lanbridge-agent-bench-")
    state_dir = os.path.join(tmp, "lab")
    started = time.monotonic()
    state = lab.up(state_dir, prefix, containers=containers, booted=["networkd"])
    try:
        # containers app1..appN at 198.51.100.100 + j - 1 (the lab's hosts, client and gateway sit elsewhere)
        names = dict(("app%d" % j, "198.51.100.%d" % (99 + j)) for j in range(1, containers + 1))
        converge(state, names, tmp)
        assert until_all(state, list(names.values()), 60) is not None, "not every container answers after converge"
        before = agent_usage(state)
        single = []
        for _attempt in range(restarts):
            t0 = time.monotonic()
            inside(state, "docker", "restart", "-t", "1", "app1")
            assert until_all(state, [names["app1"]], 30) is not None, "app1 did not come back"
            single.append(time.monotonic() - t0)  # from the restart command until it answers
        t0 = time.monotonic()
        inside(state, "docker", "restart", "-t", "1", *sorted(names))
        restarted = time.monotonic() - t0
        all_back = until_all(state, list(names.values()), 300)
        after = agent_usage(state)
        return {
            "containers": containers,
            "single_restart_seconds": {"p50": round(pct(single, 50), 3), "p99": round(pct(single, 99), 3),
                                       "max": round(max(single), 3), "n": len(single)},
            "all_restarted": {"docker_restart_seconds": round(restarted, 2),
                              "all_back_after_restart_returned_seconds": None if all_back is None else round(all_back, 2),
                              "all_back_from_restart_command_seconds": None if all_back is None else round(restarted + all_back, 2)},
            "agent": {"peak_rss_kib": after["peak_rss_kib"], "cpu_seconds_during_bench": round(after["cpu_seconds"] - before["cpu_seconds"], 2),
                      "cpu_seconds_total": round(after["cpu_seconds"], 2), "same_process": after["pid"] == before["pid"]},
            "load_average": os.getloadavg(),
            "total_seconds": round(time.monotonic() - started, 1),
        }
    finally:
        lab.down(state_dir)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--containers", type=int, default=lab.MAX_CONTAINERS, help="at most %(default)s (the lab's limit per host)")
    parser.add_argument("--restarts", type=int, default=20)
    args = parser.parse_args(argv)
    result = measure(args.containers, args.restarts)
    out = os.path.join(ROOT, ".build", "bench")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "agent.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(json.dumps(result, indent=2))
    return 0 if result["all_restarted"]["all_back_after_restart_returned_seconds"] is not None else 1


if __name__ == "__main__":
    sys.exit(main())
