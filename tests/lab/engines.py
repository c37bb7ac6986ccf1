"""Docker Engines: one dockerd per bare host, started inside its namespace.

A bare host's dockerd runs under ``nsenter --net=/run/netns/{P}-h{i}``
(``ip netns exec`` would remount /sys and hide the cgroup hierarchy from it),
with its own data root, exec root, socket and cgroup parent. A booted host's
engine is the system's own ``docker.service``; ``docker()`` reaches it with
the docker CLI inside the booted system.

Docker 20.10 and the FORWARD policy: when dockerd finds
``net.ipv4.ip_forward = 0`` in its namespace it turns forwarding on and sets
``iptables -P FORWARD DROP``; when forwarding is already on it leaves the
policy alone. A new namespace starts with forwarding off, so every lab host
ends up with DROP; with br_netfilter on, frames bridged by a host's br0 then
traverse that DROP. After dockerd is up the lab sets ``FORWARD ACCEPT`` on
every host except those listed in ``--forward-drop``, which keep DROP (it is
set again explicitly, so the outcome does not depend on the Docker version).

A bare host's engine is Docker (the default), Podman (podman.py: a rootful
``podman system service`` in the host's namespace) or both, side by side
(``h["engine"]``: ``docker``, ``podman`` or ``both``). ``h["containers"]``
are the containers of the host's main engine (Docker, or Podman on a
Podman-only host); on a host with both, Podman also runs
``h["podman_containers"]`` (``papp1...``). ``container_info`` records every
container with its ``engine``. The FORWARD policy is set the same way on
every bare host, whatever its engine.
"""

import json
import os
import subprocess
import time

from . import _state, booted, images, podman
from ._const import APP_CMD, LabError
from ._proc import api_ping, ns_exec, ns_inode, pid_netns_inode, run

IMAGE = images.IMAGE


def start_dockerd(state, host):
    h = state["hosts"][host]
    for d in (h["run_dir"], h["docker_data"]):
        _state.mkdir(state, d, 0o711)
    conf = os.path.join(h["dir"], "daemon.json")
    with open(conf, "w") as f:
        # Not the machine's /etc/docker/daemon.json; and keep Docker 20.10's
        # trust key out of /etc/docker (it would create /etc/docker/key.json).
        json.dump({"deprecated-key-path": os.path.join(h["dir"], "key.json")},
                  f)
    _state.record(state, "cgroups", h["cgroup_parent"])
    _state.record(state, "processes", {"name": f"dockerd {host}", "netns": host,
                                       "pidfile": h["docker_pidfile"]})
    log = open(os.path.join(h["dir"], "dockerd.log"), "ab")  # noqa: SIM115
    cmd = ["nsenter", f"--net=/run/netns/{host}", "dockerd",
           "--storage-driver=vfs",
           f"--data-root={h['docker_data']}",
           f"--exec-root={h['exec_root']}",
           f"--pidfile={h['docker_pidfile']}",
           f"--host={h['docker_host']}",
           f"--config-file={conf}",
           "--exec-opt=native.cgroupdriver=cgroupfs",
           f"--cgroup-parent={h['cgroup_parent']}",
           "--userland-proxy=false"]
    with log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=log, start_new_session=True)
    with _state.lock:
        h["dockerd_pid"] = proc.pid  # nsenter execs dockerd: same pid
        _state.save(state)
    return proc


docker_ping = api_ping  # GET /_ping on a Docker-API socket (Podman's too)


def wait_dockerd(state, host, proc, timeout=60):
    h = state["hosts"][host]
    sock = h["docker_host"][len("unix://"):]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(
                f"dockerd for {host} exited ({proc.returncode}); see "
                f"{os.path.join(h['dir'], 'dockerd.log')}")
        if docker_ping(sock):
            break
        time.sleep(0.2)
    else:
        raise LabError(f"dockerd for {host} did not answer on {sock} "
                       f"within {timeout}s")
    want = ns_inode(f"/run/netns/{host}")
    if pid_netns_inode(proc.pid) != want:
        raise LabError(f"dockerd for {host} (pid {proc.pid}) is not in "
                       f"namespace {host}")


