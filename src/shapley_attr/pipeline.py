"""The one run path. ``attribute`` (CLI and Python API), ``validate`` and ``run`` call these functions
with a :class:`~shapley_attr.config.RunConfig`; values move between the stages as typed records:

    RunConfig → engine → LoadedInput (PathTable, rejects, reconciliation) → ModelResult → Attribution
              → finance inputs → PayoutResult → manifest → the run directory (one writer)
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from .config import ModelParams, RunConfig
from .engines import FxRates, LoadedInput
from .io.events import DERIVED_ORDER_ID_RULE
from .models.base import ModelResult
from .progress import Progress, active, current
from .reconcile import Reconciliation

Echo = Callable[[str], None]


def _silent(_: str) -> None:
    return None


@dataclass(frozen=True, eq=False)
class Attribution:
    """An input attributed: the configuration as run (``--value`` decided), the loaded input, the
    model's result and the reconciliation with the credits in it."""

    config: RunConfig
    loaded: LoadedInput
    result: ModelResult
    reconciliation: Reconciliation
    timings: dict = field(default_factory=dict)

    @property
    def params(self) -> ModelParams:
        return self.config.model


def read_fx(path: str, reporting: str) -> FxRates:
    """FX rates of ``path`` (DATA.md input 5); every bad row listed in one ContractError."""
    from .finance.contracts import raise_issues, read_fx as read_rates

    issues: list = []
    rates, _ = read_rates(Path(path), issues, reporting)
    raise_issues(issues)
    return FxRates(rates, str(path))


def resolve_value(config: RunConfig, loaded: LoadedInput) -> RunConfig:
    """``--value`` not given: GMV when the data has values, else conversions (MODELS.md). ``--value gmv``
    given on a paths table without a value column is a UsageError (:func:`io.paths.require_value_column`),
    raised before the model runs: its credits were all 0."""
    if not config.value_auto:
        if config.model.value == "gmv" and loaded.kind == "paths":
            from .io.paths import require_value_column

            require_value_column(loaded.table, loaded.source)
        return config
    return config.with_value("gmv" if float(loaded.table.value.sum()) > 0.0 else "conversions")


def check_paths(config: RunConfig, outputs=(), source=None, *, table=None, fmt: str | None = None) -> None:
    """Refuse, before any work, output paths that cannot take their files or would write over an
    input (:func:`io.atomic.check_outputs`): ``outputs`` as ``(option, path)`` pairs beside the
    config's ``--rejects`` (and ``run``'s ``--out`` directory, which no input may be inside).
    ``table``: ``attribute``'s ``(option, path)`` of its table, whose extension must name a format
    when ``fmt`` is None (:func:`io.tables.format_of`), and ``fmt`` one a file takes (parquet only
    in a file)."""
    from .config import FILE_KEYS
    from .io.atomic import check_outputs
    from .io.tables import FILE_FORMATS, format_of

    table_path = None if table is None else table[1]
    if table_path is not None:
        outputs = [table, *outputs]

    inputs = [(f"--{key}", getattr(config, key, None)) for key in FILE_KEYS]
    if source is not None:
        inputs.append(("the input", source))
    directory = "--out" if config.command == "run" else None
    check_outputs([*((("--out", config.out),) if directory else ()), *outputs, ("--rejects", config.rejects)],
                  inputs, directory=directory)
    if table_path is not None and fmt is None:
        format_of(table_path)  # an unknown extension is refused before the work, not after
    elif table_path is not None and fmt not in FILE_FORMATS:
        from .errors import UsageError

        raise UsageError(f"format {fmt!r} with {table[0]} {table_path}: expected csv, parquet or json"
                         + (" (table is for the terminal)" if fmt == "table" else ""))
    elif table is not None and table_path is None and fmt == "parquet":
        from .errors import UsageError

        raise UsageError(f"format parquet needs {table[0]} FILE")


def check_positions(config: RunConfig, positions) -> None:
    """``--positions FILE`` before any work: the credit per touch position is the ordered game's."""
    if positions is not None and not (config.model.model == "shapley" and config.model.game == "ordered"):
        from .errors import UsageError

        raise UsageError("--positions needs the ordered game (--model shapley --game ordered)")


