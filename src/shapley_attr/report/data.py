"""Read a run directory (docs/run-directory.md) into typed, frozen records.

:func:`load_run` is the only reader of a run directory for the report. It reads files only (no input
file, no recomputation) and is tolerant: an optional file that is absent, or a manifest key that is
missing or of another type than documented (an older run), becomes ``None`` or an empty tuple, and the
report says "not in this run" for that section. Only a directory without a readable ``manifest.json``
is an error (:class:`~shapley_attr.errors.InputError`, exit code 2 on the command line).

CSV cells are kept as the text written by the run, so that amounts keep exactly the minor digits of
their currency; the renderer parses numbers where it needs them (charts, sorting).
"""
from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

from ..errors import InputError

MANIFEST = "manifest.json"
CSV_FILES = {
    "attribution": "attribution.csv",
    "models": "models.csv",
    "positions": "positions.csv",
    "payouts": "payouts.csv",
    "kpis": "kpis.csv",
    "rejects": "rejects.csv",
    "map_compliance": "map_compliance.csv",
}


@dataclass(frozen=True)
class CsvTable:
    """A CSV file as text cells: ``columns`` from the header, ``rows`` of equal length."""

    name: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def has(self, *columns: str) -> bool:
        return all(c in self.columns for c in columns)

    def records(self) -> list[dict[str, str]]:
        return [dict(zip(self.columns, row)) for row in self.rows]

    def column(self, name: str) -> list[str]:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]


@dataclass(frozen=True)
class InputFile:
    name: str
    path: str | None
    size: int | None
    sha256: str | None
    rows_read: int | None
    rows_accepted: int | None
    rows_rejected: int | None


@dataclass(frozen=True)
class CurrencyReconciliation:
    """One currency's conversions and GMV: read = rejected + outside the run + in the run (text amounts)."""

    currency: str
    conversions_read: int | None
    gmv_read: str | None
    conversions_rejected: int | None
    gmv_rejected: str | None
    conversions_outside_run: int | None
    gmv_outside_run: str | None
    conversions_in_run: int | None
    gmv_in_run: str | None
    balanced: bool | None


@dataclass(frozen=True)
class ReportingReconciliation:
    """In the reporting currency: GMV of the run's conversions = GMV attributed."""

    currency: str | None
    gmv_in_run: str | None
    gmv_attributed: str | None
    gmv_direct: str | None
    difference: str | None
    balanced: bool | None


@dataclass(frozen=True)
class Reconciliation:
    rows_read: int | None
    rows_accepted: int | None
    rows_rejected: int | None
    by_currency: tuple[CurrencyReconciliation, ...]
    reporting: ReportingReconciliation | None


@dataclass(frozen=True)
class CurrencyTotals:
    currency: str
    attributed_gmv: str | None
    compensation: str | None
    referral_gmv: str | None
    referral_commission: str | None
    rebate: str | None
    coop: str | None
    total_payable: str | None


@dataclass(frozen=True)
class CoopBudget:
    scope: str
    currency: str
    budget: str | None
    spent: str | None
    carried_over: str | None
    allocations: tuple[tuple[str, str], ...]  # (partner_id, amount), in the manifest's order


@dataclass(frozen=True)
class PayoutNoise:
    partner_id: str
    currency: str
    half_width: str


@dataclass(frozen=True)
class PayoutsSummary:
    partners: int | None
    not_in_force: tuple[str, ...]
    below_min_profit: tuple[str, ...]
    notes: tuple[str, ...]
    totals_by_currency: tuple[CurrencyTotals, ...]
    coop: tuple[CoopBudget, ...]
    payout_noise: tuple[PayoutNoise, ...]
    # partners without a sales row: gross margin unknown, participation neither flagged nor cleared
    # (manifest ``payouts.min_profit_unchecked``; empty in a manifest written before it existed)
    min_profit_unchecked: tuple[str, ...] = ()
    # paid partners' channels with no touch in the run's journeys, credited 0: (partner_id, channel)
    # (manifest ``payouts.channels_without_touch``; empty in a manifest written before it existed)
    channels_without_touch: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class OrderMarginsStatus:
    """The manifest's ``programme.margins``: whether the run's conversions carried margins (PROGRAMME.md),
    which Π and the attributed margins need on every conversion (never guessed)."""

    column: bool  # False: ``margins`` is null, the events have no margin column
    reported: bool | None  # Π and attributed margins written (a margin on every conversion of the run)
    conversions_without_margin: int | None


@dataclass(frozen=True)
class MapViolation:
    """One of the worst MAP violations of the period (manifest ``programme.map.worst_violations``), as text."""

    partner_id: str | None
    date: str | None
    sku: str | None
    price: str | None
    currency: str | None
    map_price: str | None
    map_currency: str | None
    relative_undercut: str | None
    prices_row: str | None


