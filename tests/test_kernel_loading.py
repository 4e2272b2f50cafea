"""Cached kernels load without numba's registries (``kernels._jit._load_without_registries``), and
whatever compiles afterwards still finds them.

Each case runs in a fresh interpreter with a cache directory of its own: the first run compiles a
small kernel module and caches it, the second loads it from the cache, then compiles a new function
that needs numba's numpy and typed-container implementations."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

MODULE = textwrap.dedent("""
    import numpy as np
    from shapley_attr.kernels._jit import kernel, numba, types

    @kernel("float64(float64[::1])")
    def total(x):
        s = 0.0
        for v in x:
            s += v
        return s

    @kernel("int64[::1](int64[::1])", parallel=True)
    def doubled(x):
        out = np.empty_like(x)
        for i in numba.prange(x.shape[0]):
            out[i] = 2 * x[i]
        return out
""")

CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    sys.path.insert(0, sys.argv[1])
    import cached_kernels as k
    from shapley_attr.kernels import _jit
    loaded_only = "numba.np.random.generator_core" not in sys.modules  # installed by a registry refresh
    assert k.total(np.arange(5, dtype=np.float64)) == 10.0
    assert k.doubled(np.arange(4, dtype=np.int64)).tolist() == [0, 2, 4, 6]
    hits = sum(k.total.stats.cache_hits.values()) + sum(k.doubled.stats.cache_hits.values())

    import numba
    from numba.typed import List

    @numba.njit
    def fresh(x):  # compiled here: needs the numpy and typed-list implementations
        out = List()
        for v in np.sort(x):
            out.append(v * 2)
        return out

    assert list(fresh(np.array([3, 1, 2]))) == [2, 4, 6]
    print(f"replaced={_jit.LOADS_WITHOUT_REGISTRIES} hits={hits} loaded_only={loaded_only}")
""")


def run_child(tmp_path):
    env = {"NUMBA_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], env=env, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout.strip().splitlines()[-1]


def test_cached_kernels_load_without_registries_and_compiling_still_works(tmp_path):
    (tmp_path / "cached_kernels.py").write_text(MODULE)
    cold = run_child(tmp_path)
    assert "hits=0" in cold, cold  # compiled: nothing in the cache yet
    warm = run_child(tmp_path)
    assert warm == "replaced=True hits=2 loaded_only=True", warm


def test_another_numba_keeps_its_own_loader(monkeypatch):
    from numba.core import caching

    from shapley_attr.kernels import _jit

    def load_overload(self, sig, target_context):  # a numba whose loader reads other names
        return self.something_else(sig, target_context)

    monkeypatch.setattr(caching.Cache, "load_overload", load_overload)
    assert _jit._load_without_registries() is False
    assert caching.Cache.load_overload is load_overload


def test_the_loader_is_replaced_once(monkeypatch):
    from numba.core import caching

    from shapley_attr.kernels import _jit

    if not _jit.LOADS_WITHOUT_REGISTRIES:
        pytest.skip("this numba's loader is not the one the replacement was written against")
    replaced = caching.Cache.load_overload
    assert replaced._without_registries
    assert _jit._load_without_registries() is True
    assert caching.Cache.load_overload is replaced
