# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Entering and leaving network namespaces (standard library only).

``open_netns(path)`` -> a file descriptor of the namespace at ``path`` (``/run/netns/x``,
    ``/proc/PID/ns/net``); a missing namespace is an error, never created.
``in_netns(path)`` (context manager): run the block inside that namespace (``None``: stay here)
    and always come back, also on errors. Sockets keep the namespace they were opened in, so a
    socket opened inside the block serves that namespace after it.

``netns_fd_problem(fd)`` -> ``None`` when the open ``fd`` is a network namespace, else why not:
    ``NOT_NSFS`` (not a namespace file at all), ``OTHER_NAMESPACE`` (a namespace of another type),
    ``NOT_NETNS`` (a kernel before 4.11 cannot tell the type, and it is not on our nsfs).
    The file is only inspected (``fstatfs``: ``NSFS_MAGIC``; ``ioctl``: ``NS_GET_NSTYPE``), never entered.

``setns(2)`` acts on the calling thread only; it is ``os.setns`` on Python 3.12 and later and
libc's ``setns`` through ctypes before (what pyroute2's ``pushns`` does too, for 0.5 ms less).
``in_init_netns()`` whether this process runs in init's network namespace.
``netns_instance()`` -> ``{'inode', 'cookie', 'boot_id'}`` of the namespace this thread is in: the
    nsfs inode (reused once the namespace is gone), the namespace cookie (``SO_NETNS_COOKIE``, Linux
    5.14 and later: never handed out twice while the machine is up; None on older kernels) and the
    boot ID (``/proc/sys/kernel/random/boot_id``).
"""

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import os
import socket
import struct

from ansible_collections.lanbridge.core.plugins.module_utils._errors import KernelError


CLONE_NEWNET = 0x40000000
NSFS_MAGIC = 0x6E736673
NS_GET_NSTYPE = 0xB703  # _IO(0xb7, 0x3)
SELF_NETNS = "/proc/self/ns/net"
CURRENT_NETNS = "/proc/thread-self/ns/net" if os.path.exists("/proc/thread-self/ns/net") else SELF_NETNS
SO_NETNS_COOKIE = 71  # at SOL_SOCKET, Linux 5.14 and later
BOOT_ID = "/proc/sys/kernel/random/boot_id"
NOT_NSFS = "not a namespace file"
OTHER_NAMESPACE = "a namespace, but not a network namespace"
NOT_NETNS = "not a network namespace"
_LIBC = []


def _libc():
    """libc through ctypes, loaded once (``setns`` before Python 3.12, ``fstatfs``)."""
    if not _LIBC:
        _LIBC.append(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True))
    return _LIBC[0]


def _check_libc(result):
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


def _setns(fd):
    if hasattr(os, "setns"):
        os.setns(fd, CLONE_NEWNET)  # pylint: disable=no-member
        return
    _check_libc(_libc().setns(fd, CLONE_NEWNET))


def fstatfs_type(fd):
    """``f_type`` of the file system ``fd`` is on (libc ``fstatfs``: ``os.statvfs`` has no type)."""
    buf = ctypes.create_string_buffer(512)  # struct statfs is 120 bytes on 64-bit Linux; f_type comes first
    _check_libc(_libc().fstatfs(fd, buf))
    return ctypes.c_ulong.from_buffer(buf).value & 0xFFFFFFFF


def netns_fd_problem(fd):
    """``None`` when ``fd`` is a network namespace (on nsfs, of type ``CLONE_NEWNET``), else why not
    (``NOT_NSFS``, ``OTHER_NAMESPACE``, ``NOT_NETNS``). Raises ``OSError`` when it cannot be told."""
    if fstatfs_type(fd) != NSFS_MAGIC:
        return NOT_NSFS
    try:
        nstype = fcntl.ioctl(fd, NS_GET_NSTYPE)
    except OSError as exc:
        if exc.errno not in (errno.ENOTTY, errno.EINVAL):
            raise
        # a kernel before 4.11: nsfs at least (checked above), on the same device as our own namespace
        return None if os.fstat(fd).st_dev == os.stat(SELF_NETNS).st_dev else NOT_NETNS
    return None if nstype == CLONE_NEWNET else OTHER_NAMESPACE


def open_netns(path):
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise KernelError("network namespace %s cannot be opened: [%d] %s" % (path, exc.errno, exc.strerror),
                          exc.errno) from exc


def _own_netns():
    return os.open(CURRENT_NETNS, os.O_RDONLY | os.O_CLOEXEC)


@contextlib.contextmanager
def in_netns(path):
    """Run the block inside the network namespace at ``path`` (``None``: here), then come back."""
    if path is None:
        yield
        return
    target = open_netns(path)
    home = _own_netns()
    try:
        try:
            _setns(target)
        except OSError as exc:
            raise KernelError("failed to enter network namespace %s: [%d] %s" % (path, exc.errno, exc.strerror),
                              exc.errno) from exc
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(home)  # coming back cannot fail: home is where this thread was a moment ago
    finally:
        os.close(home)


def in_init_netns():
    """Whether this process shares init's network namespace, the only one the host's network manager
    and its systemd services act in. False where that cannot be told (init's namespace unreadable):
    a module run in another namespace must never take the host's manager or services for its own."""
    try:
        return os.stat("/proc/self/ns/net").st_ino == os.stat("/proc/1/ns/net").st_ino
    except OSError:
        return False


def netns_cookie():
    """The cookie of the network namespace this thread is in (a socket made here belongs to it), or
    None where the kernel has no ``SO_NETNS_COOKIE``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            return struct.unpack("=Q", sock.getsockopt(socket.SOL_SOCKET, SO_NETNS_COOKIE, 8))[0]
        except OSError as exc:
            if exc.errno in (errno.ENOPROTOOPT, errno.EINVAL):
                return None
            raise


def netns_instance():
    with open(BOOT_ID) as handle:
        boot_id = handle.read().strip()
    return {"inode": os.stat(CURRENT_NETNS).st_ino, "cookie": netns_cookie(), "boot_id": boot_id}
