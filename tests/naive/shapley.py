"""Slow, obviously-right references for the Shapley games: every subset, straight from the definitions."""
from __future__ import annotations

from itertools import combinations
from math import factorial


def shapley(players: list[str], v) -> dict[str, float]:
    """φ_i = Σ_{S ⊆ P∖{i}} |S|!(n−|S|−1)!/n! · (v(S ∪ {i}) − v(S)), by enumerating every subset."""
    n = len(players)
    phi = {}
    for i in players:
        others = [p for p in players if p != i]
        total = 0.0
        for size in range(n):
            w = factorial(size) * factorial(n - size - 1) / factorial(n)
            for s in combinations(others, size):
                total += w * (v(frozenset(s) | {i}) - v(frozenset(s)))
        phi[i] = total
    return phi


def coalition_table(paths, conv, nulls):
    """Observed distinct-channel sets → (K, N)."""
    table: dict[frozenset, list[float]] = {}
    for p, k, z in zip(paths, conv, nulls):
        kn = table.setdefault(frozenset(p), [0.0, 0.0])
        kn[0] += k
        kn[1] += k + z
    return table


def count_game(paths, conv, value):
    """φ_i = Σ_{T∋i} x(T)/|T| written as the Shapley value of v(S) = Σ_{T⊆S} x(T) (brute force)."""
    out = {}
    for col, x in (("conversions", conv), ("gmv", value)):
        xt: dict[frozenset, float] = {}
        for p, xv in zip(paths, x):
            xt[frozenset(p)] = xt.get(frozenset(p), 0.0) + xv
        players = sorted({c for p in paths for c in p})
        phi = shapley(players, lambda s: sum(v for t, v in xt.items() if t <= s))
        for c in players:
            out.setdefault(c, {})[col] = phi[c]
    return out


def rate_game(paths, conv, value, nulls):
    """Per journey: players C_j, v(S) = K(S)/N(S) on observed S; clip, normalise, last-touch fallback."""
    table = coalition_table(paths, conv, nulls)

    def v(s):
        kn = table.get(frozenset(s))
        return kn[0] / kn[1] if kn and kn[1] > 0 else 0.0

    out: dict[str, dict[str, float]] = {c: {"conversions": 0.0, "gmv": 0.0} for p in paths for c in p}
    for p, k, g in zip(paths, conv, value):
        players = sorted(set(p))
        phi = shapley(players, v)
        pos = {c: max(0.0, f) for c, f in phi.items()}
        total = sum(pos.values())
        for c in players:
            share = pos[c] / total if total > 0 else (1.0 if c == p[-1] else 0.0)
            out[c]["conversions"] += k * share
            out[c]["gmv"] += g * share
    return out


def subset_rate_game(paths, conv, value, nulls):
    """Global game over all channels: v(S) = Σ_{T⊆S} K(T) / Σ_{T⊆S} N(T); x_i = X·φ_i/Σφ."""
    table = coalition_table(paths, conv, nulls)
    players = sorted({c for p in paths for c in p})

    def v(s):
        k = sum(kn[0] for t, kn in table.items() if t <= s)
        n = sum(kn[1] for t, kn in table.items() if t <= s)
        return k / n if n > 0 else 0.0

    phi = shapley(players, v)
    total = sum(phi.values())
    return {c: {"conversions": sum(conv) * phi[c] / total, "gmv": sum(value) * phi[c] / total} for c in players}


def ordered_positions(paths, conv):
    """Ordered Shapley per (channel, position): x/|C| per distinct channel, equally over its occurrences."""
    out: dict[tuple[str, int], float] = {}
    for p, x in zip(paths, conv):
        distinct = set(p)
        for q, c in enumerate(p, start=1):
            out[(c, q)] = out.get((c, q), 0.0) + x / len(distinct) / p.count(c)
    return out
