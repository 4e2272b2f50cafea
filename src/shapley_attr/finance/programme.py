"""Programme economics (PROGRAMME.md): return on spend, margin and the objective Π, MAP compliance,
co-op weights by KPI, γ scenarios and the smallest γ that keeps a partner in.

Money is Decimal throughout; ratios that weigh a budget are exact fractions (``Fraction``), so a
split by largest remainder sees the exact quotas. Amounts in the reporting currency R are converted
with the rate of the period's last day, as payouts are (partner amounts, spend, order margins).

- ``roas_c = attributed_gmv_c / spend_c``, ``cpa_c = spend_c / attributed_conversions_c`` and
  ``attributed_margin_c`` per channel, under the run's model and under last touch; a ratio whose
  denominator is 0 (no spend, no attributed conversions) is an empty cell, never inf or NaN.
- ``Π_D2C = Σ margin of the run's conversions − Σ_i total_payable_i``;
  ``Π_Ri = gross_margin_i + total_payable_i``; ``Π = Π_D2C + Σ_i Π_Ri`` (all in R).
- ``map_compliance_i = 1 − violations_i / observations_i`` (empty when not observed).
- co-op weight ``w_i = Σ_k a_k · x_ik / Σ_j x_jk`` over the budget's eligible partners (x floored at 0,
  a term 0 when its sum is 0).
- a scenario recomputes every payout line with γ (and β, ρ when given) applied to every partner,
  rounded as ``run`` rounds; ``gamma_min_i`` is the smallest γ on a 0.0001 grid with
  ``gross_margin_i + total_payable_i(γ) ≥ min_profit_i``.

How margin is attributed ("the model distributes margin exactly as it distributes GMV"): the journey
cut carries each converting journey's order margin beside its GMV, and the run's model is fitted a
second time on the same paths valued at margin instead of GMV. Every model's shares depend on the
paths and their conversion and null counts only, never on the values: heuristics, the count,
ordered and rate games, the hybrid and the last-touch fallback credit each path's value by fixed
per-path shares (linear in the value), and Markov and subset-rate credit share_c × the total value.
So the margin credits are the GMV credits' own shares applied to margin, path by path, even where an
order's margin is not proportional to its GMV.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import Callable, Iterable, Mapping, Sequence

from .money import CONTEXT, format_amount, quantize, to_decimal

RATIO_PLACES = Decimal("0.000001")
GAMMA_STEP = Decimal("0.0001")
GAMMA_GRID = 10_000
"""γ is searched on the grid k · 0.0001, k = 0 … 10 000 (γ ≤ 1)."""
MAX_SCENARIOS = 1_000_000


# --- small formatting helpers --------------------------------------------------------------------
def ratio_text(value: Fraction | Decimal | None) -> str:
    """A ratio with six decimals, rounded half-even once from its exact value; empty when undefined."""
    if value is None:
        return ""
    if isinstance(value, Fraction):
        value = CONTEXT.divide(Decimal(value.numerator), Decimal(value.denominator))
    return f"{value.quantize(RATIO_PLACES, context=CONTEXT):f}"


def _ratio(num: Decimal, den: Decimal) -> str:
    return "" if den == 0 else ratio_text(CONTEXT.divide(num, den))


def _money(amount: Decimal | None, currency: str) -> str:
    return "" if amount is None else format_amount(quantize(amount, currency), currency)


def _fraction(x) -> Fraction:
    return Fraction(x) if not isinstance(x, float) else Fraction(to_decimal(x))


# --- order margins (the engine hands them over with the journeys) --------------------------------
@dataclass(frozen=True, eq=False)
class OrderMargins:
    """The run's order margins (PROGRAMME.md "Objective").

    ``table``: the run's paths valued at their journeys' margins in R (same paths, same order as the
    GMV table), None when some conversion of the run has no margin; ``gross_margin``: the margins of
    the run's conversions summed exactly and converted to R (None likewise); ``by_currency``: the
    exact sums in each conversion currency; ``missing``: the run's conversions with an empty margin.
    Π and attributed margins are reported only when no margin is missing (never guessed).
    """

    gross_margin: Decimal | None
    by_currency: Mapping[str, Decimal]
    rates: Mapping[str, Decimal]
    missing: int
    table: object = None  # frames.PathTable

    @property
    def complete(self) -> bool:
        return self.missing == 0 and self.gross_margin is not None and self.table is not None

    def as_dict(self, reporting: str) -> dict:
        return {"d2c_gross_margin": None if self.gross_margin is None else f"{self.gross_margin:f}",  # exact
                "by_currency": {c: f"{v:f}" for c, v in sorted(self.by_currency.items())},
                "rates_last_day": {c: f"{r:f}" for c, r in sorted(self.rates.items())},
                "conversions_without_margin": self.missing,
                "reported": self.complete}


def order_margins(run_conv, rate: Callable[[str], Decimal]):
    """The margins of the run's conversions (``run_conv``: columns ``currency, margin``): exact sums per
    currency, converted with ``rate(currency)`` (the period's last-day rate_to_reporting), and each
    conversion's margin in R as float64 (None when a margin is missing). Returns (OrderMargins without
    its table, per-conversion float64 margins in R or None)."""
    import numpy as np
    import polars as pl

    from ..io.events import MONEY

    missing = int(run_conv.get_column("margin").null_count())
    sums = (run_conv.filter(pl.col("margin").is_not_null()).group_by("currency")
            .agg(pl.col("margin").cast(MONEY).sum().alias("m")).sort("currency"))
    by_currency = {c: Decimal(m) for c, m in sums.iter_rows()}
    if missing:
        return OrderMargins(None, by_currency, {}, missing), None
    rates = {c: rate(c) for c in sorted(set(run_conv.get_column("currency").to_list()))}
    gross = sum((by_currency.get(c, Decimal(0)) * r for c, r in rates.items()), Decimal(0))
    factor = run_conv.get_column("currency").replace_strict({c: float(r) for c, r in rates.items()},
                                                            return_dtype=pl.Float64) if len(run_conv) else None
    per_conv = (run_conv.get_column("margin").to_numpy() * factor.to_numpy()) if factor is not None else (
        np.zeros(0, dtype=np.float64))
    return OrderMargins(gross, by_currency, rates, 0), np.ascontiguousarray(per_conv, dtype=np.float64)


def margin_credits(margin_table, params) -> tuple[dict[str, float], dict[str, float]]:
    """Attributed margin per channel under the run's model (its own shares applied to the paths'
    margins) and under last touch: two {channel: margin in R} maps. ``params`` is the run's
    ModelParams as fitted (the bootstrap is not repeated: it only adds intervals)."""
    from ..models import fit
    from ..models.heuristics import last_touch_credit

    if margin_table.n_paths == 0:
        return {}, {}
    result = fit(margin_table, replace(params, bootstrap=0))
    last = last_touch_credit(margin_table)
    return (dict(zip(result.channels, result.credit[:, 1].tolist())),
            dict(zip(margin_table.channels, last[:, 1].tolist())))


# --- return on spend ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChannelCredits:
    """One model's credits per channel in R: conversions, GMV and (with margins) margin."""

    conversions: Mapping[str, float]
    gmv: Mapping[str, float]
    margin: Mapping[str, float] | None = None


