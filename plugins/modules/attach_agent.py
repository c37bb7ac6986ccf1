#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: attach_agent
short_description: Install, configure or remove the lanbridge-attach agent that keeps containers on the LAN
version_added: 0.1.0
description:
  - Installs C(lanbridge-attach), a small daemon that keeps the containers of a host attached to
    the LAN bridge through container restarts, engine restarts and reboots, and runs it as the
    systemd service C(lanbridge-attach.service) (C(Type=notify), C(Restart=always), after the engine).
  - The agent subscribes to the engine's event stream (Docker, or Podman's compatible API), then
    lists and reconciles every desired attachment; on a container's C(start) it attaches it with
    M(lanbridge.core.container_veth)'s own read, plan and apply code, on C(die) or C(stop) it deletes
    the host end at once; it keeps the bridge's firewall accept rule in place. See the agent guide.
  - The code is this collection's own, copied from the module's payload to
    C(/usr/local/lib/lanbridge-attach) with the launcher C(/usr/local/sbin/lanbridge-attach) and the
    unit C(/etc/systemd/system/lanbridge-attach.service); every file records the collection version,
    so a new collection version rewrites them and restarts the service.
  - The desired attachments go to C(/etc/lanbridge/attachments.json) (root, 0600), exactly the
    entries given in O(interfaces). When only that file changes the service is reloaded (SIGHUP).
  - Requires systemd on the managed node.
author:
  - lanbridge.core developers (@lanbridge)
requirements:
  - Python >= 3.8 on the managed node, with pyroute2 >= 0.7.2
  - systemd
