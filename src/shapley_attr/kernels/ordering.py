"""Ordering events by user and time: a parallel bucket-then-radix sort on the user hash that carries the rows."""
from __future__ import annotations

import numpy as np

from ._jit import kernel, numba, types
from .cut import N_STATS, _cut_users
from .sequences import _content_key, _sequence_hash


def _ro(dtype):
    """A read-only contiguous 1-D array type: Polars hands columns over as read-only views, and a
    writable array converts to it too, so one compiled version serves both (loaded at import)."""
    return types.Array(dtype, 1, "C", readonly=True)


def _out(dtype):
    return types.Array(dtype, 1, "C")


_RECORDS = types.Array(types.uint64, 2, "C")

_COUNT_SIGNATURES = [types.Tuple((types.Array(types.int64, 2, "C"), _out(types.int64)))(
    _ro(types.uint64), _ro(types.boolean))]

_SCATTER_SIGNATURES = [types.int64(
    _ro(types.uint64), _ro(types.uint64), _ro(types.int64), _ro(types.boolean), _ro(types.int32), _ro(types.int32),
    types.Array(types.int64, 2, "C"), types.int64, _ro(types.int64), _RECORDS)]

_ORDER_SIGNATURES = [types.Tuple((_out(types.boolean), types.boolean, _out(types.int64), _out(types.boolean),
                                   _out(types.int32), _out(types.float64)))(
    _RECORDS, _ro(types.int64), _ro(types.float64), _out(types.int32))]

_F64, _I64 = _out(types.float64), _out(types.int64)
_FLAGS = _out(types.boolean)
_JOURNEY_SIGNATURES = [types.Tuple((types.boolean, types.int64,
                                    types.Tuple((_I64, _out(types.int32), _F64, _FLAGS, _F64, _FLAGS, _I64)), _I64))(
    _RECORDS, _ro(types.int64), _ro(types.float64), _ro(types.boolean), types.int64, types.int64, types.int64,
    types.int32, types.boolean, types.boolean)]

N_PARTS = 16
"""Fixed number of row ranges the parallel scatter splits the rows into. Results do not depend on it
(the scatter is stable and each bucket is sorted on its own), nor on the thread count."""

BUCKETS = 256
"""The scatter's buckets: the top 8 bits of the user hash (~40k rows each on 10M events)."""

DIGIT_BITS = 12
"""Each bucket's two radix passes read 12 bits each (bits 32..55 of the hash; the top 8 chose the
bucket)."""


def _user_time_order(h, h2, t, is_conv, code, remap, gmv, perm):
    """Fill ``perm`` (int32, length n) with the permutation ordering rows by ``h`` (a 64-bit hash of
    the user id), then time ``t`` with a touch before a conversion at the same instant (key
    ``2·t + is_conv``), then input order. Returns the flags of each user's first row (in that order),
    whether ``h2`` (an independent hash) ever disagrees within a run of equal ``h`` (a collision),
    and the rows' ``t, is_conv, remap[code] (-1 kept; -1 on conversions)`` and value in that order:
    a conversion's is ``gmv[j]`` for the j-th conversion in row order (``gmv`` holds one value a
    conversion), a touch's 0. :func:`_user_records` then :func:`_order_records` (a caller that owns
    the columns frees them in between: their values are in the records).
    """
    records, starts = _user_records(h, h2, t, is_conv, code, remap)
    return _order_records(records, starts, gmv, perm)


def _user_records(h, h2, t, is_conv, code, remap):
    """Every row as a 32-byte record ``h, h2, key, row << 32 | low`` (``key = 2·t + is_conv``, as int64
    bits; ``low`` a touch's ``remap[code] + 1``, 0 for a code of -1, and a conversion's ordinal among
    the conversions in row order, where its value is found), scattered into BUCKETS buckets by the top
    8 bits of ``h``, stable; and the buckets' starts (BUCKETS + 1). Every column the cut reads travels
    in the record: sorting then reads no row at random (random reads cost more than the sort itself).
    :func:`_records_of_chunks` with one chunk."""
    return _records_of_chunks([(h, h2, t, is_conv, code)], remap)