def channel_kpi_rows(period: str, reporting: str, spend: Mapping[str, Decimal] | None, model: ChannelCredits,
                     last_touch: ChannelCredits) -> list[list[str]]:
    """kpis.csv rows per channel (sorted): ``spend, roas, cpa, attributed_margin`` and the same three
    under last touch (``roas_last_touch``, …). Spend rows cover the channels of spend.csv (a channel
    that never appears in the journeys bought nothing: ROAS 0, CPA empty; PROGRAMME.md: a channel with
    spend 0 or no attributed conversions gets an empty ROAS and CPA), from the spend as printed (rounded
    to R's minor unit); margin rows, when the run
    has margins, every channel of the attribution and of spend.csv."""
    with_margin = model.margin is not None
    channels = set(spend or ()) | (set(model.gmv) | set(model.margin or ()) if with_margin else set())
    rows: list[list[str]] = []
    for ch in sorted(channels):
        # spend converted to R is exact; the ratios use it rounded as printed, so that a reader can
        # check them from kpis.csv (and converted spend below half a cent is spend 0: empty ratios)
        s = None if spend is None or ch not in spend else quantize(spend[ch], reporting)
        if s is not None:
            rows.append([period, "spend", ch, _money(s, reporting)])
        for suffix, credits in (("", model), ("_last_touch", last_touch)):
            if s is not None:
                gmv = to_decimal(credits.gmv.get(ch, 0.0))
                conv = to_decimal(credits.conversions.get(ch, 0.0))
                rows.append([period, "roas" + suffix, ch, _ratio(gmv, s)])
                cpa = "" if conv <= 0 or s == 0 else _money(CONTEXT.divide(s, conv), reporting)
                rows.append([period, "cpa" + suffix, ch, cpa])
            if with_margin:
                rows.append([period, "attributed_margin" + suffix, ch,
                             _money(to_decimal(credits.margin.get(ch, 0.0)), reporting)])
    order = {"spend": 0, "roas": 1, "cpa": 2, "attributed_margin": 3, "roas_last_touch": 4, "cpa_last_touch": 5,
             "attributed_margin_last_touch": 6}
    return sorted(rows, key=lambda r: (r[2], order[r[1]]))


