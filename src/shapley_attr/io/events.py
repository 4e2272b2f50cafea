"""Validation of an events export against the contract (DATA.md, input 1).

Checks are vectorised Polars expressions: each row gets the first failing (column, reason) or none.
Most rows of an export are touches that pass every check; those are recognised from their raw
values without evaluating the checks (see :func:`validate_events`), and every other row is checked.
Accepted rows come out typed (``t`` microseconds since the epoch, UTC; ``is_conversion``; ``gmv``
Float64); rejected rows become ``rejects.csv`` records (``source, row, column, value, reason``).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import polars as pl

from ..config import ColumnMapping
from ..errors import UNREADABLE, InputError
from ..progress import current
from ..schema import CONVERSION_TEXT, DIRECT, EVENT_COLUMNS, EVENT_REQUIRED, PARTNER_PREFIX, REJECT_COLUMNS
from .readers import ROW, _first_line
from .views import LabelIds, blank, certainly_given, read_times

MAX_GMV = 1e12
"""Largest order value (and |margin|) accepted: larger is a unit or parsing error, never an order."""
MONEY = pl.Decimal(38, 6)
"""Exact sums of order values for the reconciliation (order-independent, as Spark's DecimalType)."""
UNKNOWN_CURRENCY = "?"
"""Reconciliation key of rejected rows whose currency cannot be read."""
DERIVED_ORDER_ID_RULE = "derived from (user_id hash, event_time in µs, row number)"

BATCH_ROWS = 2_000_000
"""Rows validated per batch: bounds the memory of the wide per-row frame (~100 bytes a row)."""
KEPT_ROWS = 2_000_000
"""Most rows of other types (conversions, ...) the first pass keeps for the second (``keep_others``);
beyond, it drops them and the second pass reads the input again."""
WIDE_BATCH_ROWS = 500_000
"""Rows of the first pass's batches when it reads every contract column (``keep_others``): 10.7M
events from CSV, peak RSS 1.29 -> 0.98 GB and 4.0 -> 3.8 s against batches of BATCH_ROWS (a
Parquet export's narrow first pass measured the same at either size: 1.93 / 1.90 s, 8 runs each)."""

KNOWN_SHORTCUT = True
"""The second pass reads the rows whose user id and time the first pass read without those columns
(their hashes and time taken from the first pass); False reads and checks every such row whole (the
tests' reference)."""

REJECT_SCHEMA = dict(zip(REJECT_COLUMNS, (pl.Utf8, pl.Int64, pl.Utf8, pl.Utf8, pl.Utf8)))


@dataclass(frozen=True, eq=False)
class ValidatedEvents:
    """An events export after validation: what the journey cut needs and what reconciles the rest.

    ``accepted``: ``__row, _h, _h2`` (two independent 64-bit hashes of user_id), ``t`` (UTC epoch µs),
    ``is_conversion`` and ``code`` (Int32 index into ``channels``; -1 on conversions), in row order
    (the order values are the conversions' ``gmv``: no column of zeros for the touches); the hashes
    and times come in one chunk per validation batch (the journey cut frees them chunk by chunk).
    ``__row`` is left out when the accepted rows are every row, numbered 1, 2, ... (``numbered`` input
    with nothing rejected: 427 MB at 53.4M events that nothing would read); :meth:`row_numbers`
    gives the rows either way.
    ``conversions``: the accepted conversion rows: ``__row, _i`` (position in ``accepted``), ``t,
    order_id, country, currency, gmv`` and ``margin`` (null when the export has none), in row order.
    ``counted``: every row that is not a touch (``__row, currency, gmv`` as exact decimals, ``rejected``),
    the base of the per-currency reconciliation: GMV read = rejected + outside the run + in the run.
    """

    source: str
    rows_read: int
    accepted: pl.DataFrame
    conversions: pl.DataFrame
    channels: tuple[str, ...]
    rejects: pl.DataFrame
    counted: pl.DataFrame
    order_ids_derived: int
    has_margin: bool
    user_ids: Callable[[], pl.Series]

    def release(self, columns) -> None:
        """Drop ``columns`` from ``accepted``, freeing their memory once no one else holds them: the
        local engine's journey cut, after its order kernel has copied their values into its records
        (a 10M-event export's columns and the records are then never both held). Only a caller that
        owns these events should: no later step may read the columns."""
        object.__setattr__(self, "accepted", self.accepted.drop(columns))  # frozen: replaced, never mutated

    def row_numbers(self) -> np.ndarray:
        """The accepted rows' numbers (int64, ascending), made when ``accepted`` leaves them out."""
        if ROW in self.accepted.columns:
            return self.accepted.get_column(ROW).to_numpy()
        return np.arange(1, len(self.accepted) + 1, dtype=np.int64)

    @property
    def rows_rejected(self) -> int:
        return len(self.rejects)

    @property
    def rows_accepted(self) -> int:
        return self.rows_read - len(self.rejects)

_TZ_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M%#z", "%Y-%m-%d %H:%M%#z")
_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def empty_rejects() -> pl.DataFrame:
    return pl.DataFrame(schema=REJECT_SCHEMA)


def parse_time(dtype: pl.DataType, column: str = "event_time") -> pl.Expr:
    """An expression giving UTC microseconds since the epoch (Int64), null where unparseable.

    Accepts Datetime of any unit (naive = UTC; zoned converted to UTC), Date, ISO 8601 text with or
    without a zone (``Z``, ``+02:00``, or a trailing `` UTC`` as BigQuery writes it), with ``T`` or a
    space, seconds and fractions optional; and epoch numbers (integer, float or decimal columns, or text of
    9 or more digits, e.g. GA4's ``event_timestamp``), whose unit is read from the magnitude: below
    1e11 seconds, below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds (so any instant
    after 1973-03 is read right in every unit).
    """
    col = pl.col(column)
    if isinstance(dtype, pl.Datetime):
        dt = col.dt.convert_time_zone("UTC") if dtype.time_zone else col.dt.replace_time_zone("UTC")
        return dt.dt.cast_time_unit("us").dt.epoch("us")
    if dtype == pl.Date:
        return col.cast(pl.Datetime("us")).dt.epoch("us")
    if dtype.is_integer() or dtype.is_float() or dtype.is_decimal():  # a decimal epoch: 1790812801.000
        return _epoch_us(col.cast(pl.Float64))
    text = col.cast(pl.Utf8).str.strip_chars().str.replace(r"\s*UTC$", "Z")
    digits = text.str.contains(r"^-?[0-9]{9,}$")
    parsed = [pl.when(digits).then(_epoch_us(text.cast(pl.Float64, strict=False)))
              .cast(pl.Datetime("us", "UTC"), strict=False)]
    parsed += [text.str.strptime(pl.Datetime("us", "UTC"), f, strict=False) for f in _TZ_FORMATS]
    parsed += [text.str.strptime(pl.Datetime("us"), f, strict=False).dt.replace_time_zone("UTC") for f in _NAIVE_FORMATS]
    return pl.coalesce(parsed).dt.epoch("us")


def _text_time(dtype: pl.DataType) -> bool:
    """Whether :func:`parse_time` reads a column of ``dtype`` as text."""
    return not (isinstance(dtype, pl.Datetime) or dtype == pl.Date or dtype.is_integer() or dtype.is_float()
                or dtype.is_decimal())


def _parse_text_time(values: pl.Series) -> pl.Series:
    """:func:`parse_time` of a text Series (Int64 microseconds, null where unparseable)."""
    return pl.DataFrame({"event_time": values}).select(parse_time(pl.Utf8)).to_series()


def _epoch_us(x: pl.Expr) -> pl.Expr:
    """Epoch seconds / ms / µs / ns (Float64) as Int64 µs, the unit chosen by magnitude; null if not finite."""
    a = x.abs()
    # nanoseconds times 1e-3, not divided by 1e3: Polars divides a column with nulls by a scalar as a
    # product with its reciprocal and one without as a division, so x / 1e3 of the same value could
    # differ by 1 µs with the batch it was read in (4612000001113404000 ns: ...404 or ...405 µs)
    us = (pl.when(a < 1e11).then(x * 1e6).when(a < 1e14).then(x * 1e3).when(a < 1e17).then(x)
          .otherwise(x * 1e-3))
    return pl.when(us.is_finite()).then(us.round(0)).cast(pl.Int64, strict=False)


def _as_text(name: str, schema) -> pl.Expr:
    if name not in schema:
        return pl.lit(None, dtype=pl.Utf8)
    return pl.col(name).cast(pl.Utf8)


def validate_events(lf: pl.LazyFrame, source: str, mapping: ColumnMapping,
                    after_first_pass: Callable[[], None] | None = None, numbered: bool = False,
                    keep_others: bool = False) -> ValidatedEvents:
    """Split an events frame into accepted rows and rejects.

    Two passes: a cheap one over every row (hashes, time, a label id, the plain-touch
    test) and the contract's checks over the other rows alone (conversions and whatever is not a
    plain touch). No string column of the whole export is kept, no text is trimmed and no number
    parsed on a plain touch; a reject's reason and raw value come with its flags from the checks.
    ``after_first_pass`` is called once the first pass (the memory peak) is done: the local engine
    starts loading its journey kernels there. ``numbered``: the row numbers (``__row``) are 1, 2, ...
    in the frame's order (:func:`readers.scan_input`'s), so the first pass does not read them.
    ``keep_others``: the first pass also keeps the rows of other event types (their contract columns,
    up to :data:`KEPT_ROWS` rows), which the second pass then checks instead of reading the input
    again: for a CSV file, where reading a few rows again parses the whole file.
    """
    schema = lf.collect_schema()
    missing = [c for c in EVENT_REQUIRED if c not in schema]
    if missing:
        found = ", ".join(c for c in schema if c != ROW)
        raise InputError(source, f"missing required column(s) {', '.join(missing)}: expected the events "
                                 f"contract (user_id, event_time, event_type, ...) or a --col mapping; "
                                 f"columns found: {found}", column=missing[0])
    touch_types = list(mapping.touch_types)
    conv_types = list(mapping.conversion_types)
    if set(touch_types) & set(conv_types):
        raise InputError(source, f"event type(s) {sorted(set(touch_types) & set(conv_types))} given as both "
                                 "touch and conversion", column="event_type")
    lf, schema, binary_checks = _text_columns(lf, schema, source)
    checks, exprs = _checks(schema, mapping)
    checks = binary_checks + checks
    label = exprs["channel"] if "partner" in schema else _as_text("channel", schema)
    user = pl.col("user_id").cast(pl.Utf8)
    raw_touch = pl.col("event_type").cast(pl.Utf8).is_in(_raw_spellings(touch_types)).fill_null(False)
    if binary_checks:  # bytes decoded in Python: every row takes the checks' way
        raw_touch = pl.lit(False)

    # Pass 1, over every row, a few cheap columns: the user id's two hashes, the time, the raw channel
    # label as an id (views.LabelIds, off the column's views: a Polars Categorical cast took a third of
    # the pass's Polars CPU) and whether the row is a *plain touch* candidate (user id given, time
    # parsed, raw event type one of the touch types). No text is trimmed and no number parsed per row:
    # the distinct labels (a few, even on a large export) are trimmed once afterwards by Polars (the
    # checks' own whitespace rule), which also gives the channel dictionary; whether the user id is
    # given is read off the id column's string views (views.certainly_given: an id that starts with
    # white space, blank or not, is left to the checks). 53.4M events, 3 alternating runs: 8.78 -> 8.44
    # s, CPU 15.2 -> 14.6 s, against trimming every id in Polars (10.7M: within the runs' noise).
    # A time written as text is read by the compiled ISO 8601 reader off the column's views
    # (views.read_times: the common layouts, with parse_time's results); the rows it leaves unread are
    # not plain and go to the checks, which parse them with parse_time. 10.7M events from CSV: 11.8 s
    # of parsing (parse_time tries nine layouts on every row) -> ~0.3 s of one core.
    text_time = _text_time(schema["event_time"])
    from ..kernels.preload import preload

    # numba loads in the background while Polars reads the first batches; the time reader is needed
    # from the first batch, the label table can wait (see `pending` below)
    loading = preload((("shapley_attr.kernels.timeparse",) if text_time else ()) + ("shapley_attr.kernels.labels",))
    if text_time:
        time_columns = [pl.col("event_time").cast(pl.Utf8).alias("_time_text")]
        time_out = ["_time_text"]
    else:
        time_columns = [exprs["t"].alias("t")]
        time_out = [pl.col("t").fill_null(0), pl.col("t").is_not_null().alias("_known")]
    # the contract columns the second pass reads of the rows whose user id and time the first pass read
    # (an export's other columns are never read there); kept by the first pass with keep_others
    other_columns = [c for c in EVENT_COLUMNS if c in schema and c not in ("user_id", "event_time")]
    kept = other_columns if keep_others and KNOWN_SHORTCUT and not binary_checks else []
    kept_parts: list[pl.DataFrame] | None = [] if kept else None
    kept_rows = 0
    compact = lf.select(
        pl.col(ROW).cast(pl.Int64), user.hash(seed=0).alias("_h"), user.hash(seed=7919).alias("_h2"),
        *time_columns,
        label.cast(pl.Utf8).alias("_label_text"),
        raw_touch.alias("_touch"), user.alias("_user"),
        *[pl.col(c).alias(f"_keep_{c}") for c in kept],
    ).select(*([] if numbered else [ROW]), "_h", "_h2", *time_out, "_label_text", "_touch", "_user",
             *[f"_keep_{c}" for c in kept])
    # Each batch's flags and labels are copied into arrays and the batch dropped. The order columns
    # (CHUNKED) are kept as they come, views of Polars' chunks (_keep_chunks: no copy): the journey cut
    # frees them chunk by chunk as its records fill (see journeys._records_of).
    with decoding(source):
        total = lf.select(pl.len()).collect().item()  # Parquet and Arrow: from the metadata
    rows = {name: np.empty(total, dtype=dtype) for name, dtype in PASS_ONE.items()
            if name not in CHUNKED and not (numbered and name == ROW)}
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in CHUNKED}
    read = set(compact.collect_schema())  # the columns Polars gives (no time nor _known with text_time)
    copied = [name for name in rows if name in read]
    chunked = [name for name in CHUNKED if name in read]
    scratch = None  # the time texts' bytes, batch after batch (views.read_times)
    label_ids = LabelIds()  # the raw labels' ids (1 + index in order of first appearance; 0: null)
    # batches whose labels wait for the label kernel to load: the batch loop goes on meanwhile (waiting
    # for the load stalled Polars' reading: 10.7M events, 0.3-0.4 s slower); a batch's label column
    # kept is ~16 bytes a row, a few batches at most (10.7M events from CSV: peak RSS 951 -> 977 MiB;
    # from Parquet unchanged)
    pending = []
    missing_at = []  # rows whose user id is null or empty and whose time was read (see pass 2)
    done = 0
    with current().bar(total, f"reading {source}", unit="row") as bar, decoding(source):
        for batch in compact.collect_batches(chunk_size=WIDE_BATCH_ROWS if kept else BATCH_ROWS):
            m = len(batch)
            if done + m > total:
                raise RuntimeError(f"validation: {source} gave more rows than its count {total}")
            for name in copied:
                _copy_into(batch.get_column(name), rows[name][done:done + m])
            t = None
            if text_time:  # the time and whether it was read
                t = np.empty(m, dtype=PASS_ONE["t"])
                scratch = read_times(batch.get_column("_time_text"), t, rows["_known"][done:done + m], _parse_text_time,
                                     scratch)
            missing = np.empty(m, dtype=np.bool_)
            given = certainly_given(batch.get_column("_user"), missing)
            known_now = rows["_known"][done:done + m]  # so far: the time was read
            missing &= known_now
            if missing.any():
                missing_at.append(np.flatnonzero(missing) + done)
            known_now &= given
            del missing, given, known_now
            pending.append((batch.get_column("_label_text"), done, m))
            if loading is None or not loading.is_alive():
                for labels_of, at, k in pending:
                    label_ids.ids(labels_of, rows["_label"][at:at + k])
                pending = []
            _keep_chunks(batch, chunked, t, chunks)
            del t
            if kept_parts is not None:
                other = batch.filter(~batch.get_column("_touch")).select(
                    pl.col(f"_keep_{c}").alias(c) for c in kept)
                kept_rows += len(other)
                kept_parts.append(other)
                del other
                if kept_rows > KEPT_ROWS:  # too many to hold: the second pass reads the input again (the
                    kept_parts = None      # rest of this pass still reads the columns: correct, if wasted)
            done += m
            bar.update(m)
            del batch
    del scratch
    for labels_of, at, k in pending:
        label_ids.ids(labels_of, rows["_label"][at:at + k])
    del pending
    if done != total:
        raise RuntimeError(f"validation: {source} gave {done} rows, counted {total}")
    if after_first_pass is not None:
        after_first_pass()
    channels, code = _dictionary(rows.pop("_label"), label_ids.texts())
    plain = rows.pop("_touch")  # written over: the plain touches (raw touch type, user id, time, label)
    known = rows.pop("_known")  # user id certainly given (views.certainly_given) and time parsed
    non_touch = np.flatnonzero(~plain)  # rows whose raw event type is no touch type, in row order
    known_other = known[non_touch]
    unusual = []  # touch-typed rows that are not plain (a blank user id or one that starts with white space,
    # a bad time or label): rare
    for lo, p_block, k_block, c_block in zip(range(0, len(plain), BLOCK_ROWS), _blocks(plain), _blocks(known),
                                             _blocks(code)):
        k_block &= c_block >= 0
        unusual.append(np.flatnonzero(p_block & ~k_block) + lo)
        p_block &= k_block
    del known
    unusual = np.concatenate(unusual) if unusual else np.zeros(0, dtype=np.int64)
    missing = np.concatenate(missing_at) if missing_at else np.zeros(0, dtype=np.int64)
    del missing_at

    # Pass 2, over the other rows alone (conversions, rows to reject, text that needs trimming): the
    # contract's checks (_exact_columns), so reasons and typed values are the checks' own. The rows
    # whose user id and time the first pass read (nearly all: the conversions) are read again without
    # those two columns (the user id is the costliest to decode: 0.21 -> 0.07 s for 10.7M events), their
    # hashes and time taken from the first pass; the others, rare, are read whole and checked whole.
    # A Parquet file decodes the other columns of the matching rows only. Batches of BATCH_ROWS rows
    # bound the memory of the wide per-row frame; batch boundaries are fixed by row count, so results
    # do not depend on the thread count.
    # A row whose user id is null or empty (an anonymous event) fails the first check whatever else it
    # holds: a touch-typed one is a reject without being read again (the value shown is the empty
    # id), one of another type is read with the known rows, the user id's check reading the first
    # pass's verdict (a rejected conversion still counts in the reconciliation). 10.7M events with
    # 1.07M anonymous rows: reading them whole again took ~1.0 s.
    frame_of = _exact_columns(schema, mapping, checks, exprs, channels)
    empty = frame_of(lf.clear()).collect()  # the checked frames' columns and types
    quick = KNOWN_SHORTCUT and not binary_checks  # bytes decoded in Python: every row is read and checked whole
    missing_touch = np.zeros(0, dtype=np.int64)
    missing_other = np.zeros(len(non_touch), dtype=np.bool_)
    if quick and len(missing) and checks[0][1] == "user_id":  # the user id's check decides first
        among = _among(unusual, missing)
        missing_touch, unusual = unusual[among], unusual[~among]
        missing_other = _among(non_touch, missing)
        known_other |= missing_other
        del among
    del missing
    whole = unusual if quick else np.zeros(0, dtype=np.int64)
    if quick and not known_other.all():
        whole = _union(whole, non_touch[~known_other])
    flag_cols = [f"_bad{i}" for i in range(len(checks))]
    value_cols = [_value_column(name) for name in _check_values(checks)]
    conv_columns = [ROW, "_h", "t", "gmv", "margin", *[f"_raw_{c}" for c in CONVERSION_TEXT]]
    counted_columns = [ROW, "gmv", "_raw_currency", "_bad"]
    verdicts, convs, flagged_parts, counted_parts = [], [], [], []

    def take_verdicts(checked: pl.DataFrame) -> None:
        bad = checked.get_column("_bad")
        verdicts.append(checked.select(ROW, *CHECKED_ORDER, "is_conversion", "code", "_bad"))
        convs.append(_take(checked, conv_columns, checked.get_column("is_conversion") & ~bad))
        if bool(bad.any()):
            flagged_parts.append(_take(checked, [ROW, *flag_cols, *value_cols], bad))
        counted_parts.append(_take(checked, counted_columns, checked.get_column("_counted")))

    with decoding(source):
        if quick:
            known_of = _exact_columns(schema, mapping, checks, exprs, channels, known=True)
            at = 0
            if kept_parts is not None:  # kept by the first pass, in row order: numbered here
                kept_frame = pl.concat(kept_parts, how="vertical") if kept_parts else None
                kept_parts = None
                others_batches = [] if kept_frame is None else [kept_frame.with_columns(
                    pl.Series(ROW, _row_numbers(rows, non_touch)))]
                del kept_frame
            else:
                others_batches = lf.filter(raw_touch.not_()).select(ROW, *other_columns).collect_batches(
                    chunk_size=BATCH_ROWS)
            for batch in others_batches:
                m = len(batch)
                keep = known_other[at:at + m]
                if len(keep) != m:
                    raise RuntimeError(f"validation: {source} gave more rows of other types than the first pass")
                pos = non_touch[at:at + m][keep]
                batch = batch.filter(pl.Series(keep)).with_columns(
                    *[pl.Series(name, _take_chunks(chunks[name], pos)) for name in CHUNKED],
                    pl.Series(USER_MISSING, missing_other[at:at + m][keep]))
                take_verdicts(known_of(batch.lazy()).collect())
                at += m
                del batch
            if at != len(non_touch):
                raise RuntimeError(f"validation: {source} gave {at} rows of other types, "
                                   f"the first pass {len(non_touch)}")
            if len(missing_touch):
                take_verdicts(_anonymous_touches(_row_numbers(rows, missing_touch), empty))
            others = pl.col(ROW).is_in(pl.Series(_row_numbers(rows, whole)).implode()) if len(whole) else None
        else:
            others = raw_touch.not_()
            if len(unusual):
                others = others | pl.col(ROW).is_in(pl.Series(_row_numbers(rows, unusual)).implode())
        if others is not None:
            for checked in frame_of(lf.filter(others)).collect_batches(chunk_size=BATCH_ROWS):
                take_verdicts(checked)
                del checked
    if quick and (len(whole) or len(missing_touch)):  # parts each in row order: merged by row
        verdicts, convs, flagged_parts, counted_parts = (
            [pl.concat(parts).sort(ROW)] if parts else [] for parts in (verdicts, convs, flagged_parts, counted_parts))
    verdict = pl.concat(verdicts) if verdicts else empty.select(ROW, *CHECKED_ORDER, "is_conversion", "code", "_bad")
    accepted = _accepted_rows(rows, chunks, code, plain, verdict)
    del rows, verdict, verdicts
    conv = pl.concat(convs) if convs else empty.select(conv_columns)
    conv = conv.rename({f"_raw_{c}": c for c in CONVERSION_TEXT}).select(
        ROW, "_h", "t", "gmv", "margin", *[_typed_text(c, mapping).alias(c) for c in CONVERSION_TEXT])
    counted = pl.concat(counted_parts) if counted_parts else empty.select(counted_columns)

    # Order ids: derived from (user hash, time, row) when absent; a duplicate among otherwise valid
    # conversions is rejected (the first occurrence is kept). Only conversion rows are looked at.
    no_id = pl.col("order_id").is_null() | (pl.col("order_id") == "")
    derived = pl.concat_str([pl.col("_h").cast(pl.Utf8), pl.col("t").cast(pl.Utf8), pl.col(ROW).cast(pl.Utf8)],
                            separator="|")
    order_ids_derived = int(conv.select(no_id.sum()).item() or 0)
    conv = conv.with_columns(pl.when(no_id).then(derived).otherwise(pl.col("order_id")).alias("order_id"))
    dups = (conv.with_columns(pl.col(ROW).min().over("order_id").alias("_first"))
            .filter(pl.col(ROW) != pl.col("_first")).select(ROW, "order_id", "_first"))

    rejects = empty_rejects()
    if flagged_parts:
        # the failing rows' values come with their flags from the checks' own frames (reading the
        # failing rows of the input again to type them took 1.1-1.2 s for 1.07M rejects among 10.7M
        # events, most of it a scan of the whole file; the expressions on every row, joined, 2 s more)
        flagged = pl.concat(flagged_parts)
        reason = pl.lit(None, dtype=pl.Utf8)
        column = pl.lit(None, dtype=pl.Utf8)
        value = pl.lit(None, dtype=pl.Utf8)
        for i, (_, col, val, why) in reversed(list(enumerate(checks))):
            cond = pl.col(f"_bad{i}")
            reason = pl.when(cond).then(pl.lit(why)).otherwise(reason)
            column = pl.when(cond).then(pl.lit(col)).otherwise(column)
            value = pl.when(cond).then(pl.col(_value_column(val))).otherwise(value)
        rejects = flagged.select(pl.lit(source).alias("source"), pl.col(ROW).cast(pl.Int64).alias("row"),
                                 column.alias("column"), value.fill_null("").alias("value"),
                                 reason.alias("reason"))
    counted_bad = counted.get_column("_bad")
    if len(dups):
        rejects = pl.concat([rejects, dups.select(
            pl.lit(source).alias("source"), pl.col(ROW).alias("row"), pl.lit("order_id").alias("column"),
            pl.col("order_id").fill_null("").alias("value"),
            pl.format("duplicate order_id: expected unique per conversion (first at row {})", pl.col("_first"))
            .alias("reason"))])
        dup_rows = dups.get_column(ROW).implode()
        if ROW not in accepted.columns:  # numbered, every row kept so far: the rows are 1, 2, ...
            accepted = accepted.insert_column(0, pl.Series(ROW, np.arange(1, len(accepted) + 1, dtype=np.int64)))
        accepted = _take(accepted, accepted.columns, ~accepted.get_column(ROW).is_in(dup_rows))
        conv = conv.filter(~pl.col(ROW).is_in(dup_rows))
        counted_bad = counted_bad | counted.get_column(ROW).is_in(dup_rows)
    # each conversion's position among the accepted events (both in row order), found once here for
    # every later step that reads or rewrites the conversions' events (FX, per-country totals)
    conv_rows = conv.get_column(ROW).to_numpy()
    position = (np.searchsorted(accepted.get_column(ROW).to_numpy(), conv_rows) if ROW in accepted.columns
                else conv_rows - 1)
    conversions = conv.select(ROW, pl.Series("_i", position, dtype=pl.Int64), "t", "order_id",
                              pl.col("country").fill_null(""), "currency", "gmv", "margin")
    currency = _typed_text("currency", mapping, column="_raw_currency")
    counted = counted.select(
        ROW, pl.when(currency.str.contains(r"^[A-Z]{3}$")).then(currency).otherwise(pl.lit(UNKNOWN_CURRENCY))
        .fill_null(UNKNOWN_CURRENCY).alias("currency"),
        pl.when(pl.col("gmv").is_finite() & (pl.col("gmv").abs() <= MAX_GMV)).then(pl.col("gmv")).otherwise(0.0)
        .cast(MONEY).alias("gmv"),
        counted_bad.alias("rejected"))
    rejects = rejects.sort("row")

    accepted_rows = accepted.get_column(ROW) if ROW in accepted.columns else None  # the closure holds this alone

    def user_ids() -> pl.Series:
        ids = lf.select(pl.col(ROW), pl.col("user_id").cast(pl.Utf8))
        if accepted_rows is not None:  # else every row is accepted
            ids = ids.join(accepted_rows.to_frame().lazy(), on=ROW, how="semi", maintain_order="left")
        return ids.collect().get_column("user_id")

    return ValidatedEvents(source, len(accepted) + len(rejects), accepted, conversions, tuple(channels), rejects,
                           counted, order_ids_derived, "margin" in schema, user_ids)


