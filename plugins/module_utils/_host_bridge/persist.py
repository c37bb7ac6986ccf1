# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``host_bridge``'s persistence plan: what persisting the change means here, the steps that write
the manager's files and let it take the bridge over, each with its undo (``_persist`` renders;
``persist_read`` reads the host, ``persist_check`` checks the files, ``persist_ops`` performs the steps).

``for_change(want, facts, plan, warn)`` -> what persisting the ``host_bridge`` plan ``plan`` means
    here (the option ``persist``, the owner found), ``plan_files``' answer, or None; ``persist: none``
    on an uplink NetworkManager manages is refused, on one another manager configures warned about.
``check_leases(want, facts, plan, persisted)`` refuses a lease nobody would renew.
``plan_files(manager, bridge, uplink, facts_after, state)`` -> ``{'manager', 'files', 'warnings',
    'first', 'file_steps', 'last', 'before', 'after'}``: ``file_steps`` the renderer's moves, writes and
    removes as ``rename_file`` / ``write_file`` / ``remove_file`` steps, each undone from what is on disk
    now (``file_steps``), ``first`` and ``last`` the manager's activation (``activation``), ``files`` the paths that
    change and ``before``/``after`` their text (the diff). ``state`` is ``present`` or ``absent``. The
    model gets the planned bridge's MAC, MTU, STP and forward delay, and for DHCP the uplink's client
    identity (networkd's lease files of the uplink and the bridge give its IAID).
``order(persisted, kernel_steps)`` -> every step of the change, in the order below.

How the steps are ordered with the kernel's: a first step that does nothing but whose undo makes
the manager read its configuration again, then the file steps, then the kernel's steps, then the
activation. So a rollback puts the kernel back first, then the files, and only then lets the
manager read its old configuration, which by then agrees with the kernel.
"""

from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge import persist_read
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.facts import view
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.persist_check import validate
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netns import in_init_netns
from ansible_collections.lanbridge.core.plugins.module_utils._persist import common, ifupdown, netplan, networkd, networkmanager
from ansible_collections.lanbridge.core.plugins.module_utils._persist import owner as owners
from ansible_collections.lanbridge.core.plugins.module_utils._persist.model import model_from
from ansible_collections.lanbridge.core.plugins.module_utils._transaction import step
from ansible_collections.lanbridge.core.plugins.module_utils._errors import PersistError

RENDERERS = {"networkd": networkd, "ifupdown": ifupdown, "networkmanager": networkmanager, "netplan": netplan}


def file_steps(the_plan, current, modes):
    """The plan's moves, writes and removes as steps, each undone from what is on disk now
    (``current``: ``{path: text}``, ``modes``: ``{path: permission bits}``). A write whose ``mode``
    is None keeps the file's (0644 for a new one)."""
    out = []
    for src, dst in the_plan["moves"]:
        back = step("rename_file", "put back %s" % src, src=dst, dst=src)
        out.append(step("rename_file", "move %s aside to %s" % (src, dst), undo=[back], src=src, dst=dst))
    moved = dict((dst, current.get(src)) for src, dst in the_plan["moves"])
    for path, spec in sorted(the_plan["files"].items()):
        previous = moved.get(path, current.get(path))
        mode = spec["mode"] if spec["mode"] is not None else (modes.get(path) or 0o644)
        if previous == spec["content"] and modes.get(path) in (None, mode):
            continue
        undo = ([step("write_file", "write back %s" % path, path=path, content=previous, mode=modes.get(path) or mode)]
                if previous is not None else [step("remove_file", "remove %s" % path, path=path)])
        out.append(step("write_file", "write %s" % path, undo=undo, path=path, content=spec["content"], mode=mode))
    for path in the_plan["removes"]:
        if path in current:
            out.append(step("remove_file", "remove %s" % path, undo=[step("write_file", "write back %s" % path, path=path,
                                                                          content=current[path], mode=modes.get(path) or 0o644)],
                            path=path))
    return out


def activation(manager, model, state, current, touched=()):
    """``(first, last)``: the step whose undo makes the manager re-read its (old) configuration, and
    the steps that make it read the new one and take the bridge over (``state: present``) or give the
    uplink back (``absent``). ``touched``: the paths the file steps change (NetworkManager reads its
    ``conf.d`` only on ``nmcli general reload conf``). NetworkManager's way back and its ``absent``
    bring up the administrator's profile that ``networkmanager.admin_profile`` chooses."""
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
        admin = networkmanager.admin_profile(current, model["uplink"], model["mac"])
        admin_up = [step("run", "nmcli connection up %s" % networkmanager.profile_name(*admin),
                         argv=networkmanager.up_argv(*admin))] if admin else []
        ours = "lanbridge-%s" % model["bridge"]
        ups = [step("run", "nmcli connection up %s" % ours, argv=["nmcli", "connection", "up", "id", ours])]
        return (step("noop", "NetworkManager will read its profiles again", undo=reload_ + admin_up),
                reload_ + (ups if state == "present" else admin_up))
    if manager == "netplan":
        return _netplan_activation(model, state, current)
    return None, []  # ifupdown reads its files at the next boot and ifup: nothing runs now


def _netplan_activation(model, state, current):
    """``netplan generate``, then the renderer's own reload: ``netplan apply`` without its udev
    trigger, which a read-only /sys (systemd-nspawn) refuses. networkd reloads its files (and the
    uplink is configured afresh on the way back); NetworkManager reloads its profiles and brings up
    netplan's profiles of the bridge and of the uplink (now its port), or of the uplink on the way back."""
    generate = step("run", "netplan generate", argv=["netplan", "generate"])
    admin = netplan.uplink_entry(current, model["uplink"], model["mac"]) or {"id": model["uplink"], "renderer": "networkd"}
    if admin["renderer"] == "NetworkManager":
        reload_ = step("run", "nmcli connection reload", argv=["nmcli", "connection", "reload"])
        ups = dict((name, step("run", "nmcli connection up netplan-%s" % name, argv=["nmcli", "connection", "up", "id", "netplan-" + name]))
                   for name in (model["bridge"], admin["id"]))
        back = [generate, reload_, ups[admin["id"]]]
        forward = [generate, reload_, ups[model["bridge"]], ups[admin["id"]]]  # the port: NetworkManager's view of em1 again
    else:
        reload_ = step("run", "networkctl reload", argv=["networkctl", "reload"])
        again = step("run", "networkctl reconfigure %s" % model["uplink"], argv=["networkctl", "reconfigure", model["uplink"]])
        back = [generate, reload_, again]
        forward = [generate, reload_]
    return step("noop", "netplan will generate from its files again", undo=back), back if state == "absent" else forward


def plan_files(manager, bridge, uplink, facts_after, state):
    renderer = RENDERERS[manager]
    bridge_view = view(facts_after, bridge, uplink)["bridge"]
    link = facts_after["links"].get(uplink) or {}
    mac = (bridge_view.get("mac") or link.get("mac") or "").lower()
    probe_model = model_from(bridge, uplink, mac or "00:00:00:00:00:00", {"inet": "off", "inet6": "off"})
    current = persist_read.read_files(renderer, probe_model)
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
        if addressing["inet"] == "dhcp":
            leases = persist_read.networkd_leases(facts_after, uplink, bridge) if manager in ("networkd", "netplan") else []
            identity, warnings = owners.dhcp_identity_of(manager, bridge, uplink, current, mac, leases)
        model = model_from(bridge, uplink, mac, addressing, bridge_view["addresses"], bridge_view["routes"],
                           mtu=bridge_view.get("mtu"), dhcp=identity, stp=bool(bridge_view.get("stp")),
                           forward_delay=bridge_view.get("forward_delay"),
                           carried=owners.carried_of(manager, uplink, current, mac))
        the_plan = renderer.render(model, current)
        the_plan["warnings"] = warnings + the_plan["warnings"]
        validate(manager, the_plan, current)
    after = common.simulate(current, the_plan)
    touched = sorted(set(p for p in list(current) + list(after) if current.get(p) != after.get(p)))
    files = file_steps(the_plan, current, persist_read.modes(sorted(set(current) | set(the_plan["files"]))))
    first, last = activation(manager, model, state, current, touched)
    return {
        "manager": manager, "files": touched, "warnings": list(the_plan.get("warnings") or []),
        "first": [first] if files and first else [], "file_steps": files, "last": last if files else [],
        "before": dict((p, current.get(p)) for p in touched), "after": dict((p, after.get(p)) for p in touched),
    }


def for_change(want, facts, plan, warn):
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
        found = persist_read.detect(uplink, link["index"], link["mac"])
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
        found = persist_read.detect(uplink, link["index"], link["mac"])
    except PersistError:
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
