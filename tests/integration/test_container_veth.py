"""container_veth on a real kernel with real containers, in namespaces the tests create.

Topology per test: a throwaway "host" namespace with bridge br0 (the module runs there, as
Ansible would on a host), a "LAN" namespace plugged into br0 that is the client and the gateway
(198.51.100.1/24, 2001:db8::1/64), and containers from a private Docker Engine (``engine.py``) with
``--network none``, or bare namespaces as ``netns`` / ``pid`` targets. The root namespace is never
changed: the module creates the host end in the host namespace and the container end directly
inside the container's namespace.
"""
import contextlib
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import uuid

import pytest
# the docker_engine fixture:
from engine import docker_engine_fixture  # noqa: F401  # pylint: disable=unused-import
from helpers import (
    IMPORT_TIMES, IN_NETNS, bridged_lan, imported, ip, ip_json, ping, sh, snapshot, veth_facts, veth_four_ways,
)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, dockerd)")

LAN_MAC = "52:54:00:12:34:56"


class Lab:
    def __init__(self, host, lan, runner):
        self.host, self.lan, self.runner = host, lan, runner

    def run(self, args, check_mode=False, diff=False, env=None):
        return self.runner("container_veth", self.host, args, check_mode=check_mode, diff=diff, env=env)

    def ping(self, address, count=1):
        """From the LAN namespace, up to 10 tries."""
        return ping(self.lan, address, count=count, attempts=10)


@pytest.fixture
def lab(netns_factory, module_runner):
    host, lan = bridged_lan(netns_factory, lan_mac=LAN_MAC, lan_ipv6="2001:db8::1/64")
    return Lab(host, lan, module_runner)


# container_veth creates and deletes interfaces whose carrier and link-local addresses settle on
# the kernel's own time: compare namespaces without them
ns_snapshot = functools.partial(snapshot, link_state=False)


def lab_four_ways(lab, args):
    """``helpers.veth_four_ways`` in ``lab``; returns the real run's result."""
    return veth_four_ways(lab.run, args)


# --------------------------------------------------------------------------- targets

@pytest.mark.parametrize("by", ["name", "id"])
def test_container_by_name_and_id(lab, docker_engine, by):
    name, cid = docker_engine.run()
    args = {"container": name if by == "name" else cid[:12], "docker_host": docker_engine.url, "bridge": "br0",
            "addresses": ["198.51.100.10/24"], "gateway": "198.51.100.1"}
    result = lab_four_ways(lab, args)
    item = result["interfaces"][0]
    pid = docker_engine.pid(name)
    assert item["container_id"] == cid and item["container_name"] == name and item["pid"] == pid
    assert item["netns"] == "/proc/%d/ns/net" % pid and item["ifname"] == "eth1"
    assert lab.ping("198.51.100.10")
    # the container's default route goes via the LAN gateway on eth1
    routes = ip_json(item["netns"], "route", "show", "default")
    assert [(r["gateway"], r["dev"]) for r in routes] == [("198.51.100.1", "eth1")]
    # the host end is a port of br0 and carries the label
    host = lab.host.links()[item["host_ifname"]]
    assert host["master"] == "br0" and host["ifalias"].startswith("lanbridge:veth id=container:" + cid)
    assert "name=%s" % name in host["ifalias"] and "if=eth1" in host["ifalias"]
    eth1 = {link["ifname"]: link for link in ip_json(item["netns"], "link", "show")}["eth1"]
    assert eth1["address"] == item["mac"] and eth1["mtu"] == item["mtu"] == 1500


def test_pid_and_netns_path_targets(lab, docker_engine, netns_factory):
    name, _cid = docker_engine.run()
    pid = docker_engine.pid(name)
    bare = netns_factory("c")
    r1 = lab_four_ways(lab, {"pid": pid, "bridge": "br0", "addresses": ["198.51.100.11/24"]})
    r2 = lab_four_ways(lab, {"netns": bare.path, "bridge": "br0", "addresses": ["198.51.100.12/24"], "ifname": "lan0",
                             "mtu": 1400, "mac": "02:00:00:00:00:12"})
    assert r1["interfaces"][0]["netns"] == "/proc/%d/ns/net" % pid
    assert r2["interfaces"][0]["netns"] == bare.path and r2["interfaces"][0]["mtu"] == 1400
    assert bare.links()["lan0"]["address"] == "02:00:00:00:00:12"
    assert lab.ping("198.51.100.11") and lab.ping("198.51.100.12")


def test_batch_and_options_four_ways(lab, docker_engine):
    a, _cid = docker_engine.run()
    b, _cid = docker_engine.run()
    args = {"interfaces": [
        {"container": a, "docker_host": docker_engine.url, "bridge": "br0", "addresses": ["198.51.100.21/24"],
         "gateway": "198.51.100.1", "routes": [{"dest": "203.0.113.0/24", "via": "198.51.100.254"}]},
        {"container": b, "docker_host": docker_engine.url, "bridge": "br0", "ifname": "lan1",
         "addresses": ["198.51.100.22/24", "2001:db8::22/64"], "gateway6": "2001:db8::1", "announce": False},
    ]}
    result = lab_four_ways(lab, args)
    assert [i["changed"] for i in result["interfaces"]] == [True, True]
    first = result["interfaces"][0]
    assert {"dest": "203.0.113.0/24", "via": "198.51.100.254"} in first["routes"]
    routes = ip_json(first["netns"], "route", "show", "203.0.113.0/24")
    assert routes and routes[0]["gateway"] == "198.51.100.254"
    assert lab.ping("198.51.100.21") and lab.ping("198.51.100.22") and lab.ping("2001:db8::22")


