"""``_host_bridge.apply`` with a recording stand-in for the kernel: a probe whose socket fails is a
failed probe (rolled back, a sentence), never a traceback."""
import errno

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._host_bridge import apply as bridge_apply
from ansible_collections.lanbridge.core.plugins.module_utils._transaction import step
from ansible_collections.lanbridge.core.plugins.module_utils._errors import TransactionError


class Kernel:
    def __init__(self):
        self.calls = []

    def set_link(self, **args):
        self.calls.append(("set_link", args))


def steps():
    return [step("set_link", "set em1 master br0", undo=[step("set_link", "set em1 nomaster", link="em1", master=None)],
                 link="em1", master="br0")]


@pytest.mark.parametrize("code", [errno.ENETDOWN, errno.ENODEV, errno.EPERM])
def test_a_probe_socket_error_rolls_back(monkeypatch, code):
    def probe_any(targets, timeout):
        raise OSError(code, "probe socket")

    monkeypatch.setattr(bridge_apply, "probe_any", probe_any)
    monkeypatch.setattr(bridge_apply, "preload", lambda: None)
    kernel = Kernel()
    with pytest.raises(TransactionError) as caught:
        bridge_apply.apply(kernel, steps(), probe=[{"address": "198.51.100.254"}], probe_timeout=1.0)
    assert caught.value.rolled_back is True
    assert "probe socket" in str(caught.value) and "rolled back 1 step(s), the host is as it was" in str(caught.value)
    assert kernel.calls == [("set_link", {"link": "em1", "master": "br0"}), ("set_link", {"link": "em1", "master": None})]
