"""The lanbridge lab: a simulated LAN in network namespaces, with real engines.

    python3 tests/lab/lab.py up   [--state-dir DIR] [--prefix P] [--hosts N]
                                  [--containers M] [--forward-drop LIST]
    python3 tests/lab/lab.py down [--state-dir DIR]
    python3 tests/lab/lab.py status [--state-dir DIR]
    python3 tests/lab/lab.py gateway up|down [--state-dir DIR]

    (``--podman`` is not implemented; ``up(podman=True)`` raises LabError.)

Topology (P = prefix, default ``lb``)::

    {P}-gw      eth0 198.51.100.254/24 2001:db8:100::fe/64 ──┐
    {P}-client  eth0 198.51.100.250/24 2001:db8:100::fa/64 ──┤
    {P}-ctl     eth0 198.51.100.200/24 2001:db8:100::c8/64 ──┤ sw0 in {P}-lan
    {P}-h{i}    em1  198.51.100.(10+i)/24 2001:db8:100::(10+i in hex)/64 ──┘
                sshd on em1's address, dockerd (docker0, app1..appM)

Nothing is ever created in the root network namespace: every veth pair is
created inside ``{P}-lan`` with its peer placed straight into the target
namespace, every command that changes networking runs through ``ip -n`` or
``ip netns exec`` / ``nsenter --net=``, and dockerd runs under
``nsenter --net=/run/netns/{P}-h{i}`` (``ip netns exec`` would remount /sys
and hide the cgroup hierarchy from it).

Docker 20.10 and the FORWARD policy: when dockerd finds
``net.ipv4.ip_forward = 0`` in its namespace it turns forwarding on and sets
``iptables -P FORWARD DROP``; when forwarding is already on it leaves the
policy alone. A new namespace starts with forwarding off, so every lab host
ends up with DROP; with br_netfilter on, frames bridged by a host's br0 then
traverse that DROP. After dockerd is up the lab sets ``FORWARD ACCEPT`` on
every host except those listed in ``--forward-drop``, which keep DROP (it is
set again explicitly, so the outcome does not depend on the Docker version).

State: ``state.json`` in the state directory records every namespace, dir,
process and cgroup *before* it is created, so ``down`` removes exactly what
``up`` made, also after a crashed ``up``, and is safe to run twice.

Outside its state dir and ``/run/lanbridge-lab/{P}`` the lab leaves only
what the tools themselves insist on, empty and shared with any other engine:
``/run/docker/plugins`` and ``/run/containerd/s`` (hard-coded in dockerd and
containerd 1.6) and ``/run/sshd`` (sshd's privilege separation dir).

Standard library only; run as root.
"""

import argparse
import contextlib
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

try:  # imported as tests.lab.lab
    from . import images
except ImportError:  # run as a script, or tests/lab on sys.path
    import images

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_STATE_DIR = os.path.join(REPO, ".lab")
RUN_ROOT = "/run/lanbridge-lab"
CGROUP_ROOT = "/sys/fs/cgroup"

LAN4 = "198.51.100."
LAN6 = "2001:db8:100::"
PLEN4, PLEN6 = 24, 64
GATEWAY4, GATEWAY6 = LAN4 + "254", LAN6 + "fe"
CLIENT4, CLIENT6 = LAN4 + "250", LAN6 + "fa"
CTL4, CTL6 = LAN4 + "200", LAN6 + "c8"
UPLINK = "em1"
SWITCH = "sw0"
IMAGE = images.IMAGE
MAX_HOSTS = 40
MAX_CONTAINERS = 50
# The container's command: sh as PID 1 with a TERM trap, so `docker stop` is
# instant; httpd serves a page naming the container.
APP_CMD = ('echo "$(hostname)" > /www/index.html; trap "exit 0" TERM; '
           'httpd -f -p 80 -h /www & wait')

_PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,3}$")
_lock = threading.RLock()


class LabError(RuntimeError):
    """Raised with a message that says what failed, where and why."""


# --------------------------------------------------------------------------
# small process helpers


