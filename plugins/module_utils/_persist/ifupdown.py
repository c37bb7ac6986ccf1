# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ifupdown (with bridge-utils): the uplink's ``iface`` stanzas become the bridge's.

Every file that holds an ``iface <uplink>`` stanza (``/etc/network/interfaces`` or a file it
sources) is moved, byte for byte, to its saved name and rewritten: the first such stanza is replaced
by ``iface <uplink> inet manual`` (``mtu`` when set) and the bridge's stanzas (``auto <bridge>``,
``iface <bridge> inet ...`` with ``bridge_ports``, ``bridge_stp off``, ``bridge_fd 0``,
``bridge_maxwait 0``, ``bridge_hw``, and ``post-up ip link set dev <bridge> alias lanbridge:bridge``:
the label ``host_bridge`` gives a bridge it made, which the kernel forgets at a reboot;
``iface <bridge> inet6 ...``); the uplink's other stanzas go.
Every other line (``auto``/``allow-hotplug`` lines, other interfaces, comments, ``source`` lines)
stays as it was. A saved copy of ``/etc/network/interfaces`` is ``/etc/network/interfaces.lanbridge-saved``;
of a sourced file, ``/etc/network/<its path below /etc/network, '/' as '--'>.lanbridge-saved``:
outside the directories ``source`` globs read (``source interfaces.d/*`` would read a saved copy
beside the original). No uplink stanza anywhere: the bridge's stanzas are appended to
``/etc/network/interfaces``.

The renderer writes ``inet dhcp`` for a DHCP model, but ``host_bridge`` refuses to persist an
ifupdown uplink that uses DHCP (moving dhclient to the bridge is not supported).
``bridge_stp`` and ``bridge_fd`` are the bridge's (``model['stp']``, ``model['forward_delay']``).
A route is ``up ip route add ...`` / ``down ip route del ...``.
"""

import fnmatch
import posixpath
import re

from ansible_collections.lanbridge.core.plugins.module_utils._labels import BRIDGE as BRIDGE_LABEL
from ansible_collections.lanbridge.core.plugins.module_utils._persist import common

MAIN = "/etc/network/interfaces"
BASE = "/etc/network/"
STANZAS = ("iface", "mapping", "auto", "source", "source-directory", "rename", "no-auto-down", "no-scripts")
RUN_PARTS_NAME = re.compile(r"^[a-zA-Z0-9_-]+$")
# the option lines of the uplink's stanzas the model writes; the others are carried (``carried``)
MODEL_OPTIONS = ("address", "netmask", "gateway", "broadcast", "network", "mtu", "hwaddress", "accept_ra")
ROUTE_LINE = re.compile(r"^(up|down|post-up|pre-down)\s+(ip\s+(-[46]\s+)?route|route)\s")


def saved_path(path):
    if path == MAIN or not path.startswith(BASE):
        return common.saved(path)
    return BASE + path[len(BASE):].replace("/", "--") + common.SAVED_SUFFIX


def original_path(path):
    base = common.unsaved(path)
    if base == MAIN or not base.startswith(BASE):
        return base
    return BASE + base[len(BASE):].replace("--", "/")


def originals(current):
    """``{path: text}``: the administrator's files as they were before any run of ours: a saved copy stands
    for the file it was saved from (whatever order ``current`` holds them in), every other file as it is."""
    found = dict((original_path(p), t) for p, t in current.items() if p.endswith(common.SAVED_SUFFIX))
    found.update((p, t) for p, t in current.items() if not p.endswith(common.SAVED_SUFFIX) and p not in found)
    return found


def _is_stanza(line):
    words = line.split()
    return bool(words) and (words[0] in STANZAS or words[0].startswith("allow-"))


def _sources(path, text):
    """The paths ``text`` (the file ``path``) sources, as globs or directories, in order."""
    found = []
    for line in text.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] in ("source", "source-directory"):
            target = words[1] if words[1].startswith("/") else posixpath.join(posixpath.dirname(path), words[1])
            found.append((words[0], target))
    return found


def _sourced(kind, target, paths):
    if kind == "source":
        return sorted(p for p in paths if fnmatch.fnmatchcase(p, target))
    return sorted(p for p in paths if posixpath.dirname(p) == target.rstrip("/") and RUN_PARTS_NAME.match(posixpath.basename(p)))


def files_in_order(originals):
    """The files ifupdown reads, in its order (a sourced file where its ``source`` line is)."""
    order, seen = [], set()

    def visit(path):
        if path in seen or path not in originals:
            return
        seen.add(path)
        order.append(path)
        for kind, target in _sources(path, originals[path]):
            for sub in _sourced(kind, target, originals):
                visit(sub)
    visit(MAIN)
    return order


def reads(model, current=None):
    found = [MAIN, BASE + "interfaces.d/*", BASE + "*" + common.SAVED_SUFFIX]
    for path, text in sorted((current or {}).items()):
        for kind, target in _sources(path, text):
            found.append(target if kind == "source" else target.rstrip("/") + "/*")
            if kind == "source" and not target.startswith(BASE):  # saved beside the original (saved_path)
                found.append(target + common.SAVED_SUFFIX)
    return sorted(set(found), key=found.index)


def stanzas(text, uplink):
    """``[(first, last)]`` line ranges (end exclusive) of the ``iface <uplink>`` stanzas in ``text``."""
    lines = text.splitlines(True)
    found = []
    for i, line in enumerate(lines):
        words = line.split()
        if len(words) >= 2 and words[0] == "iface" and words[1] == uplink:
            end = i + 1
            while end < len(lines) and not _is_stanza(lines[end]):
                end += 1
            while end > i + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
                end -= 1
            found.append((i, end))
    return found


def carried(current, uplink):
    """``{'inet': lines, 'inet6': lines, 'uplink': lines}``: the option lines of the uplink's ``iface``
    stanzas (the administrator's, ``originals``) beyond what the model writes (``dns-nameservers``,
    ``dns-search``, ``up ip rule ...``, DHCP options, ...), as written, for the bridge's stanza of each
    family; a line that names the uplink (``post-up ethtool -K em1 ...``) stays with the uplink."""
    out = {"inet": [], "inet6": [], "uplink": []}
    admin = originals(current)
    for path in files_in_order(admin):
        lines = admin[path].splitlines()
        for first, last in stanzas(admin[path], uplink):
            family = lines[first].split()[2]
            for line in lines[first + 1:last]:
                words = line.split()
                if not words or words[0].startswith("#") or words[0] in MODEL_OPTIONS or ROUTE_LINE.match(line.strip()):
                    continue
                out["uplink" if uplink in words else family if family in out else "inet"].append("    " + line.strip())
    return out


def _route_lines(model, family):
    lines = []
    for r in model[family]["routes"]:
        spec = "%s%s dev %s%s%s" % (r["dst"], " via " + r["gateway"] if r.get("gateway") else "", model["bridge"],
                                    " metric %d" % r["metric"] if r.get("metric") is not None else "", " onlink" if r.get("onlink") else "")
        six = "-6 " if family == "inet6" else ""
        lines += ["    up ip %sroute add %s" % (six, spec), "    down ip %sroute del %s" % (six, spec)]
    return lines


def bridge_stanzas(model):
    m, br = model, model["bridge"]
    written = m["carried"] or {}
    lines = ["iface %s inet manual" % m["uplink"]] + (["    mtu %d" % m["mtu"]] if m["mtu"] else [])
    lines += written.get("uplink", []) + ["", "auto %s" % br]
    v4 = {"static": "static", "dhcp": "dhcp"}.get(m["inet"]["method"], "manual")
    lines.append("iface %s inet %s" % (br, v4))
    lines += ["    address %s" % a for a in m["inet"]["addresses"]]
    lines += ["    gateway %s" % m["inet"]["gateway"]] if m["inet"]["gateway"] else []
    lines += ["    bridge_ports %s" % m["uplink"], "    bridge_stp %s" % ("on" if m["stp"] else "off"),
              "    bridge_fd %s" % common.seconds_text(m["forward_delay"]), "    bridge_maxwait 0", "    bridge_hw %s" % m["mac"],
              "    post-up ip link set dev %s alias %s" % (br, BRIDGE_LABEL)]
    lines += ["    mtu %d" % m["mtu"]] if m["mtu"] and v4 != "dhcp" else []
    own = set(line.split()[0] for line in written.get("inet", []) + written.get("inet6", []))
    lines += ["    dns-nameservers %s" % " ".join(m["dns"])] if m["dns"] and "dns-nameservers" not in own else []
    lines += ["    dns-search %s" % " ".join(m["search"])] if m["search"] and "dns-search" not in own else []
    lines += written.get("inet", []) + _route_lines(m, "inet")
    v6 = {"static": "static", "ra": "auto", "dhcp": "dhcp"}.get(m["inet6"]["method"])
    if v6:
        lines += ["", "iface %s inet6 %s" % (br, v6)]
        lines += ["    address %s" % a for a in m["inet6"]["addresses"]]
        lines += ["    gateway %s" % m["inet6"]["gateway"]] if m["inet6"]["gateway"] else []
        lines += ["    accept_ra 0"] if v6 == "static" else (["    accept_ra 1"] if v6 == "dhcp" else [])
        lines += written.get("inet6", []) + _route_lines(m, "inet6")
    return "\n".join(lines) + "\n"


def render(model, current):
    result = common.plan()
    admin = originals(current)
    block, placed = bridge_stanzas(model), False
    order = files_in_order(admin) or [MAIN]
    anywhere = any(stanzas(admin[p], model["uplink"]) for p in order if p in admin)
    for path in order:
        text = admin.get(path, "")
        found = stanzas(text, model["uplink"])
        if not found and (anywhere or path != MAIN):
            continue
        lines = text.splitlines(True)
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        for first, last in reversed(found):
            lines[first:last] = [] if (placed or first != found[0][0]) else [block]
        if not found:
            lines.append(("\n" if lines and lines[-1].strip() else "") + block)
        placed = True
        common.set_aside(result, current, path, saved_path)
        common.write(result, path, "".join(lines))
    return result


def restore(current):
    return common.restore(current, original_path)
