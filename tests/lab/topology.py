"""The LAN: namespaces, the switch ``sw0`` and the veth cables.

Nothing is ever created in the root network namespace: every veth pair is
created inside ``{P}-lan`` with its peer placed straight into the target
namespace, and every command that changes networking runs through ``ip -n``
or ``ip netns exec``.
"""

import os
import time

from . import _state
from ._const import (CLIENT4, CLIENT6, CTL4, CTL6, GATEWAY4, GATEWAY6,
                     PLEN4, PLEN6, SWITCH, LabError)
from ._proc import ip, netns_exists, ns_exec, run


def host_names(prefix, n):
    return [f"{prefix}-h{i}" for i in range(1, n + 1)]


def port_of(h):
    """The switch port (in ``{P}-lan``) that host ``h``'s uplink is plugged into."""
    return f"p-h{h['index']}"


def plug(state, ns, ifname, port, addr4=None, addr6=None, route=True,
         mac=None, up=True):
    """A veth from sw0 (port ``port`` in {P}-lan) to ``ifname`` in ``ns``."""
    lan = state["lan_netns"]
    peer = ["name", ifname] + (["address", mac] if mac else []) + ["netns", ns]
    ip(lan, "link", "add", port, "type", "veth", "peer", *peer)
    ip(lan, "link", "set", port, "master", SWITCH)
    if mac and os.environ.get("LANBRIDGE_LAB_ONE_MAC") == "1":
        # A port that accepts one MAC (Wi-Fi, hosting): drop frames from any other source MAC
        # before the switch learns it (deleted first: a reboot plugs the same port again).
        rule = ["-t", "nat", "PREROUTING", "-i", port, "-s", "!", mac, "-j", "DROP"]
        ns_exec(lan, "ebtables", *rule[:2], "-D", *rule[2:], check=False)
        ns_exec(lan, "ebtables", *rule[:2], "-A", *rule[2:])
    ip(lan, "link", "set", port, "up")
    if addr4:
        ip(ns, "addr", "add", f"{addr4}/{PLEN4}", "dev", ifname)
    if addr6:
        ip(ns, "-6", "addr", "add", f"{addr6}/{PLEN6}", "dev", ifname,
           "nodad")
    if up:
        ip(ns, "link", "set", ifname, "up")
    if route:
        ip(ns, "route", "add", "default", "via", GATEWAY4, "dev", ifname)
        ip(ns, "-6", "route", "add", "default", "via", GATEWAY6, "dev",
           ifname)


def build_switch(state):
    lan = state["lan_netns"]
    _state.add_netns(state, lan)
    ip(lan, "link", "add", SWITCH, "type", "bridge", "stp_state", "0",
       "forward_delay", "0")
    ip(lan, "link", "set", SWITCH, "up")
    # The switch only bridges: keep its frames out of iptables.
    ns_exec(lan, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0",
            "net.bridge.bridge-nf-call-ip6tables=0", check=False)
    for role, addr4, addr6 in (("gw", GATEWAY4, GATEWAY6),
                               ("client", CLIENT4, CLIENT6),
                               ("ctl", CTL4, CTL6)):
        ns = state["netns_of"][role]
        _state.add_netns(state, ns)
        plug(state, ns, "eth0", f"p-{role}", addr4, addr6,
             route=(role != "gw"))


def delete_netns(state, ns, timeout=30):
    """Delete the lab namespace ``ns`` and wait until its switch cable is gone.

    The kernel destroys a dead namespace's devices asynchronously: the veth's
    switch end disappears a moment after ``ip netns del`` returns.
    """
    if ns not in state["netns"] or ns == state["lan_netns"]:
        raise LabError(f"not a host namespace of this lab: {ns!r}")
    if netns_exists(ns):
        run("ip", "netns", "del", ns)
    port = port_of(state["hosts"][ns]) if ns in state["hosts"] else None
    deadline = time.monotonic() + timeout
    while port and ip(state["lan_netns"], "link", "show", port,
                      check=False).returncode == 0:
        if time.monotonic() > deadline:
            raise LabError(f"switch port {port} still there {timeout}s after "
                           f"deleting namespace {ns}")
        time.sleep(0.1)


def set_port(state, host, up):
    """Set ``host``'s switch port up or down (the cable's far end)."""
    ip(state["lan_netns"], "link", "set", port_of(state["hosts"][host]),
       "up" if up else "down")
