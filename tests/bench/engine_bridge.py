"""Docker's own bridge network on the existing br0 against lanbridge (container_veth and the agent),
side by side on one booted Debian 13 lab host (issue 21, item 6).

The host (prefix ``eb``, systemd-networkd static, Docker 26 as a service) is bridged by the
collection's site.yml: br0 over em1, persisted by networkd, with ``app1`` attached by lanbridge
(eth1, 198.51.100.111, the agent on) and ``app2`` left on Docker's default bridge only. Then Docker's
answer on the same br0::

    docker network create -d bridge -o com.docker.network.bridge.name=br0 \\
        -o com.docker.network.bridge.inhibit_ipv4=true \\
        --subnet 198.51.100.0/24 --gateway 198.51.100.254 --ip-range 198.51.100.120/29 lan
    docker run -d --restart always --network lan --ip 198.51.100.121 --name dn1 ...

Measured, each ``--runs`` times (engine restarts and reboots fewer), with the two containers
alternating: seconds from the command's start until the container's LAN address answers a ping from
the lab's LAN client (every 50 ms): ``docker restart -t 1``, ``docker stop`` then ``docker start``
(from the start), ``systemctl restart docker``, and a reboot of the host (from the power-off, no
Ansible run). Recorded besides: what Docker changed on br0 and in the firewall, whether a container
on Docker's default bridge still reaches the LAN gateway, a second interface through ``docker
network connect``, and what ``docker network rm`` leaves of br0.

Not part of ``make test``: ``sudo .venv/bin/python tests/bench/engine_bridge.py [--runs 10]``;
prints one JSON object and writes it to ``.build/bench/engine_bridge.json``.
"""
import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "booted"))
from current_hosts import answers, docker_entries, inside, lab, site, summary, until_answers  # noqa: E402

LANBRIDGE, LANBRIDGE_ADDRESS = "app1", lab.LAN4 + "111"
ENGINE, ENGINE_ADDRESS = "dn1", lab.LAN4 + "121"
CONNECTED, CONNECTED_ADDRESS = "dn2", lab.LAN4 + "122"
PLAIN = "app2"
NETWORK = "lan"
NETWORK_CREATE = ["docker", "network", "create", "-d", "bridge",
                  "-o", "com.docker.network.bridge.name=br0", "-o", "com.docker.network.bridge.inhibit_ipv4=true",
                  "--subnet", lab.LAN4 + "0/24", "--gateway", lab.GATEWAY4, "--ip-range", lab.LAN4 + "120/29", NETWORK]
SUBJECTS = {"lanbridge": (LANBRIDGE, LANBRIDGE_ADDRESS), "docker network": (ENGINE, ENGINE_ADDRESS)}
LIMIT = 60


def run_app(state, host, name, *network):
    image = lab.osimage.images.IMAGE
    inside(state, host, "docker", "run", "-d", "--name", name, "--hostname", name, "--restart", "always", *network,
           image, "sh", "-c", lab.APP_CMD)


def timed(state, host, command, addresses, limit=LIMIT):
    """Run ``command`` inside the host; ``{address: seconds from the command's start until it answers}``."""
    t0 = time.monotonic()
    inside(state, host, *command, timeout=300)
    with ThreadPoolExecutor(len(addresses)) as pool:
        return dict(zip(addresses, pool.map(lambda a: until_answers(state, [a], limit, since=t0), addresses)))


def back_after_silence(state, address, limit, since):
    """Seconds from ``since`` until ``address``, once it stopped answering, answers again; None after ``limit``."""
    while answers(state, address):
        if time.monotonic() - since > limit:
            return None
        time.sleep(0.01)
    return until_answers(state, [address], limit, since)


def reboot_timed(state, host, addresses, limit=240):
    """Reboot the host; seconds from the power-off until each address (the host's own too) answers again."""
    t0 = time.monotonic()
    with ThreadPoolExecutor(len(addresses)) as pool:
        waits = [pool.submit(back_after_silence, state, a, limit, t0) for a in addresses]
        lab.reboot(state["state_dir"], host)
        state.update(lab.load_state(state["state_dir"]))
        return dict(zip(addresses, (w.result() for w in waits)))


