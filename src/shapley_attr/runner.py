"""The monthly batch: events + partners + sales + FX + co-op budgets → one run directory.

Run configuration (``--config run.toml``, read with tomllib; every key is optional in the file and any
command-line option overrides it; file paths are relative to the TOML file)::

    events = "events.parquet"        # the CDP export (Parquet, CSV or Arrow)
    partners = "partners.csv"        # contracts (DATA.md input 3)
    sales = "sales.csv"              # partners' sell-through (input 4)
    fx = "fx.csv"                    # rates to the reporting currency (input 5)
    coop = "coop.csv"                # co-op budgets (input 5)
    period = "2026-10"               # required (here or --period)
    out = "runs/2026-10"             # the run directory
    reporting_currency = "EUR"
    force = false                    # replace an existing run directory
    strict = false                   # fail on the first bad event row instead of quarantining it
    model = "hybrid"                 # and game, method, order, alpha, value, seed, tolerance, max_samples,
    game = "rate"                    #     bootstrap, collapse_repeats, half_life_days, position_weights
    alpha = 0.5
    lookback_days = 30
    input_format = "parquet"         # and delimiter, currency, touch_types = [...], conversion_types = [...]
    [columns]                        # --col NAME=SOURCE
    user_id = "customer_id"

Outputs: attribution.csv and .parquet, payouts.csv, kpis.csv, rejects.csv, manifest.json, written
into a temporary directory that is renamed into place when complete.
"""
from __future__ import annotations

import sys
import time
import tomllib
from decimal import Decimal
from pathlib import Path

from . import __version__
from .config import DEFAULT_LOOKBACK_DAYS, ColumnMapping, JourneyParams, ModelParams
from .errors import InputError, Issue, OutputExistsError, UsageError

FILE_KEYS = ("events", "partners", "sales", "fx", "coop", "out")
MODEL_KEYS = ("model", "game", "method", "order", "alpha", "value", "seed", "tolerance", "max_samples", "bootstrap",
              "collapse_repeats", "half_life_days", "position_weights")
OTHER_KEYS = ("period", "reporting_currency", "force", "strict", "lookback_days", "input_format", "delimiter",
              "currency", "touch_types", "conversion_types", "columns", "sep", "input_kind")
RUN_DEFAULTS = {"model": "hybrid", "game": "rate", "alpha": 0.5}


def load_config(path: Path) -> dict:
    """Read a run.toml; unknown keys are an error; file paths become absolute (relative to the file)."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise InputError(str(path), "config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(str(path), f"not valid TOML: {exc}") from None
    allowed = set(FILE_KEYS) | set(MODEL_KEYS) | set(OTHER_KEYS)
    for key in data:
        if key not in allowed:
            raise InputError(str(path), f"unknown key {key!r}: expected one of {', '.join(sorted(allowed))}", column=key)
    base = path.resolve().parent
    for key in FILE_KEYS:
        if key in data:
            data[key] = str((base / data[key]).resolve()) if not Path(data[key]).is_absolute() else data[key]
    if "columns" in data:
        data["columns"] = tuple((k, v) for k, v in data["columns"].items())
    if "position_weights" in data:
        data["position_weights"] = tuple(data["position_weights"])
    return data


def merge_settings(config: dict, cli: dict) -> dict:
    """Command-line values (not None, non-empty) override the file's."""
    merged = dict(config)
    for key, value in cli.items():
        if value is None or value == () or value is False and key in ("force", "strict") and key in config:
            continue
        merged[key] = value
    return merged


def _require(settings: dict, key: str) -> str:
    if not settings.get(key):
        raise UsageError(f"--{key.replace('_', '-')} is required (or '{key}' in the run config)")
    return settings[key]


