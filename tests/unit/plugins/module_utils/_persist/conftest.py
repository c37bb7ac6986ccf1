"""Golden files for the persist renderers: a plan rendered as text, compared byte for byte.

A golden file changes only when the tests run with ``LANBRIDGE_UPDATE_GOLDEN=1``; otherwise a
mismatch fails with a unified diff.
"""
import difflib
import os

import pytest

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden")


def plan_text(plan):
    out = []
    for src, dst in plan["moves"]:
        out.append("== move %s -> %s\n" % (src, dst))
    for path in sorted(plan["files"]):
        spec = plan["files"][path]
        out.append("== write %s (mode %s)\n" % (path, "keep" if spec["mode"] is None else "%04o" % spec["mode"]))
        out.append(spec["content"])
    for path in plan["removes"]:
        out.append("== remove %s\n" % path)
    for warning in plan.get("warnings", []):
        out.append("== warning %s\n" % warning)
    return "".join(out)


@pytest.fixture
def golden():
    def check(name, text):
        path = os.path.join(GOLDEN, name)
        if os.environ.get("LANBRIDGE_UPDATE_GOLDEN") == "1":
            with open(path, "w") as f:
                f.write(text)
            return
        if not os.path.exists(path):
            pytest.fail("golden file %s is missing: run with LANBRIDGE_UPDATE_GOLDEN=1 to create it" % path)
        with open(path) as f:
            expected = f.read()
        if expected != text:
            diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True), path, "rendered"))
            pytest.fail("rendered output differs from %s (LANBRIDGE_UPDATE_GOLDEN=1 to accept):\n%s" % (path, diff))
    return check
