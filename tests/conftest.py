from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_PATHS = REPO.parent / "shared" / "data" / "real" / "ChannelAttribution_python_Data.csv"


@pytest.fixture(scope="session")
def real_paths_file() -> Path:
    """The public ChannelAttribution paths file, read in place (never copied). In CI (``CI=true``,
    where ``../shared`` lies beside the clone) its absence is a failure; elsewhere the tests skip."""
    import os

    if not REAL_PATHS.is_file():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"real data missing in CI: expected {REAL_PATHS} (../shared beside the clone)")
        pytest.skip(f"real data not present at {REAL_PATHS}")
    return REAL_PATHS


# --- the long robustness runs (issue 10): fuzzing, kill points and pathological sizes --------------
def pytest_addoption(parser):
    parser.addoption("--fuzz-long", action="store_true", default=False,
                     help="Run the fuzzers and the kill harness with long budgets, and the pathological-size "
                          "tests (minutes; numbers are printed with -s).")


def pytest_configure(config):
    config.addinivalue_line("markers", "fuzz_long: runs only with --fuzz-long (long fuzzing, pathological sizes)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--fuzz-long"):
        return
    skip = pytest.mark.skip(reason="long robustness run: give --fuzz-long")
    for item in items:
        if "fuzz_long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def fuzz_long(request) -> bool:
    """True under ``--fuzz-long``: the fuzzers and the kill harness use their long budgets."""
    return bool(request.config.getoption("--fuzz-long"))
