"""Partner payouts (DATA.md, "Payout rules"): credits + contracts → payout lines, co-op, participation.

Every amount is Decimal. Attributed and referral GMV arrive as float64 credits in the reporting
currency, enter once through :func:`money.to_decimal`, are converted to the partner's currency with
the rate of the period's last day (partner amount = reporting amount / rate_to_reporting) and rounded
once to the currency's minor unit with the contract's mode. Each payable line is then computed from
the rounded figures printed beside it, so a reader can check it from the file alone:
``compensation = round(γ · attributed_gmv)``, ``referral_commission = round(β · referral_gmv)``,
``rebate = round(ρ · max(0, sales − sales_target))``. A negative attributed GMV (possible in the
subset-rate game) is printed as is and pays nothing. Co-op budgets are split in the budget's minor
units by largest remainder over the eligible partners in scope, weighted by their attributed GMV in
the reporting currency (floored at 0; ties by partner_id), so each budget's allocations sum to it
exactly; an allocation in another currency than the partner's is converted (budget → reporting →
partner, at the period's last-day rates) and rounded once. A budget with no eligible credit is
carried over, not spent.

Co-op across currencies (battery 4, F13). Rounding a converted allocation to the partner's minor unit
loses or creates a fraction of a minor unit, and an allocation worth less than half a minor unit of
the partner's currency rounds to nothing. So that finance can reconcile the budget and payouts.csv to
the minor unit, with nothing lost silently:

- an allocation whose conversion rounds to 0 in the partner's currency is *not paid*: it is not
  spent, it is carried over with the rest of the budget's carry-over (listed per partner in
  ``CoopAllocation.unpaid`` and in a note of the run). Carrying it over is exact, in the budget's own
  minor units; giving it to the other partners instead could round to nothing again.
  ``spent + carried_over == budget`` still holds exactly in the budget's currency, ``allocations``
  being what was spent (0 for an unpaid partner);
- every allocation records what it pays in the partner's currency (``CoopAllocation.paid``): the
  coop column of payouts.csv is, per partner, the sum of these, exactly;
- ``conversion_rounding`` is what the rounding of the conversions added (> 0) or took away (< 0), in
  the reporting currency, exactly (no rounding: a sum of products of decimals):
  ``Σ_i paid_i · rate_i − spent · rate_budget`` with the last-day ``rate_to_reporting`` of each
  currency (``CoopAllocation.rates``). It is 0 for a budget whose partners all share its currency.

PROGRAMME.md adds two rules. Co-op ``basis``: a budget may weigh its eligible partners by a blend of
KPIs (attributed GMV, sell-through, MAP compliance; ``programme.coop_weights``) instead of attributed
GMV alone; the split stays largest remainder in minor units. MAP: a partner observed below its
contract's ``map_min_compliance`` is flagged; under ``map_policy = withhold`` its rebate and co-op are
0 for the period (compensation and referral commission are still paid) and it is no longer eligible
for co-op, so its share goes to the other eligible partners of the budget's scope.
"""
from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Mapping

from .contracts import DEFAULT_COOP_BASIS, CoopBudget, Partner, rate_on
from .money import (CONTEXT, format_amount, from_minor, largest_remainder, minor_units, quantize, to_decimal,
                    to_minor)

EXACT = decimal.Context(prec=1000, rounding=decimal.ROUND_HALF_EVEN,
                        traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow])
"""For the conversion rounding: products and sums of decimals, never rounded (Inexact raises)."""


@dataclass
class PayoutLine:
    partner: Partner
    attributed_gmv: Decimal
    attributed_gmv_reporting: Decimal  # unrounded, for co-op weights and KPIs
    compensation: Decimal
    referral_gmv: Decimal
    referral_commission: Decimal
    sales: Decimal
    gross_margin: Decimal | None  # None: no sales row for the period (PROGRAMME.md: Π is never guessed)
    rebate: Decimal
    coop: Decimal = Decimal(0)
    map_compliance: Fraction | None = None  # 1 − violations/observations, exact; None when not observed
    below_map_minimum: bool = False
    privileges_withheld: bool = False  # map_policy = withhold: no rebate, no co-op this period

    @property
    def total_payable(self) -> Decimal:
        return self.compensation + self.referral_commission + self.rebate + self.coop

    @property
    def below_min_profit(self) -> bool | None:
        """The participation check, None when the gross margin is unknown (no sales row): a partner
        is neither flagged nor cleared on a margin it did not report."""
        if self.gross_margin is None:
            return None
        return self.gross_margin + self.total_payable < self.partner.min_profit


