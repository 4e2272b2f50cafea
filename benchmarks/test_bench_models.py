"""pytest-benchmark suites: `pytest benchmarks --benchmark-only` (excluded from the default test run).

Each benchmark times the first call separately (compile or cache load: `test_first_call_*`) from warm
calls; the data is built once per module.
"""
from __future__ import annotations

import time

import pytest

from shapley_attr.config import ModelParams
from shapley_attr.models import fit

from ._data import journeys_table

pytestmark = pytest.mark.benchmark(min_rounds=3, warmup=False)


@pytest.fixture(scope="module")
def table_10():
    return journeys_table(1_000_000, 10)


@pytest.fixture(scope="module", params=[10, 20, 100, 1000])
def table_by_channels(request):
    return request.param, journeys_table(1_000_000, request.param, seed=request.param)


def test_first_call_compile_or_cache_load(benchmark):
    """The first fit in a fresh process pays Numba's cache load (or compile when the cache is cold)."""
    small = journeys_table(1000, 5)
    t0 = time.perf_counter()
    fit(small, ModelParams(model="shapley", game="rate"))
    benchmark.extra_info["first_call_s"] = time.perf_counter() - t0
    benchmark(fit, small, ModelParams(model="shapley", game="rate"))


@pytest.mark.parametrize("model", ["first", "last", "linear", "position"])
def test_heuristics_1m(benchmark, table_10, model):
    benchmark(fit, table_10, ModelParams(model=model))


def test_markov_order1_1m_x10(benchmark, table_10):
    benchmark(fit, table_10, ModelParams(model="markov", order=1))


def test_rate_shapley_1m(benchmark, table_by_channels):
    n, table = table_by_channels
    benchmark.extra_info["channels"] = n
    benchmark.extra_info["unique_paths"] = table.n_paths
    benchmark(fit, table, ModelParams(model="shapley", game="rate"))


@pytest.mark.parametrize("n", [16, 20])
def test_subset_rate_exact(benchmark, n):
    table = journeys_table(200_000, n, seed=n)
    benchmark(fit, table, ModelParams(model="shapley", game="subset-rate", method="exact"))


def test_subset_rate_mc_50(benchmark):
    table = journeys_table(1_000_000, 50, seed=50)
    benchmark.pedantic(fit, args=(table, ModelParams(model="shapley", game="subset-rate", method="mc",
                                                     tolerance=0.01)), rounds=1, iterations=1)


def test_build_journeys_from_sample(benchmark, tmp_path_factory):
    import shapley_attr as sa

    from ._data import sample_events

    d = sample_events(tmp_path_factory.mktemp("ev"), 100_000)
    benchmark(sa.load_table, str(d / "events.parquet"), fx=str(d / "fx.csv"))
