"""Fuzzing every reader (issue 10): whatever the bytes, exit 0 or exit 2, never 1, never a traceback.

Each fuzzer feeds one input of the engine through the command line (click's CliRunner, in process)
and checks the contract of DATA.md:

- the exit code is 0 (bad rows quarantined, each with a reason) or 2 (a message that names the file);
- no traceback, no ``internal error``;
- after exit 2 no output file is left behind (``--out``, ``--rejects``, the run directory).

Inputs come from two kinds of strategies: *structured* ones that write rows of hostile values (wrong
types per column, NaN, ±inf, 1e308, negative amounts, timestamps in 1900 and 2200 and in the hour a
clock goes back, BOMs, UTF-16, Latin-1, CRLF, quoted newlines, very long fields, duplicate and missing
headers) and *mutating* ones that flip, insert, delete and truncate the bytes of a valid file.
Budgets are small by default (a few seconds per reader; Hypothesis derandomized, so the same examples
run every time); ``--fuzz-long`` runs thousands and prints how many ran and how long they took.

Minimised failures are kept in ``tests/corpus/<reader>/`` and replayed by ``test_corpus`` on every
run. A corpus case that fails because of a known defect in a file this suite does not own is marked
``xfail(strict=True)`` in ``tests/corpus/known.json`` (it turns into a failure, to be unmarked, once
fixed). The fuzzers tolerate exactly those known defects (:data:`KNOWN_DEFECTS`, each tied to a
corpus case) and fail on anything else.

Programme inputs (PROGRAMME.md: ``spend``, ``map``, ``prices``) are fuzzed through
:data:`PROGRAMME_READERS`, the hook where further inputs are added.
"""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shapley_attr.cli import cli
from shapley_attr.sample import write_sample

CORPUS = Path(__file__).parent / "corpus"
KNOWN = json.loads((CORPUS / "known.json").read_text(encoding="utf-8"))
STATS: dict[str, dict] = {}

DEFAULT_EXAMPLES = 25
LONG_EXAMPLES = 1500

# --- known defects in files this suite does not own (each has an xfail corpus case) ----------------
KNOWN_DEFECTS: dict[str, re.Pattern] = {k: re.compile(v["signature"], re.S) for k, v in KNOWN["defects"].items()}
"""Stderr signatures of exit-1 failures already reported to their owner. A fuzzer meeting one of them
records it and goes on; any other failure fails the test."""


# --- the contract check --------------------------------------------------------------------------------
@dataclass
class Outcome:
    code: int
    stderr: str
    known: str | None = None


def known_defect(reader: str, err: str) -> str | None:
    """The key of the known defect whose signature ``err`` matches (counted), else None."""
    for key, pattern in KNOWN_DEFECTS.items():
        if reader in KNOWN["defects"][key]["reader"] and pattern.search(err):
            known = STATS.setdefault(reader, {}).setdefault("known", {})
            known[key] = known.get(key, 0) + 1
            return key
    return None


