"""The one run path (issue 9): (direct) outside every model, the API equal to the CLI, reconciliation
per currency with conversions outside the run, the partner column, derived order ids, --method mc,
ordered-game positions, and the package's import boundaries."""
from __future__ import annotations

import ast
import io
import json
import shutil
from decimal import Decimal as D
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from numpy.testing import assert_allclose

import shapley_attr as sa
from shapley_attr.cli import cli
from shapley_attr.config import ModelParams
from shapley_attr.frames import from_path_lists
from shapley_attr.models import fit
from shapley_attr.schema import DIRECT

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "data" / "samples"
PACKAGE = REPO / "src" / "shapley_attr"

EVERY_MODEL = [dict(model="first"), dict(model="last"), dict(model="linear"), dict(model="position"),
               dict(model="markov"), dict(model="markov", order=2), dict(model="shapley", game="count"),
               dict(model="shapley", game="ordered"), dict(model="shapley", game="rate"),
               dict(model="shapley", game="subset-rate", method="exact"),
               dict(model="shapley", game="subset-rate", method="mc", tolerance=0.05, seed=3),
               dict(model="hybrid", game="rate"), dict(model="hybrid", game="subset-rate", method="mc", seed=1)]


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


# --- (direct) ------------------------------------------------------------------------------------
PATHS = [["a"], ["a", "b"], ["b", "c"], ["c"], ["b"], [DIRECT]]
CONV = [3, 2, 1, 0, 1, 4]
VALUE = [30.0, 25.0, 7.0, 0.0, 9.0, 123.0]
NULLS = [5, 3, 6, 4, 2, 0]


@pytest.mark.parametrize("opts", EVERY_MODEL, ids=lambda o: "-".join(str(v) for v in o.values()))
def test_direct_is_credited_outside_every_model(opts):
    """(direct) gets exactly its own conversions and value; the other channels get what the model
    gives on the journeys without (direct) — it is no player and no Markov state."""
    with_direct = fit(from_path_lists(PATHS, CONV, VALUE, NULLS), ModelParams(**opts))
    without = fit(from_path_lists(PATHS[:-1], CONV[:-1], VALUE[:-1], NULLS[:-1]), ModelParams(**opts))
    i = with_direct.channels.index(DIRECT)
    assert with_direct.credit[i].tolist() == [4.0, 123.0]
    rest = [c for c in with_direct.channels if c != DIRECT]
    assert tuple(rest) == without.channels
    got = with_direct.credit[[with_direct.channels.index(c) for c in rest]]
    assert_allclose(got, without.credit, rtol=1e-12, atol=1e-12)
    assert_allclose(with_direct.credit.sum(axis=0), [sum(CONV), sum(VALUE)], rtol=1e-12)
    if with_direct.std_error is not None:
        assert with_direct.std_error[i] == 0.0
        assert with_direct.ci_low[i] == with_direct.ci_high[i] == with_direct.credit[i, 1]


def test_direct_alone_is_fully_credited():
    res = fit(from_path_lists([[DIRECT]], [2], [50.0], [0]), ModelParams(game="subset-rate"))
    assert res.channels == (DIRECT,) and res.credit.tolist() == [[2.0, 50.0]]


def test_direct_in_a_paths_file_beside_other_channels_is_rejected(tmp_path):
    p = tmp_path / "paths.csv"
    p.write_text(f"path,total_conversions,total_conversion_value,total_null\na > {DIRECT},1,5,0\na,1,2,3\n{DIRECT},2,9,0\n")
    res = invoke("attribute", p, "--model", "last", "--format", "csv")
    assert res.exit_code == 2 and "row 1" in res.stderr and "reserved" in res.stderr
    res = invoke("attribute", p, "--model", "last", "--format", "csv", "--rejects", tmp_path / "rej.csv")
    assert res.exit_code == 0
    frame = pl.read_csv(io.StringIO(res.stdout))
    assert frame.filter(pl.col("channel") == DIRECT)["gmv"].to_list() == [9.0]


