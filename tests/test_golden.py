"""Golden files: a full ``run`` on the bundled sample, compared byte for byte.

The expected files live in tests/golden/sample_run/. They are rewritten only on request:
``SHAPLEY_ATTR_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py`` (then review the diff).
The manifest is compared without its timings and with input paths reduced to file names.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from shapley_attr.cli import cli

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
GOLDEN = Path(__file__).resolve().parent / "golden" / "sample_run"
COMPARED = ("attribution.csv", "models.csv", "payouts.csv", "kpis.csv", "rejects.csv", "manifest.json",
            "map_compliance.csv")
UPDATE = os.environ.get("SHAPLEY_ATTR_UPDATE_GOLDEN") == "1"


def normalised_manifest(raw: bytes) -> bytes:
    manifest = json.loads(raw)
    manifest.pop("timings_seconds")
    for entry in manifest["inputs"].values():
        entry["path"] = Path(entry["path"]).name
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("golden")
    for f in SAMPLES.iterdir():
        if f.is_file():
            shutil.copy(f, d / f.name)
    result = CliRunner().invoke(cli, ["run", "--config", str(d / "run.toml"), "--out", str(d / "out")])
    assert result.exit_code == 0, result.output
    return d / "out"


@pytest.mark.parametrize("name", COMPARED)
def test_sample_run_matches_golden(sample_run, name):
    got = (sample_run / name).read_bytes()
    if name == "manifest.json":
        got = normalised_manifest(got)
    expected = GOLDEN / name
    if UPDATE:
        expected.write_bytes(got)
    assert expected.is_file(), f"no golden file {expected}: run with SHAPLEY_ATTR_UPDATE_GOLDEN=1 once and review"
    assert got == expected.read_bytes(), (f"{name} differs from {expected}; if the change is intended, rewrite "
                                          "with SHAPLEY_ATTR_UPDATE_GOLDEN=1 and review the diff")
