"""``shapley-attr scenarios RUN_DIR``: what-if payouts of a finished run (PROGRAMME.md, "Scenarios").

Nothing is attributed again. The payout lines come from the run's ``payouts.csv`` (attributed and
referral GMV, sales, co-op, withheld privileges: the figures every line is computed from); the
contract terms a line needs beyond them (``min_profit``, rounding), the partners' gross margins and
the last-day FX rates come from the partners, sales and FX files that the run's ``manifest.json``
names, and only when their SHA-256 still matches the manifest's: a scenario never mixes a run with
files edited since. The run's own order margin (for Π) is read from the manifest.
"""
from __future__ import annotations

import csv
import io
import itertools
import json
from decimal import Decimal, InvalidOperation
from pathlib import Path

from .errors import ContractError, InputError, Issue, UsageError

NEEDED_INPUTS = ("partners", "sales", "fx")


def run_scenarios(run_dir, gamma: str, beta: str | None = None, rho: str | None = None, out=None) -> list[Path]:
    """Write ``scenarios.csv`` and ``gamma_min.csv`` for the run in ``run_dir`` into ``out`` (default
    ``run_dir/scenarios``); returns their paths."""
    from .finance.programme import MAX_SCENARIOS, Scenario, gamma_min, parse_rate_spec, scenario_rows
    from .io.atomic import write_bytes_atomic
    from .io.finance_csv import csv_bytes
    from .schema import GAMMA_MIN_COLUMNS, SCENARIO_COLUMNS, SCENARIO_MARGIN_COLUMNS

    try:
        gammas = parse_rate_spec(gamma, "gamma")
        betas = parse_rate_spec(beta, "beta") if beta is not None else (None,)
        rhos = parse_rate_spec(rho, "rho") if rho is not None else (None,)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if len(gammas) * len(betas) * len(rhos) > MAX_SCENARIOS:
        raise UsageError(f"{len(gammas)} × {len(betas)} × {len(rhos)} scenarios: at most {MAX_SCENARIOS}; "
                         "use coarser ranges")
    run = load_run(Path(run_dir))
    grid = [Scenario(g, b, r) for g, b, r in itertools.product(gammas, betas, rhos)]
    header = SCENARIO_COLUMNS + (SCENARIO_MARGIN_COLUMNS if run.d2c_gross_margin is not None else ())
    scenarios_csv = csv_bytes(header, scenario_rows(run.lines, grid, run.reporting, run.d2c_gross_margin),
                              {"currency"})
    gamma_csv = csv_bytes(GAMMA_MIN_COLUMNS, [gamma_min(ln).row() for ln in run.lines], {"partner_id", "currency"})
    out = Path(out) if out is not None else Path(run_dir) / "scenarios"
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    return [write_bytes_atomic(out / "scenarios.csv", scenarios_csv, follow_links=False),
            write_bytes_atomic(out / "gamma_min.csv", gamma_csv, follow_links=False)]


class RunForScenarios:
    def __init__(self, lines, reporting: str, d2c_gross_margin: Decimal | None) -> None:
        self.lines = lines
        self.reporting = reporting
        self.d2c_gross_margin = d2c_gross_margin