ACCEPTED_COLUMNS = (ROW, "_h", "_h2", "t", "is_conversion", "code")
PASS_ONE = {ROW: np.int64, "_h": np.uint64, "_h2": np.uint64, "t": np.int64, "_label": np.int32, "_touch": np.bool_,
            "_known": np.bool_}
"""The columns of the first pass over every row, as arrays."""
CHUNKED = ("_h", "_h2", "t")
"""The first pass's columns kept as one array a batch (accepted as chunked columns)."""
CHECKED_ORDER = CHUNKED
"""The order columns an accepted row that went through the checks takes from them, not from the first
pass: a time the compiled reader left unread (white space around it, a leap second, ...) is parsed
there alone (``parse_time``), and the first pass holds 0 for it."""


def _union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sorted distinct values of two integer arrays: ``np.union1d`` by a sort (NumPy 2.4's
    ``unique`` hashes wide-ranged integers: 0.80 s for the union of 1.07M row positions with 20k, where
    sorting them takes 0.05 s)."""
    u = np.sort(np.concatenate([a, b]))
    return u[np.concatenate(([True], u[1:] != u[:-1]))] if len(u) else u


def _row_numbers(rows: dict[str, np.ndarray], at: np.ndarray) -> np.ndarray:
    """The row numbers of the first pass's rows ``at``: read, or 1, 2, ... when not read (numbered)."""
    return rows[ROW][at] if ROW in rows else at.astype(np.int64) + 1


