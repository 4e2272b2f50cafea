"""Aggregated paths input (DATA.md, input 2; ChannelAttribution's format read unchanged)."""
from __future__ import annotations

from decimal import Decimal

import numpy as np
import polars as pl

from ..config import ColumnMapping
from ..errors import InputError, UsageError
from ..frames import VALUE_UNITS, PathTable, canonical_order, check_exact_total
from ..reconcile import CurrencyTotals
from ..schema import DIRECT
from .events import decoding
from .readers import ROW
from .views import blank

UNSPECIFIED_CURRENCY = "?"
MAX_NUMBER = 1e15
"""Largest count or value of a paths row: beyond, a unit or parsing error (and sums lose exactness)."""
"""Reconciliation key of a paths table's value when no --currency names its unit."""

_NUMERIC = ("total_conversions", "total_conversion_value", "total_null")

VALUE_COLUMN = "total_conversion_value"
"""The one column a paths table's values are read from (named so, or mapped to it by ``--col``)."""
VALUE_COLUMN_STAT = "has_value_column"
"""Key of a paths table's ``stats``: whether the table had a value column (absent, every value is 0)."""


def require_value_column(table: PathTable, source: str) -> None:
    """``--value gmv`` asked explicitly of a paths table without a value column: a UsageError (exit 2)
    before the model runs. Without the column every value reads as 0 and each channel got a GMV
    credit of 0 and a share of 0, a table that looked attributed. ``--value`` left out still decides
    for conversions on such a table (:func:`pipeline.resolve_value`); a value column of zeros is data,
    not a usage error. A table not read by :func:`read_paths_table` (no such stat) passes."""
    if table.stats.get(VALUE_COLUMN_STAT, True):
        return
    raise UsageError(f"--value gmv: {source} has no value column; expected one of: a {VALUE_COLUMN} column, "
                     f"a column mapped to it (--col {VALUE_COLUMN}=SOURCE; columns={{{VALUE_COLUMN!r}: SOURCE}} "
                     "in the Python API), or --value conversions")


def _number(name: str, schema, source: str) -> pl.Expr:
    """A count or value column as float64: numbers as they are, text parsed (a cell that is no number
    is a reject); a column of another type (dates read as days since 1970, booleans as 0/1) refused."""
    if name not in schema:
        return pl.lit(0.0, dtype=pl.Float64)
    dtype = schema[name]
    if dtype in (pl.Utf8, pl.Categorical) or isinstance(dtype, pl.Enum):
        return pl.col(name).cast(pl.Utf8).str.strip_chars().cast(pl.Float64, strict=False)
    if dtype.is_numeric() or dtype == pl.Null:
        return pl.col(name).cast(pl.Float64)
    raise InputError(source, f"column {name!r} holds {dtype}: expected numbers (or their text)", column=name)


def _path_text(schema, source: str, sep: str) -> pl.Expr:
    """The path as text: a text column as it is, a list of labels (a natural way to store paths in
    Parquet) joined by ``sep``; another type refused naming the column."""
    dtype = schema["path"]
    if dtype in (pl.Utf8, pl.Categorical) or isinstance(dtype, pl.Enum):
        return pl.col("path").cast(pl.Utf8)
    if isinstance(dtype, pl.Array) and (dtype.inner in (pl.Utf8, pl.Categorical) or isinstance(dtype.inner, pl.Enum)):
        # a list of a fixed number of labels (Arrow's fixed_size_list; Spark reads it as a list)
        return pl.col("path").cast(pl.List(dtype.inner)).list.eval(pl.element().cast(pl.Utf8)).list.join(sep)
    if isinstance(dtype, pl.List) and (dtype.inner in (pl.Utf8, pl.Categorical) or isinstance(dtype.inner, pl.Enum)):
        return pl.col("path").list.eval(pl.element().cast(pl.Utf8)).list.join(sep)
    raise InputError(source, f"column 'path' holds {dtype}: expected text (channels joined by {sep!r}) or a list "
                             "of channel labels", column="path")