# --- the objective Π ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ProgrammeProfit:
    """Π = Π_D2C + Σ Π_Ri in R, each exact (rounded only when written). ``partners`` (and so Π) is None
    when a partner's gross margin is unknown (no sales row): Π is never guessed, Π_D2C does not need it."""

    d2c: Decimal
    partners: Decimal | None

    @property
    def total(self) -> Decimal | None:
        return None if self.partners is None else self.d2c + self.partners


def programme_profit(d2c_gross_margin: Decimal, lines: Iterable, rate: Callable[[str], Decimal]) -> ProgrammeProfit:
    """``Π_D2C = d2c_gross_margin − Σ_i total_payable_i·r_i`` and ``Σ_i Π_Ri = Σ_i (gross_margin_i +
    total_payable_i)·r_i``, with ``r_i = rate(currency_i)`` the last-day rate_to_reporting; the latter
    None when some line's gross margin is None."""
    paid = Decimal(0)
    partners: Decimal | None = Decimal(0)
    for ln in lines:
        r = rate(ln.partner.currency)
        paid += ln.total_payable * r
        if partners is not None:
            partners = None if ln.gross_margin is None else partners + (ln.gross_margin + ln.total_payable) * r
    return ProgrammeProfit(d2c_gross_margin - paid, partners)


def profit_kpi_rows(period: str, reporting: str, profit: ProgrammeProfit) -> list[list[str]]:
    """kpis.csv rows of scope ``*``: programme_profit (Π), d2c_profit (Π_D2C), partners_profit (Σ Π_Ri);
    Π and Σ Π_Ri left out when unknown (:class:`ProgrammeProfit`)."""
    rows = [[period, "d2c_profit", "*", _money(profit.d2c, reporting)]]
    if profit.partners is not None:
        rows = [[period, "programme_profit", "*", _money(profit.total, reporting)], *rows,
                [period, "partners_profit", "*", _money(profit.partners, reporting)]]
    return rows


# --- MAP compliance -------------------------------------------------------------------------------
@dataclass(frozen=True)
class MapCompliance:
    """One partner's price observations of the period and its MAP violations."""

    partner_id: str
    observations: int = 0
    violations: int = 0

    @property
    def ratio(self) -> Fraction | None:
        """``1 − violations / observations``, exact; None when not observed."""
        if self.observations == 0:
            return None
        return 1 - Fraction(self.violations, self.observations)

    def row(self) -> list[str]:
        return [self.partner_id, str(self.observations), str(self.violations), ratio_text(self.ratio)]


def map_compliance(partner_ids: Iterable[str], violations_by_observation: Iterable[tuple[str, bool]]
                   ) -> dict[str, MapCompliance]:
    """Per partner of ``partner_ids`` (all listed, observed or not): observations and violations from
    ``(partner_id, is_violation)`` pairs (observations of other partners are not counted)."""
    counts = {pid: [0, 0] for pid in partner_ids}
    for pid, bad in violations_by_observation:
        if pid in counts:
            counts[pid][0] += 1
            counts[pid][1] += int(bad)
    return {pid: MapCompliance(pid, o, v) for pid, (o, v) in sorted(counts.items())}


def below_map_minimum(ratio: Fraction | None, minimum: Decimal | None) -> bool:
    """A partner is below its MAP minimum when it was observed and its exact compliance is below it."""
    return minimum is not None and ratio is not None and ratio < Fraction(minimum)


