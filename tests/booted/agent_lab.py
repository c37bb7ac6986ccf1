"""Helpers of the agent's booted-lab tests (``test_agent.py``; the fixture is in ``conftest.py``)."""
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if os.path.join(ROOT, "tests", "lab") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "tests", "lab"))
import lab  # noqa: E402  pylint: disable=wrong-import-position

__all__ = ["CONTAINERS", "PREFIX", "addresses", "converge", "lab", "run_module"]

PREFIX = os.environ.get("LANBRIDGE_BOOTED_PREFIX", "ab")
CONTAINERS = 2


VENV_BIN = os.path.join(ROOT, ".venv", "bin")


def playbook_command():
    return shutil.which("ansible-playbook") or shutil.which("ansible-playbook", path=VENV_BIN)


def addresses(i=1):
    return {"app%d" % j: "198.51.100.%d" % (100 + 10 * i + j) for j in range(1, CONTAINERS + 1)}


def _env():
    return dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".build", "collections"),
                ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false", ANSIBLE_HOST_KEY_CHECKING="false",
                ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_CALLBACK_RESULT_FORMAT="json")


def _changed(res):
    assert res.returncode == 0, res.stdout[-6000:] + res.stderr[-3000:]
    recap = res.stdout.rsplit("PLAY RECAP", 1)[-1]
    return dict((line.split()[0], int(line.split("changed=")[1].split()[0])) for line in recap.splitlines() if "changed=" in line)


def run_module(state, tmp, module, args, check=False):
    """One task of ``lanbridge.core.MODULE`` with ``args`` on the lab's hosts; the changed count per host."""
    playbook = os.path.join(tmp, "module.yml")
    with open(playbook, "w") as f:
        json.dump([{"name": module, "hosts": "container_lan", "gather_facts": False,
                    "tasks": [{"name": module, "lanbridge.core." + module: args}]}], f)
    res = subprocess.run([playbook_command(), "-i", state["inventory"], playbook] + (["--check"] if check else []),
                         capture_output=True, text=True, env=_env(), timeout=600, check=False)
    return _changed(res)


def converge(state, tmp, agent=True):
    """Run the collection's site.yml against the lab; the parsed recap per host."""
    variables = {"container_lan_uplink": "em1", "container_lan_bridge": "br0", "container_lan_rollback_timeout": 5,
                 "container_lan_agent": agent,
                 "container_lan_interfaces": [{"container": n, "addresses": [a + "/24"]} for n, a in sorted(addresses().items())]}
    path = os.path.join(tmp, "vars.json")
    with open(path, "w") as f:
        json.dump(variables, f)
    playbook = os.path.join(tmp, "site.yml")
    with open(playbook, "w") as f:
        f.write("- name: Converge\n  ansible.builtin.import_playbook: lanbridge.core.site\n")
    res = subprocess.run([playbook_command(), "-i", state["inventory"], "-e", "@" + path, playbook],
                         capture_output=True, text=True, env=_env(), timeout=600, check=False)
    return _changed(res)
