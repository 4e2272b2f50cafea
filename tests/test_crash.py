"""Crash safety of the run directory (issue 10): nothing lost, nothing half-written.

The kill harness runs ``shapley-attr run`` as a subprocess on a small generated export and kills it
(SIGKILL or SIGTERM) at seeded points spread over the run's stages, measured first from a reference
run (start-up and imports, reading, modelling, writing). After every kill the target must be absent
or a complete run byte-identical to a reference run; afterwards a run to completion must clean every
leftover and give the reference bytes again. Runs alternate between two configurations (the default
hybrid model and ``--model last``), so that a kill while one replaces the other must leave exactly
one of the two, never a mixture.

``atomic_directory`` itself is also killed at exact steps (while the temporary directory is being
filled, right after the swap, between the two renames of the fallback without ``renameat2``).
Two runs at once, permissions from the umask and ``--force`` (it replaces only an earlier run of
this engine) are tested through the command line.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from shapley_attr.cli import cli
from shapley_attr.io import atomic

PY = sys.executable
LEFTOVER = re.compile(r"^\.(?P<name>.+?)\.(?:lock|\d+-[0-9a-f]{8}\.(?:tmp|old))$")
KILL_POINTS_DEFAULT = 4
KILL_POINTS_LONG = 36
KILL_SEED = 20261010


def cli_run(*args: str | Path, cwd=None, **popen) -> subprocess.Popen:
    return subprocess.Popen([PY, "-m", "shapley_attr", "run", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd, **popen)


def finish(proc: subprocess.Popen, timeout: float = 120) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def snapshot(run_dir: Path) -> dict[str, bytes]:
    """Every file of a run directory; the manifest without its timings (the one part that may differ)."""
    files = {}
    for p in sorted(run_dir.iterdir()):
        assert p.is_file(), f"{p}: a run directory holds files only"
        data = p.read_bytes()
        if p.name == "manifest.json":
            manifest = json.loads(data)
            manifest.pop("timings_seconds", None)
            data = json.dumps(manifest, sort_keys=True).encode()
        files[p.name] = data
    return files


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """``shapley-attr sample --journeys 2000``: a complete input set with its run.toml."""
    d = tmp_path_factory.mktemp("export") / "in"
    res = subprocess.run([PY, "-m", "shapley_attr", "sample", "--out", str(d), "--journeys", "2000", "--seed", "11"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    return d


VARIANTS = {"hybrid": (), "last": ("--model", "last")}


@pytest.fixture(scope="module")
def references(export, tmp_path_factory) -> dict:
    """One complete run per variant: its files and its stage timings (seconds since the process began)."""
    out = {}
    for name, extra in VARIANTS.items():
        target = tmp_path_factory.mktemp(f"ref-{name}") / "run"
        t0 = time.perf_counter()
        code, err = finish(cli_run("--config", export / "run.toml", "--out", target, *extra))
        wall = time.perf_counter() - t0
        assert code == 0, err
        timings = json.loads((target / "manifest.json").read_text())["timings_seconds"]
        out[name] = {"files": snapshot(target), "wall": wall, "timings": timings, "dir": target}
    return out


def stage_windows(ref: dict) -> dict[str, tuple[float, float]]:
    """(start, end) in seconds after the process starts, per stage: imports and reading, modelling,
    writing. The engine's own timings say how long reading and modelling took; the rest of the wall
    time before them is the interpreter's start and the imports."""
    t = ref["timings"]
    read = t.get("read_and_journeys", 0.0)
    model = sum(v for k, v in t.items() if k != "read_and_journeys")
    startup = max(0.0, ref["wall"] - read - model)
    return {"reading": (0.0, startup + read), "modelling": (startup + read, startup + read + model),
            "writing": (startup + read + model * 0.8, ref["wall"] * 1.05)}


