# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bridge's firewall accept rule: ``-i BRIDGE -o BRIDGE -j ACCEPT`` with a comment that marks it
as the collection's, first in Docker's ``DOCKER-USER`` chain where that chain exists (Docker jumps
there before its own rules), else first in ``FORWARD``.

Why: with br_netfilter on and a FORWARD policy of DROP (Docker sets one), frames bridged between
the uplink and the containers' veths go through FORWARD and are dropped (moby issue 39439).

``host_bridge`` owns the rule (inserts it, shows it in the diff, removes it with ``state=absent``);
the agent puts it back after a reboot or an engine restart. Both use this file; iptables is run
with argument lists, ``-w`` so it waits for the xtables lock. The undo of a delete is a ``run`` step
with ``unless``: ``iptables -C`` first, ``-I`` only where the rule is missing (the executor,
``_host_bridge/persist_ops.py``, runs the check). A delete left in doubt by a crash may not have
happened, and its undo may run twice (the module's rollback, then the watchdog's); this way it
inserts the rule once.

``read(run, bridge, comment, families)`` -> ``{family: {'family', 'tool', 'path', 'chain', 'present_in'}}``
    ``run(argv)`` -> exit code; ``families`` a subset of ``('inet', 'inet6')``; ``chain`` is where a
    new rule goes, ``present_in`` the chains that hold the rule now. A family whose tool is not
    installed is left out (``tool_path`` finds it). Exit code 1 means "no such chain / rule"; any
    other non-zero code raises ``FirewallError`` (a busy lock, a missing match module).
``plan(live, bridge, comment, families, state)`` -> ``_transaction`` steps (op ``run``, with undo):
    insert the rule where a wanted family lacks it (``present``), delete it from every chain that
    holds it (``absent``); a delete's undo inserts it ``unless`` ``-C`` finds it. Pure.
``view(live, bridge)`` -> the rules as sentences, for a diff; ``after(live, steps)`` the
    ``live`` the steps leave behind (pure).
``FirewallError`` a family was asked for whose tool is missing.
"""

import copy
import os

from ansible_collections.lanbridge.core.plugins.module_utils._transaction import step
from ansible_collections.lanbridge.core.plugins.module_utils._errors import FirewallError

DEFAULT_COMMENT = "lanbridge.core container_lan"  # the one default of host_bridge, container_veth's agent, attach_agent
DOCKER_USER = "DOCKER-USER"
FORWARD = "FORWARD"
WAIT = "5"
TOOLS = (("inet", "iptables"), ("inet6", "ip6tables"))
FAMILY_WORDS = {"inet": "IPv4", "inet6": "IPv6"}
SEARCH_PATH = ("/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/local/sbin")


def tool_path(tool, search=SEARCH_PATH):
    """The tool's path, or None when it is not installed."""
    for directory in search:
        path = os.path.join(directory, tool)
        if os.access(path, os.X_OK):
            return path
    return None


def rule(bridge, comment):
    return ["-i", bridge, "-o", bridge, "-j", "ACCEPT", "-m", "comment", "--comment", comment]


def chain_argv(tool):
    return [tool, "-w", WAIT, "-t", "filter", "-S", DOCKER_USER]


def check_argv(tool, chain, bridge, comment):
    return [tool, "-w", WAIT, "-t", "filter", "-C", chain] + rule(bridge, comment)


def insert_argv(tool, chain, bridge, comment):
    return [tool, "-w", WAIT, "-t", "filter", "-I", chain] + rule(bridge, comment)


def delete_argv(tool, chain, bridge, comment):
    return [tool, "-w", WAIT, "-t", "filter", "-D", chain] + rule(bridge, comment)


def _asked(run, argv):
    """True for exit code 0, False for 1 (no such chain, no such rule); anything else is an error."""
    code = run(argv)
    if code not in (0, 1):
        raise FirewallError("firewall: %s failed with exit code %s (the xtables lock busy for %s s, a missing "
                            "match module, or the tool unusable here)" % (" ".join(argv), code, WAIT))
    return code == 0


def read(run, bridge, comment, families, which=tool_path):
    live = {}
    for family, tool in TOOLS:
        path = which(tool) if family in families else None
        if path is None:
            continue
        chains = [DOCKER_USER, FORWARD] if _asked(run, chain_argv(path)) else [FORWARD]
        live[family] = {"family": family, "tool": tool, "path": path, "chain": chains[0],
                        "present_in": [c for c in chains if _asked(run, check_argv(path, c, bridge, comment))]}
    return live


def _describe(tool, chain, bridge):
    return "%s: accept rule for bridge %s in %s" % (tool, bridge, chain)


TEXTS = {"insert": "%s: insert accept rule for bridge %s in %s", "delete": "%s: delete accept rule for bridge %s from %s"}


def _rule_step(action, entry, chain, bridge, argv, **unless):
    """One ``run`` step that inserts or deletes the rule in ``chain`` (args also say which, for ``after``)."""
    return step("run", TEXTS[action] % (entry["tool"], bridge, chain), argv=argv, family=entry["family"], chain=chain,
                action=action, **unless)


def _change(action, entry, chain, bridge, comment):
    """The step that inserts or deletes the rule, with its undo (the undo of a delete inserts unless present)."""
    path = entry["path"]
    if action == "insert":
        forward = _rule_step("insert", entry, chain, bridge, insert_argv(path, chain, bridge, comment))
        back = _rule_step("delete", entry, chain, bridge, delete_argv(path, chain, bridge, comment))
    else:
        forward = _rule_step("delete", entry, chain, bridge, delete_argv(path, chain, bridge, comment))
        back = _rule_step("insert", entry, chain, bridge, insert_argv(path, chain, bridge, comment),
                          unless=check_argv(path, chain, bridge, comment))
    forward["undo"] = [back]
    return forward


def plan(live, bridge, comment, families, state):
    steps = []
    if state == "present":
        for family, tool in TOOLS:
            if family not in families:
                continue
            if family not in live:
                raise FirewallError("firewall: %s is not installed on the host, so the %s accept rule for bridge %s "
                                    "cannot be checked or inserted (install %s%s)"
                                    % (tool, FAMILY_WORDS[family], bridge, tool, ", or set firewall_ipv6 to false" if family == "inet6"
                                       else ", or set firewall to false"))
            if live[family]["chain"] not in live[family]["present_in"]:
                steps.append(_change("insert", live[family], live[family]["chain"], bridge, comment))
    else:
        for family, _tool in TOOLS:
            for chain in (live.get(family) or {}).get("present_in", []):
                steps.append(_change("delete", live[family], chain, bridge, comment))
    return steps


def after(live, steps):
    out = copy.deepcopy(live)
    for item in steps:
        args = item["args"]
        present = out[args["family"]]["present_in"]
        if args["action"] == "insert" and args["chain"] not in present:
            present.append(args["chain"])
        elif args["action"] == "delete" and args["chain"] in present:
            present.remove(args["chain"])
    return out


def view(live, bridge):
    """The rules as sentences (for a diff), sorted."""
    return sorted(_describe(entry["tool"], chain, bridge)
                  for entry in live.values() for chain in entry["present_in"])
