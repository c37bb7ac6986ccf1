# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One entry of ``container_veth`` (the single form or one item of ``interfaces``), from its options
to its result.

``argument_spec()``, ``ENTRY_SPEC``, ``ENTRY_RULES``, ``SHARED_OPTIONS``: the module's options (all but ``agent``, which
    the module adds from ``_agent.manage.OPTIONS``, the options ``attach_agent`` has too).
``validate(raw, index=None)`` the options of one entry -> a normalised entry (pure; ``ValidationError``
    naming the entry); its ``routes`` are the codec's routes that ``gateway``, ``gateway6`` and
    ``routes: [{dest, via}]`` ask for (``plan.wanted_routes``, the one translation).
``check_batch(entries)`` the entries of one call as a whole: an address, a MAC or a host-side name
    claimed twice, two entries for one target and ``ifname`` (pure; ``ValidationError`` naming both).
``check_resolved(attachments)`` the same once targets are known (one container named two ways,
    derived names and MACs).
``find_target(entry, engines, here)`` the entry's target (``targets.resolve``); with
    ``state: absent`` a stopped or unknown container is not an error.
``complete(entry, target, live)`` what depends on identity and the live bridge: names, label, MAC, MTU.
``Attachment`` the record of one entry through the run: ``entry``, ``target``, ``wanted``,
    ``steps``, ``before``, ``after``, ``error``, and its ``result()``.
