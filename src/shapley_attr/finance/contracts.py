"""Finance inputs (DATA.md inputs 3-5): partner contracts, partner sales, FX rates, co-op budgets.

These files are small and kept by hand, so they are read with the csv module straight into Decimal
(never through a float) and every problem is collected as an :class:`~shapley_attr.errors.Issue`
(beancount style); :func:`raise_issues` turns them into one ``ContractError`` listing them all.

Rules chosen where DATA.md is silent:
- a partner may have several contract rows (versions) with non-overlapping ``valid_from``/``valid_to``
  (inclusive dates, empty = open). For a period, the version covering the most days of the period
  applies to the whole period (ties: the later version); a partner with no version overlapping the
  period is not paid and is listed in the manifest. No pro-rating: attribution is monthly.
- ``rate_to_reporting`` converts an amount of ``currency`` into the reporting currency by
  multiplication (reporting = amount × rate). Conversions' GMV uses the rate of the conversion's UTC
  date, else the latest earlier date; payouts convert back with the rate of the period's last day
  (exactly that date; a missing rate is an error).
"""
from __future__ import annotations

import calendar
import csv
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from pathlib import Path

from ..config import month_of
from ..errors import ContractError, Issue
from .money import is_currency, minor_units, quantum

from ..schema import (COOP_COLUMNS, DIRECT, FX_COLUMNS, PARTNER_PREFIX, PARTNER_REQUIRED,
                      SALES_COLUMNS, spelt_otherwise)
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


@dataclass(frozen=True)
class Partner:
    partner_id: str
    partner_name: str
    country: str
    currency: str
    channels: tuple[str, ...]
    gamma: Decimal
    beta: Decimal
    rho: Decimal
    sales_target: Decimal
    min_profit: Decimal
    coop_eligible: bool
    rounding: str
    valid_from: date | None
    valid_to: date | None
    row: int
    map_min_compliance: Decimal | None = None  # PROGRAMME.md: 0-1, None = no requirement


DEFAULT_COOP_BASIS = (("attributed_gmv", Decimal(1)),)


@dataclass(frozen=True)
class CoopBudget:
    """One row of coop.csv for the period: a budget shared among the eligible partners of ``scope``.

    ``basis`` is the KPI blend that weighs the partners (PROGRAMME.md "Co-op by KPI"): (kpi, weight)
    pairs with weights >= 0 summing to 1; attributed GMV alone by default."""

    scope: str  # a country code or "*"
    currency: str
    budget: Decimal
    row: int
    basis: tuple[tuple[str, Decimal], ...] = DEFAULT_COOP_BASIS


@dataclass
class FinanceInputs:
    partners: list[Partner]  # the versions in force for the period, sorted by partner_id
    sales: dict[str, tuple[Decimal, Decimal]]  # partner_id -> (sales, gross_margin) for the period
    fx: dict[tuple[date, str], Decimal]
    coop: list[CoopBudget]
    not_in_force: list[str] = field(default_factory=list)
    rows: dict = field(default_factory=dict)  # per file: read / accepted / rejected
    fx_read: bool = True  # False: the FX file could not be read at all, so a missing rate is no news


def paid_in_pilot(partner: Partner, countries) -> bool:
    """Whether a pilot of ``countries`` (None or empty: no pilot) pays ``partner``: its country is one
    of the pilot's (PROGRAMME.md, "Pilot scope")."""
    return not countries or partner.country in countries


def budget_in_pilot(budget: CoopBudget, countries) -> bool:
    """Whether a pilot of ``countries`` shares out a co-op ``budget``: its scope is ``*`` or one of the
    pilot's countries."""
    return not countries or budget.scope == "*" or budget.scope in countries


