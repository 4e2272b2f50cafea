"""Data uncertainty: percentile bootstrap over journeys (MODELS.md, ``--bootstrap B``).

Each replicate resamples the table's journeys with replacement: the converting and the non-converting
journeys of every path are cells of one multinomial draw of J = total journeys (so J is kept), a
converting journey carrying its path's mean value. When a paths table holds non-integer counts, the
multinomial is undefined and each cell gets a Poisson(count) draw instead (the Poisson bootstrap,
Hanley & MacGibbon 2006), which has the same first two moments. The model is refitted on every
replicate and the 2.5% and 97.5% percentiles of each channel's credit (in the unit of the attributed
value) are reported. The draws come from NumPy's Philox generator keyed by the seed, in one thread, so
intervals are reproducible; a model with its own Monte Carlo gets seed + 1 + b in replicate b.
This interval is separate from the Monte Carlo standard error and both are reported.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..config import ModelParams
from ..frames import PathTable
from .base import ModelResult


def resample(table: PathTable, rng: np.random.Generator) -> PathTable:
    """One bootstrap replicate of ``table`` (same paths and channels, new journey counts)."""
    counts = np.concatenate([table.conversions, table.nulls])
    if np.all(counts == np.round(counts)):
        total = int(round(counts.sum()))
        probs = counts / counts.sum() if total else counts
        drawn = rng.multinomial(total, probs).astype(np.float64) if total else counts.copy()
    else:
        drawn = rng.poisson(counts).astype(np.float64)
    n = table.n_paths
    conv, nulls = drawn[:n], drawn[n:]
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_value = np.where(table.conversions > 0, table.value / table.conversions, 0.0)
    return replace(table, conversions=conv, value=conv * mean_value, nulls=nulls, stats={})


def bootstrap_intervals(table: PathTable, params: ModelParams, result: ModelResult, fit_fn) -> ModelResult:
    """Refit ``fit_fn`` on ``params.bootstrap`` replicates; store percentile 95% intervals in ``result``."""
    replicates = params.bootstrap
    rng = np.random.Generator(np.random.Philox(key=params.seed))
    col = 1 if params.value == "gmv" else 0
    draws = np.empty((replicates, len(result.channels)), dtype=np.float64)
    inner = replace(params, bootstrap=0)
    for b in range(replicates):
        rep = fit_fn(resample(table, rng), replace(inner, seed=(params.seed + 1 + b) % (2**63)))
        if rep.channels != result.channels:
            raise RuntimeError("bootstrap replicate changed the channel set")
        draws[b] = rep.credit[:, col]
    low, high = np.percentile(draws, [2.5, 97.5], axis=0, method="linear")
    result.extra["bootstrap"] = {"low": low, "high": high, "replicates": replicates}
    result.info["bootstrap"] = {"replicates": replicates, "seed": params.seed, "interval": "percentile 95%"}
    return result
