"""Domain exceptions and the Issue record.

Input errors subclass ``ValueError`` and always carry the file, row, column and what was expected, so
that the CLI can print one precise message and exit 2. Row-level faults that can be quarantined are
``Issue`` records (beancount's style: checks return issues as data; the caller decides to fail or
to write them to ``rejects.csv``).
"""
from __future__ import annotations

from dataclasses import dataclass

UNREADABLE = "cannot be read (corrupt or truncated data?)"
"""The start of the message for an input whose bytes do not decode, the same on both engines."""


@dataclass(frozen=True, order=True)
class Issue:
    """One rejected input row: ``rejects.csv`` has exactly these columns."""

    source: str
    row: int  # 1-based data row number (the header is row 0); 0 for file-level issues
    column: str
    value: str
    reason: str

    def message(self) -> str:
        where = f"{self.source}"
        if self.row:
            where += f", row {self.row}"
            part = part_row(self.source, self.row)
            if part is not None:
                where += f" ({part[0]}, row {part[1]})"
        if self.column:
            where += f", column {self.column!r}"
        shown = f" (got {self.value!r})" if self.value != "" else ""
        return f"{where}: {self.reason}{shown}"


PARTS: dict[str, tuple[list[str], object]] = {}
"""The directory inputs read in this process (``io.readers``' directory exports): its name -> (its
parts in path order, the rows before each, or a function that counts them when first asked)."""


def part_row(source: str, row: int) -> tuple[str, int] | None:
    """For a row of a directory input (rows numbered across its parts), the part and its row there."""
    parts = PARTS.get(source)
    if parts is None or row <= 0:
        return None
    import bisect

    files, offsets = parts
    if callable(offsets):
        offsets = offsets()
        PARTS[source] = (files, offsets)
    k = bisect.bisect_left(offsets, row) - 1  # the last part with fewer rows before it than ``row``
    return files[k], row - offsets[k]


MORE_SHOWN = 20
"""How many further problems an error message lists after the first (all are kept in ``.issues``)."""


class InputNote(UserWarning):
    """A fact about how an input is read that its user should know and nothing refuses (a Python
    warning from the library; the command prints it on stderr as ``note: ...``)."""


class ShapleyAttrError(Exception):
    """Base of every error this package raises on purpose."""


class InputError(ShapleyAttrError, ValueError):
    """Bad input: names the file, row and column and what was expected. CLI exit code 2."""

    def __init__(self, source: str, reason: str, *, row: int = 0, column: str = "", value: object = "",
                 issues: list[Issue] | None = None, hint: str = "") -> None:
        self.issue = Issue(str(source), int(row), str(column), "" if value is None else str(value), reason)
        self.issues = issues or [self.issue]
        msg = self.issue.message()
        first = (self.issue.source, self.issue.row, self.issue.column)
        others = [i for i in self.issues if (i.source, i.row, i.column) != first]
        if others:
            shown = others[:MORE_SHOWN]
            msg += (f"\n  and {len(others)} more problem(s){' (' + hint + ')' if hint else ''}:"
                    + "".join("\n  " + i.message() for i in shown))
            if len(others) > len(shown):
                msg += f"\n  ... ({len(others) - len(shown)} not shown)"
        super().__init__(msg)


class ContractError(InputError):
    """A partner contract, sales, FX or co-op file breaks its contract (DATA.md inputs 3-5)."""


class UsageError(ShapleyAttrError, ValueError):
    """A combination of options that cannot work (e.g. time-decay on paths input). Exit code 2."""


class InputKindError(UsageError, TypeError):
    """An input object of a kind the API does not read (a pandas frame, an Arrow array): a usage error
    (exit 2) that is also the TypeError Python code expects of a wrong argument."""


class ModelLimitError(UsageError):
    """An exact computation that does not fit the stated limits; the message states the numbers."""


class OutputExistsError(ShapleyAttrError):
    """The run directory exists and --force was not given. Exit code 2."""


class OutputWriteError(ShapleyAttrError):
    """An output could not be written for want of room (disk full, quota, a read-only file system):
    nothing was published, the target is as it was. Names the target; exit code 2."""
