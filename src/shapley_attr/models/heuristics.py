"""Heuristic models (MODELS.md): first, last, linear, position (U-shaped), time-decay."""
from __future__ import annotations

import numpy as np

from ..config import ModelParams
from ..errors import UsageError
from ..frames import PathTable
from .base import ModelResult

def heuristic_credit(table: PathTable, rule: str, params: ModelParams | None = None) -> np.ndarray:
    """(n_channels, 2) credit in [conversions, gmv] of one heuristic rule over ``table``.

    Vectorised NumPy over the CSR table (a share per touch, summed per channel with ``bincount``, in
    touch order, so reruns are bit-identical): the rules need no compiled kernel, and a paths input
    attributed with them never loads Numba (whole-command start-up).
    """
    params = params or ModelParams(model=rule)
    if rule == "time-decay" and table.ages is None:
        raise UsageError("time-decay needs touch timestamps: give an events export, not a paths table")
    lengths = table.lengths
    weights = table.weights()
    if rule in ("first", "last"):
        have = lengths > 0
        at = table.offsets[:-1][have] if rule == "first" else table.offsets[1:][have] - 1
        return _per_channel(table.codes[at], weights[have], table.n_channels)
    per_touch = np.repeat(weights, lengths, axis=0)
    if rule == "linear":
        share = 1.0 / np.repeat(lengths, lengths)
    elif rule == "position":
        share = _position_shares(lengths, *params.position_weights)
    else:  # time-decay: 2^(-age/h), normalised per journey
        # taken relative to the journey's most recent touch (2^(-(age - min age)/h): the same shares,
        # the normalisation cancels the factor), so the latest touch weighs 1 and a half-life of
        # minutes cannot underflow every weight of a journey to 0 (0/0: NaN credits)
        starts = table.offsets[:-1][lengths > 0]
        youngest = np.zeros(table.n_paths)
        if len(starts):
            youngest[lengths > 0] = np.minimum.reduceat(table.ages, starts)
        decay = np.exp2(-(table.ages - np.repeat(youngest, lengths)) / (params.half_life_days * 86400.0))
        per_path = np.zeros(table.n_paths)
        if len(starts):
            per_path[lengths > 0] = np.add.reduceat(decay, starts)
        share = decay / np.repeat(per_path, lengths)
    return _per_channel(table.codes, per_touch * share[:, None], table.n_channels)


def _position_shares(lengths: np.ndarray, w_first: float, w_middle: float, w_last: float) -> np.ndarray:
    """U-shaped share of every touch: w_first, w_middle/(m−2) each, w_last; m = 2 splits first:last in
    proportion (50/50 by default); m = 1 gives all."""
    m = np.repeat(lengths, lengths)
    pos = np.arange(len(m)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    ends = w_first + w_last
    f = w_first / ends if ends > 0 else 0.5
    with np.errstate(divide="ignore", invalid="ignore"):
        middle = np.where(m > 2, w_middle / np.maximum(m - 2, 1), 0.0)
    share = np.where(pos == 0, w_first, np.where(pos == m - 1, w_last, middle))
    share = np.where(m == 2, np.where(pos == 0, f, 1.0 - f), share)
    return np.where(m == 1, 1.0, share)


def _per_channel(codes: np.ndarray, weights: np.ndarray, n_channels: int) -> np.ndarray:
    """Σ of ``weights`` rows (touches, 2) per channel code: an (n_channels, 2) C-contiguous array."""
    return np.ascontiguousarray(np.stack([np.bincount(codes, weights=weights[:, j], minlength=n_channels)
                                          for j in range(weights.shape[1])], axis=1))


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
