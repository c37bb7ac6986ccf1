# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``lan_info`` is made of, besides the module file, in the order a run uses them:

``read``         the live state, read only: the host's dump, each attachment's container (through
                 its engine) or namespace (found by its inode), and the dump of that namespace
``bridges``      the bridges ``host_bridge`` manages, as ``host_bridge`` reports them (pure)
``attachments``  each labelled veth and each foreign port of a managed bridge, with its status (pure)

Nothing here changes anything: no request other than a dump is sent, no pyroute2 socket is opened.
"""
