"""From a :class:`RunData` to the bytes of ``report.html``: view records, charts, the Jinja2 template.

Jinja2 renders with autoescape on and ``StrictUndefined``: every text from the run (partner names,
channels, reject values) is escaped, and a missing view field is an error rather than an empty cell.
The only markup passed through unescaped is the SVG that :mod:`.charts` draws (glyphs as paths; its one
data text, the whole label of a channel cut short, escaped into a ``<title>``). Nothing depends on the
clock, the machine or the directory's own path, so the same run directory gives the same bytes.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import PurePath
from typing import Any

from .. import __version__
from .data import RunData

NOT_IN_RUN = "not in this run"
MIN_PROFIT_UNCHECKED_FLAG = "not checked: no sales row"
CHART_MAX_CHANNELS = 40  # a chart shows the largest channels; the table beside it lists every one
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

MODEL_LABEL = {"first": "first touch", "last": "last touch", "linear": "linear", "position": "position (U-shaped)",
               "time-decay": "time decay", "markov": "Markov", "shapley": "Shapley", "hybrid": "hybrid"}
MODELS_ORDER = ("last", "linear", "markov", "shapley", "hybrid")
# kpis.csv's KPI names by family (finance/kpis.py, finance/programme.py). A row's table is chosen by its
# name, never by its scope: a scope is any string, and a channel may be named like a partner or a country.
PROGRAMME_TOTALS = ("programme_profit", "d2c_profit", "partners_profit")  # scope "*"
CHANNEL_KPIS = ("spend", "roas", "cpa", "attributed_margin")  # each also with "_last_touch"; scope: a channel
PARTNER_KPIS = ("partner_attributed_share", "sell_through", "payout_cost_share")  # a partner id, or "*"
COUNTRY_KPIS = ("d2c_share_of_gmv",)  # scope: a country
KPI_LABEL = {
    "d2c_share_of_gmv": "D2C share of GMV",
    "partner_attributed_share": "Attributed share",
    "sell_through": "Sell-through",
    "payout_cost_share": "Payout cost per attributed GMV",
    "programme_profit": "Programme profit Π",
    "d2c_profit": "D2C profit Π_D2C",
    "partners_profit": "Partners' profit Σ Π_Ri",
    "spend": "Spend",
    "roas": "ROAS",
    "cpa": "CPA",
    "attributed_margin": "Attributed margin",
}


# --- formatting ---------------------------------------------------------------------------------
def neutralise(text: str) -> str:
    """As in the CSV files: a text cell a spreadsheet would run as a formula gets a leading apostrophe."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _decimal(text: str | None) -> Decimal | None:
    if text is None or not str(text).strip():
        return None
    try:
        d = Decimal(str(text).strip())
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def group_digits(text: str) -> str:
    """``"-1234567.890"`` → ``"-1,234,567.890"``: thousands separators, the digits left exactly as written."""
    sign = "-" if text.startswith("-") else ""
    body = text[1:] if sign else text
    whole, dot, frac = body.partition(".")
    if not whole.isdigit():
        return text
    groups = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return sign + ",".join(groups) + dot + frac


def amount(text: str | None, currency: str | None = None) -> str:
    """A decimal amount as written by the run, with thousands separators.

    The digits are the run's; with ``currency``, an amount written with fewer decimals than the
    currency's minor digits ("0" for EUR) is padded with zeros ("0.00"), which never changes its value.
    """
    if text is None or text == "":
        return "—"
    d = _decimal(text)
    if d is None:
        return text
    if currency is not None and "e" not in text.lower():
        digits = minor_digits(currency)
        if -d.as_tuple().exponent < digits:
            text = f"{d.quantize(Decimal(1).scaleb(-digits)):f}"
    return group_digits(text)


def fixed(value: float | None, digits: int) -> str:
    if value is None or value != value:
        return "—"
    text = f"{value:.{digits}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return group_digits(text)


def percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None or value != value else fixed(value * 100, digits) + "%"


def count(value: int | None) -> str:
    return "—" if value is None else group_digits(str(value))


def _float(text: str | None) -> float | None:
    d = _decimal(text)
    return float(d) if d is not None else None


