"""The container_lan role's controller-side checks, on plain data (hostvars-like dicts)."""
import os

import pytest
import yaml

from ansible_collections.lanbridge.core.plugins.filter import container_lan as f
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import plan as veth_plan
from ansible_collections.lanbridge.core.plugins.module_utils._validate import check_cidr

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def iface(name, address=None, prefix=24, mac="52:54:00:00:00:01", kind="ether", v6=None):
    facts = {"device": name, "macaddress": mac, "type": kind}
    if address:
        mask = str(f.ipaddress.ip_network("0.0.0.0/%d" % prefix).netmask)
        facts["ipv4"] = {"address": address, "netmask": mask, "prefix": str(prefix)}
    if v6:
        facts["ipv6"] = [{"address": a, "prefix": str(p), "scope": "global"} for a, p in v6]
    return facts


def host(address, entries=None, mac="52:54:00:00:00:01", bridge_has_address=False, **extra):
    """Hostvars of a lab-like host: em1 with ``address``/24, default via .254 (on br0 if bridged)."""
    facts = {"interfaces": ["lo", "em1", "docker0"], "em1": iface("em1", None if bridge_has_address else address, mac=mac),
             "docker0": iface("docker0", "172.17.0.1", 16, mac="02:42:00:00:00:01", kind="bridge"),
             "default_ipv4": {"interface": "br0" if bridge_has_address else "em1", "gateway": "198.51.100.254"}}
    if bridge_has_address:
        facts["interfaces"].append("br0")
        facts["br0"] = iface("br0", address, mac=mac, kind="bridge")
    hv = {"ansible_facts": facts, "ansible_host": address, "container_lan_uplink": "em1"}
    if entries is not None:
        hv["container_lan_interfaces"] = entries
    hv.update(extra)
    return hv


FALLBACK = {"container_lan_bridge": "br0", "container_lan_gateway": ""}


def good_fleet():
    return {
        "h1": host("198.51.100.11", [{"container": "app1", "addresses": ["198.51.100.21/24"]},
                                     {"container": "app2", "address": "198.51.100.22/24"}]),
        "h2": host("198.51.100.12", [{"container": "app1", "addresses": ["198.51.100.31/24"], "mac": "02:00:00:00:00:31"}],
                   mac="52:54:00:00:00:02", bridge_has_address=True),
    }


def test_a_consistent_fleet_has_no_problems():
    assert f.fleet_problems(good_fleet(), FALLBACK) == []


def test_same_container_address_on_two_hosts_names_both():
    fleet = good_fleet()
    fleet["h2"]["container_lan_interfaces"][0]["addresses"] = ["198.51.100.21/24"]
    problems = f.fleet_problems(fleet, FALLBACK)
    assert problems == ["address 198.51.100.21 is used more than once: h1 container app1; h2 container app1"]


def test_container_address_equal_to_another_hosts_own_address():
    fleet = good_fleet()
    fleet["h1"]["container_lan_interfaces"][1]["address"] = "198.51.100.12/24"
    problems = f.fleet_problems(fleet, FALLBACK)
    assert len(problems) == 1
    assert "198.51.100.12 is used more than once" in problems[0]
    assert "h2 (the host's own address on br0)" in problems[0] and "h1 container app2" in problems[0]


def test_duplicate_mac_across_hosts():
    fleet = good_fleet()
    fleet["h1"]["container_lan_interfaces"][0]["mac"] = "02:00:00:00:00:31"
    assert f.fleet_problems(fleet, FALLBACK) == ["MAC 02:00:00:00:00:31 is used more than once: h1 container app1; h2 container app1"]


def test_container_mac_equal_to_an_uplink_mac():
    fleet = good_fleet()
    fleet["h1"]["container_lan_interfaces"][0]["mac"] = "52:54:00:00:00:02"
    problems = f.fleet_problems(fleet, FALLBACK)
    assert problems == ["MAC 52:54:00:00:00:02 is used more than once: h1 container app1; h2 uplink br0"]


def test_container_listed_twice_on_one_host():
    fleet = good_fleet()
    fleet["h1"]["container_lan_interfaces"].append({"container": "app1", "addresses": ["198.51.100.29/24"]})
    assert f.fleet_problems(fleet, FALLBACK) == [
        "h1: container_lan_interfaces[2] (container app1): listed twice on this host (also entry 0)"]


