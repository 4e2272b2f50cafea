"""The Python API on what a pipeline hands it: in-memory frames of every kind, keywords of the wrong
shape, and no trace left in the process. Each test was a defect found by a hostile battery."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import shapley_attr as sa
from shapley_attr.config import ConfigError, ModelParams
from shapley_attr.errors import InputError, UsageError

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
FX = str(SAMPLES / "fx.csv")


@pytest.fixture(scope="module")
def events() -> pl.DataFrame:
    return pl.read_parquet(SAMPLES / "events.parquet")


@pytest.fixture(scope="module")
def reference(events) -> pl.DataFrame:
    return sa.attribute(events, fx=FX, model="last")


def small_arrow(zone: str = "UTC") -> pa.Table:
    return pa.table({
        "user_id": ["u1", "u1", "u2", "u2"],
        "event_time": pa.array([0, 3_600_000_000, 0, 7_200_000_000], pa.int64()).cast(pa.timestamp("us", tz=zone)),
        "event_type": ["touch", "conversion", "touch", "conversion"],
        "channel": ["email", None, "search", None],
        "order_id": [None, "o1", None, "o2"], "gmv": [None, "10", None, "20"], "currency": [None, "EUR", None, "EUR"],
    })


def test_an_offset_zone_reads_alike_from_a_table_or_a_file_and_leaves_the_environment_alone(tmp_path):
    # the library set POLARS_IGNORE_TIMEZONE_PARSE_ERROR for good on the first such *file*; an Arrow
    # table with the zone failed (raw ComputeError) before that and worked after: a fresh process
    pq.write_table(small_arrow("+05:30"), tmp_path / "zoned.parquet")
    script = (
        "import os, sys, pyarrow.parquet as pq, shapley_attr as sa\n"
        "t = pq.read_table(sys.argv[1])\n"
        "a = sa.attribute(t, model='last')\n"
        "b = sa.attribute(sys.argv[1], model='last')\n"
        "assert a.equals(b), (a, b)\n"
        "print(sorted(zip(a['channel'].to_list(), a['gmv'].to_list())), "
        "os.environ.get('POLARS_IGNORE_TIMEZONE_PARSE_ERROR'))\n")
    env = {k: v for k, v in os.environ.items() if k != "POLARS_IGNORE_TIMEZONE_PARSE_ERROR"}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "zoned.parquet")], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[('email', 10.0), ('search', 20.0)] None"
    assert "panicked" not in done.stderr


def test_a_user_value_of_the_zone_variable_is_put_back():
    from shapley_attr.io.readers import IGNORE_TIME_ZONE, zones_read_as_utc

    before = os.environ.get(IGNORE_TIME_ZONE)
    os.environ[IGNORE_TIME_ZONE] = "0"
    try:
        with zones_read_as_utc():
            with zones_read_as_utc():
                assert os.environ[IGNORE_TIME_ZONE] == "1"
            assert os.environ[IGNORE_TIME_ZONE] == "1"  # the outer block still reads
        assert os.environ[IGNORE_TIME_ZONE] == "0"
    finally:
        if before is None:
            os.environ.pop(IGNORE_TIME_ZONE, None)
        else:
            os.environ[IGNORE_TIME_ZONE] = before


def test_an_input_column_named_like_the_row_number_is_not_read(events, reference):
    # Polars' DuplicateError, an internal error (exit 1) from the CLI
    got = sa.attribute(events.with_columns(pl.lit("x").alias("__row")), fx=FX, model="last")
    assert got.equals(reference)
    with pytest.raises(ConfigError, match="__row"):
        sa.attribute(events.rename({"user_id": "__row"}), fx=FX, model="last", columns={"user_id": "__row"})


def test_the_cli_reads_a_file_with_a_row_number_column(tmp_path, events):
    from click.testing import CliRunner

    from shapley_attr.cli import cli

    events.with_columns(pl.lit(7).alias("__row")).write_parquet(tmp_path / "e.parquet")
    res = CliRunner().invoke(cli, ["attribute", str(tmp_path / "e.parquet"), "--fx", FX, "--model", "last",
                                   "--format", "csv", "--quiet"])
    assert res.exit_code == 0, res.output


def test_an_arrow_table_with_a_column_twice_is_refused_naming_it(events):
    table = events.to_arrow()
    twice = pa.Table.from_arrays(table.columns + [table.column("channel")], names=table.column_names + ["channel"])
    with pytest.raises(InputError, match="column 'channel' appears 2 times") as info:
        sa.attribute(twice, fx=FX)
    assert info.value.issue.column == "channel"


def test_a_lazyframe_whose_rows_come_in_another_order_each_time_is_read_once(events, reference):
    # the validation read a LazyFrame more than once; a plan whose order changes between collects (a
    # join, a group_by) failed with an internal error, and could pair one row's user with another's gmv
    calls = []

    def reorder(frame: pl.DataFrame) -> pl.DataFrame:
        calls.append(1)
        return frame.sample(fraction=1.0, shuffle=True, seed=len(calls))

    lazy = events.lazy().map_batches(reorder, streamable=False)
    got = sa.attribute(lazy, fx=FX, model="last")
    assert got.equals(reference)
    assert len(calls) == 1


def test_a_lazyframe_that_cannot_be_read_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot be read"):
        sa.attribute(pl.scan_parquet(tmp_path / "missing.parquet"))


def test_other_arrow_objects(events, reference):
    import pyarrow.dataset as pads

    got = sa.attribute(pads.dataset(events.to_arrow()), fx=FX, model="last")
    assert got.equals(reference)
    with pytest.raises(UsageError, match="ChunkedArray"):
        sa.attribute(events.to_arrow().column("user_id"))
    with pytest.raises(TypeError, match="pandas"):
        sa.attribute(events.to_pandas())


def test_an_export_with_a_page_path_column_is_events(events, reference):
    got = sa.attribute(events.with_columns(pl.lit("/home").alias("path")), fx=FX, model="last")
    assert got.equals(reference)


def test_a_format_is_checked_before_the_work(tmp_path, events):
    rejects = tmp_path / "rejects.csv"
    with pytest.raises(UsageError, match="format 'xlsx'"):
        sa.attribute(events, fx=FX, out=tmp_path / "x.csv", format="xlsx", rejects=rejects)
    with pytest.raises(UsageError, match="table is for the terminal"):
        sa.attribute(events, fx=FX, out=tmp_path / "x.csv", format="table")
    with pytest.raises(UsageError, match="needs out="):
        sa.attribute(events, fx=FX, format="csv")
    assert not rejects.exists() and not (tmp_path / "x.csv").exists()


def test_the_cli_refuses_its_formats_before_the_work(tmp_path):
    from click.testing import CliRunner

    from shapley_attr.cli import cli

    rejects = tmp_path / "r.csv"
    for extra, message in ((["--format", "table", "--out", str(tmp_path / "x.csv")], "table is for the terminal"),
                           (["--format", "parquet"], "format parquet needs --out")):
        res = CliRunner().invoke(cli, ["attribute", str(SAMPLES / "events.parquet"), "--fx", FX, "--rejects",
                                       str(rejects), *extra])
        assert res.exit_code == 2 and message in res.output, res.output
        assert not rejects.exists()


def test_keywords_in_the_cli_s_shapes_and_numpy_numbers(events):
    renamed = events.rename({"user_id": "customer_id"})
    a = sa.attribute(renamed, fx=FX, model="last", columns=["user_id=customer_id"])
    b = sa.attribute(renamed, fx=FX, model="last", columns={"user_id": "customer_id"})
    assert a.equals(b)
    c = sa.attribute(events, fx=FX, model="markov", order=np.int64(2), seed=np.int64(3))
    d = sa.attribute(events, fx=FX, model="markov", order=2, seed=3)
    assert c.equals(d)
    with pytest.raises(ConfigError, match="columns"):
        sa.attribute(events, columns=["user_id"])
    with pytest.raises(UsageError, match="out: expected a path"):
        sa.attribute(events, out=5)


def test_keywords_of_other_commands_are_refused_and_positions_is_taken(tmp_path, events):
    for keyword in ({"countries": ["DE"]}, {"partners": "p.csv"}, {"force": True}, {"noise_free_payouts": True},
                    {"events": "e.parquet"}):
        with pytest.raises(UsageError, match="not of attribute"):
            sa.attribute(events, fx=FX, **keyword)
    with pytest.raises(UsageError, match="unknown setting 'colour'; expected one of alpha, .*, format, "):
        sa.attribute(events, fx=FX, colour="blue")
    with pytest.raises(UsageError, match=r"unknown setting 'formt' \(did you mean 'format'\?\)"):
        sa.attribute(events, fx=FX, formt="csv")
    with pytest.raises(UsageError, match="ordered game"):
        sa.attribute(events, fx=FX, positions=tmp_path / "p.csv")
    sa.attribute(SAMPLES / "events.parquet", fx=FX, game="ordered", positions=tmp_path / "api.csv")
    from click.testing import CliRunner

    from shapley_attr.cli import cli

    res = CliRunner().invoke(cli, ["attribute", str(SAMPLES / "events.parquet"), "--fx", FX, "--game", "ordered",
                                   "--positions", str(tmp_path / "cli.csv"), "--quiet", "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "api.csv").read_bytes() == (tmp_path / "cli.csv").read_bytes()


def test_public_records_check_their_kinds():
    # ModelParams(seed=1.5) ran the stream of seed 1 and recorded 1.5
    for bad in ({"seed": 1.5}, {"max_samples": 1000.7}, {"order": "2"}, {"bootstrap": 2.5}, {"alpha": "0.5"},
                {"position_weights": "0.4,0.2,0.4"}, {"collapse_repeats": "yes"}, {"model": 3}):
        with pytest.raises(ConfigError):
            ModelParams(**bad)
    params = ModelParams(seed=np.int64(4), alpha=np.float32(0.25), position_weights=[0.5, 0, 0.5])
    assert type(params.seed) is int and type(params.alpha) is float and params.position_weights == (0.5, 0.0, 0.5)
    with pytest.raises(ConfigError, match="unknown command"):
        sa.build_config("report")


def test_fit_takes_a_mapping_of_model_settings(events):
    table = sa.load_table(events, fx=FX).table
    a = sa.fit(table, {"model": "markov", "order": 2})
    b = sa.fit(table, ModelParams(model="markov", order=2))
    assert np.array_equal(a.credit, b.credit)
    with pytest.raises(ConfigError, match="unknown model setting 'colour'"):
        sa.fit(table, {"colour": "blue"})
    with pytest.raises(ConfigError, match="expected ModelParams"):
        sa.fit(table, "markov")


def test_an_arrow_timestamp_in_seconds_that_polars_would_wrap_is_refused(tmp_path):
    """Battery 5 A3: Polars holds seconds as milliseconds, multiplied without an overflow check: a
    conversion at second 2305843011005716352 was read as 2026-10-15 and credited. Refused, naming the
    column, from an Arrow IPC file and from a pyarrow Table; an ordinary timestamp[s] column still reads."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    def table(seconds):
        return pa.table({"user_id": ["u1", "u1"], "event_time": pa.array(seconds, pa.timestamp("s", "UTC")),
                         "event_type": ["touch", "conversion"], "channel": ["email", None],
                         "order_id": [None, "o1"], "gmv": [None, "10.00"], "currency": [None, "EUR"]})

    bad = table([1791000000, 2305843011005716352])
    path = tmp_path / "events.arrow"
    with ipc.new_file(str(path), bad.schema) as writer:
        writer.write_table(bad)
    for source in (path, bad):
        with pytest.raises(InputError, match="a timestamp in seconds beyond what can be read") as info:
            sa.attribute(source, model="last")
        assert info.value.issue.column == "event_time"
    frame = sa.attribute(table([1791000000, 1791000030]), model="last")
    assert frame.get_column("channel").to_list() == ["email"]


