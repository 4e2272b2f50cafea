"""The channel label's dictionary id of every row, read straight from a text column's Arrow string views.

The validation's first pass gives every row an id of its raw channel label (the dictionary is built
from the few distinct labels afterwards). A Polars ``Categorical`` cast did it: 10.7M events from
Parquet, ~0.2 s of the pass's wall time and ~0.4 s of CPU, a third of the pass's Polars work, where
reading the labels as text costs 0.05 s. This kernel keeps the labels seen so far in an
open-addressing table and looks each row up: exact (a label's bytes are compared, eight at a time;
no hash is trusted), ids in order of first appearance (so the same rows give the same ids, whatever
the batches). In front of the table, a small cache of the views seen in the call: an equal view is
the same text (inline) or the same bytes of the same buffer, which is how a Parquet column's labels
come (pointing into the page's dictionary): 2M such rows 0.045 -> 0.009 s. Labels read from CSV are
each a copy of their own and take the table's way (~23 ns a row; Polars' Categorical ~35).
"""
from __future__ import annotations

import numpy as np

from ._jit import kernel, types

_RO_U8 = types.Array(types.uint8, 1, "C", readonly=True)
_U64 = types.Array(types.uint64, 1, "C")
_I64 = types.Array(types.int64, 1, "C")
_SIGNATURE = [types.int64(types.Array(types.uint32, 2, "C", readonly=True), _RO_U8,
                          types.Array(types.int64, 1, "C", readonly=True), types.Array(types.bool_, 1, "C", readonly=True),
                          types.Array(types.int32, 1, "C"), types.Array(types.uint64, 2, "C"), _I64, _U64, _I64,
                          types.Array(types.int32, 1, "C"), types.int64)]
_REHASH_SIGNATURE = [types.int64(types.Array(types.uint64, 2, "C", readonly=True), types.int64,
                                 types.Array(types.int32, 1, "C"), types.Array(types.uint64, 2, "C"))]

INLINE = 12
"""Longest text an Arrow string view holds inline (its bytes 4..15); longer ones are in a data buffer."""
PAD = 16
"""Bytes readable past the end of the data the kernel is given (words are read eight bytes at a time)."""

VIEW_CACHE_BITS = 8
VIEW_CACHE = 1 << VIEW_CACHE_BITS
"""Views remembered with their ids in one call (a direct-mapped cache in front of the table)."""

_MUL = np.uint64(0x9E3779B97F4A7C15)
_MASKS = np.array([0] + [(1 << (8 * k)) - 1 for k in range(1, 8)] + [(1 << 64) - 1], dtype=np.uint64)
"""The bits of a word that hold its first k bytes (little-endian), k = 0..8."""


@kernel(inline=True)
def _word(src, at):
    """Eight bytes of ``src`` from ``at``, little-endian."""
    w = np.uint64(0)
    for k in range(8):
        w |= np.uint64(src[at + k]) << np.uint64(8 * k)
    return w


@kernel(inline=True)
def _mix(h, w):
    h = (h ^ w) * _MUL
    return h ^ (h >> np.uint64(29))


@kernel(inline=True)
def _head_hash(n_bytes, w0, w1):
    """Where a label goes in the table: its length and first 16 bytes (``w0, w1``, zero-padded) mixed."""
    return _mix(_mix(np.uint64(n_bytes) * _MUL, w0), w1)


