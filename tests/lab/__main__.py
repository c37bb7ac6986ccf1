"""``python3 -m lab`` (with tests/ on sys.path): the same as ``lab.py``."""

import sys

from .cli import main

sys.exit(main())
