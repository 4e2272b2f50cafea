"""Which text values certainly hold something besides whitespace, read from Arrow's string views.

The validation's first pass has to know, for every row, whether the user id is given: a null, an
empty or an all-whitespace id is a bad row (the contract's check trims, with Rust's
``char::is_whitespace``, and rejects what is left empty). Trimming every id in Polars built a new
string column for the test alone (10.7M events: ~0.06 s of the pass's ~0.55 s, 0.13 s of CPU). A
Polars string column is a column of 16-byte views (Arrow's ``string_view``): the length, then the
first four bytes of the text (for any length). A non-empty text whose first character is not
whitespace is certainly not blank, and that is read off the view alone; every other value (null,
empty, or starting with a whitespace character: blank or not) is reported as *not certain*, and the
caller checks those rows whole with the contract's own rule. The views are read through Arrow's C
data interface (no copy, no pyarrow).
"""
from __future__ import annotations

import contextlib
import ctypes

import numpy as np
import polars as pl


class _ArrowSchema(ctypes.Structure):
    _fields_ = [("format", ctypes.c_char_p), ("name", ctypes.c_char_p), ("metadata", ctypes.c_char_p),
                ("flags", ctypes.c_int64), ("n_children", ctypes.c_int64), ("children", ctypes.c_void_p),
                ("dictionary", ctypes.c_void_p), ("release", ctypes.c_void_p), ("private_data", ctypes.c_void_p)]


class _ArrowArray(ctypes.Structure):
    _fields_ = [("length", ctypes.c_int64), ("null_count", ctypes.c_int64), ("offset", ctypes.c_int64),
                ("n_buffers", ctypes.c_int64), ("n_children", ctypes.c_int64),
                ("buffers", ctypes.POINTER(ctypes.c_void_p)), ("children", ctypes.c_void_p),
                ("dictionary", ctypes.c_void_p), ("release", ctypes.c_void_p), ("private_data", ctypes.c_void_p)]


_RELEASE = ctypes.CFUNCTYPE(None, ctypes.c_void_p)
_NATIVE_U4 = np.dtype(np.uint32).str  # the C data interface's buffers are in the machine's byte order
_NATIVE_I8 = np.dtype(np.int64).str


class _Borrowed:
    """An exported buffer at ``address`` as NumPy sees it, read-only (``shape`` values of ``typestr``).
    Through the array interface, not ``np.ctypeslib.as_array``: that makes a ctypes array type for
    every length and keeps it, small blocks left for the run's life among the batches' columns on the
    heap, which cut up the room those columns leave when freed (10.7M events: peak RSS 962 -> 1,043
    MiB, the journeys' buffers no longer fitting there)."""

    def __init__(self, address: int, shape: tuple, typestr: str):
        self.__array_interface__ = {"data": (address, True), "shape": shape, "typestr": typestr, "version": 3}


_WIDE_SPACES = np.array(sorted(int.from_bytes(chr(c).encode(), "little") for c in
                               (0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F,
                                0x3000)), dtype=np.uint32)
"""Unicode's White_Space characters beyond ASCII (what ``char::is_whitespace`` and so Polars'
``strip_chars`` trim), as their UTF-8 bytes read little-endian: compared with the view's first two
or three bytes, read the same way whatever the machine's byte order."""


def blank(text):
    """The contract's missing-text rule (a Polars expression or Series of text): null, or empty once
    trimmed. The validation's user-id check and this module's fallback both use it."""
    return text.is_null() | (text.str.strip_chars() == "")


def certainly_given(values: pl.Series, missing: np.ndarray | None = None) -> np.ndarray:
    """Per value of a text column, whether it is certainly not blank: read from the views, True where it
    is not null and its first character is not white space (so trimming leaves it non-empty), False
    where it is null, empty or starts with white space (blank or not: the caller's own check decides
    those rows); a chunk not exported as views gets Polars' trimming rule itself. ``missing``, when
    given, is written with whether each value is null or empty (certainly blank)."""
    out = np.empty(len(values), dtype=np.bool_)
    at = 0
    for part in values.get_chunks():
        k = len(part)
        _certain_chunk(part, out[at:at + k], None if missing is None else missing[at:at + k])
        at += k
    return out


