"""Every finance and programme input problem listed at once; gross margin and min profit in whole
minor units (battery 4: F6, the second half of F5).

- F6(a): the finance files (partners, sales, FX, co-op) were raised before spend.csv, map.csv and
  prices.csv were read, so a bad sales cell hid a bad spend and a bad MAP price. All are now one
  error; a check that needs a file that could not be read is skipped instead of reporting a
  consequence of it (every sales row an unknown partner, every currency a missing rate).
- F6(b): spend in USD and CHF with no last-day rate for either named only CHF; two partner currencies
  without a rate showed only the first (the others were at the same file, row and column). Each
  missing currency is now an issue at the row that first needs it.
- F5: ``gross_margin`` (sales.csv) and ``min_profit`` (partners.csv) finer than the currency's minor
  unit were accepted, though the participation check compares them with payouts in whole minor units.
"""
from __future__ import annotations

import csv
import io
import re
import shutil
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from shapley_attr.errors import Issue
from shapley_attr.finance.programme_inputs import read_spend

from .test_finance_minor_units import PERIOD, invoke, sample_dir, set_cell, write  # noqa: F401

LAST_DAY = date(2026, 10, 31)


def copy_sample(sample_dir: Path, tmp_path: Path) -> Path:
    d = tmp_path / "in"
    shutil.copytree(sample_dir, d)
    return d


def refused(d: Path, tmp_path: Path) -> str:
    """stderr of a refused run of ``d`` (exit 2, nothing written); validate says the same."""
    res = invoke("run", "--config", d / "run.toml", "--out", tmp_path / "run")
    assert res.exit_code == 2, res.output
    assert "internal error" not in res.stderr and not (tmp_path / "run" / "payouts.csv").exists()
    check = invoke("validate", "--config", d / "run.toml")
    assert check.exit_code == 2 and check.stderr == res.stderr
    return res.stderr


# --- F6(a): one error for every input -----------------------------------------------------------------
def test_a_bad_sales_row_no_longer_hides_spend_and_map_problems(sample_dir, tmp_path):
    # battery 4's multi_err: was only "sales.csv, row 1, column 'sales'"
    d = copy_sample(sample_dir, tmp_path)
    cells = [("sales.csv", "sales", set_cell(d / "sales.csv", "partner_id", "DE-0042", "sales", "abc")),
             ("spend.csv", "spend", set_cell(d / "spend.csv", "channel", "email", "spend", "-1")),
             ("map.csv", "map_price", set_cell(d / "map.csv", "sku", "TV-55-OLED", "map_price", "0"))]
    err = refused(d, tmp_path)
    assert "and 2 more problem(s)" in err, err
    for name, col, row in cells:
        assert f"{name}, row {row}, column '{col}'" in err, (name, err)


def test_no_partners_file_makes_no_sales_row_an_unknown_partner(sample_dir, tmp_path):
    # was "file not found" and then every sales row "unknown partner"
    d = copy_sample(sample_dir, tmp_path)
    (d / "partners.csv").unlink()
    err = refused(d, tmp_path)
    assert err.strip() == f"error: {d / 'partners.csv'}: file not found", err


def test_no_fx_file_makes_no_spend_currency_a_missing_rate(sample_dir, tmp_path):
    # spend is read now that the finance files' problems wait for it: its GBP row needs a rate that an
    # unreadable FX file cannot have; saying so would only repeat the FX file's problem
    d = copy_sample(sample_dir, tmp_path)
    (d / "fx.csv").unlink()
    (d / "fx.csv").mkdir()
    err = refused(d, tmp_path)
    assert err.strip() == f"error: {d / 'fx.csv'}: is a directory, expected a CSV file", err


