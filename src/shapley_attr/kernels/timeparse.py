"""ISO 8601 timestamps read straight from a text column's Arrow string views.

An export whose ``event_time`` is text (every CSV; a Parquet or Arrow file written with strings) was
parsed by :func:`io.events.parse_time`: Polars tries every accepted layout on every row and keeps the
first that parses (nine parsers; 10.7M events from CSV: 11.8 s of the first pass's wall time, 23 s of
CPU). This kernel reads the common layouts byte by byte in one pass and says for each row whether it
read it. It reads a strict subset of what ``parse_time`` accepts and gives, for every value it reads,
exactly ``parse_time``'s instant (tested against it value for value); any other value (another layout,
a leap second, a one-digit offset, a lower-case letter, text outside ASCII, ...) is left unread, and
the caller parses those rows with ``parse_time`` itself. The subset, after any ASCII white space
around the value (which parse_time trims: a CSV written with ", " between its fields)::

    YYYY-MM-DD                                   midnight UTC
    YYYY-MM-DD[T| ]hh:mm[:ss[.f]][zone]          f: 1 to 9 digits (microseconds kept, the rest cut)
    zone: Z | UTC | ±hh | ±hh:mm | ±hhmm, after any number of spaces (Postgres writes +00)
    -?[0-9]{9,}                                  epoch digits (GA4's event_timestamp as text), up to
                                                 int64; unit by magnitude, as parse_time

with a valid date (the proleptic Gregorian calendar, leap years included), hours 00-23, minutes and
seconds 00-59, offsets up to 23:59; no zone means UTC; the spaces before a zone are ASCII spaces.
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel, types

_RO_U8 = types.Array(types.uint8, 1, "C", readonly=True)
_SIGNATURE = [types.int64(types.Array(types.uint32, 2, "C", readonly=True), _RO_U8, _RO_U8,
                          types.Array(types.int64, 1, "C", readonly=True), types.Array(types.int64, 1, "C"),
                          types.Array(types.bool_, 1, "C"))]

INLINE = 12
"""Longest text an Arrow string view holds inline (its bytes 4..15); longer ones are in a data buffer."""
LONGEST = 64
"""Longest text read (a timestamp with nine fraction digits and a spaced UTC is ~40 bytes, then
white space around it)."""


@kernel(inline=True)
def _at(src, i):
    """``src[i]`` for ``i >= 0``: an unsigned index, which numba does not check for wrap-around (a
    signed one costs a compare and an add at each of a timestamp's ~30 byte reads)."""
    return src[np.uint64(i)]


@kernel(inline=True)
def _d2(src, at):
    """The two ASCII digits of ``src`` at ``at`` as a number, or -1 if one is not a digit."""
    a = np.int64(_at(src, at)) - 48
    b = np.int64(_at(src, at + 1)) - 48
    if a < 0 or a > 9 or b < 0 or b > 9:
        return np.int64(-1)
    return a * 10 + b


@kernel(inline=True)
def _days_from_civil(y, m, d):
    """Days from 1970-01-01 to the proleptic Gregorian date y-m-d (H. Hinnant's algorithm)."""
    y -= np.int64(m <= 2)
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@kernel(inline=True)
def _month_days(y, m):
    if m == 2:
        return np.int64(29) if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else np.int64(28)
    return np.int64(30) if m == 4 or m == 6 or m == 9 or m == 11 else np.int64(31)


@kernel(inline=True)
def _epoch_digits(src, base, n):
    """Epoch digits (``-?[0-9]{9,}``, at most 19 significant digits) as ``parse_time`` reads them: the
    number as float64 (correctly rounded, as Polars' text-to-float cast), in seconds below 1e11, ms
    below 1e14, µs below 1e17, else ns (the magnitude's rule), scaled to µs in float64 (ns times 1e-3)
    and rounded half to even. Returns (instant, whether read); not read when it is not digits or does not fit int64."""
    neg = _at(src, base) == 45
    at = base + 1 if neg else base
    end = base + n
    if end - at < 9:
        return np.int64(0), False
    v = np.int64(0)
    for q in range(at, end):
        d = np.int64(_at(src, q)) - 48
        if d < 0 or d > 9 or v > (np.int64(9223372036854775807) - d) // 10:
            return np.int64(0), False
        v = v * 10 + d
    x = np.float64(v)
    if neg:
        x = -x
    a = abs(x)
    if a < 1e11:
        us = x * 1e6
    elif a < 1e14:
        us = x * 1e3
    elif a < 1e17:
        us = x
    else:
        us = x * 1e-3  # as parse_time (io.events._epoch_us says why not x / 1e3)
    return np.int64(np.rint(us)), True


@kernel(inline=True)
def _blank(c):
    """Whether byte ``c`` is ASCII white space (tab to carriage return, space): all of Unicode's
    White_Space below 0x80, what Polars' ``strip_chars`` trims there."""
    return c == 32 or (9 <= c and c <= 13)


@kernel(inline=True)
def _parse_one(src, base, n):
    """The instant (UTC epoch microseconds) written by the ``n`` bytes of ``src`` from ``base``, and
    whether they are in the subset (the instant is 0 when not). ASCII white space around the value is
    skipped, as parse_time trims it."""
    while n > 0 and _blank(_at(src, base)):
        base += 1
        n -= 1
    while n > 0 and _blank(_at(src, base + n - 1)):
        n -= 1
    if n >= 9 and (_at(src, base) == 45 or _at(src, base + 4) != 45):  # '-' first, or no '-' after a year: digits
        return _epoch_digits(src, base, n)
    if n < 10 or _at(src, base + 4) != 45 or _at(src, base + 7) != 45:  # '-'
        return np.int64(0), False
    y1 = _d2(src, base)
    y2 = _d2(src, base + 2)
    mo = _d2(src, base + 5)
    d = _d2(src, base + 8)
    if y1 < 0 or y2 < 0 or mo < 1 or mo > 12 or d < 1:
        return np.int64(0), False
    y = y1 * 100 + y2
    if d > _month_days(y, mo):
        return np.int64(0), False
    days = _days_from_civil(y, mo, d)
    if n == 10:
        return days * np.int64(86_400_000_000), True
    sep = _at(src, base + 10)
    if (sep != 84 and sep != 32) or n < 16 or _at(src, base + 13) != 58:  # 'T', ' ', ':'
        return np.int64(0), False
    hh = _d2(src, base + 11)
    mi = _d2(src, base + 14)
    if hh < 0 or hh > 23 or mi < 0 or mi > 59:
        return np.int64(0), False
    end = base + n
    at = base + 16
    ss = np.int64(0)
    us = np.int64(0)
    if at < end and _at(src, at) == 58:  # ':' seconds
        if at + 3 > end:
            return np.int64(0), False
        ss = _d2(src, at + 1)
        if ss < 0 or ss > 59:
            return np.int64(0), False
        at += 3
        if at < end and _at(src, at) == 46:  # '.' fraction: 1 to 9 digits, microseconds kept
            at += 1
            k = 0
            while at + k < end and 48 <= _at(src, at + k) <= 57:
                if k < 6:
                    us = us * 10 + (np.int64(_at(src, at + k)) - 48)
                k += 1
            if k == 0 or k > 9:
                return np.int64(0), False
            for _ in range(k, 6):
                us *= 10
            at += k
    offset = np.int64(0)
    if at < end:  # a zone, after any number of spaces
        s = at
        while s < end and _at(src, s) == 32:
            s += 1
        c = _at(src, s) if s < end else np.uint8(0)
        rest = end - s - 1
        if rest == 2 and c == 85 and _at(src, s + 1) == 84 and _at(src, s + 2) == 67:  # 'UTC'
            pass
        elif rest == 0 and c == 90:  # 'Z'
            pass
        elif c == 43 or c == 45:  # '+' or '-': hh, hhmm or hh:mm
            if rest == 5 and _at(src, s + 3) == 58:
                om = _d2(src, s + 4)
            elif rest == 4:
                om = _d2(src, s + 3)
            elif rest == 2:
                om = np.int64(0)
            else:
                return np.int64(0), False
            oh = _d2(src, s + 1)
            if oh < 0 or oh > 23 or om < 0 or om > 59:
                return np.int64(0), False
            offset = (oh * 60 + om) * 60
            if c == 45:
                offset = -offset
        else:
            return np.int64(0), False
    elif at != end:
        return np.int64(0), False
    t = ((days * 24 + hh) * 60 + mi) * 60 + ss - offset
    return t * np.int64(1_000_000) + us, True


@kernel(_SIGNATURE)
def parse_views(views, view_bytes, data, starts, out_t, out_ok):
    """Parse each row's text (Arrow string views: ``views`` four uint32 words a row, ``view_bytes`` the
    same memory as bytes, 16 a row; a text longer than :data:`INLINE` bytes is at offset
    ``views[i, 3]`` of data buffer ``views[i, 2]``, which starts at ``starts[...]`` in ``data``, the
    buffers one after the other) into ``out_t`` (0 where not read) and ``out_ok``; returns the rows
    read."""
    n = views.shape[0]
    read = 0
    for i in range(n):
        k = np.int64(views[i, 0])
        t = np.int64(0)
        ok = False
        if 9 <= k <= LONGEST:
            if k <= INLINE:
                t, ok = _parse_one(view_bytes, i * 16 + 4, k)
            else:
                b = np.int64(views[i, 2])
                if b < starts.shape[0]:
                    at = starts[b] + np.int64(views[i, 3])
                    if 0 <= at and at + k <= data.shape[0]:
                        t, ok = _parse_one(data, at, k)
        out_t[i] = t
        out_ok[i] = ok
        read += ok
    return read