def _run(*cmd, check=True, timeout=60, env=None, input=None):
    """Run a command (never through a shell); return CompletedProcess."""
    cmd = [str(c) for c in cmd]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True,
                             timeout=timeout, env=env, input=input,
                             check=False)
    except subprocess.TimeoutExpired as e:
        raise LabError(f"timed out after {timeout}s: {shlex.join(cmd)}") from e
    if check and res.returncode != 0:
        raise LabError(f"failed ({res.returncode}): {shlex.join(cmd)}: "
                       f"{(res.stderr or res.stdout).strip()}")
    return res


def _ns_inode(path):
    return os.stat(path).st_ino


def root_netns_inode():
    """Inode of the root network namespace.

    That is PID 1's; where PID 1's ``/proc/1/ns`` is unreadable (a sandboxed
    init), kthreadd's (PID 2): kernel threads always live in the root one.
    """
    try:
        return _ns_inode("/proc/1/ns/net")
    except PermissionError:
        with open("/proc/2/comm") as f:
            if f.read().strip() != "kthreadd":
                raise
        return _ns_inode("/proc/2/ns/net")


def assert_not_root_netns():
    """Refuse to go on when the calling process is in the root namespace.

    Every code path that would act on the *current* namespace calls this
    first; the lab itself only ever acts through ``ip -n`` / ``ip netns exec``.
    """
    if _ns_inode("/proc/self/ns/net") == root_netns_inode():
        raise LabError("refusing to change networking in the root network "
                       "namespace")


def _check_ns(ns):
    # Every namespace the lab touches is one of its own: "<prefix>-<role>".
    if not ns or "-" not in ns or "/" in ns:
        raise LabError(f"not a lab namespace: {ns!r}")


def ip(ns, *args, check=True):
    """``ip -n NS ARGS``: change or read networking inside NS only."""
    _check_ns(ns)
    return _run("ip", "-n", ns, *args, check=check)


def ns_exec(ns, *cmd, check=True, timeout=60, input=None):
    """Run ``cmd`` inside the lab namespace ``ns`` (``ip netns exec``)."""
    _check_ns(ns)
    return _run("ip", "netns", "exec", ns, *cmd, check=check,
                timeout=timeout, input=input)


def netns_exists(ns):
    return os.path.exists(f"/run/netns/{ns}")


def _netns_pids(ns):
    if not netns_exists(ns):
        return []
    res = _run("ip", "netns", "pids", ns, check=False)
    return [int(p) for p in res.stdout.split() if p.strip().isdigit()]


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _pid_netns_inode(pid):
    try:
        return _ns_inode(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def _read_pid(pidfile):
    try:
        with open(pidfile) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _kill_wait(pids, sig=signal.SIGTERM, timeout=15.0):
    """Signal pids, wait until they are gone, SIGKILL what is left."""
    pids = [p for p in pids if p and p > 1 and p != os.getpid()]
    for p in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [p for p in pids if _pid_alive(p)]
        if not pids:
            return
        time.sleep(0.1)
    for p in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_pid_alive(p) for p in pids):
        time.sleep(0.05)


# --------------------------------------------------------------------------
# state


def resolve_state_dir(state_dir=None):
    return os.path.abspath(state_dir or os.environ.get("LANBRIDGE_LAB_DIR")
                           or DEFAULT_STATE_DIR)


def _state_path(state_dir):
    return os.path.join(state_dir, "state.json")


def load_state(state_dir=None):
    """The lab's state dict, or None when there is no lab in ``state_dir``."""
    path = _state_path(resolve_state_dir(state_dir))
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


def _save(state):
    with _lock:
        path = _state_path(state["state_dir"])
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)


def _record(state, key, item):
    """Append ``item`` to ``state[key]`` and write the state, before acting."""
    with _lock:
        if item not in state[key]:
            state[key].append(item)
        _save(state)


def _mkdir(state, path, mode=0o755):
    _record(state, "dirs", path)
    os.makedirs(path, mode=mode, exist_ok=True)
    return path


