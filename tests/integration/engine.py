"""A private Docker Engine for the container_veth tests (session-scoped fixture ``docker_engine``).

dockerd runs in the root network namespace but with no networking of its own
(``--bridge=none --iptables=false --ip6tables=false --ip-forward=false``), every state directory
under one temporary directory, and only ``--network none`` containers (or ``container:X`` ones that
join such a container's namespace), so it changes nothing in the root namespace. Teardown removes the containers, stops dockerd (and its containerd), unmounts
whatever is left under its directories and deletes them.
"""
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

try:
    from tests.lab import images
except ImportError:  # pytest run without the checkout on sys.path: load it by path
    import importlib.util
    _spec = importlib.util.spec_from_file_location(
        "lanbridge_lab_images", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lab", "images.py"))
    images = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(images)


def _ping(sock_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(1.0)
    conn = http.client.HTTPConnection("localhost", timeout=1.0)
    try:
        s.connect(sock_path)
        conn.sock = s
        conn.request("GET", "/_ping")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


def _mounts_under(root):
    out = []
    with open("/proc/self/mounts") as f:
        for line in f:
            mnt = line.split()[1].replace("\\040", " ")
            if mnt == root or mnt.startswith(root + "/"):
                out.append(mnt)
    return out


class DockerEngine:
    def __init__(self, root):
        self.root = root
        self.sock = os.path.join(root, "d.sock")
        self.url = "unix://" + self.sock
        self.proc = None
        self.containers = []

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
        log = open(os.path.join(self.root, "dockerd.log"), "ab")  # noqa: SIM115
        with log:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         start_new_session=True)
        deadline = time.monotonic() + 60
        while not _ping(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                with open(os.path.join(self.root, "dockerd.log")) as f:
                    raise RuntimeError("dockerd did not start: %s" % f.read()[-2000:])
            time.sleep(0.2)
        images.import_image(self.url)

    def docker(self, *args, check=True):
        env = dict(os.environ, DOCKER_HOST=self.url)
        proc = subprocess.run(["docker", *args], env=env, capture_output=True, text=True, check=False, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError("docker %s failed: %s" % (" ".join(args), proc.stderr.strip()))
        return proc.stdout.strip()

    def run(self, name=None, network="none"):
        """Start a busybox container with ``--network none`` (or ``container:X``, which joins X's
        namespace; never ``host``: the root namespace is not the tests'); return ``(name, id)``."""
        if network != "none" and not network.startswith("container:"):
            raise ValueError("test containers use --network none or container:X, not %s" % network)
        name = name or "lbt-%s" % uuid.uuid4().hex[:8]
        cid = self.docker("run", "-d", "--name", name, "--network", network, images.IMAGE,
                          "sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done")
        self.containers.append(name)
        return name, cid

    def pid(self, name):
        return int(self.docker("inspect", "-f", "{{.State.Pid}}", name))

    def stop(self):
        for name in self.containers:
            self.docker("rm", "-f", name, check=False)
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
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
        pytest.skip("dockerd is not installed")
    engine = DockerEngine(tempfile.mkdtemp(prefix="lbd", dir="/run"))
    try:
        engine.start()
        yield engine
    finally:
        engine.stop()
