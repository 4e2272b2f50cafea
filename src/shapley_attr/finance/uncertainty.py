"""Uncertainty on payouts (DATA.md, "Uncertainty on payouts"): intervals on each partner's attributed
GMV, and the partners whose compensation carries Monte Carlo noise above half a minor unit.

A partner's attributed GMV is the sum of its channels' credits, so its interval is that of the sum:
- after a bootstrap, the 2.5% and 97.5% percentiles of the sum over the replicates' draws (each
  replicate refits the model, Monte Carlo included, so the interval holds both kinds of noise);
- with Monte Carlo credits alone, ± 1.96 · Σ_c se_c over the partner's channels: the standard error
  of a sum is at most the sum of the standard errors (the channels' estimates are correlated through
  efficiency), so the interval is conservative, never too narrow.
The compensation's Monte Carlo 95% half-width is γ times the attributed GMV's (after conversion to
the partner's currency); above half the currency's minor unit the rounded payout could differ
between two seeds, so the partner is listed and warned about.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from .money import CONTEXT, quantize, quantum, to_decimal

Z95 = 1.959963984540054


@dataclass(frozen=True)
class PayoutInterval:
    partner_id: str
    currency: str
    low: Decimal  # attributed GMV, partner's currency, rounded like the payout line
    high: Decimal
    compensation_half_width: Decimal | None  # Monte Carlo only, partner's currency, unrounded

    @property
    def noisy(self) -> bool:
        """The compensation's MC half-width exceeds half of the currency's minor unit."""
        return (self.compensation_half_width is not None
                and self.compensation_half_width > quantum(self.currency) / 2)


def payout_intervals(lines, channels: tuple[str, ...], gmv_std_error: np.ndarray | None,
                     bootstrap_draws: np.ndarray | None, rate) -> dict[str, PayoutInterval] | None:
    """Per partner line (``payouts.PayoutLine``), the 95% interval of its attributed GMV, or None when the
    credits are exact and no bootstrap ran. ``rate(currency)`` is the period's last-day rate_to_reporting
    (Decimal); amounts in the reporting currency are divided by it, as the payouts are."""
    if gmv_std_error is None and bootstrap_draws is None:
        return None
    index = {c: i for i, c in enumerate(channels)}
    out = {}
    for ln in lines:
        p = ln.partner
        cols = [index[c] for c in p.channels if c in index]
        r = rate(p.currency)
        half = None
        if gmv_std_error is not None:
            half = Z95 * float(np.sum(gmv_std_error[cols])) if cols else 0.0
        if bootstrap_draws is not None:
            sums = bootstrap_draws[:, cols].sum(axis=1) if cols else np.zeros(len(bootstrap_draws))
            low_rep, high_rep = (float(v) for v in np.percentile(sums, [2.5, 97.5], method="linear"))
            low, high = to_decimal(low_rep), to_decimal(high_rep)
        else:
            low = ln.attributed_gmv_reporting - to_decimal(half)
            high = ln.attributed_gmv_reporting + to_decimal(half)
        comp_half = None
        if half is not None:
            comp_half = p.gamma * CONTEXT.divide(to_decimal(half), r)
        out[p.partner_id] = PayoutInterval(p.partner_id, p.currency,
                                           quantize(CONTEXT.divide(low, r), p.currency, p.rounding),
                                           quantize(CONTEXT.divide(high, r), p.currency, p.rounding), comp_half)
    return out


def noise_records(intervals: dict[str, PayoutInterval] | None) -> list[dict]:
    """``payout_noise`` of the manifest: the noisy partners with their compensation's half-width."""
    if not intervals:
        return []
    return [{"partner_id": i.partner_id, "currency": i.currency,
             "half_width": f"{i.compensation_half_width.quantize(quantum(i.currency) / 1000, context=CONTEXT):f}",
             "half_minor_unit": f"{quantum(i.currency) / 2:f}"}
            for i in sorted(intervals.values(), key=lambda i: i.partner_id) if i.noisy]


def noise_warnings(records: list[dict], hint: str = "lower --tolerance or use --noise-free-payouts") -> list[str]:
    return [f"warning: partner {r['partner_id']}: the Monte Carlo 95% half-width of its compensation is "
            f"{r['half_width']} {r['currency']}, above half a minor unit ({r['half_minor_unit']}): the paid amount "
            f"depends on the sampling; {hint}" for r in records]


def tolerance_for_exact_payouts(lines, rate, gmv_total: float, alpha: float) -> float | None:
    """The Monte Carlo tolerance (largest 95% half-width / total, per channel) under which every
    partner's compensation half-width stays below half its minor unit; None when no partner is paid
    on credits (γ = 0 everywhere). Bound used: a partner's half-width ≤ n_channels · α · tol · total."""
    needed = []
    for ln in lines:
        p = ln.partner
        if p.gamma <= 0 or gmv_total <= 0:
            continue
        limit = quantum(p.currency) / 2 * rate(p.currency)  # reporting currency
        needed.append(float(limit) / (float(p.gamma) * max(len(p.channels), 1) * max(alpha, 1e-12) * gmv_total))
    return min(needed) if needed else None