def positions_csv(attribution: "Attribution") -> bytes:
    """The ordered game's credit per touch position as ``attribute --positions`` writes it."""
    from .io.tables import frame_csv, positions_frame

    return frame_csv(positions_frame(attribution.result, attribution.params).drop("period"))


def attribute(config: RunConfig, source=None, fx: FxRates | None = None, echo: Echo = _silent,
              progress: Progress | None = None) -> Attribution:
    """Read ``source`` (default ``config.events``), cut journeys and attribute them with the model of
    ``config``. FX rates come from ``fx`` or ``config.fx``. ``progress`` shows stages on a terminal."""
    from .engines import load

    prog = progress or current()
    with active(prog):
        with prog.stage("read, validate and cut journeys"):
            if fx is None and config.fx is not None:
                fx = read_fx(config.fx, config.reporting_currency)
            loaded = load(config, source, fx)
        return fit_loaded(config, loaded, echo, prog)


def fit_loaded(config: RunConfig, loaded: LoadedInput, echo: Echo = _silent, progress: Progress | None = None
               ) -> Attribution:
    """The model of ``config`` on a loaded input. Credits that do not reconcile with the input raise
    (an engine fault, never the input's: exit 1)."""
    from .models import fit

    prog = progress or current()
    with active(prog), prog.stage("model"):
        config = resolve_value(config, loaded)
        result = fit(loaded.table, config.model)
    reconciliation = replace(loaded.reconciliation, gmv_attributed=float(result.credit[:, 1].sum()))
    if not reconciliation.balanced:
        raise RuntimeError("credits do not reconcile with the input: " + "; ".join(reconciliation.lines()))
    if loaded.order_ids_derived:
        echo(f"order_id derived for {loaded.order_ids_derived} conversion(s) without one: {DERIVED_ORDER_ID_RULE}")
    return Attribution(config, loaded, result, reconciliation, prog.timings)


def summary_lines(attribution: Attribution) -> list[str]:
    """What ``attribute`` and ``run`` print on stderr: the model as run, its choices, the reconciliation."""
    params, info, table = attribution.params, attribution.result.info, attribution.loaded.table
    game = f" game={params.game}" if params.has_game else ""
    alpha = f" alpha={params.alpha:g}" if params.model == "hybrid" else ""
    method = f" method={info['method']}" if "method" in info else ""
    lines = [f"model={params.model}{game}{alpha}{method} value={params.value} channels={table.n_channels} "
             f"paths={table.n_paths}"]
    if "method_reason" in info:
        lines.append(f"method: {info['method']} ({info['method_reason']})")
    if info.get("fallbacks"):
        lines.append(f"last-touch fallbacks: {info['fallbacks']} path(s) with no positive Shapley value")
    if "stop_reason" in info:
        lines.append(f"Monte Carlo: {info['samples']} permutations, stopped by {info['stop_reason']} "
                     f"(largest 95% half-width {info['max_rel_halfwidth']:.2e} of the total)")
    if "bootstrap" in info:
        boot = info["bootstrap"]
        lines.append(f"bootstrap: {boot['replicates']} replicates of the journeys, each carrying {boot['values']}")
    lines += attribution.reconciliation.lines()
    return lines


# --- the monthly run ------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Prepared:
    """Everything a run reads and checks, nothing written: what ``validate`` reports and ``run`` uses."""

    config: RunConfig
    finance: object  # finance.contracts.FinanceInputs
    fx: FxRates
    digests: dict
    loaded: LoadedInput
    seconds: float
    programme: object = None  # finance.programme_inputs.ProgrammeInputs (spend, MAP, pilot scope)

    def last_day_rate(self, currency: str):
        """rate_to_reporting of ``currency`` on the period's last day (Decimal): what payouts convert with."""
        from .finance.contracts import period_days, rate_on

        return rate_on(self.finance.fx, currency, period_days(self.config.period)[1],
                       self.config.reporting_currency, self.fx.source)


