"""host_bridge's side of persistence (``_host_bridge/persist.py``, ``persist_check.py``, ``persist_ops.py``)
on plain data and scratch files: who is warned or refused, the file steps and their undo, the order
with the kernel's steps, the validators (stand-in ``nmcli``/``netplan`` on PATH), and what
``plan_files`` hands the renderers."""
import os
import stat
import sys

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge import persist, persist_check, persist_ops, persist_read
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.plan import plan as make_plan
from ansible_collections.lanbridge.core.plugins.module_utils._persist import common, networkmanager
from ansible_collections.lanbridge.core.plugins.module_utils._persist import owner as owners

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "_persist"))
from persist_samples import FILES  # noqa: E402  pylint: disable=wrong-import-position

from ansible_collections.lanbridge.core.plugins.module_utils._errors import PersistError

EM1_MAC = "02:00:00:00:01:01"


def link(index, kind=None, master=None, mac=None, stp=None, fd=None):
    return {"index": index, "kind": kind, "master": master, "mac": mac or "02:00:00:00:00:%02x" % index, "mtu": 1500,
            "up": True, "stp": stp, "forward_delay": fd, "ifalias": None}


def host(valid=None):
    """em1 with 198.51.100.11/24 (leased for ``valid`` seconds, or permanent) and the default route."""
    return {
        "links": {"lo": link(1, mac="00:00:00:00:00:00"), "em1": link(2, mac=EM1_MAC)},
        "addresses": [{"ifname": "em1", "family": "inet", "address": "198.51.100.11", "prefixlen": 24, "broadcast": None,
                       "scope": "global", "flags": [] if valid else ["permanent"], "valid_lft": valid, "preferred_lft": valid}],
        "routes": [{"family": "inet", "dst": "default", "gateway": "198.51.100.254", "dev": "em1", "table": 254, "metric": None,
                    "protocol": "dhcp" if valid else "boot", "scope": "global", "type": "unicast", "prefsrc": None},
                   {"family": "inet", "dst": "198.51.100.0/24", "gateway": None, "dev": "em1", "table": 254, "metric": None,
                    "protocol": "kernel", "scope": "link", "type": "unicast", "prefsrc": None}],
    }


def want(**kw):
    base = {"name": "br0", "state": "present", "uplink": "em1", "migrate": True, "addresses": [], "gateway": None,
            "stp": False, "forward_delay": None, "mtu": None, "mac": None, "probe": None, "persist": "auto"}
    base.update(kw)
    return base


def planned(facts, **kw):
    return make_plan(facts, dict((k, v) for k, v in want(**kw).items() if k != "persist"))


@pytest.fixture
def init_netns(monkeypatch):
    monkeypatch.setattr(persist, "in_init_netns", lambda: True)


def detecting(monkeypatch, found):
    monkeypatch.setattr(persist_read, "detect", lambda uplink, ifindex, mac: found)


# -- for_change: who is warned, who is refused ---------------------------------------------

def test_auto_with_no_manager_warns_and_persists_nothing(monkeypatch, init_netns):
    detecting(monkeypatch, None)
    facts, warned = host(), []
    assert persist.for_change(want(), facts, planned(facts), warned.append) is None
    assert len(warned) == 1 and warned[0].startswith("persist auto: no network manager") and "configures em1" in warned[0]
    assert "br0 lives in the running kernel only" in warned[0]


def test_auto_with_no_manager_and_nothing_to_do_says_nothing(monkeypatch, init_netns):
    detecting(monkeypatch, None)
    facts, warned = host(), []
    no_op = dict(planned(facts), steps=[])
    assert persist.for_change(want(), facts, no_op, warned.append) is None and warned == []