@dataclass(frozen=True)
class RunData:
    """Everything the report shows, read from one run directory."""

    run_dir: Path
    tool: str | None
    version: str | None
    run_id: str | None
    period: str | None
    reporting_currency: str | None
    engine: tuple[tuple[str, str], ...]  # ("name", "local"), ("spark_version", ...), ...
    model: tuple[tuple[str, Any], ...]  # every ModelParams field as (key, scalar), manifest order
    choices: tuple[tuple[str, Any], ...]  # the ModelResult info, scalars and short lists
    inputs: tuple[InputFile, ...]
    order_ids: tuple[tuple[str, Any], ...]
    journeys: tuple[tuple[str, Any], ...]
    reconciliation: Reconciliation | None
    payouts_summary: PayoutsSummary | None
    attribution: CsvTable | None
    models: CsvTable | None
    positions: CsvTable | None
    payouts: CsvTable | None
    kpis: CsvTable | None
    rejects: CsvTable | None
    map_compliance: CsvTable | None
    worst_violations: tuple[MapViolation, ...] | None = None  # None: no MAP inputs, or not recorded
    margins: OrderMarginsStatus | None = None  # None: not recorded (a manifest without programme.margins)
    altered: tuple[str, ...] = ()  # tables whose bytes are not those manifest.json records (edited since)

    def model_value(self, key: str) -> Any:
        return dict(self.model).get(key)


# --- tolerant accessors: a value of another type than documented counts as absent -------------------
def _dict(obj: Any, key: str) -> dict:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def _int(obj: Any, key: str) -> int | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bool(obj: Any, key: str) -> bool | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, bool) else None


def _text(obj: Any, key: str) -> str | None:
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(value)
    return None


