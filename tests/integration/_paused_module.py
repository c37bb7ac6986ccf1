"""Run a collection module as ``_in_netns.py`` does, but pausing after its N-th applied step, so a
crash test can kill it between two steps. The pause wraps ``_journal.Journal.applied`` from here,
before the module runs: the module, its transaction and its journal are the production ones.

Usage: ``ip netns exec NS python _paused_module.py N SECONDS MODULE ARGS.json``.
"""
import sys
import time

import _in_netns  # this script's directory is sys.path[0]
from ansible_collections.lanbridge.core.plugins.module_utils._journal import Journal


def pause_after(count, seconds):
    """Make every journal sleep ``seconds`` once it has recorded its ``count``-th applied step."""
    applied = Journal.applied

    def applied_then_pause(journal, done):
        applied(journal, done)
        if done == count:
            time.sleep(seconds)

    Journal.applied = applied_then_pause


if __name__ == "__main__":
    pause_after(int(sys.argv[1]), float(sys.argv[2]))
    sys.argv[1:] = sys.argv[3:]
    _in_netns.main()
