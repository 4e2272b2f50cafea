"""Programme economics (PROGRAMME.md, issue 13): ROAS, CPA and attributed margin per channel, Π, MAP
compliance and withheld privileges, co-op by KPI, γ scenarios and gamma_min, pilot countries.

Every expected figure below is computed by hand in the comments beside it, never by the code under
test.
"""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import replace
from decimal import Decimal as D
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from shapley_attr.cli import cli
from shapley_attr.config import ModelParams
from shapley_attr.finance.contracts import CoopBudget, Partner
from shapley_attr.finance.payouts import compute_payouts
from shapley_attr.finance.programme import ScenarioLine, gamma_min, parse_rate_spec
from shapley_attr.frames import from_path_lists
from shapley_attr.models import fit

PERIOD = "2026-10"
EVENTS_HEADER = "user_id,event_time,event_type,channel,country,order_id,gmv,currency,margin"
PARTNERS_HEADER = ("partner_id,partner_name,country,currency,channels,gamma,beta,rho,sales_target,min_profit,"
                   "coop_eligible,rounding,valid_from,valid_to,map_min_compliance")


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def write(d: Path, name: str, lines: list[str]) -> Path:
    p = d / name
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def ev(user, day, kind, channel="", country="DE", order="", gmv="", ccy="", margin=""):
    t = f"2026-{day}T12:00:00Z" if len(day) == 5 else day
    return f"{user},{t},{kind},{channel},{country},{order},{gmv},{ccy},{margin}"


def inputs(d: Path, events, partners, sales, fx, coop, toml: dict, **files) -> Path:
    """Write an input set and its run.toml (every path relative to it); returns the run.toml."""
    d.mkdir(parents=True, exist_ok=True)
    write(d, "events.csv", [EVENTS_HEADER] + events)
    write(d, "partners.csv", [PARTNERS_HEADER] + partners)
    write(d, "sales.csv", ["partner_id,period,sales,gross_margin"] + sales)
    write(d, "fx.csv", ["date,currency,rate_to_reporting"] + fx)
    write(d, "coop.csv", coop)
    for name, lines in files.items():
        write(d, f"{name}.csv", lines)
    settings_ = {"events": "events.csv", "partners": "partners.csv", "sales": "sales.csv", "fx": "fx.csv",
                 "coop": "coop.csv", "period": PERIOD, "out": "run", "lookback_days": 30} | {
        k: f"{k}.csv" for k in files} | toml
    text = "\n".join(f"{k} = {json.dumps(v)}" for k, v in settings_.items()) + "\n"
    (d / "run.toml").write_text(text, encoding="utf-8")
    return d / "run.toml"