@kernel(_SIGNATURE)
def label_ids(views, data, starts, valid, slots, heads, key_at, keys, state, out, start):
    """Each row's label id from ``start`` on, into ``out``: 0 for a null (``valid`` false; empty: no
    nulls), else 1 + the label's index in the table, a label not seen before added with the next
    index. Arrow string views: ``views`` four uint32 words a row (length, then the text inline when it
    is at most :data:`INLINE` bytes, else its first four bytes, buffer and offset); data buffer ``b``
    starts at ``starts[b]`` in ``data`` (which has :data:`PAD` readable bytes past its end).

    The table: ``slots`` (a power of two of them, -1 empty) hold label indices and ``heads`` beside
    them the label's length and first 16 bytes (two little-endian words, zero-padded), compared
    first; label ``j``'s bytes past its first 16 are ``keys[key_at[j]:key_at[j + 1]]`` (words, the
    last one zero-padded); ``state`` is (labels, words used). Returns the rows done: fewer than the
    rows when the table needs more room for a new label (the caller grows it and calls again from
    there)."""
    n = views.shape[0]
    mask = np.uint64(slots.shape[0] - 1)
    labels = state[0]
    used = state[1]
    checked = valid.shape[0] > 0
    # views seen in this call and their ids: an equal view is the same inline text, or the same bytes
    # of the same buffer of this column (a Parquet column's labels point into its dictionary)
    seen = np.zeros((VIEW_CACHE, 3), dtype=np.uint64)  # the view's two words, 1 + the id (0: empty)
    for i in range(start, n):
        if checked and not valid[i]:
            out[i] = 0
            continue
        v0 = np.uint64(views[i, 0]) | (np.uint64(views[i, 1]) << np.uint64(32))
        v1 = np.uint64(views[i, 2]) | (np.uint64(views[i, 3]) << np.uint64(32))
        c = np.int64(_mix(v0 * _MUL, v1) >> np.uint64(64 - VIEW_CACHE_BITS))
        if seen[c, 2] != 0 and seen[c, 0] == v0 and seen[c, 1] == v1:
            out[i] = np.int32(seen[c, 2] - np.uint64(1))
            continue
        n_bytes = np.int64(views[i, 0])
        at = np.int64(0)
        if n_bytes <= INLINE:
            w0 = (np.uint64(views[i, 1]) | (np.uint64(views[i, 2]) << np.uint64(32))) & _MASKS[min(n_bytes, 8)]
            w1 = np.uint64(views[i, 3]) & _MASKS[max(n_bytes - 8, 0)]
        else:
            at = starts[views[i, 2]] + np.int64(views[i, 3])
            w0 = _word(data, at)
            w1 = _word(data, at + 8) & _MASKS[min(n_bytes - 8, 8)]
        n_rest = (max(n_bytes - 16, 0) + 7) // 8  # words past the first 16 bytes
        slot = _head_hash(n_bytes, w0, w1) & mask
        while True:
            j = slots[slot]
            if j < 0:  # not seen: a new label
                if 2 * (labels + 1) > slots.shape[0] or used + n_rest > keys.shape[0] or labels + 2 > key_at.shape[0]:
                    state[0] = labels
                    state[1] = used
                    return i
                for q in range(n_rest):
                    keys[used + q] = _word(data, at + 16 + 8 * q) & _MASKS[min(n_bytes - 16 - 8 * q, 8)]
                used += n_rest
                key_at[labels + 1] = used
                slots[slot] = labels
                heads[slot, 0] = np.uint64(n_bytes)
                heads[slot, 1] = w0
                heads[slot, 2] = w1
                labels += 1
                out[i] = labels
                seen[c, 0] = v0
                seen[c, 1] = v1
                seen[c, 2] = np.uint64(labels) + np.uint64(1)
                break
            if heads[slot, 0] == np.uint64(n_bytes) and heads[slot, 1] == w0 and heads[slot, 2] == w1:
                same = True
                s = key_at[j]
                for q in range(n_rest):
                    if keys[s + q] != _word(data, at + 16 + 8 * q) & _MASKS[min(n_bytes - 16 - 8 * q, 8)]:
                        same = False
                        break
                if same:
                    out[i] = j + 1
                    seen[c, 0] = v0
                    seen[c, 1] = v1
                    seen[c, 2] = np.uint64(j + 2)
                    break
            slot = (slot + np.uint64(1)) & mask
    state[0] = labels
    state[1] = used
    return n


@kernel(_REHASH_SIGNATURE)
def rehash(by_label, labels, slots, heads):
    """Put the first ``labels`` labels into a new table (``slots`` all -1, a power of two of them, more
    than the labels; ``heads`` beside them), where :func:`label_ids` looks for them; ``by_label``:
    each label's head (length and first two words), by label index."""
    mask = np.uint64(slots.shape[0] - 1)
    for j in range(labels):
        slot = _head_hash(np.int64(by_label[j, 0]), by_label[j, 1], by_label[j, 2]) & mask
        while slots[slot] >= 0:
            slot = (slot + np.uint64(1)) & mask
        slots[slot] = j
        heads[slot, 0] = by_label[j, 0]
        heads[slot, 1] = by_label[j, 1]
        heads[slot, 2] = by_label[j, 2]
    return labels