def test_ipv6_address_and_gateway6(lab, docker_engine):
    name, _cid = docker_engine.run()
    args = {"container": name, "docker_host": docker_engine.url, "bridge": "br0",
            "addresses": ["2001:db8::30/64"], "gateway6": "2001:db8::1"}
    item = lab_four_ways(lab, args)["interfaces"][0]
    routes = ip_json(item["netns"], "-6", "route", "show", "default")
    assert [(r["gateway"], r["dev"]) for r in routes] == [("2001:db8::1", "eth1")]
    assert lab.ping("2001:db8::30")


# --------------------------------------------------------------------------- drift, restart, absent

def test_drift_is_repaired_and_extra_address_removed(lab, docker_engine):
    name, _cid = docker_engine.run()
    args = {"container": name, "docker_host": docker_engine.url, "bridge": "br0",
            "addresses": ["198.51.100.40/24"], "gateway": "198.51.100.1"}
    item = lab.run(args)["interfaces"][0]
    path = item["netns"]
    ip(path, "addr", "add", "198.51.100.41/24", "dev", "eth1")
    ip(path, "link", "set", "eth1", "mtu", "1300")
    ip(path, "route", "del", "default")
    lab.host.ip("link", "set", item["host_ifname"], "nomaster")
    check = lab.run(args, check_mode=True, diff=True)
    assert check["changed"] is True
    before, after = check["diff"]["before"], check["diff"]["after"]
    (key,) = before
    assert before[key]["container"]["addresses"] == ["198.51.100.40/24", "198.51.100.41/24"]
    assert after[key]["container"]["addresses"] == ["198.51.100.40/24"]
    fixed = lab.run(args)
    assert fixed["changed"] is True and veth_facts(fixed) == veth_facts(lab.run(args, check_mode=True))
    assert lab.run(args)["changed"] is False
    addrs = [a["local"] for i in ip_json(path, "addr", "show", "dev", "eth1") for a in i["addr_info"]
             if a["family"] == "inet"]
    assert addrs == ["198.51.100.40"]
    assert lab.host.links()[item["host_ifname"]]["master"] == "br0"
    assert lab.ping("198.51.100.40")


# Runs container_veth like ``helpers.run_module`` does, with one fault injected below the executor:
# the FAIL_AT-th request that pyroute2 sends to change a link fails (a KernelError, as the kernel's
# refusal would be); every other request goes through, one at a time.
FAULTY_RUN = """
import os, sys
sys.path.insert(0, os.environ["LBT_INTEGRATION_DIR"])
from ansible_collections.lanbridge.core.plugins.module_utils._errors import KernelError
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.pyroute import Pyroute
import _in_netns

FAIL_AT = int(os.environ["LBT_FAIL_AT"])
original = Pyroute.set_link
sent = []

def set_link(self, index, what, changes):
    for text, attrs in changes:
        sent.append(text)
        if len(sent) == FAIL_AT:
            raise KernelError("failed to set link %s %s: [5] injected fault" % (what, text), 5)
        original(self, index, what, [(text, attrs)])

Pyroute.set_link = set_link
sys.argv = [_in_netns.__file__] + sys.argv[1:]
_in_netns.main()
"""


def _run_failing_request(lab, args, tmp_path, fail_at):
    """container_veth in the lab's host namespace, its ``fail_at``-th pyroute2 link change failing."""
    script, args_file = tmp_path / "faulty_run.py", tmp_path / "args.json"
    script.write_text(FAULTY_RUN)
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(os.environ, LBT_INTEGRATION_DIR=os.path.dirname(IN_NETNS), LBT_FAIL_AT=str(fail_at))
    proc = subprocess.run(["ip", "netns", "exec", lab.host.name, sys.executable, str(script), "container_veth",
                           str(args_file)], capture_output=True, text=True, check=False, env=env)
    try:
        return json.loads(proc.stdout)
    except ValueError as exc:
        raise AssertionError("no JSON (rc %d): %s %s" % (proc.returncode, proc.stdout, proc.stderr)) from exc


def test_a_repair_that_fails_halfway_is_undone_exactly(lab, netns_factory, tmp_path):
    """Issue 20 (3): MAC and MTU of the container end drifted; the repair's second request fails.
    The first change is undone: the interface is exactly as it was before the run."""
    target = netns_factory("c")
    args = {"netns": target.path, "bridge": "br0", "addresses": ["198.51.100.60/24"], "ifname": "lan0"}
    first = lab.run(args)
    assert not first.failed, first.get("msg")
    target.ip("link", "set", "lan0", "mtu", "1400")
    target.ip("link", "set", "lan0", "address", "02:00:00:00:00:61")
    drifted = ns_snapshot(target.path)
    result = _run_failing_request(lab, args, tmp_path, fail_at=2)
    assert result.get("failed") and "injected fault" in result["msg"], result
    assert "undoing failed" not in result["msg"]
    lan0 = target.links()["lan0"]
    assert (lan0["address"], lan0["mtu"]) == ("02:00:00:00:00:61", 1400)
    assert ns_snapshot(target.path) == drifted
    fixed = lab.run(args)
    assert not fixed.failed and fixed["changed"] is True
    lan0 = target.links()["lan0"]
    assert (lan0["address"], lan0["mtu"]) == (first["interfaces"][0]["mac"], 1500)


