"""Output tables: credits, the models side by side, positions, payouts and KPIs as frames and CSV bytes.

Every table names its model and game (``None`` for models without a game). CSV is UTF-8, LF, with a
header; text cells a spreadsheet would run as a formula are neutralised (``finance_csv``).
"""
from __future__ import annotations

import io

import numpy as np
import polars as pl

from ..config import ModelParams
from ..models.base import ModelResult
from ..schema import (ATTRIBUTION_COLUMNS, BOOTSTRAP_COLUMNS, CREDIT_COLUMNS, KPI_COLUMNS, MAP_COMPLIANCE_COLUMNS,
                      MODELS_COLUMNS, PAYOUT_COLUMNS, PAYOUT_INTERVAL_COLUMNS, PAYOUT_MAP_COLUMNS, POSITION_COLUMNS)
from .finance_csv import csv_bytes

TEXT_COLUMNS = {"period", "model", "game", "channel", "partner_id", "partner_name", "country", "currency", "run_id",
                "kpi", "scope", "source", "column", "value", "reason"}
"""Columns whose cells are free text from the inputs (neutralised in CSV)."""

FILE_FORMATS = ("csv", "parquet", "json")
"""The formats ``attribute`` writes its table to a file in (``--format``; ``table`` is for the terminal)."""


def attribution_frame(result: ModelResult, params: ModelParams, period: str | None = None) -> pl.DataFrame:
    """Credits as the run's ``attribution`` table, one row per channel, sorted by channel label.

    ``share`` is the channel's share of the attributed value (GMV, or conversions with
    ``value="conversions"``); ``std_error, ci_low, ci_high`` are Monte Carlo estimates in the unit of
    the attributed value, null when exact; ``bootstrap_low, bootstrap_high`` follow when a bootstrap ran,
    and ``bootstrap_values``: ``journey`` (each draw carried its journey's own value) or ``path_mean``
    (a paths input: its path's mean value, which narrows GMV intervals).
    """
    credit = np.asarray(result.credit, dtype=np.float64)
    col = 1 if params.value == "gmv" else 0
    total = float(credit[:, col].sum())
    share = credit[:, col] / total if total != 0.0 else np.zeros(len(credit))
    n = len(result.channels)

    def optional(arr):
        return pl.Series(arr if arr is not None else [None] * n, dtype=pl.Float64)

    columns = {
        "period": pl.Series([period] * n, dtype=pl.Utf8),
        "model": pl.Series([params.model] * n, dtype=pl.Utf8),
        "game": pl.Series([params.game_label] * n, dtype=pl.Utf8),
        "channel": pl.Series(list(result.channels), dtype=pl.Utf8),
        "conversions": pl.Series(credit[:, 0], dtype=pl.Float64),
        "gmv": pl.Series(credit[:, 1], dtype=pl.Float64),
        "share": pl.Series(share, dtype=pl.Float64),
        "std_error": optional(result.std_error),
        "ci_low": optional(result.ci_low),
        "ci_high": optional(result.ci_high),
    }
    assert tuple(columns) == ATTRIBUTION_COLUMNS
    boot = result.extra.get("bootstrap")
    if boot is not None:
        columns["bootstrap_low"] = pl.Series(boot["low"], dtype=pl.Float64)
        columns["bootstrap_high"] = pl.Series(boot["high"], dtype=pl.Float64)
        # what a draw carried, in the file itself (MODELS.md: a paths input says so in the output)
        columns["bootstrap_values"] = pl.Series([boot["values"]] * n, dtype=pl.Utf8)
    return pl.DataFrame(columns).sort("channel")


def credits_frame(result: ModelResult, params: ModelParams) -> pl.DataFrame:
    """``attribute``'s table (CLI and API alike): DATA.md's columns, the bootstrap interval when one
    ran, then ``model, game`` appended so that the output names what produced it."""
    frame = attribution_frame(result, params)
    boot = [c for c in BOOTSTRAP_COLUMNS if c in frame.columns]
    return frame.select(*CREDIT_COLUMNS, *boot, "model", "game")


def positions_frame(result: ModelResult, params: ModelParams, period: str | None = None) -> pl.DataFrame | None:
    """The ordered game's credit per touch position, or None for other models."""
    positions = result.extra.get("positions")
    if positions is None:
        return None
    n = len(positions)
    return positions.select(
        pl.Series("period", [period] * n, dtype=pl.Utf8), pl.Series("model", [params.model] * n, dtype=pl.Utf8),
        pl.Series("game", [params.game_label] * n, dtype=pl.Utf8), "channel", "position", "conversions", "gmv",
    ).sort("channel", "position").select(POSITION_COLUMNS)


def models_frame(results: list[tuple[ModelParams, ModelResult]], period: str | None) -> pl.DataFrame:
    """Several models on the same journeys, one row per model and channel (``models.csv``)."""
    frames = [attribution_frame(result, params, period).select(MODELS_COLUMNS) for params, result in results]
    return pl.concat(frames) if frames else pl.DataFrame(schema={c: pl.Utf8 for c in MODELS_COLUMNS})


