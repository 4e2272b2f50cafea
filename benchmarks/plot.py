"""PNG plots of a benchmark report (log-log time against size, one line per engine).

    python benchmarks/plot.py [benchmarks/results/latest.json]

Needs matplotlib, which is not a dependency of the package: ``benchmarks/run.py`` calls this script
with the peers' virtualenv (``benchmarks/peers/setup.sh`` installs matplotlib there) when the running
interpreter lacks it.
"""
from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_scale(report: dict, out: Path) -> None:
    rows = [r for r in report.get("scale", []) if r.get("wall_s")]
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for fmt in dict.fromkeys(r.get("format", "parquet") for r in rows):  # one pair of lines per input format
        mine = [r for r in rows if r.get("format", "parquet") == fmt]
        xs = [r["events"] for r in mine]
        line, = ax.loglog(xs, [r["wall_s"] for r in mine], "o-", label=f"shapley-attr attribute, {fmt} (wall)")
        ax.loglog(xs, [r["floor_s"] for r in mine], "s--", color=line.get_color(),
                  label=f"floor on the {fmt} file: Polars scan + journey sort")
    ax.set_xlabel("events")
    ax.set_ylabel("seconds")
    ax.set_title(f"End to end, {report['machine']['cpus']} cores, {report['date']}")
    ax.legend(fontsize="small")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "scale.png", dpi=110)
    plt.close(fig)


def plot_peers(report: dict, out: Path) -> None:
    """One figure per model family: fit seconds and whole-process wall seconds against journeys;
    colour = engine (and game for ours), line style = number of channels."""
    rows = [r for r in report.get("peers", []) if r.get("wall_s")]
    by_model: dict[str, dict[tuple[str, int], list]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        family = r["model"].split(":")[0].split(" ")[0]
        label = r["engine"] if r["engine"] != "shapley_attr" else "shapley_attr " + r["model"]
        by_model[family][(label, r["channels"])].append((r["journeys"], r["fit_s"], r["wall_s"]))
    styles = {10: "-", 20: "--", 50: ":"}
    for family, lines in by_model.items():
        labels = sorted({label for label, _ in lines})
        colours = {label: f"C{i % 10}" for i, label in enumerate(labels)}
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
        for ax, col, title in ((axes[0], 1, "fit seconds"), (axes[1], 2, "whole-process wall seconds")):
            for (label, n), pts in sorted(lines.items()):
                pts.sort()
                ax.loglog([p[0] for p in pts], [p[col] for p in pts], marker="o", linestyle=styles.get(n, "-."),
                          color=colours[label], label=f"{label}, {n} ch")
            ax.set_xlabel("journeys")
            ax.set_ylabel(title)
            ax.grid(True, which="both", alpha=0.3)
        axes[0].legend(fontsize=7)
        fig.suptitle(f"{family}: time against size ({report['machine']['cpus']} cores, {report['date']})")
        fig.tight_layout()
        fig.savefig(out / f"peers_{family}.png", dpi=110)
        plt.close(fig)


def main() -> None:
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results" / "latest.json"
    report = json.loads(src.read_text())
    plot_scale(report, src.parent)
    plot_peers(report, src.parent)
    print(f"plots: {', '.join(sorted(p.name for p in src.parent.glob('*.png')))}")


if __name__ == "__main__":
    main()