def test_restart_recreates_with_same_names_mac_addresses(lab, docker_engine):
    name, _cid = docker_engine.run()
    args = {"container": name, "docker_host": docker_engine.url, "bridge": "br0",
            "addresses": ["198.51.100.50/24"], "gateway": "198.51.100.1"}
    first = lab.run(args)["interfaces"][0]
    docker_engine.docker("restart", "-t", "1", name)
    assert docker_engine.pid(name) != first["pid"]
    # the old pair dies with the old namespace (the kernel may take a moment; a leftover is replaced)
    check = lab.run(args, check_mode=True)
    assert check["changed"] is True
    again = lab.run(args)
    assert again["changed"] is True
    second = again["interfaces"][0]
    for key in ("host_ifname", "mac", "addresses", "routes", "container_id", "mtu"):
        assert second[key] == first[key], key
    assert second["pid"] != first["pid"]
    assert lab.run(args)["changed"] is False
    assert lab.ping("198.51.100.50")


def test_absent_removes_only_the_pair(lab, docker_engine):
    name, _cid = docker_engine.run()
    present = {"container": name, "docker_host": docker_engine.url, "bridge": "br0", "addresses": ["198.51.100.60/24"]}
    host_before = ns_snapshot(lab.host.path)
    item = lab.run(present)["interfaces"][0]
    absent = {"container": name, "docker_host": docker_engine.url, "state": "absent"}
    check = lab.run(absent, check_mode=True, diff=True)
    assert check["changed"] is True and item["host_ifname"] in lab.host.links()
    real = lab.run(absent, diff=True)
    assert real["changed"] is True and real["diff"] == check["diff"]
    assert ns_snapshot(lab.host.path) == host_before
    assert "eth1" not in {link["ifname"] for link in ip_json(item["netns"], "link", "show")}
    assert lab.run(absent, check_mode=True)["changed"] is False
    assert lab.run(absent)["changed"] is False


def test_purge_four_ways_and_unlabelled_ports_untouched(lab, docker_engine, netns_factory):
    a, _cid = docker_engine.run()
    b, b_id = docker_engine.run()
    c, _cid = docker_engine.run()
    bare = netns_factory("c")
    lab.host.ip("link", "add", "br1", "type", "bridge")
    lab.host.ip("link", "set", "br1", "up")

    def entry(name, address, **kw):
        return dict({"container": name, "docker_host": docker_engine.url, "addresses": [address]}, **kw)

    keep = [entry(a, "198.51.100.101/24"), entry(c, "198.51.100.103/24")]
    every = keep + [entry(b, "198.51.100.102/24"), {"netns": bare.path, "addresses": ["198.51.100.104/24"]},
                    entry(a, "198.51.100.105/24", ifname="lan2")]
    made = lab.run({"bridge": "br0", "interfaces": every})
    assert not made.failed and made["changed"] is True, made
    # a labelled attachment on another bridge, and the unlabelled uplink-like port lanp on br0
    other = lab.run(entry(b, "198.51.100.106/24", bridge="br1", ifname="eth2"))["interfaces"][0]
    host_ifnames = [item["host_ifname"] for item in made["interfaces"]]
    gone = host_ifnames[2:]
    links_before = lab.host.links()
    snapshot = ns_snapshot(lab.host.path)

    args = {"bridge": "br0", "purge": True, "interfaces": keep}
    check = lab.run(args, check_mode=True, diff=True)
    assert not check.failed and check["changed"] is True, check
    assert ns_snapshot(lab.host.path) == snapshot  # check mode removed nothing
    items = check["interfaces"]
    assert [i["changed"] for i in items[:2]] == [False, False]
    purged = items[2:]
    assert sorted(i["host_ifname"] for i in purged) == sorted(gone)
    assert all(i["purged"] and i["state"] == "absent" and i["changed"] for i in purged)
    by_port = dict((i["host_ifname"], i) for i in purged)
    assert by_port[gone[0]]["container_id"] == b_id and by_port[gone[0]]["container_name"] == b
    assert by_port[gone[1]]["container_id"] is None and by_port[gone[2]]["ifname"] == "lan2"
    keys = [k for k in check["diff"]["before"] if k.startswith("purged ")]
    assert len(keys) == 3
    assert all(check["diff"]["after"][k] == {"state": "absent"} for k in keys)
    assert all(check["diff"]["before"][k]["host"]["bridge"] == "br0" for k in keys)

    real = lab.run(args, diff=True)
    assert not real.failed and real["changed"] is True, real
    assert real["interfaces"] == check["interfaces"] and real["diff"] == check["diff"]
    links = lab.host.links()
    assert not set(gone) & set(links)
    assert set(links_before) - set(links) == set(gone)
    assert links["lanp"]["master"] == "br0" and links[other["host_ifname"]]["master"] == "br1"
    assert lab.ping("198.51.100.101") and lab.ping("198.51.100.103")
    assert "eth1" not in {link["ifname"] for link in ip_json(bare.path, "link", "show")}

    again = lab.run(args, check_mode=True, diff=True)
    assert not again.failed and again["changed"] is False and len(again["interfaces"]) == 2, again
    last = lab.run(args)
    assert not last.failed and last["changed"] is False and len(last["interfaces"]) == 2, last
    assert veth_facts(last) == veth_facts(again) == veth_facts({"interfaces": real["interfaces"][:2]})

    # an empty list purges every labelled port of br0 and still leaves lanp (and br1) alone
    empty = lab.run({"bridge": "br0", "purge": True, "interfaces": []})
    assert empty["changed"] is True and len(empty["interfaces"]) == 2
    links = lab.host.links()
    assert [n for n, link in links.items() if link.get("master") == "br0"] == ["lanp"]
    assert links[other["host_ifname"]]["master"] == "br1"


