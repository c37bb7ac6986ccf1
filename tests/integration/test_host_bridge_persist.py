"""host_bridge's persist option on a real kernel, in throwaway namespaces (see host_bridge_lan.py).

A test namespace is not init's, so no network manager persists anything there (``persist: auto``
says so, a named manager is refused): what is reachable here is the lease rule. An uplink address
with a finite lifetime (a DHCP lease, a router advertisement) is refused when nobody will renew it
on the bridge, with ``persist: none`` and with ``auto`` finding no manager, in check mode and for
real, and nothing changes.
"""
import os

import pytest

from helpers import assert_same, snapshot
from host_bridge_lan import HOST_IP, build

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (network namespaces)")


@pytest.fixture
def leased(netns_factory):
    lan = build(netns_factory)
    lan.host.ip("addr", "change", HOST_IP + "/24", "dev", "em1", "valid_lft", "300", "preferred_lft", "300")
    return lan


@pytest.mark.parametrize("check", [True, False])
@pytest.mark.parametrize("persist", ["none", "auto"])
def test_a_leased_uplink_address_nobody_renews_is_refused(leased, module_runner, persist, check):
    before = snapshot(leased.host)
    result = module_runner("host_bridge", leased.host, {"name": "br0", "uplink": "em1", "persist": persist}, check_mode=check)
    assert result.failed, result
    assert "%s/24 on em1 is leased (valid for" % HOST_IP in result["msg"] and "nobody would renew it" in result["msg"], result["msg"]
    assert_same(before, snapshot(leased.host))
    if persist == "auto":
        assert any("not init's; nothing is persisted" in str(w) for w in result.get("warnings", [])), result.get("warnings")


def test_a_named_manager_is_refused_outside_init_netns(leased, module_runner):
    before = snapshot(leased.host)
    result = module_runner("host_bridge", leased.host, {"name": "br0", "uplink": "em1", "persist": "networkd"})
    assert result.failed and "persist networkd: host_bridge runs in a network namespace that is not init's" in result["msg"], result
    assert_same(before, snapshot(leased.host))


def test_a_permanent_address_moves_with_persist_none(netns_factory, module_runner):
    lan = build(netns_factory)
    result = module_runner("host_bridge", lan.host, {"name": "br0", "uplink": "em1", "persist": "none"})
    assert not result.failed and result["changed"] and result["persist"] == {"manager": None, "files": []}, result
    assert "%s/24" % HOST_IP in lan.host.ip("-4", "addr", "show", "dev", "br0")
