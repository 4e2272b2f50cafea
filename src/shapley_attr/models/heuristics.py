"""Heuristic models (MODELS.md): first, last, linear, position (U-shaped), time-decay."""
from __future__ import annotations

import numpy as np

from ..config import ModelParams
from ..errors import UsageError
from ..frames import PathTable
from .base import ModelResult

_RULE = {"first": 0, "last": 1, "linear": 2, "position": 3, "time-decay": 4}


def heuristic_credit(table: PathTable, rule: str, params: ModelParams | None = None) -> np.ndarray:
    """(n_channels, 2) credit in [conversions, gmv] of one heuristic rule over ``table``."""
    from ..kernels.heuristics import _heuristic_credit

    params = params or ModelParams(model=rule)
    if rule == "time-decay" and table.ages is None:
        raise UsageError("time-decay needs touch timestamps: give an events export, not a paths table")
    ages = table.ages if table.ages is not None else np.empty(0, dtype=np.float64)
    w_first, w_middle, w_last = params.position_weights
    return _heuristic_credit(table.offsets, table.codes, table.weights(), table.n_channels, _RULE[rule],
                             w_first, w_middle, w_last, ages, params.half_life_days * 86400.0)


def last_touch_credit(table: PathTable) -> np.ndarray:
    """(n_channels, 2) last-touch credit: the hybrid's second part and the referral GMV of payouts."""
    return heuristic_credit(table, "last")


def fit(table: PathTable, params: ModelParams) -> ModelResult:
    """Split each path's conversions and GMV over its touches by the heuristic ``params.model``.

    first/last: all to c_1 / c_m. linear: x/m per touch (a channel touched twice gets twice).
    position: 40% first, 40% last, 20% over the touches between (weights are options); m = 2 splits
    first:last in proportion (50/50 by default); m = 1 gives all. time-decay: weight 2^(-Δt/h) with Δt
    the time from touch to conversion and h the half-life (7 days), normalised per journey.
    """
    if params.collapses:
        from ..paths_ops import collapse_repeats

        table = collapse_repeats(table)
    credit = heuristic_credit(table, params.model, params)
    info = {"model": params.model, "collapse_repeats": params.collapses}
    if params.model == "position":
        info["position_weights"] = list(params.position_weights)
    if params.model == "time-decay":
        info["half_life_days"] = params.half_life_days
    return ModelResult(table.channels, credit, info=info)
