"""Shared fixtures for integration tests: throwaway network namespaces and a module runner.

Every test works in namespaces it creates (random names, deleted afterwards); modules run as
real processes inside them (``ip netns exec``), exactly as Ansible would run them on a host,
with the interpreter of this test run (so the pyroute2 of the venv is the one under test).
"""
import pytest
from helpers import run_module, throwaway_netns  # the one definition of each: helpers.py


@pytest.fixture
def netns_factory():
    """``make(tag)`` returns a new throwaway namespace; all of them are deleted after the test."""
    with throwaway_netns() as make:
        yield make


@pytest.fixture
def netns(netns_factory):
    return netns_factory()


@pytest.fixture
def module_runner():
    return run_module
