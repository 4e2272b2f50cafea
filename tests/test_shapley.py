"""Shapley games against brute force (all subsets), and the axioms."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from numpy.testing import assert_allclose

from shapley_attr.config import ModelParams
from shapley_attr.frames import from_path_lists
from shapley_attr.models import fit

from .naive import shapley as naive
from .strategies import path_tables


def credits(result, channels):
    return {c: result.credit[i] for i, c in enumerate(result.channels) if c in channels}


def check(result, expected):
    for i, c in enumerate(result.channels):
        exp = expected.get(c, {"conversions": 0.0, "gmv": 0.0})
        assert_allclose(result.credit[i], [exp["conversions"], exp["gmv"]], rtol=1e-9, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(path_tables())
def test_count_game_matches_brute_force(data):
    paths, conv, value, nulls = data
    result = fit(from_path_lists(paths, conv, value, nulls), ModelParams(game="count"))
    check(result, naive.count_game(paths, conv, value))


@pytest.mark.parametrize("pairwise_cost", [0, 10**18], ids=["pairwise", "zeta"])
@settings(max_examples=60, deadline=None)
@given(data=path_tables())
def test_rate_game_matches_brute_force(pairwise_cost, data):
    """Both ways of the rate game's subset sums up to 20 channels: (set, set) inclusion tests (small
    tables) and ranked zeta transforms over 2^n coalitions (the cheaper one is chosen by cost)."""
    import shapley_attr.models.shapley as shapley_mod

    paths, conv, value, nulls = data
    saved = shapley_mod.PAIRWISE_COST
    shapley_mod.PAIRWISE_COST = pairwise_cost
    try:
        result = fit(from_path_lists(paths, conv, value, nulls), ModelParams(game="rate"))
    finally:
        shapley_mod.PAIRWISE_COST = saved
    check(result, naive.rate_game(paths, conv, value, nulls))


@settings(max_examples=40, deadline=None)
@given(path_tables(max_channels=6))
def test_subset_rate_exact_matches_brute_force(data):
    paths, conv, value, nulls = data
    result = fit(from_path_lists(paths, conv, value, nulls), ModelParams(game="subset-rate", method="exact"))
    check(result, naive.subset_rate_game(paths, conv, value, nulls))


@settings(max_examples=40, deadline=None)
@given(path_tables())
def test_ordered_game_positions_and_totals(data):
    paths, conv, value, nulls = data
    result = fit(from_path_lists(paths, conv, value, nulls), ModelParams(game="ordered"))
    check(result, naive.count_game(paths, conv, value))
    expected = naive.ordered_positions(paths, conv)
    got = {(r["channel"], r["position"]): r["conversions"] for r in result.extra["positions"].iter_rows(named=True)}
    assert set(got) == {k for k, v in expected.items() if v != 0}
    for key, val in got.items():
        assert_allclose(val, expected[key], rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(path_tables(), st_alpha := __import__("hypothesis").strategies.floats(0, 1))
def test_hybrid_is_alpha_mix_of_rate_and_last_touch(data, st_alpha):
    paths, conv, value, nulls = data
    table = from_path_lists(paths, conv, value, nulls)
    result = fit(table, ModelParams(model="hybrid", game="rate", alpha=st_alpha))
    rate = naive.rate_game(paths, conv, value, nulls)
    last: dict[str, np.ndarray] = {}
    for p, k, g in zip(paths, conv, value):
        last[p[-1]] = last.get(p[-1], np.zeros(2)) + [k, g]
    for i, c in enumerate(result.channels):
        exp = st_alpha * np.array([rate[c]["conversions"], rate[c]["gmv"]]) + (1 - st_alpha) * last.get(c, np.zeros(2))
        assert_allclose(result.credit[i], exp, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("game", ["count", "ordered", "rate", "subset-rate"])
@settings(max_examples=25, deadline=None)
@given(data=path_tables())
def test_efficiency(game, data):
    paths, conv, value, nulls = data
    result = fit(from_path_lists(paths, conv, value, nulls), ModelParams(game=game))
    assert_allclose(result.credit.sum(axis=0), [sum(conv), sum(value)], rtol=1e-9)


@pytest.mark.parametrize("game", ["count", "rate", "subset-rate"])
def test_symmetry(game):
    # a and b are interchangeable in every path: equal credit
    paths = [["a", "b"], ["b", "a", "c"], ["c"], ["a", "c", "b"], ["c", "b", "a"]]
    conv, value, nulls = [2, 1, 1, 3, 3], [20, 10, 5, 30, 30], [1, 2, 4, 0, 0]
    result = fit(from_path_lists(paths, conv, value, nulls), ModelParams(game=game))
    a, b = result.channels.index("a"), result.channels.index("b")
    assert_allclose(result.credit[a], result.credit[b], rtol=1e-12)


@pytest.mark.parametrize("game", ["count", "rate", "subset-rate"])
def test_null_player_gets_nothing(game):
    """d is only on a path no journey took (N = 0): v(S ∪ {d}) = v(S) for every S in every game, so
    d gets nothing and the others' credits are those of the game without d."""
    paths = [["a"], ["a", "d"], ["b"], ["a", "b"]]
    conv, value, nulls = [1, 0, 1, 2], [10, 0, 10, 20], [1, 0, 1, 2]
    res = fit(from_path_lists(paths, conv, value, nulls), ModelParams(game=game))
    assert res.credit[res.channels.index("d")].tolist() == [0.0, 0.0]
    keep = [0, 2, 3]
    without = fit(from_path_lists([paths[i] for i in keep], [conv[i] for i in keep], [value[i] for i in keep],
                                  [nulls[i] for i in keep]), ModelParams(game=game))
    for c in ("a", "b"):
        assert_allclose(res.credit[res.channels.index(c)], without.credit[without.channels.index(c)], rtol=1e-12)


