"""Process, namespace, mount and cgroup helpers (standard library only).

Everything that changes networking goes through ``ip -n NS`` or
``ip netns exec NS`` on a lab namespace (``<prefix>-<role>``); functions that
would act on the calling process's own namespace call
``assert_not_root_netns()`` first.
"""

import contextlib
import http.client
import os
import shlex
import signal
import socket
import subprocess
import time

from ._const import CGROUP_ROOT, LabError


def run(*cmd, check=True, timeout=60, env=None, input=None, text=True):
    """Run a command (never through a shell); return CompletedProcess."""
    cmd = [str(c) for c in cmd]
    try:
        res = subprocess.run(cmd, capture_output=True, text=text,
                             timeout=timeout, env=env, input=input,
                             check=False)
    except subprocess.TimeoutExpired as e:
        raise LabError(f"timed out after {timeout}s: {shlex.join(cmd)}") from e
    if check and res.returncode != 0:
        err = res.stderr or res.stdout
        if isinstance(err, bytes):
            err = err.decode(errors="replace")
        raise LabError(f"failed ({res.returncode}): {shlex.join(cmd)}: "
                       f"{err.strip()}")
    return res


def ns_inode(path):
    return os.stat(path).st_ino


def root_netns_inode():
    """Inode of the root network namespace.

    That is PID 1's; where PID 1's ``/proc/1/ns`` is unreadable (a sandboxed
    init), kthreadd's (PID 2): kernel threads always live in the root one.
    """
    try:
        return ns_inode("/proc/1/ns/net")
    except PermissionError:
        with open("/proc/2/comm") as f:
            if f.read().strip() != "kthreadd":
                raise
        return ns_inode("/proc/2/ns/net")


def assert_not_root_netns():
    """Refuse to go on when the calling process is in the root namespace.

    Every code path that would act on the *current* namespace calls this
    first; the lab itself only ever acts through ``ip -n`` / ``ip netns exec``.
    """
    if ns_inode("/proc/self/ns/net") == root_netns_inode():
        raise LabError("refusing to change networking in the root network "
                       "namespace")


def check_ns(ns):
    # Every namespace the lab touches is one of its own: "<prefix>-<role>".
    if not ns or "-" not in ns or "/" in ns:
        raise LabError(f"not a lab namespace: {ns!r}")


def ip(ns, *args, check=True):
    """``ip -n NS ARGS``: change or read networking inside NS only."""
    check_ns(ns)
    return run("ip", "-n", ns, *args, check=check)


def ns_exec(ns, *cmd, check=True, timeout=60, input=None):
    """Run ``cmd`` inside the lab namespace ``ns`` (``ip netns exec``)."""
    check_ns(ns)
    return run("ip", "netns", "exec", ns, *cmd, check=check,
               timeout=timeout, input=input)


def netns_exists(ns):
    return os.path.exists(f"/run/netns/{ns}")


def netns_pids(ns):
    if not netns_exists(ns):
        return []
    res = run("ip", "netns", "pids", ns, check=False)
    return [int(p) for p in res.stdout.split() if p.strip().isdigit()]


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive for our purposes
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def pid_netns_inode(pid):
    try:
        return ns_inode(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def read_pid(pidfile):
    try:
        with open(pidfile) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def kill_wait(pids, sig=signal.SIGTERM, timeout=15.0):
    """Signal pids, wait until they are gone, SIGKILL what is left."""
    pids = [p for p in pids if p and p > 1 and p != os.getpid()]
    for p in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = [p for p in pids if pid_alive(p)]
        if not pids:
            return
        time.sleep(0.1)
    for p in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.05)


def mounts_under(roots):
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mnt = line.split()[4].replace("\\040", " ")
            if any(mnt == r or mnt.startswith(r + "/") for r in roots):
                out.append(mnt)
    return out


def umount_under(roots):
    """Unmount everything mounted at or below ``roots``, deepest first."""
    for _attempt in range(3):
        mounts = mounts_under(roots)
        if not mounts:
            break
        for mnt in sorted(mounts, key=len, reverse=True):
            if run("umount", mnt, check=False).returncode != 0:
                run("umount", "-l", mnt, check=False)


def cgroup_dirs(cgroup_parent):
    rel = cgroup_parent.strip("/")
    out = []
    with contextlib.suppress(OSError):
        for ctl in sorted(os.listdir(CGROUP_ROOT)):
            path = os.path.join(CGROUP_ROOT, ctl, rel)
            if os.path.isdir(path):
                out.append(path)
    return out


def kill_cgroup(parent):
    """SIGKILL every process below the cgroup ``parent`` (all hierarchies), remove it."""
    dirs = cgroup_dirs(parent)
    for _attempt in range(3):
        pids = set()
        for d in dirs:
            for root, _sub, files in os.walk(d):
                if "cgroup.procs" in files:
                    with contextlib.suppress(OSError), \
                            open(os.path.join(root, "cgroup.procs")) as f:
                        pids.update(int(p) for p in f.read().split())
        if not pids:
            break
        kill_wait(sorted(pids), signal.SIGKILL, timeout=5)
    for d in dirs:
        for root, subdirs, _files in os.walk(d, topdown=False):
            for s in subdirs:
                with contextlib.suppress(OSError):
                    os.rmdir(os.path.join(root, s))
        with contextlib.suppress(OSError):
            os.rmdir(d)


def children(pid):
    """The direct children of ``pid`` (empty when it is gone)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def api_ping(sock, timeout=1.0):
    """GET /_ping on the Docker Engine API socket ``sock`` (Docker or Podman)."""
    conn = http.client.HTTPConnection("localhost", timeout=timeout)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock)
        conn.sock = s
        conn.request("GET", "/_ping")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()
