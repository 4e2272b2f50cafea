"""What the Spark engine runs on the executors, inside ``mapInArrow``: Arrow batches in, Arrow out.

Every function here is a factory: it takes plain, picklable settings on the driver and returns the
generator function Spark ships to the executors. The rules are the project's own, called on each
chunk of rows: :func:`io.events.validate_events` (the same ``_checks`` expressions, so reject
reasons and values are byte-identical), the FX as-of lookup of ``finance.contracts``, and the journey
cut kernel ``kernels.cut._cut_journeys``. Nothing here imports pyspark at module level except
``TaskContext`` inside the tasks (it exists only on an executor).

Record layouts (Spark DDL strings below):

- the dictionary pass (:func:`dictionary_task`): per input partition, its row count and the distinct
  channel labels of its rows;
- the validated stream ``V`` (:func:`validate_task`): one record per accepted event (``KIND_EVENT``),
  per accepted conversion (``KIND_CONVERSION``: order id, country, currency, exact GMV, whether it is
  in the run, its FX-converted value as a float and in integer millionths), per row that is not a touch
  (``KIND_COUNTED``: the per-currency reconciliation), per rejected row (``KIND_REJECT``) and one per
  chunk (``KIND_CHUNK``: rows read and order ids derived); a chunk holding a contract string that is
  not UTF-8 is not validated and gives one ``KIND_NOT_UTF8`` record instead (its first such row and
  column), on which the driver refuses the input as the local engine does;
- the partial path tables (:func:`cut_task`): per chunk of users, its unique paths (``KIND_PATH``:
  the int32 codes as bytes, conversions, value in integer millionths, non-converting journeys) and
  the cut's counts (``KIND_STAT``).
"""
from __future__ import annotations

import numpy as np

KIND_EVENT, KIND_CONVERSION, KIND_COUNTED, KIND_REJECT, KIND_CHUNK, KIND_NOT_UTF8 = 0, 1, 2, 3, 4, 5
KIND_PATH, KIND_STAT = 0, 1

DICTIONARY_DDL = "pid int, n long, label string"
V_DDL = ("kind byte, row long, h long, h2 long, t long, conv boolean, code int, gmv double, scope boolean, "
         "margin double, margin_money decimal(38,6), order_id string, "
         "country string, currency string, money decimal(38,6), in_run boolean, fx_ok boolean, units long, "
         "rejected boolean, column string, value string, reason string")
PARTIAL_DDL = "kind byte, key binary, a long, b long, c long, d long"

STATS = ("events", "users", "touches", "conversions", "journeys", "converting_journeys", "non_converting_journeys",
         "dropped_lookback", "direct", "conv_in_period", "conv_before_period", "events_after_period", "tails",
         "tails_outside_period", "tail_touches_dropped", "conv_out_of_scope", "touches_out_of_scope")
"""Counts of the journey cut, summed over the chunks (``KIND_STAT`` records keyed by these names)."""

ROW_INDEX = "__row_index"
"""Parquet's ``_metadata.row_index`` (0-based row of the file), when rows are numbered by file."""
FILE_OFFSET = "__file_offset"
"""Rows of the files before this one (several Parquet files numbered in path order)."""
NOT_UTF8 = "__not_utf8"
"""Per row, computed by Spark in the validation pass's own projection: the index (in the task's
``utf8_columns``) of the row's first contract string column whose bytes are not UTF-8, null when all are."""


def _arrow_schema(ddl: str):
    """The Arrow schema Spark expects for a DDL string (what ``mapInArrow`` output must match)."""
    import pyarrow as pa

    types = {"byte": pa.int8(), "int": pa.int32(), "long": pa.int64(), "boolean": pa.bool_(),
             "double": pa.float64(), "string": pa.string(), "binary": pa.binary(),
             "decimal(38,6)": pa.decimal128(38, 6)}
    fields = []
    for part in ddl.split(", "):
        name, kind = part.split(" ")
        fields.append(pa.field(name, types[kind]))
    return pa.schema(fields)


