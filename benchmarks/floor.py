"""This machine's floor for ordering an events export: a Polars scan of the file and the stable sort on
the hashed user id that orders journeys, nothing else (the issue-14 floor). :func:`floor_seconds` times
it inside a running process; run as a script (``python benchmarks/floor.py events.parquet``) it is the
same work as a whole command, Python's start-up and Polars' import included, which is what the
end-to-end ``attribute`` command pays too."""
from __future__ import annotations

import sys
import time


def floor_query(parquet):
    """Scan ``parquet`` (or a ``.csv`` file: every column as text, as the engine reads CSV), hash the
    user ids, stable-sort by the hash; the sorted keys are materialised, so the optimiser cannot drop
    the sort."""
    import polars as pl

    scan = (pl.scan_csv(parquet, infer_schema=False) if str(parquet).endswith(".csv")
            else pl.scan_parquet(parquet))
    return (scan.select(pl.col("user_id").hash().alias("h"), pl.col("event_time"))
            .sort("h", maintain_order=True).collect())


def floor_seconds(parquet) -> float:
    """Seconds of :func:`floor_query` in this process (Polars imported before the clock starts)."""
    import polars  # noqa: F401

    t0 = time.perf_counter()
    floor_query(parquet)
    return time.perf_counter() - t0


if __name__ == "__main__":
    floor_query(sys.argv[1])