def minor_digits(currency: str | None) -> int:
    from ..finance.money import MINOR_UNITS

    return MINOR_UNITS.get(currency or "", 2)


def short_sha(sha: str | None) -> str:
    return sha[:12] if sha else "—"


# --- view records ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    text: str
    css: str = ""  # "num", "neg", "flag", ...
    note: str = ""  # small second line


def _num(text: str) -> Cell:
    return Cell(text, "num neg" if text.startswith("-") else "num")


PORTRAIT_AMOUNT_CHARS = {"reconciliation": 17, "partners": 14}
"""The longest amount (characters as printed, ``-1,234,567.89``: 13) with which a section's tables fit
A4 portrait's width in print (718 CSS px), every amount of a table that long and the fixture's partner
ids and names beside them; a section with a longer one prints on a landscape A4 page of its own
(``section.landscape`` in report.css). Measured in Chromium by scaling every amount of a run by 10^k:
the payouts table ran past the edge at 16 characters (a EUR partner's 100 million and up), the
reconciliation table at 18, the totals per currency at 17, the rates at 20; landscape (1,047 px) holds
22 characters and more in each."""


def _landscape(section: str, *rows) -> bool:
    """Whether ``section`` prints landscape: one of its amount cells (the ``num`` cells of ``rows``,
    lists of :class:`Cell`) is longer than :data:`PORTRAIT_AMOUNT_CHARS` allows."""
    return any(len(c.text) > PORTRAIT_AMOUNT_CHARS[section] for cells in rows for c in cells if "num" in c.css)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, tuple):
        return ", ".join(_scalar(v) for v in value) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return count(value)
    return str(value)


def _kind(channel: str) -> str:
    if channel == "(direct)":
        return "direct"
    return "partner" if channel.startswith("partner:") else "own"


def _header(run: RunData) -> dict:
    model = dict(run.model)
    first = run.attribution.records()[0] if run.attribution and run.attribution.rows else {}
    name = model.get("model") or first.get("model")
    game = model.get("game") if "game" in model else first.get("game")
    facts = [
        ("Period", run.period or first.get("period") or "—"),
        ("Model", MODEL_LABEL.get(str(name), str(name)) if name else "—"),
        ("Game", game or "—"),
        ("α (Shapley weight)", _scalar(model["alpha"]) if name == "hybrid" and "alpha" in model else "—"),
        ("Method", _scalar(model.get("method"))),
        ("Value attributed", _scalar(model.get("value"))),
        ("Seed", _scalar(model.get("seed"))),
        ("Engine", ", ".join(f"{v}" if k == "name" else f"{k} {v}" for k, v in run.engine) or NOT_IN_RUN),
        ("Run id", run.run_id or "—"),
        ("Version", run.version or "—"),
        ("Reporting currency", run.reporting_currency or "—"),
    ]
    inputs = [{
        "name": i.name,
        "file": PurePath(i.path).name if i.path else "—",
        "path": i.path or "",
        "size": count(i.size),
        "read": count(i.rows_read), "accepted": count(i.rows_accepted), "rejected": count(i.rows_rejected),
        "sha": short_sha(i.sha256),
        "sha_full": i.sha256 or "",
    } for i in run.inputs]
    shown = {"model", "game", "alpha", "method", "value", "seed"}
    parameters = [(k, _scalar(v)) for k, v in run.model if k not in shown]
    return {"facts": facts, "inputs": inputs, "parameters": parameters,
            "choices": [(k, _scalar(v)) for k, v in run.choices],
            "order_ids": [(k, _scalar(v)) for k, v in run.order_ids],
            "journeys": [(k, _scalar(v)) for k, v in run.journeys]}


def _adds_up(total: str | None, *parts: str | None) -> bool | None:
    values = [_decimal(t) for t in (total, *parts)]
    if any(v is None for v in values):
        return None
    return values[0] == sum(values[1:], Decimal(0))


