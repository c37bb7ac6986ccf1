"""Booted lab hosts (run as root): Debian 12 under systemd-nspawn, one per manager and addressing.

One lab (prefix ``bt``) boots six hosts in parallel: networkd, ifupdown and NetworkManager, each
static and DHCP. The image is built on first use and cached outside the repository
(osimage.py); the tests never time anything.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab

from .test_lab import _alive, _assert_same, _ns_ino, root_netns_snapshot

PREFIX = os.environ.get("LANBRIDGE_LAB_BOOTED_PREFIX", "bt")
SPECS = ("networkd", "networkd:dhcp", "ifupdown", "ifupdown:dhcp", "networkmanager", "networkmanager:dhcp")
UNITS = ("systemd-networkd.service", "networking.service", "NetworkManager.service")

VENV_BIN = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), ".venv", "bin")


@pytest.fixture(scope="module", autouse=True)
def booted_requirements():
    """Fail (never skip silently) when booted hosts cannot run here; skip only on LANBRIDGE_SKIP_BOOTED=1."""
    verdict = lab.booted.verdict_for_tests()
    if verdict:
        skip, why = verdict
        if skip:
            pytest.skip(why)
        pytest.fail(why, pytrace=False)


def _in(state, host, *cmd, check=True):
    argv, env = lab.exec_argv(state["state_dir"], host)
    return subprocess.run(argv + list(cmd), env=env, capture_output=True, text=True, timeout=60, check=check)


def _ssh(state, host, *cmd):
    res = subprocess.run(lab.ssh_command(state, host, *cmd), capture_output=True, text=True, timeout=30, check=False)
    assert res.returncode == 0, f"{host}: {res.stderr}"
    return res.stdout


def _em1(host):
    return subprocess.run(["ip", "-n", host, "-o", "addr", "show", "dev", "em1", "scope", "global"],
                          capture_output=True, text=True, check=True).stdout


def _port_index(state, host):
    """ifindex of the host's switch port (in the LAN namespace)."""
    port = f"p-h{state['hosts'][host]['index']}"
    return int(lab.ip(state["lan_netns"], "-o", "link", "show", port).stdout.split(":")[0])


def _by_spec(state):
    return {f"{h['manager']}:{h['addressing']}": host for host, h in state["hosts"].items()}


@pytest.fixture(scope="module")
def before():
    return root_netns_snapshot()


@pytest.fixture(scope="module")
def lab_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("lanbridge-booted") / "lab")


@pytest.fixture(scope="module")
def state(before, lab_dir):
    st = lab.up(lab_dir, PREFIX, containers=1, booted=SPECS, owner=os.getpid())
    yield st
    lab.down(lab_dir)


def test_each_host_booted_with_exactly_one_manager(state):
    for host, h in state["hosts"].items():
        assert h["booted"] and h["system_state"] in ("running", "degraded"), (host, h.get("failed_units"))
        assert _in(state, host, "cat", "/proc/1/comm").stdout.strip() == "systemd"
        enabled = [u for u in UNITS if _in(state, host, "systemctl", "is-enabled", "--quiet", u, check=False).returncode == 0]
        assert enabled == [lab.MANAGERS[h["manager"]]], host
        assert _in(state, host, "systemctl", "is-active", lab.MANAGERS[h["manager"]]).stdout.strip() == "active"
        assert _in(state, host, "systemctl", "is-active", "ssh.service", "docker.service").stdout.split() == ["active"] * 2


def test_hosts_answer_on_the_lan_and_by_ssh(state):
    client = state["netns_of"]["client"]
    for host, h in state["hosts"].items():
        for addr in (h["address4"], h["address6"]):
            res = lab.ns_exec(client, "ping", "-c1", "-W2", addr, check=False)
            assert res.returncode == 0, f"client cannot ping {host} at {addr}: {res.stdout}"
        out = _ssh(state, host, "hostname; cat /proc/1/comm; readlink /proc/self/ns/net; echo $SSH_CONNECTION")
        name, init, netns, conn = out.splitlines()
        assert (name, init) == (host, "systemd")
        assert netns == f"net:[{_ns_ino('/run/netns/' + host)}]"
        assert conn.startswith(f"{lab.CTL4} ")