def read_finance(partners: Path, sales: Path, fx: Path, coop: Path, period: str, reporting: str,
                 issues: list[Issue], countries: tuple[str, ...] | None = None) -> FinanceInputs:
    """Read and check the four finance files of a run; every problem of every file is added to
    ``issues``, which the caller raises with those of the programme's inputs (:func:`raise_issues`:
    one ContractError listing them all, nothing written before). The rates of the period's last day
    must exist for the currency of every partner and every budget the run pays (payouts convert with
    them): in a pilot of ``countries``, those of the pilot (:func:`paid_in_pilot`,
    :func:`budget_in_pilot`); a partner of another country is not paid, so its currency needs no rate.

    A check that needs a file that could not be read at all (a file-level issue) is skipped: with no
    partners file every sales row would be an unknown partner, with no FX file every currency a
    missing rate."""
    before_partners = len(issues)
    in_force, not_in_force, partner_rows = read_partners(partners, period, issues)
    written = partner_ids_in(partners) if not any(i.row == 0 for i in issues[before_partners:]) else set()
    partners_read = _was_read(written, issues[before_partners:])
    known = ({p.partner_id for p in in_force} | set(not_in_force) | written) if partners_read else None
    sales_by_partner, sales_rows = read_sales(sales, period, known, issues,
                                              {p.partner_id: p.currency for p in in_force})
    before_fx = len(issues)
    rates, fx_rows = read_fx(fx, issues, reporting)
    fx_read = _was_read(rates, issues[before_fx:])
    budgets, coop_rows = read_coop(coop, period, issues)
    if fx_read:
        last_day = period_days(period)[1]
        needed_by = [(p.currency, str(partners), p.row, f"partner {p.partner_id}")
                     for p in sorted(in_force, key=lambda p: p.row) if paid_in_pilot(p, countries)]
        needed_by += [(b.currency, str(coop), b.row, f"the co-op budget of {b.scope}")
                      for b in budgets if budget_in_pilot(b, countries)]
        first_need: dict[str, tuple[str, str, int, str]] = {}
        for need in needed_by:
            first_need.setdefault(need[0], need)
        for ccy, src, row, payee in first_need.values():
            if ccy != reporting and (last_day, ccy) not in rates:
                issues.append(missing_last_day_rate(ccy, last_day, str(fx), src, row, f"to pay {payee}"))
    return FinanceInputs(in_force, sales_by_partner, rates, budgets, not_in_force,
                         {"partners": partner_rows, "sales": sales_rows, "fx": fx_rows, "coop": coop_rows}, fx_read)


def _was_read(found, issues: list[Issue]) -> bool:
    """Whether a file was read: no file-level issue (row 0), and rows found or no issue at all. A file
    that stops the reader at a row (bytes that are not UTF-8, a CSV error) yields nothing, and its
    issue names that row: checking other files against it would call every one of their rows wrong."""
    return not any(i.row == 0 for i in issues) and (bool(found) or not issues)


def missing_last_day_rate(currency: str, last_day: date, fx_source: str, src: str, row: int, why: str) -> Issue:
    """No rate for ``currency`` on the period's last day, named at the row of ``src`` that first needs
    it (not at the FX file's row 0: one issue per currency there would show only the first, the others
    being the same file, row and column)."""
    return Issue(src, row, "currency", currency,
                 f"missing FX rate for {currency} on {last_day} (the period's last day) in {fx_source}, needed "
                 f"{why}: expected a row '{last_day},{currency},<rate>' there")


def raise_issues(issues: list[Issue]) -> None:
    if issues:
        issues = sorted(issues)
        first = issues[0]
        raise ContractError(first.source, first.reason, row=first.row, column=first.column, value=first.value,
                            issues=issues)


