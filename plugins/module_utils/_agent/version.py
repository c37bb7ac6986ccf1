# -*- coding: utf-8 -*-
# Copyright: lanbridge.core contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection version the agent's installed files record (kept equal to ``galaxy.yml``'s
``version`` by a unit test), so a new collection version rewrites them."""

COLLECTION_VERSION = "0.1.0"