def docker(state, host, *args, check=True, timeout=120):
    """Run the docker CLI against ``host``'s engine; return CompletedProcess."""
    h = state["hosts"][host]
    if h.get("booted"):
        return run(*booted.exec_argv(h), "docker", *args, check=check,
                   timeout=timeout, env=booted.EXEC_ENV)
    env = dict(os.environ, DOCKER_HOST=h["docker_host"])
    return run("docker", *args, check=check, timeout=timeout, env=env)


def engine_of(h):
    """``docker``, ``podman`` or ``both`` (a booted host: ``docker``)."""
    return h.get("engine") or "docker"


def uses_docker(h):
    return engine_of(h) in ("docker", "both")


def uses_podman(h):
    return engine_of(h) in ("podman", "both")


def docker_names(h):
    return list(h["containers"]) if uses_docker(h) else []


def podman_names(h):
    if engine_of(h) == "podman":
        return list(h["containers"])
    return list(h.get("podman_containers", []))


def start(state, host):
    """Start a bare host's engine(s); return what ``setup_engine`` waits for."""
    h = state["hosts"][host]
    procs = {}
    if uses_docker(h):
        procs["docker"] = start_dockerd(state, host)
    if uses_podman(h):
        procs["podman"] = podman.start(state, host)
    return procs


def engine_alive(state, host):
    h = state["hosts"][host]
    if h.get("booted"):
        return booted.leader(h) is not None and docker(
            state, host, "version", check=False, timeout=15).returncode == 0
    return docker_ping(h["docker_host"][len("unix://"):])


def start_containers(state, host):
    """Import the lab image and start the host's containers; record them."""
    h = state["hosts"][host]
    if uses_podman(h):
        podman.start_containers(state, host, podman_names(h))
    if not uses_docker(h):
        record_containers(state, host)
        return
    if h.get("booted"):
        booted.import_image(h)
    else:
        images.import_image(h["docker_host"])
    restart = "always" if h.get("booted") else "no"
    for name in docker_names(h):
        docker(state, host, "run", "-d", "--name", name, "--hostname", name,
               "--restart", restart, "--network", "bridge", IMAGE,
               "sh", "-c", APP_CMD)
    record_containers(state, host)


def record_containers(state, host):
    """Record each container's PID (as seen from here), address and ID."""
    h = state["hosts"][host]
    fmt = "{{.State.Pid}} {{.NetworkSettings.IPAddress}} {{.Id}}"
    info = {}
    for name in docker_names(h):
        out = docker(state, host, "inspect", "-f", fmt, name).stdout.split()
        pid = int(out[0])
        if h.get("booted"):
            pid = booted.outer_pid(h, pid)
        info[name] = {"pid": pid, "address": out[1], "id": out[2],
                      "engine": "docker"}
    info.update(podman.container_info(state, host, podman_names(h)))
    with _state.lock:
        h["container_info"] = info
        _state.save(state)


def setup_engine(state, host, procs):
    """Wait for the engine(s) ``start`` started, set FORWARD, start containers."""
    h = state["hosts"][host]
    if "docker" in procs:
        wait_dockerd(state, host, procs["docker"])
    if "podman" in procs:
        podman.wait(state, host, procs["podman"])
    policy = "DROP" if h["forward_drop"] else "ACCEPT"
    ns_exec(host, "iptables", "-P", "FORWARD", policy)
    start_containers(state, host)


def remove_containers(state, host):
    h = state["hosts"][host]
    if uses_podman(h):
        podman.remove_containers(state, host)
    if not uses_docker(h) or not engine_alive(state, host):
        return
    res = docker(state, host, "ps", "-aq", check=False, timeout=30)
    ids = res.stdout.split()
    if ids:
        docker(state, host, "rm", "-f", *ids, check=False, timeout=60)