def frame_csv(frame: pl.DataFrame) -> bytes:
    """A frame as CSV bytes; free-text cells neutralised, numbers as Polars writes them."""
    from .finance_csv import safe_columns

    frame = safe_columns(frame, [c for c in frame.columns if c in TEXT_COLUMNS and frame.schema[c] == pl.Utf8])
    out = io.BytesIO()  # UTF-8 bytes written once: a str, then its encoding, held the text twice (1.07M
    frame.write_csv(out)  # rejects: 85 MiB each)
    return out.getvalue()


def payouts_csv(payouts, period: str, run_id: str, intervals=None) -> bytes:
    """``payouts.csv`` (DATA.md): decimal text with exactly the currency's minor digits, sorted by
    partner_id. ``intervals`` maps partner_id to (low, high) attributed GMV (Decimal, partner's
    currency): the two interval columns are then appended. With MAP inputs (``payouts.map_policy`` set)
    ``map_compliance, privileges_withheld`` (PROGRAMME.md) come right after DATA.md's columns, before
    the interval columns, which always come last."""
    from ..finance.money import format_amount
    from ..finance.programme import ratio_text

    with_map = getattr(payouts, "map_policy", None) is not None
    header = (PAYOUT_COLUMNS + (PAYOUT_MAP_COLUMNS if with_map else ())
              + (PAYOUT_INTERVAL_COLUMNS if intervals is not None else ()))
    rows = []
    for ln in payouts.lines:
        p, c = ln.partner, ln.partner.currency
        row = [period, p.partner_id, p.partner_name, p.country, c, format_amount(ln.attributed_gmv, c),
               str(p.gamma), format_amount(ln.compensation, c), format_amount(ln.referral_gmv, c), str(p.beta),
               format_amount(ln.referral_commission, c), format_amount(ln.sales, c),
               format_amount(p.sales_target, c), str(p.rho), format_amount(ln.rebate, c), format_amount(ln.coop, c),
               format_amount(ln.total_payable, c), _flag(ln.below_min_profit), run_id]
        if with_map:
            row += [ratio_text(ln.map_compliance), _flag(ln.privileges_withheld)]
        if intervals is not None:
            low, high = intervals[p.partner_id]
            row += [format_amount(low, c), format_amount(high, c)]
        rows.append(row)
    return csv_bytes(header, rows, TEXT_COLUMNS)


def _flag(value: bool | None) -> str:
    """A payout flag's cell: ``true``, ``false``, or empty when it cannot be decided (a partner's
    participation check without its gross margin)."""
    return "" if value is None else "true" if value else "false"


def parquet_bytes(frame: pl.DataFrame, config) -> bytes:
    """A frame as Parquet bytes with the run's parameters and the version in the schema metadata."""
    import io
    import json

    import pyarrow.parquet as pq

    from .. import __version__

    arrow = frame.to_arrow()
    meta = {b"shapley_attr.params": json.dumps(config.parameters(), sort_keys=True).encode(),
            b"shapley_attr.version": __version__.encode()}
    arrow = arrow.replace_schema_metadata({**(arrow.schema.metadata or {}), **meta})
    buf = io.BytesIO()
    pq.write_table(arrow, buf)
    return buf.getvalue()


def format_of(path) -> str:
    """The output format named by a file's extension: csv for ``.csv``, ``.txt`` or none; an extension
    of another format (``.xlsx``, ``.tsv``: a CSV file under that name was written) is a UsageError."""
    from pathlib import Path

    from ..errors import UsageError

    suffix = Path(path).suffix.lower()
    fmt = ({f".{name}": name for name in FILE_FORMATS} | {".pq": "parquet", ".txt": "csv", "": "csv"}).get(suffix)
    if fmt is None:
        raise UsageError(f"--out {path}: unknown extension {suffix!r}: expected .csv, .parquet or .json, or "
                         "say --format")
    return fmt


def encode_credits(frame: pl.DataFrame, fmt: str, config) -> bytes:
    """``attribute``'s table as csv, json (an array of row objects) or parquet bytes."""
    if fmt == "csv":
        return frame_csv(frame)
    if fmt == "json":
        import json

        return (json.dumps(frame.to_dicts(), indent=1, allow_nan=False) + "\n").encode("utf-8")
    if fmt == "parquet":
        return parquet_bytes(frame, config)
    raise ValueError(f"unknown format {fmt!r}: expected one of {FILE_FORMATS}")


def kpis_csv(rows: list[list[str]]) -> bytes:
    return csv_bytes(KPI_COLUMNS, rows, {"period", "kpi", "scope"})


def map_compliance_csv(compliance) -> bytes:
    """``map_compliance.csv`` (PROGRAMME.md): one row per paid partner, sorted by partner_id; the
    compliance with six decimals, empty when the partner was not observed."""
    return csv_bytes(MAP_COMPLIANCE_COLUMNS, [c.row() for _, c in sorted(compliance.items())], {"partner_id"})