def test_purge_keeps_what_an_unresolved_entry_may_name(lab, docker_engine):
    a, _cid = docker_engine.run()
    b, _cid = docker_engine.run()
    made = lab.run({"bridge": "br0", "interfaces": [
        {"container": a, "docker_host": docker_engine.url, "addresses": ["198.51.100.111/24"]},
        {"container": b, "docker_host": docker_engine.url, "addresses": ["198.51.100.112/24"]}]})
    assert not made.failed
    # b's engine cannot be reached this time: its attachment (found by b's name in the label) stays
    result = lab.run({"bridge": "br0", "purge": True, "interfaces": [
        {"container": a, "docker_host": docker_engine.url, "addresses": ["198.51.100.111/24"]},
        {"container": b, "docker_host": "unix:///run/lbt-nosuch.sock", "addresses": ["198.51.100.112/24"]}]})
    assert result.failed and "cannot reach the docker engine" in result["msg"]
    assert len(result["interfaces"]) == 2 and not any(i.get("purged") for i in result["interfaces"])
    assert made["interfaces"][1]["host_ifname"] in lab.host.links()


def test_purge_requires_bridge(lab):
    result = lab.run({"purge": True, "interfaces": []})
    assert result.failed and "purge is True but all of the following are missing: bridge" in result["msg"]


# --------------------------------------------------------------------------- conflict, errors

def test_conflict_is_refused_and_nothing_left_behind(lab, docker_engine):
    lab.lan.ip("addr", "add", "198.51.100.70/24", "dev", "lan0")
    name, _cid = docker_engine.run()
    path = "/proc/%d/ns/net" % docker_engine.pid(name)
    host_before, cont_before = ns_snapshot(lab.host.path), ns_snapshot(path)
    result = lab.run({"container": name, "docker_host": docker_engine.url, "bridge": "br0",
                      "addresses": ["198.51.100.70/24"], "gateway": "198.51.100.1"})
    assert result.failed
    assert result["msg"] == "198.51.100.70 is already in use on the LAN by %s" % LAN_MAC
    assert result["interfaces"][0]["failed"] is True
    assert ns_snapshot(lab.host.path) == host_before
    assert ns_snapshot(path) == cont_before


def test_batch_entry_failure_does_not_undo_others(lab, docker_engine):
    a, _cid = docker_engine.run()
    result = lab.run({"interfaces": [
        {"container": a, "docker_host": docker_engine.url, "bridge": "br0", "addresses": ["198.51.100.80/24"]},
        {"container": "lbt-nosuch", "docker_host": docker_engine.url, "bridge": "br0", "addresses": ["198.51.100.81/24"]},
    ]})
    assert result.failed and result["changed"] is True
    assert result["msg"].startswith("1 of 2 interfaces failed: no container named lbt-nosuch")
    ok, bad = result["interfaces"]
    assert ok["changed"] is True and not ok.get("failed")
    assert bad["failed"] is True and "no container named lbt-nosuch" in bad["msg"]
    assert lab.ping("198.51.100.80")


def test_batch_probes_at_once_and_only_the_conflicting_entry_fails(lab, netns_factory):
    lab.lan.ip("addr", "add", "198.51.100.75/24", "dev", "lan0")
    targets = [netns_factory("p") for _index in range(12)]
    taken = 5
    entries = [{"netns": ns.path, "bridge": "br0", "addresses": ["198.51.100.%d/24" % (i + 70)],
                "gateway": "198.51.100.1"} for i, ns in enumerate(targets)]
    host_before, cont_before = ns_snapshot(lab.host.path), ns_snapshot(targets[taken].path)
    check = lab.run({"interfaces": entries}, check_mode=True)
    assert not check.failed and check["changed"] is True  # check mode sends no probe and changes nothing
    assert ns_snapshot(lab.host.path) == host_before
    result = lab.run({"interfaces": entries})
    assert result.failed and result["changed"] is True
    assert result["msg"] == "1 of 12 interfaces failed: 198.51.100.75 is already in use on the LAN by %s" % LAN_MAC
    items = result["interfaces"]
    assert items[taken]["failed"] is True and items[taken]["changed"] is False
    assert items[taken]["msg"] == "198.51.100.75 is already in use on the LAN by %s" % LAN_MAC
    others = [item for i, item in enumerate(items) if i != taken]
    assert all(item["changed"] and not item.get("failed") for item in others)
    # the failed entry left nothing behind: no host end, its namespace as it was
    host_links = lab.host.links()
    assert items[taken]["host_ifname"] not in host_links
    assert all(item["host_ifname"] in host_links for item in others)
    assert ns_snapshot(targets[taken].path) == cont_before
    assert lab.ping("198.51.100.70") and lab.ping("198.51.100.81")
    again = lab.run({"interfaces": [e for i, e in enumerate(entries) if i != taken]})
    assert not again.failed and again["changed"] is False


