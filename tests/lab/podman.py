"""Podman: one rootful ``podman system service`` per bare host that asks for it.

The service runs inside the host's network namespace (``nsenter --net=``),
like dockerd, so its CNI bridge ``cni-podman0``, the veths and the CNI
firewall chains live there and nowhere else. It also runs in a private
mount namespace of its own (``unshare --mount --propagation private``) with
an empty tmpfs over ``/var/lib`` and ``/run/netns``: Debian 12's Podman 4.3
writes the CNI cache to ``/var/lib/cni`` and a blob cache to
``/var/lib/containers/cache`` whatever its configuration says, and binds
each container's namespace to ``/run/netns/netns-<uuid>``; in the private
mount namespace all of that stays invisible to the machine and disappears
with the service and its containers. Everything else is the lab's own,
under the host's dirs:

    h<i>/podman/containers.conf   default_ulimits = [] (needed on this machine),
                                  cgroupfs, runc (h<i>/podman/runc: runc --root
                                  in the run dir), file locks, file events
    h<i>/podman/storage.conf      vfs graphroot h<i>/podman/storage
    h<i>/podman/cni/lab.conflist  the network "lab": 203.0.113.0/24 on cni-podman0
    /run/lanbridge-lab/{P}/h<i>/podman/   runroot, tmp_dir, runc's root,
                                  the API socket podman.sock

The socket speaks the Docker Engine API (``/_ping``,
``/containers/{name}/json``) and Podman's own; the lab drives it with the
podman CLI in remote mode (``podman --url unix://...``). Containers get
``--cgroup-parent`` below the host's lab cgroup, so ``down`` can kill
whatever is left after a crash.
"""

import json
import os
import shlex
import shutil
import subprocess
import time

from . import _state, images
from ._const import APP_CMD, LabError
from ._proc import api_ping, ns_inode, pid_netns_inode, run

IMAGE = images.IMAGE
# The Podman bridge network of a lab host (inside its namespace only): a lab range.
SUBNET, BRIDGE_GATEWAY, BRIDGE = "203.0.113.0/24", "203.0.113.1", "cni-podman0"
NETWORK = "lab"
PODMAN = "podman"


def paths(host_dir, host_run):
    """The podman fields of a host's state (see ``lifecycle._new_state``)."""
    conf_dir = os.path.join(host_dir, "podman")
    run_dir = os.path.join(host_run, "podman")
    return {
        "podman_dir": conf_dir,
        "podman_run": run_dir,
        "podman_host": f"unix://{run_dir}/podman.sock",
        "podman_pidfile": os.path.join(run_dir, "service.pid"),
    }


def _toml_list(items):
    return "[" + ", ".join(json.dumps(i) for i in items) + "]"


