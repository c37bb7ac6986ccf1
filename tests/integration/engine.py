"""A private Docker Engine for the container_veth tests (session-scoped fixture ``docker_engine``).

dockerd runs in the root network namespace but with no networking of its own
(``--bridge=none --iptables=false --ip6tables=false --ip-forward=false``), every state directory
under one temporary directory, and only ``--network none`` containers (or ``container:X`` ones that
join such a container's namespace), so it changes nothing in the root namespace. Teardown removes the containers, stops dockerd (and its containerd), unmounts
whatever is left under its directories and deletes them.
"""
import importlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid

import pytest
from helpers import lab_package

images = lab_package().images
api_ping = importlib.import_module("lanbridge_lab._proc").api_ping
SLEEPER = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]


class EngineCli:
    """What the Docker and Podman test engines share: their CLI against the engine's socket
    (``cli``: ``_argv`` and ``_env`` say how), test containers and their PIDs."""

    NAME = None

    def __init__(self, root):
        self.root = root
        self.proc = None
        self.containers = []

    def cli(self, *args, check=True):
        proc = subprocess.run(self._argv(args), env=self._env(), capture_output=True, text=True, check=False,
                              timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError("%s %s failed: %s" % (self.NAME, " ".join(args), proc.stderr.strip()))
        return proc.stdout.strip()

    def start_container(self, name, options):
        """``run -d --name NAME OPTIONS`` of a busybox that sleeps until TERM; ``(name, id)``."""
        name = name or "lbt-%s" % uuid.uuid4().hex[:8]
        cid = self.cli("run", "-d", "--name", name, *options, images.IMAGE, *SLEEPER)
        self.containers.append(name)
        return name, cid

    def pid(self, name):
        return int(self.cli("inspect", "-f", "{{.State.Pid}}", name))

    def spawn(self, argv, log_path, env=None):
        """Start the engine's daemon in a session of its own, its output in ``log_path``. It gets
        SIGTERM when the test run dies before its teardown (``setpriv --pdeathsig``, kept across exec),
        so it stops its containers and exits instead of living on."""
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(["setpriv", "--pdeathsig", "TERM", "--", *argv], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, env=env, start_new_session=True)

    def stop_daemon(self):
        """SIGTERM to the engine, SIGKILL to its session after 30 s."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


def _mounts_under(root):
    out = []
    with open("/proc/self/mounts") as f:
        for line in f:
            mnt = line.split()[1].replace("\\040", " ")
            if mnt == root or mnt.startswith(root + "/"):
                out.append(mnt)
    return out


class DockerEngine(EngineCli):
    NAME = "docker"

    def __init__(self, root):
        super().__init__(root)
        self.sock = os.path.join(root, "d.sock")
        self.url = "unix://" + self.sock

    def start(self):
        os.makedirs(os.path.join(self.root, "data"), exist_ok=True)
        os.makedirs(os.path.join(self.root, "x"), exist_ok=True)
        conf = os.path.join(self.root, "daemon.json")
        with open(conf, "w") as f:
            json.dump({"deprecated-key-path": os.path.join(self.root, "key.json")}, f)
        cmd = ["dockerd", "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false",
               "--ip-masq=false", "--storage-driver=vfs", "--data-root=" + os.path.join(self.root, "data"),
               "--exec-root=" + os.path.join(self.root, "x"), "--pidfile=" + os.path.join(self.root, "d.pid"),
               "-H", self.url, "--config-file=" + conf, "--exec-opt=native.cgroupdriver=cgroupfs",
               "--userland-proxy=false"]
        self.spawn(cmd, os.path.join(self.root, "dockerd.log"))
        deadline = time.monotonic() + 60
        while not api_ping(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                with open(os.path.join(self.root, "dockerd.log")) as f:
                    raise RuntimeError("dockerd did not start: %s" % f.read()[-2000:])
            time.sleep(0.2)
        images.import_image(self.url)

    def _argv(self, args):
        return ["docker", *args]

    def _env(self):
        return dict(os.environ, DOCKER_HOST=self.url)

    docker = EngineCli.cli

    def run(self, name=None, network="none"):
        """Start a busybox container with ``--network none`` (or ``container:X``, which joins X's
        namespace; never ``host``: the root namespace is not the tests'); return ``(name, id)``."""
        if network != "none" and not network.startswith("container:"):
            raise ValueError("test containers use --network none or container:X, not %s" % network)
        return self.start_container(name, ["--network", network])

    def stop(self):
        for name in self.containers:
            self.docker("rm", "-f", name, check=False)
        if self.proc and self.proc.poll() is None:
            self.stop_daemon()
        for _attempt in range(3):
            mounts = _mounts_under(self.root)
            if not mounts:
                break
            for mnt in sorted(mounts, key=len, reverse=True):
                if subprocess.run(["umount", mnt], check=False, capture_output=True).returncode != 0:
                    subprocess.run(["umount", "-l", mnt], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session", name="docker_engine")
def docker_engine_fixture():
    if not shutil.which("dockerd"):
        pytest.fail("dockerd is not installed (make deps installs it)", pytrace=False)
    engine = DockerEngine(tempfile.mkdtemp(prefix="lbd", dir="/run"))
    try:
        engine.start()
        yield engine
    finally:
        engine.stop()
