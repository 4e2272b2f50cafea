"""Markov removal effect by a dense solve of a chain built in plain Python."""
from __future__ import annotations

import numpy as np


def collapse(path):
    out = []
    for c in path:
        if not out or out[-1] != c:
            out.append(c)
    return out


def chain(paths, conv, nulls, order):
    """States as tuples of the last `order` channels; returns (states, counts dict)."""
    counts: dict[tuple, dict[tuple, float]] = {}

    def add(a, b, w):
        if w > 0:
            counts.setdefault(a, {})
            counts[a][b] = counts[a].get(b, 0.0) + w

    for p, k, z in zip(paths, conv, nulls):
        if k + z <= 0 or not p:
            continue
        prev = ("(start)",)
        for i in range(len(p)):
            cur = tuple(p[max(0, i - order + 1): i + 1])
            add(prev, cur, k + z)
            prev = cur
        add(prev, ("(conversion)",), k)
        add(prev, ("(null)",), z)
    return counts


def p_conversion(counts, removed=None) -> float:
    transient = sorted({s for s in counts} | {t for d in counts.values() for t in d
                                              if t not in (("(conversion)",), ("(null)",))}, key=str)
    index = {s: i for i, s in enumerate(transient)}
    n = len(transient)
    q = np.zeros((n, n))
    b = np.zeros(n)
    for s, d in counts.items():
        total = sum(d.values())
        for t, w in d.items():
            if t == ("(conversion)",):
                b[index[s]] += w / total
            elif t == ("(null)",):
                continue
            elif removed is not None and removed in t:
                continue  # redirected to (null)
            else:
                q[index[s], index[t]] += w / total
    x = np.linalg.solve(np.eye(n) - q, b)
    return float(x[index[("(start)",)]])


def markov_credit(paths, conv, value, nulls, order=1, collapse_repeats=True):
    if collapse_repeats:
        paths = [collapse(p) for p in paths]
    counts = chain(paths, conv, nulls, order)
    base = p_conversion(counts)
    channels = sorted({c for p in paths for c in p})
    re = {c: 1.0 - p_conversion(counts, c) / base for c in channels}
    total = sum(re.values())
    return {c: {"conversions": sum(conv) * re[c] / total, "gmv": sum(value) * re[c] / total} for c in channels}, re