def test_auto_outside_init_netns_warns(monkeypatch):
    monkeypatch.setattr(persist, "in_init_netns", lambda: False)
    facts, warned = host(), []
    assert persist.for_change(want(), facts, planned(facts), warned.append) is None
    assert "not init's; nothing is persisted" in warned[0]
    with pytest.raises(PersistError, match="persist networkd: host_bridge runs in a network namespace"):
        persist.for_change(want(persist="networkd"), facts, planned(facts), warned.append)


def test_auto_with_two_claimants_fails(monkeypatch, init_netns):
    def two(uplink, ifindex, mac):
        raise PersistError("persist auto: the uplink is claimed by both systemd-networkd (x) and ifupdown (y)")
    monkeypatch.setattr(persist_read, "detect", two)
    facts = host()
    with pytest.raises(PersistError, match="persist auto: the uplink is claimed by both"):
        persist.for_change(want(), facts, planned(facts), [].append)


def test_none_where_networkmanager_owns_the_uplink_is_refused(monkeypatch, init_netns):
    detecting(monkeypatch, {"manager": "networkmanager", "evidence": "device connected, connection em1"})
    facts = host()
    with pytest.raises(PersistError, match="persist none: NetworkManager manages em1 .*disagree"):
        persist.for_change(want(persist="none"), facts, planned(facts), [].append)


def test_none_where_networkd_owns_the_uplink_warns(monkeypatch, init_netns):
    detecting(monkeypatch, {"manager": "networkd", "evidence": "ADMIN_STATE=configured"})
    facts, warned = host(), []
    assert persist.for_change(want(persist="none"), facts, planned(facts), warned.append) is None
    assert len(warned) == 1 and warned[0].startswith("persist none: systemd-networkd configures em1")


@pytest.mark.parametrize("state", ["present", "absent"])
def test_none_without_an_owner_or_changes_says_nothing(monkeypatch, init_netns, state):
    detecting(monkeypatch, None if state == "present" else {"manager": "networkmanager", "evidence": "x"})
    facts, warned = host(), []
    assert persist.for_change(want(persist="none", state=state), facts, planned(facts), warned.append) is None
    assert warned == []


# -- check_leases ----------------------------------------------------------------------------

def test_a_leased_uplink_address_without_persistence_is_refused():
    facts = host(valid=103)
    with pytest.raises(PersistError, match=r"198.51.100.11/24 on em1 is leased \(valid for 103 more seconds"):
        persist.check_leases(want(persist="none"), facts, planned(facts), None)


def test_a_leased_address_a_manager_renews_or_a_permanent_one_passes():
    leased, static = host(valid=103), host()
    persist.check_leases(want(), leased, planned(leased), {"manager": "networkd"})
    persist.check_leases(want(persist="none"), static, planned(static), None)
    persist.check_leases(want(persist="none", state="absent"), leased, planned(leased), None)


# -- file_steps, order, execute --------------------------------------------------------------

