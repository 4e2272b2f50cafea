"""The run manifest: what went in (hashes), what was decided, what came out, and how it reconciles
(docs/run-directory.md). Built here from the run's typed records, and nowhere else."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

BLOCK = 1 << 20


def file_digest(path) -> dict:
    """An input's path, size and SHA-256. A directory export (Parquet parts, read as
    ``io.readers.data_files`` lists them) is hashed as the text ``<sha256>  <relative path>`` of each
    part, one line each in that order (what ``sha256sum`` prints), its size the parts' sum; a URL (read
    by the Spark engine, not on this machine) is recorded without a hash."""
    text = str(path)
    if "://" in text:
        return {"path": text, "size": None, "sha256": None, "not_hashed": "a URL: not a file on this machine"}
    path = Path(path)
    if path.is_dir():
        from .io.readers import data_files

        listing, size = hashlib.sha256(), 0
        for part in data_files(path):
            digest = file_digest(part)
            listing.update(f"{digest['sha256']}  {part.relative_to(path).as_posix()}\n".encode())
            size += digest["size"]
        return {"path": text, "size": size, "sha256": listing.hexdigest()}
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(BLOCK):
            h.update(chunk)
    return {"path": text, "size": path.stat().st_size, "sha256": h.hexdigest()}


def altered_outputs(run_dir: Path, manifest: dict, names) -> list[str]:
    """Those of the run's tables ``names`` present in ``run_dir`` whose bytes are not the ones the
    manifest's ``output_sha256`` records (a manifest without it, from an older run, records none)."""
    recorded = manifest.get("output_sha256") if isinstance(manifest, dict) else None
    if not isinstance(recorded, dict):
        return []
    return [name for name in names if isinstance(recorded.get(name), str) and (run_dir / name).is_file()
            and file_digest(run_dir / name)["sha256"] != recorded[name]]


def run_id(inputs: dict[str, dict], parameters: dict) -> str:
    """A hash of the inputs' contents and the parameters: the same run gets the same id."""
    payload = json.dumps({"inputs": {k: v["sha256"] for k, v in sorted(inputs.items())}, "parameters": parameters},
                         sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def to_json(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True, default=str, allow_nan=False) + "\n").encode("utf-8")


def build_manifest(prep, attribution, payouts, rid: str, outputs: list[str], timings: dict,
                   payout_noise: list[dict] | None = None, files: dict[str, bytes] | None = None) -> dict:
    """The manifest of a run (docs/run-directory.md) from the run's typed records; ``files`` (name ->
    bytes, the run's tables) get their SHA-256 in ``output_sha256``, which ``report`` and ``scenarios``
    check before they read a table (an edited payouts.csv was rendered and recomputed as the run's)."""
    from . import __version__
    from .finance.money import format_amount
    from .pipeline import untouched_channels

    config = attribution.config
    loaded = attribution.loaded
    fin = prep.finance
    inputs = {k: dict(v) for k, v in prep.digests.items()}
    for name, rows in fin.rows.items():
        inputs[name]["rows"] = dict(rows)
    for name, rows in (prep.programme.rows if prep.programme is not None else {}).items():
        inputs[name]["rows"] = dict(rows)
    rec = attribution.reconciliation
    inputs["events"]["rows"] = {"read": rec.rows_read, "accepted": rec.rows_accepted, "rejected": rec.rows_rejected}
    params = config.model
    info = attribution.result.info
    return {
        "tool": "shapley_attr",
        "version": __version__,
        "run_id": rid,
        "engine": engine_record(config),
        "period": config.period,
        "reporting_currency": config.reporting_currency,
        "model": params.as_dict() | {"game": params.game_label, "method": info.get("method", "exact")},
        "choices": info,
        "parameters": config.parameters(),
        "inputs": inputs,
        "order_ids": {"derived": loaded.order_ids_derived, "rule": _derived_rule()},
        "journeys": dict(loaded.journeys),
        "reconciliation": rec.as_dict(),
        "payouts": {
            "partners": len(payouts.lines),
            "not_in_force": list(fin.not_in_force),
            "below_min_profit": [ln.partner.partner_id for ln in payouts.lines if ln.below_min_profit],
            "min_profit_unchecked": [ln.partner.partner_id for ln in payouts.lines if ln.below_min_profit is None],
            "channels_without_touch": [{"partner_id": pid, "channel": ch} for pid, ch in untouched_channels(prep)],
            "notes": list(payouts.notes),
            "totals_by_currency": {c: {k: format_amount(v, c) for k, v in t.items()}
                                   for c, t in payouts.totals_by_currency().items()},
            "coop": [coop_record(b) for b in payouts.coop],
            "payout_noise": list(payout_noise or []),
        },
        "programme": programme_record(prep, attribution, payouts),
        "timings_seconds": {k: round(v, 3) for k, v in timings.items()},
        "outputs": outputs,
        "output_sha256": {name: hashlib.sha256(data).hexdigest() for name, data in sorted((files or {}).items())},
    }