def _chunks(batches, min_rows: int):
    """Arrow batches regrouped into tables of at least ``min_rows`` rows (the last may be smaller)."""
    import pyarrow as pa

    pending, n = [], 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        n += batch.num_rows
        if n >= min_rows:
            yield pa.Table.from_batches(pending)
            pending, n = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def _partition_id() -> int:
    from pyspark import TaskContext

    return TaskContext.get().partitionId()


# --- the dictionary pass ----------------------------------------------------------------------------
def dictionary_task(arrow_schema, mapping, chunk_rows: int):
    """Per input partition: (pid, rows, None) once, and (pid, 0, label) for each distinct channel label
    (the label expression of :func:`io.events._checks`, over every row, as ``validate_events``
    builds its dictionary)."""

    def run(batches):
        import polars as pl
        import pyarrow as pa

        from ..io.events import _checks
        from ..schema import DIRECT

        schema = pl.from_arrow(arrow_schema.empty_table()).schema
        channel = _checks(schema, mapping)[1]["channel"]
        pid = _partition_id()
        rows, labels = 0, set()
        for table in _chunks(batches, chunk_rows):
            rows += table.num_rows
            frame = pl.from_arrow(table)
            if not isinstance(frame, pl.DataFrame):
                frame = frame.to_frame()
            found = (frame.lazy().select(channel.alias("c"))
                     .filter(pl.col("c").is_not_null() & (pl.col("c") != "") & (pl.col("c") != DIRECT))
                     .unique().collect().get_column("c").to_list())
            labels.update(found)
        ordered = sorted(labels)
        yield pa.RecordBatch.from_arrays(
            [pa.array([pid] * (len(ordered) + 1), pa.int32()), pa.array([rows] + [0] * len(ordered), pa.int64()),
             pa.array([None] + ordered, pa.string())], schema=_arrow_schema(DICTIONARY_DDL))

    return run


# --- validation, FX and the reconciliation records ----------------------------------------------------
def validate_task(arrow_schema, mapping, source: str, categories: tuple[str, ...], row_mode: str,
                  partition_offsets: dict[int, int], fx_rates, reporting: str, period: tuple[int, int],
                  countries: tuple[str, ...] | None, margin_rates: dict[str, float] | None, chunk_rows: int,
                  utf8_columns: tuple[str, ...] = ()):
    """Validate each chunk of a partition with :func:`io.events.validate_events` and emit ``V``.

    ``row_mode`` "file": rows are numbered ``__file_offset + __row_index + 1`` (Parquet); "partition":
    ``partition_offsets[pid] +`` the row's position in its partition ``+ 1`` (the partitions of one
    read, in order). ``fx_rates`` (a list of ``(date, currency, rate)``) converts the run's
    conversions to ``reporting`` as :func:`finance.contracts.conversion_rates` does; None leaves
    values in their currency. ``categories`` is the global sorted channel dictionary with
    ``(direct)``: event codes index it. With ``countries`` (the pilot scope), a conversion of another
    country is outside the run: it still closes its journey (``scope`` false on its event record) but
    is neither attributed nor converted. With ``margin_rates`` (the period's last-day rate per currency,
    NaN where there is none) each conversion's margin is carried in the reporting currency (the
    order margins of PROGRAMME.md, as ``finance.programme.order_margins`` converts them).
    ``utf8_columns``: the contract string columns :data:`NOT_UTF8` indexes (a chunk with a flagged row
    is not handed to Polars, which reads a string's bytes as UTF-8 unchecked: it gives one
    ``KIND_NOT_UTF8`` record).
    """
    out_schema = _arrow_schema(V_DDL)

    def run(batches):
        import polars as pl

        from ..io.events import validate_events
        from ..io.readers import ROW

        index = {c: i for i, c in enumerate(categories)}
        rates = _rates_frame(fx_rates) if fx_rates is not None else None
        start = partition_offsets.get(_partition_id(), 0) if row_mode == "partition" else 0
        for table in _chunks(batches, chunk_rows):
            if NOT_UTF8 in table.column_names:
                flags = table.column(NOT_UTF8)
                table = table.drop_columns([NOT_UTF8])
                if flags.null_count < len(flags):  # the input is refused: its first such row is all that counts
                    yield _not_utf8_record(table, flags, utf8_columns, row_mode, start, out_schema)
                    start += table.num_rows
                    continue
            frame = pl.from_arrow(table)
            if row_mode == "file":
                rows = pl.col(FILE_OFFSET) + pl.col(ROW_INDEX) + 1 if FILE_OFFSET in frame.columns else (
                    pl.col(ROW_INDEX) + 1)
                frame = frame.with_columns(rows.cast(pl.Int64).alias(ROW)).drop(
                    [c for c in (ROW_INDEX, FILE_OFFSET) if c in frame.columns])
            else:
                frame = frame.with_columns(pl.int_range(start + 1, start + 1 + len(frame), dtype=pl.Int64).alias(ROW))
                start += len(frame)
            if not frame.get_column(ROW).is_sorted():  # several files in one split: validate_events reads rows
                frame = frame.sort(ROW)                    # in row order (conversions find their events so)
            events = validate_events(frame.lazy(), source, mapping)
            out = _validated_records(events, index, rates, reporting, period, countries, margin_rates)
            yield from out.to_arrow().cast(out_schema).to_batches()

    return run


