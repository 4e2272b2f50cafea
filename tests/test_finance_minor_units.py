"""Money inputs finer than the currency's minor unit, and CPA at spend 0 (battery 4: F1, F5, F8).

- F1: a ``sales_target`` (partners.csv) or ``sales`` (sales.csv) with more decimals than the partner's
  currency allows (EUR 2, JPY 0, KWD 3) was accepted; the rebate was computed from the unrounded value
  that payouts.csv prints rounded. It is refused like a co-op budget: exit 2, file, row, column.
- F5: the same for ``spend`` (spend.csv).
- F8: PROGRAMME.md: "a channel with spend 0 or no attributed conversions gets an empty cell"; CPA was
  ``0.00`` at spend 0.
"""
from __future__ import annotations

import csv
import io
import shutil
from decimal import Decimal as D
from pathlib import Path

import pytest
from click.testing import CliRunner

from shapley_attr.cli import cli
from shapley_attr.errors import Issue
from shapley_attr.finance.contracts import read_partners, read_sales
from shapley_attr.finance.programme import ChannelCredits, channel_kpi_rows
from shapley_attr.finance.programme_inputs import read_spend
from shapley_attr.sample import write_sample

PERIOD = "2026-10"
PARTNERS_HEADER = ("partner_id,partner_name,country,currency,channels,gamma,beta,rho,sales_target,min_profit,"
                   "coop_eligible,rounding,valid_from,valid_to,map_min_compliance")


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("sample")
    write_sample(d, journeys=300, seed=4)
    return d


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def set_cell(path: Path, key_col: str, key: str, col: str, value: str) -> int:
    """Rewrite one cell of the first row whose ``key_col`` is ``key``; returns its 1-based data row."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    header = rows[0]
    for i, r in enumerate(rows[1:], start=1):
        if r[header.index(key_col)] == key:
            r[header.index(col)] = value
            break
    else:
        raise AssertionError(f"no row with {key_col} {key} in {path}")
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return i


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- F1: sales_target and sales ------------------------------------------------------------------------
@pytest.mark.parametrize("name,col,pid,value,ccy,places", [
    ("partners.csv", "sales_target", "DE-0042", "169999.995", "EUR", 2),  # battery 4's mini_target: 99.995 EUR
    ("partners.csv", "sales_target", "JP-0007", "24000000.5", "JPY", 0),  # printed 100.00
    ("partners.csv", "sales_target", "KW-0003", "56000.0005", "KWD", 3),
    ("sales.csv", "sales", "DE-0042", "146164.815", "EUR", 2),
    ("sales.csv", "sales", "JP-0007", "23923125.5", "JPY", 0),
    ("sales.csv", "sales", "KW-0003", "56570.4285", "KWD", 3),
])
def test_sales_and_targets_finer_than_the_minor_unit_are_refused(sample_dir, tmp_path, name, col, pid, value, ccy,
                                                                 places):
    d = tmp_path / "in"
    shutil.copytree(sample_dir, d)
    row = set_cell(d / name, "partner_id", pid, col, value)
    res = invoke("validate", "--config", d / "run.toml")
    assert res.exit_code == 2, res.output
    assert f"{name}, row {row}, column '{col}'" in res.stderr, res.stderr
    assert f"expected at most {places} decimals for {ccy}" in res.stderr, res.stderr
    assert "internal error" not in res.stderr
    # a run writes nothing
    res = invoke("run", "--config", d / "run.toml", "--out", tmp_path / "run")
    assert res.exit_code == 2 and not (tmp_path / "run" / "payouts.csv").exists()


def test_whole_minor_units_are_accepted(tmp_path):
    # trailing zeros are no extra precision (as for co-op budgets): 170000.000 EUR is 170000.00; the
    # same for min_profit and gross_margin (battery 4, F5)
    partners = write(tmp_path / "partners.csv", [
        PARTNERS_HEADER,
        "P1,One,DE,EUR,partner:P1,0.1,0,0.01,170000.000,-15.500,false,half-even,,,",
        "P2,Two,JP,JPY,partner:P2,0.1,0,0.01,24000000,2583697,false,half-even,,,",
        "P3,Three,KW,KWD,partner:P3,0.1,0,0.01,56000.125,6109.606,false,half-even,,,"])
    issues: list[Issue] = []
    chosen, _, _ = read_partners(partners, PERIOD, issues)
    assert issues == [] and {p.partner_id: (p.sales_target, p.min_profit) for p in chosen} == {
        "P1": (D("170000"), D("-15.5")), "P2": (D("24000000"), D("2583697")), "P3": (D("56000.125"), D("6109.606"))}
    sales = write(tmp_path / "sales.csv", ["partner_id,period,sales,gross_margin", "P1,2026-10,100.50,-1.230",
                                           "P2,2026-10,100,1", "P3,2026-10,0.125,10182.677",
                                           # another period's row is not this period's money
                                           "P2,2026-09,100.5,1.5"])
    out, _ = read_sales(sales, PERIOD, {"P1", "P2", "P3"}, issues, {"P1": "EUR", "P2": "JPY", "P3": "KWD"})
    assert issues == [] and out == {"P1": (D("100.50"), D("-1.23")), "P2": (D("100"), D("1")),
                                    "P3": (D("0.125"), D("10182.677"))}


def test_read_sales_names_row_and_column(tmp_path):
    sales = write(tmp_path / "sales.csv", ["partner_id,period,sales,gross_margin", "P1,2026-10,100.005,1"])
    issues: list[Issue] = []
    read_sales(sales, PERIOD, {"P1"}, issues, {"P1": "EUR"})
    assert [(i.row, i.column, i.value) for i in issues] == [(1, "sales", "100.005")]
    assert "expected at most 2 decimals for EUR" in issues[0].reason


# --- F5: spend ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("line,places,ccy", [
    ("2026-10,email,EUR,12.3456789", 2, "EUR"),  # battery 4's spend_huge
    ("2026-10,display,KWD,0.0005", 3, "KWD"),
    ("2026-10,social,JPY,100.5", 0, "JPY"),
])
def test_spend_finer_than_the_minor_unit_is_refused(tmp_path, line, places, ccy):
    spend = write(tmp_path / "spend.csv", ["period,channel,currency,spend", "2026-10,tv,EUR,10.00", line])
    issues: list[Issue] = []
    read_spend(spend, PERIOD, "EUR", {}, "fx.csv", issues)  # a refused row needs no FX rate
    assert [(i.row, i.column) for i in issues] == [(2, "spend")], issues
    assert f"expected at most {places} decimals for {ccy}" in issues[0].reason


def test_spend_finer_than_the_minor_unit_stops_the_run(sample_dir, tmp_path):
    d = tmp_path / "in"
    shutil.copytree(sample_dir, d)
    row = set_cell(d / "spend.csv", "channel", "email", "spend", "12.3456789")
    res = invoke("validate", "--config", d / "run.toml")
    assert res.exit_code == 2, res.output
    assert f"spend.csv, row {row}, column 'spend'" in res.stderr, res.stderr
    assert "expected at most 2 decimals for EUR" in res.stderr


def test_spend_in_whole_minor_units_is_accepted(tmp_path):
    from datetime import date
    spend = write(tmp_path / "spend.csv", ["period,channel,currency,spend", "2026-10,tv,EUR,10.50",
                                           "2026-10,display,KWD,0.125", "2026-10,social,JPY,100",
                                           "2026-10,email,EUR,0.000"])
    fx = {(date(2026, 10, 31), "KWD"): D("3"), (date(2026, 10, 31), "JPY"): D("0.006")}
    issues: list[Issue] = []
    got, _, _ = read_spend(spend, PERIOD, "EUR", fx, "fx.csv", issues)
    assert issues == []
    assert got == {"display": D("0.375"), "email": D(0), "social": D("0.6"), "tv": D("10.50")}


# --- F8: CPA at spend 0 -----------------------------------------------------------------------------------
def test_cpa_is_empty_when_spend_is_zero():
    # organic_search in the sample: spend 0, conversions attributed under both models
    model = ChannelCredits({"organic_search": 12.5, "email": 4.0}, {"organic_search": 900.0, "email": 200.0})
    last = ChannelCredits({"organic_search": 10.0, "email": 5.0}, {"organic_search": 800.0, "email": 250.0})
    rows = channel_kpi_rows(PERIOD, "EUR", {"organic_search": D(0), "email": D("100.00")}, model, last)
    got = {(r[1], r[2]): r[3] for r in rows}
    assert got[("spend", "organic_search")] == "0.00"
    assert got[("roas", "organic_search")] == "" and got[("roas_last_touch", "organic_search")] == ""
    assert got[("cpa", "organic_search")] == "" and got[("cpa_last_touch", "organic_search")] == ""
    # a channel with spend keeps its CPA: 100 / 4 = 25.00, 100 / 5 = 20.00
    assert got[("cpa", "email")] == "25.00" and got[("cpa_last_touch", "email")] == "20.00"
