"""The lab's command line (``python3 tests/lab/lab.py ...``).

    lab.py up     [--state-dir DIR] [--prefix P] [--hosts N] [--containers M]
                  [--forward-drop LIST] [--booted KIND[:ADDRESSING][@RELEASE][+podman],...]
                  [--engine docker|podman|both[,...]]
    lab.py down   [--state-dir DIR]
    lab.py status [--state-dir DIR]
    lab.py gateway up|down [--state-dir DIR]
    lab.py reboot HOST [--state-dir DIR]
    lab.py flap   HOST [SECONDS] [--state-dir DIR]
    lab.py exec   HOST [--state-dir DIR] -- CMD [ARG...]
    lab.py image  [KIND[:ADDRESSING][@RELEASE][+podman] ...]
                  (build the booted hosts' images now, unless cached; default: Debian 12)

    --engine podman        every bare host runs a rootful Podman service instead of dockerd
    --engine both          Podman beside Docker on every bare host
    --engine podman,docker one per host, hosts 1, 2, ... (the rest: docker)
"""

import argparse
import json
import subprocess
import sys
import time

from . import booted, lifecycle, osimage
from ._const import LabError
from ._state import resolve_state_dir


def _parse_drop(text):
    if not text:
        return ()
    try:
        return tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"--forward-drop {text!r}: comma-separated host numbers") from e


def _parser():
    ap = argparse.ArgumentParser(
        prog="lab.py",
        description="The lanbridge lab: a simulated LAN in network namespaces, "
                    "with real engines and, on request, booted hosts.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", default=None,
                        help="default: $LANBRIDGE_LAB_DIR or <repo>/.lab")
    p_up = sub.add_parser("up", parents=[common], help="build the lab")
    p_up.add_argument("--prefix", default=None,
                      help="namespace prefix, <= 4 chars "
                           "(default: $LANBRIDGE_LAB_PREFIX or lb)")
    p_up.add_argument("--hosts", type=int, default=None,
                      help="number of hosts (default 2, or the number of "
                           "--booted hosts)")
    p_up.add_argument("--containers", type=int, default=3)
    p_up.add_argument("--forward-drop", type=_parse_drop, default=(),
                      help="comma-separated host numbers that keep "
                           "iptables -P FORWARD DROP")
    p_up.add_argument("--booted", default="",
                      help="comma-separated KIND[:ADDRESSING][@RELEASE][+podman] "
                           "for hosts 1, 2, ...: KIND networkd, ifupdown, "
                           "networkmanager, netplan (renderer networkd) or "
                           "netplan-nm (renderer NetworkManager), ADDRESSING "
                           "static (default) or dhcp, RELEASE 12 (default) or "
                           "13, +podman Podman 5 beside Docker (Debian 13); "
                           "the other hosts are bare namespaces")
    p_up.add_argument("--engine", default="",
                      help="docker (default), podman or both (Podman beside "
                           "Docker) for every bare host, or one per host, "
                           "comma-separated; booted hosts run Docker")
    sub.add_parser("down", parents=[common], help="remove the lab")
    sub.add_parser("status", parents=[common], help="show the lab")
    p_gw = sub.add_parser("gateway", parents=[common],
                          help="set the gateway's link up or down")
    p_gw.add_argument("state", choices=("up", "down"))
    p_rb = sub.add_parser("reboot", parents=[common],
                          help="reboot a booted host (a fresh namespace, the "
                               "same disk)")
    p_rb.add_argument("host")
    p_fl = sub.add_parser("flap", parents=[common],
                          help="take a host's switch port down, then up, and "
                               "show what happened to its em1 addresses")
    p_fl.add_argument("host")
    p_fl.add_argument("seconds", nargs="?", type=float, default=5.0)
    p_ex = sub.add_parser("exec", parents=[common],
                          help="run a command on a host (inside the booted "
                               "system; in the namespace of a bare host)")
    p_ex.add_argument("host")
    p_ex.add_argument("command", nargs="*",
                      help="the command, after -- (lab.py exec HOST -- CMD ...)")
    p_im = sub.add_parser("image", help="build the booted hosts' images (cached)")
    p_im.add_argument("kinds", nargs="*", default=["networkd"],
                      help="host kinds whose images to build (default: Debian 12's)")
    return ap


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    tail = []
    if "--" in argv:  # everything after the first -- is exec's command
        cut = argv.index("--")
        argv, tail = argv[:cut], argv[cut + 1:]
    args = _parser().parse_args(argv)
    if tail and args.cmd != "exec":
        _parser().error(f"{args.cmd}: unexpected arguments after --")
    try:
        if args.cmd == "up":
            t0 = time.monotonic()
            state = lifecycle.up(args.state_dir, args.prefix, args.hosts,
                                 args.containers, args.forward_drop,
                                 booted=args.booted, engine=args.engine)
            print(lifecycle.summary(state))
            print(f"  up took {time.monotonic() - t0:.1f}s")
        elif args.cmd == "down":
            t0 = time.monotonic()
            done = lifecycle.down(args.state_dir)
            print(f"lab removed in {time.monotonic() - t0:.1f}s" if done
                  else f"no lab in {resolve_state_dir(args.state_dir)}")
        elif args.cmd == "status":
            ok, lines = lifecycle.status(args.state_dir)
            print("\n".join(lines))
            return 3 if ok is None else (0 if ok else 1)
        elif args.cmd == "gateway":
            lifecycle.set_gateway(args.state_dir, args.state == "up")
        elif args.cmd == "reboot":
            seconds = lifecycle.reboot(args.state_dir, args.host)
            print(f"{args.host} rebooted in {seconds:.1f}s")
        elif args.cmd == "flap":
            print(json.dumps(lifecycle.flap(args.state_dir, args.host,
                                            args.seconds), indent=2))
        elif args.cmd == "exec":
            cmd = args.command + tail
            if not cmd:
                raise LabError("exec: no command (lab.py exec HOST -- CMD ...)")
            prefix, env = lifecycle.exec_argv(args.state_dir, args.host)
            return subprocess.call(prefix + cmd, env=env)
        elif args.cmd == "image":
            for kind in args.kinds:
                t0 = time.monotonic()
                root = osimage.ensure_image(image=booted.image_of(booted.parse_kind(kind)))
                print(f"image {root} ready ({time.monotonic() - t0:.1f}s)")
    except LabError as e:
        print(f"lab: {e}", file=sys.stderr)
        return 1
    return 0