def check_contract(args: list[str], names: list[str], outputs: list[Path], reader: str) -> Outcome:
    """Invoke the CLI and assert DATA.md's contract; returns the outcome (a known defect is tolerated)."""
    for out in outputs:
        if out.is_dir():
            shutil.rmtree(out)
        elif out.exists():
            out.unlink()
    res = CliRunner().invoke(cli, args)
    err = res.stderr
    while err.startswith("note: "):  # the reading's notes (errors.InputNote) come first, one line each
        err = err.partition("\n")[2]
    if res.exit_code not in (0, 2) or "Traceback" in err:
        known = known_defect(reader, err)
        if known is not None:
            return Outcome(res.exit_code, err, known)
        detail = repr(res.exception) if res.exception and not isinstance(res.exception, SystemExit) else ""
        raise AssertionError(f"exit {res.exit_code} (expected 0 or 2) for {args}: {err[-3000:]} {detail}")
    assert "Traceback" not in err and "internal error" not in err, err
    if res.exit_code == 2:
        assert err.startswith("error: ") or "Usage:" in err, err
        names_a_path = re.match(r"^error: /\S*: ", err) is not None  # the path a setting gave, named as given
        if not any(n in err for n in names) and not names_a_path:
            known = known_defect(reader, err)
            if known is None:
                raise AssertionError(f"message does not name the file ({names}): {err[:2000]}")
            return Outcome(res.exit_code, err, known)
        for out in outputs:
            assert not out.exists(), f"{out} left behind after exit 2"
            if out.parent.exists():
                siblings = [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
                assert siblings == [], siblings
    return Outcome(res.exit_code, err)


def fuzz(reader: str, strategy, check, fuzz_long: bool, default: int = DEFAULT_EXAMPLES, long: int = LONG_EXAMPLES):
    """Run ``check`` on examples of ``strategy`` with the budget of the mode; record count and time."""
    stats = STATS.setdefault(reader, {})
    stats.setdefault("examples", 0)
    stats.setdefault("exit", {})
    t0 = time.perf_counter()

    @settings(max_examples=long if fuzz_long else default, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(strategy)
    def run(example):
        stats["examples"] += 1
        outcome = check(example)
        stats["exit"][outcome.code] = stats["exit"].get(outcome.code, 0) + 1

    run()
    stats["seconds"] = stats.get("seconds", 0.0) + time.perf_counter() - t0


@pytest.fixture(scope="module", autouse=True)
def fuzz_report():
    yield
    if STATS:
        lines = [f"  {r}: {s['examples']} examples in {s.get('seconds', 0):.1f} s, exits {s.get('exit')}"
                 + (f", known defects {s['known']}" if s.get("known") else "") for r, s in sorted(STATS.items())]
        print("\nfuzzing:\n" + "\n".join(lines))


# --- hostile values --------------------------------------------------------------------------------------
LONG_FIELD = "x" * 200_000
TIMES = ["2026-10-01T10:00:00Z", "2026-10-02 11:00:00", "2026-10-03T10:00:00+02:00", "2026-10-04",
         "2026-10-25T02:30:00", "2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00",  # the hour Europe's clocks go back
         "2026-03-29T02:30:00", "1900-01-01T00:00:00Z", "1900-02-29T00:00:00", "2200-12-31T23:59:59Z",
         "0001-01-01", "9999-12-31T23:59:59", "1761955200", "1761955200000", "1761955200000000000", "-1", "0",
         "nan", "inf", "1e308", "", " ", "yesterday", "2026-02-30", "2026-10-01T25:00:00", "+10000-01-01",
         "2026-10-01T10:00:00 UTC", "2026-10-01T10:00:00.123456789Z", "10/01/2026"]
AMOUNTS = ["100.00", "0", "0.0", "-5", "-0", "NaN", "nan", "inf", "-inf", "Infinity", "1e308", "-1e308",
           "1.7976931348623157e308", "1e309", "5e-324", "12,50", "1_000", "0x10", "", " 5 ", "1e-7", "99999999999999999999"]
TEXT = ["u1", "u2", "u3", "", " ", "0", "-1", "=cmd|' /C calc'!A0", "+1", "@x", "é", "名前", "a > b", "a\nb", 'a"b',
        "a,b", "a;b", "\t", "\x7f", "\u202e", "\ufeff", LONG_FIELD]
EVENT_TYPES = ["touch", "conversion", "Touch", "CONVERSION", " touch ", "", "click", "=touch"]
CURRENCIES = ["EUR", "GBP", "JPY", "", "eur", "euro", "E", "€", "KWD"]
COLUMNS = ("user_id", "event_time", "event_type", "channel", "country", "order_id", "gmv", "currency")
POOLS = {"user_id": ["u1", "u2", "u3"] + TEXT, "event_time": TIMES, "event_type": EVENT_TYPES,
         "channel": ["email", "search", "partner:DE-0042"] + TEXT, "country": ["DE", "FR", "", "XX", "de", "D"],
         "order_id": ["o1", "o2", "o3", ""] + TEXT, "gmv": AMOUNTS, "currency": CURRENCIES}
ENCODINGS = ["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252"]
TOKENS = [b'"', b"\x00", b"\r", b"\n", b"\r\n", b"\xff", b"\xc3", b"\xef\xbb\xbf", b"\xfe\xff", b",", b";", b"\t",
          b"1e308", b"NaN", b"-inf", b"1900-01-01T00:00:00Z", b"2200-01-01T00:00:00Z", b'""', b"\xe2\x80\xae",
          b"x" * 70_000, b"\x80", b"\xed\xa0\x80"]


def header_variants(draw, columns: tuple[str, ...]) -> list[str]:
    header = list(columns)
    kind = draw(st.sampled_from(["same", "same", "same", "drop", "duplicate", "blank", "extra", "upper", "shuffle"]))
    i = draw(st.integers(0, len(header) - 1))
    if kind == "drop":
        del header[i]
    elif kind == "duplicate":
        header.insert(i, header[draw(st.integers(0, len(header) - 1))])
    elif kind == "blank":
        header[i] = ""
    elif kind == "extra":
        header.insert(i, draw(st.sampled_from(["note", "", "gmv2", LONG_FIELD[:5000]])))
    elif kind == "upper":
        header[i] = header[i].upper()
    elif kind == "shuffle":
        header = draw(st.permutations(header))
    return header


def encode_csv(draw, header: list[str], rows: list[list[str]]) -> bytes:
    delimiter = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    newline = draw(st.sampled_from(["\n", "\n", "\r\n"]))
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=delimiter, quoting=quoting, lineterminator=newline)
    writer.writerow(header)
    for row in rows:
        width = draw(st.sampled_from([len(header)] * 8 + [max(0, len(header) - 2), len(header) + 1]))
        writer.writerow((row + [""] * width)[:width])
    text = buf.getvalue()
    if draw(st.booleans()) and text.endswith(newline):
        text = text[: -len(newline)]
    encoding = draw(st.sampled_from(ENCODINGS))
    return text.encode(encoding, errors="replace")


GOOD = {"user_id": ["u1", "u2", "u3"], "event_time": TIMES[:4], "event_type": ["touch", "touch", "conversion"],
        "channel": ["email", "search", "partner:DE-0042"], "country": ["DE", "FR"], "order_id": ["o1", "o2", "o3", ""],
        "gmv": ["100.00", "5", "0"], "currency": ["EUR"]}


def cell(draw, column: str) -> str:
    """Mostly good values (so that rows get through and the later stages run), else hostile ones."""
    if column in GOOD and draw(st.integers(0, 9)) < 7:
        return draw(st.sampled_from(GOOD[column]))
    return draw(st.sampled_from(POOLS.get(column, TEXT)))


@st.composite
def event_csvs(draw) -> bytes:
    header = header_variants(draw, COLUMNS)
    n = draw(st.integers(0, 8))
    rows = [[cell(draw, c) for c in header] for _ in range(n)]
    return encode_csv(draw, header, rows)


VALID_EVENTS = (
    "user_id,event_time,event_type,channel,country,order_id,gmv,currency\n"
    "u1,2026-10-01T10:00:00Z,touch,email,DE,,,\n"
    "u1,2026-10-02T10:00:00Z,conversion,,DE,o1,100.00,EUR\n"
    "u2,2026-10-03T10:00:00+02:00,touch,\"search, paid\",DE,,,\n"
    "u2,2026-10-03 11:00:00,conversion,,DE,o2,50,EUR\n"
    "u3,2026-10-04T09:00:00Z,touch,\"multi\nline\",FR,,,\n"
    "u3,2026-10-05T09:00:00Z,conversion,,FR,o3,20.00,EUR\n").encode()


@st.composite
def mutated(draw, seeds) -> bytes:
    data = bytearray(draw(seeds) if not isinstance(seeds, bytes) else seeds)
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["flip", "insert", "insert", "delete", "truncate", "repeat"]))
        pos = draw(st.integers(0, len(data)))
        if op == "flip" and data:
            p = min(pos, len(data) - 1)
            data[p] = draw(st.integers(0, 255))
        elif op == "insert":
            token = draw(st.one_of(st.sampled_from(TOKENS), st.binary(min_size=1, max_size=8)))
            data[pos:pos] = token
        elif op == "delete":
            del data[pos:pos + draw(st.integers(1, 40))]
        elif op == "truncate":
            del data[pos:]
        elif op == "repeat":
            data[pos:pos] = data[max(0, pos - 30):pos]
    return bytes(data)


