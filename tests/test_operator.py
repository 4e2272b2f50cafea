"""The operator files in cli/: each example configuration maps its export's shape onto the contract
(the payouts equal those of the sample in contract shape), and the monthly wrapper's exit codes."""
from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from shapley_attr.cli import cli

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples"
CONFIGS = REPO / "cli" / "configs"
MONTHLY = REPO / "cli" / "monthly.sh"
FINANCE = ("partners.csv", "sales.csv", "fx.csv", "coop.csv")


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def payouts_without_run_id(path: Path) -> list[dict]:
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    for r in rows:
        r.pop("run_id")
    return rows


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """The sample's run without its programme inputs (spend, MAP: the example configs map the events
    and the finance files of DATA.md only)."""
    d = tmp_path_factory.mktemp("ref")
    for p in SAMPLES.iterdir():
        if p.is_file():
            shutil.copy(p, d / p.name)
    programme = ("spend", "map", "prices", "map_policy")
    text = (SAMPLES / "run.toml").read_text(encoding="utf-8").splitlines()
    (d / "run.toml").write_text("\n".join(ln for ln in text if ln.split(" = ")[0] not in programme) + "\n")
    res = invoke("run", "--config", d / "run.toml", "--out", d / "out")
    assert res.exit_code == 0, res.output
    return d / "out"


def sample_events() -> pl.DataFrame:
    return pl.read_parquet(SAMPLES / "events.parquet")


def ga4(events: pl.DataFrame, d: Path) -> None:
    conv = pl.col("event_type") == "conversion"
    frame = events.select(
        pl.col("user_id").alias("user_pseudo_id"),
        pl.col("event_time").dt.epoch("us").alias("event_timestamp"),
        pl.when(conv).then(pl.lit("purchase")).otherwise(pl.lit("session_start")).alias("event_name"),
        pl.col("channel").alias("session_medium"), pl.col("country").alias("geo_country"),
        pl.col("order_id").alias("ecommerce_transaction_id"),
        pl.col("gmv").cast(pl.Float64).alias("ecommerce_purchase_revenue"), pl.col("currency").alias("currency_code"))
    extra = frame.head(3).with_columns(pl.lit("page_view").alias("event_name"))  # not a touch: rejected
    pl.concat([frame, extra]).write_parquet(d / "events.parquet")


def segment(events: pl.DataFrame, d: Path) -> None:
    conv = pl.col("event_type") == "conversion"
    partner = pl.col("channel").str.starts_with("partner:")
    events.select(
        pl.col("user_id").alias("user_id_resolved"), pl.col("event_time").alias("timestamp"),
        pl.when(conv).then(pl.lit("Order Completed")).otherwise(pl.lit("Campaign Touch")).alias("event_text"),
        pl.when(partner).then(pl.lit("referral")).otherwise(pl.col("channel")).alias("context_campaign_medium"),
        pl.when(partner).then(pl.col("channel").str.strip_prefix("partner:")).alias("context_campaign_partner"),
        pl.col("country").alias("context_location_country"), pl.col("order_id").alias("properties_order_id"),
        pl.col("gmv").alias("properties_revenue"), pl.col("currency").alias("properties_currency"),
    ).write_parquet(d / "events.parquet")


def snowplow(events: pl.DataFrame, d: Path) -> None:
    conv = pl.col("event_type") == "conversion"
    events.select(
        pl.col("user_id").alias("domain_userid"),
        pl.col("event_time").dt.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").alias("derived_tstamp"),
        pl.when(conv).then(pl.lit("transaction")).otherwise(pl.lit("page_view")).alias("event_name"),
        pl.col("channel").alias("mkt_medium"), pl.col("country").alias("geo_country"),
        pl.col("order_id").alias("tr_orderid"), pl.col("gmv").alias("tr_total"), pl.col("currency").alias("tr_currency"),
    ).write_csv(d / "events.csv", separator=";")


SHAPES = {"ga4_bigquery.toml": ga4, "segment_tracks.toml": segment, "snowplow_atomic.csv.toml": snowplow}


@pytest.mark.parametrize("config", sorted(SHAPES))
def test_example_config_maps_its_export_onto_the_contract(config, reference, tmp_path):
    for name in FINANCE:
        shutil.copy(SAMPLES / name, tmp_path / name)
    shutil.copy(CONFIGS / config, tmp_path / "run.toml")
    SHAPES[config](sample_events(), tmp_path)
    res = invoke("run", "--config", tmp_path / "run.toml")
    assert res.exit_code == 0, res.output
    out = tmp_path / "runs" / "2026-10"
    assert payouts_without_run_id(out / "payouts.csv") == payouts_without_run_id(reference / "payouts.csv")
    assert (out / "attribution.csv").read_bytes() == (reference / "attribution.csv").read_bytes()
    rejects = pl.read_csv(out / "rejects.csv")
    if config == "ga4_bigquery.toml":
        assert len(rejects) == 3 and rejects["reason"].str.contains("unknown event type").all()
    else:
        assert len(rejects) == 0


def test_every_example_config_is_tested():
    assert sorted(p.name for p in CONFIGS.glob("*.toml")) == sorted(SHAPES)


def monthly(*args, env=None):
    environment = dict(os.environ) | {"SHAPLEY_ATTR": f"{sys.executable} -m shapley_attr"} | (env or {})
    return subprocess.run(["bash", str(MONTHLY), *map(str, args)], capture_output=True, text=True, env=environment,
                          timeout=300)


def test_monthly_wrapper(tmp_path):
    d = tmp_path / "in"
    shutil.copytree(SAMPLES, d, ignore=shutil.ignore_patterns("runs"))
    first = monthly(d / "run.toml", "2026-10")
    assert first.returncode == 0, first.stderr
    out = d / "runs" / "2026-10"
    assert (out / "payouts.csv").is_file() and (d / "runs" / "2026-10.log").is_file()
    assert f"done: payouts {out}/payouts.csv" in first.stderr
    log = (d / "runs" / "2026-10.log").read_text()
    assert "validate" in log and "ok: run would succeed" in log and "run " in log
    again = monthly(d / "run.toml", "2026-10")
    assert again.returncode == 2 and "exists" in again.stderr
    forced = monthly(d / "run.toml", "2026-10", env={"FORCE": "1"})
    assert forced.returncode == 0, forced.stderr
    assert monthly(d / "run.toml", "2026-13").returncode == 2
    assert monthly(d / "missing.toml").returncode == 2
    broken = d / "fx.csv"
    broken.write_text(broken.read_text() + "2026-10-31,GBP,not-a-rate\n")
    failed = monthly(d / "run.toml", "2026-09")
    assert failed.returncode == 2 and "validate failed" in failed.stderr
    assert not (d / "runs" / "2026-09").exists()
