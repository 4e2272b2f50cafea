"""Where the heavy part of a run happens: reading, validation, FX and the journey cut.

Every engine takes a :class:`~shapley_attr.config.RunConfig` (and the FX rates when GMV is
converted) and returns a :class:`LoadedInput`: the unique-paths table the models read, the rejects,
the reconciliation and the journey counts. Models, payouts and writers are the same for every engine.

- ``local`` (default): this machine, Polars and the compiled kernels, embedded.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Mapping

import polars as pl

from ..frames import PathTable
from ..reconcile import Reconciliation


@dataclass(frozen=True)
class FxRates:
    """FX rates read from ``source``: ``(date, currency) -> rate_to_reporting`` (reporting = amount × rate)."""

    rates: Mapping[tuple[date, str], Decimal]
    source: str


@dataclass(frozen=True, eq=False)
class LoadedInput:
    """An input read, validated and cut into journeys: the hand-off from an engine to the models.

    ``table`` holds the run's journeys, ``(direct)`` included, values in ``reconciliation.currency``.
    ``journeys`` are the counts of the journey cut (events input) for the manifest;
    ``country_gmv``/``country_conversions`` cover the run's conversions per country (KPIs).
    """

    source: str
    kind: str  # "events" | "paths"
    table: PathTable
    rejects: pl.DataFrame
    reconciliation: Reconciliation
    journeys: Mapping[str, int] = field(default_factory=dict)
    order_ids_derived: int = 0
    country_gmv: Mapping[str, float] = field(default_factory=dict)
    country_conversions: Mapping[str, int] = field(default_factory=dict)
    has_timestamps: bool = False
    margins: object = None  # finance.programme.OrderMargins: the run's order margins (events with margins, run)


def load(config, source=None, fx: FxRates | None = None) -> LoadedInput:
    """Read ``source`` (default ``config.events``) with the engine named in ``config``."""
    if config.engine == "spark":
        from .spark import load as load_spark

        return load_spark(config, source, fx)
    from ..io.readers import zones_read_as_utc
    from .local import load as load_local

    with zones_read_as_utc():  # every read of the input happens in the load
        return load_local(config, source, fx)
