"""The journey cut: time-ordered events of each user into journeys (DATA.md, "Journeys")."""
from __future__ import annotations

import numpy as np

from ._jit import kernel

# stats slots written by _cut_journeys
STAT_DROPPED_LOOKBACK = 0
STAT_DIRECT = 1
STAT_CONV_IN_PERIOD = 2
STAT_CONV_BEFORE_PERIOD = 3
STAT_EVENTS_AFTER_PERIOD = 4
STAT_TAILS = 5
STAT_TAILS_OUTSIDE_PERIOD = 6
STAT_TAIL_TOUCHES_DROPPED = 7
STAT_CONV_OUT_OF_SCOPE = 8
STAT_TOUCHES_OUT_OF_SCOPE = 9
N_STATS = 10


@kernel()
def _cut_users(new_user, t, is_conv, code, value, in_scope, ident, n, lookback_us, period_start, period_end,
               direct_code, keep_ages, keep_source, out_codes, out_ages, ends, conv, val, nul, src, stats,
               nj, nc):
    """The cut of :func:`_cut_journeys` over rows ``[0, n)`` of sorted events, its journeys written
    from journey ``nj`` and code ``nc`` on (``ends[j]``: the end of journey ``j`` in ``out_codes``;
    every field of a journey written, so the buffers may be uninitialised); ``src[j]`` is
    ``ident[k]`` of the journey's conversion ``k`` (``k`` itself when ``ident`` is empty; -1 on a
    journey without a conversion). Adds to ``stats``; returns the journeys and codes written so far. A
    helper compiled into its callers: the whole cut (:func:`_cut_journeys`) and the order kernel's cut of each bucket of users
    (``kernels.ordering._sorted_journeys``)."""
    all_in_scope = in_scope.shape[0] == 0
    by_index = ident.shape[0] == 0
    i = 0
    while i < n:
        b = i + 1
        while b < n and not new_user[b]:
            b += 1
        start = i
        k = i
        while k < b:
            if t[k] >= period_end:
                stats[STAT_EVENTS_AFTER_PERIOD] += b - k
                break
            if is_conv[k]:
                lo = t[k] - lookback_us
                s = start
                while s < k and t[s] < lo:
                    s += 1
                stats[STAT_DROPPED_LOOKBACK] += s - start
                if t[k] >= period_start and not (all_in_scope or in_scope[k]):
                    stats[STAT_CONV_OUT_OF_SCOPE] += 1
                    stats[STAT_TOUCHES_OUT_OF_SCOPE] += k - s
                elif t[k] >= period_start:
                    stats[STAT_CONV_IN_PERIOD] += 1
                    if s == k:
                        out_codes[nc] = direct_code
                        if keep_ages:
                            out_ages[nc] = 0.0
                        nc += 1
                        stats[STAT_DIRECT] += 1
                    else:
                        for q in range(s, k):
                            out_codes[nc] = code[q]
                            if keep_ages:
                                out_ages[nc] = (t[k] - t[q]) * 1e-6
                            nc += 1
                    conv[nj] = 1.0
                    val[nj] = value[k]
                    nul[nj] = 0.0
                    if keep_source:
                        src[nj] = k if by_index else ident[k]
                    ends[nj] = nc
                    nj += 1
                else:
                    stats[STAT_CONV_BEFORE_PERIOD] += 1
                start = k + 1
            k += 1
        # k is the first event not taken (b, or the first at/after period_end); [start, k) are touches
        if start < k:
            last = t[k - 1]
            lo = last - lookback_us
            s = start
            while s < k and t[s] < lo:
                s += 1
            if last >= period_start:
                stats[STAT_TAILS] += 1
                stats[STAT_TAIL_TOUCHES_DROPPED] += s - start
                for q in range(s, k):
                    out_codes[nc] = code[q]
                    if keep_ages:
                        out_ages[nc] = (last - t[q]) * 1e-6
                    nc += 1
                conv[nj] = 0.0
                val[nj] = 0.0
                nul[nj] = 1.0
                if keep_source:
                    src[nj] = -1
                ends[nj] = nc
                nj += 1
            else:
                stats[STAT_TAILS_OUTSIDE_PERIOD] += 1
        i = b
    return nj, nc


@kernel("Tuple((int64[::1], int32[::1], float64[::1], float64[::1], float64[::1], float64[::1], int64[::1], "
        "int64[::1]))(boolean[::1], int64[::1], boolean[::1], int32[::1], float64[::1], boolean[::1], int64, int64, "
        "int64, int32, boolean, boolean)")
def _cut_journeys(new_user, t, is_conv, code, gmv, in_scope, lookback_us, period_start, period_end, direct_code,
                  keep_ages, keep_source):
    """Cut events sorted by (user, time, touch-before-conversion, input order) into journeys.

    A conversion closes the user's touches since the previous conversion that are at most
    ``lookback_us`` older than it (a touch exactly at the boundary counts); with none, the journey is
    ``direct_code``. Only conversions in [period_start, period_end) are emitted; earlier ones still
    close (reset) the journey. Events at or after period_end are ignored. A conversion of the period
    whose ``in_scope`` flag is false (outside the pilot countries; an empty ``in_scope`` means every
    conversion is in scope) closes its journey like any other but is not emitted. The touches after a
    user's last conversion form one non-converting journey, windowed by the lookback before its last
    touch, emitted when that last touch is in the period.
    Returns (offsets, codes, ages_seconds, conversions, value, nulls, source, stats); ages are filled
    only with ``keep_ages`` and ``source`` (the event index of each journey's conversion, -1 for a
    non-converting journey) only with ``keep_source`` (else both are empty). Buffers are sized by the
    most journeys there can be (one per conversion and one tail per user), not by the number of events.
    """
    n = t.shape[0]
    cap_j = 1
    for i in range(n):
        cap_j += np.int64(is_conv[i]) + np.int64(new_user[i])
    off = np.zeros(cap_j + 1, dtype=np.int64)
    out_codes = np.empty(n + 1, dtype=np.int32)
    out_ages = np.empty(n + 1 if keep_ages else 0, dtype=np.float64)
    conv = np.empty(cap_j, dtype=np.float64)  # _cut_users writes every field of the journeys it emits
    val = np.empty(cap_j, dtype=np.float64)
    nul = np.empty(cap_j, dtype=np.float64)
    src = np.empty(cap_j if keep_source else 0, dtype=np.int64)
    stats = np.zeros(N_STATS, dtype=np.int64)
    nj, nc = _cut_users(new_user, t, is_conv, code, gmv, in_scope, np.empty(0, dtype=np.int64), n, lookback_us,
                        period_start, period_end, direct_code, keep_ages, keep_source, out_codes, out_ages,
                        off[1:], conv, val, nul, src, stats, 0, 0)
    # views of the buffers, not copies: the journeys are merged into paths and dropped right after, and
    # copying ~20 bytes an event into fresh memory cost more than the few unused slots hold
    return (off[: nj + 1], out_codes[:nc], out_ages[: nc if keep_ages else 0], conv[:nj], val[:nj], nul[:nj],
            src[: nj if keep_source else 0], stats)

