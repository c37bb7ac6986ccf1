# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``host_bridge``'s side of persistence: who owns the uplink, what to write, and the steps that
write it and let the manager take the bridge over, each with its undo (``_persist`` renders).

``persisted_by(bridge)`` -> the manager whose files this collection wrote for ``bridge``, or None.
``detect(uplink, ifindex, mac)`` -> the manager that owns the uplink (``_persist.owner``), or None;
    ``ValueError`` when two claim it.
``for_change(want, facts, plan, warn)`` what persisting a host_bridge plan means here (the option
    ``persist``, the owner found), or None; ``persist: none`` on an uplink NetworkManager manages is
    refused, on one another manager configures warned about. ``check_leases(...)`` refuses a lease
    nobody would renew.
``plan_files(manager, bridge, uplink, facts_after, state)`` -> ``{'manager', 'files', 'steps', 'warnings',
    'before', 'after'}``: the file steps (``write_file`` / ``rename_file`` / ``remove_file``, undo
    computed from what is on disk now), the manager's activation (``run`` steps), and the files'
    text before and after (the diff). ``state`` is ``present`` or ``absent``. The model gets the planned
    bridge's MAC, MTU, STP and forward delay, and for DHCP the uplink's client identity (networkd's
    lease files ``/run/systemd/netif/leases/IFINDEX`` of the uplink and the bridge give its IAID).
``execute(step)`` performs a file or command step (the apply executor sends netlink steps elsewhere).