# --- events: CSV --------------------------------------------------------------------------------------------
def attribute_check(tmp: Path, suffix: str, reader: str, quarantine: bool):
    def check(data: bytes) -> Outcome:
        src = tmp / f"events{suffix}"
        src.write_bytes(data)
        out, rejects = tmp / "credits.csv", tmp / "rejects.csv"
        args = ["attribute", str(src), "--out", str(out), "-q"]
        if quarantine:
            args += ["--rejects", str(rejects)]
        outcome = check_contract(args, [src.name], [out, rejects], reader)
        if outcome.code == 0 and quarantine and outcome.known is None:
            assert out.exists() and rejects.exists()
            rows = list(csv.DictReader(io.StringIO(rejects.read_text(encoding="utf-8"), newline="")))
            assert all(r["reason"] and r["row"] for r in rows), rows[:3]
        return outcome
    return check


@pytest.mark.parametrize("quarantine", [True, False], ids=["rejects", "strict"])
def test_events_csv_structured(tmp_path, fuzz_long, quarantine):
    fuzz("events_csv", event_csvs(), attribute_check(tmp_path, ".csv", "events_csv", quarantine), fuzz_long)


def test_events_csv_mutated(tmp_path, fuzz_long):
    fuzz("events_csv", st.one_of(mutated(VALID_EVENTS), mutated(event_csvs())),
         attribute_check(tmp_path, ".csv", "events_csv", True), fuzz_long)


