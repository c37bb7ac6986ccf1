# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""netplan's YAML through PyYAML, read as netplan reads it and edited in place.

PyYAML is imported on first use, only where netplan files are read: every host with netplan has it
(Debian's and Ubuntu's ``netplan.io`` depend on ``python3-yaml``); without it ``PersistError`` says so.

``load(text, path)`` -> ``(node, data)`` of the file's first document (netplan reads only the
    first; ``None, None`` for an empty file), read like netplan's libyaml parser: every scalar a
    string (``yaml.BaseLoader``; netplan gives a scalar its type by the key, so ``true``, ``2`` and
    ``52:54:00:12:34:56`` stay text), anchors and aliases resolved. ``PersistError`` names the file
    and where PyYAML stopped.
``truth(value)`` -> whether a netplan boolean scalar is true (``true``, ``yes``, ``on``, ``y``).
``remove_keys(text, path, entry_path, keys)`` -> ``text`` without the mapping entries ``keys`` of the
    mapping at ``entry_path`` (a tuple of keys from the top, in the first document): the lines of
    each removed key and its value go, every other character stays; a mapping written in flow style
    (``em1: {addresses: [...], dhcp4: true}``) is written again in flow style, without the keys. A
    key whose value holds an anchor that another part of the file uses, or a mapping that is an
    alias or a merge (``<<``), is refused (``PersistError`` naming the key): removing its text would
    change another entry.
``dump(data, header)`` -> YAML text of ``data`` (strings, lists, dicts) after the ``header`` line,
    block style (a list of scalars in flow style), lists indented, scalars plain wherever YAML allows
    (netplan types them by key).
