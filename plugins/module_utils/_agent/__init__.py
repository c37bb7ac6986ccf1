# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``lanbridge-attach``, the agent that keeps containers attached through restarts, engine restarts
and reboots, and what the ``attach_agent`` module installs it from:

``version``    the collection version the installed files record
``config``     the desired-state file (``/etc/lanbridge/attachments.json``): load and validate (pure)
``events``     the engine's ``GET /events`` stream over its unix socket: an incremental decoder (pure)
               and a non-blocking subscription
``firewall``   the bridge's accept rule (DOCKER-USER, else FORWARD) as iptables argument lists
``ops``        attach and detach with ``_container_veth``'s read -> plan -> apply, unchanged
``reconcile``  the agent's decisions: one reconcile for start-up, every event, a reload and the timer
               (pure, its operations injected)
``daemon``     the systemd service around that reconcile: subscribe, then list; a loop waiting
               (``poll``) on the streams, SIGHUP reload, ``READY=1``
``install``    the files the module installs: the sources of the agent's imports, the launcher,
               the unit; planned on plain data
``manage``     install, configure or remove the agent on a host: what ``attach_agent`` does, and
               ``container_veth``'s ``agent`` option
"""