def test_file_steps_and_their_undo(tmp_path):
    same, old, moved, gone = (str(tmp_path / n) for n in ("same.conf", "old.conf", "admin.network", "gone.conf"))
    for path, text, mode in ((same, "keep\n", 0o644), (old, "before\n", 0o640), (moved, "admin\n", 0o644), (gone, "x\n", 0o644)):
        with open(path, "w") as handle:
            handle.write(text)
        os.chmod(path, mode)
    new = str(tmp_path / "new.nmconnection")
    the_plan = common.plan()
    the_plan["moves"] = [(moved, moved + ".lanbridge-saved")]
    common.write(the_plan, same, "keep\n")
    common.write(the_plan, old, "after\n", None)
    common.write(the_plan, new, "fresh\n", 0o600)
    common.write(the_plan, moved, "rewritten\n", 0o600)
    the_plan["removes"] = [gone, str(tmp_path / "never-there")]
    current = {same: "keep\n", old: "before\n", moved: "admin\n", gone: "x\n"}
    steps = persist.file_steps(the_plan, current, persist_read.modes(list(current) + [new]))
    assert [s["text"] for s in steps] == [
        "move %s aside to %s" % (moved, moved + ".lanbridge-saved"),
        "write %s" % moved, "write %s" % new, "write %s" % old, "remove %s" % gone]
    by_text = dict((s["text"], s) for s in steps)
    assert by_text["write %s" % old]["args"]["mode"] == 0o640  # mode None: the file's own
    assert by_text["write %s" % old]["undo"][0]["args"] == {"path": old, "content": "before\n", "mode": 0o640}
    assert by_text["write %s" % new]["undo"][0]["op"] == "remove_file"
    assert by_text["remove %s" % gone]["undo"][0]["args"]["content"] == "x\n"
    for each in steps:  # applied, then undone newest first: the directory as it was
        persist_ops.execute(each)
    assert stat.S_IMODE(os.stat(new).st_mode) == 0o600 and open(moved + ".lanbridge-saved").read() == "admin\n"
    for each in reversed(steps):
        for back in each["undo"]:
            persist_ops.execute(back)
    assert sorted(os.listdir(str(tmp_path))) == ["admin.network", "gone.conf", "old.conf", "same.conf"]
    assert [open(p).read() for p in (same, old, moved, gone)] == ["keep\n", "before\n", "admin\n", "x\n"]
    assert stat.S_IMODE(os.stat(old).st_mode) == 0o640


def test_file_steps_for_the_same_content_but_another_mode(tmp_path):
    path = str(tmp_path / "lanbridge-br0.nmconnection")
    with open(path, "w") as handle:
        handle.write("x\n")
    os.chmod(path, 0o644)
    the_plan = common.plan()
    common.write(the_plan, path, "x\n", 0o600)
    assert [s["args"]["mode"] for s in persist.file_steps(the_plan, {path: "x\n"}, persist_read.modes([path]))] == [0o600]
    os.chmod(path, 0o600)
    assert persist.file_steps(the_plan, {path: "x\n"}, persist_read.modes([path])) == []


def test_execute_makes_and_removes_a_drop_in_directory(tmp_path):
    path = str(tmp_path / "10-netplan-br0.network.d" / "90-lanbridge-iaid.conf")
    persist_ops.execute({"op": "write_file", "text": "write", "args": {"path": path, "content": "[DHCPv4]\n", "mode": 0o644}})
    assert open(path).read() == "[DHCPv4]\n"
    persist_ops.execute({"op": "remove_file", "text": "remove", "args": {"path": path}})
    assert os.listdir(str(tmp_path)) == []


def test_order():
    kernel = [{"text": "add bridge br0"}, {"text": "set em1 master br0"}]
    assert persist.order(None, kernel) == kernel
    persisted = {"first": [{"text": "first"}], "file_steps": [{"text": "write a"}, {"text": "write b"}], "last": [{"text": "reload"}]}
    assert [s["text"] for s in persist.order(persisted, kernel)] == [
        "first", "write a", "write b", "add bridge br0", "set em1 master br0", "reload"]


def test_networkmanager_activation_reloads_its_conf_only_when_it_changes():
    model = {"bridge": "br0", "uplink": "em1", "mac": EM1_MAC}
    current = FILES["networkmanager"]()
    first, last = persist.activation("networkmanager", model, "present", current, [networkmanager.CONF])
    assert [s["text"] for s in last] == ["nmcli general reload conf", "nmcli connection reload", "nmcli connection up lanbridge-br0"]
    assert [s["text"] for s in first["undo"]] == ["nmcli general reload conf", "nmcli connection reload", "nmcli connection up em1"]
    first, last = persist.activation("networkmanager", model, "present", current, ["/etc/NetworkManager/system-connections/x"])
    assert [s["text"] for s in last] == ["nmcli connection reload", "nmcli connection up lanbridge-br0"]


NETPLAN_NM = "network:\n  version: 2\n  renderer: NetworkManager\n  ethernets:\n    em1:\n      dhcp4: true\n"


