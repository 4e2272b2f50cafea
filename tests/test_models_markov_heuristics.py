"""Heuristics and Markov against plain-Python references; totals reconcile; row order does not matter."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from shapley_attr.config import ModelParams
from shapley_attr.errors import UsageError
from shapley_attr.frames import from_path_lists
from shapley_attr.models import fit

from .naive import heuristics as nh
from .naive import markov as nm
from .strategies import path_tables


def as_dict(result):
    return {c: result.credit[i] for i, c in enumerate(result.channels)}


@pytest.mark.parametrize("rule", ["first", "last", "linear", "position"])
@settings(max_examples=40, deadline=None)
@given(data=path_tables(max_len=7))
def test_heuristics_match_reference(rule, data):
    paths, conv, value, nulls = data
    result = fit(from_path_lists(paths, conv, value, nulls), ModelParams(model=rule))
    expected = nh.heuristic(paths, conv, value, rule)
    for c, got in as_dict(result).items():
        assert_allclose(got, expected.get(c, [0.0, 0.0]), rtol=1e-9, atol=1e-12)
    assert_allclose(result.credit.sum(axis=0), [sum(conv), sum(value)], rtol=1e-9)


@settings(max_examples=40, deadline=None)
@given(data=path_tables(max_len=6), seed=st.integers(0, 10**6))
def test_time_decay_matches_reference(data, seed):
    paths, conv, value, nulls = data
    rng = np.random.default_rng(seed)
    ages = [sorted(rng.uniform(0, 40 * 86400, len(p)).tolist(), reverse=True) for p in paths]
    result = fit(from_path_lists(paths, conv, value, nulls, ages=ages), ModelParams(model="time-decay"))
    expected = nh.heuristic(paths, conv, value, "time-decay", ages=ages)
    for c, got in as_dict(result).items():
        assert_allclose(got, expected.get(c, [0.0, 0.0]), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("half_life_days", [0.01, 1e-4, 1e-300])
def test_time_decay_with_a_short_half_life_gives_the_latest_touch_everything(half_life_days):
    # touches hours to weeks before the conversion: 2^(-age/h) underflows to 0 for every touch of a
    # journey (it gave 0/0, NaN credits); taken relative to the latest touch, that one weighs 1
    paths = [["a", "b", "c"], ["b", "a"], ["c"], ["a", "c", "b", "a"]]
    ages = [[30 * 86400.0, 3 * 86400.0, 7200.0], [86400.0, 3600.0], [5 * 86400.0], [9e5, 8e5, 7e5, 6e5]]
    conv, value, nulls = [1, 1, 1, 2], [10.0, 20.0, 40.0, 80.0], [0, 0, 0, 0]
    table = from_path_lists(paths, conv, value, nulls, ages=ages)
    result = fit(table, ModelParams(model="time-decay", half_life_days=half_life_days))
    assert np.isfinite(result.credit).all()
    expected = nh.heuristic(paths, conv, value, "last")
    for c, got in as_dict(result).items():
        assert_allclose(got, expected.get(c, [0.0, 0.0]), rtol=1e-12, atol=1e-12)
    # and a half-life of 15 minutes on touches minutes apart: finite shares, the reference's
    result = fit(from_path_lists([["a", "b"]], [1], [10.0], [0], ages=[[30 * 86400.0 + 900.0, 30 * 86400.0]]),
                 ModelParams(model="time-decay", half_life_days=900 / 86400))
    assert_allclose(as_dict(result)["a"], [1 / 3, 10 / 3], rtol=1e-12)


def test_position_weights_must_be_finite():
    with pytest.raises(ValueError, match="position weights"):
        ModelParams(model="position", position_weights=(float("nan"), 0.0, 0.0))
    with pytest.raises(ValueError, match="position weights"):
        ModelParams(model="position", position_weights=(float("inf"), 0.0, float("-inf")))


def test_position_weights_option_and_two_touch_rule():
    t = from_path_lists([["a", "b"], ["a", "b", "c", "d"]], [1, 1], [10, 20], [0, 0])
    r = fit(t, ModelParams(model="position", position_weights=(0.6, 0.3, 0.1)))
    got = as_dict(r)
    # two touches: first and last weights renormalised, 0.6/0.7 and 0.1/0.7
    assert_allclose(got["a"], [0.6 / 0.7 + 0.6, 10 * 0.6 / 0.7 + 12.0], rtol=1e-12)
    assert_allclose(got["b"], [0.1 / 0.7 + 0.15, 10 * 0.1 / 0.7 + 3.0], rtol=1e-12)
    assert_allclose(got["d"], [0.1, 2.0])


def test_time_decay_on_paths_refused():
    with pytest.raises(UsageError, match="time-decay needs touch timestamps"):
        fit(from_path_lists([["a"]], [1], [1], [0]), ModelParams(model="time-decay"))


@pytest.mark.parametrize("model", ["first", "last", "linear", "position", "markov"])
def test_row_order_does_not_change_credits(model):
    rng = np.random.default_rng(1)
    paths = [[f"c{x}" for x in rng.integers(0, 6, rng.integers(1, 6))] for _ in range(60)]
    conv = rng.integers(0, 3, 60).astype(float)
    nulls = rng.integers(0, 4, 60).astype(float)
    perm = rng.permutation(60)
    a = fit(from_path_lists(paths, conv, conv * 3, nulls), ModelParams(model=model))
    b = fit(from_path_lists([paths[i] for i in perm], conv[perm], conv[perm] * 3, nulls[perm]), ModelParams(model=model))
    assert a.channels == b.channels
    assert_allclose(a.credit, b.credit, rtol=1e-9)


@pytest.mark.parametrize("order", [1, 2, 3, 4])
@settings(max_examples=25, deadline=None)
@given(data=path_tables(max_len=6))
def test_markov_matches_dense_solve(order, data):
    paths, conv, value, nulls = data
    result = fit(from_path_lists(paths, conv, value, nulls), ModelParams(model="markov", order=order))
    expected, re = nm.markov_credit(paths, conv, value, nulls, order=order)
    if abs(sum(re.values())) < 1e-12:  # no channel matters (e.g. no conversion): every credit is 0
        assert not result.credit.any() and "note" in result.info
        return
    for c, got in as_dict(result).items():
        assert_allclose(got, [expected[c]["conversions"], expected[c]["gmv"]], rtol=1e-9, atol=1e-9)
        assert_allclose(result.info["removal_effects"][c], re[c], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("order", [1, 2, 3])
@settings(max_examples=25, deadline=None)
@given(data=path_tables(max_len=6))
def test_markov_counts_small_and_large_state_spaces_alike(order, data):
    """States numbered by counting and transitions counted densely (few states) against numbering
    by a sort and a sparse count (the way of large state spaces): the same credits and removal
    effects."""
    from shapley_attr.models import markov

    paths, conv, value, nulls = data
    table = from_path_lists(paths, conv, value, nulls)
    small = fit(table, ModelParams(model="markov", order=order))
    with pytest.MonkeyPatch.context() as m:
        m.setattr(markov, "DENSE_COUNTS", 0)
        m.setattr(markov, "SPARSE_KEYS", 0)
        large = fit(table, ModelParams(model="markov", order=order))
    assert_allclose(small.credit, large.credit, rtol=1e-12, atol=1e-12)
    assert small.info["states"] == large.info["states"] and small.info["transitions"] == large.info["transitions"]


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(st.integers(0, 2**40), max_size=50), small=st.booleans())
def test_markov_state_ids_are_numpys_unique(keys, small):
    from shapley_attr.models.markov import _state_ids

    keys = np.array([k % 97 if small else k for k in keys], dtype=np.int64)
    uniq, state = _state_ids(keys)
    want_uniq, want_state = np.unique(keys, return_inverse=True)
    assert np.array_equal(uniq, want_uniq) and np.array_equal(state, want_state) and state.dtype == np.int64


def test_markov_hand_solved_three_channels():
    """Paths: a>b converts 1, a null 1, b>c converts 1, c null 1 (order 1, each a journey).

    Transitions: start→a 1/2, start→b 1/4... written out:
      start: a (2 journeys), b (1), c (1)  → P(a)=1/2, P(b)=1/4, P(c)=1/4
      a: b (1), null (1)                    → 1/2, 1/2
      b: conv (1), c (1)                    → 1/2, 1/2
      c: conv (1), null (1)                 → 1/2, 1/2
    x_c = 1/2; x_b = 1/2 + 1/2·x_c = 3/4; x_a = 1/2·x_b = 3/8;
    P = 1/2·3/8 + 1/4·3/4 + 1/4·1/2 = 3/16 + 3/16 + 2/16 = 1/2.
    Without a: P = 1/4·3/4 + 1/4·1/2 = 5/16 → RE_a = 3/8.
    Without b: x_a = 0, x_c = 1/2 → P = 1/4·1/2 = 1/8 → RE_b = 3/4.
    Without c: x_b = 1/2, x_a = 1/4 → P = 1/8 + 1/8 = 1/4 → RE_c = 1/2.
    """
    paths = [["a", "b"], ["a"], ["b", "c"], ["c"]]
    conv, value, nulls = [1, 0, 1, 0], [30, 0, 10, 0], [0, 1, 0, 1]
    result = fit(from_path_lists(paths, conv, value, nulls), ModelParams(model="markov"))
    re = result.info["removal_effects"]
    assert_allclose([re["a"], re["b"], re["c"]], [3 / 8, 3 / 4, 1 / 2], rtol=1e-12)
    assert_allclose(result.info["p_conversion"], 0.5, rtol=1e-12)
    total = 3 / 8 + 3 / 4 + 1 / 2
    assert_allclose(as_dict(result)["b"], [2 * 0.75 / total, 40 * 0.75 / total], rtol=1e-12)


def test_markov_collapses_repeats_by_default_and_can_keep_them():
    paths = [["a", "a", "b"], ["b"], ["a", "c", "c"], ["c", "a"]]
    conv, value, nulls = [1, 1, 0, 1], [5, 5, 0, 7], [1, 0, 2, 1]
    t = from_path_lists(paths, conv, value, nulls)
    collapsed = fit(t, ModelParams(model="markov", order=2))
    kept = fit(t, ModelParams(model="markov", order=2, collapse_repeats=False))
    assert collapsed.info["collapse_repeats"] is True and kept.info["collapse_repeats"] is False
    exp_c, _ = nm.markov_credit(paths, conv, value, nulls, order=2, collapse_repeats=True)
    exp_k, _ = nm.markov_credit(paths, conv, value, nulls, order=2, collapse_repeats=False)
    for res, exp in ((collapsed, exp_c), (kept, exp_k)):
        for c, got in as_dict(res).items():
            assert_allclose(got, [exp[c]["conversions"], exp[c]["gmv"]], rtol=1e-9)
    assert kept.info["states"] > collapsed.info["states"]  # (a,a) and (c,c) exist only when kept


@pytest.mark.parametrize("dense_block", [3000, 2])  # 2: every cycle goes through the sparse LU column solves
@pytest.mark.parametrize("collapse", [True, False])  # False keeps self-loops (a > a)
def test_markov_order_one_rank_one_removals_match_the_dense_solve(monkeypatch, dense_block, collapse):
    """Order 1 takes P₋c = P − h_c·x_c from one factorisation; it must equal removing each channel
    and solving again, on chains with cycles (strongly connected blocks of many states)."""
    from shapley_attr.models import markov

    monkeypatch.setattr(markov, "DENSE_BLOCK", dense_block)
    rng = np.random.default_rng(7)
    paths = [[f"c{x}" for x in rng.integers(0, 25, rng.integers(1, 7))] for _ in range(300)]
    conv = rng.integers(0, 2, 300).astype(float)
    nulls = rng.integers(0, 3, 300).astype(float)
    result = fit(from_path_lists(paths, conv, conv * 9, nulls),
                 ModelParams(model="markov", collapse_repeats=collapse))
    expected, re = nm.markov_credit(paths, conv, conv * 9, nulls, order=1, collapse_repeats=collapse)
    for c, got in as_dict(result).items():
        assert_allclose(result.info["removal_effects"][c], re[c], rtol=1e-10, atol=1e-13)
        assert_allclose(got, [expected[c]["conversions"], expected[c]["gmv"]], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("order", [1, 3])
def test_markov_over_its_solve_budget_is_refused_with_the_numbers(monkeypatch, order):
    from shapley_attr.errors import ModelLimitError
    from shapley_attr.models import markov

    monkeypatch.setattr(markov, "SOLVE_BUDGET", 10.0)
    monkeypatch.setattr(markov, "REMOVAL_BUDGET", 10.0)
    monkeypatch.setattr(markov, "DENSE_BLOCK", 2)
    rng = np.random.default_rng(3)
    paths = [[f"c{x}" for x in rng.integers(0, 8, rng.integers(2, 6))] for _ in range(100)]
    t = from_path_lists(paths, [1.0] * 100, [2.0] * 100, [1.0] * 100)
    with pytest.raises(ModelLimitError, match=r"(non-zeros|multiply-adds).*above the limit of 10"):
        fit(t, ModelParams(model="markov", order=order, collapse_repeats=False))


def test_markov_with_a_strongly_connected_block_over_the_limit_is_refused_before_factorising(monkeypatch):
    from shapley_attr.errors import ModelLimitError
    from shapley_attr.models import markov

    monkeypatch.setattr(markov, "MAX_BLOCK_STATES", 5)
    paths = [["a", "b", "c"], ["c", "d", "a"], ["b", "e", "f", "a"], ["f", "b"]]
    t = from_path_lists(paths, [1.0] * 4, [2.0] * 4, [1.0] * 4)
    with pytest.raises(ModelLimitError, match=r"6 of them in one strongly connected block.*limit 5 states"):
        fit(t, ModelParams(model="markov"))
