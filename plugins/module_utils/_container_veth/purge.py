# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``purge`` and ``state: absent`` by name: which labelled attachments an entry list no longer
names, and what the result says of one removed by purge. Pure functions on plain data.

``Removal`` one attachment purge removes: ``link`` (the host end as read), ``step`` (its deletion),
    ``before`` (its facts in the diff), ``transaction`` (set when ``batch`` plans the apply)
``removals(links, bridge, named, unresolved=(), host_ifnames=())`` -> ``[Removal]``
``for_attachments(attachments, host_links, bridge)`` the same for this run's ``entry.Attachment`` list
``purged_result(link)`` the result entry of a removed attachment (what its label says)
``unknown_container_links(labelled, name)`` host ends labelled for a container the engine no longer knows
"""

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.plan import delete_link_step


class Removal:
    """One labelled attachment that ``purge`` removes (see the module docstring)."""

    __slots__ = ("link", "step", "before", "transaction")

    def __init__(self, link, step, before):
        self.link = link
        self.step = step
        self.before = before
        self.transaction = None


def _may_name(kind, value, label):
    """Whether an unresolved entry (``kind``, ``value``) may be the owner of ``label``."""
    label_kind, _sep, ident = label["id"].partition(":")
    if kind != label_kind:
        return False
    if kind == "netns":
        return True
    return bool(value) and (value == label.get("name") or ident.startswith(value))


def removals(links, bridge, named, unresolved=(), host_ifnames=()):
    """The attachments on ``bridge`` that ``purge`` removes: a ``Removal`` per link.

    ``links`` are the host's links (``master`` by name, ``label`` = ``_names.parse_label`` of the
    ``ifalias``, absent when it is not ours); only labelled ports of ``bridge`` are candidates, so
    the uplink and every foreign port are never touched. An attachment is kept when ``named`` (a
    set of ``(identity, ifname)`` of this call's entries) holds its label's identity and ifname,
    when an entry names it as its ``host_ifname``, or when it may belong to an entry whose target
    could not be resolved: ``unresolved`` holds ``(kind, value)`` -- ``('container', name or ID)``
    keeps attachments whose label carries that name or an ID starting with it (keeping errs on the
    safe side: what an unresolved entry may name is never removed); ``('netns', None)``
    (a pid / netns entry whose namespace cannot be opened) keeps every ``netns:`` attachment.
    """
    out = []
    for link in links:
        label = link.get("label")
        if not label or link.get("master") != bridge or link["ifname"] in host_ifnames:
            continue
        if (label["id"], label["ifname"]) in named:
            continue
        if any(_may_name(kind, value, label) for kind, value in unresolved):
            continue
        before = {"state": "present",
                  "host": {"ifname": link["ifname"], "bridge": bridge, "mtu": link.get("mtu"),
                           "up": bool(link.get("up")), "label": link.get("ifalias")}}
        out.append(Removal(link, delete_link_step(link["ifname"]), before))
    return out


def for_attachments(attachments, host_links, bridge):
    """``removals`` for every labelled attachment on ``bridge`` that no attachment of this run names."""
    named, unresolved, host_ifnames = set(), [], set()
    for item in attachments:
        identity = (item.target or {}).get("identity")
        if identity:
            named.add((identity, item.entry["ifname"]))
        elif item.entry.get("container"):
            unresolved.append(("container", item.entry["container"]))
        else:
            unresolved.append(("netns", None))
        if item.wanted.get("host_ifname"):
            host_ifnames.add(item.wanted["host_ifname"])
    return removals(host_links, bridge, named, unresolved, host_ifnames)


def purged_result(link):
    """The result entry of an attachment removed by purge (what its label says)."""
    label = link["label"]
    kind, _sep, ident = label["id"].partition(":")
    return {"container_id": ident if kind == "container" else None, "container_name": label.get("name"),
            "pid": None, "netns": None, "ifname": label["ifname"], "state": "absent",
            "host_ifname": link["ifname"], "bridge": None, "mac": None, "mtu": None, "addresses": [], "routes": [],
            "purged": True}


def unknown_container_links(labelled, name, ifname=None):
    """Host ends labelled for a container that the engine no longer knows (``state: absent``).

    Exact matches only: the label's container name, or its full container ID, is ``name``; never
    a prefix of an ID (another engine's container may start with the same letters), never an
    attachment of another target kind (a ``netns: blue`` attachment is not ``container: blue``).
    With ``ifname``, only the attachment of that interface."""
    out = []
    for links in labelled.values():
        for link in links:
            label = link["label"]
            kind, _sep, ident = label["id"].partition(":")
            if kind != "container" or (ifname is not None and label["ifname"] != ifname):
                continue
            if label.get("name") == name or ident == name:
                out.append(link)
    return out