def _not_utf8_record(table, flags, columns: tuple[str, ...], row_mode: str, start: int, out_schema):
    """The ``KIND_NOT_UTF8`` record of a chunk: the lowest row (numbered as ``validate_task`` numbers
    it) of those :data:`NOT_UTF8` flags, and the column flagged there. Read with Arrow, not Polars."""
    import pyarrow as pa

    flagged = flags.is_valid().to_numpy(zero_copy_only=False)
    if row_mode == "file":
        rows = table.column(ROW_INDEX).to_numpy().astype(np.int64) + 1
        if FILE_OFFSET in table.column_names:
            rows += table.column(FILE_OFFSET).to_numpy().astype(np.int64)
    else:
        rows = np.arange(start + 1, start + 1 + table.num_rows, dtype=np.int64)
    rows = rows[flagged]
    which = flags.drop_null().to_numpy()
    first = int(np.argmin(rows))
    values = {"kind": [KIND_NOT_UTF8], "row": [int(rows[first])], "column": [columns[int(which[first])]]}
    return pa.RecordBatch.from_pydict({f.name: values.get(f.name, [None]) for f in out_schema}, schema=out_schema)


def _rates_frame(fx_rates):
    import polars as pl

    return pl.DataFrame({"_day": [d for d, _, _ in fx_rates], "currency": [c for _, c, _ in fx_rates],
                         "_rate": [float(r) for _, _, r in fx_rates]},
                        schema={"_day": pl.Date, "currency": pl.Utf8, "_rate": pl.Float64}).sort("_day")


def conversion_rates_or_null(rates, reporting: str, conversions):
    """``rate_to_reporting`` of each conversion (columns ``t, currency``) as
    :func:`finance.contracts.conversion_rates` looks it up (the rate of the UTC day, else the latest
    earlier one, per currency; 1 for ``reporting``), with NaN where there is none: the driver
    raises for the first such row of the whole input, so the message names the same row as the
    local engine's."""
    import polars as pl

    keyed = conversions.select("currency", pl.from_epoch(pl.col("t"), time_unit="us").dt.date().alias("_day"))
    keyed = keyed.with_row_index("_k")
    foreign = keyed.filter(pl.col("currency") != reporting).sort("_day")
    joined = foreign.join_asof(rates, on="_day", by="currency", strategy="backward", check_sortedness=False)
    out = np.ones(len(keyed), dtype=np.float64)
    out[joined.get_column("_k").to_numpy()] = joined.get_column("_rate").fill_null(np.nan).to_numpy()
    return out