def read_rows(path: Path, required: tuple[str, ...], issues: list[Issue]) -> list[tuple[int, dict]]:
    """(row number, record) pairs of a UTF-8 CSV with a header; missing columns become issues.

    Bad bytes (not UTF-8, UTF-16, a NUL byte), a header naming a column twice, a row with more fields
    than the header and an overlong field are issues naming the row and column too, never a crash.
    """
    import io

    from ..errors import InputError
    from ..io.readers import read_small_csv_text

    name = str(path)
    try:
        if not path.is_file():
            issues.append(Issue(name, 0, "", "", "is a directory, expected a CSV file" if path.is_dir()
                                else "file not found"))
            return []
        text = read_small_csv_text(path, name)
    except InputError as exc:
        issues.append(exc.issue)
        return []
    except OSError as exc:
        issues.append(Issue(name, 0, "", "", f"cannot be read: {exc.strerror}"))
        return []
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows: list[tuple[int, dict]] = []
    try:
        header = reader.fieldnames or []
        seen: dict[str, int] = {}
        for i, col in enumerate(header):
            if col in seen and col.strip():
                issues.append(Issue(name, 0, col, "", f"the header names column {col!r} twice (columns "
                                                      f"{seen[col] + 1} and {i + 1}): expected each column once"))
                return []
            seen.setdefault(col, i)
        missing = [c for c in required if c not in header]
        if missing:
            issues.append(Issue(name, 0, missing[0], "", f"missing column(s) {', '.join(missing)}; "
                                                           f"columns found: {', '.join(header)}"
                                                           + _separator_hint(header)
                                                           + _spelling_hint(header, missing)))
            return []
        for i, rec in enumerate(reader, start=1):
            extra = rec.pop(None, None)
            if extra:
                issues.append(Issue(name, i, "", ",".join(extra)[:80],
                                    f"more fields than the header's {len(header)} (line {reader.line_num}): "
                                    f"expected at most {len(header)} fields (a comma inside a value that is not "
                                    "quoted?)"))
                continue
            rows.append((i, {k: (v or "").strip() for k, v in rec.items()}))
    except csv.Error as exc:
        issues.append(Issue(name, len(rows) + 1, "", "", f"cannot be read as CSV near line {reader.line_num}: {exc}: "
                                                          "expected comma-separated values with short fields"))
        return []
    return rows


def _separator_hint(header: list[str]) -> str:
    """Why a header is one column, when it is: a spreadsheet in a locale whose decimal mark is a comma
    saves "CSV" separated by semicolons (or a tab-separated file was given)."""
    if len(header) != 1:
        return ""
    for sep, what in ((";", "semicolons (a spreadsheet's CSV in a locale with a decimal comma?)"), ("\t", "tabs")):
        if sep in header[0]:
            return f" (the header is separated by {what}: expected commas, and decimal points)"
    return ""


def _spelling_hint(header: list[str], missing: list[str]) -> str:
    """The header's spellings of missing columns (``Partner_ID``, `` gamma``): names are exact."""
    spelt = [f"{near!r} for {name}" for name, near in spelt_otherwise(header, missing)]
    return f" (names are exact, in lower case: {', '.join(spelt)})" if spelt else ""


def _comma_hint(text: str) -> str:
    """The reason's tail for a number with a comma among its digits (``0,08``, ``1.234,50``,
    ``1,234.50``): ``io.events.COMMA_IN_NUMBER``."""
    from ..io.events import COMMA_IN_NUMBER, COMMA_NUMBER

    return f" ({COMMA_IN_NUMBER})" if re.fullmatch(COMMA_NUMBER, text) else ""


MAX_AMOUNT = Decimal("1e18")
"""Beyond any real amount, and far enough below the 34 digits of ``money.CONTEXT`` that products and
rounding to minor units stay exact (1e308 parsed as a Decimal and multiplied by a rate raised
InvalidOperation deep in the payouts: an internal error)."""
MIN_AMOUNT = Decimal("1e-6")
"""The smallest non-zero figure: a sales target of 5e-324 made sales / target overflow the KPIs' 34 digits."""


_DECIMAL_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
"""What a decimal cell may say: ASCII digits (Python's Decimal also reads ``0.0_8`` as 0.08 and other
scripts' digits), an optional sign, point and exponent."""


def is_period(text: str) -> bool:
    """Whether ``text`` is a month as ``YYYY-MM`` (ASCII digits)."""
    return month_of(text) is not None


def _period(text: str, src: str, row: int, issues: list[Issue]) -> None:
    if not is_period(text):
        issues.append(Issue(src, row, "period", text, "expected a month as YYYY-MM, e.g. 2026-10"))


