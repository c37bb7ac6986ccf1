"""Booted lab hosts: Debian 12 or 13 booted with systemd-nspawn in the host's namespace.

The namespace ``{P}-h{i}`` is the host's hardware: its ``em1`` (a fixed MAC)
is the far end of a switch port. The host's root is an overlay: the cached
image (osimage.py) below, the host's disk (``{state}/h{i}/disk``) above. The
host runs its own systemd, journald, sshd (``ssh.service``), exactly one
network manager that owns ``em1`` (systemd-networkd, ifupdown or
NetworkManager, or netplan rendering for networkd or NetworkManager, static
or DHCP, in that manager's own files) and Docker (``docker.service``, vfs
storage); a Podman host also Podman 5 (``podman.socket``).

The recipe that works on a cgroup v1 hybrid host: nspawn with the unified
hierarchy (runc needs it), ``@keyring`` allowed (runc's session keyring),
``/proc/sys/net`` writable (dockerd turns on forwarding) and all
capabilities (networkd needs CAP_NET_ADMIN). Debian 13's systemd 257 boots
with the same settings (it finds cgroup2 at /sys/fs/cgroup). Each nspawn starts in a cgroup
of its own (``/lanbridge-lab-{P}-h{i}``) so the hosts' systemds do not share
one. The booted system is entered with ``nsenter -t LEADER -m -u -i -n -p -C``
where LEADER is the container's PID 1 (the nspawn process's child systemd).
"""

import json
import os
import shutil
import subprocess
import time
import uuid

from . import _state, netplan_site, osimage
from ._const import (GATEWAY4, GATEWAY6, MAC_PREFIX, PLEN4, PLEN6, UPLINK,
                     LabError)
from ._proc import children, kill_wait, pid_alive, read_pid, run

MANAGERS = {
    "networkd": "systemd-networkd.service",
    "ifupdown": "networking.service",
    "networkmanager": "NetworkManager.service",
}
# A host kind: (manager, renderer); the netplan kinds are netplan rendering for another manager.
KINDS = {
    "networkd": ("networkd", None),
    "ifupdown": ("ifupdown", None),
    "networkmanager": ("networkmanager", None),
    "netplan": ("netplan", "networkd"),
    "netplan-nm": ("netplan", "networkmanager"),
}
# The kinds of each release, with the image extras each needs.
RELEASE_KINDS = {
    "12": {"networkd": (), "ifupdown": (), "networkmanager": (),
           "netplan": ("netplan",), "netplan-nm": ("netplan",)},
    "13": {"networkd": (), "networkmanager": (), "netplan": (), "netplan-nm": ()},
}
# A Podman host's API (podman.socket, root): for `podman --url` and the agent.
PODMAN_SOCKET = "podman.socket"
PODMAN_URL = "unix:///run/podman/podman.sock"
ADDRESSING = ("static", "dhcp")
EXEC_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8", "HOME": "/root", "TERM": "dumb"}
NSPAWN_ENV = {"SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1",
              "SYSTEMD_NSPAWN_API_VFS_WRITABLE": "network"}
# The cgroup hierarchies an nspawn process is placed in before it starts.
NSPAWN_HIERARCHIES = ("unified", "systemd")
NSPAWN_RUN = "/run/systemd/nspawn"
CGROUP_ROOT_DIR = "/sys/fs/cgroup"
# The tools a booted host needs on the machine, with the Debian package that has each (make deps).
TOOLS = (("systemd-nspawn", "systemd-container"), ("mmdebstrap", "mmdebstrap"),
         ("nsenter", "util-linux"), ("ssh-keygen", "openssh-client"))
# Set to 1 to skip the tests on booted hosts on purpose (they fail when they cannot run).
SKIP_ENV = "LANBRIDGE_SKIP_BOOTED"


