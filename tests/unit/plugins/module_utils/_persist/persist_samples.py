"""Sample inputs: the administrator's em1 configuration as tests/lab/booted.py ``manager_files()``
writes it for each manager (copied here as text) with a DNS server, a search domain and a routing
rule besides (the rest of em1's layer-3 configuration, which moves to the bridge), a netplan
sample, and the models of the cases."""
from ansible_collections.lanbridge.core.plugins.module_utils._persist import owner
from ansible_collections.lanbridge.core.plugins.module_utils._persist.model import model_from

A4, GW4, A6, GW6 = "198.51.100.31/24", "198.51.100.254", "2001:db8::31/64", "2001:db8::fe"
MAC = "02:00:00:00:01:01"
NM_UUID = "3c5d3b9e-8f3e-5d2a-9b1c-0e5a7f6d4c21"


def networkd_files(dhcp=False):
    lines = ["[Match]", "Name=em1", "", "[Network]"]
    lines += ["DHCP=ipv4"] if dhcp else ["Address=" + A4, "Gateway=" + GW4]
    lines += ["Address=" + A6, "Gateway=" + GW6, "IPv6AcceptRA=no", "DNS=" + GW4, "Domains=lab.example", ""]
    lines += ["[DHCPv4]", "UseDomains=yes", ""] if dhcp else []
    lines += ["[RoutingPolicyRule]", "From=198.51.100.31", "Table=100", ""]
    return {"/etc/systemd/network/10-em1.network": "\n".join(lines),
            "/usr/lib/systemd/network/80-container-ve.network": "[Match]\nName=ve-*\nDriver=veth\n\n[Network]\nDHCPServer=yes\n",
            "/usr/lib/systemd/network/89-ethernet.network": "[Match]\nType=ether\nKind=!*\n\n[Network]\nDHCP=yes\n"}


def ifupdown_files(dhcp=False):
    lines = ["# interfaces(5) file used by ifup(8) and ifdown(8)", "source /etc/network/interfaces.d/*", "",
             "auto lo", "iface lo inet loopback", "", "auto em1"]
    lines += ["iface em1 inet dhcp"] if dhcp else ["iface em1 inet static", "    address " + A4, "    gateway " + GW4]
    lines += ["    dns-nameservers " + GW4, "    dns-search lab.example", "    up ip rule add from 198.51.100.31 table 100",
              "    post-up ethtool -K em1 gro off"]
    lines += ["iface em1 inet6 static", "    address " + A6, "    gateway " + GW6, "    accept_ra 0", ""]
    return {"/etc/network/interfaces": "\n".join(lines)}


def nm_files(dhcp=False):
    ipv4 = ["method=auto"] if dhcp else ["method=manual", "address1=%s,%s" % (A4, GW4)]
    lines = ["[connection]", "id=em1", "uuid=" + NM_UUID, "type=ethernet", "interface-name=em1", "autoconnect=true", "",
             "[ethernet]", "", "[ipv4]"] + ipv4 + ["dns=%s;" % GW4, "dns-search=lab.example;",
                                                   "routing-rule1=priority 100 from 198.51.100.31 table 100", "",
                                                   "[ipv6]", "method=manual", "address1=%s,%s" % (A6, GW6),
                                                   "addr-gen-mode=eui64", ""]
    return {"/etc/NetworkManager/system-connections/em1.nmconnection": "\n".join(lines)}


NETPLAN_CLOUD_INIT = """\
# This file is generated from information provided by the datasource.  Changes
# to it will not persist across an instance reboot.
network:
    version: 2
    ethernets:
        em1:
            match:
                macaddress: "02:00:00:00:01:01"
            set-name: em1
            addresses:
            - 198.51.100.31/24
            - 2001:db8::31/64
            routes:
            -   to: default
                via: 198.51.100.254
            -   to: default
                via: 2001:db8::fe
            nameservers:
                addresses: [198.51.100.254]
                search: [lab.example]
            routing-policy:
            -   from: 198.51.100.31
                table: 100
            dhcp4: false
        em2:
            dhcp4: true
"""

NETPLAN_DHCP = """\
network:
  version: 2
  renderer: networkd
  ethernets:
    em1:
      dhcp4: true
      dhcp4-overrides: {use-domains: true}
      accept-ra: false
      nameservers:
        search: [lab.example]
"""


def netplan_files(dhcp=False):
    if dhcp:
        return {"/etc/netplan/01-netcfg.yaml": NETPLAN_DHCP}
    return {"/etc/netplan/50-cloud-init.yaml": NETPLAN_CLOUD_INIT}


EX4, EXGW4 = "172.24.133.39/24", "172.24.133.254"  # the README's example: web1's em1