def _decimal(text: str, src: str, row: int, col: str, issues: list[Issue], lo=None, hi=None,
             expected: str = "a decimal number") -> Decimal | None:
    try:
        if not _DECIMAL_TEXT.fullmatch(text):
            raise InvalidOperation
        d = Decimal(text)
        if not d.is_finite():
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        issues.append(Issue(src, row, col, text, f"expected {expected}{_comma_hint(text)}"))
        return None
    if (lo is not None and d < lo) or (hi is not None and d > hi):
        issues.append(Issue(src, row, col, text, f"expected {expected}"))
        return None
    if abs(d) >= MAX_AMOUNT:
        issues.append(Issue(src, row, col, text, f"expected {expected} below 10^18 in absolute value"))
        return None
    if d and abs(d) < MIN_AMOUNT:
        issues.append(Issue(src, row, col, text, f"expected {expected}: 0 or at least 0.000001 in absolute value"))
        return None
    return d


def whole_minor_units(amount: Decimal | None, currency: str | None, src: str, row: int, col: str, text: str,
                      issues: list[Issue], why: str) -> None:
    """An amount of ``currency`` with more decimals than its minor unit (EUR 2, JPY 0, KWD 3) is an
    issue: such an amount would be computed with unrounded but printed rounded. Skipped when the amount
    or the currency is None (already an issue)."""
    if amount is None or currency is None:
        return
    if amount != amount.quantize(quantum(currency), rounding=ROUND_DOWN):
        issues.append(Issue(src, row, col, text, f"expected at most {minor_units(currency)} decimals for {currency} "
                                                 f"({why})"))


def _date(text: str, src: str, row: int, col: str, issues: list[Issue], optional: bool = False) -> date | None:
    if optional and text == "":
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        issues.append(Issue(src, row, col, text, "expected a date YYYY-MM-DD"))
        return None


def _currency(text: str, src: str, row: int, issues: list[Issue], col: str = "currency") -> str | None:
    if not is_currency(text):
        issues.append(Issue(src, row, col, text, "expected an ISO 4217 currency code like EUR"))
        return None
    return text


def period_days(period: str) -> tuple[date, date]:
    y, m = (int(x) for x in period.split("-"))
    return date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])  # December 9999 has no next month