def read_paths_table(lf: pl.LazyFrame, source: str, mapping: ColumnMapping
                     ) -> tuple[PathTable, pl.DataFrame, CurrencyTotals]:
    """Validate and aggregate a paths table. Returns (table, rejects, totals read / rejected / in the run).

    A path made of ``(direct)`` alone holds conversions without a touch (as this engine writes them);
    ``(direct)`` beside other channels is a reject.

    ``total_conversion_value`` and ``total_null`` are optional (0 when absent). Identical paths (after
    stripping the blanks around labels) are merged, their values summed exactly
    and in an order fixed by their text (:func:`_unique_paths`).
    """
    schema = lf.collect_schema()
    missing = [c for c in ("path", "total_conversions") if c not in schema]
    if missing:
        found = ", ".join(c for c in schema if c != ROW)
        raise InputError(source, f"missing required column(s) {', '.join(missing)}: expected path, "
                                 f"total_conversions[, total_conversion_value, total_null]; columns found: {found}",
                         column=missing[0])
    sep = mapping.sep
    path = _path_text(schema, source, sep)
    with decoding(source):  # a corrupt file or a string that is not UTF-8: the input's fault (exit 2)
        frame = lf.select(
            pl.col(ROW).cast(pl.Int64),
            path.alias("_path_text"),
            path.str.split(sep).list.eval(pl.element().str.strip_chars()).alias("labels"),
            *[_number(c, schema, source).alias(c) for c in _NUMERIC],
            *[(pl.col(c).cast(pl.Utf8) if c in schema else pl.lit("", dtype=pl.Utf8)).alias(f"_{c}_text")
              for c in _NUMERIC],
        ).collect()

    def bad_number(c: str) -> pl.Expr:
        return pl.col(c).is_null() | ~pl.col(c).is_finite() | (pl.col(c) < 0) | (pl.col(c) > MAX_NUMBER)

    checks = [
        (blank(pl.col("_path_text")), "path", "_path_text",
         f"empty path: expected channels joined by {sep!r}"),
        (pl.col("labels").list.eval((pl.element() == "").any()).list.first(), "path", "_path_text",
         f"empty channel in path: expected non-empty labels joined by {sep!r}"),
        *[(bad_number(c), c, f"_{c}_text", f"expected a finite number >= 0 and <= {MAX_NUMBER:.0e}") for c in _NUMERIC],
        (pl.col("labels").list.contains(DIRECT) & (pl.col("labels").list.len() > 1), "path", "_path_text",
         f"{DIRECT} is reserved for conversions without a touch: expected it alone on its path"),
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
    money = pl.Decimal(38, 6)

    # The reconciliation's sums (read = rejected + in the run, each summed on its own), by the events
    # input's rule for a rejected conversion (io.events, ``counted``): a rejected row is read and
    # rejected with what it holds, its value taken as 0 when not finite or beyond MAX_NUMBER (a finite
    # negative value counts as read, as an events gmv does). A count is no amount: a row's
    # total_conversions counts only when it is a valid count (finite, >= 0, <= MAX_NUMBER; the test
    # that rejects the row, ``bad_number``); a negative, NaN, infinite, too large or unparsed count
    # (a reject) adds 0 conversions to "read" and to "rejected" alike, so the line balances exactly and
    # shows no count the table does not hold (a row ``b,-2,...`` read as -2 conversions made "read"
    # smaller than the valid conversions in it). A valid count on a row rejected for another reason
    # (an empty path, a value without conversions) counts in both as it is.
    def summable(c: str) -> pl.Expr:  # a cell out of range is a reject and adds nothing to the sums
        ok = pl.col(c).is_finite().fill_null(False) & (pl.col(c).abs() <= MAX_NUMBER)
        return pl.when(ok).then(pl.col(c)).otherwise(0.0)

    finite_value = summable("total_conversion_value").cast(money)
    finite_conv = (pl.when(bad_number("total_conversions").fill_null(True)).then(0.0)
                   .otherwise(pl.col("total_conversions")))
    bad = pl.col("_reason").is_not_null()
    sums = frame.select(finite_conv.sum().alias("c"), finite_value.sum().alias("g"),
                        finite_conv.filter(bad).sum().alias("cr"), finite_value.filter(bad).sum().alias("gr"),
                        finite_conv.filter(~bad).sum().alias("ci"), finite_value.filter(~bad).sum().alias("gi"))
    c, g, cr, gr, ci, gi = sums.row(0)
    def dec(x) -> Decimal:
        return Decimal(0) if x is None else Decimal(x)

    totals = CurrencyTotals(mapping.currency or UNSPECIFIED_CURRENCY, _count(c), dec(g), _count(cr), dec(gr),
                            0, Decimal(0), _count(ci), dec(gi))
    table = _unique_paths(frame.filter(pl.col("_reason").is_null()), source)
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
        VALUE_COLUMN_STAT: VALUE_COLUMN in schema,  # --value gmv needs one (:func:`require_value_column`)
    }
    table = PathTable(table.offsets, table.codes, table.conversions, table.value, table.nulls, table.channels,
                      None, stats)
    return table, rejects, totals


def _unique_paths(accepted: pl.DataFrame, source: str) -> PathTable:
    """The accepted rows as a PathTable merged by path (values summed exactly in millionths, like the
    engines' journeys), in the content-fixed order of :func:`frames.canonical_order`. Polars and
    NumPy only: a paths input needs no compiled kernel."""
    labels = accepted.get_column("labels")
    flat = labels.explode()
    channels = flat.drop_nulls().unique().sort()
    codes = flat.cast(pl.Enum(channels.to_list())).to_physical().cast(pl.Int32).to_numpy()
    lengths = labels.list.len().to_numpy().astype(np.int64)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    value = accepted.get_column("total_conversion_value").to_numpy().astype(np.float64)
    check_exact_total(value, source)
    table = PathTable(offsets, np.ascontiguousarray(codes, dtype=np.int32),
                      accepted.get_column("total_conversions").to_numpy().astype(np.float64),
                      np.rint(value * VALUE_UNITS) / VALUE_UNITS,
                      accepted.get_column("total_null").to_numpy().astype(np.float64), tuple(channels.to_list()))
    return canonical_order(table, merge=True)


def _count(x) -> int | float:
    """Conversions of a paths table: an integer when whole (they may be fractional)."""
    x = float(x or 0.0)
    return int(x) if x.is_integer() else x