def _certain_chunk(part: pl.Series, out: np.ndarray, missing: np.ndarray | None) -> None:
    """:func:`certainly_given` of a one-chunk column, written into ``out`` (and ``missing``)."""
    if len(part) and _from_views(part, out, missing):
        return
    # not exported as views (an empty chunk, another layout): Polars' own rule
    np.copyto(out, (~blank(part)).fill_null(False).to_numpy())
    if missing is not None:
        np.copyto(missing, part.str.len_bytes().fill_null(0).to_numpy() == 0)


@contextlib.contextmanager
def _exported(part: pl.Series):
    """``part`` (one chunk) exported through Arrow's C data interface while the block runs (the
    ``ArrowArray``), or None when Polars does not export it as ``string_view`` (or cannot export it at
    all). The exported array and schema are released when the block ends, however it ends."""
    array, schema = _ArrowArray(), _ArrowSchema()
    export = getattr(part, "_export_arrow_to_c", None)  # Polars' C data interface export
    try:
        if export is None:
            yield None
            return
        try:
            export(ctypes.addressof(array), ctypes.addressof(schema))
        except Exception:  # noqa: BLE001 - a private method: any failure means Polars' own rule
            yield None
            return
        if schema.format != b"vu" or array.n_buffers < 3 or array.length != len(part) or not array.buffers[1]:
            yield None
            return
        yield array
    finally:
        if array.release:
            _RELEASE(array.release)(ctypes.addressof(array))
        if schema.release:
            _RELEASE(schema.release)(ctypes.addressof(schema))


def _views_of(array) -> np.ndarray:
    """The exported array's views (uint32, four words a row), read in place."""
    n, offset = array.length, array.offset
    return np.asarray(_Borrowed(array.buffers[1], (offset + n, 4), _NATIVE_U4))[offset:]


def _from_views(part: pl.Series, out: np.ndarray, missing: np.ndarray | None = None) -> bool:
    """Write the test into ``out`` (and whether a value is null or empty into ``missing``) from the
    column's views, read in place while exported; False (nothing written) when Polars does not export
    it as ``string_view`` (or cannot export it at all)."""
    with _exported(part) as array:
        if array is None:
            return False
        views = _views_of(array)
        first = views.view(np.uint8)[:, 4]  # the text's first byte
        # byte tests rather than table look-ups, which widen the index bytes to intp first (16 MB a
        # million rows)
        blankish = (first - np.uint8(0x09)) <= np.uint8(0x0D - 0x09)  # tab .. carriage return
        blankish |= first == np.uint8(0x20)
        # the first bytes of the other White_Space characters' UTF-8 (_WIDE_SPACES): C2, E1, E2, E3
        wide = np.flatnonzero((first == np.uint8(0xC2)) | ((first - np.uint8(0xE1)) <= np.uint8(2)))
        if len(wide):  # rare in ids written in Latin script
            lead = views.view(np.uint8)[wide, 4:7].astype(np.uint32)  # the first three bytes
            two = lead[:, 0] | lead[:, 1] << np.uint32(8)
            three = two | lead[:, 2] << np.uint32(16)
            blankish[wide] = (np.isin(two, _WIDE_SPACES[_WIDE_SPACES <= 0xFFFF])
                              | np.isin(three, _WIDE_SPACES[_WIDE_SPACES > 0xFFFF]))
        empty = views[:, 0] == 0
        blankish |= empty
        np.logical_not(blankish, out=out)
        if missing is not None:
            np.copyto(missing, empty)
        nulls = array.null_count
    if nulls != 0:  # -1: not computed by the exporter
        given = part.is_not_null().to_numpy()
        out &= given
        if missing is not None:
            missing |= ~given
    return True


