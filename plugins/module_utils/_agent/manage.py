# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Install, configure or remove the agent on this host: what ``attach_agent`` does, and what
``container_veth`` does with its ``agent`` option (the role's no-op run then needs no task of its
own for the agent).

``OPTIONS`` the argument spec of the agent's own options (both modules use it).
``manage(params, run, check_mode)`` -> the result (``changed``, ``version``, ``files``, ``service``,
    ``state_file``, ``diff``; ``installed=False`` and ``skipped_reason`` outside init's network
    namespace, with ``warnings``). ``params``: ``state``, ``bridge``, ``interfaces``, ``firewall``,
    ``firewall_comment``, ``interval``. ``run(argv)`` -> ``(rc, stdout, stderr)`` (``module.run_command``).
    Raises ``AgentError`` naming what failed.

The code the service runs is this payload's own (``install.sources``: the import closure of
``daemon``, imported here for that reason).
"""

import json
import os
import shutil
import sys

from ansible_collections.lanbridge.core.plugins.module_utils._agent import config as agent_config
from ansible_collections.lanbridge.core.plugins.module_utils._agent import daemon as agent_daemon
from ansible_collections.lanbridge.core.plugins.module_utils._agent import install
from ansible_collections.lanbridge.core.plugins.module_utils._agent.version import COLLECTION_VERSION
from ansible_collections.lanbridge.core.plugins.module_utils._kernel.netns import in_init_netns
from ansible_collections.lanbridge.core.plugins.module_utils._errors import AgentError, ValidationError

NOT_INIT_WARNING = ("lanbridge-attach: this runs in a network namespace that is not init's; the agent runs only "
                    "where the host's systemd manages the network namespace: nothing installed or removed")


# The agent's own options: attach_agent's (beside bridge and interfaces) and container_veth's ``agent``.
OPTIONS = {
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "firewall": {"type": "bool", "default": True},
    "firewall_comment": {"type": "str", "default": agent_config.DEFAULT_COMMENT},
    "interval": {"type": "int", "default": agent_config.DEFAULT_INTERVAL},
}


def _service_state(run):
    enabled = run(["systemctl", "is-enabled", install.UNIT_NAME])[0] == 0
    active = run(["systemctl", "is-active", install.UNIT_NAME])[0] == 0
    return {"enabled": enabled, "active": active}


def _must(run, *args):
    rc, out, err = run(["systemctl"] + list(args))
    if rc != 0:
        raise AgentError("systemctl %s failed (%d): %s" % (" ".join(args), rc, (err or out).strip()))


def _state_of(live):
    item = live.get(install.STATE_FILE)
    if item is None:
        return None
    try:
        return json.loads(item[0].decode("utf-8"))
    except ValueError:
        return item[0].decode("utf-8", "replace")


def present(params, run, check_mode):
    text = install.state_text(params["bridge"], params["interfaces"], params["firewall"], params["firewall_comment"],
                              params["interval"])
    try:
        agent_config.parse(json.loads(text))
    except ValidationError as exc:
        raise AgentError(str(exc)) from None
    wanted = install.wanted_files(sys.executable, text, install.sources([agent_daemon]))
    live = install.read_live(list(wanted))
    write, remove = install.plan(wanted, live)
    service = _service_state(run)
    code_changed = any(path != install.STATE_FILE for path in write + remove)
    if not service["active"]:
        action = "started"
    elif code_changed:
        action = "restarted"
    elif install.STATE_FILE in write:
        action = "reloaded"
    else:
        action = None
    changed = bool(write or remove or action or not service["enabled"])
    if changed and not check_mode:
        for path in write:
            install.write(path, *wanted[path])
        for path in remove:
            os.unlink(path)
        if install.UNIT in write:
            _must(run, "daemon-reload")
        if not service["enabled"]:
            _must(run, "enable", install.UNIT_NAME)
        if action:
            _must(run, {"started": "start", "restarted": "restart", "reloaded": "reload"}[action], install.UNIT_NAME)
    version_file = os.path.join(install.LIB, "VERSION")
    before = {"state_file": _state_of(live), "service": service,
              "version": live[version_file][0].decode().split()[-1] if version_file in live else None}
    after = {"state_file": json.loads(text), "version": COLLECTION_VERSION, "service": {"enabled": True, "active": True}}
    return dict(changed=changed, version=COLLECTION_VERSION, files=write + remove, service=action or "unchanged",
                state_file=install.STATE_FILE, diff={"before": before, "after": after})


def absent(run, check_mode):
    paths = [install.LAUNCHER, install.UNIT, install.STATE_FILE]
    live = install.read_live(paths)
    service = _service_state(run)
    files = sorted(live)
    changed = bool(files or service["enabled"] or service["active"])
    if changed and not check_mode:
        if service["active"]:
            _must(run, "stop", install.UNIT_NAME)
        if service["enabled"]:
            _must(run, "disable", install.UNIT_NAME)
        for path in paths:
            if os.path.exists(path):
                os.unlink(path)
        install.remove_tree()
        if os.path.isdir(install.STATE_DIR) and not os.listdir(install.STATE_DIR):
            os.rmdir(install.STATE_DIR)
        if install.UNIT in live:
            _must(run, "daemon-reload")
    action = "stopped" if service["active"] else ("disabled" if service["enabled"] else "unchanged")
    return dict(changed=changed, version=None, files=files, service=action, state_file=install.STATE_FILE,
                diff={"before": {"state_file": _state_of(live), "service": service},
                      "after": {"state_file": None, "service": {"enabled": False, "active": False}}})


def manage(params, run, check_mode):
    try:
        return _manage(params, run, check_mode)
    except OSError as exc:
        doing = "installing the agent" if params["state"] == "present" else "removing the agent"
        raise AgentError("%s: %s" % (doing, exc)) from exc


def _manage(params, run, check_mode):
    if shutil.which("systemctl") is None:
        if params["state"] == "absent":
            return dict(changed=False, installed=False, skipped_reason="no systemd on this host",
                        version=None, files=[], service="unchanged", state_file=install.STATE_FILE)
        raise AgentError("the agent runs as a systemd service, and this host has no systemctl; without systemd, "
                         "set the agent to absent (container_lan_agent: false) and re-run the role after restarts")
    if not in_init_netns():
        # a host's systemd (init) runs the agent in init's network namespace: a module that runs in
        # another one (a container, a lab or test namespace on a shared file system) must never
        # install a service that would act in init's namespace instead
        return dict(changed=False, installed=False, skipped_reason="not init's network namespace",
                    warnings=[NOT_INIT_WARNING])
    if params["state"] == "present":
        return present(params, run, check_mode)
    return absent(run, check_mode)
