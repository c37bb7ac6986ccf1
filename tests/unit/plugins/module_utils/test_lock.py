"""``_lock`` on a real file system (a private directory of the test, not /run/lanbridge)."""
import fcntl
import os
import re

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils import _lock
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.apply import WATCHDOG_MARGIN
from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge.options import MAX_ROLLBACK_TIMEOUT
from ansible_collections.lanbridge.core.plugins.module_utils._validate import check_forward_delay
from ansible_collections.lanbridge.core.plugins.module_utils._errors import LockError, ValidationError


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    path = str(tmp_path / "lanbridge")
    monkeypatch.setattr(_lock, "RUN_DIR", path)
    monkeypatch.setattr(_lock, "run_dir", lambda path=path, _real=_lock.run_dir: _real(path))
    return path


def test_run_dir_is_private(run_dir):
    assert _lock.run_dir(run_dir) == run_dir
    assert os.stat(run_dir).st_mode & 0o777 == 0o700
    os.chmod(run_dir, 0o777)
    _lock.run_dir(run_dir)
    assert os.stat(run_dir).st_mode & 0o777 == 0o700


def test_run_dir_refuses_a_symlink(tmp_path):
    os.symlink(str(tmp_path), str(tmp_path / "link"))
    with pytest.raises(LockError, match="is not a directory"):
        _lock.run_dir(str(tmp_path / "link"))


def test_a_held_lock_names_its_holder_and_changes_nothing(run_dir):
    with _lock.hold(["bridge:br0", "uplink:em1"]):
        path = [os.path.join(run_dir, n) for n in os.listdir(run_dir) if n.endswith("bridge_br0")][0]
        with open(path) as handle:
            pid, _since = handle.read().split()
        assert int(pid) == os.getpid()
        other = os.open(path, os.O_RDWR)  # another open file: flock conflicts with it
        try:
            with pytest.raises(LockError) as err:
                with _lock.hold(["bridge:br0"], timeout=0.2):
                    pass
        finally:
            os.close(other)
    assert re.match(r"^bridge br0 is locked by another run \(PID %d, since \d\d:\d\d:\d\d UTC, \d+ s ago\) for more "
                    r"than 0.2 s; nothing was changed$" % os.getpid(), str(err.value)), str(err.value)
    with _lock.hold(["bridge:br0"], timeout=0.2):  # released
        pass


def test_locks_are_taken_in_one_order(run_dir):
    taken = []
    real = _lock._take
    try:
        _lock._take = lambda name, timeout: taken.append(name) or real(name, timeout)
        with _lock.hold(["uplink:em1", "bridge:br0", "bridge:br0"]):
            pass
    finally:
        _lock._take = real
    assert taken == ["bridge:br0", "uplink:em1"]


def test_planted_symlink_and_foreign_file(run_dir, tmp_path):
    _lock.run_dir(run_dir)
    target = str(tmp_path / "target")
    link = os.path.join(run_dir, "planted")
    os.symlink(target, link)
    with pytest.raises(LockError, match="is a symlink; refusing to follow it"):
        _lock.open_private(link, os.O_RDWR | os.O_CREAT)
    assert not os.path.exists(target)
    foreign = os.path.join(run_dir, "foreign")
    with open(foreign, "w"):
        pass
    os.chown(foreign, 65534, 65534)
    if os.geteuid() == 0:
        with pytest.raises(LockError, match="is not a regular file of this run's user"):
            _lock.open_private(foreign, os.O_RDWR)
    assert fcntl  # flock is what hold() uses


def test_run_dir_of_another_user_is_refused(tmp_path):
    path = str(tmp_path / "lanbridge")
    os.mkdir(path, 0o700)
    os.chown(path, 65534, 65534)
    with pytest.raises(LockError, match=r"belongs to uid 65534, not to this run's uid 0; remove it"):
        _lock.run_dir(path)


def test_the_lock_waits_longer_than_the_longest_probe():
    """A run waiting for another's lock must not give up while that run may still be probing: its
    rollback_timeout (at most MAX_ROLLBACK_TIMEOUT) plus STP's listening and learning (2 x the largest
    forward_delay) plus the watchdog's margin."""
    with pytest.raises(ValidationError):
        check_forward_delay(31, True)
    assert _lock.LOCK_TIMEOUT > MAX_ROLLBACK_TIMEOUT + 2 * check_forward_delay(30, True) + WATCHDOG_MARGIN