class Prepared:
    """Everything read and checked, nothing written: what ``validate`` reports and ``run`` uses."""

    def __init__(self, settings: dict):
        from .finance.contracts import (FinanceInputs, gmv_to_reporting, period_days, raise_issues, rate_on, read_coop,
                                partner_ids_in, read_fx, read_partners, read_sales)
        from .journeys import period_bounds
        from .manifest import file_digest
        from .finance.money import is_currency
        from .pipeline import load_table, resolve_value

        t0 = time.perf_counter()
        self.settings = settings
        self.period = _require(settings, "period")
        period_bounds(self.period)
        self.reporting = settings.get("reporting_currency") or "EUR"
        if not is_currency(self.reporting):
            raise UsageError(f"--reporting-currency {self.reporting!r}: expected an ISO 4217 code like EUR")
        paths = {k: Path(_require(settings, k)) for k in ("events", "partners", "sales", "fx", "coop")}
        self.paths = paths
        issues: list[Issue] = []
        partners, self.not_in_force, partner_rows = read_partners(paths["partners"], self.period, issues)
        sales, sales_rows = read_sales(paths["sales"], self.period, {p.partner_id for p in partners} |
                                       set(self.not_in_force) | partner_ids_in(paths["partners"]), issues)
        fx, fx_rows = read_fx(paths["fx"], issues)
        coop, coop_rows = read_coop(paths["coop"], self.period, issues)
        last_day = period_days(self.period)[1]
        needed = sorted({p.currency for p in partners} | {b["currency"] for b in coop})
        for ccy in needed:
            if ccy != self.reporting and (last_day, ccy) not in fx:
                issues.append(Issue(str(paths["fx"]), 0, "rate_to_reporting", f"{last_day} {ccy}",
                                    f"missing FX rate for {ccy} on {last_day} (the period's last day): expected a "
                                    f"row '{last_day},{ccy},<rate>'"))
        raise_issues(issues)
        self.finance = FinanceInputs(partners, sales, fx, coop, self.not_in_force,
                                     {"partners": partner_rows, "sales": sales_rows, "fx": fx_rows, "coop": coop_rows})
        self.model_params = ModelParams(**(RUN_DEFAULTS | {k: settings[k] for k in MODEL_KEYS if settings.get(k) is not None}))
        mapping = ColumnMapping(rename=tuple(settings.get("columns") or ()),
                                touch_types=tuple(settings.get("touch_types") or ("touch",)),
                                conversion_types=tuple(settings.get("conversion_types") or ("conversion",)),
                                currency=settings.get("currency"), delimiter=settings.get("delimiter"),
                                sep=settings.get("sep") or " > ", input_format=settings.get("input_format"))
        lookback = settings.get("lookback_days")
        self.journey_params = JourneyParams(lookback_days=float(lookback if lookback is not None else DEFAULT_LOOKBACK_DAYS),
                                            period=self.period, keep_ages=self.model_params.model == "time-decay")
        self.table, self.report = load_table(paths["events"], input_kind="events", mapping=mapping,
                                             journeys=self.journey_params, quarantine=not settings.get("strict"),
                                             gmv_to_reporting=gmv_to_reporting(fx, self.reporting, str(paths["fx"])))
        self.model_params = resolve_value(self.model_params, self.table, explicit=settings.get("value") is not None)
        self.digests = {k: file_digest(p) for k, p in paths.items()}
        self.rate_on = lambda ccy: rate_on(fx, ccy, last_day, self.reporting, str(paths["fx"]))
        self.seconds_read = time.perf_counter() - t0


def parameters_of(prep: Prepared) -> dict:
    return {"period": prep.period, "reporting_currency": prep.reporting, "model": prep.model_params.as_dict(),
            "journeys": {"lookback_days": prep.journey_params.lookback_days, "period": prep.period},
            "mapping": {k: prep.settings.get(k) for k in ("columns", "touch_types", "conversion_types", "currency",
                                                         "delimiter", "input_format") if prep.settings.get(k)},
            "strict": bool(prep.settings.get("strict"))}