def missing_requirements():
    """What this machine lacks to boot lab hosts, one phrase each (empty: nothing)."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (the lab creates namespaces, mounts and cgroups)")
    for tool, package in TOOLS:
        if not shutil.which(tool):
            missing.append(f"{tool} (Debian package {package}; make deps installs it)")
    dirs = [os.path.join(CGROUP_ROOT_DIR, h) for h in NSPAWN_HIERARCHIES]
    if not all(os.path.isdir(d) for d in dirs):
        missing.append(
            "the cgroup v1 hybrid layout (" + " and ".join(dirs) + "): each host's "
            "systemd-nspawn is started in a cgroup of its own in both, and Docker inside "
            "needs the cgroup2 hierarchy; a machine with only cgroup v2 or only v1 lacks it "
            "(a systemd machine gets it by booting with systemd.unified_cgroup_hierarchy=0)")
    return missing


def requirement_error(missing=None):
    """The sentence naming what is missing, or None when booted hosts can run here."""
    missing = missing_requirements() if missing is None else missing
    if not missing:
        return None
    return "booted lab hosts cannot run on this machine, it lacks: " + "; ".join(missing)


def verdict_for_tests(extra=()):
    """For a test of booted hosts: None (it can run), or ``(skip, sentence)``.

    ``skip`` is true only when the operator asked for it (``LANBRIDGE_SKIP_BOOTED=1``); otherwise
    the test must fail with the sentence, so a test that cannot run never counts as passed.
    ``extra``: further phrases of what is missing (a test's own needs).
    """
    why = requirement_error(missing_requirements() + list(extra))
    if why is None:
        return None
    if os.environ.get(SKIP_ENV) == "1":
        return True, f"{why} (skipped: {SKIP_ENV}=1)"
    return False, (f"{why}. The tests on booted hosts fail rather than skip: install what is "
                   f"missing, or set {SKIP_ENV}=1 to skip them on purpose")


def parse_kind(text):
    """``KIND[:ADDRESSING][@RELEASE][+podman]`` -> the host's kind, as a dict.

    KIND one of KINDS, ADDRESSING static (default) or dhcp, RELEASE 12
    (default) or 13 (or bookworm, trixie); ``+podman`` adds Podman 5 (Debian 13).
    Keys: kind, manager, renderer (None but for netplan), addressing, release, extras.
    """
    body, *extras = (text or "").strip().split("+")
    body, _sep, release = body.partition("@")
    kind, _sep, addressing = body.partition(":")
    kind = {"nm": "networkmanager", "NetworkManager": "networkmanager",
            "systemd-networkd": "networkd"}.get(kind, kind)
    addressing = addressing or "static"
    release = osimage.RELEASE_ALIASES.get(release, release or osimage.DEFAULT_RELEASE)
    if kind not in KINDS or addressing not in ADDRESSING or release not in RELEASE_KINDS:
        raise LabError(f"booted host {text!r}: want KIND[:ADDRESSING][@RELEASE][+podman] with "
                       f"KIND one of {', '.join(KINDS)}, ADDRESSING "
                       f"one of {', '.join(ADDRESSING)} and RELEASE one of {', '.join(RELEASE_KINDS)}")
    if kind not in RELEASE_KINDS[release]:
        raise LabError(f"booted host {text!r}: Debian {release} hosts are "
                       f"{', '.join(RELEASE_KINDS[release])}")
    extras = tuple(sorted(set(RELEASE_KINDS[release][kind]) | set(extras)))
    osimage.image_for(release, extras)  # refuses an extra the release does not offer
    manager, renderer = KINDS[kind]
    return {"kind": kind, "manager": manager, "renderer": renderer,
            "addressing": addressing, "release": release, "extras": extras}


def parse_spec(text):
    """``KIND[:ADDRESSING][@RELEASE][+podman]`` -> (manager, addressing)."""
    kind = parse_kind(text)
    return kind["manager"], kind["addressing"]


def image_of(h):
    """The osimage.Image host ``h`` boots from."""
    return osimage.image_for(h.get("release", osimage.DEFAULT_RELEASE), tuple(h.get("extras", ())))


def manager_unit(h):
    """The unit of the network manager that owns em1 (netplan: its renderer's)."""
    return MANAGERS[h.get("renderer") or h["manager"]]


def host_fields(state_dir, run_dir, prefix, i, spec):
    """The state of booted host ``i`` (merged into the host's state dict)."""
    kind = parse_kind(spec)
    hdir = os.path.join(state_dir, f"h{i}")
    hrun = os.path.join(run_dir, f"h{i}")
    return {
        "booted": True, "netns": f"{prefix}-h{i}", **kind,
        "podman_socket": PODMAN_URL if "podman" in kind["extras"] else None,
        "mac": f"{MAC_PREFIX}:{i:02x}",
        "disk": os.path.join(hdir, "disk"),
        "root": os.path.join(hrun, "root"),
        "nspawn_pidfile": os.path.join(hrun, "nspawn.pid"),
        "console": os.path.join(hdir, "console.log"),
        "docker_host": "unix:///run/docker.sock",
        "cgroup_parent": f"/lanbridge-lab-{prefix}-h{i}",
        "boots": [],
    }


# --------------------------------------------------------------------------
# the running system


def nspawn_pid(h):
    """The host's systemd-nspawn process, or None when it is not running."""
    pid = read_pid(h["nspawn_pidfile"])
    if not pid or not pid_alive(pid):
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return None
    # a recycled pid is someone else's: it must be our nspawn for our root
    if not argv or not argv[0].endswith(b"systemd-nspawn") \
            or h["root"].encode() not in argv:
        return None
    return pid


def leader(h):
    """PID (here) of the booted system's PID 1, or None."""
    pid = nspawn_pid(h)
    if pid is None:
        return None
    for child in children(pid):
        try:
            with open(f"/proc/{child}/comm") as f:
                if f.read().strip() == "systemd":
                    return child
        except OSError:
            continue
    return None


def exec_argv(h):
    """argv prefix that runs a command inside the booted system."""
    pid = leader(h)
    if pid is None:
        raise LabError(f"booted host {h['netns']} is not running")
    return ["nsenter", "-t", str(pid), "-m", "-u", "-i", "-n", "-p", "-C",
            "--"]


def exec_in(h, *cmd, check=True, timeout=60, input=None):
    return run(*exec_argv(h), *cmd, check=check, timeout=timeout,
               env=EXEC_ENV, input=input)


def outer_pid(h, inner):
    """The PID here of the process that is ``inner`` in the booted system."""
    top = leader(h)
    if top is None:
        return 0
    want = os.stat(f"/proc/{top}/ns/pid").st_ino
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                nspid = next((line.split()[1:] for line in f
                              if line.startswith("NSpid:")), [])
            if len(nspid) < 2 or int(nspid[1]) != inner:
                continue
            # the process is in the host's pid namespace or below it
            pid = int(entry)
            while pid > 1:
                if pid == top or os.stat(f"/proc/{pid}/ns/pid").st_ino == want:
                    return int(entry)
                with open(f"/proc/{pid}/stat") as f:
                    pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, StopIteration):
            continue
    return 0


def import_image(h):
    """Import the lab's busybox image (shipped in the OS image) into the host's Docker."""
    if exec_in(h, "docker", "image", "inspect", osimage.images.IMAGE,
               check=False).returncode == 0:
        return
    last = None
    for _attempt in range(5):
        res = exec_in(h, "docker", "import", "--change", 'CMD ["/bin/sh"]',
                      osimage.IMAGE_TAR, osimage.images.IMAGE, check=False,
                      timeout=120)
        if res.returncode == 0:
            return
        last = res
        time.sleep(1)
    raise LabError(f"docker import in {h['netns']} failed: {last.stderr.strip()}")


# --------------------------------------------------------------------------
# the disk


def _write(root, path, text, mode=0o644):
    full = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        f.write(text)
    os.chmod(full, mode)


def manager_files(h):
    """{path: (text, mode)}: em1's configuration in the manager's own format."""
    a4 = f"{h['address4']}/{PLEN4}"
    a6 = f"{h['address6']}/{PLEN6}"
    dhcp = h["addressing"] == "dhcp"
    if h["manager"] == "netplan":
        return {netplan_site.PATH: (netplan_site.site_yaml(h["renderer"], dhcp, a4, a6),
                                    netplan_site.MODE)}
    if h["manager"] == "networkd":
        lines = ["[Match]", f"Name={UPLINK}", "", "[Network]"]
        lines += ["DHCP=ipv4"] if dhcp else [f"Address={a4}", f"Gateway={GATEWAY4}"]
        lines += [f"Address={a6}", f"Gateway={GATEWAY6}", "IPv6AcceptRA=no", ""]
        return {f"/etc/systemd/network/10-{UPLINK}.network": ("\n".join(lines), 0o644)}
    if h["manager"] == "ifupdown":
        lines = ["# interfaces(5) file used by ifup(8) and ifdown(8)",
                 "source /etc/network/interfaces.d/*", "",
                 "auto lo", "iface lo inet loopback", "",
                 f"auto {UPLINK}"]
        if dhcp:
            lines += [f"iface {UPLINK} inet dhcp"]
        else:
            lines += [f"iface {UPLINK} inet static", f"    address {a4}",
                      f"    gateway {GATEWAY4}"]
        lines += [f"iface {UPLINK} inet6 static", f"    address {a6}",
                  f"    gateway {GATEWAY6}", "    accept_ra 0", ""]
        return {"/etc/network/interfaces": ("\n".join(lines), 0o644)}
    ipv4 = ["method=auto"] if dhcp else ["method=manual", f"address1={a4},{GATEWAY4}"]
    lines = ["[connection]", f"id={UPLINK}",
             f"uuid={uuid.uuid5(uuid.NAMESPACE_DNS, h['netns'] + '.' + UPLINK)}",
             "type=ethernet", f"interface-name={UPLINK}", "autoconnect=true", "",
             "[ethernet]", "", "[ipv4]", *ipv4, "",
             "[ipv6]", "method=manual", f"address1={a6},{GATEWAY6}",
             "addr-gen-mode=eui64", ""]
    return {f"/etc/NetworkManager/system-connections/{UPLINK}.nmconnection":
            ("\n".join(lines), 0o600)}


FORWARD_UNIT = """\
[Unit]
Description=lanbridge lab: iptables FORWARD policy {policy} once Docker has set its own
After=docker.service
Requires=docker.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/iptables -P FORWARD {policy}

[Install]
WantedBy=multi-user.target
"""


def mount_disk(state, host):
    """Mount the host's root: the cached image below, the host's disk above."""
    h = state["hosts"][host]
    lower = osimage.rootfs(image_of(h))
    upper = os.path.join(h["disk"], "upper")
    work = os.path.join(h["disk"], "work")
    for d in (h["disk"], upper, work):
        os.makedirs(d, exist_ok=True)
    _state.mkdir(state, h["root"], 0o755)
    _state.record(state, "mounts", h["root"])
    run("mount", "-t", "overlay", "overlay", "-o",
        f"lowerdir={lower},upperdir={upper},workdir={work}", h["root"])
    run("mount", "--make-private", h["root"])


def install(state, host):
    """First boot only: what makes this disk this host's."""
    h = state["hosts"][host]
    root = h["root"]
    _write(root, "/etc/hostname", host + "\n")
    with open(os.path.join(root, "etc/hosts"), "a") as f:
        f.write(f"127.0.1.1\t{host}\n")
    _write(root, "/etc/machine-id", uuid.uuid4().hex + "\n", 0o444)
    os.makedirs(os.path.join(root, "root/.ssh"), mode=0o700, exist_ok=True)
    with open(state["ssh_key"] + ".pub") as f:
        _write(root, "/root/.ssh/authorized_keys", f.read(), 0o600)
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{host}",
        "-f", os.path.join(root, "etc/ssh/ssh_host_ed25519_key"))
    for path, (text, mode) in manager_files(h).items():
        _write(root, path, text, mode)
    policy = "DROP" if h["forward_drop"] else "ACCEPT"
    _write(root, "/etc/systemd/system/lab-forward-policy.service",
           FORWARD_UNIT.format(policy=policy))
    units = [manager_unit(h), "lab-forward-policy.service"]
    if h.get("podman_socket"):
        units.append(PODMAN_SOCKET)
    run("systemctl", f"--root={root}", "enable", *units)
    with _state.lock:
        h["installed"] = True
        _state.save(state)


