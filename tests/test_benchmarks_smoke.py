"""The pytest-benchmark suite still runs (each benchmark once, untimed): benchmarks are never timed in
the test run, but a benchmark broken by a refactor should fail here, not on the day someone measures."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_benchmark_suite_runs_once_untimed():
    proc = subprocess.run([sys.executable, "-m", "pytest", "benchmarks", "-q", "-o", "addopts=", "-p",
                           "no:cacheprovider", "--benchmark-disable"], cwd=ROOT, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout.splitlines()[-1], proc.stdout[-500:]


def test_ab_alternates_commands_and_refuses_different_outputs(tmp_path: Path):
    """benchmarks/ab.py (how before/after figures are measured): each command runs once a round with its
    own environment words, the table has a row per command, and outputs that differ stop it (exit 1)."""
    script = "import os, sys; open(sys.argv[1], 'w').write(os.environ.get('WORD', 'none'))"
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"

    def ab(word_b: str):
        return subprocess.run([sys.executable, str(ROOT / "benchmarks" / "ab.py"), "--runs", "2",
                               f"A=WORD=same {sys.executable} -c \"{script}\" {a}",
                               f"B=WORD={word_b} {sys.executable} -c \"{script}\" {b}", "--same", str(a), str(b)],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)

    same = ab("same")
    assert same.returncode == 0, same.stderr
    rows = [line for line in same.stdout.splitlines() if line.startswith(("| A |", "| B |"))]
    assert len(rows) == 2 and all(line.split("|")[2].strip() == "2" for line in rows), same.stdout
    assert a.read_text() == b.read_text() == "same"
    differ = ab("other")
    assert differ.returncode == 1 and "outputs differ" in differ.stderr, differ.stdout + differ.stderr
    assert b.read_text() == "other"
