"""The lanbridge lab: a simulated LAN in network namespaces, with real engines.

Topology (P = prefix, default ``lb``)::

    {P}-gw      eth0 198.51.100.254/24 2001:db8:100::fe/64 ──┐
    {P}-client  eth0 198.51.100.250/24 2001:db8:100::fa/64 ──┤
    {P}-ctl     eth0 198.51.100.200/24 2001:db8:100::c8/64 ──┤ sw0 in {P}-lan
    {P}-h{i}    em1  198.51.100.(10+i)/24 2001:db8:100::(10+i in hex)/64 ──┘
                bare: sshd on em1's address, dockerd (docker0, app1..appM),
                      or a Podman service (cni-podman0), or both
                booted: Debian 12 or 13 under systemd-nspawn, its own network
                manager, ssh.service and docker.service

One file per job:

    _const.py     names, addresses, limits, LabError
    _proc.py      processes, namespaces, mounts, cgroups
    _state.py     state.json: everything recorded before it is created
    topology.py   namespaces, the switch, veth cables, switch ports
    sshd.py       keys, a bare host's sshd, the controller's ssh command
    engines.py    a bare host's engine(s); the docker CLI for any host
    podman.py     a bare host's rootful Podman service (--engine podman|both)
    booted.py     booted hosts: disk, install, power on/off, enter
    osimage.py    the booted hosts' images, by release and package set (mmdebstrap, once)
    netplan_site.py  the netplan hosts' administrator's file (also test data)
    dhcp.py       dnsmasq on the switch for DHCP hosts
    inventory.py  the Ansible inventory
    lifecycle.py  up, down, reboot, flap, status, summary
    cli.py        the command line (lab.py, python3 -m lab)
    images.py     the busybox container image (standalone, loadable by path)

Nothing is ever created in the root network namespace. Standard library
only; run as root.
"""

from . import booted, images, osimage, podman
from ._const import (APP_CMD, CGROUP_ROOT, CLIENT4, CLIENT6, CTL4, CTL6,
                     DEFAULT_STATE_DIR, GATEWAY4, GATEWAY6, LAN4, LAN6,
                     MAX_CONTAINERS, MAX_HOSTS, PLEN4, PLEN6, REPO, RUN_ROOT,
                     SWITCH, SWITCH4, UPLINK, LabError)
from ._proc import (assert_not_root_netns, ip, netns_exists, ns_exec,
                    root_netns_inode)
from ._proc import cgroup_dirs as _cgroup_dirs
from ._state import load_state, resolve_state_dir
from .booted import MANAGERS
from .cli import main
from .engines import docker
from .lifecycle import (ENGINES, down, exec_argv, flap, reboot, set_gateway, status,
                        summary, up)
from .podman import cli as podman_cli
from .sshd import ssh_command

IMAGE = images.IMAGE

__all__ = [
    "APP_CMD", "CGROUP_ROOT", "CLIENT4", "CLIENT6", "CTL4", "CTL6",
    "DEFAULT_STATE_DIR", "ENGINES", "GATEWAY4", "GATEWAY6", "IMAGE", "LAN4", "LAN6",
    "MANAGERS", "MAX_CONTAINERS", "MAX_HOSTS", "PLEN4", "PLEN6", "REPO",
    "RUN_ROOT", "SWITCH", "SWITCH4", "UPLINK", "LabError", "_cgroup_dirs",
    "assert_not_root_netns", "booted", "docker", "down", "exec_argv", "flap", "images",
    "ip", "load_state", "main", "netns_exists", "ns_exec", "osimage", "podman", "podman_cli", "reboot",
    "resolve_state_dir", "root_netns_inode", "set_gateway", "ssh_command",
    "status", "summary", "up",
]
