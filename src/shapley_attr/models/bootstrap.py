"""Data uncertainty: percentile bootstrap over journeys (MODELS.md, ``--bootstrap B``).

Each replicate resamples the table's J journeys with replacement. The number of times each cell
(a path's converting journeys, a path's non-converting journeys) is drawn is one multinomial draw of
J over the cells (so J is kept). A converting journey carries **its own value**: given that path p's
converting journeys are drawn c_p times, its replicate value is the sum of c_p draws with replacement
from the values of p's journeys, which is exactly the distribution of resampling single journeys
(orders differ in value far more within a path than paths differ on average; giving each draw the
path's mean value drops that spread and makes GMV intervals too narrow). Events input keeps every
journey's value (``PathTable.journey_values``); a paths table has only each path's total, so there
the draw carries the path's mean value and the result says so (``info["bootstrap"]["values"]``).

When a paths table holds non-integer counts the multinomial is undefined and each cell gets a
Poisson(count) draw instead (the Poisson bootstrap, Hanley & MacGibbon 2006), with the same first
two moments. The model is refitted on every replicate; the 2.5% and 97.5% percentiles of each
channel's credit (in the unit of the attributed value) are reported, and the replicate draws are
kept (``extra["bootstrap"]["draws"]``, B × channels, GMV) so that sums over channels — a partner's
attributed GMV — get their own percentile interval. The draws come from NumPy's Philox generator keyed
by the seed, in one thread, so intervals are reproducible; a model with its own Monte Carlo gets
seed + 1 + b in replicate b, so the interval also holds the Monte Carlo noise.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..config import ModelParams
from ..frames import PathTable
from .base import ModelResult

MAX_REPLICATE_FITS = 2_000_000_000
"""Refused beyond: B × (journeys + paths) draws and fits would run for hours (the message says so)."""

VALUES_OWN = "each journey's own value"
VALUES_MEAN = "the path's mean value (a paths table has no single order values)"


def resample(table: PathTable, rng: np.random.Generator) -> PathTable:
    """One bootstrap replicate of ``table``: same paths and channels, new journey counts and values."""
    counts = np.concatenate([table.conversions, table.nulls])
    if np.all(counts == np.round(counts)):
        total = int(round(counts.sum()))
        probs = counts / counts.sum() if total else counts
        drawn = rng.multinomial(total, probs).astype(np.float64) if total else counts.copy()
    else:
        drawn = rng.poisson(counts).astype(np.float64)
    n = table.n_paths
    conv, nulls = drawn[:n], drawn[n:]
    if table.journey_values is not None:
        value = _own_values(table, conv.astype(np.int64), rng)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            mean_value = np.where(table.conversions > 0, table.value / table.conversions, 0.0)
        value = conv * mean_value
    return PathTable(table.offsets, table.codes, conv, value, nulls, table.channels, table.ages, {})


def _own_values(table: PathTable, drawn: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per path, the sum of ``drawn[p]`` values drawn with replacement from path p's journeys."""
    sizes = np.diff(table.value_offsets)
    if np.any(drawn[sizes == 0] > 0):
        raise RuntimeError("bootstrap drew a conversion of a path with no converting journey")
    owner = np.repeat(np.arange(table.n_paths), drawn)
    picks = table.value_offsets[owner] + (rng.random(len(owner)) * sizes[owner]).astype(np.int64)
    # float64 even with nothing drawn (NumPy's bincount of no values is int64, weights or not)
    return np.bincount(owner, weights=table.journey_values[picks], minlength=table.n_paths).astype(np.float64)


def bootstrap_intervals(table: PathTable, params: ModelParams, result: ModelResult, fit_fn) -> ModelResult:
    """Refit ``fit_fn`` on ``params.bootstrap`` replicates; store percentile 95% intervals in ``result``
    (a progress bar of the replicates on a terminal)."""
    from ..progress import current
    replicates = params.bootstrap
    journeys = float(table.conversions.sum() + table.nulls.sum())
    work = replicates * (journeys + table.n_paths)
    if work > MAX_REPLICATE_FITS:
        from ..errors import ModelLimitError

        raise ModelLimitError(f"--bootstrap {replicates} on {journeys:.0f} journeys over {table.n_paths} paths means "
                              f"{work:.2e} draws and {replicates} refits (limit {MAX_REPLICATE_FITS:.0e} draws): use "
                              "fewer replicates (200 give a stable 95% interval)")
    rng = np.random.Generator(np.random.Philox(key=params.seed))
    col = 1 if params.value == "gmv" else 0
    draws = np.empty((replicates, len(result.channels)), dtype=np.float64)
    gmv_draws = np.empty((replicates, len(result.channels)), dtype=np.float64)
    inner = replace(params, bootstrap=0)
    with current().bar(replicates, "bootstrap", unit="replicate") as bar:
        for b in range(replicates):
            rep = fit_fn(resample(table, rng), replace(inner, seed=(params.seed + 1 + b) % (2**63)))
            if rep.channels != result.channels:
                raise RuntimeError("bootstrap replicate changed the channel set")
            draws[b] = rep.credit[:, col]
            gmv_draws[b] = rep.credit[:, 1]
            bar.update()
    low, high = np.percentile(draws, [2.5, 97.5], axis=0, method="linear")
    values = VALUES_OWN if table.journey_values is not None else VALUES_MEAN
    result.extra["bootstrap"] = {"low": low, "high": high, "replicates": replicates, "draws": gmv_draws,
                                 "values": "journey" if values == VALUES_OWN else "path_mean"}
    result.info["bootstrap"] = {"replicates": replicates, "seed": params.seed, "interval": "percentile 95%",
                                "resampled": "journeys with replacement", "values": values}
    return result
