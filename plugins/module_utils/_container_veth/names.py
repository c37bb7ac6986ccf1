# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names that come from identity, never from PIDs: the host-side veth name, the pinned MAC of the
container side, and the ``ifalias`` label that marks an attachment as ours.

Pure functions, no kernel access.

An *identity* is a short string that stays the same while the thing it names exists:
``container:<64-hex container ID>`` for a container, ``netns:<inode>`` for a ``pid`` / ``netns``
target (a namespace has no better name; its inode lives as long as it does).

The label written to the host side's ``ifalias`` looks like::

    lanbridge:veth id=container:3f2a...e9 if=eth1 name=web1

and a routed attachment's (``mode: routed``) adds ``uplink=em1`` and, where the collection turned
settings of the uplink on, ``on=ipv4/forwarding,ipv6/proxy_ndp``.
Values are percent-quoted so they never contain spaces. ``parse_label`` returns ``None`` for any
``ifalias`` that is not one of ours, so foreign interfaces are never touched.
"""

import hashlib

from urllib.parse import quote, unquote

from ansible_collections.lanbridge.core.plugins.module_utils._labels import VETH as LABEL_PREFIX

HOST_PREFIX = "vl"
IFALIAS_MAX = 255


def _digest(identity, ifname):
    return hashlib.sha256(("%s/%s" % (identity, ifname)).encode("utf-8")).hexdigest()


def container_identity(container_id):
    return "container:%s" % container_id


def netns_identity(inode):
    return "netns:%d" % int(inode)


def host_ifname(identity, ifname):
    """The default host-side name: ``vl`` + 11 hex digits of a hash of identity and ifname (13 bytes).

    Stable across runs and container restarts (the container ID does not change), different for
    two interfaces of one container, and short enough for the kernel's 15-byte limit.
    """
    return HOST_PREFIX + _digest(identity, ifname)[:11]


def container_mac(identity, ifname):
    """A stable, locally administered, unicast MAC derived from identity and ifname."""
    raw = bytearray.fromhex(_digest("mac:" + identity, ifname)[:12])
    raw[0] = (raw[0] & 0xFC) | 0x02  # clear multicast bit, set locally-administered bit
    return ":".join("%02x" % b for b in raw)


def make_label(identity, ifname, name=None, uplink=None, turned_on=()):
    """The ``ifalias`` text for the host side of the attachment ``identity``/``ifname``; a routed
    attachment's also names its ``uplink`` and the uplink's settings the collection turned on
    (``turned_on``: ``'ipv4/forwarding'``, ...), so that the last one removed can turn them off."""
    parts = [LABEL_PREFIX, "id=" + quote(identity, safe=":"), "if=" + quote(ifname, safe="")]
    if name:
        parts.append("name=" + quote(name, safe=""))
    if uplink:
        parts.append("uplink=" + quote(uplink, safe=""))
    if turned_on:
        parts.append("on=" + ",".join(sorted(turned_on)))
    label = " ".join(parts)
    return label[:IFALIAS_MAX]


def parse_label(text):
    """``{'id': ..., 'ifname': ..., 'name': ...}`` for one of our labels (a routed one's also
    ``uplink`` and ``on``, a list), else ``None``."""
    if not text or not isinstance(text, str):
        return None
    tokens = text.split(" ")
    if tokens[0] != LABEL_PREFIX:
        return None
    fields = {}
    for token in tokens[1:]:
        key, sep, value = token.partition("=")
        if not sep:
            return None
        fields[key] = unquote(value)
    if not fields.get("id") or not fields.get("if"):
        return None
    out = {"id": fields["id"], "ifname": fields["if"], "name": fields.get("name")}
    if fields.get("uplink"):
        out["uplink"] = fields["uplink"]
        out["on"] = [item for item in fields.get("on", "").split(",") if item]
    return out
