"""Slow, independent references for the peers' own definitions where they differ from ours.

Each peer is compared with an exact computation of *its* definition, so that "error" means a
numerical or sampling error, not a difference of definition (that is reported separately, against
our models). Plain Python and numpy over a PathTable; runs in the project's environment.

- DP6 ``marketing-attribution-models`` Shapley (``run_shapley(max_size=4, value_column="conv_rate")``):
  per journey the set of distinct channels, sorted by name, keeping the *last* ``max_size`` of them
  (channels beyond the cap are dropped); ``v(S)`` = conversion rate of the journeys whose capped set
  is S, for converting sets only, else 0; exact Shapley over each converting set, negative values
  kept, scaled to the set's conversions (``φ·N / Σ φ·N · K``).
- ``mta`` Markov (``markov(sim=False)``): repeats removed, order-1 transition probabilities from all
  journeys; ``P = Σ_{distinct converting paths} Π p(transitions)`` and ``P_{-c}`` the same sum over the
  paths without c; ``RE_c = (P − P_{-c}) / P``; credit ``X · RE_c / Σ RE``. (Not an absorbing-chain
  solve: each observed path counts once, unweighted.)
- ``mta`` Shapley (``shapley(max_coalition_size=None)``) is the ``count`` game exactly
  (``v(S) = Σ_{T⊆S} K(T)``), so its reference is our exact count game.
"""
from __future__ import annotations

from collections import defaultdict
from itertools import combinations
from math import factorial

import numpy as np

from shapley_attr.frames import PathTable


def _paths(table: PathTable):
    names = table.channels
    for j in range(table.n_paths):
        a, b = table.offsets[j], table.offsets[j + 1]
        yield [names[c] for c in table.codes[a:b]], float(table.conversions[j]), float(table.nulls[j])


def dp6_shapley(table: PathTable, max_size: int = 4) -> dict[str, float]:
    conv: dict[tuple, float] = defaultdict(float)
    seqs: dict[tuple, float] = defaultdict(float)
    for path, k, z in _paths(table):
        key = tuple(sorted(set(path)))[-max_size:]
        conv[key] += k
        seqs[key] += k + z
    rate = {s: conv[s] / seqs[s] for s in conv if conv[s] > 0}
    credit: dict[str, float] = defaultdict(float)
    for players, v_all in rate.items():
        m = len(players)
        phi = np.zeros(m)
        for size in range(1, m + 1):
            for coalition in combinations(range(m), size):
                v = rate.get(tuple(players[i] for i in coalition), 0.0)
                if v == 0.0:
                    continue
                inside = factorial(size - 1) * factorial(m - size) / factorial(m)
                outside = factorial(size) * factorial(m - size - 1) / factorial(m) if size < m else 0.0
                for i in range(m):
                    phi[i] += v * inside if i in coalition else -v * outside
        scaled = phi * seqs[players]
        if scaled.sum() != 0:
            scaled = scaled / scaled.sum() * conv[players]
        for ch, x in zip(players, scaled):
            credit[ch] += x
    return dict(credit)


def mta_markov(table: PathTable) -> dict[str, float]:
    pairs: dict[tuple, float] = defaultdict(float)
    converting: set[tuple] = set()
    for path, k, z in _paths(table):
        collapsed = [c for i, c in enumerate(path) if i == 0 or c != path[i - 1]]
        if not collapsed:
            continue
        states = ["(start)"] + collapsed
        for a, b in zip(states[:-1], states[1:]):
            pairs[(a, b)] += k + z
        pairs[(collapsed[-1], "(null)")] += z
        pairs[(collapsed[-1], "(conversion)")] += k
        if k > 0:
            converting.add(tuple(collapsed))
    out: dict[str, float] = defaultdict(float)
    for (a, _), n in pairs.items():
        out[a] += n
    prob = {p: n / out[p[0]] for p, n in pairs.items()}

    def path_prob(path):
        states = ("(start)",) + path + ("(conversion)",)
        return float(np.prod([prob.get(p, 0.0) for p in zip(states[:-1], states[1:])]))

    weights = {p: path_prob(p) for p in converting}
    base = sum(weights.values())
    channels = sorted({c for p in converting for c in p})
    removal = {c: (base - sum(w for p, w in weights.items() if c not in p)) / base for c in channels}
    total_re = sum(removal.values())
    x = float(table.conversions.sum())
    return {c: x * r / total_re for c, r in removal.items()}