def test_events_random_bytes(tmp_path, fuzz_long):
    fuzz("events_csv", st.binary(min_size=1, max_size=600), attribute_check(tmp_path, ".csv", "events_csv", True),
         fuzz_long, default=15)


def test_csv_check_admits_only_what_polars_reads(tmp_path, fuzz_long):
    """The byte check of CSV inputs (io.readers.check_csv_bytes) against Polars itself: whatever the
    check lets through, Polars reads without an error (it may refuse more: a quote inside an unquoted
    value that happens to pair up)."""
    from shapley_attr.errors import InputError
    from shapley_attr.io.readers import check_csv_bytes

    alphabet = st.sampled_from([b"a", b"b", b",", b",", b'"', b'""', b"\n", b"\r\n", b"\r", b" ", b"\xc3\xa9",
                                b"\xff", b"\xe2\x82", b"\x00", b"\t"])
    body = st.lists(alphabet, max_size=40).map(b"".join)
    path = tmp_path / "t.csv"

    def check(data: bytes) -> Outcome:
        path.write_bytes(b"a,b,c\n" + data)
        try:
            check_csv_bytes(path, ",")
            admitted = True
        except InputError:
            admitted = False
        if admitted:
            frame = pl.read_csv(path, infer_schema=False)  # must not raise
            assert frame.columns == ["a", "b", "c"]
        return Outcome(0 if admitted else 2, "")  # reported as exits: 0 admitted, 2 refused

    fuzz("csv_check_vs_polars", body, check, fuzz_long, default=200, long=20000)


# --- events: Parquet and Arrow -------------------------------------------------------------------------------
DTYPES = ["str", "str", "str", "int", "float", "bool", "date", "datetime", "datetime_utc", "datetime_berlin",
          "duration", "list", "null", "categorical", "decimal", "binary", "struct"]


