"""The local engine: this machine, Polars scans and the compiled journey kernels (the default)."""
from __future__ import annotations

import numpy as np
import polars as pl

from dataclasses import replace
from decimal import Decimal

from ..errors import InputError, Issue, UsageError
from ..io.events import MONEY, ValidatedEvents, validate_events
from ..schema import EVENT_REQUIRED
from ..frames import check_exact_total
from ..io.paths import read_paths_table
from ..io.readers import is_csv_file, scan_input, temporary_scope
from ..journeys import cut_journeys, period_bounds
from ..reconcile import CurrencyTotals, Reconciliation, currency_totals
from . import FxRates, LoadedInput


def load(config, source=None, fx: FxRates | None = None) -> LoadedInput:
    """Read, validate and cut ``source`` (a path, Polars frame or Arrow table; default
    ``config.events``) into the run's PathTable. Bad rows raise :class:`InputError` unless
    ``config.quarantine``; then they are in ``rejects``."""
    source = config.events if source is None else source
    if source is None:
        raise InputError("--events", "no input given: expected an events export or a paths table")
    with temporary_scope():  # a decompressed copy of the input lives while it is read, not to the exit
        return _load(config, source, fx)


def _load(config, source, fx: FxRates | None) -> LoadedInput:
    lf, name = scan_input(source, config.mapping)
    kind = config.input_kind or guess_kind(lf.collect_schema())
    if kind == "paths":
        return _from_paths(lf, name, config)
    from ..kernels.preload import preload

    # the journey kernels load in the background while the rest of the validation runs; not earlier:
    # during the first pass their ~100 MB would add to the run's memory peak
    events = validate_events(lf, name, config.mapping, after_first_pass=preload, numbered=True,  # scan_input's
                             keep_others=is_csv_file(source, config.mapping))
    if events.rows_rejected and not config.quarantine:
        raise_first(events.rejects)
    return from_validated(events, config, fx)


def guess_kind(columns) -> str:
    """A paths table has a ``path`` column; an export with the events contract's required columns is
    events even with a ``path`` column of its own (a web analytics page path)."""
    if "path" in columns and not all(c in columns for c in EVENT_REQUIRED):
        return "paths"
    return "events"


def raise_first(rejects: pl.DataFrame) -> None:
    """The first bad row as an InputError, the others listed under it (at most 1000 kept)."""
    first = rejects.row(0, named=True)
    issues = [Issue(r["source"], r["row"], r["column"], r["value"], r["reason"])
              for r in rejects.head(1000).iter_rows(named=True)]
    raise InputError(first["source"], first["reason"], row=first["row"], column=first["column"], value=first["value"],
                     issues=issues, hint=f"{len(rejects)} bad rows in all; --rejects FILE quarantines them")


def in_run_mask(conversions: pl.DataFrame, config) -> pl.Series:
    """The conversions the run attributes: those whose ``event_time`` falls in the period and, for a
    pilot (``countries``), whose ``country`` is one of the pilot's (compared in upper case)."""
    start, end = period_bounds(config.period)
    t = conversions.get_column("t")
    mask = (t >= start) & (t < end)
    countries = getattr(config, "countries", None)
    if countries:
        mask = mask & in_countries(conversions, countries)
    return mask


def in_countries(conversions: pl.DataFrame, countries) -> pl.Series:
    return conversions.get_column("country").str.to_uppercase().is_in(list(countries)).fill_null(False)


def from_validated(events: ValidatedEvents, config, fx: FxRates | None) -> LoadedInput:
    """FX, the journey cut and the reconciliation of validated events (shared by the engines that
    validate with :func:`validate_events`)."""
    conversions = events.conversions
    in_run = in_run_mask(conversions, config)
    run_conv = conversions.filter(in_run)
    currencies = sorted(run_conv.get_column("currency").unique().to_list())
    gmv = conversions.get_column("gmv").to_numpy().astype(np.float64, copy=True)  # one per conversion
    run_at = np.flatnonzero(in_run.to_numpy())
    if fx is not None:
        from ..finance.contracts import conversion_rates

        gmv[run_at] = gmv[run_at] * conversion_rates(fx.rates, config.reporting_currency, fx.source, run_conv)
        unit = config.reporting_currency
    else:
        if len(currencies) > 1:
            raise InputError(events.source, f"mixed currencies {', '.join(currencies)} in the gmv of the run's "
                                            "conversions: give FX rates (--fx, converting to --reporting-currency) "
                                            "or filter the export to one currency", column="currency")
        unit = currencies[0] if currencies else config.mapping.currency
    check_exact_total(gmv[run_at], events.source, unit)
    in_scope = None  # one flag a conversion, as gmv
    if getattr(config, "countries", None):  # the pilot's: other countries' conversions close journeys, unattributed
        in_scope = in_countries(conversions, config.countries).to_numpy()
    margins, margin = _order_margins(events, run_conv, run_at, config, fx)
    table, margin_table = cut_journeys(events, gmv, config.journeys, in_scope, margin, release=True)
    del margin
    if margins is not None and margin_table is not None:
        margins = replace(margins, table=margin_table)
    run_gmv = gmv[run_at]
    by_country = (pl.DataFrame({"country": run_conv.get_column("country"), "gmv": run_gmv})
                  .group_by("country").agg(pl.col("gmv").sum(), pl.len().alias("n")).sort("country"))
    direct = table.stats["direct_conversions"]
    if table.stats["conversions_in_period"] != len(run_conv):
        raise RuntimeError(f"journey cut counted {table.stats['conversions_in_period']} conversions in the "
                           f"period, validation {len(run_conv)}")
    reconciliation = Reconciliation(
        source=events.source, rows_read=events.rows_read, rows_rejected=events.rows_rejected,
        by_currency=by_currency(events.counted, conversions.select("currency", "gmv"), in_run),
        currency=unit, gmv_in_run=exact_sum(run_gmv), gmv_direct=_direct_value(table) if direct else 0.0)
    return LoadedInput(events.source, "events", table, events.rejects, reconciliation, table.stats,
                       events.order_ids_derived,
                       dict(zip(by_country["country"].to_list(), by_country["gmv"].to_list())),
                       dict(zip(by_country["country"].to_list(), by_country["n"].to_list())),
                       has_timestamps=True, margins=margins)


