"""run.toml: the run configuration as a file. Every key is a setting of :data:`config.KEYS` (the CLI
option without its dashes, e.g. ``max_samples``); input paths are relative to the file::

    events = "events.parquet"        # the CDP export (Parquet, CSV or Arrow)
    partners = "partners.csv"        # contracts (DATA.md input 3)
    sales = "sales.csv"              # partners' sell-through (input 4)
    fx = "fx.csv"                    # rates to the reporting currency (input 5)
    coop = "coop.csv"                # co-op budgets (input 5)
    period = "2026-10"
    out = "runs/2026-10"             # the run directory (relative to the file)
    model = "hybrid"                 # and game, method, order, alpha, value, seed, tolerance, ...
    engine = "local"                 # or "spark", with a [spark] table: master = "local[2]", [spark.conf]
    [columns]                        # --col NAME=SOURCE
    user_id = "customer_id"
"""
from __future__ import annotations

import tomllib
from pathlib import Path

from ..config import FILE_KEYS, KEYS, ConfigError, check_setting, unknown_setting
from ..errors import InputError

PATH_KEYS = FILE_KEYS + ("out", "rejects")


def read_run_toml(path: str | Path) -> dict:
    """The settings of a run.toml as a flat mapping over :data:`config.KEYS`; unknown keys and
    values of the wrong kind are errors naming the file and the key."""
    path = Path(path)
    name = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(name, "config file not found") from None
    except IsADirectoryError:
        raise InputError(name, "is a directory, expected a run.toml file") from None
    try:
        data = tomllib.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise InputError(name, f"not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(name, f"not valid TOML: {exc}") from None
    spark = data.pop("spark", None)
    if spark is not None:
        if not isinstance(spark, dict) or set(spark) - {"master", "conf"}:
            raise InputError(name, "expected a [spark] table with 'master' and a [spark.conf] table", column="spark")
        data["spark_master"] = spark.get("master")
        data["spark_conf"] = spark.get("conf") or {}
    allowed = set(KEYS)
    for key, value in data.items():
        if key not in allowed:
            raise InputError(name, unknown_setting(key, allowed, "key"), column=key)
        if key in ("columns", "spark_conf"):
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise InputError(name, f"expected a table of text values for {key!r}", column=key)
        elif isinstance(value, dict):
            raise InputError(name, f"expected a value, not a table, for {key!r}", column=key)
    for key, value in data.items():
        try:
            check_setting(key, value)
        except ConfigError as exc:
            raise InputError(name, str(exc), column=key) from None
    base = path.resolve().parent
    for key in PATH_KEYS:
        if key in data:
            if not isinstance(data[key], str) or not data[key]:
                raise InputError(name, f"expected a file path (text) for {key!r}", column=key, value=data[key])
            relative = not Path(data[key]).is_absolute() and "://" not in data[key]  # a URL: --engine spark
            data[key] = str(base / data[key]) if relative else data[key]
    return data