def test_a_touch_labelled_direct_is_rejected(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("user_id,event_time,event_type,channel,order_id,gmv,currency\n"
                 f"u1,2026-10-01T10:00:00Z,touch,{DIRECT},,,\nu1,2026-10-01T11:00:00Z,conversion,,o1,5,EUR\n")
    res = invoke("attribute", p, "--format", "csv")
    assert res.exit_code == 2 and "row 1" in res.stderr and "'channel'" in res.stderr and "reserved" in res.stderr


# --- the API equals the CLI ------------------------------------------------------------------------
@pytest.mark.parametrize("args", [[], ["--model", "markov"], ["--model", "hybrid", "--alpha", "0.3"],
                                  ["--model", "shapley", "--game", "subset-rate", "--method", "mc",
                                   "--tolerance", "0.02", "--seed", "5"], ["--period", "2026-10"]])
def test_api_returns_the_cli_table(args):
    res = invoke("attribute", SAMPLES / "events.parquet", "--fx", SAMPLES / "fx.csv", "--format", "csv", *args)
    assert res.exit_code == 0, res.output
    keywords = {a.lstrip("-").replace("-", "_"): b for a, b in zip(args[::2], args[1::2])}
    for key in ("alpha", "tolerance"):
        if key in keywords:
            keywords[key] = float(keywords[key])
    if "seed" in keywords:
        keywords["seed"] = int(keywords["seed"])
    frame = sa.attribute(SAMPLES / "events.parquet", fx=SAMPLES / "fx.csv", **keywords)
    from shapley_attr.io.tables import frame_csv

    assert frame_csv(frame).decode() == res.stdout


def test_api_takes_every_cli_option():
    """Every option of `attribute` but the CLI-only display one is a keyword of sa.attribute, and the
    API takes no setting the command does not have (strict aside: the API's quarantine without a file)."""
    from shapley_attr.api import ATTRIBUTE_KEYWORDS
    from shapley_attr.config import KEYS

    command = cli.commands["attribute"]
    names = {p.name for p in command.params} - {"input_path", "quiet"}
    assert names - {"fmt", "positions"} <= set(KEYS) | {"out"}, names - set(KEYS)
    assert ATTRIBUTE_KEYWORDS | {"out", "fmt", "positions"} == names | {"strict"}
    with pytest.raises(ValueError, match="unknown setting 'colour'"):
        sa.attribute(SAMPLES / "events.parquet", colour="red")


def test_api_attributes_the_bundled_sample_with_fx():
    frame, attribution = sa.attribute(SAMPLES / "events.parquet", fx=SAMPLES / "fx.csv", reporting_currency="EUR",
                                      with_report=True)
    assert attribution.reconciliation.balanced and attribution.reconciliation.currency == "EUR"
    assert frame["gmv"].sum() == pytest.approx(attribution.reconciliation.gmv_in_run, rel=1e-12)
    assert set(frame["model"]) == {"shapley"} and set(frame["game"]) == {"rate"}


# --- reconciliation per currency, conversions outside the run ----------------------------------------
EVENTS_HEADER = "user_id,event_time,event_type,channel,partner,country,order_id,gmv,currency,margin\n"


def write_run_inputs(tmp_path: Path, events: list[str], header: str = EVENTS_HEADER) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    for name in ("partners.csv", "sales.csv", "fx.csv", "coop.csv"):
        shutil.copy(SAMPLES / name, d / name)
    (d / "events.csv").write_text(header + "\n".join(events) + "\n")
    (d / "run.toml").write_text('events = "events.csv"\npartners = "partners.csv"\nsales = "sales.csv"\n'
                                'fx = "fx.csv"\ncoop = "coop.csv"\nperiod = "2026-10"\nout = "out"\n')
    return d


OUTSIDE = [
    "u1,2026-09-20T10:00:00Z,touch,email,,DE,,,,",
    "u1,2026-09-21T10:00:00Z,conversion,,,CH,s1,40.50,CHF,",     # before the period, no CHF rate
    "u1,2026-10-02T10:00:00Z,touch,search,,DE,,,,",
    "u1,2026-10-03T10:00:00Z,conversion,,,DE,o1,100.00,EUR,20",
    "u2,2026-10-05T10:00:00Z,touch,display,DE-0042,DE,,,,",          # partner column: partner:DE-0042
    "u2,2026-10-06T10:00:00Z,conversion,,,DE,o2,50.25,EUR,10",
    "u3,2026-10-07T10:00:00Z,conversion,,,JP,o3,1200,JPY,300",       # no touch: (direct)
    "u4,2026-11-02T10:00:00Z,touch,email,,SE,,,,",
    "u4,2026-11-03T10:00:00Z,conversion,,,SE,a1,999.99,SEK,",       # after the period, no SEK rate
    "u5,2026-10-08T10:00:00Z,conversion,,,DE,o5,abc,EUR,",          # rejected: gmv
    "u6,2026-10-09T10:00:00Z,conversion,,,DE,o6,7.00,XXXX,",        # rejected: currency
]


def test_reconciliation_per_currency_with_conversions_outside_the_run(tmp_path):
    d = write_run_inputs(tmp_path, OUTSIDE)
    res = invoke("run", "--config", d / "run.toml")
    assert res.exit_code == 0, res.output
    m = json.loads((d / "out" / "manifest.json").read_text())
    rec = m["reconciliation"]
    assert rec["rows"] == {"read": 11, "accepted": 9, "rejected": 2}
    by = rec["by_currency"]
    assert sorted(by) == ["?", "CHF", "EUR", "JPY", "SEK"]
    assert by["CHF"] == {"conversions_read": 1, "gmv_read": "40.50", "conversions_rejected": 0,
                         "gmv_rejected": "0.00", "conversions_outside_run": 1, "gmv_outside_run": "40.50",
                         "conversions_in_run": 0, "gmv_in_run": "0.00", "balanced": True}
    assert by["SEK"]["gmv_outside_run"] == "999.99" and by["SEK"]["conversions_in_run"] == 0
    assert by["EUR"]["gmv_read"] == "150.25" and by["EUR"]["gmv_rejected"] == "0.00"
    assert by["JPY"]["gmv_in_run"] == "1200"
    assert by["EUR"]["conversions_read"] == 3 and by["EUR"]["conversions_rejected"] == 1  # 'abc' counts, no value
    assert by["?"]["conversions_rejected"] == 1 and by["?"]["gmv_rejected"] == "7"  # no currency: as needed
    assert all(t["balanced"] for t in by.values())
    jpy_rate = D("0.00618166")  # the sample's JPY rate of 2026-10-07, the conversion's day
    assert rec["reporting"]["balanced"] and D(rec["reporting"]["gmv_direct"]) == D("1200") * jpy_rate
    assert D(rec["reporting"]["gmv_in_run"]) == D("150.25") + D("1200") * jpy_rate
    assert "CHF: GMV read 40.50 = rejected 0.00 + outside the run 40.50 + in the run 0.00" in res.stderr
    payouts = (d / "out" / "payouts.csv").read_text()
    de42 = [ln for ln in payouts.splitlines() if ln.split(",")[1] == "DE-0042"][0].split(",")
    assert D(de42[5]) > 0  # the partner column made the touch partner:DE-0042, which earns credit


def test_an_in_run_conversion_without_an_fx_rate_names_the_row(tmp_path):
    d = write_run_inputs(tmp_path, ["u1,2026-10-02T10:00:00Z,touch,email,,DE,,,,",
                                    "u1,2026-10-03T10:00:00Z,conversion,,,CH,o1,10,CHF,"])
    res = invoke("run", "--config", d / "run.toml")
    assert res.exit_code == 2
    assert "no FX rate for CHF on or before 2026-10-03" in res.stderr and "events row 2" in res.stderr
    assert not (d / "out").exists()


def test_derived_order_ids_are_reported(tmp_path):
    """No order_id column: ids are derived, counted on stderr and in the manifest."""
    d = write_run_inputs(tmp_path, ["u1,2026-10-02T10:00:00Z,touch,email,DE,",
                                    "u1,2026-10-03T10:00:00Z,conversion,,DE,5",
                                    "u2,2026-10-04T10:00:00Z,conversion,,DE,7"],
                         header="user_id,event_time,event_type,channel,country,gmv\n")
    toml = d / "run.toml"
    toml.write_text(toml.read_text() + 'currency = "EUR"\n')
    res = invoke("run", "--config", toml)
    assert res.exit_code == 0, res.output
    assert "order_id derived for 2 conversion(s)" in res.stderr
    m = json.loads((d / "out" / "manifest.json").read_text())
    assert m["order_ids"]["derived"] == 2 and "row number" in m["order_ids"]["rule"]


# --- methods, games, positions -------------------------------------------------------------------------
@pytest.mark.parametrize("args,words", [
    (["--model", "shapley", "--game", "count"], "closed form"),
    (["--model", "shapley", "--game", "ordered"], "closed form"),
    (["--model", "shapley", "--game", "rate"], "exactly for any journey size"),
    (["--model", "hybrid", "--game", "rate"], "exactly for any journey size"),
    (["--model", "markov"], "solved exactly"),
    (["--model", "last"], "deterministic rule"),
])
def test_method_mc_is_refused_where_the_model_is_exact(args, words):
    res = invoke("attribute", SAMPLES / "events.parquet", "--fx", SAMPLES / "fx.csv", "--method", "mc", *args)
    assert res.exit_code == 2 and words in res.stderr and "--method mc does not apply" in res.stderr


def test_method_mc_is_honoured_for_subset_rate():
    frame, attribution = sa.attribute(SAMPLES / "events.parquet", fx=SAMPLES / "fx.csv", game="subset-rate",
                                      method="mc", tolerance=0.05, with_report=True)
    assert attribution.result.info["method"] == "mc" and frame["std_error"].is_not_null().all()


def test_ordered_positions_reach_the_outputs(tmp_path):
    res = invoke("attribute", SAMPLES / "events.parquet", "--fx", SAMPLES / "fx.csv", "--game", "ordered",
                 "--positions", tmp_path / "pos.csv", "--out", tmp_path / "credits.csv")
    assert res.exit_code == 0, res.output
    pos = pl.read_csv(tmp_path / "pos.csv")
    credits = pl.read_csv(tmp_path / "credits.csv")
    assert pos.columns == ["model", "game", "channel", "position", "conversions", "gmv"]
    per_channel = pos.group_by("channel").agg(pl.col("gmv").sum()).sort("channel")
    joined = credits.join(per_channel, on="channel", how="left").fill_null(0.0)
    assert_allclose(joined["gmv"].to_numpy(), joined["gmv_right"].to_numpy(), rtol=1e-9, atol=1e-9)
    res = invoke("attribute", SAMPLES / "events.parquet", "--fx", SAMPLES / "fx.csv", "--positions",
                 tmp_path / "p2.csv")
    assert res.exit_code == 2 and "ordered game" in res.stderr


def test_run_with_the_ordered_game_writes_positions(tmp_path):
    d = tmp_path / "in"
    shutil.copytree(SAMPLES, d, ignore=shutil.ignore_patterns("runs"))
    res = invoke("run", "--config", d / "run.toml", "--model", "shapley", "--game", "ordered", "--out", d / "o")
    assert res.exit_code == 0, res.output
    pos = pl.read_csv(d / "o" / "positions.csv")
    assert pos.columns[:3] == ["period", "model", "game"] and set(pos["game"]) == {"ordered"}


# --- import boundaries ------------------------------------------------------------------------------
def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_import_boundaries(path):
    rel = path.relative_to(PACKAGE)
    imports = imports_of(path)
    if rel != Path("cli.py"):
        assert not any(i == "click" or i.startswith("click.") for i in imports), "only cli.py imports click"
    if rel.parts[0] != "kernels":
        assert not any(i == "numba" or i.startswith("numba.") for i in imports), "only kernels/ imports numba"
    elif rel.name != "_jit.py":  # numba's names come from _jit, which initialises numba in one thread at a time
        assert not any(i == "numba" or i.startswith("numba.") for i in imports), "kernels take numba from _jit"
    if rel in (Path("config.py"), Path("errors.py"), Path("schema.py")):
        assert not any(i.startswith(".") for i in imports), f"{rel} imports nothing from the package"
    if rel.parts[0] == "kernels":
        assert not any(i.split(".")[0] in ("polars", "pyarrow", "decimal") or i.startswith("..") for i in imports)


def test_engine_faults_are_exit_1_not_bad_input(monkeypatch, tmp_path):
    import shapley_attr.models as models

    def broken(*a, **k):
        raise ValueError("a bug inside the engine")

    monkeypatch.setattr(models, "fit", broken)
    res = invoke("attribute", SAMPLES / "events.parquet", "--fx", SAMPLES / "fx.csv")
    assert res.exit_code == 1 and "internal error" in res.stderr and "a bug inside the engine" in res.stderr


def test_kernels_load_without_scipy_and_blas_still_works():
    """Loading the journey kernels does not import scipy.linalg (numba's import-time BLAS probe is
    answered "absent"), and afterwards SciPy's BLAS imports as usual and numba's np.dot compiles
    against it (a fresh interpreter: the test session has long imported SciPy)."""
    import subprocess
    import sys

    code = ("import sys, numpy as np, numba\n"
            "import shapley_attr.kernels.ordering, shapley_attr.kernels.cut, shapley_attr.kernels.sequences\n"
            "assert 'scipy.linalg' not in sys.modules and sys.modules.get('scipy.linalg.cython_blas', 1) is not None\n"
            "import scipy.linalg.cython_blas, scipy.sparse.linalg\n"
            "dot = numba.njit(lambda a, b: np.dot(a, b))\n"
            "assert dot(np.arange(3.0), np.arange(3.0)) == 5.0\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
