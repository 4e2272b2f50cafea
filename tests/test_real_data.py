"""The public ChannelAttribution paths file through every model (skipped when ../shared is absent)."""
from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from shapley_attr.config import ModelParams
from .helpers import gmv_totals, load
from shapley_attr.models import fit

from .naive import markov as nm

CASES = [dict(model="first"), dict(model="last"), dict(model="linear"), dict(model="position"),
         dict(model="markov", order=1), dict(model="markov", order=3), dict(model="shapley", game="count"),
         dict(model="shapley", game="ordered"), dict(model="shapley", game="rate"),
         dict(model="shapley", game="subset-rate"), dict(model="hybrid", game="rate", alpha=0.5)]


@pytest.fixture(scope="module")
def real(real_paths_file):
    return load(real_paths_file)[0]


@pytest.mark.parametrize("opts", CASES, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_every_model_reconciles_on_real_paths(real, opts):
    result = fit(real, ModelParams(**opts))
    assert_allclose(result.credit.sum(axis=0), [real.conversions.sum(), real.value.sum()], rtol=1e-9)
    assert result.channels == real.channels


def test_markov_on_real_paths_matches_dense_solve(real):
    paths = [lab.split(" > ") for lab in real.path_labels()]
    result = fit(real, ModelParams(model="markov", order=1))
    expected, re = nm.markov_credit(paths, real.conversions.tolist(), real.value.tolist(), real.nulls.tolist(), order=1)
    for c in real.channels:
        assert_allclose(result.info["removal_effects"][c], re[c], rtol=1e-9)
        assert_allclose(result.credit[real.channels.index(c), 0], expected[c]["conversions"], rtol=1e-9)


def test_subset_rate_mc_agrees_with_exact_on_real_paths(real):
    exact = fit(real, ModelParams(game="subset-rate", method="exact"))
    mc = fit(real, ModelParams(game="subset-rate", method="mc", tolerance=0.002, seed=1))
    assert mc.info["stop_reason"] == "tolerance"
    # within 4 standard errors on every channel
    assert np.all(np.abs(mc.credit[:, 1] - exact.credit[:, 1]) <= 4 * mc.std_error + 1e-9)
