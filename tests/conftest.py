"""Make the collection importable as ``ansible_collections.lanbridge.core`` for every test.

The checkout is linked into ``.build/collections/ansible_collections/lanbridge/core``
(``make collection`` does the same); tests import the modules and module_utils from there.
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
_LINK = os.path.join(COLLECTIONS, "ansible_collections", "lanbridge", "core")

if not os.path.lexists(_LINK):
    os.makedirs(os.path.dirname(_LINK), exist_ok=True)
    os.symlink(ROOT, _LINK)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (COLLECTIONS, os.environ.get("PYTHONPATH")) if p)
