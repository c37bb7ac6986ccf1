"""A private rootful Podman for the module tests (session-scoped fixture ``podman_engine``).

The lab's own Podman service (``tests/lab/podman.py``), started the same way, in a throwaway
network namespace of its own (``lbp-<random>``): ``podman system service`` inside that namespace
and a private mount namespace, with the lab's containers.conf (``default_ulimits = []``), vfs
storage, file locks, runc's root and a CNI network ``lab`` (203.0.113.0/24 on ``cni-podman0``),
every file under one temporary directory in /tmp (not under /run: the ``runtime: auto`` test hides
/run behind a tmpfs and must still reach the socket). Bridge-mode containers, their veths and
CNI's firewall rules therefore live in that namespace only; the root namespace is never changed.
Teardown removes the containers, stops the service, kills what is left in its cgroup and
namespace, deletes the namespace and the directory.
"""
import importlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest
from engine import EngineCli
from helpers import lab_package

lab = lab_package()
_proc = importlib.import_module("lanbridge_lab._proc")
images = lab.images
BRIDGE_SUBNET = lab.podman.SUBNET


class PodmanEngine(EngineCli):
    NAME = "podman"

    def __init__(self, root):
        super().__init__(root)
        tag = uuid.uuid4().hex[:8]
        self.netns = "lbp-%s" % tag
        self.cgroup_parent = "/lanbridge-test-podman-%s" % tag
        self.h = lab.podman.paths(os.path.join(root, "conf"), os.path.join(root, "run"))
        self.url = self.h["podman_host"]
        self.sock = self.url[len("unix://"):]
        self.start_seconds = None

    def start(self):
        subprocess.run(["ip", "netns", "add", self.netns], check=True)
        subprocess.run(["ip", "-n", self.netns, "link", "set", "lo", "up"], check=True)
        environ = lab.podman.write_config(self.h)
        t0 = time.monotonic()
        self.spawn(lab.podman.service_argv(self.netns, self.h), os.path.join(self.root, "podman.log"), env=environ)
        deadline = t0 + 60
        while not _proc.api_ping(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                with open(os.path.join(self.root, "podman.log")) as f:
                    raise RuntimeError("podman system service did not start: %s" % f.read()[-2000:])
            time.sleep(0.02)
        self.start_seconds = time.monotonic() - t0
        images.import_image(self.url, cli="podman")

    def _argv(self, args):
        return ["podman", "--url", self.url, *args]

    def _env(self):
        return lab.podman.env(self.h)

    podman = EngineCli.cli

    def run(self, name=None, network="bridge"):
        """Start a busybox container in Podman's bridge network ``lab`` (inside the engine's own
        namespace) or with ``--network none``; return ``(name, id)``."""
        if network not in ("bridge", "none"):
            raise ValueError("test containers use the bridge network or none, not %s" % network)
        name = name or "lbt-%s" % uuid.uuid4().hex[:8]
        return self.start_container(name, ["--hostname", name, "--network",
                                           lab.podman.NETWORK if network == "bridge" else "none",
                                           "--cgroup-parent=" + self.cgroup_parent])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            for name in self.containers:
                self.podman("rm", "-f", "-t", "0", name, check=False)
            self.stop_daemon()
        _proc.kill_cgroup(self.cgroup_parent)
        if os.path.exists("/run/netns/" + self.netns):
            pids = subprocess.run(["ip", "netns", "pids", self.netns], capture_output=True, text=True,
                                  check=False).stdout.split()
            for pid in pids:
                subprocess.run(["kill", "-9", pid], check=False)
            subprocess.run(["ip", "netns", "del", self.netns], check=False)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session", name="podman_engine")
def podman_engine_fixture():
    if not shutil.which("podman"):
        pytest.fail("podman is not installed (make deps installs it)", pytrace=False)
    engine = PodmanEngine(tempfile.mkdtemp(prefix="lbp-"))
    try:
        engine.start()
        yield engine
    finally:
        engine.stop()
