"""The lab with Podman (run as root): host 1 runs Podman only, host 2 Podman beside Docker.

Its own prefix (``lp``) and state dir, so it runs beside test_lab.py's lab and a developer's.
The root namespace must be byte-identical after up and down (test_lab's snapshot), and Podman
must leave nothing in the machine's /run and /var/lib (its CNI cache, blob cache, runc state and
container namespace files stay in the service's private mount namespace or the lab's dirs).
"""
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab
from test_lab import _alive, _assert_same, _ns_ino, _out, root_netns_snapshot

PREFIX = os.environ.get("LANBRIDGE_LAB_TEST_PODMAN_PREFIX", "lp")
CONTAINERS = 2
# Where Debian 12's Podman 4.3, runc and CNI write by default, whatever a config says.
MACHINE_PATHS = ("/var/lib/cni", "/var/lib/containers", "/run/runc", "/run/containers", "/run/libpod",
                 "/run/podman", "/run/crun")

# Root is the one thing a test run can lack on purpose; the tools are installed by make deps, so a
# missing one fails every test here (a test that cannot run must not count as passed).
TOOLS = ("podman", "dockerd", "curl", "nsenter", "unshare")
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root")


@pytest.fixture(scope="module", autouse=True)
def tools():
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.fail(f"not installed: {', '.join(missing)} (make deps installs them: scripts/install-deps.sh)",
                    pytrace=False)


def _machine_paths():
    return {p: sorted(os.listdir(p)) if os.path.isdir(p) else None for p in MACHINE_PATHS if os.path.lexists(p)}


def _netns_files():
    """Container namespace files Podman could leave in the machine's /run/netns."""
    return sorted(n for n in os.listdir("/run/netns") if n.startswith(("netns-", "cni-")))


@pytest.fixture(scope="module")
def before():
    return root_netns_snapshot(), _machine_paths(), _netns_files()


@pytest.fixture(scope="module")
def lab_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("lanbridge-lab-podman") / "lab")


@pytest.fixture(scope="module")
def state(before, lab_dir):
    st = lab.up(lab_dir, PREFIX, 2, CONTAINERS, forward_drop=(1,), engine="podman,both", owner=os.getpid())
    yield st
    lab.down(lab_dir)


def _h(state, i):
    return f"{PREFIX}-h{i}", state["hosts"][f"{PREFIX}-h{i}"]


def test_engine_spec_is_validated(tmp_path):
    for bad in ("rkt", "podman,podman,podman"):
        with pytest.raises(lab.LabError, match="engine"):
            lab.up(str(tmp_path / "x"), "lq", 2, 0, engine=bad)
    with pytest.raises(lab.LabError, match="booted host runs Docker"):
        lab.up(str(tmp_path / "x"), "lq", 2, 0, booted="networkd", engine="podman,docker")
    assert not os.path.exists(tmp_path / "x")


def test_engines_per_host(state):
    assert [h["engine"] for h in state["hosts"].values()] == ["podman", "both"]
    h1, h2 = _h(state, 1)[1], _h(state, 2)[1]
    assert "docker_pidfile" in h1 and not os.path.exists(h1["docker_pidfile"])  # no dockerd on h1
    assert h2["podman_containers"] == ["papp1", "papp2"]


def test_podman_host_runs_its_containers(state):
    host, h = _h(state, 1)
    host_ino = _ns_ino(f"/run/netns/{host}")
    service = int(open(h["podman_pidfile"]).read())
    assert _ns_ino(f"/proc/{service}/ns/net") == host_ino  # the service lives in the host's namespace
    assert _ns_ino(f"/proc/{service}/ns/mnt") != _ns_ino("/proc/self/ns/mnt")  # and a mount namespace of its own
    names = lab.podman_cli(state, host, "ps", "--format", "{{.Names}}").stdout.split()
    assert sorted(names) == sorted(h["containers"])
    assert "docker0" not in lab.ip(host, "-br", "link").stdout
    assert "cni-podman0" in lab.ip(host, "-br", "link").stdout
    for name in h["containers"]:
        c = h["container_info"][name]
        assert c["engine"] == "podman" and _alive(c["pid"])
        ino = _ns_ino(f"/proc/{c['pid']}/ns/net")
        assert ino not in (host_ino, lab.root_netns_inode())
        addr = _out("nsenter", f"--net=/proc/{c['pid']}/ns/net", "ip", "-br", "addr", "show", "eth0")
        assert c["address"].startswith("203.0.113.") and c["address"] + "/24" in addr
        routes = _out("nsenter", f"--net=/proc/{c['pid']}/ns/net", "ip", "route", "show", "default")
        assert "via 203.0.113.1 dev eth0" in routes
        page = lab.ns_exec(host, "busybox", "wget", "-qO-", f"http://{c['address']}/").stdout
        assert page.strip() == name
    rules = lab.ns_exec(host, "iptables", "-S").stdout
    assert "-N CNI-FORWARD" in rules and "-P FORWARD DROP" in rules  # --forward-drop 1, set explicitly


