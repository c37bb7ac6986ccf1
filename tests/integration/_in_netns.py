"""Run a collection module as a script, but only outside the machine's root network namespace.

Usage (the integration harness does this): ``ip netns exec NS python _in_netns.py MODULE ARGS.json``.
The guard is the safety rule made executable: a module under test must never act on the
machine's own interfaces, so this refuses to start when /proc/self/ns/net is the initial one.
"""
import runpy
import sys

from helpers import in_root_netns  # this script's directory is sys.path[0]


def main():
    if in_root_netns():
        sys.stderr.write("refusing to run a module in the root network namespace\n")
        sys.exit(99)
    module, args_path = sys.argv[1], sys.argv[2]
    sys.argv = [module, args_path]
    runpy.run_module("ansible_collections.lanbridge.core.plugins.modules." + module, run_name="__main__")


if __name__ == "__main__":
    main()