def prepare(config: RunConfig, progress: Progress | None = None) -> Prepared:
    """Read and check the finance files first (small; every problem listed at once), then the events."""
    from .engines import load
    from .finance.contracts import raise_issues, read_finance
    from .manifest import file_digest

    prog = progress or current()
    t0 = time.perf_counter()
    paths = {k: Path(getattr(config, k)) for k in ("partners", "sales", "fx", "coop")}
    paths |= {k: Path(getattr(config, k)) for k in ("spend", "map", "prices") if getattr(config, k)}
    events = os.fspath(config.events)  # not a Path: pathlib reads s3a://bucket/x as s3a:/bucket/x
    with active(prog):
        with prog.stage("finance inputs"):
            issues: list = []  # of every finance and programme input: one error lists them all
            finance = read_finance(paths["partners"], paths["sales"], paths["fx"], paths["coop"], config.period,
                                   config.reporting_currency, issues, config.countries)
            fx = FxRates(finance.fx, str(paths["fx"]))
            programme = read_programme_inputs(config, finance, paths["partners"], issues)
            raise_issues(issues)
            finance = programme.finance
        with prog.stage("read, validate and cut journeys"):
            loaded = load(config, events, fx)
        with prog.stage("input digests"):
            digests = {"events": file_digest(events)} | {k: file_digest(p) for k, p in paths.items()}
    return Prepared(config, finance, fx, digests, loaded, time.perf_counter() - t0, programme.inputs)


@dataclass(frozen=True, eq=False)
class _ScopedProgramme:
    finance: object
    inputs: object


def read_programme_inputs(config: RunConfig, finance, partners_path: Path, issues: list) -> _ScopedProgramme:
    """PROGRAMME.md's inputs: the finance inputs scoped to the pilot countries (partners and budgets of
    other countries are not paid) and spend, MAP and price observations checked against them; their
    problems are added to ``issues`` (``prepare`` raises them with the finance files')."""
    from .finance.programme_inputs import read_programme, scope_to_countries

    scoped, out_partners, out_budgets = scope_to_countries(finance, config.countries)
    inputs = read_programme(config, scoped, issues, partners_path)
    inputs.outside_partners, inputs.outside_budgets = out_partners, out_budgets
    covered = {p.country for p in scoped.partners} | {b.scope for b in scoped.coop}
    inputs.pilot_without_partners = [c for c in config.countries or () if c not in covered]
    return _ScopedProgramme(scoped, inputs)


LISTED_WARNINGS = 10
"""Most lines of one kind of warning a command prints; the rest are counted on one more line (every one
is in the manifest): a programme of 3,000 partners, 1,239 of them quiet in a month, printed 1,239 lines."""


def untouched_channels(prep: Prepared) -> list[tuple[str, str]]:
    """The (partner_id, channel) pairs of paid partners whose channel has no touch in the run's
    journeys, in the partners' order: credited nothing (manifest ``payouts.channels_without_touch``)."""
    seen = set(prep.loaded.table.channels)
    return [(p.partner_id, ch) for p in prep.finance.partners for ch in p.channels if ch not in seen]


def capped(lines: list[str], what: str) -> list[str]:
    """The first :data:`LISTED_WARNINGS` of ``lines``, then one line counting the rest: ``what`` names
    them and where every one is recorded."""
    if len(lines) <= LISTED_WARNINGS:
        return lines
    more = len(lines) - LISTED_WARNINGS
    return lines[:LISTED_WARNINGS] + [f"warning: ... and {more} more {what}, {len(lines)} in all"]


def channel_warnings(prep: Prepared) -> list[str]:
    """A paid partner's channel with no touch in the run's journeys is credited nothing: said, since a
    mistyped label (``partner:DE-0O42``) looks the same as a quiet month (:func:`capped`)."""
    return capped([f"warning: channel {ch} of partner {pid} has no touch in the run's journeys: credited 0"
                   for pid, ch in untouched_channels(prep)],
                  "partner channels with no touch in the run's journeys "
                  "(manifest.json payouts.channels_without_touch)")


def pilot_warnings(config: RunConfig, programme) -> list[str]:
    """A pilot country with no partner in force and no co-op budget pays nobody: said, since a code
    like UK (GB in ISO 3166-1) is well formed."""
    return [f"warning: pilot country {c} (--countries) has no partner in force and no co-op budget in "
            f"{config.period}: nothing is paid there (a typo? GB, not UK)" for c in programme.pilot_without_partners]


