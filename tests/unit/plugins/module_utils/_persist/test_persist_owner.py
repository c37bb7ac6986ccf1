"""Who owns the uplink, from sample state files; how it is addressed, from the manager's files."""
import pytest
from persist_samples import FILES, MAC, NETPLAN_CLOUD_INIT, NETPLAN_DHCP, model

from ansible_collections.lanbridge.core.plugins.module_utils._persist import common, networkd, networkmanager, owner
from ansible_collections.lanbridge.core.plugins.module_utils._persist.model import model_from
from ansible_collections.lanbridge.core.plugins.module_utils._errors import PersistError

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
    claimed = (r"^persist auto: the uplink is claimed by both systemd-networkd \(ADMIN_STATE=configured, "
               r"NETWORK_FILE=/etc/systemd/network/10-em1.network\) and NetworkManager \(device "
               r"connected, connection Wired connection 1\)")
    with pytest.raises(PersistError, match=claimed):
        owner.choose(two)


@pytest.mark.parametrize("manager", sorted(FILES))
@pytest.mark.parametrize("dhcp", [False, True])
def test_addressing_of_the_lab_files(manager, dhcp):
    found = owner.addressing_of(manager, "em1", FILES[manager](dhcp=dhcp), mac=MAC)
    v6 = "off" if manager == "netplan" and dhcp else "static"
    assert found == {"inet": "dhcp" if dhcp else "static", "inet6": v6}


@pytest.mark.parametrize("manager, files, expected", [
    ("networkd", {"/etc/systemd/network/20-em1.network": "[Match]\nName=em1\n[Network]\nDHCP=yes\n"}, ("dhcp", "dhcp")),
    ("networkd", {"/etc/systemd/network/20-em1.network": "[Match]\nName=em1\n[Network]\nAddress=198.51.100.31/24\n"}, ("static", "ra")),
    ("ifupdown", {"/etc/network/interfaces": "iface em1 inet dhcp\niface em1 inet6 auto\n"}, ("dhcp", "ra")),
    ("networkmanager", {"/etc/NetworkManager/system-connections/x.nmconnection": "[connection]\ntype=ethernet\n"
                        "[ethernet]\nmac-address=02:00:00:00:01:01\n"}, ("dhcp", "ra")),
    ("netplan", {"/etc/netplan/a.yaml": "network:\n  ethernets:\n    em1:\n      accept-ra: true\n      dhcp4: yes\n"}, ("dhcp", "ra")),
])
def test_addressing_of(manager, files, expected):
    assert owner.addressing_of(manager, "em1", files, mac=MAC) == {"inet": expected[0], "inet6": expected[1]}


def test_addressing_of_unknown_manager():
    with pytest.raises(PersistError, match="unknown network manager 'wicked'"):
        owner.addressing_of("wicked", "em1", {})


def test_model_from_drops_what_dhcp_and_ra_own():
    routes = [{"family": "inet", "dst": "default", "gateway": "198.51.100.254", "protocol": "dhcp", "table": 254},
              {"family": "inet6", "dst": "default", "gateway": "fe80::1", "protocol": "ra", "table": 254},
              {"family": "inet", "dst": "10.0.0.0/8", "gateway": "198.51.100.1", "protocol": "boot", "table": 100},
              {"family": "inet", "dst": "10.1.0.0/16", "nexthops": [{"gateway": "198.51.100.1"}], "protocol": "boot"}]
    m = model_from("br0", "em1", MAC.upper(), {"inet": "dhcp", "inet6": "ra"}, ["198.51.100.77/24", "2001:db8::5/64"], routes)
    assert m["mac"] == MAC
    assert m["inet"] == {"method": "dhcp", "addresses": [], "gateway": None, "routes": []}
    assert m["inet6"] == {"method": "ra", "addresses": [], "gateway": None, "routes": []}


# networkd's lease file of em1 (DHCP with the default ClientIdentifier=duid): CLIENTID is 0xff, the IAID, the DUID
LEASE = """\
# This is private data. Do not parse.
ADDRESS=198.51.100.77
NETMASK=255.255.255.0
ROUTER=198.51.100.254
SERVER_ADDRESS=198.51.100.253
LIFETIME=120
CLIENTID=ff8a2f1c5500020000ab11d3bd8f0c7d25a1c4
"""


def test_lease_identity_reads_the_iaid_and_the_duid():
    assert networkd.lease_identity(LEASE) == {"client_id": "ff8a2f1c5500020000ab11d3bd8f0c7d25a1c4", "iaid": 0x8a2f1c55,
                                              "duid": "00020000ab11d3bd8f0c7d25a1c4"}


@pytest.mark.parametrize("text, expected", [
    ("CLIENTID=01020000000101\n", {"client_id": "01020000000101", "iaid": None, "duid": None}),  # ClientIdentifier=mac
    ("ADDRESS=198.51.100.77\n", None), ("CLIENTID=zz\n", None), ("", None), (None, None),
])
def test_lease_identity_without_an_iaid(text, expected):
    assert networkd.lease_identity(text) == expected


