"""CSV for finance: UTF-8, LF, a header, minimal quoting, and no spreadsheet formula injection."""
from __future__ import annotations

import csv
import io

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Prefix a text cell that a spreadsheet would run as a formula with an apostrophe (OWASP)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_bytes(header: tuple[str, ...] | list[str], rows: list[list[str]], text_columns: set[str]) -> bytes:
    """Rows of already-formatted cells → CSV bytes; cells of ``text_columns`` are neutralised."""
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    text_idx = [i for i, h in enumerate(header) if h in text_columns]
    for row in rows:
        row = list(row)
        for i in text_idx:
            row[i] = neutralise(row[i])
        writer.writerow(row)
    return buf.getvalue().encode("utf-8")