@pytest.mark.parametrize("name", ["partners.csv", "fx.csv"])
def test_a_file_saved_as_windows_1252_is_one_error_not_every_row_of_the_others(sample_dir, tmp_path, name):
    """A partners (FX) file saved by a spreadsheet in Windows-1252 stops its reader at the first accented
    byte, an issue at that row, not at row 0: every sales row was then also an unknown partner (every
    partner currency a missing rate)."""
    d = copy_sample(sample_dir, tmp_path)
    text = (d / name).read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    lines[1] = lines[1].replace(",", ",Caf\u00e9 ", 1) if name == "partners.csv" else lines[1]
    lines.append("2026-10-31,XXX,1.0 caf\u00e9\n" if name == "fx.csv" else "")
    (d / name).write_bytes("".join(lines).encode("cp1252"))
    err = refused(d, tmp_path)
    assert err.startswith(f"error: {d / name}, row ") and "not UTF-8 text" in err, err
    assert "more problem" not in err and "unknown partner" not in err and "no FX rate" not in err, err


def test_a_partners_file_saved_with_semicolons_and_decimal_commas_says_so(sample_dir, tmp_path):
    """A spreadsheet in a locale whose decimal mark is a comma saves "CSV" with semicolons: the error
    listed the missing columns beside one column named 'partner_id;partner_name;...'; with commas but
    decimal commas kept (quoted), each number was "expected a decimal number" alone."""
    d = copy_sample(sample_dir, tmp_path)
    rows = list(csv.reader(io.StringIO((d / "partners.csv").read_text(encoding="utf-8"))))
    german = [rows[0]] + [[c.replace(".", ",") if re.fullmatch(r"[0-9]+\.[0-9]+", c) else c for c in r]
                          for r in rows[1:]]
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\r\n").writerows(german)
    (d / "partners.csv").write_text(out.getvalue(), encoding="utf-8")
    err = refused(d, tmp_path)
    assert err.startswith(f"error: {d / 'partners.csv'}, column 'partner_id': missing column(s)"), err
    assert "(the header is separated by semicolons" in err and "expected commas, and decimal points)" in err, err
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(german)  # commas between fields, quoted decimal commas
    (d / "partners.csv").write_text(out.getvalue(), encoding="utf-8")
    err = refused(d, tmp_path)
    assert ("column 'gamma': expected a number between 0 and 1 (a comma in a number (a decimal comma or a thousands "
            "separator): expected digits and a decimal point only, as 1234.50) (got '0,08')") in err, err
    assert "missing column" not in err
    shutil.copy(sample_dir / "partners.csv", d / "partners.csv")
    row = set_cell(d / "sales.csv", "partner_id", "DE-0042", "sales", "196,503.86")  # a thousands separator
    err = refused(d, tmp_path)
    assert err.startswith(f"error: {d / 'sales.csv'}, row {row}, column 'sales': expected a decimal number >= 0 "
                          "(a comma in a number (a decimal comma or a thousands separator)"), err


def test_a_header_spelt_otherwise_names_the_spelling(sample_dir, tmp_path):
    """Partner_ID or ' gamma' (a space a tool left) read as missing columns, the column list alone to go by."""
    d = copy_sample(sample_dir, tmp_path)
    text = (d / "partners.csv").read_text(encoding="utf-8")
    (d / "partners.csv").write_text(text.replace("partner_id,", "Partner_ID,", 1).replace(",gamma,", ", gamma,", 1),
                                    encoding="utf-8")
    err = refused(d, tmp_path)
    where = f"error: {d / 'partners.csv'}, column 'partner_id': "
    assert err.startswith(where + "missing column(s) partner_id, gamma;"), err
    assert "(names are exact, in lower case: 'Partner_ID' for partner_id, ' gamma' for gamma)" in err, err


# --- F6(b): every missing last-day rate -----------------------------------------------------------------
def test_spend_names_every_currency_without_a_last_day_rate(tmp_path):
    spend = write(tmp_path / "spend.csv", ["period,channel,currency,spend", "2026-10,tv,EUR,10.00",
                                           "2026-10,email,USD,10", "2026-10,social,CHF,10",
                                           "2026-10,display,USD,5", "2026-10,video,GBP,1",
                                           "2026-09,tv,JPY,100"])  # another period's row needs no rate
    issues: list[Issue] = []
    got, by_currency, _ = read_spend(spend, PERIOD, "EUR", {(LAST_DAY, "GBP"): D("1.2")}, "fx.csv", issues)
    assert (got, by_currency) == (None, None)
    assert [(i.source, i.row, i.column, i.value) for i in sorted(issues)] == [
        (str(spend), 2, "currency", "USD"), (str(spend), 3, "currency", "CHF")]
    assert "missing FX rate for USD on 2026-10-31 (the period's last day) in fx.csv" in sorted(issues)[0].reason
    assert "expected a row '2026-10-31,CHF,<rate>'" in sorted(issues)[1].reason


