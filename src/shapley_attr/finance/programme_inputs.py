"""The programme's optional inputs (PROGRAMME.md): ``spend.csv``, ``map.csv`` and ``prices.csv``.

Read like the other finance files (``contracts.read_rows``: UTF-8 CSV with a header, straight into
Decimal, every problem an :class:`~shapley_attr.errors.Issue`). A bad spend or MAP row stops the run
(exit 2, every problem listed with file, row and column, with those of the finance files); a price
observation that cannot be used (a bad value, an unknown partner, no MAP row, no FX rate to compare
currencies) is a reject (file, row, column, reason in ``rejects.csv``), as PROGRAMME.md says.

Rules chosen where PROGRAMME.md is silent:
- spend rows and price observations count for the run's period only (spend by its ``period``, an
  observation by its ``date``); rows of other periods are checked but not used, like sales rows;
- a MAP row applies from ``valid_from`` to ``valid_to`` inclusive (empty = open); two rows of one
  sku and country whose validity overlaps are an error;
- an observation in another currency than its MAP row is compared in R, each amount converted with
  the rate of the observation's date (else the latest earlier date, as conversions are);
- observations of a partner that is not paid this period (no contract in force, outside the pilot
  countries) are checked, kept out of every count, and not rejected.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

from ..errors import Issue
from ..schema import MAP_COLUMNS, PRICE_COLUMNS, SPEND_COLUMNS
from .contracts import (FinanceInputs, _currency, _date, _decimal, _period, budget_in_pilot, missing_last_day_rate,
                        paid_in_pilot, partner_ids_in, period_days, rate_on, read_rows, whole_minor_units)
from .money import CONTEXT
from .programme import map_compliance


@dataclass(frozen=True)
class MapRow:
    sku: str
    country: str
    currency: str
    map_price: Decimal
    valid_from: date | None
    valid_to: date | None
    row: int


@dataclass(frozen=True)
class PriceObservation:
    """An accepted observation of the period, matched to its MAP row."""

    row: int
    day: date
    partner_id: str
    sku: str
    price: Decimal
    currency: str
    map_row: MapRow
    violation: bool
    undercut: Decimal  # (map − price) / map in a common currency; > 0 on a violation

    def record(self) -> dict:
        return {"partner_id": self.partner_id, "date": self.day.isoformat(), "sku": self.sku,
                "price": f"{self.price:f}", "currency": self.currency, "map_price": f"{self.map_row.map_price:f}",
                "map_currency": self.map_row.currency, "relative_undercut": f"{self.undercut.quantize(Decimal('0.000001')):f}",
                "prices_row": self.row}


@dataclass
class ProgrammeInputs:
    """What the run reads beyond DATA.md's inputs; each part None when its file is not given."""

    spend: dict[str, Decimal] | None = None  # channel -> the period's spend in R (last-day rates)
    spend_by_currency: dict[str, dict[str, Decimal]] | None = None  # channel -> currency -> spend
    observations: list[PriceObservation] | None = None
    compliance: dict | None = None  # partner_id -> programme.MapCompliance (every paid partner)
    price_rejects: list[Issue] = field(default_factory=list)
    rows: dict = field(default_factory=dict)  # per file: read / accepted / rejected
    outside_partners: list[str] = field(default_factory=list)  # pilot: partners of other countries
    outside_budgets: list = field(default_factory=list)  # pilot: co-op budgets of other countries
    pilot_without_partners: list[str] = field(default_factory=list)  # pilot codes no partner nor budget has

    @property
    def has_map(self) -> bool:
        return self.compliance is not None

    def worst_violations(self, n: int = 5) -> list[dict]:
        """The ``n`` largest relative undercuts (ties by prices.csv row)."""
        bad = [o for o in self.observations or () if o.violation and o.partner_id in (self.compliance or {})]
        return [o.record() for o in sorted(bad, key=lambda o: (-o.undercut, o.row))[:n]]


def scope_to_countries(finance: FinanceInputs, countries: tuple[str, ...] | None
                       ) -> tuple[FinanceInputs, list[str], list]:
    """The finance inputs of a pilot: partners and co-op budgets of other countries are not paid (a
    budget of scope ``*`` stays, shared among the pilot's partners). Returns (inputs, partners left
    out, budgets left out)."""
    if not countries:
        return finance, [], []
    keep = set(countries)
    partners = [p for p in finance.partners if paid_in_pilot(p, keep)]
    budgets = [b for b in finance.coop if budget_in_pilot(b, keep)]
    out_partners = sorted(p.partner_id for p in finance.partners if not paid_in_pilot(p, keep))
    out_budgets = [b for b in finance.coop if not budget_in_pilot(b, keep)]
    return replace(finance, partners=partners, coop=budgets), out_partners, out_budgets


