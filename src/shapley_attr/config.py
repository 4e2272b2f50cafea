"""Defaults, limits and the frozen parameter records of a run.

Nothing here imports from the rest of the package: every other module reads its defaults from here,
so that the CLI, the Python API and the manifest agree on one set of numbers.
"""
from __future__ import annotations

import math
import numbers
import os
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping

# --- names -----------------------------------------------------------------------------------
PATH_SEP = " > "
"""ChannelAttribution's path separator."""

MODELS = ("first", "last", "linear", "position", "time-decay", "markov", "shapley", "hybrid")
GAMES = ("count", "ordered", "rate", "subset-rate")
METHODS = ("auto", "exact", "mc")
VALUES = ("gmv", "conversions")

ENGINES = ("local", "spark")
COMMANDS = ("attribute", "run", "validate")

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
MAX_LOOKBACK_DAYS = 36_500
"""A century: a longer window is a unit error (and overflows the cut's microsecond arithmetic)."""


class ConfigError(ValueError):
    """A setting that cannot work (unknown model, out-of-range number, missing input). Exit code 2.

    Defined here, not in ``errors``, because this module imports nothing from the package.
    """


def _normalise_fields(obj, kinds: Mapping[str, type]) -> None:
    """Check each field of a frozen dataclass against its kind (``int``: any whole number, NumPy's
    included, not a bool; ``float``: any real number, not a bool; ``str``) and store the plain Python
    value: a public record made directly (``ModelParams(seed=1.5)``) took the value, recorded it and
    ran with another (the Monte Carlo stream of seed 1)."""
    names = {int: "a whole number", float: "a number", str: "text"}
    for name, kind in kinds.items():
        value = getattr(obj, name)
        if kind is str:
            ok = isinstance(value, str)
        else:
            ok = isinstance(value, numbers.Integral if kind is int else numbers.Real) and not isinstance(value, bool)
        if not ok:
            raise ConfigError(f"{name}: expected {names[kind]}, got {value!r}")
        if kind is not str:
            object.__setattr__(obj, name, kind(value))


MIN_MAX_SAMPLES = 100
"""The fewest permutations a Monte Carlo estimate may stop at (50 antithetic pairs). With 2 or 3 the
estimate ran 2 pairs, which on 3 channels could be the same permutation twice: a standard error of 0
and a zero-width interval around a value 3x off (1.25 against the exact 3.96)."""
MIN_BOOTSTRAP = 100
"""Fewest bootstrap replicates (``--bootstrap``, 0 for none): the percentile interval's 2.5 % and 97.5 %
points are then read between the 3rd and 4th replicates from each end. ``--bootstrap 1`` wrote one
replicate as a "95 % interval", [x, x], which could exclude the figure paid on."""

