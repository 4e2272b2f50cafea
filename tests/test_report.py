"""report.html: the loader, the page's content, escaping, byte-identical rebuilds, and a real browser.

The run directories are hand-made fixtures (tests/fixtures/run_dir follows docs/run-directory.md;
run_dir_v0 is what the run wrote before that contract), copied to a temporary directory per test.
"""
from __future__ import annotations

import csv
import html as htmllib
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from shapley_attr.cli import cli
from shapley_attr.errors import InputError
from shapley_attr.report import REPORT_NAME, build_report, load_run, render_report

from . import _browser

FIXTURES = Path(__file__).parent / "fixtures"
FULL = FIXTURES / "run_dir"
OLD = FIXTURES / "run_dir_v0"
PARTNERS = ["DE-0042", "DE-0107", "FR-0013", "FR-0099", "GB-0021", "JP-0007", "KW-0003"]
# total_payable per currency (manifest payouts.totals_by_currency), as the page prints them.
TOTALS = {"EUR": "9,514.69", "GBP": "648.73", "JPY": "338,411", "KWD": "959.375"}
HOSTILE_NAME = "<script>alert('x')</script> Otto"


def copy_run(src: Path, tmp_path: Path, name: str = "run") -> Path:
    dst = tmp_path / name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("README.md", REPORT_NAME))
    return dst


def edit_manifest(run_dir: Path, change) -> None:
    path = run_dir / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True))


@pytest.fixture(scope="module")
def full_html(tmp_path_factory) -> str:
    run_dir = copy_run(FULL, tmp_path_factory.mktemp("full"))
    return render_report(run_dir).decode("utf-8")


def section(html: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}"[^>]*>(.*?)</section>', html, flags=re.S)
    assert match, section_id
    return match.group(1)