def check_invariants(target: Path, refs: dict) -> str:
    """The target is absent or one complete reference run; beside it only our own temporary names."""
    for p in target.parent.iterdir():
        if p.name != target.name:
            m = LEFTOVER.match(p.name)
            assert m and m.group("name") == target.name, f"unexpected {p.name} beside the run directory"
    if not os.path.lexists(target):
        return "absent"
    assert target.is_dir() and not target.is_symlink()
    files = snapshot(target)
    for name, ref in refs.items():
        if files == ref["files"]:
            return f"complete:{name}"
    missing = sorted(set(refs["hybrid"]["files"]) - set(files))
    differ = sorted(n for n in files if all(files.get(n) != r["files"].get(n) for r in refs.values()))
    raise AssertionError(f"{target} is neither run: missing {missing}, differing {differ}")


def kill_harness(export: Path, refs: dict, work: Path, points: int, seed: int) -> list[dict]:
    """Kill points in two phases: the first third on a target that does not exist yet (afterwards it
    must be absent or complete), the rest on a target holding an earlier run that ``--force`` replaces
    (afterwards it must hold one complete run or the other, never be absent); in that phase every
    fourth point waits past the end of the run, so that runs complete and the variant in place changes."""
    rng = random.Random(seed)
    names = list(VARIANTS)
    stages = ["reading", "modelling", "writing"]
    fresh = work / "fresh" / "2026-10"
    target = work / "runs" / "2026-10"
    fresh.parent.mkdir(parents=True)
    target.parent.mkdir(parents=True)
    shutil.copytree(refs["last"]["dir"], target)  # an earlier complete run (the 'last' variant)
    log = []
    for k in range(points):
        phase = "new" if k < points // 3 else "replace"
        out = fresh if phase == "new" else target
        variant = names[k % 2]
        stage = "after" if phase == "replace" and k % 4 == 3 else stages[k % 3]
        windows = stage_windows(refs[variant])
        lo, hi = windows[stage] if stage != "after" else (refs[variant]["wall"] * 1.5, refs[variant]["wall"] * 2.0)
        delay = rng.uniform(lo, hi)
        sig = signal.SIGKILL if rng.random() < 0.5 else signal.SIGTERM
        proc = cli_run("--config", export / "run.toml", "--out", out, "--force", *VARIANTS[variant])
        time.sleep(delay)
        proc.send_signal(sig)
        code, err = finish(proc)
        assert "Traceback" not in err, err
        assert code in (0, -sig, 128 + sig), (code, err)
        leftovers = sorted(p.name for p in out.parent.iterdir() if p.name != out.name and not p.name.endswith(".lock"))
        state = check_invariants(out, refs)
        if phase == "replace":
            assert state != "absent", f"point {k}: the earlier run was lost"
        log.append({"point": k, "phase": phase, "variant": variant, "stage": stage, "delay": round(delay, 3),
                    "signal": sig.name, "exit": code, "target": state, "leftovers": len(leftovers)})
    # a run to completion cleans up what the killed runs left and gives the reference bytes again
    code, err = finish(cli_run("--config", export / "run.toml", "--out", target, "--force"))
    assert code == 0, err
    assert check_invariants(target, refs) == "complete:hybrid"
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name], "leftovers not cleaned"
    return log


def report(log: list[dict]) -> str:
    by = {}
    for e in log:
        key = (e["phase"], e["stage"], e["signal"], "exit 0" if e["exit"] == 0 else "killed", e["target"],
               "leftover" if e["leftovers"] else "clean")
        by[key] = by.get(key, 0) + 1
    return "\n".join(f"  {n:3d} x {k[0]} target, stage={k[1]} {k[2]} {k[3]} -> target {k[4]}, {k[5]}"
                     for k, n in sorted(by.items()))


def test_kill_run_at_seeded_points(export, references, tmp_path, fuzz_long):
    points = KILL_POINTS_LONG if fuzz_long else KILL_POINTS_DEFAULT
    log = kill_harness(export, references, tmp_path, points, KILL_SEED)
    print(f"\nkill harness: {points} points, seed {KILL_SEED}, reference wall "
          f"{references['hybrid']['wall']:.2f} s\n{report(log)}")
    assert len(log) == points
    # the harness must really have interrupted runs, not only watched them finish
    assert any(e["exit"] != 0 for e in log)


