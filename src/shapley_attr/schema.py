"""Column names of every input and output contract (DATA.md, PROGRAMME.md), defined once.

Readers, writers, the report and the tests name columns through these constants. New output
columns are only ever appended, so imports by position keep working. Imports nothing.
"""
from __future__ import annotations

DIRECT = "(direct)"
"""Pseudo-channel credited with conversions that have no touch in their lookback window."""

# --- inputs ------------------------------------------------------------------------------------
EVENT_COLUMNS = ("user_id", "event_time", "event_type", "channel", "partner", "margin", "country", "order_id",
                 "gmv", "currency")
EVENT_REQUIRED = ("user_id", "event_time", "event_type")
CONVERSION_TEXT = ("order_id", "country", "currency")
"""Event columns read on conversion rows only."""
PARTNER_PREFIX = "partner:"
"""A partner touch's label is ``partner:<partner_id>``."""
PATH_COLUMNS = ("path", "total_conversions", "total_conversion_value", "total_null")
PARTNER_COLUMNS = ("partner_id", "partner_name", "country", "currency", "channels", "gamma", "beta", "rho",
                   "sales_target", "min_profit", "coop_eligible", "rounding", "valid_from", "valid_to")
PARTNER_REQUIRED = ("partner_id", "partner_name", "country", "currency", "gamma", "beta", "rho", "sales_target",
                    "min_profit", "coop_eligible")
SALES_COLUMNS = ("partner_id", "period", "sales", "gross_margin")
FX_COLUMNS = ("date", "currency", "rate_to_reporting")
COOP_COLUMNS = ("period", "scope", "currency", "budget")
PARTNER_OPTIONAL = ("map_min_compliance",)
"""Contract columns of PROGRAMME.md, read when present (empty = no requirement)."""
COOP_OPTIONAL = ("basis",)
"""coop.csv: ``basis`` (PROGRAMME.md "Co-op by KPI"; empty = attributed_gmv)."""
COOP_BASIS_KPIS = ("attributed_gmv", "sell_through", "map_compliance")
SPEND_COLUMNS = ("period", "channel", "currency", "spend")
MAP_COLUMNS = ("sku", "country", "currency", "map_price", "valid_from", "valid_to")
PRICE_COLUMNS = ("date", "partner_id", "sku", "price", "currency")

# --- outputs -----------------------------------------------------------------------------------
CREDIT_COLUMNS = ("channel", "conversions", "gmv", "share", "std_error", "ci_low", "ci_high")
"""``attribute``'s table (then ``bootstrap_low, bootstrap_high`` when a bootstrap ran, then
``model, game``)."""
BOOTSTRAP_COLUMNS = ("bootstrap_low", "bootstrap_high", "bootstrap_values")
ATTRIBUTION_COLUMNS = ("period", "model", "game") + CREDIT_COLUMNS
"""``attribution.csv`` of a run directory (then the bootstrap columns when a bootstrap ran)."""
MODELS_COLUMNS = ("period", "model", "game", "channel", "conversions", "gmv", "share")
POSITION_COLUMNS = ("period", "model", "game", "channel", "position", "conversions", "gmv")
PAYOUT_COLUMNS = ("period", "partner_id", "partner_name", "country", "currency", "attributed_gmv", "gamma",
                  "compensation", "referral_gmv", "beta", "referral_commission", "sales", "sales_target", "rho",
                  "rebate", "coop", "total_payable", "below_min_profit", "run_id")
PAYOUT_INTERVAL_COLUMNS = ("attributed_gmv_low", "attributed_gmv_high")
PAYOUT_MAP_COLUMNS = ("map_compliance", "privileges_withheld")
"""Appended to payouts.csv when the run has MAP inputs (before the interval columns, which come last)."""
KPI_COLUMNS = ("period", "kpi", "scope", "value")
MAP_COMPLIANCE_COLUMNS = ("partner_id", "map_observations", "map_violations", "map_compliance")
SCENARIO_COLUMNS = ("gamma", "beta", "rho", "currency", "total_payable", "partners_below_min_profit",
                    "total_payable_reporting")
SCENARIO_MARGIN_COLUMNS = ("d2c_margin_after_payouts", "programme_profit")
"""Appended to scenarios.csv when the run had order margins."""
GAMMA_MIN_COLUMNS = ("partner_id", "currency", "gamma_min", "reason")
REJECT_COLUMNS = ("source", "row", "column", "value", "reason")


def spelt_otherwise(columns, names) -> list[tuple[str, str]]:
    """``(name, column)`` for each of ``names`` that ``columns`` lacks and each column that spells it
    otherwise: in another case or with spaces around it (``User_ID``, `` gmv``), in ``names``' then
    ``columns``' order. Names are exact; this is what the messages suggest, never what is read."""
    present = set(columns)
    return [(name, c) for name in names if name not in present
            for c in columns if c != name and c.strip().lower() == name]