def run_batch(settings: dict, echo=None) -> dict:
    """Run the monthly batch described by ``settings``; returns the manifest (also written)."""
    from .io.atomic import atomic_directory
    from .io.finance_csv import csv_bytes
    from .finance.kpis import KPI_COLUMNS, compute_kpis
    from .manifest import run_id as make_run_id
    from .manifest import to_json
    from .models import fit
    from .models.heuristics import last_touch_credit
    from .finance.money import format_amount
    from .finance.payouts import PAYOUT_COLUMNS, compute_payouts
    from .pipeline import attribution_frame

    echo = echo or (lambda msg: print(msg, file=sys.stderr))
    out = Path(_require(settings, "out"))
    force = bool(settings.get("force"))
    if out.exists() and not force:
        raise OutputExistsError(f"{out}: run directory exists; nothing was written (use --force to replace it)")
    t_start = time.perf_counter()
    prep = Prepared(settings)
    params = prep.model_params
    t_model = time.perf_counter()
    result = fit(prep.table, params)
    seconds_model = time.perf_counter() - t_model
    table = prep.table
    frame = attribution_frame(result, params, prep.period)
    credit_gmv = dict(zip(result.channels, result.credit[:, 1].tolist()))
    last = last_touch_credit(table) if table.n_paths else None
    referral = dict(zip(table.channels, last[:, 1].tolist())) if last is not None else {}
    payouts = compute_payouts(prep.finance.partners, credit_gmv, referral, prep.finance.sales, prep.finance.fx,
                              prep.finance.coop, prep.period, prep.reporting, str(prep.paths["fx"]))
    parameters = parameters_of(prep)
    rid = make_run_id(prep.digests, parameters)

    rows = []
    for ln in payouts.lines:
        p, c = ln.partner, ln.partner.currency
        rows.append([prep.period, p.partner_id, p.partner_name, p.country, c, format_amount(ln.attributed_gmv, c),
                     str(p.gamma), format_amount(ln.compensation, c), format_amount(ln.referral_gmv, c), str(p.beta),
                     format_amount(ln.referral_commission, c), format_amount(ln.sales, c),
                     format_amount(p.sales_target, c), str(p.rho), format_amount(ln.rebate, c), format_amount(ln.coop, c),
                     format_amount(ln.total_payable, c), "true" if ln.below_min_profit else "false", rid])
    text_cols = {"period", "partner_id", "partner_name", "country", "currency", "run_id"}
    payouts_csv = csv_bytes(PAYOUT_COLUMNS, rows, text_cols)
    kpi_rows = compute_kpis(prep.period, payouts.lines, table.stats.get("country_gmv", {}), prep.rate_on)
    kpis_csv = csv_bytes(KPI_COLUMNS, kpi_rows, {"period", "kpi", "scope"})
    attribution_csv = frame.write_csv().encode("utf-8")
    rejects_csv = prep.report.rejects.write_csv().encode("utf-8")

    totals_by_ccy: dict[str, dict[str, Decimal]] = {}
    for ln in payouts.lines:
        t = totals_by_ccy.setdefault(ln.partner.currency, {k: Decimal(0) for k in
                                     ("attributed_gmv", "compensation", "referral_gmv", "referral_commission",
                                      "rebate", "coop", "total_payable")})
        for k in t:
            t[k] += getattr(ln, k)
    attributed_total = float(result.credit[:, 1].sum())
    gmv_in_period = float(table.value.sum())
    below = [ln.partner.partner_id for ln in payouts.lines if ln.below_min_profit]
    carried = [{"scope": a["scope"], "currency": a["currency"], "budget": format_amount(a["budget"], a["currency"]),
                "carried_over": format_amount(a["carried_over"], a["currency"])}
               for a in payouts.coop_allocations if a["carried_over"] > 0]
    rep = prep.report
    manifest = {
        "tool": "shapley_attr", "version": __version__, "run_id": rid,
        "inputs": {k: v | ({"rows": prep.finance.rows[k]} if k in prep.finance.rows else {})
                   for k, v in prep.digests.items()},
        "events": {"rows_read": rep.rows_read, "rows_accepted": rep.rows_accepted, "rows_rejected": rep.rows_rejected,
                   "gmv_read_native": rep.gmv_read, "gmv_accepted_native": rep.gmv_accepted,
                   "gmv_rejected_native": rep.gmv_rejected,
                   "note": "native GMV sums amounts as written in the export, across currencies",
                   "journeys": {k: v for k, v in table.stats.items() if k not in ("country_gmv", "country_conversions")}},
        "parameters": parameters,
        "model": {"result": result.info, "game": params.game if params.model in ("shapley", "hybrid") else None},
        "reconciliation": {
            "rows": f"{rep.rows_read} read = {rep.rows_accepted} accepted + {rep.rows_rejected} rejected",
            "gmv_in_period_reporting": gmv_in_period, "gmv_attributed_reporting": attributed_total,
            "difference": attributed_total - gmv_in_period,
            "gmv_native": f"{rep.gmv_read:.6f} read = {rep.gmv_accepted:.6f} accepted + {rep.gmv_rejected:.6f} rejected",
            "balanced": abs(attributed_total - gmv_in_period) <= 1e-9 * max(1.0, abs(gmv_in_period)),
        },
        "payouts": {"partners": len(payouts.lines), "not_in_force": prep.not_in_force,
                    "below_min_profit": below, "notes": payouts.notes,
                    "totals_by_currency": {c: {k: format_amount(v, c) for k, v in t.items()}
                                           for c, t in sorted(totals_by_ccy.items())},
                    "coop": [{"scope": a["scope"], "currency": a["currency"],
                              "budget": format_amount(a["budget"], a["currency"]),
                              "spent": format_amount(a["spent"], a["currency"]),
                              "carried_over": format_amount(a["carried_over"], a["currency"]),
                              "allocations": {k: format_amount(v, a["currency"]) for k, v in sorted(a["partners"].items())}}
                             for a in payouts.coop_allocations]},
        "timings_seconds": {"read_and_journeys": round(prep.seconds_read, 3), "model": round(seconds_model, 3),
                            "total": round(time.perf_counter() - t_start, 3)},
        "outputs": ["attribution.csv", "attribution.parquet", "payouts.csv", "kpis.csv", "rejects.csv", "manifest.json"],
    }
    with atomic_directory(out, force=force) as tmp:
        (tmp / "attribution.csv").write_bytes(attribution_csv)
        frame.write_parquet(tmp / "attribution.parquet")
        (tmp / "payouts.csv").write_bytes(payouts_csv)
        (tmp / "kpis.csv").write_bytes(kpis_csv)
        (tmp / "rejects.csv").write_bytes(rejects_csv)
        (tmp / "manifest.json").write_bytes(to_json(manifest))
    echo(f"run {rid}: {out}")
    echo(f"model={params.model} game={manifest['model']['game']} alpha={params.alpha} period={prep.period}")
    echo(f"events: {manifest['reconciliation']['rows']}; GMV attributed {attributed_total:.2f} {prep.reporting} "
         f"= GMV of the period's conversions {gmv_in_period:.2f}")
    for c, t in sorted(totals_by_ccy.items()):
        echo(f"  {c}: total payable {format_amount(t['total_payable'], c)} (compensation "
             f"{format_amount(t['compensation'], c)}, referral {format_amount(t['referral_commission'], c)}, rebate "
             f"{format_amount(t['rebate'], c)}, co-op {format_amount(t['coop'], c)})")
    echo(f"below participation floor: {', '.join(below) if below else 'none'}")
    for cb in carried:
        echo(f"co-op budget carried over: {cb['scope']} {cb['carried_over']} {cb['currency']}")
    if rep.rows_rejected:
        echo(f"rejected event rows: {rep.rows_rejected} (see rejects.csv)")
    return manifest