def _status(flag: bool | None, arithmetic: bool | None) -> tuple[str, str]:
    """(words, css class): the manifest's verdict, overruled by figures that do not add up."""
    if arithmetic is False or flag is False:
        return ("NOT balanced" + (" (the figures do not add up)" if arithmetic is False and flag is not False else ""),
                "bad")
    if flag is None and arithmetic is None:
        return ("not stated", "unknown")
    return ("balanced", "ok")


def _reconciliation(run: RunData) -> dict:
    rec = run.reconciliation
    if rec is None:
        return {"available": False}
    rows_ok = _adds_up(*(str(x) if x is not None else None for x in (rec.rows_read, rec.rows_accepted, rec.rows_rejected)))
    rows_status = _status(None, rows_ok)
    currencies = []
    bad = []
    for c in rec.by_currency:
        conv_ok = _adds_up(*(str(x) if x is not None else None for x in (
            c.conversions_read, c.conversions_rejected, c.conversions_outside_run, c.conversions_in_run)))
        gmv_ok = _adds_up(c.gmv_read, c.gmv_rejected, c.gmv_outside_run, c.gmv_in_run)
        arithmetic = None if conv_ok is None and gmv_ok is None else (conv_ok is not False and gmv_ok is not False)
        words, css = _status(c.balanced, arithmetic)
        if css == "bad":
            bad.append(c.currency)
        ccy = c.currency if c.currency != "?" else None
        currencies.append({
            "currency": "? (unreadable)" if c.currency == "?" else c.currency,
            "cells": [_num(count(c.conversions_read)), _num(amount(c.gmv_read, ccy)),
                      _num(count(c.conversions_rejected)), _num(amount(c.gmv_rejected, ccy)),
                      _num(count(c.conversions_outside_run)), _num(amount(c.gmv_outside_run, ccy)),
                      _num(count(c.conversions_in_run)), _num(amount(c.gmv_in_run, ccy))],
            "status": words, "css": css,
        })
    reporting = None
    if rec.reporting is not None:
        r = rec.reporting
        diff = _decimal(r.difference)
        arithmetic = _adds_up(r.gmv_in_run, r.gmv_attributed) if diff is None else (
            _adds_up(r.gmv_in_run, r.gmv_attributed, r.difference) or _adds_up(r.gmv_attributed, r.gmv_in_run, r.difference))
        words, css = _status(r.balanced, arithmetic)
        if css == "bad":
            bad.append(f"{r.currency or 'reporting currency'} (attributed)")
        rc = r.currency or run.reporting_currency
        reporting = {"currency": rc or "", "gmv_in_run": amount(r.gmv_in_run, rc),
                     "gmv_attributed": amount(r.gmv_attributed, rc), "gmv_direct": amount(r.gmv_direct, rc),
                     "difference": amount(r.difference, rc), "status": words, "css": css}
    if rows_status[1] == "bad":
        bad.insert(0, "event rows")
    if bad:
        verdict = ("NOT reconciled: " + ", ".join(bad), "bad")
    elif not currencies and reporting is None:
        verdict = ("Reconciliation per currency not in this run", "unknown")
    else:
        verdict = ("Reconciled: every currency balances"
                   + (f" and the GMV of the run's conversions in {reporting['currency']} equals the GMV attributed"
                      if reporting else ""), "ok")
    return {"available": True, "rows": {"read": count(rec.rows_read), "accepted": count(rec.rows_accepted),
                                        "rejected": count(rec.rows_rejected), "status": rows_status[0],
                                        "css": rows_status[1], "known": rec.rows_read is not None},
            "currencies": currencies, "reporting": reporting, "verdict": verdict[0], "verdict_css": verdict[1],
            "landscape": _landscape("reconciliation", *(c["cells"] for c in currencies))}


