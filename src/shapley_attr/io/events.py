"""Validation of an events export against the contract (DATA.md, input 1).

Checks are vectorised Polars expressions: each row gets the first failing (column, reason) or none.
Accepted rows come out typed (``t`` microseconds since the epoch, UTC; ``is_conversion``; ``gmv``
Float64); rejected rows become ``rejects.csv`` records (``source, row, column, value, reason``).
"""
from __future__ import annotations

import polars as pl

from ..config import EVENT_REQUIRED, ColumnMapping
from ..errors import InputError
from .readers import ROW

REJECT_SCHEMA = {"source": pl.Utf8, "row": pl.Int64, "column": pl.Utf8, "value": pl.Utf8, "reason": pl.Utf8}

_TZ_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z")
_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)


def parse_time(dtype: pl.DataType, column: str = "event_time") -> pl.Expr:
    """An expression giving UTC microseconds since the epoch (Int64), null where unparseable.

    Accepts Datetime of any unit (naive = UTC; zoned converted to UTC), Date, and ISO 8601 text with
    or without a zone (``Z``, ``+02:00``), with ``T`` or a space, seconds and fractions optional.
    """
    col = pl.col(column)
    if isinstance(dtype, pl.Datetime):
        dt = col.dt.convert_time_zone("UTC") if dtype.time_zone else col.dt.replace_time_zone("UTC")
        return dt.dt.cast_time_unit("us").dt.epoch("us")
    if dtype == pl.Date:
        return col.cast(pl.Datetime("us")).dt.epoch("us")
    text = col.cast(pl.Utf8).str.strip_chars()
    parsed = [text.str.strptime(pl.Datetime("us", "UTC"), f, strict=False) for f in _TZ_FORMATS]
    parsed += [text.str.strptime(pl.Datetime("us"), f, strict=False).dt.replace_time_zone("UTC") for f in _NAIVE_FORMATS]
    return pl.coalesce(parsed).dt.epoch("us")


def _as_text(name: str, schema) -> pl.Expr:
    if name not in schema:
        return pl.lit(None, dtype=pl.Utf8)
    return pl.col(name).cast(pl.Utf8)


