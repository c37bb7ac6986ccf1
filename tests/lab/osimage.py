"""The booted hosts' operating systems: Debian root filesystems, each built once.

An image is a release (Debian 12 "bookworm" or Debian 13 "trixie") and a
package set: the release's base packages plus named extras (``netplan``,
``podman``). ``mmdebstrap`` builds it from the machine's own apt sources
(for another release than the machine's, the same file with the suite names
changed) into a cache outside the repository (``/var/cache/lanbridge-lab``
or ``$LANBRIDGE_LAB_CACHE``), in a directory named after the release and
keyed by a hash of the suite, the package list and the customisation recipe,
under a lock, unpacked once. Every booted host mounts its image read-only as
the lower layer of an overlay whose upper directory is the host's own disk.
``down`` leaves the cache in place.

The images ship Docker (``docker.io``) but nothing of it runs on this
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
import re
import shutil
import time
from dataclasses import dataclass

from . import images
from ._const import LabError
from ._proc import run

VARIANT = "apt"
# release -> Debian suite
SUITES = {"12": "bookworm", "13": "trixie"}
RELEASE_ALIASES = {"bookworm": "12", "trixie": "13", "debian12": "12", "debian13": "13"}
DEFAULT_RELEASE = "12"
PACKAGES = (
    "systemd-sysv", "udev", "dbus", "openssh-server", "python3",
    "python3-pyroute2", "iproute2", "iptables", "ifupdown", "bridge-utils",
    "isc-dhcp-client", "network-manager", "docker.io", "busybox-static",
    "iputils-ping", "procps",
)
# Debian 13: systemd-networkd is in systemd; the docker CLI is its own package
# (docker-cli); netplan.io on every host (with no file in /etc/netplan it renders nothing).
PACKAGES_13 = (
    "systemd-sysv", "udev", "dbus", "openssh-server", "python3",
    "python3-pyroute2", "python3-yaml", "iproute2", "iptables",
    "network-manager", "netplan.io", "docker.io", "docker-cli",
    "busybox-static", "iputils-ping", "procps",
)
BASE_PACKAGES = {"12": PACKAGES, "13": PACKAGES_13}
# The extras each release offers: name -> packages added to the base set.
# Podman 5's netavark writes its rules with nft (its default firewall driver on Debian 13).
EXTRAS = {
    "12": {"netplan": ("netplan.io", "python3-yaml")},
    "13": {"podman": ("podman", "netavark", "aardvark-dns", "crun", "nftables")},
}
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
# Podman inside a booted host: vfs (the host's root is an overlay, which overlay storage cannot
# sit on) and no pids limit (the machine's cgroup2 hierarchy has no pids controller to delegate;
# crun refuses a limit it cannot set).
PODMAN_STORAGE = """\
[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
"""
PODMAN_CONTAINERS = """\
[containers]
pids_limit = 0
"""


@dataclass(frozen=True)
class Image:
    """One cached image: a Debian release and the extras added to its base packages."""

    release: str = DEFAULT_RELEASE
    extras: tuple = ()

    @property
    def suite(self):
        return SUITES[self.release]

    @property
    def packages(self):
        extra = [p for name in self.extras for p in EXTRAS[self.release][name]]
        return tuple(sorted(set(BASE_PACKAGES[self.release]) | set(extra)))

    @property
    def name(self):
        return "-".join([f"debian{self.release}", *self.extras])

    def key(self):
        spec = {"suite": self.suite, "variant": VARIANT,
                "packages": list(self.packages), "recipe": RECIPE}
        return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]

    def directory(self):
        return os.path.join(cache_root(), f"{self.name}-{self.key()}")


DEFAULT = Image()


def image_for(release=DEFAULT_RELEASE, extras=()):
    """The Image of ``release`` ("12", "13", "bookworm", "trixie") with ``extras``."""
    release = RELEASE_ALIASES.get(release, release)
    if release not in SUITES:
        raise LabError(f"release {release!r}: one of {', '.join(SUITES)} "
                       f"({', '.join(RELEASE_ALIASES)})")
    bad = [e for e in extras if e not in EXTRAS[release]]
    if bad:
        offered = ", ".join(EXTRAS[release]) or "none"
        raise LabError(f"Debian {release} has no image extra {bad[0]!r} (offered: {offered})")
    return Image(release, tuple(sorted(set(extras))))


def cache_root():
    return os.environ.get("LANBRIDGE_LAB_CACHE") or "/var/cache/lanbridge-lab"


def image_key(image=DEFAULT):
    return image.key()


def image_dir(image=DEFAULT):
    return image.directory()


def lock_path(image=DEFAULT):
    return image_dir(image) + ".lock"


def rootfs(image=DEFAULT):
    """The unpacked root filesystem of ``image`` (may not exist yet)."""
    return os.path.join(image_dir(image), "rootfs")


def is_built(image=DEFAULT):
    return os.path.exists(os.path.join(image_dir(image), "complete"))


def sources_for(image, directory):
    """The apt sources file mmdebstrap reads for ``image``, or None (mmdebstrap's default).

    The machine's own file; for another release, a copy in ``directory``
    with every suite name of the machine's release replaced by the image's.
    """
    if not os.path.exists(SOURCES):
        return None
    with open(SOURCES) as f:
        text = f.read()
    theirs = [s for s in SUITES.values() if re.search(rf"\b{s}\b", text)]
    if theirs == [image.suite] or not theirs:
        return SOURCES
    path = os.path.join(directory, f"{image.suite}.sources")
    with open(path, "w") as f:
        f.write(re.sub(rf"\b{theirs[0]}\b", image.suite, text))
    return path


def customise(root, image=DEFAULT):
    """What every booted host of ``image`` shares, applied once to the unpacked image."""
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
    # `systemctl --root` edits the unit symlinks of that directory tree only; one unit a call,
    # so a unit one release lacks does not keep the others enabled.
    for unit in MANAGER_UNITS:
        run("systemctl", f"--root={root}", "disable", unit, check=False)
    if "podman" in image.extras:
        for name, text in (("storage.conf", PODMAN_STORAGE),
                           ("containers.conf", PODMAN_CONTAINERS)):
            with open(os.path.join(root, "etc/containers", name), "w") as f:
                f.write(text)
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


def ensure_image(log=print, before_create=None, timeout=1800, image=DEFAULT):
    """Build ``image`` unless it is cached; return the unpacked root.

    ``before_create(path)`` is called with every path this call may leave
    behind after a crash (the lock file, the temporary build dir), before it
    is created, so the caller can record it.
    """
    if is_built(image):
        return rootfs(image)
    for tool in ("mmdebstrap", "systemd-nspawn"):
        if not shutil.which(tool):
            raise LabError(f"{tool} is not installed (make deps)")
    os.makedirs(cache_root(), exist_ok=True)
    lock = lock_path(image)
    tmp = f"{image_dir(image)}.tmp"
    if before_create:
        before_create(lock)
        before_create(tmp)
    fd = _lock(lock, timeout)
    try:
        if is_built(image):
            return rootfs(image)
        t0 = time.monotonic()
        log(f"lab: building the booted hosts' image {image_dir(image)} "
            "(once; about a minute)")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(image_dir(image), ignore_errors=True)
        os.makedirs(os.path.join(tmp, "rootfs"))
        tar = os.path.join(tmp, "rootfs.tar")
        cmd = ["mmdebstrap", "--quiet", f"--variant={VARIANT}",
               "--include=" + ",".join(image.packages), image.suite, tar]
        sources = sources_for(image, tmp)
        if sources:
            cmd.append(sources)
        run(*cmd, timeout=timeout)
        run("tar", "-xpf", tar, "--numeric-owner", "-C",
            os.path.join(tmp, "rootfs"), timeout=600)
        os.remove(tar)
        customise(os.path.join(tmp, "rootfs"), image)
        with open(os.path.join(tmp, "complete"), "w") as f:
            json.dump({"suite": image.suite, "packages": list(image.packages), "recipe": RECIPE,
                       "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                       "seconds": round(time.monotonic() - t0, 1)}, f)
        os.rename(tmp, image_dir(image))
        log(f"lab: image built in {time.monotonic() - t0:.0f}s")
        return rootfs(image)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(lock)
        os.close(fd)