@dataclass(frozen=True, eq=False)
class RunOutcome:
    out: Path
    run_id: str
    manifest: dict
    attribution: Attribution
    payouts: object  # finance.payouts.PayoutResult


COMPARISON = (("last", {}), ("linear", {}), ("markov", {}), ("shapley", {"game": "rate"}),
              ("hybrid", {"game": "rate"}))
"""``models.csv``: the cheap models side by side on the run's journeys (the hybrid at the run's α)."""


def compare_models(attribution: Attribution) -> list[tuple[ModelParams, ModelResult]]:
    """The comparison models on the run's table, reusing the run's own result where it is one of them."""
    from .models import fit

    run_params = attribution.params
    out = []
    for model, extra in COMPARISON:
        params = ModelParams(model=model, value=run_params.value, alpha=run_params.alpha, seed=run_params.seed,
                             **extra)
        same = (params.model == run_params.model and params.game_label == run_params.game_label
                and (model != "hybrid" or params.alpha == run_params.alpha) and run_params.collapse_repeats is None
                and run_params.method != "mc" and not run_params.bootstrap and run_params.order == 1)
        out.append((params, attribution.result if same else fit(attribution.loaded.table, params)))
    return out


def run(config: RunConfig, echo: Echo = _silent, progress: Progress | None = None) -> RunOutcome:
    """The monthly batch: events + partners + sales + FX + co-op budgets → one run directory."""
    from .finance.kpis import compute_kpis, programme_kpis
    from .finance.uncertainty import noise_records, noise_warnings
    from .io import tables
    from .io.run_directory import check_target, write_run_directory
    from .manifest import build_manifest, run_id as make_run_id, to_json

    prog = progress or current()
    check_target(config.out, config.force)
    check_paths(config)
    prep = prepare(config, prog)
    attribution = fit_loaded(prep.config, prep.loaded, echo, prog)
    with active(prog), prog.stage("payouts and comparison"):
        payouts, intervals = settle_payouts(prep, attribution)
        if prep.config.noise_free_payouts and any(i.noisy for i in (intervals or {}).values()):
            attribution, payouts, intervals = _resample_until_exact(prep, attribution, payouts, echo, prog)
        config = attribution.config
        noise = noise_records(intervals)
        comparison = compare_models(attribution)
        rid = make_run_id(prep.digests, config.parameters())
        kpi_rows = compute_kpis(config.period, payouts.lines, attribution.loaded.country_gmv, prep.last_day_rate)
        kpi_rows += programme_kpis(config.period, config.reporting_currency, prep.programme.spend, attribution.result,
                                   attribution.loaded.table, attribution.loaded.margins, config.model, payouts.lines,
                                   prep.last_day_rate)
    with prog.stage("write"):
        frame = tables.attribution_frame(attribution.result, config.model, config.period)
        positions = tables.positions_frame(attribution.result, config.model, config.period)
        files = {
            "attribution.csv": tables.frame_csv(frame),
            "attribution.parquet": tables.parquet_bytes(frame, config),
            "models.csv": tables.frame_csv(tables.models_frame(comparison, config.period)),
            "payouts.csv": tables.payouts_csv(payouts, config.period, rid, None if intervals is None else
                                              {pid: (i.low, i.high) for pid, i in intervals.items()}),
            "kpis.csv": tables.kpis_csv(kpi_rows),
            "rejects.csv": tables.frame_csv(all_rejects(prep, attribution.loaded.rejects)),
        }
        if positions is not None:
            files["positions.csv"] = tables.frame_csv(positions)
        if prep.programme.has_map:
            files["map_compliance.csv"] = tables.map_compliance_csv(prep.programme.compliance)
        manifest = build_manifest(prep, attribution, payouts, rid, list(files) + ["manifest.json", "report.html"],
                                  prog.timings, noise, files)
        files["manifest.json"] = to_json(manifest)
        out = write_run_directory(config.out, files, config.force, finish=_build_report)
    hint = ("raise --max-samples: sampling stopped at it" if "noise_free_payouts" in attribution.result.info
            else "lower --tolerance or use --noise-free-payouts")
    for line in (capped(noise_warnings(noise, hint), "partners whose paid amount depends on the sampling "
                                                     "(manifest.json payouts.payout_noise)")
                 + pilot_warnings(config, prep.programme) + channel_warnings(prep)
                 + run_summary(config, rid, out, attribution, payouts, len(prep.programme.price_rejects)
                               if prep.programme is not None else 0)):
        echo(line)
    return RunOutcome(out, rid, manifest, attribution, payouts)


