"""The lab's fixed names, addresses and limits (one place for all of them)."""

import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_STATE_DIR = os.path.join(REPO, ".lab")
RUN_ROOT = "/run/lanbridge-lab"
CGROUP_ROOT = "/sys/fs/cgroup"

LAN4 = "198.51.100."
LAN6 = "2001:db8:100::"
PLEN4, PLEN6 = 24, 64
GATEWAY4, GATEWAY6 = LAN4 + "254", LAN6 + "fe"
CLIENT4, CLIENT6 = LAN4 + "250", LAN6 + "fa"
CTL4, CTL6 = LAN4 + "200", LAN6 + "c8"
# The switch's own address, only when it serves DHCP (dnsmasq binds to sw0).
SWITCH4 = LAN4 + "253"
UPLINK = "em1"
SWITCH = "sw0"
MAX_HOSTS = 40
MAX_CONTAINERS = 100  # per host; the agent benchmark puts 100 on one booted host (198.51.100.100-199)
# A booted host's em1 has a fixed MAC (02:00 + 198.51.100 + host number): a
# reboot plugs a fresh em1 of the same MAC into the same switch port.
MAC_PREFIX = "02:00:c6:33:64"
DHCP_LEASE = "2m"  # dnsmasq's minimum: renewals happen within a test
# The container's command: sh as PID 1 with a TERM trap, so `docker stop` is
# instant; httpd serves a page naming the container.
APP_CMD = ('echo "$(hostname)" > /www/index.html; trap "exit 0" TERM; '
           'httpd -f -p 80 -h /www & wait')

PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,3}$")


class LabError(RuntimeError):
    """Raised with a message that says what failed, where and why."""
