from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REAL_PATHS = REPO.parent / "shared" / "data" / "real" / "ChannelAttribution_python_Data.csv"


@pytest.fixture(scope="session")
def real_paths_file() -> Path:
    """The public ChannelAttribution paths file, read in place (never copied); skip when absent."""
    if not REAL_PATHS.is_file():
        pytest.skip(f"real data not present at {REAL_PATHS}")
    return REAL_PATHS
