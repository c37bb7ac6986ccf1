#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

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
  - M(lanbridge.core.container_veth) does the same with its O(lanbridge.core.container_veth#module:agent) option, in the same run
    as the attachments (what the P(lanbridge.core.container_lan#role) role uses).
author:
  - lanbridge.core developers (@lanbridge)
requirements:
  - Python >= 3.8 on the managed node, with pyroute2 >= 0.7.2
  - systemd
extends_documentation_fragment:
  - lanbridge.core.attributes
  - lanbridge.core.attributes.all_full
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
installed:
  description: V(false) when the module ran outside init's network namespace and left the agent alone.
  returned: when nothing was installed or removed for that reason
  type: bool
  sample: false
skipped_reason:
  description: Why the agent was left alone.
  returned: when RV(installed) is returned
  type: str
  sample: not init's network namespace
"""

import traceback

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.lanbridge.core.plugins.module_utils._agent.manage import OPTIONS, manage
from ansible_collections.lanbridge.core.plugins.module_utils._errors import LanbridgeError


def main():
    module = AnsibleModule(
        argument_spec=dict(OPTIONS, bridge={"type": "str"},
                           interfaces={"type": "list", "elements": "dict", "default": []}),
        supports_check_mode=True,
    )
    try:
        result = manage(module.params, module.run_command, module.check_mode)
    except LanbridgeError as exc:
        module.fail_json(msg=str(exc))
    except Exception as exc:  # the last resort: one sentence, the traceback only in 'exception'
        module.fail_json(msg="attach_agent failed unexpectedly: %s: %s" % (type(exc).__name__, exc),
                         exception=traceback.format_exc())
    for warning in result.pop("warnings", []):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
