"""The Python API: the CLI's commands as functions, with every CLI option as a keyword.

Keywords are the option names without dashes (``--max-samples`` → ``max_samples``, ``--col`` →
``columns={"user_id": "customer_id"}``, ``--touch-type`` → ``touch_types=[...]``); a keyword left at
None takes the same default as the command line. They go through the same :func:`config.build_config`
and :mod:`pipeline` functions as the CLI, so the API returns exactly the CLI's table::

    import shapley_attr as sa
    credits = sa.attribute("data/samples/events.parquet", fx="data/samples/fx.csv")
    credits = sa.attribute(polars_frame, model="markov", order=2, columns={"user_id": "customer_id"})
    outcome = sa.run(config="data/samples/run.toml", out="runs/2026-10", force=True)
"""
from __future__ import annotations

from typing import Any


def attribute(data, *, with_report: bool = False, config: str | None = None, **options: Any):
    """Attribute the conversions and GMV of ``data`` to channels (the ``attribute`` command).

    Parameters
    ----------
    data : str, Path, polars.DataFrame, polars.LazyFrame or pyarrow.Table
        An events export (DATA.md input 1) or a paths table (input 2, ChannelAttribution's format).
    with_report : bool
        Also return the :class:`pipeline.Attribution` (loaded input, rejects, reconciliation, model
        choices in ``result.info``).
    config : path of a run.toml whose settings apply first (keywords win).
    **options
        Every option of ``shapley-attr attribute``: model, game, method, order, alpha, value, seed,
        tolerance, max_samples, bootstrap, collapse_repeats, half_life_days, position_weights,
        input_kind, input_format, columns, touch_types, conversion_types, currency, delimiter, sep,
        lookback_days, period, fx, reporting_currency, rejects (a CSV path the rejects are written
        to; bad rows are then quarantined, as with the CLI), strict (False quarantines without a
        file), out and format (write the table as the CLI's --out/--format does).

    Returns
    -------
    polars.DataFrame with columns ``channel, conversions, gmv, share, std_error, ci_low, ci_high``
    (then ``bootstrap_low, bootstrap_high`` with a bootstrap), ``model, game``; with
    ``with_report=True`` the pair ``(frame, attribution)``.
    """
    from .config import build_config
    from .io.atomic import write_bytes_atomic
    from .io.run_config import read_run_toml
    from .io.tables import credits_frame, frame_csv
    from .pipeline import attribute as run_attribute, check_paths

    out, fmt = options.pop("out", None), options.pop("format", None)
    layers = [read_run_toml(config)] if config is not None else []
    settings = build_config("attribute", *layers, options)
    check_paths(settings, source=data, table=("out", out), fmt=fmt)
    attribution = run_attribute(settings, source=data)
    frame = credits_frame(attribution.result, attribution.params)
    if settings.rejects is not None:
        write_bytes_atomic(settings.rejects, frame_csv(attribution.loaded.rejects))
    if out is not None:
        from .io.tables import encode_credits, format_of

        write_bytes_atomic(out, encode_credits(frame, fmt or format_of(out), attribution.config))
    return (frame, attribution) if with_report else frame


def run(*, config: str | None = None, echo=None, **options: Any):
    """The monthly run (``shapley-attr run``): returns the :class:`pipeline.RunOutcome` (run directory,
    run id, manifest, attribution, payouts). ``echo`` receives the summary lines (default: none)."""
    from .config import build_config
    from .io.run_config import read_run_toml
    from .pipeline import run as run_batch

    layers = [read_run_toml(config)] if config is not None else []
    return run_batch(build_config("run", *layers, options), echo=echo or (lambda _: None))


def validate(*, config: str | None = None, echo=None, **options: Any):
    """Every check of the monthly run, nothing written (``shapley-attr validate``)."""
    from .config import build_config
    from .io.run_config import read_run_toml
    from .pipeline import validate as validate_run

    layers = [read_run_toml(config)] if config is not None else []
    return validate_run(build_config("validate", *layers, options), echo=echo or (lambda _: None))


def load_table(data, *, config: str | None = None, **options: Any):
    """``data`` read, validated and cut into journeys: the :class:`engines.LoadedInput` whose
    ``table`` (a :class:`frames.PathTable`) every model reads. Same keywords as :func:`attribute`."""
    from .config import build_config
    from .engines import load
    from .io.run_config import read_run_toml
    from .pipeline import read_fx

    layers = [read_run_toml(config)] if config is not None else []
    settings = build_config("attribute", *layers, options)
    fx = read_fx(settings.fx, settings.reporting_currency) if settings.fx else None
    return load(settings, data, fx)
