# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The steps ``host_bridge`` plans, each with its undo computed from the live facts now.

Steps are ``_transaction.step`` data: ``op`` names a ``_kernel.netlink.Netlink`` method and
``args`` its arguments, so applying one is ``getattr(netlink, op)(**args)``.
"""

from ansible_collections.lanbridge.core.plugins.module_utils._kernel.codec import describe_route
from ansible_collections.lanbridge.core.plugins.module_utils._transaction import step as _step

# address flags that are the kernel's state, not something a caller sets
KERNEL_ADDRESS_FLAGS = ("permanent", "secondary", "tentative", "deprecated", "dadfailed")


def _address_args(addr, link):
    flags = [f for f in addr.get("flags") or [] if f not in KERNEL_ADDRESS_FLAGS]
    return dict(link=link, address=addr["address"], prefixlen=addr["prefixlen"], broadcast=addr.get("broadcast"),
                flags=flags, valid_lft=addr.get("valid_lft"), preferred_lft=addr.get("preferred_lft"))


def add_address_step(addr, link):
    args = _address_args(addr, link)
    return _step("add_address", "add address %s/%s to %s" % (addr["address"], addr["prefixlen"], link),
                 undo=[_step("delete_address", "delete address %s/%s from %s" % (addr["address"], addr["prefixlen"], link),
                             link=link, address=addr["address"], prefixlen=addr["prefixlen"])], **args)


def delete_address_step(addr, link):
    undo = add_address_step(addr, link)
    undo["undo"] = []
    return _step("delete_address", "delete address %s/%s from %s" % (addr["address"], addr["prefixlen"], link),
                 undo=[undo], link=link, address=addr["address"], prefixlen=addr["prefixlen"])


def _as_kernel_has_it(route, moved_from=None, moved_to=None):
    """A multipath route as the kernel keeps it: no device of its own; the nexthops through
    ``moved_from`` (the ``dev`` that ``facts.movable_routes`` gave it) now through ``moved_to``."""
    route = dict(route)
    if route.get("nexthops"):
        route["nexthops"] = [dict(hop, dev=moved_to) if moved_from and hop.get("dev") == moved_from else dict(hop)
                             for hop in route["nexthops"]]
        route["dev"] = None
    return route


def replace_route_step(old, new):
    """Move ``old`` in place to ``new`` (every attribute kept: onlink, metrics, source, preference,
    remaining expiry); a multipath route's nexthops through ``old['dev']`` move to ``new['dev']``."""
    before = _as_kernel_has_it(old)
    after = _as_kernel_has_it(new, old.get("dev"), new.get("dev"))
    return _step("replace_route", "move route %s to %s" % (describe_route(before), describe_route(after)),
                 undo=[_step("replace_route", "put back route %s" % describe_route(before), route=before)],
                 route=after)


def set_link_step(name, current, **changes):
    """``set_link`` for the changed attributes only; ``current`` is the link's facts (for the undo).

    One attribute per step, so a step either happened or not and its undo is exact."""
    wanted = dict((k, v) for k, v in changes.items() if v is not None and current.get(k) != v)
    if not wanted:
        return None
    back = {}
    for key in wanted:
        old = current.get(key)
        back[key] = (old or 0) if key == "master" else (old or "") if key == "ifalias" else old
    shown = ["%s %s" % (k, "nomaster" if k == "master" and not v else v) for k, v in sorted(wanted.items())]
    text = "set %s %s" % (name, ", ".join(shown))
    undo_text = "set %s %s" % (name, ", ".join("%s %s" % (k, v) for k, v in sorted(back.items())))
    return _step("set_link", text, undo=[_step("set_link", undo_text, link=name, **back)], link=name, **wanted)