def _validated_records(events, index: dict[str, int], rates, reporting: str, period: tuple[int, int],
                       countries: tuple[str, ...] | None, margin_rates: dict[str, float] | None):
    """One chunk's ``ValidatedEvents`` as ``V`` records (a Polars frame in the column order of V_DDL)."""
    import polars as pl

    from ..frames import VALUE_UNITS
    from ..io.events import MONEY
    from ..io.readers import ROW

    accepted, conversions = events.accepted, events.conversions
    p_start, p_end = period
    t = conversions.get_column("t").to_numpy()
    scope = np.ones(len(conversions), dtype=np.bool_) if not countries else (  # engines.local.in_countries
        conversions.get_column("country").str.to_uppercase().is_in(list(countries)).fill_null(False).to_numpy())
    in_run = (t >= p_start) & (t < p_end) & scope
    event_scope = np.ones(len(accepted), dtype=np.bool_)
    event_scope[conversions.get_column("_i").to_numpy()] = scope
    position = conversions.get_column("_i").to_numpy()
    gmv = np.zeros(len(accepted), dtype=np.float64)  # the events' values: their conversions', touches 0
    raw = conversions.get_column("gmv").to_numpy()
    value = raw.copy()
    fx_ok = np.ones(len(conversions), dtype=np.bool_)
    if rates is not None and in_run.any():
        run_rows = np.flatnonzero(in_run)
        rate = conversion_rates_or_null(rates, reporting, conversions[run_rows])
        fx_ok[run_rows] = ~np.isnan(rate)
        value[run_rows] = raw[run_rows] * rate  # the local engine's float product, to the bit
    value = np.where(in_run & fx_ok, value, raw)
    gmv[position] = value
    units = np.where(in_run & fx_ok, np.rint(value * VALUE_UNITS), 0).astype(np.int64)
    margin_raw = conversions.get_column("margin").cast(pl.Float64)
    event_margin = np.zeros(len(accepted), dtype=np.float64)
    if margin_rates is not None and len(conversions):
        factor = conversions.get_column("currency").replace_strict(margin_rates, default=np.nan,
                                                                   return_dtype=pl.Float64).to_numpy()
        event_margin[position] = np.where(in_run, margin_raw.to_numpy() * factor, 0.0)

    lookup = np.array([index[c] for c in events.channels], dtype=np.int32) if events.channels else (
        np.zeros(1, np.int32))
    code = accepted.get_column("code").to_numpy()
    code = np.where(code >= 0, lookup[np.maximum(code, 0)], -1).astype(np.int32)
    typed = {"kind": pl.Int8, "row": pl.Int64, "h": pl.Int64, "h2": pl.Int64, "t": pl.Int64, "conv": pl.Boolean,
             "code": pl.Int32, "gmv": pl.Float64, "scope": pl.Boolean, "margin": pl.Float64,
             "margin_money": MONEY, "order_id": pl.Utf8, "country": pl.Utf8, "currency": pl.Utf8,
             "money": MONEY, "in_run": pl.Boolean, "fx_ok": pl.Boolean, "units": pl.Int64, "rejected": pl.Boolean,
             "column": pl.Utf8, "value": pl.Utf8, "reason": pl.Utf8}

    def frame(kind: int, n: int, **columns) -> pl.DataFrame:
        cols = [pl.Series("kind", np.full(n, kind, dtype=np.int8))]
        for name, dtype in list(typed.items())[1:]:
            col = columns.get(name)
            if col is None:
                cols.append(pl.Series(name, [None] * n, dtype=dtype))
            elif isinstance(col, pl.Series):
                cols.append(col.alias(name).cast(dtype))
            else:
                cols.append(pl.Series(name, col).cast(dtype))
        return pl.DataFrame(cols)

    parts = [
        frame(KIND_EVENT, len(accepted), row=events.row_numbers(),
              h=accepted.get_column("_h").reinterpret(signed=True), h2=accepted.get_column("_h2").reinterpret(signed=True),
              t=accepted.get_column("t"), conv=accepted.get_column("is_conversion"), code=code, gmv=gmv,
              scope=event_scope, margin=event_margin),
        frame(KIND_CONVERSION, len(conversions), row=conversions.get_column(ROW), t=conversions.get_column("t"),
              order_id=conversions.get_column("order_id"), country=conversions.get_column("country"),
              currency=conversions.get_column("currency"), money=conversions.get_column("gmv").cast(MONEY),
              in_run=in_run, fx_ok=fx_ok, units=units, gmv=np.where(in_run, value, 0.0),
              margin_money=margin_raw.cast(MONEY)),
        frame(KIND_COUNTED, len(events.counted), row=events.counted.get_column(ROW),
              currency=events.counted.get_column("currency"), money=events.counted.get_column("gmv"),
              rejected=events.counted.get_column("rejected")),
        frame(KIND_REJECT, len(events.rejects), row=events.rejects.get_column("row"),
              column=events.rejects.get_column("column"), value=events.rejects.get_column("value"),
              reason=events.rejects.get_column("reason")),
        # rows read (in ``row``) and order ids derived (in ``units``) of the chunk
        frame(KIND_CHUNK, 1, row=[events.rows_read], units=[events.order_ids_derived]),
    ]
    return pl.concat(parts, rechunk=False)


