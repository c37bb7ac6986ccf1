"""Fixtures of the tests on booted lab hosts (run as root; never on this machine itself).

``agent_lab``: one lab (prefix ``$LANBRIDGE_BOOTED_PREFIX``, default ``ab``) with one booted
Debian 12 host: systemd-networkd owns em1 (the bridge persists, ``persist: auto``), Docker as a
service, the containers ``--restart always``, and FORWARD set to DROP at boot (``--forward-drop``),
so LAN traffic over the bridge needs the firewall rule the agent keeps. The role (``site.yml``)
runs once with the agent on, then again to prove the second run changes nothing.
"""
import os

import pytest

from agent_lab import CONTAINERS, PREFIX, converge, lab, skip_reason


@pytest.fixture(scope="session")
def agent_lab_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("lanbridge-agent") / "lab")


@pytest.fixture(scope="session")
def agent_lab(agent_lab_dir, tmp_path_factory):
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    st = lab.up(agent_lab_dir, PREFIX, containers=CONTAINERS, forward_drop=(1,), booted=["networkd"], owner=os.getpid())
    try:
        tmp = str(tmp_path_factory.mktemp("converge"))
        converge(st, tmp)
        st["second_run_changed"] = converge(st, tmp)
        st["tmp"] = tmp
        yield st
    finally:
        lab.down(agent_lab_dir)
