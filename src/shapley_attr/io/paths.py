"""Aggregated paths input (DATA.md, input 2; ChannelAttribution's format read unchanged)."""
from __future__ import annotations

import polars as pl

from ..config import ColumnMapping
from ..errors import InputError
from ..frames import PathTable, table_from_label_lists
from .readers import ROW

_NUMERIC = ("total_conversions", "total_conversion_value", "total_null")


def _number(name: str, schema) -> pl.Expr:
    if name not in schema:
        return pl.lit(0.0, dtype=pl.Float64)
    if schema[name] == pl.Utf8:
        return pl.col(name).str.strip_chars().cast(pl.Float64, strict=False)
    return pl.col(name).cast(pl.Float64)


def read_paths_table(lf: pl.LazyFrame, source: str, mapping: ColumnMapping) -> tuple[PathTable, pl.DataFrame, dict]:
    """Validate and aggregate a paths table. Returns (table, rejects, notes).

    ``total_conversion_value`` and ``total_null`` are optional (0 when absent). Identical paths (after
    stripping the blanks around labels) are merged; paths are sorted by their text, so the same file
    gives the same table whatever its row order.
    """
    schema = lf.collect_schema()
    missing = [c for c in ("path", "total_conversions") if c not in schema]
    if missing:
        found = ", ".join(c for c in schema if c != ROW)
        raise InputError(source, f"missing required column(s) {', '.join(missing)}: expected path, "
                                 f"total_conversions[, total_conversion_value, total_null]; columns found: {found}",
                         column=missing[0])
    sep = mapping.sep
    frame = lf.select(
        pl.col(ROW).cast(pl.Int64),
        pl.col("path").cast(pl.Utf8).alias("_path_text"),
        pl.col("path").cast(pl.Utf8).str.split(sep).list.eval(pl.element().str.strip_chars()).alias("labels"),
        *[_number(c, schema).alias(c) for c in _NUMERIC],
        *[(pl.col(c).cast(pl.Utf8) if c in schema else pl.lit("", dtype=pl.Utf8)).alias(f"_{c}_text") for c in _NUMERIC],
    ).collect()

    def bad_number(c: str) -> pl.Expr:
        return pl.col(c).is_null() | ~pl.col(c).is_finite() | (pl.col(c) < 0)

    checks = [
        (pl.col("_path_text").is_null() | (pl.col("_path_text").str.strip_chars() == ""), "path", "_path_text",
         f"empty path: expected channels joined by {sep!r}"),
        (pl.col("labels").list.eval((pl.element() == "").any()).list.first(), "path", "_path_text",
         f"empty channel in path: expected non-empty labels joined by {sep!r}"),
        *[(bad_number(c), c, f"_{c}_text", "expected a finite number >= 0") for c in _NUMERIC],
        ((pl.col("total_conversions") == 0) & (pl.col("total_conversion_value") > 0), "total_conversion_value",
         "_total_conversion_value_text", "value without conversions: expected 0 when total_conversions is 0"),
    ]
    reason = pl.lit(None, dtype=pl.Utf8)
    column = pl.lit(None, dtype=pl.Utf8)
    value = pl.lit(None, dtype=pl.Utf8)
    for cond, col, val, why in reversed(checks):
        cond = cond.fill_null(True)
        reason = pl.when(cond).then(pl.lit(why)).otherwise(reason)
        column = pl.when(cond).then(pl.lit(col)).otherwise(column)
        value = pl.when(cond).then(pl.col(val)).otherwise(value)
    frame = frame.with_columns(reason.alias("_reason"), column.alias("_column"), value.alias("_value"))
    rejects = frame.filter(pl.col("_reason").is_not_null()).select(
        pl.lit(source).alias("source"), pl.col(ROW).alias("row"), pl.col("_column").alias("column"),
        pl.col("_value").fill_null("").alias("value"), pl.col("_reason").alias("reason"),
    ).sort("row")
    finite_value = pl.when(pl.col("total_conversion_value").is_finite().fill_null(False)).then(
        pl.col("total_conversion_value")).otherwise(0.0)
    read, rejected = frame.select(finite_value.sum().alias("read"),
                                  finite_value.filter(pl.col("_reason").is_not_null()).sum().alias("rejected")).row(0)
    accepted = (frame.filter(pl.col("_reason").is_null())
                .with_columns(pl.col("labels").list.join("\x1f").alias("_key"))
                .group_by("_key").agg(pl.col("labels").first(), *[pl.col(c).sum() for c in _NUMERIC])
                .sort("_key"))
    table = table_from_label_lists(accepted["labels"], accepted["total_conversions"].to_numpy(),
                                   accepted["total_conversion_value"].to_numpy(), accepted["total_null"].to_numpy())
    conv = table.conversions
    stats = {
        "paths_rows": int(len(frame)),
        "unique_paths": table.n_paths,
        "journeys": float(conv.sum() + table.nulls.sum()),
        "converting_journeys": float(conv.sum()),
        "non_converting_journeys": float(table.nulls.sum()),
        "conversions_in_period": float(conv.sum()),
        "gmv_in_period": float(table.value.sum()),
        "max_path_length": int(table.lengths.max()) if table.n_paths else 0,
    }
    table = PathTable(table.offsets, table.codes, table.conversions, table.value, table.nulls, table.channels,
                      None, stats)
    return table, rejects, {"gmv_read": float(read or 0.0), "gmv_rejected": float(rejected or 0.0)}
