# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Persisting the bridge through the host's own network manager: pure functions on plain data.

``model``          the one model of the bridge (``model_from``) every renderer takes, its families
                   keyed ``inet``/``inet6`` (each renderer writes its manager's own words)
``common``         the plan shape, saved copies, ``simulate``, ``undo`` and ``restore``, an ini reader/writer
``networkd``       systemd-networkd ``.netdev``/``.network`` files
``ifupdown``       ``/etc/network/interfaces`` (and the files it sources)
``networkmanager`` NetworkManager keyfiles and a ``conf.d`` snippet; the administrator's profile of the
                   uplink (``admin_profile``), chosen once for addressing, identity and re-activation
``netplan``        a netplan YAML file that merges with the administrator's (whose uplink entry loses, in place,
                   only the keys a later file cannot take back)
``netplan_yaml``   netplan's YAML through PyYAML (imported there only), read as netplan reads it, edited in place
``owner``          who owns the uplink (``owners``, ``choose``), how it is addressed (``addressing_of``) and
                   its DHCP client identity (``dhcp_identity_of``)

Each renderer has ``reads(model, current=None)`` (the paths and globs the caller reads into
``current``, ``{path: text}``) and ``render(model, current)`` -> a plan (``common.plan``). The
caller applies a plan in this order: ``moves`` (rename, from -> to), then ``files`` (write
content with mode, atomically), then ``removes``. No renderer touches the system.
"""