def load_run(run_dir: Path) -> RunForScenarios:
    """The payout lines of a run directory with their contract terms, gross margins and rates. A
    manifest or payouts.csv that is not what a run writes (damaged, edited, of another shape) is an
    InputError naming the file, never an internal error."""
    from .finance.contracts import partner_ids_in, period_days, raise_issues, rate_on, read_fx, read_partners, read_sales
    from .finance.programme import ScenarioLine
    from .io.finance_csv import safe_text
    from .manifest import altered_outputs, file_digest

    manifest_path = run_dir / "manifest.json"
    if not run_dir.is_dir():
        raise InputError(str(run_dir), "not a run directory (expected a directory written by shapley-attr run)")
    manifest = _manifest(manifest_path)
    try:
        period, reporting, inputs = manifest["period"], manifest["reporting_currency"], manifest["inputs"]
        paths = {k: Path(_text(inputs[k]["path"])) for k in NEEDED_INPUTS}
        digests = {k: _text(inputs[k]["sha256"]) for k in NEEDED_INPUTS}
        last_day = period_days(_text(period))[1]
        if not (isinstance(reporting, str) and len(reporting) == 3 and reporting.isalpha() and reporting.isupper()):
            raise ValueError(f"reporting_currency {reporting!r} is not an ISO 4217 code")
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(str(manifest_path), f"not the manifest of a run ({type(exc).__name__}: {exc}): expected "
                                             f"period (YYYY-MM), reporting_currency and inputs "
                                             f"{', '.join(NEEDED_INPUTS)} with path and sha256") from None
    recon = manifest.get("reconciliation")
    credited = recon.get("reporting", {}).get("currency") if isinstance(recon, dict) and isinstance(
        recon.get("reporting"), dict) else None
    if isinstance(credited, str) and credited != reporting:  # else the FX file would be blamed for rates it need not have
        raise InputError(str(manifest_path), f"reporting_currency is {reporting} but the run's credits are in "
                                             f"{credited} (reconciliation.reporting.currency): the manifest was "
                                             "edited; rerun the period, or restore the file",
                         column="reporting_currency", value=reporting)
    for name, path in paths.items():
        if not path.is_file():
            raise InputError(str(path), f"the run's {name} input (named by {manifest_path}) is missing or not a "
                                        "file: scenarios recompute payouts from the run's own inputs")
        sha = file_digest(path)["sha256"]
        if sha != digests[name]:
            raise InputError(str(path), f"the run's {name} input changed since the run (SHA-256 {sha[:16]}…, the "
                                        f"manifest says {digests[name][:16]}…): rerun the period, or restore the file")
    issues: list[Issue] = []
    partners, _, _ = read_partners(paths["partners"], period, issues)
    sales, _ = read_sales(paths["sales"], period, partner_ids_in(paths["partners"]), issues)
    fx, _ = read_fx(paths["fx"], issues, reporting)
    raise_issues(issues)
    by_id = {safe_text(p.partner_id): p for p in partners}
    payouts_path = run_dir / "payouts.csv"
    if not payouts_path.is_file():  # a FIFO would block the read, /dev/null read as no partner at all
        raise InputError(str(payouts_path), "missing or not a regular file: expected the payouts.csv of the run")
    if altered_outputs(run_dir, manifest, ["payouts.csv"]):
        raise InputError(str(payouts_path), "changed since the run (its SHA-256 is not the one in manifest.json): "
                                            "rerun the period, or restore the file")
    try:
        text = payouts_path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(str(payouts_path), f"not UTF-8 text ({exc.reason} at byte {exc.start}): expected the "
                                            "payouts.csv of the run") from None
    lines, seen = [], {}
    records = list(csv.DictReader(io.StringIO(text, newline="")))
    for i, rec in enumerate(records, start=1):
        pid = rec.get("partner_id", "")
        if pid not in by_id:
            raise ContractError(str(paths["partners"]), f"partner {pid} of {payouts_path} (row {i}) has no contract in "
                                                        f"force for {period}", column="partner_id", value=pid)
        if pid in seen:  # each line would be paid again in every scenario
            raise InputError(str(payouts_path), f"partner {pid} is listed twice (first at row {seen[pid]}): expected "
                                                "one line per partner, as run writes it", row=i, column="partner_id",
                             value=pid)
        seen[pid] = i
        p = by_id[pid]
        amounts = {k: _amount(rec, k, payouts_path, i) for k in ("attributed_gmv", "referral_gmv", "sales",
                                                                  "sales_target", "coop", "gamma", "beta", "rho",
                                                                  "referral_commission", "rebate")}
        gross_margin = sales[p.partner_id][1] if p.partner_id in sales else None  # as run: never guessed
        lines.append(ScenarioLine(p.partner_id, p.currency, p.rounding, amounts["attributed_gmv"],
                                  amounts["referral_gmv"], amounts["sales"], amounts["sales_target"], amounts["coop"],
                                  amounts["gamma"], amounts["beta"], amounts["rho"], amounts["referral_commission"],
                                  amounts["rebate"], gross_margin, p.min_profit,
                                  rec.get("privileges_withheld") == "true",
                                  rate_on(fx, p.currency, last_day, reporting, str(paths["fx"]))))
    _check_totals(records, manifest, payouts_path, manifest_path)
    programme = manifest.get("programme")
    margins = programme.get("margins") if isinstance(programme, dict) else None
    d2c = margins.get("d2c_gross_margin") if isinstance(margins, dict) and margins.get("reported") is True else None
    return RunForScenarios(lines, reporting, None if d2c is None else _decimal(d2c, manifest_path,
                                                                               "programme.margins.d2c_gross_margin"))


