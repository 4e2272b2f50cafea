"""Readers: Parquet, CSV and Arrow IPC scanned lazily, with the column mapping applied.

CSV is read with every column as text and cast explicitly afterwards, so that a bad cell becomes a
row-level fault with its row number instead of a parser crash in the middle of the file.
"""
from __future__ import annotations

import os
from pathlib import Path

import polars as pl

from ..config import ColumnMapping
from ..errors import InputError

ROW = "__row"
"""1-based data row number (the header is not counted), kept for error messages and rejects."""

_BY_SUFFIX = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv", ".txt": "csv",
              ".arrow": "arrow", ".ipc": "arrow", ".feather": "arrow"}
_DELIMITERS = (",", ";", "\t", "|")


def guess_delimiter(path: Path) -> str:
    """The separator among , ; tab | that occurs most in the header line."""
    with open(path, "rb") as fh:
        head = fh.readline(65536)
    try:
        line = head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(str(path), f"not UTF-8 text: {exc.reason} at byte {exc.start} of the header", row=0) from None
    counts = {d: line.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def scan_input(source, mapping: ColumnMapping = ColumnMapping()) -> tuple[pl.LazyFrame, str]:
    """Scan ``source`` lazily and apply ``mapping.rename``; returns (frame, display name).

    The frame gets a ``__row`` column: the 1-based data row of each record in the source.
    """
    if isinstance(source, pl.LazyFrame):
        lf, name = source, "<dataframe>"
    elif isinstance(source, pl.DataFrame):
        lf, name = source.lazy(), "<dataframe>"
    elif type(source).__module__.startswith("pyarrow"):
        lf, name = pl.from_arrow(source).lazy(), "<arrow table>"
    else:
        lf, name = _scan_file(Path(os.fspath(source)), mapping)
    lf = lf.with_row_index(ROW, offset=1)
    schema = lf.collect_schema()
    renames = {}
    for contract, src in mapping.rename:
        if src not in schema:
            raise InputError(name, f"column {src!r} (mapped to {contract!r} by --col) not found; "
                                   f"columns are: {', '.join(c for c in schema if c != ROW)}", column=src)
        if src != contract:
            renames[src] = contract
    if renames:
        clashing = [c for c in renames.values() if c in schema and c not in renames]
        if clashing:
            lf = lf.drop(clashing)
        lf = lf.rename(renames)
    return lf, name


def _scan_file(path: Path, mapping: ColumnMapping) -> tuple[pl.LazyFrame, str]:
    name = str(path)
    if not path.exists():
        raise InputError(name, "file not found")
    if path.is_dir():
        raise InputError(name, "is a directory, expected a file")
    fmt = mapping.input_format or _BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        raise InputError(name, f"unknown file type {path.suffix!r}: expected .parquet, .csv or .arrow "
                               "(or say --input-format)")
    if path.stat().st_size == 0:
        raise InputError(name, "file is empty: expected a header row (CSV) or a table")
    try:
        if fmt == "parquet":
            lf = pl.scan_parquet(path)
        elif fmt == "arrow":
            lf = pl.scan_ipc(path)
        else:
            sep = mapping.delimiter or guess_delimiter(path)
            if len(sep) != 1:
                raise InputError(name, f"--delimiter must be one character, got {sep!r}")
            lf = pl.scan_csv(path, separator=sep, infer_schema=False, encoding="utf8",
                             raise_if_empty=True)
        lf.collect_schema()
    except InputError:
        raise
    except Exception as exc:  # polars raises several types for unreadable files
        raise InputError(name, f"cannot be read as {fmt}: {str(exc).splitlines()[0]}") from None
    return lf, name


def collect(lf: pl.LazyFrame, name: str) -> pl.DataFrame:
    """Collect, turning a reader failure deep in the file into an InputError naming the file."""
    try:
        return lf.collect()
    except pl.exceptions.ComputeError as exc:
        raise InputError(name, f"cannot be read: {str(exc).splitlines()[0]}") from None
