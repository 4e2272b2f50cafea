"""shapley_attr.progress: timings always; spinners and bars on a real terminal only; silent when piped."""
from __future__ import annotations

import fcntl
import io
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import threading
import time

import pytest

from shapley_attr import progress


class Terminal:
    """A pseudo-terminal: ``stream`` is a TTY for the code under test, ``output()`` what it drew."""

    def __init__(self) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # rows, columns
        self.stream = os.fdopen(slave, "w", buffering=1, encoding="utf-8")

    def output(self) -> str:
        self.stream.flush()
        data = b""
        while select.select([self.master], [], [], 0.05)[0]:
            chunk = os.read(self.master, 65536)
            if not chunk:
                break
            data += chunk
        return data.decode("utf-8", "replace")

    def close(self) -> None:
        self.stream.close()
        os.close(self.master)


@pytest.fixture
def terminal(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")
    term = Terminal()
    yield term
    term.close()


def progress_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("progress:")]


def test_piped_stream_gets_nothing_but_timings_are_kept():
    piped = io.StringIO()
    prog = progress.Progress(stream=piped)
    assert not prog.enabled
    with prog.stage("read") as stage:
        time.sleep(0.02)
        with prog.bar(10, "bootstrap") as bar:
            for _ in range(10):
                bar.update()
        assert list(prog.track(range(3), "batches")) == [0, 1, 2]
    assert piped.getvalue() == ""
    assert bar.count == 10
    assert 0.02 <= stage.seconds < 1.0
    assert list(prog.timings) == ["read"] and prog.timings["read"] == round(stage.seconds, 3)


def test_terminal_shows_spinner_bar_and_stage_lines(terminal):
    prog = progress.Progress(stream=terminal.stream)
    assert prog.enabled
    with prog.stage("journeys") as stage:
        time.sleep(2.5 * progress.TICK_SECONDS)  # the spinner turns at least once
        with prog.bar(4, "bootstrap", unit="replicate") as bar:
            for _ in range(4):
                time.sleep(progress.TICK_SECONDS / 2)  # tqdm redraws at most every TICK_SECONDS
                bar.update()
        for _ in prog.track([1, 2, 3], "Monte Carlo batches"):
            time.sleep(progress.TICK_SECONDS / 2)
    out = terminal.output()
    assert f"{progress.SPINNER[0]} journeys" in out and f"{progress.SPINNER[1]} journeys" in out
    assert "bootstrap" in out and "/4" in out and "replicate" in out
    assert "Monte Carlo batches" in out and "/3" in out
    assert f"✓ journeys {stage.seconds:.2f} s" in out
    assert progress_threads() == []


def test_quiet_draws_nothing_on_a_terminal(terminal):
    prog = progress.Progress(quiet=True, stream=terminal.stream)
    assert not prog.enabled
    with prog.stage("model"):
        with prog.bar(3, "bootstrap") as bar:
            bar.update(3)
    assert terminal.output() == ""
    assert "model" in prog.timings


def test_dumb_terminal_draws_nothing(terminal, monkeypatch):
    monkeypatch.setenv("TERM", "dumb")
    assert not progress.Progress(stream=terminal.stream).enabled


def test_a_failing_stage_is_timed_reported_and_reraised(terminal):
    prog = progress.Progress(stream=terminal.stream)
    with pytest.raises(KeyError):
        with prog.stage("payouts") as stage:
            raise KeyError("x")
    assert stage.seconds is not None and "payouts" in prog.timings
    assert f"✗ payouts failed after {stage.seconds:.2f} s" in terminal.output()
    assert progress_threads() == []


def test_repeated_stages_add_up_in_first_run_order():
    prog = progress.Progress(stream=io.StringIO())
    for name in ("read", "model", "read"):
        with prog.stage(name):
            time.sleep(0.01)
    timings = prog.timings
    assert list(timings) == ["read", "model"]
    assert timings["read"] >= 0.02 and timings["model"] >= 0.01
    timings["read"] = 0  # a copy: the caller cannot change the record
    assert prog.timings["read"] >= 0.02


def test_unknown_total_and_module_functions(terminal):
    with progress.bar(None, "events", unit="row", stream=terminal.stream) as bar:
        time.sleep(progress.TICK_SECONDS * 1.2)
        bar.update(1000)
    with progress.stage("scan", stream=terminal.stream) as stage:
        pass
    out = terminal.output()
    assert "events" in out and "1000" in out and "✓ scan" in out and stage.seconds >= 0
    with progress.stage("scan", quiet=True, stream=terminal.stream):
        pass
    assert terminal.output() == ""


def test_tqdm_is_not_imported_when_nothing_is_shown():
    code = ("import io, sys; from shapley_attr import progress; p = progress.Progress(stream=io.StringIO()); "
            "s = p.stage('a'); s.__enter__(); s.__exit__(None, None, None); p.bar(3, 'b').update(); "
            "print('tqdm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
