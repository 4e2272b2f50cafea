"""Attribution models: one module per family. :func:`fit` dispatches on ``ModelParams.model``.

Each family module exposes ``fit(table: PathTable, params: ModelParams) -> ModelResult``; it validates
its inputs, prepares arrays and calls kernels. Modules are imported lazily so that numba is only
loaded when a model runs.
"""
from __future__ import annotations

import importlib

from ..config import ModelParams
from ..frames import PathTable
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


def fit(table: PathTable, params: ModelParams) -> ModelResult:
    """Attribute ``table`` with the model named in ``params``; bootstrap intervals when asked."""
    module = importlib.import_module(f".{_FAMILY[params.model]}", __name__)
    result = module.fit(table, params)
    if params.bootstrap:
        from .bootstrap import bootstrap_intervals

        bootstrap_intervals(table, params, result, module.fit)
    return result


__all__ = ["ModelResult", "fit"]
