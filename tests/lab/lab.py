"""The lab's entry point: ``python3 tests/lab/lab.py up|down|status|...``.

The lab is the package in this directory (see ``__init__.py``); this file
keeps the command line and ``import lab`` (with tests/lab on sys.path, as
tests/bench/bench.py does) working: it loads the package by path and
re-exports its API (``lab.up``, ``lab.down``, ``lab.load_state``, ...).
``package()`` is the one loader of the package by path (the integration
tests' ``helpers.lab_package`` uses it too).
"""

import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_NAME = "lanbridge_lab"


def package():
    """The lab package, loaded by path once (as ``lanbridge_lab``)."""
    if __package__:  # imported as a submodule of the package itself
        return sys.modules[__package__]
    if _NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            _NAME, os.path.join(_HERE, "__init__.py"),
            submodule_search_locations=[_HERE])
        module = importlib.util.module_from_spec(spec)
        sys.modules[_NAME] = module
        spec.loader.exec_module(module)
    return sys.modules[_NAME]


_pkg = package()
globals().update({name: getattr(_pkg, name) for name in _pkg.__all__})
__all__ = list(_pkg.__all__)

if __name__ == "__main__":
    sys.exit(_pkg.main())