def test_count_game_is_additive():
    p1 = [["a", "b"], ["b"]]
    p2 = [["a"], ["c", "a"]]
    r1 = fit(from_path_lists(p1 + [["c"]], [1, 2, 0], [5, 7, 0], [0, 0, 1]), ModelParams(game="count"))
    r2 = fit(from_path_lists(p2 + [["b"]], [3, 1, 0], [9, 2, 0], [0, 0, 1]), ModelParams(game="count"))
    r12 = fit(from_path_lists(p1 + p2, [1, 2, 3, 1], [5, 7, 9, 2], [0, 0, 0, 0]), ModelParams(game="count"))
    assert_allclose(r12.credit, r1.credit + r2.credit, rtol=1e-12)


def test_rate_negative_phi_clipped_without_fallback():
    """In {a,b,c}: v({c}) = 1 > v({a,b,c}) = 1/6 pushes φ_a and φ_b below 0; they are clipped and c
    takes the journey. Σφ = v(C_j) > 0 for every converting set, so the last-touch fallback (all φ
    ≤ 0) cannot fire in this game: its counter stays 0."""
    paths = [["a", "b"], ["a", "b", "c"], ["c"]]
    conv, value, nulls = [0, 1, 1], [0, 10, 10], [5, 5, 0]
    res = fit(from_path_lists(paths, conv, value, nulls), ModelParams(game="rate"))
    expected = naive.rate_game(paths, conv, value, nulls)
    check(res, expected)
    assert res.info["negative_phi_clipped"] == 2 and res.info["fallbacks"] == 0
    assert res.credit[res.channels.index("c")].tolist() == [2.0, 20.0]


def test_rate_exact_with_35_distinct_channels():
    """A 35-channel journey (2^35 subsets) is exact: only its observed subsets matter."""
    from math import factorial

    big = [f"ch{i:02d}" for i in range(35)]
    paths = [big, big[:3], big[3:5], ["ch00"], ["ch34"], big[10:12]]
    conv, nulls = [3, 1, 2, 1, 1, 1], [2, 4, 1, 3, 0, 5]
    # only the big journey carries value, so its credit is 30 x its shares
    value = [30.0, 0, 0, 0, 0, 0]
    res = fit(from_path_lists(paths, [3, 0, 0, 0, 0, 0], value, nulls), ModelParams(game="rate"))
    # expected shares from the decomposition over the observed subsets of the big set (exact integers)
    table = naive.coalition_table(paths, conv, nulls)
    table = naive.coalition_table(paths, [3, 0, 0, 0, 0, 0], nulls)
    m = len(big)
    phi = {c: 0.0 for c in big}
    for t, (k, n) in table.items():
        v = k / n if n else 0.0
        s = len(t)
        for c in big:
            if c in t:
                phi[c] += v * factorial(s - 1) * factorial(m - s) / factorial(m)
            else:
                phi[c] -= v * factorial(s) * factorial(m - s - 1) / factorial(m)
    pos = {c: max(0.0, f) for c, f in phi.items()}
    total = sum(pos.values())
    assert total > 0
    for i, c in enumerate(res.channels):
        assert_allclose(res.credit[i, 1], 30.0 * pos[c] / total, rtol=1e-9, atol=1e-12)
    # and the brute force over a smaller journey of the same shape agrees with the same code path
    small = big[:12]
    paths2 = [small, small[:3], small[3:5], ["ch00"]]
    res2 = fit(from_path_lists(paths2, [3, 1, 2, 1], [30, 10, 20, 10], [2, 4, 1, 3]), ModelParams(game="rate"))
    check(res2, naive.rate_game(paths2, [3, 1, 2, 1], [30, 10, 20, 10], [2, 4, 1, 3]))


