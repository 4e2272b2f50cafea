"""Synthetic inputs for the benchmarks: path tables with known per-channel effects, and event exports."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from shapley_attr.frames import PathTable, merge_identical_paths

BASELINE = 0.02


def journeys_with_truth(n_journeys: int, n_channels: int, seed: int = 0,
                        mean_length: float = 3.5) -> tuple[PathTable, np.ndarray]:
    """``n_journeys`` journeys over ``n_channels`` channels (Zipf-like popularity), lengths geometric
    with the given mean (2% longer than 20). A journey converts with probability
    ``BASELINE + Σ_touches lift[c] / √m`` (m its length), so each channel's expected incremental
    conversions are known: ``truth[c] = Σ_j Σ_{touches of c in j} lift[c] / √m_j``. Returns the merged
    table and ``truth`` (the ground truth the models' conversion credits are compared with, as shares).
    """
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
    per_touch = lift[codes] / np.sqrt(np.repeat(length, length))
    score = np.add.reduceat(per_touch, offsets[:-1])
    conv = (rng.random(n_journeys) < BASELINE + score).astype(np.float64)
    value = conv * rng.lognormal(4.0, 0.6, n_journeys)
    truth = np.bincount(codes, weights=per_touch, minlength=n_channels)
    table = PathTable(offsets, codes, conv, value, 1.0 - conv, tuple(f"ch{i:04d}" for i in range(n_channels)))
    return merge_identical_paths(table), truth


def journeys_table(n_journeys: int, n_channels: int, seed: int = 0, merge: bool = True,
                   mean_length: float = 3.5) -> PathTable:
    """The table of :func:`journeys_with_truth` (merged into unique paths)."""
    return journeys_with_truth(n_journeys, n_channels, seed, mean_length)[0]


def write_peer_inputs(table: PathTable, stem: Path) -> dict[str, Path]:
    """The same journeys in each engine's own input format, written once: ChannelAttribution's
    ``path;total_conversions;total_conversion_value;total_null`` with ``>`` (``.ca.csv``), DP6's
    grouped journeys ``path,has_conv,occurrences`` (``.dp6.csv``), mta's
    ``path,total_conversions,total_null`` (``.mta.csv``), and ours (Parquet, ChannelAttribution's
    columns with `` > ``)."""
    import polars as pl

    labels = table.path_labels(" > ")
    ours = pl.DataFrame({"path": labels, "total_conversions": table.conversions,
                         "total_conversion_value": table.value, "total_null": table.nulls})
    files = {"shapley_attr": stem.with_suffix(".parquet"), "channelattribution": stem.with_suffix(".ca.csv"),
             "dp6": stem.with_suffix(".dp6.csv"), "mta": stem.with_suffix(".mta.csv")}
    ours.write_parquet(files["shapley_attr"])
    ours.with_columns(pl.col("path").str.replace_all(" > ", ">", literal=True)).write_csv(
        files["channelattribution"], separator=";")
    pl.concat([ours.filter(pl.col("total_conversions") > 0).select(
                   "path", pl.lit(True).alias("has_conv"), pl.col("total_conversions").cast(pl.Int64).alias("occurrences")),
               ours.filter(pl.col("total_null") > 0).select(
                   "path", pl.lit(False).alias("has_conv"), pl.col("total_null").cast(pl.Int64).alias("occurrences"))]
              ).write_csv(files["dp6"])
    ours.select("path", "total_conversions", "total_null").write_csv(files["mta"])
    return files


def sample_events(out_dir: Path, journeys: int, seed: int = 0) -> Path:
    """An events export written by `shapley-attr sample` (cached by size and seed)."""
    from shapley_attr.sample import write_sample

    path = Path(out_dir) / f"j{journeys}_s{seed}"
    if not (path / "events.parquet").exists():
        write_sample(path, journeys=journeys, seed=seed)
    return path
