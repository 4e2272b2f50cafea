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
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from .contracts import CoopBudget, Partner, rate_on
from .money import CONTEXT, from_minor, largest_remainder, quantize, to_decimal, to_minor



@dataclass
class PayoutLine:
    partner: Partner
    attributed_gmv: Decimal
    attributed_gmv_reporting: Decimal  # unrounded, for co-op weights and KPIs
    compensation: Decimal
    referral_gmv: Decimal
    referral_commission: Decimal
    sales: Decimal
    gross_margin: Decimal
    rebate: Decimal
    coop: Decimal = Decimal(0)
    has_sales: bool = True

    @property
    def total_payable(self) -> Decimal:
        return self.compensation + self.referral_commission + self.rebate + self.coop

    @property
    def below_min_profit(self) -> bool:
        return self.gross_margin + self.total_payable < self.partner.min_profit


@dataclass(frozen=True)
class CoopAllocation:
    """One co-op budget shared out: the allocations (in the budget's currency) sum to ``spent``, and
    ``spent + carried_over == budget`` exactly."""

    scope: str
    currency: str
    budget: Decimal
    row: int
    allocations: tuple[tuple[str, Decimal], ...] = ()  # (partner_id, amount), sorted by partner_id

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
                    reporting: str, fx_source: str = "fx") -> PayoutResult:
    """Payout lines for ``partners`` (the versions in force), sorted by partner_id.

    ``credit_gmv`` and ``referral_gmv`` map channel labels to GMV credits in the reporting currency
    (the chosen model's and last touch's). Every currency needs an FX rate on the period's last day.
    """
    from .contracts import period_days

    last_day = period_days(period)[1]
    lines: list[PayoutLine] = []
    notes: list[str] = []
    for p in sorted(partners, key=lambda x: x.partner_id):
        rate = rate_on(fx, p.currency, last_day, reporting, fx_source)
        attr_rep = sum((to_decimal(credit_gmv.get(c, 0.0)) for c in p.channels), Decimal(0))
        ref_rep = sum((to_decimal(referral_gmv.get(c, 0.0)) for c in p.channels), Decimal(0))
        attributed = quantize(_convert(attr_rep, rate), p.currency, p.rounding)
        referral = quantize(_convert(ref_rep, rate), p.currency, p.rounding)
        compensation = quantize(p.gamma * max(attributed, Decimal(0)), p.currency, p.rounding)
        commission = quantize(p.beta * max(referral, Decimal(0)), p.currency, p.rounding)
        if p.partner_id in sales:
            s, margin = sales[p.partner_id]
            has_sales = True
        else:
            s, margin, has_sales = Decimal(0), Decimal(0), False
            notes.append(f"no sales row for partner {p.partner_id} in {period}: sales and gross margin taken as 0")
        rebate = quantize(p.rho * max(s - p.sales_target, Decimal(0)), p.currency, p.rounding)
        lines.append(PayoutLine(p, attributed, attr_rep, compensation, referral, commission, s, margin, rebate,
                                has_sales=has_sales))
    allocations = []
    for budget in sorted(coop, key=lambda b: (b.scope, b.currency, b.row)):
        eligible = [ln for ln in lines if ln.partner.coop_eligible and ln.attributed_gmv_reporting > 0
                    and (budget.scope == "*" or ln.partner.country == budget.scope)]
        amount = quantize(budget.budget, budget.currency, "half-even")
        units = to_minor(amount, budget.currency)
        if not eligible or units == 0:
            allocations.append(CoopAllocation(budget.scope, budget.currency, amount, budget.row))
            continue
        shares = largest_remainder(units, [ln.attributed_gmv_reporting for ln in eligible],
                                   [ln.partner.partner_id for ln in eligible])
        b_rate = rate_on(fx, budget.currency, last_day, reporting, fx_source)
        parts = []
        for ln, u in zip(eligible, shares):
            part = from_minor(u, budget.currency)
            parts.append((ln.partner.partner_id, part))
            if ln.partner.currency == budget.currency:
                ln.coop += part
            else:
                p_rate = rate_on(fx, ln.partner.currency, last_day, reporting, fx_source)
                ln.coop += quantize(CONTEXT.divide(part * b_rate, p_rate), ln.partner.currency, ln.partner.rounding)
        allocations.append(CoopAllocation(budget.scope, budget.currency, amount, budget.row,
                                          tuple(sorted(parts))))
    return PayoutResult(lines, allocations, notes)