# --- co-op by KPI ---------------------------------------------------------------------------------
def kpi_value(line, kpi: str) -> Fraction:
    """``x_ik`` of PROGRAMME.md, floored at 0: attributed GMV (R, unrounded), sell-through
    ``sales / sales_target`` (0 when the target is 0), MAP compliance (0 when not observed)."""
    if kpi == "attributed_gmv":
        x = _fraction(line.attributed_gmv_reporting)
    elif kpi == "sell_through":
        target = line.partner.sales_target
        x = Fraction(0) if target == 0 else _fraction(line.sales) / _fraction(target)
    elif kpi == "map_compliance":
        x = line.map_compliance if line.map_compliance is not None else Fraction(0)
    else:
        raise ValueError(f"unknown co-op KPI {kpi!r}")
    return max(x, Fraction(0))


def coop_weights(basis: Sequence[tuple[str, Decimal]], lines: Sequence) -> list[Fraction]:
    """``w_i = Σ_k a_k · s_ik`` with ``s_ik = x_ik / Σ_j x_jk`` over ``lines`` (the budget's eligible
    partners; a KPI whose values sum to 0 adds nothing). Exact fractions."""
    weights = [Fraction(0)] * len(lines)
    for kpi, a in basis:
        xs = [kpi_value(ln, kpi) for ln in lines]
        total = sum(xs, Fraction(0))
        if total == 0 or a == 0:
            continue
        a = Fraction(a)
        weights = [w + a * x / total for w, x in zip(weights, xs)]
    return weights


# --- scenarios and the smallest γ -----------------------------------------------------------------
@dataclass(frozen=True)
class ScenarioLine:
    """A payout line of a finished run, with what a scenario needs to recompute it (partner's currency)."""

    partner_id: str
    currency: str
    rounding: str
    attributed_gmv: Decimal
    referral_gmv: Decimal
    sales: Decimal
    sales_target: Decimal
    coop: Decimal
    gamma: Decimal
    beta: Decimal
    rho: Decimal
    referral_commission: Decimal
    rebate: Decimal
    gross_margin: Decimal | None  # None: no sales row (see PayoutLine)
    min_profit: Decimal
    withheld: bool = False
    rate: Decimal = Decimal(1)  # last-day rate_to_reporting

    def total_payable(self, gamma: Decimal, beta: Decimal | None = None, rho: Decimal | None = None) -> Decimal:
        """The line's total payable at ``gamma`` (and ``beta``, ``rho``; the contract's when None),
        each component rounded once as ``run`` rounds it; co-op as in the run; no rebate when withheld."""
        ccy, mode = self.currency, self.rounding
        compensation = quantize(gamma * max(self.attributed_gmv, Decimal(0)), ccy, mode)
        commission = (self.referral_commission if beta is None
                      else quantize(beta * max(self.referral_gmv, Decimal(0)), ccy, mode))
        if self.withheld:
            rebate = Decimal(0)
        elif rho is None:
            rebate = self.rebate
        else:
            rebate = quantize(rho * max(self.sales - self.sales_target, Decimal(0)), ccy, mode)
        return compensation + commission + rebate + self.coop

    def meets_floor(self, total_payable: Decimal) -> bool | None:
        """The participation check at ``total_payable``; None when the gross margin is unknown."""
        if self.gross_margin is None:
            return None
        return self.gross_margin + total_payable >= self.min_profit


@dataclass(frozen=True)
class GammaMin:
    partner_id: str
    currency: str
    gamma_min: Decimal | None
    reason: str  # met_at_zero | reachable | unreachable | no_gross_margin

    def row(self) -> list[str]:
        text = "" if self.gamma_min is None else f"{self.gamma_min.normalize():f}"
        return [self.partner_id, self.currency, text, self.reason]