def test_arrow_columns_polars_cannot_take_are_refused_naming_them(tmp_path):
    """Battery 5 B4/C6: a union column was a bare polars ComputeError from the API; a run-end encoded
    one in an IPC file printed Polars' panic before the CLI's error, neither naming the column."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.ipc as ipc

    base = {"user_id": ["u1", "u1"], "event_time": ["2026-10-01T10:00:00Z", "2026-10-01T11:00:00Z"],
            "event_type": ["touch", "conversion"], "channel": ["email", None], "gmv": [None, "10"],
            "currency": [None, "EUR"]}
    union = pa.UnionArray.from_sparse(pa.array([0, 0], pa.int8()), [pa.array(["u1", "u1"]), pa.array([1, 2])])
    with pytest.raises(InputError, match="column 'user_id' holds Arrow sparse_union") as info:
        sa.attribute(pa.table(base | {"user_id": union}), model="last")
    assert info.value.issue.column == "user_id"
    ree = pc.run_end_encode(pa.array(base["event_type"]))
    table = pa.table(base | {"event_type": ree})
    path = tmp_path / "events.arrow"
    with ipc.new_file(str(path), table.schema) as writer:
        writer.write_table(table)
    with pytest.raises(InputError, match="column 'event_type' holds Arrow run_end_encoded"):
        sa.attribute(path, model="last")
    # an interval or a decimal of negative scale, even in a column the run does not use: a bare ComputeError
    # from the API; from an IPC file Polars' hint about an environment variable, or a footer error
    from decimal import Decimal

    for extra, kind in ((pa.array([(1, 1, 1)] * 2, pa.month_day_nano_interval()), "month_day_nano_interval"),
                        (pa.array([Decimal("1E+3")] * 2, pa.decimal128(5, -2)), "decimal128")):
        table = pa.table(base | {"extra": extra})
        with pytest.raises(InputError, match=f"column 'extra' holds Arrow {kind}"):
            sa.attribute(table, model="last")
        with ipc.new_file(str(path), table.schema) as writer:
            writer.write_table(table)
        with pytest.raises(InputError, match=f"column 'extra' holds Arrow {kind}"):
            sa.attribute(path, model="last")


def test_decimals_wider_than_38_digits_are_refused_naming_the_column(tmp_path):
    """A Parquet decimal of more than 38 digits (BigQuery's BIGNUMERIC is DECIMAL(76, 38)) as a contract
    column was an internal error (Polars gives its schema, then fails loading it: exit 1); a 256-bit
    Arrow decimal in a table handed to the API was Polars' panic ("Int256"). Both are refused naming
    the column; an export's other column of that type is never read (Parquet) and the run goes on."""
    from decimal import Decimal

    from click.testing import CliRunner

    from shapley_attr.cli import cli

    base = {"user_id": ["u1", "u1"], "event_time": ["2026-10-01T10:00:00Z", "2026-10-01T11:00:00Z"],
            "event_type": ["touch", "conversion"], "channel": ["email", None], "gmv": [None, "10.5"],
            "currency": [None, "EUR"]}
    wide = pa.decimal256(76, 38)
    cases = {"gmv": pa.array([None, Decimal("10.5")], wide),
             "event_time": pa.array([Decimal(1790848800), Decimal(1790852400)], pa.decimal256(50, 0))}
    for column, values in cases.items():
        path = tmp_path / f"wide_{column}.parquet"
        pq.write_table(pa.table(base | {column: values}), path)
        with pytest.raises(InputError, match=f"column '{column}' holds Decimal.*more than 38 digits") as info:
            sa.attribute(path, model="last")
        assert info.value.issue.column == column
        result = CliRunner().invoke(cli, ["attribute", str(path), "--model", "last", "--out", str(tmp_path / "o.csv")])
        assert result.exit_code == 2 and "BIGNUMERIC" in result.output, result.output
    paths = tmp_path / "paths.parquet"
    pq.write_table(pa.table({"path": ["a > b", "b"], "total_conversions": pa.array([Decimal(1), Decimal(2)], wide),
                             "total_conversion_value": [10.5, 3.0], "total_null": [0, 1]}), paths)
    with pytest.raises(InputError, match="column 'total_conversions' holds Decimal"):
        sa.attribute(paths, model="last")
    other = tmp_path / "other.parquet"  # not a contract column: never read
    pq.write_table(pa.table(base | {"bignum": pa.array([Decimal(1), Decimal(2)], wide)}), other)
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table(base), plain)
    assert sa.attribute(other, model="last").equals(sa.attribute(plain, model="last"))
    with pytest.raises(InputError, match="column 'bignum' holds Arrow decimal256") as info:
        sa.attribute(pa.table(base | {"bignum": pa.array([Decimal(1), Decimal(2)], wide)}), model="last")
    assert info.value.issue.column == "bignum"