def write_config(h):
    """Write containers.conf, storage.conf and the CNI network; return the env."""
    conf_dir, run_dir = h["podman_dir"], h["podman_run"]
    for d in ("cni", "storage", "ipam", "tmp"):
        os.makedirs(os.path.join(conf_dir, d), exist_ok=True)
    for d in ("libpod", "storage", "runc"):
        os.makedirs(os.path.join(run_dir, d), exist_ok=True)
    q = json.dumps  # a JSON string is a TOML basic string
    containers_conf = "\n".join([
        "# Written by tests/lab (podman.py); not the machine's /etc/containers.",
        "[containers]",
        "default_ulimits = []",
        'netns = "bridge"',
        "[network]",
        'network_backend = "cni"',
        f"cni_plugin_dirs = {_toml_list(['/usr/lib/cni', '/usr/libexec/cni', '/opt/cni/bin'])}",
        f"network_config_dir = {q(os.path.join(conf_dir, 'cni'))}",
        f"default_network = {q(NETWORK)}",
        f"default_subnet = {q(SUBNET)}",
        "[engine]",
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        f"events_logfile_path = {q(os.path.join(conf_dir, 'events.log'))}",
        'lock_type = "file"',
        'runtime = "runc"',
        f"tmp_dir = {q(os.path.join(run_dir, 'libpod'))}",
        f"static_dir = {q(os.path.join(conf_dir, 'storage', 'libpod'))}",
        f"volume_path = {q(os.path.join(conf_dir, 'storage', 'volumes'))}",
        f"image_copy_tmp_dir = {q(os.path.join(conf_dir, 'tmp'))}",
        "[engine.runtimes]",
        f"runc = {_toml_list([os.path.join(conf_dir, 'runc')])}",
        "",
    ])
    storage_conf = "\n".join([
        "[storage]",
        'driver = "vfs"',
        f"graphroot = {q(os.path.join(conf_dir, 'storage'))}",
        f"runroot = {q(os.path.join(run_dir, 'storage'))}",
        "",
    ])
    network = {
        "cniVersion": "0.4.0", "name": NETWORK,
        "plugins": [
            {"type": "bridge", "bridge": BRIDGE, "isGateway": True,
             "ipMasq": True, "hairpinMode": True,
             "ipam": {"type": "host-local",
                      "dataDir": os.path.join(conf_dir, "ipam"),
                      "routes": [{"dst": "0.0.0.0/0"}],
                      "ranges": [[{"subnet": SUBNET,
                                   "gateway": BRIDGE_GATEWAY}]]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
            {"type": "firewall"},
            {"type": "tuning"},
        ],
    }
    # runc's state goes to the lab's run dir, also for the `podman container
    # cleanup` that conmon runs when a container exits (it does not get
    # --runtime-flag): runc is called through this wrapper.
    runc = shutil.which("runc") or "/usr/sbin/runc"
    wrapper = (f"#!/bin/sh\n# Written by tests/lab (podman.py)\n"
               f"exec {shlex.quote(runc)} --root "
               f"{shlex.quote(os.path.join(run_dir, 'runc'))} \"$@\"\n")
    files = {"runc": wrapper,
             "containers.conf": containers_conf, "storage.conf": storage_conf,
             os.path.join("cni", f"{NETWORK}.conflist"):
                 json.dumps(network, indent=2) + "\n"}
    for name, text in files.items():
        with open(os.path.join(conf_dir, name), "w") as f:
            f.write(text)
    os.chmod(os.path.join(conf_dir, "runc"), 0o755)
    return env(h)


def env(h):
    """The environment of the service: the lab's own configuration files."""
    conf_dir = h["podman_dir"]
    out = {k: v for k, v in os.environ.items()
           if not k.startswith(("CONTAINER", "DOCKER_", "XDG_RUNTIME"))}
    out.update(CONTAINERS_CONF=os.path.join(conf_dir, "containers.conf"),
               CONTAINERS_STORAGE_CONF=os.path.join(conf_dir, "storage.conf"))
    return out


def service_argv(netns, h):
    """nsenter into the host's namespace, a private mount namespace, then the service."""
    script = ("mount -t tmpfs -o mode=0755 lanbridge-lab /var/lib && "
              "mount -t tmpfs -o mode=0755 lanbridge-lab /run/netns && "
              'exec "$@"')
    return ["nsenter", f"--net=/run/netns/{netns}",
            "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", script, "lanbridge-lab-podman",
            PODMAN, "system", "service", "--time=0", h["podman_host"]]


def start(state, host):
    """Start the host's Podman service (recorded first); return the Popen."""
    h = state["hosts"][host]
    for d in (h["podman_dir"], h["podman_run"]):
        _state.mkdir(state, d, 0o711)
    if not os.path.isdir("/run/netns"):
        raise LabError("/run/netns is missing")
    environ = write_config(h)
    _state.record(state, "cgroups", h["cgroup_parent"])
    _state.record(state, "processes", {"name": f"podman {host}", "netns": host,
                                       "pidfile": h["podman_pidfile"]})
    log = open(os.path.join(h["dir"], "podman.log"), "ab")  # noqa: SIM115
    with log:
        proc = subprocess.Popen(service_argv(host, h), stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, env=environ,
                                start_new_session=True)
    # nsenter, unshare and sh exec each other: the service keeps this pid
    with open(h["podman_pidfile"], "w") as f:
        f.write(f"{proc.pid}\n")
    with _state.lock:
        h["podman_pid"] = proc.pid
        h["podman_started"] = time.monotonic()
        _state.save(state)
    return proc


def wait(state, host, proc, timeout=60):
    """Wait until the service answers ``/_ping``; check it is in the host's namespace."""
    h = state["hosts"][host]
    sock = h["podman_host"][len("unix://"):]
    t0 = time.monotonic()
    while time.monotonic() < t0 + timeout:
        if proc.poll() is not None:
            raise LabError(f"podman system service for {host} exited "
                           f"({proc.returncode}); see "
                           f"{os.path.join(h['dir'], 'podman.log')}")
        if api_ping(sock):
            break
        time.sleep(0.05)
    else:
        raise LabError(f"podman system service for {host} did not answer on "
                       f"{sock} within {timeout}s")
    if pid_netns_inode(proc.pid) != ns_inode(f"/run/netns/{host}"):
        raise LabError(f"podman for {host} (pid {proc.pid}) is not in "
                       f"namespace {host}")
    with _state.lock:
        h["podman_start_seconds"] = round(
            time.monotonic() - h.pop("podman_started", t0), 2)
        _state.save(state)


def cli(state, host, *args, check=True, timeout=120):
    """Run the podman CLI (remote) against ``host``'s service; return CompletedProcess."""
    h = state["hosts"][host]
    return run(PODMAN, "--url", h["podman_host"], *args, check=check,
               timeout=timeout, env=env(h))


def alive(state, host):
    h = state["hosts"][host]
    return api_ping(h["podman_host"][len("unix://"):])


def start_containers(state, host, names):
    """Import the lab image and start ``names`` in Podman's bridge network."""
    h = state["hosts"][host]
    images.import_image(h["podman_host"], cli=PODMAN)
    for name in names:
        cli(state, host, "run", "-d", "--name", name, "--hostname", name,
            "--network", NETWORK, f"--cgroup-parent={h['cgroup_parent']}",
            IMAGE, "sh", "-c", APP_CMD)


def container_info(state, host, names):
    """``{name: {pid, address, id, engine}}`` of Podman containers ``names``."""
    fmt = "{{.State.Pid}} {{.NetworkSettings.IPAddress}} {{.Id}}"
    info = {}
    for name in names:
        out = cli(state, host, "inspect", "-f", fmt, name).stdout.split()
        info[name] = {"pid": int(out[0]), "address": out[1], "id": out[2],
                      "engine": "podman"}
    return info


def remove_containers(state, host):
    """``podman rm -f`` every container (CNI then removes its veth and rules)."""
    if not alive(state, host):
        return
    ids = cli(state, host, "ps", "-aq", check=False, timeout=30).stdout.split()
    if ids:
        cli(state, host, "rm", "-f", "-t", "0", *ids, check=False, timeout=60)
