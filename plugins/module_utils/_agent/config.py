# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The agent's desired state: the file the role writes (root, 0600), plain JSON::

    {"version": 1, "bridge": "br0", "interval": 300,
     "firewall": {"enabled": true, "ipv6": false, "comment": "lanbridge.core container_lan"},
     "interfaces": [ ...exactly the entries the role passes to container_veth... ]}

``parse(data)`` -> ``Desired`` (pure; ``ValidationError`` naming the entry); ``load(path)`` reads the file.
Each entry is validated with ``_container_veth.entry.validate``, the module's own check; an entry
with ``state: absent`` is not the agent's business and is dropped.
"""

import json

from ansible_collections.lanbridge.core.plugins.module_utils import _firewall
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.engine import choose
from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.entry import validate, with_shared
from ansible_collections.lanbridge.core.plugins.module_utils._errors import ValidationError

STATE_FILE = "/etc/lanbridge/attachments.json"
FORMAT = 1
DEFAULT_INTERVAL = 300
DEFAULT_COMMENT = _firewall.DEFAULT_COMMENT


class Desired:
    """The validated desired state: ``entries`` (normalised), ``firewall``, ``interval``, ``engines``."""

    def __init__(self, entries, raw, firewall, interval):
        self.entries = entries
        self.raw = raw
        self.firewall = firewall
        self.interval = interval

    def engine_key(self, entry):
        """``(runtime, url)`` of the engine an entry's container runs on (None: not a container)."""
        if not entry.get("container"):
            return None
        return choose(entry.get("runtime") or "auto", entry.get("docker_host") or None, environ={})

    def engines(self):
        """Every engine the entries name, sorted."""
        return sorted(set(k for k in (self.engine_key(e) for e in self.entries) if k))

    def for_container(self, key, container_id, name):
        """The entries whose container is ``container_id`` / ``name`` on engine ``key``."""
        return [e for e in self.entries if self.engine_key(e) == key and matches(e["container"], container_id, name)]


def matches(wanted, container_id, name):
    """Whether an entry's ``container`` (a name, a full ID or an ID prefix of 12 or more) is this one."""
    if not wanted:
        return False
    if wanted in (name, container_id):
        return True
    return bool(container_id) and len(wanted) >= 12 and container_id.startswith(wanted)


def parse(data):
    """The file's decoded JSON -> ``Desired``; raises ``ValidationError`` with a sentence."""
    if not isinstance(data, dict):
        raise ValidationError("the state file is not a JSON object")
    if data.get("version", FORMAT) != FORMAT:
        raise ValidationError("state file format %r is not %d" % (data.get("version"), FORMAT))
    raw = data.get("interfaces") or []
    if not isinstance(raw, list):
        raise ValidationError("interfaces is not a list")
    bridge = data.get("bridge")
    entries = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ValidationError("interfaces[%d] is not an object" % index)
        entry = validate(with_shared(item, {"bridge": bridge}), index)
        if entry["state"] == "present":
            entries.append(entry)
    firewall = dict({"enabled": False, "ipv6": None, "comment": DEFAULT_COMMENT}, **(data.get("firewall") or {}))
    if firewall["ipv6"] is None:
        firewall["ipv6"] = any(":" in a for e in entries for a in e["addresses"])
    firewall["bridges"] = sorted(set(e["bridge"] for e in entries if e.get("bridge")) | set([bridge] if bridge else []))
    interval = data.get("interval") or DEFAULT_INTERVAL
    if not isinstance(interval, (int, float)) or interval <= 0:
        raise ValidationError("interval %r is not a positive number of seconds" % (interval,))
    return Desired(entries, raw, firewall, float(interval))


def load(path=STATE_FILE):
    """Read and parse the state file; a missing file is an empty desired state."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return parse({})
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ValidationError("%s is not JSON: %s" % (path, exc)) from None
    return parse(data)
