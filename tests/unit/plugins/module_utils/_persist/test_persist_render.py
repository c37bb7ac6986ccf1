"""The persist renderers on plain data: golden files, undo/restore byte for byte, idempotence."""
import pytest
from persist_samples import CASES, FILES, MAC, current_for, model
from conftest import plan_text

from ansible_collections.lanbridge.core.plugins.module_utils._persist import common, ifupdown, netplan, networkd, networkmanager

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
    out = netplan.strip_addressing(text, "eth0")
    assert out == "network:\n  version: 2\n  ethernets:\n    eth0: {match: {name: em1}, set-name: em1}\n    em2:\n      dhcp4: true\n"
    plan = netplan.render(model("seed"), {"/etc/netplan/00-installer-config.yaml": text})
    assert "interfaces: [eth0]" in plan["files"]["/etc/netplan/90-lanbridge-br0.yaml"]["content"]


def test_netplan_entry_left_empty():
    text = "network:\n  ethernets:\n    em1:\n      dhcp4: true\n  version: 2\n"
    assert netplan.strip_addressing(text, "em1") == "network:\n  ethernets:\n    em1: {}\n  version: 2\n"


def test_netplan_run_file_warns():
    plan = netplan.render(model("seed"), {"/run/netplan/50-cloud-init.yaml": FILES["netplan"]()["/etc/netplan/50-cloud-init.yaml"]})
    assert plan["moves"] == [] and "stay on the port" in plan["warnings"][0]