def _order_margins(events: ValidatedEvents, run_conv: pl.DataFrame, run_at, config, fx: FxRates | None):
    """The run's order margins (``run`` and ``validate`` of an export with a margin column): exact sums
    and, when every conversion of the run has one, each margin in the reporting currency at the
    period's last-day rate, one per accepted conversion (``run_at``: the run's among them; 0 on the
    others, never read), what the cut carries into the margin table."""
    if not events.has_margin or getattr(config, "command", "attribute") == "attribute" or not config.period:
        return None, None
    from ..finance.contracts import period_days, rate_on
    from ..finance.programme import order_margins

    last_day = period_days(config.period)[1]
    rates = {} if fx is None else fx.rates
    source = "fx" if fx is None else fx.source
    margins, per_conv = order_margins(run_conv, lambda ccy: rate_on(rates, ccy, last_day, config.reporting_currency,
                                                                    source))
    if per_conv is None:
        return margins, None
    margin = np.zeros(len(events.conversions), dtype=np.float64)
    margin[run_at] = per_conv
    return margins, margin


def exact_sum(values) -> float:
    """The sum of values as the journeys carry them (integer millionths, exact), as a float."""
    import numpy as np

    from ..frames import VALUE_UNITS

    units = np.rint(np.asarray(values, dtype=np.float64) * VALUE_UNITS).astype(np.int64)
    return int(units.sum(dtype=np.int64)) / VALUE_UNITS


def by_currency(counted: pl.DataFrame, conversions: pl.DataFrame, in_run: pl.Series) -> tuple[CurrencyTotals, ...]:
    """Per currency: every non-touch row read, the rejected ones, and the accepted conversions outside
    and inside the run, each summed on its own (exact decimals), so the identity read = rejected +
    outside + in run is a check, not a definition."""
    def sums(frame: pl.DataFrame) -> dict[str, tuple[int, object]]:
        agg = (frame.group_by("currency").agg(pl.len().alias("n"), pl.col("gmv").cast(MONEY).sum().alias("g"))
               .sort("currency"))
        return {c: (int(n), g) for c, n, g in agg.iter_rows()}

    read = sums(counted.select("currency", "gmv"))
    rejected = sums(counted.filter(pl.col("rejected")).select("currency", "gmv"))
    outside = sums(conversions.filter(~in_run))
    inside = sums(conversions.filter(in_run))
    return currency_totals(read, rejected, outside, inside)


def _direct_value(table) -> float:
    from ..frames import direct_totals

    return float(direct_totals(table)[1])


def _from_paths(lf: pl.LazyFrame, name: str, config) -> LoadedInput:
    if config.model.model == "time-decay":
        raise UsageError("time-decay needs touch timestamps: give an events export, not a paths table")
    if config.period is not None:  # it was ignored: every conversion of the table attributed
        raise UsageError(f"--period {config.period}: a paths table has no dates, so no month can be taken "
                         "from it: leave --period out, or give the events export")
    table, rejects, totals = read_paths_table(lf, name, config.mapping)  # merged, in a content-fixed order
    if len(rejects) and not config.quarantine:
        raise_first(rejects)
    reconciliation = Reconciliation(source=name, rows_read=int(table.stats["paths_rows"]),
                                    rows_rejected=len(rejects), by_currency=(totals,),
                                    currency=config.mapping.currency, gmv_in_run=float(table.value.sum()),
                                    gmv_direct=_direct_value(table))
    return LoadedInput(name, "paths", table, rejects, reconciliation, table.stats)