def test_em1_has_the_address_its_manager_gave_it(state):
    leases = {}
    with open(state["dhcp"]["leases"]) as f:
        for line in f:
            leases[line.split()[1]] = line.split()[2]
    for host, h in state["hosts"].items():
        lines = [line for line in _em1(host).splitlines() if f" {h['address4']}/24 " in line]
        assert lines, f"{host}: {_em1(host)}"
        if h["addressing"] == "dhcp":
            assert "dynamic" in lines[0] and "valid_lft forever" not in lines[0], lines[0]
            assert leases.get(h["mac"]) == h["address4"]
        else:
            assert "valid_lft forever" in lines[0], lines[0]
            assert h["mac"] not in leases
        assert f" {h['address6']}/64 " in _em1(host)
        assert f"link/ether {h['mac']} " in lab.ip(host, "-o", "link", "show", "em1").stdout
        if h["manager"] == "networkd":
            assert "State: routable (configured)" in _in(state, host, "networkctl", "status", "--no-pager", "em1").stdout
        elif h["manager"] == "ifupdown":
            assert _in(state, host, "ifquery", "--state", "em1").stdout.strip() == "em1=em1"
        else:
            assert _in(state, host, "nmcli", "-g", "GENERAL.STATE", "device", "show", "em1").stdout.strip() == "100 (connected)"
        route = lab.ip(host, "route", "show", "default").stdout
        assert f"via {lab.GATEWAY4} dev em1" in route, route


def test_managed_node_python_and_docker(state):
    for host, h in state["hosts"].items():
        out = _ssh(state, host, "/usr/bin/python3 -c 'import pyroute2.iproute'; dpkg-query -W -f '${Version}\\n' python3-pyroute2; "
                                "ls -l /run/docker.sock")
        assert out.splitlines()[0].startswith("0.7.2-"), out
        assert "/run/docker.sock" in out
        assert lab.docker(state, host, "run", "--rm", "--network", "bridge", lab.IMAGE, "echo", "hello").stdout.strip() == "hello"
        app = h["container_info"]["app1"]
        assert _alive(app["pid"])
        assert _ns_ino(f"/proc/{app['pid']}/ns/net") not in (_ns_ino(f"/run/netns/{host}"), lab.root_netns_inode())
        assert "docker0" in lab.ip(host, "-br", "link").stdout
        page = lab.ns_exec(host, "busybox", "wget", "-qO-", f"http://{app['address']}/").stdout
        assert page.strip() == "app1"