def read_partners(path: Path, period: str, issues: list[Issue]) -> tuple[list[Partner], list[str], dict]:
    src = str(path)
    rows = read_rows(path, PARTNER_REQUIRED, issues)
    versions: dict[str, list[Partner]] = {}
    n_bad = 0
    for row, rec in rows:
        before = len(issues)
        pid = rec.get("partner_id", "")
        if not pid:
            issues.append(Issue(src, row, "partner_id", pid, "expected a partner id"))
        country = rec.get("country", "")
        if not (len(country) == 2 and country.isalpha() and country.isupper()):
            issues.append(Issue(src, row, "country", country, "expected an ISO 3166-1 alpha-2 code like DE"))
        ccy = _currency(rec.get("currency", ""), src, row, issues)
        rates = {c: _decimal(rec.get(c, ""), src, row, c, issues, Decimal(0), Decimal(1),
                             "a number between 0 and 1") for c in ("gamma", "beta", "rho")}
        target = _decimal(rec.get("sales_target", ""), src, row, "sales_target", issues, Decimal(0), None,
                          "a decimal number >= 0")
        whole_minor_units(target, ccy, src, row, "sales_target", rec.get("sales_target", ""), issues,
                          "the rebate is computed from the target printed in payouts.csv")
        min_profit = _decimal(rec.get("min_profit", ""), src, row, "min_profit", issues)
        whole_minor_units(min_profit, ccy, src, row, "min_profit", rec.get("min_profit", ""), issues,
                          "the participation check compares it with payouts in whole minor units")
        elig = rec.get("coop_eligible", "").lower()
        if elig not in _TRUE | _FALSE:  # an empty cell (once read as false) silently lost the co-op share
            issues.append(Issue(src, row, "coop_eligible", rec.get("coop_eligible", ""), "expected true or false"))
        rounding = rec.get("rounding", "") or "half-even"
        if rounding not in ("half-even", "half-up"):
            issues.append(Issue(src, row, "rounding", rounding, "expected half-even or half-up"))
        vf = _date(rec.get("valid_from", ""), src, row, "valid_from", issues, optional=True)
        vt = _date(rec.get("valid_to", ""), src, row, "valid_to", issues, optional=True)
        if vf and vt and vf > vt:
            issues.append(Issue(src, row, "valid_to", rec["valid_to"], f"expected a date on or after valid_from {vf}"))
        chans = tuple(c.strip() for c in (rec.get("channels") or PARTNER_PREFIX + pid).split(";") if c.strip())
        if DIRECT in chans:  # conversions with no touch would pay the partner
            issues.append(Issue(src, row, "channels", rec.get("channels", ""),
                                f"{DIRECT} is no partner's channel: it holds the conversions without a touch"))
        for col in ("partner_id", "partner_name"):
            if any(ch in rec.get(col, "") for ch in "\r\n"):
                issues.append(Issue(src, row, col, rec[col], "expected one line of text"))
        map_min = None
        if rec.get("map_min_compliance", ""):
            map_min = _decimal(rec["map_min_compliance"], src, row, "map_min_compliance", issues, Decimal(0),
                               Decimal(1), "a number between 0 and 1 (or an empty cell: no requirement)")
        if len(issues) > before:
            n_bad += 1
            continue
        versions.setdefault(pid, []).append(Partner(pid, rec["partner_name"], country, ccy, chans, rates["gamma"],
                                                    rates["beta"], rates["rho"], target, min_profit,
                                                    elig in _TRUE, rounding, vf, vt, row, map_min))
    first, last = period_days(period)
    chosen, not_in_force = [], []
    for pid, vs in sorted(versions.items()):
        vs.sort(key=lambda p: (p.valid_from or date.min))
        for a, b in zip(vs, vs[1:]):
            a_end = a.valid_to or date.max
            if (b.valid_from or date.min) <= a_end:
                same = a.valid_from == b.valid_from and a.valid_to == b.valid_to
                issues.append(Issue(src, b.row, "partner_id" if same else "valid_from", pid if same else str(b.valid_from),
                                    f"duplicate partner_id (also row {a.row}): expected one row per partner"
                                    if same else f"validity overlaps row {a.row} of partner {pid}: expected a "
                                                 f"valid_from after {a_end}"))
        best, best_days = None, 0
        for v in vs:
            lo = max(first, v.valid_from or date.min)
            hi = min(last, v.valid_to or date.max)
            days = (hi - lo).days + 1
            if days > 0 and days >= best_days:
                best, best_days = v, days
        if best is None:
            not_in_force.append(pid)
        else:
            chosen.append(best)
    owner: dict[str, tuple[str, int]] = {}
    for pid, vs in sorted(versions.items()):
        for ch in sorted({c for v in vs for c in v.channels}):
            if ch in owner and owner[ch][0] != pid:
                issues.append(Issue(src, vs[0].row, "channels", ch,
                                    f"channel claimed by partner {owner[ch][0]} (row {owner[ch][1]}) too: "
                                    "expected each channel to belong to one partner"))
            owner.setdefault(ch, (pid, vs[0].row))
    return chosen, not_in_force, {"read": len(rows), "accepted": len(rows) - n_bad, "rejected": n_bad}


def partner_ids_in(path: Path) -> set[str]:
    """Every partner_id written in the partners file, valid row or not: a sales row naming a partner
    whose contract row is faulty is not also reported as an unknown partner."""
    return {rec.get("partner_id", "") for _, rec in read_rows(path, (), [])} - {""}