def _chunk_bounds(parts: list[np.ndarray]) -> np.ndarray:
    """Where each array of a column kept one array a batch starts, and the column's length."""
    return np.cumsum([0] + [len(part) for part in parts])


def _put_chunks(parts: list[np.ndarray], at: np.ndarray, values: np.ndarray) -> None:
    """Write ``values`` at positions ``at`` (ascending) of a column kept in chunks (``parts``). A chunk
    is a read-only view of Polars' buffer (:func:`_keep_chunks`): it is copied only when a value
    differs (rare: the checks' values are the first pass's own, but for a time it left unread)."""
    bounds = _chunk_bounds(parts)
    cuts = np.searchsorted(at, bounds)
    for i, part in enumerate(parts):
        where, new = at[cuts[i]:cuts[i + 1]] - bounds[i], values[cuts[i]:cuts[i + 1]]
        if len(where) and not np.array_equal(part[where], new):
            if not part.flags.writeable:
                parts[i] = part = part.copy()
            part[where] = new


def _take_chunks(parts: list[np.ndarray], at: np.ndarray) -> np.ndarray:
    """The values at positions ``at`` (ascending) of a column kept one array a batch (``parts``)."""
    bounds = _chunk_bounds(parts)
    out = np.empty(len(at), dtype=parts[0].dtype if parts else np.int64)
    cuts = np.searchsorted(at, bounds)
    for i, part in enumerate(parts):
        out[cuts[i]:cuts[i + 1]] = part[at[cuts[i]:cuts[i + 1]] - bounds[i]]
    return out


