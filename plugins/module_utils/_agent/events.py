# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The engine's event stream: ``GET /events`` with filters for container ``start``, ``die`` and
``stop``, over the same unix socket the modules use (Docker, and Podman's compatible API).

Podman names a container's exit ``died`` (libpod's ``events.Exited``): its Docker-compatible
``/events`` reports it as ``die``, but matches the ``event`` filter against its own name, so a
filter of ``die`` alone never lets an exit through (Podman 4.3), and its ``stop`` event is not
sent on every stop (it is skipped when the container's exit was handled first). The filter
therefore also names ``died`` (Docker matches no event with it), and ``parse_event`` reads a
``died`` as ``die``.

``StreamDecoder`` turns the bytes of the HTTP response (status line, headers, a chunked or plain
body of concatenated JSON objects) into events, however the bytes are cut (pure): the body is
decoded as UTF-8 incrementally, so a character cut between two reads (or two chunks) is kept
whole; bytes that are not UTF-8 become U+FFFD.
``parse_event(obj)`` -> ``{'action', 'id', 'name', 'time'}`` from Docker's or Podman's fields
(``Action``/``status``, ``Actor.ID``/``id``, ``Actor.Attributes.name``, ``timeNano``/``time``), or None.
``Subscription(url)`` the request on a non-blocking socket: ``fileno()``, ``read()`` -> events,
``StreamClosed`` when the engine goes away.
"""

import codecs
import json
import socket

from urllib.parse import quote

from ansible_collections.lanbridge.core.plugins.module_utils._container_veth.engine import socket_path
from ansible_collections.lanbridge.core.plugins.module_utils._errors import StreamClosed

ACTIONS = ("start", "die", "stop")
ALIASES = {"died": "die"}  # Podman's own name of an exit (see above)
FILTERS = {"type": ["container"], "event": list(ACTIONS) + sorted(ALIASES)}
MAX_BUFFER = 1 << 20


def request(filters=None):
    """The HTTP request that subscribes (bytes)."""
    query = quote(json.dumps(filters or FILTERS, sort_keys=True, separators=(",", ":")), safe="")
    return ("GET /events?filters=%s HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n" % query).encode("ascii")


def parse_event(obj):
    """One decoded JSON event -> plain dict, or None when it is not a container start/die/stop."""
    if not isinstance(obj, dict):
        return None
    if (obj.get("Type") or obj.get("type") or "container") != "container":
        return None
    action = obj.get("Action") or obj.get("status") or ""
    action = action.split(":", 1)[0].strip()
    action = ALIASES.get(action, action)
    if action not in ACTIONS:
        return None
    actor = obj.get("Actor") or {}
    attributes = actor.get("Attributes") or {}
    ident = actor.get("ID") or obj.get("id")
    if not ident:
        return None
    when = None
    if obj.get("timeNano"):
        when = int(obj["timeNano"]) / 1e9
    elif obj.get("time"):
        when = float(obj["time"])
    return {"action": action, "id": ident, "name": attributes.get("name"), "time": when}


class StreamDecoder:
    """Feed bytes with ``feed(data)``; it returns the decoded JSON objects completed so far."""

    def __init__(self):
        self._buf = b""
        self._headers = None
        self.status = None
        self.chunked = False
        self._chunk_left = None  # bytes of the current chunk still to read (None: at a size line)
        self._need_crlf = False
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._text = ""  # the body decoded so far, not yet handed out as objects
        self._decoder = json.JSONDecoder()
        self.ended = False

    def feed(self, data):
        self._buf += data
        if self._headers is None:
            head, sep, rest = self._buf.partition(b"\r\n\r\n")
            if not sep:
                if len(self._buf) > MAX_BUFFER:
                    raise StreamClosed("the engine's answer has no end of headers")
                return []
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            try:
                self.status = int(parts[1])
            except (IndexError, ValueError):
                raise StreamClosed("the engine answered %r" % lines[0]) from None
            self._headers = dict((k.strip().lower(), v.strip()) for k, _s, v in (line.partition(":") for line in lines[1:]))
            self.chunked = "chunked" in self._headers.get("transfer-encoding", "").lower()
            self._buf = rest
            if self.status != 200:
                raise StreamClosed("the engine answered %d to GET /events: %s" % (self.status, rest[:200].decode("utf-8", "replace")))
        if self.chunked:
            self._dechunk()
        else:
            self._text += self._utf8.decode(self._buf)
            self._buf = b""
        return self._objects()

    def _dechunk(self):
        while True:
            if self._need_crlf:
                if len(self._buf) < 2:
                    return
                self._buf = self._buf[2:]
                self._need_crlf = False
            if self._chunk_left is None:
                line, sep, rest = self._buf.partition(b"\r\n")
                if not sep:
                    return
                try:
                    size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                except ValueError:
                    raise StreamClosed("bad chunk size %r" % line[:20]) from None
                self._buf = rest
                if size == 0:
                    self.ended = True
                    self._buf = b""
                    return
                self._chunk_left = size
            if not self._buf:
                return
            take = self._buf[:self._chunk_left]
            self._text += self._utf8.decode(take)
            self._buf = self._buf[len(take):]
            self._chunk_left -= len(take)
            if self._chunk_left == 0:
                self._chunk_left = None
                self._need_crlf = True

    def _objects(self):
        out = []
        text = self._text
        pos = 0
        while True:
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
            if pos >= len(text):
                break
            try:
                obj, end = self._decoder.raw_decode(text, pos)
            except ValueError:
                break  # incomplete: wait for more
            out.append(obj)
            pos = end
        self._text = text[pos:]
        if len(self._text) > MAX_BUFFER:
            raise StreamClosed("an event of more than %d characters" % MAX_BUFFER)
        return out


class Subscription:
    """``GET /events`` on engine ``url``, the socket non-blocking once the engine said 200."""

    def __init__(self, url, timeout=10.0, filters=None):
        self.url = url
        self.decoder = StreamDecoder()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        pending = []
        try:
            self.sock.settimeout(timeout)
            self.sock.connect(socket_path(url))
            self.sock.sendall(request(filters))
            while self.decoder.status is None:  # the subscription holds once the headers are in
                data = self.sock.recv(65536)
                if not data:
                    raise StreamClosed("the engine at %s closed the event stream before answering" % url)
                pending.extend(self.decoder.feed(data))
        except (OSError, StreamClosed) as exc:
            self.sock.close()
            if isinstance(exc, StreamClosed):
                raise
            raise StreamClosed("cannot subscribe to the events of %s: %s" % (url, exc.strerror or exc)) from None
        self.sock.setblocking(False)
        self._pending = pending

    def fileno(self):
        return self.sock.fileno()

    def read(self):
        """The events that arrived (plain dicts, see ``parse_event``); ``StreamClosed`` at the end."""
        objects, self._pending = self._pending, []
        while True:
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                raise StreamClosed("the event stream of %s failed: %s" % (self.url, exc.strerror or exc)) from None
            if not data:
                if objects:
                    break  # hand these out first; the next read reports the end
                raise StreamClosed("the engine at %s closed the event stream" % self.url)
            objects.extend(self.decoder.feed(data))
            if self.decoder.ended:
                break
        return [e for e in (parse_event(obj) for obj in objects) if e is not None]

    def close(self):
        self.sock.close()