def _records_of_chunks(chunks: list, remap):
    """:func:`_user_records` of rows given in chunks (``(h, h2, t, is_conv, code)`` arrays of one
    length each, in row order): the chunks are counted, then scattered one after the other, and each
    entry of ``chunks`` is set to None once scattered, so that a caller holding no other reference
    frees the rows while the records fill (the two are never both whole in memory)."""
    counted = [_chunk_counts(c[0], c[3]) for c in chunks]
    sizes = [len(c[0]) for c in chunks]
    n = sum(sizes)
    if n >= 2**32:
        raise ValueError(f"{n} rows: the records hold a row number of 32 bits")
    counts = np.array([c for c, _ in counted], dtype=np.int64).reshape(len(chunks), N_PARTS, BUCKETS)
    # each bucket's slots: chunk after chunk, row range after row range (stable)
    per_bucket = counts.transpose(2, 0, 1).reshape(BUCKETS, -1)
    slots = (np.cumsum(per_bucket.ravel()) - per_bucket.ravel()).reshape(per_bucket.shape)
    slots = np.ascontiguousarray(slots.reshape(BUCKETS, len(chunks), N_PARTS).transpose(1, 2, 0))
    starts = np.append(slots[0, 0, :], n) if chunks else np.zeros(BUCKETS + 1, dtype=np.int64)
    conv = np.array([c for _, c in counted], dtype=np.int64).ravel()
    conv_base = (np.cumsum(conv) - conv).reshape(len(chunks), N_PARTS)
    rec = np.empty((n, 4), dtype=np.uint64)
    row = 0
    for k in range(len(chunks)):
        h, h2, t, is_conv, code = chunks[k]
        chunks[k] = None
        _scatter_chunk(h, h2, t, is_conv, code, remap, slots[k], np.int64(row), conv_base[k], rec)
        row += sizes[k]
        del h, h2, t, is_conv, code
    return rec, starts


