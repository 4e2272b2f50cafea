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
