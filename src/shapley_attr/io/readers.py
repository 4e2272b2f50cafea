"""Readers: Parquet, CSV and Arrow IPC scanned lazily, with the column mapping applied.

CSV is read with every column as text and cast explicitly afterwards, so that a bad cell becomes a
row-level fault with its row number instead of a parser crash in the middle of the file.

Before Polars sees a CSV file, one streaming pass over its bytes (:func:`check_csv_bytes`, a Numba
kernel, about 1 GB/s; a large file in two halves at once) checks what Polars would only trip over deep inside a lazy collect, without a
row number: text that is not UTF-8 (Latin-1, UTF-16), NUL bytes, a quote never closed, text after a
closing quote, a row with more fields than the header. Each is refused (exit 2) naming the file, the
row, the column, the byte offset and the line. A header naming a column twice is refused too (Polars
would silently rename the second copy). A UTF-8 byte order mark is accepted.
"""
from __future__ import annotations

import contextlib
import csv
import io
import os
import stat
import threading
import warnings
from pathlib import Path
from typing import NamedTuple

import polars as pl

from ..config import ColumnMapping, ConfigError
from ..errors import PARTS, InputError, InputKindError, InputNote, UsageError
from ..schema import EVENT_COLUMNS, EVENT_REQUIRED, PATH_COLUMNS, spelt_otherwise

ROW = "__row"
"""1-based data row number (the header is not counted), kept for error messages and rejects."""

_BY_SUFFIX = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv", ".txt": "csv",
              ".arrow": "arrow", ".ipc": "arrow", ".feather": "arrow", ".arrows": "arrow"}
_DELIMITERS = (",", ";", "\t", "|")


_BOMS = ((b"\x00\x00\xfe\xff", "UTF-32 (big-endian)"), (b"\xff\xfe\x00\x00", "UTF-32 (little-endian)"),
         (b"\xfe\xff", "UTF-16 (big-endian)"), (b"\xff\xfe", "UTF-16 (little-endian)"))
BOM_UTF8 = b"\xef\xbb\xbf"
CHUNK_BYTES = 1 << 23
"""Bytes per chunk of the CSV check: bounds its memory whatever the file's size."""


def check_not_utf16(head: bytes, name: str) -> None:
    """Refuse a UTF-16/UTF-32 file by its byte order mark (or by the NULs of UTF-16 without one)."""
    for bom, what in _BOMS:
        if head.startswith(bom):
            raise InputError(name, f"the file is {what} text (byte order mark {bom.hex(' ').upper()}): expected "
                                   "UTF-8; re-save it as UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)", row=0)
    probe = head[:64]
    if len(probe) >= 4 and probe.count(0) * 3 >= len(probe):
        which = "little" if probe[1:2] == b"\x00" else "big"
        raise InputError(name, f"the file looks like UTF-16 ({which}-endian) text without a byte order mark (NUL bytes "
                               "between the characters of the header): expected UTF-8; re-save it as UTF-8", row=0)