@pytest.mark.parametrize("cidr, expected", [
    ("203.0.113.5/24", "h1: container_lan_interfaces[0] (container app1): address 203.0.113.5/24 is not on the uplink's subnet (198.51.100.0/24)"),
    ("198.51.100.21", "h1: container_lan_interfaces[0] (container app1): address '198.51.100.21' is not in CIDR form"),
    ("198.51.100.300/24", "h1: container_lan_interfaces[0] (container app1): address '198.51.100.300/24' is not a valid CIDR"),
])
def test_bad_or_foreign_addresses(cidr, expected):
    fleet = good_fleet()
    fleet["h1"]["container_lan_interfaces"][0]["addresses"] = [cidr]
    problems = f.fleet_problems(fleet, FALLBACK)
    assert problems[0].startswith(expected)
    # a foreign subnet also leaves the inherited LAN gateway outside the entry's subnet
    assert len(problems) == (2 if "not on the uplink" in expected else 1)


def test_allowed_networks_admit_a_second_subnet():
    fleet = good_fleet()
    fleet["h1"]["container_lan_interfaces"][0]["addresses"] = ["203.0.113.5/24"]
    fleet["h1"]["container_lan_interfaces"][0]["gateway"] = "203.0.113.1"
    fleet["h1"]["container_lan_allowed_networks"] = ["203.0.113.0/24"]
    assert f.fleet_problems(fleet, FALLBACK) == []


def test_gateway_outside_the_entry_subnet():
    fleet = good_fleet()
    fleet["h1"]["container_lan_interfaces"][0]["gateway"] = "198.51.101.1"
    assert f.fleet_problems(fleet, FALLBACK) == [
        "h1: container_lan_interfaces[0] (container app1): gateway 198.51.101.1 is not on any subnet of the addresses (198.51.100.21/24)"]


def _entry_problems(entry):
    """The fleet check's problems of one entry of h1 (its other entry removed)."""
    fleet = good_fleet()
    del fleet["h2"]
    fleet["h1"]["container_lan_interfaces"] = [dict({"container": "app1"}, **entry)]
    fleet["h1"]["container_lan_allowed_networks"] = ["2001:db8::/64"]  # the uplink has no IPv6 subnet
    return f.fleet_problems(fleet, FALLBACK)


def _module_error(entry):
    """What container_veth itself says of the same entry's gateways: its message, or None."""
    try:
        veth_plan.wanted_routes([check_cidr(a)["cidr"] for a in entry["addresses"]], entry.get("gateway"), entry.get("gateway6"))
    except ValueError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("entry", [
    {"addresses": ["198.51.100.21/24", "2001:db8::21/64"], "gateway6": "fe80::1"},   # link-local: on every link
    {"addresses": ["198.51.100.21/24"], "gateway": "198.51.100.0"},                  # the network address
    {"addresses": ["198.51.100.21/24"], "gateway": "198.51.100.255"},                # the broadcast address
    {"addresses": ["198.51.100.21/24"], "gateway": "198.51.100.21"},                 # its own address
    {"addresses": ["198.51.100.21/24"], "gateway": "198.51.101.1"},                  # off the subnet
    {"addresses": ["198.51.100.21/24"], "gateway": "2001:db8::1"},                   # the other family
    {"addresses": ["198.51.100.21/24"], "gateway": "127.0.0.1"},                     # unusable
    {"addresses": ["198.51.100.21/24", "2001:db8::21/64"], "gateway6": "2001:db8::1"},
    {"addresses": ["198.51.100.21/31"], "gateway": "198.51.100.20"},                 # /31: no network address
])
def test_the_fleet_check_judges_gateways_as_the_module_does(entry):
    module = _module_error(entry)
    problems = _entry_problems(entry)
    if module is None:
        assert problems == []
    else:
        assert problems == ["h1: container_lan_interfaces[0] (container app1): %s" % module]


def test_link_local_gateway6_passes_and_network_or_broadcast_gateways_fail():
    assert _entry_problems({"addresses": ["198.51.100.21/24", "2001:db8::21/64"], "gateway6": "fe80::1"}) == []
    assert _entry_problems({"addresses": ["198.51.100.21/24"], "gateway": "198.51.100.0"}) == [
        "h1: container_lan_interfaces[0] (container app1): gateway 198.51.100.0 is the network address of 198.51.100.0/24, not a host"]
    assert _entry_problems({"addresses": ["198.51.100.21/24"], "gateway": "198.51.100.255"}) == [
        "h1: container_lan_interfaces[0] (container app1): gateway 198.51.100.255 is the broadcast address of 198.51.100.0/24, not a host"]