def validate_events(lf: pl.LazyFrame, source: str, mapping: ColumnMapping) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Split an events frame into accepted rows and rejects.

    Returns ``(accepted, rejects, notes)``. ``accepted`` has columns ``__row, user_id, t,
    is_conversion, channel, gmv, order_id, country, currency``; ``rejects`` has the rejects.csv
    schema; ``notes`` says what the mapping did (derived order ids, default currency) and the GMV
    read / rejected.
    """
    schema = lf.collect_schema()
    missing = [c for c in EVENT_REQUIRED if c not in schema]
    if missing:
        found = ", ".join(c for c in schema if c != ROW)
        raise InputError(source, f"missing required column(s) {', '.join(missing)}: expected the events "
                                 f"contract (user_id, event_time, event_type, ...) or a --col mapping; "
                                 f"columns found: {found}", column=missing[0])
    notes: dict = {}
    touch_types = list(mapping.touch_types)
    conv_types = list(mapping.conversion_types)
    if set(touch_types) & set(conv_types):
        raise InputError(source, f"event type(s) {sorted(set(touch_types) & set(conv_types))} given as both "
                                 "touch and conversion", column="event_type")

    etype = pl.col("event_type").cast(pl.Utf8).str.strip_chars()
    user = pl.col("user_id").cast(pl.Utf8)
    channel = _as_text("channel", schema).str.strip_chars()
    country = _as_text("country", schema).str.strip_chars()
    currency_raw = _as_text("currency", schema).str.strip_chars()
    if mapping.currency:
        currency = pl.when(currency_raw.is_null() | (currency_raw == "")).then(pl.lit(mapping.currency)).otherwise(currency_raw)
        notes["default_currency"] = mapping.currency
    else:
        currency = currency_raw
    if "gmv" in schema:
        gmv_text = pl.col("gmv").cast(pl.Utf8).str.strip_chars()
        gmv = gmv_text.cast(pl.Float64, strict=False) if schema["gmv"] == pl.Utf8 else pl.col("gmv").cast(pl.Float64)
    else:
        gmv_text = pl.lit(None, dtype=pl.Utf8)
        gmv = pl.lit(None, dtype=pl.Float64)
    if "order_id" in schema:
        order = pl.col("order_id").cast(pl.Utf8).str.strip_chars()
    else:
        order = pl.lit(None, dtype=pl.Utf8)
        notes["order_id_derived"] = "no order_id column: derived from (user_id, event_time, row)"

    frame = lf.select(
        pl.col(ROW).cast(pl.Int64),
        user.alias("user_id"),
        parse_time(schema["event_time"]).alias("t"),
        pl.col("event_time").alias("_time_raw"),
        etype.alias("event_type"),
        channel.alias("channel"),
        country.alias("country"),
        currency.alias("currency"),
        gmv.alias("gmv"),
        gmv_text.alias("_gmv_text"),
        order.alias("order_id"),
    ).collect()

    is_touch = pl.col("event_type").is_in(touch_types)
    is_conv = pl.col("event_type").is_in(conv_types)
    bad_gmv = pl.col("gmv").is_null() | ~pl.col("gmv").is_finite() | (pl.col("gmv") < 0)
    bad_currency = pl.col("currency").is_null() | ~pl.col("currency").str.contains(r"^[A-Z]{3}$")
    expected_types = ", ".join(repr(t) for t in touch_types + conv_types)
    checks = [
        (pl.col("user_id").is_null() | (pl.col("user_id").str.strip_chars() == ""), "user_id", "user_id",
         "missing user_id: expected a customer id"),
        (pl.col("t").is_null(), "event_time", "_time_raw",
         "expected a UTC timestamp or ISO 8601 text like 2026-10-01T12:00:00Z"),
        (~(is_touch | is_conv) | pl.col("event_type").is_null(), "event_type", "event_type",
         f"unknown event type: expected one of {expected_types} (see --touch-type/--conversion-type)"),
        (is_touch & (pl.col("channel").is_null() | (pl.col("channel") == "")), "channel", "channel",
         "touch row without a channel: expected a channel label"),
        (is_conv & bad_gmv, "gmv", "_gmv_text", "expected a finite decimal number >= 0 for a conversion's gmv"),
        (is_conv & bad_currency, "currency", "currency",
         "expected an ISO 4217 currency code like EUR (or give --currency)"),
    ]
    # Cheap pass: one boolean per check; reasons are spelled out only for the rows that fail (usually
    # none), so a clean export pays a few vectorised comparisons and nothing more.
    frame = frame.with_columns(*[cond.fill_null(True).alias(f"_bad{i}") for i, (cond, _, _, _) in enumerate(checks)],
                               is_conv.fill_null(False).alias("is_conversion"))
    any_bad = pl.any_horizontal([pl.col(f"_bad{i}") for i in range(len(checks))])
    frame = frame.with_columns(any_bad.alias("_any_bad"))
    bad = frame.filter(pl.col("_any_bad"))
    reason = pl.lit(None, dtype=pl.Utf8)
    column = pl.lit(None, dtype=pl.Utf8)
    value = pl.lit(None, dtype=pl.Utf8)
    for i, (_, col, val, why) in reversed(list(enumerate(checks))):
        cond = pl.col(f"_bad{i}")
        reason = pl.when(cond).then(pl.lit(why)).otherwise(reason)
        column = pl.when(cond).then(pl.lit(col)).otherwise(column)
        value = pl.when(cond).then(pl.col(val).cast(pl.Utf8)).otherwise(value)
    bad = bad.select(ROW, reason.alias("_reason"), column.alias("_column"), value.alias("_value"))
    frame = (frame.drop([f"_bad{i}" for i in range(len(checks))])
             .join(bad, on=ROW, how="left", maintain_order="left") if len(bad) else
             frame.drop([f"_bad{i}" for i in range(len(checks))]).with_columns(
                 pl.lit(None, dtype=pl.Utf8).alias("_reason"), pl.lit(None, dtype=pl.Utf8).alias("_column"),
                 pl.lit(None, dtype=pl.Utf8).alias("_value")))

    # Order ids: derived from (user_id, event_time in epoch µs, row) when absent; a duplicate among
    # otherwise valid conversions is rejected (the first occurrence is kept). Only conversion rows are
    # looked at, so this costs little on a large export.
    derived = pl.concat_str([pl.col("user_id"), pl.col("t").cast(pl.Utf8), pl.col(ROW).cast(pl.Utf8)], separator="|")
    if "order_id_derived" in notes:
        frame = frame.with_columns(pl.when(pl.col("is_conversion")).then(derived).alias("order_id"))
    else:
        frame = frame.with_columns(
            pl.when(pl.col("is_conversion") & (pl.col("order_id").is_null() | (pl.col("order_id") == "")))
            .then(derived).otherwise(pl.col("order_id")).alias("order_id"))
        conv = frame.filter(pl.col("is_conversion") & pl.col("_reason").is_null()).select(ROW, "order_id")
        dups = (conv.with_columns(pl.col(ROW).min().over("order_id").alias("_first"))
                .filter(pl.col(ROW) != pl.col("_first")))
        if len(dups):
            frame = frame.join(dups.select(ROW, "_first"), on=ROW, how="left", maintain_order="left")
            dup = pl.col("_first").is_not_null()
            frame = frame.with_columns(
                pl.when(dup).then(pl.lit("order_id")).otherwise(pl.col("_column")).alias("_column"),
                pl.when(dup).then(pl.col("order_id")).otherwise(pl.col("_value")).alias("_value"),
                pl.when(dup).then(pl.format("duplicate order_id: expected unique per conversion (first at row {})",
                                            pl.col("_first"))).otherwise(pl.col("_reason")).alias("_reason"),
            ).drop("_first")

    non_touch = ~pl.col("event_type").is_in(touch_types).fill_null(False)
    finite_gmv = pl.when(non_touch & pl.col("gmv").is_finite().fill_null(False)).then(pl.col("gmv")).otherwise(0.0)
    sums = frame.select(
        finite_gmv.sum().alias("read"),
        finite_gmv.filter(pl.col("_reason").is_not_null()).sum().alias("rejected"),
    ).row(0)
    notes["gmv_read"] = float(sums[0] or 0.0)
    notes["gmv_rejected"] = float(sums[1] or 0.0)

    rejects = frame.filter(pl.col("_reason").is_not_null()).select(
        pl.lit(source).alias("source"), pl.col(ROW).alias("row"), pl.col("_column").alias("column"),
        pl.col("_value").fill_null("").alias("value"), pl.col("_reason").alias("reason"),
    ).sort("row")
    accepted = frame.filter(pl.col("_reason").is_null()).select(
        ROW, "user_id", "t", "is_conversion",
        pl.when(pl.col("is_conversion")).then(None).otherwise(pl.col("channel")).alias("channel"),
        pl.when(pl.col("is_conversion")).then(pl.col("gmv")).otherwise(0.0).alias("gmv"),
        "order_id", pl.col("country").fill_null(""), "currency",
    )
    return accepted, rejects, notes