def test_spend_without_rates_is_not_checked_against_an_unread_fx_file(tmp_path):
    spend = write(tmp_path / "spend.csv", ["period,channel,currency,spend", "2026-10,email,USD,10"])
    issues: list[Issue] = []
    assert read_spend(spend, PERIOD, "EUR", None, "fx.csv", issues)[:2] == (None, None) and issues == []


def test_run_names_every_spend_currency_without_a_rate(sample_dir, tmp_path):
    # battery 4's spend_usd: was only CHF
    d = copy_sample(sample_dir, tmp_path)
    lines = (d / "spend.csv").read_text(encoding="utf-8").splitlines()
    (d / "spend.csv").write_text("\n".join(lines + ["2026-10,email,USD,10", "2026-10,social,CHF,10"]) + "\n",
                                 encoding="utf-8")
    err = refused(d, tmp_path)
    usd, chf = len(lines), len(lines) + 1  # data rows: the header is row 0
    assert f"spend.csv, row {usd}, column 'currency': missing FX rate for USD on 2026-10-31" in err, err
    assert f"spend.csv, row {chf}, column 'currency': missing FX rate for CHF on 2026-10-31" in err, err


def test_run_names_every_partner_currency_without_a_rate(sample_dir, tmp_path):
    # only JPY was shown: KWD's issue had the same file, row and column (fx.csv, row 0), so the error
    # message left it out as a repeat of the first
    d = copy_sample(sample_dir, tmp_path)
    fx = [ln for ln in (d / "fx.csv").read_text(encoding="utf-8").splitlines()
          if not ln.startswith(("2026-10-31,JPY", "2026-10-31,KWD"))]
    (d / "fx.csv").write_text("\n".join(fx) + "\n", encoding="utf-8")
    err = refused(d, tmp_path)
    text = (d / "partners.csv").read_text(encoding="utf-8")
    rows = {rec["partner_id"]: i for i, rec in enumerate(csv.DictReader(io.StringIO(text, newline="")), start=1)}
    for pid, ccy in (("JP-0007", "JPY"), ("KW-0003", "KWD")):
        assert (f"partners.csv, row {rows[pid]}, column 'currency': missing FX rate for {ccy} on 2026-10-31 "
                f"(the period's last day) in {d / 'fx.csv'}, needed to pay partner {pid}") in err, err


# --- F5: gross_margin and min_profit --------------------------------------------------------------------
@pytest.mark.parametrize("name,col,pid,value,ccy,places", [
    ("sales.csv", "gross_margin", "DE-0042", "26309.675", "EUR", 2),
    ("sales.csv", "gross_margin", "JP-0007", "4306162.5", "JPY", 0),
    ("sales.csv", "gross_margin", "KW-0003", "-10182.6775", "KWD", 3),  # a loss is a margin too
    ("partners.csv", "min_profit", "DE-0042", "15785.805", "EUR", 2),
    ("partners.csv", "min_profit", "JP-0007", "2583697.5", "JPY", 0),
    ("partners.csv", "min_profit", "KW-0003", "6109.6065", "KWD", 3),
])
def test_margins_and_floors_finer_than_the_minor_unit_are_refused(sample_dir, tmp_path, name, col, pid, value,
                                                                  ccy, places):
    d = copy_sample(sample_dir, tmp_path)
    row = set_cell(d / name, "partner_id", pid, col, value)
    err = refused(d, tmp_path)
    assert f"{name}, row {row}, column '{col}': expected at most {places} decimals for {ccy}" in err, err