# --------------------------------------------------------------------------
# power


def _cgroup_procs(h):
    out = []
    for hier in NSPAWN_HIERARCHIES:
        d = os.path.join("/sys/fs/cgroup", hier, h["cgroup_parent"].strip("/"))
        os.makedirs(d, exist_ok=True)
        out.append(os.path.join(d, "cgroup.procs"))
    return out


def power_on(state, host):
    """Boot the host from its disk in its (fresh) namespace; do not wait."""
    h = state["hosts"][host]
    why = requirement_error()
    if why:
        raise LabError(why)
    if not os.path.isdir(NSPAWN_RUN):
        _state.record(state, "rmdir_if_empty", f"{NSPAWN_RUN}/propagate")
        _state.record(state, "rmdir_if_empty", f"{NSPAWN_RUN}/locks")
        _state.record(state, "rmdir_if_empty", NSPAWN_RUN)
    _state.record(state, "dirs", f"{NSPAWN_RUN}/propagate/{host}")
    _state.record(state, "cgroups", h["cgroup_parent"])
    _state.record(state, "processes", {"name": f"nspawn {host}", "netns": host,
                                       "pidfile": h["nspawn_pidfile"],
                                       "booted": True})
    procs = _cgroup_procs(h)
    nspawn = ["systemd-nspawn", "-D", h["root"], "--boot", "--register=no",
              "--keep-unit", "-M", host,
              f"--network-namespace-path=/run/netns/{host}",
              "--capability=all", "--system-call-filter=@keyring bpf",
              "--console=read-only", "--link-journal=no",
              "--resolv-conf=off", "--timezone=off"]
    # sh puts itself (the future nspawn: it execs) into the host's cgroups.
    script = 'for f in "$1" "$2"; do echo $$ > "$f"; done; shift 2; exec "$@"'
    env = dict(EXEC_ENV, **NSPAWN_ENV)
    with open(h["console"], "ab") as log:
        log.write(f"\n=== lab: boot {len(h['boots']) + 1} at "
                  f"{time.strftime('%H:%M:%S')}\n".encode())
        log.flush()
        proc = subprocess.Popen(["sh", "-c", script, "lab-boot", *procs, *nspawn],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                env=env, start_new_session=True)
    with open(h["nspawn_pidfile"], "w") as f:
        f.write(f"{proc.pid}\n")
    return proc


