"""Monte Carlo subset-rate Shapley: convergence to exact, interval coverage, stopping, efficiency."""
from __future__ import annotations

import numpy as np
import pytest
from numpy.testing import assert_allclose

from shapley_attr.config import ModelParams
from shapley_attr.frames import from_path_lists
from shapley_attr.models import fit
from shapley_attr.models.shapley import distinct_sets


def game_table(seed=3, n_channels=6, n_paths=40):
    rng = np.random.default_rng(seed)
    chans = [f"c{i}" for i in range(n_channels)]
    paths = [list(rng.choice(chans, size=rng.integers(1, 4))) for _ in range(n_paths)]
    conv = rng.integers(0, 4, n_paths).astype(float)
    nulls = rng.integers(0, 6, n_paths).astype(float)
    return from_path_lists(paths, conv, conv * rng.uniform(5, 50, n_paths), nulls)


def mc(table, samples, seed, tol=1e-12):
    return fit(table, ModelParams(game="subset-rate", method="mc", max_samples=samples, seed=seed, tolerance=tol))


def test_mc_efficiency_holds_exactly():
    table = game_table()
    r = mc(table, 256, seed=1)
    assert_allclose(r.credit.sum(axis=0), [table.conversions.sum(), table.value.sum()], rtol=1e-9)
    assert r.info["stop_reason"] == "max_samples" and r.info["samples"] == 256


def test_error_shrinks_like_inverse_sqrt_samples():
    table = game_table()
    exact = fit(table, ModelParams(game="subset-rate", method="exact")).credit[:, 1]
    sizes = [256, 1024, 4096, 16384]
    rmse = []
    for n in sizes:
        errs = [mc(table, n, seed=s).credit[:, 1] - exact for s in range(8)]
        rmse.append(np.sqrt(np.mean(np.square(errs))))
    slope = np.polyfit(np.log(sizes), np.log(rmse), 1)[0]
    assert -0.7 <= slope <= -0.3, (slope, rmse)


@pytest.mark.slow
def test_95_percent_intervals_cover_exact_value():
    table = game_table(seed=11)
    exact = fit(table, ModelParams(game="subset-rate", method="exact")).credit[:, 1]
    hits = total = 0
    for seed in range(200):
        r = mc(table, 512, seed=seed)
        hits += int(np.sum((r.ci_low <= exact) & (exact <= r.ci_high)))
        total += len(exact)
    coverage = hits / total
    assert 0.90 <= coverage <= 0.99, coverage


def test_stops_at_tolerance_and_reports_it():
    table = game_table()
    r = fit(table, ModelParams(game="subset-rate", method="mc", tolerance=0.02, max_samples=10**6))
    assert r.info["stop_reason"] == "tolerance" and r.info["max_rel_halfwidth"] < 0.02
    assert r.info["samples"] < 10**6


def test_auto_picks_exact_then_mc():
    small = fit(game_table(), ModelParams(game="subset-rate"))
    assert small.info["method"] == "exact" and small.std_error is None
    rng = np.random.default_rng(0)
    chans = [f"c{i}" for i in range(30)]
    paths = [list(rng.choice(chans, size=rng.integers(1, 4))) for _ in range(200)]
    conv = rng.integers(0, 2, 200).astype(float)
    big = fit(from_path_lists(paths, conv, conv, np.ones(200)), ModelParams(game="subset-rate", tolerance=0.05))
    assert big.info["method"] == "mc" and "30 channels > 24" in big.info["method_reason"]
    assert big.std_error is not None and np.all(big.ci_low <= big.ci_high)


def test_exact_beyond_limit_is_refused_with_numbers():
    from shapley_attr.errors import ModelLimitError

    chans = [f"c{i}" for i in range(26)]
    table = from_path_lists([[c] for c in chans], [1.0] * 26, [1.0] * 26, [1.0] * 26)
    with pytest.raises(ModelLimitError, match="26 channels .* limit is 24"):
        fit(table, ModelParams(game="subset-rate", method="exact"))