def validate_inputs(settings: dict, echo=None) -> int:
    """Every check of ``run`` without writing anything; prints what would be rejected. Returns 0."""
    echo = echo or (lambda msg: print(msg, file=sys.stderr))
    prep = Prepared(replace_strict(settings))
    rep = prep.report
    echo(f"contracts: {len(prep.finance.partners)} partner(s) in force for {prep.period}"
         + (f"; not in force: {', '.join(prep.not_in_force)}" if prep.not_in_force else ""))
    for name, rows in prep.finance.rows.items():
        echo(f"{name}: rows read {rows['read']} = accepted {rows['accepted']} + rejected {rows['rejected']}")
    echo(f"events: rows read {rep.rows_read} = accepted {rep.rows_accepted} + rejected {rep.rows_rejected}")
    for r in rep.rejects.head(50).iter_rows(named=True):
        echo("  would reject: " + Issue(r["source"], r["row"], r["column"], r["value"], r["reason"]).message())
    if rep.rows_rejected > 50:
        echo(f"  ... and {rep.rows_rejected - 50} more")
    echo("ok: run would succeed" + (" (with the rejects above quarantined)" if rep.rows_rejected else ""))
    return 0


def replace_strict(settings: dict) -> dict:
    return dict(settings) | {"strict": False}

