"""Who owns the uplink, from sample state files; how it is addressed, from the manager's files."""
import pytest
from persist_samples import FILES, MAC, NETPLAN_CLOUD_INIT, NETPLAN_DHCP

from ansible_collections.lanbridge.core.plugins.module_utils._persist import owner
from ansible_collections.lanbridge.core.plugins.module_utils._persist.model import model_from

NETWORKD_LINK = """\
# This is private data. Do not parse.
ADMIN_STATE=configured
OPER_STATE=routable
CARRIER_STATE=carrier
ADDRESS_STATE=routable
IPV4_ADDRESS_STATE=routable
IPV6_ADDRESS_STATE=routable
ONLINE_STATE=online
REQUIRED_FOR_ONLINE=yes
REQUIRED_OPER_STATE_FOR_ONLINE=degraded
NETWORK_FILE=/etc/systemd/network/10-em1.network
DNS=
NTP=
"""
UNMANAGED_LINK = "# This is private data. Do not parse.\nADMIN_STATE=unmanaged\nOPER_STATE=routable\n"
NETPLAN_LINK = NETWORKD_LINK.replace("/etc/systemd/network/10-em1.network", "/run/systemd/network/10-netplan-em1.network")
NMCLI = "em1:connected:Wired connection 1\nlo:connected (externally):lo\nvl3f2a91c0:unmanaged:\n"
NMCLI_EXTERNAL = "em1:connected (externally):em1\nlo:unmanaged:\n"
NMCLI_COLON = "em1:connecting (getting IP configuration):office\\:wired\n"


def state(**kwargs):
    base = {"networkd_link": None, "nm_devices": None, "ifupdown_state": None, "netplan": {},
            "nm_running": False, "networkd_running": False, "mac": MAC}
    base.update(kwargs)
    return base


@pytest.mark.parametrize("kwargs, expected", [
    ({"networkd_link": NETWORKD_LINK, "networkd_running": True}, ["networkd"]),
    ({"networkd_link": UNMANAGED_LINK, "networkd_running": True}, []),
    ({"networkd_link": NETWORKD_LINK, "networkd_running": False}, []),
    ({"nm_devices": NMCLI, "nm_running": True}, ["networkmanager"]),
    ({"nm_devices": NMCLI_EXTERNAL, "nm_running": True}, []),
    ({"nm_devices": NMCLI_COLON, "nm_running": True}, ["networkmanager"]),
    ({"ifupdown_state": "lo=lo\nem1=em1\n"}, ["ifupdown"]),
    ({"ifupdown_state": "em1\n"}, ["ifupdown"]),
    ({"ifupdown_state": "lo=lo\n"}, []),
    ({"netplan": {"/etc/netplan/50-cloud-init.yaml": NETPLAN_CLOUD_INIT}, "networkd_link": NETPLAN_LINK,
      "networkd_running": True}, ["netplan"]),
    ({"networkd_link": NETWORKD_LINK, "networkd_running": True, "ifupdown_state": "em1=em1\n"}, ["networkd", "ifupdown"]),
    ({}, []),
])
def test_owners(kwargs, expected):
    assert [f["manager"] for f in owner.owners("em1", 2, state(**kwargs))] == expected


def test_netplan_renderer_and_evidence():
    found = owner.owners("em1", 2, state(netplan={"/etc/netplan/01-netcfg.yaml": NETPLAN_DHCP.replace("networkd", "NetworkManager")},
                                         nm_devices="em1:connected:netplan-em1\n", nm_running=True))
    assert [(f["manager"], f["renderer"]) for f in found] == [("netplan", "NetworkManager")]
    assert "netplan-em1" in found[0]["evidence"]


def test_choose():
    assert owner.choose([]) is None
    one = {"manager": "ifupdown", "evidence": "em1 in /run/network/ifstate"}
    assert owner.choose([one]) is one
    two = owner.owners("em1", 2, state(networkd_link=NETWORKD_LINK, networkd_running=True, nm_devices=NMCLI, nm_running=True))
    with pytest.raises(ValueError, match=r"^the uplink is claimed by both systemd-networkd \(ADMIN_STATE=configured, "
                                         r"NETWORK_FILE=/etc/systemd/network/10-em1.network\) and NetworkManager \(device "
                                         r"connected, connection Wired connection 1\)"):
        owner.choose(two)


@pytest.mark.parametrize("manager", sorted(FILES))
@pytest.mark.parametrize("dhcp", [False, True])
def test_addressing_of_the_lab_files(manager, dhcp):
    found = owner.addressing_of(manager, "em1", FILES[manager](dhcp=dhcp), mac=MAC)
    v6 = "off" if manager == "netplan" and dhcp else "static"
    assert found == {"ipv4": "dhcp" if dhcp else "static", "ipv6": v6}


@pytest.mark.parametrize("manager, files, expected", [
    ("networkd", {"/etc/systemd/network/20-em1.network": "[Match]\nName=em1\n[Network]\nDHCP=yes\n"}, ("dhcp", "dhcp")),
    ("networkd", {"/etc/systemd/network/20-em1.network": "[Match]\nName=em1\n[Network]\nAddress=198.51.100.31/24\n"}, ("static", "ra")),
    ("ifupdown", {"/etc/network/interfaces": "iface em1 inet dhcp\niface em1 inet6 auto\n"}, ("dhcp", "ra")),
    ("networkmanager", {"/etc/NetworkManager/system-connections/x.nmconnection": "[connection]\ntype=ethernet\n"
                        "[ethernet]\nmac-address=02:00:00:00:01:01\n"}, ("dhcp", "ra")),
    ("netplan", {"/etc/netplan/a.yaml": "network:\n  ethernets:\n    em1:\n      accept-ra: true\n      dhcp4: yes\n"}, ("dhcp", "ra")),
])
def test_addressing_of(manager, files, expected):
    assert owner.addressing_of(manager, "em1", files, mac=MAC) == {"ipv4": expected[0], "ipv6": expected[1]}


def test_addressing_of_unknown_manager():
    with pytest.raises(ValueError, match="unknown network manager 'wicked'"):
        owner.addressing_of("wicked", "em1", {})


def test_model_from_drops_what_dhcp_and_ra_own():
    routes = [{"family": "inet", "dst": "default", "gateway": "198.51.100.254", "protocol": "dhcp", "table": 254},
              {"family": "inet6", "dst": "default", "gateway": "fe80::1", "protocol": "ra", "table": 254},
              {"family": "inet", "dst": "10.0.0.0/8", "gateway": "198.51.100.1", "protocol": "boot", "table": 100},
              {"family": "inet", "dst": "10.1.0.0/16", "nexthops": [{"gateway": "198.51.100.1"}], "protocol": "boot"}]
    m = model_from("br0", "em1", MAC.upper(), {"ipv4": "dhcp", "ipv6": "ra"}, ["198.51.100.77/24", "2001:db8::5/64"], routes)
    assert m["mac"] == MAC
    assert m["ipv4"] == {"method": "dhcp", "addresses": [], "gateway": None, "routes": []}
    assert m["ipv6"] == {"method": "ra", "addresses": [], "gateway": None, "routes": []}