def test_podman_beside_docker(state):
    host, h = _h(state, 2)
    links = lab.ip(host, "-br", "link").stdout
    assert "docker0" in links and "cni-podman0" in links
    docker_names = lab.docker(state, host, "ps", "--format", "{{.Names}}").stdout.split()
    podman_names = lab.podman_cli(state, host, "ps", "--format", "{{.Names}}").stdout.split()
    assert sorted(docker_names) == ["app1", "app2"] and sorted(podman_names) == ["papp1", "papp2"]
    engines = {n: c["engine"] for n, c in h["container_info"].items()}
    assert engines == {"app1": "docker", "app2": "docker", "papp1": "podman", "papp2": "podman"}
    assert lab.ns_exec(host, "iptables", "-S", "FORWARD").stdout.splitlines()[0] == "-P FORWARD ACCEPT"


def test_podman_api_answers_the_docker_api(state):
    """What container_veth asks: /containers/{name}/json through Podman's socket."""
    host, h = _h(state, 1)
    out = _out("curl", "-sf", "--unix-socket", h["podman_host"][len("unix://"):], "http://d/containers/app1/json")
    assert f'"Pid":{h["container_info"]["app1"]["pid"]}' in out.replace(" ", "")


def test_inventory_for_podman(state):
    text = open(state["inventory"]).read()
    (h1, v1), (h2, v2) = _h(state, 1), _h(state, 2)
    one = text.split(f"    {h1}:\n", 1)[1].split(f"    {h2}:\n", 1)[0]
    assert f'container_lan_docker_host: "{v1["podman_host"]}"' in one
    assert "container_lan_runtime: podman" in one and 'lab_engine: "podman"' in one
    two = text.split(f"    {h2}:\n", 1)[1]
    assert f'container_lan_docker_host: "{v2["docker_host"]}"' in two
    assert f'lab_podman_host: "{v2["podman_host"]}"' in two and 'lab_engine: "both"' in two


def test_status_and_cli(state, lab_dir):
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lab.py")
    res = subprocess.run([sys.executable, script, "status", "--state-dir", lab_dir], capture_output=True, text=True,
                         check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"podman {PREFIX}-h1: pid" in res.stdout and f"{PREFIX}-h2 papp1" in res.stdout


def test_machine_untouched_while_up(state, before):
    _snap, paths, netns_files = before
    assert _machine_paths() == paths
    assert _netns_files() == netns_files


def test_down_leaves_nothing(state, lab_dir, before):
    """Must stay after the tests that use the running lab (it tears it down)."""
    pids = [c["pid"] for h in state["hosts"].values() for c in h["container_info"].values()]
    pids += [h["podman_pid"] for h in state["hosts"].values()]
    assert all(_alive(p) for p in pids)
    assert lab.down(lab_dir) is True
    assert not [p for p in pids if _alive(p)]
    assert not [ns for ns in _out("ip", "netns", "list").split() if ns.startswith(PREFIX + "-")]
    assert not os.path.exists(lab_dir) and not os.path.exists(state["run_dir"])
    snap, paths, netns_files = before
    _assert_same(snap, root_netns_snapshot())
    assert _machine_paths() == paths
    assert _netns_files() == netns_files


def test_root_namespace_unchanged_after_a_podman_cli_cycle(before, lab_dir):
    """`lab.py up --engine podman`, then down: the root namespace is byte for byte as before."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lab.py")
    up = subprocess.run([sys.executable, script, "up", "--state-dir", lab_dir, "--prefix", PREFIX, "--hosts", "1",
                         "--containers", "1", "--engine", "podman"], capture_output=True, text=True, check=False,
                        timeout=300)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert "podman --url unix://" in up.stdout and "app1: 203.0.113." in up.stdout
        st = lab.load_state(lab_dir)
        res = subprocess.run(lab.ssh_command(st, f"{PREFIX}-h1", "ip", "-br", "link"), capture_output=True,
                             text=True, timeout=30, check=False)
        assert "cni-podman0" in res.stdout, res.stderr
    finally:
        subprocess.run([sys.executable, script, "down", "--state-dir", lab_dir], check=False, timeout=120)
    snap, paths, netns_files = before
    _assert_same(snap, root_netns_snapshot())
    assert _machine_paths() == paths and _netns_files() == netns_files
    assert not os.path.exists(lab_dir)
