"""Smoke tests of the booted host kinds (run as root; ``make test-hosts``, not ``make test``).

One lab per Debian release, its hosts booted in parallel:

- Debian 12: netplan with renderer networkd (the Ubuntu-server shape) and with renderer
  NetworkManager (the Ubuntu-desktop shape), static and DHCP, each with the administrator's netplan
  file of ``tests/lab/netplan_site.py``;
- Debian 13: systemd-networkd, NetworkManager and netplan (renderer networkd and NetworkManager),
  static and DHCP; Podman 5 (netavark) beside Docker on one of them.

Each host: it booted, its manager owns em1 with the expected address (static, or leased by the
lab's dnsmasq), sshd answers, docker.service imports the lab's busybox image and runs a container
(and Podman does the same on the Podman host). The boot times are recorded (``record_property``
``boot``, printed with ``-s``), never asserted.
"""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
import lab  # noqa: E402  pylint: disable=wrong-import-position

RELEASES = {
    "12": ("netplan", "netplan:dhcp", "netplan-nm", "netplan-nm:dhcp"),
    "13": ("networkd@13+podman", "networkd:dhcp@13", "networkmanager@13", "networkmanager:dhcp@13",
           "netplan@13", "netplan:dhcp@13", "netplan-nm@13", "netplan-nm:dhcp@13"),
}
PREFIXES = {"12": "hk12", "13": "hk13"}
VERSIONS = {  # release -> {Debian package: the version it must start with}
    "12": {"systemd": "252.", "netplan.io": "0.106", "docker.io": "20.10."},
    "13": {"systemd": "257.", "netplan.io": "1.1", "docker.io": "26.", "network-manager": "1.52"},
}
SMOKE_TAG = "lanbridge/busybox:smoke"


@pytest.fixture(scope="module", params=sorted(RELEASES), ids=lambda r: f"debian{r}")
def hosts_lab(request, tmp_path_factory):
    release = request.param
    state_dir = str(tmp_path_factory.mktemp(f"lanbridge-hosts{release}") / "lab")
    state = lab.up(state_dir, PREFIXES[release], containers=0, booted=RELEASES[release], owner=os.getpid())
    try:
        yield state
    finally:
        lab.down(state_dir)


