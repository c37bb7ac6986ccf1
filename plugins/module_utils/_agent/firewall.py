# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bridge's firewall accept rule, the same the role manages (``roles/container_lan/tasks/firewall.yml``):
``-i BRIDGE -o BRIDGE -j ACCEPT`` with the role's comment, inserted first in Docker's ``DOCKER-USER``
chain where it exists, else in ``FORWARD``; IPv4 always, IPv6 when a container has an IPv6 address.

After a reboot the firewall is empty and, with br_netfilter on and a FORWARD policy of DROP, LAN
traffic over the bridge is dropped until the rule is back: the agent ensures it at start and after
every engine (re)start. iptables argument lists only (no shell).

``plan(bridges, comment, ipv6)`` -> the ``(tool, bridge)`` pairs to ensure (pure).
``chain_argv(tool)``, ``check_argv(tool, chain, bridge, comment)``, ``insert_argv(...)`` the commands.
``ensure(run, bridges, comment, ipv6)`` -> sentences of what it inserted; ``run(argv)`` -> exit code.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCKER_USER = "DOCKER-USER"
FORWARD = "FORWARD"
WAIT = "5"


def plan(bridges, comment, ipv6):
    tools = ["iptables"] + (["ip6tables"] if ipv6 else [])
    return [(tool, bridge) for tool in tools for bridge in bridges]


def rule(bridge, comment):
    return ["-i", bridge, "-o", bridge, "-j", "ACCEPT", "-m", "comment", "--comment", comment]


def chain_argv(tool):
    return [tool, "-w", WAIT, "-t", "filter", "-S", DOCKER_USER]


def check_argv(tool, chain, bridge, comment):
    return [tool, "-w", WAIT, "-t", "filter", "-C", chain] + rule(bridge, comment)


def insert_argv(tool, chain, bridge, comment):
    return [tool, "-w", WAIT, "-t", "filter", "-I", chain] + rule(bridge, comment)


def ensure(run, bridges, comment, ipv6):
    """Insert the rule where it is missing; return one sentence per insertion (raises ``OSError``
    naming the command that failed)."""
    done, chains = [], {}
    for tool, bridge in plan(bridges, comment, ipv6):
        if tool not in chains:
            chains[tool] = DOCKER_USER if run(chain_argv(tool)) == 0 else FORWARD
        chain = chains[tool]
        if run(check_argv(tool, chain, bridge, comment)) == 0:
            continue
        argv = insert_argv(tool, chain, bridge, comment)
        if run(argv) != 0:
            raise OSError("firewall: %s failed" % " ".join(argv))
        done.append("%s: inserted accept rule for bridge %s in %s" % (tool, bridge, chain))
    return done