def _check_totals(rows: list[dict], manifest: dict, payouts_path: Path, manifest_path: Path) -> None:
    """payouts.csv must add up, per currency, to the totals the run recorded in its manifest (and have
    its number of lines): an edited file whose SHA-256 was recorded again, or a manifest without
    output_sha256 (an older run), cannot pass for the run's. Skipped when the manifest has no totals."""
    from .finance.money import format_amount
    from .finance.payouts import TOTAL_COLUMNS

    payouts = manifest.get("payouts")
    recorded = payouts.get("totals_by_currency") if isinstance(payouts, dict) else None
    if not isinstance(recorded, dict):
        return
    sums: dict[str, dict[str, Decimal]] = {}
    for i, rec in enumerate(rows, start=1):
        ccy = rec.get("currency") or ""
        acc = sums.setdefault(ccy, {k: Decimal(0) for k in TOTAL_COLUMNS})
        for k in TOTAL_COLUMNS:
            acc[k] += _amount(rec, k, payouts_path, i)
    got = {c: {k: format_amount(v, c) for k, v in t.items()} for c, t in sums.items()}
    if got != recorded or (isinstance(payouts.get("partners"), int) and payouts["partners"] != len(rows)):
        raise InputError(str(payouts_path), f"does not add up to the totals {manifest_path} records for the run "
                                            f"({len(rows)} line(s); per currency {got}, the manifest "
                                            f"{payouts.get('partners')} partner(s), {recorded}): rerun the period, "
                                            "or restore the file")


MAX_JSON_BYTES = 64 * 2**20
"""A manifest is a few kilobytes; a larger file is no manifest of a run (and json would read it all)."""


def _manifest(path: Path) -> dict:
    """manifest.json as a dict, or an InputError naming it."""
    try:
        if path.is_file() and path.stat().st_size > MAX_JSON_BYTES:
            raise ValueError(f"{path.stat().st_size:,} bytes, larger than any manifest")
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise InputError(str(path), "missing: expected the manifest.json of a run directory") from None
    except (ValueError, UnicodeDecodeError, RecursionError, OSError) as exc:  # JSON, nesting, a link loop
        raise InputError(str(path), f"not a readable JSON manifest ({type(exc).__name__}: {exc})") from None
    if not isinstance(manifest, dict) or manifest.get("tool") != "shapley_attr":
        raise InputError(str(path), 'not a manifest of shapley_attr (expected "tool": "shapley_attr")')
    return manifest


def _text(value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    return value


def _finite(value) -> Decimal | None:
    """``value`` as a finite decimal of at most 18 integer digits when it is such text, else None (NaN,
    Infinity or 1E+999999999 are no figures of a run)."""
    try:
        d = Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        return None
    return d if d is not None and d.is_finite() and d.adjusted() <= 18 else None


def _decimal(value, path: Path, key: str) -> Decimal:
    """A finite decimal written as text, or an InputError naming the file and key."""
    d = _finite(value)
    if d is None:
        raise InputError(str(path), f"{key} is {value!r}: expected a decimal amount", column=key)
    return d


def _amount(rec: dict, key: str, path: Path, row: int) -> Decimal:
    """A payouts.csv cell as a finite decimal (:func:`_finite`), or an InputError naming row and column."""
    value = rec.get(key)
    d = _finite(value)
    if d is None:
        raise InputError(str(path), "cannot read the payout line: expected a decimal amount", row=row, column=key,
                         value="" if value is None else value)
    return d
