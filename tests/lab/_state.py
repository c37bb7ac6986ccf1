"""The state file: everything is recorded before it is created.

``state.json`` in the state directory lists every namespace, dir, mount,
process and cgroup the lab made, so ``down`` removes exactly those, also
after a crashed ``up``.

``owner.json`` in the lab's run dir names the state dir and the process the
lab lasts for (pid and start time), so a later ``up`` with the same prefix
can tell a lab in use from one left by a process that is gone.
"""

import fcntl
import json
import os
import threading

from ._const import DEFAULT_STATE_DIR, LabError
from ._proc import ip, run

lock = threading.RLock()


def resolve_state_dir(state_dir=None):
    return os.path.abspath(state_dir or os.environ.get("LANBRIDGE_LAB_DIR")
                           or DEFAULT_STATE_DIR)


def state_path(state_dir):
    return os.path.join(state_dir, "state.json")


def load_state(state_dir=None):
    """The lab's state dict, or None when there is no lab in ``state_dir``."""
    path = state_path(resolve_state_dir(state_dir))
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None


LIST_KEYS = ("netns", "dirs", "processes", "cgroups", "mounts", "files",
             "written", "rmdir_if_empty")


def save(state):
    """Write the state; a state scoped to one host writes back only that host.

    ``reboot`` and ``flap`` load the state and work on one host
    (``state["_scope"]``); several of them may run at once, in threads or
    processes, so their writes merge into what is on disk under a lock on
    the state directory, instead of replacing it.
    """
    with lock:
        path = state_path(state["state_dir"])
        fd = os.open(state["state_dir"], os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            out = {k: v for k, v in state.items() if k != "_scope"}
            scope = state.get("_scope")
            if scope:
                with open(path) as f:
                    disk = json.load(f)
                disk["hosts"][scope] = state["hosts"][scope]
                for key in LIST_KEYS:
                    items = disk.setdefault(key, [])
                    items += [i for i in state.get(key, []) if i not in items]
                out = disk
            tmp = f"{path}.tmp"
            with open(tmp, "w") as f:
                json.dump(out, f, indent=2, sort_keys=True)
                f.write("\n")
            os.replace(tmp, path)
        finally:
            os.close(fd)


def record(state, key, item):
    """Append ``item`` to ``state[key]`` and write the state, before acting."""
    with lock:
        state.setdefault(key, [])
        if item not in state[key]:
            state[key].append(item)
        save(state)


def mkdir(state, path, mode=0o755):
    record(state, "dirs", path)
    os.makedirs(path, mode=mode, exist_ok=True)
    return path


def add_netns(state, ns):
    record(state, "netns", ns)
    run("ip", "netns", "add", ns)
    ip(ns, "link", "set", "lo", "up")


# --------------------------------------------------------------------------
# owner.json: which process the lab lasts for


def owner_path(run_dir):
    return os.path.join(run_dir, "owner.json")


def process_start(pid):
    """Start time of ``pid`` (field 22 of /proc/PID/stat), or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # fields[0] is field 3 (state); a zombie has exited already
    if fields[0] == "Z":
        return None
    return int(fields[19])


def owner_record(pid=None):
    """``{"pid", "start"}`` of the lab's owner process; pid None: no owner."""
    if pid is None:
        return {"pid": None, "start": None}
    start = process_start(pid)
    if start is None:
        raise LabError(f"owner pid {pid}: no such process")
    return {"pid": pid, "start": start}


def write_owner(state, owner):
    """Record, then write ``owner.json`` (``owner_record`` + the state dir)."""
    path = owner_path(state["run_dir"])
    record(state, "written", path)
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump({"state_dir": state["state_dir"], **owner}, f, indent=2,
                  sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def read_owner(run_dir):
    """The owner record of the lab in ``run_dir``, or None (missing, unreadable)."""
    try:
        with open(owner_path(run_dir)) as f:
            owner = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(owner, dict):
        return None
    if not isinstance(owner.get("pid"), int) or isinstance(owner["pid"], bool):
        owner["pid"] = None  # no owner (or one that cannot be checked)
    return owner


def owner_alive(owner):
    """True while the owner's process runs: same pid, same start time (no reuse)."""
    start = process_start(owner["pid"])
    return start is not None and start == owner.get("start")