def rows_of(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def kpis(run: Path, names) -> dict[tuple[str, str], str]:
    return {(r["kpi"], r["scope"]): r["value"] for r in rows_of(run / "kpis.csv") if r["kpi"] in names}


# --- ROAS, CPA, attributed margin, Π ------------------------------------------------------------------
ECON_EVENTS = [
    ev("u1", "10-01", "touch", "email"), ev("u1", "10-02", "touch", "social"),
    ev("u1", "10-03", "conversion", order="o1", gmv="100.00", ccy="EUR", margin="30.00"),
    ev("u2", "10-05", "touch", "email"),
    ev("u2", "10-06", "conversion", order="o2", gmv="50.00", ccy="EUR", margin="20.00"),
    ev("u3", "10-07", "touch", "partner:P1"), ev("u3", "10-08", "touch", "email"),
    ev("u3", "10-09", "conversion", order="o3", gmv="200.00", ccy="EUR", margin="40.00"),
    ev("u4", "10-12", "conversion", order="o4", gmv="10.00", ccy="EUR", margin="1.00"),
    ev("u5", "10-10", "touch", "social", country="GB"),
    ev("u5", "10-11", "conversion", country="GB", order="o5", gmv="100.00", ccy="GBP", margin="25.00"),
]
ECON_PARTNERS = ["P1,Partner One,DE,EUR,partner:P1,0.10,0,0,0,0,false,half-even,,,"]
ECON_FX = ["2026-10-11,GBP,1.10", "2026-10-31,GBP,1.20"]
ECON_SPEND = ["period,channel,currency,spend", "2026-10,email,EUR,100.00", "2026-10,social,GBP,10.00",
              "2026-10,display,EUR,0", "2026-09,email,EUR,999.00"]


@pytest.fixture(scope="module")
def econ_run(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("econ")
    toml = inputs(d, ECON_EVENTS, ECON_PARTNERS, ["P1,2026-10,1000.00,150.00"], ECON_FX,
                  ["period,scope,currency,budget", "2026-09,DE,EUR,50.00"], {"model": "linear"}, spend=ECON_SPEND)
    res = invoke("run", "--config", toml)
    assert res.exit_code == 0, res.output
    return d / "run"


def test_roas_cpa_and_margin_per_channel_by_hand(econ_run):
    # Linear model: u1 splits 100 EUR (margin 30) over email and social; u2 50 (20) to email; u3 200 (40)
    # over partner:P1 and email; u4 10 (1) is (direct); u5 100 GBP = 110 EUR on its day (1.10), margin
    # 25 GBP = 30 EUR at the last day's 1.20, to social.
    #   email: GMV 50 + 50 + 100 = 200, conversions .5 + 1 + .5 = 2, margin 15 + 20 + 20 = 55
    #   social: GMV 50 + 110 = 160, conversions 1.5, margin 15 + 30 = 45
    # Last touch: email gets u2 and u3 (GMV 250, 2 conversions, margin 60); social u1 and u5 (210, 2, 60).
    # Spend in EUR: email 100; social 10 GBP × 1.20 = 12; display 0 (never in the journeys);
    # September's email row is another period.
    got = kpis(econ_run, {"spend", "roas", "cpa", "attributed_margin", "roas_last_touch", "cpa_last_touch",
                          "attributed_margin_last_touch"})
    assert got == {
        ("spend", "email"): "100.00", ("roas", "email"): "2.000000", ("cpa", "email"): "50.00",
        ("attributed_margin", "email"): "55.00", ("roas_last_touch", "email"): "2.500000",
        ("cpa_last_touch", "email"): "50.00", ("attributed_margin_last_touch", "email"): "60.00",
        ("spend", "social"): "12.00", ("roas", "social"): "13.333333", ("cpa", "social"): "8.00",
        ("attributed_margin", "social"): "45.00", ("roas_last_touch", "social"): "17.500000",
        ("cpa_last_touch", "social"): "6.00", ("attributed_margin_last_touch", "social"): "60.00",
        # spend 0 and no conversions: empty cells, never inf or NaN
        ("spend", "display"): "0.00", ("roas", "display"): "", ("cpa", "display"): "",
        ("attributed_margin", "display"): "0.00", ("roas_last_touch", "display"): "",
        ("cpa_last_touch", "display"): "", ("attributed_margin_last_touch", "display"): "0.00",
        # channels without spend get their margin only
        ("attributed_margin", "partner:P1"): "20.00", ("attributed_margin_last_touch", "partner:P1"): "0.00",
        ("attributed_margin", "(direct)"): "1.00", ("attributed_margin_last_touch", "(direct)"): "1.00",
    }


def test_ratios_use_the_spend_as_printed():
    """Spend converted to R (exact, e.g. 10.288 GBP × 1.2 = 12.3456 EUR) is printed rounded (12.35); ROAS
    and CPA divide by that printed figure, so a reader can check them from kpis.csv. Converted spend
    below half a cent prints 0.00 and gets empty ratios, like spend 0."""
    from shapley_attr.finance.programme import ChannelCredits, channel_kpi_rows

    credits = ChannelCredits({"email": 4.0, "display": 1.0}, {"email": 1625.5395, "display": 80.0})
    rows = channel_kpi_rows(PERIOD, "EUR", {"email": D("12.3456"), "display": D("0.004")}, credits, credits)
    got = {(r[1], r[2]): r[3] for r in rows}
    # 1625.5395 / 12.35 = 131.6226315…; 12.35 / 4 = 3.0875 → 3.09 (half-even to the cent)
    assert got[("spend", "email")] == "12.35" and got[("roas", "email")] == "131.622632"
    assert got[("cpa", "email")] == "3.09"
    assert (got[("spend", "display")], got[("roas", "display")], got[("cpa", "display")]) == ("0.00", "", "")


def test_programme_profit_by_hand(econ_run):
    # D2C gross margin: 30 + 20 + 40 + 1 + 25 GBP × 1.20 = 121.00 EUR. P1: attributed GMV 100
    # (half of u3), γ 0.10 → total payable 10.00; gross margin 150.00.
    # Π_D2C = 121 − 10 = 111; Σ Π_Ri = 150 + 10 = 160; Π = 271.
    got = kpis(econ_run, {"programme_profit", "d2c_profit", "partners_profit"})
    assert got == {("programme_profit", "*"): "271.00", ("d2c_profit", "*"): "111.00",
                   ("partners_profit", "*"): "160.00"}
    lines = [r for r in rows_of(econ_run / "kpis.csv")]
    assert [r["kpi"] for r in lines[-3:]] == ["programme_profit", "d2c_profit", "partners_profit"]
    manifest = json.loads((econ_run / "manifest.json").read_text())
    margins = manifest["programme"]["margins"]
    assert D(margins["d2c_gross_margin"]) == D("121.00") and margins["reported"] is True
    assert manifest["inputs"]["spend"]["rows"] == {"read": 4, "accepted": 4, "rejected": 0}
    assert manifest["programme"]["spend"]["reporting"] == {"display": "0.00", "email": "100.00", "social": "12.00"}
    assert not (econ_run / "map_compliance.csv").exists()
    header = (econ_run / "payouts.csv").read_text().splitlines()[0]
    assert not header.endswith("privileges_withheld")  # no MAP inputs: payouts.csv keeps its columns


def test_margin_attribution_uses_the_models_own_shares(econ_run):
    """The margin credits sum to the gross margin of the run's conversions (the model distributes it
    like GMV), per model and under last touch."""
    rows = rows_of(econ_run / "kpis.csv")
    model = sum(D(r["value"]) for r in rows if r["kpi"] == "attributed_margin")
    last = sum(D(r["value"]) for r in rows if r["kpi"] == "attributed_margin_last_touch")
    assert model == last == D("121.00")


def test_missing_margin_means_no_profit_reported(tmp_path):
    events = ECON_EVENTS[:3] + [ev("u2", "10-05", "touch", "email"),
                                ev("u2", "10-06", "conversion", order="o2", gmv="50.00", ccy="EUR", margin="")]
    toml = inputs(tmp_path, events, ECON_PARTNERS, ["P1,2026-10,1000.00,150.00"], ECON_FX,
                  ["period,scope,currency,budget"], {"model": "linear"}, spend=ECON_SPEND)
    res = invoke("run", "--config", toml)
    assert res.exit_code == 0, res.output
    names = {r["kpi"] for r in rows_of(tmp_path / "run" / "kpis.csv")}
    assert "roas" in names and not names & {"attributed_margin", "programme_profit", "d2c_profit"}
    margins = json.loads((tmp_path / "run" / "manifest.json").read_text())["programme"]["margins"]
    assert margins["reported"] is False and margins["conversions_without_margin"] == 1
    assert "margins: 1 conversion(s) of the run have no margin: programme profit and attributed margins are " \
           "not reported" in res.stderr
    assert "1 conversion(s) of the run have no margin" in invoke("validate", "--config", toml).stderr


def test_margin_in_a_currency_without_last_day_rate_is_exit_2(tmp_path):
    toml = inputs(tmp_path, ECON_EVENTS, ECON_PARTNERS, ["P1,2026-10,1000.00,150.00"], ["2026-10-11,GBP,1.10"],
                  ["period,scope,currency,budget"], {"model": "linear"})
    res = invoke("run", "--config", toml)
    assert res.exit_code == 2 and "GBP on 2026-10-31" in res.stderr and "fx.csv" in res.stderr


EVERY_MODEL = [dict(model="first"), dict(model="last"), dict(model="linear"), dict(model="position"),
               dict(model="markov"), dict(model="markov", order=2), dict(model="shapley", game="count"),
               dict(model="shapley", game="ordered"), dict(model="shapley", game="rate"),
               dict(model="shapley", game="subset-rate", method="exact"),
               dict(model="shapley", game="subset-rate", method="mc", tolerance=0.05, seed=3),
               dict(model="hybrid", game="rate")]


@pytest.mark.parametrize("opts", EVERY_MODEL, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_every_model_is_linear_in_the_path_values(opts):
    """What margin attribution rests on: with the journeys fixed, every model's value credits are
    linear in the paths' values (fixed per-path shares, or share × total). So crediting the paths'
    margins equals Σ_p margin_p × (the credit of a unit value on path p alone)."""
    paths = [["a"], ["a", "b"], ["b", "c", "a"], ["c"], ["b", "b"], ["(direct)"]]
    conv, nulls = [3, 2, 2, 1, 1, 1], [5, 3, 6, 4, 2, 0]
    margin = [12.0, -4.5, 30.0, 7.25, 3.0, 2.0]  # not proportional to any GMV; one negative
    params = ModelParams(**opts)
    whole = fit(from_path_lists(paths, conv, margin, nulls), params)
    total = np.zeros(len(whole.channels))
    for p in range(len(paths)):
        unit = [1.0 if q == p else 0.0 for q in range(len(paths))]
        part = fit(from_path_lists(paths, conv, unit, nulls), params)
        assert part.channels == whole.channels
        total += margin[p] * part.credit[:, 1]
    assert_allclose(whole.credit[:, 1], total, rtol=1e-9, atol=1e-9)
    assert_allclose(whole.credit[:, 1].sum(), sum(margin), rtol=1e-12)


def test_margin_table_has_the_gmv_tables_paths(tmp_path):
    from shapley_attr.config import JourneyParams, build_config
    from shapley_attr.io.events import validate_events
    from shapley_attr.io.readers import scan_input
    from shapley_attr.journeys import cut_journeys

    p = write(tmp_path, "e.csv", [EVENTS_HEADER] + ECON_EVENTS)
    config = build_config("attribute", {"events": str(p)})
    lf, name = scan_input(str(p), config.mapping)
    events = validate_events(lf, name, config.mapping)
    gmv = events.conversions.get_column("gmv").to_numpy().copy()  # one per conversion
    margin = np.zeros(len(events.accepted))
    conv = events.conversions
    margin[conv["_i"].to_numpy()] = conv["margin"].to_numpy() * 2.0
    table, mtable = cut_journeys(events, gmv, JourneyParams(period=PERIOD), None, margin)
    assert mtable.channels == table.channels and np.array_equal(mtable.offsets, table.offsets)
    assert np.array_equal(mtable.codes, table.codes) and np.array_equal(mtable.conversions, table.conversions)
    by_path = dict(zip(mtable.path_labels(), mtable.value))
    assert by_path["email > social"] == 60.0 and by_path["(direct)"] == 2.0 and by_path["email"] == 40.0


# --- MAP compliance, withheld privileges -----------------------------------------------------------------
MAP_EVENTS = [ev("u1", "10-01", "touch", "partner:P1"), ev("u1", "10-02", "conversion", order="o1", gmv="100", ccy="EUR"),
              ev("u2", "10-03", "touch", "partner:P2"), ev("u2", "10-04", "conversion", order="o2", gmv="300", ccy="EUR"),
              ev("u3", "10-05", "touch", "partner:P3", country="FR"),
              ev("u3", "10-06", "conversion", country="FR", order="o3", gmv="50", ccy="EUR")]
MAP_PARTNERS = ["P1,One,DE,EUR,partner:P1,0.10,0.05,0.10,1000,0,true,half-even,,,0.90",
                "P2,Two,DE,EUR,partner:P2,0.10,0,0,0,0,true,half-even,,,",
                "P3,Three,FR,EUR,partner:P3,0.10,0,0,0,0,true,half-even,,,0.5"]
MAP_ROWS = ["sku,country,currency,map_price,valid_from,valid_to", "SKU1,DE,EUR,100.00,2026-01-01,2026-12-31",
            "SKU1,FR,EUR,100.00,,", "SKU2,DE,EUR,50.00,2026-10-15,", "SKU2,DE,EUR,60.00,,2026-10-14"]
PRICES = ["date,partner_id,sku,price,currency",
          "2026-10-02,P1,SKU1,99.99,EUR",    # < 100: violation
          "2026-10-03,P1,SKU1,100.00,EUR",   # equal: no violation
          "2026-10-20,P1,SKU2,55.00,EUR",    # MAP 50 from 10-15: ok
          "2026-10-10,P1,SKU2,60.00,EUR",    # MAP 60 until 10-14: ok
          "2026-10-04,P2,SKU1,120.00,EUR", "2026-10-05,P2,SKU2,61.00,EUR",
          "2026-10-11,P3,SKU1,80.00,GBP",    # 80 × 1.10 = 88 EUR < 100: violation
          "2026-10-12,P3,SKU1,95.00,GBP",    # rate of 10-11 (latest earlier): 104.50 EUR: ok
          "2026-10-13,P3,SKU1,100.00,EUR",
          "2026-10-14,PX,SKU1,10.00,EUR",    # reject: unknown partner
          "2026-10-14,P2,SKU9,10.00,EUR",    # reject: no MAP row
          "2026-10-14,P2,SKU1,abc,EUR",      # reject: bad price
          "2026-10-05,P3,SKU1,90.00,GBP",    # reject: no GBP rate on or before 10-05
          "2026-09-30,P1,SKU1,1.00,EUR"]     # September: not counted, not rejected


def map_run(tmp_path: Path, policy: str) -> Path:
    toml = inputs(tmp_path, MAP_EVENTS, MAP_PARTNERS, ["P1,2026-10,2000,100", "P2,2026-10,0,0", "P3,2026-10,0,0"],
                  ["2026-10-11,GBP,1.10", "2026-10-31,GBP,1.20"],
                  ["period,scope,currency,budget", "2026-10,DE,EUR,1000.00"], {"model": "linear", "map_policy": policy},
                  map=MAP_ROWS, prices=PRICES)
    res = invoke("run", "--config", toml)
    assert res.exit_code == 0, res.output
    (tmp_path / "stderr.txt").write_text(res.stderr, encoding="utf-8")  # the run's summary, for its tests
    return tmp_path / "run"


def payout_cells(run: Path, *cols) -> dict[str, tuple]:
    return {r["partner_id"]: tuple(r[c] for c in cols) for r in rows_of(run / "payouts.csv")}


COLS = ("rebate", "coop", "total_payable", "map_compliance", "privileges_withheld")


def test_map_compliance_file_and_rejects(tmp_path):
    run = map_run(tmp_path, "flag")
    # P1: 4 observations of October, 1 violation → 0.75; P2: 2, 0 → 1; P3: 3, 1 (88 EUR < 100) → 2/3
    assert (run / "map_compliance.csv").read_text() == (
        "partner_id,map_observations,map_violations,map_compliance\n"
        "P1,4,1,0.750000\nP2,2,0,1.000000\nP3,3,1,0.666667\n")
    rejects = [r for r in rows_of(run / "rejects.csv") if r["source"].endswith("prices.csv")]
    assert [(r["row"], r["column"]) for r in rejects] == [("10", "partner_id"), ("11", "sku"), ("12", "price"),
                                                         ("13", "currency")]
    assert "unknown partner" in rejects[0]["reason"] and "no MAP row" in rejects[1]["reason"]
    assert "no FX rate for GBP on or before 2026-10-05" in rejects[3]["reason"]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["inputs"]["prices"]["rows"] == {"read": 14, "accepted": 10, "rejected": 4}
    assert "rejected price observations: 4 (see rejects.csv)" in (tmp_path / "stderr.txt").read_text()
    worst = manifest["programme"]["map"]["worst_violations"]
    assert [(w["partner_id"], w["relative_undercut"]) for w in worst] == [("P3", "0.120000"), ("P1", "0.000100")]


def test_map_flag_marks_and_pays(tmp_path):
    run = map_run(tmp_path, "flag")
    # P1 below its 0.90: flagged only. Rebate 0.10 × (2000 − 1000) = 100; DE co-op 1000 split 100:300.
    # P1 total: compensation 10 + referral 0.05 × 100 = 5 + rebate 100 + co-op 250 = 365
    assert payout_cells(run, *COLS) == {"P1": ("100.00", "250.00", "365.00", "0.750000", "false"),
                                        "P2": ("0.00", "750.00", "780.00", "1.000000", "false"),
                                        "P3": ("0.00", "0.00", "5.00", "0.666667", "false")}
    m = json.loads((run / "manifest.json").read_text())["programme"]["map"]
    assert m["below_minimum"] == ["P1"] and m["privileges_withheld"] == [] and m["policy"] == "flag"


def test_map_withhold_moves_the_coop_share(tmp_path):
    run = map_run(tmp_path, "withhold")
    # P1's rebate and co-op are 0; compensation 10 and referral commission 5 are still paid: 15.
    # The DE budget goes to the other eligible partner, P2: 1000.
    assert payout_cells(run, *COLS) == {"P1": ("0.00", "0.00", "15.00", "0.750000", "true"),
                                        "P2": ("0.00", "1000.00", "1030.00", "1.000000", "false"),
                                        "P3": ("0.00", "0.00", "5.00", "0.666667", "false")}
    assert payout_cells(run, "compensation", "referral_commission")["P1"] == ("10.00", "5.00")
    header = (run / "payouts.csv").read_text().splitlines()[0].split(",")
    assert header[-2:] == ["map_compliance", "privileges_withheld"] and header[18] == "run_id"


# --- co-op by KPI ----------------------------------------------------------------------------------------
def partner(pid, country="DE", target="100", eligible=True, map_min=None, rounding="half-even"):
    return Partner(pid, pid, country, "EUR", (f"partner:{pid}",), D("0.1"), D(0), D(0), D(target), D(0), eligible,
                   rounding, None, None, 1, None if map_min is None else D(map_min))


def coop_split(partners, gmv, sales, budget, basis, compliance=None, policy="flag"):
    result = compute_payouts(partners, {f"partner:{p}": g for p, g in gmv.items()}, {},
                             {p: (D(s), D(0)) for p, s in sales.items()}, {},
                             [CoopBudget("DE", "EUR", D(budget), 1, basis)], PERIOD, "EUR", "fx", compliance, policy)
    return {ln.partner.partner_id: str(ln.coop) for ln in result.lines}, result.coop[0]


def test_coop_blend_of_gmv_and_sell_through_by_hand():
    # attributed GMV A 300, B 100, C 0 → s = 3/4, 1/4, 0; sell-through 150/100, 100/100, C's target 0 → 0
    # → s = 0.6, 0.4, 0. w = 0.5 s_gmv + 0.5 s_st: A 0.675, B 0.325, C 0.
    # 100.01 EUR = 10001 cents: quotas 6750.675 and 3250.325; floors 6750 + 3250, the cent left to A.
    parts = [partner("A"), partner("B"), partner("C", target="0")]
    basis = (("attributed_gmv", D("0.5")), ("sell_through", D("0.5")))
    got, alloc = coop_split(parts, {"A": 300.0, "B": 100.0, "C": 0.0}, {"A": "150", "B": "100", "C": "100"},
                            "100.01", basis)
    assert got == {"A": "67.51", "B": "32.50", "C": "0"}
    assert alloc.spent == D("100.01") and alloc.carried_over == 0 and alloc.basis_text == (
        "attributed_gmv:0.5;sell_through:0.5")


def test_coop_by_map_compliance_reaches_a_partner_without_credit():
    # compliance A 1, B not observed (0), C 1/2 → s = 2/3, 0, 1/3 of 10.00 EUR: 666.67 and 333.33 cents;
    # floors 666 + 333, the cent left to A (remainder .67 > .33).
    parts = [partner("A"), partner("B"), partner("C")]
    got, _ = coop_split(parts, {"A": 50.0, "B": 50.0, "C": 0.0}, {"A": "0", "B": "0", "C": "0"}, "10.00",
                        (("map_compliance", D(1)),), {"A": Fraction(1), "B": None, "C": Fraction(1, 2)})
    assert got == {"A": "6.67", "B": "0", "C": "3.33"}


def test_coop_default_basis_is_todays_rule():
    parts = [partner("A"), partner("B")]
    got, _ = coop_split(parts, {"A": 1.0, "B": 2.0}, {"A": "0", "B": "0"}, "1.00", (("attributed_gmv", D(1)),))
    assert got == {"A": "0.33", "B": "0.67"}  # quotas 33.33 and 66.67 cents
    got, alloc = coop_split(parts, {"A": 0.0, "B": -5.0}, {"A": "0", "B": "0"}, "1.00", (("attributed_gmv", D(1)),))
    assert got == {"A": "0", "B": "0"} and alloc.carried_over == D("1.00")  # no positive weight: carried over


def test_withheld_partner_share_goes_to_the_others():
    parts = [partner("A", map_min="0.9"), partner("B"), partner("C")]
    compliance = {"A": Fraction(1, 2), "B": Fraction(1), "C": None}
    got, _ = coop_split(parts, {"A": 100.0, "B": 100.0, "C": 300.0}, {"A": "0", "B": "0", "C": "0"}, "100.00",
                        (("attributed_gmv", D(1)),), compliance, "withhold")
    assert got == {"A": "0", "B": "25.00", "C": "75.00"}  # A withheld; B 100 : C 300


@st.composite
def coop_cases(draw):
    n = draw(st.integers(1, 8))
    kpis_ = draw(st.lists(st.sampled_from(["attributed_gmv", "sell_through", "map_compliance"]), min_size=1,
                          max_size=3, unique=True))
    cuts = sorted(draw(st.lists(st.integers(0, 100), min_size=len(kpis_) - 1, max_size=len(kpis_) - 1)))
    weights = [b - a for a, b in zip([0] + cuts, cuts + [100])]
    basis = tuple((k, D(w) / 100) for k, w in zip(kpis_, weights))
    gmv = {f"P{i}": draw(st.floats(-50, 1e6, allow_nan=False)) for i in range(n)}
    sales = {f"P{i}": str(draw(st.decimals(0, 10**7, places=2))) for i in range(n)}
    targets = [str(draw(st.decimals(0, 10**6, places=2))) for _ in range(n)]
    compliance = {f"P{i}": draw(st.one_of(st.none(), st.fractions(0, 1))) for i in range(n)}
    budget = str(draw(st.decimals(0, 10**9, places=2)))
    eligible = [draw(st.booleans()) for _ in range(n)]
    return n, basis, gmv, sales, targets, compliance, budget, eligible


@settings(max_examples=150, deadline=None)
@given(case=coop_cases(), policy=st.sampled_from(["flag", "withhold"]))
def test_coop_allocations_sum_to_the_budget(case, policy):
    n, basis, gmv, sales, targets, compliance, budget, eligible = case
    parts = [partner(f"P{i}", target=targets[i], eligible=eligible[i], map_min="0.5") for i in range(n)]
    got, alloc = coop_split(parts, gmv, sales, budget, basis, compliance, policy)
    assert alloc.spent + alloc.carried_over == D(budget)
    assert alloc.carried_over in (0, D(budget))
    assert sum(D(v) for v in got.values()) == alloc.spent and all(D(v) >= 0 for v in got.values())
    withheld = {f"P{i}" for i in range(n) if policy == "withhold" and compliance[f"P{i}"] is not None
                and compliance[f"P{i}"] < Fraction(1, 2)}
    assert all(D(got[p]) == 0 for p in withheld)
    assert all(D(got[f"P{i}"]) == 0 for i in range(n) if not eligible[i])


def test_a_partner_without_a_sales_row_has_no_guessed_profit(tmp_path):
    """PROGRAMME.md: Π is never guessed. P2 reports no sales row: its gross margin is unknown, so its
    participation check is left empty (neither flagged nor cleared), Σ Π_Ri and Π are not reported,
    Π_D2C (which needs no partner margin) is; scenarios and gamma_min say the same."""
    partners = ECON_PARTNERS + ["P2,Partner Two,DE,EUR,partner:P2,0.10,0,0,0,0,false,half-even,,,"]
    toml = inputs(tmp_path, ECON_EVENTS, partners, ["P1,2026-10,1000.00,150.00"], ECON_FX,
                  ["period,scope,currency,budget"], {"model": "linear"})
    res = invoke("run", "--config", toml)
    assert res.exit_code == 0, res.output
    run = tmp_path / "run"
    assert payout_cells(run, "below_min_profit") == {"P1": ("false",), "P2": ("",)}
    # Π_D2C = 121 − 10 (P1's payable, as in test_programme_profit_by_hand; P2 earns nothing)
    assert kpis(run, {"programme_profit", "d2c_profit", "partners_profit"}) == {("d2c_profit", "*"): "111.00"}
    payouts = json.loads((run / "manifest.json").read_text())["payouts"]
    assert payouts["below_min_profit"] == [] and payouts["min_profit_unchecked"] == ["P2"]
    assert "participation floor not checked (no sales row, gross margin unknown): P2" in res.stderr
    out = tmp_path / "sc"
    res = invoke("scenarios", run, "--gamma", "0.05", "--out", out)
    assert res.exit_code == 0, res.output
    # P1 at γ 0.05: 5.00; d2c margin after payouts 121 − 5 = 116; Π unknown
    assert (out / "scenarios.csv").read_text().splitlines()[1] == "0.05,,,EUR,5.00,0,5.00,116.00,"
    assert (out / "gamma_min.csv").read_text().splitlines()[1:] == ["P1,EUR,0,met_at_zero", "P2,EUR,,no_gross_margin"]


# --- gamma_min and scenarios -------------------------------------------------------------------------------
def line(attributed="1234.56", gross="100", min_profit="150", commission="10", rebate="0", coop="0",
         currency="EUR", rounding="half-even", withheld=False):
    return ScenarioLine("P", currency, rounding, D(attributed), D(0), D(0), D(0), D(coop), D("0.05"), D(0), D(0),
                        D(commission), D(rebate), D(gross), D(min_profit), withheld)


def test_gamma_min_met_at_zero():
    # 100 + 10 + 0 + 45 = 155 >= 150 already with γ = 0
    assert gamma_min(line(coop="45")).row() == ["P", "EUR", "0", "met_at_zero"]


def test_gamma_min_reachable_with_the_runs_rounding():
    # need compensation >= 150 − 100 − 10 = 40: 0.0324 × 1234.56 = 39.999744 → 40.00 (half-even to the
    # cent), while 0.0323 × 1234.56 = 39.876288 → 39.88. The unrounded answer 40 / 1234.56 = 0.03240021
    # would be a grid step higher: the rounding of run decides.
    assert gamma_min(line()).row() == ["P", "EUR", "0.0324", "reachable"]
    # JPY rounds to the yen: need 40; 0.0132 × 3000 = 39.6 → 40, 0.0131 × 3000 = 39.3 → 39
    assert gamma_min(line(attributed="3000", currency="JPY")).row() == ["P", "JPY", "0.0132", "reachable"]


def test_gamma_min_unreachable():
    assert gamma_min(line(attributed="0")).row() == ["P", "EUR", "", "unreachable"]
    assert gamma_min(line(attributed="-20")).row() == ["P", "EUR", "", "unreachable"]
    assert gamma_min(line(attributed="39.99")).row() == ["P", "EUR", "", "unreachable"]  # γ = 1 pays 39.99 < 40
    # 0.9999 × 40 = 39.996 → 40.00 meets it; 0.9998 × 40 = 39.992 → 39.99 does not
    assert gamma_min(line(attributed="40")).row() == ["P", "EUR", "0.9999", "reachable"]
    # need 170 − 100 − 10 = 60 of 60: 0.9999 × 60 = 59.994 → 59.99; only γ = 1 meets it
    assert gamma_min(line(attributed="60", min_profit="170")).row() == ["P", "EUR", "1", "reachable"]


@settings(max_examples=300, deadline=None)
@given(attributed=st.decimals(-100, 10**6, places=2), gross=st.decimals(-10**5, 10**5, places=2),
       min_profit=st.decimals(-10**5, 2 * 10**5, places=2), commission=st.decimals(0, 500, places=2),
       coop=st.decimals(0, 5000, places=2), currency=st.sampled_from(["EUR", "JPY", "KWD"]),
       rounding=st.sampled_from(["half-even", "half-up"]))
def test_gamma_min_meets_the_floor_and_one_step_less_does_not(attributed, gross, min_profit, commission, coop,
                                                               currency, rounding):
    ln = line(str(attributed), str(gross), str(min_profit), str(commission), "0", str(coop), currency, rounding)
    g = gamma_min(ln)

    def meets(gamma):
        return ln.gross_margin + ln.total_payable(gamma) >= ln.min_profit

    if g.reason == "unreachable":
        assert g.gamma_min is None and not meets(D(1))
        assert attributed <= 0 or not meets(D(1))
        return
    assert meets(g.gamma_min)
    if g.gamma_min > 0:
        assert not meets(g.gamma_min - D("0.0001"))
    else:
        assert g.reason == "met_at_zero"


def test_rate_specs():
    assert parse_rate_spec("0.05,0.03", "gamma") == (D("0.03"), D("0.05"))
    assert parse_rate_spec("0.02:0.05:0.01", "gamma") == (D("0.02"), D("0.03"), D("0.04"), D("0.05"))
    assert [f"{v.normalize():f}" for v in parse_rate_spec("-0,0.05,0", "gamma")] == ["0", "0.05"]  # never "-0"
    for bad in ("", "1.5", "0.1:0.05:0.01", "0:1:0", "a,b", "0:1"):
        with pytest.raises(ValueError):
            parse_rate_spec(bad, "gamma")


def test_scenarios_by_hand(econ_run, tmp_path):
    # P1: attributed GMV 100, referral 0, no rebate or co-op. γ 0.05 → 5.00, γ 0.2 → 20.00; β 0.5 × 0 = 0.
    # d2c margin after payouts = 121 − total; Π = 121 + 150 = 271 whatever γ (payouts are transfers).
    out = tmp_path / "sc"
    res = invoke("scenarios", econ_run, "--gamma", "0.05,0.2", "--beta", "0.5", "--out", out)
    assert res.exit_code == 0, res.output
    assert (out / "scenarios.csv").read_text() == (
        "gamma,beta,rho,currency,total_payable,partners_below_min_profit,total_payable_reporting,"
        "d2c_margin_after_payouts,programme_profit\n"
        "0.05,0.5,,EUR,5.00,0,5.00,116.00,271.00\n"
        "0.2,0.5,,EUR,20.00,0,20.00,101.00,271.00\n")
    assert (out / "gamma_min.csv").read_text() == "partner_id,currency,gamma_min,reason\nP1,EUR,0,met_at_zero\n"


def test_scenarios_at_the_contract_rates_reproduce_the_run(tmp_path):
    run = map_run(tmp_path, "withhold")
    res = invoke("scenarios", run, "--gamma", "0.10", "--beta", "0.05")
    assert res.exit_code == 0, res.output
    rows = rows_of(run / "scenarios" / "scenarios.csv")
    # γ 0.10 for all (their contracts' γ); β 0.05: P1 5.00 (its own), P2/P3 referral 300, 50 → 15.00, 2.50;
    # P1's withheld rebate stays 0: 15 + (1030 + 15) + (5 + 2.50) = 1067.50
    assert [(r["gamma"], r["beta"], r["currency"], r["total_payable"]) for r in rows] == [
        ("0.1", "0.05", "EUR", "1067.50")]
    assert "d2c_margin_after_payouts" not in rows[0]  # no margins in this run
    res = invoke("scenarios", run, "--gamma", "0.10")
    assert rows_of(run / "scenarios" / "scenarios.csv")[0]["total_payable"] == "1050.00"  # = the run's total


def test_scenarios_refuse_changed_inputs(econ_run, tmp_path):
    manifest = json.loads((econ_run / "manifest.json").read_text())
    sales = Path(manifest["inputs"]["sales"]["path"])
    original = sales.read_bytes()
    try:
        sales.write_bytes(original.replace(b"150.00", b"151.00"))
        res = invoke("scenarios", econ_run, "--gamma", "0.1", "--out", tmp_path / "x")
        assert res.exit_code == 2 and "changed since the run" in res.stderr and "sales.csv" in res.stderr
    finally:
        sales.write_bytes(original)
    assert invoke("scenarios", econ_run, "--gamma", "2").exit_code == 2
    assert invoke("scenarios", tmp_path / "nowhere", "--gamma", "0.1").exit_code == 2


def _damaged_copy(econ_run: Path, tmp_path: Path, manifest_edit=None, payouts_edit=None) -> Path:
    """A copy of the run with its manifest and/or payouts.csv edited; the payouts' SHA-256 recorded
    again, as a careful hand (or an older run without output_sha256) would leave it."""
    import hashlib
    import shutil

    run = tmp_path / "run"
    shutil.copytree(econ_run, run)
    manifest = json.loads((run / "manifest.json").read_text())
    if payouts_edit is not None:
        (run / "payouts.csv").write_text(payouts_edit((run / "payouts.csv").read_text()))
        manifest["output_sha256"]["payouts.csv"] = hashlib.sha256((run / "payouts.csv").read_bytes()).hexdigest()
    if manifest_edit is not None:
        manifest_edit(manifest)
    (run / "manifest.json").write_text(json.dumps(manifest))
    return run


def _set(path: str, value):
    def edit(manifest):
        *keys, last = path.split(".")
        target = manifest
        for k in keys:
            target = target[k]
        target[last] = value
    return edit


@pytest.mark.parametrize("manifest_edit,payouts_edit,words", [
    (_set("period", 202610), None, "not the manifest of a run"),
    (_set("period", "2026-13"), None, "not the manifest of a run"),
    (_set("inputs.partners.sha256", 7), None, "not the manifest of a run"),
    (_set("reporting_currency", 978), None, "not the manifest of a run"),
    # another currency than the run's credits: fx.csv was blamed for lacking rates to it
    (_set("reporting_currency", "USD"), None, "reporting_currency is USD but the run's credits are in EUR"),
    (_set("programme.margins.d2c_gross_margin", "abc"), None, "d2c_gross_margin is 'abc'"),
    (None, lambda t: t.replace(",100.00,", ",NaN,", 1), "column 'attributed_gmv': cannot read the payout line"),
    (None, lambda t: t.replace(",100.00,", ",1E+999999999,", 1), "cannot read the payout line"),
    # a line twice, or none: paid twice in every scenario, or nobody
    (None, lambda t: t + t.splitlines()[1] + "\n", "partner P1 is listed twice"),
    (None, lambda t: t.splitlines()[0] + "\n", "does not add up to the totals"),
    (None, lambda t: t.replace(",10.00,", ",11.00,"), "does not add up to the totals"),
])
def test_scenarios_refuse_a_damaged_run_directory(econ_run, tmp_path, manifest_edit, payouts_edit, words):
    """Battery 5: such damage was an internal error (exit 1), or counted a partner twice (exit 0)."""
    run = _damaged_copy(econ_run, tmp_path, manifest_edit, payouts_edit)
    res = invoke("scenarios", run, "--gamma", "0.1", "--out", tmp_path / "x")
    assert res.exit_code == 2 and words in res.stderr, res.output
    assert "internal error" not in res.stderr


def test_scenarios_and_report_refuse_unreadable_manifests_and_a_fifo(econ_run, tmp_path):
    run = _damaged_copy(econ_run, tmp_path)
    manifest = (run / "manifest.json").read_text()
    for text in ("[" * 100_000 + "]" * 100_000, '{"tool": "shapley_attr", "x": ' + "9" * 5001 + "}"):
        (run / "manifest.json").write_text(text)
        for command in ("scenarios", "report"):
            res = invoke(command, run, *(("--gamma", "0.1", "--out", tmp_path / "x") if command == "scenarios" else ()))
            assert res.exit_code == 2 and "manifest.json" in res.stderr, (command, res.output)
    (run / "manifest.json").write_text(manifest)
    (run / "payouts.csv").unlink()
    os.mkfifo(run / "payouts.csv")  # reading it would wait for a writer forever
    res = invoke("scenarios", run, "--gamma", "0.1", "--out", tmp_path / "x")
    assert res.exit_code == 2 and "not a regular file" in res.stderr, res.output


def test_an_edited_payouts_file_is_refused_by_scenarios_and_flagged_by_the_report(econ_run, tmp_path):
    # both read payouts.csv as the run's: an edited figure was recomputed and rendered without a word
    import shutil

    run = tmp_path / "copy"
    shutil.copytree(econ_run, run)
    manifest = json.loads((run / "manifest.json").read_text())
    digests = manifest["output_sha256"]
    assert sorted(digests) == sorted(n for n in manifest["outputs"] if n not in ("manifest.json", "report.html"))
    assert invoke("report", run).exit_code == 0 and 'id="altered"' not in (run / "report.html").read_text()
    payouts = run / "payouts.csv"
    lines = payouts.read_text().splitlines()
    lines[1] = lines[1].replace(",1", ",9", 1)
    payouts.write_text("\n".join(lines) + "\n")
    res = invoke("scenarios", run, "--gamma", "0.1", "--out", tmp_path / "x")
    assert res.exit_code == 2 and "payouts.csv: changed since the run" in res.stderr
    res = invoke("report", run)
    assert res.exit_code == 0 and "warning: payouts.csv changed since the run" in res.stderr
    assert 'id="altered">Changed since the run: payouts.csv' in (run / "report.html").read_text()


# --- pilot countries ---------------------------------------------------------------------------------------
PILOT_EVENTS = [
    ev("u1", "2026-10-01T09:00:00Z", "touch", "partner:P1"), ev("u1", "2026-10-01T10:00:00Z", "touch", "email"),
    ev("u1", "10-02", "conversion", order="o1", gmv="100", ccy="EUR"),
    ev("u2", "10-03", "touch", "social"),
    ev("u2", "10-04", "conversion", country="FR", order="o2", gmv="50", ccy="EUR"),  # outside: closes [social]
    ev("u2", "10-05", "touch", "display"),
    ev("u2", "10-06", "conversion", order="o3", gmv="70", ccy="EUR"),  # its journey is [display] only
    ev("u3", "10-07", "touch", "email"),
    ev("u3", "10-08", "conversion", country="CH", order="o4", gmv="40", ccy="CHF"),  # outside, no CHF rate needed
    ev("u4", "10-09", "conversion", country="PL", order="o5", gmv="30", ccy="EUR"),  # (direct)
    ev("u5", "2026-09-15T12:00:00Z", "conversion", order="o6", gmv="20", ccy="EUR"),  # before the period
]


def test_pilot_countries_reconcile_and_pay_the_pilot_only(tmp_path):
    toml = inputs(tmp_path, PILOT_EVENTS,
                  ["P1,One,DE,EUR,partner:P1,0.10,0,0,0,0,true,half-even,,,",
                   "P2,Two,FR,EUR,partner:P2,0.10,0,0,0,0,true,half-even,,,"],
                  ["P1,2026-10,0,0", "P2,2026-10,0,0"], [],
                  ["period,scope,currency,budget", "2026-10,DE,EUR,100.00", "2026-10,FR,EUR,50.00",
                   "2026-10,*,EUR,10.00"], {"model": "linear"})
    res = invoke("run", "--config", toml, "--countries", "de,PL")
    assert res.exit_code == 0, res.output
    run = tmp_path / "run"
    manifest = json.loads((run / "manifest.json").read_text())
    eur, chf = manifest["reconciliation"]["by_currency"]["EUR"], manifest["reconciliation"]["by_currency"]["CHF"]
    # EUR read 100 + 50 + 70 + 30 + 20 = 270 = outside (FR 50, September 20) + in the run (100 + 70 + 30)
    assert (eur["conversions_read"], eur["conversions_outside_run"], eur["conversions_in_run"]) == (5, 2, 3)
    assert (D(eur["gmv_read"]), D(eur["gmv_outside_run"]), D(eur["gmv_in_run"])) == (D(270), D(70), D(200))
    assert (chf["conversions_outside_run"], D(chf["gmv_outside_run"]), chf["balanced"]) == (1, D(40), True)
    assert manifest["reconciliation"]["reporting"]["balanced"] is True
    j = manifest["journeys"]
    assert (j["conversions_in_period"], j["conversions_outside_countries"], j["touches_closed_outside_countries"]) == (
        3, 2, 2)
    credits = {r["channel"]: r["gmv"] for r in rows_of(run / "attribution.csv")}
    # linear: u1 → partner:P1 50, email 50; u2's DE conversion → display 70 (social was closed by FR);
    # u4 → (direct) 30; u3's email journey ended with the CH conversion: never attributed
    assert {c: float(v) for c, v in credits.items()} == {"(direct)": 30.0, "display": 70.0, "email": 50.0,
                                                         "partner:P1": 50.0}
    assert [r["partner_id"] for r in rows_of(run / "payouts.csv")] == ["P1"]
    assert payout_cells(run, "coop")["P1"] == ("110.00",)  # DE 100 + * 10; FR's budget is not paid
    outside = manifest["programme"]["outside_pilot"]
    assert outside["partners"] == ["P2"] and [b["scope"] for b in outside["coop"]] == ["FR"]
    assert manifest["parameters"]["programme"]["countries"] == ["DE", "PL"]
    # PL has no partner and no budget: well formed, so said (a code like UK for GB paid nobody silently)
    assert outside["pilot_countries_without_partners"] == ["PL"]
    assert "warning: pilot country PL (--countries) has no partner in force" in res.stderr
    res = invoke("validate", "--config", toml, "--countries", "DE,UK")
    assert res.exit_code == 0 and "warning: pilot country UK" in res.stderr and "pilot country DE" not in res.stderr
    assert "contracts: 2 partner(s) in force for 2026-10, 1 of them in the pilot DE,UK" in res.stderr


def test_countries_in_run_toml_and_bad_codes(tmp_path):
    toml = inputs(tmp_path, PILOT_EVENTS, ["P1,One,DE,EUR,partner:P1,0.10,0,0,0,0,true,half-even,,,"],
                  ["P1,2026-10,0,0"], [], ["period,scope,currency,budget"], {"model": "linear", "countries": ["DE"]})
    res = invoke("validate", "--config", toml)
    assert res.exit_code == 0, res.output
    assert "CHF: GMV read 40.00 = rejected 0.00 + outside the run 40.00" in res.stderr
    assert "EUR: GMV read 270.00 = rejected 0.00 + outside the run 100.00 + in the run 170.00" in res.stderr
    res = invoke("validate", "--config", toml, "--countries", "DEU")
    assert res.exit_code == 2 and "--countries" in res.stderr and "alpha-2" in res.stderr


def test_an_empty_countries_list_is_refused_not_read_as_every_country(tmp_path):
    # run.toml's `countries = []` read as "not given": every country paid, without a word
    toml = inputs(tmp_path, PILOT_EVENTS, ["P1,One,DE,EUR,partner:P1,0.10,0,0,0,0,true,half-even,,,"],
                  ["P1,2026-10,0,0"], [], ["period,scope,currency,budget"], {"model": "linear", "countries": []})
    for command in ("validate", "run"):
        res = invoke(command, "--config", toml)
        assert res.exit_code == 2, res.output
        assert "countries = []" in res.stderr and "empty pilot scope" in res.stderr
    from shapley_attr.config import ConfigError, build_config

    with pytest.raises(ConfigError, match="empty pilot scope"):
        build_config("run", {"countries": ()})


def test_a_partner_channel_without_a_touch_is_said(tmp_path):
    # a mistyped label was credited 0 without a word
    toml = inputs(tmp_path, PILOT_EVENTS, ["P1,One,DE,EUR,partner:P1;partner:PX,0.10,0,0,0,0,true,half-even,,,"],
                  ["P1,2026-10,0,0"], [], ["period,scope,currency,budget"], {"model": "linear", "countries": ["DE"]})
    for command in ("validate", "run"):
        res = invoke(command, "--config", toml)
        assert res.exit_code == 0, res.output
        assert "warning: channel partner:PX of partner P1 has no touch in the run's journeys" in res.stderr
        assert "channel partner:P1 " not in res.stderr


def test_many_partner_channels_without_a_touch_are_counted_not_printed_one_by_one(tmp_path):
    """A programme of 3,000 partners, 1,239 of them quiet in a month, printed 1,239 warning lines; the
    list was nowhere in the run directory. Ten lines and a count now, every pair in the manifest, the
    first 50 named in the report."""
    quiet = [f"Q{k:03d},Quiet {k},DE,EUR,partner:Q{k:03d},0.10,0,0,0,0,true,half-even,,," for k in range(60)]
    toml = inputs(tmp_path, PILOT_EVENTS, ["P1,One,DE,EUR,partner:P1,0.10,0,0,0,0,true,half-even,,,"] + quiet,
                  ["P1,2026-10,0,0"], [], ["period,scope,currency,budget"], {"model": "linear", "countries": ["DE"]})
    for command in ("validate", "run"):
        res = invoke(command, "--config", toml)
        assert res.exit_code == 0, res.output
        warned = [ln for ln in res.stderr.splitlines() if "has no touch in the run's journeys" in ln]
        assert warned == [f"warning: channel partner:Q{k:03d} of partner Q{k:03d} has no touch in the run's journeys: "
                          "credited 0" for k in range(10)], res.stderr
        assert ("warning: ... and 50 more partner channels with no touch in the run's journeys (manifest.json "
                "payouts.channels_without_touch), 60 in all") in res.stderr
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["payouts"]["channels_without_touch"] == [
        {"partner_id": f"Q{k:03d}", "channel": f"partner:Q{k:03d}"} for k in range(60)]
    page = (tmp_path / "run" / "report.html").read_text()
    note = page[page.index('id="channels-without-touch"'):].split("</p>")[0]
    assert note.startswith('id="channels-without-touch">60 partner channels with no touch'), note
    assert "Q049</span> partner:Q049; and 10 more (manifest.json payouts.channels_without_touch)." in note
    assert "Q050" not in note and "P1" not in note


# --- input contracts: exit 2 naming file, row and column ------------------------------------------------------
@pytest.fixture
def econ_dir(tmp_path) -> Path:
    return inputs(tmp_path, ECON_EVENTS, ECON_PARTNERS, ["P1,2026-10,1000.00,150.00"], ECON_FX,
                  ["period,scope,currency,budget", "2026-10,DE,EUR,10.00"], {"model": "linear"}, spend=ECON_SPEND,
                  map=MAP_ROWS, prices=["date,partner_id,sku,price,currency", "2026-10-02,P1,SKU1,99.00,EUR"])


@pytest.mark.parametrize("name,old,new,row,column,words", [
    ("spend", "2026-10,email,EUR,100.00", "2026-10,email,EUR,-1", 1, "spend", ">= 0"),
    ("spend", "2026-10,display,EUR,0", "2026-10,email,EUR,5", 3, "channel", "duplicate spend row"),
    ("spend", "2026-10,display,EUR,0", "2026-13,display,EUR,0", 3, "period", "YYYY-MM"),
    ("spend", "2026-10,display,EUR,0", "2026-10,display,EURO,0", 3, "currency", "ISO 4217"),
    ("map", "SKU1,FR,EUR,100.00,,", "SKU1,FR,EUR,0,,", 2, "map_price", "> 0"),
    ("map", "SKU2,DE,EUR,50.00,2026-10-15,", "SKU2,DE,EUR,50.00,2026-10-14,", 3, "valid_from", "overlaps"),
    ("partners", ",half-even,,,", ",half-even,,,1.5", 1, "map_min_compliance", "between 0 and 1"),
    ("coop", "2026-10,DE,EUR,10.00", "2026-10,DE,EUR,10.00,gmv", 1, "basis", "a KPI"),
    ("coop", "2026-10,DE,EUR,10.00", "2026-10,DE,EUR,10.00,attributed_gmv:0.5;sell_through:0.4", 1, "basis",
     "sum to"),
])
def test_bad_programme_rows_are_exit_2(econ_dir, name, old, new, row, column, words):
    d = econ_dir.parent
    p = d / f"{name}.csv"
    text = p.read_text()
    if name == "coop":
        text = text.replace("period,scope,currency,budget", "period,scope,currency,budget,basis")
    assert old in text
    p.write_text(text.replace(old, new))
    for command in ("run", "validate"):
        res = invoke(command, "--config", econ_dir)
        assert res.exit_code == 2, res.output
        assert f"{name}.csv" in res.stderr and f"row {row}" in res.stderr and repr(column) in res.stderr, res.stderr
        assert words in res.stderr
    assert not (d / "run").exists()


def test_map_inputs_go_together_and_map_basis_needs_them(econ_dir):
    d = econ_dir.parent
    text = econ_dir.read_text().replace('prices = "prices.csv"\n', "")
    econ_dir.write_text(text)
    res = invoke("validate", "--config", econ_dir)
    assert res.exit_code == 2 and "needs both --map" in res.stderr
    econ_dir.write_text(text.replace('map = "map.csv"\n', ""))
    (d / "coop.csv").write_text("period,scope,currency,budget,basis\n2026-10,DE,EUR,10.00,map_compliance\n")
    res = invoke("validate", "--config", econ_dir)
    assert res.exit_code == 2 and "coop.csv" in res.stderr and "'basis'" in res.stderr and "--map" in res.stderr


def test_prices_without_a_needed_column_is_exit_2(econ_dir):
    (econ_dir.parent / "prices.csv").write_text("date,partner_id,sku,price\n2026-10-02,P1,SKU1,99.00\n")
    res = invoke("run", "--config", econ_dir)
    assert res.exit_code == 2 and "prices.csv" in res.stderr and "missing column(s) currency" in res.stderr


def test_validate_reports_the_programme_files(econ_dir):
    (econ_dir.parent / "prices.csv").write_text("date,partner_id,sku,price,currency\n2026-10-02,P1,SKU1,99.00,EUR\n"
                                                "2026-10-03,P1,NOPE,99.00,EUR\n")
    res = invoke("validate", "--config", econ_dir)
    assert res.exit_code == 0, res.output
    for words in ("spend: rows read 4 = accepted 4 + rejected 0", "map: rows read 4 = accepted 4 + rejected 0",
                  "prices: rows read 2 = accepted 1 + rejected 1", "would reject: ", "row 2, column 'sku'",
                  "with the rejects above quarantined"):
        assert words in res.stderr, res.stderr
    res = invoke("validate", "--config", econ_dir, "--map-policy", "keep")
    assert res.exit_code == 2


def test_sample_run_shows_every_programme_figure(tmp_path):
    """The bundled sample's run.toml names the programme inputs: every figure of PROGRAMME.md appears."""
    from shapley_attr.sample import write_sample

    write_sample(tmp_path, journeys=600, seed=5)
    res = invoke("run", "--config", tmp_path / "run.toml")
    assert res.exit_code == 0, res.output
    run = tmp_path / "runs" / PERIOD
    names = {r["kpi"] for r in rows_of(run / "kpis.csv")}
    assert {"spend", "roas", "cpa", "attributed_margin", "roas_last_touch", "programme_profit", "d2c_profit",
            "partners_profit"} <= names
    payouts = rows_of(run / "payouts.csv")
    assert any(r["privileges_withheld"] == "true" for r in payouts)
    compliance = rows_of(run / "map_compliance.csv")
    assert any(r["map_violations"] != "0" for r in compliance) and any(r["map_compliance"] == "" for r in compliance)
    res = invoke("scenarios", run, "--gamma", "0:0.1:0.05")
    assert res.exit_code == 0, res.output
    reasons = {r["reason"] for r in rows_of(run / "scenarios" / "gamma_min.csv")}
    assert {"met_at_zero", "unreachable"} <= reasons


def test_a_pilot_needs_no_rate_for_the_currencies_it_does_not_pay(tmp_path):
    """A partner and a co-op budget outside the pilot are not paid, so their currency (CHF here, with
    no rate in fx.csv) needs no rate; without the pilot the same inputs are refused for it."""
    partners = ["P1,One,DE,EUR,partner:P1,0.10,0,0,0,0,true,half-even,,,",
                "P3,Three,CH,CHF,partner:P3,0.10,0,0,0,0,true,half-even,,,"]
    coop = ["period,scope,currency,budget", "2026-10,DE,EUR,100.00", "2026-10,CH,CHF,80.00"]
    toml = inputs(tmp_path, PILOT_EVENTS, partners, ["P1,2026-10,0,0", "P3,2026-10,0,0"], [], coop, {"model": "linear"})
    res = invoke("run", "--config", toml, "--countries", "DE")
    assert res.exit_code == 0, res.output
    assert [r["partner_id"] for r in rows_of(tmp_path / "run" / "payouts.csv")] == ["P1"]
    outside = json.loads((tmp_path / "run" / "manifest.json").read_text())["programme"]["outside_pilot"]
    assert outside["partners"] == ["P3"] and [b["scope"] for b in outside["coop"]] == ["CH"]
    res = invoke("run", "--config", toml, "--force")
    assert res.exit_code == 2 and "missing FX rate for CHF" in res.stderr