def test_role_gateway_outside_uplink_subnet_is_reported_once_per_host_and_per_entry():
    fleet = good_fleet()
    del fleet["h2"]
    fleet["h1"]["container_lan_gateway"] = "10.0.0.1"
    problems = f.fleet_problems(fleet, FALLBACK)
    assert problems[0] == "h1: container_lan_gateway 10.0.0.1 is not inside the uplink's subnet (198.51.100.0/24)"
    assert len(problems) == 3  # and each of the two IPv4 entries that would inherit it


@pytest.mark.parametrize("key, name, fragment", [
    ("ifname", "eth-is-much-too-long", "ifname 'eth-is-much-too-long' is longer than 15 bytes"),
    ("host_ifname", "a/b", "host_ifname 'a/b' contains '/', not allowed in interface names"),
    ("ifname", "e th1", "ifname 'e th1' contains space, not allowed in interface names"),
    ("ifname", "ethé12345678901", "longer than 15 bytes"),  # 15 characters, 16 bytes
])
def test_interface_names(key, name, fragment):
    fleet = good_fleet()
    fleet["h1"]["container_lan_interfaces"][0][key] = name
    problems = f.fleet_problems(fleet, FALLBACK)
    assert len(problems) == 1 and fragment in problems[0] and problems[0].startswith("h1: container_lan_interfaces[0]")


def test_bridge_name_too_long_from_play_vars_fallback():
    problems = f.fleet_problems(good_fleet(), {"container_lan_bridge": "bridge-name-16by"})
    assert "h1: container_lan_bridge 'bridge-name-16by' is longer than 15 bytes" in problems


def test_host_vars_take_precedence_over_fallback():
    fleet = good_fleet()
    fleet["h1"]["container_lan_bridge"] = "br0"
    problems = f.fleet_problems(fleet, {"container_lan_bridge": "bridge-name-16by"})
    assert not any(p.startswith("h1:") for p in problems)
    assert any(p.startswith("h2:") for p in problems)


def test_uplink_by_mac_and_auto_and_missing():
    fleet = good_fleet()
    del fleet["h2"]
    fleet["h1"]["container_lan_uplink"] = "52:54:00:00:00:01"
    assert f.fleet_problems(fleet, FALLBACK) == []
    fleet["h1"]["container_lan_uplink"] = "auto"
    assert f.fleet_problems(fleet, FALLBACK) == []
    fleet["h1"]["container_lan_uplink"] = "em9"
    assert f.fleet_problems(fleet, FALLBACK) == ["h1: uplink 'em9' not found among the host's interfaces (docker0, em1, lo)"]
    del fleet["h1"]["container_lan_uplink"]
    assert f.fleet_problems(fleet, FALLBACK)[0].startswith("h1: container_lan_uplink is not set")


def test_absent_entries_free_their_address():
    fleet = good_fleet()
    fleet["h2"]["container_lan_interfaces"].append({"container": "old", "addresses": ["198.51.100.21/24"], "state": "absent"})
    assert f.fleet_problems(fleet, FALLBACK) == []


def test_ipv6_addresses_checked_against_the_uplinks_ipv6_subnet():
    fleet = good_fleet()
    del fleet["h2"]
    fleet["h1"]["ansible_facts"]["em1"]["ipv6"] = [{"address": "2001:db8::11", "prefix": "64", "scope": "global"}]
    fleet["h1"]["container_lan_interfaces"][0]["addresses"] = ["198.51.100.21/24", "2001:db8::21/64"]
    assert f.fleet_problems(fleet, FALLBACK) == []
    fleet["h1"]["container_lan_interfaces"][0]["addresses"] = ["198.51.100.21/24", "2001:db9::21/64"]
    assert "address 2001:db9::21/64 is not on the uplink's subnet" in f.fleet_problems(fleet, FALLBACK)[0]


