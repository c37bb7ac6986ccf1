"""Helpers of the tests on booted Debian 13 hosts (``test_hosts_current.py``) and of the side-by-side
measurement (``tests/bench/engine_bridge.py``): commands inside a booted host, ping from the lab's
LAN client, the collection's site.yml with each host's own container list, and the numbers'
summary (median and spread)."""
import glob
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if os.path.join(ROOT, "tests", "lab") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
import lab  # noqa: E402  pylint: disable=wrong-import-position

VENV_BIN = os.path.join(ROOT, ".venv", "bin")
POLL = 0.05
PODMAN_SOCKET = lab.booted.PODMAN_URL


def inside(state, host, *cmd, check=True, timeout=120):
    """``cmd`` run inside the booted system ``host``; the CompletedProcess (``check``: its status is 0)."""
    argv, env = lab.exec_argv(state["state_dir"], host)
    res = subprocess.run(argv + list(cmd), env=env, capture_output=True, text=True, timeout=timeout, check=False)
    assert res.returncode == 0 or not check, "%s: %s: %s%s" % (host, " ".join(cmd), res.stdout, res.stderr)
    return res


def answers(state, address):
    """Whether ``address`` answers one ping from the lab's LAN client within 0.2 s."""
    return lab.ns_exec(state["netns_of"]["client"], "ping", "-c1", "-W0.2", "-q", address, check=False).returncode == 0


def until_answers(state, addresses, limit, since=None):
    """Seconds from ``since`` (default: now) until every address of ``addresses`` answers; None after ``limit``."""
    t0 = time.monotonic() if since is None else since
    left = set(addresses)
    while time.monotonic() - t0 < limit:
        left = set(a for a in left if not answers(state, a))
        if not left:
            return time.monotonic() - t0
        time.sleep(POLL)
    return None


def container_address(i, j):
    """The LAN address of container ``app{j}`` on lab host ``i`` (as agent_lab numbers them)."""
    return "%s%d" % (lab.LAN4, 100 + 10 * i + j)


def docker_entries(state, host):
    """The container_lan entries of ``host``'s lab containers (Docker, the inventory's socket)."""
    h = state["hosts"][host]
    return [{"container": name, "addresses": ["%s/24" % container_address(h["index"], j)]}
            for j, name in enumerate(h["containers"], start=1)]


def site(state, interfaces, limit=None):
    """The collection's site.yml (every host of a batch at once) with ``interfaces``: ``{host: [entry]}``.

    Returns ``(returncode, {host: changed}, output)``; the output is the run's last 8000 characters.
    """
    variables = {"container_lan_uplink": "em1", "container_lan_bridge": "br0", "container_lan_rollback_timeout": 10,
                 "container_lan_serial": "100%", "lanbridge_test_interfaces": interfaces,
                 "container_lan_interfaces": "{{ lanbridge_test_interfaces[inventory_hostname] }}"}
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_HOST_KEY_CHECKING="false", ANSIBLE_FORKS="10",
               PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    argv = [os.path.join(VENV_BIN, "ansible-playbook"), "-i", state["inventory"], "-e", json.dumps(variables),
            "lanbridge.core.site"] + (["--limit", ",".join(limit)] if limit else [])
    res = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=900, check=False)
    recap = res.stdout.rsplit("PLAY RECAP", 1)[-1]
    changed = dict((line.split()[0], int(line.split("changed=")[1].split()[0]))
                   for line in recap.splitlines() if "changed=" in line)
    return res.returncode, changed, (res.stdout + res.stderr)[-8000:]


def close_ssh_masters(state):
    """End Ansible's SSH master connections (``ControlPersist``) to the lab's hosts while the hosts are up.

    A reboot of a networkd DHCP host on Debian 13 with such a connection open leaves the host's old
    namespace (and its switch port) alive for longer than the lab waits: networkd drops the leased
    address at shutdown before sshd's socket has closed, and the orphaned socket keeps the namespace.
    """
    for path in glob.glob(os.path.join(state["run_dir"], "cp-*")):
        subprocess.run(["ssh", "-o", "ControlPath=" + path, "-O", "exit", "lab"], capture_output=True, timeout=30,
                       check=False)


def summary(values):
    """``{n, failed, median, min, max}`` of seconds (a None value counts as failed), rounded to ms."""
    got = [v for v in values if v is not None]
    out = {"n": len(values), "failed": len(values) - len(got)}
    if got:
        out.update(median=round(statistics.median(got), 3), min=round(min(got), 3), max=round(max(got), 3))
    return out
