"""Bring the lab up, tear it down, reboot and flap its hosts, report on it.

State: ``state.json`` in the state directory records every namespace, dir,
mount, process and cgroup *before* it is created, so ``down`` removes exactly
what ``up`` made, also after a crashed ``up``, and is safe to run twice.
``owner.json`` in ``/run/lanbridge-lab/{P}`` names the state dir and the
process the lab lasts for, so ``up`` reclaims a lab whose owner is gone.

Outside its state dir and ``/run/lanbridge-lab/{P}`` the lab leaves only
what the tools themselves insist on, empty and shared with any other engine:
``/run/docker/plugins`` and ``/run/containerd/s`` (hard-coded in dockerd and
containerd 1.6) and ``/run/sshd`` (sshd's privilege separation dir); and the
booted hosts' image cache (osimage.py), which is reused by the next lab.
"""

import contextlib
import os
import shlex
import shutil
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from . import _state, dhcp, engines, osimage, podman, sshd, topology
from . import booted as _boot
from ._const import (CLIENT4, CTL4, GATEWAY4, LAN4, LAN6, MAX_CONTAINERS,
                     MAX_HOSTS, PLEN4, PLEN6, PREFIX_RE, RUN_ROOT, SWITCH,
                     UPLINK, LabError)
from ._proc import (ip, kill_cgroup, kill_wait, netns_exists, netns_pids,
                    ns_inode, pid_alive, pid_netns_inode, read_pid, run,
                    umount_under)
from ._state import load_state, resolve_state_dir
from .inventory import write_inventory


ENGINES = ("docker", "podman", "both")


def parse_engines(spec, hosts, booted_count=0):
    """``--engine``: one of ENGINES for every host, or one per host, comma-separated.

    ``podman`` (or ``both``, Podman beside Docker) gives a bare host a Podman
    service; booted hosts run Docker only. Returns a tuple with one engine
    per host, hosts 1, 2, ...; a short list leaves the rest on ``docker``.
    """
    if not spec:
        spec = ()
    if isinstance(spec, str):
        spec = [s.strip() for s in spec.split(",")]
    spec = [s.strip() or "docker" for s in spec]
    bad = [s for s in spec if s not in ENGINES]
    if bad:
        raise LabError(f"engine {bad[0]!r}: one of {', '.join(ENGINES)}")
    if len(spec) == 1:  # one value for every bare host (booted: docker.service)
        spec = ["docker"] * booted_count + spec * (hosts - booted_count)
    if len(spec) > hosts:
        raise LabError(f"engine: {len(spec)} engines listed, but only "
                       f"{hosts} host(s)")
    spec = spec + ["docker"] * (hosts - len(spec))
    for i, engine in enumerate(spec, start=1):
        if i <= booted_count and engine != "docker":
            raise LabError(f"engine {engine!r} for host {i}: a booted host "
                           "runs Docker (its docker.service) only")
    return tuple(spec)


