# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The container engine's options, shared by ``container_veth`` and ``lan_info``.

Paired with ``ENGINE_SPEC`` in ``plugins/module_utils/_container_veth/engine.py`` (the argument spec).
"""


class ModuleDocFragment:

    DOCUMENTATION = r"""
options:
  runtime:
    description:
      - The engine that runs the containers. Both speak the Docker Engine API; the choice only picks
        the default socket and labels messages.
      - V(auto) uses O(docker_host) (or E(DOCKER_HOST)) when given, else C(/run/docker.sock) when
        it exists, else Podman's C(/run/podman/podman.sock).
      - Defaults to V(auto).
    type: str
    choices: [auto, docker, podman]
  docker_host:
    description:
      - The engine's API socket, as C(unix:///path/to/socket) or an absolute path.
      - Defaults to the E(DOCKER_HOST) environment variable of the module, else the runtime's
        standard socket (C(unix:///run/docker.sock) for Docker, C(unix:///run/podman/podman.sock)
        for Podman).
    type: str
"""
