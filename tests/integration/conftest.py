"""Shared fixtures for integration tests: throwaway network namespaces and a module runner.

Every test works in namespaces it creates (random names, deleted afterwards); modules run as
real processes inside them (``ip netns exec``), exactly as Ansible would run them on a host,
with the interpreter of this test run (so the pyroute2 of the venv is the one under test).
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
# Values the kernel changes by itself: bridge timers, address lifetimes, route expiry.
_MOVING = re.compile(r"(\b\w*_timer\s+)[\d.]+|(\b(?:valid|preferred)_lft\s+)\S+|(\bexpires\s+)\S+")
IN_NETNS = os.path.join(HERE, "_in_netns.py")


def sh(*cmd, check=True):
    """Run a command (no shell) and return its stdout; raise with stderr on failure."""
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("%s failed (%d): %s" % (" ".join(cmd), proc.returncode, proc.stderr.strip()))
    return proc.stdout


def ip_json(ns, *args):
    """``ip -j -n NS ARGS`` parsed."""
    out = sh("ip", "-j", "-n", ns, *args)
    return json.loads(out or "[]")


class Netns:
    """A throwaway network namespace; ``lo`` is up."""

    def __init__(self, name):
        self.name = name
        self.path = "/run/netns/" + name

    def ip(self, *args, check=True):
        return sh("ip", "-n", self.name, *args, check=check)

    def exec(self, *cmd, check=True):
        return sh("ip", "netns", "exec", self.name, *cmd, check=check)

    def links(self):
        return {link["ifname"]: link for link in ip_json(self.name, "-d", "link", "show")}

    def snapshot(self):
        """Everything a module could change, as text: used to prove 'nothing changed'.

        Left out is what changes by itself: bridge timers, lifetimes, and IPv6 duplicate address
        detection finishing (``tentative``, then the kernel's ``local`` route).
        """
        text = "\n".join([
            self.ip("-d", "link", "show"),
            self.ip("addr", "show"),
            self.ip("route", "show", "table", "all"),
            self.ip("-6", "route", "show", "table", "all"),
        ])
        text = _MOVING.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + "*", text)
        lines = []
        for raw in text.splitlines():
            if raw.startswith("local ") and ":" in raw.split()[1]:
                continue
            line = raw.replace(" tentative", "") if "inet6 " in raw else raw
            lines.append(re.sub(r"\s+", " ", line))
        return "\n".join(lines)


@pytest.fixture
def netns_factory():
    created = []

    def make(tag="t"):
        name = "lbt-%s-%s" % (tag, uuid.uuid4().hex[:8])
        sh("ip", "netns", "add", name)
        created.append(name)
        sh("ip", "-n", name, "link", "set", "lo", "up")
        return Netns(name)

    yield make
    for name in reversed(created):
        for pid in sh("ip", "netns", "pids", name, check=False).split():
            subprocess.run(["kill", "-9", pid], check=False)
        sh("ip", "netns", "del", name, check=False)


@pytest.fixture
def netns(netns_factory):
    return netns_factory()


class ModuleResult(dict):
    @property
    def failed(self):
        return bool(self.get("failed"))


def run_module(module, ns, args, check_mode=False, diff=False, python=None):
    """Run ``lanbridge.core.<module>`` in namespace ``ns`` with ``args``; return its JSON result."""
    payload = dict(args)
    payload["_ansible_check_mode"] = check_mode
    payload["_ansible_diff"] = diff
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"ANSIBLE_MODULE_ARGS": payload}, f)
        path = f.name
    try:
        name = ns.name if isinstance(ns, Netns) else ns
        proc = subprocess.run(
            ["ip", "netns", "exec", name, python or sys.executable, IN_NETNS, module, path],
            capture_output=True, text=True, check=False, env=dict(os.environ),
        )
    finally:
        os.unlink(path)
    try:
        result = json.loads(proc.stdout)
    except ValueError as exc:
        raise AssertionError("module %s printed no JSON (rc %d): %s %s" % (module, proc.returncode, proc.stdout, proc.stderr)) from exc
    return ModuleResult(result)


@pytest.fixture
def module_runner():
    return run_module
