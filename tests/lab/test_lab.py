"""Tests for the lab tool itself (run as root): one shared up/down cycle, then a second one.

The lab under test uses its own prefix (``lt``) and a temporary state dir, so a developer's
lab (``lb``, ``.lab``) can stay up while these run; the tests of a stale lab (one left by a
process that is gone) bring up small labs of their own (prefix ``lr``, one host, no containers).
"""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab

PREFIX = os.environ.get("LANBRIDGE_LAB_TEST_PREFIX", "lt")
RECLAIM_PREFIX = os.environ.get("LANBRIDGE_LAB_RECLAIM_PREFIX", "lr")
HOSTS, CONTAINERS = 2, 3
FORWARD_DROP = (2,)

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.needs("dockerd"),
]

_COUNTERS = re.compile(r"\[\d+:\d+\]")
_LIFETIMES = re.compile(r"(valid_lft|preferred_lft) \S+")


def _out(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def root_netns_snapshot():
    """The root namespace's links, addresses, routes, rules and firewall, normalised.

    Only counters (iptables-save ``[pkts:bytes]``), ``#`` comment lines (timestamps) and
    address lifetimes are blanked; everything else must be byte-for-byte the same.
    """
    assert os.stat("/proc/self/ns/net").st_ino == lab.root_netns_inode(), "tests must run in the root netns"
    snap = {}
    for cmd in (
        ("ip", "-d", "link"),
        ("ip", "addr"),
        ("ip", "route", "show", "table", "all"),
        ("ip", "-6", "route", "show", "table", "all"),
        ("ip", "rule"),
        ("ip", "-6", "rule"),
        ("iptables-save",),
        ("ip6tables-save",),
    ):
        text = _out(*cmd)
        lines = [_LIFETIMES.sub(r"\1 -", _COUNTERS.sub("[]", line)) for line in text.splitlines() if not line.startswith("#")]
        snap[" ".join(cmd)] = "\n".join(lines)
    return snap


def _assert_same(before, after):
    for key, text in before.items():
        assert after[key] == text, f"root namespace changed: {key}"


def _alive(pid):
    """True for a live, non-zombie process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _ns_ino(path):
    return os.stat(path).st_ino


def _start(pid):
    """The process's start time, field 22 of /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def _owner(prefix):
    with open(os.path.join(lab.RUN_ROOT, prefix, "owner.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def before():
    return root_netns_snapshot()


@pytest.fixture(scope="module")
def lab_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("lanbridge-lab") / "lab")


@pytest.fixture(scope="module")
def state(before, lab_dir):
    st = lab.up(lab_dir, PREFIX, HOSTS, CONTAINERS, forward_drop=FORWARD_DROP, owner=os.getpid())
    yield st
    lab.down(lab_dir)


def test_prefix_is_validated(tmp_path):
    for bad in ("toolong", "1ab", "a-b", ""):
        with pytest.raises(lab.LabError):
            lab.up(str(tmp_path / "x"), bad or "Q", 1, 0)
    assert not os.path.exists(tmp_path / "x")


def test_state_is_recorded(state, lab_dir):
    loaded = lab.load_state(lab_dir)
    assert loaded["status"] == "up"
    assert set(loaded["netns"]) == {f"{PREFIX}-{r}" for r in ("lan", "gw", "client", "ctl", "h1", "h2")}
    for ns in loaded["netns"]:
        assert os.path.exists(f"/run/netns/{ns}")
    owner = os.path.join(state["run_dir"], "owner.json")
    assert owner in loaded["written"]  # so that `down` removes it
    assert _owner(PREFIX) == {"state_dir": lab_dir, "pid": os.getpid(), "start": _start(os.getpid())}


def test_ssh_from_controller_lands_in_host_namespace(state):
    for host, h in state["hosts"].items():
        res = subprocess.run(
            lab.ssh_command(state, host, "ip -br addr show em1; readlink /proc/self/ns/net; echo $SSH_CONNECTION"),
            capture_output=True, text=True, timeout=30, check=False,
        )
        assert res.returncode == 0, res.stderr
        assert "em1" in res.stdout
        assert h["address4"] + "/24" in res.stdout
        assert f"net:[{_ns_ino('/run/netns/' + host)}]" in res.stdout
        # the session arrived from the controller, across the lab LAN
        assert f"{lab.CTL4} " in res.stdout.splitlines()[-1]


def test_containers_run_in_their_own_namespaces(state):
    for host, h in state["hosts"].items():
        host_ino = _ns_ino(f"/run/netns/{host}")
        names = lab.docker(state, host, "ps", "--format", "{{.Names}}").stdout.split()
        assert sorted(names) == sorted(h["containers"])
        for name in h["containers"]:
            pid = int(lab.docker(state, host, "inspect", "-f", "{{.State.Pid}}", name).stdout)
            assert pid > 0 and _alive(pid)
            ino = _ns_ino(f"/proc/{pid}/ns/net")
            assert ino != host_ino
            assert ino != lab.root_netns_inode()
            links = _out("nsenter", f"--net=/proc/{pid}/ns/net", "ip", "-br", "addr", "show", "eth0")
            assert "172.17." in links
            routes = _out("nsenter", f"--net=/proc/{pid}/ns/net", "ip", "route", "show", "default")
            assert "via 172.17.0.1 dev eth0" in routes
        # the page names the container; fetched from the host namespace
        addr = h["container_info"]["app1"]["address"]
        page = lab.ns_exec(host, "busybox", "wget", "-qO-", f"http://{addr}/").stdout
        assert page.strip() == "app1"


def test_docker_lives_inside_the_host_namespace(state, before):
    for host, h in state["hosts"].items():
        assert "docker0" in lab.ip(host, "-br", "link").stdout
        rules = lab.ns_exec(host, "iptables", "-S").stdout
        for chain in ("DOCKER", "DOCKER-USER", "DOCKER-ISOLATION-STAGE-1"):
            assert f"-N {chain}\n" in rules
        dockerd = int(open(h["docker_pidfile"]).read())
        assert _ns_ino(f"/proc/{dockerd}/ns/net") == _ns_ino(f"/run/netns/{host}")
    root_links = _out("ip", "-br", "link")
    assert "docker0" not in root_links or "docker0" in before["ip -d link"]
    root_rules = _out("iptables-save")
    assert ("DOCKER-USER" in root_rules) == ("DOCKER-USER" in before["iptables-save"])


def test_forward_policy(state):
    for host, h in state["hosts"].items():
        policy = lab.ns_exec(host, "iptables", "-S", "FORWARD").stdout.splitlines()[0]
        want = "DROP" if h["index"] in FORWARD_DROP else "ACCEPT"
        assert policy == f"-P FORWARD {want}", host


def test_client_reaches_hosts_and_gateway(state):
    client = state["netns_of"]["client"]
    targets = [lab.GATEWAY4, lab.GATEWAY6] + [a for h in state["hosts"].values() for a in (h["address4"], h["address6"])]
    for addr in targets:
        res = lab.ns_exec(client, "ping", "-c1", "-W2", addr, check=False)
        assert res.returncode == 0, f"client cannot ping {addr}: {res.stdout}{res.stderr}"


def test_gateway_down_and_up(state, lab_dir):
    client = state["netns_of"]["client"]
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lab.py")
    try:
        subprocess.run([sys.executable, script, "gateway", "down", "--state-dir", lab_dir], check=True)
        assert lab.ns_exec(client, "ping", "-c1", "-W1", lab.GATEWAY4, check=False).returncode != 0
    finally:
        lab.set_gateway(lab_dir, True)
    assert lab.ns_exec(client, "ping", "-c1", "-W2", lab.GATEWAY4, check=False).returncode == 0


def test_status_cli(state, lab_dir):
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lab.py")
    res = subprocess.run([sys.executable, script, "status", "--state-dir", lab_dir], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{PREFIX}-h1 app1" in res.stdout


def test_inventory(state):
    text = open(state["inventory"]).read()
    assert "container_lan:" in text
    for host, h in state["hosts"].items():
        assert f"    {host}:\n      ansible_host: \"{h['address4']}\"" in text
        assert h["docker_host"] in text
    assert f"ip netns exec {PREFIX}-ctl" in text
    ansible = shutil.which("ansible") or shutil.which("ansible", path=os.path.dirname(sys.executable))
    assert ansible, "ansible is not installed (make deps installs it): the inventory is not exercised"
    res = subprocess.run([ansible, "-i", state["inventory"], "all", "-m", "ping"], capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("SUCCESS") == HOSTS


def test_same_prefix_is_refused_and_harmless(state, lab_dir, tmp_path):
    with pytest.raises(lab.LabError, match="in use") as err:
        lab.up(str(tmp_path / "other"), PREFIX, 1, 0, owner=os.getpid())
    assert f"its state dir: {lab_dir} (owner pid {os.getpid()} is alive)" in str(err.value)
    assert os.path.exists(f"/run/netns/{PREFIX}-h1")
    assert lab.load_state(lab_dir)["status"] == "up"
    assert not os.path.exists(tmp_path / "other")


def _small_lab(state_dir, owner):
    """A cheap lab of prefix RECLAIM_PREFIX (one host, no containers); its sshd pid."""
    st = lab.up(state_dir, RECLAIM_PREFIX, 1, 0, owner=owner)
    with open(st["hosts"][f"{RECLAIM_PREFIX}-h1"]["sshd_pidfile"]) as f:
        return st, int(f.read())


def _no_reclaim_lab_left(*state_dirs):
    for d in state_dirs:
        lab.down(d)
    left = [ns for ns in _out("ip", "netns", "list").split() if ns.startswith(RECLAIM_PREFIX + "-")]
    assert not left and not os.path.exists(os.path.join(lab.RUN_ROOT, RECLAIM_PREFIX))


def test_stale_lab_of_a_gone_owner_is_reclaimed(tmp_path, capsys):
    """The lab's owner exits (a killed test run): the next `up` with its prefix takes it down first."""
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    child = subprocess.Popen(["sleep", "600"])
    try:
        try:
            _st, sshd = _small_lab(first, child.pid)
            assert _owner(RECLAIM_PREFIX) == {"state_dir": first, "pid": child.pid, "start": _start(child.pid)}
        finally:
            child.kill()
            child.wait()
        with pytest.raises(lab.LabError, match=f"owner pid {child.pid}: no such process"):
            lab.up(str(tmp_path / "dead"), "lq", 1, 0, owner=child.pid)
        # without the state it names, nothing says what to remove: refused
        os.rename(os.path.join(first, "state.json"), os.path.join(tmp_path, "state.json"))
        try:
            with pytest.raises(lab.LabError, match="in use") as err:
                lab.up(second, RECLAIM_PREFIX, 1, 0, owner=os.getpid())
            assert f"owner pid {child.pid} is gone, but that dir holds no state.json" in str(err.value)
            assert "reclaiming" not in capsys.readouterr().err
            assert _alive(sshd)
        finally:
            os.rename(os.path.join(tmp_path, "state.json"), os.path.join(first, "state.json"))
        capsys.readouterr()
        st = lab.up(second, RECLAIM_PREFIX, 1, 0, owner=os.getpid())
        err = capsys.readouterr().err
        assert (f"lab: reclaiming the lab with prefix '{RECLAIM_PREFIX}' left by pid {child.pid}, "
                f"which is gone (state in {first})") in err
        assert lab.load_state(first) is None and not os.path.exists(first)
        assert not _alive(sshd)  # the stale lab's processes went with it
        assert lab.load_state(second)["status"] == "up"
        assert _owner(RECLAIM_PREFIX) == {"state_dir": second, "pid": os.getpid(), "start": _start(os.getpid())}
        res = subprocess.run(lab.ssh_command(st, f"{RECLAIM_PREFIX}-h1", "true"), capture_output=True, text=True,
                             timeout=30, check=False)
        assert res.returncode == 0, res.stderr
    finally:
        _no_reclaim_lab_left(first, second)


def test_stale_lab_of_a_reused_pid_is_reclaimed_a_live_owner_is_refused(tmp_path, capsys):
    """Same pid, other start time: the pid was reused, the owner is gone. Same start time: refused."""
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    try:
        _st, sshd = _small_lab(first, os.getpid())
        with pytest.raises(lab.LabError, match="in use") as err:
            lab.up(second, RECLAIM_PREFIX, 1, 0, owner=os.getpid())
        assert f"(owner pid {os.getpid()} is alive)" in str(err.value)
        assert _alive(sshd) and lab.load_state(first)["status"] == "up"
        assert not os.path.exists(second)

        path = os.path.join(lab.RUN_ROOT, RECLAIM_PREFIX, "owner.json")
        owner = _owner(RECLAIM_PREFIX)
        with open(path, "w") as f:  # what a new process with the old owner's pid looks like
            json.dump({**owner, "start": owner["start"] - 1}, f)
        capsys.readouterr()
        lab.up(second, RECLAIM_PREFIX, 1, 0, owner=os.getpid())
        assert f"left by pid {os.getpid()}, which is gone (state in {first})" in capsys.readouterr().err
        assert lab.load_state(first) is None and not _alive(sshd)
        assert lab.load_state(second)["status"] == "up"
    finally:
        _no_reclaim_lab_left(first, second)


def test_stale_lab_without_an_owner_is_not_reclaimed(tmp_path):
    """`lab.py up` passes no owner: its lab outlives the command, so it is never reclaimed."""
    first, second = str(tmp_path / "first"), str(tmp_path / "second")
    try:
        _st, sshd = _small_lab(first, None)
        assert _owner(RECLAIM_PREFIX) == {"state_dir": first, "pid": None, "start": None}
        with pytest.raises(lab.LabError, match="in use") as err:
            lab.up(second, RECLAIM_PREFIX, 1, 0, owner=os.getpid())
        assert "no owner process" in str(err.value)
        assert _alive(sshd) and lab.load_state(first)["status"] == "up"
        assert not os.path.exists(second)
    finally:
        _no_reclaim_lab_left(first, second)


def test_down_leaves_nothing(state, lab_dir):
    """Must stay after the tests that use the running lab (it tears it down)."""
    pids = []
    for host in state["hosts"]:
        pids += [int(p) for p in _out("ip", "netns", "pids", host).split()]
        pids += [c["pid"] for c in state["hosts"][host]["container_info"].values()]
    assert len(pids) >= HOSTS * (2 + CONTAINERS)  # sshd, dockerd (+ containerd, shims), containers
    roots = (lab_dir, state["run_dir"])
    cgroups = [d for h in state["hosts"].values() for d in lab._cgroup_dirs(h["cgroup_parent"])]
    assert cgroups

    assert lab.down(lab_dir) is True

    assert not [ns for ns in _out("ip", "netns", "list").split() if ns.startswith(PREFIX + "-")]
    assert not [p for p in pids if _alive(p)]
    mounts = open("/proc/mounts").read()
    assert not [r for r in roots if r in mounts]
    assert not os.path.exists(lab_dir)
    assert not os.path.exists(state["run_dir"])
    assert not [d for d in cgroups if os.path.exists(d)]
    links = _out("ip", "-br", "link")
    assert "sw0" not in links and "em1" not in links
    assert lab.down(lab_dir) is False  # safe to run twice
    assert lab.load_state(lab_dir) is None


def test_root_namespace_unchanged_after_two_cycles(before, lab_dir):
    _assert_same(before, root_netns_snapshot())
    st = lab.up(lab_dir, PREFIX, 1, 1, owner=os.getpid())
    try:
        res = subprocess.run(lab.ssh_command(st, f"{PREFIX}-h1", "ip", "-br", "link"), capture_output=True, text=True, timeout=30, check=False)
        assert "em1" in res.stdout, res.stderr
    finally:
        lab.down(lab_dir)
    _assert_same(before, root_netns_snapshot())
    assert not os.path.exists(lab_dir)
