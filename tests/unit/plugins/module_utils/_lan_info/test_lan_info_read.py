"""lan_info's engine answers -> container state (a stand-in engine object, no socket), and the namespace finder."""
import os

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._lan_info import read as R
from ansible_collections.lanbridge.core.plugins.module_utils._errors import EngineError

CID = "c55779e6266cce74d2d36d06367da22b874ea131029b28da3e4a99574605d9e3"


class Answers:
    """Answers like ``engine.Engine._get``: ``(status, decoded JSON)``, or raises."""

    runtime, url = "docker", "unix:///run/docker.sock"

    def __init__(self, status, data=None, error=None):
        self.status, self.data, self.error, self.asked = status, data, error, []

    def _get(self, path):
        self.asked.append(path)
        if self.error:
            raise EngineError(self.error)
        return self.status, self.data


def inspect(running, pid):
    return {"Id": CID, "Name": "/web1", "State": {"Running": running, "Pid": pid}, "HostConfig": {"NetworkMode": "none"}}


@pytest.mark.parametrize("answers, state", [
    (Answers(200, inspect(True, 4242)), "running"),
    (Answers(200, inspect(False, 0)), "stopped"),
    (Answers(200, inspect(True, 0)), "stopped"),  # a container between states has no process yet
    (Answers(404, {"message": "No such container"}), "gone"),
    (Answers(500, {"message": "boom"}), "unknown"),
    (Answers(200, None), "unknown"),
    (Answers(None, error="cannot reach the docker engine at unix:///run/docker.sock: No such file or directory"),
     "unknown"),
])
def test_lookup(answers, state):
    found = R.lookup(answers, CID)
    assert found["state"] == state
    assert answers.asked == ["/containers/%s/json" % CID]
    if state == "running":
        assert (found["info"]["name"], found["info"]["pid"]) == ("web1", 4242)
    if state == "unknown":
        assert found["error"] and ("boom" in found["error"] or "answered" in found["error"] or "reach" in found["error"])


def test_finder_by_inode(tmp_path):
    own = os.stat("/proc/self/ns/net").st_ino
    (tmp_path / "not-a-namespace").write_text("")
    finder = R.NamespaceFinder(run_dir=str(tmp_path))
    path, pid = finder.find(own)
    assert path.startswith("/proc/") and path.endswith("/ns/net") and isinstance(pid, int)
    assert os.stat(path).st_ino == own
    assert finder.find(os.stat(str(tmp_path / "not-a-namespace")).st_ino) == (None, None)  # not on nsfs
    assert R.NamespaceFinder(run_dir=str(tmp_path / "missing"), proc=str(tmp_path)).find(own) == (None, None)


def test_reader_asks_an_unreachable_engine_once_and_labels_it_does_not_know_never():
    down = Answers(None, error="cannot reach the docker engine at unix:///x.sock: No such file or directory")
    reader = R.TargetReader(down)
    first = reader.target("container:" + CID)
    second = reader.target("container:" + "ab" * 32)
    assert first["state"] == second["state"] == "unknown" and "cannot reach" in second["error"]
    assert len(down.asked) == 1
    assert reader.target("vm:7") == {"state": "unknown", "error": None} and len(down.asked) == 1
    gone = R.TargetReader(Answers(404))
    assert gone.target("container:" + CID)["state"] == "gone"
    assert gone.target("container:" + CID) is gone.target("container:" + CID)  # read once per identity