def _credits(run: RunData) -> dict:
    from .charts import CreditBar, credits_chart

    table = run.attribution
    if table is None or not table.has("channel", "conversions", "gmv", "share") or not table.rows:
        return {"available": False, "why": "attribution.csv is missing" if table is None else
                "attribution.csv has no credit rows"}
    value = run.model_value("value") or "gmv"
    value_col = "conversions" if value == "conversions" else "gmv"
    ccy = run.reporting_currency or ""
    digits = minor_digits(ccy)
    has_mc = table.has("ci_low", "ci_high") and any(r["ci_low"] for r in table.records())
    has_bs = table.has("bootstrap_low", "bootstrap_high") and any(r["bootstrap_low"] for r in table.records())
    unit_digits = digits if value_col == "gmv" else 2

    def interval(lo: str, hi: str) -> str:
        lo_f, hi_f = _float(lo), _float(hi)
        return "—" if lo_f is None or hi_f is None else f"{fixed(lo_f, unit_digits)} – {fixed(hi_f, unit_digits)}"

    bars, rows, notes = [], [], []
    total_conv = total_gmv = total_share = 0.0
    for r in table.records():
        conv, gmv, share = _float(r["conversions"]), _float(r["gmv"]), _float(r["share"])
        total_conv += conv or 0.0
        total_gmv += gmv or 0.0
        total_share += share or 0.0
        v = _float(r[value_col])
        mc = (_float(r.get("ci_low")), _float(r.get("ci_high")))
        bs = (_float(r.get("bootstrap_low")), _float(r.get("bootstrap_high")))
        bars.append(CreditBar(r["channel"], v or 0.0, _kind(r["channel"]), mc if None not in mc else None,
                              bs if None not in bs else None))
        rows.append({"channel": neutralise(r["channel"]), "kind": _kind(r["channel"]), "sort": (-(v or 0.0), r["channel"]),
                     "cells": [_num(fixed(conv, 2)), _num(fixed(gmv, digits)), _num(percent(share)),
                               *([Cell(interval(r["ci_low"], r["ci_high"]), "num")] if has_mc else []),
                               *([Cell(interval(r["bootstrap_low"], r["bootstrap_high"]), "num")] if has_bs else [])]})
    rows.sort(key=lambda row: row["sort"])  # the chart's order: largest credit first
    bars.sort(key=lambda b: (-b.value, b.channel))
    shown = bars[:CHART_MAX_CHANNELS]
    if len(bars) > len(shown):
        notes.append(f"The chart shows the {len(shown)} largest of {len(bars)} channels; the table lists all.")
    unit_label = f"GMV credit ({ccy})" if value_col == "gmv" else "conversions credit"
    columns = ["Conversions", f"GMV ({ccy})" if ccy else "GMV", "Share",
               *([f"Monte Carlo 95% CI ({'GMV' if value_col == 'gmv' else 'conversions'})"] if has_mc else []),
               *([f"Bootstrap 95% ({'GMV' if value_col == 'gmv' else 'conversions'})"] if has_bs else [])]
    if not has_mc:
        notes.append("Credits are exact (no Monte Carlo interval).")
    if not has_bs:
        notes.append("No bootstrap was run (no resampling interval).")
    return {"available": True, "svg": credits_chart(shown, unit_label), "columns": columns, "rows": rows,
            "total": [_num(fixed(total_conv, 2)), _num(fixed(total_gmv, digits)), _num(percent(total_share))],
            "extra_cols": int(has_mc) + int(has_bs), "notes": notes, "value_col": value_col}


def _models(run: RunData) -> dict:
    from .charts import models_chart

    table = run.models
    if table is None:
        return {"available": False, "why": "models.csv is not in this run"}
    if not table.has("model", "channel", "share"):
        return {"available": False, "why": "models.csv lacks the model, channel or share column"}
    shares: dict[str, dict[str, float]] = OrderedDict()
    games: dict[str, str] = {}
    for r in table.records():
        s = _float(r["share"])
        if s is not None:
            shares.setdefault(r["model"], {})[r["channel"]] = s
            games.setdefault(r["model"], r.get("game", ""))
    models = [m for m in MODELS_ORDER if m in shares] + [m for m in shares if m not in MODELS_ORDER]
    if not models:
        return {"available": False, "why": "models.csv has no rows"}
    run_model = run.model_value("model")
    key = run_model if run_model in shares else models[-1]
    channels = sorted({c for m in models for c in shares[m]}, key=lambda c: (-shares[key].get(c, float("-inf")), c))
    value = run.model_value("value") or "gmv"
    from .charts import MODEL_STYLE

    alpha = run.model_value("alpha")
    headers = []
    for m in models:
        label = MODEL_STYLE.get(m, (m,))[0]
        if m == "hybrid" and alpha is not None:
            label += f" α={_scalar(alpha)}"
        headers.append(label)
    rows = [{"channel": neutralise(c), "kind": _kind(c),
             "cells": [_num(percent(shares[m].get(c), 1)) if c in shares[m] else Cell("—", "num") for m in models]}
            for c in channels]
    unit = "share of attributed GMV" if value != "conversions" else "share of attributed conversions"
    shown = channels[:CHART_MAX_CHANNELS]
    note = (f"The chart shows the {len(shown)} largest of {len(channels)} channels; the table lists all."
            if len(channels) > len(shown) else "")
    return {"available": True, "svg": models_chart(shown, shares, models, unit), "headers": headers, "rows": rows,
            "unit": unit, "note": note}


