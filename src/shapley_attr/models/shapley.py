"""Shapley games of MODELS.md: count, ordered, rate (per journey) and subset-rate (global).

References: Zhao, Mahboobi & Bagheri 2018 (simplified and ordered Shapley); Dalessandro et al. 2012
(per-journey conversion-rate game); Castro, Gómez & Tejada 2009 (permutation sampling); Mitchell et
al. 2022 (antithetic permutations).
"""
from __future__ import annotations

import math

import numpy as np
import polars as pl

from ..config import MAX_EXACT_SUBSET_CHANNELS, ModelParams
from ..errors import ModelLimitError
from ..frames import PathTable
from .base import ModelResult

Z95 = 1.959963984540054
DENSE_RATE_CHANNELS = 20
"""Up to this many channels the rate game uses ranked zeta transforms over all 2^n coalitions
(O(n·2^n) per dividend size, 8·2^n bytes), in NumPy; beyond, a compiled trie walk over the observed
subsets of each set."""
SMALL_CHANNELS = DENSE_RATE_CHANNELS
"""Up to this many channels the distinct sets are bit masks grouped in NumPy."""
MASK_CHANNELS = 62
MASK_CELLS = 1 << 26
"""Beyond SMALL_CHANNELS, up to MASK_CHANNELS channels (codes fit an int64 mask), a table of at most
MASK_CELLS paths × channels is grouped by masks too (a small table should not pay Numba's start-up)."""
PAIRWISE_COST = 8
"""Relative cost of one (query, set) inclusion test against one add of a zeta transform (measured)."""
PAIRWISE_BUDGET = 3e8
"""Beyond DENSE_RATE_CHANNELS, the pairwise inclusion tests are used up to this cost (~0.1 s), else
the compiled trie walk."""
BATCH_PAIRS = 64
MAX_STRATA = 64
"""Positions are pooled into at most this many strata (n ≤ 128 channels: one stratum per position), so
the Monte Carlo tables stay n × 64 (100k channels: 150 MB, not 3 × 37 GiB)."""
BATCH_CELLS = 1 << 22
"""A batch of pairs holds at most this many (pair, channel) cells (48 MB of rows and strata)."""


def distinct_sets(table: PathTable):
    """Group paths by their set of distinct channels.

    Returns (set_off, set_codes, path_set, K, N): the distinct sets as a CSR of sorted codes, the set of
    every path, and per set the conversions K(T) and journeys N(T) = conversions + nulls. Up to
    ``SMALL_CHANNELS`` channels (or a small table up to ``MASK_CHANNELS``) each path's set is a bit mask
    (an OR per path, then the masks counted in a table of 2^n, or sorted beyond SMALL_CHANNELS:
    NumPy, so the common case never loads Numba); beyond, a compiled pass. The sets are numbered in
    ascending mask order by masks and in first-seen order by the compiled pass.
    """
    n = table.n_channels
    if n <= SMALL_CHANNELS or (n <= MASK_CHANNELS and table.n_paths * n <= MASK_CELLS):
        path_mask = set_masks(table.offsets, table.codes)
        if n <= SMALL_CHANNELS:  # every mask indexes a table of 2^n: counted, not sorted
            present = np.bincount(path_mask, minlength=1 << n) > 0
            masks = np.flatnonzero(present)
            rank = np.cumsum(present) - 1
            path_set = rank[path_mask]
            del present, rank
        else:
            masks, path_set = np.unique(path_mask, return_inverse=True)
            path_set = path_set.astype(np.int64).ravel()
        bits = ((masks[:, None] >> np.arange(table.n_channels, dtype=np.int64)) & 1).astype(bool)
        set_off = np.zeros(len(masks) + 1, dtype=np.int64)
        np.cumsum(bits.sum(axis=1), out=set_off[1:])
        set_codes = np.nonzero(bits)[1].astype(np.int32)  # row-major: each set's codes ascending
    else:
        from ..kernels.sequences import _gather_sequences, _unique_sequences
        from ..kernels.sets import _distinct_sorted

        off, codes = _distinct_sorted(table.offsets, table.codes, table.n_channels)
        path_set, first = _unique_sequences(off, codes)
        set_off, set_codes = _gather_sequences(off, codes, first)
    n_sets = len(set_off) - 1
    k_of_set = np.bincount(path_set, weights=table.conversions, minlength=n_sets)
    n_of_set = np.bincount(path_set, weights=table.conversions + table.nulls, minlength=n_sets)
    return set_off, set_codes, path_set, k_of_set, n_of_set