def reaches_gateway(state, host, container):
    """Whether ``container`` (on Docker's default bridge only) reaches the LAN gateway through the host."""
    res = inside(state, host, "docker", "exec", container, "ping", "-c2", "-W1", lab.GATEWAY4, check=False)
    return res.returncode == 0


def br0_settings(state, host):
    """What br0 is set to (MAC, MTU, STP, forward delay, label, addresses), without its counters."""
    link = json.loads(inside(state, host, "ip", "-j", "-d", "link", "show", "br0").stdout)[0]
    data = link.get("linkinfo", {}).get("info_data", {})
    addresses = json.loads(inside(state, host, "ip", "-j", "addr", "show", "dev", "br0").stdout)[0]["addr_info"]
    return {"mac": link["address"], "mtu": link["mtu"], "stp_state": data.get("stp_state"),
            "forward_delay": data.get("forward_delay"), "ifalias": link.get("ifalias"),
            "addresses": sorted("%s/%s" % (a["local"], a["prefixlen"]) for a in addresses if a.get("scope") == "global")}


def lines_about(text, word):
    return [line for line in text.splitlines() if word in line]


def measure(state, host, runs, engine_runs, reboots, out):
    """Fill ``out`` phase by phase (what was measured stays in it when a later phase fails)."""
    out.update(host={}, docker_network={}, times={})
    for package in ("systemd", "docker.io", "linux-image"):
        res = inside(state, host, "dpkg-query", "-W", "-f", "${Version}", package, check=False)
        out["host"][package] = res.stdout.strip() or None
    out["host"]["kernel"] = os.uname().release
    out["host"]["cpus"] = os.cpu_count()
    out["host"]["loadavg_start"] = os.getloadavg()
    before = {"br0": br0_settings(state, host),
              "iptables": inside(state, host, "iptables-save").stdout}
    out["docker_network"]["plain_reaches_gateway_before"] = reaches_gateway(state, host, PLAIN)
    inside(state, host, *NETWORK_CREATE)
    run_app(state, host, ENGINE, "--network", NETWORK, "--ip", ENGINE_ADDRESS)
    first = until_answers(state, [ENGINE_ADDRESS], LIMIT)
    after_br0 = br0_settings(state, host)
    rules = inside(state, host, "iptables-save").stdout
    out["docker_network"].update(
        first_answer_s=first, br0_changed=before["br0"] != after_br0,
        br0_before=before["br0"], br0_after=after_br0,
        rules_added=[r for r in rules.splitlines() if r not in before["iptables"].splitlines() and not r.startswith("#")
                     and not r.startswith(":")],
        plain_reaches_gateway_after=reaches_gateway(state, host, PLAIN))
    # a second interface: a container on the default bridge, then connected to the network
    run_app(state, host, CONNECTED)
    inside(state, host, "docker", "network", "connect", "--ip", CONNECTED_ADDRESS, NETWORK, CONNECTED)
    out["docker_network"]["connect"] = {
        "interfaces": inside(state, host, "docker", "exec", CONNECTED, "ip", "-o", "-4", "addr").stdout.splitlines(),
        "routes": inside(state, host, "docker", "exec", CONNECTED, "ip", "route").stdout.splitlines(),
        "answers_s": until_answers(state, [CONNECTED_ADDRESS], 10)}

    times = out["times"]
    for label, command in (("docker restart -t 1", ["docker", "restart", "-t", "1"]),):
        for subject, (name, address) in SUBJECTS.items():
            times.setdefault(label, {})[subject] = [timed(state, host, command + [name], [address])[address]
                                                    for _run in range(runs)]
    stop_start = times.setdefault("docker stop, then docker start (from the start)", {})
    for subject, (name, address) in SUBJECTS.items():
        stop_start[subject] = []
        for _run in range(runs):
            inside(state, host, "docker", "stop", "-t", "1", name)
            stop_start[subject].append(timed(state, host, ["docker", "start", name], [address])[address])
    engine = []
    for _run in range(engine_runs):  # docker.service allows 3 starts a minute: its counter reset first (not timed)
        inside(state, host, "systemctl", "reset-failed", "docker.service")
        engine.append(timed(state, host, ["systemctl", "restart", "docker"], [LANBRIDGE_ADDRESS, ENGINE_ADDRESS]))
    times["systemctl restart docker"] = dict((s, [e[a] for e in engine]) for s, (_n, a) in SUBJECTS.items())
    host_address = state["hosts"][host]["address4"]
    boots = [reboot_timed(state, host, [host_address, LANBRIDGE_ADDRESS, ENGINE_ADDRESS]) for _run in range(reboots)]
    times["reboot (from the power-off)"] = dict((s, [b[a] for b in boots]) for s, (_n, a) in SUBJECTS.items())
    times["reboot (from the power-off)"]["the host itself"] = [b[host_address] for b in boots]
    out["after_reboot"] = {
        "br0": br0_settings(state, host),
        "br0_ports": inside(state, host, "ip", "-o", "link", "show", "master", "br0").stdout.splitlines(),
        "networkctl_br0": inside(state, host, "networkctl", "status", "--no-pager", "br0", check=False).stdout,
        "docker_journal_br0": lines_about(inside(state, host, "journalctl", "-b", "-u", "docker", "--no-pager", "-o", "cat").stdout,
                                          "br0"),
        "connected_still": inside(state, host, "docker", "exec", CONNECTED, "ip", "-o", "-4", "addr",
                                  check=False).stdout.splitlines()}
    # what docker network rm leaves
    inside(state, host, "docker", "rm", "-f", ENGINE, CONNECTED)
    inside(state, host, "docker", "network", "rm", NETWORK)
    out["after_network_rm"] = {
        "br0_exists": inside(state, host, "ip", "link", "show", "br0", check=False).returncode == 0,
        "em1_port": "master br0" in inside(state, host, "ip", "link", "show", "em1").stdout,
        "host_answers_s": until_answers(state, [host_address], 10),
        "lanbridge_answers_s": until_answers(state, [LANBRIDGE_ADDRESS], 10)}
    out["host"]["loadavg_end"] = os.getloadavg()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--runs", type=int, default=10, help="container restarts and stop/starts per subject")
    parser.add_argument("--engine-runs", type=int, default=5, help="systemctl restart docker")
    parser.add_argument("--reboots", type=int, default=3)
    parser.add_argument("--prefix", default="eb")
    parser.add_argument("--spec", default="networkd@13", help="the booted host (KIND[:ADDRESSING][@RELEASE])")
    parser.add_argument("--out", default=os.path.join(ROOT, ".build", "bench", "engine_bridge.json"))
    args = parser.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="lanbridge-engine-bridge-")
    state_dir = os.path.join(tmp, "lab")
    started = time.monotonic()
    state = lab.up(state_dir, args.prefix, containers=2, booted=[args.spec], owner=os.getpid())
    try:
        host = next(iter(state["hosts"]))
        entries = [e for e in docker_entries(state, host) if e["container"] == LANBRIDGE]
        rc, _changed, text = site(state, {host: entries})
        if rc:
            raise SystemExit("site.yml failed:\n" + text)
        result = {}
        try:
            measure(state, host, args.runs, args.engine_runs, args.reboots, result)
        finally:
            result.update(spec=args.spec, minutes=round((time.monotonic() - started) / 60, 1),
                          at=time.strftime("%Y-%m-%d %H:%M:%S%z"),
                          summary=dict((label, dict((s, summary(v)) for s, v in by.items()))
                                       for label, by in result.get("times", {}).items()))
            os.makedirs(os.path.dirname(args.out), exist_ok=True)
            with open(args.out, "w") as f:
                json.dump(result, f, indent=1)
            print(json.dumps(result, indent=1))
    finally:
        lab.down(state_dir)


if __name__ == "__main__":
    main()
