"""Soak (issue 10): many runs in one process keep memory flat; a read-only install still runs.

The soak runs in a fresh child process (so that the test session's own allocations do not blur the
numbers): 20 back-to-back runs on 20 different generated exports through the Python API
(``shapley_attr.attribute`` by default; with ``--fuzz-long`` also the monthly run,
``shapley_attr.run``), reading the process's resident memory after each. The first runs warm caches
(imports, compiled kernels, Polars' thread pools); growth is measured from run 5 on.

The read-only install copies the package into a directory mounted read-only (``unshare --mount``
as root; ``chmod`` otherwise), with a read-only home too, so that neither the package's
``__pycache__`` nor ``~/.cache/numba`` can hold Numba's cache: ``kernels/_jit.py`` must fall back to a
private directory under ``$TMPDIR``, and the second run must load the kernels from it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PY = sys.executable
SRC = Path(__file__).resolve().parents[1] / "src" / "shapley_attr"

SOAK = textwrap.dedent("""
    import gc, json, sys, time
    from pathlib import Path
    import shapley_attr
    from shapley_attr.sample import write_sample

    work, runs, mode = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

    def rss_mb():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024

    out = []
    for i in range(runs):
        d = work / f"export{i}"
        write_sample(d, journeys=1000, seed=100 + i)  # same size, different data
        t = time.perf_counter()
        frame = shapley_attr.attribute(d / "events.parquet", fx=d / "fx.csv", model="shapley")
        assert abs(frame["share"].sum() - 1) < 1e-9
        if mode == "run":
            outcome = shapley_attr.run(config=d / "run.toml", out=d / "run")
            assert (d / "run" / "payouts.csv").exists()
            del outcome
        del frame
        gc.collect()
        out.append({"run": i, "rss_mb": round(rss_mb(), 1), "seconds": round(time.perf_counter() - t, 3)})
    print(json.dumps(out))
""")


def soak(tmp_path: Path, runs: int, mode: str) -> list[dict]:
    res = subprocess.run([PY, "-c", SOAK, str(tmp_path), str(runs), mode], capture_output=True, text=True,
                         timeout=1800)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


def growth(points: list[dict]) -> tuple[float, float]:
    """(RSS growth from run 5 to the last, least-squares slope in MB per run over runs 5..)."""
    import numpy as np

    tail = points[5:]
    x = np.array([p["run"] for p in tail], dtype=float)
    y = np.array([p["rss_mb"] for p in tail])
    slope = float(np.polyfit(x, y, 1)[0])
    return tail[-1]["rss_mb"] - tail[0]["rss_mb"], slope


def test_soak_api_memory_is_flat(tmp_path):
    points = soak(tmp_path, 20, "attribute")
    total, slope = growth(points)
    print(f"\nsoak, 20 x attribute: RSS {points[0]['rss_mb']} -> {points[4]['rss_mb']} (run 5) -> "
          f"{points[-1]['rss_mb']} MB; growth from run 5 {total:.1f} MB, slope {slope:.2f} MB/run; "
          f"seconds/run {sum(p['seconds'] for p in points) / len(points):.2f}")
    assert total < 25 and slope < 1.0, points


@pytest.mark.fuzz_long
def test_soak_run_path_memory_is_flat(tmp_path):
    points = soak(tmp_path, 20, "run")
    total, slope = growth(points)
    print(f"\nsoak, 20 x (attribute + run): RSS {points[0]['rss_mb']} -> {points[4]['rss_mb']} (run 5) -> "
          f"{points[-1]['rss_mb']} MB; growth from run 5 {total:.1f} MB, slope {slope:.2f} MB/run; "
          f"seconds/run {sum(p['seconds'] for p in points) / len(points):.2f}")
    assert total < 60 and slope < 2.0, points


# --- a read-only install -----------------------------------------------------------------------------
READONLY_CHILD = textwrap.dedent("""
    import sys
    from shapley_attr.kernels import _jit
    {body}
    print("CACHE_DIR=" + repr(_jit.CACHE_DIR))
""")
KERNELS_ONLY = """
import numpy as np
from shapley_attr.kernels import rng
assert rng.mix64(np.uint64(1)) == rng.mix64(np.uint64(1))
"""
FULL_RUN = """
import shapley_attr
frame = shapley_attr.attribute(sys.argv[1], model="shapley")
assert len(frame) > 0
"""


def readonly_runner(tmp_path: Path):
    """A function running Python with the package (and HOME) read-only, or None when this machine
    cannot make them read-only (root without mount namespaces)."""
    pkg = tmp_path / "pkg"
    shutil.copytree(SRC, pkg / "shapley_attr", ignore=shutil.ignore_patterns("__pycache__"))
    home = tmp_path / "home"
    home.mkdir()
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(tmpdir),
           "PYTHONPATH": str(pkg)}
    if os.geteuid() != 0:
        for p in [pkg, home, *pkg.rglob("*")]:
            if p.is_dir():
                p.chmod(0o555)

        def run(code: str, *args: str):
            return subprocess.run([PY, "-c", code, *args], env=env, capture_output=True, text=True, timeout=900)
        return run, tmpdir
    unshare = shutil.which("unshare")
    if unshare is None:
        return None, tmpdir
    probe = subprocess.run([unshare, "--mount", "sh", "-c", f"mount --bind -o ro {pkg} {pkg}"], capture_output=True)
    if probe.returncode != 0:
        return None, tmpdir

    def run(code: str, *args: str):
        script = tmp_path / "child.py"
        script.write_text(code)
        inner = (f"mount --bind -o ro {pkg} {pkg} && mount --bind -o ro {home} {home} && "
                 f"exec {PY} {script} " + " ".join(args))
        return subprocess.run([unshare, "--mount", "sh", "-c", inner], env=env, capture_output=True, text=True,
                              timeout=900)
    return run, tmpdir


def check_readonly(tmp_path: Path, body: str, *args: str) -> None:
    run, tmpdir = readonly_runner(tmp_path)
    if run is None:
        pytest.skip("cannot make a directory read-only here (root without mount namespaces)")
    code = READONLY_CHILD.format(body=body)
    for attempt in ("cold", "warm"):
        res = run(code, *args)
        assert res.returncode == 0, f"{attempt}: {res.stderr[-3000:]}"
        fallback = tmpdir / f"shapley_attr-{os.geteuid()}" / "numba"
        assert f"CACHE_DIR={str(fallback)!r}" in res.stdout, res.stdout
        cached = list(fallback.rglob("*.nbi"))
        assert cached, "no kernel was cached in the fallback directory"
        assert not list((tmp_path / "pkg").rglob("*.nbi"))  # nothing written into the package
        assert not (tmp_path / "home" / ".cache").exists()
    assert oct(fallback.parent.stat().st_mode & 0o777) == oct(0o700)


def test_readonly_install_caches_kernels_elsewhere(tmp_path):
    check_readonly(tmp_path, KERNELS_ONLY)


@pytest.mark.fuzz_long
def test_readonly_install_runs_end_to_end(tmp_path):
    events = Path(__file__).parent / "corpus" / "events_csv" / "valid_crlf.csv"
    check_readonly(tmp_path, FULL_RUN, str(events))
