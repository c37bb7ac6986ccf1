"""The lab's Ansible inventory (``inventory.yml`` in the state dir)."""

import json
import os

from . import _state
from ._const import GATEWAY4, GATEWAY6, PLEN4, PLEN6, UPLINK


def write_inventory(state):
    p = state["prefix"]
    common = ("-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
              f"-o ControlPath={state['run_dir']}/cp-%C "
              f"-o ProxyCommand=\"ip netns exec {p}-ctl /bin/busybox nc "
              "%h %p\"")
    q = json.dumps  # a JSON string is a valid YAML scalar
    lines = [
        "# Written by tests/lab/lab.py up; removed by lab.py down.",
        "container_lan:",
        "  vars:",
        "    ansible_user: root",
        f"    ansible_ssh_private_key_file: {q(state['ssh_key'])}",
        f"    ansible_ssh_common_args: {q(common)}",
        "    ansible_python_interpreter: /usr/bin/python3",
        "    ansible_pipelining: true  # what the README recommends: one SSH round trip per task",
        f"    lab_gateway: {q(GATEWAY4)}",
        f"    lab_gateway6: {q(GATEWAY6)}",
        f"    lab_gateway_netns: {q(state['netns_of']['gw'])}",
        f"    lab_client_netns: {q(state['netns_of']['client'])}",
        f"    lab_ctl_netns: {q(state['netns_of']['ctl'])}",
        f"    lab_prefix: {q(p)}",
        f"    lab_state_dir: {q(state['state_dir'])}",
        "  hosts:",
    ]
    for host, h in state["hosts"].items():
        lines += [
            f"    {host}:",
            f"      ansible_host: {q(h['address4'])}",
            f"      lab_netns: {q(host)}",
            f"      lab_uplink: {UPLINK}",
            f"      lab_address: {q(h['address4'] + '/' + str(PLEN4))}",
            f"      lab_address6: {q(h['address6'] + '/' + str(PLEN6))}",
            f"      lab_containers: {q(h['containers'])}",
            f"      lab_forward_drop: {q(h['forward_drop'])}",
        ]
        engine = h.get("engine") or "docker"
        lines.append(f"      lab_engine: {q(engine)}")
        if engine == "podman":
            # Podman only: the role reaches the containers through Podman's socket.
            lines += [
                f"      container_lan_docker_host: {q(h['podman_host'])}",
                "      container_lan_runtime: podman",
            ]
        else:
            lines.append(f"      container_lan_docker_host: {q(h['docker_host'])}")
        if engine == "both":
            lines += [
                f"      lab_podman_host: {q(h['podman_host'])}",
                f"      lab_podman_containers: {q(h['podman_containers'])}",
            ]
        if h.get("booted"):
            # A booted host: its own systemd, network manager and docker.service.
            lines += [
                "      lab_booted: true",
                f"      lab_manager: {q(h['manager'])}",
                f"      lab_addressing: {q(h['addressing'])}",
                f"      lab_mac: {q(h['mac'])}",
            ]
    path = os.path.join(state["state_dir"], "inventory.yml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    state["inventory"] = path
    _state.save(state)