@dataclass(frozen=True)
class CoopAllocation:
    """One co-op budget shared out: the allocations (in the budget's currency) sum to ``spent``, and
    ``spent + carried_over == budget`` exactly.

    ``paid`` says what each allocation pays in its partner's currency (the coop column of payouts.csv
    is their sum per partner); ``unpaid`` the allocations whose conversion rounded to 0, carried over
    (their ``allocations`` entry is 0); ``conversion_rounding`` (in ``reporting``, exact) what rounding
    the conversions added or took away, ``Σ paid · rate − spent · rate_budget`` with ``rates``."""

    scope: str
    currency: str
    budget: Decimal
    row: int
    allocations: tuple[tuple[str, Decimal], ...] = ()  # (partner_id, amount spent), sorted by partner_id
    basis: tuple[tuple[str, Decimal], ...] = DEFAULT_COOP_BASIS
    paid: tuple[tuple[str, str, Decimal], ...] = ()  # (partner_id, partner currency, amount paid), sorted
    unpaid: tuple[tuple[str, Decimal], ...] = ()  # (partner_id, share in the budget's currency), carried over
    reporting: str = ""
    conversion_rounding: Decimal = Decimal(0)  # in ``reporting``, exact
    rates: tuple[tuple[str, Decimal], ...] = ()  # (currency, rate_to_reporting on the period's last day)

    @property
    def converted(self) -> bool:
        """Whether an allocation went to a partner in another currency than the budget's."""
        return any(c != self.currency for _, c, _ in self.paid)

    @property
    def conversion_rounding_text(self) -> str:
        """``conversion_rounding`` as exact decimal text, with at least the reporting currency's minor
        digits (``0.00`` when nothing was rounded; ``0.00393`` when a conversion added 0.00393)."""
        exact = self.conversion_rounding.normalize(EXACT) if self.conversion_rounding else Decimal(0)
        digits = max(minor_units(self.reporting), -exact.as_tuple().exponent)
        return f"{exact.quantize(Decimal(1).scaleb(-digits), context=EXACT):f}"

    @property
    def basis_text(self) -> str:
        """The basis as coop.csv writes it: ``attributed_gmv``, or a blend ``kpi:weight;…``."""
        if len(self.basis) == 1 and self.basis[0][1] == 1:
            return self.basis[0][0]
        return ";".join(f"{k}:{w}" for k, w in self.basis)

    @property
    def spent(self) -> Decimal:
        return sum((a for _, a in self.allocations), Decimal(0))

    @property
    def carried_over(self) -> Decimal:
        return self.budget - self.spent


