"""The bridge's accept rule (``_firewall``): read, plan, after, view on a fake iptables."""
import json
import subprocess
import sys

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils import _firewall as fw
from ansible_collections.lanbridge.core.plugins.module_utils._errors import FirewallError, PersistError
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.persist_ops import execute

COMMENT = "lanbridge.core container_lan"


class FakeTables:
    """iptables and ip6tables as a dict {(tool, chain): [rules]}, answering -S, -C, -I, -D."""

    def __init__(self, chains):
        self.chains = dict((k, list(v)) for k, v in chains.items())
        self.ran = []

    def run(self, argv):
        self.ran.append(argv)
        tool = argv[0].rsplit("/", 1)[-1]
        action, chain, rule = argv[5], argv[6], tuple(argv[7:])
        if (tool, chain) not in self.chains:
            return 1
        rules = self.chains[(tool, chain)]
        if action == "-S":
            return 0
        if action == "-C":
            return 0 if rule in rules else 1
        if action == "-I":
            rules.insert(0, rule)
            return 0
        if action == "-D" and rule in rules:
            rules.remove(rule)
            return 0
        return 1


def which(tool):
    return "/usr/sbin/" + tool


def docker_host():
    return FakeTables({("iptables", "DOCKER-USER"): [], ("iptables", "FORWARD"): [], ("ip6tables", "FORWARD"): []})


def apply(tables, steps):
    for item in steps:
        assert tables.run(item["args"]["argv"]) == 0, item["text"]


def test_present_inserts_in_docker_user_else_forward_and_a_second_run_is_empty():
    tables = docker_host()
    live = fw.read(tables.run, "br0", COMMENT, ("inet", "inet6"), which=which)
    assert live["inet"]["chain"] == "DOCKER-USER" and live["inet6"]["chain"] == "FORWARD"
    steps = fw.plan(live, "br0", COMMENT, ("inet", "inet6"), "present")
    assert [s["text"] for s in steps] == ["iptables: insert accept rule for bridge br0 in DOCKER-USER",
                                          "ip6tables: insert accept rule for bridge br0 in FORWARD"]
    assert steps[0]["args"]["argv"] == ["/usr/sbin/iptables", "-w", "5", "-t", "filter", "-I", "DOCKER-USER",
                                        "-i", "br0", "-o", "br0", "-j", "ACCEPT", "-m", "comment",
                                        "--comment", COMMENT]
    planned = fw.view(fw.after(live, steps), "br0")
    apply(tables, steps)
    again = fw.read(tables.run, "br0", COMMENT, ("inet", "inet6"), which=which)
    assert fw.view(again, "br0") == planned == ["ip6tables: accept rule for bridge br0 in FORWARD",
                                                "iptables: accept rule for bridge br0 in DOCKER-USER"]
    assert fw.plan(again, "br0", COMMENT, ("inet", "inet6"), "present") == []


def test_undo_of_each_step_puts_the_firewall_back():
    tables = docker_host()
    steps = fw.plan(fw.read(tables.run, "br0", COMMENT, ("inet",), which=which), "br0", COMMENT, ("inet",), "present")
    apply(tables, steps)
    for item in reversed(steps):
        apply(tables, item["undo"])
    assert all(rules == [] for rules in tables.chains.values())


def test_absent_deletes_from_every_chain_that_holds_it_and_only_ours():
    ours = tuple(fw.rule("br0", COMMENT))
    other = tuple(fw.rule("br1", COMMENT))
    tables = FakeTables({("iptables", "DOCKER-USER"): [ours], ("iptables", "FORWARD"): [ours, other],
                         ("ip6tables", "FORWARD"): [ours]})
    live = fw.read(tables.run, "br0", COMMENT, ("inet", "inet6"), which=which)
    steps = fw.plan(live, "br0", COMMENT, ("inet", "inet6"), "absent")
    assert len(steps) == 3 and fw.view(fw.after(live, steps), "br0") == []
    apply(tables, steps)
    assert tables.chains[("iptables", "FORWARD")] == [other]
    assert fw.plan(fw.read(tables.run, "br0", COMMENT, ("inet", "inet6"), which=which), "br0", COMMENT,
                   ("inet", "inet6"), "absent") == []