def column_values(draw, dtype: str, column: str, n: int):
    import datetime as dt
    from decimal import Decimal

    if dtype == "str":
        return pl.Series(column, [draw(st.sampled_from(POOLS.get(column, TEXT) + [None])) for _ in range(n)], pl.Utf8)
    if dtype == "int":
        return pl.Series(column, [draw(st.sampled_from([0, -1, 1, 2**62, -(2**62), 1761955200, 1761955200000, None]))
                                  for _ in range(n)], pl.Int64)
    if dtype == "float":
        return pl.Series(column, [draw(st.sampled_from([0.0, -5.0, 100.0, float("nan"), float("inf"), -float("inf"),
                                                        1e308, -1e308, 1761955200.5, None])) for _ in range(n)],
                         pl.Float64)
    if dtype == "bool":
        return pl.Series(column, [draw(st.sampled_from([True, False, None])) for _ in range(n)], pl.Boolean)
    if dtype == "date":
        return pl.Series(column, [draw(st.sampled_from([dt.date(2026, 10, 1), dt.date(1900, 1, 1), dt.date(2200, 1, 1),
                                                        None])) for _ in range(n)], pl.Date)
    if dtype.startswith("datetime"):
        tz = {"datetime": None, "datetime_utc": "UTC", "datetime_berlin": "Europe/Berlin"}[dtype]
        values = [draw(st.sampled_from([dt.datetime(2026, 10, 1, 10), dt.datetime(2026, 10, 25, 2, 30),
                                        dt.datetime(1900, 1, 1), dt.datetime(2200, 12, 31, 23, 59), None]))
                  for _ in range(n)]
        s = pl.Series(column, values, pl.Datetime("us"))
        return s.dt.replace_time_zone(tz, ambiguous="earliest", non_existent="null") if tz else s
    if dtype == "duration":
        return pl.Series(column, [dt.timedelta(seconds=draw(st.integers(-10**6, 10**6))) for _ in range(n)],
                         pl.Duration("us"))
    if dtype == "list":
        return pl.Series(column, [[draw(st.sampled_from(TEXT[:6]))] for _ in range(n)], pl.List(pl.Utf8))
    if dtype == "null":
        return pl.Series(column, [None] * n, pl.Null)
    if dtype == "categorical":
        return pl.Series(column, [draw(st.sampled_from(POOLS.get(column, TEXT)[:6])) for _ in range(n)], pl.Categorical)
    if dtype == "decimal":
        return pl.Series(column, [draw(st.sampled_from([Decimal("100.00"), Decimal("-5.00"), Decimal("0"), None]))
                                  for _ in range(n)], pl.Decimal(20, 2))
    if dtype == "binary":
        return pl.Series(column, [draw(st.binary(max_size=6)) for _ in range(n)], pl.Binary)
    return pl.Series(column, [{"a": 1}] * n)


@st.composite
def event_tables(draw) -> pl.DataFrame:
    n = draw(st.integers(0, 6))
    columns = [c for c in COLUMNS if draw(st.integers(0, 9)) > 0]
    return pl.DataFrame([column_values(draw, draw(st.sampled_from(DTYPES)), c, n) for c in columns])


def binary_bytes(kind: str):
    @st.composite
    def make(draw) -> bytes:
        frame = draw(event_tables())
        buf = io.BytesIO()
        (frame.write_parquet if kind == "parquet" else frame.write_ipc)(buf)
        return buf.getvalue()
    return make()


@pytest.mark.parametrize("kind,suffix", [("parquet", ".parquet"), ("arrow", ".arrow")])
def test_events_binary_typed(tmp_path, fuzz_long, kind, suffix):
    fuzz(f"events_{kind}", binary_bytes(kind), attribute_check(tmp_path, suffix, f"events_{kind}", True), fuzz_long)


@pytest.mark.parametrize("kind,suffix", [("parquet", ".parquet"), ("arrow", ".arrow")])
def test_events_binary_mutated(tmp_path, fuzz_long, kind, suffix):
    fuzz(f"events_{kind}", mutated(binary_bytes(kind)), attribute_check(tmp_path, suffix, f"events_{kind}", True),
         fuzz_long)


# --- paths ---------------------------------------------------------------------------------------------------
PATH_POOLS = {"path": ["a > b", "a", "b > a > a", "", " > ", "a >  > b", "a>b", "(direct)", "a > (direct)", LONG_FIELD,
                       " > ".join(["c"] * 500), "=x > y"],
              "total_conversions": AMOUNTS, "total_conversion_value": AMOUNTS, "total_null": AMOUNTS}


@st.composite
def path_csvs(draw) -> bytes:
    header = header_variants(draw, tuple(PATH_POOLS))
    rows = [[draw(st.sampled_from(PATH_POOLS.get(c, TEXT))) for c in header] for _ in range(draw(st.integers(0, 8)))]
    return encode_csv(draw, header, rows)