@pytest.mark.parametrize("text, forward, back", [
    (FILES["netplan"]()["/etc/netplan/50-cloud-init.yaml"],
     [["netplan", "generate"], ["networkctl", "reload"]],
     [["netplan", "generate"], ["networkctl", "reload"], ["networkctl", "reconfigure", "em1"]]),
    (NETPLAN_NM,
     [["netplan", "generate"], ["nmcli", "connection", "reload"], ["nmcli", "connection", "up", "id", "netplan-br0"],
      ["nmcli", "connection", "up", "id", "netplan-em1"]],
     [["netplan", "generate"], ["nmcli", "connection", "reload"], ["nmcli", "connection", "up", "id", "netplan-em1"]]),
])
def test_netplan_activation_is_generate_and_the_renderers_reload(text, forward, back):
    """No ``netplan apply`` (its udev trigger writes /sys): generate, then the renderer's own reload; the way
    back and state absent generate from the old files and bring the uplink back."""
    current = {"/etc/netplan/50-site.yaml": text}
    model = {"bridge": "br0", "uplink": "em1", "mac": EM1_MAC}
    first, last = persist.activation("netplan", model, "present", current)
    assert [s["args"]["argv"] for s in last] == forward
    assert [s["args"]["argv"] for s in first["undo"]] == back
    assert [s["args"]["argv"] for s in persist.activation("netplan", model, "absent", current)[1]] == back


NM_DIR = "/etc/NetworkManager/system-connections"
EM1_SPARE = ("[connection]\nid=em1-spare\nuuid=5b0e0e0e-0000-4000-8000-000000000002\ntype=ethernet\ninterface-name=em1\n"
             "autoconnect=false\nautoconnect-priority=50\n\n[ipv4]\nmethod=manual\naddress1=198.51.100.241/24\n\n"
             "[ipv6]\nmethod=disabled\n")


@pytest.mark.parametrize("state", ["present", "absent"])
def test_networkmanager_brings_back_the_profile_whose_addressing_it_read(state):
    """Two profiles for em1: em1-spare (autoconnect=false, priority 50, sorts first) and em1 (autoconnects,
    the one NetworkManager brings up). The addressing, the rollback and state absent all take em1."""
    current = dict(FILES["networkmanager"](), **{NM_DIR + "/em1-spare.nmconnection": EM1_SPARE})
    em1 = common.ini_parse(current[NM_DIR + "/em1.nmconnection"])
    assert owners.addressing_of("networkmanager", "em1", current, EM1_MAC) == {"inet": "static", "inet6": "static"}
    model = {"bridge": "br0", "uplink": "em1", "mac": EM1_MAC}
    first, last = persist.activation("networkmanager", model, state, current)
    up_em1 = ["nmcli", "connection", "up", "uuid", common.ini_value(em1, "connection", "uuid")]
    assert [s["args"]["argv"] for s in first["undo"]] == [["nmcli", "connection", "reload"], up_em1]
    ours = ["nmcli", "connection", "up", "id", "lanbridge-br0"]
    assert [s["args"]["argv"] for s in last][-1] == (up_em1 if state == "absent" else ours)


# -- validate with stand-in tools ----------------------------------------------------------

def stand_in(tmp_path, monkeypatch, name, script):
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    tool = bindir / name
    tool.write_text("#!/bin/sh\n" + script)
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(bindir) + os.pathsep + os.environ.get("PATH", ""))


def nm_plan():
    the_plan = common.plan()
    common.write(the_plan, "/etc/NetworkManager/system-connections/lanbridge-br0.nmconnection", "[connection]\nid=lanbridge-br0\n", 0o600)
    common.write(the_plan, networkmanager.CONF, "[keyfile]\n")
    return the_plan


