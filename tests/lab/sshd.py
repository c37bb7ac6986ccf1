"""SSH: the lab's keys, an sshd per bare host, the controller's ssh command.

A bare host's sshd runs in the host's namespace on em1's addresses with the
lab's host key; a booted host runs its own ``ssh.service`` (see booted.py).
The controller namespace ``{P}-ctl`` is where every SSH session starts.
"""

import os
import shutil
import time

from . import _state
from ._const import LabError
from ._proc import ns_exec, run


def ssh_keys(state):
    ssh_dir = _state.mkdir(state, os.path.join(state["state_dir"], "ssh"), 0o700)
    key = os.path.join(ssh_dir, "id_ed25519")
    hostkey = os.path.join(ssh_dir, "host_ed25519")
    for path, comment in ((key, "lanbridge-lab"), (hostkey, "lab-host")):
        if not os.path.exists(path):
            run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
                comment, "-f", path)
    shutil.copyfile(key + ".pub", os.path.join(ssh_dir, "authorized_keys"))
    state["ssh_key"] = key
    _state.save(state)


def start_sshd(state, host):
    h = state["hosts"][host]
    ssh_dir = os.path.dirname(state["ssh_key"])
    conf = os.path.join(h["dir"], "sshd_config")
    with open(conf, "w") as f:
        f.write("\n".join([
            f"ListenAddress {h['address4']}",
            f"ListenAddress {h['address6']}",
            "Port 22",
            f"HostKey {ssh_dir}/host_ed25519",
            f"PidFile {h['sshd_pidfile']}",
            f"AuthorizedKeysFile {ssh_dir}/authorized_keys",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",
            "UseDNS no",
            "MaxSessions 50",
            "MaxStartups 50:30:100",
            "Subsystem sftp /usr/lib/openssh/sftp-server",
            "",
        ]))
    # sshd insists on its privilege separation directory.
    if not os.path.isdir("/run/sshd"):
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    _state.record(state, "processes", {"name": f"sshd {host}", "netns": host,
                                       "pidfile": h["sshd_pidfile"]})
    ns_exec(host, "/usr/sbin/sshd", "-f", conf, "-E",
            os.path.join(h["dir"], "sshd.log"))


def ssh_command(state, host, *cmd):
    """argv that runs ``cmd`` on ``host`` over SSH from the controller."""
    h = state["hosts"][host]
    return ["ip", "netns", "exec", state["netns_of"]["ctl"], "ssh",
            "-i", state["ssh_key"], "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
            "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5",
            f"root@{h['address4']}", *cmd]


def wait_ssh(state, hosts=None, timeout=20):
    for host in hosts or list(state["hosts"]):
        h = state["hosts"][host]
        deadline = time.monotonic() + timeout
        while True:
            res = run(*ssh_command(state, host, "true"), check=False,
                      timeout=15)
            if res.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise LabError(f"ssh to {host} ({h['address4']}) failed: "
                               f"{res.stderr.strip()}")
            time.sleep(0.3)
