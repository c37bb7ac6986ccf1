"""The collection on the current generation: booted Debian 13 hosts (systemd 257, Docker 26,
Podman 5 with netavark, NetworkManager 1.52, iptables on nftables), run as root by ``make test-hosts``.

One lab, its hosts booted in parallel: systemd-networkd static (with Podman 5 beside Docker, FORWARD
policy DROP) and DHCP, NetworkManager static (FORWARD DROP) and DHCP, netplan (renderer networkd)
static. Each has two Docker containers (``--restart always``); the Podman host also ``papp1``
(``--restart always``, ``podman-restart.service`` enabled, as an administrator has it).

``site.yml`` (every host of the batch at once, the agent on; the netplan host in a run of its own so
its outcome cannot stop the others) must bridge and persist em1 through each manager and put every
container on the LAN, Podman's through Podman's socket. Then: the accept rule is what carries
bridged frames where FORWARD drops (taken out, the containers go silent); the agent re-attaches
after ``docker restart``, ``podman restart`` and ``systemctl restart docker``; after one reboot of
every host the bridge, the containers (Docker's and Podman's) and the rule are back with no Ansible
run; and the second run changes nothing. Times are printed (``-s``), bounds are generous.
"""
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from current_hosts import (PODMAN_SOCKET, close_ssh_masters, container_address, docker_entries, inside, lab,
                           site, until_answers)
from test_persist import assert_bridged  # tests/booted is on sys.path under pytest

PREFIX = os.environ.get("LANBRIDGE_CURRENT_PREFIX", "hc")
SPECS = ("networkd@13+podman", "networkd:dhcp@13", "networkmanager@13", "networkmanager:dhcp@13", "netplan@13")
FORWARD_DROP = (1, 3)
PODMAN_NAME, PODMAN_ADDRESS = "papp1", lab.LAN4 + "161"
# Where each manager keeps host_bridge's files (one of them must exist after the run).
PERSISTED = {"networkd": "/etc/systemd/network/00-lanbridge-br0.netdev",
             "networkmanager": "/etc/NetworkManager/system-connections/lanbridge-br0.nmconnection",
             "netplan": "/etc/netplan/90-lanbridge-br0.yaml"}
RULE_TAG = "lanbridge.core container_lan"


def _each(state, hosts, check):
    with ThreadPoolExecutor(len(hosts)) as pool:
        return dict(zip(hosts, pool.map(check, hosts)))


def _host(state, kind):
    return next(host for host, h in state["hosts"].items() if "%s:%s" % (h["kind"], h["addressing"]) == kind)


def _addresses(state, host):
    h = state["hosts"][host]
    out = [container_address(h["index"], j) for j in range(1, len(h["containers"]) + 1)]
    return out + ([PODMAN_ADDRESS] if h.get("podman_socket") else [])


def _interfaces(state):
    out = {}
    for host, h in state["hosts"].items():
        out[host] = docker_entries(state, host)
        if h.get("podman_socket"):
            out[host].append({"container": PODMAN_NAME, "addresses": [PODMAN_ADDRESS + "/24"],
                              "runtime": "podman", "docker_host": PODMAN_SOCKET})
    return out


def _changed_tasks(out):
    """The tasks of a site.yml output that reported a change, with what they said."""
    task, found = None, []
    for line in out.splitlines():
        if line.startswith("TASK ["):
            task = line
        elif line.startswith("changed:"):
            found.append("%s\n%s" % (task, line[:3000]))
    return "\n".join(found)


def _start_podman_container(state, host):
    """papp1 under Podman 5, as an administrator runs it: restart policy always, podman-restart.service on."""
    image = lab.osimage.images.IMAGE
    inside(state, host, "podman", "import", "--change", 'CMD ["/bin/sh"]', lab.osimage.IMAGE_TAR, image, timeout=300)
    inside(state, host, "podman", "run", "-d", "--name", PODMAN_NAME, "--hostname", PODMAN_NAME, "--restart", "always",
           image, "sh", "-c", lab.APP_CMD, timeout=300)
    inside(state, host, "systemctl", "enable", "podman-restart.service")


@pytest.fixture(scope="module")
def current_lab(tmp_path_factory):
    state_dir = str(tmp_path_factory.mktemp("lanbridge-current") / "lab")
    state = lab.up(state_dir, PREFIX, containers=2, forward_drop=FORWARD_DROP, booted=SPECS, owner=os.getpid())
    try:
        podman_host = [host for host, h in state["hosts"].items() if h.get("podman_socket")][0]
        _start_podman_container(state, podman_host)
        yield state
    finally:
        lab.down(state_dir)


def _managed_hosts(state, netplan):
    return sorted(host for host, h in state["hosts"].items() if (h["manager"] == "netplan") == netplan)


@pytest.fixture(scope="module")
def converged(current_lab):
    """site.yml on the networkd and NetworkManager hosts: ``{host: changed}``."""
    hosts = _managed_hosts(current_lab, netplan=False)
    rc, changed, out = site(current_lab, _interfaces(current_lab), limit=hosts)
    assert rc == 0, out
    assert sorted(changed) == hosts and all(changed.values()), changed
    return changed


def test_a_site_bridges_and_persists_through_each_manager(current_lab, converged):
    hosts = _managed_hosts(current_lab, netplan=False)
    _each(current_lab, hosts, lambda host: assert_bridged(current_lab, host))
    for host in hosts:
        h = current_lab["hosts"][host]
        inside(current_lab, host, "test", "-s", PERSISTED[h["manager"]])
        if h["addressing"] == "dhcp":  # the lease moved with the address: br0's is dynamic
            br0 = inside(current_lab, host, "ip", "-o", "-4", "addr", "show", "dev", "br0").stdout
            assert "dynamic" in br0 and h["address4"] + "/" in br0, (host, br0)


