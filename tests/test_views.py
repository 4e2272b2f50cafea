"""The first pass's user-id test read from Arrow's string views against Polars' own trimming."""
from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from shapley_attr.io.views import certainly_given

WHITE_SPACE = [chr(c) for c in (0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
                                0x2028, 0x2029, 0x202F, 0x205F, 0x3000)]
"""Unicode's White_Space characters: what Rust's ``char::is_whitespace`` (Polars' ``strip_chars``) trims."""
NEAR = ["a", "Z", "0", "-", "\x1f", "\x00", "\u180e", "\u200b", "\u3001", "ぁ", "ñ", "\u00a1", "\u2030", "😀"]
"""Characters next to white space in code point or in UTF-8 bytes, which are not white space."""

texts = st.one_of(st.none(), st.text(alphabet=st.sampled_from(WHITE_SPACE + NEAR), max_size=20), st.text(max_size=20))


def expected(value: str | None) -> bool:
    return value is not None and value != "" and value[0] not in WHITE_SPACE


def given_and_missing(series: pl.Series) -> tuple[list[bool], list[bool]]:
    """``certainly_given`` and its ``missing`` output (null or empty) as lists."""
    missing = np.ones(len(series), dtype=np.bool_) if len(series) % 2 else np.zeros(len(series), dtype=np.bool_)
    given_ = certainly_given(series, missing)  # missing starts all true or all false: every value written
    return given_.tolist(), missing.tolist()


def missing_of(values) -> list[bool]:
    return [v is None or v == "" for v in values]


@settings(max_examples=300, deadline=None)
@given(values=st.lists(texts, max_size=40), cut=st.integers(0, 40), start=st.integers(0, 5))
def test_certainly_given_reads_the_first_character(values, cut, start):
    """True exactly where the id is non-null and its first character is not white space; never True on
    an id that trimming leaves empty. Over several chunks and sliced chunks (an offset into the views)."""
    parts = [pl.Series(values[:cut], dtype=pl.Utf8), pl.Series(values[cut:], dtype=pl.Utf8)]
    series = pl.concat(parts, rechunk=False)
    got = certainly_given(series)
    assert got.dtype == np.bool_ and got.tolist() == [expected(v) for v in values]
    blank = (series.is_null() | (series.str.strip_chars() == "")).to_numpy()
    assert not (got & blank).any()
    sliced = series.slice(start)
    assert certainly_given(sliced).tolist() == [expected(v) for v in values[start:]]
    for column, raw in ((series, values), (sliced, values[start:])):  # null or empty: certainly blank
        assert given_and_missing(column) == ([expected(v) for v in raw], missing_of(raw))


def test_certainly_given_on_long_and_short_ids():
    """Inline (up to 12 bytes) and out-of-line views alike, nulls, and a column of another type's text."""
    values = ["u1", "", None, " u2", "a" * 40, "\u3000" + "b" * 30, "\u00a0", "ñ" * 10, "\t", "x"]
    assert certainly_given(pl.Series(values)).tolist() == [True, False, False, False, True, False, False, True,
                                                            False, True]
    assert certainly_given(pl.Series([1, 22, None]).cast(pl.Utf8)).tolist() == [True, True, False]
    assert certainly_given(pl.Series([], dtype=pl.Utf8)).tolist() == []
    assert given_and_missing(pl.Series(values))[1] == missing_of(values)
    assert given_and_missing(pl.Series([], dtype=pl.Utf8)) == ([], [])


def test_certainly_given_without_views(monkeypatch):
    """A column Polars would not export as views gets Polars' own rule: given where trimming leaves text."""
    from shapley_attr.io import views

    monkeypatch.setattr(views, "_from_views", lambda part, out, missing=None: False)
    values = ["u1", "", None, " u2", "\u3000", "a" * 40]
    assert certainly_given(pl.Series(values)).tolist() == [True, False, False, True, False, True]
    assert given_and_missing(pl.Series(values))[1] == missing_of(values)


def test_certainly_given_without_the_export(monkeypatch):
    """A Polars without the C data interface export (or one that exports text otherwise) gets the same
    answers, from Polars' own rule."""
    monkeypatch.delattr(pl.Series, "_export_arrow_to_c")
    values = ["u1", "", None, " u2", "\u3000", "a" * 40]
    assert certainly_given(pl.Series(values)).tolist() == [True, False, False, True, False, True]
    assert given_and_missing(pl.Series(values))[1] == missing_of(values)


def test_certainly_given_when_the_export_fails(monkeypatch):
    """An export that raises (a private method of Polars) falls back to Polars' own rule too."""
    def broken(self, array, schema):
        raise RuntimeError("no export")

    monkeypatch.setattr(pl.Series, "_export_arrow_to_c", broken)
    assert certainly_given(pl.Series(["u1", " ", None])).tolist() == [True, False, False]
    assert given_and_missing(pl.Series(["u1", " ", None, ""])) == ([True, False, False, False],
                                                                  [False, False, True, True])


# --- the first pass's label ids (views.LabelIds, kernels.labels) --------------------------------------