"""

from ansible_collections.lanbridge.core.plugins.module_utils._errors import PersistError

TRUE = ("true", "yes", "on", "y")


def _yaml():
    try:
        import yaml  # noqa: PLC0415  here, not at the top: only a host whose netplan files are read needs it
    except ImportError as exc:
        raise PersistError("persist netplan: PyYAML (python3-yaml) is not installed on this host; netplan.io depends on "
                           "it, install python3-yaml to read the netplan files") from exc
    return yaml


def load(text, path):
    yaml = _yaml()
    loader = yaml.BaseLoader(text)
    try:
        node = loader.get_node() if loader.check_node() else None
        return node, (loader.construct_document(node) if node is not None else None)
    except yaml.YAMLError as exc:
        raise PersistError("persist netplan: %s is not YAML netplan can read: %s" % (path, " ".join(str(exc).split()))) from exc
    finally:
        loader.dispose()


def truth(value):
    return isinstance(value, str) and value.lower() in TRUE


def _uses(node, counts):
    """Count how often each node object is reached (an alias reaches its anchor's node again)."""
    counts[id(node)] = counts.get(id(node), 0) + 1
    if counts[id(node)] > 1 or not isinstance(node.value, list):
        return counts
    for item in node.value:
        for sub in (item if isinstance(item, tuple) else (item,)):
            _uses(sub, counts)
    return counts


def _nodes(node):
    yield node
    if isinstance(node.value, list):
        for item in node.value:
            for sub in (item if isinstance(item, tuple) else (item,)):
                yield from _nodes(sub)


def _last_line(text, key, node):
    """The line on which the text of ``key``'s value ``node`` ends (a block collection's end mark is the
    next token; an alias, whose node is its anchor's, ends on the key's line)."""
    if node.start_mark.index < key.end_mark.index:
        return key.start_mark.line
    if node.start_mark.index == node.end_mark.index:
        return node.start_mark.line
    lines = text[:node.end_mark.index].rstrip().split("\n")
    if not getattr(node, "flow_style", None) and getattr(node, "style", None) not in ("|", ">"):
        while len(lines) > node.start_mark.line + 1 and (not lines[-1].strip() or lines[-1].lstrip().startswith("#")):
            lines.pop()
    return len(lines) - 1


def _name(entry_path, key):
    return ".".join(list(entry_path) + [key])


def _refuse_shared(text, path, entry_path, root, mapping, keys):
    counts = _uses(root, {})
    if counts.get(id(mapping), 0) > 1:
        raise PersistError("persist netplan: %s in %s is an alias or carries an anchor another entry uses: its keys cannot "
                           "be removed without changing that entry; write it out" % (".".join(entry_path), path))
    for key_node, value in mapping.value:
        if key_node.value == "<<":
            raise PersistError("persist netplan: %s in %s merges another mapping (<<): write it out" % (_name(entry_path, "<<"), path))
        if key_node.value not in keys:
            continue
        span = (key_node.start_mark.index, _line_end(text, _last_line(text, key_node, value)))
        for node in _nodes(value):
            if counts.get(id(node), 0) > 1 and span[0] <= node.start_mark.index < span[1]:
                raise PersistError("persist netplan: %s in %s holds an anchor another entry uses: write it out"
                                   % (_name(entry_path, key_node.value), path))


def _walk(root, data, entry_path):
    """``(key node, mapping node, data)`` at ``entry_path``, or Nones."""
    key_node, mapping = None, root
    for key in entry_path:
        found = [(k, v) for k, v in (mapping.value if mapping is not None and mapping.tag.endswith(":map") else [])
                 if k.value == key]
        key_node, mapping = found[-1] if found else (None, None)
        data = data.get(key) if isinstance(data, dict) else None
    return key_node, mapping, data


def _line_start(text, index):
    return text.rfind("\n", 0, index) + 1


def _line_end(text, line):
    """The index just after line ``line`` (its newline included)."""
    index = 0
    for _n in range(line + 1):
        found = text.find("\n", index)
        index = len(text) if found < 0 else found + 1
    return index


def remove_keys(text, path, entry_path, keys):
    root, data = load(text, path)
    key_node, mapping, entry = _walk(root, data, entry_path)
    if mapping is None or not mapping.tag.endswith(":map") or not any(k.value in keys for k, _v in mapping.value):
        return text
    _refuse_shared(text, path, entry_path, root, mapping, keys)
    if mapping.flow_style:
        kept = dict((k, v) for k, v in entry.items() if k not in keys)
        flow = _yaml().dump(kept, Dumper=_dumper(), default_flow_style=True, width=1 << 16).strip()
        return text[:mapping.start_mark.index] + flow + text[mapping.end_mark.index:]
    spans = [(_line_start(text, k.start_mark.index), _line_end(text, _last_line(text, k, v)))
             for k, v in mapping.value if k.value in keys]
    out, at = [], 0
    if all(k.value in keys for k, _v in mapping.value):  # nothing left: netplan wants a mapping there
        colon = text.index(":", key_node.end_mark.index) + 1
        out, at = [text[:colon], " {}"], colon
    for first, last in sorted(spans):
        out.append(text[at:first])
        at = last
    out.append(text[at:])
    return "".join(out)


def _dumper():
    yaml = _yaml()

    class Dumper(yaml.emitter.Emitter, yaml.serializer.Serializer, yaml.representer.SafeRepresenter, yaml.resolver.BaseResolver):
        """SafeDumper without implicit types: every scalar a plain string where YAML allows; lists indented."""

        def __init__(self, stream, **kwargs):
            yaml.emitter.Emitter.__init__(self, stream, width=kwargs.get("width"), allow_unicode=True)
            yaml.serializer.Serializer.__init__(self)
            yaml.representer.SafeRepresenter.__init__(self, default_flow_style=kwargs.get("default_flow_style", False),
                                                      sort_keys=False)
            yaml.resolver.BaseResolver.__init__(self)

        def increase_indent(self, flow=False, indentless=False):
            return super().increase_indent(flow, False)

        def ignore_aliases(self, data):
            return True

        def represent_list(self, data):
            flat = all(isinstance(item, str) for item in data)
            return self.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat or None)

    Dumper.add_representer(list, Dumper.represent_list)
    return Dumper


def dump(data, header):
    yaml = _yaml()
    return header + "\n" + yaml.dump(data, Dumper=_dumper(), default_flow_style=False, width=1 << 16)