def read_programme(config, finance: FinanceInputs, issues: list[Issue], partners_path: Path | None = None
                   ) -> ProgrammeInputs:
    """Read and check spend.csv, map.csv and prices.csv as named in ``config`` (each optional) against
    the run's period and ``finance`` (partners in force, FX). Every spend and MAP problem (and any
    file-level problem of prices.csv) is added to ``issues``, which the caller raises with those of
    the finance files (``finance`` may be partial then: its faulty rows left out); bad price rows are
    rejects."""
    out = ProgrammeInputs()
    period, reporting = config.period, config.reporting_currency
    fx_source = str(config.fx)
    if config.spend:
        out.spend, out.spend_by_currency, out.rows["spend"] = read_spend(
            Path(config.spend), period, reporting, finance.fx if finance.fx_read else None, fx_source, issues)
    map_rows = None
    if config.map:
        map_rows, out.rows["map"] = read_map(Path(config.map), issues)
    if config.prices and map_rows is not None:
        known = partner_ids_in(partners_path) if partners_path is not None else {p.partner_id for p in finance.partners}
        out.observations, out.price_rejects, out.rows["prices"] = read_prices(
            Path(config.prices), period, reporting, finance, map_rows, known, issues)
        paid = [p.partner_id for p in finance.partners]
        out.compliance = map_compliance(paid, ((o.partner_id, o.violation) for o in out.observations))
    needs_map = [b for b in finance.coop if any(k == "map_compliance" for k, _ in b.basis)]
    if needs_map and out.compliance is None:
        b = needs_map[0]
        issues.append(Issue(str(config.coop), b.row, "basis", ";".join(f"{k}:{w}" for k, w in b.basis),
                            "a co-op basis with map_compliance needs the MAP inputs: give --map and --prices "
                            "(or map and prices in the run config)"))
    return out


def read_spend(path: Path, period: str, reporting: str, fx: dict | None, fx_source: str, issues: list[Issue]):
    """spend.csv: ``period, channel, currency, spend`` (spend >= 0, one row per period, channel and
    currency). Returns ({channel: spend in R}, {channel: {currency: spend}}, rows) for ``period``, the
    first two None when a currency has no rate on the period's last day (one issue per currency, at
    the spend row that first needs it) or when ``fx`` is None (the FX file could not be read: a
    missing rate is no news)."""
    src = str(path)
    rows = read_rows(path, SPEND_COLUMNS, issues)
    seen: dict[tuple[str, str, str], int] = {}
    by_currency: dict[str, dict[str, Decimal]] = {}
    first_row: dict[str, int] = {}  # currency -> the first spend row of the period in it
    n_bad = 0
    for row, rec in rows:
        before = len(issues)
        _period(rec["period"], src, row, issues)
        channel = rec["channel"]
        if not channel:
            issues.append(Issue(src, row, "channel", channel, "expected a channel label (as in the touches)"))
        ccy = _currency(rec["currency"], src, row, issues)
        amount = _decimal(rec["spend"], src, row, "spend", issues, Decimal(0), None, "a decimal amount >= 0")
        whole_minor_units(amount, ccy, src, row, "spend", rec["spend"], issues,
                          "an amount spent is a whole number of minor units")
        key = (rec["period"], channel, rec["currency"])
        if len(issues) == before and key in seen:
            issues.append(Issue(src, row, "channel", channel, f"duplicate spend row for {channel} in {rec['currency']} "
                                                               f"and {rec['period']} (also row {seen[key]}): expected "
                                                               "one row per channel and currency"))
        seen.setdefault(key, row)
        if len(issues) > before:
            n_bad += 1
            continue
        if rec["period"] == period:
            by_currency.setdefault(channel, {})[ccy] = amount
            first_row.setdefault(ccy, row)
    counts = {"read": len(rows), "accepted": len(rows) - n_bad, "rejected": n_bad}
    if fx is None:
        return None, None, counts
    last_day = period_days(period)[1]
    missing = [c for c in sorted(first_row) if c != reporting and (last_day, c) not in fx]
    for ccy in missing:
        issues.append(missing_last_day_rate(ccy, last_day, fx_source, src, first_row[ccy], "to convert this spend"))
    if missing:
        return None, None, counts
    spend = {ch: sum((a * rate_on(fx, c, last_day, reporting, fx_source) for c, a in v.items()), Decimal(0))
             for ch, v in sorted(by_currency.items())}
    return spend, by_currency, counts