def test_validate_networkmanager_refused(tmp_path, monkeypatch):
    log = tmp_path / "args"
    stand_in(tmp_path, monkeypatch, "nmcli", 'echo "$@" >> %s; cat >/dev/null; echo "Error: invalid property bridge.stp" >&2; exit 2\n' % log)
    with pytest.raises(PersistError, match="NetworkManager does not accept .*lanbridge-br0.nmconnection: Error: invalid"):
        persist_check.validate("networkmanager", nm_plan(), {})
    assert log.read_text() == "--offline connection modify connection.id lanbridge-br0\n"  # keyfiles only, not conf.d


@pytest.mark.parametrize("answer", ['exit 0\n',
                                    'echo "Error: Option \'--offline\' is unknown" >&2; exit 2\n'])  # NM older than 1.40
def test_validate_networkmanager_accepted(tmp_path, monkeypatch, answer):
    """nmcli ran once, on the bridge's keyfile (its text on stdin), and its answer let the plan pass."""
    log, seen = tmp_path / "args", tmp_path / "stdin"
    stand_in(tmp_path, monkeypatch, "nmcli", 'echo "$@" >> %s; cat > %s; %s' % (log, seen, answer))
    persist_check.validate("networkmanager", nm_plan(), {})
    assert log.read_text() == "--offline connection modify connection.id lanbridge-br0\n"
    assert seen.read_text() == "[connection]\nid=lanbridge-br0\n"


def test_validate_netplan_in_a_scratch_root(tmp_path, monkeypatch):
    seen = tmp_path / "seen"
    stand_in(tmp_path, monkeypatch, "netplan", 'cd "$3" && find . -type f | sort > %s\n'
             'grep -q broken etc/netplan/*.yaml && { echo "bad YAML" >&2; exit 1; }; exit 0\n' % seen)
    the_plan = common.plan()
    common.write(the_plan, "/etc/netplan/90-lanbridge-br0.yaml", "network: {}\n", 0o600)
    current = {"/etc/netplan/50-cloud-init.yaml": "network: {version: 2}\n", "/etc/other/file": "x"}
    persist_check.validate("netplan", the_plan, current)
    assert seen.read_text().split() == ["./etc/netplan/50-cloud-init.yaml", "./etc/netplan/90-lanbridge-br0.yaml"]
    common.write(the_plan, "/etc/netplan/90-lanbridge-br0.yaml", "broken\n", 0o600)
    with pytest.raises(PersistError, match="netplan generate refuses the files: bad YAML"):
        persist_check.validate("netplan", the_plan, current)


# -- plan_files: what the renderers get ------------------------------------------------------

def test_plan_files_carries_stp_and_forward_delay(monkeypatch):
    monkeypatch.setattr(persist_read, "read_files", lambda renderer, model: FILES["networkd"]())
    facts = host()
    result = persist.plan_files("networkd", "br0", "em1", planned(facts, stp=True, forward_delay=4)["facts_after"], "present")
    netdev = result["after"]["/etc/systemd/network/00-lanbridge-br0.netdev"]
    assert "[Bridge]\nSTP=yes\nForwardDelaySec=4\n" in netdev


@pytest.mark.parametrize("manager, path, wanted", [
    ("networkd", "/etc/systemd/network/00-lanbridge-br0.network", ["DNS=198.51.100.254\nDomains=lab.example\n",
                                                                   "[RoutingPolicyRule]\nFrom=198.51.100.31\nTable=100\n"]),
    ("networkmanager", NM_DIR + "/lanbridge-br0.nmconnection", ["dns=198.51.100.254;\ndns-search=lab.example;\n",
                                                                "routing-rule1=priority 100 from 198.51.100.31 table 100\n"]),
    ("ifupdown", "/etc/network/interfaces", ["    dns-nameservers 198.51.100.254\n    dns-search lab.example\n"
                                             "    up ip rule add from 198.51.100.31 table 100\n"]),
    ("netplan", "/etc/netplan/90-lanbridge-br0.yaml", ["      nameservers:\n        addresses: [198.51.100.254]\n"
                                                       "        search: [lab.example]\n      routing-policy:\n"]),
])
def test_plan_files_moves_dns_and_routing_policy_to_the_bridge(monkeypatch, manager, path, wanted):
    """The rest of em1's layer-3 configuration (DNS servers, search domains, a routing rule) is the bridge's."""
    monkeypatch.setattr(persist_read, "read_files", lambda renderer, model: FILES[manager]())
    monkeypatch.setattr(persist_check, "validate", lambda *args: None)
    monkeypatch.setattr(persist, "validate", lambda *args: None)
    result = persist.plan_files(manager, "br0", "em1", planned(host())["facts_after"], "present")
    for text in wanted:
        assert text in result["after"][path], result["after"][path]