def read_sales(path: Path, period: str, partner_ids: set[str] | None, issues: list[Issue],
               currencies: dict[str, str] | None = None) -> tuple[dict, dict]:
    """sales.csv; ``partner_ids`` None: the partners file could not be read, so no partner is called
    unknown. ``currencies`` (partner_id -> currency of the version in force for ``period``), when
    given, checks that the sales and gross margin of ``period`` have at most their currency's
    minor-unit decimals."""
    src = str(path)
    rows = read_rows(path, SALES_COLUMNS, issues)
    out: dict[str, tuple[Decimal, Decimal]] = {}
    seen: dict[tuple[str, str], int] = {}
    n_bad = 0
    for row, rec in rows:
        before = len(issues)
        pid = rec["partner_id"]
        if partner_ids is not None and pid not in partner_ids:
            issues.append(Issue(src, row, "partner_id", pid, "unknown partner: expected a partner_id of the partners file"))
        key = (pid, rec["period"])
        if key in seen:
            issues.append(Issue(src, row, "period", rec["period"], f"duplicate sales row for {pid} (also row {seen[key]})"))
        seen.setdefault(key, row)
        _period(rec["period"], src, row, issues)  # a malformed one was never the run's: the row was ignored
        s = _decimal(rec["sales"], src, row, "sales", issues, Decimal(0), None, "a decimal number >= 0")
        gm = _decimal(rec["gross_margin"], src, row, "gross_margin", issues)
        if currencies and rec["period"] == period and pid in currencies:
            whole_minor_units(s, currencies[pid], src, row, "sales", rec["sales"], issues,
                              "the rebate is computed from the sales printed in payouts.csv")
            whole_minor_units(gm, currencies[pid], src, row, "gross_margin", rec["gross_margin"], issues,
                              "the participation check adds it to payouts in whole minor units")
        if len(issues) > before:
            n_bad += 1
            continue
        if rec["period"] == period:
            out[pid] = (s, gm)
    return out, {"read": len(rows), "accepted": len(rows) - n_bad, "rejected": n_bad}


def read_fx(path: Path, issues: list[Issue], reporting: str | None = None
            ) -> tuple[dict[tuple[date, str], Decimal], dict]:
    """The rates of an FX file, by (date, currency); a bad row is an issue. A row for the ``reporting``
    currency itself must say 1 (any other rate contradicts the reporting currency: it was silently
    ignored)."""
    src = str(path)
    rows = read_rows(path, FX_COLUMNS, issues)
    out: dict[tuple[date, str], Decimal] = {}
    n_bad = 0
    for row, rec in rows:
        before = len(issues)
        d = _date(rec["date"], src, row, "date", issues)
        c = _currency(rec["currency"], src, row, issues)
        r = _decimal(rec["rate_to_reporting"], src, row, "rate_to_reporting", issues, None, None, "a rate > 0")
        if r is not None and r <= 0:
            issues.append(Issue(src, row, "rate_to_reporting", rec["rate_to_reporting"], "expected a rate > 0"))
        elif r is not None and c is not None and c == reporting and r != 1:
            issues.append(Issue(src, row, "rate_to_reporting", rec["rate_to_reporting"],
                                f"{c} is the reporting currency: expected a rate of 1 (or no row)"))
        if d is not None and c is not None and (d, c) in out and len(issues) == before:
            issues.append(Issue(src, row, "date", rec["date"], f"duplicate rate for {c} on {d}"))
        if len(issues) > before:
            n_bad += 1
            continue
        out[(d, c)] = r
    return out, {"read": len(rows), "accepted": len(rows) - n_bad, "rejected": n_bad}


def read_coop(path: Path, period: str, issues: list[Issue]) -> tuple[list[CoopBudget], dict]:
    src = str(path)
    rows = read_rows(path, COOP_COLUMNS, issues)
    out = []
    n_bad = 0
    for row, rec in rows:
        before = len(issues)
        scope = rec["scope"]
        if not (scope == "*" or (len(scope) == 2 and scope.isalpha() and scope.isupper())):
            issues.append(Issue(src, row, "scope", scope, "expected a country code like DE or *"))
        _period(rec["period"], src, row, issues)  # a malformed one was never the run's: the budget vanished
        c = _currency(rec["currency"], src, row, issues)
        b = _decimal(rec["budget"], src, row, "budget", issues, Decimal(0), None, "a budget >= 0")
        whole_minor_units(b, c, src, row, "budget", rec["budget"], issues, "a budget is paid out in whole minor units")
        basis = coop_basis(rec.get("basis", ""), src, row, issues)
        if len(issues) > before:
            n_bad += 1
            continue
        if rec["period"] == period:
            out.append(CoopBudget(scope, c, b, row, basis))
    return out, {"read": len(rows), "accepted": len(rows) - n_bad, "rejected": n_bad}


