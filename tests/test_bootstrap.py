"""Bootstrap intervals: seeded, reproducible, around the estimate, and shrinking with more data."""
from __future__ import annotations

import numpy as np

from shapley_attr.config import ModelParams
from shapley_attr.frames import from_path_lists
from shapley_attr.models import fit
from shapley_attr.models.bootstrap import resample


def table(scale=1):
    paths = [["a", "b"], ["b"], ["a", "c"], ["c", "b", "a"], ["c"]]
    conv = np.array([3, 2, 1, 4, 0], dtype=float) * scale
    nulls = np.array([5, 7, 2, 3, 9], dtype=float) * scale
    return from_path_lists(paths, conv, conv * 20, nulls)


def test_resample_keeps_journeys_and_mean_values():
    t = table()
    rep = resample(t, np.random.Generator(np.random.Philox(key=3)))
    assert rep.conversions.sum() + rep.nulls.sum() == t.conversions.sum() + t.nulls.sum()
    assert np.allclose(rep.value, rep.conversions * 20)


def test_intervals_are_reproducible_and_bracket_the_estimate():
    params = ModelParams(model="shapley", game="rate", bootstrap=200, seed=5)
    a, b = fit(table(), params), fit(table(), params)
    assert np.array_equal(a.extra["bootstrap"]["low"], b.extra["bootstrap"]["low"])
    low, high = a.extra["bootstrap"]["low"], a.extra["bootstrap"]["high"]
    assert np.all(low <= a.credit[:, 1] + 1e-9) and np.all(a.credit[:, 1] <= high + 1e-9)
    other = fit(table(), ModelParams(model="shapley", game="rate", bootstrap=200, seed=6))
    assert not np.array_equal(other.extra["bootstrap"]["low"], low)
    assert a.info["bootstrap"]["replicates"] == 200


def test_intervals_shrink_with_more_journeys():
    small = fit(table(1), ModelParams(model="linear", bootstrap=300, seed=1))
    big = fit(table(100), ModelParams(model="linear", bootstrap=300, seed=1))
    width_small = (small.extra["bootstrap"]["high"] - small.extra["bootstrap"]["low"]) / small.credit[:, 1].sum()
    width_big = (big.extra["bootstrap"]["high"] - big.extra["bootstrap"]["low"]) / big.credit[:, 1].sum()
    assert np.all(width_big < width_small / 3)  # ~ 1/sqrt(100) = 1/10 in theory