def gamma_min(line: ScenarioLine) -> GammaMin:
    """The smallest γ = k · 0.0001 (k = 0 … 10 000) for which ``gross_margin + total_payable(γ) ≥
    min_profit``, with the contract's β and ρ and the run's co-op: 0 when met at γ = 0; None
    (``unreachable``) when the attributed GMV is not positive or γ would have to exceed 1, or
    (``no_gross_margin``) when the partner reported no sales row. The payable is non-decreasing in γ,
    so a bisection over k finds it exactly."""
    def ok(k: int) -> bool:
        return bool(line.meets_floor(line.total_payable(GAMMA_STEP * k)))

    if line.gross_margin is None:
        return GammaMin(line.partner_id, line.currency, None, "no_gross_margin")
    if ok(0):
        return GammaMin(line.partner_id, line.currency, Decimal(0), "met_at_zero")
    if line.attributed_gmv <= 0 or not ok(GAMMA_GRID):
        return GammaMin(line.partner_id, line.currency, None, "unreachable")
    lo, hi = 0, GAMMA_GRID  # ok(lo) is false, ok(hi) is true
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return GammaMin(line.partner_id, line.currency, (GAMMA_STEP * hi).quantize(GAMMA_STEP), "reachable")


def parse_rate_spec(text: str, name: str) -> tuple[Decimal, ...]:
    """``0.03,0.05`` (a list) or ``0.02:0.12:0.01`` (start:stop:step, stop included), each in [0, 1].
    ValueError naming the option on anything else."""
    from decimal import InvalidOperation

    expected = f"--{name} expects a list like 0.03,0.05 or a range start:stop:step like 0.02:0.12:0.01 (values 0-1)"
    text = (text or "").strip()
    try:
        if ":" in text:
            parts = [Decimal(p.strip()) for p in text.split(":")]
            if len(parts) != 3 or not all(p.is_finite() for p in parts):
                raise ValueError(expected)
            start, stop, step = parts
            if step <= 0 or stop < start:
                raise ValueError(f"{expected}: got start {start}, stop {stop}, step {step}")
            count = int((stop - start) / step) + 1
            if count > GAMMA_GRID + 1:
                raise ValueError(f"{expected}: {text} has {count} values, at most {GAMMA_GRID + 1}")
            values = [start + step * i for i in range(count)]
        else:
            values = [Decimal(p.strip()) for p in text.split(",") if p.strip()]
    except InvalidOperation:
        raise ValueError(f"{expected}, got {text!r}") from None
    if not values or any(not v.is_finite() or v < 0 or v > 1 for v in values):
        raise ValueError(f"{expected}, got {text!r}")
    return tuple(sorted({v.copy_abs() if v == 0 else v for v in values}))  # -0 is 0 (written "-0" else)


@dataclass(frozen=True)
class Scenario:
    gamma: Decimal
    beta: Decimal | None
    rho: Decimal | None


def scenario_rows(lines: Sequence[ScenarioLine], scenarios: Iterable[Scenario], reporting: str,
                  d2c_gross_margin: Decimal | None) -> list[list[str]]:
    """scenarios.csv rows: per scenario and partner currency, ``gamma, beta, rho, currency,
    total_payable, partners_below_min_profit, total_payable_reporting`` and, with margins,
    ``d2c_margin_after_payouts, programme_profit`` (the last three are the scenario's, in R, on each
    of its rows). β and ρ are empty when each partner keeps its contract's. A partner without a
    gross margin (no sales row) is not counted below the floor, and Π is empty: never guessed."""
    out = []
    unknown = any(ln.gross_margin is None for ln in lines)
    partners_margin_r = None if unknown else sum((ln.gross_margin * ln.rate for ln in lines), Decimal(0))
    for sc in scenarios:
        per_ccy: dict[str, list] = {}
        total_r = Decimal(0)
        for ln in lines:
            total = ln.total_payable(sc.gamma, sc.beta, sc.rho)
            acc = per_ccy.setdefault(ln.currency, [Decimal(0), 0])
            acc[0] += total
            acc[1] += int(ln.meets_floor(total) is False)
            total_r += total * ln.rate
        for ccy, (total, below) in sorted(per_ccy.items()):
            row = [_rate_text(sc.gamma), _rate_text(sc.beta), _rate_text(sc.rho), ccy, format_amount(total, ccy),
                   str(below), _money(total_r, reporting)]
            if d2c_gross_margin is not None:
                after = d2c_gross_margin - total_r
                row += [_money(after, reporting),
                        "" if partners_margin_r is None else _money(after + partners_margin_r + total_r, reporting)]
            out.append(row)
    return out


def _rate_text(rate: Decimal | None) -> str:
    return "" if rate is None else f"{rate.normalize():f}"
