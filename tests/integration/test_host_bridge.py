"""host_bridge on a real kernel, only in namespaces the tests create (see host_bridge_lan.py).

Each option four ways: check mode with diff, real, repeat check, repeat real; check's diff and
``changed`` equal the real run's, and the repeats change nothing.
"""
import difflib
import os
import time

import pytest

from host_bridge_lan import CLIENT_IP, EM1_MAC, GATEWAY, HOST_IP, TcpProbe, build, pings, snapshot

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


@pytest.fixture
def lan(netns_factory):
    return build(netns_factory)


def assert_same(before, after, what="namespace"):
    assert before == after, "%s changed:\n%s" % (what, "\n".join(difflib.unified_diff(
        before.splitlines(), after.splitlines(), "before", "after", lineterm="", n=0)))


def run(module_runner, ns, args, check=False, diff=True):
    return module_runner("host_bridge", ns, args, check_mode=check, diff=diff)


def four_ways(module_runner, ns, args):
    """check+diff, real, repeat check, repeat real; returns the real run's result."""
    before = snapshot(ns)
    check = run(module_runner, ns, args, check=True)
    assert not check.failed, check["msg"]
    assert_same(before, snapshot(ns), "check mode: namespace")
    real = run(module_runner, ns, args)
    assert not real.failed, real["msg"]
    assert check["changed"] == real["changed"]
    assert check["diff"] == real["diff"]
    assert check["plan"] == real["plan"]
    assert check["migrated"] == real["migrated"]
    assert {k: v for k, v in check["bridge"].items() if k != "index"} == \
        {k: v for k, v in real["bridge"].items() if k != "index"}
    assert real["diff"]["after"]["bridge"] == {k: v for k, v in real["bridge"].items() if k != "index"}
    after = snapshot(ns)
    recheck = run(module_runner, ns, args, check=True)
    assert not recheck.failed and recheck["changed"] is False and recheck["plan"] == []
    assert recheck["diff"]["before"] == recheck["diff"]["after"]
    again = run(module_runner, ns, args)
    assert not again.failed and again["changed"] is False and again["plan"] == []
    assert_same(after, snapshot(ns), "repeat run: namespace")
    return real


def test_seed_scenario_end_to_end(lan, module_runner):
    assert pings(lan.client, HOST_IP)
    tcp = TcpProbe(lan, seconds=3)
    time.sleep(0.5)
    start = time.monotonic()
    real = four_ways(module_runner, lan.host, {"name": "br0", "uplink": "em1"})
    elapsed = time.monotonic() - start
    survived = tcp.result()
    assert survived["echoes"] > 50
    print("four runs: %.2fs; TCP echoes %d, worst round trip %.1f ms" % (elapsed, survived["echoes"], survived["worst_rtt"] * 1000))
    assert real["changed"] and real["rolled_back"] is False
    assert real["probe"]["address"] == GATEWAY and real["probe"]["method"] == "arp"
    bridge = real["bridge"]
    assert bridge["ports"] == ["em1"] and bridge["addresses"] == [HOST_IP + "/24"] and bridge["mac"] == EM1_MAC
    assert bridge["state"] == "up" and bridge["stp"] is False and bridge["mtu"] == 1500
    assert real["migrated"]["addresses"] == [HOST_IP + "/24"]
    links = lan.host.links()
    assert links["em1"]["master"] == "br0"
    assert links["br0"]["address"] == EM1_MAC
    assert "inet " not in lan.host.ip("addr", "show", "dev", "em1")
    assert lan.host.ip("route", "show", "default").split()[:5] == ["default", "via", GATEWAY, "dev", "br0"]
    assert pings(lan.client, HOST_IP)
    assert pings(lan.host, CLIENT_IP)