How the steps are ordered with the kernel's (``order``): a first step that does nothing but whose
undo re-reads the manager's configuration, then the file steps, then the kernel's steps, then the
activation. So a rollback puts the kernel back first, then the files, and only then lets the
manager read its old configuration, which by then agrees with the kernel.
"""

import glob
import os
import re
import shutil
import subprocess
import tempfile

from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.facts import view
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netns import in_init_netns  # noqa: F401  (also for callers)
from ansible_collections.lanbridge.core.plugins.module_utils._persist import common, ifupdown, netplan, networkd, networkmanager
from ansible_collections.lanbridge.core.plugins.module_utils._persist import owner as owners
from ansible_collections.lanbridge.core.plugins.module_utils._persist.model import model_from
from ansible_collections.lanbridge.core.plugins.module_utils._transaction import step
from ansible_collections.lanbridge.core.plugins.module_utils._errors import PersistError

RENDERERS = {"networkd": networkd, "ifupdown": ifupdown, "networkmanager": networkmanager, "netplan": netplan}
NMCLI_DEVICES = ["nmcli", "-t", "-f", "DEVICE,STATE,CONNECTION", "device"]


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def _command(argv, what):
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PersistError("%s: %s failed: %s" % (what, " ".join(argv), exc)) from exc
    if proc.returncode != 0:
        raise PersistError("%s: %s failed (%d): %s" % (what, " ".join(argv), proc.returncode,
                                                       (proc.stderr or proc.stdout).strip()))
    return proc.stdout


def _nmcli_devices():
    try:
        proc = subprocess.run(NMCLI_DEVICES, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def detect(uplink, ifindex, mac):
    """The manager entry (``{'manager', 'evidence', ...}``) that owns ``uplink``, or None."""
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
    """The manager whose configuration this collection wrote for ``bridge`` (its own marked files on
    disk), or None. A bridge a manager brought back at boot carries no label: this says it is ours."""
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


def _files_matching(pattern):
    """``{path: text}`` of the regular files that ``pattern`` (a path or a glob) names."""
    found = {}
    for path in sorted(glob.glob(pattern)) if any(c in pattern for c in "*?[") else [pattern]:
        text = _read(path)
        if text is not None and os.path.isfile(path):
            found[path] = text
    return found


def read_files(renderer, model, files_matching=_files_matching):
    """``{path: text}`` of everything ``renderer`` reads (ifupdown's ``source`` lines followed), until
    what it asks for no longer changes; ``files_matching(pattern)`` reads the file system."""
    current, wanted = {}, None
    while True:
        patterns = renderer.reads(model, current)
        if patterns == wanted:
            return current
        wanted = patterns
        for pattern in patterns:
            current.update(files_matching(pattern))


def _mode(path):
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return None


def file_steps(the_plan, current):
    """The plan's moves, writes and removes as steps, each undone from what is on disk now."""
    out = []
    for src, dst in the_plan["moves"]:
        back = step("rename_file", "put back %s" % src, src=dst, dst=src)
        out.append(step("rename_file", "move %s aside to %s" % (src, dst), undo=[back], src=src, dst=dst))
    moved = dict((dst, current.get(src)) for src, dst in the_plan["moves"])
    for path, spec in sorted(the_plan["files"].items()):
        previous = moved.get(path, current.get(path))
        mode = spec["mode"] if spec["mode"] is not None else (_mode(path) or 0o644)
        if previous == spec["content"] and _mode(path) in (None, mode):
            continue
        undo = ([step("write_file", "write back %s" % path, path=path, content=previous, mode=_mode(path) or mode)]
                if previous is not None else [step("remove_file", "remove %s" % path, path=path)])
        out.append(step("write_file", "write %s" % path, undo=undo, path=path, content=spec["content"], mode=mode))
    for path in the_plan["removes"]:
        if path in current:
            out.append(step("remove_file", "remove %s" % path, undo=[step("write_file", "write back %s" % path, path=path,
                                                                          content=current[path], mode=_mode(path) or 0o644)],
                            path=path))
    return out


def _admin_nm_profile(current, uplink, mac):
    """The id of the administrator's profile for the uplink (to bring it back), or None."""
    for _path, sections in sorted(networkmanager.profiles_for(current, uplink, mac).items()):
        name = common.ini_value(sections, "connection", "id")
        if name:
            return name
    return None


def activation(manager, model, state, current, touched=()):
    """``(first, last)``: the step whose undo makes the manager re-read its (old) configuration, and
    the steps that make it read the new one and take the bridge over. ``touched``: the paths the file
    steps change (NetworkManager reads its ``conf.d`` only on ``nmcli general reload conf``)."""
    if manager == "networkd":
        reload_ = step("run", "networkctl reload", argv=["networkctl", "reload"])
        # the uplink went through link changes while networkd still had the other configuration
        # (a port of a bridge that is going away fails to be enslaved): configure it afresh
        again = step("run", "networkctl reconfigure %s" % model["uplink"], argv=["networkctl", "reconfigure", model["uplink"]])
        back = [reload_, again]
        return step("noop", "systemd-networkd will read its files again", undo=back), back if state == "absent" else [reload_]
    if manager == "networkmanager":
        reload_ = step("run", "nmcli connection reload", argv=["nmcli", "connection", "reload"])
        if networkmanager.CONF in touched:  # the veths' unmanaged-devices: NetworkManager.conf is read at start only
            reload_ = [step("run", "nmcli general reload conf", argv=["nmcli", "general", "reload", "conf"]), reload_]
        else:
            reload_ = [reload_]
        back = list(reload_)
        admin = _admin_nm_profile(current, model["uplink"], model["mac"])
        if admin:
            back.append(step("run", "nmcli connection up %s" % admin, argv=["nmcli", "connection", "up", "id", admin]))
        ups = list(reload_)
        if state == "present":
            ups.append(step("run", "nmcli connection up lanbridge-%s" % model["bridge"],
                            argv=["nmcli", "connection", "up", "id", "lanbridge-%s" % model["bridge"]]))
        return step("noop", "NetworkManager will read its profiles again", undo=back), ups
    if manager == "netplan":
        apply_ = [step("run", "netplan generate", argv=["netplan", "generate"]),
                  step("run", "netplan apply", argv=["netplan", "apply"])]
        return step("noop", "netplan will apply its files again", undo=apply_), apply_
    return None, []  # ifupdown reads its files at the next boot and ifup: nothing runs now


def _validate(manager, the_plan, current):
    """Check what is about to be written with the manager's own parser, where it offers one that
    touches nothing: ``nmcli --offline`` reads each keyfile (NetworkManager 1.40 and later),
    ``netplan generate --root-dir`` the whole netplan directory in a scratch root. ``PersistError``
    names the file and the tool's answer; nothing has changed then."""
    if manager == "networkmanager" and shutil.which("nmcli"):
        for path, spec in sorted(the_plan["files"].items()):
            if not path.endswith(".nmconnection"):
                continue
            sections = common.ini_parse(spec["content"])
            name = common.ini_value(sections, "connection", "id") or "lanbridge"
            proc = subprocess.run(["nmcli", "--offline", "connection", "modify", "connection.id", name],
                                  input=spec["content"], capture_output=True, text=True, timeout=30, check=False)
            if proc.returncode != 0 and "--offline" not in (proc.stderr or ""):
                raise PersistError("persist networkmanager: NetworkManager does not accept %s: %s"
                                   % (path, (proc.stderr or proc.stdout).strip()))
    if manager == "netplan" and shutil.which("netplan"):
        root = tempfile.mkdtemp(prefix="lanbridge-netplan-")
        try:
            files = common.simulate(dict((p, t) for p, t in current.items() if p.startswith(netplan.ETC + "/")), the_plan)
            os.makedirs(os.path.join(root, netplan.ETC.lstrip("/")), mode=0o700)
            for path, text in files.items():
                if path.startswith(netplan.ETC + "/") and path.endswith(".yaml"):
                    with open(os.path.join(root, path.lstrip("/")), "w") as handle:
                        handle.write(text)
            proc = subprocess.run(["netplan", "generate", "--root-dir", root], capture_output=True, text=True,
                                  timeout=60, check=False)
            if proc.returncode != 0:
                raise PersistError("persist netplan: netplan generate refuses the files: %s"
                                   % (proc.stderr or proc.stdout).strip())
        finally:
            shutil.rmtree(root, ignore_errors=True)


LEASES = "/run/systemd/netif/leases/%d"


def _networkd_leases(facts_after, *names):
    """The texts of networkd's lease files of ``names`` (those that exist)."""
    indexes = [(facts_after["links"].get(n) or {}).get("index") for n in names]
    return [t for t in (_read(LEASES % i) for i in indexes if isinstance(i, int)) if t]


def plan_files(manager, bridge, uplink, facts_after, state):
    renderer = RENDERERS[manager]
    bridge_view = view(facts_after, bridge, uplink)["bridge"]
    link = facts_after["links"].get(uplink) or {}
    mac = (bridge_view.get("mac") or link.get("mac") or "").lower()
    probe_model = model_from(bridge, uplink, mac or "00:00:00:00:00:00", {"ipv4": "off", "ipv6": "off"})
    current = read_files(renderer, probe_model)
    if state == "absent":
        the_plan = renderer.restore(current)
        model = probe_model
    else:
        addressing = owners.addressing_of(manager, uplink, current, mac)
        if manager == "ifupdown" and "dhcp" in addressing.values():
            raise PersistError("persist ifupdown: %s gets its address by DHCP; moving the DHCP client (dhclient) to %s "
                               "is not supported: use persist: none after moving the lease by hand, or systemd-networkd "
                               "or NetworkManager" % (uplink, bridge))
        identity, warnings = None, []
        if addressing.get("ipv4") == "dhcp":
            leases = _networkd_leases(facts_after, uplink, bridge) if manager in ("networkd", "netplan") else []
            identity, warnings = owners.dhcp_identity_of(manager, bridge, uplink, current, mac, leases)
        model = model_from(bridge, uplink, mac, addressing, bridge_view["addresses"], bridge_view["routes"],
                           mtu=bridge_view.get("mtu"), dhcp=identity, stp=bool(bridge_view.get("stp")),
                           forward_delay=bridge_view.get("forward_delay"))
        the_plan = renderer.render(model, current)
        the_plan["warnings"] = warnings + the_plan["warnings"]
        _validate(manager, the_plan, current)
    files = file_steps(the_plan, current)
    after = common.simulate(current, the_plan)
    touched = sorted(set(p for p in list(current) + list(after) if current.get(p) != after.get(p)))
    first, last = activation(manager, model, state, current, touched)
    return {
        "manager": manager, "files": touched, "warnings": list(the_plan.get("warnings") or []),
        "first": [first] if files and first else [], "file_steps": files, "last": last if files else [],
        "before": dict((p, current.get(p)) for p in touched), "after": dict((p, after.get(p)) for p in touched),
    }


def for_change(want, facts, plan, warn):
    """What persisting the change means on this host (``_host_bridge.persist.plan``), or None."""
    uplink = plan["uplink"]
    if not uplink or uplink not in facts["links"]:
        return None
    link = facts["links"][uplink]
    if want["persist"] == "none":
        _unpersisted(want, uplink, link, plan, warn)
        return None
    manager = want["persist"]
    if not in_init_netns():
        if manager == "auto" and not plan["steps"]:
            return None  # nothing changes, nothing to persist: no warning on every no-op run
        if manager != "auto":
            raise PersistError("persist %s: host_bridge runs in a network namespace that is not init's, which no "
                               "network manager of this host configures; use persist: none (or auto)" % manager)
        warn("persist auto: host_bridge runs in a network namespace that is not init's; nothing is persisted")
        return None
    if manager == "auto":
        try:
            found = detect(uplink, link["index"], link["mac"])
        except ValueError as exc:
            raise PersistError("persist auto: %s" % exc) from None
        if found is None:
            if not plan["steps"]:
                return None
            warn("persist auto: no network manager (systemd-networkd, NetworkManager, ifupdown, netplan) "
                 "configures %s; nothing is persisted: %s lives in the running kernel only and is gone "
                 "after a reboot" % (uplink, want["name"]))
            return None
        manager = found["manager"]
    return plan_files(manager, want["name"], uplink, plan["facts_after"], want["state"])


def _unpersisted(want, uplink, link, plan, warn):
    """``persist: none`` while a manager owns the uplink: NetworkManager is refused (its view of the
    uplink and the kernel's would disagree, and it puts its configuration back), the others warned about."""
    if want["state"] != "present" or not plan["steps"] or not in_init_netns():
        return
    try:
        found = detect(uplink, link["index"], link["mac"])
    except ValueError:
        return  # two claimants: said by persist auto; none asks for no persistence
    if found is None:
        return
    if found["manager"] == "networkmanager":
        raise PersistError("persist none: NetworkManager manages %s (%s): after the move its view of %s and the kernel's "
                           "would disagree, and it puts %s's addresses back when it activates the device again; use "
                           "persist: auto (or networkmanager), or make %s unmanaged first"
                           % (uplink, found["evidence"], uplink, uplink, uplink))
    manager = owners.NAMES[found["manager"]]
    warn("persist none: %s configures %s (%s): %s lives in the running kernel only, and %s may put %s's addresses back on "
         "%s (a port of %s) at the next carrier change or reboot"
         % (manager, uplink, found["evidence"], want["name"], manager, uplink, uplink, want["name"]))


def check_leases(want, facts, plan, persisted):
    """Refuse to carry an address with a lease into a bridge that nobody renews it on."""
    if persisted is not None or want["state"] != "present":
        return
    leased = [a for a in facts["addresses"] if a["ifname"] == plan["uplink"] and a.get("valid_lft") is not None
              and "%s/%s" % (a["address"], a["prefixlen"]) in plan["migrated"]["addresses"]]
    if leased:
        raise PersistError("%s/%s on %s is leased (valid for %d more seconds, from DHCP or router advertisements): on "
                           "%s nobody would renew it and the host would lose it; persist the bridge through the "
                           "network manager that runs the DHCP client (persist: auto or its name)"
                           % (leased[0]["address"], leased[0]["prefixlen"], plan["uplink"], leased[0]["valid_lft"],
                              want["name"]))


def order(persisted, kernel_steps):
    """All steps of the change, in the order the module docstring explains."""
    if not persisted:
        return list(kernel_steps)
    return persisted["first"] + persisted["file_steps"] + list(kernel_steps) + persisted["last"]


FILE_OPS = ("write_file", "rename_file", "remove_file", "run", "noop")


def execute(item):
    op, args = item["op"], item["args"]
    if op == "noop":
        return
    if op == "run":
        _command(args["argv"], item["text"])
        return
    try:
        if op == "rename_file":
            os.rename(args["src"], args["dst"])
        elif op == "remove_file":
            if os.path.lexists(args["path"]):
                os.unlink(args["path"])
            parent = os.path.dirname(args["path"])
            if parent.endswith(".network.d") and os.path.isdir(parent) and not os.listdir(parent):
                os.rmdir(parent)  # a drop-in directory written for us (netplan's IAID)
        elif op == "write_file":
            if not os.path.isdir(os.path.dirname(args["path"])):
                os.makedirs(os.path.dirname(args["path"]), mode=0o755)
            tmp = "%s.lanbridge-new" % args["path"]
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, args["mode"])
            try:
                os.write(fd, args["content"].encode("utf-8"))
                os.fchmod(fd, args["mode"])
                os.fsync(fd)
            finally:
                os.close(fd)
            os.rename(tmp, args["path"])
    except OSError as exc:
        raise PersistError("failed to %s: %s" % (item["text"], exc.strerror or exc)) from exc
