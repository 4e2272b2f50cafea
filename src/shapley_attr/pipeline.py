"""The Python API: data in, attribution table out.

``attribute`` is what the CLI's ``attribute`` command calls, and what a data engineer calls from a
pipeline with a Polars/Arrow table or a file path::

    import shapley_attr as sa
    table = sa.attribute("export.parquet", model="shapley", game="rate")

The flow is the package's one flow: read → journeys (PathTable) → model kernels → credits frame.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

import numpy as np
import polars as pl

from .config import ColumnMapping, JourneyParams, ModelParams, PATH_SEP
from .frames import PathTable
from .models.base import ModelResult

_HEURISTIC = ("first", "last", "linear", "position", "time-decay")


def load_table(source, *, input_kind: str | None = None, mapping: ColumnMapping | None = None,
               journeys: JourneyParams | None = None, quarantine: bool = False, gmv_to_reporting=None):
    """Read ``source`` (path or frame) into a :class:`PathTable` and a read report (rows, GMV, rejects)."""
    from .io import load_table as _load

    return _load(source, kind=input_kind, mapping=mapping or ColumnMapping(), journeys=journeys or JourneyParams(),
                 quarantine=quarantine, gmv_to_reporting=gmv_to_reporting)


def resolve_value(params: ModelParams, table: PathTable, explicit: bool) -> ModelParams:
    """``--value`` defaults to GMV when the data has values, else conversions (MODELS.md)."""
    if explicit:
        return params
    return replace(params, value="gmv" if float(table.value.sum()) > 0.0 else "conversions")


def game_label(params: ModelParams) -> str | None:
    """The game is named for the Shapley and hybrid models, None for the others."""
    return params.game if params.model in ("shapley", "hybrid") else None


def attribution_frame(result: ModelResult, params: ModelParams, period: str | None = None) -> pl.DataFrame:
    """Credits as the output contract's table, one row per channel, sorted by channel label.

    Columns: ``period, model, game, channel, conversions, gmv, share, std_error, ci_low, ci_high``
    (and ``bootstrap_low, bootstrap_high`` when a bootstrap ran). ``share`` is the channel's share of
    the attributed value (GMV, or conversions with ``value="conversions"``); ``std_error``, ``ci_low``
    and ``ci_high`` are Monte Carlo estimates in the unit of the attributed value, null when exact.
    """
    credit = np.asarray(result.credit, dtype=np.float64)
    col = 1 if params.value == "gmv" else 0
    total = float(credit[:, col].sum())
    share = credit[:, col] / total if total != 0.0 else np.zeros(len(credit))
    n = len(result.channels)

    def _opt(arr):
        return pl.Series(arr, dtype=pl.Float64) if arr is not None else pl.Series([None] * n, dtype=pl.Float64)

    frame = pl.DataFrame({
        "period": pl.Series([period] * n, dtype=pl.Utf8),
        "model": pl.Series([params.model] * n, dtype=pl.Utf8),
        "game": pl.Series([game_label(params)] * n, dtype=pl.Utf8),
        "channel": pl.Series(list(result.channels), dtype=pl.Utf8),
        "conversions": pl.Series(credit[:, 0], dtype=pl.Float64),
        "gmv": pl.Series(credit[:, 1], dtype=pl.Float64),
        "share": pl.Series(share, dtype=pl.Float64),
        "std_error": _opt(result.std_error),
        "ci_low": _opt(result.ci_low),
        "ci_high": _opt(result.ci_high),
    })
    boot = result.extra.get("bootstrap")
    if boot is not None:
        frame = frame.with_columns(pl.Series("bootstrap_low", boot["low"], dtype=pl.Float64),
                                   pl.Series("bootstrap_high", boot["high"], dtype=pl.Float64))
    return frame.sort("channel")


def model_params(**options: Any) -> ModelParams:
    """A ModelParams from keyword options, ignoring the ones left at None."""
    return ModelParams(**{k: v for k, v in options.items() if v is not None})


def attribute(data, *, model: str = "shapley", game: str = "rate", method: str = "auto", order: int = 1,
              alpha: float = 0.5, value: str | None = None, seed: int = 0, tolerance: float | None = None,
              max_samples: int | None = None, bootstrap: int = 0, collapse_repeats: bool | None = None,
              half_life_days: float | None = None, position_weights: tuple[float, float, float] | None = None,
              input_kind: str | None = None, columns: Mapping[str, str] | None = None,
              touch_types: tuple[str, ...] = ("touch",), conversion_types: tuple[str, ...] = ("conversion",),
              currency: str | None = None, sep: str = PATH_SEP, delimiter: str | None = None,
              input_format: str | None = None, lookback_days: float = 30.0, period: str | None = None,
              quarantine: bool = False, with_report: bool = False):
    """Attribute conversions and GMV of ``data`` to channels.

    Parameters
    ----------
    data : str, Path, polars.DataFrame, polars.LazyFrame or pyarrow.Table
        An events export (DATA.md input 1) or a paths table (input 2, ChannelAttribution's format).
    model, game, method, order, alpha, value, seed, tolerance, max_samples, bootstrap
        As the CLI options of the same names (MODELS.md). ``value=None`` attributes GMV when the data
        has values, else conversions.
    columns : mapping of contract column -> source column (``--col NAME=SOURCE``).
    quarantine : put invalid rows aside (see the report) instead of raising ``InputError``.
    with_report : also return the read report (rows read/accepted/rejected, GMV, rejects, stats) and
        the ``ModelResult``.

    Returns
    -------
    polars.DataFrame with columns ``channel, conversions, gmv, share, std_error, ci_low, ci_high``
    (``(frame, report, result)`` with ``with_report=True``).
    """
    params = model_params(model=model, game=game, method=method, order=order, alpha=alpha, value=value or "gmv",
                          seed=seed, tolerance=tolerance, max_samples=max_samples, bootstrap=bootstrap,
                          collapse_repeats=collapse_repeats, half_life_days=half_life_days,
                          position_weights=tuple(position_weights) if position_weights else None)
    mapping = ColumnMapping(rename=tuple((columns or {}).items()), touch_types=tuple(touch_types),
                            conversion_types=tuple(conversion_types), currency=currency, delimiter=delimiter,
                            sep=sep, input_format=input_format)
    journeys = JourneyParams(lookback_days=lookback_days, period=period, keep_ages=params.model == "time-decay")
    table, report = load_table(data, input_kind=input_kind, mapping=mapping, journeys=journeys, quarantine=quarantine)
    params = resolve_value(params, table, explicit=value is not None)
    from .models import fit

    result = fit(table, params)
    frame = attribution_frame(result, params, period).drop("period", "model", "game")
    if with_report:
        return frame, report, result
    return frame
