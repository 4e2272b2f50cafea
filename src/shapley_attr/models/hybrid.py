"""Shapley/last-touch hybrid: per journey α·(Shapley share) + (1 − α)·(last touch).

Both parts are linear in the journeys' weights, so the per-journey mix equals the mix of the two
credit vectors; credits still sum to X. Monte Carlo errors of the Shapley part scale by α.
"""
from __future__ import annotations

from dataclasses import replace

from ..config import ModelParams
from ..frames import PathTable
from .base import ModelResult
from .heuristics import last_touch_credit
from .shapley import fit as fit_shapley


def fit(table: PathTable, params: ModelParams) -> ModelResult:
    alpha = params.alpha
    shap = fit_shapley(table, replace(params, model="shapley"))
    if params.collapses:
        from ..paths_ops import collapse_repeats

        table = collapse_repeats(table)
    credit = alpha * shap.credit + (1.0 - alpha) * last_touch_credit(table)
    info = dict(shap.info) | {"alpha": alpha, "hybrid": "alpha*shapley + (1-alpha)*last_touch"}
    se = None if shap.std_error is None else alpha * shap.std_error
    col = 1 if params.value == "gmv" else 0
    lo = hi = None
    if se is not None:
        from .shapley import Z95

        lo = credit[:, col] - Z95 * se
        hi = credit[:, col] + Z95 * se
    extra = dict(shap.extra)
    if "gmv_std_error" in extra:
        extra["gmv_std_error"] = alpha * extra["gmv_std_error"]
    return ModelResult(table.channels, credit, std_error=se, ci_low=lo, ci_high=hi, info=info, extra=extra)
