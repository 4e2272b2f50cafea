"""Co-op budgets paid to partners in another currency (battery 4, F13).

A budget is split in its own minor units; an allocation to a partner in another currency is converted
at the period's last-day rates and rounded to the partner's minor unit. An allocation that rounds to 0
is not paid and is carried over; every allocation records what it paid in the partner's currency; the
budget records the conversion rounding, exactly, in the reporting currency (finance/payouts.py). So
``budget = spent + carried_over`` holds in the budget's currency and payouts.csv's coop column is the
sum of what the allocations paid.

Every expected figure below is computed by hand in the comments beside it, never by the code under
test; the property test checks the identities with exact fractions of its own.
"""
from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal as D
from fractions import Fraction
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from shapley_attr.cli import cli
from shapley_attr.finance.contracts import CoopBudget, Partner
from shapley_attr.finance.money import minor_units
from shapley_attr.finance.payouts import compute_payouts
from shapley_attr.io.tables import payouts_csv
from shapley_attr.manifest import coop_record

PERIOD = "2026-10"
LAST_DAY = date(2026, 10, 31)
BASIS = (("attributed_gmv", D(1)),)
SHORT_RECORD = {"scope", "currency", "budget", "spent", "carried_over", "allocations", "basis"}
CONVERSION_KEYS = {"paid_in_partner_currency", "carried_over_unpaid", "rates_to_reporting", "conversion_rounding"}


def partner(pid, currency="EUR", country="DE", rounding="half-even", eligible=True):
    return Partner(pid, pid, country, currency, (f"partner:{pid}",), D(0), D(0), D(0), D(0), D(0), eligible,
                   rounding, None, None, 1)


def pay(partners, gmv, budgets, rates):
    """compute_payouts with EUR as the reporting currency, ``rates`` (currency -> rate_to_reporting)
    on the period's last day and ``budgets`` as (scope, currency, amount)."""
    return compute_payouts(partners, {f"partner:{p}": g for p, g in gmv.items()}, {},
                           {p.partner_id: (D(0), D(0)) for p in partners},
                           {(LAST_DAY, c): D(r) for c, r in rates.items()},
                           [CoopBudget(s, c, D(a), i + 1, BASIS) for i, (s, c, a) in enumerate(budgets)],
                           PERIOD, "EUR")


def coop_column(result) -> dict[str, str]:
    """payouts.csv's coop cell per partner, as the run writes it."""
    text = payouts_csv(result, PERIOD, "rid").decode("utf-8")
    return {r["partner_id"]: r["coop"] for r in csv.DictReader(io.StringIO(text, newline=""))}


# --- by hand ---------------------------------------------------------------------------------------
def test_allocation_converting_to_nothing_is_carried_over_not_spent():
    # F13: DE's budget 0.001 KWD (one fils), all of it to A, who is paid in EUR:
    # 0.001 KWD · 2.80 EUR/KWD = 0.0028 EUR, 0.00 at the cent. Not paid: carried over, not spent.
    result = pay([partner("A")], {"A": 100.0}, [("DE", "KWD", "0.001")], {"KWD": "2.80"})
    (b,) = result.coop
    assert result.lines[0].coop == 0
    assert (b.spent, b.carried_over) == (D("0.000"), D("0.001"))
    assert b.allocations == (("A", D("0.000")),) and b.unpaid == (("A", D("0.001")),)
    assert b.paid == (("A", "EUR", D("0.00")),) and b.conversion_rounding == 0  # nothing paid, nothing spent
    rec = coop_record(b)
    assert (rec["budget"], rec["spent"], rec["carried_over"]) == ("0.001", "0.000", "0.001")
    assert rec["carried_over_unpaid"] == {"A": "0.001"} and rec["allocations"] == {"A": "0.000"}
    assert rec["paid_in_partner_currency"] == {"A": {"amount": "0.00", "currency": "EUR"}}
    assert rec["conversion_rounding"] == {"amount": "0.00", "currency": "EUR"}
    assert rec["rates_to_reporting"] == {"EUR": "1", "KWD": "2.80"}
    assert result.notes == ["co-op budget DE 0.001 KWD (coop row 1): partner A's allocation of 0.001 KWD is "
                            "0.002800 EUR at the rates of 2026-10-31 (to 6 decimals), 0 in EUR's minor unit: "
                            "not paid, carried over"]