def _add_netns(state, ns):
    _record(state, "netns", ns)
    _run("ip", "netns", "add", ns)
    ip(ns, "link", "set", "lo", "up")


# --------------------------------------------------------------------------
# topology


def _host_names(prefix, n):
    return [f"{prefix}-h{i}" for i in range(1, n + 1)]


def _plug(state, ns, ifname, port, addr4=None, addr6=None, route=True):
    """A veth from sw0 (port ``port`` in {P}-lan) to ``ifname`` in ``ns``."""
    lan = state["lan_netns"]
    ip(lan, "link", "add", port, "type", "veth", "peer", "name", ifname,
       "netns", ns)
    ip(lan, "link", "set", port, "master", SWITCH)
    ip(lan, "link", "set", port, "up")
    if addr4:
        ip(ns, "addr", "add", f"{addr4}/{PLEN4}", "dev", ifname)
    if addr6:
        ip(ns, "-6", "addr", "add", f"{addr6}/{PLEN6}", "dev", ifname,
           "nodad")
    ip(ns, "link", "set", ifname, "up")
    if route:
        ip(ns, "route", "add", "default", "via", GATEWAY4, "dev", ifname)
        ip(ns, "-6", "route", "add", "default", "via", GATEWAY6, "dev",
           ifname)


def _build_switch(state):
    lan = state["lan_netns"]
    _add_netns(state, lan)
    ip(lan, "link", "add", SWITCH, "type", "bridge", "stp_state", "0",
       "forward_delay", "0")
    ip(lan, "link", "set", SWITCH, "up")
    # The switch only bridges: keep its frames out of iptables.
    ns_exec(lan, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0",
            "net.bridge.bridge-nf-call-ip6tables=0", check=False)
    for role, addr4, addr6 in (("gw", GATEWAY4, GATEWAY6),
                               ("client", CLIENT4, CLIENT6),
                               ("ctl", CTL4, CTL6)):
        ns = state["netns_of"][role]
        _add_netns(state, ns)
        _plug(state, ns, "eth0", f"p-{role}", addr4, addr6,
              route=(role != "gw"))


def _ssh_keys(state):
    ssh_dir = _mkdir(state, os.path.join(state["state_dir"], "ssh"), 0o700)
    key = os.path.join(ssh_dir, "id_ed25519")
    hostkey = os.path.join(ssh_dir, "host_ed25519")
    for path, comment in ((key, "lanbridge-lab"), (hostkey, "lab-host")):
        if not os.path.exists(path):
            _run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                 comment, "-f", path)
    shutil.copyfile(key + ".pub", os.path.join(ssh_dir, "authorized_keys"))
    state["ssh_key"] = key
    _save(state)


def _start_sshd(state, host):
    h = state["hosts"][host]
    ssh_dir = os.path.dirname(state["ssh_key"])
    conf = os.path.join(h["dir"], "sshd_config")
    with open(conf, "w") as f:
        f.write("\n".join([
            f"ListenAddress {h['address4']}",
            f"ListenAddress {h['address6']}",
            "Port 22",
            f"HostKey {ssh_dir}/host_ed25519",
            f"PidFile {h['sshd_pidfile']}",
            f"AuthorizedKeysFile {ssh_dir}/authorized_keys",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "UseDNS no",
            "MaxSessions 50",
            "MaxStartups 50:30:100",
            "Subsystem sftp /usr/lib/openssh/sftp-server",
            "",
        ]))
    # sshd insists on its privilege separation directory.
    if not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    _record(state, "processes", {"name": f"sshd {host}", "netns": host,
                                 "pidfile": h["sshd_pidfile"]})
    ns_exec(host, "/usr/sbin/sshd", "-f", conf, "-E",
            os.path.join(h["dir"], "sshd.log"))


def _cgroup_dirs(cgroup_parent):
    rel = cgroup_parent.strip("/")
    out = []
    with contextlib.suppress(OSError):
        for ctl in sorted(os.listdir(CGROUP_ROOT)):
            path = os.path.join(CGROUP_ROOT, ctl, rel)
            if os.path.isdir(path):
                out.append(path)
    return out


