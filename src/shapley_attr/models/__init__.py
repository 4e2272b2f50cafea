"""Attribution models: one module per family. :func:`fit` dispatches on ``ModelParams.model``.

Each family module exposes ``fit(table: PathTable, params: ModelParams) -> ModelResult``; it validates
its inputs, prepares arrays and calls kernels. Modules are imported lazily so that numba is only
loaded when a model runs. ``(direct)`` never reaches a family: :func:`fit` credits its journeys
directly and hands the rest to the model (MODELS.md).
"""
from __future__ import annotations

import importlib
from dataclasses import fields
from typing import Mapping

import numpy as np

from ..config import ConfigError, ModelParams
from ..frames import PathTable, split_direct
from ..schema import DIRECT
from .base import ModelResult

_FAMILY = {
    "first": "heuristics",
    "last": "heuristics",
    "linear": "heuristics",
    "position": "heuristics",
    "time-decay": "heuristics",
    "markov": "markov",
    "shapley": "shapley",
    "hybrid": "hybrid",
}


def fit(table: PathTable, params: ModelParams | Mapping) -> ModelResult:
    """Attribute ``table`` with the model named in ``params``; bootstrap intervals when asked.

    The result's channels are the table's (``(direct)`` among them when the table has direct
    conversions) and its credits sum to the table's total conversions and value.
    """
    if not isinstance(table, PathTable):
        from ..errors import InputKindError

        raise InputKindError(f"fit: expected a PathTable (shapley_attr.load_table(...).table, or "
                             f"frames.from_path_lists), got {type(table).__name__}")
    params = model_params(params)
    result = fit_once(table, params)
    if params.bootstrap:
        from .bootstrap import bootstrap_intervals

        bootstrap_intervals(table, params, result, fit_once)
    return result


def model_params(params) -> ModelParams:
    """``params`` as :class:`ModelParams`: one already, or a mapping of its fields (``{"model":
    "markov", "order": 2}``, checked as the record checks them)."""
    if isinstance(params, ModelParams):
        return params
    if isinstance(params, Mapping):
        unknown = sorted(k for k in params if k not in {f.name for f in fields(ModelParams)})
        if unknown:
            raise ConfigError(f"unknown model setting {unknown[0]!r}; expected some of "
                              f"{', '.join(f.name for f in fields(ModelParams))}")
        return ModelParams(**params)
    raise ConfigError(f"expected ModelParams or a mapping of its settings, got {type(params).__name__}")


def fit_once(table: PathTable, params: ModelParams) -> ModelResult:
    """One fit without the bootstrap: ``(direct)`` credited outside the model, the rest modelled."""
    module = importlib.import_module(f".{_FAMILY[params.model]}", __name__)
    rest, direct = split_direct(table)
    result = module.fit(rest, params)
    if DIRECT in table.channels:
        result = with_direct(result, direct, params)
    result.info["direct"] = {"conversions": float(direct[0]), "gmv": float(direct[1]),
                             "rule": "credited outside the model (no player of a game, no Markov state)"}
    return result


def with_direct(result: ModelResult, direct: np.ndarray, params: ModelParams) -> ModelResult:
    """``result`` with a ``(direct)`` row holding ``direct`` ([conversions, value]), exact: zero
    standard error and a degenerate interval."""
    channels = tuple(sorted(result.channels + (DIRECT,)))
    at = channels.index(DIRECT)
    credit = np.insert(np.asarray(result.credit, dtype=np.float64), at, direct, axis=0)
    col = 1 if params.value == "gmv" else 0

    def put(arr, value):
        return None if arr is None else np.insert(np.asarray(arr, dtype=np.float64), at, value)

    extra = dict(result.extra)
    if "gmv_std_error" in extra:
        extra["gmv_std_error"] = put(extra["gmv_std_error"], 0.0)
    if "positions" in extra:  # the ordered game: (direct) is a one-touch journey, all at position 1
        import polars as pl

        positions = extra["positions"]
        row = pl.DataFrame({"channel": [DIRECT], "position": [1], "conversions": [float(direct[0])],
                            "gmv": [float(direct[1])]}, schema=positions.schema)
        extra["positions"] = pl.concat([positions, row]).sort("channel", "position")
    return ModelResult(channels, credit, std_error=put(result.std_error, 0.0), ci_low=put(result.ci_low, direct[col]),
                       ci_high=put(result.ci_high, direct[col]), info=result.info, extra=extra)


__all__ = ["ModelResult", "fit"]
