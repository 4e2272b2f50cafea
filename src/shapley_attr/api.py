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

import os
from typing import Any

from .errors import InputKindError, UsageError


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
        file), out and format (write the table as the CLI's --out/--format does), positions (the
        ordered game's credit per touch position, a CSV path), engine, spark_master, spark_conf.
        A keyword of another command (partners, countries, force, ...) is an error, as an unknown
        one is.

    Returns
    -------
    polars.DataFrame with columns ``channel, conversions, gmv, share, std_error, ci_low, ci_high``
    (then ``bootstrap_low, bootstrap_high`` with a bootstrap), ``model, game``; with
    ``with_report=True`` the pair ``(frame, attribution)``.
    """
    from .config import build_config
    from .io.atomic import write_bytes_atomic
    from .io.tables import credits_frame, frame_csv
    from .pipeline import attribute as run_attribute, check_paths, check_positions, positions_csv

    out, fmt, positions = (options.pop(key, None) for key in OUTPUT_KEYWORDS)
    _only_attribute_keywords(options)
    for key, path in (("out", out), ("positions", positions)):
        if path is not None and not isinstance(path, (str, os.PathLike)):
            raise UsageError(f"{key}: expected a path, got {path!r}")
    if fmt is not None and out is None:
        raise UsageError(f"format={fmt!r} needs out=: without it the table is returned, not written")
    layers = _layers(config)
    settings = build_config("attribute", *layers, options)
    check_paths(settings, [("positions", positions)], source=data, table=("out", out), fmt=fmt)
    check_positions(settings, positions)
    attribution = run_attribute(settings, source=data)
    frame = credits_frame(attribution.result, attribution.params)
    if positions is not None:
        write_bytes_atomic(positions, positions_csv(attribution))
    if settings.rejects is not None:
        write_bytes_atomic(settings.rejects, frame_csv(attribution.loaded.rejects))
    if out is not None:
        from .io.tables import encode_credits, format_of

        write_bytes_atomic(out, encode_credits(frame, fmt or format_of(out), attribution.config))
    return (frame, attribution) if with_report else frame


ATTRIBUTE_KEYWORDS = frozenset(
    ("model", "game", "method", "order", "alpha", "value", "seed", "tolerance", "max_samples", "bootstrap",
     "collapse_repeats", "half_life_days", "position_weights", "input_kind", "input_format", "columns",
     "touch_types", "conversion_types", "currency", "delimiter", "sep", "lookback_days", "period", "fx",
     "reporting_currency", "rejects", "strict", "engine", "spark_master", "spark_conf"))
"""The settings ``attribute`` and ``load_table`` take as keywords: the options of ``shapley-attr
attribute`` (and ``strict``). The others (partners, countries, force, ...) belong to ``run``; given
here they were ignored, or (countries) applied a pilot scope the command does not have."""


OUTPUT_KEYWORDS = ("out", "format", "positions")
"""The keywords :func:`attribute` takes besides the settings: where and how its tables are written."""


def _only_attribute_keywords(options) -> None:
    other = sorted(k for k in options if k not in ATTRIBUTE_KEYWORDS)
    if other:
        from .config import KEYS, unknown_setting

        if other[0] in KEYS:
            raise UsageError(f"{other[0]}: a setting of run and validate, not of attribute; attribute takes "
                             f"{', '.join(sorted(ATTRIBUTE_KEYWORDS))}, {', '.join(OUTPUT_KEYWORDS[:-1])} and "
                             f"{OUTPUT_KEYWORDS[-1]}")
        raise UsageError(unknown_setting(other[0], set(ATTRIBUTE_KEYWORDS) | set(OUTPUT_KEYWORDS)))


def run(*, config: str | None = None, echo=None, **options: Any):
    """The monthly run (``shapley-attr run``): returns the :class:`pipeline.RunOutcome` (run directory,
    run id, manifest, attribution, payouts). ``echo`` receives the summary lines (default: none)."""
    from .config import build_config
    from .pipeline import run as run_batch

    return run_batch(build_config("run", *_layers(config), options), echo=_echo(echo))


def validate(*, config: str | None = None, echo=None, **options: Any):
    """Every check of the monthly run, nothing written (``shapley-attr validate``)."""
    from .config import build_config
    from .pipeline import validate as validate_run

    return validate_run(build_config("validate", *_layers(config), options), echo=_echo(echo))


def load_table(data, *, config: str | None = None, **options: Any):
    """``data`` read, validated and cut into journeys: the :class:`engines.LoadedInput` whose
    ``table`` (a :class:`frames.PathTable`) every model reads. Same keywords as :func:`attribute`."""
    from .config import build_config
    from .engines import load
    from .pipeline import read_fx

    _only_attribute_keywords(options)
    layers = _layers(config)
    settings = build_config("attribute", *layers, options)
    fx = read_fx(settings.fx, settings.reporting_currency) if settings.fx else None
    return load(settings, data, fx)


def _layers(config) -> list[dict]:
    """The settings of ``config`` (a run.toml path) as the first layer, or none."""
    if config is None:
        return []
    if not isinstance(config, (str, os.PathLike)):
        raise InputKindError(f"config: expected the path of a run.toml, got {type(config).__name__}")
    from .io.run_config import read_run_toml

    return [read_run_toml(config)]


def _echo(echo):
    """``echo``: a function of one line of text, or None (nothing said); checked before any work, not
    when the first line comes after the run directory was written."""
    if echo is not None and not callable(echo):
        raise InputKindError(f"echo: expected a function taking a line of text (or None), got {type(echo).__name__}")
    return echo or (lambda _: None)