def guess_delimiter(path: Path) -> str:
    """The separator among , ; tab | that occurs most in the header line."""
    with open(path, "rb") as fh:
        head = fh.readline(65536)
    check_not_utf16(head, str(path))
    if b"\n" not in head and b"\r" in head:
        raise InputError(str(path), "lines end with a lone CR (classic Mac OS text): expected LF or CRLF line ends",
                         row=0)
    try:
        line = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.reason != "unexpected end of data" or len(head) < 65536:
            raise InputError(str(path), f"not UTF-8 text: byte 0x{head[exc.start]:02X} at byte {exc.start} (line 1, "
                                        "the header): expected UTF-8 (re-save the file as UTF-8)", row=0) from None
        line = head[:exc.start].decode("utf-8-sig")
    counts = {d: line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _header_names(path: Path, sep: str) -> list[str]:
    """The header's column names as the csv module reads them (blank lines before it skipped).

    Only the first MiB is decoded, leniently: this runs once the header is known to be sound, and a
    fault further on must not stop it."""
    with open(path, "rb") as fh:
        head = fh.read(1 << 20).decode("utf-8-sig", errors="replace")
    for record in csv.reader(io.StringIO(head, newline=""), delimiter=sep):
        if record:
            return record
    return []


def _context(path: Path, offset: int) -> str:
    """The bytes around ``offset``, for the message: the offending byte is plain to see in the repr."""
    with open(path, "rb") as fh:
        fh.seek(max(0, offset - 12))
        return repr(fh.read(24))[2:-1]


def check_csv_bytes(path: str | os.PathLike, sep: str, name: str | None = None):
    """Refuse a CSV file whose bytes Polars cannot read, naming file, row, column, byte offset and line.

    One streaming pass in chunks of :data:`CHUNK_BYTES` (see ``kernels.csv_scan`` for the rules); a
    file of :data:`PARALLEL_BYTES` or more is checked in two halves at once (:func:`_scan_halves`:
    the same verdict and the same first fault). Also refuses a header that names a column twice.
    Returns the rows of its blank lines after the header, as Polars numbers rows (a blank line is a row
    of nulls there), for :func:`_scan_file` to drop: an int64 array, empty for nearly every file.
    """
    from ..kernels import csv_scan as k

    path = Path(path)
    name = name or str(path)
    sep_bytes = sep.encode("utf-8")
    if len(sep_bytes) != 1 or sep_bytes in b'"\r\n':
        raise InputError(name, f"--delimiter {sep!r}: expected one ASCII character other than a quote or a line end")
    scan = _Scan(path, sep_bytes[0], k.byte_classes(sep_bytes[0], ord('"')))
    with open(path, "rb") as fh:
        head = fh.read(4)
        check_not_utf16(head, name)
        size = os.fstat(fh.fileno()).st_size
    start = len(BOM_UTF8) if head.startswith(BOM_UTF8) else 0
    halves = _scan_halves(scan, start, size) if size - start >= PARALLEL_BYTES else None
    if halves is None:
        code, state = scan.range(k.new_state(), start, size, final=True)
        blanks = k.blank_rows(state)
    else:
        code, state, blanks = halves
    if code != k.OK:
        _raise_fault(path, name, sep, code, state)
    names = _header_names(path, sep)
    seen: dict[str, int] = {}
    for i, col in enumerate(names):
        if col in seen and col.strip():
            raise InputError(name, f"the header names column {col!r} twice (columns {seen[col] + 1} and {i + 1}): "
                                   "expected each column once", row=0, column=col)
        seen.setdefault(col, i)
    return blanks


PARALLEL_BYTES = 1 << 26
"""Files of this many bytes or more (64 MiB) are checked in two halves at once (10.7M events, 709 MB:
0.80 -> 0.36 s; the whole attribute command 3.87 -> 3.59 s, 3 alternating runs each)."""


class _Scan:
    """The byte check of one file over byte ranges, in chunks of :data:`CHUNK_BYTES` (each range
    with a buffer and a handle of its own: two ranges may be scanned at once, the kernel releases the
    interpreter)."""

    def __init__(self, path: Path, delim: int, classes):
        self.path, self.delim, self.classes = path, delim, classes

    def range(self, state, lo: int, hi: int, final: bool = False) -> tuple[int, object]:
        """Scan bytes ``lo .. hi`` on from ``state`` (changed in place); with ``final`` the end of the
        file's checks too. Returns (fault code, state)."""
        import numpy as np

        from ..kernels import csv_scan as k

        buf = np.empty(min(CHUNK_BYTES, max(hi - lo, 1)), dtype=np.uint8)
        code = k.OK
        with open(self.path, "rb") as fh:
            fh.seek(lo)
            base = lo
            while base < hi:
                n = fh.readinto(memoryview(buf)[:min(len(buf), hi - base)])
                if not n:  # the file got shorter while read
                    break
                code = k.scan_chunk(buf[:n], base, self.delim, ord('"'), self.classes, state)
                base += n
                if code != k.OK:
                    return code, state
        if final:
            code = k.finish(state, base)
        return code, state


def _scan_halves(scan: _Scan, start: int, size: int):
    """:meth:`_Scan.range` of the whole file in two halves at once: the first from the start, the
    second from the first line end after the middle, as if a record began there (the header's field
    count taken from a look at the first chunk). When the first half ends anywhere else (the line end
    was inside a quoted value), the second is scanned again on from the first's state; so the verdict
    and the first fault are the whole scan's. None (scan the file in one pass) when the header does
    not end in the first chunk or no line end follows the middle closely. Returns (fault code, state,
    the rows of the blank lines: the first half's, then the second's numbered on from them)."""
    import threading

    from ..kernels import csv_scan as k

    first = k.new_state()
    head_end = min(start + CHUNK_BYTES, size)
    code, _ = scan.range(first, start, head_end)
    if code != k.OK or first[k.S_FIELDS] < 0:
        return None if code == k.OK else (code, first, k.blank_rows(first))
    with open(scan.path, "rb") as fh:
        fh.seek(start + (size - start) // 2)
        window = fh.read(1 << 20)
    lf = window.find(b"\n")
    if lf < 0:
        return None
    split = start + (size - start) // 2 + lf + 1
    if split <= head_end or split >= size:
        return None
    second = k.new_state()
    second[k.S_FIELDS] = first[k.S_FIELDS]
    second[k.S_RECORD] = 1
    result: list = []
    failure: list = []

    def run_second() -> None:
        try:
            result.append(scan.range(second, split, size))
        except BaseException as exc:  # noqa: BLE001 - raised in the caller's thread below
            failure.append(exc)

    thread = threading.Thread(target=run_second, name="shapley_attr-csv-check", daemon=True)
    thread.start()
    try:
        code, _ = scan.range(first, head_end, split)
    finally:
        thread.join()
    if failure:
        raise failure[0]
    if code != k.OK:
        return code, first, k.blank_rows(first)
    if not (first[k.S_MODE] == 0 and first[k.S_NEED] == 0 and first[k.S_FIELD] == 0 and first[k.S_NONEMPTY] == 0):
        code, _ = scan.range(first, split, size, final=True)  # the split fell inside a quoted value
        return code, first, k.blank_rows(first)
    lines, records = first[k.S_LINE] - 1, first[k.S_RECORD] - 1
    import numpy as np

    blanks = np.concatenate([k.blank_rows(first), k.blank_rows(second) + records + first[k.S_BLANKS]])
    for slot in (k.S_LINE, k.S_RECORD_LINE, k.S_QUOTE_LINE, k.S_ERR_LINE):
        second[slot] += lines
    for slot in (k.S_RECORD, k.S_ERR_RECORD):
        second[slot] += records
    code, _ = result[0]
    if code == k.OK:
        code = k.finish(second, size)
    return code, second, blanks


def _raise_fault(path: Path, name: str, sep: str, code: int, state) -> None:
    from ..kernels import csv_scan as k

    at, line = int(state[k.S_ERR_AT]), int(state[k.S_ERR_LINE])
    record, field = int(state[k.S_ERR_RECORD]), int(state[k.S_ERR_FIELD])
    header = [] if record == 0 else _header_names(path, sep)
    column = header[field] if field < len(header) else ""
    where = f"at byte {at} (line {line}" + (", in the header)" if record == 0 else ")")
    if code == k.TOO_MANY_FIELDS:
        fields = int(state[k.S_FIELDS])
        reason = (f"more fields than the header's {fields} {where}: expected at most {fields} fields (a "
                  f"{sep!r} inside a value that is not quoted?)")
        column = ""
    elif code == k.BAD_UTF8:
        with open(path, "rb") as fh:
            fh.seek(at)
            byte = fh.read(1)
        reason = (f"not UTF-8 text: byte 0x{byte.hex().upper()} {where} is not valid UTF-8: expected UTF-8 "
                  "(a Latin-1 or Windows-1252 export? re-save the file as UTF-8)")
    elif code == k.TRUNCATED_UTF8:
        reason = f"not UTF-8 text: the file ends inside a character begun {where}: expected UTF-8 (truncated file?)"
    elif code == k.NUL_BYTE:
        reason = f"a NUL byte {where}: expected UTF-8 text without NUL bytes (UTF-16 text, or binary data?)"
    elif code == k.UNTERMINATED_QUOTE:
        reason = (f"a quote opened {where} is never closed: expected a closing quote before the end of the file "
                  "(a quote inside a quoted value is written twice)")
    elif code == k.TOO_MANY_BLANK_LINES:
        reason = (f"more than {k.BLANK_CAPACITY:,} blank lines, the last {where}: expected one record a line "
                  "(a file written with blank lines between its records?)")
    elif code == k.QUOTE_IN_UNQUOTED:
        reason = (f"a quote inside a value that does not start with one {where}: expected the whole value in quotes "
                  'with each inner quote written twice (5" screen as "5"" screen")')
    else:  # TEXT_AFTER_QUOTE
        reason = (f"text after the closing quote of a quoted value {where}: expected {sep!r} or the end of the line "
                  "(a quote inside a quoted value is written twice)")
    raise InputError(name, reason, row=record, column=column, value=_context(path, at))


def scan_input(source, mapping: ColumnMapping = ColumnMapping()) -> tuple[pl.LazyFrame, str]:
    """Scan ``source`` lazily and apply ``mapping.rename``; returns (frame, display name).

    The frame gets a ``__row`` column: the 1-based data row of each record in the source (an input
    column of that name, which no contract reads, is dropped first; mapping one with ``--col`` is
    refused). A LazyFrame is collected once, here: the validation reads its input more than once, and
    a plan's rows need not come in the same order twice (a join, a ``group_by`` without
    ``maintain_order``), which paired one row's user and time with another's value. A file is
    scanned, never held whole: pass its path for an export larger than memory.
    """
    in_memory = in_memory_frame(source)
    if in_memory is not None:
        lf, name = in_memory
    elif type(source).__module__.startswith("pyspark"):
        raise UsageError("a Spark DataFrame is read by the Spark engine: pass engine='spark' "
                         "(sa.attribute(df, engine='spark'))")
    elif not isinstance(source, (str, os.PathLike)):
        raise InputKindError(f"expected a path, a polars DataFrame/LazyFrame or a pyarrow Table, got "
                             f"{type(source).__module__}.{type(source).__name__}")
    else:
        if "://" in os.fspath(source):  # pathlib would read s3a://bucket/x as the local s3a:/bucket/x
            raise UsageError(f"{os.fspath(source)}: a URL is read by the Spark engine (--engine spark); the local "
                             "engine reads files on this machine")
        lf, name = _scan_file(Path(os.fspath(source)), mapping)
    try:
        numbered = lf.with_row_index(ROW, offset=1)
        schema = numbered.collect_schema()
    except pl.exceptions.DuplicateError:  # the input has a column named __row
        if any(src == ROW for _, src in mapping.rename):
            raise ConfigError(f"--col ...={ROW}: {ROW!r} is the engine's own row-number column; rename that "
                              "column of the input") from None
        numbered = lf.drop(ROW).with_row_index(ROW, offset=1)
        schema = numbered.collect_schema()
    lf = numbered
    renames, clashing = rename_plan([c for c in schema if c != ROW], mapping, name)
    if clashing:
        lf = lf.drop(clashing)
    if renames:
        lf = lf.rename(renames)
    refuse_wide_decimals({renames.get(c, c): t for c, t in schema.items() if c not in clashing}, name)
    return lf, name


def in_memory_frame(source) -> tuple[pl.LazyFrame, str] | None:
    """A Polars or Arrow object as a frame and its display name, None for any other ``source``: a
    LazyFrame collected once (see :func:`scan_input`), an Arrow object through
    :func:`_from_arrow_object`. Both engines read in-memory inputs through this."""
    if isinstance(source, pl.LazyFrame):
        name = "<lazyframe>"
        with reading(name):
            return source.collect().lazy(), name
    if isinstance(source, pl.DataFrame):
        return source.lazy(), "<dataframe>"
    if type(source).__module__.startswith("pyarrow"):
        return _from_arrow_object(source), "<arrow table>"
    return None


def _from_arrow_object(source, name: str = "<arrow table>") -> pl.LazyFrame:
    """A pyarrow Table, RecordBatch or Dataset as a LazyFrame (a Dataset is read into memory: Polars'
    scan of one counted 0 rows); column names must be unique (Polars' own error gave no column)."""
    import pyarrow as pa

    try:
        import pyarrow.dataset as pads
    except ImportError:  # pragma: no cover - a pyarrow built without datasets
        pads = None
    schema = getattr(source, "schema", None)
    if not isinstance(schema, pa.Schema):
        raise InputKindError(f"expected a pyarrow Table, RecordBatch or Dataset, got pyarrow {type(source).__name__} "
                             "(a single column: make a table of it, pa.table({...}))")
    names = list(schema.names)
    for col in names:
        if names.count(col) > 1:
            raise InputError(name, f"column {col!r} appears {names.count(col)} times: expected unique column "
                                   "names", column=col)
    if pads is not None and isinstance(source, pads.Dataset):
        source = source.to_table()
    refuse_unreadable_types(schema, name)
    if any(_in_seconds(f.type) for f in schema):
        check_seconds(pa.Table.from_batches([source]) if isinstance(source, pa.RecordBatch) else source,
                      name)
    frame = pl.from_arrow(source)
    if not isinstance(frame, pl.DataFrame):
        raise InputKindError(f"expected a pyarrow Table, RecordBatch or Dataset, got pyarrow {type(source).__name__}")
    return frame.lazy()


def is_csv_file(source, mapping: ColumnMapping = ColumnMapping()) -> bool:
    """Whether ``source`` is a path :func:`scan_input` reads as CSV, where reading some rows again
    parses the whole file again. (An Arrow IPC file's second read also reads its columns whole before
    filtering, 10.7M events: 0.72 s for 205k rows; keeping the rows in the first pass instead measured
    2.34 -> 2.24 s but 1.8 -> 2.2 GB of peak RSS, the file's mapped pages: not done.)"""
    if not isinstance(source, (str, os.PathLike)):
        return False
    path = Path(os.fspath(source))
    if path.is_dir():
        return directory_format(path, mapping) == "csv"
    return file_format(path, mapping)[0] == "csv"


def rename_plan(columns: list[str], mapping: ColumnMapping, name: str) -> tuple[dict[str, str], list[str]]:
    """``--col NAME=SOURCE`` against an input's ``columns``: the renames (source -> contract) and the
    columns to drop first because a mapped column takes their name. A source not found is an error."""
    renames = {}
    unknown = [c for c, _ in mapping.rename if c not in EVENT_COLUMNS + PATH_COLUMNS]
    if unknown:
        raise ConfigError(f"--col {unknown[0]}=...: {unknown[0]!r} is not a contract column; expected one of "
                          f"{', '.join(EVENT_COLUMNS)} (events) or {', '.join(PATH_COLUMNS)} (paths)")
    for contract, src in mapping.rename:
        if src not in columns:  # the option's value is trimmed: ' gmv' (a space from the exporting tool) is
            padded = [c for c in columns if c.strip() == src]  # found by its trimmed name when only one has it
            if len(padded) != 1:
                raise InputError(name, f"column {src!r} (mapped to {contract!r} by --col) not found; "
                                       f"columns are: {', '.join(columns)}", column=src)
            src = padded[0]
        if src != contract:
            renames[src] = contract
    clashing = [c for c in renames.values() if c in columns and c not in renames] if renames else []
    for column in clashing:  # the mapping's choice, named: the input's own column is not read
        source = next(src for src, contract in renames.items() if contract == column)
        warnings.warn(f"{name}: --col {column}={source} reads {source!r} as {column}; the input's own {column!r} "
                      "column is not read", InputNote, stacklevel=1)
    present = [c for c in columns if c not in renames] + list(renames.values())
    events = any(c.strip().lower() in EVENT_REQUIRED for c in present)  # then a 'Path' is a web page's
    first = {}  # a contract column spelt otherwise (User_ID, ' gmv') is not read: said, with its mapping
    for contract, near in spelt_otherwise(present, EVENT_COLUMNS + (() if events else PATH_COLUMNS)):
        first.setdefault(contract, near)
    spelt = [f"--col '{contract}={near}'" for contract, near in first.items()]
    if spelt:
        warnings.warn(f"{name}: contract columns spelt otherwise are not read (names are exact): "
                      f"{' '.join(spelt)} would read them", InputNote, stacklevel=1)
    return renames, clashing


def _scan_file(path: Path, mapping: ColumnMapping) -> tuple[pl.LazyFrame, str]:
    name = str(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(name, "file not found") from None
    except OSError as exc:  # a name too long, a loop of links, no permission on a directory on the way
        raise InputError(name, f"cannot be opened: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        return _scan_parts(path, mapping)
    fmt, compression = file_format(path, mapping)
    if fmt is None:
        raise InputError(name, f"unknown file type {path.suffix!r}: expected .parquet, .csv or .arrow, or a "
                               "compressed CSV (.csv.gz, .csv.bz2, .csv.xz) (or say --input-format)")
    if st.st_size == 0:
        raise InputError(name, "file is empty: expected a header row (CSV) or a table")
    if compression is not None:
        path = decompressed(path, compression, fmt, name)
    if fmt == "csv":
        sep = mapping.delimiter or guess_delimiter(path)
        if len(sep) != 1:
            raise InputError(name, f"--delimiter must be one character, got {sep!r}")
        blanks = check_csv_bytes(path, sep, name)  # outside the try below: a failure of the check itself is no
        # input error
    if fmt == "arrow" and check_arrow_file(path, name) == "stream":
        return _read_ipc_stream(path, name), name

    def scan() -> pl.LazyFrame:
        if fmt == "parquet":
            return pl.scan_parquet(path)
        if fmt == "arrow":
            return pl.scan_ipc(path)
        return _csv_frame(path, sep, blanks)

    try:
        # the schema is read on a scan of its own: a Parquet scan whose schema was collected before
        # the row index is added measured 2x slower in a filtered pass (Polars 2.1)
        scan().collect_schema()
        lf = scan()
    except InputError:
        raise
    except Exception as exc:  # polars raises several types for unreadable files
        raise InputError(name, f"cannot be read as {fmt}: {_first_line(exc)}") from None
    except BaseException as exc:  # a Rust panic inside Polars is a BaseException
        if type(exc).__name__ != "PanicException":
            raise
        if "time zone" in str(exc):  # outside zones_read_as_utc() (the engines read inside it)
            raise InputError(name, f"a timestamp column's time zone is one Polars does not read "
                                   f"({_first_line(exc)}): read it inside readers.zones_read_as_utc(), or set "
                                   f"{IGNORE_TIME_ZONE}=1") from None
        raise InputError(name, f"cannot be read as {fmt} (the reader failed: {_first_line(exc)})") from None
    return lf, name


HIDDEN = ("_", ".")
"""A directory export's path parts that begin so are no data (``_SUCCESS``, ``_delta_log``,
``.part-0.crc``): what Spark and Hadoop skip."""


def all_parts_empty(name: str) -> InputError:
    """The error of a directory export whose CSV parts are all empty (0 bytes)."""
    return InputError(name, "the directory's CSV parts are all empty: expected a header row in each")


def data_files(directory: Path) -> list[Path]:
    """The data files of a directory export, in the order their rows are numbered: every regular file
    below it whose path (relative to it) has no part starting with ``_`` or ``.`` (``_SUCCESS``,
    ``_delta_log``, ``.part-0.crc``: what Spark and Hadoop skip), sorted by that path."""
    def unreadable(exc: OSError):  # os.walk skips a directory it cannot list: its parts would be lost
        raise InputError(str(exc.filename or directory), f"cannot list the directory: {exc.strerror}")

    found = []  # a link to a directory is not followed (a loop would never end), one to a file is read
    for root, dirs, files in os.walk(directory, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith(HIDDEN))
        found += [Path(root) / f for f in files if not f.startswith(HIDDEN)]
    return sorted((f for f in found if f.is_file()), key=lambda f: f.relative_to(directory).as_posix())


COMPRESSED = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bzip2", ".xz": "xz", ".zst": "zstd", ".zstd": "zstd"}
"""Compressed files' suffixes: a CSV export so compressed (``events.csv.gz``) is read decompressed."""


def file_format(path: Path, mapping: ColumnMapping = ColumnMapping()) -> tuple[str | None, str | None]:
    """A file's format (``--input-format``, else its suffix) and compression (its last suffix):
    ``events.csv.gz`` is ``("csv", "gzip")``, ``events.parquet`` ``("parquet", None)``."""
    compression = COMPRESSED.get(path.suffix.lower())
    inner = Path(path.stem).suffix.lower() if compression else path.suffix.lower()
    return mapping.input_format or _BY_SUFFIX.get(inner), compression


_TEMPORARY: list[str] = []
_SCOPE = threading.local()  # .files: the temporary files of the innermost temporary_scope of this thread


@contextlib.contextmanager
def temporary_scope():
    """Temporary files made inside (:func:`decompressed`) on this thread are removed when it ends: an
    engine's ``load`` reads its input whole inside one, so that a long-lived process (a pipeline's
    worker calling the API on export after export) does not keep every decompressed copy in ``TMPDIR``
    until it exits. The files a scope does not own stay for the process's exit."""
    outer = getattr(_SCOPE, "files", None)
    _SCOPE.files = made = []
    try:
        yield
    finally:
        _SCOPE.files = outer
        for tmp in made:
            _remove(tmp)


def _remove(tmp: str) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass
    with contextlib.suppress(ValueError):
        _TEMPORARY.remove(tmp)


def decompressed(path: Path, compression: str, fmt: str, name: str) -> Path:
    """A compressed CSV file decompressed into a temporary file (in ``TMPDIR``; removed at the end of
    the :func:`temporary_scope` it is made in, else when the process exits), which is then read as the
    file itself: Polars scans only uncompressed CSV, and the row checks, the row numbers and a second
    reading need the file on disk. Its errors name ``name``."""
    import atexit
    import shutil
    import tempfile

    if fmt != "csv":
        raise InputError(name, f"a {compression}-compressed {fmt} file: only CSV is read compressed (Parquet and "
                               "Arrow compress their own columns): decompress it first")
    opener = _decompressor(compression, name)
    if not _TEMPORARY:
        atexit.register(_remove_temporary)
    fd, tmp = tempfile.mkstemp(prefix="shapley_attr_", suffix=".csv")
    _TEMPORARY.append(tmp)
    scope = getattr(_SCOPE, "files", None)
    if scope is not None:
        scope.append(tmp)
    try:
        with opener(path) as src, os.fdopen(fd, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
    except Exception as exc:  # OSError (gzip's BadGzipFile, bz2), EOFError (truncated), lzma.LZMAError, zlib.error
        _remove(tmp)
        raise InputError(name, f"cannot be decompressed as {compression} into {Path(tmp).parent} "
                               f"({type(exc).__name__}: {_first_line(exc)})") from None
    if os.path.getsize(tmp) == 0:
        raise InputError(name, f"file is empty once decompressed ({compression}): expected a header row")
    return Path(tmp)


def _decompressor(compression: str, name: str):
    if compression == "gzip":
        import gzip

        return gzip.open
    if compression == "bzip2":
        import bz2

        return bz2.open
    if compression == "xz":
        import lzma

        return lzma.open
    try:
        from compression import zstd  # Python 3.14
    except ImportError:
        raise InputError(name, "a zstd-compressed CSV file: this Python (before 3.14) has no zstd module; "
                               "decompress it first (zstd -d), or compress it with gzip") from None
    return zstd.open


def _remove_temporary() -> None:
    for tmp in list(_TEMPORARY):
        _remove(tmp)


def _scan_parts(directory: Path, mapping: ColumnMapping) -> tuple[pl.LazyFrame, str]:
    """A directory export (Parquet parts as Spark, Hive or warehouse unloads write them; or CSV parts,
    each with its header and each maybe compressed, as BigQuery's sharded exports) as one input named
    by the directory, the parts in :func:`data_files` order; ``key=value`` directories are Hive
    partitions, whose values become columns, as Spark reads them."""
    name = str(directory)
    refuse_table_formats(directory)
    if directory_format(directory, mapping) == "csv":
        return _scan_csv_parts(directory, mapping), name
    files, schema, _ = parquet_parts(directory, mapping)
    hive = any("=" in part for f in files for part in f.relative_to(directory).parts[:-1])
    try:  # the first part's schema unless its all-null columns have a type in another part
        lf = pl.scan_parquet(files, hive_partitioning=hive or None, schema=schema)
        lf.collect_schema()
    except Exception as exc:
        raise InputError(name, f"cannot be read as parquet: {_first_line(exc)}") from None
    return lf, name


TABLE_FORMATS = (("_delta_log", "a Delta table"), (".hoodie", "a Hudi table"),
                 ("metadata", "an Iceberg table"))
"""Directories that make a directory a table of a table format, whose data files include the rows of
versions since replaced or deleted: reading every file would count them again."""


def refuse_table_formats(directory: Path) -> None:
    """A Delta, Hudi or Iceberg table directory is not a directory export: its Parquet files hold the
    rows of every version kept (rewritten, deleted), which only the table's log says which to read."""
    for marker, kind in TABLE_FORMATS:
        found = directory / marker
        if found.is_dir() and (marker != "metadata" or any(found.glob("*.metadata.json"))):
            spark = " or read it with --engine spark (delta-spark installed)," if marker == "_delta_log" else ""
            raise InputError(str(directory), f"is {kind} ({marker}/): its data files include rows of earlier "
                                             f"versions, which reading every file would count again;{spark} "
                                             "export the table's current version to Parquet")


def directory_format(directory: Path, mapping: ColumnMapping = ColumnMapping()) -> str | None:
    """The format of a directory export's first data file (by ``--input-format``, its suffix or its
    magic bytes), None when it has none."""
    for f in data_files(directory):
        fmt = file_format(f, mapping)[0] or magic_format(f)
        if fmt:
            return fmt
    return None


class CsvPart:
    """One CSV part of a directory export, checked (:func:`csv_parts`): the file to read (``path``, a
    decompressed copy for a compressed part), the part as named in errors (``shown``), its delimiter,
    the rows of its blank lines (:func:`check_csv_bytes`) and its Hive partition values."""

    def __init__(self, path: Path, shown: str, sep: str, blanks, partitions: list[tuple[str, str]]):
        self.path, self.shown, self.sep, self.blanks, self.partitions = path, shown, sep, blanks, partitions


def other_header(part: str, header: list[str], first_part, first_header: list[str]) -> InputError:
    """The error of a CSV part whose header is not the first part's, naming the first difference."""
    differs = next((a for a, b in zip(header, first_header) if a != b), None) or (
        header[len(first_header)] if len(header) > len(first_header) else first_header[len(header)])
    return InputError(part, f"the header is not the one of part {first_part} (first difference: column "
                            f"{differs!r}): the parts of one export must have the same columns in the same order",
                      row=0, column=differs)


def csv_parts(directory: Path, mapping: ColumnMapping) -> list[CsvPart]:
    """The CSV parts of a directory export in :func:`data_files` order, each checked as a CSV file is
    (:func:`check_csv_bytes`: faults named by the part and its own line and row) and with the first
    part's header; the delimiter is the first part's (or ``--delimiter``); an empty (0-byte) part has
    no rows and is left out; a compressed part is read decompressed (:func:`decompressed`). Both
    engines read a local directory of CSV parts through this."""
    name = str(directory)
    sep, first, parts = None, None, []
    for f in data_files(directory):
        fmt, compression = file_format(f, mapping)
        if fmt != "csv":
            kind = f"{fmt} file" if fmt else f"file of unknown type {f.suffix!r}"
            raise InputError(str(f), f"a {kind} among the CSV parts of the directory export {name}: expected "
                                     "every part CSV (or every part Parquet)")
        if f.stat().st_size == 0:
            continue
        path = decompressed(f, compression, fmt, str(f)) if compression else f
        if sep is None:
            sep = mapping.delimiter or guess_delimiter(path)
            if len(sep) != 1:
                raise InputError(name, f"--delimiter must be one character, got {sep!r}")
        blanks = check_csv_bytes(path, sep, str(f))
        header = _header_names(path, sep)
        if first is None:
            first = (f, header)
        elif header != first[1]:
            raise other_header(str(f), header, *first)
        partitions = [tuple(part.split("=", 1)) for part in f.relative_to(directory).parts[:-1] if "=" in part]
        parts.append(CsvPart(path, str(f), sep, blanks, partitions))
    if not parts:
        raise all_parts_empty(name)
    return parts


def _scan_csv_parts(directory: Path, mapping: ColumnMapping) -> pl.LazyFrame:
    """:func:`csv_parts` read one after the other (Hive ``key=value`` directories add text columns).
    An error's part and row (:func:`errors.part_row`) come from the parts' record counts, counted only
    when an error names a row."""
    name = str(directory)
    frames = []
    for part in csv_parts(directory, mapping):
        frame = _csv_frame(part.path, part.sep, part.blanks)
        if part.partitions:
            frame = frame.with_columns(pl.lit(value, dtype=pl.Utf8).alias(key) for key, value in part.partitions)
        frames.append((frame, part.shown))

    def offsets() -> list[int]:  # records before each part: counted when an error needs them
        rows, out = 0, []
        for frame, _ in frames:
            out.append(rows)
            rows += frame.select(pl.len()).collect().item()
        return out

    PARTS[name] = ([shown for _, shown in frames], offsets)
    try:
        lf = pl.concat([frame for frame, _ in frames], how="vertical")
        lf.collect_schema()
    except Exception as exc:
        raise InputError(name, f"cannot be read as csv: {_first_line(exc)}") from None
    return lf


def parquet_parts(directory: Path, mapping: ColumnMapping) -> ParquetParts:
    """The parts of a directory export (:func:`data_files`), checked, and the schema to read them with
    when the first part's is not (None: it is). Each part is a Parquet file with the first part's
    columns and types (an all-null column of Arrow's null type matches any type), else an InputError
    naming the part and the column (Polars stopped on the first mismatch without naming the file;
    Spark read a missing column as null). Rows are numbered 1, 2, ... across the parts in this order, by both engines; an error's message also gives
    the part and its own row (:func:`errors.part_row`, from the parts' row counts recorded here)."""
    import pyarrow.parquet as pq

    name = str(directory)
    files = data_files(directory)
    if not files:
        raise InputError(name, "directory holds no data files (names starting with _ or . are skipped): expected "
                               "the Parquet parts of an export")
    for f in files:
        fmt = mapping.input_format or _BY_SUFFIX.get(f.suffix.lower()) or magic_format(f)
        if fmt != "parquet":
            kind = f"{fmt} file" if fmt else f"file of unknown type {f.suffix!r}"
            raise InputError(str(f), f"a {kind} among the Parquet parts of the directory export {name}: expected "
                                     "every part Parquet (or every part CSV)")
    first, rows, offsets, untyped = None, 0, [], []
    typed: dict[str, tuple[Path, pl.DataType]] = {}  # each column's type and the first part that has it
    for f in files:
        try:
            meta = pq.read_metadata(f)
            schema = pl.read_parquet_schema(f)
        except Exception as exc:  # pyarrow and Polars raise several types for an unreadable footer
            raise InputError(str(f), f"cannot be read as parquet: {_first_line(exc)}") from None
        if first is None:
            first = (f, schema)
        else:
            _same_columns(first, f, schema, typed)
        for col, dtype in schema.items():
            if dtype != pl.Null:
                typed.setdefault(col, (f, dtype))
            else:
                untyped.append((f, col))
        offsets.append(rows)
        rows += meta.num_rows
    PARTS[name] = ([str(f) for f in files], offsets)
    nulls = {col: typed[col][1] for col, dtype in first[1].items() if dtype == pl.Null and col in typed}
    schema = {col: nulls.get(col, dtype) for col, dtype in first[1].items()} if nulls else None
    return ParquetParts(files, schema, [(f, col) for f, col in untyped if col in typed])


class ParquetParts(NamedTuple):
    """:func:`parquet_parts`' answer: the parts; the schema to scan them with when the first part's is
    not it (its all-null columns typed by another part), else None; the (part, column) pairs of a
    column of Arrow's null type where another part types it (Polars reads them, Spark cannot)."""

    files: list[Path]
    schema: dict | None
    untyped: list[tuple[Path, str]]


def _same_columns(first: tuple[Path, dict], path: Path, schema, typed: dict) -> None:
    """A part's columns against the first part's: the same names and types, a column of Arrow's null
    type (all null: what pyarrow writes for a shard where a column has no value) matching any type."""
    f0, s0 = first
    for col, dtype in s0.items():
        if col not in schema:
            raise InputError(str(path), f"column {col!r} of part {f0} is missing here: the parts of one export must "
                                        "have the same columns", column=col)
        known = typed.get(col)
        if schema[col] != pl.Null and known is not None and schema[col] != known[1]:
            raise InputError(str(path), f"column {col!r} is {schema[col]} here, {known[1]} in part {known[0]}: the "
                                        "parts of one export must have the same column types", column=col)
    extra = [c for c in schema if c not in s0]
    if extra:
        raise InputError(str(path), f"column {extra[0]!r} is not in part {f0}: the parts of one export must have "
                                    "the same columns", column=extra[0])


def magic_format(path: Path) -> str | None:
    """``parquet`` for a file without a known suffix that starts with Parquet's magic bytes."""
    try:
        with open(path, "rb") as fh:
            return "parquet" if fh.read(4) == b"PAR1" else None
    except OSError:
        return None


def _csv_frame(path: Path, sep: str, blanks) -> pl.LazyFrame:
    """A CSV file checked by :func:`check_csv_bytes` as a scan of its records, every column text."""
    lf = pl.scan_csv(path, separator=sep, infer_schema=False, encoding="utf8", raise_if_empty=True)
    if len(blanks):  # Polars reads each blank line as a row of nulls: dropped, so rows are records
        lf = (lf.with_row_index(_LINE_ROW, offset=1).filter(~pl.col(_LINE_ROW).is_in(pl.Series(blanks).implode()))
              .drop(_LINE_ROW))
    return lf


_LINE_ROW = "__line_row"
"""A CSV file's rows as Polars numbers them, blank lines included (dropped before ``__row`` is made)."""

IGNORE_TIME_ZONE = "POLARS_IGNORE_TIMEZONE_PARSE_ERROR"
"""Polars refuses (a Rust panic, or a ComputeError converting an Arrow table) a timestamp column whose
zone is a fixed offset (``+05:30``, valid Arrow) or a name it does not know, unless this variable is
1 when the zone is read (Polars reads the variable each time). The engine reads only the instants,
which are UTC whatever the zone says (Arrow's rule): the command sets the variable before Polars
loads (``cli.PROCESS_ENVIRONMENT``); the library sets it for the duration of a load
(:func:`zones_read_as_utc`) and puts back what it found."""

_zone_lock = threading.Lock()
_zone_users = 0
_zone_saved: str | None = None


@contextlib.contextmanager
def zones_read_as_utc():
    """Within the block, Polars reads any timestamp zone (:data:`IGNORE_TIME_ZONE` = 1); the variable
    is put back as it was when the last of the blocks open at once (threads) ends. (Setting it for
    good on the first such file, as before, changed the user's own Polars code for the rest of the
    process, and made an Arrow table with the zone fail or work depending on what was read before.)"""
    global _zone_users, _zone_saved
    with _zone_lock:
        if _zone_users == 0:
            _zone_saved = os.environ.get(IGNORE_TIME_ZONE)
            os.environ[IGNORE_TIME_ZONE] = "1"
        _zone_users += 1
    try:
        yield
    finally:
        with _zone_lock:
            _zone_users -= 1
            if _zone_users == 0:
                if _zone_saved is None:
                    os.environ.pop(IGNORE_TIME_ZONE, None)
                else:
                    os.environ[IGNORE_TIME_ZONE] = _zone_saved


_NOT_IPC = ((b"FEA1", "a Feather v1 file (re-save it with pyarrow.feather.write_feather, version 2)"),
            (b"PAR1", "a Parquet file (name it .parquet, or say --input-format parquet)"))
"""Magic numbers of files that are named like Arrow IPC but are not."""


def check_arrow_file(path: Path, name: str) -> str:
    """``"stream"`` for the Arrow IPC *stream* format, which ``scan_ipc`` does not read; else ``"file"``
    once the file's column names are unique (Polars 2.1 keeps one of two same-named columns in the
    schema, then panics while reading), and its columns not ones Polars cannot take or would misread
    (:func:`refuse_unreadable_types`, :func:`check_seconds`). Reads the footer's schema, and the file
    itself (memory-mapped) only when it has a timestamp in seconds."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    try:
        with pa.OSFile(str(path)) as fh:
            schema = ipc.open_file(fh).schema
    except (pa.ArrowInvalid, OSError):
        try:
            with pa.OSFile(str(path)) as fh:
                ipc.open_stream(fh)
        except (pa.ArrowInvalid, OSError):
            with open(path, "rb") as fh:  # neither: say what the file looks like instead
                head = fh.read(8)
            kind = next((what for magic, what in _NOT_IPC if head.startswith(magic)), None)
            if kind is None and head.startswith(b"ARROW1"):
                kind = "a truncated or damaged Arrow IPC file (its footer cannot be read)"
            if kind is not None:
                raise InputError(name, f"cannot be read as Arrow IPC: it is {kind}; expected the Arrow IPC file "
                                       "format (Feather v2), as pyarrow.ipc.new_file or Polars' write_ipc write "
                                       "it") from None
            return  # the scan's own message says what is wrong with the file
        return "stream"
    names = schema.names
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(name, f"column {twice[0]!r} appears {names.count(twice[0])} times: expected unique "
                               "column names", column=twice[0])
    refuse_unreadable_types(schema, name)
    if any(_in_seconds(f.type) for f in schema):
        with pa.memory_map(str(path)) as mm:
            check_seconds(ipc.open_file(mm).read_all(), name)
    return "file"


def _read_ipc_stream(path: Path, name: str) -> pl.LazyFrame:
    """An Arrow IPC stream (``pyarrow.ipc.new_stream``, Arrow Flight dumps, ``.arrows``), which has no
    footer to scan by: read whole, memory-mapped (an uncompressed stream's columns stay in the file's
    pages), with an Arrow object's checks (:func:`_from_arrow_object`)."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    try:
        with pa.memory_map(str(path)) as mm:
            table = ipc.open_stream(mm).read_all()
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(name, f"cannot be read as an Arrow IPC stream: {_first_line(exc)}") from None
    with reading(name):
        return _from_arrow_object(table, name)


def refuse_unreadable_types(schema, name: str) -> None:
    """Arrow columns Polars cannot take (a union, run-end encoding, an interval, a decimal of negative
    scale or of 256 bits), refused naming the column: Polars raised a bare ComputeError from the API,
    printed a panic before the CLI's error or failed reading the file's footer."""
    import pyarrow as pa

    ree = getattr(pa.types, "is_run_end_encoded", lambda t: False)
    for field in schema:
        # a decimal of negative scale and an interval: Polars' ComputeError from the API, a footer error or
        # Polars' own hint about an environment variable from an IPC file, whichever column holds them
        if (pa.types.is_union(field.type) or ree(field.type) or pa.types.is_interval(field.type)
                or (pa.types.is_decimal(field.type) and field.type.scale < 0)):
            raise InputError(name, f"column {field.name!r} holds Arrow {field.type}, which cannot be read: expected "
                                   "text, a number or a timestamp (decode, cast or drop it in the export)",
                             column=field.name)
        if pa.types.is_decimal256(field.type):  # Polars panicked converting it ("Int256"), whatever its precision
            raise InputError(name, f"column {field.name!r} holds Arrow {field.type}, a 256-bit decimal, which cannot be "
                                   f"read: {_WIDE_DECIMAL_EXPECTED}", column=field.name)


_WIDE_DECIMAL_EXPECTED = ("expected a 128-bit decimal (at most 38 digits), a float64, an integer or text (cast the "
                          "column in the export, e.g. BigQuery's BIGNUMERIC to NUMERIC or STRING)")
MAX_DECIMAL_DIGITS = 38
"""The widest decimal Polars reads (a Parquet DECIMAL(76, 38), BigQuery's BIGNUMERIC, has a schema in
Polars but its values fail to load: an internal error before this check)."""


def refuse_wide_decimals(schema, name: str) -> None:
    """A contract column (events' or paths') holding a decimal of more than 38 digits, refused naming
    it: Polars gives its schema but fails loading its values. An export's other columns are never read."""
    for column in (*EVENT_COLUMNS, *PATH_COLUMNS):
        dtype = schema.get(column)
        if isinstance(dtype, pl.Decimal) and (dtype.precision or 0) > MAX_DECIMAL_DIGITS:
            raise InputError(name, f"column {column!r} holds {dtype}, a decimal of more than {MAX_DECIMAL_DIGITS} "
                                   f"digits, which cannot be read: {_WIDE_DECIMAL_EXPECTED}", column=column)


SECONDS_LIMIT = (2**63 - 1) // 1000
"""The largest timestamp in seconds Polars reads right: it holds seconds as milliseconds, multiplied
without an overflow check (2305843011005716352 s, year ~73 billion, became 2026-10-15)."""


def _in_seconds(arrow_type) -> bool:
    import pyarrow as pa

    return pa.types.is_timestamp(arrow_type) and arrow_type.unit == "s"


def check_seconds(table, name: str) -> None:
    """Refuse an Arrow table's timestamp in seconds that Polars would wrap (:data:`SECONDS_LIMIT`),
    naming the column: no instant of an export is that far from 1970."""
    import pyarrow.compute as pc

    for field in table.schema:
        if not _in_seconds(field.type):
            continue
        bounds = pc.min_max(table.column(field.name).cast("int64"))
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        worst = max((v for v in (low, high) if v is not None), key=abs, default=0)
        if abs(worst) > SECONDS_LIMIT:
            raise InputError(name, f"a timestamp in seconds beyond what can be read (|t| <= "
                                   f"{SECONDS_LIMIT} s, about 292 million years from 1970): expected a real instant",
                             column=field.name, value=worst)


@contextlib.contextmanager
def reading(name: str):
    """Turn a reader failure raised inside the block (Polars, Arrow, the OS) into an InputError naming
    the file, for collects of a lazily scanned input whose bytes fail only when they are decoded."""
    try:
        yield
    except InputError:
        raise
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(name, f"cannot be read: {_first_line(exc)}") from None
    except Exception as exc:
        if type(exc).__module__.startswith("pyarrow"):
            raise InputError(name, f"cannot be read: {_first_line(exc)}") from None
        raise
    except BaseException as exc:  # a Rust panic inside Polars is a BaseException
        if type(exc).__name__ == "PanicException":
            raise InputError(name, f"cannot be read (the reader failed: {_first_line(exc)})") from None
        raise


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def collect(lf: pl.LazyFrame, name: str) -> pl.DataFrame:
    """Collect, turning a reader failure deep in the file into an InputError naming the file."""
    with reading(name):
        return lf.collect()


def read_small_csv_text(path: str | os.PathLike, name: str | None = None) -> str:
    """The text of a small CSV file (contracts, sales, FX, co-op), read whole and checked: UTF-8 (a
    byte order mark is dropped), no NUL byte. A fault raises InputError naming the row, the column,
    the byte offset and the line."""
    path = Path(path)
    name = name or str(path)
    data = path.read_bytes()
    check_not_utf16(data[:64], name)
    start = len(BOM_UTF8) if data.startswith(BOM_UTF8) else 0
    nul = data.find(b"\x00", start)
    try:
        text = data[start:nul if nul >= 0 else len(data)].decode("utf-8")
    except UnicodeDecodeError as exc:
        at = start + exc.start
        reason = (f"not UTF-8 text: byte 0x{data[at]:02X} at byte {at} (line {_line_of(data, at)}) is not valid "
                  "UTF-8: expected UTF-8 (a Latin-1 or Windows-1252 file? re-save it as UTF-8)")
        raise InputError(name, reason, **_locate(data[start:at].decode("utf-8")), value=_around(data, at)) from None
    if nul >= 0:
        reason = (f"a NUL byte at byte {nul} (line {_line_of(data, nul)}): expected UTF-8 text without NUL bytes "
                  "(UTF-16 text, or binary data?)")
        raise InputError(name, reason, **_locate(text), value=_around(data, nul))
    return text


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _around(data: bytes, offset: int) -> str:
    return repr(data[max(0, offset - 12):offset + 12])[2:-1]


def _locate(prefix: str) -> dict:
    """Row (0 = the header; blank lines not counted, as ``csv.DictReader`` numbers rows) and column of
    the position just after ``prefix``, the start of a comma-separated file."""
    records = [r for r in csv.reader(io.StringIO(prefix + "\x01", newline="")) if r]
    row = len(records) - 1
    field = len(records[-1]) - 1
    header = records[0]
    return {"row": row, "column": header[field] if row > 0 and field < len(header) else ""}
