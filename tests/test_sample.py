"""The synthetic data set: deterministic, on contract, and runnable as is."""
from __future__ import annotations

import csv
import hashlib
from datetime import date

import polars as pl

from shapley_attr.sample import write_sample


def digest(d):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir())}


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    write_sample(a, journeys=400, seed=9)
    write_sample(b, journeys=400, seed=9)
    write_sample(c, journeys=400, seed=10)
    assert digest(a) == digest(b)
    assert digest(a)["events.parquet"] != digest(c)["events.parquet"]


def test_events_follow_the_contract(tmp_path):
    write_sample(tmp_path, journeys=3000, seed=2)
    ev = pl.read_parquet(tmp_path / "events.parquet")
    assert ev.columns == ["user_id", "event_time", "event_type", "channel", "country", "order_id", "gmv", "currency",
                          "margin"]
    assert set(ev["event_type"].unique()) == {"touch", "conversion"}
    conv = ev.filter(pl.col("event_type") == "conversion")
    assert conv["order_id"].n_unique() == len(conv) and conv["channel"].null_count() == len(conv)
    assert {"EUR", "JPY", "KWD", "GBP"} <= set(conv["currency"].unique())
    jpy = conv.filter(pl.col("currency") == "JPY")["gmv"]
    kwd = conv.filter(pl.col("currency") == "KWD")["gmv"]
    assert all("." not in g for g in jpy) and all(len(g.split(".")[1]) == 3 for g in kwd)
    touches = ev.filter(pl.col("event_type") == "touch")
    assert touches["channel"].str.starts_with("partner:").any()
    longest = touches.group_by("user_id").len()["len"].max()
    assert longest > 20


def test_fx_covers_partner_currencies_on_the_last_day(tmp_path):
    write_sample(tmp_path, journeys=200, seed=0)
    partners = list(csv.DictReader(open(tmp_path / "partners.csv", encoding="utf-8")))
    fx = {(r["date"], r["currency"]) for r in csv.DictReader(open(tmp_path / "fx.csv", encoding="utf-8"))}
    for p in partners:
        if p["currency"] != "EUR":
            assert (date(2026, 10, 31).isoformat(), p["currency"]) in fx
    assert len({p["country"] for p in partners}) >= 4
