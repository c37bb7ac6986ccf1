"""The role on a host whose Python has no pyroute2 (run as root): host_bridge fails saying so, and
only then the role installs it and runs host_bridge again; with container_lan_install_deps off the
run stops with that message and the host is untouched. A second run sends no install task.

The host's Python is a virtual environment without pyroute2; pyroute2 comes from a wheel on disk
(pip's ``--no-deps`` download into a temp dir, done in the root namespace before the run), given
to the role's pip step through its internal variables, since a lab host has no route to an index.
"""
import json
import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab

PREFIX = os.environ.get("LANBRIDGE_LAB_TEST_DEPS_PREFIX", "ld")
ROOT = lab.REPO
PLAYBOOK_BIN = shutil.which("ansible-playbook") or shutil.which("ansible-playbook", path=os.path.dirname(sys.executable))
ADDRESS = "198.51.100.41"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the lab needs root"),
    pytest.mark.needs("dockerd", "ansible-playbook"),
]


@pytest.fixture(scope="module")
def lab_state(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lanbridge-deps")
    wheels = tmp / "wheels"
    got = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels),
                          "pyroute2>=0.7.2,<0.10"], capture_output=True, text=True, check=False)
    found = sorted(wheels.glob("pyroute2-*.whl")) if got.returncode == 0 else []
    if not found:
        pytest.skip("no pyroute2 wheel to install from: %s" % got.stderr[-500:])
    venv = tmp / "python"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True, capture_output=True)
    state = lab.up(str(tmp / "lab"), PREFIX, 1, 1, owner=os.getpid())
    try:
        yield {"state": state, "tmp": tmp, "python": str(venv / "bin" / "python"),
               "wheel": str(found[0])}
    finally:
        lab.down(str(tmp / "lab"))


def site(ctx, **extra):
    """site.yml against the lab host with the venv Python; (returncode, stdout)."""
    host = next(iter(ctx["state"]["hosts"]))
    variables = dict({"ansible_python_interpreter": ctx["python"], "container_lan_uplink": "em1",
                      "container_lan_rollback_timeout": 5,
                      "container_lan_interfaces": [{"container": "app1", "addresses": [ADDRESS + "/24"]}]}, **extra)
    path = ctx["tmp"] / "vars.json"
    path.write_text(json.dumps(variables))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
               ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_HOST_KEY_CHECKING="false",
               ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default")
    res = subprocess.run([PLAYBOOK_BIN, "-i", ctx["state"]["inventory"], "-l", host, "-e", "@%s" % path,
                          os.path.join(ROOT, "playbooks", "site.yml")],
                         capture_output=True, text=True, env=env, timeout=600, check=False)
    return res.returncode, res.stdout + res.stderr


def has_bridge(ctx):
    host = next(iter(ctx["state"]["hosts"]))
    return subprocess.run(["ip", "netns", "exec", host, "ip", "link", "show", "br0"],
                          capture_output=True, check=False).returncode == 0


def test_without_install_deps_the_run_stops_with_the_reason_and_changes_nothing(lab_state):
    rc, out = site(lab_state, container_lan_install_deps=False)
    assert rc != 0, out
    assert "Failed to import the required Python library (pyroute2)" in out, out[-4000:]
    assert "Install pyroute2" not in out.split("Stop unless host_bridge only lacked pyroute2", 1)[-1]
    assert not has_bridge(lab_state)


def test_missing_pyroute2_is_installed_and_host_bridge_runs_again(lab_state):
    rc, out = site(lab_state, __container_lan_pyroute2_packages={}, __container_lan_pyroute2_pip=lab_state["wheel"])
    assert rc == 0, out[-6000:]
    recap = out.rsplit("PLAY RECAP", 1)[-1]
    assert "rescued=1" in recap and "failed=0" in recap, recap
    assert "TASK [lanbridge.core.container_lan : Install pyroute2 with pip]" in out
    assert has_bridge(lab_state)
    assert subprocess.run([lab_state["python"], "-c", "import pyroute2"], check=False).returncode == 0
    client = lab_state["state"]["netns_of"]["client"]
    assert subprocess.run(["ip", "netns", "exec", client, "ping", "-c", "1", "-W", "2", ADDRESS],
                          capture_output=True, check=False).returncode == 0
    rc, again = site(lab_state)
    assert rc == 0, again[-4000:]
    recap = again.rsplit("PLAY RECAP", 1)[-1]
    assert "changed=0" in recap and "rescued=0" in recap, recap
    assert "pyroute2" not in again.split("PLAY RECAP")[0].replace("lanbridge.core.container_lan", ""), again[-4000:]
