"""The persist renderers on plain data: golden files, undo/restore byte for byte, idempotence."""
import os
import subprocess
import sys

import pytest
from persist_samples import CASES, FILES, MAC, current_for, model
from conftest import plan_text

from ansible_collections.lanbridge.core.plugins.module_utils._persist import common, ifupdown, netplan, networkd, networkmanager
from ansible_collections.lanbridge.core.plugins.module_utils._errors import PersistError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", ".."))
from lab import netplan_site  # noqa: E402  the lab's administrator's netplan file, as test data

RENDERERS = {"networkd": networkd, "ifupdown": ifupdown, "networkmanager": networkmanager, "netplan": netplan}


GOLDEN_CASES = [(m, c) for m in sorted(RENDERERS) for c in CASES if not (m == "ifupdown" and c == "dhcp")]


@pytest.mark.parametrize("manager, case", GOLDEN_CASES)
def test_golden(manager, case, golden):
    plan = RENDERERS[manager].render(model(case, manager), current_for(manager, case))
    golden("%s-%s.txt" % (manager, case), plan_text(plan))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("manager", sorted(RENDERERS))
def test_undo_restore_and_repeat(manager, case):
    renderer, current = RENDERERS[manager], current_for(manager, case)
    plan = renderer.render(model(case, manager), current)
    after = common.simulate(current, plan)
    assert common.simulate(after, common.undo(plan, current)) == current  # the journal's way back
    assert common.simulate(after, renderer.restore(after)) == current  # the files' own way back
    again = renderer.render(model(case, manager), after)
    assert again["moves"] == []
    assert common.simulate(after, again) == after  # a second run changes nothing
    assert common.simulate(after, renderer.restore(common.simulate(after, again))) == current


def test_every_written_file_is_marked_or_saved():
    for manager, renderer in RENDERERS.items():
        current = FILES[manager]()
        plan = renderer.render(model("seed"), current)
        moved = set(src for src, _dst in plan["moves"])
        for path, spec in plan["files"].items():
            assert common.is_ours(spec["content"]) or path in moved, (manager, path)


def test_networkd_sets_aside_earlier_files_that_match():
    current = dict(FILES["networkd"](), **{
        "/etc/systemd/network/00-all.network": "[Match]\nName=*\n\n[Network]\nDHCP=yes\n",
        "/run/systemd/network/00-by-mac.network": "[Match]\nMACAddress=%s\n\n[Network]\nDHCP=yes\n" % MAC,
        "/etc/systemd/network/00-eth.network": "[Match]\nName=eth*\n",
        "/etc/systemd/network/00-empty.network": "[Match]\n\n[Network]\nDHCP=yes\n",
        "/etc/systemd/network/00-b-vl.network": "[Match]\nName=vl*\n",
    })
    plan = networkd.render(model("seed"), current)
    assert plan["moves"] == [("/etc/systemd/network/00-all.network", "/etc/systemd/network/00-all.network.lanbridge-saved")]
    assert plan["files"]["/etc/systemd/network/00-by-mac.network"]["content"] == common.MARKER + "\n"
    assert any("00-b-vl.network" in w and "veths" in w for w in plan["warnings"])
    after = common.simulate(current, plan)
    assert common.simulate(after, networkd.restore(after)) == current


@pytest.mark.parametrize("text, link, expected", [
    ("[Match]\nName=em1\n", "uplink", True), ("[Match]\nName=!em1\n", "uplink", False),
    ("[Match]\nName=em* br*\n", "bridge", True), ("[Match]\nType=ether\nKind=!*\n", "bridge", False),
    ("[Match]\nPermanentMACAddress=%s\n" % MAC, "bridge", False), ("[Match]\nDriver=e1000e\n", "uplink", True),
    ("[Match]\nName=em1\nName=\n", "uplink", False),
])
def test_networkd_matches(text, link, expected):
    links = {"uplink": {"name": "em1", "mac": MAC, "permanent_mac": MAC, "type": "ether"},
             "bridge": {"name": "br0", "mac": MAC, "permanent_mac": None, "type": "bridge", "kind": "bridge"}}
    assert networkd.matches(text, links[link]) is expected