def all_rejects(prep: Prepared, event_rejects):
    """rejects.csv: the events' rejects, then the price observations PROGRAMME.md rejects."""
    import polars as pl

    issues = prep.programme.price_rejects if prep.programme is not None else []
    if not issues:
        return event_rejects
    extra = pl.DataFrame([(i.source, i.row, i.column, i.value, i.reason) for i in issues],
                         schema=event_rejects.schema, orient="row")
    return pl.concat([event_rejects, extra])


def _build_report(run_dir: Path) -> None:
    from .report import build_report

    build_report(run_dir)


def settle_payouts(prep: Prepared, attribution: Attribution):
    """The payout lines of an attribution, and the 95% intervals of each partner's attributed GMV when
    the credits are estimated or bootstrapped (``finance.uncertainty``; None otherwise)."""
    from .finance.payouts import compute_payouts
    from .finance.uncertainty import payout_intervals
    from .models.heuristics import last_touch_credit

    result, table, fin, config = attribution.result, attribution.loaded.table, prep.finance, attribution.config
    credit_gmv = dict(zip(result.channels, result.credit[:, 1].tolist()))
    last = last_touch_credit(table) if table.n_paths else None
    referral = dict(zip(table.channels, last[:, 1].tolist())) if last is not None else {}
    extra = prep.programme
    compliance = ({pid: c.ratio for pid, c in extra.compliance.items()} if extra is not None and extra.has_map
                  else None)
    payouts = compute_payouts(fin.partners, credit_gmv, referral, fin.sales, fin.fx, fin.coop, config.period,
                              config.reporting_currency, prep.fx.source, compliance, config.map_policy)
    boot = result.extra.get("bootstrap")
    intervals = payout_intervals(payouts.lines, result.channels, result.extra.get("gmv_std_error"),
                                 None if boot is None else boot["draws"], prep.last_day_rate)
    return payouts, intervals


def _resample_until_exact(prep: Prepared, attribution: Attribution, payouts, echo: Echo, progress: Progress):
    """``--noise-free-payouts``: refit the Monte Carlo credits at the tolerance under which no partner's
    compensation moves by half a minor unit (bounded by --max-samples), and say how it ended."""
    from .finance.uncertainty import tolerance_for_exact_payouts

    config = attribution.config
    alpha = config.model.alpha if config.model.model == "hybrid" else 1.0
    tolerance = tolerance_for_exact_payouts(payouts.lines, prep.last_day_rate,
                                            float(attribution.result.credit[:, 1].sum()), alpha)
    if tolerance is None or tolerance >= config.model.tolerance:
        return attribution, payouts, settle_payouts(prep, attribution)[1]
    echo(f"noise-free payouts: Monte Carlo again at --tolerance {tolerance:.3g} (was {config.model.tolerance:g}, "
         f"at most {config.model.max_samples} permutations)")
    again = replace(config, model=replace(config.model, tolerance=tolerance))
    attribution = fit_loaded(again, attribution.loaded, _silent, progress)
    attribution.result.info["noise_free_payouts"] = {"tolerance": tolerance, "samples": attribution.result.info.get(
        "samples"), "stop_reason": attribution.result.info.get("stop_reason")}
    payouts, intervals = settle_payouts(prep, attribution)
    return attribution, payouts, intervals


