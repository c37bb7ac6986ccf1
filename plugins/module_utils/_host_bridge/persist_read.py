# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What persistence reads from this host (read-only; ``_persist`` decides from what it gets here).

``detect(uplink, ifindex, mac)`` -> the manager entry that owns the uplink (``{'manager', 'evidence',
    ...}``, ``_persist.owner.choose``), or None; ``PersistError`` when two claim it. Reads networkd's
    and ifupdown's state under ``/run``, ``nmcli -t -f DEVICE,STATE,CONNECTION device`` (when
    NetworkManager runs) and ``/etc/netplan/*.yaml``.
``persisted_by(bridge)`` -> the manager whose files this collection wrote for ``bridge`` (its own
    marked files on disk), or None.
``read_files(renderer, model, files_matching=files_matching)`` -> ``{path: text}`` of everything
    ``renderer`` reads (``renderer.reads``), ifupdown's ``source`` lines followed.
``modes(paths)`` -> ``{path: permission bits}`` of those that exist.
``networkd_leases(facts, *names)`` -> the texts of networkd's lease files of the links ``names``.
"""

import glob
import os
import re
import subprocess

from ansible_collections.lanbridge.core.plugins.module_utils._persist import common, ifupdown, netplan, networkd, networkmanager
from ansible_collections.lanbridge.core.plugins.module_utils._persist import owner as owners

NMCLI_DEVICES = ["nmcli", "-t", "-f", "DEVICE,STATE,CONNECTION", "device"]
LEASES = "/run/systemd/netif/leases/%d"


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _nmcli_devices():
    try:
        proc = subprocess.run(NMCLI_DEVICES, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def detect(uplink, ifindex, mac):
    nm_running = os.path.exists("/run/NetworkManager/NetworkManager.pid") or os.path.exists("/run/NetworkManager")
    state = {
        "networkd_link": _read("/run/systemd/netif/links/%d" % ifindex),
        "networkd_running": os.path.exists("/run/systemd/netif/state"),
        "nm_devices": _nmcli_devices() if nm_running else None,
        "nm_running": nm_running,
        "ifupdown_state": "\n".join(t for t in (_read("/run/network/ifstate"), _read("/run/network/ifstate.%s" % uplink)) if t)
        or None,
        "netplan": dict((p, _read(p)) for p in sorted(glob.glob("/etc/netplan/*.yaml"))),
        "mac": mac,
    }
    return owners.choose(owners.owners(uplink, ifindex, state))


def persisted_by(bridge):
    """A bridge a manager brought back at boot may carry no label: this says it is ours."""
    marked = (("networkd", "%s/%s%s.netdev" % (networkd.ETC, networkd.PREFIX, bridge)),
              ("networkmanager", "%s/lanbridge-%s.nmconnection" % (networkmanager.CONNECTIONS, bridge)),
              ("netplan", "%s/90-lanbridge-%s.yaml" % (netplan.ETC, bridge)))
    for manager, path in marked:
        if common.is_ours(_read(path)):
            return manager
    interfaces = _read(ifupdown.MAIN)
    if interfaces and os.path.exists(common.saved(ifupdown.MAIN)) and \
            re.search(r"^\s*iface\s+%s\s" % re.escape(bridge), interfaces, re.M):
        return "ifupdown"
    return None


def files_matching(pattern):
    """``{path: text}`` of the regular files that ``pattern`` (a path or a glob) names."""
    found = {}
    for path in sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]:
        text = _read(path)
        if text is not None and os.path.isfile(path):
            found[path] = text
    return found


def read_files(renderer, model, files_matching=files_matching):
    """Read until what ``renderer`` asks for no longer changes; ``files_matching(pattern)`` reads
    the file system."""
    current, wanted = {}, None
    while True:
        patterns = renderer.reads(model, current)
        if patterns == wanted:
            return current
        wanted = patterns
        for pattern in patterns:
            current.update(files_matching(pattern))


def modes(paths):
    found = {}
    for path in paths:
        try:
            found[path] = os.stat(path).st_mode & 0o7777
        except OSError:
            continue
    return found


def networkd_leases(facts, *names):
    indexes = [(facts["links"].get(n) or {}).get("index") for n in names]
    return [t for t in (_read(LEASES % i) for i in indexes if isinstance(i, int)) if t]
