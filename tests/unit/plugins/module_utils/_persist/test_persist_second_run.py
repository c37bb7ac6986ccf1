"""A second run after our own first one: the administrator's configuration is read from its originals
(the saved copies of the files a first run moved aside or rewrote, the files it shadowed), so the second
run computes the very same model and files as the first and has nothing to write."""
import fnmatch

import pytest
from persist_samples import A4, A6, FILES, GW4, MAC, UPLINK_ROUTES
from test_persist_owner import LEASE

from ansible_collections.lanbridge.core.plugins.module_utils._persist import common, ifupdown, netplan, networkd, networkmanager, owner
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge import persist_read
from ansible_collections.lanbridge.core.plugins.module_utils._persist.model import model_from

RENDERERS = {"networkd": networkd, "ifupdown": ifupdown, "networkmanager": networkmanager, "netplan": netplan}
NETWORK = "/etc/systemd/network/00-lanbridge-br0.network"


def run(manager, current, forward_delay=15):
    """What ``plan_files`` computes from ``current`` for br0 over em1: ``(addressing, identity, plan)``."""
    addressing = owner.addressing_of(manager, "em1", current, MAC)
    identity = None
    if addressing["inet"] == "dhcp":
        leases = [LEASE] if manager in ("networkd", "netplan") else []
        identity = owner.dhcp_identity_of(manager, "br0", "em1", current, MAC, leases)[0]
        addresses, routes = ["198.51.100.77/24", A6], [dict(UPLINK_ROUTES[0], protocol="dhcp")] + UPLINK_ROUTES[1:]
    else:
        addresses, routes = [A4, A6], list(UPLINK_ROUTES)
    model = model_from("br0", "em1", MAC, addressing, addresses, routes, dhcp=identity, forward_delay=forward_delay)
    return addressing, identity, RENDERERS[manager].render(model, current)


def read_back(manager, tree):
    """What ``persist_read.read_files`` reads of the file tree ``tree`` (a dict) through the renderer's ``reads``."""
    def files_matching(pattern):
        return dict((path, tree[path]) for path in sorted(tree)
                    if path.count("/") == pattern.count("/") and fnmatch.fnmatchcase(path, pattern))

    probe = model_from("br0", "em1", MAC, {"inet": "off", "inet6": "off"})
    return persist_read.read_files(RENDERERS[manager], probe, files_matching)


def assert_second_run_changes_nothing(manager, tree):
    """A first run on ``tree``, a second on the tree as the first left it (read as ``read_files`` would):
    the same model and files, nothing to write; ``restore`` still brings ``tree`` back."""
    current = read_back(manager, tree)
    addressing, identity, first = run(manager, current)
    after_tree = common.simulate(tree, first)
    after = read_back(manager, after_tree)
    again_addressing, again_identity, again = run(manager, after)
    assert (again_addressing, again_identity) == (addressing, identity)
    assert again["moves"] == [] and again["removes"] == []
    assert dict((p, s["content"]) for p, s in again["files"].items()) == dict((p, s["content"]) for p, s in first["files"].items())
    assert common.simulate(after, again) == after  # nothing to write
    assert again["warnings"] == first["warnings"]
    assert common.simulate(after_tree, RENDERERS[manager].restore(after)) == tree
    return addressing, identity, first


EM1_DHCP_MAC = "[Match]\nName=em1\n\n[Network]\nDHCP=ipv4\n\n[DHCPv4]\nClientIdentifier=mac\n"
EM1_DHCP_DUID = "[Match]\nName=em1\n\n[Network]\nDHCP=ipv4\n"
EM1_DHCP_IAID = "[Match]\nName=em1\n\n[Network]\nDHCP=ipv4\n\n[DHCPv4]\nIAID=7\nDUIDType=link-layer\n"
EM1_STATIC = "[Match]\nName=em1\n\n[Network]\nAddress=%s\nGateway=%s\nAddress=%s\nIPv6AcceptRA=no\n" % (A4, GW4, A6)
DISTRIBUTION = dict((p, t) for p, t in FILES["networkd"]().items() if p.startswith("/usr/lib/"))  # 89-ethernet: Type=ether, DHCP=yes


@pytest.mark.parametrize("others", [{}, DISTRIBUTION], ids=["alone", "with-89-ethernet"])
@pytest.mark.parametrize("directory", ["/etc/systemd/network", "/run/systemd/network"])
@pytest.mark.parametrize("text, addressing, dhcp4", [
    (EM1_DHCP_MAC, {"inet": "dhcp", "inet6": "ra"}, "ClientIdentifier=mac\n"),
    (EM1_DHCP_DUID, {"inet": "dhcp", "inet6": "ra"}, "IAID=%d\n" % 0x8a2f1c55),
    (EM1_DHCP_IAID, {"inet": "dhcp", "inet6": "ra"}, "IAID=7\nDUIDType=link-layer\n"),
    (EM1_STATIC, {"inet": "static", "inet6": "static"}, None),
], ids=["dhcp-mac", "dhcp-duid", "dhcp-iaid", "static"])
def test_networkd_an_earlier_file_moved_aside_or_shadowed_is_still_read(text, addressing, dhcp4, directory, others):
    path = directory + "/00-em1.network"
    current = dict(others, **{path: text})
    found, identity, first = assert_second_run_changes_nothing("networkd", current)
    if directory == "/etc/systemd/network":
        assert first["moves"] == [(path, path + common.SAVED_SUFFIX)]
    else:
        assert first["moves"] == [] and first["files"]["/etc/systemd/network/00-em1.network"]["content"] == common.MARKER + "\n"
    assert found == addressing
    ours = first["files"][NETWORK]["content"]
    if dhcp4:
        assert "DHCP=ipv4\n" in ours and "[DHCPv4]\n" + dhcp4 in ours
    else:
        assert "DHCP=" not in ours and "Address=%s\nAddress=%s\nGateway=%s\n" % (A4, A6, GW4) in ours