def test_inventory_of_booted_hosts(state):
    text = open(state["inventory"]).read()
    for host, h in state["hosts"].items():
        assert f"    {host}:\n      ansible_host: \"{h['address4']}\"" in text
        assert f"      lab_manager: \"{h['manager']}\"\n      lab_addressing: \"{h['addressing']}\"" in text
    assert text.count('container_lan_docker_host: "unix:///run/docker.sock"') == len(SPECS)
    assert "ansible_python_interpreter: /usr/bin/python3" in text
    ansible = shutil.which("ansible") or shutil.which("ansible", path=VENV_BIN)
    assert ansible, f"ansible is not installed (not on PATH nor in {VENV_BIN}; make deps installs it)"
    res = subprocess.run([ansible, "-i", state["inventory"], "all", "-m", "ansible.builtin.command",
                          "-a", "/usr/bin/python3 -c 'import pyroute2.iproute'"],
                         capture_output=True, text=True, timeout=180, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("CHANGED") == len(SPECS)


def test_reboot_keeps_the_disk_and_loses_runtime_state(state, lab_dir):
    by = _by_spec(state)
    hosts = [by["networkd:static"], by["networkd:dhcp"], by["ifupdown:dhcp"], by["networkmanager:dhcp"]]
    old = {}
    for host in hosts:
        _ssh(state, host, f"echo {host} > /root/written-before-reboot; ip link add brtest type bridge; ip link set brtest up")
        assert "brtest" in lab.ip(host, "-br", "link").stdout
        old[host] = (_port_index(state, host), _in(state, host, "cat", "/proc/sys/kernel/random/boot_id").stdout)
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        list(pool.map(lambda host: lab.reboot(lab_dir, host), hosts))
    state.update(lab.load_state(lab_dir))
    for host in hosts:
        h = state["hosts"][host]
        assert _ssh(state, host, "cat /root/written-before-reboot").strip() == host
        assert "brtest" not in lab.ip(host, "-br", "link").stdout
        port, boot_id = old[host]
        assert _port_index(state, host) != port  # a new cable: the old one died with the old namespace
        assert _in(state, host, "cat", "/proc/sys/kernel/random/boot_id").stdout != boot_id
        assert f" {h['address4']}/24 " in _em1(host), host  # the DHCP hosts get their lease again
        assert f"link/ether {h['mac']} " in lab.ip(host, "-o", "link", "show", "em1").stdout
        assert len(h["boots"]) == 2
        names = lab.docker(state, host, "ps", "--format", "{{.Names}}").stdout.split()
        assert names == ["app1"]  # --restart always: Docker brought it back
    client = state["netns_of"]["client"]
    for host in hosts:
        assert lab.ns_exec(client, "ping", "-c1", "-W2", state["hosts"][host]["address4"], check=False).returncode == 0


def test_flap_makes_the_manager_react(state, lab_dir, record_property):
    hosts = list(state["hosts"])
    with ThreadPoolExecutor(max_workers=len(hosts)) as pool:
        results = list(pool.map(lambda host: lab.flap(lab_dir, host, 5, settle=60), hosts))
    record = {}
    for res in results:
        h = state["hosts"][res["host"]]
        record[f"{h['manager']}:{h['addressing']}"] = {k: res[k] for k in ("before", "while_down", "after", "restored_after")}
        assert res["restored"], res
    record_property("flap", json.dumps(record, sort_keys=True))
    print("flap:", json.dumps(record, indent=1, sort_keys=True))
    # systemd-networkd drops em1's addresses on carrier loss and adds them back with the carrier
    networkd = record["networkd:static"]
    assert networkd["while_down"][-1][1] == []
    assert sorted(networkd["after"]) == sorted(networkd["before"])
    client = state["netns_of"]["client"]
    for h in state["hosts"].values():
        assert lab.ns_exec(client, "ping", "-c1", "-W2", h["address4"], check=False).returncode == 0


def _leftovers(state):
    hosts = [h for h in state["hosts"].values() if h.get("booted")]
    return {
        "netns": [ns for ns in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout.split()
                  if ns.startswith(PREFIX + "-")],
        "mounts": [line for line in open("/proc/mounts") if any(h["root"] in line for h in hosts)
                   or state["run_dir"] in line or state["state_dir"] in line],
        "cgroups": [d for h in state["hosts"].values() for d in lab._cgroup_dirs(h["cgroup_parent"])],
        "nspawn dirs": [h["netns"] for h in hosts if os.path.exists(f"/run/systemd/nspawn/propagate/{h['netns']}")],
        "dirs": [d for d in (state["state_dir"], state["run_dir"]) if os.path.exists(d)],
    }


def test_down_leaves_nothing(state, lab_dir):
    """Must stay after the tests that use the running lab (it tears it down)."""
    pids = []
    for host, h in state["hosts"].items():
        pids += [int(p) for p in subprocess.run(["ip", "netns", "pids", host], capture_output=True, text=True, check=True).stdout.split()]
        pids.append(int(open(h["nspawn_pidfile"]).read()))
        pids += [c["pid"] for c in h["container_info"].values()]
    pids.append(int(open(state["dhcp"]["pidfile"]).read()))
    assert len(pids) >= len(SPECS) * 5 and all(_alive(p) for p in pids)
    assert lab.down(lab_dir) is True
    assert not [p for p in pids if _alive(p)]
    assert _leftovers(state) == {"netns": [], "mounts": [], "cgroups": [], "nspawn dirs": [], "dirs": []}
    assert not os.path.exists(lab.osimage.lock_path())
    assert lab.osimage.is_built()  # the cached image stays
    assert lab.down(lab_dir) is False


def test_root_namespace_unchanged_after_two_cycles(before, lab_dir):
    _assert_same(before, root_netns_snapshot())
    st = lab.up(lab_dir, PREFIX, 2, 0, booted=["networkmanager:dhcp"], owner=os.getpid())
    try:
        assert _ssh(st, f"{PREFIX}-h1", "hostname").strip() == f"{PREFIX}-h1"
        assert "em1" in _ssh(st, f"{PREFIX}-h2", "ip -br link")
    finally:
        lab.down(lab_dir)
    assert _leftovers(st) == {"netns": [], "mounts": [], "cgroups": [], "nspawn dirs": [], "dirs": []}
    _assert_same(before, root_netns_snapshot())


def test_down_after_a_crashed_up(before, tmp_path):
    """SIGKILL `lab.py up` while its booted host is booting; `down` still removes everything."""
    lab_dir = str(tmp_path / "crashed")
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lab.py")
    proc = subprocess.Popen([sys.executable, script, "up", "--state-dir", lab_dir, "--prefix", "bc",
                             "--booted", "networkd:dhcp", "--containers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    st = None
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            st = lab.load_state(lab_dir)
            if st and any(h.get("booted") and lab.booted.leader(h) for h in st["hosts"].values()):
                break
            time.sleep(0.1)
        assert proc.poll() is None, "up finished before it could be killed"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    st = lab.load_state(lab_dir)
    assert st["status"] == "creating"
    h = st["hosts"]["bc-h1"]
    nspawn = int(open(h["nspawn_pidfile"]).read())
    dnsmasq = int(open(st["dhcp"]["pidfile"]).read())
    assert _alive(nspawn) and _alive(dnsmasq)
    assert lab.down(lab_dir) is True
    assert not _alive(nspawn) and not _alive(dnsmasq)
    assert _leftovers(st) == {"netns": [], "mounts": [], "cgroups": [], "nspawn dirs": [], "dirs": []}
    _assert_same(before, root_netns_snapshot())


def test_host_kinds_parse_and_pick_their_image():
    """Data only (nothing boots): each kind's spec, its image, and what is refused."""
    kind = lab.booted.parse_kind
    assert kind("netplan-nm:dhcp") == {"kind": "netplan-nm", "manager": "netplan", "renderer": "networkmanager",
                                       "addressing": "dhcp", "release": "12", "extras": ("netplan",)}
    assert kind("nm@trixie+podman") == {"kind": "networkmanager", "manager": "networkmanager", "renderer": None,
                                        "addressing": "static", "release": "13", "extras": ("podman",)}
    assert kind("netplan:dhcp@13")["extras"] == ()  # netplan.io is in every Debian 13 image
    assert lab.booted.parse_spec("systemd-networkd:dhcp") == ("networkd", "dhcp")
    for bad, why in (("ifupdown@13", "Debian 13 hosts are networkd, networkmanager, netplan, netplan-nm"),
                     ("networkd+podman", "Debian 12 has no image extra 'podman'"),
                     ("netplan@14", "RELEASE one of 12, 13"), ("netplan:slaac", "ADDRESSING one of static, dhcp")):
        with pytest.raises(lab.LabError, match=why):
            kind(bad)
    images = {spec: lab.booted.image_of(kind(spec)) for spec in ("networkd", "netplan:dhcp", "netplan-nm", "networkd@13",
                                                                 "netplan-nm:dhcp@13", "networkd@13+podman")}
    assert images["networkd"] == lab.osimage.DEFAULT and images["netplan:dhcp"] == images["netplan-nm"]
    assert images["networkd@13"] == images["netplan-nm:dhcp@13"]
    dirs = {os.path.basename(i.directory()).rsplit("-", 1)[0] for i in images.values()}
    assert dirs == {"debian12", "debian12-netplan", "debian13", "debian13-podman"}
    assert len({i.key() for i in images.values()}) == 4
    assert "netplan.io" not in lab.osimage.DEFAULT.packages and "podman" in images["networkd@13+podman"].packages
    assert lab.osimage.DEFAULT.suite == "bookworm" and images["networkd@13"].suite == "trixie"


def test_netplan_hosts_get_the_administrators_file(tmp_path):
    """Data only: a netplan host's em1 is in /etc/netplan, mode 0600, YAML that PyYAML reads as meant."""
    yaml = pytest.importorskip("yaml")
    for spec, renderer, dhcp in (("netplan", "networkd", False), ("netplan-nm:dhcp", "NetworkManager", True)):
        h = lab.booted.host_fields(str(tmp_path), str(tmp_path), "xx", 3, spec)
        h.update(address4=lab.LAN4 + "13", address6=lab.LAN6 + "d")
        (path, (text, mode)), = lab.booted.manager_files(h).items()
        assert (path, mode) == ("/etc/netplan/50-site.yaml", 0o600)
        net = yaml.safe_load(text)["network"]
        em1 = net["ethernets"]["em1"]
        assert net["renderer"] == renderer and em1.get("dhcp4", False) is dhcp
        assert (lab.LAN4 + "13/24" in em1["addresses"]) is not dhcp
        assert lab.LAN6 + "d/64" in em1["addresses"]
        assert em1["nameservers"] == {"addresses": [lab.GATEWAY4, lab.GATEWAY6], "search": ["lab.example"]}
        assert net["ethernets"]["storage1"] == net["ethernets"]["storage0"]
        assert lab.booted.manager_unit(h) == lab.MANAGERS[renderer.lower()]
