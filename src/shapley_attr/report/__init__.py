"""The HTML report of a run directory: one self-contained, deterministic ``report.html``.

Built from the run directory's files alone (docs/run-directory.md), never by recomputing:

>>> from shapley_attr.report import build_report, render_report
>>> path = build_report("runs/2026-10")       # writes runs/2026-10/report.html atomically
>>> html = render_report("runs/2026-10")      # the same bytes, without writing

The page needs no network and no JavaScript: CSS is inline, charts are inline SVG drawn by
matplotlib, text goes through Jinja2 with autoescape on. The same directory gives the same bytes
(no timestamp, fixed SVG ids), so a report can be compared with ``cmp``. Jinja2 and matplotlib are
imported here only when a report is built, so the command line's other commands do not pay for them.
"""
from __future__ import annotations

import os
from pathlib import Path

from .data import RunData, load_run

REPORT_NAME = "report.html"

__all__ = ["REPORT_NAME", "RunData", "build_report", "load_run", "render_report"]


def render_report(run_dir: str | os.PathLike) -> bytes:
    """The bytes of ``report.html`` for ``run_dir`` (UTF-8 HTML); nothing is written.

    Raises :class:`~shapley_attr.errors.InputError` when ``run_dir`` is not a readable run directory
    (no directory, no or unreadable ``manifest.json``).
    """
    from .render import render_html

    return render_html(load_run(run_dir))


def build_report(run_dir: str | os.PathLike, run: RunData | None = None) -> Path:
    """Write ``run_dir/report.html`` through a temporary file and an atomic rename; return its path.
    ``run``: the directory's :func:`load_run`, when the caller has read it already."""
    from ..io.atomic import write_bytes_atomic
    from .render import render_html

    data = render_html(run if run is not None else load_run(run_dir))
    return write_bytes_atomic(Path(run_dir) / REPORT_NAME, data, follow_links=False)  # a link never leads out