@dataclass
class PayoutResult:
    lines: list[PayoutLine]
    coop: list[CoopAllocation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    map_policy: str | None = None  # flag | withhold when the run has MAP inputs, else None

    def totals_by_currency(self) -> dict[str, dict[str, Decimal]]:
        """Per partner currency, each payout column summed (the manifest's and stderr's totals)."""
        out: dict[str, dict[str, Decimal]] = {}
        for ln in self.lines:
            t = out.setdefault(ln.partner.currency, {k: Decimal(0) for k in TOTAL_COLUMNS})
            for k in TOTAL_COLUMNS:
                t[k] += getattr(ln, k)
        return dict(sorted(out.items()))


TOTAL_COLUMNS = ("attributed_gmv", "compensation", "referral_gmv", "referral_commission", "rebate", "coop",
                 "total_payable")


def _convert(amount_reporting: Decimal, rate: Decimal) -> Decimal:
    return CONTEXT.divide(amount_reporting, rate)


def compute_payouts(partners: list[Partner], credit_gmv: dict[str, float], referral_gmv: dict[str, float],
                    sales: dict[str, tuple[Decimal, Decimal]], fx: dict, coop: list[CoopBudget], period: str,
                    reporting: str, fx_source: str = "fx", map_compliance: Mapping[str, Fraction | None] | None = None,
                    map_policy: str = "flag") -> PayoutResult:
    """Payout lines for ``partners`` (the versions in force), sorted by partner_id.

    ``credit_gmv`` and ``referral_gmv`` map channel labels to GMV credits in the reporting currency
    (the chosen model's and last touch's). Every currency needs an FX rate on the period's last day.
    ``map_compliance`` (partner_id → exact compliance, None when not observed; None when the run has
    no MAP inputs) and ``map_policy`` apply PROGRAMME.md's MAP rule. A co-op allocation to a partner in
    another currency that converts to 0 is carried over, not paid (module docstring); each budget's
    ``CoopAllocation`` records what every allocation paid and the conversion rounding.
    """
    from .contracts import period_days
    from .programme import below_map_minimum, coop_weights

    first_day, last_day = period_days(period)
    lines: list[PayoutLine] = []
    notes: list[str] = []
    for p in sorted(partners, key=lambda x: x.partner_id):
        if (p.valid_from or first_day) > first_day or (p.valid_to or last_day) < last_day:
            notes.append(f"contract of partner {p.partner_id} (partners row {p.row}) is in force from "
                         f"{p.valid_from or 'open'} to {p.valid_to or 'open'}, part of {period}: it applies to the "
                         "whole period (the version in force for the most days; no pro-rating)")
        rate = rate_on(fx, p.currency, last_day, reporting, fx_source)
        attr_rep = sum((to_decimal(credit_gmv.get(c, 0.0)) for c in p.channels), Decimal(0))
        ref_rep = sum((to_decimal(referral_gmv.get(c, 0.0)) for c in p.channels), Decimal(0))
        attributed = quantize(_convert(attr_rep, rate), p.currency, p.rounding)
        referral = quantize(_convert(ref_rep, rate), p.currency, p.rounding)
        compensation = quantize(p.gamma * max(attributed, Decimal(0)), p.currency, p.rounding)
        commission = quantize(p.beta * max(referral, Decimal(0)), p.currency, p.rounding)
        if p.partner_id in sales:
            s, margin = sales[p.partner_id]
        else:
            s, margin = Decimal(0), None
            notes.append(f"no sales row for partner {p.partner_id} in {period}: sales taken as 0 (no rebate); its "
                         "gross margin is unknown, so its participation check and the partners' and programme "
                         "profit are not reported")
        rebate = quantize(p.rho * max(s - p.sales_target, Decimal(0)), p.currency, p.rounding)
        compliance = None if map_compliance is None else map_compliance.get(p.partner_id)
        below = map_compliance is not None and below_map_minimum(compliance, p.map_min_compliance)
        withheld = below and map_policy == "withhold"
        if withheld:
            rebate = Decimal(0)
        lines.append(PayoutLine(p, attributed, attr_rep, compensation, referral, commission, s, margin, rebate,
                                map_compliance=compliance, below_map_minimum=below,
                                privileges_withheld=withheld))
    allocations = []
    for budget in sorted(coop, key=lambda b: (b.scope, b.currency, b.row)):
        in_scope = [ln for ln in lines if ln.partner.coop_eligible and not ln.privileges_withheld
                    and (budget.scope == "*" or ln.partner.country == budget.scope)]
        weighed = [(ln, w) for ln, w in zip(in_scope, coop_weights(budget.basis, in_scope)) if w > 0]
        eligible = [ln for ln, _ in weighed]
        amount = quantize(budget.budget, budget.currency, "half-even")
        units = to_minor(amount, budget.currency)
        if not eligible or units == 0:
            allocations.append(CoopAllocation(budget.scope, budget.currency, amount, budget.row, (), budget.basis,
                                              reporting=reporting))
            continue
        shares = largest_remainder(units, [w for _, w in weighed], [ln.partner.partner_id for ln in eligible])
        b_rate = rate_on(fx, budget.currency, last_day, reporting, fx_source)
        rates = {budget.currency: b_rate}
        spent, paid, unpaid = [], [], []
        for ln, u in zip(eligible, shares):
            p = ln.partner
            part = from_minor(u, budget.currency)
            if p.currency == budget.currency:
                pay = part
            else:
                p_rate = rates.setdefault(p.currency, rate_on(fx, p.currency, last_day, reporting, fx_source))
                exact = CONTEXT.divide(part * b_rate, p_rate)
                pay = quantize(exact, p.currency, p.rounding)
                if pay == 0 and u > 0:
                    unpaid.append((p.partner_id, part))
                    notes.append(f"co-op budget {budget.scope} {format_amount(amount, budget.currency)} "
                                 f"{budget.currency} (coop row {budget.row}): partner {p.partner_id}'s allocation of "
                                 f"{format_amount(part, budget.currency)} {budget.currency} is "
                                 f"{exact:.{minor_units(p.currency) + 4}f} {p.currency} at the rates of {last_day} "
                                 f"(to {minor_units(p.currency) + 4} decimals), 0 in {p.currency}'s minor unit: "
                                 "not paid, carried over")
                    part = from_minor(0, budget.currency)
            ln.coop += pay
            spent.append((p.partner_id, part))
            paid.append((p.partner_id, p.currency, pay))
        with decimal.localcontext(EXACT):
            conversion_rounding = (sum((a * rates[c] for _, c, a in paid), Decimal(0))
                                   - sum((a for _, a in spent), Decimal(0)) * b_rate)
        allocations.append(CoopAllocation(budget.scope, budget.currency, amount, budget.row, tuple(sorted(spent)),
                                          budget.basis, tuple(sorted(paid)), tuple(sorted(unpaid)), reporting,
                                          conversion_rounding, tuple(sorted(rates.items()))))
    return PayoutResult(lines, allocations, notes, None if map_compliance is None else map_policy)
