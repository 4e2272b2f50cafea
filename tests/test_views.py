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


def test_certainly_given_on_long_and_short_ids():
    """Inline (up to 12 bytes) and out-of-line views alike, nulls, and a column of another type's text."""
    values = ["u1", "", None, " u2", "a" * 40, "\u3000" + "b" * 30, "\u00a0", "ñ" * 10, "\t", "x"]
    assert certainly_given(pl.Series(values)).tolist() == [True, False, False, False, True, False, False, True,
                                                            False, True]
    assert certainly_given(pl.Series([1, 22, None]).cast(pl.Utf8)).tolist() == [True, True, False]
    assert certainly_given(pl.Series([], dtype=pl.Utf8)).tolist() == []


def test_certainly_given_without_views(monkeypatch):
    """A column Polars would not export as views gets Polars' own rule: given where trimming leaves text."""
    from shapley_attr.io import views

    monkeypatch.setattr(views, "_from_views", lambda part, out: False)
    values = ["u1", "", None, " u2", "\u3000", "a" * 40]
    assert certainly_given(pl.Series(values)).tolist() == [True, False, False, True, False, True]


def test_certainly_given_without_the_export(monkeypatch):
    """A Polars without the C data interface export (or one that exports text otherwise) gets the same
    answers, from Polars' own rule."""
    monkeypatch.delattr(pl.Series, "_export_arrow_to_c")
    values = ["u1", "", None, " u2", "\u3000", "a" * 40]
    assert certainly_given(pl.Series(values)).tolist() == [True, False, False, True, False, True]


def test_certainly_given_when_the_export_fails(monkeypatch):
    """An export that raises (a private method of Polars) falls back to Polars' own rule too."""
    def broken(self, array, schema):
        raise RuntimeError("no export")

    monkeypatch.setattr(pl.Series, "_export_arrow_to_c", broken)
    assert certainly_given(pl.Series(["u1", " ", None])).tolist() == [True, False, False]
