"""report.html says why a figure is missing or unknown, and a very long channel label keeps it small.

PROGRAMME.md: Π is never guessed. A run with programme inputs leaves it out when a conversion has no
margin (manifest ``programme.margins.reported`` false) or a partner has no sales row (its gross margin is
unknown: payouts.csv's ``below_min_profit`` empty, manifest ``payouts.min_profit_unchecked``); the page
says which, and shows such a partner's participation as not checked, never as ok.
"""
from __future__ import annotations

import csv
import re

import pytest

from shapley_attr.report import render_report

from .test_report import FULL, copy_run, edit_manifest, section, text_of
from .test_report_kpi_scopes import table_cells

PROFIT_ROWS = ("programme_profit", "d2c_profit", "partners_profit")
MARGINS = {"by_currency": {"EUR": "2237.500000"}, "conversions_without_margin": 3, "d2c_gross_margin": None,
           "rates_last_day": {}, "reported": False}
SPEND = {"by_currency": {"email": {"EUR": "150.00"}}, "reporting": {"email": "150.00"}}


def rewrite_csv(path, change) -> None:
    """Rewrite a CSV file of the run: ``change(list of row dicts)`` returns the rows to write."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        columns, rows = reader.fieldnames, list(reader)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(change(rows))


def drop_kpis(run_dir, *names: str) -> None:
    rewrite_csv(run_dir / "kpis.csv", lambda rows: [r for r in rows if r["kpi"].removesuffix("_last_touch")
                                                    not in names])


def profit_block(page: str) -> str:
    """The programme section's profit part: its heading up to the next heading."""
    programme = section(page, "programme")
    match = re.search(r"<h3>Profit in EUR</h3>(.*?)(<h3>|$)", programme, flags=re.S)
    assert match, text_of(programme)
    return text_of(match.group(1))


# --- 1. why Π is missing ---------------------------------------------------------------------------
def test_a_conversion_without_margin_is_named_where_profit_would_be(tmp_path):
    run_dir = copy_run(FULL, tmp_path)
    drop_kpis(run_dir, *PROFIT_ROWS, "attributed_margin")  # as run writes it (never guessed)
    edit_manifest(run_dir, lambda m: m.update(programme={"margins": MARGINS, "spend": SPEND, "map": None}))
    page = render_report(run_dir).decode()
    assert profit_block(page) == ("Profit Π, Π_D2C, Σ Π_Ri and the attributed margins not reported: "
                                  "3 conversions of the run have no margin.")
    assert 'id="programme-totals"' not in page and "no sales row" not in page
    # with margins but no spend nor MAP, the section still says why (it once said "not in this run")
    edit_manifest(run_dir, lambda m: m.update(programme={"margins": {**MARGINS, "conversions_without_margin": 1},
                                                         "spend": None, "map": None}))
    rewrite_csv(run_dir / "kpis.csv", lambda rows: [r for r in rows if r["kpi"] != "spend"
                                                    and not r["kpi"].startswith(("roas", "cpa"))])
    (run_dir / "map_compliance.csv").unlink()
    page = render_report(run_dir).decode()
    assert profit_block(page).endswith("not reported: 1 conversion of the run has no margin.")
    assert "not in this run" not in section(page, "programme")


def test_no_margin_column_is_named_when_the_run_has_other_programme_inputs(tmp_path):
    run_dir = copy_run(FULL, tmp_path)
    drop_kpis(run_dir, *PROFIT_ROWS, "attributed_margin")
    edit_manifest(run_dir, lambda m: m.update(programme={"margins": None, "spend": SPEND, "map": None}))
    assert profit_block(render_report(run_dir).decode()) == "Profit Π not reported: the events have no margin column."


def test_no_programme_input_at_all_says_so_once(tmp_path):
    run_dir = copy_run(FULL, tmp_path)
    rewrite_csv(run_dir / "kpis.csv",
                lambda rows: [r for r in rows if r["kpi"] in ("d2c_share_of_gmv", "sell_through")])
    (run_dir / "map_compliance.csv").unlink()
    edit_manifest(run_dir, lambda m: m.update(programme={"margins": None, "spend": None, "map": None}))
    programme = text_of(section(render_report(run_dir).decode(), "programme"))
    assert programme == ("Programme Programme figures (spend, margins, MAP): not in this run; they appear when the "
                         "run is given spend, margin or MAP inputs.")


def partner_without_sales_row(run_dir, pid: str = "DE-0042", manifest_key: bool = True) -> None:
    """What run writes since a partner without a sales row has no guessed gross margin."""
    drop_kpis(run_dir, "programme_profit", "partners_profit")
    rewrite_csv(run_dir / "payouts.csv", lambda rows: [{**r, "below_min_profit": ""} if r["partner_id"] == pid
                                                       else r for r in rows])
    edit_manifest(run_dir, lambda m: m.update(programme={"margins": {**MARGINS, "conversions_without_margin": 0,
                                                                     "d2c_gross_margin": "3717.36",
                                                                     "reported": True},
                                                         "spend": SPEND, "map": None}))
    if manifest_key:
        edit_manifest(run_dir, lambda m: m["payouts"].update(min_profit_unchecked=[pid]))