def inside(state, host, *cmd, check=True):
    argv, env = lab.exec_argv(state["state_dir"], host)
    res = subprocess.run(argv + list(cmd), env=env, capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0 or not check, f"{host}: {' '.join(cmd)}: {res.stdout}{res.stderr}"
    return res


def each_host(state):
    return sorted(state["hosts"].items())


def test_each_host_booted_its_release_with_one_manager(hosts_lab, record_property):
    times = {}
    for host, h in each_host(hosts_lab):
        assert h["system_state"] == "running", (host, h.get("failed_units"))
        assert inside(hosts_lab, host, "cat", "/proc/1/comm").stdout.strip() == "systemd"
        assert f'VERSION_ID="{h["release"]}"' in inside(hosts_lab, host, "cat", "/etc/os-release").stdout
        versions = dict(line.split() for line in inside(
            hosts_lab, host, "dpkg-query", "-W", *VERSIONS[h["release"]]).stdout.splitlines())
        for package, version in VERSIONS[h["release"]].items():
            assert versions[package].startswith(version), (host, package, versions[package])
        managers = ("systemd-networkd.service", "networking.service", "NetworkManager.service")
        enabled = [u for u in managers
                   if inside(hosts_lab, host, "systemctl", "is-enabled", "--quiet", u, check=False).returncode == 0]
        assert enabled == [lab.booted.manager_unit(h)], host
        assert inside(hosts_lab, host, "systemctl", "is-active", lab.booted.manager_unit(h)).stdout.strip() == "active"
        times[f"{h['kind']}:{h['addressing']}@{h['release']}"] = _boot_times(hosts_lab, host)
    record_property("boot", json.dumps(times, sort_keys=True))
    print("boot seconds:", json.dumps(times, indent=1, sort_keys=True))


def _boot_times(state, host):
    """Seconds from the booted system's PID 1 start to multi-user.target and to ssh.service, as
    systemd recorded them, and the lab's (nspawn start to `is-system-running` and Docker answering)."""
    def monotonic(unit, prop):
        out = inside(state, host, "systemctl", "show", "-P", prop, *([unit] if unit else [])).stdout
        return int(out.strip()) / 1e6

    start = monotonic(None, "UserspaceTimestampMonotonic")
    return {"multi-user": round(monotonic("multi-user.target", "ActiveEnterTimestampMonotonic") - start, 2),
            "sshd": round(monotonic("ssh.service", "ActiveEnterTimestampMonotonic") - start, 2),
            "lab": state["hosts"][host]["boots"][-1]["seconds"]}


def test_the_manager_owns_em1_with_its_address(hosts_lab):
    leases = {}
    if hosts_lab.get("dhcp"):
        with open(hosts_lab["dhcp"]["leases"]) as f:
            leases = {line.split()[1]: line.split()[2] for line in f if len(line.split()) > 2}
    for host, h in each_host(hosts_lab):
        em1 = lab.ip(host, "-o", "addr", "show", "dev", "em1", "scope", "global").stdout
        lines = [line for line in em1.splitlines() if f" {h['address4']}/24 " in line]
        assert lines, f"{host}: {em1}"
        if h["addressing"] == "dhcp":
            assert "dynamic" in lines[0] and "valid_lft forever" not in lines[0], lines[0]
            assert leases.get(h["mac"]) == h["address4"], (host, leases)
        else:
            assert "valid_lft forever" in lines[0], lines[0]
            assert h["mac"] not in leases
        assert f" {h['address6']}/64 " in em1, em1
        assert f"via {lab.GATEWAY4} dev em1" in lab.ip(host, "route", "show", "default").stdout
        if lab.booted.manager_unit(h) == "systemd-networkd.service":
            status = inside(hosts_lab, host, "networkctl", "status", "--no-pager", "em1").stdout
            assert "State: routable (configured)" in status, status
            network = "/run/systemd/network/10-netplan-em1.network" if h["manager"] == "netplan" \
                else "/etc/systemd/network/10-em1.network"
            assert network in status, status
        else:
            device = inside(hosts_lab, host, "nmcli", "-g", "GENERAL.STATE,GENERAL.CONNECTION", "device", "show",
                            "em1").stdout.split("\n")
            want = "netplan-em1" if h["manager"] == "netplan" else "em1"
            assert device[:2] == ["100 (connected)", want], (host, device)


def test_netplan_hosts_run_the_administrators_file(hosts_lab):
    netplan_hosts = [(host, h) for host, h in each_host(hosts_lab) if h["manager"] == "netplan"]
    assert netplan_hosts
    for host, h in netplan_hosts:
        mode = inside(hosts_lab, host, "stat", "-c", "%a", lab.booted.netplan_site.PATH).stdout.strip()
        assert mode == "600"
        text = inside(hosts_lab, host, "cat", lab.booted.netplan_site.PATH).stdout
        assert "&jumbo" in text and "*jumbo" in text and "nameservers: {addresses:" in text
        inside(hosts_lab, host, "netplan", "generate")
        got = json.loads(inside(hosts_lab, host, "python3", "-c",
                                "import json, yaml; print(json.dumps(yaml.safe_load(open('%s'))))"
                                % lab.booted.netplan_site.PATH).stdout)
        ethernets = got["network"]["ethernets"]
        assert ethernets["storage1"] == ethernets["storage0"] == {"mtu": 9000, "optional": True, "dhcp4": False,
                                                                  "link-local": []}
        assert ethernets["em1"]["nameservers"]["search"] == [lab.booted.netplan_site.SEARCH]
        assert got["network"]["renderer"] == lab.booted.netplan_site.RENDERERS[h["renderer"]]


def test_sshd_answers(hosts_lab):
    for host in hosts_lab["hosts"]:
        res = subprocess.run(lab.ssh_command(hosts_lab, host, "hostname; cat /proc/1/comm"), capture_output=True,
                             text=True, timeout=30, check=False)
        assert res.returncode == 0, f"{host}: {res.stderr}"
        assert res.stdout.split() == [host, "systemd"]


def test_docker_imports_and_runs_a_container(hosts_lab):
    for host in hosts_lab["hosts"]:
        assert inside(hosts_lab, host, "systemctl", "is-active", "docker.service").stdout.strip() == "active"
        inside(hosts_lab, host, "docker", "import", "--change", 'CMD ["/bin/sh"]', lab.osimage.IMAGE_TAR, SMOKE_TAG)
        out = inside(hosts_lab, host, "docker", "run", "--rm", "--network", "bridge", SMOKE_TAG,
                     "sh", "-c", "echo hello; ip -4 -o addr show eth0").stdout
        assert out.startswith("hello\n") and " inet 172.17." in out, (host, out)


def test_podman_imports_and_runs_a_container(hosts_lab):
    podman_hosts = [(host, h) for host, h in each_host(hosts_lab) if h.get("podman_socket")]
    if hosts_lab["prefix"] == PREFIXES["12"]:
        assert not podman_hosts
        return
    assert len(podman_hosts) == 1
    host, h = podman_hosts[0]
    assert inside(hosts_lab, host, "systemctl", "is-active", "podman.socket").stdout.strip() == "active"
    info = json.loads(inside(hosts_lab, host, "podman", "--url", h["podman_socket"], "info", "--format",
                             "json").stdout)
    assert info["version"]["Version"].startswith("5."), info["version"]
    assert info["host"]["networkBackend"] == "netavark"
    assert info["host"]["cgroupVersion"] == "v2"
    inside(hosts_lab, host, "podman", "import", "--change", 'CMD ["/bin/sh"]', lab.osimage.IMAGE_TAR, SMOKE_TAG)
    out = inside(hosts_lab, host, "podman", "run", "--rm", SMOKE_TAG, "sh", "-c",
                 "echo hello; ip -4 -o addr show eth0").stdout
    assert out.startswith("hello\n") and " inet 10.88." in out, (host, out)