BAD = [
    ({"addresses": ["198.51.100.300/24"]}, "address '198.51.100.300/24' is not a valid CIDR address"),
    ({"addresses": ["198.51.100.10/24"], "gateway": "203.0.113.1"},
     "gateway 203.0.113.1 is not on any subnet of the addresses (198.51.100.10/24)"),
    ({"ifname": "a-very-long-ifname"}, "ifname 'a-very-long-ifname' is longer than 15 bytes"),
    ({"ifname": "eth/1"}, "ifname 'eth/1' contains '/'"),
    ({"pid": 1}, "parameters are mutually exclusive: container|pid|netns"),
    ({"container": "lbt-nosuch"}, "no container named lbt-nosuch (runtime docker at unix://"),
    ({"docker_host": "unix:///run/lbt-nosuch.sock"},
     "cannot reach the docker engine at unix:///run/lbt-nosuch.sock: No such file or directory"),
    ({"mac": "01:00:5e:00:00:01"}, "mac 01:00:5e:00:00:01 is a multicast address"),
    # issue 13, finding 5: every gap a sentence naming the option, nothing changed
    ({"bridge": "br\x000"}, "bridge 'br\\x000' contains control character 0x00, not allowed in interface names"),
    ({"ifname": "eth\x1b1"}, "ifname 'eth\\x1b1' contains control character 0x1b"),
    ({"host_ifname": "vl\n1"}, "host_ifname 'vl\\n1' contains control character 0x0a"),
    ({"ifname": "eth\u00e91"}, "ifname 'eth\u00e91' contains non-ASCII byte 0xa9, non-ASCII byte 0xc3"),
    ({"netns": "lbt\x00x", "container": None}, "netns 'lbt\\x00x' contains a control character"),
    ({"addresses": ["198.51.100.57/0"]}, "address '198.51.100.57/0' is not a usable host address (prefix length 0"),
    ({"addresses": ["198.51.100.0/24"]}, "(it is the network address of 198.51.100.0/24)"),
    ({"addresses": ["198.51.100.255/24"]}, "(it is the broadcast address of 198.51.100.0/24)"),
    ({"addresses": ["127.0.0.5/8"]}, "address '127.0.0.5/8' is not a usable host address (a loopback address)"),
    ({"addresses": ["::1/128"]}, "(a loopback address)"),
    ({"addresses": ["224.0.0.5/24"]}, "(a multicast address)"),
    ({"mac": "02:00:00:00:00:01\n"}, "mac '02:00:00:00:00:01\\n' is not a MAC address"),
    ({"gateway": "198.51.100.90"}, "gateway 198.51.100.90 is one of the interface's own addresses (198.51.100.90/24)"),
    ({"gateway": "198.51.100.255"}, "gateway 198.51.100.255 is the broadcast address of 198.51.100.0/24, not a host"),
    ({"routes": [{"dest": "0.0.0.0/0", "via": "2001:db8::1"}], "addresses": ["198.51.100.90/24", "2001:db8::90/64"]},
     "routes[0]: dest 0.0.0.0/0 via 2001:db8::1 mixes IPv4 and IPv6"),
    ({"routes": [{"dest": "203.0.113.0/24", "via": "198.51.100.90"}]},
     "routes[0] (dest 203.0.113.0/24) via 198.51.100.90 is one of the interface's own addresses"),
]


@pytest.mark.parametrize("override, message", BAD, ids=[m.split(" ")[0].strip("(") + str(i) for i, (_override, m) in enumerate(BAD)])
def test_bad_input_fails_clearly_and_changes_nothing(lab, docker_engine, override, message):
    name, _cid = docker_engine.run()
    path = "/proc/%d/ns/net" % docker_engine.pid(name)
    host_before, cont_before = ns_snapshot(lab.host.path), ns_snapshot(path)
    args = {"container": name, "docker_host": docker_engine.url, "bridge": "br0", "addresses": ["198.51.100.90/24"]}
    args.update(override)
    args = dict((k, v) for k, v in args.items() if v is not None)
    for check_mode in (True, False):
        result = lab.run(args, check_mode=check_mode)
        assert result.failed, result
        assert message in result["msg"], result["msg"]
        assert result.get("changed") in (None, False)
    assert ns_snapshot(lab.host.path) == host_before
    assert ns_snapshot(path) == cont_before


def test_missing_bridge_check_mode_plans_an_empty_bridge_real_mode_fails(lab, docker_engine):
    a, _cid = docker_engine.run()
    b, _cid = docker_engine.run()
    path = "/proc/%d/ns/net" % docker_engine.pid(a)
    host_before, cont_before = ns_snapshot(lab.host.path), ns_snapshot(path)
    args = {"bridge": "br9", "purge": True, "interfaces": [
        {"container": a, "docker_host": docker_engine.url, "addresses": ["198.51.100.93/24"], "gateway": "198.51.100.1"},
        {"container": b, "docker_host": docker_engine.url, "addresses": ["198.51.100.94/24"], "mtu": 1400}]}
    check = lab.run(args, check_mode=True, diff=True)
    assert not check.failed and check["changed"] is True, check
    items = check["interfaces"]
    assert [(i["changed"], i["state"], i["bridge"], i["mtu"]) for i in items] == [
        (True, "present", "br9", None), (True, "present", "br9", 1400)]
    assert items[0]["addresses"] == ["198.51.100.93/24"] and items[0]["host_ifname"].startswith("vl")
    # (newer ansible-core returns warnings as structured events: look at their text)
    warning = json.dumps(check.get("warnings"))
    assert "check mode: bridge br9 does not exist yet; 2 attachment(s) planned" in warning and "MTU is unknown" in warning
    after = list(check["diff"]["after"].values())
    assert [a["host"]["bridge"] for a in after] == ["br9", "br9"]
    assert all(b == {"state": "absent"} for b in check["diff"]["before"].values())
    # the option's MTU is known: no MTU part in the warning
    single = lab.run(args["interfaces"][1] | {"bridge": "br9"}, check_mode=True)
    assert not single.failed and single["changed"] is True
    warning = json.dumps(single.get("warnings"))
    assert "bridge br9 does not exist yet; 1 attachment(s) planned" in warning and "MTU" not in warning
    assert ns_snapshot(lab.host.path) == host_before and ns_snapshot(path) == cont_before
    real = lab.run(args)
    assert real.failed and real["msg"] == "2 of 2 interfaces failed: bridge br9 does not exist; bridge br9 does not exist"
    assert ns_snapshot(lab.host.path) == host_before and ns_snapshot(path) == cont_before


