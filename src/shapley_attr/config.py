"""Defaults, limits and the frozen parameter records of a run.

Nothing here imports from the rest of the package: every other module reads its defaults from here,
so that the CLI, the Python API and the manifest agree on one set of numbers.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

# --- names -----------------------------------------------------------------------------------
DIRECT = "(direct)"
"""Pseudo-channel credited with conversions that have no touch in their lookback window."""

PATH_SEP = " > "
"""ChannelAttribution's path separator."""

MODELS = ("first", "last", "linear", "position", "time-decay", "markov", "shapley", "hybrid")
GAMES = ("count", "ordered", "rate", "subset-rate")
METHODS = ("auto", "exact", "mc")
VALUES = ("gmv", "conversions")

# --- contract column names (DATA.md) ---------------------------------------------------------
EVENT_COLUMNS = ("user_id", "event_time", "event_type", "channel", "country", "order_id", "gmv", "currency")
EVENT_REQUIRED = ("user_id", "event_time", "event_type")
PATH_COLUMNS = ("path", "total_conversions", "total_conversion_value", "total_null")
ATTRIBUTION_COLUMNS = ("channel", "conversions", "gmv", "share", "std_error", "ci_low", "ci_high")

# --- limits ----------------------------------------------------------------------------------
MAX_EXACT_SUBSET_CHANNELS = 24
"""Largest n for the exact subset-rate game: two float64 tables of 2^n entries (~270 MB at 24)."""

DEFAULT_LOOKBACK_DAYS = 30.0
DEFAULT_HALF_LIFE_DAYS = 7.0
DEFAULT_POSITION_WEIGHTS = (0.4, 0.2, 0.4)
DEFAULT_TOLERANCE = 1e-3
DEFAULT_MAX_SAMPLES = 200_000
"""Monte Carlo: the largest number of permutations (antithetic pairs count as two)."""
DEFAULT_ALPHA = 0.5
DEFAULT_SEED = 0
MAX_MARKOV_ORDER = 4


@dataclass(frozen=True)
class ModelParams:
    """Everything that decides the numbers of an attribution (MODELS.md).

    ``collapse_repeats=None`` means the model's own default: the Markov model collapses consecutive
    repeats (as ChannelAttribution does), every other model keeps them.
    """

    model: str = "shapley"
    game: str = "rate"
    method: str = "auto"
    order: int = 1
    alpha: float = DEFAULT_ALPHA
    value: str = "gmv"
    seed: int = DEFAULT_SEED
    tolerance: float = DEFAULT_TOLERANCE
    max_samples: int = DEFAULT_MAX_SAMPLES
    bootstrap: int = 0
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS
    position_weights: tuple[float, float, float] = DEFAULT_POSITION_WEIGHTS
    collapse_repeats: bool | None = None

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; expected one of {', '.join(MODELS)}")
        if self.game not in GAMES:
            raise ValueError(f"unknown game {self.game!r}; expected one of {', '.join(GAMES)}")
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; expected one of {', '.join(METHODS)}")
        if self.value not in VALUES:
            raise ValueError(f"unknown value {self.value!r}; expected one of {', '.join(VALUES)}")
        if not 1 <= self.order <= MAX_MARKOV_ORDER:
            raise ValueError(f"--order must be between 1 and {MAX_MARKOV_ORDER}, got {self.order}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"--alpha must be in [0, 1], got {self.alpha}")
        if not self.tolerance > 0.0:
            raise ValueError(f"--tolerance must be > 0, got {self.tolerance}")
        if self.max_samples < 2:
            raise ValueError(f"--max-samples must be >= 2, got {self.max_samples}")
        if self.bootstrap < 0:
            raise ValueError(f"--bootstrap must be >= 0, got {self.bootstrap}")
        if not self.half_life_days > 0.0:
            raise ValueError(f"half-life must be > 0 days, got {self.half_life_days}")
        w = self.position_weights
        if len(w) != 3 or min(w) < 0 or abs(sum(w) - 1.0) > 1e-12:
            raise ValueError(f"position weights must be three non-negative numbers summing to 1, got {w}")
        if self.seed < 0 or self.seed >= 2**63:
            raise ValueError(f"--seed must be in [0, 2^63), got {self.seed}")

    @property
    def collapses(self) -> bool:
        """Whether consecutive repeats are collapsed for this model."""
        if self.collapse_repeats is None:
            return self.model == "markov"
        return self.collapse_repeats

    def as_dict(self) -> dict:
        d = asdict(self)
        d["position_weights"] = list(self.position_weights)
        d["collapse_repeats"] = self.collapses
        return d


@dataclass(frozen=True)
class JourneyParams:
    """How events are cut into journeys (DATA.md, "Journeys")."""

    lookback_days: float = DEFAULT_LOOKBACK_DAYS
    period: str | None = None  # "YYYY-MM": conversions whose event_time falls in that UTC month
    keep_ages: bool = False  # keep per-touch ages (seconds before conversion) for time-decay

    def __post_init__(self) -> None:
        if not self.lookback_days > 0:
            raise ValueError(f"--lookback-days must be > 0, got {self.lookback_days}")


@dataclass(frozen=True)
class ColumnMapping:
    """How a foreign export maps onto the contract columns (DATA.md, "Mapping a foreign export")."""

    rename: tuple[tuple[str, str], ...] = ()  # (contract column, source column)
    touch_types: tuple[str, ...] = ("touch",)
    conversion_types: tuple[str, ...] = ("conversion",)
    currency: str | None = None
    delimiter: str | None = None  # CSV field separator; None = guess (',' or ';')
    sep: str = PATH_SEP  # channel separator inside a path
    input_format: str | None = None  # parquet | csv | arrow; None = by extension
    extra: dict = field(default_factory=dict, compare=False)