def set_masks(offsets: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The bit mask of each row of a CSR of channel codes (codes < 63): a path's channel set, or a
    distinct set's. One OR-reduction over the non-empty rows; an empty row is 0."""
    masks = np.zeros(len(offsets) - 1, dtype=np.int64)
    live = np.flatnonzero(np.diff(offsets) > 0)
    if len(live):
        bits = np.left_shift(np.int64(1), codes.astype(np.int64))
        masks[live] = np.bitwise_or.reduceat(bits, offsets[live])
    return masks


def fit(table: PathTable, params: ModelParams) -> ModelResult:
    if params.collapses:
        from ..paths_ops import collapse_repeats

        table = collapse_repeats(table)
    if params.game == "count":
        return _fit_count(table, params)
    if params.game == "ordered":
        return _fit_ordered(table, params)
    if params.game == "rate":
        return _fit_rate(table, params)
    return _fit_subset_rate(table, params)


def credit_by_shares(table: PathTable, set_off, set_codes, path_set, shares) -> tuple[np.ndarray, np.ndarray]:
    """Split each path's weights over its set by ``shares``; a set whose shares sum to 0 → last touch.

    Returns (credit (n_channels, k), fallback (k,) = weights that went to the last touch). The paths
    of a set are summed first (their shares are the same), then spread over the set's channels."""
    weights = table.weights()
    n_sets, k = len(set_off) - 1, weights.shape[1]
    owner = np.repeat(np.arange(n_sets), np.diff(set_off))
    total = np.bincount(owner, weights=shares, minlength=n_sets)
    split = total > 0.0
    frac = np.where(split[owner], shares / np.where(split, total, 1.0)[owner], 0.0)
    credit = np.zeros((table.n_channels, k), dtype=np.float64)
    fallback = np.zeros(k, dtype=np.float64)
    to_last = ~split[path_set] & (table.lengths > 0)
    last = table.codes[table.offsets[1:][to_last] - 1]
    for j in range(k):
        per_set = np.bincount(path_set, weights=weights[:, j], minlength=n_sets)
        credit[:, j] = np.bincount(set_codes, weights=frac * per_set[owner], minlength=table.n_channels)
        if to_last.any():
            credit[:, j] += np.bincount(last, weights=weights[to_last, j], minlength=table.n_channels)
            fallback[j] = weights[to_last, j].sum()
    return credit, fallback


def rate_phi_masks(masks, set_off, set_codes, v, n: int) -> np.ndarray | None:
    """The rate game's φ for all distinct sets at once from their bit masks, or None when neither way
    below fits (beyond DENSE_RATE_CHANNELS and over PAIRWISE_BUDGET: the caller walks the trie).

    With m = |S|: φ_i(S) = P(S) − Q(S∖i), where P(X) = Σ_{T⊆X} v(T)·w_in(|T|, |X|) and
    Q(X) = Σ_{T⊆X} v(T)·(w_in + w_out)(|T|, |X| + 1) (``shapley_weights``). Both are ranked subset
    sums: up to DENSE_RATE_CHANNELS, one zeta transform over the 2^n coalitions per dividend size t
    (n in-place half-array adds), read only at the sets and at the sets less one channel; when the sets
    are few (a small table) every (query, live set) pair is tested for inclusion instead, whichever
    costs less (``PAIRWISE_COST``)."""
    sizes = np.diff(set_off)
    live = v != 0.0
    ranks = np.unique(sizes[live])
    pair_cost = (len(masks) + len(set_codes)) * int(live.sum()) * PAIRWISE_COST
    zeta_cost = len(ranks) * n * float(1 << n) if n <= DENSE_RATE_CHANNELS else np.inf
    if n > DENSE_RATE_CHANNELS and pair_cost > PAIRWISE_BUDGET:
        return None
    owner = np.repeat(np.arange(len(masks)), sizes)
    less_one = masks[owner] ^ np.left_shift(np.int64(1), set_codes.astype(np.int64))  # S∖i, of size m − 1
    w_in, w_out = shapley_weights(n + 1)
    w_less_one = w_in + w_out  # (w_in + w_out)(|T|, |S∖i| + 1), indexed by m = |S|
    if pair_cost < zeta_cost:
        at_set = _subset_sums(masks, sizes, masks[live], sizes[live], v[live], w_in)
        at_less_one = _subset_sums(less_one, sizes[owner], masks[live], sizes[live], v[live], w_less_one)
        return at_set[owner] - at_less_one
    at_set = np.zeros(len(masks), dtype=np.float64)
    at_less_one = np.zeros(len(set_codes), dtype=np.float64)
    z = np.zeros(1 << n, dtype=np.float64)
    for t in ranks:
        z[:] = 0.0
        chosen = live & (sizes == t)
        z[masks[chosen]] = v[chosen]
        zeta_in_place(z, n)
        at_set += z[masks] * w_in[t, sizes]
        at_less_one += z[less_one] * w_less_one[t, sizes[owner]]
    return at_set[owner] - at_less_one


def _subset_sums(query, query_size, live_masks, live_sizes, live_v, weight) -> np.ndarray:
    """Σ_{T live, T ⊆ X} v(T)·weight[|T|, m_X] for every query mask X (m_X = ``query_size``): the
    queries of one size share a weight vector over the live sets; blocks of queries keep a block's
    (query, set) matrix under ~16 MB."""
    out = np.zeros(len(query), dtype=np.float64)
    step = max(1, (1 << 21) // max(len(live_masks), 1))
    for m in np.unique(query_size):
        rows = np.flatnonzero(query_size == m)
        wv = live_v * weight[live_sizes, m]
        for a in range(0, len(rows), step):
            x = query[rows[a:a + step]]
            inside = (live_masks[None, :] & ~x[:, None]) == 0
            out[rows[a:a + step]] = np.where(inside, wv[None, :], 0.0).sum(axis=1)
    return out


def zeta_in_place(z: np.ndarray, n: int) -> None:
    """z[X] ← Σ_{T⊆X} z[T] over the 2^n masks: for each bit, add every mask without it to the mask with
    it. Low bits go as h strided 1-D adds (a (…, 2, h) view with a tiny h runs NumPy's slow path:
    6.6 ms for n = 20 against 16 ms); the sums are made in the same order either way."""
    for i in range(n):
        h = 1 << i
        if h < 16:
            for o in range(h):
                z[h + o::2 * h] += z[o::2 * h]
        else:
            halves = z.reshape(-1, 2, h)
            halves[:, 1, :] += halves[:, 0, :]


def shapley_weights(m_max: int) -> tuple[np.ndarray, np.ndarray]:
    """Tables w_in[t, m] = (t−1)!(m−t)!/m! and w_out[t, m] = t!(m−t−1)!/m! (0 where t ≥ m or t > m),
    for 1 ≤ t ≤ m ≤ m_max, by log-gamma (no overflow)."""
    from math import exp, lgamma

    w_in = np.zeros((m_max + 1, m_max + 1))
    w_out = np.zeros((m_max + 1, m_max + 1))
    for m in range(1, m_max + 1):
        for t in range(1, m + 1):
            w_in[t, m] = exp(lgamma(t) + lgamma(m - t + 1.0) - lgamma(m + 1.0))
            if t < m:
                w_out[t, m] = exp(lgamma(t + 1.0) + lgamma(m - t) - lgamma(m + 1.0))
    return w_in, w_out


def _fit_count(table: PathTable, params: ModelParams) -> ModelResult:
    """φ_i = Σ_{T∋i} x(T)/|T|: each path's value split equally over its distinct channels."""
    set_off, set_codes, path_set, _, _ = distinct_sets(table)
    shares = np.ones(len(set_codes), dtype=np.float64)
    credit, _ = credit_by_shares(table, set_off, set_codes, path_set, shares)
    return ModelResult(table.channels, credit, info={"game": "count", "method": "exact (closed form)"})


def _fit_ordered(table: PathTable, params: ModelParams) -> ModelResult:
    from ..kernels.ordered import _ordered_credit

    max_len = int(table.lengths.max()) if table.n_paths else 0
    credit, by_pos = _ordered_credit(table.offsets, table.codes, table.weights(), table.n_channels, max_len)
    ch, pos = np.nonzero(np.abs(by_pos).sum(axis=2) > 0)
    positions = pl.DataFrame({
        "channel": pl.Series([table.channels[c] for c in ch], dtype=pl.Utf8),
        "position": pl.Series(pos + 1, dtype=pl.Int64),
        "conversions": pl.Series(by_pos[ch, pos, 0], dtype=pl.Float64),
        "gmv": pl.Series(by_pos[ch, pos, 1], dtype=pl.Float64),
    })
    return ModelResult(table.channels, credit, info={"game": "ordered", "method": "exact (closed form)"},
                       extra={"positions": positions})


def _gib(nbytes: int) -> str:
    """A byte count in GiB, as a power of two past what a float shows well (2^1100 bytes overflowed)."""
    gib = nbytes >> 30
    return f"{gib:,} GiB" if gib < 10**6 else f"2^{gib.bit_length() - 1} GiB"


def rate_shares(table: PathTable):
    """Per distinct set: clipped, unnormalised Shapley values of the local rate game (CSR).

    Only sets with conversions get credit, and only sets with v(T) > 0 contribute to any φ, so φ is
    computed for the converting sets only (the others keep 0: their paths carry no weight).
    """
    set_off, set_codes, path_set, k_of_set, n_of_set = distinct_sets(table)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = np.where(n_of_set > 0, k_of_set / np.where(n_of_set > 0, n_of_set, 1.0), 0.0)
    phi = None
    if table.n_channels <= MASK_CHANNELS:
        phi = rate_phi_masks(set_masks(set_off, set_codes), set_off, set_codes, v, table.n_channels)
    if phi is None:
        phi = np.zeros(len(set_codes), dtype=np.float64)
        from ..kernels.rate_trie import _rate_shapley
        from ..kernels.sequences import _gather_sequences

        live = np.flatnonzero(v > 0).astype(np.int64)
        if len(live):
            l_off, l_codes = _gather_sequences(set_off, set_codes, live)
            l_phi = _rate_shapley(l_off, l_codes, l_off, l_codes, np.ascontiguousarray(v[live]), table.n_channels)
            starts = set_off[live]
            lengths = np.diff(l_off)
            dest = np.repeat(starts - l_off[:-1], lengths) + np.arange(len(l_codes))
            phi[dest] = l_phi
    return set_off, set_codes, path_set, np.maximum(phi, 0.0), phi


def _fit_rate(table: PathTable, params: ModelParams) -> ModelResult:
    """Per-journey game v(S) = K(S)/N(S) on observed sets; φ clipped at 0, normalised; last-touch fallback."""
    set_off, set_codes, path_set, shares, phi = rate_shares(table)
    credit, fallback = credit_by_shares(table, set_off, set_codes, path_set, shares)
    sizes = np.diff(set_off)
    set_total = np.add.reduceat(shares, set_off[:-1]) if len(shares) else np.zeros(0)
    fallback_paths = int(np.sum((set_total[path_set] <= 0) & (table.conversions > 0))) if len(set_total) else 0
    info = {"game": "rate", "method": "exact", "distinct_sets": int(len(sizes)),
            "max_set_size": int(sizes.max()) if len(sizes) else 0,
            "fallbacks": fallback_paths, "fallback_conversions": float(fallback[0]),
            "fallback_gmv": float(fallback[1]), "negative_phi_clipped": int(np.sum(phi < 0))}
    if params.method == "mc":
        info["method_note"] = "the rate game is computed exactly for any journey size; --method mc is not needed"
    return ModelResult(table.channels, credit, info=info)


def _fit_subset_rate(table: PathTable, params: ModelParams) -> ModelResult:
    """Global game v(S) = Σ_{T⊆S}K(T)/Σ_{T⊆S}N(T); credits x_i = X·φ_i/Σφ (Σφ = v(all) − v(∅))."""
    set_off, set_codes, _, k_of_set, n_of_set = distinct_sets(table)
    n = table.n_channels
    totals = np.array([table.conversions.sum(), table.value.sum()])
    method = params.method
    if method == "auto":
        method = "exact" if n <= MAX_EXACT_SUBSET_CHANNELS else "mc"
        why = f"auto: {n} channels {'<=' if method == 'exact' else '>'} {MAX_EXACT_SUBSET_CHANNELS}"
    else:
        why = f"--method {method}"
    if method == "exact" and n > MAX_EXACT_SUBSET_CHANNELS:
        raise ModelLimitError(
            f"exact subset-rate Shapley over {n} channels needs 3 tables of 2^{n} float64 "
            f"({_gib(3 * 8 * 2**n)}) and {n}·2^{n} steps; the limit is {MAX_EXACT_SUBSET_CHANNELS} "
            "channels: use --method mc (or auto)")
    info = {"game": "subset-rate", "method": method, "method_reason": why, "channels": n,
            "distinct_sets": int(len(k_of_set))}
    col = 1 if params.value == "gmv" else 0
    v_all = float(k_of_set.sum() / n_of_set.sum()) if n_of_set.sum() > 0 else 0.0
    info["v_all"] = v_all
    if v_all == 0.0:
        info["note"] = "no conversions: every credit is 0"
        return ModelResult(table.channels, np.zeros((n, 2)), info=info)
    if method == "exact":
        from ..kernels.subset_exact import _subset_rate_exact

        phi = _subset_rate_exact(set_masks(set_off, set_codes), k_of_set, n_of_set, n)
        credit = np.outer(phi / v_all, totals)
        return ModelResult(table.channels, credit, info=info)
    phi, se, mc_info = subset_rate_mc(set_off, set_codes, k_of_set, n_of_set, n, v_all, params)
    info.update(mc_info)
    scale = totals[col] / v_all
    credit = np.outer(phi / v_all, totals)
    half = Z95 * se * scale
    return ModelResult(table.channels, credit, std_error=se * scale, ci_low=credit[:, col] - half,
                       ci_high=credit[:, col] + half, info=info,
                       extra={"gmv_std_error": se * totals[1] / v_all})


def subset_rate_mc(set_off, set_codes, k_of_set, n_of_set, n, v_all, params: ModelParams):
    """Antithetic permutation sampling, post-stratified by position, until the largest 95% half-width
    relative to Σφ is below the tolerance, or at max_samples.

    The unit of independence is the antithetic pair (a permutation and its reverse; Mitchell et al.
    2022). Player i arrives at positions k and n−1−k in a pair, so the pair falls in stratum
    s = min(k, n−1−k), whose probability is known (2/n, or 1/n for the middle one when n is odd). The
    estimate is Σ_s P(s)·mean_s and its variance Σ_s P(s)²·var_s/count_s (post-stratification;
    Maleki et al. 2013 stratify Shapley sampling by coalition size): the large differences between
    early and late arrivals no longer count as noise. Beyond 128 channels the positions are pooled into
    ``MAX_STRATA`` strata of consecutive s (still post-stratification: a pair's pooled stratum is drawn
    with its known probability, the sum of its positions'). Until every stratum holds two pairs the plain
    pair mean is used. The estimate is finally scaled to sum to v(all) − v(∅) (efficiency), and the
    standard errors with it. Batches of pairs run in parallel, each pair a pure function of
    (seed, pair index), and are reduced in pair order: results and the stopping point do not depend
    on the number of threads.
    """
    from ..kernels.subset_mc import _accumulate_strata, _mc_pairs

    max_pairs = max(params.max_samples // 2, 2)
    seed = np.uint64(params.seed)
    n_positions = (n + 1) // 2
    prob = np.full(n_positions, 2.0 / n)
    if n % 2 == 1:
        prob[-1] = 1.0 / n
    pooled = None
    n_strata = n_positions
    if n_positions > MAX_STRATA:
        pooled = (np.arange(n_positions, dtype=np.int64) * MAX_STRATA // n_positions).astype(np.int32)
        n_strata = MAX_STRATA
        prob = np.bincount(pooled, weights=prob, minlength=MAX_STRATA)
    max_batch = max(1, BATCH_CELLS // n)
    total = np.zeros((n, n_strata))
    total_sq = np.zeros((n, n_strata))
    count = np.zeros((n, n_strata))
    pairs = 0
    stop = "max_samples"

    def estimate():
        plain_mean = total.sum(axis=1) / pairs
        if count.min() >= 2:
            mean_s = total / count
            var_s = np.maximum(total_sq / count - mean_s * mean_s, 0.0) * count / (count - 1)
            # sums, not matrix products: BLAS picks its kernels by the CPU and they sum in other orders,
            # so the credits' last digits would depend on the machine (see tests/test_golden.py)
            phi = (mean_s * prob).sum(axis=1)
            se = np.sqrt(((var_s / count) * (prob * prob)).sum(axis=1))
            stratified = True
        else:
            c = max(pairs, 2)
            var = np.maximum(total_sq.sum(axis=1) / c - plain_mean * plain_mean, 0.0) * c / (c - 1)
            phi, se, stratified = plain_mean, np.sqrt(var / c), False
        scale = v_all / phi.sum() if phi.sum() != 0 else 1.0
        return phi * scale, se * abs(scale), stratified

    from ..progress import current

    with current().bar(2 * max_pairs, "Monte Carlo", unit="permutation") as bar:
        while pairs < max_pairs:
            batch = min(BATCH_PAIRS if pairs < 4 * BATCH_PAIRS else pairs // 4, max_pairs - pairs, max_batch)
            rows, strata = _mc_pairs(set_off, set_codes, k_of_set, n_of_set, n, seed, pairs, batch)
            if pooled is not None:
                strata = pooled[strata]
            _accumulate_strata(rows, strata, total, total_sq, count)
            pairs += batch
            bar.update(2 * batch)
            if pairs >= 2 * BATCH_PAIRS:
                phi, se, stratified = estimate()
                if stratified and Z95 * se.max() / v_all < params.tolerance:
                    stop = "tolerance"
                    break
    phi, se, stratified = estimate()
    rel = float(Z95 * se.max() / v_all)
    return phi, se, {"samples": 2 * pairs, "pairs": pairs, "stop_reason": stop, "max_rel_halfwidth": rel,
                     "tolerance": params.tolerance, "seed": params.seed,
                     "strata": n_strata,
                     "variance_reduction": "antithetic pairs, post-stratified by position" if stratified
                     else "antithetic pairs (too few pairs to stratify)"}