# --- the journey cut ---------------------------------------------------------------------------------
def cut_task(lookback_us: int, period: tuple[int, int], direct_code: int, chunk_rows: int, margins: bool):
    """Cut the events of a partition, sorted by (h, h2, 2·t + is_conversion, row), into journeys with
    :func:`kernels.cut._cut_journeys`, and emit each chunk's unique paths with exact integer sums.

    A user is the pair of 64-bit hashes (h, h2). Rows arrive in Arrow batches of any size; a chunk is
    cut only up to its last user boundary, the last user's rows are carried into the next chunk, so
    no user is ever split. With ``margins``, each path also sums its converting journeys' margins
    (``d``, integer millionths): the margin table of ``journeys.cut_journeys``."""
    out_schema = _arrow_schema(PARTIAL_DDL)

    def run(batches):
        import pyarrow as pa

        names = ("h", "h2", "t", "conv", "code", "gmv", "scope", "margin")
        carry = None
        stats = np.zeros(len(STATS), dtype=np.int64)
        for table in _chunks(batches, chunk_rows):
            cols = {c: table.column(c).to_numpy() for c in names}
            if carry is not None:
                cols = {c: np.concatenate([carry[c], cols[c]]) for c in names}
            h, h2 = cols["h"], cols["h2"]
            boundary = np.flatnonzero((h[1:] != h[:-1]) | (h2[1:] != h2[:-1]))
            if not len(boundary):  # one user so far: keep reading
                carry = cols
                continue
            end = int(boundary[-1]) + 1
            carry = {c: cols[c][end:] for c in names}
            batch = _cut_chunk({c: cols[c][:end] for c in names}, lookback_us, period, direct_code, stats, margins)
            if batch is not None:
                yield batch.cast(out_schema)
        if carry is not None and len(carry["h"]):
            batch = _cut_chunk(carry, lookback_us, period, direct_code, stats, margins)
            if batch is not None:
                yield batch.cast(out_schema)
        yield pa.RecordBatch.from_arrays(
            [pa.array(np.full(len(STATS), KIND_STAT, dtype=np.int8)),
             pa.array([s.encode() for s in STATS], pa.binary()), pa.array(np.zeros(len(STATS), np.int64)),
             pa.array(stats), pa.array(np.zeros(len(STATS), np.int64)), pa.array(np.zeros(len(STATS), np.int64))],
            schema=out_schema)

    return run


