"""Decimal money: minor units, rounding modes, largest remainder."""
from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shapley_attr.finance.money import (format_amount, largest_remainder, minor_units, quantize, to_decimal, to_minor)


@pytest.mark.parametrize("ccy,exp", [("EUR", 2), ("JPY", 0), ("KWD", 3), ("BHD", 3), ("CLF", 4), ("USD", 2)])
def test_minor_units(ccy, exp):
    assert minor_units(ccy) == exp


@pytest.mark.parametrize("amount,ccy,mode,expected", [
    ("2.345", "EUR", "half-even", "2.34"), ("2.345", "EUR", "half-up", "2.35"),
    ("2.355", "EUR", "half-even", "2.36"), ("2.5", "JPY", "half-even", "2"), ("3.5", "JPY", "half-even", "4"),
    ("2.5", "JPY", "half-up", "3"), ("1.2345", "KWD", "half-even", "1.234"), ("1.2345", "KWD", "half-up", "1.235"),
    ("-0.004", "EUR", "half-even", "0.00"),
])
def test_quantize_and_format(amount, ccy, mode, expected):
    assert format_amount(quantize(D(amount), ccy, mode), ccy) == expected


def test_float_enters_by_shortest_repr():
    assert to_decimal(0.1 + 0.2) == D("0.30000000000000004")
    assert to_decimal(12.34) == D("12.34")
    with pytest.raises(ValueError):
        to_decimal(float("nan"))


def test_largest_remainder_hand_case():
    # 10.00 EUR over weights 1:1:1 → 334, 333, 333 cents; the tie goes to the smallest key
    assert largest_remainder(1000, [D(1), D(1), D(1)], ["b", "a", "c"]) == [333, 334, 333]
    # quotas 3.5, 1.75, 1.75: floors 3, 1, 1; the two units left go to the largest remainders (.75, .75)
    assert largest_remainder(7, [D("0.5"), D("0.25"), D("0.25")], ["x", "y", "z"]) == [3, 2, 2]
    assert to_minor(D("12.345"), "KWD") == 12345


@settings(max_examples=300, deadline=None)
@given(total=st.integers(0, 10**12),
       weights=st.lists(st.decimals(min_value=0, max_value=10**9, places=6, allow_nan=False), min_size=1, max_size=30))
def test_largest_remainder_always_sums_exactly(total, weights):
    if sum(weights) <= 0:
        weights = weights + [D(1)]
    keys = [f"p{i:03d}" for i in range(len(weights))]
    parts = largest_remainder(total, weights, keys)
    assert sum(parts) == total
    assert all(p >= 0 for p in parts)
    wsum = sum(weights)
    for p, w in zip(parts, weights):  # each part within one unit of its exact quota
        assert abs(D(p) - D(total) * w / wsum) < 1 + D("1e-20")