def test_ifupdown_stanza_in_a_sourced_file(golden):
    current = {
        "/etc/network/interfaces": "source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n",
        "/etc/network/interfaces.d/em1": "allow-hotplug em1\niface em1 inet dhcp\n# keep me\n",
        "/etc/network/interfaces.d/em2": "auto em2\niface em2 inet dhcp\n",
    }
    plan = ifupdown.render(model("dhcp"), current)
    assert plan["moves"] == [("/etc/network/interfaces.d/em1", "/etc/network/interfaces.d--em1.lanbridge-saved")]
    golden("ifupdown-sourced.txt", plan_text(plan))
    after = common.simulate(current, plan)
    assert common.simulate(after, ifupdown.restore(after)) == current
    assert ifupdown.render(model("dhcp"), after)["moves"] == []


def test_ifupdown_reads_follow_source_lines():
    current = {"/etc/network/interfaces": "source-directory /etc/network/more\nsource /srv/net/*.cfg\n"}
    assert ifupdown.reads(model("seed"), current)[-3:] == ["/etc/network/more/*", "/srv/net/*.cfg", "/srv/net/*.cfg" + common.SAVED_SUFFIX]


def test_ifupdown_no_stanza_appends():
    current = {"/etc/network/interfaces": "auto lo\niface lo inet loopback"}
    plan = ifupdown.render(model("seed"), current)
    text = plan["files"]["/etc/network/interfaces"]["content"]
    assert text.startswith("auto lo\niface lo inet loopback\n\niface em1 inet manual\n")


@pytest.mark.parametrize("case", ["seed", "example"])
def test_ifupdown_labels_the_bridge_at_every_ifup(case):
    """The kernel forgets a link's ifalias at a reboot; ifup puts host_bridge's label back on the bridge
    it makes (IPv4 static or manual), so the second run after a reboot has nothing to label."""
    text = ifupdown.render(model(case), current_for("ifupdown", case))["files"]["/etc/network/interfaces"]["content"]
    stanza = text[text.index("iface br0 inet "):]
    stanza = stanza[:stanza.index("\n\n")] if "\n\n" in stanza else stanza
    assert "\n    post-up ip link set dev br0 alias lanbridge:bridge\n" in stanza + "\n"


def test_networkmanager_outranks_the_administrators_priority():
    current = FILES["networkmanager"]()
    path = "/etc/NetworkManager/system-connections/em1.nmconnection"
    current[path] = current[path].replace("autoconnect=true", "autoconnect=true\nautoconnect-priority=500")
    plan = networkmanager.render(model("seed"), current)
    assert "autoconnect-priority=501\n" in plan["files"][networkmanager.paths(model("seed"))["port"]]["content"]
    assert plan["moves"] == []


def test_networkmanager_priority_999_is_rewritten_not_deleted():
    current = FILES["networkmanager"]()
    path = "/etc/NetworkManager/system-connections/em1.nmconnection"
    current[path] = current[path].replace("autoconnect=true", "autoconnect-priority=999\nautoconnect=true")
    plan = networkmanager.render(model("seed"), current)
    assert plan["moves"] == [(path, path + ".lanbridge-saved")]
    assert "autoconnect=false\n" in plan["files"][path]["content"]
    assert "autoconnect=true" not in plan["files"][path]["content"]
    after = common.simulate(current, plan)
    assert common.simulate(after, networkmanager.restore(after)) == current


def test_netplan_flow_entry_and_other_interfaces_kept():
    text = "network:\n  version: 2\n  ethernets:\n    eth0: {match: {name: em1}, set-name: em1, addresses: [198.51.100.31/24]}\n" \
           "    em2:\n      dhcp4: true\n"
    plan = netplan.render(model("seed"), {"/etc/netplan/00-installer-config.yaml": text})
    assert plan["files"]["/etc/netplan/00-installer-config.yaml"]["content"] == \
        "network:\n  version: 2\n  ethernets:\n    eth0: {match: {name: em1}, set-name: em1}\n    em2:\n      dhcp4: true\n"
    ours = plan["files"]["/etc/netplan/90-lanbridge-br0.yaml"]["content"]
    assert "interfaces: [eth0]" in ours and "    eth0:\n      dhcp4: false\n" in ours and "addresses: [198.51.100.31/24]" in ours


