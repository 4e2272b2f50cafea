"""Static SVG charts for the report, drawn with matplotlib's SVG backend (no pyplot, no global state).

Why matplotlib: it writes static SVG with no JavaScript and no external resource, and with a fixed
``svg.hashsalt`` and no date in the metadata the same data gives the same bytes. Glyphs are written as
paths (``svg.fonttype = "path"``), so a chart looks the same in every browser and in print and a label
can never be read as markup; the numbers are in the tables beside each chart for reading and copying.

Each chart is returned as an ``<svg>`` element ready to inline in HTML: the XML prologue, the
metadata and the comments are dropped, ids that nothing references are dropped and the rest get a
per-chart prefix (several SVGs share one HTML document's id space).

A channel label is drawn at most :data:`LABEL_MAX` characters long (:func:`chart_label`): each glyph is a
path, so a 20,000-character label made each chart megabytes. A label cut short carries the whole label
as its SVG ``<title>`` (escaped text, the browser's tooltip); the tables beside the charts show it whole.
"""
from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass

# Sober palette; the models use the Okabe-Ito colours (distinct for colour-blind readers and in grey).
INK = "#1f2933"
MUTED = "#6b7780"
GRID = "#e3e7eb"
OWN_CHANNEL = "#7f9fc0"
PARTNER_CHANNEL = "#1f4e79"
DIRECT = "#b8c0c7"
MC_BAR = "#1f2933"
BOOTSTRAP_BAR = "#c0504d"
MODEL_STYLE = {  # model -> (label, colour, marker)
    "last": ("last touch", "#E69F00", "s"),
    "linear": ("linear", "#56B4E9", "D"),
    "markov": ("Markov", "#009E73", "^"),
    "shapley": ("Shapley (rate)", "#0072B2", "o"),
    "hybrid": ("hybrid", "#CC79A7", "X"),
}

RC = {
    "svg.hashsalt": "shapley_attr-report",
    "svg.fonttype": "path",
    "text.parse_math": False,  # a label like "$x" is text, never mathtext
    "text.usetex": False,
    "font.family": "DejaVu Sans",
    "font.size": 8.5,
    "axes.edgecolor": "#9aa5ad",
    "axes.labelcolor": INK,
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": MUTED,
    "ytick.color": INK,
    "xtick.labelcolor": MUTED,
    "ytick.labelcolor": INK,
    "legend.frameon": False,
    "savefig.facecolor": "white",
}
# 11.3 in at 72 pt/in is 814 pt = 1085 CSS px: the page's content width, so chart text is page-sized.
CHART_WIDTH_IN = 11.3
# Characters of a label drawn in a chart: about 200 pt at 8.5 pt, a quarter of the chart's width.
LABEL_MAX = 40
LABEL_TAIL = 12  # kept after the ellipsis: long labels often differ only at the end (a date, a country)
ELLIPSIS = "\u2026"
_LINE_BREAK = re.compile(r"[\n\r\t\v\f\x85\u2028\u2029]")
METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


@dataclass(frozen=True)
class CreditBar:
    """One channel's credit and its intervals, in the unit of the attributed value."""

    channel: str
    value: float
    kind: str  # "own" | "partner" | "direct"
    mc: tuple[float, float] | None
    bootstrap: tuple[float, float] | None


def _figure(width_in: float, height_in: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width_in, height_in), dpi=72)


def chart_label(label: str) -> str:
    """``label`` as drawn in a chart: at most :data:`LABEL_MAX` characters, a longer label cut in the
    middle with an ellipsis (its start and its last :data:`LABEL_TAIL` characters kept); line breaks drawn
    as spaces, so a label is one line."""
    if len(label) > LABEL_MAX:
        label = label[:LABEL_MAX - 1 - LABEL_TAIL] + ELLIPSIS + label[-LABEL_TAIL:]
    return _LINE_BREAK.sub(" ", label)


def _set_labels(ax, labels: list[str]) -> dict[str, str]:
    """The y tick labels, drawn by :func:`chart_label`; returns {gid: whole label} of those cut short,
    whose SVG group :func:`_to_svg` gives a ``<title>``."""
    drawn = [chart_label(t) for t in labels]
    ax.set_yticks(range(len(labels)), drawn)
    titles = {}
    for i, (text, label, shown) in enumerate(zip(ax.get_yticklabels(), labels, drawn)):
        if shown != label:
            text.set_gid(f"chart-label-{i}")
            titles[f"chart-label-{i}"] = label
    return titles


def _to_svg(fig, prefix: str, label: str, titles: dict[str, str] | None = None) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata=METADATA, bbox_inches="tight", pad_inches=0.05)
    return _inline(_add_titles(buf.getvalue(), titles or {}), prefix, label)


def _add_titles(svg: str, titles: dict[str, str]) -> str:
    """A ``<title>`` (escaped text) as the first child of each group whose id is a key of ``titles``."""
    from markupsafe import escape

    def title(m: re.Match) -> str:
        return f"{m.group(0)}<title>{escape(titles[m.group(1)])}</title>" if m.group(1) in titles else m.group(0)

    return re.sub(r'<g id="(chart-label-\d+)">', title, svg) if titles else svg


_ID = re.compile(r'\sid="([^"]+)"')
_REF = re.compile(r'(url\(#|href="#)([^")]+)')


