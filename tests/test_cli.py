"""The command line: help everywhere, output formats, exit codes and messages (click's CliRunner)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from shapley_attr.cli import cli

PATHS_CSV = """path;total_conversions;total_conversion_value;total_null
email > search;2;30.5;1
search;1;10;4
email > email > display;1;20;0
display;0;0;3
"""

EVENTS_CSV = """user_id,event_time,event_type,channel,country,order_id,gmv,currency
u1,2026-10-01T10:00:00Z,touch,email,DE,,,
u1,2026-10-02T10:00:00Z,touch,search,DE,,,
u1,2026-10-02T11:00:00Z,conversion,,DE,o1,100.00,EUR
u2,2026-10-03T09:00:00Z,touch,partner:DE-0042,DE,,,
u2,2026-10-03T09:30:00Z,conversion,,DE,o2,50.50,EUR
u3,2026-10-04T09:00:00Z,touch,search,FR,,,
u4,2026-10-05T09:00:00Z,conversion,,FR,o3,20.00,EUR
"""


@pytest.fixture()
def paths_file(tmp_path: Path) -> Path:
    p = tmp_path / "paths.csv"
    p.write_text(PATHS_CSV)
    return p


@pytest.fixture()
def events_file(tmp_path: Path) -> Path:
    p = tmp_path / "events.csv"
    p.write_text(EVENTS_CSV)
    return p


def run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def test_every_command_has_help() -> None:
    result = run("--help")
    assert result.exit_code == 0
    commands = list(cli.commands)
    assert {"attribute", "sample"} <= set(commands)
    for name in commands:
        sub = run(name, "--help")
        assert sub.exit_code == 0, name
        assert "Usage:" in sub.output and len(cli.commands[name].help or "") > 20, name


def test_help_does_not_import_numba_or_polars() -> None:
    code = ("import sys; from shapley_attr.cli import cli\n"
            "try:\n    cli(['attribute', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('numba', 'polars', 'pyarrow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("model", [["last"], ["linear"], ["markov"], ["shapley"], ["shapley", "--game", "count"],
                                   ["hybrid"]])
def test_a_parquet_paths_input_under_21_channels_never_loads_numba(paths_file: Path, model: list[str]) -> None:
    """Start-up (issue 14): the heuristics, Markov and the count and rate games on up to 20 channels
    run in NumPy/SciPy; importing Numba and loading cached kernels would cost ~0.6 s of a 0.4 s run.
    ``last`` does not import SciPy either. (A CSV input still loads the compiled byte check.)"""
    parquet = paths_file.with_suffix(".parquet")
    pl.read_csv(paths_file, separator=";").write_parquet(parquet)
    code = ("import sys; from shapley_attr.cli import cli\n"
            f"try:\n    cli(['attribute', {str(parquet)!r}, '--model', *{model!r}, '-q', '--format', 'csv'])\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "print(sorted(m for m in ('numba', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = eval(out.strip().splitlines()[-1])
    assert "numba" not in loaded
    if model == ["last"]:
        assert loaded == []


def test_attribute_paths_csv_to_stdout(paths_file: Path) -> None:
    result = run("attribute", paths_file, "--model", "last", "--format", "csv")
    assert result.exit_code == 0, result.output
    frame = pl.read_csv(result.stdout.encode())
    assert frame.columns == ["channel", "conversions", "gmv", "share", "std_error", "ci_low", "ci_high", "model", "game"]
    assert frame["model"].unique().to_list() == ["last"] and frame["game"].is_null().all()
    got = dict(zip(frame["channel"], frame["gmv"]))
    assert got == {"display": 20.0, "email": 0.0, "search": 40.5}
    assert frame["conversions"].sum() == 4.0
    assert frame["std_error"].null_count() == len(frame)


def test_attribute_json_array_on_stdout(paths_file: Path) -> None:
    result = run("attribute", paths_file, "--model", "first", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert isinstance(rows, list) and {r["channel"] for r in rows} == {"display", "email", "search"}
    assert sum(r["gmv"] for r in rows) == pytest.approx(60.5, rel=1e-12)
    assert abs(sum(r["share"] for r in rows) - 1.0) < 1e-12


@pytest.mark.parametrize("fmt,suffix", [("csv", ".csv"), ("parquet", ".parquet"), ("json", ".json")])
def test_attribute_out_file(paths_file: Path, tmp_path: Path, fmt: str, suffix: str) -> None:
    out = tmp_path / f"credits{suffix}"
    result = run("attribute", paths_file, "--model", "linear", "--out", out, "--format", fmt)
    assert result.exit_code == 0, result.output
    if fmt == "parquet":
        frame = pl.read_parquet(out)
    elif fmt == "json":
        frame = pl.DataFrame(json.loads(out.read_text()))
    else:
        frame = pl.read_csv(out)
    assert frame["gmv"].sum() == pytest.approx(60.5, rel=1e-12)
    assert not list(tmp_path.glob(".*tmp"))  # no temporary file left behind


def test_attribute_terminal_table(paths_file: Path) -> None:
    result = run("attribute", paths_file, "--model", "last", "--format", "table")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "model: last"
    assert lines[1].split() == ["channel", "conversions", "gmv", "share"]
    assert lines[3].split()[0] == "search"  # largest credit first


def test_attribute_events_summary_reconciles(events_file: Path) -> None:
    result = run("attribute", events_file, "--model", "last", "--format", "csv")
    assert result.exit_code == 0, result.output
    frame = pl.read_csv(result.stdout.encode())
    got = dict(zip(frame["channel"], frame["gmv"]))
    assert got["search"] == 100.0 and got["partner:DE-0042"] == 50.5 and got["(direct)"] == 20.0
    assert "rows read 7 = accepted 7 + rejected 0" in result.stderr


def test_time_decay_on_paths_is_a_usage_error(paths_file: Path) -> None:
    result = run("attribute", paths_file, "--model", "time-decay")
    assert result.exit_code == 2
    assert "time-decay" in result.stderr and "events" in result.stderr


def test_missing_input_file_exit_2(tmp_path: Path) -> None:
    result = run("attribute", tmp_path / "nope.csv")
    assert result.exit_code == 2
    assert "nope.csv" in result.stderr


def test_bad_option_exit_2(paths_file: Path) -> None:
    assert run("attribute", paths_file, "--model", "nonsense").exit_code == 2
    assert run("attribute", paths_file, "--alpha", "2").exit_code == 2
    assert run("attribute", paths_file, "--col", "user_id").exit_code == 2


def test_bad_row_names_file_row_column(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(EVENTS_CSV.replace("o2,50.50,EUR", "o2,-5,EUR"))
    result = run("attribute", p, "--model", "last")
    assert result.exit_code == 2
    msg = result.stderr
    assert "bad.csv" in msg and "row 5" in msg and "gmv" in msg


def test_rejects_file_quarantines_and_reconciles(tmp_path: Path) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(EVENTS_CSV.replace("o2,50.50,EUR", "o2,-5,EUR").replace("2026-10-04T09:00:00Z", "not a time"))
    rejects = tmp_path / "rejects.csv"
    result = run("attribute", p, "--model", "last", "--rejects", rejects, "--format", "csv")
    assert result.exit_code == 0, result.output
    rej = pl.read_csv(rejects)
    assert rej.columns == ["source", "row", "column", "value", "reason"]
    assert sorted(rej["row"].to_list()) == [5, 6]
    assert "rows read 7 = accepted 5 + rejected 2" in result.stderr


def test_column_mapping(tmp_path: Path) -> None:
    p = tmp_path / "foreign.csv"
    text = EVENTS_CSV.replace("user_id,event_time,event_type", "customer,ts,kind").replace(",touch,", ",view,")
    p.write_text(text.replace(",conversion,", ",purchase,"))
    result = run("attribute", p, "--model", "last", "--format", "csv", "--col", "user_id=customer",
                 "--col", "event_time=ts", "--col", "event_type=kind", "--touch-type", "view",
                 "--conversion-type", "purchase")
    assert result.exit_code == 0, result.output
    frame = pl.read_csv(result.stdout.encode())
    assert frame["gmv"].sum() == pytest.approx(170.5, rel=1e-12)


def test_a_mapping_onto_a_column_of_the_input_says_that_column_is_not_read(tmp_path: Path) -> None:
    """--col gmv=net on an export with its own gmv read net and dropped gmv without a word (the
    manifest's parameters.columns alone recorded it)."""
    import warnings

    from shapley_attr.api import load_table
    from shapley_attr.errors import InputNote

    p = tmp_path / "events.csv"
    lines = EVENTS_CSV.splitlines()
    p.write_text("\n".join([lines[0] + ",net"] + [ln + (",10.00" if ln.endswith("EUR") else ",") for ln in lines[1:]]))
    result = run("attribute", p, "--model", "last", "--format", "csv", "--col", "gmv=net")
    assert result.exit_code == 0, result.output
    assert pl.read_csv(result.stdout.encode())["gmv"].sum() == pytest.approx(30.0, rel=1e-12)  # net, 3 x 10
    note = f"note: {p}: --col gmv=net reads 'net' as gmv; the input's own 'gmv' column is not read"
    assert result.stderr.count(note) == 1, result.stderr
    assert "note:" not in run("attribute", p, "--model", "last", "--format", "csv").stderr
    with pytest.warns(InputNote, match="the input's own 'gmv' column is not read"):  # the API: a Python warning
        load_table(str(p), columns={"gmv": "net"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_table(str(p), columns={"gmv": "gmv"})  # the column itself: nothing replaced, no note


def test_contract_columns_spelt_otherwise_are_named_with_their_mapping(tmp_path: Path) -> None:
    """An export with User_ID or ' gmv' (a space from the exporting tool) read as missing user_id, or as
    conversions without gmv, with only the column list to go by."""
    lines = EVENTS_CSV.splitlines()
    p = tmp_path / "events.csv"
    p.write_text("\n".join(["User_ID,event_time,event_type,channel,country,order_id, gmv,Currency"] + lines[1:]) + "\n")
    result = run("attribute", p, "--model", "last")
    assert result.exit_code == 2
    note, error = result.stderr.splitlines()[:2]
    assert note == (f"note: {p}: contract columns spelt otherwise are not read (names are exact): --col "
                    "'user_id=User_ID' --col 'gmv= gmv' --col 'currency=Currency' would read them"), result.stderr
    assert error.startswith(f"error: {p}, column 'user_id': missing required column(s) user_id:"), result.stderr
    mapped = run("attribute", p, "--model", "last", "--format", "csv", "--col", "user_id=User_ID", "--col", "gmv= gmv",
                 "--col", "currency=Currency")
    assert mapped.exit_code == 0 and "note:" not in mapped.stderr, mapped.output
    assert pl.read_csv(mapped.stdout.encode())["gmv"].sum() == pytest.approx(170.5, rel=1e-12)
    web = tmp_path / "web.csv"  # an events export's Path is a web page's, not a paths table's path
    web.write_text("\n".join([lines[0] + ",Path"] + [ln + ",/home" for ln in lines[1:]]) + "\n")
    plain = run("attribute", web, "--model", "last", "--format", "csv")
    assert plain.exit_code == 0 and "note:" not in plain.stderr, plain.output
    paths = tmp_path / "paths.csv"
    paths.write_text("Path,Total_Conversions\nemail > search,2\n")
    note = run("attribute", paths).stderr.splitlines()[0]
    assert note.endswith("--col 'path=Path' --col 'total_conversions=Total_Conversions' would read them"), note


@pytest.mark.parametrize("cols,words", [
    (("user_id=country", "user_id=order_id"), "--col user_id=... given more than once"),
    (("user_id=country", "order_id=country"), "source column 'country' mapped to more than one"),
    (("customer=user_id",), "'customer' is not a contract column"),
])
def test_column_mapping_mistakes_are_usage_errors(tmp_path: Path, cols, words) -> None:
    # each was ignored or reached Polars (a DuplicateError and its query plan, exit 1)
    p = tmp_path / "events.csv"
    p.write_text(EVENTS_CSV)
    result = run("attribute", p, "--model", "last", *[a for c in cols for a in ("--col", c)])
    assert result.exit_code == 2, result.output
    assert words in result.stderr and "internal error" not in result.stderr


def test_output_paths_are_checked_before_any_work(events_file: Path, tmp_path: Path) -> None:
    rejects = tmp_path / "rejects.csv"
    # under a regular file: was an internal FileExistsError, after writing --rejects
    res = run("attribute", events_file, "--model", "last", "--out", events_file / "t.csv", "--rejects", rejects)
    assert res.exit_code == 2 and "is not a directory" in res.stderr and not rejects.exists()
    # over the input, or two outputs on one file: were silently clobbered
    before = events_file.read_bytes()
    res = run("attribute", events_file, "--model", "last", "--out", events_file)
    assert res.exit_code == 2 and "is the input given by --events" in res.stderr
    link = tmp_path / "link.csv"
    link.symlink_to(events_file)
    res = run("attribute", link, "--model", "last", "--rejects", events_file)
    assert res.exit_code == 2 and "refusing to write over it" in res.stderr
    assert events_file.read_bytes() == before
    res = run("attribute", events_file, "--model", "last", "--out", rejects, "--rejects", tmp_path / "." / "rejects.csv")
    assert res.exit_code == 2 and "name the same file" in res.stderr and not rejects.exists()


def test_an_unknown_out_extension_is_refused_before_the_work(events_file: Path, tmp_path: Path) -> None:
    # a CSV file was written under the name .xlsx
    res = run("attribute", events_file, "--model", "last", "--out", tmp_path / "credits.xlsx")
    assert res.exit_code == 2 and "unknown extension '.xlsx'" in res.stderr and "rows read" not in res.stderr
    assert not (tmp_path / "credits.xlsx").exists()
    assert run("attribute", events_file, "--model", "last", "--out", tmp_path / "c.xlsx", "--format", "csv",
               "--quiet").exit_code == 0
    assert run("attribute", events_file, "--model", "last", "--out", tmp_path / "credits", "--quiet").exit_code == 0


def test_out_writes_through_a_link_and_refuses_a_fifo(events_file: Path, tmp_path: Path) -> None:
    target, link = tmp_path / "target.csv", tmp_path / "current.csv"
    target.write_text("old")
    link.symlink_to(target.name)
    res = run("attribute", events_file, "--model", "last", "--out", link)
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and target.read_text().startswith("channel,")  # was: the link replaced
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    res = run("attribute", events_file, "--model", "last", "--out", fifo)  # was: replaced by a file
    assert res.exit_code == 2 and "named pipe" in res.stderr
    assert fifo.exists() and not fifo.is_file()
    import shapley_attr as sa
    from shapley_attr.errors import UsageError

    with pytest.raises(UsageError, match="is the input"):
        sa.attribute(events_file, model="last", out=events_file)


def test_sample_then_attribute(tmp_path: Path) -> None:
    out = tmp_path / "sample"
    result = run("sample", "--out", out, "--journeys", 300, "--seed", 3)
    assert result.exit_code == 0, result.output
    assert (out / "events.parquet").is_file()
    res = run("attribute", out / "events.parquet", "--fx", out / "fx.csv", "--model", "linear", "--format", "csv")
    assert res.exit_code == 0, res.output
    frame = pl.read_csv(res.stdout.encode())
    assert abs(frame["share"].sum() - 1.0) < 1e-9
    again = run("sample", "--out", out, "--journeys", 300, "--seed", 3)
    assert again.exit_code == 2  # refuses to overwrite without --force


def test_a_command_sets_its_process_defaults_before_numpy_and_polars_load() -> None:
    """The command's process defaults (OpenBLAS's idle threads, Polars' allocator) are in the
    environment before numpy and polars are imported (they are read when the libraries load), and a
    value the user set is kept."""
    code = ("import os, sys\n"
            "os.environ['OPENBLAS_THREAD_TIMEOUT'] = '7'\n"
            "from shapley_attr import cli\n"
            "cli._settle_process()\n"
            "assert 'numpy' not in sys.modules and 'polars' not in sys.modules\n"
            "assert os.environ['OPENBLAS_THREAD_TIMEOUT'] == '7'\n"
            "assert os.environ['_RJEM_MALLOC_CONF'] == cli.PROCESS_ENVIRONMENT['_RJEM_MALLOC_CONF']\n")
    import os

    # polars, imported by this session, has written its own allocator defaults into the environment
    env = {k: v for k, v in os.environ.items() if k not in ("_RJEM_MALLOC_CONF", "OPENBLAS_THREAD_TIMEOUT")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr


def _heap_of(text: str) -> tuple[int, int] | None:
    """The heap's first and last address in a /proc/self/maps text (it may show as several mappings)."""
    spans = [[int(x, 16) for x in line.split()[0].split("-")] for line in text.splitlines()
             if line.rstrip().endswith("[heap]")]
    return (min(lo for lo, _ in spans), max(hi for _, hi in spans)) if spans else None


GLIBC = sys.platform.startswith("linux") and (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")


@pytest.mark.skipif(not GLIBC, reason="glibc's allocator settings")
@pytest.mark.parametrize("user_tuned", [False, True])
def test_a_command_keeps_large_blocks_on_the_heap_unless_the_user_tuned_malloc(user_tuned) -> None:
    """After the process settings a 64 MB array is a block of glibc's heap (reused by the next stage
    once freed), not a mapping of its own; a user who set one of glibc's MALLOC_* variables keeps glibc's
    defaults."""
    code = ("import numpy as np\n"
            "from shapley_attr import cli\n"
            "cli._settle_process()\n"
            "a = np.ones(64 << 20, dtype=np.uint8)\n"
            "print(a.ctypes.data)\n"
            "print(open('/proc/self/maps').read())\n")
    env = {k: v for k, v in os.environ.items() if not (k.startswith("MALLOC_") or k == "GLIBC_TUNABLES")}
    if user_tuned:
        env["MALLOC_ARENA_MAX"] = "2"  # glibc's own variable: the command leaves the allocator alone
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    address, maps = done.stdout.split("\n", 1)
    heap = _heap_of(maps)
    on_heap = heap is not None and heap[0] <= int(address) < heap[1]
    assert on_heap is not user_tuned


@pytest.mark.skipif(not GLIBC, reason="glibc's allocator settings")
def test_a_command_never_trims_its_heap() -> None:
    """A large block freed at the heap's top stays with the process for the next stage (glibc would give
    it back to the system, and the next stage would fault the memory in again)."""
    code = ("import numpy as np\n"
            "from shapley_attr import cli\n"
            "cli._settle_process()\n"
            "a = np.empty(320 << 20, dtype=np.uint8)\n"
            "print(a.ctypes.data + a.nbytes)\n"
            "del a\n"
            "print(open('/proc/self/maps').read())\n")
    env = {k: v for k, v in os.environ.items() if not (k.startswith("MALLOC_") or k == "GLIBC_TUNABLES")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    end, maps = done.stdout.split("\n", 1)
    heap = _heap_of(maps)
    assert heap is not None and heap[1] >= int(end)


def _command(*args, code: str | None = None) -> subprocess.CompletedProcess:
    """The installed entry point (``cli.main``) in a child process, after ``code`` when given."""
    prelude = code or ""
    script = (f"{prelude}\nimport sys\nfrom shapley_attr.cli import main\n"
              "sys.argv = ['shapley-attr', *sys.argv[1:]]\nmain()\n")
    return subprocess.run([sys.executable, "-c", script, *map(str, args)], capture_output=True, timeout=300)


def test_the_entry_point_ends_as_python_exit_would(events_file: Path, tmp_path: Path) -> None:
    """The entry point leaves without the interpreter's teardown (cli._leave): the standard output is
    whole (the same bytes as in process), files are written, exit functions run, and the exit status
    is the command's: 0, 2 for bad input, 2 for a usage error."""
    marker = tmp_path / "atexit-ran"
    done = _command("attribute", events_file, "--model", "linear", "--format", "csv",
                    code=f"import atexit, pathlib\natexit.register(pathlib.Path({str(marker)!r}).write_text, 'yes')")
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.decode() == run("attribute", events_file, "--model", "linear", "--format", "csv").stdout
    assert marker.read_text() == "yes"
    out = tmp_path / "credits.csv"
    done = _command("attribute", events_file, "--model", "shapley", "--out", out)
    assert done.returncode == 0 and out.read_text().startswith("channel,")
    missing = _command("attribute", tmp_path / "absent.csv")
    assert missing.returncode == 2 and b"absent.csv" in missing.stderr
    assert _command("no-such-command").returncode == 2


@pytest.mark.parametrize("status, expected", [(None, 0), (0, 0), (3, 3), ("stopped: a reason", 1)])
def test_leave_keeps_sys_exit_statuses(status, expected) -> None:
    """``_leave`` gives ``sys.exit``'s statuses: None is 0, a number itself, a message printed and 1."""
    code = ("import sys\nfrom shapley_attr import cli\n"
            "sys.stdout.write('buffered, not flushed')\n"
            f"cli._leave({status!r})\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == expected
    assert done.stdout == "buffered, not flushed"
    if isinstance(status, str):
        assert status in done.stderr


def test_sigterm_wrapped_by_an_extension_import_still_exits_as_sigterm() -> None:
    """SIGTERM during the output's write raises SystemExit(143); arriving while a C extension is being
    imported (matplotlib's, for the report), the extension reports ``ImportError: initialization failed``
    raised from it. The command exits 143 as SIGTERM asked, not 1 as an engine failure; any other
    error still is one."""
    import click

    from shapley_attr.cli import handle_errors

    def extension_import():
        try:
            raise SystemExit(143)  # what io.atomic's SIGTERM handler raises
        except SystemExit as stop:
            raise ImportError("initialization failed") from stop

    def failing():
        raise ImportError("no module named spam")

    with pytest.raises(SystemExit) as stopped:
        handle_errors(extension_import)()
    assert stopped.value.code == 143
    with pytest.raises(click.ClickException) as failed:
        handle_errors(failing)()
    assert failed.value.exit_code == 1 and "ImportError: no module named spam" in failed.value.format_message()


def test_a_sigterm_noted_by_an_earlier_command_is_not_the_next_ones(monkeypatch) -> None:
    """The CLI's last line of defence asks whether a SIGTERM came during *this* command: a process that
    runs commands one after another (click's runner, a scheduler's worker) and caught a SIGTERM in an
    earlier one still reports a later engine failure as one (exit 1), while a SIGTERM noted during the
    command is still its exit (143)."""
    import click

    from shapley_attr.cli import handle_errors
    from shapley_attr.io import atomic

    monkeypatch.setattr(atomic, "_SIGNALLED", [15])  # an earlier command's SIGTERM, caught

    def engine_bug():
        raise ValueError("a bug inside the engine")

    with pytest.raises(click.ClickException) as failed:
        handle_errors(engine_bug)()
    assert failed.value.exit_code == 1 and "ValueError: a bug inside the engine" in failed.value.format_message()

    def swallowed_sigterm():  # the handler notes it; a C extension then raises its own error
        atomic._SIGNALLED.append(15)
        raise ValueError("Invalid affine transformation matrix")

    with pytest.raises(SystemExit) as stopped:
        handle_errors(swallowed_sigterm)()
    assert stopped.value.code == 143