def coop_basis(text: str, src: str, row: int, issues: list[Issue]) -> tuple[tuple[str, Decimal], ...]:
    """coop.csv ``basis``: a KPI (``attributed_gmv``, ``sell_through``, ``map_compliance``) or a blend
    ``attributed_gmv:0.6;sell_through:0.4`` (each KPI once, weights >= 0 summing to exactly 1).
    Empty: attributed GMV alone."""
    from ..schema import COOP_BASIS_KPIS

    text = text.strip()
    if not text:
        return DEFAULT_COOP_BASIS
    expected = (f"a KPI ({', '.join(COOP_BASIS_KPIS)}) or a blend like attributed_gmv:0.6;sell_through:0.4 "
                "(weights >= 0 summing to 1)")
    parts = [p.strip() for p in text.split(";") if p.strip()]
    out: list[tuple[str, Decimal]] = []
    for part in parts:
        kpi, colon, weight = part.partition(":")
        kpi = kpi.strip()
        if kpi not in COOP_BASIS_KPIS or any(k == kpi for k, _ in out):
            issues.append(Issue(src, row, "basis", text, f"expected {expected}"))
            return DEFAULT_COOP_BASIS
        if not colon:
            if len(parts) > 1:
                issues.append(Issue(src, row, "basis", text, f"expected {expected}: every KPI of a blend needs a weight"))
                return DEFAULT_COOP_BASIS
            w = Decimal(1)
        else:
            w = _decimal(weight.strip(), src, row, "basis", issues, Decimal(0), Decimal(1), expected)
            if w is None:
                return DEFAULT_COOP_BASIS
        out.append((kpi, w))
    if sum((w for _, w in out), Decimal(0)) != 1:
        issues.append(Issue(src, row, "basis", text, f"expected {expected}: the weights sum to "
                                                     f"{sum((w for _, w in out), Decimal(0))}"))
        return DEFAULT_COOP_BASIS
    return tuple(out)


def rate_on(fx: dict[tuple[date, str], Decimal], currency: str, day: date, reporting: str, source: str) -> Decimal:
    """The rate of ``currency`` on exactly ``day`` (1 for the reporting currency); ContractError if none."""
    if currency == reporting:
        return Decimal(1)
    try:
        return fx[(day, currency)]
    except KeyError:
        raise ContractError(source, f"no FX rate for {currency} on {day}: expected a row "
                                    f"'{day},{currency},<rate_to_reporting>'", column="rate_to_reporting",
                            value=f"{day} {currency}") from None


def conversion_rates(fx: dict[tuple[date, str], Decimal], reporting: str, source: str, conversions):
    """``rate_to_reporting`` (float64) for each row of ``conversions`` (columns ``__row, t, currency``):
    the rate of the conversion's UTC date, else the latest earlier date (an as-of join per currency);
    1 for the reporting currency. Only the run's conversions are asked for: one outside the run needs
    no rate (DATA.md, "Reconciliation"). A conversion with no rate on or before its date raises
    ContractError naming the currency, the date and the events row that needs it.
    """
    import numpy as np
    import polars as pl

    rates = pl.DataFrame({"_day": [d for d, _ in fx], "currency": [c for _, c in fx],
                          "_rate": [float(r) for r in fx.values()]},
                         schema={"_day": pl.Date, "currency": pl.Utf8, "_rate": pl.Float64}).sort("_day")
    keyed = conversions.select("__row", "currency", pl.from_epoch(pl.col("t"), time_unit="us").dt.date().alias("_day"))
    keyed = keyed.with_row_index("_k")
    foreign = keyed.filter(pl.col("currency") != reporting).sort("_day")
    joined = foreign.join_asof(rates, on="_day", by="currency", strategy="backward", check_sortedness=False)
    missing = joined.filter(pl.col("_rate").is_null())
    if len(missing):
        r = missing.sort("__row").row(0, named=True)
        raise ContractError(source, f"no FX rate for {r['currency']} on or before {r['_day']}: expected a row "
                                    f"date,currency,rate_to_reporting (needed by events row {r['__row']}; "
                                    f"{len(missing)} conversion(s) of the run lack a rate)",
                            column="rate_to_reporting", value=f"{r['_day']} {r['currency']}")
    out = np.ones(len(keyed), dtype=np.float64)
    out[joined.get_column("_k").to_numpy()] = joined.get_column("_rate").to_numpy()
    return out