@kernel(_COUNT_SIGNATURES, parallel=True)
def _chunk_counts(h, is_conv):
    """The rows of each bucket (the top 8 bits of ``h``) and the conversions in each of N_PARTS row
    ranges of a chunk: ((N_PARTS, BUCKETS) counts, (N_PARTS,) conversions)."""
    n = h.shape[0]
    counts = np.zeros((N_PARTS, BUCKETS), dtype=np.int64)
    conv_count = np.zeros(N_PARTS, dtype=np.int64)
    for c in numba.prange(N_PARTS):
        n_conv = 0
        for i in range(n * c // N_PARTS, n * (c + 1) // N_PARTS):
            counts[c, np.int64(h[i] >> np.uint64(56))] += 1
            n_conv += np.int64(is_conv[i])
        conv_count[c] = n_conv
    return counts, conv_count


@kernel(_SCATTER_SIGNATURES, parallel=True)
def _scatter_chunk(h, h2, t, is_conv, code, remap, slots, row0, conv_base, rec):
    """Write a chunk's rows as records at their slots (``slots[c, d]``: the next slot of row range
    ``c`` in bucket ``d``, advanced; ``row0``: the chunk's first row; ``conv_base[c]``: the
    conversions before row range ``c``), the N_PARTS row ranges in parallel."""
    n = h.shape[0]
    for c in numba.prange(N_PARTS):
        ordinal = conv_base[c]
        for i in range(n * c // N_PARTS, n * (c + 1) // N_PARTS):
            hv = h[i]
            d = np.int64(hv >> np.uint64(56))
            q = slots[c, d]
            slots[c, d] = q + 1
            rec[q, 0] = hv
            rec[q, 1] = h2[i]
            rec[q, 2] = np.uint64(t[i] * 2 + np.int64(is_conv[i]))
            if is_conv[i]:
                low = ordinal
                ordinal += 1
            else:
                kc = code[i]
                low = np.int64(remap[kc]) + 1 if kc >= 0 else np.int64(0)
            rec[q, 3] = (np.uint64(row0 + i) << np.uint64(32)) | np.uint64(low)
    return 0


@kernel()
def _sort_bucket(rec, s, e):
    """Sort the records ``rec[s:e]`` of one bucket in place: two stable radix passes on bits 32..55
    of ``h``; the rare runs whose high 32 bits tie with different full hashes put in ``h`` order;
    each user's rows put in key order when they are not already (stable). 32 bytes of scratch a row.
    Returns whether ``h2`` disagrees within a run of equal ``h`` (a collision). A helper compiled
    into its callers."""
    m = e - s
    collided = False
    if m == 0:
        return collided
    mask = np.uint64((1 << DIGIT_BITS) - 1)
    if m > 1:
        scratch = np.empty((m, 4), dtype=np.uint64)
        cnt = np.empty(1 << DIGIT_BITS, dtype=np.int64)
        for p in range(2):
            sh = np.uint64(32 + DIGIT_BITS * p)
            src = rec[s:e] if p == 0 else scratch
            dst = scratch if p == 0 else rec[s:e]
            cnt[:] = 0
            for q in range(m):
                cnt[np.int64((src[q, 0] >> sh) & mask)] += 1
            tot = 0
            for b in range(1 << DIGIT_BITS):
                k = cnt[b]
                cnt[b] = tot
                tot += k
            for q in range(m):
                b = np.int64((src[q, 0] >> sh) & mask)
                r = cnt[b]
                cnt[b] = r + 1
                dst[r, 0] = src[q, 0]
                dst[r, 1] = src[q, 1]
                dst[r, 2] = src[q, 2]
                dst[r, 3] = src[q, 3]
        # runs of equal high 32 bits with different full hashes: stable by the whole hash
        i = s
        while i < e:
            hi = rec[i, 0] >> np.uint64(32)
            j = i + 1
            mixed = False
            while j < e and (rec[j, 0] >> np.uint64(32)) == hi:
                if rec[j, 0] != rec[i, 0]:
                    mixed = True
                j += 1
            if mixed:
                lo = np.empty(j - i, dtype=np.uint64)
                for q in range(j - i):
                    lo[q] = rec[i + q, 0]
                o = np.argsort(lo, kind="mergesort")
                seg = rec[i:j].copy()
                for q in range(j - i):
                    rec[i + q, :] = seg[o[q], :]
            i = j
    # users: order by key (touch before conversion at the same instant), stable
    a = s
    while a < e:
        ha = rec[a, 0]
        first2 = rec[a, 1]
        prev = np.int64(rec[a, 2])
        ordered = True
        b = a + 1
        while b < e and rec[b, 0] == ha:
            if rec[b, 1] != first2:
                collided = True
            kb = np.int64(rec[b, 2])
            if kb < prev:
                ordered = False
            prev = kb
            b += 1
        if not ordered and b - a <= 32:  # insertion sort, stable
            for q in range(a + 1, b):
                w0, w1, w2, w3 = rec[q, 0], rec[q, 1], rec[q, 2], rec[q, 3]
                kv = np.int64(w2)
                u = q - 1
                while u >= a and np.int64(rec[u, 2]) > kv:
                    rec[u + 1, 0], rec[u + 1, 1], rec[u + 1, 2], rec[u + 1, 3] = (
                        rec[u, 0], rec[u, 1], rec[u, 2], rec[u, 3])
                    u -= 1
                rec[u + 1, 0], rec[u + 1, 1], rec[u + 1, 2], rec[u + 1, 3] = w0, w1, w2, w3
        elif not ordered:
            ks = np.empty(b - a, dtype=np.int64)
            for q in range(b - a):
                ks[q] = np.int64(rec[a + q, 2])
            o = np.argsort(ks, kind="mergesort")
            seg = rec[a:b].copy()
            for q in range(b - a):
                rec[a + q, :] = seg[o[q], :]
        a = b
    return collided


@kernel()
def _decode_rows(rec, s, e, gmv, in_scope, new_user, t, is_conv, code, value, scope, ident):
    """Write the sorted rows ``rec[s:e]`` as the cut reads them, from index 0 of the outputs:
    ``new_user, t, is_conv, code (-1 on conversions), value (a conversion's gmv by its ordinal; 0 on
    touches)``, and where given (not empty) ``scope`` (a conversion's ``in_scope`` by its ordinal;
    true on touches) and ``ident`` (a conversion's ordinal, -1 on touches). The one reading of a
    record's fields, for both order kernels."""
    scoped = scope.shape[0] > 0
    with_ident = ident.shape[0] > 0
    for q in range(e - s):
        r = s + q
        new_user[q] = q == 0 or rec[r, 0] != rec[r - 1, 0]
        key = np.int64(rec[r, 2])
        low = np.int64(rec[r, 3] & np.uint64(0xFFFFFFFF))
        t[q] = key >> 1
        is_conv[q] = (key & 1) == 1
        if is_conv[q]:
            code[q] = -1
            value[q] = gmv[low]
        else:
            code[q] = np.int32(low - 1)
            value[q] = 0.0
        if with_ident:
            ident[q] = low if is_conv[q] else -1
        if scoped:
            scope[q] = in_scope[low] if is_conv[q] else True


@kernel()
def _bucket_rows(rec, s, e, gmv, in_scope):
    """:func:`_decode_rows` into arrays of their own (scope empty when ``in_scope`` is)."""
    m = e - s
    new_user = np.empty(m, dtype=np.bool_)
    t = np.empty(m, dtype=np.int64)
    is_conv = np.empty(m, dtype=np.bool_)
    code = np.empty(m, dtype=np.int32)
    value = np.empty(m, dtype=np.float64)
    scope = np.empty(m if in_scope.shape[0] > 0 else 0, dtype=np.bool_)
    ident = np.empty(m, dtype=np.int64)
    _decode_rows(rec, s, e, gmv, in_scope, new_user, t, is_conv, code, value, scope, ident)
    return new_user, t, is_conv, code, value, scope, ident


@kernel(_ORDER_SIGNATURES, parallel=True)
def _order_records(rec, starts, gmv, perm):
    """Sort the records of :func:`_user_records` in place, bucket by bucket (:func:`_sort_bucket`;
    each bucket is small enough for the cache on 10M events, buckets in parallel) and write the
    order's outputs (see :func:`_user_time_order`; ``perm``, int32, is filled)."""
    n = rec.shape[0]
    new_user = np.zeros(n, dtype=np.bool_)
    collided = np.zeros(BUCKETS, dtype=np.bool_)
    t_out = np.empty(n, dtype=np.int64)
    c_out = np.empty(n, dtype=np.bool_)
    k_out = np.empty(n, dtype=np.int32)
    g_out = np.empty(n, dtype=np.float64)
    no_scope = np.empty(0, dtype=np.bool_)
    no_ident = np.empty(0, dtype=np.int64)
    for d in numba.prange(BUCKETS):
        s = starts[d]
        e = starts[d + 1]
        collided[d] = _sort_bucket(rec, s, e)
        _decode_rows(rec, s, e, gmv, no_scope, new_user[s:e], t_out[s:e], c_out[s:e], k_out[s:e], g_out[s:e],
                     no_scope, no_ident)
        for q in range(s, e):
            perm[q] = np.int32(rec[q, 3] >> np.uint64(32))
    return new_user, collided.any(), t_out, c_out, k_out, g_out


@kernel(_JOURNEY_SIGNATURES, parallel=True)
def _sorted_journeys(rec, starts, gmv, in_scope, lookback_us, period_start, period_end, direct_code, keep_ages,
                     keep_source):
    """Sort the records of :func:`_user_records` bucket by bucket (:func:`_sort_bucket`) and cut each
    bucket's users into journeys with the rules of ``kernels.cut._cut_journeys`` (``_cut_users``):
    no column as long as the events is written, only the journeys. ``gmv`` and ``in_scope`` hold one
    entry a conversion (row order; ``in_scope`` empty: all in scope), found by the ordinal in the
    record; ``src`` is each converting journey's conversion ordinal (with ``keep_source``).

    The buckets in parallel: each is sorted and cut while its rows are in the cache, its journeys and
    codes written from its first row's index on (a bucket has no more journeys, nor codes, than rows:
    each journey holds a conversion or a touch of its own, each code a touch or a conversion of its
    own); then the buckets' journeys and codes are moved down to their places, in bucket order (the
    order of the whole sort followed by the whole cut). Only the slots written are ever touched, so
    the buffers cost about the memory of the journeys, as long as the events' though they are; the
    pages written above the table's final end stay with them until the caller drops the table (~60
    MiB at 10.7M events, where the journeys take ~140 MB). The conversion and null flags are a byte
    each (bool), as cut: float64 buffers as long as the events were new memory where the byte ones fit
    in the heap room the validation's order columns left (10.7M events: peak RSS 962 -> 906 MiB; 53.4M:
    3,930 -> 3,578 MiB), and widening them to float64 at the end (16 bytes a journey of fresh pages,
    ~285 MB at 53.4M events) is left to the callers that need it (``journeys._merged_journeys``
    reads the flags). Returns (collided, users, (offsets, codes, ages, conversions, value, nulls, src),
    stats), the conversions and nulls as bool flags; after a collision nothing is cut (the caller
    orders by the ids)."""
    n = rec.shape[0]
    collided = np.zeros(BUCKETS, dtype=np.bool_)
    users = np.zeros(BUCKETS, dtype=np.int64)
    at = np.zeros((BUCKETS + 1, 2), dtype=np.int64)  # each bucket's first journey and code in the table
    stats = np.zeros((BUCKETS, N_STATS), dtype=np.int64)
    off = np.empty(n + 1, dtype=np.int64)
    codes = np.empty(n, dtype=np.int32)
    ages = np.empty(n if keep_ages else 0, dtype=np.float64)
    conv = np.empty(n, dtype=np.bool_)  # 0/1 flags: a byte each while the buckets are cut (see below)
    val = np.empty(n, dtype=np.float64)
    nul = np.empty(n, dtype=np.bool_)
    src = np.empty(n if keep_source else 0, dtype=np.int64)
    ends = off[1:]
    for d in numba.prange(BUCKETS):
        s = starts[d]
        e = starts[d + 1]
        collided[d] = _sort_bucket(rec, s, e)
        if e > s and not collided[d]:
            new_user, t, is_conv, code, value, scope, ident = _bucket_rows(rec, s, e, gmv, in_scope)
            users[d] = new_user.sum()
            nj, nc = _cut_users(new_user, t, is_conv, code, value, scope, ident, e - s, lookback_us, period_start,
                                period_end, direct_code, keep_ages, keep_source, codes, ages, ends, conv, val,
                                nul, src, stats[d], s, s)
            at[d + 1, 0] = nj - s
            at[d + 1, 1] = nc - s
    for d2 in range(BUCKETS):
        at[d2 + 1, 0] += at[d2, 0]
        at[d2 + 1, 1] += at[d2, 1]
    total = np.zeros(N_STATS, dtype=np.int64)
    for d3 in range(BUCKETS):
        total += stats[d3]
    failed = collided.any()
    off[0] = 0
    for d4 in range(0 if failed else BUCKETS):  # down to their places: never above where they were written
        s = starts[d4]
        j0 = at[d4, 0]
        c0 = at[d4, 1]
        shift = s - c0
        for q in range(at[d4 + 1, 0] - j0):
            ends[j0 + q] = ends[s + q] - shift
            conv[j0 + q] = conv[s + q]
            val[j0 + q] = val[s + q]
            nul[j0 + q] = nul[s + q]
            if keep_source:
                src[j0 + q] = src[s + q]
        for q in range(at[d4 + 1, 1] - c0):
            codes[c0 + q] = codes[s + q]
            if keep_ages:
                ages[c0 + q] = ages[s + q]
    n_j = at[BUCKETS, 0] if not failed else 0
    n_c = at[BUCKETS, 1] if not failed else 0
    return failed, users.sum(), (off[:n_j + 1], codes[:n_c], ages[:n_c if keep_ages else 0], conv[:n_j], val[:n_j],
                                 nul[:n_j], src[:n_j if keep_source else 0]), total


CONTENT_HASHED = np.uint64(1 << 63)
"""The top bit of a sequence's content word (:func:`_keys_and_contents`): set when the word is a hash,
clear when it holds the codes themselves."""


@kernel("Tuple((uint64[::1], uint64[::1]))(int64[::1], int32[::1], int64)", parallel=True)
def _keys_and_contents(offsets, codes, bits):
    """Every sequence's content key (``sequences._sequence_keys``) and a second word that tells
    sequences of one key apart: the codes themselves, ``code + 1`` in ``bits`` bits each, the first
    lowest, where they fit in 63 bits and every code is in range (0 to ``2^bits - 2``: a word
    ends at its first empty slot), else an independent 63-bit hash (``sequences._sequence_hash``) with
    CONTENT_HASHED set. Equal sequences have equal words; two distinct ones share key and word with
    chance 0 when packed, ~2^-127 when hashed. N_PARTS row ranges in parallel."""
    n = offsets.shape[0] - 1
    keys = np.empty(n, dtype=np.uint64)
    contents = np.empty(n, dtype=np.uint64)
    fits = 63 // bits
    top = 1 << bits
    for c in numba.prange(N_PARTS):
        for p in range(n * c // N_PARTS, n * (c + 1) // N_PARTS):
            a = offsets[p]
            b = offsets[p + 1]
            keys[p] = _content_key(codes, a, b)
            word = np.uint64(0)
            packed = b - a <= fits
            if packed:
                for q in range(a, b):
                    v = np.int64(codes[q]) + 1
                    if v < 1 or v >= top:
                        packed = False
                        break
                    word |= np.uint64(v) << np.uint64(bits * (q - a))
            if not packed:
                word = _sequence_hash(codes, a, b) | CONTENT_HASHED
            contents[p] = word
    return keys, contents


@kernel("Tuple((int64[::1], int32[::1]))(uint64[::1], int64[::1], int32[::1], int64[::1], int64)", parallel=True)
def _run_sequences(contents, offsets, codes, rows, bits):
    """The sequences of the runs' first journeys as a CSR table: unpacked from their content words
    (:func:`_keys_and_contents`) where those hold the codes, so that no journey is read at random,
    else copied from the journeys' table (``offsets, codes``) at ``rows``. N_PARTS ranges of runs in
    parallel."""
    m = rows.shape[0]
    mask = np.uint64((1 << bits) - 1)
    off = np.zeros(m + 1, dtype=np.int64)
    for c in numba.prange(N_PARTS):
        for i in range(m * c // N_PARTS, m * (c + 1) // N_PARTS):
            word = contents[i]
            length = 0
            if word & CONTENT_HASHED:
                length = offsets[rows[i] + 1] - offsets[rows[i]]
            else:
                while word:
                    length += 1
                    word >>= np.uint64(bits)
            off[i + 1] = length
    for j in range(m):
        off[j + 1] += off[j]
    out = np.empty(off[m], dtype=np.int32)
    for c2 in numba.prange(N_PARTS):
        for i2 in range(m * c2 // N_PARTS, m * (c2 + 1) // N_PARTS):
            word2 = contents[i2]
            q = off[i2]
            if word2 & CONTENT_HASHED:
                a = offsets[rows[i2]]
                for k in range(off[i2 + 1] - q):
                    out[q + k] = codes[a + k]
            else:
                while word2:
                    out[q] = np.int32(word2 & mask) - 1
                    word2 >>= np.uint64(bits)
                    q += 1
    return off, out


@kernel("Tuple((int64[::1], float64[::1], float64[::1], float64[::1], int64[::1], float64[::1]))"
        "(boolean[::1], boolean[::1], int32[::1], float64[::1], boolean)")
def _run_sums(run_start, converting, null, value, keep_values):
    """Runs of journeys sorted by content (``run_start`` flags the first of each), summed in one pass:
    each run's first journey, its converting journeys, its value (the exact sum of its journeys'
    ``rint(value · 1e6)`` millionths, as a float of units), its null journeys (``null == 1``; a
    converting journey is never one), and with ``keep_values`` the offsets of each run's converting
    journeys' values and those values (``rint(value · 1e6) / 1e6``, in journey order). Here, not in
    ``sequences``, so that only the events path loads it (every kernel of a module loads with it)."""
    m = run_start.shape[0]
    runs = 0
    n_conv = 0
    for i in range(m):
        runs += np.int64(run_start[i])
        n_conv += np.int64(converting[i])
    at = np.empty(runs, dtype=np.int64)
    conversions = np.zeros(runs, dtype=np.float64)
    total = np.zeros(runs, dtype=np.float64)
    nulls = np.zeros(runs, dtype=np.float64)
    value_offsets = np.zeros(runs + 1 if keep_values else 0, dtype=np.int64)
    journey_values = np.empty(n_conv if keep_values else 0, dtype=np.float64)
    r = -1
    units = np.int64(0)
    k = 0
    for i in range(m):
        if run_start[i]:
            if r >= 0:
                total[r] = np.float64(units) / 1e6
            r += 1
            at[r] = i
            units = np.int64(0)
        if converting[i]:
            u = np.int64(np.rint(value[i] * 1e6))
            units += u
            conversions[r] += 1.0
            if keep_values:
                journey_values[k] = np.float64(u) / 1e6
                k += 1
        elif null[i] == 1:
            nulls[r] += 1.0
        if keep_values and (i + 1 == m or run_start[i + 1]):
            value_offsets[r + 1] = k
    if r >= 0:
        total[r] = np.float64(units) / 1e6
    return at, conversions, total, nulls, value_offsets, journey_values
