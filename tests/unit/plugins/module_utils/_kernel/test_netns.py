"""Telling whether an open descriptor is a network namespace (``_kernel.netns``), on files of the
test's own: nothing is entered, no root needed."""
import os

import pytest

from ansible_collections.lanbridge.core.plugins.module_utils._kernel import netns


@pytest.fixture
def opened():
    fds = []

    def open_(path):
        fds.append(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
        return fds[-1]

    yield open_
    for fd in fds:
        os.close(fd)


def test_own_network_namespace_is_one(opened):
    fd = opened(netns.SELF_NETNS)
    assert netns.fstatfs_type(fd) == netns.NSFS_MAGIC
    assert netns.netns_fd_problem(fd) is None


def test_another_namespace_type_is_told_apart(opened):
    assert netns.netns_fd_problem(opened("/proc/self/ns/uts")) == netns.OTHER_NAMESPACE


def test_a_plain_file_is_not_a_namespace_file(opened, tmp_path):
    path = tmp_path / "plain"
    path.write_text("")
    fd = opened(str(path))
    assert netns.fstatfs_type(fd) != netns.NSFS_MAGIC
    assert netns.netns_fd_problem(fd) == netns.NOT_NSFS


def test_a_closed_descriptor_cannot_be_told(tmp_path):
    path = tmp_path / "plain"
    path.write_text("")
    fd = os.open(str(path), os.O_RDONLY)
    os.close(fd)
    with pytest.raises(OSError):
        netns.netns_fd_problem(fd)