labels = st.one_of(st.none(), st.sampled_from(["", "email", " email", "email ", "paid_search", "organic_search",
                                               "partner:KW-0003", "partner:KW-0004", "x" * 12, "x" * 13, "x" * 16,
                                               "x" * 17, "x" * 24, "x" * 25, "é" * 6, "é" * 7, "😀" * 5]),
                   st.text(max_size=40))


def reference_ids(batches: list[list[str | None]]) -> tuple[list[list[int]], list[str]]:
    """Ids by a Python dict: 0 for a null, else 1 + the value's index in order of first appearance."""
    seen: dict[str, int] = {}
    out = []
    for values in batches:
        out.append([0 if v is None else seen.setdefault(v, len(seen)) + 1 for v in values])
    return out, list(seen)


def label_ids_of(batches, chunks_at=None) -> tuple[list[list[int]], list[str]]:
    from shapley_attr.io.views import LabelIds

    ids = LabelIds()
    out = []
    for values in batches:
        cut = len(values) // 2 if chunks_at is None else min(chunks_at, len(values))
        series = pl.concat([pl.Series(values[:cut], dtype=pl.Utf8), pl.Series(values[cut:], dtype=pl.Utf8)],
                           rechunk=False)
        got = np.full(len(values), -7, dtype=np.int32)
        ids.ids(series, got)
        out.append(got.tolist())
    return out, ids.texts()


@settings(max_examples=300, deadline=None)
@given(batches=st.lists(st.lists(labels, max_size=60), max_size=4), cut=st.integers(0, 60))
def test_label_ids_match_a_dictionary_of_the_values(batches, cut):
    """Exact ids, whatever the values (inline and out-of-line views, multi-byte text, values that differ
    past their first 16 bytes or only in length or padding), the chunks and the batches; texts by id."""
    assert label_ids_of(batches, cut) == reference_ids(batches)


def test_label_ids_grow_past_the_first_table():
    """Thousands of distinct values (the table, its offsets and its words grown many times, the table
    rehashed): ids stay those of first appearance; values sharing their first 16 bytes stay apart."""
    values = [f"{'shared-prefix-16'}{i % 3001}" if i % 2 else f"l{i % 2999}" for i in range(20_000)]
    values[5] = None
    assert label_ids_of([values[:7000], values[7000:]]) == reference_ids([values[:7000], values[7000:]])


def test_label_ids_of_sliced_and_repeated_views():
    """A sliced column (an offset into the views) and runs of one value (the row-before shortcut, which
    a null between must not carry over)."""
    from shapley_attr.io.views import LabelIds

    values = ["a" * 20, "a" * 20, None, "a" * 20, "b", "b", "a" * 20, "c" * 30] * 5
    series = pl.Series(values).slice(3)
    got = np.zeros(len(series), dtype=np.int32)
    ids = LabelIds()
    ids.ids(series, got)
    (expected,), texts = reference_ids([values[3:]])
    assert got.tolist() == expected and ids.texts() == texts


def test_label_ids_without_views(monkeypatch):
    """A column Polars would not export as views: the same ids, through views made for its distinct
    values, batch after batch sharing one dictionary with exported ones."""
    from shapley_attr.io import views

    batches = [["b", None, "a" * 30, "b", ""], ["c", "a" * 30, None, "d" * 17]]
    expected = reference_ids(batches)
    real = views._exported
    calls = []

    def every_other(part):
        calls.append(1)
        return real(part) if len(calls) % 2 else _none()

    from contextlib import contextmanager

    @contextmanager
    def _none():
        yield None

    monkeypatch.setattr(views, "_exported", every_other)
    assert label_ids_of(batches, chunks_at=2) == expected
    monkeypatch.delattr(pl.Series, "_export_arrow_to_c")
    monkeypatch.setattr(views, "_exported", real)
    assert label_ids_of(batches, chunks_at=2) == expected


def test_label_ids_never_carry_a_view_over_to_other_bytes():
    """The kernel's view cache is for one call: the same views over other data (another chunk's
    buffers) are looked up by their bytes again."""
    from shapley_attr.io.views import LabelIds, made_views
    from shapley_attr.kernels.labels import PAD

    ids = LabelIds()
    views, data = made_views(["partner:AAAA-1", "partner:AAAA-2", "partner:AAAA-1"], PAD)
    views[2] = views[0]  # the same bytes of the buffer, as a Parquet column's repeated labels
    other = data.copy()
    other[:14] = np.frombuffer(b"partner:BBBB-1", dtype=np.uint8)
    first, second = np.zeros(3, dtype=np.int32), np.zeros(3, dtype=np.int32)
    no_nulls = np.empty(0, dtype=np.bool_)
    ids._lookup(views, data, np.zeros(1, dtype=np.int64), no_nulls, first)
    ids._lookup(views, other, np.zeros(1, dtype=np.int64), no_nulls, second)
    assert first.tolist() == [1, 2, 1] and second.tolist() == [3, 2, 3]
    assert ids.texts() == ["partner:AAAA-1", "partner:AAAA-2", "partner:BBBB-1"]
