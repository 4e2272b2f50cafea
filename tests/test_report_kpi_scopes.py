"""report.html files each kpis.csv row by its KPI name, never by what its scope looks like.

A scope is any string: a spend.csv channel written as a partner id (``DE-0042``), or a touch label
equal to a country code (``DE``), once made its figures vanish or land in another table. Each figure
here is unique, so "shown once, where its name says" can be checked cell by cell.
"""
from __future__ import annotations

import csv
import re

from shapley_attr.report import render_report

from .test_report import FULL, copy_run, section, text_of

CHANNEL = {"spend": "Spend", "roas": "ROAS", "cpa": "CPA", "attributed_margin": "Attributed margin",
           "roas_last_touch": "ROAS (last touch)", "cpa_last_touch": "CPA (last touch)",
           "attributed_margin_last_touch": "Attributed margin (last touch)"}
PARTNER = {"sell_through": "Sell-through", "partner_attributed_share": "Attributed share",
           "payout_cost_share": "Payout cost / attributed GMV"}
TOTALS = {"programme_profit": "Programme profit Π", "d2c_profit": "D2C profit Π_D2C",
          "partners_profit": "Partners' profit Σ Π_Ri"}
COLLIDING = [
    ("spend", "DE-0042"), ("roas", "DE-0042"), ("cpa_last_touch", "DE-0042"),  # a channel named as a partner id
    ("spend", "DE"), ("attributed_margin", "DE"),  # a channel named as a country
    ("sell_through", "XX-0001"),  # a partner that payouts.csv does not list
    ("new_ratio", "DE"), ("new_ratio", "*"),  # a KPI the report does not know
    ("d2c_share_of_gmv", "FR"),  # a repeated row
]


def table_cells(html: str) -> list[tuple[str, list[str], str | None, str]]:
    """(table id, row's cells, column header, cell text) of every cell of every table with an id; the header
    is None in a table without a header row, or past a header's cells that span columns."""
    out = []
    for m in re.finditer(r'<table[^>]*\sid="([^"]+)"[^>]*>(.*?)</table>', html, flags=re.S):
        rows = [[text_of(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, flags=re.S)]
                for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", m.group(2), flags=re.S)]
        header = rows[0] if "<thead>" in m.group(2) else None
        out += [(m.group(1), row, header[i] if header and i < len(header) else None, cell)
                for row in rows for i, cell in enumerate(row)]
    return out


def test_every_kpi_figure_is_shown_once_in_the_table_of_its_name(tmp_path):
    run_dir = copy_run(FULL, tmp_path)
    with (run_dir / "kpis.csv").open(newline="") as fh:
        rows = [(r["kpi"], r["scope"]) for r in csv.DictReader(fh)]
    rows += COLLIDING
    values = [f"0.{31415900 + i}" for i in range(len(rows))]  # digits found nowhere else on the page
    with (run_dir / "kpis.csv").open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["period", "kpi", "scope", "value"])
        writer.writerows(["2026-10", kpi, scope, v] for (kpi, scope), v in zip(rows, values))
    page = render_report(run_dir).decode()
    cells = table_cells(page)
    without_charts = re.sub(r"<svg.*?</svg>", "", page, flags=re.S)
    seen = set()
    for (kpi, scope), value in zip(rows, values):
        assert without_charts.count(value) == 1, (kpi, scope, value)
        found = [(table, row, header) for table, row, header, cell in cells if cell == value]
        repeated = (kpi, scope) in seen
        seen.add((kpi, scope))
        if kpi in CHANNEL:
            assert [(t, r[0].removesuffix(" no journeys"), h) for t, r, h in found] == [
                ("programme-channels", scope, CHANNEL[kpi])], (kpi, scope)
        elif kpi == "d2c_share_of_gmv" and not repeated:
            assert [(t, r[0], h) for t, r, h in found] == [("kpis-by-country", scope, "D2C share of GMV")], scope
        elif kpi in TOTALS:
            assert [(t, r[0]) for t, r, _ in found] == [("programme-totals", TOTALS[kpi])], kpi
        elif kpi in PARTNER and scope == "*":
            assert found == [] and f"Payout cost per attributed GMV {value}" in text_of(section(page, "kpis"))
        elif kpi in PARTNER and scope != "XX-0001":
            assert [(t, r[0], h) for t, r, h in found] == [("rates-table", scope, PARTNER[kpi])], (kpi, scope)
        else:  # unknown name, unknown partner, repeated row: as written, in its own table
            assert [(t, r, h) for t, r, h in found] == [("kpis-other", [kpi, scope, value], "Value")], (kpi, scope)
    channel_headers = next(row for table, row, _, _ in cells if table == "programme-channels")
    assert sorted(channel_headers[1:]) == sorted(CHANNEL.values())  # no country KPI column among them