def test_veth_interfaces_apply_role_defaults_and_drop_unset_keys():
    entries = [
        {"container": "app1", "address": "198.51.100.21/24", "mac": None},
        {"container": "app2", "addresses": ["198.51.100.22/24"], "gateway": "198.51.100.1", "runtime": "podman"},
        {"container": "app3", "addresses": ["2001:db8::3/64"]},
        {"container": "gone", "state": "absent"},
    ]
    assert f.veth_interfaces(entries, "br0", "198.51.100.254", "unix:///run/d.sock", "docker") == [
        {"container": "app1", "addresses": ["198.51.100.21/24"], "bridge": "br0", "gateway": "198.51.100.254",
         "docker_host": "unix:///run/d.sock", "runtime": "docker"},
        {"container": "app2", "runtime": "podman", "addresses": ["198.51.100.22/24"], "bridge": "br0",
         "gateway": "198.51.100.1", "docker_host": "unix:///run/d.sock"},
        {"container": "app3", "addresses": ["2001:db8::3/64"], "bridge": "br0", "docker_host": "unix:///run/d.sock", "runtime": "docker"},
        {"container": "gone", "state": "absent", "docker_host": "unix:///run/d.sock", "runtime": "docker"},
    ]


def test_summary_one_line_per_container():
    lines = f.summary([
        {"container_name": "app1", "ifname": "eth1", "addresses": ["198.51.100.21/24"], "host_ifname": "vl0123456789a", "changed": True},
        {"container_name": "web-long", "ifname": "eth1", "addresses": ["198.51.100.22/24"], "host_ifname": "vl0123456789b", "changed": False},
        {"container": "bad", "failed": True, "msg": "container bad is not running"},
        {"container_name": "old", "ifname": "eth1", "addresses": [], "host_ifname": "vl0123456789c", "changed": True,
         "state": "absent", "purged": True},
    ])
    assert lines[0].split() == ["app1", "eth1", "198.51.100.21/24", "port", "vl0123456789a", "changed"]
    assert lines[1].split() == ["web-long", "eth1", "198.51.100.22/24", "port", "vl0123456789b", "ok"]
    assert lines[2].endswith("FAILED: container bad is not running")
    assert lines[3].split() == ["old", "eth1", "-", "port", "vl0123456789c", "purged"]
    assert f.summary([]) == ["(no containers listed)"]


def test_role_variables_read_by_the_check_have_role_defaults():
    with open(os.path.join(ROOT, "roles", "container_lan", "defaults", "main.yml")) as handle:
        defaults = yaml.safe_load(handle)
    with open(os.path.join(ROOT, "roles", "container_lan", "meta", "argument_specs.yml")) as handle:
        options = yaml.safe_load(handle)["argument_specs"]["main"]["options"]
    for key in f.ROLE_VARS:
        assert key in options
        assert key in defaults or options[key].get("required")
    # every variable of the defaults file is documented, and documented defaults match
    for key, value in defaults.items():
        assert key in options, key
        if "default" in options[key]:
            assert options[key]["default"] == value, key


def test_play_vars_override_inventory_for_every_host():
    # h1 runs the check; its effective bridge (a play var) differs from its inventory value
    fleet = good_fleet()
    fleet["h1"]["container_lan_bridge"] = "br0"
    fleet["h2"]["container_lan_bridge"] = "br0"
    problems = f.fleet_problems(fleet, {"container_lan_bridge": "bridge-name-16by"}, "h1")
    assert {p.split(":")[0] for p in problems} == {"h1", "h2"}
    # no override: the effective value equals the inventory value, host vars are used as they are
    fleet["h2"]["container_lan_bridge"] = "bridge-name-16by"
    problems = f.fleet_problems(fleet, {"container_lan_bridge": "br0"}, "h1")
    assert {p.split(":")[0] for p in problems} == {"h2"}


def test_without_facts_the_inventory_checks_still_run_and_the_host_checks_are_left_to_host_bridge():
    fleet = good_fleet()
    for hv in fleet.values():
        del hv["ansible_facts"]
    assert f.fleet_problems(fleet, FALLBACK) == []
    fleet["h1"]["container_lan_interfaces"][0]["addresses"] = ["203.0.113.5/24"]  # off the LAN: host_bridge's job
    assert f.fleet_problems(fleet, FALLBACK) == []
    fleet["h2"]["container_lan_interfaces"][0]["addresses"] = ["203.0.113.5/24"]  # twice: the fleet's
    fleet["h2"]["container_lan_interfaces"][0]["gateway"] = "198.51.100.254"  # off its own subnet
    problems = f.fleet_problems(fleet, FALLBACK)
    assert "address 203.0.113.5 is used more than once: h1 container app1; h2 container app1" in problems
    assert any("gateway 198.51.100.254 is not on any subnet" in p for p in problems)
    fleet["h1"]["container_lan_interfaces"][1]["address"] = "198.51.100.12/24"  # h2's ansible_host
    assert any(p.startswith("address 198.51.100.12 is used more than once") for p in f.fleet_problems(fleet, FALLBACK))


