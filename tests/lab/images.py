"""A tiny container image for the lab and the module tests, with no registry.

The image is a root filesystem holding the static ``/bin/busybox`` from the
``busybox-static`` package and a symlink per applet, imported with
``docker import`` (or ``podman import``) and tagged ``lanbridge/busybox:lab``.

    from tests.lab import images
    images.import_image("unix:///run/lanbridge-lab/lb/h1/docker.sock")

Standard library only.
"""

import io
import os
import subprocess
import tarfile
import tempfile
import time

IMAGE = "lanbridge/busybox:lab"
BUSYBOX = "/bin/busybox"
# Applets the tests and the lab use; each becomes a symlink to /bin/busybox.
APPLETS = (
    "sh", "ash", "cat", "echo", "ls", "mkdir", "rm", "sleep", "ping", "ping6",
    "ip", "ifconfig", "route", "arp", "arping", "nc", "httpd", "wget", "ps",
    "hostname", "env", "true", "false", "test", "[", "grep", "sed", "awk",
    "head", "tail", "id", "kill", "uname", "date", "sync", "mount", "netstat",
    "udhcpc", "timeout", "tee", "touch", "printf", "seq", "ipneigh",
)
_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
    "etc/group": "root:x:0:\nnogroup:x:65534:\n",
    "etc/hosts": "127.0.0.1 localhost\n",
    "www/index.html": "lanbridge lab\n",
}
_DIRS = ("bin", "etc", "proc", "sys", "dev", "tmp", "root", "www", "var", "run")


def _info(name, kind, mode, size=0, linkname=""):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.size = size
    info.linkname = linkname
    info.mtime = 0  # reproducible: the same busybox gives the same tarball
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def build_rootfs_tar(path, busybox=BUSYBOX):
    """Write a root filesystem tarball for the image to ``path``; return ``path``."""
    if not os.path.isfile(busybox):
        raise FileNotFoundError(
            f"{busybox} not found: install the busybox-static package"
        )
    with tarfile.open(path, "w") as tar:
        for d in _DIRS:
            mode = 0o1777 if d == "tmp" else 0o755
            tar.addfile(_info(d, tarfile.DIRTYPE, mode))
        with open(busybox, "rb") as f:
            data = f.read()
        tar.addfile(_info("bin/busybox", tarfile.REGTYPE, 0o755, len(data)),
                    io.BytesIO(data))
        for applet in APPLETS:
            tar.addfile(_info(f"bin/{applet}", tarfile.SYMTYPE, 0o777,
                              linkname="busybox"))
        for name, text in _FILES.items():
            raw = text.encode()
            tar.addfile(_info(name, tarfile.REGTYPE, 0o644, len(raw)),
                        io.BytesIO(raw))
    return path


def import_image(docker_host=None, tag=IMAGE, cli="docker", timeout=120):
    """Import the busybox image into the engine at ``docker_host``.

    ``docker_host`` is a ``unix://`` URL (``DOCKER_HOST``) for Docker, or the
    ``CONTAINER_HOST`` URL for ``cli="podman"`` (``podman --remote``); None
    means the CLI's default engine. Returns the tag. Does nothing when the
    tag is already present.
    """
    env = dict(os.environ)
    cmd = [cli]
    if cli == "podman":
        if docker_host:
            cmd += ["--url", docker_host]
    elif docker_host:
        env["DOCKER_HOST"] = docker_host
    have = subprocess.run(cmd + ["image", "inspect", tag], check=False,
                          env=env,
                          capture_output=True, timeout=timeout)
    if have.returncode == 0:
        return tag
    with tempfile.TemporaryDirectory(prefix="lanbridge-img-") as tmp:
        tar = build_rootfs_tar(os.path.join(tmp, "rootfs.tar"))
        last = None
        for _attempt in range(3):  # a freshly started engine may still be settling
            res = subprocess.run(
                cmd + ["import", "--change", 'CMD ["/bin/sh"]', tar, tag],
                check=False, env=env, capture_output=True, text=True,
                timeout=timeout)
            if res.returncode == 0:
                return tag
            last = res
            time.sleep(1)
        raise RuntimeError(
            f"{cli} import of {tag} into {docker_host or 'the default engine'} "
            f"failed: {last.stderr.strip()}"
        )