def run_summary(config: RunConfig, rid: str, out: Path, attribution: Attribution, payouts,
                price_rejects: int = 0) -> list[str]:
    from .finance.money import format_amount

    lines = [f"run {rid}: {out}"] + summary_lines(attribution)
    for c, t in payouts.totals_by_currency().items():
        lines.append(f"  {c}: total payable {format_amount(t['total_payable'], c)} (compensation "
                     f"{format_amount(t['compensation'], c)}, referral {format_amount(t['referral_commission'], c)}, "
                     f"rebate {format_amount(t['rebate'], c)}, co-op {format_amount(t['coop'], c)})")
    below = [ln.partner.partner_id for ln in payouts.lines if ln.below_min_profit]
    lines.append(f"below participation floor: {', '.join(below) if below else 'none'}")
    unchecked = [ln.partner.partner_id for ln in payouts.lines if ln.below_min_profit is None]
    if unchecked:
        lines.append(f"participation floor not checked (no sales row, gross margin unknown): {', '.join(unchecked)}")
    for b in payouts.coop:
        if b.carried_over > 0:
            lines.append(f"co-op budget carried over: {b.scope} {format_amount(b.carried_over, b.currency)} "
                         f"{b.currency}")
    for note in payouts.notes:
        lines.append(f"note: {note}")
    below_map = [ln.partner.partner_id for ln in payouts.lines if ln.below_map_minimum]
    if payouts.map_policy is not None:
        lines.append(f"below MAP minimum ({payouts.map_policy}): {', '.join(below_map) if below_map else 'none'}"
                     + ("; rebate and co-op withheld" if below_map and payouts.map_policy == "withhold" else ""))
    lines += margin_notes(attribution.loaded.margins, "are")
    rejected = attribution.loaded.reconciliation.rows_rejected
    if rejected:
        lines.append(f"rejected event rows: {rejected} (see rejects.csv)")
    if price_rejects:
        lines.append(f"rejected price observations: {price_rejects} (see rejects.csv)")
    lines.append(f"payouts: {out / 'payouts.csv'}")
    lines.append(f"report: {out / 'report.html'}")
    return lines


def margin_notes(margins, verb: str) -> list[str]:
    """Why Π and the attributed margins are missing when the run has margins but not on every
    conversion (said by run and validate; PROGRAMME.md: never guessed)."""
    if margins is None or margins.complete:
        return []
    return [f"margins: {margins.missing} conversion(s) of the run have no margin: programme profit and attributed "
            f"margins {verb} not reported (never guessed)"]


def validate(config: RunConfig, echo: Echo = _silent) -> Prepared:
    """Every check of ``run`` without writing anything; prints what ``run`` would reject. Its output
    paths are checked as ``run`` checks them first (a --rejects that is a directory, an --out that
    cannot be a run directory), so that "ok" means run would succeed."""
    from .errors import Issue

    check_paths(config)
    prep = prepare(replace(config, strict=False))
    fin, loaded = prep.finance, prep.loaded
    outside = len(prep.programme.outside_partners)  # in force, of countries outside the pilot
    echo(f"contracts: {len(fin.partners) + outside} partner(s) in force for {config.period}"
         + (f", {len(fin.partners)} of them in the pilot {','.join(config.countries)}" if config.countries else "")
         + (f"; not in force: {', '.join(fin.not_in_force)}" if fin.not_in_force else ""))
    for name, rows in (fin.rows | prep.programme.rows).items():
        echo(f"{name}: rows read {rows['read']} = accepted {rows['accepted']} + rejected {rows['rejected']}")
    for issue in prep.programme.price_rejects[:50]:
        echo("  would reject: " + issue.message())
    if prep.programme.outside_partners:
        echo(f"pilot {','.join(config.countries)}: partners of other countries not paid: "
             f"{', '.join(prep.programme.outside_partners)}")
    for line in pilot_warnings(config, prep.programme) + channel_warnings(prep):
        echo(line)
    for line in margin_notes(loaded.margins, "would be"):
        echo(line)
    for line in loaded.reconciliation.lines():
        echo(line)
    for r in loaded.rejects.head(50).iter_rows(named=True):
        echo("  would reject: " + Issue(r["source"], r["row"], r["column"], r["value"], r["reason"]).message())
    if len(loaded.rejects) > 50:
        echo(f"  ... and {len(loaded.rejects) - 50} more")
    if loaded.order_ids_derived:
        echo(f"order_id would be derived for {loaded.order_ids_derived} conversion(s): {DERIVED_ORDER_ID_RULE}")
    echo("ok: run would succeed" + (" (with the rejects above quarantined)"
                                    if len(loaded.rejects) or prep.programme.price_rejects else ""))
    return prep
