"""shapley_attr: multi-touch attribution (Shapley, Markov, heuristics) with a Numba core.

The public API is imported lazily, so that ``import shapley_attr`` (and ``shapley-attr --help``) does
not load numba, polars or pyarrow.
"""
from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "attribute": ("shapley_attr.api", "attribute"),
    "run": ("shapley_attr.api", "run"),
    "validate": ("shapley_attr.api", "validate"),
    "load_table": ("shapley_attr.api", "load_table"),
    "build_config": ("shapley_attr.config", "build_config"),
    "RunConfig": ("shapley_attr.config", "RunConfig"),
    "fit": ("shapley_attr.models", "fit"),
    "ModelParams": ("shapley_attr.config", "ModelParams"),
    "JourneyParams": ("shapley_attr.config", "JourneyParams"),
    "ColumnMapping": ("shapley_attr.config", "ColumnMapping"),
    "PathTable": ("shapley_attr.frames", "PathTable"),
    "build_journeys": ("shapley_attr.journeys", "build_journeys"),
    "compute_payouts": ("shapley_attr.finance.payouts", "compute_payouts"),
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'shapley_attr' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_LAZY))


__all__ = ["__version__", *_LAZY]