"""

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import names as _names
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import plan as planner
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth import routed
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.targets import (
    TARGET_OPTIONS, TARGET_SPEC, resolve,
)
from ansible_collections.lanbridge.core.plugins.module_utils._validate import check_ifname, check_mac, check_mtu
from ansible_collections.lanbridge.core.plugins.module_utils._errors import (
    EngineError, SharedNamespaceError, ValidationError,
)

ROUTE_SPEC = {"dest": {"type": "str", "required": True}, "via": {"type": "str", "required": True}}
ENTRY_SPEC = dict(TARGET_SPEC)
ENTRY_SPEC.update({
    "bridge": {"type": "str"},
    "ifname": {"type": "str"},
    "host_ifname": {"type": "str"},
    "addresses": {"type": "list", "elements": "str", "aliases": ["address"]},
    "gateway": {"type": "str"},
    "gateway6": {"type": "str"},
    "routes": {"type": "list", "elements": "dict", "options": ROUTE_SPEC},
    "mac": {"type": "str"},
    "mtu": {"type": "int"},
    "announce": {"type": "bool"},
    "conflict_check": {"type": "bool"},
    "state": {"type": "str", "choices": ["present", "absent"]},
    "mode": {"type": "str", "choices": ["bridged", "routed"]},
    "uplink": {"type": "str"},
    "allowed_networks": {"type": "list", "elements": "str"},
})
DEFAULTS = {"ifname": "eth1", "runtime": "auto", "announce": True, "conflict_check": True, "state": "present",
            "mode": "bridged"}
ENTRY_RULES = {
    "mutually_exclusive": [list(TARGET_OPTIONS)],
    "required_one_of": [list(TARGET_OPTIONS)],
}
# Options of the single form that may also stand next to ``interfaces`` (as the entries' default).
SHARED_OPTIONS = ("bridge", "mode", "uplink")


def argument_spec():
    spec = dict(ENTRY_SPEC)
    spec["interfaces"] = dict({"type": "list", "elements": "dict", "options": ENTRY_SPEC}, **ENTRY_RULES)
    spec["purge"] = {"type": "bool", "default": False}
    return spec


def with_shared(raw, shared):
    """An ``interfaces`` entry with the top-level ``shared`` options filled in where it gives none:
    ``bridge`` only into a bridged entry, ``uplink`` only into a routed one (its own ``mode``, else
    the shared one)."""
    mode = raw.get("mode") or shared.get("mode") or DEFAULTS["mode"]
    skip = "bridge" if mode == "routed" else "uplink"
    return dict(raw, **dict((k, v) for k, v in shared.items() if raw.get(k) is None and k != skip))


def validate(raw, index=None):
    """Options of one entry -> a normalised entry; raises ValidationError naming the entry."""
    entry = dict((k, v) for k, v in raw.items() if k in ENTRY_SPEC)
    for key, value in DEFAULTS.items():
        if entry.get(key) is None:
            entry[key] = value
    where = "" if index is None else "interfaces[%d]: " % index
    try:
        given = [k for k in TARGET_OPTIONS if entry.get(k) not in (None, "")]
        if len(given) != 1:
            raise ValidationError("give exactly one of container, pid or netns (got %s)" % (", ".join(given) or "none"))
        for key in ("container", "netns", "docker_host"):
            _check_text(entry.get(key), key)
        check_ifname(entry["ifname"], "ifname")
        if entry.get("host_ifname"):
            check_ifname(entry["host_ifname"], "host_ifname")
        if entry["mode"] == "bridged":
            if entry["state"] == "present" and not entry.get("bridge"):
                raise ValidationError("bridge is required with state present")
            for key in ("uplink", "allowed_networks"):
                if entry.get(key):
                    raise ValidationError("%s is taken only with mode routed (mode is bridged)" % key)
        if entry.get("bridge"):
            check_ifname(entry["bridge"], "bridge")
        if entry.get("mac"):
            entry["mac"] = check_mac(entry["mac"], "mac")
        if entry.get("mtu") is not None:
            check_mtu(entry["mtu"], "mtu")
        entry["addresses"] = [planner.normalize_address(a) for a in entry.get("addresses") or []]
        if len(set(entry["addresses"])) != len(entry["addresses"]):
            raise ValidationError("addresses lists an address twice")
        if entry["mode"] == "routed":
            routed.entry_fields(entry)
        else:
            entry["routes"] = planner.wanted_routes(entry["addresses"], entry.get("gateway"), entry.get("gateway6"),
                                                    entry.get("routes"))
    except (ValueError, ValidationError) as exc:
        raise ValidationError(where + str(exc)) from None
    return entry


def _check_text(value, what):
    """A container name, namespace path or socket: no control characters (a NUL included)."""
    if isinstance(value, str) and any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        raise ValidationError("%s %r contains a control character" % (what, value))


def _where(index):
    return "the entry" if index is None else "interfaces[%d]" % index


def _claims(entry):
    """What one entry claims that no other entry of the call may claim too."""
    out = [("target", (describe(entry), entry.get("docker_host"), entry["ifname"]),
            "%s %s" % (describe(entry), entry["ifname"]))]
    if entry.get("host_ifname"):
        out.append(("host_ifname", entry["host_ifname"], "host_ifname %s" % entry["host_ifname"]))
    if entry["state"] == "present":
        if entry.get("mac"):
            out.append(("mac", entry["mac"], "mac %s" % entry["mac"]))
        for cidr in entry.get("addresses") or []:
            address = cidr.partition("/")[0]
            out.append(("address", address, "address %s" % address))
    return out


def check_batch(entries, claims=_claims):
    """Refuse a call whose entries claim one thing twice; ``entries`` are ``(index, entry)`` pairs.

    One sentence per clash, naming both entries: ``interfaces[1]: address 198.51.100.10 is also
    claimed by interfaces[0]``. Pure; raises ``ValidationError`` with all clashes."""
    seen, problems = {}, []
    for index, entry in entries:
        for kind, key, text in claims(entry):
            first = seen.setdefault((kind, key), index)
            if first != index:
                problems.append("%s: %s is also claimed by %s" % (_where(index), text, _where(first)))
                if kind == "target":
                    break  # the same interface twice: its names and MAC clash too, say it once
    if problems:
        raise ValidationError("; ".join(problems))


def _resolved_claims(item):
    entry, target, wanted = item.entry, item.target or {}, item.wanted
    out = []
    if target.get("identity"):
        out.append(("target", (target["identity"], entry["ifname"]), "%s %s (the namespace of %s)"
                    % (target["what"], entry["ifname"], target.get("container_name") or target["identity"])))
    if wanted.get("host_ifname"):
        out.append(("host_ifname", wanted["host_ifname"], "host_ifname %s" % wanted["host_ifname"]))
    if entry["state"] == "present" and wanted.get("mac"):
        out.append(("mac", wanted["mac"].lower(), "mac %s" % wanted["mac"].lower()))
    return out


def check_resolved(attachments, single):
    """``check_batch`` for the resolved attachments (those without an error)."""
    check_batch([(None if single else index, item) for index, item in enumerate(attachments) if item.error is None],
                claims=_resolved_claims)


def describe(entry):
    """``container web1`` / ``pid 4242`` / ``netns blue``: the entry's target as given."""
    for key in TARGET_OPTIONS:
        if entry.get(key) is not None:
            return "%s %s" % (key, entry[key])
    return "?"


