"""The result record every model returns."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(eq=False)
class ModelResult:
    """Per-channel credits of one model on one PathTable.

    ``credit[:, 0]`` are conversions and ``credit[:, 1]`` GMV credited to each channel (indexed like
    ``PathTable.channels``). ``std_error``, ``ci_low`` and ``ci_high`` (Monte Carlo estimates) are in
    the unit of the attributed value (``params.value``) or ``None`` when the credit is exact.
    ``info`` holds the choices made, for the manifest (method chosen, fallbacks, stop reason, ...).
    ``extra`` holds model-specific tables: the ordered game's credit per touch position
    (``positions``), Monte Carlo standard errors of the GMV credits (``gmv_std_error``, whatever the
    attributed value), the bootstrap's interval and replicate draws (``bootstrap``).
    """

    channels: tuple[str, ...]
    credit: np.ndarray  # float64 (n_channels, 2)
    std_error: np.ndarray | None = None
    ci_low: np.ndarray | None = None
    ci_high: np.ndarray | None = None
    info: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