def _keep_chunks(batch: pl.DataFrame, names: list[str], t: np.ndarray | None,
                 chunks: dict[str, list[np.ndarray]]) -> None:
    """Keep a batch's order columns (``names``; ``t`` read by the compiled time reader when not None) as
    arrays, one per Polars chunk, each a view of Polars' own buffer: no copy. Copying them took a
    quarter of the first pass's main thread (10.7M events: 0.45 s, ~60k fresh pages), and the records
    copy them anyway. The views are read-only (see :func:`_put_chunks`). Chunks that do not line up
    across the columns (never seen: one select makes them together) are copied into one array each."""
    parts = {name: batch.get_column(name).get_chunks() for name in names}
    lengths = [len(c) for c in parts[names[0]]] if names else [len(batch)]
    if any([len(c) for c in parts[name]] != lengths for name in names[1:]):
        parts = {name: [series.rechunk()] for name, series in ((n, batch.get_column(n)) for n in names)}
        lengths = [len(batch)]
    bounds = np.cumsum([0] + lengths)
    for name in names:
        chunks[name].extend(np.ascontiguousarray(part.to_numpy(), dtype=PASS_ONE[name]) for part in parts[name])
    if t is not None:  # cut as the other columns are, so that every order column has the same chunks
        chunks["t"].extend(t[bounds[i]:bounds[i + 1]] for i in range(len(lengths)))


