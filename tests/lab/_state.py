"""The state file: everything is recorded before it is created.

``state.json`` in the state directory lists every namespace, dir, mount,
process and cgroup the lab made, so ``down`` removes exactly those, also
after a crashed ``up``.
"""

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


def save(state):
    with lock:
        path = state_path(state["state_dir"])
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)


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