_NO_MC = {
    "count": "the count game is computed exactly in closed form (phi_i = sum over T containing i of x(T)/|T|)",
    "ordered": "the ordered game is computed exactly in closed form",
    "rate": "the rate game is computed exactly for any journey size (over the observed subsets of each journey)",
    "markov": "the Markov model is solved exactly (sparse LU of the absorbing chain), not simulated",
}
for _m in ("first", "last", "linear", "position", "time-decay"):
    _NO_MC[_m] = f"the {_m} model is a deterministic rule"


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
        _normalise_fields(self, {"order": int, "seed": int, "max_samples": int, "bootstrap": int, "alpha": float,
                                 "tolerance": float, "half_life_days": float, "model": str, "game": str,
                                 "method": str, "value": str})
        w = self.position_weights
        if isinstance(w, (str, bytes)) or not hasattr(w, "__len__") \
                or not all(isinstance(x, numbers.Real) and not isinstance(x, bool) for x in w):
            raise ConfigError(f"position weights: expected three numbers, got {w!r}")
        object.__setattr__(self, "position_weights", tuple(float(x) for x in w))
        if self.collapse_repeats is not None and not isinstance(self.collapse_repeats, bool):
            raise ConfigError(f"collapse_repeats: expected true, false or None, got {self.collapse_repeats!r}")
        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r}; expected one of {', '.join(MODELS)}")
        if self.game not in GAMES:
            raise ConfigError(f"unknown game {self.game!r}; expected one of {', '.join(GAMES)}")
        if self.method not in METHODS:
            raise ConfigError(f"unknown method {self.method!r}; expected one of {', '.join(METHODS)}")
        if self.value not in VALUES:
            raise ConfigError(f"unknown value {self.value!r}; expected one of {', '.join(VALUES)}")
        if not 1 <= self.order <= MAX_MARKOV_ORDER:
            raise ConfigError(f"--order must be between 1 and {MAX_MARKOV_ORDER}, got {self.order}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ConfigError(f"--alpha must be in [0, 1], got {self.alpha}")
        if not self.tolerance > 0.0:
            raise ConfigError(f"--tolerance must be > 0, got {self.tolerance}")
        if self.max_samples < MIN_MAX_SAMPLES:
            raise ConfigError(f"--max-samples must be >= {MIN_MAX_SAMPLES}, got {self.max_samples}: fewer "
                              "permutations give no standard error to trust")
        if self.bootstrap != 0 and not self.bootstrap >= MIN_BOOTSTRAP:
            raise ConfigError(f"--bootstrap must be 0 (off) or >= {MIN_BOOTSTRAP}, got {self.bootstrap}: fewer "
                              "replicates give no 95% interval to trust")
        if not self.half_life_days > 0.0:
            raise ConfigError(f"half-life must be > 0 days, got {self.half_life_days}")
        w = self.position_weights
        if len(w) != 3 or not all(math.isfinite(x) and x >= 0 for x in w) or abs(sum(w) - 1.0) > 1e-12:
            raise ConfigError(f"position weights must be three non-negative numbers summing to 1, got {w}")
        if self.seed < 0 or self.seed >= 2**63:
            raise ConfigError(f"--seed must be in [0, 2^63), got {self.seed}")
        if self.method == "mc" and not self.estimates_by_sampling:
            raise ConfigError(_NO_MC.get(self.game if self.has_game else self.model, "")
                              + ": --method mc does not apply (use --method auto or exact)")

    @property
    def has_game(self) -> bool:
        """Whether the Shapley game is part of this model (shapley and hybrid)."""
        return self.model in ("shapley", "hybrid")

    @property
    def game_label(self) -> str | None:
        """The game as named in every output: the game for shapley/hybrid, None otherwise."""
        return self.game if self.has_game else None

    @property
    def estimates_by_sampling(self) -> bool:
        """Whether Monte Carlo is a method of this model at all (only the global subset-rate game)."""
        return self.has_game and self.game == "subset-rate"

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
        _normalise_fields(self, {"lookback_days": float})
        if self.period is not None and not _is_month(self.period):  # the API builds this record directly
            raise ConfigError(f"period {self.period!r}: expected a month as YYYY-MM, e.g. 2026-10")
        if not 0 < self.lookback_days <= MAX_LOOKBACK_DAYS:
            raise ConfigError(f"--lookback-days must be > 0 and <= {MAX_LOOKBACK_DAYS}, got {self.lookback_days}")


INPUT_FORMATS = (None, "parquet", "csv", "arrow")
"""What ``input_format`` may say (``--input-format``, run.toml, the API)."""


@dataclass(frozen=True)
class ColumnMapping:
    """How a foreign export maps onto the contract columns (DATA.md, "Mapping a foreign export")."""

    rename: tuple[tuple[str, str], ...] = ()  # (contract column, source column)
    touch_types: tuple[str, ...] = ("touch",)
    conversion_types: tuple[str, ...] = ("conversion",)
    currency: str | None = None
    delimiter: str | None = None  # CSV field separator; None = guess (',' or ';')
    sep: str = PATH_SEP  # channel separator inside a path
    input_format: str | None = None  # one of INPUT_FORMATS; None = by extension

    def __post_init__(self) -> None:
        bad = [p for p in self.rename if not (isinstance(p, (tuple, list)) and len(p) == 2
                                               and all(isinstance(x, str) for x in p))]
        if bad:
            raise ConfigError(f"columns (--col): expected (contract column, source column) pairs of texts, "
                              f"got {bad[0]!r}")
        if self.input_format not in INPUT_FORMATS:  # the CLI's choice; run.toml and the API come here
            raise ConfigError(f"input_format {self.input_format!r}: expected one of {', '.join(INPUT_FORMATS[1:])} "
                              "(or none: by the file's extension)")
        if not isinstance(self.sep, str) or not self.sep:
            raise ConfigError(f"--sep {self.sep!r}: expected the text between channels in a path, e.g. ' > '")
        # a name that is no contract column is refused where the input is read (io.readers.rename_plan)
        names = [contract for contract, _ in self.rename]
        twice = sorted({c for c in names if names.count(c) > 1})
        if twice:
            raise ConfigError(f"--col {twice[0]}=... given more than once: "
                              f"{', '.join(s for c, s in self.rename if c == twice[0])}")
        sources = [source for _, source in self.rename]
        shared = sorted({s for s in sources if sources.count(s) > 1})
        if shared:
            raise ConfigError(f"--col: source column {shared[0]!r} mapped to more than one contract column "
                              f"({', '.join(c for c, s in self.rename if s == shared[0])})")

    def as_dict(self) -> dict:
        return {"columns": dict(self.rename), "touch_types": list(self.touch_types),
                "conversion_types": list(self.conversion_types), "currency": self.currency,
                "delimiter": self.delimiter, "sep": self.sep, "input_format": self.input_format}



# --- the run configuration -------------------------------------------------------------------
MODEL_KEYS = tuple(f.name for f in fields(ModelParams))
MAPPING_KEYS = ("columns", "touch_types", "conversion_types", "currency", "delimiter", "sep", "input_format",
                "input_kind")
JOURNEY_KEYS = ("lookback_days", "period")
FILE_KEYS = ("events", "partners", "sales", "fx", "coop", "spend", "map", "prices")
"""Inputs named by path (relative to run.toml in the file); the last three are optional (PROGRAMME.md)."""
PROGRAMME_KEYS = ("map_policy", "countries")
MAP_POLICIES = ("flag", "withhold")
RUN_KEYS = ("reporting_currency", "out", "force", "strict", "rejects", "engine", "spark_master", "spark_conf",
            "noise_free_payouts")
KEYS = MODEL_KEYS + MAPPING_KEYS + JOURNEY_KEYS + FILE_KEYS + RUN_KEYS + PROGRAMME_KEYS
"""Every setting, one vocabulary for CLI options (``--max-samples``), run.toml keys and API keywords."""

COMMAND_DEFAULTS: dict[str, dict[str, Any]] = {
    "attribute": {"model": "shapley", "game": "rate"},
    "run": {"model": "hybrid", "game": "rate", "alpha": DEFAULT_ALPHA},
    "validate": {"model": "hybrid", "game": "rate", "alpha": DEFAULT_ALPHA},
}
"""What differs between commands (MODELS.md "Defaults"); every other default is the field's own."""
DEFAULT_REPORTING_CURRENCY = "EUR"


@dataclass(frozen=True)
class RunConfig:
    """Everything a command needs, built in one place (:func:`build_config`) from CLI options,
    run.toml or API keywords, and handed down unchanged.

    ``value_auto`` is true when ``--value`` was not given: the value attributed is then GMV when the
    data has values, else conversions (decided after reading; ``model.value`` holds the guess "gmv").
    """

    command: str
    model: ModelParams
    journeys: JourneyParams
    mapping: ColumnMapping
    value_auto: bool = True
    input_kind: str | None = None
    events: str | None = None
    partners: str | None = None
    sales: str | None = None
    fx: str | None = None
    coop: str | None = None
    spend: str | None = None  # PROGRAMME.md inputs, each optional
    map: str | None = None
    prices: str | None = None
    map_policy: str = "flag"  # flag | withhold: what a partner below its map_min_compliance gets
    countries: tuple[str, ...] | None = None  # pilot scope: conversions of these countries only
    reporting_currency: str = DEFAULT_REPORTING_CURRENCY
    out: str | None = None
    force: bool = False
    strict: bool | None = None
    rejects: str | None = None
    engine: str = "local"
    spark_master: str | None = None
    spark_conf: tuple[tuple[str, str], ...] = ()
    noise_free_payouts: bool = False

    def __post_init__(self) -> None:
        if self.command not in COMMANDS:
            raise ConfigError(f"unknown command {self.command!r}")
        if self.engine not in ENGINES:
            raise ConfigError(f"unknown engine {self.engine!r}; expected one of {', '.join(ENGINES)}")
        if self.map_policy not in MAP_POLICIES:
            raise ConfigError(f"--map-policy {self.map_policy!r}: expected one of {', '.join(MAP_POLICIES)}")
        if self.countries is not None:
            bad = [c for c in self.countries if not (len(c) == 2 and c.isascii() and c.isalpha() and c.isupper())]
            if bad or not self.countries:
                raise ConfigError(f"--countries {','.join(self.countries)!r}: expected ISO 3166-1 alpha-2 codes "
                                  "separated by commas, like DE,FR,PL")
        if bool(self.map) != bool(self.prices):
            raise ConfigError("MAP compliance needs both --map (map.csv) and --prices (prices.csv); got only "
                              + ("--map" if self.map else "--prices"))
        if self.input_kind not in (None, "events", "paths"):
            raise ConfigError(f"unknown input kind {self.input_kind!r}; expected events or paths")
        code = self.reporting_currency
        if not (isinstance(code, str) and len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()):
            raise ConfigError(f"--reporting-currency {code!r}: expected an ISO 4217 code like EUR")
        if self.command in ("run", "validate"):
            missing = [k for k in ("events", "partners", "sales", "fx", "coop")
                       + (("out",) if self.command == "run" else ()) if not getattr(self, k)]
            if not self.journeys.period:
                missing.insert(0, "period")
            if missing:
                raise ConfigError("missing setting(s): " + ", ".join(
                    f"--{k.replace('_', '-')} (or '{k}' in the run config)" for k in missing))

    @property
    def quarantine(self) -> bool:
        """Bad input rows are put aside with their reasons instead of failing the command: ``run``
        and ``validate`` unless ``--strict``; ``attribute`` with ``--rejects FILE`` (or strict=False)."""
        if self.strict is not None:
            return not self.strict
        return self.command != "attribute" or self.rejects is not None

    @property
    def period(self) -> str | None:
        return self.journeys.period

    def with_value(self, value: str) -> "RunConfig":
        """The configuration once ``--value auto`` is decided."""
        return replace(self, model=replace(self.model, value=value), value_auto=False)

    def parameters(self) -> dict:
        """Every setting that decides the numbers, for the manifest and the run id. The engine is not
        one: the same inputs give the same numbers and run id on every engine."""
        return {"model": self.model.as_dict(), "value_auto": self.value_auto,
                "journeys": {"lookback_days": self.journeys.lookback_days, "period": self.period},
                "mapping": self.mapping.as_dict(), "input_kind": self.input_kind,
                "reporting_currency": self.reporting_currency, "quarantine": self.quarantine,
                "noise_free_payouts": self.noise_free_payouts,
                "programme": {"map_policy": self.map_policy,
                              "countries": None if self.countries is None else list(self.countries)}}


_KINDS: dict[str, tuple[type, ...]] = {
    **{k: (int,) for k in ("order", "seed", "max_samples", "bootstrap")},
    **{k: (int, float) for k in ("alpha", "tolerance", "half_life_days", "lookback_days")},
    **{k: (bool,) for k in ("force", "strict", "collapse_repeats", "noise_free_payouts")},
    **{k: (str,) for k in ("model", "game", "method", "value", "period", "currency", "delimiter", "sep",
                           "input_format", "input_kind", "reporting_currency", "engine", "spark_master", "out",
                           "rejects", "map_policy") + FILE_KEYS},
    "countries": (str, tuple, list),
    **{k: (tuple, list, dict) for k in ("columns", "spark_conf")},
    **{k: (str, tuple, list) for k in ("touch_types", "conversion_types")},
    "position_weights": (tuple, list),
}
"""The kind of value each setting takes (a run.toml or an API call can hand in anything)."""


def _check_kind(key: str, value: Any) -> None:
    kinds = _KINDS.get(key)
    if kinds is None:
        return
    if isinstance(value, bool) and bool not in kinds:
        ok = False
    else:
        ok = (isinstance(value, kinds) or (str in kinds and hasattr(value, "__fspath__"))
              or (int in kinds and isinstance(value, numbers.Integral))  # NumPy's integers
              or (float in kinds and isinstance(value, numbers.Real)))
    if not ok:
        names = " or ".join({int: "a whole number", float: "a number", bool: "true or false", str: "text",
                             tuple: "a list", list: "a list", dict: "a table"}[k] for k in kinds)
        raise ConfigError(f"{key}: expected {names}, got {value!r}")


def unknown_setting(key: str, known, what: str = "setting") -> str:
    """The message for a setting not among ``known``, with the closest name when one is close
    (``lookback_day``: did you mean ``lookback_days``?)."""
    import difflib

    close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.8)  # colour is no columns (0.62)
    return (f"unknown {what} {key!r}{f' (did you mean {close[0]!r}?)' if close else ''}; expected one of "
            f"{', '.join(sorted(known))}")


