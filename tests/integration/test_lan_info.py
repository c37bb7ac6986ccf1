"""lan_info on a real kernel with real containers, in namespaces the tests create.

Topology: ``host_bridge_lan``'s throwaway host namespace (``em1`` on a LAN with the gateway
198.51.100.254), where ``host_bridge`` builds ``br0`` from ``em1`` and ``container_veth`` attaches
containers of the private Docker Engine (``engine.py``, ``--network none``) and bare namespaces.
Then the world is broken in every way lan_info tells apart: a container stopped and one removed
while their old namespaces are kept alive by a descriptor of this test (else the kernel deletes the
pair with the namespace), one restarted likewise, a namespace whose name is deleted, a process
target whose namespace has a process but no name, a foreign veth on ``br0``, an attachment on an
unlabelled bridge. lan_info must report each, change nothing, and agree with its check mode.
"""
import functools
import json
import os
import subprocess

import pytest
# the docker_engine fixture:
from engine import docker_engine_fixture  # noqa: F401  # pylint: disable=unused-import
from helpers import assert_same, settled, snapshot
from host_bridge_lan import EM1_MAC, GATEWAY, HOST_IP, build

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces, dockerd)")

ns_snapshot = functools.partial(snapshot, link_state=False)


def warnings(result):
    """The warnings' text (newer ansible-core returns them as structured events)."""
    return json.dumps(result.get("warnings") or [])


def hold(path):
    """Keep the namespace at ``path`` alive while the test runs (a descriptor of this process)."""
    return os.open(path, os.O_RDONLY)


@pytest.fixture
def world(netns_factory, module_runner, docker_engine):
    lan = build(netns_factory)
    host = lan.host
    made = module_runner("host_bridge", host, {"name": "br0", "uplink": "em1"})
    assert not made.failed and made["changed"], made
    host.ip("link", "add", "brx", "type", "bridge")  # a bridge host_bridge does not manage
    host.ip("link", "set", "brx", "up")
    names = {}
    for role in ("web", "stopped", "removed", "restarted"):
        names[role], _cid = docker_engine.run()
    named, dropped, other = netns_factory("n"), netns_factory("d"), netns_factory("o")
    sleeper_ns = netns_factory("p")
    sleeper = subprocess.Popen(["ip", "netns", "exec", sleeper_ns.name, "sleep", "600"])
    dc = {"docker_host": docker_engine.url}
    entries = [
        dict(dc, container=names["web"], addresses=["198.51.100.21/24", "2001:db8::21/64"], gateway=GATEWAY,
             routes=[{"dest": "203.0.113.0/24", "via": "198.51.100.1"}]),
        dict(dc, container=names["stopped"], addresses=["198.51.100.22/24"]),
        dict(dc, container=names["removed"], addresses=["198.51.100.23/24"]),
        dict(dc, container=names["restarted"], addresses=["198.51.100.24/24"]),
        {"netns": named.name, "addresses": ["198.51.100.25/24"], "ifname": "lan0"},
        {"netns": dropped.name, "addresses": ["198.51.100.26/24"]},
        {"pid": sleeper.pid, "addresses": ["198.51.100.27/24"]},
        {"netns": other.name, "bridge": "brx", "addresses": ["203.0.113.5/24"]},
    ]
    for entry in entries:
        entry.setdefault("bridge", "br0")
        entry["conflict_check"] = False
    attached = module_runner("container_veth", host, {"interfaces": entries})
    assert not attached.failed, attached
    held = []
    try:
        for role in ("stopped", "removed", "restarted"):
            held.append(hold("/proc/%d/ns/net" % docker_engine.pid(names[role])))
        held.append(hold(dropped.path))
        docker_engine.docker("stop", "-t", "1", names["stopped"])
        docker_engine.docker("rm", "-f", names["removed"])
        docker_engine.docker("restart", "-t", "1", names["restarted"])
        subprocess.run(["ip", "netns", "del", dropped.name], check=True)
        subprocess.run(["ip", "netns", "del", sleeper_ns.name], check=True)  # the sleeper keeps it
        by_target = dict((i.get("container_name") or i["netns"], i) for i in attached["interfaces"])
        yield {"lan": lan, "host": host, "names": names, "veth": by_target, "sleeper": sleeper,
               "engine": docker_engine, "named": named, "other": other, "dropped": dropped}
    finally:
        for fd in held:
            os.close(fd)
        sleeper.kill()
        sleeper.wait()


