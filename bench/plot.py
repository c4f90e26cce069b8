"""Plot seconds per host against fleet size N from a results.json of bench/run.py.

Usage: python3 bench/plot.py RESULTS_JSON OUTPUT_PNG   (needs matplotlib)
"""

from __future__ import annotations

import json
import sys

from report import NAMES, TRANSPORTS, transport_of  # the variants' and transports' names, as in the report's tables

# A colour per variant; stock solid with round markers, Mitogen dashed with square markers.
COLOURS = {"ping": "k", "naive": "C1", "safe": "C3", "role": "C0", "rerun": "C2"}
LINES = {"stock": ("-", "o"), "mitogen": ("--", "s")}


def main(argv):
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
    import matplotlib.ticker  # pylint: disable=import-outside-toplevel

    with open(argv[1]) as handle:
        results = json.load(handle)
    rows = [row for row in results["rows"] if row["rc"] == 0]
    forks_list = sorted(set(row["forks"] for row in rows))
    figure, axes = plt.subplots(1, len(forks_list), figsize=(7.5 * len(forks_list), 5.5), squeeze=False, sharey=True)
    for axis, forks in zip(axes[0], forks_list):
        for transport in TRANSPORTS:
            for variant, label in NAMES.items():
                points = sorted((row["n"], row["per_host"]) for row in rows if row["forks"] == forks
                                and row["variant"] == variant and transport_of(row) == transport)
                if points:
                    axis.plot([p[0] for p in points], [p[1] for p in points], color=COLOURS[variant],
                              linestyle=LINES[transport][0], marker=LINES[transport][1],
                              label="%s, %s" % (label, TRANSPORTS[transport]))
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.yaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%.2g"))
        axis.yaxis.set_minor_formatter(matplotlib.ticker.FormatStrFormatter("%.2g"))
        ns = sorted(set(row["n"] for row in rows if row["forks"] == forks))
        axis.set_xticks(ns)
        axis.set_xticklabels([str(n) for n in ns])
        axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axis.set_xlabel("hosts (N)")
        axis.set_title("forks %d" % forks)
        axis.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("wall seconds per host")
    axes[0][0].legend(fontsize=7, ncol=2)
    environment = results.get("environment", {})
    figure.suptitle("%s, %s CPUs, pipelining %s\nsolid: stock `%s`; dashed: Mitogen %s `mitogen_linear`" % (
        environment.get("ansible", "ansible"), environment.get("cpus"), environment.get("pipelining"),
        environment.get("strategy"), environment.get("mitogen", "")), fontsize=9)
    figure.tight_layout()
    figure.savefig(argv[2], dpi=100)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
