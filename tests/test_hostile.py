"""Hostile text (issue 10): every text cell of every output file is safe.

A spreadsheet runs a cell that begins with ``=``, ``+``, ``-``, ``@``, tab or CR as a formula
(DATA.md): such cells are prefixed with an apostrophe. Invisible or reordering characters (NUL and
the other C0/C1 controls, bidirectional overrides) are written as visible escapes. The labels of
channels are taken whole from an events export: one containing the path separator ``' > '`` is one
channel, and cannot change a journey.
"""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from shapley_attr.cli import cli
from shapley_attr.io.finance_csv import csv_bytes, neutralise_expr, safe_columns, safe_text
from shapley_attr.io.tables import frame_csv
from shapley_attr.sample import write_sample

FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")

HOSTILE_LABELS = {
    "paid_search": "=HYPERLINK(\"http://evil\",\"x\")",
    "organic_search": "+cmd|' /C calc'!A0",
    "email": "-2+3",
    "social": "@SUM(1+1)",
    "display": "\tdisplay",
    "affiliate": "\raffiliate",
    "video": "vid\x00eo\x07\u202eoediv",
    "direct_nav": "a > b",  # the path separator inside a label
}


def cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def assert_safe_csv(name: str, data: bytes, numeric: set[str] = frozenset()) -> None:
    rows = cells(data)
    header = rows[0]
    for r, row in enumerate(rows[1:], start=1):
        for col, cell in zip(header, row):
            assert not UNSAFE.search(cell), (name, r, col, cell)
            if col not in numeric:
                assert not cell.startswith(FORMULA_START), (name, r, col, cell)


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory) -> dict:
    """A sample export whose channel labels, partner id and partner name are hostile, run end to end,
    with hostile values in rejected rows too."""
    d = tmp_path_factory.mktemp("hostile")
    write_sample(d, journeys=600, seed=3)
    events = pl.read_parquet(d / "events.parquet")
    events = events.with_columns(pl.col("channel").replace(HOSTILE_LABELS))
    events = events.with_columns(pl.col("channel").str.replace("partner:DE-0107", "partner:-DE-0107", literal=True))
    hostile_rows = {"user_id": ["=u1", "u2", None, "u3"], "event_time": events["event_time"][:4],
                    "event_type": ["touch", "=HYPERLINK(1)", "touch", "conversion"], "channel": ["", "x", "y", None],
                    "country": ["DE"] * 4, "order_id": [None, None, None, "@o"], "gmv": [None, None, None, "-5"],
                    "currency": [None, None, None, "EUR"], "margin": [None, None, None, "1"]}
    bad = pl.DataFrame({c: hostile_rows.get(c, [None] * 4) for c in events.columns}, schema=events.schema)
    pl.concat([events, bad]).write_parquet(d / "events.parquet")
    for name in ("partners.csv", "sales.csv"):
        text = (d / name).read_text(encoding="utf-8").replace("DE-0107", "-DE-0107")
        (d / name).write_text(text.replace("Otto Marketplace", "@Otto\x07 \u202eMarket"), encoding="utf-8")
    out = d / "run"
    res = CliRunner().invoke(cli, ["run", "--config", str(d / "run.toml"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    return {"dir": d, "out": out}


NUMERIC = {
    "attribution.csv": {"conversions", "gmv", "share", "std_error", "ci_low", "ci_high", "bootstrap_low",
                        "bootstrap_high"},
    "models.csv": {"conversions", "gmv", "share"},
    "positions.csv": {"position", "conversions", "gmv"},
    "payouts.csv": {"attributed_gmv", "gamma", "compensation", "referral_gmv", "beta", "referral_commission", "sales",
                    "sales_target", "rho", "rebate", "coop", "total_payable", "attributed_gmv_low",
                    "attributed_gmv_high"},
    "kpis.csv": {"value"},
    "rejects.csv": {"row"},
}


def test_every_csv_cell_of_the_run_is_safe(hostile_run):
    out = hostile_run["out"]
    csvs = sorted(p.name for p in out.glob("*.csv"))
    assert {"attribution.csv", "payouts.csv", "kpis.csv", "rejects.csv"} <= set(csvs)
    for name in csvs:
        assert_safe_csv(name, (out / name).read_bytes(), NUMERIC.get(name, set()))


def test_hostile_values_are_kept_visible(hostile_run):
    """Neutralised, not dropped: the apostrophe and the escapes keep every character readable."""
    out = hostile_run["out"]
    channels = {r[3] for r in cells((out / "attribution.csv").read_bytes())[1:]}
    assert "'" + HOSTILE_LABELS["paid_search"] in channels
    assert "'-2+3" in channels and "'@SUM(1+1)" in channels
    assert "display" in channels and "affiliate" in channels  # blanks around a label are trimmed on input
    assert "vid\\x00eo\\x07\\u202eoediv" in channels
    assert "a > b" in channels  # one channel, its label whole
    payouts = {r[1]: r for r in cells((out / "payouts.csv").read_bytes())[1:]}
    assert "'-DE-0107" in payouts
    assert payouts["'-DE-0107"][2] == "'@Otto\\x07 \\u202eMarket"
    rejects = cells((out / "rejects.csv").read_bytes())
    values = {r[3] for r in rejects[1:]}
    assert "'=HYPERLINK(1)" in values and "'-5" in values


def test_manifest_text_is_escaped_json(hostile_run):
    raw = (hostile_run["out"] / "manifest.json").read_bytes()
    assert all(b >= 0x20 or b == 0x0A for b in raw), "raw control bytes in manifest.json"
    json.loads(raw)  # and it is still JSON


def test_report_escapes_hostile_labels(hostile_run):
    report = hostile_run["out"] / "report.html"
    if not report.exists():
        pytest.skip("this run writes no report.html")
    d = hostile_run["dir"]
    events = pl.read_parquet(d / "events.parquet")
    events = events.with_columns(pl.col("channel").str.replace("a > b", "<script>alert(1)</script>", literal=True))
    events.write_parquet(d / "events_xss.parquet")
    out = d / "run_xss"
    res = CliRunner().invoke(cli, ["run", "--config", str(d / "run.toml"), "--events", str(d / "events_xss.parquet"),
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html


# --- the path separator inside a label cannot change a journey ----------------------------------------
EVENTS = """user_id,event_time,event_type,channel,country,order_id,gmv,currency
u1,2026-10-01T10:00:00Z,touch,{x},DE,,,
u1,2026-10-01T11:00:00Z,touch,b,DE,,,
u1,2026-10-02T10:00:00Z,conversion,,DE,o1,100.00,EUR
u2,2026-10-03T10:00:00Z,touch,a,DE,,,
u2,2026-10-03T11:00:00Z,conversion,,DE,o2,50,EUR
u3,2026-10-04T10:00:00Z,touch,{x},DE,,,
u3,2026-10-04T11:00:00Z,conversion,,DE,o3,30,EUR
u4,2026-10-05T10:00:00Z,touch,b,DE,,,
"""


@pytest.mark.parametrize("model", ["shapley", "linear", "first", "markov"])
def test_separator_in_a_label_is_one_channel(tmp_path, model):
    """Renaming a channel to a label containing ' > ' changes nothing but its name."""
    results = {}
    for label in ("ab", "a > b"):
        p = tmp_path / f"events_{len(label)}.csv"
        p.write_text(EVENTS.format(x=label))
        res = CliRunner().invoke(cli, ["attribute", str(p), "--model", model, "--format", "json", "-q"])
        assert res.exit_code == 0, res.output
        rows = json.loads(res.stdout)
        results[label] = {r["channel"]: (r["conversions"], r["gmv"]) for r in rows}
    renamed = {("ab" if k == "a > b" else k): v for k, v in results["a > b"].items()}
    assert "a > b" in results["a > b"] and "a" in results["a > b"] and "b" in results["a > b"]
    assert renamed == results["ab"]


# --- the neutraliser itself ----------------------------------------------------------------------------
@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.text(max_size=20))
def test_safe_text_is_safe_and_vectorised_twin_agrees(text):
    out = safe_text(text)
    assert not out.startswith(FORMULA_START)
    assert not UNSAFE.search(out)
    assert pl.select(neutralise_expr(pl.lit(text))).item() == out
    if not text.startswith(FORMULA_START) and not UNSAFE.search(text):
        assert out == text  # harmless text is written as is


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=8), min_size=1, max_size=6))
def test_csv_writers_neutralise_every_text_cell(values):
    """The output files' two writers (a frame's, ``tables.frame_csv``, and formatted rows',
    ``csv_bytes``) make every cell of a text column safe and agree cell for cell."""
    frame = pl.DataFrame({"channel": values, "amount": [-1.5] * len(values)})
    data = frame_csv(frame)
    rows = cells(data)
    assert [r[0] for r in rows[1:]] == [safe_text(v) for v in values]
    assert all(r[1] == "-1.5" for r in rows[1:])  # numbers are not text cells
    data2 = csv_bytes(["channel", "amount"], [[v, "-1.5"] for v in values], {"channel"})
    assert cells(data2) == rows  # the two writers agree cell for cell (they quote an empty cell differently)


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(st.lists(st.tuples(st.text(max_size=6), st.one_of(st.none(), st.text(max_size=6)),
                          st.sampled_from(["source.csv", "missing user_id", "=x", "a\x00b"])), min_size=1, max_size=8))
def test_columns_needing_no_care_are_skipped_with_the_same_result(rows):
    frame = pl.DataFrame(rows, schema={"a": pl.Utf8, "b": pl.Utf8, "c": pl.Utf8}, orient="row")
    every_cell = frame.with_columns(neutralise_expr(pl.col(c)).alias(c) for c in frame.columns)
    assert safe_columns(frame, frame.columns).equals(every_cell)  # nulls stay nulls
    harmless = [c for c in frame.columns
                if not any(v is not None and (v.startswith(FORMULA_START) or UNSAFE.search(v))
                           for v in frame.get_column(c).to_list())]
    if harmless:  # nothing to change: the frame itself comes back
        only = frame.select(harmless)
        assert safe_columns(only, harmless) is only


def test_safe_frames_are_written_unchanged():
    frame = pl.DataFrame({"channel": ["email", "paid_search", "partner:DE-0042", "(direct)"], "gmv": [1.0, 2.5, -3.0, 0.0]})
    assert frame_csv(frame) == frame.write_csv().encode("utf-8")


def test_csv_of_attribute_command_is_safe(tmp_path):
    p = tmp_path / "events.csv"
    p.write_text(EVENTS.format(x="=1+2"))
    for fmt in ("csv",):
        out = tmp_path / f"credits.{fmt}"
        rejects = tmp_path / "rejects.csv"
        res = CliRunner().invoke(cli, ["attribute", str(p), "--out", str(out), "--rejects", str(rejects), "-q"])
        assert res.exit_code == 0, res.output
        assert_safe_csv("credits", out.read_bytes(), {"conversions", "gmv", "share", "std_error", "ci_low", "ci_high"})
        assert "'=1+2" in out.read_text()