def test_plan_files_pins_the_uplinks_iaid_from_its_lease(monkeypatch, tmp_path):
    monkeypatch.setattr(persist_read, "read_files", lambda renderer, model: FILES["networkd"](dhcp=True))
    (tmp_path / "2").write_text("ADDRESS=198.51.100.11\nCLIENTID=ff0000000700020000ab11d3bd8f0c7d25a1c4\n")
    monkeypatch.setattr(persist_read, "LEASES", str(tmp_path / "%d"))
    facts = host(valid=103)
    result = persist.plan_files("networkd", "br0", "em1", planned(facts)["facts_after"], "present")
    network = result["after"]["/etc/systemd/network/00-lanbridge-br0.network"]
    assert "DHCP=ipv4" in network and "[DHCPv4]\nUseDomains=yes\nIAID=7\n" in network and "ClientIdentifier" not in network


def test_plan_files_refuses_ifupdown_with_dhcp(monkeypatch):
    monkeypatch.setattr(persist_read, "read_files", lambda renderer, model: FILES["ifupdown"](dhcp=True))
    facts = host(valid=103)
    with pytest.raises(PersistError, match="persist ifupdown: em1 gets its address by DHCP"):
        persist.plan_files("ifupdown", "br0", "em1", planned(facts)["facts_after"], "present")


@pytest.mark.parametrize("admin, expected", [
    ("[Match]\nName=em1\n\n[Network]\nDHCP=ipv4\n\n[DHCPv4]\nClientIdentifier=mac\n", "DHCP=ipv4\n"),
    ("[Match]\nName=em1\n\n[Network]\nAddress=198.51.100.11/24\nGateway=198.51.100.254\n", "Address=198.51.100.11/24\n"),
], ids=["dhcp", "static"])
def test_plan_files_second_run_after_moving_an_earlier_file_aside_writes_nothing(monkeypatch, tmp_path, admin, expected):
    """00-em1.network sorts before 00-lanbridge-br0.network: the first run moves it aside; the second
    still reads it (its saved copy) and finds every file as it would write it."""
    path = "/etc/systemd/network/00-em1.network"
    tree = {path: admin}
    monkeypatch.setattr(persist_read, "read_files", lambda renderer, model: dict(tree))
    (tmp_path / "2").write_text("ADDRESS=198.51.100.11\nCLIENTID=ff0000000700020000ab11d3bd8f0c7d25a1c4\n")
    monkeypatch.setattr(persist_read, "LEASES", str(tmp_path / "%d"))
    facts_after = planned(host(valid=103 if "DHCP" in admin else None))["facts_after"]
    first = persist.plan_files("networkd", "br0", "em1", facts_after, "present")
    assert first["after"][path] is None and first["after"][path + common.SAVED_SUFFIX] == admin
    network = first["after"]["/etc/systemd/network/00-lanbridge-br0.network"]
    assert expected in network and ("ClientIdentifier=mac\n" in network) is ("DHCP" in admin)
    tree = dict((p, t) for p, t in first["after"].items() if t is not None)
    again = persist.plan_files("networkd", "br0", "em1", facts_after, "present")
    assert again["files"] == [] and again["file_steps"] == [] and again["first"] == [] and again["last"] == []