def _kpi_pivot(rows: list[dict[str, str]]) -> tuple[list[str], list[dict]]:
    kpis: list[str] = []
    by_scope: dict[str, dict[str, str]] = OrderedDict()
    for r in rows:
        if r["kpi"] not in kpis:
            kpis.append(r["kpi"])
        by_scope.setdefault(r["scope"], {})[r["kpi"]] = r["value"]
    return kpis, [{"scope": s, "values": by_scope[s]} for s in sorted(by_scope)]


def _channel_kpi_order(kpis: list[str]) -> list[str]:
    def rank(k: str) -> tuple[int, int, str]:
        base = k.removesuffix("_last_touch")
        return (CHANNEL_KPIS.index(base), k != base, k)

    return sorted(kpis, key=rank)


def _kpi_table(kpi: str, scope: str, partner_ids: set[str]) -> str:
    """The report table of a kpis.csv row, by its KPI name; ``"other"`` for a name the report does not
    know, or a partner KPI of a partner the payouts table does not list (shown as written, never dropped)."""
    if kpi.removesuffix("_last_touch") in CHANNEL_KPIS:
        return "channel"
    if kpi in PROGRAMME_TOTALS and scope == "*":
        return "total"
    if kpi in COUNTRY_KPIS and scope != "*":
        return "country"
    if kpi in PARTNER_KPIS and scope == "*":
        return "programme_wide"
    if kpi in PARTNER_KPIS and scope in partner_ids:
        return "partner"
    return "other"


def _kpi_label(k: str) -> str:
    base = k.removesuffix("_last_touch")
    label = KPI_LABEL.get(base, base.replace("_", " ").capitalize())
    return label + (" (last touch)" if k != base else "")


