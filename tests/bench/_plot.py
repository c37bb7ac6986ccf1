"""docs/benchmark.png: time against N (role, module) and against hosts (fleet), from results.json.

    .venv/bin/python tests/bench/_plot.py tests/output/bench/results.json docs/benchmark.png

matplotlib comes from requirements-bench.txt (make bench installs it into .venv).
"""

import json
import sys


def _series(rows, x, *path):
    xs, ys = [], []
    for r in rows:
        v = r
        for key in path:
            v = (v or {}).get(key)
        v = v.get("best") if isinstance(v, dict) else v
        if v is not None:
            xs.append(r[x])
            ys.append(v)
    return xs, ys


def plot(results, path):
    import matplotlib  # noqa: PLC0415  (only here: the rest of the bench runs without it)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    single, fleet = results["single"], results["fleet"]
    panels = [
        ("The role over SSH, one host", "containers on the host (N)", single, "n", [
            ("role cold (site.yml)", ("role_cold",), "o-", "C3"),
            ("role no-op (site.yml)", ("role_noop",), "s-", "C0"),
            ("one-task playbook (ping)", ("floor",), "^--", "C7"),
            ("role no-op, mitogen", ("mitogen", "noop"), "s:", "C2"),
            ("one-task playbook, mitogen", ("mitogen", "floor"), "^:", "C8"),
        ]),
        ("container_veth as one ansible process", "containers on the host (N)", single, "n", [
            ("module cold", ("adhoc", "cold"), "o-", "C3"),
            ("module no-op", ("adhoc", "noop"), "s-", "C0"),
            ("ansible -m ping", ("adhoc", "ping"), "^--", "C7"),
        ]),
        ("Fleet in one batch", "hosts (%s containers each)" % (fleet[0]["containers_per_host"] if fleet else "-"),
         fleet, "hosts", [
            ("role cold", ("role_cold",), "o-", "C3"),
            ("role no-op", ("role_noop",), "s-", "C0"),
            ("one-task playbook (ping)", ("floor",), "^--", "C7"),
            ("role no-op, mitogen", ("mitogen", "noop"), "s:", "C2"),
            ("one-task playbook, mitogen", ("mitogen", "floor"), "^:", "C8"),
        ]),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    for ax, (title, xlabel, rows, x, curves) in zip(axes, panels):
        top = 0
        for label, key, style, color in curves:
            xs, ys = _series(rows, x, *key)
            if xs:
                ax.plot(xs, ys, style, color=color, label=label)
                top = max(top, *ys)
        ticks = sorted({r[x] for r in rows})
        if ticks:
            ax.set_xticks(ticks)
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("wall time (s)")
        ax.set_ylim(0, top * 1.45 or 1)  # room for the legend above the curves
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="upper left", ncol=2)
    m = results["machine"]
    fig.suptitle("lanbridge.core benchmark, %s, commit %s, %d cores shared by every lab host (load average %.1f at the "
                 "start, %.1f at the end), best of %d" % (
                     results["started"][:16].replace("T", " "), m.get("commit"), m["nproc"], m["loadavg_start"][0],
                     m.get("loadavg_end", [0])[0], results["options"]["repeat"]), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        plot(json.load(f), sys.argv[2])
