"""Markov removal effect (Anderl et al. 2016; ChannelAttribution's markov_model), solved exactly.

States: (start), channel states of order k (the last k channels of the path), (conversion), (null).
Transition probabilities are counted from all journeys. P(conv) is the absorption probability in
(conversion) from (start): with Q the transient-to-transient and b the transient-to-conversion
probabilities, x = (I − Q)⁻¹ b and P(conv) = x[start], solved by sparse LU (SuperLU via SciPy), not
by simulation. Removing channel c sends every transition into a state containing c to (null): the
columns of those states are removed from Q. RE_c = 1 − P₋c(conv)/P(conv); credit_c = X·RE_c/Σ_d RE_d.
At order > 1 a removal can raise P (RE_c < 0); the formula is kept, as ChannelAttribution does, and
the count is reported. If Σ RE = 0 (no channel matters) the credits are 0 and the manifest says so.
"""
from __future__ import annotations

import numpy as np

from ..config import ModelParams
from ..frames import PathTable
from .base import ModelResult


def markov_chain(table: PathTable, order: int):
    """Return (Q csr (n_t×n_t), b (n_t,), state_channels list of code arrays) over transient states.

    Transient state 0 is (start); state i ≥ 1 is the k-gram ``state_channels[i]``.
    """
    import scipy.sparse as sp

    base = table.n_channels + 1
    if order * np.log(base) >= np.log(2.0**62):
        raise ValueError(f"order {order} over {table.n_channels} channels does not fit 64-bit state keys")
    keys = kgram_keys(table, order, base)
    uniq, state = np.unique(keys, return_inverse=True)
    n_states = len(uniq)
    src, dst, w = transitions(table, state.astype(np.int64), n_states)
    n_all = n_states + 3
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


def absorption(q, b, removed_states=None) -> float:
    """P(conversion | start) for the chain (I − Q) x = b, with ``removed_states`` sent to (null)."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import splu

    n = q.shape[0]
    if removed_states is not None and len(removed_states):
        keep = np.ones(n)
        keep[removed_states] = 0.0
        q = q @ sp.diags(keep)
        b = b * keep
    a = (sp.identity(n, format="csc") - q).tocsc()
    x = splu(a).solve(b)
    return float(x[0])


def fit(table: PathTable, params: ModelParams) -> ModelResult:
    if params.collapses:
        from ..paths_ops import collapse_repeats

        table = collapse_repeats(table)
    n = table.n_channels
    totals = np.array([table.conversions.sum(), table.value.sum()])
    q, b, members = markov_chain(table, params.order)
    p_conv = absorption(q, b)
    info = {"order": params.order, "states": q.shape[0] - 1, "transitions": int(q.nnz + np.count_nonzero(b)),
            "p_conversion": p_conv, "collapse_repeats": params.collapses, "solver": "sparse LU (SuperLU)"}
    if p_conv <= 0.0:
        info["note"] = "P(conversion) is 0: every credit is 0"
        return ModelResult(table.channels, np.zeros((n, 2)), info=info)
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