def example_files(manager):
    """The README's example host as its administrator configured it: em1 with 172.24.133.39/24 via .254, no IPv6."""
    if manager == "networkd":
        return {"/etc/systemd/network/10-em1.network": "[Match]\nName=em1\n\n[Network]\nAddress=%s\nGateway=%s\n" % (EX4, EXGW4)}
    if manager == "ifupdown":
        return {"/etc/network/interfaces": "source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n\n"
                "auto em1\niface em1 inet static\n    address %s\n    gateway %s\n" % (EX4, EXGW4)}
    if manager == "networkmanager":
        return {"/etc/NetworkManager/system-connections/em1.nmconnection":
                "[connection]\nid=em1\nuuid=%s\ntype=ethernet\ninterface-name=em1\n\n[ipv4]\nmethod=manual\n"
                "address1=%s,%s\n\n[ipv6]\nmethod=disabled\n" % (NM_UUID, EX4, EXGW4)}
    return {"/etc/netplan/01-netcfg.yaml": "network:\n  version: 2\n  ethernets:\n    em1:\n      addresses: [%s]\n"
            "      routes:\n        - to: default\n          via: %s\n" % (EX4, EXGW4)}


# the IAID networkd's lease file on em1 showed (CLIENTID=ff + these 4 bytes + the DUID)
LEASE_IAID = 0x8a2f1c55

FILES = {"networkd": networkd_files, "ifupdown": ifupdown_files, "networkmanager": nm_files, "netplan": netplan_files}

UPLINK_ROUTES = [
    {"family": "inet", "dst": "default", "gateway": GW4, "metric": None, "table": 254, "protocol": "boot"},
    {"family": "inet6", "dst": "default", "gateway": GW6, "metric": 1024, "table": 254, "protocol": "boot"},
    {"family": "inet", "dst": "198.51.100.0/24", "gateway": None, "metric": None, "table": 254, "protocol": "kernel"},
]
EXTRA_ROUTES = [
    {"family": "inet", "dst": "203.0.113.0/24", "gateway": "198.51.100.1", "metric": 100, "table": 254, "protocol": "static"},
    {"family": "inet", "dst": "192.0.2.0/24", "gateway": "192.0.2.1", "metric": None, "table": 254, "protocol": "boot",
     "onlink": True},
    {"family": "inet6", "dst": "2001:db8:1::/48", "gateway": "fe80::1", "metric": None, "table": 254, "protocol": "boot"},
]


def model(case, manager=None):
    """The models of the golden cases: seed, dhcp, ra, routes, mtu9000, stp, example (the README's host).
    A bridge host_bridge made has the kernel's forward delay of 15 s (STP off: no delay in effect).
    With ``manager``, the rest of em1's layer-3 configuration carried from that manager's sample files."""
    addressing = {"inet": "static", "inet6": "static"}
    kwargs = {"addresses": [A4, A6], "routes": list(UPLINK_ROUTES), "forward_delay": 15}
    if case == "dhcp":
        addressing["inet"] = "dhcp"
        kwargs["addresses"] = ["198.51.100.77/24", A6]
        kwargs["routes"][0] = dict(UPLINK_ROUTES[0], protocol="dhcp")
        if manager in ("networkd", "netplan"):  # networkd's default client id (DUID + IAID): the uplink's IAID pinned
            kwargs["dhcp"] = {"iaid": LEASE_IAID}
    elif case == "stp":
        kwargs.update(stp=True, forward_delay=4)
    elif case == "example":
        addressing["inet6"] = "off"
        kwargs["addresses"] = [EX4]
        kwargs["routes"] = [{"family": "inet", "dst": "default", "gateway": EXGW4, "metric": None, "table": 254, "protocol": "boot"},
                            {"family": "inet", "dst": "172.24.133.0/24", "gateway": None, "metric": None, "table": 254,
                             "protocol": "kernel"}]
    elif case == "ra":
        addressing["inet6"] = "ra"
        kwargs["addresses"] = [A4, "2001:db8::200:ff:fe00:101/64"]
        kwargs["routes"][1] = dict(UPLINK_ROUTES[1], protocol="ra", gateway="fe80::1")
    elif case == "routes":
        kwargs["routes"] += EXTRA_ROUTES
        kwargs.update(dns=[GW4], search=["lab.example"])
    elif case == "mtu9000":
        kwargs["mtu"] = 9000
    if manager:
        kwargs["carried"] = owner.carried_of(manager, "em1", current_for(manager, case), MAC)
    return model_from("br0", "em1", MAC, addressing, **kwargs)


CASES = ("seed", "dhcp", "ra", "routes", "mtu9000", "stp", "example")


def current_for(manager, case):
    if case == "example":
        return example_files(manager)
    return FILES[manager](dhcp=(case == "dhcp"))
