"""Fixtures of the tests on booted lab hosts (run as root; never on this machine itself).

``agent_lab``: one lab (prefix ``$LANBRIDGE_BOOTED_PREFIX``, default ``ab``) with one booted
Debian 12 host: systemd-networkd owns em1 (the bridge persists, ``persist: auto``), Docker as a
service, the containers ``--restart always``, and FORWARD set to DROP at boot (``--forward-drop``),
so LAN traffic over the bridge needs the firewall rule the agent keeps. The role (``site.yml``)
runs once with the agent on, then again to prove the second run changes nothing.
"""
import functools
import os

import pytest

from agent_lab import CONTAINERS, PREFIX, converge, lab, playbook_command


@functools.lru_cache(maxsize=None)
def _verdict(need_playbook=False):
    extra = [] if not need_playbook or playbook_command() else [
        "ansible-playbook (not on PATH nor in .venv/bin; make deps installs it)"]
    return lab.booted.verdict_for_tests(extra)


def _require(need_playbook=False):
    """Fail with a sentence naming what is missing; skip only on LANBRIDGE_SKIP_BOOTED=1."""
    verdict = _verdict(need_playbook)
    if verdict:
        skip, why = verdict
        if skip:
            pytest.skip(why)
        pytest.fail(why, pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Every test here needs booted hosts: checked before any skip mark, so none skips silently."""
    _require()


@pytest.fixture(scope="session")
def agent_lab_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("lanbridge-agent") / "lab")


@pytest.fixture(scope="session")
def agent_lab(agent_lab_dir, tmp_path_factory):
    _require(need_playbook=True)
    st = lab.up(agent_lab_dir, PREFIX, containers=CONTAINERS, forward_drop=(1,), booted=["networkd"], owner=os.getpid())
    try:
        tmp = str(tmp_path_factory.mktemp("converge"))
        converge(st, tmp)
        st["second_run_changed"] = converge(st, tmp)
        st["tmp"] = tmp
        yield st
    finally:
        lab.down(agent_lab_dir)
