# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ops persistence adds to ``host_bridge``'s executor, and how each is performed.

``FILE_OPS``: ``write_file`` (``path``, ``content``, ``mode``: written to ``<path>.lanbridge-new``,
    synced, renamed over ``path``; missing directories made), ``rename_file`` (``src``, ``dst``),
    ``remove_file`` (``path``; a ``.network.d`` drop-in directory left empty goes too), ``run``
    (``argv``: a command that must exit 0 within 60 s; with ``unless``, a check command first: exit 0
    means it is done already and ``argv`` is not run, 1 that ``argv`` runs, anything else fails the
    step, so a step run twice, as a rollback's undo may be, changes once), ``noop`` (nothing; its undo is what counts).
``execute(step)`` performs one of them; ``PersistError`` says which step failed and why.
"""

import os
import subprocess

from ansible_collections.lanbridge.core.plugins.module_utils._errors import PersistError

FILE_OPS = ("write_file", "rename_file", "remove_file", "run", "noop")


def _command(argv, what, ok=(0,)):
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PersistError("%s: %s failed: %s" % (what, " ".join(argv), exc)) from exc
    if proc.returncode not in ok:
        raise PersistError("%s: %s failed (%d): %s" % (what, " ".join(argv), proc.returncode,
                                                       (proc.stderr or proc.stdout).strip()))
    return proc.returncode


def _write(path, content, mode):
    if not os.path.isdir(os.path.dirname(path)):
        os.makedirs(os.path.dirname(path), mode=0o755)
    tmp = "%s.lanbridge-new" % path
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, mode)
    try:
        os.write(fd, content.encode("utf-8"))
        os.fchmod(fd, mode)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)


def _remove(path):
    if os.path.lexists(path):
        os.unlink(path)
    parent = os.path.dirname(path)
    if parent.endswith(".network.d") and os.path.isdir(parent) and not os.listdir(parent):
        os.rmdir(parent)  # a drop-in directory written for us (netplan's IAID)


def execute(item):
    op, args = item["op"], item["args"]
    if op == "noop":
        return
    if op == "run":
        if args.get("unless") and _command(args["unless"], item["text"], ok=(0, 1)) == 0:
            return
        _command(args["argv"], item["text"])
        return
    try:
        if op == "rename_file":
            os.rename(args["src"], args["dst"])
        elif op == "remove_file":
            _remove(args["path"])
        elif op == "write_file":
            _write(args["path"], args["content"], args["mode"])
    except OSError as exc:
        raise PersistError("failed to %s: %s" % (item["text"], exc.strerror or exc)) from exc