def test_stopped_container(lab, docker_engine):
    name, _cid = docker_engine.run()
    docker_engine.docker("stop", "-t", "1", name)
    host_before = ns_snapshot(lab.host.path)
    result = lab.run({"container": name, "docker_host": docker_engine.url, "bridge": "br0",
                      "addresses": ["198.51.100.91/24"]})
    assert result.failed and result["msg"] == "container %s is not running" % name
    assert ns_snapshot(lab.host.path) == host_before
    # absent on a stopped container is fine: there is nothing to remove
    result = lab.run({"container": name, "docker_host": docker_engine.url, "state": "absent"})
    assert not result.failed and result["changed"] is False


def test_host_namespace_itself_is_refused(lab):
    result = lab.run({"netns": lab.host.path, "bridge": "br0", "addresses": ["198.51.100.92/24"]})
    assert result.failed and "shares the host's network namespace" in result["msg"]


# --------------------------------------------------------------------------- a large batch
# (how long it takes is the benchmark's business: tests/bench/bench.py, docs/benchmark.md)

@pytest.mark.parametrize("conflict_check", [False, True], ids=["no-probe", "probe"])
def test_batch_of_100_namespaces(lab, netns_factory, conflict_check):
    targets = [netns_factory("b") for _index in range(100)]
    entries = [{"netns": ns.path, "bridge": "br0", "addresses": ["198.51.100.%d/24" % (i + 2)],
                "gateway": "198.51.100.1", "conflict_check": conflict_check} for i, ns in enumerate(targets)]
    lab.host.ip("addr", "add", "198.51.100.254/24", "dev", "br0")
    check = lab.run({"interfaces": entries}, check_mode=True)
    real = lab.run({"interfaces": entries})
    again = lab.run({"interfaces": entries}, env=IMPORT_TIMES)
    assert check["changed"] and real["changed"] and not again["changed"], (real.get("msg"), again.get("msg"))
    assert not imported(again, "pyroute2"), "a run that changes nothing must not import pyroute2"
    assert len(real["interfaces"]) == 100 and not any(i.get("failed") for i in real["interfaces"])
    assert ping(lab.host, "198.51.100.101")


def test_a_gap_in_a_batch_names_its_entry(lab, netns_factory):
    a, b = netns_factory("c"), netns_factory("c")
    host_before = ns_snapshot(lab.host.path)
    result = lab.run({"bridge": "br0", "interfaces": [
        {"netns": a.path, "addresses": ["198.51.100.31/24"]},
        {"netns": b.path, "addresses": ["198.51.100.32/24"], "mac": "02:00:00:00:00:32\n"}]})
    assert result.failed and result["msg"] == r"interfaces[1]: mac '02:00:00:00:00:32\n' is not a MAC address (expected aa:bb:cc:dd:ee:ff)"
    assert ns_snapshot(lab.host.path) == host_before and "eth1" not in a.links()


# --------------------------------------------------------------------------- issue 13: targets