def text_of(fragment: str) -> str:
    """Visible text, roughly: tags dropped, entities decoded, whitespace collapsed."""
    return " ".join(htmllib.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


# --- loader -------------------------------------------------------------------------------------
def test_load_run_reads_the_documented_layout(tmp_path):
    run = load_run(copy_run(FULL, tmp_path))
    assert (run.tool, run.run_id, run.period, run.reporting_currency) == ("shapley_attr", "86d94005c348926e", "2026-10", "EUR")
    assert dict(run.engine) == {"name": "local"}
    assert run.model_value("model") == "hybrid" and run.model_value("alpha") == 0.5
    assert dict(run.choices)["samples"] == 48000 and dict(run.choices)["bootstrap.replicates"] == 200
    events = next(i for i in run.inputs if i.name == "events")
    assert (events.rows_read, events.rows_accepted, events.rows_rejected) == (6055, 6050, 5)
    assert events.sha256.startswith("80c262247aef")
    rec = run.reconciliation
    assert (rec.rows_read, rec.rows_accepted, rec.rows_rejected) == (6055, 6050, 5)
    assert [c.currency for c in rec.by_currency] == ["EUR", "GBP", "JPY", "KWD", "?"]
    eur = rec.by_currency[0]
    assert (eur.gmv_read, eur.gmv_rejected, eur.gmv_outside_run, eur.gmv_in_run) == ("7349.85", "-12.50", "378.90", "6983.45")
    assert rec.reporting.gmv_attributed == "12036.83" and rec.reporting.balanced is True
    totals = {t.currency: t.total_payable for t in run.payouts_summary.totals_by_currency}
    assert totals == {"EUR": "9514.69", "GBP": "648.73", "JPY": "338411", "KWD": "959.375"}
    assert [b.scope for b in run.payouts_summary.coop] == ["*", "DE", "FR", "IT", "JP", "KW"]
    assert run.payouts.column("partner_id") == PARTNERS
    assert run.models.has("model", "channel", "share") and run.map_compliance is not None
    assert run.positions is None  # ordered game only


def test_load_run_tolerates_an_older_manifest(tmp_path):
    run = load_run(copy_run(OLD, tmp_path))
    assert run.engine == () and run.models is None and run.map_compliance is None
    # reconciliation.rows is a sentence in the older layout: read as absent, not as a crash
    assert run.reconciliation is None
    assert run.payouts_summary.totals_by_currency[0].currency == "EUR"


@pytest.mark.parametrize("setup, message", [
    (lambda d: shutil.rmtree(d), "no such directory"),
    (lambda d: shutil.rmtree(d) or d.write_text("x"), "a file, not a directory"),
    (lambda d: (d / "manifest.json").unlink(), "manifest.json is missing"),
    (lambda d: (d / "manifest.json").write_text("{not json"), "unreadable manifest"),
    (lambda d: (d / "manifest.json").write_text("[1, 2]"), "expected a JSON object"),
])
def test_not_a_run_directory_is_an_input_error(tmp_path, setup, message):
    run_dir = copy_run(FULL, tmp_path)
    setup(run_dir)
    with pytest.raises(InputError, match=message):
        render_report(run_dir)


# --- content ------------------------------------------------------------------------------------
def test_header_names_period_model_engine_run_and_inputs(full_html):
    header = text_of(full_html.split('<section id="reconciliation">')[0])
    for expected in ("Period 2026-10", "Model hybrid", "Game rate", "α (Shapley weight) 0.5", "Method mc",
                     "Engine local", "Run id 86d94005c348926e", "Version 0.1.0", "Reporting currency EUR"):
        assert expected in header, expected
    for name, short in (("events", "80c262247aef"), ("partners", "be35e55dc17d"), ("fx", "abdb7c412f38")):
        assert re.search(rf"<th scope=\"row\">{name}</th>.*?{short}</td>", full_html), name
    assert "80c262247aef0" not in header  # short SHA-256 in the header (the full one is in the run details)


def test_reconciliation_per_currency_in_words(full_html):
    rec = text_of(section(full_html, "reconciliation"))
    assert "Reconciled: every currency balances" in rec
    assert "Event rows: 6,055 read = 6,050 accepted + 5 rejected balanced" in rec
    assert "EUR 76 7,349.85 3 -12.50 2 378.90 71 6,983.45 balanced" in rec
    assert "JPY 18 264,729 0 0 1 18,800 17 245,929 balanced" in rec
    assert "KWD 18 534.540 0 0.000 1 31.250 17 503.290 balanced" in rec
    assert "? (unreadable) 1 89.90 1 89.90 0 0.00 0 0.00 balanced" in rec
    assert "GMV of the run's conversions 12,036.83 = GMV attributed 12,036.83" in rec
    assert "NOT" not in rec


def test_unbalanced_currency_is_said_in_words_and_red(tmp_path):
    run_dir = copy_run(FULL, tmp_path)
    edit_manifest(run_dir, lambda m: m["reconciliation"]["by_currency"]["GBP"].update(balanced=False))
    rec = section(render_report(run_dir).decode(), "reconciliation")
    assert '<div class="verdict bad">NOT reconciled: GBP</div>' in rec
    assert re.search(r"<th scope=\"row\">GBP</th>.*?<span class=\"badge bad\">NOT balanced</span>", rec)


def test_figures_that_do_not_add_up_are_not_balanced_whatever_the_flag(tmp_path):
    run_dir = copy_run(FULL, tmp_path)
    edit_manifest(run_dir, lambda m: m["reconciliation"]["by_currency"]["JPY"].update(gmv_in_run="245928"))
    rec = text_of(section(render_report(run_dir).decode(), "reconciliation"))
    assert "NOT reconciled: JPY" in rec and "NOT balanced (the figures do not add up)" in rec


def test_credits_chart_and_table_with_both_intervals(full_html):
    credits = section(full_html, "credits")
    assert credits.count("<svg ") == 1 and 'aria-label="Credit per channel (GMV credit (EUR))"' in credits
    body = text_of(credits)
    assert "Monte Carlo 95% CI (GMV)" in body and "Bootstrap 95% (GMV)" in body
    assert "paid_search 23.76 2,961.80 24.6% 2,924.03 – 2,999.57 1,701.46 – 4,424.46" in body
    assert "Total 129.00 12,036.83 100.0%" in body
    rows = re.findall(r'<th scope="row" class="label"><span class="swatch \w+"></span>([^<]+)</th>', credits)
    assert rows[0] == "paid_search" and rows[-1] == "(direct)"  # largest credit first, as in the chart


def test_models_side_by_side(full_html):
    models = section(full_html, "models")
    assert models.count("<svg ") == 1
    body = text_of(models)
    assert "Channel last touch linear Markov Shapley (rate) hybrid α=0.5" in body
    assert "paid_search 27.6% 22.2% 15.7% 21.6% 24.6%" in body


def test_partners_every_component_flags_coop_and_totals(full_html):
    partners = section(full_html, "partners")
    for pid in PARTNERS:
        assert f'<th scope="row" class="mono">{pid}</th>' in partners
    body = text_of(partners)
    assert "KW-0003 Xcite Alghanim KW KWD 49.792 21.403 – 103.090 4.481 0.113 176.846 777.935 959.375 ± 0.147 (MC) ok" in body
    assert "JP-0007 Rakuten Ichiba JP JPY 59,465 13,713 – 123,989 4,163 1,487 0 332,761 338,411" in body
    assert re.search(r'<tr class="flagged"><th scope="row" class="mono">GB-0021</th>.*?below min profit', partners)
    for ccy, total in TOTALS.items():
        assert re.search(rf"<th scope=\"row\">{ccy}</th>(<td[^>]*>[^<]*</td>){{6}}<td class=\"num\">{total}</td>",
                         partners), ccy
    assert "IT EUR 400.00 0.00 400.00 no eligible credit: carried over" in body
    assert "* EUR 1,000.00 1,000.00 0.00 DE-0042 310.90; FR-0013 117.01" in body
    assert "MAP compliance" in body and "0.865385" in body


def test_kpis_programme_and_rejects(full_html):
    kpis = text_of(section(full_html, "kpis"))
    assert "Country D2C share of GMV" in kpis and "DE 0.013049" in kpis and "KW 0.007701" in kpis
    programme = text_of(section(full_html, "programme"))
    assert "Programme profit Π 225,362.34" in programme and "D2C profit Π_D2C -12,906.53" in programme
    assert "email 10.836930 10.764675 7.96 7.89 357.62 355.23" in programme
    assert "tv no journeys — — — — 0.00 0.00" in programme
    assert "FR-0013 52 7 0.865385" in programme
    rejects = text_of(section(full_html, "rejects"))
    assert "5 row(s) rejected" in rejects
    assert ("events.parquet gmv expected a finite decimal number >= 0 for a conversion's gmv 3 "
            "6045: '-12.50 ; 6046: abc ; 6048: '=HYPERLINK(\"http://evil\")") in rejects


WORST = {"partner_id": "DE-0042", "date": "2026-10-01", "sku": "HEADPH-NC", "price": "219.36", "currency": "EUR",
         "map_price": "249.00", "map_currency": "EUR", "relative_undercut": "0.119036", "prices_row": 1}


def test_map_section_lists_the_worst_violations_from_the_manifest(tmp_path):
    # PROGRAMME.md: the five worst violations (largest relative undercut) are listed in the report
    run_dir = copy_run(FULL, tmp_path)
    hostile = {**WORST, "partner_id": "=cmd()", "sku": "<b>TV</b>", "price": "1179.05", "map_price": "1299.00",
               "currency": "GBP", "relative_undercut": "0.092340", "prices_row": 34}
    edit_manifest(run_dir, lambda m: m.update(programme={"map": {"policy": "withhold", "below_minimum": [],
                                                                  "privileges_withheld": [],
                                                                  "worst_violations": [WORST, hostile]}}))
    page = render_report(run_dir).decode()
    programme = text_of(section(page, "programme"))
    assert "The 2 worst violations of the period" in programme
    assert "DE-0042 HEADPH-NC 2026-10-01 219.36 EUR 249.00 EUR 0.119036 1" in programme
    assert "'=cmd() <b>TV</b> 2026-10-01 1,179.05 GBP 1,299.00 EUR 0.092340 34" in programme
    assert "&lt;b&gt;TV&lt;/b&gt;" in page and "<b>TV" not in page
    edit_manifest(run_dir, lambda m: m["programme"]["map"].update(worst_violations=[]))
    assert "No price observation of the period was below its MAP." in text_of(section(render_report(run_dir).decode(),
                                                                                      "programme"))


def test_no_map_inputs_no_map_section(tmp_path):
    run_dir = copy_run(FULL, tmp_path)
    (run_dir / "map_compliance.csv").unlink()
    edit_manifest(run_dir, lambda m: m.update(programme={"map": None, "spend": None}))
    programme = section(render_report(run_dir).decode(), "programme")
    assert "Programme profit Π" in text_of(programme)
    assert "MAP" not in programme and "violation" not in programme


def test_missing_sections_say_not_in_this_run(tmp_path):
    run_dir = copy_run(FULL, tmp_path)
    for name in ("models.csv", "map_compliance.csv", "rejects.csv"):
        (run_dir / name).unlink()
    kpis = list(csv.DictReader((run_dir / "kpis.csv").open()))
    with (run_dir / "kpis.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, ["period", "kpi", "scope", "value"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(r for r in kpis if r["kpi"] in ("d2c_share_of_gmv", "sell_through"))
    page = render_report(run_dir).decode()
    assert "Models side by side (models.csv is not in this run): not in this run." in text_of(section(page, "models"))
    assert "Programme figures (spend, margins, MAP): not in this run" in text_of(section(page, "programme"))
    assert "Rejected rows: not in this run." in text_of(section(page, "rejects"))
    assert "DE 0.013049" in text_of(section(page, "kpis"))


def test_older_run_directory_renders_with_gaps_named(tmp_path):
    page = render_report(copy_run(OLD, tmp_path)).decode()
    assert "Reconciliation: not in this run." in text_of(section(page, "reconciliation"))
    assert "Models side by side (models.csv is not in this run)" in text_of(section(page, "models"))
    partners = text_of(section(page, "partners"))
    assert "JP-0007 Rakuten Ichiba JP JPY 59,465" in partners and "338,411" in partners
    assert "Engine not in this run" in text_of(page.split('<section id="reconciliation">')[0])
    assert section(page, "credits").count("<svg ") == 1


def test_a_manifest_alone_renders(tmp_path):
    run_dir = tmp_path / "bare"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text("{}")
    page = render_report(run_dir).decode()
    assert page.count("not in this run") >= 8 and "<svg" not in page


# --- escaping and self-containment ----------------------------------------------------------------
def test_hostile_text_is_escaped_everywhere(tmp_path, full_html):
    assert "<script" not in full_html.lower()
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; Otto" in full_html
    assert "&#39;=HYPERLINK(&#34;http://x&#34;)" in full_html  # as neutralised in payouts.csv
    # channels reach the chart too: labels are drawn as paths, never as markup or mathtext
    run_dir = copy_run(FULL, tmp_path)
    path = run_dir / "attribution.csv"
    text = path.read_text()
    text = text.replace(",email,", ',"</svg><script>alert(1)</script>",').replace(",video,", ",$\\frac{x$,")
    path.write_text(text)
    page = render_report(run_dir).decode()
    assert "<script" not in page.lower() and "</svg><" not in page.replace("</svg>\n</div>", "")
    assert "&lt;/svg&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page and "$\\frac{x$" in page


def test_no_network_reference_and_no_script(full_html):
    lowered = full_html.lower()
    for needle in ("<script", "<link", "<iframe", "<img", "@import", "src=", "url(http", "href=\"http", "@font-face"):
        assert needle not in lowered, needle
    hrefs = set(re.findall(r'href="([^"]*)"', full_html))
    assert all(h.startswith("#") for h in hrefs), hrefs
    assert "default-src 'none'" in full_html  # CSP: the browser refuses any fetch or script anyway


def test_same_directory_same_bytes_anywhere(tmp_path):
    a = copy_run(FULL, tmp_path, "a")
    b = copy_run(FULL, tmp_path / "elsewhere", "2026-10")
    first = render_report(a)
    assert render_report(a) == first
    assert render_report(b) == first  # the directory's own path is not on the page
    written = build_report(a)
    assert written == a / REPORT_NAME and written.read_bytes() == first
    assert build_report(a).read_bytes() == first  # an existing report.html is neither read nor kept
    assert [p.name for p in a.iterdir() if p.name.startswith(".")] == []  # no temporary file left
    assert re.findall(r'id="(credits-[^"]+)"', first.decode())  # chart ids prefixed per chart
    ids = re.findall(r'\sid="([^"]+)"', first.decode())
    assert len(ids) == len(set(ids))


def test_cli_report_command(tmp_path):
    run_dir = copy_run(FULL, tmp_path)
    result = CliRunner().invoke(cli, ["report", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == str(run_dir / REPORT_NAME)
    assert (run_dir / REPORT_NAME).read_bytes() == render_report(run_dir)
    missing = CliRunner().invoke(cli, ["report", str(tmp_path / "nope")])
    assert missing.exit_code == 2
    assert missing.stderr.strip() == f"error: {tmp_path / 'nope'}: not a run directory: no such directory"
    (tmp_path / "empty").mkdir()
    empty = CliRunner().invoke(cli, ["report", str(tmp_path / "empty")])
    assert empty.exit_code == 2 and "manifest.json is missing" in empty.stderr
    assert "report.html" in CliRunner().invoke(cli, ["report", "--help"]).output


def test_cli_and_attribute_do_not_import_the_report_libraries():
    code = ("import sys; from click.testing import CliRunner; from shapley_attr.cli import cli; "
            "r = CliRunner().invoke(cli, ['--help']); assert r.exit_code == 0; "
            "print(sorted(m for m in ('jinja2', 'matplotlib', 'tqdm', 'playwright') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_templates_are_package_data():
    import importlib.resources

    files = importlib.resources.files("shapley_attr.report") / "templates"
    assert (files / "report.html.j2").is_file() and (files / "report.css").is_file()


# --- a real browser ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    reason = _browser.unavailable_reason()
    if reason is not None:
        if _browser.in_ci():
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)
    with _browser.chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    run_dir = copy_run(FULL, tmp_path_factory.mktemp("browser"))
    return build_report(run_dir)


def test_browser_loads_report_offline_with_no_error_and_no_request(browser, report_file):
    loaded = _browser.open_file(browser, report_file)
    try:
        page = loaded.page
        assert loaded.requests == [loaded.url]  # the document itself, nothing else
        assert loaded.console_errors == [] and loaded.page_errors == []
        assert page.evaluate("document.querySelectorAll('script').length") == 0
        ids = page.locator("#payouts-table tbody th").all_inner_texts()
        assert ids == PARTNERS
        assert HOSTILE_NAME in page.locator("#payouts-table").inner_text()
        totals = {row[0]: row[-1] for row in page.evaluate(
            "[...document.querySelectorAll('#totals-by-currency tbody tr')]"
            ".map(tr => [...tr.children].map(c => c.textContent))")}
        assert totals == TOTALS
        assert page.locator(".verdict.ok").inner_text().startswith("Reconciled")
        assert page.evaluate("document.querySelectorAll('section svg').length") == 2
        width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert width[0] <= width[1], f"horizontal overflow at 1280 px: {width}"
        assert _browser.non_white_fraction(page.screenshot(full_page=True)) > 0.03
    finally:
        loaded.close()


def _printed_a4(browser, report: Path, check):
    """``check(page)`` on ``report`` laid out for print at A4's width less the page margins (718 CSS px)."""
    loaded = _browser.open_file(browser, report, width=718)
    try:
        loaded.page.emulate_media(media="print")
        return check(loaded.page)
    finally:
        loaded.close()


def _overflowing(page) -> list[str]:
    """The tables and charts that run past the printed page's right edge."""
    return page.evaluate("""[...document.querySelectorAll('table, .chart svg')]
        .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
        .map(e => e.id || e.tagName)""")


def test_browser_print_fits_a4(browser, report_file):
    assert _printed_a4(browser, report_file, _overflowing) == []
    pdf = _printed_a4(browser, report_file, lambda page: page.pdf(format="A4", print_background=True))
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b", pdf)) >= 3


def test_browser_print_fits_a4_with_long_partner_ids_and_large_amounts(browser, tmp_path):
    """The payouts and rates tables ran off the printed page (cut in a PDF) with a 34-character partner
    id (854 px at A4's 718) or a JPY partner's amounts of ten digits (790 px): a long id now breaks
    where it must, intervals and badges wrap at their spaces, wide tables print a point smaller. An
    id or an amount of a usual run keeps its line."""
    def edited(name: str, change) -> Path:
        run_dir = copy_run(FULL, tmp_path, name)
        path = run_dir / "payouts.csv"
        rows = list(csv.DictReader(io.StringIO(path.read_text())))
        for row in rows:
            change(row)
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        path.write_text(out.getvalue())
        edit_manifest(run_dir, lambda m: m.pop("output_sha256", None))
        return build_report(run_dir)

    amounts = ("attributed_gmv", "compensation", "referral_commission", "rebate", "coop", "total_payable")
    long_ids = edited("long_ids", lambda r: r.update(partner_id=r["partner_id"] + "_LONGIDENTIFIERWITHOUTSPACES"))
    large = edited("large", lambda r: r.update(dict.fromkeys(amounts, "1234567890")) if r["currency"] == "JPY" else None)
    for report in (long_ids, large):
        assert _printed_a4(browser, report, _overflowing) == [], report.parent.name

    def wrapped(page) -> list[str]:  # cells of the usual run laid out on more than one line
        return page.evaluate("""[...document.querySelectorAll('table.wide tbody th.mono, table.wide tbody td.num')]
            .filter(c => c.querySelector('.sub') === null)
            .filter(c => { const r = document.createRange(); r.selectNodeContents(c);
                           return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size > 1; })
            .map(c => c.textContent)""")
    assert _printed_a4(browser, build_report(copy_run(FULL, tmp_path, "usual")), wrapped) == []


def scaled_run(tmp_path: Path, k: int, name: str | None = None) -> Path:
    """The full fixture with every amount of payouts.csv and of the manifest's reconciliation and
    payout totals multiplied by 10^k (exact decimals: the sums still add up, the digits stay the
    currency's)."""
    from decimal import Decimal

    def scale(text):
        if not isinstance(text, str) or not re.fullmatch(r"-?\d+\.\d{2,3}", text):
            return text  # JPY's whole units and the rates (more digits) unchanged
        places = Decimal(1).scaleb(-len(text.split(".")[1]))
        return f"{Decimal(text).scaleb(k).quantize(places):f}"

    run_dir = copy_run(FULL, tmp_path, name or f"x10e{k}")
    path = run_dir / "payouts.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    amounts = ("attributed_gmv", "attributed_gmv_low", "attributed_gmv_high", "compensation", "referral_gmv",
               "referral_commission", "sales", "sales_target", "rebate", "coop", "total_payable")
    for row in rows:
        row.update({c: scale(row[c]) for c in amounts if c in row})
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue())

    def change(m):
        m.pop("output_sha256", None)
        for totals in [*m["reconciliation"]["by_currency"].values(), m["reconciliation"]["reporting"],
                       *m["payouts"]["totals_by_currency"].values()]:
            totals.update({key: scale(value) for key, value in totals.items()})
    edit_manifest(run_dir, change)
    return run_dir


def _landscape_sections(page) -> list[str]:
    return page.evaluate("[...document.querySelectorAll('section.landscape')].map(e => e.id)")


def _page_sizes(pdf: bytes) -> list[str]:
    """Each page of ``pdf`` as "portrait" or "landscape", from its MediaBox."""
    boxes = [[float(x) for x in box.split()] for box in re.findall(rb"/MediaBox\s*\[([^\]]*)\]", pdf)]
    return ["landscape" if x1 - x0 > y1 - y0 else "portrait" for x0, y0, x1, y1 in boxes]


@pytest.mark.parametrize("k, expected", [(0, []), (5, ["partners"]), (8, ["reconciliation", "partners"])])
def test_browser_print_puts_a_section_with_long_amounts_on_landscape_pages(browser, tmp_path, k, expected):
    """A EUR partner's 100 million (16 characters as printed) ran the payouts table past A4 portrait's
    edge, a 100-billion GMV the reconciliation table: cut in a PDF. Such a section now prints on
    landscape pages of its own, where every table fits; a usual run's pages stay portrait."""
    report = build_report(scaled_run(tmp_path, k))
    assert _printed_a4(browser, report, _landscape_sections) == expected
    # at portrait's width only the landscape sections' tables may run over; at landscape's none does
    over = _printed_a4(browser, report, lambda page: page.evaluate("""[...document.querySelectorAll('table')]
        .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
        .map(e => e.closest('section').id)"""))
    assert set(over) <= set(expected), over
    if k == 8:
        assert set(over) == set(expected), "the amounts are no longer too wide for portrait: raise k"
    loaded = _browser.open_file(browser, report, width=1047)  # A4 landscape less the margins
    try:
        loaded.page.emulate_media(media="print")
        assert _overflowing(loaded.page) == []
    finally:
        loaded.close()
    pdf = _printed_a4(browser, report, lambda page: page.pdf(format="A4", print_background=True,
                                                            prefer_css_page_size=True))
    sizes = _page_sizes(pdf)
    assert sizes[0] == "portrait" and ("landscape" in sizes) == bool(expected), sizes


def test_browser_print_wraps_a_long_reconciliation_status(browser, tmp_path):
    """"NOT balanced (the figures do not add up)" did not wrap: with amounts of 12 characters the
    reconciliation table of a run that does not balance, the one finance prints, ran off the page."""
    run_dir = scaled_run(tmp_path, 3)
    edit_manifest(run_dir, lambda m: m["reconciliation"]["by_currency"]["GBP"].update(gmv_in_run="1.00"))
    report = build_report(run_dir)
    assert "NOT balanced" in section(report.read_text(), "reconciliation")
    assert _printed_a4(browser, report, _landscape_sections) == []
    assert _printed_a4(browser, report, _overflowing) == []


def test_amounts_written_as_floats_or_short_are_shown_with_the_currency_digits(tmp_path):
    # docs/run-directory.md asks for decimal strings; a writer that gives floats, or "0" for EUR, still
    # reads right: floats rounded half-even to the minor digits, short strings padded (value unchanged).
    run_dir = copy_run(FULL, tmp_path)

    def loosen(m):
        m["reconciliation"]["reporting"].update(gmv_in_run=12036.82685885, gmv_attributed=12036.826858849998,
                                                difference=-1.8189894035458565e-12)
        m["reconciliation"]["by_currency"]["GBP"].update(gmv_rejected="0", gmv_in_run="1833.66")
        m["reconciliation"]["by_currency"]["KWD"].update(gmv_in_run="503.29", gmv_read="534.54")

    edit_manifest(run_dir, loosen)
    rec = text_of(section(render_report(run_dir).decode(), "reconciliation"))
    assert "GMV of the run's conversions 12,036.83 = GMV attributed 12,036.83" in rec
    assert "difference 0.00 balanced" in rec
    assert "GBP 25 1,898.65 0 0.00 1 64.99 24 1,833.66 balanced" in rec
    assert "KWD 18 534.540 0 0.000 1 31.250 17 503.290 balanced" in rec


def test_charts_show_the_largest_channels_and_the_table_all(tmp_path):
    run_dir = copy_run(FULL, tmp_path)
    rows = ["period,model,game,channel,conversions,gmv,share"]
    rows += [f"2026-10,hybrid,rate,ch{i:02d},1.0,{100 + i}.0,{(100 + i) / 9000}" for i in range(60)]
    (run_dir / "attribution.csv").write_text("\n".join(rows) + "\n")
    credits = section(render_report(run_dir).decode(), "credits")
    assert "The chart shows the 40 largest of 60 channels; the table lists all." in text_of(credits)
    assert len(re.findall(r'<th scope="row" class="label"><span class="swatch own"></span>ch\d\d</th>', credits)) == 60


def test_browser_shows_a_channel_labels_line_break_and_double_space(browser, tmp_path):
    """A channel label holding a line break or two spaces is a label of its own (the CSV outputs keep it
    so), but the report's tables showed it as one space: 'affi\\nliate' read as 'affi liate', 'e  mail'
    as 'e mail', like two other channels. The label cells keep their white space now."""
    run_dir = copy_run(FULL, tmp_path)
    for name in ("attribution.csv", "models.csv"):
        path = run_dir / name
        path.write_text(path.read_text().replace(",affiliate,", ',"affi\nliate",').replace(",email,", ",e  mail,"))
    edit_manifest(run_dir, lambda m: m.pop("output_sha256", None))
    loaded = _browser.open_file(browser, build_report(run_dir))
    try:
        shown = loaded.page.evaluate("[...document.querySelectorAll('#credits th.label, #models th.label')]"
                                     ".map(t => t.innerText)")
    finally:
        loaded.close()
    assert shown.count("affi\nliate") == 2 and shown.count("e  mail") == 2, shown
