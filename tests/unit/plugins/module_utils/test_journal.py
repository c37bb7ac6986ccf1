"""``_journal`` and ``_transaction`` on plain data and a private directory: what is written, what is read back."""
import json

from ansible_collections.lanbridge.core.plugins.module_utils import _journal
from ansible_collections.lanbridge.core.plugins.module_utils._transaction import Transaction, step


def steps():
    return [step("set", "set a", undo=[step("unset", "unset a", name="a")], name="a"),
            step("set", "set b", undo=[step("unset", "unset b", name="b")], name="b"),
            step("set", "set c", undo=[step("unset", "unset c", name="c")], name="c")]


def write(path, *events):
    with open(path, "w") as handle:
        for event in events:
            handle.write(json.dumps(event) + "\n")


def test_read_keeps_what_was_applied_and_ignores_a_torn_line(tmp_path):
    path = str(tmp_path / "j")
    write(path, {"journal": 1, "object": "bridge br0", "steps": steps()}, {"watchdog": 7}, {"applied": 1}, {"applied": 2})
    with open(path, "a") as handle:
        handle.write('{"appl')  # the process died in the middle of a line
    header, state = _journal.read(path)
    assert header["object"] == "bridge br0" and state == {"applied": 2, "probing": False, "end": None}
    write(path, {"journal": 1, "steps": steps()}, {"applied": 3}, {"probing": True}, {"undone": 1}, {"end": "rolled back"})
    assert _journal.read(path)[1] == {"applied": 2, "probing": True, "end": "rolled back"}


def test_undo_applied_undoes_newest_first_and_carries_on():
    done = []

    def execute(item):
        if item["args"]["name"] == "b":
            raise OSError(5, "b is stuck")
        done.append(item["text"])

    errors = _journal.undo_applied({"steps": steps()}, {"applied": 3}, execute)
    assert done == ["unset c", "unset a"] and errors == ["[Errno 5] b is stuck (undoing 'set b')"]


class Recorder:
    def __init__(self):
        self.events = []

    def applied(self, count):
        self.events.append(("applied", count))

    def undone(self, count):
        self.events.append(("undone", count))


def test_a_transaction_writes_down_each_step_and_each_undo():
    log, journal = [], Recorder()
    tx = Transaction(lambda item: log.append(item["text"]), journal)
    tx.apply(steps()[:2])
    assert tx.applied() == "set a; set b" and tx.rollback() == []
    assert log == ["set a", "set b", "unset b", "unset a"]
    assert journal.events == [("applied", 1), ("applied", 2), ("undone", 1), ("undone", 1)]
    assert json.loads(json.dumps(steps())) == steps()  # plain data: the journal's format
