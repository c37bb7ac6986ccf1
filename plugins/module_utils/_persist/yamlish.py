# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The YAML netplan files are written in, without PyYAML: block mappings and sequences, flow
``[...]``/``{...}``, plain and quoted scalars, ``#`` comments (no anchors, tags or multi-line scalars).

``parse(text)``       -> plain Python (dict, list, str, int, bool, None)
``key_spans(text)``   -> ``{path: (first, last)}``: the lines (end exclusive) of each block-mapping key,
                         ``path`` a tuple of keys; keys inside sequence items are not listed
``flow(value)``       -> ``value`` in flow style (one line)
"""

import re

_PLAIN_SAFE = re.compile(r"^[A-Za-z0-9_.][A-Za-z0-9_./:+-]*$")


def _strip_comment(line):
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
    return line.rstrip()


def _tokens(text):
    found = []
    for number, raw in enumerate(text.splitlines()):
        line = _strip_comment(raw)
        if line.strip() and line.strip() != "---":
            found.append((len(line) - len(line.lstrip()), line.strip(), number))
    return found


def _split_key(content):
    """``(key, rest)`` of a ``key: value`` line, or None."""
    quote = None
    for i, ch in enumerate(content):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"" and i == 0:
            quote = ch
        elif ch == ":" and (i + 1 == len(content) or content[i + 1] == " "):
            return _scalar(content[:i].strip()), content[i + 1:].strip()
        elif ch in "[{" and i == 0:
            return None
    return None


def _scalar(word):
    if len(word) >= 2 and word[0] == word[-1] and word[0] in "'\"":
        return word[1:-1]
    low = word.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("null", "~", ""):
        return None
    if re.match(r"^-?\d+$", word):
        return int(word)
    return word


def _skip(text, i, chars=" "):
    while i < len(text) and text[i] in chars:
        i += 1
    return i


def _flow(text, i):
    """Parse a flow value at ``text[i]``: ``(value, next index)``."""
    i = _skip(text, i)
    if text[i] in "[{":
        mapping, items, close, i = text[i] == "{", [], "}" if text[i] == "{" else "]", i + 1
        while True:
            i = _skip(text, i, " ,")
            if text[i] == close:
                return (dict(items) if mapping else items), i + 1
            if mapping:
                j = i
                while not (text[j] == ":" and (j + 1 == len(text) or text[j + 1] in " ,]}")):
                    j += 1
                key = _scalar(text[i:j].strip())
                value, i = _flow(text, j + 1)
                items.append((key, value))
            else:
                value, i = _flow(text, i)
                items.append(value)
    j = text.index(text[i], i + 1) + 1 if text[i] in "'\"" else i
    while j < len(text) and text[j] not in ",]}":
        j += 1
    return _scalar(text[i:j].strip()), j


def _value(rest):
    return _flow(rest, 0)[0] if rest[:1] in ("[", "{") else _scalar(rest)


def _block(tokens, i, indent):
    if tokens[i][1].startswith("- ") or tokens[i][1] == "-":
        items = []
        while i < len(tokens) and tokens[i][0] == indent and (tokens[i][1].startswith("- ") or tokens[i][1] == "-"):
            rest = tokens[i][1][1:].lstrip()
            if not rest:
                value, i = _block(tokens, i + 1, tokens[i + 1][0])
            elif _split_key(rest):
                shift = indent + len(tokens[i][1]) - len(rest)
                value, i = _block(tokens[:i] + [(shift, rest, tokens[i][2])] + tokens[i + 1:], i, shift)
            else:
                value, i = _value(rest), i + 1
            items.append(value)
        return items, i
    mapping = {}
    while i < len(tokens) and tokens[i][0] == indent and not tokens[i][1].startswith("- "):
        key, rest = _split_key(tokens[i][1]) or (tokens[i][1], "")
        i += 1
        if rest:
            mapping[key] = _value(rest)
        elif i < len(tokens) and (tokens[i][0] > indent or (tokens[i][0] == indent and tokens[i][1].startswith("- "))):
            mapping[key], i = _block(tokens, i, tokens[i][0])
        else:
            mapping[key] = None
    return mapping, i


def parse(text):
    tokens = _tokens(text)
    return _block(tokens, 0, tokens[0][0])[0] if tokens else None


def key_spans(text):
    tokens = _tokens(text)
    spans, stack = {}, []
    for t, (indent, content, number) in enumerate(tokens):
        if content.startswith("- ") or content == "-":
            continue
        split = _split_key(content)
        if split is None:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if stack and stack[-1][2]:
            continue  # inside a sequence item
        path = tuple(s[1] for s in stack) + (split[0],)
        u = t + 1
        while u < len(tokens) and (tokens[u][0] > indent or (tokens[u][0] == indent and tokens[u][1].startswith("-"))):
            u += 1
        spans[path] = (number, tokens[u - 1][2] + 1)
        in_seq = u > t + 1 and tokens[t + 1][1].startswith("-")
        stack.append((indent, split[0], in_seq))
    return spans


def flow(value):
    if isinstance(value, dict):
        return "{" + ", ".join("%s: %s" % (flow(k), flow(v)) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        return "null"
    text = str(value)
    return text if _PLAIN_SAFE.match(text) and not isinstance(_scalar(text), bool) else '"%s"' % text.replace('"', '\\"')
