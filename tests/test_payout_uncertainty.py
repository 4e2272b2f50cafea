"""Uncertainty on payouts (DATA.md): intervals on attributed GMV, payout_noise and its warning."""
from __future__ import annotations

import csv
import io
import json
import shutil
from decimal import Decimal as D
from pathlib import Path

import pytest
from click.testing import CliRunner

from shapley_attr.cli import cli
from shapley_attr.finance.money import quantum
from shapley_attr.schema import PAYOUT_COLUMNS, PAYOUT_MAP_COLUMNS

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"


def run(tmp_path: Path, *args):
    d = tmp_path / "in"
    if not d.exists():
        shutil.copytree(SAMPLES, d, ignore=shutil.ignore_patterns("runs"))
    out = tmp_path / f"out{len(list(tmp_path.iterdir()))}"
    res = CliRunner().invoke(cli, ["run", "--config", str(d / "run.toml"), "--out", str(out), *map(str, args)])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader(io.StringIO((out / "payouts.csv").read_text())))
    return res, rows, json.loads((out / "manifest.json").read_text())


def test_exact_credits_have_no_interval_and_no_warning(tmp_path):
    res, rows, manifest = run(tmp_path)
    assert list(rows[0]) == list(PAYOUT_COLUMNS) + list(PAYOUT_MAP_COLUMNS)  # the sample has MAP inputs
    assert manifest["payouts"]["payout_noise"] == [] and "warning:" not in res.stderr


def test_monte_carlo_credits_carry_intervals_and_warn_about_noise(tmp_path):
    res, rows, manifest = run(tmp_path, "--game", "subset-rate", "--method", "mc", "--tolerance", "0.01")
    assert list(rows[0]) == list(PAYOUT_COLUMNS) + list(PAYOUT_MAP_COLUMNS) + ["attributed_gmv_low",
                                                                               "attributed_gmv_high"]
    for r in rows:
        assert D(r["attributed_gmv_low"]) <= D(r["attributed_gmv"]) <= D(r["attributed_gmv_high"]), r
        assert D(r["attributed_gmv_low"]) < D(r["attributed_gmv_high"]), r
    noise = {n["partner_id"]: n for n in manifest["payouts"]["payout_noise"]}
    assert noise, "a 1% tolerance leaves compensations noisier than half a cent"
    gamma = {r["partner_id"]: D(r["gamma"]) for r in rows}
    for pid, n in noise.items():
        assert D(n["half_width"]) > D(n["half_minor_unit"])
        r = [r for r in rows if r["partner_id"] == pid][0]
        half_gmv = (D(r["attributed_gmv_high"]) - D(r["attributed_gmv_low"])) / 2
        # the compensation's half-width is γ times the attributed GMV's (up to the interval's rounding)
        assert abs(D(n["half_width"]) - gamma[pid] * half_gmv) <= gamma[pid] * quantum(n["currency"]) + D("0.001")
        assert f"warning: partner {pid}: the Monte Carlo 95% half-width" in res.stderr


def test_noise_free_payouts_samples_on_and_reports_how_it_stopped(tmp_path):
    _, _, coarse = run(tmp_path, "--game", "subset-rate", "--method", "mc", "--tolerance", "0.01")
    res, _, fine = run(tmp_path, "--game", "subset-rate", "--method", "mc", "--tolerance", "0.01",
                       "--noise-free-payouts", "--max-samples", "4000")
    assert "noise-free payouts: Monte Carlo again at --tolerance" in res.stderr
    info = fine["choices"]["noise_free_payouts"]
    assert info["stop_reason"] in ("tolerance", "max_samples") and info["samples"] <= 4000
    before = {n["partner_id"]: D(n["half_width"]) for n in coarse["payouts"]["payout_noise"]}
    after = {n["partner_id"]: D(n["half_width"]) for n in fine["payouts"]["payout_noise"]}
    assert all(after[p] < before[p] for p in after)
    if after:
        assert "raise --max-samples" in res.stderr


def test_bootstrap_gives_intervals_without_noise(tmp_path):
    res, rows, manifest = run(tmp_path, "--bootstrap", "100", "--seed", "4")
    assert list(rows[0])[-2:] == ["attributed_gmv_low", "attributed_gmv_high"]
    assert manifest["payouts"]["payout_noise"] == [] and "warning:" not in res.stderr
    assert manifest["choices"]["bootstrap"]["values"] == "each journey's own value"
    widths = [D(r["attributed_gmv_high"]) - D(r["attributed_gmv_low"]) for r in rows]
    assert all(w >= 0 for w in widths) and any(w > 0 for w in widths)
