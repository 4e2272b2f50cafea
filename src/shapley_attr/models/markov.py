"""Markov removal effect (Anderl et al. 2016; ChannelAttribution's markov_model), solved exactly.

States: (start), channel states of order k (the last k channels of the path), (conversion), (null).
Transition probabilities are counted from all journeys. P(conv) is the absorption probability in
(conversion) from (start): with Q the transient-to-transient and b the transient-to-conversion
probabilities, x = (I − Q)⁻¹ b and P(conv) = x[start], solved by sparse LU (SuperLU via SciPy), not
by simulation. Removing channel c sends every transition into a state containing c to (null): the
columns of those states are removed from Q. RE_c = 1 − P₋c(conv)/P(conv); credit_c = X·RE_c/Σ_d RE_d.
At order > 1 a removal can raise P (RE_c < 0); the formula is kept, as ChannelAttribution does, and
the count is reported. If Σ RE = 0 (no channel matters) the credits are 0 and the manifest says so.

At order 1 every channel is one state c, and removing it is a rank-one change of the system, so one
factorisation serves every channel: P₋c = P − h_c·x_c, where x_c = P(conversion | at c) and h_c =
P(ever reaching c from start) = G_0c / G_cc with G = (I − Q)⁻¹. Row 0 of G is one transposed solve;
G_cc only involves returns to c, which stay inside c's strongly connected component, so the diagonal
is computed block by block (closed form for a state on no cycle, a dense inverse for small blocks, LU
column solves for large ones). This is linear in the channels when the chain has few cycles (100k
channels: seconds) where a solve per channel is quadratic. At higher orders a channel is many states
and the removals are solved one by one, after checking that their cost (channels × one factorisation's
multiply-adds) is within ``REMOVAL_BUDGET``. A strongly connected block over ``MAX_BLOCK_STATES`` is
refused before any factorisation. Every refusal states the numbers (ModelLimitError, exit 2).
"""
from __future__ import annotations

import numpy as np

from ..config import ModelParams
from ..errors import ModelLimitError
from ..frames import PathTable
from .base import ModelResult


def markov_chain(table: PathTable, order: int):
    """Return (Q csr (n_t×n_t), b (n_t,), state_channels list of code arrays) over transient states.

    Transient state 0 is (start); state i ≥ 1 is the k-gram ``state_channels[i]``.
    """
    import scipy.sparse as sp

    base = table.n_channels + 1
    if order * np.log(base) >= np.log(2.0**62):
        raise ModelLimitError(f"Markov order {order} over {table.n_channels} channels: its states do not fit "
                              f"64-bit keys ({base}^{order} >= 2^62): use a lower --order")
    keys = kgram_keys(table, order, base)
    uniq, state = _state_ids(keys)
    n_states = len(uniq)
    src, dst, w = transitions(table, state, n_states)
    n_all = n_states + 3
    if n_all * n_all <= DENSE_COUNTS:  # few states (order 1: a channel each): counted in place
        cells = np.bincount(src * n_all + dst, weights=w, minlength=n_all * n_all)
        counts = sp.csr_matrix(cells.reshape(n_all, n_all))
    else:
        counts = sp.coo_matrix((w, (src, dst)), shape=(n_all, n_all)).tocsr()
        counts.sum_duplicates()
    out = np.asarray(counts.sum(axis=1)).ravel()
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(out > 0, 1.0 / out, 0.0)
    probs = sp.diags(inv) @ counts
    n_t = n_states + 1
    q = probs[:n_t, :n_t].tocsc()
    b = np.asarray(probs[:n_t, n_states + 1].todense()).ravel()
    # channels of each k-gram state, decoded from the key
    members = []
    for key in uniq:
        chans = []
        k = int(key)
        while k:
            chans.append(k % base - 1)
            k //= base
        members.append(np.array(sorted(set(chans)), dtype=np.int64))
    return q, b, members


DENSE_COUNTS = 1 << 22
"""Most cells (states × states) of a transition count matrix counted densely by ``np.bincount`` (32
MB); a larger state space is counted as a sparse COO matrix, whose conversion sorts every transition.
Both hold the same entries (every transition's weight is positive, so no cell sums to zero)."""
SPARSE_KEYS = 1 << 24
"""Above this key range (and four keys a touch) the states are numbered by a sort (``np.unique``)."""


