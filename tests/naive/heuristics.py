"""Heuristic rules, one journey at a time, in plain Python."""
from __future__ import annotations


def heuristic(paths, conv, value, rule, weights=(0.4, 0.2, 0.4), ages=None, half_life_days=7.0):
    out: dict[str, list[float]] = {}
    for j, (p, k, g) in enumerate(zip(paths, conv, value)):
        m = len(p)
        if rule == "first":
            w = [1.0] + [0.0] * (m - 1)
        elif rule == "last":
            w = [0.0] * (m - 1) + [1.0]
        elif rule == "linear":
            w = [1.0 / m] * m
        elif rule == "position":
            f, mid, last = weights
            if m == 1:
                w = [1.0]
            elif m == 2:
                w = [f / (f + last), last / (f + last)]
            else:
                w = [f] + [mid / (m - 2)] * (m - 2) + [last]
        else:  # time-decay
            raw = [2.0 ** (-a / (half_life_days * 86400.0)) for a in ages[j]]
            w = [r / sum(raw) for r in raw]
        for c, share in zip(p, w):
            acc = out.setdefault(c, [0.0, 0.0])
            acc[0] += k * share
            acc[1] += g * share
    return out