def test_allocation_rounded_up_is_reported_as_conversion_rounding():
    # 1 JPY to A (EUR): 1 · 0.0061 = 0.0061 EUR → 0.01 EUR paid. The budget is spent (1 JPY), and the
    # rounding gave A 0.01 − 0.0061 = 0.0039 EUR more than the yen were worth.
    result = pay([partner("A")], {"A": 100.0}, [("DE", "JPY", "1")], {"JPY": "0.0061"})
    (b,) = result.coop
    assert result.lines[0].coop == D("0.01") and (b.spent, b.carried_over, b.unpaid) == (D(1), D(0), ())
    assert b.conversion_rounding == D("0.0039") and coop_record(b)["conversion_rounding"] == {
        "amount": "0.0039", "currency": "EUR"}
    assert result.notes == []


def test_exact_half_follows_the_partner_rounding_mode():
    # 0.01 EUR to a JPY partner at 0.02 EUR/JPY = 0.5 JPY exactly.
    # half-even: 0 JPY → not paid, 0.01 EUR carried over; half-up: 1 JPY paid, worth 0.02 EUR: +0.01 EUR.
    even = pay([partner("A", "JPY")], {"A": 1.0}, [("DE", "EUR", "0.01")], {"JPY": "0.02"}).coop[0]
    assert (even.spent, even.carried_over, even.unpaid, even.conversion_rounding) == (
        D("0.00"), D("0.01"), (("A", D("0.01")),), 0)
    up = pay([partner("A", "JPY", rounding="half-up")], {"A": 1.0}, [("DE", "EUR", "0.01")], {"JPY": "0.02"})
    assert up.lines[0].coop == 1 and (up.coop[0].spent, up.coop[0].carried_over) == (D("0.01"), D("0.00"))
    assert up.coop[0].conversion_rounding == D("0.01") and coop_column(up) == {"A": "1"}


def test_mixed_budget_by_hand():
    # 100.00 EUR over A (EUR) 1, B (GBP) 1, C (JPY) 2 → 2500, 2500, 5000 cents: 25.00, 25.00, 50.00 EUR.
    # B: 25.00 / 1.15 = 21.7391… → 21.74 GBP; C: 50.00 / 0.0061 = 8196.72… → 8197 JPY.
    # Worth in EUR: 25.00 + 21.74 · 1.15 (25.001) + 8197 · 0.0061 (50.0017) = 100.0027: rounding +0.0027.
    parts = [partner("A"), partner("B", "GBP"), partner("C", "JPY")]
    result = pay(parts, {"A": 10.0, "B": 10.0, "C": 20.0}, [("DE", "EUR", "100.00")],
                 {"GBP": "1.15", "JPY": "0.0061"})
    (b,) = result.coop
    assert b.allocations == (("A", D("25.00")), ("B", D("25.00")), ("C", D("50.00")))
    assert b.paid == (("A", "EUR", D("25.00")), ("B", "GBP", D("21.74")), ("C", "JPY", D(8197)))
    assert (b.spent, b.carried_over, b.conversion_rounding) == (D("100.00"), D("0.00"), D("0.0027"))
    assert coop_column(result) == {"A": "25.00", "B": "21.74", "C": "8197"}


def test_same_currency_budget_keeps_its_short_record():
    # 1.00 EUR over A 1 : B 2 (both EUR): 33.33 and 66.67 cents → 0.33 and 0.67, as before F13.
    result = pay([partner("A"), partner("B")], {"A": 1.0, "B": 2.0}, [("DE", "EUR", "1.00")], {})
    (b,) = result.coop
    assert not b.converted and b.conversion_rounding == 0 and b.unpaid == ()
    assert b.paid == (("A", "EUR", D("0.33")), ("B", "EUR", D("0.67")))
    rec = coop_record(b)
    assert set(rec) == SHORT_RECORD and rec["allocations"] == {"A": "0.33", "B": "0.67"}
    assert coop_record(pay([partner("A")], {"A": 0.0}, [("DE", "KWD", "5.000")], {"KWD": "2.8"}).coop[0]) == {
        "scope": "DE", "currency": "KWD", "budget": "5.000", "spent": "0.000", "carried_over": "5.000",
        "allocations": {}, "basis": "attributed_gmv"}  # no eligible credit: carried over, nothing converted


# --- a run, through the CLI ------------------------------------------------------------------------
PARTNERS_HEADER = ("partner_id,partner_name,country,currency,channels,gamma,beta,rho,sales_target,min_profit,"
                   "coop_eligible,rounding,valid_from,valid_to,map_min_compliance")


