"""The ``shapley-attr`` command line: a thin click layer over the library (sqlite-utils style).

Commands parse options and call one library function. Domain errors become exit code 2 (bad usage or
bad input, with the file, row and column) and anything unexpected exit code 1. Heavy modules (numba,
polars, pyarrow) are imported inside the commands, so ``--help`` stays fast.
"""
from __future__ import annotations

import contextlib
import functools
import json
import sys
from pathlib import Path
from typing import NoReturn

import click

from . import __version__
from .config import DEFAULT_LOOKBACK_DAYS, GAMES, METHODS, MODELS, PATH_SEP, VALUES


class InputFailure(click.ClickException):
    """Bad input or a combination of options that cannot work: exit code 2."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class EngineFailure(click.ClickException):
    """A failure inside the engine: exit code 1."""

    exit_code = 1

    def show(self, file=None) -> None:
        click.echo(f"internal error: {self.format_message()}", err=True)


def handle_errors(fn):
    """Turn the package's exceptions into click exceptions with the documented exit codes: bad input,
    bad settings and refused outputs are 2; anything else is a failure inside the engine, 1."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from .config import ConfigError
        from .errors import ShapleyAttrError

        # the SIGTERMs noted before this command (by an earlier one in the same process) are not its own
        atomic = sys.modules.get("shapley_attr.io.atomic")  # not loaded yet: none noted
        since = atomic.signals_noted() if atomic is not None else 0
        try:
            with _notes_on_stderr():
                return fn(*args, **kwargs)
        except click.ClickException:
            raise
        except (ShapleyAttrError, ConfigError) as exc:
            raise InputFailure(str(exc)) from exc
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError) as exc:
            raise InputFailure(f"{exc.filename}: {exc.strerror}") from exc
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - the CLI's last line of defence
            stop = _interruption(exc)
            if stop is None:  # or swallowed and replaced by an error of its own
                from .io.atomic import signalled_exit

                stop = signalled_exit(since)
            if stop is not None:  # SIGTERM's exit (or Ctrl-C) that a C extension wrapped on its way
                raise stop from None
            raise EngineFailure(f"{type(exc).__name__}: {exc}") from exc

    return wrapper