def _partners(run: RunData, partner_kpis: dict[str, dict[str, str]]) -> dict:
    table = run.payouts
    summary = run.payouts_summary
    if table is None or not table.has("partner_id", "currency"):
        return {"available": False}
    noise = {(n.partner_id, n.currency): n.half_width for n in summary.payout_noise} if summary else {}
    recs = table.records()
    below, unchecked = _participation(run)
    rows, rates = [], []
    for r in recs:
        pid = r["partner_id"]
        flags = []
        if pid in below:
            flags.append(("below min profit", "warn"))
        elif pid in unchecked:
            flags.append((MIN_PROFIT_UNCHECKED_FLAG, "unknown"))
        if r.get("privileges_withheld") == "true":
            flags.append(("MAP: rebate and co-op withheld", "bad"))
        low, high = r.get("attributed_gmv_low", ""), r.get("attributed_gmv_high", "")
        attributed = _num(amount(r.get("attributed_gmv")))
        if low and high:
            attributed = Cell(attributed.text, attributed.css, f"{amount(low)} – {amount(high)}")
        total = _num(amount(r.get("total_payable")))
        if (pid, r["currency"]) in noise:
            total = Cell(total.text, total.css, f"± {amount(noise[(pid, r['currency'])])} (MC)")
        rows.append({"id": neutralise(pid), "name": neutralise(r.get("partner_name", "")), "country": r.get("country", ""),
                     "currency": r["currency"], "flags": flags, "css": "flagged" if flags else "",
                     "cells": [attributed] + [_num(amount(r.get(k))) for k in
                                              ("compensation", "referral_commission", "rebate", "coop")] + [total]})
        k = partner_kpis.get(pid, {})
        rate_cells = [_num(r.get("gamma") or "—"), _num(amount(r.get("referral_gmv"))), _num(r.get("beta") or "—"),
                      _num(amount(r.get("sales"))), _num(amount(r.get("sales_target"))),
                      _num(k.get("sell_through") or "—"), _num(r.get("rho") or "—"),
                      _num(k.get("partner_attributed_share") or "—"), _num(k.get("payout_cost_share") or "—")]
        if "map_compliance" in table.columns:
            rate_cells.append(_num(r.get("map_compliance") or "—"))
        rates.append({"id": neutralise(pid), "currency": r["currency"], "cells": rate_cells, "css": "flagged" if flags else ""})
    rate_headers = ["γ", "Referral GMV", "β", "Sales", "Sales target", "Sell-through", "ρ", "Attributed share",
                    "Payout cost / attributed GMV"] + (["MAP compliance"] if "map_compliance" in table.columns else [])
    # Totals per currency: the manifest's, else summed here from payouts.csv (exact decimals).
    totals = []
    fields = ("attributed_gmv", "compensation", "referral_gmv", "referral_commission", "rebate", "coop", "total_payable")
    if summary and summary.totals_by_currency:
        for t in summary.totals_by_currency:
            totals.append({"currency": t.currency, "cells": [_num(amount(getattr(t, f))) for f in fields]})
        totals_source = "manifest.json"
    else:
        sums: dict[str, dict[str, Decimal]] = OrderedDict()
        for r in sorted(recs, key=lambda r: r["currency"]):
            acc = sums.setdefault(r["currency"], {f: Decimal(0) for f in fields})
            for f in fields:
                acc[f] += _decimal(r.get(f)) or Decimal(0)
        for ccy, acc in sums.items():
            totals.append({"currency": ccy, "cells": [_num(amount(f"{acc[f]:f}")) for f in fields]})
        totals_source = "payouts.csv"
    coop = []
    if summary:
        for b in summary.coop:
            carried = _decimal(b.carried_over)
            coop.append({"scope": neutralise(b.scope), "currency": b.currency,
                         "cells": [_num(amount(b.budget)), _num(amount(b.spent)), _num(amount(b.carried_over))],
                         "carried": bool(carried), "css": "flagged" if carried else "",
                         "allocations": [(neutralise(p), amount(a)) for p, a in b.allocations]})
    return {"available": True, "rows": rows, "rate_headers": rate_headers, "rates": rates, "totals": totals,
            "totals_source": totals_source, "coop": coop, "coop_known": summary is not None,
            "not_in_force": [neutralise(p) for p in summary.not_in_force] if summary else [],
            "notes": list(summary.notes) if summary else [],
            "untouched": _untouched(summary),
            "below": [neutralise(p) for p in sorted(below)],
            "unchecked": [neutralise(p) for p in sorted(unchecked)],
            "has_noise": bool(noise),
            "landscape": _landscape("partners", *(r["cells"] for r in rows), *(t["cells"] for t in totals),
                                    *(r["cells"] for r in rates), *(b["cells"] for b in coop))}


LISTED_UNTOUCHED = 50
"""Most partner channels without a touch the report names (the manifest lists every one)."""


def _untouched(summary) -> dict | None:
    """The paid partners' channels with no touch in the run's journeys (credited 0), the first
    :data:`LISTED_UNTOUCHED` named: a mistyped label looks the same as a quiet month."""
    pairs = summary.channels_without_touch if summary else ()
    if not pairs:
        return None
    more = len(pairs) - LISTED_UNTOUCHED
    return {"count": count(len(pairs)), "one": len(pairs) == 1, "more": count(more) if more > 0 else None,
            "listed": [(neutralise(pid), neutralise(ch)) for pid, ch in pairs[:LISTED_UNTOUCHED]]}