def test_run_reconciles_coop_to_payouts(tmp_path):
    d = tmp_path
    (d / "events.csv").write_text(
        "user_id,event_time,event_type,channel,country,order_id,gmv,currency\n"
        "u1,2026-10-02T09:00:00Z,touch,partner:P1,DE,,,\nu1,2026-10-02T10:00:00Z,conversion,,DE,o1,300,EUR\n"
        "u2,2026-10-03T09:00:00Z,touch,partner:P2,DE,,,\nu2,2026-10-03T10:00:00Z,conversion,,DE,o2,100,EUR\n")
    (d / "partners.csv").write_text(PARTNERS_HEADER + "\nP1,One,DE,EUR,partner:P1,0,0,0,0,0,true,half-even,,,\n"
                                    "P2,Two,DE,GBP,partner:P2,0,0,0,0,0,true,half-up,,,\n")
    (d / "sales.csv").write_text("partner_id,period,sales,gross_margin\nP1,2026-10,0,0\nP2,2026-10,0,0\n")
    (d / "fx.csv").write_text("date,currency,rate_to_reporting\n2026-10-31,GBP,1.15\n2026-10-31,JPY,0.0061\n"
                              "2026-10-31,KWD,2.80\n")
    (d / "coop.csv").write_text("period,scope,currency,budget\n2026-10,DE,KWD,0.001\n2026-10,DE,JPY,1\n"
                                "2026-10,DE,EUR,100.00\n2026-10,DE,GBP,10.00\n")
    (d / "run.toml").write_text('events = "events.csv"\npartners = "partners.csv"\nsales = "sales.csv"\n'
                                'fx = "fx.csv"\ncoop = "coop.csv"\nperiod = "2026-10"\nout = "run"\n'
                                'model = "linear"\nlookback_days = 30\n')
    res = CliRunner().invoke(cli, ["run", "--config", str(d / "run.toml")])
    assert res.exit_code == 0, res.output
    # credits (one touch per journey): P1 300, P2 100 EUR → weights 3 : 1. Budgets by (scope, currency):
    # EUR 100.00: 7500 : 2500 cents → P1 75.00 EUR; P2 25.00 EUR / 1.15 = 21.739… → 21.74 GBP
    #   (21.74 · 1.15 = 25.001: rounding +0.001 EUR).
    # GBP 10.00: 750 : 250 pence → P1 7.50 GBP · 1.15 = 8.625 → 8.62 EUR (half-even; −0.005 EUR); P2 2.50 GBP.
    # JPY 1: quotas 0.75 and 0.25 → the yen to P1: 0.0061 EUR → 0.01 EUR (+0.0039 EUR); P2 0 JPY, 0.00 GBP.
    # KWD 0.001: the fils to P1: 0.0028 EUR → 0.00: not paid, carried over.
    # P1: 75.00 + 8.62 + 0.01 + 0.00 = 83.63 EUR; P2: 21.74 + 2.50 + 0.00 + 0.00 = 24.24 GBP.
    run = d / "run"
    rows = {r["partner_id"]: r for r in csv.DictReader(io.StringIO((run / "payouts.csv").read_text(), newline=""))}
    assert {p: r["coop"] for p, r in rows.items()} == {"P1": "83.63", "P2": "24.24"}
    coop = {b["currency"]: b for b in json.loads((run / "manifest.json").read_text())["payouts"]["coop"]}
    assert [c for c in coop] == ["EUR", "GBP", "JPY", "KWD"]
    assert {c: b["conversion_rounding"]["amount"] for c, b in coop.items()} == {
        "EUR": "0.001", "GBP": "-0.005", "JPY": "0.0039", "KWD": "0.00"}
    assert {c: (b["spent"], b["carried_over"], b["carried_over_unpaid"]) for c, b in coop.items()} == {
        "EUR": ("100.00", "0.00", {}), "GBP": ("10.00", "0.00", {}), "JPY": ("1", "0", {}),
        "KWD": ("0.000", "0.001", {"P1": "0.001"})}
    assert coop["GBP"]["paid_in_partner_currency"] == {"P1": {"amount": "8.62", "currency": "EUR"},
                                                        "P2": {"amount": "2.50", "currency": "GBP"}}
    assert coop["EUR"]["rates_to_reporting"] == {"EUR": "1", "GBP": "1.15"}
    # what finance does: the coop column is the sum of what the budgets paid each partner
    paid: dict[str, D] = {}
    for b in coop.values():
        for pid, p in b["paid_in_partner_currency"].items():
            assert p["currency"] == rows[pid]["currency"]
            paid[pid] = paid.get(pid, D(0)) + D(p["amount"])
    assert paid == {"P1": D("83.63"), "P2": D("24.24")}
    assert "co-op budget carried over: DE 0.001 KWD" in res.stderr
    assert "partner P1's allocation of 0.001 KWD is 0.002800 EUR" in res.stderr


# --- property: the identities hold exactly ---------------------------------------------------------
CURRENCIES = ["EUR", "GBP", "JPY", "KWD", "CLF"]  # minor units 2, 2, 0, 3, 4