def _copy_into(series: pl.Series, out: np.ndarray) -> np.ndarray:
    """``series`` copied into ``out`` chunk by chunk (a batch's column comes in many chunks: its
    ``to_numpy`` would copy them into one array first); ``out``."""
    at = 0
    for part in series.get_chunks():
        k = len(part)
        out[at:at + k] = part.to_numpy()
        at += k
    return out


def _raw_spellings(types) -> list[str]:
    """Raw event types the first pass takes for ``types`` without trimming: each type that trimming
    leaves unchanged (Polars' whitespace rule), as it is and with one space before, after or both (a
    CSV written with ", " between its fields has " touch" on every row; any other padding is trimmed
    by the checks). Each trims to its type, so the checks would give the same verdict."""
    values = pl.Series(list(types), dtype=pl.Utf8)
    exact = values.filter(values == values.str.strip_chars()).to_list()
    return [f"{before}{t}{after}" for t in exact for before, after in (("", ""), (" ", ""), ("", " "), (" ", " "))]


def _exact_columns(schema, mapping: ColumnMapping, checks, exprs, channels: list[str], known: bool = False):
    """The contract's per-row columns of a frame of raw rows: ``ROW, _h, _h2, t, is_conversion, code,
    gmv, margin``, the conversions' raw text, ``_counted`` (not a touch), one flag per check
    (``_bad{i}``) and ``_bad`` (any). With ``known`` the frame has no user id and no time: rows whose
    time parsed and whose user id is given or null or empty, with their hashes and time as ``_h, _h2,
    t`` (the first pass's) and :data:`USER_MISSING`, which the user id's check reads; the time's
    check reads ``t``."""
    touch_types = list(mapping.touch_types)
    conv_types = list(mapping.conversion_types)
    is_conv = exprs["event_type"].is_in(conv_types).fill_null(False)
    if known:
        exprs = {k: v for k, v in exprs.items() if k not in ("t", "_time_raw")}
        checks = [(pl.col(USER_MISSING) if column == "user_id" else cond, column, value, why)
                  for cond, column, value, why in checks]
        hashes = [pl.col("_h"), pl.col("_h2")]
    else:
        user = pl.col("user_id").cast(pl.Utf8)
        hashes = [user.hash(seed=0).alias("_h"), user.hash(seed=7919).alias("_h2")]
    flags = [cond.fill_null(True).alias(f"_bad{i}") for i, (cond, _, _, _) in enumerate(checks)]
    flag_cols = [f"_bad{i}" for i in range(len(checks))]
    # the raw values a reject shows (one column per distinct value a check names, as text); the known
    # rows' frame has no user id and no time, whose checks never fail there
    values = [(pl.lit(None, dtype=pl.Utf8) if known and name in _FIRST_PASS_VALUES else pl.col(name).cast(pl.Utf8))
              .alias(_value_column(name)) for name in _check_values(checks)]
    # conversion-only text (order id, country, currency) passes through raw and is trimmed and typed
    # on the conversion rows alone, after the batches
    raw_text = [(pl.col(c) if c in schema else pl.lit(None, dtype=pl.Utf8)).alias(f"_raw_{c}") for c in CONVERSION_TEXT]

    def frame(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.with_columns(*raw_text).with_columns(**exprs).select(
            pl.col(ROW).cast(pl.Int64), *hashes, pl.col("t"), is_conv.alias("is_conversion"),
            # labels outside the dictionary (the reserved (direct)) are rejected rows: code -1, never kept
            pl.when(is_conv).then(None).otherwise(pl.col("channel")).cast(pl.Enum(channels), strict=False)
            .to_physical().cast(pl.Int32).fill_null(-1).alias("code"),
            pl.when(is_conv).then(pl.col("gmv")).otherwise(0.0).alias("gmv"),
            pl.col("margin"),
            *[pl.col(f"_raw_{c}") for c in CONVERSION_TEXT],
            (~pl.col("event_type").is_in(touch_types).fill_null(False)).alias("_counted"),
            *flags, *values,
        ).with_columns(pl.any_horizontal(flag_cols).alias("_bad"))

    return frame


USER_MISSING = "_user_missing"
"""The known rows' column saying that the user id is null or empty (the first pass read it)."""
_FIRST_PASS_VALUES = ("user_id", "_time_raw")
"""The checks' value columns that the known rows' frame (``_exact_columns(known=True)``) does not read."""


def _among(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Whether each of ``values`` is in ``sorted_set`` (sorted, distinct)."""
    if not len(sorted_set):
        return np.zeros(len(values), dtype=np.bool_)
    at = np.searchsorted(sorted_set, values)
    at[at == len(sorted_set)] = 0
    return sorted_set[at] == values


def _anonymous_touches(numbers: np.ndarray, empty: pl.DataFrame) -> pl.DataFrame:
    """The checked frame (``empty``'s columns) of touch-typed rows whose user id is null or empty,
    rows ``numbers``: each a reject by the first check, the user id's (``_bad0``), whose value is the
    empty id (null here, shown as an empty text); not a conversion, not counted, no channel code."""
    n = len(numbers)
    no, yes = np.zeros(n, dtype=np.bool_), np.ones(n, dtype=np.bool_)
    given = {ROW: numbers, "_bad0": yes, "_bad": yes, "code": np.full(n, -1, dtype=np.int32)}
    columns = []
    for name, dtype in empty.schema.items():
        if name in given or dtype == pl.Boolean:  # is_conversion, _counted, the other checks' flags: false
            columns.append(pl.Series(name, given.get(name, no)).cast(dtype))
        else:  # hashes, time, values: none
            columns.append(pl.repeat(None, n, dtype=dtype, eager=True).alias(name))
    return pl.DataFrame(columns)


def _check_values(checks) -> list[str]:
    """The distinct columns the checks show as a reject's value, in the checks' order."""
    return list(dict.fromkeys(value for _, _, value, _ in checks))


def _value_column(name: str) -> str:
    """The name in a checked frame of the text a reject shows when a check names column ``name`` as its
    value (:func:`_check_values`)."""
    return f"_value:{name}"


def _dictionary(labels: np.ndarray, texts: list[str]) -> tuple[list[str], np.ndarray]:
    """The channel dictionary (sorted trimmed labels, without blanks and the reserved ``(direct)``)
    and every row's code in it (-1: a null, blank or reserved label) from the rows' raw label ids
    (:class:`views.LabelIds`: 1 + the index of the raw label in ``texts``, each given to a row at
    least; 0: a null label), written over ``labels``."""
    trimmed = pl.Series(texts, dtype=pl.Utf8).str.strip_chars().to_list()
    channels = sorted(set(trimmed) - {"", DIRECT})
    position = {c: i for i, c in enumerate(channels)}
    lut = np.array([-1] + [position.get(c, -1) for c in trimmed], dtype=np.int32)
    for block in _blocks(labels):  # in place (every id is in range), a block at a time: take copies
        np.take(lut, block, out=block, mode="clip")  # an index array that is also its output
    return channels, labels


BLOCK_ROWS = 1 << 20
"""Rows a whole-column NumPy step takes at a time where it would copy its input (~8 MB of scratch
reused instead of a fresh copy of the column: 0.12 -> 0.025 s for the dictionary of 10.7M rows)."""


def _blocks(values: np.ndarray):
    """Views of ``values`` BLOCK_ROWS rows at a time."""
    return (values[lo:lo + BLOCK_ROWS] for lo in range(0, len(values), BLOCK_ROWS))


def _accepted_rows(rows: dict[str, np.ndarray], chunks: dict[str, list[np.ndarray]], code: np.ndarray,
                   plain: np.ndarray, verdict: pl.DataFrame) -> pl.DataFrame:
    """The accepted rows (:data:`ACCEPTED_COLUMNS`, in row order): the plain touches (``code`` from
    the dictionary) and the other rows the checks accept (``verdict``: the other rows, in row order).
    Columns of ``rows`` are contiguous, those of ``chunks`` one chunk a batch (no copy when every row
    is kept); row numbers not read (numbered) are left out when every row is kept (see
    :class:`ValidatedEvents`). Takes the arrays out of ``rows`` and ``chunks`` and writes over ``code``
    and ``plain``."""
    at = np.flatnonzero(~plain)
    if not np.array_equal(verdict.get_column(ROW).to_numpy(), _row_numbers(rows, at)):
        raise RuntimeError("validation: the checked rows are not the rows the first pass set aside")
    n = len(plain)
    is_conv = np.zeros(n, dtype=np.bool_)
    code[at] = verdict.get_column("code").to_numpy()
    is_conv[at] = verdict.get_column("is_conversion").to_numpy()
    good = ~verdict.get_column("_bad").to_numpy()
    kept_at = at[good]  # a rejected row's values are never read: an anonymous one's hashes and time are
    for name in CHECKED_ORDER:  # null there, and writing them copied every chunk (10.7M events, 10% anonymous:
        # 0.42 s and ~250 MB); the checks' own values (a time the first pass left unread is 0 there)
        _put_chunks(chunks[name], kept_at, verdict.get_column(name).fill_null(0).to_numpy()[good])
    del kept_at
    keep = plain
    keep[at] = good
    every = bool(keep.all())
    rows.update(is_conversion=is_conv, code=code)
    del is_conv, code
    bounds = _chunk_bounds(chunks[CHUNKED[0]])
    columns = []
    for name in ACCEPTED_COLUMNS:
        if name in chunks:
            parts = chunks.pop(name)
            if not every:
                for i in range(len(parts)):  # one at a time: each original is freed before the next copy,
                    parts[i] = parts[i][keep[bounds[i]:bounds[i + 1]]]  # which can take its room
            column = pl.Series(name, parts[0] if parts else np.empty(0, dtype=PASS_ONE[name]))
            for part in parts[1:]:
                column.append(pl.Series(name, part))  # a chunk more, no copy
            del parts
        elif name == ROW and name not in rows:  # numbered rows: 1, 2, ... (left out) unless some are rejected
            if every:
                continue
            column = pl.Series(name, np.flatnonzero(keep) + 1)
        else:
            values = rows.pop(name)
            column = pl.Series(name, values if every else values[keep])
            del values
        columns.append(column)
    return pl.DataFrame(columns)

@contextlib.contextmanager
def decoding(source: str):
    """Failures of the file's bytes while they are decoded (a corrupt Parquet or Arrow page, bad
    compression: Polars' ComputeError, an OS error, Arrow's errors, a panic of the reader) become an
    InputError naming the file (exit 2). So does OutOfBoundsError: the read path's expressions never
    index by position, so it comes from the file's own offsets or string views pointing outside their
    buffers (a corrupt Arrow IPC buffer). Errors of the engine's own expressions (InvalidOperationError,
    SchemaError, ...) pass through: they are faults of the engine (exit 1), never blamed on the input."""
    try:
        yield
    except (pl.exceptions.ComputeError, pl.exceptions.OutOfBoundsError) as exc:
        raise InputError(source, f"{UNREADABLE}: {_first_line(exc)}") from None
    except OSError as exc:
        raise InputError(source, f"cannot be read: {_first_line(exc)}") from None
    except BaseException as exc:
        if type(exc).__module__.startswith("pyarrow") or type(exc).__name__ == "PanicException":
            raise InputError(source, f"cannot be read (the reader failed: {_first_line(exc)})") from None
        raise


_NARROW_FLOAT_WOULD_ROUND = {
    "event_time": "epoch times by up to minutes (a touch after a conversion could come before it)",
    "gmv": "order values (1234567.89 is 1234567.875 in Float32)",
    "margin": "order margins (1234567.89 is 1234567.875 in Float32)",
}
"""Columns a float narrower than 64 bits cannot hold without changing them (refused, never rounded)."""


def _text_columns(lf: pl.LazyFrame, schema, source: str):
    """Contract columns as types the checks can read. Binary columns (Parquet/Arrow bytes) are decoded
    as UTF-8 where valid; a row whose bytes are not UTF-8 is a reject naming the column (its value
    shown in hex). A binary user id is an id of bytes, not text: every value is read as the lowercase
    hex of its bytes (:data:`BINARY_USER_ID`). A nested column (list, struct) where text or a number is
    expected is refused, and so is a time or an amount as a float narrower than 64 bits."""

    checks = []
    for name in EVENT_COLUMNS:
        dtype = schema.get(name)
        if dtype is None:
            continue
        if dtype.is_nested():
            raise InputError(source, f"column {name!r} holds {dtype}: expected text, a number or a timestamp",
                             column=name)
        if name in _NARROW_FLOAT_WOULD_ROUND and dtype.is_float() and dtype != pl.Float64:
            raise InputError(source, f"column {name!r} holds {dtype}, which rounds {_NARROW_FLOAT_WOULD_ROUND[name]}: "
                                     "expected Float64, a decimal or text (write the export's column as such)",
                             column=name)
        if name == "event_time" and (isinstance(dtype, pl.Datetime) or dtype == pl.Date or dtype.is_numeric()):
            continue
        if name == "user_id" and (dtype == pl.Boolean or dtype.is_float() or dtype.is_temporal()):
            # the contract's string or integer: true/false would make every customer one of two users,
            # and floats tell ids above 2^53 apart no more (ids read as they are written, never rounded)
            raise InputError(source, f"column 'user_id' holds {dtype}: expected text or an integer (cast the ids "
                                     "to text or an integer type in the export)", column=name)
        if name == "user_id" and dtype == pl.Binary:  # an id of bytes (a UUID as 16 bytes): the hex of its bytes
            lf = lf.with_columns(pl.col(name).bin.encode("hex"))
            continue
        if dtype != pl.Binary and not _castable(dtype, pl.Utf8):
            raise unreadable_type(source, name, dtype)
        if dtype == pl.Binary:
            raw = f"_bytes_{name}"
            lf = lf.with_columns(pl.col(name).alias(raw), pl.col(name).map_batches(_utf8_or_null, return_dtype=pl.Utf8)
                                 .alias(name))
            checks.append((pl.col(raw).is_not_null() & pl.col(name).is_null(), name, f"_hex_{name}",
                           "not UTF-8 text: expected text encoded as UTF-8"))
            lf = lf.with_columns(pl.col(raw).bin.encode("hex").alias(f"_hex_{name}"))
    return lf, lf.collect_schema(), checks


BINARY_USER_ID = "hex"
"""How a binary ``user_id`` column is read, on both engines (Spark's validation tasks run these
checks on its rows, which Spark hands over as bytes): the lowercase hex of each value's bytes
(a customer id stored as bytes, e.g. a UUID as Parquet's 16-byte FIXED_LEN_BYTE_ARRAY, as DuckDB writes
its UUIDs). Equal bytes give equal ids and different bytes different ones, whether or not they are
UTF-8 text; decoding them as text rejected every row of a UUID column as "not UTF-8 text"."""

def unreadable_type(source: str, name: str, dtype) -> InputError:
    """The error for a contract column of a type that is neither text nor a number (a duration, ...):
    :func:`_text_columns`' own, and the Spark engine's for a column Spark would read otherwise."""
    return InputError(source, f"column {name!r} holds {dtype}, which cannot be read as text or a number", column=name)


_A_VALUE = {pl.Duration: 1, pl.Time: 0, pl.Boolean: True}


def _castable(dtype, target) -> bool:
    """Whether Polars can cast a column of ``dtype`` to ``target`` at all (e.g. a duration to text: no)."""
    try:  # one real value: casting a null or an empty column succeeds whatever the types
        pl.Series([None, _A_VALUE.get(type(dtype), 0)], dtype=dtype, strict=False).cast(target)
    except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError, pl.exceptions.SchemaError):
        return False
    return True


def _utf8_or_null(values: pl.Series) -> pl.Series:
    """Bytes decoded as UTF-8, null where they are not UTF-8 (Polars' cast raises on the first bad
    value; binary contract columns are rare, so a Python pass over them is affordable)."""
    def decode(b):
        try:
            return None if b is None else b.decode("utf-8")
        except UnicodeDecodeError:
            return None

    return pl.Series(values.name, [decode(b) for b in values.to_list()], dtype=pl.Utf8)


def _typed_text(name: str, mapping: ColumnMapping, column: str | None = None) -> pl.Expr:
    """A conversion-only text column trimmed (``currency`` defaulted by ``--currency``)."""
    text = pl.col(column or name).cast(pl.Utf8).str.strip_chars()
    if name == "currency" and mapping.currency:
        return pl.when(text.is_null() | (text == "")).then(pl.lit(mapping.currency)).otherwise(text)
    return text


def _take(frame: pl.DataFrame, columns: list[str], mask: pl.Series) -> pl.DataFrame:
    """``frame[columns]`` at the rows where ``mask`` is true, filtered column by column."""
    return pl.DataFrame([frame.get_column(c).filter(mask) for c in columns])


def _checks(schema, mapping: ColumnMapping):
    """The row checks as (condition, column, value column, reason) and the typed columns they read."""
    touch_types = list(mapping.touch_types)
    conv_types = list(mapping.conversion_types)
    currency = _typed_text("currency", mapping, column="currency") if "currency" in schema else (
        pl.lit(mapping.currency, dtype=pl.Utf8))
    gmv, gmv_text = _number("gmv", schema)
    margin, margin_text = _number("margin", schema)
    channel = _as_text("channel", schema).str.strip_chars()
    if "partner" in schema:
        # DATA.md: a partner set on a touch row makes the label partner:<partner>, whatever channel says
        partner = pl.col("partner").cast(pl.Utf8).str.strip_chars()
        channel = (pl.when(partner.is_not_null() & (partner != ""))
                   .then(pl.lit(PARTNER_PREFIX) + partner).otherwise(channel))
    exprs = {
        "t": parse_time(schema["event_time"]),
        "event_type": pl.col("event_type").cast(pl.Utf8).str.strip_chars(),
        "channel": channel,
        "country": _as_text("country", schema).str.strip_chars(),
        "currency": currency,
        "gmv": gmv,
        "_gmv_text": gmv_text,
        "margin": margin,
        "_margin_text": margin_text,
        "order_id": _as_text("order_id", schema).str.strip_chars(),
        "_time_raw": pl.col("event_time").cast(pl.Utf8),
    }
    is_touch = pl.col("event_type").is_in(touch_types)
    is_conv = pl.col("event_type").is_in(conv_types)
    bad_gmv = pl.col("gmv").is_null() | ~pl.col("gmv").is_finite() | (pl.col("gmv") < 0) | (pl.col("gmv") > MAX_GMV)
    margin_given = pl.col("_margin_text").cast(pl.Utf8).str.strip_chars().fill_null("") != ""
    bad_margin = margin_given & (pl.col("margin").is_null() | ~pl.col("margin").is_finite()
                                 | (pl.col("margin").abs() > MAX_GMV))
    bad_currency = pl.col("currency").is_null() | ~pl.col("currency").str.contains(r"^[A-Z]{3}$")
    expected_types = ", ".join(repr(t) for t in touch_types + conv_types)
    user = pl.col("user_id").cast(pl.Utf8)
    checks = [
        (blank(user), "user_id", "user_id",
         "missing user_id: expected a customer id"),
        (pl.col("t").is_null(), "event_time", "_time_raw",
         "expected a UTC timestamp or ISO 8601 text like 2026-10-01T12:00:00Z"),
        (~(is_touch | is_conv) | pl.col("event_type").is_null(), "event_type", "event_type",
         f"unknown event type: expected one of {expected_types} (see --touch-type/--conversion-type)"),
        (is_touch & (pl.col("channel").is_null() | (pl.col("channel") == "")), "channel", "channel",
         "touch row without a channel: expected a channel label (or a partner id in the partner column)"),
        (is_touch & (pl.col("channel") == DIRECT), "channel", "channel",
         f"{DIRECT} is reserved for conversions without a touch: expected another channel label"),
        (is_conv & bad_gmv & comma_in_number("_gmv_text"), "gmv", "_gmv_text",
         f"{COMMA_IN_NUMBER} for a conversion's gmv"),
        (is_conv & bad_gmv, "gmv", "_gmv_text",
         f"expected a finite decimal number >= 0 and <= {MAX_GMV:.0e} for a conversion's gmv"),
        (is_conv & bad_currency, "currency", "currency",
         "expected an ISO 4217 currency code like EUR (or give --currency)"),
        (is_conv & bad_margin & comma_in_number("_margin_text"), "margin", "_margin_text",
         f"{COMMA_IN_NUMBER} for a conversion's margin"),
        (is_conv & bad_margin, "margin", "_margin_text",
         f"expected a finite decimal margin between -{MAX_GMV:.0e} and {MAX_GMV:.0e} (or an empty cell)"),
    ]
    return checks, exprs


COMMA_IN_NUMBER = ("a comma in a number (a decimal comma or a thousands separator): expected digits and a "
                   "decimal point only, as 1234.50")
"""The reason of a number written as a spreadsheet in some locale exports it (``12,50``, ``1.234,50``,
``1,234.50``): said as such rather than "not a number"; nothing of the kind is read (``1,234`` is
1.234 in one locale and 1234 in another)."""
COMMA_NUMBER = r"^[+-]?[0-9][0-9.,]*,[0-9.,]*[0-9]$"
"""Digits with a comma among them, and points perhaps: :data:`COMMA_IN_NUMBER`'s texts."""


def comma_in_number(text_column: str) -> pl.Expr:
    """Whether a number's text has a comma among its digits (:data:`COMMA_IN_NUMBER`)."""
    return pl.col(text_column).cast(pl.Utf8).str.strip_chars().str.contains(COMMA_NUMBER).fill_null(False)


def _number(name: str, schema) -> tuple[pl.Expr, pl.Expr]:
    """A numeric column as Float64 (text is trimmed and parsed; null where it is not a number) and as text."""
    if name not in schema:
        return pl.lit(None, dtype=pl.Float64), pl.lit(None, dtype=pl.Utf8)
    dtype = schema[name]
    if dtype == pl.Utf8 or isinstance(dtype, (pl.Categorical, pl.Enum)) or not dtype.is_numeric():
        text = pl.col(name).cast(pl.Utf8)
        return text.str.strip_chars().cast(pl.Float64, strict=False), text
    return pl.col(name).cast(pl.Float64, strict=False), pl.col(name).cast(pl.Utf8)
