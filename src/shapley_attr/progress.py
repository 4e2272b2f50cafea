"""Progress on long work: stage timings, and spinners and bars on stderr when it is a terminal.

Nothing is written when stderr is not a terminal (piped, redirected, CI logs), when ``TERM=dumb``, or
with ``quiet=True``; stage timings are recorded in every case. The terminal output is drawn by tqdm,
imported only when something is actually shown, so a piped run never imports it.

API
---
One :class:`Progress` per run::

    from shapley_attr import progress

    prog = progress.Progress(quiet=quiet)            # stream: sys.stderr unless given
    with prog.stage("read") as stage:                # a spinner and the elapsed time on a terminal
        ...
    stage.seconds                                    # wall seconds of that block (after it)
    with prog.stage("model"):
        with prog.bar(total=replicates, desc="bootstrap", unit="replicate") as bar:
            for b in range(replicates):
                ...
                bar.update()                         # or bar.update(n) after a batch of n
        for batch in prog.track(batches, desc="Monte Carlo batches"):   # wraps an iterable
            ...
    prog.timings                                     # {"read": 0.41, "model": 0.23}  -> manifest's timings_seconds

- ``stage(name)`` is a context manager yielding a :class:`Stage`; its wall seconds
  (``time.perf_counter``) are added to ``timings[name]`` when the block ends, also when it raises (the
  exception propagates). Entering the same name twice adds up. On a terminal it shows
  ``⠋ name 00:03`` while running and leaves ``✓ name 3.21 s`` (``✗ … failed after`` on an exception).
- ``bar(total, desc, unit="it")`` is a context manager yielding a :class:`Bar` with ``update(n=1)``;
  ``total`` may be None (unknown: a counter instead of a bar). The bar disappears when it closes.
- ``track(iterable, desc, total=None, unit="it")`` yields the items of ``iterable`` and advances a bar
  (``total`` defaults to ``len(iterable)`` when it has one).
- ``timings`` is a new dict ``{stage: seconds}`` in the order the stages first ran, rounded to the
  millisecond (the manifest's ``timings_seconds``, which is not part of the byte-identical outputs).
- ``enabled`` tells whether anything is drawn. ``Progress(quiet=True)`` or a stream that is not a TTY
  draws nothing; ``Progress(enabled=True)`` forces drawing (tests).

The module functions :func:`stage` and :func:`bar` are the same for one-off use, without shared timings.
``with progress.active(prog):`` makes ``prog`` what :func:`current` returns inside the block, so that
deep loops (bootstrap replicates, Monte Carlo batches, validation batches) report to the run's
progress without it being passed down; outside a run :func:`current` is silent.
Numba kernels cannot report from inside; loop over batches in Python and call ``update`` per batch.
"""
from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import IO, Any

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
TICK_SECONDS = 0.1


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


@dataclass
class Stage:
    """One timed block: ``seconds`` is set when the block ends (None while it runs)."""

    name: str
    seconds: float | None = None


class Bar:
    """A progress bar; ``update(n)`` advances it. Does nothing when progress is not shown."""

    def __init__(self, bar: Any | None = None) -> None:
        self._bar = bar
        self.count = 0

    def update(self, n: int = 1) -> None:
        self.count += n
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Spinner:
    """A tqdm line ``⠋ name 00:03`` redrawn by a daemon thread until stopped."""

    def __init__(self, name: str, stream: IO[str]) -> None:
        from tqdm import tqdm

        self._name = name
        self._bar = tqdm(total=None, desc=f"{SPINNER[0]} {name}", bar_format="{desc} {elapsed}", file=stream,
                         leave=False, dynamic_ncols=True, mininterval=TICK_SECONDS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"progress:{name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        frame = 0
        while not self._stop.wait(TICK_SECONDS):
            frame = (frame + 1) % len(SPINNER)
            self._bar.set_description_str(f"{SPINNER[frame]} {self._name}", refresh=True)

    def stop(self, line: str) -> None:
        from tqdm import tqdm

        self._stop.set()
        self._thread.join()
        self._bar.close()
        tqdm.write(line, file=self._bar.fp)


class Progress:
    """Stage timings for one run, with spinners and bars on a terminal (see the module docstring)."""

    def __init__(self, *, quiet: bool = False, stream: IO[str] | None = None, enabled: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = (not quiet and _is_terminal(self.stream)) if enabled is None else bool(enabled)
        self._timings: dict[str, float] = {}

    @property
    def timings(self) -> dict[str, float]:
        return {name: round(seconds, 3) for name, seconds in self._timings.items()}

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[Stage]:
        record = Stage(name)
        spinner = _Spinner(name, self.stream) if self.enabled else None
        start = time.perf_counter()
        failed = True
        try:
            yield record
            failed = False
        finally:
            record.seconds = time.perf_counter() - start
            self._timings[name] = self._timings.get(name, 0.0) + record.seconds
            if spinner is not None:
                mark = f"✗ {name} failed after" if failed else f"✓ {name}"
                spinner.stop(f"{mark} {record.seconds:.2f} s")

    def bar(self, total: int | None, desc: str, unit: str = "it") -> Bar:
        if not self.enabled:
            return Bar()
        from tqdm import tqdm

        return Bar(tqdm(total=total, desc=desc, unit=unit, file=self.stream, leave=False, dynamic_ncols=True,
                        mininterval=TICK_SECONDS))

    def track(self, iterable: Iterable, desc: str, total: int | None = None, unit: str = "it") -> Iterator:
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)  # type: ignore[arg-type]
        with self.bar(total, desc, unit) as bar:
            for item in iterable:
                yield item
                bar.update()


def stage(name: str, *, quiet: bool = False, stream: IO[str] | None = None):
    """A one-off timed stage (context manager yielding a :class:`Stage`); see :meth:`Progress.stage`."""
    return Progress(quiet=quiet, stream=stream).stage(name)


def bar(total: int | None, desc: str, *, unit: str = "it", quiet: bool = False, stream: IO[str] | None = None) -> Bar:
    """A one-off progress bar (context manager yielding a :class:`Bar`); see :meth:`Progress.bar`."""
    return Progress(quiet=quiet, stream=stream).bar(total, desc, unit)


_ACTIVE: ContextVar[Progress | None] = ContextVar("shapley_attr_progress", default=None)


@contextlib.contextmanager
def active(progress: Progress) -> Iterator[Progress]:
    """Make ``progress`` the one :func:`current` returns inside the block (the run's), so that deep
    loops (bootstrap replicates, Monte Carlo batches, validation batches) can report without it being
    passed through every signature. Progress never changes a number, only what stderr shows."""
    token = _ACTIVE.set(progress)
    try:
        yield progress
    finally:
        _ACTIVE.reset(token)


def current() -> Progress:
    """The active run's :class:`Progress`, or a silent one outside a run (library calls)."""
    progress = _ACTIVE.get()
    return progress if progress is not None else Progress(enabled=False)