def test_same_result_on_one_and_two_threads(tmp_path):
    code = """
import numpy as np, sys
from shapley_attr.frames import from_path_lists
from shapley_attr.config import ModelParams
from shapley_attr.models import fit
rng = np.random.default_rng(5)
paths = [[f"c{x}" for x in rng.integers(0, 30, rng.integers(1, 6))] for _ in range(400)]
conv = rng.integers(0, 3, 400).astype(float); nulls = rng.integers(0, 5, 400).astype(float)
t = from_path_lists(paths, conv, conv * 10, nulls)
out = []
for game in ("rate", "subset-rate"):
    r = fit(t, ModelParams(game=game, method="mc" if game == "subset-rate" else "auto", max_samples=2000, tolerance=1e-9))
    out.append(r.credit.tobytes().hex())
print("|".join(out))
"""
    outs = []
    for threads in ("1", "2"):
        env = dict(__import__("os").environ, NUMBA_NUM_THREADS=threads)
        outs.append(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                   check=True).stdout)
    assert outs[0] == outs[1]


@pytest.mark.parametrize("game", ["count", "rate", "subset-rate"])
@settings(max_examples=30, deadline=None)
@given(data=path_tables())
def test_compiled_paths_beyond_twenty_channels_match_brute_force(game, data):
    """The same games through the compiled set grouping (and, for rate, the trie walk) used beyond
    SMALL_CHANNELS / DENSE_RATE_CHANNELS channels on large tables: forced here on small ones."""
    import shapley_attr.models.shapley as shapley_mod

    paths, conv, value, nulls = data
    names = ("DENSE_RATE_CHANNELS", "SMALL_CHANNELS", "MASK_CHANNELS")
    saved = [getattr(shapley_mod, k) for k in names]
    for k in names:
        setattr(shapley_mod, k, 0)
    try:
        opts = {"method": "exact"} if game == "subset-rate" else {}
        result = fit(from_path_lists(paths, conv, value, nulls), ModelParams(game=game, **opts))
    finally:
        for k, v in zip(names, saved):
            setattr(shapley_mod, k, v)
    expected = {"count": lambda: naive.count_game(paths, conv, value),
                "rate": lambda: naive.rate_game(paths, conv, value, nulls),
                "subset-rate": lambda: naive.subset_rate_game(paths, conv, value, nulls)}[game]()
    check(result, expected)


@settings(max_examples=40, deadline=None)
@given(data=path_tables())
def test_rate_game_by_masks_beyond_twenty_channels_matches_brute_force(data):
    """A small table beyond 20 channels: masks and pairwise inclusion tests (no 2^n transform, no
    Numba), forced here by lowering the dense limit to 0."""
    import shapley_attr.models.shapley as shapley_mod

    paths, conv, value, nulls = data
    names = ("DENSE_RATE_CHANNELS", "SMALL_CHANNELS", "PAIRWISE_BUDGET")
    saved = [getattr(shapley_mod, k) for k in names]
    shapley_mod.DENSE_RATE_CHANNELS = shapley_mod.SMALL_CHANNELS = 0
    shapley_mod.PAIRWISE_BUDGET = float("inf")
    try:
        result = fit(from_path_lists(paths, conv, value, nulls), ModelParams(game="rate"))
    finally:
        for k, v in zip(names, saved):
            setattr(shapley_mod, k, v)
    check(result, naive.rate_game(paths, conv, value, nulls))


def test_a_small_table_on_50_channels_never_loads_numba(tmp_path):
    """10k journeys over 50 channels: the rate and count games by masks and pairwise sums."""
    code = ("import sys, numpy as np\n"
            "from shapley_attr.frames import from_path_lists\n"
            "from shapley_attr.config import ModelParams\n"
            "from shapley_attr.models import fit\n"
            "rng = np.random.default_rng(1)\n"
            "paths = [[f'c{x}' for x in rng.integers(0, 50, rng.integers(1, 6))] for _ in range(3000)]\n"
            "conv = (rng.random(3000) < 0.1).astype(float)\n"
            "t = from_path_lists(paths, conv, conv * 5, 1 - conv)\n"
            "assert t.n_channels == 50\n"
            "for g in ('rate', 'count'):\n"
            "    fit(t, ModelParams(game=g))\n"
            "print('numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"