def test_networkd_a_later_file_is_read_as_before():
    assert_second_run_changes_nothing("networkd", {"/etc/systemd/network/10-em1.network": EM1_DHCP_MAC})


def test_networkd_our_own_files_and_shadows_are_not_the_administrators():
    current = {"/etc/systemd/network/00-em1.network": common.MARKER + "\n", NETWORK: common.MARKER + "\n[Match]\nName=em1\n"}
    assert owner.addressing_of("networkd", "em1", current, MAC) == {"inet": "off", "inet6": "off"}


NM = "/etc/NetworkManager/system-connections/em1.nmconnection"
INTERFACES = "/etc/network/interfaces"


def _nm(dhcp, extra=""):
    files = FILES["networkmanager"](dhcp=dhcp)
    files[NM] = files[NM].replace("autoconnect=true", "autoconnect-priority=999\nautoconnect=true") + extra
    return files


def _sourced(where="/etc/network/interfaces.d/*", em1="/etc/network/interfaces.d/em1"):
    return {INTERFACES: "source %s\n\nauto lo\niface lo inet loopback\n" % where,
            em1: "auto em1\niface em1 inet static\n    address %s\n    gateway %s\n" % (A4, GW4)}


@pytest.mark.parametrize("manager, files, addressing", [
    ("ifupdown", FILES["ifupdown"](), {"inet": "static", "inet6": "static"}),
    ("ifupdown", _sourced(), {"inet": "static", "inet6": "off"}),
    ("ifupdown", _sourced("/srv/net/*.cfg", "/srv/net/em1.cfg"), {"inet": "static", "inet6": "off"}),
    ("networkmanager", _nm(False), {"inet": "static", "inet6": "static"}),
    ("networkmanager", _nm(True), {"inet": "dhcp", "inet6": "static"}),
    ("networkmanager", FILES["networkmanager"](dhcp=True), {"inet": "dhcp", "inet6": "static"}),
    ("netplan", FILES["netplan"](), {"inet": "static", "inet6": "static"}),
    ("netplan", FILES["netplan"](dhcp=True), {"inet": "dhcp", "inet6": "off"}),
    ("networkd", FILES["networkd"](), {"inet": "static", "inet6": "static"}),
    ("networkd", FILES["networkd"](dhcp=True), {"inet": "dhcp", "inet6": "static"}),
], ids=["ifupdown", "ifupdown-sourced", "ifupdown-sourced-elsewhere", "nm-999", "nm-999-dhcp", "nm-dhcp", "netplan", "netplan-dhcp",
        "networkd", "networkd-dhcp"])
def test_every_manager_reads_the_administrators_files_after_its_first_run(manager, files, addressing):
    """ifupdown, NetworkManager (priority 999: moved aside and rewritten) and netplan rewrite the
    administrator's file in place: the second run must read its saved copy, not the rewrite."""
    assert assert_second_run_changes_nothing(manager, files)[0] == addressing


def test_ifupdown_originals_do_not_depend_on_the_order_of_the_reads():
    saved = INTERFACES + common.SAVED_SUFFIX
    for current in ({saved: "old\n", INTERFACES: "new\n"}, {INTERFACES: "new\n", saved: "old\n"}):
        assert ifupdown.originals(current) == {INTERFACES: "old\n"}


@pytest.mark.parametrize("delay, expected", [(15, "15"), (15.5, "16"), (4.25, "4"), (2.5, "3"), (0, "0")])
def test_networkmanager_and_netplan_write_a_whole_forward_delay(delay, expected):
    current = FILES["networkmanager"]()
    text = run("networkmanager", current, forward_delay=delay)[2]["files"][networkmanager.paths({"bridge": "br0", "uplink": "em1"})["bridge"]]
    assert "[bridge]\nstp=false\nforward-delay=%s\n" % expected in text["content"]
    plan = run("netplan", FILES["netplan"](), forward_delay=delay)[2]
    assert "        forward-delay: %s\n" % expected in plan["files"]["/etc/netplan/90-lanbridge-br0.yaml"]["content"]
    netdev = run("networkd", FILES["networkd"](), forward_delay=delay)[2]["files"]["/etc/systemd/network/00-lanbridge-br0.netdev"]
    assert "ForwardDelaySec=%s\n" % common.seconds_text(delay) in netdev["content"]  # networkd takes a time span: kept as it is