# --- atomic_directory killed at exact steps ----------------------------------------------------------
CHILD = textwrap.dedent("""
    import json, os, sys, time
    from pathlib import Path
    from shapley_attr.io import atomic

    target, step, tag = Path(sys.argv[1]), sys.argv[2], sys.argv[3]

    def pause(marker):
        print(marker, flush=True)
        time.sleep(120)

    if step.startswith("fallback"):
        atomic._renameat2 = None
    if step == "fallback-between-renames":
        real_rename = os.rename
        def rename(src, dst):
            real_rename(src, dst)
            if str(dst).endswith(".old"):
                pause("moved aside")
        os.rename = rename
    if step in ("after-swap", "fallback-after-swap"):
        atomic._rmtree = lambda path: pause("swapped")
    with atomic.atomic_directory(target, force=True) as tmp:
        for i in range(4):
            (tmp / f"part{i}.txt").write_text(tag * 4096)
            if step == "building" and i == 1:
                pause("building")
        (tmp / "manifest.json").write_text(json.dumps({"tool": "shapley_attr", "tag": tag}))
    print("done", flush=True)
""")


def atomic_child(target: Path, step: str, tag: str) -> subprocess.Popen:
    return subprocess.Popen([PY, "-c", CHILD, str(target), step, tag], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def tag_of(target: Path) -> str | None:
    """The tag of a complete test directory (all five files present and consistent), None if absent."""
    if not target.exists():
        return None
    tag = json.loads((target / "manifest.json").read_text())["tag"]
    assert sorted(p.name for p in target.iterdir()) == ["manifest.json"] + [f"part{i}.txt" for i in range(4)]
    assert all((target / f"part{i}.txt").read_text() == tag * 4096 for i in range(4))
    return tag


@pytest.mark.parametrize("step,sig,expected_after_kill,expected_after_cleanup", [
    ("building", signal.SIGKILL, "A", "A"),
    ("building", signal.SIGTERM, "A", "A"),
    ("after-swap", signal.SIGKILL, "B", "B"),
    ("fallback-between-renames", signal.SIGKILL, None, "A"),  # the earlier run is put back
    ("fallback-after-swap", signal.SIGKILL, "B", "B"),
])
def test_atomic_directory_killed_at_each_step(tmp_path, step, sig, expected_after_kill, expected_after_cleanup):
    target = tmp_path / "runs" / "2026-10"
    first = atomic_child(target, "none", "A")
    assert first.communicate(timeout=60)[0].strip() == "done"
    proc = atomic_child(target, step, "B")
    marker = proc.stdout.readline().strip()
    assert marker in ("building", "swapped", "moved aside"), proc.stderr.read()
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode in (-sig, 128 + sig)
    assert tag_of(target) == expected_after_kill
    beside = [p.name for p in target.parent.iterdir() if p.name != target.name]
    assert all(LEFTOVER.match(n) for n in beside), beside
    if sig == signal.SIGTERM:  # SIGTERM during the write is turned into a clean exit: nothing left
        assert [n for n in beside if not n.endswith(".lock")] == []
    with atomic.run_directory_lock(target):
        atomic.clean_leftovers(target)
    assert tag_of(target) == expected_after_cleanup
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_leftovers_of_a_killed_run_are_removed_by_the_next(tmp_path):
    target = tmp_path / "2026-10"
    proc = atomic_child(target, "building", "A")
    assert proc.stdout.readline().strip() == "building"
    proc.kill()
    proc.communicate(timeout=60)
    assert not target.exists()
    assert any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    with atomic.atomic_directory(target) as tmp:
        (tmp / "manifest.json").write_text('{"tool": "shapley_attr"}')
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


def test_stale_temporary_file_of_a_dead_writer_is_removed(tmp_path):
    out = tmp_path / "table.csv"
    dead = subprocess.run([PY, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".table.csv.{int(dead.stdout)}-0123abcd.tmp"
    stale.write_text("half")
    mine = tmp_path / f".table.csv.{os.getpid()}-0123abcd.tmp"  # a live writer's: kept
    mine.write_text("in progress")
    atomic.write_bytes_atomic(out, b"a,b\n")
    assert out.read_bytes() == b"a,b\n" and not stale.exists() and mine.exists()


# --- two runs at once ---------------------------------------------------------------------------------
def test_second_run_on_a_locked_directory_exits_2(export, tmp_path):
    target = tmp_path / "runs" / "2026-10"
    target.parent.mkdir()
    with atomic.run_directory_lock(target):
        code, err = finish(cli_run("--config", export / "run.toml", "--out", target))
    assert code == 2, err
    assert "another run is writing" in err and str(target) in err and "Traceback" not in err
    assert not target.exists()
    assert sorted(p.name for p in target.parent.iterdir()) == []  # lock released and removed


def test_two_runs_at_once_one_wins_and_forced_ones_never_mix(export, references, tmp_path):
    target = tmp_path / "runs" / "2026-10"
    procs = [cli_run("--config", export / "run.toml", "--out", target) for _ in range(2)]
    results = [finish(p) for p in procs]
    assert sorted(c for c, _ in results) == [0, 2], results
    loser = [e for c, e in results if c == 2][0]
    assert ("exists" in loser or "another run is writing" in loser) and "Traceback" not in loser
    assert check_invariants(target, references) == "complete:hybrid"
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
    # both with --force over that run, each its own variant: one or the other, whole
    procs = [cli_run("--config", export / "run.toml", "--out", target, "--force", *VARIANTS[v]) for v in VARIANTS]
    results = [finish(p) for p in procs]
    assert all(c in (0, 2) for c, _ in results) and any(c == 0 for c, _ in results), results
    assert check_invariants(target, references) in ("complete:hybrid", "complete:last")
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


# --- permissions --------------------------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o027])  # 0o022 is the atomic-level test below
def test_run_directory_permissions_follow_the_umask(export, tmp_path, umask):
    target = tmp_path / "runs" / "2026-10"
    proc = cli_run("--config", export / "run.toml", "--out", target, preexec_fn=lambda: os.umask(umask))
    code, err = finish(proc)
    assert code == 0, err
    assert stat.S_IMODE(target.stat().st_mode) == 0o777 & ~umask
    for p in target.iterdir():
        assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask, p.name


def test_atomic_file_permissions_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic.write_bytes_atomic(tmp_path / "a.csv", b"x\n")
        with atomic.atomic_directory(tmp_path / "d") as tmp:
            (tmp / "f").write_bytes(b"y")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.csv").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o755


# --- --force replaces only an earlier run of this engine (issue 9's contract) -------------------------
def invoke(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def tree(path: Path) -> dict:
    return {str(p.relative_to(path)): (p.read_bytes() if p.is_file() else None) for p in sorted(path.rglob("*"))}


@pytest.mark.parametrize("kind", ["foreign-dir", "other-tool", "bad-manifest", "file", "symlink-to-run"])
def test_force_refuses_what_is_not_an_earlier_run(export, references, tmp_path, kind):
    out = tmp_path / "out"
    if kind == "foreign-dir":
        out.mkdir()
        (out / "thesis.tex").write_text("years of work")
    elif kind == "other-tool":
        out.mkdir()
        (out / "manifest.json").write_text('{"tool": "something_else"}')
    elif kind == "bad-manifest":
        out.mkdir()
        (out / "manifest.json").write_text('{"tool": "shapley_attr"')  # not JSON
    elif kind == "file":
        out.write_text("a file")
    else:
        real = tmp_path / "real"
        assert invoke("run", "--config", export / "run.toml", "--out", real).exit_code == 0
        out.symlink_to(real, target_is_directory=True)
    before = tree(tmp_path)
    res = invoke("run", "--config", export / "run.toml", "--out", out, "--force")
    assert res.exit_code == 2, res.output
    assert str(out) in res.stderr and "Traceback" not in res.stderr
    assert tree(tmp_path) == before  # nothing touched, nothing left beside it


def test_force_replaces_an_earlier_run(export, references, tmp_path):
    out = tmp_path / "out"
    assert invoke("run", "--config", export / "run.toml", "--out", out, "--model", "last").exit_code == 0
    assert snapshot(out) == references["last"]["files"]
    res = invoke("run", "--config", export / "run.toml", "--out", out, "--force")
    assert res.exit_code == 0, res.output
    assert snapshot(out) == references["hybrid"]["files"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_atomic_directory_refuses_force_on_a_foreign_directory(tmp_path):
    """The guard holds in the writer itself too, whatever its caller checked before."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(atomic.RunDirectoryExistsError, match="replaces only an earlier run"):
        with atomic.atomic_directory(out, force=True) as tmp:
            (tmp / "manifest.json").write_text("{}")
    assert tree(tmp_path) == {"out": None, "out/keep.txt": b"mine"}


def test_a_directory_appearing_during_the_write_is_not_replaced(tmp_path):
    """Created by someone else while the run was being written (no lock of ours): refused, left alone."""
    target = tmp_path / "run"
    with pytest.raises(atomic.RunDirectoryExistsError, match="appeared while the run was written"):
        with atomic.atomic_directory(target) as tmp:
            (tmp / "manifest.json").write_text('{"tool": "shapley_attr"}')
            target.mkdir()
            (target / "theirs.txt").write_text("theirs")
    assert tree(tmp_path) == {"run": None, "run/theirs.txt": b"theirs"}


def test_sigterm_whose_exit_a_callback_swallowed_still_stops_the_write(tmp_path: Path) -> None:
    """Python runs the SIGTERM handler between any two bytecodes, also inside a callback whose
    exceptions it ignores (here a ``__del__``; in the seeded kill test the import system's module-lock
    callback): the exit is lost there and the block goes on. The write still stops before anything is
    published, the command exits 143, and no ignored exception is printed."""
    target = tmp_path / "runs" / "2026-10"
    code = ("import os, signal, sys\n"
            "from pathlib import Path\n"
            "from shapley_attr.io.atomic import atomic_directory\n"
            "class Bomb:\n"
            "    def __del__(self):\n"
            "        os.kill(os.getpid(), signal.SIGTERM)\n"
            "        x = 0\n"
            "        for _ in range(100000):\n"
            "            x += 1\n"
            "with atomic_directory(Path(sys.argv[1])) as tmp:\n"
            "    (tmp / 'a.txt').write_text('x')\n"
            "    bomb = Bomb()\n"
            "    del bomb\n"
            "    print('the block went on', flush=True)\n")
    done = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, timeout=120)
    assert done.stdout == "the block went on\n"  # the exit raised inside __del__ was lost there
    assert done.returncode == 143, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    assert not target.exists() and [p.name for p in target.parent.iterdir() if not p.name.endswith(".lock")] == []


def test_sigterm_whose_exit_an_extension_replaced_by_its_own_error_still_exits_as_sigterm(tmp_path: Path) -> None:
    """A C extension can swallow the exit the SIGTERM handler raised and raise an error of its own, not
    chained to it (matplotlib drawing the report's charts: ``ValueError: Invalid affine transformation
    matrix``, seen in the seeded kill test). The write is undone and the command exits 143 as SIGTERM
    asked, not 1 as an engine failure."""
    target = tmp_path / "runs" / "2026-10"
    code = ("import os, signal, sys\n"
            "from pathlib import Path\n"
            "from shapley_attr.cli import handle_errors\n"
            "from shapley_attr.io.atomic import atomic_directory\n"
            "@handle_errors\n"
            "def write():\n"
            "    with atomic_directory(Path(sys.argv[1])) as tmp:\n"
            "        (tmp / 'a.txt').write_text('x')\n"
            "        swallowed = False\n"
            "        try:\n"
            "            os.kill(os.getpid(), signal.SIGTERM)\n"
            "            for _ in range(100000):\n"
            "                pass\n"
            "        except SystemExit:  # what the extension's C code clears, leaving no context\n"
            "            swallowed = True\n"
            "        if swallowed:\n"
            "            raise ValueError('Invalid affine transformation matrix')\n"
            "write()\n")
    done = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 143, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert not target.exists() and [p.name for p in target.parent.iterdir() if not p.name.endswith(".lock")] == []
