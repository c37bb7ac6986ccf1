"""The booted hosts' operating system: a Debian 12 root filesystem, built once.

``mmdebstrap`` builds it from the machine's own apt sources into a cache
outside the repository (``/var/cache/lanbridge-lab`` or
``$LANBRIDGE_LAB_CACHE``), in a directory keyed by a hash of the package list
and of the customisation recipe, under a lock, unpacked once. Every booted
host mounts it read-only as the lower layer of an overlay whose upper
directory is the host's own disk. ``down`` leaves the cache in place.

The image ships Docker (``docker.io``) but nothing of it runs on this
machine: mmdebstrap installs packages into a directory and starts no service;
docker.service only ever runs inside a booted host.
"""

import contextlib
import errno
import fcntl
import glob
import hashlib
import json
import os
import shutil
import time

from . import images
from ._const import LabError
from ._proc import run

SUITE = "bookworm"
VARIANT = "apt"
PACKAGES = (
    "systemd-sysv", "udev", "dbus", "openssh-server", "python3",
    "python3-pyroute2", "iproute2", "iptables", "ifupdown", "bridge-utils",
    "isc-dhcp-client", "network-manager", "docker.io", "busybox-static",
    "iputils-ping", "procps",
)
# Bump when customise() changes: the cache key changes with it.
RECIPE = 1
SOURCES = "/etc/apt/sources.list.d/debian.sources"
# Inside the image: the lab's container image as a tarball for `docker import`.
IMAGE_TAR = "/usr/local/share/lanbridge-lab/busybox-image.tar"
# Every network manager is off in the image; each host enables exactly one.
MANAGER_UNITS = ("NetworkManager.service", "NetworkManager-wait-online.service",
                 "networking.service", "systemd-networkd.service",
                 "systemd-networkd.socket",
                 "systemd-networkd-wait-online.service")
SSHD_CONF = """\
# lanbridge lab: one host key per host (written at the host's first boot)
HostKey /etc/ssh/ssh_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UseDNS no
MaxSessions 50
MaxStartups 50:30:100
"""


def cache_root():
    return os.environ.get("LANBRIDGE_LAB_CACHE") or "/var/cache/lanbridge-lab"


def image_key():
    spec = {"suite": SUITE, "variant": VARIANT,
            "packages": sorted(PACKAGES), "recipe": RECIPE}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def image_dir():
    return os.path.join(cache_root(), f"debian12-{image_key()}")


def lock_path():
    return image_dir() + ".lock"


def rootfs():
    """The unpacked root filesystem of the current image (may not exist yet)."""
    return os.path.join(image_dir(), "rootfs")


def is_built():
    return os.path.exists(os.path.join(image_dir(), "complete"))


def customise(root):
    """What every booted host shares, applied once to the unpacked image."""
    os.makedirs(os.path.join(root, "etc/docker"), exist_ok=True)
    with open(os.path.join(root, "etc/docker/daemon.json"), "w") as f:
        json.dump({"storage-driver": "vfs"}, f)
        f.write("\n")
    for key in glob.glob(os.path.join(root, "etc/ssh/ssh_host_*")):
        os.remove(key)
    with open(os.path.join(root, "etc/ssh/sshd_config.d/lanbridge-lab.conf"), "w") as f:
        f.write(SSHD_CONF)
    with open(os.path.join(root, "etc/machine-id"), "w"):
        pass  # each host writes its own
    # `systemctl --root` edits the unit symlinks of that directory tree only.
    run("systemctl", f"--root={root}", "disable", *MANAGER_UNITS,
        check=False)
    tar = root + IMAGE_TAR
    os.makedirs(os.path.dirname(tar), exist_ok=True)
    images.build_rootfs_tar(tar, busybox=os.path.join(root, "bin/busybox"))


def _lock(path, timeout):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                os.close(fd)
                raise
        if time.monotonic() > deadline:
            os.close(fd)
            raise LabError(f"the image lock {path} is still held after "
                           f"{timeout}s: another lab is building the image")
        time.sleep(1)


def release_stale_lock(path):
    """Remove ``path`` when it is a build lock that nobody holds (after a crash)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
    except OSError:
        pass  # someone is building right now: theirs
    finally:
        os.close(fd)


def ensure_image(log=print, before_create=None, timeout=1800):
    """Build the image unless it is cached; return the unpacked root.

    ``before_create(path)`` is called with every path this call may leave
    behind after a crash (the lock file, the temporary build dir), before it
    is created, so the caller can record it.
    """
    if is_built():
        return rootfs()
    for tool in ("mmdebstrap", "systemd-nspawn"):
        if not shutil.which(tool):
            raise LabError(f"{tool} is not installed (make deps)")
    os.makedirs(cache_root(), exist_ok=True)
    lock = lock_path()
    tmp = f"{image_dir()}.tmp"
    if before_create:
        before_create(lock)
        before_create(tmp)
    fd = _lock(lock, timeout)
    try:
        if is_built():
            return rootfs()
        t0 = time.monotonic()
        log(f"lab: building the booted hosts' image {image_dir()} "
            "(once; a few minutes)")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(image_dir(), ignore_errors=True)
        os.makedirs(os.path.join(tmp, "rootfs"))
        tar = os.path.join(tmp, "rootfs.tar")
        cmd = ["mmdebstrap", "--quiet", f"--variant={VARIANT}",
               "--include=" + ",".join(PACKAGES), SUITE, tar]
        if os.path.exists(SOURCES):
            cmd.append(SOURCES)
        run(*cmd, timeout=timeout)
        run("tar", "-xpf", tar, "--numeric-owner", "-C",
            os.path.join(tmp, "rootfs"), timeout=600)
        os.remove(tar)
        customise(os.path.join(tmp, "rootfs"))
        with open(os.path.join(tmp, "complete"), "w") as f:
            json.dump({"packages": sorted(PACKAGES), "recipe": RECIPE,
                       "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       "seconds": round(time.monotonic() - t0, 1)}, f)
        os.rename(tmp, image_dir())
        log(f"lab: image built in {time.monotonic() - t0:.0f}s")
        return rootfs()
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(lock)
        os.close(fd)
