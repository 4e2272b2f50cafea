"""Programme KPIs written beside the payouts (``kpis.csv``), in a long format: period, kpi, scope, value.

- ``d2c_share_of_gmv`` per country: D2C GMV (conversions of the period, reporting currency) over D2C GMV
  plus the partners' own sales in that country (converted at the period's last-day rate).
- ``partner_attributed_share`` per partner: its attributed GMV over all D2C GMV of the period.
- ``sell_through`` per partner: S_i / S_i^target (empty when the target is 0).
- ``payout_cost_share`` per partner and for the programme (scope ``*``): total payable over attributed GMV,
  both in the reporting currency — what the programme pays per unit of D2C GMV partners helped create.
Ratios are Decimal, rounded half-even to 6 places.

With PROGRAMME.md's inputs (:func:`programme_kpis`): per channel ``spend``, ``roas``, ``cpa``,
``attributed_margin`` and each under last touch (``roas_last_touch``, …), amounts in the reporting
currency; and of scope ``*`` ``programme_profit`` (Π), ``d2c_profit`` (Π_D2C), ``partners_profit`` (Σ Π_Ri).
"""
from __future__ import annotations

from decimal import Decimal

from .money import CONTEXT, to_decimal

_Q = Decimal("0.000001")


def _ratio(num: Decimal, den: Decimal) -> str:
    if den == 0:
        return ""
    return f"{CONTEXT.divide(num, den).quantize(_Q, context=CONTEXT):f}"


def compute_kpis(period: str, lines, country_gmv: dict[str, float], fx_rate) -> list[list[str]]:
    """``fx_rate(currency)`` gives the last-day rate_to_reporting (Decimal)."""
    rows: list[list[str]] = []
    d2c = {c: to_decimal(v) for c, v in country_gmv.items()}
    partner_sales: dict[str, Decimal] = {}
    for ln in lines:
        partner_sales[ln.partner.country] = partner_sales.get(ln.partner.country, Decimal(0)) + \
            ln.sales * fx_rate(ln.partner.currency)
    for country in sorted(set(d2c) | set(partner_sales)):
        g = d2c.get(country, Decimal(0))
        rows.append([period, "d2c_share_of_gmv", country, _ratio(g, g + partner_sales.get(country, Decimal(0)))])
    total_d2c = sum(d2c.values(), Decimal(0))
    paid_total = Decimal(0)
    attr_total = Decimal(0)
    for ln in lines:
        pid = ln.partner.partner_id
        rows.append([period, "partner_attributed_share", pid, _ratio(ln.attributed_gmv_reporting, total_d2c)])
        rows.append([period, "sell_through", pid, _ratio(ln.sales, ln.partner.sales_target)])
        paid = ln.total_payable * fx_rate(ln.partner.currency)
        attr = max(ln.attributed_gmv_reporting, Decimal(0))
        rows.append([period, "payout_cost_share", pid, _ratio(paid, attr)])
        paid_total += paid
        attr_total += attr
    rows.append([period, "payout_cost_share", "*", _ratio(paid_total, attr_total)])
    return rows


def programme_kpis(period: str, reporting: str, spend, result, table, margins, params, lines, fx_rate
                   ) -> list[list[str]]:
    """PROGRAMME.md's kpis.csv rows, each only when its input was given: per channel ``spend, roas, cpa,
    attributed_margin`` and the same under last touch (with spend.csv and/or order margins), then
    ``programme_profit, d2c_profit, partners_profit`` of scope ``*`` (with order margins).

    ``result`` and ``table`` are the run's model result and PathTable (GMV in R), ``margins`` the
    engine's ``OrderMargins`` (None without a margin column), ``params`` the model as fitted."""
    from ..models.heuristics import last_touch_credit
    from .programme import ChannelCredits, channel_kpi_rows, margin_credits, profit_kpi_rows, programme_profit

    with_margin = margins is not None and margins.complete
    if spend is None and not with_margin:
        return []
    last = last_touch_credit(table) if table.n_paths else None
    margin_model, margin_last = margin_credits(margins.table, params) if with_margin else (None, None)
    model = ChannelCredits(dict(zip(result.channels, result.credit[:, 0].tolist())),
                           dict(zip(result.channels, result.credit[:, 1].tolist())), margin_model)
    last_touch = ChannelCredits({} if last is None else dict(zip(table.channels, last[:, 0].tolist())),
                                {} if last is None else dict(zip(table.channels, last[:, 1].tolist())), margin_last)
    rows = channel_kpi_rows(period, reporting, spend, model, last_touch)
    if with_margin:
        rows += profit_kpi_rows(period, reporting, programme_profit(margins.gross_margin, lines, fx_rate))
    return rows