def _run_with_timeout(lab, args, timeout):
    """``helpers.run_module`` with a deadline: a module that hangs fails the test instead of hanging it."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"ANSIBLE_MODULE_ARGS": args}, f)
    try:
        proc = subprocess.run(["ip", "netns", "exec", lab.host.name, sys.executable, IN_NETNS, "container_veth", f.name],
                              capture_output=True, text=True, check=False, timeout=timeout, env=dict(os.environ))
    finally:
        os.unlink(f.name)
    return json.loads(proc.stdout)


@pytest.mark.parametrize("kind", ["fifo", "chardev", "directory", "other-namespace"])
def test_netns_that_is_not_a_network_namespace_is_refused_at_once(lab, tmp_path, kind):
    if kind == "fifo":
        path = str(tmp_path / "fifo")
        os.mkfifo(path)
        message = "%s is not a network namespace (it is a FIFO)" % path
    elif kind == "chardev":
        path, message = "/dev/null", "/dev/null is not a network namespace (it is a character device)"
    elif kind == "directory":
        path, message = str(tmp_path), "is not a network namespace (it is a directory)"
    else:
        path, message = "/proc/self/ns/uts", "/proc/self/ns/uts is a namespace, but not a network namespace"
    host_before = ns_snapshot(lab.host.path)
    # a FIFO used to block the module in open(2) forever: it must answer, well within 5 s
    result = _run_with_timeout(lab, {"netns": path, "bridge": "br0", "addresses": ["198.51.100.33/24"]}, timeout=5)
    assert result.get("failed") and result["msg"] == "netns %s: %s" % (path, message) or message in result["msg"], result
    assert ns_snapshot(lab.host.path) == host_before


def test_container_sharing_another_containers_namespace_is_refused(lab, docker_engine):
    owner, _cid = docker_engine.run()
    side, _cid = docker_engine.run(network="container:" + owner)
    path = "/proc/%d/ns/net" % docker_engine.pid(owner)
    host_before, cont_before = ns_snapshot(lab.host.path), ns_snapshot(path)
    for check_mode in (True, False):
        result = lab.run({"container": side, "docker_host": docker_engine.url, "bridge": "br0",
                          "addresses": ["198.51.100.34/24"], "gateway": "198.51.100.1"}, check_mode=check_mode)
        assert result.failed, result
        assert result["msg"].startswith("container %s shares the network namespace of container %s (network mode "
                                        "container:" % (side, owner)), result["msg"]
        assert result["msg"].endswith("target container %s instead, whose attachment then serves both" % owner)
    assert ns_snapshot(lab.host.path) == host_before and ns_snapshot(path) == cont_before
    # in one batch with its owner: only the sharer fails; the owner is attached once
    result = lab.run({"bridge": "br0", "interfaces": [
        {"container": owner, "docker_host": docker_engine.url, "addresses": ["198.51.100.35/24"], "gateway": "198.51.100.1"},
        {"container": side, "docker_host": docker_engine.url, "addresses": ["198.51.100.34/24"], "gateway": "198.51.100.1"}]})
    assert result.failed and result["msg"].startswith("1 of 2 interfaces failed: container %s shares" % side)
    assert result["interfaces"][0]["changed"] is True and result["interfaces"][1]["failed"] is True
    assert [a["local"] for i in ip_json(path, "addr", "show", "dev", "eth1") for a in i["addr_info"]
            if a["family"] == "inet"] == ["198.51.100.35"]
    assert lab.ping("198.51.100.35")
    # state=absent for the sharer is no error: it has no attachment, and the owner's stays
    gone = lab.run({"container": side, "docker_host": docker_engine.url, "state": "absent"})
    assert not gone.failed and gone["changed"] is False, gone.get("msg")
    assert result["interfaces"][0]["host_ifname"] in lab.host.links()


def test_pid_in_the_host_namespace_is_refused(lab):
    proc = subprocess.Popen(["ip", "netns", "exec", lab.host.name, "sleep", "30"])  # noqa: S603
    try:
        host_before = ns_snapshot(lab.host.path)
        result = lab.run({"pid": proc.pid, "bridge": "br0", "addresses": ["198.51.100.36/24"]})
        assert result.failed and result["msg"] == ("pid %d shares the host's network namespace; it needs a network "
                                                   "namespace of its own (for Docker: --network none)" % proc.pid)
        assert ns_snapshot(lab.host.path) == host_before
    finally:
        proc.kill()
        proc.wait()


# --------------------------------------------------------------------------- issue 13: one batch, one whole

def test_one_address_twice_in_a_batch_is_refused_and_nothing_changes(lab, docker_engine, netns_factory):
    a, _cid = docker_engine.run()
    b, _cid = docker_engine.run()
    bare = netns_factory("c")
    paths = ["/proc/%d/ns/net" % docker_engine.pid(n) for n in (a, b)] + [bare.path]
    before = [ns_snapshot(lab.host.path)] + [ns_snapshot(p) for p in paths]
    cases = [
        ([{"container": a, "addresses": ["198.51.100.37/24"]}, {"container": b, "addresses": ["198.51.100.37/25"]}],
         "interfaces[1]: address 198.51.100.37 is also claimed by interfaces[0]"),
        ([{"container": a, "addresses": ["198.51.100.38/24"]}, {"netns": bare.path, "addresses": ["198.51.100.38/24"]}],
         "interfaces[1]: address 198.51.100.38 is also claimed by interfaces[0]"),
        ([{"container": a, "mac": "02:00:00:00:00:39"}, {"container": b, "mac": "02:00:00:00:00:39"}],
         "interfaces[1]: mac 02:00:00:00:00:39 is also claimed by interfaces[0]"),
        ([{"container": a, "addresses": ["198.51.100.40/24"]}, {"container": a, "addresses": ["198.51.100.41/24"]}],
         "interfaces[1]: container %s eth1 is also claimed by interfaces[0]" % a),
        # one container by name and by ID: found once the engine has answered, still before any change
        ([{"container": a, "addresses": ["198.51.100.42/24"]},
          {"container": docker_engine.docker("inspect", "-f", "{{.Id}}", a)[:12], "addresses": ["198.51.100.43/24"]}],
         "interfaces[1]: container %s eth1 (the namespace of %s) is also claimed by interfaces[0]"
         % (docker_engine.docker("inspect", "-f", "{{.Id}}", a)[:12], a)),
    ]
    for entries, message in cases:
        for entry in entries:
            entry.setdefault("docker_host", docker_engine.url)
        for check_mode in (True, False):
            result = lab.run({"bridge": "br0", "interfaces": entries}, check_mode=check_mode)
            assert result.failed and result["msg"] == message, result
            assert not result.get("changed")
    assert [ns_snapshot(lab.host.path)] + [ns_snapshot(p) for p in paths] == before


@contextlib.contextmanager
def _soft_nofile(limit):
    """Run the block (and the modules it starts) with the soft open-files limit at ``limit``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(limit, hard), hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextlib.contextmanager
