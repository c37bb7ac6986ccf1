# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``host_bridge`` is made of, besides the module file:

``options``    its argument spec, the meaning of each option (pure), how long the probe may wait
``facts``      the live facts it plans from (names instead of indexes), what a step does to them,
               and the views it reports
``ownership``  whose bridge it is: only bridges it made, or was told to adopt, are changed (pure)
``steps``      the steps it plans, each with its undo
``plan``       the planner: facts + wanted state -> steps, before/after, probe targets (pure)
``persist``    persistence's plan: the file and activation steps for the uplink's manager (rendered
               by ``_persist``), each with its undo, and their order with the kernel's; it reads
               through ``persist_read`` and checks through ``persist_check``
``persist_read`` what persistence reads from the host: the uplink's owner (files under ``/run``,
               ``nmcli``), this collection's persisted bridges, the manager's files, lease files
``persist_check`` the files about to be written, checked by the manager's own parser (``nmcli
               --offline``, ``netplan generate``) without touching the host
``persist_ops``  the file and command steps' execution (``write_file``, ``rename_file``,
               ``remove_file``, ``run``, ``noop``)
``warnings``   what names the uplink (iptables, nft, ip rules, sysctls) and stops applying once
               it is a port of the bridge: warnings, read-only
``apply``      the transaction on the kernel and the files: steps, gateway probe, rollback

``lan_info`` reuses ``facts``, ``ownership``, ``plan`` (``uplink_of_bridge``) and ``persist_read``
(``persisted_by``).
"""
