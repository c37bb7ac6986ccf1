"""The state file: everything is recorded before it is created.

``state.json`` in the state directory lists every namespace, dir, mount,
process and cgroup the lab made, so ``down`` removes exactly those, also
after a crashed ``up``.
"""

import fcntl
import json
import os
import threading

from ._const import DEFAULT_STATE_DIR
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
             "rmdir_if_empty")


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