def test_a_partner_without_sales_row_is_named_where_profit_would_be(tmp_path):
    run_dir = copy_run(FULL, tmp_path)
    partner_without_sales_row(run_dir)
    page = render_report(run_dir).decode()
    assert profit_block(page) == ("D2C profit Π_D2C -12,906.53 Programme profit Π and partners' profit Σ Π_Ri not "
                                  "reported: no sales row for DE-0042, so its gross margin is unknown.")
    assert "margin column" not in page and "have no margin" not in page


# --- 2. participation not checked --------------------------------------------------------------------
def payouts_row(page: str, pid: str) -> tuple[str, str]:
    """(the row's class, its Participation cell's badges) of ``pid`` in the payouts table."""
    row = re.search(rf'<tr class="([^"]*)"><th scope="row" class="mono">{pid}</th>.*?'
                    r'<td class="status">(.*?)\s*</td></tr>', section(page, "partners"))
    assert row, pid
    return row.groups()


@pytest.mark.parametrize("manifest_key", [True, False], ids=["manifest", "older-manifest"])
def test_participation_of_a_partner_without_sales_row_is_not_checked_never_ok(tmp_path, manifest_key):
    run_dir = copy_run(FULL, tmp_path)
    partner_without_sales_row(run_dir, manifest_key=manifest_key)
    page = render_report(run_dir).decode()
    assert payouts_row(page, "DE-0042") == ("flagged", '<span class="badge unknown">not checked: no sales row</span>')
    body = text_of(section(page, "partners"))
    assert ("Below the participation floor (gross margin + total payable < min profit; flagged, not paid extra): "
            "GB-0021. Participation floor not checked (no sales row, so the gross margin is unknown; neither "
            "flagged nor cleared): DE-0042.") in body


def test_unchecked_partners_from_the_manifest_alone(tmp_path):
    # a manifest that lists the partner, a payouts.csv cell that says nothing either way
    run_dir = copy_run(FULL, tmp_path)
    edit_manifest(run_dir, lambda m: m["payouts"].update(min_profit_unchecked=["FR-0013"]))
    page = render_report(run_dir).decode()
    assert "neither flagged nor cleared): FR-0013." in text_of(section(page, "partners"))
    assert payouts_row(page, "FR-0013") == ("flagged", '<span class="badge unknown">not checked: no sales row</span>')


def test_nothing_unchecked_says_nothing(tmp_path):
    run_dir = copy_run(FULL, tmp_path)
    edit_manifest(run_dir, lambda m: m["payouts"].update(min_profit_unchecked=[]))
    page = render_report(run_dir).decode()
    assert "not checked" not in page and "not reported" not in page and "badge unknown" not in section(page, "partners")


# --- 3. a very long channel label ----------------------------------------------------------------------
LONG = ("<i>newsletter & co</i>/" + "abcdefghij" * 2000)[:20_000 - 11] + "-DE-2026-10"  # ends distinctly


def test_chart_label_cuts_in_the_middle():
    from shapley_attr.report.charts import ELLIPSIS, LABEL_MAX, LABEL_TAIL, chart_label

    assert len(LONG) == 20_000
    drawn = chart_label(LONG)
    assert len(drawn) == LABEL_MAX and drawn == LONG[:LABEL_MAX - 1 - LABEL_TAIL] + ELLIPSIS + LONG[-LABEL_TAIL:]
    assert chart_label("x" * LABEL_MAX) == "x" * LABEL_MAX and chart_label("paid_search") == "paid_search"
    assert chart_label("a\nb\r\nc") == "a b  c"  # one line


def test_a_20000_character_label_keeps_the_report_small_and_whole_in_the_tables(tmp_path):
    run_dir = copy_run(FULL, tmp_path)
    for name in ("attribution.csv", "models.csv", "kpis.csv"):
        rewrite_csv(run_dir / name, lambda rows: [{k: (LONG if k in ("channel", "scope") and v == "email" else v)
                                                   for k, v in r.items()} for r in rows])
    page = render_report(run_dir)
    assert render_report(run_dir) == page  # deterministic
    html = page.decode()
    assert len(page) < 300_000, len(page)
    charts = re.findall(r"<svg.*?</svg>", html, flags=re.S)
    assert len(charts) == 2
    for svg in charts:
        assert len(svg) < 120_000, len(svg)  # was 1.7 MB each
        # the whole label, escaped, as the tooltip of the one label cut short
        assert svg.count("<title>") == 1 and "<title>&lt;i&gt;newsletter &amp; co&lt;/i&gt;/abcdefghij" in svg
        assert f"{LONG[-40:]}</title>" in svg
    cells = table_cells(html)
    assert {table for table, row, _, _ in cells if row[0].removesuffix(" no journeys") == LONG} == {
        "credits-table", "models-table", "programme-channels"}
    assert "<i>" not in html
