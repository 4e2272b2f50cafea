"""A plain per-user loop that cuts events into journeys, written from DATA.md's words."""
from __future__ import annotations

DIRECT = "(direct)"


def journeys(events, lookback_us, period_start=None, period_end=None):
    """events: dicts with user, t (int µs), conv (bool), channel, gmv; list order = input order.

    Returns {path tuple: [conversions, value, nulls]}.
    """
    lo_p = period_start if period_start is not None else -(2**63)
    hi_p = period_end if period_end is not None else 2**63 - 1
    by_user: dict[str, list] = {}
    for i, e in enumerate(events):
        by_user.setdefault(e["user"], []).append((e["t"], 1 if e["conv"] else 0, i, e))
    out: dict[tuple, list[float]] = {}

    def add(path, k, g, z):
        acc = out.setdefault(tuple(path), [0.0, 0.0, 0.0])
        acc[0] += k
        acc[1] += g
        acc[2] += z

    for rows in by_user.values():
        rows.sort(key=lambda r: (r[0], r[1], r[2]))  # time, touch before conversion, input order
        pending = []
        for t, is_conv, _, e in rows:
            if t >= hi_p:
                break
            if not is_conv:
                pending.append((t, e["channel"]))
                continue
            window = [c for (tt, c) in pending if tt >= t - lookback_us]
            if t >= lo_p:
                add(window or [DIRECT], 1.0, e["gmv"], 0.0)
            pending = []
        if pending:
            last = pending[-1][0]
            if last >= lo_p:
                add([c for (tt, c) in pending if tt >= last - lookback_us], 0.0, 0.0, 1.0)
    return out
