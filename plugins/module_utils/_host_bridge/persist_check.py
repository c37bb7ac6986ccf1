# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check the files a persistence plan is about to write with the manager's own parser, where it
offers one that touches nothing; nothing on the host changes here.

``validate(manager, the_plan, current)``: ``nmcli --offline`` reads each keyfile of the plan
    (NetworkManager 1.40 and later; an older ``nmcli`` that does not know ``--offline`` is not
    asked), ``netplan generate --root-dir`` every netplan file (/lib, /etc, /run) as the plan leaves
    them, in a scratch root (mode 0600, as netplan wants). ``PersistError`` names the file and the tool's answer. A manager whose tool is not
    installed, and the other managers, are not checked.
"""

import os
import shutil
import subprocess
import tempfile

from ansible_collections.lanbridge.core.plugins.module_utils._persist import common, netplan
from ansible_collections.lanbridge.core.plugins.module_utils._errors import PersistError


def _networkmanager(the_plan):
    for path, spec in sorted(the_plan["files"].items()):
        if not path.endswith(".nmconnection"):
            continue
        sections = common.ini_parse(spec["content"])
        name = common.ini_value(sections, "connection", "id") or "lanbridge"
        proc = subprocess.run(["nmcli", "--offline", "connection", "modify", "connection.id", name],
                              input=spec["content"], capture_output=True, text=True, timeout=30, check=False)
        if proc.returncode != 0 and "--offline" not in (proc.stderr or ""):
            raise PersistError("persist networkmanager: NetworkManager does not accept %s: %s"
                               % (path, (proc.stderr or proc.stdout).strip()))


def _netplan(the_plan, current):
    root = tempfile.mkdtemp(prefix="lanbridge-netplan-")
    try:
        files = common.simulate(current, the_plan)
        for path, text in sorted(files.items()):
            if os.path.dirname(path) in netplan.DIRS and path.endswith(".yaml"):
                os.makedirs(os.path.join(root, os.path.dirname(path).lstrip("/")), mode=0o700, exist_ok=True)
                fd = os.open(os.path.join(root, path.lstrip("/")), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(text)
        proc = subprocess.run(["netplan", "generate", "--root-dir", root], capture_output=True, text=True,
                              timeout=60, check=False)
        if proc.returncode != 0:
            raise PersistError("persist netplan: netplan generate refuses the files: %s" % (proc.stderr or proc.stdout).strip())
    finally:
        shutil.rmtree(root, ignore_errors=True)


def validate(manager, the_plan, current):
    if manager == "networkmanager" and shutil.which("nmcli"):
        _networkmanager(the_plan)
    if manager == "netplan" and shutil.which("netplan"):
        _netplan(the_plan, current)
