"""Alternating A/B of whole commands: how the before/after figures in this project's commits, README
and issue notes are measured.

    python benchmarks/ab.py --runs 8 \\
        A="PYTHONPATH=/tmp/before/src python -m shapley_attr attribute events.parquet --quiet --out a.csv" \\
        B="python -m shapley_attr attribute events.parquet --quiet --out b.csv" --same a.csv b.csv

Each command is ``NAME=COMMAND``: the command is split as a shell would split it, and leading
``VAR=value`` words set its environment (no shell runs, so the process measured is the command's
own). The commands run in turn, A B A B ..., so that a machine whose speed drifts (a VM's neighbours,
its host's memory) moves every one of them alike; a single run of each, minutes apart, can differ by
more than the change being measured. ``A`` is typically a git worktree of the commit before
(``git worktree add /tmp/before HEAD~1``) put first on ``PYTHONPATH``; byte-compile both trees
(``python -m compileall -q``) and run each command once before, so that neither pays for compiling.

For each command: the median and the lowest wall time, the median CPU time (user + system: a change
can save CPU that the wall time of a two-core machine does not show), the median peak RSS and every
run's wall time. With ``--same FILE...``, one output file per command, the files are compared after
every round and a difference stops the run (exit 1): a faster run that computes something else is no
result.
"""
from __future__ import annotations

import argparse
import filecmp
import os
import shlex
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.run import SHELL_ENV, measure  # noqa: E402


def parse_command(text: str) -> tuple[dict[str, str], list[str]]:
    """A command line's leading ``VAR=value`` words (its environment) and its arguments."""
    words = shlex.split(text)
    env = {}
    while words and "=" in words[0] and words[0].split("=", 1)[0].isidentifier():
        name, value = words.pop(0).split("=", 1)
        env[name] = value
    if not words:
        raise ValueError(f"no command in {text!r}")
    return env, words


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("commands", nargs="+", metavar="NAME=COMMAND")
    parser.add_argument("--runs", type=int, default=6, help="rounds (each command once a round); default 6")
    parser.add_argument("--same", nargs="+", metavar="FILE", help="each command's output file, compared every round")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds before a run is killed")
    args = parser.parse_args(argv)
    commands = {}
    for item in args.commands:
        name, sep, text = item.partition("=")
        if not sep or not name or name in commands:
            parser.error(f"expected distinct NAME=COMMAND, got {item!r}")
        commands[name] = parse_command(text)
    if args.same and len(args.same) != len(commands):
        parser.error(f"--same: one file per command ({len(commands)}), got {len(args.same)}")
    runs = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, (env, words) in commands.items():
            m = measure(words, env={**SHELL_ENV, **env}, timeout=args.timeout)
            if m["status"] != "ok":
                print(f"{name}: {m['status']}\n{m['stderr']}", file=sys.stderr)
                return 1
            runs[name].append(m)
        if args.same and not all(filecmp.cmp(args.same[0], f, shallow=False) for f in args.same[1:]):
            print(f"outputs differ: {' '.join(args.same)}", file=sys.stderr)
            return 1
    print("| command | runs | median wall s | min wall s | median CPU s | median peak RSS MiB | wall s, in order |")
    print("|---|---|---|---|---|---|---|")
    for name, ms in runs.items():
        walls = [m["wall_s"] for m in ms]
        print(f"| {name} | {len(ms)} | {statistics.median(walls):.3f} | {min(walls):.3f} | "
              f"{statistics.median(m['cpu_s'] for m in ms):.2f} | {statistics.median(m['rss_mib'] for m in ms):,.0f} | "
              f"{' '.join(f'{w:.2f}' for w in walls)} |")
    if args.same:
        print(f"\noutputs identical in every round: {' '.join(args.same)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
