"""The watchdog outside the caller, on a booted Debian 12 lab host (systemd is PID 1, networkd owns em1).

host_bridge runs through Ansible (SSH) with a probe nobody answers. While it waits, ``systemctl``
shows its rollback unit ``lanbridge-rollback-br0.service``; 1 s after em1 is in br0 every process
of the SSH session is killed (its ``session-N.scope`` stopped where logind made one; these images
have no ``pam_systemd``, so the session's processes are those of ``ssh.service``'s cgroup but the
listening sshd, as logind's ``KillUserProcesses`` would kill them). The host must then be exactly
as before (links, addresses, routes, networkd's files) within ``rollback_timeout`` + 5 s, undone by
the unit, which says so in the system journal.
"""
import json
import os
import subprocess
import time

import pytest

from test_persist import ROOT, VENV, config_files, inside, lab  # tests/booted is on sys.path under pytest

PREFIX = os.environ.get("LANBRIDGE_ROLLBACK_PREFIX", "rb")
TIMEOUT = 10  # rollback_timeout
UNIT = "lanbridge-rollback-br0.service"

# every process in the SSH session's cgroup (the module's, as its journal names it) but the listening
# sshd; a session scope is stopped as logind would
KILL_SESSION = r"""
pid=$(sed -n '1s/.*"pid": \([0-9]*\).*/\1/p' /run/lanbridge/journal-*-br0.json)
cg=$(sed -n 's/^0:://p' /proc/$pid/cgroup)
case "$cg" in
  */session-*.scope) systemctl stop "${cg##*/}" ;;
  *) keep=$(systemctl show --property MainPID --value ssh.service)
     for p in $(cat /sys/fs/cgroup$cg/cgroup.procs); do [ "$p" = "$keep" ] || kill -9 "$p"; done ;;
esac
echo "$pid $cg"
"""


@pytest.fixture(scope="module")
def rollback_lab(tmp_path_factory):
    state_dir = str(tmp_path_factory.mktemp("lanbridge-rollback") / "lab")
    state = lab.up(state_dir, PREFIX, hosts=1, containers=0, booted=["networkd"], owner=os.getpid())
    try:
        yield state
    finally:
        lab.down(state_dir)


def host_state(state, host):
    """Links, addresses, routes and networkd's files, without what the kernel changes by itself."""
    text = "\n".join([inside(state, host, "ip", "-o", "link", "show"),
                      inside(state, host, "ip", "-o", "addr", "show"),
                      inside(state, host, "ip", "route", "show", "table", "all"),
                      config_files(state, host)])
    lines = []
    for line in text.splitlines():
        words = line.replace("\\", " ").split()
        for field in ("valid_lft", "preferred_lft", "expires"):
            if field in words:
                words[words.index(field) + 1] = "*"
        lines.append(" ".join(words))
    return "\n".join(lines)


def test_the_rollback_unit_outlives_the_ssh_session(rollback_lab):
    state = rollback_lab
    host = next(iter(state["hosts"]))
    before = host_state(state, host)
    args = {"name": "br0", "uplink": "em1", "probe": ["198.51.100.77"], "rollback_timeout": TIMEOUT}
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
               ANSIBLE_HOST_KEY_CHECKING="false", PATH=VENV + os.pathsep + os.environ.get("PATH", ""))
    run = subprocess.Popen([os.path.join(VENV, "ansible"), "-i", state["inventory"], host, "-m", "lanbridge.core.host_bridge",
                            "-a", json.dumps(args)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while "master br0" not in inside(state, host, "ip", "-o", "link", "show", "em1"):
            assert time.monotonic() < deadline and run.poll() is None, "em1 never joined br0: %s" % (
                run.communicate()[0][-3000:] if run.poll() is not None else "")
            time.sleep(0.1)
        joined, seen = time.monotonic(), ""
        while time.monotonic() < joined + 1:
            seen = seen or inside(state, host, "systemctl", "list-units", "--no-legend", "--state=active", UNIT).strip()
            time.sleep(0.05)
        cgroup = inside(state, host, "sh", "-c", KILL_SESSION).strip()
        killed = time.monotonic()
        assert seen.startswith(UNIT), "systemctl did not show %s while the module waited" % UNIT
        assert len(cgroup.split()) == 2 and "lanbridge-rollback" not in cgroup, cgroup  # the module's, not the unit's
        now = None
        while time.monotonic() < killed + TIMEOUT + 5:
            now = host_state(state, host)
            if now == before:
                break
            time.sleep(0.2)
        assert now == before, "not restored %d s after the kill:\n%s" % (TIMEOUT + 5, "\n".join(
            sorted(set(now.splitlines()) ^ set(before.splitlines()))))
        print("restored %.1f s after the session was killed (%s)" % (time.monotonic() - killed, cgroup))
    finally:
        run.kill()
        run.communicate()
    log = inside(state, host, "journalctl", "--no-pager", "-u", UNIT)
    assert "rolled back by the watchdog" in log, log[-3000:]
