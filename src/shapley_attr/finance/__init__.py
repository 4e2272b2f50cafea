"""Money and the monthly payouts: Decimal amounts, contracts, payout rules, co-op, KPIs.

Nothing here uses floats for money: attribution credits (float64) enter once through
:func:`money.to_decimal` and every amount after that is a ``Decimal`` rounded with an explicit mode.
"""