def _inline(svg: str, prefix: str, label: str) -> str:
    """An SVG document → an ``<svg>`` element safe to repeat in one HTML page."""
    from markupsafe import escape

    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r"<!--.*?-->\s*", "", svg, flags=re.S)  # matplotlib escapes text in comments; drop them anyway
    referenced = {m.group(2) for m in _REF.finditer(svg)}
    svg = _ID.sub(lambda m: f' id="{prefix}-{m.group(1)}"' if m.group(1) in referenced else "", svg)
    svg = _REF.sub(lambda m: f"{m.group(1)}{prefix}-{m.group(2)}", svg)
    svg = svg.replace("<svg ", f'<svg role="img" aria-label="{escape(label)}" ', 1)
    return svg.strip() + "\n"


def _thousands(x, _pos=None) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 or x == int(x) else f"{x:,.2f}"


def credits_chart(bars: list[CreditBar], unit_label: str) -> str:
    """Horizontal bars of each channel's credit, largest first, with the 95% intervals as error bars."""
    import matplotlib
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    bars = sorted(bars, key=lambda b: (-b.value, b.channel))
    n = len(bars)
    with matplotlib.rc_context(RC):
        fig = _figure(CHART_WIDTH_IN, 0.27 * n + 0.95)
        ax = fig.add_subplot()
        y = list(range(n))
        colours = {"own": OWN_CHANNEL, "partner": PARTNER_CHANNEL, "direct": DIRECT}
        ax.barh(y, [b.value for b in bars], height=0.62, color=[colours[b.kind] for b in bars], zorder=2)
        handles = [Patch(color=OWN_CHANNEL, label="own channel"), Patch(color=PARTNER_CHANNEL, label="partner"),
                   Patch(color=DIRECT, label="(direct): no touch")]
        mc = [(i, b) for i, b in enumerate(bars) if b.mc is not None]
        bs = [(i, b) for i, b in enumerate(bars) if b.bootstrap is not None]
        offset = 0.16 if mc and bs else 0.0
        if mc:
            ax.errorbar([b.value for _, b in mc], [i - offset for i, _ in mc],
                        xerr=[[max(b.value - b.mc[0], 0) for _, b in mc], [max(b.mc[1] - b.value, 0) for _, b in mc]],
                        fmt="none", ecolor=MC_BAR, elinewidth=1.3, capsize=2.5, zorder=3)
            handles.append(Line2D([], [], color=MC_BAR, lw=1.3, marker="|", markersize=6, label="Monte Carlo 95% CI"))
        if bs:
            ax.errorbar([b.value for _, b in bs], [i + offset for i, _ in bs],
                        xerr=[[max(b.value - b.bootstrap[0], 0) for _, b in bs],
                              [max(b.bootstrap[1] - b.value, 0) for _, b in bs]],
                        fmt="none", ecolor=BOOTSTRAP_BAR, elinewidth=1.0, capsize=2.5, zorder=3)
            handles.append(Line2D([], [], color=BOOTSTRAP_BAR, lw=1.0, marker="|", markersize=6,
                                  label="bootstrap 95% interval"))
        titles = _set_labels(ax, [b.channel for b in bars])
        ax.invert_yaxis()
        ax.set_ylim(n - 0.45, -0.55)
        ax.tick_params(axis="y", length=0)
        ax.xaxis.set_major_formatter(FuncFormatter(_thousands))
        ax.grid(axis="x", color=GRID, lw=0.8, zorder=0)
        ax.set_axisbelow(True)
        if any(b.value < 0 or (b.mc and b.mc[0] < 0) or (b.bootstrap and b.bootstrap[0] < 0) for b in bars):
            ax.axvline(0, color=MUTED, lw=0.8, zorder=1)
        ax.set_xlabel(unit_label)
        ax.legend(handles=handles, loc="lower right", ncols=len(handles), fontsize=8, handlelength=1.4,
                  bbox_to_anchor=(1.0, 1.0), borderaxespad=0.3)
        fig.tight_layout()
        return _to_svg(fig, "credits", f"Credit per channel ({unit_label})", titles)


def models_chart(channels: list[str], shares: dict[str, dict[str, float]], models: list[str], unit_label: str) -> str:
    """A dot plot: one row per channel, one marker per model at the channel's share (percent)."""
    import matplotlib
    from matplotlib.ticker import FuncFormatter

    n = len(channels)
    with matplotlib.rc_context(RC):
        fig = _figure(CHART_WIDTH_IN, 0.27 * n + 0.95)
        ax = fig.add_subplot()
        for i, ch in enumerate(channels):
            values = [shares[m][ch] * 100 for m in models if ch in shares[m] and math.isfinite(shares[m][ch])]
            if values:
                ax.plot([min(values), max(values)], [i, i], color="#c9d1d8", lw=2.2, solid_capstyle="round", zorder=1)
        for m in models:
            label, colour, marker = MODEL_STYLE.get(m, (m, MUTED, "o"))
            pts = [(shares[m][ch] * 100, i) for i, ch in enumerate(channels) if ch in shares[m]]
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=34, marker=marker, color=colour, label=label,
                       zorder=3, linewidths=0)
        titles = _set_labels(ax, channels)
        ax.set_ylim(n - 0.5, -0.5)
        ax.tick_params(axis="y", length=0)
        ax.grid(axis="x", color=GRID, lw=0.8, zorder=0)
        ax.grid(axis="y", color="#f1f3f5", lw=0.6, zorder=0)
        ax.set_axisbelow(True)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p: f"{x:g}%"))
        if any(v < 0 for m in models for v in shares[m].values()):
            ax.axvline(0, color=MUTED, lw=0.8, zorder=1)
        ax.set_xlabel(unit_label)
        ax.legend(loc="lower right", ncols=len(models), fontsize=8, handletextpad=0.3, columnspacing=1.2,
                  bbox_to_anchor=(1.0, 1.0), borderaxespad=0.3)
        fig.tight_layout()
        return _to_svg(fig, "models", "Share of each channel under each model", titles)
