"""site.yml on booted netplan hosts (run as root by ``make test-hosts``, not ``make test``).

One lab per Debian release, its hosts booted in parallel, each with the administrator's netplan
file of ``tests/lab/netplan_site.py`` (comments, a flow mapping over two lines, an anchor and its
alias, interfaces that are not plugged in): Debian 12 (netplan.io 0.106) with renderer networkd
static and DHCP and renderer NetworkManager DHCP; Debian 13 (netplan.io 1.1) with renderer
networkd and NetworkManager, both DHCP. Each host has one Docker container.

site.yml (every host of the lab at once) must succeed; then on each host br0 holds the host's
address (on DHCP hosts the lease, the address em1 held before the run), em1 is an address-less port
of br0, there is one IPv4 default route; ``netplan get`` shows the DNS servers and search domains on
br0 and the administrator's other interfaces as written, and ``netplan generate`` accepts the result
(``test_persist.assert_netplan``). The same after a 3-second flap of each host's switch port, after
a DHCP lease renewal (the lease renewed on br0, the address unchanged) and after a reboot; then a
second site.yml run changes nothing. Times are printed (``-s``).
"""
import os
import time

import pytest

from current_hosts import close_ssh_masters, docker_entries, inside, lab, site, until_answers
from test_persist import assert_bridged, assert_netplan, each_of  # tests/booted is on sys.path under pytest

RELEASES = {
    "12": ("netplan", "netplan:dhcp", "netplan-nm:dhcp"),
    "13": ("netplan:dhcp@13", "netplan-nm:dhcp@13"),
}
PREFIXES = {"12": os.environ.get("LANBRIDGE_NETPLAN_PREFIX12", "np12"),
            "13": os.environ.get("LANBRIDGE_NETPLAN_PREFIX13", "np13")}
RENEWAL_LIMIT = 150  # the lab's leases last 2 minutes: renewed after half of that


def _interfaces(state):
    return dict((host, docker_entries(state, host)) for host in state["hosts"])


def _dhcp_hosts(state):
    return sorted(host for host, h in state["hosts"].items() if h["addressing"] == "dhcp")


def _addresses4(state, host, dev):
    """``dev``'s global IPv4 addresses: what follows ``inet`` on each ``ip -o -4 addr`` line."""
    out = inside(state, host, "ip", "-o", "-4", "addr", "show", "dev", dev, "scope", "global").stdout
    return [line.split(" inet ", 1)[1].strip() for line in out.splitlines() if " inet " in line]


def _assert_all(state):
    """Bridged (test_persist.assert_bridged) and the netplan view as wanted (test_persist.assert_netplan)."""
    hosts = sorted(state["hosts"])
    each_of(hosts, lambda host: assert_bridged(state, host))
    each_of(hosts, lambda host: assert_netplan(state, host))
    for host in hosts:
        assert until_answers(state, [docker_entries(state, host)[0]["addresses"][0].split("/")[0]], 20) is not None, host


@pytest.fixture(scope="module", params=sorted(RELEASES), ids=lambda r: "debian%s" % r)
def netplan_lab(request, tmp_path_factory):
    release = request.param
    state_dir = str(tmp_path_factory.mktemp("lanbridge-netplan%s" % release) / "lab")
    state = lab.up(state_dir, PREFIXES[release], containers=1, booted=RELEASES[release], owner=os.getpid())
    try:
        # before the run: em1 holds each host's address (on DHCP hosts the lease)
        for host, h in state["hosts"].items():
            deadline = time.monotonic() + 60
            while not any(a.startswith("%s/" % h["address4"]) for a in _addresses4(state, host, "em1")):
                assert time.monotonic() < deadline, "%s: em1 lacks %s before the run" % (host, h["address4"])
                time.sleep(0.5)
        t0 = time.monotonic()
        rc, changed, out = site(state, _interfaces(state))
        state["first_run"] = {"rc": rc, "changed": changed, "out": out, "seconds": round(time.monotonic() - t0, 1)}
        print("debian%s site.yml: %.1f s" % (release, state["first_run"]["seconds"]))
        yield state
    finally:
        lab.down(state_dir)


def test_a_site_succeeds(netplan_lab):
    run = netplan_lab["first_run"]
    assert run["rc"] == 0, run["out"]
    assert sorted(run["changed"]) == sorted(netplan_lab["hosts"]) and all(run["changed"].values()), run["changed"]


def test_b_bridged_dns_on_br0_and_the_administrators_file_kept(netplan_lab):
    _assert_all(netplan_lab)
    for host in _dhcp_hosts(netplan_lab):  # the lease moved with the address: br0's is dynamic
        br0 = _addresses4(netplan_lab, host, "br0")
        assert any("dynamic" in a for a in br0), (host, br0)


def test_c_a_link_flap_keeps_it(netplan_lab):
    each_of(sorted(netplan_lab["hosts"]), lambda host: lab.flap(netplan_lab["state_dir"], host, 3))
    _assert_all(netplan_lab)


def test_d_a_lease_renewal_keeps_it(netplan_lab):
    """A renewal shows as br0's remaining lease lifetime jumping up from the lowest value seen so far."""
    hosts = _dhcp_hosts(netplan_lab)

    def lifetime(host):
        line = next(a for a in _addresses4(netplan_lab, host, "br0") if "dynamic" in a)
        return int(line.split("valid_lft ")[1].split("sec")[0])

    lowest, renewed, t0 = dict((host, lifetime(host)) for host in hosts), {}, time.monotonic()
    while time.monotonic() - t0 < RENEWAL_LIMIT and len(renewed) < len(hosts):
        time.sleep(2)
        for host in set(hosts) - set(renewed):
            now = lifetime(host)
            if now > lowest[host] + 5:
                renewed[host] = round(time.monotonic() - t0)
            lowest[host] = min(lowest[host], now)
    print("leases renewed on br0 after (s):", renewed)
    assert sorted(renewed) == hosts, "leases not renewed on br0: %s" % sorted(set(hosts) - set(renewed))
    _assert_all(netplan_lab)


def test_e_a_reboot_keeps_it(netplan_lab):
    close_ssh_masters(netplan_lab)
    hosts = sorted(netplan_lab["hosts"])
    seconds = dict(zip(hosts, [None] * len(hosts)))
    each_of(hosts, lambda host: seconds.update({host: lab.reboot(netplan_lab["state_dir"], host)}))
    netplan_lab.update(lab.load_state(netplan_lab["state_dir"]))
    print("reboot seconds:", seconds)
    _assert_all(netplan_lab)


def test_f_a_second_run_changes_nothing(netplan_lab):
    rc, changed, out = site(netplan_lab, _interfaces(netplan_lab))
    assert rc == 0, out
    assert changed == dict((host, 0) for host in netplan_lab["hosts"]), (changed, out)
