"""The no-op's remote modules replayed under cProfile, directly in the host's namespace.

For each module of the collection that a no-op run executed on the host, the callback recorded the
module arguments (as the action plugin passed them to the module). Replaying them with the managed nodes' python3
(``python3 -m cProfile -m ansible_collections.lanbridge.core.plugins.modules.NAME args.json``)
shows where the module's own process time goes, and whether it imported pyroute2 (issue 14:
no pyroute2 import when nothing changes). The replay is a no-op too; the bench checks that it
reports no change.
"""

import io
import json
import os
import pstats
import time

from _common import COLLECTIONS, HOST_PYTHON, REPO, VENV, log, run


def host_pythonpath(out):
    """PYTHONPATH for the managed nodes' python3 to import a module directly: ansible-core's
    package from the venv (only it, so the system's pyroute2 stays the one in use) + the collection."""
    shim = os.path.join(out, "pypath")
    os.makedirs(shim, exist_ok=True)
    link = os.path.join(shim, "ansible")
    if not os.path.islink(link):
        target = run([os.path.join(VENV, "bin", "python"), "-c",
                      "import ansible, os; print(os.path.dirname(ansible.__file__))"]).stdout.strip()
        os.symlink(target, link)
    return shim + os.pathsep + COLLECTIONS


def _short(file):
    """A file of the collection as its path in the repository (plugins/...), others as they are."""
    marker = "/ansible_collections/lanbridge/core/"
    if marker in file:
        return file.split(marker, 1)[1]
    return os.path.relpath(file, REPO) if file.startswith(REPO) else file


def profile_summary(prof, text_path, k=25):
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    st.sort_stats("cumulative").print_stats(k)
    st.sort_stats("tottime").print_stats(k)
    with open(text_path, "w") as f:
        f.write(buf.getvalue())
    top, own = [], []  # the slowest functions (cumulative), of all and of the collection's plugins/
    for (file, line, func), (_cc, nc, tt, ct, _callers) in sorted(st.stats.items(), key=lambda kv: -kv[1][3]):
        if "cProfile" in file or func.startswith("<"):
            continue
        entry = {"func": "%s:%d(%s)" % (_short(file), line, func), "calls": nc, "tottime": round(tt, 4),
                 "cumtime": round(ct, 4)}
        if len(top) < 15:
            top.append(entry)
        if entry["func"].startswith("plugins/") and len(own) < 8:
            own.append(entry)
    # pyroute2: imported at all, and what its import cost (its package's <module>)
    imports = [ct for (file, _line, func), (_cc, _nc, _tt, ct, _callers) in st.stats.items()
               if func == "<module>" and file.replace(os.sep, "/").endswith("/pyroute2/__init__.py")]
    touched = any("/pyroute2/" in file.replace(os.sep, "/") for (file, _l, _f) in st.stats)
    return {"text": text_path, "top_cumulative": top, "top_collection": own, "pyroute2_imported": touched,
            "pyroute2_import_seconds": round(max(imports), 3) if imports else None,
            "total_seconds": round(st.total_tt, 3)}


def replay(out, host, action, module_args, tag):
    """One module of the collection, with ``module_args``, as a cProfile'd process in ``host``'s namespace."""
    name = action.rsplit(".", 1)[-1]
    args = os.path.join(out, tag + ".args.json")
    with open(args, "w") as f:
        json.dump({"ANSIBLE_MODULE_ARGS": module_args}, f)
    prof = os.path.join(out, tag + ".prof")
    cmd = ["ip", "netns", "exec", host, "env", "PYTHONPATH=" + host_pythonpath(out), HOST_PYTHON, "-m", "cProfile",
           "-o", prof, "-m", "ansible_collections.lanbridge.core.plugins.modules." + name, args]
    t = time.monotonic()
    res = run(cmd, check=False, timeout=600)
    wall = time.monotonic() - t
    try:
        result = json.loads(res.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        result = {"failed": True, "msg": (res.stdout + res.stderr)[-1000:]}
    rec = {"module": action, "process_wall": round(wall, 3), "elapsed": result.get("elapsed"),
           "changed": bool(result.get("changed")), "error": result.get("msg") if result.get("failed") else None}
    if os.path.exists(prof):
        rec["profile"] = profile_summary(prof, os.path.join(out, tag + ".profile.txt"))
    log("replay %s on %s: %.2fs, changed %s, pyroute2 imported %s%s" % (
        action, host, wall, rec["changed"], (rec.get("profile") or {}).get("pyroute2_imported"),
        ", " + rec["error"][:200] if rec["error"] else ""))
    return rec


def noop_modules(out, host, noop_run, tag):
    """Replay every module of the collection that the no-op run executed on ``host``; returns (rows, errors)."""
    rows, errors = [], []
    durations = dict((r["uuid"], r.get("duration")) for r in noop_run["records"] if r["host"] == host)
    for r in noop_run["remote"]:
        if (r.get("delegate_to") or r.get("host")) != host or r.get("module_args") is None:
            continue
        module = r["what"]
        rec = replay(out, host, module, r["module_args"], "%s-%s" % (tag, module.rsplit(".", 1)[-1]))
        rec["task_seconds"] = durations.get(r["uuid"])
        rows.append(rec)
        if rec["error"] or rec["changed"]:
            errors.append("replay of the no-op's %s on %s: %s" % (module, host, rec["error"] or "it changed something"))
    return rows, errors