def read_map(path: Path, issues: list[Issue]) -> tuple[dict[tuple[str, str], list[MapRow]], dict]:
    """map.csv: ``sku, country, currency, map_price, valid_from, valid_to``. Returns the rows by (sku,
    country), sorted by valid_from; overlapping validities of one sku and country are issues."""
    src = str(path)
    rows = read_rows(path, MAP_COLUMNS, issues)
    by_key: dict[tuple[str, str], list[MapRow]] = {}
    n_bad = 0
    for row, rec in rows:
        before = len(issues)
        sku = rec["sku"]
        if not sku:
            issues.append(Issue(src, row, "sku", sku, "expected a product sku"))
        country = rec["country"]
        if not (len(country) == 2 and country.isascii() and country.isalpha() and country.isupper()):
            issues.append(Issue(src, row, "country", country, "expected an ISO 3166-1 alpha-2 code like DE"))
        ccy = _currency(rec["currency"], src, row, issues)
        price = _decimal(rec["map_price"], src, row, "map_price", issues, None, None, "a price > 0")
        if price is not None and price <= 0:
            issues.append(Issue(src, row, "map_price", rec["map_price"], "expected a price > 0"))
        vf = _date(rec["valid_from"], src, row, "valid_from", issues, optional=True)
        vt = _date(rec["valid_to"], src, row, "valid_to", issues, optional=True)
        if vf and vt and vf > vt:
            issues.append(Issue(src, row, "valid_to", rec["valid_to"], f"expected a date on or after valid_from {vf}"))
        if len(issues) > before:
            n_bad += 1
            continue
        by_key.setdefault((sku, country), []).append(MapRow(sku, country, ccy, price, vf, vt, row))
    for (sku, country), versions in by_key.items():
        versions.sort(key=lambda m: (m.valid_from or date.min, m.row))
        for a, b in zip(versions, versions[1:]):
            if (b.valid_from or date.min) <= (a.valid_to or date.max):
                issues.append(Issue(src, b.row, "valid_from", str(b.valid_from or ""),
                                    f"MAP validity overlaps row {a.row} of sku {sku} in {country}: expected one MAP "
                                    f"price per sku, country and date (a valid_from after {a.valid_to})"))
    return by_key, {"read": len(rows), "accepted": len(rows) - n_bad, "rejected": n_bad}


def map_row_on(by_key: dict[tuple[str, str], list[MapRow]], sku: str, country: str, day: date) -> MapRow | None:
    for m in by_key.get((sku, country), ()):
        if (m.valid_from or date.min) <= day <= (m.valid_to or date.max):
            return m
    return None


class _AsOfRates:
    """rate_to_reporting of a currency on a date, else the latest earlier date (as conversions)."""

    def __init__(self, fx: dict, reporting: str) -> None:
        self.reporting = reporting
        self.days: dict[str, list[date]] = {}
        self.fx = fx
        for d, c in sorted(fx):
            self.days.setdefault(c, []).append(d)

    def __call__(self, currency: str, day: date) -> Decimal | None:
        if currency == self.reporting:
            return Decimal(1)
        days = self.days.get(currency, [])
        i = bisect.bisect_right(days, day)
        return self.fx[(days[i - 1], currency)] if i else None


def read_prices(path: Path, period: str, reporting: str, finance: FinanceInputs,
                map_rows: dict[tuple[str, str], list[MapRow]], known: set[str], issues: list[Issue]):
    """prices.csv: ``date, partner_id, sku, price, currency``. Returns (the period's accepted observations
    of paid partners, rejects, rows). File-level problems go to ``issues`` (exit 2); a row that cannot
    be used is a reject."""
    src = str(path)
    file_issues: list[Issue] = []
    rows = read_rows(path, PRICE_COLUMNS, file_issues)
    rejects = [i for i in file_issues if i.row > 0]  # e.g. a row with more fields than the header
    issues.extend(i for i in file_issues if i.row == 0)
    first, last = period_days(period)
    paid = {p.partner_id: p for p in finance.partners}
    rate = _AsOfRates(finance.fx, reporting)
    out: list[PriceObservation] = []
    for row, rec in rows:
        found: list[Issue] = []
        day = _date(rec["date"], src, row, "date", found)
        pid = rec["partner_id"]
        if not pid or pid not in known:
            found.append(Issue(src, row, "partner_id", pid, "unknown partner: expected a partner_id of the partners "
                                                            "file"))
        sku = rec["sku"]
        if not sku:
            found.append(Issue(src, row, "sku", sku, "expected a product sku"))
        price = _decimal(rec["price"], src, row, "price", found, Decimal(0), None, "a price >= 0")
        ccy = _currency(rec["currency"], src, row, found)
        if found:
            rejects.append(found[0])
            continue
        if not (first <= day <= last) or pid not in paid:
            continue
        country = paid[pid].country
        m = map_row_on(map_rows, sku, country, day)
        if m is None:
            rejects.append(Issue(src, row, "sku", sku, f"no MAP row for sku {sku} in {country} (partner {pid}'s "
                                                       f"country) on {day}: expected a map.csv row covering it"))
            continue
        if ccy == m.currency:
            price_c, map_c = price, m.map_price
        else:
            r_price, r_map = rate(ccy, day), rate(m.currency, day)
            if r_price is None or r_map is None:
                missing = ccy if r_price is None else m.currency
                rejects.append(Issue(src, row, "currency", ccy, f"no FX rate for {missing} on or before {day} to "
                                                                f"compare with the MAP price in {m.currency}"))
                continue
            price_c, map_c = price * r_price, m.map_price * r_map
        undercut = CONTEXT.divide(map_c - price_c, map_c)
        out.append(PriceObservation(row, day, pid, sku, price, ccy, m, price_c < map_c, undercut))
    # rows read: those parsed plus those the CSV reader itself put aside (more fields than the header)
    read = len({row for row, _ in rows} | {i.row for i in rejects})
    n_rej = len({i.row for i in rejects})
    return out, sorted(rejects), {"read": read, "accepted": read - n_rej, "rejected": n_rej}


