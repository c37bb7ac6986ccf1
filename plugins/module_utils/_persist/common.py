# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every renderer shares: the plan, saved copies, undo and restore, ini files.

A plan is ``{'files': {path: {'content': text, 'mode': int}}, 'moves': [(from, to)],
'removes': [path], 'warnings': [sentence]}``, applied as moves, then files, then removes.

Every file the collection writes from scratch starts with ``MARKER``; every administrator's file
it changes or sets aside is first moved, byte for byte, to ``saved(path)`` (a name the manager
ignores). So the way back is on disk, not only in the actor's memory:

``undo(plan, previous)`` -> the plan that takes the files back to ``previous`` (``{path: text}``
    as read before ``plan`` was applied): the exact inverse.
``restore(current, original_of=unsaved)`` -> the plan that removes every file starting with ``MARKER``
    and moves every saved copy back, from the files alone (``state: absent`` without a journal).
``simulate(files, plan)`` -> ``files`` (``{path: text}``) after ``plan``: check mode and the tests.
``original(current, path, saved_of=saved)`` -> the administrator's text of ``path``: its saved copy
    when there is one (an earlier run), else the file itself, else None.
``ini_parse(text)`` -> ``[(section, [(key, value)])]``; ``ini(sections)`` -> text (systemd and keyfile style).
"""

import math

MARKER = "# Written by lanbridge.core (host_bridge persist); removed by state: absent."
SAVED_SUFFIX = ".lanbridge-saved"


def seconds_text(value):
    """The text of a number of seconds as the managers write it: ``15``, ``2.5``."""
    return "%d" % value if float(value).is_integer() else "%s" % value


def whole_seconds_text(value):
    """The text of a number of seconds rounded to a whole one (half up): ``15``, ``16`` for 15.5. For NetworkManager's
    ``bridge.forward-delay`` (an unsigned integer) and netplan's ``forward-delay``, which netplan passes on
    as it is written to NetworkManager too."""
    return "%d" % math.floor(float(value) + 0.5)


def saved(path):
    return path + SAVED_SUFFIX


def plan():
    return {"files": {}, "moves": [], "removes": [], "warnings": []}


def write(result, path, content, mode=0o644):
    result["files"][path] = {"content": content, "mode": mode}


def set_aside(result, current, path, saved_of=saved):
    """Move ``path`` to its saved name unless an earlier run did (its saved copy is in ``current``)."""
    if saved_of(path) not in current and path in current:
        result["moves"].append((path, saved_of(path)))


def original(current, path, saved_of=saved):
    if saved_of(path) in current:
        return current[saved_of(path)]
    return current.get(path)


def is_ours(text):
    return text is not None and text.startswith(MARKER)


def simulate(files, the_plan):
    out = dict(files)
    for src, dst in the_plan["moves"]:
        out[dst] = out.pop(src)
    for path, spec in the_plan["files"].items():
        out[path] = spec["content"]
    for path in the_plan["removes"]:
        out.pop(path, None)
    return out


def undo(the_plan, previous):
    back = plan()
    moved_from = set(src for src, _dst in the_plan["moves"])
    back["moves"] = [(dst, src) for src, dst in reversed(the_plan["moves"])]
    for path in the_plan["files"]:
        if path in moved_from:
            continue  # the move back puts the original over it
        if path in previous:
            write(back, path, previous[path], None)
        else:
            back["removes"].append(path)
    for path in the_plan["removes"]:
        if path in previous:
            write(back, path, previous[path], None)
    return back


def unsaved(path):
    return path[:-len(SAVED_SUFFIX)]


def restore(current, original_of=unsaved):
    """``current`` holds the renderer's reads, saved copies included; ``original_of`` maps a saved
    copy's path back to the path it was saved from."""
    back = plan()
    back["moves"] = [(p, original_of(p)) for p in sorted(current) if p.endswith(SAVED_SUFFIX)]
    targets = set(dst for _src, dst in back["moves"])
    back["removes"] = sorted(p for p, text in current.items() if is_ours(text) and p not in targets)
    return back


def ini_parse(text):
    sections = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            sections.append((line[1:-1].strip(), []))
        elif "=" in line and sections:
            key, value = line.split("=", 1)
            sections[-1][1].append((key.strip(), value.strip()))
    return sections


def ini_values(sections, section, key):
    return [v for name, items in sections if name == section for k, v in items if k == key]


def ini_value(sections, section, key, default=None):
    found = ini_values(sections, section, key)
    return found[-1] if found else default


def ini(sections, header=MARKER):
    lines = [header] if header else []
    for name, items in sections:
        if lines:
            lines.append("")
        lines.append("[%s]" % name)
        lines.extend("%s=%s" % (k, v) for k, v in items)
    return "\n".join(lines) + "\n"
