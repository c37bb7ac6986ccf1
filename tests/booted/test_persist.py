"""host_bridge's persistence on booted Debian 12 lab hosts (run as root), one host per manager:
systemd-networkd static and DHCP, ifupdown static, NetworkManager static and DHCP, netplan (the
administrator's file of tests/lab/netplan_site.py) with renderer networkd static and DHCP, and with
renderer NetworkManager static.

After host_bridge (persist auto), each host must hold: it answers on the LAN, em1 has no address
and is a port of br0, one IPv4 default route (via br0), br0's MAC is em1's, STP off. The same after
(b) a 3-second flap of its switch port, (c) a reboot, (d) for DHCP hosts a lease renewal (2-minute
leases); (e) a second run changes nothing; (f) state absent and a reboot leave the host as before
the collection ran, its administrator's files byte for byte, and its one default route via em1. A
probe failure after the manager took over (networkd, NetworkManager) puts back both the kernel and
the files. DHCP hosts keep their DHCP client identifier (as dnsmasq's lease file records it): the
lab reserves leases by MAC, which would hide a changed one. The files have the modes the managers
want (NetworkManager's keyfiles 0600 root). Afterwards, on the hosts as they were: check mode writes
nothing and its diff carries each file's text before and after; ``persist: none`` is refused where
NetworkManager owns em1 and warned about where networkd does. After the reboot (c) a second run
changes nothing and ifupdown's br0 carries host_bridge's label again. A NetworkManager host with two
profiles for em1 (h) gets the addressing of the one NetworkManager activates, and state absent and a
failed probe bring that one back. DNS servers and search domains move with em1's layer-3
configuration: the networkd static host (given a DNS server and a search domain in its em1 file first)
and the netplan hosts have them on br0 in networkd's link state (what resolved reads), after the move
and after the reboot; on the netplan hosts ``netplan get`` shows them on br0, the administrator's
other interfaces as written, their file's comments and anchor kept, and ``netplan generate`` accepts
the result. A failed probe on the netplan host puts back the kernel and the files. Nothing here is timed.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
import lab  # noqa: E402  pylint: disable=wrong-import-position

PREFIX = os.environ.get("LANBRIDGE_PERSIST_PREFIX", "bp")
SPECS = ("networkd", "networkd:dhcp", "ifupdown", "networkmanager", "networkmanager:dhcp", "netplan", "netplan:dhcp",
         "netplan-nm")
CONFIG = ("/etc/systemd/network", "/etc/network", "/etc/NetworkManager/system-connections", "/etc/NetworkManager/conf.d",
          "/etc/netplan")
VENV = os.path.join(ROOT, ".venv", "bin")

# What booted hosts need (root, systemd-nspawn, mmdebstrap, the cgroup hybrid layout): conftest.py
# fails each test without it (LANBRIDGE_SKIP_BOOTED=1 skips them on purpose).


@pytest.fixture(scope="module")
def persist_lab(tmp_path_factory):
    state_dir = str(tmp_path_factory.mktemp("lanbridge-persist") / "lab")
    state = lab.up(state_dir, PREFIX, containers=1, booted=SPECS, owner=os.getpid())
    try:
        yield state
    finally:
        lab.down(state_dir)


def by_spec(state):
    return dict(("%s:%s" % (h["kind"], h["addressing"]), host) for host, h in state["hosts"].items())


def inside(state, host, *cmd, input=None):  # pylint: disable=redefined-builtin
    argv, env = lab.exec_argv(state["state_dir"], host)
    return subprocess.run(argv + list(cmd), env=env, capture_output=True, text=True, timeout=60, check=True,
                          input=input).stdout


def config_files(state, host):
    """Every file of the managers' configuration directories, with its content (the disk's truth)."""
    script = "for d in %s; do [ -d $d ] && find $d -type f | sort | while read f; do echo \"== $f\"; cat \"$f\"; done; done; true" \
        % " ".join(CONFIG)
    return inside(state, host, "sh", "-c", script)


def host_bridge(state, args, hosts="all", check=False):
    """``lanbridge.core.host_bridge`` through Ansible (SSH, the host's own Python); ``{host: result}``
    (the ``tree`` callback writes each host's result as JSON, without the warnings: those Ansible prints,
    kept in each result as ``printed``); ``check``: with ``--check --diff``."""
    tree = tempfile.mkdtemp(prefix="lanbridge-tree-")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_CALLBACKS_ENABLED="ansible.builtin.tree",
               ANSIBLE_CALLBACK_TREE_DIR=tree, ANSIBLE_HOST_KEY_CHECKING="false",
               PATH=VENV + os.pathsep + os.environ.get("PATH", ""))
    argv = [os.path.join(VENV, "ansible"), "-i", state["inventory"], hosts, "-f", "10", "-m", "lanbridge.core.host_bridge",
            "-a", json.dumps(args)] + (["--check", "--diff", "-vvv"] if check else [])  # below -vvv the tree drops the diff
    try:
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)
        out = {}
        for host in os.listdir(tree):
            with open(os.path.join(tree, host)) as handle:
                out[host] = dict(json.load(handle), printed=proc.stdout + proc.stderr)
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    wanted = list(state["hosts"]) if hosts == "all" else [hosts]
    missing = [h for h in wanted if h not in out]
    assert not missing, "no result for %s: %s %s" % (missing, proc.stdout[-2000:], proc.stderr[-2000:])
    return out


def on_lan(state, address, attempts=20):
    for _attempt in range(attempts):
        if subprocess.run(["ip", "netns", "exec", state["prefix"] + "-client", "ping", "-c1", "-W1", address],
                          capture_output=True, check=False).returncode == 0:
            return True
        time.sleep(0.5)
    return False


def assert_bridged(state, host, attempts=40):
    """(a): the host answers; em1 has no address and is br0's port; one IPv4 default route, via br0;
    br0's MAC is em1's; STP off. Polled: a manager may still be configuring after a boot or a flap."""
    h = state["hosts"][host]
    problems = None
    for _attempt in range(attempts):
        em1 = inside(state, host, "ip", "-o", "addr", "show", "dev", "em1", "scope", "global")
        link = inside(state, host, "ip", "-d", "link", "show", "em1")
        br0 = inside(state, host, "ip", "-d", "link", "show", "br0") if "br0" in inside(state, host, "ip", "-o", "link") else ""
        defaults = [r for r in inside(state, host, "ip", "-4", "route", "show", "default").splitlines() if r.strip()]
        mac = h["mac"].lower()
        problems = [p for ok, p in (
            (em1.strip() == "", "em1 has an address: %s" % em1.strip()),
            ("master br0" in link, "em1 is not a port of br0"),
            ("link/ether %s" % mac in br0, "br0's MAC is not em1's %s" % mac),
            ("stp_state 0" in br0, "STP is not off"),
            (len(defaults) == 1 and "dev br0" in defaults[0], "IPv4 default routes: %s" % defaults),
            ("inet %s/" % h["address4"] in inside(state, host, "ip", "-4", "addr", "show", "dev", "br0") if br0 else False,
             "br0 lacks %s" % h["address4"]),
        ) if not ok]
        if not problems and on_lan(state, h["address4"], attempts=2):
            return
        time.sleep(0.5)
    raise AssertionError("%s (%s:%s): %s" % (host, h["manager"], h["addressing"], "; ".join(problems or ["does not answer"])))


def client_ids(state):
    """``{address: client id}`` from dnsmasq's lease file (``expiry mac address name client-id``)."""
    out = {}
    with open(state["dhcp"]["leases"]) as handle:
        for line in handle:
            words = line.split()
            if len(words) >= 5:
                out[words[2]] = words[4]
    return out


def dhcp_hosts(state):
    return dict((host, h) for host, h in state["hosts"].items() if h["addressing"] == "dhcp")


def each(state, check):
    with ThreadPoolExecutor(len(state["hosts"])) as pool:
        list(pool.map(check, sorted(state["hosts"])))


DNS_FILE = "/etc/systemd/network/10-em1.network"


@pytest.fixture(scope="module")
def dns_on_em1(persist_lab):
    """The networkd static host's em1 names a DNS server and a search domain (its [Network] section ends its file)."""
    host = by_spec(persist_lab)["networkd:static"]
    inside(persist_lab, host, "sh", "-c", "printf 'DNS=%s\\nDomains=%s\\n' >> %s && networkctl reload"
           % (lab.booted.netplan_site.DNS4, lab.booted.netplan_site.SEARCH, DNS_FILE))
    assert_dns(persist_lab, host, "em1")
    return host


def assert_dns(state, host, link, attempts=40):
    """networkd's link state of ``link`` (what systemd-resolved reads), or NetworkManager's device (the
    server) and the resolv.conf it writes (the search domain), names the lab's DNS server and search domain."""
    keys = {}
    for _attempt in range(attempts):
        if state["hosts"][host].get("renderer") == "networkmanager":
            resolv = inside(state, host, "cat", "/run/NetworkManager/resolv.conf").split("\n")
            keys = {"DNS": inside(state, host, "nmcli", "-g", "IP4.DNS", "device", "show", link).replace("|", " "),
                    "DOMAINS": " ".join(line.split(None, 1)[-1] for line in resolv if line.startswith("search "))}
            if lab.booted.netplan_site.DNS4 in keys["DNS"].split() and lab.booted.netplan_site.SEARCH in keys["DOMAINS"].split():
                return
            time.sleep(0.5)
            continue
        index = inside(state, host, "cat", "/sys/class/net/%s/ifindex" % link).strip()
        text = inside(state, host, "sh", "-c", "cat /run/systemd/netif/links/%s 2>/dev/null || true" % index)
        keys = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
        if lab.booted.netplan_site.DNS4 in keys.get("DNS", "").split() and \
                lab.booted.netplan_site.SEARCH in keys.get("DOMAINS", "").split():
            return
        time.sleep(0.5)
    raise AssertionError("%s: %s's link state has DNS=%r DOMAINS=%r" % (host, link, keys.get("DNS"), keys.get("DOMAINS")))


def netplan_get(state, host, key):
    out = inside(state, host, "netplan", "get", key)
    return yaml.safe_load(out)


def assert_netplan(state, host):
    """br0 holds em1's DNS servers and search domains, the other interfaces are as written, the
    administrator's file keeps its comments and anchor, and ``netplan generate`` accepts it all."""
    site = lab.booted.netplan_site
    assert netplan_get(state, host, "network.bridges.br0.nameservers") == {
        "addresses": [site.DNS4, site.DNS6], "search": [site.SEARCH]}
    assert netplan_get(state, host, "network.ethernets.em1.nameservers") is None
    h = state["hosts"][host]
    written = yaml.safe_load(site.site_yaml(h["renderer"], h["addressing"] == "dhcp", "x", "y"))["network"]["ethernets"]
    for other in ("storage0", "storage1", "spare"):
        assert netplan_get(state, host, "network.ethernets." + other) == written[other], other
    text = inside(state, host, "cat", site.PATH)
    assert "&jumbo" in text and "*jumbo" in text and "# the uplink to the LAN switch" in text, text
    inside(state, host, "netplan", "generate")
    assert_dns(state, host, "br0")


def netplan_hosts(state):
    return [host for host, h in state["hosts"].items() if h["manager"] == "netplan"]


@pytest.fixture(scope="module")
def originals(persist_lab, dns_on_em1):
    return dict((host, config_files(persist_lab, host)) for host in persist_lab["hosts"])


@pytest.fixture(scope="module")
def identities(persist_lab):
    """The DHCP hosts' client identifiers before the collection ran (as their manager sends them from em1)."""
    wanted, deadline = dhcp_hosts(persist_lab), time.monotonic() + 60
    while True:
        seen = client_ids(persist_lab)
        if all(seen.get(h["address4"]) for h in wanted.values()) or time.monotonic() > deadline:
            return dict((host, seen.get(h["address4"])) for host, h in wanted.items())
        time.sleep(1)


@pytest.fixture(scope="module")
def bridged(persist_lab, originals, identities):
    results = host_bridge(persist_lab, {"name": "br0", "uplink": "em1"})
    for host, h in persist_lab["hosts"].items():
        result = results[host]
        assert not result.get("failed"), (host, result.get("msg"))
        assert result["changed"] and result["persist"]["manager"] == h["manager"], (host, result["persist"])
    return results


def test_a_bridged_and_persisted_by_each_manager(persist_lab, bridged):
    each(persist_lab, lambda host: assert_bridged(persist_lab, host))
    for host, result in bridged.items():
        assert result["persist"]["files"], host
        assert all(f.startswith(CONFIG) for f in result["persist"]["files"]), result["persist"]["files"]
        for path in result["persist"]["files"]:
            if inside(persist_lab, host, "sh", "-c", "[ -e '%s' ] && echo yes || true" % path).strip() != "yes":
                continue  # moved aside or removed
            mode, user = inside(persist_lab, host, "stat", "-c", "%a %U", path).split()
            wanted = "600" if path.endswith(".nmconnection") or path.startswith("/etc/netplan/") else "644"
            assert (mode, user) == (wanted, "root"), (host, path, mode, user)


def test_a_dns_and_the_netplan_view_move_to_the_bridge(persist_lab, bridged, dns_on_em1):
    assert_dns(persist_lab, dns_on_em1, "br0")
    assert len(netplan_hosts(persist_lab)) == 3
    each_of(netplan_hosts(persist_lab), lambda host: assert_netplan(persist_lab, host))


def each_of(hosts, check):
    with ThreadPoolExecutor(len(hosts)) as pool:
        list(pool.map(check, sorted(hosts)))


def test_e_a_second_run_changes_nothing(persist_lab, bridged):
    again = host_bridge(persist_lab, {"name": "br0", "uplink": "em1"})
    for host, result in again.items():
        assert not result.get("failed") and result["changed"] is False and result["plan"] == [], (host, result.get("plan"))


def test_b_a_flap_keeps_it(persist_lab, bridged):
    each(persist_lab, lambda host: lab.flap(persist_lab["state_dir"], host, 3))
    each(persist_lab, lambda host: assert_bridged(persist_lab, host))


def test_d_a_lease_renewal_keeps_it(persist_lab, bridged):
    dhcp = [host for host, h in persist_lab["hosts"].items() if h["addressing"] == "dhcp"]

    def lifetime(host):
        out = inside(persist_lab, host, "ip", "-o", "-4", "addr", "show", "dev", "br0")
        return int(out.split("valid_lft ")[1].split("sec")[0])

    # a renewal shows as the remaining lifetime jumping up from the lowest value seen so far (not
    # from the first reading: taken just after a renewal, the next one only brings it back there)
    lowest = dict((host, lifetime(host)) for host in dhcp)
    deadline = time.monotonic() + 150  # 2-minute leases: renewed after half of it
    renewed = set()
    while time.monotonic() < deadline and renewed != set(dhcp):
        time.sleep(2)
        for host in dhcp:
            now = lifetime(host)
            if now > lowest[host] + 5:
                renewed.add(host)
            lowest[host] = min(lowest[host], now)
    assert renewed == set(dhcp), "leases not renewed on br0: %s" % sorted(set(dhcp) - renewed)
    each(persist_lab, lambda host: assert_bridged(persist_lab, host))


def test_d_the_dhcp_client_identifier_is_the_same_on_the_bridge(persist_lab, bridged, identities):
    """The lease dnsmasq recorded from br0 (after the renewal above) has the client id em1 sent."""
    seen = client_ids(persist_lab)
    assert all(identities.values()), identities
    for host, h in dhcp_hosts(persist_lab).items():
        assert seen.get(h["address4"]) == identities[host], (host, h["manager"], identities[host], seen.get(h["address4"]))


def label(state, host):
    return inside(state, host, "sh", "-c", "cat /sys/class/net/br0/ifalias 2>/dev/null || true").strip()


def test_c_a_reboot_keeps_it(persist_lab, bridged):
    """After the reboot the manager made br0; ifupdown's also carries host_bridge's label again (the
    others have no setting for it: their marked files say whose bridge it is). Then the second run
    changes nothing, on every manager."""
    each(persist_lab, lambda host: lab.reboot(persist_lab["state_dir"], host))
    each(persist_lab, lambda host: assert_bridged(persist_lab, host))
    for host, h in persist_lab["hosts"].items():
        if h["manager"] == "ifupdown":
            assert label(persist_lab, host) == "lanbridge:bridge", (host, label(persist_lab, host))
    assert_dns(persist_lab, by_spec(persist_lab)["networkd:static"], "br0")
    each_of(netplan_hosts(persist_lab), lambda host: assert_netplan(persist_lab, host))
    again = host_bridge(persist_lab, {"name": "br0", "uplink": "em1"})
    for host, result in again.items():
        assert not result.get("failed") and result["changed"] is False and result["plan"] == [], \
            (host, result.get("plan"), result.get("msg"))


@pytest.mark.parametrize("spec, written", [
    ("networkd:static", "/etc/systemd/network/00-lanbridge-br0.netdev"),
    ("networkmanager:static", "/etc/NetworkManager/system-connections/lanbridge-br0.nmconnection"),
    ("netplan:static", "/etc/netplan/90-lanbridge-br0.yaml"),
])
def test_a_failed_probe_puts_back_the_kernel_and_the_files(persist_lab, bridged, spec, written):
    host = by_spec(persist_lab)[spec]
    back = host_bridge(persist_lab, {"name": "br0", "uplink": "em1", "state": "absent"}, hosts=host)[host]
    assert back["changed"] and not back.get("failed"), back.get("msg")
    files = config_files(persist_lab, host)
    routes = inside(persist_lab, host, "ip", "route")
    lab.set_gateway(persist_lab["state_dir"], up=False)
    try:
        result = host_bridge(persist_lab, {"name": "br0", "uplink": "em1", "rollback_timeout": 3}, hosts=host)[host]
    finally:
        lab.set_gateway(persist_lab["state_dir"], up=True)
    assert result["rolled_back"] is True and result["changed"] is False, result.get("msg")  # it failed, and rolled back
    assert "write %s" % written in result["msg"], result["msg"]
    assert config_files(persist_lab, host) == files
    deadline = time.monotonic() + 20  # the manager may still be configuring em1 again
    while inside(persist_lab, host, "ip", "route") != routes and time.monotonic() < deadline:
        time.sleep(0.5)
    assert inside(persist_lab, host, "ip", "route") == routes
    again = host_bridge(persist_lab, {"name": "br0", "uplink": "em1"}, hosts=host)[host]
    assert again["changed"] and not again.get("failed"), again.get("msg")


def test_f_absent_and_a_reboot_bring_back_the_host_as_it_was(persist_lab, bridged, originals):
    results = host_bridge(persist_lab, {"name": "br0", "uplink": "em1", "state": "absent"})
    for host, result in results.items():
        assert not result.get("failed") and result["changed"], (host, result.get("msg"))
    each(persist_lab, lambda host: lab.reboot(persist_lab["state_dir"], host))
    for host, h in persist_lab["hosts"].items():
        assert config_files(persist_lab, host) == originals[host], host
        assert "br0" not in inside(persist_lab, host, "ip", "-o", "link")
        deadline = time.monotonic() + 30
        while "inet %s/" % h["address4"] not in inside(persist_lab, host, "ip", "-4", "addr", "show", "dev", "em1"):
            assert time.monotonic() < deadline, "%s: em1 never got %s back" % (host, h["address4"])
            time.sleep(0.5)
        assert on_lan(persist_lab, h["address4"])
        deadline = time.monotonic() + 30
        while True:
            defaults = [r for r in inside(persist_lab, host, "ip", "-4", "route", "show", "default").splitlines() if r.strip()]
            if len(defaults) == 1 and "dev em1" in defaults[0]:
                break
            assert time.monotonic() < deadline, "%s: IPv4 default routes %s, not one via em1" % (host, defaults)
            time.sleep(0.5)


def test_g_check_mode_writes_nothing_and_shows_the_files(persist_lab, originals):
    """On the hosts as they were (after f): --check --diff plans the bridge and its files, touches nothing."""
    results = host_bridge(persist_lab, {"name": "br0", "uplink": "em1"}, check=True)
    for host, result in results.items():
        h = persist_lab["hosts"][host]
        assert not result.get("failed") and result["changed"], (host, result.get("msg"))
        assert result["persist"]["manager"] == h["manager"] and result["persist"]["files"], (host, result["persist"])
        before, after = result["diff"]["before"]["files"], result["diff"]["after"]["files"]
        assert sorted(before) == sorted(after) == sorted(result["persist"]["files"]), (host, sorted(before), sorted(after))
        assert all(before[p] != after[p] for p in before), host
        assert any(after[p] and "br0" in after[p] for p in after), host
        assert config_files(persist_lab, host) == originals[host], host
        assert "br0" not in inside(persist_lab, host, "ip", "-o", "link"), host


def test_g_persist_none_where_a_manager_owns_the_uplink(persist_lab):
    """NetworkManager: refused (its view and the kernel's would disagree); networkd: a warning."""
    specs = by_spec(persist_lab)
    nm, networkd = specs["networkmanager:static"], specs["networkd:static"]
    refused = host_bridge(persist_lab, {"name": "br0", "uplink": "em1", "persist": "none"}, hosts=nm, check=True)[nm]
    assert refused["changed"] is False and "persist none: NetworkManager manages em1" in refused.get("msg", ""), refused
    warned = host_bridge(persist_lab, {"name": "br0", "uplink": "em1", "persist": "none"}, hosts=networkd, check=True)[networkd]
    assert not warned.get("failed") and warned["changed"], warned.get("msg")
    assert "persist none: systemd-networkd configures em1" in " ".join(warned["printed"].split()), warned["printed"][-3000:]


# -- two NetworkManager profiles for em1 -------------------------------------------------------

SPARE = "/etc/NetworkManager/system-connections/em1-spare.nmconnection"
SPARE_TEXT = """[connection]
id=em1-spare
uuid=6a3d3f5e-1c2b-4d6e-9f00-00000000e1e1
type=ethernet
interface-name=em1
autoconnect=false
autoconnect-priority=50

[ipv4]
method=manual
address1=198.51.100.241/24

[ipv6]
method=disabled
"""


@pytest.fixture(scope="module")
def two_profiles(tmp_path_factory):
    """A NetworkManager host (static) whose em1 has a second profile, ``em1-spare``: ``autoconnect=false``,
    a higher ``autoconnect-priority``, another address and no IPv6, its file sorting before em1's.
    NetworkManager brings up ``em1`` (the one that autoconnects)."""
    state_dir = str(tmp_path_factory.mktemp("lanbridge-two-profiles") / "lab")
    state = lab.up(state_dir, os.environ.get("LANBRIDGE_PERSIST_PREFIX2", "bq"), containers=1, booted=["networkmanager"],
                   owner=os.getpid())
    try:
        host = list(state["hosts"])[0]
        inside(state, host, "sh", "-c", "umask 077 && cat > %s && nmcli connection reload" % SPARE, input=SPARE_TEXT)
        assert active_profile(state, host) == "em1"
        yield state, host
    finally:
        lab.down(state_dir)


def active_profile(state, host):
    return inside(state, host, "nmcli", "-g", "GENERAL.CONNECTION", "device", "show", "em1").strip()


def assert_em1_back(state, host):
    """em1 is up with its own profile again: em1's address, not em1-spare's."""
    h, deadline = state["hosts"][host], time.monotonic() + 30
    while True:
        em1 = inside(state, host, "ip", "-4", "addr", "show", "dev", "em1")
        if active_profile(state, host) == "em1" and "inet %s/" % h["address4"] in em1 and "198.51.100.241" not in em1:
            return
        assert time.monotonic() < deadline, "%s: em1's profile is %r, addresses %s" % (host, active_profile(state, host), em1)
        time.sleep(0.5)


def test_h_networkmanager_reads_and_brings_back_the_profile_it_activates(two_profiles):
    """The bridge gets em1's addressing (IPv4 and IPv6), not em1-spare's; state absent and a failed
    probe both bring em1 back up, not em1-spare."""
    state, host = two_profiles
    h, files = state["hosts"][host], config_files(state, host)
    result = host_bridge(state, {"name": "br0", "uplink": "em1"}, hosts=host)[host]
    assert result["changed"] and not result.get("failed"), result.get("msg")
    assert_bridged(state, host)
    deadline = time.monotonic() + 30
    while "inet6 %s/" % h["address6"] not in inside(state, host, "ip", "-6", "addr", "show", "dev", "br0"):
        assert time.monotonic() < deadline, "br0 lacks em1's IPv6 address %s" % h["address6"]
        time.sleep(0.5)

    back = host_bridge(state, {"name": "br0", "uplink": "em1", "state": "absent"}, hosts=host)[host]
    assert back["changed"] and not back.get("failed"), back.get("msg")
    assert_em1_back(state, host)
    assert config_files(state, host) == files

    lab.set_gateway(state["state_dir"], up=False)
    try:
        failed = host_bridge(state, {"name": "br0", "uplink": "em1", "rollback_timeout": 3}, hosts=host)[host]
    finally:
        lab.set_gateway(state["state_dir"], up=True)
    assert failed["rolled_back"] is True and failed["changed"] is False, failed.get("msg")
    assert_em1_back(state, host)
    assert config_files(state, host) == files
