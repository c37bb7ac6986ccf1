# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``container_veth`` is made of, besides the module file, in the order a run uses them:

``entry``    the options of one entry, validated; the ``Attachment`` record it travels in
``targets``  a container, PID or namespace path -> its network namespace and identity
``engine``   the Docker / Podman API over its unix socket (standard library)
``names``    host-side name, MAC and label from identity, never from PIDs
``read``     the live state: one socket and one dump per namespace for the whole run
``plan``     the planner: live + wanted -> steps and before/after facts (pure); the user's route
             options translated to the codec's routes and back
``purge``    which labelled attachments the entry list no longer names
``apply``    the steps on the kernel, entry by entry, phase by phase, each entry its own transaction
``batch``    one batch under the bridges' locks: read and plan every entry, purge, apply (the
             module's run and the agent's attach)
``report``   the module's result from the records of the run
"""
