"""Synthetic inputs for the benchmarks: path tables with known structure, and event exports."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from shapley_attr.frames import PathTable, merge_identical_paths


def journeys_table(n_journeys: int, n_channels: int, seed: int = 0, merge: bool = True,
                   mean_length: float = 3.5) -> PathTable:
    """``n_journeys`` journeys over ``n_channels`` channels (Zipf-like popularity), lengths geometric
    with the given mean (2% longer than 20), ~4% converting with a channel-dependent lift."""
    rng = np.random.default_rng(seed)
    length = rng.geometric(1.0 / mean_length, n_journeys)
    long = rng.random(n_journeys) < 0.02
    length[long] += rng.integers(18, 30, int(long.sum()))
    total = int(length.sum())
    pop = 1.0 / np.arange(1, n_channels + 1) ** 0.8
    codes = rng.choice(n_channels, size=total, p=pop / pop.sum()).astype(np.int32)
    offsets = np.zeros(n_journeys + 1, dtype=np.int64)
    np.cumsum(length, out=offsets[1:])
    lift = rng.uniform(0.0, 0.03, n_channels)
    score = np.add.reduceat(lift[codes], offsets[:-1]) / np.sqrt(length)
    conv = (rng.random(n_journeys) < 0.02 + score).astype(np.float64)
    value = conv * rng.lognormal(4.0, 0.6, n_journeys)
    table = PathTable(offsets, codes, conv, value, 1.0 - conv, tuple(f"ch{i:04d}" for i in range(n_channels)))
    return merge_identical_paths(table) if merge else table


def sample_events(out_dir: Path, journeys: int, seed: int = 0) -> Path:
    """An events export written by `shapley-attr sample` (cached by size and seed)."""
    from shapley_attr.sample import write_sample

    path = Path(out_dir) / f"j{journeys}_s{seed}"
    if not (path / "events.parquet").exists():
        write_sample(path, journeys=journeys, seed=seed)
    return path