def wait_booted(state, host, proc=None, timeout=180):
    """Wait until the system has finished booting and Docker answers."""
    h = state["hosts"][host]
    t0 = time.monotonic()
    deadline = t0 + timeout
    while leader(h) is None:
        if proc is not None and proc.poll() is not None:
            raise LabError(f"systemd-nspawn for {host} exited ({proc.returncode}); "
                           f"see {h['console']}")
        if time.monotonic() > deadline:
            raise LabError(f"{host} did not start within {timeout}s; see {h['console']}")
        time.sleep(0.1)
    res = None
    while time.monotonic() < deadline:
        res = exec_in(h, "systemctl", "is-system-running", "--wait",
                      check=False, timeout=max(1, deadline - time.monotonic()))
        if res.stdout.strip() in ("running", "degraded"):
            break
        time.sleep(0.2)
    else:
        raise LabError(f"{host} did not finish booting within {timeout}s: "
                       f"{res.stdout.strip() if res else '?'}; see {h['console']}")
    system = res.stdout.strip()
    failed = exec_in(h, "systemctl", "--failed", "--plain", "--no-legend",
                     check=False).stdout.split("\n")
    while exec_in(h, "docker", "version", check=False).returncode != 0:
        if time.monotonic() > deadline:
            raise LabError(f"docker.service on {host} does not answer")
        time.sleep(0.2)
    with _state.lock:
        h["system_state"] = system
        h["failed_units"] = [line.split()[0] for line in failed if line.strip()]
        h["boots"].append({"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                           "seconds": round(time.monotonic() - t0, 1)})
        _state.save(state)
    return system


def power_off(state, host, timeout=60):
    """The system's own ``systemctl poweroff``; then make sure nspawn is gone."""
    h = state["hosts"][host]
    pid = nspawn_pid(h)
    if pid is None:
        return
    if leader(h) is not None:
        exec_in(h, "systemctl", "poweroff", check=False, timeout=30)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if pid_alive(pid):
        kill_wait([pid], timeout=10)  # nspawn: SIGTERM asks the system to stop
    with _state.lock:
        h.pop("container_info", None)
        _state.save(state)


def forget_pidfile(h):
    with open(h["nspawn_pidfile"], "w"):
        pass


def console_tail(h, n=20):
    try:
        with open(h["console"], errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def describe(h):
    """A one-line summary of what runs on the booted host."""
    return json.dumps({"kind": h.get("kind", h["manager"]), "release": h.get("release", "12"),
                       "manager": h["manager"], "addressing": h["addressing"],
                       "system": h.get("system_state"),
                       "failed": h.get("failed_units", [])})


def remove_nspawn_dirs(state):
    for d in state.get("rmdir_if_empty", []):
        try:
            os.rmdir(d)
        except OSError:
            pass