def test_networkd_duid_default_pins_the_uplinks_iaid():
    identity, warnings = owner.dhcp_identity_of("networkd", "br0", "em1", FILES["networkd"](dhcp=True), MAC, [LEASE])
    assert identity == {"client_id": None, "iaid": 0x8a2f1c55, "duid_type": None, "duid_raw": None} and warnings == []


def test_networkd_client_identifier_mac_stays_mac():
    files = FILES["networkd"](dhcp=True)
    files["/etc/systemd/network/10-em1.network"] += "\n[DHCPv4]\nClientIdentifier=mac\n"
    identity, warnings = owner.dhcp_identity_of("networkd", "br0", "em1", files, MAC, [LEASE])
    assert identity["client_id"] == "mac" and identity["iaid"] is None and warnings == []


def test_networkd_admin_iaid_and_duid_kept():
    files = FILES["networkd"](dhcp=True)
    files["/etc/systemd/network/10-em1.network"] += "\n[DHCPv4]\nIAID=7\nDUIDType=link-layer\n"
    identity, _warnings = owner.dhcp_identity_of("networkd", "br0", "em1", files, MAC, [LEASE])
    assert identity == {"client_id": None, "iaid": "7", "duid_type": "link-layer", "duid_raw": None}


def test_networkd_second_run_reads_the_pinned_iaid_from_its_own_file():
    files = FILES["networkd"](dhcp=True)
    files["/etc/systemd/network/00-lanbridge-br0.network"] = common.ini([("Match", [("Name", "br0")]), ("DHCPv4", [("IAID", "42")])])
    assert owner.dhcp_identity_of("networkd", "br0", "em1", files, MAC, [])[0]["iaid"] == 42


def test_networkd_without_a_lease_warns():
    identity, warnings = owner.dhcp_identity_of("networkd", "br0", "em1", FILES["networkd"](dhcp=True), MAC, [])
    assert identity["iaid"] is None and "no DHCP lease of em1" in warnings[0]


def test_netplan_identity():
    files = {"/etc/netplan/01-netcfg.yaml": NETPLAN_DHCP}
    assert owner.dhcp_identity_of("netplan", "br0", "em1", files, MAC, [LEASE]) == ({"client_id": None, "iaid": 0x8a2f1c55}, [])
    mac = {"/etc/netplan/01-netcfg.yaml": NETPLAN_DHCP + "      dhcp-identifier: mac\n"}
    assert owner.dhcp_identity_of("netplan", "br0", "em1", mac, MAC, [LEASE]) == ({"client_id": "mac", "iaid": None}, [])
    nm = {"/etc/netplan/01-netcfg.yaml": NETPLAN_DHCP.replace("renderer: networkd", "renderer: NetworkManager")}
    assert owner.dhcp_identity_of("netplan", "br0", "em1", nm, MAC, []) == ({"client_id": None, "iaid": None}, [])


@pytest.mark.parametrize("extra, expected, warned", [
    ("", {"client_id": None, "iaid": None}, False),  # NM's default with its internal client: mac (the cloned MAC: the same)
    ("dhcp-client-id=mac\n", {"client_id": "mac", "iaid": None}, False),
    ("dhcp-client-id=01:02:00:00:00:01:01\n", {"client_id": "01:02:00:00:00:01:01", "iaid": None}, False),
    ("dhcp-client-id=duid\ndhcp-iaid=0x01020304\n", {"client_id": "duid", "iaid": "0x01020304"}, False),
    ("dhcp-client-id=duid\n", {"client_id": "duid", "iaid": None}, True),
    ("dhcp-client-id=stable\n", {"client_id": "stable", "iaid": None}, True),
])
def test_networkmanager_identity_keeps_the_profiles(extra, expected, warned):
    files = FILES["networkmanager"](dhcp=True)
    path = "/etc/NetworkManager/system-connections/em1.nmconnection"
    files[path] = files[path].replace("method=auto\n", "method=auto\n" + extra)
    identity, warnings = owner.dhcp_identity_of("networkmanager", "br0", "em1", files, MAC)
    assert identity == expected and bool(warnings) is warned


def test_dhcp_identity_renders():
    m = model_from("br0", "em1", MAC, {"inet": "dhcp", "inet6": "off"}, dhcp={"client_id": "mac"})
    assert "[DHCPv4]\nClientIdentifier=mac\n" in networkd.render(m, {})["files"]["/etc/systemd/network/00-lanbridge-br0.network"]["content"]
    m = model_from("br0", "em1", MAC, {"inet": "dhcp", "inet6": "off"}, dhcp={"client_id": "duid", "iaid": "0x01020304"})
    text = networkmanager.render(m, {})["files"][networkmanager.paths(m)["bridge"]]["content"]
    assert "dhcp-client-id=duid\ndhcp-iaid=0x01020304\n" in text
    assert model("seed")["dhcp"] == {"client_id": None, "iaid": None, "duid_type": None, "duid_raw": None}