def test_api_misuse_gets_the_packages_own_errors_before_any_work(tmp_path):
    """Battery 5 B5: these were a pathlib TypeError, an unpacking ValueError, an AttributeError, and a
    TypeError raised after the run directory was written."""
    from shapley_attr.config import ConfigError
    from shapley_attr.errors import InputKindError

    with pytest.raises(InputKindError, match="config: expected the path of a run.toml"):
        sa.attribute(SAMPLES / "events.parquet", config=5)
    with pytest.raises(ConfigError, match=r"expected \(contract column, source column\) pairs"):
        sa.ColumnMapping(rename=[("user_id",)])
    with pytest.raises(InputKindError, match="fit: expected a PathTable"):
        sa.fit(None, {"model": "last"})
    out = tmp_path / "run"
    with pytest.raises(InputKindError, match="echo: expected a function"):
        sa.run(config=SAMPLES / "run.toml", out=out, echo=5)
    assert not out.exists()


def test_journey_params_refuse_a_period_that_is_no_month():
    # battery 5 D5: accepted until a later step read it; the command line's RunConfig checked it alone
    from shapley_attr.config import ConfigError

    for period in ("2026-13", "2026-1", "26-10", "2026-00"):
        with pytest.raises(ConfigError, match=r"expected a month as YYYY-MM"):
            sa.JourneyParams(period=period)
    assert sa.JourneyParams(period="2026-10").period == "2026-10"