def _participation(run: RunData) -> tuple[set[str], set[str]]:
    """(partners below the participation floor, partners whose participation was not checked).

    Below: ``below_min_profit`` true in payouts.csv, or listed by the manifest. Not checked (no sales
    row, so the gross margin is unknown; neither flagged nor cleared): the cell empty, or listed under
    the manifest's ``min_profit_unchecked`` (absent from a manifest written before it existed)."""
    table, summary = run.payouts, run.payouts_summary
    recs = table.records() if table is not None and table.has("partner_id", "below_min_profit") else []
    below = {r["partner_id"] for r in recs if r["below_min_profit"] == "true"}
    unchecked = {r["partner_id"] for r in recs if r["below_min_profit"] == ""}
    if summary is not None:
        below |= set(summary.below_min_profit)
        unchecked |= set(summary.min_profit_unchecked)
    return below, unchecked - below


def _kpis(run: RunData) -> tuple[dict, dict, dict[str, dict[str, str]]]:
    """(KPIs by country, programme figures, partner KPIs by partner id) from kpis.csv, map_compliance.csv
    and the manifest's worst MAP violations. Each kpis.csv row is shown once, in the table of its KPI name."""
    table = run.kpis
    partners = run.payouts
    partner_ids = set(partners.column("partner_id")) if partners and partners.has("partner_id", "currency") else set()
    channels = set(run.attribution.column("channel")) if run.attribution and run.attribution.has("channel") else set()
    rows: dict[str, list[dict[str, str]]] = {k: [] for k in ("country", "channel", "total", "programme_wide",
                                                             "partner", "other")}
    if table is not None and table.has("kpi", "scope", "value"):
        seen: set[tuple[str, str]] = set()
        for r in table.records():
            key = (r["kpi"], r["scope"])
            # a repeated (kpi, scope), from an edited file, would overwrite the first in its table
            rows["other" if key in seen else _kpi_table(*key, partner_ids)].append(r)
            seen.add(key)
    partner_kpis: dict[str, dict[str, str]] = {}
    for r in rows["partner"]:
        partner_kpis.setdefault(r["scope"], {})[r["kpi"]] = r["value"]
    kpis, scopes = _kpi_pivot(rows["country"])
    by_country = {"available": table is not None, "headers": [_kpi_label(k) for k in kpis],
                  "rows": [{"scope": neutralise(s["scope"]), "cells": [_num(s["values"].get(k, "") or "—") for k in kpis]}
                           for s in scopes],
                  "programme_wide": [(_kpi_label(r["kpi"]), r["value"] or "—") for r in rows["programme_wide"]],
                  "other": [{"kpi": neutralise(r["kpi"]), "scope": neutralise(r["scope"]),
                             "cells": [_num(r["value"] or "—")]} for r in rows["other"]]}
    ckpis, cscopes = _kpi_pivot(rows["channel"])
    ckpis = _channel_kpi_order(ckpis)
    ccy = run.reporting_currency or ""
    programme = {
        "totals": [(KPI_LABEL.get(r["kpi"], r["kpi"]), _num(amount(r["value"]))) for r in
                   sorted(rows["total"], key=lambda r: PROGRAMME_TOTALS.index(r["kpi"]))],
        "channel_headers": [_kpi_label(k) for k in ckpis],
        "channel_rows": [{"scope": neutralise(s["scope"]), "absent": s["scope"] not in channels,
                          "cells": [_num(amount(s["values"].get(k, ""))) for k in ckpis]} for s in cscopes],
        "currency": ccy,
        "map": None,
        "worst": _worst_violations(run),
    }
    m = run.map_compliance
    if m is not None and m.has("partner_id", "map_observations", "map_violations", "map_compliance"):
        programme["map"] = [{"id": neutralise(r["partner_id"]),
                             "cells": [_num(count(int(r["map_observations"])) if r["map_observations"].isdigit()
                                            else r["map_observations"] or "—"),
                                       _num(r["map_violations"] or "—"), _num(r["map_compliance"] or "—")],
                             "css": "flagged" if (_decimal(r["map_violations"]) or 0) > 0 else ""}
                            for r in m.records()]
    has_inputs = bool(programme["totals"] or programme["channel_rows"] or programme["map"] is not None
                      or programme["worst"] is not None
                      or (run.margins is not None and run.margins.column and run.margins.reported is False))
    # without any programme input the section says so as a whole; with some, it says why Π is missing
    programme["profit_notes"] = _profit_notes(run, {r["kpi"] for r in rows["total"]}) if has_inputs else []
    programme["available"] = has_inputs
    return by_country, programme, partner_kpis