def test_paths_csv(tmp_path, fuzz_long):
    fuzz("paths_csv", st.one_of(path_csvs(), mutated(path_csvs())),
         attribute_check(tmp_path, ".csv", "paths_csv", True), fuzz_long)


# --- finance inputs and run.toml (validate, and run for some) ------------------------------------------------------
@pytest.fixture(scope="module")
def finance_sample(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("finance")
    write_sample(d, journeys=60, seed=5)
    return d


FINANCE_POOLS = {
    "partner_id": ["DE-0042", "DE-0107", "", "=X", "DE-0042 ", LONG_FIELD],
    "partner_name": ["Name", "", "=HYPERLINK(1)", "a\nb", LONG_FIELD],
    "country": ["DE", "FR", "", "de", "DEU", "XX"], "currency": CURRENCIES,
    "channels": ["partner:DE-0042", "", "a;b", "partner:DE-0042;partner:DE-0042", ";"],
    "gamma": ["0.05", "1", "0", "1.5", "-0.1", "NaN", "inf", "1e308", "", "x"],
    "beta": ["0.02", "NaN", "-inf", "", "0.5"], "rho": ["0.01", "2", "", "sNaN"],
    "sales_target": AMOUNTS, "min_profit": AMOUNTS, "sales": AMOUNTS, "gross_margin": AMOUNTS, "budget": AMOUNTS,
    "coop_eligible": ["true", "false", "TRUE", "yes", "maybe", ""], "rounding": ["half-even", "half-up", "up", ""],
    "valid_from": ["2026-01-01", "", "2026-13-01", "1900-01-01", "2200-01-01", "01/01/2026"],
    "valid_to": ["2026-12-31", "", "2025-01-01", "9999-12-31"],
    "period": ["2026-10", "2026-13", "", "2026-1", "1900-01", "2200-12"],
    "date": ["2026-10-31", "2026-10-01", "", "2026-02-30", "1900-01-01", "2200-12-31", "31/10/2026"],
    "rate_to_reporting": ["1.0", "0", "-1", "NaN", "inf", "1e308", "1e-308", "", "1,2"],
    "scope": ["DE", "*", "", "**", "de"],
}


def finance_file(name: str, finance_sample: Path):
    original = (finance_sample / name).read_bytes()
    header = original.decode().splitlines()[0].split(",")

    @st.composite
    def structured(draw) -> bytes:
        rows = [r.split(",") for r in original.decode().splitlines()[1:]]
        for _ in range(draw(st.integers(1, 4))):
            if rows:
                r = draw(st.integers(0, len(rows) - 1))
                c = draw(st.integers(0, len(header) - 1))
                rows[r][c] = draw(st.sampled_from(FINANCE_POOLS.get(header[c], TEXT)))
        return encode_csv(draw, header_variants(draw, tuple(header)) if draw(st.integers(0, 4)) == 0 else header, rows)

    return st.one_of(structured(), mutated(original), mutated(structured()))


INPUT_NAMES = ["partners.csv", "sales.csv", "fx.csv", "coop.csv", "events.parquet", "spend.csv", "map.csv",
               "prices.csv"]
"""A fault in one finance file may be reported in another (a contract row broken: its sales row names an
unknown partner); the message must name one of the inputs."""


def validate_check(tmp: Path, finance_sample: Path, name: str, reader: str):
    work = tmp / "in"
    if not work.exists():
        shutil.copytree(finance_sample, work)
    counter = {"n": 0}

    def check(data: bytes) -> Outcome:
        (work / name).write_bytes(data)
        counter["n"] += 1
        out = tmp / "runs" / "2026-10"
        if counter["n"] % 8 == 0:  # a run now and then: nothing may be written on exit 2
            outcome = check_contract(["run", "--config", str(work / "run.toml"), "--out", str(out)], INPUT_NAMES, [out],
                                     reader)
            if outcome.code == 0 and outcome.known is None:
                assert (out / "manifest.json").exists() and (out / "payouts.csv").exists()
            return outcome
        return check_contract(["validate", "--config", str(work / "run.toml")], INPUT_NAMES, [], reader)
    return check


@pytest.mark.parametrize("name", ["partners.csv", "sales.csv", "fx.csv", "coop.csv"])
def test_finance_inputs(tmp_path, finance_sample, fuzz_long, name):
    reader = name.removesuffix(".csv")
    fuzz(reader, finance_file(name, finance_sample), validate_check(tmp_path, finance_sample, name, reader), fuzz_long,
         default=10, long=600)


TOML_VALUES = ['"x"', "0", "-1", "1.5", "nan", "inf", "-inf", "true", "[]", '["a"]', "[1, 2]", "{}", '{ a = "b" }',
               "2026-10-01", "2026-10-01T10:00:00Z", '""', '"2026-13"', '"' + "y" * 5000 + '"', "1e308",
               "9223372036854775807", '"\\u0000"', '"events.parquet"', '"../.."', '"/"']
TOML_KEYS = ["events", "partners", "sales", "fx", "coop", "period", "reporting_currency", "out", "model", "game",
             "method", "order", "alpha", "value", "seed", "tolerance", "max_samples", "bootstrap", "lookback_days",
             "input_format", "delimiter", "currency", "touch_types", "conversion_types", "strict", "force",
             "collapse_repeats", "half_life_days", "position_weights", "engine", "unknown_key", "columns", "sep",
             "input_kind", "spend", "map", "prices", "map_policy", "countries"]


TOML_PLAUSIBLE = {  # values that may well be meant: the run must succeed, or say what is wrong
    "model": ['"last"', '"markov"', '"shapley"', '"LAST"'], "seed": ["3", "0"], "lookback_days": ["7", "0.5", "0"],
    "touch_types": ['["touch"]', '"touch"', "[]"], "conversion_types": ['["conversion"]', '"conversion"'],
    "delimiter": ['";"', '","'], "alpha": ["0", "1", "0.25"], "order": ["2", "4", "5"], "game": ['"count"', '"ordered"'],
    "value": ['"conversions"'], "strict": ["true", "false"], "bootstrap": ["0", "3"], "currency": ['"EUR"'],
    "columns": ['{ user_id = "user_id" }', '{ user_id = "nope" }', '{ gmv = "user_id" }'],
    "position_weights": ["[0.4, 0.2, 0.4]", "[0.5, 0.5]"], "half_life_days": ["7", "-1"],
    "reporting_currency": ['"GBP"', '"JPY"'], "period": ['"2026-09"', '"1900-01"', '"2200-12"'],
    "map_policy": ['"flag"', '"withhold"', '"WITHHOLD"'], "countries": ['["DE", "FR"]', '["de"]', '["XX"]', '"DE"'],
    "spend": ['"spend.csv"', '"missing.csv"'],
}


def toml_files(finance_sample: Path):
    original = (finance_sample / "run.toml").read_bytes()

    @st.composite
    def structured(draw) -> bytes:
        lines = original.decode().splitlines()
        for _ in range(draw(st.integers(1, 3))):
            key = draw(st.sampled_from(TOML_KEYS))
            pool = TOML_PLAUSIBLE.get(key, []) * 3 + TOML_VALUES if draw(st.booleans()) else TOML_VALUES
            value = draw(st.sampled_from(pool))
            lines = [ln for ln in lines if not ln.startswith(f"{key} ")]
            lines.insert(draw(st.integers(1, len(lines))), f"{key} = {value}")
        text = "\n".join(lines) + "\n"
        return text.encode(draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1"])), errors="replace")

    return st.one_of(structured(), mutated(original))


def test_run_toml(tmp_path, finance_sample, fuzz_long):
    work = tmp_path / "in"
    shutil.copytree(finance_sample, work)

    def check(data: bytes) -> Outcome:
        (work / "run.toml").write_bytes(data)
        out = tmp_path / "o" / "run"
        if data.count(b"\n") % 5 == 0:
            return check_contract(["run", "--config", str(work / "run.toml"), "--out", str(out)],
                                  ["run.toml", "--", str(work), *TOML_KEYS], [out], "run_toml")
        # a wrong value names the key (and should name the file: see known.json)
        return check_contract(["validate", "--config", str(work / "run.toml")],
                              ["run.toml", "--", str(work), *TOML_KEYS], [], "run_toml")

    fuzz("run_toml", toml_files(finance_sample), check, fuzz_long, default=30, long=1000)


# --- the programme inputs of PROGRAMME.md (spend, MAP prices, observed prices) -------------------------------
PROGRAMME_READERS: dict[str, tuple[str, ...]] = {
    # the hook of issue 10: a new input of `run`/`validate` is added here (file name: its columns) and to
    # FINANCE_POOLS (hostile values per column); test_programme_inputs then fuzzes it like the inputs above
    "spend.csv": ("period", "channel", "currency", "spend"),
    "map.csv": ("sku", "country", "currency", "map_price", "valid_from", "valid_to"),
    "prices.csv": ("date", "partner_id", "sku", "price", "currency"),
}
FINANCE_POOLS.update({
    "spend": AMOUNTS, "map_price": AMOUNTS, "price": AMOUNTS,
    "channel": ["paid_search", "", "=x", "a > b", "partner:DE-0042", LONG_FIELD],
    "sku": ["TV-55-OLED", "", "=SKU", "tv-55-oled", LONG_FIELD],
    "map_min_compliance": ["0.9", "", "1.5", "-0.1", "NaN", "x"],
    "basis": ["attributed_gmv", "", "sell_through:0.5;attributed_gmv:0.5", "x:1", "attributed_gmv:0.6;sell_through:0.6",
              "map_compliance", "attributed_gmv:-1;sell_through:2"],
})


@pytest.mark.parametrize("name", sorted(PROGRAMME_READERS))
def test_programme_inputs(tmp_path, finance_sample, fuzz_long, name):
    if not (finance_sample / name).exists():
        pytest.skip(f"the sample writes no {name}")
    assert tuple(open(finance_sample / name, encoding="utf-8").readline().strip().split(",")) == PROGRAMME_READERS[name]
    reader = name.removesuffix(".csv")
    fuzz(reader, finance_file(name, finance_sample), validate_check(tmp_path, finance_sample, name, reader), fuzz_long,
         default=10, long=600)


# --- the corpus of minimised failures ------------------------------------------------------------------------
def corpus_cases():
    cases = []
    for path in sorted(CORPUS.glob("*/*")):
        if path.name.startswith("."):
            continue
        key = f"{path.parent.name}/{path.name}"
        marks = []
        if key in KNOWN["xfail"]:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN["xfail"][key]))
        cases.append(pytest.param(path, id=key, marks=marks))
    return cases