def _many_namespaces(count):
    """``count`` namespaces made (and deleted) with one ``ip -batch`` each way; yields their paths."""
    names = ["lbt-m%s-%d" % (uuid.uuid4().hex[:6], i) for i in range(count)]

    def batch(verb):
        with tempfile.NamedTemporaryFile("w", suffix=".ip", delete=False) as f:
            f.write("".join("netns %s %s\n" % (verb, name) for name in names))
        try:
            sh("ip", "-force", "-batch", f.name, check=verb == "add")
        finally:
            os.unlink(f.name)

    try:
        batch("add")
        yield ["/run/netns/" + name for name in names]
    finally:
        batch("del")


def test_batch_of_1500_netns_targets(lab):
    """1,500 entries, each with its namespace, netlink socket and (for the addressed ones) a packet
    socket open at once: beyond select()'s 1024 and a default soft limit of 1024 open files. Two
    bridges, as a Linux bridge takes at most 1,023 ports (BR_MAX_PORTS; the kernel answers EXFULL)."""
    count = 1500
    lab.host.ip("link", "add", "br1", "type", "bridge", "stp_state", "0")
    lab.host.ip("link", "set", "br1", "up")
    addressed = ["198.51.100.%d/24" % i for i in range(2, 252)] + ["203.0.113.%d/24" % i for i in range(2, 252)]
    with _many_namespaces(count) as paths, _soft_nofile(1024):
        entries = [{"netns": path, "bridge": "br0" if index < count // 2 else "br1"} for index, path in enumerate(paths)]
        for entry, address in zip(entries, addressed):
            entry["addresses"] = [address]
        args = {"interfaces": entries}
        real = lab.run(args)
        assert not real.failed and real["changed"] is True, real.get("msg", "")[:500]
        assert len(real["interfaces"]) == count and all(i["changed"] and not i.get("failed") for i in real["interfaces"])
        ports = [link for bridge in ("br0", "br1") for link in ip_json(lab.host, "link", "show", "master", bridge)
                 if link["ifname"] != "lanp"]
        assert len(ports) == count
        assert all(paths[i] == item["netns"] for i, item in enumerate(real["interfaces"]))
        again = lab.run(args)
        assert not again.failed and again["changed"] is False, again.get("msg", "")[:500]
        assert lab.ping("198.51.100.2") and lab.ping("198.51.100.251")  # (the LAN has no 203.0.113.0/24 address)
        assert ip_json(paths[250], "addr", "show", "dev", "eth1")[0]["addr_info"][0]["local"] == "203.0.113.2"


# --------------------------------------------------------------------------- issue 13: absent matches exactly

def test_absent_by_name_matches_exactly(lab, docker_engine, netns_factory):
    # an attachment labelled for another engine's container (a random ID: this engine cannot
    # resolve a prefix of it, whatever containers the session made)
    other_id = uuid.uuid4().hex + uuid.uuid4().hex
    foreign = "vlforeign"
    lab.host.ip("link", "add", foreign, "type", "veth", "peer", "name", "vlforeignp")
    lab.host.ip("link", "set", foreign, "alias", "lanbridge:veth id=container:%s if=eth1 name=other" % other_id,
                "master", "br0")
    # and a netns target's attachment, whose label carries the namespace's name
    blue = netns_factory("blue")
    made = lab.run({"netns": blue.name, "bridge": "br0", "addresses": ["198.51.100.44/24"]})
    assert not made.failed, made
    blue_port = made["interfaces"][0]["host_ifname"]
    host_before = ns_snapshot(lab.host.path)
    for container in (other_id[:12], other_id[:40], blue.name):  # unknown to the engine: exact names or full IDs only
        for check_mode in (True, False):
            result = lab.run({"container": container, "docker_host": docker_engine.url, "state": "absent"},
                             check_mode=check_mode)
            assert not result.failed and result["changed"] is False, (container, result.get("msg"))
    assert ns_snapshot(lab.host.path) == host_before
    assert {foreign, blue_port} <= set(lab.host.links())
    # the full ID (or the label's name) still removes it
    gone = lab.run({"container": other_id, "docker_host": docker_engine.url, "state": "absent"})
    assert not gone.failed and gone["changed"] is True and foreign not in lab.host.links()
    assert blue_port in lab.host.links()


# --------------------------------------------------------------------------- issue 13: locks

def test_a_run_waits_for_the_lock_of_its_bridge(lab, netns_factory, tmp_path):
    """Another run holding ``bridge:br0`` (in the host namespace) keeps this one from reading br0
    until it lets go: the holder's last act before letting go is seen by the time the module returns."""
    marker = str(tmp_path / "released")
    holder = subprocess.Popen(  # noqa: S603
        ["ip", "netns", "exec", lab.host.name, sys.executable, "-c",
         "import sys, time\n"
         "from ansible_collections.lanbridge.core.plugins.module_utils._lock import hold\n"
         "with hold(['bridge:br0']):\n"
         "    print('held', flush=True)\n"
         "    sys.stdin.readline()\n"
         "    time.sleep(1)\n"
         "    open(sys.argv[1], 'w').close()\n", marker],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert holder.stdout.readline().strip() == "held"
        holder.stdin.write("go\n")
        holder.stdin.flush()
        result = lab.run({"netns": netns_factory("c").path, "bridge": "br0", "addresses": ["198.51.100.45/24"]})
        assert not result.failed and result["changed"] is True, result
        assert os.path.exists(marker), "the module ran while another run held bridge:br0"
    finally:
        holder.kill()
        holder.wait()