options:
  state:
    description:
      - V(present) installs and configures the agent, enables and starts the service.
      - V(absent) stops and disables the service and removes every file this module wrote.
    type: str
    choices: [present, absent]
    default: present
  bridge:
    description: The bridge of entries that do not name their own, and of the firewall rule.
    type: str
  interfaces:
    description:
      - The desired attachments, in the format of M(lanbridge.core.container_veth)'s O(lanbridge.core.container_veth#module:interfaces)
        (the role passes exactly the list it gives that module). Each entry is checked like that
        module checks it.
    type: list
    elements: dict
    default: []
  firewall:
    description:
      - Keep the rule that accepts traffic within the bridge in C(DOCKER-USER) (or C(FORWARD) where
        that chain does not exist), the rule of the P(lanbridge.core.container_lan#role) role.
    type: bool
    default: true
  firewall_comment:
    description: The comment that marks the firewall rule.
    type: str
    default: lanbridge.core container_lan
  interval:
    description: Seconds between the agent's periodic full reconciles (a safety net besides the events).
    type: int
    default: 300
attributes:
  check_mode:
    support: full
    description: Compares the files and the service with what they should be and changes nothing.
  diff_mode:
    support: full
    description: The desired-state file, the installed version and the service's state, before and after.
  idempotent:
    support: full
    description: A second run with the same options changes nothing.
notes:
  - The agent runs under the host's systemd, in init's network namespace. Run elsewhere (a container,
    a namespace that shares the host's file system), the module installs and removes nothing and warns.
  - The agent runs as root. Its journal is C(journalctl -u lanbridge-attach), one line per action.
seealso:
  - module: lanbridge.core.container_veth
"""

EXAMPLES = r"""
- name: Keep web1 on the LAN through restarts and reboots
  lanbridge.core.attach_agent:
    bridge: br0
    interfaces:
      - container: web1
        addresses: [198.51.100.10/24]
        gateway: 198.51.100.1

- name: Remove the agent
  lanbridge.core.attach_agent:
    state: absent
"""

RETURN = r"""
version:
  description: The collection version of the installed agent (null when absent).
  returned: always
  type: str
  sample: 0.1.0
files:
  description: The files written (or, with V(state=absent), removed); in check mode, those that would be.
  returned: always
  type: list
  elements: str
  sample: [/etc/lanbridge/attachments.json]
service:
  description: What was (or would be) done to the service.
  returned: always
  type: str
  sample: reloaded
state_file:
  description: The desired-state file the agent reads.
  returned: always
  type: str
  sample: /etc/lanbridge/attachments.json
"""

import json
import os
import sys

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.persist import in_init_netns
from ansible_collections.lanbridge.core.plugins.module_utils._agent import config as agent_config
from ansible_collections.lanbridge.core.plugins.module_utils._agent import daemon as agent_daemon
from ansible_collections.lanbridge.core.plugins.module_utils._agent import install
from ansible_collections.lanbridge.core.plugins.module_utils._agent.version import COLLECTION_VERSION


def _systemctl(module, *args):
    rc, out, _err = module.run_command(["systemctl"] + list(args))
    return rc, out.strip()


def _service_state(module):
    enabled = _systemctl(module, "is-enabled", install.UNIT_NAME)[0] == 0
    active = _systemctl(module, "is-active", install.UNIT_NAME)[0] == 0
    return {"enabled": enabled, "active": active}


def _must(module, *args):
    rc, out, err = module.run_command(["systemctl"] + list(args))
    if rc != 0:
        module.fail_json(msg="systemctl %s failed (%d): %s" % (" ".join(args), rc, (err or out).strip()))


def _state_of(live):
    item = live.get(install.STATE_FILE)
    if item is None:
        return None
    try:
        return json.loads(item[0].decode("utf-8"))
    except ValueError:
        return item[0].decode("utf-8", "replace")


def present(module):
    p = module.params
    text = install.state_text(p["bridge"], p["interfaces"], p["firewall"], p["firewall_comment"], p["interval"])
    try:
        agent_config.parse(json.loads(text))
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    # the sources of the agent's import closure (agent_daemon and what it imports), from this payload
    wanted = install.wanted_files(sys.executable, text, install.sources(required=[agent_daemon]))
    live = install.read_live(list(wanted))
    write, remove = install.plan(wanted, live)
    service = _service_state(module)
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
    if changed and not module.check_mode:
        for path in write:
            install.write(path, *wanted[path])
        for path in remove:
            os.unlink(path)
        if install.UNIT in write:
            _must(module, "daemon-reload")
        if not service["enabled"]:
            _must(module, "enable", install.UNIT_NAME)
        if action == "started":
            _must(module, "start", install.UNIT_NAME)
        elif action == "restarted":
            _must(module, "restart", install.UNIT_NAME)
        elif action == "reloaded":
            _must(module, "reload", install.UNIT_NAME)
    version_file = os.path.join(install.LIB, "VERSION")
    before = {"state_file": _state_of(live), "version": live[version_file][0].decode().split()[-1] if version_file in live else None,
              "service": service}
    after = {"state_file": json.loads(text), "version": COLLECTION_VERSION, "service": {"enabled": True, "active": True}}
    module.exit_json(changed=changed, version=COLLECTION_VERSION, files=write + remove, service=action or "unchanged",
                     state_file=install.STATE_FILE, diff={"before": before, "after": after})


def absent(module):
    paths = [install.LAUNCHER, install.UNIT, install.STATE_FILE]
    live = install.read_live(paths)
    service = _service_state(module)
    files = sorted(live)
    changed = bool(files or service["enabled"] or service["active"])
    if changed and not module.check_mode:
        if service["active"]:
            _must(module, "stop", install.UNIT_NAME)
        if service["enabled"]:
            _must(module, "disable", install.UNIT_NAME)
        for path in paths:
            if os.path.exists(path):
                os.unlink(path)
        install.remove_tree()
        if os.path.isdir(install.STATE_DIR) and not os.listdir(install.STATE_DIR):
            os.rmdir(install.STATE_DIR)
        if install.UNIT in live:
            _must(module, "daemon-reload")
    action = "stopped" if service["active"] else ("disabled" if service["enabled"] else "unchanged")
    module.exit_json(changed=changed, version=None, files=files, service=action, state_file=install.STATE_FILE,
                     diff={"before": {"state_file": _state_of(live), "service": service},
                           "after": {"state_file": None, "service": {"enabled": False, "active": False}}})


def main():
    module = AnsibleModule(
        argument_spec={
            "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
            "bridge": {"type": "str"},
            "interfaces": {"type": "list", "elements": "dict", "default": []},
            "firewall": {"type": "bool", "default": True},
            "firewall_comment": {"type": "str", "default": agent_config.DEFAULT_COMMENT},
            "interval": {"type": "int", "default": agent_config.DEFAULT_INTERVAL},
        },
        supports_check_mode=True,
    )
    if not in_init_netns():
        # a host's systemd (init) runs the agent in init's network namespace: a module that runs in
        # another one (a container, a lab or test namespace on a shared file system) must never
        # install a service that would act in init's namespace instead
        module.warn("attach_agent: this runs in a network namespace that is not init's; the agent runs only where "
                    "the host's systemd manages the network namespace: nothing installed or removed")
        module.exit_json(changed=False, installed=False, skipped_reason="not init's network namespace")
    if module.params["state"] == "present":
        present(module)
    absent(module)


if __name__ == "__main__":
    main()