READER_OF_DIR = {"events_csv": ".csv", "events_parquet": ".parquet", "events_arrow": ".arrow", "paths_csv": ".csv"}


@pytest.mark.parametrize("path", corpus_cases())
def test_corpus(tmp_path, finance_sample, path):
    """Each minimised failure once found, replayed strictly: exit 0 or 2 (known defects are not tolerated here)."""
    reader = path.parent.name
    saved = dict(KNOWN_DEFECTS)
    KNOWN_DEFECTS.clear()
    try:
        data = path.read_bytes()
        if reader in READER_OF_DIR:
            for quarantine in (True, False):
                attribute_check(tmp_path, READER_OF_DIR[reader], reader, quarantine)(data)
        elif reader == "run_toml":  # a corpus run.toml holds the lines that replace the sample's
            work = tmp_path / "in"
            shutil.copytree(finance_sample, work)
            keys = {ln.split(b"=")[0].strip() for ln in data.splitlines() if b"=" in ln}
            kept = [ln for ln in (work / "run.toml").read_bytes().splitlines() if ln.split(b"=")[0].strip() not in keys]
            (work / "run.toml").write_bytes(b"\n".join(kept) + b"\n" + data)
            out = tmp_path / "o" / "run"
            check_contract(["run", "--config", str(work / "run.toml"), "--out", str(out)], ["run.toml"], [out], reader)
        else:
            validate_check(tmp_path, finance_sample, f"{reader}.csv", reader)(data)
            out = tmp_path / "runs" / "2026-10"
            check_contract(["run", "--config", str(tmp_path / "in" / "run.toml"), "--out", str(out)], INPUT_NAMES,
                           [out], reader)
    finally:
        KNOWN_DEFECTS.update(saved)