@st.composite
def coop_cases(draw):
    rates = {c: draw(st.decimals(min_value=D("0.0001"), max_value=D(500), places=draw(st.integers(0, 7))))
             for c in CURRENCIES if c != "EUR"}
    rates = {c: r if r > 0 else D("0.0001") for c, r in rates.items()}
    n = draw(st.integers(1, 6))
    parts = [partner(f"P{i}", draw(st.sampled_from(CURRENCIES)), draw(st.sampled_from(["DE", "FR"])),
                     draw(st.sampled_from(["half-even", "half-up"])), draw(st.booleans())) for i in range(n)]
    gmv = {f"P{i}": float(draw(st.integers(-5, 10**6))) for i in range(n)}
    budgets = []
    for _ in range(draw(st.integers(1, 4))):
        ccy = draw(st.sampled_from(CURRENCIES))
        units = draw(st.one_of(st.integers(0, 20), st.integers(0, 10**11)))
        budgets.append((draw(st.sampled_from(["DE", "FR", "*"])), ccy, str(D(units).scaleb(-minor_units(ccy)))))
    return parts, gmv, budgets, rates


@settings(max_examples=300, deadline=None)
@given(case=coop_cases())
def test_budget_identity_and_coop_column_hold_exactly(case):
    parts, gmv, budgets, rates = case
    result = pay(parts, gmv, budgets, {c: str(r) for c, r in rates.items()})
    rate = {"EUR": Fraction(1)} | {c: Fraction(r) for c, r in rates.items()}
    ccy_of = {p.partner_id: p.currency for p in parts}
    paid_total = {p.partner_id: Fraction(0) for p in parts}
    for b in result.coop:
        rec = coop_record(b)
        assert D(rec["spent"]) + D(rec["carried_over"]) == D(rec["budget"])
        assert sum((D(v) for v in rec["allocations"].values()), D(0)) == D(rec["spent"])
        if b.converted:
            assert set(rec) == SHORT_RECORD | CONVERSION_KEYS
            paid = {pid: (p["currency"], D(p["amount"])) for pid, p in rec["paid_in_partner_currency"].items()}
        else:  # every allocation in the budget's currency: the allocation is what was paid
            assert set(rec) == SHORT_RECORD and all(ccy_of[pid] == b.currency for pid in rec["allocations"])
            paid = {pid: (b.currency, D(a)) for pid, a in rec["allocations"].items()}
        unpaid = {pid: D(a) for pid, a in rec.get("carried_over_unpaid", {}).items()}
        assert set(paid) == set(rec["allocations"]) and set(unpaid) <= set(paid)
        shares = {pid: D(a) + unpaid.get(pid, D(0)) for pid, a in rec["allocations"].items()}
        if shares:  # a split: every minor unit went to a partner; what is carried over is what was not paid
            assert sum(shares.values(), D(0)) == D(rec["budget"])
            assert D(rec["carried_over"]) == sum(unpaid.values(), D(0))
        else:
            assert D(rec["carried_over"]) == D(rec["budget"])
        quantum = {c: Fraction(1, 10 ** minor_units(c)) for c in CURRENCIES}
        for pid, (ccy, amount) in paid.items():
            assert ccy == ccy_of[pid]
            exact = Fraction(shares[pid]) * rate[b.currency] / rate[ccy]
            assert abs(Fraction(amount) - exact) <= quantum[ccy] / 2  # rounded once, to the nearest
            assert Fraction(amount) % quantum[ccy] == 0
            if ccy == b.currency:
                assert amount == shares[pid] and pid not in unpaid
            elif amount == 0 and shares[pid] > 0:
                assert pid in unpaid and D(rec["allocations"][pid]) == 0  # never counted as spent
            else:
                assert pid not in unpaid
            paid_total[pid] += Fraction(amount)
        # the conversion rounding, exactly: what was paid, worth in EUR, less what was spent, worth in EUR
        worth = sum((Fraction(a) * rate[c] for c, a in paid.values()), Fraction(0))
        expected = worth - Fraction(D(rec["spent"])) * rate[b.currency]
        if b.converted:
            assert Fraction(D(rec["conversion_rounding"]["amount"])) == expected
            assert rec["conversion_rounding"]["currency"] == "EUR"
            assert {c: D(r) for c, r in rec["rates_to_reporting"].items()} == {
                c: D(rates.get(c, 1)) for c in {b.currency} | {c for c, _ in paid.values()}}
        else:
            assert expected == 0
    column = coop_column(result)
    assert {pid: Fraction(D(v)) for pid, v in column.items()} == paid_total
