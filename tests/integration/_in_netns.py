"""Run a collection module as a script, but only outside the machine's root network namespace.

Usage (the integration harness does this): ``ip netns exec NS python _in_netns.py MODULE ARGS.json``.
The guard is the safety rule made executable: a module under test must never act on the
machine's own interfaces, so this refuses to start when /proc/self/ns/net is the initial one.
"""
import os
import runpy
import sys


def _netns_id(path):
    st = os.stat(path)
    return (st.st_dev, st.st_ino)


def root_netns_id():
    """The initial network namespace: PID 1's, or kthreadd's (PID 2) where PID 1 is not readable."""
    for pid in (1, 2):
        try:
            return _netns_id("/proc/%d/ns/net" % pid)
        except OSError:
            continue
    raise SystemExit("cannot identify the root network namespace: refusing to run")


def main():
    if _netns_id("/proc/self/ns/net") == root_netns_id():
        sys.stderr.write("refusing to run a module in the root network namespace\n")
        sys.exit(99)
    module, args_path = sys.argv[1], sys.argv[2]
    sys.argv = [module, args_path]
    runpy.run_module("ansible_collections.lanbridge.core.plugins.modules." + module, run_name="__main__")


if __name__ == "__main__":
    main()