def coop_record(b) -> dict:
    """One co-op budget (a ``CoopAllocation``): budget = spent + carried_over in its currency, and each
    allocation (spent, in the budget's currency). A budget with an allocation to a partner in another
    currency also gets what each allocation paid in the partner's currency (``paid_in_partner_currency``,
    whose sums per partner are payouts.csv's coop column), the allocations that converted to 0 and were
    carried over instead (``carried_over_unpaid``, budget's currency), the last-day rates used and
    ``conversion_rounding``: Σ paid · rate − spent · rate of the budget's currency, exact, in the
    reporting currency (finance/payouts.py). A budget paid in its own currency only keeps the shorter
    entry: there paid = allocation and the rounding is 0."""
    from .finance.money import format_amount

    record = {"scope": b.scope, "currency": b.currency, "budget": format_amount(b.budget, b.currency),
              "spent": format_amount(b.spent, b.currency), "carried_over": format_amount(b.carried_over, b.currency),
              "allocations": {pid: format_amount(a, b.currency) for pid, a in b.allocations}, "basis": b.basis_text}
    if b.converted:
        record |= {"paid_in_partner_currency": {pid: {"amount": format_amount(a, c), "currency": c}
                                                for pid, c, a in b.paid},
                   "carried_over_unpaid": {pid: format_amount(a, b.currency) for pid, a in b.unpaid},
                   "rates_to_reporting": {c: f"{r:f}" for c, r in b.rates},
                   "conversion_rounding": {"amount": b.conversion_rounding_text, "currency": b.reporting}}
    return record


def programme_record(prep, attribution, payouts) -> dict:
    """PROGRAMME.md's figures that are not in a file of their own: the order margins (what ``scenarios``
    needs for Π), spend per channel, the MAP policy's outcome and worst violations, the pilot scope."""
    from .finance.money import format_amount

    config, reporting = attribution.config, attribution.config.reporting_currency
    extra = prep.programme
    margins = attribution.loaded.margins
    record: dict = {"margins": None if margins is None else margins.as_dict(reporting),
                    "spend": None, "map": None, "countries": None if config.countries is None else list(config.countries),
                    "outside_pilot": None}
    if extra is None:
        return record
    if extra.spend is not None:
        record["spend"] = {"reporting": {ch: format_amount(v, reporting)
                                         for ch, v in extra.spend.items()},
                           "by_currency": {ch: {c: f"{a:f}" for c, a in sorted(v.items())}
                                           for ch, v in extra.spend_by_currency.items()}}
    if extra.has_map:
        record["map"] = {"policy": config.map_policy,
                         "below_minimum": [ln.partner.partner_id for ln in payouts.lines if ln.below_map_minimum],
                         "privileges_withheld": [ln.partner.partner_id for ln in payouts.lines
                                                 if ln.privileges_withheld],
                         "worst_violations": extra.worst_violations(5)}
    if config.countries:
        record["outside_pilot"] = {"partners": list(extra.outside_partners),
                                   "coop": [{"scope": b.scope, "currency": b.currency,
                                             "budget": format_amount(b.budget, b.currency), "row": b.row}
                                            for b in extra.outside_budgets],
                                   "conversions_of_the_period": int(attribution.loaded.journeys.get(
                                       "conversions_outside_countries", 0)),
                                   "pilot_countries_without_partners": list(extra.pilot_without_partners)}
    return record


def engine_record(config) -> dict:
    """The engine of a run, for the manifest: its name, and Spark's version, master and configuration."""
    if config.engine != "spark":
        return {"name": config.engine}
    from .engines.spark import describe

    return describe(config)


def _derived_rule() -> str:
    from .io.events import DERIVED_ORDER_ID_RULE

    return DERIVED_ORDER_ID_RULE