def test_netplan_entry_left_empty():
    text = "network:\n  ethernets:\n    em1:   # the uplink\n      addresses: [198.51.100.31/24]\n  version: 2\n"
    plan = netplan.render(model("seed"), {"/etc/netplan/01.yaml": text})
    assert plan["files"]["/etc/netplan/01.yaml"]["content"] == "network:\n  ethernets:\n    em1: {}   # the uplink\n  version: 2\n"


def test_netplan_keys_a_later_file_overrides_stay_in_the_administrators_text():
    """dhcp4/accept-ra are overridden by ours: a DHCP entry without sequences is not touched at all."""
    admin = "network:\n  ethernets:\n    em1:\n      dhcp4: true   # by MAC\n      accept-ra: no\n"
    plan = netplan.render(model("dhcp", "netplan"), {"/etc/netplan/01.yaml": admin})
    assert plan["moves"] == [] and sorted(plan["files"]) == ["/etc/netplan/90-lanbridge-br0.yaml", netplan.iaid_path(model("dhcp"))]
    assert "      dhcp4: true\n      accept-ra: no\n" in plan["files"]["/etc/netplan/90-lanbridge-br0.yaml"]["content"]


def test_netplan_the_lab_site_file_keeps_its_comments_anchors_and_other_interfaces():
    """The lab's administrator's file: only em1's sequences and mapping go, line by line."""
    text = netplan_site.site_yaml("networkd", False, "198.51.100.31/24", "2001:db8::31/64")
    plan = netplan.render(model("seed"), {netplan_site.PATH: text})
    new = plan["files"][netplan_site.PATH]["content"]
    gone = [line for line in text.splitlines() if line not in new.splitlines()]
    assert [line.split(":")[0].strip() for line in gone if line.startswith("      ") and not line.startswith("       ")] == \
        ["addresses", "routes", "nameservers"]
    assert len(gone) == 10, gone
    assert "    storage0: &jumbo              # the storage ports" in new and "    storage1: *jumbo\n" in new
    ours = plan["files"]["/etc/netplan/90-lanbridge-br0.yaml"]["content"]
    assert "      nameservers:\n        addresses: [198.51.100.254, '2001:db8:100::fe']\n        search: [lab.example]\n" in ours


@pytest.mark.parametrize("entry, key", [
    ("{match: {name: 'em*'}, dhcp4: true}", "network.ethernets.em1.match.name"),
    ("{match: {driver: e1000e}, set-name: em1, dhcp4: true}", "network.ethernets.em1.match.driver"),
    ("{renderer: sriov, dhcp4: true}", "network.ethernets.em1.renderer"),
])
def test_netplan_refuses_what_it_cannot_represent(entry, key):
    text = "network:\n  version: 2\n  ethernets:\n    em1: %s\n" % entry
    with pytest.raises(PersistError) as err:
        netplan.render(model("seed"), {"/etc/netplan/01.yaml": text})
    assert key in str(err.value) or key.rsplit(".", 1)[-1] in str(err.value)


def test_netplan_refuses_removing_an_anchor_another_entry_uses():
    text = "network:\n  ethernets:\n    em1:\n      nameservers: &dns {addresses: [192.0.2.53]}\n" \
           "      addresses: [198.51.100.31/24]\n    em2:\n      nameservers: *dns\n"
    with pytest.raises(PersistError, match="network.ethernets.em1.nameservers in /etc/netplan/01.yaml holds an anchor"):
        netplan.render(model("seed"), {"/etc/netplan/01.yaml": text})


def test_netplan_without_pyyaml_says_so():
    """A Python without site-packages (``-S``) has no PyYAML: reading a netplan file says what is missing."""
    script = ("from ansible_collections.lanbridge.core.plugins.module_utils._persist import netplan_yaml\n"
              "from ansible_collections.lanbridge.core.plugins.module_utils._errors import PersistError\n"
              "try:\n    netplan_yaml.load('network: {}', '/etc/netplan/01.yaml')\n"
              "except PersistError as exc:\n    print(exc)\n")
    out = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, check=True).stdout
    assert "PyYAML (python3-yaml) is not installed on this host" in out, out


def test_netplan_run_file_warns():
    plan = netplan.render(model("seed"), {"/run/netplan/50-cloud-init.yaml": FILES["netplan"]()["/etc/netplan/50-cloud-init.yaml"]})
    assert plan["moves"] == [] and "stay on the port" in plan["warnings"][0]