def check_setting(key: str, value: Any) -> None:
    """The checks of one setting on its own (kind and range), for a source that names it (run.toml):
    cross-setting rules (``--method mc`` against the game, required inputs) wait for
    :func:`build_config`, which sees every layer."""
    if key not in KEYS:
        raise ConfigError(unknown_setting(key, KEYS))
    _check_kind(key, value)
    if key in MODEL_KEYS and key != "method":
        ModelParams(**{key: tuple(value) if key == "position_weights" else value})
    elif key == "method" and value not in METHODS:
        raise ConfigError(f"unknown method {value!r}; expected one of {', '.join(METHODS)}")
    elif key == "lookback_days":
        JourneyParams(lookback_days=float(value))
    elif key == "period" and not _is_month(value):
        raise ConfigError(f"period {value!r}: expected a month as YYYY-MM, e.g. 2026-10")
    elif key == "engine" and value not in ENGINES:
        raise ConfigError(f"unknown engine {value!r}; expected one of {', '.join(ENGINES)}")


def build_config(command: str, *layers: Mapping[str, Any]) -> RunConfig:
    """The one place a :class:`RunConfig` is made. ``layers`` are flat mappings over :data:`KEYS`
    (run.toml, then CLI options or API keywords); a later layer wins, and a value of ``None`` (or an
    empty tuple) means "not given". Unknown keys are an error.
    """
    if command not in COMMAND_DEFAULTS:
        raise ConfigError(f"unknown command {command!r}; expected one of {', '.join(COMMAND_DEFAULTS)}")
    merged: dict[str, Any] = dict(COMMAND_DEFAULTS[command])
    for layer in layers:
        for key, value in layer.items():
            if key not in KEYS:
                raise ConfigError(unknown_setting(key, KEYS))
            if key == "countries" and isinstance(value, (tuple, list)) and len(value) == 0:
                # an empty pilot is not "every country" (what a missing key means): said, not guessed
                raise ConfigError("countries = []: an empty pilot scope; expected ISO 3166-1 alpha-2 codes "
                                  '(countries = ["DE", "PL"]), or no countries setting for every country')
            if value is None or (isinstance(value, (tuple, list, dict)) and len(value) == 0):
                continue
            _check_kind(key, value)
            merged[key] = value
    model_opts = {k: merged[k] for k in MODEL_KEYS if k in merged}
    if "position_weights" in model_opts:
        model_opts["position_weights"] = tuple(float(w) for w in model_opts["position_weights"])
    model = ModelParams(**model_opts)
    mapping = ColumnMapping(rename=_pairs("columns", merged.get("columns", ())),
                            touch_types=_strings("touch_types", merged.get("touch_types"), ("touch",)),
                            conversion_types=_strings("conversion_types", merged.get("conversion_types"),
                                                      ("conversion",)),
                            currency=merged.get("currency"), delimiter=_delimiter(merged.get("delimiter")),
                            sep=merged.get("sep", PATH_SEP), input_format=merged.get("input_format"))
    journeys = JourneyParams(lookback_days=float(merged.get("lookback_days", DEFAULT_LOOKBACK_DAYS)),
                             period=merged.get("period"), keep_ages=model.model == "time-decay")
    for key in FILE_KEYS + ("out", "rejects"):
        if merged.get(key) is not None and "\x00" in os.fspath(merged[key]):  # no file system takes one
            raise ConfigError(f"{key}: the path {os.fspath(merged[key])!r} holds a NUL character")
    return RunConfig(
        command=command, model=model, journeys=journeys, mapping=mapping, value_auto="value" not in merged,
        input_kind=merged.get("input_kind"),
        **{k: (os.fspath(merged[k]) if merged.get(k) is not None else None) for k in FILE_KEYS + ("out", "rejects")},
        reporting_currency=merged.get("reporting_currency", DEFAULT_REPORTING_CURRENCY),
        force=bool(merged.get("force", False)),
        strict=None if merged.get("strict") is None else bool(merged["strict"]),
        engine=merged.get("engine", "local"), spark_master=merged.get("spark_master"),
        spark_conf=_pairs("spark_conf", merged.get("spark_conf", ())),
        noise_free_payouts=bool(merged.get("noise_free_payouts", False)),
        map_policy=merged.get("map_policy", "flag"), countries=_countries(merged.get("countries")))