def test_reports_bridges_and_every_status_and_changes_nothing(world, module_runner):
    host, names, veth = world["host"], world["names"], world["veth"]
    args = {"docker_host": world["engine"].url}
    before = settled(host, link_state=False)
    real = module_runner("lan_info", host, args)
    check = module_runner("lan_info", host, args, check_mode=True)
    assert not real.failed and not check.failed, (real, check)
    assert real["changed"] is False and check["changed"] is False
    assert real["bridges"] == check["bridges"] and real["attachments"] == check["attachments"]
    assert_same(before, ns_snapshot(host), "lan_info: host namespace")
    if os.environ.get("LAN_INFO_SAMPLE"):
        with open(os.environ["LAN_INFO_SAMPLE"], "w") as f:
            json.dump(real, f, indent=1)

    (br0,) = real["bridges"]  # brx carries no label
    assert br0["name"] == "br0" and br0["label"] == "lanbridge:bridge" and br0["uplink"] == "em1"
    assert br0["mac"] == EM1_MAC and br0["stp"] is False and br0["state"] == "up" and br0["persisted"] is None
    assert br0["addresses"] == [HOST_IP + "/24"]
    assert [(r["dst"], r["gateway"]) for r in br0["routes"]] == [("default", GATEWAY)]
    assert "em1" in br0["ports"]

    found = dict((a["host_ifname"], a) for a in real["attachments"])
    status = dict((name, a["status"]) for name, a in found.items())
    web = found[veth[names["web"]]["host_ifname"]]
    assert web["status"] == "attached" and web["container_name"] == names["web"]
    assert web["container_id"] == veth[names["web"]]["container_id"] and web["identity"].startswith("container:")
    assert web["pid"] == world["engine"].pid(names["web"]) and web["netns"] == "/proc/%d/ns/net" % web["pid"]
    assert web["ifname"] == web["peer_ifname"] == "eth1" and web["mac"] == veth[names["web"]]["mac"]
    assert web["addresses"] == ["198.51.100.21/24", "2001:db8::21/64"]
    assert web["routes"] == veth[names["web"]]["routes"]
    assert web["bridge"] == "br0" and web["bridge_managed"] is True and web["kind"] == "veth"
    assert status[veth[names["stopped"]]["host_ifname"]] == "container stopped"
    assert status[veth[names["removed"]]["host_ifname"]] == "container gone"
    assert status[veth[names["restarted"]]["host_ifname"]] == "stale"
    named = found[veth[world["named"].path]["host_ifname"]]
    assert named["status"] == "attached" and named["netns"] == world["named"].path and named["pid"] is None
    assert named["ifname"] == "lan0" and named["addresses"] == ["198.51.100.25/24"] and named["container_id"] is None
    assert named["container_name"] == world["named"].name
    assert status[veth[world["dropped"].path]["host_ifname"]] == "namespace gone"
    sleeper = [a for a in real["attachments"] if a["container_name"] == "pid%d" % world["sleeper"].pid]
    assert [(a["status"], a["pid"], a["addresses"]) for a in sleeper] == [("attached", world["sleeper"].pid,
                                                                          ["198.51.100.27/24"])]
    other = found[veth[world["other"].path]["host_ifname"]]
    assert other["status"] == "attached" and other["bridge"] == "brx" and other["bridge_managed"] is False
    assert "em1" not in found  # the uplink is not an attachment
    assert len(real["attachments"]) == 8
    for item in real["attachments"]:
        if item["status"] != "attached":
            assert item["mac"] is None and item["addresses"] == [] and item["reason"]


def test_a_foreign_port_is_not_ours(world, module_runner):
    """A veth on br0 without the label is not ours. The lab's em1 is a veth too, so host_bridge's
    rule (the uplink is the unlabelled port, preferably not a veth) cannot tell the two apart: the
    uplink is then unknown, with a warning, and both are reported as not ours."""
    host = world["host"]
    host.ip("link", "add", "fv0", "type", "veth", "peer", "name", "fv1")
    host.ip("link", "set", "fv0", "master", "br0", "up")
    before = settled(host, link_state=False)
    result = module_runner("lan_info", host, {"docker_host": world["engine"].url})
    assert not result.failed and result["changed"] is False
    assert_same(before, ns_snapshot(host), "lan_info: host namespace")
    assert result["bridges"][0]["uplink"] is None
    assert "bridge br0: its uplink is not known" in warnings(result)
    found = dict((a["host_ifname"], a) for a in result["attachments"])
    for port in ("fv0", "em1"):
        assert found[port]["status"] == "not ours" and found[port]["bridge"] == "br0", found[port]
        assert found[port]["identity"] is None and found[port]["kind"] == "veth"
    assert "uplink is not known" in found["fv0"]["reason"]
    assert [a["host_ifname"] for a in result["attachments"] if a["bridge"] == "br0"][-2:] == ["em1", "fv0"]
    assert len(result["attachments"]) == 10


def test_unreachable_engine_is_unknown_with_a_warning(world, module_runner):
    result = module_runner("lan_info", world["host"], {"docker_host": "unix:///run/lbt-no-such-engine.sock"})
    assert not result.failed and result["changed"] is False
    containers = [a for a in result["attachments"] if a["container_id"]]
    assert len(containers) == 4 and set(a["status"] for a in containers) == {"unknown"}
    assert "lbt-no-such-engine.sock" in containers[0]["reason"]
    assert "lbt-no-such-engine.sock" in warnings(result)
    netns = [a["status"] for a in result["attachments"] if a["identity"] and a["identity"].startswith("netns:")]
    assert sorted(netns) == ["attached", "attached", "attached", "namespace gone"]


def test_empty_host_and_a_bad_socket(netns, module_runner):
    """Nothing to report: the engine is not asked (an unreachable socket is no warning); a
    docker_host that is not a unix socket fails."""
    result = module_runner("lan_info", netns, {"docker_host": "unix:///run/lbt-no-such-engine.sock"}, check_mode=True)
    assert not result.failed and result == dict(result, changed=False, bridges=[], attachments=[])
    assert not result.get("warnings")
    bad = module_runner("lan_info", netns, {"docker_host": "tcp://198.51.100.1:2375"})
    assert bad.failed and "not a unix socket" in bad["msg"]