def _state_ids(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` for non-negative keys (int64 ids): by counting when the
    keys span a small range (order 1: a channel's code + 1), else by a sort. 10.7M events' paths
    (545,870 paths, 16 channels): the sort's unique took ~0.55 s of a 1.3 s Markov fit."""
    top = int(keys.max()) + 1 if len(keys) else 0
    if 0 < top <= min(max(4 * len(keys), 1 << 16), SPARSE_KEYS) and int(keys.min()) >= 0:
        present = np.bincount(keys, minlength=top) > 0
        rank = np.cumsum(present, dtype=np.int64) - 1
        return np.flatnonzero(present), rank[keys]
    uniq, inverse = np.unique(keys, return_inverse=True)
    return uniq, inverse.astype(np.int64)


def kgram_keys(table: PathTable, order: int, base: int) -> np.ndarray:
    """Key of the state at every touch: the last ``order`` channels (fewer at the path's start),
    packed as Σ_l (code_{q−l} + 1)·base^l, so that different k-grams get different keys."""
    codes = table.codes.astype(np.int64) + 1
    pos = np.arange(len(codes)) - np.repeat(table.offsets[:-1], table.lengths)
    keys = codes.copy()
    mult = 1
    for lag in range(1, order):
        mult *= base
        shifted = np.zeros_like(codes)
        shifted[lag:] = codes[:-lag]
        keys += np.where(pos >= lag, shifted * mult, 0)
    return keys


def transitions(table: PathTable, state: np.ndarray, n_states: int):
    """Transitions as (from, to, weight): (start) → s_1 → … → s_m → (conversion)/(null).

    State ids: 0 = (start), 1..n_states = channel states (state + 1), n_states + 1 = (conversion),
    n_states + 2 = (null). Every inner step weighs the path's journeys (conversions + nulls).
    """
    lengths = table.lengths
    journeys = table.conversions + table.nulls
    live = (journeys > 0) & (lengths > 0)
    touch_live = np.repeat(live, lengths)
    first = np.zeros(len(state), dtype=bool)
    first[table.offsets[:-1][lengths > 0]] = True
    ids = state + 1
    prev = np.empty_like(ids)
    prev[0:1] = 0
    prev[1:] = ids[:-1]
    prev[first] = 0  # each path starts from (start)
    inner_w = np.repeat(journeys, lengths)
    last_ids = ids[table.offsets[1:][live] - 1]
    conv, nulls = table.conversions[live], table.nulls[live]
    src = np.concatenate([prev[touch_live], last_ids[conv > 0], last_ids[nulls > 0]])
    dst = np.concatenate([ids[touch_live], np.full(int((conv > 0).sum()), n_states + 1),
                          np.full(int((nulls > 0).sum()), n_states + 2)])
    w = np.concatenate([inner_w[touch_live], conv[conv > 0], nulls[nulls > 0]])
    return src, dst, w


SOLVE_BUDGET = 5e10
"""Order 1, a large cyclic block: its size × the non-zeros of its LU factors (the column solves)."""
REMOVAL_BUDGET = 6e11
"""Order > 1: channels × (multiply-adds of one factorisation + non-zeros of its factors); measured here
at about 1e9 multiply-adds a second, so about ten minutes of refactorisations."""
MAX_BLOCK_STATES = 30_000
"""Largest strongly connected block of states factorised at all. Measured (SuperLU, COLAMD): random-like
blocks of 10,000 states take 9 s, 20,000 take 70 s, 26,000 (30 channels at order 3) 133 s, growing
with about the cube of the size; a larger block is refused before any factorisation."""
DENSE_BLOCK = 3000  # strongly connected blocks up to this size are inverted densely


def _factor(q):
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    return splu((sp.identity(q.shape[0], format="csc") - q).tocsc())


def _factor_cost(lu) -> float:
    """Multiply-adds of the factorisation (Σ_k |L_{:,k}|·|U_{k,:}|) plus the factors' non-zeros."""
    lower, upper = lu.L.tocsc(), lu.U.tocsr()
    flops = float(np.dot(np.diff(lower.indptr).astype(np.float64), np.diff(upper.indptr).astype(np.float64)))
    return flops + lower.nnz + upper.nnz


def strong_blocks(q, order: int) -> np.ndarray:
    """Strongly connected component of every transient state; refuses a block over MAX_BLOCK_STATES."""
    from scipy.sparse.csgraph import connected_components

    _, labels = connected_components(q, directed=True, connection="strong")
    largest = int(np.bincount(labels).max()) if len(labels) else 0
    if largest > MAX_BLOCK_STATES:
        raise ModelLimitError(
            f"the order-{order} Markov chain has {q.shape[0] - 1:,} states, {largest:,} of them in one strongly "
            f"connected block (each reachable from every other); an exact sparse LU of a block that size is not "
            f"bounded in time or memory here (limit {MAX_BLOCK_STATES:,} states; 20,000 random-like states took "
            f"70 s and the cost grows with about the cube of the size): use a lower --order, group rare "
            f"channels (--col channel=...) or --model shapley")
    return labels


def inverse_diagonal(q, labels: np.ndarray) -> np.ndarray:
    """diag((I − Q)⁻¹), one strongly connected component of Q's graph at a time (exact)."""
    self_loop = q.diagonal()
    diag = 1.0 / (1.0 - self_loop)  # a state on no cycle but its own loop: 1 + q + q² + …
    sizes = np.bincount(labels)
    q = q.tocsr()
    order = np.argsort(labels, kind="stable")
    starts = np.concatenate([[0], np.cumsum(sizes)])
    for comp in np.flatnonzero(sizes > 1):
        idx = order[starts[comp]:starts[comp + 1]]
        m = len(idx)
        sub = q[idx][:, idx]
        if m <= DENSE_BLOCK:
            diag[idx] = np.diag(np.linalg.inv(np.eye(m) - sub.toarray()))
            continue
        lu = _factor(sub)
        cost = float(m) * (lu.L.nnz + lu.U.nnz)
        if cost > SOLVE_BUDGET:
            raise ModelLimitError(
                f"the Markov chain has a strongly connected block of {m:,} states whose LU factors hold "
                f"{lu.L.nnz + lu.U.nnz:,} non-zeros: its exact removal effects need {cost:.3g} operations, "
                f"above the limit of {SOLVE_BUDGET:.3g}; group rare channels (--col channel=...) or use "
                f"--model shapley")
        for j0 in range(0, m, 256):
            cols = np.arange(j0, min(m, j0 + 256))
            rhs = np.zeros((m, len(cols)))
            rhs[cols, np.arange(len(cols))] = 1.0
            diag[idx[cols]] = lu.solve(rhs)[cols, np.arange(len(cols))]
    return diag


def removal_effects_order1(q, b, members: list, n_channels: int, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """(P(conv), RE per channel) at order 1 from one factorisation (see the module's docstring)."""
    lu = _factor(q)
    x = lu.solve(b)
    p_conv = float(x[0])
    e0 = np.zeros(q.shape[0])
    e0[0] = 1.0
    g0 = lu.solve(e0, trans="T")  # G_0s for every transient state s
    reach = g0 / inverse_diagonal(q, labels)  # P(ever reaching s from start)
    removal = np.zeros(n_channels)
    if p_conv > 0.0:
        state = np.arange(1, len(members) + 1)
        channel = np.array([m[0] for m in members], dtype=np.int64)
        removal[channel] = np.minimum(reach[state] * x[state], p_conv) / p_conv
    return p_conv, removal


def absorption(q, b, removed_states=None) -> float:
    """P(conversion | start) for the chain (I − Q) x = b, with ``removed_states`` sent to (null)."""
    import scipy.sparse as sp

    if removed_states is not None and len(removed_states):
        keep = np.ones(q.shape[0])
        keep[removed_states] = 0.0
        q = q @ sp.diags(keep)
        b = b * keep
    return float(_factor(q).solve(b)[0])


def fit(table: PathTable, params: ModelParams) -> ModelResult:
    if params.collapses:
        from ..paths_ops import collapse_repeats

        table = collapse_repeats(table)
    n = table.n_channels
    totals = np.array([table.conversions.sum(), table.value.sum()])
    q, b, members = markov_chain(table, params.order)
    labels = strong_blocks(q, params.order)
    if params.order == 1:
        p_conv, removal = removal_effects_order1(q, b, members, n, labels)
        solver = "sparse LU (SuperLU), one factorisation, rank-one removals"
    else:
        lu = _factor(q)
        p_conv = float(lu.solve(b)[0])
        each = _factor_cost(lu)
        if n * each > REMOVAL_BUDGET:
            raise ModelLimitError(
                f"Markov order {params.order}: {n:,} channel removals, each a sparse LU over {q.shape[0]:,} states "
                f"({each:.3g} multiply-adds each, {n * each:.3g} in all, above the limit of "
                f"{REMOVAL_BUDGET:.3g}); use a lower --order, group rare channels or --model shapley")
        del lu
        removal = None
        solver = "sparse LU (SuperLU), one solve per channel removal"
    info = {"order": params.order, "states": q.shape[0] - 1, "transitions": int(q.nnz + np.count_nonzero(b)),
            "p_conversion": p_conv, "collapse_repeats": params.collapses, "solver": solver}
    if p_conv <= 0.0:
        info["note"] = "P(conversion) is 0: every credit is 0"
        return ModelResult(table.channels, np.zeros((n, 2)), info=info)
    if removal is None:
        # transient state index of each k-gram is its position + 1 (0 is start)
        states_of = [[] for _ in range(n)]
        for s, chans in enumerate(members):
            for c in chans:
                states_of[c].append(s + 1)
        removal = np.zeros(n)
        for c in range(n):
            removal[c] = 1.0 - absorption(q, b, np.array(states_of[c], dtype=np.int64)) / p_conv
    info["removal_effects"] = {table.channels[c]: float(removal[c]) for c in range(n)}
    info["negative_removal_effects"] = int(np.sum(removal < 0))
    total_re = removal.sum()
    if total_re == 0.0:
        info["note"] = "every removal effect is 0: credits are 0"
        return ModelResult(table.channels, np.zeros((n, 2)), info=info)
    credit = np.outer(removal / total_re, totals)
    return ModelResult(table.channels, credit, info=info)
