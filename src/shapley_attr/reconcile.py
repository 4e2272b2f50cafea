"""The reconciliation of a run (DATA.md, "Reconciliation"): nothing read is lost on the way.

Per currency (amounts of different currencies are never added), over every event row that is not a
touch: rows and GMV read = rejected + outside the run (before or after the period, outside the
pilot countries) + the run's conversions. Sums are exact decimals (Polars ``Decimal(38, 6)``), so the
identity holds to the last digit and does not depend on row order or partitioning. In the reporting
currency: the GMV of the run's conversions (converted) = the GMV attributed, `(direct)` included.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

RELATIVE_TOLERANCE = 1e-9
"""Float credits against the converted GMV of the run: MODELS.md's "sum to X" tolerance."""


@dataclass(frozen=True)
class CurrencyTotals:
    currency: str
    conversions_read: int
    gmv_read: Decimal
    conversions_rejected: int
    gmv_rejected: Decimal
    conversions_outside_run: int
    gmv_outside_run: Decimal
    conversions_in_run: int
    gmv_in_run: Decimal

    @property
    def balanced(self) -> bool:
        return (self.conversions_read == self.conversions_rejected + self.conversions_outside_run
                + self.conversions_in_run
                and self.gmv_read == self.gmv_rejected + self.gmv_outside_run + self.gmv_in_run)

    def as_dict(self) -> dict:
        c = self.currency
        return {"conversions_read": self.conversions_read, "gmv_read": _text(self.gmv_read, c),
                "conversions_rejected": self.conversions_rejected, "gmv_rejected": _text(self.gmv_rejected, c),
                "conversions_outside_run": self.conversions_outside_run,
                "gmv_outside_run": _text(self.gmv_outside_run, c),
                "conversions_in_run": self.conversions_in_run, "gmv_in_run": _text(self.gmv_in_run, c),
                "balanced": self.balanced}

    def line(self) -> str:
        state = "balanced" if self.balanced else "NOT BALANCED"
        c = self.currency
        return (f"{c}: GMV read {_text(self.gmv_read, c)} = rejected {_text(self.gmv_rejected, c)} + outside "
                f"the run {_text(self.gmv_outside_run, c)} + in the run {_text(self.gmv_in_run, c)} "
                f"({self.conversions_read} = {self.conversions_rejected} + {self.conversions_outside_run} + "
                f"{self.conversions_in_run} conversions): {state}")


def currency_totals(read: dict, rejected: dict, outside: dict, inside: dict) -> tuple[CurrencyTotals, ...]:
    """Per currency, the four sums (each a mapping currency -> (count, exact amount)) as records,
    sorted by currency; a currency missing from a mapping has nothing there."""
    zero = (0, Decimal(0))
    out = []
    for c in sorted(set(read) | set(rejected) | set(outside) | set(inside)):
        r, j, o, i = (d.get(c, zero) for d in (read, rejected, outside, inside))
        out.append(CurrencyTotals(c, r[0], Decimal(r[1]), j[0], Decimal(j[1]), o[0], Decimal(o[1]), i[0],
                                  Decimal(i[1])))
    return tuple(out)


@dataclass(frozen=True)
class Reconciliation:
    """Rows and GMV from the input to the credits. ``currency`` is the unit of the credits: the
    reporting currency when FX rates converted the GMV, else the input's one currency (None when the
    input names none, e.g. a paths file)."""

    source: str
    rows_read: int
    rows_rejected: int
    by_currency: tuple[CurrencyTotals, ...]
    currency: str | None
    gmv_in_run: float  # in ``currency``, (direct) included
    gmv_direct: float
    gmv_attributed: float | None = None  # set once the model ran

    @property
    def rows_accepted(self) -> int:
        return self.rows_read - self.rows_rejected

    @property
    def difference(self) -> float | None:
        return None if self.gmv_attributed is None else self.gmv_attributed - self.gmv_in_run

    @property
    def balanced(self) -> bool:
        rows_ok = self.rows_read >= self.rows_rejected >= 0
        credits_ok = self.gmv_attributed is None or abs(self.difference) <= RELATIVE_TOLERANCE * max(
            1.0, abs(self.gmv_in_run))
        return rows_ok and credits_ok and all(c.balanced for c in self.by_currency)

    def as_dict(self) -> dict:
        return {
            "rows": {"read": self.rows_read, "accepted": self.rows_accepted, "rejected": self.rows_rejected},
            "by_currency": {c.currency: c.as_dict() for c in self.by_currency},
            "reporting": {"currency": self.currency, "gmv_in_run": _text(_exact(self.gmv_in_run), self.currency),
                          "gmv_direct": _text(_exact(self.gmv_direct), self.currency),
                          "gmv_attributed": _float_text(self.gmv_attributed, self.currency),
                          "difference": _float_text(self.difference, self.currency),
                          "balanced": self.balanced},
        }

    def lines(self) -> list[str]:
        """The stderr summary: rows, each currency, then the credits against the run's GMV."""
        out = [f"{self.source}: rows read {self.rows_read} = accepted {self.rows_accepted} + rejected "
               f"{self.rows_rejected}"]
        out += ["  " + c.line() for c in self.by_currency]
        unit = f" {self.currency}" if self.currency else ""
        if self.gmv_attributed is not None:
            out.append(f"  credits: GMV attributed {self.gmv_attributed:.2f}{unit} = GMV of the run's conversions "
                       f"{self.gmv_in_run:.2f}{unit} (of which (direct) {self.gmv_direct:.2f}): "
                       + ("balanced" if self.balanced else "NOT BALANCED"))
        return out


def _exact(value: float) -> Decimal:
    """A sum of values in millionths (exact by construction) back as the Decimal it is."""
    return Decimal(round(value * 1_000_000)) / 1_000_000


def _float_text(value: float | None, currency: str | None) -> str | None:
    """A float sum of credits as decimal text to the millionth, half-even (no exponent: the credits'
    sum written as 12027.565707999998 and a difference as -1.8e-12 were floats in the manifest)."""
    if value is None:
        return None
    amount = Decimal(repr(value)).quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    return _text(amount + 0, currency)  # + 0: no negative zero


def _text(amount: Decimal, currency: str | None = None) -> str:
    """An exact sum as plain decimal text (no exponent): with the currency's minor digits when that is
    exact (``503.290`` KWD, ``244429`` JPY), else with the digits it needs (at most the 6 of the sums)."""
    from .finance.money import MINOR_UNITS

    digits = MINOR_UNITS.get(currency or "")
    text = f"{amount:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if digits is not None:
        needed = len(text.split(".")[1]) if "." in text else 0
        if needed <= digits:
            return f"{Decimal(text):.{digits}f}"
    return text or "0"