def read_times(values: pl.Series, out_t: np.ndarray, out_ok: np.ndarray, parse, scratch: np.ndarray | None = None
               ) -> np.ndarray:
    """The instants (UTC epoch microseconds) of a text column's ISO 8601 timestamps, read from its
    views by the compiled reader (``kernels.timeparse``: a strict subset of the layouts ``parse``
    reads, with ``parse``'s results) into ``out_t``, and in ``out_ok`` whether each row was read
    (False: a null, or a value outside the subset, which the caller parses with ``parse`` itself).
    ``parse``: a function of a text Series giving ``parse_time``'s Int64 instants, used for a chunk
    that is not exported as views (every row read by it, nulls left unread). ``scratch``: bytes to
    reuse for the texts (returned, grown when too small: give it back for the next batch)."""
    if scratch is None:
        scratch = np.empty(0, dtype=np.uint8)
    at = 0
    for part in values.get_chunks():
        k = len(part)
        if k:
            done, scratch = _times_from_views(part, out_t[at:at + k], out_ok[at:at + k], scratch)
            if not done:
                parsed = parse(part)
                np.copyto(out_ok[at:at + k], parsed.is_not_null().to_numpy())
                np.copyto(out_t[at:at + k], parsed.fill_null(0).to_numpy())
        at += k
    return scratch


