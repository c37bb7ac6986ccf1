"""DHCP on the LAN: dnsmasq (Debian's dnsmasq-base) on the switch.

Runs in ``{P}-lan`` on ``sw0`` (which then gets the address
198.51.100.253/24: dnsmasq serves the subnet of the interface it listens on),
only when some booted host uses DHCP: one fixed lease per host MAC, the lab
gateway as router option, a 2-minute lease so renewals happen within a test,
no DNS (``--port=0``).
"""

import os
import time

from . import _state
from ._const import DHCP_LEASE, GATEWAY4, LAN4, PLEN4, SWITCH, SWITCH4, LabError
from ._proc import ip, ns_exec, pid_alive, read_pid


def needed(state):
    return any(h.get("addressing") == "dhcp" for h in state["hosts"].values())


def start(state):
    lan = state["lan_netns"]
    d = state["dhcp"] = {
        "pidfile": os.path.join(state["run_dir"], "dnsmasq.pid"),
        "leases": os.path.join(state["state_dir"], "dnsmasq.leases"),
        "log": os.path.join(state["state_dir"], "dnsmasq.log"),
    }
    ip(lan, "addr", "add", f"{SWITCH4}/{PLEN4}", "dev", SWITCH)
    cmd = ["dnsmasq", "--conf-file=/dev/null", "--port=0",
           f"--interface={SWITCH}", "--bind-interfaces",
           f"--dhcp-range={LAN4}0,static,255.255.255.0,{DHCP_LEASE}",
           f"--dhcp-option=option:router,{GATEWAY4}",
           "--dhcp-authoritative", f"--dhcp-leasefile={d['leases']}",
           f"--pid-file={d['pidfile']}", "--log-dhcp",
           f"--log-facility={d['log']}", "--user=root", "--group=root"]
    for host, h in state["hosts"].items():
        if h.get("addressing") == "dhcp":
            cmd.append(f"--dhcp-host={h['mac']},{h['address4']},{host},{DHCP_LEASE}")
    _state.record(state, "processes", {"name": "dnsmasq", "netns": lan,
                                       "pidfile": d["pidfile"]})
    ns_exec(lan, *cmd)  # forks into the background once it listens
    deadline = time.monotonic() + 10
    while not (read_pid(d["pidfile"]) and pid_alive(read_pid(d["pidfile"]))):
        if time.monotonic() > deadline:
            raise LabError(f"dnsmasq did not start; see {d['log']}")
        time.sleep(0.1)


def leases(state):
    """{mac: address} from dnsmasq's lease file."""
    out = {}
    try:
        with open(state["dhcp"]["leases"]) as f:
            for line in f:
                words = line.split()
                if len(words) >= 3:
                    out[words[1]] = words[2]
    except (KeyError, OSError):
        pass
    return out