def find_target(entry, engines, here):
    """Resolve the target; for state=absent a stopped or unknown container is not an error, and
    neither is one without a namespace of its own (its attachment, if any, is found by its label)."""
    try:
        return resolve(entry, engines, here)
    except SharedNamespaceError as exc:
        if entry["state"] != "absent":
            raise
        info = exc.info
    except EngineError as exc:
        if entry["state"] != "absent" or not entry.get("container"):
            raise
        engine = engines.get(entry["runtime"], entry.get("docker_host"))
        try:
            info = engine.inspect(entry["container"])
        except EngineError:
            if "no container named" not in str(exc):
                raise
            info = None
    return {"kind": "container", "fd": None, "fd_path": None, "inode": None, "pid": None, "netns": None,
            "identity": _names.container_identity(info["id"]) if info else None,
            "container_id": info["id"] if info else None,
            "container_name": info["name"] if info else entry["container"],
            "what": "container %s" % entry["container"]}


def complete(entry, target, live):
    """Fill in what depends on identity and the live bridge: names, label, MAC, MTU."""
    wanted = dict(entry)
    identity = target["identity"]
    name = target.get("container_name") or (entry.get("netns") or ("pid%s" % entry.get("pid")))
    uplink = entry.get("uplink") if entry["mode"] == "routed" else None
    record = routed.turned_on(entry, live) if uplink and entry["state"] == "present" else ()
    wanted["label"] = _names.make_label(identity, entry["ifname"], name, uplink, record) if identity else None
    if not wanted.get("host_ifname"):
        if live.get("host"):
            wanted["host_ifname"] = live["host"]["ifname"] if identity is None else _names.host_ifname(identity, entry["ifname"])
        elif identity:
            wanted["host_ifname"] = _names.host_ifname(identity, entry["ifname"])
    if not wanted.get("mac") and identity:
        wanted["mac"] = _names.container_mac(identity, entry["ifname"])
    if wanted.get("mtu") is None and (live.get("bridge") or live.get("uplink")):
        wanted["mtu"] = (live.get("bridge") or live.get("uplink")).get("mtu")
    return wanted


class Attachment:
    """One entry through the run: read, planned, applied (or failed), reported."""

    def __init__(self, entry):
        self.entry = entry
        self.target = None
        self.wanted = entry
        self.steps = []
        self.before = self.after = None
        self.error = None
        self.transaction = None

    @property
    def key(self):
        """The entry's name in the diff: ``container web1 eth1``."""
        return "%s %s" % ((self.target or {}).get("what") or describe(self.entry), self.entry["ifname"])

    @property
    def changed(self):
        return planner.changes(self.steps)

    def failure(self):
        if self.error is not None:
            return self.error
        return self.transaction.error if self.transaction is not None else None

    def result(self):
        target = self.target or {}
        wanted = self.wanted
        item = {
            "container_id": target.get("container_id"), "container_name": target.get("container_name"),
            "pid": target.get("pid"), "netns": target.get("netns"), "ifname": wanted["ifname"],
            "state": wanted["state"],
        }
        error = self.failure()
        after = self.after if error is None else {}
        if after.get("state") == "present":
            host, cont = after["host"], after["container"]
            if wanted.get("mode") == "routed":
                item.update({"mode": "routed", "uplink": host.get("uplink"), "proxy": host.get("proxy", [])})
            item.update({"host_ifname": host["ifname"], "bridge": host["bridge"], "mac": cont["mac"],
                         "mtu": cont["mtu"], "addresses": cont["addresses"],
                         "routes": [{"dest": r["dest"], "via": r["via"]} for r in cont["routes"]
                                    if r["dev"] == wanted["ifname"]]})
        else:
            item.update({"host_ifname": wanted.get("host_ifname"), "bridge": None, "mac": None, "mtu": None,
                         "addresses": [], "routes": []})
        if error is not None:
            item.update({"changed": False, "failed": True, "msg": error})
        else:
            item["changed"] = self.changed
        return item