def _data_buffers(array, scratch: np.ndarray, pad: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exported string array's data buffers copied one after the other into ``scratch`` (grown when
    too small), then ``pad`` zero bytes: ``(data, starts, scratch)``, buffer ``b`` at ``data[starts[b]:]``,
    as the view kernels read them."""
    n_data = array.n_buffers - 3  # validity, views, the data buffers, their sizes
    sizes = (np.asarray(_Borrowed(array.buffers[array.n_buffers - 1], (n_data,), _NATIVE_I8)).copy() if n_data > 0
             else np.zeros(0, dtype=np.int64))
    starts = np.zeros(max(n_data, 1), dtype=np.int64)
    if n_data > 1:
        np.cumsum(sizes[:-1], out=starts[1:])
    total = int(sizes.sum())
    if len(scratch) < total + pad:
        scratch = np.empty(max(total + pad, 2 * len(scratch)), dtype=np.uint8)
    for b in range(n_data):
        if sizes[b]:
            buffer = _Borrowed(array.buffers[2 + b], (int(sizes[b]),), "|u1")
            scratch[starts[b]:starts[b] + sizes[b]] = np.asarray(buffer)
    scratch[total:total + pad] = 0
    return scratch[:total + pad], starts, scratch


def _times_from_views(part: pl.Series, out_t: np.ndarray, out_ok: np.ndarray, scratch: np.ndarray
                      ) -> tuple[bool, np.ndarray]:
    """:func:`read_times` of a one-chunk column from its views; False (nothing written) when it is not
    exported as ``string_view``. The data buffers (Polars writes a column read from CSV in buffers of
    a few kB) are copied one after the other into ``scratch`` for the kernel (a timestamp's ~30
    bytes: ~60 MB for 2M rows, in memory reused batch after batch)."""
    from ..kernels.timeparse import parse_views

    with _exported(part) as array:
        if array is None:
            return False, scratch
        views = _views_of(array)
        data, starts, scratch = _data_buffers(array, scratch)
        parse_views(views, views.view(np.uint8).reshape(-1), data, starts, out_t, out_ok)
        nulls = array.null_count
    if nulls != 0:  # -1: not computed by the exporter; a null's view is undefined
        valid = part.is_not_null().to_numpy()
        out_ok &= valid
        out_t[~valid] = 0
    return True, scratch


class LabelIds:
    """Ids of a text column's values, batch after batch: 0 for a null, else 1 + the value's index among
    the distinct values in order of first appearance (exact: the bytes themselves are compared). Read
    from the column's views by ``kernels.labels``; a chunk not exported as views is looked up through
    views made here for its distinct values. :meth:`texts` gives the values by index."""

    def __init__(self) -> None:
        self._slots = np.full(64, -1, dtype=np.int32)
        self._heads = np.zeros((64, 3), dtype=np.uint64)  # beside each slot: length, first two words
        self._key_at = np.zeros(33, dtype=np.int64)
        self._keys = np.empty(64, dtype=np.uint64)  # the words past the first 16 bytes
        self._state = np.zeros(2, dtype=np.int64)  # labels, words used
        self._scratch = np.empty(0, dtype=np.uint8)

    def __len__(self) -> int:
        return int(self._state[0])

    def _by_label(self) -> np.ndarray:
        """Each label's head (length, first two words), by label index."""
        taken = self._slots >= 0
        by_label = np.empty((len(self), 3), dtype=np.uint64)
        by_label[self._slots[taken]] = self._heads[taken]
        return by_label

    def texts(self) -> list[str]:
        """The distinct values, by index (id - 1)."""
        keys, at = self._keys, self._key_at
        return [np.concatenate([head[1:], keys[at[j]:at[j + 1]]]).astype("<u8").tobytes()[:int(head[0])]
                .decode("utf-8") for j, head in enumerate(self._by_label())]

    def ids(self, values: pl.Series, out: np.ndarray) -> None:
        """Write the ids of ``values`` (text) into ``out`` (int32, as long)."""
        at = 0
        for part in values.get_chunks():
            k = len(part)
            if k:
                self._chunk(part, out[at:at + k])
            at += k

    def _chunk(self, part: pl.Series, out: np.ndarray) -> None:
        from ..kernels.labels import PAD

        with _exported(part) as array:
            if array is None:
                return self._by_value(part, out)
            views = _views_of(array)
            data, starts, self._scratch = _data_buffers(array, self._scratch, PAD)
            # a null's view is undefined: with nulls, the kernel skips them
            valid = part.is_not_null().to_numpy() if array.null_count != 0 else np.empty(0, dtype=np.bool_)
            self._lookup(views, data, starts, valid, out)

    def _lookup(self, views, data, starts, valid, out) -> None:
        from ..kernels.labels import label_ids

        done = 0
        while done < len(out):
            done = label_ids(views, data, starts, valid, self._slots, self._heads, self._key_at, self._keys,
                             self._state, out, done)
            if done < len(out):
                self._grow(int(views[done, 0]))

    def _grow(self, n_bytes: int) -> None:
        """Room for one more label of ``n_bytes`` bytes: the table, its offsets or its words doubled."""
        from ..kernels.labels import rehash

        labels, used = (int(x) for x in self._state)
        if len(self._key_at) < labels + 2:
            self._key_at = np.concatenate([self._key_at, np.zeros(len(self._key_at), dtype=np.int64)])
        words = (max(n_bytes - 16, 0) + 7) // 8
        if len(self._keys) < used + words:
            self._keys = np.concatenate([self._keys, np.empty(max(len(self._keys), words), dtype=np.uint64)])
        if len(self._slots) < 2 * (labels + 1):
            by_label = self._by_label()
            self._slots = np.full(2 * len(self._slots), -1, dtype=np.int32)
            self._heads = np.zeros((len(self._slots), 3), dtype=np.uint64)
            rehash(by_label, labels, self._slots, self._heads)

    def _by_value(self, part: pl.Series, out: np.ndarray) -> None:
        """A chunk that is not exported as views: its distinct values looked up through views made for
        them here (:func:`made_views`), then every row's id by value (nulls 0)."""
        from ..kernels.labels import PAD

        distinct = part.drop_nulls().unique(maintain_order=True)
        ids = np.zeros(len(distinct), dtype=np.int32)
        if len(distinct):
            views, data = made_views(distinct.to_list(), PAD)
            self._lookup(views, data, np.zeros(1, dtype=np.int64), np.empty(0, dtype=np.bool_), ids)
        np.copyto(out, part.replace_strict(distinct, pl.Series(ids, dtype=pl.Int32), default=0,
                                           return_dtype=pl.Int32).fill_null(0).to_numpy())


def made_views(texts: list[str], pad: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Arrow string views of ``texts`` made here (four uint32 words a row; one data buffer, returned
    with them and ``pad`` zero bytes after it, for the texts longer than 12 bytes): what the view
    kernels read, without Polars."""
    views = np.zeros((len(texts), 4), dtype=np.uint32)
    view_bytes = views.view(np.uint8).reshape(len(texts), 16)
    data = bytearray()
    for i, text in enumerate(texts):
        b = text.encode("utf-8")
        views[i, 0] = len(b)
        if len(b) <= 12:
            view_bytes[i, 4:4 + len(b)] = np.frombuffer(b, dtype=np.uint8)
        else:
            view_bytes[i, 4:8] = np.frombuffer(b[:4], dtype=np.uint8)
            views[i, 3] = len(data)
            data += b
    return views, np.frombuffer(bytes(data) + bytes(pad), dtype=np.uint8)