def _interruption(exc: BaseException) -> BaseException | None:
    """The SystemExit or KeyboardInterrupt an exception was raised from, if any. A SIGTERM during the
    output's write raises SystemExit(143) (io.atomic); arriving while a C extension module is being
    imported (matplotlib's, for the report's charts), the extension's initialisation reports it as
    ``ImportError: initialization failed`` raised from it, which is no failure of the engine: the command
    exits as SIGTERM asked (seen once in the seeded kill test)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (SystemExit, KeyboardInterrupt)):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


# --- shared option bundles ---------------------------------------------------------------------
def _position_weights(ctx, param, value):
    if value is None:
        return None
    try:
        parts = tuple(float(x) for x in value.split(","))
    except ValueError:
        raise click.BadParameter("expected three numbers like 0.4,0.2,0.4") from None
    if len(parts) != 3:
        raise click.BadParameter("expected three numbers like 0.4,0.2,0.4")
    return parts


def model_options(fn):
    """Options that decide the model's numbers (MODELS.md). Defaults None = the command's default."""
    opts = [
        click.option("--model", type=click.Choice(MODELS), default=None,
                     help="Attribution model [attribute: shapley; run: hybrid]."),
        click.option("--game", type=click.Choice(GAMES), default=None,
                     help="Shapley game for shapley/hybrid [rate]."),
        click.option("--method", type=click.Choice(METHODS), default=None,
                     help="exact, Monte Carlo, or auto (exact while it fits) [auto]."),
        click.option("--order", type=click.IntRange(1, 4), default=None, help="Markov order [1]."),
        click.option("--alpha", type=click.FloatRange(0, 1), default=None,
                     help="Hybrid weight of the Shapley share against last touch [0.5]."),
        click.option("--value", type=click.Choice(VALUES), default=None,
                     help="What is attributed: gmv or conversions [gmv when the data has values]."),
        click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None, help="Seed for MC and bootstrap [0]."),
        click.option("--tolerance", type=float, default=None,
                     help="MC: stop when the largest 95%% CI half-width / total is below this [0.001]."),
        click.option("--max-samples", type=int, default=None, help="MC: most permutations [200000]."),
        click.option("--bootstrap", type=click.IntRange(0), default=None,
                     help="Resample journeys B times (0, or at least 100) for percentile 95%% intervals [0: off]."),
        click.option("--collapse-repeats/--keep-repeats", default=None,
                     help="Collapse consecutive repeats of a channel [markov: collapse; others: keep]."),
        click.option("--half-life-days", type=float, default=None, help="time-decay half-life [7]."),
        click.option("--position-weights", callback=_position_weights, default=None,
                     help="position model weights first,middle,last [0.4,0.2,0.4]."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _parse_cols(ctx, param, values):
    out = []
    for v in values:
        name, eq, source = v.partition("=")
        if not eq or not name.strip() or not source.strip():
            raise click.BadParameter(f"{v!r}: expected NAME=SOURCE, e.g. --col user_id=customer_id")
        out.append((name.strip(), source.strip()))
    return tuple(out)


def mapping_options(fn):
    """How the input is read and mapped onto the contract columns (DATA.md)."""
    opts = [
        click.option("--input-kind", type=click.Choice(["events", "paths"]), default=None,
                     help="Events export or aggregated paths [guessed from the columns]."),
        click.option("--input-format", type=click.Choice(["parquet", "csv", "arrow"]), default=None,
                     help="File format [by extension]."),
        click.option("--col", "columns", multiple=True, callback=_parse_cols, metavar="NAME=SOURCE",
                     help="Read contract column NAME from source column SOURCE (repeatable)."),
        click.option("--touch-type", "touch_types", multiple=True,
                     help="event_type value meaning a touch (repeatable) [touch]."),
        click.option("--conversion-type", "conversion_types", multiple=True,
                     help="event_type value meaning a conversion (repeatable) [conversion]."),
        click.option("--currency", default=None, help="Currency of gmv when the export has no currency column."),
        click.option("--delimiter", default=None, help="CSV field separator [guessed: , ; tab |]."),
        click.option("--sep", default=None, help=f"Channel separator inside a path [{PATH_SEP!r}]."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _parse_conf(ctx, param, values):
    out = []
    for v in values:
        key, eq, value = v.partition("=")
        if not eq or not key.strip():
            raise click.BadParameter(f"{v!r}: expected KEY=VALUE, e.g. --spark-conf spark.sql.shuffle.partitions=64")
        out.append((key.strip(), value.strip()))
    return tuple(out)


def engine_options(fn):
    """Where the heavy part runs (DATA.md "Engines")."""
    opts = [
        click.option("--engine", type=click.Choice(["local", "spark"]), default=None,
                     help="local: this machine [default]; spark: Apache Spark (pip install shapley_attr[spark])."),
        click.option("--spark-master", default=None, metavar="URL",
                     help="Spark master for --engine spark [local[*], or the cluster's own when submitted]."),
        click.option("--spark-conf", multiple=True, callback=_parse_conf, metavar="KEY=VALUE",
                     help="Spark configuration for --engine spark (repeatable)."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def journey_options(fn):
    opts = [
        click.option("--lookback-days", type=float, default=None,
                     help=f"Touches older than this before a conversion are dropped [{DEFAULT_LOOKBACK_DAYS:g}]."),
        click.option("--period", default=None, metavar="YYYY-MM",
                     help="Attribute conversions of this UTC month only [all]."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def settings(config_path, options: dict) -> list[dict]:
    """The layers of settings a command builds its RunConfig from: run.toml (when given), then the
    command line. Options left unset are None and do not override the file."""
    from .io.run_config import read_run_toml

    layers = [read_run_toml(config_path)] if config_path is not None else []
    cli_values = {k: v for k, v in options.items() if v is not None and v != ()}
    for key in ("events", "partners", "sales", "fx", "coop", "spend", "map", "prices", "out", "rejects"):
        if cli_values.get(key) is not None:
            cli_values[key] = str(cli_values[key])
    return layers + [cli_values]


def echo_err(message: str) -> None:
    click.echo(message, err=True)


@contextlib.contextmanager
def _notes_on_stderr():
    """The library's notes (:class:`errors.InputNote` warnings) printed as ``note: ...`` lines, each
    once in a command (the Spark engine checks the mapping twice); other warnings shown as Python shows
    them."""
    import warnings

    from .errors import InputNote

    with warnings.catch_warnings():
        warnings.simplefilter("always", InputNote)
        shown, noted = warnings.showwarning, set()

        def show(message, category, filename, lineno, file=None, line=None):
            if issubclass(category, InputNote):
                if str(message) not in noted:
                    noted.add(str(message))
                    echo_err(f"note: {message}")
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield


# --- the group --------------------------------------------------------------------------------
@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="shapley-attr")
def cli() -> None:
    """shapley-attr: multi-touch attribution (Shapley, Markov, heuristics) and partner payouts."""


@cli.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=str))  # a directory or URL: --engine spark
@model_options
@mapping_options
@journey_options
@engine_options
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the table here (atomically) instead of stdout.")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "json", "table"]), default=None,
              help="Output format [table on a terminal; csv when piped; by --out extension].")
@click.option("--positions", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Ordered game: write the credit per touch position here (CSV).")
@click.option("--rejects", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Quarantine invalid rows to this CSV (source,row,column,value,reason) instead of failing.")
@click.option("--fx", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="FX rates CSV (date,currency,rate_to_reporting) to convert mixed-currency GMV.")
@click.option("--reporting-currency", default=None, help="Currency of the GMV credits with --fx [EUR].")
@click.option("--quiet", "-q", is_flag=True, help="No summary on stderr.")
@handle_errors
def attribute(input_path, out, fmt, positions, quiet, **options) -> None:
    """Attribute the conversions and GMV of INPUT (an events export or a paths table) to channels.

    Output columns: channel, conversions, gmv, share, std_error, ci_low, ci_high (the last three
    are Monte Carlo estimates in the unit of the attributed value, empty when exact), then
    bootstrap_low, bootstrap_high with --bootstrap, then model and game.
    """
    from .config import build_config
    from .pipeline import attribute as run_attribute, check_paths, check_positions, positions_csv, summary_lines

    config = build_config("attribute", *settings(None, options | {"events": input_path}))
    check_paths(config, [("--positions", positions)], table=("--out", out), fmt=fmt)
    check_positions(config, positions)
    echo = (lambda m: None) if quiet else echo_err
    from .progress import Progress

    attribution = run_attribute(config, echo=echo, progress=Progress(quiet=quiet))
    from .io.tables import credits_frame, frame_csv
    from .io.atomic import write_bytes_atomic

    if positions is not None:
        write_bytes_atomic(positions, positions_csv(attribution))
    if config.rejects is not None:
        write_bytes_atomic(config.rejects, frame_csv(attribution.loaded.rejects))
    _emit(credits_frame(attribution.result, attribution.params), out, fmt, attribution.config)
    for line in summary_lines(attribution):
        echo(line)
    echo("time: " + ", ".join(f"{stage} {seconds:.2f}s" for stage, seconds in attribution.timings.items()))


def _emit(frame, out, fmt, config) -> None:
    """Write the attribution table to ``out`` (atomically) or stdout (``pipeline.check_paths`` has
    refused the formats a file or the terminal cannot take)."""
    from .io.tables import encode_credits

    if fmt is None:
        if out is not None:
            from .io.tables import format_of

            fmt = format_of(out)
        else:
            fmt = "table" if sys.stdout.isatty() else "csv"
    if out is not None:
        from .io.atomic import write_bytes_atomic

        write_bytes_atomic(out, encode_credits(frame, fmt, config))
        return
    if fmt == "table":
        click.echo(_table_text(frame))
    else:
        sys.stdout.buffer.write(encode_credits(frame, fmt, config))
        sys.stdout.flush()


def _table_text(frame) -> str:
    """A readable fixed-width table, largest credit first."""
    rows = frame.sort("share", descending=True).to_dicts()
    estimated = any(r["std_error"] is not None for r in rows)
    head = ["channel", "conversions", "gmv", "share"] + (["std_error", "ci_low", "ci_high"] if estimated else [])
    cells = [head]
    for r in rows:
        line = [r["channel"], f"{r['conversions']:.2f}", f"{r['gmv']:.2f}", f"{100 * r['share']:.2f}%"]
        if estimated:
            line += ["" if r[k] is None else f"{r[k]:.2f}" for k in ("std_error", "ci_low", "ci_high")]
        cells.append(line)
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    first = frame.row(0, named=True) if len(frame) else {"model": "", "game": None}
    out = [f"model: {first['model']}" + (f", game: {first['game']}" if first["game"] else "")]
    for j, c in enumerate(cells):
        out.append("  ".join(c[i].ljust(widths[i]) if i == 0 else c[i].rjust(widths[i]) for i in range(len(c))))
        if j == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


@cli.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory to write the data set into (created).")
@click.option("--journeys", type=click.IntRange(1), default=20_000, show_default=True, help="Number of journeys.")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="Random seed.")
@click.option("--force", is_flag=True, help="Overwrite files in an existing directory.")
@handle_errors
def sample(out, journeys, seed, force) -> None:
    """Write a synthetic but realistic data set (events, partners, sales, FX, co-op, run.toml)."""
    from .sample import write_sample

    if out.exists() and any(out.iterdir()) and not force:
        raise InputFailure(f"{out}: directory exists and is not empty (use --force to overwrite)")
    paths = write_sample(out, journeys=journeys, seed=seed)
    for name, path in sorted(paths.items()):
        click.echo(f"{name}: {path}", err=True)


def run_options(fn):
    """Inputs and outputs of the monthly batch; each may also come from --config run.toml."""
    opts = [
        click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="run.toml holding any of these options (paths relative to the file)."),
        click.option("--events", type=click.Path(), default=None,
                     help="The CDP events export (a directory of Parquet parts or a URL with --engine spark)."),
        click.option("--partners", type=click.Path(dir_okay=False), default=None, help="Partner contracts CSV."),
        click.option("--sales", type=click.Path(dir_okay=False), default=None, help="Partner sales CSV."),
        click.option("--fx", type=click.Path(dir_okay=False), default=None, help="FX rates CSV."),
        click.option("--coop", type=click.Path(dir_okay=False), default=None, help="Co-op budgets CSV."),
        click.option("--spend", type=click.Path(dir_okay=False), default=None,
                     help="Spend per channel CSV (period,channel,currency,spend): ROAS and CPA [none]."),
        click.option("--map", type=click.Path(dir_okay=False), default=None,
                     help="Minimum advertised prices CSV (sku,country,currency,map_price,valid_from,valid_to) [none]."),
        click.option("--prices", type=click.Path(dir_okay=False), default=None,
                     help="Partners' observed prices CSV (date,partner_id,sku,price,currency), with --map [none]."),
        click.option("--map-policy", type=click.Choice(["flag", "withhold"]), default=None,
                     help="A partner below its map_min_compliance: flag it, or withhold its rebate and co-op [flag]."),
        click.option("--countries", default=None, metavar="CC,CC",
                     help="Pilot scope: attribute conversions of these countries only, e.g. DE,FR,PL [all]."),
        click.option("--reporting-currency", default=None, help="Currency of GMV credits [EUR]."),
        click.option("--strict", is_flag=True, default=None,
                     help="Fail on the first bad event row instead of quarantining it to rejects.csv."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


@cli.command()
@run_options
@model_options
@mapping_options
@journey_options
@engine_options
@click.option("--out", type=click.Path(file_okay=False), default=None, help="Run directory to create.")
@click.option("--force", is_flag=True, default=None,
              help="Replace an existing run directory (only one that holds an earlier run of this engine).")
@click.option("--quiet", "-q", is_flag=True, help="No progress and no summary on stderr (warnings stay).")
@click.option("--noise-free-payouts", is_flag=True, default=None,
              help="Monte Carlo credits: sample on (up to --max-samples) until no partner's compensation moves by "
                   "half a minor unit.")
@handle_errors
def run(config_path, quiet, **options) -> None:
    """The monthly batch: events + partners + sales + FX + co-op budgets -> a run directory.

    Writes attribution.csv (+ .parquet), models.csv, payouts.csv, kpis.csv, rejects.csv and
    manifest.json atomically; an existing directory is left untouched unless --force, which
    replaces only an earlier run directory. Defaults: --model hybrid --game rate --alpha 0.5.
    """
    from .config import build_config
    from .pipeline import run as run_batch
    from .progress import Progress

    def echo(message: str) -> None:  # --quiet keeps warnings and errors only
        if not quiet or message.startswith("warning:"):
            echo_err(message)

    run_batch(build_config("run", *settings(config_path, options)), echo=echo, progress=Progress(quiet=quiet))


@cli.command()
@run_options
@model_options
@mapping_options
@journey_options
@engine_options
@click.option("--out", type=click.Path(file_okay=False), default=None, hidden=True)
@click.option("--force", is_flag=True, default=None, hidden=True)
@handle_errors
def validate(config_path, **options) -> None:
    """Check every input of a run against its contract and print what run would reject.

    Writes nothing. Exit 0 when run would succeed (bad event rows are listed: run quarantines
    them), 2 when a contract, sales, FX or co-op file is wrong (every problem is listed).
    """
    from .config import build_config
    from .pipeline import validate as validate_run

    validate_run(build_config("validate", *settings(config_path, options)), echo=echo_err)


# --- scenarios (PROGRAMME.md) --------------------------------------------------------------------
@cli.command()
@click.argument("run_dir", metavar="RUN_DIR", type=click.Path(path_type=Path))
@click.option("--gamma", required=True, metavar="SPEC",
              help="γ for every partner: a list 0.03,0.05 or a range start:stop:step like 0.02:0.12:0.01 (stop included).")
@click.option("--beta", default=None, metavar="SPEC", help="β for every partner, as --gamma [each contract's own].")
@click.option("--rho", default=None, metavar="SPEC", help="ρ for every partner, as --gamma [each contract's own].")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory for scenarios.csv and gamma_min.csv [RUN_DIR/scenarios].")
@handle_errors
def scenarios(run_dir, gamma, beta, rho, out) -> None:
    """What-if payouts of a finished run, and the smallest γ that keeps each partner in.

    Reads RUN_DIR (no new attribution) and the partners, sales and FX files its manifest names,
    whose SHA-256 must still match; recomputes every payout line with the given rates applied to
    every partner (rounded as run rounds) and writes scenarios.csv (per scenario and currency) and
    gamma_min.csv (the smallest γ on a 0.0001 grid meeting gross_margin + total_payable >= min_profit).
    """
    from .scenarios import run_scenarios

    written = run_scenarios(run_dir, gamma, beta, rho, out)
    for path in written:
        click.echo(str(path), err=True)


# --- report (owned with shapley_attr.report) ----------------------------------------------------
@cli.command()
@click.argument("run_dir", metavar="RUN_DIR", type=click.Path(path_type=Path))
@handle_errors
def report(run_dir) -> None:
    """(Re)build RUN_DIR/report.html from the run directory's files alone.

    Nothing is recomputed: the page is made from manifest.json and the CSV files that run wrote
    (docs/run-directory.md); sections whose files or keys are missing say "not in this run". The
    same directory always gives the same bytes. Prints the report's path on stderr.
    """
    from .report import build_report
    from .report.data import load_run

    run = load_run(run_dir)
    path = build_report(run_dir, run)
    for name in run.altered:  # the page says so at its top too
        echo_err(f"warning: {name} changed since the run (SHA-256 not the one in manifest.json): the report "
                 "shows the edited figures")
    click.echo(str(path), err=True)


def main() -> None:
    _settle_process()
    try:
        cli(prog_name="shapley-attr")  # standalone: ends with SystemExit, the command's exit status
        status = 0
    except SystemExit as done:
        status = done.code
    _leave(status)


def _leave(status) -> NoReturn:
    """End the process as Python's exit does (the exit functions run, the standard streams are flushed,
    the status is ``sys.exit``'s), without the interpreter's teardown: every output is written and
    closed before the command returns, and freeing the modules' objects, numba's and llvm's among
    them, took 0.13-0.17 s of every command (10.7M events: 0.18-0.22 s from the last exit function to
    the end of the process; 0.04-0.06 s when it ends here, the kernel's release of its memory)."""
    import atexit
    import os

    if status is None:
        status = 0
    elif not isinstance(status, int):  # sys.exit("message"): printed, status 1
        print(status, file=sys.stderr)
        status = 1
    atexit._run_exitfuncs()  # what the interpreter runs first at exit (coverage, logging, pools)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: Python's exit reports 120
            status = status or 120
    os._exit(status)


GC_THRESHOLD = 20_000
"""Allocations between young-generation collections in a command (CPython's default, 700, had the
cyclic collector walk numba's and polars' objects 300-460 times a run: 0.11-0.2 s of held GIL on the
10.7M-event attribute and on the bundled monthly run; 10-16 collections, 0.03-0.09 s, at 20,000)."""


PROCESS_ENVIRONMENT = {
    "OPENBLAS_THREAD_TIMEOUT": "4",
    "_RJEM_MALLOC_CONF": "dirty_decay_ms:200,muzzy_decay_ms:0",
    "NUMPY_MADVISE_HUGEPAGE": "0",
    "POLARS_IGNORE_TIMEZONE_PARSE_ERROR": "1",
}
"""Defaults a command sets before numpy and polars load (a value the user set wins; the library
leaves its host's alone). OpenBLAS's idle threads sleep at once instead of spinning ~0.1 s of CPU
after the library loads (two copies load, numpy's and SciPy's; multithreaded BLAS stays for the
large Markov inverses). Polars' allocator (jemalloc; polars appends this variable to its own
defaults, dirty_decay_ms:500,muzzy_decay_ms:1000) hands memory freed by the validation's first pass
back to the system after 0.2 s instead of keeping it counted in the process for a second more, where
numpy's arrays cannot use it: 10.7M events, 6 alternating runs each, peak RSS median 1,150 -> 962 MiB
(max 1,263 -> 986), wall and CPU unchanged. NumPy's large arrays are not marked for transparent huge
pages: a huge page is a free 2 MB block, which a VM that reports free memory to its host (virtio
free page reporting, as on these machines: blocks of 2 MB and up) has handed back, so every huge page is a
fault in the host as well (the 10.7M-event records, 342 MB: 0.77 s of system time on huge pages,
0.16-0.19 s on small ones; peak RSS 962 -> 795 MiB, huge pages rounded the arrays' tails up).
Polars reads a timestamp column zoned ``+05:30`` (valid Arrow) or with a zone name it does not know
instead of refusing it with a Rust panic (the values are UTC instants whatever the zone;
``io.readers.IGNORE_TIME_ZONE``)."""

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # glibc's malloc.h
MALLOC_SETTINGS = {M_MMAP_MAX: 0, M_TRIM_THRESHOLD: -1}
"""glibc ``mallopt`` settings a command makes (``M_MMAP_MAX`` = 0: large blocks come from the heap
too; ``M_TRIM_THRESHOLD`` = -1: the heap is never trimmed, what a stage frees stays for the next
one), unless the user set glibc's ``MALLOC_*`` variables or its malloc tunables. By default glibc
maps every block over 32 MB on its own and unmaps it when freed, so each stage's large arrays (the
records, the journeys, the paths) were memory the system had to find and zero again for the next
stage to fault in; from the heap, a stage reuses what the one before freed (the validation's order
columns, once the records hold them, become the journeys' and the paths' arrays). The price is
memory: what a stage frees stays counted in the process until reused. Measured with the huge pages
setting above, both against neither (whole ``attribute`` commands alternating): 10.7M events, 8
pairs, median 3.10 -> 2.74 s, CPU 4.92 -> 4.28 s, peak RSS 958 -> 995 MiB; 53.4M events, 2 pairs, 15.1 -> 12.2 s,
peak RSS 3.1 -> 4.0 GB (the order columns and the records are both resident at the records' end;
mapped on their own, the columns went back as they were freed, and the time gain went with them).
Trimming (glibc's 128 kB, then 256 MiB here) gave the records back to the system when the journey
order freed them, and the paths' merge right after faulted in new memory (10.7M events: RSS 894 ->
554 -> 705 MiB); never trimming, 8 alternating pairs: 1.96 -> 1.91 s, peak RSS 913 -> 912 MiB;
53.4M, 3 pairs: 7.90 -> 7.69 s, 3,577 -> 3,628 MiB. A command exits soon after its last stage."""


def _settle_process() -> None:
    """Process settings for a command (:data:`PROCESS_ENVIRONMENT`, made before numpy and polars
    load), a cyclic collector that runs less often (:data:`GC_THRESHOLD`) and glibc's allocator
    keeping large blocks for reuse (:data:`MALLOC_SETTINGS`)."""
    import gc
    import os

    for name, value in PROCESS_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])
    _set_malloc()


def _set_malloc() -> bool:
    """:data:`MALLOC_SETTINGS` through glibc's ``mallopt``; False (nothing changed) on another C
    library or when the user tuned glibc's allocator."""
    import os

    try:
        glibc = (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError, AttributeError):  # not a name this system's confstr knows
        glibc = False
    if not glibc or any(k.startswith("MALLOC_") for k in os.environ) \
            or "malloc" in os.environ.get("GLIBC_TUNABLES", ""):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return all([mallopt(option, value) == 1 for option, value in MALLOC_SETTINGS.items()])