def _cut_chunk(cols: dict, lookback_us: int, period: tuple[int, int], direct_code: int, stats: np.ndarray,
               margins: bool):
    """The unique paths of whole users' events (sorted), as a ``KIND_PATH`` batch; counts into ``stats``."""
    import pyarrow as pa

    from ..kernels import cut as k
    from ..kernels.sequences import _gather_sequences, _sum_units_by_id, _unique_sequences

    h, h2 = cols["h"], cols["h2"]
    n = len(h)
    new_user = np.empty(n, dtype=np.bool_)
    new_user[0] = True
    new_user[1:] = (h[1:] != h[:-1]) | (h2[1:] != h2[:-1])
    is_conv = _owned(cols["conv"], np.bool_)
    scope = _owned(cols["scope"], np.bool_)
    if scope.all():
        scope = np.empty(0, dtype=np.bool_)  # the kernel's "every conversion in scope"
    off, codes, conv, val, nul, source, st = _cut(
        new_user, _owned(cols["t"], np.int64), is_conv, _owned(cols["code"], np.int32), _owned(cols["gmv"], np.float64),
        scope, lookback_us, period, direct_code, margins)
    n_conv = int(is_conv.sum())
    counts = {"events": n, "users": int(new_user.sum()), "touches": n - n_conv, "conversions": n_conv,
              "journeys": len(conv), "converting_journeys": int(conv.sum()),
              "non_converting_journeys": int(nul.sum()), "dropped_lookback": int(st[k.STAT_DROPPED_LOOKBACK]),
              "direct": int(st[k.STAT_DIRECT]), "conv_in_period": int(st[k.STAT_CONV_IN_PERIOD]),
              "conv_before_period": int(st[k.STAT_CONV_BEFORE_PERIOD]),
              "events_after_period": int(st[k.STAT_EVENTS_AFTER_PERIOD]), "tails": int(st[k.STAT_TAILS]),
              "tails_outside_period": int(st[k.STAT_TAILS_OUTSIDE_PERIOD]),
              "tail_touches_dropped": int(st[k.STAT_TAIL_TOUCHES_DROPPED]),
              "conv_out_of_scope": int(st[k.STAT_CONV_OUT_OF_SCOPE]),
              "touches_out_of_scope": int(st[k.STAT_TOUCHES_OUT_OF_SCOPE])}
    stats += np.array([counts[s] for s in STATS], dtype=np.int64)
    if not len(conv):
        return None
    inverse, first = _unique_sequences(off, codes)
    units = _sum_units_by_id(inverse, first, val)  # exact integer millionths, as merge_identical_paths
    m = len(first)
    conversions = np.bincount(inverse, weights=conv, minlength=m).astype(np.int64)
    nulls = np.bincount(inverse, weights=nul, minlength=m).astype(np.int64)
    margin_units = np.zeros(m, dtype=np.int64)
    if margins:  # each converting journey's margin, from its conversion's event (as journeys.cut_journeys)
        margin_j = np.zeros(len(conv), dtype=np.float64)
        converting = source >= 0
        margin_j[converting] = np.asarray(cols["margin"], dtype=np.float64)[source[converting]]
        margin_units = _sum_units_by_id(inverse, first, margin_j)
    p_off, p_codes = _gather_sequences(off, codes, first)
    keys = pa.Array.from_buffers(pa.binary(), m, [None, pa.py_buffer((p_off * 4).astype(np.int32)),
                                                  pa.py_buffer(np.ascontiguousarray(p_codes).tobytes())])
    return pa.RecordBatch.from_arrays([pa.array(np.full(m, KIND_PATH, dtype=np.int8)), keys, pa.array(conversions),
                                       pa.array(units), pa.array(nulls), pa.array(margin_units)],
                                      names=PARTIAL_DDL_NAMES)


def _cut(new_user, t, is_conv, code, gmv, scope, lookback_us, period, direct_code, keep_source):
    """``_cut_journeys`` without ages: (offsets, codes, conversions, value, nulls, source, stats)."""
    from ..kernels.cut import _cut_journeys

    off, codes, _, conv, val, nul, source, st = _cut_journeys(
        new_user, t, is_conv, code, gmv, scope, np.int64(lookback_us), np.int64(period[0]), np.int64(period[1]),
        np.int32(direct_code), False, keep_source)
    return off, codes, conv, val, nul, source, st


def _owned(array, dtype) -> np.ndarray:
    """A C-contiguous, writable array of ``dtype`` (kernels take no read-only Arrow views)."""
    return np.require(array, dtype=dtype, requirements=["C", "W", "O"])


PARTIAL_DDL_NAMES = [p.split(" ")[0] for p in PARTIAL_DDL.split(", ")]