def test_same_seed_same_result_and_different_seed_differs():
    table = game_table()
    a, b, c = mc(table, 512, 7), mc(table, 512, 7), mc(table, 512, 8)
    assert a.credit.tobytes() == b.credit.tobytes()
    assert a.credit.tobytes() != c.credit.tobytes()


def test_distinct_sets_group_paths():
    t = from_path_lists([["a", "b", "a"], ["b", "a"], ["c"]], [1, 2, 3], [1, 2, 3], [0, 1, 0])
    set_off, set_codes, path_set, k, n = distinct_sets(t)
    assert path_set.tolist() == [0, 0, 1] and k.tolist() == [3.0, 3.0] and n.tolist() == [4.0, 3.0]


@pytest.mark.parametrize("max_strata", [1, 2, 3])
def test_pooled_position_strata_still_cover_the_exact_value(monkeypatch, max_strata):
    """Beyond 128 channels positions are pooled into MAX_STRATA strata (tables n × 64, not n × n/2);
    pooling here on 9 channels must keep the estimate unbiased and its intervals honest."""
    from shapley_attr.models import shapley

    monkeypatch.setattr(shapley, "MAX_STRATA", max_strata)
    table = game_table(seed=5, n_channels=9, n_paths=60)
    exact = fit(table, ModelParams(game="subset-rate", method="exact")).credit[:, 1]
    hits = total = 0
    for seed in range(40):
        r = mc(table, 1024, seed=seed)
        assert r.info["strata"] == max_strata
        hits += int(np.sum((r.ci_low <= exact) & (exact <= r.ci_high)))
        total += len(exact)
    assert 0.88 <= hits / total <= 0.995, hits / total


def test_many_channels_keep_the_monte_carlo_tables_small():
    """3,000 channels (1,500 positions) pool into 64 strata and the credits still sum to the total."""
    rng = np.random.default_rng(4)
    chans = [f"c{i}" for i in range(3000)]
    paths = [list(rng.choice(chans, size=rng.integers(1, 4))) for _ in range(4000)]
    conv = rng.integers(0, 2, 4000).astype(float)
    table = from_path_lists(paths, conv, conv * 10, rng.integers(0, 3, 4000).astype(float))
    r = fit(table, ModelParams(game="subset-rate", max_samples=2000, seed=1))
    assert r.info["method"] == "mc" and r.info["strata"] == 64
    assert_allclose(r.credit.sum(axis=0), [table.conversions.sum(), table.value.sum()], rtol=1e-9)


_CROSS_KERNEL = """
import sys
import numpy as np
sys.path.insert(0, {tests!r})
from test_mc import game_table, mc
r = mc(game_table(seed=5, n_channels=40, n_paths=400), 4096, seed=3)
assert "post-stratified" in r.info["variance_reduction"], r.info
sys.stdout.write(np.concatenate([r.credit.ravel(), r.std_error.ravel()]).tobytes().hex())
"""


@pytest.mark.skipif(__import__("platform").machine() not in ("x86_64", "AMD64"),
                    reason="OPENBLAS_CORETYPE names x86-64 kernels")
def test_credits_do_not_depend_on_the_cpus_blas_kernels():
    """The stratified estimate is summed by NumPy, not by a BLAS matrix product: OpenBLAS picks its
    kernels by the CPU and they sum in other orders (a 60 x 31 product differs in the last bit between
    its Haswell and Nehalem kernels), so the credits' last digits would depend on the machine. The
    same fit with OpenBLAS told to use the oldest x86-64 kernels gives the same bytes."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = _CROSS_KERNEL.format(tests=str(Path(__file__).resolve().parent))
    outs = []
    for core in (None, "Prescott"):
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
        if core:
            env["OPENBLAS_CORETYPE"] = core
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        outs.append(done.stdout)
    assert outs[0] == outs[1] and len(outs[0]) > 0