def test_a_missing_tool_fails_present_and_is_skipped_by_absent():
    tables = docker_host()

    def no_ip6(tool):
        return which(tool) if tool == "iptables" else None
    live = fw.read(tables.run, "br0", COMMENT, ("inet", "inet6"), which=no_ip6)
    assert list(live) == ["inet"]
    with pytest.raises(FirewallError, match="ip6tables is not installed on the host"):
        fw.plan(live, "br0", COMMENT, ("inet", "inet6"), "present")
    assert fw.plan(live, "br0", COMMENT, ("inet", "inet6"), "absent") == []


def test_nothing_wanted_reads_nothing():
    tables = docker_host()
    assert fw.read(tables.run, "br0", COMMENT, (), which=which) == {} and tables.ran == []


def test_an_exit_code_other_than_1_is_an_error_not_an_absent_rule():
    with pytest.raises(FirewallError, match=r"-S DOCKER-USER failed with exit code 4"):
        fw.read(lambda argv: 4, "br0", COMMENT, ("inet",), which=which)
    codes = {"-S": 1, "-C": 2}
    with pytest.raises(FirewallError, match=r"-C FORWARD .* failed with exit code 2"):
        fw.read(lambda argv: codes[argv[5]], "br0", COMMENT, ("inet",), which=which)


FAKE_IPTABLES = """#!{python}
import json, os, sys
STATE = {state!r}
argv = sys.argv[1:]
if os.path.exists(STATE + ".busy"):
    sys.exit(4)
assert argv[:4] == ["-w", "5", "-t", "filter"], argv
action, chain, rule = argv[4], argv[5], argv[6:]
with open(STATE) as f:
    chains = json.load(f)
if chain not in chains:
    sys.exit(1)
if action == "-C":
    sys.exit(0 if rule in chains[chain] else 1)
if action == "-I":
    chains[chain].insert(0, rule)
elif action == "-D" and rule in chains[chain]:
    chains[chain].remove(rule)
elif action != "-S":
    sys.exit(1)
with open(STATE, "w") as f:
    json.dump(chains, f)
"""


@pytest.fixture
def iptables(tmp_path):
    """A fake ``iptables`` executable (the chains in a JSON file) and the function that reads its chains."""
    state = tmp_path / "chains.json"
    state.write_text(json.dumps({"FORWARD": [fw.rule("br0", COMMENT)]}))
    tool = tmp_path / "iptables"
    tool.write_text(FAKE_IPTABLES.format(python=sys.executable, state=str(state)))
    tool.chmod(0o755)
    return str(tool), lambda: json.loads(state.read_text())


def _run(argv):
    return subprocess.run(argv, check=False).returncode  # what the agent does with a run step (inserts only)


def _absent_steps(tool):
    live = fw.read(_run, "br0", COMMENT, ("inet",), which=lambda name: tool if name == "iptables" else None)
    steps = fw.plan(live, "br0", COMMENT, ("inet",), "absent")
    assert json.loads(json.dumps(steps)) == steps  # plain data: journaled as it is
    return steps


def test_the_undo_of_a_delete_run_twice_leaves_one_rule(iptables):
    tool, chains = iptables
    steps = _absent_steps(tool)
    assert [s["text"] for s in steps] == ["iptables: delete accept rule for bridge br0 from FORWARD"]
    assert _run(steps[0]["args"]["argv"]) == 0 and chains() == {"FORWARD": []}
    for _replay in range(2):  # the module's rollback, then the watchdog's replay of a step in doubt
        for item in steps[0]["undo"]:
            execute(item)
    assert chains() == {"FORWARD": [fw.rule("br0", COMMENT)]}


def test_the_undo_of_a_delete_that_never_ran_inserts_nothing(iptables):
    tool, chains = iptables
    steps = _absent_steps(tool)
    for item in steps[0]["undo"]:
        execute(item)
    assert chains() == {"FORWARD": [fw.rule("br0", COMMENT)]}


def test_the_undo_of_a_delete_fails_without_inserting_when_the_check_fails(iptables, tmp_path):
    tool, chains = iptables
    steps = _absent_steps(tool)
    _run(steps[0]["args"]["argv"])
    (tmp_path / "chains.json.busy").write_text("")  # the xtables lock busy: the check exits 4
    with pytest.raises(PersistError, match=r"-C FORWARD .* failed \(4\)"):
        execute(steps[0]["undo"][0])
    (tmp_path / "chains.json.busy").unlink()
    assert chains() == {"FORWARD": []}
