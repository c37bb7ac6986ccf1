# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What ``host_bridge`` is made of, besides the module file:

``facts``  the live facts it plans from (names instead of indexes), what a step does to them,
           and the views it reports
``steps``  the steps it plans, each with its undo
``plan``   the planner: facts + wanted state -> steps, before/after, probe targets (pure)
``apply``  the transaction on the kernel: steps, gateway probe, rollback
"""
