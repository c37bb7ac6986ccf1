"""The benchmark's count of tasks that reach a host (tests/bench/_remote.py), on recorded data.

    .venv/bin/pytest -q tests/bench        (no lab, no root; not part of make test)
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _remote  # noqa: E402


def task(host, uuid, name, action, status="ok", invocation=True, delegate_to=None):
    return {"kind": "task", "host": host, "uuid": uuid, "task": name, "action": action, "status": status,
            "invocation": invocation, "delegate_to": delegate_to, "changed": False}


def remote(host, uuid, name, module, delegate_to=None):
    return [{"kind": "remote", "via": "module", "what": module, "host": host, "uuid": uuid, "task": name,
             "delegate_to": delegate_to},
            {"kind": "remote", "via": "command", "what": "/usr/bin/python3", "host": host, "uuid": uuid, "task": name,
             "delegate_to": delegate_to}]


def test_two_module_tasks_and_controller_tasks():
    records = [task("h1", "a", "Check the inventory", "ansible.builtin.set_fact", invocation=False),
               task("h1", "b", "Put the uplink into the bridge", "lanbridge.core.host_bridge"),
               task("h1", "c", "Attach every container", "lanbridge.core.container_veth"),
               task("h1", "d", "Details", "ansible.builtin.debug", status="skipped", invocation=False),
               task("h1", "e", "Summary", "ansible.builtin.debug", invocation=False)]
    rem = remote("h1", "b", "Put the uplink into the bridge", "lanbridge.core.host_bridge") + \
        remote("h1", "c", "Attach every container", "lanbridge.core.container_veth")
    counts = _remote.remote_tasks(records, rem, ["h1"])
    assert counts["h1"]["count"] == 2
    assert counts["h1"]["tasks"] == ["Put the uplink into the bridge", "Attach every container"]
    assert counts["h1"]["modules"] == ["lanbridge.core.host_bridge", "lanbridge.core.container_veth"]
    assert counts["h1"]["controller_tasks"] == ["Check the inventory", "Summary"]
    assert _remote.check(counts, 2, "no-op") == []


def test_more_than_two_tasks_fail_with_their_names():
    names = ["Gather the network facts", "Check pyroute2", "Look for DOCKER-USER", "Accept traffic", "host_bridge",
             "container_veth", "attach_agent"]
    records = [task("h1", str(i), n, "x") for i, n in enumerate(names)]
    rem = [r for i, n in enumerate(names) for r in remote("h1", str(i), n, "m%d" % i)]
    errors = _remote.check(_remote.remote_tasks(records, rem, ["h1"]), 2, "role no-op, N=100")
    assert len(errors) == 1
    assert errors[0].startswith("role no-op, N=100: 7 tasks reached h1, want <= 2: Gather the network facts [m0]; ")
    assert all(n in errors[0] for n in names)


def test_delegated_run_once_task_counts_for_the_host_it_ran_on():
    """A run_once loop delegating to every host counts once per delegate, not on the host that owns the result."""
    records = [task("h1", "f", "Gather facts of the batch", "ansible.builtin.setup")]
    rem = remote("h1", "f", "Gather facts of the batch", "ansible.builtin.setup", delegate_to="h1") + \
        remote("h1", "f", "Gather facts of the batch", "ansible.builtin.setup", delegate_to="h2") + \
        remote("h1", "g", "Ask the controller", "ansible.builtin.command", delegate_to="localhost")
    counts = _remote.remote_tasks(records, rem, ["h1", "h2"])
    assert counts["h1"]["count"] == 1 and counts["h2"]["count"] == 1


def test_a_rescued_failure_reached_the_host():
    """The pyroute2 check by block/rescue: the failed module call did run on the host."""
    records = [task("h1", "p", "Attach", "lanbridge.core.container_veth", status="failed"),
               task("h1", "q", "Install pyroute2", "ansible.builtin.package")]
    rem = remote("h1", "p", "Attach", "lanbridge.core.container_veth") + \
        remote("h1", "q", "Install pyroute2", "ansible.builtin.package")
    assert _remote.remote_tasks(records, rem, ["h1"])["h1"]["count"] == 2


def test_a_result_with_invocation_but_no_remote_record_is_reported():
    """If the hook saw nothing (another strategy, a broken hook) the count must not pass silently."""
    records = [task("h1", "c", "Attach every container", "lanbridge.core.container_veth")]
    counts = _remote.remote_tasks(records, [], ["h1"])
    assert counts["h1"]["count"] == 0
    errors = _remote.check(counts, 2, "no-op")
    assert len(errors) == 1 and "no remote execution recorded" in errors[0] and "Attach every container" in errors[0]