def _start_dockerd(state, host):
    h = state["hosts"][host]
    for d in (h["run_dir"], h["docker_data"]):
        _mkdir(state, d, 0o711)
    conf = os.path.join(h["dir"], "daemon.json")
    with open(conf, "w") as f:
        # Not the machine's /etc/docker/daemon.json; and keep Docker 20.10's
        # trust key out of /etc/docker (it would create /etc/docker/key.json).
        json.dump({"deprecated-key-path": os.path.join(h["dir"], "key.json")},
                  f)
    _record(state, "cgroups", h["cgroup_parent"])
    _record(state, "processes", {"name": f"dockerd {host}", "netns": host,
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
    with _lock:
        h["dockerd_pid"] = proc.pid  # nsenter execs dockerd: same pid
        _save(state)
    return proc


def _docker_ping(sock, timeout=1.0):
    conn = http.client.HTTPConnection("localhost", timeout=timeout)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock)
        conn.sock = s
        conn.request("GET", "/_ping")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _wait_dockerd(state, host, proc, timeout=60):
    h = state["hosts"][host]
    sock = h["docker_host"][len("unix://"):]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LabError(
                f"dockerd for {host} exited ({proc.returncode}); see "
                f"{os.path.join(h['dir'], 'dockerd.log')}")
        if _docker_ping(sock):
            break
        time.sleep(0.2)
    else:
        raise LabError(f"dockerd for {host} did not answer on {sock} "
                       f"within {timeout}s")
    want = _ns_inode(f"/run/netns/{host}")
    if _pid_netns_inode(proc.pid) != want:
        raise LabError(f"dockerd for {host} (pid {proc.pid}) is not in "
                       f"namespace {host}")


def docker(state, host, *args, check=True, timeout=120):
    """Run the docker CLI against ``host``'s engine; return CompletedProcess."""
    h = state["hosts"][host]
    env = dict(os.environ, DOCKER_HOST=h["docker_host"])
    return _run("docker", *args, check=check, timeout=timeout, env=env)


def _setup_engine(state, host, proc):
    h = state["hosts"][host]
    _wait_dockerd(state, host, proc)
    policy = "DROP" if h["forward_drop"] else "ACCEPT"
    ns_exec(host, "iptables", "-P", "FORWARD", policy)
    images.import_image(h["docker_host"])
    for name in h["containers"]:
        docker(state, host, "run", "-d", "--name", name, "--hostname", name,
               "--restart", "no", "--network", "bridge", IMAGE,
               "sh", "-c", APP_CMD)
    fmt = "{{.State.Pid}} {{.NetworkSettings.IPAddress}} {{.Id}}"
    info = {}
    for name in h["containers"]:
        out = docker(state, host, "inspect", "-f", fmt, name).stdout.split()
        info[name] = {"pid": int(out[0]), "address": out[1], "id": out[2]}
    with _lock:
        h["container_info"] = info
        _save(state)


def _write_inventory(state):
    p = state["prefix"]
    common = ("-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
              f"-o ControlPath={state['run_dir']}/cp-%C "
              f"-o ProxyCommand=\"ip netns exec {p}-ctl /bin/busybox nc "
              "%h %p\"")
    q = json.dumps  # a JSON string is a valid YAML scalar
    lines = [
        "# Written by tests/lab/lab.py up; removed by lab.py down.",
        "container_lan:",
        "  vars:",
        "    ansible_user: root",
        f"    ansible_ssh_private_key_file: {q(state['ssh_key'])}",
        f"    ansible_ssh_common_args: {q(common)}",
        "    ansible_python_interpreter: /usr/bin/python3",
        "    ansible_pipelining: true  # what the README recommends: one SSH round trip per task",
        f"    lab_gateway: {q(GATEWAY4)}",
        f"    lab_gateway6: {q(GATEWAY6)}",
        f"    lab_gateway_netns: {q(state['netns_of']['gw'])}",
        f"    lab_client_netns: {q(state['netns_of']['client'])}",
        f"    lab_ctl_netns: {q(state['netns_of']['ctl'])}",
        f"    lab_prefix: {q(p)}",
        f"    lab_state_dir: {q(state['state_dir'])}",
        "  hosts:",
    ]
    for host, h in state["hosts"].items():
        lines += [
            f"    {host}:",
            f"      ansible_host: {q(h['address4'])}",
            f"      lab_netns: {q(host)}",
            f"      lab_uplink: {UPLINK}",
            f"      lab_address: {q(h['address4'] + '/' + str(PLEN4))}",
            f"      lab_address6: {q(h['address6'] + '/' + str(PLEN6))}",
            f"      lab_containers: {q(h['containers'])}",
            f"      lab_forward_drop: {q(h['forward_drop'])}",
            f"      container_lan_docker_host: {q(h['docker_host'])}",
        ]
    path = os.path.join(state["state_dir"], "inventory.yml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    state["inventory"] = path
    _save(state)


def ssh_command(state, host, *cmd):
    """argv that runs ``cmd`` on ``host`` over SSH from the controller."""
    h = state["hosts"][host]
    return ["ip", "netns", "exec", state["netns_of"]["ctl"], "ssh",
            "-i", state["ssh_key"], "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
            f"root@{h['address4']}", *cmd]


# --------------------------------------------------------------------------
# up / down


def _new_state(state_dir, prefix, hosts, containers, forward_drop, podman):
    run_dir = os.path.join(RUN_ROOT, prefix)
    netns_of = {r: f"{prefix}-{r}" for r in ("gw", "client", "ctl")}
    state = {
        "version": 1, "status": "creating", "prefix": prefix,
        "state_dir": state_dir, "run_dir": run_dir,
        "lan_netns": f"{prefix}-lan", "netns_of": netns_of,
        "gateway_if": "eth0", "created_state_dir": False,
        "netns": [], "dirs": [], "processes": [], "cgroups": [],
        "podman": bool(podman), "hosts": {},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    for i, host in enumerate(_host_names(prefix, hosts), start=1):
        hdir = os.path.join(state_dir, f"h{i}")
        hrun = os.path.join(run_dir, f"h{i}")
        state["hosts"][host] = {
            "index": i, "dir": hdir, "run_dir": hrun,
            "address4": f"{LAN4}{10 + i}", "address6": f"{LAN6}{10 + i:x}",
            "uplink": UPLINK,
            "sshd_pidfile": os.path.join(hrun, "sshd.pid"),
            "docker_pidfile": os.path.join(hrun, "docker.pid"),
            "docker_host": f"unix://{hrun}/docker.sock",
            "exec_root": os.path.join(hrun, "x"),
            "docker_data": os.path.join(hdir, "docker"),
            "cgroup_parent": f"/lanbridge-lab-{prefix}-h{i}",
            "forward_drop": i in forward_drop,
            "containers": [f"app{j}" for j in range(1, containers + 1)],
        }
    return state


def _validate(prefix, hosts, containers, forward_drop):
    if not _PREFIX_RE.match(prefix or ""):
        raise LabError(f"prefix {prefix!r}: 1-4 characters [a-z0-9], "
                       "starting with a letter")
    if not 1 <= hosts <= MAX_HOSTS:
        raise LabError(f"hosts {hosts}: must be 1..{MAX_HOSTS}")
    if not 0 <= containers <= MAX_CONTAINERS:
        raise LabError(f"containers {containers}: must be 0..{MAX_CONTAINERS}")
    bad = [i for i in forward_drop if not 1 <= i <= hosts]
    if bad:
        raise LabError(f"forward-drop {bad}: no such host (1..{hosts})")
    if os.geteuid() != 0:
        raise LabError("the lab needs root")


def up(state_dir=None, prefix=None, hosts=2, containers=3, forward_drop=(),
       podman=False):
    """Build the lab; return its state. Tears down a stale lab first."""
    state_dir = resolve_state_dir(state_dir)
    prefix = prefix or os.environ.get("LANBRIDGE_LAB_PREFIX") or "lb"
    forward_drop = sorted({int(i) for i in forward_drop})
    _validate(prefix, hosts, containers, forward_drop)
    if podman:
        raise LabError("podman=True: a Podman service per host is not "
                       "implemented in this lab")
    if load_state(state_dir) is not None:
        print(f"lab: tearing down the stale lab in {state_dir} first",
              file=sys.stderr)
        down(state_dir)
    state = _new_state(state_dir, prefix, hosts, containers, forward_drop,
                       podman)
    # Refuse to collide with another lab using the same prefix.
    mine = [state["lan_netns"], *state["netns_of"].values(), *state["hosts"]]
    taken = [ns for ns in mine if netns_exists(ns)]
    if taken or os.path.exists(state["run_dir"]):
        raise LabError(
            f"prefix {prefix!r} is in use (namespaces {taken or 'none'}, "
            f"{state['run_dir']} exists): another lab runs with this prefix; "
            "use another --prefix or run `down` on its state dir")
    if os.path.isdir(state_dir) and os.listdir(state_dir):
        raise LabError(f"state dir {state_dir} exists and is not empty, "
                       "without a state.json: refusing to use it")
    state["created_state_dir"] = not os.path.isdir(state_dir)
    os.makedirs(state_dir, exist_ok=True)
    _save(state)
    try:
        _mkdir(state, state["run_dir"], 0o711)
        _build_switch(state)
        _ssh_keys(state)
        procs = {}
        for host, h in state["hosts"].items():
            _mkdir(state, h["dir"])
            _mkdir(state, h["run_dir"], 0o711)
            _add_netns(state, host)
            _plug(state, host, UPLINK, f"p-h{h['index']}", h["address4"],
                  h["address6"])
            _start_sshd(state, host)
            procs[host] = _start_dockerd(state, host)
        with ThreadPoolExecutor(max_workers=len(procs)) as pool:
            for fut in [pool.submit(_setup_engine, state, host, proc)
                        for host, proc in procs.items()]:
                fut.result()
        _write_inventory(state)
        _wait_ssh(state)
        state["status"] = "up"
        _save(state)
    except BaseException:
        print("lab: up failed; tearing down what was created",
              file=sys.stderr)
        with contextlib.suppress(Exception):
            down(state_dir)
        raise
    return state


def _wait_ssh(state, timeout=20):
    for host, h in state["hosts"].items():
        deadline = time.monotonic() + timeout
        while True:
            res = _run(*ssh_command(state, host, "true"), check=False,
                       timeout=15)
            if res.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise LabError(f"ssh to {host} ({h['address4']}) failed: "
                               f"{res.stderr.strip()}")
            time.sleep(0.3)


def _lab_roots(state):
    return [os.path.realpath(state["state_dir"]),
            os.path.realpath(state["run_dir"])]


def _mounts_under(roots):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mnt = line.split()[4].replace("\\040", " ")
            if any(mnt == r or mnt.startswith(r + "/") for r in roots):
                out.append(mnt)
    return out


def _stop_process(state, proc):
    ns = proc.get("netns")
    pids = {_read_pid(proc["pidfile"])}
    if proc["name"].startswith("dockerd"):
        pids.add(state["hosts"].get(ns, {}).get("dockerd_pid"))
    want = _ns_inode(f"/run/netns/{ns}") if netns_exists(ns) else None
    # Only signal a pid that still lives in the lab namespace it was started
    # in: a recycled pid belongs to someone else.
    pids = [p for p in pids if p and want is not None
            and _pid_netns_inode(p) == want]
    _kill_wait(pids, signal.SIGTERM, timeout=20)


def _remove_containers(state, host):
    h = state["hosts"][host]
    if not _docker_ping(h["docker_host"][len("unix://"):]):
        return
    res = docker(state, host, "ps", "-aq", check=False, timeout=30)
    ids = res.stdout.split()
    if ids:
        docker(state, host, "rm", "-f", *ids, check=False, timeout=60)


def _kill_cgroup(parent):
    dirs = _cgroup_dirs(parent)
    for _attempt in range(3):
        pids = set()
        for d in dirs:
            for root, _sub, files in os.walk(d):
                if "cgroup.procs" in files:
                    with contextlib.suppress(OSError), \
                            open(os.path.join(root, "cgroup.procs")) as f:
                        pids.update(int(p) for p in f.read().split())
        if not pids:
            break
        _kill_wait(sorted(pids), signal.SIGKILL, timeout=5)
    for d in dirs:
        for root, subdirs, _files in os.walk(d, topdown=False):
            for s in subdirs:
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(root, s))
        with contextlib.suppress(OSError):
            os.rmdir(d)


def down(state_dir=None):
    """Remove everything the lab in ``state_dir`` created. Safe to repeat."""
    state_dir = resolve_state_dir(state_dir)
    state = load_state(state_dir)
    if state is None:
        return False
    state["status"] = "removing"
    with contextlib.suppress(OSError):
        _save(state)
    lab_ns = list(state["netns"])
    # 1. containers (fast, SIGKILL), then the daemons, gracefully
    hosts = [h for h in state["hosts"] if h in lab_ns]
    if hosts:
        with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
            list(pool.map(lambda h: _remove_containers(state, h), hosts))
    procs = list(state["processes"])
    if procs:
        with ThreadPoolExecutor(max_workers=len(procs)) as pool:
            list(pool.map(lambda p: _stop_process(state, p), procs))
    # 2. whatever still runs in the lab's cgroups or namespaces
    for parent in state["cgroups"]:
        _kill_cgroup(parent)
    for ns in lab_ns:
        _kill_wait(_netns_pids(ns), signal.SIGKILL, timeout=5)
    # 3. mounts under the lab's dirs (docker netns files, vfs data root)
    for _attempt in range(3):
        mounts = _mounts_under(_lab_roots(state))
        if not mounts:
            break
        for mnt in sorted(mounts, key=len, reverse=True):
            if _run("umount", mnt, check=False).returncode != 0:
                _run("umount", "-l", mnt, check=False)
    # 4. namespaces, switch first (deleting it removes the veth pairs)
    for ns in reversed(lab_ns):
        if netns_exists(ns):
            _run("ip", "netns", "del", ns, check=False)
    # 5. dirs and files
    for d in sorted(state["dirs"], key=len, reverse=True):
        shutil.rmtree(d, ignore_errors=True)
    with contextlib.suppress(OSError):
        os.rmdir(RUN_ROOT)  # only when no other lab uses it
    for name in ("inventory.yml", "state.json.tmp", "state.json"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(state_dir, name))
    if state.get("created_state_dir"):
        shutil.rmtree(state_dir, ignore_errors=True)
    return True


def set_gateway(state_dir=None, up=True):
    """Make the LAN gateway reachable (up) or unreachable (down).

    Runs ``ip -n {P}-gw link set eth0 up|down``.
    """
    state = load_state(state_dir)
    if state is None:
        raise LabError(f"no lab in {resolve_state_dir(state_dir)}")
    ip(state["netns_of"]["gw"], "link", "set", state["gateway_if"],
       "up" if up else "down")


# --------------------------------------------------------------------------
# status and summary


def status(state_dir=None):
    """Return (healthy, lines) describing the lab in ``state_dir``."""
    state = load_state(state_dir)
    if state is None:
        return None, [f"no lab in {resolve_state_dir(state_dir)}"]
    ok = state.get("status") == "up"
    lines = [f"lab {state['prefix']} ({state['status']}) in "
             f"{state['state_dir']}"]
    for ns in state["netns"]:
        there = netns_exists(ns)
        ok &= there
        lines.append(f"  netns {ns}: {'present' if there else 'MISSING'}")
    for proc in state["processes"]:
        pid = _read_pid(proc["pidfile"])
        alive = bool(pid) and _pid_alive(pid)
        ok &= alive
        lines.append(f"  {proc['name']}: "
                     f"{'pid ' + str(pid) if alive else 'NOT RUNNING'}")
    for host, h in state["hosts"].items():
        for name, c in h.get("container_info", {}).items():
            alive = _pid_alive(c["pid"])
            ok &= alive
            lines.append(f"  {host} {name} {c['address']}: "
                         f"{'running' if alive else 'NOT RUNNING'}")
    gw = state["netns_of"]["gw"]
    if netns_exists(gw):
        res = ip(gw, "-br", "link", "show", state["gateway_if"], check=False)
        words = res.stdout.split()
        lines.append(f"  gateway {GATEWAY4} ({gw} {state['gateway_if']}): "
                     f"{words[1] if len(words) > 1 else 'MISSING'}")
    return ok, lines


def summary(state):
    p = state["prefix"]
    lines = [
        f"lab {p} is up (state {state['state_dir']})",
        f"  namespaces: {', '.join(state['netns'])}",
        f"  switch {SWITCH} in {state['lan_netns']}; gateway {GATEWAY4} "
        f"({state['netns_of']['gw']}), client {CLIENT4} "
        f"({state['netns_of']['client']}), controller {CTL4} "
        f"({state['netns_of']['ctl']})",
        f"  inventory: {state['inventory']}",
    ]
    for host, h in state["hosts"].items():
        fwd = "DROP" if h["forward_drop"] else "ACCEPT"
        lines.append(f"  {host}: {UPLINK} {h['address4']}/{PLEN4} "
                     f"{h['address6']}/{PLEN6}, FORWARD {fwd}, "
                     f"DOCKER_HOST={h['docker_host']}")
        lines.append(f"    ssh: {shlex.join(ssh_command(state, host))}")
        for name, c in h.get("container_info", {}).items():
            lines.append(f"    {name}: {c['address']} (pid {c['pid']})")
    return "\n".join(lines)


def _parse_drop(text):
    if not text:
        return ()
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"--forward-drop {text!r}: comma-separated host numbers") from e


def main(argv=None):
    ap = argparse.ArgumentParser(prog="lab.py", description=__doc__.split("\n\n", maxsplit=1)[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", default=None,
                        help="default: $LANBRIDGE_LAB_DIR or <repo>/.lab")
    p_up = sub.add_parser("up", parents=[common], help="build the lab")
    p_up.add_argument("--prefix", default=None,
                      help="namespace prefix, <= 4 chars "
                           "(default: $LANBRIDGE_LAB_PREFIX or lb)")
    p_up.add_argument("--hosts", type=int, default=2)
    p_up.add_argument("--containers", type=int, default=3)
    p_up.add_argument("--forward-drop", type=_parse_drop, default=(),
                      help="comma-separated host numbers that keep "
                           "iptables -P FORWARD DROP")
    sub.add_parser("down", parents=[common], help="remove the lab")
    sub.add_parser("status", parents=[common], help="show the lab")
    p_gw = sub.add_parser("gateway", parents=[common],
                          help="set the gateway's link up or down")
    p_gw.add_argument("state", choices=("up", "down"))
    args = ap.parse_args(argv)
    try:
        if args.cmd == "up":
            t0 = time.monotonic()
            state = up(args.state_dir, args.prefix, args.hosts,
                       args.containers, args.forward_drop)
            print(summary(state))
            print(f"  up took {time.monotonic() - t0:.1f}s")
        elif args.cmd == "down":
            t0 = time.monotonic()
            done = down(args.state_dir)
            print(f"lab removed in {time.monotonic() - t0:.1f}s" if done
                  else f"no lab in {resolve_state_dir(args.state_dir)}")
        elif args.cmd == "status":
            ok, lines = status(args.state_dir)
            print("\n".join(lines))
            return 3 if ok is None else (0 if ok else 1)
        elif args.cmd == "gateway":
            set_gateway(args.state_dir, args.state == "up")
    except LabError as e:
        print(f"lab: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