def test_b_every_container_answers_docker_and_podman(current_lab, converged):
    for host in _managed_hosts(current_lab, netplan=False):
        assert inside(current_lab, host, "systemctl", "is-active", "lanbridge-attach").stdout.strip() == "active"
        back = until_answers(current_lab, _addresses(current_lab, host), 20)
        assert back is not None, (host, _addresses(current_lab, host))


def test_c_the_accept_rule_carries_bridged_frames_where_forward_drops(current_lab, converged):
    """Debian 13's iptables is nftables-backed; FORWARD DROP; the rule in DOCKER-USER is in nft's ruleset,
    and without it the containers go silent (put back afterwards)."""
    for host, h in sorted(current_lab["hosts"].items()):
        if not h["forward_drop"] or h["manager"] == "netplan":
            continue
        assert "nf_tables" in inside(current_lab, host, "iptables", "-V").stdout
        rules = inside(current_lab, host, "iptables", "-S").stdout
        assert "-P FORWARD DROP" in rules, rules
        rule = next(line for line in rules.splitlines() if RULE_TAG in line)
        assert rule.startswith("-A DOCKER-USER "), rule
        if inside(current_lab, host, "sh", "-c", "command -v nft", check=False).returncode == 0:  # the Podman host's
            chain = inside(current_lab, host, "nft", "list", "chain", "ip", "filter", "DOCKER-USER").stdout
            assert 'iifname "br0" oifname "br0"' in chain and "accept" in chain, chain
        address = container_address(h["index"], 1)
        inside(current_lab, host, "sh", "-c", "iptables -D " + rule[len("-A "):])
        try:
            assert until_answers(current_lab, [address], 3) is None, "%s answers without the rule" % address
        finally:
            if inside(current_lab, host, "sh", "-c", "iptables -C " + rule[len("-A "):], check=False).returncode:
                inside(current_lab, host, "sh", "-c", "iptables -I " + rule[len("-A "):])
        assert until_answers(current_lab, [address], 5) is not None


def test_d_the_agent_reattaches_after_container_and_engine_restarts(current_lab, converged):
    host = _host(current_lab, "networkd:static")
    docker_app = container_address(current_lab["hosts"][host]["index"], 1)
    times = {}
    for name, command, address in (("docker restart", ["docker", "restart", "-t", "1", "app1"], docker_app),
                                   ("podman restart", ["podman", "restart", "-t", "1", PODMAN_NAME], PODMAN_ADDRESS)):
        inside(current_lab, host, *command)
        times[name] = until_answers(current_lab, [address], 15)
    inside(current_lab, host, "systemctl", "restart", "docker")
    times["systemctl restart docker"] = until_answers(current_lab, _addresses(current_lab, host), 30)
    print("Debian 13 agent, seconds after the command returned:", times)
    assert None not in times.values(), times
    assert times["docker restart"] < 2 and times["podman restart"] < 2, times
    assert times["systemctl restart docker"] < 10, times


@pytest.fixture(scope="module")
def rebooted(current_lab, converged):
    hosts = _managed_hosts(current_lab, netplan=False)
    close_ssh_masters(current_lab)
    seconds = _each(current_lab, hosts, lambda host: lab.reboot(current_lab["state_dir"], host))
    current_lab.update(lab.load_state(current_lab["state_dir"]))
    print("reboot seconds:", seconds)
    return hosts


def test_e_a_reboot_keeps_the_bridge_the_containers_and_the_rule(current_lab, rebooted):
    _each(current_lab, rebooted, lambda host: assert_bridged(current_lab, host))
    back = _each(current_lab, rebooted, lambda host: until_answers(current_lab, _addresses(current_lab, host), 60))
    print("after the reboot, every container answers (seconds after the system was up):", back)
    assert None not in back.values(), back
    for host in rebooted:
        if current_lab["hosts"][host]["forward_drop"]:
            rules = inside(current_lab, host, "iptables", "-S").stdout
            assert "-P FORWARD DROP" in rules and RULE_TAG in rules, (host, rules)


def test_f_the_second_run_after_the_reboot_changes_nothing(current_lab, rebooted):
    rc, changed, out = site(current_lab, _interfaces(current_lab), limit=rebooted)
    assert rc == 0, out
    assert changed == dict((host, 0) for host in rebooted), (changed, _changed_tasks(out))


def test_g_netplan_host(current_lab):
    """The netplan host (renderer networkd, the administrator's file of tests/lab/netplan_site.py): site.yml,
    bridged and its containers on the LAN; a reboot; the second run changes nothing."""
    hosts = _managed_hosts(current_lab, netplan=True)
    rc, changed, out = site(current_lab, _interfaces(current_lab), limit=hosts)
    assert rc == 0, out
    close_ssh_masters(current_lab)
    for host in hosts:
        assert_bridged(current_lab, host)
        assert until_answers(current_lab, _addresses(current_lab, host), 20) is not None
        lab.reboot(current_lab["state_dir"], host)
        assert_bridged(current_lab, host)
    rc, changed, out = site(current_lab, _interfaces(current_lab), limit=hosts)
    assert rc == 0 and changed == dict((host, 0) for host in hosts), (changed, out)