def month_of(text: str) -> tuple[int, int] | None:
    """(year, month) of a month written ``YYYY-MM`` in ASCII digits (``int`` alone would also read other
    scripts' digits), year 1 on; None for any other text. The one reader of a period: ``--period``,
    run.toml, the payouts' and the finance files' ``period`` columns."""
    if not (isinstance(text, str) and len(text) == 7 and text.isascii() and text[4] == "-"
            and text[:4].isdigit() and text[5:].isdigit()):
        return None
    year, month = int(text[:4]), int(text[5:])
    return (year, month) if year >= 1 and 1 <= month <= 12 else None


def _is_month(text: str) -> bool:
    return month_of(text) is not None


def _countries(value) -> tuple[str, ...] | None:
    """``--countries DE,FR,PL`` or run.toml ``countries = ["DE", "FR", "PL"]``: sorted, unique, upper case."""
    if value is None:
        return None
    if not isinstance(value, str) and not all(isinstance(v, str) for v in value):
        raise ConfigError(f"countries: expected ISO 3166-1 alpha-2 codes as texts, got {list(value)!r}")
    items = value.split(",") if isinstance(value, str) else list(value)
    codes = sorted({item.strip().upper() for item in items if item.strip()})
    return tuple(codes) if codes else ()


def _pairs(key: str, value) -> tuple[tuple[str, str], ...]:
    """``columns`` / ``spark_conf``: a table (``{"user_id": "customer_id"}``), a list of pairs, or a
    list of ``NAME=VALUE`` texts as the CLI's ``--col`` / ``--spark-conf`` take them."""
    if isinstance(value, Mapping):
        return tuple((str(k), str(v)) for k, v in value.items())
    pairs = []
    for item in value:
        if isinstance(item, str) and "=" in item:
            name, _, val = item.partition("=")
            pairs.append((name.strip(), val.strip()))
        elif isinstance(item, (tuple, list)) and len(item) == 2:
            pairs.append((str(item[0]), str(item[1])))
        else:
            raise ConfigError(f"{key}: expected a table of NAME = VALUE, pairs, or 'NAME=VALUE' texts, got {item!r}")
    return tuple(pairs)


def _strings(key: str, value, default: tuple[str, ...]) -> tuple[str, ...]:
    """A text or a list of texts (an item of another type is refused: ``[1, 2]`` read as '1', '2' made
    nearly every row a reject)."""
    if value is None:
        return default
    if isinstance(value, str):
        return (value,)
    bad = [v for v in value if not isinstance(v, str)]
    if bad:
        raise ConfigError(f"{key}: expected a text or a list of texts, got the item {bad[0]!r}")
    return tuple(value) or default


def _delimiter(value: str | None) -> str | None:
    """``--delimiter``: one character; ``\\t``, ``tab`` and ``TAB`` mean a tab."""
    if value is None:
        return None
    value = {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(value, value)
    if len(value) != 1:
        raise ConfigError(f"--delimiter must be one character, got {value!r}")
    return value