def _profit_notes(run: RunData, totals: set[str]) -> list[str]:
    """Why the programme profit Π is not on the page, one sentence per reason the run directory shows
    (PROGRAMME.md: Π is never guessed); none when kpis.csv has Π or the manifest does not say why."""
    if "programme_profit" in totals:
        return []
    notes = []
    margins = run.margins
    if margins is not None and not margins.column:
        notes.append("Profit Π not reported: the events have no margin column.")
    elif margins is not None and margins.reported is False:
        n = margins.conversions_without_margin
        why = ("some conversions of the run have no margin" if n is None else
               "the run's order margins are incomplete" if n == 0 else
               f"{count(n)} conversion{'s' if n != 1 else ''} of the run {'have' if n != 1 else 'has'} no margin")
        notes.append(f"Profit Π, Π_D2C, Σ Π_Ri and the attributed margins not reported: {why}.")
    unchecked = sorted(_participation(run)[1])
    if unchecked:
        notes.append(f"Programme profit Π and partners' profit Σ Π_Ri not reported: no sales row for "
                     f"{', '.join(neutralise(p) for p in unchecked)}, so "
                     f"{'its gross margin is' if len(unchecked) == 1 else 'their gross margins are'} unknown.")
    return notes


def _worst_violations(run: RunData) -> list[dict] | None:
    """PROGRAMME.md's five worst MAP violations (largest relative undercut), as the manifest lists them."""
    if run.worst_violations is None:
        return None

    def price(text: str | None, currency: str | None) -> Cell:
        return _num(f"{amount(text)} {currency}" if currency else amount(text))

    return [{"id": neutralise(v.partner_id or "—"),
             "cells": [Cell(neutralise(v.sku or "—"), "mono"), Cell(v.date or "—"), price(v.price, v.currency),
                       price(v.map_price, v.map_currency), _num(v.relative_undercut or "—"),
                       _num(v.prices_row or "—")]}
            for v in run.worst_violations]


def _rejects(run: RunData) -> dict:
    table = run.rejects
    if table is None or not table.has("source", "row", "column", "value", "reason"):
        return {"available": False}
    groups: dict[tuple[str, str, str], list[dict[str, str]]] = OrderedDict()
    for r in table.records():
        groups.setdefault((PurePath(r["source"]).name or r["source"], r["column"], r["reason"]), []).append(r)
    rows = [{"source": neutralise(src), "column": neutralise(col), "reason": neutralise(reason),
             "count": count(len(rs)),
             "examples": [(neutralise(e["row"]), neutralise(e["value"]))
                          for e in rs[:3]]}
            for (src, col, reason), rs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
    return {"available": True, "total": count(len(table.rows)), "rows": rows}


def build_context(run: RunData) -> dict:
    by_country, programme, partner_kpis = _kpis(run)
    return {
        "title": f"Attribution run {run.period or ''}".strip(),
        "run_id": run.run_id,
        "header": _header(run),
        "recon": _reconciliation(run),
        "credits": _credits(run),
        "models": _models(run),
        "partners": _partners(run, partner_kpis),
        "kpis": by_country,
        "programme": programme,
        "rejects": _rejects(run),
        "reporting_currency": run.reporting_currency or "",
        "report_version": __version__,
        "not_in_run": NOT_IN_RUN,
        "foreign_tool": run.tool not in (None, "shapley_attr"),
        "altered": list(run.altered),
        "tool": run.tool,
    }


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("shapley_attr.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def render_html(run: RunData) -> bytes:
    from markupsafe import Markup

    context = build_context(run)
    for key in ("credits", "models"):
        if context[key].get("svg"):
            context[key]["svg"] = Markup(context[key]["svg"])  # glyphs as paths; label titles escaped by charts
    html = _environment().get_template("report.html.j2").render(**context)
    return html.encode("utf-8")