def _new_state(state_dir, prefix, hosts, containers, forward_drop, engine_list=(),
               booted_specs=()):
    run_dir = os.path.join(RUN_ROOT, prefix)
    netns_of = {r: f"{prefix}-{r}" for r in ("gw", "client", "ctl")}
    state = {
        "version": 1, "status": "creating", "prefix": prefix,
        "state_dir": state_dir, "run_dir": run_dir,
        "lan_netns": f"{prefix}-lan", "netns_of": netns_of,
        "gateway_if": "eth0", "created_state_dir": False,
        "netns": [], "dirs": [], "processes": [], "cgroups": [],
        "mounts": [], "files": [], "written": [], "rmdir_if_empty": [],
        "podman": any(e != "docker" for e in engine_list), "hosts": {},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    for i, host in enumerate(topology.host_names(prefix, hosts), start=1):
        hdir = os.path.join(state_dir, f"h{i}")
        hrun = os.path.join(run_dir, f"h{i}")
        h = state["hosts"][host] = {
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
            "engine": engine_list[i - 1] if engine_list else "docker",
        }
        if h["engine"] != "docker":
            h.update(podman.paths(hdir, hrun))
        if h["engine"] == "both":
            h["podman_containers"] = [f"papp{j}"
                                      for j in range(1, containers + 1)]
        if i <= len(booted_specs):
            h.update(_boot.host_fields(state_dir, run_dir, prefix, i,
                                       booted_specs[i - 1]))
    return state


def _validate(prefix, hosts, containers, forward_drop, booted_specs=()):
    if not PREFIX_RE.match(prefix or ""):
        raise LabError(f"prefix {prefix!r}: 1-4 characters [a-z0-9], "
                       "starting with a letter")
    if not 1 <= hosts <= MAX_HOSTS:
        raise LabError(f"hosts {hosts}: must be 1..{MAX_HOSTS}")
    if not 0 <= containers <= MAX_CONTAINERS:
        raise LabError(f"containers {containers}: must be 0..{MAX_CONTAINERS}")
    bad = [i for i in forward_drop if not 1 <= i <= hosts]
    if bad:
        raise LabError(f"forward-drop {bad}: no such host (1..{hosts})")
    if len(booted_specs) > hosts:
        raise LabError(f"booted: {len(booted_specs)} hosts listed, but only "
                       f"{hosts} host(s)")
    for spec in booted_specs:
        _boot.parse_spec(spec)
    if os.geteuid() != 0:
        raise LabError("the lab needs root")
    if booted_specs:  # before anything is created: name everything that is missing at once
        why = _boot.requirement_error()
        if why:
            raise LabError(why)


def _split_specs(booted_specs):
    if not booted_specs:
        return ()
    if isinstance(booted_specs, str):
        booted_specs = booted_specs.split(",")
    return tuple(s.strip() for s in booted_specs if s.strip())


def up(state_dir=None, prefix=None, hosts=None, containers=3, forward_drop=(),
       podman=False, booted=(), engine=None, owner=None):
    """Build the lab; return its state. Tears down a stale lab first.

    ``owner``: the pid of the process whose life the lab lasts for (a test
    fixture passes ``os.getpid()``), written with the state dir to
    ``{run_dir}/owner.json``. When the prefix is in use by a lab whose owner
    is gone (exited, or its pid reused), that lab is torn down first; a lab
    of a live owner, or one without an owner (``lab.py up``: the lab outlives
    the command), is refused.

    ``booted``: one ``MANAGER[:ADDRESSING]`` per booted host, for hosts 1, 2,
    ...; the other hosts are bare namespaces. ``hosts`` defaults to 2, or to
    the number of booted hosts when there are any.

    ``engine``: ``docker`` (the default), ``podman`` or ``both`` for every
    bare host, or one per host, comma-separated (``podman,docker``); see
    ``parse_engines``. ``podman=True`` is ``engine="both"`` (Podman beside
    Docker on every bare host).
    """
    booted_specs = _split_specs(booted)
    if hosts is None:
        hosts = len(booted_specs) or 2
    state_dir = resolve_state_dir(state_dir)
    prefix = prefix or os.environ.get("LANBRIDGE_LAB_PREFIX") or "lb"
    forward_drop = sorted({int(i) for i in forward_drop})
    _validate(prefix, hosts, containers, forward_drop, booted_specs)
    if podman and not engine:
        engine = "both"
    engine_list = parse_engines(engine, hosts, len(booted_specs))
    owner = _state.owner_record(owner)
    if load_state(state_dir) is not None:
        print(f"lab: tearing down the stale lab in {state_dir} first",
              file=sys.stderr)
        down(state_dir)
    state = _new_state(state_dir, prefix, hosts, containers, forward_drop,
                       engine_list, booted_specs)
    # Refuse to collide with another lab using the same prefix, unless the
    # process that lab lasted for is gone: then it is stale, reclaim it.
    taken = _in_use(state)
    if taken is not None:
        stale = _stale_owner(state)
        if stale:
            print(f"lab: reclaiming the lab with prefix {prefix!r} left by pid "
                  f"{stale['pid']}, which is gone (state in "
                  f"{stale['state_dir']})", file=sys.stderr)
            down(stale["state_dir"])
            taken = _in_use(state)
    if taken is not None:
        raise LabError(
            f"prefix {prefix!r} is in use (namespaces {taken or 'none'}, "
            f"{state['run_dir']} exists): another lab runs with this prefix; "
            "use another --prefix or run `down` on its state dir"
            + _owner_note(state["run_dir"]))
    if os.path.isdir(state_dir) and os.listdir(state_dir):
        raise LabError(f"state dir {state_dir} exists and is not empty, "
                       "without a state.json: refusing to use it")
    state["created_state_dir"] = not os.path.isdir(state_dir)
    os.makedirs(state_dir, exist_ok=True)
    _state.save(state)
    try:
        for image in sorted({_boot.image_of(h) for h in state["hosts"].values()
                             if h.get("booted")}, key=lambda i: i.name):
            osimage.ensure_image(
                log=lambda m: print(m, file=sys.stderr),
                before_create=lambda p: _state.record(
                    state, "files" if p.endswith(".lock") else "dirs", p),
                image=image)
        _state.mkdir(state, state["run_dir"], 0o711)
        _state.write_owner(state, owner)
        topology.build_switch(state)
        sshd.ssh_keys(state)
        if dhcp.needed(state):
            dhcp.start(state)
        procs, boots = {}, {}
        for host, h in state["hosts"].items():
            _state.mkdir(state, h["dir"])
            _state.mkdir(state, h["run_dir"], 0o711)
            _state.add_netns(state, host)
            if h.get("booted"):
                # the hardware: an em1 with its MAC, down, no address
                topology.plug(state, host, UPLINK, topology.port_of(h),
                              route=False, mac=h["mac"], up=False)
                _boot.mount_disk(state, host)
                _boot.install(state, host)
                boots[host] = _boot.power_on(state, host)
                continue
            topology.plug(state, host, UPLINK, topology.port_of(h),
                          h["address4"], h["address6"])
            sshd.start_sshd(state, host)
            procs[host] = engines.start(state, host)
        jobs = [(engines.setup_engine, host, proc) for host, proc in procs.items()]
        jobs += [(_finish_boot, host, proc) for host, proc in boots.items()]
        with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
            for fut in [pool.submit(fn, state, host, proc)
                        for fn, host, proc in jobs]:
                fut.result()
        write_inventory(state)
        sshd.wait_ssh(state)
        state["status"] = "up"
        _state.save(state)
    except BaseException:
        print("lab: up failed; tearing down what was created",
              file=sys.stderr)
        with contextlib.suppress(Exception):
            down(state_dir)
        raise
    return state


def _in_use(state):
    """None when the lab's prefix is free, else its namespaces that exist."""
    mine = [state["lan_netns"], *state["netns_of"].values(), *state["hosts"]]
    taken = [ns for ns in mine if netns_exists(ns)]
    if taken or os.path.exists(state["run_dir"]):
        return taken
    return None


def _stale_owner(state):
    """The owner record of the lab in ``state``'s run dir when it can be reclaimed.

    That is: it names an owner pid that is gone (no such process, or one
    that started at another time: the pid was reused) and a state dir that
    holds the state of a lab with this prefix, so ``down`` knows what to
    remove. Otherwise None.
    """
    owner = _state.read_owner(state["run_dir"])
    if not owner or owner.get("pid") is None or not owner.get("state_dir"):
        return None
    if _state.owner_alive(owner):
        return None
    try:
        other = load_state(owner["state_dir"])
    except (OSError, ValueError):
        return None
    if not isinstance(other, dict) or other.get("prefix") != state["prefix"] \
            or other.get("run_dir") != state["run_dir"]:
        return None
    return owner


def _owner_note(run_dir):
    """What owner.json in ``run_dir`` says, for the in-use error ("" if nothing)."""
    owner = _state.read_owner(run_dir)
    if not owner:
        return ""
    where = f"; its state dir: {owner.get('state_dir')}"
    if owner.get("pid") is None:
        return where + " (no owner process, e.g. `lab.py up`: not reclaimed automatically)"
    if _state.owner_alive(owner):
        return where + f" (owner pid {owner['pid']} is alive)"
    return where + (f" (owner pid {owner['pid']} is gone, but that dir holds "
                    "no state.json of this lab: remove the lab by hand)")


def _finish_boot(state, host, proc):
    _boot.wait_booted(state, host, proc)
    h = state["hosts"][host]
    if not h.get("container_info") and not h.get("containers_started"):
        engines.start_containers(state, host)
        with _state.lock:
            h["containers_started"] = True
            _state.save(state)
    else:
        _wait_containers(state, host)


def _wait_containers(state, host, timeout=60):
    """After a reboot: Docker restarts the `--restart always` containers."""
    h = state["hosts"][host]
    deadline = time.monotonic() + timeout
    while True:
        names = engines.docker(state, host, "ps", "--format", "{{.Names}}",
                               check=False).stdout.split()
        if set(h["containers"]) <= set(names):
            break
        if time.monotonic() > deadline:
            raise LabError(f"{host}: containers {h['containers']} not running "
                           f"again after the reboot (running: {names})")
        time.sleep(0.3)
    engines.record_containers(state, host)


def _lab_roots(state):
    return [os.path.realpath(state["state_dir"]),
            os.path.realpath(state["run_dir"])]


def _stop_process(state, proc):
    ns = proc.get("netns")
    if proc.get("booted"):
        h = state["hosts"].get(ns)
        if h:
            _boot.power_off(state, ns, timeout=30)
        return
    pids = {read_pid(proc["pidfile"])}
    if proc["name"].startswith("dockerd"):
        pids.add(state["hosts"].get(ns, {}).get("dockerd_pid"))
    if proc["name"].startswith("podman"):
        pids.add(state["hosts"].get(ns, {}).get("podman_pid"))
    want = ns_inode(f"/run/netns/{ns}") if netns_exists(ns) else None
    # Only signal a pid that still lives in the lab namespace it was started
    # in: a recycled pid belongs to someone else.
    pids = [p for p in pids if p and want is not None
            and pid_netns_inode(p) == want]
    kill_wait(pids, signal.SIGTERM, timeout=20)


def down(state_dir=None):
    """Remove everything the lab in ``state_dir`` created. Safe to repeat."""
    state_dir = resolve_state_dir(state_dir)
    state = load_state(state_dir)
    if state is None:
        return False
    state["status"] = "removing"
    with contextlib.suppress(OSError):
        _state.save(state)
    lab_ns = list(state["netns"])
    # 1. containers (fast, SIGKILL), then the daemons, gracefully; booted
    #    hosts power off (their containers stop with them)
    hosts = [h for h, hv in state["hosts"].items()
             if h in lab_ns and not hv.get("booted")]
    if hosts:
        with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
            list(pool.map(lambda h: engines.remove_containers(state, h), hosts))
    procs = list(state["processes"])
    if procs:
        with ThreadPoolExecutor(max_workers=len(procs)) as pool:
            list(pool.map(lambda p: _stop_process(state, p), procs))
    # 2. whatever still runs in the lab's cgroups or namespaces
    for parent in state["cgroups"]:
        kill_cgroup(parent)
    for ns in lab_ns:
        kill_wait(netns_pids(ns), signal.SIGKILL, timeout=5)
    # 3. mounts under the lab's dirs (booted hosts' roots, docker netns
    #    files, vfs data root)
    umount_under(_lab_roots(state) + [os.path.realpath(m) for m in state.get("mounts", [])])
    # 4. namespaces, switch first (deleting it removes the veth pairs)
    for ns in reversed(lab_ns):
        if netns_exists(ns):
            run("ip", "netns", "del", ns, check=False)
    # 5. dirs and files
    for d in sorted(state["dirs"], key=len, reverse=True):
        shutil.rmtree(d, ignore_errors=True)
    for path in state.get("files", []):
        osimage.release_stale_lock(path)
    for path in state.get("written", []):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
    _boot.remove_nspawn_dirs(state)
    with contextlib.suppress(OSError):
        os.rmdir(RUN_ROOT)  # only when no other lab uses it
    for name in ("inventory.yml", "state.json.tmp", "state.json"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(os.path.join(state_dir, name))
    if state.get("created_state_dir"):
        shutil.rmtree(state_dir, ignore_errors=True)
    return True


def _need(state_dir):
    state = load_state(state_dir)
    if state is None:
        raise LabError(f"no lab in {resolve_state_dir(state_dir)}")
    return state


def _host(state, host):
    """(name, host dict) for ``host`` ("{P}-h2", "h2" or "2"); scopes ``state`` to it."""
    if host not in state["hosts"]:
        # accept "h2" or "2" for "{P}-h2"
        alt = f"{state['prefix']}-{host if host.startswith('h') else 'h' + host}"
        if alt not in state["hosts"]:
            raise LabError(f"no host {host!r} in this lab "
                           f"({', '.join(state['hosts'])})")
        host = alt
    state["_scope"] = host
    return host, state["hosts"][host]


def set_gateway(state_dir=None, up=True):
    """Make the LAN gateway reachable (up) or unreachable (down).

    Runs ``ip -n {P}-gw link set eth0 up|down``.
    """
    state = _need(state_dir)
    ip(state["netns_of"]["gw"], "link", "set", state["gateway_if"],
       "up" if up else "down")


def reboot(state_dir=None, host=None, timeout=180):
    """Reboot a booted host: power off, a new namespace (a new em1, same MAC), boot.

    What the host's processes made at run time (bridges, veths, addresses,
    routes, firewall rules) dies with the old namespace; the host's disk
    stays. Returns the seconds it took.
    """
    state = _need(state_dir)
    host, h = _host(state, host)
    if not h.get("booted"):
        raise LabError(f"{host} is a bare namespace, not a booted host: "
                       "only booted hosts reboot")
    t0 = time.monotonic()
    _boot.power_off(state, host)
    kill_cgroup(h["cgroup_parent"])
    kill_wait(netns_pids(host), signal.SIGKILL, timeout=5)
    topology.delete_netns(state, host)
    _state.add_netns(state, host)
    topology.plug(state, host, UPLINK, topology.port_of(h), route=False,
                  mac=h["mac"], up=False)
    proc = _boot.power_on(state, host)
    _finish_boot(state, host, proc)
    sshd.wait_ssh(state, [host], timeout=timeout)
    seconds = round(time.monotonic() - t0, 1)
    with _state.lock:
        h["boots"][-1]["reboot_seconds"] = seconds
        _state.save(state)
    return seconds


def _em1_addresses(state, host):
    res = ip(host, "-o", "addr", "show", "dev", UPLINK, "scope", "global",
             check=False)
    return sorted(line.split()[3] for line in res.stdout.splitlines()
                  if len(line.split()) > 3)


def flap(state_dir=None, host=None, seconds=5.0, settle=30.0):
    """Take ``host``'s switch port down for ``seconds``, then up; watch em1.

    Returns what the host's network manager did with em1's global addresses:
    before, every change while the carrier was lost (with the seconds since
    the port went down), and once it settled again (the addresses it had
    before are back, or ``settle`` seconds passed).
    """
    state = _need(state_dir)
    host, _h = _host(state, host)
    before = _em1_addresses(state, host)
    topology.set_port(state, host, False)
    while_down = []  # [seconds since the port went down, em1's addresses], on each change
    try:
        t_down = time.monotonic()
        while time.monotonic() < t_down + seconds:
            now = _em1_addresses(state, host)
            if not while_down or while_down[-1][1] != now:
                while_down.append([round(time.monotonic() - t_down, 1), now])
            time.sleep(0.2)
    finally:
        topology.set_port(state, host, True)
    t0 = time.monotonic()
    after = _em1_addresses(state, host)
    while set(after) != set(before) and time.monotonic() - t0 < settle:
        time.sleep(0.2)
        after = _em1_addresses(state, host)
    return {"host": host, "seconds": seconds, "before": before,
            "while_down": while_down, "after": after,
            "restored": set(after) == set(before),
            "restored_after": round(time.monotonic() - t0, 1)}


def exec_argv(state_dir=None, host=None):
    """argv prefix that runs a command on ``host`` (inside the booted system)."""
    state = _need(state_dir)
    host, h = _host(state, host)
    if h.get("booted"):
        return _boot.exec_argv(h), _boot.EXEC_ENV
    return ["ip", "netns", "exec", host], None


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
        if proc.get("booted"):
            h = state["hosts"][proc["netns"]]
            pid, top = _boot.nspawn_pid(h), _boot.leader(h)
            ok &= top is not None
            lines.append(f"  {proc['name']}: " + (
                f"pid {pid}, systemd pid {top}, {h['manager']} "
                f"{h['addressing']}" if top else "NOT RUNNING"))
            continue
        pid = read_pid(proc["pidfile"])
        alive = bool(pid) and pid_alive(pid)
        ok &= alive
        lines.append(f"  {proc['name']}: "
                     f"{'pid ' + str(pid) if alive else 'NOT RUNNING'}")
    for host, h in state["hosts"].items():
        for name, c in h.get("container_info", {}).items():
            alive = bool(c["pid"]) and pid_alive(c["pid"])
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
    if state.get("dhcp"):
        lines.append(f"  DHCP: dnsmasq on {SWITCH} in {state['lan_netns']} "
                     f"(leases {state['dhcp']['leases']})")
    for host, h in state["hosts"].items():
        fwd = "DROP" if h["forward_drop"] else "ACCEPT"
        if h.get("booted"):
            boot = h["boots"][-1]["seconds"] if h.get("boots") else "?"
            lines.append(f"  {host}: booted Debian {h.get('release', '12')} ({h.get('system_state')}, "
                         f"{boot}s), {h.get('kind', h['manager'])} {h['addressing']} on {UPLINK} "
                         f"{h['mac']} {h['address4']}/{PLEN4} "
                         f"{h['address6']}/{PLEN6}, FORWARD {fwd}, docker.service"
                         + (", podman.socket" if h.get("podman_socket") else ""))
            if h.get("failed_units"):
                lines.append(f"    failed units: {', '.join(h['failed_units'])}")
            lines.append(f"    inside: python3 tests/lab/lab.py exec {host} -- bash")
        else:
            sockets = []
            if engines.uses_docker(h):
                sockets.append(f"DOCKER_HOST={h['docker_host']}")
            if engines.uses_podman(h):
                sockets.append(f"podman --url {h['podman_host']} (service up "
                               f"in {h.get('podman_start_seconds', '?')}s)")
            lines.append(f"  {host}: {UPLINK} {h['address4']}/{PLEN4} "
                         f"{h['address6']}/{PLEN6}, FORWARD {fwd}, "
                         f"{', '.join(sockets)}")
        lines.append(f"    ssh: {shlex.join(sshd.ssh_command(state, host))}")
        for name, c in h.get("container_info", {}).items():
            lines.append(f"    {name}: {c['address']} (pid {c['pid']}, "
                         f"{c.get('engine', 'docker')})")
    return "\n".join(lines)
