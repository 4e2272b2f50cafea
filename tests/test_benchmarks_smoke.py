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
