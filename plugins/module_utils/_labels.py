# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The labels (``ifalias``) this collection writes on what it made, so that it can be told from what it
did not make.

``PREFIX`` starts every label; ``BRIDGE`` labels a bridge of ``host_bridge``; ``VETH`` starts the label of
a host-side veth end of ``container_veth`` (``_container_veth/names.py`` writes and parses the rest).
"""

PREFIX = "lanbridge:"
BRIDGE = PREFIX + "bridge"
VETH = PREFIX + "veth"
