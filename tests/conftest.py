"""Make the collection importable as ``ansible_collections.lanbridge.core`` for every test.

The checkout is linked into ``.build/collections/ansible_collections/lanbridge/core``
(``make collection`` does the same); tests import the modules and module_utils from there.
"""
import os
import shutil
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS = os.path.join(ROOT, ".build", "collections")
_LINK = os.path.join(COLLECTIONS, "ansible_collections", "lanbridge", "core")

if not os.path.lexists(_LINK):
    os.makedirs(os.path.dirname(_LINK), exist_ok=True)
    os.symlink(ROOT, _LINK)
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (COLLECTIONS, os.environ.get("PYTHONPATH")) if p)


# ``@pytest.mark.needs("podman", "nsenter")`` on a test or module: a tool that ``make deps`` installs
# and that is missing fails the test, naming it; it is never skipped, so a test that could not run
# is never counted as passed.
def pytest_configure(config):
    config.addinivalue_line("markers", "needs(*tools): tools (on PATH) the test needs; missing ones fail it")


def pytest_runtest_setup(item):
    venv_bin = os.path.join(ROOT, ".venv", "bin")
    for mark in item.iter_markers(name="needs"):
        missing = [t for t in mark.args if not (shutil.which(t) or shutil.which(t, path=venv_bin))]
        if missing:
            pytest.fail("%s not installed (make deps installs %s)" % (", ".join(missing), "them" if len(missing) > 1 else "it"),
                        pytrace=False)