def test_lan_addresses_are_the_present_entries_addresses():
    entries = [{"container": "a", "addresses": ["198.51.100.21/24", "2001:db8::21/64"]},
               {"container": "b", "address": "198.51.100.22/24"},
               {"container": "c", "address": "198.51.100.23/24", "state": "absent"}]
    assert f.lan_addresses(entries) == ["198.51.100.21/24", "2001:db8::21/64", "198.51.100.22/24"]
    assert f.lan_addresses([]) == [] and f.lan_addresses(None) == []


ROUTED = {"container": "app1", "addresses": ["198.51.100.21/24", "2001:db8::21/64"]}


def _routed_problems(entry, **hostvars):
    fleet = good_fleet()
    del fleet["h2"]
    fleet["h1"]["container_lan_interfaces"] = [entry]
    fleet["h1"]["container_lan_allowed_networks"] = ["2001:db8::/64"]  # the uplink has no IPv6 subnet
    fleet["h1"].update(hostvars)
    return f.fleet_problems(fleet, FALLBACK)


def test_a_routed_host_passes_the_fleet_check():
    assert _routed_problems(ROUTED, container_lan_mode="routed") == []
    assert _routed_problems(dict(ROUTED, mode="routed")) == []  # per entry, the bridge built for others


@pytest.mark.parametrize("entry, hostvars, cause", [
    (dict(ROUTED, gateway="198.51.100.254"), {}, "gateway is not taken in mode routed"),
    (dict(ROUTED, routes=[{"dest": "203.0.113.0/24", "via": "198.51.100.1"}]), {}, "routes is not taken in mode routed"),
    ({"container": "app1"}, {}, "DHCP is not possible in routed mode"),
    (dict(ROUTED, allowed_networks=["nonsense"]), {}, "allowed_networks: 'nonsense' is not a network"),
    (ROUTED, {"container_lan_uplink": "auto"}, "mode routed needs the uplink's interface name"),
    (ROUTED, {"container_lan_uplink": "52:54:00:00:00:01"}, "mode routed needs the uplink's interface name"),
    (dict(ROUTED, addresses=["203.0.113.21/24"]), {}, "is not on the uplink's subnet"),
    (dict(ROUTED, addresses=["198.51.100.11/24"]), {}, "address 198.51.100.11 is used more than once"),
    (dict(ROUTED, mode="tunnelled"), {}, "mode must be bridged or routed, not 'tunnelled'"),
    (dict(ROUTED, mode="bridged", uplink="em1"), {}, "uplink and allowed_networks are taken only with mode routed"),
])
def test_routed_entries_are_refused_for_the_modules_reasons(entry, hostvars, cause):
    problems = _routed_problems(dict({"mode": "routed"}, **entry), container_lan_mode="routed", **hostvars)
    assert any(cause in p for p in problems), problems


def test_an_entry_with_its_own_uplink_is_left_to_the_module_for_its_subnet():
    assert _routed_problems(dict(ROUTED, uplink="wlan0", addresses=["203.0.113.21/24"]),
                            container_lan_mode="routed") == []


def test_veth_interfaces_of_routed_entries():
    entries = [dict(ROUTED), {"container": "app2", "addresses": ["198.51.100.22/24"], "mode": "bridged"},
               {"container": "app3", "state": "absent"}]
    out = f.veth_interfaces(entries, "br0", "198.51.100.254", "", "auto", "routed", "em1", ["203.0.113.0/24"])
    assert out == [
        {"container": "app1", "addresses": ROUTED["addresses"], "mode": "routed", "uplink": "br0",
         "allowed_networks": ["203.0.113.0/24"]},  # the bridge is built for app2: routed ones answer on it
        {"container": "app2", "addresses": ["198.51.100.22/24"], "bridge": "br0", "gateway": "198.51.100.254"},
        {"container": "app3", "state": "absent", "mode": "routed", "uplink": "br0"}]
    out = f.veth_interfaces([ROUTED, {"container": "app3", "state": "absent"}], "br0", "", "", "auto", "routed", "em1")
    assert out == [dict(ROUTED, mode="routed", uplink="em1"),
                   {"container": "app3", "state": "absent", "mode": "routed", "uplink": "em1"}]
    assert not f.builds_bridge([ROUTED], "routed") and f.builds_bridge([ROUTED], "bridged")
    assert f.lan_addresses(entries, "routed") == ["198.51.100.22/24"]
