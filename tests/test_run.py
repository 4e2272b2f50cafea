"""The monthly run end to end: payouts to the minor unit, reruns, overwrite refusal, bad contracts."""
from __future__ import annotations

import csv
import json
import shutil
from decimal import Decimal as D
from pathlib import Path

import pytest
from click.testing import CliRunner

from shapley_attr.cli import cli
from shapley_attr.finance.money import minor_units, quantize
from shapley_attr.sample import write_sample


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("sample")
    write_sample(d, journeys=1500, seed=4)
    return d


def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def copy_sample(sample_dir: Path, tmp_path: Path) -> Path:
    d = tmp_path / "in"
    shutil.copytree(sample_dir, d)
    return d


def read_payouts(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_run_writes_contract_outputs_and_reruns_identically(sample_dir, tmp_path):
    d = copy_sample(sample_dir, tmp_path)
    res = invoke("run", "--config", d / "run.toml")
    assert res.exit_code == 0, res.output
    out = d / "runs" / "2026-10"
    assert sorted(p.name for p in out.iterdir()) == ["attribution.csv", "attribution.parquet", "kpis.csv",
                                                     "manifest.json", "map_compliance.csv", "models.csv",
                                                     "payouts.csv", "rejects.csv", "report.html"]
    raw = (out / "payouts.csv").read_bytes()
    assert b"\r\n" not in raw and raw.endswith(b"\n")
    rows = read_payouts(out / "payouts.csv")
    assert list(rows[0]) == ["period", "partner_id", "partner_name", "country", "currency", "attributed_gmv", "gamma",
                             "compensation", "referral_gmv", "beta", "referral_commission", "sales", "sales_target",
                             "rho", "rebate", "coop", "total_payable", "below_min_profit", "run_id",
                             "map_compliance", "privileges_withheld"]  # the sample has MAP inputs (PROGRAMME.md)
    assert [r["partner_id"] for r in rows] == sorted(r["partner_id"] for r in rows)
    partners = {r["partner_id"]: r for r in csv.DictReader(open(d / "partners.csv", encoding="utf-8"))}
    for r in rows:
        ccy = r["currency"]
        digits = minor_units(ccy)
        for col in ("attributed_gmv", "compensation", "referral_gmv", "referral_commission", "sales", "sales_target",
                    "rebate", "coop", "total_payable"):
            text = r[col]
            assert (len(text.split(".")[1]) if "." in text else 0) == digits, (col, text, ccy)
            assert "e" not in text.lower()
        parts = sum(D(r[c]) for c in ("compensation", "referral_commission", "rebate", "coop"))
        assert parts == D(r["total_payable"])
        mode = partners[r["partner_id"]]["rounding"]
        assert D(r["compensation"]) == quantize(D(r["gamma"]) * max(D(r["attributed_gmv"]), D(0)), ccy, mode)
        assert D(r["referral_commission"]) == quantize(D(r["beta"]) * D(r["referral_gmv"]), ccy, mode)
        rebate = quantize(D(r["rho"]) * max(D(r["sales"]) - D(r["sales_target"]), D(0)), ccy, mode)
        assert D(r["rebate"]) == (D(0) if r["privileges_withheld"] == "true" else rebate)
        assert r["below_min_profit"] in ("true", "false")
    hostile = [r for r in rows if r["partner_id"] == "FR-0099"][0]
    assert hostile["partner_name"].startswith("'=")
    manifest = json.loads((out / "manifest.json").read_text())
    for name in ("events", "partners", "sales", "fx", "coop"):
        import hashlib

        assert manifest["inputs"][name]["sha256"] == hashlib.sha256((d / Path(manifest["inputs"][name]["path"]).name)
                                                                    .read_bytes()).hexdigest()
    rec = manifest["reconciliation"]
    assert rec["reporting"]["balanced"] is True and rec["reporting"]["currency"] == "EUR"
    assert sorted(rec["by_currency"]) == ["EUR", "GBP", "JPY", "KWD"]
    for ccy, t in rec["by_currency"].items():
        assert t["balanced"] is True
        assert D(t["gmv_read"]) == D(t["gmv_rejected"]) + D(t["gmv_outside_run"]) + D(t["gmv_in_run"]), ccy
    assert manifest["tool"] == "shapley_attr" and manifest["engine"] == {"name": "local"}
    assert manifest["model"]["model"] == "hybrid" and manifest["model"]["game"] == "rate"
    assert manifest["run_id"] == rows[0]["run_id"]
    # co-op: every budget splits exactly into allocations + carry-over
    for b in manifest["payouts"]["coop"]:
        spent = sum(D(v) for v in b["allocations"].values())
        assert spent == D(b["spent"]) and D(b["spent"]) + D(b["carried_over"]) == D(b["budget"])
    # rerun elsewhere with --force: byte-identical money files
    first = {n: (out / n).read_bytes() for n in ("attribution.csv", "payouts.csv", "kpis.csv", "rejects.csv")}
    res2 = invoke("run", "--config", d / "run.toml", "--force")
    assert res2.exit_code == 0, res2.output
    for n, content in first.items():
        assert (out / n).read_bytes() == content, n


@pytest.mark.parametrize("force", [False, True])
def test_existing_directory_that_is_not_a_run_is_not_touched(sample_dir, tmp_path, force):
    """DATA.md: --force replaces only a directory holding an earlier run of this engine."""
    d = copy_sample(sample_dir, tmp_path)
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    (out / "manifest.json").write_text('{"tool": "something else"}')
    res = invoke("run", "--config", d / "run.toml", "--out", out, *(["--force"] if force else []))
    assert res.exit_code == 2 and "exists" in res.stderr
    assert "does not hold a run of shapley_attr" in res.stderr if force else "--force" in res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt", "manifest.json"]
    assert (out / "keep.txt").read_text() == "mine"


def test_force_refuses_a_file(sample_dir, tmp_path):
    d = copy_sample(sample_dir, tmp_path)
    out = tmp_path / "run"
    out.write_text("not a directory")
    res = invoke("run", "--config", d / "run.toml", "--out", out, "--force")
    assert res.exit_code == 2 and "is a file" in res.stderr
    assert out.read_text() == "not a directory"


def test_force_refuses_a_run_directory_holding_an_input(sample_dir, tmp_path):
    # --force would delete the input with the run it replaces
    d = copy_sample(sample_dir, tmp_path)
    out = tmp_path / "run"
    assert invoke("run", "--config", d / "run.toml", "--out", out).exit_code == 0
    fx = out / "fx_kept_here.csv"
    fx.write_bytes((d / "fx.csv").read_bytes())
    before = sorted(p.name for p in out.iterdir())
    res = invoke("run", "--config", d / "run.toml", "--out", out, "--force", "--fx", fx)
    assert res.exit_code == 2 and "holds the input given by --fx" in res.stderr
    assert sorted(p.name for p in out.iterdir()) == before
    res = invoke("run", "--config", d / "run.toml", "--out", d / "run.toml" / "x")
    assert res.exit_code == 2 and "is not a directory" in res.stderr and "internal error" not in res.stderr


@pytest.mark.parametrize("column,old,new,words", [
    ("gamma", "0.08", "1.5", "between 0 and 1"),
    ("beta", "0.03", "-0.1", "between 0 and 1"),
    ("currency", ",DE,EUR,", ",DE,EURO,", "ISO 4217"),
])
def test_bad_contract_exit_2_naming_column(sample_dir, tmp_path, column, old, new, words):
    d = copy_sample(sample_dir, tmp_path)
    p = d / "partners.csv"
    lines = p.read_text().splitlines()
    lines[1] = lines[1].replace(old, new, 1)
    p.write_text("\n".join(lines) + "\n")
    res = invoke("run", "--config", d / "run.toml")
    assert res.exit_code == 2
    assert "partners.csv" in res.stderr and "row 1" in res.stderr and repr(column) in res.stderr and words in res.stderr
    assert "more problem" not in res.stderr  # the partner's sales row is not also an "unknown partner"
    assert not (d / "runs").exists()
    val = invoke("validate", "--config", d / "run.toml")
    assert val.exit_code == 2 and repr(column) in val.stderr


def test_other_contract_faults(sample_dir, tmp_path):
    d = copy_sample(sample_dir, tmp_path)
    lines = (d / "partners.csv").read_text().splitlines()
    dup = lines[1]
    second = lines[2].split(",")
    second[4] = lines[1].split(",")[4]  # claims the first partner's channel
    (d / "partners.csv").write_text("\n".join([lines[0], dup, dup, ",".join(second)] + lines[3:]) + "\n")
    (d / "sales.csv").write_text((d / "sales.csv").read_text() + "XX-0001,2026-10,1.00,1.00\n")
    (d / "coop.csv").write_text((d / "coop.csv").read_text() + "2026-10,DE,EUR,-5.00\n")
    res = invoke("validate", "--config", d / "run.toml")
    assert res.exit_code == 2
    err = res.stderr
    for words in ("duplicate partner_id", "claimed by partner", "unknown partner", "budget >= 0"):
        assert words in err, words


def test_overlapping_validity_and_missing_fx(sample_dir, tmp_path):
    d = copy_sample(sample_dir, tmp_path)
    lines = (d / "partners.csv").read_text().splitlines()
    v2 = lines[1].replace("2026-01-01,2026-12-31", "2026-06-01,2027-12-31")
    (d / "partners.csv").write_text("\n".join(lines + [v2]) + "\n")
    fx = [ln for ln in (d / "fx.csv").read_text().splitlines() if not ln.startswith("2026-10-31,JPY")]
    (d / "fx.csv").write_text("\n".join(fx) + "\n")
    res = invoke("validate", "--config", d / "run.toml")
    assert res.exit_code == 2
    assert "validity overlaps" in res.stderr and "missing FX rate for JPY on 2026-10-31" in res.stderr


@pytest.mark.parametrize("name,old,new,words", [
    # each was accepted, and money moved without a word: a budget or a sales row of a malformed period
    # was never the run's (the DE co-op budget vanished; a partner was paid as if it had sold nothing)
    ("coop.csv", "2026-10,DE,EUR,5000.00", "10/2026,DE,EUR,5000.00", "coop.csv, row 1, column 'period'"),
    ("sales.csv", "DE-0042,2026-10,", "DE-0042,Oct 2026,", "sales.csv, row 1, column 'period'"),
    # a budget finer than the currency's minor unit was rounded away
    ("coop.csv", "2026-10,DE,EUR,5000.00", "2026-10,DE,EUR,5000.005", "at most 2 decimals for EUR"),
    # the partner would be paid on the conversions that had no touch
    ("partners.csv", "partner:DE-0042,", "partner:DE-0042;(direct),", "(direct) is no partner's channel"),
    # an empty cell read as false: the partner lost its co-op share
    ("partners.csv", "0.90\n", "0.90\n", None),
    ("partners.csv", ",true,half-even,2026-01-01", ",,half-even,2026-01-01", "column 'coop_eligible': expected true or false"),
    # Python's Decimal reads 0.0_8 as 0.08 (and other scripts' digits as digits)
    ("partners.csv", ",0.08,0.03,", ",0.0_8,0.03,", "column 'gamma'"),
    ("sales.csv", "DE-0042,2026-10,1", "DE-0042,2026-10,\u0661", "column 'sales'"),
    # a name over two lines went into payouts.csv, whose lines end in LF only
    ("partners.csv", "MediaMarkt Partner GmbH", '"MediaMarkt\r\nPartner"', "column 'partner_name': expected one line"),
])
def test_finance_cells_that_moved_money_silently(sample_dir, tmp_path, name, old, new, words):
    d = copy_sample(sample_dir, tmp_path)
    text = (d / name).read_text()
    assert old in text
    (d / name).write_text(text.replace(old, new, 1))
    res = invoke("validate", "--config", d / "run.toml")
    if words is None:  # the unchanged sample validates
        assert res.exit_code == 0, res.output
        return
    assert res.exit_code == 2 and words in res.stderr, res.output
    assert "internal error" not in res.stderr


def test_a_contract_in_force_for_part_of_the_period_is_noted(sample_dir, tmp_path):
    # it applies to the whole month (documented rule), which was not said anywhere
    d = copy_sample(sample_dir, tmp_path)
    text = (d / "partners.csv").read_text()
    (d / "partners.csv").write_text(text.replace("2026-01-01,2026-12-31", "2026-01-01,2026-10-15", 1))
    res = invoke("run", "--config", d / "run.toml", "--out", tmp_path / "run")
    assert res.exit_code == 0, res.output
    words = "is in force from 2026-01-01 to 2026-10-15, part of 2026-10: it applies to the whole period"
    assert words in res.stderr
    notes = json.loads((tmp_path / "run" / "manifest.json").read_text())["payouts"]["notes"]
    assert sum(words in n for n in notes) == 1


def test_a_directory_given_as_the_fx_file(sample_dir, tmp_path):
    # was "file not found", then a missing rate for every currency paid
    d = copy_sample(sample_dir, tmp_path)
    (d / "fx.csv").unlink()
    (d / "fx.csv").mkdir()
    res = invoke("validate", "--config", d / "run.toml")
    assert res.exit_code == 2 and "fx.csv: is a directory, expected a CSV file" in res.stderr
    assert "missing FX rate" not in res.stderr


def test_a_nul_in_a_path_of_run_toml_is_a_usage_error(sample_dir, tmp_path):
    d = copy_sample(sample_dir, tmp_path)
    toml = (d / "run.toml").read_text()
    (d / "run.toml").write_text(toml.replace('sales = "sales.csv"', 'sales = "sales\\u0000.csv"'))
    assert 'sales\\u0000' in (d / "run.toml").read_text()
    for command in ("run", "validate"):  # run: an internal ValueError (embedded null byte)
        res = invoke(command, "--config", d / "run.toml")
        assert res.exit_code == 2 and "holds a NUL character" in res.stderr, res.output


@pytest.mark.parametrize("setting,words", [
    ('input_format = "xlsx"', "input_format 'xlsx': expected one of parquet, csv, arrow"),
    ("touch_types = [1, 2]", "touch_types: expected a text or a list of texts, got the item 1"),
    ('conversion_types = [["conversion"]]', "conversion_types: expected a text or a list of texts"),
    ('countries = ["DE", 5]', "countries: expected ISO 3166-1 alpha-2 codes as texts"),
    ("lookback_day = 14", "unknown key 'lookback_day' (did you mean 'lookback_days'?); expected one of alpha,"),
    ("xyzzy = 1", "unknown key 'xyzzy'; expected one of alpha,"),
])
def test_run_toml_values_of_the_wrong_kind_are_refused(sample_dir, tmp_path, setting, words):
    """Battery 5 C1/C3: an unknown input_format was a NameError text from the CSV reader; list items
    that are not texts were made texts ('1', '2': nearly every row a reject, exit 0)."""
    d = copy_sample(sample_dir, tmp_path)
    (d / "run.toml").write_text((d / "run.toml").read_text() + setting + "\n")
    for command in ("run", "validate"):
        res = invoke(command, "--config", d / "run.toml", "--out", tmp_path / "run")
        assert res.exit_code == 2 and words in res.stderr, (command, res.output)


def test_validate_checks_the_output_paths_as_run_does(sample_dir, tmp_path):
    # battery 5 C2: "ok: run would succeed", then run refused --rejects as a directory
    d = copy_sample(sample_dir, tmp_path)
    (tmp_path / "rejects").mkdir()
    (d / "run.toml").write_text((d / "run.toml").read_text() + f'rejects = "{tmp_path / "rejects"}"\n')
    for command in ("validate", "run"):
        res = invoke(command, "--config", d / "run.toml", "--out", tmp_path / "r")
        assert res.exit_code == 2 and "rejects: is a directory" in res.stderr, (command, res.output)


def test_a_full_disk_names_the_output_and_publishes_nothing(sample_dir, tmp_path, monkeypatch):
    """Battery 5 B6: ENOSPC was an internal error (exit 1) without a file name."""
    import errno

    from shapley_attr.io import atomic

    def full(*_):
        raise OSError(errno.ENOSPC, "No space left on device")

    d = copy_sample(sample_dir, tmp_path)
    monkeypatch.setattr(atomic, "_fsync_tree", full)  # the run directory's files are synced before publishing
    res = CliRunner().invoke(cli, ["run", "--config", str(d / "run.toml"), "--out", str(tmp_path / "run"), "-q"])
    assert res.exit_code == 2, res.output
    assert f"{tmp_path / 'run'}: cannot be written (No space left on device); nothing was published" in res.stderr
    assert not (tmp_path / "run").exists() and [p.name for p in tmp_path.iterdir()] == ["in"]
    monkeypatch.setattr(atomic.os, "fsync", full)  # a single file: attribute --out
    out = tmp_path / "credits.csv"
    res = CliRunner().invoke(cli, ["attribute", str(d / "events.parquet"), "--fx", str(d / "fx.csv"), "-q",
                                   "--out", str(out)])
    assert res.exit_code == 2 and f"{out}: cannot be written (No space left on device)" in res.stderr, res.output
    assert not out.exists() and [p.name for p in tmp_path.iterdir()] == ["in"]


def test_report_does_not_write_through_a_link_in_the_run_directory(sample_dir, tmp_path):
    d = copy_sample(sample_dir, tmp_path)
    out, victim = tmp_path / "run", tmp_path / "victim.txt"
    assert invoke("run", "--config", d / "run.toml", "--out", out).exit_code == 0
    victim.write_text("mine")
    (out / "report.html").unlink()
    (out / "report.html").symlink_to(victim)
    assert invoke("report", out).exit_code == 0
    assert victim.read_text() == "mine" and not (out / "report.html").is_symlink()


def test_a_rate_for_the_reporting_currency_must_be_one(sample_dir, tmp_path):
    # it was silently ignored: a file saying EUR = 2 EUR contradicts the reporting currency
    d = copy_sample(sample_dir, tmp_path)
    fx = (d / "fx.csv").read_text()
    (d / "fx.csv").write_text(fx + "2026-10-31,EUR,1\n")
    assert invoke("validate", "--config", d / "run.toml").exit_code == 0
    (d / "fx.csv").write_text(fx + "2026-10-31,EUR,2.0\n")
    for command in ("validate", "run"):
        res = invoke(command, "--config", d / "run.toml")
        assert res.exit_code == 2 and "EUR is the reporting currency: expected a rate of 1" in res.stderr
        assert "fx.csv, row" in res.stderr


def test_validate_writes_nothing_and_lists_rejects(sample_dir, tmp_path):
    d = copy_sample(sample_dir, tmp_path)
    import polars as pl

    ev = pl.read_parquet(d / "events.parquet")
    ev = ev.with_columns(pl.when(pl.int_range(pl.len()) == 3).then(pl.lit("bogus")).otherwise(pl.col("event_type"))
                         .alias("event_type"))
    ev.write_parquet(d / "events.parquet")
    before = sorted(p.name for p in d.iterdir())
    res = invoke("validate", "--config", d / "run.toml")
    assert res.exit_code == 0, res.output
    assert "would reject" in res.stderr and "row 4" in res.stderr and "rejected 1" in res.stderr
    assert sorted(p.name for p in d.iterdir()) == before
    run = invoke("run", "--config", d / "run.toml")
    assert run.exit_code == 0
    rejects = (d / "runs" / "2026-10" / "rejects.csv").read_text().splitlines()
    assert rejects[0] == "source,row,column,value,reason" and len(rejects) == 2


def test_crash_during_write_leaves_nothing(sample_dir, tmp_path, monkeypatch):
    d = copy_sample(sample_dir, tmp_path)
    import shapley_attr.manifest as manifest_mod

    def boom(_):
        raise KeyboardInterrupt

    monkeypatch.setattr(manifest_mod, "to_json", boom)
    # Ctrl-C while the run directory is half written (the money files are already in it)
    res = CliRunner().invoke(cli, ["run", "--config", str(d / "run.toml")])
    assert res.exit_code != 0
    runs = d / "runs"
    assert not runs.exists() or list(runs.iterdir()) == []


def test_command_line_overrides_config(sample_dir, tmp_path):
    d = copy_sample(sample_dir, tmp_path)
    out = tmp_path / "last"
    res = invoke("run", "--config", d / "run.toml", "--model", "last", "--out", out)
    assert res.exit_code == 0, res.output
    m = json.loads((out / "manifest.json").read_text())
    assert m["parameters"]["model"]["model"] == "last"
    rows = read_payouts(out / "payouts.csv")
    # with last touch, attributed GMV equals referral GMV
    assert all(r["attributed_gmv"] == r["referral_gmv"] for r in rows)
