# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The capabilities every lanbridge.core module declares: check mode, diff mode, idempotency.

Use ``extends_documentation_fragment: [lanbridge.core.attributes]`` for the descriptions and set
``support`` per attribute in the module, or ``lanbridge.core.attributes.all_full`` when the
module supports all three fully (both modules do).
"""


class ModuleDocFragment:

    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description:
      - Can run in check mode. The plan is computed from the live state and returned (with the
        diff and C(changed)) without changing anything on the host.
  diff_mode:
    description:
      - In diff mode, returns the observed facts (before) and the planned facts (after).
  idempotent:
    description:
      - A second run with the same options changes nothing and reports C(changed=false).
"""

    ALL_FULL = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
"""