def _money(obj: Any, key: str, currency: str | None) -> str | None:
    """An amount as decimal text. The contract writes strings; a float (an older or looser writer) is
    rounded half-even to the currency's minor digits, so it reads like the amounts around it."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, float) and math.isfinite(value):
        from ..finance.money import MINOR_UNITS

        digits = MINOR_UNITS.get(currency or "", 2)
        text = f"{Decimal(repr(value)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_EVEN):f}"
        return text[1:] if text.startswith("-") and Decimal(text) == 0 else text
    return _text(obj, key)


def _strings(obj: Any, key: str) -> tuple[str, ...]:
    value = obj.get(key) if isinstance(obj, dict) else None
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def _scalar_items(obj: Any) -> tuple[tuple[str, Any], ...]:
    """(key, value) pairs of a dict, keeping scalars and lists of scalars (nested dicts flattened a.b)."""
    out: list[tuple[str, Any]] = []
    if not isinstance(obj, dict):
        return ()
    for key, value in obj.items():
        if isinstance(value, dict):
            out.extend((f"{key}.{k}", v) for k, v in _scalar_items(value))
        elif isinstance(value, list):
            if all(isinstance(v, (str, int, float, bool)) or v is None for v in value):
                out.append((str(key), tuple(value)))
        elif isinstance(value, (str, int, float, bool)) or value is None:
            out.append((str(key), value))
    return tuple(out)


def _read_csv(path: Path) -> CsvTable | None:
    if not path.is_file():
        return None
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            return None
        width = len(header)
        rows = tuple(tuple((row + [""] * width)[:width]) for row in reader if row)
    return CsvTable(path.name, tuple(header), rows)


def _inputs(manifest: dict) -> tuple[InputFile, ...]:
    out = []
    for name, info in _dict(manifest, "inputs").items():
        if not isinstance(info, dict):
            continue
        rows = _dict(info, "rows")
        out.append(InputFile(str(name), _text(info, "path"), _int(info, "size"), _text(info, "sha256"),
                             _int(rows, "read"), _int(rows, "accepted"), _int(rows, "rejected")))
    return tuple(out)


def _reconciliation(manifest: dict) -> Reconciliation | None:
    rec = _dict(manifest, "reconciliation")
    rows = _dict(rec, "rows")
    by_currency = []
    for ccy, c in sorted(_dict(rec, "by_currency").items(), key=lambda kv: (kv[0] == "?", kv[0])):
        if not isinstance(c, dict):
            continue
        by_currency.append(CurrencyReconciliation(
            str(ccy), _int(c, "conversions_read"), _money(c, "gmv_read", ccy), _int(c, "conversions_rejected"),
            _money(c, "gmv_rejected", ccy), _int(c, "conversions_outside_run"), _money(c, "gmv_outside_run", ccy),
            _int(c, "conversions_in_run"), _money(c, "gmv_in_run", ccy), _bool(c, "balanced")))
    rep = _dict(rec, "reporting")
    reporting = None
    if rep:
        ccy = _text(rep, "currency") or _text(manifest, "reporting_currency")
        reporting = ReportingReconciliation(ccy, *(_money(rep, k, ccy) for k in ("gmv_in_run", "gmv_attributed",
                                                                                   "gmv_direct", "difference")),
                                            _bool(rep, "balanced"))
    if not rows and not by_currency and reporting is None:
        return None
    return Reconciliation(_int(rows, "read"), _int(rows, "accepted"), _int(rows, "rejected"), tuple(by_currency), reporting)


def _payouts_summary(manifest: dict) -> PayoutsSummary | None:
    p = _dict(manifest, "payouts")
    if not p:
        return None
    totals = tuple(
        CurrencyTotals(str(ccy), *(_text(t, k) for k in ("attributed_gmv", "compensation", "referral_gmv",
                                                          "referral_commission", "rebate", "coop", "total_payable")))
        for ccy, t in sorted(_dict(p, "totals_by_currency").items()) if isinstance(t, dict))
    coop = []
    for b in p.get("coop") or ():
        if not isinstance(b, dict):
            continue
        allocations = tuple((str(k), str(v)) for k, v in _dict(b, "allocations").items())
        coop.append(CoopBudget(_text(b, "scope") or "", _text(b, "currency") or "", _text(b, "budget"), _text(b, "spent"),
                               _text(b, "carried_over"), allocations))
    noise = tuple(PayoutNoise(_text(n, "partner_id") or "", _text(n, "currency") or "", _text(n, "half_width") or "")
                  for n in p.get("payout_noise") or () if isinstance(n, dict))
    untouched = tuple((_text(c, "partner_id") or "", _text(c, "channel") or "")
                      for c in p.get("channels_without_touch") or () if isinstance(c, dict))
    return PayoutsSummary(_int(p, "partners"), _strings(p, "not_in_force"), _strings(p, "below_min_profit"),
                          _strings(p, "notes"), totals, tuple(coop), noise, _strings(p, "min_profit_unchecked"),
                          untouched)


def _margins(manifest: dict) -> OrderMarginsStatus | None:
    programme = manifest.get("programme")
    if not isinstance(programme, dict) or "margins" not in programme:
        return None
    margins = programme["margins"]
    if margins is None:
        return OrderMarginsStatus(False, None, None)
    if not isinstance(margins, dict):
        return None
    return OrderMarginsStatus(True, _bool(margins, "reported"), _int(margins, "conversions_without_margin"))


def _worst_violations(manifest: dict) -> tuple[MapViolation, ...] | None:
    value = _dict(_dict(manifest, "programme"), "map").get("worst_violations")
    if not isinstance(value, list):
        return None
    return tuple(MapViolation(*(_text(v, k) for k in ("partner_id", "date", "sku", "price", "currency", "map_price",
                                                      "map_currency", "relative_undercut", "prices_row")))
                 for v in value if isinstance(v, dict))


def load_run(run_dir: str | Path) -> RunData:
    """Read the run directory ``run_dir`` (its files only) into a :class:`RunData`.

    Raises :class:`~shapley_attr.errors.InputError` when the directory or its ``manifest.json`` is
    missing or unreadable; every other file and key is optional.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        what = "a file, not a directory" if run_dir.exists() else "no such directory"
        raise InputError(str(run_dir), f"not a run directory: {what}")
    manifest_path = run_dir / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(str(run_dir), f"not a run directory: {MANIFEST} is missing") from None
    except (OSError, ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are
        # ValueErrors, as is an integer of more than 4300 digits; RecursionError: nesting too deep
        raise InputError(str(manifest_path), f"unreadable manifest: {type(exc).__name__}: {exc}") from None
    if not isinstance(manifest, dict):
        raise InputError(str(manifest_path), "unreadable manifest: expected a JSON object")
    tables: dict[str, CsvTable | None] = {}
    for key, name in CSV_FILES.items():
        try:
            tables[key] = _read_csv(run_dir / name)
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise InputError(str(run_dir / name), f"unreadable CSV: {exc}") from None
    engine = _dict(manifest, "engine")
    from ..manifest import altered_outputs

    altered = tuple(altered_outputs(run_dir, manifest, CSV_FILES.values()))
    return RunData(
        run_dir=run_dir,
        tool=_text(manifest, "tool"),
        version=_text(manifest, "version"),
        run_id=_text(manifest, "run_id"),
        period=_text(manifest, "period"),
        reporting_currency=_text(manifest, "reporting_currency"),
        engine=tuple((k, v if isinstance(v, str) else json.dumps(v, sort_keys=True))
                     for k, v in engine.items()),
        model=_scalar_items(_dict(manifest, "model")),
        choices=_scalar_items(_dict(manifest, "choices")),
        inputs=_inputs(manifest),
        order_ids=_scalar_items(_dict(manifest, "order_ids")),
        journeys=_scalar_items(_dict(manifest, "journeys")),
        reconciliation=_reconciliation(manifest),
        payouts_summary=_payouts_summary(manifest),
        **tables,
        worst_violations=_worst_violations(manifest),
        margins=_margins(manifest),
        altered=altered,
    )
