"""Small helpers shared by the tests."""
from __future__ import annotations

from shapley_attr.api import load_table


def load(source, **options):
    """``(PathTable, LoadedInput)`` of ``source`` through the public API (same keywords as the CLI)."""
    loaded = load_table(source, **options)
    return loaded.table, loaded


def gmv_totals(loaded) -> tuple[float, float, float]:
    """GMV read, accepted and rejected over every currency of a loaded input's reconciliation."""
    rows = loaded.reconciliation.by_currency
    read = float(sum(c.gmv_read for c in rows))
    rejected = float(sum(c.gmv_rejected for c in rows))
    return read, read - rejected, rejected
