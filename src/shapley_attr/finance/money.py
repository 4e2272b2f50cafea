"""Money: Decimal amounts, ISO 4217 minor units, rounding, and the largest-remainder split.

Nothing here imports from the rest of the package. Floats from attribution enter through
:func:`to_decimal` only (via ``repr``, the shortest string that round-trips, so a credit of
``12.34`` becomes ``Decimal("12.34")`` and not its binary expansion); every payable line is then
computed in Decimal and rounded once with :func:`quantize`.
"""
from __future__ import annotations

import decimal
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction

CONTEXT = decimal.Context(prec=34, rounding=ROUND_HALF_EVEN, traps=[decimal.InvalidOperation, decimal.DivisionByZero,
                                                                     decimal.Overflow])
ROUNDING = {"half-even": ROUND_HALF_EVEN, "half-up": ROUND_HALF_UP}

# ISO 4217 active codes and their minor units (exponent). Codes not listed have 2.
_ZERO = ("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF")
_THREE = ("BHD IQD JOD KWD LYD OMR TND")
_FOUR = ("CLF UYW")
_TWO = ("AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD "
        "CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD "
        "GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD "
        "MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD "
        "RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH "
        "USD USN UZS VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL")
MINOR_UNITS: dict[str, int] = {**{c: 2 for c in _TWO.split()}, **{c: 0 for c in _ZERO.split()},
                               **{c: 3 for c in _THREE.split()}, **{c: 4 for c in _FOUR.split()}}


def minor_units(currency: str) -> int:
    """ISO 4217 exponent of ``currency`` (EUR 2, JPY 0, KWD 3). KeyError for an unknown code."""
    return MINOR_UNITS[currency]


def is_currency(code: str) -> bool:
    return code in MINOR_UNITS


def to_decimal(x) -> Decimal:
    """A Decimal from a float (shortest round-trip repr), int, str or Decimal. NaN/inf are refused."""
    if isinstance(x, Decimal):
        d = x
    elif isinstance(x, float):
        d = Decimal(repr(x))
    else:
        d = Decimal(str(x).strip())
    if not d.is_finite():
        raise ValueError(f"not a finite amount: {x!r}")
    return d


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def quantize(amount: Decimal, currency: str, mode: str = "half-even") -> Decimal:
    """Round ``amount`` to the minor unit of ``currency`` with the contract's rounding mode."""
    return amount.quantize(quantum(currency), rounding=ROUNDING[mode], context=CONTEXT)


def to_minor(amount: Decimal, currency: str) -> int:
    """An amount already rounded to minor units, as an integer count of minor units."""
    scaled = amount.scaleb(minor_units(currency), context=CONTEXT)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} {currency} is not a whole number of minor units")
    return int(scaled)


def from_minor(units: int, currency: str) -> Decimal:
    return Decimal(units).scaleb(-minor_units(currency)).quantize(quantum(currency), context=CONTEXT)


def format_amount(amount: Decimal, currency: str) -> str:
    """Decimal text with exactly the currency's minor digits and a '.' separator (no exponent)."""
    q = amount.quantize(quantum(currency), context=CONTEXT)
    text = f"{q:f}"
    return "0" + text[2:] if text.startswith("-0") and q == 0 else text


def largest_remainder(total_units: int, weights: list[Decimal], keys: list[str]) -> list[int]:
    """Split ``total_units`` minor units in proportion to ``weights`` (Hamilton's method).

    Each share gets the floor of its exact quota; the units left over go one each to the largest
    remainders, ties broken by ``keys`` (ascending, e.g. partner_id). The result sums to
    ``total_units`` exactly. Weights must be >= 0 with a positive sum.
    """
    if total_units < 0:
        raise ValueError("total to split must be >= 0")
    if len(weights) != len(keys):
        raise ValueError("weights and keys differ in length")
    if any(w < 0 for w in weights):
        raise ValueError("weights must be >= 0")
    exact = [Fraction(w) for w in weights]  # Decimal -> Fraction is exact: no rounding anywhere
    wsum = sum(exact, Fraction(0))
    if wsum <= 0:
        raise ValueError("weights must have a positive sum")
    quotas = [total_units * w / wsum for w in exact]
    floors = [q.numerator // q.denominator for q in quotas]
    remainders = [q - f for q, f in zip(quotas, floors)]
    left = total_units - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], keys[i]))
    for i in order[:left]:
        floors[i] += 1
    return floors
